//! Networking end to end with membership and grants, on real NATS JetStream
//! and PostgreSQL. Networking never calls either: the organizations and
//! people it invites and checks in reach it as membership's events, and the
//! award a campaign links as grants' GrantAwarded. What it tells the others
//! — the event held, with its participants by category and gender, and the
//! campaign launched on its grant — is read back from the bus itself.

mod fixtures;

use fixtures::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_held_and_a_campaign_on_its_grant_from_membership_and_grants_events() {
    tokio::time::timeout(LIMIT, scenario())
        .await
        .unwrap_or_else(|_| panic!("the scenario finished within {LIMIT:?}"));
}

async fn scenario() {
    let env = TestEnv::new(Backend::Postgres);
    let (app, mut c) = start(&env).await;

    // Membership registers a CSO, the civil council, and three people: a
    // woman of the CSO, a man of the council, a woman on her own.
    let cso = c
        .organization(OrganizationKind::Cso, "جمعية نساء الرقة", true)
        .await;
    let council = c
        .organization(
            OrganizationKind::LocalAdministration,
            "مجلس الرقة المدني",
            false,
        )
        .await;
    let huda = c.person("هدى الخطيب", Gender::Female, Some(&cso.id)).await;
    let omar = c.person("عمر السيد", Gender::Male, Some(&council.id)).await;
    let layla = c.person("ليلى العمر", Gender::Female, None).await;

    // Networking: the issue, the workshop, the invitations. Until
    // membership's events have reached networking's copies the batch is
    // refused whole as NOT_KNOWN; nothing else may go wrong.
    c.networking
        .create_issue(authed(
            net::CreateIssueRequest {
                issue: Some(net::Issue {
                    code: "early-marriage".into(),
                    name: text("ضد زواج القاصرات", "Against early marriage"),
                    ..Default::default()
                }),
            },
            &c.staff,
        ))
        .await
        .unwrap();
    let event = c
        .networking
        .create_event(authed(
            net::CreateEventRequest {
                event: Some(workshop()),
                request_id: String::new(),
            },
            &c.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let invite_person = |person: &mem::Person, org: &str| net::Invitation {
        invitee: Some(net::invitation::Invitee::Person(net::InvitedPerson {
            person_id: person.id.clone(),
            organization_id: org.into(),
        })),
        ..Default::default()
    };
    let invite_org = |org: &mem::Organization| net::Invitation {
        invitee: Some(net::invitation::Invitee::OrganizationId(org.id.clone())),
        ..Default::default()
    };
    let invitations = vec![
        invite_org(&cso),
        invite_org(&council),
        invite_person(&huda, &cso.id),
        invite_person(&omar, &council.id),
        invite_person(&layla, ""),
    ];
    let sent = eventually(WAIT, || {
        let mut n = c.networking.clone();
        let request = net::BatchCreateInvitationsRequest {
            event_id: event.id.clone(),
            invitations: invitations.clone(),
            request_id: String::new(),
        };
        let staff = c.staff.clone();
        async move {
            match n.batch_create_invitations(authed(request, &staff)).await {
                Ok(r) => Some(r.into_inner()),
                Err(e) if precondition(&e) == "NOT_KNOWN" => None,
                Err(e) => panic!("invitations refused: {e:?}"),
            }
        }
    })
    .await
    .expect("membership's organizations and people reached networking");
    assert_eq!((sent.created, sent.already_invited), (5, 0));
    // The names come from networking's copies, byte for byte.
    assert_eq!(sent.invitations[1].invitee_name, "مجلس الرقة المدني");
    assert_eq!(sent.invitations[2].invitee_name, "هدى الخطيب");

    // The council's partner accepts for the council.
    let council_partner = env.token(TENANT, &[Role::Partner], Some(&council.id));
    c.networking
        .respond_to_invitation(authed(
            net::RespondToInvitationRequest {
                id: sent.invitations[1].id.clone(),
                response: net::InvitationStatus::Accepted as i32,
                note: "يحضر عضو المجلس".into(),
                etag: String::new(),
            },
            &council_partner,
        ))
        .await
        .unwrap();

    // Check-in names the people only: the organization each came for is
    // their invitation's, the category follows that organization's kind in
    // the copy, the gender is the copy's. Four men walk in as civil-society
    // leaders, with no record.
    let person = |p: &mem::Person| net::CheckInEntry {
        participant: Some(net::check_in_entry::Participant::Person(
            net::CheckInPerson {
                person_id: p.id.clone(),
                organization_id: String::new(),
            },
        )),
        ..Default::default()
    };
    let checked = c
        .networking
        .check_in(authed(
            net::CheckInRequest {
                event_id: event.id.clone(),
                entries: vec![
                    person(&huda),
                    person(&omar),
                    person(&layla),
                    net::CheckInEntry {
                        participant: Some(net::check_in_entry::Participant::WalkIn(net::WalkIn {
                            key: "door:leaders".into(),
                            count: 4,
                        })),
                        category: ParticipantCategory::CivilSocietyLeader as i32,
                        gender: Gender::Male as i32,
                    },
                ],
                request_id: "workshop-check-in".into(),
            },
            &c.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.added, 4);
    let seen: Vec<(&str, &str, i32, i32)> = checked
        .participants
        .iter()
        .take(3)
        .map(|p| {
            (
                p.display_name.as_str(),
                p.organization_id.as_str(),
                p.category,
                p.gender,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "هدى الخطيب",
                cso.id.as_str(),
                ParticipantCategory::LocalOrganizationMember as i32,
                Gender::Female as i32
            ),
            (
                "عمر السيد",
                council.id.as_str(),
                ParticipantCategory::LocalAdministration as i32,
                Gender::Male as i32
            ),
            (
                "ليلى العمر",
                "",
                ParticipantCategory::Individual as i32,
                Gender::Female as i32
            ),
        ]
    );
    let summary = checked.attendance.unwrap();
    // Five invited, the council registered, seven came of whom four walked
    // in. Each participant honours the one invitation they came by, their
    // own before their organization's: the three people's invitations.
    assert_eq!(
        (
            summary.invited,
            summary.registered,
            summary.attended,
            summary.walk_ins,
            summary.invitations_honoured
        ),
        (5, 1, 7, 4, 3)
    );

    let held = c
        .networking
        .mark_event_held(authed(
            net::MarkEventHeldRequest {
                id: event.id.clone(),
                etag: String::new(),
            },
            &c.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.status, EventStatus::Held as i32);

    // EventHeld, as the impact service will read it off the bus.
    let (envelope, held) = last_published::<ev::EventHeld>(&env, "networking", "EventHeld", |e| {
        e.event_id == event.id
    })
    .await;
    assert_eq!(
        (envelope.producer.as_str(), envelope.tenant_id.as_str()),
        ("networking", TENANT)
    );
    assert_eq!(held.kind, "advocacy_workshop");
    assert_eq!(held.branch_id, "raqqa");
    assert_eq!(held.issue_codes, ["early-marriage"]);
    // The UTC day it started on (the workshop is at offset 0): the day
    // before today when the test runs in the first hour after midnight.
    let started = markaz_kit::time::micros_of(event.start_time.as_ref().unwrap());
    assert_eq!(
        held.held_on,
        Some(markaz_kit::time::Date::from_days(started.div_euclid(86_400_000_000)).to_proto())
    );
    assert_eq!(
        sorted(held.participants),
        [
            count("civil_society_leader", 0, 4, 0),
            count("individual", 1, 0, 0),
            count("local_administration", 0, 1, 0),
            count("local_organization_member", 1, 0, 0),
        ]
    );
    assert_eq!(
        held.without_record,
        [count("civil_society_leader", 0, 4, 0)]
    );
    let mut attendees: Vec<(String, String, String, i32, i32)> = held
        .attendees
        .into_iter()
        .map(|a| {
            (
                a.person_id,
                a.organization_id,
                a.category,
                a.gender,
                a.age_band,
            )
        })
        .collect();
    attendees.sort();
    let mut expected = vec![
        (
            huda.id.clone(),
            cso.id.clone(),
            "local_organization_member".to_string(),
            Gender::Female as i32,
            AgeBand::AgeBand3544 as i32,
        ),
        (
            omar.id.clone(),
            council.id.clone(),
            "local_administration".to_string(),
            Gender::Male as i32,
            AgeBand::AgeBand3544 as i32,
        ),
        (
            layla.id.clone(),
            String::new(),
            "individual".to_string(),
            Gender::Female as i32,
            AgeBand::AgeBand3544 as i32,
        ),
    ];
    expected.sort();
    assert_eq!(attendees, expected);
    let mut organizations: Vec<(String, i32, String, i64)> = held
        .organizations
        .into_iter()
        .map(|o| (o.organization_id, o.kind, o.governorate, o.participants))
        .collect();
    organizations.sort();
    let mut expected = vec![
        (
            cso.id.clone(),
            OrganizationKind::Cso as i32,
            "Raqqa".to_string(),
            1,
        ),
        (
            council.id.clone(),
            OrganizationKind::LocalAdministration as i32,
            "Raqqa".to_string(),
            1,
        ),
    ];
    expected.sort();
    assert_eq!(organizations, expected);
    assert_eq!(
        (held.invited, held.registered, held.invitations_honoured),
        (5, 1, 3)
    );
    assert_eq!(held.version, 1);

    // Grants awards the CSO; networking hears of the award on the bus.
    let call = c.open_call().await;
    let cso_partner = env.token(TENANT, &[Role::Partner], Some(&cso.id));
    let award = c.awarded(&call, &cso_partner).await;
    assert_eq!(award.organization_id, cso.id);
    let (_, announced) = last_published::<ev::GrantAwarded>(&env, "grants", "GrantAwarded", |e| {
        e.award_id == award.id
    })
    .await;
    assert_eq!(announced.context.unwrap().organization_id, cso.id);

    // The campaign links the award once networking knows it; before, the
    // award is NOT_KNOWN and nothing is written.
    let campaign = net::Campaign {
        title: text("لا لزواج القاصرات", "No to early marriage"),
        issue_code: "early-marriage".into(),
        objective: text("تعميم من المجلس بمنع زواج القاصرات", ""),
        runner: Some(net::campaign::Runner::OrganizationId(cso.id.clone())),
        targets: vec![net::CampaignTarget {
            kind: net::TargetKind::LocalAdministration as i32,
            organization_id: council.id.clone(),
            description: None,
        }],
        activities: vec![net::CampaignActivity {
            date: Some(day(0)),
            description: text("ورشة مناصرة", "Advocacy workshop"),
            event_id: event.id.clone(),
            people_reached: 7,
            ..Default::default()
        }],
        branch_id: "raqqa".into(),
        start_date: Some(day(0)),
        end_date: Some(day(60)),
        grant_award_id: award.id.clone(),
        ..Default::default()
    };
    let created = eventually(WAIT, || {
        let mut n = c.networking.clone();
        let request = net::CreateCampaignRequest {
            campaign: Some(campaign.clone()),
            request_id: "campaign-early-marriage".into(),
        };
        let staff = c.staff.clone();
        async move {
            match n.create_campaign(authed(request, &staff)).await {
                Ok(r) => Some(r.into_inner()),
                Err(e) if precondition(&e) == "NOT_KNOWN" => None,
                Err(e) => panic!("campaign refused: {e:?}"),
            }
        }
    })
    .await
    .expect("grants' award reached networking");
    assert_eq!(created.grant_award_id, award.id);
    let funded = c
        .networking
        .list_campaigns(authed(
            net::ListCampaignsRequest {
                grant_award_id: award.id.clone(),
                ..Default::default()
            },
            &c.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(funded.total_size, 1);
    assert_eq!(funded.campaigns[0].id, created.id);

    // A showcase of the call's awardees: networking suggests the CSO.
    let showcase = c
        .networking
        .create_event(authed(
            net::CreateEventRequest {
                event: Some(net::Event {
                    kind: EventKind::Networking as i32,
                    title: text("معرض المنح", "Grants showcase"),
                    ..workshop()
                }),
                request_id: String::new(),
            },
            &c.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let suggested = c
        .networking
        .suggest_invitees(authed(
            net::SuggestInviteesRequest {
                event_id: showcase.id.clone(),
                call_id: call.id.clone(),
                max_results: 0,
            },
            &c.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    let suggested: Vec<(&str, &str)> = suggested
        .iter()
        .map(|s| (s.organization_id.as_str(), s.grant_award_id.as_str()))
        .collect();
    assert_eq!(suggested, [(cso.id.as_str(), award.id.as_str())]);

    // Launched: CampaignLaunched carries the grant it was funded by.
    c.networking
        .launch_campaign(authed(
            net::LaunchCampaignRequest {
                id: created.id.clone(),
                etag: String::new(),
            },
            &c.staff,
        ))
        .await
        .unwrap();
    let (_, launched) =
        last_published::<ev::CampaignLaunched>(&env, "networking", "CampaignLaunched", |e| {
            e.campaign
                .as_ref()
                .is_some_and(|s| s.campaign_id == created.id)
        })
        .await;
    let snapshot = launched.campaign.unwrap();
    assert_eq!(snapshot.grant_award_id, award.id);
    assert_eq!(snapshot.organization_id, cso.id);
    assert_eq!(
        snapshot.target_organization_ids,
        std::slice::from_ref(&council.id)
    );
    assert_eq!(snapshot.status, "active");
    app.shutdown().await;
}
