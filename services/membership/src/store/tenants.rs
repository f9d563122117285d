//! Tenants (the platform's, no `tenant_id`: system transactions) and the
//! branches of a tenant.

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::LocalizedText;
use sqlx::AssertSqlSafe;

use crate::domain::{BranchSpec, TenantSpec};

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub spec: TenantSpec,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredTenant {
    id: String,
    name_ar: String,
    name_en: String,
    identifier_prefix: String,
    created_at: i64,
}

impl From<StoredTenant> for TenantRow {
    fn from(r: StoredTenant) -> TenantRow {
        TenantRow {
            spec: TenantSpec {
                id: r.id,
                name: LocalizedText {
                    ar: r.name_ar,
                    en: r.name_en,
                },
                identifier_prefix: r.identifier_prefix,
            },
            created_at: r.created_at,
        }
    }
}

#[tracing::instrument(skip_all)]
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

#[tracing::instrument(skip(tx))]
pub async fn list_tenants(tx: &mut Tx, after: &str, limit: i64) -> Result<Vec<TenantRow>> {
    let rows: Vec<StoredTenant> = sqlx::query_as(
        "SELECT id, name_ar, name_en, identifier_prefix, created_at FROM tenants
         WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after.to_owned())
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(TenantRow::from).collect())
}

#[tracing::instrument(skip(tx))]
pub async fn get_tenant(tx: &mut Tx, id: &str) -> Result<Option<TenantRow>> {
    let row: Option<StoredTenant> = sqlx::query_as(
        "SELECT id, name_ar, name_en, identifier_prefix, created_at FROM tenants WHERE id = $1",
    )
    .bind(id.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(TenantRow::from))
}

#[derive(Debug, Clone)]
pub struct BranchRow {
    pub spec: BranchSpec,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredBranch {
    id: String,
    name_ar: String,
    name_en: String,
    governorate: String,
    created_at: i64,
}

impl From<StoredBranch> for BranchRow {
    fn from(r: StoredBranch) -> BranchRow {
        BranchRow {
            spec: BranchSpec {
                id: r.id,
                name: LocalizedText {
                    ar: r.name_ar,
                    en: r.name_en,
                },
                governorate: r.governorate,
            },
            created_at: r.created_at,
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn insert_branch(tx: &mut Tx, b: &BranchSpec) -> Result<BranchRow> {
    let now = now_micros();
    let inserted = sqlx::query(
        "INSERT INTO branches (tenant_id, id, name_ar, name_en, governorate, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
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

#[tracing::instrument(skip(tx))]
pub async fn list_branches(
    tx: &mut Tx,
    after: &str,
    limit: i64,
) -> Result<(Vec<BranchRow>, Total)> {
    // A center's branches: a handful, counted exactly.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    let total = w.count(tx, "branches").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT id, name_ar, name_en, governorate, created_at FROM branches {}
         ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredBranch> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((rows.into_iter().map(BranchRow::from).collect(), total))
}

#[tracing::instrument(skip(tx))]
pub async fn branch_exists(tx: &mut Tx, id: &str) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM branches WHERE tenant_id = $1 AND id = $2")
        .bind(tx.tenant().to_owned())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.is_some())
}
