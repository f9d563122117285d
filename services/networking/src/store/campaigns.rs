//! Advocacy campaigns, their targets, activities and outcomes.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::time::{Date, MaybeDate, now_micros};

use super::{Arg, Evidence, Filter, StatusChange, in_list, text, versioned};
use crate::domain::campaigns::{
    ActivitySpec, CampaignFields, CampaignStatus, OutcomeFields, OutcomeKind, Runner, Target,
    TargetKind,
};

const COLUMNS: &str = "c.id, c.title_ar, c.title_en, c.issue_code, c.objective_ar, c.objective_en, \
     c.coalition_id, c.organization_id, c.branch_id, c.start_date, c.end_date, c.grant_award_id, \
     c.status, c.launched_on, c.closed_on, c.version, c.created_at, c.updated_at";

#[derive(sqlx::FromRow)]
struct StoredCampaign {
    id: String,
    title_ar: String,
    title_en: String,
    issue_code: String,
    objective_ar: String,
    objective_en: String,
    coalition_id: String,
    organization_id: String,
    branch_id: String,
    #[sqlx(try_from = "String")]
    start_date: Date,
    #[sqlx(try_from = "String")]
    end_date: Date,
    grant_award_id: String,
    status: String,
    #[sqlx(try_from = "String")]
    launched_on: MaybeDate,
    #[sqlx(try_from = "String")]
    closed_on: MaybeDate,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Activity {
    pub id: String,
    pub spec: ActivitySpec,
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub fields: CampaignFields,
    pub activity_ids: Vec<String>,
    pub status: CampaignStatus,
    pub launched_on: Option<Date>,
    pub closed_on: Option<Date>,
    pub history: Vec<StatusChange>,
    pub outcome_count: i32,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    campaign_id: String,
    kind: String,
    organization_id: String,
    description_ar: String,
    description_en: String,
}

#[derive(sqlx::FromRow)]
struct ActivityRow {
    id: String,
    campaign_id: String,
    #[sqlx(try_from = "String")]
    activity_date: Date,
    description_ar: String,
    description_en: String,
    event_id: String,
    people_reached: i64,
}

#[derive(sqlx::FromRow)]
struct OutcomeCount {
    campaign_id: String,
}

async fn with_children(tx: &mut Tx, rows: Vec<StoredCampaign>) -> Result<Vec<Campaign>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut f = Filter::tenant(tx, "tenant_id");
    let list = in_list(&mut f, &ids);
    let cond = format!("{} AND campaign_id IN {list}", f.sql());
    let targets: Vec<TargetRow> = f
        .fetch(
            tx,
            format!(
                "SELECT campaign_id, kind, organization_id, description_ar, description_en
                 FROM campaign_targets WHERE {cond} ORDER BY campaign_id, ordinal"
            ),
        )
        .await?;
    let activities: Vec<ActivityRow> = f
        .fetch(
            tx,
            format!(
                "SELECT id, campaign_id, activity_date, description_ar, description_en, event_id,
                    people_reached FROM campaign_activities WHERE {cond}
                 ORDER BY campaign_id, activity_date, id"
            ),
        )
        .await?;
    let outcomes: Vec<OutcomeCount> = f
        .fetch(
            tx,
            format!("SELECT campaign_id FROM campaign_outcomes WHERE {cond}"),
        )
        .await?;
    let mut history = super::status_changes(tx, "campaign", &ids).await?;
    let mut t: HashMap<String, Vec<Target>> = HashMap::new();
    for r in targets {
        t.entry(r.campaign_id).or_default().push(Target {
            kind: stored(&r.kind, TargetKind::from_str_name)?,
            organization_id: Some(r.organization_id).filter(|o| !o.is_empty()),
            description: text(r.description_ar, r.description_en),
        });
    }
    let mut a: HashMap<String, Vec<Activity>> = HashMap::new();
    for r in activities {
        a.entry(r.campaign_id).or_default().push(Activity {
            spec: ActivitySpec {
                id: Some(r.id.clone()),
                date: r.activity_date,
                description: text(r.description_ar, r.description_en),
                event_id: Some(r.event_id).filter(|e| !e.is_empty()),
                people_reached: r.people_reached.clamp(0, i64::from(i32::MAX)) as i32,
            },
            id: r.id,
        });
    }
    let mut counts: HashMap<String, i32> = HashMap::new();
    for o in outcomes {
        *counts.entry(o.campaign_id).or_default() += 1;
    }
    rows.into_iter()
        .map(|r| {
            let acts = a.remove(&r.id).unwrap_or_default();
            let runner = if r.coalition_id.is_empty() {
                Runner::Organization(r.organization_id)
            } else {
                Runner::Coalition(r.coalition_id)
            };
            Ok(Campaign {
                fields: CampaignFields {
                    title: text(r.title_ar, r.title_en),
                    issue_code: r.issue_code,
                    objective: text(r.objective_ar, r.objective_en),
                    runner,
                    targets: t.remove(&r.id).unwrap_or_default(),
                    activities: acts.iter().map(|x| x.spec.clone()).collect(),
                    branch_id: r.branch_id,
                    start_date: r.start_date,
                    end_date: r.end_date,
                    grant_award_id: Some(r.grant_award_id).filter(|g| !g.is_empty()),
                },
                activity_ids: acts.into_iter().map(|x| x.id).collect(),
                status: stored(&r.status, CampaignStatus::from_str_name)?,
                launched_on: r.launched_on.0,
                closed_on: r.closed_on.0,
                history: history.remove(&r.id).unwrap_or_default(),
                outcome_count: counts.get(&r.id).copied().unwrap_or(0),
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
                id: r.id,
            })
        })
        .collect()
}

