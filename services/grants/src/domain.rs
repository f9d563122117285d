//! Grants' rules, as plain functions over plain types: no I/O.
//!
//! * the proposal life cycle ([`transition`]) and the call's ([`call_transition`]);
//! * requests *parsed* into values that exist only when valid
//!   ([`ProgramFields`], [`CallFields`], [`ProposalFields`], ...), with every
//!   bad field reported at once;
//! * eligibility ([`unmet`]) over the service's copy of membership's and
//!   capacity's facts;
//! * the rubric's arithmetic and the ranking, in integers;
//! * the award's money ([`Ledger`]): tranches tied to milestones,
//!   disbursements, spending per budget line, reallocations — with totals
//!   that cannot drift.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use markaz_kit::error::{Error, FieldViolation, Result, Violations};
use markaz_kit::money::{self, Currency, Money, Sign};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::{IncubationStatus, LocalizedText, OrganizationKind, Sector};
use markaz_proto::grants::v1 as api;

pub use api::{
    AssignmentState, BudgetCategory, CallState, Decision, ProposalState, ReportKind, ReportState,
    ReviewOutcome, TrancheState, VariationState,
};

pub const NAME_MAX: usize = 200;
pub const SHORT_MAX: usize = 100;
pub const PROSE_MAX: usize = 4_000;
pub const MAX_THEMES: usize = 30;
pub const MAX_CRITERIA: usize = 20;
pub const MAX_WEIGHT: i32 = 100;
pub const MAX_SCORE: i32 = 100;
pub const MAX_BUDGET_LINES: usize = 50;
pub const MAX_MILESTONES: usize = 20;
pub const MAX_PEOPLE: i64 = 10_000_000;
pub const MAX_LIST: usize = 20;

// ============================================================ life cycles

/// What may happen to a proposal. Besides the moves between states, the
/// activities a state allows (editing, scoring, reporting, ...) are in the
/// same table, so one function answers "may this happen now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Edit,
    Submit,
    RequestChanges,
    StartReview,
    AssignReviewer,
    Score,
    Approve,
    Reject,
    Withdraw,
    Award,
    Activate,
    Report,
    Disburse,
    Vary,
    Complete,
    CloseEarly,
}

impl Action {
    pub const ALL: [Action; 16] = [
        Action::Edit,
        Action::Submit,
        Action::RequestChanges,
        Action::StartReview,
        Action::AssignReviewer,
        Action::Score,
        Action::Approve,
        Action::Reject,
        Action::Withdraw,
        Action::Award,
        Action::Activate,
        Action::Report,
        Action::Disburse,
        Action::Vary,
        Action::Complete,
        Action::CloseEarly,
    ];

    /// "a proposal ... cannot be {this}".
    pub fn past(self) -> &'static str {
        match self {
            Action::Edit => "edited",
            Action::Submit => "submitted",
            Action::RequestChanges => "sent back for changes",
            Action::StartReview => "put under review",
            Action::AssignReviewer => "given a reviewer",
            Action::Score => "scored",
            Action::Approve => "approved",
            Action::Reject => "rejected",
            Action::Withdraw => "withdrawn",
            Action::Award => "awarded",
            Action::Activate => "activated",
            Action::Report => "reported on",
            Action::Disburse => "paid a tranche",
            Action::Vary => "varied",
            Action::Complete => "completed",
            Action::CloseEarly => "closed early",
        }
    }
}

use Action as A;
use ProposalState as S;

/// The proposal life cycle: (from, action, to). Everything else is refused.
///
/// The coaching loop runs until the decision: staff may send a proposal
/// back for changes once it is submitted and also while it is under review
/// (a reviewer's question the applicant can answer is better answered by a
/// revision than a rejection); the revision is submitted again as a new
/// version, and scores given to an earlier version stop counting. An
/// approved proposal that will not be awarded (the applicant declines, the
/// envelope ran out) is withdrawn, with a reason.
pub const TRANSITIONS: &[(ProposalState, Action, ProposalState)] = &[
    (S::Draft, A::Edit, S::Draft),
    (S::ChangesRequested, A::Edit, S::ChangesRequested),
    (S::Draft, A::Submit, S::Submitted),
    (S::ChangesRequested, A::Submit, S::Submitted),
    (S::Submitted, A::RequestChanges, S::ChangesRequested),
    (S::UnderReview, A::RequestChanges, S::ChangesRequested),
    (S::Submitted, A::StartReview, S::UnderReview),
    (S::Submitted, A::AssignReviewer, S::Submitted),
    (S::UnderReview, A::AssignReviewer, S::UnderReview),
    (S::UnderReview, A::Score, S::UnderReview),
    (S::UnderReview, A::Approve, S::Approved),
    (S::Submitted, A::Reject, S::Rejected),
    (S::UnderReview, A::Reject, S::Rejected),
    (S::Draft, A::Withdraw, S::Withdrawn),
    (S::Submitted, A::Withdraw, S::Withdrawn),
    (S::ChangesRequested, A::Withdraw, S::Withdrawn),
    (S::UnderReview, A::Withdraw, S::Withdrawn),
    (S::Approved, A::Withdraw, S::Withdrawn),
    (S::Approved, A::Award, S::Awarded),
    (S::Awarded, A::Activate, S::Active),
    (S::Active, A::Report, S::Active),
    (S::Active, A::Disburse, S::Active),
    (S::Awarded, A::Vary, S::Awarded),
    (S::Active, A::Vary, S::Active),
    (S::Active, A::Complete, S::Completed),
    (S::Awarded, A::CloseEarly, S::ClosedEarly),
    (S::Active, A::CloseEarly, S::ClosedEarly),
];

/// The state after `action`, or FAILED_PRECONDITION saying why not.
pub fn transition(from: ProposalState, action: Action) -> Result<ProposalState> {
    if let Some((_, _, to)) = TRANSITIONS
        .iter()
        .find(|(f, a, _)| *f == from && *a == action)
    {
        return Ok(*to);
    }
    let allowed: Vec<&str> = TRANSITIONS
        .iter()
        .filter(|(_, a, _)| *a == action)
        .map(|(f, _, _)| state_word(*f))
        .collect();
    Err(Error::precondition(
        "PROPOSAL_STATE",
        "proposal.state",
        format!(
            "a proposal that is {} cannot be {}; only one that is {}",
            state_word(from),
            action.past(),
            allowed.join(" or ")
        ),
    ))
}

pub fn state_word(s: ProposalState) -> &'static str {
    match s {
        S::Unspecified => "unspecified",
        S::Draft => "a draft",
        S::Submitted => "submitted",
        S::ChangesRequested => "waiting for requested changes",
        S::UnderReview => "under review",
        S::Approved => "approved",
        S::Rejected => "rejected",
        S::Withdrawn => "withdrawn",
        S::Awarded => "awarded",
        S::Active => "active",
        S::Completed => "completed",
        S::ClosedEarly => "closed early",
    }
}

/// Whether the applicant may still change its mind or its text.
pub fn before_decision(s: ProposalState) -> bool {
    matches!(
        s,
        S::Draft | S::Submitted | S::ChangesRequested | S::UnderReview
    )
}

/// A withdrawal says why once the proposal was approved: the decision is on
/// record, and so is what undid it.
pub fn check_withdrawal(from: ProposalState, reason: &str) -> Result<()> {
    if from == S::Approved && reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "required to withdraw an approved proposal: why it will not be awarded",
        ));
    }
    Ok(())
}

/// Coaching (notes, naming coaches) ends with the decision.
pub fn check_coaching_open(s: ProposalState) -> Result<()> {
    if before_decision(s) {
        Ok(())
    } else {
        Err(Error::precondition(
            "COACHING_CLOSED",
            "proposal.state",
            format!(
                "coaching ends with the decision; the proposal is {}",
                state_word(s)
            ),
        ))
    }
}

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

// ============================================================== programs

#[derive(Debug, Clone, PartialEq)]
pub struct ProgramFields {
    pub name: LocalizedText,
    pub description: LocalizedText,
}

pub const PROGRAM_MASK: &[&str] = &["name", "description"];

pub fn parse_program(p: &api::Program) -> Result<ProgramFields> {
    let mut v = Violations::new();
    let name = v.take_many(validate::localized(
        "program.name",
        p.name.as_ref(),
        NAME_MAX,
        true,
    ));
    let description = v.take_many(validate::localized(
        "program.description",
        p.description.as_ref(),
        PROSE_MAX,
        false,
    ));
    v.finish()?;
    Ok(ProgramFields {
        name: name.expect("checked"),
        description: description.expect("checked"),
    })
}

pub fn merge_program(onto: &mut api::Program, from: &api::Program, mask: &[&str]) {
    for path in mask {
        match *path {
            "name" => onto.name = from.name.clone(),
            "description" => onto.description = from.description.clone(),
            _ => {}
        }
    }
}

