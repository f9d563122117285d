//! Reviewers, with their names from membership's copy of people; what an
//! erased person leaves here.

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::Sector;

use sqlx::AssertSqlSafe;

use super::{inserted, names, parse_names};
use crate::domain::reviewers::ReviewerFields;

/// Whether grants has a copy of the person, not erased.
#[tracing::instrument(skip_all)]
pub async fn person_is_known(tx: &mut Tx, id: &str) -> Result<bool> {
    let found = tx
        .find(
            "SELECT 1 AS one FROM membership_people WHERE tenant_id = $1 AND id = $2 AND erased \
                 = 0",
            id,
            |_| Ok(()),
        )
        .await?;
    Ok(found.is_some())
}

/// What PersonErased changes in grants' own records (the copy lost the
/// name already, in `markaz-membership-copies`): a reviewer who was this
/// person loses the sign-in link and is no longer assigned anything new; the
/// stored replies of the reviewer's idempotent create (which carried the
/// name) are forgotten too.
#[tracing::instrument(skip_all)]
pub async fn erase_person(tx: &mut Tx, id: &str) -> Result<()> {
    let reviewers: Vec<String> =
        sqlx::query_scalar("SELECT id FROM reviewers WHERE tenant_id = $1 AND person_id = $2")
            .bind(tx.tenant().to_owned())
            .bind(id.to_owned())
            .fetch_all(tx.conn())
            .await?;
    for reviewer in &reviewers {
        tx.forget_aggregate(reviewer).await?;
    }
    sqlx::query(
        "UPDATE reviewers SET subject = '', active = 0 WHERE tenant_id = $1 AND person_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ReviewerRow {
    pub id: String,
    pub fields: ReviewerFields,
    pub display_name: String,
    pub active: bool,
    pub created_at: i64,
}

const REVIEWER_SELECT: &str =
    "SELECT r.id, r.person_id, r.subject, r.expertise, r.active, r.created_at,
            COALESCE(p.full_name, '') AS display_name
         FROM reviewers r
         LEFT JOIN membership_people p ON p.tenant_id = r.tenant_id AND p.id = r.person_id";

/// A reviewer as stored, with the name membership's copy of the person has (none once erased).
#[derive(sqlx::FromRow)]
struct StoredReviewer {
    id: String,
    person_id: String,
    subject: String,
    expertise: String,
    display_name: String,
    active: i64,
    created_at: i64,
}

impl TryFrom<StoredReviewer> for ReviewerRow {
    type Error = Error;
    fn try_from(r: StoredReviewer) -> Result<ReviewerRow> {
        Ok(ReviewerRow {
            id: r.id,
            fields: ReviewerFields {
                person_id: r.person_id,
                subject: r.subject,
                expertise: parse_names(&r.expertise, Sector::from_str_name)?,
            },
            display_name: r.display_name,
            active: r.active != 0,
            created_at: r.created_at,
        })
    }
}

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, id: &str, f: &ReviewerFields) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO reviewers (tenant_id, id, person_id, subject, expertise, active, created_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(&f.person_id)
    .bind(&f.subject)
    .bind(names(&f.expertise, |s| s.as_str_name()))
    .bind(now_micros())
    .execute(tx.conn())
    .await;
    inserted(
        result,
        "a reviewer with this person or subject is registered",
    )
}

#[tracing::instrument(skip_all)]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ReviewerRow>> {
    tx.find_as::<StoredReviewer, _>(
        AssertSqlSafe(format!(
            "{REVIEWER_SELECT} WHERE r.tenant_id = $1 AND r.id = $2"
        )),
        id,
    )
    .await
}

/// The reviewer who signs in as `subject` (an erased reviewer has none).
#[tracing::instrument(skip_all)]
pub async fn reviewer_of(tx: &mut Tx, subject: &str) -> Result<Option<ReviewerRow>> {
    if subject.is_empty() {
        return Ok(None);
    }
    tx.find_as::<StoredReviewer, _>(
        AssertSqlSafe(format!(
            "{REVIEWER_SELECT} WHERE r.tenant_id = $1 AND r.subject = $2"
        )),
        subject,
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn list(tx: &mut Tx, after: &str, limit: i64) -> Result<(Vec<ReviewerRow>, Total)> {
    // The reviewer roster, tens of people: counted exactly before the
    // page's cursor.
    let mut w = Where::tenant("r.tenant_id", tx.tenant());
    let total = w.count(tx, "reviewers r").await?;
    w.compare("r.id", ">", after);
    let limit = w.param(limit);
    let sql = format!("{REVIEWER_SELECT} {} ORDER BY r.id LIMIT {limit}", w.sql());
    let rows: Vec<StoredReviewer> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(ReviewerRow::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}
