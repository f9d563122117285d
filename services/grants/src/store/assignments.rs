//! Review assignments.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use sqlx::AssertSqlSafe;

use super::inserted;
use crate::domain::AssignmentState;

#[derive(Debug, Clone)]
pub struct AssignmentRow {
    pub id: String,
    pub proposal_id: String,
    pub reviewer_id: String,
    pub call_id: String,
    pub state: AssignmentState,
    pub recusal_reason: String,
    pub assigned_by: String,
    pub created_at: i64,
}

/// A review assignment as stored.
#[derive(sqlx::FromRow)]
struct StoredAssignment {
    id: String,
    proposal_id: String,
    reviewer_id: String,
    call_id: String,
    state: String,
    recusal_reason: String,
    assigned_by: String,
    created_at: i64,
}

impl TryFrom<StoredAssignment> for AssignmentRow {
    type Error = Error;
    fn try_from(r: StoredAssignment) -> Result<AssignmentRow> {
        Ok(AssignmentRow {
            id: r.id,
            proposal_id: r.proposal_id,
            reviewer_id: r.reviewer_id,
            call_id: r.call_id,
            state: stored(&r.state, AssignmentState::from_str_name)?,
            recusal_reason: r.recusal_reason,
            assigned_by: r.assigned_by,
            created_at: r.created_at,
        })
    }
}

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, a: &AssignmentRow) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO assignments (tenant_id, id, proposal_id, reviewer_id, call_id, state,
            recusal_reason, assigned_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.tenant().to_owned())
    .bind(&a.id)
    .bind(&a.proposal_id)
    .bind(&a.reviewer_id)
    .bind(&a.call_id)
    .bind(a.state.as_str_name())
    .bind(&a.recusal_reason)
    .bind(&a.assigned_by)
    .bind(a.created_at)
    .execute(tx.conn())
    .await;
    inserted(result, "the reviewer is already assigned to this proposal")
}

#[tracing::instrument(skip_all)]
pub async fn find(
    tx: &mut Tx,
    proposal_id: &str,
    reviewer_id: &str,
) -> Result<Option<AssignmentRow>> {
    let row = sqlx::query_as::<_, StoredAssignment>(
        "SELECT id, proposal_id, reviewer_id, call_id, state, recusal_reason, assigned_by,
            created_at
         FROM assignments WHERE tenant_id = $1 AND proposal_id = $2 AND reviewer_id = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(proposal_id)
    .bind(reviewer_id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(AssignmentRow::try_from).transpose()
}

#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    proposal_id: &str,
    reviewer_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<AssignmentRow>, Total)> {
    // Only the filters that are set are written. The same conditions count
    // the list, before the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("proposal_id", proposal_id)
        .eq("reviewer_id", reviewer_id);
    let total = w.count_capped(tx, "assignments").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT id, proposal_id, reviewer_id, call_id, state, recusal_reason, assigned_by,
            created_at
         FROM assignments {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredAssignment> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(AssignmentRow::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}
