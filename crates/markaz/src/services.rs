//! The services this binary carries, and choosing among them.

use std::path::Path;
use std::sync::Arc;

use markaz_kit::app::Service;
use markaz_resources::{Files, Resources};

/// Every service, in start order.
pub fn all() -> Vec<Arc<dyn Service>> {
    vec![
        Arc::new(markaz_membership::Membership),
        Arc::new(markaz_capacity::Capacity),
        Arc::new(markaz_grants::Grants),
        Arc::new(markaz_networking::Networking),
        Arc::new(markaz_resources::Resources::default()),
        Arc::new(markaz_impact::Impact),
    ]
}

/// Every service as `markaz dev` runs them: embedded, so the library's
/// files are on the local filesystem beside the databases (`<data
/// dir>/files`), whatever the environment says of S3.
pub fn embedded(data_dir: &Path) -> Vec<Arc<dyn Service>> {
    all()
        .into_iter()
        .map(|s| {
            if s.name() == markaz_resources::NAME {
                Arc::new(Resources::with_files(Files::Local(data_dir.join("files"))))
                    as Arc<dyn Service>
            } else {
                s
            }
        })
        .collect()
}

/// The staff console: a target of `serve` beside the services, but no kit
/// `Service` (no database, no events, no gRPC of its own).
pub const CONSOLE: &str = "console";

/// `serve`'s targets: the services of `list` and whether the console is
/// among them. `all` is every service; the console runs only when named
/// (`--services console`, or `all,console` on one machine).
pub fn targets(list: &str) -> Result<(Vec<Arc<dyn Service>>, bool), String> {
    let names: Vec<&str> = list.split(',').map(str::trim).collect();
    let console = names.contains(&CONSOLE);
    let rest: Vec<&str> = names
        .into_iter()
        .filter(|n| *n != CONSOLE && !n.is_empty())
        .collect();
    if rest.is_empty() {
        return if console {
            Ok((Vec::new(), true))
        } else {
            Err("no service chosen".into())
        };
    }
    Ok((select(&rest.join(","))?, console))
}

/// `all` or a comma-separated list of service names.
pub fn select(list: &str) -> Result<Vec<Arc<dyn Service>>, String> {
    let every = all();
    if list.trim() == "all" {
        return Ok(every);
    }
    let mut chosen = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match every.iter().find(|s| s.name() == name) {
            Some(s) if !chosen.iter().any(|c: &Arc<dyn Service>| c.name() == name) => {
                chosen.push(s.clone())
            }
            Some(_) => {}
            None => {
                return Err(format!(
                    "unknown service '{name}'; known: {}",
                    every
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    if chosen.is_empty() {
        return Err("no service chosen".into());
    }
    Ok(chosen)
}
