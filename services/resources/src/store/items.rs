//! Library items and their topics, and the visibility filter every read of
//! items shares (get, list, search, files, usage).

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::LocalizedText;
use sqlx::AssertSqlSafe;

use super::{flag, names_in, versioned};
use crate::domain::items::{
    ItemFields, ItemKind, ItemState, Licence, Reader, ReaderClass, SourceKind, Visibility,
    readable_visibilities, search_columns, search_columns_of,
};

/// An item as stored, with what its reads add up (files, usage).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub tenant_id: String,
    pub id: String,
    pub kind: ItemKind,
    pub title: LocalizedText,
    pub summary: LocalizedText,
    pub authors: Vec<String>,
    pub topic_codes: Vec<String>,
    pub language: String,
    pub source_kind: SourceKind,
    pub source_organization_id: String,
    pub source_name: String,
    /// `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or "".
    pub publication_date: String,
    pub publication_year: i64,
    pub licence: Licence,
    pub licence_note: String,
    pub visibility: Visibility,
    pub external_url: String,
    pub state: ItemState,
    pub contribution: bool,
    pub contributor_organization_id: String,
    pub state_note: String,
    pub created_by: String,
    pub first_published_at: Option<i64>,
    pub published_at: Option<i64>,
    pub search_title: String,
    pub search_authors: String,
    pub search_topics: String,
    pub search_summary: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Files with a version not withdrawn.
    pub file_count: i64,
    pub views: i64,
    pub downloads: i64,
}

impl Item {
    pub fn access(&self) -> crate::domain::items::ItemAccess {
        crate::domain::items::ItemAccess {
            tenant: self.tenant_id.clone(),
            visibility: self.visibility,
            state: self.state,
            contributor: self
                .contribution
                .then(|| self.contributor_organization_id.clone()),
        }
    }
}

/// The columns of [`StoredItem`], on the table aliased `i`, with the
/// counts of its files and usage.
pub(crate) const ITEM_COLUMNS: &str = "i.tenant_id, i.id, i.kind, i.title_ar, i.title_en, \
    i.summary_ar, i.summary_en, i.authors, i.language, i.source_kind, i.source_organization_id, \
    i.source_name, i.publication_date, i.publication_year, i.licence, i.licence_note, \
    i.visibility, i.external_url, i.state, i.contribution, i.contributor_organization_id, \
    i.state_note, i.created_by, i.first_published_at, i.published_at, i.search_title, \
    i.search_authors, i.search_topics, i.search_summary, i.version, i.created_at, i.updated_at, \
    (SELECT COUNT(*) FROM item_files f WHERE f.tenant_id = i.tenant_id AND f.item_id = i.id \
        AND EXISTS (SELECT 1 FROM file_versions v WHERE v.tenant_id = f.tenant_id \
            AND v.file_id = f.id AND v.withdrawn = 0)) AS file_count, \
    (SELECT CAST(COALESCE(SUM(u.views), 0) AS BIGINT) FROM item_usage u \
        WHERE u.item_tenant_id = i.tenant_id AND u.item_id = i.id) AS views, \
    (SELECT CAST(COALESCE(SUM(u.downloads), 0) AS BIGINT) FROM item_usage u \
        WHERE u.item_tenant_id = i.tenant_id AND u.item_id = i.id) AS downloads";

#[derive(sqlx::FromRow)]
pub(crate) struct StoredItem {
    tenant_id: String,
    id: String,
    kind: String,
    title_ar: String,
    title_en: String,
    summary_ar: String,
    summary_en: String,
    authors: String,
    language: String,
    source_kind: String,
    source_organization_id: String,
    source_name: String,
    publication_date: String,
    publication_year: i64,
    licence: String,
    licence_note: String,
    visibility: String,
    external_url: String,
    state: String,
    contribution: i64,
    contributor_organization_id: String,
    state_note: String,
    created_by: String,
    first_published_at: Option<i64>,
    published_at: Option<i64>,
    search_title: String,
    search_authors: String,
    search_topics: String,
    search_summary: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
    file_count: i64,
    views: i64,
    downloads: i64,
}

