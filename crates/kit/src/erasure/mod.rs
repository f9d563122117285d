//! Erasure, written once for every service: when a person asks to be
//! forgotten, nothing of them is left in any service's tables, stored
//! answers, outbox, dead letters or stream — while every figure that
//! counted them (by gender, age band, branch) stays right.
//!
//! How it goes:
//!
//! 1. Membership overwrites the person's record and builds a [`Matcher`]
//!    from what it knew of them (names, e-mails, phones). It publishes
//!    `PersonErased` with the matcher's [`MatchKeys`](markaz_proto::events::v1::MatchKeys)
//!    — salted digests, no name — and gender, age band and branch.
//! 2. Every service (membership itself first, in the erasure's own
//!    transaction; consumers through `markaz-membership-copies`, which no
//!    consumer can skip) calls [`erase`]: it deletes or pseudonymises what
//!    is attached to the person (its own rule), then the sweep scrubs every
//!    mention from **every text and binary column of every tenant table**,
//!    found in the schema — so a column added later is swept without anyone
//!    remembering it — and from the platform's copies (stored answers become
//!    tombstones; events in the outbox and dead letters lose the mention).
//!    It records the erasure in `markaz_erasures`, in the same transaction.
//! 3. [`run`], next to each relay, finishes what cannot be done in a
//!    transaction: once the outbox has published everything older than the
//!    erasure, it reads the service's stream (NATS) and replaces every
//!    message of the tenant that mentions the person by a scrubbed copy —
//!    secure delete, which overwrites the stored message — and deletes the
//!    service's dead-letter announcements that do. Then it publishes
//!    `ErasureConfirmed` (counts per kind, no personal data) and forgets the
//!    match keys. Membership keeps the confirmations as the receipt
//!    (`GetErasure`). `markaz_erasures_pending{service}` counts what is still
//!    to confirm.
//!
//! The in-process bus keeps nothing but the outbox, which step 2 scrubbed.

mod matcher;
mod sweep;
pub mod wire;

use std::time::Duration;

use markaz_proto::events::v1 as ev;
use prost::Message;
use sqlx::Row;
use tokio_util::sync::CancellationToken;

pub use matcher::{ERASED, Matcher, Subject};
pub use sweep::{Column, Counts, columns, sweep_platform, sweep_tables};

use crate::bus::Bus;
use crate::db::{Db, Tx};
use crate::error::Result;
use crate::telemetry::{self, ServiceLabels};

/// One erasure, as a service applies it.
#[derive(Debug, Clone, Copy)]
pub struct Erasure<'a> {
    /// Membership's id of the request ("" for an erasure from before
    /// receipts: then nobody waits for a confirmation, and none is sent).
    pub erasure_id: &'a str,
    pub person_id: &'a str,
    pub matcher: &'a Matcher,
}

/// Applies `erasure` to this service's database, in `tx`: the published
/// copies of the person's own events and stored answers go
/// ([`Tx::forget_aggregate`]), every mention is scrubbed from every table
/// but the `spare` columns (`"table.column"`, where the same name may be
/// someone else's), and the stream scrub and confirmation are queued for
/// [`run`]. Returns what it changed.
pub async fn erase(tx: &mut Tx, erasure: Erasure<'_>, spare: &[&str]) -> Result<Counts> {
    tx.forget_aggregate(erasure.person_id).await?;
    let mut counts = sweep_tables(tx, erasure.matcher, spare).await?;
    counts.extend(sweep_platform(tx, erasure.matcher).await?);
    sqlx::query(
        "INSERT INTO markaz_erasures
           (tenant_id, erasure_id, person_id, match_keys, counts, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, erasure_id) DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(record_id(erasure.erasure_id, erasure.person_id))
    .bind(erasure.person_id)
    .bind(erasure.matcher.keys().encode_to_vec())
    .bind(serde_json::to_string(&counts).unwrap_or_default())
    .bind(crate::time::now_micros())
    .execute(tx.conn())
    .await?;
    tracing::info!(person = %erasure.person_id, ?counts, "erasure applied to the database");
    Ok(counts)
}

/// The key of an erasure in `markaz_erasures`: membership's id, or for an
/// erasure without one, the person's (then no confirmation is sent).
fn record_id(erasure_id: &str, person_id: &str) -> String {
    if erasure_id.is_empty() {
        format!("{UNRECEIPTED}{person_id}")
    } else {
        erasure_id.to_string()
    }
}
const UNRECEIPTED: &str = "person:";

/// How often [`run`] looks for erasures to finish.
const POLL: Duration = Duration::from_secs(1);

/// Finishes `db`'s erasures (stream scrub, confirmation) until `shutdown`.
pub async fn run(db: Db, bus: Bus, shutdown: CancellationToken) {
    let service = db.service();
    let mut last_warning: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
        match finish_pending(&db, &bus).await {
            Ok(pending) => {
                telemetry::metrics()
                    .erasures_pending
                    .get_or_create(&ServiceLabels { service })
                    .set(pending as i64);
            }
            Err(e) => {
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(service, error = %e, "erasures wait: cannot finish them yet");
                    last_warning = Some(std::time::Instant::now());
                }
            }
        }
    }
}

