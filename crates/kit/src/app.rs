//! One process, any set of services: the runtime behind `markaz dev`,
//! `markaz serve` and the integration tests.
//!
//! [`App::start`] migrates and connects each service's database, connects the
//! bus, starts the consumers (before the relays, so the in-process bus has
//! its subscribers), the relays, the gRPC server (health, reflection, the
//! platform service and every service's API) and the metrics endpoint, then
//! reports SERVING. [`App::shutdown`] reverses it: NOT_SERVING first, then the
//! server drains its requests, the consumers finish the event in hand, the
//! relays publish what committed, and the connections close.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use markaz_proto::platform::v1 as platform;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;

use crate::auth::Verifier;
use crate::bus::Bus;
use crate::config::Config;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::events::{self, Consumer};
use crate::health::Health;
use crate::migrate::{Migration, MigrationSet};
use crate::platform::{PLATFORM_RIGHTS, PlatformApi};
use crate::rpc::{Gate, Rights, Rpc};

/// What a service crate gives the runtime.
pub trait Service: Send + Sync + 'static {
    /// Short name: the schema, the SQLite file, the event producer and
    /// consumer name ("membership").
    fn name(&self) -> &'static str;
    fn migrations(&self) -> &'static [Migration];
    /// The migrations of the libraries it uses (the copies of membership's
    /// data), applied before its own.
    fn libraries(&self) -> &'static [MigrationSet] {
        &[]
    }
    /// Adds the service's gRPC servers; returns their full names for health.
    fn register(&self, ctx: &ServiceContext, routes: &mut RoutesBuilder) -> Vec<&'static str>;
    /// Who may call each method of its gRPC services (checked against the
    /// protobuf descriptors by its tests). A service without a table checks
    /// its callers itself.
    fn rights(&self) -> &'static [Rights] {
        &[]
    }
    /// The producers whose events it consumes, and its handler.
    fn consumer(&self, _ctx: &ServiceContext) -> Option<(Consumer, Vec<&'static str>)> {
        None
    }
    /// Its own retention rules, run with the platform's
    /// ([`crate::retention`]).
    fn purges(&self) -> Vec<Arc<dyn crate::retention::Purge>> {
        Vec::new()
    }
}

/// What the runtime gives a service.
#[derive(Clone, Debug)]
pub struct ServiceContext {
    pub db: Db,
    pub rpc: Rpc,
    /// Largest request message to decode.
    pub max_message_bytes: usize,
}

/// Where each service's database is.
#[derive(Debug, Clone)]
pub enum Storage {
    /// `markaz dev`: one SQLite file per service in this directory.
    SqliteDir(PathBuf),
    /// `markaz serve`: the configured URLs; PostgreSQL schema = service name.
    Configured,
    /// Tests: one PostgreSQL database, a fresh schema per service.
    PostgresSchemas { url: String, prefix: String },
}

/// Everything [`App::start`] needs.
pub struct AppOptions {
    pub config: Config,
    pub services: Vec<Arc<dyn Service>>,
    pub storage: Storage,
    pub verifier: Arc<Verifier>,
    /// A bound listener (tests bind port 0); else `config.grpc_addr`.
    pub listener: Option<TcpListener>,
    /// Migrate each database before serving (`markaz dev`, tests, a small
    /// `serve`). False for `serve --no-migrate`: a Job ran `markaz migrate`
    /// as the owner, and this process only checks the version it finds.
    pub migrate: bool,
    /// Tenants taken as registered without a row (a test world's); `None`
    /// in `markaz dev` and `serve`.
    pub preregistered: Option<crate::tenants::Preregistered>,
}

/// A running process.
pub struct App {
    grpc_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    dbs: HashMap<&'static str, Db>,
    consumers: HashMap<&'static str, Consumer>,
    bus: Bus,
    stop: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("grpc_addr", &self.grpc_addr)
            .finish()
    }
}

