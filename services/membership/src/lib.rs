//! The membership service: the tenants and branches of the consortium, the
//! organizations each center works with and their incubation life cycle,
//! people with the minimum personal data, affiliations, and organizational
//! capacity assessments (USAID OCA).
//!
//! | room | what it holds |
//! |---|---|
//! | [`domain`] | the rules: parsing requests, the incubation life cycle, assessment arithmetic |
//! | [`store`] | the SQL, one implementation for PostgreSQL and SQLite |
//! | [`api`] | the gRPC API: roles and rights, one transaction per request, events to the outbox |
//!
//! Membership consumes no events; it is the source of the organizations and
//! people the other services copy from its events.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod events;
pub mod store;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::migrate::Migration;
use markaz_proto::membership::v1::membership_service_server::MembershipServiceServer;
use tonic::server::NamedService;

pub const NAME: &str = "membership";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "membership",
        sql: include_str!("../migrations/0001_membership.sql"),
    },
    Migration {
        version: 2,
        name: "organization numbers per tenant",
        sql: include_str!("../migrations/0002_organization_numbers_per_tenant.sql"),
    },
    Migration {
        version: 3,
        name: "registered tenants",
        sql: include_str!("../migrations/0003_registered_tenants.sql"),
    },
    Migration {
        version: 4,
        name: "indexes for filters",
        sql: include_str!("../migrations/0004_indexes_for_filters.sql"),
    },
    Migration {
        version: 5,
        name: "erasures",
        sql: include_str!("../migrations/0005_erasures.sql"),
    },
    Migration {
        version: 6,
        name: "text search trigrams",
        sql: include_str!("../migrations/0006_text_search_trigrams.sql"),
    },
    Migration {
        version: 7,
        name: "text search fts",
        sql: include_str!("../migrations/0007_text_search_fts.sql"),
    },
];

/// The membership service, as the runtime runs it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Membership;

impl Service for Membership {
    fn name(&self) -> &'static str {
        NAME
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn rights(&self) -> &'static [markaz_kit::rpc::Rights] {
        api::RIGHTS
    }

    /// The confirmations of erasures, from every service that confirms.
    fn consumer(
        &self,
        _ctx: &ServiceContext,
    ) -> Option<(markaz_kit::events::Consumer, Vec<&'static str>)> {
        Some((
            markaz_kit::events::Consumer {
                name: NAME,
                handler: std::sync::Arc::new(events::router()),
            },
            domain::ERASURE_CONFIRMERS.to_vec(),
        ))
    }

    fn register(
        &self,
        ctx: &ServiceContext,
        routes: &mut tonic::service::RoutesBuilder,
    ) -> Vec<&'static str> {
        let api = api::MembershipApi::new(ctx.db.clone(), ctx.rpc.clone());
        routes.add_service(
            MembershipServiceServer::new(api).max_decoding_message_size(ctx.max_message_bytes),
        );
        vec![<MembershipServiceServer<api::MembershipApi> as NamedService>::NAME]
    }
}

/// Registers a tenant: the operator's `CreateTenant`, `markaz tenant
/// create` and `markaz dev`'s demo tenant. Membership admits the tenant's
/// callers from the commit on; the other services once `TenantRegistered`
/// reaches them.
pub async fn create_tenant(
    db: &markaz_kit::db::Db,
    tenant: &markaz_proto::membership::v1::Tenant,
) -> markaz_kit::Result<store::TenantRow> {
    let spec = domain::parse_tenant(Some(tenant))?;
    let mut tx = db.write(&spec.id).await?;
    let row = store::insert_tenant(&mut tx, &spec).await?;
    markaz_kit::tenants::register(&mut tx, &spec.id).await?;
    tx.publish(
        &spec.id,
        &markaz_proto::events::v1::TenantRegistered {
            create_time: Some(markaz_kit::time::timestamp(row.created_at)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// `markaz tenant list`.
pub async fn list_tenants(db: &markaz_kit::db::Db) -> markaz_kit::Result<Vec<store::TenantRow>> {
    let mut tx = db.system().await?;
    store::list_tenants(&mut tx, "", 10_000).await
}
