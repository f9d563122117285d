//! The stakeholder map: for an organization, the organizations and
//! local-administration bodies it has met — both present at the same held
//! event — how often, when first and last; for a local-administration body,
//! the organizations it meets. Computed from attendance, never typed.

use std::collections::{BTreeMap, BTreeSet};

use markaz_kit::time::Date;
use markaz_proto::common::v1::OrganizationKind;

use super::Period;
use super::events::EventKind;

/// An organization present at a held event: somebody checked in for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub event_id: String,
    pub event_kind: EventKind,
    pub held_on: Date,
    pub organization_id: String,
    pub organization_kind: OrganizationKind,
    pub governorate: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stakeholder {
    pub organization_id: String,
    pub organization_kind: OrganizationKind,
    pub governorate: String,
    /// Held events both were present at.
    pub meetings: i32,
    pub first_met_on: Date,
    pub last_met_on: Date,
    /// Meetings by kind of event, in the enum's order.
    pub by_kind: Vec<(EventKind, i32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StakeholderMap {
    /// Held events the organization was present at.
    pub events_attended: i32,
    /// Most meetings first, then the most recently met, then by id.
    pub stakeholders: Vec<Stakeholder>,
}

/// The map of `focal` from the presences of held events, within `period`,
/// of counterparts of `kinds` (every kind when empty).
pub fn stakeholder_map(
    focal: &str,
    presences: &[Presence],
    period: Period,
    kinds: &[OrganizationKind],
) -> StakeholderMap {
    let in_period = |p: &&Presence| period.contains(p.held_on);
    let attended: BTreeSet<&str> = presences
        .iter()
        .filter(in_period)
        .filter(|p| p.organization_id == focal)
        .map(|p| p.event_id.as_str())
        .collect();
    // One entry per (counterpart, event): a counterpart present twice at
    // one event (two of its people) met the focal organization once there.
    let mut met: BTreeMap<&str, BTreeMap<&str, &Presence>> = BTreeMap::new();
    for p in presences.iter().filter(in_period) {
        if p.organization_id != focal
            && attended.contains(p.event_id.as_str())
            && (kinds.is_empty() || kinds.contains(&p.organization_kind))
        {
            met.entry(p.organization_id.as_str())
                .or_default()
                .insert(p.event_id.as_str(), p);
        }
    }
    let mut stakeholders: Vec<Stakeholder> = met
        .into_iter()
        .filter_map(|(id, events)| {
            let first = events.values().map(|p| p.held_on).min()?;
            let last = events.values().map(|p| p.held_on).max()?;
            // The counterpart as its latest presence describes it.
            let latest = events
                .values()
                .max_by_key(|p| (p.held_on, p.event_id.as_str()))?;
            let mut by_kind: BTreeMap<EventKind, i32> = BTreeMap::new();
            for p in events.values() {
                *by_kind.entry(p.event_kind).or_default() += 1;
            }
            Some(Stakeholder {
                organization_id: id.to_string(),
                organization_kind: latest.organization_kind,
                governorate: latest.governorate.clone(),
                meetings: events.len() as i32,
                first_met_on: first,
                last_met_on: last,
                by_kind: by_kind.into_iter().collect(),
            })
        })
        .collect();
    stakeholders.sort_by(|a, b| {
        b.meetings
            .cmp(&a.meetings)
            .then(b.last_met_on.cmp(&a.last_met_on))
            .then(a.organization_id.cmp(&b.organization_id))
    });
    StakeholderMap {
        events_attended: attended.len() as i32,
        stakeholders,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrganizationKind as K;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn at(event: &str, kind: EventKind, day: &str, org: &str, org_kind: K) -> Presence {
        Presence {
            event_id: event.into(),
            event_kind: kind,
            held_on: d(day),
            organization_id: org.into(),
            organization_kind: org_kind,
            governorate: if org.starts_with("dez") {
                "Deir ez-Zor".into()
            } else {
                "Raqqa".into()
            },
        }
    }

    /// Three meetings: the CSO meets the Raqqa council twice and the Deir
    /// ez-Zor council once; a donor once; the other CSO never with it.
    fn presences() -> Vec<Presence> {
        use EventKind as E;
        vec![
            at(
                "e1",
                E::LocalAdministrationMeeting,
                "2026-01-15",
                "cso",
                K::Cso,
            ),
            at(
                "e1",
                E::LocalAdministrationMeeting,
                "2026-01-15",
                "council",
                K::LocalAdministration,
            ),
            at("e2", E::DonorRoundTable, "2026-02-10", "cso", K::Cso),
            at("e2", E::DonorRoundTable, "2026-02-10", "donor", K::Donor),
            at(
                "e2",
                E::DonorRoundTable,
                "2026-02-10",
                "council",
                K::LocalAdministration,
            ),
            at(
                "e3",
                E::LocalAdministrationMeeting,
                "2026-03-05",
                "cso",
                K::Cso,
            ),
            at(
                "e3",
                E::LocalAdministrationMeeting,
                "2026-03-05",
                "dez-council",
                K::LocalAdministration,
            ),
            at("e4", E::Networking, "2026-03-20", "other-cso", K::Cso),
            at(
                "e4",
                E::Networking,
                "2026-03-20",
                "council",
                K::LocalAdministration,
            ),
        ]
    }

    #[test]
    fn an_organization_sees_whom_it_met_how_often_and_when() {
        let map = stakeholder_map("cso", &presences(), Period::default(), &[]);
        assert_eq!(map.events_attended, 3);
        let ids: Vec<_> = map
            .stakeholders
            .iter()
            .map(|s| s.organization_id.as_str())
            .collect();
        // Two meetings first; then by the latest meeting.
        assert_eq!(ids, ["council", "dez-council", "donor"]);
        let council = &map.stakeholders[0];
        assert_eq!(council.meetings, 2);
        assert_eq!(council.first_met_on, d("2026-01-15"));
        assert_eq!(council.last_met_on, d("2026-02-10"));
        assert_eq!(
            council.by_kind,
            [
                (EventKind::LocalAdministrationMeeting, 1),
                (EventKind::DonorRoundTable, 1)
            ]
        );
        assert_eq!(map.stakeholders[1].governorate, "Deir ez-Zor");
    }

    #[test]
    fn a_body_sees_the_organizations_it_meets() {
        let map = stakeholder_map("council", &presences(), Period::default(), &[K::Cso]);
        assert_eq!(map.events_attended, 3);
        let ids: Vec<_> = map
            .stakeholders
            .iter()
            .map(|s| (s.organization_id.as_str(), s.meetings))
            .collect();
        assert_eq!(ids, [("cso", 2), ("other-cso", 1)]);
    }

    #[test]
    fn kinds_and_periods_narrow_the_map() {
        let only_bodies = stakeholder_map(
            "cso",
            &presences(),
            Period::default(),
            &[K::LocalAdministration],
        );
        assert_eq!(only_bodies.stakeholders.len(), 2);
        let february = Period {
            from: Some(d("2026-02-01")),
            until: Some(d("2026-02-28")),
        };
        let map = stakeholder_map("cso", &presences(), february, &[]);
        assert_eq!(map.events_attended, 1);
        let ids: Vec<_> = map
            .stakeholders
            .iter()
            .map(|s| s.organization_id.as_str())
            .collect();
        assert_eq!(ids, ["council", "donor"]);
        assert_eq!(map.stakeholders[0].meetings, 1);
        assert_eq!(
            stakeholder_map("nobody", &presences(), Period::default(), &[]),
            StakeholderMap::default()
        );
    }

    #[test]
    fn two_people_of_one_organization_at_one_event_are_one_meeting() {
        let mut p = presences();
        p.push(p[1].clone());
        let map = stakeholder_map("cso", &p, Period::default(), &[]);
        assert_eq!(map.stakeholders[0].meetings, 2);
    }
}
