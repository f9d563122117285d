//! The report of a period: every figure of the events held in it (and of
//! the coalitions, campaigns and commitments), on the report's day.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use markaz_kit::time::Date;
use markaz_proto::common::v1::OrganizationKind;
use markaz_proto::networking::v1 as api;

use super::{
    CampaignRow, CategoryTally, CoalitionRow, EventRow, InvitationRow, MembershipRow, OutcomeRow,
    ParticipantRow, add_summary, attendance_summary, clamp, commitment_figures, participant_counts,
    presences,
};
use crate::domain::Period;
use crate::domain::attendance::ParticipantKey;
use crate::domain::campaigns::CampaignStatus;
use crate::domain::coalitions::CoalitionStatus;
use crate::domain::commitments::CommitmentRow;
use crate::domain::events::{EventKind, EventStatus};
use crate::domain::lifecycle::status_on;
use crate::domain::stakeholders::Presence;

/// Everything a period's report is computed from.
#[derive(Debug, Clone, Default)]
pub struct ReportRows {
    pub events: Vec<EventRow>,
    pub participants: Vec<ParticipantRow>,
    pub invitations: Vec<InvitationRow>,
    pub coalitions: Vec<CoalitionRow>,
    pub memberships: Vec<MembershipRow>,
    pub campaigns: Vec<CampaignRow>,
    pub outcomes: Vec<OutcomeRow>,
    pub commitments: Vec<CommitmentRow>,
}

/// Participants of held events: known people once each (their latest
/// attendance decides category and gender), guests and walk-ins at every
/// event. Returns (participants, distinct people).
fn people_once(
    rows: &[&ParticipantRow],
    day_of: &HashMap<&str, Date>,
) -> (CategoryTally, CategoryTally) {
    let mut latest: HashMap<&str, &ParticipantRow> = HashMap::new();
    let mut others = CategoryTally::default();
    for r in rows {
        match &r.key {
            ParticipantKey::Person(id) => {
                let when = |p: &ParticipantRow| {
                    (day_of.get(p.event_id.as_str()).copied(), p.checked_in_at)
                };
                let entry = latest.entry(id.as_str()).or_insert(r);
                if when(r) > when(entry) {
                    *entry = r;
                }
            }
            _ => others.add(r.category, r.gender, i64::from(r.count)),
        }
    }
    let distinct = participant_counts(latest.values().copied());
    let mut all = distinct.clone();
    all.merge(&others);
    (all, distinct)
}

fn local_administration_meetings(presences: &[Presence]) -> Vec<api::GovernorateMeetings> {
    #[derive(Default)]
    struct Tally<'a> {
        events: BTreeSet<&'a str>,
        bodies: BTreeSet<&'a str>,
    }
    let mut by_event: HashMap<&str, Vec<&Presence>> = HashMap::new();
    for p in presences {
        by_event.entry(p.event_id.as_str()).or_default().push(p);
    }
    let mut by_governorate: BTreeMap<&str, (Tally, BTreeSet<&str>)> = BTreeMap::new();
    for p in presences
        .iter()
        .filter(|p| p.organization_kind == OrganizationKind::LocalAdministration)
    {
        let (tally, organizations) = by_governorate.entry(p.governorate.as_str()).or_default();
        tally.events.insert(p.event_id.as_str());
        tally.bodies.insert(p.organization_id.as_str());
        for other in &by_event[p.event_id.as_str()] {
            if other.organization_kind != OrganizationKind::LocalAdministration {
                organizations.insert(other.organization_id.as_str());
            }
        }
    }
    by_governorate
        .into_iter()
        .map(|(g, (t, orgs))| api::GovernorateMeetings {
            governorate: g.to_string(),
            meetings: clamp(t.events.len() as i64),
            bodies_met: clamp(t.bodies.len() as i64),
            organizations_met: clamp(orgs.len() as i64),
        })
        .collect()
}

