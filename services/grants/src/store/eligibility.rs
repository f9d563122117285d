//! What grants knows of an organization for eligibility: membership's copy
//! (`markaz-membership-copies`' table, joined) and the course completions of
//! its members, from capacity's events.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_proto::common::v1::{IncubationStatus, LocalizedText, OrganizationKind};

use crate::domain::eligibility::OrgFacts;

/// An organization of `markaz-membership-copies`' table, as grants reads it.
#[derive(sqlx::FromRow)]
struct StoredOrganization {
    kind: String,
    name_ar: String,
    name_en: String,
    branch_id: String,
    incubation_status: String,
}

impl TryFrom<StoredOrganization> for (OrgFacts, LocalizedText) {
    type Error = Error;
    fn try_from(r: StoredOrganization) -> Result<(OrgFacts, LocalizedText)> {
        Ok((
            OrgFacts {
                kind: stored(&r.kind, OrganizationKind::from_str_name)?,
                branch_id: r.branch_id,
                incubation_status: stored(&r.incubation_status, IncubationStatus::from_str_name)?,
                topics: Vec::new(),
            },
            LocalizedText {
                ar: r.name_ar,
                en: r.name_en,
            },
        ))
    }
}

/// What grants knows of an organization: the eligibility facts and its name.
#[tracing::instrument(skip_all)]
pub async fn organization_facts(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<(OrgFacts, LocalizedText)>> {
    // Also a copy that knows only the incubation status (its snapshot has not
    // arrived): the rules then name what is not known yet.
    let copy = tx
        .find_as::<StoredOrganization, (OrgFacts, LocalizedText)>(
            "SELECT kind, name_ar, name_en, branch_id, incubation_status
             FROM membership_organizations WHERE tenant_id = $1 AND id = $2",
            id,
        )
        .await?;
    let Some((mut facts, name)) = copy else {
        return Ok(None);
    };
    facts.topics = sqlx::query_scalar(
        "SELECT DISTINCT t.topic_code FROM completions c
         JOIN course_topics t ON t.tenant_id = c.tenant_id AND t.course_id = c.course_id
         WHERE c.tenant_id = $1 AND c.organization_id = $2 AND c.revoked = 0
         ORDER BY t.topic_code",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    Ok(Some((facts, name)))
}

/// A person of an organization completed a course on `topics` (from
/// CourseCompleted or CertificateIssued: the same fact, either may come
/// first or twice). A completion revoked already stays revoked.
#[tracing::instrument(skip_all)]
pub async fn apply_completion(
    tx: &mut Tx,
    course_id: &str,
    person_id: &str,
    organization_id: &str,
    topics: &[String],
) -> Result<()> {
    for topic in topics {
        sqlx::query(
            "INSERT INTO course_topics (tenant_id, course_id, topic_code) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(tx.tenant().to_owned())
        .bind(course_id)
        .bind(topic)
        .execute(tx.conn())
        .await?;
    }
    sqlx::query(
        "INSERT INTO completions (tenant_id, course_id, person_id, organization_id, revoked)
         VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id)
    .bind(person_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Capacity revoked the certificate of a person's completion of a course:
/// it no longer counts, whether it arrived before or arrives later.
#[tracing::instrument(skip_all)]
pub async fn revoke_completion(
    tx: &mut Tx,
    course_id: &str,
    person_id: &str,
    organization_id: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO completions (tenant_id, course_id, person_id, organization_id, revoked)
         VALUES ($1, $2, $3, $4, 1)
         ON CONFLICT (tenant_id, course_id, person_id, organization_id)
         DO UPDATE SET revoked = 1",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id)
    .bind(person_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
