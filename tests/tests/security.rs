//! Row-level security on PostgreSQL is the platform's, not each service's:
//! every tenant table gets it, and a start puts it back if it went missing.

use std::sync::Arc;

use markaz_kit::testing::{Backend, TestEnv, postgres_url};
use markaz_membership::Membership;
use sqlx::{Connection, Executor};

async fn forced(schema: &str, table: &str) -> bool {
    let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
    sqlx::query_scalar(
        "SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
    )
    .bind(schema)
    .bind(table)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_restores_row_level_security_that_went_missing() {
    let env = TestEnv::new(Backend::Postgres);
    env.start(vec![Arc::new(Membership)])
        .await
        .unwrap()
        .shutdown()
        .await;
    let (url, schema) =
        markaz_kit::app::database_of(&env.config, &env.storage, "membership").unwrap();
    let schema = schema.unwrap();
    for table in [
        "organizations",
        "people",
        "markaz_inbox",
        "markaz_idempotency",
    ] {
        assert!(forced(&schema, table).await, "{table} is protected");
    }
    // The outbox and the dead letters are read across tenants by the platform.
    assert!(!forced(&schema, "markaz_outbox").await);

    // Someone lifts it by hand; the next start puts it back.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{schema}\".organizations NO FORCE ROW LEVEL SECURITY"
    )))
    .await
    .unwrap();
    assert!(!forced(&schema, "organizations").await);
    markaz_kit::migrate::run(&url, Some(&schema), markaz_membership::MIGRATIONS)
        .await
        .unwrap();
    assert!(forced(&schema, "organizations").await);
}
