//! Expenditure reports: spending per budget line for a period, parsed
//! against the award's terms.

use markaz_kit::error::{AllValid, Error, FieldViolation, Result, Violations};
use markaz_kit::money::{self, Currency, Money, Sign};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::grants::v1 as api;

use super::awards::running_total;
use super::proposals::one_currency;
use super::{MAX_BUDGET_LINES, NAME_MAX};

#[derive(Debug, Clone, PartialEq)]
pub struct ExpenditureFields {
    pub period_start: Date,
    pub period_end: Date,
    pub lines: Vec<Spent>,
}

/// What was spent on one budget line: (line number, amount, note).
pub type Spent = (i32, Money, String);

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
    let start = Date::required("report.period_start", r.period_start.as_ref());
    let end = Date::required("report.period_end", r.period_end.as_ref());
    let in_order = match (&start, &end) {
        (Ok(s), Ok(e)) if e < s => Err(FieldViolation::new(
            "report.period_end",
            format!("before the period starts on {s}"),
        )),
        _ => Ok(()),
    };
    let (award_id, period_start, period_end, (), (lines, currency)) = (
        markaz_kit::rpc::parse_id("report.award_id", &r.award_id),
        start,
        end,
        in_order,
        spending_lines(&r.lines, award),
    )
        .all()?;
    running_total(
        Money::zero(currency),
        lines
            .iter()
            .enumerate()
            .map(|(i, (_, a, _))| (format!("report.lines[{i}].amount"), *a)),
        "the report's total is too large",
    )?;
    Ok((
        award_id,
        ExpenditureFields {
            period_start,
            period_end,
            lines,
        },
    ))
}

/// The lines of an expenditure report, each a budget line of the award
/// once, all in one currency (the award's, when it is known): the lines and
/// that currency.
fn spending_lines(
    sent: &[api::ExpenditureLine],
    award: Option<AwardTerms>,
) -> Result<(Vec<Spent>, Currency)> {
    let mut v = Violations::new();
    let mut currency = award.map(|a| a.currency);
    if sent.is_empty() {
        v.add("report.lines", "at least one line");
    }
    if sent.len() > MAX_BUDGET_LINES {
        v.add("report.lines", format!("at most {MAX_BUDGET_LINES}"));
    }
    let mut lines: Vec<Spent> = Vec::new();
    for (i, l) in sent.iter().enumerate() {
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
    // No violation means a line at least, so a currency.
    let currency = currency.ok_or_else(|| Error::invalid("report.lines", "at least one line"))?;
    Ok((lines, currency))
}
