//! Membership's copies (`markaz-membership-copies`): erasure honoured, and the
//! copies grants kept itself before migration 4 carried over.

use crate::world::*;

both_backends!(
    erasure_is_honoured_in_the_copies,
    copies_kept_before_migration_4_carry_over,
);

async fn erasure_is_honoured_in_the_copies(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let p = w.under_review(&call, &org).await;
    let person = w.person("سلمى الأحمد").await;
    let create = api::CreateReviewerRequest {
        reviewer: Some(api::Reviewer {
            person_id: person.clone(),
            subject: "salma".into(),
            ..Default::default()
        }),
        request_id: "reviewer-salma".into(),
    };
    let reviewer = w
        .client
        .create_reviewer(authed(create.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let token = w.token_of("salma", &[Role::Reviewer], None);
    assert_eq!(reviewer.display_name, "سلمى الأحمد");
    w.assign(&p.id, &reviewer.id).await.unwrap();
    w.score(&p.id, &token, 4, 4).await.unwrap();

    w.deliver(
        "membership",
        ev::PersonErased {
            person_id: reviewer.person_id.clone(),
            ..Default::default()
        },
    )
    .await;
    // A late update does not bring the name back.
    w.deliver(
        "membership",
        ev::PersonUpdated {
            person: Some(ev::PersonSnapshot {
                id: reviewer.person_id.clone(),
                full_name: "سلمى الأحمد".into(),
                gender: Gender::Female as i32,
                version: 7,
                ..Default::default()
            }),
        },
    )
    .await;
    let after = w
        .client
        .get_reviewer(authed(
            api::GetReviewerRequest {
                id: reviewer.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.display_name, "");
    assert_eq!(after.subject, "");
    assert!(!after.active);
    // The erased person's sign-in no longer reaches anything.
    let gone = w.get_proposal(&p.id, &token).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    // Nothing of the name is left in grants' database.
    let mut tx = w.db.read(TENANT).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM membership_people WHERE full_name <> ''")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(n, 0);
    // Nor in the stored reply of the idempotent create: a retry does not
    // bring the name back, and is refused rather than done again.
    let retry = w
        .client
        .create_reviewer(authed(create, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&retry), "REQUEST_ERASED");
    // The score given before stays a record of the review.
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 1);
    // An erased person cannot become a reviewer again.
    let again = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: reviewer.person_id.clone(),
                    subject: "new-subject".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again), "PERSON_UNKNOWN");
}

async fn copies_kept_before_migration_4_carry_over(backend: Backend) {
    let env = markaz_kit::testing::TestEnv::new(backend);
    let (url, schema) = markaz_kit::app::database_of(&env.config, &env.storage, "grants").unwrap();
    markaz_kit::migrate::run(&url, schema.as_deref(), &markaz_grants::MIGRATIONS[..3])
        .await
        .unwrap();
    // Copies as grants kept them itself: an organization whose snapshot
    // arrived (fields at version 2, status at 3), one known only from an
    // incubation change, a person and one erased, an affiliation in force
    // and one ended.
    let (org, pending, person, erased) = (new_id(), new_id(), new_id(), new_id());
    let (member, former) = (new_id(), new_id());
    {
        let db = env.db("grants").await.unwrap();
        let mut tx = db.write(TENANT).await.unwrap();
        for (id, identifier, kind, name, status, fields, status_version) in [
            (
                &org,
                "MKZ-RAQQA-0001",
                "ORGANIZATION_KIND_CSO",
                "جمعية شباب الفرات",
                "INCUBATION_STATUS_INCUBATED",
                2,
                3,
            ),
            (
                &pending,
                "",
                "ORGANIZATION_KIND_UNSPECIFIED",
                "",
                "INCUBATION_STATUS_APPLICANT",
                0,
                4,
            ),
        ] {
            sqlx::query(
                "INSERT INTO organization_copies (tenant_id, id, identifier, kind, name_ar,
                    name_en, governorate, branch_id, fields_version, incubation_status,
                    status_version)
                 VALUES ($1, $2, $3, $4, $5, 'Euphrates Youth', 'Raqqa', 'raqqa', $6, $7, $8)",
            )
            .bind(TENANT)
            .bind(id)
            .bind(identifier)
            .bind(kind)
            .bind(name)
            .bind(fields as i64)
            .bind(status)
            .bind(status_version as i64)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        for (id, name, version, gone) in [(&person, "سلمى الأحمد", 3, 0), (&erased, "", 0, 1)]
        {
            sqlx::query(
                "INSERT INTO person_copies (tenant_id, id, full_name, gender, erased, version)
                 VALUES ($1, $2, $3, 'GENDER_FEMALE', $4, $5)",
            )
            .bind(TENANT)
            .bind(id)
            .bind(name)
            .bind(gone as i64)
            .bind(version as i64)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        for (id, organization, ended) in [(&member, &org, 0), (&former, &pending, 1)] {
            sqlx::query(
                "INSERT INTO affiliation_copies (tenant_id, id, person_id, organization_id, ended)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(TENANT)
            .bind(id)
            .bind(&person)
            .bind(organization)
            .bind(ended as i64)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        db.close().await;
    }
    // The service starts: the library's tables, then migration 4.
    let app = env.start(vec![Arc::new(Grants)]).await.unwrap();
    let mut w = World::on(TestApp { app, env }).await;

    // The copies read through the library as they were.
    let mut tx = w.db.read(TENANT).await.unwrap();
    let copy = markaz_membership_copies::organization(&mut tx, &org)
        .await
        .unwrap()
        .expect("the organization carried over");
    assert_eq!(copy.identifier, "MKZ-RAQQA-0001");
    assert_eq!(copy.kind, OrganizationKind::Cso);
    assert_eq!(copy.name.ar, "جمعية شباب الفرات");
    assert_eq!(copy.governorate, "Raqqa");
    assert_eq!(copy.incubation_status, IncubationStatus::Incubated);
    assert_eq!((copy.fields_version, copy.status_version), (2, 3));
    assert!(copy.is_complete());
    let partial = markaz_membership_copies::organization(&mut tx, &pending)
        .await
        .unwrap()
        .expect("the partial organization carried over");
    assert!(!partial.is_complete(), "its snapshot has not arrived");
    assert_eq!(partial.status_version, 4);
    assert_eq!(partial.incubation_status, IncubationStatus::Applicant);
    let p = markaz_membership_copies::person(&mut tx, &person)
        .await
        .unwrap()
        .expect("the person carried over");
    assert_eq!(
        (p.full_name.as_str(), p.gender, p.version, p.erased),
        ("سلمى الأحمد", Gender::Female, 3, false)
    );
    let gone = markaz_membership_copies::person(&mut tx, &erased)
        .await
        .unwrap()
        .expect("the tombstone carried over");
    assert!(gone.erased && gone.full_name.is_empty());
    assert!(
        markaz_membership_copies::is_affiliated(&mut tx, &person, &org)
            .await
            .unwrap()
    );
    assert!(
        !markaz_membership_copies::is_affiliated(&mut tx, &person, &pending)
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    // The old tables are gone (each asked in a transaction of its own: on
    // PostgreSQL a failed statement fails the rest of its transaction).
    for table in ["organization_copies", "person_copies", "affiliation_copies"] {
        let mut tx = w.db.read(TENANT).await.unwrap();
        let read = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT 1 FROM {table}")))
            .fetch_optional(tx.conn())
            .await;
        let error = read.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.contains(table),
            "{table} is dropped, so reading it fails naming it: {error:?}"
        );
        tx.rollback().await.ok();
    }

    // And grants works on them: the organization is eligible and applies
    // under its name; an older snapshot changes nothing; the person becomes a
    // reviewer by name and is kept away by the affiliation carried over; the
    // erased person cannot become one.
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let e = w.eligibility(&call.id, &org).await;
    assert!(e.eligible, "{:?}", e.unmet);
    w.deliver(
        "membership",
        ev::PersonUpdated {
            person: Some(ev::PersonSnapshot {
                id: person.clone(),
                full_name: "قديم".into(),
                gender: Gender::Female as i32,
                version: 2,
                ..Default::default()
            }),
        },
    )
    .await;
    let p = w.under_review(&call, &org).await;
    let reviewer = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: person.clone(),
                    subject: "salma".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reviewer.display_name, "سلمى الأحمد");
    let refused = w.assign(&p.id, &reviewer.id).await.unwrap_err();
    let (kind, why) = precondition_message(&refused);
    assert_eq!(kind, "CONFLICT_OF_INTEREST");
    assert!(why.contains("affiliated"), "{why}");
    let again = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: erased.clone(),
                    subject: "erased".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again), "PERSON_UNKNOWN");
}
