//! The sweep of one service's database for one person: every text and
//! binary column of every tenant table, found in the schema itself — a
//! table or column added later is swept without anyone remembering it —
//! then the platform's own copies: stored answers, the outbox, the dead
//! letters.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::Matcher;
use super::wire::{mentions_anywhere, scrub_envelope, scrub_untyped};
use crate::db::{Backend, Tx};
use crate::error::Result;

/// What an erasure changed, per kind: rows or messages.
pub type Counts = BTreeMap<String, u64>;

/// A column the sweep reads, and how.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub binary: bool,
}

/// The tables of the platform, each swept by a rule of its own below.
fn is_platform(table: &str) -> bool {
    table.starts_with("markaz_") || table.starts_with("_sqlx") || table.starts_with("sqlite_")
}

/// Columns that hold identifiers, never prose: not read.
fn is_identifier(column: &str) -> bool {
    column == "id" || column == "tenant_id" || column.ends_with("_id") || column == "etag"
}

/// The tenant tables of this database and their text and binary columns
/// (identifiers left out) — and, as a text column named `version`, the
/// integer version a table keeps; with `platform`, the platform's tables
/// too.
pub async fn columns(tx: &mut Tx, platform: bool) -> Result<BTreeMap<String, Vec<Column>>> {
    let rows: Vec<(String, String, String)> =
        match tx.backend() {
            Backend::Sqlite => sqlx::query_as(
                "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' ORDER BY m.name, p.cid",
            )
            .fetch_all(tx.conn())
            .await?,
            Backend::Postgres => {
                sqlx::query_as(
                    "SELECT CAST(c.table_name AS TEXT), CAST(c.column_name AS TEXT),
                        CAST(c.data_type AS TEXT)
                 FROM information_schema.columns c
                 JOIN information_schema.tables t
                   ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                 WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
                 ORDER BY c.table_name, c.ordinal_position",
                )
                .fetch_all(tx.conn())
                .await?
            }
        };
    let mut with_tenant = std::collections::BTreeSet::new();
    let mut with_id = std::collections::BTreeSet::new();
    let mut out: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for (table, column, kind) in rows {
        if column == "id" {
            with_id.insert(table.clone());
        }
        if column == "version" && kind.to_ascii_lowercase().contains("int") {
            out.entry(table.clone()).or_default().push(Column {
                name: column,
                binary: false,
            });
            continue;
        }
        if is_platform(&table) && !(platform && table.starts_with("markaz_")) {
            continue;
        }
        if column == "tenant_id" {
            with_tenant.insert(table.clone());
        }
        let kind = kind.to_ascii_lowercase();
        let text = kind.contains("text") || kind.contains("char");
        let binary = kind.contains("blob") || kind.contains("bytea");
        if (text || binary) && !is_identifier(&column) {
            out.entry(table).or_default().push(Column {
                name: column,
                binary,
            });
        }
    }
    out.retain(|t, _| with_tenant.contains(t));
    // A record's version is the `version` of a table of records (keyed by
    // `id`); elsewhere (`file_versions.version`) it is data, even a key.
    for (table, columns) in out.iter_mut() {
        if !with_id.contains(table) {
            columns.retain(|c| c.name != "version");
        }
    }
    for (table, columns) in &out {
        crate::db::check_identifier(table)?;
        for c in columns {
            crate::db::check_identifier(&c.name)?;
        }
    }
    Ok(out)
}

