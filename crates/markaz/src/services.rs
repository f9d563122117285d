//! The services this binary carries, and choosing among them.

use std::sync::Arc;

use markaz_kit::app::Service;

/// Every service, in start order.
pub fn all() -> Vec<Arc<dyn Service>> {
    vec![
        Arc::new(markaz_membership::Membership),
        Arc::new(markaz_capacity::Capacity),
        Arc::new(markaz_grants::Grants),
    ]
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
