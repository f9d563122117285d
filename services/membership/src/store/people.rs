//! People: the minimum personal data, and its erasure.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::{AgeBand, Gender};
use sqlx::AssertSqlSafe;

use super::search::{TextSearch, text_search};
use crate::domain::{LegalBasis, PersonFields};

#[derive(Debug, Clone)]
pub struct PersonRow {
    pub id: String,
    pub fields: PersonFields,
    pub erased: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns of [`StoredPerson`].
const COLUMNS: &str = "id, full_name, gender, age_band, phone, email, branch_id, legal_basis, \
     processing_purpose, erased_at, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct StoredPerson {
    id: String,
    full_name: String,
    gender: String,
    age_band: String,
    phone: String,
    email: String,
    branch_id: String,
    legal_basis: String,
    processing_purpose: String,
    erased_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<StoredPerson> for PersonRow {
    type Error = Error;
    fn try_from(r: StoredPerson) -> Result<PersonRow> {
        Ok(PersonRow {
            fields: PersonFields {
                gender: stored(&r.gender, Gender::from_str_name)?,
                age_band: stored(&r.age_band, AgeBand::from_str_name)?,
                legal_basis: stored(&r.legal_basis, LegalBasis::from_str_name)?,
                full_name: r.full_name,
                phone: r.phone,
                email: r.email,
                branch_id: r.branch_id,
                processing_purpose: r.processing_purpose,
            },
            erased: r.erased_at.is_some(),
            id: r.id,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[tracing::instrument(skip_all)]
pub async fn insert_person(tx: &mut Tx, id: &str, f: &PersonFields) -> Result<PersonRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO people (tenant_id, id, full_name, gender, age_band, phone, email, branch_id,
            legal_basis, processing_purpose, search_text, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12)",
    )
    .bind(tx.tenant().to_owned())
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

#[tracing::instrument(skip(tx))]
pub async fn get_person(tx: &mut Tx, id: &str) -> Result<Option<PersonRow>> {
    tx.find_as::<StoredPerson, _>(
        AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM people WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

#[derive(Debug, Default, Clone)]
pub struct PersonFilter {
    /// Only people with an active affiliation to this organization.
    pub organization_id: String,
    pub branch_id: String,
    /// The search as the caller typed it, or "".
    pub text: String,
}

/// People are searched by their name.
const SEARCH: TextSearch = TextSearch {
    like: "p.search_text LIKE {} ESCAPE '\\'",
    index: "people_search",
    matched: "p.id IN (SELECT k.person_id FROM people_search
        CROSS JOIN people_search_keys k ON k.row_key = people_search.rowid
        WHERE people_search MATCH {} AND k.tenant_id = $1)",
};

#[tracing::instrument(skip(tx))]
pub async fn list_people(
    tx: &mut Tx,
    filter: &PersonFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<PersonRow>, Total)> {
    // Only the filters that are set are written, so each combination is
    // planned on its index. By organization, the people come from the
    // organization's active affiliations (`affiliations_active_by_organization`):
    // as many rows as the organization has, not a walk of the tenant's
    // people testing each — the count reads them once, the page no more.
    let mut w = Where::tenant("p.tenant_id", tx.tenant());
    w.clause(
        "p.id IN (SELECT a.person_id FROM affiliations a
            WHERE a.tenant_id = $1 AND a.organization_id = {} AND a.end_date = '')",
        &filter.organization_id,
    )
    .eq("p.branch_id", &filter.branch_id);
    text_search(tx, &mut w, &SEARCH, &filter.text).await?;
    let total = w.count_capped(tx, "people p").await?;
    w.compare("p.id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {COLUMNS} FROM people p {} ORDER BY p.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredPerson> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(PersonRow::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

#[tracing::instrument(skip_all)]
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
    .bind(tx.tenant().to_owned())
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
#[tracing::instrument(skip_all)]
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
    .bind(tx.tenant().to_owned())
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
