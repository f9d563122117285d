//! Variations and their budget lines.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::time::now_micros;
use sqlx::any::AnyRow;

use super::awards::rows_of_award;
use super::{budget_lines, write_budget_lines};
use super::{changed, date_text, int, named, optional_date, text};
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

pub async fn insert(tx: &mut Tx, v: &VariationRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO variations (tenant_id, id, award_id, justification, new_end_date, state,
            decision_note, requested_by, decided_by, created_at, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', $7, '', $8, 0)",
    )
    .bind(tx.tenant())
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

macro_rules! variation_columns {
    () => {
        "id, award_id, justification, new_end_date, state, decision_note, requested_by, \
         decided_by, created_at, decided_at"
    };
}

/// A variation's own row; [`with_variation_lines`] adds its budget.
fn variation_head(r: &AnyRow) -> Result<VariationRow> {
    Ok(VariationRow {
        fields: VariationFields {
            justification: text(r, "justification")?,
            budget: Vec::new(),
            new_end_date: optional_date(r, "new_end_date")?,
        },
        id: text(r, "id")?,
        award_id: text(r, "award_id")?,
        state: named(&text(r, "state")?, VariationState::from_str_name)?,
        decision_note: text(r, "decision_note")?,
        requested_by: text(r, "requested_by")?,
        decided_by: text(r, "decided_by")?,
        created_at: int(r, "created_at")?,
        decided_at: int(r, "decided_at")?,
    })
}

async fn with_variation_lines(tx: &mut Tx, mut v: VariationRow) -> Result<VariationRow> {
    v.fields.budget = budget_lines(tx, "variation_lines", "variation_id", &v.id).await?;
    Ok(v)
}

pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<VariationRow>> {
    let sql = concat!(
        "SELECT ",
        variation_columns!(),
        " FROM variations WHERE tenant_id = $1 AND id = $2"
    );
    match tx.find(sql, id, variation_head).await? {
        Some(v) => Ok(Some(with_variation_lines(tx, v).await?)),
        None => Ok(None),
    }
}

pub async fn list(
    tx: &mut Tx,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<VariationRow>> {
    let rows = rows_of_award(
        tx,
        "variations",
        variation_columns!(),
        award_id,
        after,
        limit,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(with_variation_lines(tx, variation_head(r)?).await?);
    }
    Ok(out)
}

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
    .bind(tx.tenant())
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
