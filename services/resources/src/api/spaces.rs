//! Spaces, equipment, closures and availability. A tenant manages its own;
//! it sees (and books) the spaces other tenants share with the consortium.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{
    Idempotency, Page, check_etag, etag, new_id, parse_id, parse_optional_id, update_mask,
};
use markaz_kit::time::{Date, MaybeDate, timestamp};
use markaz_proto::resources::v1 as api;

use super::{ResourcesApi, enum_filter, optional_slug};
use crate::domain::bookings::{Span, free_intervals, parse_availability};
use crate::domain::spaces::{
    EQUIPMENT_MASK, EquipmentKind, SPACE_MASK, SpaceKind, merge_equipment, merge_space,
    parse_closure, parse_equipment, parse_space,
};
use crate::store;
use crate::store::spaces::{Closure, Equipment, EquipmentFilter, Space, SpaceFilter};

pub(crate) async fn create(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::CreateSpaceRequest,
) -> Result<api::Space> {
    let sent = req.space.clone().unwrap_or_default();
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_space("space", &sent),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let id = new_id();
    store::spaces::insert(&mut tx, &id, &fields).await?;
    let space = own_space(&mut tx, &id).await?;
    let reply = space_proto(&space);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

/// A space of the transaction's own tenant, or NOT_FOUND.
async fn own_space(tx: &mut markaz_kit::db::Tx, id: &str) -> Result<Space> {
    let tenant = tx.tenant().to_string();
    store::spaces::get(tx, id)
        .await?
        .filter(|s| s.tenant_id == tenant)
        .ok_or_else(|| Error::not_found("space", id))
}

pub(crate) async fn get(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetSpaceRequest,
) -> Result<api::Space> {
    let id = parse_id("id", &req.id)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let space = store::spaces::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("space", &id))?;
    Ok(space_proto(&space))
}

