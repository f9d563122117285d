//! The outbox and its relay.
//!
//! [`Tx::publish`] writes the event into `markaz_outbox` in the transaction
//! of the change that caused it. [`run_relay`] reads unpublished rows in
//! `seq` order, publishes them, and marks a row only after the bus
//! acknowledged it. It wakes when a commit wrote events and polls as a
//! fallback, so a crash between commit and publish only delays an event:
//! the next relay publishes it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use markaz_proto::events::v1::Envelope;
use prost::Message;
use sqlx::{AssertSqlSafe, Executor, Row};
use tokio_util::sync::CancellationToken;

use super::envelope;
use crate::bus::{Bus, Outgoing};
use crate::config::ConsumerConfig;
use crate::db::{Backend, Db, Tx};
use crate::error::Result;
use crate::telemetry::{self, ServiceLabels};

impl Tx {
    /// Writes `event`, about the object `aggregate_id`, to the outbox of this
    /// transaction's service, for this transaction's tenant. It reaches the
    /// bus only if the transaction commits.
    pub async fn publish<E: prost::Name>(&mut self, aggregate_id: &str, event: &E) -> Result<()> {
        let mut envelope = envelope(self.db().service(), self.tenant(), event);
        envelope.traceparent = telemetry::current_traceparent();
        let tenant = envelope.tenant_id.clone();
        sqlx::query(
            "INSERT INTO markaz_outbox (event_id, tenant_id, aggregate_id, event_name, envelope, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&envelope.id)
        .bind(tenant)
        .bind(aggregate_id)
        .bind(E::NAME)
        .bind(envelope.encode_to_vec())
        .bind(crate::time::now_micros())
        .execute(self.conn())
        .await?;
        self.wrote_events = true;
        Ok(())
    }
}

impl Tx {
    /// Drops what the platform keeps about `aggregate_id` beyond the service's
    /// own tables — the copies of its published events kept in the outbox,
    /// and the stored results of its idempotent creates — when the object's
    /// personal data is erased. The request ids stay taken (a tombstone), so
    /// a late retry is refused rather than done a second time.
    pub async fn forget_aggregate(&mut self, aggregate_id: &str) -> Result<()> {
        let tenant = self.tenant().to_owned();
        sqlx::query(
            "UPDATE markaz_idempotency SET request_hash = $1, response = $2
             WHERE tenant_id = $3 AND resource_id = $4",
        )
        .bind(crate::rpc::ERASED_REQUEST)
        .bind(Vec::<u8>::new())
        .bind(&tenant)
        .bind(aggregate_id)
        .execute(self.conn())
        .await?;
        // Published copies go now; pending events are still published (the
        // consumers must see them, then the erasure) and lose their copy as
        // the relay marks them.
        sqlx::query(
            "UPDATE markaz_outbox
             SET forget = 1,
                 envelope = CASE WHEN published_at IS NULL THEN envelope ELSE $1 END
             WHERE tenant_id = $2 AND aggregate_id = $3",
        )
        .bind(Vec::<u8>::new())
        .bind(&tenant)
        .bind(aggregate_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

/// How long the relay waits, once woken by a commit, for more to join.
const RELAY_LINGER: Duration = Duration::from_millis(2);

/// How many outbox rows the relay publishes per round.
const RELAY_BATCH: i64 = 256;
/// Published rows are kept this long for inspection, then purged.
const OUTBOX_RETENTION_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Publishes `db`'s outbox to `bus` until `shutdown`, then drains what is left.
pub async fn run_relay(db: Db, bus: Bus, config: ConsumerConfig, shutdown: CancellationToken) {
    let producer = db.service();
    let poll = Duration::from_millis(config.relay_poll_ms.max(10));
    let mut failures = 0u32;
    // Since when, and last mentioned when, rounds have been failing: the
    // log says so once, then once a minute, then once when they succeed.
    let mut failing: Option<(Instant, Instant)> = None;
    let mut last_purge = Instant::now();
    let mut last_report = Instant::now() - Duration::from_secs(1);
    loop {
        match relay_once(&db, &bus).await {
            Ok(n) => {
                failures = 0;
                if let Some((since, _)) = failing.take() {
                    tracing::info!(service = producer, after = ?since.elapsed(), "relay publishing again");
                }
                if n as i64 == RELAY_BATCH {
                    continue;
                }
            }
            Err(e) => {
                failures += 1;
                match &mut failing {
                    None => {
                        tracing::warn!(service = producer, error = %e, "relay cannot publish; events wait in the outbox");
                        failing = Some((Instant::now(), Instant::now()));
                    }
                    Some((since, reminded)) if reminded.elapsed() >= Duration::from_secs(60) => {
                        *reminded = Instant::now();
                        tracing::warn!(service = producer, error = %e, failing_for = ?since.elapsed(), "relay still cannot publish");
                    }
                    Some(_) => {}
                }
            }
        }
        // The backlog gauges are for dashboards: once a second is plenty,
        // and under load the relay comes round far more often than that.
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            report_backlog(&db).await;
        }
        // On NATS the stream is the event history and the outbox only a
        // queue; on the in-process bus the outbox is the history
        // (`events::history`), so nothing published is purged.
        if last_purge.elapsed() > Duration::from_secs(60) && !bus.is_local() {
            last_purge = Instant::now();
            purge_published(&db).await;
        }
        // Back off while failing, but not so far that a bus back up waits
        // long for the relay to notice.
        let wait = if failures > 0 {
            Duration::from_millis(100 * 2u64.pow(failures.min(4)))
        } else {
            poll
        };
        tokio::select! {
            _ = db.outbox_written() => {
                // Let the commits of the next moment join this round: one
                // round (a transaction and a publish) carries many events
                // under load, for a millisecond or two of latency.
                tokio::time::sleep(RELAY_LINGER).await;
            }
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    // Draining: publish what committed before shutdown, while the bus is up.
    for _ in 0..16 {
        match relay_once(&db, &bus).await {
            Ok(n) if (n as i64) < RELAY_BATCH => break,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(service = producer, error = %e, "final relay round failed");
                break;
            }
        }
    }
}

/// One relay round: publishes up to a batch of pending rows in order and
/// marks those the bus acknowledged. Returns how many were published.
pub async fn relay_once(db: &Db, bus: &Bus) -> Result<usize> {
    // On PostgreSQL several replicas of a service may run a relay: the round
    // runs in a transaction holding an advisory lock, so one at a time
    // publishes and the order on the bus stays the outbox order. SQLite has a
    // single process, and its one writer connection must not wait on the bus.
    let mut leader = None;
    if db.backend() == Backend::Postgres {
        // The lock is taken with BEGIN, in one round trip; a second replica
        // waits for the first one's round to commit, then finds its rows
        // published.
        // Per schema: deployments (or test worlds) sharing a database do not
        // wait on each other's relays.
        let scope = db.schema().unwrap_or(db.service());
        leader = Some(db.system_locked(&format!("markaz-relay-{scope}")).await?);
    }
    let pending = sqlx::query(
        "SELECT seq, event_id, event_name, envelope FROM markaz_outbox
         WHERE published_at IS NULL ORDER BY seq LIMIT $1",
    )
    .bind(RELAY_BATCH);
    let rows = match leader.as_mut() {
        Some(tx) => pending.fetch_all(tx.conn()).await?,
        None => pending.fetch_all(db.reader()).await?,
    };
    if rows.is_empty() {
        return Ok(0);
    }
    let mut seqs = Vec::with_capacity(rows.len());
    let mut outgoing = Vec::with_capacity(rows.len());
    for row in &rows {
        let envelope: Vec<u8> = row.try_get("envelope")?;
        let traceparent = Envelope::decode(envelope.as_slice())
            .map(|e| e.traceparent)
            .unwrap_or_default();
        seqs.push(row.try_get::<i64, _>("seq")?);
        outgoing.push(Outgoing {
            event_id: row.try_get("event_id")?,
            event_name: row.try_get("event_name")?,
            traceparent,
            envelope: Bytes::from(envelope),
        });
    }
    let (acked, result) = bus.publish(db.service(), &outgoing).await;
    if acked > 0 {
        // Mark exactly the rows published: a row with a smaller seq that
        // committed late is still pending and goes out next round.
        let list = seqs[..acked]
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mark = sqlx::query(AssertSqlSafe(format!(
            "UPDATE markaz_outbox
             SET published_at = $1, envelope = CASE WHEN forget = 1 THEN $2 ELSE envelope END
             WHERE seq IN ({list})"
        )))
        .bind(crate::time::now_micros())
        .bind(Vec::<u8>::new());
        match leader {
            Some(mut tx) => {
                tx.conn().execute(mark).await?;
                tx.commit().await?;
            }
            None => {
                db.writer().execute(mark).await?;
            }
        }
        telemetry::metrics()
            .events_published
            .get_or_create(&ServiceLabels {
                service: db.service(),
            })
            .inc_by(acked as u64);
    }
    result.map(|_| acked)
}

async fn report_backlog(db: &Db) {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM markaz_outbox WHERE published_at IS NULL",
    )
    .fetch_one(db.reader())
    .await;
    if let Ok(row) = row {
        let n: i64 = row.try_get("n").unwrap_or(0);
        let oldest: Option<i64> = row.try_get("oldest").unwrap_or(None);
        let m = telemetry::metrics();
        let labels = ServiceLabels {
            service: db.service(),
        };
        m.outbox_backlog.get_or_create(&labels).set(n);
        let age = oldest
            .map(|o| (crate::time::now_micros() - o).max(0) as f64 / 1e6)
            .unwrap_or(0.0);
        m.outbox_oldest_age_seconds.get_or_create(&labels).set(age);
    }
}

async fn purge_published(db: &Db) {
    let cutoff = crate::time::now_micros() - OUTBOX_RETENTION_MICROS;
    if let Err(e) = sqlx::query(
        "DELETE FROM markaz_outbox WHERE published_at IS NOT NULL AND published_at < $1",
    )
    .bind(cutoff)
    .execute(db.writer())
    .await
    {
        tracing::warn!(error = %e, "outbox purge failed");
    }
}
