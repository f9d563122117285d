//! What grants knows of an organization for eligibility: membership's copy
//! (`markaz-membership-copies`' table, joined) and the course completions of
//! its members, from capacity's events.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_proto::common::v1::{IncubationStatus, LocalizedText, OrganizationKind};

use super::{localized, named, text};
use crate::domain::eligibility::OrgFacts;

/// What grants knows of an organization: the eligibility facts and its name.
pub async fn organization_facts(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<(OrgFacts, LocalizedText)>> {
    let copy = tx
        .find(
            "SELECT kind, name_ar, name_en, branch_id, incubation_status
             FROM membership_organizations WHERE tenant_id = $1 AND id = $2",
            id,
            |r| {
                Ok((
                    OrgFacts {
                        kind: named(&text(r, "kind")?, OrganizationKind::from_str_name)?,
                        branch_id: text(r, "branch_id")?,
                        incubation_status: named(
                            &text(r, "incubation_status")?,
                            IncubationStatus::from_str_name,
                        )?,
                        topics: Vec::new(),
                    },
                    localized(r, "name")?,
                ))
            },
        )
        .await?;
    let Some((mut facts, name)) = copy else {
        return Ok(None);
    };
    facts.topics = sqlx::query(
        "SELECT DISTINCT t.topic_code FROM completions c
         JOIN course_topics t ON t.tenant_id = c.tenant_id AND t.course_id = c.course_id
         WHERE c.tenant_id = $1 AND c.organization_id = $2 AND c.revoked = 0
         ORDER BY t.topic_code",
    )
    .bind(tx.tenant())
    .bind(id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|t| text(t, "topic_code"))
    .collect::<Result<Vec<_>>>()?;
    Ok(Some((facts, name)))
}

/// A person of an organization completed a course on `topics` (from
/// CourseCompleted or CertificateIssued: the same fact, either may come
/// first or twice). A completion revoked already stays revoked.
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
        .bind(tx.tenant())
        .bind(course_id)
        .bind(topic)
        .execute(tx.conn())
        .await?;
    }
    sqlx::query(
        "INSERT INTO completions (tenant_id, course_id, person_id, organization_id, revoked)
         VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant())
    .bind(course_id)
    .bind(person_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Capacity revoked the certificate of a person's completion of a course:
/// it no longer counts, whether it arrived before or arrives later.
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
    .bind(tx.tenant())
    .bind(course_id)
    .bind(person_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
