//! The `events` scenario: how long from a write's commit in membership to
//! its event being applied by a consumer in another service, and how long
//! the outbox takes to drain after a burst.
//!
//! Both ends are read from the databases after the run, so nothing is
//! added to the path being measured: the producer's outbox row carries the
//! time the event was written in the committing transaction
//! (`created_at`), the consumer's inbox row the time it applied it
//! (`processed_at`). Both clocks are this machine's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::engine::{self, LoadOptions, Mode};
use crate::scenarios::{self, Direct, Pool};
use crate::server::BenchResult;
use crate::target::Target;

/// The consumer whose inbox is read: capacity keeps a copy of organizations.
pub const CONSUMER: &str = "capacity";

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventsFigure {
    pub target: String,
    pub rate: f64,
    pub events: u64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_p999_ms: f64,
    pub lag_max_ms: f64,
    /// The first half of the lag: commit → the relay had it on the bus
    /// (the outbox row's `published_at`).
    pub published_p50_ms: f64,
    pub published_p99_ms: f64,
    pub burst_events: u64,
    pub burst_rate: f64,
    /// From the burst's end until the outbox had nothing left to publish.
    pub drain_published_s: f64,
    /// From the burst's end until the consumer had applied everything.
    pub drain_applied_s: f64,
}

