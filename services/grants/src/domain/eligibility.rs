//! Eligibility: a call's rules over what grants knows of an organization
//! (membership's copy and the courses its members completed).

use markaz_kit::error::{Error, Result};
use markaz_proto::common::v1::{IncubationStatus, OrganizationKind};

use super::calls::Rules;

/// What grants knows of an organization, from its copy of the events.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgFacts {
    pub kind: OrganizationKind,
    pub branch_id: String,
    pub incubation_status: IncubationStatus,
    /// Capacity topic codes a member completed.
    pub topics: Vec<String>,
}

/// Every rule of `rules` the organization misses (empty: eligible). `None`
/// is an organization grants has no record of.
pub fn unmet(rules: &Rules, org: Option<&OrgFacts>) -> Vec<String> {
    let Some(org) = org else {
        return vec![
            "the organization is not known to the grants service yet: its membership record \
             has not arrived"
                .to_string(),
        ];
    };
    let mut out = Vec::new();
    if !rules.incubation_statuses.is_empty()
        && !rules.incubation_statuses.contains(&org.incubation_status)
    {
        out.push(format!(
            "the call is open to organizations that are {} in the incubation program; this \
             one is {}",
            rules
                .incubation_statuses
                .iter()
                .map(|s| incubation_word(*s))
                .collect::<Vec<_>>()
                .join(" or "),
            incubation_word(org.incubation_status)
        ));
    }
    if !rules.branch_ids.is_empty() && !rules.branch_ids.contains(&org.branch_id) {
        out.push(format!(
            "the call is open to organizations of the branch {}; this one belongs to {}",
            rules.branch_ids.join(" or "),
            if org.branch_id.is_empty() {
                "no branch".to_string()
            } else {
                format!("the branch {}", org.branch_id)
            }
        ));
    }
    if !rules.organization_kinds.is_empty() && !rules.organization_kinds.contains(&org.kind) {
        out.push(format!(
            "the call is open to organizations of kind {}; this one is {}",
            rules
                .organization_kinds
                .iter()
                .map(|k| k.as_str_name())
                .collect::<Vec<_>>()
                .join(" or "),
            org.kind.as_str_name()
        ));
    }
    if !rules.required_course_topic.is_empty() && !org.topics.contains(&rules.required_course_topic)
    {
        out.push(format!(
            "a member of the organization must have completed a course on '{}'",
            rules.required_course_topic
        ));
    }
    out
}

pub fn incubation_word(s: IncubationStatus) -> &'static str {
    match s {
        IncubationStatus::Unspecified => "unknown",
        IncubationStatus::None => "outside the program",
        IncubationStatus::Applicant => "applicant",
        IncubationStatus::Incubated => "incubated",
        IncubationStatus::Graduated => "graduated",
        IncubationStatus::Withdrawn => "withdrawn",
    }
}

/// Submission refuses an ineligible organization with every unmet rule.
pub fn check_eligible(rules: &Rules, org: Option<&OrgFacts>) -> Result<()> {
    let unmet = unmet(rules, org);
    if unmet.is_empty() {
        Ok(())
    } else {
        Err(Error::precondition(
            "NOT_ELIGIBLE",
            "proposal.organization_id",
            format!("the organization is not eligible: {}", unmet.join("; ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> OrgFacts {
        OrgFacts {
            kind: OrganizationKind::Cso,
            branch_id: "raqqa".into(),
            incubation_status: IncubationStatus::Incubated,
            topics: vec!["proposal-writing".into()],
        }
    }

    #[test]
    fn eligibility_names_every_unmet_rule() {
        let rules = Rules {
            incubation_statuses: vec![IncubationStatus::Incubated],
            branch_ids: vec!["raqqa".into()],
            organization_kinds: vec![OrganizationKind::Cso, OrganizationKind::Initiative],
            required_course_topic: "proposal-writing".into(),
        };
        assert!(unmet(&rules, Some(&facts())).is_empty());
        assert!(unmet(&Rules::default(), Some(&facts())).is_empty());
        let other = OrgFacts {
            kind: OrganizationKind::Donor,
            branch_id: String::new(),
            incubation_status: IncubationStatus::Applicant,
            topics: vec![],
        };
        let reasons = unmet(&rules, Some(&other));
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].contains("incubated") && reasons[0].contains("applicant"));
        assert!(reasons[1].contains("no branch"));
        assert!(reasons[2].contains("DONOR"));
        assert!(reasons[3].contains("proposal-writing"));
        assert_eq!(unmet(&rules, None).len(), 1);
        assert!(matches!(
            check_eligible(&rules, Some(&other)),
            Err(Error::FailedPrecondition {
                kind: "NOT_ELIGIBLE",
                ..
            })
        ));
    }
}
