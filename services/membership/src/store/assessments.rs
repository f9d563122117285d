//! Capacity assessments (USAID OCA): a head row, its domains, each domain's
//! participant scores, and the action plan. A page of assessments is read in
//! four statements whatever its size: the heads, then each kind of child for
//! the same selection.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::Result;
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::Date;
use markaz_proto::common::v1::CapacityDomain;
use sqlx::AssertSqlSafe;

use crate::domain::{ActionItem, AssessmentSpec, DOMAINS, DomainScore};

/// The latest earlier assessment of an organization: its id and its score
/// per domain.
pub type PreviousAssessment = (String, Vec<(CapacityDomain, i32)>);

/// What is computed per domain when an assessment is recorded: the
/// consensus spread, the change since the previous one, whether there was one.
pub type Computed = (i32, i32, bool);

/// A stored assessment with what was computed when it was recorded.
#[derive(Debug, Clone)]
pub struct AssessmentRow {
    pub id: String,
    pub spec: AssessmentSpec,
    /// Per domain, in `spec.domains` order: (spread, change, has_previous).
    pub computed: Vec<Computed>,
    pub assessed_by: String,
    pub previous_assessment_id: String,
    pub average_score: f64,
    pub created_at: i64,
}

/// The latest assessment of the organization dated before `before`, with
/// its domain scores.
#[tracing::instrument(skip(tx))]
pub async fn previous_assessment(
    tx: &mut Tx,
    organization_id: &str,
    before: Date,
) -> Result<Option<PreviousAssessment>> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM assessments WHERE tenant_id = $1 AND organization_id = $2
           AND assessed_on <= $3
         ORDER BY assessed_on DESC, id DESC LIMIT 1",
    )
    .bind(tx.tenant().to_owned())
    .bind(organization_id.to_owned())
    .bind(before.to_string())
    .fetch_optional(tx.conn())
    .await?;
    let Some(id) = id else { return Ok(None) };
    let scores: Vec<(String, i64)> = sqlx::query_as(
        "SELECT capacity_domain, score FROM assessment_domains
         WHERE tenant_id = $1 AND assessment_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id.clone())
    .fetch_all(tx.conn())
    .await?;
    let scores = scores
        .into_iter()
        .map(|(domain, score)| {
            Ok((
                stored(&domain, CapacityDomain::from_str_name)?,
                score as i32,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((id, scores)))
}

#[tracing::instrument(skip_all)]
pub async fn insert_assessment(tx: &mut Tx, a: &AssessmentRow) -> Result<()> {
    let s = &a.spec;
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO assessments (tenant_id, id, organization_id, assessed_on, notes, assessed_by,
            previous_assessment_id, average_score, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&tenant)
    .bind(&a.id)
    .bind(&s.organization_id)
    .bind(s.assessed_on.to_string())
    .bind(&s.notes)
    .bind(&a.assessed_by)
    .bind(&a.previous_assessment_id)
    .bind(a.average_score)
    .bind(a.created_at)
    .execute(tx.conn())
    .await?;
    for (d, (spread, change, had)) in s.domains.iter().zip(&a.computed) {
        sqlx::query(
            "INSERT INTO assessment_domains (tenant_id, assessment_id, capacity_domain, score,
                justification, consensus_spread, score_change, has_previous)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&tenant)
        .bind(&a.id)
        .bind(d.domain.as_str_name())
        .bind(i64::from(d.score))
        .bind(&d.justification)
        .bind(i64::from(*spread))
        .bind(i64::from(*change))
        .bind(i64::from(*had))
        .execute(tx.conn())
        .await?;
        for (ordinal, (participant, score)) in d.participant_scores.iter().enumerate() {
            sqlx::query(
                "INSERT INTO assessment_participant_scores (tenant_id, assessment_id,
                    capacity_domain, ordinal, participant, score)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&tenant)
            .bind(&a.id)
            .bind(d.domain.as_str_name())
            .bind(ordinal as i64)
            .bind(participant)
            .bind(i64::from(*score))
            .execute(tx.conn())
            .await?;
        }
    }
    for (ordinal, item) in s.action_plan.iter().enumerate() {
        sqlx::query(
            "INSERT INTO assessment_actions (tenant_id, assessment_id, ordinal, capacity_domain,
                gap, action, due_date, owner)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&tenant)
        .bind(&a.id)
        .bind(ordinal as i64)
        .bind(item.domain.as_str_name())
        .bind(&item.gap)
        .bind(&item.action)
        .bind(item.due_date.to_string())
        .bind(&item.owner)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn get_assessment(tx: &mut Tx, id: &str) -> Result<Option<AssessmentRow>> {
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq_always("id", id);
    let selection = Selection {
        ids: format!("SELECT id FROM assessments {}", w.sql()),
        w,
    };
    Ok(load(tx, selection).await?.pop())
}

#[tracing::instrument(skip(tx))]
pub async fn list_assessments(
    tx: &mut Tx,
    organization_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<AssessmentRow>, Total)> {
    // The same conditions count the list, before the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("organization_id", organization_id);
    let total = w.count_capped(tx, "assessments").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let selection = Selection {
        ids: format!(
            "SELECT id FROM assessments {} ORDER BY id LIMIT {limit}",
            w.sql()
        ),
        w,
    };
    Ok((load(tx, selection).await?, total))
}

/// Which assessments to load: a query of their ids and the filter whose
/// values it binds (`$1` the tenant, as in every statement that uses it).
struct Selection {
    ids: String,
    w: Where,
}

impl Selection {
    /// `sql` with `{ids}` replaced by the selection, its parameters bound.
    fn query<'q, O>(
        &self,
        sql: &str,
    ) -> Result<sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        Ok(sqlx::query_as_with(
            AssertSqlSafe(sql.replace("{ids}", &self.ids)),
            self.w.clone().arguments()?,
        ))
    }
}

