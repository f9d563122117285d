//! Advocacy campaigns: planned → active → completed; planned | active →
//! cancelled; their outcomes with evidence.

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id, update_mask};
use markaz_kit::time::{Date, timestamp};
use markaz_proto::common::v1::OrganizationKind;
use markaz_proto::events::v1 as ev;
use markaz_proto::networking::v1 as api;

use super::{NetworkingApi, enum_filter, known_organization, partner_of};
use crate::domain::campaigns::{
    CAMPAIGN_LIFECYCLE, CAMPAIGN_MASK, CampaignAction, CampaignFields, CampaignStatus,
    OUTCOME_MASK, Runner, TargetKind, check_campaign_update, check_outcome, merge_campaign,
    merge_outcome, parse_campaign, parse_new_outcome, parse_outcome,
};
use crate::domain::{PROSE_MAX, Word, issue_code};
use crate::store;
use crate::store::campaigns::{Campaign, CampaignFilter, Outcome, gone};

pub(crate) async fn create(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CreateCampaignRequest,
) -> Result<api::Campaign> {
    let (fields, idempotency) = (
        parse_campaign(
            req.campaign.as_ref().unwrap_or(&api::Campaign::default()),
            &[],
        ),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    check_fields(&mut tx, &fields, None).await?;
    let id = new_id();
    store::campaigns::insert(&mut tx, &id, &fields, &caller.subject).await?;
    let c = find(&mut tx, &id).await?;
    let reply = proto(&c);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

/// What the store must know: the issue, the runner, the targets' bodies,
/// the grant award, the activities' events.
async fn check_fields(tx: &mut Tx, f: &CampaignFields, current: Option<&Campaign>) -> Result<()> {
    let kept: Vec<String> = current
        .map(|c| vec![c.fields.issue_code.clone()])
        .unwrap_or_default();
    super::issues::check_code(tx, "campaign.issue_code", &f.issue_code, &kept).await?;
    match &f.runner {
        Runner::Coalition(c) => {
            store::coalitions::get(tx, c)
                .await?
                .ok_or_else(|| Error::invalid("campaign.coalition_id", "no such coalition"))?;
        }
        Runner::Organization(o) => {
            known_organization(tx, o).await?;
        }
    }
    for (i, t) in f.targets.iter().enumerate() {
        if let Some(o) = &t.organization_id {
            let org = known_organization(tx, o).await?;
            if t.kind == TargetKind::LocalAdministration
                && org.kind != OrganizationKind::LocalAdministration
            {
                return Err(Error::invalid(
                    format!("campaign.targets[{i}].organization_id"),
                    "not a local-administration body",
                ));
            }
        }
    }
    if let Some(g) = &f.grant_award_id
        && !store::grants::known(tx, g).await?
    {
        return Err(super::not_known("grant award", g));
    }
    for (i, a) in f.activities.iter().enumerate() {
        if let Some(e) = &a.event_id
            && store::events::get(tx, e).await?.is_none()
        {
            return Err(Error::invalid(
                format!("campaign.activities[{i}].event_id"),
                "no such event",
            ));
        }
    }
    Ok(())
}

async fn find(tx: &mut Tx, id: &str) -> Result<Campaign> {
    store::campaigns::get(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("campaign", id))
}

async fn visible(tx: &mut Tx, caller: &Caller, id: &str) -> Result<Campaign> {
    if let Some(own) = partner_of(caller) {
        let scope = CampaignFilter {
            organization_id: own.clone(),
            nothing: own.is_empty(),
            ..Default::default()
        };
        if !store::campaigns::visible(tx, id, &scope).await? {
            return Err(Error::not_found("campaign", id));
        }
    }
    find(tx, id).await
}

pub(crate) async fn get(
    n: &NetworkingApi,
    caller: Caller,
    req: api::GetCampaignRequest,
) -> Result<api::Campaign> {
    let id = parse_id("id", &req.id)?;
    let mut tx = n.db.read(&caller.tenant).await?;
    Ok(proto(&visible(&mut tx, &caller, &id).await?))
}

pub(crate) async fn list(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListCampaignsRequest,
) -> Result<api::ListCampaignsResponse> {
    let (status, issue, coalition_id, organization_id, branch_id, grant_award_id) = (
        enum_filter("status", req.status, CampaignStatus::as_str_name),
        if req.issue_code.is_empty() {
            Ok(String::new())
        } else {
            issue_code("issue_code", &req.issue_code)
        },
        super::optional_id("coalition_id", &req.coalition_id),
        super::optional_id("organization_id", &req.organization_id),
        crate::domain::branch("branch_id", &req.branch_id, false),
        super::optional_id("grant_award_id", &req.grant_award_id),
    )
        .all()?;
    let (organization_id, nothing) = match caller.organization_filter(&organization_id) {
        Some(o) => (o, partner_of(&caller).is_some_and(|p| p.is_empty())),
        None => (String::new(), true),
    };
    let filter = CampaignFilter {
        status,
        issue_code: issue,
        coalition_id,
        organization_id,
        branch_id,
        grant_award_id,
        nothing,
    };
    let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
    let mut tx = n.db.read(&caller.tenant).await?;
    let (mut rows, total_size) =
        store::campaigns::list(&mut tx, &filter, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |c| c.id.clone());
    Ok(api::ListCampaignsResponse {
        campaigns: rows.iter().map(proto).collect(),
        next_page_token,
        total_size,
    })
}

pub(crate) async fn update(
    n: &NetworkingApi,
    caller: Caller,
    req: api::UpdateCampaignRequest,
) -> Result<api::Campaign> {
    let sent = req.campaign.unwrap_or_default();
    let (id, mask) = (
        parse_id("campaign.id", &sent.id),
        update_mask(req.update_mask.as_ref(), CAMPAIGN_MASK),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("campaigns", &id).await?;
    let current = find(&mut tx, &id).await?;
    check_etag("campaign.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current);
    merge_campaign(&mut merged, &sent, &mask);
    let fields = parse_campaign(&merged, &current.activity_ids)?;
    check_campaign_update(current.status, &current.fields, &fields)?;
    if fields == current.fields {
        return Ok(proto(&current));
    }
    check_fields(&mut tx, &fields, Some(&current)).await?;
    store::campaigns::update(&mut tx, &current, &fields).await?;
    let c = find(&mut tx, &id).await?;
    if c.status != CampaignStatus::Planned {
        tx.publish(
            &id,
            &ev::CampaignChanged {
                campaign: Some(snapshot(&c)),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(proto(&c))
}

async fn move_campaign(
    n: &NetworkingApi,
    caller: &Caller,
    id: &str,
    sent_etag: &str,
    action: CampaignAction,
    reason: &str,
) -> Result<api::Campaign> {
    let id = parse_id("id", id)?;
    let mut tx = n.db.write(&caller.tenant).await?;
    tx.lock("campaigns", &id).await?;
    let current = find(&mut tx, &id).await?;
    check_etag("etag", sent_etag, current.version)?;
    let to = CAMPAIGN_LIFECYCLE.next(current.status, action)?;
    store::campaigns::set_status(&mut tx, &current, to, reason, &caller.subject).await?;
    let c = find(&mut tx, &id).await?;
    if action == CampaignAction::Launch {
        tx.publish(
            &id,
            &ev::CampaignLaunched {
                campaign: Some(snapshot(&c)),
            },
        )
        .await?;
    } else if current.status != CampaignStatus::Planned {
        tx.publish(
            &id,
            &ev::CampaignChanged {
                campaign: Some(snapshot(&c)),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(proto(&c))
}

pub(crate) async fn launch(
    n: &NetworkingApi,
    caller: Caller,
    req: api::LaunchCampaignRequest,
) -> Result<api::Campaign> {
    move_campaign(n, &caller, &req.id, &req.etag, CampaignAction::Launch, "").await
}

pub(crate) async fn complete(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CompleteCampaignRequest,
) -> Result<api::Campaign> {
    move_campaign(n, &caller, &req.id, &req.etag, CampaignAction::Complete, "").await
}

pub(crate) async fn cancel(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CancelCampaignRequest,
) -> Result<api::Campaign> {
    let (_, reason) = (
        parse_id("id", &req.id),
        markaz_kit::validate::prose("reason", &req.reason, PROSE_MAX, true),
    )
        .all()?;
    move_campaign(
        n,
        &caller,
        &req.id,
        &req.etag,
        CampaignAction::Cancel,
        &reason,
    )
    .await
}

pub(crate) async fn record_outcome(
    n: &NetworkingApi,
    caller: Caller,
    req: api::RecordCampaignOutcomeRequest,
) -> Result<api::CampaignOutcome> {
    let ((campaign_id, fields), idempotency) = (
        parse_new_outcome(req.outcome.as_ref(), Date::today()),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    tx.lock("campaigns", &campaign_id).await?;
    let c = find(&mut tx, &campaign_id).await?;
    check_outcome(&fields, &c.fields)?;
    CAMPAIGN_LIFECYCLE.next(c.status, CampaignAction::RecordOutcome)?;
    let id = new_id();
    store::campaigns::insert_outcome(&mut tx, &id, &campaign_id, &fields, &caller.subject).await?;
    let o = store::campaigns::outcome(&mut tx, &id)
        .await?
        .ok_or_else(|| gone("outcome"))?;
    tx.publish(&campaign_id, &outcome_event(&c, &o)).await?;
    let reply = outcome_proto(&o);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(crate) async fn update_outcome(
    n: &NetworkingApi,
    caller: Caller,
    req: api::UpdateCampaignOutcomeRequest,
) -> Result<api::CampaignOutcome> {
    let sent = req.outcome.unwrap_or_default();
    let (id, mask) = (
        parse_id("outcome.id", &sent.id),
        update_mask(req.update_mask.as_ref(), OUTCOME_MASK),
    )
        .all()?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = store::campaigns::outcome(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("campaign outcome", &id))?;
    check_etag("outcome.etag", &sent.etag, current.version)?;
    let mut merged = outcome_proto(&current);
    merge_outcome(&mut merged, &sent, &mask);
    let fields = parse_outcome(&merged, Date::today())?;
    let c = find(&mut tx, &current.campaign_id).await?;
    check_outcome(&fields, &c.fields)?;
    store::campaigns::update_outcome(&mut tx, &current, &fields, &caller.subject).await?;
    let o = store::campaigns::outcome(&mut tx, &id)
        .await?
        .ok_or_else(|| gone("outcome"))?;
    tx.publish(&c.id, &outcome_event(&c, &o)).await?;
    tx.commit().await?;
    Ok(outcome_proto(&o))
}

pub(crate) async fn outcomes(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListCampaignOutcomesRequest,
) -> Result<api::ListCampaignOutcomesResponse> {
    let id = parse_id("campaign_id", &req.campaign_id)?;
    let page = Page::parse(req.page_size, &req.page_token, &id)?;
    let after = super::split_key(&page.after)?;
    let mut tx = n.db.read(&caller.tenant).await?;
    visible(&mut tx, &caller, &id).await?;
    let (mut rows, total_size) =
        store::campaigns::outcomes(&mut tx, &id, after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |o| format!("{}|{}", o.fields.achieved_on, o.id));
    Ok(api::ListCampaignOutcomesResponse {
        outcomes: rows.iter().map(outcome_proto).collect(),
        next_page_token,
        total_size,
    })
}

fn runner_ids(c: &Campaign) -> (String, String) {
    match &c.fields.runner {
        Runner::Coalition(x) => (x.clone(), String::new()),
        Runner::Organization(x) => (String::new(), x.clone()),
    }
}

fn outcome_event(c: &Campaign, o: &Outcome) -> ev::CampaignOutcomeRecorded {
    let (coalition_id, organization_id) = runner_ids(c);
    ev::CampaignOutcomeRecorded {
        outcome_id: o.id.clone(),
        campaign_id: c.id.clone(),
        issue_code: c.fields.issue_code.clone(),
        coalition_id,
        organization_id,
        branch_id: c.fields.branch_id.clone(),
        kind: o.fields.kind.word(),
        achieved_on: Some(o.fields.achieved_on.to_proto()),
        target_organization_id: o.fields.target_organization_id.clone().unwrap_or_default(),
        evidence_count: o.evidence.len() as i32,
        grant_award_id: c.fields.grant_award_id.clone().unwrap_or_default(),
        version: o.version,
    }
}

fn snapshot(c: &Campaign) -> ev::CampaignSnapshot {
    let (coalition_id, organization_id) = runner_ids(c);
    ev::CampaignSnapshot {
        campaign_id: c.id.clone(),
        issue_code: c.fields.issue_code.clone(),
        coalition_id,
        organization_id,
        branch_id: c.fields.branch_id.clone(),
        target_organization_ids: c
            .fields
            .target_organizations()
            .into_iter()
            .map(str::to_string)
            .collect(),
        target_kinds: c.fields.targets.iter().map(|t| t.kind.word()).collect(),
        grant_award_id: c.fields.grant_award_id.clone().unwrap_or_default(),
        start_date: Some(c.fields.start_date.to_proto()),
        end_date: Some(c.fields.end_date.to_proto()),
        status: c.status.word(),
        launched_on: c.launched_on.map(Date::to_proto),
        closed_on: c.closed_on.map(Date::to_proto),
        version: c.version,
    }
}

pub(crate) fn proto(c: &Campaign) -> api::Campaign {
    use api::campaign::Runner as R;
    api::Campaign {
        id: c.id.clone(),
        title: Some(c.fields.title.clone()),
        issue_code: c.fields.issue_code.clone(),
        objective: Some(c.fields.objective.clone()),
        runner: Some(match &c.fields.runner {
            Runner::Coalition(x) => R::CoalitionId(x.clone()),
            Runner::Organization(x) => R::OrganizationId(x.clone()),
        }),
        targets: c
            .fields
            .targets
            .iter()
            .map(|t| api::CampaignTarget {
                kind: t.kind as i32,
                organization_id: t.organization_id.clone().unwrap_or_default(),
                description: Some(t.description.clone()),
            })
            .collect(),
        activities: c
            .fields
            .activities
            .iter()
            .map(|a| api::CampaignActivity {
                id: a.id.clone().unwrap_or_default(),
                date: Some(a.date.to_proto()),
                description: Some(a.description.clone()),
                event_id: a.event_id.clone().unwrap_or_default(),
                people_reached: a.people_reached,
            })
            .collect(),
        branch_id: c.fields.branch_id.clone(),
        start_date: Some(c.fields.start_date.to_proto()),
        end_date: Some(c.fields.end_date.to_proto()),
        grant_award_id: c.fields.grant_award_id.clone().unwrap_or_default(),
        status: c.status as i32,
        status_history: c
            .history
            .iter()
            .map(|h| api::CampaignStatusChange {
                from: CampaignStatus::from_str_name(&h.from_status).unwrap_or_default() as i32,
                to: CampaignStatus::from_str_name(&h.to_status).unwrap_or_default() as i32,
                reason: h.reason.clone(),
                changed_by: h.changed_by.clone(),
                change_time: Some(timestamp(h.changed_at)),
            })
            .collect(),
        outcome_count: c.outcome_count,
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        etag: etag(c.version),
    }
}

fn outcome_proto(o: &Outcome) -> api::CampaignOutcome {
    api::CampaignOutcome {
        id: o.id.clone(),
        campaign_id: o.campaign_id.clone(),
        kind: o.fields.kind as i32,
        description: Some(o.fields.description.clone()),
        achieved_on: Some(o.fields.achieved_on.to_proto()),
        target_organization_id: o.fields.target_organization_id.clone().unwrap_or_default(),
        evidence: o
            .evidence
            .iter()
            .map(super::commitments::evidence_proto)
            .collect(),
        recorded_by: o.recorded_by.clone(),
        create_time: Some(timestamp(o.created_at)),
        update_time: Some(timestamp(o.updated_at)),
        etag: etag(o.version),
    }
}
