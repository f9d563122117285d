//! Membership's SQL: one implementation for PostgreSQL and SQLite, one file
//! per resource.
//!
//! Every query of tenant data names `tenant_id = $1`, bound from the
//! transaction's tenant (the caller's token), never from a request body.
//! Enumerations are stored by their protobuf names, so the tables read
//! plainly in SQL. Rows are read into typed structs (`sqlx::FromRow`) and
//! turned into the domain's rows with `TryFrom`, where a stored name that is
//! no value is the database's fault, not the caller's.

mod affiliations;
mod assessments;
mod erasures;
mod organizations;
mod people;
mod search;
mod tenants;

pub use affiliations::*;
pub use assessments::*;
pub use erasures::*;
pub use organizations::*;
pub use people::*;
pub use tenants::*;
