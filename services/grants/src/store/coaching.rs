//! Coaching notes and coaches.

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use sqlx::AssertSqlSafe;

use super::{changed, exists, inserted};

/// A coaching note as stored.
#[derive(sqlx::FromRow)]
struct StoredNote {
    id: String,
    proposal_id: String,
    body: String,
    author: String,
    author_role: String,
    version_number: i64,
    created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NoteRow {
    pub id: String,
    pub proposal_id: String,
    pub body: String,
    pub author: String,
    pub author_role: String,
    pub version_number: i32,
    pub created_at: i64,
}

#[tracing::instrument(skip_all)]
/// How many coaching notes the proposal holds.
#[tracing::instrument(skip_all)]
pub async fn count_notes(tx: &mut Tx, proposal_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM coaching_notes WHERE tenant_id = $1 AND proposal_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(proposal_id)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn insert_note(tx: &mut Tx, n: &NoteRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO coaching_notes (tenant_id, id, proposal_id, body, author, author_role,
            version_number, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant().to_owned())
    .bind(&n.id)
    .bind(&n.proposal_id)
    .bind(&n.body)
    .bind(&n.author)
    .bind(&n.author_role)
    .bind(i64::from(n.version_number))
    .bind(n.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn list_notes(
    tx: &mut Tx,
    proposal_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<NoteRow>, Total)> {
    // One proposal's notes, counted exactly by the same conditions before
    // the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq_always("proposal_id", proposal_id);
    let total = w.count(tx, "coaching_notes").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT id, proposal_id, body, author, author_role, version_number, created_at
         FROM coaching_notes {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredNote> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let notes = rows
        .into_iter()
        .map(|r: StoredNote| {
            Ok(NoteRow {
                id: r.id,
                proposal_id: r.proposal_id,
                body: r.body,
                author: r.author,
                author_role: r.author_role,
                version_number: r.version_number as i32,
                created_at: r.created_at,
            })
        })
        .collect::<Result<_>>()?;
    Ok((notes, total))
}

#[derive(Debug, Clone)]
pub struct CoachRow {
    pub id: String,
    pub proposal_id: String,
    pub subject: String,
    pub assigned_by: String,
    pub created_at: i64,
}

/// A coach as stored.
#[derive(sqlx::FromRow)]
struct StoredCoach {
    id: String,
    proposal_id: String,
    subject: String,
    assigned_by: String,
    created_at: i64,
}

impl TryFrom<StoredCoach> for CoachRow {
    type Error = Error;
    fn try_from(r: StoredCoach) -> Result<CoachRow> {
        Ok(CoachRow {
            id: r.id,
            proposal_id: r.proposal_id,
            subject: r.subject,
            assigned_by: r.assigned_by,
            created_at: r.created_at,
        })
    }
}

#[tracing::instrument(skip_all)]
pub async fn insert_coach(tx: &mut Tx, c: &CoachRow) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO coaches (tenant_id, id, proposal_id, subject, assigned_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant().to_owned())
    .bind(&c.id)
    .bind(&c.proposal_id)
    .bind(&c.subject)
    .bind(&c.assigned_by)
    .bind(c.created_at)
    .execute(tx.conn())
    .await;
    inserted(result, "the trainer coaches this proposal already")
}

#[tracing::instrument(skip_all)]
pub async fn get_coach(tx: &mut Tx, id: &str) -> Result<Option<CoachRow>> {
    tx.find_as::<StoredCoach, _>(
        "SELECT id, proposal_id, subject, assigned_by, created_at FROM coaches
         WHERE tenant_id = $1 AND id = $2",
        id,
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn list_coaches(tx: &mut Tx, proposal_id: &str) -> Result<Vec<CoachRow>> {
    let rows = sqlx::query_as::<_, StoredCoach>(
        "SELECT id, proposal_id, subject, assigned_by, created_at FROM coaches
         WHERE tenant_id = $1 AND proposal_id = $2 ORDER BY id",
    )
    .bind(tx.tenant().to_owned())
    .bind(proposal_id)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(CoachRow::try_from).collect()
}

#[tracing::instrument(skip_all)]
pub async fn delete_coach(tx: &mut Tx, id: &str) -> Result<()> {
    let rows = sqlx::query("DELETE FROM coaches WHERE tenant_id = $1 AND id = $2")
        .bind(tx.tenant().to_owned())
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    changed(rows)
}

/// Whether the trainer with account `subject` coaches the proposal.
#[tracing::instrument(skip_all)]
pub async fn is_coach(tx: &mut Tx, proposal_id: &str, subject: &str) -> Result<bool> {
    exists(
        tx,
        "SELECT 1 AS one FROM coaches WHERE tenant_id = $1 AND proposal_id = $2 AND subject = $3",
        proposal_id,
        subject,
    )
    .await
}

/// Whether the trainer with account `subject` coaches a proposal of the
/// organization.
#[tracing::instrument(skip_all)]
pub async fn coaches_organization(
    tx: &mut Tx,
    subject: &str,
    organization_id: &str,
) -> Result<bool> {
    exists(
        tx,
        "SELECT 1 AS one FROM coaches c
         JOIN proposals p ON p.tenant_id = c.tenant_id AND p.id = c.proposal_id
         WHERE c.tenant_id = $1 AND c.subject = $2 AND p.organization_id = $3 LIMIT 1",
        subject,
        organization_id,
    )
    .await
}
