//! `markaz bench`: a load generator that measures the platform against its
//! own machine's limits.
//!
//! It prints numbers; it does not pass or fail. Every figure comes with the
//! server's CPU time per operation and its resident memory, read from
//! `/proc` of the server process the bench started itself, and the figures
//! that matter are ratios against baselines measured in the same run on the
//! same machine: `noop` against a bare tonic `echo`, `create` against the
//! same transaction issued straight to the database (`db-baseline`), `get`
//! against a bare `select`.
//!
//! | module | what it holds |
//! |---|---|
//! | [`engine`] | closed and open loops, HDR histograms, coordinated omission |
//! | [`server`], [`target`] | the server process under test, `markaz dev` or `markaz serve` |
//! | [`scenarios`] | one request of each scenario, and the database baselines |
//! | [`events`] | commit-to-applied latency across services, backlog drain |
//! | [`scale`] | a center seeded at a size through the APIs, then each list and report RPC |
//! | [`faults`] | a NATS cluster and two replicas per service under kills, pauses and resets |
//! | [`proxy`] | a TCP proxy that cuts, resets and slows connections |
//! | [`echo`] | the bare tonic server |
#![forbid(unsafe_code)]

pub mod echo;
pub mod engine;
pub mod events;
pub mod faults;
pub mod proxy;
pub mod scale;
pub mod scenarios;
pub mod server;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use engine::{LoadOptions, Mode, Outcome};
use scenarios::{Direct, Pool, Scenario};
use server::{BenchResult, ServerProcess, free_addr, scratch_dir};
use target::{Infra, Kind, Target};

/// What `markaz bench` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Kind,
    pub mode: Mode,
    pub concurrency: usize,
    pub rate: f64,
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: usize,
    pub infra: Infra,
    /// Organizations (and people) created before the read scenarios.
    pub seed: usize,
}

const MIB: f64 = 1024.0 * 1024.0;

/// One measured figure, as the table and the JSON show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figure {
    pub scenario: String,
    pub target: String,
    pub mode: Mode,
    pub concurrency: usize,
    /// Offered rate, for the open loop.
    pub rate: Option<f64>,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub ok: u64,
    pub errors: u64,
    /// Server CPU (user + system) per operation, in microseconds.
    pub server_cpu_us_per_op: Option<f64>,
    /// PostgreSQL's CPU per operation (all its processes), in microseconds.
    pub db_cpu_us_per_op: Option<f64>,
    pub server_rss_mib: Option<f64>,
    /// The most the server held resident during the window.
    pub server_peak_rss_mib: Option<f64>,
    /// Server CPU per operation from the window's start until the events
    /// the window's writes caused were published and applied by every
    /// consumer (`create`): what a write costs in all, whether the
    /// consumers applied its events during the window or after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_cpu_us_per_op: Option<f64>,
}

impl Figure {
    fn of(scenario: Scenario, target: &str, o: &LoadOptions, out: &Outcome, cost: Cost) -> Figure {
        let server = cost.server;
        Figure {
            scenario: scenario.name().to_string(),
            target: target.to_string(),
            mode: o.mode,
            concurrency: o.concurrency,
            rate: (o.mode == Mode::Open).then_some(o.rate),
            throughput: out.throughput(),
            p50_ms: out.ms(0.5),
            p99_ms: out.ms(0.99),
            p999_ms: out.ms(0.999),
            max_ms: out.latency.max() as f64 / 1000.0,
            ok: out.ok,
            errors: out.error_count(),
            server_cpu_us_per_op: server.map(|(cpu, _)| cpu * 1e6 / out.ok.max(1) as f64),
            db_cpu_us_per_op: cost.database.map(|cpu| cpu * 1e6 / out.ok.max(1) as f64),
            server_rss_mib: server.map(|(_, rss)| rss as f64 / MIB),
            server_peak_rss_mib: cost.server_peak.map(|peak| peak as f64 / MIB),
            settled_cpu_us_per_op: cost
                .settled_server
                .map(|cpu| cpu * 1e6 / out.ok.max(1) as f64),
        }
    }
}

