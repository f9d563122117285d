//! Networking's consumer: membership's events through
//! `markaz-membership-copies` (organizations, people, affiliations, and
//! erasure), and grants' awards, to link campaigns to the grant that funded
//! them and to suggest awardees for a showcase event.
//!
//! Each event is applied in the transaction of its inbox row (a redelivery
//! has no second effect).

use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::events::{On, Router};
use markaz_kit::rpc::parse_id;
use markaz_membership_copies::{Change, Reactions};
use markaz_proto::events::v1 as ev;

use crate::store;

/// The producer of the grant awards.
pub const GRANTS: &str = "grants";

/// The state of networking's consumer.
#[derive(Debug, Default)]
pub struct NetworkingEvents;

/// The consumer's handler: membership's copies, then grants' awards.
pub fn router() -> Router<NetworkingEvents> {
    markaz_membership_copies::routes(Router::new(NetworkingEvents))
        .on::<ev::GrantAwarded>()
        .on::<ev::ProjectCompleted>()
}

#[markaz_kit::async_trait]
impl Reactions for NetworkingEvents {
    /// An erased person: the copy lost the name; networking's own records
    /// name people only through the copy (invitations, participants and
    /// commitments join it), and keep gender, age band and category, so the
    /// figures stay right. The stored answers of retried requests that
    /// showed the name go.
    async fn react(&self, tx: &mut Tx, change: &Change) -> Result<()> {
        if let Change::PersonErased { person_id, .. } = change {
            tx.forget_aggregate(person_id).await?;
            tracing::info!(person = %person_id, "person erased from networking's records");
        }
        Ok(())
    }
}

fn context(c: Option<&ev::GrantContext>) -> Result<&ev::GrantContext> {
    c.ok_or_else(|| Error::invalid("context", "required"))
}

#[markaz_kit::async_trait]
impl On<ev::GrantAwarded> for NetworkingEvents {
    async fn on(&self, tx: &mut Tx, e: ev::GrantAwarded) -> Result<()> {
        let c = context(e.context.as_ref())?;
        let (award, call, proposal, organization) = (
            parse_id("award_id", &e.award_id),
            parse_id("context.call_id", &c.call_id),
            parse_id("context.proposal_id", &c.proposal_id),
            parse_id("context.organization_id", &c.organization_id),
        )
            .all()?;
        store::grants::awarded(tx, &award, &call, &proposal, &organization, &c.branch_id).await
    }
}

#[markaz_kit::async_trait]
impl On<ev::ProjectCompleted> for NetworkingEvents {
    async fn on(&self, tx: &mut Tx, e: ev::ProjectCompleted) -> Result<()> {
        let award = parse_id("award_id", &e.award_id)?;
        let outcome = ev::ProjectOutcome::try_from(e.outcome)
            .map(|o| o.as_str_name().to_string())
            .unwrap_or_default();
        store::grants::completed(tx, &award, &outcome).await
    }
}
