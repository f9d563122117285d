use super::world::*;

markaz_kit::both_backends!(
    organizations_are_registered_read_listed_and_updated,
    arabic_text_round_trips_byte_for_byte,
    lists_filter_and_page_with_stable_tokens,
    incubation_follows_its_life_cycle_and_keeps_history,
    stale_etags_are_refused,
    concurrent_writers_queue_and_identifiers_stay_unique,
    numbers_are_each_tenants_own_and_so_is_the_prefix,
);

/// One tenant's registrations do not show in another's numbers, and a
/// tenant cannot take an identifier in another tenant's prefix.
async fn numbers_are_each_tenants_own_and_so_is_the_prefix(backend: Backend) {
    let mut w = world(backend).await;
    for _ in 0..3 {
        create_org(&mut w, ARABIC_NAME, "Euphrates Youth", false).await;
    }
    let deir = w.app.token(OTHER_TENANT, &[Role::Staff], None);
    let mut unbranched = organization("جمعية دير الزور", "Deir Society");
    unbranched.branch_id.clear();
    let create = |org: api::Organization| api::CreateOrganizationRequest {
        organization: Some(org),
        apply_for_incubation: false,
        request_id: String::new(),
    };
    let first = w
        .client
        .create_organization(authed(create(unbranched.clone()), &deir))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.identifier, "MKZ-DEIR-CSC-0001",
        "its own count, from one"
    );

    let mut squatting = unbranched.clone();
    squatting.identifier = "MKZ-RAQQA-CSC-0100".into();
    let refused = w
        .client
        .create_organization(authed(create(squatting), &deir))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&refused),
        ["organization.identifier"],
        "{refused:?}"
    );
    let mut own = unbranched;
    own.identifier = "MKZ-DEIR-CSC-0100".into();
    let kept = w
        .client
        .create_organization(authed(create(own), &deir))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.identifier, "MKZ-DEIR-CSC-0100");
    assert_eq!(
        count_orgs(&mut w.client, &deir).await,
        2,
        "nothing else written"
    );
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 3);
}

async fn organizations_are_registered_read_listed_and_updated(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, ARABIC_NAME, "Euphrates Youth", false).await;
    assert_eq!(org.identifier, "MKZ-RAQQA-CSC-0001");
    assert_eq!(org.incubation_status, IncubationStatus::None as i32);
    assert!(!org.etag.is_empty());
    let second = create_org(&mut w, "منظمة ثانية", "Second", true).await;
    assert_eq!(second.identifier, "MKZ-RAQQA-CSC-0002");
    assert_eq!(second.incubation_status, IncubationStatus::Applicant as i32);

    let got = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, org);

    let mut change = org.clone();
    change.acronym = "EY".into();
    change.kind = OrganizationKind::Initiative as i32;
    let updated = w
        .client
        .update_organization(authed(
            api::UpdateOrganizationRequest {
                organization: Some(change),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["acronym".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.acronym, "EY");
    // Only the masked field changed.
    assert_eq!(updated.kind, OrganizationKind::Cso as i32);
    assert_ne!(updated.etag, org.etag);
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 2);
}

async fn arabic_text_round_trips_byte_for_byte(backend: Backend) {
    let mut w = world(backend).await;
    // Mixed scripts, combining marks (tashkeel), a right-to-left mark and an emoji.
    let tricky = "جَمْعِيَّة \u{200F}الفرات‎ – Euphrates 🌿";
    let org = create_org(&mut w, tricky, "", false).await;
    let got = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name.unwrap().ar.as_bytes(), tricky.as_bytes());
    let p = create_person(&mut w, "فاطمة الزهراء", Gender::Female).await;
    assert_eq!(p.full_name.as_bytes(), "فاطمة الزهراء".as_bytes());
    // Found by Arabic text in a list query.
    let found = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                query: "الفرات".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.organizations.len(), 1);
    assert_eq!(found.organizations[0].id, org.id);
}

