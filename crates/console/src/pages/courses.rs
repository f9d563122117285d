//! Courses and workshops: the schedule, scheduling a course, enrolment, the
//! per-day attendance grid, completion, and printable certificates with
//! their public verification code.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_kit::auth::Role;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::membership::v1 as mem;
use minijinja::{Value, context};
use serde::Serialize;

use super::{
    COURSES, STAFF, branch_choices, choices, enum_name, enum_names, enum_value, form_text, has,
    is_staff, next_page, organization_choices, parse_date, parse_int, topics,
};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::Outcome::Done;
use crate::render::{Answer, Ctx, Fail, Form};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/courses", get(list))
        .route("/courses/new", get(new_form).post(create))
        .route("/courses/{id}", get(page))
        .route("/courses/{id}/state", post(change_state))
        .route("/courses/{id}/enrol", post(enrol))
        .route("/courses/{id}/attendance", post(record_attendance))
        .route("/courses/{id}/certificates/{cert}", get(certificate))
}

/// Sessions and trainers the scheduling form offers.
const SESSION_ROWS: usize = 10;
const TRAINER_ROWS: usize = 3;

#[derive(Debug, Serialize)]
struct CourseRow {
    id: String,
    title: String,
    kind: String,
    status: String,
    branch: String,
    starts: String,
    ends: String,
    enrolled: String,
    capacity: String,
    waitlisted: String,
}

fn course_row(lang: Lang, c: &cap::Course) -> CourseRow {
    CourseRow {
        id: c.id.clone(),
        title: lang.text(c.title.as_ref()),
        kind: enum_name!(cap::CourseKind, c.kind).to_string(),
        status: enum_name!(cap::CourseStatus, c.status).to_string(),
        branch: c.branch_id.clone(),
        starts: lang.date(c.start_date.as_ref()),
        ends: lang.date(c.end_date.as_ref()),
        enrolled: lang.number(c.enrolled_count as i64),
        capacity: lang.number(c.capacity as i64),
        waitlisted: lang.number(c.waitlisted_count as i64),
    }
}

pub fn certificate_row(lang: Lang, c: &cap::Certificate) -> Value {
    context! {
        id => c.id,
        course_id => c.course_id,
        code => c.code,
        name => c.participant_name,
        course => lang.text(c.course_title.as_ref()),
        kind => enum_name!(cap::CourseKind, c.course_kind),
        starts => lang.date(c.start_date.as_ref()),
        ends => lang.date(c.end_date.as_ref()),
        attendance => lang.number(c.attendance_percent as i64),
        issued => lang.timestamp(c.issue_time.as_ref()),
        revoked => c.revoked,
        revoke_reason => c.revoke_reason,
    }
}

async fn list(ctx: Ctx) -> Answer {
    let session = ctx.require(COURSES)?;
    let lang = ctx.lang;
    let trainer_only = !session.who.is_staff() && has(&ctx, Role::Trainer);
    let answer = ctx
        .capacity()
        .list_courses(cap::ListCoursesRequest {
            page_size: 25,
            page_token: ctx.q("page").to_string(),
            status: enum_value!(cap::CourseStatus, ctx.q("status")),
            kind: enum_value!(cap::CourseKind, ctx.q("kind")),
            branch_id: ctx.q("branch").to_string(),
            trainer_subject: if trainer_only {
                session.who.subject.clone()
            } else {
                String::new()
            },
            ..Default::default()
        })
        .await?
        .into_inner();
    ctx.render_form(
        "courses.html",
        ctx.filters(&["status", "kind"]),
        context! {
            courses => answer.courses.iter().map(|c| course_row(lang, c)).collect::<Vec<_>>(),
            next => next_page(&ctx, &answer.next_page_token),
            statuses => choices(lang, enum_names!(cap::CourseStatus)),
            kinds => choices(lang, enum_names!(cap::CourseKind)),
            may_schedule => is_staff(&ctx),
        },
    )
}

async fn new_form(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let form = Form::new()
        .with("course.capacity", "25")
        .with("course.completion_rule.min_attendance_percent", "80")
        .with("course.audience", cap::Audience::Open.as_str_name());
    course_form(&ctx, form).await
}

async fn course_form(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let topics = topics(ctx).await?;
    let chosen: Vec<String> = form
        .values
        .get("course.topic_codes")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    ctx.render_form(
        "course_form.html",
        form,
        context! {
            kinds => choices(lang, enum_names!(cap::CourseKind)),
            audiences => choices(lang, enum_names!(cap::Audience)),
            topics => topics.iter().map(|t| context! {
                code => t.code,
                name => lang.text(t.name.as_ref()),
                checked => chosen.contains(&t.code),
            }).collect::<Vec<_>>(),
            branches => branch_choices(ctx).await?,
            session_rows => (0..SESSION_ROWS).collect::<Vec<_>>(),
            trainer_rows => (0..TRAINER_ROWS).collect::<Vec<_>>(),
        },
    )
}

