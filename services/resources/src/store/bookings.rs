//! Bookings, their series, and the overlap guard's slots.
//!
//! A booking's row belongs to the tenant that made it; `booking_slots`
//! holds one row per space or piece of equipment it holds, with nothing but
//! ids and times, and the database refuses a slot that overlaps another of
//! the same resource (PostgreSQL's exclusion constraint, SQLite's trigger).
//! That refusal is the guard: nothing here checks before inserting.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use sqlx::AssertSqlSafe;

use super::{is_overlap, placeholders, versioned};
use crate::domain::bookings::{BookingFields, BookingPurpose, BookingStatus, Span};

#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub tenant_id: String,
    pub id: String,
    pub space_tenant_id: String,
    pub series_id: String,
    pub course_id: String,
    pub fields: BookingFields,
    pub status: BookingStatus,
    pub actual_attendance: i64,
    pub cancel_reason: String,
    pub booked_by: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const BOOKING_COLUMNS: &str = "b.tenant_id, b.id, b.space_tenant_id, b.space_id, b.series_id, \
    b.course_id, b.organization_id, b.purpose, b.purpose_note, b.expected_attendance, \
    b.starts_at, b.ends_at, b.notes, b.status, b.actual_attendance, b.cancel_reason, \
    b.booked_by, b.version, b.created_at, b.updated_at";

#[derive(sqlx::FromRow)]
struct StoredBooking {
    tenant_id: String,
    id: String,
    space_tenant_id: String,
    space_id: String,
    series_id: String,
    course_id: String,
    organization_id: String,
    purpose: String,
    purpose_note: String,
    expected_attendance: i64,
    starts_at: i64,
    ends_at: i64,
    notes: String,
    status: String,
    actual_attendance: i64,
    cancel_reason: String,
    booked_by: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct Slot {
    booking_id: String,
    resource_id: String,
}

/// Reads the page's equipment (the slots that are not the space's) in one
/// statement.
async fn load(tx: &mut Tx, rows: Vec<StoredBooking>) -> Result<Vec<Booking>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let slots: Vec<Slot> = tx
        .rows_for_ids(
            "SELECT booking_id, resource_id FROM booking_slots
         WHERE ($1 = $1) AND booking_id IN ({ids}) ORDER BY resource_id",
            &ids,
        )
        .await?;
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    for s in slots {
        held.entry(s.booking_id).or_default().push(s.resource_id);
    }
    // Cancelled bookings hold no slots; their equipment is in `equipment`
    // of the series template only. What they held is gone with the slots.
    rows.into_iter()
        .map(|r| {
            let equipment_ids = held
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .filter(|id| *id != r.space_id)
                .collect();
            Ok(Booking {
                fields: BookingFields {
                    space_id: r.space_id,
                    equipment_ids,
                    organization_id: r.organization_id,
                    purpose: stored(&r.purpose, BookingPurpose::from_str_name)?,
                    purpose_note: r.purpose_note,
                    expected_attendance: r.expected_attendance as i32,
                    span: Span {
                        start: r.starts_at,
                        end: r.ends_at,
                    },
                    notes: r.notes,
                },
                status: stored(&r.status, BookingStatus::from_str_name)?,
                tenant_id: r.tenant_id,
                id: r.id,
                space_tenant_id: r.space_tenant_id,
                series_id: r.series_id,
                course_id: r.course_id,
                actual_attendance: r.actual_attendance,
                cancel_reason: r.cancel_reason,
                booked_by: r.booked_by,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// Which bookings a caller sees (`$1` the tenant, `$2` whose, `$3` how):
/// staff (`$3` = 1) the tenant's and those other tenants made of its own
/// spaces; a partner (0) its organization's (`$2`); anyone else (2) — a
/// trainer — the ones it booked itself (`$2` its subject).
const VISIBLE: &str = "((b.tenant_id = $1 AND ($3 = 1 OR ($3 = 0 AND b.organization_id = $2)
        OR ($3 = 2 AND b.booked_by = $2)))
    OR ($3 = 1 AND b.space_tenant_id = $1))";

/// Whom a read of bookings is for.
#[derive(Debug, Clone)]
pub struct Viewer {
    who: String,
    mode: i64,
}

impl Viewer {
    /// The tenant's staff.
    pub fn staff() -> Viewer {
        Viewer {
            who: String::new(),
            mode: 1,
        }
    }

    /// A partner organization's member.
    pub fn partner(organization: &str) -> Viewer {
        Viewer {
            who: organization.to_string(),
            mode: 0,
        }
    }

    /// Someone who sees what it booked itself (a trainer).
    pub fn booker(subject: &str) -> Viewer {
        Viewer {
            who: subject.to_string(),
            mode: 2,
        }
    }
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, viewer: &Viewer, id: &str) -> Result<Option<Booking>> {
    let rows: Vec<StoredBooking> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings b WHERE b.id = $4 AND {VISIBLE}"
    )))
    .bind(tx.tenant().to_owned())
    .bind(viewer.who.clone())
    .bind(viewer.mode)
    .bind(id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    Ok(load(tx, rows).await?.pop())
}

