//! Variations and their budget lines.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::Total;
use markaz_kit::time::{MaybeDate, now_micros};

use sqlx::AssertSqlSafe;

use super::awards::rows_of_award;
use super::{budget_lines_of, changed, date_text, write_budget_lines};
use crate::domain::VariationState;
use crate::domain::variations::VariationFields;

#[derive(Debug, Clone)]
pub struct VariationRow {
    pub id: String,
    pub award_id: String,
    pub fields: VariationFields,
    pub state: VariationState,
    pub decision_note: String,
    pub requested_by: String,
    pub decided_by: String,
    pub created_at: i64,
    pub decided_at: i64,
}

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, v: &VariationRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO variations (tenant_id, id, award_id, justification, new_end_date, state,
            decision_note, requested_by, decided_by, created_at, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', $7, '', $8, 0)",
    )
    .bind(tx.tenant().to_owned())
    .bind(&v.id)
    .bind(&v.award_id)
    .bind(&v.fields.justification)
    .bind(date_text(v.fields.new_end_date))
    .bind(v.state.as_str_name())
    .bind(&v.requested_by)
    .bind(v.created_at)
    .execute(tx.conn())
    .await?;
    write_budget_lines(
        tx,
        "variation_lines",
        "variation_id",
        &v.id,
        &v.fields.budget,
    )
    .await
}

const VARIATION_COLUMNS: &str = "id, award_id, justification, new_end_date, state, decision_note, \
     requested_by, decided_by, created_at, decided_at";

/// A variation's own row; its budget lines are rows of their own.
#[derive(sqlx::FromRow)]
struct StoredVariation {
    #[sqlx(try_from = "String")]
    new_end_date: MaybeDate,
    justification: String,
    id: String,
    award_id: String,
    state: String,
    decision_note: String,
    requested_by: String,
    decided_by: String,
    created_at: i64,
    decided_at: i64,
}

/// A variation's own row; [`with_variation_lines`] adds its budget.
impl TryFrom<StoredVariation> for VariationRow {
    type Error = Error;
    fn try_from(r: StoredVariation) -> Result<VariationRow> {
        Ok(VariationRow {
            fields: VariationFields {
                justification: r.justification,
                budget: Vec::new(),
                new_end_date: r.new_end_date.0,
            },
            id: r.id,
            award_id: r.award_id,
            state: stored(&r.state, VariationState::from_str_name)?,
            decision_note: r.decision_note,
            requested_by: r.requested_by,
            decided_by: r.decided_by,
            created_at: r.created_at,
            decided_at: r.decided_at,
        })
    }
}

#[tracing::instrument(skip_all)]
/// The variations with their budgets: one statement for a page, whatever
/// its size.
async fn with_variation_lines(
    tx: &mut Tx,
    mut variations: Vec<VariationRow>,
) -> Result<Vec<VariationRow>> {
    let ids: Vec<String> = variations.iter().map(|v| v.id.clone()).collect();
    let mut budgets = budget_lines_of(tx, "variation_lines", "variation_id", &ids).await?;
    for v in &mut variations {
        v.fields.budget = budgets.remove(&v.id).unwrap_or_default();
    }
    Ok(variations)
}

#[tracing::instrument(skip_all)]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<VariationRow>> {
    let sql = AssertSqlSafe(format!(
        "SELECT {VARIATION_COLUMNS} FROM variations WHERE tenant_id = $1 AND id = $2"
    ));
    match tx.find_as::<StoredVariation, _>(sql, id).await? {
        Some(v) => Ok(with_variation_lines(tx, vec![v]).await?.pop()),
        None => Ok(None),
    }
}

#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<VariationRow>, Total)> {
    let (rows, total): (Vec<StoredVariation>, _) =
        rows_of_award(tx, "variations", VARIATION_COLUMNS, award_id, after, limit).await?;
    let rows = rows
        .into_iter()
        .map(VariationRow::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok((with_variation_lines(tx, rows).await?, total))
}

#[tracing::instrument(skip_all)]
pub async fn has_pending_variation(tx: &mut Tx, award_id: &str) -> Result<bool> {
    let found = tx
        .find(
            "SELECT 1 AS one FROM variations WHERE tenant_id = $1 AND award_id = $2
               AND state = 'VARIATION_STATE_PENDING' LIMIT 1",
            award_id,
            |_| Ok(()),
        )
        .await?;
    Ok(found.is_some())
}

#[tracing::instrument(skip_all)]
pub async fn decide(
    tx: &mut Tx,
    id: &str,
    to: VariationState,
    note: &str,
    by: &str,
) -> Result<i64> {
    let now = now_micros();
    let rows = sqlx::query(
        "UPDATE variations SET state = $3, decision_note = $4, decided_by = $5, decided_at = $6
         WHERE tenant_id = $1 AND id = $2 AND state = 'VARIATION_STATE_PENDING'",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(to.as_str_name())
    .bind(note)
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    Ok(now)
}
