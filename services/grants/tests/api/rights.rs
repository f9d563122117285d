//! Tenancy and rights: every method held to [`markaz_grants::RIGHTS`] through
//! the real server, partners and reviewers seeing only their own, no tenant
//! seeing another's.

use markaz_kit::testing::rights;

use crate::world::*;

both_backends!(
    every_rpc_holds_to_the_rights_table,
    partners_and_reviewers_see_only_their_own,
    tenants_never_see_each_other,
);

async fn every_rpc_holds_to_the_rights_table(backend: Backend) {
    let w = world(backend).await;
    let before = (
        w.count("programs").await,
        w.count("calls").await,
        w.count("proposals").await,
    );
    // Every method as every role, and with every kind of bad token: the
    // roles outside its entry refused, those in it let through to find
    // nothing (the objects of an empty request do not exist).
    rights::check(&w.app, markaz_grants::RIGHTS, TENANT).await;
    // Nothing was written by any of them.
    let after = (
        w.count("programs").await,
        w.count("calls").await,
        w.count("proposals").await,
    );
    assert_eq!(after, before, "a refused call wrote nothing");
}

async fn partners_and_reviewers_see_only_their_own(backend: Backend) {
    let mut w = world(backend).await;
    let mine = w.organization("منظمتنا", IncubationStatus::Incubated).await;
    let theirs = w.organization("منظمتهم", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &theirs).await;
    let proposal = award.proposal_id.clone();
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (1, 1))
        .await;
    let own_draft = w.draft(&call, &mine).await;
    let intruder = w.partner(&mine);
    let (stranger, stranger_token) = w.reviewer("مراجع غريب").await;
    let _ = stranger;

    // The owner sees its own.
    let owner = w.partner(&theirs);
    assert!(w.get_proposal(&proposal, &owner).await.is_ok());

    // Another partner: every object of the other organization is NOT_FOUND.
    let c = &mut w.client;
    let t = intruder.as_str();
    let codes: Vec<(&str, Code)> = vec![
        (
            "GetProposal",
            code(
                &c.get_proposal(authed(
                    api::GetProposalRequest {
                        id: proposal.clone(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "UpdateProposal",
            code(
                &c.update_proposal(authed(
                    api::UpdateProposalRequest {
                        proposal: Some(api::Proposal {
                            id: proposal.clone(),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["summary".into()],
                        }),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "SubmitProposal",
            code(
                &c.submit_proposal(authed(
                    api::SubmitProposalRequest {
                        id: proposal.clone(),
                        etag: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "WithdrawProposal",
            code(
                &c.withdraw_proposal(authed(
                    api::WithdrawProposalRequest {
                        id: proposal.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListProposalVersions",
            code(
                &c.list_proposal_versions(authed(
                    api::ListProposalVersionsRequest {
                        proposal_id: proposal.clone(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "AddCoachingNote",
            code(
                &c.add_coaching_note(authed(
                    api::AddCoachingNoteRequest {
                        proposal_id: proposal.clone(),
                        body: "x".into(),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListCoachingNotes",
            code(
                &c.list_coaching_notes(authed(
                    api::ListCoachingNotesRequest {
                        proposal_id: proposal.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "CheckEligibility",
            code(
                &c.check_eligibility(authed(
                    api::CheckEligibilityRequest {
                        call_id: call.id.clone(),
                        organization_id: theirs.clone(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "CreateProposal",
            code(
                &c.create_proposal(authed(
                    api::CreateProposalRequest {
                        proposal: Some(api::Proposal {
                            organization_id: theirs.clone(),
                            ..content(&call.id)
                        }),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "GetAward",
            code(
                &c.get_award(authed(
                    api::GetAwardRequest {
                        id: award.id.clone(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "SubmitReport",
            code(
                &c.submit_report(authed(
                    api::SubmitReportRequest {
                        report: Some(report_body(&award.id, api::ReportKind::Progress, 2, (1, 1))),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListReports",
            code(
                &c.list_reports(authed(
                    api::ListReportsRequest {
                        award_id: award.id.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "SubmitExpenditureReport",
            code(
                &c.submit_expenditure_report(authed(
                    api::SubmitExpenditureReportRequest {
                        report: Some(api::ExpenditureReport {
                            award_id: award.id.clone(),
                            period_start: Some(day(0)),
                            period_end: Some(day(1)),
                            lines: vec![api::ExpenditureLine {
                                line_number: 1,
                                amount: Some(usd(1)),
                                note: String::new(),
                            }],
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListExpenditureReports",
            code(
                &c.list_expenditure_reports(authed(
                    api::ListExpenditureReportsRequest {
                        award_id: award.id.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "RequestVariation",
            code(
                &c.request_variation(authed(
                    api::RequestVariationRequest {
                        variation: Some(api::Variation {
                            award_id: award.id.clone(),
                            justification: "x".into(),
                            new_end_date: Some(day(200)),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListVariations",
            code(
                &c.list_variations(authed(
                    api::ListVariationsRequest {
                        award_id: award.id.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
    ];
    for (rpc, got) in &codes {
        assert_eq!(*got, Code::NotFound, "{rpc} by another partner");
    }
    // Lists show only the caller's own organization.
    let listed = c
        .list_proposals(authed(api::ListProposalsRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 1, "a partner counts its own only");
    let listed = listed.proposals;
    assert_eq!(
        listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        [own_draft.id.as_str()]
    );
    let asked = c
        .list_proposals(authed(
            api::ListProposalsRequest {
                organization_id: theirs.clone(),
                ..Default::default()
            },
            t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(asked.proposals.is_empty());
    assert_eq!(asked.total_size, 0);
    let awards = c
        .list_awards(authed(api::ListAwardsRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert!(awards.awards.is_empty());
    assert_eq!(awards.total_size, 0);
    // Nothing of theirs changed.
    let untouched = w.get_proposal(&proposal, &owner).await.unwrap();
    assert_eq!(untouched.state, api::ProposalState::Active as i32);
    let reports = w
        .client
        .list_reports(authed(
            api::ListReportsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reports.total_size, 1);
    let reports = reports.reports;
    assert_eq!(
        reports.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [report.id]
    );

    // A reviewer not assigned: NOT_FOUND for the proposal, its scores and
    // conflicts declared against it; empty lists.
    let c = &mut w.client;
    let t = stranger_token.as_str();
    assert_eq!(
        code(
            &c.get_proposal(authed(
                api::GetProposalRequest {
                    id: proposal.clone()
                },
                t
            ))
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            &c.list_scores(authed(
                api::ListScoresRequest {
                    proposal_id: proposal.clone(),
                },
                t
            ))
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            &c.submit_score(authed(
                api::SubmitScoreRequest {
                    proposal_id: proposal.clone(),
                    ..Default::default()
                },
                t
            ))
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            &c.declare_conflict(authed(
                api::DeclareConflictRequest {
                    conflict: Some(api::Conflict {
                        proposal_id: proposal.clone(),
                        reason: "x".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                t
            ))
            .await
        ),
        Code::NotFound
    );
    let listed = c
        .list_proposals(authed(api::ListProposalsRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.proposals.is_empty());
    assert_eq!(listed.total_size, 0, "an unassigned reviewer counts none");
    let assignments = c
        .list_assignments(authed(api::ListAssignmentsRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert!(assignments.assignments.is_empty());
    assert_eq!(assignments.total_size, 0);
    // Another reviewer's record is not visible either.
    let (other_reviewer, _) = w.reviewer("مراجع آخر").await;
    assert_eq!(
        code(
            &w.client
                .get_reviewer(authed(
                    api::GetReviewerRequest {
                        id: other_reviewer.id.clone(),
                    },
                    &stranger_token
                ))
                .await
        ),
        Code::NotFound
    );
    // Partners and reviewers do not see draft calls.
    let draft_call = w
        .client
        .create_call(authed(
            api::CreateCallRequest {
                call: Some(call_body(&w.program_id, incubated_only(), 1_200_000, false)),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    for token in [&intruder, &stranger_token] {
        assert_eq!(
            code(
                &w.client
                    .get_call(authed(
                        api::GetCallRequest {
                            id: draft_call.id.clone(),
                        },
                        token
                    ))
                    .await
            ),
            Code::NotFound
        );
        let calls = w
            .client
            .list_calls(authed(api::ListCallsRequest::default(), token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (calls.calls.len(), calls.total_size),
            (1, 1),
            "only the open call"
        );
    }
    let all_calls = w
        .client
        .list_calls(authed(api::ListCallsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all_calls.total_size, 2, "staff count the draft too");
}

async fn tenants_never_see_each_other(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let p = w.submitted(&call, &org).await;
    let intruder = w.app.token(OTHER_TENANT, &[Role::Admin], None);
    let got = w.get_proposal(&p.id, &intruder).await.unwrap_err();
    assert_eq!(got.code(), Code::NotFound);
    let calls = w
        .client
        .list_calls(authed(api::ListCallsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(calls.calls.is_empty());
    assert_eq!(calls.total_size, 0);
    let programs = w
        .client
        .list_programs(authed(api::ListProgramsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(programs.programs.is_empty());
    assert_eq!(programs.total_size, 0);
    // Every total another tenant asks for is 0; this tenant's are not.
    let c = &mut w.client;
    for (token, n) in [(&intruder, 0), (&w.staff, 1)] {
        let proposals = c
            .list_proposals(authed(api::ListProposalsRequest::default(), token))
            .await
            .unwrap()
            .into_inner();
        let programs = c
            .list_programs(authed(api::ListProgramsRequest::default(), token))
            .await
            .unwrap()
            .into_inner();
        let calls = c
            .list_calls(authed(api::ListCallsRequest::default(), token))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (proposals.total_size, programs.total_size, calls.total_size),
            (n, n, n)
        );
    }
    let reviewers = c
        .list_reviewers(authed(api::ListReviewersRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    let awards = c
        .list_awards(authed(api::ListAwardsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((reviewers.total_size, awards.total_size), (0, 0));
    // Nor can the other tenant act on this tenant's objects.
    let award = w
        .client
        .award_grant(authed(
            award_request(&p.id, 450_000, &[(1, 450_000)]),
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(award.code(), Code::NotFound);
    let eligibility = w
        .client
        .check_eligibility(authed(
            api::CheckEligibilityRequest {
                call_id: call.id.clone(),
                organization_id: org.clone(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(eligibility.code(), Code::NotFound);
    if backend == Backend::Postgres {
        // Row-level security: no tenant set, no rows.
        let mut tx = w.db.system().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM proposals")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(n, 0);
    }
}
