//! The grants service: the center's community small grants (e.g. the
//! "Father Paolo Grant for Community Projects") from the call to the
//! project's closure.
//!
//! | room | what it holds |
//! |---|---|
//! | [`domain`] | the rules: life cycles, parsing, eligibility, rubric arithmetic, the award's money |
//! | [`store`] | the SQL, one implementation for PostgreSQL and SQLite |
//! | [`api`] | the gRPC API: the rights table, one handler per RPC, object rights, one transaction per request, events to the outbox |
//! | [`events`] | the consumer: membership's copies (`markaz-membership-copies`) and the reactions to them, capacity's completed courses |
//!
//! Grants calls no other service: eligibility and conflicts of interest are
//! decided on its own copies.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod events;
pub mod store;

pub use api::RIGHTS;

use std::sync::Arc;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::events::Consumer;
use markaz_kit::migrate::{Migration, MigrationSet};
use markaz_kit::rpc::Rights;
use markaz_proto::grants::v1::grants_service_server::GrantsServiceServer;
use tonic::server::NamedService;

pub const NAME: &str = "grants";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "grants",
        sql: include_str!("../migrations/0001_grants.sql"),
    },
    Migration {
        version: 2,
        name: "completions",
        sql: include_str!("../migrations/0002_completions.sql"),
    },
    Migration {
        version: 3,
        name: "coaches",
        sql: include_str!("../migrations/0003_coaches.sql"),
    },
    Migration {
        version: 4,
        name: "membership copies",
        sql: include_str!("../migrations/0004_membership_copies.sql"),
    },
];

/// The producers whose events grants reads: membership's (its copies,
/// through `markaz-membership-copies`) and capacity's (completed courses).
pub const CONSUMES: &[&str] = &[markaz_membership_copies::PRODUCER, "capacity"];

/// The grants service, as the runtime runs it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Grants;

impl Service for Grants {
    fn name(&self) -> &'static str {
        NAME
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn libraries(&self) -> &'static [MigrationSet] {
        &[markaz_membership_copies::MIGRATIONS]
    }

    fn rights(&self) -> &'static [Rights] {
        api::RIGHTS
    }

    fn register(
        &self,
        ctx: &ServiceContext,
        routes: &mut tonic::service::RoutesBuilder,
    ) -> Vec<&'static str> {
        let api = api::GrantsApi::new(ctx.db.clone(), ctx.rpc.clone());
        routes.add_service(
            GrantsServiceServer::new(api).max_decoding_message_size(ctx.max_message_bytes),
        );
        vec![<GrantsServiceServer<api::GrantsApi> as NamedService>::NAME]
    }

    fn consumer(&self, _ctx: &ServiceContext) -> Option<(Consumer, Vec<&'static str>)> {
        Some((consumer(), CONSUMES.to_vec()))
    }
}

/// Grants' consumer: its name and handler (also for applying events by hand,
/// e.g. `markaz dlq replay` or tests).
pub fn consumer() -> Consumer {
    Consumer {
        name: NAME,
        handler: Arc::new(events::router()),
    }
}
