//! Issue-based coalitions: active ⇄ dormant → dissolved; members join and
//! leave, each stretch of membership kept.

use std::collections::HashMap;

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id, update_mask};
use markaz_kit::time::{Date, MaybeDate, timestamp};
use markaz_proto::common::v1::{LocalizedText, OrganizationKind};
use markaz_proto::events::v1 as ev;
use markaz_proto::networking::v1 as api;

use super::{NetworkingApi, enum_filter, known_organization, partner_of};
use crate::domain::coalitions::{
    COALITION_LIFECYCLE, COALITION_MASK, CoalitionAction, CoalitionStatus, change_status as change,
    check_lead, check_leave, dissolve, merge_coalition, parse_coalition, parse_new_coalition,
};
use crate::domain::membership::Membership;
use crate::domain::{Word, day_not_after, issue_code, reason};
use crate::store;
use crate::store::coalitions::{Coalition, CoalitionFilter, Which};

pub(crate) async fn create(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CreateCoalitionRequest,
) -> Result<api::Coalition> {
    let today = Date::today();
    let (new, idempotency) = (
        parse_new_coalition(req.coalition.as_ref(), &req.founding_member_ids, today),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    super::issues::check_codes(
        &mut tx,
        "coalition.issue_codes",
        &new.fields.issue_codes,
        &[],
    )
    .await?;
    let mut members = vec![new.fields.lead_organization_id.clone()];
    members.extend(new.founding_members.iter().cloned());
    let mut kinds = Vec::new();
    for m in &members {
        kinds.push(known_organization(&mut tx, m).await?.kind);
    }
    let id = new_id();
    store::coalitions::insert(&mut tx, &id, &new.fields, new.formed_on, &caller.subject).await?;
    let mut joined = Vec::new();
    for (m, kind) in members.iter().zip(kinds) {
        let version =
            store::coalitions::join(&mut tx, &id, m, new.formed_on, 1, &caller.subject).await?;
        joined.push(ev::CoalitionMemberJoined {
            coalition_id: id.clone(),
            organization_id: m.clone(),
            organization_kind: kind as i32,
            joined_on: Some(new.formed_on.to_proto()),
            period_number: 1,
            version,
        });
    }
    let c = find(&mut tx, &id).await?;
    tx.publish(
        &id,
        &ev::CoalitionFormed {
            coalition: Some(snapshot(&c)),
        },
    )
    .await?;
    for j in &joined {
        tx.publish(&id, j).await?;
    }
    let reply = proto(&c);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(crate) async fn find(tx: &mut Tx, id: &str) -> Result<Coalition> {
    store::coalitions::get(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("coalition", id))
}

/// The coalition, if the caller may see it: a partner only one its
/// organization is an active member of.
pub(crate) async fn visible(tx: &mut Tx, caller: &Caller, id: &str) -> Result<Coalition> {
    let c = find(tx, id).await?;
    if let Some(own) = partner_of(caller) {
        let m = memberships(tx, id).await?;
        if !m.get(&own).is_some_and(Membership::is_active) {
            return Err(Error::not_found("coalition", id));
        }
    }
    Ok(c)
}

async fn memberships(tx: &mut Tx, id: &str) -> Result<HashMap<String, Membership>> {
    Ok(store::reports::memberships(tx, Some(id))
        .await?
        .into_iter()
        .map(|m| (m.organization_id, m.membership))
        .collect())
}

pub(crate) async fn get(
    n: &NetworkingApi,
    caller: Caller,
    req: api::GetCoalitionRequest,
) -> Result<api::Coalition> {
    let id = parse_id("id", &req.id)?;
    let mut tx = n.db.read(&caller.tenant).await?;
    Ok(proto(&visible(&mut tx, &caller, &id).await?))
}

pub(crate) async fn list(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListCoalitionsRequest,
) -> Result<api::ListCoalitionsResponse> {
    let (status, issue, organization_id, branch_id) = (
        enum_filter("status", req.status, CoalitionStatus::as_str_name),
        if req.issue_code.is_empty() {
            Ok(String::new())
        } else {
            issue_code("issue_code", &req.issue_code)
        },
        super::optional_id("organization_id", &req.organization_id),
        crate::domain::branch("branch_id", &req.branch_id, false),
    )
        .all()?;
    let (organization_id, nothing) = match caller.organization_filter(&organization_id) {
        Some(o) => (o, partner_of(&caller).is_some_and(|p| p.is_empty())),
        None => (String::new(), true),
    };
    let filter = CoalitionFilter {
        status,
        issue_code: issue,
        organization_id,
        branch_id,
        nothing,
    };
    let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
    let mut tx = n.db.read(&caller.tenant).await?;
    let (mut rows, total_size) =
        store::coalitions::list(&mut tx, &filter, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |c| c.id.clone());
    Ok(api::ListCoalitionsResponse {
        coalitions: rows.iter().map(proto).collect(),
        next_page_token,
        total_size,
    })
}

pub(crate) async fn update(
    n: &NetworkingApi,
    caller: Caller,
    req: api::UpdateCoalitionRequest,
) -> Result<api::Coalition> {
    let sent = req.coalition.unwrap_or_default();
    let (id, mask) = (
        parse_id("coalition.id", &sent.id),
        update_mask(req.update_mask.as_ref(), COALITION_MASK),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("coalitions", &id).await?;
    let current = find(&mut tx, &id).await?;
    check_etag("coalition.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current);
    merge_coalition(&mut merged, &sent, &mask);
    let fields = parse_coalition(&merged)?;
    if fields == current.fields {
        return Ok(proto(&current));
    }
    COALITION_LIFECYCLE.next(current.status, CoalitionAction::Edit)?;
    super::issues::check_codes(
        &mut tx,
        "coalition.issue_codes",
        &fields.issue_codes,
        &current.fields.issue_codes,
    )
    .await?;
    if fields.lead_organization_id != current.fields.lead_organization_id {
        check_lead(
            &fields.lead_organization_id,
            &memberships(&mut tx, &id).await?,
        )?;
    }
    store::coalitions::update(&mut tx, &current, &fields).await?;
    let c = find(&mut tx, &id).await?;
    tx.publish(
        &id,
        &ev::CoalitionChanged {
            coalition: Some(snapshot(&c)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&c))
}

pub(crate) async fn change_status(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ChangeCoalitionStatusRequest,
) -> Result<api::Coalition> {
    let id = parse_id("id", &req.id)?;
    let today = Date::today();
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("coalitions", &id).await?;
    let current = find(&mut tx, &id).await?;
    let moved = change(&req, current.status, current.status_since, today)?;
    check_etag("etag", &req.etag, current.version)?;
    let mut left = Vec::new();
    if moved.to == CoalitionStatus::Dissolved {
        let mut m = memberships(&mut tx, &id).await?;
        let before = m.clone();
        for org in dissolve(&mut m, moved.effective_on, today)? {
            let periods = before.get(&org).map_or(0, |x| x.periods().len());
            let version = store::coalitions::leave(
                &mut tx,
                &id,
                &org,
                moved.effective_on,
                periods,
                &moved.reason,
                &caller.subject,
            )
            .await?;
            let joined_on = before
                .get(&org)
                .and_then(|x| x.periods().last().map(|p| p.joined_on));
            left.push((org, joined_on, periods, version));
        }
    }
    store::coalitions::set_status(
        &mut tx,
        &current,
        moved.to,
        moved.effective_on,
        &moved.reason,
        &caller.subject,
    )
    .await?;
    let c = find(&mut tx, &id).await?;
    tx.publish(
        &id,
        &ev::CoalitionChanged {
            coalition: Some(snapshot(&c)),
        },
    )
    .await?;
    for (org, joined_on, periods, version) in left {
        let kind = kind_of(&mut tx, &org).await?;
        tx.publish(
            &id,
            &ev::CoalitionMemberLeft {
                coalition_id: id.clone(),
                organization_id: org,
                organization_kind: kind as i32,
                joined_on: joined_on.map(Date::to_proto),
                left_on: Some(moved.effective_on.to_proto()),
                period_number: periods as i32,
                dissolved: true,
                version,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(proto(&c))
}

async fn kind_of(tx: &mut Tx, org: &str) -> Result<OrganizationKind> {
    Ok(markaz_membership_copies::organization(tx, org)
        .await?
        .map_or(OrganizationKind::Unspecified, |o| o.kind))
}

pub(crate) async fn add_member(
    n: &NetworkingApi,
    caller: Caller,
    req: api::AddCoalitionMemberRequest,
) -> Result<api::CoalitionMember> {
    let today = Date::today();
    let (id, org, on, idempotency) = (
        parse_id("coalition_id", &req.coalition_id),
        parse_id("organization_id", &req.organization_id),
        day_not_after("joined_on", req.joined_on.as_ref(), today),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    tx.lock("coalitions", &id).await?;
    let c = find(&mut tx, &id).await?;
    COALITION_LIFECYCLE.next(c.status, CoalitionAction::Join)?;
    let kind = known_organization(&mut tx, &org).await?.kind;
    let mut m = memberships(&mut tx, &id).await?;
    let period = m
        .entry(org.clone())
        .or_default()
        .join(on, c.formed_on, today)?;
    let version = store::coalitions::join(&mut tx, &id, &org, on, period, &caller.subject).await?;
    tx.publish(
        &id,
        &ev::CoalitionMemberJoined {
            coalition_id: id.clone(),
            organization_id: org.clone(),
            organization_kind: kind as i32,
            joined_on: Some(on.to_proto()),
            period_number: period as i32,
            version,
        },
    )
    .await?;
    let reply = member(&mut tx, &c, &org, today).await?;
    idempotency
        .commit(tx, &format!("{id}/{org}"), &reply)
        .await?;
    Ok(reply)
}

pub(crate) async fn remove_member(
    n: &NetworkingApi,
    caller: Caller,
    req: api::RemoveCoalitionMemberRequest,
) -> Result<api::CoalitionMember> {
    let today = Date::today();
    let (id, org, on, why) = (
        parse_id("coalition_id", &req.coalition_id),
        parse_id("organization_id", &req.organization_id),
        day_not_after("left_on", req.left_on.as_ref(), today),
        reason("reason", &req.reason, false),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("coalitions", &id).await?;
    let c = find(&mut tx, &id).await?;
    COALITION_LIFECYCLE.next(c.status, CoalitionAction::Leave)?;
    let mut m = memberships(&mut tx, &id).await?;
    let Some(membership) = m.get_mut(&org) else {
        return Err(Error::not_found("coalition member", &org));
    };
    check_leave(&org, &c.fields.lead_organization_id)?;
    let joined_on = membership.periods().last().map(|p| p.joined_on);
    let period = membership.leave(on, today)?;
    let version =
        store::coalitions::leave(&mut tx, &id, &org, on, period, &why, &caller.subject).await?;
    let kind = kind_of(&mut tx, &org).await?;
    tx.publish(
        &id,
        &ev::CoalitionMemberLeft {
            coalition_id: id.clone(),
            organization_id: org.clone(),
            organization_kind: kind as i32,
            joined_on: joined_on.map(Date::to_proto),
            left_on: Some(on.to_proto()),
            period_number: period as i32,
            dissolved: false,
            version,
        },
    )
    .await?;
    let reply = member(&mut tx, &c, &org, today).await?;
    tx.commit().await?;
    Ok(reply)
}

async fn member(
    tx: &mut Tx,
    c: &Coalition,
    org: &str,
    today: Date,
) -> Result<api::CoalitionMember> {
    let (members, periods) = store::coalitions::member_of(tx, &c.id, org).await?;
    let m = store::coalitions::member(&members, org)?;
    member_proto(c, m, &periods, today)
}

fn member_proto(
    c: &Coalition,
    m: &store::coalitions::Member,
    periods: &[store::coalitions::Period],
    today: Date,
) -> Result<api::CoalitionMember> {
    let mine: Vec<&store::coalitions::Period> = periods
        .iter()
        .filter(|p| p.organization_id == m.organization_id)
        .collect();
    let mut spans = Vec::new();
    for p in &mine {
        let joined = Date::try_from(p.joined_on.clone()).map_err(Error::internal)?;
        let left = MaybeDate::try_from(p.left_on.clone())
            .map_err(Error::internal)?
            .0;
        spans.push(crate::domain::membership::Period {
            joined_on: joined,
            left_on: left,
        });
    }
    let membership = Membership::from_periods(spans)?;
    Ok(api::CoalitionMember {
        coalition_id: c.id.clone(),
        organization_id: m.organization_id.clone(),
        organization_name: Some(LocalizedText {
            ar: m.name_ar.clone(),
            en: m.name_en.clone(),
        }),
        organization_kind: OrganizationKind::from_str_name(&m.kind).unwrap_or_default() as i32,
        active: m.active != 0,
        lead: c.fields.lead_organization_id == m.organization_id,
        periods: mine
            .iter()
            .zip(membership.periods())
            .map(|(p, span)| api::MembershipPeriod {
                joined_on: Some(span.joined_on.to_proto()),
                left_on: span.left_on.map(Date::to_proto),
                leave_reason: p.leave_reason.clone(),
            })
            .collect(),
        days_active: membership.days_active(today).clamp(0, i64::from(i32::MAX)) as i32,
        update_time: Some(timestamp(m.updated_at)),
    })
}

pub(crate) async fn members(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListCoalitionMembersRequest,
) -> Result<api::ListCoalitionMembersResponse> {
    let (id, active_on) = (
        parse_id("coalition_id", &req.coalition_id),
        Date::optional("active_on", req.active_on.as_ref()),
    )
        .all()?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{id}|{}|{active_on:?}", req.include_former),
    )?;
    let today = Date::today();
    let mut tx = n.db.read(&caller.tenant).await?;
    let c = visible(&mut tx, &caller, &id).await?;
    let which = match active_on {
        Some(day) => Which::On(day.to_string()),
        None if req.include_former => Which::Ever,
        None => Which::Active,
    };
    let (rows, periods, total_size) =
        store::coalitions::members_page(&mut tx, &id, &which, &page.after, page.fetch()).await?;
    let mut shown = Vec::with_capacity(rows.len());
    for m in &rows {
        shown.push(member_proto(&c, m, &periods, today)?);
    }
    let next_page_token = page.finish(&mut shown, |m| m.organization_id.clone());
    Ok(api::ListCoalitionMembersResponse {
        members: shown,
        next_page_token,
        total_size,
    })
}

fn snapshot(c: &Coalition) -> ev::CoalitionSnapshot {
    ev::CoalitionSnapshot {
        coalition_id: c.id.clone(),
        issue_codes: c.fields.issue_codes.clone(),
        lead_organization_id: c.fields.lead_organization_id.clone(),
        branch_id: c.fields.branch_id.clone(),
        formed_on: Some(c.formed_on.to_proto()),
        status: c.status.word(),
        status_since: Some(c.status_since.to_proto()),
        version: c.version,
    }
}

pub(crate) fn proto(c: &Coalition) -> api::Coalition {
    api::Coalition {
        id: c.id.clone(),
        name: Some(c.fields.name.clone()),
        issue_codes: c.fields.issue_codes.clone(),
        charter: Some(c.fields.charter.clone()),
        lead_organization_id: c.fields.lead_organization_id.clone(),
        branch_id: c.fields.branch_id.clone(),
        formed_on: Some(c.formed_on.to_proto()),
        status: c.status as i32,
        status_history: c
            .history
            .iter()
            .map(|h| api::CoalitionStatusChange {
                from: CoalitionStatus::from_str_name(&h.from_status).unwrap_or_default() as i32,
                to: CoalitionStatus::from_str_name(&h.to_status).unwrap_or_default() as i32,
                effective_on: MaybeDate::try_from(h.effective_on.clone())
                    .ok()
                    .and_then(|d| d.0)
                    .map(Date::to_proto),
                reason: h.reason.clone(),
                changed_by: h.changed_by.clone(),
                change_time: Some(timestamp(h.changed_at)),
            })
            .collect(),
        active_member_count: c.active_members,
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        etag: etag(c.version),
    }
}
