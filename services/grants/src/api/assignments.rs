//! Assignments: which reviewer reviews which proposal; never one with a
//! conflict of interest.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Page, new_id, parse_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_proto::grants::v1 as api;

use crate::domain::proposals::Action;
use crate::domain::{self, AssignmentState};
use crate::store::assignments::AssignmentRow;
use crate::store::{self};

use super::{GrantsApi, Use, seen_proposal, viewer};

pub(super) async fn assign(
    grants: &GrantsApi,
    caller: Caller,
    req: api::AssignReviewerRequest,
) -> Result<api::Assignment> {
    let (proposal_id, reviewer_id) = (
        parse_id("proposal_id", &req.proposal_id),
        parse_id("reviewer_id", &req.reviewer_id),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &proposal_id, Use::Write).await?;
    let reviewer = store::reviewers::get(&mut tx, &reviewer_id)
        .await?
        .ok_or_else(|| Error::not_found("reviewer", &reviewer_id))?;
    domain::proposals::transition(seen.proposal.state, Action::AssignReviewer)?;
    if !reviewer.active {
        return Err(Error::precondition(
            "REVIEWER_INACTIVE",
            format!("reviewers/{reviewer_id}"),
            "the reviewer is no longer active",
        ));
    }
    if let Some(why) =
        store::conflicts::conflict_of_interest(&mut tx, &reviewer, &seen.proposal, false).await?
    {
        return Err(Error::precondition(
            "CONFLICT_OF_INTEREST",
            format!("reviewers/{reviewer_id}"),
            format!("the reviewer cannot be assigned: {why}"),
        ));
    }
    let row = AssignmentRow {
        id: new_id(),
        proposal_id,
        reviewer_id,
        call_id: seen.call.id.clone(),
        state: AssignmentState::Active,
        recusal_reason: String::new(),
        assigned_by: caller.subject.clone(),
        created_at: now_micros(),
    };
    store::assignments::insert(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(assignment_proto(&row))
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListAssignmentsRequest,
) -> Result<api::ListAssignmentsResponse> {
    let (proposal_id, mut reviewer_id) = (
        domain::optional_id("proposal_id", &req.proposal_id),
        domain::optional_id("reviewer_id", &req.reviewer_id),
    )
        .all()?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{proposal_id}|{reviewer_id}"),
    )?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    if !viewer.staff {
        match &viewer.reviewer {
            Some(me) if reviewer_id.is_empty() || me.id == reviewer_id => {
                reviewer_id = me.id.clone()
            }
            _ => return Ok(api::ListAssignmentsResponse::default()),
        }
    }
    let (mut rows, total) = store::assignments::list(
        &mut tx,
        &proposal_id,
        &reviewer_id,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListAssignmentsResponse {
        assignments: rows.iter().map(assignment_proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(super) fn assignment_proto(a: &AssignmentRow) -> api::Assignment {
    api::Assignment {
        id: a.id.clone(),
        proposal_id: a.proposal_id.clone(),
        reviewer_id: a.reviewer_id.clone(),
        call_id: a.call_id.clone(),
        state: a.state as i32,
        recusal_reason: a.recusal_reason.clone(),
        assigned_by: a.assigned_by.clone(),
        create_time: Some(timestamp(a.created_at)),
    }
}
