//! Variations: applied only when approved; one pending at a time.

use crate::world::*;

both_backends!(
    variations_apply_only_when_approved,
    concurrent_variation_requests_leave_one_pending,
);

async fn variations_apply_only_when_approved(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let partner = w.partner(&org);
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &org).await;
    // 500.00 spent on line 2 (the technician).
    let spent = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(0)),
                    period_end: Some(day(10)),
                    lines: vec![api::ExpenditureLine {
                        line_number: 2,
                        amount: Some(usd(50_000)),
                        note: String::new(),
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    w.client
        .review_expenditure_report(authed(
            api::ReviewExpenditureReportRequest {
                id: spent.id,
                outcome: api::ReviewOutcome::Accept as i32,
                comment: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let request = |budget: Vec<api::BudgetLine>, end: Option<Date>| api::RequestVariationRequest {
        variation: Some(api::Variation {
            award_id: award.id.clone(),
            justification: "الأسعار ارتفعت".into(),
            budget_lines: budget,
            new_end_date: end,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    // A reallocation keeps the total...
    let grows = w
        .client
        .request_variation(authed(
            request(
                vec![
                    line(api::BudgetCategory::Supplies, "pumps", 350_000),
                    line(api::BudgetCategory::Personnel, "technician", 150_000),
                ],
                None,
            ),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&grows), "BUDGET_NOT_AWARD");
    // ...and no line falls below what was spent on it.
    let below = w
        .client
        .request_variation(authed(
            request(
                vec![
                    line(api::BudgetCategory::Supplies, "pumps", 420_000),
                    line(api::BudgetCategory::Personnel, "technician", 30_000),
                ],
                None,
            ),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&below), "BELOW_SPENDING");
    let variation = w
        .client
        .request_variation(authed(
            request(
                vec![
                    line(api::BudgetCategory::Supplies, "pumps", 350_000),
                    line(api::BudgetCategory::Personnel, "technician", 100_000),
                ],
                Some(day(120)),
            ),
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(variation.state, api::VariationState::Pending as i32);
    let pending = w
        .client
        .request_variation(authed(request(vec![], Some(day(100))), &partner))
        .await
        .unwrap_err();
    assert_eq!(precondition(&pending), "VARIATION_PENDING");
    // Nothing changes before approval.
    let before = w.get_award(&award.id).await;
    assert_eq!(
        minor(&before.budget[0].line.as_ref().unwrap().amount),
        300_000
    );
    let decided = w
        .client
        .decide_variation(authed(
            api::DecideVariationRequest {
                id: variation.id.clone(),
                decision: api::Decision::Approve as i32,
                note: "justified".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.state, api::VariationState::Approved as i32);
    let after = w.get_award(&award.id).await;
    let lines: Vec<(i64, i64)> = after
        .budget
        .iter()
        .map(|b| (minor(&b.line.as_ref().unwrap().amount), minor(&b.spent)))
        .collect();
    assert_eq!(lines, [(350_000, 0), (100_000, 50_000)]);
    assert_eq!(after.end_date, Some(day(120)));
    assert_eq!(minor(&after.amount), 450_000);
    assert_ne!(after.etag, before.etag);
    let again = w
        .client
        .decide_variation(authed(
            api::DecideVariationRequest {
                id: variation.id.clone(),
                decision: api::Decision::Reject as i32,
                note: "x".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again), "VARIATION_DECIDED");
    let listed = w
        .client
        .list_variations(authed(
            api::ListVariationsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((listed.variations.len(), listed.total_size), (1, 1));
}

async fn concurrent_variation_requests_leave_one_pending(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &org).await;
    let partner = w.partner(&org);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let mut client = w.client.clone();
            let request = authed(
                api::RequestVariationRequest {
                    variation: Some(api::Variation {
                        award_id: award.id.clone(),
                        justification: format!("طلب {i}"),
                        new_end_date: Some(day(100 + i)),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &partner,
            );
            tokio::spawn(async move { client.request_variation(request).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(match t.await.unwrap() {
            Ok(_) => "OK".to_string(),
            Err(s) => precondition(&s),
        });
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "OK").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o == "OK" || o == "VARIATION_PENDING"),
        "{outcomes:?}"
    );
    assert_eq!(w.count("variations").await, 1);
}
