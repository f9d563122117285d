//! The database: one URL chooses PostgreSQL or SQLite, and one store
//! implementation per service serves both.
//!
//! Services write their SQL once, with `$1` parameters, in the dialect both
//! databases share (`RETURNING`, `ON CONFLICT`, `LIKE ... ESCAPE`). What still
//! differs lives in two places only: the migrations (see [`crate::migrate`])
//! and this module, which knows that
//!
//! * on PostgreSQL each service has its own schema, connections act as the
//!   `markaz_app` role (not the tables' owner, so row-level security applies),
//!   and every transaction sets `markaz.tenant_id` for the policies to check;
//! * on SQLite writes go through a single connection (SQLite has one writer;
//!   queueing in the pool is cheaper than spinning on `SQLITE_BUSY`) while
//!   reads use a pool of their own, in WAL mode.
//!
//! Every transaction a service opens is scoped to one tenant ([`Db::write`],
//! [`Db::read`]); the store adds `tenant_id = $1` to every query on top.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Executor, Transaction};
use tokio::sync::Notify;

use crate::config::DatabaseConfig;
use crate::error::{Error, Result};

/// The role every application connection on PostgreSQL acts as. It owns no
/// table, so the tables' forced row-level security applies to it.
pub const APP_ROLE: &str = "markaz_app";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A service's database: pools, the backend, and the signal that wakes the
/// outbox relay after a commit that wrote events.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static str,
    backend: Backend,
    url: String,
    schema: Option<String>,
    writer: AnyPool,
    reader: AnyPool,
    outbox_written: Notify,
    sequences: SequenceBlocks,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("service", &self.inner.service)
            .field("backend", &self.inner.backend)
            .field("schema", &self.inner.schema)
            .finish()
    }
}

impl Db {
    /// Connects the pools of `service`. On PostgreSQL `schema` defaults to the
    /// service's name; it must exist ([`crate::migrate::run`] creates it).
    pub async fn connect(
        service: &'static str,
        url: &str,
        schema: Option<String>,
        config: &DatabaseConfig,
    ) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let acquire = Duration::from_millis(config.acquire_timeout_ms);
        let (schema, writer, reader) = match backend {
            Backend::Postgres => {
                let schema = schema.unwrap_or_else(|| service.to_string());
                check_identifier(&schema)?;
                let setup = Arc::new(format!(
                    "SET search_path TO \"{schema}\"; SET ROLE {APP_ROLE}"
                ));
                let pool = pool_options(config.max_connections, acquire)
                    .after_connect(move |conn, _| {
                        let setup = setup.clone();
                        Box::pin(async move {
                            conn.execute(AssertSqlSafe(setup.as_str().to_owned()))
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&with_application_name(url, &schema))
                    .await
                    .map_err(|e| {
                        Error::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
                    })?;
                (Some(schema), pool.clone(), pool)
            }
            Backend::Sqlite => {
                let url = sqlite_create_url(url);
                let writer = pool_options(1, acquire)
                    .after_connect(sqlite_pragmas)
                    .connect(&url)
                    .await
                    .map_err(|e| Error::Unavailable(format!("cannot open SQLite: {e}")))?;
                let reader = pool_options(config.max_connections.clamp(1, 8), acquire)
                    .after_connect(sqlite_pragmas)
                    .connect(&url)
                    .await
                    .map_err(|e| Error::Unavailable(format!("cannot open SQLite: {e}")))?;
                (None, writer, reader)
            }
        };
        Ok(Db {
            inner: Arc::new(Inner {
                service,
                backend,
                url: url.to_string(),
                schema,
                writer,
                reader,
                outbox_written: Notify::new(),
                sequences: SequenceBlocks::default(),
            }),
        })
    }

    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    pub fn url(&self) -> &str {
        &self.inner.url
    }

    pub fn schema(&self) -> Option<&str> {
        self.inner.schema.as_deref()
    }

    /// A transaction that may write, scoped to `tenant`.
    pub async fn write(&self, tenant: &str) -> Result<Tx> {
        self.begin(&self.inner.writer, Some(tenant), true).await
    }

    /// A read scoped to `tenant`. On PostgreSQL a transaction (the tenant
    /// setting lives in it); on SQLite a plain connection, as each statement
    /// reads a consistent snapshot and BEGIN/ROLLBACK would cost two more
    /// round trips to SQLite's worker thread.
    pub async fn read(&self, tenant: &str) -> Result<Tx> {
        self.begin(&self.inner.reader, Some(tenant), false).await
    }

    /// A transaction with no tenant, for the platform's own tables (outbox,
    /// dead letters) and for tenant administration. On PostgreSQL the
    /// tenant-scoped tables show it no rows.
    pub async fn system(&self) -> Result<Tx> {
        self.begin(&self.inner.writer, None, true).await
    }

    /// A system transaction on PostgreSQL holding the advisory lock named
    /// `lock` (an identifier, hashed by the server) until it ends; taken
    /// with BEGIN in one round trip.
    pub(crate) async fn system_locked(&self, lock: &str) -> Result<Tx> {
        if !lock
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::internal(format!("'{lock}' is not a lock name")));
        }
        let tx = begin_uncancellable(
            &self.inner.writer,
            format!("BEGIN; SELECT pg_advisory_xact_lock(hashtext('{lock}'))"),
        )
        .await?;
        Ok(Tx {
            conn: Conn::Tx(tx),
            tenant: String::new(),
            db: self.clone(),
            wrote_events: false,
        })
    }

