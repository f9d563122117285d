//! The figures counted in one world, every expected number by hand.

use super::*;
use crate::domain::commitments::Owner;
use CampaignStatus as K;
use CoalitionStatus as C;
use EventKind as E;
use EventStatus as S;
use OrganizationKind as O;
use ParticipantCategory as P;

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn event(id: &str, kind: EventKind, status: EventStatus, branch: &str, day: &str) -> EventRow {
    EventRow {
        id: id.into(),
        kind,
        status,
        branch_id: branch.into(),
        held_on: d(day),
    }
}

/// The organizations of the world: kind and governorate.
fn org(id: &str) -> (Option<String>, Option<OrganizationKind>, String) {
    let (kind, governorate) = match id {
        "cso1" => (O::Cso, "Raqqa"),
        "council" => (O::LocalAdministration, "Raqqa"),
        "dez-council" => (O::LocalAdministration, "Deir ez-Zor"),
        "ingo" => (O::Ingo, "Raqqa"),
        "cso2" => (O::Cso, "Deir ez-Zor"),
        other => panic!("{other}"),
    };
    (Some(id.into()), Some(kind), governorate.into())
}

fn person(
    event: &str,
    who: &str,
    organization: &str,
    category: ParticipantCategory,
    gender: Gender,
    invitation: &str,
    at: i64,
) -> ParticipantRow {
    let (organization_id, organization_kind, governorate) = if organization.is_empty() {
        (None, None, String::new())
    } else {
        org(organization)
    };
    ParticipantRow {
        event_id: event.into(),
        key: ParticipantKey::Person(who.into()),
        organization_id,
        organization_kind,
        governorate,
        invitation_id: (!invitation.is_empty()).then(|| invitation.into()),
        category,
        gender,
        count: 1,
        checked_in_at: at,
    }
}

fn walk_in(
    event: &str,
    key: &str,
    count: i32,
    c: ParticipantCategory,
    g: Gender,
) -> ParticipantRow {
    ParticipantRow {
        event_id: event.into(),
        key: ParticipantKey::WalkIn(key.into()),
        organization_id: None,
        organization_kind: None,
        governorate: String::new(),
        invitation_id: None,
        category: c,
        gender: g,
        count,
        checked_in_at: 0,
    }
}

fn invitation(id: &str, event: &str, status: InvitationStatus) -> InvitationRow {
    InvitationRow {
        id: id.into(),
        event_id: event.into(),
        status,
    }
}

fn member(coalition: &str, org: &str, periods: &[(&str, Option<&str>)]) -> MembershipRow {
    MembershipRow {
        coalition_id: coalition.into(),
        organization_id: org.into(),
        membership: Membership::from_periods(
            periods
                .iter()
                .map(|(j, l)| crate::domain::membership::Period {
                    joined_on: d(j),
                    left_on: l.map(d),
                })
                .collect(),
        )
        .unwrap(),
    }
}

fn campaign(
    id: &str,
    issue: &str,
    branch: &str,
    history: &[(&str, CampaignStatus)],
) -> CampaignRow {
    CampaignRow {
        id: id.into(),
        issue_code: issue.into(),
        branch_id: branch.into(),
        history: history.iter().map(|(day, s)| (d(day), *s)).collect(),
    }
}

fn commitment(
    id: &str,
    event: &str,
    branch: &str,
    made: &str,
    due: &str,
    status: CommitmentStatus,
    closed: Option<&str>,
) -> CommitmentRow {
    CommitmentRow {
        id: id.into(),
        event_id: event.into(),
        branch_id: branch.into(),
        owner: Owner::Organization("cso1".into()),
        made_on: d(made),
        due_date: d(due),
        status,
        closed_on: closed.map(d),
    }
}

