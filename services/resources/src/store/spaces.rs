//! Spaces with their weekly hours, equipment, closures.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::LocalizedText;
use sqlx::AssertSqlSafe;

use super::{flag, versioned};
use crate::domain::spaces::{
    BookableBy, ClosureFields, EquipmentFields, EquipmentKind, Opening, Schedule, SpaceFields,
    SpaceKind, Weekday,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub tenant_id: String,
    pub id: String,
    pub fields: SpaceFields,
    /// Equipment fixed in it.
    pub equipment_ids: Vec<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const SPACE_COLUMNS: &str = "s.tenant_id, s.id, s.branch_id, s.kind, s.name_ar, s.name_en, \
    s.description_ar, s.description_en, s.capacity, s.utc_offset_minutes, s.bookable_by, \
    s.shared, s.max_booking_minutes, s.max_days_ahead, s.archived, s.version, s.created_at, \
    s.updated_at";

#[derive(sqlx::FromRow)]
struct StoredSpace {
    tenant_id: String,
    id: String,
    branch_id: String,
    kind: String,
    name_ar: String,
    name_en: String,
    description_ar: String,
    description_en: String,
    capacity: i64,
    utc_offset_minutes: i64,
    bookable_by: String,
    shared: i64,
    max_booking_minutes: i64,
    max_days_ahead: i64,
    archived: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredHours {
    space_id: String,
    weekday: i64,
    opens_minute: i64,
    closes_minute: i64,
}

#[derive(sqlx::FromRow)]
struct FixedEquipment {
    space_id: String,
    id: String,
}

fn weekday(n: i64) -> Result<Weekday> {
    Weekday::try_from(n as i32)
        .ok()
        .filter(|w| *w != Weekday::Unspecified)
        .ok_or_else(|| Error::internal(format!("stored weekday {n}")))
}

/// Which spaces a caller sees: its tenant's, and those other tenants share
/// (`$1` the tenant).
const VISIBLE: &str = "(s.tenant_id = $1 OR s.shared = 1)";

async fn load(tx: &mut Tx, rows: Vec<StoredSpace>) -> Result<Vec<Space>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let hours: Vec<StoredHours> = tx
        .rows_for_ids(
            "SELECT space_id, weekday, opens_minute, closes_minute FROM space_hours
         WHERE ($1 = $1) AND space_id IN ({ids}) ORDER BY weekday, opens_minute",
            &ids,
        )
        .await?;
    let fixed: Vec<FixedEquipment> = tx.rows_for_ids(
        "SELECT space_id, id FROM equipment WHERE ($1 = $1) AND space_id IN ({ids}) ORDER BY id",
        &ids,
    )
    .await?;
    let mut hours_of: HashMap<String, Vec<Opening>> = HashMap::new();
    for h in hours {
        hours_of.entry(h.space_id).or_default().push(Opening {
            weekday: weekday(h.weekday)?,
            opens: h.opens_minute as i32,
            closes: h.closes_minute as i32,
        });
    }
    let mut fixed_of: HashMap<String, Vec<String>> = HashMap::new();
    for f in fixed {
        fixed_of.entry(f.space_id).or_default().push(f.id);
    }
    rows.into_iter()
        .map(|r| {
            Ok(Space {
                fields: SpaceFields {
                    branch_id: r.branch_id,
                    kind: stored(&r.kind, SpaceKind::from_str_name)?,
                    name: LocalizedText {
                        ar: r.name_ar,
                        en: r.name_en,
                    },
                    description: LocalizedText {
                        ar: r.description_ar,
                        en: r.description_en,
                    },
                    capacity: r.capacity as i32,
                    opening_hours: hours_of.remove(&r.id).unwrap_or_default(),
                    utc_offset_minutes: r.utc_offset_minutes as i32,
                    bookable_by: stored(&r.bookable_by, BookableBy::from_str_name)?,
                    shared_with_consortium: r.shared != 0,
                    max_booking_minutes: r.max_booking_minutes as i32,
                    max_days_ahead: r.max_days_ahead as i32,
                    archived: r.archived != 0,
                },
                equipment_ids: fixed_of.remove(&r.id).unwrap_or_default(),
                tenant_id: r.tenant_id,
                id: r.id,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

/// The space `id`: the tenant's own, or one another tenant shares.
#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Space>> {
    let rows: Vec<StoredSpace> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SPACE_COLUMNS} FROM spaces s WHERE s.id = $2 AND {VISIBLE}"
    )))
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    Ok(load(tx, rows).await?.pop())
}

#[derive(Debug, Clone, Default)]
pub struct SpaceFilter {
    pub branch_id: String,
    pub kind: String,
    pub min_capacity: i64,
    pub include_archived: bool,
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    filter: &SpaceFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<Space>, Total)> {
    // A center's rooms and those shared with it: counted exactly, by the
    // same conditions before the page's cursor.
    let mut w = Where::across_tenants(tx.tenant());
    w.fixed(VISIBLE);
    w.eq("s.branch_id", &filter.branch_id)
        .eq("s.kind", &filter.kind);
    let capacity = w.param(filter.min_capacity);
    w.fixed(&format!("s.capacity >= {capacity}"));
    if !filter.include_archived {
        w.fixed("s.archived = 0");
    }
    let total = w.count(tx, "spaces s").await?;
    w.compare("s.id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {SPACE_COLUMNS} FROM spaces s {} ORDER BY s.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredSpace> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((load(tx, rows).await?, total))
}

async fn put_hours(tx: &mut Tx, space_id: &str, hours: &[Opening]) -> Result<()> {
    sqlx::query("DELETE FROM space_hours WHERE tenant_id = $1 AND space_id = $2")
        .bind(tx.tenant().to_owned())
        .bind(space_id.to_owned())
        .execute(tx.conn())
        .await?;
    for h in hours {
        sqlx::query(
            "INSERT INTO space_hours (tenant_id, space_id, weekday, opens_minute, closes_minute)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tx.tenant().to_owned())
        .bind(space_id.to_owned())
        .bind(h.weekday as i64)
        .bind(i64::from(h.opens))
        .bind(i64::from(h.closes))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, id: &str, f: &SpaceFields) -> Result<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO spaces (tenant_id, id, branch_id, kind, name_ar, name_en, description_ar,
            description_en, capacity, utc_offset_minutes, bookable_by, shared,
            max_booking_minutes, max_days_ahead, archived, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $16)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .bind(f.branch_id.clone())
    .bind(f.kind.as_str_name())
    .bind(f.name.ar.clone())
    .bind(f.name.en.clone())
    .bind(f.description.ar.clone())
    .bind(f.description.en.clone())
    .bind(i64::from(f.capacity))
    .bind(i64::from(f.utc_offset_minutes))
    .bind(f.bookable_by.as_str_name())
    .bind(flag(f.shared_with_consortium))
    .bind(i64::from(f.max_booking_minutes))
    .bind(i64::from(f.max_days_ahead))
    .bind(flag(f.archived))
    .bind(now)
    .execute(tx.conn())
    .await?;
    put_hours(tx, id, &f.opening_hours).await
}

#[tracing::instrument(skip(tx, current, f))]
pub async fn update(tx: &mut Tx, current: &Space, f: &SpaceFields) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE spaces SET kind = $3, name_ar = $4, name_en = $5, description_ar = $6,
                description_en = $7, capacity = $8, utc_offset_minutes = $9, bookable_by = $10,
                shared = $11, max_booking_minutes = $12, max_days_ahead = $13, archived = $14,
                version = version + 1, updated_at = $15
             WHERE tenant_id = $1 AND id = $2 AND version = $16",
        )
        .bind(tx.tenant().to_owned())
        .bind(current.id.clone())
        .bind(f.kind.as_str_name())
        .bind(f.name.ar.clone())
        .bind(f.name.en.clone())
        .bind(f.description.ar.clone())
        .bind(f.description.en.clone())
        .bind(i64::from(f.capacity))
        .bind(i64::from(f.utc_offset_minutes))
        .bind(f.bookable_by.as_str_name())
        .bind(flag(f.shared_with_consortium))
        .bind(i64::from(f.max_booking_minutes))
        .bind(i64::from(f.max_days_ahead))
        .bind(flag(f.archived))
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    put_hours(tx, &current.id, &f.opening_hours).await
}

/// The spaces of the tenant in a branch whose name (either language) is
/// `venue` as written, or whose id it is: how a course's venue names its
/// room.
#[tracing::instrument(skip(tx))]
pub async fn by_venue(tx: &mut Tx, branch_id: &str, venue: &str) -> Result<Vec<Space>> {
    let rows: Vec<StoredSpace> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SPACE_COLUMNS} FROM spaces s WHERE s.tenant_id = $1 AND s.archived = 0
            AND ($2 = '' OR s.branch_id = $2) AND (s.id = $3 OR s.name_ar = $3 OR s.name_en = $3)
         ORDER BY s.id"
    )))
    .bind(tx.tenant().to_owned())
    .bind(branch_id.to_owned())
    .bind(venue.to_owned())
    .fetch_all(tx.conn())
    .await?;
    load(tx, rows).await
}

