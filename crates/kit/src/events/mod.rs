//! Events: at-least-once delivery, exactly-once effects — and no event ever
//! lost between the two.
//!
//! | room | what it does |
//! |---|---|
//! | [`outbox`] | [`Tx::publish`](crate::db::Tx) writes an event into `markaz_outbox` in the transaction of the change that caused it (both commit, or neither); [`run_relay`] publishes unpublished rows in `seq` order and marks a row only once the bus acknowledged it |
//! | [`inbox`] | [`apply_all`] applies deliveries in one transaction with their `markaz_inbox` rows: a redelivered event finds its row and has no second effect |
//! | [`consumer`] | [`run_consumer`], the loop between the bus and the inbox: batches, retries with back-off, dead letters, and pausing while its database is down |
//! | [`dead_letters`] | events kept for an operator to inspect and [`replay`]; events the bus gave up on are kept there too |
//! | [`router`] | a consumer's handlers, one per event type ([`Router::on`]) |
//!
//! The promise the consumer keeps: **an event is acknowledged only once it
//! is applied or kept as a dead letter.** Two things used to break it and
//! no longer can:
//!
//! * The bus does not bound deliveries (NATS consumers have no
//!   `max_deliver`); only the loop decides when an event has failed often
//!   enough, and then it stores it before acknowledging it.
//! * An outage is not a poison event. A failure is the event's own only if
//!   the consumer's database answers a probe right after it; otherwise the
//!   loop holds the events in hand ("work in progress" on NATS), reports the
//!   consumer paused ([`crate::health`]), waits with back-off until the
//!   database answers, and resumes with them — without counting anything
//!   toward their dead-letter budget.

use std::sync::Arc;

use markaz_proto::events::v1::Envelope;

use crate::db::Tx;
use crate::error::{Error, Result};

pub mod consumer;
pub mod dead_letters;
pub mod history;
pub mod inbox;
pub mod outbox;
pub mod router;

pub use consumer::{backoff, run_consumer};
pub use dead_letters::{DeadLetter, dead_letters, dead_letters_before, find_dead_letter, replay};
pub use inbox::{Applied, apply, apply_all};
pub use outbox::{relay_once, run_relay};
pub use router::{On, Route, Router};

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

/// What a service does with the events it consumes. Each call runs inside
/// the transaction that also records the inbox row, scoped to the event's
/// tenant: commit both, or neither.
#[tonic::async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, tx: &mut Tx, envelope: &Envelope) -> Result<()>;

    /// Whether events of `event_type` have an effect here. Those that have
    /// none are acknowledged without a transaction or an inbox row: a
    /// consumer that reads one event type of a busy stream (membership
    /// reads only the erasure confirmations) costs its database nothing for
    /// the rest.
    fn handles(&self, event_type: &str) -> bool {
        let _ = event_type;
        true
    }
}

/// A consumer: a name (the consuming service) and what it does with events.
#[derive(Clone)]
pub struct Consumer {
    pub name: &'static str,
    pub handler: Arc<dyn Handler>,
}
