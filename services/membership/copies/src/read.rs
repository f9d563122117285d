//! What a consumer reads of its copies. The tables are also this library's
//! public schema: a consumer's reports may join them (`membership_people`
//! for gender and age band, say), but only this library writes them.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_proto::common::v1::{
    AgeBand, Gender, IncubationStatus, LocalizedText, OrganizationKind, Sector,
};
use sqlx::AssertSqlSafe;

/// An organization as its consumers know it.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: String,
    pub identifier: String,
    pub kind: OrganizationKind,
    pub name: LocalizedText,
    pub governorate: String,
    pub branch_id: String,
    pub sectors: Vec<Sector>,
    pub incubation_status: IncubationStatus,
    /// The version of the snapshot the fields above come from; 0 while
    /// only an incubation change is known.
    pub fields_version: i64,
    pub status_version: i64,
}

impl Organization {
    /// Whether its snapshot has arrived (not only an incubation change).
    pub fn is_complete(&self) -> bool {
        self.fields_version > 0
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrganizationRow {
    id: String,
    identifier: String,
    kind: String,
    name_ar: String,
    name_en: String,
    governorate: String,
    branch_id: String,
    sectors: String,
    fields_version: i64,
    incubation_status: String,
    status_version: i64,
}

impl TryFrom<OrganizationRow> for Organization {
    type Error = Error;
    fn try_from(r: OrganizationRow) -> Result<Organization> {
        Ok(Organization {
            kind: stored(&r.kind, OrganizationKind::from_str_name)?,
            incubation_status: stored(&r.incubation_status, IncubationStatus::from_str_name)?,
            sectors: r
                .sectors
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| stored(s, Sector::from_str_name))
                .collect::<Result<_>>()?,
            name: LocalizedText {
                ar: r.name_ar,
                en: r.name_en,
            },
            id: r.id,
            identifier: r.identifier,
            governorate: r.governorate,
            branch_id: r.branch_id,
            fields_version: r.fields_version,
            status_version: r.status_version,
        })
    }
}

pub(crate) const ORGANIZATION_COLUMNS: &str = "id, identifier, kind, name_ar, name_en, governorate, branch_id, sectors, \
     fields_version, incubation_status, status_version";

/// The copy of organization `id`, if any event about it arrived.
#[tracing::instrument(skip(tx))]
pub async fn organization(tx: &mut Tx, id: &str) -> Result<Option<Organization>> {
    tx.find_as::<OrganizationRow, _>(
        AssertSqlSafe(format!(
            "SELECT {ORGANIZATION_COLUMNS} FROM membership_organizations
             WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

/// The copies of the organizations `ids` that any event arrived about, by
/// id: a page's worth in one statement, not one per row.
#[tracing::instrument(skip_all)]
pub async fn organizations(tx: &mut Tx, ids: &[String]) -> Result<HashMap<String, Organization>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<OrganizationRow> = tx
        .rows_for_ids(
            &format!(
                "SELECT {ORGANIZATION_COLUMNS} FROM membership_organizations
                 WHERE tenant_id = $1 AND id IN ({{ids}})"
            ),
            &ids,
        )
        .await?;
    rows.into_iter()
        .map(|r| Organization::try_from(r).map(|o| (o.id.clone(), o)))
        .collect()
}

/// A person as its consumers know them: a display name, and the fields
/// figures are counted by.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: String,
    /// "" once erased.
    pub full_name: String,
    pub gender: Gender,
    pub age_band: AgeBand,
    pub branch_id: String,
    pub version: i64,
    pub erased: bool,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PersonRow {
    id: String,
    full_name: String,
    gender: String,
    age_band: String,
    branch_id: String,
    version: i64,
    erased: i64,
}

impl TryFrom<PersonRow> for Person {
    type Error = Error;
    fn try_from(r: PersonRow) -> Result<Person> {
        Ok(Person {
            gender: stored(&r.gender, Gender::from_str_name)?,
            age_band: stored(&r.age_band, AgeBand::from_str_name)?,
            id: r.id,
            full_name: r.full_name,
            branch_id: r.branch_id,
            version: r.version,
            erased: r.erased != 0,
        })
    }
}

pub(crate) const PERSON_COLUMNS: &str =
    "id, full_name, gender, age_band, branch_id, version, erased";

/// The copy of person `id`, erased or not, if any event about them arrived.
#[tracing::instrument(skip(tx))]
pub async fn person(tx: &mut Tx, id: &str) -> Result<Option<Person>> {
    tx.find_as::<PersonRow, _>(
        AssertSqlSafe(format!(
            "SELECT {PERSON_COLUMNS} FROM membership_people WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

/// An affiliation of a person with an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affiliation {
    pub id: String,
    pub person_id: String,
    pub organization_id: String,
    pub ended: bool,
}

/// Whether the person is affiliated with the organization now.
#[tracing::instrument(skip(tx))]
pub async fn is_affiliated(tx: &mut Tx, person_id: &str, organization_id: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM membership_affiliations WHERE tenant_id = $1 AND person_id = $2
           AND organization_id = $3 AND ended = 0",
    )
    .bind(tx.tenant().to_owned())
    .bind(person_id)
    .bind(organization_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}
