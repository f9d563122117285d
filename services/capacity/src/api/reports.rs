//! Reports, computed from the records and never typed by hand: one course's
//! figures, and a period's activity by branch, kind and gender.

use std::collections::HashSet;

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, FieldViolation, Result};
use markaz_kit::rpc::parse_id;
use markaz_kit::time::{Date, MaybeDate};
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{AttendanceStatus, ConsultationKind, CourseKind, EnrolmentStatus};
use markaz_proto::common::v1::AgeBand;

use super::courses::{find, require_teaching, session_proto};
use super::{CapacityApi, optional_slug};
use crate::domain::attendance::{MarkStatus, summarize_gains};
use crate::domain::courses::Course;
use crate::domain::enrolments::Enrolment;
use crate::domain::reports::{CompletedCourse, ConsultationHeld, CourseParticipation, GenderTally};
use crate::store;

pub(crate) async fn course(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::GetCourseReportRequest,
) -> Result<api::CourseReport> {
    let id = parse_id("course_id", &req.course_id)?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let course = find(&mut tx, &id).await?;
    require_teaching(&mut tx, &caller, &id).await?;
    let enrolments = store::enrolments::of_course(&mut tx, &id).await?;
    let marks = store::attendance::of_course(&mut tx, &id).await?;
    Ok(course_report(&course, &enrolments, &marks))
}

pub(crate) async fn activity(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::GetActivityReportRequest,
) -> Result<api::ActivityReport> {
    let ((from, until), branch_id) = (
        period(req.from.as_ref(), req.until.as_ref()),
        optional_slug("branch_id", &req.branch_id),
    )
        .all()?;
    let (from_text, until_text) = (MaybeDate::text(from), MaybeDate::text(until));
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let courses =
        store::reports::completed_courses(&mut tx, &from_text, &until_text, &branch_id).await?;
    let participations =
        store::reports::participations(&mut tx, &from_text, &until_text, &branch_id).await?;
    let certificates =
        store::reports::certificates_in_force(&mut tx, &from_text, &until_text, &branch_id).await?;
    let consultations =
        store::reports::consultations_held(&mut tx, &from_text, &until_text, &branch_id).await?;
    let mut report = activity_report(&courses, &participations, &consultations);
    report.from = from.map(Date::to_proto);
    report.until = until.map(Date::to_proto);
    report.branch_id = branch_id;
    report.certificates_issued = certificates as i32;
    Ok(report)
}

type Period = (Option<Date>, Option<Date>);

/// The dates `from`..=`until` of a report, either end open.
fn period(
    from: Option<&markaz_proto::common::v1::Date>,
    until: Option<&markaz_proto::common::v1::Date>,
) -> Result<Period> {
    let (from, until) = (Date::optional("from", from), Date::optional("until", until)).all()?;
    if let (Some(f), Some(u)) = (from, until)
        && f > u
    {
        return Err(FieldViolation::new("until", "before `from`").into());
    }
    Ok((from, until))
}

