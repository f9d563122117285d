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
//! | [`store`] | the SQL, one implementation for PostgreSQL and SQLite |
//! | [`api`] | the gRPC API: the rights table, one handler per RPC, object rights, one transaction per request, events to the outbox |
//! | [`events`] | the consumer: membership's copies (`markaz-membership-copies`) and grants' awards |
//! | `migrations/` | the tables, one SQL for PostgreSQL and SQLite |
//!
//! Networking calls no other service: organizations, people and grant
//! awards are known from their producers' events.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod events;
pub mod store;

use std::sync::Arc;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::events::Consumer;
use markaz_kit::migrate::{Migration, MigrationSet};
use markaz_kit::rpc::Rights;
use markaz_proto::networking::v1::networking_service_server::NetworkingServiceServer;
use tonic::server::NamedService;

pub use api::RIGHTS;

pub const NAME: &str = "networking";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "networking",
    sql: include_str!("../migrations/0001_networking.sql"),
}];

/// The networking service, as the runtime runs it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Networking;

impl Service for Networking {
    fn name(&self) -> &'static str {
        NAME
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn libraries(&self) -> &'static [MigrationSet] {
        &[markaz_membership_copies::MIGRATIONS]
    }

    fn register(
        &self,
        ctx: &ServiceContext,
        routes: &mut tonic::service::RoutesBuilder,
    ) -> Vec<&'static str> {
        let api = api::NetworkingApi::new(ctx.db.clone(), ctx.rpc.clone());
        routes.add_service(
            NetworkingServiceServer::new(api).max_decoding_message_size(ctx.max_message_bytes),
        );
        vec![<NetworkingServiceServer<api::NetworkingApi> as NamedService>::NAME]
    }

    fn rights(&self) -> &'static [Rights] {
        RIGHTS
    }

    fn consumer(&self, _ctx: &ServiceContext) -> Option<(Consumer, Vec<&'static str>)> {
        Some((
            Consumer {
                name: NAME,
                handler: Arc::new(events::router()),
            },
            vec![markaz_membership_copies::PRODUCER, events::GRANTS],
        ))
    }
}
