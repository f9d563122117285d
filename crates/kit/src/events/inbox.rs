//! The inbox: each event's effect exactly once.
//!
//! A delivery is applied in one transaction together with its
//! `markaz_inbox` row `(consumer, event_id)`; a redelivered event finds the
//! row and is counted a duplicate, with no second effect.

use markaz_proto::events::v1::Envelope;

use super::Consumer;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::telemetry;

/// Whether the event had an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    Duplicate,
    /// The consumer has no handler for the event's type
    /// ([`super::Handler::handles`]): nothing was written.
    Ignored,
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
    if envelopes
        .iter()
        .all(|e| !consumer.handler.handles(&e.r#type))
    {
        return Ok(vec![Applied::Ignored; envelopes.len()]);
    }
    let mut tx = db.write(tenant).await?;
    // One event: its inbox row says when it was applied, a moment before
    // the commit. Several: the effect of each commits after the last
    // handler, so each row first carries the batch's mark — a negative
    // number no committed row ever holds — and the commit time replaces it
    // at the end, found by the mark on the `processed_at` index. (Finding
    // the rows by their ids instead leaves the plan to the table's
    // statistics: with those of a young table PostgreSQL read every row of
    // the consumer, a cost that grew with every event it had applied.)
    let batch = envelopes.len() > 1;
    let stamp = if batch {
        -crate::time::now_micros()
    } else {
        crate::time::now_micros()
    };
    let mut fresh = claim(&mut tx, consumer, tenant, envelopes, stamp).await?;
    let mut outcomes = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        if !consumer.handler.handles(&envelope.r#type) {
            outcomes.push(Applied::Ignored);
            continue;
        }
        // Each claimed id is applied once: an event the bus delivered
        // twice within one batch finds its claim taken by the first.
        match fresh.iter().position(|id| *id == envelope.id) {
            Some(i) => {
                fresh.swap_remove(i);
            }
            None => {
                outcomes.push(Applied::Duplicate);
                continue;
            }
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
    if batch && outcomes.contains(&Applied::Applied) {
        sqlx::query("UPDATE markaz_inbox SET processed_at = $1 WHERE processed_at = $2")
            .bind(crate::time::now_micros())
            .bind(stamp)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Writes the inbox rows of the events of `envelopes` that `consumer`
/// handles, in one statement whatever the batch's size (at most the
/// consumer's batch, so a bounded number of statement shapes), and returns
/// the ids it wrote: those not applied before. One statement per batch
/// rather than one per event: the consumer's share of a create was a
/// round trip per event for its inbox row alone.
async fn claim(
    tx: &mut crate::db::Tx,
    consumer: &Consumer,
    tenant: &str,
    envelopes: &[&Envelope],
    stamp: i64,
) -> Result<Vec<String>> {
    let mut ids: Vec<&str> = Vec::with_capacity(envelopes.len());
    for e in envelopes {
        if consumer.handler.handles(&e.r#type) && !ids.contains(&e.id.as_str()) {
            ids.push(&e.id);
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = (4..ids.len() + 4)
        .map(|i| format!("($1, ${i}, $2, $3)"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut insert = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO markaz_inbox (consumer, event_id, tenant_id, processed_at)
         VALUES {rows} ON CONFLICT DO NOTHING RETURNING event_id"
    )))
    .bind(consumer.name)
    .bind(tenant)
    .bind(stamp);
    for id in ids {
        insert = insert.bind(id);
    }
    Ok(insert.fetch_all(tx.conn()).await?)
}

/// Applies one event exactly once: the inbox row and the handler's writes
/// commit together.
pub async fn apply(db: &Db, consumer: &Consumer, envelope: &Envelope) -> Result<Applied> {
    let outcomes = apply_all(db, consumer, &envelope.tenant_id, &[envelope]).await?;
    Ok(outcomes[0])
}

/// Whether `consumer` has applied the event `event_id` already.
pub async fn applied_before(db: &Db, consumer: &Consumer, event_id: &str) -> Result<bool> {
    let row =
        sqlx::query("SELECT 1 AS one FROM markaz_inbox WHERE consumer = $1 AND event_id = $2")
            .bind(consumer.name)
            .bind(event_id)
            .fetch_optional(db.reader())
            .await?;
    Ok(row.is_some())
}

/// Forgets, oldest first, at most `batch` inbox rows of events applied
/// before `cutoff` (microseconds), for every consumer and tenant. A
/// redelivery of such an event would be applied again, so the window must
/// outlast every way an event comes back: the streams keep events 30 days.
/// Returns how many were forgotten.
pub async fn purge_before(db: &Db, cutoff: i64, batch: i64) -> Result<u64> {
    crate::retention::purge_batch(
        db,
        "DELETE FROM markaz_inbox
         WHERE (consumer, event_id) IN (
             SELECT consumer, event_id FROM markaz_inbox
             WHERE processed_at < $1 ORDER BY processed_at LIMIT $2)",
        cutoff,
        batch,
        None,
    )
    .await
}
