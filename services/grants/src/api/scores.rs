//! Scores: an assigned reviewer's sheet against the call's rubric.

use markaz_kit::auth::Caller;
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::{new_id, parse_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_proto::grants::v1 as api;

use crate::domain::proposals::Action;
use crate::domain::{self, AssignmentState};
use crate::store::scores::SheetRow;
use crate::store::{self};

use super::{GrantsApi, Use, seen_proposal, viewer};

pub(super) async fn submit(
    grants: &GrantsApi,
    caller: Caller,
    req: api::SubmitScoreRequest,
) -> Result<api::ScoreSheet> {
    let proposal_id = parse_id("proposal_id", &req.proposal_id)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let not_found = || Error::not_found("proposal", &proposal_id);
    let reviewer = store::reviewers::reviewer_of(&mut tx, &caller.subject)
        .await?
        .filter(|r| r.active)
        .ok_or_else(not_found)?;
    let assignment = store::assignments::find(&mut tx, &proposal_id, &reviewer.id)
        .await?
        .ok_or_else(not_found)?;
    let proposal = store::proposals::get(&mut tx, &proposal_id)
        .await?
        .ok_or_else(not_found)?;
    if assignment.state == AssignmentState::Recused {
        return Err(Error::precondition(
            "CONFLICT_OF_INTEREST",
            format!("proposals/{proposal_id}"),
            format!(
                "the assignment was withdrawn: {}",
                assignment.recusal_reason
            ),
        ));
    }
    let call = store::calls::get(&mut tx, &proposal.call_id)
        .await?
        .ok_or_else(|| Error::internal("a proposal without its call"))?;
    if let Some(why) =
        store::conflicts::conflict_of_interest(&mut tx, &reviewer, &proposal, call.fields.blind)
            .await?
    {
        return Err(Error::precondition(
            "CONFLICT_OF_INTEREST",
            format!("proposals/{proposal_id}"),
            format!("the reviewer cannot score this proposal: {why}"),
        ));
    }
    domain::proposals::transition(proposal.state, Action::Score)?;
    let rubric = &call.fields.rubric;
    let sheet = domain::scores::parse_sheet(&req.scores, &req.comment, rubric)?;
    let mut row = SheetRow {
        id: new_id(),
        proposal_id,
        reviewer_id: reviewer.id.clone(),
        weighted_total: domain::scores::weighted_total(rubric, &sheet),
        sheet,
        counts: true,
        conflicted: false,
        submitted_at: now_micros(),
    };
    row.id = store::scores::upsert(&mut tx, &row.id, &call.id, &row).await?;
    tx.commit().await?;
    Ok(sheet_proto(&row, rubric.max_total()))
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListScoresRequest,
) -> Result<api::ListScoresResponse> {
    let id = parse_id("proposal_id", &req.proposal_id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Read).await?;
    let only = match (&viewer.reviewer, viewer.staff) {
        (_, true) => String::new(),
        (Some(me), false) => me.id.clone(),
        (None, false) => return Err(Error::not_found("proposal", &id)),
    };
    let max = seen.call.fields.rubric.max_total();
    let sheets = store::scores::list(&mut tx, &id, "", &only)
        .await?
        .iter()
        .map(|s| sheet_proto(s, max))
        .collect();
    Ok(api::ListScoresResponse { sheets })
}

pub(super) fn sheet_proto(s: &SheetRow, max_total: i64) -> api::ScoreSheet {
    api::ScoreSheet {
        id: s.id.clone(),
        proposal_id: s.proposal_id.clone(),
        reviewer_id: s.reviewer_id.clone(),
        scores: s
            .sheet
            .scores
            .iter()
            .map(|(code, score, comment)| api::CriterionScore {
                criterion_code: code.clone(),
                score: *score,
                comment: comment.clone(),
            })
            .collect(),
        comment: s.sheet.comment.clone(),
        weighted_total: s.weighted_total,
        basis_points: domain::scores::basis_points(s.weighted_total, 1, max_total),
        counts: s.counts,
        submit_time: Some(timestamp(s.submitted_at)),
    }
}
