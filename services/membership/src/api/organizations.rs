//! Organizations and their incubation life cycle.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id, update_mask};
use markaz_kit::time::timestamp;
use markaz_kit::validate;
use markaz_proto::common::v1::{IncubationStatus, OrganizationKind};
use markaz_proto::events::v1 as ev;
use markaz_proto::membership::v1 as api;

use super::{MembershipApi, check_branch, visible_organization};
use crate::domain;
use crate::store::{self, OrganizationRow};

pub(super) async fn create(
    api: &MembershipApi,
    caller: Caller,
    req: api::CreateOrganizationRequest,
) -> Result<api::Organization> {
    let empty = api::Organization::default();
    let sent = req.organization.as_ref().unwrap_or(&empty);
    let (idempotency, fields, identifier) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::parse_organization("organization", sent),
        if sent.identifier.is_empty() {
            Ok(None)
        } else {
            domain::parse_identifier("organization.identifier", &sent.identifier).map(Some)
        },
    )
        .all()?;
    // Taken before the registration's transaction (on SQLite, the one
    // writer connection): a retry that replays wastes one, a gap like a
    // restart's.
    let number = match identifier {
        Some(_) => None,
        None => Some(api.next_organization_number(&caller.tenant).await?),
    };
    let mut tx = api.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let tenant = api.require_tenant(&mut tx).await?;
    check_branch(&mut tx, "organization.branch_id", &fields.branch_id).await?;
    let identifier = match identifier {
        Some(i) => {
            domain::within_prefix("organization.identifier", &tenant.spec.identifier_prefix, i)?
        }
        None => domain::generated_identifier(
            &tenant.spec.identifier_prefix,
            number.expect("taken above"),
        ),
    };
    let status = domain::initial_status(req.apply_for_incubation);
    let id = new_id();
    let row = store::insert_organization(&mut tx, &id, &identifier, &fields, status).await?;
    if status != IncubationStatus::None {
        store::record_incubation_change(
            &mut tx,
            &id,
            IncubationStatus::None,
            status,
            "registered as an applicant",
            &caller.subject,
            row.created_at,
        )
        .await?;
    }
    tx.publish(
        &id,
        &ev::OrganizationRegistered {
            organization: Some(snapshot(&row)),
        },
    )
    .await?;
    let reply = proto(&row);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(super) async fn get(
    api: &MembershipApi,
    caller: Caller,
    req: api::GetOrganizationRequest,
) -> Result<api::Organization> {
    let id = parse_id("id", &req.id)?;
    let mut tx = api.db.read(&caller.tenant).await?;
    let row = visible_organization(&mut tx, &caller, &id).await?;
    Ok(proto(&row))
}

