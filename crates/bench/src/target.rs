//! Starting the platform to measure: `markaz dev` (SQLite, in-process bus)
//! or `markaz serve` (PostgreSQL and NATS), each in a world of its own — a
//! scratch data directory, a fresh PostgreSQL database and NATS namespace —
//! removed afterwards.

use std::path::PathBuf;
use std::time::Duration;

use markaz_kit::auth::{Role, Signer};
use markaz_kit::config::AuthConfig;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::membership::v1 as membership;

use crate::server::{BenchResult, ServerProcess, free_addr, scratch_dir};

/// Which deployment shape to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Dev,
    Serve,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Dev => "dev",
            Kind::Serve => "serve",
        })
    }
}

/// Where the external services are, for `serve`.
#[derive(Debug, Clone)]
pub struct Infra {
    /// A PostgreSQL URL with the right to create databases.
    pub postgres: String,
    pub nats: String,
    /// The services `markaz serve` runs (`all`, or e.g. `membership` to
    /// measure one service as it runs in its own pod).
    pub services: String,
}

/// A started platform and what the scenarios need to talk to it.
pub struct Target {
    pub kind: Kind,
    pub server: ServerProcess,
    pub tenant: String,
    pub staff_token: String,
    /// How a scenario reaches a service's database directly: the URL and,
    /// on PostgreSQL, the schema.
    database_url: String,
    scratch: PathBuf,
    infra: Infra,
    bench_db: Option<String>,
    namespace: String,
    /// Signs the tokens of further tenants ([`Target::add_tenant`]).
    signer: Signer,
    operator_token: String,
}

/// The tenant the bench works in.
pub const TENANT: &str = "bench";

impl Target {
    pub async fn start(kind: Kind, infra: &Infra) -> BenchResult<Target> {
        // MARKAZ_BENCH_SERVER measures another build of the server under the
        // same load (a before-and-after of a change).
        let exe = match std::env::var_os("MARKAZ_BENCH_SERVER") {
            Some(path) => std::path::PathBuf::from(path),
            None => std::env::current_exe().map_err(|e| e.to_string())?,
        };
        let scratch = scratch_dir(&kind.to_string())?;
        let addr = free_addr()?;
        let metrics = free_addr()?;
        let auth = AuthConfig::default();
        let id = format!("{}", std::process::id());
        let namespace = format!("bench{id}");
        let mut envs = vec![
            ("MARKAZ_GRPC_ADDR", addr.to_string()),
            ("MARKAZ_METRICS_ADDR", metrics.to_string()),
            ("MARKAZ_LOG", "warn".to_string()),
            // The bench opens many connections at once.
            ("MARKAZ_CONCURRENCY_PER_CONNECTION", "1024".to_string()),
            // One bench caller writes as fast as the server goes: no
            // per-caller write budget (a build before it ignores these).
            ("MARKAZ_WRITE_REQUESTS_PER_SECOND", "0".to_string()),
            ("MARKAZ_WRITE_BYTES_PER_SECOND", "0".to_string()),
        ];
        let (args, database_url, bench_db, signer): (Vec<&str>, String, Option<String>, Signer) =
            match kind {
                Kind::Dev => {
                    let dir = scratch.join("data");
                    envs.push(("MARKAZ_DATA_DIR", dir.display().to_string()));
                    let signer = Signer::load_or_create(
                        &dir.join("signing-key.json"),
                        &dir.join("jwks.json"),
                    )
                    .map_err(|e| e.to_string())?;
                    (
                        vec!["dev"],
                        format!("sqlite://{}", dir.display()),
                        None,
                        signer,
                    )
                }
                Kind::Serve => {
                    let db = format!("markaz_bench_{id}");
                    let url = fresh_database(&infra.postgres, &db).await?;
                    let (signer, jwks) = signer_in(&scratch)?;
                    envs.push(("MARKAZ_DATABASE_URL", url.clone()));
                    envs.push(("MARKAZ_NATS_URL", infra.nats.clone()));
                    envs.push(("MARKAZ_BUS_NAMESPACE", namespace.clone()));
                    envs.push(("MARKAZ_AUTH_JWKS", jwks.display().to_string()));
                    envs.push(("MARKAZ_DB_MAX_CONNECTIONS", "32".to_string()));
                    (
                        vec!["serve", "--services", infra.services.as_str()],
                        url,
                        Some(db),
                        signer,
                    )
                }
            };
        let server = ServerProcess::spawn(
            &exe,
            &args,
            &envs,
            addr,
            Some(metrics),
            &scratch.join("server.log"),
        )
        .await?;
        let ttl = Duration::from_secs(24 * 3600);
        let staff_token = signer.sign(&Signer::claims(
            &auth,
            "bench-staff",
            TENANT,
            &[Role::Admin, Role::Staff],
            None,
            ttl,
        ));
        let operator = signer.sign(&Signer::claims(
            &auth,
            "bench-operator",
            "",
            &[Role::Operator],
            None,
            ttl,
        ));
        let target = Target {
            kind,
            server,
            tenant: TENANT.to_string(),
            staff_token,
            database_url,
            scratch,
            infra: infra.clone(),
            bench_db,
            namespace,
            signer,
            operator_token: operator,
        };
        create_tenant(
            target.server.channel().await?,
            &target.operator_token,
            TENANT,
        )
        .await?;
        wait_until_admitted(target.server.channel().await?, &target.staff_token).await?;
        Ok(target)
    }

