//! The moves only the rights table reached before: an issue renamed and
//! archived, an event changed and its outcome recorded, an invitation
//! withdrawn, awardees suggested, a guest forgotten (the stored check-in
//! answer that named them too), a participant removed, participants
//! listed, a commitment changed, a coalition gone dormant and dissolved.

use crate::world::*;

both_backends!(the_moves_of_an_event_and_a_coalition);

fn guest(name: &str) -> api::Invitation {
    api::Invitation {
        invitee: Some(api::invitation::Invitee::Guest(api::OutsideGuest {
            name: name.into(),
            affiliation: "UNDP".into(),
            gender: Gender::Female as i32,
        })),
        category: ParticipantCategory::InternationalOrganization as i32,
        ..Default::default()
    }
}

fn organization(id: &str) -> api::Invitation {
    api::Invitation {
        invitee: Some(api::invitation::Invitee::OrganizationId(id.into())),
        ..Default::default()
    }
}

async fn participants(w: &mut World, event_id: &str) -> api::ListParticipantsResponse {
    w.client
        .list_participants(authed(
            api::ListParticipantsRequest {
                event_id: event_id.into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn the_moves_of_an_event_and_a_coalition(backend: Backend) {
    let mut w = world(backend).await;
    let cso = known_org(&w, OrganizationKind::Cso, "جمعية الأمل", "Raqqa").await;
    let withdrawn = known_org(&w, OrganizationKind::Cso, "جمعية النور", "Raqqa").await;
    let awardee = known_org(&w, OrganizationKind::Cso, "جمعية الغد", "Raqqa").await;

    // An issue renamed, then archived: no new event may take it.
    create_issue(&mut w, "diabetes", "السكري").await;
    let renamed = w
        .client
        .update_issue(authed(
            api::UpdateIssueRequest {
                issue: Some(api::Issue {
                    code: "diabetes".into(),
                    name: text("مرض السكري", "Diabetes"),
                    archived: true,
                    ..Default::default()
                }),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.name.as_ref().unwrap().ar, "مرض السكري");
    assert!(renamed.archived);
    let mut on_archived = meeting(EventKind::AdvocacyWorkshop);
    on_archived.issue_codes = vec!["diabetes".into()];
    let e = w
        .client
        .create_event(authed(
            api::CreateEventRequest {
                event: Some(on_archived),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&e), vec!["event.issue_codes[0]"]);

    // The event changed: a new venue, a new etag.
    let event = create_event(&mut w, meeting(EventKind::Networking)).await;
    let mut changed = event.clone();
    changed.venue = "قاعة البلدية".into();
    let updated = w
        .client
        .update_event(authed(
            api::UpdateEventRequest {
                event: Some(changed),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.venue, "قاعة البلدية");
    assert_ne!(updated.etag, event.etag);

    // Invitations: a guest, two organizations; one withdrawn.
    let sent = w
        .client
        .batch_create_invitations(authed(
            api::BatchCreateInvitationsRequest {
                event_id: event.id.clone(),
                invitations: vec![
                    guest("ليلى حسن"),
                    organization(&cso),
                    organization(&withdrawn),
                ],
                request_id: "invite-1".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let (guest_inv, withdrawn_inv) = (&sent.invitations[0], &sent.invitations[2]);
    let out = w
        .client
        .withdraw_invitation(authed(
            api::WithdrawInvitationRequest {
                id: withdrawn_inv.id.clone(),
                reason: "ألغت مشاركتها".into(),
                etag: withdrawn_inv.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.status, api::InvitationStatus::Withdrawn as i32);

    // Awardees suggested: grants' awards, less who is invited already.
    awarded(&w, &cso).await;
    let award = awarded(&w, &awardee).await;
    let s = w
        .client
        .suggest_invitees(authed(
            api::SuggestInviteesRequest {
                event_id: event.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let suggested: Vec<(String, String)> = s
        .suggestions
        .iter()
        .map(|x| (x.organization_id.clone(), x.grant_award_id.clone()))
        .collect();
    assert_eq!(suggested, vec![(awardee.clone(), award)]);
    assert_eq!(
        s.suggestions[0].organization_name.as_ref().unwrap().ar,
        "جمعية الغد"
    );

    // Check-in of the guest and walk-ins, with a request id.
    let request = api::CheckInRequest {
        event_id: event.id.clone(),
        entries: vec![
            api::CheckInEntry {
                participant: Some(api::check_in_entry::Participant::GuestInvitationId(
                    guest_inv.id.clone(),
                )),
                ..Default::default()
            },
            walk_ins("door:1", 4, ParticipantCategory::Individual, Gender::Male),
        ],
        request_id: "check-in-1".into(),
    };
    let first = w
        .client
        .check_in(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.participants[0].display_name, "ليلى حسن");
    let listed = participants(&mut w, &event.id).await;
    assert_eq!(listed.participants.len(), 2);
    assert_eq!(listed.participants[0].display_name, "ليلى حسن");

    // The guest forgotten: no name anywhere, not in a stored answer either;
    // her gender and category stay for the figures.
    let forgotten = w
        .client
        .forget_guest(authed(
            api::ForgetGuestRequest {
                invitation_id: guest_inv.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(forgotten.invitee_name, "");
    let listed = participants(&mut w, &event.id).await;
    assert_eq!(listed.participants[0].display_name, "");
    assert_eq!(listed.participants[0].gender, Gender::Female as i32);
    let retried = w
        .client
        .check_in(authed(request, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&retried), "REQUEST_ERASED");
    let reinvite = w
        .client
        .batch_create_invitations(authed(
            api::BatchCreateInvitationsRequest {
                event_id: event.id.clone(),
                invitations: vec![
                    guest("ليلى حسن"),
                    organization(&cso),
                    organization(&withdrawn),
                ],
                request_id: "invite-1".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&reinvite), "REQUEST_ERASED");
    // A person of membership is not a guest to forget.
    let e = w
        .client
        .forget_guest(authed(
            api::ForgetGuestRequest {
                invitation_id: sent.invitations[1].id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&e), "NOT_A_GUEST");

    // A participant removed, with a reason; listed by kind.
    let walk_in = listed.participants[1].key.clone();
    let e = w
        .client
        .remove_participant(authed(
            api::RemoveParticipantRequest {
                event_id: event.id.clone(),
                key: walk_in.clone(),
                reason: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&e), vec!["reason"]);
    assert_eq!(participants(&mut w, &event.id).await.total_size, 2);
    w.client
        .remove_participant(authed(
            api::RemoveParticipantRequest {
                event_id: event.id.clone(),
                key: walk_in,
                reason: "عُدّوا مرتين".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let left = participants(&mut w, &event.id).await;
    assert_eq!(left.total_size, 1);
    let walk_ins_left = w
        .client
        .list_participants(authed(
            api::ListParticipantsRequest {
                event_id: event.id.clone(),
                kind: api::ParticipantKind::WalkIn as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(walk_ins_left.total_size, 0);

    // Held; the outcome recorded: minutes and a decision.
    let held = hold(&mut w, &event.id).await;
    let with_outcome = w
        .client
        .record_event_outcome(authed(
            api::RecordEventOutcomeRequest {
                event_id: event.id.clone(),
                outcome: Some(api::EventOutcome {
                    minutes: text("ناقش الحضور خطة العمل", ""),
                    decisions: vec![api::Decision {
                        text: text("تشكيل لجنة متابعة", "A follow-up committee"),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                update_mask: None,
                etag: held.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let outcome = with_outcome.outcome.unwrap();
    assert_eq!(outcome.decisions.len(), 1);
    assert!(!outcome.decisions[0].id.is_empty());
    assert_eq!(outcome.minutes.unwrap().ar, "ناقش الحضور خطة العمل");

    // A commitment's due date moved.
    let today = KDate::today();
    let made = w
        .client
        .create_commitment(authed(
            api::CreateCommitmentRequest {
                commitment: Some(api::Commitment {
                    event_id: event.id.clone(),
                    description: text("إرسال المحضر", "Send the minutes"),
                    owner: Some(api::CommitmentOwner {
                        kind: api::OwnerKind::Organization as i32,
                        organization_id: cso.clone(),
                        ..Default::default()
                    }),
                    due_date: Some(today.add_days(3).to_proto()),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut later = made.clone();
    later.due_date = Some(today.add_days(14).to_proto());
    let moved = w
        .client
        .update_commitment(authed(
            api::UpdateCommitmentRequest {
                commitment: Some(later),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.due_date, Some(today.add_days(14).to_proto()));
    assert_ne!(moved.etag, made.etag);

    // A coalition goes dormant, then is dissolved (a reason required):
    // every membership ends.
    create_issue(&mut w, "kidney-failure", "الفشل الكلوي").await;
    let c = w
        .client
        .create_coalition(authed(
            api::CreateCoalitionRequest {
                coalition: Some(api::Coalition {
                    name: text("تحالف مرضى الكلى", ""),
                    issue_codes: vec!["kidney-failure".into()],
                    lead_organization_id: cso.clone(),
                    formed_on: Some(today.add_days(-30).to_proto()),
                    ..Default::default()
                }),
                founding_member_ids: vec![awardee.clone()],
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let status = |status: api::CoalitionStatus, reason: &str| api::ChangeCoalitionStatusRequest {
        id: c.id.clone(),
        status: status as i32,
        reason: reason.into(),
        ..Default::default()
    };
    let dormant = w
        .client
        .change_coalition_status(authed(status(api::CoalitionStatus::Dormant, ""), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dormant.status, api::CoalitionStatus::Dormant as i32);
    let e = w
        .client
        .change_coalition_status(authed(
            status(api::CoalitionStatus::Dissolved, ""),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&e), vec!["reason"]);
    let dissolved = w
        .client
        .change_coalition_status(authed(
            status(api::CoalitionStatus::Dissolved, "انتهى الغرض"),
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dissolved.status, api::CoalitionStatus::Dissolved as i32);
    let members = w
        .client
        .list_coalition_members(authed(
            api::ListCoalitionMembersRequest {
                coalition_id: c.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.total_size, 0);
    // Former members, paged one by one: both, each with its period ended.
    let first = w
        .client
        .list_coalition_members(authed(
            api::ListCoalitionMembersRequest {
                coalition_id: c.id.clone(),
                include_former: true,
                page_size: 1,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.members.len(), first.total_size), (1, 2));
    let second = w
        .client
        .list_coalition_members(authed(
            api::ListCoalitionMembersRequest {
                coalition_id: c.id.clone(),
                include_former: true,
                page_size: 1,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.members.len(), 1);
    assert_ne!(
        second.members[0].organization_id,
        first.members[0].organization_id
    );
    assert!(second.next_page_token.is_empty());
    for m in first.members.iter().chain(&second.members) {
        assert!(!m.active);
        assert!(m.periods.last().unwrap().left_on.is_some());
    }
}