async fn create(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
    let topic_codes: Vec<String> = f
        .all("course.topic_codes")
        .into_iter()
        .map(str::to_string)
        .collect();
    form.values
        .insert("course.topic_codes".into(), topic_codes.join(","));
    let mut sessions = Vec::new();
    for i in 0..SESSION_ROWS {
        let typed = f.get(&format!("course.sessions[{i}].date"));
        // Empty rows are skipped; the rest are renumbered as sent so the
        // service's `course.sessions[n]` names the row it means.
        let n = sessions.len();
        if let Some(date) = parse_date(
            &mut form,
            lang,
            &format!("course.sessions[{n}].date"),
            typed,
        ) {
            sessions.push(cap::Session {
                date: Some(date),
                ..Default::default()
            });
        }
    }
    let trainers = (0..TRAINER_ROWS)
        .filter_map(|i| {
            let name = f.get(&format!("course.trainers[{i}].name")).trim();
            (!name.is_empty()).then(|| cap::Trainer {
                name: name.to_string(),
                subject: f
                    .get(&format!("course.trainers[{i}].subject"))
                    .trim()
                    .to_string(),
                external: f.checked(&format!("course.trainers[{i}].external")),
            })
        })
        .collect();
    let capacity =
        parse_int(&mut form, lang, "course.capacity", f.get("course.capacity")).unwrap_or(0);
    let min_attendance = parse_int(
        &mut form,
        lang,
        "course.completion_rule.min_attendance_percent",
        f.get("course.completion_rule.min_attendance_percent"),
    )
    .unwrap_or(0);
    if form.has_errors() {
        return course_form(&ctx, form).await;
    }
    let course = cap::Course {
        kind: enum_value!(cap::CourseKind, f.get("course.kind")),
        title: form_text(f, "course.title"),
        description: form_text(f, "course.description"),
        topic_codes,
        branch_id: f.get("course.branch_id").to_string(),
        venue: f.get("course.venue").trim().to_string(),
        sessions,
        capacity: capacity as i32,
        trainers,
        audience: enum_value!(cap::Audience, f.get("course.audience")),
        completion_rule: Some(cap::CompletionRule {
            min_attendance_percent: min_attendance as i32,
            min_post_test_score: 0,
        }),
        ..Default::default()
    };
    let answer = ctx
        .capacity()
        .create_course(cap::CreateCourseRequest {
            course: Some(course),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |c| format!("/courses/{}?done=course_scheduled", c.id),
        |form| course_form(&ctx, form),
    )
    .await
}

async fn page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(COURSES)?;
    course_page(&ctx, &id, Form::new(), BTreeMap::new()).await
}

