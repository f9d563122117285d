//! The resources service's SQL: one implementation for PostgreSQL and
//! SQLite.
//!
//! Every query of the caller's own data names `tenant_id = $1`, bound from
//! the transaction's tenant (the caller's token, or the event's tenant),
//! never from a request body. What other tenants may read — published
//! public and consortium items, spaces shared with the consortium, the
//! bookings of one's own spaces — is read without that condition; on
//! PostgreSQL the migration's named policies open exactly those rows to
//! row-level security, and the queries here say the same for SQLite.
//! Enumerations are stored by their protobuf names, flags as 0/1, sums are
//! cast to BIGINT (PostgreSQL's SUM of a BIGINT is a NUMERIC, which the
//! `Any` driver cannot read). Rows are read into typed row structs, then
//! into the records the api maps to protobuf.
//!
//! | room | what it holds |
//! |---|---|
//! | [`items`] | items, their topics, who may see what (the visibility filter every read shares) |
//! | [`moderation`] | the history of every move |
//! | [`files`] | files and their versions |
//! | [`search`] | candidates of a query on FTS5 / `tsvector`, corpus counts for the ranking |
//! | [`usage`] | views and downloads per item and month |
//! | [`spaces`] | spaces, hours, equipment, closures |
//! | [`bookings`] | bookings, series, the overlap guard's slots |
//! | [`services`] | services the space gives |

pub mod bookings;
pub mod files;
pub mod items;
pub mod moderation;
pub mod search;
pub mod services;
pub mod spaces;
pub mod usage;

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use sqlx::any::AnyArguments;

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// `$from, $from+1, ...` for `n` values bound in order.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names from the code (enumeration names), quoted for an `IN (...)` list:
/// never a value from a request. An empty list matches nothing.
fn names_in<T>(values: &[T], name: impl Fn(&T) -> &'static str) -> String {
    if values.is_empty() {
        return "''".to_string();
    }
    values
        .iter()
        .map(|v| format!("'{}'", name(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A statement being bound.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, AnyArguments>;

/// Runs an UPDATE guarded by the version the caller read (`AND version =
/// $n`): when it changes no row, another writer came first and the etag the
/// caller sent is stale.
async fn versioned(tx: &mut Tx, update: AnyQuery<'_>) -> Result<()> {
    if update.execute(tx.conn()).await?.rows_affected() == 0 {
        return Err(Error::stale_etag());
    }
    Ok(())
}

/// Whether a database error is the overlap guard refusing a slot: the
/// exclusion constraint on PostgreSQL (SQLSTATE 23P01), the trigger's abort
/// on SQLite (its message names the constraint).
pub fn is_overlap(e: &Error) -> bool {
    match e {
        Error::Database {
            source: sqlx::Error::Database(db),
            ..
        } => {
            db.code().as_deref() == Some("23P01")
                || db.message().contains("booking_slots_no_overlap")
        }
        _ => false,
    }
}
