//! Search over the library: one normalizer for documents and queries, the
//! query and its translation for each database, ranking, snippets, facets.
//!
//! # Why the databases' own text search is not enough
//!
//! The issue asks for the same ranked results on SQLite and PostgreSQL, in
//! Arabic and English, whatever the spelling. Neither database can do that
//! alone:
//!
//! * PostgreSQL's `arabic` configuration (the Snowball stemmer) stems ى and ي
//!   differently (مستوى and مستوي are two words to it), does not fold ة into
//!   ه, and handles the hamza seats (أ إ آ ؤ ئ) inconsistently — and SQLite
//!   has no Arabic stemmer at all, so whatever it did would differ anyway;
//! * SQLite's `unicode61` tokenizer treats the harakat (Unicode category Mn)
//!   as separators: «مَكتبة» becomes the two tokens «م» and «كتبة»; its
//!   `remove_diacritics` only knows Latin accents. Tatweel (ـ), zero-width
//!   joiners and bidi marks pasted from word processors split or glue words
//!   unpredictably;
//! * the two ranking functions (`bm25()` in FTS5, `ts_rank` in PostgreSQL)
//!   compute different numbers from different statistics.
//!
//! So the text is normalized here, by [`normalize`], into a *search column*
//! of space-separated tokens, and each database only indexes those tokens
//! as they are: FTS5 with the `ascii` tokenizer (which splits on ASCII
//! spaces and punctuation only and keeps every non-ASCII character in its
//! token) and PostgreSQL with `array_to_tsvector(string_to_array(col, ' '))`
//! (lexemes exactly as given: no parser, no dictionary, not even the
//! `simple` configuration's, whose word boundaries depend on the server's
//! locale). Queries go through the same function. The databases then only
//! *find candidates* — every token of the query, the last one as a prefix —
//! which is the same set on both; the *ranking* is computed here ([`rank`])
//! from the candidates' tokens and corpus counts that are plain `COUNT`s, so
//! it is identical by construction.
//!
//! # What the normalizer does
//!
//! Per character (after Unicode compatibility decomposition, NFKD, which
//! also turns Arabic presentation forms copied out of PDFs — ﻣﻜﺘﺒﺔ — and
//! ligatures such as ﻻ back into letters):
//!
//! * removes harakat and every other combining mark (Latin accents too:
//!   «café» is «cafe»), tatweel, zero-width characters and bidi controls;
//! * unifies the alef forms أ إ آ ٱ → ا, ى → ي, ة → ه, and the hamza seats:
//!   ؤ and ئ → ء, and a ي written before a hamza (شيء, the common «شىء»/«شئ»)
//!   folds into it, so مسؤول = مسئول and شيء = شئ;
//! * folds Persian/Kurdish letter forms (ک ی ە ھ) into the Arabic ones and
//!   Arabic-Indic digits (٢٠١٩, ۲۰۱۹) into ASCII digits;
//! * lowercases (Latin, and any script with case);
//! * cuts words at everything that is not a letter or a digit, except
//!   apostrophes inside a word («don't», «center's»), which are dropped.
//!
//! Per word: common stop words are dropped; an Arabic word loses its
//! proclitics (the article ال and its combinations وال بال كال فال لل, and
//! the conjunction و) until none is left, then one pass of common suffixes
//! (ها ان ات ون ين يه ه ي); a Latin word loses its plural and -ing/-ed
//! endings. Stripping is *memoryless* — it depends only on the word in hand —
//! so «و» + w and «ال» + w always end where w ends (the property tests check
//! it). The single-letter prepositions ب ك ل and the conjunction ف are only
//! stripped together with the article: alone they cannot be told from a
//! root letter (كتاب would lose its ك and meet تاب), and stripping them
//! memorylessly would merge far too many words.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Range;

use markaz_kit::error::{FieldViolation, Result, Violations};
use markaz_proto::resources::v1 as api;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use super::items::{FIRST_YEAR, ItemKind, SourceKind, parse_language, parse_topics};
use super::{finish, parse_id};

/// Tokens longer than this are cut (nobody searches for a 200-letter word;
/// a binary blob pasted into a summary must not bloat the index).
pub const TOKEN_MAX_CHARS: usize = 48;
/// A query: at most this many characters and distinct words.
pub const QUERY_MAX_CHARS: usize = 200;
pub const QUERY_MAX_TERMS: usize = 12;
pub const SUGGEST_MAX_CHARS: usize = 100;

// ============================================================ normalizer

/// The search column's text of `text`: its normalized tokens, separated by
/// single spaces (no leading or trailing space). Documents and queries go
/// through this one function.
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    analyze(text, |_, token| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    });
    out
}

/// The words of `text` with their byte range in `text` and their token:
/// what [`normalize`] keeps, and where each token came from (for snippets).
/// Stop words are reported with an empty token.
pub fn words(text: &str) -> Vec<(Range<usize>, String)> {
    let mut out = Vec::new();
    scan(text, |range, folded| {
        out.push((range, token_of(folded).unwrap_or_default()));
    });
    out
}

fn analyze(text: &str, mut emit: impl FnMut(Range<usize>, &str)) {
    scan(text, |range, folded| {
        if let Some(token) = token_of(folded) {
            emit(range, &token);
        }
    });
}

