//! Proposals with their budget lines and milestones, and their submitted
//! versions.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, MaybeDate, now_micros};
use markaz_proto::common::v1::{LocalizedText, Sector};

use sqlx::AssertSqlSafe;

use super::{budget_lines_of, changed, date_text, exists, write_budget_lines};
use crate::domain::ProposalState;
use crate::domain::proposals::{Milestone, People, ProposalFields};

/// A milestone of a work plan as stored.
#[derive(sqlx::FromRow)]
pub(super) struct StoredMilestone {
    title_ar: String,
    title_en: String,
    deliverables_ar: String,
    deliverables_en: String,
    #[sqlx(try_from = "String")]
    due_date: Date,
}

/// A submitted version of a proposal as stored.
#[derive(sqlx::FromRow)]
struct StoredVersion {
    submitted_by: String,
    number: i64,
    submitted_at: i64,
    content: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct ProposalRow {
    pub id: String,
    pub call_id: String,
    pub organization_id: String,
    pub state: ProposalState,
    pub fields: ProposalFields,
    pub version_number: i32,
    pub decision_reason: String,
    pub created_by: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub submitted_at: i64,
}

const PROPOSAL_COLUMNS: &str = "p.id, p.call_id, p.organization_id, p.state, p.title_ar, \
     p.title_en, p.summary_ar, p.summary_en, p.need_ar, p.need_en, p.governorate, p.place_ar, \
     p.place_en, p.sector, p.theme_code, p.target_female, p.target_male, p.target_undisclosed, \
     p.start_date, p.end_date, p.version_number, p.decision_reason, p.created_by, p.version, \
     p.created_at, p.updated_at, p.submitted_at";

impl From<StoredMilestone> for Milestone {
    fn from(r: StoredMilestone) -> Milestone {
        Milestone {
            title: LocalizedText {
                ar: r.title_ar,
                en: r.title_en,
            },
            due_date: r.due_date,
            deliverables: LocalizedText {
                ar: r.deliverables_ar,
                en: r.deliverables_en,
            },
        }
    }
}

#[tracing::instrument(skip_all)]
async fn milestones_of(
    tx: &mut Tx,
    proposal_ids: &[String],
) -> Result<HashMap<String, Vec<Milestone>>> {
    let rows: Vec<ProposalMilestone> = tx
        .rows_for_ids(
            "SELECT proposal_id, title_ar, title_en, due_date, deliverables_ar, deliverables_en
             FROM proposal_milestones WHERE tenant_id = $1 AND proposal_id IN ({ids})
             ORDER BY proposal_id, number",
            proposal_ids,
        )
        .await?;
    let mut out: HashMap<String, Vec<Milestone>> = HashMap::new();
    for r in rows {
        out.entry(r.proposal_id)
            .or_default()
            .push(Milestone::from(r.milestone));
    }
    Ok(out)
}

/// A milestone with the proposal whose work plan it is in.
#[derive(sqlx::FromRow)]
struct ProposalMilestone {
    proposal_id: String,
    #[sqlx(flatten)]
    milestone: StoredMilestone,
}

/// A milestone with the award whose proposal's work plan it is in.
#[derive(sqlx::FromRow)]
struct AwardMilestone {
    award_id: String,
    #[sqlx(flatten)]
    milestone: StoredMilestone,
}

/// The work plans of the awards' proposals, by award, in one statement.
#[tracing::instrument(skip_all)]
pub(super) async fn milestones_of_awards(
    tx: &mut Tx,
    award_ids: &[String],
) -> Result<HashMap<String, Vec<Milestone>>> {
    let rows: Vec<AwardMilestone> = tx
        .rows_for_ids(
            "SELECT a.id AS award_id, m.title_ar, m.title_en, m.due_date, m.deliverables_ar,
                m.deliverables_en
             FROM proposal_milestones m
             JOIN awards a ON a.tenant_id = m.tenant_id AND a.proposal_id = m.proposal_id
             WHERE m.tenant_id = $1 AND a.id IN ({ids})
             ORDER BY a.id, m.number",
            award_ids,
        )
        .await?;
    let mut out: HashMap<String, Vec<Milestone>> = HashMap::new();
    for r in rows {
        out.entry(r.award_id)
            .or_default()
            .push(Milestone::from(r.milestone));
    }
    Ok(out)
}

/// A proposal's own row; its budget lines and milestones are rows of their own.
#[derive(sqlx::FromRow)]
struct StoredProposal {
    title_ar: String,
    title_en: String,
    summary_ar: String,
    summary_en: String,
    need_ar: String,
    need_en: String,
    place_ar: String,
    place_en: String,
    #[sqlx(try_from = "String")]
    start_date: MaybeDate,
    #[sqlx(try_from = "String")]
    end_date: MaybeDate,
    sector: String,
    governorate: String,
    theme_code: String,
    id: String,
    call_id: String,
    organization_id: String,
    state: String,
    decision_reason: String,
    created_by: String,
    target_female: i64,
    target_male: i64,
    target_undisclosed: i64,
    version_number: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
    submitted_at: i64,
}

/// A proposal's own row; [`with_children`] adds its budget and
/// work plan.
impl TryFrom<StoredProposal> for ProposalRow {
    type Error = Error;
    fn try_from(r: StoredProposal) -> Result<ProposalRow> {
        let sector = r.sector;
        let fields = ProposalFields {
            title: LocalizedText {
                ar: r.title_ar,
                en: r.title_en,
            },
            summary: LocalizedText {
                ar: r.summary_ar,
                en: r.summary_en,
            },
            community_need: LocalizedText {
                ar: r.need_ar,
                en: r.need_en,
            },
            governorate: r.governorate,
            place: LocalizedText {
                ar: r.place_ar,
                en: r.place_en,
            },
            sector: if sector.is_empty() {
                None
            } else {
                Some(stored(&sector, Sector::from_str_name)?)
            },
            theme_code: r.theme_code,
            targeted: People {
                female: r.target_female,
                male: r.target_male,
                undisclosed: r.target_undisclosed,
            },
            budget: Vec::new(),
            milestones: Vec::new(),
            start_date: r.start_date.0,
            end_date: r.end_date.0,
        };
        Ok(ProposalRow {
            id: r.id,
            call_id: r.call_id,
            organization_id: r.organization_id,
            state: stored(&r.state, ProposalState::from_str_name)?,
            fields,
            version_number: r.version_number as i32,
            decision_reason: r.decision_reason,
            created_by: r.created_by,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            submitted_at: r.submitted_at,
        })
    }
}

#[tracing::instrument(skip_all)]
async fn with_children(tx: &mut Tx, mut proposals: Vec<ProposalRow>) -> Result<Vec<ProposalRow>> {
    let ids: Vec<String> = proposals.iter().map(|p| p.id.clone()).collect();
    let mut budgets = budget_lines_of(tx, "proposal_lines", "proposal_id", &ids).await?;
    let mut milestones = milestones_of(tx, &ids).await?;
    for p in &mut proposals {
        p.fields.budget = budgets.remove(&p.id).unwrap_or_default();
        p.fields.milestones = milestones.remove(&p.id).unwrap_or_default();
    }
    Ok(proposals)
}

#[tracing::instrument(skip_all)]
async fn write_proposal_children(tx: &mut Tx, id: &str, f: &ProposalFields) -> Result<()> {
    write_budget_lines(tx, "proposal_lines", "proposal_id", id, &f.budget).await?;
    sqlx::query("DELETE FROM proposal_milestones WHERE tenant_id = $1 AND proposal_id = $2")
        .bind(tx.tenant().to_owned())
        .bind(id)
        .execute(tx.conn())
        .await?;
    for (i, m) in f.milestones.iter().enumerate() {
        sqlx::query(
            "INSERT INTO proposal_milestones (tenant_id, proposal_id, number, title_ar, title_en,
                due_date, deliverables_ar, deliverables_en)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(i as i64 + 1)
        .bind(&m.title.ar)
        .bind(&m.title.en)
        .bind(m.due_date.to_string())
        .bind(&m.deliverables.ar)
        .bind(&m.deliverables.en)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

fn sector_text(s: Option<Sector>) -> &'static str {
    s.map(|s| s.as_str_name()).unwrap_or("")
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    call_id: &str,
    organization_id: &str,
    f: &ProposalFields,
    created_by: &str,
) -> Result<ProposalRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO proposals (tenant_id, id, call_id, organization_id, state, title_ar,
            title_en, summary_ar, summary_en, need_ar, need_en, governorate, place_ar, place_en,
            sector, theme_code, target_female, target_male, target_undisclosed, start_date,
            end_date, version_number, decision_reason, created_by, version, created_at,
            updated_at, submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18, $19, $20, $21, 0, '', $22, 1, $23, $23, 0)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(call_id)
    .bind(organization_id)
    .bind(ProposalState::Draft.as_str_name())
    .bind(&f.title.ar)
    .bind(&f.title.en)
    .bind(&f.summary.ar)
    .bind(&f.summary.en)
    .bind(&f.community_need.ar)
    .bind(&f.community_need.en)
    .bind(&f.governorate)
    .bind(&f.place.ar)
    .bind(&f.place.en)
    .bind(sector_text(f.sector))
    .bind(&f.theme_code)
    .bind(f.targeted.female)
    .bind(f.targeted.male)
    .bind(f.targeted.undisclosed)
    .bind(date_text(f.start_date))
    .bind(date_text(f.end_date))
    .bind(created_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    write_proposal_children(tx, id, f).await?;
    Ok(ProposalRow {
        id: id.to_string(),
        call_id: call_id.to_string(),
        organization_id: organization_id.to_string(),
        state: ProposalState::Draft,
        fields: f.clone(),
        version_number: 0,
        decision_reason: String::new(),
        created_by: created_by.to_string(),
        version: 1,
        created_at: now,
        updated_at: now,
        submitted_at: 0,
    })
}

#[tracing::instrument(skip_all)]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ProposalRow>> {
    let sql = AssertSqlSafe(format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposals p WHERE p.tenant_id = $1 AND p.id = $2"
    ));
    match tx.find_as::<StoredProposal, _>(sql, id).await? {
        Some(p) => Ok(with_children(tx, vec![p]).await?.pop()),
        None => Ok(None),
    }
}

