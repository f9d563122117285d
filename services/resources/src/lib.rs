//! The resources service: the civic-knowledge library (items, their files,
//! partner contributions and their moderation, search, usage) and the
//! co-working space (spaces, equipment, opening hours, closures, bookings,
//! the services it gives organizations).
//!
//! | room | what it holds |
//! |---|---|
//! | [`domain`] | the rules, one file per resource (`items`, `moderation`, `files`, `search`, `spaces`, `bookings`, `services`): parsing every request with every violation at once, life cycles as tables, the search normalizer, ranking, recurrence, overlap, usage arithmetic — no I/O |
//! | [`store`] | the SQL, one implementation for PostgreSQL and SQLite, the same rooms |
//! | [`api`] | the gRPC API: one handler per RPC, visibility and object rights, one transaction per request, events to the outbox |
//! | [`events`] | the consumer: membership's copies (`markaz-membership-copies`) and capacity's `CourseScheduled`, which books its room |
//! | [`storage`] | the library's files in object storage (`object_store`): the local filesystem in embedded mode, S3-compatible storage in production; streaming put and ranged get, never a whole file in memory |
//! | `migrations/` | the tables for both databases: items with their normalized search column (FTS5 on SQLite, a GIN-indexed `tsvector` on PostgreSQL), file versions, moderation history, usage per month, spaces, bookings with the database as the overlap guard, services |
//!
//! Resources never calls another service: what it knows of organizations
//! and courses comes from their events.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod events;
pub mod storage;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::auth::Role;
use markaz_kit::error::Result;
use markaz_kit::events::Consumer;
use markaz_kit::migrate::{Migration, MigrationSet};
use markaz_kit::rpc::{Access, Rights};
use markaz_proto::resources::v1::resources_service_server::ResourcesServiceServer;
use tonic::server::NamedService;

use crate::storage::{FileStore, S3Settings};

pub const NAME: &str = "resources";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "resources",
    sql: include_str!("../migrations/0001_resources.sql"),
}];

/// Staff manage.
const MANAGE: &[Role] = &[Role::Admin, Role::Staff];
/// Every account that reads the library: its visibility decides what.
const READ: &[Role] = &[
    Role::Admin,
    Role::Staff,
    Role::Trainer,
    Role::Partner,
    Role::Donor,
    Role::Reviewer,
];
/// Staff, and partners for their own contributions.
const CONTRIBUTE: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];
/// Who books spaces: staff, trainers, partners for their organization.
const BOOK: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
/// Staff, and partners for their own organization's records.
const PARTNERS: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];

/// Who may call each method, in the proto's order; object rights (the
/// item's visibility, a partner's own organization) are the handlers'.
pub const RIGHTS: &[Rights] = &[Rights {
    service: NAME,
    grpc_service: <ResourcesServiceServer<api::ResourcesApi> as NamedService>::NAME,
    methods: &[
        ("CreateItem", Access::Roles(CONTRIBUTE)),
        ("GetItem", Access::Roles(READ)),
        ("ListItems", Access::Roles(READ)),
        ("UpdateItem", Access::Roles(CONTRIBUTE)),
        ("PublishItem", Access::Roles(MANAGE)),
        ("WithdrawItem", Access::Roles(MANAGE)),
        ("SubmitContribution", Access::Roles(CONTRIBUTE)),
        ("ApproveContribution", Access::Roles(MANAGE)),
        ("RequestContributionChanges", Access::Roles(MANAGE)),
        ("RejectContribution", Access::Roles(MANAGE)),
        ("ListItemHistory", Access::Roles(CONTRIBUTE)),
        ("UploadFile", Access::Roles(CONTRIBUTE)),
        ("DownloadFile", Access::Roles(READ)),
        ("ListItemFiles", Access::Roles(READ)),
        ("ListFileVersions", Access::Roles(READ)),
        ("WithdrawFileVersion", Access::Roles(MANAGE)),
        ("SearchItems", Access::Roles(READ)),
        ("SuggestItems", Access::Roles(READ)),
        ("SearchPublicItems", Access::Public),
        ("GetPublicItem", Access::Public),
        ("ListPublicItemFiles", Access::Public),
        ("DownloadPublicFile", Access::Public),
        ("GetItemUsage", Access::Roles(CONTRIBUTE)),
        ("GetLibraryUsageReport", Access::Roles(MANAGE)),
        ("CreateSpace", Access::Roles(MANAGE)),
        ("GetSpace", Access::Roles(BOOK)),
        ("ListSpaces", Access::Roles(BOOK)),
        ("UpdateSpace", Access::Roles(MANAGE)),
        ("CreateEquipment", Access::Roles(MANAGE)),
        ("GetEquipment", Access::Roles(BOOK)),
        ("ListEquipment", Access::Roles(BOOK)),
        ("UpdateEquipment", Access::Roles(MANAGE)),
        ("AddClosure", Access::Roles(MANAGE)),
        ("ListClosures", Access::Roles(BOOK)),
        ("RemoveClosure", Access::Roles(MANAGE)),
        ("GetSpaceAvailability", Access::Roles(BOOK)),
        ("CreateBooking", Access::Roles(BOOK)),
        ("CreateBookingSeries", Access::Roles(BOOK)),
        ("GetBooking", Access::Roles(BOOK)),
        ("GetBookingSeries", Access::Roles(BOOK)),
        ("ListBookings", Access::Roles(BOOK)),
        ("UpdateBooking", Access::Roles(BOOK)),
        ("CancelBooking", Access::Roles(BOOK)),
        ("CancelBookingSeries", Access::Roles(BOOK)),
        ("CheckInBooking", Access::Roles(MANAGE)),
        ("MarkBookingNoShow", Access::Roles(MANAGE)),
        ("GetSpaceUsageReport", Access::Roles(MANAGE)),
        ("RecordSpaceService", Access::Roles(MANAGE)),
        ("GetSpaceService", Access::Roles(PARTNERS)),
        ("ListSpaceServices", Access::Roles(PARTNERS)),
        ("VoidSpaceService", Access::Roles(MANAGE)),
        ("GetSpaceServiceReport", Access::Roles(MANAGE)),
    ],
}];