/// Splits `text` into folded words (characters unified, marks removed,
/// lowercased), calling `word` with each one's byte range in `text`.
fn scan(text: &str, mut word: impl FnMut(Range<usize>, &[char])) {
    let mut buf: Vec<char> = Vec::new();
    let mut start: Option<usize> = None;
    let mut end = 0;
    let mut flush = |buf: &mut Vec<char>, start: &mut Option<usize>, end: usize| {
        if let Some(s) = start.take()
            && !buf.is_empty()
        {
            word(s..end, buf);
        }
        buf.clear();
    };
    for (at, c) in text.char_indices() {
        let next = at + c.len_utf8();
        let mut broke = false;
        let mut lettered = false;
        fold_char(c, &mut |f| match f {
            Folded::Letter(l) => {
                if start.is_none() {
                    start = Some(at);
                }
                lettered = true;
                push_letter(&mut buf, l);
            }
            Folded::HamzaMark => {
                // A separately written hamza above/below: on و or ي it makes
                // the seat (ؤ ئ, folded to ء); on an alef it is dropped.
                if let Some(last) = buf.last_mut()
                    && matches!(*last, 'و' | 'ي')
                {
                    *last = 'ء';
                    fold_hamza_after_yeh(&mut buf);
                }
            }
            Folded::Ignore => {}
            // A compatibility form may decompose into letters and
            // separators (⑴ is "(1)"): the word ends after this character.
            Folded::Break => broke = true,
        });
        if lettered || (start.is_some() && !broke) {
            end = next;
        }
        if broke {
            flush(&mut buf, &mut start, end);
        }
    }
    flush(&mut buf, &mut start, end);
}

/// What one decomposed character becomes.
enum Folded {
    Letter(char),
    /// U+0654/U+0655, hamza above or below, written as a mark.
    HamzaMark,
    /// Removed without breaking the word: marks, tatweel, invisible controls.
    Ignore,
    /// Ends the word: spaces, punctuation, symbols.
    Break,
}

fn fold_char(c: char, out: &mut impl FnMut(Folded)) {
    // Seats and alef forms first: decomposition would otherwise turn ؤ into
    // و + hamza mark and lose the difference between a seat and a vowel.
    match c {
        'ؤ' | 'ئ' => return out(Folded::Letter('ء')),
        'أ' | 'إ' | 'آ' | 'ٱ' | '\u{0672}' | '\u{0673}' | '\u{0675}' => {
            return out(Folded::Letter('ا'));
        }
        _ => {}
    }
    decompose_compatible(c, |d| out(fold_decomposed(d)));
}

fn fold_decomposed(d: char) -> Folded {
    match d {
        '\u{0654}' | '\u{0655}' => Folded::HamzaMark,
        // Tatweel, soft hyphen, zero-width space/joiners, LRM/RLM, the
        // Arabic letter mark, bidi embeddings and isolates, word joiner,
        // BOM, combining grapheme joiner.
        '\u{0640}'
        | '\u{00AD}'
        | '\u{200B}'..='\u{200F}'
        | '\u{061C}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{034F}' => Folded::Ignore,
        // An apostrophe joins ("don't", "center's"); at a word's edge it
        // joins nothing.
        '\'' | '\u{2019}' | '\u{02BC}' => Folded::Ignore,
        d if is_combining_mark(d) => Folded::Ignore,
        'ى' | 'ی' | 'ې' => Folded::Letter('ي'),
        'ة' | 'ۃ' | 'ە' | 'ھ' | 'ہ' => Folded::Letter('ه'),
        'ک' | 'ڪ' => Folded::Letter('ك'),
        '٠'..='٩' => Folded::Letter(char::from(b'0' + (d as u32 - 0x0660) as u8)),
        '۰'..='۹' => Folded::Letter(char::from(b'0' + (d as u32 - 0x06F0) as u8)),
        d if d.is_alphanumeric() => Folded::Letter(d),
        _ => Folded::Break,
    }
}

fn push_letter(buf: &mut Vec<char>, l: char) {
    if l.is_uppercase() {
        buf.extend(l.to_lowercase());
    } else {
        buf.push(l);
    }
    if l == 'ء' {
        fold_hamza_after_yeh(buf);
    }
}

/// «يء» → «ء»: شيء and شئ, شاطىء and شاطئ are one word.
fn fold_hamza_after_yeh(buf: &mut Vec<char>) {
    let n = buf.len();
    if n >= 2 && buf[n - 2] == 'ي' && buf[n - 1] == 'ء' {
        buf.remove(n - 2);
    }
}

fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0620}'..='\u{064A}' | '\u{066E}'..='\u{06D3}' | '\u{06FA}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{08A0}'..='\u{08FF}')
}

/// The token of a folded word, or `None` for a stop word.
fn token_of(folded: &[char]) -> Option<String> {
    let stem = if folded.iter().any(|c| is_arabic_letter(*c)) {
        // Stop words are recognized without their proclitics, so that «ال»
        // + w is a stop word exactly when w is (the stripping is memoryless).
        let bare = strip_proclitics(folded);
        if is_stop_word(&bare.iter().collect::<String>()) {
            return None;
        }
        strip_suffixes(bare)
    } else {
        let word: String = folded.iter().take(TOKEN_MAX_CHARS * 2).collect();
        if is_stop_word(&word) {
            return None;
        }
        if folded.iter().all(char::is_ascii_lowercase) {
            stem_english(&word)
        } else {
            word
        }
    };
    let stem: String = stem.chars().take(TOKEN_MAX_CHARS).collect();
    (!stem.is_empty()).then_some(stem)
}

/// Stop words, folded, Arabic ones without their proclitics (التي is «تي»).
/// Deliberately short: a word people search for (علي is also a name) is
/// never one.
const STOP_WORDS: &[&str] = &[
    // Arabic
    "في", "من", "الي", "عن", "مع", "هذا", "هذه", "ذلك", "تلك", "تي", "ذي", "ذين", "ان", "او", "ثم",
    "كل", "ما", "لا", "لم", "لن", "قد", "هو", "هي", "هم", "بين", "حتي", "عند", "اي", "منذ", "ضمن",
    "خلال", "عبر", "لدي", "و", "ف", "ب", "ل", "ك", "يا", // English
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "with", "by", "from", "is",
    "are", "was", "were", "be", "as", "that", "this", "it", "its", "into",
];