impl Options {
    fn load(&self) -> LoadOptions {
        LoadOptions {
            mode: self.mode,
            concurrency: self.concurrency,
            rate: self.rate,
            duration: self.duration,
            warmup: self.warmup,
            progress: true,
        }
    }
}

/// What the measured window cost outside the load generator.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    /// CPU seconds of the server process and its resident bytes at the end.
    server: Option<(f64, u64)>,
    /// The server's peak resident bytes during the window.
    server_peak: Option<u64>,
    /// CPU seconds of PostgreSQL's processes.
    database: Option<f64>,
    /// The server's CPU seconds at the window's start.
    server_start: f64,
    /// CPU seconds of the server from the window's start until the
    /// platform settled after it (set by the scenarios that write events).
    settled_server: Option<f64>,
}

/// Runs `call` and measures the server process (if any) and, on
/// PostgreSQL, the database's processes over the measured window.
async fn measure(
    call: engine::Call,
    load: &LoadOptions,
    server: Option<&ServerProcess>,
    database: bool,
) -> (Outcome, Cost) {
    let at_start = std::sync::Mutex::new((0.0, 0.0));
    let pid = server.map(|s| s.pid);
    let out = engine::run(call, load, || {
        if let Some(pid) = pid {
            server::reset_peak_rss(pid);
        }
        *at_start.lock().expect("cpu lock") = (
            pid.map(server::cpu_seconds).unwrap_or(0.0),
            if database {
                server::database_cpu_seconds()
            } else {
                0.0
            },
        );
    })
    .await;
    let (server_start, database_start) = *at_start.lock().expect("cpu lock");
    let cost = Cost {
        server: server.map(|s| (s.cpu_seconds() - server_start, s.rss_bytes())),
        server_peak: pid.map(server::peak_rss_bytes),
        database: database.then(|| server::database_cpu_seconds() - database_start),
        server_start,
        settled_server: None,
    };
    (out, cost)
}

/// Runs the bare echo server and measures `Ping` against it.
pub async fn run_echo(options: &Options) -> BenchResult<Figure> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let addr = free_addr()?;
    let dir = scratch_dir("echo")?;
    let server = ServerProcess::spawn(
        &exe,
        &["bench-echo", "--addr", &addr.to_string()],
        &[],
        addr,
        None,
        &dir.join("echo.log"),
    )
    .await?;
    let pool = Pool::connect(addr, options.connections, "none").await?;
    let load = options.load();
    let (out, cost) = measure(scenarios::ping(pool), &load, Some(&server), false).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    Ok(Figure::of(Scenario::Echo, "tonic", &load, &out, cost))
}

/// Runs one scenario against a running target.
pub async fn run_on(target: &Target, scenario: Scenario, options: &Options) -> BenchResult<Figure> {
    let load = options.load();
    let name = target.kind.to_string();
    let pool = || Pool::connect(target.server.addr, options.connections, &target.staff_token);
    let seeded = || async {
        let (orgs, people) = scenarios::seed(target, options.seed).await?;
        events::settle(target).await?;
        Ok::<_, String>((Arc::new(orgs), Arc::new(people)))
    };
    // Start each measurement from a settled platform: the events of earlier
    // load (and of the seed) published and applied, not competing with it.
    let settled = || events::settle(target);
    let database = target.kind == Kind::Serve;
    let (out, cost) = match scenario {
        Scenario::Noop => {
            settled().await?;
            measure(
                scenarios::ping(pool().await?),
                &load,
                Some(&target.server),
                database,
            )
            .await
        }
        Scenario::Create => {
            settled().await?;
            let (out, mut cost) = measure(
                scenarios::create(pool().await?),
                &load,
                Some(&target.server),
                database,
            )
            .await;
            // A build whose consumers fall behind during the window does
            // part of each create's work after it: counted here.
            settled().await?;
            cost.settled_server = Some(target.server.cpu_seconds() - cost.server_start);
            (out, cost)
        }
        Scenario::Get => {
            let (orgs, _) = seeded().await?;
            measure(
                scenarios::get(pool().await?, orgs),
                &load,
                Some(&target.server),
                database,
            )
            .await
        }
        Scenario::Mixed => {
            let (orgs, people) = seeded().await?;
            measure(
                scenarios::mixed(pool().await?, orgs, people),
                &load,
                Some(&target.server),
                database,
            )
            .await
        }
        Scenario::DbBaseline => {
            settled().await?;
            let direct = Arc::new(
                Direct::connect_as_app(target, "membership", options.concurrency as u32).await?,
            );
            measure(
                scenarios::db_baseline(direct, target.tenant.clone()),
                &load,
                None,
                database,
            )
            .await
        }
        Scenario::Select => {
            let (orgs, _) = seeded().await?;
            let direct =
                Arc::new(Direct::connect(target, "membership", options.concurrency as u32).await?);
            measure(
                scenarios::select(direct, target.tenant.clone(), orgs),
                &load,
                None,
                database,
            )
            .await
        }
        Scenario::Echo | Scenario::Events | Scenario::Scale => {
            return Err(format!("{} is not run this way", scenario.name()));
        }
    };
    Ok(Figure::of(scenario, &name, &load, &out, cost))
}

