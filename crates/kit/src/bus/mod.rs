//! The event bus behind the outbox relay and the consumers, in two adapters:
//!
//! * [`Bus::Nats`] — NATS JetStream. One stream per producer
//!   (`<NS>_<PRODUCER>`, subjects `<ns>.evt.<producer>.>`, file storage, a
//!   duplicate window keyed on `Nats-Msg-Id` = event id), durable pull
//!   consumers named `<consumer>--<producer>` with explicit ack. Streams and
//!   consumers are created idempotently at start.
//!
//!   The server never gives up on an event: consumers have no server-side
//!   `max_deliver`, because only the consumer loop may end an event's life,
//!   by applying it or by keeping it as a dead letter (see
//!   [`crate::events`]). Should a consumer still be bounded on the server
//!   (an operator's edit), JetStream's max-deliveries advisories are kept in
//!   a stream per producer (`<NS>_<PRODUCER>_LOST`) and each becomes a dead
//!   letter ([`Bus::watch_lost`]).
//! * [`Bus::Local`] — in-process, for `markaz dev`. The relay hands each
//!   outbox row to every subscribed consumer and counts the row as published
//!   only once every consumer has applied it (or dead-lettered it), so a crash
//!   loses nothing here either: the rows are still in the outbox at restart.
//!
//! Both give the consumer loop the same [`Delivery`], so the retry, inbox and
//! dead-letter logic in [`crate::events`] is written once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::error::{Error, Result};

mod rewind;
pub use rewind::Rewound;

/// How often the client pings its NATS server; three unanswered pings and
/// it moves to another server of the cluster.
const PING_INTERVAL: Duration = Duration::from_secs(1);

/// How long a publish waits for the stream's acknowledgement before the
/// relay sends it again.
const PUBLISH_ACK_TIMEOUT: Duration = Duration::from_secs(3);

/// Deliveries asked of the server per pull request: what a consumer holds
/// in memory beyond the batch in hand, and what comes back after
/// `ack_wait` if it dies with them.
const PULL_BATCH: usize = 64;

/// One outbox row on its way to the bus.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub event_id: String,
    pub event_name: String,
    pub traceparent: String,
    pub envelope: Bytes,
}

/// Deletes every stream of bus namespace `namespace` from the NATS at
/// `url`: what a test world, or a test's own `markaz serve` on a shared
/// server, leaves behind. Best effort: a NATS that is gone has nothing
/// left to clean.
pub async fn delete_streams(url: &str, namespace: &str) {
    let Ok(client) = async_nats::connect(url).await else {
        return;
    };
    let js = async_nats::jetstream::new(client);
    let prefix = format!("{}_", namespace.to_ascii_uppercase());
    let names: Vec<String> = js
        .stream_names()
        .filter_map(|n| async move { n.ok() })
        .collect()
        .await;
    for name in names.into_iter().filter(|n| n.starts_with(&prefix)) {
        let _ = js.delete_stream(&name).await;
    }
}

#[derive(Clone)]
pub enum Bus {
    Local(Arc<LocalBus>),
    Nats(Arc<NatsBus>),
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bus::Local(_) => f.write_str("Bus::Local"),
            Bus::Nats(n) => write!(f, "Bus::Nats({})", n.namespace),
        }
    }
}

impl Bus {
    pub fn local() -> Bus {
        Bus::Local(Arc::new(LocalBus::default()))
    }