/// Filters of [`list_proposals`]; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct ProposalFilter {
    pub call_id: String,
    pub organization_id: String,
    pub state: String,
    /// Only proposals this reviewer has an active assignment on.
    pub reviewer_id: String,
    /// Only proposals the trainer with this account coaches.
    pub coach: String,
}

#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    filter: &ProposalFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<ProposalRow>, Total)> {
    // Only the filters that are set are written; the caller's rights are
    // among them (a partner's organization, a reviewer's assignments, a
    // coach's proposals). The same conditions count the list, before the
    // page's cursor.
    let mut w = Where::tenant("p.tenant_id", tx.tenant());
    w.eq("p.call_id", &filter.call_id)
        .eq("p.organization_id", &filter.organization_id)
        .eq("p.state", &filter.state)
        .clause(
            "EXISTS (SELECT 1 FROM assignments a WHERE a.tenant_id = p.tenant_id
                AND a.proposal_id = p.id AND a.reviewer_id = {}
                AND a.state = 'ASSIGNMENT_STATE_ACTIVE')",
            &filter.reviewer_id,
        )
        .clause(
            "EXISTS (SELECT 1 FROM coaches c WHERE c.tenant_id = p.tenant_id
                AND c.proposal_id = p.id AND c.subject = {})",
            &filter.coach,
        );
    let total = w.count_capped(tx, "proposals p").await?;
    w.compare("p.id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposals p {} ORDER BY p.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredProposal> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let rows = rows
        .into_iter()
        .map(ProposalRow::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok((with_children(tx, rows).await?, total))
}

/// Whether the organization has a proposal in the call that still counts
/// (not withdrawn).
#[tracing::instrument(skip_all)]
pub async fn has_live_proposal(tx: &mut Tx, call_id: &str, organization_id: &str) -> Result<bool> {
    exists(
        tx,
        "SELECT 1 AS one FROM proposals WHERE tenant_id = $1 AND call_id = $2
           AND organization_id = $3 AND state <> 'PROPOSAL_STATE_WITHDRAWN'",
        call_id,
        organization_id,
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn update(tx: &mut Tx, current: &ProposalRow, f: &ProposalFields) -> Result<ProposalRow> {
    let now = now_micros();
    let rows = sqlx::query(
        "UPDATE proposals SET title_ar = $3, title_en = $4, summary_ar = $5, summary_en = $6,
            need_ar = $7, need_en = $8, governorate = $9, place_ar = $10, place_en = $11,
            sector = $12, theme_code = $13, target_female = $14, target_male = $15,
            target_undisclosed = $16, start_date = $17, end_date = $18,
            version = version + 1, updated_at = $19
         WHERE tenant_id = $1 AND id = $2 AND version = $20",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(&f.title.ar)
    .bind(&f.title.en)
    .bind(&f.summary.ar)
    .bind(&f.summary.en)
    .bind(&f.community_need.ar)
    .bind(&f.community_need.en)
    .bind(&f.governorate)
    .bind(&f.place.ar)
    .bind(&f.place.en)
    .bind(sector_text(f.sector))
    .bind(&f.theme_code)
    .bind(f.targeted.female)
    .bind(f.targeted.male)
    .bind(f.targeted.undisclosed)
    .bind(date_text(f.start_date))
    .bind(date_text(f.end_date))
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    write_proposal_children(tx, &current.id, f).await?;
    Ok(ProposalRow {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// Moves the proposal to `to` (version-checked). `submitted` records a new
/// submitted version; `reason` replaces the decision reason when given.
#[tracing::instrument(skip_all)]
pub async fn set_state(
    tx: &mut Tx,
    current: &ProposalRow,
    to: ProposalState,
    submitted: bool,
    reason: Option<&str>,
) -> Result<ProposalRow> {
    let now = now_micros();
    let version_number = current.version_number + i32::from(submitted);
    let submitted_at = if submitted { now } else { current.submitted_at };
    let reason = reason.unwrap_or(&current.decision_reason).to_string();
    let rows = sqlx::query(
        "UPDATE proposals SET state = $3, version_number = $4, submitted_at = $5,
            decision_reason = $6, version = version + 1, updated_at = $7
         WHERE tenant_id = $1 AND id = $2 AND version = $8",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(to.as_str_name())
    .bind(i64::from(version_number))
    .bind(submitted_at)
    .bind(&reason)
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    Ok(ProposalRow {
        state: to,
        version_number,
        submitted_at,
        decision_reason: reason,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

#[tracing::instrument(skip_all)]
pub async fn insert_version(
    tx: &mut Tx,
    proposal_id: &str,
    number: i32,
    content: &[u8],
    submitted_by: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO proposal_versions (tenant_id, proposal_id, number, content, submitted_by,
            submitted_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant().to_owned())
    .bind(proposal_id)
    .bind(i64::from(number))
    .bind(content)
    .bind(submitted_by)
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct VersionRow {
    pub number: i32,
    pub content: Vec<u8>,
    pub submitted_by: String,
    pub submitted_at: i64,
}

#[tracing::instrument(skip_all)]
pub async fn list_versions(tx: &mut Tx, proposal_id: &str) -> Result<Vec<VersionRow>> {
    let rows = sqlx::query_as::<_, StoredVersion>(
        "SELECT number, content, submitted_by, submitted_at FROM proposal_versions
         WHERE tenant_id = $1 AND proposal_id = $2 ORDER BY number",
    )
    .bind(tx.tenant().to_owned())
    .bind(proposal_id)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|r: StoredVersion| {
            Ok(VersionRow {
                number: r.number as i32,
                content: r.content,
                submitted_by: r.submitted_by,
                submitted_at: r.submitted_at,
            })
        })
        .collect()
}