#[derive(Debug, Clone, Default)]
pub struct BookingFilter {
    pub space_id: String,
    pub organization_id: String,
    pub branch_id: String,
    pub status: String,
    pub from: Option<i64>,
    pub until: Option<i64>,
    pub series_id: String,
}

/// A page in start-time order: the key is `starts_at:id` of the last row.
#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    viewer: &Viewer,
    filter: &BookingFilter,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<(Vec<Booking>, Total)> {
    // Who sees which first (`$1`, `$2`, `$3` of [`VISIBLE`]), then only the
    // filters that are set. The same conditions count the list — capped,
    // as bookings accrue with every day of use — before the page's cursor.
    let mut w = Where::across_tenants(tx.tenant());
    w.param(viewer.who.clone());
    w.param(viewer.mode);
    w.fixed(VISIBLE);
    w.eq("b.space_id", &filter.space_id)
        .eq("b.organization_id", &filter.organization_id)
        .clause(
            "EXISTS (SELECT 1 FROM spaces s WHERE s.id = b.space_id AND s.branch_id = {})",
            &filter.branch_id,
        )
        .eq("b.status", &filter.status)
        .eq("b.series_id", &filter.series_id);
    if let Some(from) = filter.from {
        let from = w.param(from);
        w.fixed(&format!("b.ends_at > {from}"));
    }
    if let Some(until) = filter.until {
        let until = w.param(until);
        w.fixed(&format!("b.starts_at < {until}"));
    }
    let total = w.count_capped(tx, "bookings b").await?;
    if let Some((start, id)) = after {
        let (start, id) = (w.param(start), w.param(id));
        w.fixed(&format!(
            "(b.starts_at > {start} OR (b.starts_at = {start} AND b.id > {id}))"
        ));
    }
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings b {} ORDER BY b.starts_at, b.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredBooking> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((load(tx, rows).await?, total))
}

/// What a new booking is besides its fields.
#[derive(Debug, Clone)]
pub struct NewBooking<'a> {
    pub id: &'a str,
    pub space_tenant_id: &'a str,
    pub series_id: &'a str,
    pub course_id: &'a str,
    pub booked_by: &'a str,
}

/// Inserts a confirmed booking and its slots. An overlap the database
/// refuses is `Ok(false)`, and the transaction must then be given up (on
/// PostgreSQL it is aborted).
#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, new: &NewBooking<'_>, f: &BookingFields) -> Result<bool> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO bookings (tenant_id, id, space_tenant_id, space_id, series_id, course_id,
            organization_id, purpose, purpose_note, expected_attendance, starts_at, ends_at,
            notes, status, booked_by, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
            'BOOKING_STATUS_CONFIRMED', $14, 1, $15, $15)",
    )
    .bind(tx.tenant().to_owned())
    .bind(new.id.to_owned())
    .bind(new.space_tenant_id.to_owned())
    .bind(f.space_id.clone())
    .bind(new.series_id.to_owned())
    .bind(new.course_id.to_owned())
    .bind(f.organization_id.clone())
    .bind(f.purpose.as_str_name())
    .bind(f.purpose_note.clone())
    .bind(i64::from(f.expected_attendance))
    .bind(f.span.start)
    .bind(f.span.end)
    .bind(f.notes.clone())
    .bind(new.booked_by.to_owned())
    .bind(now)
    .execute(tx.conn())
    .await?;
    hold(tx, new.id, f).await
}

