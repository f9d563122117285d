//! Programs.

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::LocalizedText;

use sqlx::AssertSqlSafe;

use super::changed;
use crate::domain::programs::ProgramFields;

#[derive(Debug, Clone)]
pub struct ProgramRow {
    pub id: String,
    pub fields: ProgramFields,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A program as stored.
#[derive(sqlx::FromRow)]
struct StoredProgram {
    name_ar: String,
    name_en: String,
    description_ar: String,
    description_en: String,
    id: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<StoredProgram> for ProgramRow {
    type Error = Error;
    fn try_from(r: StoredProgram) -> Result<ProgramRow> {
        Ok(ProgramRow {
            id: r.id,
            fields: ProgramFields {
                name: LocalizedText {
                    ar: r.name_ar,
                    en: r.name_en,
                },
                description: LocalizedText {
                    ar: r.description_ar,
                    en: r.description_en,
                },
            },
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, id: &str, f: &ProgramFields) -> Result<ProgramRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO programs (tenant_id, id, name_ar, name_en, description_ar, description_en,
            version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(ProgramRow {
        id: id.to_string(),
        fields: f.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

const PROGRAM_COLUMNS: &str = "id, name_ar, name_en, description_ar, description_en, version, \
     created_at, updated_at";

#[tracing::instrument(skip_all)]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ProgramRow>> {
    tx.find_as::<StoredProgram, _>(
        AssertSqlSafe(format!(
            "SELECT {PROGRAM_COLUMNS} FROM programs WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn list(tx: &mut Tx, after: &str, limit: i64) -> Result<(Vec<ProgramRow>, Total)> {
    // A center's programs, a handful: counted exactly before the cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    let total = w.count(tx, "programs").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {PROGRAM_COLUMNS} FROM programs {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredProgram> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(ProgramRow::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

#[tracing::instrument(skip_all)]
pub async fn update(tx: &mut Tx, current: &ProgramRow, f: &ProgramFields) -> Result<ProgramRow> {
    let now = now_micros();
    let rows = sqlx::query(
        "UPDATE programs SET name_ar = $3, name_en = $4, description_ar = $5, description_en = $6,
            version = version + 1, updated_at = $7
         WHERE tenant_id = $1 AND id = $2 AND version = $8",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    Ok(ProgramRow {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}
