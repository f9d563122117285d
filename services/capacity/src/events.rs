//! Capacity's copies of membership's organizations, people, affiliations and
//! latest assessments, built from membership's events and nothing else.
//!
//! Each event is applied in the transaction of its inbox row (a redelivery
//! has no second effect). Events may come out of order: snapshots carry a
//! `version` and only a newer one replaces the copy; an incubation change
//! that arrives before the organization leaves a partial copy the snapshot
//! completes; an erasure that arrives before the person leaves a tombstone
//! that no later snapshot can give a name back to.

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::events::{Handler, payload};
use markaz_kit::time::Date;
use markaz_proto::common::v1::{
    AgeBand, CapacityDomain, Gender, IncubationStatus, OrganizationKind,
};
use markaz_proto::events::v1 as ev;
use prost::Name;

use crate::store::{self, AssessmentCopy, OrganizationCopy, PersonCopy};

/// The handler of membership's events.
#[derive(Debug, Default)]
pub struct MembershipEvents {
    /// Tenants whose row in `known_tenants` is known to be committed: the
    /// insert found it there. Saves a write per event; one handler per
    /// database, so the set never speaks for another database.
    known_tenants: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl MembershipEvents {
    /// Records that the event's tenant is known here (public suggestions are
    /// accepted only for known centers), once per tenant and process.
    async fn touch_tenant(&self, tx: &mut Tx) -> Result<()> {
        let known = self
            .known_tenants
            .lock()
            .expect("tenants lock")
            .contains(tx.tenant());
        if !known && !store::touch_tenant(tx).await? {
            // Already there, so committed by an earlier transaction.
            self.known_tenants
                .lock()
                .expect("tenants lock")
                .insert(tx.tenant().to_string());
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Handler for MembershipEvents {
    async fn handle(&self, tx: &mut Tx, envelope: &ev::Envelope) -> Result<()> {
        let kind = envelope.r#type.as_str();
        self.touch_tenant(tx).await?;
        if kind == ev::OrganizationRegistered::full_name() {
            let e: ev::OrganizationRegistered = payload(envelope)?;
            apply_organization(tx, e.organization).await
        } else if kind == ev::OrganizationUpdated::full_name() {
            let e: ev::OrganizationUpdated = payload(envelope)?;
            apply_organization(tx, e.organization).await
        } else if kind == ev::IncubationStatusChanged::full_name() {
            let e: ev::IncubationStatusChanged = payload(envelope)?;
            let id = required_id("organization_id", &e.organization_id)?;
            let to = IncubationStatus::try_from(e.to).unwrap_or(IncubationStatus::Unspecified);
            store::apply_incubation(tx, &id, to, e.version).await
        } else if kind == ev::AssessmentCompleted::full_name() {
            let e: ev::AssessmentCompleted = payload(envelope)?;
            apply_assessment(tx, e).await
        } else if kind == ev::PersonRegistered::full_name() {
            let e: ev::PersonRegistered = payload(envelope)?;
            apply_person(tx, e.person).await
        } else if kind == ev::PersonUpdated::full_name() {
            let e: ev::PersonUpdated = payload(envelope)?;
            apply_person(tx, e.person).await
        } else if kind == ev::PersonErased::full_name() {
            let e: ev::PersonErased = payload(envelope)?;
            erase_person(tx, &e.person_id).await
        } else if kind == ev::PersonAffiliated::full_name() {
            let e: ev::PersonAffiliated = payload(envelope)?;
            apply_affiliation(
                tx,
                &e.affiliation_id,
                &e.person_id,
                &e.organization_id,
                false,
            )
            .await
        } else if kind == ev::AffiliationEnded::full_name() {
            let e: ev::AffiliationEnded = payload(envelope)?;
            apply_affiliation(
                tx,
                &e.affiliation_id,
                &e.person_id,
                &e.organization_id,
                true,
            )
            .await
        } else {
            // Another event of membership's: not needed here.
            Ok(())
        }
    }
}

/// An id an event must carry; a malformed event is refused for good (it
/// goes to the dead letters rather than being retried).
fn required_id(field: &str, value: &str) -> Result<String> {
    markaz_kit::rpc::parse_id(field, value).map_err(Error::from)
}

async fn apply_organization(tx: &mut Tx, snapshot: Option<ev::OrganizationSnapshot>) -> Result<()> {
    let o = snapshot.ok_or_else(|| Error::invalid("organization", "missing"))?;
    let copy = OrganizationCopy {
        id: required_id("organization.id", &o.id)?,
        kind: OrganizationKind::try_from(o.kind).unwrap_or(OrganizationKind::Unspecified),
        name: o.name.unwrap_or_default(),
        branch_id: o.branch_id,
        incubation_status: IncubationStatus::try_from(o.incubation_status)
            .unwrap_or(IncubationStatus::Unspecified),
        version: o.version,
        complete: true,
    };
    store::apply_organization(tx, &copy).await
}

async fn apply_person(tx: &mut Tx, snapshot: Option<ev::PersonSnapshot>) -> Result<()> {
    let p = snapshot.ok_or_else(|| Error::invalid("person", "missing"))?;
    let copy = PersonCopy {
        id: required_id("person.id", &p.id)?,
        full_name: p.full_name,
        gender: Gender::try_from(p.gender).unwrap_or(Gender::Unspecified),
        age_band: AgeBand::try_from(p.age_band).unwrap_or(AgeBand::Unspecified),
        branch_id: p.branch_id,
        version: p.version,
        erased: false,
    };
    store::apply_person(tx, &copy).await
}

/// The person asked to be forgotten. What capacity does, as a
/// data-protection officer would expect:
/// * the copy loses the name; gender and age band stay, so every figure
///   (reports, CourseCompleted, consultations by gender) stays right;
/// * free text staff attached to the person's own records (notes on their
///   attendance marks, in every revision; why their enrolments were
///   cancelled or certificates revoked) is about them, often why they were
///   absent, and is cleared whole;
/// * staff's other free text (other participants' marks, consultation notes
///   and follow-up actions, public suggestions) is the center's record of
///   its work and is kept, each mention of the person's name as capacity
///   knew it cut out ([`crate::domain::scrub_name`]). A mention by first name alone
///   cannot be told from another person of that name and stays;
/// * the stored answers of retried requests that showed the name or that
///   text (enrolments, attendance sheets, consultations) are dropped, with
///   the published copies of their events.
async fn erase_person(tx: &mut Tx, person_id: &str) -> Result<()> {
    let id = required_id("person_id", person_id)?;
    let name = store::get_person(tx, &id)
        .await?
        .filter(|p| !p.erased)
        .map(|p| p.full_name)
        .unwrap_or_default();
    store::erase_person(tx, &id).await?;
    store::clear_notes_about(tx, &id).await?;
    let mut objects = store::objects_naming(tx, &id).await?;
    if !name.trim().is_empty() {
        objects.extend(store::scrub_name(tx, &name).await?);
    }
    objects.sort();
    objects.dedup();
    for object in objects {
        tx.forget_aggregate(&object).await?;
    }
    tx.forget_aggregate(&id).await?;
    tracing::info!(person = %id, "person erased from capacity's records");
    Ok(())
}

async fn apply_affiliation(
    tx: &mut Tx,
    affiliation_id: &str,
    person_id: &str,
    organization_id: &str,
    ended: bool,
) -> Result<()> {
    let id = required_id("affiliation_id", affiliation_id)?;
    let person = required_id("person_id", person_id)?;
    let organization = required_id("organization_id", organization_id)?;
    store::apply_affiliation(tx, &id, &person, &organization, ended).await
}

async fn apply_assessment(tx: &mut Tx, e: ev::AssessmentCompleted) -> Result<()> {
    let organization = required_id("organization_id", &e.organization_id)?;
    let assessed_on = Date::required("assessed_on", e.assessed_on.as_ref())?;
    let scores = e
        .scores
        .iter()
        .filter_map(|s| {
            CapacityDomain::try_from(s.domain)
                .ok()
                .filter(|d| *d != CapacityDomain::Unspecified)
                .map(|d| (d, s.score))
        })
        .collect();
    let copy = AssessmentCopy {
        assessment_id: required_id("assessment_id", &e.assessment_id)?,
        assessed_on,
        scores,
    };
    store::apply_assessment(tx, &organization, &copy).await
}
