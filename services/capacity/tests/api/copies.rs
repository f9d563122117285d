//! Membership's copies as capacity keeps them (`markaz-membership-copies`):
//! newer snapshots only, each event once, and the copies capacity kept in
//! tables of its own before carried over into the library's.

use markaz_kit::testing::TestEnv;

use crate::world::*;

both_backends!(
    copies_apply_only_newer_snapshots_and_each_event_once,
    copies_kept_before_migration_2_carry_over,
);

async fn copies_apply_only_newer_snapshots_and_each_event_once(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::IncubatedOnly, 2)).await;
    open(&mut w, &course.id).await;

    // Version 3 (incubated) arrives before version 2 (applicant).
    let org = new_id();
    let snapshot = |status, v| ev::OrganizationUpdated {
        organization: Some(org_snapshot(&org, status, v)),
    };
    w.membership(
        TENANT,
        ev::OrganizationRegistered {
            organization: Some(org_snapshot(&org, IncubationStatus::Applicant, 1)),
        },
    )
    .await;
    w.membership(TENANT, snapshot(IncubationStatus::Incubated, 3))
        .await;
    w.membership(TENANT, snapshot(IncubationStatus::Applicant, 2))
        .await;
    let p = known_person(
        &w,
        TENANT,
        "أ",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&org),
    )
    .await;
    enrol(&mut w, &course.id, &p, &org).await.unwrap();

    // The incubation change arrives before the organization itself.
    let late = new_id();
    w.membership(
        TENANT,
        ev::IncubationStatusChanged {
            organization_id: late.clone(),
            from: IncubationStatus::Applicant as i32,
            to: IncubationStatus::Incubated as i32,
            reason: String::new(),
            changed_at: None,
            version: 2,
        },
    )
    .await;
    w.membership(
        TENANT,
        ev::OrganizationRegistered {
            organization: Some(org_snapshot(&late, IncubationStatus::Applicant, 1)),
        },
    )
    .await;
    let q = known_person(
        &w,
        TENANT,
        "ب",
        Gender::Male,
        AgeBand::AgeBand2534,
        Some(&late),
    )
    .await;
    enrol(&mut w, &course.id, &q, &late).await.unwrap();

    // The same event twice: the inbox applies it once.
    let person = new_id();
    let registered = envelope(
        TENANT,
        &ev::PersonRegistered {
            person: Some(person_snapshot(
                &person,
                "ج",
                Gender::Male,
                AgeBand::AgeBand1824,
                1,
            )),
        },
    );
    assert_eq!(w.deliver(&registered).await, Applied::Applied);
    assert_eq!(w.deliver(&registered).await, Applied::Duplicate);
    // A newer snapshot changes the name; an older one does not undo it.
    for (name, v) in [("جديد", 3), ("قديم", 2)] {
        w.membership(
            TENANT,
            ev::PersonUpdated {
                person: Some(person_snapshot(
                    &person,
                    name,
                    Gender::Male,
                    AgeBand::AgeBand1824,
                    v,
                )),
            },
        )
        .await;
    }
    let open_course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    open(&mut w, &open_course.id).await;
    let e = enrol(&mut w, &open_course.id, &person, "").await.unwrap();
    assert_eq!(e.participant_name, "جديد");

    // An erasure that arrives before the person: no name, ever.
    let ghost = new_id();
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: ghost.clone(),
            ..Default::default()
        },
    )
    .await;
    w.membership(
        TENANT,
        ev::PersonRegistered {
            person: Some(person_snapshot(
                &ghost,
                "شبح",
                Gender::Female,
                AgeBand::AgeBand2534,
                1,
            )),
        },
    )
    .await;
    let refused = enrol(&mut w, &open_course.id, &ghost, "")
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "PERSON_ERASED");

    // Events of other tenants stay there.
    let foreign = known_person(
        &w,
        OTHER_TENANT,
        "د",
        Gender::Male,
        AgeBand::AgeBand2534,
        None,
    )
    .await;
    let not_here = enrol(&mut w, &open_course.id, &foreign, "")
        .await
        .unwrap_err();
    assert_eq!(precondition(&not_here), "PERSON_NOT_KNOWN");

    // Events membership publishes that capacity does not need are ignored.
    w.membership(TENANT, ev::CourseScheduled::default()).await;
}

