//! Variations: amendments of an award (a budget reallocation, a new end
//! date), applied only once staff approve them.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, new_id, parse_id};
use markaz_kit::time::{Date, now_micros, timestamp};
use markaz_proto::grants::v1 as api;

use crate::domain::proposals::Action;
use crate::domain::{self, Decision, VariationState};
use crate::store::variations::VariationRow;
use crate::store::{self};

use super::awards::AwardWork;
use super::proposals::budget_proto;
use super::{GrantsApi, seen_award, viewer};

pub(super) async fn request(
    grants: &GrantsApi,
    caller: Caller,
    req: api::RequestVariationRequest,
) -> Result<api::Variation> {
    let sent = req.variation.clone().unwrap_or_default();
    let award_id = match parse_id("variation.award_id", &sent.award_id) {
        Ok(id) => Ok(id),
        // No award to judge the variation against: parsed alone, it names
        // everything the request gets wrong, the award id among it.
        Err(_) => domain::variations::parse_variation(Some(&sent), None).map(|(id, _)| id),
    };
    let (idempotency, award_id) =
        (Idempotency::of(&caller, &req.request_id, &req), award_id).all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let award = seen_award(&mut tx, &viewer, &award_id).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let (_, fields) =
        domain::variations::parse_variation(Some(&sent), Some(award.amount.currency()))?;
    // One pending variation per award: requests queue on the
    // award's row (a variation does not change the award until
    // approved, so nothing is bumped).
    let work = AwardWork::lock(&mut tx, &award_id, "").await?;
    check_variation(&work, &fields)?;
    if store::variations::has_pending_variation(&mut tx, &award_id).await? {
        return Err(Error::precondition(
            "VARIATION_PENDING",
            format!("awards/{award_id}"),
            "a variation of this award waits for a decision already",
        ));
    }
    let row = VariationRow {
        id: new_id(),
        award_id,
        fields,
        state: VariationState::Pending,
        decision_note: String::new(),
        requested_by: caller.subject.clone(),
        decided_by: String::new(),
        created_at: now_micros(),
        decided_at: 0,
    };
    store::variations::insert(&mut tx, &row).await?;
    let reply = variation_proto(&row);
    idempotency.commit(tx, &row.id, &reply).await?;
    Ok(reply)
}

pub(super) async fn decide(
    grants: &GrantsApi,
    caller: Caller,
    req: api::DecideVariationRequest,
) -> Result<api::Variation> {
    let (id, (decision, note)) = (
        parse_id("id", &req.id),
        domain::parse_decision(req.decision, &req.note, "note"),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let variation = store::variations::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("variation", &id))?;
    if variation.state != VariationState::Pending {
        return Err(Error::precondition(
            "VARIATION_DECIDED",
            format!("variations/{id}"),
            "the variation was decided already",
        ));
    }
    let mut work = AwardWork::open(&mut tx, &caller, &variation.award_id, "").await?;
    let to = if decision == Decision::Approve {
        check_variation(&work, &variation.fields)?;
        if !variation.fields.budget.is_empty() {
            let budget: Vec<i64> = variation
                .fields
                .budget
                .iter()
                .map(|l| l.amount.minor_units())
                .collect();
            work.ledger.reallocate(&budget, true)?;
        }
        store::awards::vary(
            &mut tx,
            &variation.award_id,
            &variation.fields.budget,
            variation.fields.new_end_date,
        )
        .await?;
        VariationState::Approved
    } else {
        VariationState::Rejected
    };
    let at = store::variations::decide(&mut tx, &id, to, &note, &caller.subject).await?;
    work.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(variation_proto(&VariationRow {
        state: to,
        decision_note: note,
        decided_by: caller.subject.clone(),
        decided_at: at,
        ..variation
    }))
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListVariationsRequest,
) -> Result<api::ListVariationsResponse> {
    let (mut tx, id, page) = grants
        .award_page(&caller, &req.award_id, req.page_size, &req.page_token)
        .await?;
    let (mut rows, total) =
        store::variations::list(&mut tx, &id, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListVariationsResponse {
        variations: rows.iter().map(variation_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

/// A variation must fit the award: a reallocation keeps the total and the
/// lines already spent on; a new end date is not before the start.
pub(super) fn check_variation(
    work: &AwardWork,
    f: &domain::variations::VariationFields,
) -> Result<()> {
    let mut ledger = work.ledger.clone();
    if f.budget.is_empty() {
        domain::proposals::transition(ledger.state, Action::Vary)?;
    } else {
        let budget: Vec<i64> = f.budget.iter().map(|l| l.amount.minor_units()).collect();
        ledger.reallocate(&budget, false)?;
    }
    if let (Some(end), Some(start)) = (f.new_end_date, work.award.start_date)
        && end < start
    {
        return Err(Error::invalid(
            "variation.new_end_date",
            format!("before the project starts on {start}"),
        ));
    }
    Ok(())
}

pub(super) fn variation_proto(r: &VariationRow) -> api::Variation {
    api::Variation {
        id: r.id.clone(),
        award_id: r.award_id.clone(),
        justification: r.fields.justification.clone(),
        budget_lines: budget_proto(&r.fields.budget),
        new_end_date: r.fields.new_end_date.map(Date::to_proto),
        state: r.state as i32,
        decision_note: r.decision_note.clone(),
        requested_by: r.requested_by.clone(),
        decided_by: r.decided_by.clone(),
        create_time: Some(timestamp(r.created_at)),
        decide_time: (r.decided_at > 0).then(|| timestamp(r.decided_at)),
    }
}
