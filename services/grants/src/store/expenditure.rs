//! Expenditure reports and their lines.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use sqlx::any::AnyRow;

use super::awards::rows_of_award;
use super::{int, money_of, named, required_date, text};
use crate::domain::ReportState;
use crate::domain::expenditure::ExpenditureFields;

#[derive(Debug, Clone)]
pub struct ExpenditureRow {
    pub id: String,
    pub award_id: String,
    pub fields: ExpenditureFields,
    pub state: ReportState,
    pub review_comment: String,
    pub submitted_by: String,
    pub reviewed_by: String,
    pub submitted_at: i64,
    pub reviewed_at: i64,
}

pub async fn insert(tx: &mut Tx, e: &ExpenditureRow) -> Result<()> {
    let f = &e.fields;
    sqlx::query(
        "INSERT INTO expenditure_reports (tenant_id, id, award_id, period_start, period_end,
            state, review_comment, submitted_by, reviewed_by, submitted_at, reviewed_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', $7, '', $8, 0)",
    )
    .bind(tx.tenant())
    .bind(&e.id)
    .bind(&e.award_id)
    .bind(f.period_start.to_string())
    .bind(f.period_end.to_string())
    .bind(e.state.as_str_name())
    .bind(&e.submitted_by)
    .bind(e.submitted_at)
    .execute(tx.conn())
    .await?;
    for (i, (line, amount, note)) in f.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO expenditure_lines (tenant_id, report_id, ordinal, line_number, currency,
                amount_minor, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tx.tenant())
        .bind(&e.id)
        .bind(i as i64)
        .bind(i64::from(*line))
        .bind(amount.currency().code())
        .bind(amount.minor_units())
        .bind(note)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

macro_rules! expenditure_columns {
    () => {
        "id, award_id, period_start, period_end, state, review_comment, submitted_by, \
         reviewed_by, submitted_at, reviewed_at"
    };
}

/// An expenditure report's own row; [`with_expenditure_lines`] adds its lines.
fn expenditure_head(r: &AnyRow) -> Result<ExpenditureRow> {
    Ok(ExpenditureRow {
        id: text(r, "id")?,
        award_id: text(r, "award_id")?,
        fields: ExpenditureFields {
            period_start: required_date(r, "period_start")?,
            period_end: required_date(r, "period_end")?,
            lines: Vec::new(),
        },
        state: named(&text(r, "state")?, ReportState::from_str_name)?,
        review_comment: text(r, "review_comment")?,
        submitted_by: text(r, "submitted_by")?,
        reviewed_by: text(r, "reviewed_by")?,
        submitted_at: int(r, "submitted_at")?,
        reviewed_at: int(r, "reviewed_at")?,
    })
}

async fn with_expenditure_lines(tx: &mut Tx, mut e: ExpenditureRow) -> Result<ExpenditureRow> {
    e.fields.lines = sqlx::query(
        "SELECT line_number, currency, amount_minor, note FROM expenditure_lines
         WHERE tenant_id = $1 AND report_id = $2 ORDER BY ordinal",
    )
    .bind(tx.tenant())
    .bind(&e.id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|l| {
        Ok((
            int(l, "line_number")? as i32,
            money_of(l, "currency", "amount_minor")?,
            text(l, "note")?,
        ))
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(e)
}

pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ExpenditureRow>> {
    let sql = concat!(
        "SELECT ",
        expenditure_columns!(),
        " FROM expenditure_reports WHERE tenant_id = $1 AND id = $2"
    );
    match tx.find(sql, id, expenditure_head).await? {
        Some(e) => Ok(Some(with_expenditure_lines(tx, e).await?)),
        None => Ok(None),
    }
}

pub async fn list(
    tx: &mut Tx,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ExpenditureRow>> {
    let rows = rows_of_award(
        tx,
        "expenditure_reports",
        expenditure_columns!(),
        award_id,
        after,
        limit,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(with_expenditure_lines(tx, expenditure_head(r)?).await?);
    }
    Ok(out)
}
