//! Training suggestions: anyone may send one to a center it knows, within
//! strict size and rate limits; staff triage them.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Anonymous, Page, check_etag, etag, new_id, parse_id};
use markaz_kit::time::timestamp;
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::SuggestionStatus;
use prost::Message;

use super::{CapacityApi, enum_filter};
use crate::domain::required;
use crate::domain::suggestions::{
    SUGGESTION_BYTES_MAX, SUGGESTION_TEXT_MAX, Suggestion, check_triage, parse_suggestion,
};
use crate::limits;
use crate::store;
use crate::store::suggestions::Triage;

pub(crate) async fn suggest(
    capacity: &CapacityApi,
    anonymous: Anonymous,
    req: api::SuggestTrainingRequest,
) -> Result<api::SuggestTrainingResponse> {
    if req.encoded_len() > SUGGESTION_BYTES_MAX {
        return Err(Error::invalid(
            "suggestion",
            format!("at most {} KiB in all", SUGGESTION_BYTES_MAX / 1024),
        ));
    }
    let (tenant, fields) = (
        validate::slug("tenant_id", &req.tenant_id, 40),
        parse_suggestion(req.suggestion.as_ref()),
    )
        .all()?;
    let mut tx = capacity
        .open_public_form(&limits::SUGGESTIONS, &anonymous, &tenant)
        .await?;
    super::topics::check_codes(&mut tx, "suggestion.topic_codes", &fields.topic_codes, &[]).await?;
    capacity.count_for_center(&limits::SUGGESTIONS, &anonymous, &tenant)?;
    let suggestion = store::suggestions::insert(&mut tx, &new_id(), &fields).await?;
    tx.commit().await?;
    capacity.seeded(&tenant);
    tracing::info!(tenant = %tenant, suggestion = %suggestion.id, "training suggested");
    Ok(api::SuggestTrainingResponse {
        id: suggestion.id,
        create_time: Some(timestamp(suggestion.created_at)),
    })
}

pub(crate) async fn list(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListTrainingSuggestionsRequest,
) -> Result<api::ListTrainingSuggestionsResponse> {
    let status = enum_filter("status", req.status, SuggestionStatus::as_str_name)?;
    let page = Page::parse(req.page_size, &req.page_token, &status)?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let (mut suggestions, total) =
        store::suggestions::list(&mut tx, &status, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut suggestions, |s| s.id.clone());
    Ok(api::ListTrainingSuggestionsResponse {
        suggestions: suggestions.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(crate) async fn triage(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::TriageTrainingSuggestionRequest,
) -> Result<api::TrainingSuggestion> {
    let status = required::<SuggestionStatus>("status", req.status);
    let scheduled = matches!(status, Ok(SuggestionStatus::Scheduled));
    let (id, status, note, course_id) = (
        parse_id("id", &req.id),
        status,
        validate::prose("note", &req.note, SUGGESTION_TEXT_MAX, false),
        if scheduled {
            parse_id("course_id", &req.course_id)
        } else {
            Ok(String::new())
        },
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    let current = store::suggestions::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("suggestion", &id))?;
    check_etag("etag", &req.etag, current.version)?;
    check_triage(current.status, status)?;
    if !course_id.is_empty() && store::courses::get(&mut tx, &course_id).await?.is_none() {
        return Err(Error::invalid(
            "course_id",
            format!("no course '{course_id}' in this tenant"),
        ));
    }
    let suggestion = store::suggestions::triage(
        &mut tx,
        &current,
        &Triage {
            status,
            note: &note,
            by: &caller.subject,
            course_id: &course_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&suggestion))
}

fn proto(s: &Suggestion) -> api::TrainingSuggestion {
    api::TrainingSuggestion {
        id: s.id.clone(),
        title: s.fields.title.clone(),
        description: s.fields.description.clone(),
        topic_codes: s.fields.topic_codes.clone(),
        suggested_by: s.fields.suggested_by.clone(),
        contact: s.fields.contact.clone(),
        status: s.status as i32,
        triage_note: s.triage_note.clone(),
        triaged_by: s.triaged_by.clone(),
        course_id: s.course_id.clone(),
        create_time: Some(timestamp(s.created_at)),
        update_time: Some(timestamp(s.updated_at)),
        etag: etag(s.version),
    }
}
