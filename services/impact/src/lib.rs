//! The impact service: every figure of the center — trainees and their
//! gender split, courses and training days by topic, consultations per
//! branch, organizations incubated and graduated, community projects and
//! grant money by sector and branch — computed from the other services'
//! events into facts of its own, and reported as the indicators of one
//! catalogue, each with its definition.
//!
//! | room | what it holds |
//! |---|---|
//! | [`domain`] | the catalogue and what a request for figures may ask |
//! | [`store`] | the facts the consumer writes, and the figures counted from them in SQL; donors, agreements, the audit, the funded projects projected from grants' events |
//! | [`api`] | the gRPC API: the catalogue, the figures, the records behind a figure; and `markaz.donors.v1` — share agreements, the audit, and what a donor reads, small cells suppressed (docs/donors.md) |
//! | [`events`] | the consumer: capacity, membership (through `markaz-membership-copies`), grants, networking and resources |
//! | [`rebuild`] | the figures rebuilt from the event history into a new generation of the facts |
//! | `migrations/` | the facts' tables |
//!
//! Impact calls no other service and reads no other service's database:
//! what it counts arrives as events, so a figure is as fresh as the last
//! event applied, which every answer says.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod events;
pub mod rebuild;
pub mod store;

use std::sync::Arc;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::events::Consumer;
use markaz_kit::migrate::{Migration, MigrationSet};
use markaz_kit::rpc::Rights;
use markaz_proto::donors::v1::donor_service_server::DonorServiceServer;
use markaz_proto::donors::v1::sharing_service_server::SharingServiceServer;
use markaz_proto::impact::v1::impact_service_server::ImpactServiceServer;
use tonic::server::NamedService;

pub use api::RIGHTS;

pub const NAME: &str = "impact";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "impact",
        sql: include_str!("../migrations/0001_impact.sql"),
    },
    Migration {
        version: 2,
        name: "targets and custom indicators",
        sql: include_str!("../migrations/0002_targets_and_custom_indicators.sql"),
    },
    Migration {
        version: 3,
        name: "donors",
        sql: include_str!("../migrations/0003_donors.sql"),
    },
    Migration {
        version: 4,
        name: "publication",
        sql: include_str!("../migrations/0004_publication.sql"),
    },
];

/// The impact service, as the runtime runs it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Impact;

impl Service for Impact {
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
        let api = api::ImpactApi::new(ctx.db.clone(), ctx.rpc.clone());
        routes.add_service(
            ImpactServiceServer::new(api.clone()).max_decoding_message_size(ctx.max_message_bytes),
        );
        routes.add_service(
            SharingServiceServer::new(api.clone()).max_decoding_message_size(ctx.max_message_bytes),
        );
        routes.add_service(
            DonorServiceServer::new(api).max_decoding_message_size(ctx.max_message_bytes),
        );
        vec![
            <ImpactServiceServer<api::ImpactApi> as NamedService>::NAME,
            <SharingServiceServer<api::ImpactApi> as NamedService>::NAME,
            <DonorServiceServer<api::ImpactApi> as NamedService>::NAME,
        ]
    }

    fn rights(&self) -> &'static [Rights] {
        RIGHTS
    }

    fn consumer(&self, _ctx: &ServiceContext) -> Option<(Consumer, Vec<&'static str>)> {
        Some((
            Consumer {
                name: NAME,
                handler: Arc::new(events::consumer()),
            },
            vec![
                markaz_membership_copies::PRODUCER,
                events::CAPACITY,
                events::GRANTS,
                events::NETWORKING,
                events::RESOURCES,
            ],
        ))
    }
}
