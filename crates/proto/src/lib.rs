//! Generated code for the Markaz protobuf packages (`proto/markaz/**`).
//!
//! Nothing here is written by hand except these re-exports: the modules mirror
//! the protobuf packages (`markaz.membership.v1` is [`membership::v1`]).
#![forbid(unsafe_code)]
#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/_includes.rs"));

pub use markaz::*;
pub use prost;
pub use prost_types;

/// Every Markaz file descriptor, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/markaz_descriptor.bin"));
