//! Every figure of the reports, computed from plain rows the store reads:
//! participants by category and gender (distinct people, guests and
//! walk-ins), invited / registered / attended, meetings with local
//! administration per governorate, coalitions and their members, campaigns
//! by issue and status, commitments made, fulfilled and overdue.
//!
//! The rules that make a figure what it says:
//! * only **held** events count attendance; an event counts on its local
//!   day, in the branch that ran it;
//! * a known person counts **once** per report, in the category (and with
//!   the gender) of their latest attendance in it; guests and walk-ins have
//!   no record to tell two visits apart, so they count at every event;
//! * statuses (coalitions, campaigns, commitments) are taken on the report's
//!   day, `as_of`, from their history, so a report of a past period does not
//!   change when things move on.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use markaz_kit::time::Date;
use markaz_proto::common::v1::{Gender, LocalizedText, OrganizationKind};
use markaz_proto::networking::v1 as api;

use super::Period;
use super::attendance::{ParticipantCategory, ParticipantKey};
use super::campaigns::CampaignStatus;
use super::coalitions::CoalitionStatus;
use super::commitments::{CommitmentRow, CommitmentStatus};
use super::events::{EventKind, EventStatus};
use super::invitations::{InvitationStatus, counts_as_invited};
use super::membership::Membership;
use super::stakeholders::Presence;

pub(crate) fn clamp(n: i64) -> i32 {
    n.clamp(0, i64::from(i32::MAX)) as i32
}

/// People counted by declared gender; an unknown gender counts as not
/// disclosed (it is never guessed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenderTally {
    pub female: i64,
    pub male: i64,
    pub undisclosed: i64,
}

impl GenderTally {
    pub fn add(&mut self, gender: Gender, n: i64) {
        match gender {
            Gender::Female => self.female += n,
            Gender::Male => self.male += n,
            Gender::Undisclosed | Gender::Unspecified => self.undisclosed += n,
        }
    }

    pub fn total(&self) -> i64 {
        self.female + self.male + self.undisclosed
    }

    pub fn to_proto(self) -> api::GenderCounts {
        api::GenderCounts {
            female: clamp(self.female),
            male: clamp(self.male),
            undisclosed: clamp(self.undisclosed),
            total: clamp(self.total()),
        }
    }
}

/// People counted by category and gender.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryTally(BTreeMap<ParticipantCategory, GenderTally>);

impl CategoryTally {
    pub fn add(&mut self, category: ParticipantCategory, gender: Gender, n: i64) {
        self.0.entry(category).or_default().add(gender, n);
    }

    pub fn merge(&mut self, other: &CategoryTally) {
        for (c, t) in &other.0 {
            let mine = self.0.entry(*c).or_default();
            mine.female += t.female;
            mine.male += t.male;
            mine.undisclosed += t.undisclosed;
        }
    }

    pub fn get(&self, category: ParticipantCategory) -> GenderTally {
        self.0.get(&category).copied().unwrap_or_default()
    }

    pub fn total(&self) -> GenderTally {
        let mut t = GenderTally::default();
        for c in self.0.values() {
            t.female += c.female;
            t.male += c.male;
            t.undisclosed += c.undisclosed;
        }
        t
    }

    /// One row per category present, in the enum's order, and the total.
    pub fn to_proto(&self) -> api::ParticipantCounts {
        api::ParticipantCounts {
            by_category: self
                .0
                .iter()
                .map(|(c, t)| api::CategoryCounts {
                    category: *c as i32,
                    counts: Some(t.to_proto()),
                })
                .collect(),
            total: Some(self.total().to_proto()),
        }
    }
}

// ================================================================== rows

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub kind: EventKind,
    pub status: EventStatus,
    pub branch_id: String,
    /// The local day it is (or was to be) held on.
    pub held_on: Date,
}

/// A participant of an event, with the organization they came for as the
/// service's copy describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRow {
    pub event_id: String,
    pub key: ParticipantKey,
    pub organization_id: Option<String>,
    pub organization_kind: Option<OrganizationKind>,
    pub governorate: String,
    pub invitation_id: Option<String>,
    pub category: ParticipantCategory,
    pub gender: Gender,
    pub count: i32,
    /// Orders two attendances of a person on one day.
    pub checked_in_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    pub id: String,
    pub event_id: String,
    pub status: InvitationStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalitionRow {
    pub id: String,
    pub name: LocalizedText,
    pub branch_id: String,
    pub formed_on: Date,
    /// `(day, status)` oldest first; the first is `(formed_on, ACTIVE)`.
    pub history: Vec<(Date, CoalitionStatus)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    pub coalition_id: String,
    pub organization_id: String,
    pub membership: Membership,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRow {
    pub id: String,
    pub issue_code: String,
    pub branch_id: String,
    /// `(day, status)` oldest first; the first is `(created, PLANNED)`.
    pub history: Vec<(Date, CampaignStatus)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub campaign_id: String,
    pub achieved_on: Date,
}

// ============================================================== per event

/// Invited, registered and attended for one event's rows.
pub fn attendance_summary(
    invitations: &[&InvitationRow],
    participants: &[&ParticipantRow],
) -> api::AttendanceSummary {
    let count = |s: InvitationStatus| invitations.iter().filter(|i| i.status == s).count() as i64;
    let invited: HashSet<&str> = invitations
        .iter()
        .filter(|i| counts_as_invited(i.status))
        .map(|i| i.id.as_str())
        .collect();
    let honoured: HashSet<&str> = participants
        .iter()
        .filter_map(|p| p.invitation_id.as_deref())
        .filter(|id| invited.contains(id))
        .collect();
    let walk_ins: i64 = participants
        .iter()
        .filter(|p| matches!(p.key, ParticipantKey::WalkIn(_)))
        .map(|p| i64::from(p.count))
        .sum();
    api::AttendanceSummary {
        invited: clamp(invited.len() as i64),
        registered: clamp(count(InvitationStatus::Accepted)),
        declined: clamp(count(InvitationStatus::Declined)),
        tentative: clamp(count(InvitationStatus::Tentative)),
        awaiting_reply: clamp(count(InvitationStatus::AwaitingReply)),
        attended: clamp(participants.iter().map(|p| i64::from(p.count)).sum()),
        walk_ins: clamp(walk_ins),
        invitations_honoured: clamp(honoured.len() as i64),
    }
}

pub(crate) fn add_summary(onto: &mut api::AttendanceSummary, s: &api::AttendanceSummary) {
    let add = |a: &mut i32, b: i32| *a = a.saturating_add(b);
    add(&mut onto.invited, s.invited);
    add(&mut onto.registered, s.registered);
    add(&mut onto.declined, s.declined);
    add(&mut onto.tentative, s.tentative);
    add(&mut onto.awaiting_reply, s.awaiting_reply);
    add(&mut onto.attended, s.attended);
    add(&mut onto.walk_ins, s.walk_ins);
    add(&mut onto.invitations_honoured, s.invitations_honoured);
}

/// Everyone checked in, by category and gender (a walk-in entry counts its
/// people).
pub fn participant_counts<'a>(rows: impl IntoIterator<Item = &'a ParticipantRow>) -> CategoryTally {
    let mut t = CategoryTally::default();
    for r in rows {
        t.add(r.category, r.gender, i64::from(r.count));
    }
    t
}

