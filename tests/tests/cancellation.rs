//! Requests cancelled at any point — a client's deadline, a reset stream —
//! must not leave a pooled connection inside a transaction: every later
//! statement on it (a dead letter, an outbox purge) would run in that stale
//! transaction and could be lost with it.

use std::sync::Arc;
use std::time::Duration;

use markaz_e2e::proxy::{Proxy, upstream_of};
use markaz_e2e::{LEDGER, Ledger};
use markaz_kit::both_backends;
use markaz_kit::testing::{Backend, TestEnv, eventually, postgres_url};
use sqlx::{Connection, Row};

const TENANT: &str = "cancel-tenant";

both_backends!(cancelled_transactions_leave_no_connection_inside_one);

async fn cancelled_transactions_leave_no_connection_inside_one(backend: Backend) {
    let env = TestEnv::new(backend);
    match backend {
        Backend::Postgres => {
            // The finding: a slow link to the database and short client
            // deadlines. Requests cut while BEGIN is on the wire left the
            // server inside a transaction the pool did not know about.
            let upstream = upstream_of(&postgres_url());
            let proxy = Proxy::start(upstream).await;
            let url = proxy.url(&postgres_url(), upstream);
            // Migrated by a start, then the pool alone: no relay or health
            // probe borrowing connections meanwhile (their next BEGIN ...
            // ROLLBACK would end a stale transaction, with whatever ran in it).
            env.start_via(vec![Arc::new(Ledger)], &url)
                .await
                .unwrap()
                .shutdown()
                .await;
            let schema = format!("{}_{LEDGER}", env.id());
            let db = markaz_kit::db::Db::connect(LEDGER, &url, Some(schema), &env.config.database)
                .await
                .unwrap();
            proxy.slow(Duration::from_millis(3));
            // Every pooled connection open, then a storm of transactions cut
            // at pseudo-random points (BEGIN, a statement, COMMIT), then one
            // cut of each connection while its BEGIN is on the wire.
            let pool = env.config.database.max_connections as usize;
            cut_transactions(&db, pool, |_| Duration::from_secs(5)).await;
            let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
            for _ in 0..20 {
                cut_transactions(&db, 10, |_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    Duration::from_micros(seed % 25_000)
                })
                .await;
            }
            cut_transactions(&db, pool, |_| Duration::from_millis(4)).await;
            proxy.slow(Duration::ZERO);
            let name = markaz_kit::db::application_name(db.schema().unwrap());
            let clean = eventually(Duration::from_secs(5), || {
                let name = name.clone();
                async move { (idle_in_transaction(&name).await == 0).then_some(()) }
            })
            .await;
            assert!(
                clean.is_some(),
                "{} pooled connections idle inside a transaction",
                idle_in_transaction(&name).await
            );
            commits_are_seen(&env, backend, &db).await;
            db.close().await;
        }
        Backend::Sqlite => {
            // Another process holds the write lock, so BEGIN IMMEDIATE waits
            // in SQLite's worker; the request gives up meanwhile. Before, the
            // worker's BEGIN then went through with nobody to end it, and the
            // connection went back to the pool inside that transaction.
            use sqlx::Executor;
            let app = env.start(vec![Arc::new(Ledger)]).await.unwrap();
            let db = app.db(LEDGER).unwrap().clone();
            let file = env.config.data_dir.join("ledger.db");
            let mut locker =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                    .await
                    .unwrap();
            locker.execute("BEGIN IMMEDIATE").await.unwrap();
            cut_transactions(&db, 3, |_| Duration::from_millis(200)).await;
            locker.execute("ROLLBACK").await.unwrap();
            commits_are_seen(&env, backend, &db).await;
            app.shutdown().await;
        }
    }
}

/// Runs `n` transactions at once, each cut short after `cut(i)` unless it
/// finished first.
async fn cut_transactions(
    db: &markaz_kit::db::Db,
    n: usize,
    mut cut: impl FnMut(usize) -> Duration,
) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let db = db.clone();
        let cut_after = cut(i);
        tasks.push(tokio::spawn(async move {
            let work = async {
                let mut tx = db.write(TENANT).await?;
                sqlx::query("INSERT INTO ledger_cures (tenant_id, name) VALUES ($1, $2)")
                    .bind(TENANT)
                    .bind(markaz_kit::rpc::new_id())
                    .execute(tx.conn())
                    .await?;
                tx.commit().await
            };
            let _ = tokio::time::timeout(cut_after, work).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Connections named `name` that PostgreSQL sees idle inside a transaction.
async fn idle_in_transaction(name: &str) -> i64 {
    let mut observer = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
    sqlx::query(
        "SELECT COUNT(*) AS n FROM pg_stat_activity
         WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
    )
    .bind(name)
    .fetch_one(&mut observer)
    .await
    .unwrap()
    .get("n")
}

/// Every connection is clean: transactions that run to the end all commit,
/// and what they wrote is seen from outside the pool.
async fn commits_are_seen(env: &TestEnv, backend: Backend, db: &markaz_kit::db::Db) {
    let before = committed(env, backend).await;
    for i in 0..30 {
        let mut tx = db.write(TENANT).await.expect("a clean connection begins");
        sqlx::query("INSERT INTO ledger_cures (tenant_id, name) VALUES ($1, $2)")
            .bind(TENANT)
            .bind(format!("after {i}"))
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit().await.expect("and commits");
    }
    assert_eq!(committed(env, backend).await, before + 30);
}

/// The cures committed, as a connection outside the service's pool sees them.
async fn committed(env: &TestEnv, backend: Backend) -> i64 {
    let query = "SELECT COUNT(*) AS n FROM ledger_cures";
    match backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM \"{}_{LEDGER}\".ledger_cures",
                env.id()
            )))
            .fetch_one(&mut c)
            .await
            .unwrap()
            .get("n")
        }
        Backend::Sqlite => {
            let file = env.config.data_dir.join("ledger.db");
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                .await
                .unwrap();
            sqlx::query(query).fetch_one(&mut c).await.unwrap().get("n")
        }
    }
}
