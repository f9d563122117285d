//! Requests for a consultation: anyone may send one to a center it knows,
//! within strict size and rate limits of their own (a flood of requests
//! does not close the suggestion form, nor the other way round); staff
//! triage them, as they do suggestions ([`super::suggestions`]).

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Anonymous, Page, check_etag, etag, new_id, parse_id};
use markaz_kit::time::timestamp;
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::ConsultationRequestStatus;
use prost::Message;

use super::{CapacityApi, enum_filter};
use crate::domain::consultation_requests::{
    ConsultationRequest, REQUEST_BYTES_MAX, REQUEST_TEXT_MAX, check_triage, parse_request,
};
use crate::domain::{optional_id, required};
use crate::limits;
use crate::store;
use crate::store::consultation_requests::Triage;

pub(crate) async fn request(
    capacity: &CapacityApi,
    anonymous: Anonymous,
    req: api::RequestConsultationRequest,
) -> Result<api::RequestConsultationResponse> {
    if req.encoded_len() > REQUEST_BYTES_MAX {
        return Err(Error::invalid(
            "request",
            format!("at most {} KiB in all", REQUEST_BYTES_MAX / 1024),
        ));
    }
    let (tenant, fields) = (
        validate::slug("tenant_id", &req.tenant_id, 40),
        parse_request(req.request.as_ref()),
    )
        .all()?;
    let mut tx = capacity
        .open_public_form(&limits::CONSULTATION_REQUESTS, &anonymous, &tenant)
        .await?;
    super::topics::check_codes(&mut tx, "request.topic_codes", &fields.topic_codes, &[]).await?;
    capacity.count_for_center(&limits::CONSULTATION_REQUESTS, &anonymous, &tenant)?;
    let request = store::consultation_requests::insert(&mut tx, &new_id(), &fields).await?;
    tx.commit().await?;
    capacity.seeded(&tenant);
    tracing::info!(tenant = %tenant, request = %request.id, "consultation requested");
    Ok(api::RequestConsultationResponse {
        id: request.id,
        create_time: Some(timestamp(request.created_at)),
    })
}

pub(crate) async fn list(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListConsultationRequestsRequest,
) -> Result<api::ListConsultationRequestsResponse> {
    let status = enum_filter("status", req.status, ConsultationRequestStatus::as_str_name)?;
    let page = Page::parse(req.page_size, &req.page_token, &status)?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let (mut requests, total) =
        store::consultation_requests::list(&mut tx, &status, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut requests, |r| r.id.clone());
    Ok(api::ListConsultationRequestsResponse {
        requests: requests.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(crate) async fn triage(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::TriageConsultationRequestRequest,
) -> Result<api::ConsultationRequest> {
    let status = required::<ConsultationRequestStatus>("status", req.status);
    // A consultation is linked to an accepted request only.
    let declined = matches!(status, Ok(ConsultationRequestStatus::Declined));
    let (id, status, note, consultation_id) = (
        parse_id("id", &req.id),
        status,
        validate::prose("note", &req.note, REQUEST_TEXT_MAX, false),
        if declined && !req.consultation_id.is_empty() {
            Err(markaz_kit::error::FieldViolation::new(
                "consultation_id",
                "only with ACCEPTED",
            ))
        } else {
            optional_id("consultation_id", &req.consultation_id)
        },
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    let current = store::consultation_requests::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("consultation request", &id))?;
    check_etag("etag", &req.etag, current.version)?;
    let linking = !consultation_id.is_empty() && current.consultation_id.is_empty();
    check_triage(current.status, status, linking)?;
    if !consultation_id.is_empty()
        && store::consultations::get(&mut tx, &consultation_id)
            .await?
            .is_none()
    {
        return Err(Error::invalid(
            "consultation_id",
            format!("no consultation '{consultation_id}' in this tenant"),
        ));
    }
    // Accepting again without an id keeps the consultation linked already;
    // declining unlinks it.
    let linked = match status {
        ConsultationRequestStatus::Accepted if consultation_id.is_empty() => {
            current.consultation_id.clone()
        }
        ConsultationRequestStatus::Accepted => consultation_id,
        _ => String::new(),
    };
    let request = store::consultation_requests::triage(
        &mut tx,
        &current,
        &Triage {
            status,
            note: &note,
            by: &caller.subject,
            consultation_id: &linked,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&request))
}

fn proto(r: &ConsultationRequest) -> api::ConsultationRequest {
    api::ConsultationRequest {
        id: r.id.clone(),
        requester_name: r.fields.requester_name.clone(),
        contact: r.fields.contact.clone(),
        organization_name: r.fields.organization_name.clone(),
        kind: r.fields.kind as i32,
        topic_codes: r.fields.topic_codes.clone(),
        description: r.fields.description.clone(),
        status: r.status as i32,
        triage_note: r.triage_note.clone(),
        triaged_by: r.triaged_by.clone(),
        consultation_id: r.consultation_id.clone(),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}
