//! Issue-based coalitions: parsing, the status life cycle (active ⇄
//! dormant → dissolved) with its history, the lead organization, and what
//! dissolution does to the memberships. A member's periods are in
//! [`super::membership`].

use std::collections::HashMap;

use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::networking::v1 as api;

pub use api::CoalitionStatus;

use super::lifecycle::{Action, Lifecycle};
use super::membership::Membership;
use super::{
    LONG_PROSE_MAX, NAME_MAX, branch, day_not_after, finish, id_list, issue_codes, reason,
    required_id,
};

pub const MAX_FOUNDING_MEMBERS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoalitionFields {
    pub name: LocalizedText,
    pub issue_codes: Vec<String>,
    pub charter: LocalizedText,
    pub lead_organization_id: String,
    pub branch_id: String,
}

fn coalition_fields(v: &mut Violations, c: &api::Coalition) -> Option<CoalitionFields> {
    let name = v.take_many(validate::localized(
        "coalition.name",
        c.name.as_ref(),
        NAME_MAX,
        true,
    ));
    let issue_codes = issue_codes(v, "coalition.issue_codes", &c.issue_codes, 1);
    let charter = v.take_many(validate::localized(
        "coalition.charter",
        c.charter.as_ref(),
        LONG_PROSE_MAX,
        false,
    ));
    let lead = v.take(required_id(
        "coalition.lead_organization_id",
        &c.lead_organization_id,
    ));
    let branch_id = v.take(branch("coalition.branch_id", &c.branch_id, false));
    Some(CoalitionFields {
        name: name?,
        issue_codes,
        charter: charter?,
        lead_organization_id: lead?,
        branch_id: branch_id?,
    })
}

/// Parses the settable fields of a coalition (an update).
pub fn parse_coalition(c: &api::Coalition) -> Result<CoalitionFields> {
    let mut v = Violations::new();
    let fields = coalition_fields(&mut v, c);
    finish(v, || fields)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCoalition {
    pub fields: CoalitionFields,
    pub formed_on: Date,
    /// Besides the lead, who joins anyway.
    pub founding_members: Vec<String>,
}

/// Parses a coalition being formed: its fields, the day (today when
/// unset, never in the future) and its founding members.
pub fn parse_new_coalition(
    c: Option<&api::Coalition>,
    founding: &[String],
    today: Date,
) -> Result<NewCoalition> {
    let empty = api::Coalition::default();
    let c = c.unwrap_or(&empty);
    let mut v = Violations::new();
    let fields = coalition_fields(&mut v, c);
    let formed_on = v.take(day_not_after(
        "coalition.formed_on",
        c.formed_on.as_ref(),
        today,
    ));
    let founding_members = id_list(
        &mut v,
        "founding_member_ids",
        founding,
        MAX_FOUNDING_MEMBERS,
    );
    if let Some(i) = founding_members
        .iter()
        .position(|m| *m == c.lead_organization_id)
    {
        v.add(
            format!("founding_member_ids[{i}]"),
            "the lead organization joins anyway",
        );
    }
    finish(v, || {
        Some(NewCoalition {
            fields: fields?,
            formed_on: formed_on?,
            founding_members,
        })
    })
}

pub const COALITION_MASK: &[&str] = &[
    "name",
    "issue_codes",
    "charter",
    "lead_organization_id",
    "branch_id",
];

pub fn merge_coalition(onto: &mut api::Coalition, from: &api::Coalition, mask: &[&str]) {
    for path in mask {
        match *path {
            "name" => onto.name = from.name.clone(),
            "issue_codes" => onto.issue_codes = from.issue_codes.clone(),
            "charter" => onto.charter = from.charter.clone(),
            "lead_organization_id" => onto.lead_organization_id = from.lead_organization_id.clone(),
            "branch_id" => onto.branch_id = from.branch_id.clone(),
            _ => {}
        }
    }
}

// ============================================================ life cycle

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoalitionAction {
    Edit,
    /// active → dormant.
    Pause,
    /// dormant → active.
    Revive,
    Dissolve,
    Join,
    Leave,
}

impl CoalitionAction {
    pub const ALL: [CoalitionAction; 6] = [
        CoalitionAction::Edit,
        CoalitionAction::Pause,
        CoalitionAction::Revive,
        CoalitionAction::Dissolve,
        CoalitionAction::Join,
        CoalitionAction::Leave,
    ];
}

impl Action for CoalitionAction {
    fn past(self) -> &'static str {
        match self {
            CoalitionAction::Edit => "changed",
            CoalitionAction::Pause => "made dormant",
            CoalitionAction::Revive => "made active again",
            CoalitionAction::Dissolve => "dissolved",
            CoalitionAction::Join => "joined",
            CoalitionAction::Leave => "left",
        }
    }
}

