//! Expenditure reports: spending per budget line for a period; accepted ones
//! are the "actual" of the award's budget-against-actual.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::money::{self};
use markaz_kit::rpc::{Idempotency, new_id, parse_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_proto::grants::v1 as api;

use crate::domain::{self, ReportState, ReviewOutcome};
use crate::store::expenditure::ExpenditureRow;
use crate::store::{self};

use super::awards::AwardWork;
use super::{GrantsApi, seen_award, viewer};

pub(super) async fn submit(
    grants: &GrantsApi,
    caller: Caller,
    req: api::SubmitExpenditureReportRequest,
) -> Result<api::ExpenditureReport> {
    let sent = req.report.clone().unwrap_or_default();
    let award_id = match parse_id("report.award_id", &sent.award_id) {
        Ok(id) => Ok(id),
        // No award to judge the report against: parsed alone, it names
        // everything the request gets wrong, the award id among it.
        Err(_) => domain::expenditure::parse_expenditure(Some(&sent), None).map(|(id, _)| id),
    };
    let (idempotency, award_id) =
        (Idempotency::of(&caller, &req.request_id, &req), award_id).all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let award = seen_award(&mut tx, &viewer, &award_id).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    // Every bad field at once, before the award is locked.
    let (_, fields) = domain::expenditure::parse_expenditure(
        Some(&sent),
        Some(domain::expenditure::AwardTerms {
            currency: award.amount.currency(),
            budget_lines: award.budget.len(),
        }),
    )?;
    let mut work = AwardWork::lock(&mut tx, &award_id, "").await?;
    work.ledger.spend(&spending(&fields), false)?;
    let row = ExpenditureRow {
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
    store::expenditure::insert(&mut tx, &row).await?;
    work.finish(&mut tx).await?;
    let reply = expenditure_proto(&row)?;
    idempotency.commit(tx, &row.id, &reply).await?;
    Ok(reply)
}

pub(super) async fn review(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ReviewExpenditureReportRequest,
) -> Result<api::ExpenditureReport> {
    let (id, (outcome, comment)) = (
        parse_id("id", &req.id),
        domain::reports::parse_review(req.outcome, &req.comment),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let report = store::expenditure::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("expenditure report", &id))?;
    let mut work = AwardWork::open(&mut tx, &caller, &report.award_id, "").await?;
    domain::reports::check_reviewable(report.state)?;
    let to = if outcome == ReviewOutcome::Accept {
        work.ledger.spend(&spending(&report.fields), true)?;
        ReportState::Accepted
    } else {
        ReportState::Returned
    };
    let at = store::review(
        &mut tx,
        "expenditure_reports",
        &id,
        to,
        &comment,
        &caller.subject,
    )
    .await?;
    work.finish(&mut tx).await?;
    tx.commit().await?;
    expenditure_proto(&ExpenditureRow {
        state: to,
        review_comment: comment,
        reviewed_by: caller.subject.clone(),
        reviewed_at: at,
        ..report
    })
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListExpenditureReportsRequest,
) -> Result<api::ListExpenditureReportsResponse> {
    let (mut tx, id, page) = grants
        .award_page(&caller, &req.award_id, req.page_size, &req.page_token)
        .await?;
    let (mut rows, total) =
        store::expenditure::list(&mut tx, &id, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListExpenditureReportsResponse {
        reports: rows.iter().map(expenditure_proto).collect::<Result<_>>()?,
        next_page_token,
        total_size: total.size,
    })
}

pub(super) fn spending(f: &domain::expenditure::ExpenditureFields) -> Vec<(i32, i64)> {
    f.lines
        .iter()
        .map(|(line, amount, _)| (*line, amount.minor_units()))
        .collect()
}

pub(super) fn expenditure_proto(r: &ExpenditureRow) -> Result<api::ExpenditureReport> {
    let currency = r
        .fields
        .lines
        .first()
        .map(|(_, a, _)| a.currency())
        .ok_or_else(|| Error::internal("an expenditure report without lines"))?;
    let total = money::sum(currency, r.fields.lines.iter().map(|(_, a, _)| *a))?;
    Ok(api::ExpenditureReport {
        id: r.id.clone(),
        award_id: r.award_id.clone(),
        period_start: Some(r.fields.period_start.to_proto()),
        period_end: Some(r.fields.period_end.to_proto()),
        lines: r
            .fields
            .lines
            .iter()
            .map(|(line, amount, note)| api::ExpenditureLine {
                line_number: *line,
                amount: Some(amount.to_proto()),
                note: note.clone(),
            })
            .collect(),
        total: Some(total.to_proto()),
        state: r.state as i32,
        review_comment: r.review_comment.clone(),
        submitted_by: r.submitted_by.clone(),
        reviewed_by: r.reviewed_by.clone(),
        submit_time: Some(timestamp(r.submitted_at)),
        review_time: (r.reviewed_at > 0).then(|| timestamp(r.reviewed_at)),
    })
}