// ================================================================= calls

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
    let mut v = Violations::new();
    let title = v.take_many(validate::localized(
        "call.title",
        c.title.as_ref(),
        NAME_MAX,
        true,
    ));
    let description = v.take_many(validate::localized(
        "call.description",
        c.description.as_ref(),
        PROSE_MAX,
        false,
    ));
    if c.themes.len() > MAX_THEMES {
        v.add("call.themes", format!("at most {MAX_THEMES}"));
    }
    let mut themes: Vec<Theme> = Vec::new();
    for (i, t) in c.themes.iter().enumerate() {
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
    let envelope = v.take_many(money::amount(
        "call.budget_envelope",
        c.budget_envelope.as_ref(),
        Sign::Positive,
    ));
    let ceiling = v.take_many(money::amount(
        "call.project_ceiling",
        c.project_ceiling.as_ref(),
        Sign::Positive,
    ));
    if let (Some(e), Some(c)) = (envelope, ceiling) {
        match c.checked_cmp(&e) {
            Err(_) => v.add(
                "call.project_ceiling.currency_code",
                format!(
                    "a call has one currency: the envelope is in {}",
                    e.currency()
                ),
            ),
            Ok(Ordering::Greater) => v.add(
                "call.project_ceiling",
                format!("{c} is more than the whole envelope of {e}"),
            ),
            Ok(_) => {}
        }
    }
    let opens_on = v.take(Date::required("call.opens_on", c.opens_on.as_ref()));
    let closes_on = v.take(Date::required("call.closes_on", c.closes_on.as_ref()));
    if let (Some(o), Some(cl)) = (opens_on, closes_on)
        && cl < o
    {
        v.add("call.closes_on", format!("before the opening date {o}"));
    }
    let rules = v.absorb("call.eligibility", parse_rules(c.eligibility.as_ref()));
    let rubric = v.absorb("call.rubric", parse_rubric(c.rubric.as_ref()));
    v.finish()?;
    Ok(CallFields {
        title: title.expect("checked"),
        description: description.expect("checked"),
        themes,
        envelope: envelope.expect("checked"),
        ceiling: ceiling.expect("checked"),
        opens_on: opens_on.expect("checked"),
        closes_on: closes_on.expect("checked"),
        rules: rules.expect("checked"),
        rubric: rubric.expect("checked"),
        blind: c.blind_review,
    })
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

// =========================================================== eligibility

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

// ============================================================= proposals

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct People {
    pub female: i64,
    pub male: i64,
    pub undisclosed: i64,
}

impl People {
    pub fn total(&self) -> i64 {
        self.female + self.male + self.undisclosed
    }

    pub fn plus(&self, o: &People) -> People {
        People {
            female: self.female + o.female,
            male: self.male + o.male,
            undisclosed: self.undisclosed + o.undisclosed,
        }
    }
}

pub fn parse_people(field: &str, b: Option<&api::Beneficiaries>) -> Result<People> {
    let empty = api::Beneficiaries::default();
    let b = b.unwrap_or(&empty);
    let mut v = Violations::new();
    for (name, n) in [
        ("female", b.female),
        ("male", b.male),
        ("undisclosed", b.undisclosed),
    ] {
        if !(0..=MAX_PEOPLE).contains(&n) {
            v.add(format!("{field}.{name}"), format!("from 0 to {MAX_PEOPLE}"));
        }
    }
    v.finish()?;
    Ok(People {
        female: b.female,
        male: b.male,
        undisclosed: b.undisclosed,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetLine {
    pub category: BudgetCategory,
    pub description: LocalizedText,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    pub title: LocalizedText,
    pub due_date: Date,
    pub deliverables: LocalizedText,
}

/// A proposal's content. A draft may be incomplete ([`missing`] says what
/// submission still needs); what is there is always valid.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalFields {
    pub title: LocalizedText,
    pub summary: LocalizedText,
    pub community_need: LocalizedText,
    pub governorate: String,
    pub place: LocalizedText,
    pub sector: Option<Sector>,
    pub theme_code: String,
    pub targeted: People,
    pub budget: Vec<BudgetLine>,
    pub milestones: Vec<Milestone>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}

impl ProposalFields {
    /// The sum of the budget lines (all in the call's currency).
    pub fn total(&self, currency: Currency) -> Result<Money> {
        Ok(money::sum(currency, self.budget.iter().map(|l| l.amount))?)
    }
}

/// What a call imposes on its proposals' content.
#[derive(Debug, Clone, PartialEq)]
pub struct CallTerms {
    pub ceiling: Money,
    pub theme_codes: Vec<String>,
}

pub const PROPOSAL_MASK: &[&str] = &[
    "title",
    "summary",
    "community_need",
    "location",
    "sector",
    "theme_code",
    "beneficiaries_targeted",
    "budget_lines",
    "milestones",
    "start_date",
    "end_date",
];

pub fn merge_proposal(onto: &mut api::Proposal, from: &api::Proposal, mask: &[&str]) {
    for path in mask {
        match *path {
            "title" => onto.title = from.title.clone(),
            "summary" => onto.summary = from.summary.clone(),
            "community_need" => onto.community_need = from.community_need.clone(),
            "location" => onto.location = from.location.clone(),
            "sector" => onto.sector = from.sector,
            "theme_code" => onto.theme_code = from.theme_code.clone(),
            "beneficiaries_targeted" => onto.beneficiaries_targeted = from.beneficiaries_targeted,
            "budget_lines" => onto.budget_lines = from.budget_lines.clone(),
            "milestones" => onto.milestones = from.milestones.clone(),
            "start_date" => onto.start_date = from.start_date,
            "end_date" => onto.end_date = from.end_date,
            _ => {}
        }
    }
}

/// The currency amounts must share: `expected` when known (the call's, the
/// award's), else the first one met (the award is not known: its id is bad);
/// an amount in another is a violation of `{field}.currency_code`.
fn one_currency(
    v: &mut Violations,
    expected: &mut Option<Currency>,
    field: &str,
    amount: Money,
) -> bool {
    match *expected {
        Some(c) if c != amount.currency() => {
            v.add(
                format!("{field}.currency_code"),
                format!(
                    "the amounts are in {c}; {} cannot be mixed in",
                    amount.currency()
                ),
            );
            false
        }
        Some(_) => true,
        None => {
            *expected = Some(amount.currency());
            true
        }
    }
}

/// Parses a budget (proposal or variation): positive lines in one currency
/// (`currency` when known), reported under `field[i]`.
pub fn parse_budget(
    field: &str,
    lines: &[api::BudgetLine],
    currency: Option<Currency>,
) -> Result<Vec<BudgetLine>> {
    let mut currency = currency;
    let mut v = Violations::new();
    if lines.len() > MAX_BUDGET_LINES {
        v.add(field, format!("at most {MAX_BUDGET_LINES} lines"));
    }
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let f = |n: &str| format!("{field}[{i}].{n}");
        let category = v
            .take(validate::enumeration::<BudgetCategory>(
                &f("category"),
                l.category,
                true,
            ))
            .flatten();
        let description = v.take_many(validate::localized(
            &f("description"),
            l.description.as_ref(),
            NAME_MAX,
            true,
        ));
        let amount = v.take_many(money::amount(
            &f("amount"),
            l.amount.as_ref(),
            Sign::Positive,
        ));
        if let Some(a) = amount
            && !one_currency(&mut v, &mut currency, &f("amount"), a)
        {
            continue;
        }
        if let (Some(category), Some(description), Some(amount)) = (category, description, amount) {
            out.push(BudgetLine {
                category,
                description,
                amount,
            });
        }
    }
    v.finish()?;
    if let Some(currency) = currency {
        running_total(
            Money::zero(currency),
            out.iter()
                .enumerate()
                .map(|(i, l)| (format!("{field}[{i}].amount"), l.amount)),
            "the budget's total is too large",
        )?;
    }
    Ok(out)
}

/// Parses a proposal's content against its call's terms.
pub fn parse_proposal(p: &api::Proposal, terms: &CallTerms) -> Result<ProposalFields> {
    let currency = terms.ceiling.currency();
    let mut v = Violations::new();
    let text = |v: &mut Violations, name: &str, t: Option<&LocalizedText>, max, required| {
        v.take_many(validate::localized(
            &format!("proposal.{name}"),
            t,
            max,
            required,
        ))
    };
    let title = text(&mut v, "title", p.title.as_ref(), NAME_MAX, true);
    let summary = text(&mut v, "summary", p.summary.as_ref(), PROSE_MAX, false);
    let need = text(
        &mut v,
        "community_need",
        p.community_need.as_ref(),
        PROSE_MAX,
        false,
    );
    let empty_location = api::Location::default();
    let location = p.location.as_ref().unwrap_or(&empty_location);
    let governorate = v.take(validate::line(
        "proposal.location.governorate",
        &location.governorate,
        SHORT_MAX,
        false,
    ));
    let place = text(
        &mut v,
        "location.place",
        location.place.as_ref(),
        NAME_MAX,
        false,
    );
    let sector = v
        .take(validate::enumeration::<Sector>(
            "proposal.sector",
            p.sector,
            false,
        ))
        .flatten();
    let theme_code = if p.theme_code.is_empty() {
        Some(String::new())
    } else if !terms.theme_codes.contains(&p.theme_code) {
        v.add(
            "proposal.theme_code",
            format!(
                "not a theme of the call; one of: {}",
                if terms.theme_codes.is_empty() {
                    "(the call has no themes)".to_string()
                } else {
                    terms.theme_codes.join(", ")
                }
            ),
        );
        None
    } else {
        Some(p.theme_code.clone())
    };
    let targeted = v.absorb(
        "proposal.beneficiaries_targeted",
        parse_people(
            "proposal.beneficiaries_targeted",
            p.beneficiaries_targeted.as_ref(),
        ),
    );
    let budget = v.absorb(
        "proposal.budget_lines",
        parse_budget("proposal.budget_lines", &p.budget_lines, Some(currency)),
    );
    if let Some(budget) = &budget
        && let Ok(total) = money::sum(currency, budget.iter().map(|l| l.amount))
        && total.minor_units() > terms.ceiling.minor_units()
    {
        v.add(
            "proposal.budget_lines",
            format!(
                "the budget totals {total}, more than the call's ceiling of {}",
                terms.ceiling
            ),
        );
    }
    let start_date = v.take(Date::optional("proposal.start_date", p.start_date.as_ref()));
    let end_date = v.take(Date::optional("proposal.end_date", p.end_date.as_ref()));
    if let (Some(Some(s)), Some(Some(e))) = (start_date, end_date)
        && e < s
    {
        v.add("proposal.end_date", format!("before the start date {s}"));
    }
    if p.milestones.len() > MAX_MILESTONES {
        v.add(
            "proposal.milestones",
            format!("at most {MAX_MILESTONES} milestones"),
        );
    }
    let mut milestones: Vec<Milestone> = Vec::new();
    for (i, m) in p.milestones.iter().enumerate() {
        let f = |n: &str| format!("proposal.milestones[{i}].{n}");
        let title = v.take_many(validate::localized(
            &f("title"),
            m.title.as_ref(),
            NAME_MAX,
            true,
        ));
        let due = v.take(Date::required(&f("due_date"), m.due_date.as_ref()));
        let deliverables = v.take_many(validate::localized(
            &f("deliverables"),
            m.deliverables.as_ref(),
            PROSE_MAX,
            true,
        ));
        if let Some(due) = due {
            if let Some(prev) = milestones.last()
                && due < prev.due_date
            {
                v.add(
                    f("due_date"),
                    format!(
                        "before the previous milestone's {}: the work plan is in order",
                        prev.due_date
                    ),
                );
            }
            if let Some(Some(s)) = start_date
                && due < s
            {
                v.add(f("due_date"), format!("before the project starts on {s}"));
            }
            if let Some(Some(e)) = end_date
                && due > e
            {
                v.add(f("due_date"), format!("after the project ends on {e}"));
            }
        }
        if let (Some(title), Some(due_date), Some(deliverables)) = (title, due, deliverables) {
            milestones.push(Milestone {
                title,
                due_date,
                deliverables,
            });
        }
    }
    v.finish()?;
    Ok(ProposalFields {
        title: title.expect("checked"),
        summary: summary.expect("checked"),
        community_need: need.expect("checked"),
        governorate: governorate.expect("checked"),
        place: place.expect("checked"),
        sector,
        theme_code: theme_code.expect("checked"),
        targeted: targeted.expect("checked"),
        budget: budget.expect("checked"),
        milestones,
        start_date: start_date.expect("checked"),
        end_date: end_date.expect("checked"),
    })
}

/// What a proposal still lacks before it can be submitted.
pub fn missing(p: &ProposalFields, terms: &CallTerms) -> Vec<&'static str> {
    let blank = |t: &LocalizedText| t.ar.is_empty() && t.en.is_empty();
    let mut out = Vec::new();
    if blank(&p.summary) {
        out.push("summary");
    }
    if blank(&p.community_need) {
        out.push("community_need");
    }
    if p.governorate.is_empty() && blank(&p.place) {
        out.push("location");
    }
    if p.sector.is_none() {
        out.push("sector");
    }
    if !terms.theme_codes.is_empty() && p.theme_code.is_empty() {
        out.push("theme_code");
    }
    if p.targeted.total() == 0 {
        out.push("beneficiaries_targeted");
    }
    if p.budget.is_empty() {
        out.push("budget_lines");
    }
    if p.milestones.is_empty() {
        out.push("milestones");
    }
    if p.start_date.is_none() {
        out.push("start_date");
    }
    if p.end_date.is_none() {
        out.push("end_date");
    }
    out
}

pub fn check_complete(p: &ProposalFields, terms: &CallTerms) -> Result<()> {
    let missing = missing(p, terms);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::precondition(
            "PROPOSAL_INCOMPLETE",
            "proposal",
            format!(
                "before submission the proposal needs: {}",
                missing.join(", ")
            ),
        ))
    }
}