async fn write_children(tx: &mut Tx, id: &str, f: &CampaignFields) -> Result<()> {
    for table in ["campaign_targets", "campaign_activities"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND campaign_id = $2"
        )))
        .bind(tx.tenant().to_owned())
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    for (i, t) in f.targets.iter().enumerate() {
        sqlx::query(
            "INSERT INTO campaign_targets (tenant_id, campaign_id, ordinal, kind, organization_id,
                description_ar, description_en) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(i as i64)
        .bind(t.kind.as_str_name())
        .bind(t.organization_id.clone().unwrap_or_default())
        .bind(&t.description.ar)
        .bind(&t.description.en)
        .execute(tx.conn())
        .await?;
    }
    for a in &f.activities {
        sqlx::query(
            "INSERT INTO campaign_activities (tenant_id, id, campaign_id, activity_date,
                description_ar, description_en, event_id, people_reached)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tx.tenant().to_owned())
        .bind(a.id.clone().unwrap_or_else(new_id))
        .bind(id)
        .bind(a.date.to_string())
        .bind(&a.description.ar)
        .bind(&a.description.en)
        .bind(a.event_id.clone().unwrap_or_default())
        .bind(i64::from(a.people_reached))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

fn runner_columns(r: &Runner) -> (String, String) {
    match r {
        Runner::Coalition(c) => (c.clone(), String::new()),
        Runner::Organization(o) => (String::new(), o.clone()),
    }
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, id: &str, f: &CampaignFields, by: &str) -> Result<()> {
    let now = now_micros();
    let (coalition, organization) = runner_columns(&f.runner);
    sqlx::query(
        "INSERT INTO campaigns (tenant_id, id, title_ar, title_en, issue_code, objective_ar,
            objective_en, coalition_id, organization_id, branch_id, start_date, end_date,
            grant_award_id, status, launched_on, closed_on, version, created_by, created_at,
            updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, '', '', 1, $15,
            $16, $16)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(&f.title.ar)
    .bind(&f.title.en)
    .bind(&f.issue_code)
    .bind(&f.objective.ar)
    .bind(&f.objective.en)
    .bind(coalition)
    .bind(organization)
    .bind(&f.branch_id)
    .bind(f.start_date.to_string())
    .bind(f.end_date.to_string())
    .bind(f.grant_award_id.clone().unwrap_or_default())
    .bind(CampaignStatus::Planned.as_str_name())
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    write_children(tx, id, f).await?;
    super::insert_status_change(
        tx,
        "campaign",
        id,
        CampaignStatus::Unspecified.as_str_name(),
        CampaignStatus::Planned.as_str_name(),
        &Date::today().to_string(),
        "",
        by,
    )
    .await
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Campaign>> {
    let mut f = Filter::tenant(tx, "c.tenant_id");
    f.and("c.id = ?", [Arg::from(id)]);
    let rows: Vec<StoredCampaign> = f
        .fetch(
            tx,
            format!("SELECT {COLUMNS} FROM campaigns c WHERE {}", f.sql()),
        )
        .await?;
    Ok(with_children(tx, rows).await?.pop())
}

/// The condition "organization `?` runs campaign `c`, or is an active
/// member of the coalition that does" (two placeholders).
pub const RUN_BY: &str = "c.organization_id = ? OR EXISTS (SELECT 1 FROM coalition_members m \
     WHERE m.tenant_id = c.tenant_id AND m.coalition_id = c.coalition_id \
     AND m.organization_id = ? AND m.active = 1)";

#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    pub status: String,
    pub issue_code: String,
    pub coalition_id: String,
    pub organization_id: String,
    pub branch_id: String,
    pub grant_award_id: String,
    pub nothing: bool,
}

