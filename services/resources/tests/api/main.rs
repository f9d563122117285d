//! The resources service over real gRPC, on SQLite with the in-process bus
//! and on PostgreSQL with NATS: the same test bodies on both. One test
//! binary, one module per resource of the API, the fixtures in [`world`].
//!
//! Capacity's and membership's events reach the service through its real
//! handler and inbox (`markaz_kit::events::apply`) with envelopes built
//! from the event messages, so no other service is needed.

mod bookings;
mod courses;
mod erasure;
mod files;
mod items;
mod moderation;
mod rights;
mod search;
mod services;
mod spaces;
#[path = "../support/mod.rs"]
mod support;
mod usage;
mod world;
