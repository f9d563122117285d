//! The migration on both databases, as the runtime applies it, and what the
//! database itself must guarantee: the overlap guard refusing overlapping
//! bookings (20 at once, from 20 tenants under row-level security, exactly
//! one wins), the full-text index finding the same candidates on SQLite and
//! PostgreSQL, and the policies that let other tenants read shared things.
//!
//! Everything here is plain SQL on the service's real tables: the store
//! that will issue it comes in the next step.

use std::sync::Arc;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::db::{Db, Tx};
use markaz_kit::migrate::Migration;
use markaz_kit::testing::{Backend, TestEnv};
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::resources::v1 as api;
use markaz_resources::domain::items::{ItemFields, parse_item, search_columns};
use markaz_resources::domain::search::{
    Candidate, CorpusCounts, fts5_match, normalize, parse_query, rank, tsquery,
};
use markaz_resources::{MIGRATIONS, NAME};
use sqlx::AssertSqlSafe;

/// The resources service as far as this step goes: its name and migrations,
/// no API yet (that comes on the reworked service pattern).
struct MigrationsOnly;

impl Service for MigrationsOnly {
    fn name(&self) -> &'static str {
        NAME
    }
    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }
    fn register(
        &self,
        _: &ServiceContext,
        _: &mut tonic::service::RoutesBuilder,
    ) -> Vec<&'static str> {
        Vec::new()
    }
}

fn env(backend: Backend) -> TestEnv {
    let mut env = TestEnv::new(backend);
    // Twenty transactions at once need twenty connections on PostgreSQL.
    env.config.database.max_connections = 24;
    env
}

async fn start(env: &TestEnv) -> (markaz_kit::app::App, Db) {
    let app = env
        .start(vec![Arc::new(MigrationsOnly)])
        .await
        .expect("the app starts and migrates");
    let db = app.db(NAME).expect("the service's database").clone();
    (app, db)
}

const TABLES: &[&str] = &[
    "items",
    "item_topics",
    "item_history",
    "item_files",
    "file_versions",
    "item_usage",
    "spaces",
    "space_hours",
    "equipment",
    "closures",
    "booking_series",
    "bookings",
    "booking_slots",
    "space_services",
];

async fn count(tx: &mut Tx, sql: &str) -> i64 {
    let tenant = tx.tenant().to_owned();
    sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
        .bind(tenant)
        .fetch_one(tx.conn())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn the_migration_applies_once_on_each_backend(backend: Backend) {
    let env = env(backend);
    let (app, db) = start(&env).await;
    let mut tx = db.write("raqqa").await.unwrap();
    for table in TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE $1 = $1");
        assert_eq!(count(&mut tx, &sql).await, 0, "{table}");
    }
    let guard = match backend {
        Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_constraint WHERE conname = 'booking_slots_no_overlap' AND $1 = $1"
        }
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'booking_slots_no_overlap%' AND $1 = $1"
        }
    };
    assert!(count(&mut tx, guard).await >= 1, "the overlap guard exists");
    tx.rollback().await.unwrap();
    app.shutdown().await;
    // A restart finds everything applied (and unchanged: checksums hold).
    let (app, _) = start(&env).await;
    app.shutdown().await;
}

// ------------------------------------------------------------- bookings

const MIN: i64 = 60_000_000;
/// 2026-04-05 07:00 UTC (10:00 in Raqqa).
const TEN: i64 = 1_775_372_400_000_000;

