//! Courses and their life cycle: planned → open → running → completed, or
//! cancelled before the end.

use std::collections::HashSet;

use markaz_kit::auth::{Caller, Role};
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id, update_mask};
use markaz_kit::time::timestamp;
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{Audience, CourseKind, CourseStatus};
use markaz_proto::events::v1 as ev;

use super::{CapacityApi, enum_filter, optional_date, optional_slug};
use crate::domain::attendance::missing_marks;
use crate::domain::courses::{
    COURSE_MASK, Course, Session, changed_fields, check_course_transition, check_course_update,
    course_kind_word, course_status_word, merge_course, parse_course,
};
use crate::domain::topics::parse_code;
use crate::domain::{NAME_MAX, PROSE_MAX};
use crate::store;
use crate::store::courses::CourseFilter;

pub(crate) async fn create(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::CreateCourseRequest,
) -> Result<api::Course> {
    let (fields, idempotency) = (
        parse_course(
            "course",
            req.course.as_ref().unwrap_or(&api::Course::default()),
        ),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    capacity.seed_in(&mut tx).await?;
    super::topics::check_codes(&mut tx, "course.topic_codes", &fields.topic_codes, &[]).await?;
    let id = new_id();
    let course = store::courses::insert(&mut tx, &id, &fields).await?;
    tx.publish(&id, &event(&course)).await?;
    let reply = proto(&course);
    idempotency.commit(tx, &id, &reply).await?;
    capacity.seeded(&caller.tenant);
    tracing::info!(course = %id, "course scheduled");
    Ok(reply)
}

pub(crate) async fn get(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::GetCourseRequest,
) -> Result<api::Course> {
    let id = parse_id("id", &req.id)?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    Ok(proto(&find(&mut tx, &id).await?))
}

pub(crate) async fn list(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListCoursesRequest,
) -> Result<api::ListCoursesResponse> {
    let (status, kind, branch_id, topic, audience, starts_from, starts_until, trainer_subject) = (
        enum_filter("status", req.status, CourseStatus::as_str_name),
        enum_filter("kind", req.kind, CourseKind::as_str_name),
        optional_slug("branch_id", &req.branch_id),
        topic_filter(&req.topic_code),
        enum_filter("audience", req.audience, Audience::as_str_name),
        optional_date("starts_from", req.starts_from.as_ref()),
        optional_date("starts_until", req.starts_until.as_ref()),
        validate::line("trainer_subject", &req.trainer_subject, NAME_MAX, false),
    )
        .all()?;
    let filter = CourseFilter {
        status,
        kind,
        branch_id,
        topic,
        audience,
        starts_from,
        starts_until,
        trainer_subject,
    };
    let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let (mut courses, total) =
        store::courses::list(&mut tx, &filter, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut courses, |c| c.id.clone());
    Ok(api::ListCoursesResponse {
        courses: courses.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

/// The courses of one topic: the pattern that finds its code ("" for any).
fn topic_filter(code: &str) -> Result<String> {
    if code.is_empty() {
        return Ok(String::new());
    }
    Ok(store::code_pattern(&parse_code("topic_code", code)?))
}

pub(crate) async fn update(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::UpdateCourseRequest,
) -> Result<api::Course> {
    let sent = req.course.unwrap_or_default();
    let id = parse_id("course.id", &sent.id)?;
    let mask = update_mask(req.update_mask.as_ref(), COURSE_MASK)?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    check_etag("course.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current);
    merge_course(&mut merged, &sent, &mask);
    let fields = parse_course("course", &merged)?;
    capacity.seed_in(&mut tx).await?;
    super::topics::check_codes(
        &mut tx,
        "course.topic_codes",
        &fields.topic_codes,
        &current.fields.topic_codes,
    )
    .await?;
    let changed = changed_fields(&current.fields, &fields);
    if changed.is_empty() {
        return Ok(proto(&current));
    }
    check_course_update(current.status, &changed)?;
    if i64::from(fields.capacity) < current.enrolled {
        return Err(Error::precondition(
            "CAPACITY_BELOW_ENROLLED",
            format!("courses/{id}"),
            format!(
                "{} participants hold a place; the capacity cannot go below that",
                current.enrolled
            ),
        ));
    }
    if changed.contains(&"audience") && current.enrolled + current.waitlisted > 0 {
        return Err(Error::precondition(
            "AUDIENCE_FIXED",
            format!("courses/{id}"),
            "the audience cannot change once people have enrolled",
        ));
    }
    let course = store::courses::update(&mut tx, &current, &fields).await?;
    if fields.capacity > current.fields.capacity {
        super::enrolments::promote(&mut tx, &id, fields.capacity).await?;
    }
    tx.publish(&id, &event(&course)).await?;
    let course = find(&mut tx, &id).await?;
    tx.commit().await?;
    capacity.seeded(&caller.tenant);
    Ok(proto(&course))
}

pub(crate) async fn open(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::OpenCourseRequest,
) -> Result<api::Course> {
    move_course(
        capacity,
        &caller,
        &req.id,
        &req.etag,
        CourseStatus::Open,
        "",
    )
    .await
}

pub(crate) async fn start(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::StartCourseRequest,
) -> Result<api::Course> {
    move_course(
        capacity,
        &caller,
        &req.id,
        &req.etag,
        CourseStatus::Running,
        "",
    )
    .await
}

pub(crate) async fn complete(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::CompleteCourseRequest,
) -> Result<api::Course> {
    move_course(
        capacity,
        &caller,
        &req.id,
        &req.etag,
        CourseStatus::Completed,
        "",
    )
    .await
}

pub(crate) async fn cancel(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::CancelCourseRequest,
) -> Result<api::Course> {
    move_course(
        capacity,
        &caller,
        &req.id,
        &req.etag,
        CourseStatus::Cancelled,
        &req.reason,
    )
    .await
}

/// A move in the course life cycle, with what each move needs and does.
async fn move_course(
    capacity: &CapacityApi,
    caller: &Caller,
    id: &str,
    sent_etag: &str,
    to: CourseStatus,
    reason: &str,
) -> Result<api::Course> {
    let (id, reason) = (
        parse_id("id", id),
        if to == CourseStatus::Cancelled {
            validate::prose("reason", reason, PROSE_MAX, true)
        } else {
            Ok(String::new())
        },
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    check_etag("etag", sent_etag, current.version)?;
    check_course_transition(current.status, to)?;
    if to == CourseStatus::Running && current.enrolled == 0 {
        return Err(Error::precondition(
            "NO_PARTICIPANTS",
            format!("courses/{id}"),
            "nobody holds a place in this course yet",
        ));
    }
    if to == CourseStatus::Completed {
        check_attendance_complete(&mut tx, &current).await?;
    }
    let course = store::courses::set_status(&mut tx, &current, to, &reason).await?;
    tx.publish(&id, &event(&course)).await?;
    if to == CourseStatus::Completed {
        super::certificates::issue_on_completion(&mut tx, &course).await?;
    }
    let course = find(&mut tx, &id).await?;
    tx.commit().await?;
    tracing::info!(course = %id, status = course_status_word(to), "course moved");
    Ok(proto(&course))
}

/// Most participants a refusal lists per session; the rest are counted.
const MISSING_LISTED: usize = 10;

/// Every participant holding a place must have a mark (present, absent or
/// excused) at every session before the rule is applied: the rule would
/// count the unmarked as absent, and CourseCompleted cannot be taken back.
/// Marks of cancelled enrolments do not stand in for anyone's.
async fn check_attendance_complete(tx: &mut Tx, course: &Course) -> Result<()> {
    let holding: Vec<String> = store::enrolments::of_course(tx, &course.id)
        .await?
        .into_iter()
        .filter(|e| e.holds_a_place())
        .map(|e| e.id)
        .collect();
    if holding.is_empty() {
        return Err(Error::precondition(
            "NO_PARTICIPANTS",
            format!("courses/{}", course.id),
            "nobody holds a place in this course; cancel it rather than complete it",
        ));
    }
    let marked: HashSet<(String, String)> = store::attendance::of_course(tx, &course.id)
        .await?
        .into_iter()
        .map(|m| (m.session_id, m.enrolment_id))
        .collect();
    let sessions: Vec<String> = course.sessions.iter().map(|s| s.id.clone()).collect();
    let missing = missing_marks(&sessions, &holding, &marked);
    if missing.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = missing
        .iter()
        .map(|(i, enrolments)| {
            let s = &course.sessions[*i];
            let mut who = enrolments
                .iter()
                .take(MISSING_LISTED)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if enrolments.len() > MISSING_LISTED {
                who.push_str(&format!(" and {} more", enrolments.len() - MISSING_LISTED));
            }
            format!(
                "session {} ({}, sessions/{}): enrolments {who}",
                s.number, s.date, s.id
            )
        })
        .collect();
    Err(Error::precondition(
        "ATTENDANCE_MISSING",
        format!("courses/{}", course.id),
        format!(
            "attendance is not recorded for everyone holding a place; mark them present, \
             absent or excused first: {}",
            listed.join("; ")
        ),
    ))
}

/// The course, or NOT_FOUND.
pub(crate) async fn find(tx: &mut Tx, id: &str) -> Result<Course> {
    store::courses::get(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("course", id))
}

/// The course, read under its row lock: writers that decide on its state
/// (status, places taken) see it as committed and keep it so until they end.
pub(crate) async fn lock_and_find(tx: &mut Tx, id: &str) -> Result<Course> {
    store::courses::lock(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("course", id))?;
    find(tx, id).await
}

/// Staff, or a trainer of this course.
pub(crate) async fn require_teaching(tx: &mut Tx, caller: &Caller, course_id: &str) -> Result<()> {
    if caller.is_staff()
        || (caller.has(Role::Trainer)
            && store::courses::is_trainer(tx, course_id, &caller.subject).await?)
    {
        return Ok(());
    }
    Err(Error::permission_denied(
        "only staff and the course's own trainers may do this",
    ))
}

pub(crate) fn session_proto(s: &Session) -> api::Session {
    api::Session {
        id: s.id.clone(),
        date: Some(s.date.to_proto()),
        number: s.number,
    }
}

pub(crate) fn proto(c: &Course) -> api::Course {
    let f = &c.fields;
    api::Course {
        id: c.id.clone(),
        kind: f.kind as i32,
        title: Some(f.title.clone()),
        description: Some(f.description.clone()),
        topic_codes: f.topic_codes.clone(),
        branch_id: f.branch_id.clone(),
        venue: f.venue.clone(),
        sessions: c.sessions.iter().map(session_proto).collect(),
        start_date: Some(f.start().to_proto()),
        end_date: Some(f.end().to_proto()),
        capacity: f.capacity,
        trainers: f
            .trainers
            .iter()
            .map(|t| api::Trainer {
                name: t.name.clone(),
                subject: t.subject.clone(),
                external: t.external,
            })
            .collect(),
        audience: f.audience as i32,
        status: c.status as i32,
        completion_rule: Some(api::CompletionRule {
            min_attendance_percent: f.rule.min_attendance_percent,
            min_post_test_score: f.rule.min_post_test_score,
        }),
        enrolled_count: c.enrolled as i32,
        waitlisted_count: c.waitlisted as i32,
        cancel_reason: c.cancel_reason.clone(),
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        etag: etag(c.version),
    }
}

fn event(c: &Course) -> ev::CourseScheduled {
    let f = &c.fields;
    ev::CourseScheduled {
        course_id: c.id.clone(),
        kind: course_kind_word(f.kind).into(),
        title: Some(f.title.clone()),
        topic_codes: f.topic_codes.clone(),
        branch_id: f.branch_id.clone(),
        venue: f.venue.clone(),
        start_date: Some(f.start().to_proto()),
        end_date: Some(f.end().to_proto()),
        session_count: f.sessions.len() as i32,
        capacity: f.capacity,
        incubated_only: f.audience == Audience::IncubatedOnly,
        status: course_status_word(c.status).into(),
        version: c.version,
    }
}