    /// Connects to NATS at `url` — one server, or a cluster's servers
    /// separated by commas — with the bus settings of `config`.
    pub async fn nats(url: &str, config: &Config) -> Result<Bus> {
        let servers: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let client = async_nats::ConnectOptions::new()
            .name("markaz")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            // A server that stops answering without closing the connection
            // (paused, partitioned) is given up after three missed pings:
            // with the client's default of a minute, a consumer on it would
            // stand still for three minutes before moving to another node.
            .ping_interval(PING_INTERVAL)
            .connect(servers)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to NATS at {url}: {e}")))?;
        // Fail fast at start when the server is not there, rather than
        // retrying in the background while health reports SERVING.
        tokio::time::timeout(Duration::from_secs(10), client.flush())
            .await
            .map_err(|_| Error::Unavailable(format!("NATS at {url} does not answer")))?
            .map_err(|e| Error::Unavailable(format!("NATS at {url}: {e}")))?;
        // A publish whose acknowledgement does not come within this is sent
        // again (the stream drops the duplicate by its message id): when a
        // stream's leader dies with the publish in hand, the client's default
        // of 30 s would hold the outbox that long.
        let js = async_nats::jetstream::ContextBuilder::new()
            .ack_timeout(PUBLISH_ACK_TIMEOUT)
            .build(client.clone());
        Ok(Bus::Nats(Arc::new(NatsBus {
            client,
            js,
            namespace: config.bus_namespace.clone(),
            ack_wait: Duration::from_millis(config.consumer.ack_wait_ms.max(1_000)),
            history: Duration::from_secs(config.consumer.history_days * 24 * 3600),
            replicas: config.bus_replicas.max(1),
        })))
    }

    /// The in-process bus of `markaz dev`.
    pub fn is_local(&self) -> bool {
        matches!(self, Bus::Local(_))
    }

    /// Whether the bus is reachable now (the in-process bus always is).
    pub fn is_connected(&self) -> bool {
        match self {
            Bus::Local(_) => true,
            Bus::Nats(n) => n.client.connection_state() == async_nats::connection::State::Connected,
        }
    }

    /// How long a delivery may stay unacknowledged before the bus sends it
    /// again (NATS `ack_wait`); the consumer extends it for events it holds.
    pub fn ack_wait(&self) -> Option<Duration> {
        match self {
            Bus::Local(_) => None,
            Bus::Nats(n) => Some(n.ack_wait),
        }
    }

    /// Prepares what `producer` publishes to (its stream), idempotently.
    pub async fn ensure_producer(&self, producer: &str) -> Result<()> {
        match self {
            Bus::Local(_) => Ok(()),
            Bus::Nats(n) => n.ensure_stream(producer).await,
        }
    }

    /// Publishes `events` in order. Returns how many, from the first, the bus
    /// acknowledged; a partial count comes with the error that stopped it.
    pub async fn publish(&self, producer: &str, events: &[Outgoing]) -> (usize, Result<()>) {
        match self {
            Bus::Local(l) => l.publish(producer, events).await,
            Bus::Nats(n) => n.publish(producer, events).await,
        }
    }

    /// Lines the streams up with databases restored to `to` (microseconds
    /// since the epoch): see [`rewind`]. The in-process bus keeps nothing
    /// between runs: there is nothing to line up.
    pub async fn rewind(&self, to: i64, margin: Duration, dry_run: bool) -> Result<Vec<Rewound>> {
        match self {
            Bus::Local(_) => Err(Error::precondition(
                "NO_STREAMS",
                "bus",
                "the in-process bus keeps no events between runs: nothing to rewind",
            )),
            Bus::Nats(n) => n.rewind(to, margin, dry_run).await,
        }
    }

    /// A durable subscription of `consumer` to everything `producer` publishes.
    pub async fn subscribe(&self, consumer: &str, producer: &str) -> Result<Subscription> {
        match self {
            Bus::Local(l) => Ok(l.subscribe(consumer, producer)),
            Bus::Nats(n) => n.subscribe(consumer, producer).await,
        }
    }

    /// The events of `producer` the bus stopped delivering to `consumer`
    /// (never on the in-process bus, which has no server-side bound: an
    /// event stays in the outbox until every consumer applied or kept it).
    pub async fn watch_lost(&self, consumer: &str, producer: &str) -> Result<Option<LostEvents>> {
        match self {
            Bus::Local(_) => Ok(None),
            Bus::Nats(n) => n.watch_lost(consumer, producer).await.map(Some),
        }
    }

