//! Search in Arabic and English: diacritics, letter variants, prefixes and
//! suffixes fold to one word; the ranking, its scores, the snippets and the
//! facets are the same whatever the spelling — and, since the body is the
//! same on SQLite and PostgreSQL and asserts one order, on both backends.

use crate::world::*;

both_backends!(
    arabic_variants_give_the_same_ranked_results,
    filters_facets_pages_and_type_ahead,
);

async fn ranked(w: &mut World, token: &str, query: &str) -> Vec<(String, f64)> {
    let r = w
        .client
        .search_items(authed(
            api::SearchItemsRequest {
                query: query.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap_or_else(|e| panic!("{query}: {e:?}"))
        .into_inner();
    r.results
        .into_iter()
        .map(|r| (r.item.map(|i| i.id).unwrap_or_default(), r.score))
        .collect()
}

async fn arabic_variants_give_the_same_ranked_results(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let a = w
        .published_item(
            &staff,
            item_body("دليل المناصرة", "Advocacy guide", Visibility::Consortium),
        )
        .await;
    let b = w
        .published_item(
            &staff,
            item_body("المناصرة المجتمعية في الرقة", "", Visibility::Consortium),
        )
        .await;
    let mut body = item_body("إدارة المشاريع", "", Visibility::Consortium);
    body.summary = text("فصل عن المناصرة وحملاتها في المدن", "");
    let c = w.published_item(&staff, body).await;
    let d = w
        .published_item(
            &staff,
            item_body("مكتبة المنظمات", "", Visibility::Consortium),
        )
        .await;

    let plain = ranked(&mut w, &staff, "المناصرة").await;
    let ids: Vec<&str> = plain.iter().map(|(id, _)| id.as_str()).collect();
    // In a title before in a summary; the shorter title first (a's title
    // has four words with its English one, b's three: «في» is a stop word).
    assert_eq!(ids, vec![b.id.as_str(), a.id.as_str(), c.id.as_str()]);
    assert!(
        plain[0].1 > plain[1].1 && plain[1].1 > plain[2].1,
        "{plain:?}"
    );
    assert!(!ids.contains(&d.id.as_str()));
    for variant in [
        // Harakat.
        "المُنَاصَرَة",
        // Tatweel and the conjunction with the article.
        "والمنـاصرة",
        // ة written as ه, without the article.
        "مناصره",
        // A preposition with the article, from another tenant's reader.
        "للمناصرة",
        // What was typed so far: a prefix.
        "المناص",
    ] {
        assert_eq!(ranked(&mut w, &staff, variant).await, plain, "{variant}");
    }
    // Another tenant reads consortium items: the same ranking.
    let other = w.other_staff.clone();
    assert_eq!(ranked(&mut w, &other, "المُناصرة").await, plain);
    // Hamza seats and ى/ي.
    let e = w
        .published_item(
            &staff,
            item_body(
                "مسؤولية المنظمات على مستوى المحافظة",
                "",
                Visibility::Consortium,
            ),
        )
        .await;
    for variant in ["مسئولية", "مسءولية", "مستوي"] {
        let found = ranked(&mut w, &staff, variant).await;
        assert_eq!(
            found.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            vec![e.id.as_str()],
            "{variant}"
        );
    }
    // English: plural and stem fold; snippets show the text as stored,
    // the match marked.
    let r = w
        .client
        .search_items(authed(
            api::SearchItemsRequest {
                query: "guides".into(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.total_size, 1);
    let snippet = &r.results[0].snippets[0];
    assert_eq!(snippet.field, "title.en");
    let rebuilt: String = snippet.segments.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(rebuilt, "Advocacy guide");
    assert!(
        snippet
            .segments
            .iter()
            .any(|s| s.r#match && s.text == "guide")
    );
    // Arabic snippets mark the word as stored, harakat and all.
    let r = w
        .client
        .search_items(authed(
            api::SearchItemsRequest {
                query: "المُنَاصَرَة".into(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let title = r.results[0]
        .snippets
        .iter()
        .find(|s| s.field == "title.ar")
        .expect("a title snippet");
    assert!(
        title
            .segments
            .iter()
            .any(|s| s.r#match && s.text == "المناصرة")
    );
}

async fn filters_facets_pages_and_type_ahead(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    for i in 0..5 {
        let mut body = item_body(
            &format!("تقرير التدريب رقم {i}"),
            &format!("Training report {i}"),
            Visibility::Tenant,
        );
        body.kind = if i % 2 == 0 {
            ItemKind::Study as i32
        } else {
            ItemKind::Statistics as i32
        };
        body.publication_date = Some(Date {
            year: 2018 + i,
            month: 0,
            day: 0,
        });
        w.published_item(&staff, body).await;
    }
    let search =
        |filters: Option<api::SearchFilters>, page_token: String| api::SearchItemsRequest {
            query: "تدريب".into(),
            filters,
            page_size: 2,
            page_token,
        };
    let first = w
        .client
        .search_items(authed(search(None, String::new()), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.total_size, 5);
    assert_eq!(first.results.len(), 2);
    let facets = first.facets.unwrap();
    let kinds: Vec<(String, i32)> = facets
        .kinds
        .iter()
        .map(|f| (f.value.clone(), f.count))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("ITEM_KIND_STUDY".to_string(), 3),
            ("ITEM_KIND_STATISTICS".to_string(), 2)
        ]
    );
    assert_eq!(facets.years.len(), 5);
    // Pages follow the ranking without repeats.
    let mut seen: Vec<String> = first
        .results
        .iter()
        .filter_map(|r| r.item.as_ref().map(|i| i.id.clone()))
        .collect();
    let mut token = first.next_page_token;
    while !token.is_empty() {
        let page = w
            .client
            .search_items(authed(search(None, token), &staff))
            .await
            .unwrap()
            .into_inner();
        seen.extend(
            page.results
                .iter()
                .filter_map(|r| r.item.as_ref().map(|i| i.id.clone())),
        );
        token = page.next_page_token;
    }
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((seen.len(), distinct.len()), (5, 5));
    // Filters: kind and years.
    let filtered = w
        .client
        .search_items(authed(
            search(
                Some(api::SearchFilters {
                    kinds: vec![ItemKind::Statistics as i32],
                    year_from: 2020,
                    ..Default::default()
                }),
                String::new(),
            ),
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        filtered.total_size, 1,
        "2021 is the only statistics from 2020"
    );
    // Bad filters name their fields.
    let err = w
        .client
        .search_items(authed(
            api::SearchItemsRequest {
                query: "في".into(),
                filters: Some(api::SearchFilters {
                    kinds: vec![42],
                    year_from: 2020,
                    year_until: 2019,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&err),
        vec!["query", "filters.kinds[0]", "filters.year_until"]
    );
    // Type-ahead: titles whose words start with what was typed.
    let s = w
        .client
        .suggest_items(authed(
            api::SuggestItemsRequest {
                prefix: "تقرير التدر".into(),
                max_results: 3,
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.suggestions.len(), 3);
    assert!(
        s.suggestions[0]
            .segments
            .iter()
            .any(|seg| seg.r#match && seg.text == "التدريب")
    );
    // Another tenant: tenant-only items are not suggested either.
    let other = w.other_staff.clone();
    let s = w
        .client
        .suggest_items(authed(
            api::SuggestItemsRequest {
                prefix: "تقرير".into(),
                max_results: 0,
            },
            &other,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(s.suggestions.is_empty());
}
