//! Reviewers: blind calls hide the applicant from them.

use crate::world::*;

both_backends!(blind_calls_hide_the_applicant_from_reviewers,);

async fn blind_calls_hide_the_applicant_from_reviewers(backend: Backend) {
    let mut w = world(backend).await;
    let org = w
        .organization("جمعية معروفة", IncubationStatus::Incubated)
        .await;
    let blind = w.call(incubated_only(), 1_200_000, true).await;
    let p = w.under_review(&blind, &org).await;
    let (reviewer, token) = w.reviewer("مراجع").await;
    w.assign(&p.id, &reviewer.id).await.unwrap();

    let seen = w.get_proposal(&p.id, &token).await.unwrap();
    assert_eq!(seen.organization_id, "");
    assert_eq!(seen.organization_name, None);
    assert!(seen.identity_hidden);
    // The content to review is all there.
    assert_eq!(seen.title, p.title);
    assert_eq!(seen.budget_lines, p.budget_lines);
    let listed = w
        .client
        .list_proposals(authed(api::ListProposalsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].organization_id, "");
    // Filtering by organization would reveal who applied: refused.
    let probe = w
        .client
        .list_proposals(authed(
            api::ListProposalsRequest {
                organization_id: org.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&probe), ["organization_id"]);
    // The reviewer has no way to the versions or coaching notes either.
    let versions = w
        .client
        .list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: p.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(versions.code(), Code::PermissionDenied);

    // Staff see the applicant; in an open (not blind) call so do reviewers.
    let staff_view = w.get_proposal(&p.id, &w.staff.clone()).await.unwrap();
    assert_eq!(staff_view.organization_id, org);
    assert!(!staff_view.identity_hidden);
    let open = w.call(incubated_only(), 1_200_000, false).await;
    let q = w.under_review(&open, &org).await;
    w.assign(&q.id, &reviewer.id).await.unwrap();
    let seen = w.get_proposal(&q.id, &token).await.unwrap();
    assert_eq!(seen.organization_id, org);
    assert_eq!(seen.organization_name.unwrap().ar, "جمعية معروفة");
}