/// Where the library's files are kept.
#[derive(Debug, Clone)]
pub enum Files {
    /// From the environment: `MARKAZ_RESOURCES_S3_BUCKET` (with
    /// `MARKAZ_RESOURCES_S3_ENDPOINT`, `_REGION`, `_ACCESS_KEY_ID`,
    /// `_SECRET_ACCESS_KEY`, `_ALLOW_HTTP`) for S3-compatible storage, else
    /// the directory `MARKAZ_RESOURCES_FILES_DIR`, else `files/` under
    /// `MARKAZ_DATA_DIR` (default `data`), beside `markaz dev`'s databases.
    FromEnvironment,
    Local(PathBuf),
    S3(S3Settings),
}

/// The resources service, as the runtime runs it.
#[derive(Debug, Clone)]
pub struct Resources {
    files: Files,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            files: Files::FromEnvironment,
        }
    }
}

impl Resources {
    /// The service with its files kept as `files` says (tests name a
    /// directory of their own, or an S3 server).
    pub fn with_files(files: Files) -> Self {
        Resources { files }
    }

    fn file_store(&self) -> Result<FileStore> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match &self.files {
            Files::Local(dir) => FileStore::local(dir),
            Files::S3(settings) => FileStore::s3(settings),
            Files::FromEnvironment => {
                if let Some(bucket) = env("MARKAZ_RESOURCES_S3_BUCKET") {
                    return FileStore::s3(&S3Settings {
                        endpoint: env("MARKAZ_RESOURCES_S3_ENDPOINT"),
                        bucket,
                        region: env("MARKAZ_RESOURCES_S3_REGION")
                            .unwrap_or_else(|| "us-east-1".into()),
                        access_key_id: env("MARKAZ_RESOURCES_S3_ACCESS_KEY_ID").unwrap_or_default(),
                        secret_access_key: env("MARKAZ_RESOURCES_S3_SECRET_ACCESS_KEY")
                            .unwrap_or_default(),
                        allow_http: env("MARKAZ_RESOURCES_S3_ALLOW_HTTP")
                            .is_some_and(|v| v == "true" || v == "1"),
                    });
                }
                let dir = env("MARKAZ_RESOURCES_FILES_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        PathBuf::from(env("MARKAZ_DATA_DIR").unwrap_or_else(|| "data".into()))
                            .join("files")
                    });
                FileStore::local(dir)
            }
        }
    }
}

impl Service for Resources {
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
        // A file store that cannot be opened leaves the library's files
        // unavailable, not the whole process down: every file RPC answers
        // UNAVAILABLE with the reason, and the log says it once here.
        let files = self.file_store().map_err(|e| {
            tracing::error!(error = %e, "the library's file storage cannot be opened");
            format!("file storage: {e}")
        });
        let api = api::ResourcesApi::new(ctx.db.clone(), ctx.rpc.clone(), files);
        routes.add_service(
            ResourcesServiceServer::new(api).max_decoding_message_size(ctx.max_message_bytes),
        );
        vec![<ResourcesServiceServer<api::ResourcesApi> as NamedService>::NAME]
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
            vec![markaz_membership_copies::PRODUCER, events::CAPACITY],
        ))
    }
}
