//! The client-side commands of `markaz`: they talk to a running Markaz
//! only through its public gRPC APIs, with the caller's token — like any
//! other client, and with no right of their own.
//!
//! * [`report`] — `markaz report`: the impact figures of a period, settled,
//!   as a table, CSV or JSON.
//! * [`demo`] — `markaz demo seed`: the center of the source document
//!   (two branches, its partners, trainees, courses, consultations, grant
//!   round, networking and library), rebuilt through the APIs, idempotent.
#![forbid(unsafe_code)]

pub mod demo;
pub mod labels;
pub mod progress;
pub mod report;
pub mod rpc;
