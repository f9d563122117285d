//! Erasure in membership: the person named, in every spelling, in every
//! free-text field membership's API takes (the list comes from the
//! descriptors: a field added later fails this test until it is covered),
//! then erased — nothing of them on any read path or in any table, the
//! figures by gender and age band unchanged, and a receipt.

use markaz_kit::testing::erasure::{
    Coverage, EMAIL, FULL_NAME, PHONE, REFUSED, SPELLINGS, mention, message_leaks, table_leaks,
};
use markaz_kit::testing::eventually;

use crate::world::*;

markaz_kit::both_backends!(every_free_text_field_forgets_an_erased_person,);

/// Request fields that hold no prose about anyone.
const EXEMPT: &[&str] = &[
    // A generated-identifier prefix, validated as letters, digits and '-'.
    "Tenant.identifier_prefix",
    // Output only: the identifier membership generates from that prefix.
    "Organization.identifier",
    // A search query: matched, never stored.
    "ListPeopleRequest.query",
    "ListOrganizationsRequest.query",
    // Whoever ran the assessment is a staff account, validated as such.
    "Assessment.assessed_by",
];

async fn every_free_text_field_forgets_an_erased_person(backend: Backend) {
    let mut w = world(backend).await;
    let mut coverage = Coverage::default();
    let mut n = 0;
    let mut next = || {
        n += 1;
        if n % SPELLINGS.len() == REFUSED {
            n += 1;
        }
        mention(n)
    };
    let text = |s: String| {
        Some(LocalizedText {
            ar: s.clone(),
            en: s,
        })
    };

    let branch = api::CreateBranchRequest {
        branch: Some(api::Branch {
            id: "kobani".into(),
            name: text(next()),
            governorate: next(),
            create_time: None,
        }),
    };
    coverage.note(&branch);
    w.client
        .create_branch(authed(branch, &w.admin))
        .await
        .unwrap();
    // A tenant's name is the operator's; the fixture's tenants exist, so a
    // third one carries the mention.
    let tenant = api::CreateTenantRequest {
        tenant: Some(api::Tenant {
            id: "third-csc".into(),
            name: text(next()),
            ..Default::default()
        }),
    };
    coverage.note(&tenant);
    w.client
        .create_tenant(authed(tenant, &w.app.env.operator_token()))
        .await
        .unwrap();

    let create_org = api::CreateOrganizationRequest {
        organization: Some(api::Organization {
            name: text(next()),
            acronym: "NK".into(),
            description: text(next()),
            governorate: next(),
            email: EMAIL.into(),
            phone: PHONE.into(),
            ..organization("جمعية", "Association")
        }),
        apply_for_incubation: true,
        request_id: "org-1".into(),
    };
    coverage.note(&create_org);
    let org = w
        .client
        .create_organization(authed(create_org, &w.staff))
        .await
        .unwrap()
        .into_inner();
    let mut acronym = org.clone();
    // At most 20 characters: the short spelling.
    acronym.acronym = SPELLINGS[6].into();
    let update = api::UpdateOrganizationRequest {
        organization: Some(acronym),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["acronym".into()],
        }),
    };
    coverage.note(&update);
    let org = w
        .client
        .update_organization(authed(update, &w.staff))
        .await
        .unwrap()
        .into_inner();
    let change = api::ChangeIncubationStatusRequest {
        organization_id: org.id.clone(),
        status: IncubationStatus::Incubated as i32,
        reason: next(),
        etag: org.etag.clone(),
    };
    coverage.note(&change);
    w.client
        .change_incubation_status(authed(change, &w.staff))
        .await
        .unwrap();

    let mut her = person(FULL_NAME, Gender::Female);
    her.email = EMAIL.into();
    her.phone = PHONE.into();
    her.processing_purpose = next();
    let create = api::CreatePersonRequest {
        person: Some(her),
        request_id: "person-1".into(),
    };
    coverage.note(&create);
    let nadia = w
        .client
        .create_person(authed(create.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    // Someone else, with a number of his own.
    let omar = w
        .client
        .create_person(authed(
            api::CreatePersonRequest {
                person: Some(api::Person {
                    phone: "+963 933 000 111".into(),
                    ..person("عمر السيد", Gender::Male)
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut renamed = nadia.clone();
    renamed.full_name = format!("{FULL_NAME} الحسن");
    let update = api::UpdatePersonRequest {
        person: Some(renamed),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["full_name".into()],
        }),
    };
    coverage.note(&update);
    w.client
        .update_person(authed(update, &w.staff))
        .await
        .unwrap();
    for (who, request_id) in [(&nadia.id, "affiliate-1"), (&omar.id, "affiliate-2")] {
        let affiliate = api::CreateAffiliationRequest {
            affiliation: Some(api::Affiliation {
                person_id: who.clone(),
                organization_id: org.id.clone(),
                role: format!("أمين الصندوق، {}", next()),
                ..Default::default()
            }),
            request_id: request_id.into(),
        };
        coverage.note(&affiliate);
        w.client
            .create_affiliation(authed(affiliate, &w.staff))
            .await
            .unwrap();
    }
    let mut assessment = oca(&org.id, 3, (2026, 10, 1));
    for d in &mut assessment.domains {
        d.justification = next();
        for p in &mut d.participant_scores {
            p.participant = next();
        }
    }
    for a in &mut assessment.action_plan {
        a.gap = next();
        a.action = next();
        a.owner = next();
    }
    assessment.notes = next();
    let create_assessment = api::CreateAssessmentRequest {
        assessment: Some(assessment),
        request_id: "assessment-1".into(),
    };
    coverage.note(&create_assessment);
    let assessment = w
        .client
        .create_assessment(authed(create_assessment.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let erase = api::ErasePersonRequest {
        id: nadia.id.clone(),
        reason: format!("طلب {}", next()),
        legal_ground: api::ErasureGround::ConsentWithdrawn as i32,
    };
    coverage.note(&erase);
    assert_eq!(
        coverage.missing("markaz.membership.v1.MembershipService", EXEMPT),
        Vec::<String>::new(),
        "every free-text field carries the person before the erasure"
    );
    let erased = w
        .client
        .erase_person(authed(erase, &w.staff))
        .await
        .unwrap()
        .into_inner();

    // Nothing of her on any read path.
    let person = w
        .client
        .get_person(authed(
            api::GetPersonRequest {
                id: nadia.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(person.erased && !message_leaks(&person), "{person:?}");
    assert_eq!(
        (person.gender, person.age_band),
        (nadia.gender, nadia.age_band),
        "gender and age band stay for the figures"
    );
    assert_eq!(person.erasure_id, erased.erasure_id);
    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(!message_leaks(&people), "{people:?}");
    assert_eq!(people.people.len(), 2, "she still counts");
    for request in [
        api::ListAffiliationsRequest {
            organization_id: org.id.clone(),
            include_ended: true,
            ..Default::default()
        },
        api::ListAffiliationsRequest {
            person_id: nadia.id.clone(),
            include_ended: true,
            ..Default::default()
        },
    ] {
        let affiliations = w
            .client
            .list_affiliations(authed(request, &w.staff))
            .await
            .unwrap()
            .into_inner();
        assert!(!message_leaks(&affiliations), "{affiliations:?}");
        assert!(!affiliations.affiliations.is_empty());
    }
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
    assert!(!message_leaks(&history), "{history:?}");
    let got = w
        .client
        .get_assessment(authed(
            api::GetAssessmentRequest {
                id: assessment.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!message_leaks(&got), "{got:?}");
    let listed = w
        .client
        .list_assessments(authed(
            api::ListAssessmentsRequest {
                organization_id: org.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!message_leaks(&listed));
    let organization = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!message_leaks(&organization), "{organization:?}");
    let branches = w
        .client
        .list_branches(authed(api::ListBranchesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(!message_leaks(&branches), "{branches:?}");
    // A retried create whose stored answer named her is refused, not
    // answered with the name.
    for retry in [
        w.client
            .create_assessment(authed(create_assessment, &w.staff))
            .await
            .map(|r| message_leaks(r.get_ref())),
        w.client
            .create_person(authed(create, &w.staff))
            .await
            .map(|r| message_leaks(r.get_ref())),
    ] {
        match retry {
            Ok(leaked) => assert!(!leaked, "a retry answered with the name"),
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
        }
    }
    // Nor in any table, the platform's included.
    let db = w.app.app.db("membership").unwrap();
    assert_eq!(table_leaks(db, TENANT).await, Vec::<String>::new());

    // The receipt: who asked, on what ground; membership's own confirmation
    // arrives through its stream.
    let receipt = eventually(Duration::from_secs(20), || {
        let mut client = w.client.clone();
        let (id, staff) = (erased.erasure_id.clone(), w.staff.clone());
        async move {
            let r = client
                .get_erasure(authed(api::GetErasureRequest { id }, &staff))
                .await
                .ok()?
                .into_inner();
            r.confirmations
                .iter()
                .any(|c| c.service == "membership")
                .then_some(r)
        }
    })
    .await
    .expect("membership confirms its own part");
    assert_eq!(receipt.person_id, nadia.id);
    assert_eq!(
        receipt.legal_ground,
        api::ErasureGround::ConsentWithdrawn as i32
    );
    assert!(
        !receipt.complete,
        "the other services have not confirmed here"
    );
    assert!(receipt.pending_services.contains(&"capacity".to_string()));
    assert!(
        !message_leaks(&receipt),
        "the receipt holds no personal data"
    );
    let trainer = w.app.token(TENANT, &[Role::Trainer], None);
    let refused = w
        .client
        .get_erasure(authed(
            api::GetErasureRequest {
                id: erased.erasure_id.clone(),
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}
