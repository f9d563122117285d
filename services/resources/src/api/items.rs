//! Library items: create, read (every read follows the item's visibility,
//! and counts a view), list, update.

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{
    Anonymous, Idempotency, Page, check_etag, etag, new_id, parse_id, update_mask,
};
use markaz_kit::time::{Date, now_micros, timestamp};
use markaz_proto::events::v1 as ev;
use markaz_proto::resources::v1 as api;

use super::{ResourcesApi, enum_filter, partner_of, reader};
use crate::domain::items::{
    ITEM_MASK, ItemState, Month, PUBLISHED_MASK, check_published_mask, may_edit, merge_item,
    parse_item, parse_language, parse_topics,
};
use crate::domain::parse_id as parse_optional;
use crate::store;
use crate::store::items::{Item, ListFilter, NewItem, Scope};

pub(crate) async fn create(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::CreateItemRequest,
) -> Result<api::Item> {
    let sent = req.item.clone().unwrap_or_default();
    let contributor = partner_of(&caller)?;
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_item("item", &sent, contributor.as_deref(), Date::today()),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let id = new_id();
    store::items::insert(
        &mut tx,
        &NewItem {
            id: &id,
            contributor: contributor.as_deref(),
            created_by: &caller.subject,
        },
        &fields,
    )
    .await?;
    let item = own_item(&mut tx, &caller, &id).await?;
    let reply = proto(&item);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

/// An item of the caller's own tenant that the caller may see (for a
/// change), or NOT_FOUND.
pub(crate) async fn own_item(tx: &mut Tx, caller: &Caller, id: &str) -> Result<Item> {
    store::items::get(tx, &Scope::of(&reader(caller)), id)
        .await?
        .filter(|i| i.tenant_id == caller.tenant)
        .ok_or_else(|| Error::not_found("item", id))
}

/// An item the caller may read, of any tenant, or NOT_FOUND.
pub(crate) async fn readable_item(tx: &mut Tx, caller: &Caller, id: &str) -> Result<Item> {
    store::items::get(tx, &Scope::of(&reader(caller)), id)
        .await?
        .ok_or_else(|| Error::not_found("item", id))
}

/// An item of the transaction's tenant that the public may read (published,
/// public), or NOT_FOUND: the one rule of every public catalogue RPC, so an
/// item that is internal, unpublished or another center's answers exactly
/// as one that does not exist.
pub(crate) async fn public_item(tx: &mut Tx, id: &str) -> Result<Item> {
    store::items::get(tx, &Scope::public(false), id)
        .await?
        .ok_or_else(|| Error::not_found("item", id))
}

pub(crate) async fn get(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetItemRequest,
) -> Result<api::Item> {
    let id = parse_id("id", &req.id)?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    let mut item = readable_item(&mut tx, &caller, &id).await?;
    count_view(&mut tx, &mut item).await?;
    tx.commit().await?;
    Ok(proto(&item))
}

/// Counts a read of a published item in the month's usage (staff reading
/// their own drafts is work, not use).
async fn count_view(tx: &mut Tx, item: &mut Item) -> Result<()> {
    if item.state != ItemState::Published {
        return Ok(());
    }
    let month = Month::of_micros(now_micros()).stored();
    store::usage::count(tx, &item.tenant_id, &item.id, &month, false).await?;
    item.views += 1;
    Ok(())
}

pub(crate) async fn get_public(
    resources: &ResourcesApi,
    anonymous: Anonymous,
    req: api::GetPublicItemRequest,
) -> Result<api::Item> {
    let (tenant, id) = (
        markaz_kit::validate::slug("tenant_id", &req.tenant_id, 63),
        parse_id("id", &req.id),
    )
        .all()?;
    resources.limit_public(&anonymous)?;
    let mut tx = resources.db.write(&tenant).await?;
    let mut item = public_item(&mut tx, &id).await?;
    count_view(&mut tx, &mut item).await?;
    tx.commit().await?;
    Ok(proto(&item))
}

pub(crate) async fn list(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListItemsRequest,
) -> Result<api::ListItemsResponse> {
    let fingerprint = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}",
        req.state,
        req.kind,
        req.topic_code,
        req.language,
        req.source_kind,
        req.source_organization_id,
        req.visibility,
        req.contributions_only
    );
    let (page, state, kind, topic, language, source_kind, source_org, visibility) = (
        Page::parse(req.page_size, &req.page_token, &fingerprint),
        enum_filter::<ItemState>("state", req.state, ItemState::as_str_name),
        enum_filter::<api::ItemKind>("kind", req.kind, api::ItemKind::as_str_name),
        topic_filter(&req.topic_code),
        language_filter(&req.language),
        enum_filter::<api::SourceKind>(
            "source_kind",
            req.source_kind,
            api::SourceKind::as_str_name,
        ),
        parse_optional("source_organization_id", &req.source_organization_id, false),
        enum_filter::<api::Visibility>("visibility", req.visibility, api::Visibility::as_str_name),
    )
        .all()?;
    let filter = ListFilter {
        state,
        kind,
        topic_code: topic,
        language,
        source_kind,
        source_organization_id: source_org,
        visibility,
        contributions_only: req.contributions_only,
    };
    let mut tx = resources.db.read(&caller.tenant).await?;
    let (mut items, total) = store::items::list(
        &mut tx,
        &Scope::of(&reader(&caller)),
        &filter,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut items, |i| i.id.clone());
    Ok(api::ListItemsResponse {
        items: items.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

fn topic_filter(code: &str) -> Result<String, Vec<markaz_kit::error::FieldViolation>> {
    if code.is_empty() {
        return Ok(String::new());
    }
    Ok(parse_topics("topic_code", &[code.to_string()])?
        .pop()
        .unwrap_or_default())
}

fn language_filter(language: &str) -> Result<String, markaz_kit::error::FieldViolation> {
    if language.is_empty() {
        return Ok(String::new());
    }
    parse_language("language", language)
}

pub(crate) async fn update(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::UpdateItemRequest,
) -> Result<api::Item> {
    let sent = req.item.unwrap_or_default();
    let (id, mask) = (
        parse_id("item.id", &sent.id),
        update_mask(req.update_mask.as_ref(), ITEM_MASK),
    )
        .all()?;
    let contributor = partner_of(&caller)?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    store::items::lock(&mut tx, &id).await?;
    let current = own_item(&mut tx, &caller, &id).await?;
    if !may_edit(&reader(&caller), &current.access()) {
        return Err(Error::precondition(
            "ITEM_STATE",
            "item.state",
            "a contribution changes only while it is a draft or sent back for changes",
        ));
    }
    check_etag("item.etag", &sent.etag, current.version)?;
    let open = matches!(
        current.state,
        ItemState::Draft | ItemState::ChangesRequested
    );
    let no_mask = req.update_mask.as_ref().is_none_or(|m| m.paths.is_empty());
    // Once out, "every field" means every field that may still change.
    let mask = if !open && no_mask {
        PUBLISHED_MASK.to_vec()
    } else {
        mask
    };
    if !open {
        check_published_mask(&mask)?;
    }
    let mut merged = proto(&current);
    merge_item(&mut merged, &sent, &mask);
    // A contribution keeps its contributor, whoever edits it.
    let contributor = contributor.or_else(|| {
        current
            .contribution
            .then(|| current.contributor_organization_id.clone())
    });
    let fields = parse_item("item", &merged, contributor.as_deref(), Date::today())?;
    store::items::update(&mut tx, &current, &fields).await?;
    let item = own_item(&mut tx, &caller, &id).await?;
    if item.state == ItemState::Published {
        // Readers' copies (the impact service's catalogue) follow the edit.
        tx.publish(&item.id, &published_event(&item)).await?;
    }
    tx.commit().await?;
    Ok(proto(&item))
}

/// What `ResourcePublished` says of an item (its withdrawal included).
pub(crate) fn published_event(item: &Item) -> ev::ResourcePublished {
    ev::ResourcePublished {
        item_id: item.id.clone(),
        kind: item.kind.as_str_name().to_string(),
        title: Some(item.title.clone()),
        topic_codes: item.topic_codes.clone(),
        language: item.language.clone(),
        source_kind: item.source_kind.as_str_name().to_string(),
        source_organization_id: item.source_organization_id.clone(),
        contribution: item.contribution,
        visibility: item.visibility.as_str_name().to_string(),
        publication_year: item.publication_year as i32,
        first_published_at: item.first_published_at.map(timestamp),
        withdrawn: item.state == ItemState::Withdrawn,
        version: item.version,
    }
}

fn publication_date(stored: &str) -> Option<markaz_proto::common::v1::Date> {
    if stored.is_empty() {
        return None;
    }
    let mut parts = stored.split('-').map(|p| p.parse::<i32>().unwrap_or(0));
    Some(markaz_proto::common::v1::Date {
        year: parts.next().unwrap_or(0),
        month: parts.next().unwrap_or(0),
        day: parts.next().unwrap_or(0),
    })
}

pub(crate) fn proto(i: &Item) -> api::Item {
    api::Item {
        id: i.id.clone(),
        kind: i.kind as i32,
        title: Some(i.title.clone()),
        summary: Some(i.summary.clone()),
        authors: i.authors.clone(),
        topic_codes: i.topic_codes.clone(),
        language: i.language.clone(),
        source: Some(api::Source {
            kind: i.source_kind as i32,
            organization_id: i.source_organization_id.clone(),
            name: i.source_name.clone(),
        }),
        publication_date: publication_date(&i.publication_date),
        licence: i.licence as i32,
        licence_note: i.licence_note.clone(),
        visibility: i.visibility as i32,
        external_url: i.external_url.clone(),
        state: i.state as i32,
        tenant_id: i.tenant_id.clone(),
        contribution: i.contribution,
        state_note: i.state_note.clone(),
        file_count: i.file_count as i32,
        view_count: i.views,
        download_count: i.downloads,
        publish_time: i.published_at.map(timestamp),
        create_time: Some(timestamp(i.created_at)),
        update_time: Some(timestamp(i.updated_at)),
        etag: etag(i.version),
    }
}
