//! Search and type-ahead over the published items a caller may see, and
//! the public catalogue's search.
//!
//! The database finds the candidates (every token of the query, the last as
//! a prefix, in the normalized search column) within the caller's
//! visibility; the filters, the ranking, the facets and the snippets are
//! the domain's, computed over those candidates — so both databases give
//! the same results in the same order with the same scores.

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::Anonymous;
use markaz_proto::resources::v1 as api;

use super::items::proto;
use super::{ResourcesApi, reader};
use crate::domain::search::{
    Candidate, CorpusCounts, Excerpt, FacetKeys, Filterable, Query, SearchRequest, excerpt, facets,
    parse_search, parse_suggest, rank,
};
use crate::store;
use crate::store::items::{Item, Scope};

/// The most candidates one search ranks: far more than anyone pages
/// through; a query matching more is narrowed by another word or a filter.
const MAX_CANDIDATES: i64 = 2_000;
/// Words an excerpt shows.
const SNIPPET_WORDS: usize = 24;

pub(crate) async fn search(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::SearchItemsRequest,
) -> Result<api::SearchItemsResponse> {
    let parsed = parse_search("", &req)?;
    let offset = parse_offset("page_token", &req.page_token)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let scope = Scope::of(&reader(&caller)).published_only();
    run(&mut tx, &scope, &parsed, offset).await
}

pub(crate) async fn search_public(
    resources: &ResourcesApi,
    anonymous: Anonymous,
    req: api::SearchPublicItemsRequest,
) -> Result<api::SearchItemsResponse> {
    let empty = api::SearchItemsRequest::default();
    let search = req.search.as_ref().unwrap_or(&empty);
    let (tenant, parsed) = markaz_kit::error::join(
        markaz_kit::validate::slug("tenant_id", &req.tenant_id, 63).map_err(Error::from),
        parse_search("search", search),
    )?;
    let offset = parse_offset("search.page_token", &search.page_token)?;
    resources.limit_public(&anonymous)?;
    let mut tx = resources.db.read(&tenant).await?;
    let scope = Scope::public(req.include_consortium_public);
    run(&mut tx, &scope, &parsed, offset).await
}

/// A search's page token: the offset of its first result in the ranking.
fn parse_offset(field: &str, token: &str) -> Result<usize> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .strip_prefix("o")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n <= MAX_CANDIDATES as usize)
        .ok_or_else(|| Error::invalid(field, "not a token from this search"))
}

fn candidate(i: &Item) -> Candidate {
    Candidate {
        id: i.id.clone(),
        publish_time: i.published_at.unwrap_or(0),
        title: i.search_title.clone(),
        authors: i.search_authors.clone(),
        topics: i.search_topics.clone(),
        summary: i.search_summary.clone(),
    }
}

fn filterable(i: &Item) -> Filterable<'_> {
    Filterable {
        kind: i.kind,
        topic_codes: &i.topic_codes,
        language: &i.language,
        source_kind: i.source_kind,
        source_organization_id: &i.source_organization_id,
        year: (i.publication_year > 0).then_some(i.publication_year as i32),
    }
}

