//! Variations: a budget reallocation and/or a new end date of an award.

use markaz_kit::error::{AllValid, Error, Result};
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
    let (award_id, justification, budget, new_end_date) = (
        markaz_kit::rpc::parse_id("variation.award_id", &r.award_id),
        validate::prose("variation.justification", &r.justification, PROSE_MAX, true),
        parse_budget("variation.budget_lines", &r.budget_lines, currency),
        Date::optional("variation.new_end_date", r.new_end_date.as_ref()),
    )
        .all()?;
    // Asked only of a request that is otherwise good.
    if r.budget_lines.is_empty() && new_end_date.is_none() {
        return Err(Error::invalid(
            "variation",
            "a variation changes the budget, the end date, or both",
        ));
    }
    Ok((
        award_id,
        VariationFields {
            justification,
            budget,
            new_end_date,
        },
    ))
}
