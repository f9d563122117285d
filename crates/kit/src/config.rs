//! Configuration: defaults, then an optional TOML file, then `MARKAZ_*`
//! environment variables — the later wins. Validated once at start, so a bad
//! setting stops the process with a message instead of failing at 3 a.m.
//!
//! `markaz config` prints the effective configuration through
//! [`Config::redacted_toml`], which hides passwords in URLs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the gRPC server listens (every service of the process shares it).
    pub grpc_addr: SocketAddr,
    /// Where `/metrics` (Prometheus) is served; empty string disables it.
    pub metrics_addr: Option<SocketAddr>,
    /// Holds the SQLite files and the development signing key in `markaz dev`.
    pub data_dir: PathBuf,
    /// `postgres://...` or `sqlite://...`. Unset: one SQLite file per service
    /// under `data_dir`. On PostgreSQL every service gets its own schema.
    pub database_url: Option<String>,
    /// Per-service database URLs, overriding `database_url` (one database per
    /// service in a microservices deployment).
    pub databases: BTreeMap<String, String>,
    /// Where `markaz migrate` connects, as the tables' owner; unset: the URL
    /// above. The serving processes then log in as a role that owns nothing
    /// (a member of `markaz_app`), so no `RESET ROLE` escapes row-level
    /// security.
    pub migrate_database_url: Option<String>,
    /// Per-service migration URLs, overriding `migrate_database_url`.
    pub migrate_databases: BTreeMap<String, String>,
    /// `nats://host:4222`, or several servers of one cluster separated by
    /// commas (the client learns the rest from the first it reaches).
    /// Unset: the in-process bus.
    pub nats_url: Option<String>,
    /// Prefix of every subject and stream, so several deployments (or test
    /// runs) can share one NATS server: `<ns>.evt.membership.*`, `<NS>_MEMBERSHIP`.
    pub bus_namespace: String,
    /// Copies JetStream keeps of every stream this version creates: 1 on a
    /// single server, 3 on a cluster of three or more, so that losing one
    /// server loses no event and stops no producer or consumer.
    pub bus_replicas: usize,
    pub auth: AuthConfig,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub consumer: ConsumerConfig,
    pub retention: RetentionConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim.
    pub audience: String,
    /// Public keys: a JWKS file path, `file:PATH`, or an `http(s)://` JWKS URL of
    /// an external OIDC issuer.
    pub jwks: Option<String>,
    /// Private key (an Ed25519 JWK) used by `markaz token issue` and `markaz dev`.
    pub signing_key: Option<PathBuf>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Longest a token may live (`exp` − `iat`, and `exp` − now): a token
    /// that leaked is useless after this, whatever its issuer wrote.
    pub max_token_lifetime_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Largest request message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Requests in flight per connection; beyond it, requests are shed with
    /// UNAVAILABLE rather than queued without bound.
    pub concurrency_per_connection: usize,
    /// Upper bound of any request's deadline, in milliseconds.
    pub request_timeout_ms: u64,
    /// How long shutdown waits for requests, consumers and the relay to drain.
    pub drain_timeout_ms: u64,
    /// How long a stopping process keeps serving after reporting NOT_SERVING,
    /// so load balancers stop sending first (a probe period, in Kubernetes).
    pub shutdown_grace_ms: u64,
    /// Request bytes held while their messages are still arriving, for the
    /// whole process; beyond it, requests are refused (RESOURCE_EXHAUSTED).
    pub max_inflight_bytes: usize,
    /// The same, per client connection.
    pub max_inflight_bytes_per_connection: usize,
    /// Open client connections at most; beyond it, new ones wait in the
    /// kernel's backlog.
    pub max_connections: usize,
    /// A new connection must send its first byte within this.
    pub handshake_timeout_ms: u64,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout_ms: u64,
    /// Each caller's write budget (see `rpc::budget`): writes per second
    /// refilled, and how many may come at once; 0 per second: no budget.
    pub write_requests_per_second: u64,
    pub write_requests_burst: u64,
    /// The same in request bytes.
    pub write_bytes_per_second: u64,
    pub write_bytes_burst: u64,
    /// The key page tokens are signed with (any string, at least 32
    /// characters). Every replica of a service must have the same one, or a
    /// token from one is refused by another; unset, each process draws its
    /// own at start.
    pub page_token_secret: String,
    /// TLS for the gRPC port: a PEM certificate chain and its private key.
    /// Both or neither; unset, the port speaks plaintext (behind a mesh or
    /// an ingress that terminates TLS).
    pub tls_cert_path: String,
    pub tls_key_path: String,
    /// The proxies (networks, comma-separated) whose `x-forwarded-for` a
    /// public RPC believes for its caller's address, so its rate limits
    /// count visitors, not the console or the ingress in front of them
    /// (`rpc::peer`). Default: loopback, where `markaz dev`'s console is.
    pub trusted_proxies: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsumerConfig {
    /// Failed applications of one event, while its consumer's database
    /// answers, before it goes to the dead letters. Deliveries during an
    /// outage of the database do not count.
    pub max_deliver: u32,
    /// Delay before each redelivery, in milliseconds; the last repeats.
    pub backoff_ms: Vec<u64>,
    /// How often the relay looks at the outbox when nothing woke it.
    pub relay_poll_ms: u64,
    /// How long NATS waits for a delivery's acknowledgement before sending
    /// it again: how soon the events a crashed consumer held come back.
    /// Events held longer (a slow batch, an outage) are extended with
    /// "in progress" acknowledgements, so this only bounds crash recovery.
    pub ack_wait_ms: u64,
    /// Days a producer's stream keeps an event; 0 keeps every event. The
    /// event history is what a projection is rebuilt from (`markaz impact
    /// rebuild`), which refuses once the stream has let events go. Applies
    /// to streams this version creates; an existing stream keeps its limit
    /// until it is edited (docs/operations.md).
    pub history_days: u64,
}

