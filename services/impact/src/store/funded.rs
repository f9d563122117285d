//! The funded projects donors see, projected from grants' events: one row
//! per award, filled by whichever event arrives, in any order and any
//! number of times — the status only moves forward, the amount paid only
//! grows, a milestone is kept once.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::now_micros;

/// What every grants event says of the project.
#[derive(Debug, Clone, Default)]
pub struct Project<'a> {
    pub award_id: &'a str,
    pub program_id: &'a str,
    pub call_id: &'a str,
    pub organization_id: &'a str,
    pub branch_id: &'a str,
    pub sector: &'a str,
    pub governorate: &'a str,
}

/// People by gender: female, male, undisclosed.
pub type Counts = [i64; 3];

/// A change one event makes.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// 1 awarded, 2 active, 3 ended.
    pub status_rank: i64,
    pub outcome: String,
    pub start_date: String,
    pub end_date: String,
    pub ended_on: String,
    pub currency: String,
    pub budget: i64,
    pub disbursed: i64,
    pub spent: i64,
    pub tranche_count: i64,
    pub targeted: Option<Counts>,
    pub final_reached: Option<Counts>,
    /// The project's title and summary (Arabic, English), from the award.
    pub title: Option<[String; 4]>,
    pub last_disbursed_on: String,
}

fn keep_or(column: &str, n: usize) -> String {
    format!("{column} = CASE WHEN ${n} = '' THEN impact_funded_projects.{column} ELSE ${n} END")
}

fn max_of(column: &str, n: usize) -> String {
    format!(
        "{column} = CASE WHEN ${n} > impact_funded_projects.{column} THEN ${n} \
         ELSE impact_funded_projects.{column} END"
    )
}

/// Applies `c` to the project's row, making it if needed.
#[tracing::instrument(skip_all, fields(award = %p.award_id))]
pub async fn apply(tx: &mut Tx, p: &Project<'_>, c: &Change) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    let t = c.targeted.unwrap_or_default();
    let r = c.final_reached.unwrap_or_default();
    let title = c.title.clone().unwrap_or_default();
    let sets = [
        "program_id = $3".to_string(),
        "call_id = $4".to_string(),
        "organization_id = $5".to_string(),
        "branch_id = $6".to_string(),
        "sector = $7".to_string(),
        max_of("status_rank", 8),
        keep_or("outcome", 9),
        keep_or("start_date", 10),
        keep_or("end_date", 11),
        keep_or("ended_on", 12),
        keep_or("currency", 13),
        max_of("budget", 14),
        max_of("disbursed", 15),
        max_of("spent", 16),
        max_of("tranche_count", 17),
        String::from(
            "targeted_female = CASE WHEN $18 = 1 THEN $19 ELSE impact_funded_projects.targeted_female END,
             targeted_male = CASE WHEN $18 = 1 THEN $20 ELSE impact_funded_projects.targeted_male END,
             targeted_undisclosed = CASE WHEN $18 = 1 THEN $21 ELSE impact_funded_projects.targeted_undisclosed END"
        ),
        String::from(
            "final_reached = CASE WHEN $22 = 1 THEN 1 ELSE impact_funded_projects.final_reached END,
             reached_female = CASE WHEN $22 = 1 THEN $23 ELSE impact_funded_projects.reached_female END,
             reached_male = CASE WHEN $22 = 1 THEN $24 ELSE impact_funded_projects.reached_male END,
             reached_undisclosed = CASE WHEN $22 = 1 THEN $25 ELSE impact_funded_projects.reached_undisclosed END"
        ),
        "updated_at = $26".to_string(),
        keep_or("governorate", 27),
        String::from(
            "title_ar = CASE WHEN $32 = 1 THEN $28 ELSE impact_funded_projects.title_ar END,
             title_en = CASE WHEN $32 = 1 THEN $29 ELSE impact_funded_projects.title_en END,
             summary_ar = CASE WHEN $32 = 1 THEN $30 ELSE impact_funded_projects.summary_ar END,
             summary_en = CASE WHEN $32 = 1 THEN $31 ELSE impact_funded_projects.summary_en END",
        ),
        max_of("last_disbursed_on", 33),
    ];
    let sql = format!(
        "INSERT INTO impact_funded_projects (tenant_id, award_id, program_id, call_id,
            organization_id, branch_id, sector, status_rank, outcome, start_date, end_date,
            ended_on, currency, budget, disbursed, spent, tranche_count, targeted_female,
            targeted_male, targeted_undisclosed, final_reached, reached_female, reached_male,
            reached_undisclosed, updated_at, governorate, title_ar, title_en, summary_ar,
            summary_en, last_disbursed_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $33)
         ON CONFLICT (tenant_id, award_id) DO UPDATE SET {}",
        sets.join(", ")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&tenant)
        .bind(p.award_id)
        .bind(p.program_id)
        .bind(p.call_id)
        .bind(p.organization_id)
        .bind(p.branch_id)
        .bind(p.sector)
        .bind(c.status_rank)
        .bind(&c.outcome)
        .bind(&c.start_date)
        .bind(&c.end_date)
        .bind(&c.ended_on)
        .bind(&c.currency)
        .bind(c.budget)
        .bind(c.disbursed)
        .bind(c.spent)
        .bind(c.tranche_count)
        .bind(i64::from(c.targeted.is_some()))
        .bind(t[0])
        .bind(t[1])
        .bind(t[2])
        .bind(i64::from(c.final_reached.is_some()))
        .bind(r[0])
        .bind(r[1])
        .bind(r[2])
        .bind(now_micros())
        .bind(p.governorate)
        .bind(&title[0])
        .bind(&title[1])
        .bind(&title[2])
        .bind(&title[3])
        .bind(i64::from(c.title.is_some()))
        .bind(&c.last_disbursed_on)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Keeps an accepted milestone report once (a newer acceptance replaces).
