//! Statements whose size does not grow with the data: a list of ids bound
//! into one statement is sent in parts, so a report over every record of a
//! tenant never meets SQLite's limit of 32,766 bound values. And statements
//! planned for their values where the value decides the plan.

use std::sync::Arc;

use markaz_e2e::{LEDGER, Ledger};
use markaz_kit::both_backends;
use markaz_kit::db::IDS_PER_STATEMENT;
use markaz_kit::testing::{Backend, TestEnv};

const TENANT: &str = "statements-tenant";

both_backends!(
    forty_thousand_ids_are_read_in_parts,
    plans_for_each_value_last_only_their_transaction,
);

#[derive(sqlx::FromRow)]
struct Line {
    event_id: String,
    name: String,
}

async fn forty_thousand_ids_are_read_in_parts(backend: Backend) {
    let (_env, db) = ledger(backend).await;
    // 1,200 lines, then 40,000 ids of which every 33rd names one of them.
    let mut tx = db.write(TENANT).await.unwrap();
    for i in 0..1_200 {
        sqlx::query(
            "INSERT INTO ledger_lines (tenant_id, event_id, organization_id, name)
             VALUES ($1, $2, 'org', $3)",
        )
        .bind(TENANT)
        .bind(format!("e{i:05}"))
        .bind(format!("سطر {i}"))
        .execute(tx.conn())
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let ids: Vec<String> = (0..40_000)
        .map(|k| {
            if k % 33 == 0 && k / 33 < 1_200 {
                format!("e{:05}", k / 33)
            } else {
                format!("missing-{k}")
            }
        })
        .collect();
    assert!(ids.len() > 32_766 && ids.len() > IDS_PER_STATEMENT);
    let mut tx = db.read(TENANT).await.unwrap();
    let lines: Vec<Line> = tx
        .rows_for_ids(
            "SELECT event_id, name FROM ledger_lines WHERE tenant_id = $1 AND event_id IN ({ids})
             ORDER BY event_id",
            &ids,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(lines.len(), 1_200);
    // The ids came in order, so the parts' rows do too.
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line.event_id, format!("e{i:05}"));
        assert_eq!(line.name, format!("سطر {i}"));
    }
    // Another tenant's transaction reads none of them.
    let mut other = db.read("another-tenant").await.unwrap();
    let none: Vec<Line> = other
        .rows_for_ids(
            "SELECT event_id, name FROM ledger_lines WHERE tenant_id = $1 AND event_id IN ({ids})",
            &ids,
        )
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// `Tx::plan_for_each_value` (a text search's transaction) has PostgreSQL
/// plan for the values bound, in that transaction only: the pooled
/// connection goes back to generic plans where they pay, for the next
/// request it serves.
async fn plans_for_each_value_last_only_their_transaction(backend: Backend) {
    let (_env, db) = ledger(backend).await;
    for _ in 0..3 {
        let mut tx = db.read(TENANT).await.unwrap();
        tx.plan_for_each_value().await.unwrap();
        if backend == Backend::Postgres {
            assert_eq!(mode(&mut tx).await, "force_custom_plan");
        }
        tx.commit().await.unwrap();
        if backend == Backend::Postgres {
            let mut next = db.read(TENANT).await.unwrap();
            assert_eq!(mode(&mut next).await, "auto");
            next.commit().await.unwrap();
        }
    }
}

async fn mode(tx: &mut markaz_kit::db::Tx) -> String {
    sqlx::query_scalar("SELECT current_setting('plan_cache_mode')")
        .fetch_one(tx.conn())
        .await
        .unwrap()
}

/// The ledger's database, migrated by a start of the platform (kept alive
/// with its environment).
async fn ledger(backend: Backend) -> (TestEnv, markaz_kit::db::Db) {
    let env = TestEnv::new(backend);
    env.start(vec![Arc::new(Ledger)])
        .await
        .unwrap()
        .shutdown()
        .await;
    let db = env.db(LEDGER).await.unwrap();
    (env, db)
}
