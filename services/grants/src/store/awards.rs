//! Awards with their tranches, the row lock every change of one takes, and
//! its ledger read from the records.

use std::collections::{BTreeSet, HashMap};

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::money::{self, Money};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, MaybeDate, now_micros};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::reports::ReportRow;
use super::{
    budget_lines_of, changed, date_text, inserted, proposals, reports, write_budget_lines,
};
use crate::domain::awards::{Ledger, Tranche};
use crate::domain::proposals::BudgetLine;
use crate::domain::proposals::Milestone;
use crate::domain::{ProposalState, ReportKind, ReportState, TrancheState};

/// A tranche of an award as stored.
#[derive(sqlx::FromRow)]
struct StoredTranche {
    award_id: String,
    currency: String,
    amount_minor: i64,
    #[sqlx(try_from = "String")]
    disbursed_on: MaybeDate,
    state: String,
    reference: String,
    disbursed_by: String,
    number: i64,
    milestone_number: i64,
}

/// A page of the rows of `table` that belong to one award, in id order,
/// and how many the award has: one award's reports or variations, a few,
/// counted exactly by the same conditions before the page's cursor.
/// `limit` 0: all of them, whose number is their count.
#[tracing::instrument(skip_all)]
pub(super) async fn rows_of_award<R>(
    tx: &mut Tx,
    table: &str,
    columns: &str,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<R>, Total)>
where
    R: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
{
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq_always("award_id", award_id);
    let total = if limit == 0 {
        None
    } else {
        Some(w.count(tx, table).await?)
    };
    w.compare("id", ">", after);
    let limit = w.param(if limit == 0 { i64::MAX } else { limit });
    let sql = format!(
        "SELECT {columns} FROM {table} {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<R> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let total = total.unwrap_or(Total {
        size: i32::try_from(rows.len()).unwrap_or(i32::MAX),
        is_estimate: false,
    });
    Ok((rows, total))
}

#[derive(Debug, Clone)]
pub struct TrancheRow {
    pub number: i32,
    pub milestone: i32,
    pub amount: Money,
    pub state: TrancheState,
    pub disbursed_on: Option<Date>,
    pub reference: String,
    pub disbursed_by: String,
}

#[derive(Debug, Clone)]
pub struct AwardRow {
    pub id: String,
    pub proposal_id: String,
    pub call_id: String,
    pub organization_id: String,
    pub amount: Money,
    pub budget: Vec<BudgetLine>,
    pub tranches: Vec<TrancheRow>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub closure_reason: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, a: &AwardRow, awarded_by: &str) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO awards (tenant_id, id, proposal_id, call_id, organization_id, currency,
            amount_minor, start_date, end_date, closure_reason, awarded_by, version, created_at,
            updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, 1, $11, $11)",
    )
    .bind(tx.tenant().to_owned())
    .bind(&a.id)
    .bind(&a.proposal_id)
    .bind(&a.call_id)
    .bind(&a.organization_id)
    .bind(a.amount.currency().code())
    .bind(a.amount.minor_units())
    .bind(date_text(a.start_date))
    .bind(date_text(a.end_date))
    .bind(awarded_by)
    .bind(a.created_at)
    .execute(tx.conn())
    .await;
    inserted(result, "the proposal is awarded already")?;
    write_budget_lines(tx, "award_lines", "award_id", &a.id, &a.budget).await?;
    for t in &a.tranches {
        sqlx::query(
            "INSERT INTO tranches (tenant_id, award_id, number, milestone_number, currency,
                amount_minor, state, disbursed_on, reference, disbursed_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, '', '', '')",
        )
        .bind(tx.tenant().to_owned())
        .bind(&a.id)
        .bind(i64::from(t.number))
        .bind(i64::from(t.milestone))
        .bind(t.amount.currency().code())
        .bind(t.amount.minor_units())
        .bind(t.state.as_str_name())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

const AWARD_COLUMNS: &str = "id, proposal_id, call_id, organization_id, currency, amount_minor, \
     start_date, end_date, closure_reason, version, created_at, updated_at";

