//! Requests for a consultation from the public: stored, triaged and purged
//! as suggestions are ([`super::suggestions`]).

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::capacity::v1::{ConsultationKind, ConsultationRequestStatus};
use sqlx::AssertSqlSafe;

use super::{codes_of, codes_text, versioned};
use crate::domain::consultation_requests::{ConsultationRequest, RequestFields};

const REQUEST_COLUMNS: &str = "id, requester_name, contact, organization_name, kind, \
     topic_codes, description, status, triage_note, triaged_by, consultation_id, version, \
     created_at, updated_at";

#[derive(sqlx::FromRow)]
struct RequestRow {
    id: String,
    requester_name: String,
    contact: String,
    organization_name: String,
    kind: String,
    topic_codes: String,
    description: String,
    status: String,
    triage_note: String,
    triaged_by: String,
    consultation_id: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RequestRow> for ConsultationRequest {
    type Error = Error;
    fn try_from(r: RequestRow) -> Result<ConsultationRequest> {
        Ok(ConsultationRequest {
            status: stored(&r.status, ConsultationRequestStatus::from_str_name)?,
            fields: RequestFields {
                requester_name: r.requester_name,
                contact: r.contact,
                organization_name: r.organization_name,
                kind: stored(&r.kind, ConsultationKind::from_str_name)?,
                topic_codes: codes_of(&r.topic_codes),
                description: r.description,
            },
            id: r.id,
            triage_note: r.triage_note,
            triaged_by: r.triaged_by,
            consultation_id: r.consultation_id,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, id: &str, f: &RequestFields) -> Result<ConsultationRequest> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO consultation_requests (tenant_id, id, requester_name, contact,
            organization_name, kind, topic_codes, description, status, triage_note, triaged_by,
            consultation_id, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', '', '', 1, $10, $10)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(&f.requester_name)
    .bind(&f.contact)
    .bind(&f.organization_name)
    .bind(f.kind.as_str_name())
    .bind(codes_text(&f.topic_codes))
    .bind(&f.description)
    .bind(ConsultationRequestStatus::New.as_str_name())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(ConsultationRequest {
        id: id.to_string(),
        fields: f.clone(),
        status: ConsultationRequestStatus::New,
        triage_note: String::new(),
        triaged_by: String::new(),
        consultation_id: String::new(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ConsultationRequest>> {
    tx.find_as::<RequestRow, _>(
        AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM consultation_requests WHERE tenant_id = $1 AND id = $2"
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
) -> Result<(Vec<ConsultationRequest>, Total)> {
    // Only the filter that is set is written: `consultation_requests_by_status`.
    // The same condition counts the list, before the page's cursor; capped,
    // as anyone may send requests.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("status", status);
    let total = w.count_capped(tx, "consultation_requests").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM consultation_requests {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<RequestRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(ConsultationRequest::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// What staff decided of a request.
#[derive(Debug, Clone)]
pub struct Triage<'a> {
    pub status: ConsultationRequestStatus,
    pub note: &'a str,
    pub by: &'a str,
    /// The consultation linked after this decision ("" for none).
    pub consultation_id: &'a str,
}

/// Records the decision. The requester's name and contact go in the same
/// write: they are kept only until the request is triaged.
#[tracing::instrument(skip(tx, current, t), fields(request = %current.id))]
pub async fn triage(
    tx: &mut Tx,
    current: &ConsultationRequest,
    t: &Triage<'_>,
) -> Result<ConsultationRequest> {
    let now = now_micros();
    versioned(
        tx,
        sqlx::query(
            "UPDATE consultation_requests SET status = $3, triage_note = $4, triaged_by = $5,
                consultation_id = $6, requester_name = '', contact = '', version = version + 1,
                updated_at = $7
             WHERE tenant_id = $1 AND id = $2 AND version = $8",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(t.status.as_str_name())
        .bind(t.note)
        .bind(t.by)
        .bind(t.consultation_id)
        .bind(now)
        .bind(current.version),
    )
    .await?;
    Ok(ConsultationRequest {
        status: t.status,
        triage_note: t.note.to_string(),
        triaged_by: t.by.to_string(),
        consultation_id: t.consultation_id.to_string(),
        version: current.version + 1,
        updated_at: now,
        fields: RequestFields {
            requester_name: String::new(),
            contact: String::new(),
            ..current.fields.clone()
        },
        ..current.clone()
    })
}
