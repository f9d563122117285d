//! The capacity-building service: the topic catalogue, courses and workshops
//! with their daily sessions, enrolments with a waiting list, attendance,
//! pre/post tests, certificates anyone can verify, consultations and
//! technical-support sessions with their follow-up actions, training
//! suggestions from the public, course recommendations from an
//! organization's latest assessment, and reports computed from the records.
//!
//! | room | what it holds |
//! |---|---|
//! | [`domain`] | the rules: parsing requests, the course life cycle, the waiting list, completion, learning gain, certificate codes, recommendation ranking |
//! | [`store`] | the SQL, one implementation for PostgreSQL and SQLite |
//! | [`api`] | the gRPC API: roles and rights, one transaction per request, events to the outbox |
//! | [`events`] | the copies of membership's organizations, people, affiliations and assessments, built from its events |
//! | [`limits`] | the in-memory rate limits of the public RPCs |
//!
//! Capacity never calls membership: what it knows of organizations and
//! people comes from membership's events, so a person registered a moment
//! ago may not be known here yet (such requests are refused with
//! FAILED_PRECONDITION and can be retried).
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod events;
pub mod limits;
pub mod store;

use std::sync::Arc;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::events::Consumer;
use markaz_kit::migrate::Migration;
use markaz_proto::capacity::v1::capacity_service_server::CapacityServiceServer;
use tonic::server::NamedService;

pub const NAME: &str = "capacity";

/// The producer whose events build capacity's copies.
pub const MEMBERSHIP: &str = "membership";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "capacity",
    sql: include_str!("../migrations/0001_capacity.sql"),
}];

/// The capacity-building service, as the runtime runs it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Capacity;

impl Service for Capacity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn register(
        &self,
        ctx: &ServiceContext,
        routes: &mut tonic::service::RoutesBuilder,
    ) -> Vec<&'static str> {
        let api = api::CapacityApi::new(ctx.db.clone(), ctx.rpc.clone());
        routes.add_service(
            CapacityServiceServer::new(api).max_decoding_message_size(ctx.max_message_bytes),
        );
        vec![<CapacityServiceServer<api::CapacityApi> as NamedService>::NAME]
    }

    fn consumer(&self, _ctx: &ServiceContext) -> Option<(Consumer, Vec<&'static str>)> {
        Some((
            Consumer {
                name: NAME,
                handler: Arc::new(events::MembershipEvents::default()),
            },
            vec![MEMBERSHIP],
        ))
    }
}
