//! The history of every move of an item's life cycle and moderation.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use sqlx::AssertSqlSafe;

use super::flag;
use crate::domain::items::ItemState;
use crate::domain::moderation::Step;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub from: ItemState,
    pub to: ItemState,
    pub actor: String,
    pub by_contributor: bool,
    pub note: String,
    pub at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredEntry {
    seq: i64,
    from_state: String,
    to_state: String,
    actor: String,
    by_contributor: i64,
    note: String,
    at: i64,
}

impl TryFrom<StoredEntry> for Entry {
    type Error = Error;
    fn try_from(r: StoredEntry) -> Result<Entry> {
        Ok(Entry {
            seq: r.seq,
            from: stored(&r.from_state, ItemState::from_str_name)?,
            to: stored(&r.to_state, ItemState::from_str_name)?,
            actor: r.actor,
            by_contributor: r.by_contributor != 0,
            note: r.note,
            at: r.at,
        })
    }
}

#[tracing::instrument(skip(tx, step))]
pub async fn record(tx: &mut Tx, item_id: &str, actor: &str, step: &Step) -> Result<()> {
    sqlx::query(
        "INSERT INTO item_history (tenant_id, item_id, from_state, to_state, actor,
            by_contributor, note, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant().to_owned())
    .bind(item_id.to_owned())
    .bind(step.from.as_str_name())
    .bind(step.to.as_str_name())
    .bind(actor.to_owned())
    .bind(flag(step.by_contributor))
    .bind(step.note.clone())
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The item's history, oldest first, after the entry `after` (0 for the
/// start).
#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    item_id: &str,
    after: i64,
    limit: i64,
) -> Result<(Vec<Entry>, Total)> {
    // One item's moves, counted exactly by the same conditions before the
    // page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq_always("item_id", item_id);
    let total = w.count(tx, "item_history").await?;
    let after = w.param(after);
    w.fixed(&format!("seq > {after}"));
    let limit = w.param(limit);
    let sql = format!(
        "SELECT seq, from_state, to_state, actor, by_contributor, note, at FROM item_history
         {} ORDER BY seq LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredEntry> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(Entry::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Contributions approved (submitted → published) between two instants.
#[tracing::instrument(skip(tx))]
pub async fn approvals_between(tx: &mut Tx, from: i64, until: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM item_history WHERE tenant_id = $1
            AND from_state = 'ITEM_STATE_SUBMITTED' AND to_state = 'ITEM_STATE_PUBLISHED'
            AND at >= $2 AND at < $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(from)
    .bind(until)
    .fetch_one(tx.conn())
    .await?)
}