#[tracing::instrument(skip(tx))]
pub async fn milestone(
    tx: &mut Tx,
    award_id: &str,
    number: i64,
    report_id: &str,
    accepted_at: i64,
    reached: Counts,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_funded_milestones (tenant_id, award_id, milestone_number, report_id,
            accepted_at, reached_female, reached_male, reached_undisclosed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, award_id, milestone_number) DO UPDATE SET
            report_id = CASE WHEN $5 > impact_funded_milestones.accepted_at THEN $4
                ELSE impact_funded_milestones.report_id END,
            reached_female = CASE WHEN $5 > impact_funded_milestones.accepted_at THEN $6
                ELSE impact_funded_milestones.reached_female END,
            reached_male = CASE WHEN $5 > impact_funded_milestones.accepted_at THEN $7
                ELSE impact_funded_milestones.reached_male END,
            reached_undisclosed = CASE WHEN $5 > impact_funded_milestones.accepted_at THEN $8
                ELSE impact_funded_milestones.reached_undisclosed END,
            accepted_at = CASE WHEN $5 > impact_funded_milestones.accepted_at THEN $5
                ELSE impact_funded_milestones.accepted_at END",
    )
    .bind(&tenant)
    .bind(award_id)
    .bind(number)
    .bind(report_id)
    .bind(accepted_at)
    .bind(reached[0])
    .bind(reached[1])
    .bind(reached[2])
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A funded project as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectRow {
    pub award_id: String,
    pub program_id: String,
    pub call_id: String,
    pub organization_id: String,
    pub branch_id: String,
    pub sector: String,
    pub governorate: String,
    pub title_ar: String,
    pub title_en: String,
    pub summary_ar: String,
    pub summary_en: String,
    pub last_disbursed_on: String,
    pub status_rank: i64,
    pub outcome: String,
    pub start_date: String,
    pub end_date: String,
    pub ended_on: String,
    pub currency: String,
    pub budget: i64,
    pub disbursed: i64,
    pub spent: i64,
    pub tranche_count: i64,
    pub targeted_female: i64,
    pub targeted_male: i64,
    pub targeted_undisclosed: i64,
    pub final_reached: i64,
    pub reached_female: i64,
    pub reached_male: i64,
    pub reached_undisclosed: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MilestoneRow {
    pub award_id: String,
    pub milestone_number: i64,
    pub report_id: String,
    pub accepted_at: i64,
    pub reached_female: i64,
    pub reached_male: i64,
    pub reached_undisclosed: i64,
}

/// A page of the projects of `programs` (none: an empty page) whose
/// project overlaps `from..=until` (by planned dates; a project with no
/// award yet has none and is left out), by award id, with their total.
#[tracing::instrument(skip(tx))]
pub async fn projects(
    tx: &mut Tx,
    programs: &[String],
    from: &str,
    until: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<ProjectRow>, Total)> {
    if programs.is_empty() {
        return Ok((Vec::new(), Total::default()));
    }
    let mut w = Where::tenant("tenant_id", tx.tenant());
    let placeholders: Vec<String> = programs.iter().map(|p| w.param(p.clone())).collect();
    w.fixed(&format!("program_id IN ({})", placeholders.join(", ")));
    w.fixed("start_date <> ''");
    w.compare("start_date", "<=", until);
    w.compare("end_date", ">=", from);
    let total = w.count(tx, "impact_funded_projects").await?;
    w.compare("award_id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT award_id, program_id, call_id, organization_id, branch_id, sector, governorate,
            title_ar, title_en, summary_ar, summary_en, last_disbursed_on, status_rank,
            outcome, start_date, end_date, ended_on, currency, budget, disbursed, spent,
            tranche_count, targeted_female, targeted_male, targeted_undisclosed, final_reached,
            reached_female, reached_male, reached_undisclosed, updated_at
         FROM impact_funded_projects {} ORDER BY award_id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<ProjectRow> = sqlx::query_as_with(sqlx::AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((rows, total))
}

/// The milestones of `awards`, in one statement.
#[tracing::instrument(skip_all)]
pub async fn milestones(tx: &mut Tx, awards: &[String]) -> Result<Vec<MilestoneRow>> {
    if awards.is_empty() {
        return Ok(Vec::new());
    }
    let mut w = Where::tenant("tenant_id", tx.tenant());
    let placeholders: Vec<String> = awards.iter().map(|a| w.param(a.clone())).collect();
    w.fixed(&format!("award_id IN ({})", placeholders.join(", ")));
    let sql = format!(
        "SELECT award_id, milestone_number, report_id, accepted_at, reached_female, reached_male,
            reached_undisclosed
         FROM impact_funded_milestones {} ORDER BY award_id, milestone_number",
        w.sql()
    );
    let rows: Vec<MilestoneRow> = sqlx::query_as_with(sqlx::AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok(rows)
}

/// The programs the tenant's awards belong to, sorted.
#[tracing::instrument(skip_all)]
pub async fn program_ids(tx: &mut Tx) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT program_id FROM impact_funded_projects
         WHERE tenant_id = $1 AND start_date <> '' ORDER BY program_id",
    )
    .bind(tx.tenant().to_owned())
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}