async fn copies_kept_before_migration_2_carry_over(backend: Backend) {
    let env = TestEnv::new(backend);
    let (url, schema) =
        markaz_kit::app::database_of(&env.config, &env.storage, markaz_capacity::NAME).unwrap();
    markaz_kit::migrate::run_all(
        &url,
        schema.as_deref(),
        &[],
        &markaz_capacity::MIGRATIONS[..1],
    )
    .await
    .unwrap();
    // Copies as capacity kept them itself: an organization whose snapshot
    // arrived (version 2), one known only from an incubation change, a
    // person and one erased, an affiliation in force and one ended.
    let (org, pending, person, erased) = (new_id(), new_id(), new_id(), new_id());
    let (member, former) = (new_id(), new_id());
    {
        let db = env.db(markaz_capacity::NAME).await.unwrap();
        let mut tx = db.write(TENANT).await.unwrap();
        for (id, kind, name, status, version, complete) in [
            (
                &org,
                "ORGANIZATION_KIND_CSO",
                "جمعية شباب الفرات",
                "INCUBATION_STATUS_INCUBATED",
                2,
                1,
            ),
            (
                &pending,
                "ORGANIZATION_KIND_UNSPECIFIED",
                "",
                "INCUBATION_STATUS_APPLICANT",
                3,
                0,
            ),
        ] {
            sqlx::query(
                "INSERT INTO organizations (tenant_id, id, kind, name_ar, name_en, branch_id,
                    incubation_status, version, complete, updated_at)
                 VALUES ($1, $2, $3, $4, 'Euphrates Youth', 'raqqa', $5, $6, $7, 1)",
            )
            .bind(TENANT)
            .bind(id)
            .bind(kind)
            .bind(name)
            .bind(status)
            .bind(version as i64)
            .bind(complete as i64)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        for (id, name, version, gone) in [(&person, "سلمى الأحمد", 3, 0), (&erased, "", 0, 1)]
        {
            sqlx::query(
                "INSERT INTO people (tenant_id, id, full_name, gender, age_band, branch_id,
                    version, erased, updated_at)
                 VALUES ($1, $2, $3, 'GENDER_FEMALE', 'AGE_BAND_25_34', 'raqqa', $4, $5, 1)",
            )
            .bind(TENANT)
            .bind(id)
            .bind(name)
            .bind(version as i64)
            .bind(gone as i64)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        for (id, organization, ended) in [(&member, &org, 0), (&former, &pending, 1)] {
            sqlx::query(
                "INSERT INTO affiliations (tenant_id, id, person_id, organization_id, ended)
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
    // The service starts: the library's tables, then migration 2.
    let app = env.start(vec![Arc::new(Capacity)]).await.unwrap();
    let mut w = World::on(TestApp { app, env }).await;

    // The copies read through the library as they were.
    let db = w.app.app.db(markaz_capacity::NAME).unwrap().clone();
    let mut tx = db.read(TENANT).await.unwrap();
    let copy = markaz_membership_copies::organization(&mut tx, &org)
        .await
        .unwrap()
        .expect("the organization carried over");
    assert_eq!(copy.kind, OrganizationKind::Cso);
    assert_eq!(copy.name.ar, "جمعية شباب الفرات");
    assert_eq!(copy.incubation_status, IncubationStatus::Incubated);
    assert_eq!((copy.fields_version, copy.status_version), (2, 2));
    assert!(copy.is_complete());
    let partial = markaz_membership_copies::organization(&mut tx, &pending)
        .await
        .unwrap()
        .expect("the partial organization carried over");
    assert!(!partial.is_complete(), "its snapshot has not arrived");
    assert_eq!(partial.status_version, 3);
    assert_eq!(partial.incubation_status, IncubationStatus::Applicant);
    let p = markaz_membership_copies::person(&mut tx, &person)
        .await
        .unwrap()
        .expect("the person carried over");
    assert_eq!(
        (
            p.full_name.as_str(),
            p.gender,
            p.age_band,
            p.version,
            p.erased
        ),
        ("سلمى الأحمد", Gender::Female, AgeBand::AgeBand2534, 3, false)
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
    for table in ["organizations", "people", "affiliations"] {
        let mut tx = db.read(TENANT).await.unwrap();
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

    // And capacity works on them: an older snapshot changes nothing, the
    // member enrols as such, by name, in a course for incubated members.
    w.membership(
        TENANT,
        ev::PersonUpdated {
            person: Some(person_snapshot(
                &person,
                "قديم",
                Gender::Female,
                AgeBand::AgeBand2534,
                2,
            )),
        },
    )
    .await;
    let course = create_course(&mut w, course_body(10, Audience::IncubatedOnly, 2)).await;
    open(&mut w, &course.id).await;
    let e = enrol(&mut w, &course.id, &person, &org).await.unwrap();
    assert_eq!(e.participant_name, "سلمى الأحمد");
    assert_eq!(e.gender, Gender::Female as i32);
    let refused = enrol(&mut w, &course.id, &erased, "").await.unwrap_err();
    assert_eq!(precondition(&refused), "PERSON_ERASED");
}