async fn insert_space(db: &Db, tenant: &str, id: &str, shared: bool) {
    let mut tx = db.write(tenant).await.unwrap();
    sqlx::query(
        "INSERT INTO spaces (tenant_id, id, branch_id, kind, name_ar, name_en, description_ar,
            description_en, capacity, utc_offset_minutes, bookable_by, shared, max_booking_minutes,
            max_days_ahead, archived, version, created_at, updated_at)
         VALUES ($1, $2, 'raqqa', 'SPACE_KIND_MEETING_ROOM', 'قاعة الاجتماعات', 'Meeting room', '', '',
            20, 180, 'BOOKABLE_BY_PARTNERS', $3, 480, 90, 0, 1, 0, 0)",
    )
    .bind(tenant)
    .bind(id)
    .bind(i64::from(shared))
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// A booking and its slots in one transaction of `tenant`, as the store
/// will write them. The database's answer is returned as it came.
async fn book(
    db: &Db,
    tenant: &str,
    space_tenant: &str,
    resources: &[&str],
    start: i64,
    end: i64,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.write(tenant).await.expect("transaction");
    sqlx::query(
        "INSERT INTO bookings (tenant_id, id, space_tenant_id, space_id, series_id, course_id,
            organization_id, purpose, purpose_note, expected_attendance, starts_at, ends_at, notes,
            status, booked_by, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, '', '', 'org-1', 'BOOKING_PURPOSE_MEETING', 'اجتماع الشركاء', 12,
            $5, $6, '', 'BOOKING_STATUS_CONFIRMED', 'user-staff', 1, 0, 0)",
    )
    .bind(tenant)
    .bind(&id)
    .bind(space_tenant)
    .bind(resources[0])
    .bind(start)
    .bind(end)
    .execute(tx.conn())
    .await?;
    for resource in resources {
        sqlx::query(
            "INSERT INTO booking_slots (booking_id, resource_id, starts_at, ends_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(*resource)
        .bind(start)
        .bind(end)
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await.expect("commit");
    Ok(id)
}

/// The guard's refusal, recognized the same way on both databases.
fn is_overlap(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23P01")
                || db.message().contains("booking_slots_no_overlap")
        }
        _ => false,
    }
}

async fn twenty_concurrent_overlapping_bookings_one_wins(backend: Backend) {
    let env = env(backend);
    let (app, db) = start(&env).await;
    let space = uuid::Uuid::now_v7().to_string();
    insert_space(&db, "owner", &space, true).await;

    // Twenty tenants' staff book the shared room at once, each for an hour
    // starting a minute after the last: every pair overlaps.
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20i64 {
        let (db, barrier, space) = (db.clone(), barrier.clone(), space.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let tenant = format!("tenant-{i}");
            book(
                &db,
                &tenant,
                "owner",
                &[&space],
                TEN + i * MIN,
                TEN + 60 * MIN + i * MIN,
            )
            .await
        }));
    }
    let mut won = Vec::new();
    let mut refused = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(id) => won.push((i, id)),
            Err(e) if is_overlap(&e) => refused += 1,
            Err(e) => panic!("booking {i}: not the guard's refusal: {e}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one booking wins");
    assert_eq!(refused, 19);
    let (winner, _) = won[0];
    let winner_start = TEN + winner as i64 * MIN;
    let winner_end = winner_start + 60 * MIN;

    let mut tx = db.read("owner").await.unwrap();
    let slots = count(
        &mut tx,
        "SELECT COUNT(*) FROM booking_slots WHERE resource_id <> $1",
    )
    .await;
    assert_eq!(slots, 1, "one slot held");
    if backend == Backend::Postgres {
        // Under row-level security the owner sees the booking of its room
        // (its own policy); another tenant sees nothing of it — its insert
        // was refused by a row it cannot read.
        let sql = format!("SELECT COUNT(*) FROM bookings WHERE space_id = '{space}' AND $1 = $1");
        assert_eq!(count(&mut tx, &sql).await, 1, "the owner sees it");
        let loser = format!("tenant-{}", (winner + 1) % 20);
        let mut theirs = db.read(&loser).await.unwrap();
        assert_eq!(count(&mut theirs, &sql).await, 0, "another tenant does not");
        theirs.rollback().await.unwrap();
    }
    tx.rollback().await.unwrap();

    // Touching is not overlapping; another resource is not this one.
    book(
        &db,
        "tenant-x",
        "owner",
        &[&space],
        winner_end,
        winner_end + 30 * MIN,
    )
    .await
    .expect("a booking starting when the other ends");
    book(
        &db,
        "tenant-x",
        "owner",
        &[&space],
        winner_start - 30 * MIN,
        winner_start,
    )
    .await
    .expect("a booking ending when the other starts");
    let projector = uuid::Uuid::now_v7().to_string();
    let other_room = uuid::Uuid::now_v7().to_string();
    insert_space(&db, "owner", &other_room, true).await;
    book(
        &db,
        "tenant-y",
        "owner",
        &[&other_room, &projector],
        winner_start,
        winner_end,
    )
    .await
    .expect("another room and a projector at the same time");
    // The projector is guarded too: asked for with a free third room at
    // the same hour, the whole booking is refused.
    let third_room = uuid::Uuid::now_v7().to_string();
    insert_space(&db, "owner", &third_room, true).await;
    let e = book(
        &db,
        "tenant-z",
        "owner",
        &[&third_room, &projector],
        winner_start + 15 * MIN,
        winner_end,
    )
    .await
    .unwrap_err();
    assert!(is_overlap(&e), "{e}");
    let mut tx = db.read("owner").await.unwrap();
    let sql = format!(
        "SELECT COUNT(*) FROM booking_slots WHERE resource_id = '{third_room}' AND $1 = $1"
    );
    assert_eq!(
        count(&mut tx, &sql).await,
        0,
        "nothing of the refused booking stays"
    );
    tx.rollback().await.unwrap();

    // Moving a slot onto another is refused as well.
    let mut tx = db.write("tenant-x").await.unwrap();
    let moved = sqlx::query(
        "UPDATE booking_slots SET starts_at = $1, ends_at = $2 WHERE resource_id = $3 AND starts_at = $4",
    )
    .bind(winner_start + 10 * MIN)
    .bind(winner_end + 10 * MIN)
    .bind(&space)
    .bind(winner_end)
    .execute(tx.conn())
    .await
    .unwrap_err();
    assert!(is_overlap(&moved), "{moved}");
    tx.rollback().await.unwrap();

    // Cancelling frees the time: the slots go, the booking row stays.
    let mut tx = db.write(&format!("tenant-{winner}")).await.unwrap();
    sqlx::query("DELETE FROM booking_slots WHERE booking_id = $1")
        .bind(&won[0].1)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    book(
        &db,
        "tenant-0",
        "owner",
        &[&space],
        winner_start,
        winner_end,
    )
    .await
    .expect("the freed hour is bookable again");
    app.shutdown().await;
}

