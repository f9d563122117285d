//! Review assignments.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use sqlx::any::AnyRow;

use super::{inserted, int, named, text};
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

fn assignment_row(r: &AnyRow) -> Result<AssignmentRow> {
    Ok(AssignmentRow {
        id: text(r, "id")?,
        proposal_id: text(r, "proposal_id")?,
        reviewer_id: text(r, "reviewer_id")?,
        call_id: text(r, "call_id")?,
        state: named(&text(r, "state")?, AssignmentState::from_str_name)?,
        recusal_reason: text(r, "recusal_reason")?,
        assigned_by: text(r, "assigned_by")?,
        created_at: int(r, "created_at")?,
    })
}

pub async fn insert(tx: &mut Tx, a: &AssignmentRow) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO assignments (tenant_id, id, proposal_id, reviewer_id, call_id, state,
            recusal_reason, assigned_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.tenant())
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

pub async fn find(
    tx: &mut Tx,
    proposal_id: &str,
    reviewer_id: &str,
) -> Result<Option<AssignmentRow>> {
    let row = sqlx::query(
        "SELECT id, proposal_id, reviewer_id, call_id, state, recusal_reason, assigned_by,
            created_at
         FROM assignments WHERE tenant_id = $1 AND proposal_id = $2 AND reviewer_id = $3",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .bind(reviewer_id)
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(assignment_row).transpose()
}

pub async fn list(
    tx: &mut Tx,
    proposal_id: &str,
    reviewer_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<AssignmentRow>> {
    let rows = sqlx::query(
        "SELECT id, proposal_id, reviewer_id, call_id, state, recusal_reason, assigned_by,
            created_at
         FROM assignments WHERE tenant_id = $1 AND ($2 = '' OR proposal_id = $2)
           AND ($3 = '' OR reviewer_id = $3) AND id > $4
         ORDER BY id LIMIT $5",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .bind(reviewer_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(assignment_row).collect()
}
