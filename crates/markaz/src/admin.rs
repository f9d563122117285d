//! The commands: running the platform, and the operator's tools.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use markaz_console::oidc::{DevSignIn, Oidc};
use markaz_console::{Console, ConsoleConfig, SignIn};
use markaz_kit::app::{
    App, AppOptions, Service, ServiceContext, Storage, database_of, migration_database_of,
    shutdown_signal,
};
use markaz_kit::auth::{KeySource, Role, Signer, Verifier};
use markaz_kit::config::Config;
use markaz_kit::db::Db;
use markaz_kit::rpc::Rpc;
use markaz_kit::{events, migrate, telemetry};
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::membership::v1::Tenant;

use crate::services;

/// Where spans are exported, by OpenTelemetry's own variable.
fn otlp_endpoint() -> Option<String> {
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok()
}

/// The tenant `markaz dev` creates so there is something to try at once.
const DEV_TENANT: &str = "demo";

fn signing_key_path(config: &Config) -> PathBuf {
    config
        .auth
        .signing_key
        .clone()
        .unwrap_or_else(|| config.data_dir.join("signing-key.json"))
}

/// Where admin commands find the databases: the configured URLs when there
/// are any, else the `markaz dev` SQLite files.
pub(crate) fn storage_for(config: &Config) -> Storage {
    if config.database_url.is_some() || !config.databases.is_empty() {
        Storage::Configured
    } else {
        Storage::SqliteDir(config.data_dir.clone())
    }
}

/// A per-service database for a service this binary does not have is a
/// typo (`MARKAZ_GRANT_DATABASE_URL`): refuse it rather than ignore it.
fn check_database_names(config: &Config) -> Result<(), String> {
    let known: Vec<&str> = services::all().iter().map(|s| s.name()).collect();
    match config
        .databases
        .keys()
        .find(|k| !known.contains(&k.as_str()))
    {
        Some(unknown) => Err(format!(
            "a database is configured for '{unknown}' (MARKAZ_{}_DATABASE_URL), which is no service; known: {}",
            unknown.to_ascii_uppercase(),
            known.join(", ")
        )),
        None => Ok(()),
    }
}

