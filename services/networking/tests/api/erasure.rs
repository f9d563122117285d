//! Erasure (issue 9): a person written, in every spelling, into every
//! free-text field of networking's API (the list comes from the proto
//! descriptors, [`Coverage`]), then erased through networking's real
//! consumer: afterwards no read of networking returns anything of her, no
//! table of its database holds anything of her, and the participants by
//! gender and age band stay what they were.

use markaz_kit::testing::erasure::{
    Coverage, EMAIL, FULL_NAME, SPELLINGS, bytes_leak, erased_event, leaks, mention, message_leaks,
    table_leaks,
};
use prost::Message;

use crate::world::*;

both_backends!(nothing_of_an_erased_person_is_left_in_networking);

/// Fields of networking's requests that hold no prose, so no name.
const EXEMPT: &[&str] = &[
    // Issue codes, slugs of the catalogue ("early-marriage"), validated as
    // such, and the filters that name them.
    "Issue.code",
    "GetIssueRequest.code",
    "Event.issue_codes",
    "Coalition.issue_codes",
    "Campaign.issue_code",
    "ListEventsRequest.issue_code",
    "ListCoalitionsRequest.issue_code",
    "ListCampaignsRequest.issue_code",
    // A key a check-in device chooses (ASCII letters, digits, "-_.:"),
    // never typed as text; and a participant's key, "person:<id>" and the
    // like.
    "WalkIn.key",
    "RemoveParticipantRequest.key",
    // An address (http/https), not prose.
    "Evidence.url",
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

    fn text(&mut self) -> Option<LocalizedText> {
        Some(LocalizedText {
            ar: self.next(),
            en: self.next(),
        })
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

/// Output-only history a request may carry, which the service ignores.
fn event_history(m: &mut Mentions) -> Vec<api::EventStatusChange> {
    vec![api::EventStatusChange {
        reason: m.next(),
        changed_by: m.next(),
        ..Default::default()
    }]
}

/// An event whose every text mentions her, starting `hours` from now.
fn event_mentioning(m: &mut Mentions, hours: i64) -> api::Event {
    let mut e = meeting(EventKind::Networking);
    let start = markaz_kit::time::now_micros() + hours * 3_600_000_000;
    e.start_time = Some(markaz_kit::time::timestamp(start - 3_600_000_000));
    e.end_time = Some(markaz_kit::time::timestamp(start + 3_600_000_000));
    e.title = m.text();
    e.purpose = m.text();
    e.venue = m.next();
    e.organizer_staff = vec![api::StaffMember {
        name: m.next(),
        subject: EMAIL.into(),
    }];
    e.status_history = event_history(m);
    e
}

fn evidence(m: &mut Mentions) -> Vec<api::Evidence> {
    vec![api::Evidence {
        description: m.text(),
        url: "https://example.org/minutes.pdf".into(),
        // Output only.
        recorded_by: m.next(),
        ..Default::default()
    }]
}

/// What networking counts of people: an event's participants by category,
/// gender and age band (the event report, the participants' own records)
/// and the period's report, people and attendances by gender.
async fn figures(w: &mut World, event: &str) -> Vec<String> {
    let staff = w.staff.clone();
    let report = w
        .client
        .get_event_report(authed(
            api::GetEventReportRequest {
                event_id: event.into(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let listed = w
        .client
        .list_participants(authed(
            api::ListParticipantsRequest {
                event_id: event.into(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let period = report_of(w).await;
    let mut out = vec![
        format!("{:?}", report.participants),
        format!("{:?}", report.walk_ins),
        format!("{:?}", report.attendance),
        format!("{:?}", period.participants),
        format!("{:?}", period.distinct_people),
        format!("{:?}", period.attendances),
        format!("{:?}", period.by_branch),
    ];
    out.extend(listed.participants.iter().map(|p| {
        format!(
            "{} {:?} {:?} {:?} {}",
            p.key,
            p.category(),
            p.gender(),
            p.age_band(),
            p.count
        )
    }));
    out
}

async fn report_of(w: &mut World) -> api::NetworkingReport {
    report(w, api::GetNetworkingReportRequest::default()).await
}

async fn nothing_of_an_erased_person_is_left_in_networking(backend: Backend) {
    let mut w = world(backend).await;
    let mut m = Mentions(0);
    let mut coverage = Coverage::default();
    let staff = w.staff.clone();

    // She and a colleague, as membership announces them.
    let nadia = new_id();
    w.deliver(
        "membership",
        TENANT,
        person(&nadia, FULL_NAME, Gender::Female, AgeBand::AgeBand2534),
    )
    .await;
    let omar = new_id();
    w.deliver(
        "membership",
        TENANT,
        person(&omar, "عمر السيد", Gender::Male, AgeBand::AgeBand3544),
    )
    .await;
    let cso = known_org(&w, OrganizationKind::Cso, "جمعية نساء الرقة", "Raqqa").await;
    let council = known_org(
        &w,
        OrganizationKind::LocalAdministration,
        "مجلس الرقة المدني",
        "Raqqa",
    )
    .await;
    let partner = w.app.token(TENANT, &[Role::Partner], Some(&council));

    // The issue.
    let create_issue = api::CreateIssueRequest {
        issue: Some(api::Issue {
            code: "early-marriage".into(),
            name: m.text(),
            description: m.text(),
            ..Default::default()
        }),
    };
    coverage.note(&create_issue);
    w.client
        .create_issue(authed(create_issue, &staff))
        .await
        .unwrap();
    let update_issue = api::UpdateIssueRequest {
        issue: Some(api::Issue {
            code: "early-marriage".into(),
            name: m.text(),
            description: m.text(),
            ..Default::default()
        }),
        update_mask: None,
    };
    coverage.note(&update_issue);
    w.client
        .update_issue(authed(update_issue, &staff))
        .await
        .unwrap();

    // The meeting, going on now; the next one tomorrow; one cancelled.
    let mut body = event_mentioning(&mut m, 0);
    body.issue_codes = vec!["early-marriage".into()];
    let create_event = api::CreateEventRequest {
        event: Some(body),
        request_id: "event-1".into(),
    };
    coverage.note(&create_event);
    let event = w
        .client
        .create_event(authed(create_event.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let mut changed = event_mentioning(&mut m, 0);
    changed.id = event.id.clone();
    let update_event = api::UpdateEventRequest {
        event: Some(changed),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![
                "title".into(),
                "purpose".into(),
                "venue".into(),
                "organizer_staff".into(),
            ],
        }),
    };
    coverage.note(&update_event);
    w.client
        .update_event(authed(update_event, &staff))
        .await
        .unwrap();
    let next = create_event_noted(&mut w, &mut coverage, event_mentioning(&mut m, 24)).await;
    let cancelled = create_event_noted(&mut w, &mut coverage, event_mentioning(&mut m, 48)).await;
    let cancel = api::CancelEventRequest {
        id: cancelled.id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&cancel);
    w.client.cancel_event(authed(cancel, &staff)).await.unwrap();

    // Invitations: the council, her and him for the CSO, two guests.
    let guest = |m: &mut Mentions| api::Invitation {
        invitee: Some(api::invitation::Invitee::Guest(api::OutsideGuest {
            name: m.next(),
            affiliation: m.next(),
            gender: Gender::Female as i32,
        })),
        category: ParticipantCategory::InternationalOrganization as i32,
        note: m.next(),
        // Output only.
        invitee_name: m.next(),
        invited_by: m.next(),
        ..Default::default()
    };
    let invited = |id: &str, m: &mut Mentions| api::Invitation {
        invitee: Some(api::invitation::Invitee::Person(api::InvitedPerson {
            person_id: id.into(),
            organization_id: cso.clone(),
        })),
        note: m.next(),
        ..Default::default()
    };
    let invite = api::BatchCreateInvitationsRequest {
        event_id: event.id.clone(),
        invitations: vec![
            api::Invitation {
                invitee: Some(api::invitation::Invitee::OrganizationId(council.clone())),
                note: m.next(),
                ..Default::default()
            },
            invited(&nadia, &mut m),
            invited(&omar, &mut m),
            guest(&mut m),
            guest(&mut m),
        ],
        request_id: "invite-1".into(),
    };
    coverage.note(&invite);
    let sent = w
        .client
        .batch_create_invitations(authed(invite.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let bidi = w
        .client
        .batch_create_invitations(authed(
            api::BatchCreateInvitationsRequest {
                event_id: event.id.clone(),
                invitations: vec![api::Invitation {
                    invitee: Some(api::invitation::Invitee::Guest(api::OutsideGuest {
                        name: mention(BIDI),
                        affiliation: String::new(),
                        gender: Gender::Female as i32,
                    })),
                    category: ParticipantCategory::InternationalOrganization as i32,
                    ..Default::default()
                }],
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(bidi.code(), Code::InvalidArgument, "{bidi:?}");
    let respond = api::RespondToInvitationRequest {
        id: sent.invitations[0].id.clone(),
        response: api::InvitationStatus::Accepted as i32,
        note: m.next(),
        etag: String::new(),
    };
    coverage.note(&respond);
    w.client
        .respond_to_invitation(authed(respond, &partner))
        .await
        .unwrap();
    let withdraw = api::WithdrawInvitationRequest {
        id: sent.invitations[4].id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&withdraw);
    w.client
        .withdraw_invitation(authed(withdraw, &staff))
        .await
        .unwrap();

    // Check-in: her, him, the guest, walk-ins; a walk-in group removed.
    let entry = |id: &str| person_entry(id, &cso, ParticipantCategory::LocalOrganizationMember);
    let check_in = api::CheckInRequest {
        event_id: event.id.clone(),
        entries: vec![
            entry(&nadia),
            entry(&omar),
            api::CheckInEntry {
                participant: Some(api::check_in_entry::Participant::GuestInvitationId(
                    sent.invitations[3].id.clone(),
                )),
                ..Default::default()
            },
            walk_ins("door:1", 5, ParticipantCategory::Individual, Gender::Female),
            walk_ins("door:2", 2, ParticipantCategory::Individual, Gender::Male),
        ],
        request_id: "check-in-1".into(),
    };
    coverage.note(&check_in);
    let checked = w
        .client
        .check_in(authed(check_in.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.added, 5);
    let counted_twice = checked
        .participants
        .iter()
        .find(|p| p.count == 2)
        .unwrap()
        .key
        .clone();
    let remove = api::RemoveParticipantRequest {
        event_id: event.id.clone(),
        key: counted_twice,
        reason: m.next(),
    };
    coverage.note(&remove);
    w.client
        .remove_participant(authed(remove, &staff))
        .await
        .unwrap();

    // Held; the outcome recorded.
    hold(&mut w, &event.id).await;
    let outcome = api::RecordEventOutcomeRequest {
        event_id: event.id.clone(),
        outcome: Some(api::EventOutcome {
            minutes: m.text(),
            decisions: vec![api::Decision {
                text: m.text(),
                ..Default::default()
            }],
            // Output only.
            recorded_by: m.next(),
            ..Default::default()
        }),
        update_mask: None,
        etag: String::new(),
    };
    coverage.note(&outcome);
    w.client
        .record_event_outcome(authed(outcome, &staff))
        .await
        .unwrap();

    // Commitments: hers (fulfilled), the council's (carried), the CSO's
    // (dropped).
    let today = KDate::today();
    let commitment = |owner: api::CommitmentOwner, m: &mut Mentions| {
        let mut owner = owner;
        // Output only: from the copy.
        owner.name = m.next();
        api::CreateCommitmentRequest {
            commitment: Some(api::Commitment {
                event_id: event.id.clone(),
                description: m.text(),
                owner: Some(owner),
                due_date: Some(today.add_days(10).to_proto()),
                // Output only.
                history: vec![api::CommitmentChange {
                    note: m.next(),
                    changed_by: m.next(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        }
    };
    let mut hers_req = commitment(
        api::CommitmentOwner {
            kind: api::OwnerKind::Person as i32,
            person_id: nadia.clone(),
            ..Default::default()
        },
        &mut m,
    );
    hers_req.request_id = "commitment-1".into();
    let hers = w
        .client
        .create_commitment(authed(hers_req.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let mut create_commitment = |owner: api::CommitmentOwner, m: &mut Mentions| {
        let req = commitment(owner, m);
        coverage.note(&req);
        let mut client = w.client.clone();
        let staff = staff.clone();
        async move {
            client
                .create_commitment(authed(req, &staff))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let councils = create_commitment(
        api::CommitmentOwner {
            kind: api::OwnerKind::LocalAdministration as i32,
            organization_id: council.clone(),
            ..Default::default()
        },
        &mut m,
    )
    .await;
    let csos = create_commitment(
        api::CommitmentOwner {
            kind: api::OwnerKind::Organization as i32,
            organization_id: cso.clone(),
            ..Default::default()
        },
        &mut m,
    )
    .await;
    let mut edited = hers.clone();
    edited.description = m.text();
    let update_commitment = api::UpdateCommitmentRequest {
        commitment: Some(edited),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["description".into()],
        }),
    };
    coverage.note(&update_commitment);
    w.client
        .update_commitment(authed(update_commitment, &staff))
        .await
        .unwrap();
    let fulfil = api::FulfilCommitmentRequest {
        id: hers.id.clone(),
        evidence: evidence(&mut m),
        done_on: Some(today.to_proto()),
        note: m.next(),
        etag: String::new(),
    };
    coverage.note(&fulfil);
    w.client
        .fulfil_commitment(authed(fulfil, &staff))
        .await
        .unwrap();
    let carry = api::CarryCommitmentRequest {
        id: councils.id.clone(),
        event_id: next.id.clone(),
        due_date: None,
        note: m.next(),
        etag: String::new(),
    };
    coverage.note(&carry);
    w.client
        .carry_commitment(authed(carry, &staff))
        .await
        .unwrap();
    let drop = api::DropCommitmentRequest {
        id: csos.id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&drop);
    w.client
        .drop_commitment(authed(drop, &staff))
        .await
        .unwrap();

    // A coalition: renamed, a member leaves, dormant.
    let member = known_org(&w, OrganizationKind::Initiative, "مبادرة الفرات", "Raqqa").await;
    let create_coalition = api::CreateCoalitionRequest {
        coalition: Some(api::Coalition {
            name: m.text(),
            charter: m.text(),
            issue_codes: vec!["early-marriage".into()],
            lead_organization_id: cso.clone(),
            formed_on: Some(today.add_days(-30).to_proto()),
            // Output only.
            status_history: vec![api::CoalitionStatusChange {
                reason: m.next(),
                changed_by: m.next(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        founding_member_ids: vec![member.clone()],
        request_id: "coalition-1".into(),
    };
    coverage.note(&create_coalition);
    let coalition = w
        .client
        .create_coalition(authed(create_coalition.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let update_coalition = api::UpdateCoalitionRequest {
        coalition: Some(api::Coalition {
            id: coalition.id.clone(),
            name: m.text(),
            charter: m.text(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into(), "charter".into()],
        }),
    };
    coverage.note(&update_coalition);
    w.client
        .update_coalition(authed(update_coalition, &staff))
        .await
        .unwrap();
    let leave = api::RemoveCoalitionMemberRequest {
        coalition_id: coalition.id.clone(),
        organization_id: member.clone(),
        left_on: Some(today.add_days(-1).to_proto()),
        reason: m.next(),
    };
    coverage.note(&leave);
    w.client
        .remove_coalition_member(authed(leave, &staff))
        .await
        .unwrap();
    let dormant = api::ChangeCoalitionStatusRequest {
        id: coalition.id.clone(),
        status: api::CoalitionStatus::Dormant as i32,
        reason: m.next(),
        ..Default::default()
    };
    coverage.note(&dormant);
    w.client
        .change_coalition_status(authed(dormant, &staff))
        .await
        .unwrap();

    // Campaigns: one launched, with an outcome, completed; one cancelled.
    let award = awarded(&w, &cso).await;
    let campaign = |m: &mut Mentions, award: &str| api::Campaign {
        title: m.text(),
        issue_code: "early-marriage".into(),
        objective: m.text(),
        runner: Some(api::campaign::Runner::OrganizationId(cso.clone())),
        targets: vec![
            api::CampaignTarget {
                kind: api::TargetKind::LocalAdministration as i32,
                organization_id: council.clone(),
                description: m.text(),
            },
            api::CampaignTarget {
                kind: api::TargetKind::Community as i32,
                organization_id: String::new(),
                description: m.text(),
            },
        ],
        activities: vec![api::CampaignActivity {
            date: Some(today.add_days(-1).to_proto()),
            description: m.text(),
            event_id: event.id.clone(),
            people_reached: 40,
            ..Default::default()
        }],
        branch_id: "raqqa".into(),
        start_date: Some(today.add_days(-5).to_proto()),
        end_date: Some(today.add_days(60).to_proto()),
        grant_award_id: award.into(),
        // Output only.
        status_history: vec![api::CampaignStatusChange {
            reason: m.next(),
            changed_by: m.next(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let create_campaign = api::CreateCampaignRequest {
        campaign: Some(campaign(&mut m, &award)),
        request_id: "campaign-1".into(),
    };
    coverage.note(&create_campaign);
    let launched = w
        .client
        .create_campaign(authed(create_campaign.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let mut edited = campaign(&mut m, &award);
    edited.id = launched.id.clone();
    let update_campaign = api::UpdateCampaignRequest {
        campaign: Some(edited),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![
                "title".into(),
                "objective".into(),
                "targets".into(),
                "activities".into(),
            ],
        }),
    };
    coverage.note(&update_campaign);
    w.client
        .update_campaign(authed(update_campaign, &staff))
        .await
        .unwrap();
    w.client
        .launch_campaign(authed(
            api::LaunchCampaignRequest {
                id: launched.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let record = api::RecordCampaignOutcomeRequest {
        outcome: Some(api::CampaignOutcome {
            campaign_id: launched.id.clone(),
            kind: api::OutcomeKind::DecisionObtained as i32,
            description: m.text(),
            achieved_on: Some(today.to_proto()),
            target_organization_id: council.clone(),
            evidence: evidence(&mut m),
            // Output only.
            recorded_by: m.next(),
            ..Default::default()
        }),
        request_id: "outcome-1".into(),
    };
    coverage.note(&record);
    let recorded = w
        .client
        .record_campaign_outcome(authed(record.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    let update_outcome = api::UpdateCampaignOutcomeRequest {
        outcome: Some(api::CampaignOutcome {
            id: recorded.id.clone(),
            description: m.text(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["description".into()],
        }),
    };
    coverage.note(&update_outcome);
    w.client
        .update_campaign_outcome(authed(update_outcome, &staff))
        .await
        .unwrap();
    w.client
        .complete_campaign(authed(
            api::CompleteCampaignRequest {
                id: launched.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let second = w
        .client
        .create_campaign(authed(
            api::CreateCampaignRequest {
                campaign: Some(campaign(&mut m, "")),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let cancel = api::CancelCampaignRequest {
        id: second.id.clone(),
        reason: m.next(),
        etag: String::new(),
    };
    coverage.note(&cancel);
    w.client
        .cancel_campaign(authed(cancel, &staff))
        .await
        .unwrap();

    assert!(
        m.0 > SPELLINGS.len(),
        "every spelling was written somewhere"
    );
    assert_eq!(
        coverage.missing("markaz.networking.v1.NetworkingService", EXEMPT),
        Vec::<String>::new(),
        "free-text fields of networking's requests no request filled"
    );
    let db = w.app.env.db("networking").await.unwrap();
    assert!(
        !table_leaks(&db, TENANT).await.is_empty(),
        "her name was written before the erasure"
    );
    let before = figures(&mut w, &event.id).await;
    assert!(
        before
            .iter()
            .any(|f| f.contains("Female") && f.contains("AgeBand2534")),
        "she counts, as a woman of 25-34: {before:?}"
    );

    // She asks membership to forget her; networking's consumer hears it.
    w.deliver(
        "membership",
        TENANT,
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
        "GetIssue",
        c.get_issue(authed(
            api::GetIssueRequest {
                code: "early-marriage".into(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListIssues",
        c.list_issues(authed(api::ListIssuesRequest::default(), s))
            .await,
    );
    for id in [&event.id, &next.id, &cancelled.id] {
        reads.ok(
            "GetEvent",
            c.get_event(authed(api::GetEventRequest { id: id.clone() }, s))
                .await,
        );
        reads.ok(
            "GetEventReport",
            c.get_event_report(authed(
                api::GetEventReportRequest {
                    event_id: id.clone(),
                },
                s,
            ))
            .await,
        );
    }
    reads.ok(
        "ListEvents",
        c.list_events(authed(api::ListEventsRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListInvitations",
        c.list_invitations(authed(
            api::ListInvitationsRequest {
                event_id: event.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListInvitations (the council)",
        c.list_invitations(authed(
            api::ListInvitationsRequest {
                event_id: event.id.clone(),
                ..Default::default()
            },
            &partner,
        ))
        .await,
    );
    reads.ok(
        "SuggestInvitees",
        c.suggest_invitees(authed(
            api::SuggestInviteesRequest {
                event_id: next.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    let listed = reads.ok(
        "ListParticipants",
        c.list_participants(authed(
            api::ListParticipantsRequest {
                event_id: event.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    let name_of = |id: &str| {
        listed
            .participants
            .iter()
            .find(|p| p.person_id == id)
            .map(|p| p.display_name.clone())
    };
    assert_eq!(
        name_of(&omar).as_deref(),
        Some("عمر السيد"),
        "his name stays"
    );
    assert_eq!(name_of(&nadia).as_deref(), Some(""), "she is still counted");
    for id in [&hers.id, &councils.id, &csos.id] {
        reads.ok(
            "GetCommitment",
            c.get_commitment(authed(api::GetCommitmentRequest { id: id.clone() }, s))
                .await,
        );
    }
    reads.ok(
        "ListCommitments",
        c.list_commitments(authed(api::ListCommitmentsRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListCommitments (hers)",
        c.list_commitments(authed(
            api::ListCommitmentsRequest {
                owner_person_id: nadia.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "GetCoalition",
        c.get_coalition(authed(
            api::GetCoalitionRequest {
                id: coalition.id.clone(),
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "ListCoalitions",
        c.list_coalitions(authed(api::ListCoalitionsRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListCoalitionMembers",
        c.list_coalition_members(authed(
            api::ListCoalitionMembersRequest {
                coalition_id: coalition.id.clone(),
                include_former: true,
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    for id in [&launched.id, &second.id] {
        reads.ok(
            "GetCampaign",
            c.get_campaign(authed(api::GetCampaignRequest { id: id.clone() }, s))
                .await,
        );
    }
    reads.ok(
        "ListCampaigns",
        c.list_campaigns(authed(api::ListCampaignsRequest::default(), s))
            .await,
    );
    reads.ok(
        "ListCampaignOutcomes",
        c.list_campaign_outcomes(authed(
            api::ListCampaignOutcomesRequest {
                campaign_id: launched.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "GetStakeholderMap",
        c.get_stakeholder_map(authed(
            api::GetStakeholderMapRequest {
                organization_id: cso.clone(),
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    reads.ok(
        "GetNetworkingReport",
        c.get_networking_report(authed(api::GetNetworkingReportRequest::default(), s))
            .await,
    );
    // Retries of requests whose stored answers named her.
    reads.any(
        "CreateEvent (retry)",
        c.create_event(authed(create_event, s)).await,
    );
    reads.any(
        "BatchCreateInvitations (retry)",
        c.batch_create_invitations(authed(invite, s)).await,
    );
    reads.any("CheckIn (retry)", c.check_in(authed(check_in, s)).await);
    reads.any(
        "CreateCommitment (retry)",
        c.create_commitment(authed(hers_req, s)).await,
    );
    reads.any(
        "CreateCoalition (retry)",
        c.create_coalition(authed(create_coalition, s)).await,
    );
    reads.any(
        "CreateCampaign (retry)",
        c.create_campaign(authed(create_campaign, s)).await,
    );
    reads.any(
        "RecordCampaignOutcome (retry)",
        c.record_campaign_outcome(authed(record, s)).await,
    );
    assert_eq!(reads.0, Vec::<String>::new(), "reads that still name her");
    assert_eq!(
        table_leaks(&db, TENANT).await,
        Vec::<String>::new(),
        "columns that still hold something of her"
    );
    assert_eq!(figures(&mut w, &event.id).await, before);
}

/// An event created (no request id), its request noted.
async fn create_event_noted(w: &mut World, coverage: &mut Coverage, e: api::Event) -> api::Event {
    let req = api::CreateEventRequest {
        event: Some(e),
        request_id: String::new(),
    };
    coverage.note(&req);
    w.client
        .create_event(authed(req, &w.staff))
        .await
        .expect("event created")
        .into_inner()
}
