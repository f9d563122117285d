//! Membership's data as the services that consume it keep it — written once,
//! by membership's team, for every consumer (capacity, grants, and the
//! services to come), like a client library.
//!
//! | room | what it holds |
//! |---|---|
//! | [`MIGRATIONS`] | the copy tables `membership_organizations`, `membership_people`, `membership_affiliations`, brought into each consumer's database |
//! | [`apply`] | the rules that apply membership's events to the copies: versions, ended affiliations, erasure, and a refusal of every malformed event |
//! | [`read`] | what a consumer asks of the copies: an organization, a person, an affiliation |
//!
//! A consumer routes membership's events here and reacts to what changed:
//!
//! ```text
//! let handler = markaz_membership_copies::routes(Router::new(CapacityEvents::default()));
//!
//! #[tonic::async_trait]
//! impl markaz_membership_copies::Reactions for CapacityEvents {
//!     async fn react(&self, tx: &mut Tx, change: &Change) -> Result<()> {
//!         if let Change::PersonErased { id, .. } = change { /* its own notes */ }
//!         Ok(())
//!     }
//! }
//! ```
//!
//! Events arrive at least once and not always in order: a snapshot replaces
//! the copy only when it is newer, an end of an affiliation stays an end, an
//! erasure that comes before the person leaves a tombstone no later snapshot
//! gives a name back to. A malformed event (no snapshot, an id that is not
//! one) is refused as invalid, which makes it a dead letter — never dropped
//! in silence.
#![forbid(unsafe_code)]

pub mod apply;
pub mod read;

use markaz_kit::migrate::{Migration, MigrationSet};

pub use apply::{Change, Reactions, routes};
pub use read::{
    Affiliation, Organization, Person, is_affiliated, organization, organizations, person,
};

/// The producer whose events these are.
pub const PRODUCER: &str = "membership";

/// The copy tables, for [`Service::libraries`](markaz_kit::app::Service::libraries).
pub const MIGRATIONS: MigrationSet = MigrationSet {
    scope: "membership-copies",
    migrations: &[
        Migration {
            version: 1,
            name: "membership copies",
            sql: include_str!("../migrations/0001_copies.sql"),
        },
        Migration {
            version: 2,
            name: "registered tenants",
            sql: include_str!("../migrations/0002_registered_tenants.sql"),
        },
    ],
};
