//! Membership's rules, as plain functions over plain types: no I/O.
//!
//! Requests are *parsed* here into values that can only exist when valid
//! (`OrganizationFields`, `PersonFields`, `AssessmentSpec`, ...), with every
//! bad field reported at once. The incubation life cycle and the assessment
//! arithmetic live here too.

use markaz_kit::error::{AllValid, Error, FieldViolation, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::{
    AgeBand, CapacityDomain, Gender, IncubationStatus, LocalizedText, OrganizationKind, Sector,
};
use markaz_proto::membership::v1 as api;

pub const NAME_MAX: usize = 200;
pub const SHORT_MAX: usize = 100;
pub const PROSE_MAX: usize = 4_000;

/// The services that hold a copy of people and confirm each erasure
/// (`ErasureConfirmed`); an erasure is complete once all of them have —
/// membership for its own records and stream included. A new service that
/// consumes membership's people joins this list.
pub const ERASURE_CONFIRMERS: &[&str] = &[
    "membership",
    "capacity",
    "grants",
    "networking",
    "resources",
];
pub const MAX_SECTORS: usize = 10;

/// A tenant as the operator registers it.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    pub id: String,
    pub name: LocalizedText,
    pub identifier_prefix: String,
}

pub fn parse_tenant(t: Option<&api::Tenant>) -> Result<TenantSpec> {
    let empty = api::Tenant::default();
    let t = t.unwrap_or(&empty);
    let (id, name, identifier_prefix) = (
        validate::slug("tenant.id", &t.id, 40),
        validate::localized("tenant.name", t.name.as_ref(), NAME_MAX, true),
        if t.identifier_prefix.is_empty() {
            Ok(None)
        } else {
            parse_identifier_prefix("tenant.identifier_prefix", &t.identifier_prefix).map(Some)
        },
    )
        .all()?;
    Ok(TenantSpec {
        identifier_prefix: identifier_prefix.unwrap_or_else(|| default_identifier_prefix(&id)),
        id,
        name,
    })
}

/// `raqqa-csc` → `MKZ-RAQQA-CSC`: identifiers stay unique across tenants.
pub fn default_identifier_prefix(tenant_id: &str) -> String {
    format!("MKZ-{}", tenant_id.to_ascii_uppercase())
}

fn parse_identifier_prefix(field: &str, s: &str) -> Result<String, FieldViolation> {
    let ok = s.len() <= 40
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            "uppercase letters, digits and single '-', e.g. 'SY-CSSC'",
        ))
    }
}

/// A slug a request may leave empty (no branch, say).
fn optional_slug(field: &str, value: &str) -> Result<String, FieldViolation> {
    validate::optional_slug(field, value, 40)
}

/// An organization identifier in the IATI style `{prefix}-{number}`.
pub fn parse_identifier(field: &str, s: &str) -> Result<String, FieldViolation> {
    let ok = s.len() <= 64
        && s.contains('-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            "an IATI-style identifier '{prefix}-{number}': letters, digits and '-'",
        ))
    }
}

/// An identifier a tenant gives by hand must be in its own prefix: another
/// tenant's prefix would pass its organizations off as theirs.
pub fn within_prefix(
    field: &str,
    prefix: &str,
    identifier: String,
) -> Result<String, FieldViolation> {
    match identifier.strip_prefix(prefix) {
        Some(rest) if rest.starts_with('-') => Ok(identifier),
        _ => Err(FieldViolation::new(
            field,
            format!("must start with the tenant's prefix '{prefix}-'"),
        )),
    }
}

/// The identifier given to the `n`th organization registered without one.
pub fn generated_identifier(prefix: &str, n: i64) -> String {
    format!("{prefix}-{n:04}")
}

#[derive(Debug, Clone, PartialEq)]
pub struct BranchSpec {
    pub id: String,
    pub name: LocalizedText,
    pub governorate: String,
}

