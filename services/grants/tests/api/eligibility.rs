//! Eligibility: decided on grants' copies of membership's organizations and
//! of capacity's completed courses, revoked certificates included, and on
//! completions kept before migration 2.

use crate::world::*;

both_backends!(
    eligibility_follows_the_copies_of_membership_and_capacity,
    revoked_certificates_stop_counting_for_eligibility,
    topics_completed_before_migration_2_still_count,
);

async fn eligibility_follows_the_copies_of_membership_and_capacity(backend: Backend) {
    let mut w = world(backend).await;
    let rules = api::EligibilityRules {
        incubation_statuses: vec![IncubationStatus::Incubated as i32],
        branch_ids: vec!["raqqa".into()],
        organization_kinds: vec![OrganizationKind::Cso as i32],
        required_course_topic: PROPOSAL_WRITING.into(),
    };
    let call = w.call(rules, 1_200_000, false).await;
    let org = w
        .organization("منظمة متقدمة", IncubationStatus::Applicant)
        .await;
    let partner = w.partner(&org);
    let draft = w.draft(&call, &org).await;
    let check = |w: &mut World| {
        let mut c = w.client.clone();
        let (call_id, token) = (call.id.clone(), partner.clone());
        async move {
            c.check_eligibility(authed(
                api::CheckEligibilityRequest {
                    call_id,
                    organization_id: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
        }
    };
    let submit = |w: &mut World| {
        let mut c = w.client.clone();
        let (id, token) = (draft.id.clone(), partner.clone());
        async move {
            c.submit_proposal(authed(
                api::SubmitProposalRequest {
                    id,
                    etag: String::new(),
                },
                &token,
            ))
            .await
        }
    };

    // An applicant without the course: two rules unmet, submission refused.
    let e = check(&mut w).await;
    assert!(!e.eligible);
    assert_eq!(e.unmet.len(), 2, "{:?}", e.unmet);
    assert!(e.unmet[0].contains("applicant"));
    assert!(e.unmet[1].contains(PROPOSAL_WRITING));
    let refused = submit(&mut w).await.unwrap_err();
    let (kind, why) = precondition_message(&refused);
    assert_eq!(kind, "NOT_ELIGIBLE");
    assert!(
        why.contains("incubated") && why.contains(PROPOSAL_WRITING),
        "{why}"
    );

    // Incubated (membership's event): one rule left.
    w.incubation(
        &org,
        IncubationStatus::Applicant,
        IncubationStatus::Incubated,
        2,
    )
    .await;
    // A late, older snapshot does not take the status back.
    w.deliver(
        "membership",
        ev::OrganizationUpdated {
            organization: Some(ev::OrganizationSnapshot {
                id: org.clone(),
                kind: OrganizationKind::Cso as i32,
                name: Some(text("منظمة متقدمة", "x")),
                branch_id: "raqqa".into(),
                incubation_status: IncubationStatus::Applicant as i32,
                version: 1,
                ..Default::default()
            }),
        },
    )
    .await;
    let e = check(&mut w).await;
    assert_eq!(e.unmet.len(), 1, "{:?}", e.unmet);
    assert!(submit(&mut w).await.is_err());

    // A member completed proposal writing (capacity's event): eligible.
    w.completed_course(&org, PROPOSAL_WRITING).await;
    assert!(check(&mut w).await.eligible);
    let submitted = submit(&mut w).await.unwrap().into_inner();
    assert_eq!(submitted.state, api::ProposalState::Submitted as i32);

    // Other branches and kinds are named too; staff may check any organization.
    let elsewhere = new_id();
    w.deliver(
        "membership",
        ev::OrganizationRegistered {
            organization: Some(ev::OrganizationSnapshot {
                id: elsewhere.clone(),
                kind: OrganizationKind::Initiative as i32,
                branch_id: "deir-ez-zor".into(),
                incubation_status: IncubationStatus::Incubated as i32,
                version: 3,
                ..Default::default()
            }),
        },
    )
    .await;
    w.deliver(
        "capacity",
        ev::CertificateIssued {
            certificate_id: new_id(),
            code: "X".into(),
            course_id: new_id(),
            person_id: new_id(),
            organization_id: elsewhere.clone(),
            topic_codes: vec![PROPOSAL_WRITING.into()],
            issued_at: None,
        },
    )
    .await;
    let e = w
        .client
        .check_eligibility(authed(
            api::CheckEligibilityRequest {
                call_id: call.id.clone(),
                organization_id: elsewhere.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.unmet.len(), 2, "{:?}", e.unmet);
    assert!(e.unmet[0].contains("deir-ez-zor"));
    assert!(e.unmet[1].contains("INITIATIVE"));

    // An organization grants has never heard of cannot apply.
    let stranger = new_id();
    let unknown = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(content(&call.id)),
                request_id: String::new(),
            },
            &w.partner(&stranger),
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&unknown), "ORGANIZATION_UNKNOWN");
}

async fn revoked_certificates_stop_counting_for_eligibility(backend: Backend) {
    let mut w = world(backend).await;
    let rules = api::EligibilityRules {
        required_course_topic: PROPOSAL_WRITING.into(),
        ..incubated_only()
    };
    let call = w.call(rules, 1_200_000, false).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let (course, first, second) = (new_id(), new_id(), new_id());
    let completed = ev::CourseCompleted {
        course_id: course.clone(),
        topic_codes: vec![PROPOSAL_WRITING.into(), "monitoring-evaluation".into()],
        completers: [&first, &second]
            .iter()
            .map(|p| ev::Completer {
                person_id: p.to_string(),
                organization_id: org.clone(),
                gender: Gender::Female as i32,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let certificate = |person: &str, org: &str, course: &str| ev::CertificateIssued {
        certificate_id: new_id(),
        code: "RAQ-1".into(),
        course_id: course.into(),
        person_id: person.into(),
        organization_id: org.into(),
        topic_codes: vec![PROPOSAL_WRITING.into()],
        issued_at: None,
    };
    let revoked = |c: &ev::CertificateIssued| ev::CertificateRevoked {
        certificate_id: c.certificate_id.clone(),
        code: c.code.clone(),
        course_id: c.course_id.clone(),
        person_id: c.person_id.clone(),
        organization_id: c.organization_id.clone(),
        reason: "issued in error".into(),
    };
    let (cert1, cert2) = (
        certificate(&first, &org, &course),
        certificate(&second, &org, &course),
    );
    w.deliver("capacity", completed.clone()).await;
    w.deliver("capacity", cert1.clone()).await;
    w.deliver("capacity", cert2.clone()).await;
    assert!(w.eligibility(&call.id, &org).await.eligible);

    // One of two certificates revoked: the other still holds the topic.
    w.deliver("capacity", revoked(&cert1)).await;
    assert!(w.eligibility(&call.id, &org).await.eligible);
    // Both revoked: the topic is no longer completed.
    w.deliver("capacity", revoked(&cert2)).await;
    let e = w.eligibility(&call.id, &org).await;
    assert!(!e.eligible);
    assert_eq!(e.unmet.len(), 1, "{:?}", e.unmet);
    assert!(e.unmet[0].contains(PROPOSAL_WRITING), "{:?}", e.unmet);
    let draft = w.draft(&call, &org).await;
    let refused = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "NOT_ELIGIBLE");
    // The course's completion delivered again (at least once) does not
    // bring the revoked certificates back.
    w.deliver("capacity", completed.clone()).await;
    w.deliver("capacity", cert2.clone()).await;
    assert!(!w.eligibility(&call.id, &org).await.eligible);

    // Out of order: a revocation that arrives before the completion it
    // revokes still wins.
    let late = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let (course2, person) = (new_id(), new_id());
    let cert = certificate(&person, &late, &course2);
    w.deliver("capacity", revoked(&cert)).await;
    w.deliver("capacity", cert.clone()).await;
    w.deliver(
        "capacity",
        ev::CourseCompleted {
            course_id: course2.clone(),
            completers: vec![ev::Completer {
                person_id: person.clone(),
                organization_id: late.clone(),
                ..Default::default()
            }],
            ..completed.clone()
        },
    )
    .await;
    assert!(!w.eligibility(&call.id, &late).await.eligible);

    // Another course on the topic completed: eligible again.
    w.completed_course(&org, PROPOSAL_WRITING).await;
    assert!(w.eligibility(&call.id, &org).await.eligible);
    w.client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap();
}

/// Migration 2 moves the topics kept by migration 1 (per organization, no
/// person) into the completions that revocations now apply to.
async fn topics_completed_before_migration_2_still_count(backend: Backend) {
    let env = markaz_kit::testing::TestEnv::new(backend);
    let (url, schema) = markaz_kit::app::database_of(&env.config, &env.storage, "grants").unwrap();
    markaz_kit::migrate::run(&url, schema.as_deref(), &markaz_grants::MIGRATIONS[..1])
        .await
        .unwrap();
    let org = new_id();
    {
        let db = env.db("grants").await.unwrap();
        let mut tx = db.write(TENANT).await.unwrap();
        sqlx::query(
            "INSERT INTO organization_copies (tenant_id, id, identifier, kind, name_ar, name_en,
                governorate, branch_id, fields_version, incubation_status, status_version)
             VALUES ($1, $2, 'MKZ-1', 'ORGANIZATION_KIND_CSO', 'منظمة', '', 'Raqqa', 'raqqa', 1,
                'INCUBATION_STATUS_INCUBATED', 1)",
        )
        .bind(TENANT)
        .bind(&org)
        .execute(tx.conn())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO completed_topics (tenant_id, organization_id, topic_code, first_course_id)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(TENANT)
        .bind(&org)
        .bind(PROPOSAL_WRITING)
        .bind(new_id())
        .execute(tx.conn())
        .await
        .unwrap();
        tx.commit().await.unwrap();
        db.close().await;
    }
    // The service starts: migration 2 runs.
    let app = env.start(vec![Arc::new(Grants)]).await.unwrap();
    let mut w = World::on(TestApp { app, env }).await;
    let rules = api::EligibilityRules {
        required_course_topic: PROPOSAL_WRITING.into(),
        ..incubated_only()
    };
    let call = w.call(rules, 1_200_000, false).await;
    let e = w.eligibility(&call.id, &org).await;
    assert!(e.eligible, "{:?}", e.unmet);
}
