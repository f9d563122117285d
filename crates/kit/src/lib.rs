//! The Markaz platform, written once and used by every service.
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | `MARKAZ_*` variables and the TOML file, validated at start |
//! | [`db`], [`migrate`] | PostgreSQL or SQLite behind one URL; tenant-scoped transactions; embedded migrations; row-level security |
//! | [`events`], [`bus`] | outbox, relay, inbox, consumers, dead letters; NATS JetStream and in-process adapters |
//! | [`auth`] | EdDSA JWT verification, roles, the caller |
//! | [`fetch`] | one bounded HTTP(S) request (an issuer's keys, the console's sign-in) |
//! | [`error`] | one error type, mapped once to gRPC statuses with details |
//! | [`money`] | ISO-4217 money in integer minor units: parsing, checked sums, display |
//! | [`retention`] | request ids past their replay window and old inbox rows, purged in bounded batches |
//! | [`rpc`], [`validate`] | the per-RPC wrapper and the API conventions (request ids, etags, pages, field parsing) |
//! | [`sql`] | statements built from the filters that are set, so each uses its index |
//! | [`telemetry`] | tracing, OpenTelemetry export, Prometheus metrics |
//! | [`listener`] | the accept loop of every server: a cap on connections, back-off at the descriptor limit, handshake and idle deadlines |
//! | [`health`] | whether each service can do its work: gRPC health, `/readyz`, gauges, one log line per change |
//! | [`app`] | the process: services, server, health, reflection, graceful shutdown |
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod bus;
pub mod config;
pub mod db;
pub mod erasure;
pub mod error;
pub mod events;
pub mod fetch;
pub mod health;
pub mod listener;
pub mod migrate;
pub mod money;
pub mod platform;
pub mod retention;
pub mod rpc;
pub mod sql;
pub mod telemetry;
pub mod tenants;
pub mod time;
pub mod validate;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{AllValid, Error, FieldViolation, Result, Violations};
/// The attribute of every async trait the platform defines (handlers,
/// reactions), so services need no dependency of their own for it.
pub use tonic::async_trait;
