//! The topic catalogue: every tenant's starts with the built-in topics,
//! written on first use; staff add and change their own.

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result, Violations};
use markaz_kit::rpc::{Page, check_etag, etag, update_mask};
use markaz_kit::time::{now_micros, timestamp};
use markaz_proto::capacity::v1 as api;

use super::CapacityApi;
use crate::domain::topics::{TOPIC_MASK, Topic, built_in, merge_topic, parse_code, parse_topic};
use crate::store;

pub(crate) async fn create(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::CreateTopicRequest,
) -> Result<api::Topic> {
    let sent = req.topic.unwrap_or_default();
    let (code, fields) = (
        parse_code("topic.code", &sent.code),
        parse_topic("topic", &sent),
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    // First the built-in topics, so that their codes are taken.
    capacity.seed_in(&mut tx).await?;
    let topic = store::topics::insert(&mut tx, &code, &fields).await?;
    tx.commit().await?;
    capacity.seeded(&caller.tenant);
    Ok(proto(&topic))
}

pub(crate) async fn get(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::GetTopicRequest,
) -> Result<api::Topic> {
    let code = parse_code("code", &req.code)?;
    capacity.seed(&caller.tenant).await?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let topic = store::topics::get(&mut tx, &code)
        .await?
        .ok_or_else(|| Error::not_found("topic", &code))?;
    Ok(proto(&topic))
}

pub(crate) async fn list(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListTopicsRequest,
) -> Result<api::ListTopicsResponse> {
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &req.include_archived.to_string(),
    )?;
    capacity.seed(&caller.tenant).await?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let (mut topics, total) =
        store::topics::list(&mut tx, req.include_archived, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut topics, |t| t.code.clone());
    Ok(api::ListTopicsResponse {
        topics: topics.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(crate) async fn update(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::UpdateTopicRequest,
) -> Result<api::Topic> {
    let sent = req.topic.unwrap_or_default();
    let code = parse_code("topic.code", &sent.code)?;
    let mask = update_mask(req.update_mask.as_ref(), TOPIC_MASK)?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    // A built-in topic of a catalogue not seeded yet is as the seed will
    // write it; nothing is written before the merged topic is valid.
    let (current, unseeded) = match store::topics::get(&mut tx, &code).await? {
        Some(topic) => (topic, false),
        None => (
            built_in(&code)
                .ok_or_else(|| Error::not_found("topic", &code))?
                .topic(now_micros()),
            true,
        ),
    };
    check_etag("topic.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current);
    merge_topic(&mut merged, &sent, &mask);
    let fields = parse_topic("topic", &merged)?;
    capacity.seed_in(&mut tx).await?;
    let mut topic = store::topics::update(&mut tx, &current, &fields).await?;
    if unseeded {
        topic = store::topics::get(&mut tx, &code)
            .await?
            .ok_or_else(|| Error::internal("the topic just seeded is gone"))?;
    }
    tx.commit().await?;
    capacity.seeded(&caller.tenant);
    Ok(proto(&topic))
}

/// Every code must be in the catalogue, and not archived unless it was
/// there before (`kept`).
pub(crate) async fn check_codes(
    tx: &mut Tx,
    field: &str,
    codes: &[String],
    kept: &[String],
) -> Result<()> {
    let catalogue = store::topics::catalogue(tx).await?;
    let mut v = Violations::new();
    for (i, code) in codes.iter().enumerate() {
        match catalogue.get(code) {
            None => v.add(
                format!("{field}[{i}]"),
                format!("no topic '{code}' in the catalogue"),
            ),
            Some(t) if t.fields.archived && !kept.contains(code) => v.add(
                format!("{field}[{i}]"),
                format!("the topic '{code}' is archived"),
            ),
            Some(_) => {}
        }
    }
    v.finish()
}

pub(crate) fn proto(t: &Topic) -> api::Topic {
    api::Topic {
        code: t.code.clone(),
        name: Some(t.fields.name.clone()),
        description: Some(t.fields.description.clone()),
        capacity_domains: t.fields.domains.iter().map(|d| *d as i32).collect(),
        built_in: t.built_in,
        archived: t.fields.archived,
        create_time: Some(timestamp(t.created_at)),
        update_time: Some(timestamp(t.updated_at)),
        etag: etag(t.version),
    }
}
