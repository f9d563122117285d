//! Proposals: the whole life cycle from the call to the project's end, every
//! refused move with its reason, as the domain's table says, and the coaching
//! loop under review.

use crate::world::*;

both_backends!(
    the_full_life_cycle_from_call_to_completion,
    refused_transitions_say_why,
    every_life_cycle_rpc_is_refused_where_the_domain_table_says,
    changes_may_be_requested_under_review_and_an_approval_withdrawn,
);

async fn the_full_life_cycle_from_call_to_completion(backend: Backend) {
    let mut w = world(backend).await;
    let org = w
        .organization("جمعية الفرات", IncubationStatus::Incubated)
        .await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    assert_eq!(call.state, api::CallState::Open as i32);
    let partner = w.partner(&org);

    // The partner drafts and submits; staff coach: changes requested.
    let draft = w.draft(&call, &org).await;
    assert_eq!(draft.state, api::ProposalState::Draft as i32);
    assert_eq!(minor(&draft.requested_total), 450_000);
    assert_eq!(draft.organization_name.as_ref().unwrap().ar, "جمعية الفرات");
    let submitted = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: draft.etag.clone(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.state, api::ProposalState::Submitted as i32);
    assert_eq!(submitted.version_number, 1);
    let sent_back = w
        .client
        .request_changes(authed(
            api::RequestChangesRequest {
                id: draft.id.clone(),
                note: "فصّل بند المضخات من فضلك".into(),
                etag: submitted.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent_back.state, api::ProposalState::ChangesRequested as i32);

    // The partner revises (one line split in two) and submits again.
    let mut revised = sent_back.clone();
    revised.budget_lines = vec![
        line(api::BudgetCategory::Supplies, "pumps", 200_000),
        line(api::BudgetCategory::Supplies, "pipes", 100_000),
        line(api::BudgetCategory::Personnel, "technician", 150_000),
    ];
    let revised = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(revised),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["budget_lines".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revised.budget_lines.len(), 3);
    assert_eq!(revised.budget_lines[2].line_number, 3);
    w.client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: draft.id.clone(),
                body: "تم فصل البند".into(),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();
    let resubmitted = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: revised.etag.clone(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resubmitted.version_number, 2);

    // Every version is kept and readable, as it was submitted.
    let versions = w
        .client
        .list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: draft.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].proposal.as_ref().unwrap().budget_lines.len(), 2);
    assert_eq!(versions[1].proposal.as_ref().unwrap().budget_lines.len(), 3);
    assert_eq!(versions[0].submitted_by, format!("member-of-{org}"));
    let notes = w
        .client
        .list_coaching_notes(authed(
            api::ListCoachingNotesRequest {
                proposal_id: draft.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(notes.total_size, 2);
    let second_note = w
        .client
        .list_coaching_notes(authed(
            api::ListCoachingNotesRequest {
                proposal_id: draft.id.clone(),
                page_size: 1,
                page_token: w
                    .client
                    .clone()
                    .list_coaching_notes(authed(
                        api::ListCoachingNotesRequest {
                            proposal_id: draft.id.clone(),
                            page_size: 1,
                            ..Default::default()
                        },
                        &w.staff,
                    ))
                    .await
                    .unwrap()
                    .into_inner()
                    .next_page_token,
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second_note.notes.len(), second_note.total_size), (1, 2));
    let notes = notes.notes;
    let roles: Vec<_> = notes
        .iter()
        .map(|n| (n.author_role.as_str(), n.version_number))
        .collect();
    assert_eq!(roles, [("staff", 1), ("partner", 1)]);

    // Review: two reviewers score; the ranking is computed from the sheets.
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
    let (r1, t1) = w.reviewer("خبير المياه").await;
    let (r2, t2) = w.reviewer("خبيرة التمويل").await;
    w.assign(&draft.id, &r1.id).await.unwrap();
    w.assign(&draft.id, &r2.id).await.unwrap();
    let sheet = w.score(&draft.id, &t1, 5, 4).await.unwrap();
    assert_eq!((sheet.weighted_total, sheet.basis_points), (23, 9_200));
    w.score(&draft.id, &t2, 4, 4).await.unwrap();
    let ranking = w.ranking(&call.id).await;
    assert_eq!(ranking.proposals[0].review_count, 2);
    // (23 + 20) / (2 × 25) = 86.00 %
    assert_eq!(ranking.proposals[0].score_basis_points, 8_600);

    let approved = w
        .client
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
        .unwrap()
        .into_inner();
    assert_eq!(approved.state, api::ProposalState::Approved as i32);
    let decided: ev::ProposalDecided = w.last_event("ProposalDecided").await;
    assert_eq!(decided.outcome, ev::ProposalOutcome::Approved as i32);
    assert_eq!(
        (decided.score_basis_points, decided.review_count),
        (8_600, 2)
    );

    // Award in two tranches tied to the milestones; activate.
    let award = w
        .award(&draft.id, 450_000, &[(1, 200_000), (2, 250_000)])
        .await;
    assert_eq!(award.state, api::ProposalState::Awarded as i32);
    assert_eq!(minor(&award.remaining), 450_000);
    let awarded: ev::GrantAwarded = w.last_event("GrantAwarded").await;
    let context = awarded.context.unwrap();
    assert_eq!(
        (context.organization_id.as_str(), context.branch_id.as_str()),
        (org.as_str(), "raqqa")
    );
    assert_eq!(context.sector, Sector::WaterSanitationHygiene as i32);
    assert_eq!(awarded.amount.unwrap().minor_units, 450_000);
    assert_eq!(awarded.beneficiaries_targeted.unwrap().female, 120);
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
    assert_eq!(minor(&call_now.awarded_total), 450_000);
    assert_eq!(minor(&call_now.envelope_remaining), 750_000);
    w.client
        .activate_grant(authed(
            api::ActivateGrantRequest {
                award_id: award.id.clone(),
                etag: award.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap();

    // Milestone 1 reported by the partner, accepted, tranche 1 paid.
    let r = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(
                    &award.id,
                    api::ReportKind::Progress,
                    1,
                    (40, 35),
                )),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    w.review_report(&r.id, api::ReviewOutcome::Accept).await;
    let reported: ev::MilestoneReported = w.last_event("MilestoneReported").await;
    assert_eq!(reported.milestone_number, 1);
    assert_eq!(reported.beneficiaries_reached.unwrap().female, 40);
    let paid = w.disburse(&award.id, 1).await.unwrap();
    assert_eq!(minor(&paid.disbursed), 200_000);
    assert_eq!(minor(&paid.remaining), 250_000);

    // Spending against the budget lines.
    let spent = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(5)),
                    period_end: Some(day(30)),
                    lines: vec![
                        api::ExpenditureLine {
                            line_number: 1,
                            amount: Some(usd(210_000)),
                            note: "pumps cost more".into(),
                        },
                        api::ExpenditureLine {
                            line_number: 3,
                            amount: Some(usd(50_000)),
                            note: String::new(),
                        },
                    ],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minor(&spent.total), 260_000);
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
    let view = w.get_award(&award.id).await;
    let bva: Vec<(i64, i64, i64)> = view
        .budget
        .iter()
        .map(|b| {
            (
                minor(&b.line.as_ref().unwrap().amount),
                minor(&b.spent),
                minor(&b.variance),
            )
        })
        .collect();
    assert_eq!(
        bva,
        [
            (200_000, 210_000, -10_000),
            (100_000, 0, 100_000),
            (150_000, 50_000, 100_000)
        ]
    );
    assert_eq!(minor(&view.spent), 260_000);

    // Milestone 2, tranche 2, final report, completion.
    let r2 = w
        .report(&award.id, api::ReportKind::Progress, 2, (80, 65))
        .await;
    w.review_report(&r2.id, api::ReviewOutcome::Accept).await;
    w.disburse(&award.id, 2).await.unwrap();
    let f = w
        .report(&award.id, api::ReportKind::Final, 0, (120, 100))
        .await;
    w.review_report(&f.id, api::ReviewOutcome::Accept).await;
    let done = w
        .client
        .complete_grant(authed(
            api::CompleteGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.state, api::ProposalState::Completed as i32);
    assert_eq!(minor(&done.disbursed), 450_000);
    assert_eq!(minor(&done.remaining), 0);
    assert!(
        done.milestones
            .iter()
            .all(|m| m.report_state == api::ReportState::Accepted as i32)
    );
    let completed: ev::ProjectCompleted = w.last_event("ProjectCompleted").await;
    assert_eq!(completed.outcome, ev::ProjectOutcome::Completed as i32);
    assert_eq!(completed.disbursed.unwrap().minor_units, 450_000);
    assert_eq!(completed.spent.unwrap().minor_units, 260_000);
    assert_eq!(completed.beneficiaries_reached.unwrap().male, 100);

    let proposal = w.get_proposal(&draft.id, &partner).await.unwrap();
    assert_eq!(proposal.state, api::ProposalState::Completed as i32);
    assert_eq!(
        w.events().await,
        [
            "CallOpened",
            "ProposalSubmitted",
            "ProposalSubmitted",
            "ProposalDecided",
            "GrantAwarded",
            "MilestoneReported",
            "TrancheDisbursed",
            "MilestoneReported",
            "TrancheDisbursed",
            "ProjectCompleted",
        ]
    );
    let submitted_event: ev::ProposalSubmitted = w.last_event("ProposalSubmitted").await;
    assert_eq!(submitted_event.version_number, 2);
    assert_eq!(submitted_event.requested.unwrap().minor_units, 450_000);
}

async fn refused_transitions_say_why(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let partner = w.partner(&org);
    let draft = w.draft(&call, &org).await;
    let id = draft.id.clone();

    // Staff moves that a draft does not allow.
    let review = w
        .client
        .start_review(authed(
            api::StartReviewRequest {
                id: id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition_message(&review);
    assert_eq!(kind, "PROPOSAL_STATE");
    assert!(
        why.contains("a draft") && why.contains("put under review"),
        "{why}"
    );
    let decide = w
        .client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: id.clone(),
                decision: api::Decision::Approve as i32,
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition_message(&decide)
            .1
            .contains("cannot be approved")
    );
    let changes = w
        .client
        .request_changes(authed(
            api::RequestChangesRequest {
                id: id.clone(),
                note: "x".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&changes), "PROPOSAL_STATE");
    let award = w
        .client
        .award_grant(authed(
            award_request(&id, 450_000, &[(1, 450_000)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(precondition_message(&award).1.contains("cannot be awarded"));
    // Assigning a reviewer to a draft.
    let (reviewer, token) = w.reviewer("خبير").await;
    let assign = w.assign(&id, &reviewer.id).await.unwrap_err();
    assert_eq!(precondition(&assign), "PROPOSAL_STATE");

    // An incomplete draft cannot be submitted; every missing part is named.
    let bare = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(api::Proposal {
                    id: id.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["milestones".into(), "summary".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    let incomplete = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: id.clone(),
                etag: bare.etag.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition_message(&incomplete);
    assert_eq!(kind, "PROPOSAL_INCOMPLETE");
    assert!(
        why.contains("summary") && why.contains("milestones"),
        "{why}"
    );
    let mut whole = content(&call.id);
    whole.id = id.clone();
    w.client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(whole),
                update_mask: None,
            },
            &partner,
        ))
        .await
        .unwrap();
    w.client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();

    // A submitted proposal is not edited, nor submitted again; scoring waits
    // for the review.
    let edit = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(api::Proposal {
                    id: id.clone(),
                    title: Some(text("جديد", "new")),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    let (_, why) = precondition_message(&edit);
    assert!(why.contains("submitted cannot be edited"), "{why}");
    let again = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again), "PROPOSAL_STATE");
    w.assign(&id, &reviewer.id).await.unwrap();
    let early = w.score(&id, &token, 3, 3).await.unwrap_err();
    assert!(precondition_message(&early).1.contains("cannot be scored"));

    // A rejection needs a reason; a rejected proposal is final.
    let no_reason = w
        .client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: id.clone(),
                decision: api::Decision::Reject as i32,
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&no_reason), ["reason"]);
    w.client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: id.clone(),
                decision: api::Decision::Reject as i32,
                reason: "outside the call's themes".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let withdraw = w
        .client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: id.clone(),
                reason: String::new(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition_message(&withdraw)
            .1
            .contains("rejected cannot be withdrawn")
    );
    let note = w
        .client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: id.clone(),
                body: "?".into(),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&note), "COACHING_CLOSED");
    // The rejected organization may apply again in the same call only after
    // withdrawing, which a rejection does not allow: one proposal per call.
    let second = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(content(&call.id)),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::AlreadyExists);

    // Grants: activation, reporting and completion follow the award.
    let org2 = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let approved = w.approved(&call, &org2).await;
    let award = w
        .award(&approved.id, 450_000, &[(1, 200_000), (2, 250_000)])
        .await;
    let report = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(&award.id, api::ReportKind::Progress, 1, (1, 1))),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition_message(&report)
            .1
            .contains("awarded cannot be reported on")
    );
    let pay = w.disburse(&award.id, 1).await.unwrap_err();
    assert_eq!(precondition(&pay), "PROPOSAL_STATE");
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
    let twice = w
        .client
        .activate_grant(authed(
            api::ActivateGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition_message(&twice)
            .1
            .contains("active cannot be activated")
    );
    let final_first = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(&award.id, api::ReportKind::Final, 0, (1, 1))),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition_message(&final_first);
    assert_eq!(kind, "MILESTONES_OPEN");
    assert!(why.contains("1, 2"), "{why}");
    let complete = w
        .client
        .complete_grant(authed(
            api::CompleteGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&complete), "TRANCHES_OPEN");
    // Closed early: the planned tranches are cancelled and nothing more moves.
    let closed = w
        .client
        .close_grant_early(authed(
            api::CloseGrantEarlyRequest {
                award_id: award.id.clone(),
                reason: "the organization dissolved".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.state, api::ProposalState::ClosedEarly as i32);
    assert!(
        closed
            .tranches
            .iter()
            .all(|t| t.state == api::TrancheState::Cancelled as i32)
    );
    assert_eq!(
        (minor(&closed.cancelled), minor(&closed.remaining)),
        (450_000, 0)
    );
    let after = w.disburse(&award.id, 1).await.unwrap_err();
    assert!(precondition_message(&after).1.contains("closed early"));
    let ended: ev::ProjectCompleted = w.last_event("ProjectCompleted").await;
    assert_eq!(ended.outcome, ev::ProjectOutcome::ClosedEarly as i32);

    // Calls: opened once; rules frozen once open; closed calls take nothing.
    let reopen = w
        .client
        .open_call(authed(
            api::OpenCallRequest {
                id: call.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&reopen), "CALL_STATE");
    let mut cheaper = call.clone();
    cheaper.project_ceiling = Some(usd(100_000));
    let rules = w
        .client
        .update_call(authed(
            api::UpdateCallRequest {
                call: Some(cheaper),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["project_ceiling".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition_message(&rules)
            .1
            .contains("judged by the rules it opened with")
    );
    let mut later = call.clone();
    later.closes_on = Some(day(45));
    w.client
        .update_call(authed(
            api::UpdateCallRequest {
                call: Some(later),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["closes_on".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .expect("an open call may extend its deadline");
    let org3 = w
        .organization("منظمة ثالثة", IncubationStatus::Incubated)
        .await;
    let late = w.draft(&call, &org3).await;
    w.client
        .close_call(authed(
            api::CloseCallRequest {
                id: call.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let closed_call = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: late.id.clone(),
                etag: String::new(),
            },
            &w.partner(&org3),
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition_message(&closed_call);
    assert_eq!(kind, "CALL_STATE");
    assert!(why.contains("closed"), "{why}");

    // A draft call without a rubric does not open.
    let mut no_rubric = call_body(&w.program_id, Default::default(), 100_000, false);
    no_rubric.rubric = None;
    no_rubric.project_ceiling = Some(usd(100_000));
    let draft_call = w
        .client
        .create_call(authed(
            api::CreateCallRequest {
                call: Some(no_rubric),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let open = w
        .client
        .open_call(authed(
            api::OpenCallRequest {
                id: draft_call.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&open), "RUBRIC_MISSING");
}

/// A fresh proposal (of a new organization) driven into `state` through the
/// API, with `reviewer` assigned since its submission; and its award, if it
/// has one.
async fn in_state(
    w: &mut World,
    call: &api::Call,
    state: api::ProposalState,
    reviewer: &str,
) -> (api::Proposal, Option<String>) {
    use api::ProposalState as P;
    let org = w
        .organization(state.as_str_name(), IncubationStatus::Incubated)
        .await;
    let partner = w.partner(&org);
    let staff = w.staff.clone();
    let mut award = None;
    let p = if state == P::Draft {
        w.draft(call, &org).await
    } else {
        w.submitted(call, &org).await
    };
    let id = p.id.clone();
    if state != P::Draft {
        w.assign(&id, reviewer).await.unwrap();
    }
    let decide = |decision: api::Decision| api::DecideProposalRequest {
        id: id.clone(),
        decision: decision as i32,
        reason: "the committee's decision".into(),
        etag: String::new(),
    };
    match state {
        P::Draft | P::Submitted => {}
        P::ChangesRequested => {
            w.client
                .request_changes(authed(
                    api::RequestChangesRequest {
                        id: id.clone(),
                        note: "وضحوا الميزانية".into(),
                        etag: String::new(),
                    },
                    &staff,
                ))
                .await
                .unwrap();
        }
        P::Rejected => {
            w.client
                .decide_proposal(authed(decide(api::Decision::Reject), &staff))
                .await
                .unwrap();
        }
        P::Withdrawn => {
            w.client
                .withdraw_proposal(authed(
                    api::WithdrawProposalRequest {
                        id: id.clone(),
                        reason: "changed our plans".into(),
                        etag: String::new(),
                    },
                    &partner,
                ))
                .await
                .unwrap();
        }
        _ => {
            w.client
                .start_review(authed(
                    api::StartReviewRequest {
                        id: id.clone(),
                        etag: String::new(),
                    },
                    &staff,
                ))
                .await
                .unwrap();
            if state != P::UnderReview {
                w.client
                    .decide_proposal(authed(decide(api::Decision::Approve), &staff))
                    .await
                    .unwrap();
            }
            if !matches!(state, P::UnderReview | P::Approved) {
                let a = w.award(&id, 450_000, &[(1, 200_000), (2, 250_000)]).await;
                award = Some(a.id.clone());
                if state == P::ClosedEarly {
                    w.client
                        .close_grant_early(authed(
                            api::CloseGrantEarlyRequest {
                                award_id: a.id.clone(),
                                reason: "the partner dissolved".into(),
                                etag: String::new(),
                            },
                            &staff,
                        ))
                        .await
                        .unwrap();
                } else if state != P::Awarded {
                    w.client
                        .activate_grant(authed(
                            api::ActivateGrantRequest {
                                award_id: a.id.clone(),
                                etag: String::new(),
                            },
                            &staff,
                        ))
                        .await
                        .unwrap();
                }
                if state == P::Completed {
                    for m in [1, 2] {
                        let r = w.report(&a.id, api::ReportKind::Progress, m, (1, 1)).await;
                        w.review_report(&r.id, api::ReviewOutcome::Accept).await;
                        w.disburse(&a.id, m).await.unwrap();
                    }
                    let r = w.report(&a.id, api::ReportKind::Final, 0, (2, 2)).await;
                    w.review_report(&r.id, api::ReviewOutcome::Accept).await;
                    w.client
                        .complete_grant(authed(
                            api::CompleteGrantRequest {
                                award_id: a.id.clone(),
                                etag: String::new(),
                            },
                            &staff,
                        ))
                        .await
                        .unwrap();
                }
            }
        }
    }
    let now = w.get_proposal(&id, &staff).await.unwrap();
    assert_eq!(now.state, state as i32, "driven into {state:?}");
    (now, award)
}

fn ok<T>(r: Result<T, tonic::Status>) -> Result<(), tonic::Status> {
    r.map(|_| ())
}

/// Tries `action` on a proposal (and its award) through the RPC that does it.
/// `None` when the RPC cannot reach the life-cycle check for a reason of its
/// own: the award-level moves of a proposal that has no award (NOT_FOUND),
/// and scoring by a reviewer never assigned (a draft: NOT_FOUND).
#[allow(clippy::too_many_arguments)]
async fn attempt(
    w: &mut World,
    action: markaz_grants::domain::proposals::Action,
    p: &api::Proposal,
    award: Option<&str>,
    state: api::ProposalState,
    reviewer_token: &str,
    other_reviewer: &str,
) -> Option<Result<(), tonic::Status>> {
    use markaz_grants::domain::proposals::Action as A;
    let org = p.organization_id.clone();
    let partner = w.partner(&org);
    let staff = w.staff.clone();
    let c = &mut w.client;
    let id = p.id.clone();
    let decide = |decision: api::Decision| api::DecideProposalRequest {
        id: id.clone(),
        decision: decision as i32,
        reason: "the committee's decision".into(),
        etag: String::new(),
    };
    let award_id = award.map(str::to_string);
    if matches!(
        action,
        A::Activate | A::Report | A::Disburse | A::Vary | A::Complete | A::CloseEarly
    ) && award_id.is_none()
    {
        return None;
    }
    let award_id = award_id.unwrap_or_default();
    Some(match action {
        A::Edit => ok(c
            .update_proposal(authed(
                api::UpdateProposalRequest {
                    proposal: Some(api::Proposal {
                        id: id.clone(),
                        title: Some(text("عنوان جديد", "a new title")),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["title".into()],
                    }),
                },
                &partner,
            ))
            .await),
        A::Submit => ok(c
            .submit_proposal(authed(
                api::SubmitProposalRequest {
                    id: id.clone(),
                    etag: String::new(),
                },
                &partner,
            ))
            .await),
        A::RequestChanges => ok(c
            .request_changes(authed(
                api::RequestChangesRequest {
                    id: id.clone(),
                    note: "مزيد من التفاصيل".into(),
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
        A::StartReview => ok(c
            .start_review(authed(
                api::StartReviewRequest {
                    id: id.clone(),
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
        A::AssignReviewer => ok(c
            .assign_reviewer(authed(
                api::AssignReviewerRequest {
                    proposal_id: id.clone(),
                    reviewer_id: other_reviewer.into(),
                },
                &staff,
            ))
            .await),
        A::Score => {
            if state == api::ProposalState::Draft {
                return None;
            }
            ok(w.score(&id, reviewer_token, 4, 4).await)
        }
        A::Approve => ok(c
            .decide_proposal(authed(decide(api::Decision::Approve), &staff))
            .await),
        A::Reject => ok(c
            .decide_proposal(authed(decide(api::Decision::Reject), &staff))
            .await),
        A::Withdraw => ok(c
            .withdraw_proposal(authed(
                api::WithdrawProposalRequest {
                    id: id.clone(),
                    reason: "we withdraw".into(),
                    etag: String::new(),
                },
                &partner,
            ))
            .await),
        A::Award => ok(c
            .award_grant(authed(
                award_request(&id, 450_000, &[(1, 200_000), (2, 250_000)]),
                &staff,
            ))
            .await),
        A::Activate => ok(c
            .activate_grant(authed(
                api::ActivateGrantRequest {
                    award_id,
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
        A::Report => ok(c
            .submit_report(authed(
                api::SubmitReportRequest {
                    report: Some(report_body(&award_id, api::ReportKind::Progress, 1, (1, 1))),
                    request_id: String::new(),
                },
                &partner,
            ))
            .await),
        A::Disburse => w.disburse(&award_id, 1).await.map(|_| ()),
        A::Vary => ok(c
            .request_variation(authed(
                api::RequestVariationRequest {
                    variation: Some(api::Variation {
                        award_id,
                        justification: "تأخر التوريد".into(),
                        new_end_date: Some(day(300)),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &partner,
            ))
            .await),
        A::Complete => ok(c
            .complete_grant(authed(
                api::CompleteGrantRequest {
                    award_id,
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
        A::CloseEarly => ok(c
            .close_grant_early(authed(
                api::CloseGrantEarlyRequest {
                    award_id,
                    reason: "ended".into(),
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
    })
}

/// Every state a proposal can reach, driven through the API; in each, every
/// life-cycle RPC the domain's table refuses is refused with
/// FAILED_PRECONDITION and the table's own reason (and coaching with
/// COACHING_CLOSED once decided). Moves the table allows are the other
/// tests' business: trying them here would leave the state.
async fn every_life_cycle_rpc_is_refused_where_the_domain_table_says(backend: Backend) {
    use api::ProposalState as P;
    use markaz_grants::domain::{self, proposals::Action};
    let mut w = world(backend).await;
    let call = w.call(incubated_only(), 10_000_000, false).await;
    let (reviewer, reviewer_token) = w.reviewer("مراجعة").await;
    let (other, _) = w.reviewer("مراجع آخر").await;
    let mut checked = 0;
    for state in [
        P::Draft,
        P::Submitted,
        P::ChangesRequested,
        P::UnderReview,
        P::Approved,
        P::Rejected,
        P::Withdrawn,
        P::Awarded,
        P::Active,
        P::Completed,
        P::ClosedEarly,
    ] {
        let (p, award) = in_state(&mut w, &call, state, &reviewer.id).await;
        for action in Action::ALL {
            let Err(markaz_kit::error::Error::FailedPrecondition { description, .. }) =
                domain::proposals::transition(state, action)
            else {
                continue;
            };
            let Some(outcome) = attempt(
                &mut w,
                action,
                &p,
                award.as_deref(),
                state,
                &reviewer_token,
                &other.id,
            )
            .await
            else {
                continue;
            };
            let mut outcomes = vec![outcome];
            if action == Action::Report
                && let Some(award) = &award
            {
                // Spending is reported on too.
                let partner = w.partner(&p.organization_id);
                let spent = w
                    .client
                    .submit_expenditure_report(authed(expenditure(award, &[(1, 100)]), &partner))
                    .await;
                outcomes.push(ok(spent));
            }
            for outcome in outcomes {
                let status = outcome.expect_err(&format!("{action:?} in {state:?} is refused"));
                let (kind, why) = precondition_message(&status);
                assert_eq!(kind, "PROPOSAL_STATE", "{action:?} in {state:?}: {why}");
                assert_eq!(why, description, "{action:?} in {state:?}");
                checked += 1;
            }
        }
        // Coaching ends with the decision.
        let note = w
            .client
            .add_coaching_note(authed(
                api::AddCoachingNoteRequest {
                    proposal_id: p.id.clone(),
                    body: "ملاحظة".into(),
                    request_id: String::new(),
                },
                &w.staff,
            ))
            .await;
        let coach = w
            .client
            .assign_coach(authed(
                api::AssignCoachRequest {
                    proposal_id: p.id.clone(),
                    subject: format!("trainer-{}", state.as_str_name()),
                },
                &w.staff,
            ))
            .await;
        for (rpc, outcome) in [
            ("AddCoachingNote", code(&note)),
            ("AssignCoach", code(&coach)),
        ] {
            let expected = if domain::coaching::check_coaching_open(state).is_ok() {
                Code::Ok
            } else {
                Code::FailedPrecondition
            };
            assert_eq!(outcome, expected, "{rpc} in {state:?}");
        }
        // Nothing refused moved the proposal.
        let after = w.get_proposal(&p.id, &w.staff.clone()).await.unwrap();
        assert_eq!(after.state, state as i32, "{state:?} stayed");
    }
    assert!(checked > 100, "{checked} refusals checked");
}

async fn changes_may_be_requested_under_review_and_an_approval_withdrawn(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let partner = w.partner(&org);
    let p = w.under_review(&call, &org).await;
    let (reviewer, token) = w.reviewer("مراجعة").await;
    w.assign(&p.id, &reviewer.id).await.unwrap();
    w.score(&p.id, &token, 5, 4).await.unwrap();
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 1);

    // The committee sends it back while reviewing; the applicant revises.
    let back = w
        .client
        .request_changes(authed(
            api::RequestChangesRequest {
                id: p.id.clone(),
                note: "الميزانية غير واضحة: فصلوا بند المضخات".into(),
                etag: p.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.state, api::ProposalState::ChangesRequested as i32);
    let mut revised = content(&call.id);
    revised.id = p.id.clone();
    revised.summary = Some(text("بئر لألف شخص، بميزانية مفصلة", "detailed budget"));
    w.client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(revised),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["summary".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap();
    let resubmitted = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: p.id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resubmitted.version_number, 2);
    w.client
        .start_review(authed(
            api::StartReviewRequest {
                id: p.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    // The sheet scored version 1: kept, but no longer counted.
    let scores = |w: &mut World| {
        let mut c = w.client.clone();
        let (id, staff) = (p.id.clone(), w.staff.clone());
        async move {
            c.list_scores(authed(api::ListScoresRequest { proposal_id: id }, &staff))
                .await
                .unwrap()
                .into_inner()
                .sheets
        }
    };
    let sheets = scores(&mut w).await;
    assert_eq!(sheets.len(), 1);
    assert!(!sheets[0].counts);
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 0);
    // Scored again, on the revision: it counts.
    w.score(&p.id, &token, 5, 5).await.unwrap();
    assert!(scores(&mut w).await[0].counts);
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 1);

    // Approved, then never awarded: withdrawn, and only with a reason.
    w.client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: p.id.clone(),
                decision: api::Decision::Approve as i32,
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let bare = w
        .client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: p.id.clone(),
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bare), ["reason"]);
    let withdrawn = w
        .client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: p.id.clone(),
                reason: "the envelope went to projects ranked higher".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.state, api::ProposalState::Withdrawn as i32);
    assert_eq!(
        withdrawn.decision_reason,
        "the envelope went to projects ranked higher"
    );
    let award = w
        .client
        .award_grant(authed(
            award_request(&p.id, 450_000, &[(1, 450_000)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&award), "PROPOSAL_STATE");
    // The organization may apply again in the call.
    w.draft(&call, &org).await;
}
