//! Calls: one round of a program, its money, eligibility rules, rubric and
//! dates; whether an organization is eligible; the ranking of its proposals.

use std::collections::HashMap;

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::money::Money;
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id};
use markaz_kit::time::timestamp;
use markaz_kit::validate;
use markaz_proto::events::v1 as ev;
use markaz_proto::grants::v1 as api;

use crate::domain::calls::CallAction;
use crate::domain::{self, CallState, ProposalState};
use crate::store::calls::CallRow;
use crate::store::proposals::ProposalRow;
use crate::store::{self};

use super::{GrantsApi, seen_call, viewer};

pub(super) async fn create(
    grants: &GrantsApi,
    caller: Caller,
    req: api::CreateCallRequest,
) -> Result<api::Call> {
    let sent = req.call.clone().unwrap_or_default();
    let (idempotency, program_id, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_id("call.program_id", &sent.program_id),
        domain::calls::parse_call(&sent),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    store::programs::get(&mut tx, &program_id)
        .await?
        .ok_or_else(|| Error::not_found("program", &program_id))?;
    let id = new_id();
    let row = store::calls::insert(&mut tx, &id, &program_id, &fields).await?;
    let reply = call_proto(&row, Money::zero(row.fields.currency()));
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(super) async fn get(
    grants: &GrantsApi,
    caller: Caller,
    req: api::GetCallRequest,
) -> Result<api::Call> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let v = viewer(&mut tx, &caller).await?;
    let call = seen_call(&mut tx, &v, &id).await?;
    let committed = store::calls::committed(&mut tx, &call).await?;
    Ok(call_proto(&call, committed))
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListCallsRequest,
) -> Result<api::ListCallsResponse> {
    let (program_id, state) = (
        domain::optional_id("program_id", &req.program_id),
        validate::enumeration::<CallState>("state", req.state, false),
    )
        .all()?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{}|{}", req.program_id, req.state),
    )?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let (mut rows, total) = store::calls::list(
        &mut tx,
        &program_id,
        state.map_or("", |s| s.as_str_name()),
        !viewer.staff,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    let mut committed = store::calls::committed_in(&mut tx, &rows).await?;
    let mut calls = Vec::with_capacity(rows.len());
    for row in &rows {
        let committed = committed
            .remove(&row.id)
            .ok_or_else(|| Error::internal("a call's commitments"))?;
        calls.push(call_proto(row, committed));
    }
    Ok(api::ListCallsResponse {
        calls,
        next_page_token,
        total_size: total.size,
    })
}

pub(super) async fn update(
    grants: &GrantsApi,
    caller: Caller,
    req: api::UpdateCallRequest,
) -> Result<api::Call> {
    let sent = req.call.unwrap_or_default();
    let id = parse_id("call.id", &sent.id)?;
    let mask = markaz_kit::rpc::update_mask(req.update_mask.as_ref(), domain::calls::CALL_MASK)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let current = store::calls::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("call", &id))?;
    check_etag("call.etag", &sent.etag, current.version)?;
    domain::calls::call_transition(current.state, CallAction::Edit)?;
    if mask
        .iter()
        .any(|p| !domain::calls::CALL_OPEN_MASK.contains(p))
    {
        domain::calls::call_transition(current.state, CallAction::EditRules)?;
    }
    let committed = store::calls::committed(&mut tx, &current).await?;
    let mut merged = call_proto(&current, committed);
    domain::calls::merge_call(&mut merged, &sent, &mask);
    let fields = domain::calls::parse_call(&merged)?;
    let row = store::calls::update(&mut tx, &current, &fields).await?;
    tx.commit().await?;
    Ok(call_proto(&row, committed))
}

pub(super) async fn open(
    grants: &GrantsApi,
    caller: Caller,
    req: api::OpenCallRequest,
) -> Result<api::Call> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let current = store::calls::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("call", &id))?;
    check_etag("etag", &req.etag, current.version)?;
    let to = domain::calls::call_transition(current.state, CallAction::Open)?;
    domain::calls::check_openable(&current.fields)?;
    let row = store::calls::set_state(&mut tx, &current, to).await?;
    let f = &row.fields;
    tx.publish(
        &id,
        &ev::CallOpened {
            call_id: id.clone(),
            program_id: row.program_id.clone(),
            title: Some(f.title.clone()),
            budget_envelope: Some(f.envelope.to_proto()),
            project_ceiling: Some(f.ceiling.to_proto()),
            opens_on: Some(f.opens_on.to_proto()),
            closes_on: Some(f.closes_on.to_proto()),
            theme_codes: f.themes.iter().map(|t| t.code.clone()).collect(),
            incubation_statuses: f
                .rules
                .incubation_statuses
                .iter()
                .map(|s| *s as i32)
                .collect(),
            branch_ids: f.rules.branch_ids.clone(),
            organization_kinds: f
                .rules
                .organization_kinds
                .iter()
                .map(|k| *k as i32)
                .collect(),
            required_course_topic: f.rules.required_course_topic.clone(),
            blind_review: f.blind,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(call_proto(&row, Money::zero(f.currency())))
}

pub(super) async fn close(
    grants: &GrantsApi,
    caller: Caller,
    req: api::CloseCallRequest,
) -> Result<api::Call> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let current = store::calls::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("call", &id))?;
    check_etag("etag", &req.etag, current.version)?;
    let to = domain::calls::call_transition(current.state, CallAction::Close)?;
    let row = store::calls::set_state(&mut tx, &current, to).await?;
    let committed = store::calls::committed(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(call_proto(&row, committed))
}

