//! Conflicts of interest, declared and detected (membership's copy of
//! affiliations), and the recusals they cause.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::sql::{Total, Where};
use sqlx::AssertSqlSafe;

use super::exists;
use super::proposals::ProposalRow;
use super::reviewers::ReviewerRow;

/// A conflict of interest as stored.
#[derive(sqlx::FromRow)]
struct StoredConflict {
    id: String,
    reviewer_id: String,
    organization_id: String,
    proposal_id: String,
    reason: String,
    declared_by: String,
    created_at: i64,
}

#[derive(Debug, Clone)]
pub struct ConflictRow {
    pub id: String,
    pub reviewer_id: String,
    pub organization_id: String,
    pub proposal_id: String,
    pub reason: String,
    pub declared_by: String,
    pub created_at: i64,
}

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, c: &ConflictRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO conflicts (tenant_id, id, reviewer_id, organization_id, proposal_id, reason,
            declared_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant().to_owned())
    .bind(&c.id)
    .bind(&c.reviewer_id)
    .bind(&c.organization_id)
    .bind(&c.proposal_id)
    .bind(&c.reason)
    .bind(&c.declared_by)
    .bind(c.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    reviewer_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<ConflictRow>, Total)> {
    // The same conditions count the list, before the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("reviewer_id", reviewer_id);
    let total = w.count_capped(tx, "conflicts").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT id, reviewer_id, organization_id, proposal_id, reason, declared_by, created_at
         FROM conflicts {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredConflict> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let conflicts = rows
        .into_iter()
        .map(|r: StoredConflict| {
            Ok(ConflictRow {
                id: r.id,
                reviewer_id: r.reviewer_id,
                organization_id: r.organization_id,
                proposal_id: r.proposal_id,
                reason: r.reason,
                declared_by: r.declared_by,
                created_at: r.created_at,
            })
        })
        .collect::<Result<_>>()?;
    Ok((conflicts, total))
}

/// Why the reviewer has a conflict of interest with the proposal, if any:
/// declared (against the proposal or its organization) or detected (the
/// reviewer's person is affiliated with the organization).
#[tracing::instrument(skip_all)]
///
/// `asked_blind`: the reviewer itself asks about a proposal whose applicant
/// is hidden from it. A conflict it declared with an *organization* is then
/// not an answer it may get — refusing would tell it who applied — and its
/// sheet is left out of the figures instead (`SheetRow::conflicted`).
pub async fn conflict_of_interest(
    tx: &mut Tx,
    reviewer: &ReviewerRow,
    proposal: &ProposalRow,
    asked_blind: bool,
) -> Result<Option<String>> {
    let declared: Option<String> = sqlx::query_scalar(
        "SELECT reason FROM conflicts WHERE tenant_id = $1 AND reviewer_id = $2
           AND (proposal_id = $3 OR ($5 = 0 AND organization_id = $4)) ORDER BY id LIMIT 1",
    )
    .bind(tx.tenant().to_owned())
    .bind(&reviewer.id)
    .bind(&proposal.id)
    .bind(&proposal.organization_id)
    .bind(i64::from(asked_blind))
    .fetch_optional(tx.conn())
    .await?;
    if let Some(reason) = declared {
        return Ok(Some(format!(
            "the reviewer declared a conflict of interest: {reason}"
        )));
    }
    let affiliated = exists(
        tx,
        "SELECT 1 AS one FROM membership_affiliations WHERE tenant_id = $1 AND person_id = $2
           AND organization_id = $3 AND ended = 0",
        &reviewer.fields.person_id,
        &proposal.organization_id,
    )
    .await?;
    Ok(affiliated.then(|| {
        "the reviewer is affiliated with the applicant organization (a detected conflict of \
         interest)"
            .to_string()
    }))
}

/// Withdraws the active assignments a conflict touches: of `reviewer_id`
/// (or of every reviewer who is `person_id`), on `proposal_id` or on the
/// proposals of `organization_id`. Returns how many.
#[tracing::instrument(skip_all)]
pub async fn recuse(
    tx: &mut Tx,
    reviewer_id: &str,
    person_id: &str,
    organization_id: &str,
    proposal_id: &str,
    reason: &str,
    spare_blind: bool,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE assignments SET state = 'ASSIGNMENT_STATE_RECUSED', recusal_reason = $6
         WHERE tenant_id = $1 AND state = 'ASSIGNMENT_STATE_ACTIVE'
           AND (($2 <> '' AND reviewer_id = $2)
             OR ($3 <> '' AND reviewer_id IN (SELECT id FROM reviewers
                  WHERE tenant_id = $1 AND person_id = $3)))
           AND (($5 <> '' AND proposal_id = $5)
             OR ($4 <> '' AND proposal_id IN (SELECT id FROM proposals
                  WHERE tenant_id = $1 AND organization_id = $4)))
           AND ($7 = 0 OR proposal_id NOT IN (SELECT p.id FROM proposals p
                  JOIN calls c ON c.tenant_id = p.tenant_id AND c.id = p.call_id
                  WHERE p.tenant_id = $1 AND c.blind = 1))",
    )
    .bind(tx.tenant().to_owned())
    .bind(reviewer_id)
    .bind(person_id)
    .bind(organization_id)
    .bind(proposal_id)
    .bind(reason)
    .bind(i64::from(spare_blind))
    .execute(tx.conn())
    .await?
    .rows_affected())
}
