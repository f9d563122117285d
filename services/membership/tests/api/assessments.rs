use super::world::*;

markaz_kit::both_backends!(assessments_record_scores_spread_and_change,);

async fn assessments_record_scores_spread_and_change(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", true).await;
    let first = w
        .client
        .create_assessment(authed(
            api::CreateAssessmentRequest {
                assessment: Some(oca(&org.id, 2, (2025, 1, 10))),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.domains.len(), 7);
    assert!(
        first
            .domains
            .iter()
            .all(|d| d.consensus_spread == 3 && !d.has_previous)
    );
    assert_eq!(first.average_score, 2.0);
    assert_eq!(first.previous_assessment_id, "");

    let second = w
        .client
        .create_assessment(authed(
            api::CreateAssessmentRequest {
                assessment: Some(oca(&org.id, 3, (2026, 1, 10))),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.previous_assessment_id, first.id);
    assert!(
        second
            .domains
            .iter()
            .all(|d| d.change == 1 && d.has_previous)
    );
    assert_eq!(second.action_plan.len(), 1);

    let got = w
        .client
        .get_assessment(authed(
            api::GetAssessmentRequest {
                id: second.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, second);
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
    assert_eq!(
        (listed.assessments.len(), listed.total_size),
        (2, 2),
        "{listed:?}"
    );
    assert!(!listed.total_size_is_estimate);
    let page = |token: String| api::ListAssessmentsRequest {
        organization_id: org.id.clone(),
        page_size: 1,
        page_token: token,
    };
    let first_page = w
        .client
        .list_assessments(authed(page(String::new()), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let second_page = w
        .client
        .list_assessments(authed(page(first_page.next_page_token), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            second_page.assessments[0].id.as_str(),
            second_page.total_size
        ),
        (second.id.as_str(), 2)
    );
    // Another organization's list counts none of them; so does another
    // tenant's whole list.
    let other = create_org(&mut w, "أخرى", "Other", true).await;
    let none = w
        .client
        .list_assessments(authed(
            api::ListAssessmentsRequest {
                organization_id: other.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(none.total_size, 0);
    let intruder = w.app.token(OTHER_TENANT, &[Role::Admin], None);
    let theirs = w
        .client
        .list_assessments(authed(api::ListAssessmentsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((theirs.assessments.len(), theirs.total_size), (0, 0));
}
