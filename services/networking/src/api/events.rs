//! Events and meetings: planned → held, or cancelled, with history; their
//! minutes and decisions.

use std::collections::BTreeMap;

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id, update_mask};
use markaz_kit::time::{Date, now_micros, timestamp};
use markaz_kit::validate;
use markaz_proto::events::v1 as ev;
use markaz_proto::networking::v1 as api;

use super::{NetworkingApi, enum_filter, event_scope, known_organizations, optional_date};
use crate::domain::events::{
    EVENT_LIFECYCLE, EVENT_MASK, EventAction, EventKind, EventStatus, changed_fields,
    check_event_update, check_holdable, merge_event, parse_event,
};
use crate::domain::figures::attendance_summary;
use crate::domain::outcomes::{OUTCOME_MASK, merge_outcome, parse_outcome};
use crate::domain::{PROSE_MAX, Word, issue_code};
use crate::store;
use crate::store::events::{Event, EventFilter};
use crate::store::reports::Attendance;

pub(crate) async fn create(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CreateEventRequest,
) -> Result<api::Event> {
    let (fields, idempotency) = (
        parse_event(req.event.as_ref().unwrap_or(&api::Event::default())),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    super::issues::check_codes(&mut tx, "event.issue_codes", &fields.issue_codes, &[]).await?;
    known_organizations(&mut tx, &fields.organizers).await?;
    if let Some(c) = &fields.coalition_id {
        store::coalitions::get(&mut tx, c)
            .await?
            .ok_or_else(|| Error::invalid("event.coalition_id", "no such coalition"))?;
    }
    let id = new_id();
    let event = store::events::insert(&mut tx, &id, &fields, &caller.subject).await?;
    let reply = proto(&event, &Attendance::default());
    idempotency.commit(tx, &id, &reply).await?;
    tracing::info!(event = %id, "event planned");
    Ok(reply)
}

/// The event, if the caller may see it; NOT_FOUND otherwise.
pub(crate) async fn visible_event(tx: &mut Tx, caller: &Caller, id: &str) -> Result<Event> {
    let scope = event_scope(caller);
    let restricted =
        scope.nothing || !scope.organization_id.is_empty() || !scope.staff_subject.is_empty();
    if restricted && !store::events::visible(tx, id, &scope).await? {
        return Err(Error::not_found("event", id));
    }
    find(tx, id).await
}

pub(crate) async fn find(tx: &mut Tx, id: &str) -> Result<Event> {
    store::events::get(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("event", id))
}

async fn lock_and_find(tx: &mut Tx, id: &str) -> Result<Event> {
    tx.lock("events", id).await?;
    find(tx, id).await
}

/// The event as the API shows it, with its attendance.
pub(crate) async fn shown(tx: &mut Tx, event: &Event) -> Result<api::Event> {
    let a = store::reports::attendance(tx, std::slice::from_ref(&event.id)).await?;
    Ok(proto(event, &a))
}

pub(crate) async fn get(
    n: &NetworkingApi,
    caller: Caller,
    req: api::GetEventRequest,
) -> Result<api::Event> {
    let id = parse_id("id", &req.id)?;
    let mut tx = n.db.read(&caller.tenant).await?;
    let event = visible_event(&mut tx, &caller, &id).await?;
    shown(&mut tx, &event).await
}

pub(crate) async fn list(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListEventsRequest,
) -> Result<api::ListEventsResponse> {
    let (status, kind, branch_id, issue, coalition_id, organization_id, from, until) = (
        enum_filter("status", req.status, EventStatus::as_str_name),
        enum_filter("kind", req.kind, EventKind::as_str_name),
        crate::domain::branch("branch_id", &req.branch_id, false),
        if req.issue_code.is_empty() {
            Ok(String::new())
        } else {
            issue_code("issue_code", &req.issue_code)
        },
        super::optional_id("coalition_id", &req.coalition_id),
        super::optional_id("organization_id", &req.organization_id),
        optional_date("from", req.from.as_ref()),
        optional_date("until", req.until.as_ref()),
    )
        .all()?;
    let mut filter = EventFilter {
        status,
        kind,
        branch_id,
        issue_code: issue,
        coalition_id,
        organization_id,
        from,
        until,
        ..EventFilter::default()
    };
    let scope = event_scope(&caller);
    if scope.nothing {
        filter.nothing = true;
    }
    if !scope.organization_id.is_empty() {
        match caller.organization_filter(&filter.organization_id) {
            Some(own) => filter.organization_id = own,
            None => filter.nothing = true,
        }
    }
    filter.staff_subject = scope.staff_subject;
    let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
    let after = match super::split_key(&page.after)? {
        None => None,
        Some((start, id)) => Some((
            start
                .parse::<i64>()
                .map_err(|_| Error::invalid("page_token", "not a token from this list"))?,
            id,
        )),
    };
    let mut tx = n.db.read(&caller.tenant).await?;
    let (mut events, total_size) =
        store::events::list(&mut tx, &filter, after, page.fetch()).await?;
    let next_page_token = page.finish(&mut events, |e| format!("{}|{}", e.fields.start, e.id));
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let a = store::reports::attendance(&mut tx, &ids).await?;
    Ok(api::ListEventsResponse {
        events: events.iter().map(|e| proto(e, &a)).collect(),
        next_page_token,
        total_size,
    })
}

pub(crate) async fn update(
    n: &NetworkingApi,
    caller: Caller,
    req: api::UpdateEventRequest,
) -> Result<api::Event> {
    let sent = req.event.unwrap_or_default();
    let (id, mask) = (
        parse_id("event.id", &sent.id),
        update_mask(req.update_mask.as_ref(), EVENT_MASK),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    check_etag("event.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current, &Attendance::default());
    merge_event(&mut merged, &sent, &mask);
    let fields = parse_event(&merged)?;
    let changed = changed_fields(&current.fields, &fields);
    if changed.is_empty() {
        return shown(&mut tx, &current).await;
    }
    check_event_update(current.status, &changed)?;
    super::issues::check_codes(
        &mut tx,
        "event.issue_codes",
        &fields.issue_codes,
        &current.fields.issue_codes,
    )
    .await?;
    let added: Vec<String> = fields
        .organizers
        .iter()
        .filter(|o| !current.fields.organizers.contains(o))
        .cloned()
        .collect();
    known_organizations(&mut tx, &added).await?;
    if let Some(c) = fields
        .coalition_id
        .as_ref()
        .filter(|c| Some(*c) != current.fields.coalition_id.as_ref())
    {
        store::coalitions::get(&mut tx, c)
            .await?
            .ok_or_else(|| Error::invalid("event.coalition_id", "no such coalition"))?;
    }
    store::events::update(&mut tx, &current, &fields).await?;
    let event = find(&mut tx, &id).await?;
    let reply = shown(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(reply)
}

pub(crate) async fn hold(
    n: &NetworkingApi,
    caller: Caller,
    req: api::MarkEventHeldRequest,
) -> Result<api::Event> {
    let id = parse_id("id", &req.id)?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    check_etag("etag", &req.etag, current.version)?;
    let to = EVENT_LIFECYCLE.next(current.status, EventAction::Hold)?;
    let a = store::reports::attendance(&mut tx, std::slice::from_ref(&id)).await?;
    let headcount: i64 = a.participants.iter().map(|p| i64::from(p.count)).sum();
    check_holdable(now_micros(), current.fields.start, headcount)?;
    store::events::set_status(&mut tx, &current, to, "", &caller.subject, Date::today()).await?;
    let event = find(&mut tx, &id).await?;
    publish_held(&mut tx, &event, &a).await?;
    let reply = proto(&event, &a);
    tx.commit().await?;
    tracing::info!(event = %id, "event held");
    Ok(reply)
}

/// Publishes EventHeld with the next version: what the figures of other
/// services count the event by.
pub(crate) async fn publish_held(tx: &mut Tx, event: &Event, a: &Attendance) -> Result<()> {
    let version = store::events::next_held_version(tx, &event.id).await?;
    let mut participants: BTreeMap<_, ev::CategoryCount> = BTreeMap::new();
    let mut without_record: BTreeMap<_, ev::CategoryCount> = BTreeMap::new();
    let mut organizations: BTreeMap<String, ev::OrganizationPresent> = BTreeMap::new();
    let mut attendees = Vec::new();
    for p in &a.participants {
        let tally = |m: &mut BTreeMap<_, ev::CategoryCount>| {
            let c = m.entry(p.category).or_insert_with(|| ev::CategoryCount {
                category: p.category.word(),
                ..Default::default()
            });
            let n = i64::from(p.count);
            match p.gender {
                markaz_proto::common::v1::Gender::Female => c.female += n,
                markaz_proto::common::v1::Gender::Male => c.male += n,
                _ => c.undisclosed += n,
            }
        };
        tally(&mut participants);
        match &p.key {
            crate::domain::attendance::ParticipantKey::Person(person_id) => {
                attendees.push(ev::EventAttendee {
                    person_id: person_id.clone(),
                    organization_id: p.organization_id.clone().unwrap_or_default(),
                    category: p.category.word(),
                    gender: p.gender as i32,
                    age_band: a.age_bands.get(person_id).copied().unwrap_or_default() as i32,
                })
            }
            _ => tally(&mut without_record),
        }
        if let (Some(org), Some(kind)) = (&p.organization_id, p.organization_kind) {
            let o = organizations
                .entry(org.clone())
                .or_insert_with(|| ev::OrganizationPresent {
                    organization_id: org.clone(),
                    kind: kind as i32,
                    governorate: p.governorate.clone(),
                    participants: 0,
                });
            o.participants += i64::from(p.count);
        }
    }
    let inv: Vec<_> = a.invitations.iter().collect();
    let par: Vec<_> = a.participants.iter().collect();
    let summary = attendance_summary(&inv, &par);
    tx.publish(
        &event.id,
        &ev::EventHeld {
            event_id: event.id.clone(),
            kind: event.fields.kind.word(),
            branch_id: event.fields.branch_id.clone(),
            held_on: Some(event.held_on.to_proto()),
            start_time: Some(timestamp(event.fields.start)),
            end_time: Some(timestamp(event.fields.end)),
            issue_codes: event.fields.issue_codes.clone(),
            coalition_id: event.fields.coalition_id.clone().unwrap_or_default(),
            participants: participants.into_values().collect(),
            attendees,
            without_record: without_record.into_values().collect(),
            organizations: organizations.into_values().collect(),
            invited: i64::from(summary.invited),
            registered: i64::from(summary.registered),
            invitations_honoured: i64::from(summary.invitations_honoured),
            version,
        },
    )
    .await
}

pub(crate) async fn cancel(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CancelEventRequest,
) -> Result<api::Event> {
    let (id, reason) = (
        parse_id("id", &req.id),
        validate::prose("reason", &req.reason, PROSE_MAX, true),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    check_etag("etag", &req.etag, current.version)?;
    let to = EVENT_LIFECYCLE.next(current.status, EventAction::Cancel)?;
    store::events::set_status(
        &mut tx,
        &current,
        to,
        &reason,
        &caller.subject,
        Date::today(),
    )
    .await?;
    let event = find(&mut tx, &id).await?;
    let reply = shown(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(reply)
}

pub(crate) async fn record_outcome(
    n: &NetworkingApi,
    caller: Caller,
    req: api::RecordEventOutcomeRequest,
) -> Result<api::Event> {
    let (id, mask) = (
        parse_id("event_id", &req.event_id),
        update_mask(req.update_mask.as_ref(), OUTCOME_MASK),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    check_etag("etag", &req.etag, current.version)?;
    let existing: Vec<String> = current.decisions.iter().map(|d| d.id.clone()).collect();
    let mut merged = outcome_proto(&current);
    merge_outcome(
        &mut merged,
        req.outcome.as_ref().unwrap_or(&Default::default()),
        &mask,
    );
    let outcome = parse_outcome(Some(&merged), &existing)?;
    EVENT_LIFECYCLE.next(current.status, EventAction::RecordOutcome)?;
    store::events::set_outcome(&mut tx, &current, &outcome, &caller.subject).await?;
    let event = find(&mut tx, &id).await?;
    let reply = shown(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(reply)
}

fn outcome_proto(e: &Event) -> api::EventOutcome {
    api::EventOutcome {
        minutes: Some(e.minutes.clone()),
        decisions: e
            .decisions
            .iter()
            .map(|d| api::Decision {
                id: d.id.clone(),
                text: Some(d.text.clone()),
            })
            .collect(),
        recorded_by: e.outcome_recorded_by.clone(),
        record_time: e.outcome_recorded_at.map(timestamp),
    }
}

pub(crate) fn proto(e: &Event, a: &Attendance) -> api::Event {
    let inv: Vec<_> = a
        .invitations
        .iter()
        .filter(|i| i.event_id == e.id)
        .collect();
    let par: Vec<_> = a
        .participants
        .iter()
        .filter(|p| p.event_id == e.id)
        .collect();
    api::Event {
        id: e.id.clone(),
        kind: e.fields.kind as i32,
        title: Some(e.fields.title.clone()),
        purpose: Some(e.fields.purpose.clone()),
        branch_id: e.fields.branch_id.clone(),
        venue: e.fields.venue.clone(),
        start_time: Some(timestamp(e.fields.start)),
        end_time: Some(timestamp(e.fields.end)),
        utc_offset_minutes: e.fields.utc_offset_minutes,
        held_on: Some(e.held_on.to_proto()),
        organizer_organization_ids: e.fields.organizers.clone(),
        organizer_staff: e
            .fields
            .staff
            .iter()
            .map(|s| api::StaffMember {
                name: s.name.clone(),
                subject: s.subject.clone(),
            })
            .collect(),
        issue_codes: e.fields.issue_codes.clone(),
        coalition_id: e.fields.coalition_id.clone().unwrap_or_default(),
        status: e.status as i32,
        status_history: e
            .history
            .iter()
            .map(|h| api::EventStatusChange {
                from: EventStatus::from_str_name(&h.from_status).unwrap_or_default() as i32,
                to: EventStatus::from_str_name(&h.to_status).unwrap_or_default() as i32,
                reason: h.reason.clone(),
                changed_by: h.changed_by.clone(),
                change_time: Some(timestamp(h.changed_at)),
            })
            .collect(),
        outcome: Some(outcome_proto(e)),
        attendance: Some(attendance_summary(&inv, &par)),
        create_time: Some(timestamp(e.created_at)),
        update_time: Some(timestamp(e.updated_at)),
        etag: etag(e.version),
    }
}