#[derive(sqlx::FromRow)]
struct StoredAssessment {
    id: String,
    organization_id: String,
    #[sqlx(try_from = "String")]
    assessed_on: Date,
    notes: String,
    assessed_by: String,
    previous_assessment_id: String,
    average_score: f64,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredDomain {
    assessment_id: String,
    capacity_domain: String,
    score: i64,
    justification: String,
    consensus_spread: i64,
    score_change: i64,
    has_previous: i64,
}

#[derive(sqlx::FromRow)]
struct StoredParticipantScore {
    assessment_id: String,
    capacity_domain: String,
    participant: String,
    score: i64,
}

#[derive(sqlx::FromRow)]
struct StoredAction {
    assessment_id: String,
    capacity_domain: String,
    gap: String,
    action: String,
    #[sqlx(try_from = "String")]
    due_date: Date,
    owner: String,
}

async fn load(tx: &mut Tx, selection: Selection) -> Result<Vec<AssessmentRow>> {
    let heads: Vec<StoredAssessment> = selection
        .query(
            "SELECT id, organization_id, assessed_on, notes, assessed_by, previous_assessment_id,
                average_score, created_at
             FROM assessments WHERE tenant_id = $1 AND id IN ({ids}) ORDER BY id",
        )?
        .fetch_all(tx.conn())
        .await?;
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let domains: Vec<StoredDomain> = selection
        .query(
            "SELECT assessment_id, capacity_domain, score, justification, consensus_spread,
                score_change, has_previous
             FROM assessment_domains WHERE tenant_id = $1 AND assessment_id IN ({ids})",
        )?
        .fetch_all(tx.conn())
        .await?;
    let participants: Vec<StoredParticipantScore> = selection
        .query(
            "SELECT assessment_id, capacity_domain, participant, score
             FROM assessment_participant_scores WHERE tenant_id = $1 AND assessment_id IN ({ids})
             ORDER BY assessment_id, capacity_domain, ordinal",
        )?
        .fetch_all(tx.conn())
        .await?;
    let actions: Vec<StoredAction> = selection
        .query(
            "SELECT assessment_id, capacity_domain, gap, action, due_date, owner
             FROM assessment_actions WHERE tenant_id = $1 AND assessment_id IN ({ids})
             ORDER BY assessment_id, ordinal",
        )?
        .fetch_all(tx.conn())
        .await?;

    let mut scores_of: HashMap<(String, String), Vec<(String, i32)>> = HashMap::new();
    for p in participants {
        scores_of
            .entry((p.assessment_id, p.capacity_domain))
            .or_default()
            .push((p.participant, p.score as i32));
    }
    let mut domains_of: HashMap<String, Vec<(DomainScore, Computed)>> = HashMap::new();
    for d in domains {
        let participant_scores = scores_of
            .remove(&(d.assessment_id.clone(), d.capacity_domain.clone()))
            .unwrap_or_default();
        domains_of.entry(d.assessment_id).or_default().push((
            DomainScore {
                domain: stored(&d.capacity_domain, CapacityDomain::from_str_name)?,
                score: d.score as i32,
                justification: d.justification,
                participant_scores,
            },
            (
                d.consensus_spread as i32,
                d.score_change as i32,
                d.has_previous != 0,
            ),
        ));
    }
    let mut actions_of: HashMap<String, Vec<ActionItem>> = HashMap::new();
    for a in actions {
        actions_of
            .entry(a.assessment_id)
            .or_default()
            .push(ActionItem {
                domain: stored(&a.capacity_domain, CapacityDomain::from_str_name)?,
                gap: a.gap,
                action: a.action,
                due_date: a.due_date,
                owner: a.owner,
            });
    }
    Ok(heads
        .into_iter()
        .map(|h| {
            let mut domains = domains_of.remove(&h.id).unwrap_or_default();
            // Present the domains in OCA order, whatever order the rows came in.
            domains.sort_by_key(|(d, _)| DOMAINS.iter().position(|x| *x == d.domain));
            let (domains, computed) = domains.into_iter().unzip();
            AssessmentRow {
                spec: AssessmentSpec {
                    organization_id: h.organization_id,
                    assessed_on: h.assessed_on,
                    domains,
                    action_plan: actions_of.remove(&h.id).unwrap_or_default(),
                    notes: h.notes,
                },
                computed,
                assessed_by: h.assessed_by,
                previous_assessment_id: h.previous_assessment_id,
                average_score: h.average_score,
                created_at: h.created_at,
                id: h.id,
            }
        })
        .collect())
}
