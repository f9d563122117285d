//! Events: at-least-once delivery, exactly-once effects.
//!
//! * **Outbox.** [`Tx::publish`] writes the event into `markaz_outbox` in the
//!   transaction of the change that caused it: both commit, or neither.
//! * **Relay.** [`run_relay`] reads unpublished rows in `seq` order, publishes
//!   them, and marks a row only after the bus acknowledged it. It wakes when a
//!   commit wrote events and polls as a fallback, so a crash between commit
//!   and publish only delays an event: the next relay publishes it.
//! * **Inbox.** [`run_consumer`] applies each delivery in one transaction
//!   together with its `markaz_inbox` row; a redelivered event finds the row
//!   and is acknowledged without a second effect.
//! * **Dead letters.** A delivery that keeps failing is retried with back-off
//!   up to `max_deliver` times, then kept in `markaz_dead_letters` (and
//!   announced on the bus) for an operator to inspect and [`replay`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use markaz_proto::events::v1::Envelope;
use prost::Message;
use sqlx::{AssertSqlSafe, Executor, Row};
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, Delivery, Outgoing};
use crate::config::ConsumerConfig;
use crate::db::{Backend, Db, Tx};
use crate::error::{Error, Result};
use crate::telemetry::{self, ConsumedLabels, ConsumerLabels, Outcome, ServiceLabels};

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

/// A new envelope for `event`, written by `producer` about `tenant`'s data
/// now: a fresh UUIDv7 id, no trace context yet.
pub fn envelope<E: prost::Name>(producer: &str, tenant: &str, event: &E) -> Envelope {
    Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: E::full_name(),
        tenant_id: tenant.to_string(),
        producer: producer.to_string(),
        occurred_at: Some(crate::time::timestamp(crate::time::now_micros())),
        traceparent: String::new(),
        payload: event.encode_to_vec(),
    }
}

/// Decodes the payload of `envelope` as `E`, refusing a type mismatch.
pub fn payload<E: prost::Name + Default>(envelope: &Envelope) -> Result<E> {
    if envelope.r#type != E::full_name() {
        return Err(Error::invalid(
            "type",
            format!("expected {}, got {}", E::full_name(), envelope.r#type),
        ));
    }
    E::decode(envelope.payload.as_slice())
        .map_err(|e| Error::invalid("payload", format!("cannot decode {}: {e}", E::full_name())))
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
    let mut last_purge = std::time::Instant::now();
    let mut last_report = std::time::Instant::now() - Duration::from_secs(1);
    loop {
        match relay_once(&db, &bus).await {
            Ok(n) => {
                failures = 0;
                if n as i64 == RELAY_BATCH {
                    continue;
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(service = producer, error = %e, "relay round failed");
            }
        }
        // The backlog gauges are for dashboards: once a second is plenty,
        // and under load the relay comes round far more often than that.
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = std::time::Instant::now();
            report_backlog(&db).await;
        }
        if last_purge.elapsed() > Duration::from_secs(60) {
            last_purge = std::time::Instant::now();
            purge_published(&db).await;
        }
        let wait = if failures > 0 {
            Duration::from_millis(100 * 2u64.pow(failures.min(6)))
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

/// What a service does with the events it consumes. Each call runs inside
/// the transaction that also records the inbox row, scoped to the event's
/// tenant: commit both, or neither.
#[tonic::async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, tx: &mut Tx, envelope: &Envelope) -> Result<()>;
}

/// A consumer: a name (the consuming service) and what it does with events.
#[derive(Clone)]
pub struct Consumer {
    pub name: &'static str,
    pub handler: Arc<dyn Handler>,
}

/// Whether the event had an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    Duplicate,
}

/// Applies events of one tenant, in order, each exactly once: their inbox
/// rows and the handler's writes commit together, in one transaction.
pub async fn apply_all(
    db: &Db,
    consumer: &Consumer,
    tenant: &str,
    envelopes: &[&Envelope],
) -> Result<Vec<Applied>> {
    if tenant.is_empty() || envelopes.iter().any(|e| e.tenant_id != tenant) {
        return Err(Error::invalid(
            "tenant_id",
            "the event names no tenant, or another",
        ));
    }
    if let Some(bad) = envelopes
        .iter()
        .find(|e| uuid::Uuid::try_parse(&e.id).is_err())
    {
        return Err(Error::invalid(
            "id",
            format!("event id '{}' is not a UUID", bad.id),
        ));
    }
    let mut tx = db.write(tenant).await?;
    let mut outcomes = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        let inserted = sqlx::query(
            "INSERT INTO markaz_inbox (consumer, event_id, tenant_id, processed_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(consumer.name)
        .bind(&envelope.id)
        .bind(tenant)
        .bind(crate::time::now_micros())
        .execute(tx.conn())
        .await?
        .rows_affected();
        if inserted == 0 {
            outcomes.push(Applied::Duplicate);
            continue;
        }
        let span = tracing::info_span!(
            "event",
            consumer = consumer.name,
            event_type = %envelope.r#type,
            event_id = %envelope.id,
            tenant = %envelope.tenant_id,
            otel.kind = "consumer",
        );
        telemetry::enter_remote(
            &envelope.traceparent,
            span,
            consumer.handler.handle(&mut tx, envelope),
        )
        .await?;
        outcomes.push(Applied::Applied);
    }
    if envelopes.len() > 1 {
        // `processed_at` says when the effect commits: in a batch, that is
        // after the last handler, not when each inbox row was written. The
        // ids were checked to be UUIDs, so they are safe in the statement.
        let ids = envelopes
            .iter()
            .map(|e| format!("'{}'", e.id))
            .collect::<Vec<_>>()
            .join(",");
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE markaz_inbox SET processed_at = $1 WHERE consumer = $2 AND event_id IN ({ids})"
        )))
        .bind(crate::time::now_micros())
        .bind(consumer.name)
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Applies one event exactly once: the inbox row and the handler's writes
/// commit together.
pub async fn apply(db: &Db, consumer: &Consumer, envelope: &Envelope) -> Result<Applied> {
    let outcomes = apply_all(db, consumer, &envelope.tenant_id, &[envelope]).await?;
    Ok(outcomes[0])
}

