//! What staff write: the tenant's own indicators and the baselines and
//! targets of indicators.

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::LocalizedText;

use crate::domain::{Custom, Filters, Target, indicator};

#[derive(sqlx::FromRow)]
struct StoredCustom {
    code: String,
    name_ar: String,
    name_en: String,
    definition_ar: String,
    definition_en: String,
    base_code: String,
    branch_id: String,
    gender: String,
    topic: String,
}

impl TryFrom<StoredCustom> for Custom {
    type Error = Error;

    fn try_from(r: StoredCustom) -> Result<Custom> {
        let base = indicator(&r.base_code).ok_or_else(|| {
            Error::internal(format!(
                "custom indicator {} on unknown {}",
                r.code, r.base_code
            ))
        })?;
        Ok(Custom {
            code: r.code,
            name: LocalizedText {
                ar: r.name_ar,
                en: r.name_en,
            },
            definition: LocalizedText {
                ar: r.definition_ar,
                en: r.definition_en,
            },
            base,
            fixed: Filters {
                branch_id: r.branch_id,
                gender: r.gender,
                topic: r.topic,
            },
        })
    }
}

/// The tenant's own indicators, by code.
#[tracing::instrument(skip_all)]
pub async fn customs(tx: &mut Tx) -> Result<Vec<Custom>> {
    let tenant = tx.tenant().to_owned();
    let rows: Vec<StoredCustom> = sqlx::query_as(
        "SELECT code, name_ar, name_en, definition_ar, definition_en, base_code, branch_id,
            gender, topic
         FROM impact_custom_indicators WHERE tenant_id = $1 ORDER BY code",
    )
    .bind(&tenant)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(Custom::try_from).collect()
}

/// Records a new custom indicator; ALREADY_EXISTS when the code is taken.
#[tracing::instrument(skip_all, fields(code = %c.code))]
pub async fn insert_custom(tx: &mut Tx, c: &Custom) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    let inserted = sqlx::query(
        "INSERT INTO impact_custom_indicators (tenant_id, code, name_ar, name_en, definition_ar,
            definition_en, base_code, branch_id, gender, topic, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (tenant_id, code) DO NOTHING",
    )
    .bind(&tenant)
    .bind(&c.code)
    .bind(&c.name.ar)
    .bind(&c.name.en)
    .bind(&c.definition.ar)
    .bind(&c.definition.en)
    .bind(c.base.code)
    .bind(&c.fixed.branch_id)
    .bind(&c.fixed.gender)
    .bind(&c.fixed.topic)
    .bind(now_micros())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::AlreadyExists(format!("indicator {}", c.code)));
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct StoredTarget {
    code: String,
    from_date: String,
    until_date: String,
    branch_id: String,
    baseline: i64,
    target: i64,
    currency: String,
    updated_at: i64,
}

/// A target as stored, with when it was last set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    pub target: Target,
    pub updated_at: i64,
}

impl TryFrom<StoredTarget> for TargetRow {
    type Error = Error;

    fn try_from(r: StoredTarget) -> Result<TargetRow> {
        let day = |s: &str| {
            Date::parse(s).ok_or_else(|| Error::internal(format!("a stored target's day {s:?}")))
        };
        Ok(TargetRow {
            target: Target {
                from: day(&r.from_date)?,
                until: day(&r.until_date)?,
                code: r.code,
                branch_id: r.branch_id,
                baseline: r.baseline,
                target: r.target,
                currency: r.currency,
            },
            updated_at: r.updated_at,
        })
    }
}

/// Sets a target, replacing the one of the same indicator, period and
/// branch.
#[tracing::instrument(skip_all, fields(code = %t.code))]
pub async fn set_target(tx: &mut Tx, t: &Target) -> Result<TargetRow> {
    let tenant = tx.tenant().to_owned();
    let now = now_micros();
    sqlx::query(
        "INSERT INTO impact_targets (tenant_id, code, from_date, until_date, branch_id, baseline,
            target, currency, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, code, from_date, until_date, branch_id) DO UPDATE SET
            baseline = $6, target = $7, currency = $8, updated_at = $9",
    )
    .bind(&tenant)
    .bind(&t.code)
    .bind(t.from.to_string())
    .bind(t.until.to_string())
    .bind(&t.branch_id)
    .bind(t.baseline)
    .bind(t.target)
    .bind(&t.currency)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(TargetRow {
        target: t.clone(),
        updated_at: now,
    })
}

/// The targets of `code` (every indicator's when empty) whose period
/// overlaps `from..=until` (any period when `None`).
#[tracing::instrument(skip(tx))]
pub async fn targets(
    tx: &mut Tx,
    code: &str,
    overlapping: Option<(Date, Date)>,
) -> Result<Vec<TargetRow>> {
    let mut w = markaz_kit::sql::Where::tenant("tenant_id", tx.tenant());
    w.eq("code", code);
    if let Some((from, until)) = overlapping {
        w.compare("from_date", "<=", &until.to_string()).compare(
            "until_date",
            ">=",
            &from.to_string(),
        );
    }
    let sql = format!(
        "SELECT code, from_date, until_date, branch_id, baseline, target, currency, updated_at
         FROM impact_targets {} ORDER BY code, from_date, branch_id",
        w.sql()
    );
    let rows: Vec<StoredTarget> = sqlx::query_as_with(sqlx::AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter().map(TargetRow::try_from).collect()
}
