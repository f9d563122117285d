//! Courses, with their sessions, trainers and places taken, and the lock
//! that serializes a course's writers.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::capacity::v1::{Audience, CourseKind, CourseStatus, EnrolmentStatus};
use markaz_proto::common::v1::LocalizedText;
use sqlx::AssertSqlSafe;

use super::{AnyQuery, codes_of, codes_text, flag, row, versioned, with_children};
use crate::domain::courses::{CompletionRule, Course, CourseFields, Locked, Session, TrainerSpec};

const COURSE_COLUMNS: &str = "id, kind, title_ar, title_en, description_ar, description_en, \
     topic_codes, branch_id, venue, capacity, audience, status, min_attendance_percent, \
     min_post_test_score, cancel_reason, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct CourseRow {
    id: String,
    kind: String,
    title_ar: String,
    title_en: String,
    description_ar: String,
    description_en: String,
    topic_codes: String,
    branch_id: String,
    venue: String,
    #[sqlx(try_from = "i64")]
    capacity: i32,
    audience: String,
    status: String,
    #[sqlx(try_from = "i64")]
    min_attendance_percent: i32,
    #[sqlx(try_from = "i64")]
    min_post_test_score: i32,
    cancel_reason: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    course_id: String,
    #[sqlx(try_from = "i64")]
    number: i32,
    #[sqlx(try_from = "String")]
    session_date: Date,
}

#[derive(sqlx::FromRow)]
struct TrainerRow {
    course_id: String,
    name: String,
    subject: String,
    external: i64,
}

#[derive(sqlx::FromRow)]
struct PlacesRow {
    course_id: String,
    status: String,
    n: i64,
}

/// What a course row is read with: its children, loaded for a whole page.
#[derive(Default)]
struct CourseParts {
    sessions: Vec<Session>,
    trainers: Vec<TrainerSpec>,
    enrolled: i64,
    waitlisted: i64,
}

