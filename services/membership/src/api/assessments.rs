//! Organizational capacity assessments (USAID OCA), and what is computed
//! when one is recorded: each domain's consensus spread and change since the
//! previous assessment, the average score.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, new_id, parse_id, parse_optional_id};
use markaz_kit::time::timestamp;
use markaz_proto::events::v1 as ev;
use markaz_proto::membership::v1 as api;

use super::MembershipApi;
use crate::domain::{self, AssessmentSpec};
use crate::store::{self, AssessmentRow};

pub(super) async fn create(
    api: &MembershipApi,
    caller: Caller,
    req: api::CreateAssessmentRequest,
) -> Result<api::Assessment> {
    let (idempotency, spec) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::parse_assessment(req.assessment.as_ref()),
    )
        .all()?;
    let mut tx = api.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    store::get_organization(&mut tx, &spec.organization_id)
        .await?
        .ok_or_else(|| Error::not_found("organization", &spec.organization_id))?;
    let previous =
        store::previous_assessment(&mut tx, &spec.organization_id, spec.assessed_on).await?;
    let row = assessed(&caller, spec, previous);
    store::insert_assessment(&mut tx, &row).await?;
    tx.publish(
        &row.id,
        &ev::AssessmentCompleted {
            assessment_id: row.id.clone(),
            organization_id: row.spec.organization_id.clone(),
            assessed_on: Some(row.spec.assessed_on.to_proto()),
            scores: row
                .spec
                .domains
                .iter()
                .map(|d| ev::DomainScore {
                    domain: d.domain as i32,
                    score: d.score,
                })
                .collect(),
        },
    )
    .await?;
    let reply = proto(&row);
    idempotency.commit(tx, &row.id, &reply).await?;
    Ok(reply)
}

pub(super) async fn get(
    api: &MembershipApi,
    caller: Caller,
    req: api::GetAssessmentRequest,
) -> Result<api::Assessment> {
    let id = parse_id("id", &req.id)?;
    let mut tx = api.db.read(&caller.tenant).await?;
    let row = store::get_assessment(&mut tx, &id)
        .await?
        .filter(|a| caller.may_see_organization(&a.spec.organization_id))
        .ok_or_else(|| Error::not_found("assessment", &id))?;
    Ok(proto(&row))
}

pub(super) async fn list(
    api: &MembershipApi,
    caller: Caller,
    req: api::ListAssessmentsRequest,
) -> Result<api::ListAssessmentsResponse> {
    let (organization_id, page) = (
        parse_optional_id("organization_id", &req.organization_id),
        Page::parse(req.page_size, &req.page_token, &req.organization_id),
    )
        .all()?;
    let Some(organization_id) = caller.organization_filter(&organization_id) else {
        return Ok(api::ListAssessmentsResponse::default());
    };
    let mut tx = api.db.read(&caller.tenant).await?;
    let (mut rows, total) =
        store::list_assessments(&mut tx, &organization_id, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListAssessmentsResponse {
        assessments: rows.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

/// Completes an assessment with what is computed when it is recorded.
fn assessed(
    caller: &Caller,
    spec: AssessmentSpec,
    previous: Option<store::PreviousAssessment>,
) -> AssessmentRow {
    let changes = domain::changes(&spec.domains, previous.as_ref().map(|(_, s)| s.as_slice()));
    let computed = spec
        .domains
        .iter()
        .zip(changes)
        .map(|(d, (change, had))| (domain::consensus_spread(&d.participant_scores), change, had))
        .collect();
    AssessmentRow {
        id: new_id(),
        average_score: domain::average_score(&spec.domains),
        computed,
        assessed_by: caller.subject.clone(),
        previous_assessment_id: previous.map(|(id, _)| id).unwrap_or_default(),
        created_at: markaz_kit::time::now_micros(),
        spec,
    }
}

fn proto(r: &AssessmentRow) -> api::Assessment {
    api::Assessment {
        id: r.id.clone(),
        organization_id: r.spec.organization_id.clone(),
        assessed_on: Some(r.spec.assessed_on.to_proto()),
        domains: r
            .spec
            .domains
            .iter()
            .zip(&r.computed)
            .map(|(d, (spread, change, had))| api::DomainAssessment {
                domain: d.domain as i32,
                score: d.score,
                justification: d.justification.clone(),
                participant_scores: d
                    .participant_scores
                    .iter()
                    .map(|(participant, score)| api::ParticipantScore {
                        participant: participant.clone(),
                        score: *score,
                    })
                    .collect(),
                consensus_spread: *spread,
                change: *change,
                has_previous: *had,
            })
            .collect(),
        action_plan: r
            .spec
            .action_plan
            .iter()
            .map(|a| api::ActionItem {
                domain: a.domain as i32,
                gap: a.gap.clone(),
                action: a.action.clone(),
                due_date: Some(a.due_date.to_proto()),
                owner: a.owner.clone(),
            })
            .collect(),
        notes: r.spec.notes.clone(),
        assessed_by: r.assessed_by.clone(),
        previous_assessment_id: r.previous_assessment_id.clone(),
        average_score: r.average_score,
        create_time: Some(timestamp(r.created_at)),
    }
}
