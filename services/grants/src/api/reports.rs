//! Reports: progress reports against milestones, and the final report.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, new_id, parse_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_proto::events::v1 as ev;
use markaz_proto::grants::v1 as api;

use crate::domain::{self, ReportKind, ReportState, ReviewOutcome};
use crate::store::reports::ReportRow;
use crate::store::{self};

use super::awards::AwardWork;
use super::proposals::{people_event, people_proto};
use super::{GrantsApi, context};

pub(super) async fn submit(
    grants: &GrantsApi,
    caller: Caller,
    req: api::SubmitReportRequest,
) -> Result<api::Report> {
    let (idempotency, (award_id, fields)) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::reports::parse_report(req.report.as_ref()),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let work = AwardWork::open(&mut tx, &caller, &award_id, "").await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let (existing, _) = store::reports::list(&mut tx, &award_id, "", 0).await?;
    let open = existing.iter().any(|r| {
        r.state == ReportState::Submitted
            && r.fields.kind == fields.kind
            && r.fields.milestone == fields.milestone
    });
    match fields.kind {
        ReportKind::Final => work.ledger.check_final_report(open)?,
        _ => work.ledger.check_progress_report(fields.milestone, open)?,
    }
    let row = ReportRow {
        id: new_id(),
        award_id,
        fields,
        state: ReportState::Submitted,
        review_comment: String::new(),
        submitted_by: caller.subject.clone(),
        reviewed_by: String::new(),
        submitted_at: now_micros(),
        reviewed_at: 0,
    };
    store::reports::insert(&mut tx, &row).await?;
    work.finish(&mut tx).await?;
    let reply = report_proto(&row);
    idempotency.commit(tx, &row.id, &reply).await?;
    Ok(reply)
}

pub(super) async fn review(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ReviewReportRequest,
) -> Result<api::Report> {
    let (id, (outcome, comment)) = (
        parse_id("id", &req.id),
        domain::reports::parse_review(req.outcome, &req.comment),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let report = store::reports::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("report", &id))?;
    let mut work = AwardWork::open(&mut tx, &caller, &report.award_id, "").await?;
    domain::reports::check_reviewable(report.state)?;
    let to = if outcome == ReviewOutcome::Accept {
        match report.fields.kind {
            ReportKind::Final => work.ledger.accept_final()?,
            _ => work.ledger.accept_milestone(report.fields.milestone)?,
        }
        ReportState::Accepted
    } else {
        ReportState::Returned
    };
    let at = store::review(&mut tx, "reports", &id, to, &comment, &caller.subject).await?;
    if to == ReportState::Accepted && report.fields.kind == ReportKind::Progress {
        let context = context(&mut tx, &work.proposal, &work.call).await?;
        tx.publish(
            &report.award_id,
            &ev::MilestoneReported {
                context: Some(context),
                award_id: report.award_id.clone(),
                report_id: id.clone(),
                milestone_number: report.fields.milestone,
                beneficiaries_reached: Some(people_event(&report.fields.reached)),
                accepted_at: Some(timestamp(at)),
            },
        )
        .await?;
    }
    work.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(report_proto(&ReportRow {
        state: to,
        review_comment: comment,
        reviewed_by: caller.subject.clone(),
        reviewed_at: at,
        ..report
    }))
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListReportsRequest,
) -> Result<api::ListReportsResponse> {
    let (mut tx, id, page) = grants
        .award_page(&caller, &req.award_id, req.page_size, &req.page_token)
        .await?;
    let (mut rows, total) = store::reports::list(&mut tx, &id, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListReportsResponse {
        reports: rows.iter().map(report_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(super) fn report_proto(r: &ReportRow) -> api::Report {
    api::Report {
        id: r.id.clone(),
        award_id: r.award_id.clone(),
        kind: r.fields.kind as i32,
        milestone_number: r.fields.milestone,
        narrative: Some(r.fields.narrative.clone()),
        beneficiaries_reached: Some(people_proto(&r.fields.reached)),
        state: r.state as i32,
        review_comment: r.review_comment.clone(),
        submitted_by: r.submitted_by.clone(),
        reviewed_by: r.reviewed_by.clone(),
        submit_time: Some(timestamp(r.submitted_at)),
        review_time: (r.reviewed_at > 0).then(|| timestamp(r.reviewed_at)),
    }
}
