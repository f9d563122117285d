//! Expenditure reports and their lines.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::money::Money;
use markaz_kit::sql::Total;
use markaz_kit::time::Date;

use sqlx::AssertSqlSafe;

use super::awards::rows_of_award;
use crate::domain::ReportState;
use crate::domain::expenditure::ExpenditureFields;

/// A line of an expenditure report as stored.
#[derive(sqlx::FromRow)]
struct StoredSpent {
    currency: String,
    amount_minor: i64,
    note: String,
    line_number: i64,
}

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

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, e: &ExpenditureRow) -> Result<()> {
    let f = &e.fields;
    sqlx::query(
        "INSERT INTO expenditure_reports (tenant_id, id, award_id, period_start, period_end,
            state, review_comment, submitted_by, reviewed_by, submitted_at, reviewed_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', $7, '', $8, 0)",
    )
    .bind(tx.tenant().to_owned())
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
        .bind(tx.tenant().to_owned())
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

const EXPENDITURE_COLUMNS: &str = "id, award_id, period_start, period_end, state, review_comment, \
     submitted_by, reviewed_by, submitted_at, reviewed_at";

/// An expenditure report's own row; its lines are rows of their own.
#[derive(sqlx::FromRow)]
struct StoredExpenditure {
    #[sqlx(try_from = "String")]
    period_start: Date,
    #[sqlx(try_from = "String")]
    period_end: Date,
    id: String,
    award_id: String,
    state: String,
    review_comment: String,
    submitted_by: String,
    reviewed_by: String,
    submitted_at: i64,
    reviewed_at: i64,
}

/// An expenditure report's own row; [`with_expenditure_lines`] adds its lines.
impl TryFrom<StoredExpenditure> for ExpenditureRow {
    type Error = Error;
    fn try_from(r: StoredExpenditure) -> Result<ExpenditureRow> {
        Ok(ExpenditureRow {
            id: r.id,
            award_id: r.award_id,
            fields: ExpenditureFields {
                period_start: r.period_start,
                period_end: r.period_end,
                lines: Vec::new(),
            },
            state: stored(&r.state, ReportState::from_str_name)?,
            review_comment: r.review_comment,
            submitted_by: r.submitted_by,
            reviewed_by: r.reviewed_by,
            submitted_at: r.submitted_at,
            reviewed_at: r.reviewed_at,
        })
    }
}

#[tracing::instrument(skip_all)]
/// The reports with their lines: one statement for a page, whatever its
/// size.
async fn with_expenditure_lines(
    tx: &mut Tx,
    mut reports: Vec<ExpenditureRow>,
) -> Result<Vec<ExpenditureRow>> {
    let ids: Vec<String> = reports.iter().map(|e| e.id.clone()).collect();
    let lines: Vec<ReportSpent> = tx
        .rows_for_ids(
            "SELECT report_id, line_number, currency, amount_minor, note FROM expenditure_lines
             WHERE tenant_id = $1 AND report_id IN ({ids}) ORDER BY report_id, ordinal",
            &ids,
        )
        .await?;
    let mut lines_of: HashMap<String, Vec<(i32, Money, String)>> = HashMap::new();
    for l in lines {
        lines_of.entry(l.report_id).or_default().push((
            l.spent.line_number as i32,
            Money::stored(&l.spent.currency, l.spent.amount_minor)?,
            l.spent.note,
        ));
    }
    for e in &mut reports {
        e.fields.lines = lines_of.remove(&e.id).unwrap_or_default();
    }
    Ok(reports)
}

/// A spent line with the report it is in.
#[derive(sqlx::FromRow)]
struct ReportSpent {
    report_id: String,
    #[sqlx(flatten)]
    spent: StoredSpent,
}

#[tracing::instrument(skip_all)]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ExpenditureRow>> {
    let sql = AssertSqlSafe(format!(
        "SELECT {EXPENDITURE_COLUMNS} FROM expenditure_reports WHERE tenant_id = $1 AND id = $2"
    ));
    match tx.find_as::<StoredExpenditure, _>(sql, id).await? {
        Some(e) => Ok(with_expenditure_lines(tx, vec![e]).await?.pop()),
        None => Ok(None),
    }
}

#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<ExpenditureRow>, Total)> {
    let (rows, total): (Vec<StoredExpenditure>, _) = rows_of_award(
        tx,
        "expenditure_reports",
        EXPENDITURE_COLUMNS,
        award_id,
        after,
        limit,
    )
    .await?;
    let rows = rows
        .into_iter()
        .map(ExpenditureRow::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok((with_expenditure_lines(tx, rows).await?, total))
}
