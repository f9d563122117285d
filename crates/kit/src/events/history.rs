//! The event history: every event a producer published, from the first,
//! for a consumer that rebuilds what it derived from them (the impact
//! service's `markaz impact rebuild`).
//!
//! Where it lives is a choice of deployment, written down in
//! docs/operations.md:
//!
//! * **On NATS** the producer's stream is the history. It keeps every event
//!   unless `consumer.history_days` says otherwise; an erasure replaces a
//!   message by a scrubbed copy at the stream's end, so the history stays
//!   whole (in another order, which rebuilt projections must not mind).
//! * **On the in-process bus** (`markaz dev`) nothing outlives delivery but
//!   the producer's outbox, so there the relay keeps published rows instead
//!   of purging them, and the outbox is the history. An erased object's
//!   copies lose their bytes (`forget_aggregate`) and are skipped.
//!
//! Reading it never goes through a consumer's inbox: a rebuild applies the
//! events to fresh tables of its own, not to the live ones.

use std::collections::HashMap;

use prost::Message;
use sqlx::Row;

use crate::bus::Bus;
use crate::db::Db;
use crate::error::{Error, Result};
use markaz_proto::events::v1::Envelope;

/// The precondition kind of a history that lacks events.
pub const HISTORY_INCOMPLETE: &str = "HISTORY_INCOMPLETE";

/// An event of the history and its position (stream sequence or outbox
/// row), to continue after.
#[derive(Debug, Clone)]
pub struct Past {
    pub position: u64,
    pub envelope: Envelope,
}

/// Where the producers' histories are read.
pub enum History {
    /// Embedded: each producer's own database, its outbox.
    Outboxes(HashMap<String, Db>),
    /// NATS JetStream: each producer's stream.
    Streams(Bus),
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            History::Outboxes(dbs) => f
                .debug_tuple("Outboxes")
                .field(&dbs.keys().collect::<Vec<_>>())
                .finish(),
            History::Streams(_) => f.write_str("Streams"),
        }
    }
}

impl History {
    /// Refuses (FAILED_PRECONDITION, [`HISTORY_INCOMPLETE`]) when
    /// `producer`'s history may lack events, saying why.
    pub async fn check(&self, producer: &str) -> Result<()> {
        let gap = match self {
            History::Streams(Bus::Nats(n)) => n.history_gap(producer).await?,
            History::Streams(Bus::Local(_)) => {
                Some("the in-process bus keeps no event: read the producers' outboxes".to_string())
            }
            History::Outboxes(dbs) => {
                let db = outbox_of(dbs, producer)?;
                let mut tx = db.system().await?;
                let first: Option<i64> = sqlx::query("SELECT MIN(seq) AS first FROM markaz_outbox")
                    .fetch_one(tx.conn())
                    .await?
                    .try_get("first")?;
                tx.commit().await?;
                match first {
                    Some(n) if n > 1 => Some(format!(
                        "{producer}'s outbox starts at event {n}: the events before it were purged \
                         (versions before the history was kept purged published events after a day)"
                    )),
                    _ => None,
                }
            }
        };
        match gap {
            None => Ok(()),
            Some(why) => Err(Error::precondition(HISTORY_INCOMPLETE, producer, why)),
        }
    }

    /// Up to `limit` events of `producer` after position `after` (0: from
    /// the first), in the order they were published, and the position to
    /// read on from — `None` at the end.
    pub async fn read(
        &self,
        producer: &str,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<Past>, Option<u64>)> {
        let raw: Vec<(u64, Vec<u8>)> = match self {
            History::Streams(Bus::Nats(n)) => n
                .history_page(producer, after, limit)
                .await?
                .into_iter()
                .map(|(seq, bytes)| (seq, bytes.to_vec()))
                .collect(),
            History::Streams(Bus::Local(_)) => Vec::new(),
            History::Outboxes(dbs) => {
                let db = outbox_of(dbs, producer)?;
                let mut tx = db.system().await?;
                let rows = sqlx::query(
                    "SELECT seq, envelope FROM markaz_outbox
                     WHERE seq > $1 AND published_at IS NOT NULL ORDER BY seq LIMIT $2",
                )
                .bind(after as i64)
                .bind(limit as i64)
                .fetch_all(tx.conn())
                .await?;
                tx.commit().await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let seq: i64 = row.try_get("seq")?;
                    out.push((seq as u64, row.try_get::<Vec<u8>, _>("envelope")?));
                }
                out
            }
        };
        // Skipped rows still move the position on.
        let next = raw.last().map(|(position, _)| *position);
        let mut out = Vec::with_capacity(raw.len());
        for (position, bytes) in raw {
            // A forgotten copy (an erased object's event) has no bytes left.
            if bytes.is_empty() {
                continue;
            }
            let envelope = Envelope::decode(bytes.as_slice()).map_err(|e| {
                Error::internal(format!(
                    "{producer}'s event at {position} does not decode: {e}"
                ))
            })?;
            out.push(Past { position, envelope });
        }
        Ok((out, next))
    }
}

fn outbox_of<'a>(dbs: &'a HashMap<String, Db>, producer: &str) -> Result<&'a Db> {
    dbs.get(producer)
        .ok_or_else(|| Error::internal(format!("no database of {producer} to read its history")))
}
