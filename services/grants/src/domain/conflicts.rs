//! Conflicts of interest: what a declaration names.

use markaz_kit::error::{AllValid, FieldViolation, Result};
use markaz_kit::validate;
use markaz_proto::grants::v1 as api;

use super::PROSE_MAX;

/// What a conflict of interest is declared against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictTarget {
    Organization(String),
    Proposal(String),
}

pub fn parse_conflict(c: Option<&api::Conflict>) -> Result<(ConflictTarget, String)> {
    let empty = api::Conflict::default();
    let c = c.unwrap_or(&empty);
    let target = match (c.organization_id.is_empty(), c.proposal_id.is_empty()) {
        (false, true) => markaz_kit::rpc::parse_id("conflict.organization_id", &c.organization_id)
            .map(ConflictTarget::Organization),
        (true, false) => markaz_kit::rpc::parse_id("conflict.proposal_id", &c.proposal_id)
            .map(ConflictTarget::Proposal),
        _ => Err(FieldViolation::new(
            "conflict",
            "name exactly one of organization_id and proposal_id",
        )),
    };
    (
        target,
        validate::prose("conflict.reason", &c.reason, PROSE_MAX, true),
    )
        .all()
}
