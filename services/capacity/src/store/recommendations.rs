//! The copies of organizations' latest capacity assessments, from
//! membership's `AssessmentCompleted` (capacity's own: they are not part of
//! membership's copies library).

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::CapacityDomain;

use crate::domain::recommendations::Assessment;

#[derive(sqlx::FromRow)]
struct AssessmentRow {
    assessment_id: String,
    #[sqlx(try_from = "String")]
    assessed_on: Date,
    /// "CAPACITY_DOMAIN_X:3,CAPACITY_DOMAIN_Y:1,...".
    scores: String,
}

impl TryFrom<AssessmentRow> for Assessment {
    type Error = Error;
    fn try_from(r: AssessmentRow) -> Result<Assessment> {
        let mut scores = Vec::new();
        for part in r.scores.split(',').filter(|s| !s.is_empty()) {
            let (domain, score) = part
                .split_once(':')
                .ok_or_else(|| Error::internal("stored scores are malformed"))?;
            let score = score
                .parse()
                .map_err(|_| Error::internal("stored score is not a number"))?;
            scores.push((stored(domain, CapacityDomain::from_str_name)?, score));
        }
        Ok(Assessment {
            assessment_id: r.assessment_id,
            assessed_on: r.assessed_on,
            scores,
        })
    }
}

/// Keeps the assessment if it is the organization's latest (by date, then
/// by id for two on one day).
#[tracing::instrument(skip(tx, a), fields(assessment = %a.assessment_id))]
pub async fn apply_assessment(tx: &mut Tx, organization_id: &str, a: &Assessment) -> Result<()> {
    let scores = a
        .scores
        .iter()
        .map(|(d, s)| format!("{}:{s}", d.as_str_name()))
        .collect::<Vec<_>>()
        .join(",");
    sqlx::query(
        "INSERT INTO assessments (tenant_id, organization_id, assessment_id, assessed_on, scores,
            received_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, organization_id) DO UPDATE SET
            assessment_id = excluded.assessment_id, assessed_on = excluded.assessed_on,
            scores = excluded.scores, received_at = excluded.received_at
         WHERE assessments.assessed_on < excluded.assessed_on
            OR (assessments.assessed_on = excluded.assessed_on
                AND assessments.assessment_id < excluded.assessment_id)",
    )
    .bind(tx.tenant().to_owned())
    .bind(organization_id)
    .bind(&a.assessment_id)
    .bind(a.assessed_on.to_string())
    .bind(scores)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn latest_assessment(tx: &mut Tx, organization_id: &str) -> Result<Option<Assessment>> {
    tx.find_as::<AssessmentRow, _>(
        "SELECT assessment_id, assessed_on, scores FROM assessments
         WHERE tenant_id = $1 AND organization_id = $2",
        organization_id,
    )
    .await
}