    async fn begin(&self, pool: &AnyPool, tenant: Option<&str>, writes: bool) -> Result<Tx> {
        if let Some(t) = tenant {
            check_tenant(t)?;
        }
        let conn = match (self.inner.backend, tenant) {
            // BEGIN and the tenant setting in one round trip. The tenant is
            // inlined, which `check_tenant` makes safe: a slug has no quote.
            (Backend::Postgres, Some(t)) => Conn::Tx(
                begin_uncancellable(
                    pool,
                    format!("BEGIN; SELECT set_config('markaz.tenant_id', '{t}', true)"),
                )
                .await?,
            ),
            (Backend::Sqlite, _) if !writes => Conn::Plain(pool.acquire().await?),
            // Take SQLite's write lock at BEGIN: a deferred transaction that
            // reads, then writes after another process (a CLI command beside
            // `markaz dev`) committed would fail at once instead of waiting.
            (Backend::Sqlite, _) => {
                Conn::Tx(begin_uncancellable(pool, "BEGIN IMMEDIATE".into()).await?)
            }
            _ => Conn::Tx(begin_uncancellable(pool, "BEGIN".into()).await?),
        };
        Ok(Tx {
            conn,
            tenant: tenant.unwrap_or_default().to_string(),
            db: self.clone(),
            wrote_events: false,
        })
    }

    /// Wakes the relay: a transaction that wrote to the outbox committed.
    pub(crate) fn notify_outbox(&self) {
        self.inner.outbox_written.notify_one();
    }

    pub(crate) async fn outbox_written(&self) {
        self.inner.outbox_written.notified().await
    }

    /// Checks that the database answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.inner.reader).await?;
        Ok(())
    }

    /// Whether the service could write right now: a connection of the
    /// writer pool answers (on SQLite: the write lock can be taken), within
    /// `timeout`. What health and the consumers ask before they call a
    /// failure an event's fault rather than an outage.
    pub async fn probe(&self, timeout: Duration) -> Result<()> {
        let check = async {
            match self.inner.backend {
                Backend::Postgres => {
                    sqlx::query("SELECT 1").execute(&self.inner.writer).await?;
                }
                Backend::Sqlite => {
                    let tx =
                        begin_uncancellable(&self.inner.writer, "BEGIN IMMEDIATE".into()).await?;
                    tx.rollback().await?;
                }
            }
            Ok::<_, Error>(())
        };
        tokio::time::timeout(timeout, check)
            .await
            .map_err(|_| Error::Unavailable("the database does not answer".into()))?
    }

    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }

    /// The pool for the platform's own writes outside a transaction.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.inner.writer
    }

    /// The pool for the platform's own reads outside a transaction; on
    /// SQLite it never waits for the single writer connection.
    pub(crate) fn reader(&self) -> &AnyPool {
        &self.inner.reader
    }
}

