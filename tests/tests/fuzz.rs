//! Every method of every service, fed messages built at random from its own
//! descriptor (kit::testing::fuzz): bad input always gets a status a client
//! can act on — never INTERNAL or a dropped connection — and the server
//! keeps serving. Bounded: a fixed seed (MARKAZ_FUZZ_SEED to vary it), a
//! number of messages per method (MARKAZ_FUZZ_PER_METHOD) and 90 s.

use std::sync::Arc;
use std::time::Duration;

use markaz_kit::testing::{Backend, fuzz::fuzz, spawn};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_to_every_method_get_a_clear_answer() {
    let app = spawn(
        Backend::Sqlite,
        vec![
            Arc::new(markaz_membership::Membership),
            Arc::new(markaz_capacity::Capacity),
            Arc::new(markaz_grants::Grants),
            Arc::new(markaz_networking::Networking),
            Arc::new(markaz_resources::Resources::default()),
        ],
    )
    .await;
    let tables: Vec<_> = [
        markaz_membership::api::RIGHTS,
        markaz_capacity::RIGHTS,
        markaz_grants::api::RIGHTS,
        markaz_networking::api::RIGHTS,
        markaz_resources::RIGHTS,
    ]
    .concat();
    let seed = setting("MARKAZ_FUZZ_SEED", 20_261_201);
    let per_method = setting("MARKAZ_FUZZ_PER_METHOD", 25) as usize;
    let found = fuzz(
        &app,
        &tables,
        "fuzz-center",
        seed,
        per_method,
        Duration::from_secs(90),
    )
    .await;
    assert!(found.sent > 1_000, "only {} messages sent", found.sent);
    assert!(
        found.wrong.is_empty(),
        "seed {seed}: {} of {} answers were not a clear status:\n{}",
        found.wrong.len(),
        found.sent,
        found.wrong.join("\n")
    );
}
