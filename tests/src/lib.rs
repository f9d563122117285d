//! Fixtures of the end-to-end tests.
//!
//! [`Ledger`] is a real service — migrations, a consumer with an inbox, a
//! database of its own — that keeps a line for every organization event it
//! applies. It stands in for "another service" when the tests need to look
//! at the bus itself rather than at a business rule. An organization named
//! `poison` makes its handler fail until a cure is recorded, to drive events
//! into the dead letters and back; one named `panic` makes it panic; one
//! whose name starts with `slow` takes 10 ms, so a test can catch the
//! consumer with events in hand.
//!
//! [`proxy`] cuts a service off from its database and heals it again.
#![forbid(unsafe_code)]

pub use markaz_bench::proxy;

use std::collections::HashMap;
use std::sync::Arc;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::events::{Consumer, Handler, payload};
use markaz_kit::migrate::Migration;
use markaz_proto::events::v1 as ev;
use sqlx::Row;

pub const LEDGER: &str = "ledger";

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "ledger",
    sql: "CREATE TABLE ledger_lines (
              tenant_id TEXT NOT NULL,
              event_id TEXT NOT NULL,
              organization_id TEXT NOT NULL,
              name TEXT NOT NULL,
              PRIMARY KEY (tenant_id, event_id)
          );
          CREATE TABLE ledger_cures (
              tenant_id TEXT NOT NULL,
              name TEXT NOT NULL,
              PRIMARY KEY (tenant_id, name)
          );",
}];

#[derive(Debug, Default)]
pub struct Ledger;

impl Service for Ledger {
    fn name(&self) -> &'static str {
        LEDGER
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn register(
        &self,
        _: &ServiceContext,
        _: &mut tonic::service::RoutesBuilder,
    ) -> Vec<&'static str> {
        Vec::new()
    }

    fn consumer(&self, _: &ServiceContext) -> Option<(Consumer, Vec<&'static str>)> {
        Some((
            Consumer {
                name: LEDGER,
                handler: Arc::new(LedgerHandler),
            },
            vec![markaz_membership::NAME],
        ))
    }
}

struct LedgerHandler;

#[tonic::async_trait]
impl Handler for LedgerHandler {
    async fn handle(&self, tx: &mut Tx, envelope: &ev::Envelope) -> Result<()> {
        if envelope.r#type != "markaz.events.v1.OrganizationRegistered" {
            return Ok(());
        }
        let event: ev::OrganizationRegistered = payload(envelope)?;
        let org = event.organization.unwrap_or_default();
        let name = org.name.unwrap_or_default().en;
        if name == "panic" {
            // A handler bug, not a refusal: the platform must survive it.
            panic!("the ledger cannot read this organization");
        }
        if name.starts_with("slow") {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if name == "poison" {
            let cured =
                sqlx::query("SELECT 1 AS one FROM ledger_cures WHERE tenant_id = $1 AND name = $2")
                    .bind(tx.tenant())
                    .bind(&name)
                    .fetch_optional(tx.conn())
                    .await?;
            if cured.is_none() {
                return Err(Error::Unavailable("the ledger cannot digest poison".into()));
            }
        }
        sqlx::query(
            "INSERT INTO ledger_lines (tenant_id, event_id, organization_id, name) VALUES ($1, $2, $3, $4)",
        )
        .bind(tx.tenant())
        .bind(&envelope.id)
        .bind(&org.id)
        .bind(&name)
        .execute(tx.conn())
        .await?;
        Ok(())
    }
}

/// How many ledger lines the organization has in `tenant`.
pub async fn lines(db: &markaz_kit::db::Db, tenant: &str, organization_id: &str) -> i64 {
    let mut tx = db.read(tenant).await.expect("read");
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM ledger_lines WHERE tenant_id = $1 AND organization_id = $2",
    )
    .bind(tenant)
    .bind(organization_id)
    .fetch_one(tx.conn())
    .await
    .expect("count");
    row.try_get("n").expect("n")
}

/// Records the cure for `name`, so the poison handler succeeds.
pub async fn cure(db: &markaz_kit::db::Db, tenant: &str, name: &str) {
    let mut tx = db.write(tenant).await.expect("write");
    sqlx::query("INSERT INTO ledger_cures (tenant_id, name) VALUES ($1, $2)")
        .bind(tenant)
        .bind(name)
        .execute(tx.conn())
        .await
        .expect("cure");
    tx.commit().await.expect("commit");
}

/// Every organization's number of ledger lines in `tenant`.
pub async fn all_lines(db: &markaz_kit::db::Db, tenant: &str) -> HashMap<String, i64> {
    let mut tx = db.read(tenant).await.expect("read");
    let rows = sqlx::query(
        "SELECT organization_id, COUNT(*) AS n FROM ledger_lines WHERE tenant_id = $1
         GROUP BY organization_id",
    )
    .bind(tenant)
    .fetch_all(tx.conn())
    .await
    .expect("count");
    rows.iter()
        .map(|r| (r.get("organization_id"), r.get("n")))
        .collect()
}

/// A membership client of `app`.
pub async fn membership(
    app: &markaz_kit::app::App,
) -> markaz_proto::membership::v1::membership_service_client::MembershipServiceClient<
    tonic::transport::Channel,
> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .expect("address")
        .connect()
        .await
        .expect("connects");
    markaz_proto::membership::v1::membership_service_client::MembershipServiceClient::new(channel)
}

/// Registers `tenant` as the world's operator.
pub async fn register_tenant(
    env: &markaz_kit::testing::TestEnv,
    app: &markaz_kit::app::App,
    tenant: &str,
) {
    use markaz_proto::common::v1::LocalizedText;
    use markaz_proto::membership::v1 as api;
    membership(app)
        .await
        .create_tenant(markaz_kit::testing::authed(
            api::CreateTenantRequest {
                tenant: Some(api::Tenant {
                    id: tenant.into(),
                    name: Some(LocalizedText {
                        ar: "مستأجر".into(),
                        en: "tenant".into(),
                    }),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .expect("tenant registered");
}

/// A request registering a CSO named `name` (in English; the ledger reads it).
pub fn org_request(name: &str) -> markaz_proto::membership::v1::CreateOrganizationRequest {
    use markaz_proto::common::v1::{LocalizedText, OrganizationKind};
    use markaz_proto::membership::v1 as api;
    api::CreateOrganizationRequest {
        organization: Some(api::Organization {
            kind: OrganizationKind::Cso as i32,
            name: Some(LocalizedText {
                ar: "منظمة".into(),
                en: name.into(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The body of `GET path` on a plain HTTP/1.1 server (the metrics port).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: markaz\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("request sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response read");
    match response.split_once("\r\n\r\n") {
        Some((_, body)) => body.to_string(),
        None => response,
    }
}
