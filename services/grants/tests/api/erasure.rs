//! Erasure (issue 9): a person written, in every spelling, into every
//! free-text field of grants' API (the list comes from the proto
//! descriptors, [`Coverage`]), then erased through grants' real consumer:
//! afterwards no read of grants returns anything of her, no table of its
//! database holds anything of her, and the figures stay what they were.

use markaz_kit::testing::erasure::{
    Coverage, EMAIL, FULL_NAME, SPELLINGS, bytes_leak, erased_event, leaks, mention, message_leaks,
    table_leaks,
};
use markaz_proto::common::v1::AgeBand;

use crate::world::*;

both_backends!(nothing_of_an_erased_person_is_left_in_grants);

/// Fields of grants' requests that hold no prose, so no name: each is
/// validated as a slug or a code, and a mention is refused there.
const EXEMPT: &[&str] = &[
    // ISO-4217 codes ("USD").
    "Money.currency_code",
    // Slugs, unique in their call or rubric ("water", "need").
    "Theme.code",
    "Criterion.code",
    "CriterionScore.criterion_code",
    "Proposal.theme_code",
    // A capacity topic code ("proposal-writing").
    "EligibilityRules.required_course_topic",
];

/// `SPELLINGS[BIDI]` wraps the name in bidi isolates, which every text
/// field refuses (`validate::suspicious`): sent once to show it is refused,
/// skipped everywhere else.
const BIDI: usize = 5;

/// The mentions of the person, each spelling in turn.
struct Mentions(usize);

impl Mentions {
    fn next(&mut self) -> String {
        if self.0 % SPELLINGS.len() == BIDI {
            self.0 += 1;
        }
        self.0 += 1;
        mention(self.0 - 1)
    }

    fn text(&mut self) -> LocalizedText {
        LocalizedText {
            ar: self.next(),
            en: self.next(),
        }
    }
}

/// What the reads after the erasure found, all of it reported at once.
#[derive(Default)]
struct Reads(Vec<String>);

impl Reads {
    /// A read that must answer, and must not name her.
    fn ok<M: Message + std::fmt::Debug>(
        &mut self,
        what: &str,
        answer: Result<tonic::Response<M>, tonic::Status>,
    ) -> M {
        match answer {
            Ok(r) => {
                let m = r.into_inner();
                if message_leaks(&m) {
                    self.0.push(format!("{what}: {m:?}"));
                }
                m
            }
            Err(s) => panic!("{what} failed: {s:?}"),
        }
    }

    /// A retry, answered or refused, that must not name her either way.
    fn any<M: Message + std::fmt::Debug>(
        &mut self,
        what: &str,
        answer: Result<tonic::Response<M>, tonic::Status>,
    ) {
        match answer {
            Ok(r) => {
                self.ok(what, Ok(r));
            }
            Err(s) => {
                if leaks(s.message()) || bytes_leak(s.details()) {
                    self.0.push(format!("{what} (refused): {s:?}"));
                }
            }
        }
    }
}

fn person(id: &str, name: &str, gender: Gender, age_band: AgeBand) -> ev::PersonRegistered {
    ev::PersonRegistered {
        person: Some(ev::PersonSnapshot {
            id: id.into(),
            full_name: name.into(),
            gender: gender as i32,
            age_band: age_band as i32,
            branch_id: "raqqa".into(),
            version: 1,
        }),
    }
}

/// A proposal whose every text mentions her.
fn proposal_mentioning(call_id: &str, m: &mut Mentions) -> api::Proposal {
    let mut p = content(call_id);
    p.title = Some(m.text());
    p.summary = Some(m.text());
    p.community_need = Some(m.text());
    p.location = Some(api::Location {
        governorate: m.next(),
        place: Some(m.text()),
    });
    for l in &mut p.budget_lines {
        l.description = Some(m.text());
    }
    for s in &mut p.milestones {
        s.title = Some(m.text());
        s.deliverables = Some(m.text());
    }
    // Output only: the service ignores what a request puts there.
    p.organization_name = Some(m.text());
    p.decision_reason = m.next();
    p
}

