//! Membership's SQL: one implementation for PostgreSQL and SQLite.
//!
//! Every query of tenant data names `tenant_id = $1`, bound from the
//! transaction's tenant (the caller's token), never from a request body.
//! Enumerations are stored by their protobuf names, so the tables read
//! plainly in SQL.

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::{
    AgeBand, CapacityDomain, Gender, IncubationStatus, LocalizedText, OrganizationKind, Sector,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{
    ActionItem, AffiliationSpec, AssessmentSpec, BranchSpec, DomainScore, LegalBasis,
    OrganizationFields, PersonFields, TenantSpec,
};

/// Maps a stored enumeration name back to its value.
fn named<E>(value: &str, parse: fn(&str) -> Option<E>) -> Result<E> {
    parse(value).ok_or_else(|| Error::internal(format!("unknown stored value '{value}'")))
}

fn date(value: &str) -> Option<Date> {
    Date::parse(value)
}

fn date_text(d: Option<Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

// ---------------------------------------------------------------- tenants

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub spec: TenantSpec,
    pub created_at: i64,
}

/// Tenants are the platform's, not a tenant's: these run in a system
/// transaction and the table has no `tenant_id`.
pub async fn insert_tenant(tx: &mut Tx, t: &TenantSpec) -> Result<TenantRow> {
    let now = now_micros();
    let inserted = sqlx::query(
        "INSERT INTO tenants (id, name_ar, name_en, identifier_prefix, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&t.id)
    .bind(&t.name.ar)
    .bind(&t.name.en)
    .bind(&t.identifier_prefix)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::AlreadyExists(format!("tenant '{}' exists", t.id)));
    }
    Ok(TenantRow {
        spec: t.clone(),
        created_at: now,
    })
}

fn tenant_row(r: &AnyRow) -> Result<TenantRow> {
    Ok(TenantRow {
        spec: TenantSpec {
            id: r.try_get("id")?,
            name: LocalizedText {
                ar: r.try_get("name_ar")?,
                en: r.try_get("name_en")?,
            },
            identifier_prefix: r.try_get("identifier_prefix")?,
        },
        created_at: r.try_get("created_at")?,
    })
}

