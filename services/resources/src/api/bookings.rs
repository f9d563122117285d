//! Bookings of spaces (and portable equipment), single or recurring, their
//! life cycle, and the space usage report.
//!
//! The database is the overlap guard: a booking's slots are inserted and
//! the exclusion constraint (PostgreSQL) or the trigger (SQLite) refuses an
//! overlapping one — whoever's it is, whichever tenant made it. The caller
//! then gets FAILED_PRECONDITION BOOKING_CONFLICT with the times it asked
//! for, never the other booking's owner.

use std::collections::BTreeMap;

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{
    Idempotency, Page, check_etag, etag, new_id, parse_id, parse_optional_id, update_mask,
};
use markaz_kit::time::{Date, micros_of, now_micros, timestamp};
use markaz_proto::events::v1 as ev;
use markaz_proto::resources::v1 as api;

use super::{ResourcesApi, enum_filter, optional_slug, partner_of};
use crate::domain::bookings::{
    Action, BOOKING_MASK, BookingFact, BookingFields, BookingStatus, RESCHEDULING_PATHS,
    RecurrenceRule, SeriesEnd, SpaceRules, Span, check_against_space, check_reschedule, conflict,
    decide, expand, is_late_cancellation, merge_booking, organizations_served, parse_attendance,
    parse_booking, parse_cancel_reason, parse_recurrence, usage,
};
use crate::domain::items::{Month, parse_usage_period};
use crate::domain::spaces::{MICROS_PER_MINUTE, Weekday};
use crate::store;
use crate::store::bookings::{Booking, BookingFilter, NewBooking, Series, Viewer};
use crate::store::spaces::Space;

/// Whom the caller sees bookings of: staff the tenant's (and those of its
/// spaces), a partner its organization's, a trainer the ones it made.
fn viewer(caller: &Caller) -> Result<Viewer> {
    if caller.is_staff() {
        return Ok(Viewer::staff());
    }
    Ok(match partner_of(caller)? {
        Some(org) => Viewer::partner(&org),
        None => Viewer::booker(&caller.subject),
    })
}

/// The space a booking names: the tenant's own or a shared one.
async fn bookable_space(tx: &mut Tx, id: &str) -> Result<Space> {
    store::spaces::get(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("space", id))
}

async fn rules_of(tx: &mut Tx, space: &Space) -> Result<SpaceRules> {
    Ok(SpaceRules {
        capacity: space.fields.capacity,
        bookable_by: space.fields.bookable_by,
        max_booking_minutes: space.fields.max_booking_minutes,
        max_days_ahead: space.fields.max_days_ahead,
        archived: space.fields.archived,
        schedule: store::spaces::schedule(tx, space).await?,
    })
}

/// Portable equipment asked for with a booking: of the space's tenant and
/// branch, bookable, not archived.
async fn check_equipment(tx: &mut Tx, space: &Space, ids: &[String]) -> Result<()> {
    let found = store::spaces::equipment_of(tx, &space.tenant_id, ids).await?;
    let mut v = markaz_kit::error::Violations::new();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("booking.equipment_ids[{i}]");
        match found.iter().find(|e| &e.id == id) {
            None => v.add(field, "no such equipment"),
            Some(e) if e.fields.branch_id != space.fields.branch_id => {
                v.add(field, "equipment of another branch")
            }
            Some(e) if !e.fields.bookable || !e.fields.space_id.is_empty() => v.add(
                field,
                "not bookable on its own (fixed equipment comes with its space)",
            ),
            Some(e) if e.fields.archived => v.add(field, "archived"),
            Some(_) => {}
        }
    }
    v.finish()
}

/// Checks a booking against its space and books it: the guard's refusal is
/// BOOKING_CONFLICT. Returns the booking's id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn book(
    tx: &mut Tx,
    space: &Space,
    rules: &SpaceRules,
    fields: &BookingFields,
    by_partner: bool,
    series_id: &str,
    course_id: &str,
    booked_by: &str,
) -> Result<String> {
    check_against_space(fields, rules, by_partner, now_micros())?;
    let id = new_id();
    let held = store::bookings::insert(
        tx,
        &NewBooking {
            id: &id,
            space_tenant_id: &space.tenant_id,
            series_id,
            course_id,
            booked_by,
        },
        fields,
    )
    .await?;
    if !held {
        return Err(conflict(&[fields.span]));
    }
    Ok(id)
}

