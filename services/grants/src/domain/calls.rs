//! Calls: the call's life cycle, its fields (money, eligibility rules,
//! rubric, dates) and what may change once it is open.

use std::cmp::Ordering;

use markaz_kit::error::{AllValid, Error, FieldViolation, Result, Violations};
use markaz_kit::money::{self, Currency, Money, Sign};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::{IncubationStatus, LocalizedText, OrganizationKind};
use markaz_proto::grants::v1 as api;

use super::{
    CallState, MAX_CRITERIA, MAX_LIST, MAX_SCORE, MAX_THEMES, MAX_WEIGHT, NAME_MAX, PROSE_MAX,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAction {
    Edit,
    EditRules,
    Open,
    Close,
    Submit,
}

/// The call life cycle: draft → open → closed. In a draft everything may
/// change; once open only presentation and the closing date.
pub fn call_transition(from: CallState, action: CallAction) -> Result<CallState> {
    use CallAction as C;
    let to = match (from, action) {
        (CallState::Draft, C::Edit | C::EditRules) => Some(CallState::Draft),
        (CallState::Open, C::Edit) => Some(CallState::Open),
        (CallState::Draft, C::Open) => Some(CallState::Open),
        (CallState::Open, C::Close) => Some(CallState::Closed),
        (CallState::Open, C::Submit) => Some(CallState::Open),
        _ => None,
    };
    to.ok_or_else(|| {
        let word = call_word(from);
        let why = match action {
            C::Edit => format!("a call that is {word} cannot be changed"),
            C::EditRules => format!(
                "a call that is {word} keeps its money, eligibility, rubric and blind review: \
                 every applicant is judged by the rules it opened with"
            ),
            C::Open => format!("a call that is {word} cannot be opened; only a draft"),
            C::Close => format!("a call that is {word} cannot be closed; only an open one"),
            C::Submit => format!("the call is {word}: it does not accept proposals"),
        };
        Error::precondition("CALL_STATE", "call.state", why)
    })
}

pub fn call_word(s: CallState) -> &'static str {
    match s {
        CallState::Unspecified => "unspecified",
        CallState::Draft => "a draft",
        CallState::Open => "open",
        CallState::Closed => "closed",
    }
}