/// The most ids [`Tx::rows_for_ids`] binds in one statement: a page's
/// worth many times over, far below SQLite's 32,766 bound values.
pub const IDS_PER_STATEMENT: usize = 500;

/// One transaction, scoped to a tenant. Queries run on [`Tx::conn`]; events
/// written with [`Tx::publish`](crate::events) commit or roll back with it.
pub struct Tx {
    conn: Conn,
    tenant: String,
    db: Db,
    pub(crate) wrote_events: bool,
}

enum Conn {
    Tx(Transaction<'static, Any>),
    Plain(PoolConnection<Any>),
}

impl Tx {
    /// The connection to run this transaction's queries on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        match &mut self.conn {
            Conn::Tx(tx) => tx,
            Conn::Plain(c) => c,
        }
    }

    /// The tenant the transaction is scoped to ("" for a system transaction).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Has PostgreSQL plan each of this transaction's statements for the
    /// values bound to it. By default, after five runs of a prepared
    /// statement, it may settle on one generic plan for every value. That
    /// suits a condition whose cost is the same for every value (a tenant,
    /// an id). It does not suit one whose cost depends on the value itself.
    /// A text pattern (`LIKE '%…%'`) is an example: a trigram index answers
    /// a rare word at once, while a common one is cheaper to walk in the
    /// page's order. Measured: the capped count of a search matching no one,
    /// on its generic plan, walked every tenant's 50,000 people (4.1 ms)
    /// instead of reading the index (0.015 ms). Costs one statement, and a
    /// planning of each statement after it. SQLite has no generic plans:
    /// nothing to do.
    pub async fn plan_for_each_value(&mut self) -> Result<()> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Runs `sql` with `$1` = this transaction's tenant and `$2` = `id`, and
    /// maps the row it finds, if any: the shape of every "get one".
    pub async fn find<T>(
        &mut self,
        sql: impl sqlx::SqlSafeStr,
        id: &str,
        map: impl FnOnce(&sqlx::any::AnyRow) -> Result<T>,
    ) -> Result<Option<T>> {
        let tenant = self.tenant.clone();
        let row = sqlx::query(sql)
            .bind(tenant)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(map).transpose()
    }

    /// [`Tx::find`] into a typed row `R` (`#[derive(sqlx::FromRow)]`), then
    /// into the domain's `T` (`TryFrom<R>`, where stored names become enums).
    pub async fn find_as<R, T>(&mut self, sql: impl sqlx::SqlSafeStr, id: &str) -> Result<Option<T>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
        T: TryFrom<R, Error = Error>,
    {
        let tenant = self.tenant.clone();
        let row: Option<R> = sqlx::query_as(sql)
            .bind(tenant)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.map(T::try_from).transpose()
    }

    /// Runs `sql`, whose `$1` is this transaction's tenant and whose `{ids}`
    /// stands for the list `ids` (bound as `$2, $3, ...`), into typed rows:
    /// the children of a whole page of records in one statement, never one
    /// per record. No ids, no statement. A list longer than
    /// [`IDS_PER_STATEMENT`] (a report's every record, not a page) is sent in
    /// parts of that size, so no statement outgrows SQLite's limit on bound
    /// values; the rows come part after part, each part in `sql`'s order.
    pub async fn rows_for_ids<R>(&mut self, sql: &str, ids: &[String]) -> Result<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut rows = Vec::new();
        for part in ids.chunks(IDS_PER_STATEMENT) {
            let list = (2..part.len() + 2)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut q = sqlx::query_as::<_, R>(AssertSqlSafe(sql.replace("{ids}", &list)))
                .bind(self.tenant.clone());
            for id in part {
                q = q.bind(id.clone());
            }
            rows.extend(q.fetch_all(self.conn()).await?);
        }
        Ok(rows)
    }

    pub async fn commit(self) -> Result<()> {
        let Tx {
            conn,
            db,
            wrote_events,
            ..
        } = self;
        if let Conn::Tx(tx) = conn {
            // COMMIT is not cut short by a cancelled request: cut after it
            // was sent, the request would not know whether it committed and
            // the connection would get a stray ROLLBACK behind it.
            tokio::spawn(tx.commit())
                .await
                .map_err(|e| Error::internal(format!("commit task: {e}")))??;
        }
        if wrote_events {
            db.notify_outbox();
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        if let Conn::Tx(tx) = self.conn {
            tx.rollback().await?;
        }
        Ok(())
    }

    /// Takes the row's lock before reading it for a change, so that two
    /// concurrent read-modify-writes of one object queue instead of the
    /// second failing its version check. A no-op update: PostgreSQL locks the
    /// row until commit; SQLite has a single writer anyway.
    pub async fn lock(&mut self, table: &'static str, id: &str) -> Result<()> {
        check_identifier(table)?;
        let tenant = self.tenant.clone();
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET version = version WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The next value of a sequence declared in the service's migrations
    /// (`{{sequence name}}`). Values are unique and increasing within a
    /// process, not dense.
    ///
    /// On PostgreSQL the sequence hands out blocks of [`SEQUENCE_BLOCK`]
    /// numbers and the process deals them out from memory: `nextval` holds
    /// no lock and is not rolled back, so a block is never handed out twice,
    /// and most creates save the round trip. On SQLite (one writer, where an
    /// increment inside a transaction that rolls back is undone) each value
    /// is taken in the transaction itself.
    pub async fn next_value(&mut self, sequence: &'static str) -> Result<i64> {
        check_identifier(sequence)?;
        if self.backend() == Backend::Sqlite {
            let value: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "UPDATE markaz_sequences SET value = value + 1 WHERE name = '{sequence}' RETURNING value"
            )))
            .fetch_one(self.conn())
            .await?;
            return Ok(value);
        }
        if let Some(v) = self.db.inner.sequences.take(sequence) {
            return Ok(v);
        }
        let block: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT nextval('{sequence}')")))
            .fetch_one(self.conn())
            .await?;
        Ok(self.db.inner.sequences.refill(sequence, block))
    }
}

