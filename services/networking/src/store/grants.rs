//! The copy of grants' awards, from GrantAwarded and ProjectCompleted.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::LocalizedText;

use super::Filter;

#[derive(Debug, Clone)]
pub struct Award {
    pub award_id: String,
    pub call_id: String,
    pub organization_id: String,
    pub organization_name: LocalizedText,
}

#[derive(sqlx::FromRow)]
struct StoredAward {
    award_id: String,
    call_id: String,
    organization_id: String,
    name_ar: String,
    name_en: String,
}

/// Records an award (once; a redelivery changes nothing).
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip(tx))]
pub async fn awarded(
    tx: &mut Tx,
    award_id: &str,
    call_id: &str,
    proposal_id: &str,
    organization_id: &str,
    branch_id: &str,
) -> Result<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO grant_awards (tenant_id, award_id, call_id, proposal_id, organization_id,
            branch_id, outcome, awarded_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', $7, $7) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(award_id)
    .bind(call_id)
    .bind(proposal_id)
    .bind(organization_id)
    .bind(branch_id)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The project of an award ended with `outcome`.
#[tracing::instrument(skip(tx))]
pub async fn completed(tx: &mut Tx, award_id: &str, outcome: &str) -> Result<()> {
    sqlx::query(
        "UPDATE grant_awards SET outcome = $3, updated_at = $4
         WHERE tenant_id = $1 AND award_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(award_id)
    .bind(outcome)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whether the award is known here.
#[tracing::instrument(skip(tx))]
pub async fn known(tx: &mut Tx, award_id: &str) -> Result<bool> {
    let mut f = Filter::tenant(tx, "a.tenant_id");
    f.and("a.award_id = ?", [award_id.into()]);
    Ok(f.count(tx, "grant_awards a").await? > 0)
}

/// Awards newest first, of one call or all ("").
#[tracing::instrument(skip(tx))]
pub async fn awards(tx: &mut Tx, call_id: &str) -> Result<Vec<Award>> {
    let mut f = Filter::tenant(tx, "a.tenant_id");
    f.when(call_id, "a.call_id = ?");
    let rows: Vec<StoredAward> = f
        .fetch(
            tx,
            format!(
                "SELECT a.award_id, a.call_id, a.organization_id,
                    COALESCE(o.name_ar, '') AS name_ar, COALESCE(o.name_en, '') AS name_en
                 FROM grant_awards a
                 LEFT JOIN membership_organizations o
                    ON o.tenant_id = a.tenant_id AND o.id = a.organization_id
                 WHERE {} ORDER BY a.awarded_at DESC, a.award_id DESC",
                f.sql()
            ),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Award {
            award_id: r.award_id,
            call_id: r.call_id,
            organization_id: r.organization_id,
            organization_name: LocalizedText {
                ar: r.name_ar,
                en: r.name_en,
            },
        })
        .collect())
}
