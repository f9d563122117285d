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
        .route(
            "/coworking/bookings/{id}/edit",
            get(edit_booking).post(update_booking),
        )
        .route("/coworking/spaces/new", get(new_space).post(create_space))
        .route(
            "/coworking/spaces/{id}/edit",
            get(edit_space).post(update_space),
        )
        .route("/coworking/spaces/{id}/closures", post(add_closure))
        .route(
            "/coworking/spaces/{id}/closures/{closure}/remove",
            post(remove_closure),
        )
        .route("/coworking/equipment", get(equipment_list))
        .route(
            "/coworking/equipment/new",
            get(new_equipment).post(create_equipment),
        )
        .route(
            "/coworking/equipment/{id}/edit",
            get(edit_equipment).post(update_equipment),
        )
        .route("/coworking/series/{id}", get(series))
        .route("/coworking/series/{id}/cancel", post(cancel_series))
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

/// Opening stretches a form offers per day at least: the day, and after a
/// break (a center's day with a lunch break).
const INTERVALS: usize = 2;
/// The most stretches a day a form takes (the service takes up to 28 a
/// week): a form offers one more than its busiest day has, up to this.
const MAX_INTERVALS: usize = 6;

/// The stretch columns a space form shows: those its busiest day fills,
/// and an empty one more (at least [`INTERVALS`]).
fn stretches(form: &Form) -> usize {
    let filled = (0..MAX_INTERVALS)
        .rev()
        .find(|n| {
            WEEKDAYS.iter().any(|d| {
                ["opens", "closes"].iter().any(|end| {
                    form.values
                        .get(&hour_field(*d, *n, end))
                        .is_some_and(|v| !v.trim().is_empty())
                })
            })
        })
        .map_or(0, |n| n + 1);
    (filled + 1).clamp(INTERVALS, MAX_INTERVALS)
}

/// A day's interval `n` (0-based) in a space form: `hours.WEEKDAY_SATURDAY.0.opens`.
fn hour_field(day: res::Weekday, n: usize, end: &str) -> String {
    format!("hours.{}.{n}.{end}", day.as_str_name())
}

