//! Proposals with their budget lines and milestones, and their submitted
//! versions.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::Sector;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{budget_lines, write_budget_lines};
use super::{
    changed, date_text, exists, int, localized, named, optional_date, required_date, text,
};
use crate::domain::ProposalState;
use crate::domain::proposals::{Milestone, People, ProposalFields};

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

macro_rules! proposal_columns {
    () => {
        "p.id, p.call_id, p.organization_id, p.state, p.title_ar, p.title_en, p.summary_ar, \
         p.summary_en, p.need_ar, p.need_en, p.governorate, p.place_ar, p.place_en, p.sector, \
         p.theme_code, p.target_female, p.target_male, p.target_undisclosed, p.start_date, \
         p.end_date, p.version_number, p.decision_reason, p.created_by, p.version, \
         p.created_at, p.updated_at, p.submitted_at"
    };
}

async fn milestones(tx: &mut Tx, proposal_id: &str) -> Result<Vec<Milestone>> {
    let rows = sqlx::query(
        "SELECT title_ar, title_en, due_date, deliverables_ar, deliverables_en
         FROM proposal_milestones WHERE tenant_id = $1 AND proposal_id = $2 ORDER BY number",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Milestone {
                title: localized(r, "title")?,
                due_date: required_date(r, "due_date")?,
                deliverables: localized(r, "deliverables")?,
            })
        })
        .collect()
}

/// A proposal's own row; [`with_proposal_children`] adds its budget and
/// work plan.
fn proposal_head(r: &AnyRow) -> Result<ProposalRow> {
    let sector = text(r, "sector")?;
    let fields = ProposalFields {
        title: localized(r, "title")?,
        summary: localized(r, "summary")?,
        community_need: localized(r, "need")?,
        governorate: text(r, "governorate")?,
        place: localized(r, "place")?,
        sector: if sector.is_empty() {
            None
        } else {
            Some(named(&sector, Sector::from_str_name)?)
        },
        theme_code: text(r, "theme_code")?,
        targeted: People {
            female: int(r, "target_female")?,
            male: int(r, "target_male")?,
            undisclosed: int(r, "target_undisclosed")?,
        },
        budget: Vec::new(),
        milestones: Vec::new(),
        start_date: optional_date(r, "start_date")?,
        end_date: optional_date(r, "end_date")?,
    };
    Ok(ProposalRow {
        id: text(r, "id")?,
        call_id: text(r, "call_id")?,
        organization_id: text(r, "organization_id")?,
        state: named(&text(r, "state")?, ProposalState::from_str_name)?,
        fields,
        version_number: int(r, "version_number")? as i32,
        decision_reason: text(r, "decision_reason")?,
        created_by: text(r, "created_by")?,
        version: int(r, "version")?,
        created_at: int(r, "created_at")?,
        updated_at: int(r, "updated_at")?,
        submitted_at: int(r, "submitted_at")?,
    })
}

async fn with_proposal_children(tx: &mut Tx, mut p: ProposalRow) -> Result<ProposalRow> {
    p.fields.budget = budget_lines(tx, "proposal_lines", "proposal_id", &p.id).await?;
    p.fields.milestones = milestones(tx, &p.id).await?;
    Ok(p)
}

async fn write_proposal_children(tx: &mut Tx, id: &str, f: &ProposalFields) -> Result<()> {
    write_budget_lines(tx, "proposal_lines", "proposal_id", id, &f.budget).await?;
    sqlx::query("DELETE FROM proposal_milestones WHERE tenant_id = $1 AND proposal_id = $2")
        .bind(tx.tenant())
        .bind(id)
        .execute(tx.conn())
        .await?;
    for (i, m) in f.milestones.iter().enumerate() {
        sqlx::query(
            "INSERT INTO proposal_milestones (tenant_id, proposal_id, number, title_ar, title_en,
                due_date, deliverables_ar, deliverables_en)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tx.tenant())
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
    .bind(tx.tenant())
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

pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ProposalRow>> {
    let sql = concat!(
        "SELECT ",
        proposal_columns!(),
        " FROM proposals p WHERE p.tenant_id = $1 AND p.id = $2"
    );
    match tx.find(sql, id, proposal_head).await? {
        Some(p) => Ok(Some(with_proposal_children(tx, p).await?)),
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

pub async fn list(
    tx: &mut Tx,
    filter: &ProposalFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<ProposalRow>> {
    let sql = concat!(
        "SELECT ",
        proposal_columns!(),
        " FROM proposals p
         WHERE p.tenant_id = $1 AND p.id > $2
           AND ($3 = '' OR p.call_id = $3)
           AND ($4 = '' OR p.organization_id = $4)
           AND ($5 = '' OR p.state = $5)
           AND ($6 = '' OR EXISTS (SELECT 1 FROM assignments a WHERE a.tenant_id = p.tenant_id
                AND a.proposal_id = p.id AND a.reviewer_id = $6
                AND a.state = 'ASSIGNMENT_STATE_ACTIVE'))
           AND ($8 = '' OR EXISTS (SELECT 1 FROM coaches c WHERE c.tenant_id = p.tenant_id
                AND c.proposal_id = p.id AND c.subject = $8))
         ORDER BY p.id LIMIT $7"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant())
        .bind(after)
        .bind(&filter.call_id)
        .bind(&filter.organization_id)
        .bind(&filter.state)
        .bind(&filter.reviewer_id)
        .bind(limit)
        .bind(&filter.coach)
        .fetch_all(tx.conn())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(with_proposal_children(tx, proposal_head(r)?).await?);
    }
    Ok(out)
}

/// Whether the organization has a proposal in the call that still counts
/// (not withdrawn).
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
    .bind(tx.tenant())
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
    .bind(tx.tenant())
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
    .bind(tx.tenant())
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

pub async fn list_versions(tx: &mut Tx, proposal_id: &str) -> Result<Vec<VersionRow>> {
    let rows = sqlx::query(
        "SELECT number, content, submitted_by, submitted_at FROM proposal_versions
         WHERE tenant_id = $1 AND proposal_id = $2 ORDER BY number",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(VersionRow {
                number: int(r, "number")? as i32,
                content: r.try_get("content")?,
                submitted_by: text(r, "submitted_by")?,
                submitted_at: int(r, "submitted_at")?,
            })
        })
        .collect()
}
