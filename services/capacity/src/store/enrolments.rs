//! Enrolments and the waiting list.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_membership_copies::Person;
use markaz_proto::capacity::v1::{EnrolmentStatus, TestKind};
use markaz_proto::common::v1::{AgeBand, Gender};
use sqlx::AssertSqlSafe;

use crate::domain::enrolments::Enrolment;

/// An enrolment with the participant's name (from the copy of the person),
/// the sessions they were present at, their certificate in force and their
/// place in line: one statement for a whole page. Each subquery is answered
/// by one index lookup per row (`attendance_by_enrolment`,
/// `certificates_by_enrolment` — whose `code` serves the MAX, see migration
/// 0003 — and `enrolments_by_course`), never by a walk of the tenant's rows.
const ENROLMENT_SELECT: &str = "SELECT e.id, e.course_id, e.person_id, e.organization_id,
        e.status, e.queue_seq, e.gender, e.age_band, e.completed, e.pre_score, e.post_score,
        e.cancel_reason, e.created_at, e.updated_at,
        COALESCE(p.full_name, '') AS participant_name,
        (SELECT COUNT(*) FROM attendance a WHERE a.tenant_id = e.tenant_id
            AND a.enrolment_id = e.id AND a.status = 'ATTENDANCE_STATUS_PRESENT')
            AS sessions_present,
        COALESCE((SELECT MAX(c.code) FROM certificates c WHERE c.tenant_id = e.tenant_id
            AND c.enrolment_id = e.id AND c.revoked_at IS NULL), '') AS certificate_code,
        CASE WHEN e.status = 'ENROLMENT_STATUS_WAITLISTED' THEN
            (SELECT COUNT(*) FROM enrolments w WHERE w.tenant_id = e.tenant_id
                AND w.course_id = e.course_id AND w.status = 'ENROLMENT_STATUS_WAITLISTED'
                AND w.queue_seq <= e.queue_seq)
            ELSE 0 END AS waitlist_position
     FROM enrolments e
     LEFT JOIN membership_people p ON p.tenant_id = e.tenant_id AND p.id = e.person_id";

#[derive(sqlx::FromRow)]
struct EnrolmentRow {
    id: String,
    course_id: String,
    person_id: String,
    organization_id: String,
    status: String,
    queue_seq: i64,
    gender: String,
    age_band: String,
    completed: i64,
    pre_score: Option<i64>,
    post_score: Option<i64>,
    cancel_reason: String,
    created_at: i64,
    updated_at: i64,
    participant_name: String,
    sessions_present: i64,
    certificate_code: String,
    waitlist_position: i64,
}

impl TryFrom<EnrolmentRow> for Enrolment {
    type Error = Error;
    fn try_from(r: EnrolmentRow) -> Result<Enrolment> {
        Ok(Enrolment {
            status: stored(&r.status, EnrolmentStatus::from_str_name)?,
            gender: stored(&r.gender, Gender::from_str_name)?,
            age_band: stored(&r.age_band, AgeBand::from_str_name)?,
            completed: r.completed != 0,
            pre_score: r.pre_score.map(|s| s as i32),
            post_score: r.post_score.map(|s| s as i32),
            id: r.id,
            course_id: r.course_id,
            person_id: r.person_id,
            organization_id: r.organization_id,
            queue_seq: r.queue_seq,
            cancel_reason: r.cancel_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
            participant_name: r.participant_name,
            sessions_present: r.sessions_present,
            certificate_code: r.certificate_code,
            waitlist_position: r.waitlist_position,
        })
    }
}

fn enrolments(rows: Vec<EnrolmentRow>) -> Result<Vec<Enrolment>> {
    rows.into_iter().map(Enrolment::try_from).collect()
}

/// A new enrolment, as the API decided it.
#[derive(Debug, Clone)]
pub struct NewEnrolment<'a> {
    pub id: &'a str,
    pub course_id: &'a str,
    pub person: &'a Person,
    pub organization_id: &'a str,
    pub status: EnrolmentStatus,
    pub queue_seq: i64,
    pub enrolled_by: &'a str,
}

#[tracing::instrument(skip_all, fields(enrolment = e.id))]
pub async fn insert(tx: &mut Tx, e: &NewEnrolment<'_>) -> Result<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO enrolments (tenant_id, id, course_id, person_id, organization_id, status,
            queue_seq, gender, age_band, completed, pre_score, post_score, cancel_reason,
            enrolled_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, NULL, '', $10, $11, $11)",
    )
    .bind(tx.tenant().to_owned())
    .bind(e.id)
    .bind(e.course_id)
    .bind(&e.person.id)
    .bind(e.organization_id)
    .bind(e.status.as_str_name())
    .bind(e.queue_seq)
    .bind(e.person.gender.as_str_name())
    .bind(e.person.age_band.as_str_name())
    .bind(e.enrolled_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Enrolment>> {
    tx.find_as::<EnrolmentRow, _>(
        AssertSqlSafe(format!(
            "{ENROLMENT_SELECT} WHERE e.tenant_id = $1 AND e.id = $2"
        )),
        id,
    )
    .await
}

/// These enrolments, in queue order, in one statement.
#[tracing::instrument(skip(tx))]
pub async fn by_ids(tx: &mut Tx, ids: &[String]) -> Result<Vec<Enrolment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<EnrolmentRow> = tx.rows_for_ids(
        &format!(
            "{ENROLMENT_SELECT} WHERE e.tenant_id = $1 AND e.id IN ({{ids}}) ORDER BY e.queue_seq"
        ),
        ids,
    )
    .await?;
    enrolments(rows)
}