pub(super) async fn list(
    api: &MembershipApi,
    caller: Caller,
    req: api::ListOrganizationsRequest,
) -> Result<api::ListOrganizationsResponse> {
    let (kind, status, query, _branch, page) = (
        validate::enumeration::<OrganizationKind>("kind", req.kind, false),
        validate::enumeration::<IncubationStatus>(
            "incubation_status",
            req.incubation_status,
            false,
        ),
        validate::line("query", &req.query, 100, false),
        if req.branch_id.is_empty() {
            Ok(String::new())
        } else {
            validate::slug("branch_id", &req.branch_id, 40)
        },
        Page::parse(
            req.page_size,
            &req.page_token,
            &format!(
                "{}|{}|{}|{}",
                req.kind, req.branch_id, req.incubation_status, req.query
            ),
        ),
    )
        .all()?;
    let Some(only_id) = caller.organization_filter("") else {
        return Ok(api::ListOrganizationsResponse::default());
    };
    let filter = store::OrganizationFilter {
        only_id,
        kind: kind
            .map(|k| k.as_str_name().to_string())
            .unwrap_or_default(),
        branch_id: req.branch_id.clone(),
        incubation_status: status
            .map(|s| s.as_str_name().to_string())
            .unwrap_or_default(),
        text: query,
    };
    let mut tx = api.db.read(&caller.tenant).await?;
    let (mut rows, total) =
        store::list_organizations(&mut tx, &filter, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListOrganizationsResponse {
        organizations: rows.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(super) async fn update(
    api: &MembershipApi,
    caller: Caller,
    req: api::UpdateOrganizationRequest,
) -> Result<api::Organization> {
    let empty = api::Organization::default();
    let sent = req.organization.as_ref().unwrap_or(&empty);
    let (id, mask) = (
        parse_id("organization.id", &sent.id),
        update_mask(req.update_mask.as_ref(), domain::ORGANIZATION_MASK),
    )
        .all()?;
    let mut tx = api.db.write(&caller.tenant).await?;
    tx.lock("organizations", &id).await?;
    let current = visible_organization(&mut tx, &caller, &id).await?;
    check_etag("organization.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current);
    domain::merge_organization(&mut merged, sent, &mask);
    let fields = domain::parse_organization("organization", &merged)?;
    if fields.branch_id != current.fields.branch_id {
        check_branch(&mut tx, "organization.branch_id", &fields.branch_id).await?;
    }
    let row = store::update_organization(&mut tx, &current, &fields).await?;
    tx.publish(
        &id,
        &ev::OrganizationUpdated {
            organization: Some(snapshot(&row)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&row))
}

pub(super) async fn change_incubation_status(
    api: &MembershipApi,
    caller: Caller,
    req: api::ChangeIncubationStatusRequest,
) -> Result<api::Organization> {
    let (id, to, reason) = (
        parse_id("organization_id", &req.organization_id),
        validate::required_enum::<IncubationStatus>("status", req.status),
        validate::prose("reason", &req.reason, domain::PROSE_MAX, false),
    )
        .all()?;
    let mut tx = api.db.write(&caller.tenant).await?;
    tx.lock("organizations", &id).await?;
    let current = visible_organization(&mut tx, &caller, &id).await?;
    check_etag("etag", &req.etag, current.version)?;
    domain::check_transition(current.incubation_status, to, &reason)?;
    let row =
        store::change_incubation_status(&mut tx, &current, to, &reason, &caller.subject).await?;
    tx.publish(
        &id,
        &ev::IncubationStatusChanged {
            organization_id: id.clone(),
            from: current.incubation_status as i32,
            to: to as i32,
            reason,
            changed_at: Some(timestamp(row.updated_at)),
            version: row.version,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&row))
}

pub(super) async fn list_incubation_history(
    api: &MembershipApi,
    caller: Caller,
    req: api::ListIncubationHistoryRequest,
) -> Result<api::ListIncubationHistoryResponse> {
    let id = parse_id("organization_id", &req.organization_id)?;
    let page = Page::parse(req.page_size, &req.page_token, &id)?;
    let mut tx = api.db.read(&caller.tenant).await?;
    visible_organization(&mut tx, &caller, &id).await?;
    let (mut rows, total) =
        store::list_incubation_changes(&mut tx, &id, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListIncubationHistoryResponse {
        changes: rows
            .iter()
            .map(|c| api::IncubationStatusChange {
                from: c.from as i32,
                to: c.to as i32,
                reason: c.reason.clone(),
                changed_by: c.changed_by.clone(),
                change_time: Some(timestamp(c.changed_at)),
            })
            .collect(),
        next_page_token,
        total_size: total.size,
    })
}

fn proto(r: &OrganizationRow) -> api::Organization {
    let f = &r.fields;
    api::Organization {
        id: r.id.clone(),
        identifier: r.identifier.clone(),
        kind: f.kind as i32,
        name: Some(f.name.clone()),
        acronym: f.acronym.clone(),
        governorate: f.governorate.clone(),
        branch_id: f.branch_id.clone(),
        sectors: f.sectors.iter().map(|s| *s as i32).collect(),
        description: Some(f.description.clone()),
        email: f.email.clone(),
        phone: f.phone.clone(),
        incubation_status: r.incubation_status as i32,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}

fn snapshot(r: &OrganizationRow) -> ev::OrganizationSnapshot {
    let f = &r.fields;
    ev::OrganizationSnapshot {
        id: r.id.clone(),
        identifier: r.identifier.clone(),
        kind: f.kind as i32,
        name: Some(f.name.clone()),
        governorate: f.governorate.clone(),
        branch_id: f.branch_id.clone(),
        sectors: f.sectors.iter().map(|s| *s as i32).collect(),
        incubation_status: r.incubation_status as i32,
        version: r.version,
    }
}
