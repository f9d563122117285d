//! Services the space gives organizations (internet, printing, legal
//! support), recorded per organization; voided, never deleted.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, now_micros};
use sqlx::AssertSqlSafe;

use crate::domain::services::{ServiceFields, SpaceServiceKind, unit_of};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub fields: ServiceFields,
    pub unit: String,
    pub voided: bool,
    pub void_reason: String,
    pub recorded_by: String,
    pub version: i64,
    pub created_at: i64,
}

const SERVICE_COLUMNS: &str = "id, organization_id, branch_id, kind, quantity, unit, \
    provided_on, booking_id, notes, voided, void_reason, recorded_by, version, created_at";

#[derive(sqlx::FromRow)]
struct StoredService {
    id: String,
    organization_id: String,
    branch_id: String,
    kind: String,
    quantity: i64,
    unit: String,
    #[sqlx(try_from = "String")]
    provided_on: Date,
    booking_id: String,
    notes: String,
    voided: i64,
    void_reason: String,
    recorded_by: String,
    version: i64,
    created_at: i64,
}

impl TryFrom<StoredService> for Service {
    type Error = Error;
    fn try_from(r: StoredService) -> Result<Service> {
        Ok(Service {
            fields: ServiceFields {
                organization_id: r.organization_id,
                branch_id: r.branch_id,
                kind: stored(&r.kind, SpaceServiceKind::from_str_name)?,
                quantity: r.quantity as i32,
                provided_on: r.provided_on,
                booking_id: r.booking_id,
                notes: r.notes,
            },
            id: r.id,
            unit: r.unit,
            voided: r.voided != 0,
            void_reason: r.void_reason,
            recorded_by: r.recorded_by,
            version: r.version,
            created_at: r.created_at,
        })
    }
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, id: &str, f: &ServiceFields, by: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO space_services (tenant_id, id, organization_id, branch_id, kind, quantity,
            unit, provided_on, booking_id, notes, recorded_by, version, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .bind(f.organization_id.clone())
    .bind(f.branch_id.clone())
    .bind(f.kind.as_str_name())
    .bind(i64::from(f.quantity))
    .bind(unit_of(f.kind))
    .bind(f.provided_on.to_string())
    .bind(f.booking_id.clone())
    .bind(f.notes.clone())
    .bind(by.to_owned())
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Service>> {
    tx.find_as::<StoredService, _>(
        AssertSqlSafe(format!(
            "SELECT {SERVICE_COLUMNS} FROM space_services WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub organization_id: String,
    pub branch_id: String,
    pub kind: String,
    pub from: String,
    pub until: String,
    pub include_voided: bool,
}

/// Newest first (keyset below `before`), and how many match.
#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    filter: &ServiceFilter,
    before: &str,
    limit: i64,
) -> Result<(Vec<Service>, Total)> {
    // Only the filters that are set are written. The same conditions count
    // the list — capped, as services accrue with every day of use — before
    // the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("organization_id", &filter.organization_id)
        .eq("branch_id", &filter.branch_id)
        .eq("kind", &filter.kind)
        .compare("provided_on", ">=", &filter.from)
        .compare("provided_on", "<=", &filter.until);
    if !filter.include_voided {
        w.fixed("voided = 0");
    }
    let total = w.count_capped(tx, "space_services").await?;
    w.compare("id", "<", before);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {SERVICE_COLUMNS} FROM space_services {} ORDER BY id DESC LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredService> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(Service::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Every record of the period (voided ones too: the report leaves them
/// out by the domain's rule).
#[tracing::instrument(skip(tx))]
pub async fn of_period(
    tx: &mut Tx,
    branch_id: &str,
    from: &str,
    until: &str,
) -> Result<Vec<Service>> {
    Ok(list(
        tx,
        &ServiceFilter {
            branch_id: branch_id.to_string(),
            from: from.to_string(),
            until: until.to_string(),
            include_voided: true,
            ..Default::default()
        },
        "",
        1_000_000,
    )
    .await?
    .0)
}

#[tracing::instrument(skip(tx, current))]
pub async fn void(tx: &mut Tx, current: &Service, reason: &str) -> Result<()> {
    super::versioned(
        tx,
        sqlx::query(
            "UPDATE space_services SET voided = 1, void_reason = $3, version = version + 1
             WHERE tenant_id = $1 AND id = $2 AND version = $4",
        )
        .bind(tx.tenant().to_owned())
        .bind(current.id.clone())
        .bind(reason.to_owned())
        .bind(current.version),
    )
    .await
}
