//! Capacity building's SQL: one implementation for PostgreSQL and SQLite.
//!
//! Every query of tenant data names `tenant_id = $1`, bound from the
//! transaction's tenant (the caller's token, or the event's tenant), never
//! from a request body. Enumerations are stored by their protobuf names,
//! flags as 0/1. Reports are counted by the database (`COUNT(*) ... GROUP
//! BY`, a BIGINT on both), never by loading a period's rows; there is no SUM
//! (PostgreSQL's SUM of a BIGINT is a NUMERIC, which the `Any` driver cannot
//! read), so figures that add counts up do it in Rust. Rows are read into typed
//! row structs (`#[derive(sqlx::FromRow)]`), then into the domain's records;
//! a page of a list is read in a fixed number of statements, its children
//! included.
//!
//! What capacity knows of membership's organizations, people and
//! affiliations is in the tables of `markaz-membership-copies`: read through
//! that library, or joined (`membership_people`) where a list shows names.
//!
//! | room | what it holds |
//! |---|---|
//! | this module | the tenants capacity knows, and what the rooms share |
//! | [`topics`] | the catalogue |
//! | [`courses`] | courses, their sessions and trainers, the course lock |
//! | [`enrolments`] | enrolments and the waiting list |
//! | [`attendance`] | current marks and every revision |
//! | [`certificates`] | certificates |
//! | [`consultations`] | consultations, attendees, follow-up actions |
//! | [`consultation_requests`] | requests for a consultation from the public |
//! | [`suggestions`] | suggestions from the public |
//! | [`recommendations`] | the copies of organizations' latest assessments |
//! | [`reports`] | what the activity report reads |
//! | [`erasure`] | what an erased person leaves in capacity's records |

pub mod attendance;
pub mod certificates;
pub mod consultation_requests;
pub mod consultations;
pub mod courses;
pub mod enrolments;
pub mod erasure;
pub mod public_contacts;
pub mod recommendations;
pub mod reports;
pub mod suggestions;
pub mod topics;

use std::collections::HashMap;

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::time::now_micros;
use sqlx::AssertSqlSafe;
use sqlx::any::{AnyArguments, AnyRow};

/// `",a,b,"`, so that `LIKE '%,a,%'` finds a code ("" for none). Codes are
/// slugs: no commas, no LIKE wildcards.
fn codes_text(codes: &[String]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        format!(",{},", codes.join(","))
    }
}

fn codes_of(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `LIKE` pattern that finds `code` in a [`codes_text`] column.
pub fn code_pattern(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!("%,{code},%")
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// The row `sql` finds (`$1` the tenant, `$2` the id), typed, if any: the
/// first statement of a "get one" whose record has children.
async fn row<R>(tx: &mut Tx, sql: &str, id: &str) -> Result<Option<R>>
where
    R: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
{
    Ok(sqlx::query_as::<_, R>(AssertSqlSafe(sql.to_owned()))
        .bind(tx.tenant().to_owned())
        .bind(id.to_owned())
        .fetch_optional(tx.conn())
        .await?)
}

/// Each row with its children (none when it has none), as the domain's
/// record: the last step of reading a page of records that have children.
fn with_children<R, C, T>(
    rows: Vec<R>,
    mut children: HashMap<String, C>,
    id: impl Fn(&R) -> &str,
) -> Result<Vec<T>>
where
    C: Default,
    T: TryFrom<(R, C), Error = Error>,
{
    rows.into_iter()
        .map(|r| {
            let c = children.remove(id(&r)).unwrap_or_default();
            T::try_from((r, c))
        })
        .collect()
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

// ----------------------------------------------------------------- tenants

/// Records that the transaction's tenant exists here (staff work in it, or
/// membership published for it); true when this inserted its row.
#[tracing::instrument(skip_all)]
pub async fn touch_tenant(tx: &mut Tx) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO known_tenants (tenant_id, seen_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(now_micros())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

/// Whether the transaction's tenant is known here.
#[tracing::instrument(skip_all)]
pub async fn tenant_known(tx: &mut Tx) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM known_tenants WHERE tenant_id = $1")
        .bind(tx.tenant().to_owned())
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.is_some())
}