pub async fn run(
    target: &Target,
    rate: f64,
    duration: Duration,
    burst: Duration,
    concurrency: usize,
) -> BenchResult<EventsFigure> {
    let producer = Arc::new(Direct::connect(target, "membership", 4).await?);
    let consumer = Arc::new(Direct::connect(target, CONSUMER, 4).await?);
    let pool = Pool::connect(target.server.addr, 4, &target.staff_token).await?;

    // 0. Start from a quiet platform: what earlier scenarios wrote is on the
    // bus and applied, so the figures below are this scenario's own.
    wait_quiet(&producer, &consumer, Duration::from_secs(600)).await?;

    // 1. A steady rate: per-event commit → applied.
    let since = markaz_kit::time::now_micros();
    let steady = LoadOptions {
        mode: Mode::Open,
        concurrency: 1024,
        rate,
        duration,
        warmup: Duration::ZERO,
        progress: true,
    };
    let out = engine::run(scenarios::create(pool.clone()), &steady, || {}).await;
    let written = count(&producer, OUTBOX_SINCE, since).await?;
    wait_applied(&consumer, since, written, Duration::from_secs(120)).await?;
    let (lag, published) = lags(&producer, &consumer, since).await?;

    // 2. A burst at the highest write rate: how long until drained.
    let burst_since = markaz_kit::time::now_micros();
    let burst_options = LoadOptions {
        mode: Mode::Closed,
        concurrency,
        rate: 0.0,
        duration: burst,
        warmup: Duration::ZERO,
        progress: true,
    };
    let burst_out = engine::run(scenarios::create(pool), &burst_options, || {}).await;
    let burst_end = std::time::Instant::now();
    let deadline = burst_end + Duration::from_secs(300);
    let mut published_at = None;
    let burst_written;
    loop {
        if published_at.is_none() && count(&producer, OUTBOX_PENDING, 0).await? == 0 {
            published_at = Some(burst_end.elapsed());
        }
        let written = count(&producer, OUTBOX_SINCE, burst_since).await?;
        if published_at.is_some() && count(&consumer, INBOX_SINCE, burst_since).await? >= written {
            burst_written = written;
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err("the burst did not drain within 5 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let applied_at = burst_end.elapsed();
    let _ = out.ok;
    Ok(EventsFigure {
        target: target.kind.to_string(),
        rate,
        events: lag.len(),
        lag_p50_ms: lag.value_at_quantile(0.5) as f64 / 1000.0,
        lag_p99_ms: lag.value_at_quantile(0.99) as f64 / 1000.0,
        lag_p999_ms: lag.value_at_quantile(0.999) as f64 / 1000.0,
        lag_max_ms: lag.max() as f64 / 1000.0,
        published_p50_ms: published.value_at_quantile(0.5) as f64 / 1000.0,
        published_p99_ms: published.value_at_quantile(0.99) as f64 / 1000.0,
        burst_events: burst_written as u64,
        burst_rate: burst_out.throughput(),
        drain_published_s: published_at.unwrap_or_default().as_secs_f64(),
        drain_applied_s: applied_at.as_secs_f64(),
    })
}

const OUTBOX_SINCE: &str = "SELECT COUNT(*) FROM markaz_outbox WHERE event_name = 'OrganizationRegistered' AND created_at >= $1";
/// Every event membership wrote (capacity consumes them all, so each gets an
/// inbox row there), leaving out the baseline's filler rows.
const OUTBOX_ALL_SINCE: &str =
    "SELECT COUNT(*) FROM markaz_outbox WHERE event_name <> 'BaselineFiller' AND created_at >= $1";
const OUTBOX_PENDING: &str =
    "SELECT COUNT(*) FROM markaz_outbox WHERE published_at IS NULL AND $1 >= 0";
const INBOX_SINCE: &str =
    "SELECT COUNT(*) FROM markaz_inbox WHERE consumer = 'capacity' AND processed_at >= $1";

async fn count(db: &Direct, sql: &'static str, since: i64) -> BenchResult<i64> {
    let e = |e: sqlx::Error| e.to_string();
    match db {
        Direct::Postgres(p) => sqlx::query_scalar(sql)
            .bind(since)
            .fetch_one(p)
            .await
            .map_err(e),
        Direct::Sqlite { reader, .. } => sqlx::query_scalar(sql)
            .bind(since)
            .fetch_one(reader)
            .await
            .map_err(e),
    }
}

/// Waits until the outbox is empty and the consumer has applied every
/// event membership ever wrote.
async fn wait_quiet(producer: &Direct, consumer: &Direct, timeout: Duration) -> BenchResult<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let pending = count(producer, OUTBOX_PENDING, 0).await?;
        let written = count(producer, OUTBOX_ALL_SINCE, 0).await?;
        let applied = count(consumer, INBOX_SINCE, 0).await?;
        if pending == 0 && applied >= written {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "the platform did not settle: {pending} events unpublished, {applied} of {written} applied"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The services that consume membership's events in a full platform.
const CONSUMERS: [&str; 2] = ["capacity", "grants"];

/// Waits until what earlier load wrote has been published and applied by
/// every consumer that runs, so that one scenario's background work does
/// not land in the next one's figures.
pub async fn settle(target: &Target) -> BenchResult<()> {
    let producer = Direct::connect(target, "membership", 2).await?;
    for service in CONSUMERS {
        let Ok(consumer) = Direct::connect(target, service, 2).await else {
            continue;
        };
        // A consumer that does not run here has no inbox to wait for.
        if count(&consumer, INBOX_OF, 0).await.is_err() {
            continue;
        }
        wait_settled(&producer, &consumer, service, Duration::from_secs(600)).await?;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while count(&producer, OUTBOX_PENDING, 0).await? > 0 {
        if std::time::Instant::now() > deadline {
            return Err("the outbox did not drain".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

const INBOX_OF: &str = "SELECT COUNT(*) FROM markaz_inbox WHERE $1 >= 0";

/// Every service of a full platform, producers and consumers alike.
const SERVICES: [&str; 6] = [
    "membership",
    "capacity",
    "grants",
    "networking",
    "resources",
    "impact",
];

/// How long nothing may happen for the platform to count as at rest.
const QUIET: Duration = Duration::from_secs(2);

/// Waits until no service that runs has an event unpublished and no
/// consumer has applied one for [`QUIET`]: the platform at rest, whoever
/// produced what. [`settle`] waits for membership's events alone; a
/// scenario that writes through every service (`scale`: capacity's
/// enrolments, marks and completions reach grants and impact) waits for
/// this too, or its consumers' backlog is counted in the next figures.
pub async fn quiesce(target: &Target, timeout: Duration) -> BenchResult<()> {
    let mut dbs = Vec::new();
    for service in SERVICES {
        // A service that does not run here has no database to wait for.
        if let Ok(db) = Direct::connect(target, service, 1).await
            && count(&db, OUTBOX_PENDING, 0).await.is_ok()
        {
            dbs.push(db);
        }
    }
    let deadline = std::time::Instant::now() + timeout;
    let mut last: Option<Vec<i64>> = None;
    let mut quiet_since = std::time::Instant::now();
    loop {
        let mut pending = 0;
        let mut applied = Vec::with_capacity(dbs.len());
        for db in &dbs {
            pending += count(db, OUTBOX_PENDING, 0).await?;
            // Membership consumes nothing and may have no inbox.
            applied.push(count(db, INBOX_OF, 0).await.unwrap_or(0));
        }
        if pending > 0 || last.as_ref() != Some(&applied) {
            quiet_since = std::time::Instant::now();
            last = Some(applied);
        } else if quiet_since.elapsed() >= QUIET {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "the platform did not come to rest in {timeout:?}: {pending} events unpublished"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_settled(
    producer: &Direct,
    consumer: &Direct,
    name: &str,
    timeout: Duration,
) -> BenchResult<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let written = count(producer, OUTBOX_ALL_SINCE, 0).await?;
        let applied = count(consumer, INBOX_OF, 0).await?;
        if applied >= written {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{name} applied {applied} of {written} events in {timeout:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_applied(
    consumer: &Direct,
    since: i64,
    written: i64,
    timeout: Duration,
) -> BenchResult<()> {
    let deadline = std::time::Instant::now() + timeout;
    while count(consumer, INBOX_SINCE, since).await? < written {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{CONSUMER} did not apply all {written} events in {timeout:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn pairs(db: &Direct, sql: &'static str, since: i64) -> BenchResult<Vec<(String, i64)>> {
    let e = |e: sqlx::Error| e.to_string();
    match db {
        Direct::Postgres(p) => sqlx::query_as(sql)
            .bind(since)
            .fetch_all(p)
            .await
            .map_err(e),
        Direct::Sqlite { reader, .. } => sqlx::query_as(sql)
            .bind(since)
            .fetch_all(reader)
            .await
            .map_err(e),
    }
}

async fn lags(
    producer: &Direct,
    consumer: &Direct,
    since: i64,
) -> BenchResult<(Histogram<u64>, Histogram<u64>)> {
    let e = |e: sqlx::Error| e.to_string();
    let sql = "SELECT event_id, created_at, published_at FROM markaz_outbox
         WHERE event_name = 'OrganizationRegistered' AND created_at >= $1";
    let rows: Vec<(String, i64, Option<i64>)> = match producer {
        Direct::Postgres(p) => sqlx::query_as(sql)
            .bind(since)
            .fetch_all(p)
            .await
            .map_err(e)?,
        Direct::Sqlite { reader, .. } => sqlx::query_as(sql)
            .bind(since)
            .fetch_all(reader)
            .await
            .map_err(e)?,
    };
    let histogram =
        || Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).map_err(|e| e.to_string());
    let (mut lag, mut published) = (histogram()?, histogram()?);
    let mut written = HashMap::with_capacity(rows.len());
    for (id, created, at) in rows {
        // On the in-process bus the relay hands events over without
        // marking them published at once; only a mark counts here.
        if let Some(at) = at {
            let _ = published.record((at - created).max(1) as u64);
        }
        written.insert(id, created);
    }
    let applied = pairs(
        consumer,
        "SELECT event_id, processed_at FROM markaz_inbox WHERE consumer = 'capacity' AND processed_at >= $1",
        since,
    )
    .await?;
    for (id, at) in applied {
        if let Some(created) = written.get(&id) {
            let _ = lag.record((at - created).max(1) as u64);
        }
    }
    Ok((lag, published))
}
