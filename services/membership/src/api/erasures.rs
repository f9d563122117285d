//! Erasure receipts: what a data-protection officer shows to prove an
//! erasure complete, or to find the service that is behind.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Page, parse_id, parse_optional_id};
use markaz_kit::time::timestamp;
use markaz_proto::membership::v1 as api;

use super::MembershipApi;
use crate::domain::ERASURE_CONFIRMERS;
use crate::store::{self, ErasureRow};

pub(super) async fn get(
    api: &MembershipApi,
    caller: Caller,
    req: api::GetErasureRequest,
) -> Result<api::Erasure> {
    let id = parse_id("id", &req.id)?;
    let mut tx = api.db.read(&caller.tenant).await?;
    let row = store::get_erasure(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("erasure", &id))?;
    Ok(proto(&row))
}

pub(super) async fn list(
    api: &MembershipApi,
    caller: Caller,
    req: api::ListErasuresRequest,
) -> Result<api::ListErasuresResponse> {
    let (person_id, page) = (
        parse_optional_id("person_id", &req.person_id),
        Page::parse(
            req.page_size,
            &req.page_token,
            &format!("{}|{}", req.person_id, req.pending_only),
        ),
    )
        .all()?;
    let mut tx = api.db.read(&caller.tenant).await?;
    let (mut rows, total) = store::list_erasures(
        &mut tx,
        &person_id,
        req.pending_only,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListErasuresResponse {
        erasures: rows.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

fn proto(r: &ErasureRow) -> api::Erasure {
    let confirmed = |s: &str| r.confirmations.iter().any(|c| c.service == s);
    api::Erasure {
        id: r.id.clone(),
        person_id: r.person_id.clone(),
        requested_by: r.requested_by.clone(),
        legal_ground: api::ErasureGround::from_str_name(&r.legal_ground).unwrap_or_default() as i32,
        reason: r.reason.clone(),
        request_time: Some(timestamp(r.requested_at)),
        complete_time: r.completed_at.map(timestamp),
        complete: r.completed_at.is_some(),
        confirmations: r
            .confirmations
            .iter()
            .map(|c| api::ErasureConfirmation {
                service: c.service.clone(),
                confirm_time: Some(timestamp(c.confirmed_at)),
                counts: c.counts().into_iter().collect(),
            })
            .collect(),
        pending_services: ERASURE_CONFIRMERS
            .iter()
            .filter(|s| !confirmed(s))
            .map(|s| s.to_string())
            .collect(),
    }
}
