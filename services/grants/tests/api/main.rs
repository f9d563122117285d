//! Grants over real gRPC, on SQLite with the in-process bus and on
//! PostgreSQL with NATS: the same test bodies on both. One test binary, one
//! module per resource of the API, the fixtures in [`world`].
//!
//! Membership's and capacity's facts reach grants' copies the way they do in
//! production: as events applied through grants' real handler and inbox
//! (`markaz_kit::events::apply`), built from the producers' own messages.

mod awards;
mod coaching;
mod conflicts;
mod copies;
mod eligibility;
mod erasure;
mod proposals;
mod reports;
mod requests;
mod reviewers;
mod rights;
mod scores;
mod variations;
mod world;