/// The booking `id` as the caller sees it, or NOT_FOUND.
async fn visible(tx: &mut Tx, caller: &Caller, id: &str) -> Result<Booking> {
    store::bookings::get(tx, &viewer(caller)?, id)
        .await?
        .ok_or_else(|| Error::not_found("booking", id))
}

pub(crate) async fn create(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::CreateBookingRequest,
) -> Result<api::Booking> {
    let sent = req.booking.clone().unwrap_or_default();
    let partner = partner_of(&caller)?;
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_booking("booking", &sent, partner.as_deref()),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let space = bookable_space(&mut tx, &fields.space_id).await?;
    check_equipment(&mut tx, &space, &fields.equipment_ids).await?;
    let rules = rules_of(&mut tx, &space).await?;
    let booked = book(
        &mut tx,
        &space,
        &rules,
        &fields,
        partner.is_some(),
        "",
        "",
        &caller.subject,
    )
    .await;
    let id = match booked {
        Ok(id) => id,
        Err(e) => {
            // Given back at once: on PostgreSQL the refused insert aborted
            // the transaction, on SQLite it holds the write lock.
            tx.rollback().await?;
            return Err(e);
        }
    };
    let booking = visible(&mut tx, &caller, &id).await?;
    tx.publish(&id, &confirmed_event(&booking, &space)).await?;
    let reply = proto(&booking);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(crate) async fn get(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetBookingRequest,
) -> Result<api::Booking> {
    let id = parse_id("id", &req.id)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    Ok(proto(&visible(&mut tx, &caller, &id).await?))
}

pub(crate) async fn list(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::ListBookingsRequest,
) -> Result<api::ListBookingsResponse> {
    let fingerprint = format!(
        "{}|{}|{}|{}|{:?}|{:?}|{}",
        req.space_id,
        req.organization_id,
        req.branch_id,
        req.status,
        req.from,
        req.until,
        req.series_id
    );
    let (page, space_id, organization_id, branch_id, status, series_id) = (
        Page::parse(req.page_size, &req.page_token, &fingerprint),
        parse_optional_id("space_id", &req.space_id),
        parse_optional_id("organization_id", &req.organization_id),
        optional_slug("branch_id", &req.branch_id),
        enum_filter::<BookingStatus>("status", req.status, BookingStatus::as_str_name),
        parse_optional_id("series_id", &req.series_id),
    )
        .all()?;
    let after = if page.after.is_empty() {
        None
    } else {
        let (start, id) = page
            .after
            .split_once(':')
            .and_then(|(s, id)| s.parse::<i64>().ok().map(|s| (s, id.to_string())))
            .ok_or_else(|| Error::invalid("page_token", "not a token from this list"))?;
        Some((start, id))
    };
    let viewer = viewer(&caller)?;
    // A partner is held to its own organization.
    let organization_id = match caller.organization_filter(&organization_id) {
        Some(org) => org,
        None => {
            return Ok(api::ListBookingsResponse::default());
        }
    };
    let mut tx = resources.db.read(&caller.tenant).await?;
    let (mut bookings, total) = store::bookings::list(
        &mut tx,
        &viewer,
        &BookingFilter {
            space_id,
            organization_id,
            branch_id,
            status,
            from: req.from.as_ref().map(micros_of),
            until: req.until.as_ref().map(micros_of),
            series_id,
        },
        after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut bookings, |b| {
        format!("{}:{}", b.fields.span.start, b.id)
    });
    Ok(api::ListBookingsResponse {
        bookings: bookings.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(crate) async fn update(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::UpdateBookingRequest,
) -> Result<api::Booking> {
    let sent = req.booking.unwrap_or_default();
    let (id, mask) = (
        parse_id("booking.id", &sent.id),
        update_mask(req.update_mask.as_ref(), BOOKING_MASK),
    )
        .all()?;
    let partner = partner_of(&caller)?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    tx.lock("bookings", &id).await?;
    let current = visible(&mut tx, &caller, &id).await?;
    if current.tenant_id != caller.tenant {
        // The space's owner sees it, but the booking is its maker's.
        return Err(Error::permission_denied(
            "a booking is changed by the tenant that made it",
        ));
    }
    check_etag("booking.etag", &sent.etag, current.version)?;
    let now = now_micros();
    decide(current.status, Action::Edit, current.fields.span, now)?;
    check_reschedule(&mask, current.fields.span, now)?;
    let mut merged = proto(&current);
    merge_booking(&mut merged, &sent, &mask);
    let fields = parse_booking("booking", &merged, partner.as_deref())?;
    let reslot = mask.iter().any(|p| RESCHEDULING_PATHS.contains(p))
        && (fields.span != current.fields.span
            || fields.equipment_ids != current.fields.equipment_ids);
    let space = bookable_space(&mut tx, &fields.space_id).await?;
    if reslot {
        check_equipment(&mut tx, &space, &fields.equipment_ids).await?;
        let rules = rules_of(&mut tx, &space).await?;
        check_against_space(&fields, &rules, partner.is_some(), now)?;
    } else if fields.expected_attendance > space.fields.capacity {
        return Err(Error::precondition(
            "OVER_CAPACITY",
            "booking",
            format!("the space holds {} people", space.fields.capacity),
        ));
    }
    if !store::bookings::update(&mut tx, &current, &fields, reslot).await? {
        return Err(conflict(&[fields.span]));
    }
    let booking = visible(&mut tx, &caller, &id).await?;
    if reslot {
        tx.publish(&id, &confirmed_event(&booking, &space)).await?;
    }
    tx.commit().await?;
    Ok(proto(&booking))
}

pub(crate) async fn cancel(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::CancelBookingRequest,
) -> Result<api::Booking> {
    let (id, reason) = (parse_id("id", &req.id), parse_cancel_reason(&req.reason)).all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    let current = visible(&mut tx, &caller, &id).await?;
    check_etag("etag", &req.etag, current.version)?;
    let booking = cancel_one(&mut tx, &caller.subject, &current, &reason).await?;
    tx.commit().await?;
    Ok(proto(&booking))
}

/// Cancels one booking (its slots go with it) and publishes it.
pub(crate) async fn cancel_one(
    tx: &mut Tx,
    by: &str,
    current: &Booking,
    reason: &str,
) -> Result<Booking> {
    let now = now_micros();
    decide(current.status, Action::Cancel, current.fields.span, now)?;
    store::bookings::set_status(tx, current, BookingStatus::Cancelled, 0, reason).await?;
    let space = store::spaces::get(tx, &current.fields.space_id).await?;
    tx.publish(
        &current.id,
        &ev::BookingCancelled {
            booking_id: current.id.clone(),
            series_id: current.series_id.clone(),
            space_id: current.fields.space_id.clone(),
            space_tenant_id: current.space_tenant_id.clone(),
            branch_id: space.map(|s| s.fields.branch_id).unwrap_or_default(),
            organization_id: current.fields.organization_id.clone(),
            start_time: Some(timestamp(current.fields.span.start)),
            end_time: Some(timestamp(current.fields.span.end)),
            late: is_late_cancellation(current.fields.span, now),
            cancelled_by: by.to_string(),
            course_id: current.course_id.clone(),
            version: current.version + 1,
        },
    )
    .await?;
    Ok(Booking {
        status: BookingStatus::Cancelled,
        cancel_reason: reason.to_string(),
        version: current.version + 1,
        ..current.clone()
    })
}

/// Check-in and no-show: staff of the space's tenant.
async fn at_the_door(
    resources: &ResourcesApi,
    caller: &Caller,
    id: &str,
    etag: &str,
    action: Action,
    attendance: i32,
) -> Result<api::Booking> {
    let mut tx = resources.db.write(&caller.tenant).await?;
    let current = visible(&mut tx, caller, id).await?;
    if current.space_tenant_id != caller.tenant {
        return Err(Error::permission_denied(
            "check-in and no-shows are recorded by the staff of the space",
        ));
    }
    check_etag("etag", etag, current.version)?;
    let space = bookable_space(&mut tx, &current.fields.space_id).await?;
    let counted = match action {
        Action::CheckIn => {
            parse_attendance("actual_attendance", attendance, space.fields.capacity)?
        }
        _ => 0,
    };
    let to = decide(current.status, action, current.fields.span, now_micros())?;
    store::bookings::set_status(&mut tx, &current, to, i64::from(counted), "").await?;
    let booking = visible(&mut tx, caller, id).await?;
    tx.publish(id, &confirmed_event(&booking, &space)).await?;
    tx.commit().await?;
    Ok(proto(&booking))
}

pub(crate) async fn check_in(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::CheckInBookingRequest,
) -> Result<api::Booking> {
    let id = parse_id("id", &req.id)?;
    at_the_door(
        resources,
        &caller,
        &id,
        &req.etag,
        Action::CheckIn,
        req.actual_attendance,
    )
    .await
}

pub(crate) async fn no_show(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::MarkBookingNoShowRequest,
) -> Result<api::Booking> {
    let id = parse_id("id", &req.id)?;
    at_the_door(resources, &caller, &id, &req.etag, Action::MarkNoShow, 0).await
}

// ----------------------------------------------------------------- series

pub(crate) async fn create_series(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::CreateBookingSeriesRequest,
) -> Result<api::BookingSeries> {
    let sent = req.series.clone().unwrap_or_default();
    let empty = api::Booking::default();
    let partner = partner_of(&caller)?;
    let (idempotency, template, rule) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_booking(
            "series.template",
            sent.template.as_ref().unwrap_or(&empty),
            partner.as_deref(),
        ),
        parse_recurrence("series.recurrence", sent.recurrence.as_ref()),
    )
        .all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let space = bookable_space(&mut tx, &template.space_id).await?;
    check_equipment(&mut tx, &space, &template.equipment_ids).await?;
    let rules = rules_of(&mut tx, &space).await?;
    let spans = expand(template.span, &rule, &rules.schedule)?;
    let now = now_micros();
    for span in &spans {
        check_against_space(
            &BookingFields {
                span: *span,
                ..template.clone()
            },
            &rules,
            partner.is_some(),
            now,
        )
        .map_err(|e| on_date(e, *span, &rules))?;
    }
    // Every occurrence or none: the dates that clash are named (the slots
    // say when, never whose). The inserts below stay the guard.
    let resources_held: Vec<String> = std::iter::once(template.space_id.clone())
        .chain(template.equipment_ids.iter().cloned())
        .collect();
    let clashes = store::bookings::clashing(&mut tx, &resources_held, &spans).await?;
    if !clashes.is_empty() {
        return Err(conflict(&clashes));
    }
    let id = new_id();
    store::bookings::insert_series(&mut tx, &series_row(&id, &template, &rule, &caller.subject))
        .await?;
    for span in &spans {
        let fields = BookingFields {
            span: *span,
            ..template.clone()
        };
        let booking_id = new_id();
        let held = store::bookings::insert(
            &mut tx,
            &NewBooking {
                id: &booking_id,
                space_tenant_id: &space.tenant_id,
                series_id: &id,
                course_id: "",
                booked_by: &caller.subject,
            },
            &fields,
        )
        .await?;
        if !held {
            return Err(conflict(&[*span]));
        }
    }
    let series = series_reply(&mut tx, &caller, &id).await?;
    for b in &series.bookings {
        if let Some(booking) = store::bookings::get(&mut tx, &viewer(&caller)?, &b.id).await? {
            tx.publish(&booking.id, &confirmed_event(&booking, &space))
                .await?;
        }
    }
    idempotency.commit(tx, &id, &series).await?;
    Ok(series)
}

/// A refusal of one occurrence, saying which.
fn on_date(e: Error, span: Span, rules: &SpaceRules) -> Error {
    match e {
        Error::FailedPrecondition {
            kind,
            subject,
            description,
        } => Error::FailedPrecondition {
            kind,
            subject,
            description: format!(
                "the occurrence of {}: {description}",
                rules.schedule.local(span.start).date
            ),
        },
        other => other,
    }
}

fn series_row(id: &str, template: &BookingFields, rule: &RecurrenceRule, by: &str) -> Series {
    let (count, until) = match rule.end {
        SeriesEnd::Count(n) => (n as i64, String::new()),
        SeriesEnd::Until(d) => (0, d.to_string()),
    };
    Series {
        id: id.to_string(),
        space_id: template.space_id.clone(),
        frequency: rule.frequency.as_str_name().to_string(),
        interval_count: i64::from(rule.interval),
        weekdays: rule
            .weekdays
            .iter()
            .map(|w| (*w as i32).to_string())
            .collect::<Vec<_>>()
            .join(","),
        occurrence_count: count,
        until_day: until,
        skip_closed_days: i64::from(rule.skip_closed_days),
        created_by: by.to_string(),
        created_at: now_micros(),
    }
}

/// The series `id` with its occurrences, as the caller sees them.
async fn series_reply(tx: &mut Tx, caller: &Caller, id: &str) -> Result<api::BookingSeries> {
    let series = store::bookings::get_series(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("booking series", id))?;
    let (bookings, _) = store::bookings::list(
        tx,
        &viewer(caller)?,
        &BookingFilter {
            series_id: id.to_string(),
            ..Default::default()
        },
        None,
        1_000,
    )
    .await?;
    let Some(first) = bookings.first() else {
        // A partner's series of another organization: nothing it may see.
        return Err(Error::not_found("booking series", id));
    };
    let template = api::Booking {
        id: String::new(),
        status: 0,
        ..proto(first)
    };
    Ok(api::BookingSeries {
        id: series.id.clone(),
        template: Some(template),
        recurrence: Some(api::Recurrence {
            frequency: api::Frequency::from_str_name(&series.frequency)
                .map(|f| f as i32)
                .unwrap_or(0),
            interval: series.interval_count as i32,
            weekdays: series
                .weekdays
                .split(',')
                .filter_map(|w| w.parse::<i32>().ok())
                .filter(|w| Weekday::try_from(*w).is_ok())
                .collect(),
            count: series.occurrence_count as i32,
            until: Date::parse(&series.until_day).map(|d| d.to_proto()),
            skip_closed_days: series.skip_closed_days != 0,
        }),
        bookings: bookings.iter().map(proto).collect(),
        create_time: Some(timestamp(series.created_at)),
    })
}

pub(crate) async fn get_series(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetBookingSeriesRequest,
) -> Result<api::BookingSeries> {
    let id = parse_id("id", &req.id)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    series_reply(&mut tx, &caller, &id).await
}

pub(crate) async fn cancel_series(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::CancelBookingSeriesRequest,
) -> Result<api::BookingSeries> {
    let (id, reason) = (parse_id("id", &req.id), parse_cancel_reason(&req.reason)).all()?;
    let mut tx = resources.db.write(&caller.tenant).await?;
    let series = series_reply(&mut tx, &caller, &id).await?;
    let now = now_micros();
    let viewer = viewer(&caller)?;
    for b in &series.bookings {
        let Some(current) = store::bookings::get(&mut tx, &viewer, &b.id).await? else {
            continue;
        };
        // Occurrences that have not started yet; the past stays as it was.
        if current.status == BookingStatus::Confirmed && current.fields.span.start > now {
            cancel_one(&mut tx, &caller.subject, &current, &reason).await?;
        }
    }
    let series = series_reply(&mut tx, &caller, &id).await?;
    tx.commit().await?;
    Ok(series)
}

// ------------------------------------------------------------------ usage

pub(crate) async fn usage_report(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetSpaceUsageReportRequest,
) -> Result<api::SpaceUsageReport> {
    let (months, branch_id, space_id) = (
        parse_usage_period(req.from.as_ref(), req.until.as_ref(), now_micros()),
        optional_slug("branch_id", &req.branch_id),
        parse_optional_id("space_id", &req.space_id),
    )
        .all()?;
    let (Some(first), Some(last)) = (months.first().copied(), months.last().copied()) else {
        return Err(Error::internal("a usage period without months"));
    };
    let day = 86_400_000_000i64;
    let month_start = |m: Month| {
        Date::new(m.year, m.month, 1)
            .map(|d| d.days() * day)
            .unwrap_or(0)
    };
    // A day either side: months are read in each space's local time.
    let from = month_start(first) - day;
    let until = month_start(last.next()) + day;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let bookings =
        store::bookings::of_own_spaces(&mut tx, &branch_id, &space_id, from, until).await?;
    let mut spaces: BTreeMap<String, Space> = BTreeMap::new();
    for b in &bookings {
        if !spaces.contains_key(&b.fields.space_id)
            && let Some(s) = store::spaces::get(&mut tx, &b.fields.space_id).await?
        {
            spaces.insert(s.id.clone(), s);
        }
    }
    if !space_id.is_empty() && !spaces.contains_key(&space_id) {
        match store::spaces::get(&mut tx, &space_id).await? {
            Some(s) if s.tenant_id == caller.tenant => {
                spaces.insert(s.id.clone(), s);
            }
            _ => return Err(Error::not_found("space", &space_id)),
        }
    }
    let in_period = |m: &Month| *m >= first && *m <= last;
    let offset_of = |id: &str| {
        spaces
            .get(id)
            .map(|s| s.fields.utc_offset_minutes)
            .unwrap_or(0)
    };
    let facts: Vec<BookingFact> = bookings
        .iter()
        .filter(|b| {
            let local =
                b.fields.span.start + i64::from(offset_of(&b.fields.space_id)) * MICROS_PER_MINUTE;
            in_period(&Month::of_micros(local))
        })
        .map(|b| BookingFact {
            organization_id: b.fields.organization_id.clone(),
            status: b.status,
            span: b.fields.span,
            utc_offset_minutes: offset_of(&b.fields.space_id),
            actual_attendance: b.actual_attendance as i32,
        })
        .collect();
    let by_organization = usage(&facts)
        .into_iter()
        .map(|((org, month), u)| api::OrganizationMonthUsage {
            organization_id: org,
            month: Some(month.to_proto()),
            bookings: u.bookings as i32,
            checked_in: u.checked_in as i32,
            no_shows: u.no_shows as i32,
            cancelled: u.cancelled as i32,
            minutes_booked: u.minutes_booked,
            minutes_used: u.minutes_used,
            attendance: u.attendance,
        })
        .collect();
    let mut occupancy = Vec::new();
    for space in spaces.values().filter(|s| s.tenant_id == caller.tenant) {
        let schedule = store::spaces::schedule(&mut tx, space).await?;
        let offset = i64::from(space.fields.utc_offset_minutes) * MICROS_PER_MINUTE;
        for m in &months {
            let (a, z) = (month_start(*m) - offset, month_start(m.next()) - offset);
            let open: i64 = schedule
                .open_intervals(a, z)
                .iter()
                .map(|(s, e)| (e - s) / MICROS_PER_MINUTE)
                .sum();
            let booked: i64 = bookings
                .iter()
                .filter(|b| {
                    b.fields.space_id == space.id
                        && b.status != BookingStatus::Cancelled
                        && b.fields.span.start >= a
                        && b.fields.span.start < z
                })
                .map(|b| b.fields.span.minutes())
                .sum();
            occupancy.push(api::SpaceMonthOccupancy {
                space_id: space.id.clone(),
                month: Some(m.to_proto()),
                minutes_open: open,
                minutes_booked: booked,
            });
        }
    }
    Ok(api::SpaceUsageReport {
        from: Some(first.to_proto()),
        until: Some(last.to_proto()),
        by_organization,
        occupancy,
        organizations_served: organizations_served(&facts) as i32,
    })
}

// ---------------------------------------------------------------- mapping

pub(crate) fn confirmed_event(b: &Booking, space: &Space) -> ev::BookingConfirmed {
    ev::BookingConfirmed {
        booking_id: b.id.clone(),
        series_id: b.series_id.clone(),
        space_id: b.fields.space_id.clone(),
        space_tenant_id: b.space_tenant_id.clone(),
        branch_id: space.fields.branch_id.clone(),
        space_kind: space.fields.kind.as_str_name().to_string(),
        organization_id: b.fields.organization_id.clone(),
        purpose: b.fields.purpose.as_str_name().to_string(),
        start_time: Some(timestamp(b.fields.span.start)),
        end_time: Some(timestamp(b.fields.span.end)),
        expected_attendance: b.fields.expected_attendance,
        status: b.status.as_str_name().to_string(),
        actual_attendance: b.actual_attendance as i32,
        course_id: b.course_id.clone(),
        equipment_ids: b.fields.equipment_ids.clone(),
        version: b.version,
    }
}

pub(crate) fn proto(b: &Booking) -> api::Booking {
    api::Booking {
        id: b.id.clone(),
        space_id: b.fields.space_id.clone(),
        equipment_ids: b.fields.equipment_ids.clone(),
        organization_id: b.fields.organization_id.clone(),
        purpose: b.fields.purpose as i32,
        purpose_note: b.fields.purpose_note.clone(),
        expected_attendance: b.fields.expected_attendance,
        start_time: Some(timestamp(b.fields.span.start)),
        end_time: Some(timestamp(b.fields.span.end)),
        notes: b.fields.notes.clone(),
        status: b.status as i32,
        series_id: b.series_id.clone(),
        course_id: b.course_id.clone(),
        actual_attendance: b.actual_attendance as i32,
        cancel_reason: b.cancel_reason.clone(),
        booked_by: b.booked_by.clone(),
        tenant_id: b.tenant_id.clone(),
        space_tenant_id: b.space_tenant_id.clone(),
        create_time: Some(timestamp(b.created_at)),
        update_time: Some(timestamp(b.updated_at)),
        etag: etag(b.version),
    }
}
