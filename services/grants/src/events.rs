//! Grants' consumer of membership's and capacity's events: grants never
//! calls those services, it decides on what their events told it.
//!
//! | event | what grants does |
//! |---|---|
//! | membership's organizations, people, affiliations | the copies are `markaz-membership-copies`' (versions, late and repeated events, erasure, malformed events); grants reacts to what changed, below |
//! | `PersonErased` (reaction) | a reviewer who was this person loses the sign-in link and the stored answer of its create (which carried the name) |
//! | `PersonAffiliated` (reaction) | review assignments of a reviewer now affiliated with the applicant are withdrawn |
//! | `CourseCompleted`, `CertificateIssued` | a member of an organization completed a course on its topics |
//! | `CertificateRevoked` | that completion no longer counts: a topic stays completed only while the organization holds another completion of it |
//!
//! Each handler runs in the transaction of its inbox row, so a redelivered
//! event has no second effect.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::events::{On, Router};
use markaz_membership_copies::{Change, Reactions};
use markaz_proto::events::v1 as ev;

use crate::store;

/// The state of grants' consumer (none: every fact is in the database).
#[derive(Debug, Default, Clone, Copy)]
pub struct GrantsEvents;

/// The consumer's handler: membership's copies, then capacity's courses.
pub fn router() -> Router<GrantsEvents> {
    markaz_membership_copies::routes(Router::new(GrantsEvents))
        .on::<ev::CourseCompleted>()
        .on::<ev::CertificateIssued>()
        .on::<ev::CertificateRevoked>()
}

#[markaz_kit::async_trait]
impl Reactions for GrantsEvents {
    async fn react(&self, tx: &mut Tx, change: &Change) -> Result<()> {
        match change {
            Change::PersonErased { person_id, .. } => {
                store::reviewers::erase_person(tx, person_id).await
            }
            Change::Affiliated {
                person_id,
                organization_id,
                ..
            } => {
                // A reviewer now affiliated with an applicant no longer
                // reviews its proposals, and scores already given stop
                // counting.
                let recused = store::conflicts::recuse(
                    tx,
                    "",
                    person_id,
                    organization_id,
                    "",
                    "the reviewer is affiliated with the applicant organization",
                    // Staff affiliate people, not the reviewer: nothing to
                    // hide from it.
                    false,
                )
                .await?;
                if recused > 0 {
                    tracing::info!(
                        person = %person_id,
                        organization = %organization_id,
                        recused,
                        "review assignments withdrawn: affiliation with the applicant"
                    );
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[markaz_kit::async_trait]
impl On<ev::CourseCompleted> for GrantsEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CourseCompleted) -> Result<()> {
        // Completers who came as individuals (no organization) do not make
        // an organization eligible.
        for c in e
            .completers
            .iter()
            .filter(|c| !c.organization_id.is_empty())
        {
            store::eligibility::apply_completion(
                tx,
                &e.course_id,
                &c.person_id,
                &c.organization_id,
                &e.topic_codes,
            )
            .await?;
        }
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl On<ev::CertificateIssued> for GrantsEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CertificateIssued) -> Result<()> {
        if e.organization_id.is_empty() {
            return Ok(());
        }
        store::eligibility::apply_completion(
            tx,
            &e.course_id,
            &e.person_id,
            &e.organization_id,
            &e.topic_codes,
        )
        .await
    }
}

#[markaz_kit::async_trait]
impl On<ev::CertificateRevoked> for GrantsEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CertificateRevoked) -> Result<()> {
        if e.organization_id.is_empty() {
            return Ok(());
        }
        store::eligibility::revoke_completion(tx, &e.course_id, &e.person_id, &e.organization_id)
            .await
    }
}
