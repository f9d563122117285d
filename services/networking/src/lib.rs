//! The networking service: events and meetings that bring organizations
//! together (networking events, meet-and-greets with local-administration
//! officials, donor round tables, advocacy workshops, coalition meetings,
//! consultations with decision-makers), their invitations, replies and
//! check-in on the day, minutes and decisions, follow-up commitments,
//! issue-based coalitions and their members, advocacy campaigns, the
//! stakeholder map, and every figure of that work computed from records.
//!
//! | room | what it holds |
//! |---|---|
//! | [`domain`] | the rules, one file per resource: parsing requests, the life cycles, check-in merging, membership periods, overdue commitments, the stakeholder map and the figures |
//! | `migrations/` | the tables, one SQL for PostgreSQL and SQLite |
//!
//! The API (`api/`), the SQL (`store/`) and the consumer of membership's and
//! grants' events (`events.rs`) follow in the same resource names once the
//! service pattern they share with the other services has landed; until
//! then the crate is not wired into the binary.
//!
//! Networking calls no other service: organizations, people and grant
//! awards are known from their producers' events.
#![forbid(unsafe_code)]

pub mod domain;

use markaz_kit::migrate::Migration;

pub const NAME: &str = "networking";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "networking",
    sql: include_str!("../migrations/0001_networking.sql"),
}];