/// How long the platform's own records are kept (see [`crate::retention`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// The replay window: days a create's `request_id` and its answer are
    /// remembered. A retry inside it gets the first answer; after it the
    /// same id is a new request.
    pub request_id_days: u64,
    /// Days an applied event's inbox row is kept: a redelivery inside it
    /// has no second effect. JetStream redelivers only what a consumer has
    /// not acknowledged, which is never weeks old; the streams keep the
    /// history longer (`consumer.history_days`) for rebuilds, which do not
    /// go through the inbox.
    pub inbox_days: u64,
    /// Days the contact details someone of the public left with a form (a
    /// training suggestion's sender and contact) are kept when staff have
    /// not triaged it sooner (triage removes them at once). Services with
    /// such forms purge them ([`crate::retention::Purge`]).
    pub public_contact_days: u64,
    /// Seconds between purges.
    pub interval_secs: u64,
    /// Rows forgotten per transaction.
    pub batch: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` for log pipelines.
    pub format: String,
    /// A `tracing` filter, e.g. `info,markaz_kit=debug`. `RUST_LOG` wins.
    pub filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            grpc_addr: "127.0.0.1:50051".parse().expect("literal address"),
            metrics_addr: Some("127.0.0.1:9464".parse().expect("literal address")),
            data_dir: PathBuf::from("data"),
            database_url: None,
            databases: BTreeMap::new(),
            migrate_database_url: None,
            migrate_databases: BTreeMap::new(),
            nats_url: None,
            bus_namespace: "markaz".into(),
            bus_replicas: 1,
            auth: AuthConfig::default(),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            consumer: ConsumerConfig::default(),
            retention: RetentionConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuer: "markaz-dev".into(),
            audience: "markaz".into(),
            jwks: None,
            signing_key: None,
            leeway_secs: 30,
            max_token_lifetime_secs: 24 * 3600,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_message_bytes: 4 * 1024 * 1024,
            concurrency_per_connection: 256,
            request_timeout_ms: 30_000,
            drain_timeout_ms: 20_000,
            shutdown_grace_ms: 0,
            max_inflight_bytes: 256 * 1024 * 1024,
            max_inflight_bytes_per_connection: 16 * 1024 * 1024,
            max_connections: 4096,
            handshake_timeout_ms: 10_000,
            idle_timeout_ms: 300_000,
            write_requests_per_second: 50,
            write_requests_burst: 1_000,
            write_bytes_per_second: 1024 * 1024,
            write_bytes_burst: 64 * 1024 * 1024,
            page_token_secret: String::new(),
            tls_cert_path: String::new(),
            tls_key_path: String::new(),
            trusted_proxies: crate::rpc::peer::LOOPBACK.to_string(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 16,
            acquire_timeout_ms: 5_000,
        }
    }
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            max_deliver: 5,
            backoff_ms: vec![200, 1_000, 5_000, 15_000],
            relay_poll_ms: 1_000,
            ack_wait_ms: 5_000,
            history_days: 0,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            request_id_days: 7,
            inbox_days: 31,
            public_contact_days: 90,
            interval_secs: 600,
            batch: 1_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".into(),
            filter: "info".into(),
        }
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// The environment variables read, the TOML key each one sets, and how.
/// Kept as one table so `markaz config --help-env` and the README agree.
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "MARKAZ_CONFIG",
        "path of a TOML file read before the variables below",
    ),
    ("MARKAZ_GRPC_ADDR", "grpc_addr"),
    ("MARKAZ_METRICS_ADDR", "metrics_addr (empty disables)"),
    ("MARKAZ_DATA_DIR", "data_dir"),
    ("MARKAZ_DATABASE_URL", "database_url"),
    (
        "MARKAZ_<SERVICE>_DATABASE_URL",
        "databases.<service>, e.g. MARKAZ_GRANTS_DATABASE_URL",
    ),
    ("MARKAZ_MIGRATE_DATABASE_URL", "migrate_database_url"),
    (
        "MARKAZ_<SERVICE>_MIGRATE_DATABASE_URL",
        "migrate_databases.<service>, e.g. MARKAZ_GRANTS_MIGRATE_DATABASE_URL",
    ),
    ("MARKAZ_NATS_URL", "nats_url"),
    ("MARKAZ_BUS_NAMESPACE", "bus_namespace"),
    ("MARKAZ_BUS_REPLICAS", "bus_replicas"),
    ("MARKAZ_AUTH_ISSUER", "auth.issuer"),
    ("MARKAZ_AUTH_AUDIENCE", "auth.audience"),
    ("MARKAZ_AUTH_JWKS", "auth.jwks"),
    ("MARKAZ_AUTH_SIGNING_KEY", "auth.signing_key"),
    (
        "MARKAZ_AUTH_MAX_TOKEN_LIFETIME_SECS",
        "auth.max_token_lifetime_secs",
    ),
    ("MARKAZ_MAX_MESSAGE_BYTES", "server.max_message_bytes"),
    (
        "MARKAZ_CONCURRENCY_PER_CONNECTION",
        "server.concurrency_per_connection",
    ),
    ("MARKAZ_REQUEST_TIMEOUT_MS", "server.request_timeout_ms"),
    ("MARKAZ_SHUTDOWN_GRACE_MS", "server.shutdown_grace_ms"),
    ("MARKAZ_MAX_CONNECTIONS", "server.max_connections"),
    ("MARKAZ_HANDSHAKE_TIMEOUT_MS", "server.handshake_timeout_ms"),
    ("MARKAZ_IDLE_TIMEOUT_MS", "server.idle_timeout_ms"),
    ("MARKAZ_MAX_INFLIGHT_BYTES", "server.max_inflight_bytes"),
    (
        "MARKAZ_WRITE_REQUESTS_PER_SECOND",
        "server.write_requests_per_second",
    ),
    ("MARKAZ_WRITE_REQUESTS_BURST", "server.write_requests_burst"),
    (
        "MARKAZ_WRITE_BYTES_PER_SECOND",
        "server.write_bytes_per_second",
    ),
    ("MARKAZ_WRITE_BYTES_BURST", "server.write_bytes_burst"),
    ("MARKAZ_PAGE_TOKEN_SECRET", "server.page_token_secret"),
    ("MARKAZ_TLS_CERT", "server.tls_cert_path"),
    ("MARKAZ_TLS_KEY", "server.tls_key_path"),
    ("MARKAZ_TRUSTED_PROXIES", "server.trusted_proxies"),
    (
        "MARKAZ_MAX_INFLIGHT_BYTES_PER_CONNECTION",
        "server.max_inflight_bytes_per_connection",
    ),
    ("MARKAZ_DB_MAX_CONNECTIONS", "database.max_connections"),
    ("MARKAZ_CONSUMER_MAX_DELIVER", "consumer.max_deliver"),
    ("MARKAZ_CONSUMER_ACK_WAIT_MS", "consumer.ack_wait_ms"),
    ("MARKAZ_CONSUMER_HISTORY_DAYS", "consumer.history_days"),
    (
        "MARKAZ_RETENTION_REQUEST_ID_DAYS",
        "retention.request_id_days",
    ),
    ("MARKAZ_RETENTION_INBOX_DAYS", "retention.inbox_days"),
    (
        "MARKAZ_RETENTION_PUBLIC_CONTACT_DAYS",
        "retention.public_contact_days",
    ),
    ("MARKAZ_LOG_FORMAT", "log.format"),
    ("MARKAZ_LOG", "log.filter"),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "export traces over OTLP/gRPC to this endpoint",
    ),
];

impl ServerConfig {
    /// How the gRPC server treats its connections.
    pub fn connection_limits(&self) -> crate::listener::Limits {
        crate::listener::Limits {
            max_connections: self.max_connections,
            handshake_timeout: Duration::from_millis(self.handshake_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
        }
    }
}

impl Config {
    /// Defaults, then the TOML file (`path`, else `MARKAZ_CONFIG`), then the
    /// environment. Validates before returning.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(path, |k| std::env::var(k).ok(), std::env::vars())
    }

    /// [`Config::load`] with the environment passed in, for tests.
    pub fn load_from(
        path: Option<&Path>,
        var: impl Fn(&str) -> Option<String>,
        all_vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let file = path
            .map(Path::to_path_buf)
            .or_else(|| var("MARKAZ_CONFIG").map(PathBuf::from));
        let mut config = match file {
            Some(file) => {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| ConfigError(format!("reading {}: {e}", file.display())))?;
                toml::from_str(&text)
                    .map_err(|e| ConfigError(format!("{}: {e}", file.display())))?
            }
            None => Config::default(),
        };
        config.apply_env(&var, all_vars)?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(
        &mut self,
        var: &impl Fn(&str) -> Option<String>,
        all_vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.trim()
                .parse()
                .map_err(|e| ConfigError(format!("{name}={v:?}: {e}")))
        }
        let non_empty = |k: &str| var(k).filter(|v| !v.trim().is_empty());

        if let Some(v) = var("MARKAZ_GRPC_ADDR") {
            self.grpc_addr = parse("MARKAZ_GRPC_ADDR", &v)?;
        }
        if let Some(v) = var("MARKAZ_METRICS_ADDR") {
            self.metrics_addr = if v.trim().is_empty() {
                None
            } else {
                Some(parse("MARKAZ_METRICS_ADDR", &v)?)
            };
        }
        if let Some(v) = non_empty("MARKAZ_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = var("MARKAZ_DATABASE_URL") {
            self.database_url = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Some(v) = var("MARKAZ_MIGRATE_DATABASE_URL") {
            self.migrate_database_url = Some(v).filter(|v| !v.trim().is_empty());
        }
        for (k, v) in all_vars {
            let Some(rest) = k.strip_prefix("MARKAZ_") else {
                continue;
            };
            if rest == "MIGRATE_DATABASE_URL" {
                continue;
            }
            if let Some(service) = rest
                .strip_suffix("_MIGRATE_DATABASE_URL")
                .filter(|s| !s.is_empty())
            {
                self.migrate_databases
                    .insert(service.to_ascii_lowercase(), v);
            } else if let Some(service) =
                rest.strip_suffix("_DATABASE_URL").filter(|s| !s.is_empty())
            {
                self.databases.insert(service.to_ascii_lowercase(), v);
            }
        }
        if let Some(v) = var("MARKAZ_NATS_URL") {
            self.nats_url = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Some(v) = non_empty("MARKAZ_BUS_NAMESPACE") {
            self.bus_namespace = v;
        }
        if let Some(v) = non_empty("MARKAZ_BUS_REPLICAS") {
            self.bus_replicas = parse("MARKAZ_BUS_REPLICAS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_AUTH_ISSUER") {
            self.auth.issuer = v;
        }
        if let Some(v) = non_empty("MARKAZ_AUTH_AUDIENCE") {
            self.auth.audience = v;
        }
        if let Some(v) = non_empty("MARKAZ_AUTH_JWKS") {
            self.auth.jwks = Some(v);
        }
        if let Some(v) = non_empty("MARKAZ_AUTH_SIGNING_KEY") {
            self.auth.signing_key = Some(PathBuf::from(v));
        }
        if let Some(v) = non_empty("MARKAZ_AUTH_MAX_TOKEN_LIFETIME_SECS") {
            self.auth.max_token_lifetime_secs = parse("MARKAZ_AUTH_MAX_TOKEN_LIFETIME_SECS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_MAX_MESSAGE_BYTES") {
            self.server.max_message_bytes = parse("MARKAZ_MAX_MESSAGE_BYTES", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_CONCURRENCY_PER_CONNECTION") {
            self.server.concurrency_per_connection =
                parse("MARKAZ_CONCURRENCY_PER_CONNECTION", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_REQUEST_TIMEOUT_MS") {
            self.server.request_timeout_ms = parse("MARKAZ_REQUEST_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_SHUTDOWN_GRACE_MS") {
            self.server.shutdown_grace_ms = parse("MARKAZ_SHUTDOWN_GRACE_MS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_MAX_CONNECTIONS") {
            self.server.max_connections = parse("MARKAZ_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_HANDSHAKE_TIMEOUT_MS") {
            self.server.handshake_timeout_ms = parse("MARKAZ_HANDSHAKE_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_IDLE_TIMEOUT_MS") {
            self.server.idle_timeout_ms = parse("MARKAZ_IDLE_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_MAX_INFLIGHT_BYTES") {
            self.server.max_inflight_bytes = parse("MARKAZ_MAX_INFLIGHT_BYTES", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_WRITE_REQUESTS_PER_SECOND") {
            self.server.write_requests_per_second = parse("MARKAZ_WRITE_REQUESTS_PER_SECOND", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_WRITE_REQUESTS_BURST") {
            self.server.write_requests_burst = parse("MARKAZ_WRITE_REQUESTS_BURST", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_WRITE_BYTES_PER_SECOND") {
            self.server.write_bytes_per_second = parse("MARKAZ_WRITE_BYTES_PER_SECOND", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_WRITE_BYTES_BURST") {
            self.server.write_bytes_burst = parse("MARKAZ_WRITE_BYTES_BURST", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_PAGE_TOKEN_SECRET") {
            self.server.page_token_secret = v;
        }
        if let Some(v) = non_empty("MARKAZ_TLS_CERT") {
            self.server.tls_cert_path = v;
        }
        if let Some(v) = non_empty("MARKAZ_TLS_KEY") {
            self.server.tls_key_path = v;
        }
        // Set but empty is meaningful here: trust no proxy.
        if let Some(v) = var("MARKAZ_TRUSTED_PROXIES") {
            self.server.trusted_proxies = v;
        }
        if let Some(v) = non_empty("MARKAZ_MAX_INFLIGHT_BYTES_PER_CONNECTION") {
            self.server.max_inflight_bytes_per_connection =
                parse("MARKAZ_MAX_INFLIGHT_BYTES_PER_CONNECTION", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_DB_MAX_CONNECTIONS") {
            self.database.max_connections = parse("MARKAZ_DB_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_CONSUMER_MAX_DELIVER") {
            self.consumer.max_deliver = parse("MARKAZ_CONSUMER_MAX_DELIVER", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_CONSUMER_ACK_WAIT_MS") {
            self.consumer.ack_wait_ms = parse("MARKAZ_CONSUMER_ACK_WAIT_MS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_CONSUMER_HISTORY_DAYS") {
            self.consumer.history_days = parse("MARKAZ_CONSUMER_HISTORY_DAYS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_RETENTION_REQUEST_ID_DAYS") {
            self.retention.request_id_days = parse("MARKAZ_RETENTION_REQUEST_ID_DAYS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_RETENTION_INBOX_DAYS") {
            self.retention.inbox_days = parse("MARKAZ_RETENTION_INBOX_DAYS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_RETENTION_PUBLIC_CONTACT_DAYS") {
            self.retention.public_contact_days = parse("MARKAZ_RETENTION_PUBLIC_CONTACT_DAYS", &v)?;
        }
        if let Some(v) = non_empty("MARKAZ_LOG_FORMAT") {
            self.log.format = v;
        }
        if let Some(v) = non_empty("MARKAZ_LOG") {
            self.log.filter = v;
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let urls = self
            .database_url
            .iter()
            .map(|u| ("database_url".to_string(), u))
            .chain(
                self.databases
                    .iter()
                    .map(|(s, u)| (format!("databases.{s}"), u)),
            )
            .chain(
                self.migrate_database_url
                    .iter()
                    .map(|u| ("migrate_database_url".to_string(), u)),
            )
            .chain(
                self.migrate_databases
                    .iter()
                    .map(|(s, u)| (format!("migrate_databases.{s}"), u)),
            );
        for (key, url) in urls {
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
            {
                problems.push(format!("{key} must start with postgres:// or sqlite:"));
            }
        }
        if let Some(url) = &self.nats_url
            && !(url.starts_with("nats://") || url.starts_with("tls://"))
        {
            problems.push("nats_url must start with nats:// or tls://".to_string());
        }
        if self.bus_namespace.is_empty()
            || !self
                .bus_namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            problems.push("bus_namespace must be letters, digits and '_'".to_string());
        }
        // JetStream's own bounds: an odd count keeps a majority after a loss.
        if !(1..=5).contains(&self.bus_replicas) {
            problems.push("bus_replicas must be between 1 and 5".to_string());
        }
        if self.auth.issuer.is_empty() || self.auth.audience.is_empty() {
            problems.push("auth.issuer and auth.audience must be set".to_string());
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            problems.push("log.format must be 'text' or 'json'".to_string());
        }
        if self.server.max_message_bytes < 1024 {
            problems.push("server.max_message_bytes must be at least 1024".to_string());
        }
        if self.server.concurrency_per_connection == 0 {
            problems.push("server.concurrency_per_connection must be positive".to_string());
        }
        if self.server.max_connections == 0
            || self.server.handshake_timeout_ms == 0
            || self.server.idle_timeout_ms == 0
        {
            problems.push(
                "server.max_connections, handshake_timeout_ms and idle_timeout_ms must be positive"
                    .to_string(),
            );
        }
        if self.server.max_inflight_bytes_per_connection < self.server.max_message_bytes
            || self.server.max_inflight_bytes < self.server.max_inflight_bytes_per_connection
        {
            problems.push(
                "server.max_inflight_bytes_per_connection must hold one largest message, and \
                 max_inflight_bytes one connection's"
                    .to_string(),
            );
        }
        if self.server.request_timeout_ms == 0 {
            problems.push("server.request_timeout_ms must be positive".to_string());
        }
        if !self.server.page_token_secret.is_empty() && self.server.page_token_secret.len() < 32 {
            problems.push("server.page_token_secret must be at least 32 characters".to_string());
        }
        if self.server.tls_cert_path.is_empty() != self.server.tls_key_path.is_empty() {
            problems.push(
                "server.tls_cert_path and tls_key_path go together: both or neither".to_string(),
            );
        }
        if let Err(e) = self
            .server
            .trusted_proxies
            .parse::<crate::rpc::peer::TrustedProxies>()
        {
            problems.push(format!("server.trusted_proxies: {e}"));
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be positive".to_string());
        }
        if self.consumer.ack_wait_ms < 1_000 {
            problems.push("consumer.ack_wait_ms must be at least 1000".to_string());
        }
        if self.consumer.max_deliver < 1 || self.consumer.backoff_ms.is_empty() {
            problems.push(
                "consumer.max_deliver must be positive and consumer.backoff_ms not empty"
                    .to_string(),
            );
        }
        let r = &self.retention;
        if r.request_id_days == 0
            || r.inbox_days == 0
            || r.public_contact_days == 0
            || r.interval_secs == 0
            || r.batch == 0
        {
            problems.push(
                "retention.request_id_days, inbox_days, public_contact_days, interval_secs and \
                 batch must be positive"
                    .to_string(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems.join("; ")))
        }
    }

    /// The database URL a service uses: its own entry, else the shared one.
    pub fn database_url_for(&self, service: &str) -> Option<&str> {
        self.databases
            .get(service)
            .or(self.database_url.as_ref())
            .map(String::as_str)
    }

    /// The database URL migrations of a service run with: its own migration
    /// entry, the shared one, else the URL the service serves with.
    pub fn migrate_database_url_for(&self, service: &str) -> Option<&str> {
        self.migrate_databases
            .get(service)
            .or(self.migrate_database_url.as_ref())
            .map(String::as_str)
            .or_else(|| self.database_url_for(service))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.server.request_timeout_ms)
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.server.drain_timeout_ms)
    }

    /// The configuration as TOML, passwords in URLs replaced by `****`.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = shown.database_url.as_deref().map(redact_url);
        shown.migrate_database_url = shown.migrate_database_url.as_deref().map(redact_url);
        for url in shown
            .databases
            .values_mut()
            .chain(shown.migrate_databases.values_mut())
        {
            *url = redact_url(url);
        }
        shown.nats_url = shown.nats_url.as_deref().map(redact_url);
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

/// `postgres://user:secret@host/db?password=x` → `postgres://user:****@host/db?password=****`;
/// a user-info with no colon (`nats://TOKEN@host`) is a token and goes whole.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (location, query) = match rest.split_once('?') {
        Some((l, q)) => (l, Some(q)),
        None => (rest, None),
    };
    let location = match location.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:****@{host}"),
            None => format!("****@{host}"),
        },
        None => location.to_string(),
    };
    let query = query.map(|q| {
        q.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=****"),
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(q) => format!("{scheme}://{location}?{q}"),
        None => format!("{scheme}://{location}"),
    }
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "pass",
        "pwd",
        "token",
        "secret",
        "key",
        "sslkey",
        "sslpassword",
    ]
    .iter()
    .any(|s| k == *s || k.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let owned: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = owned.clone();
        Config::load_from(
            None,
            move |k| lookup.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            owned.into_iter(),
        )
    }

    #[test]
    fn environment_overrides_defaults() {
        let c = load(&[
            ("MARKAZ_GRPC_ADDR", "0.0.0.0:7000"),
            ("MARKAZ_DATABASE_URL", "postgres://app:pw@db/markaz"),
            ("MARKAZ_GRANTS_DATABASE_URL", "postgres://g:pw@db/grants"),
            ("MARKAZ_METRICS_ADDR", ""),
        ])
        .unwrap();
        assert_eq!(c.grpc_addr.port(), 7000);
        assert_eq!(c.metrics_addr, None);
        assert_eq!(
            c.database_url_for("grants"),
            Some("postgres://g:pw@db/grants")
        );
        assert_eq!(
            c.database_url_for("membership"),
            Some("postgres://app:pw@db/markaz")
        );
    }

    #[test]
    fn migrations_connect_as_the_owner_the_services_do_not() {
        let c = load(&[
            ("MARKAZ_DATABASE_URL", "postgres://app@db/markaz"),
            (
                "MARKAZ_MIGRATE_DATABASE_URL",
                "postgres://owner:pw@db/markaz",
            ),
            (
                "MARKAZ_GRANTS_MIGRATE_DATABASE_URL",
                "postgres://gowner@db/grants",
            ),
        ])
        .unwrap();
        // Neither variable is taken for a service called "migrate".
        assert!(c.databases.is_empty(), "{:?}", c.databases);
        assert_eq!(
            c.database_url_for("grants"),
            Some("postgres://app@db/markaz")
        );
        assert_eq!(
            c.migrate_database_url_for("grants"),
            Some("postgres://gowner@db/grants")
        );
        assert_eq!(
            c.migrate_database_url_for("membership"),
            Some("postgres://owner:pw@db/markaz")
        );
        assert!(!c.redacted_toml().contains(":pw@"));
        let plain = load(&[("MARKAZ_DATABASE_URL", "postgres://app@db/markaz")]).unwrap();
        assert_eq!(
            plain.migrate_database_url_for("grants"),
            Some("postgres://app@db/markaz")
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        let e = load(&[("MARKAZ_GRPC_ADDR", "nowhere")]).unwrap_err();
        assert!(e.0.contains("MARKAZ_GRPC_ADDR"), "{e}");
        let e = load(&[("MARKAZ_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(e.0.contains("database_url"), "{e}");
    }

    #[test]
    fn printed_configuration_hides_passwords() {
        let c = load(&[("MARKAZ_DATABASE_URL", "postgres://app:hunter2@db/markaz")]).unwrap();
        let shown = c.redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://app:****@db/markaz"), "{shown}");
        assert_eq!(
            redact_url("nats://s3cr3t@nats:4222"),
            "nats://****@nats:4222"
        );
        assert_eq!(
            redact_url("postgres://h/db?sslmode=require&password=x"),
            "postgres://h/db?sslmode=require&password=****"
        );
    }
}
