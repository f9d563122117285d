//! Networking's SQL: one implementation for PostgreSQL and SQLite.
//!
//! Every query of tenant data names `tenant_id`, bound from the
//! transaction's tenant (the caller's token, or the event's tenant), never
//! from a request body. Enumerations are stored by their protobuf names,
//! flags as 0/1, dates as `YYYY-MM-DD` ('' for none), and sums are made in
//! Rust (PostgreSQL's SUM of a BIGINT is a NUMERIC, which the `Any` driver
//! cannot read). Rows are read into typed row structs, then into records;
//! a page of a list costs a fixed number of statements, its children
//! included.
//!
//! | room | what it holds |
//! |---|---|
//! | this module | the filter builder every list shares, status histories, evidence |
//! | [`issues`] | the catalogue |
//! | [`events`] | events, organizers, staff, issues, decisions |
//! | [`invitations`] | invitations and replies |
//! | [`attendance`] | participants and every revision of the list |
//! | [`commitments`] | commitments, their agenda and history |
//! | [`coalitions`] | coalitions, their issues, members and periods |
//! | [`campaigns`] | campaigns, targets, activities, outcomes |
//! | [`grants`] | the copy of grants' awards |
//! | [`reports`] | what the stakeholder map and the reports read |

pub mod attendance;
pub mod campaigns;
pub mod coalitions;
pub mod commitments;
pub mod events;
pub mod grants;
pub mod invitations;
pub mod issues;
pub mod reports;

use std::collections::HashMap;

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::LocalizedText;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use crate::domain::EvidenceSpec;

/// A value bound to a statement.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<i64> for Arg {
    fn from(i: i64) -> Arg {
        Arg::Int(i)
    }
}

/// The conditions of a list, each with its `?` placeholders numbered in
/// order as they are added: the same conditions count the list and read a
/// page of it.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    conds: Vec<String>,
    args: Vec<Arg>,
}

impl Filter {
    /// Starts with `<alias>.tenant_id = $1`, the transaction's tenant.
    pub fn tenant(tx: &Tx, column: &str) -> Filter {
        let mut f = Filter::default();
        f.and(&format!("{column} = ?"), [Arg::from(tx.tenant())]);
        f
    }

    /// Adds a condition; each `?` in it takes the next of `args`.
    pub fn and<I: IntoIterator<Item = Arg>>(&mut self, cond: &str, args: I) -> &mut Filter {
        let mut args = args.into_iter();
        let mut out = String::new();
        for ch in cond.chars() {
            if ch == '?' {
                let a = args.next().unwrap_or(Arg::Text(String::new()));
                self.args.push(a);
                out.push_str(&format!("${}", self.args.len()));
            } else {
                out.push(ch);
            }
        }
        self.conds.push(format!("({out})"));
        self
    }

    /// Adds `cond` only when `value` is not empty.
    pub fn when(&mut self, value: &str, cond: &str) -> &mut Filter {
        if !value.is_empty() {
            let n = cond.matches('?').count();
            self.and(cond, std::iter::repeat_n(Arg::from(value), n));
        }
        self
    }

    /// The placeholder of one more value (a LIMIT, a keyset bound).
    pub fn bind(&mut self, a: impl Into<Arg>) -> String {
        self.args.push(a.into());
        format!("${}", self.args.len())
    }

    pub fn sql(&self) -> String {
        if self.conds.is_empty() {
            "1 = 1".into()
        } else {
            self.conds.join(" AND ")
        }
    }

    /// The rows of `sql`, whose placeholders are this filter's.
    pub async fn fetch<R>(&self, tx: &mut Tx, sql: String) -> Result<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
    {
        let mut q = sqlx::query_as::<_, R>(AssertSqlSafe(sql));
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        Ok(q.fetch_all(tx.conn()).await?)
    }