/// `minutes` since midnight as `HH:MM`.
fn hh_mm(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A space's week as a form shows it: each day open or not, and its
/// intervals in order.
fn put_hours(mut form: Form, hours: &[res::OpeningInterval]) -> Form {
    for day in WEEKDAYS {
        let mut of_day: Vec<&res::OpeningInterval> =
            hours.iter().filter(|i| i.weekday == day as i32).collect();
        of_day.sort_by_key(|i| i.opens_minute);
        if !of_day.is_empty() {
            form = form.with(&format!("day.{}", day.as_str_name()), "on");
        }
        for (n, i) in of_day.iter().take(MAX_INTERVALS).enumerate() {
            form = form
                .with(&hour_field(day, n, "opens"), hh_mm(i.opens_minute))
                .with(&hour_field(day, n, "closes"), hh_mm(i.closes_minute));
        }
    }
    form
}

/// The open days' intervals as typed, with where each came from (its
/// fields), so the service's objection to `space.opening_hours[i]` lands
/// next to the right day. A malformed time is objected to here.
fn opening_hours(
    f: &crate::session::FormFields,
    form: &mut Form,
    lang: crate::i18n::Lang,
) -> (Vec<res::OpeningInterval>, Vec<(String, String)>) {
    let mut hours = Vec::new();
    let mut fields = Vec::new();
    for day in WEEKDAYS {
        if !f.checked(&format!("day.{}", day.as_str_name())) {
            continue;
        }
        for n in 0..MAX_INTERVALS {
            let (o, c) = (hour_field(day, n, "opens"), hour_field(day, n, "closes"));
            let (typed_o, typed_c) = (f.get(&o).trim(), f.get(&c).trim());
            // A later interval left empty is no interval; the first is
            // the day's, required.
            if n > 0 && typed_o.is_empty() && typed_c.is_empty() {
                continue;
            }
            let opens = minute_of_day(typed_o);
            let closes = minute_of_day(typed_c);
            if opens.is_none() {
                form.object(&o, lang.label("form_bad_hour"));
            }
            if closes.is_none() {
                form.object(&c, lang.label("form_bad_hour"));
            }
            hours.push(res::OpeningInterval {
                weekday: day as i32,
                opens_minute: opens.unwrap_or_default(),
                closes_minute: closes.unwrap_or_default(),
            });
            fields.push((o, c));
        }
    }
    (hours, fields)
}

/// The service names an interval `space.opening_hours[i].opens_minute`;
/// the form, by its day and place.
fn rename_hour_fields(status: tonic::Status, fields: &[(String, String)]) -> tonic::Status {
    crate::upstream::rename_violations(status, |field| {
        let rest = field.strip_prefix("space.opening_hours[")?;
        let (index, tail) = rest.split_once(']')?;
        let (opens, closes) = fields.get(index.parse::<usize>().ok()?)?;
        Some(if tail.contains("closes") {
            closes.clone()
        } else {
            opens.clone()
        })
    })
}

async fn new_space(ctx: Ctx) -> Answer {
    ctx.require(super::STAFF)?;
    let mut form = Form::new()
        .with("space.utc_offset_minutes", "180")
        .with("space.bookable_by", "BOOKABLE_BY_PARTNERS");
    // The usual week: Saturday to Thursday, 08:00–16:00.
    for day in &WEEKDAYS[..6] {
        form = form
            .with(&format!("day.{}", day.as_str_name()), "on")
            .with(&hour_field(*day, 0, "opens"), "08:00")
            .with(&hour_field(*day, 0, "closes"), "16:00");
    }
    if !ctx.q("branch").is_empty() {
        form = form.with("space.branch_id", ctx.q("branch"));
    }
    space_form(&ctx, form, None).await
}

/// The form of a new space, or of `space` when editing it.
async fn space_form(ctx: &Ctx, form: Form, space: Option<&res::Space>) -> Answer {
    let lang = ctx.lang;
    let closures = match space {
        Some(s) => closures_of(ctx, s).await?,
        None => Vec::new(),
    };
    let intervals = stretches(&form);
    ctx.render_form(
        "space_form.html",
        form,
        context! {
            space => space.map(|s| context! { id => s.id, name => lang.text(s.name.as_ref()), branch => s.branch_id }),
            closures => closures.iter().map(|c| context! {
                id => c.id,
                first => lang.date(c.first_day.as_ref()),
                last => lang.date(c.last_day.as_ref()),
                one_day => c.first_day == c.last_day,
                reason => lang.text(c.reason.as_ref()),
                branch_wide => c.space_id.is_empty(),
            }).collect::<Vec<_>>(),
            affected => ctx.q("affected"),
            done => ctx.q("done"),
            branches => branch_choices(ctx).await?,
            kinds => choices(lang, enum_names!(res::SpaceKind)),
            bookable => choices(lang, enum_names!(res::BookableBy)),
            weekdays => choices(lang, WEEKDAYS.iter().map(|d| d.as_str_name())),
            intervals => (0..intervals).collect::<Vec<_>>(),
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

/// The space a form describes (its branch aside), the fields of its hours.
fn space_of(
    ctx: &Ctx,
    f: &crate::session::FormFields,
    form: &mut Form,
) -> (res::Space, Vec<(String, String)>) {
    let lang = ctx.lang;
    let (opening_hours, hour_fields) = opening_hours(f, form, lang);
    let capacity = parse_int(form, lang, "space.capacity", f.get("space.capacity"));
    let offset = parse_int(
        form,
        lang,
        "space.utc_offset_minutes",
        f.get("space.utc_offset_minutes"),
    );
    let space = res::Space {
        kind: enum_value!(res::SpaceKind, f.get("space.kind")),
        name: super::form_text(f, "space.name"),
        description: super::form_text(f, "space.description"),
        capacity: capacity.unwrap_or_default() as i32,
        opening_hours,
        utc_offset_minutes: offset.unwrap_or(180) as i32,
        bookable_by: enum_value!(res::BookableBy, f.get("space.bookable_by")),
        shared_with_consortium: f.checked("space.shared_with_consortium"),
        ..Default::default()
    };
    (space, hour_fields)
}

async fn create_space(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(super::STAFF)?;
    let (space, hour_fields) = space_of(&ctx, f, &mut form);
    if form.has_errors() {
        return space_form(&ctx, form, None).await;
    }
    let branch = f.get("space.branch_id").to_string();
    let answer = ctx
        .resources()
        .create_space(res::CreateSpaceRequest {
            space: Some(res::Space {
                branch_id: branch.clone(),
                ..space
            }),
            request_id: form.request_id.clone(),
        })
        .await
        .map_err(|s| rename_hour_fields(s, &hour_fields));
    ctx.finish(
        form,
        answer,
        |_| format!("/coworking?branch={branch}&done=space_created"),
        |form| space_form(&ctx, form, None),
    )
    .await
}

// ------------------------------------------------------- editing a space

async fn get_space(ctx: &Ctx, id: &str) -> Result<res::Space, Fail> {
    Ok(ctx
        .resources()
        .get_space(res::GetSpaceRequest { id: id.to_string() })
        .await?
        .into_inner())
}

/// A space's fields and its week as they are now: staff.
async fn edit_space(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(super::STAFF)?;
    let space = get_space(&ctx, &id).await?;
    space_form(&ctx, space_values(&space), Some(&space)).await
}

/// The edit form's values from the space as it is.
fn space_values(space: &res::Space) -> Form {
    let mut form = Form::new()
        .with("etag", space.etag.clone())
        .with("space.branch_id", space.branch_id.clone())
        .with("space.kind", enum_name!(res::SpaceKind, space.kind))
        .with("space.capacity", space.capacity.to_string())
        .with(
            "space.utc_offset_minutes",
            space.utc_offset_minutes.to_string(),
        )
        .with(
            "space.bookable_by",
            enum_name!(res::BookableBy, space.bookable_by),
        );
    for (name, on) in [
        ("space.shared_with_consortium", space.shared_with_consortium),
        ("space.archived", space.archived),
    ] {
        if on {
            form = form.with(name, "on");
        }
    }
    form = super::put_text(form, "space.name", space.name.as_ref());
    form = super::put_text(form, "space.description", space.description.as_ref());
    put_hours(form, &space.opening_hours)
}

async fn update_space(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(super::STAFF)?;
    let current = get_space(&ctx, &id).await?;
    let (space, hour_fields) = space_of(&ctx, f, &mut form);
    if form.has_errors() {
        return space_form(&ctx, form, Some(&current)).await;
    }
    let answer = ctx
        .resources()
        .update_space(res::UpdateSpaceRequest {
            space: Some(res::Space {
                id: id.clone(),
                archived: f.checked("space.archived"),
                etag: f.get("etag").to_string(),
                // Not on the form: kept as they are.
                max_booking_minutes: current.max_booking_minutes,
                max_days_ahead: current.max_days_ahead,
                ..space
            }),
            // Every field but the branch (a space stays where it is).
            update_mask: None,
        })
        .await
        .map_err(|s| rename_hour_fields(s, &hour_fields));
    let branch = current.branch_id.clone();
    ctx.finish(
        form,
        answer,
        |_| format!("/coworking?branch={branch}&done=space_saved"),
        |form| space_form(&ctx, form, Some(&current)),
    )
    .await
}

// -------------------------------------------------------------- closures

/// A space's closures from today on (its own and its branch's): a holiday,
/// maintenance.
async fn closures_of(ctx: &Ctx, space: &res::Space) -> Result<Vec<res::Closure>, Fail> {
    Ok(ctx
        .resources()
        .list_closures(res::ListClosuresRequest {
            space_id: space.id.clone(),
            from: Some(Date::today().to_proto()),
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .closures)
}

/// Closes the space, or every space of its branch, from one day to another
/// (`AddClosure`, staff). Bookings already made stay: the page says how
/// many, for staff to tell the organizations.
async fn add_closure(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(super::STAFF)?;
    let lang = ctx.lang;
    let space = get_space(&ctx, &id).await?;
    let first_day = parse_date(
        &mut form,
        lang,
        "closure.first_day",
        f.get("closure.first_day"),
    );
    let last_day = parse_date(
        &mut form,
        lang,
        "closure.last_day",
        f.get("closure.last_day"),
    );
    let answer = if form.has_errors() {
        None
    } else {
        Some(
            ctx.resources()
                .add_closure(res::AddClosureRequest {
                    closure: Some(res::Closure {
                        branch_id: space.branch_id.clone(),
                        space_id: if f.checked("closure.whole_branch") {
                            String::new()
                        } else {
                            id.clone()
                        },
                        first_day,
                        last_day,
                        reason: super::form_text(f, "closure.reason"),
                        ..Default::default()
                    }),
                    request_id: form.request_id.clone(),
                })
                .await,
        )
    };
    if let Some(answer) = answer
        && let Done(done) = form.outcome(answer)?
    {
        return ctx.redirect(&format!(
            "/coworking/spaces/{id}/edit?done=closure_added&affected={}",
            done.affected_booking_ids.len()
        ));
    }
    space_form(&ctx, closure_again(&space, form), Some(&space)).await
}

/// The page again after a closure was refused: the space's form as the
/// space is, the closure's as it was sent, with the objections.
fn closure_again(space: &res::Space, form: Form) -> Form {
    let mut shown = space_values(space);
    shown.values.extend(
        form.values
            .into_iter()
            .filter(|(k, _)| k.starts_with("closure.")),
    );
    Form {
        errors: form.errors,
        summary: form.summary,
        refusals: form.refusals,
        request_id: form.request_id,
        ..shown
    }
}

async fn remove_closure(ctx: Ctx, Path((id, closure)): Path<(String, String)>) -> Answer {
    let (_, form) = ctx.posted(super::STAFF)?;
    let space = get_space(&ctx, &id).await?;
    let answer = ctx
        .resources()
        .remove_closure(res::RemoveClosureRequest { id: closure })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/coworking/spaces/{id}/edit?done=closure_removed"),
        |form| space_form(&ctx, closure_again(&space, form), Some(&space)),
    )
    .await
}

// ------------------------------------------------------------- equipment

/// A branch's equipment (archived pieces too when `archived`).
async fn equipment_of(
    ctx: &Ctx,
    branch: &str,
    archived: bool,
) -> Result<Vec<res::Equipment>, Fail> {
    if branch.is_empty() {
        return Ok(Vec::new());
    }
    Ok(ctx
        .resources()
        .list_equipment(res::ListEquipmentRequest {
            page_size: 200,
            branch_id: branch.to_string(),
            include_archived: archived,
            ..Default::default()
        })
        .await?
        .into_inner()
        .equipment)
}

/// What a booking may ask for: portable, bookable, not archived.
fn bookable_equipment(equipment: &[res::Equipment]) -> Vec<&res::Equipment> {
    equipment
        .iter()
        .filter(|e| e.bookable && e.space_id.is_empty() && !e.archived)
        .collect()
}

/// The names of the equipment `ids`, in the reader's language, as a list
/// (`جهاز عرض، شاشة`); empty for none.
fn equipment_names(
    lang: crate::i18n::Lang,
    equipment: &[res::Equipment],
    ids: &[String],
) -> String {
    let separator = if lang == crate::i18n::Lang::Ar {
        "، "
    } else {
        ", "
    };
    ids.iter()
        .map(|id| {
            equipment
                .iter()
                .find(|e| &e.id == id)
                .map(|e| lang.text(e.name.as_ref()))
                .unwrap_or_else(|| id.clone())
        })
        .collect::<Vec<_>>()
        .join(separator)
}

/// A branch's equipment: kind, name, where it is (fixed in a space or
/// portable), bookable, archived. Everyone who books sees it; staff add
/// and edit.
async fn equipment_list(ctx: Ctx) -> Answer {
    ctx.require(COWORKING)?;
    let lang = ctx.lang;
    let branches = branch_choices(&ctx).await?;
    let branch = match ctx.q("branch") {
        "" => branches
            .first()
            .map(|b| b.value.clone())
            .unwrap_or_default(),
        b => b.to_string(),
    };
    let staff = is_staff(&ctx);
    let equipment = equipment_of(&ctx, &branch, staff).await?;
    let spaces = if branch.is_empty() {
        Vec::new()
    } else {
        spaces_of(&ctx, &branch).await?
    };
    let rows: Vec<Value> = equipment
        .iter()
        .map(|e| {
            context! {
                id => e.id,
                kind => enum_name!(res::EquipmentKind, e.kind),
                name => lang.text(e.name.as_ref()),
                space => spaces.iter().find(|s| s.id == e.space_id).map(|s| lang.text(s.name.as_ref())),
                fixed => !e.space_id.is_empty(),
                bookable => e.bookable,
                archived => e.archived,
            }
        })
        .collect();
    ctx.render(
        "equipment.html",
        context! {
            filters => ctx.filters(&["branch"]).with("branch", branch.clone()),
            branches => branches,
            branch => branch,
            rows => rows,
            staff => staff,
            done => ctx.q("done"),
        },
    )
}

async fn new_equipment(ctx: Ctx) -> Answer {
    ctx.require(super::STAFF)?;
    let mut form = Form::new().with("equipment.bookable", "on");
    if !ctx.q("branch").is_empty() {
        form = form.with("equipment.branch_id", ctx.q("branch"));
    }
    equipment_form(&ctx, form, None).await
}

/// The form of new equipment, or of `equipment` when editing it.
async fn equipment_form(ctx: &Ctx, form: Form, equipment: Option<&res::Equipment>) -> Answer {
    let lang = ctx.lang;
    let branch = match equipment {
        Some(e) => e.branch_id.clone(),
        None => form
            .values
            .get("equipment.branch_id")
            .cloned()
            .unwrap_or_default(),
    };
    // The spaces it may be fixed in: its branch's (every branch's while
    // none is chosen; the service checks the branch).
    let spaces = if branch.is_empty() {
        all_spaces(ctx).await?
    } else {
        spaces_of(ctx, &branch).await?
    };
    ctx.render_form(
        "equipment_form.html",
        form,
        context! {
            equipment => equipment.map(|e| context! { id => e.id, name => lang.text(e.name.as_ref()), branch => e.branch_id }),
            branch => branch,
            branches => branch_choices(ctx).await?,
            kinds => choices(lang, enum_names!(res::EquipmentKind)),
            spaces => spaces.iter().map(|s| Choice::named(lang, &s.id, s.name.as_ref())).collect::<Vec<_>>(),
        },
    )
}

/// The equipment a form describes (its branch aside).
fn equipment_of_form(f: &crate::session::FormFields) -> res::Equipment {
    res::Equipment {
        kind: enum_value!(res::EquipmentKind, f.get("equipment.kind")),
        name: super::form_text(f, "equipment.name"),
        space_id: f.get("equipment.space_id").trim().to_string(),
        bookable: f.checked("equipment.bookable"),
        ..Default::default()
    }
}

async fn create_equipment(ctx: Ctx) -> Answer {
    let (f, form) = ctx.posted(super::STAFF)?;
    let branch = f.get("equipment.branch_id").trim().to_string();
    let answer = ctx
        .resources()
        .create_equipment(res::CreateEquipmentRequest {
            equipment: Some(res::Equipment {
                branch_id: branch.clone(),
                ..equipment_of_form(f)
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |e| {
            format!(
                "/coworking/equipment?branch={}&done=equipment_created",
                e.branch_id
            )
        },
        |form| equipment_form(&ctx, form, None),
    )
    .await
}

async fn get_equipment(ctx: &Ctx, id: &str) -> Result<res::Equipment, Fail> {
    Ok(ctx
        .resources()
        .get_equipment(res::GetEquipmentRequest { id: id.to_string() })
        .await?
        .into_inner())
}

async fn edit_equipment(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(super::STAFF)?;
    let e = get_equipment(&ctx, &id).await?;
    let mut form = Form::new()
        .with("etag", e.etag.clone())
        .with("equipment.kind", enum_name!(res::EquipmentKind, e.kind))
        .with("equipment.space_id", e.space_id.clone());
    for (name, on) in [
        ("equipment.bookable", e.bookable),
        ("equipment.archived", e.archived),
    ] {
        if on {
            form = form.with(name, "on");
        }
    }
    form = super::put_text(form, "equipment.name", e.name.as_ref());
    equipment_form(&ctx, form, Some(&e)).await
}

async fn update_equipment(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(super::STAFF)?;
    let current = get_equipment(&ctx, &id).await?;
    let answer = ctx
        .resources()
        .update_equipment(res::UpdateEquipmentRequest {
            equipment: Some(res::Equipment {
                id: id.clone(),
                archived: f.checked("equipment.archived"),
                etag: f.get("etag").to_string(),
                ..equipment_of_form(f)
            }),
            // Every field (its branch stays).
            update_mask: None,
        })
        .await;
    let branch = current.branch_id.clone();
    ctx.finish(
        form,
        answer,
        |_| format!("/coworking/equipment?branch={branch}&done=equipment_saved"),
        |form| equipment_form(&ctx, form, Some(&current)),
    )
    .await
}

/// A space's hours on one day, as the calendar shows them
/// (`08:00–12:00، 13:00–17:00`); empty when it is closed that day.
fn hours_of_day(lang: crate::i18n::Lang, space: &res::Space, day: Date) -> String {
    // 1970-01-01 was a Thursday; the service counts Monday as 1.
    let weekday = (day.days() + 3).rem_euclid(7) as i32 + 1;
    let mut of_day: Vec<&res::OpeningInterval> = space
        .opening_hours
        .iter()
        .filter(|i| i.weekday == weekday)
        .collect();
    of_day.sort_by_key(|i| i.opens_minute);
    let separator = if lang == crate::i18n::Lang::Ar {
        "، "
    } else {
        ", "
    };
    lang.digits(
        &of_day
            .iter()
            .map(|i| format!("{}–{}", hh_mm(i.opens_minute), hh_mm(i.closes_minute)))
            .collect::<Vec<_>>()
            .join(separator),
    )
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

/// Bookings as rows of a list (Today, an organization's tab): each at its
/// space's local time, linked to the week of its branch's calendar.
pub(super) fn booking_rows(
    lang: crate::i18n::Lang,
    bookings: &[res::Booking],
    spaces: &[res::Space],
) -> Vec<Value> {
    bookings
        .iter()
        .map(|b| {
            let space = spaces.iter().find(|s| s.id == b.space_id);
            let offset = space.map_or(0, |s| s.utc_offset_minutes);
            let (day, start) = local(b.start_time.as_ref(), offset);
            let (_, end) = local(b.end_time.as_ref(), offset);
            let day = Date::from_days(day).to_proto();
            context! {
                id => b.id,
                space => space.map(|s| lang.text(s.name.as_ref())).unwrap_or_default(),
                branch => space.map(|s| s.branch_id.clone()).unwrap_or_default(),
                week => date_value(Some(&day)),
                day => lang.date(Some(&day)),
                time => lang.digits(&format!("{start}–{end}")),
                purpose => enum_name!(res::BookingPurpose, b.purpose),
                status => enum_name!(res::BookingStatus, b.status),
                organization => b.organization_id,
                series => b.series_id,
            }
        })
        .collect()
}

/// Every space the reader may see (of every branch), to name bookings.
pub(super) async fn all_spaces(ctx: &Ctx) -> Result<Vec<res::Space>, Fail> {
    Ok(super::unless_refused(
        ctx.resources()
            .list_spaces(res::ListSpacesRequest {
                page_size: 200,
                include_archived: true,
                ..Default::default()
            })
            .await,
    )?
    .map(|l| l.spaces)
    .unwrap_or_default())
}

pub(super) fn space_offset(spaces: &[res::Space], id: &str) -> i32 {
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
    // A booking form sent back names its branch in the form.
    let posted_branch = form.values.get("branch").cloned().unwrap_or_default();
    let branch = match (ctx.q("branch"), posted_branch.as_str()) {
        ("", "") => branches
            .first()
            .map(|b| b.value.clone())
            .unwrap_or_default(),
        ("", b) | (b, _) => b.to_string(),
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
    let equipment = equipment_of(ctx, &branch, true).await?;
    let org_name = |id: &str| {
        organizations
            .iter()
            .find(|o| o.value == id)
            .map(|o| o.label.clone())
            .unwrap_or_default()
    };
    let days: Vec<Date> = (0..DAYS).map(|i| week.add_days(i)).collect();
    // The branch's closures touching the week, each named in its days.
    let closures = if branch.is_empty() {
        Vec::new()
    } else {
        ctx.resources()
            .list_closures(res::ListClosuresRequest {
                branch_id: branch.clone(),
                from: Some(week.to_proto()),
                until: Some(week.add_days(DAYS - 1).to_proto()),
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner()
            .closures
    };
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
                let today = date_value(Some(&day.to_proto()));
                for c in closures.iter().filter(|c| {
                    (c.space_id.is_empty() || c.space_id == space.id)
                        && date_value(c.first_day.as_ref()) <= today
                        && today <= date_value(c.last_day.as_ref())
                }) {
                    entries.push((
                        String::new(),
                        context! { what => "closure", time => "", reason => lang.text(c.reason.as_ref()) },
                    ));
                }
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
                            equipment => equipment_names(lang, &equipment, &b.equipment_ids),
                            series => b.series_id,
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
            hours => days.iter().map(|d| hours_of_day(lang, space, *d)).collect::<Vec<_>>(),
            archived => space.archived,
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
            equipment_choices => bookable_equipment(&equipment).iter().map(|e| Choice::named(lang, &e.id, e.name.as_ref())).collect::<Vec<_>>(),
            frequencies => choices(lang, enum_names!(res::Frequency)),
            weekdays => choices(lang, WEEKDAYS.iter().map(|d| d.as_str_name())),
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
    let space_id = f.get("booking.space_id").to_string();
    let branch = f.get("branch").to_string();
    let offset = if space_id.is_empty() {
        180
    } else {
        space_offset(&spaces_of(&ctx, &branch).await?, &space_id)
    };
    let BookingFields {
        start,
        end,
        attendance,
        equipment_ids,
    } = booking_fields(f, &mut form, lang, offset);
    if form.has_errors() {
        return calendar_page(&ctx, form).await;
    }
    let organization_id = ctx
        .partner_org()
        .unwrap_or_else(|| f.get("booking.organization_id").to_string());
    let booking = res::Booking {
        space_id,
        equipment_ids: equipment_ids.clone(),
        organization_id,
        purpose: enum_value!(res::BookingPurpose, f.get("booking.purpose")),
        purpose_note: f.get("booking.purpose_note").trim().to_string(),
        expected_attendance: attendance as i32,
        start_time: start,
        end_time: end,
        ..Default::default()
    };
    let repeat = f.get("booking.repeat").trim();
    if !repeat.is_empty() {
        return book_series(&ctx, f, form, booking, offset).await;
    }
    let answer = ctx
        .resources()
        .create_booking(res::CreateBookingRequest {
            booking: Some(booking),
            request_id: form.request_id.clone(),
        })
        .await;
    // The service names the times `booking.start_time`/`end_time`, the
    // equipment `booking.equipment_ids[i]`: the form's are `from`/`until`
    // and a checkbox each.
    let answer = answer.map_err(|s| rename_booking_fields(s, &equipment_ids));
    match form.outcome(answer)? {
        Done(b) => {
            let (d, _) = local(b.start_time.as_ref(), offset);
            let week = date_value(Some(&Date::from_days(d).to_proto()));
            ctx.redirect(&format!(
                "/coworking?branch={branch}&week={week}&done=booked"
            ))
        }
        Again => calendar_page(&ctx, name_clashes(form, lang, offset)).await,
    }
}

/// What both booking forms (a new booking, a change) send beside the
/// purpose: the day and hours at the space's local time (`offset`), the
/// attendance, and the equipment ticked (a checkbox each,
/// `booking.equipment.ID`). A malformed day, hour or number is objected to
/// on `form`, next to its field.
struct BookingFields {
    start: Option<prost_types::Timestamp>,
    end: Option<prost_types::Timestamp>,
    attendance: i64,
    equipment_ids: Vec<String>,
}

fn booking_fields(
    f: &crate::session::FormFields,
    form: &mut Form,
    lang: crate::i18n::Lang,
    offset: i32,
) -> BookingFields {
    let day = parse_date(form, lang, "booking.date", f.get("booking.date"))
        .and_then(|_| Date::parse(f.get("booking.date").trim()));
    let mut time = |field: &str| {
        let t = day.and_then(|d| at(d, f.get(field), offset));
        if t.is_none() && day.is_some() {
            form.object(field, lang.label("form_bad_time"));
        }
        t
    };
    let (start, end) = (time("booking.from"), time("booking.until"));
    let attendance = parse_int(
        form,
        lang,
        "booking.expected_attendance",
        f.get("booking.expected_attendance"),
    )
    .unwrap_or(0);
    BookingFields {
        start,
        end,
        attendance,
        equipment_ids: f
            .with_prefix("booking.equipment.")
            .filter(|(_, v)| matches!(*v, "on" | "true" | "1"))
            .map(|(id, _)| id.to_string())
            .collect(),
    }
}

// ---------------------------------------------------------- editing one

/// A booking as it is now, to change (whoever may book it): its times and
/// equipment before it starts, its purpose, attendance and note before it
/// ends, as the service rules.
async fn edit_booking(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(COWORKING)?;
    let b = get_booking(&ctx, &id).await?;
    let space = get_space(&ctx, &b.space_id).await?;
    let offset = space.utc_offset_minutes;
    let (day, from) = local(b.start_time.as_ref(), offset);
    let (_, until) = local(b.end_time.as_ref(), offset);
    let mut form = Form::new()
        .with("etag", b.etag.clone())
        .with(
            "booking.date",
            date_value(Some(&Date::from_days(day).to_proto())),
        )
        .with("booking.from", from)
        .with("booking.until", until)
        .with(
            "booking.purpose",
            enum_name!(res::BookingPurpose, b.purpose),
        )
        .with("booking.purpose_note", b.purpose_note.clone())
        .with(
            "booking.expected_attendance",
            match b.expected_attendance {
                0 => String::new(),
                n => n.to_string(),
            },
        );
    for e in &b.equipment_ids {
        form = form.with(&format!("booking.equipment.{e}"), "on".to_string());
    }
    booking_form(&ctx, &b, &space, form).await
}

async fn get_booking(ctx: &Ctx, id: &str) -> Result<res::Booking, Fail> {
    Ok(ctx
        .resources()
        .get_booking(res::GetBookingRequest { id: id.to_string() })
        .await?
        .into_inner())
}

async fn booking_form(ctx: &Ctx, b: &res::Booking, space: &res::Space, form: Form) -> Answer {
    let lang = ctx.lang;
    let equipment = equipment_of(ctx, &space.branch_id, false).await?;
    ctx.render_form(
        "booking_form.html",
        form,
        context! {
            b => context! {
                id => b.id,
                space => lang.text(space.name.as_ref()),
                branch => space.branch_id,
                series => b.series_id,
            },
            purposes => choices(lang, enum_names!(res::BookingPurpose)),
            equipment_choices => bookable_equipment(&equipment).iter().map(|e| Choice::named(lang, &e.id, e.name.as_ref())).collect::<Vec<_>>(),
        },
    )
}

/// `UpdateBooking` with every field of the form and the booking's etag: a
/// clash or a booking already started is the service's refusal on the
/// form, with the clashing hours at the space's local time.
async fn update_booking(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(COWORKING)?;
    let lang = ctx.lang;
    let b = get_booking(&ctx, &id).await?;
    let space = get_space(&ctx, &b.space_id).await?;
    let offset = space.utc_offset_minutes;
    let BookingFields {
        start,
        end,
        attendance,
        equipment_ids,
    } = booking_fields(f, &mut form, lang, offset);
    if form.has_errors() {
        return booking_form(&ctx, &b, &space, form).await;
    }
    // Only what changed: a booking under way keeps its times and equipment,
    // and the service refuses a change to them, not the same values again.
    let mut paths = vec!["purpose", "purpose_note", "expected_attendance"];
    if start != b.start_time || end != b.end_time {
        paths.extend(["start_time", "end_time"]);
    }
    let mut asked = equipment_ids.clone();
    let mut held = b.equipment_ids.clone();
    asked.sort();
    held.sort();
    if asked != held {
        paths.push("equipment_ids");
    }
    let answer = ctx
        .resources()
        .update_booking(res::UpdateBookingRequest {
            booking: Some(res::Booking {
                id: id.clone(),
                etag: f.get("etag").to_string(),
                purpose: enum_value!(res::BookingPurpose, f.get("booking.purpose")),
                purpose_note: f.get("booking.purpose_note").trim().to_string(),
                expected_attendance: attendance as i32,
                start_time: start,
                end_time: end,
                equipment_ids: equipment_ids.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.into_iter().map(str::to_string).collect(),
            }),
        })
        .await
        .map_err(|s| rename_booking_fields(s, &equipment_ids));
    match form.outcome(answer)? {
        Done(b) => {
            let (d, _) = local(b.start_time.as_ref(), offset);
            let week = date_value(Some(&Date::from_days(d).to_proto()));
            ctx.redirect(&format!(
                "/coworking?branch={}&week={week}&done=booking_saved",
                space.branch_id
            ))
        }
        Again => booking_form(&ctx, &b, &space, name_clashes(form, lang, offset)).await,
    }
}

/// A booking repeated (`CreateBookingSeries`): every occurrence is booked,
/// or none is; to the series' page.
async fn book_series(
    ctx: &Ctx,
    f: &crate::session::FormFields,
    mut form: Form,
    booking: res::Booking,
    offset: i32,
) -> Answer {
    let lang = ctx.lang;
    let until = parse_date(
        &mut form,
        lang,
        "booking.repeat_until",
        f.get("booking.repeat_until"),
    );
    let count = parse_int(
        &mut form,
        lang,
        "booking.repeat_count",
        f.get("booking.repeat_count"),
    );
    let interval = parse_int(
        &mut form,
        lang,
        "booking.repeat_interval",
        f.get("booking.repeat_interval"),
    );
    // Weekly: the weekdays ticked (none: the first occurrence's).
    let weekdays: Vec<i32> = WEEKDAYS
        .iter()
        .filter(|d| f.checked(&format!("booking.repeat_on.{}", d.as_str_name())))
        .map(|d| *d as i32)
        .collect();
    if form.has_errors() {
        return calendar_page(ctx, form).await;
    }
    let equipment_ids = booking.equipment_ids.clone();
    let answer = ctx
        .resources()
        .create_booking_series(res::CreateBookingSeriesRequest {
            series: Some(res::BookingSeries {
                template: Some(booking),
                recurrence: Some(res::Recurrence {
                    frequency: enum_value!(res::Frequency, f.get("booking.repeat")),
                    interval: interval.unwrap_or(1) as i32,
                    weekdays,
                    count: count.unwrap_or(0) as i32,
                    until,
                    skip_closed_days: f.checked("booking.repeat_skip_closed"),
                }),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await
        .map_err(|s| rename_booking_fields(s, &equipment_ids));
    match form.outcome(answer)? {
        Done(series) => ctx.redirect(&format!(
            "/coworking/series/{}?done=series_booked",
            series.id
        )),
        Again => calendar_page(ctx, name_clashes(form, lang, offset)).await,
    }
}

/// A refusal naming the times that clash (UTC, RFC 3339) names them again
/// the reader's way: the local days and hours, at the space's offset.
fn name_clashes(mut form: Form, lang: crate::i18n::Lang, offset: i32) -> Form {
    let mut clashes = Vec::new();
    for refusal in &form.refusals {
        let times: Vec<i64> = refusal
            .split([' ', ',', ';'])
            .filter_map(markaz_kit::time::parse_rfc3339)
            .collect();
        // "start to end" pairs.
        for pair in times.chunks(2) {
            let at = |micros: i64| prost_types::Timestamp {
                seconds: micros.div_euclid(1_000_000),
                nanos: 0,
            };
            let (day, start) = local(Some(&at(pair[0])), offset);
            let end = pair.get(1).map(|e| local(Some(&at(*e)), offset).1);
            let day = lang.date(Some(&Date::from_days(day).to_proto()));
            clashes.push(match end {
                Some(end) => format!("{day} {}", lang.digits(&format!("{start}–{end}"))),
                None => format!("{day} {}", lang.digits(&start)),
            });
        }
    }
    if !clashes.is_empty() {
        let separator = if lang == crate::i18n::Lang::Ar {
            "، "
        } else {
            ", "
        };
        form.refusals.push(format!(
            "{}: {}",
            lang.label("cw_clash_on"),
            clashes.join(separator)
        ));
    }
    form
}

/// The service's names of a booking's fields (and a series' template and
/// recurrence) as the booking form names them.
fn rename_booking_fields(status: tonic::Status, equipment_ids: &[String]) -> tonic::Status {
    crate::upstream::rename_violations(status, |field| {
        let field = field
            .strip_prefix("series.template.")
            .map(|rest| format!("booking.{rest}"))
            .unwrap_or_else(|| field.to_string());
        if let Some(rest) = field.strip_prefix("booking.equipment_ids[") {
            let index: usize = rest.split_once(']')?.0.parse().ok()?;
            return equipment_ids
                .get(index)
                .map(|id| format!("booking.equipment.{id}"));
        }
        Some(match field.as_str() {
            "booking.start_time" => "booking.from".to_string(),
            "booking.end_time" => "booking.until".to_string(),
            "series.recurrence.until" => "booking.repeat_until".to_string(),
            "series.recurrence.count" => "booking.repeat_count".to_string(),
            "series.recurrence.interval" => "booking.repeat_interval".to_string(),
            "series.recurrence.skip_closed_days" => "booking.repeat_skip_closed".to_string(),
            f if f.starts_with("series.recurrence.weekdays") => "booking.repeat_on".to_string(),
            f if f.starts_with("series.recurrence") => "booking.repeat".to_string(),
            _ => field,
        })
    })
}

async fn cancel(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(COWORKING)?;
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
    ctx.finish(
        form,
        answer,
        |_| format!("{back}&done=booking_cancelled"),
        |form| calendar_page(&ctx, form),
    )
    .await
}

// ---------------------------------------------------------------- series

/// A booking series: what each occurrence books, how it repeats, every
/// occurrence with its status at the space's local time; cancelling the
/// occurrences not started yet. The service decides who sees it (staff, the
/// organization's partner, the trainer who booked it): NOT_FOUND otherwise.
async fn series(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(COWORKING)?;
    series_page(&ctx, &id, Form::new()).await
}

async fn series_page(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let series = ctx
        .resources()
        .get_booking_series(res::GetBookingSeriesRequest { id: id.to_string() })
        .await?
        .into_inner();
    let template = series.template.clone().unwrap_or_default();
    let spaces = all_spaces(ctx).await?;
    let space = spaces.iter().find(|s| s.id == template.space_id);
    let offset = space.map_or(180, |s| s.utc_offset_minutes);
    let branch = space.map(|s| s.branch_id.clone()).unwrap_or_default();
    let equipment = equipment_of(ctx, &branch, true).await?;
    let organization = if template.organization_id.is_empty() || !is_staff(ctx) {
        String::new()
    } else {
        organization_choices(ctx)
            .await?
            .into_iter()
            .find(|o| o.value == template.organization_id)
            .map(|o| o.label)
            .unwrap_or_default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut open = 0;
    let occurrences: Vec<Value> = series
        .bookings
        .iter()
        .map(|b| {
            let (day, start) = local(b.start_time.as_ref(), offset);
            let (_, end) = local(b.end_time.as_ref(), offset);
            let date = Date::from_days(day).to_proto();
            let ahead = b.status == res::BookingStatus::Confirmed as i32
                && b.start_time.as_ref().is_some_and(|t| t.seconds > now);
            if ahead {
                open += 1;
            }
            context! {
                id => b.id,
                day => lang.date(Some(&date)),
                week => date_value(Some(&date)),
                time => lang.digits(&format!("{start}–{end}")),
                status => enum_name!(res::BookingStatus, b.status),
                reason => b.cancel_reason,
                ahead => ahead,
            }
        })
        .collect();
    let recurrence = series.recurrence.clone().unwrap_or_default();
    ctx.render_form(
        "booking_series.html",
        form,
        context! {
            id => series.id,
            space => space.map(|s| lang.text(s.name.as_ref())).unwrap_or_default(),
            branch => branch,
            organization => organization,
            purpose => enum_name!(res::BookingPurpose, template.purpose),
            purpose_note => template.purpose_note,
            equipment => equipment_names(lang, &equipment, &template.equipment_ids),
            frequency => enum_name!(res::Frequency, recurrence.frequency),
            interval => (recurrence.interval > 1).then(|| lang.number(recurrence.interval.into())),
            on_days => recurrence
                .weekdays
                .iter()
                .filter_map(|d| res::Weekday::try_from(*d).ok())
                .map(|d| lang.label(d.as_str_name()))
                .collect::<Vec<_>>()
                .join(if lang == crate::i18n::Lang::Ar { "، " } else { ", " }),
            until => lang.date(recurrence.until.as_ref()),
            count => (recurrence.count > 0).then(|| lang.number(recurrence.count.into())),
            occurrences => occurrences,
            total => lang.number(series.bookings.len() as i64),
            open => open,
            done => ctx.q("done"),
        },
    )
}

/// Cancels the occurrences of a series that have not started yet
/// (`CancelBookingSeries`, with a reason); the past stays as it was.
async fn cancel_series(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(COWORKING)?;
    let answer = ctx
        .resources()
        .cancel_booking_series(res::CancelBookingSeriesRequest {
            id: id.clone(),
            reason: f.get("reason").trim().to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |s| format!("/coworking/series/{}?done=series_cancelled", s.id),
        |form| series_page(&ctx, &id, form),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use tonic_types::StatusExt;

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

    #[test]
    fn labels_exist_for_every_equipment_kind_and_frequency() {
        for name in enum_names!(res::EquipmentKind)
            .into_iter()
            .chain(enum_names!(res::Frequency))
            .chain(enum_names!(res::BookingStatus))
        {
            assert_ne!(Lang::Ar.label(name), name, "{name}");
            assert_ne!(Lang::En.label(name), name, "{name}");
        }
    }

    #[test]
    fn a_clash_is_named_at_the_space_s_local_time() {
        let mut form = Form::new();
        form.refusals.push(
            "the space or equipment is already booked: 2026-03-21T07:00:00Z to 2026-03-21T09:00:00Z"
                .to_string(),
        );
        let form = name_clashes(form, Lang::En, 180);
        let last = form.refusals.last().unwrap();
        assert!(last.contains("21 Mar 2026 10:00–12:00"), "{last}");
    }

    #[test]
    fn the_service_s_series_fields_land_on_the_booking_form() {
        let mut details = tonic_types::ErrorDetails::new();
        details
            .add_bad_request_violation("series.template.start_time", "x")
            .add_bad_request_violation("series.recurrence.until", "x")
            .add_bad_request_violation("booking.equipment_ids[1]", "x")
            .add_bad_request_violation("series.template.purpose", "x");
        let status =
            tonic::Status::with_error_details(tonic::Code::InvalidArgument, "bad", details);
        let renamed = rename_booking_fields(status, &["a".into(), "b".into()]);
        let fields: Vec<String> = crate::upstream::field_violations(&renamed)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "booking.from",
                "booking.repeat_until",
                "booking.equipment.b",
                "booking.purpose"
            ]
        );
    }
}
