//! What grants does with other services' events: it keeps its own copies of
//! the facts its rules need, and never calls those services.
//!
//! | event | copy |
//! |---|---|
//! | `OrganizationRegistered`, `OrganizationUpdated` | organization: kind, branch, name, incubation status (by version) |
//! | `IncubationStatusChanged` | the organization's incubation status (by version) |
//! | `PersonRegistered`, `PersonUpdated` | person: display name and gender (by version) |
//! | `PersonErased` | the person's name gone for good; a reviewer who was this person loses the sign-in link |
//! | `PersonAffiliated`, `AffiliationEnded` | affiliations; a new one withdraws conflicting review assignments |
//! | `CourseCompleted`, `CertificateIssued` | a member of an organization completed a course on its topics |
//! | `CertificateRevoked` | that completion no longer counts: a topic stays completed only while the organization holds another completion of it |
//!
//! Each handler runs in the transaction of its inbox row, so a redelivered
//! event has no second effect; versions make a late, older snapshot harmless.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::events::{Handler, payload};
use markaz_proto::common::v1::{Gender, IncubationStatus, OrganizationKind};
use markaz_proto::events::v1 as ev;
use prost::Name;

use crate::store;

/// Grants' consumer of membership's and capacity's events.
#[derive(Debug, Default, Clone, Copy)]
pub struct Copies;

#[tonic::async_trait]
impl Handler for Copies {
    async fn handle(&self, tx: &mut Tx, envelope: &ev::Envelope) -> Result<()> {
        let t = envelope.r#type.as_str();
        if t == ev::OrganizationRegistered::full_name() {
            let e: ev::OrganizationRegistered = payload(envelope)?;
            organization(tx, e.organization).await
        } else if t == ev::OrganizationUpdated::full_name() {
            let e: ev::OrganizationUpdated = payload(envelope)?;
            organization(tx, e.organization).await
        } else if t == ev::IncubationStatusChanged::full_name() {
            let e: ev::IncubationStatusChanged = payload(envelope)?;
            let to = IncubationStatus::try_from(e.to).unwrap_or(IncubationStatus::Unspecified);
            store::apply_incubation(tx, &e.organization_id, to, e.version).await
        } else if t == ev::PersonRegistered::full_name() {
            let e: ev::PersonRegistered = payload(envelope)?;
            person(tx, e.person).await
        } else if t == ev::PersonUpdated::full_name() {
            let e: ev::PersonUpdated = payload(envelope)?;
            person(tx, e.person).await
        } else if t == ev::PersonErased::full_name() {
            let e: ev::PersonErased = payload(envelope)?;
            store::erase_person(tx, &e.person_id).await
        } else if t == ev::PersonAffiliated::full_name() {
            let e: ev::PersonAffiliated = payload(envelope)?;
            store::apply_affiliation(
                tx,
                &e.affiliation_id,
                &e.person_id,
                &e.organization_id,
                false,
            )
            .await?;
            // A reviewer now affiliated with an applicant no longer reviews
            // its proposals, and scores already given stop counting.
            let recused = store::recuse(
                tx,
                "",
                &e.person_id,
                &e.organization_id,
                "",
                "the reviewer is affiliated with the applicant organization",
            )
            .await?;
            if recused > 0 {
                tracing::info!(
                    person = %e.person_id,
                    organization = %e.organization_id,
                    recused,
                    "review assignments withdrawn: affiliation with the applicant"
                );
            }
            Ok(())
        } else if t == ev::AffiliationEnded::full_name() {
            let e: ev::AffiliationEnded = payload(envelope)?;
            store::apply_affiliation(
                tx,
                &e.affiliation_id,
                &e.person_id,
                &e.organization_id,
                true,
            )
            .await
        } else if t == ev::CourseCompleted::full_name() {
            // Completers who came as individuals (no organization) do not
            // make an organization eligible.
            let e: ev::CourseCompleted = payload(envelope)?;
            for c in e
                .completers
                .iter()
                .filter(|c| !c.organization_id.is_empty())
            {
                store::apply_completion(
                    tx,
                    &e.course_id,
                    &c.person_id,
                    &c.organization_id,
                    &e.topic_codes,
                )
                .await?;
            }
            Ok(())
        } else if t == ev::CertificateIssued::full_name() {
            let e: ev::CertificateIssued = payload(envelope)?;
            if !e.organization_id.is_empty() {
                store::apply_completion(
                    tx,
                    &e.course_id,
                    &e.person_id,
                    &e.organization_id,
                    &e.topic_codes,
                )
                .await?;
            }
            Ok(())
        } else if t == ev::CertificateRevoked::full_name() {
            let e: ev::CertificateRevoked = payload(envelope)?;
            if !e.organization_id.is_empty() {
                store::revoke_completion(tx, &e.course_id, &e.person_id, &e.organization_id)
                    .await?;
            }
            Ok(())
        } else {
            // Events grants does not need.
            Ok(())
        }
    }
}

async fn organization(tx: &mut Tx, o: Option<ev::OrganizationSnapshot>) -> Result<()> {
    let Some(o) = o else { return Ok(()) };
    store::apply_organization(
        tx,
        &store::OrganizationCopy {
            kind: OrganizationKind::try_from(o.kind).unwrap_or(OrganizationKind::Unspecified),
            incubation_status: IncubationStatus::try_from(o.incubation_status)
                .unwrap_or(IncubationStatus::Unspecified),
            name: o.name.unwrap_or_default(),
            id: o.id,
            identifier: o.identifier,
            governorate: o.governorate,
            branch_id: o.branch_id,
            version: o.version,
        },
    )
    .await
}

async fn person(tx: &mut Tx, p: Option<ev::PersonSnapshot>) -> Result<()> {
    let Some(p) = p else { return Ok(()) };
    let gender = Gender::try_from(p.gender).unwrap_or(Gender::Unspecified);
    store::apply_person(tx, &p.id, &p.full_name, gender, p.version).await
}
