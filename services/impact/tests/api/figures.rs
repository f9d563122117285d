//! Every indicator against a recount: a seeded center's activity — people,
//! organizations moving through incubation, courses scheduled and
//! rescheduled, completed or cancelled, consultations corrected after the
//! fact, grants awarded, paid and closed — delivered as its producers'
//! events in a shuffled order with some delivered twice, then each figure
//! read through the API and compared with the same figure counted here from
//! the generated records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use markaz_kit::testing::erasure::erased_event;
use markaz_proto::common::v1::{
    AgeBand, Date, Gender, IncubationStatus, LocalizedText, Money, OrganizationKind, Sector,
};

use crate::world::*;

both_backends!(
    every_figure_equals_its_recount,
    out_of_order_and_twice_changes_nothing,
    an_erased_person_stays_counted,
    the_records_behind_a_figure_are_the_ones_it_counts,
    bad_requests_name_every_bad_field
);

const BRANCHES: [&str; 2] = ["raqqa", "deir-ez-zor"];
const TOPICS: [&str; 3] = ["proposal-writing", "advocacy", "financial-management"];

/// 2025, both days included.
pub fn period() -> api::GetIndicatorsRequest {
    api::GetIndicatorsRequest {
        from: Some(day("2025-01-01")),
        until: Some(day("2025-12-31")),
        ..Default::default()
    }
}

fn day(text: &str) -> Date {
    let p: Vec<i32> = text.split('-').map(|x| x.parse().unwrap()).collect();
    Date {
        year: p[0],
        month: p[1],
        day: p[2],
    }
}

/// A small deterministic generator (no dependency, same data every run).
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// A day from 2024-12-20 to 2026-01-10: some outside the period.
    fn date(&mut self) -> String {
        let d = markaz_kit::time::Date::parse("2024-12-20")
            .unwrap()
            .add_days(self.below(387) as i64);
        d.to_string()
    }
}

fn new_id() -> String {
    // UUIDv7-shaped ids from the platform, as producers issue them.
    markaz_kit::rpc::new_id()
}

/// One record a figure counts, as this test knows it.
#[derive(Clone, Debug)]
pub struct Rec {
    pub subject: String,
    pub amount: i64,
    pub on: String,
    pub dims: HashMap<Dimension, String>,
    pub topics: Vec<String>,
}

impl Rec {
    fn value(&self, d: Dimension) -> Vec<String> {
        match d {
            Dimension::Topic => self.topics.clone(),
            Dimension::Month => vec![self.on[..7].to_string()],
            Dimension::Year => vec![self.on[..4].to_string()],
            Dimension::Quarter => {
                let m: u32 = self.on[5..7].parse().unwrap();
                vec![format!("{}-Q{}", &self.on[..4], m.div_ceil(3))]
            }
            d => vec![self.dims.get(&d).cloned().unwrap_or_default()],
        }
    }
}

/// The figure of `recs` in 2025 split by `split`: its total and cells.
pub fn recount(
    recs: &[Rec],
    distinct: bool,
    split: &[Dimension],
) -> (i64, BTreeMap<Vec<String>, i64>) {
    let inside: Vec<&Rec> = recs
        .iter()
        .filter(|r| r.on.as_str() >= "2025-01-01" && r.on.as_str() <= "2025-12-31")
        .collect();
    let total = if distinct {
        inside
            .iter()
            .map(|r| &r.subject)
            .collect::<BTreeSet<_>>()
            .len() as i64
    } else {
        inside.iter().map(|r| r.amount).sum()
    };
    let mut groups: BTreeMap<Vec<String>, (BTreeSet<String>, i64)> = BTreeMap::new();
    for r in inside {
        let mut keys: Vec<Vec<String>> = vec![Vec::new()];
        for d in split {
            keys = keys
                .into_iter()
                .flat_map(|k| {
                    r.value(*d).into_iter().map(move |v| {
                        let mut k = k.clone();
                        k.push(v);
                        k
                    })
                })
                .collect();
        }
        for k in keys {
            let g = groups.entry(k).or_default();
            g.0.insert(r.subject.clone());
            g.1 += r.amount;
        }
    }
    let cells = groups
        .into_iter()
        .map(|(k, (subjects, sum))| (k, if distinct { subjects.len() as i64 } else { sum }))
        .collect();
    (total, cells)
}

struct Person {
    id: String,
    gender: Gender,
    age_band: AgeBand,
    organization: usize,
}

struct Org {
    id: String,
    branch: &'static str,
    kind: OrganizationKind,
}

