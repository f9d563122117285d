//! Training suggestions from the public.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::capacity::v1::SuggestionStatus;
use sqlx::AssertSqlSafe;

use super::{codes_of, codes_text, versioned};
use crate::domain::suggestions::{Suggestion, SuggestionFields};

const SUGGESTION_COLUMNS: &str = "id, title, description, topic_codes, suggested_by, contact, \
     status, triage_note, triaged_by, course_id, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct SuggestionRow {
    id: String,
    title: String,
    description: String,
    topic_codes: String,
    suggested_by: String,
    contact: String,
    status: String,
    triage_note: String,
    triaged_by: String,
    course_id: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<SuggestionRow> for Suggestion {
    type Error = Error;
    fn try_from(r: SuggestionRow) -> Result<Suggestion> {
        Ok(Suggestion {
            status: stored(&r.status, SuggestionStatus::from_str_name)?,
            fields: SuggestionFields {
                title: r.title,
                description: r.description,
                topic_codes: codes_of(&r.topic_codes),
                suggested_by: r.suggested_by,
                contact: r.contact,
            },
            id: r.id,
            triage_note: r.triage_note,
            triaged_by: r.triaged_by,
            course_id: r.course_id,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, id: &str, f: &SuggestionFields) -> Result<Suggestion> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO suggestions (tenant_id, id, title, description, topic_codes, suggested_by,
            contact, status, triage_note, triaged_by, course_id, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', '', '', 1, $9, $9)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(&f.title)
    .bind(&f.description)
    .bind(codes_text(&f.topic_codes))
    .bind(&f.suggested_by)
    .bind(&f.contact)
    .bind(SuggestionStatus::New.as_str_name())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(Suggestion {
        id: id.to_string(),
        fields: f.clone(),
        status: SuggestionStatus::New,
        triage_note: String::new(),
        triaged_by: String::new(),
        course_id: String::new(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Suggestion>> {
    tx.find_as::<SuggestionRow, _>(
        AssertSqlSafe(format!(
            "SELECT {SUGGESTION_COLUMNS} FROM suggestions WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    status: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<Suggestion>, Total)> {
    // Only the filter that is set is written: `suggestions_by_status`. The
    // same condition counts the list, before the page's cursor; capped, as
    // anyone may send suggestions.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("status", status);
    let total = w.count_capped(tx, "suggestions").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {SUGGESTION_COLUMNS} FROM suggestions {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<SuggestionRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(Suggestion::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// What staff decided of a suggestion.
#[derive(Debug, Clone)]
pub struct Triage<'a> {
    pub status: SuggestionStatus,
    pub note: &'a str,
    pub by: &'a str,
    pub course_id: &'a str,
}

/// Records the decision. The sender's name and contact go in the same
/// write: they are kept only until the suggestion is triaged.
#[tracing::instrument(skip(tx, current, t), fields(suggestion = %current.id))]
pub async fn triage(tx: &mut Tx, current: &Suggestion, t: &Triage<'_>) -> Result<Suggestion> {
    let now = now_micros();
    versioned(
        tx,
        sqlx::query(
            "UPDATE suggestions SET status = $3, triage_note = $4, triaged_by = $5, course_id = $6,
                suggested_by = '', contact = '', version = version + 1, updated_at = $7
             WHERE tenant_id = $1 AND id = $2 AND version = $8",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(t.status.as_str_name())
        .bind(t.note)
        .bind(t.by)
        .bind(t.course_id)
        .bind(now)
        .bind(current.version),
    )
    .await?;
    Ok(Suggestion {
        status: t.status,
        triage_note: t.note.to_string(),
        triaged_by: t.by.to_string(),
        course_id: t.course_id.to_string(),
        version: current.version + 1,
        updated_at: now,
        fields: SuggestionFields {
            suggested_by: String::new(),
            contact: String::new(),
            ..current.fields.clone()
        },
        ..current.clone()
    })
}