fn conditions(tx: &Tx, q: &CampaignFilter) -> Filter {
    let mut f = Filter::tenant(tx, "c.tenant_id");
    if q.nothing {
        f.and("1 = 0", []);
    }
    f.when(&q.status, "c.status = ?")
        .when(&q.issue_code, "c.issue_code = ?")
        .when(&q.coalition_id, "c.coalition_id = ?")
        .when(&q.branch_id, "c.branch_id = ?")
        .when(&q.grant_award_id, "c.grant_award_id = ?")
        .when(&q.organization_id, RUN_BY);
    f
}

#[tracing::instrument(skip(tx))]
pub async fn visible(tx: &mut Tx, id: &str, q: &CampaignFilter) -> Result<bool> {
    let mut f = conditions(tx, q);
    f.and("c.id = ?", [Arg::from(id)]);
    Ok(f.count(tx, "campaigns c").await? > 0)
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    q: &CampaignFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<Campaign>, i32)> {
    let f = conditions(tx, q);
    let total = f.count(tx, "campaigns c").await?;
    let mut page = f.clone();
    page.when(after, "c.id > ?");
    let limit = page.bind(limit);
    let rows: Vec<StoredCampaign> = page
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM campaigns c WHERE {} ORDER BY c.id LIMIT {limit}",
                page.sql()
            ),
        )
        .await?;
    Ok((with_children(tx, rows).await?, total))
}

