//! The resources service: the civic-knowledge library (items, their files,
//! partner contributions and their moderation, search, usage) and the
//! co-working space (spaces, equipment, opening hours, closures, bookings,
//! the services it gives organizations).
//!
//! | room | what it holds |
//! |---|---|
//! | [`domain`] | the rules, one file per resource (`items`, `moderation`, `files`, `search`, `spaces`, `bookings`, `services`): parsing every request with every violation at once, life cycles as tables, the search normalizer, ranking, recurrence, overlap, usage arithmetic — no I/O |
//! | [`storage`] | the library's files in object storage (`object_store`): the local filesystem in embedded mode, S3-compatible storage in production; streaming put and ranged get, never a whole file in memory |
//! | `migrations/` | the tables for both databases: items with their normalized search column (FTS5 on SQLite, a GIN-indexed `tsvector` on PostgreSQL), file versions, moderation history, usage per month, spaces, bookings with the database as the overlap guard, services |
//!
//! Still to come, on the service pattern being reworked (issue 8): `api`
//! (the gRPC handlers over kit's plumbing), `store` (the SQL), `events` (the
//! consumer of membership's copies and capacity's `CourseScheduled`), and
//! the `Service` implementation that wires them into `markaz dev` and
//! `markaz serve`.
#![forbid(unsafe_code)]

pub mod domain;
pub mod storage;

use markaz_kit::migrate::Migration;

pub const NAME: &str = "resources";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "resources",
    sql: include_str!("../migrations/0001_resources.sql"),
}];
