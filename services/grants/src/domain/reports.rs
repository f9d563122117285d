//! Reports: progress and final reports, and their review.

use markaz_kit::error::{Error, Result, Violations};
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
