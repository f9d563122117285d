//! Awards: an approved proposal's grant, its tranches and life cycle; every
//! change is made under the award's row lock ([`AwardWork`]).

use std::collections::HashMap;

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, FieldViolation, Result};
use markaz_kit::money::{self, Currency, Money, Sign};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id};
use markaz_kit::time::{Date, now_micros, timestamp};
use markaz_kit::validate;
use markaz_proto::events::v1 as ev;
use markaz_proto::grants::v1 as api;

use crate::domain::awards::Ledger;
use crate::domain::proposals::Action;
use crate::domain::{self, ReportKind, ReportState, TrancheState};
use crate::store::awards::{AwardFacts, AwardRow, TrancheRow};
use crate::store::calls::CallRow;
use crate::store::proposals::ProposalRow;
use crate::store::{self};

use super::proposals::{budget_proto, milestone_proto, people_event};
use super::{
    GrantsApi, Use, context, list_filters, required_reason, seen_award, seen_proposal, viewer,
};

pub(super) async fn award(
    grants: &GrantsApi,
    caller: Caller,
    req: api::AwardGrantRequest,
) -> Result<api::Award> {
    let (idempotency, proposal_id, amount) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_id("proposal_id", &req.proposal_id),
        money::amount("amount", req.amount.as_ref(), Sign::Positive),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &proposal_id, Use::Write).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let (proposal, call) = (&seen.proposal, &seen.call);
    check_etag("etag", &req.etag, proposal.version)?;
    let tranches =
        domain::awards::parse_tranches(&req.tranches, amount, proposal.fields.milestones.len())?;
    let to = domain::proposals::transition(proposal.state, Action::Award)?;
    // Awards in one call queue on its row: none reads the
    // envelope before the one ahead of it wrote.
    tx.lock("calls", &call.id).await?;
    let committed = store::calls::committed(&mut tx, call).await?;
    let remaining = call.fields.envelope.checked_sub(committed)?;
    let budget_total = proposal.fields.total(call.fields.currency())?;
    domain::awards::check_award(amount, budget_total, call.fields.ceiling, remaining)?;
    let award = AwardRow {
        id: new_id(),
        proposal_id: proposal_id.clone(),
        call_id: call.id.clone(),
        organization_id: proposal.organization_id.clone(),
        amount,
        budget: proposal.fields.budget.clone(),
        tranches: tranches
            .iter()
            .enumerate()
            .map(|(i, t)| TrancheRow {
                number: i as i32 + 1,
                milestone: t.milestone,
                amount: t.amount,
                state: TrancheState::Planned,
                disbursed_on: None,
                reference: String::new(),
                disbursed_by: String::new(),
            })
            .collect(),
        start_date: proposal.fields.start_date,
        end_date: proposal.fields.end_date,
        closure_reason: String::new(),
        version: 1,
        created_at: now_micros(),
        updated_at: now_micros(),
    };
    store::awards::insert(&mut tx, &award, &caller.subject).await?;
    let row = store::proposals::set_state(&mut tx, proposal, to, false, None).await?;
    let context = context(&mut tx, &row, call).await?;
    tx.publish(
        &award.id,
        &ev::GrantAwarded {
            context: Some(context),
            award_id: award.id.clone(),
            amount: Some(amount.to_proto()),
            tranche_count: award.tranches.len() as i32,
            beneficiaries_targeted: Some(people_event(&row.fields.targeted)),
            start_date: award.start_date.map(Date::to_proto),
            end_date: award.end_date.map(Date::to_proto),
            title: Some(row.fields.title.clone()),
            summary: Some(row.fields.summary.clone()),
        },
    )
    .await?;
    let reply = award_view(&mut tx, &award).await?;
    idempotency.commit(tx, &award.id, &reply).await?;
    Ok(reply)
}