impl TryFrom<StoredItem> for Item {
    type Error = Error;
    fn try_from(r: StoredItem) -> Result<Item> {
        Ok(Item {
            kind: stored(&r.kind, ItemKind::from_str_name)?,
            source_kind: stored(&r.source_kind, SourceKind::from_str_name)?,
            licence: stored(&r.licence, Licence::from_str_name)?,
            visibility: stored(&r.visibility, Visibility::from_str_name)?,
            state: stored(&r.state, ItemState::from_str_name)?,
            tenant_id: r.tenant_id,
            id: r.id,
            title: LocalizedText {
                ar: r.title_ar,
                en: r.title_en,
            },
            summary: LocalizedText {
                ar: r.summary_ar,
                en: r.summary_en,
            },
            authors: r
                .authors
                .split('\n')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
            topic_codes: Vec::new(),
            language: r.language,
            source_organization_id: r.source_organization_id,
            source_name: r.source_name,
            publication_date: r.publication_date,
            publication_year: r.publication_year,
            licence_note: r.licence_note,
            external_url: r.external_url,
            contribution: r.contribution != 0,
            contributor_organization_id: r.contributor_organization_id,
            state_note: r.state_note,
            created_by: r.created_by,
            first_published_at: r.first_published_at,
            published_at: r.published_at,
            search_title: r.search_title,
            search_authors: r.search_authors,
            search_topics: r.search_topics,
            search_summary: r.search_summary,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            file_count: r.file_count,
            views: r.views,
            downloads: r.downloads,
        })
    }
}

// ------------------------------------------------------------- visibility

/// Which items a reader may see, as SQL over the table aliased `i`, with
/// `$1` the transaction's tenant (the reader's, or for the public the
/// center asked for) and `$2` the reader's partner organization ("" for
/// none). The same rule as [`crate::domain::items::may_read`]: the tenant's
/// staff every item of it; a contributing partner its own contributions in
/// every state; everyone else published items whose visibility admits them
/// — another tenant's only when public or consortium.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The reader's class towards its own tenant's items.
    own: ReaderClass,
    /// Whether other tenants' public and consortium items are included.
    others: bool,
    /// The partner organization whose contributions are its own.
    pub organization: String,
    /// Published items only (search, the public catalogue).
    published_only: bool,
}

impl Scope {
    /// The scope of an authenticated reader of its own tenant.
    pub fn of(reader: &Reader) -> Scope {
        let tenant = reader.tenant.clone().unwrap_or_default();
        let own = reader.class_for(&tenant);
        let organization = if reader.roles.contains(&markaz_kit::auth::Role::Partner) {
            reader.organization.clone().unwrap_or_default()
        } else {
            String::new()
        };
        Scope {
            own,
            others: reader.tenant.is_some(),
            organization,
            published_only: false,
        }
    }

    /// The public's scope over one center (and, when `consortium`, every
    /// other center's public items).
    pub fn public(consortium: bool) -> Scope {
        Scope {
            own: ReaderClass::Public,
            others: consortium,
            organization: String::new(),
            published_only: true,
        }
    }

    /// Published items only, even for staff and contributors (search).
    pub fn published_only(mut self) -> Scope {
        self.published_only = true;
        self.organization = String::new();
        self
    }

    /// The condition, over `i`.
    pub fn sql(&self) -> String {
        let published = "i.state = 'ITEM_STATE_PUBLISHED'";
        let own_visible = names_in(&readable_visibilities(self.own), |v| v.as_str_name());
        let staff = self.own == ReaderClass::Staff;
        let mut own = format!("({published} AND i.visibility IN ({own_visible}))");
        if staff && !self.published_only {
            own = "1 = 1".to_string();
        } else if staff {
            own = published.to_string();
        }
        // `$2` is always named (PostgreSQL cannot type a parameter a
        // statement never uses); "" matches no contribution.
        let contributions =
            "($2 <> '' AND i.contribution = 1 AND i.contributor_organization_id = $2)";
        let other_class = if self.own == ReaderClass::Public {
            ReaderClass::Public
        } else {
            ReaderClass::Consortium
        };
        let others = if self.others {
            format!(
                "(i.tenant_id <> $1 AND {published} AND i.visibility IN ({}))",
                names_in(&readable_visibilities(other_class), |v| v.as_str_name())
            )
        } else {
            "1 = 0".to_string()
        };
        format!("((i.tenant_id = $1 AND ({own} OR {contributions})) OR {others})")
    }
}

// ------------------------------------------------------------------ reads

