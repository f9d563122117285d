//! The topic catalogue.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::{CapacityDomain, LocalizedText};
use sqlx::AssertSqlSafe;

use super::{flag, touch_tenant, versioned};
use crate::domain::topics::{BUILT_IN_TOPICS, Topic, TopicFields};

const TOPIC_COLUMNS: &str = "code, name_ar, name_en, description_ar, description_en, \
     capacity_domains, built_in, archived, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct TopicRow {
    code: String,
    name_ar: String,
    name_en: String,
    description_ar: String,
    description_en: String,
    /// Comma-separated CapacityDomain names.
    capacity_domains: String,
    built_in: i64,
    archived: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<TopicRow> for Topic {
    type Error = Error;
    fn try_from(r: TopicRow) -> Result<Topic> {
        Ok(Topic {
            fields: TopicFields {
                name: LocalizedText {
                    ar: r.name_ar,
                    en: r.name_en,
                },
                description: LocalizedText {
                    ar: r.description_ar,
                    en: r.description_en,
                },
                domains: r
                    .capacity_domains
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|d| stored(d, CapacityDomain::from_str_name))
                    .collect::<Result<_>>()?,
                archived: r.archived != 0,
            },
            code: r.code,
            built_in: r.built_in != 0,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn domains_text(domains: &[CapacityDomain]) -> String {
    domains
        .iter()
        .map(|d| d.as_str_name())
        .collect::<Vec<_>>()
        .join(",")
}

async fn insert_topic_row(tx: &mut Tx, code: &str, f: &TopicFields, built_in: bool) -> Result<u64> {
    let now = now_micros();
    Ok(sqlx::query(
        "INSERT INTO topics (tenant_id, code, name_ar, name_en, description_ar, description_en,
            capacity_domains, built_in, archived, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(code)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(domains_text(&f.domains))
    .bind(flag(built_in))
    .bind(flag(f.archived))
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Puts the eight built-in topics in the tenant's catalogue, once: a topic
/// staff renamed or archived stays as they left it.
#[tracing::instrument(skip_all)]
pub async fn seed(tx: &mut Tx) -> Result<()> {
    for t in BUILT_IN_TOPICS {
        insert_topic_row(tx, t.code, &t.fields(), true).await?;
    }
    touch_tenant(tx).await?;
    Ok(())
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, code: &str, f: &TopicFields) -> Result<Topic> {
    if insert_topic_row(tx, code, f, false).await? == 0 {
        return Err(Error::AlreadyExists(format!("topic '{code}' exists")));
    }
    get(tx, code)
        .await?
        .ok_or_else(|| Error::internal("the topic just created is gone"))
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, code: &str) -> Result<Option<Topic>> {
    tx.find_as::<TopicRow, _>(
        AssertSqlSafe(format!(
            "SELECT {TOPIC_COLUMNS} FROM topics WHERE tenant_id = $1 AND code = $2"
        )),
        code,
    )
    .await
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    include_archived: bool,
    after: &str,
    limit: i64,
) -> Result<(Vec<Topic>, Total)> {
    // A catalogue, counted exactly; the same conditions count it, before
    // the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    if !include_archived {
        w.fixed("archived = 0");
    }
    let total = w.count(tx, "topics").await?;
    w.compare("code", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {TOPIC_COLUMNS} FROM topics {} ORDER BY code LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<TopicRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((
        rows.into_iter()
            .map(Topic::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// The whole catalogue by code (it is small).
#[tracing::instrument(skip_all)]
pub async fn catalogue(tx: &mut Tx) -> Result<HashMap<String, Topic>> {
    Ok(list(tx, true, "", 100_000)
        .await?
        .0
        .into_iter()
        .map(|t| (t.code.clone(), t))
        .collect())
}

#[tracing::instrument(skip_all)]
pub async fn update(tx: &mut Tx, current: &Topic, f: &TopicFields) -> Result<Topic> {
    let now = now_micros();
    versioned(
        tx,
        sqlx::query(
            "UPDATE topics SET name_ar = $3, name_en = $4, description_ar = $5, description_en = $6,
                capacity_domains = $7, archived = $8, version = version + 1, updated_at = $9
             WHERE tenant_id = $1 AND code = $2 AND version = $10",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.code)
        .bind(&f.name.ar)
        .bind(&f.name.en)
        .bind(&f.description.ar)
        .bind(&f.description.en)
        .bind(domains_text(&f.domains))
        .bind(flag(f.archived))
        .bind(now)
        .bind(current.version)
        )
    .await?;
    Ok(Topic {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}