pub fn parse_branch(b: Option<&api::Branch>) -> Result<BranchSpec> {
    let empty = api::Branch::default();
    let b = b.unwrap_or(&empty);
    let (id, name, governorate) = (
        validate::slug("branch.id", &b.id, 40),
        validate::localized("branch.name", b.name.as_ref(), NAME_MAX, true),
        validate::line("branch.governorate", &b.governorate, SHORT_MAX, true),
    )
        .all()?;
    Ok(BranchSpec {
        id,
        name,
        governorate,
    })
}

/// The fields of an organization people may set.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationFields {
    pub kind: OrganizationKind,
    pub name: LocalizedText,
    pub acronym: String,
    pub governorate: String,
    pub branch_id: String,
    pub sectors: Vec<Sector>,
    pub description: LocalizedText,
    pub email: String,
    pub phone: String,
}

/// Parses the settable fields of `o`; field paths start with `prefix`.
pub fn parse_organization(prefix: &str, o: &api::Organization) -> Result<OrganizationFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let mut v = Violations::new();
    let mut sectors = Vec::new();
    if o.sectors.len() > MAX_SECTORS {
        v.add(f("sectors"), format!("at most {MAX_SECTORS}"));
    }
    for (i, s) in o.sectors.iter().enumerate() {
        if let Some(Some(s)) = v.take(validate::enumeration::<Sector>(
            &format!("{}[{i}]", f("sectors")),
            *s,
            true,
        )) && !sectors.contains(&s)
        {
            sectors.push(s);
        }
    }
    let (kind, name, acronym, governorate, branch_id, description, (email, phone, ())) = (
        validate::required_enum::<OrganizationKind>(&f("kind"), o.kind),
        validate::localized(&f("name"), o.name.as_ref(), NAME_MAX, true),
        validate::line(&f("acronym"), &o.acronym, 20, false),
        validate::line(&f("governorate"), &o.governorate, SHORT_MAX, false),
        optional_slug(&f("branch_id"), &o.branch_id),
        validate::localized(&f("description"), o.description.as_ref(), PROSE_MAX, false),
        (
            validate::email(&f("email"), &o.email),
            validate::phone(&f("phone"), &o.phone),
            v.finish(),
        )
            .all(),
    )
        .all()?;
    Ok(OrganizationFields {
        kind,
        name,
        acronym,
        governorate,
        branch_id,
        sectors,
        description,
        email,
        phone,
    })
}

/// The fields of an organization an update mask may name.
pub const ORGANIZATION_MASK: &[&str] = &[
    "kind",
    "name",
    "acronym",
    "governorate",
    "branch_id",
    "sectors",
    "description",
    "email",
    "phone",
];

/// The fields of a person an update mask may name.
pub const PERSON_MASK: &[&str] = &[
    "full_name",
    "gender",
    "age_band",
    "phone",
    "email",
    "branch_id",
    "legal_basis",
    "processing_purpose",
];

/// Copies the masked fields of `from` onto `onto` (both as sent on the wire),
/// so the merged object is parsed exactly like a new one.
pub fn merge_organization(onto: &mut api::Organization, from: &api::Organization, mask: &[&str]) {
    for path in mask {
        match *path {
            "kind" => onto.kind = from.kind,
            "name" => onto.name = from.name.clone(),
            "acronym" => onto.acronym = from.acronym.clone(),
            "governorate" => onto.governorate = from.governorate.clone(),
            "branch_id" => onto.branch_id = from.branch_id.clone(),
            "sectors" => onto.sectors = from.sectors.clone(),
            "description" => onto.description = from.description.clone(),
            "email" => onto.email = from.email.clone(),
            "phone" => onto.phone = from.phone.clone(),
            _ => {}
        }
    }
}

pub fn merge_person(onto: &mut api::Person, from: &api::Person, mask: &[&str]) {
    for path in mask {
        match *path {
            "full_name" => onto.full_name = from.full_name.clone(),
            "gender" => onto.gender = from.gender,
            "age_band" => onto.age_band = from.age_band,
            "phone" => onto.phone = from.phone.clone(),
            "email" => onto.email = from.email.clone(),
            "branch_id" => onto.branch_id = from.branch_id.clone(),
            "legal_basis" => onto.legal_basis = from.legal_basis,
            "processing_purpose" => onto.processing_purpose = from.processing_purpose.clone(),
            _ => {}
        }
    }
}

