//! Attendance and tests: one session's marks for the whole group in one
//! call, corrections kept with every earlier revision; pre/post test scores.

use std::collections::HashMap;

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result, Violations};
use markaz_kit::rpc::{Idempotency, Page, parse_id};
use markaz_kit::time::{Date, timestamp};
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{AttendanceStatus, CourseStatus};
use markaz_proto::events::v1 as ev;

use super::CapacityApi;
use super::courses::{find, lock_and_find, require_teaching, session_proto};
use crate::domain::attendance::{RecordedMark, changed_marks, parse_marks, parse_scores};
use crate::domain::courses::{Course, Session, not_running};
use crate::domain::enrolments::Enrolment;
use crate::domain::optional_id;
use crate::store;

pub(crate) async fn record(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::RecordAttendanceRequest,
) -> Result<api::SessionAttendance> {
    let (course_id, session_id, marks, idempotency) = (
        parse_id("course_id", &req.course_id),
        parse_id("session_id", &req.session_id),
        parse_marks(&req.marks),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    // Rights first, before the course is locked or a retry answered: a
    // trainer taken off the course gets nothing back.
    find(&mut tx, &course_id).await?;
    require_teaching(&mut tx, &caller, &course_id).await?;
    let course = lock_and_find(&mut tx, &course_id).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let session = course.session(&session_id)?;
    if course.status != CourseStatus::Running {
        return Err(not_running(&course));
    }
    if session.date > Date::today().add_days(1) {
        return Err(Error::precondition(
            "SESSION_NOT_HELD",
            format!("sessions/{session_id}"),
            format!("the session of {} has not taken place yet", session.date),
        ));
    }
    let enrolled = holding_a_place(&mut tx, &course_id).await?;
    let mut v = Violations::new();
    for (i, m) in marks.iter().enumerate() {
        if !enrolled.contains_key(&m.enrolment_id) {
            v.add(
                format!("marks[{i}].enrolment_id"),
                "not a participant holding a place in this course",
            );
        }
    }
    v.finish()?;
    let current: HashMap<String, RecordedMark> =
        store::attendance::of_session(&mut tx, &session_id)
            .await?
            .into_iter()
            .map(|m| (m.enrolment_id.clone(), m))
            .collect();
    let states = current
        .iter()
        .map(|(k, m)| (k.clone(), (m.status, m.note.clone())))
        .collect();
    let changed = changed_marks(&states, &marks);
    for m in &changed {
        let revision = current.get(&m.enrolment_id).map_or(1, |c| c.revision + 1);
        store::attendance::write(
            &mut tx,
            &course_id,
            &session_id,
            m,
            revision,
            &caller.subject,
        )
        .await?;
    }
    let reply = sheet(&mut tx, &course, session, &enrolled).await?;
    if !changed.is_empty() {
        tx.publish(
            &session_id,
            &ev::AttendanceRecorded {
                course_id: course_id.clone(),
                session_id: session_id.clone(),
                session_date: Some(session.date.to_proto()),
                present: reply.present,
                absent: reply.absent + reply.excused,
            },
        )
        .await?;
    }
    idempotency.commit(tx, &session_id, &reply).await?;
    Ok(reply)
}

pub(crate) async fn get(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::GetSessionAttendanceRequest,
) -> Result<api::SessionAttendance> {
    let (course_id, session_id) = (
        parse_id("course_id", &req.course_id),
        parse_id("session_id", &req.session_id),
    )
        .all()?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let course = find(&mut tx, &course_id).await?;
    require_teaching(&mut tx, &caller, &course_id).await?;
    let session = course.session(&session_id)?;
    let enrolled = holding_a_place(&mut tx, &course_id).await?;
    sheet(&mut tx, &course, session, &enrolled).await
}

pub(crate) async fn revisions(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListAttendanceRevisionsRequest,
) -> Result<api::ListAttendanceRevisionsResponse> {
    let (course_id, session_id, enrolment_id) = (
        parse_id("course_id", &req.course_id),
        parse_id("session_id", &req.session_id),
        optional_id("enrolment_id", &req.enrolment_id),
    )
        .all()?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{course_id}|{session_id}|{enrolment_id}"),
    )?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let course = find(&mut tx, &course_id).await?;
    require_teaching(&mut tx, &caller, &course_id).await?;
    course.session(&session_id)?;
    let (mut revisions, total) = store::attendance::revisions(
        &mut tx,
        &session_id,
        &enrolment_id,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut revisions, |(key, _)| key.clone());
    Ok(api::ListAttendanceRevisionsResponse {
        revisions: revisions.iter().map(|(_, m)| mark_proto(m)).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(crate) async fn record_scores(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::RecordTestScoresRequest,
) -> Result<api::RecordTestScoresResponse> {
    let (course_id, (kind, scores)) = (
        parse_id("course_id", &req.course_id),
        parse_scores(req.kind, &req.scores),
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    find(&mut tx, &course_id).await?;
    require_teaching(&mut tx, &caller, &course_id).await?;
    let course = lock_and_find(&mut tx, &course_id).await?;
    if !matches!(
        course.status,
        CourseStatus::Running | CourseStatus::Completed
    ) {
        return Err(not_running(&course));
    }
    let enrolled = holding_a_place(&mut tx, &course_id).await?;
    let mut v = Violations::new();
    for (i, s) in scores.iter().enumerate() {
        if !enrolled.contains_key(&s.enrolment_id) {
            v.add(
                format!("scores[{i}].enrolment_id"),
                "not a participant holding a place in this course",
            );
        }
    }
    v.finish()?;
    for s in &scores {
        store::enrolments::set_score(&mut tx, &s.enrolment_id, kind, s.score).await?;
    }
    // The scored enrolments as they are now, in the order they were sent.
    let now = holding_a_place(&mut tx, &course_id).await?;
    let enrolments = scores
        .iter()
        .map(|s| {
            now.get(&s.enrolment_id)
                .map(super::enrolments::proto)
                .ok_or_else(|| Error::internal("a scored enrolment is gone"))
        })
        .collect::<Result<_>>()?;
    tx.commit().await?;
    Ok(api::RecordTestScoresResponse { enrolments })
}

/// The enrolments holding a place in the course, by id.
async fn holding_a_place(tx: &mut Tx, course_id: &str) -> Result<HashMap<String, Enrolment>> {
    Ok(store::enrolments::of_course(tx, course_id)
        .await?
        .into_iter()
        .filter(Enrolment::holds_a_place)
        .map(|e| (e.id.clone(), e))
        .collect())
}

/// The attendance sheet of a session.
async fn sheet(
    tx: &mut Tx,
    course: &Course,
    session: &Session,
    enrolled: &HashMap<String, Enrolment>,
) -> Result<api::SessionAttendance> {
    // The sheet of those holding a place: a cancelled participant's mark
    // stays in the revisions but counts here no more than in the report, so
    // present + absent + excused + unmarked = enrolled.
    let marks: Vec<RecordedMark> = store::attendance::of_session(tx, &session.id)
        .await?
        .into_iter()
        .filter(|m| enrolled.contains_key(&m.enrolment_id))
        .collect();
    let count = |s: AttendanceStatus| marks.iter().filter(|m| m.status == s).count() as i32;
    let unmarked = enrolled
        .keys()
        .filter(|id| !marks.iter().any(|m| &m.enrolment_id == *id))
        .count() as i32;
    Ok(api::SessionAttendance {
        course_id: course.id.clone(),
        session: Some(session_proto(session)),
        present: count(AttendanceStatus::Present),
        absent: count(AttendanceStatus::Absent),
        excused: count(AttendanceStatus::Excused),
        unmarked,
        marks: marks.iter().map(mark_proto).collect(),
    })
}

fn mark_proto(m: &RecordedMark) -> api::AttendanceMark {
    api::AttendanceMark {
        enrolment_id: m.enrolment_id.clone(),
        status: m.status as i32,
        note: m.note.clone(),
        person_id: m.person_id.clone(),
        participant_name: m.participant_name.clone(),
        revision: m.revision as i32,
        recorded_by: m.recorded_by.clone(),
        record_time: Some(timestamp(m.recorded_at)),
    }
}