/// The world the figures are counted in; every expected number below
/// is counted by hand from it.
fn world() -> ReportRows {
    use Gender::{Female as F, Male as M, Undisclosed as U};
    use InvitationStatus as I;
    let name = LocalizedText {
        ar: "تحالف".into(),
        en: String::new(),
    };
    ReportRows {
        events: vec![
            event(
                "e1",
                E::LocalAdministrationMeeting,
                S::Held,
                "raqqa",
                "2026-01-15",
            ),
            event("e2", E::DonorRoundTable, S::Held, "raqqa", "2026-02-10"),
            event("e3", E::Networking, S::Held, "deir-ez-zor", "2026-02-20"),
            event(
                "e4",
                E::AdvocacyWorkshop,
                S::Cancelled,
                "raqqa",
                "2026-02-25",
            ),
            event("e5", E::Networking, S::Planned, "raqqa", "2026-03-30"),
            event("e6", E::Networking, S::Held, "raqqa", "2025-12-01"),
        ],
        participants: vec![
            person(
                "e1",
                "nadia",
                "cso1",
                P::LocalOrganizationMember,
                F,
                "i-cso1",
                1,
            ),
            person(
                "e1",
                "omar",
                "council",
                P::LocalAdministration,
                M,
                "i-council",
                2,
            ),
            walk_in("e1", "w1", 3, P::Individual, F),
            ParticipantRow {
                key: ParticipantKey::Guest("i-g1".into()),
                ..person("e1", "", "", P::Donor, M, "i-g1", 3)
            },
            person(
                "e2",
                "nadia",
                "cso1",
                P::CivilSocietyLeader,
                F,
                "i2-nadia",
                10,
            ),
            person(
                "e2",
                "sara",
                "ingo",
                P::InternationalOrganization,
                F,
                "i2-ingo",
                11,
            ),
            person("e2", "omar", "council", P::LocalAdministration, M, "", 12),
            person("e3", "ali", "cso2", P::LocalOrganizationMember, M, "", 20),
            person(
                "e3",
                "huda",
                "dez-council",
                P::LocalAdministration,
                F,
                "",
                21,
            ),
            walk_in("e3", "w2", 2, P::LocalOrganizationMember, U),
            person("e5", "zaid", "", P::Individual, M, "", 30),
            person("e6", "khalid", "", P::Individual, M, "", 40),
        ],
        invitations: vec![
            invitation("i-cso1", "e1", I::Accepted),
            invitation("i-council", "e1", I::Accepted),
            invitation("i-g1", "e1", I::Accepted),
            invitation("i-ingo", "e1", I::Declined),
            invitation("i-x", "e1", I::Withdrawn),
            invitation("i2-ingo", "e2", I::Tentative),
            invitation("i2-nadia", "e2", I::AwaitingReply),
        ],
        coalitions: vec![
            CoalitionRow {
                id: "c1".into(),
                name: name.clone(),
                branch_id: "raqqa".into(),
                formed_on: d("2025-11-01"),
                history: vec![(d("2025-11-01"), C::Active), (d("2026-02-01"), C::Dormant)],
            },
            CoalitionRow {
                id: "c2".into(),
                name: name.clone(),
                branch_id: "deir-ez-zor".into(),
                formed_on: d("2026-01-10"),
                history: vec![
                    (d("2026-01-10"), C::Active),
                    (d("2026-03-15"), C::Dissolved),
                ],
            },
            CoalitionRow {
                id: "c3".into(),
                name,
                branch_id: "raqqa".into(),
                formed_on: d("2026-04-05"),
                history: vec![(d("2026-04-05"), C::Active)],
            },
        ],
        memberships: vec![
            member("c1", "cso1", &[("2025-11-01", None)]),
            member("c1", "council", &[("2025-11-01", Some("2026-01-20"))]),
            member("c1", "ingo", &[("2026-03-01", None)]),
            member("c2", "cso2", &[("2026-01-10", Some("2026-03-15"))]),
            member("c2", "dez-council", &[("2026-02-01", Some("2026-03-15"))]),
            member("c3", "cso1", &[("2026-04-05", None)]),
        ],
        campaigns: vec![
            campaign(
                "k1",
                "thalassemia",
                "raqqa",
                &[
                    ("2026-01-05", K::Planned),
                    ("2026-01-10", K::Active),
                    ("2026-03-20", K::Completed),
                ],
            ),
            campaign("k2", "thalassemia", "raqqa", &[("2026-02-01", K::Planned)]),
            campaign(
                "k3",
                "early-marriage",
                "deir-ez-zor",
                &[("2025-10-01", K::Planned), ("2025-10-15", K::Active)],
            ),
            campaign(
                "k4",
                "diabetes",
                "raqqa",
                &[("2026-03-01", K::Planned), ("2026-03-10", K::Cancelled)],
            ),
            campaign("k5", "diabetes", "raqqa", &[("2026-04-02", K::Planned)]),
        ],
        outcomes: vec![
            OutcomeRow {
                campaign_id: "k1".into(),
                achieved_on: d("2026-02-15"),
            },
            OutcomeRow {
                campaign_id: "k1".into(),
                achieved_on: d("2026-04-03"),
            },
            OutcomeRow {
                campaign_id: "k3".into(),
                achieved_on: d("2026-01-20"),
            },
            OutcomeRow {
                campaign_id: "k3".into(),
                achieved_on: d("2025-12-01"),
            },
            OutcomeRow {
                campaign_id: "k5".into(),
                achieved_on: d("2026-04-05"),
            },
        ],
        commitments: vec![
            commitment(
                "m1",
                "e1",
                "raqqa",
                "2026-01-15",
                "2026-02-01",
                CommitmentStatus::Done,
                Some("2026-01-30"),
            ),
            commitment(
                "m2",
                "e1",
                "raqqa",
                "2026-01-15",
                "2026-02-15",
                CommitmentStatus::Done,
                Some("2026-03-01"),
            ),
            commitment(
                "m3",
                "e2",
                "raqqa",
                "2026-02-10",
                "2026-03-01",
                CommitmentStatus::Open,
                None,
            ),
            commitment(
                "m4",
                "e2",
                "raqqa",
                "2026-02-10",
                "2026-04-30",
                CommitmentStatus::Open,
                None,
            ),
            commitment(
                "m5",
                "e3",
                "deir-ez-zor",
                "2026-02-20",
                "2026-03-10",
                CommitmentStatus::Dropped,
                Some("2026-03-05"),
            ),
            commitment(
                "m6",
                "e3",
                "deir-ez-zor",
                "2026-02-20",
                "2026-03-15",
                CommitmentStatus::Done,
                Some("2026-04-05"),
            ),
            commitment(
                "m7",
                "e6",
                "raqqa",
                "2025-12-01",
                "2025-12-15",
                CommitmentStatus::Open,
                None,
            ),
        ],
    }
}

