//! Integration-test support: real servers on port 0 with fresh storage.
//!
//! In the spirit of zero2prod's `spawn_app()`: [`spawn`] starts the same
//! runtime `markaz` runs — real gRPC on a random port, real SQLite or real
//! PostgreSQL, the in-process bus or real NATS JetStream — in an isolated
//! world of its own:
//!
//! * SQLite: a fresh directory, one file per service, the in-process bus
//!   (exactly `markaz dev`);
//! * PostgreSQL: fresh schemas `t<id>_<service>` and a NATS namespace
//!   `t<id>` (exactly `markaz serve`, minus the shared names), removed when
//!   the test ends.
//!
//! [`both_backends!`](crate::both_backends) runs one test body on both.

pub mod erasure;
pub mod fuzz;
pub mod rights;
pub mod status;

pub use status::{code, field_violations, precondition, precondition_message};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::Channel;

use crate::app::{App, AppOptions, Service, Storage};
use crate::auth::{KeySource, Role, Signer, Verifier};
use crate::config::Config;
use crate::db::Db;
use crate::error::Result;

/// Which deployment shape a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite files and the in-process bus, as `markaz dev`.
    Sqlite,
    /// PostgreSQL and NATS JetStream, as `markaz serve`.
    Postgres,
}

/// PostgreSQL for tests: `MARKAZ_TEST_POSTGRES_URL`, else the local server.
pub fn postgres_url() -> String {
    std::env::var("MARKAZ_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// NATS for tests: `MARKAZ_TEST_NATS_URL`, else the local server.
pub fn nats_url() -> String {
    std::env::var("MARKAZ_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_string())
}

/// Logs of the servers under test go to the test's output (shown when it
/// fails); `RUST_LOG` chooses how much, warnings by default.
fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// An isolated world: storage, bus namespace and signing key. Several apps
/// may start on it in turn (a restart keeps the data).
pub struct TestEnv {
    pub backend: Backend,
    pub config: Config,
    pub storage: Storage,
    pub signer: Arc<Signer>,
    id: String,
    dir: PathBuf,
    schemas: std::sync::Mutex<Vec<String>>,
    /// The tenants of this world's tokens, which stand for tenants an
    /// operator registered: the apps it starts take them as registered.
    registered: crate::tenants::Preregistered,
}

impl TestEnv {
    pub fn new(backend: Backend) -> TestEnv {
        init_logs();
        let id = format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[8..]);
        let dir = std::env::temp_dir().join(format!("markaz-test-{id}"));
        let mut config = Config {
            grpc_addr: "127.0.0.1:0".parse().expect("literal"),
            metrics_addr: Some("127.0.0.1:0".parse().expect("literal")),
            data_dir: dir.clone(),
            ..Config::default()
        };
        config.database.max_connections = 5;
        // Short waits keep redelivery tests fast; the logic is the same.
        config.consumer.max_deliver = 3;
        config.consumer.backoff_ms = vec![50, 100];
        config.consumer.relay_poll_ms = 200;
        config.server.drain_timeout_ms = 5_000;
        // A test is one caller doing a center's week in seconds: no write
        // budget, but where a test sets one (tests/tests/security.rs).
        config.server.write_requests_per_second = 0;
        config.server.write_bytes_per_second = 0;
        let storage = match backend {
            Backend::Sqlite => Storage::SqliteDir(dir.clone()),
            Backend::Postgres => {
                config.nats_url = Some(nats_url());
                config.bus_namespace = id.clone();
                Storage::PostgresSchemas {
                    url: postgres_url(),
                    prefix: id.clone(),
                }
            }
        };
        TestEnv {
            backend,
            config,
            storage,
            signer: Arc::new(Signer::generate().expect("signing key")),
            id,
            dir,
            schemas: std::sync::Mutex::new(Vec::new()),
            registered: Default::default(),
        }
    }

    /// Starts `services` on this world, on a random port.
    pub async fn start(&self, services: Vec<Arc<dyn Service>>) -> Result<App> {
        self.start_on(services, self.storage.clone(), true).await
    }

    /// Starts `services` on this world with their PostgreSQL reached at
    /// `database_url` instead (the same server and schemas behind a proxy,
    /// say), so a test can cut one service off from its database.
    pub async fn start_via(
        &self,
        services: Vec<Arc<dyn Service>>,
        database_url: &str,
    ) -> Result<App> {
        let Storage::PostgresSchemas { prefix, .. } = &self.storage else {
            panic!("start_via is for PostgreSQL worlds");
        };
        let storage = Storage::PostgresSchemas {
            url: database_url.to_string(),
            prefix: prefix.clone(),
        };
        self.start_on(services, storage, true).await
    }

    /// Starts `services` as `markaz serve --no-migrate` does, logged in
    /// through `database_url` (a role that owns nothing, say): the schemas
    /// must have been migrated before.
    pub async fn start_unmigrated_via(
        &self,
        services: Vec<Arc<dyn Service>>,
        database_url: &str,
    ) -> Result<App> {
        let Storage::PostgresSchemas { prefix, .. } = &self.storage else {
            panic!("start_unmigrated_via is for PostgreSQL worlds");
        };
        let storage = Storage::PostgresSchemas {
            url: database_url.to_string(),
            prefix: prefix.clone(),
        };
        self.start_on(services, storage, false).await
    }

    async fn start_on(
        &self,
        services: Vec<Arc<dyn Service>>,
        storage: Storage,
        migrate: bool,
    ) -> Result<App> {
        for s in &services {
            self.cleans_up(s.name());
        }
        let verifier =
            Verifier::new(&self.config.auth, KeySource::Static(self.signer.jwks())).await?;
        App::start(AppOptions {
            config: self.config.clone(),
            services,
            storage,
            verifier,
            listener: None,
            migrate,
            preregistered: Some(self.registered.clone()),
        })
        .await
    }

    /// Drops `service`'s PostgreSQL schema with the world, also when the
    /// service ran in another process.
    pub fn cleans_up(&self, service: &str) {
        if let Storage::PostgresSchemas { prefix, .. } = &self.storage {
            let mut schemas = self.schemas.lock().expect("schemas lock");
            let schema = format!("{prefix}_{service}");
            if !schemas.contains(&schema) {
                schemas.push(schema);
            }
        }
    }

    /// The prefix of this world's PostgreSQL schemas (`<prefix>_<service>`)
    /// and its bus namespace.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A token for `tenant` with `roles` (and the partner organization `org`).
    pub fn token(&self, tenant: &str, roles: &[Role], org: Option<&str>) -> String {
        self.register(tenant);
        let subject = format!(
            "user-{}",
            roles.first().map(|r| r.as_str()).unwrap_or("none")
        );
        self.signer.sign(&Signer::claims(
            &self.config.auth,
            &subject,
            tenant,
            roles,
            org,
            Duration::from_secs(3600),
        ))
    }

    /// A token for `tenant` (taken as registered) with `roles`, for
    /// `subject`: one caller among several of the same role.
    pub fn token_of(&self, subject: &str, tenant: &str, roles: &[Role]) -> String {
        self.register(tenant);
        self.signer.sign(&Signer::claims(
            &self.config.auth,
            subject,
            tenant,
            roles,
            None,
            Duration::from_secs(600),
        ))
    }

    /// Takes `tenant` as registered by an operator, for a token the test
    /// signs itself. A tenant never registered here (nor through
    /// membership's `CreateTenant`) is refused by every service.
    pub fn register(&self, tenant: &str) {
        if !tenant.is_empty() {
            self.registered
                .write()
                .expect("tenants lock")
                .insert(tenant.to_string());
        }
    }

    /// Credentials every authenticated RPC must refuse as UNAUTHENTICATED,
    /// each named: none at all, expired, for another audience, from another
    /// issuer, forged (a stranger's signature under this world's key id),
    /// `alg=none`, one that lives longer than the deployment allows, and
    /// garbage. Each would name `tenant` with every role, so
    /// the credential is the only thing wrong with it.
    pub fn bad_tokens(&self, tenant: &str) -> Vec<(&'static str, String)> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = |edit: &dyn Fn(&mut crate::auth::Claims)| {
            let mut c = Signer::claims(
                &self.config.auth,
                "mallory",
                tenant,
                &Role::ALL,
                None,
                Duration::from_secs(600),
            );
            edit(&mut c);
            c
        };
        let good = self.signer.sign(&claims(&|_| {}));
        let forged = {
            let stranger = Signer::generate().expect("signing key");
            let theirs = stranger.sign(&claims(&|_| {}));
            // Our key id in the header, their signature underneath.
            let header = good.split('.').next().unwrap_or_default();
            let rest: Vec<&str> = theirs.split('.').skip(1).collect();
            format!("{header}.{}.{}", rest[0], rest[1])
        };
        let alg_none = {
            let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
            let body = good.split('.').nth(1).unwrap_or_default();
            format!("{header}.{body}.")
        };
        vec![
            ("no token", String::new()),
            ("expired", self.signer.sign(&claims(&|c| c.exp -= 3600))),
            (
                "wrong audience",
                self.signer
                    .sign(&claims(&|c| c.aud = vec!["another-service".into()])),
            ),
            (
                "wrong issuer",
                self.signer
                    .sign(&claims(&|c| c.iss = "https://evil.example".into())),
            ),
            (
                "lives longer than allowed",
                self.signer.sign(&claims(&|c| {
                    c.exp += self.config.auth.max_token_lifetime_secs as i64 + 3600
                })),
            ),
            ("forged", forged),
            ("alg=none", alg_none),
            ("garbage", "not.a.token".into()),
        ]
    }

    /// A token of the platform operator (no tenant).
    pub fn operator_token(&self) -> String {
        self.token("", &[Role::Operator], None)
    }

    /// Connects to `service`'s database directly, as the application does.
    pub async fn db(&self, service: &'static str) -> Result<Db> {
        let (url, schema) = crate::app::database_of(&self.config, &self.storage, service)?;
        Db::connect(service, &url, schema, &self.config.database).await
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let schemas = std::mem::take(&mut *self.schemas.lock().expect("schemas lock"));
        let backend = self.backend;
        let id = self.id.clone();
        let dir = self.dir.clone();
        // Drop cannot await: clean up on a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let _ = std::fs::remove_dir_all(&dir);
            if backend != Backend::Postgres {
                return;
            }
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                use sqlx::Connection;
                sqlx::any::install_default_drivers();
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&postgres_url()).await {
                    for schema in schemas {
                        let _ = sqlx::Executor::execute(
                            &mut conn,
                            sqlx::AssertSqlSafe(format!(
                                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                            )),
                        )
                        .await;
                    }
                }
                crate::bus::delete_streams(&nats_url(), &id).await;
            });
        });
        let _ = cleanup.join();
    }
}

