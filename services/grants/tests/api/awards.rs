//! Awards: tranches released against accepted milestones, money in integer
//! minor units that never drifts or wraps, early closure.

use crate::world::*;

both_backends!(
    tranches_are_released_only_against_accepted_milestones,
    money_is_integer_minor_units_and_totals_never_drift,
    money_near_the_limit_of_64_bits_is_refused_never_wrapped,
    closing_a_grant_early_returns_its_unpaid_tranches_to_the_envelope,
);

async fn tranches_are_released_only_against_accepted_milestones(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &org).await;

    let refused = w.disburse(&award.id, 1).await.unwrap_err();
    let (kind, why) = precondition_message(&refused);
    assert_eq!(kind, "MILESTONE_NOT_ACCEPTED");
    assert!(why.contains("milestone 1"), "{why}");
    // Submitted is not accepted.
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (10, 10))
        .await;
    assert_eq!(
        precondition(&w.disburse(&award.id, 1).await.unwrap_err()),
        "MILESTONE_NOT_ACCEPTED"
    );
    // Returned is not accepted either; the partner reports again.
    let returned = w
        .review_report(&report.id, api::ReviewOutcome::Return)
        .await;
    assert_eq!(returned.state, api::ReportState::Returned as i32);
    assert!(w.disburse(&award.id, 1).await.is_err());
    let dup = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(
                    &award.id,
                    api::ReportKind::Progress,
                    1,
                    (12, 10),
                )),
                request_id: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap()
        .into_inner();
    let twice = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(
                    &award.id,
                    api::ReportKind::Progress,
                    1,
                    (12, 10),
                )),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice), "REPORT_EXISTS");
    // Milestone 2's tranche waits for milestone 2, whatever milestone 1 did.
    w.review_report(&dup.id, api::ReviewOutcome::Accept).await;
    let reviewed_twice = w
        .client
        .review_report(authed(
            api::ReviewReportRequest {
                id: dup.id.clone(),
                outcome: api::ReviewOutcome::Return as i32,
                comment: "x".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&reviewed_twice), "REPORT_REVIEWED");
    assert_eq!(
        precondition(&w.disburse(&award.id, 2).await.unwrap_err()),
        "MILESTONE_NOT_ACCEPTED"
    );
    let paid = w.disburse(&award.id, 1).await.unwrap();
    assert_eq!(paid.tranches[0].state, api::TrancheState::Disbursed as i32);
    assert_eq!(paid.tranches[0].reference, "TRF-1");
    assert_eq!(paid.tranches[1].state, api::TrancheState::Planned as i32);
    assert_eq!(
        precondition(&w.disburse(&award.id, 1).await.unwrap_err()),
        "TRANCHE_NOT_PLANNED"
    );
    let missing = w.disburse(&award.id, 3).await.unwrap_err();
    assert_eq!(field_violations(&missing), ["tranche_number"]);
    let paid: ev::TrancheDisbursed = w.last_event("TrancheDisbursed").await;
    assert_eq!(
        (
            paid.tranche_number,
            paid.milestone_number,
            paid.amount.unwrap().minor_units
        ),
        (1, 1, 200_000)
    );
    assert_eq!(paid.disbursed_total.unwrap().minor_units, 200_000);
    // Milestone progress is visible on the award.
    let view = w.get_award(&award.id).await;
    let states: Vec<i32> = view.milestones.iter().map(|m| m.report_state).collect();
    assert_eq!(states, [api::ReportState::Accepted as i32, 0]);
}