/// Submission needs an open call and today within its dates.
pub fn check_submission_window(
    state: CallState,
    opens_on: Date,
    closes_on: Date,
    today: Date,
) -> Result<()> {
    call_transition(state, CallAction::Submit)?;
    if today < opens_on {
        return Err(Error::precondition(
            "CALL_NOT_YET_OPEN",
            "call.opens_on",
            format!("the call accepts proposals from {opens_on}"),
        ));
    }
    if today > closes_on {
        return Err(Error::precondition(
            "CALL_DEADLINE_PASSED",
            "call.closes_on",
            format!("the call closed for submissions on {closes_on}"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    pub incubation_statuses: Vec<IncubationStatus>,
    pub branch_ids: Vec<String>,
    pub organization_kinds: Vec<OrganizationKind>,
    pub required_course_topic: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub code: String,
    pub name: LocalizedText,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub code: String,
    pub name: LocalizedText,
    pub guidance: LocalizedText,
    pub weight: i32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rubric {
    pub max_score: i32,
    pub criteria: Vec<Criterion>,
}

impl Rubric {
    /// The highest weighted total a sheet can reach.
    pub fn max_total(&self) -> i64 {
        i64::from(self.max_score)
            * self
                .criteria
                .iter()
                .map(|c| i64::from(c.weight))
                .sum::<i64>()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallFields {
    pub title: LocalizedText,
    pub description: LocalizedText,
    pub themes: Vec<Theme>,
    pub envelope: Money,
    pub ceiling: Money,
    pub opens_on: Date,
    pub closes_on: Date,
    pub rules: Rules,
    pub rubric: Rubric,
    pub blind: bool,
}

impl CallFields {
    pub fn currency(&self) -> Currency {
        self.envelope.currency()
    }
}

pub const CALL_MASK: &[&str] = &[
    "title",
    "description",
    "themes",
    "budget_envelope",
    "project_ceiling",
    "opens_on",
    "closes_on",
    "eligibility",
    "rubric",
    "blind_review",
];

/// What an open call may still change.
pub const CALL_OPEN_MASK: &[&str] = &["title", "description", "closes_on"];

pub fn merge_call(onto: &mut api::Call, from: &api::Call, mask: &[&str]) {
    for path in mask {
        match *path {
            "title" => onto.title = from.title.clone(),
            "description" => onto.description = from.description.clone(),
            "themes" => onto.themes = from.themes.clone(),
            "budget_envelope" => onto.budget_envelope = from.budget_envelope.clone(),
            "project_ceiling" => onto.project_ceiling = from.project_ceiling.clone(),
            "opens_on" => onto.opens_on = from.opens_on,
            "closes_on" => onto.closes_on = from.closes_on,
            "eligibility" => onto.eligibility = from.eligibility.clone(),
            "rubric" => onto.rubric = from.rubric.clone(),
            "blind_review" => onto.blind_review = from.blind_review,
            _ => {}
        }
    }
}

/// Parses the settable fields of a call (not `program_id`).
pub fn parse_call(c: &api::Call) -> Result<CallFields> {
    let title = validate::localized("call.title", c.title.as_ref(), NAME_MAX, true);
    let description =
        validate::localized("call.description", c.description.as_ref(), PROSE_MAX, false);
    let themes = parse_themes(&c.themes);
    let envelope = money::amount(
        "call.budget_envelope",
        c.budget_envelope.as_ref(),
        Sign::Positive,
    );
    let ceiling = money::amount(
        "call.project_ceiling",
        c.project_ceiling.as_ref(),
        Sign::Positive,
    );
    let within = match (&envelope, &ceiling) {
        (Ok(e), Ok(c)) => match c.checked_cmp(e) {
            Err(_) => Err(FieldViolation::new(
                "call.project_ceiling.currency_code",
                format!(
                    "a call has one currency: the envelope is in {}",
                    e.currency()
                ),
            )),
            Ok(Ordering::Greater) => Err(FieldViolation::new(
                "call.project_ceiling",
                format!("{c} is more than the whole envelope of {e}"),
            )),
            Ok(_) => Ok(()),
        },
        _ => Ok(()),
    };
    let opens_on = Date::required("call.opens_on", c.opens_on.as_ref());
    let closes_on = Date::required("call.closes_on", c.closes_on.as_ref());
    let in_order = match (&opens_on, &closes_on) {
        (Ok(o), Ok(cl)) if cl < o => Err(FieldViolation::new(
            "call.closes_on",
            format!("before the opening date {o}"),
        )),
        _ => Ok(()),
    };
    let (
        (title, description, themes),
        (envelope, ceiling, ()),
        (opens_on, closes_on, ()),
        rules,
        rubric,
    ) = (
        (title, description, themes).all(),
        (envelope, ceiling, within).all(),
        (opens_on, closes_on, in_order).all(),
        parse_rules(c.eligibility.as_ref()),
        parse_rubric(c.rubric.as_ref()),
    )
        .all()?;
    Ok(CallFields {
        title,
        description,
        themes,
        envelope,
        ceiling,
        opens_on,
        closes_on,
        rules,
        rubric,
        blind: c.blind_review,
    })
}

/// A call's themes: each with a code of its own and a name.
fn parse_themes(sent: &[api::Theme]) -> Result<Vec<Theme>> {
    let mut v = Violations::new();
    if sent.len() > MAX_THEMES {
        v.add("call.themes", format!("at most {MAX_THEMES}"));
    }
    let mut themes: Vec<Theme> = Vec::new();
    for (i, t) in sent.iter().enumerate() {
        let f = |n: &str| format!("call.themes[{i}].{n}");
        let code = v.take(validate::slug(&f("code"), &t.code, 40));
        let name = v.take_many(validate::localized(
            &f("name"),
            t.name.as_ref(),
            NAME_MAX,
            true,
        ));
        if let (Some(code), Some(name)) = (code, name) {
            if themes.iter().any(|x| x.code == code) {
                v.add(f("code"), format!("'{code}' appears twice"));
            } else {
                themes.push(Theme { code, name });
            }
        }
    }
    v.finish()?;
    Ok(themes)
}

fn parse_rules(r: Option<&api::EligibilityRules>) -> Result<Rules> {
    let empty = api::EligibilityRules::default();
    let r = r.unwrap_or(&empty);
    let f = |n: &str| format!("call.eligibility.{n}");
    let mut v = Violations::new();
    let mut rules = Rules::default();
    for (name, len) in [
        ("incubation_statuses", r.incubation_statuses.len()),
        ("branch_ids", r.branch_ids.len()),
        ("organization_kinds", r.organization_kinds.len()),
    ] {
        if len > MAX_LIST {
            v.add(f(name), format!("at most {MAX_LIST}"));
        }
    }
    for (i, s) in r.incubation_statuses.iter().enumerate() {
        if let Some(Some(s)) = v.take(validate::enumeration::<IncubationStatus>(
            &format!("{}[{i}]", f("incubation_statuses")),
            *s,
            true,
        )) && !rules.incubation_statuses.contains(&s)
        {
            rules.incubation_statuses.push(s);
        }
    }
    for (i, b) in r.branch_ids.iter().enumerate() {
        if let Some(b) = v.take(validate::slug(&format!("{}[{i}]", f("branch_ids")), b, 40))
            && !rules.branch_ids.contains(&b)
        {
            rules.branch_ids.push(b);
        }
    }
    for (i, k) in r.organization_kinds.iter().enumerate() {
        if let Some(Some(k)) = v.take(validate::enumeration::<OrganizationKind>(
            &format!("{}[{i}]", f("organization_kinds")),
            *k,
            true,
        )) && !rules.organization_kinds.contains(&k)
        {
            rules.organization_kinds.push(k);
        }
    }
    if !r.required_course_topic.is_empty()
        && let Some(t) = v.take(validate::slug(
            &f("required_course_topic"),
            &r.required_course_topic,
            60,
        ))
    {
        rules.required_course_topic = t;
    }
    v.finish()?;
    Ok(rules)
}

fn parse_rubric(r: Option<&api::Rubric>) -> Result<Rubric> {
    let empty = api::Rubric::default();
    let r = r.unwrap_or(&empty);
    let mut v = Violations::new();
    if r.criteria.is_empty() && r.max_score == 0 {
        // No rubric yet (a draft call); opening the call requires one.
        return Ok(Rubric::default());
    }
    if !(1..=MAX_SCORE).contains(&r.max_score) {
        v.add("call.rubric.max_score", format!("from 1 to {MAX_SCORE}"));
    }
    if r.criteria.len() > MAX_CRITERIA {
        v.add("call.rubric.criteria", format!("at most {MAX_CRITERIA}"));
    }
    let mut criteria: Vec<Criterion> = Vec::new();
    for (i, c) in r.criteria.iter().enumerate() {
        let f = |n: &str| format!("call.rubric.criteria[{i}].{n}");
        let code = v.take(validate::slug(&f("code"), &c.code, 40));
        let name = v.take_many(validate::localized(
            &f("name"),
            c.name.as_ref(),
            NAME_MAX,
            true,
        ));
        let guidance = v.take_many(validate::localized(
            &f("guidance"),
            c.guidance.as_ref(),
            PROSE_MAX,
            false,
        ));
        if !(1..=MAX_WEIGHT).contains(&c.weight) {
            v.add(f("weight"), format!("from 1 to {MAX_WEIGHT}"));
        }
        if let (Some(code), Some(name), Some(guidance)) = (code, name, guidance) {
            if criteria.iter().any(|x| x.code == code) {
                v.add(f("code"), format!("'{code}' appears twice"));
            } else {
                criteria.push(Criterion {
                    code,
                    name,
                    guidance,
                    weight: c.weight,
                });
            }
        }
    }
    v.finish()?;
    Ok(Rubric {
        max_score: r.max_score,
        criteria,
    })
}

/// Opening needs a rubric: reviewers score against it.
pub fn check_openable(call: &CallFields) -> Result<()> {
    if call.rubric.criteria.is_empty() {
        return Err(Error::precondition(
            "RUBRIC_MISSING",
            "call.rubric",
            "a call opens with a rubric of at least one criterion",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_open_once_and_freeze_their_rules() {
        use CallAction as C;
        assert_eq!(
            call_transition(CallState::Draft, C::Open).unwrap(),
            CallState::Open
        );
        assert!(call_transition(CallState::Open, C::Edit).is_ok());
        assert!(call_transition(CallState::Open, C::EditRules).is_err());
        assert!(call_transition(CallState::Closed, C::Edit).is_err());
        assert!(call_transition(CallState::Closed, C::Open).is_err());
        assert!(call_transition(CallState::Draft, C::Submit).is_err());
        let d = |s| Date::parse(s).unwrap();
        let (o, c) = (d("2026-01-01"), d("2026-02-01"));
        assert!(check_submission_window(CallState::Open, o, c, d("2026-01-15")).is_ok());
        assert!(check_submission_window(CallState::Open, o, c, d("2026-02-01")).is_ok());
        assert!(check_submission_window(CallState::Open, o, c, d("2026-02-02")).is_err());
        assert!(check_submission_window(CallState::Open, o, c, d("2025-12-31")).is_err());
        assert!(check_submission_window(CallState::Closed, o, c, d("2026-01-15")).is_err());
    }
}
