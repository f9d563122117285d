//! Embedded migrations, run at start on PostgreSQL and on SQLite alike.
//!
//! A migration is one SQL file for both databases. The few spots where the
//! dialects differ are written as placeholders or marked sections:
//!
//! * `{{seq}}` — an auto-incrementing integer primary key
//!   (`BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY` / `INTEGER PRIMARY KEY AUTOINCREMENT`);
//! * `{{blob}}` — bytes (`BYTEA` / `BLOB`);
//! * a line `{{sequence NAME}}` — declares a sequence for
//!   [`Tx::next_value`](crate::db::Tx::next_value) (`CREATE SEQUENCE` / a row
//!   of `markaz_sequences`);
//! * a line `--! postgres` or `--! sqlite` starts a section for that database
//!   only, `--! all` ends it.
//!
//! Column types are the ones both databases and sqlx's `Any` driver share:
//! `TEXT`, `BIGINT`, `DOUBLE PRECISION` and `{{blob}}`. There is no `BOOLEAN`
//! (the driver cannot read SQLite's), so flags are `BIGINT` 0 or 1, and no
//! timestamp type: instants are microseconds since the epoch.
//!
//! Row-level security is not written by hand: after migrating, every table of
//! the schema that has a `tenant_id` column gets RLS enabled and forced with a
//! policy on `markaz.tenant_id` — a table cannot be forgotten. The platform's
//! cross-tenant tables (the outbox the relay reads, the dead letters an
//! operator lists) are the named exceptions.
//!
//! Each applied migration is recorded with a checksum; a migration edited
//! after it ran stops the process instead of silently diverging.

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};

use crate::db::{APP_ROLE, Backend, backend_of, check_identifier};
use crate::error::{Error, Result};

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Migrations a library brings into the databases of the services that use
/// it (the copies of membership's data), recorded under their own scope so
/// their numbers never clash with the service's.
#[derive(Debug, Clone, Copy)]
pub struct MigrationSet {
    pub scope: &'static str,
    pub migrations: &'static [Migration],
}

/// Tables with a `tenant_id` that are read across tenants by the platform.
const CROSS_TENANT_TABLES: &[&str] = &["markaz_outbox", "markaz_dead_letters", "markaz_erasures"];

/// The platform's own tables, present in every service's database.
pub const PLATFORM: &[Migration] = &[
    Migration {
        version: 1,
        name: "platform",
        sql: include_str!("../migrations/0001_platform.sql"),
    },
    Migration {
        version: 2,
        name: "registered tenants",
        sql: include_str!("../migrations/0002_tenants.sql"),
    },
    Migration {
        version: 3,
        name: "retention",
        sql: include_str!("../migrations/0003_retention.sql"),
    },
    Migration {
        version: 4,
        name: "erasures",
        sql: include_str!("../migrations/0004_erasures.sql"),
    },
];

/// Applies the platform's migrations and then `service`'s, as the connecting
/// user (the owner of the tables). On PostgreSQL the schema and the
/// application role are created when missing.
pub async fn run(url: &str, schema: Option<&str>, service: &[Migration]) -> Result<()> {
    run_all(url, schema, &[], service).await
}

/// [`run`], with the migrations of the libraries the service uses applied
/// after the platform's and before the service's own (which may move data
/// into the libraries' tables).
pub async fn run_all(
    url: &str,
    schema: Option<&str>,
    libraries: &[MigrationSet],
    service: &[Migration],
) -> Result<()> {
    sqlx::any::install_default_drivers();
    let backend = backend_of(url)?;
    let url = if backend == Backend::Sqlite && !url.contains("mode=") {
        if url.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        }
    } else {
        url.to_string()
    };
    let mut conn = AnyConnection::connect(&url)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot connect for migrations: {e}")))?;
    if backend == Backend::Postgres {
        let schema = schema.ok_or_else(|| Error::internal("a PostgreSQL schema is required"))?;
        check_identifier(schema)?;
        prepare_postgres(&mut conn, schema).await?;
    }
    conn.execute(
        "CREATE TABLE IF NOT EXISTS markaz_migrations (
            scope TEXT NOT NULL,
            version BIGINT NOT NULL,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at BIGINT NOT NULL,
            PRIMARY KEY (scope, version)
        )",
    )
    .await
    .map_err(Error::from)?;
    let mut pending = pending(&mut conn, "platform", PLATFORM).await?
        + pending(&mut conn, "service", service).await?;
    for library in libraries {
        pending += self::pending(&mut conn, library.scope, library.migrations).await?;
    }
    let postgres_schema = schema.filter(|_| backend == Backend::Postgres);
    if let (Some(schema), true) = (postgres_schema, pending > 0) {
        relax_postgres(&mut conn, schema).await?;
    }
    apply(&mut conn, backend, "platform", PLATFORM).await?;
    for library in libraries {
        apply(&mut conn, backend, library.scope, library.migrations).await?;
    }
    apply(&mut conn, backend, "service", service).await?;
    if let Some(schema) = postgres_schema {
        // ALTER TABLE locks every table: done only when something changed
        // (or a run stopped half-way), not at every start of every pod.
        if pending > 0 || !secured(&mut conn, schema).await? {
            secure_postgres(&mut conn, schema).await?;
        }
        conn.execute("SELECT pg_advisory_unlock(4242424242)")
            .await?;
    }
    conn.close().await.ok();
    Ok(())
}