/// The organizations somebody came for at each held event, once per event.
pub fn presences(events: &[&EventRow], participants: &[ParticipantRow]) -> Vec<Presence> {
    let held: HashMap<&str, &&EventRow> = events
        .iter()
        .filter(|e| e.status == EventStatus::Held)
        .map(|e| (e.id.as_str(), e))
        .collect();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut out = Vec::new();
    for p in participants {
        let (Some(event), Some(org), Some(kind)) = (
            held.get(p.event_id.as_str()),
            p.organization_id.as_deref(),
            p.organization_kind,
        ) else {
            continue;
        };
        if seen.insert((p.event_id.as_str(), org)) {
            out.push(Presence {
                event_id: p.event_id.clone(),
                event_kind: event.kind,
                held_on: event.held_on,
                organization_id: org.to_string(),
                organization_kind: kind,
                governorate: p.governorate.clone(),
            });
        }
    }
    out
}

/// Commitments made in `period`, and what became of them by `as_of`.
pub fn commitment_figures<'a>(
    rows: impl IntoIterator<Item = &'a CommitmentRow>,
    period: Period,
    as_of: Date,
) -> api::CommitmentFigures {
    let mut f = api::CommitmentFigures::default();
    for r in rows.into_iter().filter(|r| period.contains(r.made_on)) {
        f.made += 1;
        match r.status_on(as_of) {
            Some(CommitmentStatus::Done) => {
                f.fulfilled += 1;
                if r.on_time() {
                    f.fulfilled_on_time += 1;
                }
            }
            Some(CommitmentStatus::Dropped) => f.dropped += 1,
            Some(CommitmentStatus::Open) => {
                f.open += 1;
                if r.overdue_on(as_of) {
                    f.overdue += 1;
                }
            }
            _ => {}
        }
    }
    f
}

/// The report of one event, as of `today`.
pub fn event_report(
    event: &EventRow,
    invitations: &[InvitationRow],
    participants: &[ParticipantRow],
    commitments: &[CommitmentRow],
    carried_in: usize,
    decisions: usize,
    today: Date,
) -> api::EventReport {
    let invitations: Vec<&InvitationRow> = invitations
        .iter()
        .filter(|i| i.event_id == event.id)
        .collect();
    let participants: Vec<&ParticipantRow> = participants
        .iter()
        .filter(|p| p.event_id == event.id)
        .collect();
    let walk_ins = participant_counts(
        participants
            .iter()
            .copied()
            .filter(|p| matches!(p.key, ParticipantKey::WalkIn(_))),
    );
    let organizations: BTreeSet<&str> = participants
        .iter()
        .filter_map(|p| p.organization_id.as_deref())
        .collect();
    let bodies: BTreeSet<&str> = participants
        .iter()
        .filter(|p| p.organization_kind == Some(OrganizationKind::LocalAdministration))
        .filter_map(|p| p.organization_id.as_deref())
        .collect();
    api::EventReport {
        event_id: event.id.clone(),
        kind: event.kind as i32,
        status: event.status as i32,
        branch_id: event.branch_id.clone(),
        held_on: Some(event.held_on.to_proto()),
        attendance: Some(attendance_summary(&invitations, &participants)),
        participants: Some(participant_counts(participants.iter().copied()).to_proto()),
        walk_ins: Some(walk_ins.to_proto()),
        organizations_present: clamp(organizations.len() as i64),
        local_administration_bodies_present: clamp(bodies.len() as i64),
        decisions: clamp(decisions as i64),
        commitments: Some(commitment_figures(
            commitments.iter().filter(|c| c.event_id == event.id),
            Period::default(),
            today,
        )),
        commitments_carried_in: clamp(carried_in as i64),
        as_of: Some(today.to_proto()),
    }
}

mod period;

pub use period::{
    AttendanceFigures, ReportRows, attendance_figures, networking_report, report_with,
};

#[cfg(test)]
mod tests;