async fn lists_filter_and_page_with_stable_tokens(backend: Backend) {
    let mut w = world(backend).await;
    for i in 0..5 {
        create_org(
            &mut w,
            &format!("منظمة {i}"),
            &format!("Org {i}"),
            i % 2 == 0,
        )
        .await;
    }
    // Kind and status filters.
    let applicants = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                incubation_status: IncubationStatus::Applicant as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(applicants.organizations.len(), 3);
    assert_eq!(
        (applicants.total_size, applicants.total_size_is_estimate),
        (3, false)
    );
    // The filter's second page answers the same total.
    let applicants_by_two = |page_token: String| api::ListOrganizationsRequest {
        incubation_status: IncubationStatus::Applicant as i32,
        page_size: 2,
        page_token,
        ..Default::default()
    };
    let first = w
        .client
        .list_organizations(authed(applicants_by_two(String::new()), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let second = w
        .client
        .list_organizations(authed(applicants_by_two(first.next_page_token), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        [
            (first.organizations.len(), first.total_size),
            (second.organizations.len(), second.total_size)
        ],
        [(2, 3), (1, 3)]
    );
    // English text, case-insensitive.
    let one = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                query: "org 3".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((one.organizations.len(), one.total_size), (1, 1));

    // Pages of two: 2 + 2 + 1, in creation order, no repeats; each page
    // counts the whole list as it is then.
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    let mut token = String::new();
    loop {
        let page = w
            .client
            .list_organizations(authed(
                api::ListOrganizationsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &w.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(
            page.organizations
                .iter()
                .map(|o| o.name.clone().unwrap().en),
        );
        totals.push(page.total_size);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // A new organization created mid-way appears at the end, not twice.
        if seen.len() == 2 {
            create_org(&mut w, "متأخرة", "Late", false).await;
        }
    }
    assert_eq!(seen, ["Org 0", "Org 1", "Org 2", "Org 3", "Org 4", "Late"]);
    assert_eq!(
        totals,
        [5, 6, 6],
        "the late one counts from the next page on"
    );

    // A token is only good for the query that made it.
    let first = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                page_size: 1,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let status = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                page_size: 1,
                page_token: first.next_page_token,
                kind: OrganizationKind::Donor as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status), ["page_token"]);
}

async fn incubation_follows_its_life_cycle_and_keeps_history(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", true).await;
    let change = |status: IncubationStatus, reason: &str| api::ChangeIncubationStatusRequest {
        organization_id: org.id.clone(),
        status: status as i32,
        reason: reason.into(),
        etag: String::new(),
    };
    // applicant -> graduated skips incubation: refused with the reason.
    let refused = w
        .client
        .change_incubation_status(authed(change(IncubationStatus::Graduated, ""), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("applicant"),
        "{}",
        refused.message()
    );
    assert!(refused.get_details_precondition_failure().is_some());

    let incubated = w
        .client
        .change_incubation_status(authed(
            change(IncubationStatus::Incubated, "accepted by the committee"),
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        incubated.incubation_status,
        IncubationStatus::Incubated as i32
    );
    w.client
        .change_incubation_status(authed(
            change(IncubationStatus::Graduated, "plan completed"),
            &w.staff,
        ))
        .await
        .unwrap();
    // Withdrawing needs a reason.
    let no_reason = w
        .client
        .change_incubation_status(authed(change(IncubationStatus::Withdrawn, ""), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);

    let history = w
        .client
        .list_incubation_history(authed(
            api::ListIncubationHistoryRequest {
                organization_id: org.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let steps: Vec<(i32, i32)> = history.changes.iter().map(|c| (c.from, c.to)).collect();
    use IncubationStatus as S;
    assert_eq!(
        steps,
        [
            (S::None as i32, S::Applicant as i32),
            (S::Applicant as i32, S::Incubated as i32),
            (S::Incubated as i32, S::Graduated as i32),
        ]
    );
    assert_eq!(history.total_size, 3);
    assert_eq!(history.changes[1].reason, "accepted by the committee");
    assert_eq!(history.changes[1].changed_by, "user-staff");
}

async fn stale_etags_are_refused(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", true).await;
    let mut first = org.clone();
    first.acronym = "A".into();
    w.client
        .update_organization(authed(
            api::UpdateOrganizationRequest {
                organization: Some(first),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap();
    // A second writer still holding the old etag loses.
    let mut second = org.clone();
    second.acronym = "B".into();
    let status = w
        .client
        .update_organization(authed(
            api::UpdateOrganizationRequest {
                organization: Some(second),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    let status = w
        .client
        .change_incubation_status(authed(
            api::ChangeIncubationStatusRequest {
                organization_id: org.id.clone(),
                status: IncubationStatus::Incubated as i32,
                reason: String::new(),
                etag: org.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    let got = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.acronym, "A");
    assert_eq!(got.incubation_status, IncubationStatus::Applicant as i32);
}

async fn concurrent_writers_queue_and_identifiers_stay_unique(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", false).await;
    // Ten updates at once without an etag: none is lost, none fails.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut client = w.client.clone();
        let token = w.staff.clone();
        let id = org.id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .update_organization(authed(
                    api::UpdateOrganizationRequest {
                        organization: Some(api::Organization {
                            id,
                            acronym: format!("A{i}"),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["acronym".into()],
                        }),
                    },
                    &token,
                ))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every concurrent update succeeds");
    }
    let got = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.etag, markaz_kit::rpc::etag(11));

    // Twenty registrations at once: twenty distinct identifiers.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut client = w.client.clone();
        let token = w.staff.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_organization(authed(
                    api::CreateOrganizationRequest {
                        organization: Some(organization(&format!("م {i}"), &format!("O {i}"))),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .map(|r| r.into_inner().identifier)
        }));
    }
    let mut identifiers = Vec::new();
    for t in tasks {
        identifiers.push(t.await.unwrap().expect("created"));
    }
    identifiers.sort();
    identifiers.dedup();
    assert_eq!(identifiers.len(), 20);
}

markaz_kit::both_backends!(numbers_given_before_migration_2_are_never_given_again);

/// A deployment upgraded from the shared sequence: each tenant's own count
/// starts past every number the sequence already gave out.
async fn numbers_given_before_migration_2_are_never_given_again(backend: Backend) {
    let env = markaz_kit::testing::TestEnv::new(backend);
    let (url, schema) =
        markaz_kit::app::database_of(&env.config, &env.storage, markaz_membership::NAME).unwrap();
    markaz_kit::migrate::run_all(
        &url,
        schema.as_deref(),
        &[],
        &markaz_membership::MIGRATIONS[..1],
    )
    .await
    .unwrap();
    let mut given = Vec::new();
    {
        let db = env.db(markaz_membership::NAME).await.unwrap();
        let mut tx = db.write(TENANT).await.unwrap();
        sqlx::query(
            "INSERT INTO tenants (id, name_ar, name_en, identifier_prefix, created_at)
             VALUES ($1, 'مركز الرقة', 'Raqqa', 'MKZ-RAQQA-CSC', 0)",
        )
        .bind(TENANT)
        .execute(tx.conn())
        .await
        .unwrap();
        for _ in 0..3 {
            given.push(tx.next_value("organization_numbers").await.unwrap());
        }
        tx.commit().await.unwrap();
        db.close().await;
    }
    let app = env.start(vec![Arc::new(Membership)]).await.unwrap();
    let app = TestApp { app, env };
    let mut client = MembershipServiceClient::new(app.channel().await);
    let staff = app.token(TENANT, &[Role::Staff], None);
    let mut org = organization(ARABIC_NAME, "Euphrates Youth");
    org.branch_id.clear();
    let created = client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(org),
                apply_for_incubation: false,
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let number: i64 = created
        .identifier
        .strip_prefix("MKZ-RAQQA-CSC-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a generated identifier: {}", created.identifier));
    assert!(
        given.iter().all(|&g| number > g),
        "{number} comes after {given:?}"
    );
}
