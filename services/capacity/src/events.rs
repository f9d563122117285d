//! Capacity's consumer of membership's events.
//!
//! The copies of membership's organizations, people and affiliations are
//! `markaz-membership-copies`' (its tables, its rules for versions, late
//! and repeated events, erasure, malformed events); capacity routes those
//! events there and reacts to what changed: every event makes its tenant
//! known here (public suggestions are taken for known centers only), and an
//! erased person's name and notes leave capacity's own records. The latest
//! assessment of each organization is capacity's own copy, from
//! `AssessmentCompleted`.
//!
//! Each event is applied in the transaction of its inbox row (a redelivery
//! has no second effect).

use std::collections::HashSet;
use std::sync::Mutex;

use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Result};
use markaz_kit::events::{On, Router};
use markaz_kit::rpc::parse_id;
use markaz_kit::time::Date;
use markaz_membership_copies::{Change, Reactions};
use markaz_proto::common::v1::CapacityDomain;
use markaz_proto::events::v1 as ev;

use crate::domain::recommendations::Assessment;
use crate::store;

/// The state of capacity's consumer.
#[derive(Debug, Default)]
pub struct CapacityEvents {
    /// Tenants whose row in `known_tenants` is known to be committed: the
    /// insert found it there. Saves a write per event; one consumer per
    /// database, so the set never speaks for another database.
    known_tenants: Mutex<HashSet<String>>,
}

/// The consumer's handler: membership's copies, then capacity's own.
pub fn router() -> Router<CapacityEvents> {
    markaz_membership_copies::routes(Router::new(CapacityEvents::default()))
        .on::<ev::AssessmentCompleted>()
}

impl CapacityEvents {
    /// Records that the event's tenant is known here, once per tenant and
    /// process.
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

#[markaz_kit::async_trait]
impl Reactions for CapacityEvents {
    async fn react(&self, tx: &mut Tx, change: &Change) -> Result<()> {
        self.touch_tenant(tx).await?;
        if let Change::PersonErased { person_id } = change {
            erase(tx, person_id).await?;
        }
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl On<ev::AssessmentCompleted> for CapacityEvents {
    async fn on(&self, tx: &mut Tx, e: ev::AssessmentCompleted) -> Result<()> {
        self.touch_tenant(tx).await?;
        let (organization_id, assessment_id, assessed_on) = (
            parse_id("organization_id", &e.organization_id),
            parse_id("assessment_id", &e.assessment_id),
            Date::required("assessed_on", e.assessed_on.as_ref()),
        )
            .all()?;
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
        let assessment = Assessment {
            assessment_id,
            assessed_on,
            scores,
        };
        store::recommendations::apply_assessment(tx, &organization_id, &assessment).await
    }
}

/// The person asked to be forgotten; the copy lost their name already.
/// What capacity does besides, as a data-protection officer would expect:
/// * gender and age band stay on the copy and on capacity's own records, so
///   every figure (reports, CourseCompleted, consultations by gender) stays
///   right;
/// * free text staff attached to the person's own records (notes on their
///   attendance marks, in every revision; why their enrolments were
///   cancelled or certificates revoked) is about them, often why they were
///   absent, and is cleared whole;
/// * the stored answers of retried requests about their enrolments and
///   marks go, with the published copies of their events;
/// * every other mention of them — in consultation notes, follow-up
///   actions, public suggestions, anywhere — is the platform's sweep, which
///   runs after this ([`markaz_kit::erasure::erase`]).
async fn erase(tx: &mut Tx, person_id: &str) -> Result<()> {
    store::erasure::clear_notes_about(tx, person_id).await?;
    for object in store::erasure::objects_naming(tx, person_id).await? {
        tx.forget_aggregate(&object).await?;
    }
    tracing::info!(person = %person_id, "person erased from capacity's records");
    Ok(())
}
