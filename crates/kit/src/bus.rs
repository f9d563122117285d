//! The event bus behind the outbox relay and the consumers, in two adapters:
//!
//! * [`Bus::Nats`] — NATS JetStream. One stream per producer
//!   (`<NS>_<PRODUCER>`, subjects `<ns>.evt.<producer>.>`, file storage, a
//!   duplicate window keyed on `Nats-Msg-Id` = event id), durable pull
//!   consumers named `<consumer>--<producer>` with explicit ack. Streams and
//!   consumers are created idempotently at start.
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

use crate::config::ConsumerConfig;
use crate::error::{Error, Result};

/// One outbox row on its way to the bus.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub event_id: String,
    pub event_name: String,
    pub traceparent: String,
    pub envelope: Bytes,
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

    pub async fn nats(url: &str, namespace: &str, consumer: &ConsumerConfig) -> Result<Bus> {
        let client = async_nats::ConnectOptions::new()
            .name("markaz")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to NATS at {url}: {e}")))?;
        // Fail fast at start when the server is not there, rather than
        // retrying in the background while health reports SERVING.
        tokio::time::timeout(Duration::from_secs(10), client.flush())
            .await
            .map_err(|_| Error::Unavailable(format!("NATS at {url} does not answer")))?
            .map_err(|e| Error::Unavailable(format!("NATS at {url}: {e}")))?;
        let js = async_nats::jetstream::new(client.clone());
        Ok(Bus::Nats(Arc::new(NatsBus {
            client,
            js,
            namespace: namespace.to_string(),
            max_deliver: consumer.max_deliver,
        })))
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

    /// A durable subscription of `consumer` to everything `producer` publishes.
    pub async fn subscribe(&self, consumer: &str, producer: &str) -> Result<Subscription> {
        match self {
            Bus::Local(l) => Ok(l.subscribe(consumer, producer)),
            Bus::Nats(n) => n.subscribe(consumer, producer).await,
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
    Nats(Box<async_nats::jetstream::consumer::pull::Stream>),
}

impl Subscription {
    /// The next delivery; `None` when the bus is gone.
    pub async fn next(&mut self) -> Option<Delivery> {
        match self {
            Subscription::Local(rx, requeue) => rx.recv().await.map(|m| Delivery {
                payload: m.envelope.clone(),
                attempt: m.attempt,
                acker: Acker::Local(m, requeue.clone()),
            }),
            Subscription::Nats(stream) => loop {
                match stream.next().await? {
                    Ok(msg) => {
                        let attempt = msg.info().map(|i| i.delivered.max(1) as u32).unwrap_or(1);
                        return Some(Delivery {
                            payload: msg.payload.clone(),
                            attempt,
                            acker: Acker::Nats(Box::new(msg)),
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "NATS pull failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            },
        }
    }
}

/// One delivery of one event to one consumer.
pub struct Delivery {
    pub payload: Bytes,
    /// 1 for the first delivery.
    pub attempt: u32,
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
                    tracing::warn!(error = %e, "ack failed; the event will come again");
                }
            }
        }
    }

    /// Deliver the event again after `delay`.
    pub async fn retry(self, delay: Duration) {
        match self.acker {
            Acker::Local(mut m, requeue) => {
                m.attempt += 1;
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    // Closed only at shutdown; the relay then publishes again.
                    let _ = requeue.send(m);
                });
            }
            Acker::Nats(msg) => {
                let nak = async_nats::jetstream::AckKind::Nak(Some(delay));
                if let Err(e) = msg.ack_with(nak).await {
                    tracing::warn!(error = %e, "nak failed; the event comes again after ack_wait");
                }
            }
        }
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
    attempt: u32,
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
                    attempt: 1,
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
    max_deliver: u32,
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
                max_age: Duration::from_secs(30 * 24 * 3600),
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
        let config = pull::Config {
            durable_name: Some(durable.clone()),
            filter_subject: format!("{}.evt.{producer}.>", self.namespace),
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::All,
            ack_wait: Duration::from_secs(30),
            // The consumer loop dead-letters at `max_deliver`; the
            // server's bound is a little higher so that loop always
            // gets to see the last delivery, even after a crash.
            max_deliver: i64::from(self.max_deliver) + 2,
            max_ack_pending: 1_000,
            ..Default::default()
        };
        // Create, or bring an existing durable consumer to this
        // configuration (a raised `max_deliver` must reach the server, or it
        // would drop events before the loop dead-letters them). Should the
        // server refuse the change, the consumer as it is still serves.
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
            .messages()
            .await
            .map_err(|e| Error::Unavailable(format!("consumer {durable}: {e}")))?;
        Ok(Subscription::Nats(Box::new(messages)))
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
