//! What every request holds to: etags and serialized writers, one proposal
//! per organization and call, bad input refused whole with nothing written,
//! Arabic text byte for byte, idempotent creates and their rights.

use crate::world::*;

both_backends!(
    stale_etags_are_refused_and_concurrent_edits_serialize,
    concurrent_creates_leave_one_proposal_per_organization_and_call,
    bad_input_is_refused_with_field_details_and_nothing_written,
    arabic_text_round_trips_byte_for_byte,
    retried_creates_return_the_first_result,
    a_retry_is_answered_only_to_a_caller_who_still_has_the_rights,
);

async fn stale_etags_are_refused_and_concurrent_edits_serialize(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let partner = w.partner(&org);
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let draft = w.draft(&call, &org).await;
    let edit = |title: &str, etag: &str| api::UpdateProposalRequest {
        proposal: Some(api::Proposal {
            id: draft.id.clone(),
            title: Some(text(title, title)),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into()],
        }),
    };
    // Two writers read the same version; the second one loses.
    w.client
        .update_proposal(authed(edit("الأول", &draft.etag), &partner))
        .await
        .unwrap();
    let stale = w
        .client
        .update_proposal(authed(edit("الثاني", &draft.etag), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let submit = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: draft.etag.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(submit.code(), Code::Aborted);
    let current = w.get_proposal(&draft.id, &partner).await.unwrap();
    assert_eq!(current.title.unwrap().ar, "الأول");
    assert_eq!(current.state, api::ProposalState::Draft as i32);

    // Truly concurrent: of two edits sent at once with the same etag, exactly
    // one wins.
    let (mut a, mut b) = (w.client.clone(), w.client.clone());
    let (ra, rb) = tokio::join!(
        a.update_proposal(authed(edit("أ", &current.etag), &partner)),
        b.update_proposal(authed(edit("ب", &current.etag), &partner)),
    );
    let codes =
        [ra.map(|_| Code::Ok), rb.map(|_| Code::Ok)].map(|r| r.unwrap_or_else(|s| s.code()));
    let mut sorted = codes.to_vec();
    sorted.sort_by_key(|c| *c as i32);
    assert_eq!(sorted, [Code::Ok, Code::Aborted], "{codes:?}");

    // Programs, calls and awards carry etags too.
    let program = w
        .client
        .get_program(authed(
            api::GetProgramRequest {
                id: w.program_id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let rename = |name: &str| api::UpdateProgramRequest {
        program: Some(api::Program {
            name: Some(text(name, name)),
            ..program.clone()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into()],
        }),
    };
    w.client
        .update_program(authed(rename("منحة"), &w.staff))
        .await
        .unwrap();
    let stale = w
        .client
        .update_program(authed(rename("أخرى"), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let close = w
        .client
        .close_call(authed(
            api::CloseCallRequest {
                id: call.id.clone(),
                etag: "W/\"1\"".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(close.code(), Code::Aborted);
    let org2 = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let award = w.active_grant(&call, &org2).await;
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (1, 1))
        .await;
    w.review_report(&report.id, api::ReviewOutcome::Accept)
        .await;
    let stale = w
        .client
        .disburse_tranche(authed(
            api::DisburseTrancheRequest {
                award_id: award.id.clone(),
                tranche_number: 1,
                disbursed_on: None,
                reference: "TRF".into(),
                etag: award.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let fresh = w.get_award(&award.id).await;
    assert_eq!(minor(&fresh.disbursed), 0);
    // Two disbursements of the same tranche at once: one is paid.
    let (mut a, mut b) = (w.client.clone(), w.client.clone());
    let pay = |etag: &str| api::DisburseTrancheRequest {
        award_id: award.id.clone(),
        tranche_number: 1,
        disbursed_on: None,
        reference: "TRF".into(),
        etag: etag.into(),
    };
    let (ra, rb) = tokio::join!(
        a.disburse_tranche(authed(pay(""), &w.staff)),
        b.disburse_tranche(authed(pay(""), &w.staff)),
    );
    assert_eq!(
        [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "exactly one payment"
    );
    assert_eq!(minor(&w.get_award(&award.id).await.disbursed), 200_000);
}

async fn concurrent_creates_leave_one_proposal_per_organization_and_call(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let partner = w.partner(&org);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let mut client = w.client.clone();
            let request = authed(
                api::CreateProposalRequest {
                    proposal: Some(content(&call.id)),
                    request_id: String::new(),
                },
                &partner,
            );
            tokio::spawn(async move { code(&client.create_proposal(request).await) })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(
        codes.iter().filter(|c| **c == Code::Ok).count(),
        1,
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| matches!(c, Code::Ok | Code::AlreadyExists)),
        "{codes:?}"
    );
    assert_eq!(w.count("proposals").await, 1);
}

async fn bad_input_is_refused_with_field_details_and_nothing_written(backend: Backend) {
    let mut w = world(backend).await;
    // A call with everything wrong at once.
    let bad = api::Call {
        program_id: "not-an-id".into(),
        title: Some(text(&"م".repeat(201), "")),
        themes: vec![api::Theme {
            code: "Water!".into(),
            name: Some(text("ماء", "")),
        }],
        budget_envelope: Some(usd(100)),
        project_ceiling: Some(Money {
            currency_code: "EUR".into(),
            minor_units: 50,
        }),
        opens_on: Some(day(10)),
        closes_on: Some(day(1)),
        eligibility: Some(api::EligibilityRules {
            incubation_statuses: vec![99],
            ..Default::default()
        }),
        rubric: Some(api::Rubric {
            max_score: 0,
            criteria: vec![api::Criterion {
                code: "need".into(),
                name: Some(text("الحاجة", "")),
                guidance: None,
                weight: 0,
            }],
        }),
        ..Default::default()
    };
    let status = w
        .client
        .create_call(authed(
            api::CreateCallRequest {
                call: Some(bad),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = field_violations(&status);
    for f in [
        "call.program_id",
        "call.title.ar",
        "call.themes[0].code",
        "call.project_ceiling.currency_code",
        "call.closes_on",
        "call.eligibility.incubation_statuses[0]",
        "call.rubric.max_score",
        "call.rubric.criteria[0].weight",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    assert_eq!(w.count("calls").await, 0);

    // A proposal with bad parts: every one named, nothing written.
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let mut p = content(&call.id);
    p.theme_code = "space".into();
    p.sector = 404;
    p.beneficiaries_targeted = Some(api::Beneficiaries {
        female: -1,
        male: 0,
        undisclosed: 0,
    });
    p.budget_lines[0].category = 0;
    p.milestones[1].due_date = Some(day(1));
    p.end_date = Some(day(2));
    let status = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(p),
                request_id: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap_err();
    let fields = field_violations(&status);
    for f in [
        "proposal.theme_code",
        "proposal.sector",
        "proposal.beneficiaries_targeted.female",
        "proposal.budget_lines[0].category",
        "proposal.milestones[1].due_date",
        "proposal.end_date",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    assert_eq!(w.count("proposals").await, 0);
    assert_eq!(w.count("proposal_lines").await, 0);

    // Malformed ids are refused, not looked up; unknown update paths named.
    let status = w
        .client
        .get_proposal(authed(
            api::GetProposalRequest {
                id: "1 OR 1=1".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["id"]);
    let draft = w.draft(&call, &org).await;
    let status = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(api::Proposal {
                    id: draft.id.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["organization_id".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["update_mask.paths[0]"]);
    // Reports, expenditure and variations are checked field by field too.
    let status = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(api::Report {
                    award_id: String::new(),
                    kind: api::ReportKind::Progress as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "report.award_id",
            "report.milestone_number",
            "report.narrative"
        ]
    );
    let second_call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&second_call, &org).await;
    let status = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(5)),
                    period_end: Some(day(1)),
                    lines: vec![
                        api::ExpenditureLine {
                            line_number: 1,
                            amount: Some(Money {
                                currency_code: "TRY".into(),
                                minor_units: 10,
                            }),
                            note: String::new(),
                        },
                        api::ExpenditureLine {
                            line_number: 9,
                            amount: Some(usd(10)),
                            note: String::new(),
                        },
                    ],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "report.period_end",
            "report.lines[0].amount.currency_code",
            "report.lines[1].line_number"
        ]
    );
    let status = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(0)),
                    period_end: Some(day(1)),
                    lines: vec![api::ExpenditureLine {
                        line_number: 9,
                        amount: Some(usd(10)),
                        note: String::new(),
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["report.lines[0].line_number"]);
    assert_eq!(w.count("expenditure_reports").await, 0);
    let status = w
        .client
        .request_variation(authed(
            api::RequestVariationRequest {
                variation: Some(api::Variation {
                    award_id: award.id.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["variation.justification"]);
    assert_eq!(w.count("variations").await, 0);
    // A reviewer for a person grants never heard of.
    let status = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: new_id(),
                    subject: "someone".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&status), "PERSON_UNKNOWN");
    assert_eq!(w.count("reviewers").await, 0);
}

async fn arabic_text_round_trips_byte_for_byte(backend: Backend) {
    let mut w = world(backend).await;
    // Tashkeel, a right-to-left mark, mixed scripts, an emoji, a newline.
    let tricky = "مَشْرُوع \u{200F}إعادة تأهيل – Phase ١ 💧\nالمرحلة الثانية";
    let org = w
        .organization("جَمْعِيَّة الفُرات", IncubationStatus::Incubated)
        .await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let mut p = content(&call.id);
    p.title = Some(text("عنوان \u{200F}مُشَكَّل", ""));
    p.summary = Some(text(tricky, ""));
    p.budget_lines[0].description = Some(text("مضخّات غاطسة", ""));
    let created = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(p),
                request_id: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap()
        .into_inner();
    let got = w.get_proposal(&created.id, &w.staff.clone()).await.unwrap();
    assert_eq!(
        got.summary.as_ref().unwrap().ar.as_bytes(),
        tricky.as_bytes()
    );
    assert_eq!(
        got.title.as_ref().unwrap().ar.as_bytes(),
        "عنوان \u{200F}مُشَكَّل".as_bytes()
    );
    assert_eq!(
        got.budget_lines[0].description.as_ref().unwrap().ar,
        "مضخّات غاطسة"
    );
    assert_eq!(
        got.organization_name.as_ref().unwrap().ar.as_bytes(),
        "جَمْعِيَّة الفُرات".as_bytes()
    );
    // The submitted version keeps it too, and a coaching note.
    w.client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: created.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let versions = w
        .client
        .list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: created.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(
        versions[0]
            .proposal
            .as_ref()
            .unwrap()
            .summary
            .as_ref()
            .unwrap()
            .ar
            .as_bytes(),
        tricky.as_bytes()
    );
    let note = w
        .client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: created.id.clone(),
                body: tricky.into(),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(note.body.as_bytes(), tricky.as_bytes());
    let call_title = w
        .client
        .get_call(authed(
            api::GetCallRequest {
                id: call.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .title
        .unwrap();
    assert_eq!(call_title.ar, "منحة الأب باولو – الدورة الثالثة");
    let event: ev::ProposalSubmitted = w.last_event("ProposalSubmitted").await;
    assert_eq!(event.context.unwrap().governorate, "Raqqa");
}

async fn retried_creates_return_the_first_result(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let request = api::CreateProposalRequest {
        proposal: Some(content(&call.id)),
        request_id: "8f14e45f-ceea-467f-a0e6-0fd0f6c6b5e1".into(),
    };
    let partner = w.partner(&org);
    let first = w
        .client
        .create_proposal(authed(request.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .create_proposal(authed(request.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(w.count("proposals").await, 1);
    let mut different = request;
    different.proposal.as_mut().unwrap().theme_code = "parks".into();
    let status = w
        .client
        .create_proposal(authed(different, &partner))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["request_id"]);
    // An award retried after a lost answer is not awarded twice.
    let org2 = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let approved = w.approved(&call, &org2).await;
    let mut award = award_request(&approved.id, 450_000, &[(1, 450_000)]);
    award.request_id = "award-1".into();
    let a1 = w
        .client
        .award_grant(authed(award.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let a2 = w
        .client
        .award_grant(authed(award, &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a1.id, a2.id);
    assert_eq!(w.count("awards").await, 1);
}

/// Rights come before replays: the same account (same subject, so the same
/// idempotency key) retrying after it lost its rights gets NOT_FOUND, not a
/// copy of the first answer.
async fn a_retry_is_answered_only_to_a_caller_who_still_has_the_rights(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let other = w
        .organization("منظمة أخرى", IncubationStatus::Incubated)
        .await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let partner = w.partner(&org);
    // The same account, now a member of another organization.
    let moved = w.token_of(&format!("member-of-{org}"), &[Role::Partner], Some(&other));

    // CreateProposal naming the organization: NOT_FOUND; not naming it (the
    // token's organization is meant): not the same request any more.
    let named = api::CreateProposalRequest {
        proposal: Some(api::Proposal {
            organization_id: org.clone(),
            ..content(&call.id)
        }),
        request_id: "create-1".into(),
    };
    let created = w
        .client
        .create_proposal(authed(named.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .create_proposal(authed(named.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, created, "the owner's retry is answered");
    let retried = w.client.create_proposal(authed(named, &moved)).await;
    assert_eq!(code(&retried), Code::NotFound);
    w.client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: created.id.clone(),
                reason: String::new(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();
    let unnamed = api::CreateProposalRequest {
        proposal: Some(content(&call.id)),
        request_id: "create-2".into(),
    };
    let draft = w
        .client
        .create_proposal(authed(unnamed.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let retried = w
        .client
        .create_proposal(authed(unnamed, &moved))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&retried), ["request_id"]);

    // AddCoachingNote on the organization's proposal.
    let note = api::AddCoachingNoteRequest {
        proposal_id: draft.id.clone(),
        body: "سؤال عن الميزانية".into(),
        request_id: "note-1".into(),
    };
    w.client
        .add_coaching_note(authed(note.clone(), &partner))
        .await
        .unwrap();
    let retried = w.client.add_coaching_note(authed(note, &moved)).await;
    assert_eq!(code(&retried), Code::NotFound);

    // SubmitReport, SubmitExpenditureReport and RequestVariation on its grant.
    let next_round = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&next_round, &org).await;
    let report = api::SubmitReportRequest {
        report: Some(report_body(&award.id, api::ReportKind::Progress, 1, (3, 2))),
        request_id: "report-1".into(),
    };
    w.client
        .submit_report(authed(report.clone(), &partner))
        .await
        .unwrap();
    let retried = w.client.submit_report(authed(report, &moved)).await;
    assert_eq!(code(&retried), Code::NotFound);
    let mut spending = expenditure(&award.id, &[(1, 5_000)]);
    spending.request_id = "spent-1".into();
    w.client
        .submit_expenditure_report(authed(spending.clone(), &partner))
        .await
        .unwrap();
    let retried = w
        .client
        .submit_expenditure_report(authed(spending, &moved))
        .await;
    assert_eq!(code(&retried), Code::NotFound);
    let variation = api::RequestVariationRequest {
        variation: Some(api::Variation {
            award_id: award.id.clone(),
            justification: "الأمطار أخرت العمل".into(),
            new_end_date: Some(day(200)),
            ..Default::default()
        }),
        request_id: "vary-1".into(),
    };
    w.client
        .request_variation(authed(variation.clone(), &partner))
        .await
        .unwrap();
    let retried = w.client.request_variation(authed(variation, &moved)).await;
    assert_eq!(code(&retried), Code::NotFound);

    // DeclareConflict: a reviewer's retry after recusing itself from the
    // proposal is answered; after its person was erased (no reviewer any
    // more), it is not.
    let p = w.under_review(&call, &other).await;
    let (reviewer, token) = w.reviewer("مراجعة").await;
    w.assign(&p.id, &reviewer.id).await.unwrap();
    let on_proposal = api::DeclareConflictRequest {
        conflict: Some(api::Conflict {
            proposal_id: p.id.clone(),
            reason: "قريبة لمديرة المنظمة".into(),
            ..Default::default()
        }),
        request_id: "conflict-1".into(),
    };
    let declared = w
        .client
        .declare_conflict(authed(on_proposal.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .declare_conflict(authed(on_proposal, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, declared);
    let on_organization = api::DeclareConflictRequest {
        conflict: Some(api::Conflict {
            organization_id: org.clone(),
            reason: "عضو في مجلس الإدارة سابقا".into(),
            ..Default::default()
        }),
        request_id: "conflict-2".into(),
    };
    w.client
        .declare_conflict(authed(on_organization.clone(), &token))
        .await
        .unwrap();
    w.deliver(
        "membership",
        ev::PersonErased {
            person_id: reviewer.person_id.clone(),
            ..Default::default()
        },
    )
    .await;
    let retried = w
        .client
        .declare_conflict(authed(on_organization, &token))
        .await;
    assert_eq!(code(&retried), Code::NotFound);
}
