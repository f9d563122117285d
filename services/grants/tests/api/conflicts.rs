//! Conflicts of interest: declared and detected, before and after an
//! assignment.

use crate::world::*;

both_backends!(declared_and_detected_conflicts_keep_reviewers_away,);

async fn declared_and_detected_conflicts_keep_reviewers_away(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let p = w.under_review(&call, &org).await;

    // Declared: the reviewer names the organization; never assigned.
    let (declarer, declarer_token) = w.reviewer("مراجع أول").await;
    w.client
        .declare_conflict(authed(
            api::DeclareConflictRequest {
                conflict: Some(api::Conflict {
                    organization_id: org.clone(),
                    reason: "my brother chairs its board".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &declarer_token,
        ))
        .await
        .unwrap();
    let refused = w.assign(&p.id, &declarer.id).await.unwrap_err();
    let (kind, why) = precondition_message(&refused);
    assert_eq!(kind, "CONFLICT_OF_INTEREST");
    assert!(why.contains("declared") && why.contains("brother"), "{why}");

    // Detected: the reviewer's person is affiliated with the applicant.
    let (member, _) = w.reviewer("مراجع ثان").await;
    w.affiliate(&member.person_id, &org).await;
    let refused = w.assign(&p.id, &member.id).await.unwrap_err();
    let (kind, why) = precondition_message(&refused);
    assert_eq!(kind, "CONFLICT_OF_INTEREST");
    assert!(why.contains("affiliated"), "{why}");

    // Detected after assignment: the assignment is withdrawn, the reviewer no
    // longer sees the proposal and cannot score it.
    let (late, late_token) = w.reviewer("مراجع ثالث").await;
    w.assign(&p.id, &late.id).await.unwrap();
    assert!(w.get_proposal(&p.id, &late_token).await.is_ok());
    w.affiliate(&late.person_id, &org).await;
    let hidden = w.get_proposal(&p.id, &late_token).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let score = w.score(&p.id, &late_token, 5, 5).await.unwrap_err();
    let (kind, why) = precondition_message(&score);
    assert_eq!(kind, "CONFLICT_OF_INTEREST");
    assert!(why.contains("affiliated"), "{why}");
    let assignments = w
        .client
        .list_assignments(authed(
            api::ListAssignmentsRequest {
                proposal_id: p.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert_eq!(assignments.len(), 1);
    assert_eq!(assignments[0].state, api::AssignmentState::Recused as i32);

    // Declared after scoring: the score stops counting in the ranking.
    let (honest, honest_token) = w.reviewer("مراجعة رابعة").await;
    w.assign(&p.id, &honest.id).await.unwrap();
    w.score(&p.id, &honest_token, 5, 5).await.unwrap();
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 1);
    w.client
        .declare_conflict(authed(
            api::DeclareConflictRequest {
                conflict: Some(api::Conflict {
                    proposal_id: p.id.clone(),
                    reason: "I advised them on this project".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &honest_token,
        ))
        .await
        .unwrap();
    let ranking = w.ranking(&call.id).await;
    assert_eq!(
        (ranking.proposals[0].review_count, ranking.proposals[0].rank),
        (0, 0)
    );
    let sheets = w
        .client
        .list_scores(authed(
            api::ListScoresRequest {
                proposal_id: p.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .sheets;
    assert_eq!(sheets.len(), 1);
    assert!(!sheets[0].counts);
    let again = w.score(&p.id, &honest_token, 1, 1).await.unwrap_err();
    assert_eq!(precondition(&again), "CONFLICT_OF_INTEREST");
    // Staff see every declaration; a reviewer only its own.
    let all = w
        .client
        .list_conflicts(authed(api::ListConflictsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.conflicts.len(), 2);
    let own = w
        .client
        .list_conflicts(authed(
            api::ListConflictsRequest::default(),
            &declarer_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.conflicts.len(), 1);
    assert_eq!(own.conflicts[0].declared_by, declarer.subject);

    // An ended affiliation no longer blocks.
    let other_org = w
        .organization("منظمة أخرى", IncubationStatus::Incubated)
        .await;
    let (former, _) = w.reviewer("عضو سابق").await;
    let affiliation = w.affiliate(&former.person_id, &other_org).await;
    w.deliver(
        "membership",
        ev::AffiliationEnded {
            affiliation_id: affiliation,
            person_id: former.person_id.clone(),
            organization_id: other_org.clone(),
        },
    )
    .await;
    let q = w.under_review(&call, &other_org).await;
    w.assign(&q.id, &former.id).await.unwrap();
}