/// A center's activity, and the events that tell it.
pub struct Activity {
    /// Producer and event, in the order things happened.
    events: Vec<(&'static str, ev::Envelope)>,
    /// The records of each indicator, by code.
    expected: HashMap<&'static str, Vec<Rec>>,
    /// A person who is a trainee, for the erasure.
    trainee: (String, Gender, AgeBand),
    /// The trainees, for what the figure counts.
    trainee_ids: BTreeSet<String>,
}

impl Activity {
    pub fn generate(seed: u64) -> Activity {
        let mut g = Seeded(seed);
        let mut events: Vec<(&'static str, ev::Envelope)> = Vec::new();
        let mut expected: HashMap<&'static str, Vec<Rec>> = HashMap::new();
        let mut push = |producer: &'static str, e: ev::Envelope| events.push((producer, e));

        // Organizations, each applying for incubation; some move on.
        let mut orgs = Vec::new();
        for i in 0..8 {
            let org = Org {
                id: new_id(),
                branch: BRANCHES[i % 2],
                kind: if i % 3 == 0 {
                    OrganizationKind::Initiative
                } else {
                    OrganizationKind::Cso
                },
            };
            push(
                "membership",
                envelope(
                    "membership",
                    TENANT,
                    &ev::OrganizationRegistered {
                        organization: Some(ev::OrganizationSnapshot {
                            id: org.id.clone(),
                            identifier: format!("ORG-{i}"),
                            kind: org.kind as i32,
                            name: Some(LocalizedText {
                                ar: format!("جمعية رقم {i}"),
                                en: format!("Association {i}"),
                            }),
                            governorate: "الرقة".into(),
                            branch_id: org.branch.into(),
                            sectors: vec![Sector::Education as i32],
                            incubation_status: IncubationStatus::Applicant as i32,
                            version: 1,
                        }),
                    },
                ),
            );
            let moves: &[IncubationStatus] = match i % 4 {
                0 => &[IncubationStatus::Incubated, IncubationStatus::Graduated],
                1 => &[IncubationStatus::Incubated],
                2 => &[IncubationStatus::Withdrawn],
                _ => &[],
            };
            let mut from = IncubationStatus::Applicant;
            for (v, to) in moves.iter().enumerate() {
                let on = g.date();
                let code = match to {
                    IncubationStatus::Incubated => "organizations_incubated",
                    IncubationStatus::Graduated => "organizations_graduated",
                    _ => "organizations_withdrawn",
                };
                expected.entry(code).or_default().push(Rec {
                    subject: org.id.clone(),
                    amount: 1,
                    on: on.clone(),
                    dims: HashMap::from([
                        (Dimension::Branch, org.branch.to_string()),
                        (
                            Dimension::OrganizationKind,
                            org.kind.as_str_name().to_string(),
                        ),
                    ]),
                    topics: Vec::new(),
                });
                let micros = markaz_kit::time::Date::parse(&on).unwrap().days() * 86_400_000_000
                    + 3_600_000_000;
                push(
                    "membership",
                    envelope(
                        "membership",
                        TENANT,
                        &ev::IncubationStatusChanged {
                            organization_id: org.id.clone(),
                            from: from as i32,
                            to: *to as i32,
                            reason: "قرار لجنة الاحتضان".into(),
                            changed_at: Some(markaz_kit::time::timestamp(micros)),
                            version: v as i64 + 2,
                        },
                    ),
                );
                from = *to;
            }
            orgs.push(org);
        }
        let status_now = |i: usize| match i % 4 {
            0 => IncubationStatus::Graduated,
            1 => IncubationStatus::Incubated,
            2 => IncubationStatus::Withdrawn,
            _ => IncubationStatus::Applicant,
        };

        // People.
        let genders = [Gender::Female, Gender::Male, Gender::Undisclosed];
        let bands = [
            AgeBand::AgeBand1824,
            AgeBand::AgeBand2534,
            AgeBand::AgeBand3544,
        ];
        let mut people = Vec::new();
        for i in 0..30 {
            let p = Person {
                id: new_id(),
                gender: genders[if i % 7 == 0 { 2 } else { g.below(2) }],
                age_band: bands[g.below(3)],
                organization: g.below(9),
            };
            push(
                "membership",
                envelope(
                    "membership",
                    TENANT,
                    &ev::PersonRegistered {
                        person: Some(ev::PersonSnapshot {
                            id: p.id.clone(),
                            full_name: format!("سلمى الأحمد {i}"),
                            gender: p.gender as i32,
                            age_band: p.age_band as i32,
                            branch_id: BRANCHES[i % 2].into(),
                            version: 1,
                        }),
                    },
                ),
            );
            people.push(p);
        }

        // Courses: scheduled (and rescheduled), most completed, one
        // cancelled.
        for k in 0..12 {
            let id = new_id();
            let kind = if k % 3 == 0 {
                "training_course"
            } else {
                "workshop"
            };
            let topics: Vec<String> = if k % 4 == 0 {
                vec![TOPICS[0].into(), TOPICS[1].into()]
            } else {
                vec![TOPICS[k % 3].into()]
            };
            let branch = BRANCHES[g.below(2)];
            let versions = 1 + g.below(3);
            let mut end = g.date();
            let mut sessions = 1;
            for v in 1..=versions {
                end = g.date();
                sessions = 1 + g.below(4) as i32;
                push(
                    "capacity",
                    envelope(
                        "capacity",
                        TENANT,
                        &ev::CourseScheduled {
                            course_id: id.clone(),
                            kind: kind.into(),
                            title: Some(LocalizedText {
                                ar: "ورشة كتابة المقترحات".into(),
                                en: "Proposal writing".into(),
                            }),
                            topic_codes: topics.clone(),
                            branch_id: branch.into(),
                            venue: "القاعة".into(),
                            start_date: Some(day(&end)),
                            end_date: Some(day(&end)),
                            session_count: sessions,
                            capacity: 20,
                            incubated_only: false,
                            status: if k == 11 { "cancelled" } else { "open" }.into(),
                            version: v as i64,
                        },
                    ),
                );
            }
            if k == 11 {
                continue;
            }
            let mut participants = Vec::new();
            let mut chosen = BTreeSet::new();
            for _ in 0..(4 + g.below(6)) {
                chosen.insert(g.below(people.len()));
            }
            for i in chosen {
                let p = &people[i];
                let organization = (p.organization < orgs.len()).then_some(p.organization);
                participants.push(ev::Completer {
                    person_id: p.id.clone(),
                    organization_id: organization.map(|o| orgs[o].id.clone()).unwrap_or_default(),
                    gender: p.gender as i32,
                    age_band: p.age_band as i32,
                });
                expected.entry("trainees").or_default().push(Rec {
                    subject: p.id.clone(),
                    amount: 1,
                    on: end.clone(),
                    dims: HashMap::from([
                        (Dimension::Gender, p.gender.as_str_name().to_string()),
                        (Dimension::AgeBand, p.age_band.as_str_name().to_string()),
                        (Dimension::Branch, branch.to_string()),
                        (Dimension::CourseKind, kind.to_string()),
                        (
                            Dimension::OrganizationKind,
                            organization
                                .map(|o| orgs[o].kind.as_str_name().to_string())
                                .unwrap_or_default(),
                        ),
                        (
                            Dimension::IncubationStatus,
                            organization
                                .map(|o| status_now(o).as_str_name().to_string())
                                .unwrap_or_default(),
                        ),
                    ]),
                    topics: topics.clone(),
                });
            }
            for code in ["courses_held", "training_days"] {
                expected.entry(code).or_default().push(Rec {
                    subject: id.clone(),
                    amount: if code == "courses_held" {
                        1
                    } else {
                        i64::from(sessions)
                    },
                    on: end.clone(),
                    dims: HashMap::from([
                        (Dimension::Branch, branch.to_string()),
                        (Dimension::CourseKind, kind.to_string()),
                    ]),
                    topics: topics.clone(),
                });
            }
            push(
                "capacity",
                envelope(
                    "capacity",
                    TENANT,
                    &ev::CourseCompleted {
                        course_id: id.clone(),
                        topic_codes: topics.clone(),
                        branch_id: branch.into(),
                        end_date: Some(day(&end)),
                        completers: participants.iter().skip(1).cloned().collect(),
                        participants,
                        ..Default::default()
                    },
                ),
            );
        }

        // Consultations, some corrected by a second version.
        for k in 0..15 {
            let id = new_id();
            let kind = if k % 3 == 0 {
                "technical_support"
            } else {
                "consultation"
            };
            let topics = vec![TOPICS[k % 3].to_string()];
            let org = g.below(orgs.len());
            let versions = 1 + g.below(2);
            let (mut held, mut branch, mut counts) = (String::new(), "", [0i64; 3]);
            let mut came: Vec<usize> = Vec::new();
            for v in 1..=versions {
                held = g.date();
                branch = BRANCHES[g.below(2)];
                came = (0..1 + g.below(4)).map(|_| g.below(people.len())).collect();
                came.sort();
                came.dedup();
                counts = [0; 3];
                for i in &came {
                    counts[genders
                        .iter()
                        .position(|x| *x == people[*i].gender)
                        .unwrap()] += 1;
                }
                push(
                    "capacity",
                    envelope(
                        "capacity",
                        TENANT,
                        &ev::ConsultationHeld {
                            consultation_id: id.clone(),
                            kind: kind.into(),
                            organization_id: orgs[org].id.clone(),
                            topic_codes: topics.clone(),
                            branch_id: branch.into(),
                            held_on: Some(day(&held)),
                            duration_minutes: 60,
                            attendees_female: counts[0] as i32,
                            attendees_male: counts[1] as i32,
                            attendees_undisclosed: counts[2] as i32,
                            version: v as i64,
                            attendees: came
                                .iter()
                                .map(|i| ev::ConsultationAttendee {
                                    person_id: people[*i].id.clone(),
                                    gender: people[*i].gender as i32,
                                })
                                .collect(),
                        },
                    ),
                );
            }
            expected
                .entry("consultation_sessions")
                .or_default()
                .push(Rec {
                    subject: id.clone(),
                    amount: 1,
                    on: held.clone(),
                    dims: HashMap::from([
                        (Dimension::Branch, branch.to_string()),
                        (Dimension::ConsultationKind, kind.to_string()),
                        (
                            Dimension::OrganizationKind,
                            orgs[org].kind.as_str_name().to_string(),
                        ),
                        (
                            Dimension::IncubationStatus,
                            status_now(org).as_str_name().to_string(),
                        ),
                    ]),
                    topics: topics.clone(),
                });
            for i in &came {
                expected
                    .entry("consultation_beneficiaries")
                    .or_default()
                    .push(Rec {
                        subject: people[*i].id.clone(),
                        amount: 1,
                        on: held.clone(),
                        dims: HashMap::from([
                            (
                                Dimension::Gender,
                                people[*i].gender.as_str_name().to_string(),
                            ),
                            (Dimension::Branch, branch.to_string()),
                            (Dimension::ConsultationKind, kind.to_string()),
                        ]),
                        topics: topics.clone(),
                    });
            }
            for (gender, n) in genders.iter().zip(counts) {
                if n > 0 {
                    expected
                        .entry("consultation_attendances")
                        .or_default()
                        .push(Rec {
                            subject: id.clone(),
                            amount: n,
                            on: held.clone(),
                            dims: HashMap::from([
                                (Dimension::Gender, gender.as_str_name().to_string()),
                                (Dimension::Branch, branch.to_string()),
                                (Dimension::ConsultationKind, kind.to_string()),
                            ]),
                            topics: topics.clone(),
                        });
                }
            }
        }

        // Grants: awarded, paid in tranches, some ended.
        let sectors = [Sector::Education, Sector::Health, Sector::Livelihoods];
        for k in 0..7 {
            let award = new_id();
            let org = &orgs[g.below(orgs.len())];
            let currency = if k % 3 == 0 { "EUR" } else { "USD" };
            let sector = sectors[g.below(3)];
            let context = ev::GrantContext {
                program_id: new_id(),
                call_id: new_id(),
                proposal_id: new_id(),
                organization_id: org.id.clone(),
                branch_id: org.branch.into(),
                organization_kind: org.kind as i32,
                sector: sector as i32,
                theme_code: "community".into(),
                governorate: "الرقة".into(),
            };
            let dims = |extra: Option<&str>| {
                let mut d = HashMap::from([
                    (Dimension::Branch, org.branch.to_string()),
                    (Dimension::Sector, sector.as_str_name().to_string()),
                    (
                        Dimension::OrganizationKind,
                        org.kind.as_str_name().to_string(),
                    ),
                ]);
                if let Some(c) = extra {
                    d.insert(Dimension::Currency, c.to_string());
                }
                d
            };
            let amount = 100_000 * (1 + g.below(20) as i64);
            let start = g.date();
            let money = |minor_units| {
                Some(Money {
                    currency_code: currency.into(),
                    minor_units,
                })
            };
            push(
                "grants",
                envelope(
                    "grants",
                    TENANT,
                    &ev::GrantAwarded {
                        context: Some(context.clone()),
                        award_id: award.clone(),
                        amount: money(amount),
                        tranche_count: 2,
                        start_date: Some(day(&start)),
                        end_date: Some(day(&start)),
                        ..Default::default()
                    },
                ),
            );
            for (code, value) in [
                ("community_projects_funded", 1),
                ("grant_amount_committed", amount),
            ] {
                expected.entry(code).or_default().push(Rec {
                    subject: award.clone(),
                    amount: value,
                    on: start.clone(),
                    dims: dims((code != "community_projects_funded").then_some(currency)),
                    topics: Vec::new(),
                });
            }
            let tranches = 1 + g.below(2);
            for t in 1..=tranches {
                let on = g.date();
                let paid = amount / 2;
                push(
                    "grants",
                    envelope(
                        "grants",
                        TENANT,
                        &ev::TrancheDisbursed {
                            context: Some(context.clone()),
                            award_id: award.clone(),
                            tranche_number: t as i32,
                            milestone_number: t as i32,
                            amount: money(paid),
                            disbursed_total: money(paid * t as i64),
                            disbursed_on: Some(day(&on)),
                        },
                    ),
                );
                expected
                    .entry("grant_amount_disbursed")
                    .or_default()
                    .push(Rec {
                        subject: format!("{award}:{t}"),
                        amount: paid,
                        on,
                        dims: dims(Some(currency)),
                        topics: Vec::new(),
                    });
            }
            if k % 2 == 0 {
                let ended = g.date();
                let spent = amount - 1_000 * k as i64;
                let outcome = if k == 4 {
                    ev::ProjectOutcome::ClosedEarly
                } else {
                    ev::ProjectOutcome::Completed
                };
                push(
                    "grants",
                    envelope(
                        "grants",
                        TENANT,
                        &ev::ProjectCompleted {
                            context: Some(context.clone()),
                            award_id: award.clone(),
                            outcome: outcome as i32,
                            awarded: money(amount),
                            disbursed: money(amount),
                            spent: money(spent),
                            ended_on: Some(day(&ended)),
                            ..Default::default()
                        },
                    ),
                );
                if outcome == ev::ProjectOutcome::Completed {
                    expected
                        .entry("community_projects_completed")
                        .or_default()
                        .push(Rec {
                            subject: award.clone(),
                            amount: 1,
                            on: ended.clone(),
                            dims: dims(None),
                            topics: Vec::new(),
                        });
                }
                expected.entry("grant_amount_spent").or_default().push(Rec {
                    subject: award.clone(),
                    amount: spent,
                    on: ended,
                    dims: dims(Some(currency)),
                    topics: Vec::new(),
                });
            }
        }

        // Networking: events held (some corrected by a second version),
        // coalitions and their members, campaigns.
        let event_kinds = [
            "networking",
            "local_administration_meeting",
            "advocacy_workshop",
        ];
        let categories = ["local_organization_member", "local_administration", "donor"];
        for k in 0..6 {
            let id = new_id();
            let kind = event_kinds[k % 3];
            let versions = 1 + g.below(2);
            let (mut held, mut branch) = (String::new(), "");
            let mut counts: Vec<(&str, [i64; 3])> = Vec::new();
            let mut came: Vec<usize> = Vec::new();
            for v in 1..=versions {
                held = g.date();
                branch = BRANCHES[g.below(2)];
                counts = categories
                    .iter()
                    .map(|c| {
                        (
                            *c,
                            [g.below(4) as i64, g.below(4) as i64, g.below(2) as i64],
                        )
                    })
                    .collect();
                came = (0..3).map(|_| g.below(people.len())).collect();
                came.sort();
                came.dedup();
                push(
                    "networking",
                    envelope(
                        "networking",
                        TENANT,
                        &ev::EventHeld {
                            event_id: id.clone(),
                            kind: kind.into(),
                            branch_id: branch.into(),
                            held_on: Some(day(&held)),
                            participants: counts
                                .iter()
                                .map(|(c, n)| ev::CategoryCount {
                                    category: c.to_string(),
                                    female: n[0],
                                    male: n[1],
                                    undisclosed: n[2],
                                })
                                .collect(),
                            attendees: came
                                .iter()
                                .map(|i| ev::EventAttendee {
                                    person_id: people[*i].id.clone(),
                                    organization_id: String::new(),
                                    category: "civil_society_leader".into(),
                                    gender: people[*i].gender as i32,
                                    age_band: people[*i].age_band as i32,
                                })
                                .collect(),
                            version: v as i64,
                            ..Default::default()
                        },
                    ),
                );
            }
            let event_dims = HashMap::from([
                (Dimension::Branch, branch.to_string()),
                (Dimension::EventKind, kind.to_string()),
            ]);
            expected
                .entry("networking_events_held")
                .or_default()
                .push(Rec {
                    subject: id.clone(),
                    amount: 1,
                    on: held.clone(),
                    dims: event_dims.clone(),
                    topics: Vec::new(),
                });
            if kind == "local_administration_meeting" {
                expected
                    .entry("local_administration_meetings")
                    .or_default()
                    .push(Rec {
                        subject: id.clone(),
                        amount: 1,
                        on: held.clone(),
                        dims: event_dims.clone(),
                        topics: Vec::new(),
                    });
            }
            for (category, n) in &counts {
                for (gender, count) in genders.iter().zip(n) {
                    if *count > 0 {
                        let mut dims = event_dims.clone();
                        dims.insert(Dimension::Gender, gender.as_str_name().to_string());
                        dims.insert(Dimension::ParticipantCategory, category.to_string());
                        expected
                            .entry("networking_participants")
                            .or_default()
                            .push(Rec {
                                subject: id.clone(),
                                amount: *count,
                                on: held.clone(),
                                dims,
                                topics: Vec::new(),
                            });
                    }
                }
            }
            for i in &came {
                let mut dims = event_dims.clone();
                dims.insert(
                    Dimension::Gender,
                    people[*i].gender.as_str_name().to_string(),
                );
                dims.insert(
                    Dimension::AgeBand,
                    people[*i].age_band.as_str_name().to_string(),
                );
                dims.insert(
                    Dimension::ParticipantCategory,
                    "civil_society_leader".into(),
                );
                expected.entry("networking_people").or_default().push(Rec {
                    subject: people[*i].id.clone(),
                    amount: 1,
                    on: held.clone(),
                    dims,
                    topics: Vec::new(),
                });
            }
        }
        for k in 0..3 {
            let coalition = new_id();
            let branch = BRANCHES[k % 2];
            let formed = g.date();
            for (v, status) in [
                (1, "active"),
                (2, if k == 2 { "dissolved" } else { "active" }),
            ] {
                let snapshot = Some(ev::CoalitionSnapshot {
                    coalition_id: coalition.clone(),
                    issue_codes: vec!["water".into()],
                    lead_organization_id: orgs[k].id.clone(),
                    branch_id: branch.into(),
                    formed_on: Some(day(&formed)),
                    status: status.into(),
                    status_since: Some(day(&formed)),
                    version: v,
                });
                let e = if v == 1 {
                    envelope(
                        "networking",
                        TENANT,
                        &ev::CoalitionFormed {
                            coalition: snapshot,
                        },
                    )
                } else {
                    envelope(
                        "networking",
                        TENANT,
                        &ev::CoalitionChanged {
                            coalition: snapshot,
                        },
                    )
                };
                push("networking", e);
            }
            expected.entry("coalitions_formed").or_default().push(Rec {
                subject: coalition.clone(),
                amount: 1,
                on: formed.clone(),
                dims: HashMap::from([(Dimension::Branch, branch.to_string())]),
                topics: Vec::new(),
            });
            for m in 0..3 {
                let org = &orgs[(k + m) % orgs.len()];
                let joined = g.date();
                push(
                    "networking",
                    envelope(
                        "networking",
                        TENANT,
                        &ev::CoalitionMemberJoined {
                            coalition_id: coalition.clone(),
                            organization_id: org.id.clone(),
                            organization_kind: org.kind as i32,
                            joined_on: Some(day(&joined)),
                            period_number: 1,
                            version: 1,
                        },
                    ),
                );
                if m == 2 {
                    push(
                        "networking",
                        envelope(
                            "networking",
                            TENANT,
                            &ev::CoalitionMemberLeft {
                                coalition_id: coalition.clone(),
                                organization_id: org.id.clone(),
                                organization_kind: org.kind as i32,
                                joined_on: Some(day(&joined)),
                                left_on: Some(day(&g.date())),
                                period_number: 1,
                                dissolved: false,
                                version: 2,
                            },
                        ),
                    );
                }
                expected.entry("coalition_members").or_default().push(Rec {
                    subject: org.id.clone(),
                    amount: 1,
                    on: joined,
                    dims: HashMap::from([
                        (Dimension::Branch, branch.to_string()),
                        (
                            Dimension::OrganizationKind,
                            org.kind.as_str_name().to_string(),
                        ),
                    ]),
                    topics: Vec::new(),
                });
            }
        }
        for k in 0..4 {
            let campaign = new_id();
            let branch = BRANCHES[k % 2];
            let launched = (k != 3).then(|| g.date());
            let snapshot = |status: &str, version: i64| ev::CampaignSnapshot {
                campaign_id: campaign.clone(),
                issue_code: "water".into(),
                organization_id: orgs[k].id.clone(),
                branch_id: branch.into(),
                status: status.into(),
                launched_on: launched.as_deref().map(day),
                version,
                ..Default::default()
            };
            if launched.is_some() {
                push(
                    "networking",
                    envelope(
                        "networking",
                        TENANT,
                        &ev::CampaignLaunched {
                            campaign: Some(snapshot("active", 1)),
                        },
                    ),
                );
                if k == 0 {
                    push(
                        "networking",
                        envelope(
                            "networking",
                            TENANT,
                            &ev::CampaignChanged {
                                campaign: Some(snapshot("cancelled", 2)),
                            },
                        ),
                    );
                }
                expected.entry("campaigns_launched").or_default().push(Rec {
                    subject: campaign.clone(),
                    amount: 1,
                    on: launched.clone().unwrap(),
                    dims: HashMap::from([(Dimension::Branch, branch.to_string())]),
                    topics: Vec::new(),
                });
            } else {
                push(
                    "networking",
                    envelope(
                        "networking",
                        TENANT,
                        &ev::CampaignChanged {
                            campaign: Some(snapshot("planned", 1)),
                        },
                    ),
                );
            }
        }

        // Resources: library items (one withdrawn), their downloads per
        // month as running totals, bookings (one cancelled, one missed).
        let item_kinds = ["study", "guide", "toolkit"];
        for k in 0..5 {
            let item = new_id();
            let kind = item_kinds[k % 3];
            let topics = vec![TOPICS[k % 3].to_string()];
            let published = g.date();
            let micros = markaz_kit::time::Date::parse(&published).unwrap().days() * 86_400_000_000;
            let withdrawn = k == 4;
            for v in 1..=(1 + i64::from(withdrawn)) {
                push(
                    "resources",
                    envelope(
                        "resources",
                        TENANT,
                        &ev::ResourcePublished {
                            item_id: item.clone(),
                            kind: kind.into(),
                            title: Some(LocalizedText {
                                ar: "دليل المناصرة".into(),
                                en: "Advocacy guide".into(),
                            }),
                            topic_codes: topics.clone(),
                            language: "ar".into(),
                            first_published_at: Some(markaz_kit::time::timestamp(micros)),
                            withdrawn: withdrawn && v == 2,
                            version: v,
                            ..Default::default()
                        },
                    ),
                );
            }
            let dims = HashMap::from([(Dimension::ResourceKind, kind.to_string())]);
            if !withdrawn {
                expected
                    .entry("library_items_published")
                    .or_default()
                    .push(Rec {
                        subject: item.clone(),
                        amount: 1,
                        on: published.clone(),
                        dims: dims.clone(),
                        topics: topics.clone(),
                    });
            }
            for m in 0..2 {
                let month = if m == 0 { "2025-03" } else { "2025-11" };
                let total = 1 + g.below(5) as i64;
                for t in 1..=total {
                    push(
                        "resources",
                        envelope(
                            "resources",
                            TENANT,
                            &ev::ResourceDownloaded {
                                item_id: item.clone(),
                                item_tenant_id: TENANT.into(),
                                file_id: new_id(),
                                file_version: 1,
                                month: month.into(),
                                downloads: 1,
                                month_total: t,
                                reader_category: "public".into(),
                            },
                        ),
                    );
                }
                expected.entry("library_downloads").or_default().push(Rec {
                    subject: item.clone(),
                    amount: total,
                    on: format!("{month}-01"),
                    dims: dims.clone(),
                    topics: topics.clone(),
                });
            }
        }
        let space_kinds = ["meeting_room", "training_hall"];
        for k in 0..6 {
            let booking = new_id();
            let org = &orgs[k % orgs.len()];
            let branch = BRANCHES[k % 2];
            let space = space_kinds[k % 2];
            let starts = g.date();
            let micros = markaz_kit::time::Date::parse(&starts).unwrap().days() * 86_400_000_000
                + 9 * 3_600_000_000;
            let status = if k == 5 { "no_show" } else { "confirmed" };
            push(
                "resources",
                envelope(
                    "resources",
                    TENANT,
                    &ev::BookingConfirmed {
                        booking_id: booking.clone(),
                        space_id: new_id(),
                        space_tenant_id: TENANT.into(),
                        branch_id: branch.into(),
                        // Resources spells some as enum names: both count alike.
                        space_kind: if k == 1 {
                            format!("SPACE_KIND_{}", space.to_ascii_uppercase())
                        } else {
                            space.into()
                        },
                        organization_id: org.id.clone(),
                        purpose: "meeting".into(),
                        start_time: Some(markaz_kit::time::timestamp(micros)),
                        end_time: Some(markaz_kit::time::timestamp(micros + 3_600_000_000)),
                        status: if k == 1 {
                            "BOOKING_STATUS_CONFIRMED".into()
                        } else {
                            status.into()
                        },
                        version: 1,
                        ..Default::default()
                    },
                ),
            );
            if k == 4 {
                push(
                    "resources",
                    envelope(
                        "resources",
                        TENANT,
                        &ev::BookingCancelled {
                            booking_id: booking.clone(),
                            branch_id: branch.into(),
                            organization_id: org.id.clone(),
                            start_time: Some(markaz_kit::time::timestamp(micros)),
                            end_time: Some(markaz_kit::time::timestamp(micros + 3_600_000_000)),
                            version: 2,
                            ..Default::default()
                        },
                    ),
                );
                continue;
            }
            let dims = HashMap::from([
                (Dimension::Branch, branch.to_string()),
                (Dimension::SpaceKind, space.to_string()),
            ]);
            expected.entry("space_bookings").or_default().push(Rec {
                subject: booking.clone(),
                amount: 1,
                on: starts.clone(),
                dims: dims.clone(),
                topics: Vec::new(),
            });
            if status != "no_show" {
                expected
                    .entry("organizations_using_space")
                    .or_default()
                    .push(Rec {
                        subject: org.id.clone(),
                        amount: 1,
                        on: starts,
                        dims,
                        topics: Vec::new(),
                    });
            }
        }

        let trainees = &expected["trainees"];
        let first = trainees
            .iter()
            .find(|r| r.on.as_str() >= "2025-01-01" && r.on.as_str() <= "2025-12-31")
            .expect("a trainee in the period");
        let person = people.iter().find(|p| p.id == first.subject).unwrap();
        let trainee_ids = trainees
            .iter()
            .filter(|r| r.on.as_str() >= "2025-01-01" && r.on.as_str() <= "2025-12-31")
            .map(|r| r.subject.clone())
            .collect();
        Activity {
            trainee: (person.id.clone(), person.gender, person.age_band),
            trainee_ids,
            events,
            expected,
        }
    }

    /// The records of indicator `code`, as generated.
    pub fn records(&self, code: &str) -> Vec<Rec> {
        self.expected.get(code).cloned().unwrap_or_default()
    }

    /// The events for `tenant`, in the order they happened.
    pub fn envelopes(&self, tenant: &str) -> Vec<ev::Envelope> {
        self.events
            .iter()
            .map(|(_, e)| ev::Envelope {
                tenant_id: tenant.into(),
                ..e.clone()
            })
            .collect()
    }

    /// The same events in a shuffled order across producers, one in three
    /// delivered twice.
    pub fn shuffled(&self, seed: u64) -> Vec<ev::Envelope> {
        let mut g = Seeded(seed);
        let mut all = self.envelopes(TENANT);
        for i in (1..all.len()).rev() {
            all.swap(i, g.below(i + 1));
        }
        let again: Vec<ev::Envelope> = all.iter().step_by(3).cloned().collect();
        for (n, e) in again.into_iter().enumerate() {
            let at = (n * 7) % all.len();
            all.insert(at, e);
        }
        all
    }
}

/// Every indicator's figure read through the API equals its recount, total
/// and cells, for each split given.
pub async fn assert_figures(w: &mut World, activity: &Activity) {
    let splits: &[&[Dimension]] = &[
        &[],
        &[Dimension::Branch],
        &[Dimension::Gender],
        &[Dimension::Quarter, Dimension::Branch],
        &[Dimension::Topic],
        &[Dimension::OrganizationKind],
        &[Dimension::IncubationStatus, Dimension::Gender],
        &[Dimension::CourseKind, Dimension::Month],
        &[Dimension::Sector, Dimension::Year],
        &[Dimension::ConsultationKind],
        &[Dimension::AgeBand],
        &[Dimension::EventKind],
        &[Dimension::ParticipantCategory, Dimension::Gender],
        &[Dimension::ResourceKind, Dimension::Topic],
        &[Dimension::SpaceKind, Dimension::Month],
    ];
    for split in splits {
        let got = w
            .figures(api::GetIndicatorsRequest {
                group_by: split.iter().map(|d| *d as i32).collect(),
                ..period()
            })
            .await;
        assert!(
            !got.indicators.is_empty(),
            "{split:?}: some indicator has it"
        );
        for figures in &got.indicators {
            let def = figures.definition.as_ref().unwrap();
            let distinct = def.measure == api::Measure::DistinctCount as i32;
            let money = def.unit == "money";
            let mut asked = split.to_vec();
            if money && !asked.contains(&Dimension::Currency) {
                asked.insert(0, Dimension::Currency);
            }
            let recs = activity
                .expected
                .get(def.code.as_str())
                .cloned()
                .unwrap_or_default();
            let (total, cells) = recount(&recs, distinct, &asked);
            if !money {
                assert_eq!(figures.total, total, "{} total, split {split:?}", def.code);
            }
            let got_cells: BTreeMap<Vec<String>, i64> = figures
                .cells
                .iter()
                .map(|c| {
                    let dims: Vec<i32> = c.key.iter().map(|k| k.dimension).collect();
                    assert_eq!(dims, asked.iter().map(|d| *d as i32).collect::<Vec<_>>());
                    (c.key.iter().map(|k| k.value.clone()).collect(), c.value)
                })
                .collect();
            if asked.is_empty() {
                assert!(got_cells.is_empty());
            } else {
                assert_eq!(got_cells, cells, "{} split {asked:?}", def.code);
            }
        }
    }
    // Filters: a branch, a gender, a topic.
    for filters in [
        api::Filters {
            branch_id: BRANCHES[1].into(),
            ..Default::default()
        },
        api::Filters {
            gender: Gender::Female as i32,
            topic_code: TOPICS[0].into(),
            ..Default::default()
        },
    ] {
        let got = w
            .figures(api::GetIndicatorsRequest {
                codes: vec!["trainees".into()],
                filters: Some(filters.clone()),
                ..period()
            })
            .await;
        let recs: Vec<Rec> = activity.expected["trainees"]
            .iter()
            .filter(|r| {
                filters.branch_id.is_empty() || r.dims[&Dimension::Branch] == filters.branch_id
            })
            .filter(|r| {
                filters.gender == 0
                    || r.dims[&Dimension::Gender]
                        == Gender::try_from(filters.gender).unwrap().as_str_name()
            })
            .filter(|r| filters.topic_code.is_empty() || r.topics.contains(&filters.topic_code))
            .cloned()
            .collect();
        assert_eq!(
            got.indicators[0].total,
            recount(&recs, true, &[]).0,
            "{filters:?}"
        );
    }
}

async fn every_figure_equals_its_recount(backend: Backend) {
    let mut w = world(backend).await;
    let activity = Activity::generate(42);
    for e in activity.envelopes(TENANT) {
        assert_eq!(w.deliver_envelope(&e).await, Applied::Applied);
    }
    assert_figures(&mut w, &activity).await;
    // Each producer's freshness is there.
    let got = w.figures(period()).await;
    let producers: Vec<&str> = got.freshness.iter().map(|f| f.producer.as_str()).collect();
    assert_eq!(
        producers,
        [
            "capacity",
            "grants",
            "membership",
            "networking",
            "resources"
        ]
    );
}

async fn out_of_order_and_twice_changes_nothing(backend: Backend) {
    let mut w = world(backend).await;
    let activity = Activity::generate(43);
    for e in activity.shuffled(9) {
        w.deliver_envelope(&e).await;
    }
    assert_figures(&mut w, &activity).await;
}

async fn an_erased_person_stays_counted(backend: Backend) {
    let mut w = world(backend).await;
    let activity = Activity::generate(44);
    for e in activity.envelopes(TENANT) {
        w.deliver_envelope(&e).await;
    }
    let before = w.figures(period()).await;
    let (id, gender, band) = &activity.trainee;
    let erased = envelope(
        "membership",
        TENANT,
        &erased_event(id, &new_id(), *gender, *band, BRANCHES[0]),
    );
    assert_eq!(w.deliver_envelope(&erased).await, Applied::Applied);
    let after = w.figures(period()).await;
    assert_eq!(before.indicators, after.indicators);
    assert_figures(&mut w, &activity).await;
}

async fn the_records_behind_a_figure_are_the_ones_it_counts(backend: Backend) {
    let mut w = world(backend).await;
    let activity = Activity::generate(45);
    for e in activity.envelopes(TENANT) {
        w.deliver_envelope(&e).await;
    }
    let mut seen = BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = w
            .client
            .explain_indicator(authed(
                api::ExplainIndicatorRequest {
                    code: "trainees".into(),
                    from: period().from,
                    until: period().until,
                    page_size: 4,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &w.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, activity.trainee_ids.len() as i64);
        assert!(page.records.len() <= 4);
        for r in &page.records {
            assert_eq!(r.kind, "person");
            assert_eq!(r.value, 1);
            assert!(seen.insert(r.id.clone()), "{} twice", r.id);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, activity.trainee_ids);
    // Money: each award with its amount and currency.
    let committed = w
        .client
        .explain_indicator(authed(
            api::ExplainIndicatorRequest {
                code: "grant_amount_committed".into(),
                from: period().from,
                until: period().until,
                page_size: 100,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut got: Vec<(String, i64, String)> = committed
        .records
        .iter()
        .map(|r| (r.id.clone(), r.value, r.currency_code.clone()))
        .collect();
    got.sort();
    let mut want: Vec<(String, i64, String)> = activity.expected["grant_amount_committed"]
        .iter()
        .filter(|r| r.on.as_str() >= "2025-01-01" && r.on.as_str() <= "2025-12-31")
        .map(|r| {
            (
                r.subject.clone(),
                r.amount,
                r.dims[&Dimension::Currency].clone(),
            )
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
}

async fn bad_requests_name_every_bad_field(backend: Backend) {
    let mut w = world(backend).await;
    let err = w
        .client
        .get_indicators(authed(
            api::GetIndicatorsRequest {
                codes: vec!["courses_held".into(), "no_such_figure".into()],
                from: Some(day("2025-06-01")),
                until: Some(day("2025-01-01")),
                group_by: vec![Dimension::Gender as i32, 77],
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        field_violations(&err),
        ["until", "group_by[1]", "codes[0]", "codes[1]"]
    );
    let err = w
        .client
        .explain_indicator(authed(api::ExplainIndicatorRequest::default(), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), ["from", "until", "code"]);
    // The catalogue names every figure, in both languages.
    let catalogue = w
        .client
        .list_indicator_definitions(authed(api::ListIndicatorDefinitionsRequest {}, &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(catalogue.definitions.len() >= 13);
    for d in &catalogue.definitions {
        let name = d.name.as_ref().unwrap();
        assert!(!name.ar.is_empty() && !name.en.is_empty(), "{}", d.code);
    }
}
