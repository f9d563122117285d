//! Networking over real gRPC, on SQLite with the in-process bus and on
//! PostgreSQL with NATS: the same test bodies on both. One test binary, one
//! module per resource of the API, the fixtures in [`world`].
//!
//! What membership and grants know reaches networking as their events,
//! applied here through networking's real handler and inbox.

mod campaigns;
mod coalitions;
mod erasure;
mod events;
mod figures;
mod moves;
mod rights;
mod world;