/// Deliveries applied in one transaction at most. Under load the consumer
/// takes what has already arrived, so a busy consumer pays one commit for
/// many events; an idle one still applies each event as it comes.
const CONSUME_BATCH: usize = 64;

/// Delivers `producer`'s events to `consumer` until `shutdown`. The event in
/// hand is finished before the loop stops.
pub async fn run_consumer(
    tasks: &tokio_util::task::TaskTracker,
    db: Db,
    bus: Bus,
    consumer: Consumer,
    producer: &'static str,
    config: ConsumerConfig,
    shutdown: CancellationToken,
) -> Result<()> {
    let mut subscription = bus.subscribe(consumer.name, producer).await?;
    tasks.spawn(async move {
        use futures::FutureExt;
        loop {
            let first = tokio::select! {
                d = subscription.next() => match d {
                    Some(d) => d,
                    None => break,
                },
                _ = shutdown.cancelled() => break,
            };
            let mut batch = vec![first];
            while batch.len() < CONSUME_BATCH {
                match subscription.next().now_or_never() {
                    Some(Some(d)) => batch.push(d),
                    _ => break,
                }
            }
            // Handlers' panics are caught per event (`guarded`); should
            // anything else panic, the loop goes on and the events in hand,
            // not acknowledged, come again.
            let run =
                std::panic::AssertUnwindSafe(process_batch(&db, &bus, &consumer, &config, batch));
            if run.catch_unwind().await.is_err() {
                tracing::error!(
                    consumer = consumer.name,
                    "the consumer loop panicked; going on"
                );
                tokio::time::sleep(backoff(&config, 1)).await;
            }
        }
    });
    Ok(())
}

/// Applies a batch of deliveries: the events of each tenant together in one
/// transaction; if that fails, each of them alone, so that one bad event
/// gets its own retries and dead letter without holding the others back.
async fn process_batch(
    db: &Db,
    bus: &Bus,
    consumer: &Consumer,
    config: &ConsumerConfig,
    batch: Vec<Delivery>,
) {
    if batch.len() == 1 {
        for delivery in batch {
            process(db, bus, consumer, config, delivery).await;
        }
        return;
    }
    let mut groups: Vec<(String, Vec<(Delivery, Envelope)>)> = Vec::new();
    let mut alone = Vec::new();
    for delivery in batch {
        match Envelope::decode(delivery.payload.as_ref()) {
            Ok(e) if !e.tenant_id.is_empty() => {
                match groups.iter_mut().find(|(tenant, _)| *tenant == e.tenant_id) {
                    Some((_, items)) => items.push((delivery, e)),
                    None => groups.push((e.tenant_id.clone(), vec![(delivery, e)])),
                }
            }
            _ => alone.push(delivery),
        }
    }
    for delivery in alone {
        process(db, bus, consumer, config, delivery).await;
    }
    for (tenant, items) in groups {
        let envelopes: Vec<&Envelope> = items.iter().map(|(_, e)| e).collect();
        match guarded(apply_all(db, consumer, &tenant, &envelopes)).await {
            Ok(outcomes) => {
                for ((delivery, envelope), outcome) in items.into_iter().zip(outcomes) {
                    record(consumer, &envelope, outcome);
                    delivery.ack().await;
                }
            }
            Err(e) => {
                tracing::debug!(consumer = consumer.name, error = %e, "batch failed; applying its events one by one");
                for (delivery, _) in items {
                    process(db, bus, consumer, config, delivery).await;
                }
            }
        }
    }
}

