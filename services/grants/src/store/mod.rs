//! Grants' SQL: one implementation for PostgreSQL and SQLite.
//!
//! Every query of tenant data names `tenant_id = $1`, bound from the
//! transaction's tenant (the caller's token or the event's envelope), never
//! from a request body. Writers of one object serialize on a version-checked
//! `UPDATE` of its row (the row lock on PostgreSQL; SQLite has one writer).
//! Every total is summed from the rows, in integers.
//!
//! | room | what it holds |
//! |---|---|
//! | this module | what the rooms share: stored names, lists, dates, money |
//! | [`assignments`] | Review assignments |
//! | [`awards`] | Awards with their tranches, the row lock every change of one takes, and its ledger read from the records |
//! | [`calls`] | Calls with their themes, eligibility rules and rubric; the money committed in a call |
//! | [`coaching`] | Coaching notes and coaches |
//! | [`conflicts`] | Conflicts of interest, declared and detected (membership's copy of affiliations), and the recusals they cause |
//! | [`eligibility`] | What grants knows of an organization for eligibility: membership's copy (`markaz-membership-copies`' table, joined) and the course completions of its members, from capacity's events |
//! | [`expenditure`] | Expenditure reports and their lines |
//! | [`programs`] | Programs |
//! | [`proposals`] | Proposals with their budget lines and milestones, and their submitted versions |
//! | [`reports`] | Progress and final reports |
//! | [`reviewers`] | Reviewers, with their names from membership's copy of people; what an erased person leaves here |
//! | [`scores`] | Score sheets and their scores |
//! | [`variations`] | Variations and their budget lines |

pub mod assignments;
pub mod awards;
pub mod calls;
pub mod coaching;
pub mod conflicts;
pub mod eligibility;
pub mod expenditure;
pub mod programs;
pub mod proposals;
pub mod reports;
pub mod reviewers;
pub mod scores;
pub mod variations;

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::money::Money;
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::LocalizedText;

use crate::domain::proposals::BudgetLine;
use crate::domain::{BudgetCategory, ReportState};

/// An optional date as stored ("" for none).
fn date_text(d: Option<Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn names<E: Copy>(values: &[E], name: fn(E) -> &'static str) -> String {
    values
        .iter()
        .map(|v| name(*v))
        .collect::<Vec<_>>()
        .join(",")
}

/// Comma-separated stored names back to their values.
fn parse_names<E>(text: &str, parse: fn(&str) -> Option<E>) -> Result<Vec<E>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| stored(s, parse))
        .collect()
}

fn list_text(values: &[String]) -> String {
    values.join(",")
}

fn parse_list(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A version-checked change of one row: 0 rows means someone changed it since.
fn changed(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(Error::stale_etag())
    } else {
        Ok(())
    }
}

/// An insert's outcome, with a unique-key violation as ALREADY_EXISTS
/// saying `what` exists.
fn inserted<T>(result: std::result::Result<T, sqlx::Error>, what: &str) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if markaz_kit::db::is_unique_violation(&e) => Err(Error::AlreadyExists(what.into())),
        Err(e) => Err(e.into()),
    }
}

/// Whether `sql` finds a row: `$1` is the transaction's tenant, `$2` and
/// `$3` are `a` and `b` (the "is there one?" of two keys, where kit's
/// `Tx::find` takes one).
#[tracing::instrument(skip_all)]
async fn exists(tx: &mut Tx, sql: &'static str, a: &str, b: &str) -> Result<bool> {
    let row = sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(a)
        .bind(b)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.is_some())
}

/// Records the review of a submitted report (state-checked).
#[tracing::instrument(skip_all)]
pub async fn review(
    tx: &mut Tx,
    table: &str,
    id: &str,
    to: ReportState,
    comment: &str,
    by: &str,
) -> Result<i64> {
    let now = now_micros();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET state = $3, review_comment = $4, reviewed_by = $5, reviewed_at = $6
         WHERE tenant_id = $1 AND id = $2 AND state = 'REPORT_STATE_SUBMITTED'"
    )))
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(to.as_str_name())
    .bind(comment)
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    Ok(now)
}

/// A budget line (of a proposal, an award or a variation) as stored.
#[derive(sqlx::FromRow)]
struct StoredBudgetLine {
    description_ar: String,
    description_en: String,
    currency: String,
    amount_minor: i64,
    category: String,
}

impl TryFrom<StoredBudgetLine> for BudgetLine {
    type Error = Error;
    fn try_from(r: StoredBudgetLine) -> Result<BudgetLine> {
        Ok(BudgetLine {
            category: stored(&r.category, BudgetCategory::from_str_name)?,
            description: LocalizedText {
                ar: r.description_ar,
                en: r.description_en,
            },
            amount: Money::stored(&r.currency, r.amount_minor)?,
        })
    }
}

/// A budget line with the id of what it belongs to.
#[derive(sqlx::FromRow)]
struct OwnedBudgetLine {
    owner_id: String,
    #[sqlx(flatten)]
    line: StoredBudgetLine,
}

/// The lines of a budget table (`proposal_lines`, `award_lines`,
/// `variation_lines`) of many owners in one statement, by owner, each in
/// line order.
#[tracing::instrument(skip_all)]
async fn budget_lines_of(
    tx: &mut Tx,
    table: &str,
    owner: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<BudgetLine>>> {
    let rows: Vec<OwnedBudgetLine> = tx
        .rows_for_ids(
            &format!(
                "SELECT {owner} AS owner_id, category, description_ar, description_en, currency,
                    amount_minor
                 FROM {table} WHERE tenant_id = $1 AND {owner} IN ({{ids}})
                 ORDER BY {owner}, line_number"
            ),
            ids,
        )
        .await?;
    let mut lines: HashMap<String, Vec<BudgetLine>> = HashMap::new();
    for r in rows {
        lines
            .entry(r.owner_id)
            .or_default()
            .push(BudgetLine::try_from(r.line)?);
    }
    Ok(lines)
}

#[tracing::instrument(skip_all)]
async fn write_budget_lines(
    tx: &mut Tx,
    table: &str,
    owner: &str,
    id: &str,
    lines: &[BudgetLine],
) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE tenant_id = $1 AND {owner} = $2"
    )))
    .bind(tx.tenant().to_owned())
    .bind(id)
    .execute(tx.conn())
    .await?;
    for (i, l) in lines.iter().enumerate() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (tenant_id, {owner}, line_number, category, description_ar,
                description_en, currency, amount_minor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(i as i64 + 1)
        .bind(l.category.as_str_name())
        .bind(&l.description.ar)
        .bind(&l.description.en)
        .bind(l.amount.currency().code())
        .bind(l.amount.minor_units())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}
