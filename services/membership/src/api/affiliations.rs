//! Affiliations: who belongs to which organization, from when to when.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, new_id, parse_id, parse_optional_id};
use markaz_kit::time::{Date, timestamp};
use markaz_proto::events::v1 as ev;
use markaz_proto::membership::v1 as api;

use super::MembershipApi;
use crate::domain;
use crate::store::{self, AffiliationRow};

pub(super) async fn create(
    api: &MembershipApi,
    caller: Caller,
    req: api::CreateAffiliationRequest,
) -> Result<api::Affiliation> {
    let (idempotency, spec) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::parse_affiliation(req.affiliation.as_ref()),
    )
        .all()?;
    let mut tx = api.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    // Affiliations of one person queue here, so two at once cannot both
    // find none and both be created.
    tx.lock("people", &spec.person_id).await?;
    let person = store::get_person(&mut tx, &spec.person_id)
        .await?
        .ok_or_else(|| Error::not_found("person", &spec.person_id))?;
    if person.erased {
        return Err(Error::precondition(
            "PERSON_ERASED",
            format!("people/{}", spec.person_id),
            "an erased person cannot be affiliated",
        ));
    }
    store::get_organization(&mut tx, &spec.organization_id)
        .await?
        .ok_or_else(|| Error::not_found("organization", &spec.organization_id))?;
    if store::is_affiliated(&mut tx, &spec.person_id, &spec.organization_id).await? {
        return Err(Error::AlreadyExists(
            "the person is already affiliated with this organization".into(),
        ));
    }
    let id = new_id();
    let row = store::insert_affiliation(&mut tx, &id, &spec).await?;
    tx.publish(
        &id,
        &ev::PersonAffiliated {
            affiliation_id: id.clone(),
            person_id: spec.person_id.clone(),
            organization_id: spec.organization_id.clone(),
            role: spec.role.clone(),
        },
    )
    .await?;
    let reply = proto(&row);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(super) async fn list(
    api: &MembershipApi,
    caller: Caller,
    req: api::ListAffiliationsRequest,
) -> Result<api::ListAffiliationsResponse> {
    let (organization_id, person_id, page) = (
        parse_optional_id("organization_id", &req.organization_id),
        parse_optional_id("person_id", &req.person_id),
        Page::parse(
            req.page_size,
            &req.page_token,
            &format!(
                "{}|{}|{}",
                req.organization_id, req.person_id, req.include_ended
            ),
        ),
    )
        .all()?;
    let Some(organization_id) = caller.organization_filter(&organization_id) else {
        return Ok(api::ListAffiliationsResponse::default());
    };
    let mut tx = api.db.read(&caller.tenant).await?;
    let (mut rows, total) = store::list_affiliations(
        &mut tx,
        &organization_id,
        &person_id,
        req.include_ended,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListAffiliationsResponse {
        affiliations: rows.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(super) async fn end(
    api: &MembershipApi,
    caller: Caller,
    req: api::EndAffiliationRequest,
) -> Result<api::Affiliation> {
    let (id, end) = (
        parse_id("id", &req.id),
        Date::optional("end_date", req.end_date.as_ref()),
    )
        .all()?;
    let end = end.unwrap_or_else(Date::today);
    let mut tx = api.db.write(&caller.tenant).await?;
    let current = store::get_affiliation(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("affiliation", &id))?;
    if current.end_date.is_some() {
        return Err(Error::precondition(
            "AFFILIATION_ENDED",
            format!("affiliations/{id}"),
            "the affiliation has ended already",
        ));
    }
    if current.spec.start_date.is_some_and(|start| end < start) {
        return Err(Error::invalid("end_date", "before the affiliation started"));
    }
    let row = store::end_affiliation(&mut tx, &current, end).await?;
    tx.publish(
        &id,
        &ev::AffiliationEnded {
            affiliation_id: id.clone(),
            person_id: row.spec.person_id.clone(),
            organization_id: row.spec.organization_id.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&row))
}

fn proto(r: &AffiliationRow) -> api::Affiliation {
    api::Affiliation {
        id: r.id.clone(),
        person_id: r.spec.person_id.clone(),
        organization_id: r.spec.organization_id.clone(),
        role: r.spec.role.clone(),
        start_date: r.spec.start_date.map(Date::to_proto),
        end_date: r.end_date.map(Date::to_proto),
        create_time: Some(timestamp(r.created_at)),
    }
}