/// Runs a handler's work; a panic becomes an error of the events in hand
/// (retried, then dead-lettered), not the end of the consumer.
async fn guarded<T>(work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(Error::internal("the event handler panicked")))
}

fn count(consumer: &Consumer, outcome: Outcome) {
    telemetry::metrics()
        .events_consumed
        .get_or_create(&ConsumedLabels {
            consumer: consumer.name.to_string(),
            outcome,
        })
        .inc();
}

/// Counts an event applied (with its lag from commit to effect) or found
/// a duplicate.
fn record(consumer: &Consumer, envelope: &Envelope, outcome: Applied) {
    if outcome == Applied::Duplicate {
        count(consumer, Outcome::duplicate);
        return;
    }
    if let Some(at) = &envelope.occurred_at {
        let lag = (crate::time::now_micros() - crate::time::micros_of(at)).max(0);
        telemetry::metrics()
            .event_lag
            .get_or_create(&ConsumerLabels {
                consumer: consumer.name.to_string(),
            })
            .observe(lag as f64 / 1e6);
    }
    count(consumer, Outcome::applied);
}

/// Applies one delivery alone, retrying with back-off or dead-lettering it
/// when it fails.
async fn process(
    db: &Db,
    bus: &Bus,
    consumer: &Consumer,
    config: &ConsumerConfig,
    delivery: Delivery,
) {
    let envelope = match Envelope::decode(delivery.payload.as_ref()) {
        Ok(e) => e,
        Err(e) => {
            // Not even an envelope: no retry can help.
            let why = format!("undecodable envelope: {e}");
            bury(db, bus, consumer, config, None, delivery, &why).await;
            return;
        }
    };
    match guarded(apply(db, consumer, &envelope)).await {
        Ok(outcome) => {
            record(consumer, &envelope, outcome);
            delivery.ack().await;
        }
        Err(e) => {
            let permanent = matches!(e, Error::InvalidArgument(_));
            if permanent || delivery.attempt >= config.max_deliver {
                tracing::error!(consumer = consumer.name, event_id = %envelope.id, error = %e, attempts = delivery.attempt, "event dead-lettered");
                bury(
                    db,
                    bus,
                    consumer,
                    config,
                    Some(&envelope),
                    delivery,
                    &e.to_string(),
                )
                .await;
            } else {
                let delay = backoff(config, delivery.attempt);
                tracing::warn!(consumer = consumer.name, event_id = %envelope.id, error = %e, attempt = delivery.attempt, ?delay, "event failed; will retry");
                telemetry::metrics()
                    .consumer_redeliveries
                    .get_or_create(&ConsumerLabels {
                        consumer: consumer.name.to_string(),
                    })
                    .inc();
                count(consumer, Outcome::retried);
                delivery.retry(delay).await;
            }
        }
    }
}

/// The delay before delivery `attempt + 1`.
pub fn backoff(config: &ConsumerConfig, attempt: u32) -> Duration {
    let i = (attempt.max(1) as usize - 1).min(config.backoff_ms.len().saturating_sub(1));
    Duration::from_millis(config.backoff_ms.get(i).copied().unwrap_or(1_000))
}

/// Keeps the delivery as a dead letter and acknowledges it — or, when the
/// dead letter cannot be stored (the database is often why retries ran out),
/// has it delivered again later: an event is never acknowledged without
/// being applied or kept.
async fn bury(
    db: &Db,
    bus: &Bus,
    consumer: &Consumer,
    config: &ConsumerConfig,
    envelope: Option<&Envelope>,
    delivery: Delivery,
    error: &str,
) {
    match dead_letter(
        db,
        bus,
        consumer,
        envelope,
        &delivery.payload,
        error,
        delivery.attempt,
    )
    .await
    {
        Ok(()) => {
            count(consumer, Outcome::dead_lettered);
            delivery.ack().await;
        }
        Err(e) => {
            tracing::error!(consumer = consumer.name, error = %e, "could not store a dead letter; the event comes again");
            let delay = backoff(config, delivery.attempt);
            delivery.retry(delay).await;
        }
    }
}

