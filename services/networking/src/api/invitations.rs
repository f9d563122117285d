//! Invitations of organizations, people and outside guests, and replies.

use std::collections::HashSet;

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id};
use markaz_kit::time::timestamp;
use markaz_kit::validate;
use markaz_proto::networking::v1 as api;

use super::{NetworkingApi, enum_filter, known_organization, known_person, partner_of};
use crate::domain::PROSE_MAX;
use crate::domain::events::{EVENT_LIFECYCLE, EventAction};
use crate::domain::invitations::{
    InvitationAction, InvitationStatus, Invitee, Plan, change, forget_guest as forget,
    parse_invitations, parse_response, plan_invitations,
};
use crate::store;
use crate::store::invitations::Invitation;

pub(crate) async fn batch_create(
    n: &NetworkingApi,
    caller: Caller,
    req: api::BatchCreateInvitationsRequest,
) -> Result<api::BatchCreateInvitationsResponse> {
    let (event_id, specs, idempotency) = (
        parse_id("event_id", &req.event_id),
        parse_invitations(&req.invitations),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    tx.lock("events", &event_id).await?;
    let event = super::events::find(&mut tx, &event_id).await?;
    EVENT_LIFECYCLE.next(event.status, EventAction::Invite)?;
    for s in &specs {
        match &s.invitee {
            Invitee::Organization(o) => {
                known_organization(&mut tx, o).await?;
            }
            Invitee::Person {
                person_id,
                organization_id,
            } => {
                known_person(&mut tx, person_id).await?;
                if let Some(o) = organization_id {
                    known_organization(&mut tx, o).await?;
                }
            }
            Invitee::Guest { .. } => {}
        }
    }
    let existing = store::invitations::existing(&mut tx, &event_id).await?;
    let plans = plan_invitations(&specs, &existing);
    let (mut ids, mut created, mut already) = (Vec::new(), 0, 0);
    for plan in plans {
        match plan {
            Plan::Create(spec) => {
                let id = new_id();
                store::invitations::insert(&mut tx, &id, &event_id, spec, &caller.subject).await?;
                ids.push(id);
                created += 1;
            }
            Plan::Renew(id) => {
                let current = find(&mut tx, id).await?;
                let to = change(event.status, current.status, InvitationAction::Renew)?;
                store::invitations::set_status(&mut tx, &current, to, "", false).await?;
                ids.push(id.to_string());
                created += 1;
            }
            Plan::Keep(id) => {
                ids.push(id.to_string());
                already += 1;
            }
        }
    }
    let all = store::invitations::by_ids(&mut tx, &ids).await?;
    let invitations = ids
        .iter()
        .filter_map(|id| all.iter().find(|i| &i.id == id))
        .map(proto)
        .collect();
    let reply = api::BatchCreateInvitationsResponse {
        invitations,
        created,
        already_invited: already,
    };
    // Kept under the event's invitations, not the event: forgetting a
    // guest drops these answers and leaves the event's own messages alone.
    idempotency
        .commit(tx, &format!("invitations:{event_id}"), &reply)
        .await?;
    Ok(reply)
}

async fn find(tx: &mut Tx, id: &str) -> Result<Invitation> {
    store::invitations::get(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("invitation", id))
}

/// The invitation, if the caller may see it: a partner its own
/// organization's only.
async fn visible(tx: &mut Tx, caller: &Caller, id: &str) -> Result<Invitation> {
    let inv = find(tx, id).await?;
    if let Some(own) = partner_of(caller)
        && (own.is_empty() || inv.organization_id.as_deref() != Some(own.as_str()))
    {
        return Err(Error::not_found("invitation", id));
    }
    Ok(inv)
}

pub(crate) async fn list(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListInvitationsRequest,
) -> Result<api::ListInvitationsResponse> {
    let (event_id, organization_id, status) = (
        super::optional_id("event_id", &req.event_id),
        super::optional_id("organization_id", &req.organization_id),
        enum_filter("status", req.status, InvitationStatus::as_str_name),
    )
        .all()?;
    let (organization_id, nothing) = match caller.organization_filter(&organization_id) {
        Some(o) => (o, false),
        None => (String::new(), true),
    };
    let nothing = nothing || partner_of(&caller).is_some_and(|o| o.is_empty());
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{event_id}|{organization_id}|{status}"),
    )?;
    if nothing {
        return Ok(api::ListInvitationsResponse::default());
    }
    let mut tx = n.db.read(&caller.tenant).await?;
    let (mut rows, total_size) = store::invitations::list(
        &mut tx,
        &event_id,
        &organization_id,
        &status,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut rows, |i| i.id.clone());
    Ok(api::ListInvitationsResponse {
        invitations: rows.iter().map(proto).collect(),
        next_page_token,
        total_size,
    })
}