fn coalition_figures(
    rows: &ReportRows,
    branch: Option<&str>,
    period: Period,
    as_of: Date,
) -> api::CoalitionFigures {
    let mut f = api::CoalitionFigures::default();
    let mut member_organizations: BTreeSet<&str> = BTreeSet::new();
    for c in rows
        .coalitions
        .iter()
        .filter(|c| branch.is_none_or(|b| c.branch_id == b))
    {
        let Some(status) = status_on(&c.history, as_of) else {
            continue;
        };
        if period.contains(c.formed_on) {
            f.formed += 1;
        }
        if c.history.iter().any(|(day, s)| {
            *s == CoalitionStatus::Dissolved && period.contains(*day) && *day <= as_of
        }) {
            f.dissolved += 1;
        }
        match status {
            CoalitionStatus::Active => {
                f.existing += 1;
                f.active += 1;
            }
            CoalitionStatus::Dormant => f.existing += 1,
            _ => {}
        }
        let within = |day: Date| period.contains(day) && day <= as_of;
        let mut row = api::CoalitionRow {
            coalition_id: c.id.clone(),
            name: Some(c.name.clone()),
            status: status as i32,
            ..Default::default()
        };
        for m in rows.memberships.iter().filter(|m| m.coalition_id == c.id) {
            if m.membership.active_on(as_of) {
                row.members += 1;
                member_organizations.insert(m.organization_id.as_str());
            }
            row.joined += clamp(m.membership.joins(within) as i64);
            row.left += clamp(m.membership.departures(within) as i64);
        }
        f.memberships += row.members;
        f.joined += row.joined;
        f.left += row.left;
        f.by_coalition.push(row);
    }
    f.member_organizations = clamp(member_organizations.len() as i64);
    f
}

fn campaign_figures(
    rows: &ReportRows,
    branch: Option<&str>,
    period: Period,
    as_of: Date,
) -> api::CampaignFigures {
    let mut f = api::CampaignFigures::default();
    let mut by: BTreeMap<(&str, CampaignStatus), i32> = BTreeMap::new();
    let mut in_scope: HashSet<&str> = HashSet::new();
    for c in rows
        .campaigns
        .iter()
        .filter(|c| branch.is_none_or(|b| c.branch_id == b))
    {
        let Some(status) = status_on(&c.history, as_of) else {
            continue;
        };
        in_scope.insert(c.id.as_str());
        *by.entry((c.issue_code.as_str(), status)).or_default() += 1;
        let moved_to = |to: CampaignStatus| {
            c.history
                .iter()
                .any(|(day, s)| *s == to && period.contains(*day) && *day <= as_of)
        };
        if moved_to(CampaignStatus::Active) {
            f.launched += 1;
        }
        if moved_to(CampaignStatus::Completed) {
            f.completed += 1;
        }
    }
    f.by_issue_and_status = by
        .into_iter()
        .map(|((issue, status), n)| api::CampaignCount {
            issue_code: issue.to_string(),
            status: status as i32,
            campaigns: n,
        })
        .collect();
    f.outcomes = clamp(
        rows.outcomes
            .iter()
            .filter(|o| in_scope.contains(o.campaign_id.as_str()))
            .filter(|o| period.contains(o.achieved_on) && o.achieved_on <= as_of)
            .count() as i64,
    );
    f
}

/// What attendance adds to a period's report, over the held events in its
/// scope (period and branch). The store counts it in SQL;
/// `attendance_figures` counts it from rows, the rules written out once in
/// Rust that the SQL must agree with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttendanceFigures {
    /// Summed over the events held.
    pub summary: api::AttendanceSummary,
    /// Known people once (their latest attendance), guests and walk-ins at
    /// every event.
    pub participants: CategoryTally,
    /// Of whom known people, once each.
    pub distinct: CategoryTally,
    /// Every check-in.
    pub attendances: CategoryTally,
    /// `participants` within each branch.
    pub by_branch: BTreeMap<String, CategoryTally>,
    /// One per organization present and held event.
    pub presences: Vec<Presence>,
}

/// The held events of `events` in the scope of a report.
fn held_in_scope<'a>(
    events: &'a [EventRow],
    period: Period,
    branch: Option<&str>,
) -> Vec<&'a EventRow> {
    events
        .iter()
        .filter(|e| period.contains(e.held_on) && branch.is_none_or(|b| e.branch_id == b))
        .filter(|e| e.status == EventStatus::Held)
        .collect()
}