use CoalitionAction as A;
use CoalitionStatus as S;

/// A coalition is active when formed; it may rest (dormant) and wake
/// again; members come and go in both; once dissolved it is closed.
pub const COALITION_LIFECYCLE: Lifecycle<CoalitionStatus, CoalitionAction> = Lifecycle {
    kind: "COALITION_STATUS",
    subject: "coalition.status",
    noun: "a coalition",
    moves: &[
        (S::Active, A::Edit, S::Active),
        (S::Dormant, A::Edit, S::Dormant),
        (S::Active, A::Pause, S::Dormant),
        (S::Dormant, A::Revive, S::Active),
        (S::Active, A::Dissolve, S::Dissolved),
        (S::Dormant, A::Dissolve, S::Dissolved),
        (S::Active, A::Join, S::Active),
        (S::Dormant, A::Join, S::Dormant),
        (S::Active, A::Leave, S::Active),
        (S::Dormant, A::Leave, S::Dormant),
    ],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub to: CoalitionStatus,
    pub reason: String,
    pub effective_on: Date,
}

/// Parses and decides a status change: the status asked for, a reason
/// (required to dissolve), the day it takes effect (today when unset; not
/// in the future, not before the coalition's last change).
pub fn change_status(
    req: &api::ChangeCoalitionStatusRequest,
    current: CoalitionStatus,
    last_change_on: Date,
    today: Date,
) -> Result<StatusChange> {
    let mut v = Violations::new();
    let to = v
        .take(validate::enumeration::<CoalitionStatus>(
            "status", req.status, true,
        ))
        .flatten();
    let reason = v.take(reason("reason", &req.reason, to == Some(S::Dissolved)));
    let effective_on = v.take(day_not_after(
        "effective_on",
        req.effective_on.as_ref(),
        today,
    ));
    if let Some(day) = effective_on
        && day < last_change_on
    {
        v.add(
            "effective_on",
            format!("{day} is before the coalition's last change, on {last_change_on}"),
        );
    }
    let change = finish(v, || {
        Some(StatusChange {
            to: to?,
            reason: reason?,
            effective_on: effective_on?,
        })
    })?;
    let action = match change.to {
        S::Active => A::Revive,
        S::Dormant => A::Pause,
        _ => A::Dissolve,
    };
    COALITION_LIFECYCLE.next(current, action)?;
    Ok(change)
}

/// The lead is an active member.
pub fn check_lead(lead: &str, memberships: &HashMap<String, Membership>) -> Result<()> {
    if memberships.get(lead).is_some_and(Membership::is_active) {
        Ok(())
    } else {
        Err(Error::precondition(
            "LEAD_NOT_A_MEMBER",
            "coalition.lead_organization_id",
            "the lead organization must be an active member of the coalition",
        ))
    }
}

/// The lead does not leave before another member leads.
pub fn check_leave(organization_id: &str, lead: &str) -> Result<()> {
    if organization_id == lead {
        return Err(Error::precondition(
            "LEAD_CANNOT_LEAVE",
            "organization_id",
            "the lead organization cannot leave; make another member lead first",
        ));
    }
    Ok(())
}

