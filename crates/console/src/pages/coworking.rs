//! Co-working: the room calendar of a branch — a week of each space, its
//! bookings and the hours it is taken or closed — and booking a space.
//!
//! The calendar is what the service lets the reader see: staff every
//! booking; a partner its own organization's by name and the others only as
//! "taken" (from the space's availability, which names nobody).

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_kit::auth::Role;
use markaz_kit::time::Date;
use markaz_proto::resources::v1 as res;
use minijinja::{Value, context};

use super::{
    Choice, branch_choices, choices, date_value, enum_name, enum_names, enum_value, is_staff,
    organization_choices, parse_date, parse_int,
};
use crate::AppState;
use crate::render::Outcome::{Again, Done};
use crate::render::{Answer, Ctx, Fail, Form};

/// Who books: staff, trainers (for their courses), partners (for their
/// organization) — the service's own rule.
pub const COWORKING: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/coworking", get(calendar))
        .route("/coworking/bookings", post(book))
        .route("/coworking/bookings/{id}/cancel", post(cancel))
        .route("/coworking/spaces/new", get(new_space).post(create_space))
}

// ------------------------------------------------------------ a new space

/// The weekdays a form offers, Saturday first (the week of the center).
const WEEKDAYS: [res::Weekday; 7] = [
    res::Weekday::Saturday,
    res::Weekday::Sunday,
    res::Weekday::Monday,
    res::Weekday::Tuesday,
    res::Weekday::Wednesday,
    res::Weekday::Thursday,
    res::Weekday::Friday,
];

async fn new_space(ctx: Ctx) -> Answer {
    ctx.require(super::STAFF)?;
    let mut form = Form::new()
        .with("space.utc_offset_minutes", "180")
        .with("space.opens", "08:00")
        .with("space.closes", "16:00")
        .with("space.bookable_by", "BOOKABLE_BY_PARTNERS");
    for day in &WEEKDAYS[..6] {
        form = form.with(&format!("day.{}", day.as_str_name()), "on");
    }
    if !ctx.q("branch").is_empty() {
        form = form.with("space.branch_id", ctx.q("branch"));
    }
    space_form(&ctx, form).await
}

async fn space_form(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    ctx.render_form(
        "space_form.html",
        form,
        context! {
            branches => branch_choices(ctx).await?,
            kinds => choices(lang, enum_names!(res::SpaceKind)),
            bookable => choices(lang, enum_names!(res::BookableBy)),
            weekdays => choices(lang, WEEKDAYS.iter().map(|d| d.as_str_name())),
        },
    )
}

/// `HH:MM` as minutes since midnight (24:00 allowed, a day's end).
fn minute_of_day(hm: &str) -> Option<i32> {
    let (h, m) = hm.trim().split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let minute = h * 60 + m;
    ((0..60).contains(&m) && (0..=24 * 60).contains(&minute)).then_some(minute)
}

