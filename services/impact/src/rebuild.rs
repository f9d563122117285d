//! Rebuilding the figures from the event history (`markaz impact
//! rebuild`): every event of the producers replayed, from the first, into a
//! new generation of the fact tables while the service keeps answering from
//! the current one; then the new generation becomes current in one
//! transaction and the old one is deleted.
//!
//! Nothing is missed between the two: the live consumer writes each event
//! to every generation being built as well as to the current one from the
//! moment the rebuild registers its generation — before it reads the first
//! event of the history — and every fact write is keyed and versioned, so
//! an event written both by the replay and by the consumer, in either
//! order, leaves one row.

use std::collections::BTreeMap;

use markaz_kit::db::Db;
use markaz_kit::error::Result;
use markaz_kit::events::Handler;
use markaz_kit::events::history::History;

use crate::domain::Family;
use crate::events::replay_router;
use crate::store::generations;

/// Events read from the history per round trip.
const PAGE: usize = 500;

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// The generation each family now reads.
    pub generations: BTreeMap<Family, i64>,
    /// Events of the history read, and of those applied to the facts.
    pub read: u64,
    pub applied: u64,
    /// Events the facts refuse (a malformed event, which the live consumer
    /// dead-lettered too): skipped, and logged.
    pub skipped: u64,
    /// Rows of the retired generations deleted.
    pub deleted: u64,
}

/// Rebuilds `families` from `history`; `progress` hears of each page
/// (producer, events read so far).
pub async fn rebuild(
    db: &Db,
    history: &History,
    families: &[Family],
    mut progress: impl FnMut(&str, u64),
) -> Result<Rebuilt> {
    let mut producers: Vec<&'static str> = families.iter().map(|f| f.producer()).collect();
    producers.sort_unstable();
    producers.dedup();
    // Refuse before anything is written when the history lacks events.
    for p in &producers {
        history.check(p).await?;
    }
    let built = generations::begin(db, families).await?;
    match replay(db, history, &producers, built.clone(), &mut progress).await {
        Ok(mut done) => {
            generations::switch(db, &built).await?;
            done.deleted = generations::purge_retired(db).await?;
            done.generations = built;
            Ok(done)
        }
        Err(e) => {
            // The half-built generation goes; the current one never moved.
            generations::abandon(db).await?;
            generations::purge_retired(db).await?;
            Err(e)
        }
    }
}

async fn replay(
    db: &Db,
    history: &History,
    producers: &[&'static str],
    built: BTreeMap<Family, i64>,
    progress: &mut impl FnMut(&str, u64),
) -> Result<Rebuilt> {
    let router = replay_router(built);
    let mut done = Rebuilt::default();
    for producer in producers {
        let (mut position, mut read) = (0, 0);
        loop {
            let (events, next) = history.read(producer, position, PAGE).await?;
            let Some(next) = next else { break };
            for past in events {
                read += 1;
                let envelope = &past.envelope;
                if !router.handles(&envelope.r#type) {
                    continue;
                }
                let mut tx = db.write(&envelope.tenant_id).await?;
                match router.handle(&mut tx, envelope).await {
                    Ok(()) => {
                        tx.commit().await?;
                        done.applied += 1;
                    }
                    Err(e @ markaz_kit::error::Error::InvalidArgument(_)) => {
                        tracing::warn!(producer, event = %envelope.id, error = %e,
                            "a malformed event of the history is skipped");
                        done.skipped += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
            position = next;
            progress(producer, read);
        }
        done.read += read;
    }
    Ok(done)
}
