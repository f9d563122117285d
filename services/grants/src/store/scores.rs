//! Score sheets and their scores.

use std::collections::HashMap;

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use sqlx::AssertSqlSafe;

use crate::domain::AssignmentState;
use crate::domain::scores::Sheet;

/// A score sheet as stored, with what decides whether it counts.
#[derive(sqlx::FromRow)]
struct StoredSheet {
    id: String,
    proposal_id: String,
    reviewer_id: String,
    comment: String,
    weighted_total: i64,
    submitted_at: i64,
    /// The reviewer's assignment's state ("" when none).
    assignment_state: String,
    /// When the proposal's current version was submitted.
    version_submitted_at: i64,
    /// 1 when the reviewer declared a conflict with the proposal or its
    /// organization.
    conflicted: i64,
}

/// One criterion's score on a sheet.
#[derive(sqlx::FromRow)]
struct StoredItem {
    sheet_id: String,
    criterion_code: String,
    score: i64,
    comment: String,
}

#[derive(Debug, Clone)]
pub struct SheetRow {
    pub id: String,
    pub proposal_id: String,
    pub reviewer_id: String,
    pub sheet: Sheet,
    pub weighted_total: i64,
    /// The reviewer's assignment is active (not withdrawn for a conflict).
    pub counts: bool,
    /// The reviewer declared a conflict with the proposal or its
    /// organization. A blind proposal's assignment stays active then (its
    /// recusal would tell the reviewer who applied), so figures leave the
    /// sheet out by this instead; the reviewer's own view does not show it.
    pub conflicted: bool,
    pub submitted_at: i64,
}

/// Writes the reviewer's sheet for the proposal, replacing an earlier one.
#[tracing::instrument(skip_all)]
pub async fn upsert(tx: &mut Tx, id: &str, call_id: &str, row: &SheetRow) -> Result<String> {
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT id FROM score_sheets WHERE tenant_id = $1 AND proposal_id = $2
           AND reviewer_id = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(&row.proposal_id)
    .bind(&row.reviewer_id)
    .fetch_optional(tx.conn())
    .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query("DELETE FROM score_items WHERE tenant_id = $1 AND sheet_id = $2")
                .bind(tx.tenant().to_owned())
                .bind(&id)
                .execute(tx.conn())
                .await?;
            sqlx::query(
                "UPDATE score_sheets SET comment = $3, weighted_total = $4, submitted_at = $5
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tx.tenant().to_owned())
            .bind(&id)
            .bind(&row.sheet.comment)
            .bind(row.weighted_total)
            .bind(row.submitted_at)
            .execute(tx.conn())
            .await?;
            id
        }
        None => {
            sqlx::query(
                "INSERT INTO score_sheets (tenant_id, id, proposal_id, reviewer_id, call_id,
                    comment, weighted_total, submitted_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(tx.tenant().to_owned())
            .bind(id)
            .bind(&row.proposal_id)
            .bind(&row.reviewer_id)
            .bind(call_id)
            .bind(&row.sheet.comment)
            .bind(row.weighted_total)
            .bind(row.submitted_at)
            .execute(tx.conn())
            .await?;
            id.to_string()
        }
    };
    for (i, (code, score, comment)) in row.sheet.scores.iter().enumerate() {
        sqlx::query(
            "INSERT INTO score_items (tenant_id, sheet_id, ordinal, criterion_code, score, comment)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tx.tenant().to_owned())
        .bind(&id)
        .bind(i as i64)
        .bind(code)
        .bind(i64::from(*score))
        .bind(comment)
        .execute(tx.conn())
        .await?;
    }
    Ok(id)
}

/// Score sheets of a proposal (`proposal_id`) or a call (`call_id`),
/// optionally of one reviewer, each with whether it counts: its reviewer's
/// assignment is active, and it scores the version submitted last (a sheet
/// given before the proposal was revised and submitted again does not).
#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    proposal_id: &str,
    call_id: &str,
    reviewer_id: &str,
) -> Result<Vec<SheetRow>> {
    let filter = "s.tenant_id = $1 AND ($2 = '' OR s.proposal_id = $2)
           AND ($3 = '' OR s.call_id = $3) AND ($4 = '' OR s.reviewer_id = $4)";
    let rows: Vec<StoredSheet> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT s.id, s.proposal_id, s.reviewer_id, s.comment, s.weighted_total, s.submitted_at,
            COALESCE(a.state, '') AS assignment_state, p.submitted_at AS version_submitted_at,
            CASE WHEN EXISTS (SELECT 1 FROM conflicts c
                 WHERE c.tenant_id = s.tenant_id AND c.reviewer_id = s.reviewer_id
                   AND (c.proposal_id = s.proposal_id
                        OR (c.organization_id <> '' AND c.organization_id = p.organization_id)))
                 THEN 1 ELSE 0 END AS conflicted
         FROM score_sheets s
         JOIN proposals p ON p.tenant_id = s.tenant_id AND p.id = s.proposal_id
         LEFT JOIN assignments a ON a.tenant_id = s.tenant_id AND a.proposal_id = s.proposal_id
           AND a.reviewer_id = s.reviewer_id
         WHERE {filter}
         ORDER BY s.id"
    )))
    .bind(tx.tenant().to_owned())
    .bind(proposal_id)
    .bind(call_id)
    .bind(reviewer_id)
    .fetch_all(tx.conn())
    .await?;
    // The scores of every sheet at once: two statements, however many sheets.
    let items: Vec<StoredItem> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT sheet_id, criterion_code, score, comment FROM score_items
         WHERE tenant_id = $1 AND sheet_id IN (SELECT s.id FROM score_sheets s WHERE {filter})
         ORDER BY sheet_id, ordinal"
    )))
    .bind(tx.tenant().to_owned())
    .bind(proposal_id)
    .bind(call_id)
    .bind(reviewer_id)
    .fetch_all(tx.conn())
    .await?;
    let mut scores: HashMap<String, Vec<(String, i32, String)>> = HashMap::new();
    for i in items {
        scores
            .entry(i.sheet_id)
            .or_default()
            .push((i.criterion_code, i.score as i32, i.comment));
    }
    Ok(rows
        .into_iter()
        .map(|r| SheetRow {
            sheet: Sheet {
                scores: scores.remove(&r.id).unwrap_or_default(),
                comment: r.comment,
            },
            counts: r.assignment_state == AssignmentState::Active.as_str_name()
                && r.submitted_at >= r.version_submitted_at,
            conflicted: r.conflicted != 0,
            id: r.id,
            proposal_id: r.proposal_id,
            reviewer_id: r.reviewer_id,
            weighted_total: r.weighted_total,
            submitted_at: r.submitted_at,
        })
        .collect())
}