/// Fills in the topic codes of `items` in one statement.
pub(crate) async fn with_topics(tx: &mut Tx, mut items: Vec<Item>) -> Result<Vec<Item>> {
    #[derive(sqlx::FromRow)]
    struct TopicRow {
        tenant_id: String,
        item_id: String,
        topic_code: String,
    }
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    // `$1` is bound but unused: topics of other tenants' items are read too.
    let rows: Vec<TopicRow> = tx
        .rows_for_ids(
            "SELECT tenant_id, item_id, topic_code FROM item_topics
         WHERE ($1 = $1) AND item_id IN ({ids}) ORDER BY position",
            &ids,
        )
        .await?;
    let mut by_item: HashMap<(String, String), Vec<String>> = HashMap::new();
    for r in rows {
        by_item
            .entry((r.tenant_id, r.item_id))
            .or_default()
            .push(r.topic_code);
    }
    for item in &mut items {
        item.topic_codes = by_item
            .remove(&(item.tenant_id.clone(), item.id.clone()))
            .unwrap_or_default();
    }
    Ok(items)
}

/// The item `id` if `scope` may see it.
#[tracing::instrument(skip(tx, scope))]
pub async fn get(tx: &mut Tx, scope: &Scope, id: &str) -> Result<Option<Item>> {
    let row: Option<StoredItem> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} FROM items i WHERE i.id = $3 AND {}",
        scope.sql()
    )))
    .bind(tx.tenant().to_owned())
    .bind(scope.organization.clone())
    .bind(id.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_topics(tx, vec![Item::try_from(row)?]).await?.pop())
}

/// The filters of a list, as stored names ("" for any).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: String,
    pub kind: String,
    pub topic_code: String,
    pub language: String,
    pub source_kind: String,
    pub source_organization_id: String,
    pub visibility: String,
    pub contributions_only: bool,
}

/// A page of the items `scope` may see, newest first (ids are UUIDv7:
/// keyset below `before`), and how many match in all.
#[tracing::instrument(skip(tx, scope))]
pub async fn list(
    tx: &mut Tx,
    scope: &Scope,
    filter: &ListFilter,
    before: &str,
    limit: i64,
) -> Result<(Vec<Item>, Total)> {
    // Who may see what first (`$1` the tenant, `$2` the partner whose
    // contributions are its own, as `Scope::sql` names them), then only
    // the filters that are set. The same conditions count the list — capped,
    // as a consortium's items are every center's — before the page's cursor.
    let mut w = Where::across_tenants(tx.tenant());
    w.param(scope.organization.clone());
    w.fixed(&scope.sql());
    w.eq("i.state", &filter.state)
        .eq("i.kind", &filter.kind)
        .clause(
            "EXISTS (SELECT 1 FROM item_topics t WHERE t.tenant_id = i.tenant_id
                AND t.item_id = i.id AND t.topic_code = {})",
            &filter.topic_code,
        )
        .eq("i.language", &filter.language)
        .eq("i.source_kind", &filter.source_kind)
        .eq("i.source_organization_id", &filter.source_organization_id)
        .eq("i.visibility", &filter.visibility);
    if filter.contributions_only {
        w.fixed("i.contribution = 1");
    }
    let total = w.count_capped(tx, "items i").await?;
    w.compare("i.id", "<", before);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM items i {} ORDER BY i.id DESC LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredItem> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let items = rows
        .into_iter()
        .map(Item::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok((with_topics(tx, items).await?, total))
}

/// Items by id, whatever their tenant, in the order asked (search results,
/// already filtered by visibility).
#[tracing::instrument(skip_all)]
pub async fn by_ids(tx: &mut Tx, scope: &Scope, ids: &[String]) -> Result<Vec<Item>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = sqlx::query_as::<_, StoredItem>(AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} FROM items i WHERE {} AND i.id IN ({})",
        scope.sql(),
        super::placeholders(3, ids.len())
    )))
    .bind(tx.tenant().to_owned())
    .bind(scope.organization.clone());
    for id in ids {
        q = q.bind(id.clone());
    }
    let rows = q.fetch_all(tx.conn()).await?;
    let mut items: HashMap<String, Item> = with_topics(
        tx,
        rows.into_iter()
            .map(Item::try_from)
            .collect::<Result<Vec<_>>>()?,
    )
    .await?
    .into_iter()
    .map(|i| (i.id.clone(), i))
    .collect();
    Ok(ids.iter().filter_map(|id| items.remove(id)).collect())
}