pub async fn list_tenants(tx: &mut Tx, after: &str, limit: i64) -> Result<Vec<TenantRow>> {
    let rows = sqlx::query(
        "SELECT id, name_ar, name_en, identifier_prefix, created_at FROM tenants
         WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(tenant_row).collect()
}

pub async fn get_tenant(tx: &mut Tx, id: &str) -> Result<Option<TenantRow>> {
    let row = sqlx::query(
        "SELECT id, name_ar, name_en, identifier_prefix, created_at FROM tenants WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(tenant_row).transpose()
}

// --------------------------------------------------------------- branches

#[derive(Debug, Clone)]
pub struct BranchRow {
    pub spec: BranchSpec,
    pub created_at: i64,
}

pub async fn insert_branch(tx: &mut Tx, b: &BranchSpec) -> Result<BranchRow> {
    let now = now_micros();
    let inserted = sqlx::query(
        "INSERT INTO branches (tenant_id, id, name_ar, name_en, governorate, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant())
    .bind(&b.id)
    .bind(&b.name.ar)
    .bind(&b.name.en)
    .bind(&b.governorate)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::AlreadyExists(format!("branch '{}' exists", b.id)));
    }
    Ok(BranchRow {
        spec: b.clone(),
        created_at: now,
    })
}

pub async fn list_branches(tx: &mut Tx, after: &str, limit: i64) -> Result<Vec<BranchRow>> {
    let rows = sqlx::query(
        "SELECT id, name_ar, name_en, governorate, created_at FROM branches
         WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(tx.tenant())
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BranchRow {
                spec: BranchSpec {
                    id: r.try_get("id")?,
                    name: LocalizedText {
                        ar: r.try_get("name_ar")?,
                        en: r.try_get("name_en")?,
                    },
                    governorate: r.try_get("governorate")?,
                },
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

pub async fn branch_exists(tx: &mut Tx, id: &str) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM branches WHERE tenant_id = $1 AND id = $2")
        .bind(tx.tenant())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.is_some())
}

// ---------------------------------------------------------- organizations

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

/// The columns [`organization_row`] reads, as a literal so queries built
/// with `concat!` stay `&'static str`.
macro_rules! organization_columns {
    () => {
        "id, identifier, kind, name_ar, name_en, acronym, governorate, branch_id, sectors, \
         description_ar, description_en, email, phone, incubation_status, version, created_at, \
         updated_at"
    };
}

fn organization_row(r: &AnyRow) -> Result<OrganizationRow> {
    let sectors: String = r.try_get("sectors")?;
    Ok(OrganizationRow {
        id: r.try_get("id")?,
        identifier: r.try_get("identifier")?,
        fields: OrganizationFields {
            kind: named(
                &r.try_get::<String, _>("kind")?,
                OrganizationKind::from_str_name,
            )?,
            name: LocalizedText {
                ar: r.try_get("name_ar")?,
                en: r.try_get("name_en")?,
            },
            acronym: r.try_get("acronym")?,
            governorate: r.try_get("governorate")?,
            branch_id: r.try_get("branch_id")?,
            sectors: sectors
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| named(s, Sector::from_str_name))
                .collect::<Result<_>>()?,
            description: LocalizedText {
                ar: r.try_get("description_ar")?,
                en: r.try_get("description_en")?,
            },
            email: r.try_get("email")?,
            phone: r.try_get("phone")?,
        },
        incubation_status: named(
            &r.try_get::<String, _>("incubation_status")?,
            IncubationStatus::from_str_name,
        )?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn sectors_text(sectors: &[Sector]) -> String {
    sectors
        .iter()
        .map(|s| s.as_str_name())
        .collect::<Vec<_>>()
        .join(",")
}

fn organization_search(identifier: &str, f: &OrganizationFields) -> String {
    markaz_kit::validate::search_key(&[&f.name.ar, &f.name.en, &f.acronym, identifier])
}

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
    .bind(tx.tenant())
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
    .bind(organization_search(identifier, f))
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

pub async fn get_organization(tx: &mut Tx, id: &str) -> Result<Option<OrganizationRow>> {
    tx.find(
        concat!(
            "SELECT ",
            organization_columns!(),
            " FROM organizations WHERE tenant_id = $1 AND id = $2"
        ),
        id,
        organization_row,
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
    /// A `LIKE` pattern over the search text, or "".
    pub text: String,
}

pub async fn list_organizations(
    tx: &mut Tx,
    filter: &OrganizationFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<OrganizationRow>> {
    let sql = concat!(
        "SELECT ",
        organization_columns!(),
        " FROM organizations
         WHERE tenant_id = $1 AND id > $2
           AND ($3 = '' OR id = $3)
           AND ($4 = '' OR kind = $4)
           AND ($5 = '' OR branch_id = $5)
           AND ($6 = '' OR incubation_status = $6)
           AND ($7 = '' OR search_text LIKE $7 ESCAPE '\\')
         ORDER BY id LIMIT $8"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant())
        .bind(after)
        .bind(&filter.only_id)
        .bind(&filter.kind)
        .bind(&filter.branch_id)
        .bind(&filter.incubation_status)
        .bind(&filter.text)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(organization_row).collect()
}

/// Replaces the settable fields; the caller checked the version.
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
    .bind(tx.tenant())
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
    .bind(organization_search(&current.identifier, f))
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
    .bind(tx.tenant())
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
    .bind(tx.tenant())
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

pub async fn list_incubation_changes(
    tx: &mut Tx,
    organization_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<IncubationChangeRow>> {
    let rows = sqlx::query(
        "SELECT id, from_status, to_status, reason, changed_by, changed_at FROM incubation_changes
         WHERE tenant_id = $1 AND organization_id = $2 AND id > $3 ORDER BY id LIMIT $4",
    )
    .bind(tx.tenant())
    .bind(organization_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(IncubationChangeRow {
                id: r.try_get("id")?,
                from: named(
                    &r.try_get::<String, _>("from_status")?,
                    IncubationStatus::from_str_name,
                )?,
                to: named(
                    &r.try_get::<String, _>("to_status")?,
                    IncubationStatus::from_str_name,
                )?,
                reason: r.try_get("reason")?,
                changed_by: r.try_get("changed_by")?,
                changed_at: r.try_get("changed_at")?,
            })
        })
        .collect()
}

// ----------------------------------------------------------------- people

#[derive(Debug, Clone)]
pub struct PersonRow {
    pub id: String,
    pub fields: PersonFields,
    pub erased: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns [`person_row`] reads.
macro_rules! person_columns {
    () => {
        "id, full_name, gender, age_band, phone, email, branch_id, legal_basis, \
         processing_purpose, erased_at, version, created_at, updated_at"
    };
}

fn person_row(r: &AnyRow) -> Result<PersonRow> {
    Ok(PersonRow {
        id: r.try_get("id")?,
        fields: PersonFields {
            full_name: r.try_get("full_name")?,
            gender: named(&r.try_get::<String, _>("gender")?, Gender::from_str_name)?,
            age_band: named(&r.try_get::<String, _>("age_band")?, AgeBand::from_str_name)?,
            phone: r.try_get("phone")?,
            email: r.try_get("email")?,
            branch_id: r.try_get("branch_id")?,
            legal_basis: named(
                &r.try_get::<String, _>("legal_basis")?,
                LegalBasis::from_str_name,
            )?,
            processing_purpose: r.try_get("processing_purpose")?,
        },
        erased: r.try_get::<Option<i64>, _>("erased_at")?.is_some(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_person(tx: &mut Tx, id: &str, f: &PersonFields) -> Result<PersonRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO people (tenant_id, id, full_name, gender, age_band, phone, email, branch_id,
            legal_basis, processing_purpose, search_text, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12)",
    )
    .bind(tx.tenant())
    .bind(id)
    .bind(&f.full_name)
    .bind(f.gender.as_str_name())
    .bind(f.age_band.as_str_name())
    .bind(&f.phone)
    .bind(&f.email)
    .bind(&f.branch_id)
    .bind(f.legal_basis.as_str_name())
    .bind(&f.processing_purpose)
    .bind(markaz_kit::validate::search_key(&[&f.full_name]))
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(PersonRow {
        id: id.to_string(),
        fields: f.clone(),
        erased: false,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

pub async fn get_person(tx: &mut Tx, id: &str) -> Result<Option<PersonRow>> {
    tx.find(
        concat!(
            "SELECT ",
            person_columns!(),
            " FROM people WHERE tenant_id = $1 AND id = $2"
        ),
        id,
        person_row,
    )
    .await
}

#[derive(Debug, Default, Clone)]
pub struct PersonFilter {
    /// Only people with an active affiliation to this organization.
    pub organization_id: String,
    pub branch_id: String,
    pub text: String,
}

pub async fn list_people(
    tx: &mut Tx,
    filter: &PersonFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<PersonRow>> {
    let sql = concat!(
        "SELECT ",
        person_columns!(),
        " FROM people p
         WHERE p.tenant_id = $1 AND p.id > $2
           AND ($3 = '' OR EXISTS (SELECT 1 FROM affiliations a
                 WHERE a.tenant_id = p.tenant_id AND a.person_id = p.id
                   AND a.organization_id = $3 AND a.end_date = ''))
           AND ($4 = '' OR p.branch_id = $4)
           AND ($5 = '' OR p.search_text LIKE $5 ESCAPE '\\')
         ORDER BY p.id LIMIT $6"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant())
        .bind(after)
        .bind(&filter.organization_id)
        .bind(&filter.branch_id)
        .bind(&filter.text)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(person_row).collect()
}

pub async fn update_person(
    tx: &mut Tx,
    current: &PersonRow,
    f: &PersonFields,
) -> Result<PersonRow> {
    let now = now_micros();
    let changed = sqlx::query(
        "UPDATE people SET full_name = $3, gender = $4, age_band = $5, phone = $6, email = $7,
            branch_id = $8, legal_basis = $9, processing_purpose = $10, search_text = $11,
            version = version + 1, updated_at = $12
         WHERE tenant_id = $1 AND id = $2 AND version = $13 AND erased_at IS NULL",
    )
    .bind(tx.tenant())
    .bind(&current.id)
    .bind(&f.full_name)
    .bind(f.gender.as_str_name())
    .bind(f.age_band.as_str_name())
    .bind(&f.phone)
    .bind(&f.email)
    .bind(&f.branch_id)
    .bind(f.legal_basis.as_str_name())
    .bind(&f.processing_purpose)
    .bind(markaz_kit::validate::search_key(&[&f.full_name]))
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::stale_etag());
    }
    Ok(PersonRow {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// Overwrites the person's identifying fields for good.
pub async fn erase_person(
    tx: &mut Tx,
    current: &PersonRow,
    kept: &PersonFields,
    reason: &str,
) -> Result<PersonRow> {
    let now = now_micros();
    sqlx::query(
        "UPDATE people SET full_name = $3, phone = $4, email = $5, search_text = '',
            erased_at = $6, erasure_reason = $7, version = version + 1, updated_at = $6
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant())
    .bind(&current.id)
    .bind(&kept.full_name)
    .bind(&kept.phone)
    .bind(&kept.email)
    .bind(now)
    .bind(reason)
    .execute(tx.conn())
    .await?;
    Ok(PersonRow {
        fields: kept.clone(),
        erased: true,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

// ----------------------------------------------------------- affiliations

#[derive(Debug, Clone)]
pub struct AffiliationRow {
    pub id: String,
    pub spec: AffiliationSpec,
    pub end_date: Option<Date>,
    pub created_at: i64,
}

fn affiliation_row(r: &AnyRow) -> Result<AffiliationRow> {
    Ok(AffiliationRow {
        id: r.try_get("id")?,
        spec: AffiliationSpec {
            person_id: r.try_get("person_id")?,
            organization_id: r.try_get("organization_id")?,
            role: r.try_get("role")?,
            start_date: date(&r.try_get::<String, _>("start_date")?),
        },
        end_date: date(&r.try_get::<String, _>("end_date")?),
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_affiliation(
    tx: &mut Tx,
    id: &str,
    a: &AffiliationSpec,
) -> Result<AffiliationRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO affiliations (tenant_id, id, person_id, organization_id, role, start_date,
            end_date, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', $7)",
    )
    .bind(tx.tenant())
    .bind(id)
    .bind(&a.person_id)
    .bind(&a.organization_id)
    .bind(&a.role)
    .bind(date_text(a.start_date))
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(AffiliationRow {
        id: id.to_string(),
        spec: a.clone(),
        end_date: None,
        created_at: now,
    })
}

pub async fn get_affiliation(tx: &mut Tx, id: &str) -> Result<Option<AffiliationRow>> {
    tx.find(
        "SELECT id, person_id, organization_id, role, start_date, end_date, created_at
         FROM affiliations WHERE tenant_id = $1 AND id = $2",
        id,
        affiliation_row,
    )
    .await
}

/// Whether the person has an active affiliation with the organization.
pub async fn is_affiliated(tx: &mut Tx, person_id: &str, organization_id: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM affiliations WHERE tenant_id = $1 AND person_id = $2
           AND organization_id = $3 AND end_date = ''",
    )
    .bind(tx.tenant())
    .bind(person_id)
    .bind(organization_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}

pub async fn list_affiliations(
    tx: &mut Tx,
    organization_id: &str,
    person_id: &str,
    include_ended: bool,
    after: &str,
    limit: i64,
) -> Result<Vec<AffiliationRow>> {
    let rows = sqlx::query(
        "SELECT id, person_id, organization_id, role, start_date, end_date, created_at
         FROM affiliations
         WHERE tenant_id = $1 AND id > $2
           AND ($3 = '' OR organization_id = $3)
           AND ($4 = '' OR person_id = $4)
           AND ($5 = 1 OR end_date = '')
         ORDER BY id LIMIT $6",
    )
    .bind(tx.tenant())
    .bind(after)
    .bind(organization_id)
    .bind(person_id)
    .bind(i64::from(include_ended))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(affiliation_row).collect()
}

pub async fn end_affiliation(
    tx: &mut Tx,
    current: &AffiliationRow,
    end: Date,
) -> Result<AffiliationRow> {
    // Only an affiliation still running ends: of two concurrent ends, the
    // second changes nothing and is refused.
    let ended = sqlx::query(
        "UPDATE affiliations SET end_date = $3 WHERE tenant_id = $1 AND id = $2 AND end_date = ''",
    )
    .bind(tx.tenant())
    .bind(&current.id)
    .bind(end.to_string())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if ended == 0 {
        return Err(Error::precondition(
            "AFFILIATION_ENDED",
            format!("affiliations/{}", current.id),
            "the affiliation has ended already",
        ));
    }
    Ok(AffiliationRow {
        end_date: Some(end),
        ..current.clone()
    })
}

// ------------------------------------------------------------ assessments

/// A stored assessment with what was computed when it was recorded.
#[derive(Debug, Clone)]
pub struct AssessmentRow {
    pub id: String,
    pub spec: AssessmentSpec,
    /// Per domain, in `spec.domains` order: (spread, change, has_previous).
    pub computed: Vec<(i32, i32, bool)>,
    pub assessed_by: String,
    pub previous_assessment_id: String,
    pub average_score: f64,
    pub created_at: i64,
}

/// The latest assessment of the organization dated before `before`, with
/// its domain scores.
pub async fn previous_assessment(
    tx: &mut Tx,
    organization_id: &str,
    before: Date,
) -> Result<Option<(String, Vec<(CapacityDomain, i32)>)>> {
    let row = sqlx::query(
        "SELECT id FROM assessments WHERE tenant_id = $1 AND organization_id = $2
           AND assessed_on <= $3
         ORDER BY assessed_on DESC, id DESC LIMIT 1",
    )
    .bind(tx.tenant())
    .bind(organization_id)
    .bind(before.to_string())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("id")?;
    let scores = sqlx::query(
        "SELECT capacity_domain, score FROM assessment_domains
         WHERE tenant_id = $1 AND assessment_id = $2",
    )
    .bind(tx.tenant())
    .bind(&id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|r| {
        Ok((
            named(
                &r.try_get::<String, _>("capacity_domain")?,
                CapacityDomain::from_str_name,
            )?,
            r.try_get::<i64, _>("score")? as i32,
        ))
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(Some((id, scores)))
}

pub async fn insert_assessment(tx: &mut Tx, a: &AssessmentRow) -> Result<()> {
    let s = &a.spec;
    sqlx::query(
        "INSERT INTO assessments (tenant_id, id, organization_id, assessed_on, notes, assessed_by,
            previous_assessment_id, average_score, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.tenant())
    .bind(&a.id)
    .bind(&s.organization_id)
    .bind(s.assessed_on.to_string())
    .bind(&s.notes)
    .bind(&a.assessed_by)
    .bind(&a.previous_assessment_id)
    .bind(a.average_score)
    .bind(a.created_at)
    .execute(tx.conn())
    .await?;
    for (d, (spread, change, had)) in s.domains.iter().zip(&a.computed) {
        sqlx::query(
            "INSERT INTO assessment_domains (tenant_id, assessment_id, capacity_domain, score,
                justification, consensus_spread, score_change, has_previous)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tx.tenant())
        .bind(&a.id)
        .bind(d.domain.as_str_name())
        .bind(i64::from(d.score))
        .bind(&d.justification)
        .bind(i64::from(*spread))
        .bind(i64::from(*change))
        .bind(i64::from(*had))
        .execute(tx.conn())
        .await?;
        for (ordinal, (participant, score)) in d.participant_scores.iter().enumerate() {
            sqlx::query(
                "INSERT INTO assessment_participant_scores (tenant_id, assessment_id,
                    capacity_domain, ordinal, participant, score)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tx.tenant())
            .bind(&a.id)
            .bind(d.domain.as_str_name())
            .bind(ordinal as i64)
            .bind(participant)
            .bind(i64::from(*score))
            .execute(tx.conn())
            .await?;
        }
    }
    for (ordinal, item) in s.action_plan.iter().enumerate() {
        sqlx::query(
            "INSERT INTO assessment_actions (tenant_id, assessment_id, ordinal, capacity_domain,
                gap, action, due_date, owner)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tx.tenant())
        .bind(&a.id)
        .bind(ordinal as i64)
        .bind(item.domain.as_str_name())
        .bind(&item.gap)
        .bind(&item.action)
        .bind(item.due_date.to_string())
        .bind(&item.owner)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

pub async fn get_assessment(tx: &mut Tx, id: &str) -> Result<Option<AssessmentRow>> {
    let row = sqlx::query(
        "SELECT id, organization_id, assessed_on, notes, assessed_by, previous_assessment_id,
            average_score, created_at
         FROM assessments WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    match row {
        Some(r) => Ok(Some(assessment_details(tx, &r).await?)),
        None => Ok(None),
    }
}

pub async fn list_assessments(
    tx: &mut Tx,
    organization_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<AssessmentRow>> {
    let rows = sqlx::query(
        "SELECT id, organization_id, assessed_on, notes, assessed_by, previous_assessment_id,
            average_score, created_at
         FROM assessments WHERE tenant_id = $1 AND ($2 = '' OR organization_id = $2) AND id > $3
         ORDER BY id LIMIT $4",
    )
    .bind(tx.tenant())
    .bind(organization_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(assessment_details(tx, r).await?);
    }
    Ok(out)
}

async fn assessment_details(tx: &mut Tx, r: &AnyRow) -> Result<AssessmentRow> {
    let id: String = r.try_get("id")?;
    let domain_rows = sqlx::query(
        "SELECT capacity_domain, score, justification, consensus_spread, score_change, has_previous
         FROM assessment_domains WHERE tenant_id = $1 AND assessment_id = $2",
    )
    .bind(tx.tenant())
    .bind(&id)
    .fetch_all(tx.conn())
    .await?;
    let participant_rows = sqlx::query(
        "SELECT capacity_domain, participant, score FROM assessment_participant_scores
         WHERE tenant_id = $1 AND assessment_id = $2 ORDER BY capacity_domain, ordinal",
    )
    .bind(tx.tenant())
    .bind(&id)
    .fetch_all(tx.conn())
    .await?;
    let action_rows = sqlx::query(
        "SELECT capacity_domain, gap, action, due_date, owner FROM assessment_actions
         WHERE tenant_id = $1 AND assessment_id = $2 ORDER BY ordinal",
    )
    .bind(tx.tenant())
    .bind(&id)
    .fetch_all(tx.conn())
    .await?;

    let mut domains = Vec::new();
    let mut computed = Vec::new();
    for d in &domain_rows {
        let name: String = d.try_get("capacity_domain")?;
        let domain = named(&name, CapacityDomain::from_str_name)?;
        let participant_scores = participant_rows
            .iter()
            .filter(|p| {
                p.try_get::<String, _>("capacity_domain")
                    .is_ok_and(|n| n == name)
            })
            .map(|p| {
                Ok((
                    p.try_get("participant")?,
                    p.try_get::<i64, _>("score")? as i32,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        domains.push(DomainScore {
            domain,
            score: d.try_get::<i64, _>("score")? as i32,
            justification: d.try_get("justification")?,
            participant_scores,
        });
        computed.push((
            d.try_get::<i64, _>("consensus_spread")? as i32,
            d.try_get::<i64, _>("score_change")? as i32,
            d.try_get::<i64, _>("has_previous")? != 0,
        ));
    }
    // Present the domains in OCA order, whatever order the rows came in.
    let mut order: Vec<usize> = (0..domains.len()).collect();
    order.sort_by_key(|i| {
        crate::domain::DOMAINS
            .iter()
            .position(|x| *x == domains[*i].domain)
    });
    let domains_sorted = order.iter().map(|i| domains[*i].clone()).collect();
    let computed_sorted = order.iter().map(|i| computed[*i]).collect();

    let action_plan = action_rows
        .iter()
        .map(|a| {
            Ok(ActionItem {
                domain: named(
                    &a.try_get::<String, _>("capacity_domain")?,
                    CapacityDomain::from_str_name,
                )?,
                gap: a.try_get("gap")?,
                action: a.try_get("action")?,
                due_date: date(&a.try_get::<String, _>("due_date")?)
                    .ok_or_else(|| Error::internal("stored due date is not a date"))?,
                owner: a.try_get("owner")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AssessmentRow {
        id,
        spec: AssessmentSpec {
            organization_id: r.try_get("organization_id")?,
            assessed_on: date(&r.try_get::<String, _>("assessed_on")?)
                .ok_or_else(|| Error::internal("stored assessment date is not a date"))?,
            domains: domains_sorted,
            action_plan,
            notes: r.try_get("notes")?,
        },
        computed: computed_sorted,
        assessed_by: r.try_get("assessed_by")?,
        previous_assessment_id: r.try_get("previous_assessment_id")?,
        average_score: r.try_get("average_score")?,
        created_at: r.try_get("created_at")?,
    })
}
