//! Impact over real gRPC, on SQLite with the in-process bus and on
//! PostgreSQL with NATS: the same test bodies on both. The producers'
//! events are applied through impact's real consumer and inbox; the figures
//! are read through the public API and held to a recount of the generated
//! activity.

mod changes;
mod definitions;
mod donors;
mod exports;
mod figures;
mod publication;
mod rebuild;
mod rights;
mod world;