// -------------------------------------------------------------- equipment

#[derive(Debug, Clone, PartialEq)]
pub struct Equipment {
    pub tenant_id: String,
    pub id: String,
    pub fields: EquipmentFields,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const EQUIPMENT_COLUMNS: &str = "tenant_id, id, branch_id, kind, name_ar, name_en, space_id, \
    bookable, archived, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct StoredEquipment {
    tenant_id: String,
    id: String,
    branch_id: String,
    kind: String,
    name_ar: String,
    name_en: String,
    space_id: String,
    bookable: i64,
    archived: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<StoredEquipment> for Equipment {
    type Error = Error;
    fn try_from(r: StoredEquipment) -> Result<Equipment> {
        Ok(Equipment {
            fields: EquipmentFields {
                branch_id: r.branch_id,
                kind: stored(&r.kind, EquipmentKind::from_str_name)?,
                name: LocalizedText {
                    ar: r.name_ar,
                    en: r.name_en,
                },
                space_id: r.space_id,
                bookable: r.bookable != 0,
                archived: r.archived != 0,
            },
            tenant_id: r.tenant_id,
            id: r.id,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[tracing::instrument(skip(tx))]
pub async fn get_equipment(tx: &mut Tx, id: &str) -> Result<Option<Equipment>> {
    tx.find_as::<StoredEquipment, _>(
        AssertSqlSafe(format!(
            "SELECT {EQUIPMENT_COLUMNS} FROM equipment WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

/// Equipment of the tenant `owner` (a shared space's owner), by ids.
#[tracing::instrument(skip(tx))]
pub async fn equipment_of(tx: &mut Tx, owner: &str, ids: &[String]) -> Result<Vec<Equipment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = sqlx::query_as::<_, StoredEquipment>(AssertSqlSafe(format!(
        "SELECT {EQUIPMENT_COLUMNS} FROM equipment WHERE tenant_id = $1 AND id IN ({})",
        super::placeholders(2, ids.len())
    )))
    .bind(owner.to_owned());
    for id in ids {
        q = q.bind(id.clone());
    }
    q.fetch_all(tx.conn())
        .await?
        .into_iter()
        .map(Equipment::try_from)
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct EquipmentFilter {
    pub branch_id: String,
    pub space_id: String,
    pub kind: String,
    pub include_archived: bool,
}

#[tracing::instrument(skip(tx))]
pub async fn list_equipment(
    tx: &mut Tx,
    filter: &EquipmentFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<Equipment>, Total)> {
    // A center's equipment: counted exactly, by the same conditions before
    // the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("branch_id", &filter.branch_id)
        .eq("space_id", &filter.space_id)
        .eq("kind", &filter.kind);
    if !filter.include_archived {
        w.fixed("archived = 0");
    }
    let total = w.count(tx, "equipment").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {EQUIPMENT_COLUMNS} FROM equipment {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredEquipment> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(Equipment::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert_equipment(tx: &mut Tx, id: &str, f: &EquipmentFields) -> Result<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO equipment (tenant_id, id, branch_id, kind, name_ar, name_en, space_id,
            bookable, archived, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .bind(f.branch_id.clone())
    .bind(f.kind.as_str_name())
    .bind(f.name.ar.clone())
    .bind(f.name.en.clone())
    .bind(f.space_id.clone())
    .bind(flag(f.bookable))
    .bind(flag(f.archived))
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx, current, f))]
pub async fn update_equipment(tx: &mut Tx, current: &Equipment, f: &EquipmentFields) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE equipment SET kind = $3, name_ar = $4, name_en = $5, space_id = $6,
                bookable = $7, archived = $8, version = version + 1, updated_at = $9
             WHERE tenant_id = $1 AND id = $2 AND version = $10",
        )
        .bind(tx.tenant().to_owned())
        .bind(current.id.clone())
        .bind(f.kind.as_str_name())
        .bind(f.name.ar.clone())
        .bind(f.name.en.clone())
        .bind(f.space_id.clone())
        .bind(flag(f.bookable))
        .bind(flag(f.archived))
        .bind(now_micros())
        .bind(current.version),
    )
    .await
}

// --------------------------------------------------------------- closures

#[derive(Debug, Clone, PartialEq)]
pub struct Closure {
    pub id: String,
    pub fields: ClosureFields,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredClosure {
    id: String,
    branch_id: String,
    space_id: String,
    #[sqlx(try_from = "String")]
    first_day: Date,
    #[sqlx(try_from = "String")]
    last_day: Date,
    reason_ar: String,
    reason_en: String,
    created_at: i64,
}

impl From<StoredClosure> for Closure {
    fn from(r: StoredClosure) -> Closure {
        Closure {
            id: r.id,
            fields: ClosureFields {
                branch_id: r.branch_id,
                space_id: r.space_id,
                first_day: r.first_day,
                last_day: r.last_day,
                reason: LocalizedText {
                    ar: r.reason_ar,
                    en: r.reason_en,
                },
            },
            created_at: r.created_at,
        }
    }
}

const CLOSURE_COLUMNS: &str =
    "id, branch_id, space_id, first_day, last_day, reason_ar, reason_en, created_at";

#[tracing::instrument(skip(tx, f))]
pub async fn insert_closure(tx: &mut Tx, id: &str, f: &ClosureFields, by: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO closures (tenant_id, id, branch_id, space_id, first_day, last_day,
            reason_ar, reason_en, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .bind(f.branch_id.clone())
    .bind(f.space_id.clone())
    .bind(f.first_day.to_string())
    .bind(f.last_day.to_string())
    .bind(f.reason.ar.clone())
    .bind(f.reason.en.clone())
    .bind(by.to_owned())
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn get_closure(tx: &mut Tx, id: &str) -> Result<Option<Closure>> {
    let row: Option<StoredClosure> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {CLOSURE_COLUMNS} FROM closures WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(Closure::from))
}

#[tracing::instrument(skip(tx))]
pub async fn delete_closure(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM closures WHERE tenant_id = $1 AND id = $2")
        .bind(tx.tenant().to_owned())
        .bind(id.to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Closures of the tenant `owner` touching `[from, until]` (either ""), of
/// the branch (and of one space of it and the whole branch, when
/// `space_id` is set), in day order after the closure `after`.
#[tracing::instrument(skip(tx))]
#[allow(clippy::too_many_arguments)]
pub async fn list_closures(
    tx: &mut Tx,
    owner: &str,
    branch_id: &str,
    space_id: &str,
    from: &str,
    until: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<Closure>, Total)> {
    // A center's closures, a few a year: counted exactly, by the same
    // conditions before the page's cursor.
    let w = closures_touching(owner, branch_id, space_id, from, until);
    let total = w.count(tx, "closures").await?;
    Ok((closure_page(tx, w, after, limit).await?, total))
}

/// The conditions of [`list_closures`].
fn closures_touching(
    owner: &str,
    branch_id: &str,
    space_id: &str,
    from: &str,
    until: &str,
) -> Where {
    let mut w = Where::tenant("tenant_id", owner);
    w.eq("branch_id", branch_id)
        .clause("(space_id = '' OR space_id = {})", space_id)
        .compare("last_day", ">=", from)
        .compare("first_day", "<=", until);
    w
}

/// The closures `w` names after the closure `after`, in id order.
#[tracing::instrument(skip(tx, w))]
async fn closure_page(tx: &mut Tx, mut w: Where, after: &str, limit: i64) -> Result<Vec<Closure>> {
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {CLOSURE_COLUMNS} FROM closures {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredClosure> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(Closure::from).collect())
}

/// The schedule of a space: its hours, its offset, and every closure of it
/// and of its whole branch.
#[tracing::instrument(skip_all)]
pub async fn schedule(tx: &mut Tx, space: &Space) -> Result<Schedule> {
    // Every closure, uncounted: a schedule is read on every booking.
    let closures = closure_page(
        tx,
        closures_touching(&space.tenant_id, &space.fields.branch_id, &space.id, "", ""),
        "",
        10_000,
    )
    .await?;
    Ok(Schedule {
        utc_offset_minutes: space.fields.utc_offset_minutes,
        opening_hours: space.fields.opening_hours.clone(),
        closures: closures
            .into_iter()
            .map(|c| (c.fields.first_day, c.fields.last_day))
            .collect(),
    })
}