fn is_stop_word(word: &str) -> bool {
    if STOP_WORDS.contains(&word) {
        return true;
    }
    // «ومن», «وفي»: the conjunction on a stop word too short to lose it.
    word.strip_prefix(['و', 'ف'])
        .is_some_and(|rest| !rest.is_empty() && STOP_WORDS.contains(&rest))
}

/// The article and its combinations, longest first.
const ARABIC_ARTICLES: &[&str] = &[
    "وبال", "وكال", "فبال", "ولل", "فلل", "وال", "بال", "كال", "فال", "لل", "ال",
];
/// Common suffixes (after ة → ه), each stripped at most once, in this order.
const ARABIC_SUFFIXES: &[&str] = &["ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي"];
/// Letters that must remain after stripping an article, a و, a suffix.
const MIN_AFTER_ARTICLE: usize = 2;
const MIN_AFTER_WAW: usize = 3;
const MIN_AFTER_SUFFIX: usize = 2;

/// Strips articles and the conjunction و until none is left: a function of
/// the word in hand only, so «و» + w continues exactly as w does.
fn strip_proclitics(word: &[char]) -> Vec<char> {
    let mut w: Vec<char> = word.iter().take(TOKEN_MAX_CHARS * 2).copied().collect();
    'proclitics: loop {
        for article in ARABIC_ARTICLES {
            let a: Vec<char> = article.chars().collect();
            if w.starts_with(&a) && w.len() - a.len() >= MIN_AFTER_ARTICLE {
                w.drain(..a.len());
                continue 'proclitics;
            }
        }
        if w.first() == Some(&'و') && w.len() > MIN_AFTER_WAW {
            w.remove(0);
            continue;
        }
        break;
    }
    w
}

fn strip_suffixes(mut w: Vec<char>) -> String {
    for suffix in ARABIC_SUFFIXES {
        let s: Vec<char> = suffix.chars().collect();
        if w.ends_with(&s) && w.len() - s.len() >= MIN_AFTER_SUFFIX {
            w.truncate(w.len() - s.len());
        }
    }
    w.into_iter().collect()
}

fn has_vowel(s: &str) -> bool {
    s.chars().any(|c| "aeiouy".contains(c))
}

/// A light English stemmer: plurals, -ing, -ed, British -isation. Enough for
/// "trainings" = "training" = "trained" = "train", "studies" = "study",
/// "organisations" = "organization".
fn stem_english(word: &str) -> String {
    let mut w = word.to_string();
    if w.len() <= 3 {
        return w;
    }
    if let Some(stem) = w.strip_suffix("ies")
        && stem.len() >= 2
    {
        w = format!("{stem}y");
    } else if w.ends_with("sses")
        || w.ends_with("xes")
        || w.ends_with("ches")
        || w.ends_with("shes")
    {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w.pop();
    }
    for ending in ["ing", "ed"] {
        if let Some(stem) = w.strip_suffix(ending)
            && stem.len() >= 3
            && has_vowel(stem)
        {
            let mut stem = stem.to_string();
            let b = stem.as_bytes();
            let n = b.len();
            if n >= 2 && b[n - 1] == b[n - 2] && !b"aeiouylsz".contains(&b[n - 1]) {
                stem.pop();
            }
            w = stem;
            break;
        }
    }
    if let Some(stem) = w.strip_suffix("isation") {
        w = format!("{stem}ization");
    }
    w
}

// ================================================================ queries

/// One word of a query, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub token: String,
    /// Matches every token that starts with `token` (the word being typed).
    pub prefix: bool,
}

/// A parsed query: every term must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
}

/// Parses a search box's text: at most `max_chars` characters, no control
/// characters, at least one searchable word. Repeated words count once; the
/// last word also matches as a prefix (type-ahead, and a word the user has
/// not finished).
pub fn parse_query(field: &str, text: &str, max_chars: usize) -> Result<Query, FieldViolation> {
    let text = markaz_kit::validate::line(field, text, max_chars, true)?;
    let mut tokens: Vec<String> = Vec::new();
    for token in normalize(&text).split(' ').filter(|t| !t.is_empty()) {
        if !tokens.iter().any(|t| t == token) {
            tokens.push(token.to_string());
        }
    }
    if tokens.is_empty() {
        return Err(FieldViolation::new(
            field,
            "no searchable word (only stop words or punctuation)",
        ));
    }
    if tokens.len() > QUERY_MAX_TERMS {
        return Err(FieldViolation::new(
            field,
            format!("at most {QUERY_MAX_TERMS} distinct words"),
        ));
    }
    let last = tokens.len() - 1;
    Ok(Query {
        terms: tokens
            .into_iter()
            .enumerate()
            .map(|(i, token)| Term {
                token,
                prefix: i == last,
            })
            .collect(),
    })
}

impl Term {
    pub fn matches(&self, token: &str) -> bool {
        if self.prefix {
            token.starts_with(&self.token)
        } else {
            token == self.token
        }
    }
}

