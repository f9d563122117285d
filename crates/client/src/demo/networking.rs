//! Networking: the issues the 2019 campaigns were about, two issue-based
//! coalitions, twelve events (invitations, check-in of known people, guests
//! and walk-ins, held, minutes) and the seven advocacy campaigns the grant
//! funded, launched, with an outcome, completed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use markaz_proto::networking::v1 as net;
use markaz_proto::networking::v1::networking_service_client::NetworkingServiceClient;

use super::center::{self, BRANCHES, COALITIONS, ISSUES, ORGS};
use super::grants::Awards;
use super::{Ids, Seed, ar_of, parallel, rid, text};
use crate::rpc::{Api, all};

fn client(api: &Api) -> NetworkingServiceClient<tonic::transport::Channel> {
    NetworkingServiceClient::new(api.channel.clone())
}

/// 10:00 to 13:00 in Syria (UTC+3) on `day`.
fn hours(day: markaz_kit::time::Date) -> (prost_types::Timestamp, prost_types::Timestamp) {
    let midnight = day.days() * 86_400;
    (
        prost_types::Timestamp {
            seconds: midnight + 7 * 3600,
            nanos: 0,
        },
        prost_types::Timestamp {
            seconds: midnight + 10 * 3600,
            nanos: 0,
        },
    )
}

/// The steps of the progress bar: an issue, a coalition, an event, a
/// campaign.
pub(crate) fn steps(cal: &center::Calendar) -> usize {
    let campaigns = center::projects()
        .iter()
        .filter(|(_, _, p)| p.campaign.is_some())
        .count();
    ISSUES.len() + COALITIONS.len() + center::events(cal).len() + campaigns
}

