//! Files of items and their versions (the bytes are in object storage).

use std::collections::HashMap;

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::LocalizedText;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Version {
    pub file_id: String,
    pub version: i64,
    pub item_id: String,
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub object_key: String,
    pub uploaded_by: String,
    pub uploaded_at: i64,
    pub withdrawn: i64,
    pub withdraw_reason: String,
}

const VERSION_COLUMNS: &str = "file_id, version, item_id, file_name, media_type, size_bytes, \
    sha256, object_key, uploaded_by, uploaded_at, withdrawn, withdraw_reason";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub id: String,
    pub item_id: String,
    pub label: LocalizedText,
    pub language: String,
    pub created_at: i64,
    /// Newest first.
    pub versions: Vec<Version>,
}

impl File {
    pub fn current(&self) -> Option<&Version> {
        self.versions.iter().find(|v| v.withdrawn == 0)
    }
}

#[derive(sqlx::FromRow)]
struct StoredFile {
    id: String,
    item_id: String,
    label_ar: String,
    label_en: String,
    language: String,
    created_at: i64,
}

/// The files of an item of `item_tenant` with every version, newest
/// first: two statements whatever their number. The item's visibility was
/// checked by the caller; the tenant is the item's (another tenant's
/// published items are readable, on PostgreSQL by the shared-files policy).
#[tracing::instrument(skip(tx))]
pub async fn of_item(tx: &mut Tx, item_tenant: &str, item_id: &str) -> Result<Vec<File>> {
    let files: Vec<StoredFile> = sqlx::query_as(
        "SELECT id, item_id, label_ar, label_en, language, created_at FROM item_files
         WHERE tenant_id = $1 AND item_id = $2 ORDER BY id",
    )
    .bind(item_tenant.to_owned())
    .bind(item_id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    let versions: Vec<Version> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VERSION_COLUMNS} FROM file_versions WHERE tenant_id = $1 AND item_id = $2
         ORDER BY version DESC"
    )))
    .bind(item_tenant.to_owned())
    .bind(item_id.to_owned())
    .fetch_all(tx.conn())
    .await?;
    let mut by_file: HashMap<String, Vec<Version>> = HashMap::new();
    for v in versions {
        by_file.entry(v.file_id.clone()).or_default().push(v);
    }
    Ok(files
        .into_iter()
        .map(|f| File {
            versions: by_file.remove(&f.id).unwrap_or_default(),
            id: f.id,
            item_id: f.item_id,
            label: LocalizedText {
                ar: f.label_ar,
                en: f.label_en,
            },
            language: f.language,
            created_at: f.created_at,
        })
        .collect())
}

#[tracing::instrument(skip(tx, label))]
pub async fn insert_file(
    tx: &mut Tx,
    id: &str,
    item_id: &str,
    label: &LocalizedText,
    language: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO item_files (tenant_id, id, item_id, label_ar, label_en, language, version,
            created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id.to_owned())
    .bind(item_id.to_owned())
    .bind(label.ar.clone())
    .bind(label.en.clone())
    .bind(language.to_owned())
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records an uploaded version. Two uploads of one file racing for the
/// same number: the primary key refuses the second, which is ABORTED (retry).
#[tracing::instrument(skip_all)]
pub async fn insert_version(tx: &mut Tx, v: &Version) -> Result<()> {
    let done = sqlx::query(
        "INSERT INTO file_versions (tenant_id, file_id, version, item_id, file_name, media_type,
            size_bytes, sha256, object_key, uploaded_by, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tx.tenant().to_owned())
    .bind(v.file_id.clone())
    .bind(v.version)
    .bind(v.item_id.clone())
    .bind(v.file_name.clone())
    .bind(v.media_type.clone())
    .bind(v.size_bytes)
    .bind(v.sha256.clone())
    .bind(v.object_key.clone())
    .bind(v.uploaded_by.clone())
    .bind(v.uploaded_at)
    .execute(tx.conn())
    .await;
    match done {
        Ok(_) => Ok(()),
        Err(e) if markaz_kit::db::is_unique_violation(&e) => Err(Error::Aborted(
            "another upload of this file took the same version number; retry".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[tracing::instrument(skip(tx, reason))]
pub async fn withdraw_version(
    tx: &mut Tx,
    file_id: &str,
    version: i64,
    reason: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE file_versions SET withdrawn = 1, withdraw_reason = $4, withdrawn_at = $5
         WHERE tenant_id = $1 AND file_id = $2 AND version = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(file_id.to_owned())
    .bind(version)
    .bind(reason.to_owned())
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}
