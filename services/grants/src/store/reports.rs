//! Progress and final reports.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use sqlx::any::AnyRow;

use super::awards::rows_of_award;
use super::{int, localized, named, text};
use crate::domain::proposals::People;
use crate::domain::reports::ReportFields;
use crate::domain::{ReportKind, ReportState};

#[derive(Debug, Clone)]
pub struct ReportRow {
    pub id: String,
    pub award_id: String,
    pub fields: ReportFields,
    pub state: ReportState,
    pub review_comment: String,
    pub submitted_by: String,
    pub reviewed_by: String,
    pub submitted_at: i64,
    pub reviewed_at: i64,
}

fn report_row(r: &AnyRow) -> Result<ReportRow> {
    Ok(ReportRow {
        id: text(r, "id")?,
        award_id: text(r, "award_id")?,
        fields: ReportFields {
            kind: named(&text(r, "kind")?, ReportKind::from_str_name)?,
            milestone: int(r, "milestone_number")? as i32,
            narrative: localized(r, "narrative")?,
            reached: People {
                female: int(r, "reached_female")?,
                male: int(r, "reached_male")?,
                undisclosed: int(r, "reached_undisclosed")?,
            },
        },
        state: named(&text(r, "state")?, ReportState::from_str_name)?,
        review_comment: text(r, "review_comment")?,
        submitted_by: text(r, "submitted_by")?,
        reviewed_by: text(r, "reviewed_by")?,
        submitted_at: int(r, "submitted_at")?,
        reviewed_at: int(r, "reviewed_at")?,
    })
}

macro_rules! report_columns {
    () => {
        "id, award_id, kind, milestone_number, narrative_ar, narrative_en, reached_female, \
         reached_male, reached_undisclosed, state, review_comment, submitted_by, reviewed_by, \
         submitted_at, reviewed_at"
    };
}

pub async fn insert(tx: &mut Tx, r: &ReportRow) -> Result<()> {
    let f = &r.fields;
    sqlx::query(
        "INSERT INTO reports (tenant_id, id, award_id, kind, milestone_number, narrative_ar,
            narrative_en, reached_female, reached_male, reached_undisclosed, state,
            review_comment, submitted_by, reviewed_by, submitted_at, reviewed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', $12, '', $13, 0)",
    )
    .bind(tx.tenant())
    .bind(&r.id)
    .bind(&r.award_id)
    .bind(f.kind.as_str_name())
    .bind(i64::from(f.milestone))
    .bind(&f.narrative.ar)
    .bind(&f.narrative.en)
    .bind(f.reached.female)
    .bind(f.reached.male)
    .bind(f.reached.undisclosed)
    .bind(r.state.as_str_name())
    .bind(&r.submitted_by)
    .bind(r.submitted_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ReportRow>> {
    tx.find(
        concat!(
            "SELECT ",
            report_columns!(),
            " FROM reports WHERE tenant_id = $1 AND id = $2"
        ),
        id,
        report_row,
    )
    .await
}

/// Reports of an award; `after`/`limit` page them (limit 0: all).
pub async fn list(tx: &mut Tx, award_id: &str, after: &str, limit: i64) -> Result<Vec<ReportRow>> {
    let rows = rows_of_award(tx, "reports", report_columns!(), award_id, after, limit).await?;
    rows.iter().map(report_row).collect()
}
