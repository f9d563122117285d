//! Networking: events (planning one, its invitations and their replies,
//! check-in at the door on a phone, marking it held), the follow-up
//! commitments made there, and the coalitions and campaigns.
//!
//! A partner sees the events its organization was invited to (the service
//! answers NOT_FOUND for the others), answers its own invitations, and sees
//! its own commitments and coalitions.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_proto::common::v1 as common;
use markaz_proto::networking::v1 as net;
use minijinja::{Value, context};

use super::{
    Choice, STAFF, branch_choices, choices, date_value, enum_name, enum_names, enum_value,
    form_text, is_staff, next_page, organization_choices, parse_date, parse_int, put_text,
};
use super::{blank, renumber, rows, sent_rows};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::{Answer, Ctx, Fail, Form};

/// Who the section is offered to (the service's own rule for reading).
pub const NETWORKING: &[markaz_kit::auth::Role] = super::CONSULTATIONS;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/networking", get(events))
        .route("/networking/events/new", get(new_event).post(create_event))
        .route("/networking/events/{id}", get(event))
        .route(
            "/networking/events/{id}/checkin",
            get(checkin_page).post(checkin),
        )
        .route("/networking/events/{id}/invite", post(invite))
        .route("/networking/events/{id}/held", post(mark_held))
        .route(
            "/networking/events/{id}/outcome",
            get(outcome_page).post(record_outcome),
        )
        .route(
            "/networking/events/{id}/commitments",
            post(create_commitment),
        )
        .route("/networking/invitations/{id}/respond", post(respond))
        .route("/networking/commitments", get(commitments))
        .route("/networking/commitments/{id}/fulfil", post(fulfil))
        .route("/networking/commitments/{id}/drop", post(drop_commitment))
        .route(
            "/networking/commitments/{id}/carry",
            get(carry_page).post(carry),
        )
        .route("/networking/coalitions", get(coalitions))
        .route("/networking/coalitions/new", post(create_coalition))
        .route("/networking/campaigns/new", post(create_campaign))
        .route("/networking/issues/new", post(create_issue))
}