// --------------------------------------------------------------- search

fn item(ar: &str, en: &str, summary_ar: &str, topics: &[&str], year: i32) -> ItemFields {
    let today = markaz_kit::time::Date::new(2026, 5, 1).unwrap();
    parse_item(
        "item",
        &api::Item {
            kind: api::ItemKind::Study as i32,
            title: Some(LocalizedText {
                ar: ar.into(),
                en: en.into(),
            }),
            summary: Some(LocalizedText {
                ar: summary_ar.into(),
                en: String::new(),
            }),
            authors: vec!["مركز دعم المجتمع المدني".into()],
            topic_codes: topics.iter().map(|t| t.to_string()).collect(),
            language: "ar".into(),
            source: Some(api::Source {
                kind: api::SourceKind::Center as i32,
                ..Default::default()
            }),
            publication_date: Some(markaz_proto::common::v1::Date {
                year,
                month: 0,
                day: 0,
            }),
            visibility: api::Visibility::Consortium as i32,
            ..Default::default()
        },
        None,
        today,
    )
    .unwrap()
}

fn corpus() -> Vec<(&'static str, ItemFields)> {
    vec![
        (
            "a1",
            item(
                "دليلُ المُناصَرة للمنظّمات المحلية",
                "Advocacy guide for local organisations",
                "كيف تخطط المنظمات لحملات المناصرة",
                &["mobilisation-advocacy"],
                2019,
            ),
        ),
        (
            "a2",
            item(
                "المكتبات الرقمية",
                "Digital libraries",
                "مكتبة المركز ومصادرها",
                &["knowledge"],
                2021,
            ),
        ),
        (
            "a3",
            item(
                "تقرير عن مستوى الخدمات",
                "Report on the level of services",
                "مستوى المياه والكهرباء في الرقة",
                &["infrastructure"],
                2020,
            ),
        ),
        (
            "a4",
            item(
                "مسؤولية المنظمات تجاه المجتمع",
                "Trainings on accountability",
                "تدريبات المساءلة والمسئولية",
                &["accountability"],
                2022,
            ),
        ),
        (
            "a5",
            item(
                "الثلاسيميا عند الأطفال",
                "Thalassemia in children",
                "حملة مناصرة",
                &["health"],
                2019,
            ),
        ),
    ]
}