    /// Registers one more tenant, `id`, and returns a staff token of it
    /// once every service admits its callers.
    pub async fn add_tenant(&self, id: &str) -> BenchResult<String> {
        let token = self.signer.sign(&Signer::claims(
            &AuthConfig::default(),
            "bench-staff",
            id,
            &[Role::Admin, Role::Staff],
            None,
            Duration::from_secs(24 * 3600),
        ));
        create_tenant(self.server.channel().await?, &self.operator_token, id).await?;
        wait_until_admitted(self.server.channel().await?, &token).await?;
        Ok(token)
    }

    /// The URL of `service`'s database and, on PostgreSQL, its schema.
    pub fn database_of(&self, service: &str) -> (String, Option<String>) {
        match self.kind {
            Kind::Dev => (format!("{}/{service}.db", self.database_url), None),
            Kind::Serve => (self.database_url.clone(), Some(service.to_string())),
        }
    }

    /// What the platform's data takes on disk: the SQLite files of every
    /// service (with their write-ahead logs), or the PostgreSQL database.
    pub async fn disk_bytes(&self) -> BenchResult<u64> {
        match self.kind {
            Kind::Dev => {
                let dir = self.database_url.trim_start_matches("sqlite://");
                let entries = std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))?;
                Ok(entries
                    .flatten()
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum())
            }
            Kind::Serve => {
                let pool = self.bench_database().await?;
                let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
                pool.close().await;
                Ok(bytes.max(0) as u64)
            }
        }
    }

    /// One connection to the `serve` target's database, as its owner.
    async fn bench_database(&self) -> BenchResult<sqlx::PgPool> {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.database_url)
            .await
            .map_err(|e| e.to_string())
    }

    /// Brings a seeded PostgreSQL database to the state autovacuum keeps
    /// a deployment's in: statistics for the planner and a visibility map
    /// for index-only scans. On a server that runs without autovacuum
    /// (this machine's CI configuration sets `autovacuum = off`) a table
    /// seeded in minutes has neither, and the plans measured would be no
    /// deployment's. Runs `VACUUM (ANALYZE)` only there; says whether it
    /// did. SQLite keeps no statistics unless asked, in a deployment too.
    pub async fn vacuum_if_autovacuum_is_off(&self) -> BenchResult<bool> {
        if self.kind != Kind::Serve {
            return Ok(false);
        }
        let pool = self.bench_database().await?;
        let autovacuum: String = sqlx::query_scalar("SHOW autovacuum")
            .fetch_one(&pool)
            .await
            .map_err(|e| e.to_string())?;
        let off = autovacuum == "off";
        if off {
            sqlx::query("VACUUM (ANALYZE)")
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
        }
        pool.close().await;
        Ok(off)
    }

    pub async fn stop(self) {
        self.server.stop().await;
        // MARKAZ_BENCH_KEEP leaves what the run wrote in place, to read its
        // query plans afterwards (`EXPLAIN` on a seeded `scale` database).
        if std::env::var_os("MARKAZ_BENCH_KEEP").is_some() {
            eprintln!(
                "kept: {}{}",
                self.scratch.display(),
                self.bench_db
                    .as_ref()
                    .map(|db| format!(" and the database {db}"))
                    .unwrap_or_default()
            );
            return;
        }
        if let Some(db) = &self.bench_db {
            let _ = admin_sql(
                &self.infra.postgres,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
            .await;
            markaz_kit::bus::delete_streams(&self.infra.nats, &self.namespace).await;
        }
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Drops and creates the database `name` on the server of `postgres`;
/// returns its URL.
pub(crate) async fn fresh_database(postgres: &str, name: &str) -> BenchResult<String> {
    admin_sql(
        postgres,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await?;
    admin_sql(postgres, &format!("CREATE DATABASE {name}")).await?;
    Ok(database_in(postgres, name))
}

/// A new signing key, its public half written to `dir/jwks.json` for the
/// servers to verify the bench's tokens with.
pub(crate) fn signer_in(dir: &std::path::Path) -> BenchResult<(Signer, PathBuf)> {
    let signer = Signer::generate().map_err(|e| e.to_string())?;
    let jwks = dir.join("jwks.json");
    std::fs::write(
        &jwks,
        serde_json::to_string(&signer.jwks()).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    Ok((signer, jwks))
}

/// Registers the tenant `id` through membership at `channel` as `operator`.
pub(crate) async fn create_tenant(
    channel: tonic::transport::Channel,
    operator: &str,
    id: &str,
) -> BenchResult<()> {
    let mut client = membership::membership_service_client::MembershipServiceClient::new(channel);
    let mut request = tonic::Request::new(membership::CreateTenantRequest {
        tenant: Some(membership::Tenant {
            id: id.into(),
            name: Some(LocalizedText {
                ar: format!("مركز القياس {id}"),
                en: format!("Benchmark center {id}"),
            }),
            ..Default::default()
        }),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {operator}").parse().map_err(|_| "token")?,
    );
    match client.create_tenant(request).await {
        Ok(_) => Ok(()),
        Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
        Err(s) => Err(format!("creating the tenant {id}: {s}")),
    }
}

/// The other services learn of the new tenant through membership's
/// `TenantRegistered` event; until then they refuse its callers. Waits
/// until capacity at `channel` admits `token`'s caller.
pub(crate) async fn wait_until_admitted(
    channel: tonic::transport::Channel,
    token: &str,
) -> BenchResult<()> {
    use markaz_proto::capacity::v1 as capacity;
    let mut client = capacity::capacity_service_client::CapacityServiceClient::new(channel);
    for _ in 0..300 {
        let mut request = tonic::Request::new(capacity::ListTopicsRequest::default());
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().map_err(|_| "token")?,
        );
        match client.list_topics(request).await {
            Ok(_) => return Ok(()),
            Err(s) if s.code() == tonic::Code::PermissionDenied => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(s) => return Err(format!("waiting for the bench tenant: {s}")),
        }
    }
    Err("the services did not learn of the bench tenant within 30 s".into())
}

/// `postgres://u@h:p/db?x` with the database replaced by `db`.
pub(crate) fn database_in(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{db}{query}")
}

pub(crate) async fn admin_sql(url: &str, sql: &str) -> BenchResult<()> {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("PostgreSQL at {url}: {e}"))?;
    conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_database_replaces_the_one_in_the_url() {
        assert_eq!(
            super::database_in("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            super::database_in("postgres://h/x?sslmode=disable", "b"),
            "postgres://h/b?sslmode=disable"
        );
        assert_eq!(super::database_in("postgres://h", "b"), "postgres://h/b");
    }
}