    /// Tells operators about a dead letter: a message on
    /// `<ns>.dlq.<consumer>` (kept in the `<NS>_DLQ` stream). The dead letter
    /// itself is kept in the consumer's database, where it can be replayed.
    pub async fn announce_dead_letter(&self, consumer: &str, envelope: &Bytes) {
        if let Bus::Nats(n) = self {
            n.announce_dead_letter(consumer, envelope).await
        }
    }

    /// Replaces every message `producer` published for `tenant` that
    /// mentions the person `matcher` finds by a scrubbed copy, and deletes
    /// the announcements of `producer`'s dead letters that do. Nothing on
    /// the in-process bus, which keeps no message beyond the outbox.
    pub async fn scrub_stream(
        &self,
        producer: &str,
        tenant: &str,
        erasure_id: &str,
        matcher: &crate::erasure::Matcher,
    ) -> Result<crate::erasure::Scrubbed> {
        match self {
            Bus::Local(_) => Ok(crate::erasure::Scrubbed::default()),
            Bus::Nats(n) => n.scrub(producer, tenant, erasure_id, matcher).await,
        }
    }

    pub async fn close(&self) {
        if let Bus::Nats(n) = self {
            let _ = n.client.drain().await;
        }
    }
}

/// Messages for one consumer from one producer.
pub enum Subscription {
    Local(
        mpsc::UnboundedReceiver<LocalMessage>,
        mpsc::UnboundedSender<LocalMessage>,
    ),
    Nats(Box<NatsSubscription>),
}

pub struct NatsSubscription {
    messages: async_nats::jetstream::consumer::pull::Stream,
    consumer: async_nats::jetstream::consumer::PullConsumer,
    name: String,
    /// Pulling fails (the connection is down): logged once, not per retry.
    failing: bool,
}

impl Subscription {
    /// The next delivery; `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<Delivery> {
        match self {
            Subscription::Local(rx, requeue) => rx.recv().await.map(|m| Delivery {
                payload: m.envelope.clone(),
                acker: Acker::Local(m, requeue.clone()),
            }),
            Subscription::Nats(sub) => loop {
                match sub.messages.next().await? {
                    Ok(msg) => {
                        if std::mem::take(&mut sub.failing) {
                            tracing::info!(consumer = %sub.name, "pulling events again");
                        }
                        return Some(Delivery {
                            payload: msg.payload.clone(),
                            acker: Acker::Nats(Box::new(msg)),
                        });
                    }
                    Err(e) => {
                        if !std::mem::replace(&mut sub.failing, true) {
                            tracing::warn!(consumer = %sub.name, error = %e, "pulling events failed; retrying until the bus answers");
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            },
        }
    }

    /// What reads the bus's count of this consumer's unacknowledged events
    /// (`None` on the in-process bus, whose backlog is the producer's outbox).
    pub fn pending_counter(&self) -> Option<PendingCounter> {
        match self {
            Subscription::Local(..) => None,
            Subscription::Nats(sub) => Some(PendingCounter(sub.consumer.clone())),
        }
    }
}

/// Reads a NATS consumer's backlog: (not yet delivered, delivered and not
/// yet acknowledged), as JetStream counts them.
pub struct PendingCounter(async_nats::jetstream::consumer::PullConsumer);

impl PendingCounter {
    pub async fn pending(&self) -> Option<(u64, u64)> {
        let info = self.0.get_info().await.ok()?;
        Some((info.num_pending, info.num_ack_pending as u64))
    }
}

/// One delivery of one event to one consumer.
pub struct Delivery {
    pub payload: Bytes,
    acker: Acker,
}

enum Acker {
    Local(LocalMessage, mpsc::UnboundedSender<LocalMessage>),
    Nats(Box<async_nats::jetstream::Message>),
}

impl Delivery {
    /// The event is done with (applied, a duplicate, or dead-lettered).
    pub async fn ack(self) {
        match self.acker {
            Acker::Local(m, _) => {
                let _ = m.done.send(());
            }
            Acker::Nats(msg) => {
                if let Err(e) = msg.ack().await {
                    tracing::debug!(error = %e, "ack failed; the event will come again");
                }
            }
        }
    }

    /// Deliver the event again after `delay`.
    pub async fn retry(self, delay: Duration) {
        match self.acker {
            Acker::Local(m, requeue) => {
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    // Closed only at shutdown; the relay then publishes again.
                    let _ = requeue.send(m);
                });
            }
            Acker::Nats(msg) => {
                let nak = async_nats::jetstream::AckKind::Nak(Some(delay));
                if let Err(e) = msg.ack_with(nak).await {
                    tracing::debug!(error = %e, "nak failed; the event comes again after ack_wait");
                }
            }
        }
    }

