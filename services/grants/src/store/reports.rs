//! Progress and final reports.

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::sql::Total;
use markaz_proto::common::v1::LocalizedText;

use sqlx::AssertSqlSafe;

use super::awards::rows_of_award;
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

/// A report as stored.
#[derive(sqlx::FromRow)]
struct StoredReport {
    narrative_ar: String,
    narrative_en: String,
    id: String,
    award_id: String,
    kind: String,
    state: String,
    review_comment: String,
    submitted_by: String,
    reviewed_by: String,
    milestone_number: i64,
    reached_female: i64,
    reached_male: i64,
    reached_undisclosed: i64,
    submitted_at: i64,
    reviewed_at: i64,
}

impl TryFrom<StoredReport> for ReportRow {
    type Error = Error;
    fn try_from(r: StoredReport) -> Result<ReportRow> {
        Ok(ReportRow {
            id: r.id,
            award_id: r.award_id,
            fields: ReportFields {
                kind: stored(&r.kind, ReportKind::from_str_name)?,
                milestone: r.milestone_number as i32,
                narrative: LocalizedText {
                    ar: r.narrative_ar,
                    en: r.narrative_en,
                },
                reached: People {
                    female: r.reached_female,
                    male: r.reached_male,
                    undisclosed: r.reached_undisclosed,
                },
            },
            state: stored(&r.state, ReportState::from_str_name)?,
            review_comment: r.review_comment,
            submitted_by: r.submitted_by,
            reviewed_by: r.reviewed_by,
            submitted_at: r.submitted_at,
            reviewed_at: r.reviewed_at,
        })
    }
}

const REPORT_COLUMNS: &str = "id, award_id, kind, milestone_number, narrative_ar, narrative_en, \
     reached_female, reached_male, reached_undisclosed, state, review_comment, submitted_by, \
     reviewed_by, submitted_at, reviewed_at";

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, r: &ReportRow) -> Result<()> {
    let f = &r.fields;
    sqlx::query(
        "INSERT INTO reports (tenant_id, id, award_id, kind, milestone_number, narrative_ar,
            narrative_en, reached_female, reached_male, reached_undisclosed, state,
            review_comment, submitted_by, reviewed_by, submitted_at, reviewed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', $12, '', $13, 0)",
    )
    .bind(tx.tenant().to_owned())
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

#[tracing::instrument(skip_all)]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<ReportRow>> {
    tx.find_as::<StoredReport, _>(
        AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE tenant_id = $1 AND id = $2"
        )),
        id,
    )
    .await
}

/// Reports of an award; `after`/`limit` page them (limit 0: all).
#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<ReportRow>, Total)> {
    let (rows, total): (Vec<StoredReport>, _) =
        rows_of_award(tx, "reports", REPORT_COLUMNS, award_id, after, limit).await?;
    Ok((
        rows.into_iter()
            .map(ReportRow::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// The reports of many awards in one statement, in id order.
#[tracing::instrument(skip_all)]
pub(super) async fn of_awards(tx: &mut Tx, award_ids: &[String]) -> Result<Vec<ReportRow>> {
    let rows: Vec<StoredReport> = tx
        .rows_for_ids(
            &format!(
                "SELECT {REPORT_COLUMNS} FROM reports WHERE tenant_id = $1 AND award_id IN ({{ids}})
                 ORDER BY id"
            ),
            award_ids,
        )
        .await?;
    rows.into_iter().map(ReportRow::try_from).collect()
}