/// The course's page: facts, life-cycle buttons, enrolment, the attendance
/// grid (rows: participants holding a place; columns: the days) and the
/// certificates. `grid_ids` are the request ids of the grid's columns when
/// a submission is shown again (a retry must reuse them).
async fn course_page(
    ctx: &Ctx,
    id: &str,
    form: Form,
    grid_ids: BTreeMap<String, String>,
) -> Answer {
    let lang = ctx.lang;
    let course = ctx
        .capacity()
        .get_course(cap::GetCourseRequest { id: id.to_string() })
        .await?
        .into_inner();
    let subject = ctx
        .session
        .as_ref()
        .map(|s| s.who.subject.clone())
        .unwrap_or_default();
    let teaches = is_staff(ctx)
        || (has(ctx, Role::Trainer) && course.trainers.iter().any(|t| t.subject == subject));
    let partner_org = ctx.partner_org();

    let enrolments = ctx
        .capacity()
        .list_enrolments(cap::ListEnrolmentsRequest {
            course_id: id.to_string(),
            page_size: 1000,
            organization_id: partner_org.clone().unwrap_or_default(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .enrolments;

    // The grid: the current mark of every participant at every day.
    let status_name = enum_name!(cap::CourseStatus, course.status);
    let grid_open = teaches && course.status == cap::CourseStatus::Running as i32;
    let mut marks: HashMap<(String, String), String> = HashMap::new();
    let mut columns = Vec::new();
    if teaches && course.status >= cap::CourseStatus::Running as i32 {
        for s in &course.sessions {
            let attendance = ctx
                .capacity()
                .get_session_attendance(cap::GetSessionAttendanceRequest {
                    course_id: id.to_string(),
                    session_id: s.id.clone(),
                })
                .await?
                .into_inner();
            for m in &attendance.marks {
                marks.insert(
                    (s.id.clone(), m.enrolment_id.clone()),
                    enum_name!(cap::AttendanceStatus, m.status).to_string(),
                );
            }
            columns.push(context! {
                id => s.id,
                number => lang.number(s.number as i64),
                date => lang.date(s.date.as_ref()),
                request_id => grid_ids.get(&s.id).cloned().unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                present => lang.number(attendance.present as i64),
                unmarked => lang.number(attendance.unmarked as i64),
            });
        }
    }
    let holding: Vec<&cap::Enrolment> = enrolments
        .iter()
        .filter(|e| e.status == cap::EnrolmentStatus::Enrolled as i32)
        .collect();
    let grid_rows: Vec<Value> = holding
        .iter()
        .map(|e| {
            let cells: Vec<Value> = course
                .sessions
                .iter()
                .map(|s| {
                    let name = format!("mark.{}.{}", s.id, e.id);
                    // A value posted and refused stays as typed.
                    let current = form
                        .values
                        .get(&name)
                        .cloned()
                        .or_else(|| marks.get(&(s.id.clone(), e.id.clone())).cloned())
                        .unwrap_or_default();
                    context! { name => name, current => current }
                })
                .collect();
            context! { enrolment_id => e.id, name => e.participant_name, cells => cells }
        })
        .collect();

    let certificates =
        if course.status == cap::CourseStatus::Completed as i32 && super::sees_certificates(ctx) {
            ctx.capacity()
                .list_certificates(cap::ListCertificatesRequest {
                    course_id: id.to_string(),
                    page_size: 1000,
                    organization_id: partner_org.clone().unwrap_or_default(),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .certificates
        } else {
            Vec::new()
        };

    // Enrolment: staff pick an organization, then its people; a partner
    // enrols its own members.
    let enrol_open =
        course.status == cap::CourseStatus::Open as i32 && (is_staff(ctx) || partner_org.is_some());
    let enrol_org = partner_org
        .clone()
        .unwrap_or_else(|| ctx.q("enrol_org").to_string());
    let mut candidates = Vec::new();
    let mut organizations = Vec::new();
    if enrol_open {
        if partner_org.is_none() {
            organizations = organization_choices(ctx).await?;
        }
        if !enrol_org.is_empty() {
            let taken: Vec<&str> = enrolments
                .iter()
                .filter(|e| e.status != cap::EnrolmentStatus::Cancelled as i32)
                .map(|e| e.person_id.as_str())
                .collect();
            candidates = ctx
                .membership()
                .list_people(mem::ListPeopleRequest {
                    organization_id: enrol_org.clone(),
                    page_size: 200,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .people
                .into_iter()
                .filter(|p| !taken.contains(&p.id.as_str()))
                .map(|p| context! { id => p.id, name => p.full_name })
                .collect();
        }
    }

    let facts = context! {
        row => course_row(lang, &course),
        description => lang.text(course.description.as_ref()),
        venue => course.venue,
        topics => course.topic_codes,
        audience => enum_name!(cap::Audience, course.audience),
        trainers => course.trainers.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        sessions => course.sessions.iter().map(|s| context! { number => lang.number(s.number as i64), date => lang.date(s.date.as_ref()) }).collect::<Vec<_>>(),
        etag => course.etag,
        cancel_reason => course.cancel_reason,
        min_attendance => course.completion_rule.as_ref().map(|r| lang.number(r.min_attendance_percent as i64)),
    };
    ctx.render_form(
        "course.html",
        form,
        context! {
            course => facts,
            status_name => status_name,
            staff => is_staff(ctx),
            teaches => teaches,
            grid_open => grid_open,
            columns => columns,
            grid => grid_rows,
            marks_choices => choices(lang, enum_names!(cap::AttendanceStatus)),
            enrolments => enrolments.iter().map(|e| context! {
                id => e.id,
                name => e.participant_name,
                organization_id => e.organization_id,
                status => enum_name!(cap::EnrolmentStatus, e.status),
                position => lang.number(e.waitlist_position as i64),
                present => lang.number(e.sessions_present as i64),
                completed => e.completed,
            }).collect::<Vec<_>>(),
            enrol_open => enrol_open,
            enrol_org => enrol_org,
            partner => partner_org.is_some(),
            organizations => organizations,
            candidates => candidates,
            certificates => certificates.iter().map(|c| certificate_row(lang, c)).collect::<Vec<_>>(),
            done => ctx.q("done"),
        },
    )
}

async fn change_state(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let etag = f.get("etag").to_string();
    let id_ = id.clone();
    let action = f.get("action");
    let answer = match action {
        "open" => {
            ctx.capacity()
                .open_course(cap::OpenCourseRequest { id: id_, etag })
                .await
        }
        "start" => {
            ctx.capacity()
                .start_course(cap::StartCourseRequest { id: id_, etag })
                .await
        }
        "complete" => {
            ctx.capacity()
                .complete_course(cap::CompleteCourseRequest { id: id_, etag })
                .await
        }
        "cancel" => {
            ctx.capacity()
                .cancel_course(cap::CancelCourseRequest {
                    id: id_,
                    reason: f.get("reason").trim().to_string(),
                    etag,
                })
                .await
        }
        _ => return Err(Fail::NotFound),
    };
    ctx.finish(
        form,
        answer,
        |_| format!("/courses/{id}?done=course_{action}"),
        |form| course_page(&ctx, &id, form, BTreeMap::new()),
    )
    .await
}

/// Enrols every person ticked. Each enrolment's request id is the form's
/// and the person's, so a retried submission enrols nobody twice.
async fn enrol(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(&[Role::Admin, Role::Staff, Role::Partner])?;
    let people = f.all("person_id");
    if people.is_empty() {
        form.object("person_id", ctx.lang.label("enrol_pick_people"));
    }
    let organization_id = f.get("organization_id").to_string();
    let mut enrolled = 0;
    for person_id in people {
        let answer = ctx
            .capacity()
            .enrol_participant(cap::EnrolParticipantRequest {
                course_id: id.clone(),
                person_id: person_id.to_string(),
                organization_id: organization_id.clone(),
                request_id: format!("{}:{person_id}", form.request_id),
            })
            .await;
        if let Done(_) = form.outcome(answer)? {
            enrolled += 1;
        }
    }
    if form.has_errors() {
        return course_page(&ctx, &id, form, BTreeMap::new()).await;
    }
    ctx.redirect(&format!(
        "/courses/{id}?done=enrolled&n={enrolled}#enrolments"
    ))
}

/// Saves the grid: one RecordAttendance per day with marks, each with the
/// column's request id (a retry of the same submission changes nothing and
/// is answered as the first). "All present" fills a day's empty cells.
async fn record_attendance(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(&[Role::Admin, Role::Staff, Role::Trainer])?;
    let all_present = f.get("all_present");
    let mut by_session: BTreeMap<String, Vec<cap::AttendanceMark>> = BTreeMap::new();
    for (key, value) in f.with_prefix("mark.") {
        let Some((session_id, enrolment_id)) = key.split_once('.') else {
            continue;
        };
        let value = if value.is_empty() && session_id == all_present {
            "ATTENDANCE_STATUS_PRESENT"
        } else {
            value
        };
        if value.is_empty() {
            continue;
        }
        form.values.insert(format!("mark.{key}"), value.to_string());
        by_session
            .entry(session_id.to_string())
            .or_default()
            .push(cap::AttendanceMark {
                enrolment_id: enrolment_id.to_string(),
                status: enum_value!(cap::AttendanceStatus, value),
                ..Default::default()
            });
    }
    let mut grid_ids: BTreeMap<String, String> = f
        .with_prefix("request_id.")
        .map(|(s, r)| (s.to_string(), r.to_string()))
        .collect();
    for (session_id, marks) in by_session {
        let request_id = grid_ids.get(&session_id).cloned().unwrap_or_default();
        let answer = ctx
            .capacity()
            .record_attendance(cap::RecordAttendanceRequest {
                course_id: id.clone(),
                session_id: session_id.clone(),
                marks,
                request_id,
            })
            .await;
        if let Done(_) = form.outcome(answer)? {
            // Saved: a later change of this day is a new request.
            grid_ids.remove(&session_id);
        }
    }
    if form.has_errors() {
        return course_page(&ctx, &id, form, grid_ids).await;
    }
    ctx.redirect(&format!("/courses/{id}?done=attendance_saved#attendance"))
}

async fn certificate(ctx: Ctx, Path((id, cert)): Path<(String, String)>) -> Answer {
    // Capacity shows certificates to staff and partners only.
    ctx.require(&[Role::Admin, Role::Staff, Role::Partner])?;
    let partner_org = ctx.partner_org();
    let list = ctx
        .capacity()
        .list_certificates(cap::ListCertificatesRequest {
            course_id: id,
            page_size: 1000,
            organization_id: partner_org.unwrap_or_default(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let c = list
        .certificates
        .iter()
        .find(|c| c.id == cert)
        .ok_or(Fail::NotFound)?;
    ctx.render(
        "certificate.html",
        context! { c => certificate_row(ctx.lang, c), center => ctx.session.as_ref().map(|s| s.who.tenant.clone()) },
    )
}