/// Numbers a PostgreSQL sequence value stands for: value `n` is the block
/// `(n - 1) * SEQUENCE_BLOCK + 1 ..= n * SEQUENCE_BLOCK`.
pub const SEQUENCE_BLOCK: i64 = 64;

/// The blocks of sequence numbers this process holds, by sequence.
#[derive(Default)]
struct SequenceBlocks(std::sync::Mutex<std::collections::HashMap<&'static str, (i64, i64)>>);

impl SequenceBlocks {
    /// The next number of the block held for `name`, if any is left.
    fn take(&self, name: &'static str) -> Option<i64> {
        let mut blocks = self.0.lock().expect("sequence lock");
        let (next, end) = blocks.get_mut(name)?;
        if *next > *end {
            return None;
        }
        *next += 1;
        Some(*next - 1)
    }

    /// Holds block `n` for `name` and returns its first number.
    fn refill(&self, name: &'static str, n: i64) -> i64 {
        let first = (n - 1) * SEQUENCE_BLOCK + 1;
        self.0
            .lock()
            .expect("sequence lock")
            .insert(name, (first + 1, n * SEQUENCE_BLOCK));
        first
    }
}

pub fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err(Error::internal(format!(
            "unsupported database URL scheme in '{}'",
            crate::config::redact_url(url)
        )))
    }
}