/// Syria's offset from UTC: an event's local day and the times typed.
const SYRIA_OFFSET_MINUTES: i32 = 180;

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` input) at `offset` minutes from
/// UTC, as a timestamp; reported under `field` when malformed.
fn parse_local_time(
    form: &mut Form,
    lang: Lang,
    field: &str,
    value: &str,
    offset: i32,
) -> Option<prost_types::Timestamp> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let parsed = value.split_once('T').and_then(|(d, t)| {
        let date = markaz_kit::time::Date::parse(d)?;
        let (h, m) = t.split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
        ((0..24).contains(&h) && (0..60).contains(&m))
            .then(|| date.days() * 86_400 + h * 3600 + m * 60 - i64::from(offset) * 60)
    });
    match parsed {
        Some(seconds) => Some(prost_types::Timestamp { seconds, nanos: 0 }),
        None => {
            form.object(field, lang.label("form_bad_time"));
            None
        }
    }
}

fn local_time(lang: Lang, ts: Option<&prost_types::Timestamp>, offset: i32) -> String {
    let shifted = ts.map(|t| prost_types::Timestamp {
        seconds: t.seconds + i64::from(offset) * 60,
        nanos: 0,
    });
    lang.timestamp(shifted.as_ref())
}

fn attendance_view(lang: Lang, a: Option<&net::AttendanceSummary>) -> Value {
    let a = a.copied().unwrap_or_default();
    context! {
        invited => lang.number(a.invited.into()),
        registered => lang.number(a.registered.into()),
        declined => lang.number(a.declined.into()),
        awaiting => lang.number(a.awaiting_reply.into()),
        attended => lang.number(a.attended.into()),
        walk_ins => lang.number(a.walk_ins.into()),
    }
}

pub(super) fn event_view(lang: Lang, e: &net::Event) -> Value {
    context! {
        id => e.id,
        kind => enum_name!(net::EventKind, e.kind),
        status => enum_name!(net::EventStatus, e.status),
        planned => e.status == net::EventStatus::Planned as i32,
        title => lang.text(e.title.as_ref()),
        purpose => lang.text(e.purpose.as_ref()),
        branch => e.branch_id,
        venue => e.venue,
        starts => local_time(lang, e.start_time.as_ref(), e.utc_offset_minutes),
        ends => local_time(lang, e.end_time.as_ref(), e.utc_offset_minutes),
        held_on => lang.date(e.held_on.as_ref()),
        issues => e.issue_codes,
        etag => e.etag,
        attendance => attendance_view(lang, e.attendance.as_ref()),
        held => e.status == net::EventStatus::Held as i32,
        outcome => e.outcome.as_ref().map(|o| context! {
            minutes_ar => o.minutes.as_ref().map(|m| m.ar.clone()).unwrap_or_default(),
            minutes_en => o.minutes.as_ref().map(|m| m.en.clone()).unwrap_or_default(),
            decisions => o.decisions.iter().map(|d| lang.text(d.text.as_ref())).collect::<Vec<_>>(),
            recorded_by => o.recorded_by,
            recorded => lang.timestamp(o.record_time.as_ref()),
        }),
    }
}

fn invitation_view(i: &net::Invitation) -> Value {
    let (kind, organization, person, guest) = match &i.invitee {
        Some(net::invitation::Invitee::OrganizationId(o)) => ("organization", o.clone(), "", ""),
        Some(net::invitation::Invitee::Person(p)) => (
            "person",
            p.organization_id.clone(),
            p.person_id.as_str(),
            "",
        ),
        Some(net::invitation::Invitee::Guest(g)) => {
            ("guest", String::new(), "", g.affiliation.as_str())
        }
        None => ("", String::new(), "", ""),
    };
    context! {
        id => i.id,
        kind => kind,
        organization_id => organization,
        person_id => person,
        affiliation => guest,
        name => i.invitee_name,
        category => enum_name!(net::ParticipantCategory, i.category),
        status => enum_name!(net::InvitationStatus, i.status),
        note => i.note,
        etag => i.etag,
        open => i.status != net::InvitationStatus::Withdrawn as i32,
    }
}

pub(super) fn commitment_view(lang: Lang, c: &net::Commitment) -> Value {
    let owner = c.owner.clone().unwrap_or_default();
    context! {
        id => c.id,
        event_id => c.event_id,
        description => lang.text(c.description.as_ref()),
        owner => owner.name,
        owner_organization => owner.organization_id,
        due => lang.date(c.due_date.as_ref()),
        status => enum_name!(net::CommitmentStatus, c.status),
        open => c.status == net::CommitmentStatus::Open as i32,
        overdue => c.overdue,
        days_overdue => lang.number(c.days_overdue.into()),
        closed_on => lang.date(c.closed_on.as_ref()),
        evidence => c.evidence.iter().map(|e| lang.text(e.description.as_ref())).collect::<Vec<_>>(),
        agenda => c.agenda_event_ids,
        decision => c.decision_id,
        etag => c.etag,
    }
}

fn partner_scope(ctx: &Ctx) -> String {
    ctx.partner_org().unwrap_or_default()
}

// ---------------------------------------------------------------- events

async fn events(ctx: Ctx) -> Answer {
    ctx.require(NETWORKING)?;
    let lang = ctx.lang;
    let answer = ctx
        .networking()
        .list_events(net::ListEventsRequest {
            page_size: 25,
            page_token: ctx.q("page").to_string(),
            status: enum_value!(net::EventStatus, ctx.q("status")),
            kind: enum_value!(net::EventKind, ctx.q("kind")),
            branch_id: ctx.q("branch").to_string(),
            organization_id: partner_scope(&ctx),
            ..Default::default()
        })
        .await?
        .into_inner();
    ctx.render_form(
        "networking.html",
        ctx.filters(&["status", "kind", "branch"]),
        context! {
            tab => "events",
            events => answer.events.iter().map(|e| event_view(lang, e)).collect::<Vec<_>>(),
            next => next_page(&ctx, &answer.next_page_token),
            statuses => choices(lang, enum_names!(net::EventStatus)),
            kinds => choices(lang, enum_names!(net::EventKind)),
            branches => branch_choices(&ctx).await?,
            staff => is_staff(&ctx),
        },
    )
}

async fn new_event(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let tomorrow = markaz_kit::time::Date::today().add_days(1);
    let at = |h: u32| format!("{}T{h:02}:00", date_value(Some(&tomorrow.to_proto())));
    let form = Form::new()
        .with("event.start_time", at(10))
        .with("event.end_time", at(13))
        .with("event.utc_offset_minutes", SYRIA_OFFSET_MINUTES.to_string());
    event_form(&ctx, form).await
}

pub(super) async fn issue_choices(ctx: &Ctx) -> Result<Vec<Choice>, Fail> {
    Ok(ctx
        .networking()
        .list_issues(net::ListIssuesRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .issues
        .iter()
        .map(|i| Choice::named(ctx.lang, &i.code, i.name.as_ref()))
        .collect())
}

async fn event_form(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    ctx.render_form(
        "event_form.html",
        form,
        context! {
            kinds => choices(lang, enum_names!(net::EventKind)),
            branches => branch_choices(ctx).await?,
            issues => issue_choices(ctx).await?,
        },
    )
}

async fn create_event(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
    let offset = parse_int(
        &mut form,
        lang,
        "event.utc_offset_minutes",
        f.get("event.utc_offset_minutes"),
    )
    .unwrap_or(i64::from(SYRIA_OFFSET_MINUTES)) as i32;
    let start = parse_local_time(
        &mut form,
        lang,
        "event.start_time",
        f.get("event.start_time"),
        offset,
    );
    let end = parse_local_time(
        &mut form,
        lang,
        "event.end_time",
        f.get("event.end_time"),
        offset,
    );
    if form.has_errors() {
        return event_form(&ctx, form).await;
    }
    let event = net::Event {
        kind: enum_value!(net::EventKind, f.get("event.kind")),
        title: form_text(f, "event.title"),
        purpose: form_text(f, "event.purpose"),
        branch_id: f.get("event.branch_id").to_string(),
        venue: f.get("event.venue").trim().to_string(),
        start_time: start,
        end_time: end,
        utc_offset_minutes: offset,
        issue_codes: f
            .all("event.issue_codes")
            .into_iter()
            .map(str::to_string)
            .collect(),
        ..Default::default()
    };
    let answer = ctx
        .networking()
        .create_event(net::CreateEventRequest {
            event: Some(event),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |e| format!("/networking/events/{}?done=event_created", e.id),
        |form| event_form(&ctx, form),
    )
    .await
}

/// An event's invitations (every page of them: a meeting has tens).
async fn invitations(ctx: &Ctx, event_id: &str) -> Result<Vec<net::Invitation>, Fail> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = ctx
            .networking()
            .list_invitations(net::ListInvitationsRequest {
                page_size: 200,
                page_token: token,
                event_id: event_id.to_string(),
                organization_id: partner_scope(ctx),
                ..Default::default()
            })
            .await?
            .into_inner();
        all.extend(page.invitations);
        if page.next_page_token.is_empty() || all.len() >= 1000 {
            return Ok(all);
        }
        token = page.next_page_token;
    }
}

async fn event(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(NETWORKING)?;
    event_page(&ctx, &id, Form::new()).await
}

async fn event_page(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let e = get_event(ctx, id).await?;
    let staff = is_staff(ctx);
    let invitations = invitations(ctx, id).await?;
    let commitments = ctx
        .networking()
        .list_commitments(net::ListCommitmentsRequest {
            page_size: 100,
            event_id: id.to_string(),
            owner_organization_id: partner_scope(ctx),
            ..Default::default()
        })
        .await?
        .into_inner()
        .commitments;
    let own = partner_scope(ctx);
    // The decisions of its minutes, which a commitment made there may
    // follow from (and is shown with).
    let decisions: Vec<Choice> = e
        .outcome
        .iter()
        .flat_map(|o| &o.decisions)
        .map(|d| Choice::named(lang, &d.id, d.text.as_ref()))
        .collect();
    ctx.render_form(
        "event.html",
        form,
        context! {
            decision_texts => decisions.iter().map(|d| (d.value.clone(), d.label.clone())).collect::<std::collections::BTreeMap<_, _>>(),
            decisions => decisions,
            e => event_view(lang, &e),
            invitations => invitations.iter().map(invitation_view).collect::<Vec<_>>(),
            commitments => commitments.iter().map(|c| commitment_view(lang, c)).collect::<Vec<_>>(),
            staff => staff,
            own => own,
            organizations => if staff { organization_choices(ctx).await? } else { Vec::new() },
            genders => choices(lang, enum_names!(common::Gender)),
            categories => choices(lang, enum_names!(net::ParticipantCategory)),
            responses => choices(lang, [
                net::InvitationStatus::Accepted.as_str_name(),
                net::InvitationStatus::Tentative.as_str_name(),
                net::InvitationStatus::Declined.as_str_name(),
            ]),
            done => ctx.q("done"),
        },
    )
}

async fn invite(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let invitee = match f.get("invitee") {
        "guest" => net::invitation::Invitee::Guest(net::OutsideGuest {
            name: f.get("guest.name").trim().to_string(),
            affiliation: f.get("guest.affiliation").trim().to_string(),
            gender: enum_value!(common::Gender, f.get("guest.gender")),
        }),
        _ => net::invitation::Invitee::OrganizationId(f.get("organization_id").to_string()),
    };
    let answer = ctx
        .networking()
        .batch_create_invitations(net::BatchCreateInvitationsRequest {
            event_id: id.clone(),
            invitations: vec![net::Invitation {
                invitee: Some(invitee),
                category: enum_value!(net::ParticipantCategory, f.get("category")),
                ..Default::default()
            }],
            request_id: form.request_id.clone(),
        })
        .await;
    // The batch's one invitation is `invitations[0]`: its fields are the
    // form's own.
    if let Err(status) = &answer {
        let violations = crate::upstream::field_violations(status);
        if !violations.is_empty() {
            for (field, description) in violations {
                let field = field
                    .strip_prefix("invitations[0].")
                    .map(|rest| {
                        rest.strip_prefix("organization_id")
                            .map_or(rest, |_| "organization_id")
                    })
                    .unwrap_or(&field)
                    .to_string();
                form.object(&field, description);
            }
            return event_page(&ctx, &id, form).await;
        }
    }
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/events/{id}?done=invited"),
        |form| event_page(&ctx, &id, form),
    )
    .await
}

async fn respond(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(NETWORKING)?;
    let event_id = f.get("event_id").to_string();
    let answer = ctx
        .networking()
        .respond_to_invitation(net::RespondToInvitationRequest {
            id,
            response: enum_value!(net::InvitationStatus, f.get("response")),
            note: f.get("note").trim().to_string(),
            etag: f.get("etag").to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |i| format!("/networking/events/{}?done=replied", i.event_id),
        |form| event_page(&ctx, &event_id, form),
    )
    .await
}

async fn mark_held(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .networking()
        .mark_event_held(net::MarkEventHeldRequest {
            id: id.clone(),
            etag: f.get("etag").to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/events/{id}?done=event_held"),
        |form| event_page(&ctx, &id, form),
    )
    .await
}

// ------------------------------------------------------ minutes, decisions

/// Empty decision rows the outcome form offers besides those it has.
const NEW_DECISIONS: usize = 2;

/// A held event's minutes (both languages side by side) and its decisions
/// as rows: staff, `RecordEventOutcome`.
async fn outcome_page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let e = get_event(&ctx, &id).await?;
    let outcome = e.outcome.clone().unwrap_or_default();
    let mut form = put_text(
        Form::new().with("etag", e.etag.clone()),
        "outcome.minutes",
        outcome.minutes.as_ref(),
    );
    for (i, d) in outcome.decisions.iter().enumerate() {
        let n = format!("outcome.decisions[{i}]");
        form = put_text(form, &format!("{n}.text"), d.text.as_ref())
            .with(&format!("{n}.id"), d.id.clone());
    }
    outcome_form(&ctx, &e, form)
}

async fn get_event(ctx: &Ctx, id: &str) -> Result<net::Event, Fail> {
    Ok(ctx
        .networking()
        .get_event(net::GetEventRequest { id: id.to_string() })
        .await?
        .into_inner())
}

fn outcome_form(ctx: &Ctx, e: &net::Event, form: Form) -> Answer {
    let decision_rows = rows(&form, "outcome.decisions", NEW_DECISIONS);
    ctx.render_form(
        "event_outcome.html",
        form,
        context! { e => event_view(ctx.lang, e), decision_rows => decision_rows },
    )
}

async fn record_outcome(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    // A row left empty is no decision (removed, when it had one); the
    // service numbers those sent, `sent` keeps which form row each is.
    let (mut decisions, mut sent) = (Vec::new(), Vec::new());
    for n in sent_rows(f, "outcome.decisions") {
        let text = form_text(f, &format!("{n}.text"));
        if blank(&text) {
            continue;
        }
        decisions.push(net::Decision {
            id: f.get(&format!("{n}.id")).to_string(),
            text,
        });
        sent.push(n);
    }
    let answer = ctx
        .networking()
        .record_event_outcome(net::RecordEventOutcomeRequest {
            event_id: id.clone(),
            outcome: Some(net::EventOutcome {
                minutes: form_text(f, "outcome.minutes"),
                decisions,
                ..Default::default()
            }),
            update_mask: None,
            etag: f.get("etag").to_string(),
        })
        .await
        .map_err(|s| {
            crate::upstream::rename_violations(s, |field| {
                renumber(field, "outcome.decisions", &sent)
            })
        });
    let e = get_event(&ctx, &id).await?;
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/events/{id}?done=outcome_saved"),
        |form| async { outcome_form(&ctx, &e, form) },
    )
    .await
}

// -------------------------------------------------------------- check-in

/// The door: one column of large buttons, made for a phone — every
/// invitation with "arrived", and a walk-in counter.
async fn checkin_page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    checkin_view(&ctx, &id, Form::new()).await
}

async fn checkin_view(ctx: &Ctx, id: &str, mut form: Form) -> Answer {
    let lang = ctx.lang;
    if !form.values.contains_key("count") {
        form = form.with("count", "1");
    }
    let e = get_event(ctx, id).await?;
    let invitations = invitations(ctx, id).await?;
    let participants = ctx
        .networking()
        .list_participants(net::ListParticipantsRequest {
            event_id: id.to_string(),
            page_size: 1000,
            ..Default::default()
        })
        .await?
        .into_inner()
        .participants;
    let arrived = |i: &net::Invitation| participants.iter().any(|p| p.invitation_id == i.id);
    ctx.render_form(
        "checkin.html",
        form,
        context! {
            e => event_view(lang, &e),
            invitations => invitations.iter()
                .filter(|i| i.status != net::InvitationStatus::Withdrawn as i32)
                .map(|i| context! { arrived => arrived(i), ..invitation_view(i) })
                .collect::<Vec<_>>(),
            participants => participants.iter().map(|p| context! {
                name => p.display_name,
                kind => enum_name!(net::ParticipantKind, p.kind),
                category => enum_name!(net::ParticipantCategory, p.category),
                gender => enum_name!(common::Gender, p.gender),
                count => lang.number(p.count.into()),
                many => p.count > 1,
            }).collect::<Vec<_>>(),
            people => organization_people(ctx, &invitations).await?,
            genders => choices(lang, enum_names!(common::Gender)),
            categories => choices(lang, enum_names!(net::ParticipantCategory)),
            done => ctx.q("done"),
        },
    )
}

/// The people of the invited organizations, to check one in by name.
async fn organization_people(
    ctx: &Ctx,
    invitations: &[net::Invitation],
) -> Result<Vec<Value>, Fail> {
    let mut people = Vec::new();
    for i in invitations {
        let Some(net::invitation::Invitee::OrganizationId(org)) = &i.invitee else {
            continue;
        };
        if i.status == net::InvitationStatus::Withdrawn as i32 {
            continue;
        }
        let list = ctx
            .membership()
            .list_people(markaz_proto::membership::v1::ListPeopleRequest {
                organization_id: org.clone(),
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner();
        for p in list.people {
            people.push(context! {
                value => format!("{}|{}", p.id, org),
                label => format!("{} — {}", p.full_name, i.invitee_name),
            });
        }
    }
    Ok(people)
}

async fn checkin(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
    let entry = match f.get("what") {
        "guest" => net::CheckInEntry {
            participant: Some(net::check_in_entry::Participant::GuestInvitationId(
                f.get("invitation_id").to_string(),
            )),
            ..Default::default()
        },
        "person" => {
            let (person, org) = f
                .get("person")
                .split_once('|')
                .unwrap_or((f.get("person"), ""));
            net::CheckInEntry {
                participant: Some(net::check_in_entry::Participant::Person(
                    net::CheckInPerson {
                        person_id: person.to_string(),
                        organization_id: org.to_string(),
                    },
                )),
                ..Default::default()
            }
        }
        _ => {
            let count = parse_int(&mut form, lang, "count", f.get("count")).unwrap_or(1);
            net::CheckInEntry {
                participant: Some(net::check_in_entry::Participant::WalkIn(net::WalkIn {
                    // The form's request id: the same entry sent twice on a bad
                    // line counts its people once.
                    key: form.request_id.clone(),
                    count: count as i32,
                })),
                category: enum_value!(net::ParticipantCategory, f.get("category")),
                gender: enum_value!(common::Gender, f.get("gender")),
            }
        }
    };
    if form.has_errors() {
        return checkin_view(&ctx, &id, form).await;
    }
    let answer = ctx
        .networking()
        .check_in(net::CheckInRequest {
            event_id: id.clone(),
            entries: vec![entry],
            request_id: form.request_id.clone(),
        })
        .await;
    if let Err(status) = &answer {
        let violations = crate::upstream::field_violations(status);
        if !violations.is_empty() {
            for (field, description) in violations {
                let field = match field.rsplit('.').next() {
                    Some("count") => "count",
                    Some("category") => "category",
                    Some("gender") => "gender",
                    _ => "what",
                };
                form.object(field, description);
            }
            return checkin_view(&ctx, &id, form).await;
        }
    }
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/events/{id}/checkin?done=checked_in"),
        |form| checkin_view(&ctx, &id, form),
    )
    .await
}

// ----------------------------------------------------------- commitments

async fn create_commitment(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let due = parse_date(
        &mut form,
        ctx.lang,
        "commitment.due_date",
        f.get("commitment.due_date"),
    );
    if form.has_errors() {
        return event_page(&ctx, &id, form).await;
    }
    let answer = ctx
        .networking()
        .create_commitment(net::CreateCommitmentRequest {
            commitment: Some(net::Commitment {
                event_id: id.clone(),
                description: form_text(f, "commitment.description"),
                owner: Some(net::CommitmentOwner {
                    kind: net::OwnerKind::Organization as i32,
                    organization_id: f.get("commitment.owner.organization_id").to_string(),
                    ..Default::default()
                }),
                due_date: due,
                decision_id: f.get("commitment.decision_id").to_string(),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/events/{id}?done=commitment_made"),
        |form| event_page(&ctx, &id, form),
    )
    .await
}

async fn commitments(ctx: Ctx) -> Answer {
    ctx.require(NETWORKING)?;
    commitments_page(&ctx, Form::new()).await
}

async fn commitments_page(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let list = ctx
        .networking()
        .list_commitments(net::ListCommitmentsRequest {
            page_size: 50,
            page_token: ctx.q("page").to_string(),
            owner_organization_id: partner_scope(ctx),
            status: enum_value!(net::CommitmentStatus, ctx.q("status")),
            overdue_only: ctx.q("overdue") == "on",
            ..Default::default()
        })
        .await?
        .into_inner();
    let filters = ctx.filters(&["status", "overdue"]);
    ctx.render_form(
        "networking.html",
        Form {
            errors: form.errors,
            summary: form.summary,
            refusals: form.refusals,
            ..filters
        },
        context! {
            tab => "commitments",
            commitments => list.commitments.iter().map(|c| commitment_view(lang, c)).collect::<Vec<_>>(),
            next => next_page(ctx, &list.next_page_token),
            statuses => choices(lang, enum_names!(net::CommitmentStatus)),
            staff => is_staff(ctx),
            done => ctx.q("done"),
        },
    )
}

async fn fulfil(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .networking()
        .fulfil_commitment(net::FulfilCommitmentRequest {
            id,
            evidence: vec![net::Evidence {
                description: super::text(f.get("evidence"), ""),
                ..Default::default()
            }],
            etag: f.get("etag").to_string(),
            ..Default::default()
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/networking/commitments?done=commitment_fulfilled".to_string(),
        |form| commitments_page(&ctx, form),
    )
    .await
}

async fn drop_commitment(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .networking()
        .drop_commitment(net::DropCommitmentRequest {
            id,
            reason: f.get("reason").trim().to_string(),
            etag: f.get("etag").to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/networking/commitments?done=commitment_dropped".to_string(),
        |form| commitments_page(&ctx, form),
    )
    .await
}

/// Carrying an open commitment to the next meeting (`CarryCommitment`):
/// staff choose a planned or held event; the service decides whether it is
/// a later one, and its refusal is shown on the form.
async fn carry_page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    carry_form(&ctx, &id, Form::new()).await
}

async fn carry_form(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let c = ctx
        .networking()
        .get_commitment(net::GetCommitmentRequest { id: id.to_string() })
        .await?
        .into_inner();
    // The meetings it may go to: planned or held, not those it is on.
    let on: Vec<&String> = std::iter::once(&c.event_id)
        .chain(&c.agenda_event_ids)
        .collect();
    let mut later = Vec::new();
    for status in [net::EventStatus::Planned, net::EventStatus::Held] {
        later.extend(
            ctx.networking()
                .list_events(net::ListEventsRequest {
                    page_size: 100,
                    status: status as i32,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .events
                .into_iter()
                .filter(|e| !on.contains(&&e.id)),
        );
    }
    later.sort_by_key(|e| e.start_time.map(|t| t.seconds));
    let mut agenda = Vec::new();
    for event_id in &on {
        agenda.push(event_view(lang, &get_event(ctx, event_id).await?));
    }
    ctx.render_form(
        "commitment_carry.html",
        form,
        context! {
            c => commitment_view(lang, &c),
            agenda => agenda,
            events => later.iter().map(|e| Choice {
                value: e.id.clone(),
                label: format!(
                    "{} — {}",
                    lang.text(e.title.as_ref()),
                    local_time(lang, e.start_time.as_ref(), e.utc_offset_minutes)
                ),
            }).collect::<Vec<_>>(),
        },
    )
}

async fn carry(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let due = parse_date(&mut form, ctx.lang, "due_date", f.get("due_date"));
    if form.has_errors() {
        return carry_form(&ctx, &id, form).await;
    }
    let event_id = f.get("event_id").to_string();
    let answer = ctx
        .networking()
        .carry_commitment(net::CarryCommitmentRequest {
            id: id.clone(),
            event_id: event_id.clone(),
            due_date: due,
            note: f.get("note").trim().to_string(),
            etag: f.get("etag").to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/events/{event_id}?done=commitment_carried"),
        |form| carry_form(&ctx, &id, form),
    )
    .await
}

// ------------------------------------------------ coalitions and campaigns

async fn coalitions(ctx: Ctx) -> Answer {
    ctx.require(NETWORKING)?;
    coalitions_page(&ctx, Form::new()).await
}

async fn coalitions_page(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let own = partner_scope(ctx);
    let coalitions = ctx
        .networking()
        .list_coalitions(net::ListCoalitionsRequest {
            page_size: 100,
            organization_id: own.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .coalitions;
    // A partner's campaigns: those of its coalitions and its own.
    let mut campaigns = Vec::new();
    if own.is_empty() {
        campaigns = ctx
            .networking()
            .list_campaigns(net::ListCampaignsRequest {
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner()
            .campaigns;
    } else {
        for c in &coalitions {
            campaigns.extend(
                ctx.networking()
                    .list_campaigns(net::ListCampaignsRequest {
                        page_size: 100,
                        coalition_id: c.id.clone(),
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .campaigns,
            );
        }
        campaigns.extend(
            ctx.networking()
                .list_campaigns(net::ListCampaignsRequest {
                    page_size: 100,
                    organization_id: own.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .campaigns,
        );
    }
    let coalition_name = |id: &str| {
        coalitions
            .iter()
            .find(|c| c.id == id)
            .map(|c| lang.text(c.name.as_ref()))
            .unwrap_or_default()
    };
    let staff = is_staff(ctx);
    let mut form = form;
    if !form.values.contains_key("coalition.formed_on") {
        form = form.with(
            "coalition.formed_on",
            date_value(Some(&markaz_kit::time::Date::today().to_proto())),
        );
    }
    ctx.render_form(
        "networking.html",
        form,
        context! {
            tab => "coalitions",
            coalitions => coalitions.iter().map(|c| context! {
                id => c.id,
                name => lang.text(c.name.as_ref()),
                status => enum_name!(net::CoalitionStatus, c.status),
                issues => c.issue_codes,
                branch => c.branch_id,
                formed_on => lang.date(c.formed_on.as_ref()),
                members => lang.number(c.active_member_count.into()),
            }).collect::<Vec<_>>(),
            campaigns => campaigns.iter().map(|c| context! {
                id => c.id,
                title => lang.text(c.title.as_ref()),
                issue => c.issue_code,
                status => enum_name!(net::CampaignStatus, c.status),
                runner => match &c.runner {
                    Some(net::campaign::Runner::CoalitionId(id)) => coalition_name(id),
                    Some(net::campaign::Runner::OrganizationId(_)) => lang.label("organization"),
                    None => String::new(),
                },
                starts => lang.date(c.start_date.as_ref()),
                ends => lang.date(c.end_date.as_ref()),
                targets => c.targets.iter().map(|t| lang.label(enum_name!(net::TargetKind, t.kind))).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
            staff => staff,
            organizations => if staff { organization_choices(ctx).await? } else { Vec::new() },
            coalition_choices => coalitions.iter().map(|c| Choice::named(lang, &c.id, c.name.as_ref())).collect::<Vec<_>>(),
            branches => if staff { branch_choices(ctx).await? } else { Vec::new() },
            issues => issue_choices(ctx).await?,
            target_kinds => choices(lang, enum_names!(net::TargetKind)),
            done => ctx.q("done"),
        },
    )
}

async fn create_issue(ctx: Ctx) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .networking()
        .create_issue(net::CreateIssueRequest {
            issue: Some(net::Issue {
                code: f.get("issue.code").trim().to_string(),
                name: form_text(f, "issue.name"),
                ..Default::default()
            }),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/networking/coalitions?done=issue_created".to_string(),
        |form| coalitions_page(&ctx, form),
    )
    .await
}

async fn create_coalition(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let formed_on = parse_date(
        &mut form,
        ctx.lang,
        "coalition.formed_on",
        f.get("coalition.formed_on"),
    );
    if form.has_errors() {
        return coalitions_page(&ctx, form).await;
    }
    let lead = f.get("coalition.lead_organization_id").to_string();
    let answer = ctx
        .networking()
        .create_coalition(net::CreateCoalitionRequest {
            coalition: Some(net::Coalition {
                name: form_text(f, "coalition.name"),
                issue_codes: f
                    .all("coalition.issue_codes")
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                charter: form_text(f, "coalition.charter"),
                lead_organization_id: lead.clone(),
                branch_id: f.get("coalition.branch_id").to_string(),
                formed_on,
                ..Default::default()
            }),
            founding_member_ids: f
                .all("founding_member_ids")
                .into_iter()
                .filter(|m| *m != lead)
                .map(str::to_string)
                .collect(),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/networking/coalitions?done=coalition_created".to_string(),
        |form| coalitions_page(&ctx, form),
    )
    .await
}

async fn create_campaign(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
    let start = parse_date(
        &mut form,
        lang,
        "campaign.start_date",
        f.get("campaign.start_date"),
    );
    let end = parse_date(
        &mut form,
        lang,
        "campaign.end_date",
        f.get("campaign.end_date"),
    );
    if form.has_errors() {
        return coalitions_page(&ctx, form).await;
    }
    let runner = match (
        f.get("campaign.coalition_id"),
        f.get("campaign.organization_id"),
    ) {
        ("", "") => None,
        ("", org) => Some(net::campaign::Runner::OrganizationId(org.to_string())),
        (coalition, _) => Some(net::campaign::Runner::CoalitionId(coalition.to_string())),
    };
    let answer = ctx
        .networking()
        .create_campaign(net::CreateCampaignRequest {
            campaign: Some(net::Campaign {
                title: form_text(f, "campaign.title"),
                issue_code: f.get("campaign.issue_code").to_string(),
                objective: form_text(f, "campaign.objective"),
                runner,
                targets: vec![net::CampaignTarget {
                    kind: enum_value!(net::TargetKind, f.get("campaign.targets[0].kind")),
                    description: form_text(f, "campaign.targets[0].description"),
                    ..Default::default()
                }],
                branch_id: f.get("campaign.branch_id").to_string(),
                start_date: start,
                end_date: end,
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/networking/coalitions?done=campaign_created".to_string(),
        |form| coalitions_page(&ctx, form),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_read_at_the_venue_offset() {
        let mut form = Form::new();
        let ts = parse_local_time(&mut form, Lang::En, "t", "2026-03-21T10:30", 180).unwrap();
        // 10:30 in Syria is 07:30 UTC.
        assert_eq!(ts.seconds % 86_400, 7 * 3600 + 30 * 60);
        assert!(parse_local_time(&mut form, Lang::En, "t", "2026-03-21T25:00", 180).is_none());
        assert!(form.errors.contains_key("t"));
    }
}
