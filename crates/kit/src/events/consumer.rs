//! The consumer loop: from the bus to the inbox.
//!
//! It takes what has arrived (up to a batch), applies the events of each
//! tenant together in one transaction, and falls back to one at a time when
//! that fails, so that one bad event gets its own retries and dead letter
//! without holding the others back. After every failure it asks whose fault
//! it was:
//!
//! * **the database's** — its probe does not answer: the loop stops pulling,
//!   holds the events in hand (renewing them on NATS so they are not sent
//!   elsewhere or counted again), reports itself paused, waits with
//!   back-off until the database answers, and applies them then. Nothing
//!   counts toward the events' budget, however long the outage lasts;
//! * **the event's** — the database answers, yet the handler failed or
//!   panicked: one attempt of the event's budget is used and it comes again
//!   after a back-off; once `max_deliver` attempts are used up it is stored
//!   as a dead letter, then acknowledged.
//!
//! The budget is counted here, in memory, not by the bus: a restart gives a
//! failing event a fresh budget (often the restart is the fix), and the bus
//! has no bound of its own that could end an event's life behind the loop.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::FutureExt;
use markaz_proto::events::v1::Envelope;
use prost::Message;
use tokio_util::sync::CancellationToken;

use super::dead_letters::dead_letter;
use super::{Applied, Consumer, apply, apply_all};
use crate::bus::{Bus, Delivery, PendingCounter, Renewal, Subscription};
use crate::config::ConsumerConfig;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::health::Health;
use crate::telemetry::{self, ConsumedLabels, ConsumerLabels, ConsumerProducerLabels, Outcome};

/// Deliveries applied in one transaction at most. Under load the consumer
/// takes what has already arrived, so a busy consumer pays one commit for
/// many events; an idle one still applies each event as it comes.
const CONSUME_BATCH: usize = 64;

/// How long the database may take to answer the probe after a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest wait between two probes of a database that is down.
const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How often the bus's count of pending events is read for the gauge.
const PENDING_EVERY: Duration = Duration::from_secs(5);

/// Delivers `producer`'s events to `consumer` until `shutdown`. The events
/// in hand are finished (or, while the database is down, left to the bus)
/// before the loop stops.
#[allow(clippy::too_many_arguments)]
pub async fn run_consumer(
    tasks: &tokio_util::task::TaskTracker,
    db: Db,
    bus: Bus,
    consumer: Consumer,
    producer: &'static str,
    config: ConsumerConfig,
    health: Health,
    shutdown: CancellationToken,
) -> Result<()> {
    let subscription = bus.subscribe(consumer.name, producer).await?;
    if let Some(lost) = bus.watch_lost(consumer.name, producer).await? {
        tasks.spawn(super::dead_letters::keep_lost(
            db.clone(),
            bus.clone(),
            consumer.clone(),
            lost,
            shutdown.clone(),
        ));
    }
    let looped = Loop {
        db,
        bus,
        consumer,
        producer,
        config,
        health,
        failures: HashMap::new(),
    };
    if let Some(counter) = subscription.pending_counter() {
        tasks.spawn(report_pending(counter, looped.labels(), shutdown.clone()));
    }
    tasks.spawn(looped.run(subscription, shutdown));
    Ok(())
}

/// One consumer of one producer's events.
struct Loop {
    db: Db,
    bus: Bus,
    consumer: Consumer,
    producer: &'static str,
    config: ConsumerConfig,
    health: Health,
    /// Failed attempts of the events whose own fault it was (the database
    /// answered), by event id; an entry goes once its event is done with.
    /// At most the bus's unacknowledged window (`max_ack_pending`) of them.
    failures: HashMap<String, u32>,
}

