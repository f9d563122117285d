//! `markaz impact rebuild`: the impact figures rebuilt from the event
//! history while the service keeps answering from the current ones (see
//! `markaz_impact::rebuild`). It works on the impact database and the
//! history directly, as `migrate` and `dlq` do: on `markaz dev`'s data
//! directory (the producers' outboxes are the history there) or on the
//! configured PostgreSQL and NATS (the producers' streams).

use std::collections::HashMap;
use std::io::Write;

use markaz_impact::domain::{CATALOGUE, Family, indicator};
use markaz_impact::rebuild::rebuild;
use markaz_impact::store::generations;
use markaz_kit::app::{Storage, database_of};
use markaz_kit::bus::Bus;
use markaz_kit::config::Config;
use markaz_kit::db::Db;
use markaz_kit::events::history::History;

use crate::admin;

pub async fn rebuild_command(
    config: &Config,
    indicators: &[String],
    abandon: bool,
) -> Result<(), String> {
    let db = admin::connect(config, &markaz_impact::Impact).await?;
    if abandon {
        let n = generations::abandon(&db).await.map_err(|e| e.to_string())?;
        let deleted = generations::purge_retired(&db)
            .await
            .map_err(|e| e.to_string())?;
        println!("abandoned {n} rebuild(s); {deleted} rows of theirs deleted");
        return Ok(());
    }
    let mut families = Vec::new();
    for code in indicators {
        let ind = indicator(code).ok_or_else(|| {
            let codes: Vec<&str> = CATALOGUE.iter().map(|i| i.code).collect();
            format!(
                "no indicator {code:?}; the catalogue has {}",
                codes.join(", ")
            )
        })?;
        families.push(ind.source.family());
    }
    if families.is_empty() {
        families = Family::ALL.to_vec();
    }
    families.sort();
    families.dedup();
    let history = history_of(config, &families).await?;
    let stderr = std::io::stderr();
    let started = std::time::Instant::now();
    let done = rebuild(&db, &history, &families, |producer, read| {
        let mut e = stderr.lock();
        let _ = write!(e, "\r  {producer}: {read} events read   ");
        let _ = e.flush();
    })
    .await
    .map_err(|e| e.to_string())?;
    eprintln!();
    println!(
        "rebuilt {} from {} events ({} applied, {} malformed skipped) in {:.1} s; {} old rows deleted",
        done.generations
            .iter()
            .map(|(f, g)| format!("{} (generation {g})", f.name()))
            .collect::<Vec<_>>()
            .join(", "),
        done.read,
        done.applied,
        done.skipped,
        started.elapsed().as_secs_f64(),
        done.deleted
    );
    Ok(())
}

/// Where the history of `families`' producers is read.
async fn history_of(config: &Config, families: &[Family]) -> Result<History, String> {
    match admin::storage_for(config) {
        Storage::SqliteDir(_) => {
            let mut dbs = HashMap::new();
            for f in families {
                let producer = f.producer();
                if dbs.contains_key(producer) {
                    continue;
                }
                let service = crate::services::all()
                    .into_iter()
                    .find(|s| s.name() == producer)
                    .ok_or_else(|| format!("this binary has no {producer}"))?;
                let (url, schema) = database_of(
                    config,
                    &Storage::SqliteDir(config.data_dir.clone()),
                    producer,
                )
                .map_err(|e| e.to_string())?;
                let db = Db::connect(service.name(), &url, schema, &config.database)
                    .await
                    .map_err(|e| e.to_string())?;
                dbs.insert(producer.to_string(), db);
            }
            Ok(History::Outboxes(dbs))
        }
        _ => {
            let url = config
                .nats_url
                .as_deref()
                .ok_or("no NATS configured (MARKAZ_NATS_URL): the history is in its streams")?;
            let bus = Bus::nats(url, config).await.map_err(|e| e.to_string())?;
            Ok(History::Streams(bus))
        }
    }
}
