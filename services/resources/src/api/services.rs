//! Services the space gives organizations — internet, printing, legal
//! support, publications — recorded per organization so the center can
//! show what it provided. A record made in error is voided, not deleted.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, new_id, parse_id, parse_optional_id};
use markaz_kit::time::{Date, MaybeDate, timestamp};
use markaz_proto::events::v1 as ev;
use markaz_proto::resources::v1 as api;

use super::{ResourcesApi, enum_filter, optional_slug};
use crate::domain::services::{
    ServiceFact, SpaceServiceKind, check_void, parse_service, totals, unit_of,
};
use crate::store;
use crate::store::services::{Service, ServiceFilter};

pub(crate) async fn record(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::RecordSpaceServiceRequest,
) -> Result<api::SpaceService> {
    let sent = req.service.clone().unwrap_or_default();
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_service("service", &sent, Date::today()),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    if !fields.booking_id.is_empty() {
        let viewer = store::bookings::Viewer::staff();
        let booking = store::bookings::get(&mut tx, &viewer, &fields.booking_id)
            .await?
            .ok_or_else(|| Error::invalid("service.booking_id", "no such booking"))?;
        if booking.fields.organization_id != fields.organization_id {
            return Err(Error::invalid(
                "service.booking_id",
                "a booking of another organization",
            ));
        }
    }
    let id = new_id();
    store::services::insert(&mut tx, &id, &fields, &caller.subject).await?;
    let service = store::services::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::internal("the service just recorded is gone"))?;
    tx.publish(&id, &event(&service)).await?;
    let reply = proto(&service);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

/// A record the caller may see: staff every one of the tenant, a partner
/// its own organization's.
async fn visible(tx: &mut markaz_kit::db::Tx, caller: &Caller, id: &str) -> Result<Service> {
    store::services::get(tx, id)
        .await?
        .filter(|s| caller.may_see_organization(&s.fields.organization_id))
        .ok_or_else(|| Error::not_found("space service", id))
}

pub(crate) async fn get(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetSpaceServiceRequest,
) -> Result<api::SpaceService> {
    let id = parse_id("id", &req.id)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    Ok(proto(&visible(&mut tx, &caller, &id).await?))
}

pub(crate) async fn list(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListSpaceServicesRequest,
) -> Result<api::ListSpaceServicesResponse> {
    let fingerprint = format!(
        "{}|{}|{}|{:?}|{:?}|{}",
        req.organization_id, req.branch_id, req.kind, req.from, req.until, req.include_voided
    );
    let (page, organization_id, branch_id, kind, from, until) = (
        Page::parse(req.page_size, &req.page_token, &fingerprint),
        parse_optional_id("organization_id", &req.organization_id),
        optional_slug("branch_id", &req.branch_id),
        enum_filter::<SpaceServiceKind>("kind", req.kind, SpaceServiceKind::as_str_name),
        Date::optional("from", req.from.as_ref()),
        Date::optional("until", req.until.as_ref()),
    )
        .all()?;
    let Some(organization_id) = caller.organization_filter(&organization_id) else {
        return Ok(api::ListSpaceServicesResponse::default());
    };
    let mut tx = resources.db.read(&caller.tenant).await?;
    let (mut services, total) = store::services::list(
        &mut tx,
        &ServiceFilter {
            organization_id,
            branch_id,
            kind,
            from: MaybeDate::text(from),
            until: MaybeDate::text(until),
            include_voided: req.include_voided,
        },
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut services, |s| s.id.clone());
    Ok(api::ListSpaceServicesResponse {
        services: services.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(crate) async fn void(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::VoidSpaceServiceRequest,
) -> Result<api::SpaceService> {
    let id = parse_id("id", &req.id)?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    tx.lock("space_services", &id).await?;
    let current = visible(&mut tx, &caller, &id).await?;
    let reason = check_void(current.voided, &req.reason)?;
    store::services::void(&mut tx, &current, &reason).await?;
    let service = visible(&mut tx, &caller, &id).await?;
    tx.publish(&id, &event(&service)).await?;
    tx.commit().await?;
    Ok(proto(&service))
}

pub(crate) async fn report(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetSpaceServiceReportRequest,
) -> Result<api::SpaceServiceReport> {
    let (from, until, branch_id) = (
        Date::required("from", req.from.as_ref()),
        Date::required("until", req.until.as_ref()),
        optional_slug("branch_id", &req.branch_id),
    )
        .all()?;
    if until < from {
        return Err(Error::invalid("until", "before from"));
    }
    let mut tx = resources.db.read(&caller.tenant).await?;
    let records =
        store::services::of_period(&mut tx, &branch_id, &from.to_string(), &until.to_string())
            .await?;
    let facts: Vec<ServiceFact> = records
        .iter()
        .map(|s| ServiceFact {
            organization_id: s.fields.organization_id.clone(),
            kind: s.fields.kind,
            quantity: s.fields.quantity,
            voided: s.voided,
        })
        .collect();
    let t = totals(&facts);
    let kind_of = |k: i32| SpaceServiceKind::try_from(k).unwrap_or(SpaceServiceKind::Other);
    Ok(api::SpaceServiceReport {
        from: Some(from.to_proto()),
        until: Some(until.to_proto()),
        branch_id,
        by_organization: t
            .by_organization
            .iter()
            .map(|((org, kind), total)| api::ServiceTotal {
                organization_id: org.clone(),
                kind: *kind,
                quantity: total.quantity,
                unit: unit_of(kind_of(*kind)).to_string(),
                records: total.records as i32,
            })
            .collect(),
        totals: t
            .by_kind
            .iter()
            .map(|(kind, total)| api::ServiceTotal {
                organization_id: String::new(),
                kind: *kind,
                quantity: total.quantity,
                unit: unit_of(kind_of(*kind)).to_string(),
                records: total.records as i32,
            })
            .collect(),
        organizations_served: t.organizations_served as i32,
    })
}

fn event(s: &Service) -> ev::SpaceServiceProvided {
    ev::SpaceServiceProvided {
        service_id: s.id.clone(),
        organization_id: s.fields.organization_id.clone(),
        branch_id: s.fields.branch_id.clone(),
        kind: s.fields.kind.as_str_name().to_string(),
        quantity: s.fields.quantity,
        unit: s.unit.clone(),
        provided_on: Some(s.fields.provided_on.to_proto()),
        booking_id: s.fields.booking_id.clone(),
        voided: s.voided,
        version: s.version,
    }
}

pub(crate) fn proto(s: &Service) -> api::SpaceService {
    api::SpaceService {
        id: s.id.clone(),
        organization_id: s.fields.organization_id.clone(),
        branch_id: s.fields.branch_id.clone(),
        kind: s.fields.kind as i32,
        quantity: s.fields.quantity,
        unit: s.unit.clone(),
        provided_on: Some(s.fields.provided_on.to_proto()),
        booking_id: s.fields.booking_id.clone(),
        notes: s.fields.notes.clone(),
        voided: s.voided,
        void_reason: s.void_reason.clone(),
        recorded_by: s.recorded_by.clone(),
        create_time: Some(timestamp(s.created_at)),
    }
}