impl Loop {
    async fn run(mut self, mut subscription: Subscription, shutdown: CancellationToken) {
        self.declare_series();
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
            let mut held = self.process_caught(batch).await;
            while !held.is_empty() {
                if !self.wait_for_database(&held, &shutdown).await {
                    // Stopping: the bus sends them again to whoever runs next.
                    return;
                }
                held = self.process_caught(held).await;
            }
        }
    }

    fn labels(&self) -> ConsumerProducerLabels {
        ConsumerProducerLabels {
            consumer: self.consumer.name.to_string(),
            producer: self.producer.to_string(),
        }
    }

    /// Every series of this consumer exists from its start, at 0: a
    /// dashboard shows it, and an alert on its first increase can fire.
    fn declare_series(&self) {
        let m = telemetry::metrics();
        let labels = self.labels();
        m.consumer_blocked.get_or_create(&labels).set(0);
        let _ = m.consumer_pending.get_or_create(&labels);
        let _ = m.consumer_ack_pending.get_or_create(&labels);
        let consumer = ConsumerLabels {
            consumer: self.consumer.name.to_string(),
        };
        let _ = m.dead_letters.get_or_create(&consumer);
        let _ = m.events_lost_by_bus.get_or_create(&consumer);
        let _ = m.consumer_redeliveries.get_or_create(&consumer);
    }

    async fn process_caught(&mut self, batch: Vec<Delivery>) -> Vec<Delivery> {
        // A slow batch must not outlive `ack_wait`: the bus would send its
        // events again, to this consumer or another replica.
        let renewals: Vec<Renewal> = batch.iter().filter_map(Delivery::renewal).collect();
        let ack_wait = self.bus.ack_wait();
        let run = std::panic::AssertUnwindSafe(self.process_batch(batch)).catch_unwind();
        let outcome = tokio::select! {
            outcome = run => outcome,
            never = keep_renewed(ack_wait, &renewals) => match never {},
        };
        match outcome {
            Ok(held) => held,
            Err(_) => {
                tracing::error!(
                    consumer = self.consumer.name,
                    "the consumer loop panicked; going on"
                );
                tokio::time::sleep(backoff(&self.config, 1)).await;
                Vec::new()
            }
        }
    }

    /// Applies a batch of deliveries: the events of each tenant together in
    /// one transaction; if that fails, each of them alone. Returns the
    /// deliveries an outage of the database stopped, to apply once it is back.
    async fn process_batch(&mut self, batch: Vec<Delivery>) -> Vec<Delivery> {
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
                // No tenant: refused by the inbox, and dead-lettered.
                Ok(e) => alone.push((delivery, Ok(e))),
                Err(e) => alone.push((delivery, Err(format!("undecodable envelope: {e}")))),
            }
        }
        let mut one_by_one = alone;
        for (tenant, items) in groups {
            if items.len() == 1 {
                one_by_one.extend(items.into_iter().map(|(d, e)| (d, Ok(e))));
                continue;
            }
            let envelopes: Vec<&Envelope> = items.iter().map(|(_, e)| e).collect();
            match guarded(apply_all(&self.db, &self.consumer, &tenant, &envelopes)).await {
                Ok(outcomes) => {
                    for ((delivery, envelope), outcome) in items.into_iter().zip(outcomes) {
                        self.done(&envelope, outcome);
                        delivery.ack().await;
                    }
                }
                Err(e) => {
                    tracing::debug!(consumer = self.consumer.name, error = %e, "batch failed; applying its events one by one");
                    one_by_one.extend(items.into_iter().map(|(d, e)| (d, Ok(e))));
                }
            }
        }
        let mut held = Vec::new();
        for (delivery, envelope) in one_by_one {
            if !held.is_empty() {
                // The database is down: no point trying the rest now.
                held.push(delivery);
                continue;
            }
            if let Some(stopped) = self.process(delivery, envelope).await {
                held.push(stopped);
            }
        }
        held
    }

    /// Applies one delivery alone. Returns it when an outage stopped it.
    async fn process(
        &mut self,
        delivery: Delivery,
        envelope: std::result::Result<Envelope, String>,
    ) -> Option<Delivery> {
        let envelope = match envelope {
            Ok(e) => e,
            // Not even an envelope: no retry can help.
            Err(why) => return self.bury(delivery, None, &why, 1).await,
        };
        let error = match guarded(apply(&self.db, &self.consumer, &envelope)).await {
            Ok(outcome) => {
                self.done(&envelope, outcome);
                delivery.ack().await;
                return None;
            }
            Err(e) => e,
        };
        if self.database_down().await {
            return Some(delivery);
        }
        if matches!(error, Error::InvalidArgument(_)) {
            // A malformed event: it would fail the same way every time.
            let why = error.to_string();
            return self.bury(delivery, Some(&envelope), &why, 1).await;
        }
        let attempts = {
            let n = self.failures.entry(envelope.id.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if attempts >= self.config.max_deliver {
            let why = error.to_string();
            return self.bury(delivery, Some(&envelope), &why, attempts).await;
        }
        let delay = backoff(&self.config, attempts);
        tracing::warn!(consumer = self.consumer.name, event_id = %envelope.id, event_type = %envelope.r#type, error = %error, attempt = attempts, ?delay, "event failed; will retry");
        telemetry::metrics()
            .consumer_redeliveries
            .get_or_create(&ConsumerLabels {
                consumer: self.consumer.name.to_string(),
            })
            .inc();
        self.count(Outcome::retried);
        delivery.retry(delay).await;
        None
    }

    /// Keeps the delivery as a dead letter and acknowledges it — or, when
    /// the dead letter cannot be stored, holds it (the database is down) or
    /// has it delivered again later: an event is never acknowledged without
    /// being applied or kept.
    async fn bury(
        &mut self,
        delivery: Delivery,
        envelope: Option<&Envelope>,
        error: &str,
        attempts: u32,
    ) -> Option<Delivery> {
        let stored = dead_letter(
            &self.db,
            &self.bus,
            &self.consumer,
            envelope,
            &delivery.payload,
            error,
            attempts,
        )
        .await;
        let event_id = envelope.map(|e| e.id.as_str()).unwrap_or("");
        match stored {
            Ok(()) => {
                tracing::error!(
                    consumer = self.consumer.name,
                    event_id,
                    error,
                    attempts,
                    "event dead-lettered"
                );
                self.failures.remove(event_id);
                self.count(Outcome::dead_lettered);
                delivery.ack().await;
                None
            }
            Err(_) if self.database_down().await => Some(delivery),
            Err(e) => {
                tracing::error!(consumer = self.consumer.name, event_id, error = %e, "could not store a dead letter; the event comes again");
                delivery.retry(backoff(&self.config, attempts)).await;
                None
            }
        }
    }

    /// Whether the consumer's database fails to answer right now.
    async fn database_down(&self) -> bool {
        self.db.probe(PROBE_TIMEOUT).await.is_err()
    }

    /// Holds `held` until the database answers again (`true`) or shutdown
    /// (`false`). Reported as a pause in health, metrics and the log: once
    /// when it starts, once a minute while it lasts, once when it ends.
    async fn wait_for_database(&self, held: &[Delivery], shutdown: &CancellationToken) -> bool {
        let (service, consumer) = (self.db.service(), self.consumer.name);
        self.health
            .consumer_blocked(service, consumer, self.producer, true);
        tracing::warn!(
            consumer,
            producer = self.producer,
            held = held.len(),
            "consumer paused: its database does not answer; holding the events until it does"
        );
        let started = Instant::now();
        let renewals: Vec<Renewal> = held.iter().filter_map(Delivery::renewal).collect();
        let recover = async {
            let mut delay = Duration::from_millis(50);
            let mut reminded = Instant::now();
            loop {
                tokio::time::sleep(delay).await;
                if !self.database_down().await {
                    return;
                }
                delay = (delay * 2).min(MAX_PROBE_INTERVAL);
                if reminded.elapsed() >= Duration::from_secs(60) {
                    reminded = Instant::now();
                    tracing::warn!(consumer, producer = self.producer, paused_for = ?started.elapsed(), "consumer still paused: its database does not answer");
                }
            }
        };
        let resumed = tokio::select! {
            never = keep_renewed(self.bus.ack_wait(), &renewals) => match never {},
            _ = recover => true,
            _ = shutdown.cancelled() => false,
        };
        self.health
            .consumer_blocked(service, consumer, self.producer, false);
        if resumed {
            tracing::info!(consumer, producer = self.producer, after = ?started.elapsed(), "consumer resumed: its database answers again");
        }
        resumed
    }

    /// An event done with: applied (with its lag from commit to effect) or
    /// found a duplicate.
    fn done(&mut self, envelope: &Envelope, outcome: Applied) {
        self.failures.remove(&envelope.id);
        match outcome {
            Applied::Duplicate => return self.count(Outcome::duplicate),
            Applied::Ignored => return self.count(Outcome::ignored),
            Applied::Applied => {}
        }
        if let Some(at) = &envelope.occurred_at {
            let lag = (crate::time::now_micros() - crate::time::micros_of(at)).max(0);
            telemetry::metrics()
                .event_lag
                .get_or_create(&ConsumerLabels {
                    consumer: self.consumer.name.to_string(),
                })
                .observe(lag as f64 / 1e6);
        }
        self.count(Outcome::applied);
    }

    fn count(&self, outcome: Outcome) {
        telemetry::metrics()
            .events_consumed
            .get_or_create(&ConsumedLabels {
                consumer: self.consumer.name.to_string(),
                outcome,
            })
            .inc();
    }
}

/// Keeps the gauges of the bus's backlog for one consumer: every
/// [`PENDING_EVERY`], in a task of its own. The answer comes from
/// JetStream's API, which under load can take tens of milliseconds; asked
/// from the consumer loop, every event arriving meanwhile waited for it.
async fn report_pending(
    counter: PendingCounter,
    labels: ConsumerProducerLabels,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(PENDING_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Some((pending, ack_pending)) = counter.pending().await {
            let m = telemetry::metrics();
            m.consumer_pending
                .get_or_create(&labels)
                .set(i64::try_from(pending).unwrap_or(i64::MAX));
            m.consumer_ack_pending
                .get_or_create(&labels)
                .set(i64::try_from(ack_pending).unwrap_or(i64::MAX));
        }
    }
}

/// Renews `renewals` well within `ack_wait` (a third of it), for as long
/// as it is polled, so the bus neither sends those events again nor counts
/// another delivery of them.
async fn keep_renewed(
    ack_wait: Option<Duration>,
    renewals: &[Renewal],
) -> std::convert::Infallible {
    let Some(wait) = ack_wait.filter(|_| !renewals.is_empty()) else {
        return std::future::pending().await;
    };
    let period = wait / 3;
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        every.tick().await;
        futures::future::join_all(renewals.iter().map(Renewal::renew)).await;
    }
}

/// Runs a handler's work; a panic becomes an error of the events in hand
/// (retried, then dead-lettered), not the end of the consumer.
async fn guarded<T>(work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(Error::internal("the event handler panicked")))
}

/// The delay before attempt `attempt + 1` of an event.
pub fn backoff(config: &ConsumerConfig, attempt: u32) -> Duration {
    let i = (attempt.max(1) as usize - 1).min(config.backoff_ms.len().saturating_sub(1));
    Duration::from_millis(config.backoff_ms.get(i).copied().unwrap_or(1_000))
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