async fn insert_item(tx: &mut Tx, id: &str, fields: &ItemFields, visibility: &str) {
    let cols = search_columns(fields);
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO items (tenant_id, id, kind, title_ar, title_en, summary_ar, summary_en, authors,
            language, source_kind, source_organization_id, source_name, publication_date,
            publication_year, licence, licence_note, visibility, external_url, state, contribution,
            contributor_organization_id, state_note, created_by, first_published_at, published_at,
            search_title, search_authors, search_topics, search_summary, search_text, version,
            created_at, updated_at)
         VALUES ($1, $2, 'ITEM_KIND_STUDY', $3, $4, $5, $6, $7, $8, 'SOURCE_KIND_CENTER', '', '', $9,
            $10, 'LICENCE_ALL_RIGHTS_RESERVED', '', $11, '', 'ITEM_STATE_PUBLISHED', 0, '', '',
            'user-staff', 1, $12, $13, $14, $15, $16, $17, 1, 0, 0)",
    )
    .bind(&tenant)
    .bind(id)
    .bind(&fields.title.ar)
    .bind(&fields.title.en)
    .bind(&fields.summary.ar)
    .bind(&fields.summary.en)
    .bind(fields.authors.join("\n"))
    .bind(&fields.language)
    .bind(fields.publication.map(|p| p.stored()).unwrap_or_default())
    .bind(fields.publication.map(|p| i64::from(p.year)).unwrap_or(0))
    .bind(visibility)
    .bind(fields.publication.map(|p| i64::from(p.year)).unwrap_or(0))
    .bind(&cols.title)
    .bind(&cols.authors)
    .bind(&cols.topics)
    .bind(&cols.summary)
    .bind(&cols.all)
    .execute(tx.conn())
    .await
    .unwrap();
}