// ================================================================ review

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewerFields {
    pub person_id: String,
    pub subject: String,
    pub expertise: Vec<Sector>,
}

pub fn parse_reviewer(r: Option<&api::Reviewer>) -> Result<ReviewerFields> {
    let empty = api::Reviewer::default();
    let r = r.unwrap_or(&empty);
    let mut v = Violations::new();
    let person_id = v.take(markaz_kit::rpc::parse_id(
        "reviewer.person_id",
        &r.person_id,
    ));
    let subject = v.take(parse_account("reviewer.subject", &r.subject));
    if r.expertise.len() > MAX_LIST {
        v.add("reviewer.expertise", format!("at most {MAX_LIST}"));
    }
    let mut expertise = Vec::new();
    for (i, s) in r.expertise.iter().enumerate() {
        if let Some(Some(s)) = v.take(validate::enumeration::<Sector>(
            &format!("reviewer.expertise[{i}]"),
            *s,
            true,
        )) && !expertise.contains(&s)
        {
            expertise.push(s);
        }
    }
    v.finish()?;
    Ok(ReviewerFields {
        person_id: person_id.expect("checked"),
        subject: subject.expect("checked"),
        expertise,
    })
}

/// An account: the subject of the tokens a reviewer or a trainer signs in with.
pub fn parse_account(field: &str, subject: &str) -> Result<String, FieldViolation> {
    validate::line(field, subject, SHORT_MAX * 2, true)
}

/// What a conflict of interest is declared against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictTarget {
    Organization(String),
    Proposal(String),
}

pub fn parse_conflict(c: Option<&api::Conflict>) -> Result<(ConflictTarget, String)> {
    let empty = api::Conflict::default();
    let c = c.unwrap_or(&empty);
    let mut v = Violations::new();
    let target = match (c.organization_id.is_empty(), c.proposal_id.is_empty()) {
        (false, true) => v
            .take(markaz_kit::rpc::parse_id(
                "conflict.organization_id",
                &c.organization_id,
            ))
            .map(ConflictTarget::Organization),
        (true, false) => v
            .take(markaz_kit::rpc::parse_id(
                "conflict.proposal_id",
                &c.proposal_id,
            ))
            .map(ConflictTarget::Proposal),
        _ => {
            v.add(
                "conflict",
                "name exactly one of organization_id and proposal_id",
            );
            None
        }
    };
    let reason = v.take(validate::prose(
        "conflict.reason",
        &c.reason,
        PROSE_MAX,
        true,
    ));
    v.finish()?;
    Ok((target.expect("checked"), reason.expect("checked")))
}

/// A reviewer's scores, one per criterion of the rubric, in rubric order.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub scores: Vec<(String, i32, String)>,
    pub comment: String,
}

pub fn parse_sheet(
    scores: &[api::CriterionScore],
    comment: &str,
    rubric: &Rubric,
) -> Result<Sheet> {
    let mut v = Violations::new();
    let mut by_code: Vec<Option<(i32, String)>> = vec![None; rubric.criteria.len()];
    for (i, s) in scores.iter().enumerate() {
        let f = |n: &str| format!("scores[{i}].{n}");
        let Some(pos) = rubric
            .criteria
            .iter()
            .position(|c| c.code == s.criterion_code)
        else {
            v.add(
                f("criterion_code"),
                format!("'{}' is not a criterion of the rubric", s.criterion_code),
            );
            continue;
        };
        if !(0..=rubric.max_score).contains(&s.score) {
            v.add(f("score"), format!("from 0 to {}", rubric.max_score));
        }
        let comment = v.take(validate::prose(&f("comment"), &s.comment, PROSE_MAX, false));
        if by_code[pos].is_some() {
            v.add(
                f("criterion_code"),
                format!("'{}' is scored twice", s.criterion_code),
            );
        } else {
            by_code[pos] = Some((s.score, comment.unwrap_or_default()));
        }
    }
    let comment = v.take(validate::prose("comment", comment, PROSE_MAX, false));
    let unscored: Vec<&str> = rubric
        .criteria
        .iter()
        .zip(&by_code)
        .filter(|(_, s)| s.is_none())
        .map(|(c, _)| c.code.as_str())
        .collect();
    if v.is_empty() && !unscored.is_empty() {
        v.add(
            "scores",
            format!("every criterion is scored; missing {}", unscored.join(", ")),
        );
    }
    v.finish()?;
    Ok(Sheet {
        scores: rubric
            .criteria
            .iter()
            .zip(by_code)
            .map(|(c, s)| {
                let (score, comment) = s.expect("checked");
                (c.code.clone(), score, comment)
            })
            .collect(),
        comment: comment.expect("checked"),
    })
}

