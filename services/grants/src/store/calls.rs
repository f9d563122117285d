//! Calls with their themes, eligibility rules and rubric; the money committed
//! in a call.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::money::{self, Money};
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::{IncubationStatus, LocalizedText, OrganizationKind};

use sqlx::AssertSqlSafe;

use super::{changed, list_text, names, parse_list, parse_names};
use crate::domain::CallState;
use crate::domain::calls::{CallFields, Criterion, Rubric, Rules, Theme};

/// A theme of a call as stored.
#[derive(sqlx::FromRow)]
struct StoredTheme {
    call_id: String,
    name_ar: String,
    name_en: String,
    code: String,
}

/// A criterion of a call's rubric as stored.
#[derive(sqlx::FromRow)]
struct StoredCriterion {
    call_id: String,
    name_ar: String,
    name_en: String,
    guidance_ar: String,
    guidance_en: String,
    code: String,
    weight: i64,
}

#[derive(Debug, Clone)]
pub struct CallRow {
    pub id: String,
    pub program_id: String,
    pub fields: CallFields,
    pub state: CallState,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const CALL_COLUMNS: &str = "id, program_id, title_ar, title_en, description_ar, description_en, \
     currency, envelope_minor, ceiling_minor, opens_on, closes_on, eligible_statuses, \
     eligible_branches, eligible_kinds, required_topic, max_score, blind, state, version, \
     created_at, updated_at";

/// A call's own row; its themes and criteria are rows of their own.
#[derive(sqlx::FromRow)]
struct StoredCall {
    title_ar: String,
    title_en: String,
    description_ar: String,
    description_en: String,
    currency: String,
    envelope_minor: i64,
    ceiling_minor: i64,
    #[sqlx(try_from = "String")]
    opens_on: Date,
    #[sqlx(try_from = "String")]
    closes_on: Date,
    id: String,
    program_id: String,
    eligible_statuses: String,
    eligible_branches: String,
    eligible_kinds: String,
    required_topic: String,
    state: String,
    max_score: i64,
    blind: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

/// A call's own row; [`with_children`] adds its themes and criteria.
impl TryFrom<StoredCall> for CallRow {
    type Error = Error;
    fn try_from(r: StoredCall) -> Result<CallRow> {
        Ok(CallRow {
            id: r.id,
            program_id: r.program_id,
            fields: CallFields {
                title: LocalizedText {
                    ar: r.title_ar,
                    en: r.title_en,
                },
                description: LocalizedText {
                    ar: r.description_ar,
                    en: r.description_en,
                },
                themes: Vec::new(),
                envelope: Money::stored(&r.currency, r.envelope_minor)?,
                ceiling: Money::stored(&r.currency, r.ceiling_minor)?,
                opens_on: r.opens_on,
                closes_on: r.closes_on,
                rules: Rules {
                    incubation_statuses: parse_names(
                        &r.eligible_statuses,
                        IncubationStatus::from_str_name,
                    )?,
                    branch_ids: parse_list(&r.eligible_branches),
                    organization_kinds: parse_names(
                        &r.eligible_kinds,
                        OrganizationKind::from_str_name,
                    )?,
                    required_course_topic: r.required_topic,
                },
                rubric: Rubric {
                    max_score: r.max_score as i32,
                    criteria: Vec::new(),
                },
                blind: r.blind != 0,
            },
            state: stored(&r.state, CallState::from_str_name)?,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The calls with their themes and criteria: three statements for the
/// calls of a page, whatever its size.
#[tracing::instrument(skip_all)]
async fn with_children(tx: &mut Tx, calls: Vec<StoredCall>) -> Result<Vec<CallRow>> {
    let mut calls = calls
        .into_iter()
        .map(CallRow::try_from)
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
    let mut themes: HashMap<String, Vec<Theme>> = HashMap::new();
    for t in tx
        .rows_for_ids::<StoredTheme>(
            "SELECT call_id, code, name_ar, name_en FROM call_themes
             WHERE tenant_id = $1 AND call_id IN ({ids}) ORDER BY call_id, ordinal",
            &ids,
        )
        .await?
    {
        themes.entry(t.call_id).or_default().push(Theme {
            code: t.code,
            name: LocalizedText {
                ar: t.name_ar,
                en: t.name_en,
            },
        });
    }
    let mut criteria: HashMap<String, Vec<Criterion>> = HashMap::new();
    for c in tx
        .rows_for_ids::<StoredCriterion>(
            "SELECT call_id, code, name_ar, name_en, guidance_ar, guidance_en, weight
             FROM call_criteria WHERE tenant_id = $1 AND call_id IN ({ids})
             ORDER BY call_id, ordinal",
            &ids,
        )
        .await?
    {
        criteria.entry(c.call_id).or_default().push(Criterion {
            code: c.code,
            name: LocalizedText {
                ar: c.name_ar,
                en: c.name_en,
            },
            guidance: LocalizedText {
                ar: c.guidance_ar,
                en: c.guidance_en,
            },
            weight: c.weight as i32,
        });
    }
    for call in &mut calls {
        call.fields.themes = themes.remove(&call.id).unwrap_or_default();
        call.fields.rubric.criteria = criteria.remove(&call.id).unwrap_or_default();
    }
    Ok(calls)
}

#[tracing::instrument(skip_all)]
async fn write_call_children(tx: &mut Tx, id: &str, f: &CallFields) -> Result<()> {
    for table in ["call_themes", "call_criteria"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND call_id = $2"
        )))
        .bind(tx.tenant().to_owned())
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    for (i, t) in f.themes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO call_themes (tenant_id, call_id, ordinal, code, name_ar, name_en)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(i as i64)
        .bind(&t.code)
        .bind(&t.name.ar)
        .bind(&t.name.en)
        .execute(tx.conn())
        .await?;
    }
    for (i, c) in f.rubric.criteria.iter().enumerate() {
        sqlx::query(
            "INSERT INTO call_criteria (tenant_id, call_id, ordinal, code, name_ar, name_en,
                guidance_ar, guidance_en, weight)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(i as i64)
        .bind(&c.code)
        .bind(&c.name.ar)
        .bind(&c.name.en)
        .bind(&c.guidance.ar)
        .bind(&c.guidance.en)
        .bind(i64::from(c.weight))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn insert(tx: &mut Tx, id: &str, program_id: &str, f: &CallFields) -> Result<CallRow> {
    let now = now_micros();
    let r = &f.rules;
    sqlx::query(
        "INSERT INTO calls (tenant_id, id, program_id, title_ar, title_en, description_ar,
            description_en, currency, envelope_minor, ceiling_minor, opens_on, closes_on,
            eligible_statuses, eligible_branches, eligible_kinds, required_topic, max_score,
            blind, state, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18, $19, 1, $20, $20)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(program_id)
    .bind(&f.title.ar)
    .bind(&f.title.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(f.currency().code())
    .bind(f.envelope.minor_units())
    .bind(f.ceiling.minor_units())
    .bind(f.opens_on.to_string())
    .bind(f.closes_on.to_string())
    .bind(names(&r.incubation_statuses, |s| s.as_str_name()))
    .bind(list_text(&r.branch_ids))
    .bind(names(&r.organization_kinds, |k| k.as_str_name()))
    .bind(&r.required_course_topic)
    .bind(i64::from(f.rubric.max_score))
    .bind(i64::from(f.blind))
    .bind(CallState::Draft.as_str_name())
    .bind(now)
    .execute(tx.conn())
    .await?;
    write_call_children(tx, id, f).await?;
    Ok(CallRow {
        id: id.to_string(),
        program_id: program_id.to_string(),
        fields: f.clone(),
        state: CallState::Draft,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

#[tracing::instrument(skip_all)]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<CallRow>> {
    let sql = AssertSqlSafe(format!(
        "SELECT {CALL_COLUMNS} FROM calls WHERE tenant_id = $1 AND id = $2"
    ));
    let call: Option<StoredCall> = sqlx::query_as(sql)
        .bind(tx.tenant().to_owned())
        .bind(id.to_owned())
        .fetch_optional(tx.conn())
        .await?;
    Ok(with_children(tx, call.into_iter().collect()).await?.pop())
}

/// The calls of `ids` (the distinct calls of a page of proposals), with
/// their children: three statements however many calls.
#[tracing::instrument(skip_all)]
pub async fn of_ids(tx: &mut Tx, ids: &[String]) -> Result<Vec<CallRow>> {
    let calls: Vec<StoredCall> = tx
        .rows_for_ids(
            &format!("SELECT {CALL_COLUMNS} FROM calls WHERE tenant_id = $1 AND id IN ({{ids}})"),
            ids,
        )
        .await?;
    with_children(tx, calls).await
}

#[tracing::instrument(skip_all)]
pub async fn list(
    tx: &mut Tx,
    program_id: &str,
    state: &str,
    hide_drafts: bool,
    after: &str,
    limit: i64,
) -> Result<(Vec<CallRow>, Total)> {
    // A center's calls, a few a year: counted exactly, by the same
    // conditions before the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("program_id", program_id).eq("state", state);
    if hide_drafts {
        w.fixed("state <> 'CALL_STATE_DRAFT'");
    }
    let total = w.count(tx, "calls").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {CALL_COLUMNS} FROM calls {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<StoredCall> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((with_children(tx, rows).await?, total))
}

#[tracing::instrument(skip_all)]
pub async fn update(tx: &mut Tx, current: &CallRow, f: &CallFields) -> Result<CallRow> {
    let now = now_micros();
    let r = &f.rules;
    let rows = sqlx::query(
        "UPDATE calls SET title_ar = $3, title_en = $4, description_ar = $5, description_en = $6,
            currency = $7, envelope_minor = $8, ceiling_minor = $9, opens_on = $10,
            closes_on = $11, eligible_statuses = $12, eligible_branches = $13,
            eligible_kinds = $14, required_topic = $15, max_score = $16, blind = $17,
            version = version + 1, updated_at = $18
         WHERE tenant_id = $1 AND id = $2 AND version = $19",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(&f.title.ar)
    .bind(&f.title.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(f.currency().code())
    .bind(f.envelope.minor_units())
    .bind(f.ceiling.minor_units())
    .bind(f.opens_on.to_string())
    .bind(f.closes_on.to_string())
    .bind(names(&r.incubation_statuses, |s| s.as_str_name()))
    .bind(list_text(&r.branch_ids))
    .bind(names(&r.organization_kinds, |k| k.as_str_name()))
    .bind(&r.required_course_topic)
    .bind(i64::from(f.rubric.max_score))
    .bind(i64::from(f.blind))
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    write_call_children(tx, &current.id, f).await?;
    Ok(CallRow {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

#[tracing::instrument(skip_all)]
pub async fn set_state(tx: &mut Tx, current: &CallRow, to: CallState) -> Result<CallRow> {
    let now = now_micros();
    let rows = sqlx::query(
        "UPDATE calls SET state = $3, version = version + 1, updated_at = $4
         WHERE tenant_id = $1 AND id = $2 AND version = $5",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(to.as_str_name())
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    Ok(CallRow {
        state: to,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// The money committed in a call: the amounts awarded, less the tranches
/// cancelled when a grant closed early (they will never be paid, so they
/// return to the envelope). From the records, with checked arithmetic.
#[tracing::instrument(skip_all)]
pub async fn committed(tx: &mut Tx, call: &CallRow) -> Result<Money> {
    committed_in(tx, std::slice::from_ref(call))
        .await?
        .remove(&call.id)
        .ok_or_else(|| Error::internal("the call's commitments"))
}

/// [`committed`] of every call of a page, by id, in two statements.
#[tracing::instrument(skip_all)]
pub async fn committed_in(tx: &mut Tx, calls: &[CallRow]) -> Result<HashMap<String, Money>> {
    let ids: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
    let awarded: Vec<(String, String, i64)> = tx
        .rows_for_ids(
            "SELECT call_id, currency, amount_minor FROM awards
             WHERE tenant_id = $1 AND call_id IN ({ids})",
            &ids,
        )
        .await?;
    let cancelled: Vec<(String, String, i64)> = tx
        .rows_for_ids(
            "SELECT a.call_id, t.currency, t.amount_minor FROM tranches t
             JOIN awards a ON a.tenant_id = t.tenant_id AND a.id = t.award_id
             WHERE t.tenant_id = $1 AND a.call_id IN ({ids})
               AND t.state = 'TRANCHE_STATE_CANCELLED'",
            &ids,
        )
        .await?;
    let amounts = |rows: &[(String, String, i64)], call: &str| {
        rows.iter()
            .filter(|(c, _, _)| c == call)
            .map(|(_, currency, minor)| Money::stored(currency, *minor))
            .collect::<Result<Vec<_>>>()
    };
    let mut out = HashMap::with_capacity(calls.len());
    for call in calls {
        let currency = call.fields.currency();
        let total = money::sum(currency, amounts(&awarded, &call.id)?)?
            .checked_sub(money::sum(currency, amounts(&cancelled, &call.id)?)?)?;
        out.insert(call.id.clone(), total);
    }
    Ok(out)
}