    /// What tells the bus, while the consumer still holds this event, not
    /// to send it again yet (`None` on the in-process bus, which never
    /// does). Independent of the delivery, so it can be renewed while the
    /// delivery itself is being worked on.
    pub fn renewal(&self) -> Option<Renewal> {
        match &self.acker {
            Acker::Local(..) => None,
            Acker::Nats(msg) => Some(Renewal((**msg).clone())),
        }
    }
}

/// Renews a NATS delivery: "work in progress", which restarts its `ack_wait`.
pub struct Renewal(async_nats::jetstream::Message);

impl Renewal {
    pub async fn renew(&self) {
        let _ = self
            .0
            .ack_with(async_nats::jetstream::AckKind::Progress)
            .await;
    }
}

/// Events the bus gave up on, for one consumer of one producer.
pub struct LostEvents {
    messages: async_nats::jetstream::consumer::pull::Stream,
    stream: async_nats::jetstream::stream::Stream,
}

/// An event the bus stopped delivering.
pub struct LostEvent {
    /// Its position in the producer's stream.
    pub stream_sequence: u64,
    /// How often it was delivered before the bus gave up.
    pub deliveries: u64,
    /// The event as it was published, if the stream still holds it.
    pub envelope: Option<Bytes>,
    advisory: async_nats::jetstream::Message,
}

impl LostEvents {
    /// The next lost event; `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<LostEvent> {
        loop {
            let advisory = match self.messages.next().await? {
                Ok(m) => m,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            #[derive(serde::Deserialize)]
            struct MaxDeliveries {
                stream_seq: u64,
                deliveries: u64,
            }
            let Ok(seen) = serde_json::from_slice::<MaxDeliveries>(&advisory.payload) else {
                // Not an advisory this watch understands: nothing to keep.
                let _ = advisory.ack().await;
                continue;
            };
            let envelope = self
                .stream
                .get_raw_message(seen.stream_seq)
                .await
                .ok()
                .map(|m| m.payload);
            return Some(LostEvent {
                stream_sequence: seen.stream_seq,
                deliveries: seen.deliveries,
                envelope,
                advisory,
            });
        }
    }
}

impl LostEvent {
    /// The loss is recorded (as a dead letter): the advisory is done with.
    pub async fn ack(self) {
        let _ = self.advisory.ack().await;
    }
}

/// The in-process bus.
#[derive(Default)]
pub struct LocalBus {
    subscribers: Mutex<HashMap<String, Vec<mpsc::UnboundedSender<LocalMessage>>>>,
}

/// An event in the in-process bus, with the channel its consumer answers on.
pub struct LocalMessage {
    envelope: Bytes,
    done: oneshot::Sender<()>,
}

