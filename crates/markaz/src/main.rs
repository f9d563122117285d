//! `markaz`: one binary, every service, any deployment shape.
//!
//! * `markaz dev` — everything in one process on SQLite files under
//!   `./data`, with the in-process bus and a local signing key.
//! * `markaz serve --services all|LIST` — the chosen services on PostgreSQL
//!   and NATS JetStream: the whole platform on one machine, or one service
//!   per pod.
//! * `markaz migrate`, `markaz token issue`, `markaz tenant create|list`,
//!   `markaz dlq list|replay`, `markaz backup`, `markaz restore`,
//!   `markaz config` — the operator's tools.
//! * `markaz report`, `markaz demo seed` — clients of a running Markaz,
//!   through its public gRPC APIs with the caller's token.
#![forbid(unsafe_code)]

mod admin;
mod backup;
mod bench;
mod client;
mod impact;
mod services;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use markaz_kit::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "markaz",
    version,
    about = "Markaz: a platform for civil-society support centers"
)]
struct Cli {
    /// A TOML configuration file (else MARKAZ_CONFIG; `MARKAZ_*` variables win).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs every service in one process on SQLite with the in-process bus.
    Dev {
        /// Where the SQLite files and the signing key live.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Runs services on PostgreSQL and NATS JetStream.
    Serve {
        /// `all`, or a comma-separated list: membership,...; `console`
        /// runs the staff console (alone, or beside the services named).
        #[arg(long, default_value = "all")]
        services: String,
        /// Do not migrate: `markaz migrate` ran as the tables' owner (a
        /// Kubernetes Job), and this process logs in as a role that owns
        /// nothing. It checks the databases are at its version and stops if not.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Applies the database migrations of the chosen services and exits.
    Migrate {
        #[arg(long, default_value = "all")]
        services: String,
    },
    /// Issues tokens signed with the configured (or the dev) signing key.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Registers and lists tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Inspects and replays dead-lettered events.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// The event streams of `serve`: lined up with restored databases.
    Bus {
        #[command(subcommand)]
        command: BusCommand,
    },
    /// Copies `markaz dev`'s data directory — every database at one instant,
    /// the signing key, the library's files — while it serves
    /// (docs/operations.md, "Backups and restore").
    Backup {
        /// The data directory (else MARKAZ_DATA_DIR, `data`).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// A new (or empty) directory for the copy and its manifest.json.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Puts a backup back as the data directory, once every file matches its
    /// manifest; refused while `markaz dev` runs on it.
    Restore {
        /// The backup's directory.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The data directory (else MARKAZ_DATA_DIR, `data`).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Replace what a non-empty data directory holds.
        #[arg(long)]
        force: bool,
    },
    /// The impact service's figures: rebuilt from the event history.
    Impact {
        #[command(subcommand)]
        command: ImpactCommand,
    },
    /// Measures the platform: closed/open-loop load with baselines (see docs/performance.md).
    Bench(bench::BenchArgs),
    /// The bare tonic server `markaz bench echo` measures against.
    #[command(hide = true)]
    BenchEcho {
        #[arg(long)]
        addr: std::net::SocketAddr,
    },
    /// The impact figures of a period from a running Markaz, once settled: a table, CSV or JSON.
    Report(client::ReportArgs),
    /// Demo data: `seed` rebuilds the center of the source document through the public APIs.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Prints the effective configuration, secrets redacted.
    Config {
        /// Lists the environment variables instead.
        #[arg(long)]
        env: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ImpactCommand {
    /// Replays the producers' events from the first into fresh figures
    /// while the service answers from the current ones, then switches to
    /// them. Refused when the history lacks events (docs/impact.md).
    Rebuild {
        /// Rebuild only what this indicator counts from (repeatable);
        /// everything by default.
        #[arg(long = "indicator", value_name = "CODE")]
        indicators: Vec<String>,
        /// End a rebuild that died (its half-built figures are deleted).
        #[arg(long)]
        abandon: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    Issue {
        #[arg(long, default_value = "")]
        tenant: String,
        /// admin, staff, trainer, reviewer, partner, donor or operator; repeatable.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The partner organization, for `--role partner`.
        #[arg(long)]
        org: Option<String>,
        #[arg(long, default_value = "cli")]
        subject: String,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 12)]
        hours: u64,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    Create {
        /// A slug: lowercase letters, digits and '-'.
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "")]
        name_ar: String,
        #[arg(long, default_value = "")]
        name_en: String,
        /// Prefix of generated organization identifiers.
        #[arg(long, default_value = "")]
        identifier_prefix: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Rebuilds the center of the source document (tenant of the token, `demo` in `markaz dev`)
    /// through the public gRPC APIs; run twice, it creates nothing the second time.
    Seed(client::SeedArgs),
}

#[derive(Debug, Subcommand)]
enum BusCommand {
    /// After restoring every database to one instant, with Markaz stopped:
    /// removes from each producer's stream the events stored after it and
    /// starts each durable consumer again from a margin before it, so the
    /// streams agree with the databases (docs/operations.md, "Backups and
    /// restore").
    Rewind {
        /// The instant the databases were restored to, RFC 3339
        /// (`2026-12-02T03:00:00Z`).
        #[arg(long, value_name = "INSTANT")]
        to: String,
        /// Minutes before it the consumers start again: more than their lag
        /// was at that instant (what they applied already, they skip).
        #[arg(long, default_value_t = 10)]
        margin_minutes: u64,
        /// Say what would be removed and restarted, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    List {
        #[arg(long, default_value = "all")]
        services: String,
        /// Also show letters replayed already.
        #[arg(long)]
        all: bool,
    },
    Replay {
        /// The consuming service the letter belongs to.
        #[arg(long)]
        service: String,
        #[arg(long)]
        id: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("markaz: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("markaz: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("markaz: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Dev { data_dir } => admin::dev(config, data_dir).await,
        Command::Impact {
            command:
                ImpactCommand::Rebuild {
                    indicators,
                    abandon,
                },
        } => impact::rebuild_command(&config, &indicators, abandon).await,
        Command::Serve {
            services,
            no_migrate,
        } => admin::serve(config, &services, !no_migrate).await,
        Command::Migrate { services } => admin::migrate(config, &services).await,
        Command::Token {
            command:
                TokenCommand::Issue {
                    tenant,
                    roles,
                    org,
                    subject,
                    hours,
                },
        } => admin::issue_token(&config, &tenant, &roles, org.as_deref(), &subject, hours),
        Command::Tenant {
            command:
                TenantCommand::Create {
                    id,
                    name_ar,
                    name_en,
                    identifier_prefix,
                },
        } => admin::create_tenant(&config, &id, &name_ar, &name_en, &identifier_prefix).await,
        Command::Tenant {
            command: TenantCommand::List,
        } => admin::list_tenants(&config).await,
        Command::Dlq {
            command: DlqCommand::List { services, all },
        } => admin::list_dead_letters(&config, &services, all).await,
        Command::Dlq {
            command: DlqCommand::Replay { service, id },
        } => admin::replay_dead_letter(&config, &service, id).await,
        Command::Bus {
            command:
                BusCommand::Rewind {
                    to,
                    margin_minutes,
                    dry_run,
                },
        } => admin::rewind_bus(&config, &to, margin_minutes, dry_run).await,
        Command::Backup { data_dir, to } => backup::backup(&config, data_dir, &to).await,
        Command::Restore {
            from,
            data_dir,
            force,
        } => backup::restore(&config, &from, data_dir, force).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Report(args) => client::report(args).await,
        Command::Demo {
            command: DemoCommand::Seed(args),
        } => client::seed(args).await,
        Command::BenchEcho { addr } => markaz_bench::echo::serve(addr).await,
        Command::Config { env } => {
            if env {
                // The services' settings, then the console's own.
                let all = markaz_kit::config::ENV_VARS
                    .iter()
                    .chain(markaz_console::config::ENV_VARS);
                for (name, meaning) in all {
                    println!("{name:<36} {meaning}");
                }
            } else {
                print!("{}", config.redacted_toml());
            }
            Ok(())
        }
    }
}
