//! Awards: tranches tied to milestones, and the award's money ([`Ledger`]):
//! disbursements, spending per budget line, reallocations — with totals that
//! cannot drift.

use std::collections::BTreeSet;

use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::money::{self, Currency, Money, Sign};
use markaz_proto::grants::v1 as api;

use super::proposals::{Action, transition};
use super::{MAX_MILESTONES, ProposalState, TrancheState, precondition};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::expenditure::{AwardTerms, parse_expenditure};
    use crate::domain::proposals::TRANSITIONS;
    use crate::domain::proposals::tests::SPEC;
    use markaz_kit::time::Date;

    fn usd(m: i64) -> Money {
        Money::new(Currency::of("USD").unwrap(), m)
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
