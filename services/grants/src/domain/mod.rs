//! Grants' rules, as plain functions over plain types: no I/O.
//!
//! * the proposal life cycle ([`proposals::transition`]) and the call's ([`calls::call_transition`]);
//! * requests *parsed* into values that exist only when valid
//!   ([`programs::ProgramFields`], [`calls::CallFields`], [`proposals::ProposalFields`], ...), with every
//!   bad field reported at once;
//! * eligibility ([`eligibility::unmet`]) over the service's copy of membership's and
//!   capacity's facts;
//! * the rubric's arithmetic and the ranking, in integers;
//! * the award's money ([`awards::Ledger`]): tranches tied to milestones,
//!   disbursements, spending per budget line, reallocations — with totals
//!   that cannot drift.
//!
//! | room | what it holds |
//! |---|---|
//! | [`programs`] | program fields |
//! | [`calls`] | the call life cycle, call fields, rules and rubric |
//! | [`eligibility`] | a call's rules over an organization's facts |
//! | [`proposals`] | the proposal life cycle, proposal fields, budgets and work plans |
//! | [`coaching`] | while coaching is open |
//! | [`reviewers`] | reviewer fields |
//! | [`conflicts`] | conflict declarations |
//! | [`scores`] | score sheets, weighted totals, the ranking |
//! | [`awards`] | tranches and the award's ledger |
//! | [`reports`] | progress and final reports, their review |
//! | [`expenditure`] | expenditure reports |
//! | [`variations`] | variations of an award |

pub mod awards;
pub mod calls;
pub mod coaching;
pub mod conflicts;
pub mod eligibility;
pub mod expenditure;
pub mod programs;
pub mod proposals;
pub mod reports;
pub mod reviewers;
pub mod scores;
pub mod variations;

use markaz_kit::error::{AllValid, Error, FieldViolation, Result};
use markaz_kit::validate;
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

pub(crate) fn precondition(kind: &'static str, subject: &str, why: String) -> Error {
    Error::precondition(kind, subject.to_string(), why)
}

/// A decision with a reason: approvals may give one, rejections must.
pub fn parse_decision(
    decision: i32,
    reason: &str,
    reason_field: &str,
) -> Result<(Decision, String)> {
    let (decision, reason) = (
        validate::required_enum::<Decision>("decision", decision),
        validate::prose(reason_field, reason, PROSE_MAX, false),
    )
        .all()?;
    if decision == Decision::Reject && reason.is_empty() {
        return Err(Error::invalid(reason_field, "required with a rejection"));
    }
    Ok((decision, reason))
}

/// Parses an optional id filter ("" = any).
pub fn optional_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        markaz_kit::rpc::parse_id(field, value)
    }
}
