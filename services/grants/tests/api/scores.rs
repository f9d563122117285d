//! Scores and the ranking: weighted totals of the sheets that count.

use crate::world::*;

both_backends!(the_ranking_follows_weighted_scores_that_count,);

async fn the_ranking_follows_weighted_scores_that_count(backend: Backend) {
    let mut w = world(backend).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let mut proposals = Vec::new();
    for name in ["أ", "ب", "ج", "د"] {
        let org = w.organization(name, IncubationStatus::Incubated).await;
        proposals.push(w.under_review(&call, &org).await.id);
    }
    let (r1, t1) = w.reviewer("مراجع ١").await;
    let (r2, t2) = w.reviewer("مراجع ٢").await;
    for p in &proposals[..3] {
        w.assign(p, &r1.id).await.unwrap();
        w.assign(p, &r2.id).await.unwrap();
    }
    // Weighted totals (need × 3 + feasibility × 2, out of 25):
    // a: 25 and 15 → mean 20; b: 21 and 19 → 20; c: 23 and 23 → 23.
    w.score(&proposals[0], &t1, 5, 5).await.unwrap();
    w.score(&proposals[0], &t2, 3, 3).await.unwrap();
    w.score(&proposals[1], &t1, 5, 3).await.unwrap();
    w.score(&proposals[1], &t2, 3, 5).await.unwrap();
    w.score(&proposals[2], &t1, 5, 4).await.unwrap();
    // A sheet sent again replaces the reviewer's earlier one.
    w.score(&proposals[2], &t2, 1, 1).await.unwrap();
    w.score(&proposals[2], &t2, 5, 4).await.unwrap();
    let ranking = w.ranking(&call.id).await;
    let got: Vec<(usize, i32, i32, i32)> = ranking
        .proposals
        .iter()
        .map(|r| {
            (
                proposals.iter().position(|p| *p == r.proposal_id).unwrap(),
                r.rank,
                r.review_count,
                r.score_basis_points,
            )
        })
        .collect();
    let (a, b) = if proposals[0] < proposals[1] {
        (0, 1)
    } else {
        (1, 0)
    };
    assert_eq!(
        got,
        [
            (2, 1, 2, 9_200),
            (a, 2, 2, 8_000),
            (b, 2, 2, 8_000),
            (3, 0, 0, 0)
        ]
    );
    assert_eq!(minor(&ranking.proposals[0].requested), 450_000);
    // A reviewer sees only its own sheets.
    let own = w
        .client
        .list_scores(authed(
            api::ListScoresRequest {
                proposal_id: proposals[0].clone(),
            },
            &t1,
        ))
        .await
        .unwrap()
        .into_inner()
        .sheets;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].reviewer_id, r1.id);
    // Scores must cover the rubric, within its scale.
    let bad = w
        .client
        .submit_score(authed(
            api::SubmitScoreRequest {
                proposal_id: proposals[0].clone(),
                scores: vec![api::CriterionScore {
                    criterion_code: "need".into(),
                    score: 6,
                    comment: String::new(),
                }],
                comment: String::new(),
            },
            &t1,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bad), ["scores[0].score"]);
}