/// Dissolving ends every open membership on the day of dissolution;
/// returns the members whose period ended. Refused (nothing changed) when
/// a member joined after that day.
pub fn dissolve(
    memberships: &mut HashMap<String, Membership>,
    on: Date,
    today: Date,
) -> Result<Vec<String>> {
    let late: Vec<&String> = memberships
        .iter()
        .filter(|(_, m)| m.is_active() && m.periods().last().is_some_and(|p| p.joined_on > on))
        .map(|(id, _)| id)
        .collect();
    if !late.is_empty() {
        return Err(Error::invalid(
            "effective_on",
            format!(
                "{on} is before {} member(s) joined; dissolve on a later day",
                late.len()
            ),
        ));
    }
    let mut ended = Vec::new();
    for (id, m) in memberships.iter_mut() {
        if m.is_active() {
            m.leave(on, today)?;
            ended.push(id.clone());
        }
    }
    ended.sort();
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bad_fields;
    use crate::domain::lifecycle::assert_matches_spec;
    use markaz_kit::rpc::new_id;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn coalition(lead: &str) -> api::Coalition {
        api::Coalition {
            name: Some(LocalizedText {
                ar: "تحالف مناهضة الزواج المبكر".into(),
                en: "Coalition against early marriage".into(),
            }),
            issue_codes: vec!["early-marriage".into()],
            charter: Some(LocalizedText {
                ar: "نلتزم بالعمل المشترك…".into(),
                en: String::new(),
            }),
            lead_organization_id: lead.into(),
            branch_id: "raqqa".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_coalition_is_formed_with_its_lead_and_founders() {
        let (lead, a, b) = (new_id(), new_id(), new_id());
        let today = d("2026-06-01");
        let n =
            parse_new_coalition(Some(&coalition(&lead)), &[a.clone(), b.clone()], today).unwrap();
        assert_eq!(n.formed_on, today);
        assert_eq!(n.founding_members, [a.clone(), b]);
        assert_eq!(n.fields.charter.ar, "نلتزم بالعمل المشترك…");

        let mut bad = coalition(&lead);
        bad.issue_codes.clear();
        bad.formed_on = Some(d("2026-06-03").to_proto());
        bad.name = None;
        let fields = bad_fields(parse_new_coalition(
            Some(&bad),
            &[a.clone(), lead.clone(), a],
            today,
        ));
        assert_eq!(
            fields,
            [
                "coalition.name",
                "coalition.issue_codes",
                "coalition.formed_on",
                "founding_member_ids[2]",
                "founding_member_ids[1]",
            ]
        );
        let errs = bad_fields(parse_new_coalition(None, &[], today));
        assert!(errs.iter().any(|e| e == "coalition.lead_organization_id"));
        let update = parse_coalition(&coalition(&lead)).unwrap();
        assert_eq!(update.lead_organization_id, lead);
    }

    #[test]
    fn the_mask_replaces_only_the_paths_named() {
        let lead = new_id();
        let mut onto = coalition(&lead);
        merge_coalition(&mut onto, &api::Coalition::default(), &["charter"]);
        assert_eq!(onto.charter, None);
        assert_eq!(onto.lead_organization_id, lead);
        for path in COALITION_MASK {
            let mut probe = api::Coalition::default();
            merge_coalition(&mut probe, &coalition(&lead), &[path]);
            assert_ne!(probe, api::Coalition::default(), "{path} is merged");
        }
    }

    #[test]
    fn the_table_is_the_specification() {
        assert_matches_spec(
            &COALITION_LIFECYCLE,
            &[S::Unspecified, S::Active, S::Dormant, S::Dissolved],
            &CoalitionAction::ALL,
            &[
                (S::Active, A::Edit, S::Active),
                (S::Active, A::Pause, S::Dormant),
                (S::Active, A::Dissolve, S::Dissolved),
                (S::Active, A::Join, S::Active),
                (S::Active, A::Leave, S::Active),
                (S::Dormant, A::Edit, S::Dormant),
                (S::Dormant, A::Revive, S::Active),
                (S::Dormant, A::Dissolve, S::Dissolved),
                (S::Dormant, A::Join, S::Dormant),
                (S::Dormant, A::Leave, S::Dormant),
            ],
        );
        assert!(COALITION_LIFECYCLE.is_final(S::Dissolved));
        for s in [S::Active, S::Dormant] {
            assert!(COALITION_LIFECYCLE.reachable(s).contains(&S::Dissolved));
        }
    }

    fn req(
        status: CoalitionStatus,
        reason: &str,
        on: Option<&str>,
    ) -> api::ChangeCoalitionStatusRequest {
        api::ChangeCoalitionStatusRequest {
            id: new_id(),
            status: status as i32,
            reason: reason.into(),
            effective_on: on.map(|s| d(s).to_proto()),
            etag: String::new(),
        }
    }

    #[test]
    fn status_changes_say_when_and_dissolution_says_why() {
        let (last, today) = (d("2026-03-01"), d("2026-06-01"));
        let c = change_status(&req(S::Dormant, "", None), S::Active, last, today).unwrap();
        assert_eq!((c.to, c.effective_on), (S::Dormant, today));
        let c = change_status(
            &req(S::Active, "", Some("2026-03-01")),
            S::Dormant,
            last,
            today,
        )
        .unwrap();
        assert_eq!(c.effective_on, last);
        let fields = bad_fields(change_status(
            &req(S::Dissolved, "", Some("2026-02-28")),
            S::Active,
            last,
            today,
        ));
        assert_eq!(fields, ["reason", "effective_on"]);
        assert!(
            change_status(
                &req(S::Dissolved, "goal reached", Some("2026-06-03")),
                S::Active,
                last,
                today
            )
            .is_err()
        );
        let Err(Error::FailedPrecondition { description, .. }) =
            change_status(&req(S::Active, "", None), S::Active, last, today)
        else {
            panic!()
        };
        assert_eq!(
            description,
            "a coalition that is active cannot be made active again; only one that is dormant"
        );
        assert!(change_status(&req(S::Dormant, "", None), S::Dissolved, last, today).is_err());
        assert!(change_status(&req(S::Unspecified, "", None), S::Active, last, today).is_err());
    }

    #[test]
    fn the_lead_is_a_member_and_stays_until_another_leads() {
        let (formed, today) = (d("2026-01-01"), d("2026-06-01"));
        let (lead, other) = (new_id(), new_id());
        let mut members = HashMap::new();
        let mut m = Membership::default();
        m.join(formed, formed, today).unwrap();
        members.insert(lead.clone(), m.clone());
        m.leave(d("2026-02-01"), today).unwrap();
        members.insert(other.clone(), m);
        assert!(check_lead(&lead, &members).is_ok());
        assert!(check_lead(&other, &members).is_err(), "a former member");
        assert!(check_lead(&new_id(), &members).is_err());
        assert!(check_leave(&lead, &lead).is_err());
        assert!(check_leave(&other, &lead).is_ok());
    }

    #[test]
    fn dissolution_ends_every_open_membership_that_day() {
        let (formed, today) = (d("2026-01-01"), d("2026-06-01"));
        let (a, b, c) = (new_id(), new_id(), new_id());
        let mut members = HashMap::new();
        for (id, joined) in [(&a, "2026-01-01"), (&b, "2026-03-01"), (&c, "2026-01-15")] {
            let mut m = Membership::default();
            m.join(d(joined), formed, today).unwrap();
            members.insert(id.clone(), m);
        }
        members
            .get_mut(&c)
            .unwrap()
            .leave(d("2026-02-01"), today)
            .unwrap();
        let before = members.clone();
        assert!(dissolve(&mut members, d("2026-02-15"), today).is_err());
        assert_eq!(members, before, "nothing changed by a refusal");
        let mut ended = dissolve(&mut members, d("2026-05-01"), today).unwrap();
        let mut expected = vec![a.clone(), b.clone()];
        expected.sort();
        ended.sort();
        assert_eq!(ended, expected);
        assert!(members.values().all(|m| !m.is_active()));
        assert_eq!(members[&c].periods(), before[&c].periods());
        assert!(members[&a].active_on(d("2026-04-30")));
        assert!(!members[&a].active_on(d("2026-05-01")));
    }
}