/// sum(score × weight) of a sheet.
pub fn weighted_total(rubric: &Rubric, sheet: &Sheet) -> i64 {
    sheet
        .scores
        .iter()
        .map(|(code, score, _)| {
            let weight = rubric
                .criteria
                .iter()
                .find(|c| &c.code == code)
                .map_or(0, |c| c.weight);
            i64::from(*score) * i64::from(weight)
        })
        .sum()
}

/// `sum / (count × max_total)` in basis points, rounded down; 0 without sheets.
pub fn basis_points(sum: i64, count: i64, max_total: i64) -> i32 {
    if count <= 0 || max_total <= 0 {
        return 0;
    }
    (i128::from(sum) * 10_000 / (i128::from(count) * i128::from(max_total))) as i32
}

/// One proposal's sheets that count, for the ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RankInput {
    pub proposal_id: String,
    pub totals: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub proposal_id: String,
    pub rank: i32,
    pub review_count: i32,
    pub basis_points: i32,
}

/// Ranks by the mean weighted total, compared exactly as fractions (no
/// rounding decides an order). Equal means share a rank (1, 2, 2, 4);
/// proposals without a sheet come last with rank 0.
pub fn rank(inputs: Vec<RankInput>, max_total: i64) -> Vec<Ranked> {
    let mut scored: Vec<(RankInput, i64, i64)> = Vec::new();
    let mut unscored: Vec<RankInput> = Vec::new();
    for i in inputs {
        if i.totals.is_empty() {
            unscored.push(i);
        } else {
            let sum: i64 = i.totals.iter().sum();
            let n = i.totals.len() as i64;
            scored.push((i, sum, n));
        }
    }
    let cmp_mean = |a: &(RankInput, i64, i64), b: &(RankInput, i64, i64)| {
        (i128::from(a.1) * i128::from(b.2)).cmp(&(i128::from(b.1) * i128::from(a.2)))
    };
    scored.sort_by(|a, b| {
        cmp_mean(b, a)
            .then(b.2.cmp(&a.2))
            .then(a.0.proposal_id.cmp(&b.0.proposal_id))
    });
    let mut out = Vec::with_capacity(scored.len() + unscored.len());
    for (pos, entry) in scored.iter().enumerate() {
        let rank = if pos > 0 && cmp_mean(&scored[pos - 1], entry) == Ordering::Equal {
            out.last().map_or(1, |r: &Ranked| r.rank)
        } else {
            pos as i32 + 1
        };
        out.push(Ranked {
            proposal_id: entry.0.proposal_id.clone(),
            rank,
            review_count: entry.2 as i32,
            basis_points: basis_points(entry.1, entry.2, max_total),
        });
    }
    unscored.sort_by(|a, b| a.proposal_id.cmp(&b.proposal_id));
    out.extend(unscored.into_iter().map(|u| Ranked {
        proposal_id: u.proposal_id,
        rank: 0,
        review_count: 0,
        basis_points: 0,
    }));
    out
}

// ================================================================ awards

/// A tranche to create with an award.
#[derive(Debug, Clone, PartialEq)]
pub struct TrancheSpec {
    pub milestone: i32,
    pub amount: Money,
}

/// Parses the tranches of an award of `amount` over a work plan of
/// `milestones` milestones: each tied to a distinct milestone, in work-plan
/// order, adding up to `amount` exactly.
pub fn parse_tranches(
    tranches: &[api::TrancheSpec],
    amount: Money,
    milestones: usize,
) -> Result<Vec<TrancheSpec>> {
    let mut v = Violations::new();
    if tranches.is_empty() {
        v.add("tranches", "at least one tranche, tied to a milestone");
    }
    if tranches.len() > MAX_MILESTONES {
        v.add("tranches", format!("at most {MAX_MILESTONES}"));
    }
    let mut out: Vec<TrancheSpec> = Vec::new();
    for (i, t) in tranches.iter().enumerate() {
        let f = |n: &str| format!("tranches[{i}].{n}");
        if t.milestone_number < 1 || t.milestone_number as usize > milestones {
            v.add(
                f("milestone_number"),
                format!("the work plan has milestones 1 to {milestones}"),
            );
        } else if out.iter().any(|x| x.milestone == t.milestone_number) {
            v.add(
                f("milestone_number"),
                "one tranche per milestone".to_string(),
            );
        } else if out.last().is_some_and(|x| x.milestone > t.milestone_number) {
            v.add(
                f("milestone_number"),
                "tranches follow the work plan's order",
            );
        }
        let a = v.take_many(money::amount(
            &f("amount"),
            t.amount.as_ref(),
            Sign::Positive,
        ));
        if let Some(a) = a {
            if a.currency() != amount.currency() {
                v.add(
                    f("amount.currency_code"),
                    format!("the award is in {}", amount.currency()),
                );
            } else {
                out.push(TrancheSpec {
                    milestone: t.milestone_number,
                    amount: a,
                });
            }
        }
    }
    if v.is_empty() {
        match money::sum(amount.currency(), out.iter().map(|t| t.amount)) {
            Ok(total) if total == amount => {}
            Ok(total) => v.add(
                "tranches",
                format!("the tranches add up to {total}; the award is {amount}"),
            ),
            Err(e) => v.add("tranches", e.to_string()),
        }
    }
    v.finish()?;
    Ok(out)
}