// ----------------------------------------------------------------- writes

/// What a new item is besides its fields.
#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    pub id: &'a str,
    pub contributor: Option<&'a str>,
    pub created_by: &'a str,
}

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, new: &NewItem<'_>, f: &ItemFields) -> Result<()> {
    let now = now_micros();
    let s = search_columns(f);
    sqlx::query(
        "INSERT INTO items (tenant_id, id, kind, title_ar, title_en, summary_ar, summary_en,
            authors, language, source_kind, source_organization_id, source_name,
            publication_date, publication_year, licence, licence_note, visibility, external_url,
            state, contribution, contributor_organization_id, state_note, created_by,
            first_published_at, published_at, search_title, search_authors, search_topics,
            search_summary, search_text, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18, 'ITEM_STATE_DRAFT', $19, $20, '', $21, NULL, NULL, $22, $23, $24, $25, $26, 1,
            $27, $27)",
    )
    .bind(tx.tenant().to_owned())
    .bind(new.id.to_owned())
    .bind(f.kind.as_str_name())
    .bind(f.title.ar.clone())
    .bind(f.title.en.clone())
    .bind(f.summary.ar.clone())
    .bind(f.summary.en.clone())
    .bind(f.authors.join("\n"))
    .bind(f.language.clone())
    .bind(f.source.kind.as_str_name())
    .bind(f.source.organization_id.clone())
    .bind(f.source.name.clone())
    .bind(f.publication.map(|p| p.stored()).unwrap_or_default())
    .bind(f.publication.map(|p| i64::from(p.year)).unwrap_or(0))
    .bind(f.licence.as_str_name())
    .bind(f.licence_note.clone())
    .bind(f.visibility.as_str_name())
    .bind(f.external_url.clone())
    .bind(flag(new.contributor.is_some()))
    .bind(new.contributor.unwrap_or_default().to_owned())
    .bind(new.created_by.to_owned())
    .bind(s.title)
    .bind(s.authors)
    .bind(s.topics)
    .bind(s.summary)
    .bind(s.all)
    .bind(now)
    .execute(tx.conn())
    .await?;
    put_topics(tx, new.id, &f.topic_codes).await
}