impl App {
    pub async fn start(options: AppOptions) -> Result<App> {
        let AppOptions {
            config,
            services,
            storage,
            verifier,
            listener,
            migrate,
            preregistered,
        } = options;
        if !config.server.page_token_secret.is_empty() {
            crate::rpc::conventions::set_page_token_secret(&config.server.page_token_secret);
        }
        let (health_reporter, health_server) = tonic_health::server::health_reporter();
        health_reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;

        // Databases: migrate as the owner (or find them migrated), then
        // connect as the application.
        let mut dbs = HashMap::new();
        for service in &services {
            let name = service.name();
            let (url, schema) = database_of(&config, &storage, name)?;
            if migrate {
                let (owner_url, _) = migration_database_of(&config, &storage, name)?;
                crate::migrate::run_all(
                    &owner_url,
                    schema.as_deref(),
                    service.libraries(),
                    service.migrations(),
                )
                .await?;
            } else {
                crate::migrate::check_current(
                    &url,
                    schema.as_deref(),
                    service.libraries(),
                    service.migrations(),
                )
                .await
                .map_err(|e| Error::Unavailable(format!("{name}: {e}")))?;
            }
            let db = Db::connect(name, &url, schema, &config.database).await?;
            dbs.insert(name, db);
        }

        let bus = match &config.nats_url {
            Some(url) => Bus::nats(url, &config).await?,
            None => Bus::local(),
        };
        for service in &services {
            bus.ensure_producer(service.name()).await?;
        }

        let trusted: crate::rpc::peer::TrustedProxies = config
            .server
            .trusted_proxies
            .parse()
            .map_err(|e| Error::internal(format!("server.trusted_proxies: {e}")))?;
        let workers = TaskTracker::new();
        let workers_stop = CancellationToken::new();
        let mut routes = RoutesBuilder::default();
        let mut health_entries = Vec::new();
        let mut wanted = Vec::new();
        for service in &services {
            let ctx = ServiceContext {
                db: dbs[service.name()].clone(),
                rpc: Rpc::new(service.name())
                    .with_tenants(crate::tenants::Tenants::new(
                        dbs[service.name()].clone(),
                        preregistered.clone(),
                    ))
                    .with_trusted_proxies(trusted.clone()),
                max_message_bytes: config.server.max_message_bytes,
            };
            let names = service.register(&ctx, &mut routes);
            health_entries.push((service.name(), names, true));
            if let Some(consumer) = service.consumer(&ctx) {
                wanted.push((ctx.db.clone(), consumer));
            }
        }
        // The platform service needs nothing but the process.
        health_entries.push((
            "platform",
            vec![<platform::platform_service_server::PlatformServiceServer<PlatformApi> as tonic::server::NamedService>::NAME],
            false,
        ));
        let ready = Arc::new(AtomicBool::new(false));
        let health = Health::new(health_reporter.clone(), health_entries, ready.clone());
        let mut consumers = HashMap::new();
        for (db, (consumer, producers)) in wanted {
            for producer in producers {
                events::run_consumer(
                    &workers,
                    db.clone(),
                    bus.clone(),
                    consumer.clone(),
                    producer,
                    config.consumer.clone(),
                    health.clone(),
                    workers_stop.clone(),
                )
                .await?;
            }
            consumers.insert(db.service(), consumer);
        }
        let relays_stop = CancellationToken::new();
        let relays = TaskTracker::new();
        for service in &services {
            let db = &dbs[service.name()];
            relays.spawn(events::run_relay(
                db.clone(),
                bus.clone(),
                config.consumer.clone(),
                relays_stop.clone(),
            ));
            relays.spawn(crate::erasure::run(
                db.clone(),
                bus.clone(),
                relays_stop.clone(),
            ));
            relays.spawn(crate::retention::run(
                db.clone(),
                config.retention.clone(),
                service.purges(),
                relays_stop.clone(),
            ));
        }

        let platform_api = platform::platform_service_server::PlatformServiceServer::new(
            PlatformApi::new(services.iter().map(|s| {
                let name = s.name();
                (name, dbs[name].clone(), consumers.get(name).cloned())
            })),
        )
        .max_decoding_message_size(config.server.max_message_bytes);
        routes.add_service(platform_api);
        // Both versions of reflection: grpcurl 1.8 (what most package
        // managers ship), grpcui and Postman still ask v1alpha.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(markaz_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        routes.add_service(
            reflection()
                .build_v1()
                .map_err(|e| Error::internal(format!("reflection: {e}")))?,
        );
        routes.add_service(
            reflection()
                .build_v1alpha()
                .map_err(|e| Error::internal(format!("reflection: {e}")))?,
        );
        routes.add_service(health_server);

        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind(config.grpc_addr).await.map_err(|e| {
                Error::Unavailable(format!("cannot listen on {}: {e}", config.grpc_addr))
            })?,
        };
        let grpc_addr = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("listener: {e}")))?;

        let stop = CancellationToken::new();
        let metrics_stop = CancellationToken::new();
        let metrics_addr = match config.metrics_addr {
            Some(addr) => Some(
                crate::telemetry::serve_metrics(addr, ready.clone(), metrics_stop.clone())
                    .await
                    .map_err(|e| {
                        Error::Unavailable(format!("cannot serve metrics on {addr}: {e}"))
                    })?,
            ),
            None => None,
        };

        // TLS when configured: a certificate that does not load stops the
        // start, rather than serving plaintext by surprise.
        let tls = if config.server.tls_cert_path.is_empty() {
            None
        } else {
            Some(crate::listener::tls_acceptor(
                &config.server.tls_cert_path,
                &config.server.tls_key_path,
            )?)
        };
        let rpc_stop = CancellationToken::new();
        let mut rights = vec![PLATFORM_RIGHTS];
        for service in &services {
            rights.extend_from_slice(service.rights());
        }
        let server = tonic::transport::Server::builder()
            .layer(Gate::new(
                &rights,
                verifier.clone(),
                config.server.max_message_bytes,
                crate::rpc::limits::InFlight::new(
                    config.server.max_inflight_bytes,
                    config.server.max_inflight_bytes_per_connection,
                ),
                Arc::new(crate::rpc::budget::WriteBudget::new(&config.server)),
            ))
            .concurrency_limit_per_connection(config.server.concurrency_per_connection)
            .load_shed(true)
            .timeout(config.request_timeout())
            .tcp_nodelay(true)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            // A peer that does not answer a keep-alive ping within this is gone.
            .http2_keepalive_timeout(Some(Duration::from_secs(20)))
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(
                crate::listener::serving(listener, config.server.connection_limits(), tls),
                rpc_stop.clone().cancelled_owned(),
            );
        let server = tokio::spawn(server);

        // Serving from here on, for as long as the probes agree.
        health.publish().await;
        let health_stop = CancellationToken::new();
        tokio::spawn(
            health
                .clone()
                .run(dbs.clone(), bus.clone(), health_stop.clone()),
        );
        tracing::info!(%grpc_addr, ?metrics_addr, services = ?services.iter().map(|s| s.name()).collect::<Vec<_>>(), "serving");

        let drain = config.drain_timeout();
        let grace = std::time::Duration::from_millis(config.server.shutdown_grace_ms);
        let stop_signal = stop.clone();
        let closing_dbs: Vec<Db> = dbs.values().cloned().collect();
        let closing_bus = bus.clone();
        let done = tokio::spawn(async move {
            stop_signal.cancelled().await;
            tracing::info!("shutting down: draining requests, relays and consumers");
            health_stop.cancel();
            health.stop_serving().await;
            // Load balancers learn of NOT_SERVING from their next probe: keep
            // serving for that long before the listener closes.
            tokio::time::sleep(grace).await;
            rpc_stop.cancel();
            let mut server = server;
            if tokio::time::timeout(drain, &mut server).await.is_err() {
                tracing::warn!("requests still running after the drain timeout; cutting them off");
                server.abort();
            }
            // Relays before consumers: on the in-process bus the relays'
            // last round hands its events to consumers still running.
            relays_stop.cancel();
            relays.close();
            if tokio::time::timeout(drain, relays.wait()).await.is_err() {
                tracing::warn!("relays still running after the drain timeout");
            }
            workers_stop.cancel();
            workers.close();
            if tokio::time::timeout(drain, workers.wait()).await.is_err() {
                tracing::warn!("consumers still running after the drain timeout");
            }
            metrics_stop.cancel();
            closing_bus.close().await;
            for db in closing_dbs {
                db.close().await;
            }
            tracing::info!("stopped");
        });

        Ok(App {
            grpc_addr,
            metrics_addr,
            dbs,
            consumers,
            bus,
            stop,
            done,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn db(&self, service: &str) -> Option<&Db> {
        self.dbs.get(service)
    }

    pub fn consumer(&self, service: &str) -> Option<&Consumer> {
        self.consumers.get(service)
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// A token that stops the app when cancelled (e.g. from a signal).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stops gracefully and waits until everything drained.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.done.await;
    }

    /// Waits until the app was stopped through its token and has drained.
    pub async fn wait(self) {
        let _ = self.done.await;
    }
}

/// The database URL and (PostgreSQL) schema of `service`.
pub fn database_of(
    config: &Config,
    storage: &Storage,
    service: &str,
) -> Result<(String, Option<String>)> {
    located(storage, service, config.database_url_for(service))
}

/// The same database, as its migrations reach it: through the owner's URL
/// where one is configured.
pub fn migration_database_of(
    config: &Config,
    storage: &Storage,
    service: &str,
) -> Result<(String, Option<String>)> {
    located(storage, service, config.migrate_database_url_for(service))
}

fn located(
    storage: &Storage,
    service: &str,
    configured: Option<&str>,
) -> Result<(String, Option<String>)> {
    match storage {
        Storage::SqliteDir(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::internal(format!("creating {}: {e}", dir.display())))?;
            Ok((format!("sqlite://{}/{service}.db", dir.display()), None))
        }
        Storage::Configured => {
            let url = configured.ok_or_else(|| {
                Error::internal(format!(
                    "no database for {service}: set MARKAZ_DATABASE_URL or MARKAZ_{}_DATABASE_URL",
                    service.to_ascii_uppercase()
                ))
            })?;
            let schema = match crate::db::backend_of(url)? {
                crate::db::Backend::Postgres => Some(service.to_string()),
                crate::db::Backend::Sqlite => None,
            };
            Ok((url.to_string(), schema))
        }
        Storage::PostgresSchemas { url, prefix } => {
            Ok((url.clone(), Some(format!("{prefix}_{service}"))))
        }
    }
}

/// Waits for SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