pub(crate) async fn list(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListSpacesRequest,
) -> Result<api::ListSpacesResponse> {
    let fingerprint = format!(
        "{}|{}|{}|{}",
        req.branch_id, req.kind, req.min_capacity, req.include_archived
    );
    let (page, branch_id, kind) = (
        Page::parse(req.page_size, &req.page_token, &fingerprint),
        optional_slug("branch_id", &req.branch_id),
        enum_filter::<SpaceKind>("kind", req.kind, SpaceKind::as_str_name),
    )
        .all()?;
    if req.min_capacity < 0 {
        return Err(Error::invalid("min_capacity", "not negative"));
    }
    let mut tx = resources.db.read(&caller.tenant).await?;
    let (mut spaces, total) = store::spaces::list(
        &mut tx,
        &SpaceFilter {
            branch_id,
            kind,
            min_capacity: i64::from(req.min_capacity),
            include_archived: req.include_archived,
        },
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut spaces, |s| s.id.clone());
    Ok(api::ListSpacesResponse {
        spaces: spaces.iter().map(space_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(crate) async fn update(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::UpdateSpaceRequest,
) -> Result<api::Space> {
    let sent = req.space.unwrap_or_default();
    let (id, mask) = (
        parse_id("space.id", &sent.id),
        update_mask(req.update_mask.as_ref(), SPACE_MASK),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    tx.lock("spaces", &id).await?;
    let current = own_space(&mut tx, &id).await?;
    check_etag("space.etag", &sent.etag, current.version)?;
    let mut merged = space_proto(&current);
    merge_space(&mut merged, &sent, &mask);
    let fields = parse_space("space", &merged)?;
    store::spaces::update(&mut tx, &current, &fields).await?;
    let space = own_space(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(space_proto(&space))
}

pub(crate) fn space_proto(s: &Space) -> api::Space {
    let f = &s.fields;
    api::Space {
        id: s.id.clone(),
        branch_id: f.branch_id.clone(),
        kind: f.kind as i32,
        name: Some(f.name.clone()),
        description: Some(f.description.clone()),
        capacity: f.capacity,
        opening_hours: f
            .opening_hours
            .iter()
            .map(|o| api::OpeningInterval {
                weekday: o.weekday as i32,
                opens_minute: o.opens,
                closes_minute: o.closes,
            })
            .collect(),
        utc_offset_minutes: f.utc_offset_minutes,
        bookable_by: f.bookable_by as i32,
        shared_with_consortium: f.shared_with_consortium,
        max_booking_minutes: f.max_booking_minutes,
        max_days_ahead: f.max_days_ahead,
        archived: f.archived,
        equipment_ids: s.equipment_ids.clone(),
        tenant_id: s.tenant_id.clone(),
        create_time: Some(timestamp(s.created_at)),
        update_time: Some(timestamp(s.updated_at)),
        etag: etag(s.version),
    }
}

// -------------------------------------------------------------- equipment

/// Equipment must name a space of its own tenant and branch, if any.
async fn check_fixed_space(
    tx: &mut markaz_kit::db::Tx,
    space_id: &str,
    branch_id: &str,
) -> Result<()> {
    if space_id.is_empty() {
        return Ok(());
    }
    let tenant = tx.tenant().to_string();
    match store::spaces::get(tx, space_id).await? {
        Some(s) if s.tenant_id == tenant && s.fields.branch_id == branch_id => Ok(()),
        Some(s) if s.tenant_id == tenant => Err(Error::invalid(
            "equipment.space_id",
            "a space of another branch",
        )),
        _ => Err(Error::invalid("equipment.space_id", "no such space")),
    }
}

pub(crate) async fn create_equipment(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::CreateEquipmentRequest,
) -> Result<api::Equipment> {
    let sent = req.equipment.clone().unwrap_or_default();
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_equipment("equipment", &sent),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    check_fixed_space(&mut tx, &fields.space_id, &fields.branch_id).await?;
    let id = new_id();
    store::spaces::insert_equipment(&mut tx, &id, &fields).await?;
    let equipment = store::spaces::get_equipment(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::internal("the equipment just created is gone"))?;
    let reply = equipment_proto(&equipment);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(crate) async fn get_equipment(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetEquipmentRequest,
) -> Result<api::Equipment> {
    let id = parse_id("id", &req.id)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let equipment = store::spaces::get_equipment(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("equipment", &id))?;
    Ok(equipment_proto(&equipment))
}

pub(crate) async fn list_equipment(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListEquipmentRequest,
) -> Result<api::ListEquipmentResponse> {
    let fingerprint = format!(
        "{}|{}|{}|{}",
        req.branch_id, req.space_id, req.kind, req.include_archived
    );
    let (page, branch_id, space_id, kind) = (
        Page::parse(req.page_size, &req.page_token, &fingerprint),
        optional_slug("branch_id", &req.branch_id),
        parse_optional_id("space_id", &req.space_id),
        enum_filter::<EquipmentKind>("kind", req.kind, EquipmentKind::as_str_name),
    )
        .all()?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let (mut equipment, total) = store::spaces::list_equipment(
        &mut tx,
        &EquipmentFilter {
            branch_id,
            space_id,
            kind,
            include_archived: req.include_archived,
        },
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut equipment, |e| e.id.clone());
    Ok(api::ListEquipmentResponse {
        equipment: equipment.iter().map(equipment_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(crate) async fn update_equipment(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::UpdateEquipmentRequest,
) -> Result<api::Equipment> {
    let sent = req.equipment.unwrap_or_default();
    let (id, mask) = (
        parse_id("equipment.id", &sent.id),
        update_mask(req.update_mask.as_ref(), EQUIPMENT_MASK),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    tx.lock("equipment", &id).await?;
    let current = store::spaces::get_equipment(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("equipment", &id))?;
    check_etag("equipment.etag", &sent.etag, current.version)?;
    let mut merged = equipment_proto(&current);
    merge_equipment(&mut merged, &sent, &mask);
    // The branch is not in the mask: equipment stays in its branch.
    merged.branch_id = current.fields.branch_id.clone();
    let fields = parse_equipment("equipment", &merged)?;
    check_fixed_space(&mut tx, &fields.space_id, &fields.branch_id).await?;
    store::spaces::update_equipment(&mut tx, &current, &fields).await?;
    let equipment = store::spaces::get_equipment(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::internal("the equipment just updated is gone"))?;
    tx.commit().await?;
    Ok(equipment_proto(&equipment))
}

pub(crate) fn equipment_proto(e: &Equipment) -> api::Equipment {
    api::Equipment {
        id: e.id.clone(),
        branch_id: e.fields.branch_id.clone(),
        kind: e.fields.kind as i32,
        name: Some(e.fields.name.clone()),
        space_id: e.fields.space_id.clone(),
        bookable: e.fields.bookable,
        archived: e.fields.archived,
        create_time: Some(timestamp(e.created_at)),
        update_time: Some(timestamp(e.updated_at)),
        etag: etag(e.version),
    }
}

// --------------------------------------------------------------- closures

pub(crate) async fn add_closure(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::AddClosureRequest,
) -> Result<api::AddClosureResponse> {
    let sent = req.closure.clone().unwrap_or_default();
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_closure("closure", &sent),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let mut offset = 180;
    if !fields.space_id.is_empty() {
        let space = own_space(&mut tx, &fields.space_id).await?;
        if space.fields.branch_id != fields.branch_id {
            return Err(Error::invalid(
                "closure.space_id",
                "a space of another branch",
            ));
        }
        offset = space.fields.utc_offset_minutes;
    }
    let id = new_id();
    store::spaces::insert_closure(&mut tx, &id, &fields, &caller.subject).await?;
    // Bookings of the closed days stay confirmed: the answer names them so
    // staff can tell the organizations. The days are local; a day either
    // side of the widest offsets is read, then each booking is placed in
    // its space's own calendar.
    let from = (fields.first_day.days() - 1) * 86_400_000_000;
    let until = (fields.last_day.days() + 2) * 86_400_000_000;
    let mut affected = Vec::new();
    for b in
        store::bookings::of_own_spaces(&mut tx, &fields.branch_id, &fields.space_id, from, until)
            .await?
    {
        if b.status != crate::domain::bookings::BookingStatus::Confirmed {
            continue;
        }
        let space_offset = if fields.space_id.is_empty() {
            store::spaces::get(&mut tx, &b.fields.space_id)
                .await?
                .map(|s| s.fields.utc_offset_minutes)
                .unwrap_or(offset)
        } else {
            offset
        };
        let local = |t: i64| {
            Date::from_days((t + i64::from(space_offset) * 60_000_000).div_euclid(86_400_000_000))
        };
        let (a, z) = (local(b.fields.span.start), local(b.fields.span.end - 1));
        if a <= fields.last_day && z >= fields.first_day {
            affected.push(b.id.clone());
        }
    }
    let closure = store::spaces::get_closure(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::internal("the closure just added is gone"))?;
    let reply = api::AddClosureResponse {
        closure: Some(closure_proto(&closure)),
        affected_booking_ids: affected,
    };
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(crate) async fn list_closures(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListClosuresRequest,
) -> Result<api::ListClosuresResponse> {
    let fingerprint = format!(
        "{}|{}|{:?}|{:?}",
        req.branch_id, req.space_id, req.from, req.until
    );
    let (page, branch_id, space_id, from, until) = (
        Page::parse(req.page_size, &req.page_token, &fingerprint),
        optional_slug("branch_id", &req.branch_id),
        parse_optional_id("space_id", &req.space_id),
        Date::optional("from", req.from.as_ref()),
        Date::optional("until", req.until.as_ref()),
    )
        .all()?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    // A shared space's closures are its owner's.
    let mut owner = caller.tenant.clone();
    let mut branch = branch_id;
    if !space_id.is_empty() {
        let space = store::spaces::get(&mut tx, &space_id)
            .await?
            .ok_or_else(|| Error::not_found("space", &space_id))?;
        owner = space.tenant_id.clone();
        branch = space.fields.branch_id.clone();
    }
    let (mut closures, total) = store::spaces::list_closures(
        &mut tx,
        &owner,
        &branch,
        &space_id,
        &MaybeDate::text(from),
        &MaybeDate::text(until),
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut closures, |c| c.id.clone());
    Ok(api::ListClosuresResponse {
        closures: closures.iter().map(closure_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(crate) async fn remove_closure(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::RemoveClosureRequest,
) -> Result<api::Closure> {
    let id = parse_id("id", &req.id)?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    let closure = store::spaces::get_closure(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("closure", &id))?;
    store::spaces::delete_closure(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(closure_proto(&closure))
}

pub(crate) fn closure_proto(c: &Closure) -> api::Closure {
    api::Closure {
        id: c.id.clone(),
        branch_id: c.fields.branch_id.clone(),
        space_id: c.fields.space_id.clone(),
        first_day: Some(c.fields.first_day.to_proto()),
        last_day: Some(c.fields.last_day.to_proto()),
        reason: Some(c.fields.reason.clone()),
        create_time: Some(timestamp(c.created_at)),
    }
}

// ----------------------------------------------------------- availability

pub(crate) async fn availability(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetSpaceAvailabilityRequest,
) -> Result<api::SpaceAvailability> {
    let (space_id, period) = parse_availability(&req)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let space = store::spaces::get(&mut tx, &space_id)
        .await?
        .ok_or_else(|| Error::not_found("space", &space_id))?;
    let schedule = store::spaces::schedule(&mut tx, &space).await?;
    // Intervals touching at a local midnight (a space open around the
    // clock) are one stretch of time to someone booking.
    let mut open: Vec<(i64, i64)> = Vec::new();
    for (a, b) in schedule.open_intervals(period.start, period.end) {
        match open.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => open.push((a, b)),
        }
    }
    let busy = store::bookings::busy(&mut tx, &space.id, period.start, period.end).await?;
    // Closed: the days a closure covers, clipped to the period.
    let mut closed = Vec::new();
    for (first, last) in &schedule.closures {
        let start = schedule.instant(*first, 0).max(period.start);
        let end = schedule.instant(last.add_days(1), 0).min(period.end);
        if start < end {
            closed.push(Span { start, end });
        }
    }
    closed.sort();
    let interval = |s: &Span| api::Interval {
        start_time: Some(timestamp(s.start)),
        end_time: Some(timestamp(s.end)),
    };
    Ok(api::SpaceAvailability {
        space_id: space.id.clone(),
        free: free_intervals(&open, &busy).iter().map(interval).collect(),
        busy: busy
            .iter()
            .map(|s| Span {
                start: s.start.max(period.start),
                end: s.end.min(period.end),
            })
            .map(|s| interval(&s))
            .collect(),
        closed: closed.iter().map(interval).collect(),
    })
}