/// The checks of an award against the approved proposal and its call.
pub fn check_award(
    amount: Money,
    budget_total: Money,
    ceiling: Money,
    envelope_remaining: Money,
) -> Result<()> {
    if amount.currency() != ceiling.currency() {
        return Err(Error::invalid(
            "amount.currency_code",
            format!("the call's currency is {}", ceiling.currency()),
        ));
    }
    if amount != budget_total {
        return Err(Error::precondition(
            "AWARD_NOT_BUDGET",
            "amount",
            format!(
                "an award funds the approved budget of {budget_total} in full, not {amount}; \
                 to award less, request changes before approval"
            ),
        ));
    }
    if amount.minor_units() > ceiling.minor_units() {
        return Err(Error::precondition(
            "OVER_CEILING",
            "amount",
            format!("{amount} is more than the call's ceiling of {ceiling}"),
        ));
    }
    if amount.minor_units() > envelope_remaining.minor_units() {
        return Err(Error::precondition(
            "ENVELOPE_EXCEEDED",
            "amount",
            format!("{amount} is more than the {envelope_remaining} left in the call's envelope"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tranche {
    pub number: i32,
    pub milestone: i32,
    pub amount: i64,
    pub state: TrancheState,
}

/// An award's money and progress, as the rules need them. Every operation
/// either applies whole or refuses and leaves the ledger untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub currency: Currency,
    pub state: ProposalState,
    pub amount: i64,
    pub tranches: Vec<Tranche>,
    pub milestones: i32,
    /// Milestones whose progress report was accepted.
    pub accepted: BTreeSet<i32>,
    pub final_accepted: bool,
    /// The budget in force, per line (line n is index n − 1).
    pub budget: Vec<i64>,
    /// Accepted spending per line, same indices.
    pub spent: Vec<i64>,
}

/// An award's totals, all computed from its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub awarded: Money,
    pub disbursed: Money,
    pub cancelled: Money,
    pub remaining: Money,
    pub spent: Money,
    pub budget: Money,
}

fn precondition(kind: &'static str, subject: &str, why: String) -> Error {
    Error::precondition(kind, subject.to_string(), why)
}

/// `start` plus each `(field, amount)` in turn, with kit's checked money
/// arithmetic: the amount that makes the total overflow (or mixes a
/// currency in) is refused as INVALID_ARGUMENT on `{field}.minor_units`.
pub fn running_total(
    start: Money,
    amounts: impl IntoIterator<Item = (String, Money)>,
    too_large: &str,
) -> Result<Money> {
    amounts.into_iter().try_fold(start, |total, (field, a)| {
        total.checked_add(a).map_err(|e| match e {
            money::MoneyError::Overflow => {
                Error::invalid(format!("{field}.minor_units"), too_large.to_string())
            }
            other => Error::from(other.violation(&format!("{field}.currency_code"))),
        })
    })
}

impl Ledger {
    /// A new award: tranches planned, nothing reported or spent.
    pub fn new(
        amount: Money,
        tranches: &[TrancheSpec],
        budget: &[Money],
        milestones: i32,
    ) -> Ledger {
        Ledger {
            currency: amount.currency(),
            state: ProposalState::Awarded,
            amount: amount.minor_units(),
            tranches: tranches
                .iter()
                .enumerate()
                .map(|(i, t)| Tranche {
                    number: i as i32 + 1,
                    milestone: t.milestone,
                    amount: t.amount.minor_units(),
                    state: TrancheState::Planned,
                })
                .collect(),
            milestones,
            accepted: BTreeSet::new(),
            final_accepted: false,
            budget: budget.iter().map(Money::minor_units).collect(),
            spent: vec![0; budget.len()],
        }
    }

    fn money(&self, minor: i64) -> Money {
        Money::new(self.currency, minor)
    }

    /// The sum of amounts of this award, checked: every amount was checked
    /// when it came in, so an overflow here is a corrupted record.
    fn sum(&self, amounts: impl IntoIterator<Item = i64>) -> Result<Money> {
        Ok(money::sum(
            self.currency,
            amounts.into_iter().map(|a| self.money(a)),
        )?)
    }

    fn sum_where(&self, state: TrancheState) -> Result<Money> {
        self.sum(
            self.tranches
                .iter()
                .filter(|t| t.state == state)
                .map(|t| t.amount),
        )
    }

    pub fn totals(&self) -> Result<Totals> {
        let awarded = self.money(self.amount);
        let disbursed = self.sum_where(TrancheState::Disbursed)?;
        let cancelled = self.sum_where(TrancheState::Cancelled)?;
        Ok(Totals {
            awarded,
            disbursed,
            cancelled,
            remaining: awarded.checked_sub(disbursed)?.checked_sub(cancelled)?,
            spent: self.sum(self.spent.iter().copied())?,
            budget: self.sum(self.budget.iter().copied())?,
        })
    }

    pub fn activate(&mut self) -> Result<()> {
        self.state = transition(self.state, Action::Activate)?;
        Ok(())
    }

    /// Whether a progress report for `milestone` may be submitted now
    /// (`open`: the milestone already has a report submitted or accepted).
    pub fn check_progress_report(&self, milestone: i32, open: bool) -> Result<()> {
        transition(self.state, Action::Report)?;
        if milestone < 1 || milestone > self.milestones {
            return Err(Error::invalid(
                "report.milestone_number",
                format!("the work plan has milestones 1 to {}", self.milestones),
            ));
        }
        if open || self.accepted.contains(&milestone) {
            return Err(precondition(
                "REPORT_EXISTS",
                "report.milestone_number",
                format!("milestone {milestone} already has a report that is submitted or accepted"),
            ));
        }
        Ok(())
    }

    /// Whether the final report may be submitted now.
    pub fn check_final_report(&self, open: bool) -> Result<()> {
        transition(self.state, Action::Report)?;
        let waiting: Vec<String> = (1..=self.milestones)
            .filter(|m| !self.accepted.contains(m))
            .map(|m| m.to_string())
            .collect();
        if !waiting.is_empty() {
            return Err(precondition(
                "MILESTONES_OPEN",
                "report.kind",
                format!(
                    "the final report follows the accepted reports of every milestone; \
                     milestones {} are not accepted yet",
                    waiting.join(", ")
                ),
            ));
        }
        if open || self.final_accepted {
            return Err(precondition(
                "REPORT_EXISTS",
                "report.kind",
                "a final report is already submitted or accepted".into(),
            ));
        }
        Ok(())
    }

    pub fn accept_milestone(&mut self, milestone: i32) -> Result<()> {
        self.check_progress_report(milestone, false)?;
        self.accepted.insert(milestone);
        Ok(())
    }

    pub fn accept_final(&mut self) -> Result<()> {
        self.check_final_report(false)?;
        self.final_accepted = true;
        Ok(())
    }

    /// Releases tranche `number`: the award is active, the tranche planned and
    /// its milestone's report accepted. Returns the amount paid.
    pub fn disburse(&mut self, number: i32) -> Result<Money> {
        transition(self.state, Action::Disburse)?;
        let Some(index) = self.tranches.iter().position(|t| t.number == number) else {
            return Err(Error::invalid(
                "tranche_number",
                format!("the award has tranches 1 to {}", self.tranches.len()),
            ));
        };
        let t = self.tranches[index];
        if t.state != TrancheState::Planned {
            return Err(precondition(
                "TRANCHE_NOT_PLANNED",
                "tranche_number",
                format!(
                    "tranche {number} is {} already",
                    if t.state == TrancheState::Disbursed {
                        "disbursed"
                    } else {
                        "cancelled"
                    }
                ),
            ));
        }
        if !self.accepted.contains(&t.milestone) {
            return Err(precondition(
                "MILESTONE_NOT_ACCEPTED",
                "tranche_number",
                format!(
                    "tranche {number} is released against milestone {}, whose progress \
                     report has not been accepted",
                    t.milestone
                ),
            ));
        }
        self.tranches[index].state = TrancheState::Disbursed;
        Ok(self.money(t.amount))
    }

    /// Checks a report of spending `(line number, minor units)`; with
    /// `accept`, adds it to the actuals.
    pub fn spend(&mut self, lines: &[(i32, i64)], accept: bool) -> Result<()> {
        transition(self.state, Action::Report)?;
        let mut v = Violations::new();
        for (i, (line, _)) in lines.iter().enumerate() {
            if *line < 1 || *line as usize > self.budget.len() {
                v.add(
                    format!("report.lines[{i}].line_number"),
                    format!("the budget has lines 1 to {}", self.budget.len()),
                );
            }
        }
        v.finish()?;
        let spent = self.sum(self.spent.iter().copied())?;
        let adding = running_total(
            Money::zero(self.currency),
            lines
                .iter()
                .enumerate()
                .map(|(i, (_, a))| (format!("report.lines[{i}].amount"), self.money(*a))),
            "the report's total is too large",
        )?;
        let reached = running_total(
            spent,
            lines
                .iter()
                .enumerate()
                .map(|(i, (_, a))| (format!("report.lines[{i}].amount"), self.money(*a))),
            "with what is spent already, the total is too large",
        )?;
        if reached.minor_units() > self.amount {
            return Err(precondition(
                "EXPENDITURE_OVER_AWARD",
                "report.lines",
                format!(
                    "with these {adding} the spending would reach {reached}, more than the \
                     award of {}",
                    self.money(self.amount)
                ),
            ));
        }
        if accept {
            let mut spent = self.spent.clone();
            for (line, a) in lines {
                let i = *line as usize - 1;
                spent[i] = self
                    .money(spent[i])
                    .checked_add(self.money(*a))?
                    .minor_units();
            }
            self.spent = spent;
        }
        Ok(())
    }

    /// Checks a new budget (a reallocation) against the award; with `apply`,
    /// puts it in force.
    pub fn reallocate(&mut self, budget: &[i64], apply: bool) -> Result<()> {
        transition(self.state, Action::Vary)?;
        let total = running_total(
            Money::zero(self.currency),
            budget.iter().enumerate().map(|(i, a)| {
                (
                    format!("variation.budget_lines[{i}].amount"),
                    self.money(*a),
                )
            }),
            "the budget's total is too large",
        )?;
        if total.minor_units() != self.amount {
            return Err(precondition(
                "BUDGET_NOT_AWARD",
                "variation.budget_lines",
                format!(
                    "a reallocation keeps the total: the new budget is {total}, the award {}",
                    self.money(self.amount)
                ),
            ));
        }
        for (i, spent) in self.spent.iter().enumerate() {
            let new = budget.get(i).copied().unwrap_or(0);
            if *spent > 0 && new < *spent {
                return Err(precondition(
                    "BELOW_SPENDING",
                    "variation.budget_lines",
                    format!(
                        "line {} has {} spent already; its budget cannot go below it",
                        i + 1,
                        self.money(*spent)
                    ),
                ));
            }
        }
        if apply {
            self.budget = budget.to_vec();
            self.spent.resize(budget.len(), 0);
        }
        Ok(())
    }

    pub fn complete(&mut self) -> Result<()> {
        let next = transition(self.state, Action::Complete)?;
        let planned: Vec<String> = self
            .tranches
            .iter()
            .filter(|t| t.state == TrancheState::Planned)
            .map(|t| t.number.to_string())
            .collect();
        if !planned.is_empty() {
            return Err(precondition(
                "TRANCHES_OPEN",
                "award.tranches",
                format!(
                    "tranches {} are not disbursed; disburse them, or close the grant early",
                    planned.join(", ")
                ),
            ));
        }
        if !self.final_accepted {
            return Err(precondition(
                "FINAL_REPORT_MISSING",
                "award",
                "a grant is completed once its final report is accepted".into(),
            ));
        }
        self.state = next;
        Ok(())
    }

    /// Closes early: planned tranches are cancelled, nothing more is paid.
    pub fn close_early(&mut self) -> Result<()> {
        self.state = transition(self.state, Action::CloseEarly)?;
        for t in &mut self.tranches {
            if t.state == TrancheState::Planned {
                t.state = TrancheState::Cancelled;
            }
        }
        Ok(())
    }
}

// ============================================================= reporting

#[derive(Debug, Clone, PartialEq)]
pub struct ReportFields {
    pub kind: ReportKind,
    pub milestone: i32,
    pub narrative: LocalizedText,
    pub reached: People,
}

pub fn parse_report(r: Option<&api::Report>) -> Result<(String, ReportFields)> {
    let empty = api::Report::default();
    let r = r.unwrap_or(&empty);
    let mut v = Violations::new();
    let award_id = v.take(markaz_kit::rpc::parse_id("report.award_id", &r.award_id));
    let kind = v
        .take(validate::enumeration::<ReportKind>(
            "report.kind",
            r.kind,
            true,
        ))
        .flatten();
    match kind {
        Some(ReportKind::Progress) if r.milestone_number < 1 => {
            v.add("report.milestone_number", "required for a progress report")
        }
        Some(ReportKind::Final) if r.milestone_number != 0 => v.add(
            "report.milestone_number",
            "a final report is about the whole project, not a milestone",
        ),
        _ => {}
    }
    let narrative = v.take_many(validate::localized(
        "report.narrative",
        r.narrative.as_ref(),
        PROSE_MAX,
        true,
    ));
    let reached = v.absorb(
        "report.beneficiaries_reached",
        parse_people(
            "report.beneficiaries_reached",
            r.beneficiaries_reached.as_ref(),
        ),
    );
    v.finish()?;
    Ok((
        award_id.expect("checked"),
        ReportFields {
            kind: kind.expect("checked"),
            milestone: r.milestone_number,
            narrative: narrative.expect("checked"),
            reached: reached.expect("checked"),
        },
    ))
}

/// A review of a report: accept, or return with a comment.
pub fn parse_review(outcome: i32, comment: &str) -> Result<(ReviewOutcome, String)> {
    let mut v = Violations::new();
    let outcome = v
        .take(validate::enumeration::<ReviewOutcome>(
            "outcome", outcome, true,
        ))
        .flatten();
    let comment = v.take(validate::prose("comment", comment, PROSE_MAX, false));
    if outcome == Some(ReviewOutcome::Return) && comment.as_deref().is_some_and(str::is_empty) {
        v.add(
            "comment",
            "required when returning a report: say what to fix",
        );
    }
    v.finish()?;
    Ok((outcome.expect("checked"), comment.expect("checked")))
}

/// A report waiting for review may be reviewed once.
pub fn check_reviewable(state: ReportState) -> Result<()> {
    if state == ReportState::Submitted {
        Ok(())
    } else {
        Err(Error::precondition(
            "REPORT_REVIEWED",
            "report.state",
            format!(
                "the report was {} already",
                if state == ReportState::Accepted {
                    "accepted"
                } else {
                    "returned"
                }
            ),
        ))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpenditureFields {
    pub period_start: Date,
    pub period_end: Date,
    /// (line number, amount, note)
    pub lines: Vec<(i32, Money, String)>,
}

/// What a report on an award is held to: the award's currency and the
/// number of lines of its budget in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwardTerms {
    pub currency: Currency,
    pub budget_lines: usize,
}

/// Parses an expenditure report against its award's terms — every bad field
/// at once. Without the terms (the award id is bad, so there is no award to
/// read) it still names everything the request alone gets wrong.
pub fn parse_expenditure(
    r: Option<&api::ExpenditureReport>,
    award: Option<AwardTerms>,
) -> Result<(String, ExpenditureFields)> {
    let empty = api::ExpenditureReport::default();
    let r = r.unwrap_or(&empty);
    let mut v = Violations::new();
    let award_id = v.take(markaz_kit::rpc::parse_id("report.award_id", &r.award_id));
    let mut currency = award.map(|a| a.currency);
    let start = v.take(Date::required(
        "report.period_start",
        r.period_start.as_ref(),
    ));
    let end = v.take(Date::required("report.period_end", r.period_end.as_ref()));
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        v.add(
            "report.period_end",
            format!("before the period starts on {s}"),
        );
    }
    if r.lines.is_empty() {
        v.add("report.lines", "at least one line");
    }
    if r.lines.len() > MAX_BUDGET_LINES {
        v.add("report.lines", format!("at most {MAX_BUDGET_LINES}"));
    }
    let mut lines: Vec<(i32, Money, String)> = Vec::new();
    for (i, l) in r.lines.iter().enumerate() {
        let f = |n: &str| format!("report.lines[{i}].{n}");
        if l.line_number < 1 {
            v.add(f("line_number"), "required: the budget line spent on");
        } else if let Some(a) = award
            && l.line_number as usize > a.budget_lines
        {
            v.add(
                f("line_number"),
                format!("the budget has lines 1 to {}", a.budget_lines),
            );
        } else if lines.iter().any(|(n, _, _)| *n == l.line_number) {
            v.add(f("line_number"), "each budget line once per report");
        }
        let amount = v.take_many(money::amount(
            &f("amount"),
            l.amount.as_ref(),
            Sign::Positive,
        ));
        let note = v.take(validate::line(&f("note"), &l.note, NAME_MAX, false));
        if let Some(a) = amount
            && one_currency(&mut v, &mut currency, &f("amount"), a)
        {
            lines.push((l.line_number, a, note.unwrap_or_default()));
        }
    }
    v.finish()?;
    running_total(
        Money::zero(currency.expect("a line at least")),
        lines
            .iter()
            .enumerate()
            .map(|(i, (_, a, _))| (format!("report.lines[{i}].amount"), *a)),
        "the report's total is too large",
    )?;
    Ok((
        award_id.expect("checked"),
        ExpenditureFields {
            period_start: start.expect("checked"),
            period_end: end.expect("checked"),
            lines,
        },
    ))
}

#[derive(Debug, Clone, PartialEq)]
pub struct VariationFields {
    pub justification: String,
    pub budget: Vec<BudgetLine>,
    pub new_end_date: Option<Date>,
}

/// Parses a variation against its award's `currency` — every bad field at
/// once; without it (the award id is bad) everything the request alone gets
/// wrong.
pub fn parse_variation(
    r: Option<&api::Variation>,
    currency: Option<Currency>,
) -> Result<(String, VariationFields)> {
    let empty = api::Variation::default();
    let r = r.unwrap_or(&empty);
    let mut v = Violations::new();
    let award_id = v.take(markaz_kit::rpc::parse_id("variation.award_id", &r.award_id));
    let justification = v.take(validate::prose(
        "variation.justification",
        &r.justification,
        PROSE_MAX,
        true,
    ));
    let budget = v.absorb(
        "variation.budget_lines",
        parse_budget("variation.budget_lines", &r.budget_lines, currency),
    );
    let new_end_date = v.take(Date::optional(
        "variation.new_end_date",
        r.new_end_date.as_ref(),
    ));
    if v.is_empty() && r.budget_lines.is_empty() && new_end_date == Some(None) {
        v.add(
            "variation",
            "a variation changes the budget, the end date, or both",
        );
    }
    v.finish()?;
    Ok((
        award_id.expect("checked"),
        VariationFields {
            justification: justification.expect("checked"),
            budget: budget.expect("checked"),
            new_end_date: new_end_date.expect("checked"),
        },
    ))
}

/// A decision with a reason: approvals may give one, rejections must.
pub fn parse_decision(
    decision: i32,
    reason: &str,
    reason_field: &str,
) -> Result<(Decision, String)> {
    let mut v = Violations::new();
    let decision = v
        .take(validate::enumeration::<Decision>(
            "decision", decision, true,
        ))
        .flatten();
    let reason = v.take(validate::prose(reason_field, reason, PROSE_MAX, false));
    if decision == Some(Decision::Reject) && reason.as_deref().is_some_and(str::is_empty) {
        v.add(reason_field, "required with a rejection");
    }
    v.finish()?;
    Ok((decision.expect("checked"), reason.expect("checked")))
}

/// Parses an optional id filter ("" = any).
pub fn optional_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        markaz_kit::rpc::parse_id(field, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(m: i64) -> Money {
        Money::new(Currency::of("USD").unwrap(), m)
    }

    /// The life cycle as the issue states it, written independently of
    /// [`TRANSITIONS`]: draft → submitted → under review → approved or
    /// rejected → awarded → active → completed, or closed early; the coaching
    /// loop until the decision; withdrawal before a decision, or of an
    /// approval that is not awarded.
    const SPEC: &[(ProposalState, Action, ProposalState)] = &[
        (S::Draft, A::Edit, S::Draft),
        (S::Draft, A::Submit, S::Submitted),
        (S::Draft, A::Withdraw, S::Withdrawn),
        (S::Submitted, A::RequestChanges, S::ChangesRequested),
        (S::Submitted, A::StartReview, S::UnderReview),
        (S::Submitted, A::AssignReviewer, S::Submitted),
        (S::Submitted, A::Reject, S::Rejected),
        (S::Submitted, A::Withdraw, S::Withdrawn),
        (S::ChangesRequested, A::Edit, S::ChangesRequested),
        (S::ChangesRequested, A::Submit, S::Submitted),
        (S::ChangesRequested, A::Withdraw, S::Withdrawn),
        (S::UnderReview, A::AssignReviewer, S::UnderReview),
        (S::UnderReview, A::Score, S::UnderReview),
        (S::UnderReview, A::Approve, S::Approved),
        (S::UnderReview, A::Reject, S::Rejected),
        (S::UnderReview, A::Withdraw, S::Withdrawn),
        // The coaching loop runs until the decision.
        (S::UnderReview, A::RequestChanges, S::ChangesRequested),
        // An approval that will not be awarded has a way out.
        (S::Approved, A::Withdraw, S::Withdrawn),
        (S::Approved, A::Award, S::Awarded),
        (S::Awarded, A::Activate, S::Active),
        (S::Awarded, A::Vary, S::Awarded),
        (S::Awarded, A::CloseEarly, S::ClosedEarly),
        (S::Active, A::Report, S::Active),
        (S::Active, A::Disburse, S::Active),
        (S::Active, A::Vary, S::Active),
        (S::Active, A::Complete, S::Completed),
        (S::Active, A::CloseEarly, S::ClosedEarly),
    ];

    const STATES: [ProposalState; 12] = [
        S::Unspecified,
        S::Draft,
        S::Submitted,
        S::ChangesRequested,
        S::UnderReview,
        S::Approved,
        S::Rejected,
        S::Withdrawn,
        S::Awarded,
        S::Active,
        S::Completed,
        S::ClosedEarly,
    ];

    #[test]
    fn the_table_is_the_specification_and_every_pair_is_decided_by_it() {
        for from in STATES {
            for action in Action::ALL {
                let expected = SPEC
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, t)| *t);
                match transition(from, action) {
                    Ok(to) => assert_eq!(Some(to), expected, "{from:?} {action:?}"),
                    Err(Error::FailedPrecondition { description, .. }) => {
                        assert_eq!(expected, None, "{from:?} {action:?}");
                        assert!(description.contains(state_word(from)), "{description}");
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        // Terminal states have no way out.
        for end in [S::Rejected, S::Withdrawn, S::Completed, S::ClosedEarly] {
            assert!(Action::ALL.iter().all(|a| transition(end, *a).is_err()));
        }
    }

    /// No proposal is stuck: from every state before an award, an end is
    /// reachable without awarding money; after the award, closing early is.
    #[test]
    fn every_state_has_a_way_to_an_end() {
        let ends = [S::Rejected, S::Withdrawn, S::Completed, S::ClosedEarly];
        let reaches_end = |from: ProposalState, without: &[Action]| {
            let mut seen = vec![from];
            let mut i = 0;
            while i < seen.len() {
                for (f, a, t) in TRANSITIONS {
                    if *f == seen[i] && !without.contains(a) && !seen.contains(t) {
                        seen.push(*t);
                    }
                }
                i += 1;
            }
            seen.iter().any(|s| ends.contains(s))
        };
        for s in [
            S::Draft,
            S::Submitted,
            S::ChangesRequested,
            S::UnderReview,
            S::Approved,
        ] {
            assert!(reaches_end(s, &[A::Award]), "{s:?} without an award");
        }
        for s in [S::Awarded, S::Active] {
            assert!(reaches_end(s, &[]), "{s:?}");
        }
        assert!(check_withdrawal(S::Approved, "").is_err());
        assert!(check_withdrawal(S::Approved, "the envelope ran out").is_ok());
        assert!(check_withdrawal(S::Draft, "").is_ok());
    }

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

    fn terms() -> CallTerms {
        CallTerms {
            ceiling: usd(500_000),
            theme_codes: vec!["water".into()],
        }
    }

    fn line(amount: i64, currency: &str) -> api::BudgetLine {
        api::BudgetLine {
            category: BudgetCategory::Supplies as i32,
            description: Some(LocalizedText {
                ar: "مضخات".into(),
                en: "pumps".into(),
            }),
            amount: Some(markaz_proto::common::v1::Money {
                currency_code: currency.into(),
                minor_units: amount,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn budgets_stay_in_one_currency_and_under_the_ceiling() {
        let mut p = api::Proposal {
            title: Some(LocalizedText {
                ar: "بئر".into(),
                en: String::new(),
            }),
            budget_lines: vec![line(300_000, "USD"), line(150_000, "USD")],
            ..Default::default()
        };
        let f = parse_proposal(&p, &terms()).unwrap();
        assert_eq!(f.total(Currency::of("USD").unwrap()).unwrap(), usd(450_000));
        assert!(missing(&f, &terms()).contains(&"milestones"));

        p.budget_lines.push(line(100_000, "USD"));
        let Err(Error::InvalidArgument(v)) = parse_proposal(&p, &terms()) else {
            panic!("over the ceiling")
        };
        assert_eq!(v[0].field, "proposal.budget_lines");
        assert!(v[0].description.contains("5,500.00 USD"), "{v:?}");

        p.budget_lines = vec![line(100, "USD"), line(100, "EUR"), line(0, "USD")];
        let Err(Error::InvalidArgument(v)) = parse_proposal(&p, &terms()) else {
            panic!("mixed currencies")
        };
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "proposal.budget_lines[1].amount.currency_code",
                "proposal.budget_lines[2].amount.minor_units"
            ]
        );
    }

    #[test]
    fn scores_cover_the_rubric_and_rank_exactly() {
        let rubric = Rubric {
            max_score: 5,
            criteria: vec![
                Criterion {
                    code: "need".into(),
                    name: LocalizedText::default(),
                    guidance: LocalizedText::default(),
                    weight: 3,
                },
                Criterion {
                    code: "budget".into(),
                    name: LocalizedText::default(),
                    guidance: LocalizedText::default(),
                    weight: 1,
                },
            ],
        };
        let s = |code: &str, score| api::CriterionScore {
            criterion_code: code.into(),
            score,
            comment: String::new(),
        };
        let sheet = parse_sheet(&[s("budget", 2), s("need", 5)], "", &rubric).unwrap();
        assert_eq!(weighted_total(&rubric, &sheet), 17);
        assert_eq!(rubric.max_total(), 20);
        assert_eq!(basis_points(17, 1, 20), 8_500);
        assert!(parse_sheet(&[s("need", 5)], "", &rubric).is_err());
        assert!(parse_sheet(&[s("need", 6), s("budget", 1)], "", &rubric).is_err());
        assert!(parse_sheet(&[s("need", 1), s("need", 1)], "", &rubric).is_err());

        let r = |id: &str, totals: &[i64]| RankInput {
            proposal_id: id.into(),
            totals: totals.to_vec(),
        };
        // b: 17, a: (10+20)/2 = 15, c: 15, d: none. 1/3 rounding never decides.
        let ranked = rank(
            vec![r("a", &[10, 20]), r("b", &[17]), r("c", &[15]), r("d", &[])],
            20,
        );
        let got: Vec<_> = ranked
            .iter()
            .map(|x| (x.proposal_id.as_str(), x.rank, x.basis_points))
            .collect();
        assert_eq!(
            got,
            [
                ("b", 1, 8_500),
                ("a", 2, 7_500),
                ("c", 2, 7_500),
                ("d", 0, 0)
            ]
        );
    }

    #[test]
    fn tranches_follow_the_work_plan_and_add_up() {
        let m = |n, a| api::TrancheSpec {
            milestone_number: n,
            amount: Some(usd(a).to_proto()),
        };
        assert!(parse_tranches(&[m(1, 40), m(3, 60)], usd(100), 3).is_ok());
        let fields = |r: Result<Vec<TrancheSpec>>| match r {
            Err(Error::InvalidArgument(v)) => v.into_iter().map(|x| x.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fields(parse_tranches(&[m(1, 40)], usd(100), 3)),
            ["tranches"]
        );
        assert_eq!(
            fields(parse_tranches(&[m(2, 40), m(1, 60)], usd(100), 3)),
            ["tranches[1].milestone_number"]
        );
        assert_eq!(
            fields(parse_tranches(&[m(4, 100)], usd(100), 3)),
            ["tranches[0].milestone_number"]
        );
        assert!(check_award(usd(100), usd(100), usd(100), usd(100)).is_ok());
        assert!(check_award(usd(90), usd(100), usd(100), usd(100)).is_err());
        assert!(check_award(usd(100), usd(100), usd(100), usd(99)).is_err());
    }

    /// Money near `i64::MAX` is refused as a bad amount, never wrapped: a
    /// wrapped sum would slip under the "over the award" check.
    #[test]
    fn spending_that_would_overflow_is_refused_and_changes_nothing() {
        let spec = [TrancheSpec {
            milestone: 1,
            amount: usd(1_000),
        }];
        let mut l = Ledger::new(usd(1_000), &spec, &[usd(600), usd(400)], 1);
        l.activate().unwrap();
        l.spend(&[(1, 100)], true).unwrap();
        let before = l.clone();
        let field = |r: Result<()>| match r {
            Err(Error::InvalidArgument(v)) => v.into_iter().map(|x| x.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        // With the 100 spent already, one more line near the maximum overflows.
        assert_eq!(
            field(l.spend(&[(2, i64::MAX - 50)], false)),
            ["report.lines[0].amount.minor_units"]
        );
        assert_eq!(
            field(l.spend(&[(1, 10), (2, i64::MAX - 50)], true)),
            ["report.lines[1].amount.minor_units"]
        );
        // The report's own lines overflow.
        assert_eq!(
            field(l.spend(&[(1, i64::MAX / 2 + 1), (2, i64::MAX / 2 + 1)], true)),
            ["report.lines[1].amount.minor_units"]
        );
        assert_eq!(l, before);
        assert!(matches!(
            l.spend(&[(2, 901)], true),
            Err(Error::FailedPrecondition {
                kind: "EXPENDITURE_OVER_AWARD",
                ..
            })
        ));
        assert_eq!(
            field(l.reallocate(&[i64::MAX, 1], true)),
            ["variation.budget_lines[1].amount.minor_units"]
        );
        assert_eq!(l, before);
        let t = l.totals().unwrap();
        assert_eq!((t.spent, t.remaining), (usd(100), usd(1_000)));

        let report = api::ExpenditureReport {
            award_id: "0190d3b4-5c1a-7000-8000-000000000001".into(),
            period_start: Some(Date::parse("2026-01-01").unwrap().to_proto()),
            period_end: Some(Date::parse("2026-01-31").unwrap().to_proto()),
            lines: [1, 2]
                .iter()
                .map(|n| api::ExpenditureLine {
                    line_number: *n,
                    amount: Some(usd(i64::MAX / 2 + 1).to_proto()),
                    note: String::new(),
                })
                .collect(),
            ..Default::default()
        };
        let terms = AwardTerms {
            currency: Currency::of("USD").unwrap(),
            budget_lines: 2,
        };
        let Err(Error::InvalidArgument(v)) = parse_expenditure(Some(&report), Some(terms)) else {
            panic!("an overflowing report")
        };
        assert_eq!(v[0].field, "report.lines[1].amount.minor_units");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn action() -> impl Strategy<Value = Action> {
            (0..Action::ALL.len()).prop_map(|i| Action::ALL[i])
        }

        proptest! {
            /// From any state reached by a random walk of the life cycle,
            /// exactly the actions of the specification succeed, and a refused
            /// action names the state it was refused in.
            #[test]
            fn only_allowed_transitions_succeed_from_any_reachable_state(
                walk in prop::collection::vec(action(), 0..40)
            ) {
                let mut state = ProposalState::Draft;
                for step in walk {
                    for a in Action::ALL {
                        let allowed = SPEC.iter().any(|(f, x, _)| *f == state && *x == a);
                        prop_assert_eq!(transition(state, a).is_ok(), allowed);
                    }
                    if let Ok(next) = transition(state, step) {
                        state = next;
                    }
                }
            }
        }

        /// One operation on an award.
        #[derive(Debug, Clone)]
        enum Op {
            Activate,
            AcceptMilestone(i32),
            AcceptFinal,
            Disburse(i32),
            Spend(Vec<(i32, i64)>),
            Reallocate(Vec<i64>),
            Complete,
            CloseEarly,
        }

        /// An amount: mostly small, sometimes close to what 64 bits hold, so
        /// sums overflow unless the arithmetic is checked.
        fn amount(small: i64) -> impl Strategy<Value = i64> {
            prop_oneof![
                3 => 1..small,
                1 => (i64::MAX / 4)..=i64::MAX,
                1 => (i64::MAX - 1_000)..=i64::MAX,
            ]
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                Just(Op::Activate),
                (0..6i32).prop_map(Op::AcceptMilestone),
                Just(Op::AcceptFinal),
                (0..6i32).prop_map(Op::Disburse),
                prop::collection::vec((0..6i32, amount(40_000)), 1..4).prop_map(Op::Spend),
                prop::collection::vec(amount(60_000), 1..6).prop_map(Op::Reallocate),
                Just(Op::Complete),
                Just(Op::CloseEarly),
            ]
        }

        /// An award of 3..=5 milestones with tranches on some of them and a
        /// budget equal to the award: small amounts, or tranches so large
        /// that the award is close to `i64::MAX`.
        fn award() -> impl Strategy<Value = Ledger> {
            let tranches = prop_oneof![
                prop::collection::vec(1..50_000i64, 1..5),
                prop::collection::vec((i64::MAX / 6)..=(i64::MAX / 5), 1..5),
            ];
            (
                3..=5i32,
                tranches,
                prop::collection::vec(1..30_000i64, 1..5),
            )
                .prop_map(|(milestones, tranche_amounts, lines)| {
                    let tranches: Vec<TrancheSpec> = tranche_amounts
                        .iter()
                        .take(milestones as usize)
                        .enumerate()
                        .map(|(i, a)| TrancheSpec {
                            milestone: i as i32 + 1,
                            amount: usd(*a),
                        })
                        .collect();
                    let amount: i64 = tranches.iter().map(|t| t.amount.minor_units()).sum();
                    // Spread the award over the lines so the budget equals it.
                    let budget: Vec<Money> = spread(amount, &lines).into_iter().map(usd).collect();
                    Ledger::new(usd(amount), &tranches, &budget, milestones)
                })
        }

        fn apply(l: &mut Ledger, op: &Op) -> Result<()> {
            match op {
                Op::Activate => l.activate(),
                Op::AcceptMilestone(m) => l.accept_milestone(*m),
                Op::AcceptFinal => l.accept_final(),
                Op::Disburse(t) => l.disburse(*t).map(|_| ()),
                Op::Spend(lines) => l.spend(lines, true),
                Op::Reallocate(weights) => {
                    // Mostly a budget with the award's total, sometimes not.
                    let budget = if weights[0] % 4 == 0 {
                        weights.clone()
                    } else {
                        spread(l.amount, weights)
                    };
                    l.reallocate(&budget, true)
                }
                Op::Complete => l.complete(),
                Op::CloseEarly => l.close_early(),
            }
        }

        /// `amount` spread over lines in proportion to `weights` (in 128
        /// bits: the test's own arithmetic must not overflow either).
        fn spread(amount: i64, weights: &[i64]) -> Vec<i64> {
            let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
            let mut out: Vec<i64> = weights
                .iter()
                .map(|w| (i128::from(amount) * i128::from(*w) / total) as i64)
                .collect();
            let rest = i128::from(amount) - out.iter().map(|x| i128::from(*x)).sum::<i128>();
            out[0] = (i128::from(out[0]) + rest) as i64;
            out
        }

        fn check_invariants(l: &Ledger, awarded: i64) -> std::result::Result<(), TestCaseError> {
            let t = l
                .totals()
                .expect("the totals of a valid award never overflow");
            let wide = |xs: &mut dyn Iterator<Item = i64>| xs.map(i128::from).sum::<i128>();
            prop_assert_eq!(t.awarded.minor_units(), awarded);
            prop_assert_eq!(
                wide(&mut l.tranches.iter().map(|t| t.amount)),
                i128::from(awarded)
            );
            prop_assert!(t.disbursed.minor_units() <= awarded);
            prop_assert!(t.remaining.minor_units() >= 0);
            prop_assert_eq!(
                i128::from(t.disbursed.minor_units())
                    + i128::from(t.cancelled.minor_units())
                    + i128::from(t.remaining.minor_units()),
                i128::from(awarded)
            );
            prop_assert_eq!(t.budget.minor_units(), awarded);
            prop_assert_eq!(
                i128::from(t.spent.minor_units()),
                wide(&mut l.spent.iter().copied())
            );
            prop_assert!(t.spent.minor_units() <= awarded);
            prop_assert!(l.spent.iter().all(|s| *s >= 0));
            prop_assert_eq!(l.budget.len(), l.spent.len());
            for tr in &l.tranches {
                if tr.state == TrancheState::Disbursed {
                    prop_assert!(l.accepted.contains(&tr.milestone));
                }
            }
            if l.state == ProposalState::Completed {
                prop_assert!(l.final_accepted);
                prop_assert_eq!(t.disbursed, t.awarded);
            }
            if l.state == ProposalState::ClosedEarly {
                prop_assert!(l.tranches.iter().all(|t| t.state != TrancheState::Planned));
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            /// Whatever sequence of operations is tried, the award's totals
            /// hold, a refused operation changes nothing, and the award moves
            /// only along the life cycle.
            #[test]
            fn award_totals_are_preserved_through_any_sequence(
                start in award(),
                ops in prop::collection::vec(op(), 0..60)
            ) {
                let awarded = start.amount;
                let mut l = start;
                check_invariants(&l, awarded)?;
                for op in &ops {
                    let before = l.clone();
                    match apply(&mut l, op) {
                        Ok(()) => {
                            if let Op::Reallocate(_) = op {
                                for (b, s) in l.budget.iter().zip(&l.spent) {
                                    prop_assert!(s <= b, "a reallocation keeps every line above its spending");
                                }
                            }
                            if before.state != l.state {
                                prop_assert!(TRANSITIONS
                                    .iter()
                                    .any(|(f, _, t)| *f == before.state && *t == l.state));
                            }
                        }
                        Err(_) => prop_assert_eq!(&l, &before, "a refused {:?} changed the award", op),
                    }
                    check_invariants(&l, awarded)?;
                }
            }

            /// A tranche is paid only once, only while active, and only after
            /// its milestone's report was accepted.
            #[test]
            fn tranches_are_released_only_against_accepted_milestones(
                start in award(),
                ops in prop::collection::vec(op(), 0..60)
            ) {
                let mut l = start;
                for op in &ops {
                    if let Op::Disburse(n) = op {
                        let before = l.clone();
                        let t = before.tranches.iter().find(|t| t.number == *n).copied();
                        let ok = l.disburse(*n).is_ok();
                        let expected = before.state == ProposalState::Active
                            && t.is_some_and(|t| t.state == TrancheState::Planned
                                && before.accepted.contains(&t.milestone));
                        prop_assert_eq!(ok, expected);
                    } else {
                        let _ = apply(&mut l, op);
                    }
                }
            }
        }
    }
}