#[tracing::instrument(skip(tx, current, f))]
pub async fn update(tx: &mut Tx, current: &Campaign, f: &CampaignFields) -> Result<()> {
    let (coalition, organization) = runner_columns(&f.runner);
    versioned(
        tx,
        sqlx::query(
            "UPDATE campaigns SET title_ar = $3, title_en = $4, issue_code = $5,
                objective_ar = $6, objective_en = $7, coalition_id = $8, organization_id = $9,
                branch_id = $10, start_date = $11, end_date = $12, grant_award_id = $13,
                version = version + 1, updated_at = $14
             WHERE tenant_id = $1 AND id = $2 AND version = $15",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(&f.title.ar)
        .bind(&f.title.en)
        .bind(&f.issue_code)
        .bind(&f.objective.ar)
        .bind(&f.objective.en)
        .bind(coalition)
        .bind(organization)
        .bind(&f.branch_id)
        .bind(f.start_date.to_string())
        .bind(f.end_date.to_string())
        .bind(f.grant_award_id.clone().unwrap_or_default())
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    write_children(tx, &current.id, f).await
}

#[tracing::instrument(skip(tx, current))]
pub async fn set_status(
    tx: &mut Tx,
    current: &Campaign,
    to: CampaignStatus,
    reason: &str,
    by: &str,
) -> Result<()> {
    let today = Date::today().to_string();
    versioned(
        tx,
        sqlx::query(
            "UPDATE campaigns SET status = $3,
                launched_on = CASE WHEN $3 = 'CAMPAIGN_STATUS_ACTIVE' THEN $4 ELSE launched_on END,
                closed_on = CASE WHEN $3 IN ('CAMPAIGN_STATUS_COMPLETED', 'CAMPAIGN_STATUS_CANCELLED')
                    THEN $4 ELSE closed_on END,
                version = version + 1, updated_at = $5
             WHERE tenant_id = $1 AND id = $2 AND version = $6",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(to.as_str_name())
        .bind(today.clone())
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    super::insert_status_change(
        tx,
        "campaign",
        &current.id,
        current.status.as_str_name(),
        to.as_str_name(),
        &today,
        reason,
        by,
    )
    .await
}

// ---------------------------------------------------------------- outcomes

#[derive(sqlx::FromRow)]
struct StoredOutcome {
    id: String,
    campaign_id: String,
    kind: String,
    description_ar: String,
    description_en: String,
    #[sqlx(try_from = "String")]
    achieved_on: Date,
    target_organization_id: String,
    version: i64,
    recorded_by: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub campaign_id: String,
    pub fields: OutcomeFields,
    pub evidence: Vec<Evidence>,
    pub version: i64,
    pub recorded_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const OUTCOME_COLUMNS: &str = "id, campaign_id, kind, description_ar, description_en, achieved_on, \
     target_organization_id, version, recorded_by, created_at, updated_at";

#[tracing::instrument(skip(tx, o))]
pub async fn insert_outcome(
    tx: &mut Tx,
    id: &str,
    campaign_id: &str,
    o: &OutcomeFields,
    by: &str,
) -> Result<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO campaign_outcomes (tenant_id, id, campaign_id, kind, description_ar,
            description_en, achieved_on, target_organization_id, version, recorded_by,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(campaign_id)
    .bind(o.kind.as_str_name())
    .bind(&o.description.ar)
    .bind(&o.description.en)
    .bind(o.achieved_on.to_string())
    .bind(o.target_organization_id.clone().unwrap_or_default())
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    super::replace_evidence(tx, "campaign_outcome", id, &o.evidence, by).await
}

#[tracing::instrument(skip(tx, current, o))]
pub async fn update_outcome(
    tx: &mut Tx,
    current: &Outcome,
    o: &OutcomeFields,
    by: &str,
) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE campaign_outcomes SET kind = $3, description_ar = $4, description_en = $5,
                achieved_on = $6, target_organization_id = $7, version = version + 1,
                updated_at = $8
             WHERE tenant_id = $1 AND id = $2 AND version = $9",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(o.kind.as_str_name())
        .bind(&o.description.ar)
        .bind(&o.description.en)
        .bind(o.achieved_on.to_string())
        .bind(o.target_organization_id.clone().unwrap_or_default())
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    super::replace_evidence(tx, "campaign_outcome", &current.id, &o.evidence, by).await
}

async fn outcomes_where(tx: &mut Tx, f: Filter, tail: &str) -> Result<Vec<Outcome>> {
    let rows: Vec<StoredOutcome> = f
        .fetch(
            tx,
            format!(
                "SELECT {OUTCOME_COLUMNS} FROM campaign_outcomes WHERE {} {tail}",
                f.sql()
            ),
        )
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut evidence = super::evidence(tx, "campaign_outcome", &ids).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Outcome {
                fields: OutcomeFields {
                    kind: stored(&r.kind, OutcomeKind::from_str_name)?,
                    description: text(r.description_ar, r.description_en),
                    achieved_on: r.achieved_on,
                    target_organization_id: Some(r.target_organization_id)
                        .filter(|t| !t.is_empty()),
                    evidence: Vec::new(),
                },
                evidence: evidence.remove(&r.id).unwrap_or_default(),
                id: r.id,
                campaign_id: r.campaign_id,
                version: r.version,
                recorded_by: r.recorded_by,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

#[tracing::instrument(skip(tx))]
pub async fn outcome(tx: &mut Tx, id: &str) -> Result<Option<Outcome>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    f.and("id = ?", [Arg::from(id)]);
    Ok(outcomes_where(tx, f, "").await?.pop())
}

/// A page of a campaign's outcomes, earliest achieved first.
#[tracing::instrument(skip(tx))]
pub async fn outcomes(
    tx: &mut Tx,
    campaign_id: &str,
    after: Option<(String, String)>,
    limit: i64,
) -> Result<(Vec<Outcome>, i32)> {
    let mut f = Filter::tenant(tx, "tenant_id");
    f.and("campaign_id = ?", [Arg::from(campaign_id)]);
    let total = f.count(tx, "campaign_outcomes").await?;
    if let Some((day, id)) = after {
        f.and(
            "achieved_on > ? OR (achieved_on = ? AND id > ?)",
            [day.clone().into(), day.into(), id.into()],
        );
    }
    let limit = f.bind(limit);
    let rows = outcomes_where(tx, f, &format!("ORDER BY achieved_on, id LIMIT {limit}")).await?;
    Ok((rows, total))
}

pub fn gone(what: &str) -> Error {
    Error::internal(format!("the {what} just written is gone"))
}