/// The candidates of `text` in the tenant's items, as the store will ask.
async fn candidates(tx: &mut Tx, text: &str) -> Vec<String> {
    let query = parse_query("query", text, 200).unwrap();
    let tenant = tx.tenant().to_owned();
    let (sql, q) = match tx.backend() {
        markaz_kit::db::Backend::Sqlite => (
            "SELECT r.item_id FROM item_search s JOIN item_search_rows r ON r.row_key = s.rowid
             WHERE item_search MATCH $2 AND r.tenant_id = $1 ORDER BY r.item_id",
            fts5_match(&query),
        ),
        markaz_kit::db::Backend::Postgres => (
            "SELECT id FROM items WHERE tenant_id = $1 AND search_vector @@ CAST($2 AS tsquery)
             ORDER BY id",
            tsquery(&query),
        ),
    };
    sqlx::query_scalar(sql)
        .bind(tenant)
        .bind(q)
        .fetch_all(tx.conn())
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// What the candidates must be: the items whose search tokens match every
/// term — computed here from the columns, independently of either index.
fn expected(text: &str) -> Vec<String> {
    let query = parse_query("query", text, 200).unwrap();
    let mut ids: Vec<String> = corpus()
        .into_iter()
        .filter(|(_, f)| {
            let all = search_columns(f).all;
            query
                .terms
                .iter()
                .all(|t| all.split(' ').any(|tok| t.matches(tok)))
        })
        .map(|(id, _)| id.to_string())
        .collect();
    ids.sort();
    ids
}

async fn both_indexes_find_the_same_candidates(backend: Backend) {
    let env = env(backend);
    let (app, db) = start(&env).await;
    let mut tx = db.write("raqqa").await.unwrap();
    for (id, fields) in corpus() {
        insert_item(&mut tx, id, &fields, "VISIBILITY_CONSORTIUM").await;
    }
    tx.commit().await.unwrap();

    let mut tx = db.read("raqqa").await.unwrap();
    let queries: &[(&str, &[&str])] = &[
        // Diacritics and the article in the document, none in the query.
        ("مناصرة", &["a1", "a5"]),
        ("المُناصَرة", &["a1", "a5"]),
        ("والمناصرة", &["a1", "a5"]),
        // Plural and singular, ة and ه.
        ("مكتبه", &["a2"]),
        ("المكتبات", &["a2"]),
        // ى and ي; hamza seats.
        ("مستوي", &["a3"]),
        ("مسئولية", &["a4"]),
        // English, stemmed, British and American spellings.
        ("organizations advocacy", &["a1"]),
        ("training", &["a4"]),
        // Type-ahead: the last word as a prefix.
        ("الثلاس", &["a5"]),
        ("دليل المناص", &["a1"]),
        // Topics are searchable words too.
        ("infrastructure", &["a3"]),
        ("غير موجود", &[]),
    ];
    for (text, ids) in queries {
        let found = candidates(&mut tx, text).await;
        assert_eq!(
            found,
            expected(text),
            "{text}: the index and the columns agree"
        );
        assert_eq!(found, *ids, "{text}");
    }

    // Ranking is computed from the candidates' columns and plain counts:
    // the same inputs on both databases, so the same order.
    let query = parse_query("query", "مناصرة", 200).unwrap();
    let corpus: Vec<Candidate> = corpus()
        .into_iter()
        .filter(|(id, _)| ["a1", "a5"].contains(id))
        .map(|(id, f)| {
            let c = search_columns(&f);
            Candidate {
                id: id.into(),
                publish_time: 0,
                title: c.title,
                authors: c.authors,
                topics: c.topics,
                summary: c.summary,
            }
        })
        .collect();
    let ranked = rank(
        &query,
        corpus,
        &CorpusCounts {
            documents: 5,
            containing: vec![2],
        },
    );
    assert_eq!(ranked[0].0.id, "a1", "a title match ranks first");
    tx.rollback().await.unwrap();

    // The index follows edits and deletions.
    let mut tx = db.write("raqqa").await.unwrap();
    sqlx::query("UPDATE items SET search_text = $1 WHERE tenant_id = $2 AND id = 'a2'")
        .bind(normalize("أرشيف الصور"))
        .bind("raqqa")
        .execute(tx.conn())
        .await
        .unwrap();
    sqlx::query("DELETE FROM items WHERE tenant_id = $1 AND id = 'a3'")
        .bind("raqqa")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.read("raqqa").await.unwrap();
    assert!(
        candidates(&mut tx, "مكتبة").await.is_empty(),
        "the old words are gone"
    );
    assert_eq!(candidates(&mut tx, "الارشيف").await, ["a2"]);
    assert!(
        candidates(&mut tx, "مستوى").await.is_empty(),
        "a deleted item is gone"
    );
    tx.rollback().await.unwrap();

    if backend == Backend::Postgres {
        // Another tenant reads a published consortium item (the shared
        // policy), never a tenant-only one.
        let mut tx = db.write("raqqa").await.unwrap();
        insert_item(
            &mut tx,
            "private",
            &item("سري", "Internal", "", &[], 2020),
            "VISIBILITY_TENANT",
        )
        .await;
        tx.commit().await.unwrap();
        let mut other = db.read("deir-ez-zor").await.unwrap();
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM items WHERE $1 = $1 ORDER BY id")
            .bind("x")
            .fetch_all(other.conn())
            .await
            .unwrap();
        assert_eq!(ids, ["a1", "a2", "a4", "a5"], "consortium items only");
        other.rollback().await.unwrap();
    }
    app.shutdown().await;
}

async fn shared_spaces_and_their_hours_are_visible_to_other_tenants(backend: Backend) {
    if backend == Backend::Sqlite {
        // No second wall on SQLite: what is visible is the store's query.
        return;
    }
    let env = env(backend);
    let (app, db) = start(&env).await;
    let shared = uuid::Uuid::now_v7().to_string();
    let private = uuid::Uuid::now_v7().to_string();
    insert_space(&db, "raqqa", &shared, true).await;
    insert_space(&db, "raqqa", &private, false).await;
    let mut tx = db.write("raqqa").await.unwrap();
    for space in [&shared, &private] {
        sqlx::query(
            "INSERT INTO space_hours (tenant_id, space_id, weekday, opens_minute, closes_minute)
             VALUES ('raqqa', $1, 7, 540, 1020)",
        )
        .bind(space)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let mut other = db.read("deir-ez-zor").await.unwrap();
    let spaces: Vec<String> = sqlx::query_scalar("SELECT id FROM spaces WHERE $1 = $1")
        .bind("x")
        .fetch_all(other.conn())
        .await
        .unwrap();
    assert_eq!(spaces, std::slice::from_ref(&shared));
    let hours: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM space_hours WHERE $1 = $1")
        .bind("x")
        .fetch_one(other.conn())
        .await
        .unwrap();
    assert_eq!(hours, 1, "the shared space's hours only");
    // Reading is all: another tenant cannot change the owner's space.
    let changed = sqlx::query("UPDATE spaces SET capacity = 1 WHERE id = $1")
        .bind(&shared)
        .execute(other.conn())
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(changed, 0);
    other.rollback().await.unwrap();
    app.shutdown().await;
}

markaz_kit::both_backends!(
    the_migration_applies_once_on_each_backend,
    twenty_concurrent_overlapping_bookings_one_wins,
    both_indexes_find_the_same_candidates,
    shared_spaces_and_their_hours_are_visible_to_other_tenants,
);