impl LocalBus {
    fn subscribe(&self, _consumer: &str, producer: &str) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers
            .lock()
            .expect("subscribers lock")
            .entry(producer.to_string())
            .or_default()
            .push(tx.clone());
        Subscription::Local(rx, tx)
    }

    async fn publish(&self, producer: &str, events: &[Outgoing]) -> (usize, Result<()>) {
        let subscribers: Vec<_> = self
            .subscribers
            .lock()
            .expect("subscribers lock")
            .get(producer)
            .cloned()
            .unwrap_or_default();
        // Hand every event to every consumer first, then wait: consumers work
        // in parallel and each sees the events in outbox order.
        let mut pending = Vec::with_capacity(events.len());
        for event in events {
            let mut answers = Vec::with_capacity(subscribers.len());
            for sub in &subscribers {
                let (done, answer) = oneshot::channel();
                let message = LocalMessage {
                    envelope: event.envelope.clone(),
                    done,
                };
                if sub.send(message).is_err() {
                    return (0, Err(Error::Unavailable("a consumer has stopped".into())));
                }
                answers.push(answer);
            }
            pending.push(answers);
        }
        let mut acked = 0;
        for answers in pending {
            for answer in answers {
                if answer.await.is_err() {
                    return (
                        acked,
                        Err(Error::Unavailable(
                            "a consumer stopped before applying".into(),
                        )),
                    );
                }
            }
            acked += 1;
        }
        (acked, Ok(()))
    }
}

/// NATS JetStream.
pub struct NatsBus {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    namespace: String,
    ack_wait: Duration,
    /// How long a producer's stream keeps an event (zero: forever).
    history: Duration,
    /// Copies the cluster keeps of each stream (and so of its consumers).
    replicas: usize,
}