impl TryFrom<(CourseRow, CourseParts)> for Course {
    type Error = Error;
    fn try_from((r, parts): (CourseRow, CourseParts)) -> Result<Course> {
        if parts.sessions.is_empty() {
            return Err(Error::internal(format!("course {} has no sessions", r.id)));
        }
        let fields = CourseFields {
            kind: stored(&r.kind, CourseKind::from_str_name)?,
            title: LocalizedText {
                ar: r.title_ar,
                en: r.title_en,
            },
            description: LocalizedText {
                ar: r.description_ar,
                en: r.description_en,
            },
            topic_codes: codes_of(&r.topic_codes),
            branch_id: r.branch_id,
            venue: r.venue,
            sessions: parts.sessions.iter().map(|s| s.date).collect(),
            capacity: r.capacity,
            trainers: parts.trainers,
            audience: stored(&r.audience, Audience::from_str_name)?,
            rule: CompletionRule {
                min_attendance_percent: r.min_attendance_percent,
                min_post_test_score: r.min_post_test_score,
            },
        };
        Ok(Course {
            id: r.id,
            fields,
            sessions: parts.sessions,
            status: stored(&r.status, CourseStatus::from_str_name)?,
            cancel_reason: r.cancel_reason,
            enrolled: parts.enrolled,
            waitlisted: parts.waitlisted,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Session ids for `dates`: a date the course had keeps its session's id.
fn session_ids(current: &[Session], dates: &[Date]) -> Vec<Session> {
    dates
        .iter()
        .enumerate()
        .map(|(i, d)| Session {
            id: current
                .iter()
                .find(|s| s.date == *d)
                .map(|s| s.id.clone())
                .unwrap_or_else(new_id),
            number: i as i32 + 1,
            date: *d,
        })
        .collect()
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, id: &str, f: &CourseFields) -> Result<Course> {
    let now = now_micros();
    bind_fields(
        sqlx::query(
            "INSERT INTO courses (tenant_id, id, kind, title_ar, title_en, description_ar,
                description_en, topic_codes, branch_id, venue, start_date, end_date, capacity,
                audience, min_attendance_percent, min_post_test_score, status, cancel_reason,
                serial, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                '', 0, 1, $18, $18)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id),
        f,
    )
    .bind(CourseStatus::Planned.as_str_name())
    .bind(now)
    .execute(tx.conn())
    .await?;
    let sessions = session_ids(&[], &f.sessions);
    write_parts(tx, id, f, &sessions).await?;
    Ok(Course {
        id: id.to_string(),
        fields: f.clone(),
        sessions,
        status: CourseStatus::Planned,
        cancel_reason: String::new(),
        enrolled: 0,
        waitlisted: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// Binds the settable fields of a course as `$3`..`$16`, in the order both
/// the INSERT and the UPDATE name them.
fn bind_fields<'q>(q: AnyQuery<'q>, f: &'q CourseFields) -> AnyQuery<'q> {
    q.bind(f.kind.as_str_name())
        .bind(&f.title.ar)
        .bind(&f.title.en)
        .bind(&f.description.ar)
        .bind(&f.description.en)
        .bind(codes_text(&f.topic_codes))
        .bind(&f.branch_id)
        .bind(&f.venue)
        .bind(f.start().to_string())
        .bind(f.end().to_string())
        .bind(i64::from(f.capacity))
        .bind(f.audience.as_str_name())
        .bind(i64::from(f.rule.min_attendance_percent))
        .bind(i64::from(f.rule.min_post_test_score))
}

/// Replaces the sessions and trainers of a course.
async fn write_parts(tx: &mut Tx, id: &str, f: &CourseFields, sessions: &[Session]) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query("DELETE FROM course_sessions WHERE tenant_id = $1 AND course_id = $2")
        .bind(&tenant)
        .bind(id)
        .execute(tx.conn())
        .await?;
    for s in sessions {
        sqlx::query(
            "INSERT INTO course_sessions (tenant_id, id, course_id, number, session_date)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&tenant)
        .bind(&s.id)
        .bind(id)
        .bind(i64::from(s.number))
        .bind(s.date.to_string())
        .execute(tx.conn())
        .await?;
    }
    sqlx::query("DELETE FROM course_trainers WHERE tenant_id = $1 AND course_id = $2")
        .bind(&tenant)
        .bind(id)
        .execute(tx.conn())
        .await?;
    for (ordinal, t) in f.trainers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO course_trainers (tenant_id, course_id, ordinal, name, subject, external)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&tenant)
        .bind(id)
        .bind(ordinal as i64)
        .bind(&t.name)
        .bind(&t.subject)
        .bind(flag(t.external))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Course rows with their sessions, trainers and places taken, in the rows'
/// order: three statements for the whole page, whatever its size.
async fn with_parts(tx: &mut Tx, rows: Vec<CourseRow>) -> Result<Vec<Course>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut parts: HashMap<String, CourseParts> = HashMap::new();
    let sessions: Vec<SessionRow> = tx
        .rows_for_ids(
            "SELECT id, course_id, number, session_date FROM course_sessions
         WHERE tenant_id = $1 AND course_id IN ({ids}) ORDER BY course_id, number",
            &ids,
        )
        .await?;
    for s in sessions {
        parts
            .entry(s.course_id)
            .or_default()
            .sessions
            .push(Session {
                id: s.id,
                number: s.number,
                date: s.session_date,
            });
    }
    let trainers: Vec<TrainerRow> = tx
        .rows_for_ids(
            "SELECT course_id, name, subject, external FROM course_trainers
         WHERE tenant_id = $1 AND course_id IN ({ids}) ORDER BY course_id, ordinal",
            &ids,
        )
        .await?;
    for t in trainers {
        parts
            .entry(t.course_id)
            .or_default()
            .trainers
            .push(TrainerSpec {
                name: t.name,
                subject: t.subject,
                external: t.external != 0,
            });
    }
    let places: Vec<PlacesRow> = tx
        .rows_for_ids(
            "SELECT course_id, status, COUNT(*) AS n FROM enrolments
         WHERE tenant_id = $1 AND course_id IN ({ids}) GROUP BY course_id, status",
            &ids,
        )
        .await?;
    for p in places {
        let course = parts.entry(p.course_id).or_default();
        match EnrolmentStatus::from_str_name(&p.status) {
            Some(EnrolmentStatus::Enrolled) => course.enrolled = p.n,
            Some(EnrolmentStatus::Waitlisted) => course.waitlisted = p.n,
            _ => {}
        }
    }
    with_children(rows, parts, |r| &r.id)
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Course>> {
    let sql = format!("SELECT {COURSE_COLUMNS} FROM courses WHERE tenant_id = $1 AND id = $2");
    let row: Option<CourseRow> = row(tx, &sql, id).await?;
    Ok(with_parts(tx, row.into_iter().collect()).await?.pop())
}

/// Filters of [`list`]; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct CourseFilter {
    pub status: String,
    pub kind: String,
    pub branch_id: String,
    /// A [`super::code_pattern`], or "".
    pub topic: String,
    pub audience: String,
    pub starts_from: String,
    pub starts_until: String,
    pub trainer_subject: String,
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    filter: &CourseFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<Course>, Total)> {
    // Only the filters that are set are written: each on its index. The
    // same conditions count the list, before the page's cursor.
    let mut w = Where::tenant("c.tenant_id", tx.tenant());
    w.eq("c.status", &filter.status)
        .eq("c.kind", &filter.kind)
        .eq("c.branch_id", &filter.branch_id)
        .compare("c.topic_codes", "LIKE", &filter.topic)
        .eq("c.audience", &filter.audience)
        .compare("c.start_date", ">=", &filter.starts_from)
        .compare("c.start_date", "<=", &filter.starts_until)
        .clause(
            "EXISTS (SELECT 1 FROM course_trainers t
                WHERE t.tenant_id = c.tenant_id AND t.course_id = c.id AND t.subject = {})",
            &filter.trainer_subject,
        );
    let total = w.count_capped(tx, "courses c").await?;
    w.compare("c.id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {COURSE_COLUMNS} FROM courses c {} ORDER BY c.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<CourseRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((with_parts(tx, rows).await?, total))
}

/// Replaces the settable fields; the caller checked the version.
#[tracing::instrument(skip_all)]
pub async fn update(tx: &mut Tx, current: &Course, f: &CourseFields) -> Result<Course> {
    let now = now_micros();
    versioned(
        tx,
        bind_fields(
            sqlx::query(
                "UPDATE courses SET kind = $3, title_ar = $4, title_en = $5, description_ar = $6,
                    description_en = $7, topic_codes = $8, branch_id = $9, venue = $10,
                    start_date = $11, end_date = $12, capacity = $13, audience = $14,
                    min_attendance_percent = $15, min_post_test_score = $16,
                    version = version + 1, updated_at = $17
                 WHERE tenant_id = $1 AND id = $2 AND version = $18",
            )
            .bind(tx.tenant().to_owned())
            .bind(&current.id),
            f,
        )
        .bind(now)
        .bind(current.version),
    )
    .await?;
    let sessions = session_ids(&current.sessions, &f.sessions);
    write_parts(tx, &current.id, f, &sessions).await?;
    Ok(Course {
        fields: f.clone(),
        sessions,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// Moves the course to `to`; the caller checked the transition.
#[tracing::instrument(skip(tx, current), fields(course = %current.id))]
pub async fn set_status(
    tx: &mut Tx,
    current: &Course,
    to: CourseStatus,
    cancel_reason: &str,
) -> Result<Course> {
    let now = now_micros();
    versioned(
        tx,
        sqlx::query(
            "UPDATE courses SET status = $3, cancel_reason = $4, version = version + 1,
                updated_at = $5
             WHERE tenant_id = $1 AND id = $2 AND version = $6",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(to.as_str_name())
        .bind(cancel_reason)
        .bind(now)
        .bind(current.version),
    )
    .await?;
    Ok(Course {
        status: to,
        cancel_reason: cancel_reason.to_string(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

#[derive(sqlx::FromRow)]
struct LockedRow {
    serial: i64,
    status: String,
    #[sqlx(try_from = "i64")]
    capacity: i32,
    audience: String,
}

impl TryFrom<LockedRow> for Locked {
    type Error = Error;
    fn try_from(r: LockedRow) -> Result<Locked> {
        Ok(Locked {
            serial: r.serial,
            status: stored(&r.status, CourseStatus::from_str_name)?,
            capacity: r.capacity,
            audience: stored(&r.audience, Audience::from_str_name)?,
        })
    }
}

/// Serializes the writers of one course: the UPDATE takes the row lock on
/// PostgreSQL (SQLite has a single writer anyway) until the transaction
/// ends, and returns the course's state as of now.
#[tracing::instrument(skip(tx))]
pub async fn lock(tx: &mut Tx, id: &str) -> Result<Option<Locked>> {
    tx.find_as::<LockedRow, _>(
        "UPDATE courses SET serial = serial + 1 WHERE tenant_id = $1 AND id = $2
         RETURNING serial, status, capacity, audience",
        id,
    )
    .await
}

/// Whether `subject` is one of the course's trainers.
#[tracing::instrument(skip(tx))]
pub async fn is_trainer(tx: &mut Tx, course_id: &str, subject: &str) -> Result<bool> {
    if subject.is_empty() {
        return Ok(false);
    }
    let row = sqlx::query(
        "SELECT 1 AS one FROM course_trainers WHERE tenant_id = $1 AND course_id = $2
           AND subject = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id)
    .bind(subject)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}