/// The query as an FTS5 MATCH expression over the search column: each token
/// a quoted string (so nothing in it is FTS5 syntax), the prefix one starred.
pub fn fts5_match(query: &Query) -> String {
    query
        .terms
        .iter()
        .map(|t| {
            let quoted = format!("\"{}\"", t.token.replace('"', "\"\""));
            if t.prefix {
                format!("{quoted}*")
            } else {
                quoted
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The query as PostgreSQL `tsquery` text, read with a plain cast
/// (`CAST($n AS tsquery)`), which takes quoted lexemes literally: no
/// dictionary runs, exactly like the `array_to_tsvector` side.
pub fn tsquery(query: &Query) -> String {
    query
        .terms
        .iter()
        .map(|t| {
            let quoted = format!("'{}'", t.token.replace('\\', "\\\\").replace('\'', "''"));
            if t.prefix {
                format!("{quoted}:*")
            } else {
                quoted
            }
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

// ================================================================ requests

/// Results per page of a search, by default and at most.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 50;
pub const DEFAULT_SUGGESTIONS: usize = 8;
pub const MAX_SUGGESTIONS: usize = 20;
pub const MAX_FILTER_VALUES: usize = 20;

/// The filters of a search, once valid: each list "any of these", empty
/// for any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub kinds: Vec<ItemKind>,
    pub topic_codes: Vec<String>,
    pub languages: Vec<String>,
    pub source_kinds: Vec<SourceKind>,
    pub source_organization_id: String,
    pub year_from: Option<i32>,
    pub year_until: Option<i32>,
}

/// What a filter looks at in one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filterable<'a> {
    pub kind: ItemKind,
    pub topic_codes: &'a [String],
    pub language: &'a str,
    pub source_kind: SourceKind,
    pub source_organization_id: &'a str,
    pub year: Option<i32>,
}

impl Filters {
    /// Whether an item passes every filter: the one rule, whether the store
    /// applies it in SQL or over candidates.
    pub fn admits(&self, item: &Filterable<'_>) -> bool {
        let any = |empty: bool, hit: bool| empty || hit;
        any(self.kinds.is_empty(), self.kinds.contains(&item.kind))
            && any(
                self.topic_codes.is_empty(),
                item.topic_codes
                    .iter()
                    .any(|t| self.topic_codes.contains(t)),
            )
            && any(
                self.languages.is_empty(),
                self.languages.iter().any(|l| l == item.language),
            )
            && any(
                self.source_kinds.is_empty(),
                self.source_kinds.contains(&item.source_kind),
            )
            && any(
                self.source_organization_id.is_empty(),
                self.source_organization_id == item.source_organization_id,
            )
            && self
                .year_from
                .is_none_or(|y| item.year.is_some_and(|iy| iy >= y))
            && self
                .year_until
                .is_none_or(|y| item.year.is_some_and(|iy| iy <= y))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    pub query: Query,
    pub filters: Filters,
    pub page_size: usize,
}

fn enum_list<E: TryFrom<i32> + PartialEq>(
    v: &mut Violations,
    field: &str,
    values: &[i32],
) -> Option<Vec<E>> {
    if values.len() > MAX_FILTER_VALUES {
        v.add(field, format!("at most {MAX_FILTER_VALUES}"));
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, x) in values.iter().enumerate() {
        match markaz_kit::validate::enumeration::<E>(&format!("{field}[{i}]"), *x, true) {
            Ok(Some(e)) if !out.contains(&e) => out.push(e),
            Ok(_) => {}
            Err(e) => {
                v.take::<()>(Err(e));
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn year(v: &mut Violations, field: &str, value: i32) -> Option<Option<i32>> {
    match value {
        0 => Some(None),
        y if (FIRST_YEAR..=2200).contains(&y) => Some(Some(y)),
        _ => {
            v.add(field, format!("0 (any) or a year from {FIRST_YEAR}"));
            None
        }
    }
}

/// Parses a search: the query, every filter, the page size.
pub fn parse_search(prefix: &str, r: &api::SearchItemsRequest) -> Result<SearchRequest> {
    let f = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let mut v = Violations::new();
    let query = v.take(parse_query(&f("query"), &r.query, QUERY_MAX_CHARS));
    let empty = api::SearchFilters::default();
    let filters = r.filters.as_ref().unwrap_or(&empty);
    let kinds = enum_list::<ItemKind>(&mut v, &f("filters.kinds"), &filters.kinds);
    let topic_codes = v.take_many(parse_topics(
        &f("filters.topic_codes"),
        &filters.topic_codes,
    ));
    let mut languages = Some(Vec::new());
    for (i, l) in filters.languages.iter().enumerate() {
        match parse_language(&format!("{}[{i}]", f("filters.languages")), l) {
            Ok(l) => {
                if let Some(list) = languages.as_mut()
                    && !list.contains(&l)
                {
                    list.push(l);
                }
            }
            Err(e) => {
                v.take::<()>(Err(e));
                languages = None;
            }
        }
    }
    let source_kinds =
        enum_list::<SourceKind>(&mut v, &f("filters.source_kinds"), &filters.source_kinds);
    let source_organization_id = v.take(parse_id(
        &f("filters.source_organization_id"),
        &filters.source_organization_id,
        false,
    ));
    let year_from = year(&mut v, &f("filters.year_from"), filters.year_from);
    let year_until = year(&mut v, &f("filters.year_until"), filters.year_until);
    if let (Some(Some(a)), Some(Some(b))) = (year_from, year_until)
        && b < a
    {
        v.add(f("filters.year_until"), "before year_from");
    }
    let page_size = match r.page_size {
        0 => Some(DEFAULT_PAGE),
        n if n < 0 => {
            v.add(f("page_size"), "not negative");
            None
        }
        n => Some((n as usize).min(MAX_PAGE)),
    };
    finish(v, || {
        Some(SearchRequest {
            query: query?,
            filters: Filters {
                kinds: kinds?,
                topic_codes: topic_codes?,
                languages: languages?,
                source_kinds: source_kinds?,
                source_organization_id: source_organization_id?,
                year_from: year_from?,
                year_until: year_until?,
            },
            page_size: page_size?,
        })
    })
}

/// Parses a type-ahead request: what was typed (every word, the last as a
/// prefix) and how many suggestions.
pub fn parse_suggest(r: &api::SuggestItemsRequest) -> Result<(Query, usize)> {
    let mut v = Violations::new();
    let query = v.take(parse_query("prefix", &r.prefix, SUGGEST_MAX_CHARS));
    let max = match r.max_results {
        0 => Some(DEFAULT_SUGGESTIONS),
        n if n < 0 => {
            v.add("max_results", "not negative");
            None
        }
        n => Some((n as usize).min(MAX_SUGGESTIONS)),
    };
    finish(v, || Some((query?, max?)))
}

// ================================================================ ranking

/// The fields of an item that search reads, with their weight in the score:
/// a word in the title counts three times one in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Title,
    Authors,
    Topics,
    Summary,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Title, Field::Authors, Field::Topics, Field::Summary];

    pub fn weight(self) -> f64 {
        match self {
            Field::Title => 3.0,
            Field::Authors => 2.0,
            Field::Topics => 2.0,
            Field::Summary => 1.0,
        }
    }

    /// A typical length in tokens, which the length normalization compares
    /// to: fixed, so a score never depends on which other items exist.
    fn typical_tokens(self) -> f64 {
        match self {
            Field::Title => 8.0,
            Field::Authors => 4.0,
            Field::Topics => 3.0,
            Field::Summary => 120.0,
        }
    }
}

/// A candidate the database found: its id, ordering keys for ties, and the
/// normalized text of each field (the same columns on both databases).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    /// Microseconds; newer first among equal scores.
    pub publish_time: i64,
    pub title: String,
    pub authors: String,
    pub topics: String,
    pub summary: String,
}

impl Candidate {
    fn field(&self, f: Field) -> &str {
        match f {
            Field::Title => &self.title,
            Field::Authors => &self.authors,
            Field::Topics => &self.topics,
            Field::Summary => &self.summary,
        }
    }
}

/// Counts over the items the caller may see: how many there are, and how
/// many contain each term (in the query's order). Plain `COUNT`s, equal on
/// both databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusCounts {
    pub documents: u64,
    pub containing: Vec<u64>,
}

/// BM25F's saturation and length normalization.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Candidates in rank order with their score: BM25F over the weighted
/// fields, IDF from `counts`; ties by newer publication, then id, so the
/// order is total and the same on every backend.
pub fn rank(
    query: &Query,
    candidates: Vec<Candidate>,
    counts: &CorpusCounts,
) -> Vec<(Candidate, f64)> {
    let n = counts.documents.max(1) as f64;
    let idf: Vec<f64> = query
        .terms
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let df = counts.containing.get(i).copied().unwrap_or(0) as f64;
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        })
        .collect();
    let mut scored: Vec<(Candidate, f64)> = candidates
        .into_iter()
        .map(|c| {
            let mut score = 0.0;
            for (term, idf) in query.terms.iter().zip(&idf) {
                let mut tf = 0.0;
                for f in Field::ALL {
                    let tokens: Vec<&str> =
                        c.field(f).split(' ').filter(|t| !t.is_empty()).collect();
                    let hits = tokens.iter().filter(|t| term.matches(t)).count() as f64;
                    if hits > 0.0 {
                        let norm = 1.0 - B + B * tokens.len() as f64 / f.typical_tokens();
                        tf += f.weight() * hits / norm;
                    }
                }
                score += idf * tf * (K1 + 1.0) / (tf + K1);
            }
            // Rounded so that a score shown and a score compared are one.
            let score = (score * 1e6).round() / 1e6;
            (c, score)
        })
        .collect();
    scored.sort_by(|(a, sa), (b, sb)| {
        sb.partial_cmp(sa)
            .unwrap_or(Ordering::Equal)
            .then(b.publish_time.cmp(&a.publish_time))
            .then(a.id.cmp(&b.id))
    });
    scored
}

// =============================================================== snippets

/// A piece of an excerpt: the text as stored, and whether it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub matched: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    pub segments: Vec<Segment>,
    pub truncated_start: bool,
    pub truncated_end: bool,
}

/// The excerpt of `text` (a field as stored) around the query's matches:
/// the whole text when it has at most `window` words, else `window` words
/// starting a little before the first match. `None` when nothing matched.
/// The segments rebuild the excerpt byte for byte.
pub fn excerpt(text: &str, query: &Query, window: usize) -> Option<Excerpt> {
    let words = words(text);
    let hit = |token: &str| !token.is_empty() && query.terms.iter().any(|t| t.matches(token));
    let first = words.iter().position(|(_, t)| hit(t))?;
    let window = window.max(1);
    let (from, to) = if words.len() <= window {
        (0, words.len())
    } else {
        let from = first.saturating_sub(window / 4).min(words.len() - window);
        (from, from + window)
    };
    let start = if from == 0 { 0 } else { words[from].0.start };
    let end = if to == words.len() {
        text.len()
    } else {
        words[to - 1].0.end
    };
    let mut segments: Vec<Segment> = Vec::new();
    let mut at = start;
    let push = |segments: &mut Vec<Segment>, piece: &str, matched: bool| {
        if piece.is_empty() {
            return;
        }
        match segments.last_mut() {
            Some(last) if last.matched == matched && !matched => last.text.push_str(piece),
            _ => segments.push(Segment {
                text: piece.to_string(),
                matched,
            }),
        }
    };
    for (range, token) in &words[from..to] {
        push(&mut segments, &text[at..range.start], false);
        push(&mut segments, &text[range.clone()], hit(token));
        at = range.end;
    }
    push(&mut segments, &text[at..end], false);
    Some(Excerpt {
        segments,
        truncated_start: start > 0,
        truncated_end: end < text.len(),
    })
}

// ================================================================= facets

/// What a facet counts of one matching item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetKeys {
    pub kind: String,
    pub topics: Vec<String>,
    pub language: String,
    pub year: Option<i32>,
    pub source_kind: String,
}

/// Counts of each value over every match, most frequent first, then by
/// value (years newest first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FacetCounts {
    pub kinds: Vec<(String, u32)>,
    pub topics: Vec<(String, u32)>,
    pub languages: Vec<(String, u32)>,
    pub years: Vec<(String, u32)>,
    pub source_kinds: Vec<(String, u32)>,
}

pub fn facets<'a>(matches: impl IntoIterator<Item = &'a FacetKeys>) -> FacetCounts {
    let mut kinds = BTreeMap::new();
    let mut topics = BTreeMap::new();
    let mut languages = BTreeMap::new();
    let mut years = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for m in matches {
        *kinds.entry(m.kind.clone()).or_insert(0) += 1;
        for t in &m.topics {
            *topics.entry(t.clone()).or_insert(0) += 1;
        }
        if !m.language.is_empty() {
            *languages.entry(m.language.clone()).or_insert(0) += 1;
        }
        if let Some(y) = m.year {
            *years.entry(y).or_insert(0) += 1;
        }
        *sources.entry(m.source_kind.clone()).or_insert(0) += 1;
    }
    let ordered = |map: BTreeMap<String, u32>| {
        let mut v: Vec<(String, u32)> = map.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let mut years: Vec<(i32, u32)> = years.into_iter().collect();
    years.sort_by_key(|y| std::cmp::Reverse(y.0));
    FacetCounts {
        kinds: ordered(kinds),
        topics: ordered(topics),
        languages: ordered(languages),
        years: years.into_iter().map(|(y, n)| (y.to_string(), n)).collect(),
        source_kinds: ordered(sources),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> String {
        normalize(s)
    }

    #[test]
    fn diacritics_tatweel_and_invisible_characters_are_removed() {
        assert_eq!(n("مَكْتَبَةٌ"), n("مكتبة"));
        assert_eq!(n("مكـــتبة"), n("مكتبة"));
        assert_eq!(n("مكت\u{200C}بة"), n("مكتبة"));
        assert_eq!(n("\u{202B}مكتبة\u{202C}"), n("مكتبة"));
        assert_eq!(n("\u{FEFF}مكتبة\u{200F}"), n("مكتبة"));
        // The harakat never split a word, as unicode61 would.
        assert_eq!(n("مَكتبة").split(' ').count(), 1);
        assert_eq!(n("Café RÉSUMÉ"), "cafe resume");
    }

    #[test]
    fn letter_variants_are_unified() {
        assert_eq!(n("أحمد"), n("احمد"));
        assert_eq!(n("إدارة"), n("ادارة"));
        assert_eq!(n("آلية"), n("الية"));
        assert_eq!(n("ٱلمنظمة"), n("المنظمة"));
        assert_eq!(n("مستوى"), n("مستوي"));
        assert_eq!(n("مدرسة"), n("مدرسه"));
        assert_eq!(n("مسؤول"), n("مسئول"));
        assert_eq!(n("مسؤول"), n("مسءول"));
        assert_eq!(n("شيء"), n("شئ"));
        assert_eq!(n("شاطئ"), n("شاطىء"));
        // A hamza written as a separate mark above its seat.
        assert_eq!(n("مسو\u{0654}ول"), n("مسؤول"));
        assert_eq!(n("ا\u{0654}حمد"), n("أحمد"));
        // Persian and Kurdish forms, presentation forms from PDFs.
        assert_eq!(n("کتاب"), n("كتاب"));
        assert_eq!(n("ﻣﻜﺘﺒﺔ"), n("مكتبة"));
        assert_eq!(n("ﻻجئ"), n("لاجئ"));
    }

    #[test]
    fn digits_fold_to_ascii() {
        assert_eq!(n("تقرير ٢٠١٩"), n("تقرير 2019"));
        assert_eq!(n("۲۰۱۹"), "2019");
    }

    #[test]
    fn arabic_prefixes_and_suffixes_are_stripped() {
        let stem = n("مكتبة");
        for v in [
            "المكتبة",
            "والمكتبة",
            "بالمكتبة",
            "للمكتبة",
            "فالمكتبة",
            "كالمكتبة",
            "المكتبات",
            "ومكتبة",
        ] {
            assert_eq!(n(v), stem, "{v}");
        }
        for v in ["منظمات", "المنظمات", "للمنظمات", "والمنظمة", "منظمة"]
        {
            assert_eq!(n(v), n("منظم"), "{v}");
        }
        assert_eq!(n("الوزارة"), n("وزارة"));
        assert_eq!(n("والوزارة"), n("وزارة"));
        assert_eq!(n("حقوقية"), n("حقوق"));
        // A word too short to lose a letter keeps it.
        assert_eq!(n("ولد"), "ولد");
        assert_eq!(n("وطن"), "وطن");
    }

    #[test]
    fn stop_words_are_dropped_and_names_kept() {
        assert_eq!(n("في المكتبة من الكتب"), n("مكتبة كتب"));
        assert_eq!(n("ومن"), "");
        // علي (the name, and the preposition على) is searchable.
        assert!(!n("علي").is_empty());
        assert_eq!(n("على"), n("علي"));
        assert_eq!(n("the rights of women"), "right women");
    }

    #[test]
    fn english_is_lowercased_and_lightly_stemmed() {
        assert_eq!(n("Trainings"), n("training"));
        assert_eq!(n("trained"), n("train"));
        assert_eq!(n("planning"), n("plan"));
        assert_eq!(n("Studies"), n("study"));
        assert_eq!(n("Organisations"), n("organization"));
        assert_eq!(n("mobilisation"), n("Mobilization"));
        assert_eq!(n("the center's"), n("centers"));
        assert_eq!(n("classes boxes churches"), "class box church");
        assert_eq!(n("bus status"), "bus status");
    }

    #[test]
    fn words_are_cut_at_punctuation_and_keep_their_place() {
        assert_eq!(n("حقوق،المرأة؛ (2019)"), n("حقوق المرأة 2019"));
        let text = "دليل «المناصرة» للمنظمات";
        let w = words(text);
        assert_eq!(w.len(), 3);
        assert_eq!(&text[w[1].0.clone()], "المناصرة");
        assert_eq!(w[2].1, n("منظمات"));
    }

    #[test]
    fn overlong_tokens_are_cut() {
        let long = "م".repeat(500);
        assert_eq!(n(&long).chars().count(), TOKEN_MAX_CHARS);
    }

    #[test]
    fn queries_need_a_word_and_the_last_is_a_prefix() {
        let q = parse_query("query", "حقوق المرأ", 200).unwrap();
        assert_eq!(q.terms.len(), 2);
        assert!(!q.terms[0].prefix && q.terms[1].prefix);
        assert!(parse_query("query", "  ", 200).is_err());
        assert!(parse_query("query", "في من", 200).is_err());
        assert!(parse_query("query", "a\u{0}b", 200).is_err());
        assert!(parse_query("query", &"x".repeat(201), 200).is_err());
        let many: String = (0..13).map(|i| format!("word{i} ")).collect();
        assert!(parse_query("query", &many, 200).is_err());
        let dup = parse_query("query", "مكتبة المكتبة", 200).unwrap();
        assert_eq!(dup.terms.len(), 1);
    }

    #[test]
    fn database_queries_quote_every_token() {
        let q = Query {
            terms: vec![
                Term {
                    token: "a\"b".into(),
                    prefix: false,
                },
                Term {
                    token: "o'c".into(),
                    prefix: true,
                },
            ],
        };
        assert_eq!(fts5_match(&q), "\"a\"\"b\" AND \"o'c\"*");
        assert_eq!(tsquery(&q), "'a\"b' & 'o''c':*");
    }

    #[test]
    fn search_requests_report_every_bad_filter() {
        let bad = api::SearchItemsRequest {
            query: "  ".into(),
            filters: Some(api::SearchFilters {
                kinds: vec![ItemKind::Study as i32, 99],
                topic_codes: vec!["Not A Slug".into()],
                languages: vec!["Arabic".into()],
                source_kinds: vec![0],
                source_organization_id: "x y".into(),
                year_from: 2021,
                year_until: 2019,
            }),
            page_size: -1,
            page_token: String::new(),
        };
        let Err(markaz_kit::Error::InvalidArgument(v)) = parse_search("", &bad) else {
            panic!()
        };
        let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "query",
                "filters.kinds[1]",
                "filters.topic_codes[0]",
                "filters.languages[0]",
                "filters.source_kinds[0]",
                "filters.source_organization_id",
                "filters.year_until",
                "page_size",
            ]
        );
        let ok = api::SearchItemsRequest {
            query: "دليل".into(),
            page_size: 500,
            ..Default::default()
        };
        let parsed = parse_search("search", &ok).unwrap();
        assert_eq!(parsed.page_size, MAX_PAGE);
        assert_eq!(parsed.filters, Filters::default());
        let (q, max) = parse_suggest(&api::SuggestItemsRequest {
            prefix: "المكت".into(),
            max_results: 0,
        })
        .unwrap();
        assert_eq!(
            (q.terms[0].token.as_str(), q.terms[0].prefix, max),
            ("مكت", true, DEFAULT_SUGGESTIONS)
        );
    }

    #[test]
    fn filters_admit_what_matches_every_one() {
        let topics = vec!["health".to_string(), "advocacy".to_string()];
        let item = Filterable {
            kind: ItemKind::Study,
            topic_codes: &topics,
            language: "ar",
            source_kind: SourceKind::Partner,
            source_organization_id: "org-1",
            year: Some(2019),
        };
        assert!(Filters::default().admits(&item));
        let f = |edit: &dyn Fn(&mut Filters)| {
            let mut f = Filters::default();
            edit(&mut f);
            f.admits(&item)
        };
        assert!(f(&|f| f.kinds = vec![ItemKind::Video, ItemKind::Study]));
        assert!(!f(&|f| f.kinds = vec![ItemKind::Video]));
        assert!(f(&|f| f.topic_codes = vec!["advocacy".into()]));
        assert!(!f(&|f| f.topic_codes = vec!["water".into()]));
        assert!(!f(&|f| f.languages = vec!["en".into()]));
        assert!(!f(&|f| f.source_kinds = vec![SourceKind::Donor]));
        assert!(!f(&|f| f.source_organization_id = "org-2".into()));
        assert!(f(&|f| f.year_from = Some(2019)));
        assert!(!f(&|f| f.year_from = Some(2020)));
        assert!(!f(&|f| f.year_until = Some(2018)));
        let undated = Filterable {
            year: None,
            ..item.clone()
        };
        assert!(
            !Filters {
                year_from: Some(2000),
                ..Filters::default()
            }
            .admits(&undated)
        );
    }

    fn candidate(id: &str, time: i64, title: &str, summary: &str) -> Candidate {
        Candidate {
            id: id.into(),
            publish_time: time,
            title: n(title),
            authors: String::new(),
            topics: String::new(),
            summary: n(summary),
        }
    }

    #[test]
    fn title_matches_rank_above_summary_matches_and_ties_are_total() {
        let q = parse_query("q", "المناصرة", 200).unwrap();
        let counts = CorpusCounts {
            documents: 10,
            containing: vec![3],
        };
        let ranked = rank(
            &q,
            vec![
                candidate("c", 5, "تقرير", "دليل المناصرة للمنظمات"),
                candidate("a", 1, "دليل المناصرة", "نص"),
                candidate("b", 2, "دليل المناصرة", "نص"),
            ],
            &counts,
        );
        let ids: Vec<&str> = ranked.iter().map(|(c, _)| c.id.as_str()).collect();
        // Equal titles: the newer first; the summary-only match last.
        assert_eq!(ids, ["b", "a", "c"]);
        assert!(ranked[0].1 > ranked[2].1);
        assert_eq!(ranked[0].1, ranked[1].1);
    }

    #[test]
    fn rarer_terms_weigh_more() {
        let q = parse_query("q", "منظمات ثلاسيميا", 200).unwrap();
        let counts = CorpusCounts {
            documents: 100,
            containing: vec![90, 2],
        };
        let ranked = rank(
            &q,
            vec![
                candidate("many-common", 0, "منظمات منظمات منظمات", "ثلاسيميا"),
                candidate("rare-in-title", 0, "ثلاسيميا", "منظمات"),
            ],
            &counts,
        );
        assert_eq!(ranked[0].0.id, "rare-in-title");
    }

    #[test]
    fn excerpts_mark_matches_and_rebuild_the_text() {
        let q = parse_query("q", "مكتبة", 200).unwrap();
        let text = "زوروا المَكتبة والمكتبات الرقمية";
        let e = excerpt(text, &q, 30).unwrap();
        let rebuilt: String = e.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(rebuilt, text);
        let matched: Vec<&str> = e
            .segments
            .iter()
            .filter(|s| s.matched)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(matched, ["المَكتبة", "والمكتبات"]);
        assert!(!e.truncated_start && !e.truncated_end);
        assert!(excerpt("لا شيء هنا", &q, 30).is_none());

        let long: String =
            (0..100).map(|i| format!("كلمة{i} ")).collect::<String>() + "مكتبة" + " ذيل";
        let e = excerpt(&long, &q, 10).unwrap();
        assert!(e.truncated_start && !e.truncated_end);
        assert!(e.segments.iter().any(|s| s.matched && s.text == "مكتبة"));
    }

    #[test]
    fn facets_count_every_match() {
        let keys = [
            FacetKeys {
                kind: "ITEM_KIND_STUDY".into(),
                topics: vec!["advocacy".into(), "gender".into()],
                language: "ar".into(),
                year: Some(2019),
                source_kind: "SOURCE_KIND_CENTER".into(),
            },
            FacetKeys {
                kind: "ITEM_KIND_STUDY".into(),
                topics: vec!["advocacy".into()],
                language: "en".into(),
                year: Some(2021),
                source_kind: "SOURCE_KIND_PARTNER".into(),
            },
        ];
        let f = facets(&keys);
        assert_eq!(f.kinds, [("ITEM_KIND_STUDY".to_string(), 2)]);
        assert_eq!(f.topics[0], ("advocacy".to_string(), 2));
        assert_eq!(f.years[0].0, "2021");
        assert_eq!(f.languages.len(), 2);
    }

    // ------------------------------------------------------------ properties

    /// Arabic letters a word is made of (no marks, no variants).
    fn arabic_word(min: usize, max: usize) -> impl Strategy<Value = String> {
        let letters: Vec<char> = "بتثجحخدذرزسشصضطظعغفقكلمنهويا".chars().collect();
        prop::collection::vec(prop::sample::select(letters), min..=max)
            .prop_map(|v| v.into_iter().collect())
    }

    /// Spellings of `word`: harakat sprinkled in, tatweel, invisible marks,
    /// and letter variants swapped for their other forms.
    fn spelling_of(word: String) -> impl Strategy<Value = String> {
        let marks: Vec<char> = "\u{064B}\u{064C}\u{064D}\u{064E}\u{064F}\u{0650}\u{0651}\u{0652}\u{0640}\u{200C}\u{200F}".chars().collect();
        let n = word.chars().count();
        (
            prop::collection::vec(prop::option::of(prop::sample::select(marks)), n),
            prop::collection::vec(any::<bool>(), n),
        )
            .prop_map(move |(marks, swap)| {
                let mut out = String::new();
                for (i, c) in word.chars().enumerate() {
                    let c = match (c, swap[i]) {
                        ('ا', true) if i > 0 => 'أ',
                        ('ي', true) if i + 1 == n => 'ى',
                        ('ه', true) if i + 1 == n => 'ة',
                        (c, _) => c,
                    };
                    out.push(c);
                    if let Some(m) = marks[i]
                        && i + 1 < n
                    {
                        out.push(m);
                    }
                }
                out
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn spelling_variants_of_a_word_normalize_alike(
            (word, variant) in arabic_word(1, 10).prop_flat_map(|w| (Just(w.clone()), spelling_of(w)))
        ) {
            prop_assert_eq!(normalize(&variant), normalize(&word));
        }

        #[test]
        fn the_article_and_the_conjunction_change_nothing(word in arabic_word(3, 10)) {
            let base = normalize(&word);
            prop_assert_eq!(normalize(&format!("ال{word}")), base.clone());
            prop_assert_eq!(normalize(&format!("و{word}")), base.clone());
            prop_assert_eq!(normalize(&format!("وال{word}")), base.clone());
            prop_assert_eq!(normalize(&format!("بال{word}")), base.clone());
        }

        #[test]
        fn normalizing_never_panics_and_yields_clean_tokens(text in any::<String>()) {
            let once = normalize(&text);
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
            // Only letters and digits: neither FTS5 nor tsquery syntax can
            // hide in a token.
            prop_assert!(once.chars().all(|c| c == ' ' || c.is_alphanumeric()));
            let _ = words(&text);
        }

        #[test]
        fn arbitrary_arabic_text_never_panics(text in "[\\u0600-\\u06FF\\u0750-\\u077F\\uFB50-\\uFDFF\\uFE70-\\uFEFF \\u200B-\\u200F]{0,64}") {
            let _ = normalize(&text);
            for (range, _) in words(&text) {
                prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
            }
        }

        #[test]
        fn excerpts_always_rebuild_their_span(text in "[\\u0621-\\u064A\\u064B-\\u0652 a-z]{0,200}", q in arabic_word(2, 4)) {
            if let Ok(query) = parse_query("q", &q, 200)
                && let Some(e) = excerpt(&text, &query, 8)
            {
                let rebuilt: String = e.segments.iter().map(|s| s.text.as_str()).collect();
                prop_assert!(text.contains(&rebuilt));
            }
        }
    }
}
