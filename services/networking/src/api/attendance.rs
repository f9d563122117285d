//! Check-in on the day: known people, invited guests and walk-ins, bulk and
//! idempotent entry by entry.

use std::collections::HashMap;

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, parse_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_kit::validate;
use markaz_proto::networking::v1 as api;

use super::{NetworkingApi, enum_filter};
use crate::domain::PROSE_MAX;
use crate::domain::attendance::{
    Attendance, Effect, ParticipantCategory, ParticipantKey, ParticipantKind, Records, merge,
    parse_entries, resolve,
};
use crate::domain::events::{EVENT_LIFECYCLE, EventAction, EventStatus, check_check_in_open};
use crate::domain::figures::attendance_summary;
use crate::store;
use crate::store::attendance::Participant;

pub(crate) async fn check_in(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CheckInRequest,
) -> Result<api::CheckInResponse> {
    let (event_id, entries, idempotency) = (
        parse_id("event_id", &req.event_id),
        parse_entries(&req.entries),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    tx.lock("events", &event_id).await?;
    let event = super::events::find(&mut tx, &event_id).await?;
    EVENT_LIFECYCLE.next(event.status, EventAction::CheckIn)?;
    check_check_in_open(now_micros(), &event.fields)?;

    let (guests, person_invitations, organization_invitations) =
        store::invitations::for_check_in(&mut tx, &event_id).await?;
    let person_ids: Vec<String> = entries
        .iter()
        .filter_map(|e| match &e.key {
            ParticipantKey::Person(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    let mut organization_ids: Vec<String> = entries
        .iter()
        .filter_map(|e| e.organization_id.clone())
        .collect();
    organization_ids.extend(
        person_ids
            .iter()
            .filter_map(|p| person_invitations.get(p))
            .filter_map(|i| i.organization_id.clone()),
    );
    organization_ids.sort();
    organization_ids.dedup();
    let records = Records {
        people: store::attendance::people(&mut tx, &person_ids).await?,
        organizations: store::attendance::organization_kinds(&mut tx, &organization_ids).await?,
        guests,
        person_invitations,
        organization_invitations,
    };
    let incoming = resolve(&entries, &records)?;
    let current = store::attendance::current(&mut tx, &event_id).await?;
    let current_attendance: HashMap<String, Attendance> = current
        .iter()
        .map(|(k, p)| (k.clone(), p.attendance.clone()))
        .collect();
    let merged = merge(&current_attendance, incoming);
    let (mut added, mut corrected, mut unchanged) = (0, 0, 0);
    for (a, effect) in &merged {
        match effect {
            Effect::Added => added += 1,
            Effect::Corrected => corrected += 1,
            Effect::Unchanged => unchanged += 1,
        }
        store::attendance::write(&mut tx, &event_id, a, *effect, &caller.subject).await?;
    }
    let a = store::reports::attendance(&mut tx, std::slice::from_ref(&event_id)).await?;
    if event.status == EventStatus::Held && added + corrected > 0 {
        super::events::publish_held(&mut tx, &event, &a).await?;
    }
    let now = store::attendance::current(&mut tx, &event_id).await?;
    let participants = merged
        .iter()
        .filter_map(|(a, _)| now.get(&a.key.text()))
        .map(proto)
        .collect();
    let inv: Vec<_> = a.invitations.iter().collect();
    let par: Vec<_> = a.participants.iter().collect();
    let reply = api::CheckInResponse {
        participants,
        added,
        corrected,
        unchanged,
        attendance: Some(attendance_summary(&inv, &par)),
    };
    idempotency
        .commit(tx, &format!("check-in:{event_id}"), &reply)
        .await?;
    Ok(reply)
}

pub(crate) async fn remove(
    n: &NetworkingApi,
    caller: Caller,
    req: api::RemoveParticipantRequest,
) -> Result<api::Participant> {
    let (event_id, key, reason) = (
        parse_id("event_id", &req.event_id),
        ParticipantKey::parse("key", &req.key),
        validate::prose("reason", &req.reason, PROSE_MAX, true),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("events", &event_id).await?;
    let event = super::events::find(&mut tx, &event_id).await?;
    let current = store::attendance::current(&mut tx, &event_id).await?;
    let participant = current
        .get(&key.text())
        .cloned()
        .ok_or_else(|| Error::not_found("participant", key.text()))?;
    EVENT_LIFECYCLE.next(event.status, EventAction::CheckIn)?;
    store::attendance::remove(&mut tx, &participant, &reason, &caller.subject).await?;
    if event.status == EventStatus::Held {
        let a = store::reports::attendance(&mut tx, std::slice::from_ref(&event_id)).await?;
        super::events::publish_held(&mut tx, &event, &a).await?;
    }
    tx.commit().await?;
    Ok(proto(&participant))
}

pub(crate) async fn list(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListParticipantsRequest,
) -> Result<api::ListParticipantsResponse> {
    let (event_id, category, kind) = (
        parse_id("event_id", &req.event_id),
        enum_filter("category", req.category, ParticipantCategory::as_str_name),
        enum_filter("kind", req.kind, ParticipantKind::as_str_name),
    )
        .all()?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{event_id}|{category}|{kind}"),
    )?;
    let mut tx = n.db.read(&caller.tenant).await?;
    super::events::find(&mut tx, &event_id).await?;
    let (mut rows, total_size) = store::attendance::list(
        &mut tx,
        &event_id,
        &category,
        &kind,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut rows, |p| p.id.clone());
    Ok(api::ListParticipantsResponse {
        participants: rows.iter().map(proto).collect(),
        next_page_token,
        total_size,
    })
}

pub(crate) fn proto(p: &Participant) -> api::Participant {
    let a = &p.attendance;
    api::Participant {
        key: a.key.text(),
        kind: a.key.kind() as i32,
        person_id: p.person_id.clone().unwrap_or_default(),
        organization_id: a.organization_id.clone().unwrap_or_default(),
        invitation_id: a.invitation_id.clone().unwrap_or_default(),
        display_name: p.display_name.clone(),
        category: a.category as i32,
        gender: a.gender as i32,
        age_band: a.age_band as i32,
        count: a.count,
        checked_in_by: p.checked_in_by.clone(),
        check_in_time: Some(timestamp(p.checked_in_at)),
        update_time: Some(timestamp(p.updated_at)),
    }
}
