//! Conflicts of interest: declared by reviewers (or recorded by staff for
//! them); the assignments they touch are withdrawn.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, new_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_proto::grants::v1 as api;

use crate::domain::{self};
use crate::store::conflicts::ConflictRow;
use crate::store::{self};

use super::{GrantsApi, viewer};

pub(super) async fn declare(
    grants: &GrantsApi,
    caller: Caller,
    req: api::DeclareConflictRequest,
) -> Result<api::Conflict> {
    let sent = req.conflict.clone().unwrap_or_default();
    let (idempotency, reviewer_id, (target, reason)) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::optional_id("conflict.reviewer_id", &sent.reviewer_id),
        domain::conflicts::parse_conflict(Some(&sent)),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let reviewer = if viewer.staff {
        if reviewer_id.is_empty() {
            return Err(Error::invalid("conflict.reviewer_id", "required"));
        }
        store::reviewers::get(&mut tx, &reviewer_id).await?
    } else {
        viewer
            .reviewer
            .clone()
            .filter(|me| reviewer_id.is_empty() || me.id == reviewer_id)
    };
    let reviewer = reviewer.ok_or_else(|| Error::not_found("reviewer", &reviewer_id))?;
    let (organization_id, proposal_id) = match target {
        domain::conflicts::ConflictTarget::Organization(o) => (o, String::new()),
        domain::conflicts::ConflictTarget::Proposal(p) => {
            // Staff name any proposal; a reviewer one it is
            // assigned to, or was until it recused (so a retry
            // of its declaration still finds it).
            let known = if viewer.staff {
                store::proposals::get(&mut tx, &p).await?.is_some()
            } else {
                store::assignments::find(&mut tx, &p, &reviewer.id)
                    .await?
                    .is_some()
            };
            if !known {
                return Err(Error::not_found("proposal", &p));
            }
            (String::new(), p)
        }
    };
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let row = ConflictRow {
        id: new_id(),
        reviewer_id: reviewer.id.clone(),
        organization_id,
        proposal_id,
        reason,
        declared_by: caller.subject.clone(),
        created_at: now_micros(),
    };
    store::conflicts::insert(&mut tx, &row).await?;
    // A reviewer naming an organization must learn nothing from it: were
    // its blind assignments withdrawn now, the one that turned RECUSED
    // would name the applicant. Those stay as they are — the ranking and
    // the decision leave the sheet out (the conflict is recorded), and staff
    // see the conflict and reassign. A declaration naming a proposal (one
    // the reviewer was shown) or recorded by staff withdraws at once.
    let spare_blind = !viewer.staff && !row.organization_id.is_empty();
    store::conflicts::recuse(
        &mut tx,
        &reviewer.id,
        "",
        &row.organization_id,
        &row.proposal_id,
        &format!("conflict of interest declared: {}", row.reason),
        spare_blind,
    )
    .await?;
    let reply = conflict_proto(&row);
    idempotency.commit(tx, &row.id, &reply).await?;
    Ok(reply)
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListConflictsRequest,
) -> Result<api::ListConflictsResponse> {
    let mut reviewer_id = domain::optional_id("reviewer_id", &req.reviewer_id)?;
    let page = Page::parse(req.page_size, &req.page_token, &reviewer_id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    if !viewer.staff {
        match &viewer.reviewer {
            Some(me) if reviewer_id.is_empty() || me.id == reviewer_id => {
                reviewer_id = me.id.clone()
            }
            _ => return Ok(api::ListConflictsResponse::default()),
        }
    }
    let (mut rows, total) =
        store::conflicts::list(&mut tx, &reviewer_id, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListConflictsResponse {
        conflicts: rows.iter().map(conflict_proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(super) fn conflict_proto(c: &ConflictRow) -> api::Conflict {
    api::Conflict {
        id: c.id.clone(),
        reviewer_id: c.reviewer_id.clone(),
        organization_id: c.organization_id.clone(),
        proposal_id: c.proposal_id.clone(),
        reason: c.reason.clone(),
        declared_by: c.declared_by.clone(),
        create_time: Some(timestamp(c.created_at)),
    }
}