fn course_report(
    course: &Course,
    enrolments: &[Enrolment],
    marks: &[MarkStatus],
) -> api::CourseReport {
    // Every figure but the waiting and cancelled counts is of the same
    // people: those holding a place. A cancelled participant's marks count
    // in no session.
    let holding: Vec<&Enrolment> = enrolments.iter().filter(|e| e.holds_a_place()).collect();
    let holding_ids: HashSet<&str> = holding.iter().map(|e| e.id.as_str()).collect();
    let marks: Vec<&MarkStatus> = marks
        .iter()
        .filter(|m| holding_ids.contains(m.enrolment_id.as_str()))
        .collect();
    let count_status = |s: EnrolmentStatus| enrolments.iter().filter(|e| e.status == s).count();
    let attended: Vec<&&Enrolment> = holding.iter().filter(|e| e.sessions_present > 0).collect();
    let mut ages: Vec<(AgeBand, i32)> = Vec::new();
    for e in &attended {
        match ages.iter_mut().find(|(a, _)| *a == e.age_band) {
            Some((_, n)) => *n += 1,
            None => ages.push((e.age_band, 1)),
        }
    }
    ages.sort_by_key(|(a, _)| *a as i32);
    let sessions = course.sessions.len() as i64;
    let average_attendance_percent = if holding.is_empty() || sessions == 0 {
        0.0
    } else {
        holding
            .iter()
            .map(|e| e.sessions_present as f64 * 100.0 / sessions as f64)
            .sum::<f64>()
            / holding.len() as f64
    };
    let pairs: Vec<(i32, i32)> = holding
        .iter()
        .filter_map(|e| Some((e.pre_score?, e.post_score?)))
        .collect();
    let gain = summarize_gains(&pairs);
    api::CourseReport {
        course_id: course.id.clone(),
        status: course.status as i32,
        capacity: course.fields.capacity,
        session_count: sessions as i32,
        enrolled: Some(
            holding
                .iter()
                .map(|e| e.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        waitlisted: count_status(EnrolmentStatus::Waitlisted) as i32,
        cancelled: count_status(EnrolmentStatus::Cancelled) as i32,
        participants: Some(
            attended
                .iter()
                .map(|e| e.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        participants_by_age_band: ages
            .into_iter()
            .map(|(a, n)| api::AgeBandCount {
                age_band: a as i32,
                count: n,
            })
            .collect(),
        completed: Some(
            holding
                .iter()
                .filter(|e| e.completed)
                .map(|e| e.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        average_attendance_percent,
        sessions: course
            .sessions
            .iter()
            .map(|s| {
                let count = |status: AttendanceStatus| {
                    marks
                        .iter()
                        .filter(|m| m.session_id == s.id && m.status == status)
                        .count() as i32
                };
                api::SessionSummary {
                    session: Some(session_proto(s)),
                    present: count(AttendanceStatus::Present),
                    absent: count(AttendanceStatus::Absent),
                    excused: count(AttendanceStatus::Excused),
                }
            })
            .collect(),
        certificates_issued: holding
            .iter()
            .filter(|e| !e.certificate_code.is_empty())
            .count() as i32,
        learning_gain: Some(api::LearningGain {
            participants_tested: gain.tested,
            average_pre_test_score: gain.average_pre,
            average_post_test_score: gain.average_post,
            average_gain: gain.average_gain,
            average_normalized_gain: gain.average_normalized_gain,
        }),
    }
}

fn activity_report(
    courses: &[CompletedCourse],
    participations: &[CourseParticipation],
    consultations: &[ConsultationHeld],
) -> api::ActivityReport {
    let attended: Vec<&CourseParticipation> = participations
        .iter()
        .filter(|p| p.sessions_present > 0)
        .collect();
    let mut kinds: Vec<CourseKind> = courses.iter().map(|c| c.kind).collect();
    kinds.sort_by_key(|k| *k as i32);
    kinds.dedup();
    let by_kind = kinds
        .into_iter()
        .map(|kind| api::CourseKindActivity {
            kind: kind as i32,
            courses: courses.iter().filter(|c| c.kind == kind).count() as i32,
            participants: Some(
                attended
                    .iter()
                    .filter(|p| p.kind == kind)
                    .map(|p| p.gender)
                    .collect::<GenderTally>()
                    .to_proto(),
            ),
        })
        .collect();
    let mut branches: Vec<&str> = courses
        .iter()
        .map(|c| c.branch_id.as_str())
        .chain(consultations.iter().map(|c| c.branch_id.as_str()))
        .collect();
    branches.sort();
    branches.dedup();
    let held = |kind: ConsultationKind, branch: Option<&str>| {
        consultations
            .iter()
            .filter(|c| c.kind == kind && branch.is_none_or(|b| b == c.branch_id))
            .count() as i32
    };
    api::ActivityReport {
        courses_completed: courses.len() as i32,
        by_kind,
        course_participants: Some(
            attended
                .iter()
                .map(|p| p.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        course_completers: Some(
            participations
                .iter()
                .filter(|p| p.completed)
                .map(|p| p.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        consultations: held(ConsultationKind::Consultation, None),
        technical_support_sessions: held(ConsultationKind::TechnicalSupport, None),
        consultation_attendees: Some(
            consultations
                .iter()
                .flat_map(|c| c.attendee_genders.iter().copied())
                .collect::<GenderTally>()
                .to_proto(),
        ),
        by_branch: branches
            .into_iter()
            .map(|b| api::BranchActivity {
                branch_id: b.to_string(),
                courses_completed: courses.iter().filter(|c| c.branch_id == b).count() as i32,
                consultations: held(ConsultationKind::Consultation, Some(b)),
                technical_support_sessions: held(ConsultationKind::TechnicalSupport, Some(b)),
            })
            .collect(),
        ..Default::default()
    }
}
