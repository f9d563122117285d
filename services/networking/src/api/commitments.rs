//! Follow-up commitments: open → done | dropped, with history and
//! evidence; carried from meeting to meeting; overdue listable.

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id, update_mask};
use markaz_kit::time::{Date, MaybeDate, now_micros, timestamp};
use markaz_proto::common::v1::OrganizationKind;
use markaz_proto::events::v1 as ev;
use markaz_proto::networking::v1 as api;
use markaz_proto::networking::v1::CommitmentChangeKind;

use super::{NetworkingApi, enum_filter, known_organization, known_person, partner_of};
use crate::domain::Word;
use crate::domain::commitments::{
    COMMITMENT_LIFECYCLE, COMMITMENT_MASK, CommitmentAction, CommitmentFields, CommitmentStatus,
    Owner, OwnerKind, check_carry, check_due_date, days_overdue, is_overdue, merge_commitment,
    parse_carry, parse_commitment, parse_drop, parse_fulfilment, parse_new_commitment,
};
use crate::domain::events::{EVENT_LIFECYCLE, EventAction, EventFacts, local_date};
use crate::store;
use crate::store::commitments::{Commitment, CommitmentFilter};
use crate::store::events::Event;

pub(crate) async fn create(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CreateCommitmentRequest,
) -> Result<api::Commitment> {
    let ((event_id, fields), idempotency) = (
        parse_new_commitment(req.commitment.as_ref()),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    tx.lock("events", &event_id).await?;
    let event = super::events::find(&mut tx, &event_id).await?;
    EVENT_LIFECYCLE.next(event.status, EventAction::Commit)?;
    check_due_date("commitment.due_date", fields.due_date, event.held_on)?;
    check_fields(&mut tx, &fields, &event).await?;
    let id = new_id();
    let c = store::commitments::insert(
        &mut tx,
        &id,
        &event_id,
        &event.fields.branch_id,
        event.held_on,
        &fields,
        &caller.subject,
    )
    .await?;
    tx.publish(
        &id,
        &ev::CommitmentMade {
            commitment: Some(snapshot(&c, &event)),
        },
    )
    .await?;
    let reply = proto(&c, Date::today());
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

/// The owner is known here (a local-administration body is one), and the
/// decision is one of the event's.
async fn check_fields(tx: &mut Tx, f: &CommitmentFields, event: &Event) -> Result<()> {
    match &f.owner {
        Owner::Organization(o) => {
            known_organization(tx, o).await?;
        }
        Owner::LocalAdministration(o) => {
            if known_organization(tx, o).await?.kind != OrganizationKind::LocalAdministration {
                return Err(Error::invalid(
                    "commitment.owner.organization_id",
                    "not a local-administration body",
                ));
            }
        }
        Owner::Person(p) => {
            known_person(tx, p).await?;
        }
    }
    if let Some(d) = &f.decision_id
        && !event.decisions.iter().any(|x| &x.id == d)
    {
        return Err(Error::invalid(
            "commitment.decision_id",
            "not a decision of the event",
        ));
    }
    Ok(())
}

async fn find(tx: &mut Tx, id: &str) -> Result<Commitment> {
    store::commitments::get(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("commitment", id))
}

async fn lock_and_find(tx: &mut Tx, id: &str) -> Result<Commitment> {
    tx.lock("commitments", id).await?;
    find(tx, id).await
}

pub(crate) async fn get(
    n: &NetworkingApi,
    caller: Caller,
    req: api::GetCommitmentRequest,
) -> Result<api::Commitment> {
    let id = parse_id("id", &req.id)?;
    let mut tx = n.db.read(&caller.tenant).await?;
    if let Some(own) = partner_of(&caller) {
        let scope = CommitmentFilter {
            partner: own.clone(),
            nothing: own.is_empty(),
            ..Default::default()
        };
        if !store::commitments::visible(&mut tx, &id, &scope).await? {
            return Err(Error::not_found("commitment", &id));
        }
    }
    Ok(proto(&find(&mut tx, &id).await?, Date::today()))
}

pub(crate) async fn list(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListCommitmentsRequest,
) -> Result<api::ListCommitmentsResponse> {
    let (event_id, owner_org, owner_person, owner_kind, status, due_until) = (
        super::optional_id("event_id", &req.event_id),
        super::optional_id("owner_organization_id", &req.owner_organization_id),
        super::optional_id("owner_person_id", &req.owner_person_id),
        enum_filter("owner_kind", req.owner_kind, OwnerKind::as_str_name),
        enum_filter("status", req.status, CommitmentStatus::as_str_name),
        super::optional_date("due_until", req.due_until.as_ref()),
    )
        .all()?;
    let today = Date::today();
    let mut filter = CommitmentFilter {
        event_id,
        owner_organization_id: owner_org,
        owner_person_id: owner_person,
        owner_kind,
        status,
        overdue_before: if req.overdue_only {
            today.to_string()
        } else {
            String::new()
        },
        due_until,
        ..Default::default()
    };
    if let Some(own) = partner_of(&caller) {
        filter.partner = own.clone();
        filter.nothing = own.is_empty()
            || (!filter.owner_organization_id.is_empty() && filter.owner_organization_id != own);
    }
    let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
    let after = super::split_key(&page.after)?;
    let mut tx = n.db.read(&caller.tenant).await?;
    let (mut rows, total_size) =
        store::commitments::list(&mut tx, &filter, after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |c| format!("{}|{}", c.fields.due_date, c.id));
    Ok(api::ListCommitmentsResponse {
        commitments: rows.iter().map(|c| proto(c, today)).collect(),
        next_page_token,
        total_size,
    })
}

pub(crate) async fn update(
    n: &NetworkingApi,
    caller: Caller,
    req: api::UpdateCommitmentRequest,
) -> Result<api::Commitment> {
    let sent = req.commitment.unwrap_or_default();
    let (id, mask) = (
        parse_id("commitment.id", &sent.id),
        update_mask(req.update_mask.as_ref(), COMMITMENT_MASK),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    check_etag("commitment.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current, Date::today());
    merge_commitment(&mut merged, &sent, &mask);
    let fields = parse_commitment(&merged)?;
    if fields == current.fields {
        return Ok(proto(&current, Date::today()));
    }
    COMMITMENT_LIFECYCLE.next(current.status, CommitmentAction::Edit)?;
    check_due_date("commitment.due_date", fields.due_date, current.made_on)?;
    let event = super::events::find(&mut tx, &current.event_id).await?;
    check_fields(&mut tx, &fields, &event).await?;
    store::commitments::update(&mut tx, &current, &fields).await?;
    store::commitments::history(
        &mut tx,
        &id,
        CommitmentChangeKind::Edited,
        current.status,
        fields.due_date,
        "",
        "",
        &caller.subject,
    )
    .await?;
    let c = find(&mut tx, &id).await?;
    tx.publish(
        &id,
        &ev::CommitmentChanged {
            commitment: Some(snapshot(&c, &event)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&c, Date::today()))
}

pub(crate) async fn fulfil(
    n: &NetworkingApi,
    caller: Caller,
    req: api::FulfilCommitmentRequest,
) -> Result<api::Commitment> {
    let id = parse_id("id", &req.id)?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    let today = venue_today(&mut tx, &current).await?;
    let done = parse_fulfilment(&req, current.made_on, today)?;
    check_etag("etag", &req.etag, current.version)?;
    let to = COMMITMENT_LIFECYCLE.next(current.status, CommitmentAction::Fulfil)?;
    store::commitments::close(&mut tx, &current, to, done.done_on, &done.note).await?;
    store::replace_evidence(&mut tx, "commitment", &id, &done.evidence, &caller.subject).await?;
    store::commitments::history(
        &mut tx,
        &id,
        CommitmentChangeKind::Fulfilled,
        to,
        current.fields.due_date,
        "",
        &done.note,
        &caller.subject,
    )
    .await?;
    let c = find(&mut tx, &id).await?;
    let event = super::events::find(&mut tx, &c.event_id).await?;
    tx.publish(
        &id,
        &ev::CommitmentFulfilled {
            commitment: Some(snapshot(&c, &event)),
            evidence_count: c.evidence.len() as i32,
            on_time: c.row().on_time(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&c, today))
}

pub(crate) async fn drop(
    n: &NetworkingApi,
    caller: Caller,
    req: api::DropCommitmentRequest,
) -> Result<api::Commitment> {
    let (id, reason) = (parse_id("id", &req.id), parse_drop(&req.reason)).all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    let today = venue_today(&mut tx, &current).await?;
    check_etag("etag", &req.etag, current.version)?;
    let to = COMMITMENT_LIFECYCLE.next(current.status, CommitmentAction::Drop)?;
    store::commitments::close(&mut tx, &current, to, today, &reason).await?;
    store::commitments::history(
        &mut tx,
        &id,
        CommitmentChangeKind::Dropped,
        to,
        current.fields.due_date,
        "",
        &reason,
        &caller.subject,
    )
    .await?;
    let c = find(&mut tx, &id).await?;
    let event = super::events::find(&mut tx, &c.event_id).await?;
    tx.publish(
        &id,
        &ev::CommitmentDropped {
            commitment: Some(snapshot(&c, &event)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&c, today))
}

/// Today where the commitment was made. Its `made_on` is the meeting's local
/// day, so "today" must be too: east of UTC the venue's day begins hours
/// before UTC's, and a commitment fulfilled that evening would otherwise be
/// "done before the meeting it was made at".
async fn venue_today(tx: &mut Tx, c: &Commitment) -> Result<Date> {
    let event = super::events::find(tx, &c.event_id).await?;
    Ok(local_date(now_micros(), event.fields.utc_offset_minutes))
}

fn facts(e: &Event) -> EventFacts {
    EventFacts {
        id: e.id.clone(),
        status: e.status,
        start: e.fields.start,
        held_on: e.held_on,
    }
}

pub(crate) async fn carry(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CarryCommitmentRequest,
) -> Result<api::Commitment> {
    let (id, carry) = (parse_id("id", &req.id), parse_carry(&req)).all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = lock_and_find(&mut tx, &id).await?;
    check_etag("etag", &req.etag, current.version)?;
    let target = super::events::find(&mut tx, &carry.event_id).await?;
    let mut agenda = vec![facts(
        &super::events::find(&mut tx, &current.event_id).await?,
    )];
    for e in &current.agenda {
        agenda.push(facts(&super::events::find(&mut tx, e).await?));
    }
    check_carry(
        current.status,
        &agenda,
        &facts(&target),
        &carry,
        current.made_on,
    )?;
    let due = carry.due_date.unwrap_or(current.fields.due_date);
    store::commitments::carry(&mut tx, &current, &target.id, due).await?;
    store::commitments::history(
        &mut tx,
        &id,
        CommitmentChangeKind::Carried,
        current.status,
        due,
        &target.id,
        &carry.note,
        &caller.subject,
    )
    .await?;
    let c = find(&mut tx, &id).await?;
    let event = super::events::find(&mut tx, &c.event_id).await?;
    tx.publish(
        &id,
        &ev::CommitmentChanged {
            commitment: Some(snapshot(&c, &event)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&c, Date::today()))
}

fn snapshot(c: &Commitment, event: &Event) -> ev::CommitmentSnapshot {
    ev::CommitmentSnapshot {
        commitment_id: c.id.clone(),
        event_id: c.event_id.clone(),
        branch_id: c.branch_id.clone(),
        event_kind: event.fields.kind.word(),
        owner_kind: c.fields.owner.kind().word(),
        owner_organization_id: c.fields.owner.organization_id().unwrap_or_default().into(),
        owner_person_id: c.fields.owner.person_id().unwrap_or_default().into(),
        made_on: Some(c.made_on.to_proto()),
        due_date: Some(c.fields.due_date.to_proto()),
        status: c.status.word(),
        closed_on: c.closed_on.map(Date::to_proto),
        agenda_event_ids: c.agenda.clone(),
        version: c.version,
    }
}

pub(crate) fn proto(c: &Commitment, today: Date) -> api::Commitment {
    let due = c.fields.due_date;
    api::Commitment {
        id: c.id.clone(),
        event_id: c.event_id.clone(),
        decision_id: c.fields.decision_id.clone().unwrap_or_default(),
        description: Some(c.fields.description.clone()),
        owner: Some(api::CommitmentOwner {
            kind: c.fields.owner.kind() as i32,
            organization_id: c.fields.owner.organization_id().unwrap_or_default().into(),
            person_id: c.fields.owner.person_id().unwrap_or_default().into(),
            name: c.owner_name.clone(),
        }),
        due_date: Some(due.to_proto()),
        status: c.status as i32,
        closed_on: c.closed_on.map(Date::to_proto),
        evidence: c.evidence.iter().map(evidence_proto).collect(),
        agenda_event_ids: c.agenda.clone(),
        history: c
            .history
            .iter()
            .map(|h| api::CommitmentChange {
                kind: CommitmentChangeKind::from_str_name(&h.change_kind).unwrap_or_default()
                    as i32,
                status: CommitmentStatus::from_str_name(&h.status).unwrap_or_default() as i32,
                due_date: MaybeDate::try_from(h.due_date.clone())
                    .ok()
                    .and_then(|d| d.0)
                    .map(Date::to_proto),
                event_id: h.event_id.clone(),
                note: h.note.clone(),
                changed_by: h.changed_by.clone(),
                change_time: Some(timestamp(h.changed_at)),
            })
            .collect(),
        overdue: is_overdue(c.status, due, today),
        days_overdue: days_overdue(c.status, due, today).clamp(0, i64::from(i32::MAX)) as i32,
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        etag: etag(c.version),
    }
}

pub(crate) fn evidence_proto(e: &store::Evidence) -> api::Evidence {
    api::Evidence {
        description: Some(markaz_proto::common::v1::LocalizedText {
            ar: e.description_ar.clone(),
            en: e.description_en.clone(),
        }),
        url: e.url.clone(),
        library_item_id: e.library_item_id.clone(),
        event_id: e.event_id.clone(),
        recorded_by: e.recorded_by.clone(),
        record_time: Some(timestamp(e.recorded_at)),
    }
}