impl NatsBus {
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.js
    }

    pub fn stream_name(&self, producer: &str) -> String {
        format!(
            "{}_{}",
            self.namespace.to_ascii_uppercase(),
            producer.to_ascii_uppercase()
        )
    }

    pub fn subject(&self, producer: &str, event_name: &str) -> String {
        format!("{}.evt.{producer}.{event_name}", self.namespace)
    }

    async fn ensure_stream(&self, producer: &str) -> Result<()> {
        use async_nats::jetstream::stream;
        self.js
            .get_or_create_stream(stream::Config {
                name: self.stream_name(producer),
                subjects: vec![format!("{}.evt.{producer}.>", self.namespace)],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                duplicate_window: Duration::from_secs(120),
                // The event history: kept whole unless configured otherwise.
                max_age: self.history,
                num_replicas: self.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Unavailable(format!("creating stream for {producer}: {e}")))?;
        Ok(())
    }

    async fn ensure_dlq_stream(&self) -> Result<()> {
        use async_nats::jetstream::stream;
        self.js
            .get_or_create_stream(stream::Config {
                name: format!("{}_DLQ", self.namespace.to_ascii_uppercase()),
                subjects: vec![format!("{}.dlq.>", self.namespace)],
                storage: stream::StorageType::File,
                max_age: Duration::from_secs(30 * 24 * 3600),
                num_replicas: self.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Unavailable(format!("creating the dead-letter stream: {e}")))?;
        Ok(())
    }

    async fn publish(&self, producer: &str, events: &[Outgoing]) -> (usize, Result<()>) {
        use async_nats::jetstream::message::PublishMessage as Publish;
        // Send the whole batch, then collect the acks in order: one round
        // trip for the batch instead of one per event.
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            let mut message = Publish::build()
                .payload(event.envelope.clone())
                .message_id(&event.event_id);
            if !event.traceparent.is_empty() {
                message = message.header("traceparent", event.traceparent.as_str());
            }
            match self
                .js
                .send_publish(self.subject(producer, &event.event_name), message)
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    return (
                        count_acked(acks).await,
                        Err(Error::Unavailable(format!("publish: {e}"))),
                    );
                }
            }
        }
        let total = acks.len();
        let acked = count_acked(acks).await;
        if acked == total {
            (acked, Ok(()))
        } else {
            (
                acked,
                Err(Error::Unavailable(
                    "the stream did not acknowledge every event".into(),
                )),
            )
        }
    }

    async fn subscribe(&self, consumer: &str, producer: &str) -> Result<Subscription> {
        use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
        self.ensure_stream(producer).await?;
        self.ensure_dlq_stream().await?;
        let stream = self
            .js
            .get_stream(self.stream_name(producer))
            .await
            .map_err(|e| Error::Unavailable(format!("stream of {producer}: {e}")))?;
        let durable = format!("{consumer}--{producer}");
        // A new consumer reads the whole stream; an existing one keeps its
        // starting point (set by `markaz bus rewind`, say), which the server
        // would refuse to change.
        let deliver_policy = match stream.get_consumer::<pull::Config>(&durable).await {
            Ok(existing) => existing.cached_info().config.deliver_policy,
            Err(_) => DeliverPolicy::All,
        };
        let config = pull::Config {
            durable_name: Some(durable.clone()),
            filter_subject: format!("{}.evt.{producer}.>", self.namespace),
            ack_policy: AckPolicy::Explicit,
            deliver_policy,
            // Short, so that the events a crashed consumer held come back
            // within seconds of its restart; the loop extends it ("work in
            // progress") for the events it holds longer.
            ack_wait: self.ack_wait,
            // Unbounded: the server must never be what ends an event's
            // life. The consumer loop counts the failures that are the
            // event's own and dead-letters it; an outage of its database
            // counts for nothing.
            max_deliver: -1,
            max_ack_pending: 1_000,
            ..Default::default()
        };
        // Create, or bring an existing durable consumer to this
        // configuration (an old bound on deliveries must not stay on the
        // server). Should the server refuse the change, the consumer as it
        // is still serves, and the lost-event watch catches what it drops.
        let consumer = match stream.create_consumer(config).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(consumer = %durable, error = %e, "consumer configuration not updated");
                stream
                    .get_consumer::<pull::Config>(&durable)
                    .await
                    .map_err(|e| Error::Unavailable(format!("consumer {durable}: {e}")))?
            }
        };
        let messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH)
            // A pull request lasts this long; the heartbeat within it tells a
            // dead connection from a quiet stream in seconds, so a consumer
            // cut off from the bus resumes promptly once it is back.
            .expires(Duration::from_secs(10))
            .heartbeat(Duration::from_secs(3))
            .messages()
            .await
            .map_err(|e| Error::Unavailable(format!("consumer {durable}: {e}")))?;
        Ok(Subscription::Nats(Box::new(NatsSubscription {
            messages,
            consumer,
            name: durable,
            failing: false,
        })))
    }

    /// The subject JetStream announces, for `durable` on `stream`, that it
    /// stopped delivering an event.
    fn max_deliveries_subject(stream: &str, durable: &str) -> String {
        format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{durable}")
    }

    async fn watch_lost(&self, consumer: &str, producer: &str) -> Result<LostEvents> {
        use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
        use async_nats::jetstream::stream;
        let producer_stream = self.stream_name(producer);
        let fail = |e: &dyn std::fmt::Display| {
            Error::Unavailable(format!("lost-event watch of {producer}: {e}"))
        };
        // The advisories are plain NATS messages, gone if nobody listens at
        // that moment: a stream keeps them until a consumer recorded them.
        let lost = self
            .js
            .get_or_create_stream(stream::Config {
                name: format!("{producer_stream}_LOST"),
                subjects: vec![Self::max_deliveries_subject(&producer_stream, "*")],
                storage: stream::StorageType::File,
                max_age: Duration::from_secs(30 * 24 * 3600),
                num_replicas: self.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| fail(&e))?;
        let durable = format!("{consumer}--{producer}");
        let watcher = lost
            .create_consumer(pull::Config {
                durable_name: Some(format!("{durable}--lost")),
                filter_subject: Self::max_deliveries_subject(&producer_stream, &durable),
                ack_policy: AckPolicy::Explicit,
                deliver_policy: DeliverPolicy::All,
                ack_wait: Duration::from_secs(30),
                max_deliver: -1,
                ..Default::default()
            })
            .await
            .map_err(|e| fail(&e))?;
        let messages = watcher.messages().await.map_err(|e| fail(&e))?;
        let stream = self
            .js
            .get_stream(&producer_stream)
            .await
            .map_err(|e| fail(&e))?;
        Ok(LostEvents { messages, stream })
    }

    async fn scrub(
        &self,
        producer: &str,
        tenant: &str,
        erasure_id: &str,
        matcher: &crate::erasure::Matcher,
    ) -> Result<crate::erasure::Scrubbed> {
        use crate::erasure::wire::{mentions_anywhere, scrub_envelope, tenant_of};
        let mut done = crate::erasure::Scrubbed::default();
        let events = self
            .read_all(
                &self.stream_name(producer),
                &format!("{}.evt.{producer}.>", self.namespace),
            )
            .await?;
        for (sequence, subject, payload) in events {
            if tenant_of(&payload).as_deref() != Some(tenant) {
                continue;
            }
            let Some(scrubbed) = scrub_envelope(&payload, matcher) else {
                continue;
            };
            // The copy first, then the original: a crash in between leaves
            // the event twice (consumers' inboxes drop the second), never
            // not at all. Its own message id, or the duplicate window would
            // take it for the original.
            use async_nats::jetstream::message::PublishMessage as Publish;
            let copy = Publish::build()
                .payload(scrubbed.into())
                .message_id(format!("{sequence}.{erasure_id}"));
            self.js
                .send_publish(subject, copy)
                .await
                .map_err(|e| Error::Unavailable(format!("republishing a scrubbed event: {e}")))?
                .await
                .map_err(|e| Error::Unavailable(format!("republishing a scrubbed event: {e}")))?;
            self.delete(&self.stream_name(producer), sequence).await?;
            done.messages += 1;
        }
        let dlq = format!("{}_DLQ", self.namespace.to_ascii_uppercase());
        if self.js.get_stream(&dlq).await.is_ok() {
            let letters = self
                .read_all(&dlq, &format!("{}.dlq.{producer}", self.namespace))
                .await?;
            for (sequence, _, payload) in letters {
                if tenant_of(&payload).as_deref() == Some(tenant)
                    && mentions_anywhere(&payload, matcher)
                {
                    self.delete(&dlq, sequence).await?;
                    done.dead_letters += 1;
                }
            }
        }
        Ok(done)
    }

    /// Every message of `stream` on `subject` there is now: (sequence,
    /// subject, payload).
    async fn read_all(&self, stream: &str, subject: &str) -> Result<Vec<(u64, String, Bytes)>> {
        use async_nats::jetstream::consumer::{DeliverPolicy, pull};
        let unavailable = |e: String| Error::Unavailable(format!("reading stream {stream}: {e}"));
        let handle = match self.js.get_stream(stream).await {
            Ok(s) => s,
            // Nothing published yet: nothing to read.
            Err(_) => return Ok(Vec::new()),
        };
        let info = handle
            .get_info()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let last = info.state.last_sequence;
        let mut out = Vec::new();
        if info.state.messages == 0 {
            return Ok(out);
        }
        let consumer = handle
            .create_consumer(pull::OrderedConfig {
                filter_subject: subject.to_string(),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        loop {
            // The stream holds nothing more of `subject` up to `last` once
            // the consumer has nothing to give for a moment.
            let next = tokio::time::timeout(Duration::from_secs(2), messages.next()).await;
            let Ok(Some(message)) = next else { break };
            let message = message.map_err(|e| unavailable(e.to_string()))?;
            let sequence = message
                .info()
                .map_err(|e| unavailable(e.to_string()))?
                .stream_sequence;
            if sequence > last {
                break;
            }
            out.push((
                sequence,
                message.subject.to_string(),
                message.payload.clone(),
            ));
            if sequence == last {
                break;
            }
        }
        Ok(out)
    }

    /// Up to `limit` of `producer`'s events after stream sequence `after`,
    /// in order: (sequence, envelope bytes).
    pub async fn history_page(
        &self,
        producer: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Bytes)>> {
        use async_nats::jetstream::consumer::{DeliverPolicy, pull};
        let stream = self.stream_name(producer);
        let unavailable = |e: String| Error::Unavailable(format!("reading stream {stream}: {e}"));
        let handle = match self.js.get_stream(&stream).await {
            Ok(s) => s,
            Err(_) => return Ok(Vec::new()),
        };
        let info = handle
            .get_info()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let last = info.state.last_sequence;
        if info.state.messages == 0 || after >= last {
            return Ok(Vec::new());
        }
        let consumer = handle
            .create_consumer(pull::OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: after + 1,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut out = Vec::new();
        while out.len() < limit {
            let next = tokio::time::timeout(Duration::from_secs(2), messages.next()).await;
            let Ok(Some(message)) = next else { break };
            let message = message.map_err(|e| unavailable(e.to_string()))?;
            let sequence = message
                .info()
                .map_err(|e| unavailable(e.to_string()))?
                .stream_sequence;
            if sequence > last {
                break;
            }
            out.push((sequence, message.payload.clone()));
            if sequence == last {
                break;
            }
        }
        Ok(out)
    }

    /// Why `producer`'s stream may not hold every event it was sent, or
    /// `None` when it does: it keeps events for ever (messages go only
    /// when an erasure replaces them by a scrubbed copy), or none has aged
    /// out yet (its first message is the first ever published).
    pub async fn history_gap(&self, producer: &str) -> Result<Option<String>> {
        let stream = self.stream_name(producer);
        let handle = match self.js.get_stream(&stream).await {
            Ok(s) => s,
            Err(_) => return Ok(None),
        };
        let info = handle
            .get_info()
            .await
            .map_err(|e| Error::Unavailable(format!("stream {stream}: {e}")))?;
        let c = &info.config;
        let keeps_all = c.max_age.is_zero() && c.max_messages <= 0 && c.max_bytes <= 0;
        let first = info.state.first_sequence;
        if keeps_all || first <= 1 {
            return Ok(None);
        }
        Ok(Some(format!(
            "stream {stream} keeps events for {} days (max_age) and now starts at message {first}: \
             the events before it are gone",
            c.max_age.as_secs() / 86_400
        )))
    }

    /// Deletes a message for good: JetStream's default delete overwrites
    /// the stored bytes ("secure erase").
    async fn delete(&self, stream: &str, sequence: u64) -> Result<()> {
        let handle = self
            .js
            .get_stream(stream)
            .await
            .map_err(|e| Error::Unavailable(format!("stream {stream}: {e}")))?;
        match handle.delete_message(sequence).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("no message found") => Ok(()),
            Err(e) => Err(Error::Unavailable(format!(
                "deleting message {sequence} of {stream}: {e}"
            ))),
        }
    }

    async fn announce_dead_letter(&self, consumer: &str, envelope: &Bytes) {
        let subject = format!("{}.dlq.{consumer}", self.namespace);
        match self.js.publish(subject, envelope.clone()).await {
            Ok(ack) => {
                let _ = ack.await;
            }
            Err(e) => tracing::warn!(error = %e, "could not announce a dead letter"),
        }
    }
}

async fn count_acked(acks: Vec<async_nats::jetstream::context::PublishAckFuture>) -> usize {
    let mut acked = 0;
    for ack in acks {
        match ack.await {
            Ok(_) => acked += 1,
            Err(e) => {
                tracing::warn!(error = %e, "the stream refused an event");
                break;
            }
        }
    }
    acked
}
