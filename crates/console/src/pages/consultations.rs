//! Consultations and technical support: the log (per branch), recording a
//! session with its follow-up actions, one consultation's page, and the
//! requests for one sent from the public form (`/consult`), which staff
//! triage.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_proto::capacity::v1 as cap;
use minijinja::{Value, context};

use super::{
    CONSULTATIONS, Choice, STAFF, branch_choices, choices, enum_name, enum_names, enum_value,
    is_staff, next_page, organization_choices, parse_date, parse_int, topics,
};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::{Answer, Ctx, Form};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/consultations", get(list))
        .route("/consultations/new", get(new_form).post(create))
        // Static segments win over `{id}`: `requests` is no consultation.
        .route("/consultations/requests", get(requests))
        .route("/consultations/requests/{id}/triage", post(triage))
        .route("/consultations/{id}", get(page))
}

const ACTION_ROWS: usize = 3;

fn consultation_view(lang: Lang, c: &cap::Consultation) -> Value {
    let counts = c.attendees_by_gender.unwrap_or_default();
    context! {
        id => c.id,
        kind => enum_name!(cap::ConsultationKind, c.kind),
        organization_id => c.organization_id,
        advisor => c.advisor.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
        advisor_kind => c.advisor.as_ref().map(|a| enum_name!(cap::AdvisorKind, a.kind)).unwrap_or(""),
        branch => c.branch_id,
        held_on => lang.date(c.held_on.as_ref()),
        minutes => lang.number(c.duration_minutes as i64),
        topics => c.topic_codes,
        notes => c.notes,
        attendees => context! {
            female => lang.number(counts.female as i64),
            male => lang.number(counts.male as i64),
            undisclosed => lang.number(counts.undisclosed as i64),
            total => lang.number(counts.total as i64),
        },
        actions => c.follow_up_actions.iter().map(|a| context! {
            description => a.description,
            owner => a.owner,
            due => lang.date(a.due_date.as_ref()),
            done => a.done,
        }).collect::<Vec<_>>(),
    }
}

async fn list(ctx: Ctx) -> Answer {
    let session = ctx.require(CONSULTATIONS)?;
    let lang = ctx.lang;
    let answer = ctx
        .capacity()
        .list_consultations(cap::ListConsultationsRequest {
            page_size: 25,
            page_token: ctx.q("page").to_string(),
            organization_id: session
                .who
                .partner_scope()
                .map(str::to_string)
                .unwrap_or_default(),
            kind: enum_value!(cap::ConsultationKind, ctx.q("kind")),
            branch_id: ctx.q("branch").to_string(),
            ..Default::default()
        })
        .await?
        .into_inner();
    ctx.render_form(
        "consultations.html",
        ctx.filters(&["kind", "branch"]),
        context! {
            consultations => answer.consultations.iter().map(|c| consultation_view(lang, c)).collect::<Vec<_>>(),
            next => next_page(&ctx, &answer.next_page_token),
            kinds => choices(lang, enum_names!(cap::ConsultationKind)),
            branches => branch_choices(&ctx).await?,
            may_record => is_staff(&ctx),
            may_triage => is_staff(&ctx),
        },
    )
}

async fn page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(CONSULTATIONS)?;
    let c = ctx
        .capacity()
        .get_consultation(cap::GetConsultationRequest { id })
        .await?
        .into_inner();
    ctx.render(
        "consultations.html",
        context! {
            one => consultation_view(ctx.lang, &c),
            done => ctx.q("done"),
        },
    )
}

async fn new_form(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let form = Form::new()
        .with(
            "consultation.held_on",
            super::date_value(Some(&markaz_kit::time::Date::today().to_proto())),
        )
        .with("consultation.duration_minutes", "60")
        .with(
            "consultation.advisor.kind",
            cap::AdvisorKind::Staff.as_str_name(),
        );
    consultation_form(&ctx, form).await
}

async fn consultation_form(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let topics = topics(ctx).await?;
    ctx.render_form(
        "consultation_form.html",
        form,
        context! {
            kinds => choices(lang, enum_names!(cap::ConsultationKind)),
            advisor_kinds => choices(lang, enum_names!(cap::AdvisorKind)),
            organizations => organization_choices(ctx).await?,
            topics => topics.iter().map(|t| Choice::named(lang, &t.code, t.name.as_ref())).collect::<Vec<_>>(),
            branches => branch_choices(ctx).await?,
            action_rows => (0..ACTION_ROWS).collect::<Vec<_>>(),
        },
    )
}

