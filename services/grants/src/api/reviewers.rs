//! Reviewers: the experts, each a person of membership signing in with their
//! own account.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, new_id, parse_id};
use markaz_kit::time::timestamp;
use markaz_proto::grants::v1 as api;

use crate::domain::{self};
use crate::store::reviewers::ReviewerRow;
use crate::store::{self};

use super::{GrantsApi, viewer};

pub(super) async fn create(
    grants: &GrantsApi,
    caller: Caller,
    req: api::CreateReviewerRequest,
) -> Result<api::Reviewer> {
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::reviewers::parse_reviewer(req.reviewer.as_ref()),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    if !store::reviewers::person_is_known(&mut tx, &fields.person_id).await? {
        return Err(Error::precondition(
            "PERSON_UNKNOWN",
            format!("people/{}", fields.person_id),
            "the person is not known to the grants service (not yet arrived from \
             membership, or erased)",
        ));
    }
    let id = new_id();
    store::reviewers::insert(&mut tx, &id, &fields).await?;
    let row = store::reviewers::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::internal("the reviewer just written"))?;
    let reply = reviewer_proto(&row);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(super) async fn get(
    grants: &GrantsApi,
    caller: Caller,
    req: api::GetReviewerRequest,
) -> Result<api::Reviewer> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let row = store::reviewers::get(&mut tx, &id)
        .await?
        .filter(|r| viewer.staff || viewer.reviewer.as_ref().is_some_and(|me| me.id == r.id))
        .ok_or_else(|| Error::not_found("reviewer", &id))?;
    Ok(reviewer_proto(&row))
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListReviewersRequest,
) -> Result<api::ListReviewersResponse> {
    let page = Page::parse(req.page_size, &req.page_token, "")?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let (mut rows, total) = store::reviewers::list(&mut tx, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListReviewersResponse {
        reviewers: rows.iter().map(reviewer_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(super) fn reviewer_proto(r: &ReviewerRow) -> api::Reviewer {
    api::Reviewer {
        id: r.id.clone(),
        person_id: r.fields.person_id.clone(),
        subject: r.fields.subject.clone(),
        display_name: r.display_name.clone(),
        expertise: r.fields.expertise.iter().map(|s| *s as i32).collect(),
        active: r.active,
        create_time: Some(timestamp(r.created_at)),
    }
}