pub(super) async fn get(
    grants: &GrantsApi,
    caller: Caller,
    req: api::GetAwardRequest,
) -> Result<api::Award> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let award = seen_award(&mut tx, &viewer, &id).await?;
    award_view(&mut tx, &award).await
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListAwardsRequest,
) -> Result<api::ListAwardsResponse> {
    let (call_id, asked, state) = list_filters(&req.call_id, &req.organization_id, req.state)?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{}|{}|{}", req.call_id, req.organization_id, req.state),
    )?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    // Awards are staff's and their applicants': a partner lists its own.
    let Some(organization_id) = caller.organization_filter(&asked) else {
        return Ok(api::ListAwardsResponse::default());
    };
    let (mut rows, total) = store::awards::list(
        &mut tx,
        &call_id,
        &organization_id,
        state,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    // The page in a fixed number of statements, whatever its size.
    let facts = store::awards::facts(&mut tx, &rows).await?;
    Ok(api::ListAwardsResponse {
        awards: rows
            .iter()
            .map(|a| award_proto(a, &facts))
            .collect::<Result<_>>()?,
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(super) async fn activate(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ActivateGrantRequest,
) -> Result<api::Award> {
    let id = parse_id("award_id", &req.award_id)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let mut work = AwardWork::open(&mut tx, &caller, &id, &req.etag).await?;
    work.ledger.activate()?;
    work.move_proposal(&mut tx).await?;
    let reply = work.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(reply)
}

pub(super) async fn disburse(
    grants: &GrantsApi,
    caller: Caller,
    req: api::DisburseTrancheRequest,
) -> Result<api::Award> {
    let number = if req.tranche_number < 1 {
        Err(FieldViolation::new("tranche_number", "required: 1, 2, ..."))
    } else {
        Ok(req.tranche_number)
    };
    let (id, number, on, reference) = (
        parse_id("award_id", &req.award_id),
        number,
        Date::optional("disbursed_on", req.disbursed_on.as_ref()),
        validate::line("reference", &req.reference, domain::SHORT_MAX, true),
    )
        .all()?;
    let on = on.unwrap_or_else(Date::today);
    let mut tx = grants.db.write(&caller.tenant).await?;
    let mut work = AwardWork::open(&mut tx, &caller, &id, &req.etag).await?;
    let paid = work.ledger.disburse(number)?;
    store::awards::disburse_tranche(&mut tx, &id, number, on, &reference, &caller.subject).await?;
    let tranche = work
        .ledger
        .tranches
        .iter()
        .find(|t| t.number == number)
        .copied()
        .ok_or_else(|| Error::internal("the tranche just paid"))?;
    let context = context(&mut tx, &work.proposal, &work.call).await?;
    tx.publish(
        &id,
        &ev::TrancheDisbursed {
            context: Some(context),
            award_id: id.clone(),
            tranche_number: tranche.number,
            milestone_number: tranche.milestone,
            amount: Some(paid.to_proto()),
            disbursed_total: Some(work.ledger.totals()?.disbursed.to_proto()),
            disbursed_on: Some(on.to_proto()),
        },
    )
    .await?;
    let reply = work.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(reply)
}

pub(super) async fn complete(
    grants: &GrantsApi,
    caller: Caller,
    req: api::CompleteGrantRequest,
) -> Result<api::Award> {
    let id = parse_id("award_id", &req.award_id)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let mut work = AwardWork::open(&mut tx, &caller, &id, &req.etag).await?;
    work.ledger.complete()?;
    work.move_proposal(&mut tx).await?;
    let (reports, _) = store::reports::list(&mut tx, &id, "", 0).await?;
    let reached = reports
        .iter()
        .rfind(|r| r.state == ReportState::Accepted && r.fields.kind == ReportKind::Final)
        .map(|r| r.fields.reached)
        .unwrap_or_default();
    work.publish_end(&mut tx, ev::ProjectOutcome::Completed, reached)
        .await?;
    let reply = work.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(reply)
}

pub(super) async fn close_early(
    grants: &GrantsApi,
    caller: Caller,
    req: api::CloseGrantEarlyRequest,
) -> Result<api::Award> {
    let (id, reason) = (
        parse_id("award_id", &req.award_id),
        required_reason("reason", &req.reason),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let mut work = AwardWork::open(&mut tx, &caller, &id, &req.etag).await?;
    work.ledger.close_early()?;
    store::awards::close(&mut tx, &id, &reason).await?;
    work.move_proposal(&mut tx).await?;
    let reached = store::reports::list(&mut tx, &id, "", 0)
        .await?
        .0
        .iter()
        .filter(|r| r.state == ReportState::Accepted && r.fields.kind == ReportKind::Progress)
        .fold(domain::proposals::People::default(), |acc, r| {
            acc.plus(&r.fields.reached)
        });
    work.publish_end(&mut tx, ev::ProjectOutcome::ClosedEarly, reached)
        .await?;
    let reply = work.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(reply)
}

/// An award being changed in this transaction, with its proposal, call and
/// ledger as they are under the award's row lock: writers of one award queue
/// instead of racing. Opening writes nothing; [`AwardWork::finish`] bumps
/// the version once the change is made.
pub(super) struct AwardWork {
    pub(super) award: AwardRow,
    pub(super) proposal: ProposalRow,
    pub(super) call: CallRow,
    pub(super) ledger: Ledger,
}

impl AwardWork {
    pub(super) async fn load(tx: &mut Tx, award: AwardRow) -> Result<AwardWork> {
        let proposal = store::proposals::get(tx, &award.proposal_id)
            .await?
            .ok_or_else(|| Error::internal("an award without its proposal"))?;
        let call = store::calls::get(tx, &award.call_id)
            .await?
            .ok_or_else(|| Error::internal("an award without its call"))?;
        let ledger = store::awards::ledger(tx, &award).await?;
        Ok(AwardWork {
            award,
            proposal,
            call,
            ledger,
        })
    }

    /// The award `id` for a change by the caller: its rights first (an
    /// award it may not change is NOT_FOUND), then the award's row lock,
    /// then the award as it is under the lock, the etag checked when sent.
    pub(super) async fn open(
        tx: &mut Tx,
        caller: &Caller,
        id: &str,
        sent_etag: &str,
    ) -> Result<AwardWork> {
        let viewer = viewer(tx, caller).await?;
        seen_award(tx, &viewer, id).await?;
        AwardWork::lock(tx, id, sent_etag).await
    }

    /// The award `id` (one the caller may change) under its row lock.
    pub(super) async fn lock(tx: &mut Tx, id: &str, sent_etag: &str) -> Result<AwardWork> {
        tx.lock("awards", id).await?;
        let award = store::awards::get(tx, id)
            .await?
            .ok_or_else(|| Error::internal("the award just seen"))?;
        check_etag("etag", sent_etag, award.version)?;
        AwardWork::load(tx, award).await
    }

    /// Moves the proposal to the ledger's state.
    pub(super) async fn move_proposal(&mut self, tx: &mut Tx) -> Result<()> {
        if self.ledger.state != self.proposal.state {
            self.proposal =
                store::proposals::set_state(tx, &self.proposal, self.ledger.state, false, None)
                    .await?;
        }
        Ok(())
    }

    pub(super) async fn publish_end(
        &self,
        tx: &mut Tx,
        outcome: ev::ProjectOutcome,
        reached: domain::proposals::People,
    ) -> Result<()> {
        let totals = self.ledger.totals()?;
        let context = context(tx, &self.proposal, &self.call).await?;
        tx.publish(
            &self.award.id,
            &ev::ProjectCompleted {
                context: Some(context),
                award_id: self.award.id.clone(),
                outcome: outcome as i32,
                awarded: Some(totals.awarded.to_proto()),
                disbursed: Some(totals.disbursed.to_proto()),
                spent: Some(totals.spent.to_proto()),
                beneficiaries_reached: Some(people_event(&reached)),
                ended_on: Some(Date::today().to_proto()),
            },
        )
        .await
    }

    /// Bumps the award's version (its etag) for the change made, and
    /// returns the award as it stands after it.
    pub(super) async fn finish(&self, tx: &mut Tx) -> Result<api::Award> {
        store::awards::touch(tx, &self.award, Some(self.award.version)).await?;
        let award = store::awards::get(tx, &self.award.id)
            .await?
            .ok_or_else(|| Error::internal("the award being changed"))?;
        award_view(tx, &award).await
    }
}

/// The award with its totals, budget against actual and milestones, all
/// computed from the records.
pub(super) async fn award_view(tx: &mut Tx, a: &AwardRow) -> Result<api::Award> {
    let facts = store::awards::facts(tx, std::slice::from_ref(a)).await?;
    award_proto(a, &facts)
}

/// An award as the API shows it, from its rows and its [`AwardFacts`] (read
/// for a whole page at once).
pub(super) fn award_proto(a: &AwardRow, facts: &HashMap<String, AwardFacts>) -> Result<api::Award> {
    let AwardFacts {
        state,
        milestones,
        reports,
        ledger,
    } = facts
        .get(&a.id)
        .ok_or_else(|| Error::internal("an award without its facts"))?;
    let totals = ledger.totals()?;
    let currency: Currency = ledger.currency;
    let milestones = milestones
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let number = i as i32 + 1;
            let latest = reports
                .iter()
                .rfind(|r| r.fields.kind == ReportKind::Progress && r.fields.milestone == number);
            api::MilestoneProgress {
                milestone: Some(milestone_proto(i + 1, m)),
                report_state: latest.map_or(0, |r| r.state as i32),
            }
        })
        .collect();
    let budget = budget_proto(&a.budget)
        .into_iter()
        .zip(&ledger.spent)
        .map(|(line, spent)| {
            let budgeted = Money::new(currency, ledger.budget[line.line_number as usize - 1]);
            let spent = Money::new(currency, *spent);
            Ok(api::BudgetLineActual {
                line: Some(line),
                spent: Some(spent.to_proto()),
                variance: Some(budgeted.checked_sub(spent)?.to_proto()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(api::Award {
        id: a.id.clone(),
        proposal_id: a.proposal_id.clone(),
        call_id: a.call_id.clone(),
        organization_id: a.organization_id.clone(),
        state: *state as i32,
        amount: Some(a.amount.to_proto()),
        tranches: a
            .tranches
            .iter()
            .map(|t| api::Tranche {
                number: t.number,
                milestone_number: t.milestone,
                amount: Some(t.amount.to_proto()),
                state: t.state as i32,
                disbursed_on: t.disbursed_on.map(Date::to_proto),
                reference: t.reference.clone(),
                disbursed_by: t.disbursed_by.clone(),
            })
            .collect(),
        budget,
        milestones,
        disbursed: Some(totals.disbursed.to_proto()),
        cancelled: Some(totals.cancelled.to_proto()),
        remaining: Some(totals.remaining.to_proto()),
        spent: Some(totals.spent.to_proto()),
        start_date: a.start_date.map(Date::to_proto),
        end_date: a.end_date.map(Date::to_proto),
        closure_reason: a.closure_reason.clone(),
        create_time: Some(timestamp(a.created_at)),
        update_time: Some(timestamp(a.updated_at)),
        etag: etag(a.version),
    })
}
