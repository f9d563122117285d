use super::world::*;

markaz_kit::both_backends!(
    retried_creates_return_the_first_result,
    bad_input_is_refused_with_field_details_and_nothing_written,
    oversized_messages_are_refused,
);

async fn retried_creates_return_the_first_result(backend: Backend) {
    let mut w = world(backend).await;
    let request = api::CreateOrganizationRequest {
        organization: Some(organization("منظمة", "Org")),
        apply_for_incubation: false,
        request_id: "8f14e45f-ceea-467f-a0e6-0fd0f6c6b5e1".into(),
    };
    let first = w
        .client
        .create_organization(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .create_organization(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 1);

    // Request ids are each caller's own: someone else sending the same id
    // and body is not handed the first caller's answer — theirs is a new
    // request.
    let theirs = w
        .client
        .create_organization(authed(request.clone(), &w.admin))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.id, first.id);
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 2);

    let mut different = request;
    different.organization.as_mut().unwrap().acronym = "ZZ".into();
    let status = w
        .client
        .create_organization(authed(different, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status), ["request_id"]);
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 2);
}

async fn bad_input_is_refused_with_field_details_and_nothing_written(backend: Backend) {
    let mut w = world(backend).await;
    // Everything wrong at once: every field is reported.
    let bad = api::Organization {
        kind: 99,
        name: Some(LocalizedText {
            ar: "م".repeat(201),
            en: String::new(),
        }),
        sectors: vec![Sector::Health as i32, 1234],
        email: "not-an-email".into(),
        branch_id: "Not A Slug".into(),
        ..Default::default()
    };
    let status = w
        .client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(bad),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = field_violations(&status);
    for f in [
        "organization.kind",
        "organization.name.ar",
        "organization.branch_id",
        "organization.sectors[1]",
        "organization.email",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    // Missing required fields, and a malformed request id: all reported.
    let status = w
        .client
        .create_person(authed(
            api::CreatePersonRequest {
                person: None,
                request_id: "not an id!".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = field_violations(&status);
    for f in [
        "request_id",
        "person.full_name",
        "person.gender",
        "person.age_band",
        "person.legal_basis",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    // A branch that does not exist.
    let mut o = organization("x", "x");
    o.branch_id = "aleppo".into();
    let status = w
        .client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(o),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["organization.branch_id"]);
    // Malformed ids are refused, not looked up.
    let status = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest {
                id: "1 OR 1=1".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    // An incomplete assessment.
    let org = create_org(&mut w, "منظمة", "Org", false).await;
    let mut a = oca(&org.id, 2, (2025, 1, 1));
    a.domains.truncate(6);
    let status = w
        .client
        .create_assessment(authed(
            api::CreateAssessmentRequest {
                assessment: Some(a),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["assessment.domains"]);
    // Nothing was written but the one valid organization.
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 1);
    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(people.people.is_empty());
}

async fn oversized_messages_are_refused(backend: Backend) {
    let mut w = world(backend).await;
    let mut o = organization("x", "x");
    o.description = Some(LocalizedText {
        ar: "ب".repeat(5 * 1024 * 1024 / 2),
        en: String::new(),
    });
    let status = w
        .client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(o),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    // RESOURCE_EXHAUSTED, as gRPC's status-code guide has it (not
    // OUT_OF_RANGE), said at the message's header, before it is buffered.
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("at most"), "{}", status.message());
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 0);
}