async fn put_topics(tx: &mut Tx, item_id: &str, codes: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM item_topics WHERE tenant_id = $1 AND item_id = $2")
        .bind(tx.tenant().to_owned())
        .bind(item_id.to_owned())
        .execute(tx.conn())
        .await?;
    for (i, code) in codes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO item_topics (tenant_id, item_id, topic_code, position)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(tx.tenant().to_owned())
        .bind(item_id.to_owned())
        .bind(code.clone())
        .bind(i as i64)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Rebuilds the search columns of every item of the tenant from its texts
/// as they are now; returns how many items changed. An erasure's sweep
/// scrubs the texts but cannot recognise the person in their search
/// tokens (stemmed: «نادية» is «ناد» there), so the erasure spares those
/// columns and this writes them again, which the full-text index follows
/// (on SQLite, `items_search_update`, then `optimize` so no segment keeps
/// a deleted token).
#[tracing::instrument(skip_all)]
pub async fn rebuild_search_columns(tx: &mut Tx) -> Result<u64> {
    #[derive(sqlx::FromRow)]
    struct Texts {
        id: String,
        title_ar: String,
        title_en: String,
        summary_ar: String,
        summary_en: String,
        authors: String,
        search_title: String,
        search_authors: String,
        search_topics: String,
        search_summary: String,
        search_text: String,
    }
    let tenant = tx.tenant().to_owned();
    let items: Vec<Texts> = sqlx::query_as(
        "SELECT id, title_ar, title_en, summary_ar, summary_en, authors, search_title,
            search_authors, search_topics, search_summary, search_text
         FROM items WHERE tenant_id = $1",
    )
    .bind(tenant.clone())
    .fetch_all(tx.conn())
    .await?;
    let topics: Vec<(String, String)> = sqlx::query_as(
        "SELECT item_id, topic_code FROM item_topics WHERE tenant_id = $1
         ORDER BY item_id, position",
    )
    .bind(tenant.clone())
    .fetch_all(tx.conn())
    .await?;
    let mut topics_of: HashMap<String, Vec<String>> = HashMap::new();
    for (item, code) in topics {
        topics_of.entry(item).or_default().push(code);
    }
    let mut changed = 0;
    for i in items {
        let authors: Vec<String> = i
            .authors
            .split('\n')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        let s = search_columns_of(
            &LocalizedText {
                ar: i.title_ar,
                en: i.title_en,
            },
            &authors,
            topics_of.get(&i.id).map(Vec::as_slice).unwrap_or_default(),
            &LocalizedText {
                ar: i.summary_ar,
                en: i.summary_en,
            },
        );
        let same = (&s.title, &s.authors, &s.topics, &s.summary, &s.all)
            == (
                &i.search_title,
                &i.search_authors,
                &i.search_topics,
                &i.search_summary,
                &i.search_text,
            );
        if same {
            continue;
        }
        sqlx::query(
            "UPDATE items SET search_title = $3, search_authors = $4, search_topics = $5,
                search_summary = $6, search_text = $7
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.clone())
        .bind(i.id)
        .bind(s.title)
        .bind(s.authors)
        .bind(s.topics)
        .bind(s.summary)
        .bind(s.all)
        .execute(tx.conn())
        .await?;
        changed += 1;
    }
    if changed > 0 && tx.backend() == markaz_kit::db::Backend::Sqlite {
        sqlx::query("INSERT INTO item_search (item_search) VALUES ('optimize')")
            .execute(tx.conn())
            .await?;
    }
    Ok(changed)
}

/// Writes the item's fields, guarded by the version read.
#[tracing::instrument(skip_all)]
pub async fn update(tx: &mut Tx, current: &Item, f: &ItemFields) -> Result<()> {
    let s = search_columns(f);
    versioned(
        tx,
        sqlx::query(
            "UPDATE items SET kind = $3, title_ar = $4, title_en = $5, summary_ar = $6,
                summary_en = $7, authors = $8, language = $9, source_kind = $10,
                source_organization_id = $11, source_name = $12, publication_date = $13,
                publication_year = $14, licence = $15, licence_note = $16, visibility = $17,
                external_url = $18, search_title = $19, search_authors = $20,
                search_topics = $21, search_summary = $22, search_text = $23,
                version = version + 1, updated_at = $24
             WHERE tenant_id = $1 AND id = $2 AND version = $25",
        )
        .bind(tx.tenant().to_owned())
        .bind(current.id.clone())
        .bind(f.kind.as_str_name())
        .bind(f.title.ar.clone())
        .bind(f.title.en.clone())
        .bind(f.summary.ar.clone())
        .bind(f.summary.en.clone())
        .bind(f.authors.join("\n"))
        .bind(f.language.clone())
        .bind(f.source.kind.as_str_name())
        .bind(f.source.organization_id.clone())
        .bind(f.source.name.clone())
        .bind(f.publication.map(|p| p.stored()).unwrap_or_default())
        .bind(f.publication.map(|p| i64::from(p.year)).unwrap_or(0))
        .bind(f.licence.as_str_name())
        .bind(f.licence_note.clone())
        .bind(f.visibility.as_str_name())
        .bind(f.external_url.clone())
        .bind(s.title)
        .bind(s.authors)
        .bind(s.topics)
        .bind(s.summary)
        .bind(s.all)
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    put_topics(tx, &current.id, &f.topic_codes).await
}

/// Moves the item to `to` with its note, guarded by the version read;
/// publishing stamps the publication times.
#[tracing::instrument(skip(tx, current))]
pub async fn set_state(tx: &mut Tx, current: &Item, to: ItemState, note: &str) -> Result<()> {
    let now = now_micros();
    let published = to == ItemState::Published;
    versioned(
        tx,
        sqlx::query(
            "UPDATE items SET state = $3, state_note = $4, version = version + 1, updated_at = $5,
                published_at = CASE WHEN $6 = 1 THEN $5 ELSE published_at END,
                first_published_at = CASE WHEN $6 = 1 AND first_published_at IS NULL THEN $5
                    ELSE first_published_at END
             WHERE tenant_id = $1 AND id = $2 AND version = $7",
        )
        .bind(tx.tenant().to_owned())
        .bind(current.id.clone())
        .bind(to.as_str_name())
        .bind(note.to_owned())
        .bind(now)
        .bind(flag(published))
        .bind(current.version),
    )
    .await
}

/// Serializes writers of one item.
pub async fn lock(tx: &mut Tx, id: &str) -> Result<()> {
    tx.lock("items", id).await
}
