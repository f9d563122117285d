//! The retention of what the public leaves on a center's forms — a
//! training suggestion's sender, a consultation request's requester, and
//! their contact: kept only until staff answer. Triage clears them at once;
//! this purge clears those of every row triaged some other way (before
//! triage cleared them) or older than `retention.public_contact_days`, in
//! every tenant, oldest first, `retention.batch` per transaction. The row
//! itself stays; its version moves (a new etag).

use markaz_kit::config::RetentionConfig;
use markaz_kit::db::Db;
use markaz_kit::error::Result;
use markaz_kit::retention::{Purge, in_batches, purge_tx};
use markaz_proto::capacity::v1::{ConsultationRequestStatus, SuggestionStatus};
use sqlx::AssertSqlSafe;

/// One form's table and the columns the public filled in.
#[derive(Debug, Clone, Copy)]
pub struct ContactRetention {
    /// The purge's name, in the retention log and metrics.
    pub purge: &'static str,
    pub table: &'static str,
    /// The column holding the sender's name (beside `contact`).
    pub name_column: &'static str,
    /// The status of a row not triaged yet, as stored.
    pub new_status: fn() -> &'static str,
}

pub const SUGGESTIONS: ContactRetention = ContactRetention {
    purge: "suggestion contacts",
    table: "suggestions",
    name_column: "suggested_by",
    new_status: || SuggestionStatus::New.as_str_name(),
};

pub const CONSULTATION_REQUESTS: ContactRetention = ContactRetention {
    purge: "consultation request contacts",
    table: "consultation_requests",
    name_column: "requester_name",
    new_status: || ConsultationRequestStatus::New.as_str_name(),
};

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

#[markaz_kit::async_trait]
impl Purge for ContactRetention {
    fn name(&self) -> &'static str {
        self.purge
    }

    async fn purge(&self, db: &Db, config: &RetentionConfig, now: i64) -> Result<u64> {
        let days = i64::try_from(config.public_contact_days).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(DAY_MICROS.saturating_mul(days));
        let batch = i64::from(config.batch.max(1));
        in_batches(batch, |b| self.purge_batch(db, cutoff, now, b)).await
    }
}

impl ContactRetention {
    /// One batch: rows created before `cutoff`, or triaged.
    #[tracing::instrument(skip(db))]
    pub async fn purge_batch(&self, db: &Db, cutoff: i64, now: i64, batch: i64) -> Result<u64> {
        let (table, name) = (self.table, self.name_column);
        let mut tx = purge_tx(db).await?;
        // The table and column are this module's constants.
        let n = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {table} SET {name} = '', contact = '', version = version + 1,
                updated_at = $3
             WHERE (tenant_id, id) IN (
                SELECT tenant_id, id FROM {table}
                WHERE (contact <> '' OR {name} <> '') AND (created_at < $1 OR status <> $4)
                ORDER BY created_at LIMIT $2)"
        )))
        .bind(cutoff)
        .bind(batch)
        .bind(now)
        .bind((self.new_status)())
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}