/// A running app in its own world.
pub struct TestApp {
    pub app: App,
    pub env: TestEnv,
}

/// Starts `services` in a fresh world of `backend`.
pub async fn spawn(backend: Backend, services: Vec<Arc<dyn Service>>) -> TestApp {
    let env = TestEnv::new(backend);
    let app = env.start(services).await.expect("the app starts");
    TestApp { app, env }
}

impl TestApp {
    /// A gRPC channel to the app.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.app.grpc_addr()))
            .expect("address")
            .connect()
            .await
            .expect("connects")
    }

    pub fn token(&self, tenant: &str, roles: &[Role], org: Option<&str>) -> String {
        self.env.token(tenant, roles, org)
    }
}

/// The methods of the gRPC services of protobuf package `package` (e.g.
/// `markaz.capacity.v1`), in declaration order, from the descriptor set the
/// servers reflect: what an auth table must cover.
pub fn service_methods(package: &str) -> Vec<String> {
    let descriptor: prost_types::FileDescriptorSet =
        prost::Message::decode(markaz_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    descriptor
        .file
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.service.iter())
        .flat_map(|s| s.method.iter().map(|m| m.name().to_string()))
        .collect()
}

/// The methods of the gRPC service `grpc_service` (its full name, e.g.
/// `markaz.capacity.v1.CapacityService`), in declaration order.
pub fn service_methods_of(grpc_service: &str) -> Vec<String> {
    let descriptor: prost_types::FileDescriptorSet =
        prost::Message::decode(markaz_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    descriptor
        .file
        .iter()
        .flat_map(|f| {
            f.service
                .iter()
                .filter(move |s| format!("{}.{}", f.package(), s.name()) == grpc_service)
        })
        .flat_map(|s| s.method.iter().map(|m| m.name().to_string()))
        .collect()
}

/// Wraps `message` in a request carrying `token` as its bearer credential.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if !token.is_empty() {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii token"),
        );
    }
    request
}

/// Polls `check` until it returns `Some` or `timeout` passes. Events cross
/// the bus asynchronously; tests wait for their effect, not for a fixed time.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs each named `async fn name(backend: Backend)` twice: on SQLite with
/// the in-process bus and on PostgreSQL with NATS — the same test body.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::testing::Backend::Sqlite).await
                }
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::testing::Backend::Postgres).await
                }
            }
        )*
    };
}
