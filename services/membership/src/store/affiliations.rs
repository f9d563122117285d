//! Affiliations of people with organizations.

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, MaybeDate, now_micros};
use sqlx::AssertSqlSafe;

use crate::domain::AffiliationSpec;

#[derive(Debug, Clone)]
pub struct AffiliationRow {
    pub id: String,
    pub spec: AffiliationSpec,
    pub end_date: Option<Date>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredAffiliation {
    id: String,
    person_id: String,
    organization_id: String,
    role: String,
    #[sqlx(try_from = "String")]
    start_date: MaybeDate,
    #[sqlx(try_from = "String")]
    end_date: MaybeDate,
    created_at: i64,
}

impl From<StoredAffiliation> for AffiliationRow {
    fn from(r: StoredAffiliation) -> AffiliationRow {
        AffiliationRow {
            id: r.id,
            spec: AffiliationSpec {
                person_id: r.person_id,
                organization_id: r.organization_id,
                role: r.role,
                start_date: r.start_date.0,
            },
            end_date: r.end_date.0,
            created_at: r.created_at,
        }
    }
}

#[tracing::instrument(skip_all)]
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
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(&a.person_id)
    .bind(&a.organization_id)
    .bind(&a.role)
    .bind(MaybeDate::text(a.start_date))
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

#[tracing::instrument(skip(tx))]
pub async fn get_affiliation(tx: &mut Tx, id: &str) -> Result<Option<AffiliationRow>> {
    let row: Option<StoredAffiliation> = sqlx::query_as(
        "SELECT id, person_id, organization_id, role, start_date, end_date, created_at
         FROM affiliations WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(AffiliationRow::from))
}

/// Whether the person has an active affiliation with the organization.
#[tracing::instrument(skip(tx))]
pub async fn is_affiliated(tx: &mut Tx, person_id: &str, organization_id: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM affiliations WHERE tenant_id = $1 AND person_id = $2
           AND organization_id = $3 AND end_date = ''",
    )
    .bind(tx.tenant().to_owned())
    .bind(person_id)
    .bind(organization_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}

#[tracing::instrument(skip(tx))]
pub async fn list_affiliations(
    tx: &mut Tx,
    organization_id: &str,
    person_id: &str,
    include_ended: bool,
    after: &str,
    limit: i64,
) -> Result<(Vec<AffiliationRow>, Total)> {
    // Only the filters that are set are written: each on its index. The
    // same conditions count the list, before the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("organization_id", organization_id)
        .eq("person_id", person_id);
    if !include_ended {
        w.fixed("end_date = ''");
    }
    let total = w.count_capped(tx, "affiliations").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT id, person_id, organization_id, role, start_date, end_date, created_at
         FROM affiliations {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredAffiliation> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((rows.into_iter().map(AffiliationRow::from).collect(), total))
}

#[tracing::instrument(skip_all)]
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
    .bind(tx.tenant().to_owned())
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

/// An erased person's affiliations keep organization and dates — the
/// organization's figures count them — but not the role, which says who
/// the person is as surely as a name ("treasurer of …").
#[tracing::instrument(skip_all)]
pub async fn clear_roles_of(tx: &mut Tx, person_id: &str) -> Result<()> {
    sqlx::query("UPDATE affiliations SET role = $3 WHERE tenant_id = $1 AND person_id = $2")
        .bind(tx.tenant().to_owned())
        .bind(person_id)
        .bind(markaz_kit::erasure::ERASED)
        .execute(tx.conn())
        .await?;
    Ok(())
}