/// The matches of `parsed` in `scope`, ranked; `offset` onwards.
async fn run(
    tx: &mut Tx,
    scope: &Scope,
    parsed: &SearchRequest,
    offset: usize,
) -> Result<api::SearchItemsResponse> {
    let matches: Vec<Item> = store::search::candidates(tx, scope, &parsed.query, MAX_CANDIDATES)
        .await?
        .into_iter()
        .filter(|i| parsed.filters.admits(&filterable(i)))
        .collect();
    let (documents, containing) = store::search::corpus_counts(tx, scope, &parsed.query).await?;
    let counts = CorpusCounts {
        documents,
        containing,
    };
    let facet_counts = facets(
        matches
            .iter()
            .map(|i| FacetKeys {
                kind: i.kind.as_str_name().to_string(),
                topics: i.topic_codes.clone(),
                language: i.language.clone(),
                year: (i.publication_year > 0).then_some(i.publication_year as i32),
                source_kind: i.source_kind.as_str_name().to_string(),
            })
            .collect::<Vec<_>>()
            .iter(),
    );
    let ranked = rank(
        &parsed.query,
        matches.iter().map(candidate).collect(),
        &counts,
    );
    let total = ranked.len();
    let mut by_id: std::collections::HashMap<String, Item> =
        matches.into_iter().map(|i| (i.id.clone(), i)).collect();
    let results: Vec<api::SearchResult> = ranked
        .into_iter()
        .skip(offset)
        .take(parsed.page_size)
        .filter_map(|(c, score)| {
            by_id.remove(&c.id).map(|item| api::SearchResult {
                snippets: snippets(&item, &parsed.query),
                item: Some(proto(&item)),
                score,
            })
        })
        .collect();
    let next = offset + results.len();
    let pair = |v: Vec<(String, u32)>| {
        v.into_iter()
            .map(|(value, count)| api::FacetCount {
                value,
                count: count as i32,
            })
            .collect()
    };
    Ok(api::SearchItemsResponse {
        next_page_token: if next < total {
            format!("o{next}")
        } else {
            String::new()
        },
        results,
        total_size: total as i32,
        facets: Some(api::Facets {
            kinds: pair(facet_counts.kinds),
            topics: pair(facet_counts.topics),
            languages: pair(facet_counts.languages),
            years: pair(facet_counts.years),
            source_kinds: pair(facet_counts.source_kinds),
        }),
    })
}

fn segments(e: Excerpt) -> (Vec<api::SnippetSegment>, bool, bool) {
    (
        e.segments
            .into_iter()
            .map(|s| api::SnippetSegment {
                text: s.text,
                r#match: s.matched,
            })
            .collect(),
        e.truncated_start,
        e.truncated_end,
    )
}

/// The fields where the query matched, as stored, with the matches marked.
fn snippets(item: &Item, query: &Query) -> Vec<api::Snippet> {
    let authors = item.authors.join("; ");
    let topics = item.topic_codes.join(", ");
    let fields: [(&str, &str); 6] = [
        ("title.ar", &item.title.ar),
        ("title.en", &item.title.en),
        ("summary.ar", &item.summary.ar),
        ("summary.en", &item.summary.en),
        ("authors", &authors),
        ("topics", &topics),
    ];
    fields
        .into_iter()
        .filter_map(|(field, text)| {
            excerpt(text, query, SNIPPET_WORDS).map(|e| {
                let (segments, truncated_start, truncated_end) = segments(e);
                api::Snippet {
                    field: field.to_string(),
                    segments,
                    truncated_start,
                    truncated_end,
                }
            })
        })
        .collect()
}

pub(crate) async fn suggest(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::SuggestItemsRequest,
) -> Result<api::SuggestItemsResponse> {
    let (query, max) = parse_suggest(&req)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let scope = Scope::of(&reader(&caller)).published_only();
    // Type-ahead completes titles: the candidates whose title has every
    // word typed, ranked as a search of the title alone.
    let titled: Vec<Item> = store::search::candidates(&mut tx, &scope, &query, MAX_CANDIDATES)
        .await?
        .into_iter()
        .filter(|i| {
            query
                .terms
                .iter()
                .all(|t| i.search_title.split(' ').any(|token| t.matches(token)))
        })
        .collect();
    let (documents, containing) = store::search::corpus_counts(&mut tx, &scope, &query).await?;
    let ranked = rank(
        &query,
        titled
            .iter()
            .map(|i| Candidate {
                authors: String::new(),
                topics: String::new(),
                summary: String::new(),
                ..candidate(i)
            })
            .collect(),
        &CorpusCounts {
            documents,
            containing,
        },
    );
    let mut by_id: std::collections::HashMap<String, Item> =
        titled.into_iter().map(|i| (i.id.clone(), i)).collect();
    Ok(api::SuggestItemsResponse {
        suggestions: ranked
            .into_iter()
            .take(max)
            .filter_map(|(c, _)| by_id.remove(&c.id))
            .map(|item| {
                let marked = excerpt(&item.title.ar, &query, usize::MAX)
                    .or_else(|| excerpt(&item.title.en, &query, usize::MAX))
                    .map(|e| segments(e).0)
                    .unwrap_or_default();
                api::Suggestion {
                    item_id: item.id.clone(),
                    title: Some(item.title.clone()),
                    segments: marked,
                }
            })
            .collect(),
    })
}
