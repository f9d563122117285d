//! The SQL of donors: the deployment's donors, the tenant's share
//! agreements, the audit of donor reads and the suppression threshold.

use std::collections::BTreeMap;

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::LocalizedText;

use crate::domain::donors::{Donor, NewShare, SettingsFields};
use crate::domain::suppression::DEFAULT_THRESHOLD;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DonorRow {
    pub donor: Donor,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredDonor {
    donor_id: String,
    name_ar: String,
    name_en: String,
    iati_identifier: String,
    created_at: i64,
}

impl From<StoredDonor> for DonorRow {
    fn from(r: StoredDonor) -> DonorRow {
        DonorRow {
            donor: Donor {
                id: r.donor_id,
                name: LocalizedText {
                    ar: r.name_ar,
                    en: r.name_en,
                },
                iati_identifier: r.iati_identifier,
            },
            created_at: r.created_at,
        }
    }
}

const DONOR_COLUMNS: &str = "donor_id, name_ar, name_en, iati_identifier, created_at";

/// A registered donor, by id.
#[tracing::instrument(skip(tx))]
pub async fn donor(tx: &mut Tx, id: &str) -> Result<Option<DonorRow>> {
    let row: Option<StoredDonor> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DONOR_COLUMNS} FROM impact_donors WHERE donor_id = $1"
    )))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(DonorRow::from))
}

/// Registers `d`: the row registered, the same one when it was already, or
/// ALREADY_EXISTS when the id is taken by other fields.
#[tracing::instrument(skip_all, fields(donor = %d.id))]
pub async fn register_donor(tx: &mut Tx, d: &Donor) -> Result<DonorRow> {
    sqlx::query(
        "INSERT INTO impact_donors (donor_id, name_ar, name_en, iati_identifier, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (donor_id) DO NOTHING",
    )
    .bind(&d.id)
    .bind(&d.name.ar)
    .bind(&d.name.en)
    .bind(&d.iati_identifier)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    let row = donor(tx, &d.id)
        .await?
        .ok_or_else(|| Error::internal("a donor just registered is missing"))?;
    if &row.donor != d {
        return Err(Error::AlreadyExists(format!(
            "donor {} is registered with other fields",
            d.id
        )));
    }
    Ok(row)
}