async fn dead_letter(
    db: &Db,
    bus: &Bus,
    consumer: &Consumer,
    envelope: Option<&Envelope>,
    raw: &Bytes,
    error: &str,
    attempts: u32,
) -> Result<()> {
    let (event_id, tenant, event_type, producer) = match envelope {
        Some(e) => (
            e.id.as_str(),
            e.tenant_id.as_str(),
            e.r#type.as_str(),
            e.producer.as_str(),
        ),
        None => ("", "", "", ""),
    };
    let stored = sqlx::query(
        "INSERT INTO markaz_dead_letters
           (consumer, event_id, tenant_id, event_type, producer, envelope, error, attempts, failed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(consumer.name)
    .bind(event_id)
    .bind(tenant)
    .bind(event_type)
    .bind(producer)
    .bind(raw.to_vec())
    .bind(error)
    .bind(i64::from(attempts))
    .bind(crate::time::now_micros())
    .execute(db.writer())
    .await;
    stored?;
    telemetry::metrics()
        .dead_letters
        .get_or_create(&ConsumerLabels {
            consumer: consumer.name.to_string(),
        })
        .inc();
    bus.announce_dead_letter(consumer.name, raw).await;
    Ok(())
}

/// A dead letter, as `markaz dlq list` shows it.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: i64,
    pub consumer: String,
    pub event_id: String,
    pub tenant_id: String,
    pub event_type: String,
    pub producer: String,
    pub error: String,
    pub attempts: i64,
    pub failed_at: i64,
    pub replayed_at: Option<i64>,
}

/// Dead letters of `db`'s service, newest first; replayed ones only when asked.
pub async fn dead_letters(db: &Db, include_replayed: bool) -> Result<Vec<DeadLetter>> {
    let rows = sqlx::query(
        "SELECT id, consumer, event_id, tenant_id, event_type, producer, error, attempts,
                failed_at, replayed_at
         FROM markaz_dead_letters WHERE ($1 = 1 OR replayed_at IS NULL) ORDER BY id DESC",
    )
    .bind(i64::from(include_replayed))
    .fetch_all(db.writer())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DeadLetter {
                id: r.try_get("id")?,
                consumer: r.try_get("consumer")?,
                event_id: r.try_get("event_id")?,
                tenant_id: r.try_get("tenant_id")?,
                event_type: r.try_get("event_type")?,
                producer: r.try_get("producer")?,
                error: r.try_get("error")?,
                attempts: r.try_get("attempts")?,
                failed_at: r.try_get("failed_at")?,
                replayed_at: r.try_get("replayed_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Error::from)
}

/// Applies dead letter `id` again (once the cause is fixed). The inbox still
/// guards against a second effect; on success the letter is marked replayed.
pub async fn replay(db: &Db, consumer: &Consumer, id: i64) -> Result<Applied> {
    let row = sqlx::query(
        "SELECT envelope, replayed_at FROM markaz_dead_letters WHERE id = $1 AND consumer = $2",
    )
    .bind(id)
    .bind(consumer.name)
    .fetch_optional(db.writer())
    .await?
    .ok_or_else(|| Error::not_found("dead letter", id.to_string()))?;
    if row.try_get::<Option<i64>, _>("replayed_at")?.is_some() {
        return Err(Error::precondition(
            "ALREADY_REPLAYED",
            id.to_string(),
            "this dead letter was replayed already",
        ));
    }
    let raw: Vec<u8> = row.try_get("envelope")?;
    let envelope = Envelope::decode(raw.as_slice())
        .map_err(|e| Error::invalid("envelope", format!("undecodable: {e}")))?;
    let applied = apply(db, consumer, &envelope).await?;
    sqlx::query("UPDATE markaz_dead_letters SET replayed_at = $1 WHERE id = $2")
        .bind(crate::time::now_micros())
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_list_then_repeats_its_last() {
        let c = ConsumerConfig {
            backoff_ms: vec![10, 20, 40],
            ..ConsumerConfig::default()
        };
        let delays: Vec<_> = (1..=5).map(|a| backoff(&c, a).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 40, 40]);
    }
}
