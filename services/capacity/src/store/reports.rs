//! What the activity report reads: the completed courses of a period, their
//! participants and certificates, and the consultations held — each counted
//! by the database (GROUP BY), so a report returns a few rows per kind,
//! branch and gender however many records the period holds, and binds the
//! same few values whatever their number. The participants are the one
//! figure counted ahead: a completed course's are counted once, when it
//! completes (`count_course`), as nothing about them can change after.
//!
//! A period is the dates `from`..=`until` of a course's last session (of a
//! consultation's day), "" for an open end; `branch_id` "" is every branch.
//! Only the bounds that are set are written into the statements, so each is
//! planned on the index of what it filters.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::Result;
use markaz_kit::sql::Where;
use markaz_proto::capacity::v1::{
    AttendanceStatus, ConsultationKind, CourseKind, CourseStatus, EnrolmentStatus,
};
use markaz_proto::common::v1::Gender;
use sqlx::AssertSqlSafe;

use crate::domain::reports::{
    AttendeesCounted, ConsultationsCounted, CoursesCounted, ParticipantsCounted,
};

/// The period of a report.
#[derive(Debug, Clone, Copy)]
pub struct Period<'a> {
    pub from: &'a str,
    pub until: &'a str,
    pub branch_id: &'a str,
}

/// The completed courses of the period (`c`), for statements that count
/// them or what belongs to them.
fn completed_courses(tenant_column: &str, tenant: &str, p: Period<'_>) -> Where {
    let mut w = Where::tenant(tenant_column, tenant);
    w.eq("c.status", CourseStatus::Completed.as_str_name())
        .compare("c.end_date", ">=", p.from)
        .compare("c.end_date", "<=", p.until)
        .eq("c.branch_id", p.branch_id);
    w
}

/// The consultations held in the period (`c`).
fn consultations_held(tenant: &str, p: Period<'_>) -> Where {
    let mut w = Where::tenant("c.tenant_id", tenant);
    w.compare("c.held_on", ">=", p.from)
        .compare("c.held_on", "<=", p.until)
        .eq("c.branch_id", p.branch_id);
    w
}

#[derive(sqlx::FromRow)]
struct CoursesRow {
    kind: String,
    branch_id: String,
    courses: i64,
}

#[tracing::instrument(skip(tx))]
pub async fn courses(tx: &mut Tx, period: Period<'_>) -> Result<Vec<CoursesCounted>> {
    let w = completed_courses("c.tenant_id", tx.tenant(), period);
    let sql = format!(
        "SELECT c.kind, c.branch_id, COUNT(*) AS courses FROM courses c {}
         GROUP BY c.kind, c.branch_id",
        w.sql()
    );
    let rows: Vec<CoursesRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(CoursesCounted {
                kind: stored(&r.kind, CourseKind::from_str_name)?,
                branch_id: r.branch_id,
                courses: r.courses,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct ParticipantsRow {
    kind: String,
    gender: String,
    attended: i64,
    completed: i64,
    people: i64,
}

/// The participants (holding a place) of the completed courses of the
/// period, counted by course kind, gender, presence and completion: the sum
/// of the completed courses' figures (`count_course`), a few rows a course.
#[tracing::instrument(skip(tx))]
pub async fn participants(tx: &mut Tx, period: Period<'_>) -> Result<Vec<ParticipantsCounted>> {
    let mut w = Where::tenant("f.tenant_id", tx.tenant());
    w.compare("f.end_date", ">=", period.from)
        .compare("f.end_date", "<=", period.until)
        .eq("f.branch_id", period.branch_id);
    let sql = format!(
        "SELECT f.kind, f.gender, f.attended, f.completed,
            CAST(SUM(f.people) AS BIGINT) AS people
         FROM course_figures f {}
         GROUP BY f.kind, f.gender, f.attended, f.completed",
        w.sql()
    );
    let rows: Vec<ParticipantsRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ParticipantsCounted {
                kind: stored(&r.kind, CourseKind::from_str_name)?,
                gender: stored(&r.gender, Gender::from_str_name)?,
                attended: r.attended != 0,
                completed: r.completed != 0,
                people: r.people,
            })
        })
        .collect()
}

