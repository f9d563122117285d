//! What the activity report reads: the completed courses of a period, their
//! participants and certificates, and the consultations held.
//!
//! A period is the dates `from`..=`until` of a course's last session (of a
//! consultation's day), "" for an open end; `branch_id` "" is every branch.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::Result;
use markaz_proto::capacity::v1::{CourseKind, CourseStatus, EnrolmentStatus};
use markaz_proto::common::v1::Gender;

use super::consultations::{self, ConsultationFilter};
use crate::domain::reports::{CompletedCourse, ConsultationHeld, CourseParticipation};

#[derive(sqlx::FromRow)]
struct CompletedCourseRow {
    id: String,
    kind: String,
    branch_id: String,
}

#[tracing::instrument(skip(tx))]
pub async fn completed_courses(
    tx: &mut Tx,
    from: &str,
    until: &str,
    branch_id: &str,
) -> Result<Vec<CompletedCourse>> {
    let rows: Vec<CompletedCourseRow> = sqlx::query_as(
        "SELECT id, kind, branch_id FROM courses
         WHERE tenant_id = $1 AND status = $2
           AND ($3 = '' OR end_date >= $3) AND ($4 = '' OR end_date <= $4)
           AND ($5 = '' OR branch_id = $5)
         ORDER BY id",
    )
    .bind(tx.tenant().to_owned())
    .bind(CourseStatus::Completed.as_str_name())
    .bind(from.to_owned())
    .bind(until.to_owned())
    .bind(branch_id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(CompletedCourse {
                kind: stored(&r.kind, CourseKind::from_str_name)?,
                id: r.id,
                branch_id: r.branch_id,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct ParticipationRow {
    course_id: String,
    kind: String,
    branch_id: String,
    gender: String,
    completed: i64,
    sessions_present: i64,
}

/// The participants (holding a place) of the completed courses of the period.
#[tracing::instrument(skip(tx))]
pub async fn participations(
    tx: &mut Tx,
    from: &str,
    until: &str,
    branch_id: &str,
) -> Result<Vec<CourseParticipation>> {
    let rows: Vec<ParticipationRow> = sqlx::query_as(
        "SELECT c.id AS course_id, c.kind, c.branch_id, e.gender, e.completed,
            (SELECT COUNT(*) FROM attendance a WHERE a.tenant_id = e.tenant_id
                AND a.enrolment_id = e.id AND a.status = 'ATTENDANCE_STATUS_PRESENT')
                AS sessions_present
         FROM enrolments e
         JOIN courses c ON c.tenant_id = e.tenant_id AND c.id = e.course_id
         WHERE e.tenant_id = $1 AND c.status = $2 AND e.status = $3
           AND ($4 = '' OR c.end_date >= $4) AND ($5 = '' OR c.end_date <= $5)
           AND ($6 = '' OR c.branch_id = $6)",
    )
    .bind(tx.tenant().to_owned())
    .bind(CourseStatus::Completed.as_str_name())
    .bind(EnrolmentStatus::Enrolled.as_str_name())
    .bind(from.to_owned())
    .bind(until.to_owned())
    .bind(branch_id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(CourseParticipation {
                kind: stored(&r.kind, CourseKind::from_str_name)?,
                gender: stored(&r.gender, Gender::from_str_name)?,
                course_id: r.course_id,
                branch_id: r.branch_id,
                sessions_present: r.sessions_present,
                completed: r.completed != 0,
            })
        })
        .collect()
}

/// Certificates in force of the completed courses of the period.
#[tracing::instrument(skip(tx))]
pub async fn certificates_in_force(
    tx: &mut Tx,
    from: &str,
    until: &str,
    branch_id: &str,
) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM certificates x
         JOIN courses c ON c.tenant_id = x.tenant_id AND c.id = x.course_id
         WHERE x.tenant_id = $1 AND x.revoked_at IS NULL AND c.status = $2
           AND ($3 = '' OR c.end_date >= $3) AND ($4 = '' OR c.end_date <= $4)
           AND ($5 = '' OR c.branch_id = $5)",
    )
    .bind(tx.tenant().to_owned())
    .bind(CourseStatus::Completed.as_str_name().to_owned())
    .bind(from.to_owned())
    .bind(until.to_owned())
    .bind(branch_id.to_owned())
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// The consultations held in the period.
#[tracing::instrument(skip(tx))]
pub async fn consultations_held(
    tx: &mut Tx,
    from: &str,
    until: &str,
    branch_id: &str,
) -> Result<Vec<ConsultationHeld>> {
    let filter = ConsultationFilter {
        branch_id: branch_id.to_string(),
        held_from: from.to_string(),
        held_until: until.to_string(),
        ..Default::default()
    };
    Ok(consultations::list(tx, &filter, "", i64::MAX)
        .await?
        .into_iter()
        .map(|c| ConsultationHeld {
            kind: c.fields.kind,
            branch_id: c.fields.branch_id,
            attendee_genders: c.attendee_genders,
        })
        .collect())
}