/// What grants counts, stripped of text: the ranking (scores, reviews) and
/// the award's money and reported beneficiaries. Grants keeps no figure by
/// gender or age band of a person: the beneficiaries it counts are totals
/// an applicant declares, no one's record.
async fn figures(w: &mut World, call: &str, award: &str) -> Vec<(String, i64, i64, i64)> {
    let mut out: Vec<(String, i64, i64, i64)> = w
        .ranking(call)
        .await
        .proposals
        .into_iter()
        .map(|p| {
            (
                p.proposal_id,
                i64::from(p.rank),
                i64::from(p.review_count),
                i64::from(p.score_basis_points),
            )
        })
        .collect();
    let a = w.get_award(award).await;
    out.push((
        "award".into(),
        minor(&a.amount),
        minor(&a.disbursed),
        minor(&a.spent),
    ));
    out.push((
        "remaining".into(),
        minor(&a.remaining),
        minor(&a.cancelled),
        0,
    ));
    let reports = w
        .client
        .list_reports(authed(
            api::ListReportsRequest {
                award_id: award.into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    for r in reports.reports {
        let b = r.beneficiaries_reached.unwrap_or_default();
        out.push((format!("report {}", r.id), b.female, b.male, b.undisclosed));
    }
    out
}

async fn nothing_of_an_erased_person_is_left_in_grants(backend: Backend) {
    let mut w = world(backend).await;
    let mut m = Mentions(0);
    let mut coverage = Coverage::default();
    let staff = w.staff.clone();

    // She and a colleague, as membership announces them.
    let nadia = new_id();
    w.deliver(
        "membership",
        person(&nadia, FULL_NAME, Gender::Female, AgeBand::AgeBand2534),
    )
    .await;
    let omar = new_id();
    w.deliver(
        "membership",
        person(&omar, "عمر السيد", Gender::Male, AgeBand::AgeBand3544),
    )
    .await;
    let org = w
        .organization("منظمة الكرامة", IncubationStatus::Incubated)
        .await;
    let other_org = w
        .organization("منظمة الفرات", IncubationStatus::Incubated)
        .await;
    let third_org = w
        .organization("منظمة النور", IncubationStatus::Incubated)
        .await;
    let partner = w.partner(&org);
    let third_partner = w.partner(&third_org);

    // Programs.
    let create_program = api::CreateProgramRequest {
        program: Some(api::Program {
            name: Some(m.text()),
            description: Some(m.text()),
            ..Default::default()
        }),
        request_id: "program-1".into(),
    };
    coverage.note(&create_program);
    let program = w
        .client
        .create_program(authed(create_program.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let update_program = api::UpdateProgramRequest {
        program: Some(api::Program {
            id: program.id.clone(),
            name: Some(m.text()),
            description: Some(m.text()),
            ..Default::default()
        }),
        update_mask: None,
    };
    coverage.note(&update_program);
    w.client
        .update_program(authed(update_program, &staff))
        .await
        .unwrap();

    // A call, every text naming her.
    let mut body = call_body(&program.id, incubated_only(), 1_200_000, false);
    body.title = Some(m.text());
    body.description = Some(m.text());
    for t in &mut body.themes {
        t.name = Some(m.text());
    }
    for c in &mut body.rubric.as_mut().unwrap().criteria {
        c.name = Some(m.text());
        c.guidance = Some(m.text());
    }
    let create_call = api::CreateCallRequest {
        call: Some(body),
        request_id: "call-1".into(),
    };
    coverage.note(&create_call);
    let call = w
        .client
        .create_call(authed(create_call.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let update_call = api::UpdateCallRequest {
        call: Some(api::Call {
            id: call.id.clone(),
            title: Some(m.text()),
            description: Some(m.text()),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into(), "description".into()],
        }),
    };
    coverage.note(&update_call);
    w.client
        .update_call(authed(update_call, &staff))
        .await
        .unwrap();
    let call = w
        .client
        .open_call(authed(
            api::OpenCallRequest {
                id: call.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();

    // Reviewers: she signs in with her e-mail; he with an account of his.
    let create_reviewer = api::CreateReviewerRequest {
        reviewer: Some(api::Reviewer {
            person_id: nadia.clone(),
            subject: EMAIL.into(),
            // Output only.
            display_name: m.next(),
            expertise: vec![Sector::WaterSanitationHygiene as i32],
            ..Default::default()
        }),
        request_id: "reviewer-nadia".into(),
    };
    coverage.note(&create_reviewer);
    let her_reviewer = w
        .client
        .create_reviewer(authed(create_reviewer.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let her_token = w.token_of(EMAIL, &[Role::Reviewer], None);
    let his_reviewer = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: omar.clone(),
                    subject: "omar-reviewer".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let his_token = w.token_of("omar-reviewer", &[Role::Reviewer], None);
    // He declares a conflict with the other organization, naming her.
    let declare = api::DeclareConflictRequest {
        conflict: Some(api::Conflict {
            organization_id: other_org.clone(),
            reason: m.next(),
            // Output only.
            declared_by: m.next(),
            ..Default::default()
        }),
        request_id: "conflict-1".into(),
    };
    coverage.note(&declare);
    w.client
        .declare_conflict(authed(declare.clone(), &his_token))
        .await
        .unwrap();

    // The proposal, through the coaching loop.
    let create_proposal = api::CreateProposalRequest {
        proposal: Some(proposal_mentioning(&call.id, &mut m)),
        request_id: "proposal-1".into(),
    };
    coverage.note(&create_proposal);
    let p = w
        .client
        .create_proposal(authed(create_proposal.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let update_proposal = |m: &mut Mentions| {
        let mut body = proposal_mentioning(&call.id, m);
        body.id = p.id.clone();
        api::UpdateProposalRequest {
            proposal: Some(body),
            update_mask: None,
        }
    };
    let update = update_proposal(&mut m);
    coverage.note(&update);
    w.client
        .update_proposal(authed(update, &partner))
        .await
        .unwrap();
    let note = api::AddCoachingNoteRequest {
        proposal_id: p.id.clone(),
        body: m.next(),
        request_id: "note-1".into(),
    };
    coverage.note(&note);
    w.client
        .add_coaching_note(authed(note.clone(), &staff))
        .await
        .unwrap();
    let bidi = w
        .client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: p.id.clone(),
                body: mention(BIDI),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(bidi.code(), Code::InvalidArgument, "{bidi:?}");
    // A coach whose account is her e-mail, in capitals.
    let coach = api::AssignCoachRequest {
        proposal_id: p.id.clone(),
        subject: SPELLINGS[11].into(),
    };
    coverage.note(&coach);
    w.client.assign_coach(authed(coach, &staff)).await.unwrap();
    let submit = |w: &mut World| {
        let mut client = w.client.clone();
        let (partner, id) = (partner.clone(), p.id.clone());
        async move {
            client
                .submit_proposal(authed(
                    api::SubmitProposalRequest {
                        id,
                        etag: String::new(),
                    },
                    &partner,
                ))
                .await
                .unwrap()
        }
    };
    submit(&mut w).await;
    let changes = api::RequestChangesRequest {
        id: p.id.clone(),
        note: m.next(),
        etag: String::new(),
    };
    coverage.note(&changes);
    w.client
        .request_changes(authed(changes, &staff))
        .await
        .unwrap();
    let update = update_proposal(&mut m);
    coverage.note(&update);
    w.client
        .update_proposal(authed(update, &partner))
        .await
        .unwrap();
    submit(&mut w).await;
    w.client
        .start_review(authed(
            api::StartReviewRequest {
                id: p.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    w.assign(&p.id, &her_reviewer.id).await.unwrap();
    w.assign(&p.id, &his_reviewer.id).await.unwrap();
    for (token, need) in [(&her_token, 4), (&his_token, 3)] {
        let score = api::SubmitScoreRequest {
            proposal_id: p.id.clone(),
            scores: vec![
                api::CriterionScore {
                    criterion_code: "need".into(),
                    score: need,
                    comment: m.next(),
                },
                api::CriterionScore {
                    criterion_code: "feasibility".into(),
                    score: 3,
                    comment: m.next(),
                },
            ],
            comment: m.next(),
        };
        coverage.note(&score);
        w.client.submit_score(authed(score, token)).await.unwrap();
    }
    let decide = api::DecideProposalRequest {
        id: p.id.clone(),
        decision: api::Decision::Approve as i32,
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&decide);
    w.client
        .decide_proposal(authed(decide, &staff))
        .await
        .unwrap();

    // A second proposal, withdrawn with a reason naming her.
    let second = w.draft(&call, &third_org).await;
    let withdraw = api::WithdrawProposalRequest {
        id: second.id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&withdraw);
    w.client
        .withdraw_proposal(authed(withdraw, &third_partner))
        .await
        .unwrap();

    // The award, its reports, spending and a variation.
    let award = w.award(&p.id, 450_000, &[(1, 200_000), (2, 250_000)]).await;
    w.client
        .activate_grant(authed(
            api::ActivateGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let mut report = report_body(&award.id, api::ReportKind::Progress, 1, (40, 35));
    report.narrative = Some(m.text());
    // Output only.
    report.review_comment = m.next();
    report.submitted_by = m.next();
    report.reviewed_by = m.next();
    let submit_report = api::SubmitReportRequest {
        report: Some(report),
        request_id: "report-1".into(),
    };
    coverage.note(&submit_report);
    let report = w
        .client
        .submit_report(authed(submit_report.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let review = api::ReviewReportRequest {
        id: report.id.clone(),
        outcome: api::ReviewOutcome::Accept as i32,
        comment: m.next(),
    };
    coverage.note(&review);
    w.client
        .review_report(authed(review, &staff))
        .await
        .unwrap();
    let disburse = api::DisburseTrancheRequest {
        award_id: award.id.clone(),
        tranche_number: 1,
        disbursed_on: Some(day(0)),
        reference: m.next(),
        etag: String::new(),
    };
    coverage.note(&disburse);
    w.client
        .disburse_tranche(authed(disburse, &staff))
        .await
        .unwrap();
    let mut spending = expenditure(&award.id, &[(1, 10_000), (2, 5_000)]);
    let r = spending.report.as_mut().unwrap();
    for l in &mut r.lines {
        l.note = m.next();
    }
    // Output only.
    r.review_comment = m.next();
    r.submitted_by = m.next();
    r.reviewed_by = m.next();
    spending.request_id = "expenditure-1".into();
    coverage.note(&spending);
    let spent = w
        .client
        .submit_expenditure_report(authed(spending.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let review = api::ReviewExpenditureReportRequest {
        id: spent.id.clone(),
        outcome: api::ReviewOutcome::Accept as i32,
        comment: m.next(),
    };
    coverage.note(&review);
    w.client
        .review_expenditure_report(authed(review, &staff))
        .await
        .unwrap();
    let variation = api::RequestVariationRequest {
        variation: Some(api::Variation {
            award_id: award.id.clone(),
            justification: m.next(),
            budget_lines: vec![
                line(api::BudgetCategory::Supplies, &m.next(), 290_000),
                line(api::BudgetCategory::Personnel, &m.next(), 160_000),
            ],
            // Output only.
            decision_note: m.next(),
            requested_by: m.next(),
            decided_by: m.next(),
            ..Default::default()
        }),
        request_id: "variation-1".into(),
    };
    coverage.note(&variation);
    let requested = w
        .client
        .request_variation(authed(variation.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let decide = api::DecideVariationRequest {
        id: requested.id.clone(),
        decision: api::Decision::Approve as i32,
        note: m.next(),
    };
    coverage.note(&decide);
    w.client
        .decide_variation(authed(decide, &staff))
        .await
        .unwrap();
    let close = api::CloseGrantEarlyRequest {
        award_id: award.id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&close);
    w.client
        .close_grant_early(authed(close, &staff))
        .await
        .unwrap();

    // A proposal of the organization he declared a conflict with.
    let other = w.submitted(&call, &other_org).await;

    assert!(
        m.0 > SPELLINGS.len(),
        "every spelling was written somewhere"
    );
    assert_eq!(
        coverage.missing("markaz.grants.v1.GrantsService", EXEMPT),
        Vec::<String>::new(),
        "free-text fields of grants' requests no request filled"
    );
    let db = w.app.env.db("grants").await.unwrap();
    assert!(
        !table_leaks(&db, TENANT).await.is_empty(),
        "her name was written before the erasure"
    );
    let before = figures(&mut w, &call.id, &award.id).await;

    // She asks membership to forget her; grants' consumer hears it.
    w.deliver(
        "membership",
        erased_event(
            &nadia,
            &new_id(),
            Gender::Female,
            AgeBand::AgeBand2534,
            "raqqa",
        ),
    )
    .await;

    let mut reads = Reads::default();
    let mut c = w.client.clone();
    let s = &staff;
    reads.ok(
        "GetProgram",
        c.get_program(authed(
            api::GetProgramRequest {
                id: program.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListPrograms",
        c.list_programs(authed(api::ListProgramsRequest::default(), s))
            .await,
    );
    reads.ok(
        "GetCall",
        c.get_call(authed(
            api::GetCallRequest {
                id: call.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListCalls",
        c.list_calls(authed(api::ListCallsRequest::default(), s))
            .await,
    );
    reads.ok(
        "CheckEligibility",
        c.check_eligibility(authed(
            api::CheckEligibilityRequest {
                call_id: call.id.clone(),
                organization_id: other_org.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "GetCallRanking",
        c.get_call_ranking(authed(
            api::GetCallRankingRequest {
                call_id: call.id.clone(),
            },
            s,
        ))
        .await,
    );
    for (id, applicant) in [(&p.id, &partner), (&second.id, &third_partner)] {
        reads.ok(
            "GetProposal",
            c.get_proposal(authed(api::GetProposalRequest { id: id.clone() }, s))
                .await,
        );
        reads.ok(
            "GetProposal (the applicant)",
            c.get_proposal(authed(
                api::GetProposalRequest { id: id.clone() },
                applicant,
            ))
            .await,
        );
    }
    reads.ok(
        "ListProposals",
        c.list_proposals(authed(api::ListProposalsRequest::default(), s))
            .await,
    );
    let versions = reads.ok(
        "ListProposalVersions",
        c.list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: p.id.clone(),
            },
            s,
        ))
        .await,
    );
    assert_eq!(versions.versions.len(), 2, "the versions stay, scrubbed");
    reads.ok(
        "ListCoachingNotes",
        c.list_coaching_notes(authed(
            api::ListCoachingNotesRequest {
                proposal_id: p.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListCoaches",
        c.list_coaches(authed(
            api::ListCoachesRequest {
                proposal_id: p.id.clone(),
            },
            s,
        ))
        .await,
    );
    let hers = reads.ok(
        "GetReviewer (hers)",
        c.get_reviewer(authed(
            api::GetReviewerRequest {
                id: her_reviewer.id.clone(),
            },
            s,
        ))
        .await,
    );
    assert!(!hers.active && hers.subject.is_empty(), "{hers:?}");
    let his = reads.ok(
        "GetReviewer (his)",
        c.get_reviewer(authed(
            api::GetReviewerRequest {
                id: his_reviewer.id.clone(),
            },
            s,
        ))
        .await,
    );
    assert_eq!(his.display_name, "عمر السيد", "someone else's name stays");
    reads.ok(
        "ListReviewers",
        c.list_reviewers(authed(api::ListReviewersRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListConflicts",
        c.list_conflicts(authed(api::ListConflictsRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListAssignments",
        c.list_assignments(authed(
            api::ListAssignmentsRequest {
                proposal_id: p.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListScores",
        c.list_scores(authed(
            api::ListScoresRequest {
                proposal_id: p.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "GetAward",
        c.get_award(authed(
            api::GetAwardRequest {
                id: award.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListAwards",
        c.list_awards(authed(api::ListAwardsRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListReports",
        c.list_reports(authed(
            api::ListReportsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListExpenditureReports",
        c.list_expenditure_reports(authed(
            api::ListExpenditureReportsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListVariations",
        c.list_variations(authed(
            api::ListVariationsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    // His conflict, as the refusal to assign him explains it.
    reads.any(
        "AssignReviewer (his conflict)",
        c.assign_reviewer(authed(
            api::AssignReviewerRequest {
                proposal_id: other.id.clone(),
                reviewer_id: his_reviewer.id.clone(),
            },
            s,
        ))
        .await,
    );
    // Retries of requests whose stored answers named her.
    reads.any(
        "CreateProgram (retry)",
        c.create_program(authed(create_program, s)).await,
    );
    reads.any(
        "CreateCall (retry)",
        c.create_call(authed(create_call, s)).await,
    );
    reads.any(
        "CreateReviewer (retry)",
        c.create_reviewer(authed(create_reviewer, s)).await,
    );
    reads.any(
        "DeclareConflict (retry)",
        c.declare_conflict(authed(declare, &his_token)).await,
    );
    reads.any(
        "CreateProposal (retry)",
        c.create_proposal(authed(create_proposal, &partner)).await,
    );
    reads.any(
        "AddCoachingNote (retry)",
        c.add_coaching_note(authed(note, s)).await,
    );
    reads.any(
        "SubmitReport (retry)",
        c.submit_report(authed(submit_report, &partner)).await,
    );
    reads.any(
        "SubmitExpenditureReport (retry)",
        c.submit_expenditure_report(authed(spending, &partner))
            .await,
    );
    reads.any(
        "RequestVariation (retry)",
        c.request_variation(authed(variation, &partner)).await,
    );
    assert_eq!(reads.0, Vec::<String>::new(), "reads that still name her");
    assert_eq!(
        table_leaks(&db, TENANT).await,
        Vec::<String>::new(),
        "columns that still hold something of her"
    );
    assert_eq!(figures(&mut w, &call.id, &award.id).await, before);
}
