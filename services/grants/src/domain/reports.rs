//! Reports: progress and final reports, and their review.

use markaz_kit::error::{AllValid, Error, FieldViolation, Result};
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::grants::v1 as api;

use super::proposals::{People, parse_people};
use super::{PROSE_MAX, ReportKind, ReportState, ReviewOutcome};

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
    let kind = validate::required_enum::<ReportKind>("report.kind", r.kind);
    let milestone = match kind {
        Ok(ReportKind::Progress) if r.milestone_number < 1 => Err(FieldViolation::new(
            "report.milestone_number",
            "required for a progress report",
        )),
        Ok(ReportKind::Final) if r.milestone_number != 0 => Err(FieldViolation::new(
            "report.milestone_number",
            "a final report is about the whole project, not a milestone",
        )),
        _ => Ok(r.milestone_number),
    };
    let (award_id, kind, milestone, narrative, reached) = (
        markaz_kit::rpc::parse_id("report.award_id", &r.award_id),
        kind,
        milestone,
        validate::localized("report.narrative", r.narrative.as_ref(), PROSE_MAX, true),
        parse_people(
            "report.beneficiaries_reached",
            r.beneficiaries_reached.as_ref(),
        ),
    )
        .all()?;
    Ok((
        award_id,
        ReportFields {
            kind,
            milestone,
            narrative,
            reached,
        },
    ))
}

/// A review of a report: accept, or return with a comment.
pub fn parse_review(outcome: i32, comment: &str) -> Result<(ReviewOutcome, String)> {
    let (outcome, comment) = (
        validate::required_enum::<ReviewOutcome>("outcome", outcome),
        validate::prose("comment", comment, PROSE_MAX, false),
    )
        .all()?;
    if outcome == ReviewOutcome::Return && comment.is_empty() {
        return Err(Error::invalid(
            "comment",
            "required when returning a report: say what to fix",
        ));
    }
    Ok((outcome, comment))
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
