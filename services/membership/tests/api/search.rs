//! Text search: SQLite's FTS5 trigram index finds exactly the rows LIKE
//! finds — the same rows, in the same order, on the same pages — and an
//! erased name leaves nothing in it.

use super::world::*;
use markaz_kit::validate::{like_pattern, matchable};

markaz_kit::both_backends!(
    searches_find_what_like_finds_on_every_page,
    an_erased_name_leaves_no_term_in_the_index,
);

const NAMES: &[&str] = &[
    "العلي محمد",
    "علي حسن",
    "محمد العلي",
    "عليا الخطيب",
    "زياد",
    "Amina \"Ami\" Haddad",
    "Rana 50% Saleh_Jaber",
    "Near Or Farah",
    "Omar*Nassar",
    "Lina-Mansour",
    "x OR y NEAR(z)",
];

const ORGANIZATIONS: &[(&str, &str)] = &[
    ("جمعية العلي للتنمية", "Al-Ali \"Development\" Society"),
    ("مؤسسة علي", "NEAR OR Foundation"),
    ("فريق 50% شباب", "Youth_50% Team*"),
    ("منظمة الفرات", "Euphrates - Org"),
];

/// Every search the tests ask: 1, 2 and 3 characters and more, Arabic
/// inside longer words, FTS5's operators and LIKE's wildcards as text.
const QUERIES: &[&str] = &[
    "ع",
    "عل",
    "علي",
    "العلي",
    "علي ",
    "ي ح",
    "a",
    "am",
    "ami",
    "AMINA",
    "\"",
    "\"ami\"",
    "i \"a",
    "%",
    "50%",
    "_",
    "_ja",
    "*",
    "omar*",
    "r*n",
    "-",
    "-ma",
    "- o",
    "near",
    "NEAR",
    "near(",
    "or",
    " or ",
    "x or y",
    "ali",
    "haddad",
    "soc",
    "nothing like it",
];

/// The ids LIKE finds in the tenant's rows, read straight from the table
/// — the statement the lists ran before the index.
async fn like_ids(w: &World, table: &str, query: &str) -> Vec<String> {
    let db = w.app.env.db("membership").await.unwrap();
    let mut tx = db.read(TENANT).await.unwrap();
    let sql = format!(
        "SELECT id FROM {table} WHERE tenant_id = $1 AND search_text LIKE $2 ESCAPE '\\' ORDER BY id"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(TENANT)
        .bind(like_pattern(query))
        .fetch_all(tx.conn())
        .await
        .unwrap()
}

/// Every page of people found by `query`, two at a time: the ids in page
/// order, and each page's total.
async fn people_pages(w: &mut World, query: &str) -> (Vec<String>, Vec<i32>) {
    let (mut ids, mut totals, mut token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let page = w
            .client
            .list_people(authed(
                api::ListPeopleRequest {
                    query: query.into(),
                    page_size: 2,
                    page_token: token,
                    ..Default::default()
                },
                &w.staff,
            ))
            .await
            .unwrap_or_else(|s| panic!("{query:?}: {s:?}"))
            .into_inner();
        ids.extend(page.people.into_iter().map(|p| p.id));
        totals.push(page.total_size);
        if page.next_page_token.is_empty() {
            return (ids, totals);
        }
        token = page.next_page_token;
    }
}

async fn organization_pages(
    w: &mut World,
    query: &str,
    status: IncubationStatus,
) -> (Vec<String>, Vec<i32>) {
    let (mut ids, mut totals, mut token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let page = w
            .client
            .list_organizations(authed(
                api::ListOrganizationsRequest {
                    query: query.into(),
                    incubation_status: status as i32,
                    page_size: 2,
                    page_token: token,
                    ..Default::default()
                },
                &w.staff,
            ))
            .await
            .unwrap_or_else(|s| panic!("{query:?}: {s:?}"))
            .into_inner();
        ids.extend(page.organizations.into_iter().map(|o| o.id));
        totals.push(page.total_size);
        if page.next_page_token.is_empty() {
            return (ids, totals);
        }
        token = page.next_page_token;
    }
}

/// Every query gives the rows LIKE gives, page after page, with the same
/// total on every page; and the people found are those whose name holds
/// the query, in this tenant only.
async fn check_every_query(w: &mut World, people: &[api::Person]) {
    for query in QUERIES {
        let expected = like_ids(w, "people", query).await;
        let mut by_name: Vec<String> = people
            .iter()
            .filter(|p| matchable(&p.full_name).contains(&matchable(query)))
            .map(|p| p.id.clone())
            .collect();
        by_name.sort();
        assert_eq!(expected, by_name, "LIKE of {query:?}");
        let (ids, totals) = people_pages(w, query).await;
        assert_eq!(ids, expected, "people found by {query:?}");
        assert!(
            totals.iter().all(|t| *t as usize == expected.len()),
            "{query:?}: totals {totals:?} of {}",
            expected.len()
        );

        let expected = like_ids(w, "organizations", query).await;
        let (ids, totals) = organization_pages(w, query, IncubationStatus::Unspecified).await;
        assert_eq!(ids, expected, "organizations found by {query:?}");
        assert!(totals.iter().all(|t| *t as usize == expected.len()));
        // With another filter, the search narrows it as before.
        let (applicants, _) = organization_pages(w, query, IncubationStatus::Applicant).await;
        let db = w.app.env.db("membership").await.unwrap();
        let mut tx = db.read(TENANT).await.unwrap();
        let status: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM organizations WHERE tenant_id = $1 AND incubation_status = $2
             AND search_text LIKE $3 ESCAPE '\\' ORDER BY id",
        )
        .bind(TENANT)
        .bind(IncubationStatus::Applicant.as_str_name())
        .bind(like_pattern(query))
        .fetch_all(tx.conn())
        .await
        .unwrap();
        assert_eq!(applicants, status, "applicants found by {query:?}");
    }
}

