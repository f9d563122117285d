//! Attendance: the current mark of each participant at each session, and
//! every revision of it.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::capacity::v1::AttendanceStatus;
use sqlx::AssertSqlSafe;

use crate::domain::attendance::{Mark, MarkStatus, RecordedMark};

#[derive(sqlx::FromRow)]
struct MarkRow {
    session_id: String,
    enrolment_id: String,
    person_id: String,
    participant_name: String,
    status: String,
    note: String,
    revision: i64,
    recorded_by: String,
    recorded_at: i64,
}

impl TryFrom<MarkRow> for RecordedMark {
    type Error = Error;
    fn try_from(r: MarkRow) -> Result<RecordedMark> {
        Ok(RecordedMark {
            status: stored(&r.status, AttendanceStatus::from_str_name)?,
            session_id: r.session_id,
            enrolment_id: r.enrolment_id,
            person_id: r.person_id,
            participant_name: r.participant_name,
            note: r.note,
            revision: r.revision,
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at,
        })
    }
}

/// The current marks of a session, in enrolment order.
#[tracing::instrument(skip(tx))]
pub async fn of_session(tx: &mut Tx, session_id: &str) -> Result<Vec<RecordedMark>> {
    let rows: Vec<MarkRow> = sqlx::query_as(
        "SELECT a.session_id, a.enrolment_id, e.person_id,
            COALESCE(p.full_name, '') AS participant_name, a.status, a.note, a.revision,
            a.recorded_by, a.recorded_at
         FROM attendance a
         JOIN enrolments e ON e.tenant_id = a.tenant_id AND e.id = a.enrolment_id
         LEFT JOIN membership_people p ON p.tenant_id = e.tenant_id AND p.id = e.person_id
         WHERE a.tenant_id = $1 AND a.session_id = $2
         ORDER BY e.queue_seq",
    )
    .bind(tx.tenant().to_owned())
    .bind(session_id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(RecordedMark::try_from).collect()
}

/// Records `mark` as revision `revision` of the participant's mark at the
/// session: the current mark is replaced, the revision kept for good.
#[tracing::instrument(skip(tx, mark), fields(enrolment = %mark.enrolment_id))]
pub async fn write(
    tx: &mut Tx,
    course_id: &str,
    session_id: &str,
    mark: &Mark,
    revision: i64,
    recorded_by: &str,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    let now = now_micros();
    sqlx::query(
        "INSERT INTO attendance (tenant_id, session_id, enrolment_id, course_id, status, note,
            revision, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, session_id, enrolment_id) DO UPDATE SET
            status = excluded.status, note = excluded.note, revision = excluded.revision,
            recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )
    .bind(&tenant)
    .bind(session_id)
    .bind(&mark.enrolment_id)
    .bind(course_id)
    .bind(mark.status.as_str_name())
    .bind(&mark.note)
    .bind(revision)
    .bind(recorded_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO attendance_revisions (tenant_id, id, session_id, enrolment_id, revision,
            course_id, status, note, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&tenant)
    .bind(new_id())
    .bind(session_id)
    .bind(&mark.enrolment_id)
    .bind(revision)
    .bind(course_id)
    .bind(mark.status.as_str_name())
    .bind(&mark.note)
    .bind(recorded_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    id: String,
    #[sqlx(flatten)]
    mark: MarkRow,
}

/// The revisions of a session's marks (of one enrolment, if one is named),
/// each with the key it is paged by.
#[tracing::instrument(skip(tx))]
pub async fn revisions(
    tx: &mut Tx,
    session_id: &str,
    enrolment_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<(String, RecordedMark)>, Total)> {
    // One session's revisions, counted exactly by the same conditions,
    // before the page's cursor.
    let mut w = Where::tenant("r.tenant_id", tx.tenant());
    w.eq_always("r.session_id", session_id)
        .eq("r.enrolment_id", enrolment_id);
    let from = "attendance_revisions r
         JOIN enrolments e ON e.tenant_id = r.tenant_id AND e.id = r.enrolment_id";
    let total = w.count(tx, from).await?;
    w.compare("r.id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT r.id, r.session_id, r.enrolment_id, e.person_id,
            COALESCE(p.full_name, '') AS participant_name, r.status, r.note, r.revision,
            r.recorded_by, r.recorded_at
         FROM {from}
         LEFT JOIN membership_people p ON p.tenant_id = e.tenant_id AND p.id = e.person_id
         {} ORDER BY r.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<RevisionRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let revisions = rows
        .into_iter()
        .map(|r| Ok((r.id, RecordedMark::try_from(r.mark)?)))
        .collect::<Result<_>>()?;
    Ok((revisions, total))
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    session_id: String,
    enrolment_id: String,
    status: String,
}

/// Every current mark of a course.
#[tracing::instrument(skip(tx))]
pub async fn of_course(tx: &mut Tx, course_id: &str) -> Result<Vec<MarkStatus>> {
    let rows: Vec<StatusRow> = sqlx::query_as(
        "SELECT session_id, enrolment_id, status FROM attendance
         WHERE tenant_id = $1 AND course_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(MarkStatus {
                status: stored(&r.status, AttendanceStatus::from_str_name)?,
                session_id: r.session_id,
                enrolment_id: r.enrolment_id,
            })
        })
        .collect()
}
