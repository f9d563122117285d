//! The change feed's figures: a digest of each shared figure as a donor
//! sees it, and when it last changed.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;

/// One figure's version: indicator, quarter ("2026-Q1"), digest, when
/// it last changed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Version {
    pub code: String,
    pub quarter: String,
    pub digest: String,
    pub changed_at: i64,
}

/// The tenant's versions (a handful: its shared indicators' quarters).
#[tracing::instrument(skip_all)]
pub async fn versions(tx: &mut Tx) -> Result<Vec<Version>> {
    Ok(sqlx::query_as(
        "SELECT code, quarter, digest, changed_at FROM impact_donor_figure_versions
         WHERE tenant_id = $1 ORDER BY code, quarter",
    )
    .bind(tx.tenant().to_owned())
    .fetch_all(tx.conn())
    .await?)
}

/// Records a figure's digest; `changed_at` only when the digest is new.
#[tracing::instrument(skip(tx))]
pub async fn stamp(tx: &mut Tx, v: &Version) -> Result<()> {
    sqlx::query(
        "INSERT INTO impact_donor_figure_versions (tenant_id, code, quarter, digest, changed_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, code, quarter) DO UPDATE SET digest = $4, changed_at = $5
         WHERE impact_donor_figure_versions.digest <> $4",
    )
    .bind(tx.tenant().to_owned())
    .bind(&v.code)
    .bind(&v.quarter)
    .bind(&v.digest)
    .bind(v.changed_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The marks the versions were last computed at.
#[tracing::instrument(skip_all)]
pub async fn marks(tx: &mut Tx) -> Result<Option<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT applied_micros, settings_micros FROM impact_donor_figure_marks
         WHERE tenant_id = $1",
    )
    .bind(tx.tenant().to_owned())
    .fetch_optional(tx.conn())
    .await?)
}

#[tracing::instrument(skip(tx))]
pub async fn set_marks(tx: &mut Tx, applied: i64, settings: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO impact_donor_figure_marks (tenant_id, applied_micros, settings_micros)
         VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET applied_micros = $2, settings_micros = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(applied)
    .bind(settings)
    .execute(tx.conn())
    .await?;
    Ok(())
}
