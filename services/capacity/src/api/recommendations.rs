//! Course recommendations: the open courses that cover an organization's
//! weakest capacity domains, by its latest assessment.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, FieldViolation, Result};
use markaz_kit::rpc::parse_id;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::CourseStatus;

use super::CapacityApi;
use crate::domain::courses::{Course, MAX_CAPACITY};
use crate::domain::enrolments::check_audience;
use crate::domain::recommendations::{
    Candidate, DEFAULT_RECOMMENDATIONS, MAX_RECOMMENDATIONS, rank_courses, weakest_domains,
};
use crate::store;
use crate::store::courses::CourseFilter;

pub(crate) async fn recommend(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::RecommendCoursesRequest,
) -> Result<api::RecommendCoursesResponse> {
    let (organization_id, max) = (
        parse_id("organization_id", &req.organization_id),
        max_results(req.max_results),
    )
        .all()?;
    if !caller.may_see_organization(&organization_id) {
        return Err(Error::not_found("organization", &organization_id));
    }
    capacity.seed(&caller.tenant).await?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let organization = markaz_membership_copies::organization(&mut tx, &organization_id)
        .await?
        // A read answers NOT_FOUND for an organization capacity does not
        // know — never existed, another tenant's, or not arrived yet — as
        // every read does: "retry" here would be retried forever.
        .ok_or_else(|| Error::not_found("organization", &organization_id))?;
    let assessment = store::recommendations::latest_assessment(&mut tx, &organization_id)
        .await?
        .ok_or_else(|| {
            Error::precondition(
                "NO_ASSESSMENT",
                format!("organizations/{organization_id}"),
                "no capacity assessment of this organization has reached capacity building yet",
            )
        })?;
    // The open courses, a few: their count is not needed, and costs one
    // short statement.
    let (open, _) = store::courses::list(
        &mut tx,
        &CourseFilter {
            status: CourseStatus::Open.as_str_name().into(),
            ..Default::default()
        },
        "",
        i64::from(MAX_CAPACITY) * 10,
    )
    .await?;
    let catalogue = store::topics::catalogue(&mut tx).await?;
    let eligible: Vec<&Course> = open
        .iter()
        .filter(|c| check_audience(c.fields.audience, Some(organization.incubation_status)).is_ok())
        .collect();
    let candidates: Vec<Candidate> = eligible
        .iter()
        .map(|c| Candidate {
            id: c.id.clone(),
            domains: c
                .fields
                .topic_codes
                .iter()
                .filter_map(|code| catalogue.get(code))
                .flat_map(|t| t.fields.domains.iter().copied())
                .collect(),
            start: c.fields.start(),
        })
        .collect();
    let ranked = rank_courses(&assessment.scores, &candidates);
    Ok(api::RecommendCoursesResponse {
        assessment_id: assessment.assessment_id.clone(),
        assessed_on: Some(assessment.assessed_on.to_proto()),
        weakest_domains: weakest_domains(&assessment.scores)
            .into_iter()
            .map(|(d, s)| api::DomainScore {
                domain: d as i32,
                score: s,
            })
            .collect(),
        recommendations: ranked
            .into_iter()
            .take(max as usize)
            .map(|r| api::CourseRecommendation {
                course: Some(super::courses::proto(eligible[r.index])),
                covered_domains: r.covered.iter().map(|d| *d as i32).collect(),
                relevance: r.relevance,
            })
            .collect(),
    })
}

/// How many courses to recommend at most (0 for the default).
fn max_results(asked: i32) -> Result<i32, FieldViolation> {
    match asked {
        0 => Ok(DEFAULT_RECOMMENDATIONS),
        n if (1..=MAX_RECOMMENDATIONS).contains(&n) => Ok(n),
        _ => Err(FieldViolation::new(
            "max_results",
            format!("from 1 to {MAX_RECOMMENDATIONS}"),
        )),
    }
}
