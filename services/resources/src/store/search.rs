//! Search candidates: the items a query's tokens find in the full-text
//! index (FTS5 on SQLite, the `tsvector` on PostgreSQL) that the reader may
//! see, and the corpus counts the ranking needs. Both databases index the
//! normalizer's tokens verbatim and are asked for every token (the last as
//! a prefix), so both find the same candidates; the ranking is computed in
//! [`crate::domain::search::rank`] from these plain counts.

use markaz_kit::db::{Backend, Tx};
use markaz_kit::error::Result;
use sqlx::AssertSqlSafe;

use super::items::{ITEM_COLUMNS, Item, Scope, StoredItem};
use crate::domain::search::{Query, Term, fts5_match, tsquery};

/// The condition "the item's search column has every term of `query`",
/// over `i`, reading the query text from `$3`, and that text.
fn matching(backend: Backend, query: &Query) -> (String, String) {
    match backend {
        Backend::Sqlite => (
            "EXISTS (SELECT 1 FROM item_search_rows r JOIN item_search s ON s.rowid = r.row_key
                WHERE r.tenant_id = i.tenant_id AND r.item_id = i.id
                AND item_search MATCH $3)"
                .to_string(),
            fts5_match(query),
        ),
        Backend::Postgres => (
            "i.search_vector @@ CAST($3 AS tsquery)".to_string(),
            tsquery(query),
        ),
    }
}

/// Every item `scope` may see that matches `query` (at most `cap`), with
/// its topics.
#[tracing::instrument(skip_all)]
pub async fn candidates(tx: &mut Tx, scope: &Scope, query: &Query, cap: i64) -> Result<Vec<Item>> {
    let (condition, text) = matching(tx.backend(), query);
    let rows: Vec<StoredItem> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} FROM items i WHERE {} AND {condition} ORDER BY i.id LIMIT $4",
        scope.sql()
    )))
    .bind(tx.tenant().to_owned())
    .bind(scope.organization.clone())
    .bind(text)
    .bind(cap)
    .fetch_all(tx.conn())
    .await?;
    let items = rows
        .into_iter()
        .map(Item::try_from)
        .collect::<Result<Vec<_>>>()?;
    super::items::with_topics(tx, items).await
}

/// How many items `scope` may see, and how many of them contain each term.
#[tracing::instrument(skip_all)]
pub async fn corpus_counts(tx: &mut Tx, scope: &Scope, query: &Query) -> Result<(u64, Vec<u64>)> {
    let documents: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM items i WHERE {}",
        scope.sql()
    )))
    .bind(tx.tenant().to_owned())
    .bind(scope.organization.clone())
    .fetch_one(tx.conn())
    .await?;
    let mut containing = Vec::with_capacity(query.terms.len());
    for term in &query.terms {
        let one = Query {
            terms: vec![Term {
                token: term.token.clone(),
                prefix: term.prefix,
            }],
        };
        let (condition, text) = matching(tx.backend(), &one);
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM items i WHERE {} AND {condition}",
            scope.sql()
        )))
        .bind(tx.tenant().to_owned())
        .bind(scope.organization.clone())
        .bind(text)
        .fetch_one(tx.conn())
        .await?;
        containing.push(n.max(0) as u64);
    }
    Ok((documents.max(0) as u64, containing))
}
