//! The vertical slice: an event planned, invitations and replies, bulk
//! idempotent check-in with walk-ins by category and gender, held with
//! EventHeld, a commitment's life cycle with overdue listing, the event's
//! report recounted from this test's own data.

use crate::world::*;

both_backends!(
    a_meeting_from_invitation_to_commitments,
    bad_input_names_every_field_and_writes_nothing,
    a_commitment_is_closed_on_the_venues_day,
);

/// A meeting that started yesterday (UTC) and ends in an hour.
fn yesterdays_meeting() -> api::Event {
    let now = markaz_kit::time::now_micros();
    let mut e = meeting(EventKind::LocalAdministrationMeeting);
    e.start_time = Some(markaz_kit::time::timestamp(now - 26 * 3_600_000_000));
    e.end_time = Some(markaz_kit::time::timestamp(now + 3_600_000_000));
    e
}

async fn a_meeting_from_invitation_to_commitments(backend: Backend) {
    let mut w = world(backend).await;
    let cso = known_org(&w, OrganizationKind::Cso, "جمعية شباب الفرات", "Raqqa").await;
    let council = known_org(
        &w,
        OrganizationKind::LocalAdministration,
        "مجلس الرقة المدني",
        "Raqqa",
    )
    .await;
    let salma = known_person(&w, "سلمى الأحمد", Gender::Female).await;
    let event = create_event(&mut w, yesterdays_meeting()).await;
    assert_eq!(event.status, EventStatus::Planned as i32);
    assert_eq!(
        event.title.as_ref().unwrap().ar,
        "لقاء المنظمات مع المجلس المحلي"
    );

    // Invitations: an organization, a person for it, a guest; sent twice.
    let invitations = vec![
        api::Invitation {
            invitee: Some(api::invitation::Invitee::OrganizationId(council.clone())),
            ..Default::default()
        },
        api::Invitation {
            invitee: Some(api::invitation::Invitee::Person(api::InvitedPerson {
                person_id: salma.clone(),
                organization_id: cso.clone(),
            })),
            ..Default::default()
        },
        api::Invitation {
            invitee: Some(api::invitation::Invitee::Guest(api::OutsideGuest {
                name: "ممثل اليونيسف".into(),
                affiliation: "UNICEF Raqqa".into(),
                gender: Gender::Male as i32,
            })),
            category: ParticipantCategory::InternationalOrganization as i32,
            ..Default::default()
        },
    ];
    let sent = w
        .client
        .batch_create_invitations(authed(
            api::BatchCreateInvitationsRequest {
                event_id: event.id.clone(),
                invitations: invitations.clone(),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((sent.created, sent.already_invited), (3, 0));
    let again = w
        .client
        .batch_create_invitations(authed(
            api::BatchCreateInvitationsRequest {
                event_id: event.id.clone(),
                invitations: invitations[..2].to_vec(),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.created, again.already_invited), (0, 2));
    assert_eq!(again.invitations[0].id, sent.invitations[0].id);
    let guest = sent.invitations[2].id.clone();
    assert_eq!(sent.invitations[2].invitee_name, "ممثل اليونيسف");

    // The council's partner accepts; the person declines... then accepts.
    let partner = w.app.token(TENANT, &[Role::Partner], Some(&council));
    w.client
        .respond_to_invitation(authed(
            api::RespondToInvitationRequest {
                id: sent.invitations[0].id.clone(),
                response: api::InvitationStatus::Accepted as i32,
                note: "شخصان".into(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();
    // A partner answers for its own organization only.
    let other = w.app.token(TENANT, &[Role::Partner], Some(&cso));
    let refused = w
        .client
        .respond_to_invitation(authed(
            api::RespondToInvitationRequest {
                id: sent.invitations[0].id.clone(),
                response: api::InvitationStatus::Declined as i32,
                ..Default::default()
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    // The partner sees the event it was invited to.
    w.client
        .get_event(authed(
            api::GetEventRequest {
                id: event.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap();

    // Check-in: the person, the guest, 12 walk-ins of local administration.
    let entries = vec![
        api::CheckInEntry {
            participant: Some(api::check_in_entry::Participant::Person(
                api::CheckInPerson {
                    person_id: salma.clone(),
                    organization_id: String::new(),
                },
            )),
            ..Default::default()
        },
        api::CheckInEntry {
            participant: Some(api::check_in_entry::Participant::GuestInvitationId(
                guest.clone(),
            )),
            ..Default::default()
        },
        api::CheckInEntry {
            participant: Some(api::check_in_entry::Participant::WalkIn(api::WalkIn {
                key: "door-1:a".into(),
                count: 12,
            })),
            category: ParticipantCategory::LocalAdministration as i32,
            gender: Gender::Male as i32,
        },
    ];
    let request = api::CheckInRequest {
        event_id: event.id.clone(),
        entries: entries.clone(),
        request_id: "check-in-1".into(),
    };
    let first = w
        .client
        .check_in(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.added, first.corrected, first.unchanged), (3, 0, 0));
    // Retried with its request id: the first answer.
    let retried = w
        .client
        .check_in(authed(request, &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, first);
    // Sent again without one: nobody twice.
    let resent = w
        .client
        .check_in(authed(
            api::CheckInRequest {
                event_id: event.id.clone(),
                entries: entries.clone(),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (resent.added, resent.corrected, resent.unchanged),
        (0, 0, 3)
    );
    let a = resent.attendance.unwrap();
    // Invited 3, registered 1 (the council), attended 14, of whom 12
    // walk-ins; the person's and the guest's invitations were honoured.
    assert_eq!(
        (a.invited, a.registered, a.attended, a.walk_ins),
        (3, 1, 14, 12)
    );
    assert_eq!(a.invitations_honoured, 2);
    let person = &first.participants[0];
    assert_eq!(
        person.organization_id, cso,
        "invited for the CSO, came for it"
    );
    assert_eq!(
        person.category,
        ParticipantCategory::LocalOrganizationMember as i32
    );
    assert_eq!(person.gender, Gender::Female as i32);
    assert_eq!(person.display_name, "سلمى الأحمد");

    // Held: EventHeld counts by category and gender.
    let held = w
        .client
        .mark_event_held(authed(
            api::MarkEventHeldRequest {
                id: event.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.status, EventStatus::Held as i32);
    assert_eq!(held.status_history.len(), 1);

    // A commitment of the council, due yesterday: overdue today.
    let yesterday = KDate::today().add_days(-1).to_proto();
    let made = w
        .client
        .create_commitment(authed(
            api::CreateCommitmentRequest {
                commitment: Some(api::Commitment {
                    event_id: event.id.clone(),
                    description: text("تأهيل مدرسة القرية", "Rehabilitate the village school"),
                    owner: Some(api::CommitmentOwner {
                        kind: api::OwnerKind::LocalAdministration as i32,
                        organization_id: council.clone(),
                        ..Default::default()
                    }),
                    due_date: Some(yesterday),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(made.overdue);
    assert_eq!(made.days_overdue, 1);
    let overdue = w
        .client
        .list_commitments(authed(
            api::ListCommitmentsRequest {
                owner_organization_id: council.clone(),
                overdue_only: true,
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(overdue.commitments.len(), 1);
    assert_eq!(overdue.total_size, 1);
    // The CSO's partner does not see the council's commitment.
    let hidden = w
        .client
        .get_commitment(authed(
            api::GetCommitmentRequest {
                id: made.id.clone(),
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // Fulfilled with evidence; no longer overdue.
    let done = w
        .client
        .fulfil_commitment(authed(
            api::FulfilCommitmentRequest {
                id: made.id.clone(),
                evidence: vec![api::Evidence {
                    url: "https://example.org/school.jpg".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.status, api::CommitmentStatus::Done as i32);
    assert!(!done.overdue);
    assert_eq!(done.history.len(), 2);
    assert_eq!(done.evidence.len(), 1);
    // Fulfilled twice: refused with its reason.
    let twice = w
        .client
        .fulfil_commitment(authed(
            api::FulfilCommitmentRequest {
                id: made.id.clone(),
                evidence: vec![api::Evidence {
                    url: "https://example.org/school.jpg".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice), "COMMITMENT_STATUS");

    // The event's report, recounted from what this test checked in.
    let report = w
        .client
        .get_event_report(authed(
            api::GetEventReportRequest {
                event_id: event.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let participants = report.participants.unwrap();
    assert_eq!(counts(&participants.total), (1, 13, 0, 14));
    assert_eq!(counts(&report.walk_ins.unwrap().total), (0, 12, 0, 12));
    assert_eq!(report.organizations_present, 1);
    let c = report.commitments.unwrap();
    assert_eq!((c.made, c.fulfilled, c.open), (1, 1, 0));
}

async fn bad_input_names_every_field_and_writes_nothing(backend: Backend) {
    let mut w = world(backend).await;
    let bad = w
        .client
        .create_event(authed(
            api::CreateEventRequest {
                event: Some(api::Event {
                    utc_offset_minutes: 7,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields = field_violations(&bad);
    for f in [
        "event.kind",
        "event.title",
        "event.branch_id",
        "event.start_time",
        "event.end_time",
        "event.utc_offset_minutes",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    let listed = w
        .client
        .list_events(authed(api::ListEventsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0);
}

/// A commitment's days are the venue's: fulfilled or dropped without a day
/// given, it closes on today *where the meeting was*. Two venues, at the
/// widest offsets there are (UTC+14 and UTC−12), make this hold at every
/// hour: at any instant at least one of them is on another day than UTC.
async fn a_commitment_is_closed_on_the_venues_day(backend: Backend) {
    let mut w = world(backend).await;
    let council = known_org(
        &w,
        OrganizationKind::LocalAdministration,
        "مجلس الرقة المدني",
        "Raqqa",
    )
    .await;
    let now = markaz_kit::time::now_micros();
    for offset in [840, -720] {
        let mut e = meeting(EventKind::LocalAdministrationMeeting);
        // Started a minute ago, local time.
        e.start_time = Some(markaz_kit::time::timestamp(now - 60_000_000));
        e.utc_offset_minutes = offset;
        let event = create_event(&mut w, e).await;
        check_in(
            &mut w,
            &event.id,
            vec![walk_ins(
                "w",
                3,
                ParticipantCategory::LocalAdministration,
                Gender::Female,
            )],
        )
        .await;
        hold(&mut w, &event.id).await;
        let local_day = KDate::from_days(
            (now - 60_000_000 + i64::from(offset) * 60_000_000).div_euclid(86_400_000_000),
        );
        let make = |w: &World| {
            let mut client = w.client.clone();
            let (event_id, council, staff) = (event.id.clone(), council.clone(), w.staff.clone());
            async move {
                client
                    .create_commitment(authed(
                        api::CreateCommitmentRequest {
                            commitment: Some(api::Commitment {
                                event_id,
                                description: text("متابعة", "Follow-up"),
                                owner: Some(api::CommitmentOwner {
                                    kind: api::OwnerKind::LocalAdministration as i32,
                                    organization_id: council,
                                    ..Default::default()
                                }),
                                due_date: Some(local_day.add_days(7).to_proto()),
                                ..Default::default()
                            }),
                            request_id: String::new(),
                        },
                        &staff,
                    ))
                    .await
                    .expect("commitment made")
                    .into_inner()
            }
        };
        let (kept, dropped) = (make(&w).await, make(&w).await);
        let done = w
            .client
            .fulfil_commitment(authed(
                api::FulfilCommitmentRequest {
                    id: kept.id.clone(),
                    evidence: vec![api::Evidence {
                        description: text("محضر الزيارة", "Minutes of the visit"),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                &w.staff,
            ))
            .await
            .unwrap_or_else(|e| panic!("fulfilled at offset {offset}: {e:?}"))
            .into_inner();
        assert_eq!(
            done.closed_on,
            Some(local_day.to_proto()),
            "offset {offset}"
        );
        let gone = w
            .client
            .drop_commitment(authed(
                api::DropCommitmentRequest {
                    id: dropped.id.clone(),
                    reason: "لم يعد مطلوباً".into(),
                    ..Default::default()
                },
                &w.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            gone.closed_on,
            Some(local_day.to_proto()),
            "offset {offset}"
        );
    }
}