fn q1() -> Period {
    Period {
        from: Some(d("2026-01-01")),
        until: Some(d("2026-03-31")),
    }
}

const TODAY: &str = "2026-04-10";

/// (female, male, undisclosed, total) of a category, or of all when
/// `None`.
fn counts(
    p: &Option<api::ParticipantCounts>,
    c: Option<ParticipantCategory>,
) -> (i32, i32, i32, i32) {
    let p = p.as_ref().unwrap();
    let g = match c {
        None => p.total,
        Some(c) => p
            .by_category
            .iter()
            .find(|x| x.category == c as i32)
            .and_then(|x| x.counts),
    }
    .unwrap_or_default();
    (g.female, g.male, g.undisclosed, g.total)
}

/// Invited, registered, declined, tentative, awaiting a reply, attended,
/// walk-ins and invitations honoured, in that order.
fn summary(a: Option<api::AttendanceSummary>) -> [i32; 8] {
    let a = a.unwrap();
    [
        a.invited,
        a.registered,
        a.declined,
        a.tentative,
        a.awaiting_reply,
        a.attended,
        a.walk_ins,
        a.invitations_honoured,
    ]
}

#[test]
fn tallies_count_by_gender_and_category_and_add_up() {
    let mut t = CategoryTally::default();
    t.add(P::Donor, Gender::Female, 2);
    t.add(P::Donor, Gender::Unspecified, 1);
    t.add(P::Individual, Gender::Male, 4);
    assert_eq!(t.get(P::Donor).undisclosed, 1, "never guessed");
    assert_eq!(t.total().total(), 7);
    let proto = t.to_proto();
    assert_eq!(
        proto
            .by_category
            .iter()
            .map(|c| c.category)
            .collect::<Vec<_>>(),
        [P::Donor as i32, P::Individual as i32],
        "in the enum's order"
    );
    let mut u = CategoryTally::default();
    u.add(P::Donor, Gender::Male, 1);
    u.merge(&t);
    assert_eq!(
        u.get(P::Donor),
        GenderTally {
            female: 2,
            male: 1,
            undisclosed: 1
        }
    );
    let big = GenderTally {
        female: i64::MAX / 2,
        ..Default::default()
    };
    assert_eq!(big.to_proto().female, i32::MAX, "clamped, never wrapped");
}

