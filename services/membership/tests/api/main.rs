//! Membership over real gRPC, on SQLite with the in-process bus and on
//! PostgreSQL with NATS: the same test bodies on both. One binary, a module
//! per resource.

mod access;
mod assessments;
mod erasure;
mod organizations;
mod people;
mod requests;
mod search;
mod world;