/// How many of `migrations` are not applied yet.
/// For a process that does not migrate (`markaz serve --no-migrate`, logged
/// in as a role that owns nothing): the database must already be at this
/// binary's version, or the process refuses to start rather than run queries
/// against tables that are not there yet.
pub async fn check_current(
    url: &str,
    schema: Option<&str>,
    libraries: &[MigrationSet],
    service: &[Migration],
) -> Result<()> {
    sqlx::any::install_default_drivers();
    let backend = backend_of(url)?;
    let mut conn = AnyConnection::connect(url)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot connect to check migrations: {e}")))?;
    if let (Backend::Postgres, Some(schema)) = (backend, schema) {
        check_identifier(schema)?;
        conn.execute(AssertSqlSafe(format!("SET search_path TO \"{schema}\"")))
            .await?;
    }
    let behind = async {
        let mut behind = pending(&mut conn, "platform", PLATFORM).await?
            + pending(&mut conn, "service", service).await?;
        for library in libraries {
            behind += pending(&mut conn, library.scope, library.migrations).await?;
        }
        Ok::<_, Error>(behind)
    }
    .await;
    conn.close().await.ok();
    match behind {
        Ok(0) => Ok(()),
        Ok(n) => Err(Error::Unavailable(format!(
            "the database is {n} migration(s) behind this binary: run `markaz migrate` first"
        ))),
        Err(e) => Err(Error::Unavailable(format!(
            "the database has not been migrated (`markaz migrate`): {e}"
        ))),
    }
}

async fn pending(conn: &mut AnyConnection, scope: &str, migrations: &[Migration]) -> Result<usize> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM markaz_migrations WHERE scope = $1")
            .bind(scope)
            .fetch_all(&mut *conn)
            .await?;
    Ok(migrations
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .count())
}

/// Whether every tenant table of the schema has row-level security enabled
/// and forced, with the tenant policy.
async fn secured(conn: &mut AnyConnection, schema: &str) -> Result<bool> {
    let tables = tenant_tables(conn, schema).await?;
    let unsecured: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND CAST(c.relname AS TEXT) = ANY(string_to_array($2, ','))
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                    AND EXISTS (SELECT 1 FROM pg_policy p
                                WHERE p.polrelid = c.oid AND p.polname = 'markaz_tenant'))",
    )
    .bind(schema)
    .bind(tables.join(","))
    .fetch_one(&mut *conn)
    .await?;
    Ok(unsecured == 0)
}

async fn prepare_postgres(conn: &mut AnyConnection, schema: &str) -> Result<()> {
    // Several processes may start at once (pods, parallel tests): serialize
    // the role and schema creation on an advisory lock held for the session.
    conn.execute("SELECT pg_advisory_lock(4242424242)").await?;
    let result = async {
        conn.execute(AssertSqlSafe(format!(
            "DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                    CREATE ROLE {APP_ROLE} NOLOGIN;
                END IF;
                IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                   AND NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
                    EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
                END IF;
            END $$;
            CREATE SCHEMA IF NOT EXISTS \"{schema}\";
            SET search_path TO \"{schema}\";"
        )))
        .await?;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    if let Err(e) = result {
        conn.execute("SELECT pg_advisory_unlock(4242424242)")
            .await
            .ok();
        return Err(e.into());
    }
    Ok(())
}

/// Lets the migrations — run as the tables' owner — see every tenant's rows,
/// so a migration that moves data moves all of it. Only the owner is
/// affected (the application role stays under the policies), and
/// [`secure_postgres`] forces the security again once they ran.
async fn relax_postgres(conn: &mut AnyConnection, schema: &str) -> Result<()> {
    let mut sql = String::new();
    for table in tenant_tables(conn, schema).await? {
        sql.push_str(&format!(
            "ALTER TABLE \"{table}\" NO FORCE ROW LEVEL SECURITY;\n"
        ));
    }
    if !sql.is_empty() {
        conn.execute(AssertSqlSafe(sql)).await?;
    }
    Ok(())
}

/// The schema's tables that hold tenant data under row-level security.
async fn tenant_tables(conn: &mut AnyConnection, schema: &str) -> Result<Vec<String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(c.table_name AS TEXT) FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = $1 AND c.column_name = 'tenant_id'
           AND t.table_type = 'BASE TABLE'
         ORDER BY c.table_name",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    let tables: Vec<String> = tables
        .into_iter()
        .filter(|t| !CROSS_TENANT_TABLES.contains(&t.as_str()))
        .collect();
    for t in &tables {
        check_identifier(t)?;
    }
    Ok(tables)
}

