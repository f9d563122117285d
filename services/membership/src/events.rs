//! Membership's consumer: the confirmations of erasures, from every service
//! that holds a copy of people (membership's own included), kept as the
//! erasure's receipt.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::events::{On, Router};
use markaz_kit::rpc::parse_id;
use markaz_proto::events::v1 as ev;

use crate::domain::ERASURE_CONFIRMERS;
use crate::store;

/// The state of membership's consumer (none).
#[derive(Debug, Default)]
pub struct MembershipEvents;

pub fn router() -> Router<MembershipEvents> {
    Router::new(MembershipEvents).on::<ev::ErasureConfirmed>()
}

#[markaz_kit::async_trait]
impl On<ev::ErasureConfirmed> for MembershipEvents {
    async fn on(&self, tx: &mut Tx, e: ev::ErasureConfirmed) -> Result<()> {
        let erasure_id = parse_id("erasure_id", &e.erasure_id)?;
        let counts = e.counts.into_iter().collect();
        store::confirm(tx, &erasure_id, &e.service, &counts, ERASURE_CONFIRMERS).await
    }
}
