//! Reviewers: blind calls hide the applicant from them.

use crate::world::*;

both_backends!(
    blind_calls_hide_the_applicant_from_reviewers,
    declaring_a_conflict_tells_a_reviewer_nothing_of_a_blind_call,
);

/// A reviewer of two blind proposals names one candidate organization in a
/// declared conflict: nothing it can see afterwards differs between the two
/// (so it cannot tell which one that organization wrote), while the
/// ranking staff decide on leaves its score of that proposal out.
async fn declaring_a_conflict_tells_a_reviewer_nothing_of_a_blind_call(backend: Backend) {
    let mut w = world(backend).await;
    let suspected = w
        .organization("جمعية أولى", IncubationStatus::Incubated)
        .await;
    let other = w
        .organization("جمعية ثانية", IncubationStatus::Incubated)
        .await;
    let blind = w.call(incubated_only(), 1_200_000, true).await;
    let p = w.under_review(&blind, &suspected).await;
    let q = w.under_review(&blind, &other).await;
    let (reviewer, token) = w.reviewer("مراجع فضولي").await;
    w.assign(&p.id, &reviewer.id).await.unwrap();
    w.assign(&q.id, &reviewer.id).await.unwrap();
    w.reviewer("مراجعة ثانية").await;
    let roster = w
        .client
        .list_reviewers(authed(
            api::ListReviewersRequest {
                page_size: 1,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((roster.reviewers.len(), roster.total_size), (1, 2));

    let observe = |w: &mut World| {
        let mut client = w.client.clone();
        let token = token.clone();
        async move {
            let mut states: Vec<(String, i32)> = client
                .list_assignments(authed(api::ListAssignmentsRequest::default(), &token))
                .await
                .unwrap()
                .into_inner()
                .assignments
                .into_iter()
                .map(|a| (a.proposal_id, a.state))
                .collect();
            states.sort();
            states
        }
    };
    let before = observe(&mut w).await;
    // The reviewer's totals count its two assignments, on the second page
    // as on the first; another proposal of the tenant is not among them.
    let third = w
        .organization("جمعية ثالثة", IncubationStatus::Incubated)
        .await;
    let unassigned = w.submitted(&blind, &third).await;
    let by_one = |page_token: String| api::ListProposalsRequest {
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let first = w
        .client
        .list_proposals(authed(by_one(String::new()), &token))
        .await
        .unwrap()
        .into_inner();
    let second = w
        .client
        .list_proposals(authed(by_one(first.next_page_token.clone()), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        [
            (first.proposals.len(), first.total_size),
            (second.proposals.len(), second.total_size)
        ],
        [(1, 2), (1, 2)]
    );
    assert_ne!(second.proposals[0].id, unassigned.id);
    let staff_view = w
        .client
        .list_proposals(authed(
            api::ListProposalsRequest {
                call_id: blind.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (staff_view.total_size, staff_view.total_size_is_estimate),
        (3, false)
    );
    let assigned = w
        .client
        .list_assignments(authed(
            api::ListAssignmentsRequest {
                reviewer_id: reviewer.id.clone(),
                page_size: 1,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((assigned.assignments.len(), assigned.total_size), (1, 2));
    w.client
        .declare_conflict(authed(
            api::DeclareConflictRequest {
                conflict: Some(api::Conflict {
                    organization_id: suspected.clone(),
                    reason: "I may know them".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap();
    assert_eq!(observe(&mut w).await, before, "no assignment changed");
    for id in [&p.id, &q.id] {
        let seen = w.get_proposal(id, &token).await.unwrap();
        assert!(seen.identity_hidden);
        let sheet = w.score(id, &token, 5, 5).await.unwrap();
        assert!(sheet.counts, "the reviewer's own view is the same for both");
    }

    // Staff: the conflict is there, and the ranking counts only the score
    // of the proposal the reviewer has no conflict with.
    let ranking = w.ranking(&blind.id).await;
    let count_of = |id: &str| {
        ranking
            .proposals
            .iter()
            .find(|r| r.proposal_id == id)
            .map(|r| r.review_count)
    };
    assert_eq!(count_of(&p.id), Some(0));
    assert_eq!(count_of(&q.id), Some(1));
    let conflicts = w
        .client
        .list_conflicts(authed(api::ListConflictsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(conflicts.total_size, 1);
    let conflicts = conflicts.conflicts;
    assert!(conflicts.iter().any(|c| c.organization_id == suspected));
}

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
