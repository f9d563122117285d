//! The item life cycle and partner contributions' moderation: each move is
//! decided by [`crate::domain::moderation::decide`] (who, from which state,
//! with which note), kept in the history, and — when readers' view changes
//! — published as `ResourcePublished`.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Page, check_etag, parse_id};
use markaz_kit::time::timestamp;
use markaz_proto::resources::v1 as api;

use super::items::{own_item, proto, published_event};
use super::{ResourcesApi, reader};
use crate::domain::items::ReaderClass;
use crate::domain::moderation::{Action, Actor, Subject, decide};
use crate::store;

/// Runs one move of the item `id`: the caller's standing (staff, or the
/// contributing partner), the rule, the history, the event.
async fn step(
    resources: &ResourcesApi,
    caller: &Caller,
    id: &str,
    etag: &str,
    action: Action,
    note: &str,
) -> Result<api::Item> {
    let mut tx = resources.db.write(&caller.tenant).await?;
    store::items::lock(&mut tx, id).await?;
    let current = own_item(&mut tx, caller, id).await?;
    check_etag("etag", etag, current.version)?;
    let actor = if reader(caller).class_for(&current.tenant_id) == ReaderClass::Staff {
        Actor::Staff
    } else if current.contribution
        && caller.organization.as_deref() == Some(current.contributor_organization_id.as_str())
    {
        Actor::Contributor
    } else {
        // A partner reading another's published item: nothing to move.
        return Err(Error::not_found("item", id));
    };
    let subject = Subject {
        state: current.state,
        contribution: current.contribution,
        files_with_content: current.file_count as u32,
        has_external_url: !current.external_url.is_empty(),
    };
    let step = decide(&subject, action, actor, note)?;
    store::items::set_state(&mut tx, &current, step.to, &step.note).await?;
    store::moderation::record(&mut tx, id, &caller.subject, &step).await?;
    let item = own_item(&mut tx, caller, id).await?;
    if step.publishes {
        tx.publish(&item.id, &published_event(&item)).await?;
    }
    tx.commit().await?;
    Ok(proto(&item))
}

pub(crate) async fn publish(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::PublishItemRequest,
) -> Result<api::Item> {
    let id = parse_id("id", &req.id)?;
    step(resources, &caller, &id, &req.etag, Action::Publish, "").await
}

pub(crate) async fn withdraw(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::WithdrawItemRequest,
) -> Result<api::Item> {
    let (id, _) = (
        parse_id("id", &req.id),
        markaz_kit::validate::prose("reason", &req.reason, crate::domain::NOTE_MAX, true),
    )
        .all()?;
    step(
        resources,
        &caller,
        &id,
        &req.etag,
        Action::Withdraw,
        &req.reason,
    )
    .await
}

pub(crate) async fn submit(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::SubmitContributionRequest,
) -> Result<api::Item> {
    let id = parse_id("id", &req.id)?;
    step(
        resources,
        &caller,
        &id,
        &req.etag,
        Action::Submit,
        &req.note,
    )
    .await
}

pub(crate) async fn approve(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ApproveContributionRequest,
) -> Result<api::Item> {
    let id = parse_id("id", &req.id)?;
    step(
        resources,
        &caller,
        &id,
        &req.etag,
        Action::Approve,
        &req.note,
    )
    .await
}

pub(crate) async fn request_changes(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::RequestContributionChangesRequest,
) -> Result<api::Item> {
    let (id, _) = (
        parse_id("id", &req.id),
        markaz_kit::validate::prose("note", &req.note, crate::domain::NOTE_MAX, true),
    )
        .all()?;
    step(
        resources,
        &caller,
        &id,
        &req.etag,
        Action::RequestChanges,
        &req.note,
    )
    .await
}

pub(crate) async fn reject(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::RejectContributionRequest,
) -> Result<api::Item> {
    let (id, _) = (
        parse_id("id", &req.id),
        markaz_kit::validate::prose("reason", &req.reason, crate::domain::NOTE_MAX, true),
    )
        .all()?;
    step(
        resources,
        &caller,
        &id,
        &req.etag,
        Action::Reject,
        &req.reason,
    )
    .await
}

pub(crate) async fn history(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListItemHistoryRequest,
) -> Result<api::ListItemHistoryResponse> {
    let (id, page) = (
        parse_id("item_id", &req.item_id),
        Page::parse(req.page_size, &req.page_token, &req.item_id),
    )
        .all()?;
    let after = if page.after.is_empty() {
        0
    } else {
        page.after
            .parse::<i64>()
            .map_err(|_| Error::invalid("page_token", "not a token from this list"))?
    };
    let mut tx = resources.db.read(&caller.tenant).await?;
    let item = own_item(&mut tx, &caller, &id).await?;
    // The history is the moderation's: staff, and the contributor of its
    // own contribution — not every reader of a published item.
    let staff = reader(&caller).class_for(&item.tenant_id) == ReaderClass::Staff;
    let contributor = item.contribution
        && caller.organization.as_deref() == Some(item.contributor_organization_id.as_str());
    if !staff && !contributor {
        return Err(Error::not_found("item", &id));
    }
    let (mut entries, total) = store::moderation::list(&mut tx, &id, after, page.fetch()).await?;
    let next_page_token = page.finish(&mut entries, |e| e.seq.to_string());
    Ok(api::ListItemHistoryResponse {
        entries: entries
            .iter()
            .map(|e| api::ItemHistoryEntry {
                from_state: e.from as i32,
                to_state: e.to as i32,
                actor: e.actor.clone(),
                by_contributor: e.by_contributor,
                note: e.note.clone(),
                time: Some(timestamp(e.at)),
            })
            .collect(),
        next_page_token,
        total_size: total.size,
    })
}
