//! The catalogue of issues.

use std::collections::HashMap;

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::time::now_micros;
use sqlx::AssertSqlSafe;

use super::{Filter, flag, text, versioned};
use crate::domain::issues::IssueFields;

const COLUMNS: &str = "code, name_ar, name_en, description_ar, description_en, archived, version, \
     created_at, updated_at";

#[derive(sqlx::FromRow)]
struct StoredIssue {
    code: String,
    name_ar: String,
    name_en: String,
    description_ar: String,
    description_en: String,
    archived: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub fields: IssueFields,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<StoredIssue> for Issue {
    type Error = Error;
    fn try_from(r: StoredIssue) -> Result<Issue> {
        Ok(Issue {
            fields: IssueFields {
                code: r.code,
                name: text(r.name_ar, r.name_en),
                description: text(r.description_ar, r.description_en),
                archived: r.archived != 0,
            },
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Inserts a new issue; `None` when the code is taken.
#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, f: &IssueFields) -> Result<Option<Issue>> {
    let now = now_micros();
    let inserted = sqlx::query(
        "INSERT INTO issues (tenant_id, code, name_ar, name_en, description_ar, description_en,
            archived, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(&f.code)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(flag(f.archived))
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    get(tx, &f.code).await
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, code: &str) -> Result<Option<Issue>> {
    tx.find_as::<StoredIssue, _>(
        AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM issues WHERE tenant_id = $1 AND code = $2"
        )),
        code,
    )
    .await
}

/// A page of the catalogue in code order, and the size of the whole list.
#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    include_archived: bool,
    after: &str,
    limit: i64,
) -> Result<(Vec<Issue>, i32)> {
    let mut f = Filter::tenant(tx, "tenant_id");
    if !include_archived {
        f.and("archived = 0", []);
    }
    let total = f.count(tx, "issues").await?;
    let mut page = f.clone();
    page.and("code > ?", [after.into()]);
    let limit = page.bind(limit);
    let rows: Vec<StoredIssue> = page
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM issues WHERE {} ORDER BY code LIMIT {limit}",
                page.sql()
            ),
        )
        .await?;
    Ok((
        rows.into_iter()
            .map(Issue::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Whether each code is archived, for the codes in the catalogue.
#[tracing::instrument(skip(tx, codes))]
pub async fn archived(tx: &mut Tx, codes: &[String]) -> Result<HashMap<String, bool>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    let list = super::in_list(&mut f, codes);
    let rows: Vec<StoredIssue> = f
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM issues WHERE {} AND code IN {list}",
                f.sql()
            ),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.code, r.archived != 0))
        .collect())
}

#[tracing::instrument(skip(tx, f))]
pub async fn update(tx: &mut Tx, current: &Issue, f: &IssueFields) -> Result<Issue> {
    let now = now_micros();
    versioned(
        tx,
        sqlx::query(
            "UPDATE issues SET name_ar = $3, name_en = $4, description_ar = $5,
                description_en = $6, archived = $7, version = version + 1, updated_at = $8
             WHERE tenant_id = $1 AND code = $2 AND version = $9",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.fields.code)
        .bind(&f.name.ar)
        .bind(&f.name.en)
        .bind(&f.description.ar)
        .bind(&f.description.en)
        .bind(flag(f.archived))
        .bind(now)
        .bind(current.version),
    )
    .await?;
    Ok(Issue {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        created_at: current.created_at,
    })
}
