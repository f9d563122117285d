//! Variations: a budget reallocation and/or a new end date of an award.

use markaz_kit::error::{Result, Violations};
use markaz_kit::money::Currency;
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::grants::v1 as api;

use super::PROSE_MAX;
use super::proposals::{BudgetLine, parse_budget};

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