#[test]
fn an_event_reports_invited_registered_and_attended_apart() {
    let w = world();
    let report = |i: usize, carried_in: usize, decisions: usize| {
        event_report(
            &w.events[i],
            &w.invitations,
            &w.participants,
            &w.commitments,
            carried_in,
            decisions,
            d(TODAY),
        )
    };
    let r = report(0, 1, 2);
    // The withdrawn invitation is not counted.
    assert_eq!(summary(r.attendance), [4, 3, 1, 0, 0, 6, 3, 3]);
    assert_eq!(counts(&r.participants, None), (4, 2, 0, 6));
    assert_eq!(counts(&r.participants, Some(P::Individual)), (3, 0, 0, 3));
    assert_eq!(counts(&r.participants, Some(P::Donor)), (0, 1, 0, 1));
    assert_eq!(counts(&r.walk_ins, None), (3, 0, 0, 3));
    assert_eq!(
        (
            r.organizations_present,
            r.local_administration_bodies_present
        ),
        (2, 1)
    );
    let c = r.commitments.unwrap();
    assert_eq!(
        (c.made, c.fulfilled, c.fulfilled_on_time, c.open),
        (2, 2, 1, 0)
    );
    assert_eq!((r.decisions, r.commitments_carried_in), (2, 1));

    // Sara came by i2-ingo, Nadia by her own i2-nadia.
    assert_eq!(
        summary(report(1, 0, 0).attendance),
        [2, 0, 0, 1, 1, 3, 0, 2]
    );
}

#[test]
fn a_period_counts_each_known_person_once_and_every_walk_in() {
    let r = networking_report(&world(), q1(), None, d(TODAY));
    assert_eq!(r.as_of, Some(d("2026-03-31").to_proto()));
    assert_eq!((r.events_held, r.events_cancelled), (3, 1));
    assert_eq!(
        r.events_held_by_kind
            .iter()
            .map(|k| (k.kind, k.count))
            .collect::<Vec<_>>(),
        [
            (E::Networking as i32, 1),
            (E::LocalAdministrationMeeting as i32, 1),
            (E::DonorRoundTable as i32, 1)
        ]
    );
    // nadia, omar, sara, ali, huda — nadia in her latest category.
    assert_eq!(counts(&r.distinct_people, None), (3, 2, 0, 5));
    assert_eq!(
        counts(&r.distinct_people, Some(P::CivilSocietyLeader)),
        (1, 0, 0, 1)
    );
    assert_eq!(
        counts(&r.distinct_people, Some(P::LocalOrganizationMember)),
        (0, 1, 0, 1)
    );
    assert_eq!(
        counts(&r.distinct_people, Some(P::LocalAdministration)),
        (1, 1, 0, 2)
    );
    // Plus 3 + 2 walk-ins and one guest.
    assert_eq!(counts(&r.participants, None), (6, 3, 2, 11));
    assert_eq!(
        counts(&r.participants, Some(P::LocalOrganizationMember)),
        (0, 1, 2, 3)
    );
    // Every check-in: 6 + 3 + 4.
    assert_eq!(counts(&r.attendances, None).3, 13);
    assert_eq!(summary(r.attendance), [6, 3, 1, 1, 1, 13, 5, 5]);
    let branches: Vec<_> = r
        .by_branch
        .iter()
        .map(|b| {
            (
                b.branch_id.as_str(),
                b.events_held,
                counts(&b.participants, None).3,
            )
        })
        .collect();
    assert_eq!(branches, [("deir-ez-zor", 1, 4), ("raqqa", 2, 7)]);
}

#[test]
fn meetings_with_local_administration_are_counted_per_governorate() {
    let r = networking_report(&world(), q1(), None, d(TODAY));
    let g: Vec<_> = r
        .local_administration_meetings
        .iter()
        .map(|g| {
            (
                g.governorate.as_str(),
                g.meetings,
                g.bodies_met,
                g.organizations_met,
            )
        })
        .collect();
    assert_eq!(g, [("Deir ez-Zor", 1, 1, 1), ("Raqqa", 2, 1, 2)]);
}

