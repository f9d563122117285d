//! Erasure requests and the services' confirmations of them.

use std::collections::BTreeMap;

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use sqlx::AssertSqlSafe;

/// An erasure as stored, with its confirmations.
#[derive(Debug, Clone)]
pub struct ErasureRow {
    pub id: String,
    pub person_id: String,
    pub requested_by: String,
    pub legal_ground: String,
    pub reason: String,
    pub requested_at: i64,
    pub completed_at: Option<i64>,
    pub confirmations: Vec<ConfirmationRow>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConfirmationRow {
    pub service: String,
    pub counts: String,
    pub confirmed_at: i64,
}

impl ConfirmationRow {
    pub fn counts(&self) -> BTreeMap<String, u64> {
        serde_json::from_str(&self.counts).unwrap_or_default()
    }
}

#[derive(sqlx::FromRow)]
struct StoredErasure {
    id: String,
    person_id: String,
    requested_by: String,
    legal_ground: String,
    reason: String,
    requested_at: i64,
    completed_at: Option<i64>,
}

const COLUMNS: &str =
    "id, person_id, requested_by, legal_ground, reason, requested_at, completed_at";

pub struct NewErasure<'a> {
    pub id: &'a str,
    pub person_id: &'a str,
    pub requested_by: &'a str,
    pub legal_ground: &'a str,
    pub reason: &'a str,
}

#[tracing::instrument(skip_all)]
pub async fn insert_erasure(tx: &mut Tx, e: &NewErasure<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO erasures (tenant_id, id, person_id, requested_by, legal_ground, reason, requested_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant().to_owned())
    .bind(e.id)
    .bind(e.person_id)
    .bind(e.requested_by)
    .bind(e.legal_ground)
    .bind(e.reason)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The erasure of a person, if they were erased.
pub async fn erasure_of_person(tx: &mut Tx, person_id: &str) -> Result<Option<String>> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM erasures WHERE tenant_id = $1 AND person_id = $2 ORDER BY id LIMIT 1",
    )
    .bind(tx.tenant().to_owned())
    .bind(person_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(id)
}

pub async fn get_erasure(tx: &mut Tx, id: &str) -> Result<Option<ErasureRow>> {
    let row: Option<StoredErasure> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM erasures WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tx.tenant().to_owned())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    let mut rows = with_confirmations(tx, row.into_iter().collect()).await?;
    Ok(rows.pop())
}

/// A page of the tenant's erasures, newest first (ids are ordered by time).
pub async fn list_erasures(
    tx: &mut Tx,
    person_id: &str,
    pending_only: bool,
    before: &str,
    limit: i64,
) -> Result<(Vec<ErasureRow>, Total)> {
    // The same conditions count the list, before the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("person_id", person_id);
    if pending_only {
        w.fixed("completed_at IS NULL");
    }
    let total = w.count_capped(tx, "erasures").await?;
    w.compare("id", "<", before);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {COLUMNS} FROM erasures {} ORDER BY id DESC LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredErasure> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((with_confirmations(tx, rows).await?, total))
}

async fn with_confirmations(tx: &mut Tx, rows: Vec<StoredErasure>) -> Result<Vec<ErasureRow>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    #[derive(sqlx::FromRow)]
    struct Stored {
        erasure_id: String,
        service: String,
        counts: String,
        confirmed_at: i64,
    }
    let confirmations: Vec<Stored> = tx
        .rows_for_ids(
            "SELECT erasure_id, service, counts, confirmed_at FROM erasure_confirmations
             WHERE tenant_id = $1 AND erasure_id IN ({ids}) ORDER BY service",
            &ids,
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ErasureRow {
            confirmations: confirmations
                .iter()
                .filter(|c| c.erasure_id == r.id)
                .map(|c| ConfirmationRow {
                    service: c.service.clone(),
                    counts: c.counts.clone(),
                    confirmed_at: c.confirmed_at,
                })
                .collect(),
            id: r.id,
            person_id: r.person_id,
            requested_by: r.requested_by,
            legal_ground: r.legal_ground,
            reason: r.reason,
            requested_at: r.requested_at,
            completed_at: r.completed_at,
        })
        .collect())
}

/// Records a service's confirmation (once: a redelivery changes nothing),
/// and completes the erasure when every one of `expected` has confirmed.
/// An erasure this tenant never asked for is ignored.
#[tracing::instrument(skip_all)]
pub async fn confirm(
    tx: &mut Tx,
    erasure_id: &str,
    service: &str,
    counts: &BTreeMap<String, u64>,
    expected: &[&str],
) -> Result<()> {
    let Some(erasure) = get_erasure(tx, erasure_id).await? else {
        tracing::warn!(erasure = %erasure_id, service, "a confirmation of no erasure of this tenant");
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO erasure_confirmations (tenant_id, erasure_id, service, counts, confirmed_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, erasure_id, service) DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(erasure_id)
    .bind(service)
    .bind(serde_json::to_string(counts).unwrap_or_default())
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    let confirmed: Vec<&str> = erasure
        .confirmations
        .iter()
        .map(|c| c.service.as_str())
        .chain([service])
        .collect();
    if erasure.completed_at.is_none() && expected.iter().all(|s| confirmed.contains(s)) {
        sqlx::query("UPDATE erasures SET completed_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tx.tenant().to_owned())
            .bind(erasure_id)
            .bind(now_micros())
            .execute(tx.conn())
            .await?;
        tracing::info!(erasure = %erasure_id, "erasure complete: every service confirmed");
    }
    Ok(())
}