/// An award's own row; its tranches and budget lines are rows of their own.
#[derive(sqlx::FromRow)]
struct StoredAward {
    currency: String,
    amount_minor: i64,
    #[sqlx(try_from = "String")]
    start_date: MaybeDate,
    #[sqlx(try_from = "String")]
    end_date: MaybeDate,
    id: String,
    proposal_id: String,
    call_id: String,
    organization_id: String,
    closure_reason: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

/// An award's own row; [`with_children`] adds its tranches and budget.
impl TryFrom<StoredAward> for AwardRow {
    type Error = Error;
    fn try_from(r: StoredAward) -> Result<AwardRow> {
        Ok(AwardRow {
            id: r.id,
            proposal_id: r.proposal_id,
            call_id: r.call_id,
            organization_id: r.organization_id,
            amount: Money::stored(&r.currency, r.amount_minor)?,
            budget: Vec::new(),
            tranches: Vec::new(),
            start_date: r.start_date.0,
            end_date: r.end_date.0,
            closure_reason: r.closure_reason,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The awards with their tranches and budget lines: three statements for
/// the awards of a page, whatever its size.
#[tracing::instrument(skip_all)]
async fn with_children(tx: &mut Tx, awards: Vec<StoredAward>) -> Result<Vec<AwardRow>> {
    let mut awards = awards
        .into_iter()
        .map(AwardRow::try_from)
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<String> = awards.iter().map(|a| a.id.clone()).collect();
    let tranches: Vec<StoredTranche> = tx
        .rows_for_ids(
            "SELECT award_id, number, milestone_number, currency, amount_minor, state,
                disbursed_on, reference, disbursed_by
             FROM tranches WHERE tenant_id = $1 AND award_id IN ({ids})
             ORDER BY award_id, number",
            &ids,
        )
        .await?;
    let mut tranches_of: HashMap<String, Vec<TrancheRow>> = HashMap::new();
    for t in tranches {
        tranches_of
            .entry(t.award_id.clone())
            .or_default()
            .push(TrancheRow {
                number: t.number as i32,
                milestone: t.milestone_number as i32,
                amount: Money::stored(&t.currency, t.amount_minor)?,
                state: stored(&t.state, TrancheState::from_str_name)?,
                disbursed_on: t.disbursed_on.0,
                reference: t.reference,
                disbursed_by: t.disbursed_by,
            });
    }
    let mut budgets = budget_lines_of(tx, "award_lines", "award_id", &ids).await?;
    for a in &mut awards {
        a.tranches = tranches_of.remove(&a.id).unwrap_or_default();
        a.budget = budgets.remove(&a.id).unwrap_or_default();
    }
    Ok(awards)
}

#[tracing::instrument(skip_all)]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<AwardRow>> {
    let sql = AssertSqlSafe(format!(
        "SELECT {AWARD_COLUMNS} FROM awards WHERE tenant_id = $1 AND id = $2"
    ));
    let award: Option<StoredAward> = sqlx::query_as(sql)
        .bind(tx.tenant().to_owned())
        .bind(id.to_owned())
        .fetch_optional(tx.conn())
        .await?;
    Ok(with_children(tx, award.into_iter().collect()).await?.pop())
}

#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    call_id: &str,
    organization_id: &str,
    state: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<AwardRow>, Total)> {
    // Only the filters that are set are written. The same conditions count
    // the list, before the page's cursor.
    let mut w = Where::tenant("w.tenant_id", tx.tenant());
    w.eq("w.call_id", call_id)
        .eq("w.organization_id", organization_id)
        .clause(
            "EXISTS (SELECT 1 FROM proposals p WHERE p.tenant_id = w.tenant_id
                AND p.id = w.proposal_id AND p.state = {})",
            state,
        );
    let total = w.count_capped(tx, "awards w").await?;
    w.compare("w.id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {AWARD_COLUMNS} FROM awards w {} ORDER BY w.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredAward> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((with_children(tx, rows).await?, total))
}

/// Bumps the award's version, checking `expected` (the etag) when given:
/// every change to an award goes through here first, which also serializes
/// concurrent writers on its row.
#[tracing::instrument(skip_all)]
pub async fn touch(tx: &mut Tx, award: &AwardRow, expected: Option<i64>) -> Result<i64> {
    let rows = sqlx::query(
        "UPDATE awards SET version = version + 1, updated_at = $3
         WHERE tenant_id = $1 AND id = $2 AND ($4 = 0 OR version = $4)",
    )
    .bind(tx.tenant().to_owned())
    .bind(&award.id)
    .bind(now_micros())
    .bind(expected.unwrap_or(0))
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    let version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM awards WHERE tenant_id = $1 AND id = $2")
            .bind(tx.tenant().to_owned())
            .bind(award.id.clone())
            .fetch_optional(tx.conn())
            .await?;
    version.ok_or_else(|| Error::internal("the award just changed"))
}

/// What an award's view shows besides its own rows: its proposal's state
/// and work plan, its reports, and its ledger.
#[derive(Debug, Clone)]
pub struct AwardFacts {
    pub state: ProposalState,
    pub milestones: Vec<Milestone>,
    /// In id order.
    pub reports: Vec<ReportRow>,
    pub ledger: Ledger,
}

/// The [`AwardFacts`] of each award, by its id: four statements for the
/// awards of a page, whatever its size.
#[tracing::instrument(skip_all)]
pub async fn facts(tx: &mut Tx, awards: &[AwardRow]) -> Result<HashMap<String, AwardFacts>> {
    let ids: Vec<String> = awards.iter().map(|a| a.id.clone()).collect();
    let states: HashMap<String, String> = tx
        .rows_for_ids::<(String, String)>(
            "SELECT a.id, p.state FROM awards a
             JOIN proposals p ON p.tenant_id = a.tenant_id AND p.id = a.proposal_id
             WHERE a.tenant_id = $1 AND a.id IN ({ids})",
            &ids,
        )
        .await?
        .into_iter()
        .collect();
    let mut milestones = proposals::milestones_of_awards(tx, &ids).await?;
    let mut reports: HashMap<String, Vec<ReportRow>> = HashMap::new();
    for r in reports::of_awards(tx, &ids).await? {
        reports.entry(r.award_id.clone()).or_default().push(r);
    }
    let mut spent: HashMap<String, Vec<(i64, String, i64)>> = HashMap::new();
    for (award_id, line, currency, minor) in tx
        .rows_for_ids::<(String, i64, String, i64)>(
            "SELECT e.award_id, l.line_number, l.currency, l.amount_minor FROM expenditure_lines l
             JOIN expenditure_reports e ON e.tenant_id = l.tenant_id AND e.id = l.report_id
             WHERE l.tenant_id = $1 AND e.award_id IN ({ids})
               AND e.state = 'REPORT_STATE_ACCEPTED'",
            &ids,
        )
        .await?
    {
        spent
            .entry(award_id)
            .or_default()
            .push((line, currency, minor));
    }
    let mut out = HashMap::with_capacity(awards.len());
    for a in awards {
        let state = states
            .get(&a.id)
            .ok_or_else(|| Error::internal("an award without its proposal"))?;
        let state = stored(state, ProposalState::from_str_name)?;
        let milestones = milestones.remove(&a.id).unwrap_or_default();
        let reports = reports.remove(&a.id).unwrap_or_default();
        let ledger = ledger_of(
            a,
            state,
            milestones.len(),
            &reports,
            &spent.remove(&a.id).unwrap_or_default(),
        )?;
        out.insert(
            a.id.clone(),
            AwardFacts {
                state,
                milestones,
                reports,
                ledger,
            },
        );
    }
    Ok(out)
}

/// The award's money and progress as the rules see them, from the records.
#[tracing::instrument(skip_all)]
pub async fn ledger(tx: &mut Tx, award: &AwardRow) -> Result<Ledger> {
    facts(tx, std::slice::from_ref(award))
        .await?
        .remove(&award.id)
        .map(|f| f.ledger)
        .ok_or_else(|| Error::internal("the award's facts"))
}

/// The ledger of an award from what its records say: the work plan's size,
/// its reports (the accepted ones count) and the accepted spending, as
/// (budget line, currency, minor units).
fn ledger_of(
    award: &AwardRow,
    state: ProposalState,
    milestones: usize,
    reports: &[ReportRow],
    spent_rows: &[(i64, String, i64)],
) -> Result<Ledger> {
    let mut accepted = BTreeSet::new();
    let mut final_accepted = false;
    for r in reports.iter().filter(|r| r.state == ReportState::Accepted) {
        if r.fields.kind == ReportKind::Final {
            final_accepted = true;
        } else {
            accepted.insert(r.fields.milestone);
        }
    }
    let currency = award.amount.currency();
    let mut spent = vec![Money::zero(currency); award.budget.len()];
    for (line, currency, minor) in spent_rows {
        let line = *line as usize;
        let amount = Money::stored(currency, *minor)?;
        if line == 0 || line > spent.len() {
            return Err(Error::internal(format!(
                "spending on a missing line {line}"
            )));
        }
        spent[line - 1] = spent[line - 1].checked_add(amount)?;
    }
    // Every stored amount is checked to be in the award's currency.
    money::sum(currency, award.budget.iter().map(|l| l.amount))?;
    money::sum(currency, award.tranches.iter().map(|t| t.amount))?;
    Ok(Ledger {
        currency,
        state,
        amount: award.amount.minor_units(),
        tranches: award
            .tranches
            .iter()
            .map(|t| Tranche {
                number: t.number,
                milestone: t.milestone,
                amount: t.amount.minor_units(),
                state: t.state,
            })
            .collect(),
        milestones: milestones as i32,
        accepted,
        final_accepted,
        budget: award
            .budget
            .iter()
            .map(|l| l.amount.minor_units())
            .collect(),
        spent: spent.iter().map(Money::minor_units).collect(),
    })
}

#[tracing::instrument(skip_all)]
pub async fn disburse_tranche(
    tx: &mut Tx,
    award_id: &str,
    number: i32,
    on: Date,
    reference: &str,
    by: &str,
) -> Result<()> {
    let rows = sqlx::query(
        "UPDATE tranches SET state = 'TRANCHE_STATE_DISBURSED', disbursed_on = $4,
            reference = $5, disbursed_by = $6
         WHERE tenant_id = $1 AND award_id = $2 AND number = $3
           AND state = 'TRANCHE_STATE_PLANNED'",
    )
    .bind(tx.tenant().to_owned())
    .bind(award_id)
    .bind(i64::from(number))
    .bind(on.to_string())
    .bind(reference)
    .bind(by)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)
}

/// Closes an award: its planned tranches are cancelled, the reason kept.
#[tracing::instrument(skip_all)]
pub async fn close(tx: &mut Tx, award_id: &str, reason: &str) -> Result<()> {
    sqlx::query(
        "UPDATE tranches SET state = 'TRANCHE_STATE_CANCELLED'
         WHERE tenant_id = $1 AND award_id = $2 AND state = 'TRANCHE_STATE_PLANNED'",
    )
    .bind(tx.tenant().to_owned())
    .bind(award_id)
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE awards SET closure_reason = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tx.tenant().to_owned())
        .bind(award_id)
        .bind(reason)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Puts an approved variation in force.
#[tracing::instrument(skip_all)]
pub async fn vary(
    tx: &mut Tx,
    award_id: &str,
    budget: &[BudgetLine],
    end_date: Option<Date>,
) -> Result<()> {
    if !budget.is_empty() {
        write_budget_lines(tx, "award_lines", "award_id", award_id, budget).await?;
    }
    if let Some(end) = end_date {
        sqlx::query("UPDATE awards SET end_date = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tx.tenant().to_owned())
            .bind(award_id)
            .bind(end.to_string())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}
