use super::world::*;

markaz_kit::both_backends!(
    deceiving_characters_are_refused_and_invisible_ones_do_not_hide_a_name,
    people_are_registered_updated_and_erased,
    a_retry_after_erasure_is_refused_not_done_again,
    concurrent_affiliations_leave_one_and_end_once,
    an_organizations_people_are_paged_from_its_active_affiliations,
    a_big_tenants_total_stops_at_the_cap_and_says_so,
);

async fn people_are_registered_updated_and_erased(backend: Backend) {
    let mut w = world(backend).await;
    let p = create_person(&mut w, "أحمد الخليل", Gender::Male).await;
    assert_eq!(p.gender, Gender::Male as i32);
    let mut change = p.clone();
    change.email = "ahmad@example.org".into();
    let updated = w
        .client
        .update_person(authed(
            api::UpdatePersonRequest {
                person: Some(change),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["email".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.email, "ahmad@example.org");

    // Erasure needs a reason, then keeps only the aggregate fields.
    let refused = w
        .client
        .erase_person(authed(
            api::ErasePersonRequest {
                id: p.id.clone(),
                reason: String::new(),
                legal_ground: api::ErasureGround::DataSubjectRequest as i32,
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let erased = w
        .client
        .erase_person(authed(
            api::ErasePersonRequest {
                id: p.id.clone(),
                reason: "request of the person".into(),
                legal_ground: api::ErasureGround::DataSubjectRequest as i32,
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(erased.erased);
    assert_eq!(erased.full_name, "");
    assert_eq!(erased.phone, "");
    assert_eq!(erased.email, "");
    assert_eq!(erased.gender, Gender::Male as i32);
    assert_eq!(erased.age_band, AgeBand::AgeBand2534 as i32);
    // The name is gone from search too, and an erased person cannot be edited.
    let found = w
        .client
        .list_people(authed(
            api::ListPeopleRequest {
                query: "الخليل".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(found.people.is_empty());
    let status = w
        .client
        .update_person(authed(
            api::UpdatePersonRequest {
                person: Some(api::Person {
                    id: p.id.clone(),
                    full_name: "x".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["full_name".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    // PersonErased is in the outbox, and the relay publishes it.
    let db = w.app.env.db("membership").await.unwrap();
    let published = markaz_kit::testing::eventually(Duration::from_secs(10), || {
        let db = db.clone();
        async move {
            let mut tx = db.system().await.ok()?;
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM markaz_outbox WHERE event_name = 'PersonErased' AND published_at IS NOT NULL",
            )
            .fetch_one(tx.conn())
            .await
            .ok()?;
            (n == 1).then_some(())
        }
    })
    .await;
    assert!(published.is_some(), "PersonErased was published");
}

async fn a_retry_after_erasure_is_refused_not_done_again(backend: Backend) {
    let mut w = world(backend).await;
    let request = api::CreatePersonRequest {
        person: Some(person("ليلى", Gender::Female)),
        request_id: "registration-7".into(),
    };
    let p = w
        .client
        .create_person(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
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
    let status = w
        .client
        .create_person(authed(request, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(!status.message().contains("ليلى"), "{}", status.message());
    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner()
        .people;
    assert_eq!(people.len(), 1, "no second registration");
    assert!(people[0].erased);
    let erasures = |person_id: &str| api::ListErasuresRequest {
        person_id: person_id.into(),
        ..Default::default()
    };
    let listed = w
        .client
        .list_erasures(authed(erasures(&p.id), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((listed.erasures.len(), listed.total_size), (1, 1));
    let intruder = w.app.token(OTHER_TENANT, &[Role::Admin], None);
    let theirs = w
        .client
        .list_erasures(authed(erasures(""), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.total_size, 0);
}

/// Past `TOTAL_CAP` people the count stops and says so; at the cap it is
/// still exact, and a selective filter counts exactly whatever the tenant's
/// size. The copies are written in one statement: 10,000 registrations
/// through the API would be the test's whole run.
async fn a_big_tenants_total_stops_at_the_cap_and_says_so(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", false).await;
    let real = create_person(&mut w, "سارة", Gender::Female).await;
    w.client
        .create_affiliation(authed(
            api::CreateAffiliationRequest {
                affiliation: Some(api::Affiliation {
                    person_id: real.id.clone(),
                    organization_id: org.id.clone(),
                    role: "member".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let cap = markaz_kit::sql::TOTAL_CAP;
    let db = w.app.env.db("membership").await.unwrap();
    let mut tx = db.write(TENANT).await.unwrap();
    // Ids below every UUIDv7 this century: `00000000-0000-7000-8000-1nnnnnnnnnnn`.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3)
         INSERT INTO people (tenant_id, id, full_name, gender, age_band, phone, email,
             branch_id, legal_basis, processing_purpose, search_text, erased_at,
             erasure_reason, version, created_at, updated_at)
         SELECT p.tenant_id, '00000000-0000-7000-8000-' || CAST(100000000000 + n.i AS TEXT),
             p.full_name, p.gender, p.age_band, p.phone, p.email, p.branch_id, p.legal_basis,
             p.processing_purpose, p.search_text, p.erased_at, p.erasure_reason, p.version,
             p.created_at, p.updated_at
         FROM n, people p WHERE p.tenant_id = $1 AND p.id = $2",
    )
    .bind(TENANT)
    .bind(&real.id)
    .bind(cap)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let list = |organization_id: &str| api::ListPeopleRequest {
        page_size: 2,
        organization_id: organization_id.into(),
        ..Default::default()
    };
    let all = w
        .client
        .list_people(authed(list(""), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (all.people.len(), all.total_size, all.total_size_is_estimate),
        (2, cap as i32, true),
        "{} people: the cap, marked",
        cap + 1
    );
    let members = w
        .client
        .list_people(authed(list(&org.id), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (members.total_size, members.total_size_is_estimate),
        (1, false)
    );

    let mut tx = db.write(TENANT).await.unwrap();
    sqlx::query("DELETE FROM people WHERE tenant_id = $1 AND id = $2")
        .bind(TENANT)
        .bind(format!(
            "00000000-0000-7000-8000-{}",
            100_000_000_000_i64 + cap
        ))
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let at_cap = w
        .client
        .list_people(authed(list(""), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (at_cap.total_size, at_cap.total_size_is_estimate),
        (cap as i32, false),
        "exactly the cap is a count"
    );
}

async fn concurrent_affiliations_leave_one_and_end_once(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", false).await;
    let p = create_person(&mut w, "مريم", Gender::Female).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut client = w.client.clone();
        let token = w.staff.clone();
        let (person_id, organization_id) = (p.id.clone(), org.id.clone());
        tasks.push(tokio::spawn(async move {
            client
                .create_affiliation(authed(
                    api::CreateAffiliationRequest {
                        affiliation: Some(api::Affiliation {
                            person_id,
                            organization_id,
                            role: "member".into(),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    &token,
                ))
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(a) => created.push(a),
            Err(s) => assert_eq!(s.code(), Code::AlreadyExists, "{s:?}"),
        }
    }
    assert_eq!(created.len(), 1, "one active affiliation");

    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut client = w.client.clone();
        let token = w.staff.clone();
        let id = created[0].id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .end_affiliation(authed(
                    api::EndAffiliationRequest { id, end_date: None },
                    &token,
                ))
                .await
        }));
    }
    let mut ended = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ended += 1,
            Err(s) => assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}"),
        }
    }
    assert_eq!(ended, 1, "ended once");
    let db = w.app.env.db("membership").await.unwrap();
    let mut tx = db.system().await.unwrap();
    let events: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM markaz_outbox WHERE event_name = 'AffiliationEnded'",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!(events, 1, "one AffiliationEnded");
}

/// A name with a bidi override is refused with its field named, nothing
/// written; one with a zero-width space is kept byte for byte and found by
/// the letters people see.
async fn deceiving_characters_are_refused_and_invisible_ones_do_not_hide_a_name(backend: Backend) {
    let mut w = world(backend).await;
    let refused = w
        .client
        .create_person(authed(
            api::CreatePersonRequest {
                person: Some(person("Amina\u{202E}txt.exe", Gender::Female)),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&refused), ["person.full_name"]);
    let hidden = create_person(&mut w, "Am\u{200b}ina Saleh", Gender::Female).await;
    assert_eq!(hidden.full_name, "Am\u{200b}ina Saleh", "stored as sent");
    let found = w
        .client
        .list_people(authed(
            api::ListPeopleRequest {
                query: "amina".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .people;
    assert_eq!(found.len(), 1, "found by the letters people see");
}

/// By organization the people come from its active affiliations, past the
/// page's cursor: paged in id order, an ended affiliation left out, another
/// organization's people never in.
async fn an_organizations_people_are_paged_from_its_active_affiliations(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", false).await;
    let other = create_org(&mut w, "أخرى", "Other", false).await;
    let mut members = Vec::new();
    for (i, name) in ["سارة", "خالد", "ليلى", "عمر"].iter().enumerate() {
        let p = create_person(&mut w, name, Gender::Female).await;
        let organization_id = if i == 3 {
            other.id.clone()
        } else {
            org.id.clone()
        };
        let a = w
            .client
            .create_affiliation(authed(
                api::CreateAffiliationRequest {
                    affiliation: Some(api::Affiliation {
                        person_id: p.id.clone(),
                        organization_id,
                        role: "member".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &w.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        members.push((p.id, a.id));
    }
    let gone = create_person(&mut w, "نور", Gender::Female).await;
    let ended = w
        .client
        .create_affiliation(authed(
            api::CreateAffiliationRequest {
                affiliation: Some(api::Affiliation {
                    person_id: gone.id.clone(),
                    organization_id: org.id.clone(),
                    role: "member".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    w.client
        .end_affiliation(authed(
            api::EndAffiliationRequest {
                id: ended.id,
                end_date: None,
            },
            &w.staff,
        ))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = w
            .client
            .list_people(authed(
                api::ListPeopleRequest {
                    page_size: 2,
                    page_token: token,
                    organization_id: org.id.clone(),
                    ..Default::default()
                },
                &w.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.people.len() <= 2);
        assert_eq!(
            page.total_size, 3,
            "the three active members, on every page"
        );
        seen.extend(page.people.into_iter().map(|p| p.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let mut expected: Vec<String> = members[..3].iter().map(|(p, _)| p.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected);
}
