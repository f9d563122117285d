//! Dead letters: events a consumer could not apply, kept in its own
//! database for an operator to inspect and replay (`markaz dlq`), and
//! announced on `<ns>.dlq.<consumer>`.

use bytes::Bytes;
use markaz_proto::events::v1::Envelope;
use prost::Message;
use sqlx::Row;

use super::{Applied, Consumer, apply};
use crate::bus::Bus;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::telemetry::{self, ConsumerLabels};

/// Stores a dead letter: the raw delivery, why it failed and after how many
/// attempts. The caller acknowledges the delivery only once this succeeded.
pub(crate) async fn dead_letter(
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
    dead_letters_before(db, include_replayed, i64::MAX, i64::MAX).await
}

/// At most `limit` dead letters with ids below `before`, newest first: a
/// page of them (the id is the key).
pub async fn dead_letters_before(
    db: &Db,
    include_replayed: bool,
    before: i64,
    limit: i64,
) -> Result<Vec<DeadLetter>> {
    // The columns are a constant, so the statement is too.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT_DEAD_LETTER} WHERE ($1 = 1 OR replayed_at IS NULL) AND id < $2
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(i64::from(include_replayed))
    .bind(before)
    .bind(limit)
    .fetch_all(db.writer())
    .await?;
    rows.iter()
        .map(dead_letter_of)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Error::from)
}

/// Dead letter `id` of `db`'s service.
pub async fn find_dead_letter(db: &Db, id: i64) -> Result<DeadLetter> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT_DEAD_LETTER} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db.writer())
    .await?
    .ok_or_else(|| Error::not_found("dead letter", id.to_string()))?;
    Ok(dead_letter_of(&row)?)
}

const SELECT_DEAD_LETTER: &str = "SELECT id, consumer, event_id, tenant_id, event_type, producer, \
     error, attempts, failed_at, replayed_at FROM markaz_dead_letters";

fn dead_letter_of(r: &sqlx::any::AnyRow) -> Result<DeadLetter, sqlx::Error> {
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

/// Keeps every event the bus stops delivering to `consumer` as a dead
/// letter, until `shutdown`. On NATS no consumer of Markaz's own has a
/// server-side bound, so this is the net under an operator's edit or an
/// older configuration: the loss is counted
/// (`markaz_events_lost_by_bus_total`), logged, and replayable like any
/// dead letter. An advisory is acknowledged only once its dead letter is
/// stored; one whose event the consumer applied after all is no loss.
pub(crate) async fn keep_lost(
    db: Db,
    bus: Bus,
    consumer: Consumer,
    mut lost: crate::bus::LostEvents,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let event = tokio::select! {
            e = lost.next() => match e {
                Some(e) => e,
                None => return,
            },
            _ = shutdown.cancelled() => return,
        };
        let envelope = event
            .envelope
            .as_ref()
            .and_then(|raw| Envelope::decode(raw.as_ref()).ok());
        let error = format!(
            "the bus stopped delivering this event after {} deliveries (stream sequence {}){}",
            event.deliveries,
            event.stream_sequence,
            if event.envelope.is_none() {
                "; the stream no longer holds it"
            } else {
                ""
            }
        );
        let raw = event.envelope.clone().unwrap_or_default();
        loop {
            if let Some(e) = &envelope
                && matches!(
                    super::inbox::applied_before(&db, &consumer, &e.id).await,
                    Ok(true)
                )
            {
                break;
            }
            let attempts = u32::try_from(event.deliveries).unwrap_or(u32::MAX);
            match dead_letter(
                &db,
                &bus,
                &consumer,
                envelope.as_ref(),
                &raw,
                &error,
                attempts,
            )
            .await
            {
                Ok(()) => {
                    telemetry::metrics()
                        .events_lost_by_bus
                        .get_or_create(&ConsumerLabels {
                            consumer: consumer.name.to_string(),
                        })
                        .inc();
                    tracing::error!(
                        consumer = consumer.name,
                        event_id = envelope.as_ref().map(|e| e.id.as_str()).unwrap_or(""),
                        stream_sequence = event.stream_sequence,
                        "the bus gave up on an event; kept as a dead letter"
                    );
                    break;
                }
                Err(_) => {
                    // The database is down: the advisory waits, kept by its stream.
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
        }
        event.ack().await;
    }
}