async fn money_is_integer_minor_units_and_totals_never_drift(backend: Backend) {
    let mut w = world(backend).await;
    // An envelope for one award of 4,500.00, not two.
    let call = w.call(incubated_only(), 600_000, false).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let partner = w.partner(&org);

    // Cents add up exactly: 1,666.67 + 1,666.67 + 1,166.66 = 4,500.00.
    let mut p = content(&call.id);
    p.budget_lines = vec![
        line(api::BudgetCategory::Supplies, "a", 166_667),
        line(api::BudgetCategory::Supplies, "b", 166_667),
        line(api::BudgetCategory::Activities, "c", 116_666),
    ];
    let draft = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(p.clone()),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minor(&draft.requested_total), 450_000);

    // Over the ceiling, or in another currency: refused at once, by field.
    let mut over = draft.clone();
    over.budget_lines
        .push(line(api::BudgetCategory::Other, "d", 50_001));
    let status = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(over),
                update_mask: None,
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["proposal.budget_lines"]);
    assert!(
        status.message().contains("5,000.01 USD"),
        "{}",
        status.message()
    );
    let mut mixed = draft.clone();
    mixed.budget_lines[1].amount = Some(Money {
        currency_code: "EUR".into(),
        minor_units: 10,
    });
    let status = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(mixed),
                update_mask: None,
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        ["proposal.budget_lines[1].amount.currency_code"]
    );
    w.client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();
    for step in ["review", "approve"] {
        if step == "review" {
            w.client
                .start_review(authed(
                    api::StartReviewRequest {
                        id: draft.id.clone(),
                        etag: String::new(),
                    },
                    &w.staff,
                ))
                .await
                .unwrap();
        } else {
            w.client
                .decide_proposal(authed(
                    api::DecideProposalRequest {
                        id: draft.id.clone(),
                        decision: api::Decision::Approve as i32,
                        reason: String::new(),
                        etag: String::new(),
                    },
                    &w.staff,
                ))
                .await
                .unwrap();
        }
    }

    // The award is the approved budget, to the cent; tranches add up to it.
    let less = w
        .client
        .award_grant(authed(
            award_request(&draft.id, 449_999, &[(1, 449_999)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition_message(&less);
    assert_eq!(kind, "AWARD_NOT_BUDGET");
    assert!(why.contains("4,500.00 USD"), "{why}");
    let short = w
        .client
        .award_grant(authed(
            award_request(&draft.id, 450_000, &[(1, 200_000), (2, 249_999)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&short), ["tranches"]);
    let mut euros = award_request(&draft.id, 450_000, &[(1, 450_000)]);
    euros.amount.as_mut().unwrap().currency_code = "EUR".into();
    euros.tranches[0].amount.as_mut().unwrap().currency_code = "EUR".into();
    let status = w
        .client
        .award_grant(authed(euros, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["amount.currency_code"]);
    let bogus = w
        .client
        .award_grant(authed(
            api::AwardGrantRequest {
                amount: Some(Money {
                    currency_code: "XYZ".into(),
                    minor_units: -5,
                }),
                ..award_request(&draft.id, 0, &[(1, 1)])
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&bogus),
        ["amount.currency_code", "amount.minor_units"]
    );
    let award = w
        .award(&draft.id, 450_000, &[(1, 150_001), (2, 299_999)])
        .await;
    assert_eq!(
        award.tranches.iter().map(|t| minor(&t.amount)).sum::<i64>(),
        minor(&award.amount)
    );

    // The envelope holds 6,000.00: a second award of 4,500.00 does not fit.
    let org2 = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let second = w.approved(&call, &org2).await;
    let status = w
        .client
        .award_grant(authed(
            award_request(&second.id, 450_000, &[(1, 450_000)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition_message(&status);
    assert_eq!(kind, "ENVELOPE_EXCEEDED");
    assert!(why.contains("1,500.00 USD"), "{why}");

    // Spending never passes the award; totals stay integers all the way.
    w.client
        .activate_grant(authed(
            api::ActivateGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let too_much = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(0)),
                    period_end: Some(day(1)),
                    lines: vec![api::ExpenditureLine {
                        line_number: 1,
                        amount: Some(usd(450_001)),
                        note: String::new(),
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&too_much), "EXPENDITURE_OVER_AWARD");
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (1, 1))
        .await;
    w.review_report(&report.id, api::ReviewOutcome::Accept)
        .await;
    let paid = w.disburse(&award.id, 1).await.unwrap();
    assert_eq!(
        (minor(&paid.disbursed), minor(&paid.remaining)),
        (150_001, 299_999)
    );
    assert_eq!(
        minor(&paid.disbursed) + minor(&paid.cancelled) + minor(&paid.remaining),
        minor(&paid.amount)
    );
    let call_now = w
        .client
        .get_call(authed(
            api::GetCallRequest {
                id: call.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            minor(&call_now.awarded_total),
            minor(&call_now.envelope_remaining)
        ),
        (450_000, 150_000)
    );
}

/// An expenditure that would take the award's spending past `i64::MAX`
/// minor units is a bad amount (INVALID_ARGUMENT on the line), never a sum
/// that wraps negative, slips under the "over the award" check and leaves
/// the award unreadable.
async fn money_near_the_limit_of_64_bits_is_refused_never_wrapped(backend: Backend) {
    let mut w = world(backend).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let partner = w.partner(&org);
    let award = w.active_grant(&call, &org).await;
    let spent = w
        .client
        .submit_expenditure_report(authed(expenditure(&award.id, &[(1, 100)]), &partner))
        .await
        .unwrap()
        .into_inner();
    w.client
        .review_expenditure_report(authed(
            api::ReviewExpenditureReportRequest {
                id: spent.id.clone(),
                outcome: api::ReviewOutcome::Accept as i32,
                comment: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();

    // 1.00 spent already plus a line near the maximum: too large, not wrapped.
    let huge = w
        .client
        .submit_expenditure_report(authed(
            expenditure(&award.id, &[(2, i64::MAX - 50)]),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(huge.code(), Code::InvalidArgument, "{huge:?}");
    assert_eq!(
        field_violations(&huge),
        ["report.lines[0].amount.minor_units"]
    );
    // Two lines whose own sum does not fit.
    let halves = w
        .client
        .submit_expenditure_report(authed(
            expenditure(&award.id, &[(1, i64::MAX / 2 + 1), (2, i64::MAX / 2 + 1)]),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&halves),
        ["report.lines[1].amount.minor_units"]
    );
    // A reallocation whose lines do not fit.
    let mut wide = line(api::BudgetCategory::Supplies, "x", i64::MAX);
    wide.line_number = 1;
    let variation = w
        .client
        .request_variation(authed(
            api::RequestVariationRequest {
                variation: Some(api::Variation {
                    award_id: award.id.clone(),
                    justification: "more".into(),
                    budget_lines: vec![wide, line(api::BudgetCategory::Supplies, "y", 1)],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&variation),
        ["variation.budget_lines[1].amount.minor_units"]
    );
    assert_eq!(w.count("expenditure_reports").await, 1);
    assert_eq!(w.count("variations").await, 0);

    // The award still reads, with exactly what was accepted.
    let view = w.get_award(&award.id).await;
    assert_eq!((minor(&view.spent), minor(&view.amount)), (100, 450_000));
    let reports = w
        .client
        .list_expenditure_reports(authed(
            api::ListExpenditureReportsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((reports.reports.len(), reports.total_size), (1, 1));
}

async fn closing_a_grant_early_returns_its_unpaid_tranches_to_the_envelope(backend: Backend) {
    let mut w = world(backend).await;
    // 7,000.00: one award of 4,500.00 leaves 2,500.00, not enough for another.
    let call = w.call(incubated_only(), 700_000, false).await;
    let first = w.organization("الأولى", IncubationStatus::Incubated).await;
    let second = w.organization("الثانية", IncubationStatus::Incubated).await;
    let award = w.active_grant(&call, &first).await;
    let waiting = w.approved(&call, &second).await;
    let envelope = |c: api::Call| (minor(&c.awarded_total), minor(&c.envelope_remaining));
    assert_eq!(envelope(w.get_call(&call.id).await), (450_000, 250_000));
    let refused = w
        .client
        .award_grant(authed(
            award_request(&waiting.id, 450_000, &[(1, 200_000), (2, 250_000)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "ENVELOPE_EXCEEDED");

    // The first tranche is paid; the grant closes early; the second tranche
    // (2,500.00) is cancelled and returns to the envelope.
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (1, 1))
        .await;
    w.review_report(&report.id, api::ReviewOutcome::Accept)
        .await;
    w.disburse(&award.id, 1).await.unwrap();
    assert_eq!(envelope(w.get_call(&call.id).await), (450_000, 250_000));
    w.client
        .close_grant_early(authed(
            api::CloseGrantEarlyRequest {
                award_id: award.id.clone(),
                reason: "the partner could not continue".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    assert_eq!(envelope(w.get_call(&call.id).await), (200_000, 500_000));
    let listed = w
        .client
        .list_calls(authed(api::ListCallsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 1);
    let listed = listed.calls;
    assert_eq!(
        listed.into_iter().map(envelope).collect::<Vec<_>>(),
        [(200_000, 500_000)]
    );
    // The staff's awards: two of the call, one per organization filter, the
    // second page counting the same two.
    let awards = |organization_id: &str, page_token: String| api::ListAwardsRequest {
        call_id: call.id.clone(),
        organization_id: organization_id.into(),
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let first_page = w
        .client
        .list_awards(authed(awards("", String::new()), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.total_size, 1, "before the second award");

    // Now the second proposal fits.
    let awarded = w
        .award(&waiting.id, 450_000, &[(1, 200_000), (2, 250_000)])
        .await;
    assert_eq!(awarded.state, api::ProposalState::Awarded as i32);
    let first_page = w
        .client
        .list_awards(authed(awards("", String::new()), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let second_page = w
        .client
        .list_awards(authed(awards("", first_page.next_page_token), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second_page.awards.len(), second_page.total_size), (1, 2));
    let of_second = w
        .client
        .list_awards(authed(awards(&second, String::new()), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (of_second.total_size, of_second.total_size_is_estimate),
        (1, false)
    );
    let partner = w.partner(&first);
    let partners = w
        .client
        .list_awards(authed(api::ListAwardsRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(partners.total_size, 1, "its own award only");
    assert_eq!(envelope(w.get_call(&call.id).await), (650_000, 50_000));
}
