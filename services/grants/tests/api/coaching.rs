//! Coaching: trainers see only the proposals they coach; reviewers stay
//! blind.

use crate::world::*;

both_backends!(
    trainers_see_only_what_they_coach_and_reviewers_stay_blind,
    a_proposal_holds_a_bounded_number_of_notes,
);

/// One account cannot pour unbounded text into a proposal's coaching:
/// past the limit a note is refused, and nothing is written.
async fn a_proposal_holds_a_bounded_number_of_notes(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let p = w.under_review(&call, &org).await;
    let limit = markaz_grants::domain::coaching::MAX_NOTES_PER_PROPOSAL;
    {
        let mut tx = w.db.write(TENANT).await.unwrap();
        for n in 0..limit - 1 {
            sqlx::query(
                "INSERT INTO coaching_notes (tenant_id, id, proposal_id, body, author,
                    author_role, version_number, created_at)
                 VALUES ($1, $2, $3, 'ملاحظة', 'seed', 'staff', 1, $4)",
            )
            .bind(TENANT)
            .bind(new_id())
            .bind(&p.id)
            .bind(n)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let add = |w: &mut World| {
        let mut client = w.client.clone();
        let (staff, id) = (w.staff.clone(), p.id.clone());
        async move {
            client
                .add_coaching_note(authed(
                    api::AddCoachingNoteRequest {
                        proposal_id: id,
                        body: "الأخيرة".into(),
                        request_id: String::new(),
                    },
                    &staff,
                ))
                .await
        }
    };
    add(&mut w).await.expect("the last note there is room for");
    let refused = add(&mut w).await.unwrap_err();
    assert_eq!(precondition(&refused), "TOO_MANY_NOTES", "{refused:?}");
    let mut tx = w.db.read(TENANT).await.unwrap();
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM coaching_notes WHERE proposal_id = $1")
            .bind(&p.id)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert_eq!(held, limit);
}

/// Every combination of roles against a blind call: P is assigned to the
/// reviewers, Q to nobody. Whoever holds the reviewer role (and is not
/// staff) sees only P, without the applicant; a trainer sees what staff
/// named it coach of, with the applicant (it works with them), and no award.
async fn trainers_see_only_what_they_coach_and_reviewers_stay_blind(backend: Backend) {
    let mut w = world(backend).await;
    let a = w.organization("منظمة أ", IncubationStatus::Incubated).await;
    let b = w.organization("منظمة ب", IncubationStatus::Incubated).await;
    let c = w.organization("منظمة ج", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, true).await;
    let p = w.under_review(&call, &a).await;
    let q = w.under_review(&call, &b).await;
    let open_call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&open_call, &b).await;
    let (r1, reviewer) = w.reviewer("مراجعة أولى").await;
    let (r2, _) = w.reviewer("مراجع ثان").await;
    w.assign(&p.id, &r1.id).await.unwrap();
    w.assign(&p.id, &r2.id).await.unwrap();
    let trainer = w.token_of("trainer-huda", &[Role::Trainer], None);
    let trainer_reviewer = w.token_of(&r1.subject, &[Role::Trainer, Role::Reviewer], None);
    let partner_reviewer = w.token_of(&r2.subject, &[Role::Partner, Role::Reviewer], Some(&c));

    // Reviewers, whatever else they hold: the assigned proposal without its
    // applicant; nothing else, and no coaching material.
    for (who, token) in [
        ("reviewer", &reviewer),
        ("trainer + reviewer", &trainer_reviewer),
        ("partner + reviewer", &partner_reviewer),
    ] {
        let got = w.get_proposal(&q.id, token).await.unwrap_err();
        assert_eq!(got.code(), Code::NotFound, "{who}: the unassigned proposal");
        let seen = w.get_proposal(&p.id, token).await.unwrap();
        assert!(seen.identity_hidden, "{who}: blind");
        assert_eq!(seen.organization_id, "", "{who}");
        assert_eq!(seen.organization_name, None, "{who}");
        let listed = w
            .client
            .list_proposals(authed(api::ListProposalsRequest::default(), token))
            .await
            .unwrap()
            .into_inner()
            .proposals;
        if who == "partner + reviewer" {
            // Its own organization's list: nothing.
            assert!(listed.is_empty(), "{who}");
        } else {
            assert_eq!(listed.len(), 1, "{who}");
            assert_eq!(listed[0].id, p.id);
            assert!(listed[0].identity_hidden && listed[0].organization_id.is_empty());
        }
        if who == "reviewer" {
            continue;
        }
        for proposal in [&p.id, &q.id] {
            let versions = w
                .client
                .list_proposal_versions(authed(
                    api::ListProposalVersionsRequest {
                        proposal_id: proposal.clone(),
                    },
                    token,
                ))
                .await;
            assert_eq!(code(&versions), Code::NotFound, "{who}: versions");
            let notes = w
                .client
                .list_coaching_notes(authed(
                    api::ListCoachingNotesRequest {
                        proposal_id: proposal.clone(),
                        ..Default::default()
                    },
                    token,
                ))
                .await;
            assert_eq!(code(&notes), Code::NotFound, "{who}: notes");
            let note = w
                .client
                .add_coaching_note(authed(
                    api::AddCoachingNoteRequest {
                        proposal_id: proposal.clone(),
                        body: "من أنتم؟".into(),
                        request_id: String::new(),
                    },
                    token,
                ))
                .await;
            assert_eq!(
                code(&note),
                Code::NotFound,
                "{who}: a note to the applicant"
            );
        }
    }

    // A trainer that coaches nothing sees no proposal, no award, no draft call.
    for id in [&p.id, &q.id] {
        let got = w.get_proposal(id, &trainer).await.unwrap_err();
        assert_eq!(got.code(), Code::NotFound);
    }
    let listed = w
        .client
        .list_proposals(authed(api::ListProposalsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.proposals.is_empty());
    assert_eq!(listed.total_size, 0, "a coach of nothing counts nothing");
    let eligibility = |org: &str| api::CheckEligibilityRequest {
        call_id: call.id.clone(),
        organization_id: org.into(),
    };
    let asked = w
        .client
        .check_eligibility(authed(eligibility(&b), &trainer))
        .await;
    assert_eq!(code(&asked), Code::NotFound);
    let award_read = w
        .client
        .get_award(authed(
            api::GetAwardRequest {
                id: award.id.clone(),
            },
            &trainer,
        ))
        .await;
    assert_eq!(code(&award_read), Code::PermissionDenied);
    let awards = w
        .client
        .list_awards(authed(api::ListAwardsRequest::default(), &trainer))
        .await;
    assert_eq!(code(&awards), Code::PermissionDenied);
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
    let draft_read = w
        .client
        .get_call(authed(
            api::GetCallRequest {
                id: draft_call.id.clone(),
            },
            &trainer,
        ))
        .await;
    assert_eq!(code(&draft_read), Code::NotFound);
    let calls = w
        .client
        .list_calls(authed(api::ListCallsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner()
        .calls;
    assert!(calls.iter().all(|c| c.id != draft_call.id));

    // Named coach of Q: Q with its applicant, its versions and notes; not P.
    let coach = w
        .client
        .assign_coach(authed(
            api::AssignCoachRequest {
                proposal_id: q.id.clone(),
                subject: "trainer-huda".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let seen = w.get_proposal(&q.id, &trainer).await.unwrap();
    assert!(!seen.identity_hidden);
    assert_eq!(seen.organization_id, b);
    assert_eq!(
        w.get_proposal(&p.id, &trainer).await.unwrap_err().code(),
        Code::NotFound
    );
    let listed = w
        .client
        .list_proposals(authed(api::ListProposalsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 1, "the coached proposal only");
    let listed = listed.proposals;
    assert_eq!(
        listed.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        [q.id.as_str()]
    );
    let note = w
        .client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: q.id.clone(),
                body: "وضحوا خطة العمل".into(),
                request_id: String::new(),
            },
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(note.author_role, "trainer");
    let versions = w
        .client
        .list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: q.id.clone(),
            },
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(versions.len(), 1);
    let coaches = w
        .client
        .list_coaches(authed(
            api::ListCoachesRequest {
                proposal_id: q.id.clone(),
            },
            &w.partner(&b),
        ))
        .await
        .unwrap()
        .into_inner()
        .coaches;
    assert_eq!(coaches.len(), 1);
    assert_eq!(coaches[0].subject, "trainer-huda");
    let asked = w
        .client
        .check_eligibility(authed(eligibility(&b), &trainer))
        .await;
    assert_eq!(code(&asked), Code::Ok);
    let asked = w
        .client
        .check_eligibility(authed(eligibility(&a), &trainer))
        .await;
    assert_eq!(code(&asked), Code::NotFound);
    // A coach does not edit the applicant's proposal.
    let edit = w
        .client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: q.id.clone(),
                reason: "x".into(),
                etag: String::new(),
            },
            &trainer,
        ))
        .await;
    assert_eq!(code(&edit), Code::PermissionDenied);
    let twice = w
        .client
        .assign_coach(authed(
            api::AssignCoachRequest {
                proposal_id: q.id.clone(),
                subject: "trainer-huda".into(),
            },
            &w.staff,
        ))
        .await;
    assert_eq!(code(&twice), Code::AlreadyExists);

    // A reviewer's account is not named coach; and if it were (a row
    // written by hand), holding the reviewer role still decides its view.
    let refused = w
        .client
        .assign_coach(authed(
            api::AssignCoachRequest {
                proposal_id: q.id.clone(),
                subject: r1.subject.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "COACH_REVIEWS");
    let mut tx = w.db.write(TENANT).await.unwrap();
    sqlx::query(
        "INSERT INTO coaches (tenant_id, id, proposal_id, subject, assigned_by, created_at)
         VALUES ($1, $2, $3, $4, 'staff', 0)",
    )
    .bind(TENANT)
    .bind(new_id())
    .bind(&q.id)
    .bind(&r1.subject)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let got = w.get_proposal(&q.id, &trainer_reviewer).await.unwrap_err();
    assert_eq!(got.code(), Code::NotFound);

    // The coach removed: Q is out of sight again.
    w.client
        .remove_coach(authed(
            api::RemoveCoachRequest {
                id: coach.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let got = w.get_proposal(&q.id, &trainer).await.unwrap_err();
    assert_eq!(got.code(), Code::NotFound);
}