async fn create_space(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(super::STAFF)?;
    let lang = ctx.lang;
    // The same hours on every day ticked: the usual week; a lunch break or
    // other days' hours are set over gRPC (UpdateSpace) for now.
    let opens = minute_of_day(f.get("space.opens"));
    let closes = minute_of_day(f.get("space.closes"));
    if opens.is_none() {
        form.object("space.opens", lang.label("form_bad_hour"));
    }
    if closes.is_none() {
        form.object("space.closes", lang.label("form_bad_hour"));
    }
    let capacity = parse_int(&mut form, lang, "space.capacity", f.get("space.capacity"));
    let offset = parse_int(
        &mut form,
        lang,
        "space.utc_offset_minutes",
        f.get("space.utc_offset_minutes"),
    );
    if form.has_errors() {
        return space_form(&ctx, form).await;
    }
    let opening_hours = WEEKDAYS
        .iter()
        .filter(|d| f.checked(&format!("day.{}", d.as_str_name())))
        .map(|d| res::OpeningInterval {
            weekday: *d as i32,
            opens_minute: opens.unwrap_or_default(),
            closes_minute: closes.unwrap_or_default(),
        })
        .collect();
    let branch = f.get("space.branch_id").to_string();
    let answer = ctx
        .resources()
        .create_space(res::CreateSpaceRequest {
            space: Some(res::Space {
                branch_id: branch.clone(),
                kind: enum_value!(res::SpaceKind, f.get("space.kind")),
                name: super::form_text(f, "space.name"),
                description: super::form_text(f, "space.description"),
                capacity: capacity.unwrap_or_default() as i32,
                opening_hours,
                utc_offset_minutes: offset.unwrap_or(180) as i32,
                bookable_by: enum_value!(res::BookableBy, f.get("space.bookable_by")),
                shared_with_consortium: f.checked("space.shared_with_consortium"),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    match form.outcome(answer)? {
        Done(_) => ctx.redirect(&format!("/coworking?branch={branch}&done=space_created")),
        Again => space_form(&ctx, form).await,
    }
}

const DAYS: i64 = 7;

/// `HH:MM` on `day` at `offset` minutes from UTC.
fn at(day: Date, hm: &str, offset: i32) -> Option<prost_types::Timestamp> {
    let (h, m) = hm.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=24).contains(&h) && (0..60).contains(&m)).then(|| prost_types::Timestamp {
        seconds: day.days() * 86_400 + h * 3600 + m * 60 - i64::from(offset) * 60,
        nanos: 0,
    })
}

/// The local day and `HH:MM` of a timestamp.
fn local(ts: Option<&prost_types::Timestamp>, offset: i32) -> (i64, String) {
    let s = ts.map_or(0, |t| t.seconds) + i64::from(offset) * 60;
    let secs = s.rem_euclid(86_400);
    (
        s.div_euclid(86_400),
        format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60),
    )
}

fn space_offset(spaces: &[res::Space], id: &str) -> i32 {
    spaces
        .iter()
        .find(|s| s.id == id)
        .map_or(180, |s| s.utc_offset_minutes)
}

async fn spaces_of(ctx: &Ctx, branch: &str) -> Result<Vec<res::Space>, Fail> {
    Ok(ctx
        .resources()
        .list_spaces(res::ListSpacesRequest {
            page_size: 100,
            branch_id: branch.to_string(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .spaces)
}

async fn calendar(ctx: Ctx) -> Answer {
    ctx.require(COWORKING)?;
    calendar_page(&ctx, Form::new()).await
}

async fn calendar_page(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let mut filters = ctx.filters(&["branch", "week"]);
    let week = match ctx.q("week") {
        "" => Date::today(),
        v => Date::parse(v).unwrap_or_else(|| {
            filters.object("week", lang.label("form_bad_date"));
            Date::today()
        }),
    };
    let branches = branch_choices(ctx).await?;
    let branch = match ctx.q("branch") {
        "" => branches
            .first()
            .map(|b| b.value.clone())
            .unwrap_or_default(),
        b => b.to_string(),
    };
    filters = filters
        .with("branch", branch.clone())
        .with("week", date_value(Some(&week.to_proto())));
    let spaces = if branch.is_empty() {
        Vec::new()
    } else {
        spaces_of(ctx, &branch).await?
    };
    // The week in UTC, a day wider on each side: every space's local days.
    let from = prost_types::Timestamp {
        seconds: (week.days() - 1) * 86_400,
        nanos: 0,
    };
    let until = prost_types::Timestamp {
        seconds: (week.days() + DAYS + 1) * 86_400,
        nanos: 0,
    };
    let bookings = if branch.is_empty() {
        Vec::new()
    } else {
        ctx.resources()
            .list_bookings(res::ListBookingsRequest {
                page_size: 500,
                branch_id: branch.clone(),
                from: Some(from),
                until: Some(until),
                organization_id: ctx.partner_org().unwrap_or_default(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .bookings
    };
    let organizations = if is_staff(ctx) {
        organization_choices(ctx).await?
    } else {
        Vec::new()
    };
    let org_name = |id: &str| {
        organizations
            .iter()
            .find(|o| o.value == id)
            .map(|o| o.label.clone())
            .unwrap_or_default()
    };
    let days: Vec<Date> = (0..DAYS).map(|i| week.add_days(i)).collect();
    let mut rows = Vec::new();
    for space in &spaces {
        let offset = space.utc_offset_minutes;
        let availability = ctx
            .resources()
            .get_space_availability(res::GetSpaceAvailabilityRequest {
                space_id: space.id.clone(),
                from: Some(from),
                until: Some(until),
            })
            .await?
            .into_inner();
        let mine: Vec<&res::Booking> = bookings
            .iter()
            .filter(|b| b.space_id == space.id && b.status != res::BookingStatus::Cancelled as i32)
            .collect();
        let cells: Vec<Value> = days
            .iter()
            .map(|day| {
                let mut entries: Vec<(String, Value)> = Vec::new();
                for b in &mine {
                    let (d, start) = local(b.start_time.as_ref(), offset);
                    if d != day.days() {
                        continue;
                    }
                    let (_, end) = local(b.end_time.as_ref(), offset);
                    entries.push((
                        start.clone(),
                        context! {
                            what => "booking",
                            id => b.id,
                            time => lang.digits(&format!("{start}–{end}")),
                            purpose => enum_name!(res::BookingPurpose, b.purpose),
                            organization => org_name(&b.organization_id),
                            status => enum_name!(res::BookingStatus, b.status),
                            etag => b.etag,
                        },
                    ));
                }
                for (kind, list) in [("busy", &availability.busy), ("closed", &availability.closed)] {
                    for i in list.iter() {
                        let (d, start) = local(i.start_time.as_ref(), offset);
                        if d != day.days() {
                            continue;
                        }
                        // A booking the reader sees is shown as itself.
                        let shown = mine.iter().any(|b| {
                            b.start_time.as_ref().map(|t| t.seconds)
                                == i.start_time.as_ref().map(|t| t.seconds)
                        });
                        if kind == "busy" && shown {
                            continue;
                        }
                        let (_, end) = local(i.end_time.as_ref(), offset);
                        entries.push((
                            start.clone(),
                            context! { what => kind, time => lang.digits(&format!("{start}–{end}")) },
                        ));
                    }
                }
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::from(entries.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
            })
            .collect();
        rows.push(context! {
            id => space.id,
            name => lang.text(space.name.as_ref()),
            kind => enum_name!(res::SpaceKind, space.kind),
            capacity => lang.number(space.capacity.into()),
            cells => cells,
        });
    }
    let mut form = form;
    for (k, v) in [
        ("booking.date", date_value(Some(&week.to_proto()))),
        ("booking.from", "10:00".to_string()),
        ("booking.until", "12:00".to_string()),
    ] {
        if !form.values.contains_key(k) {
            form = form.with(k, v);
        }
    }
    ctx.render_form(
        "coworking.html",
        form,
        context! {
            filters => filters,
            branches => branches,
            days => days.iter().map(|d| lang.date(Some(&d.to_proto()))).collect::<Vec<_>>(),
            rows => rows,
            space_choices => spaces.iter().map(|s| Choice::named(lang, &s.id, s.name.as_ref())).collect::<Vec<_>>(),
            purposes => choices(lang, enum_names!(res::BookingPurpose)),
            organizations => organizations,
            staff => is_staff(ctx),
            previous => date_value(Some(&week.add_days(-DAYS).to_proto())),
            following => date_value(Some(&week.add_days(DAYS).to_proto())),
            branch => branch,
            done => ctx.q("done"),
        },
    )
}

async fn book(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(COWORKING)?;
    let lang = ctx.lang;
    let day = parse_date(&mut form, lang, "booking.date", f.get("booking.date"))
        .and_then(|_| Date::parse(f.get("booking.date").trim()));
    let space_id = f.get("booking.space_id").to_string();
    let branch = f.get("branch").to_string();
    let offset = if space_id.is_empty() {
        180
    } else {
        space_offset(&spaces_of(&ctx, &branch).await?, &space_id)
    };
    let mut time = |field: &str| {
        let value = f.get(field);
        let t = day.and_then(|d| at(d, value, offset));
        if t.is_none() && day.is_some() {
            form.object(field, lang.label("form_bad_time"));
        }
        t
    };
    let (start, end) = (time("booking.from"), time("booking.until"));
    let attendance = parse_int(
        &mut form,
        lang,
        "booking.expected_attendance",
        f.get("booking.expected_attendance"),
    )
    .unwrap_or(0);
    if form.has_errors() {
        return calendar_page(&ctx, form).await;
    }
    let organization_id = ctx
        .partner_org()
        .unwrap_or_else(|| f.get("booking.organization_id").to_string());
    let answer = ctx
        .resources()
        .create_booking(res::CreateBookingRequest {
            booking: Some(res::Booking {
                space_id,
                organization_id,
                purpose: enum_value!(res::BookingPurpose, f.get("booking.purpose")),
                purpose_note: f.get("booking.purpose_note").trim().to_string(),
                expected_attendance: attendance as i32,
                start_time: start,
                end_time: end,
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    // The service names the times `booking.start_time`/`end_time`: the
    // form's are `from`/`until`.
    let answer = answer.map_err(rename_time_fields);
    match form.outcome(answer)? {
        Done(b) => {
            let (d, _) = local(b.start_time.as_ref(), offset);
            let week = date_value(Some(&Date::from_days(d).to_proto()));
            ctx.redirect(&format!(
                "/coworking?branch={branch}&week={week}&done=booked"
            ))
        }
        Again => calendar_page(&ctx, form).await,
    }
}

fn rename_time_fields(status: tonic::Status) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let violations = crate::upstream::field_violations(&status);
    if violations.is_empty() {
        return status;
    }
    let mut details = ErrorDetails::new();
    for (field, description) in violations {
        let field = match field.as_str() {
            "booking.start_time" => "booking.from".to_string(),
            "booking.end_time" => "booking.until".to_string(),
            _ => field,
        };
        details.add_bad_request_violation(field, description);
    }
    tonic::Status::with_error_details(status.code(), status.message(), details)
}

async fn cancel(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(COWORKING)?;
    let answer = ctx
        .resources()
        .cancel_booking(res::CancelBookingRequest {
            id,
            reason: f.get("reason").trim().to_string(),
            etag: f.get("etag").to_string(),
        })
        .await;
    let back = format!(
        "/coworking?branch={}&week={}",
        f.get("branch"),
        f.get("week")
    );
    match form.outcome(answer)? {
        Done(_) => ctx.redirect(&format!("{back}&done=booking_cancelled")),
        Again => calendar_page(&ctx, form).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn a_time_of_day_is_read_at_the_space_offset() {
        let day = Date::parse("2026-03-21").unwrap();
        let t = at(day, "10:30", 180).unwrap();
        assert_eq!(local(Some(&t), 180), (day.days(), "10:30".to_string()));
        assert!(at(day, "25:00", 180).is_none());
        assert!(at(day, "ten", 180).is_none());
    }

    #[test]
    fn labels_exist_for_every_booking_purpose() {
        for name in enum_names!(res::BookingPurpose) {
            assert_ne!(Lang::Ar.label(name), name, "{name}");
        }
    }
}