    /// `SELECT COUNT(*) FROM <from> WHERE <this filter>`.
    pub async fn count(&self, tx: &mut Tx, from: &str) -> Result<i32> {
        let sql = format!("SELECT COUNT(*) AS n FROM {from} WHERE {}", self.sql());
        let rows: Vec<Count> = self.fetch(tx, sql).await?;
        Ok(rows
            .first()
            .map_or(0, |c| c.n.clamp(0, i64::from(i32::MAX)) as i32))
    }
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// `in (..)` of the placeholders of `ids` in `f`.
pub fn in_list(f: &mut Filter, ids: &[String]) -> String {
    if ids.is_empty() {
        return "('')".into();
    }
    let list: Vec<String> = ids.iter().map(|id| f.bind(id.clone())).collect();
    format!("({})", list.join(", "))
}

pub fn flag(b: bool) -> i64 {
    i64::from(b)
}

pub fn text(ar: String, en: String) -> LocalizedText {
    LocalizedText { ar, en }
}

/// Runs an UPDATE guarded by the version the caller read: when it changes
/// no row, another writer came first and the etag is stale.
pub async fn versioned(
    tx: &mut Tx,
    update: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
) -> Result<()> {
    if update.execute(tx.conn()).await?.rows_affected() == 0 {
        return Err(Error::stale_etag());
    }
    Ok(())
}

// ---------------------------------------------------------- status history

/// One status change of an event, a coalition or a campaign.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusChange {
    pub subject_id: String,
    pub from_status: String,
    pub to_status: String,
    pub effective_on: String,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: i64,
}

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip(tx))]
pub async fn insert_status_change(
    tx: &mut Tx,
    subject_kind: &str,
    subject_id: &str,
    from: &str,
    to: &str,
    effective_on: &str,
    reason: &str,
    changed_by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO status_changes (tenant_id, id, subject_kind, subject_id, from_status,
            to_status, effective_on, reason, changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tx.tenant().to_owned())
    .bind(new_id())
    .bind(subject_kind)
    .bind(subject_id)
    .bind(from)
    .bind(to)
    .bind(effective_on)
    .bind(reason)
    .bind(changed_by)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The status histories of `ids`, oldest first, by subject.
#[tracing::instrument(skip(tx, ids))]
pub async fn status_changes(
    tx: &mut Tx,
    subject_kind: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<StatusChange>>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    f.and("subject_kind = ?", [Arg::from(subject_kind)]);
    let list = in_list(&mut f, ids);
    let rows: Vec<StatusChange> = f
        .fetch(
            tx,
            format!(
                "SELECT subject_id, from_status, to_status, effective_on, reason, changed_by,
                    changed_at FROM status_changes WHERE {} AND subject_id IN {list} ORDER BY id",
                f.sql()
            ),
        )
        .await?;
    let mut out: HashMap<String, Vec<StatusChange>> = HashMap::new();
    for r in rows {
        out.entry(r.subject_id.clone()).or_default().push(r);
    }
    Ok(out)
}

// ---------------------------------------------------------------- evidence

/// A piece of evidence as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Evidence {
    pub subject_id: String,
    pub description_ar: String,
    pub description_en: String,
    pub url: String,
    pub library_item_id: String,
    pub event_id: String,
    pub recorded_by: String,
    pub recorded_at: i64,
}

/// Replaces the evidence of a subject.
#[tracing::instrument(skip(tx, items))]
pub async fn replace_evidence(
    tx: &mut Tx,
    subject_kind: &str,
    subject_id: &str,
    items: &[EvidenceSpec],
    recorded_by: &str,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM evidence WHERE tenant_id = $1 AND subject_kind = $2 AND subject_id = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(subject_kind)
    .bind(subject_id)
    .execute(tx.conn())
    .await?;
    let now = now_micros();
    for (i, e) in items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO evidence (tenant_id, id, subject_kind, subject_id, ordinal,
                description_ar, description_en, url, library_item_id, event_id, recorded_by,
                recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(tx.tenant().to_owned())
        .bind(new_id())
        .bind(subject_kind)
        .bind(subject_id)
        .bind(i as i64)
        .bind(&e.description.ar)
        .bind(&e.description.en)
        .bind(&e.url)
        .bind(e.library_item_id.clone().unwrap_or_default())
        .bind(e.event_id.clone().unwrap_or_default())
        .bind(recorded_by)
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// The evidence of `ids`, in order, by subject.
#[tracing::instrument(skip(tx, ids))]
pub async fn evidence(
    tx: &mut Tx,
    subject_kind: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<Evidence>>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    f.and("subject_kind = ?", [Arg::from(subject_kind)]);
    let list = in_list(&mut f, ids);
    let rows: Vec<Evidence> = f
        .fetch(
            tx,
            format!(
                "SELECT subject_id, description_ar, description_en, url, library_item_id,
                    event_id, recorded_by, recorded_at
                 FROM evidence WHERE {} AND subject_id IN {list} ORDER BY subject_id, ordinal",
                f.sql()
            ),
        )
        .await?;
    let mut out: HashMap<String, Vec<Evidence>> = HashMap::new();
    for r in rows {
        out.entry(r.subject_id.clone()).or_default().push(r);
    }
    Ok(out)
}