/// Counts the participants of a course being completed into its figures,
/// once: a completed course's enrolments, attendance and fields no longer
/// change. Those holding a place, by gender, whether they were present at
/// a session and whether they completed; run after the completion rule set
/// `completed`, in the completion's transaction. Migration 0010 counted the
/// courses completed before it with the same statement.
#[tracing::instrument(skip(tx))]
pub async fn count_course(tx: &mut Tx, course_id: &str) -> Result<()> {
    let mut w = Where::tenant("e.tenant_id", tx.tenant());
    w.eq_always("e.course_id", course_id)
        .eq("c.status", CourseStatus::Completed.as_str_name())
        .eq("e.status", EnrolmentStatus::Enrolled.as_str_name());
    let present = w.param(AttendanceStatus::Present.as_str_name().to_owned());
    let sql = format!(
        "INSERT INTO course_figures
            (tenant_id, course_id, end_date, branch_id, kind, gender, attended, completed, people)
         SELECT tenant_id, course_id, end_date, branch_id, kind, gender, attended, completed,
            COUNT(*)
         FROM (
            SELECT c.tenant_id, c.id AS course_id, c.end_date, c.branch_id, c.kind, e.gender,
                e.completed,
                CAST(CASE WHEN EXISTS (SELECT 1 FROM attendance a
                    WHERE a.tenant_id = e.tenant_id AND a.enrolment_id = e.id
                      AND a.status = {present}) THEN 1 ELSE 0 END AS BIGINT) AS attended
            FROM enrolments e
            JOIN courses c ON c.tenant_id = e.tenant_id AND c.id = e.course_id
            {}
         ) x
         GROUP BY tenant_id, course_id, end_date, branch_id, kind, gender, attended, completed",
        w.sql()
    );
    sqlx::query_with(AssertSqlSafe(sql), w.arguments()?)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Certificates in force of the completed courses of the period.
#[tracing::instrument(skip(tx))]
pub async fn certificates_in_force(tx: &mut Tx, period: Period<'_>) -> Result<i64> {
    let mut w = completed_courses("x.tenant_id", tx.tenant(), period);
    w.fixed("x.revoked_at IS NULL");
    let sql = format!(
        "SELECT COUNT(*) FROM certificates x
         JOIN courses c ON c.tenant_id = x.tenant_id AND c.id = x.course_id {}",
        w.sql()
    );
    let n: i64 = sqlx::query_scalar_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_one(tx.conn())
        .await?;
    Ok(n)
}

#[derive(sqlx::FromRow)]
struct ConsultationsRow {
    kind: String,
    branch_id: String,
    sessions: i64,
}

/// The consultations held in the period, counted by kind and branch.
#[tracing::instrument(skip(tx))]
pub async fn consultations(tx: &mut Tx, period: Period<'_>) -> Result<Vec<ConsultationsCounted>> {
    let w = consultations_held(tx.tenant(), period);
    let sql = format!(
        "SELECT c.kind, c.branch_id, COUNT(*) AS sessions FROM consultations c {}
         GROUP BY c.kind, c.branch_id",
        w.sql()
    );
    let rows: Vec<ConsultationsRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ConsultationsCounted {
                kind: stored(&r.kind, ConsultationKind::from_str_name)?,
                branch_id: r.branch_id,
                sessions: r.sessions,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct AttendeesRow {
    gender: String,
    people: i64,
}

/// The attendees of the consultations held in the period, by gender.
#[tracing::instrument(skip(tx))]
pub async fn consultation_attendees(
    tx: &mut Tx,
    period: Period<'_>,
) -> Result<Vec<AttendeesCounted>> {
    let w = consultations_held(tx.tenant(), period);
    let sql = format!(
        "SELECT a.gender, COUNT(*) AS people FROM consultation_attendees a
         JOIN consultations c ON c.tenant_id = a.tenant_id AND c.id = a.consultation_id {}
         GROUP BY a.gender",
        w.sql()
    );
    let rows: Vec<AttendeesRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(AttendeesCounted {
                gender: stored(&r.gender, Gender::from_str_name)?,
                people: r.people,
            })
        })
        .collect()
}
