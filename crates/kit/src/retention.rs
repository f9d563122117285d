//! Retention: the platform's tables that would otherwise only grow.
//!
//! * **Request ids** (`markaz_idempotency`): a create's stored answer is kept
//!   for the replay window (`retention.request_id_days`, 7 days by default).
//!   A retry inside it gets the first answer; after it, the same request id
//!   is a new request. Tombstones of erased requests are kept.
//! * **The inbox** (`markaz_inbox`): an applied event's row is kept for
//!   `retention.inbox_days` (31 by default: far longer than JetStream holds
//!   an unacknowledged event for redelivery, so nothing it delivers again
//!   is applied twice).
//!
//! Every `retention.interval_secs` each service's database forgets what is
//! past its window, oldest first, `retention.batch` rows per transaction, so
//! a purge never holds SQLite's single writer (or a PostgreSQL lock) for
//! long however much has piled up. (On NATS the outbox keeps its published
//! rows 24 hours and the relay purges them; on the in-process bus they are
//! the event history and stay: `events::history`.)
//!
//! A service's own tables may have windows too (the contact details of
//! capacity's public suggestions, `retention.public_contact_days`): it
//! gives its [`Purge`]s to the runtime (`Service::purges`), and the same
//! task runs them after the platform's, with the same configuration.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::RetentionConfig;
use crate::db::{Backend, Db, Tx};
use crate::error::Result;

/// A service's own retention rule, run every `retention.interval_secs` by
/// the task that purges the platform's tables in the service's database.
#[tonic::async_trait]
pub trait Purge: Send + Sync + 'static {
    /// What it forgets, for the log ("suggestion contacts").
    fn name(&self) -> &'static str;
    /// Forgets, as of `now` (microseconds), what is past its window, in
    /// bounded transactions ([`in_batches`], [`purge_tx`]); returns how many
    /// rows it changed.
    async fn purge(&self, db: &Db, config: &RetentionConfig, now: i64) -> Result<u64>;
}

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// What one round of [`purge`] forgot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub request_ids: u64,
    pub inbox: u64,
}

/// Purges `db` every `config.interval_secs` until `stop`: the platform's
/// tables, then the service's own `purges`.
pub async fn run(
    db: Db,
    config: RetentionConfig,
    purges: Vec<Arc<dyn Purge>>,
    stop: CancellationToken,
) {
    let interval = Duration::from_secs(config.interval_secs.max(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let now = crate::time::now_micros();
        for p in &purges {
            match p.purge(&db, &config, now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    service = db.service(),
                    rows = n,
                    what = p.name(),
                    "retention: forgot what was past its window"
                ),
                Err(e) => tracing::warn!(
                    service = db.service(),
                    what = p.name(),
                    error = %e,
                    "retention purge failed"
                ),
            }
        }
        match purge(&db, &config, now).await {
            Ok(p) if p != Purged::default() => tracing::info!(
                service = db.service(),
                request_ids = p.request_ids,
                inbox = p.inbox,
                "retention: forgot what was past its window"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(service = db.service(), error = %e, "retention purge failed"),
        }
    }
}

/// Forgets, as of `now` (microseconds), every request id past the replay
/// window and every inbox row past the inbox window, in batches.
pub async fn purge(db: &Db, config: &RetentionConfig, now: i64) -> Result<Purged> {
    let batch = i64::from(config.batch.max(1));
    let before = |days: u64| now.saturating_sub(DAY_MICROS.saturating_mul(days as i64));
    let request_ids = in_batches(batch, |b| {
        crate::rpc::idempotency::purge_before(db, before(config.request_id_days), b)
    })
    .await?;
    let inbox = in_batches(batch, |b| {
        crate::events::inbox::purge_before(db, before(config.inbox_days), b)
    })
    .await?;
    Ok(Purged { request_ids, inbox })
}

/// Runs `step` until a batch comes back short, pausing between batches so
/// the writes of requests get the database in between.
pub async fn in_batches<F, Fut>(batch: i64, mut step: F) -> Result<u64>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let mut total = 0;
    loop {
        let n = step(batch).await?;
        total += n;
        if (n as i64) < batch {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One batch: `sql` with `$1` the cutoff, `$2` the batch size (and `$3`
/// `third`), in a transaction of its own. On PostgreSQL the transaction
/// names no tenant and says it is the purge, which the retention policies of
/// these two tables (platform migration 3) let read and delete every
/// tenant's rows.
pub(crate) async fn purge_batch(
    db: &Db,
    sql: &'static str,
    cutoff: i64,
    batch: i64,
    third: Option<&str>,
) -> Result<u64> {
    let mut tx = purge_tx(db).await?;
    let mut q = sqlx::query(sql).bind(cutoff).bind(batch);
    if let Some(v) = third {
        q = q.bind(v);
    }
    let n = q.execute(tx.conn()).await?.rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// A transaction of the purge: it names no tenant and, on PostgreSQL, says
/// it is the purge (`markaz.retention` = 'purge'), which the retention
/// policies of a table (platform migration 3; a service's own for its
/// tables) let see every tenant's rows.
pub async fn purge_tx(db: &Db) -> Result<Tx> {
    let mut tx = db.system().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT set_config('markaz.retention', 'purge', true)")
            .execute(tx.conn())
            .await?;
    }
    Ok(tx)
}