async fn create(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
    let held_on = parse_date(
        &mut form,
        lang,
        "consultation.held_on",
        f.get("consultation.held_on"),
    );
    let minutes = parse_int(
        &mut form,
        lang,
        "consultation.duration_minutes",
        f.get("consultation.duration_minutes"),
    )
    .unwrap_or(0);
    let mut actions = Vec::new();
    for i in 0..ACTION_ROWS {
        let at = |k: &str| {
            f.get(&format!("consultation.follow_up_actions[{i}].{k}"))
                .trim()
                .to_string()
        };
        if at("description").is_empty() {
            continue;
        }
        let n = actions.len();
        let due = parse_date(
            &mut form,
            lang,
            &format!("consultation.follow_up_actions[{n}].due_date"),
            &at("due_date"),
        );
        actions.push(cap::FollowUpAction {
            description: at("description"),
            owner: at("owner"),
            due_date: due,
            ..Default::default()
        });
    }
    if form.has_errors() {
        return consultation_form(&ctx, form).await;
    }
    let consultation = cap::Consultation {
        kind: enum_value!(cap::ConsultationKind, f.get("consultation.kind")),
        topic_codes: f
            .all("consultation.topic_codes")
            .into_iter()
            .map(str::to_string)
            .collect(),
        organization_id: f.get("consultation.organization_id").to_string(),
        advisor: Some(cap::Advisor {
            name: f.get("consultation.advisor.name").trim().to_string(),
            kind: enum_value!(cap::AdvisorKind, f.get("consultation.advisor.kind")),
        }),
        branch_id: f.get("consultation.branch_id").to_string(),
        held_on,
        duration_minutes: minutes as i32,
        notes: f.get("consultation.notes").trim().to_string(),
        follow_up_actions: actions,
        ..Default::default()
    };
    let answer = ctx
        .capacity()
        .create_consultation(cap::CreateConsultationRequest {
            consultation: Some(consultation),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |c| format!("/consultations/{}?done=consultation_recorded", c.id),
        |form| consultation_form(&ctx, form),
    )
    .await
}

// ------------------------------------------------------------------ requests

fn request_view(lang: Lang, r: &cap::ConsultationRequest) -> Value {
    use cap::ConsultationRequestStatus as S;
    let status = S::try_from(r.status).unwrap_or(S::Unspecified);
    context! {
        id => r.id,
        etag => r.etag,
        received => lang.timestamp(r.create_time.as_ref()),
        requester_name => r.requester_name,
        contact => r.contact,
        organization_name => r.organization_name,
        kind => enum_name!(cap::ConsultationKind, r.kind),
        topics => r.topic_codes,
        description => r.description,
        status => enum_name!(cap::ConsultationRequestStatus, r.status),
        triage_note => r.triage_note,
        consultation_id => r.consultation_id,
        // The decisions the service takes from here (its `check_triage`):
        // offered only those, so no button leads to a refusal.
        may_accept => matches!(status, S::New | S::Declined),
        may_link => matches!(status, S::New | S::Declined)
            || (status == S::Accepted && r.consultation_id.is_empty()),
        may_decline => matches!(status, S::New | S::Accepted),
    }
}

/// The requests from the public, oldest first (the service's order): staff
/// only (the service refuses anyone else). `triaging` is the request whose
/// triage `form` was refused, shown with its objections.
async fn requests_page(ctx: &Ctx, form: Form, triaging: &str) -> Answer {
    let lang = ctx.lang;
    let answer = ctx
        .capacity()
        .list_consultation_requests(cap::ListConsultationRequestsRequest {
            page_size: 25,
            page_token: ctx.q("page").to_string(),
            status: enum_value!(cap::ConsultationRequestStatus, ctx.q("status")),
        })
        .await?
        .into_inner();
    // The consultations a request may be linked to: the latest held.
    let held = ctx
        .capacity()
        .list_consultations(cap::ListConsultationsRequest {
            page_size: 50,
            ..Default::default()
        })
        .await?
        .into_inner();
    let linkable: Vec<Choice> = held
        .consultations
        .iter()
        .map(|c| Choice {
            value: c.id.clone(),
            label: format!(
                "{} · {} · {}",
                lang.date(c.held_on.as_ref()),
                lang.label(enum_name!(cap::ConsultationKind, c.kind)),
                c.advisor.as_ref().map(|a| a.name.as_str()).unwrap_or("")
            ),
        })
        .collect();
    let mut filter = ctx.filters(&["status"]);
    filter.summary = form.summary.clone();
    filter.refusals = form.refusals.clone();
    ctx.render_form(
        "consultation_requests.html",
        filter,
        context! {
            requests => answer.requests.iter().map(|r| request_view(lang, r)).collect::<Vec<_>>(),
            total => lang.number(i64::from(answer.total_size)),
            next => next_page(ctx, &answer.next_page_token),
            statuses => choices(lang, enum_names!(cap::ConsultationRequestStatus)),
            linkable => linkable,
            triaging => triaging,
            triage => form,
            done => ctx.q("done"),
        },
    )
}

async fn requests(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    requests_page(&ctx, Form::new(), "").await
}

/// One decision: accept (with the consultation held for it, if any) or
/// decline, with a note. The service clears the requester's name and
/// contact in the same write.
async fn triage(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    // The button pressed; none is the service's `status` violation.
    let status = enum_value!(cap::ConsultationRequestStatus, f.get("status"));
    let answer = ctx
        .capacity()
        .triage_consultation_request(cap::TriageConsultationRequestRequest {
            id: id.clone(),
            status,
            note: f.get("note").trim().to_string(),
            consultation_id: f.get("consultation_id").to_string(),
            etag: f.get("etag").to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/consultations/requests?done=consultation_request_triaged".to_string(),
        |form| requests_page(&ctx, form, &id),
    )
    .await
}