/// Where an organization registered now starts in the incubation program.
pub fn initial_status(apply_for_incubation: bool) -> IncubationStatus {
    if apply_for_incubation {
        IncubationStatus::Applicant
    } else {
        IncubationStatus::None
    }
}

/// The incubation life cycle: applicant → incubated → graduated, any of these
/// → withdrawn, and a withdrawn or outside organization may apply (again).
pub fn check_transition(from: IncubationStatus, to: IncubationStatus, reason: &str) -> Result<()> {
    use IncubationStatus as S;
    let allowed = matches!(
        (from, to),
        (S::None, S::Applicant)
            | (S::Withdrawn, S::Applicant)
            | (S::Applicant, S::Incubated)
            | (S::Applicant, S::Withdrawn)
            | (S::Incubated, S::Graduated)
            | (S::Incubated, S::Withdrawn)
            | (S::Graduated, S::Withdrawn)
    );
    if !allowed {
        return Err(Error::precondition(
            "INCUBATION_TRANSITION",
            "organization.incubation_status",
            format!(
                "an organization cannot go from {} to {}",
                status_word(from),
                status_word(to)
            ),
        ));
    }
    if to == S::Withdrawn && reason.trim().is_empty() {
        return Err(Error::invalid("reason", "required when withdrawing"));
    }
    Ok(())
}

pub fn status_word(s: IncubationStatus) -> &'static str {
    match s {
        IncubationStatus::Unspecified => "unspecified",
        IncubationStatus::None => "outside the program",
        IncubationStatus::Applicant => "applicant",
        IncubationStatus::Incubated => "incubated",
        IncubationStatus::Graduated => "graduated",
        IncubationStatus::Withdrawn => "withdrawn",
    }
}

/// The legal basis of processing, as recorded with each person.
pub use api::LegalBasis;

/// The fields of a person people may set: the minimum the center needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonFields {
    pub full_name: String,
    pub gender: Gender,
    pub age_band: AgeBand,
    pub phone: String,
    pub email: String,
    pub branch_id: String,
    pub legal_basis: LegalBasis,
    pub processing_purpose: String,
}

pub fn parse_person(prefix: &str, p: &api::Person) -> Result<PersonFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let (full_name, gender, age_band, phone, email, branch_id, legal_basis, processing_purpose) = (
        validate::line(&f("full_name"), &p.full_name, NAME_MAX, true),
        validate::required_enum::<Gender>(&f("gender"), p.gender),
        validate::required_enum::<AgeBand>(&f("age_band"), p.age_band),
        validate::phone(&f("phone"), &p.phone),
        validate::email(&f("email"), &p.email),
        optional_slug(&f("branch_id"), &p.branch_id),
        validate::required_enum::<LegalBasis>(&f("legal_basis"), p.legal_basis),
        validate::line(
            &f("processing_purpose"),
            &p.processing_purpose,
            NAME_MAX,
            true,
        ),
    )
        .all()?;
    Ok(PersonFields {
        full_name,
        gender,
        age_band,
        phone,
        email,
        branch_id,
        legal_basis,
        processing_purpose,
    })
}

