//! Text search of people and organizations: the condition a list adds for
//! its query, the same rows on both databases.
//!
//! The rows keep their search text normalized (`validate::search_key`); a
//! query matches where its normalized text occurs anywhere in it. That is
//! `search_text LIKE '%…%'`, which PostgreSQL answers from its trigram
//! indexes (migration 0006). SQLite answers it from an FTS5 table with the
//! trigram tokenizer (migration 0007) when the query has three characters
//! or more — a shorter one has no trigram — and when the index finds few
//! enough rows: reading matches costs per match, while LIKE walks the
//! tenant's rows in the page's order and stops once a page and the capped
//! count are found, so a query found in most names (`محم`) is cheaper by
//! LIKE. Both are exact: the choice changes the cost, never the rows
//! (tests/api/search.rs). On PostgreSQL a search's statements are planned
//! for their pattern (`Tx::plan_for_each_value`). Measured in
//! docs/performance.md.

use markaz_kit::db::{Backend, Tx};
use markaz_kit::error::Result;
use markaz_kit::sql::Where;
use markaz_kit::validate;
use sqlx::AssertSqlSafe;

/// How one list searches its rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextSearch {
    /// The LIKE condition, `{}` the pattern.
    pub like: &'static str,
    /// SQLite's FTS5 table of the rows.
    pub index: &'static str,
    /// The condition on the FTS5 table, `{}` the phrase, `$1` the tenant:
    /// the index's matches `CROSS JOIN` the keys, an order SQLite keeps. Left
    /// to choose (with `ANALYZE` statistics of the rows but none of the
    /// keys), it walked the tenant's keys and asked the index about each —
    /// 2 s for a search that matches nothing, instead of 0.2 ms.
    pub matched: &'static str,
}

/// The fewest characters an FTS5 trigram phrase matches by.
const TRIGRAM: usize = 3;

/// Past this many index entries (of every tenant) a search is read by LIKE.
/// Reading the index costs about 2.5 µs a match (the count and the page
/// both read them all); LIKE about 0.5 µs a row walked, and it walks the
/// tenant's rows until the capped count is found. At 50,000 people the two
/// meet near 3,000 matches (~8 ms each); a bigger tenant favours the index
/// for longer (docs/performance.md). Counting to the cap reads at most this
/// many entries of the index.
const MOST_MATCHES: i64 = 3_000;

/// `query` (as the caller typed it, "" for none) as a condition of `w`.
#[tracing::instrument(skip(tx, w, search))]
pub(crate) async fn text_search(
    tx: &mut Tx,
    w: &mut Where,
    search: &TextSearch,
    query: &str,
) -> Result<()> {
    if query.is_empty() {
        return Ok(());
    }
    // The pattern decides the plan (the trigram index for a rare word, the
    // page's order for a common one): on PostgreSQL, never one generic
    // plan for every pattern.
    tx.plan_for_each_value().await?;
    let needle = validate::matchable(query);
    if tx.backend() == Backend::Sqlite && needle.chars().count() >= TRIGRAM {
        let phrase = phrase(&needle);
        // Only the index's entries are counted, no row is read: the answer
        // chooses the statement, the rows are the tenant's either way.
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {index} WHERE {index} MATCH $1 LIMIT $2) found",
            index = search.index
        );
        let found: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(&phrase)
            .bind(MOST_MATCHES + 1)
            .fetch_one(tx.conn())
            .await?;
        if found <= MOST_MATCHES {
            w.clause(search.matched, &phrase);
            return Ok(());
        }
    }
    w.clause(search.like, &validate::like_pattern(query));
    Ok(())
}

/// `needle` as one FTS5 string: every character literal (operators,
/// `NEAR`, `*`, `-`, column filters are only words inside quotes), a quote
/// doubled. The trigram tokenizer reads it as the phrase of its trigrams.
fn phrase(needle: &str) -> String {
    format!("\"{}\"", needle.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phrase_is_one_fts5_string() {
        assert_eq!(phrase("علي"), "\"علي\"");
        assert_eq!(phrase("a\"b"), "\"a\"\"b\"");
        assert_eq!(phrase("x OR y*"), "\"x OR y*\"");
    }
}
