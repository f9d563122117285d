//! The reports: one event, and a period of the center's networking — every
//! figure counted from the records.

use markaz_kit::auth::Caller;
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::parse_id;
use markaz_kit::time::Date;
use markaz_proto::networking::v1 as api;

use super::NetworkingApi;
use crate::domain::figures::{EventRow, ReportRows, event_report, report_with};
use crate::domain::{branch, parse_period};
use crate::store;
use crate::store::commitments::CommitmentFilter;

pub(crate) async fn event(
    n: &NetworkingApi,
    caller: Caller,
    req: api::GetEventReportRequest,
) -> Result<api::EventReport> {
    let id = parse_id("event_id", &req.event_id)?;
    let mut tx = n.db.read(&caller.tenant).await?;
    let e = store::events::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("event", &id))?;
    let a = store::reports::attendance(&mut tx, std::slice::from_ref(&id)).await?;
    let commitments = store::commitments::rows(
        &mut tx,
        &CommitmentFilter {
            event_id: id.clone(),
            ..Default::default()
        },
    )
    .await?;
    let carried_in = store::commitments::carried_into(&mut tx, &id).await?;
    let row = EventRow {
        id: e.id.clone(),
        kind: e.fields.kind,
        status: e.status,
        branch_id: e.fields.branch_id.clone(),
        held_on: e.held_on,
    };
    Ok(event_report(
        &row,
        &a.invitations,
        &a.participants,
        &commitments,
        carried_in,
        e.decisions.len(),
        Date::today(),
    ))
}

pub(crate) async fn networking(
    n: &NetworkingApi,
    caller: Caller,
    req: api::GetNetworkingReportRequest,
) -> Result<api::NetworkingReport> {
    let (period, branch_id) = markaz_kit::error::join(
        parse_period(req.from.as_ref(), req.until.as_ref()),
        branch("branch_id", &req.branch_id, false).map_err(Into::into),
    )?;
    let branch = Some(branch_id.as_str()).filter(|b| !b.is_empty());
    let mut tx = n.db.read(&caller.tenant).await?;
    let attendance = store::reports::period_attendance(&mut tx, period, branch).await?;
    let rows = ReportRows {
        events: store::reports::events(&mut tx).await?,
        coalitions: store::reports::coalitions(&mut tx).await?,
        memberships: store::reports::memberships(&mut tx, None).await?,
        campaigns: store::reports::campaigns(&mut tx).await?,
        outcomes: store::reports::outcomes(&mut tx).await?,
        commitments: store::commitments::rows(&mut tx, &CommitmentFilter::default()).await?,
        // Counted in SQL already: `attendance`.
        participants: Vec::new(),
        invitations: Vec::new(),
    };
    Ok(report_with(
        &rows,
        &attendance,
        period,
        branch,
        Date::today(),
    ))
}
