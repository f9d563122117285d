//! The figures over gRPC, each recounted from this test's own check-ins:
//! the stakeholder map from attendance, and the period report's
//! participants by category and gender (people once, walk-ins at every
//! event), branches, meetings with local administration per governorate,
//! commitments made, fulfilled, dropped and overdue, carried into a later
//! meeting.

use crate::world::*;

both_backends!(figures_are_counted_from_attendance);

use ParticipantCategory as P;

/// Female, male, undisclosed, total.
type Counts = (i32, i32, i32, i32);

fn by_category(c: &Option<api::ParticipantCounts>) -> Vec<(i32, Counts)> {
    c.as_ref()
        .unwrap()
        .by_category
        .iter()
        .map(|x| (x.category, counts(&x.counts)))
        .collect()
}

fn total(c: &Option<api::ParticipantCounts>) -> Counts {
    counts(&c.as_ref().unwrap().total)
}

async fn commitment(w: &mut World, event_id: &str, owner: &str, due: KDate) -> api::Commitment {
    w.client
        .create_commitment(authed(
            api::CreateCommitmentRequest {
                commitment: Some(api::Commitment {
                    event_id: event_id.into(),
                    description: text("متابعة", "Follow-up"),
                    owner: Some(api::CommitmentOwner {
                        kind: api::OwnerKind::Organization as i32,
                        organization_id: owner.into(),
                        ..Default::default()
                    }),
                    due_date: Some(due.to_proto()),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("commitment made")
        .into_inner()
}

async fn figures_are_counted_from_attendance(backend: Backend) {
    let mut w = world(backend).await;
    let cso = known_org(&w, OrganizationKind::Cso, "جمعية شباب الفرات", "Raqqa").await;
    let cso2 = known_org(
        &w,
        OrganizationKind::Initiative,
        "مبادرة دير الزور",
        "Deir ez-Zor",
    )
    .await;
    let raqqa_council = known_org(
        &w,
        OrganizationKind::LocalAdministration,
        "مجلس الرقة المدني",
        "Raqqa",
    )
    .await;
    let dez_council = known_org(
        &w,
        OrganizationKind::LocalAdministration,
        "مجلس دير الزور المدني",
        "Deir ez-Zor",
    )
    .await;
    let salma = known_person(&w, "سلمى", Gender::Female).await;
    let omar = known_person(&w, "عمر", Gender::Male).await;
    let huda = known_person(&w, "هدى", Gender::Female).await;
    let khalid = known_person(&w, "خالد", Gender::Male).await;

    // A: in Raqqa, since yesterday (UTC): Salma for the CSO, Omar for the
    // Raqqa council, walk-ins.
    // Times are placed by the UTC day, not by the hour, so the test means
    // the same just after midnight: A at noon yesterday, B today.
    let now = markaz_kit::time::now_micros();
    let hour = 3_600_000_000;
    let today_start = now.div_euclid(24 * hour) * 24 * hour;
    let mut a = meeting(EventKind::LocalAdministrationMeeting);
    a.start_time = Some(markaz_kit::time::timestamp(today_start - 12 * hour));
    a.end_time = Some(markaz_kit::time::timestamp(today_start - 10 * hour));
    let a = create_event(&mut w, a).await;
    check_in(
        &mut w,
        &a.id,
        vec![
            person_entry(&salma, &cso, P::LocalOrganizationMember),
            person_entry(&omar, &raqqa_council, P::LocalAdministration),
            walk_ins("door:a", 5, P::CivilSocietyLeader, Gender::Male),
            walk_ins("door:b", 3, P::Individual, Gender::Female),
        ],
    )
    .await;
    hold(&mut w, &a.id).await;
    // B: in Deir ez-Zor, later; Salma again (now as a civil-society
    // leader: her latest attendance counts), Huda, Khalid for the council.
    let mut b = meeting(EventKind::Networking);
    b.branch_id = "deir-ez-zor".into();
    b.start_time = Some(markaz_kit::time::timestamp(today_start.max(now - hour)));
    let b = create_event(&mut w, b).await;
    check_in(
        &mut w,
        &b.id,
        vec![
            person_entry(&salma, &cso, P::CivilSocietyLeader),
            person_entry(&huda, &cso2, P::LocalOrganizationMember),
            person_entry(&khalid, &dez_council, P::LocalAdministration),
            walk_ins("door:c", 2, P::LocalAdministration, Gender::Undisclosed),
        ],
    )
    .await;
    hold(&mut w, &b.id).await;
    // C: planned, then cancelled, with its reason in the history.
    let c = create_event(&mut w, meeting(EventKind::DonorRoundTable)).await;
    let cancelled = w
        .client
        .cancel_event(authed(
            api::CancelEventRequest {
                id: c.id.clone(),
                reason: "تأجيل بسبب الطقس".into(),
                etag: c.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, EventStatus::Cancelled as i32);
    let last = cancelled.status_history.last().unwrap();
    assert_eq!(last.reason, "تأجيل بسبب الطقس");

    // Commitments at A: one overdue, one fulfilled, one dropped; the
    // overdue one carried into a later meeting.
    let today = KDate::today();
    let overdue = commitment(&mut w, &a.id, &raqqa_council, today.add_days(-1)).await;
    let kept = commitment(&mut w, &a.id, &cso, today.add_days(10)).await;
    let dropped = commitment(&mut w, &a.id, &cso, today.add_days(20)).await;
    w.client
        .fulfil_commitment(authed(
            api::FulfilCommitmentRequest {
                id: kept.id.clone(),
                evidence: vec![api::Evidence {
                    url: "https://example.org/done".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let e = w
        .client
        .drop_commitment(authed(
            api::DropCommitmentRequest {
                id: dropped.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&e), vec!["reason"]);
    let gone = w
        .client
        .drop_commitment(authed(
            api::DropCommitmentRequest {
                id: dropped.id.clone(),
                reason: "لم يعد مطلوباً".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(gone.status, api::CommitmentStatus::Dropped as i32);
    let mut next = meeting(EventKind::LocalAdministrationMeeting);
    next.start_time = Some(markaz_kit::time::timestamp(now + 7 * 86_400_000_000));
    next.end_time = Some(markaz_kit::time::timestamp(
        now + 7 * 86_400_000_000 + 3_600_000_000,
    ));
    let next = create_event(&mut w, next).await;
    let carried = w
        .client
        .carry_commitment(authed(
            api::CarryCommitmentRequest {
                id: overdue.id.clone(),
                event_id: next.id.clone(),
                note: "على جدول اللقاء القادم".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(carried.status, api::CommitmentStatus::Open as i32);
    // Carried twice into the same meeting: refused.
    let twice = w
        .client
        .carry_commitment(authed(
            api::CarryCommitmentRequest {
                id: overdue.id.clone(),
                event_id: next.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice), "ALREADY_ON_AGENDA");
    let agenda = w
        .client
        .get_event_report(authed(
            api::GetEventReportRequest {
                event_id: next.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agenda.commitments_carried_in, 1);

    // The period report, recounted.
    let r = report(&mut w, Default::default()).await;
    assert_eq!((r.events_held, r.events_cancelled), (2, 1));
    let at = r.attendance.unwrap();
    assert_eq!((at.invited, at.attended, at.walk_ins), (0, 15, 10));
    // Every check-in: Salma twice, in two categories.
    assert_eq!(
        by_category(&r.attendances),
        vec![
            (P::LocalOrganizationMember as i32, (2, 0, 0, 2)),
            (P::CivilSocietyLeader as i32, (1, 5, 0, 6)),
            (P::LocalAdministration as i32, (0, 2, 2, 4)),
            (P::Individual as i32, (3, 0, 0, 3)),
        ]
    );
    // Known people once, Salma in her latest category.
    assert_eq!(
        by_category(&r.distinct_people),
        vec![
            (P::LocalOrganizationMember as i32, (1, 0, 0, 1)),
            (P::CivilSocietyLeader as i32, (1, 0, 0, 1)),
            (P::LocalAdministration as i32, (0, 2, 0, 2)),
        ]
    );
    // And the walk-ins of both events with them.
    assert_eq!(
        by_category(&r.participants),
        vec![
            (P::LocalOrganizationMember as i32, (1, 0, 0, 1)),
            (P::CivilSocietyLeader as i32, (1, 5, 0, 6)),
            (P::LocalAdministration as i32, (0, 2, 2, 4)),
            (P::Individual as i32, (3, 0, 0, 3)),
        ]
    );
    assert_eq!(total(&r.participants), (5, 7, 2, 14));
    // Per branch: Salma counts in each branch she came to.
    let branches: Vec<(String, i32, Counts)> = r
        .by_branch
        .iter()
        .map(|b| (b.branch_id.clone(), b.events_held, total(&b.participants)))
        .collect();
    assert_eq!(
        branches,
        vec![
            ("deir-ez-zor".to_string(), 1, (2, 1, 2, 5)),
            ("raqqa".to_string(), 1, (4, 6, 0, 10)),
        ]
    );
    let la: Vec<(String, i32, i32, i32)> = r
        .local_administration_meetings
        .iter()
        .map(|g| {
            (
                g.governorate.clone(),
                g.meetings,
                g.bodies_met,
                g.organizations_met,
            )
        })
        .collect();
    assert_eq!(
        la,
        vec![
            ("Deir ez-Zor".to_string(), 1, 1, 2),
            ("Raqqa".to_string(), 1, 1, 1),
        ]
    );
    let cf = r.commitments.unwrap();
    assert_eq!(
        (cf.made, cf.fulfilled, cf.dropped, cf.open, cf.overdue),
        (3, 1, 1, 1, 1)
    );

    // One branch, and a period that ended yesterday.
    let raqqa = report(
        &mut w,
        api::GetNetworkingReportRequest {
            branch_id: "raqqa".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(raqqa.events_held, 1);
    assert_eq!(total(&raqqa.participants), (4, 6, 0, 10));
    assert_eq!(raqqa.local_administration_meetings.len(), 1);
    let before = report(
        &mut w,
        api::GetNetworkingReportRequest {
            until: Some(today.add_days(-1).to_proto()),
            ..Default::default()
        },
    )
    .await;
    // Only A, held yesterday: Salma in A's category.
    assert_eq!(before.events_held, 1);
    assert_eq!(total(&before.participants), (4, 6, 0, 10));
    assert_eq!(
        by_category(&before.distinct_people),
        vec![
            (P::LocalOrganizationMember as i32, (1, 0, 0, 1)),
            (P::LocalAdministration as i32, (0, 1, 0, 1)),
        ]
    );

    // The stakeholder map of the CSO: everyone it met at A and B.
    let map = |org: &str, kinds: Vec<i32>, token: &str| {
        let mut client = w.client.clone();
        let req = authed(
            api::GetStakeholderMapRequest {
                organization_id: org.into(),
                counterpart_kinds: kinds,
                ..Default::default()
            },
            token,
        );
        async move { client.get_stakeholder_map(req).await }
    };
    let m = map(&cso, vec![], &w.staff).await.unwrap().into_inner();
    assert_eq!(m.events_attended, 2);
    let mut met: Vec<(String, i32)> = m
        .stakeholders
        .iter()
        .map(|s| (s.organization_id.clone(), s.meetings))
        .collect();
    met.sort();
    let mut expected = vec![
        (cso2.clone(), 1),
        (raqqa_council.clone(), 1),
        (dez_council.clone(), 1),
    ];
    expected.sort();
    assert_eq!(met, expected);
    let council = m
        .stakeholders
        .iter()
        .find(|s| s.organization_id == raqqa_council)
        .unwrap();
    assert_eq!(
        council.organization_name.as_ref().unwrap().ar,
        "مجلس الرقة المدني"
    );
    assert_eq!(council.governorate, "Raqqa");
    assert_eq!(council.last_met_on, Some(today.add_days(-1).to_proto()));
    // Only local administration.
    let m = map(
        &cso,
        vec![OrganizationKind::LocalAdministration as i32],
        &w.staff,
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(m.stakeholders.len(), 2);
    // A body's map: the organizations it meets.
    let m = map(&dez_council, vec![], &w.staff)
        .await
        .unwrap()
        .into_inner();
    let mut met: Vec<String> = m
        .stakeholders
        .iter()
        .map(|s| s.organization_id.clone())
        .collect();
    met.sort();
    let mut expected = vec![cso.clone(), cso2.clone()];
    expected.sort();
    assert_eq!(met, expected);
    // A partner sees its own map, not another's.
    let partner = w.app.token(TENANT, &[Role::Partner], Some(&cso2));
    let own = map("", vec![], &partner).await.unwrap().into_inner();
    assert_eq!(own.organization_id, cso2);
    assert_eq!(
        own.stakeholders.len(),
        2,
        "the CSO and the Deir ez-Zor council"
    );
    let e = map(&cso, vec![], &partner).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}
