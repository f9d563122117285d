//! Today: what needs doing now, for the person signed in. Each panel is
//! what its service lets the reader see; a panel whose list the service
//! refuses to the reader's roles (a reviewer's bookings) is left out.

use markaz_kit::auth::Role;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::grants::v1 as gr;
use markaz_proto::networking::v1 as net;
use markaz_proto::resources::v1 as res;
use minijinja::context;
use serde::Serialize;

use super::{TENANT_ROLES, enum_name, has, is_staff, organization_choices, unless_refused};
use crate::render::{Answer, Ctx};

#[derive(Debug, Serialize)]
struct SessionDue {
    course_id: String,
    session_id: String,
    course: String,
    date: String,
    number: i32,
}

#[derive(Debug, Serialize)]
struct ActionDue {
    consultation_id: String,
    description: String,
    owner: String,
    due: String,
    overdue: bool,
}

#[derive(Debug, Serialize)]
struct ProposalTask {
    id: String,
    title: String,
    state: String,
}

pub async fn page(ctx: Ctx) -> Answer {
    let session = ctx.require(TENANT_ROLES)?;
    let subject = session.who.subject.clone();
    let lang = ctx.lang;
    let today = markaz_kit::time::Date::today();

    // Sessions to take attendance for: days of running courses up to today
    // (a trainer: the courses that list them).
    let mut sessions_due = Vec::new();
    if is_staff(&ctx) || has(&ctx, Role::Trainer) {
        let running = ctx
            .capacity()
            .list_courses(cap::ListCoursesRequest {
                page_size: 50,
                status: cap::CourseStatus::Running as i32,
                trainer_subject: if is_staff(&ctx) {
                    String::new()
                } else {
                    subject.clone()
                },
                ..Default::default()
            })
            .await?
            .into_inner();
        for course in running.courses {
            for s in course.sessions.iter().filter(|s| {
                s.date
                    .as_ref()
                    .and_then(|d| markaz_kit::time::Date::from_proto("", d).ok())
                    .is_some_and(|d| d <= today)
            }) {
                let marks = ctx
                    .capacity()
                    .get_session_attendance(cap::GetSessionAttendanceRequest {
                        course_id: course.id.clone(),
                        session_id: s.id.clone(),
                    })
                    .await?
                    .into_inner();
                if marks.unmarked > 0 {
                    sessions_due.push(SessionDue {
                        course_id: course.id.clone(),
                        session_id: s.id.clone(),
                        course: lang.text(course.title.as_ref()),
                        date: lang.date(s.date.as_ref()),
                        number: s.number,
                    });
                }
            }
        }
    }

    // Follow-ups of consultations due within a week.
    let mut actions_due = Vec::new();
    if is_staff(&ctx) || has(&ctx, Role::Partner) {
        let due = ctx
            .capacity()
            .list_follow_up_actions(cap::ListFollowUpActionsRequest {
                page_size: 50,
                due_until: Some(today.add_days(7).to_proto()),
                ..Default::default()
            })
            .await?
            .into_inner();
        actions_due = due
            .actions
            .into_iter()
            .map(|a| ActionDue {
                overdue: a
                    .due_date
                    .as_ref()
                    .and_then(|d| markaz_kit::time::Date::from_proto("", d).ok())
                    .is_some_and(|d| d < today),
                due: lang.date(a.due_date.as_ref()),
                consultation_id: a.consultation_id,
                description: a.description,
                owner: a.owner,
            })
            .collect();
    }

    // Review tasks: staff see proposals waiting to be taken into review;
    // a reviewer the proposals assigned to it under review; a partner its
    // proposals sent back for changes.
    let wanted = if is_staff(&ctx) {
        Some(gr::ProposalState::Submitted)
    } else if has(&ctx, Role::Reviewer) {
        Some(gr::ProposalState::UnderReview)
    } else if has(&ctx, Role::Partner) || has(&ctx, Role::Trainer) {
        Some(gr::ProposalState::ChangesRequested)
    } else {
        None
    };
    let mut proposals = Vec::new();
    if let Some(state) = wanted {
        let list = ctx
            .grants()
            .list_proposals(gr::ListProposalsRequest {
                page_size: 50,
                state: state as i32,
                ..Default::default()
            })
            .await?
            .into_inner();
        proposals = list
            .proposals
            .into_iter()
            .map(|p| ProposalTask {
                title: lang.text(p.title.as_ref()),
                state: enum_name!(gr::ProposalState, p.state).to_string(),
                id: p.id,
            })
            .collect();
    }

    // Today's bookings, today being each space's own day (its fixed UTC
    // offset: a center at UTC+3 past 21:00 UTC is already on tomorrow):
    // staff every branch's, a partner its organization's. The UTC days
    // either side hold every offset's today; each booking is then kept if it
    // starts on its space's today.
    let day = |d: markaz_kit::time::Date| prost_types::Timestamp {
        seconds: d.days() * 86_400,
        nanos: 0,
    };
    let bookings = unless_refused(
        ctx.resources()
            .list_bookings(res::ListBookingsRequest {
                page_size: 200,
                from: Some(day(today.add_days(-1))),
                until: Some(day(today.add_days(2))),
                organization_id: ctx.partner_org().unwrap_or_default(),
                ..Default::default()
            })
            .await,
    )?;
    let bookings = match bookings {
        Some(list) => {
            let spaces = super::coworking::all_spaces(&ctx).await?;
            let now = markaz_kit::time::now_micros() / 1_000_000;
            let todays: Vec<_> = list
                .bookings
                .into_iter()
                .filter(|b| b.status != res::BookingStatus::Cancelled as i32)
                .filter(|b| {
                    let offset = super::coworking::space_offset(&spaces, &b.space_id);
                    let local_day =
                        |seconds: i64| (seconds + i64::from(offset) * 60).div_euclid(86_400);
                    b.start_time
                        .as_ref()
                        .is_some_and(|t| local_day(t.seconds) == local_day(now))
                })
                .collect();
            Some(super::coworking::booking_rows(lang, &todays, &spaces))
        }
        None => None,
    };

    // Open commitments past their due date: staff every one, a partner its
    // organization's.
    let commitments = unless_refused(
        ctx.networking()
            .list_commitments(net::ListCommitmentsRequest {
                page_size: 50,
                overdue_only: true,
                owner_organization_id: ctx.partner_org().unwrap_or_default(),
                ..Default::default()
            })
            .await,
    )?
    .map(|l| {
        l.commitments
            .iter()
            .map(|c| super::networking::commitment_view(lang, c))
            .collect::<Vec<_>>()
    });
    // Staff see whose each booking is, by name.
    let organizations = if is_staff(&ctx) && bookings.as_ref().is_some_and(|b| !b.is_empty()) {
        organization_choices(&ctx).await?
    } else {
        Vec::new()
    };

    ctx.render(
        "today.html",
        context! {
            today => lang.date(Some(&today.to_proto())),
            sessions_due => sessions_due,
            actions_due => actions_due,
            proposals => proposals,
            shows_sessions => is_staff(&ctx) || has(&ctx, Role::Trainer),
            shows_actions => is_staff(&ctx) || has(&ctx, Role::Partner),
            own_org => ctx.partner_org(),
            bookings => bookings,
            commitments => commitments,
            organizations => organizations,
            staff => is_staff(&ctx),
        },
    )
}
