//! Organizations and the history of their incubation status.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::{IncubationStatus, LocalizedText, OrganizationKind, Sector};
use sqlx::AssertSqlSafe;

use super::search::{TextSearch, text_search};
use crate::domain::OrganizationFields;

#[derive(Debug, Clone)]
pub struct OrganizationRow {
    pub id: String,
    pub identifier: String,
    pub fields: OrganizationFields,
    pub incubation_status: IncubationStatus,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns of [`StoredOrganization`].
const COLUMNS: &str = "id, identifier, kind, name_ar, name_en, acronym, governorate, branch_id, \
     sectors, description_ar, description_en, email, phone, incubation_status, version, \
     created_at, updated_at";

#[derive(sqlx::FromRow)]
struct StoredOrganization {
    id: String,
    identifier: String,
    kind: String,
    name_ar: String,
    name_en: String,
    acronym: String,
    governorate: String,
    branch_id: String,
    sectors: String,
    description_ar: String,
    description_en: String,
    email: String,
    phone: String,
    incubation_status: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<StoredOrganization> for OrganizationRow {
    type Error = Error;
    fn try_from(r: StoredOrganization) -> Result<OrganizationRow> {
        Ok(OrganizationRow {
            fields: OrganizationFields {
                kind: stored(&r.kind, OrganizationKind::from_str_name)?,
                name: LocalizedText {
                    ar: r.name_ar,
                    en: r.name_en,
                },
                acronym: r.acronym,
                governorate: r.governorate,
                branch_id: r.branch_id,
                sectors: r
                    .sectors
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| stored(s, Sector::from_str_name))
                    .collect::<Result<_>>()?,
                description: LocalizedText {
                    ar: r.description_ar,
                    en: r.description_en,
                },
                email: r.email,
                phone: r.phone,
            },
            incubation_status: stored(&r.incubation_status, IncubationStatus::from_str_name)?,
            id: r.id,
            identifier: r.identifier,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn sectors_text(sectors: &[Sector]) -> String {
    sectors
        .iter()
        .map(|s| s.as_str_name())
        .collect::<Vec<_>>()
        .join(",")
}

fn search_text(identifier: &str, f: &OrganizationFields) -> String {
    markaz_kit::validate::search_key(&[&f.name.ar, &f.name.en, &f.acronym, identifier])
}

/// Takes the tenant's next `block` generated organization numbers: the
/// tenant's own, so they tell no one how many organizations another tenant
/// registered. Returns the last of them. Its own short transaction: the
/// counter's row is locked only while the block is taken, not for a whole
/// registration (which serialized every registration of a tenant).
#[tracing::instrument(skip_all)]
pub async fn take_organization_numbers(tx: &mut Tx, block: i64) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO organization_counters (tenant_id, last_number) VALUES ($1, $2)
         ON CONFLICT (tenant_id)
         DO UPDATE SET last_number = organization_counters.last_number + $2
         RETURNING last_number",
    )
    .bind(tx.tenant().to_owned())
    .bind(block)
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

#[tracing::instrument(skip_all)]
pub async fn insert_organization(
    tx: &mut Tx,
    id: &str,
    identifier: &str,
    f: &OrganizationFields,
    status: IncubationStatus,
) -> Result<OrganizationRow> {
    let now = now_micros();
    let result = sqlx::query(
        "INSERT INTO organizations (tenant_id, id, identifier, kind, name_ar, name_en, acronym,
            governorate, branch_id, sectors, description_ar, description_en, email, phone,
            incubation_status, search_text, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $17, $17)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(identifier)
    .bind(f.kind.as_str_name())
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.acronym)
    .bind(&f.governorate)
    .bind(&f.branch_id)
    .bind(sectors_text(&f.sectors))
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(&f.email)
    .bind(&f.phone)
    .bind(status.as_str_name())
    .bind(search_text(identifier, f))
    .bind(now)
    .execute(tx.conn())
    .await;
    match result {
        Ok(_) => {}
        Err(e) if markaz_kit::db::is_unique_violation(&e) => {
            return Err(Error::AlreadyExists(format!(
                "an organization with identifier '{identifier}' exists"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(OrganizationRow {
        id: id.to_string(),
        identifier: identifier.to_string(),
        fields: f.clone(),
        incubation_status: status,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

#[tracing::instrument(skip(tx))]
pub async fn get_organization(tx: &mut Tx, id: &str) -> Result<Option<OrganizationRow>> {
    tx.find_as::<StoredOrganization, _>(
        AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM organizations WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

/// Filters of [`list_organizations`]; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct OrganizationFilter {
    pub only_id: String,
    pub kind: String,
    pub branch_id: String,
    pub incubation_status: String,
    /// The search as the caller typed it, or "".
    pub text: String,
}

/// Organizations are searched by their names, acronym and identifier.
const SEARCH: TextSearch = TextSearch {
    like: "search_text LIKE {} ESCAPE '\\'",
    index: "organization_search",
    matched: "id IN (SELECT k.organization_id FROM organization_search
        CROSS JOIN organization_search_keys k ON k.row_key = organization_search.rowid
        WHERE organization_search MATCH {} AND k.tenant_id = $1)",
};

#[tracing::instrument(skip(tx))]
pub async fn list_organizations(
    tx: &mut Tx,
    filter: &OrganizationFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<OrganizationRow>, Total)> {
    // Only the filters that are set are written: each on its index
    // (`organizations_by_kind`, `..._by_branch`, `..._by_status`). The
    // same conditions count the list, before the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("id", &filter.only_id)
        .eq("kind", &filter.kind)
        .eq("branch_id", &filter.branch_id)
        .eq("incubation_status", &filter.incubation_status);
    text_search(tx, &mut w, &SEARCH, &filter.text).await?;
    let total = w.count_capped(tx, "organizations").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {COLUMNS} FROM organizations {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredOrganization> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(OrganizationRow::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Replaces the settable fields; the caller checked the version.
#[tracing::instrument(skip_all)]
pub async fn update_organization(
    tx: &mut Tx,
    current: &OrganizationRow,
    f: &OrganizationFields,
) -> Result<OrganizationRow> {
    let now = now_micros();
    let changed = sqlx::query(
        "UPDATE organizations SET kind = $3, name_ar = $4, name_en = $5, acronym = $6,
            governorate = $7, branch_id = $8, sectors = $9, description_ar = $10,
            description_en = $11, email = $12, phone = $13, search_text = $14,
            version = version + 1, updated_at = $15
         WHERE tenant_id = $1 AND id = $2 AND version = $16",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(f.kind.as_str_name())
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.acronym)
    .bind(&f.governorate)
    .bind(&f.branch_id)
    .bind(sectors_text(&f.sectors))
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(&f.email)
    .bind(&f.phone)
    .bind(search_text(&current.identifier, f))
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::stale_etag());
    }
    Ok(OrganizationRow {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// Moves the organization to `to` and keeps the change in its history.
#[tracing::instrument(skip_all)]
pub async fn change_incubation_status(
    tx: &mut Tx,
    current: &OrganizationRow,
    to: IncubationStatus,
    reason: &str,
    changed_by: &str,
) -> Result<OrganizationRow> {
    let now = now_micros();
    let changed = sqlx::query(
        "UPDATE organizations SET incubation_status = $3, version = version + 1, updated_at = $4
         WHERE tenant_id = $1 AND id = $2 AND version = $5",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(to.as_str_name())
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::stale_etag());
    }
    record_incubation_change(
        tx,
        &current.id,
        current.incubation_status,
        to,
        reason,
        changed_by,
        now,
    )
    .await?;
    Ok(OrganizationRow {
        incubation_status: to,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

#[tracing::instrument(skip_all)]
pub async fn record_incubation_change(
    tx: &mut Tx,
    organization_id: &str,
    from: IncubationStatus,
    to: IncubationStatus,
    reason: &str,
    changed_by: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incubation_changes
            (tenant_id, id, organization_id, from_status, to_status, reason, changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant().to_owned())
    .bind(markaz_kit::rpc::new_id())
    .bind(organization_id)
    .bind(from.as_str_name())
    .bind(to.as_str_name())
    .bind(reason)
    .bind(changed_by)
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct IncubationChangeRow {
    pub id: String,
    pub from: IncubationStatus,
    pub to: IncubationStatus,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredIncubationChange {
    id: String,
    from_status: String,
    to_status: String,
    reason: String,
    changed_by: String,
    changed_at: i64,
}

impl TryFrom<StoredIncubationChange> for IncubationChangeRow {
    type Error = Error;
    fn try_from(r: StoredIncubationChange) -> Result<IncubationChangeRow> {
        Ok(IncubationChangeRow {
            from: stored(&r.from_status, IncubationStatus::from_str_name)?,
            to: stored(&r.to_status, IncubationStatus::from_str_name)?,
            id: r.id,
            reason: r.reason,
            changed_by: r.changed_by,
            changed_at: r.changed_at,
        })
    }
}

#[tracing::instrument(skip(tx))]
pub async fn list_incubation_changes(
    tx: &mut Tx,
    organization_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<IncubationChangeRow>, Total)> {
    // One organization's moves: a handful, counted exactly.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq_always("organization_id", organization_id);
    let total = w.count(tx, "incubation_changes").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT id, from_status, to_status, reason, changed_by, changed_at FROM incubation_changes
         {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredIncubationChange> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(IncubationChangeRow::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}
