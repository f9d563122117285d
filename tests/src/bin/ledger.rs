//! The ledger fixture as a process of its own, so a test can kill it with
//! SIGKILL mid-work and start it again — what `kill -9` does to a pod.
//!
//! Configured like `markaz serve` (`MARKAZ_*` variables: `MARKAZ_NATS_URL`,
//! `MARKAZ_BUS_NAMESPACE`, `MARKAZ_DATABASE_URL`), plus
//! `MARKAZ_TEST_SCHEMA_PREFIX`: its schema is `<prefix>_ledger`, as in the
//! test's own world. Prints `ready` once it consumes.
#![forbid(unsafe_code)]

use std::sync::Arc;

use markaz_kit::app::{App, AppOptions, Storage};
use markaz_kit::auth::{KeySource, Signer, Verifier};
use markaz_kit::config::Config;

#[tokio::main]
async fn main() {
    let config = Config::load(None).expect("configuration");
    let url = config.database_url.clone().expect("MARKAZ_DATABASE_URL");
    let prefix = std::env::var("MARKAZ_TEST_SCHEMA_PREFIX").expect("MARKAZ_TEST_SCHEMA_PREFIX");
    // The ledger serves no RPC; any key will do for the verifier.
    let signer = Signer::generate().expect("signing key");
    let verifier = Verifier::new(&config.auth, KeySource::Static(signer.jwks()))
        .await
        .expect("verifier");
    let app = App::start(AppOptions {
        config,
        services: vec![Arc::new(markaz_e2e::Ledger)],
        storage: Storage::PostgresSchemas { url, prefix },
        verifier,
        listener: None,
        migrate: true,
        preregistered: None,
    })
    .await
    .expect("the ledger starts");
    println!("ready");
    markaz_kit::app::shutdown_signal().await;
    app.shutdown().await;
}