/// `AttendanceFigures` counted from rows.
pub fn attendance_figures(
    events: &[EventRow],
    all_participants: &[ParticipantRow],
    invitations: &[InvitationRow],
    period: Period,
    branch: Option<&str>,
) -> AttendanceFigures {
    let held = held_in_scope(events, period, branch);
    let day_of: HashMap<&str, Date> = held.iter().map(|e| (e.id.as_str(), e.held_on)).collect();
    let branch_of: HashMap<&str, &str> = held
        .iter()
        .map(|e| (e.id.as_str(), e.branch_id.as_str()))
        .collect();
    let participants: Vec<&ParticipantRow> = all_participants
        .iter()
        .filter(|p| day_of.contains_key(p.event_id.as_str()))
        .collect();
    let mut summary = api::AttendanceSummary::default();
    for e in &held {
        let inv: Vec<&InvitationRow> = invitations.iter().filter(|i| i.event_id == e.id).collect();
        let par: Vec<&ParticipantRow> = participants
            .iter()
            .copied()
            .filter(|p| p.event_id == e.id)
            .collect();
        add_summary(&mut summary, &attendance_summary(&inv, &par));
    }
    let (everyone, distinct) = people_once(&participants, &day_of);
    let branches: BTreeSet<&str> = held.iter().map(|e| e.branch_id.as_str()).collect();
    let by_branch = branches
        .into_iter()
        .map(|b| {
            let here: Vec<&ParticipantRow> = participants
                .iter()
                .copied()
                .filter(|p| branch_of.get(p.event_id.as_str()) == Some(&b))
                .collect();
            (b.to_string(), people_once(&here, &day_of).0)
        })
        .collect();
    let presences = presences(&held, all_participants);
    AttendanceFigures {
        summary,
        participants: everyone,
        distinct,
        attendances: participant_counts(participants.iter().copied()),
        by_branch,
        presences,
    }
}

/// The report of a period (and a branch, or every branch) on `today`,
/// attendance counted from `rows` too.
pub fn networking_report(
    rows: &ReportRows,
    period: Period,
    branch: Option<&str>,
    today: Date,
) -> api::NetworkingReport {
    let a = attendance_figures(
        &rows.events,
        &rows.participants,
        &rows.invitations,
        period,
        branch,
    );
    report_with(rows, &a, period, branch, today)
}

/// The report of a period from its attendance figures counted already
/// (`rows.participants` and `rows.invitations` are not read).
pub fn report_with(
    rows: &ReportRows,
    attendance: &AttendanceFigures,
    period: Period,
    branch: Option<&str>,
    today: Date,
) -> api::NetworkingReport {
    let as_of = period.as_of(today);
    let in_scope =
        |e: &&EventRow| period.contains(e.held_on) && branch.is_none_or(|b| e.branch_id == b);
    let held = held_in_scope(&rows.events, period, branch);
    let mut by_kind: BTreeMap<EventKind, i32> = BTreeMap::new();
    let mut events_by_branch: BTreeMap<&str, i64> = BTreeMap::new();
    for e in &held {
        *by_kind.entry(e.kind).or_default() += 1;
        *events_by_branch.entry(e.branch_id.as_str()).or_default() += 1;
    }
    let by_branch = events_by_branch
        .into_iter()
        .map(|(b, n)| api::BranchFigures {
            branch_id: b.to_string(),
            events_held: clamp(n),
            participants: Some(
                attendance
                    .by_branch
                    .get(b)
                    .cloned()
                    .unwrap_or_default()
                    .to_proto(),
            ),
        })
        .collect();
    let commitments = commitment_figures(
        rows.commitments
            .iter()
            .filter(|c| branch.is_none_or(|b| c.branch_id == b)),
        period,
        as_of,
    );
    api::NetworkingReport {
        from: period.from.map(Date::to_proto),
        until: period.until.map(Date::to_proto),
        branch_id: branch.unwrap_or_default().to_string(),
        as_of: Some(as_of.to_proto()),
        events_held: clamp(held.len() as i64),
        events_held_by_kind: by_kind
            .into_iter()
            .map(|(k, n)| api::EventKindCount {
                kind: k as i32,
                count: n,
            })
            .collect(),
        events_cancelled: clamp(
            rows.events
                .iter()
                .filter(in_scope)
                .filter(|e| e.status == EventStatus::Cancelled)
                .count() as i64,
        ),
        attendance: Some(attendance.summary),
        participants: Some(attendance.participants.to_proto()),
        distinct_people: Some(attendance.distinct.to_proto()),
        attendances: Some(attendance.attendances.to_proto()),
        by_branch,
        local_administration_meetings: local_administration_meetings(&attendance.presences),
        coalitions: Some(coalition_figures(rows, branch, period, as_of)),
        campaigns: Some(campaign_figures(rows, branch, period, as_of)),
        commitments: Some(commitments),
    }
}