/// A page of the deployment's donors, by id, and how many there are.
#[tracing::instrument(skip(tx))]
pub async fn donors(tx: &mut Tx, after: &str, limit: i64) -> Result<(Vec<DonorRow>, Total)> {
    // The donors belong to no tenant: $1 is bound to "" and named by an
    // always-true condition, so the numbering stays the kit's.
    let mut w = Where::across_tenants("");
    w.fixed("$1 = ''");
    let total = w.count(tx, "impact_donors").await?;
    w.compare("donor_id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {DONOR_COLUMNS} FROM impact_donors {} ORDER BY donor_id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredDonor> = sqlx::query_as_with(sqlx::AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((rows.into_iter().map(DonorRow::from).collect(), total))
}

/// A share agreement as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRow {
    pub id: String,
    pub tenant_id: String,
    pub share: NewShare,
    pub active: bool,
    pub revoke_reason: String,
    pub created_at: i64,
    pub revoked_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredShare {
    tenant_id: String,
    id: String,
    donor_id: String,
    program_ids: String,
    indicator_codes: String,
    from_date: String,
    until_date: String,
    purpose_ar: String,
    purpose_en: String,
    state: String,
    revoke_reason: String,
    created_at: i64,
    revoked_at: i64,
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn day(s: &str) -> Result<Date> {
    Date::parse(s).ok_or_else(|| Error::internal(format!("a stored day {s:?}")))
}

impl TryFrom<StoredShare> for ShareRow {
    type Error = Error;
    fn try_from(r: StoredShare) -> Result<ShareRow> {
        Ok(ShareRow {
            share: NewShare {
                donor_id: r.donor_id,
                program_ids: list(&r.program_ids),
                indicator_codes: list(&r.indicator_codes),
                from: day(&r.from_date)?,
                until: day(&r.until_date)?,
                purpose: LocalizedText {
                    ar: r.purpose_ar,
                    en: r.purpose_en,
                },
            },
            id: r.id,
            tenant_id: r.tenant_id,
            active: r.state == "SHARE_STATE_ACTIVE",
            revoke_reason: r.revoke_reason,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

const SHARE_COLUMNS: &str = "tenant_id, id, donor_id, program_ids, indicator_codes, from_date,
    until_date, purpose_ar, purpose_en, state, revoke_reason, created_at, revoked_at";

#[tracing::instrument(skip_all, fields(donor = %s.donor_id))]
pub async fn insert_share(tx: &mut Tx, id: &str, s: &NewShare) -> Result<ShareRow> {
    let tenant = tx.tenant().to_owned();
    let now = now_micros();
    sqlx::query(
        "INSERT INTO impact_share_agreements (tenant_id, id, donor_id, program_ids,
            indicator_codes, from_date, until_date, purpose_ar, purpose_en, state, revoke_reason,
            created_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'SHARE_STATE_ACTIVE', '', $10, 0)",
    )
    .bind(&tenant)
    .bind(id)
    .bind(&s.donor_id)
    .bind(s.program_ids.join(","))
    .bind(s.indicator_codes.join(","))
    .bind(s.from.to_string())
    .bind(s.until.to_string())
    .bind(&s.purpose.ar)
    .bind(&s.purpose.en)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(ShareRow {
        id: id.to_owned(),
        tenant_id: tenant,
        share: s.clone(),
        active: true,
        revoke_reason: String::new(),
        created_at: now,
        revoked_at: 0,
    })
}

#[tracing::instrument(skip(tx))]
pub async fn share(tx: &mut Tx, id: &str) -> Result<Option<ShareRow>> {
    tx.find_as::<StoredShare, ShareRow>(
        sqlx::AssertSqlSafe(format!(
            "SELECT {SHARE_COLUMNS} FROM impact_share_agreements
             WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

/// Revokes an active agreement; false when it was revoked already.
#[tracing::instrument(skip(tx))]
pub async fn revoke(tx: &mut Tx, id: &str, reason: &str) -> Result<bool> {
    let tenant = tx.tenant().to_owned();
    let done = sqlx::query(
        "UPDATE impact_share_agreements
         SET state = 'SHARE_STATE_REVOKED', revoke_reason = $3, revoked_at = $4,
             version = version + 1
         WHERE tenant_id = $1 AND id = $2 AND state = 'SHARE_STATE_ACTIVE'",
    )
    .bind(&tenant)
    .bind(id)
    .bind(reason)
    .bind(now_micros())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// A page of the tenant's agreements (of `donor` when set; active ones
/// only when `active_only`), by id, and how many there are.
#[tracing::instrument(skip(tx))]
pub async fn shares(
    tx: &mut Tx,
    donor: &str,
    active_only: bool,
    after: &str,
    limit: i64,
) -> Result<(Vec<ShareRow>, Total)> {
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("donor_id", donor);
    if active_only {
        w.fixed("state = 'SHARE_STATE_ACTIVE'");
    }
    let total = w.count(tx, "impact_share_agreements").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {SHARE_COLUMNS} FROM impact_share_agreements {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredShare> = sqlx::query_as_with(sqlx::AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let rows = rows
        .into_iter()
        .map(ShareRow::try_from)
        .collect::<Result<_>>()?;
    Ok((rows, total))
}

/// The tenant's sharing settings as stored: what the admin set, and when.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub fields: SettingsFields,
    /// 0: never set.
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredSettings {
    suppression_threshold: i64,
    iati_identifier: String,
    name_ar: String,
    name_en: String,
    public_indicator_codes: String,
    published_program_ids: String,
    branch_admin1_pcodes: String,
    sector_dac5_codes: String,
    updated_at: i64,
}

/// "k=v,k=v" (keys and values are slugs, codes or enum names: no ',' or
/// '=' in them, the domain checked).
fn pairs(s: &str) -> BTreeMap<String, String> {
    list(s)
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn joined_pairs(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The tenant's settings (the defaults when never set).
#[tracing::instrument(skip(tx))]
pub async fn settings(tx: &mut Tx) -> Result<Settings> {
    let tenant = tx.tenant().to_owned();
    let row: Option<StoredSettings> = sqlx::query_as(
        "SELECT suppression_threshold, iati_identifier, name_ar, name_en,
            public_indicator_codes, published_program_ids, branch_admin1_pcodes,
            sector_dac5_codes, updated_at
         FROM impact_sharing_settings WHERE tenant_id = $1",
    )
    .bind(&tenant)
    .fetch_optional(tx.conn())
    .await?;
    Ok(match row {
        Some(r) => Settings {
            fields: SettingsFields {
                threshold: r.suppression_threshold,
                iati_identifier: r.iati_identifier,
                name: LocalizedText {
                    ar: r.name_ar,
                    en: r.name_en,
                },
                public_codes: list(&r.public_indicator_codes),
                published_programs: list(&r.published_program_ids),
                branch_pcodes: pairs(&r.branch_admin1_pcodes),
                sector_codes: pairs(&r.sector_dac5_codes),
            },
            updated_at: r.updated_at,
        },
        None => Settings {
            fields: SettingsFields {
                threshold: DEFAULT_THRESHOLD,
                ..SettingsFields::default()
            },
            updated_at: 0,
        },
    })
}

/// The tenant's suppression threshold.
pub async fn threshold(tx: &mut Tx) -> Result<(i64, i64)> {
    let s = settings(tx).await?;
    Ok((s.fields.threshold, s.updated_at))
}

/// Replaces the tenant's settings; `updated_at` is set here.
#[tracing::instrument(skip_all)]
pub async fn set_settings(tx: &mut Tx, s: &SettingsFields) -> Result<Settings> {
    let tenant = tx.tenant().to_owned();
    let now = now_micros();
    sqlx::query(
        "INSERT INTO impact_sharing_settings (tenant_id, suppression_threshold, iati_identifier,
            name_ar, name_en, public_indicator_codes, published_program_ids,
            branch_admin1_pcodes, sector_dac5_codes, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id) DO UPDATE SET suppression_threshold = $2,
            iati_identifier = $3, name_ar = $4, name_en = $5, public_indicator_codes = $6,
            published_program_ids = $7, branch_admin1_pcodes = $8, sector_dac5_codes = $9,
            updated_at = $10",
    )
    .bind(&tenant)
    .bind(s.threshold)
    .bind(&s.iati_identifier)
    .bind(&s.name.ar)
    .bind(&s.name.en)
    .bind(s.public_codes.join(","))
    .bind(s.published_programs.join(","))
    .bind(joined_pairs(&s.branch_pcodes))
    .bind(joined_pairs(&s.sector_codes))
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(Settings {
        fields: s.clone(),
        updated_at: now,
    })
}

/// One donor read, for the audit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadRow {
    pub id: String,
    pub donor_id: String,
    pub subject: String,
    pub method: String,
    pub share_agreement_ids: Vec<String>,
    pub indicator_codes: Vec<String>,
    pub program_ids: Vec<String>,
    /// Empty when the read has no period.
    pub from: String,
    pub until: String,
    pub values_answered: i64,
    pub values_suppressed: i64,
    pub read_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredRead {
    id: String,
    donor_id: String,
    subject: String,
    method: String,
    share_agreement_ids: String,
    indicator_codes: String,
    program_ids: String,
    from_date: String,
    until_date: String,
    values_answered: i64,
    values_suppressed: i64,
    read_at: i64,
}

impl From<StoredRead> for ReadRow {
    fn from(r: StoredRead) -> ReadRow {
        ReadRow {
            id: r.id,
            donor_id: r.donor_id,
            subject: r.subject,
            method: r.method,
            share_agreement_ids: list(&r.share_agreement_ids),
            indicator_codes: list(&r.indicator_codes),
            program_ids: list(&r.program_ids),
            from: r.from_date,
            until: r.until_date,
            values_answered: r.values_answered,
            values_suppressed: r.values_suppressed,
            read_at: r.read_at,
        }
    }
}

#[tracing::instrument(skip_all, fields(method = %r.method))]
pub async fn insert_read(tx: &mut Tx, r: &ReadRow) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_donor_reads (tenant_id, id, donor_id, subject, method,
            share_agreement_ids, indicator_codes, program_ids, from_date, until_date,
            values_answered, values_suppressed, read_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&tenant)
    .bind(&r.id)
    .bind(&r.donor_id)
    .bind(&r.subject)
    .bind(&r.method)
    .bind(r.share_agreement_ids.join(","))
    .bind(r.indicator_codes.join(","))
    .bind(r.program_ids.join(","))
    .bind(&r.from)
    .bind(&r.until)
    .bind(r.values_answered)
    .bind(r.values_suppressed)
    .bind(r.read_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A page of the audit, newest first (of `donor` when set).
#[tracing::instrument(skip(tx))]
pub async fn reads(
    tx: &mut Tx,
    donor: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<ReadRow>, Total)> {
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("donor_id", donor);
    let total = w.count_capped(tx, "impact_donor_reads").await?;
    w.compare("id", "<", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT id, donor_id, subject, method, share_agreement_ids, indicator_codes, program_ids,
            from_date, until_date, values_answered, values_suppressed, read_at
         FROM impact_donor_reads {} ORDER BY id DESC LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredRead> = sqlx::query_as_with(sqlx::AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((rows.into_iter().map(ReadRow::from).collect(), total))
}