/// Filters of [`list`]; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct EnrolmentFilter {
    pub course_id: String,
    pub person_id: String,
    pub organization_id: String,
    pub status: String,
    /// Only courses this trainer account trains.
    pub trainer_subject: String,
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    filter: &EnrolmentFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<Enrolment>, Total)> {
    // Only the filters that are set are written, so each combination is
    // planned on its index (`enrolments_by_course_id`, `..._by_person`,
    // `..._by_organization`, `..._by_status`: the filter, then the id the
    // page is ordered by). The same conditions count the list, before the
    // page's cursor.
    let mut w = Where::tenant("e.tenant_id", tx.tenant());
    w.eq("e.course_id", &filter.course_id)
        .eq("e.person_id", &filter.person_id)
        .eq("e.organization_id", &filter.organization_id)
        .eq("e.status", &filter.status)
        .clause(
            "EXISTS (SELECT 1 FROM course_trainers t
                WHERE t.tenant_id = e.tenant_id AND t.course_id = e.course_id
                  AND t.subject = {})",
            &filter.trainer_subject,
        );
    let total = w.count_capped(tx, "enrolments e").await?;
    w.compare("e.id", ">", after);
    let limit = w.param(limit);
    let sql = format!("{ENROLMENT_SELECT} {} ORDER BY e.id LIMIT {limit}", w.sql());
    let rows: Vec<EnrolmentRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((enrolments(rows)?, total))
}

/// Every enrolment of a course, in queue order.
#[tracing::instrument(skip(tx))]
pub async fn of_course(tx: &mut Tx, course_id: &str) -> Result<Vec<Enrolment>> {
    let rows: Vec<EnrolmentRow> = sqlx::query_as(AssertSqlSafe(format!(
        "{ENROLMENT_SELECT} WHERE e.tenant_id = $1 AND e.course_id = $2 ORDER BY e.queue_seq"
    )))
    .bind(tx.tenant().to_owned())
    .bind(course_id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    enrolments(rows)
}

/// How many of the course's enrolments are in `status`.
#[tracing::instrument(skip(tx))]
pub async fn count(tx: &mut Tx, course_id: &str, status: EnrolmentStatus) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM enrolments WHERE tenant_id = $1 AND course_id = $2 AND status = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id.to_owned())
    .bind(status.as_str_name())
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// Whether the person holds a place or waits for one in the course.
#[tracing::instrument(skip(tx))]
pub async fn has_active(tx: &mut Tx, course_id: &str, person_id: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM enrolments WHERE tenant_id = $1 AND course_id = $2
           AND person_id = $3 AND status IN ($4, $5)",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id)
    .bind(person_id)
    .bind(EnrolmentStatus::Enrolled.as_str_name())
    .bind(EnrolmentStatus::Waitlisted.as_str_name())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}

/// The first `limit` on the course's waiting list, in order.
#[tracing::instrument(skip(tx))]
pub async fn first_waiting(tx: &mut Tx, course_id: &str, limit: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM enrolments WHERE tenant_id = $1 AND course_id = $2 AND status = $3
         ORDER BY queue_seq LIMIT $4",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id.to_owned())
    .bind(EnrolmentStatus::Waitlisted.as_str_name())
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Gives these waiting enrolments a place, in one statement.
#[tracing::instrument(skip(tx))]
pub async fn promote(tx: &mut Tx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = (4..ids.len() + 4)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE enrolments SET status = $2, updated_at = $3
         WHERE tenant_id = $1 AND id IN ({list})"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(tx.tenant().to_owned())
        .bind(EnrolmentStatus::Enrolled.as_str_name())
        .bind(now_micros());
    for id in ids {
        q = q.bind(id);
    }
    q.execute(tx.conn()).await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn set_status(
    tx: &mut Tx,
    id: &str,
    status: EnrolmentStatus,
    cancel_reason: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE enrolments SET status = $3, cancel_reason = $4, updated_at = $5
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(status.as_str_name())
    .bind(cancel_reason)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn set_score(tx: &mut Tx, id: &str, kind: TestKind, score: i32) -> Result<()> {
    let sql = match kind {
        TestKind::Pre => {
            "UPDATE enrolments SET pre_score = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2"
        }
        _ => {
            "UPDATE enrolments SET post_score = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2"
        }
    };
    sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(i64::from(score))
        .bind(now_micros())
        .execute(tx.conn())
        .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn set_completed(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE enrolments SET completed = 1, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}