/// Prints figures as a table for people.
pub fn print_table(figures: &[Figure]) {
    println!(
        "{:<20} {:<6} {:<6} {:>5} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>8} {:>8} {:>9} {:>11}",
        "scenario",
        "target",
        "mode",
        "conc",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "cpu µs/op",
        "rss MiB",
        "peak MiB",
        "db µs/op",
        "settled µs"
    );
    for f in figures {
        println!(
            "{:<20} {:<6} {:<6} {:>5} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>10} {:>8} {:>8} {:>9} {:>11}",
            f.scenario,
            f.target,
            format!("{:?}", f.mode).to_lowercase(),
            f.concurrency,
            f.throughput,
            f.p50_ms,
            f.p99_ms,
            f.p999_ms,
            f.max_ms,
            f.errors,
            f.server_cpu_us_per_op
                .map(|c| format!("{c:.0}"))
                .unwrap_or_else(|| "-".into()),
            f.server_rss_mib
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "-".into()),
            f.server_peak_rss_mib
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "-".into()),
            f.db_cpu_us_per_op
                .map(|c| format!("{c:.0}"))
                .unwrap_or_else(|| "-".into()),
            f.settled_cpu_us_per_op
                .map(|c| format!("{c:.0}"))
                .unwrap_or_else(|| "-".into()),
        );
    }
}

pub fn print_events(e: &events::EventsFigure) {
    println!(
        "events ({}): {} events at {:.0}/s: commit → applied p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
        e.target, e.events, e.rate, e.lag_p50_ms, e.lag_p99_ms, e.lag_p999_ms, e.lag_max_ms
    );
    println!(
        "  of which commit → on the bus (the relay): p50 {:.1} ms, p99 {:.1} ms",
        e.published_p50_ms, e.published_p99_ms
    );
    println!(
        "burst ({}): {} events at {:.0}/s; outbox empty {:.2} s and all applied {:.2} s after the burst",
        e.target, e.burst_events, e.burst_rate, e.drain_published_s, e.drain_applied_s
    );
}

/// The whole suite for one target shape: every scenario, the ratios the
/// platform is judged by, and the idle memory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SuiteReport {
    pub target: String,
    pub idle_rss_mib: f64,
    pub figures: Vec<Figure>,
    pub events: Option<events::EventsFigure>,
    pub ratios: Vec<Ratio>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Ratio {
    pub figure: String,
    pub value: f64,
    pub target: String,
    pub met: bool,
}