/// Inserts the slots of a booking: its space and its equipment.
async fn hold(tx: &mut Tx, booking_id: &str, f: &BookingFields) -> Result<bool> {
    for resource in std::iter::once(&f.space_id).chain(f.equipment_ids.iter()) {
        let done = sqlx::query(
            "INSERT INTO booking_slots (booking_id, resource_id, starts_at, ends_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(booking_id.to_owned())
        .bind(resource.clone())
        .bind(f.span.start)
        .bind(f.span.end)
        .execute(tx.conn())
        .await
        .map_err(Error::from);
        match done {
            Ok(_) => {}
            Err(e) if is_overlap(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Lets go of a booking's slots (cancelled, or rescheduled).
async fn release(tx: &mut Tx, booking_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM booking_slots WHERE booking_id = $1")
        .bind(booking_id.to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The spans among `spans` that some slot of `resources` overlaps: to name
/// the dates of a series that clash (the slots carry no owner). Not the
/// guard: the insert that follows is.
#[tracing::instrument(skip_all)]
pub async fn clashing(tx: &mut Tx, resources: &[String], spans: &[Span]) -> Result<Vec<Span>> {
    if resources.is_empty() || spans.is_empty() {
        return Ok(Vec::new());
    }
    let from = spans.iter().map(|s| s.start).min().unwrap_or(0);
    let until = spans.iter().map(|s| s.end).max().unwrap_or(0);
    let mut q = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(format!(
        "SELECT starts_at, ends_at FROM booking_slots WHERE starts_at < $1 AND ends_at > $2
            AND resource_id IN ({})",
        placeholders(3, resources.len())
    )))
    .bind(until)
    .bind(from);
    for r in resources {
        q = q.bind(r.clone());
    }
    let taken: Vec<Span> = q
        .fetch_all(tx.conn())
        .await?
        .into_iter()
        .map(|(start, end)| Span { start, end })
        .collect();
    Ok(spans
        .iter()
        .filter(|s| taken.iter().any(|t| t.overlaps(s)))
        .copied()
        .collect())
}

/// The busy intervals of a resource in `[from, until)`, from the slots:
/// anyone's, without owner.
#[tracing::instrument(skip(tx))]
pub async fn busy(tx: &mut Tx, resource_id: &str, from: i64, until: i64) -> Result<Vec<Span>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT starts_at, ends_at FROM booking_slots WHERE resource_id = $1
            AND starts_at < $2 AND ends_at > $3 ORDER BY starts_at",
    )
    .bind(resource_id.to_owned())
    .bind(until)
    .bind(from)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(start, end)| Span { start, end })
        .collect())
}

/// Writes a booking's changed fields; a new time or equipment re-takes its
/// slots (`Ok(false)`: the guard refused them).
#[tracing::instrument(skip_all)]
pub async fn update(
    tx: &mut Tx,
    current: &Booking,
    f: &BookingFields,
    reslot: bool,
) -> Result<bool> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE bookings SET purpose = $3, purpose_note = $4, expected_attendance = $5,
                starts_at = $6, ends_at = $7, notes = $8, version = version + 1, updated_at = $9
             WHERE tenant_id = $1 AND id = $2 AND version = $10",
        )
        .bind(tx.tenant().to_owned())
        .bind(current.id.clone())
        .bind(f.purpose.as_str_name())
        .bind(f.purpose_note.clone())
        .bind(i64::from(f.expected_attendance))
        .bind(f.span.start)
        .bind(f.span.end)
        .bind(f.notes.clone())
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    if !reslot {
        return Ok(true);
    }
    release(tx, &current.id).await?;
    hold(tx, &current.id, f).await
}