/// Scrubs every mention `matcher` finds in this tenant's rows of every
/// table, except in the columns `spare` names (`"table.column"`): those
/// that hold people's own names, where the same name is someone else's. A
/// table with a `version` column has it bumped on each row it changes,
/// unless `spare` names `"table.version"` (a copy of another service's
/// records, whose versions are that service's).
pub async fn sweep_tables(tx: &mut Tx, matcher: &Matcher, spare: &[&str]) -> Result<Counts> {
    let mut counts = Counts::new();
    let tenant = tx.tenant().to_owned();
    // Rows are rewritten by their physical address, read in the same
    // transaction: tables need no declared key for the sweep to reach them.
    let (key, by_key) = match tx.backend() {
        Backend::Sqlite => ("CAST(rowid AS TEXT)", "rowid = CAST($1 AS INTEGER)"),
        Backend::Postgres => ("CAST(ctid AS TEXT)", "ctid = CAST($1 AS TID)"),
    };
    for (table, columns) in columns(tx, false).await? {
        // A row's version moves with the scrub, so a client holding the
        // text as it was cannot write it back with its old etag — unless
        // `spare` names it: a copy's version is its producer's.
        let versioned = columns.iter().any(|c| c.name == "version")
            && !spare.contains(&format!("{table}.version").as_str());
        let columns: Vec<Column> = columns
            .into_iter()
            .filter(|c| c.name != "version")
            .filter(|c| !spare.contains(&format!("{table}.{}", c.name).as_str()))
            .collect();
        if columns.is_empty() {
            continue;
        }
        let list = columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {key}, {list} FROM \"{table}\" WHERE tenant_id = $1"
        )))
        .bind(&tenant)
        .fetch_all(tx.conn())
        .await?;
        let mut changes: Vec<(String, Vec<(usize, Value)>)> = Vec::new();
        for row in &rows {
            let mut changed = Vec::new();
            for (i, c) in columns.iter().enumerate() {
                if c.binary {
                    let v: Option<Vec<u8>> = row.try_get(i + 1)?;
                    if let Some(new) = v.as_deref().and_then(|b| scrub_untyped(b, matcher)) {
                        changed.push((i, Value::Bytes(new)));
                    }
                } else {
                    let v: Option<String> = row.try_get(i + 1)?;
                    if let Some(new) = v.as_deref().and_then(|s| matcher.scrub(s)) {
                        changed.push((i, Value::Text(new)));
                    }
                }
            }
            if !changed.is_empty() {
                changes.push((row.try_get(0)?, changed));
            }
        }
        for (row_key, changed) in &changes {
            let set = changed
                .iter()
                .enumerate()
                .map(|(n, (i, _))| format!("\"{}\" = ${}", columns[*i].name, n + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let bump = if versioned {
                ", version = version + 1"
            } else {
                ""
            };
            let sql = format!("UPDATE \"{table}\" SET {set}{bump} WHERE {by_key}");
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(row_key);
            for (_, v) in changed {
                q = match v {
                    Value::Text(s) => q.bind(s.clone()),
                    Value::Bytes(b) => q.bind(b.clone()),
                };
            }
            q.execute(tx.conn()).await?;
        }
        if !changes.is_empty() {
            counts.insert(format!("table {table}"), changes.len() as u64);
        }
    }
    Ok(counts)
}

enum Value {
    Text(String),
    Bytes(Vec<u8>),
}

/// The platform's copies in this database: stored answers that mention the
/// person become tombstones (a retry is refused, not answered with the
/// name), and every event in the outbox and every dead letter loses each
/// mention, whatever object it is about.
pub async fn sweep_platform(tx: &mut Tx, matcher: &Matcher) -> Result<Counts> {
    let mut counts = Counts::new();
    let tenant = tx.tenant().to_owned();

    let answers = sqlx::query(
        "SELECT method, request_id, response FROM markaz_idempotency
         WHERE tenant_id = $1 AND request_hash <> $2",
    )
    .bind(&tenant)
    .bind(crate::rpc::ERASED_REQUEST)
    .fetch_all(tx.conn())
    .await?;
    let mut forgotten = 0;
    for row in &answers {
        let response: Vec<u8> = row.try_get(2)?;
        if !mentions_anywhere(&response, matcher) {
            continue;
        }
        let (method, request_id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        sqlx::query(
            "UPDATE markaz_idempotency SET request_hash = $1, response = $2
             WHERE tenant_id = $3 AND method = $4 AND request_id = $5",
        )
        .bind(crate::rpc::ERASED_REQUEST)
        .bind(Vec::<u8>::new())
        .bind(&tenant)
        .bind(method)
        .bind(request_id)
        .execute(tx.conn())
        .await?;
        forgotten += 1;
    }
    if forgotten > 0 {
        counts.insert("stored answers".into(), forgotten);
    }

    let events = sqlx::query("SELECT seq, envelope FROM markaz_outbox WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_all(tx.conn())
        .await?;
    let mut scrubbed = 0;
    for row in &events {
        let envelope: Vec<u8> = row.try_get(1)?;
        let Some(new) = scrub_envelope(&envelope, matcher) else {
            continue;
        };
        sqlx::query("UPDATE markaz_outbox SET envelope = $1 WHERE seq = $2")
            .bind(new)
            .bind(row.try_get::<i64, _>(0)?)
            .execute(tx.conn())
            .await?;
        scrubbed += 1;
    }
    if scrubbed > 0 {
        counts.insert("outbox".into(), scrubbed);
    }

    let letters =
        sqlx::query("SELECT id, envelope, error FROM markaz_dead_letters WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_all(tx.conn())
            .await?;
    let mut scrubbed = 0;
    for row in &letters {
        let (envelope, error): (Vec<u8>, String) = (row.try_get(1)?, row.try_get(2)?);
        let new_envelope =
            scrub_envelope(&envelope, matcher).or_else(|| scrub_untyped(&envelope, matcher));
        let new_error = matcher.scrub(&error);
        if new_envelope.is_none() && new_error.is_none() {
            continue;
        }
        sqlx::query("UPDATE markaz_dead_letters SET envelope = $1, error = $2 WHERE id = $3")
            .bind(new_envelope.unwrap_or(envelope))
            .bind(new_error.unwrap_or(error))
            .bind(row.try_get::<i64, _>(0)?)
            .execute(tx.conn())
            .await?;
        scrubbed += 1;
    }
    if scrubbed > 0 {
        counts.insert("dead letters".into(), scrubbed);
    }
    Ok(counts)
}
