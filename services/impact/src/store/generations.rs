//! The generations of the fact tables: which one the figures read, which
//! one a rebuild is filling, and retiring the old one.

use std::collections::BTreeMap;

use markaz_kit::db::{Backend, Db, Tx};
use markaz_kit::error::{Error, Result};
use markaz_kit::time::now_micros;
use sqlx::{AssertSqlSafe, Row};

use crate::domain::Family;

/// The precondition kind of a rebuild refused because another is running.
pub const REBUILD_RUNNING: &str = "REBUILD_RUNNING";

/// The generations of `family` its events are written to: the current one
/// and, during a rebuild, the one being built.
#[tracing::instrument(skip(tx))]
pub async fn live(tx: &mut Tx, family: Family) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT generation FROM impact_generations
         WHERE family = $1 AND state IN ('current', 'building') ORDER BY generation",
    )
    .bind(family.name())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>("generation").map_err(Into::into))
        .collect()
}

/// The current generation of every family.
#[tracing::instrument(skip(db))]
pub async fn current(db: &Db) -> Result<BTreeMap<Family, i64>> {
    let mut tx = db.system().await?;
    let rows =
        sqlx::query("SELECT family, generation FROM impact_generations WHERE state = 'current'")
            .fetch_all(tx.conn())
            .await?;
    tx.commit().await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let name: String = r.try_get("family")?;
        if let Some(f) = Family::ALL.into_iter().find(|f| f.name() == name) {
            out.insert(f, r.try_get("generation")?);
        }
    }
    Ok(out)
}

/// Starts building a new generation of each of `families`; from now on the
/// consumer writes their events to it as well. Refused while another
/// rebuild of one of them is under way (`abandon` ends a rebuild that
/// died).
#[tracing::instrument(skip(db))]
pub async fn begin(db: &Db, families: &[Family]) -> Result<BTreeMap<Family, i64>> {
    let mut tx = db.system().await?;
    let mut out = BTreeMap::new();
    for f in families {
        let building = sqlx::query(
            "SELECT generation FROM impact_generations WHERE family = $1 AND state = 'building'",
        )
        .bind(f.name())
        .fetch_optional(tx.conn())
        .await?;
        if building.is_some() {
            return Err(Error::precondition(
                REBUILD_RUNNING,
                f.name(),
                "a rebuild of these figures is under way; wait for it, or end a rebuild that \
                 died with `markaz impact rebuild --abandon`",
            ));
        }
        let next: i64 = sqlx::query(
            "SELECT COALESCE(MAX(generation), 0) + 1 AS next FROM impact_generations
             WHERE family = $1",
        )
        .bind(f.name())
        .fetch_one(tx.conn())
        .await?
        .try_get("next")?;
        sqlx::query(
            "INSERT INTO impact_generations (family, generation, state, started_at, finished_at)
             VALUES ($1, $2, 'building', $3, 0)",
        )
        .bind(f.name())
        .bind(next)
        .bind(now_micros())
        .execute(tx.conn())
        .await?;
        out.insert(*f, next);
    }
    tx.commit().await?;
    Ok(out)
}

/// Makes the built generations current, in one transaction: the next
/// figure read counts from them. The old ones are retired.
#[tracing::instrument(skip(db))]
pub async fn switch(db: &Db, built: &BTreeMap<Family, i64>) -> Result<()> {
    let mut tx = db.system().await?;
    for (f, g) in built {
        sqlx::query(
            "UPDATE impact_generations SET state = 'retired', finished_at = $2
             WHERE family = $1 AND state = 'current'",
        )
        .bind(f.name())
        .bind(now_micros())
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "UPDATE impact_generations SET state = 'current', finished_at = $3
             WHERE family = $1 AND generation = $2",
        )
        .bind(f.name())
        .bind(*g)
        .bind(now_micros())
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await
}

/// Ends the rebuilds under way without switching: their generations are
/// retired (and their rows deleted by [`purge_retired`]).
#[tracing::instrument(skip(db))]
pub async fn abandon(db: &Db) -> Result<u64> {
    let mut tx = db.system().await?;
    let n = sqlx::query(
        "UPDATE impact_generations SET state = 'retired', finished_at = $1
         WHERE state = 'building'",
    )
    .bind(now_micros())
    .execute(tx.conn())
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// Deletes the rows of retired generations, every tenant's, a table at a
/// time; returns how many went.
#[tracing::instrument(skip(db))]
pub async fn purge_retired(db: &Db) -> Result<u64> {
    let mut deleted = 0;
    for f in Family::ALL {
        let mut tx = db.system().await?;
        if db.backend() == Backend::Postgres {
            // The rows of every tenant, for this transaction only
            // (migration 0001's retire policies).
            sqlx::query("SELECT set_config('markaz.rebuild', 'retire', true)")
                .execute(tx.conn())
                .await?;
        }
        for table in f.tables() {
            deleted += sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE generation IN (SELECT generation
                    FROM impact_generations WHERE family = $1 AND state = 'retired')"
            )))
            .bind(f.name())
            .execute(tx.conn())
            .await?
            .rows_affected();
        }
        tx.commit().await?;
    }
    Ok(deleted)
}