async fn searches_find_what_like_finds_on_every_page(backend: Backend) {
    let mut w = world(backend).await;
    let mut people = Vec::new();
    for name in NAMES {
        people.push(create_person(&mut w, name, Gender::Female).await);
    }
    for (i, (ar, en)) in ORGANIZATIONS.iter().enumerate() {
        create_org(&mut w, ar, en, i % 2 == 0).await;
    }
    // The same names in another tenant are never found here.
    let other = w.app.token(OTHER_TENANT, &[Role::Staff], None);
    for name in NAMES {
        w.client
            .create_person(authed(
                api::CreatePersonRequest {
                    person: Some(api::Person {
                        branch_id: String::new(),
                        ..person(name, Gender::Male)
                    }),
                    request_id: String::new(),
                },
                &other,
            ))
            .await
            .unwrap();
    }
    // A renamed person is found by the new name only.
    let mut renamed = people.pop().unwrap();
    renamed.full_name = "Yara Khoury".into();
    let renamed = w
        .client
        .update_person(authed(
            api::UpdatePersonRequest {
                person: Some(renamed),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["full_name".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    people.push(renamed);
    check_every_query(&mut w, &people).await;
    assert_eq!(people_pages(&mut w, "khoury").await.0.len(), 1);

    // A query the index finds in very many rows (of another tenant here) is
    // read by LIKE: the same rows again.
    let db = w.app.env.db("membership").await.unwrap();
    let mut tx = db.write(OTHER_TENANT).await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
         INSERT INTO people (tenant_id, id, full_name, gender, age_band, phone, email, branch_id,
            legal_basis, processing_purpose, search_text, version, created_at, updated_at)
         SELECT $1, 'many-' || CAST(i AS TEXT), 'علي ami', 'GENDER_MALE', 'AGE_BAND_25_34', '', '',
            '', 'LEGAL_BASIS_CONSENT', '', 'علي ami 50% or near', 1, 0, 0 FROM n",
    )
    .bind(OTHER_TENANT)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    check_every_query(&mut w, &people).await;
}

/// The trigrams of `text`, as the index would hold them.
fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.windows(3).map(|w| w.iter().collect()).collect()
}

async fn an_erased_name_leaves_no_term_in_the_index(backend: Backend) {
    let mut w = world(backend).await;
    let name = "Zyxwvq Qjkmf";
    create_person(&mut w, "Amina Haddad", Gender::Female).await;
    let p = create_person(&mut w, name, Gender::Female).await;
    create_person(&mut w, "Omar Saleh", Gender::Male).await;
    let found = people_pages(&mut w, "wvq qj").await.0;
    assert_eq!(found, vec![p.id.clone()]);
    w.client
        .erase_person(authed(
            api::ErasePersonRequest {
                id: p.id.clone(),
                reason: "request of the person".into(),
                legal_ground: api::ErasureGround::DataSubjectRequest as i32,
            },
            &w.staff,
        ))
        .await
        .unwrap();
    // No search finds her, by any part of her name.
    let key = matchable(name);
    for query in [name.to_string(), "zyx".into(), "qjkmf".into()]
        .into_iter()
        .chain(trigrams(&key))
    {
        assert_eq!(
            people_pages(&mut w, &query).await.0,
            Vec::<String>::new(),
            "{query:?}"
        );
    }
    assert_eq!(people_pages(&mut w, "amina").await.0.len(), 1);
    if backend != Backend::Sqlite {
        return;
    }
    let db = w.app.env.db("membership").await.unwrap();
    let mut tx = db.write(TENANT).await.unwrap();
    // The index is in step with the rows it indexes...
    sqlx::query("INSERT INTO people_search (people_search, rank) VALUES ('integrity-check', 1)")
        .execute(tx.conn())
        .await
        .expect("the index matches its rows");
    // ...and its segments hold none of her terms (secure-delete): without
    // it they stay there, marked deleted, until a merge rewrites them.
    let blocks: Vec<Option<Vec<u8>>> = sqlx::query_scalar("SELECT block FROM people_search_data")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    let bytes: Vec<u8> = blocks.into_iter().flatten().flatten().collect();
    let left: Vec<String> = trigrams(&key)
        .into_iter()
        .filter(|t| bytes.windows(t.len()).any(|b| b == t.as_bytes()))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "terms of the erased name");
    tx.commit().await.unwrap();
}
