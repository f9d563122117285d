//! Proposals: an applicant's project with its budget and work plan, from
//! draft through review to the decision, each submitted version kept.

use std::collections::HashMap;

use markaz_kit::auth::{Caller, Organizations};
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, FieldViolation, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id};
use markaz_kit::time::{Date, now_micros, timestamp};
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::events::v1 as ev;
use markaz_proto::grants::v1 as api;
use prost::Message;

use crate::domain::proposals::Action;
use crate::domain::{self, CallState, Decision};
use crate::store::calls::CallRow;
use crate::store::coaching::NoteRow;
use crate::store::proposals::ProposalRow;
use crate::store::{self};

use super::{
    GrantsApi, Seen, Use, context, list_filters, role_word, seen_call, seen_proposal, terms, viewer,
};

pub(super) async fn create(
    grants: &GrantsApi,
    caller: Caller,
    req: api::CreateProposalRequest,
) -> Result<api::Proposal> {
    let sent = req.proposal.clone().unwrap_or_default();
    // Staff name the organization; a partner's is its token's.
    let named = if caller.is_staff() && sent.organization_id.is_empty() {
        Err(FieldViolation::new(
            "proposal.organization_id",
            "required: staff create a proposal for an organization",
        ))
    } else {
        Ok(())
    };
    let (idempotency, call_id, asked, ()) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_id("proposal.call_id", &sent.call_id),
        domain::optional_id("proposal.organization_id", &sent.organization_id),
        named,
    )
        .all()?;
    let organization_id = match caller.organizations() {
        Organizations::All => asked,
        Organizations::Only(own) if asked.is_empty() || asked == own => own.to_string(),
        Organizations::Only(_) => return Err(Error::not_found("organization", &asked)),
        Organizations::None => {
            return Err(Error::permission_denied(
                "the token names no partner organization",
            ));
        }
    };
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let call = seen_call(&mut tx, &viewer, &call_id).await?;
    // Rights first: a retry is answered only to a caller who may
    // still create this proposal (the organization may come from
    // the token, so the first answer must be for the same one).
    if let Some(done) = idempotency.replay::<api::Proposal>(&mut tx).await? {
        if done.organization_id != organization_id {
            return Err(Error::invalid(
                "request_id",
                "this request_id was used before with a different request",
            ));
        }
        return Ok(done);
    }
    // The content is judged against the call's terms (themes,
    // ceiling, currency): parsed as soon as the call is read, every
    // bad field at once, and before anything is written.
    let fields = domain::proposals::parse_proposal(&sent, &terms(&call))?;
    if call.state == CallState::Closed {
        return Err(Error::precondition(
            "CALL_STATE",
            format!("calls/{call_id}"),
            "the call is closed: it takes no new proposals",
        ));
    }
    let (_, name) = store::eligibility::organization_facts(&mut tx, &organization_id)
        .await?
        .ok_or_else(|| {
            Error::precondition(
                "ORGANIZATION_UNKNOWN",
                format!("organizations/{organization_id}"),
                "the organization is not known to the grants service yet: its \
                 membership record has not arrived; retry shortly",
            )
        })?;
    // One live proposal per organization and call: creates in one
    // call queue on its row, so the check below sees the others.
    tx.lock("calls", &call_id).await?;
    if store::proposals::has_live_proposal(&mut tx, &call_id, &organization_id).await? {
        return Err(Error::AlreadyExists(
            "the organization has a proposal in this call already; edit or \
             withdraw it"
                .into(),
        ));
    }
    let id = new_id();
    let row = store::proposals::insert(
        &mut tx,
        &id,
        &call_id,
        &organization_id,
        &fields,
        &caller.subject,
    )
    .await?;
    let reply = proposal_proto(&row, &call, Some(name), false)?;
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(super) async fn get(
    grants: &GrantsApi,
    caller: Caller,
    req: api::GetProposalRequest,
) -> Result<api::Proposal> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Read).await?;
    render(&mut tx, &seen).await
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListProposalsRequest,
) -> Result<api::ListProposalsResponse> {
    let (call_id, organization_id, state) =
        list_filters(&req.call_id, &req.organization_id, req.state)?;
    let mut filter = store::proposals::ProposalFilter {
        call_id,
        organization_id,
        state: state.to_string(),
        ..Default::default()
    };
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{}|{}|{}", req.call_id, req.organization_id, req.state),
    )?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let mut reviewing = false;
    if !viewer.staff {
        if let Some(own) = &viewer.org {
            if !filter.organization_id.is_empty() && &filter.organization_id != own {
                return Ok(api::ListProposalsResponse::default());
            }
            filter.organization_id = own.clone();
        } else if let Some(r) = &viewer.reviewer {
            if !filter.organization_id.is_empty() {
                return Err(Error::invalid(
                    "organization_id",
                    "reviewers do not filter by organization",
                ));
            }
            filter.reviewer_id = r.id.clone();
            reviewing = true;
        } else if let Some(subject) = &viewer.coach {
            filter.coach = subject.clone();
        } else {
            return Ok(api::ListProposalsResponse::default());
        }
    }
    let (mut rows, total) =
        store::proposals::list(&mut tx, &filter, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    let ids: Vec<String> = rows.iter().map(|p| p.organization_id.clone()).collect();
    let organizations = markaz_membership_copies::organizations(&mut tx, &ids).await?;
    let mut call_ids: Vec<String> = rows.iter().map(|p| p.call_id.clone()).collect();
    call_ids.sort();
    call_ids.dedup();
    let calls: HashMap<String, CallRow> = store::calls::of_ids(&mut tx, &call_ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut proposals = Vec::with_capacity(rows.len());
    for proposal in rows {
        let call = calls
            .get(&proposal.call_id)
            .ok_or_else(|| Error::internal("a proposal without its call"))?;
        let hidden = reviewing && call.fields.blind;
        let name = organizations
            .get(&proposal.organization_id)
            .filter(|_| !hidden)
            .map(|o| o.name.clone());
        proposals.push(proposal_proto(&proposal, call, name, hidden)?);
    }
    Ok(api::ListProposalsResponse {
        proposals,
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(super) async fn update(
    grants: &GrantsApi,
    caller: Caller,
    req: api::UpdateProposalRequest,
) -> Result<api::Proposal> {
    let sent = req.proposal.unwrap_or_default();
    let id = parse_id("proposal.id", &sent.id)?;
    let mask =
        markaz_kit::rpc::update_mask(req.update_mask.as_ref(), domain::proposals::PROPOSAL_MASK)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
    check_etag("proposal.etag", &sent.etag, seen.proposal.version)?;
    domain::proposals::transition(seen.proposal.state, Action::Edit)?;
    let mut merged = proposal_proto(&seen.proposal, &seen.call, None, false)?;
    domain::proposals::merge_proposal(&mut merged, &sent, &mask);
    let fields = domain::proposals::parse_proposal(&merged, &terms(&seen.call))?;
    let row = store::proposals::update(&mut tx, &seen.proposal, &fields).await?;
    let reply = render(
        &mut tx,
        &Seen {
            proposal: row,
            ..seen
        },
    )
    .await?;
    tx.commit().await?;
    Ok(reply)
}

pub(super) async fn submit(
    grants: &GrantsApi,
    caller: Caller,
    req: api::SubmitProposalRequest,
) -> Result<api::Proposal> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
    let (proposal, call) = (&seen.proposal, &seen.call);
    check_etag("etag", &req.etag, proposal.version)?;
    let to = domain::proposals::transition(proposal.state, Action::Submit)?;
    domain::calls::check_submission_window(
        call.state,
        call.fields.opens_on,
        call.fields.closes_on,
        Date::today(),
    )?;
    // The call's terms may have changed while it was a draft.
    let terms = terms(call);
    if let Err(Error::InvalidArgument(v)) =
        domain::proposals::parse_proposal(&proposal_proto(proposal, call, None, false)?, &terms)
    {
        return Err(Error::precondition(
            "PROPOSAL_INVALID",
            "proposal",
            v.iter()
                .map(|x| format!("{}: {}", x.field, x.description))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    domain::proposals::check_complete(&proposal.fields, &terms)?;
    let facts = store::eligibility::organization_facts(&mut tx, &proposal.organization_id).await?;
    domain::eligibility::check_eligible(&call.fields.rules, facts.as_ref().map(|(f, _)| f))?;
    let row = store::proposals::set_state(&mut tx, proposal, to, true, None).await?;
    let snapshot = proposal_proto(&row, call, facts.map(|(_, n)| n), false)?;
    store::proposals::insert_version(
        &mut tx,
        &id,
        row.version_number,
        &snapshot.encode_to_vec(),
        &caller.subject,
        row.submitted_at,
    )
    .await?;
    let context = context(&mut tx, &row, call).await?;
    tx.publish(
        &id,
        &ev::ProposalSubmitted {
            context: Some(context),
            version_number: row.version_number,
            requested: Some(row.fields.total(call.fields.currency())?.to_proto()),
            beneficiaries_targeted: Some(people_event(&row.fields.targeted)),
            submitted_at: Some(timestamp(row.submitted_at)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(snapshot)
}

pub(super) async fn request_changes(
    grants: &GrantsApi,
    caller: Caller,
    req: api::RequestChangesRequest,
) -> Result<api::Proposal> {
    let (id, note) = (
        parse_id("id", &req.id),
        validate::prose("note", &req.note, domain::PROSE_MAX, true),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
    check_etag("etag", &req.etag, seen.proposal.version)?;
    let to = domain::proposals::transition(seen.proposal.state, Action::RequestChanges)?;
    let row = store::proposals::set_state(&mut tx, &seen.proposal, to, false, None).await?;
    store::coaching::insert_note(
        &mut tx,
        &NoteRow {
            id: new_id(),
            proposal_id: id.clone(),
            body: note,
            author: caller.subject.clone(),
            author_role: role_word(&caller).to_string(),
            version_number: row.version_number,
            created_at: now_micros(),
        },
    )
    .await?;
    let reply = render(
        &mut tx,
        &Seen {
            proposal: row,
            ..seen
        },
    )
    .await?;
    tx.commit().await?;
    Ok(reply)
}

pub(super) async fn start_review(
    grants: &GrantsApi,
    caller: Caller,
    req: api::StartReviewRequest,
) -> Result<api::Proposal> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
    check_etag("etag", &req.etag, seen.proposal.version)?;
    let to = domain::proposals::transition(seen.proposal.state, Action::StartReview)?;
    let row = store::proposals::set_state(&mut tx, &seen.proposal, to, false, None).await?;
    let reply = render(
        &mut tx,
        &Seen {
            proposal: row,
            ..seen
        },
    )
    .await?;
    tx.commit().await?;
    Ok(reply)
}

pub(super) async fn decide(
    grants: &GrantsApi,
    caller: Caller,
    req: api::DecideProposalRequest,
) -> Result<api::Proposal> {
    let (id, (decision, reason)) = (
        parse_id("id", &req.id),
        domain::parse_decision(req.decision, &req.reason, "reason"),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
    check_etag("etag", &req.etag, seen.proposal.version)?;
    let (action, outcome) = match decision {
        Decision::Reject => (Action::Reject, ev::ProposalOutcome::Rejected),
        _ => (Action::Approve, ev::ProposalOutcome::Approved),
    };
    let to = domain::proposals::transition(seen.proposal.state, action)?;
    let row =
        store::proposals::set_state(&mut tx, &seen.proposal, to, false, Some(&reason)).await?;
    let counted: Vec<i64> = store::scores::list(&mut tx, &id, "", "")
        .await?
        .iter()
        .filter(|s| s.counts && !s.conflicted)
        .map(|s| s.weighted_total)
        .collect();
    let context = context(&mut tx, &row, &seen.call).await?;
    tx.publish(
        &id,
        &ev::ProposalDecided {
            context: Some(context),
            outcome: outcome as i32,
            requested: Some(row.fields.total(seen.call.fields.currency())?.to_proto()),
            score_basis_points: domain::scores::basis_points(
                counted.iter().sum(),
                counted.len() as i64,
                seen.call.fields.rubric.max_total(),
            ),
            review_count: counted.len() as i32,
            decided_at: Some(timestamp(row.updated_at)),
        },
    )
    .await?;
    let reply = render(
        &mut tx,
        &Seen {
            proposal: row,
            ..seen
        },
    )
    .await?;
    tx.commit().await?;
    Ok(reply)
}

pub(super) async fn withdraw(
    grants: &GrantsApi,
    caller: Caller,
    req: api::WithdrawProposalRequest,
) -> Result<api::Proposal> {
    let (id, reason) = (
        parse_id("id", &req.id),
        validate::prose("reason", &req.reason, domain::PROSE_MAX, false),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
    check_etag("etag", &req.etag, seen.proposal.version)?;
    let to = domain::proposals::transition(seen.proposal.state, Action::Withdraw)?;
    domain::proposals::check_withdrawal(seen.proposal.state, &reason)?;
    let row =
        store::proposals::set_state(&mut tx, &seen.proposal, to, false, Some(&reason)).await?;
    let reply = render(
        &mut tx,
        &Seen {
            proposal: row,
            ..seen
        },
    )
    .await?;
    tx.commit().await?;
    Ok(reply)
}

pub(super) async fn versions(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListProposalVersionsRequest,
) -> Result<api::ListProposalVersionsResponse> {
    let id = parse_id("proposal_id", &req.proposal_id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    seen_proposal(&mut tx, &viewer, &id, Use::Coach).await?;
    let versions = store::proposals::list_versions(&mut tx, &id)
        .await?
        .into_iter()
        .map(|v| {
            Ok(api::ProposalVersion {
                number: v.number,
                proposal: Some(
                    api::Proposal::decode(v.content.as_slice())
                        .map_err(|e| Error::internal(format!("stored version: {e}")))?,
                ),
                submitted_by: v.submitted_by,
                submit_time: Some(timestamp(v.submitted_at)),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(api::ListProposalVersionsResponse { versions })
}

pub(super) fn people_proto(p: &domain::proposals::People) -> api::Beneficiaries {
    api::Beneficiaries {
        female: p.female,
        male: p.male,
        undisclosed: p.undisclosed,
    }
}

pub(super) fn people_event(p: &domain::proposals::People) -> ev::BeneficiaryCount {
    ev::BeneficiaryCount {
        female: p.female,
        male: p.male,
        undisclosed: p.undisclosed,
    }
}

pub(super) fn budget_proto(lines: &[domain::proposals::BudgetLine]) -> Vec<api::BudgetLine> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| api::BudgetLine {
            line_number: i as i32 + 1,
            category: l.category as i32,
            description: Some(l.description.clone()),
            amount: Some(l.amount.to_proto()),
        })
        .collect()
}

pub(super) fn milestone_proto(number: usize, m: &domain::proposals::Milestone) -> api::Milestone {
    api::Milestone {
        number: number as i32,
        title: Some(m.title.clone()),
        due_date: Some(m.due_date.to_proto()),
        deliverables: Some(m.deliverables.clone()),
    }
}

/// The proposal as a caller sees it; `hidden` drops the applicant's identity
/// (a reviewer of a blind call).
pub(super) fn proposal_proto(
    r: &ProposalRow,
    call: &CallRow,
    organization_name: Option<LocalizedText>,
    hidden: bool,
) -> Result<api::Proposal> {
    let f = &r.fields;
    Ok(api::Proposal {
        id: r.id.clone(),
        call_id: r.call_id.clone(),
        organization_id: if hidden {
            String::new()
        } else {
            r.organization_id.clone()
        },
        organization_name: if hidden { None } else { organization_name },
        state: r.state as i32,
        title: Some(f.title.clone()),
        summary: Some(f.summary.clone()),
        community_need: Some(f.community_need.clone()),
        location: Some(api::Location {
            governorate: f.governorate.clone(),
            place: Some(f.place.clone()),
        }),
        sector: f.sector.map_or(0, |s| s as i32),
        theme_code: f.theme_code.clone(),
        beneficiaries_targeted: Some(people_proto(&f.targeted)),
        budget_lines: budget_proto(&f.budget),
        milestones: f
            .milestones
            .iter()
            .enumerate()
            .map(|(i, m)| milestone_proto(i + 1, m))
            .collect(),
        start_date: f.start_date.map(Date::to_proto),
        end_date: f.end_date.map(Date::to_proto),
        requested_total: Some(f.total(call.fields.currency())?.to_proto()),
        version_number: r.version_number,
        decision_reason: r.decision_reason.clone(),
        identity_hidden: hidden,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        submit_time: (r.submitted_at > 0).then(|| timestamp(r.submitted_at)),
        etag: etag(r.version),
    })
}

/// Renders a seen proposal with the organization's name from the copy.
pub(super) async fn render(tx: &mut Tx, seen: &Seen) -> Result<api::Proposal> {
    let name = if seen.hidden {
        None
    } else {
        markaz_membership_copies::organization(tx, &seen.proposal.organization_id)
            .await?
            .map(|o| o.name)
    };
    proposal_proto(&seen.proposal, &seen.call, name, seen.hidden)
}