async fn secure_postgres(conn: &mut AnyConnection, schema: &str) -> Result<()> {
    let mut sql = String::new();
    for table in tenant_tables(conn, schema).await? {
        sql.push_str(&format!(
            "ALTER TABLE \"{table}\" ENABLE ROW LEVEL SECURITY;
             ALTER TABLE \"{table}\" FORCE ROW LEVEL SECURITY;
             DROP POLICY IF EXISTS markaz_tenant ON \"{table}\";
             CREATE POLICY markaz_tenant ON \"{table}\"
               USING (tenant_id = current_setting('markaz.tenant_id', true))
               WITH CHECK (tenant_id = current_setting('markaz.tenant_id', true));\n"
        ));
    }
    sql.push_str(&format!(
        "GRANT USAGE ON SCHEMA \"{schema}\" TO {APP_ROLE};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{schema}\" TO {APP_ROLE};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA \"{schema}\" TO {APP_ROLE};"
    ));
    conn.execute(AssertSqlSafe(sql)).await?;
    Ok(())
}

async fn apply(
    conn: &mut AnyConnection,
    backend: Backend,
    scope: &str,
    migrations: &[Migration],
) -> Result<()> {
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, checksum FROM markaz_migrations WHERE scope = $1")
            .bind(scope)
            .fetch_all(&mut *conn)
            .await?;
    for m in migrations {
        let checksum = checksum(m.sql);
        if let Some((_, recorded)) = applied.iter().find(|(v, _)| *v == m.version) {
            if *recorded != checksum {
                return Err(Error::internal(format!(
                    "{scope} migration {} ({}) was changed after it was applied",
                    m.version, m.name
                )));
            }
            continue;
        }
        let sql = render(m.sql, backend);
        let mut tx = conn.begin().await?;
        tx.execute(AssertSqlSafe(sql)).await.map_err(|e| {
            Error::internal(format!("{scope} migration {} ({}): {e}", m.version, m.name))
        })?;
        sqlx::query(
            "INSERT INTO markaz_migrations (scope, version, name, checksum, applied_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(scope)
        .bind(m.version)
        .bind(m.name)
        .bind(&checksum)
        .bind(crate::time::now_micros())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(
            scope,
            version = m.version,
            name = m.name,
            "migration applied"
        );
    }
    Ok(())
}

/// The SQL of a migration for one backend: marked sections kept or dropped,
/// placeholders replaced.
pub fn render(sql: &str, backend: Backend) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut keep = true;
    for line in sql.lines() {
        match line.trim() {
            "--! postgres" => keep = backend == Backend::Postgres,
            "--! sqlite" => keep = backend == Backend::Sqlite,
            "--! all" => keep = true,
            _ if keep => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    let out = out
        .lines()
        .map(|line| {
            match line
                .trim()
                .strip_prefix("{{sequence ")
                .and_then(|l| l.strip_suffix("}}"))
            {
                Some(name) => match backend {
                    Backend::Postgres => format!("CREATE SEQUENCE {name};"),
                    Backend::Sqlite => {
                        format!("INSERT INTO markaz_sequences (name, value) VALUES ('{name}', 0);")
                    }
                },
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (seq, blob) = match backend {
        Backend::Postgres => ("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA"),
        Backend::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"),
    };
    out.replace("{{seq}}", seq).replace("{{blob}}", blob)
}

fn checksum(sql: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, sql.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_placeholders_follow_the_backend() {
        let sql = "CREATE TABLE t (seq {{seq}}, b {{blob}});\n--! postgres\nPG ONLY;\n--! sqlite\nSQLITE ONLY;\n--! all\nBOTH;\n{{sequence numbers}}";
        let pg = render(sql, Backend::Postgres);
        assert!(pg.contains("IDENTITY") && pg.contains("BYTEA") && pg.contains("PG ONLY"));
        assert!(!pg.contains("SQLITE ONLY") && pg.contains("BOTH"));
        assert!(pg.contains("CREATE SEQUENCE numbers;"));
        let lite = render(sql, Backend::Sqlite);
        assert!(
            lite.contains("AUTOINCREMENT") && lite.contains("BLOB") && lite.contains("SQLITE ONLY")
        );
        assert!(!lite.contains("PG ONLY") && lite.contains("BOTH"));
        assert!(lite.contains("INSERT INTO markaz_sequences (name, value) VALUES ('numbers', 0);"));
    }
}