/// One round: finishes what it can; returns how many are still pending.
async fn finish_pending(db: &Db, bus: &Bus) -> Result<usize> {
    let pending = {
        let mut tx = db.system().await?;
        let rows = sqlx::query(
            "SELECT tenant_id, erasure_id, person_id, match_keys, counts, created_at
             FROM markaz_erasures WHERE confirmed_at IS NULL ORDER BY created_at LIMIT 32",
        )
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        rows
    };
    let mut left = pending.len();
    for row in pending {
        let (tenant, erasure_id, person_id): (String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let (keys, counts, created_at): (Vec<u8>, String, i64) =
            (row.try_get(3)?, row.try_get(4)?, row.try_get(5)?);
        // Events committed before the erasure must be on the stream before
        // it is read, or one could land after the scrub; they were scrubbed
        // in the outbox, so they land scrubbed.
        let unpublished: i64 = {
            let mut tx = db.system().await?;
            let n = sqlx::query_scalar(
                "SELECT COUNT(*) FROM markaz_outbox WHERE published_at IS NULL AND created_at <= $1",
            )
            .bind(created_at)
            .fetch_one(tx.conn())
            .await?;
            tx.commit().await?;
            n
        };
        if unpublished > 0 {
            continue;
        }
        let matcher =
            Matcher::from_keys(&ev::MatchKeys::decode(keys.as_slice()).unwrap_or_default());
        let mut counts: Counts = serde_json::from_str(&counts).unwrap_or_default();
        let scrubbed = bus
            .scrub_stream(db.service(), &tenant, &erasure_id, &matcher)
            .await?;
        if scrubbed.messages > 0 {
            counts.insert("stream messages".into(), scrubbed.messages);
        }
        if scrubbed.dead_letters > 0 {
            counts.insert("dead-letter announcements".into(), scrubbed.dead_letters);
        }
        let mut tx = db.write(&tenant).await?;
        if !erasure_id.starts_with(UNRECEIPTED) {
            tx.publish(
                &person_id,
                &ev::ErasureConfirmed {
                    erasure_id: erasure_id.clone(),
                    person_id: person_id.clone(),
                    service: db.service().to_string(),
                    counts: counts.clone().into_iter().collect(),
                    confirm_time: Some(crate::time::timestamp(crate::time::now_micros())),
                },
            )
            .await?;
        }
        // The keys are no longer needed; the counts stay as this service's
        // own record of the erasure.
        sqlx::query(
            "UPDATE markaz_erasures SET confirmed_at = $1, match_keys = $2, counts = $3
             WHERE tenant_id = $4 AND erasure_id = $5",
        )
        .bind(crate::time::now_micros())
        .bind(Vec::<u8>::new())
        .bind(serde_json::to_string(&counts).unwrap_or_default())
        .bind(&tenant)
        .bind(&erasure_id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        if db.backend() == crate::db::Backend::Sqlite {
            // The pages as they were before the sweep may still be in the
            // main file, waiting for a checkpoint: write the WAL back now
            // (secure_delete zeroes what it frees).
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(db.writer())
                .await;
        }
        tracing::info!(service = db.service(), person = %person_id, ?counts, "erasure confirmed");
        left -= 1;
    }
    Ok(left)
}

/// What a stream scrub changed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Scrubbed {
    /// Messages of the service's stream replaced by a scrubbed copy.
    pub messages: u64,
    /// Announcements of its dead letters deleted.
    pub dead_letters: u64,
}