#[test]
fn coalitions_are_counted_on_the_reports_day() {
    let r = networking_report(&world(), q1(), None, d(TODAY));
    let c = r.coalitions.unwrap();
    assert_eq!((c.existing, c.active, c.formed, c.dissolved), (1, 0, 1, 1));
    assert_eq!(
        (c.memberships, c.member_organizations, c.joined, c.left),
        (2, 2, 3, 3)
    );
    let rows: Vec<_> = c
        .by_coalition
        .iter()
        .map(|x| {
            (
                x.coalition_id.as_str(),
                x.status,
                x.members,
                x.joined,
                x.left,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("c1", C::Dormant as i32, 2, 1, 1),
            ("c2", C::Dissolved as i32, 0, 2, 2)
        ],
        "c3 was formed after the report's day"
    );
}

#[test]
fn campaigns_are_counted_by_issue_and_status_on_the_reports_day() {
    let r = networking_report(&world(), q1(), None, d(TODAY));
    let k = r.campaigns.unwrap();
    let rows: Vec<_> = k
        .by_issue_and_status
        .iter()
        .map(|x| (x.issue_code.as_str(), x.status, x.campaigns))
        .collect();
    assert_eq!(
        rows,
        [
            ("diabetes", K::Cancelled as i32, 1),
            ("early-marriage", K::Active as i32, 1),
            ("thalassemia", K::Planned as i32, 1),
            ("thalassemia", K::Completed as i32, 1),
        ]
    );
    assert_eq!((k.launched, k.completed, k.outcomes), (1, 1, 2));
}

#[test]
fn commitments_made_in_the_period_are_followed_to_the_reports_day() {
    let r = networking_report(&world(), q1(), None, d(TODAY));
    let c = r.commitments.unwrap();
    assert_eq!(
        (
            c.made,
            c.fulfilled,
            c.fulfilled_on_time,
            c.dropped,
            c.open,
            c.overdue
        ),
        (6, 2, 1, 1, 3, 2),
        "m6 was done after the report's day: open and overdue then"
    );
    // Today, m6 is done: the same commitments, a later day.
    let now = commitment_figures(&world().commitments, q1(), d(TODAY));
    assert_eq!((now.fulfilled, now.open, now.overdue), (3, 2, 1));
}

#[test]
fn one_branch_counts_only_its_own() {
    let r = networking_report(&world(), q1(), Some("raqqa"), d(TODAY));
    assert_eq!(r.branch_id, "raqqa");
    assert_eq!((r.events_held, r.events_cancelled), (2, 1));
    assert_eq!(counts(&r.distinct_people, None), (2, 1, 0, 3));
    assert_eq!(counts(&r.participants, None).3, 7);
    assert_eq!(r.local_administration_meetings.len(), 1);
    let c = r.coalitions.unwrap();
    assert_eq!(
        (c.existing, c.formed, c.memberships, c.joined, c.left),
        (1, 0, 2, 1, 1)
    );
    let k = r.campaigns.unwrap();
    assert_eq!((k.launched, k.completed, k.outcomes), (1, 1, 1));
    let m = r.commitments.unwrap();
    assert_eq!(
        (
            m.made,
            m.fulfilled,
            m.fulfilled_on_time,
            m.dropped,
            m.open,
            m.overdue
        ),
        (4, 2, 1, 0, 2, 1)
    );
}

#[test]
fn an_open_period_counts_everything_until_today() {
    let r = networking_report(&world(), Period::default(), None, d(TODAY));
    assert_eq!(r.as_of, Some(d(TODAY).to_proto()));
    assert_eq!(r.events_held, 4);
    // khalid of December too; zaid's planned event never counts.
    assert_eq!(counts(&r.distinct_people, None).3, 6);
    let c = r.coalitions.unwrap();
    assert_eq!((c.existing, c.active, c.formed), (2, 1, 3));
    assert_eq!(r.campaigns.unwrap().outcomes, 5);
}

#[test]
fn presences_are_one_per_organization_and_held_event() {
    let w = world();
    let events: Vec<&EventRow> = w.events.iter().collect();
    let p = presences(&events, &w.participants);
    let pairs: Vec<_> = p
        .iter()
        .map(|x| (x.event_id.as_str(), x.organization_id.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("e1", "cso1"),
            ("e1", "council"),
            ("e2", "cso1"),
            ("e2", "ingo"),
            ("e2", "council"),
            ("e3", "cso2"),
            ("e3", "dez-council"),
        ]
    );
}