/// Begins a transaction with `statement` in a task of its own, so that a
/// request cancelled while BEGIN is on the wire cannot return a connection
/// to the pool inside a transaction the pool does not know about.
///
/// sqlx counts a transaction only once BEGIN has answered; dropped before
/// that, the server has begun it and the connection goes back to the pool
/// with it open, and every later autocommit statement on that connection
/// (a dead letter, an outbox purge) would run inside it and could be lost.
/// In its own task BEGIN always completes; when nobody waits for the result
/// any more, the transaction is dropped, which rolls it back before the
/// connection is pooled again. [`pool_options`] closes any connection that
/// still comes back in a transaction.
async fn begin_uncancellable(
    pool: &AnyPool,
    statement: String,
) -> Result<Transaction<'static, Any>> {
    let pool = pool.clone();
    let begun = tokio::spawn(async move { pool.begin_with(AssertSqlSafe(statement)).await });
    Ok(begun
        .await
        .map_err(|e| Error::internal(format!("begin task: {e}")))??)
}

fn pool_options(max_connections: u32, acquire_timeout: Duration) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // sqlx pings a connection before each checkout by default: a round
        // trip per transaction. A broken connection fails its query instead,
        // and the pool discards it.
        .test_before_acquire(false)
        // A connection whose transaction state is not "none" is not handed
        // out again: closed, and a fresh one takes its place.
        .after_release(|conn, _| {
            Box::pin(async move {
                use sqlx::Connection;
                let clean = !conn.is_in_transaction();
                if !clean {
                    tracing::warn!(
                        "a pooled connection came back inside a transaction; closing it"
                    );
                }
                Ok(clean)
            })
        })
}

/// Every SQLite connection: write-ahead log (readers never block the writer),
/// foreign keys enforced, and a wait instead of an error when locked.
fn sqlite_pragmas(
    conn: &mut AnyConnection,
    _: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, std::result::Result<(), sqlx::Error>> {
    Box::pin(async move {
        conn.execute(
            // secure_delete: freed pages are overwritten with zeros, so an
            // erased name is not left in the file (see crate::erasure).
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
             PRAGMA secure_delete = ON;",
        )
        .await?;
        Ok(())
    })
}

/// The name PostgreSQL shows for the connections of the service using
/// `schema` (`pg_stat_activity.application_name`), unless the URL sets one.
pub fn application_name(schema: &str) -> String {
    format!("markaz-{schema}")
}

fn with_application_name(url: &str, schema: &str) -> String {
    if url.contains("application_name=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={}", application_name(schema))
}

/// SQLite files are created on first use.
fn sqlite_create_url(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Tenant ids are slugs: lowercase letters, digits and '-', at most 63.
pub fn check_tenant(tenant: &str) -> Result<()> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 63
        && tenant
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "tenant",
            "a tenant id is lowercase letters, digits and '-'",
        ))
    }
}

/// Schema names are interpolated into SQL, so they are held to a strict shape.
pub(crate) fn check_identifier(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "'{name}' is not a valid schema name"
        )))
    }
}

/// A value stored by its name (an enumeration, by its protobuf name) read
/// back: an unknown name is the database's fault, not the caller's.
pub fn stored<E>(name: &str, parse: fn(&str) -> Option<E>) -> Result<E> {
    parse(name).ok_or_else(|| Error::internal(format!("unknown stored value '{name}'")))
}

/// Whether a database error is a unique-constraint violation (both backends).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_blocks_never_overlap() {
        let blocks = SequenceBlocks::default();
        assert_eq!(blocks.take("n"), None);
        assert_eq!(blocks.refill("n", 1), 1);
        let mut seen: Vec<i64> = (0..63).map(|_| blocks.take("n").unwrap()).collect();
        assert_eq!(blocks.take("n"), None, "a block holds {SEQUENCE_BLOCK}");
        assert_eq!(blocks.refill("n", 2), 65);
        seen.push(65);
        assert_eq!(seen, (2..=65).collect::<Vec<_>>());
    }
}