pub(crate) async fn seed(seed: &Arc<Seed>, ids: &Arc<Ids>, awards: &Awards) -> Result<(), String> {
    let api = &seed.api;
    let events = center::events(&seed.cal);
    let campaigns: Vec<(usize, usize, center::Project)> = center::projects()
        .into_iter()
        .filter(|(_, _, p)| p.campaign.is_some())
        .collect();
    seed.progress
        .phase("networking: events, coalitions, campaigns");

    let issues: HashSet<String> = all("ListIssues", |page_token| async move {
        let r = api
            .call("ListIssues", || {
                let mut c = client(api);
                let r = api.request(net::ListIssuesRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    include_archived: true,
                });
                async move { c.list_issues(r).await }
            })
            .await?;
        Ok((r.issues, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|i| i.code)
    .collect();
    for (code, ar, en) in ISSUES {
        if issues.contains(code) {
            seed.found("issues");
        } else {
            api.call("CreateIssue", || {
                let mut c = client(api);
                let r = api.request(net::CreateIssueRequest {
                    issue: Some(net::Issue {
                        code: code.into(),
                        name: text(ar, en),
                        ..Default::default()
                    }),
                });
                async move { c.create_issue(r).await }
            })
            .await?;
            seed.created("issues");
        }
        seed.progress.tick();
    }

    let existing: HashMap<String, String> = all("ListCoalitions", |page_token| async move {
        let r = api
            .call("ListCoalitions", || {
                let mut c = client(api);
                let r = api.request(net::ListCoalitionsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_coalitions(r).await }
            })
            .await?;
        Ok((r.coalitions, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|c| (ar_of(&c.name), c.id))
    .collect();
    let mut coalitions = Vec::new();
    for (k, co) in COALITIONS.iter().enumerate() {
        let id = match existing.get(co.ar) {
            Some(id) => {
                seed.found("coalitions");
                id.clone()
            }
            None => {
                let made = api
                    .call("CreateCoalition", || {
                        let mut c = client(api);
                        let r = api.request(net::CreateCoalitionRequest {
                            coalition: Some(net::Coalition {
                                name: text(co.ar, co.en),
                                issue_codes: co.issues.iter().map(|i| i.to_string()).collect(),
                                charter: text(
                                    "تنسيق جهود المنظمات الأعضاء ومناصرة القضية لدى أصحاب القرار؛ القرارات بالتوافق",
                                    "Coordinating the members' work and advocating the cause with decision-makers; decisions by consensus",
                                ),
                                lead_organization_id: ids.orgs[co.lead].clone(),
                                branch_id: BRANCHES[co.branch].id.into(),
                                formed_on: Some(seed.cal.first.add_days(3).to_proto()),
                                ..Default::default()
                            }),
                            founding_member_ids: co.members.iter().map(|m| ids.orgs[*m].clone()).collect(),
                            request_id: rid(&format!("coalition-{k}")),
                        });
                        async move { c.create_coalition(r).await }
                    })
                    .await?;
                seed.created("coalitions");
                made.id
            }
        };
        coalitions.push(id);
        seed.progress.tick();
    }
    let coalitions = Arc::new(coalitions);

    let existing: HashMap<String, net::Event> = all("ListEvents", |page_token| async move {
        let r = api
            .call("ListEvents", || {
                let mut c = client(api);
                let r = api.request(net::ListEventsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_events(r).await }
            })
            .await?;
        Ok((r.events, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|e| (ar_of(&e.title), e))
    .collect();
    let (s, i, plan, existing, co) = (
        seed.clone(),
        ids.clone(),
        Arc::new(events),
        Arc::new(existing),
        coalitions.clone(),
    );
    parallel(seed, plan.len(), move |k| {
        let (s, i, plan, existing, co) = (
            s.clone(),
            i.clone(),
            plan.clone(),
            existing.clone(),
            co.clone(),
        );
        async move {
            let e = &plan[k];
            event(&s, &i, &co, e, existing.get(&e.title_ar).cloned()).await
        }
    })
    .await?;

    let existing: HashMap<String, net::Campaign> = all("ListCampaigns", |page_token| async move {
        let r = api
            .call("ListCampaigns", || {
                let mut c = client(api);
                let r = api.request(net::ListCampaignsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_campaigns(r).await }
            })
            .await?;
        Ok((r.campaigns, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|c| (ar_of(&c.title), c))
    .collect();
    for (n, org, p) in campaigns {
        let award = awards
            .get(&org)
            .ok_or_else(|| format!("{}: no award to fund its campaign", ORGS[org].en))?;
        campaign(
            seed,
            ids,
            &coalitions,
            n,
            org,
            &p,
            award,
            existing.get(p.title_ar).cloned(),
        )
        .await?;
        seed.progress.tick();
    }
    Ok(())
}

/// Takes event `e` to held, with its minutes.
async fn event(
    s: &Seed,
    ids: &Ids,
    coalitions: &[String],
    e: &center::Event,
    found: Option<net::Event>,
) -> Result<(), String> {
    let api = &s.api;
    let what = |step: &str| format!("{step} {}", e.title_en);
    let branch = &BRANCHES[e.branch];
    let mut ev = match found {
        Some(ev) => {
            s.found("events");
            ev
        }
        None => {
            let (start, end) = hours(e.day);
            let made = api
                .call(&what("CreateEvent"), || {
                    let mut c = client(api);
                    let r = api.request(net::CreateEventRequest {
                        event: Some(net::Event {
                            kind: e.kind as i32,
                            title: text(&e.title_ar, &e.title_en),
                            purpose: text(
                                "بناء العلاقات وتعزيز التعاون والتنسيق بين الفاعلين في المجتمع المدني",
                                "Building relations, cooperation and coordination between civil-society actors",
                            ),
                            branch_id: branch.id.into(),
                            venue: format!("مقر المركز في {}", branch.city),
                            start_time: Some(start),
                            end_time: Some(end),
                            utc_offset_minutes: 180,
                            organizer_staff: vec![net::StaffMember {
                                name: "فريق التشبيك في المركز".into(),
                                subject: String::new(),
                            }],
                            issue_codes: e
                                .coalition
                                .map(|k| COALITIONS[k].issues.iter().map(|i| i.to_string()).collect())
                                .unwrap_or_default(),
                            coalition_id: e.coalition.map(|k| coalitions[k].clone()).unwrap_or_default(),
                            ..Default::default()
                        }),
                        request_id: rid(&e.key),
                    });
                    async move { c.create_event(r).await }
                })
                .await?;
            s.created("events");
            made
        }
    };
    if ev.status == net::EventStatus::Planned as i32 {
        let invitations = invitations(api, &ev.id).await?;
        let invitations = if invitations.is_empty() {
            let mut sent: Vec<net::Invitation> = center::partners()
                .filter(|o| ORGS[*o].branch == e.branch)
                .map(|o| net::Invitation {
                    invitee: Some(net::invitation::Invitee::OrganizationId(
                        ids.orgs[o].clone(),
                    )),
                    ..Default::default()
                })
                .collect();
            for (name, affiliation, gender, category) in &e.guests {
                sent.push(net::Invitation {
                    invitee: Some(net::invitation::Invitee::Guest(net::OutsideGuest {
                        name: (*name).into(),
                        affiliation: (*affiliation).into(),
                        gender: *gender as i32,
                    })),
                    category: *category as i32,
                    ..Default::default()
                });
            }
            let made = api
                .call(&what("BatchCreateInvitations"), || {
                    let mut c = client(api);
                    let r = api.request(net::BatchCreateInvitationsRequest {
                        event_id: ev.id.clone(),
                        invitations: sent.clone(),
                        request_id: rid(&format!("{}-invitations", e.key)),
                    });
                    async move { c.batch_create_invitations(r).await }
                })
                .await?;
            s.created("invitations");
            made.invitations
        } else {
            s.found("invitations");
            invitations
        };
        // Check-in is idempotent entry by entry: a person, a guest's
        // invitation, a walk-in's key.
        let mut entries: Vec<net::CheckInEntry> = e
            .people
            .iter()
            .map(|p| net::CheckInEntry {
                participant: Some(net::check_in_entry::Participant::Person(
                    net::CheckInPerson {
                        person_id: ids.people[*p].clone(),
                        organization_id: ids.person_org[*p].clone(),
                    },
                )),
                ..Default::default()
            })
            .collect();
        for (name, ..) in &e.guests {
            let invitation = invitations
                .iter()
                .find(|i| matches!(&i.invitee, Some(net::invitation::Invitee::Guest(g)) if g.name == *name))
                .ok_or_else(|| what(&format!("the invitation of {name}")))?;
            entries.push(net::CheckInEntry {
                participant: Some(net::check_in_entry::Participant::GuestInvitationId(
                    invitation.id.clone(),
                )),
                ..Default::default()
            });
        }
        for (w, (category, gender, count)) in e.walk_ins.iter().enumerate() {
            entries.push(net::CheckInEntry {
                participant: Some(net::check_in_entry::Participant::WalkIn(net::WalkIn {
                    key: format!("demo-{}-walk-in-{w}", e.key),
                    count: *count,
                })),
                category: *category as i32,
                gender: *gender as i32,
            });
        }
        api.call(&what("CheckIn"), || {
            let mut c = client(api);
            let r = api.request(net::CheckInRequest {
                event_id: ev.id.clone(),
                entries: entries.clone(),
                request_id: String::new(),
            });
            async move { c.check_in(r).await }
        })
        .await?;
        ev = api
            .call(&what("MarkEventHeld"), || {
                let mut c = client(api);
                let r = api.request(net::MarkEventHeldRequest {
                    id: ev.id.clone(),
                    etag: String::new(),
                });
                async move { c.mark_event_held(r).await }
            })
            .await?;
    }
    if ev.status != net::EventStatus::Held as i32 {
        return Err(what("the event is cancelled; the plan holds it"));
    }
    let has_minutes = ev
        .outcome
        .as_ref()
        .is_some_and(|o| o.minutes.as_ref().is_some_and(|m| !m.ar.is_empty()));
    if !has_minutes {
        api.call(&what("RecordEventOutcome"), || {
            let mut c = client(api);
            let r = api.request(net::RecordEventOutcomeRequest {
                event_id: ev.id.clone(),
                outcome: Some(net::EventOutcome {
                    minutes: text(
                        "تعارف بين ممثلي المنظمات والمسؤولين، وعرض لأولويات الخدمات الأساسية، واتفاق على لقاء متابعة",
                        "Introductions between the organizations and officials, the priorities of basic services, and a follow-up meeting agreed",
                    ),
                    decisions: vec![net::Decision {
                        id: String::new(),
                        text: text("عقد لقاء متابعة خلال شهر", "Meet again within a month"),
                    }],
                    ..Default::default()
                }),
                update_mask: None,
                etag: String::new(),
            });
            async move { c.record_event_outcome(r).await }
        })
        .await?;
        s.created("event minutes");
    }
    Ok(())
}

async fn invitations(api: &Api, event: &str) -> Result<Vec<net::Invitation>, String> {
    all("ListInvitations", |page_token| async move {
        let r = api
            .call("ListInvitations", || {
                let mut c = client(api);
                let r = api.request(net::ListInvitationsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    event_id: event.into(),
                    ..Default::default()
                });
                async move { c.list_invitations(r).await }
            })
            .await?;
        Ok((r.invitations, r.next_page_token))
    })
    .await
}

/// The advocacy campaign project `n` funded: run by its organization (the
/// thalassemia campaign by its coalition), launched, its outcome recorded,
/// completed.
#[allow(clippy::too_many_arguments)]
async fn campaign(
    s: &Seed,
    ids: &Ids,
    coalitions: &[String],
    n: usize,
    org: usize,
    p: &center::Project,
    award: &str,
    found: Option<net::Campaign>,
) -> Result<(), String> {
    let api = &s.api;
    let issue = p.campaign.unwrap_or_default();
    let (start, _, end) = center::project_days(&s.cal, n);
    let mut c = match found {
        Some(c) => {
            s.found("campaigns");
            c
        }
        None => {
            let runner = match COALITIONS.iter().position(|c| c.lead == org) {
                Some(k) if COALITIONS[k].issues.contains(&issue) => {
                    net::campaign::Runner::CoalitionId(coalitions[k].clone())
                }
                _ => net::campaign::Runner::OrganizationId(ids.orgs[org].clone()),
            };
            let council = center::local_administration(0)[0];
            let made = api
                .call(&format!("CreateCampaign {}", p.title_en), || {
                    let mut cl = client(api);
                    let r = api.request(net::CreateCampaignRequest {
                        campaign: Some(net::Campaign {
                            title: text(p.title_ar, p.title_en),
                            issue_code: issue.into(),
                            objective: text(
                                "رفع الوعي بالقضية وحشد الدعم لدى أصحاب القرار",
                                "Raising awareness of the issue and support among decision-makers",
                            ),
                            runner: Some(runner.clone()),
                            targets: vec![
                                net::CampaignTarget {
                                    kind: net::TargetKind::LocalAdministration as i32,
                                    organization_id: ids.orgs[council].clone(),
                                    description: None,
                                },
                                net::CampaignTarget {
                                    kind: net::TargetKind::Community as i32,
                                    organization_id: String::new(),
                                    description: text(
                                        &format!("الأهالي في {}", p.place_ar),
                                        &format!("The people of {}", p.place_en),
                                    ),
                                },
                            ],
                            activities: vec![net::CampaignActivity {
                                date: Some(start.to_proto()),
                                description: text(
                                    "جلسات توعية ومواد إعلامية",
                                    "Awareness sessions and leaflets",
                                ),
                                people_reached: 150 + 10 * n as i32,
                                ..Default::default()
                            }],
                            branch_id: BRANCHES[ORGS[org].branch].id.into(),
                            start_date: Some(start.to_proto()),
                            end_date: Some(end.to_proto()),
                            grant_award_id: award.into(),
                            ..Default::default()
                        }),
                        request_id: rid(&format!("campaign-{n:02}")),
                    });
                    async move { cl.create_campaign(r).await }
                })
                .await?;
            s.created("campaigns");
            made
        }
    };
    loop {
        let status = net::CampaignStatus::try_from(c.status).unwrap_or_default();
        if status != net::CampaignStatus::Planned && c.outcome_count == 0 {
            api.call("RecordCampaignOutcome", || {
                let mut cl = client(api);
                let r = api.request(net::RecordCampaignOutcomeRequest {
                    outcome: Some(net::CampaignOutcome {
                        campaign_id: c.id.clone(),
                        kind: net::OutcomeKind::AwarenessRaised as i32,
                        description: text(
                            "وصلت الحملة إلى الأهالي المستهدفين وتبنّت الإدارة المحلية بعض توصياتها",
                            "The campaign reached the people it aimed at; local administration took up some of its recommendations",
                        ),
                        achieved_on: Some(end.to_proto()),
                        evidence: vec![net::Evidence {
                            description: text("تقرير الحملة الختامي", "The campaign's final report"),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    request_id: rid(&format!("campaign-{n:02}-outcome")),
                });
                async move { cl.record_campaign_outcome(r).await }
            })
            .await?;
            s.created("campaign outcomes");
            c.outcome_count = 1;
        }
        c = match status {
            net::CampaignStatus::Completed => return Ok(()),
            net::CampaignStatus::Planned => {
                api.call("LaunchCampaign", || {
                    let mut cl = client(api);
                    let r = api.request(net::LaunchCampaignRequest {
                        id: c.id.clone(),
                        etag: String::new(),
                    });
                    async move { cl.launch_campaign(r).await }
                })
                .await?
            }
            net::CampaignStatus::Active => {
                api.call("CompleteCampaign", || {
                    let mut cl = client(api);
                    let r = api.request(net::CompleteCampaignRequest {
                        id: c.id.clone(),
                        etag: String::new(),
                    });
                    async move { cl.complete_campaign(r).await }
                })
                .await?
            }
            other => {
                return Err(format!(
                    "{}: the campaign is {}; the plan completes it",
                    p.title_en,
                    other.as_str_name()
                ));
            }
        };
    }
}
