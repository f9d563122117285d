//! Proposals: the proposal life cycle as a table ([`TRANSITIONS`]), and a
//! proposal's fields — beneficiaries, budget lines, work plan — parsed against
//! its call's terms.

use markaz_kit::error::{AllValid, Error, FieldViolation, Result, Violations};
use markaz_kit::money::{self, Currency, Money, Sign};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::{LocalizedText, Sector};
use markaz_proto::grants::v1 as api;

use super::awards::running_total;
use super::{
    BudgetCategory, MAX_BUDGET_LINES, MAX_MILESTONES, MAX_PEOPLE, NAME_MAX, PROSE_MAX,
    ProposalState, SHORT_MAX,
};

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
pub(crate) fn one_currency(
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
    let text = |name: &str, t: Option<&LocalizedText>, max, required| {
        validate::localized(&format!("proposal.{name}"), t, max, required)
    };
    let empty_location = api::Location::default();
    let location = p.location.as_ref().unwrap_or(&empty_location);
    let theme_code = if p.theme_code.is_empty() || terms.theme_codes.contains(&p.theme_code) {
        Ok(p.theme_code.clone())
    } else {
        Err(FieldViolation::new(
            "proposal.theme_code",
            format!(
                "not a theme of the call; one of: {}",
                if terms.theme_codes.is_empty() {
                    "(the call has no themes)".to_string()
                } else {
                    terms.theme_codes.join(", ")
                }
            ),
        ))
    };
    let budget = parse_budget("proposal.budget_lines", &p.budget_lines, Some(currency));
    let within = match &budget {
        Ok(budget) => match money::sum(currency, budget.iter().map(|l| l.amount)) {
            Ok(total) if total.minor_units() > terms.ceiling.minor_units() => {
                Err(FieldViolation::new(
                    "proposal.budget_lines",
                    format!(
                        "the budget totals {total}, more than the call's ceiling of {}",
                        terms.ceiling
                    ),
                ))
            }
            _ => Ok(()),
        },
        Err(_) => Ok(()),
    };
    let start_date = Date::optional("proposal.start_date", p.start_date.as_ref());
    let end_date = Date::optional("proposal.end_date", p.end_date.as_ref());
    let (start, end) = (
        start_date.as_ref().ok().copied().flatten(),
        end_date.as_ref().ok().copied().flatten(),
    );
    let in_order = match (start, end) {
        (Some(s), Some(e)) if e < s => Err(FieldViolation::new(
            "proposal.end_date",
            format!("before the start date {s}"),
        )),
        _ => Ok(()),
    };
    let (
        (title, summary, community_need, governorate, place, sector, theme_code),
        targeted,
        (budget, ()),
        (start_date, end_date, ()),
        milestones,
    ) = (
        (
            text("title", p.title.as_ref(), NAME_MAX, true),
            text("summary", p.summary.as_ref(), PROSE_MAX, false),
            text(
                "community_need",
                p.community_need.as_ref(),
                PROSE_MAX,
                false,
            ),
            validate::line(
                "proposal.location.governorate",
                &location.governorate,
                SHORT_MAX,
                false,
            ),
            text("location.place", location.place.as_ref(), NAME_MAX, false),
            validate::enumeration::<Sector>("proposal.sector", p.sector, false),
            theme_code,
        )
            .all(),
        parse_people(
            "proposal.beneficiaries_targeted",
            p.beneficiaries_targeted.as_ref(),
        ),
        (budget, within).all(),
        (start_date, end_date, in_order).all(),
        parse_milestones(&p.milestones, start, end),
    )
        .all()?;
    Ok(ProposalFields {
        title,
        summary,
        community_need,
        governorate,
        place,
        sector,
        theme_code,
        targeted,
        budget,
        milestones,
        start_date,
        end_date,
    })
}

/// The work plan: milestones in order of their due dates, within the
/// project's dates (`start`, `end`) where those are known.
fn parse_milestones(
    sent: &[api::Milestone],
    start: Option<Date>,
    end: Option<Date>,
) -> Result<Vec<Milestone>> {
    let mut v = Violations::new();
    if sent.len() > MAX_MILESTONES {
        v.add(
            "proposal.milestones",
            format!("at most {MAX_MILESTONES} milestones"),
        );
    }
    let mut milestones: Vec<Milestone> = Vec::new();
    for (i, m) in sent.iter().enumerate() {
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
            if let Some(s) = start
                && due < s
            {
                v.add(f("due_date"), format!("before the project starts on {s}"));
            }
            if let Some(e) = end
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
    Ok(milestones)
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn usd(m: i64) -> Money {
        Money::new(Currency::of("USD").unwrap(), m)
    }

    /// The life cycle as the issue states it, written independently of
    /// [`TRANSITIONS`]: draft → submitted → under review → approved or
    /// rejected → awarded → active → completed, or closed early; the coaching
    /// loop until the decision; withdrawal before a decision, or of an
    /// approval that is not awarded.
    pub(crate) const SPEC: &[(ProposalState, Action, ProposalState)] = &[
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
}
