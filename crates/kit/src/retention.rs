//! Retention: the platform's tables that would otherwise only grow.
//!
//! * **Request ids** (`markaz_idempotency`): a create's stored answer is kept
//!   for the replay window (`retention.request_id_days`, 7 days by default).
//!   A retry inside it gets the first answer; after it, the same request id
//!   is a new request. Tombstones of erased requests are kept.
//! * **The inbox** (`markaz_inbox`): an applied event's row is kept for
//!   `retention.inbox_days` (31 by default: longer than the streams keep an
//!   event, so nothing a stream can deliver again is applied twice).
//!
//! Every `retention.interval_secs` each service's database forgets what is
//! past its window, oldest first, `retention.batch` rows per transaction, so
//! a purge never holds SQLite's single writer (or a PostgreSQL lock) for
//! long however much has piled up. (The outbox keeps its published rows 24
//! hours; the relay purges them.)

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::RetentionConfig;
use crate::db::{Backend, Db};
use crate::error::Result;

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// What one round of [`purge`] forgot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub request_ids: u64,
    pub inbox: u64,
}

/// Purges `db` every `config.interval_secs` until `stop`.
pub async fn run(db: Db, config: RetentionConfig, stop: CancellationToken) {
    let interval = Duration::from_secs(config.interval_secs.max(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        match purge(&db, &config, crate::time::now_micros()).await {
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
async fn in_batches<F, Fut>(batch: i64, mut step: F) -> Result<u64>
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
    let mut tx = db.system().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT set_config('markaz.retention', 'purge', true)")
            .execute(tx.conn())
            .await?;
    }
    let mut q = sqlx::query(sql).bind(cutoff).bind(batch);
    if let Some(v) = third {
        q = q.bind(v);
    }
    let n = q.execute(tx.conn()).await?.rows_affected();
    tx.commit().await?;
    Ok(n)
}