pub async fn dev(mut config: Config, data_dir: Option<PathBuf>) -> Result<(), String> {
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    // Embedded means embedded: no external database or bus, whatever the
    // environment says.
    config.database_url = None;
    config.databases.clear();
    config.nats_url = None;
    let _telemetry = telemetry::init(&config.log, "markaz-dev", otlp_endpoint().as_deref());
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating {}: {e}", config.data_dir.display()))?;
    // One server per data directory; `markaz restore` refuses one in use.
    let _lock = crate::backup::lock_data_dir(&config.data_dir)?;
    let signer = Arc::new(
        Signer::load_or_create(
            &signing_key_path(&config),
            &config.data_dir.join("jwks.json"),
        )
        .map_err(|e| e.to_string())?,
    );
    let verifier = Verifier::new(&config.auth, KeySource::Static(signer.jwks()))
        .await
        .map_err(|e| e.to_string())?;
    let app = App::start(AppOptions {
        config: config.clone(),
        services: services::embedded(&config.data_dir),
        storage: Storage::SqliteDir(config.data_dir.clone()),
        verifier,
        listener: None,
        migrate: true,
        preregistered: None,
    })
    .await
    .map_err(|e| e.to_string())?;

    if let Some(db) = app.db(markaz_membership::NAME) {
        let known = markaz_membership::list_tenants(db)
            .await
            .map_err(|e| e.to_string())?;
        if !known.iter().any(|t| t.spec.id == DEV_TENANT) {
            markaz_membership::create_tenant(db, &dev_tenant())
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let console = start_dev_console(&config, &app, signer.clone()).await?;
    let ttl = Duration::from_secs(12 * 3600);
    let admin = signer.sign(&Signer::claims(
        &config.auth,
        "dev-admin",
        DEV_TENANT,
        &[Role::Admin, Role::Staff],
        None,
        ttl,
    ));
    let operator = signer.sign(&Signer::claims(
        &config.auth,
        "dev-operator",
        "",
        &[Role::Operator],
        None,
        ttl,
    ));
    println!(
        "\nMarkaz is running (embedded: SQLite in {dir}, in-process bus).\n\n  console  http://{console}/\n  gRPC     {grpc}\n  metrics  {metrics}\n\n\
         Admin token for tenant '{DEV_TENANT}' (12 h):\n\n  {admin}\n\nOperator token (12 h):\n\n  {operator}\n\n\
         Try:\n  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" {grpc} markaz.platform.v1.PlatformService/WhoAmI\n\n\
         Ctrl-C stops it cleanly.\n",
        dir = config.data_dir.display(),
        console = console.addr(),
        grpc = app.grpc_addr(),
        metrics = app
            .metrics_addr()
            .map(|a| format!("http://{a}/metrics"))
            .unwrap_or_else(|| "off".into()),
    );
    shutdown_signal().await;
    console.shutdown().await;
    app.shutdown().await;
    Ok(())
}

/// The console of `markaz dev`: plain http on MARKAZ_CONSOLE_ADDR (default
/// 127.0.0.1:8080), the services of this process upstream, and the local
/// sign-in as a role of the demo tenant, signed by the dev key.
async fn start_dev_console(
    config: &Config,
    app: &App,
    signer: Arc<Signer>,
) -> Result<Console, String> {
    let mut console = ConsoleConfig::from_env()?;
    console.upstream = format!("http://{}", app.grpc_addr());
    if std::env::var_os("MARKAZ_CONSOLE_COOKIE_SECURE").is_none() {
        console.cookie_secure = false;
    }
    if console.public_tenant.is_empty() {
        console.public_tenant = DEV_TENANT.into();
    }
    let sign_in = SignIn::Dev(Arc::new(DevSignIn {
        signer,
        auth: config.auth.clone(),
        tenant: DEV_TENANT.into(),
    }));
    Console::start(console, sign_in, None).await
}

/// `serve`'s console: OpenID Connect sign-in against the issuer the
/// services trust; upstream the services of this process when it runs
/// some, else MARKAZ_CONSOLE_UPSTREAM.
async fn start_serve_console(config: &Config, app: Option<&App>) -> Result<Console, String> {
    let mut console = ConsoleConfig::from_env()?;
    if let Some(app) = app
        && std::env::var_os("MARKAZ_CONSOLE_UPSTREAM").is_none()
    {
        console.upstream = format!("http://{}", app.grpc_addr());
    }
    let settings = console.oidc.clone().ok_or(
        "the console signs people in with OpenID Connect: set MARKAZ_CONSOLE_OIDC_CLIENT_ID, MARKAZ_CONSOLE_OIDC_REDIRECT_URL and MARKAZ_CONSOLE_OIDC_DISCOVERY_URL",
    )?;
    let oidc = Oidc::discover(&settings, &config.auth).await?;
    Console::start(console, SignIn::Oidc(Arc::new(oidc)), None).await
}

fn dev_tenant() -> Tenant {
    Tenant {
        id: DEV_TENANT.into(),
        name: Some(LocalizedText {
            ar: "مركز دعم المجتمع المدني (تجريبي)".into(),
            en: "Civil Society Support Center (demo)".into(),
        }),
        identifier_prefix: String::new(),
        create_time: None,
    }
}

pub async fn serve(config: Config, list: &str, migrate: bool) -> Result<(), String> {
    let (chosen, with_console) = services::targets(list)?;
    check_database_names(&config)?;
    let _telemetry = telemetry::init(&config.log, "markaz", otlp_endpoint().as_deref());
    let app = if chosen.is_empty() {
        None
    } else {
        Some(start_services(&config, chosen, migrate).await?)
    };
    let console = match with_console {
        true => Some(start_serve_console(&config, app.as_ref()).await?),
        false => None,
    };
    shutdown_signal().await;
    if let Some(console) = console {
        console.shutdown().await;
    }
    if let Some(app) = app {
        app.shutdown().await;
    }
    Ok(())
}

async fn start_services(
    config: &Config,
    chosen: Vec<Arc<dyn Service>>,
    migrate: bool,
) -> Result<App, String> {
    if config.nats_url.is_none() {
        return Err("serve needs NATS: set MARKAZ_NATS_URL (or use `markaz dev`)".into());
    }
    for s in &chosen {
        if config.database_url_for(s.name()).is_none() {
            return Err(format!(
                "serve needs a database for {}: set MARKAZ_DATABASE_URL or MARKAZ_{}_DATABASE_URL",
                s.name(),
                s.name().to_ascii_uppercase()
            ));
        }
    }
    let jwks =
        config.auth.jwks.clone().ok_or(
            "serve needs the token issuer's keys: set MARKAZ_AUTH_JWKS to a JWKS file or URL",
        )?;
    let source = KeySource::from_setting(&jwks).map_err(|e| e.to_string())?;
    let verifier = Verifier::new(&config.auth, source)
        .await
        .map_err(|e| e.to_string())?;
    App::start(AppOptions {
        config: config.clone(),
        services: chosen,
        storage: Storage::Configured,
        verifier,
        listener: None,
        migrate,
        preregistered: None,
    })
    .await
    .map_err(|e| e.to_string())
}

pub async fn migrate(config: Config, list: &str) -> Result<(), String> {
    check_database_names(&config)?;
    let _telemetry = telemetry::init(&config.log, "markaz-migrate", None);
    let storage = storage_for(&config);
    for s in services::select(list)? {
        migrate_one(&config, &storage, s.as_ref()).await?;
        println!("{}: migrated", s.name());
    }
    Ok(())
}

async fn migrate_one(
    config: &Config,
    storage: &Storage,
    service: &dyn Service,
) -> Result<(), String> {
    let (url, schema) =
        migration_database_of(config, storage, service.name()).map_err(|e| e.to_string())?;
    migrate::run_all(
        &url,
        schema.as_deref(),
        service.libraries(),
        service.migrations(),
    )
    .await
    .map_err(|e| e.to_string())
}

pub(crate) async fn connect(config: &Config, service: &dyn Service) -> Result<Db, String> {
    check_database_names(config)?;
    let storage = storage_for(config);
    migrate_one(config, &storage, service).await?;
    let (url, schema) = database_of(config, &storage, service.name()).map_err(|e| e.to_string())?;
    Db::connect(service.name(), &url, schema, &config.database)
        .await
        .map_err(|e| e.to_string())
}

pub fn issue_token(
    config: &Config,
    tenant: &str,
    roles: &[String],
    org: Option<&str>,
    subject: &str,
    hours: u64,
) -> Result<(), String> {
    let roles = roles
        .iter()
        .map(|r| r.parse::<Role>())
        .collect::<Result<Vec<_>, _>>()?;
    if tenant.is_empty() && !roles.contains(&Role::Operator) {
        return Err("--tenant is required for every role but operator".into());
    }
    if roles.contains(&Role::Partner) && org.is_none() {
        return Err("--org is required for --role partner".into());
    }
    if hours * 3600 > config.auth.max_token_lifetime_secs {
        return Err(format!(
            "--hours {hours} is longer than the {} h a token may live here \
             (auth.max_token_lifetime_secs)",
            config.auth.max_token_lifetime_secs / 3600
        ));
    }
    let path = signing_key_path(config);
    let signer = Signer::load(&path).map_err(|e| {
        format!("{e} (run `markaz dev` once to create a development key, or set MARKAZ_AUTH_SIGNING_KEY)")
    })?;
    let claims = Signer::claims(
        &config.auth,
        subject,
        tenant,
        &roles,
        org,
        Duration::from_secs(hours * 3600),
    );
    println!("{}", signer.sign(&claims));
    Ok(())
}

fn membership() -> Arc<dyn Service> {
    Arc::new(markaz_membership::Membership)
}

pub async fn create_tenant(
    config: &Config,
    id: &str,
    name_ar: &str,
    name_en: &str,
    prefix: &str,
) -> Result<(), String> {
    let db = connect(config, membership().as_ref()).await?;
    let row = markaz_membership::create_tenant(
        &db,
        &Tenant {
            id: id.into(),
            name: Some(LocalizedText {
                ar: name_ar.into(),
                en: name_en.into(),
            }),
            identifier_prefix: prefix.into(),
            create_time: None,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "tenant '{}' created (identifiers {}-NNNN)",
        row.spec.id, row.spec.identifier_prefix
    );
    db.close().await;
    Ok(())
}

pub async fn list_tenants(config: &Config) -> Result<(), String> {
    let db = connect(config, membership().as_ref()).await?;
    let rows = markaz_membership::list_tenants(&db)
        .await
        .map_err(|e| e.to_string())?;
    println!("{:<24} {:<16} {:<24} NAME", "ID", "PREFIX", "CREATED");
    for t in rows {
        let name = if t.spec.name.en.is_empty() {
            &t.spec.name.ar
        } else {
            &t.spec.name.en
        };
        println!(
            "{:<24} {:<16} {:<24} {}",
            t.spec.id,
            t.spec.identifier_prefix,
            markaz_kit::time::rfc3339(t.created_at),
            name
        );
    }
    db.close().await;
    Ok(())
}

pub async fn list_dead_letters(config: &Config, list: &str, all: bool) -> Result<(), String> {
    println!(
        "{:<12} {:>6} {:<38} {:<16} {:<44} {:>8}  ERROR",
        "SERVICE", "ID", "EVENT", "TENANT", "TYPE", "ATTEMPTS"
    );
    for s in services::select(list)? {
        let db = connect(config, s.as_ref()).await?;
        for d in events::dead_letters(&db, all)
            .await
            .map_err(|e| e.to_string())?
        {
            println!(
                "{:<12} {:>6} {:<38} {:<16} {:<44} {:>8}  {}{}",
                s.name(),
                d.id,
                d.event_id,
                d.tenant_id,
                d.event_type,
                d.attempts,
                d.error,
                d.replayed_at
                    .map(|at| format!(" (replayed {})", markaz_kit::time::rfc3339(at)))
                    .unwrap_or_default()
            );
        }
        db.close().await;
    }
    Ok(())
}

pub async fn replay_dead_letter(config: &Config, service: &str, id: i64) -> Result<(), String> {
    let chosen = services::select(service)?;
    let s = chosen.first().ok_or("no service")?;
    let db = connect(config, s.as_ref()).await?;
    // The handler needs no credentials, only its database.
    let ctx = ServiceContext {
        db: db.clone(),
        rpc: Rpc::new(s.name()),
        max_message_bytes: config.server.max_message_bytes,
    };
    let (consumer, _) = s
        .consumer(&ctx)
        .ok_or_else(|| format!("{} consumes no events", s.name()))?;
    let applied = events::replay(&db, &consumer, id)
        .await
        .map_err(|e| e.to_string())?;
    println!("dead letter {id} of {}: {applied:?}", s.name());
    db.close().await;
    Ok(())
}

/// `markaz bus rewind`: the streams lined up with databases restored to
/// `to` (markaz_kit::bus's `rewind`), one line per stream.
pub async fn rewind_bus(
    config: &Config,
    to: &str,
    margin_minutes: u64,
    dry_run: bool,
) -> Result<(), String> {
    let at = markaz_kit::time::parse_rfc3339(to)
        .ok_or_else(|| format!("--to {to:?} is not an RFC 3339 instant (2026-12-02T03:00:00Z)"))?;
    if at > markaz_kit::time::now_micros() {
        return Err(format!("--to {to} is in the future"));
    }
    let url = config
        .nats_url
        .as_deref()
        .ok_or("no NATS configured (MARKAZ_NATS_URL): `markaz dev` keeps no streams")?;
    let bus = markaz_kit::bus::Bus::nats(url, config)
        .await
        .map_err(|e| e.to_string())?;
    let margin = std::time::Duration::from_secs(margin_minutes * 60);
    let rewound = bus
        .rewind(at, margin, dry_run)
        .await
        .map_err(|e| e.to_string())?;
    let verb = if dry_run { "would remove" } else { "removed" };
    for r in &rewound {
        println!(
            "{}: {verb} {} event(s) stored after {}; consumers from {}: {}",
            r.stream,
            r.removed,
            markaz_kit::time::rfc3339(at),
            markaz_kit::time::rfc3339(at - margin.as_micros() as i64),
            if r.consumers.is_empty() {
                "none".to_string()
            } else {
                r.consumers.join(", ")
            }
        );
    }
    if rewound.is_empty() {
        println!("no stream of namespace {:?} on {url}", config.bus_namespace);
    }
    Ok(())
}
