//! Capacity building over real gRPC, on SQLite with the in-process bus and
//! on PostgreSQL with NATS: the same test bodies on both. One test binary,
//! one module per resource of the API, the fixtures in [`world`].
//!
//! What membership knows reaches capacity as membership's events; here they
//! are applied through capacity's real handler and inbox
//! (`markaz_kit::events::apply`) with envelopes built from the event
//! messages, so no membership service is needed.

mod attendance;
mod certificates;
mod consultation_requests;
mod consultations;
mod copies;
mod courses;
mod enrolments;
mod erasure;
mod erasure_everywhere;
mod recommendations;
mod reports;
mod requests;
mod retention;
mod rights;
mod suggestions;
mod topics;
mod world;
