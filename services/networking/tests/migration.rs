//! The migration applies, with the platform's runner, to a fresh SQLite file
//! and to a fresh PostgreSQL schema; a second start changes nothing; every
//! table and index of the service leads with `tenant_id`, every tenant table
//! is under row-level security on PostgreSQL, and Arabic text goes in and
//! comes out byte for byte.

use markaz_kit::migrate;
use markaz_kit::testing::postgres_url;
use markaz_networking::MIGRATIONS;
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};

/// The tables the migration creates, read from its text.
fn tables() -> Vec<String> {
    MIGRATIONS
        .iter()
        .flat_map(|m| m.sql.lines())
        .filter_map(|l| l.strip_prefix("CREATE TABLE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_sql_keeps_to_the_shared_dialect() {
    let sql: String = MIGRATIONS.iter().map(|m| m.sql).collect();
    let upper = sql.to_ascii_uppercase();
    for word in [
        "BOOLEAN",
        "SERIAL",
        "FOR UPDATE",
        "TIMESTAMP",
        "JSONB",
        "AUTOINCREMENT",
    ] {
        assert!(!upper.contains(word), "{word} is not in the shared dialect");
    }
    assert!(tables().len() >= 20, "{:?}", tables());
    for index in sql.lines().filter(|l| l.starts_with("CREATE INDEX")) {
        let columns = index.split_once('(').map(|(_, c)| c).unwrap_or_default();
        assert!(columns.starts_with("tenant_id,"), "{index}");
    }
}

/// `(table, index, first column)` of every index of the service's tables.
async fn index_heads(
    conn: &mut AnyConnection,
    schema: Option<&str>,
) -> Vec<(String, String, String)> {
    match schema {
        Some(schema) => sqlx::query_as(
            "SELECT CAST(t.relname AS TEXT), CAST(i.relname AS TEXT), CAST(a.attname AS TEXT)
             FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
             WHERE n.nspname = $1 AND t.relname NOT LIKE 'markaz%'
             ORDER BY 1, 2",
        )
        .bind(schema)
        .fetch_all(conn)
        .await
        .expect("PostgreSQL's indexes"),
        None => sqlx::query_as(
            "SELECT m.name, il.name, ii.name
             FROM sqlite_master m, pragma_index_list(m.name) il, pragma_index_info(il.name) ii
             WHERE m.type = 'table' AND m.name NOT LIKE 'markaz%' AND ii.seqno = 0
             ORDER BY 1, 2",
        )
        .fetch_all(conn)
        .await
        .expect("SQLite's indexes"),
    }
}

/// `(table, first column)` of the service's tables.
async fn table_heads(conn: &mut AnyConnection, schema: Option<&str>) -> Vec<(String, String)> {
    match schema {
        Some(schema) => sqlx::query_as(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT)
             FROM information_schema.columns
             WHERE table_schema = $1 AND ordinal_position = 1 AND table_name NOT LIKE 'markaz%'
             ORDER BY 1",
        )
        .bind(schema)
        .fetch_all(conn)
        .await
        .expect("PostgreSQL's tables"),
        None => sqlx::query_as(
            "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c
             WHERE m.type = 'table' AND m.name NOT LIKE 'markaz%' AND m.name NOT LIKE 'sqlite%'
               AND c.cid = 0
             ORDER BY 1",
        )
        .fetch_all(conn)
        .await
        .expect("SQLite's tables"),
    }
}

/// Applies the migrations twice at `url`, then checks what they made
/// through a connection to `check_url`.
async fn applies(url: &str, check_url: &str, schema: Option<&str>) {
    migrate::run(url, schema, MIGRATIONS)
        .await
        .expect("migrates");
    migrate::run(url, schema, MIGRATIONS)
        .await
        .expect("a second start finds nothing to do");

    let mut conn = AnyConnection::connect(check_url).await.expect("connects");
    if let Some(schema) = schema {
        conn.execute(AssertSqlSafe(format!("SET search_path TO \"{schema}\"")))
            .await
            .expect("search path");
    }
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM markaz_migrations WHERE scope = 'service'")
            .fetch_all(&mut conn)
            .await
            .expect("the record of migrations");
    assert_eq!(applied, [(1, "networking".to_string())]);

    let mut expected = tables();
    expected.sort();
    let heads = table_heads(&mut conn, schema).await;
    let names: Vec<&String> = heads.iter().map(|(t, _)| t).collect();
    assert_eq!(
        names,
        expected.iter().collect::<Vec<_>>(),
        "every table, no other"
    );
    for (table, first) in &heads {
        assert_eq!(first, "tenant_id", "{table} leads with tenant_id");
    }
    let indexes = index_heads(&mut conn, schema).await;
    assert!(indexes.len() > expected.len(), "keys and indexes are read");
    for (table, index, first) in &indexes {
        assert_eq!(first, "tenant_id", "{table}.{index} leads with tenant_id");
    }

    // A row goes in and comes back as it was, Arabic and flags included.
    let name = "الزواج المبكر — حملة قرية حزيمة";
    sqlx::query(
        "INSERT INTO issues (tenant_id, code, name_ar, name_en, description_ar, description_en,
            archived, version, created_at, updated_at)
         VALUES ($1, $2, $3, '', '', '', $4, 1, $5, $5)",
    )
    .bind("center")
    .bind("early-marriage")
    .bind(name)
    .bind(0_i64)
    .bind(markaz_kit::time::now_micros())
    .execute(&mut conn)
    .await
    .expect("an issue is stored");
    let (back, archived): (String, i64) =
        sqlx::query_as("SELECT name_ar, archived FROM issues WHERE tenant_id = $1 AND code = $2")
            .bind("center")
            .bind("early-marriage")
            .fetch_one(&mut conn)
            .await
            .expect("and read back");
    assert_eq!(back.as_bytes(), name.as_bytes());
    assert_eq!(archived, 0);

    if let Some(schema) = schema {
        let unsecured: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind = 'r'
               AND CAST(c.relname AS TEXT) = ANY(string_to_array($2, ','))
               AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                        AND EXISTS (SELECT 1 FROM pg_policy p
                                    WHERE p.polrelid = c.oid AND p.polname = 'markaz_tenant'))",
        )
        .bind(schema)
        .bind(expected.join(","))
        .fetch_one(&mut conn)
        .await
        .expect("row-level security");
        assert_eq!(
            unsecured, 0,
            "every tenant table is under row-level security"
        );
        let booleans: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.columns
             WHERE table_schema = $1 AND data_type = 'boolean'",
        )
        .bind(schema)
        .fetch_one(&mut conn)
        .await
        .expect("column types");
        assert_eq!(booleans, 0);
    }
    conn.close().await.ok();
}

#[tokio::test]
async fn applies_to_a_fresh_sqlite_file() {
    sqlx::any::install_default_drivers();
    let dir = std::env::temp_dir().join(format!(
        "markaz-networking-migration-{}",
        markaz_kit::rpc::new_id()
    ));
    std::fs::create_dir_all(&dir).expect("a fresh directory");
    let url = format!("sqlite://{}/networking.db", dir.display());
    applies(&url, &format!("{url}?mode=rw"), None).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn applies_to_a_fresh_postgres_schema() {
    sqlx::any::install_default_drivers();
    let url = postgres_url();
    let schema = format!(
        "t{}_networking",
        &markaz_kit::rpc::new_id().replace('-', "")[8..]
    );
    // The schema is dropped whatever the checks find: they run in a task,
    // whose panic is caught and raised again once the schema is gone.
    let checks = tokio::spawn({
        let (url, schema) = (url.clone(), schema.clone());
        async move { applies(&url, &url, Some(&schema)).await }
    })
    .await;
    let mut conn = AnyConnection::connect(&url).await.expect("connects");
    conn.execute(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .await
    .expect("the test's schema is dropped");
    if let Err(e) = checks {
        std::panic::resume_unwind(e.into_panic());
    }
}