pub async fn suite(kind: Kind, options: &Options) -> BenchResult<SuiteReport> {
    let mut figures = Vec::new();
    eprintln!("echo (bare tonic)");
    let echo = run_echo(options).await?;
    figures.push(echo.clone());

    eprintln!("starting markaz {kind}");
    let target = Target::start(kind, &options.infra).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_rss_mib = target.server.rss_bytes() as f64 / MIB;

    let result = async {
        let mut by = |s: Scenario, f: Figure| {
            eprintln!("{} done: {:.0} ops/s", s.name(), f.throughput);
            figures.push(f.clone());
            f
        };
        eprintln!("noop");
        let noop = by(
            Scenario::Noop,
            run_on(&target, Scenario::Noop, options).await?,
        );
        eprintln!("db-baseline");
        let dbb = by(
            Scenario::DbBaseline,
            run_on(&target, Scenario::DbBaseline, options).await?,
        );
        eprintln!("create");
        let create = by(
            Scenario::Create,
            run_on(&target, Scenario::Create, options).await?,
        );
        eprintln!("create, open loop at half its highest rate");
        let open = Options {
            mode: Mode::Open,
            rate: (create.throughput / 2.0).max(1.0),
            concurrency: 4096,
            ..options.clone()
        };
        let create_open = by(
            Scenario::Create,
            run_on(&target, Scenario::Create, &open).await?,
        );
        eprintln!("select");
        let select = by(
            Scenario::Select,
            run_on(&target, Scenario::Select, options).await?,
        );
        eprintln!("get");
        let get = by(
            Scenario::Get,
            run_on(&target, Scenario::Get, options).await?,
        );
        eprintln!("mixed");
        by(
            Scenario::Mixed,
            run_on(&target, Scenario::Mixed, options).await?,
        );
        eprintln!("events");
        let events = events::run(
            &target,
            1000.0,
            options.duration,
            options.duration,
            options.concurrency,
        )
        .await
        .map_err(|e| eprintln!("events: {e}"))
        .ok();
        let ratios = vec![
            ratio(
                "noop ÷ echo throughput",
                noop.throughput / echo.throughput,
                ">= 0.6",
                |v| v >= 0.6,
            ),
            ratio(
                "noop p99 ÷ echo p99",
                noop.p99_ms / echo.p99_ms,
                "<= 2",
                |v| v <= 2.0,
            ),
            ratio(
                "create ÷ db-baseline throughput",
                create.throughput / dbb.throughput,
                ">= 0.7",
                |v| v >= 0.7,
            ),
            ratio("create open p50 (ms)", create_open.p50_ms, "<= 2", |v| {
                v <= 2.0
            }),
            ratio("create open p99 (ms)", create_open.p99_ms, "<= 10", |v| {
                v <= 10.0
            }),
            ratio(
                "create open p99.9 (ms)",
                create_open.p999_ms,
                "<= 25",
                |v| v <= 25.0,
            ),
            ratio(
                "get ÷ select throughput",
                get.throughput / select.throughput,
                ">= 0.4",
                |v| v >= 0.4,
            ),
            ratio("idle RSS (MiB)", idle_rss_mib, "<= 150", |v| v <= 150.0),
        ];
        let mut ratios = ratios;
        if let Some(e) = &events {
            ratios.push(ratio(
                "events p99 at 1000/s (ms)",
                e.lag_p99_ms,
                "<= 50",
                |v| v <= 50.0,
            ));
            ratios.push(ratio(
                "burst drained (s)",
                e.drain_applied_s,
                "<= 10",
                |v| v <= 10.0,
            ));
        }
        Ok::<_, String>((events, ratios))
    }
    .await;
    target.stop().await;
    let (events, ratios) = result?;
    Ok(SuiteReport {
        target: kind.to_string(),
        idle_rss_mib,
        figures,
        events,
        ratios,
    })
}

fn ratio(figure: &str, value: f64, target: &str, met: impl Fn(f64) -> bool) -> Ratio {
    Ratio {
        figure: figure.to_string(),
        value,
        target: target.to_string(),
        met: met(value),
    }
}

pub fn print_suite(report: &SuiteReport) {
    println!("\n== markaz {} ==", report.target);
    print_table(&report.figures);
    if let Some(e) = &report.events {
        print_events(e);
    }
    println!("idle resident memory: {:.1} MiB", report.idle_rss_mib);
    println!("\n{:<36} {:>10} {:>10}  met", "figure", "value", "target");
    for r in &report.ratios {
        println!(
            "{:<36} {:>10.2} {:>10}  {}",
            r.figure,
            r.value,
            r.target,
            if r.met { "yes" } else { "NO" }
        );
    }
}