/// What an erased person keeps: gender and age band (for aggregate figures),
/// the legal basis and purpose the data was processed under, and no name,
/// contact or anything else that could identify them.
pub fn erased(fields: &PersonFields) -> PersonFields {
    PersonFields {
        full_name: String::new(),
        phone: String::new(),
        email: String::new(),
        ..fields.clone()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AffiliationSpec {
    pub person_id: String,
    pub organization_id: String,
    pub role: String,
    pub start_date: Option<Date>,
}

pub fn parse_affiliation(a: Option<&api::Affiliation>) -> Result<AffiliationSpec> {
    let empty = api::Affiliation::default();
    let a = a.unwrap_or(&empty);
    let (person_id, organization_id, role, start_date) = (
        markaz_kit::rpc::parse_id("affiliation.person_id", &a.person_id),
        markaz_kit::rpc::parse_id("affiliation.organization_id", &a.organization_id),
        validate::line("affiliation.role", &a.role, SHORT_MAX, false),
        Date::optional("affiliation.start_date", a.start_date.as_ref()),
    )
        .all()?;
    Ok(AffiliationSpec {
        person_id,
        organization_id,
        role,
        start_date,
    })
}

/// The seven OCA domains, in the tool's order.
pub const DOMAINS: [CapacityDomain; 7] = [
    CapacityDomain::Governance,
    CapacityDomain::Administration,
    CapacityDomain::HumanResources,
    CapacityDomain::FinancialManagement,
    CapacityDomain::OrganizationalManagement,
    CapacityDomain::ProgramManagement,
    CapacityDomain::ProjectPerformanceManagement,
];

pub const MIN_SCORE: i32 = 1;
pub const MAX_SCORE: i32 = 4;
pub const MAX_PARTICIPANTS: usize = 50;
pub const MAX_ACTIONS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct DomainScore {
    pub domain: CapacityDomain,
    pub score: i32,
    pub justification: String,
    pub participant_scores: Vec<(String, i32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionItem {
    pub domain: CapacityDomain,
    pub gap: String,
    pub action: String,
    pub due_date: Date,
    pub owner: String,
}

/// An assessment as recorded: all seven domains, each once, in OCA order.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentSpec {
    pub organization_id: String,
    pub assessed_on: Date,
    pub domains: Vec<DomainScore>,
    pub action_plan: Vec<ActionItem>,
    pub notes: String,
}

pub fn parse_assessment(a: Option<&api::Assessment>) -> Result<AssessmentSpec> {
    let empty = api::Assessment::default();
    let a = a.unwrap_or(&empty);
    let mut v = Violations::new();
    let organization_id =
        markaz_kit::rpc::parse_id("assessment.organization_id", &a.organization_id);
    let assessed_on =
        Date::required("assessment.assessed_on", a.assessed_on.as_ref()).and_then(|d| {
            if d > Date::today().add_days(1) {
                Err(FieldViolation::new(
                    "assessment.assessed_on",
                    "cannot be in the future",
                ))
            } else {
                Ok(d)
            }
        });
    let mut domains: Vec<DomainScore> = Vec::new();
    for (i, d) in a.domains.iter().enumerate() {
        let f = |name: &str| format!("assessment.domains[{i}].{name}");
        let domain = v
            .take(validate::enumeration::<CapacityDomain>(
                &f("domain"),
                d.domain,
                true,
            ))
            .flatten();
        if !(MIN_SCORE..=MAX_SCORE).contains(&d.score) {
            v.add(f("score"), format!("from {MIN_SCORE} to {MAX_SCORE}"));
        }
        let justification = v.take(validate::prose(
            &f("justification"),
            &d.justification,
            PROSE_MAX,
            true,
        ));
        if d.participant_scores.len() > MAX_PARTICIPANTS {
            v.add(
                f("participant_scores"),
                format!("at most {MAX_PARTICIPANTS}"),
            );
        }
        let mut participants = Vec::new();
        for (j, p) in d.participant_scores.iter().enumerate() {
            let pf = format!("assessment.domains[{i}].participant_scores[{j}]");
            let label = v.take(validate::line(
                &format!("{pf}.participant"),
                &p.participant,
                SHORT_MAX,
                true,
            ));
            if !(MIN_SCORE..=MAX_SCORE).contains(&p.score) {
                v.add(
                    format!("{pf}.score"),
                    format!("from {MIN_SCORE} to {MAX_SCORE}"),
                );
            }
            if let Some(label) = label {
                participants.push((label, p.score));
            }
        }
        if let Some(domain) = domain {
            if domains.iter().any(|x| x.domain == domain) {
                v.add(f("domain"), "each domain is scored once");
            } else {
                domains.push(DomainScore {
                    domain,
                    score: d.score,
                    justification: justification.unwrap_or_default(),
                    participant_scores: participants,
                });
            }
        }
    }
    let rest_valid = v.is_empty() && organization_id.is_ok() && assessed_on.is_ok();
    if rest_valid && domains.len() != DOMAINS.len() {
        let missing: Vec<_> = DOMAINS
            .iter()
            .filter(|d| !domains.iter().any(|x| x.domain == **d))
            .map(|d| d.as_str_name())
            .collect();
        v.add(
            "assessment.domains",
            format!(
                "all seven OCA domains are required; missing {}",
                missing.join(", ")
            ),
        );
    }
    domains.sort_by_key(|d| DOMAINS.iter().position(|x| *x == d.domain));
    if a.action_plan.len() > MAX_ACTIONS {
        v.add(
            "assessment.action_plan",
            format!("at most {MAX_ACTIONS} items"),
        );
    }
    let mut action_plan = Vec::new();
    for (i, item) in a.action_plan.iter().enumerate() {
        let f = |name: &str| format!("assessment.action_plan[{i}].{name}");
        let domain = v
            .take(validate::enumeration::<CapacityDomain>(
                &f("domain"),
                item.domain,
                true,
            ))
            .flatten();
        let gap = v.take(validate::prose(&f("gap"), &item.gap, PROSE_MAX, true));
        let action = v.take(validate::prose(&f("action"), &item.action, PROSE_MAX, true));
        let due_date = v.take(Date::required(&f("due_date"), item.due_date.as_ref()));
        let owner = v.take(validate::line(&f("owner"), &item.owner, SHORT_MAX, false));
        if let (Some(domain), Some(gap), Some(action), Some(due_date), Some(owner)) =
            (domain, gap, action, due_date, owner)
        {
            action_plan.push(ActionItem {
                domain,
                gap,
                action,
                due_date,
                owner,
            });
        }
    }
    let (organization_id, assessed_on, notes, ()) = (
        organization_id,
        assessed_on,
        validate::prose("assessment.notes", &a.notes, PROSE_MAX, false),
        v.finish(),
    )
        .all()?;
    Ok(AssessmentSpec {
        organization_id,
        assessed_on,
        domains,
        action_plan,
        notes,
    })
}

/// Highest minus lowest participant score: 0 is full consensus.
pub fn consensus_spread(participants: &[(String, i32)]) -> i32 {
    let scores = participants.iter().map(|(_, s)| *s);
    match (scores.clone().max(), scores.min()) {
        (Some(hi), Some(lo)) => hi - lo,
        _ => 0,
    }
}

/// Mean of the domain scores.
pub fn average_score(domains: &[DomainScore]) -> f64 {
    if domains.is_empty() {
        return 0.0;
    }
    domains.iter().map(|d| f64::from(d.score)).sum::<f64>() / domains.len() as f64
}

/// Per domain of `current`: the change from `previous` (domain, score) and
/// whether there was a previous score to compare with.
pub fn changes(
    current: &[DomainScore],
    previous: Option<&[(CapacityDomain, i32)]>,
) -> Vec<(i32, bool)> {
    current
        .iter()
        .map(
            |d| match previous.and_then(|p| p.iter().find(|(dom, _)| *dom == d.domain)) {
                Some((_, before)) => (d.score - before, true),
                None => (0, false),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncubationStatus as S;

    const ALL: [S; 6] = [
        S::Unspecified,
        S::None,
        S::Applicant,
        S::Incubated,
        S::Graduated,
        S::Withdrawn,
    ];

    #[test]
    fn incubation_follows_its_life_cycle_and_nothing_else() {
        let allowed = [
            (S::None, S::Applicant),
            (S::Withdrawn, S::Applicant),
            (S::Applicant, S::Incubated),
            (S::Applicant, S::Withdrawn),
            (S::Incubated, S::Graduated),
            (S::Incubated, S::Withdrawn),
            (S::Graduated, S::Withdrawn),
        ];
        for from in ALL {
            for to in ALL {
                let ok = check_transition(from, to, "a reason").is_ok();
                assert_eq!(ok, allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
        assert!(matches!(
            check_transition(S::Applicant, S::Withdrawn, " "),
            Err(Error::InvalidArgument(_))
        ));
    }

    fn full_assessment() -> api::Assessment {
        api::Assessment {
            organization_id: "0190d3b4-5c1a-7000-8000-000000000001".into(),
            assessed_on: Some(markaz_proto::common::v1::Date {
                year: 2026,
                month: 3,
                day: 1,
            }),
            domains: DOMAINS
                .iter()
                .enumerate()
                .map(|(i, d)| api::DomainAssessment {
                    domain: *d as i32,
                    score: (i as i32 % 4) + 1,
                    justification: "تبرير".into(),
                    participant_scores: vec![
                        api::ParticipantScore {
                            participant: "director".into(),
                            score: 1,
                        },
                        api::ParticipantScore {
                            participant: "finance".into(),
                            score: 3,
                        },
                    ],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn an_assessment_needs_every_domain_once_with_scores_one_to_four() {
        let spec = parse_assessment(Some(&full_assessment())).unwrap();
        assert_eq!(spec.domains.len(), 7);
        assert_eq!(consensus_spread(&spec.domains[0].participant_scores), 2);

        let mut missing = full_assessment();
        missing.domains.pop();
        let Error::InvalidArgument(v) = parse_assessment(Some(&missing)).unwrap_err() else {
            panic!()
        };
        assert!(v[0].description.contains("PROJECT_PERFORMANCE"), "{v:?}");

        let mut twice = full_assessment();
        twice.domains[1].domain = twice.domains[0].domain;
        assert!(parse_assessment(Some(&twice)).is_err());

        let mut bad = full_assessment();
        bad.domains[2].score = 5;
        bad.domains[3].participant_scores[0].score = 0;
        let Error::InvalidArgument(v) = parse_assessment(Some(&bad)).unwrap_err() else {
            panic!()
        };
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "assessment.domains[2].score",
                "assessment.domains[3].participant_scores[0].score"
            ]
        );
    }

    #[test]
    fn change_is_measured_against_the_previous_assessment() {
        let spec = parse_assessment(Some(&full_assessment())).unwrap();
        let previous: Vec<_> = spec.domains.iter().map(|d| (d.domain, 2)).take(3).collect();
        let c = changes(&spec.domains, Some(&previous));
        assert_eq!(c[0], (spec.domains[0].score - 2, true));
        assert_eq!(c[5], (0, false));
        assert!(changes(&spec.domains, None).iter().all(|(_, had)| !had));
        assert!((average_score(&spec.domains) - 16.0 / 7.0).abs() < 1e-9);
    }

    #[test]
    fn erasure_keeps_only_aggregate_fields() {
        let p = PersonFields {
            full_name: "فاطمة".into(),
            gender: Gender::Female,
            age_band: AgeBand::AgeBand2534,
            phone: "+963 944 000 000".into(),
            email: "f@example.org".into(),
            branch_id: "raqqa".into(),
            legal_basis: LegalBasis::Consent,
            processing_purpose: "training".into(),
        };
        let e = erased(&p);
        assert!(e.full_name.is_empty() && e.phone.is_empty() && e.email.is_empty());
        assert_eq!((e.gender, e.age_band), (p.gender, p.age_band));
    }

    #[test]
    fn identifiers_follow_the_iati_shape() {
        assert!(parse_identifier("i", "SY-CSSC-0001").is_ok());
        assert!(parse_identifier("i", "nohyphen").is_err());
        assert!(parse_identifier("i", "A--1").is_err());
        assert_eq!(generated_identifier("MKZ-RQ", 7), "MKZ-RQ-0007");
    }
}
