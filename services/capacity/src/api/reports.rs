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
use crate::domain::reports::{
    AttendeesCounted, ConsultationsCounted, CoursesCounted, GenderTally, ParticipantsCounted,
    figure,
};
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
    let period = store::reports::Period {
        from: &from_text,
        until: &until_text,
        branch_id: &branch_id,
    };
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let counted = Counted {
        courses: store::reports::courses(&mut tx, period).await?,
        participants: store::reports::participants(&mut tx, period).await?,
        consultations: store::reports::consultations(&mut tx, period).await?,
        attendees: store::reports::consultation_attendees(&mut tx, period).await?,
    };
    let certificates = store::reports::certificates_in_force(&mut tx, period).await?;
    let mut report = activity_report(&counted);
    report.from = from.map(Date::to_proto);
    report.until = until.map(Date::to_proto);
    report.branch_id = branch_id;
    report.certificates_issued = figure(certificates);
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

/// What the database counted for a period's activity report.
struct Counted {
    courses: Vec<CoursesCounted>,
    participants: Vec<ParticipantsCounted>,
    consultations: Vec<ConsultationsCounted>,
    attendees: Vec<AttendeesCounted>,
}

/// The tally of the participants `which` selects.
fn tally_of(
    participants: &[ParticipantsCounted],
    which: impl Fn(&ParticipantsCounted) -> bool,
) -> api::GenderCounts {
    let mut t = GenderTally::default();
    for p in participants.iter().filter(|p| which(p)) {
        t.add_many(p.gender, figure(p.people));
    }
    t.to_proto()
}

fn activity_report(counted: &Counted) -> api::ActivityReport {
    let Counted {
        courses,
        participants,
        consultations,
        attendees,
    } = counted;
    let courses_where = |which: &dyn Fn(&CoursesCounted) -> bool| {
        figure(courses.iter().filter(|c| which(c)).map(|c| c.courses).sum())
    };
    let held = |kind: ConsultationKind, branch: Option<&str>| {
        figure(
            consultations
                .iter()
                .filter(|c| c.kind == kind && branch.is_none_or(|b| b == c.branch_id))
                .map(|c| c.sessions)
                .sum(),
        )
    };
    let mut kinds: Vec<CourseKind> = courses.iter().map(|c| c.kind).collect();
    kinds.sort_by_key(|k| *k as i32);
    kinds.dedup();
    let by_kind = kinds
        .into_iter()
        .map(|kind| api::CourseKindActivity {
            kind: kind as i32,
            courses: courses_where(&|c| c.kind == kind),
            participants: Some(tally_of(participants, |p| p.attended && p.kind == kind)),
        })
        .collect();
    let mut branches: Vec<&str> = courses
        .iter()
        .map(|c| c.branch_id.as_str())
        .chain(consultations.iter().map(|c| c.branch_id.as_str()))
        .collect();
    branches.sort();
    branches.dedup();
    let mut consultation_attendees = GenderTally::default();
    for a in attendees {
        consultation_attendees.add_many(a.gender, figure(a.people));
    }
    api::ActivityReport {
        courses_completed: courses_where(&|_| true),
        by_kind,
        course_participants: Some(tally_of(participants, |p| p.attended)),
        course_completers: Some(tally_of(participants, |p| p.completed)),
        consultations: held(ConsultationKind::Consultation, None),
        technical_support_sessions: held(ConsultationKind::TechnicalSupport, None),
        consultation_attendees: Some(consultation_attendees.to_proto()),
        by_branch: branches
            .into_iter()
            .map(|b| api::BranchActivity {
                branch_id: b.to_string(),
                courses_completed: courses_where(&|c| c.branch_id == b),
                consultations: held(ConsultationKind::Consultation, Some(b)),
                technical_support_sessions: held(ConsultationKind::TechnicalSupport, Some(b)),
            })
            .collect(),
        ..Default::default()
    }
}