pub(super) async fn check_eligibility(
    grants: &GrantsApi,
    caller: Caller,
    req: api::CheckEligibilityRequest,
) -> Result<api::Eligibility> {
    let (call_id, asked) = (
        parse_id("call_id", &req.call_id),
        domain::optional_id("organization_id", &req.organization_id),
    )
        .all()?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let call = seen_call(&mut tx, &viewer, &call_id).await?;
    // Staff ask about any organization, a partner about its own,
    // a trainer about an organization whose proposal it coaches.
    let organization_id = if viewer.staff {
        if asked.is_empty() {
            return Err(Error::invalid("organization_id", "required"));
        }
        asked
    } else if let Some(own) = viewer
        .org
        .as_ref()
        .filter(|own| asked.is_empty() || &&asked == own)
    {
        own.clone()
    } else if let Some(subject) = &viewer.coach
        && !asked.is_empty()
        && store::coaching::coaches_organization(&mut tx, subject, &asked).await?
    {
        asked
    } else {
        return Err(Error::not_found("organization", &asked));
    };
    let facts = store::eligibility::organization_facts(&mut tx, &organization_id).await?;
    let unmet = domain::eligibility::unmet(&call.fields.rules, facts.as_ref().map(|(f, _)| f));
    Ok(api::Eligibility {
        call_id,
        organization_id,
        eligible: unmet.is_empty(),
        unmet,
    })
}

pub(super) async fn ranking(
    grants: &GrantsApi,
    caller: Caller,
    req: api::GetCallRankingRequest,
) -> Result<api::CallRanking> {
    let call_id = parse_id("call_id", &req.call_id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let call = store::calls::get(&mut tx, &call_id)
        .await?
        .ok_or_else(|| Error::not_found("call", &call_id))?;
    let filter = store::proposals::ProposalFilter {
        call_id: call_id.clone(),
        ..Default::default()
    };
    // Every proposal of the call; their count comes with them, unused.
    let proposals: Vec<ProposalRow> = store::proposals::list(&mut tx, &filter, "", 100_000)
        .await?
        .0
        .into_iter()
        .filter(|p| !matches!(p.state, ProposalState::Draft | ProposalState::Withdrawn))
        .collect();
    // The totals that count, by proposal: one pass over the call's sheets.
    let mut totals: HashMap<String, Vec<_>> = HashMap::new();
    for s in store::scores::list(&mut tx, "", &call_id, "").await? {
        if s.counts && !s.conflicted {
            totals
                .entry(s.proposal_id)
                .or_default()
                .push(s.weighted_total);
        }
    }
    let inputs = proposals
        .iter()
        .map(|p| domain::scores::RankInput {
            proposal_id: p.id.clone(),
            totals: totals.remove(&p.id).unwrap_or_default(),
        })
        .collect();
    let by_id: HashMap<&str, &ProposalRow> = proposals.iter().map(|p| (p.id.as_str(), p)).collect();
    let currency = call.fields.currency();
    let mut ranked = Vec::new();
    for r in domain::scores::rank(inputs, call.fields.rubric.max_total()) {
        let p = by_id[r.proposal_id.as_str()];
        ranked.push(api::RankedProposal {
            rank: r.rank,
            organization_id: p.organization_id.clone(),
            title: Some(p.fields.title.clone()),
            state: p.state as i32,
            requested: Some(p.fields.total(currency)?.to_proto()),
            review_count: r.review_count,
            score_basis_points: r.basis_points,
            proposal_id: r.proposal_id,
        });
    }
    Ok(api::CallRanking {
        call_id,
        proposals: ranked,
    })
}

/// The call with `committed`, the money its awards hold (awarded less what
/// grants closed early will never pay).
pub(super) fn call_proto(r: &CallRow, committed: Money) -> api::Call {
    let f = &r.fields;
    let remaining = f
        .envelope
        .checked_sub(committed)
        .unwrap_or(Money::zero(f.currency()));
    api::Call {
        id: r.id.clone(),
        program_id: r.program_id.clone(),
        title: Some(f.title.clone()),
        description: Some(f.description.clone()),
        themes: f
            .themes
            .iter()
            .map(|t| api::Theme {
                code: t.code.clone(),
                name: Some(t.name.clone()),
            })
            .collect(),
        budget_envelope: Some(f.envelope.to_proto()),
        project_ceiling: Some(f.ceiling.to_proto()),
        opens_on: Some(f.opens_on.to_proto()),
        closes_on: Some(f.closes_on.to_proto()),
        eligibility: Some(api::EligibilityRules {
            incubation_statuses: f
                .rules
                .incubation_statuses
                .iter()
                .map(|s| *s as i32)
                .collect(),
            branch_ids: f.rules.branch_ids.clone(),
            organization_kinds: f
                .rules
                .organization_kinds
                .iter()
                .map(|k| *k as i32)
                .collect(),
            required_course_topic: f.rules.required_course_topic.clone(),
        }),
        rubric: Some(api::Rubric {
            max_score: f.rubric.max_score,
            criteria: f
                .rubric
                .criteria
                .iter()
                .map(|c| api::Criterion {
                    code: c.code.clone(),
                    name: Some(c.name.clone()),
                    guidance: Some(c.guidance.clone()),
                    weight: c.weight,
                })
                .collect(),
        }),
        blind_review: f.blind,
        state: r.state as i32,
        awarded_total: Some(committed.to_proto()),
        envelope_remaining: Some(remaining.to_proto()),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}