pub(crate) async fn respond(
    n: &NetworkingApi,
    caller: Caller,
    req: api::RespondToInvitationRequest,
) -> Result<api::Invitation> {
    let (id, (action, note)) = (
        parse_id("id", &req.id),
        parse_response(req.response, &req.note),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("invitations", &id).await?;
    let current = visible(&mut tx, &caller, &id).await?;
    check_etag("etag", &req.etag, current.version)?;
    let event = super::events::find(&mut tx, &current.event_id).await?;
    let to = change(event.status, current.status, action)?;
    store::invitations::set_status(&mut tx, &current, to, &note, true).await?;
    let reply = proto(&find(&mut tx, &id).await?);
    tx.commit().await?;
    Ok(reply)
}

pub(crate) async fn withdraw(
    n: &NetworkingApi,
    caller: Caller,
    req: api::WithdrawInvitationRequest,
) -> Result<api::Invitation> {
    let (id, reason) = (
        parse_id("id", &req.id),
        validate::prose("reason", &req.reason, PROSE_MAX, false),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("invitations", &id).await?;
    let current = find(&mut tx, &id).await?;
    check_etag("etag", &req.etag, current.version)?;
    let event = super::events::find(&mut tx, &current.event_id).await?;
    let to = change(event.status, current.status, InvitationAction::Withdraw)?;
    store::invitations::set_status(&mut tx, &current, to, &reason, false).await?;
    let reply = proto(&find(&mut tx, &id).await?);
    tx.commit().await?;
    Ok(reply)
}

pub(crate) async fn forget_guest(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ForgetGuestRequest,
) -> Result<api::Invitation> {
    let id = parse_id("invitation_id", &req.invitation_id)?;
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("invitations", &id).await?;
    let current = find(&mut tx, &id).await?;
    forget(&current.invitee)?;
    store::invitations::forget_guest(&mut tx, &id).await?;
    // The stored answers of the batches that invited the guest, and of the
    // check-ins that listed them, showed the name: they go (a retry of them
    // is refused, not redone). Whether this guest was in a given check-in
    // is not kept, so every check-in answer of the event goes.
    tx.forget_aggregate(&format!("invitations:{}", current.event_id))
        .await?;
    tx.forget_aggregate(&format!("check-in:{}", current.event_id))
        .await?;
    let reply = proto(&find(&mut tx, &id).await?);
    tx.commit().await?;
    Ok(reply)
}

pub(crate) async fn suggest(
    n: &NetworkingApi,
    caller: Caller,
    req: api::SuggestInviteesRequest,
) -> Result<api::SuggestInviteesResponse> {
    let (event_id, call_id) = (
        parse_id("event_id", &req.event_id),
        super::optional_id("call_id", &req.call_id),
    )
        .all()?;
    if !(0..=200).contains(&req.max_results) {
        return Err(Error::invalid("max_results", "from 1 to 200 (0: 20)"));
    }
    let max = if req.max_results == 0 {
        20
    } else {
        req.max_results as usize
    };
    let mut tx = n.db.read(&caller.tenant).await?;
    super::events::find(&mut tx, &event_id).await?;
    let invited: HashSet<String> = store::invitations::invited_organizations(&mut tx, &event_id)
        .await?
        .into_iter()
        .collect();
    let awards = store::grants::awards(&mut tx, &call_id).await?;
    let mut seen = HashSet::new();
    let suggestions = awards
        .into_iter()
        .filter(|a| !invited.contains(&a.organization_id) && seen.insert(a.organization_id.clone()))
        .take(max)
        .map(|a| api::SuggestedInvitee {
            organization_id: a.organization_id,
            organization_name: Some(a.organization_name),
            grant_award_id: a.award_id,
            call_id: a.call_id,
        })
        .collect();
    Ok(api::SuggestInviteesResponse { suggestions })
}

pub(crate) fn proto(i: &Invitation) -> api::Invitation {
    use api::invitation::Invitee as I;
    let invitee = match &i.invitee {
        Invitee::Organization(o) => I::OrganizationId(o.clone()),
        Invitee::Person {
            person_id,
            organization_id,
        } => I::Person(api::InvitedPerson {
            person_id: person_id.clone(),
            organization_id: organization_id.clone().unwrap_or_default(),
        }),
        Invitee::Guest {
            name,
            affiliation,
            gender,
        } => I::Guest(api::OutsideGuest {
            name: name.clone(),
            affiliation: affiliation.clone(),
            gender: *gender as i32,
        }),
    };
    api::Invitation {
        id: i.id.clone(),
        event_id: i.event_id.clone(),
        invitee: Some(invitee),
        category: i.category.map_or(0, |c| c as i32),
        status: i.status as i32,
        note: i.note.clone(),
        invitee_name: i.invitee_name.clone(),
        invited_by: i.invited_by.clone(),
        reply_time: i.replied_at.map(timestamp),
        create_time: Some(timestamp(i.created_at)),
        update_time: Some(timestamp(i.updated_at)),
        etag: etag(i.version),
    }
}