/// Moves the booking to `status` (by its owner's tenant or its space's):
/// cancelling lets go of its slots.
#[tracing::instrument(skip(tx, current))]
pub async fn set_status(
    tx: &mut Tx,
    current: &Booking,
    status: BookingStatus,
    actual_attendance: i64,
    cancel_reason: &str,
) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE bookings SET status = $2, actual_attendance = $3, cancel_reason = $4,
                version = version + 1, updated_at = $5
             WHERE id = $1 AND version = $6 AND (tenant_id = $7 OR space_tenant_id = $7)",
        )
        .bind(current.id.clone())
        .bind(status.as_str_name())
        .bind(actual_attendance)
        .bind(cancel_reason.to_owned())
        .bind(now_micros())
        .bind(current.version)
        .bind(tx.tenant().to_owned()),
    )
    .await?;
    if status == BookingStatus::Cancelled {
        release(tx, &current.id).await?;
    }
    Ok(())
}

/// Live bookings of the tenant made for a course.
#[tracing::instrument(skip(tx))]
pub async fn of_course(tx: &mut Tx, course_id: &str) -> Result<Vec<Booking>> {
    let rows: Vec<StoredBooking> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings b WHERE b.tenant_id = $1 AND b.course_id = $2
            AND b.status = 'BOOKING_STATUS_CONFIRMED' ORDER BY b.starts_at"
    )))
    .bind(tx.tenant().to_owned())
    .bind(course_id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    load(tx, rows).await
}

/// Bookings of the tenant's own spaces (whoever made them) starting in
/// `[from, until)`, of a branch and space when set: for the usage report
/// and the closures.
#[tracing::instrument(skip(tx))]
pub async fn of_own_spaces(
    tx: &mut Tx,
    branch_id: &str,
    space_id: &str,
    from: i64,
    until: i64,
) -> Result<Vec<Booking>> {
    let rows: Vec<StoredBooking> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings b WHERE b.space_tenant_id = $1
            AND ($2 = '' OR EXISTS (SELECT 1 FROM spaces s WHERE s.id = b.space_id
                AND s.branch_id = $2))
            AND ($3 = '' OR b.space_id = $3) AND b.starts_at < $5 AND b.ends_at > $4
         ORDER BY b.starts_at, b.id"
    )))
    .bind(tx.tenant().to_owned())
    .bind(branch_id.to_owned())
    .bind(space_id.to_owned())
    .bind(from)
    .bind(until)
    .fetch_all(tx.conn())
    .await?;
    load(tx, rows).await
}

// ----------------------------------------------------------------- series

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Series {
    pub id: String,
    pub space_id: String,
    pub frequency: String,
    pub interval_count: i64,
    pub weekdays: String,
    pub occurrence_count: i64,
    pub until_day: String,
    pub skip_closed_days: i64,
    pub created_by: String,
    pub created_at: i64,
}

#[tracing::instrument(skip_all)]
pub async fn insert_series(tx: &mut Tx, s: &Series) -> Result<()> {
    sqlx::query(
        "INSERT INTO booking_series (tenant_id, id, space_id, frequency, interval_count,
            weekdays, occurrence_count, until_day, skip_closed_days, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tx.tenant().to_owned())
    .bind(s.id.clone())
    .bind(s.space_id.clone())
    .bind(s.frequency.clone())
    .bind(s.interval_count)
    .bind(s.weekdays.clone())
    .bind(s.occurrence_count)
    .bind(s.until_day.clone())
    .bind(s.skip_closed_days)
    .bind(s.created_by.clone())
    .bind(s.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn get_series(tx: &mut Tx, id: &str) -> Result<Option<Series>> {
    Ok(sqlx::query_as(
        "SELECT id, space_id, frequency, interval_count, weekdays, occurrence_count, until_day,
            skip_closed_days, created_by, created_at
         FROM booking_series WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .fetch_optional(tx.conn())
    .await?)
}
