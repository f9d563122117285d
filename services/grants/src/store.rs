//! Grants' SQL: one implementation for PostgreSQL and SQLite.
//!
//! Every query of tenant data names `tenant_id = $1`, bound from the
//! transaction's tenant (the caller's token or the event's envelope), never
//! from a request body. Writers of one object serialize on a version-checked
//! `UPDATE` of its row (the row lock on PostgreSQL; SQLite has one writer).
//! Every total is summed from the rows, in integers.

use std::collections::BTreeSet;

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::money::{self, Money};
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::{IncubationStatus, LocalizedText, OrganizationKind, Sector};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{
    AssignmentState, BudgetCategory, BudgetLine, CallFields, CallState, Criterion,
    ExpenditureFields, Ledger, Milestone, OrgFacts, People, ProgramFields, ProposalFields,
    ProposalState, ReportFields, ReportKind, ReportState, ReviewerFields, Rubric, Rules, Sheet,
    Theme, Tranche, TrancheState, VariationFields, VariationState,
};

// ---------------------------------------------------------------- helpers

/// Maps a stored enumeration name back to its value.
fn named<E>(value: &str, parse: fn(&str) -> Option<E>) -> Result<E> {
    parse(value).ok_or_else(|| Error::internal(format!("unknown stored value '{value}'")))
}

fn text(r: &AnyRow, column: &str) -> Result<String> {
    Ok(r.try_get::<String, _>(column)?)
}

fn int(r: &AnyRow, column: &str) -> Result<i64> {
    Ok(r.try_get::<i64, _>(column)?)
}

/// `{prefix}_ar` and `{prefix}_en` as one bilingual text.
fn localized(r: &AnyRow, prefix: &str) -> Result<LocalizedText> {
    Ok(LocalizedText {
        ar: text(r, &format!("{prefix}_ar"))?,
        en: text(r, &format!("{prefix}_en"))?,
    })
}

fn date_text(d: Option<Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn optional_date(r: &AnyRow, column: &str) -> Result<Option<Date>> {
    Ok(Date::parse(&text(r, column)?))
}

fn required_date(r: &AnyRow, column: &str) -> Result<Date> {
    optional_date(r, column)?
        .ok_or_else(|| Error::internal(format!("stored {column} is not a date")))
}

fn money_of(r: &AnyRow, currency: &str, minor: &str) -> Result<Money> {
    Money::stored(&text(r, currency)?, int(r, minor)?)
}

fn names<E: Copy>(values: &[E], name: fn(E) -> &'static str) -> String {
    values
        .iter()
        .map(|v| name(*v))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_names<E>(stored: &str, parse: fn(&str) -> Option<E>) -> Result<Vec<E>> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| named(s, parse))
        .collect()
}

fn list_text(values: &[String]) -> String {
    values.join(",")
}

fn parse_list(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A version-checked change of one row: 0 rows means someone changed it since.
fn changed(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(Error::stale_etag())
    } else {
        Ok(())
    }
}

/// An insert's outcome, with a unique-key violation as ALREADY_EXISTS
/// saying `what` exists.
fn inserted<T>(result: std::result::Result<T, sqlx::Error>, what: &str) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if markaz_kit::db::is_unique_violation(&e) => Err(Error::AlreadyExists(what.into())),
        Err(e) => Err(e.into()),
    }
}

/// Whether `sql` finds a row: `$1` is the transaction's tenant, `$2` and
/// `$3` are `a` and `b` (the "is there one?" of two keys, where kit's
/// `Tx::find` takes one).
async fn exists(tx: &mut Tx, sql: &'static str, a: &str, b: &str) -> Result<bool> {
    let row = sqlx::query(sql)
        .bind(tx.tenant())
        .bind(a)
        .bind(b)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.is_some())
}

/// A page of the rows of `table` that belong to one award, in id order
/// (`limit` 0: all of them).
async fn rows_of_award(
    tx: &mut Tx,
    table: &str,
    columns: &str,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<AnyRow>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM {table} WHERE tenant_id = $1 AND award_id = $2 AND id > $3
         ORDER BY id LIMIT $4"
    ));
    Ok(sqlx::query(sql)
        .bind(tx.tenant())
        .bind(award_id)
        .bind(after)
        .bind(if limit == 0 { i64::MAX } else { limit })
        .fetch_all(tx.conn())
        .await?)
}

// --------------------------------------------------------------- programs

#[derive(Debug, Clone)]
pub struct ProgramRow {
    pub id: String,
    pub fields: ProgramFields,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

fn program_row(r: &AnyRow) -> Result<ProgramRow> {
    Ok(ProgramRow {
        id: text(r, "id")?,
        fields: ProgramFields {
            name: localized(r, "name")?,
            description: localized(r, "description")?,
        },
        version: int(r, "version")?,
        created_at: int(r, "created_at")?,
        updated_at: int(r, "updated_at")?,
    })
}

pub async fn insert_program(tx: &mut Tx, id: &str, f: &ProgramFields) -> Result<ProgramRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO programs (tenant_id, id, name_ar, name_en, description_ar, description_en,
            version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
    )
    .bind(tx.tenant())
    .bind(id)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(ProgramRow {
        id: id.to_string(),
        fields: f.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

macro_rules! program_columns {
    () => {
        "id, name_ar, name_en, description_ar, description_en, version, created_at, updated_at"
    };
}

pub async fn get_program(tx: &mut Tx, id: &str) -> Result<Option<ProgramRow>> {
    tx.find(
        concat!(
            "SELECT ",
            program_columns!(),
            " FROM programs WHERE tenant_id = $1 AND id = $2"
        ),
        id,
        program_row,
    )
    .await
}

pub async fn list_programs(tx: &mut Tx, after: &str, limit: i64) -> Result<Vec<ProgramRow>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        program_columns!(),
        " FROM programs WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(tx.tenant())
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(program_row).collect()
}

pub async fn update_program(
    tx: &mut Tx,
    current: &ProgramRow,
    f: &ProgramFields,
) -> Result<ProgramRow> {
    let now = now_micros();
    let rows = sqlx::query(
        "UPDATE programs SET name_ar = $3, name_en = $4, description_ar = $5, description_en = $6,
            version = version + 1, updated_at = $7
         WHERE tenant_id = $1 AND id = $2 AND version = $8",
    )
    .bind(tx.tenant())
    .bind(&current.id)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    Ok(ProgramRow {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

// ------------------------------------------------------------------ calls

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

macro_rules! call_columns {
    () => {
        "id, program_id, title_ar, title_en, description_ar, description_en, currency, \
         envelope_minor, ceiling_minor, opens_on, closes_on, eligible_statuses, \
         eligible_branches, eligible_kinds, required_topic, max_score, blind, state, version, \
         created_at, updated_at"
    };
}

/// A call's own row; [`with_call_children`] adds its themes and criteria.
fn call_head(r: &AnyRow) -> Result<CallRow> {
    Ok(CallRow {
        id: text(r, "id")?,
        program_id: text(r, "program_id")?,
        fields: CallFields {
            title: localized(r, "title")?,
            description: localized(r, "description")?,
            themes: Vec::new(),
            envelope: money_of(r, "currency", "envelope_minor")?,
            ceiling: money_of(r, "currency", "ceiling_minor")?,
            opens_on: required_date(r, "opens_on")?,
            closes_on: required_date(r, "closes_on")?,
            rules: Rules {
                incubation_statuses: parse_names(
                    &text(r, "eligible_statuses")?,
                    IncubationStatus::from_str_name,
                )?,
                branch_ids: parse_list(&text(r, "eligible_branches")?),
                organization_kinds: parse_names(
                    &text(r, "eligible_kinds")?,
                    OrganizationKind::from_str_name,
                )?,
                required_course_topic: text(r, "required_topic")?,
            },
            rubric: Rubric {
                max_score: int(r, "max_score")? as i32,
                criteria: Vec::new(),
            },
            blind: int(r, "blind")? != 0,
        },
        state: named(&text(r, "state")?, CallState::from_str_name)?,
        version: int(r, "version")?,
        created_at: int(r, "created_at")?,
        updated_at: int(r, "updated_at")?,
    })
}

async fn with_call_children(tx: &mut Tx, mut call: CallRow) -> Result<CallRow> {
    call.fields.themes = sqlx::query(
        "SELECT code, name_ar, name_en FROM call_themes
         WHERE tenant_id = $1 AND call_id = $2 ORDER BY ordinal",
    )
    .bind(tx.tenant())
    .bind(&call.id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|t| {
        Ok(Theme {
            code: text(t, "code")?,
            name: localized(t, "name")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    call.fields.rubric.criteria = sqlx::query(
        "SELECT code, name_ar, name_en, guidance_ar, guidance_en, weight FROM call_criteria
         WHERE tenant_id = $1 AND call_id = $2 ORDER BY ordinal",
    )
    .bind(tx.tenant())
    .bind(&call.id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|c| {
        Ok(Criterion {
            code: text(c, "code")?,
            name: localized(c, "name")?,
            guidance: localized(c, "guidance")?,
            weight: int(c, "weight")? as i32,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(call)
}

async fn write_call_children(tx: &mut Tx, id: &str, f: &CallFields) -> Result<()> {
    for table in ["call_themes", "call_criteria"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND call_id = $2"
        )))
        .bind(tx.tenant())
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    for (i, t) in f.themes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO call_themes (tenant_id, call_id, ordinal, code, name_ar, name_en)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tx.tenant())
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
        .bind(tx.tenant())
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

pub async fn insert_call(
    tx: &mut Tx,
    id: &str,
    program_id: &str,
    f: &CallFields,
) -> Result<CallRow> {
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
    .bind(tx.tenant())
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

pub async fn get_call(tx: &mut Tx, id: &str) -> Result<Option<CallRow>> {
    let sql = concat!(
        "SELECT ",
        call_columns!(),
        " FROM calls WHERE tenant_id = $1 AND id = $2"
    );
    match tx.find(sql, id, call_head).await? {
        Some(call) => Ok(Some(with_call_children(tx, call).await?)),
        None => Ok(None),
    }
}

pub async fn list_calls(
    tx: &mut Tx,
    program_id: &str,
    state: &str,
    hide_drafts: bool,
    after: &str,
    limit: i64,
) -> Result<Vec<CallRow>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        call_columns!(),
        " FROM calls
         WHERE tenant_id = $1 AND id > $2 AND ($3 = '' OR program_id = $3)
           AND ($4 = '' OR state = $4) AND ($5 = 0 OR state <> 'CALL_STATE_DRAFT')
         ORDER BY id LIMIT $6"
    ))
    .bind(tx.tenant())
    .bind(after)
    .bind(program_id)
    .bind(state)
    .bind(i64::from(hide_drafts))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(with_call_children(tx, call_head(r)?).await?);
    }
    Ok(out)
}

pub async fn update_call(tx: &mut Tx, current: &CallRow, f: &CallFields) -> Result<CallRow> {
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
    .bind(tx.tenant())
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

pub async fn set_call_state(tx: &mut Tx, current: &CallRow, to: CallState) -> Result<CallRow> {
    let now = now_micros();
    let rows = sqlx::query(
        "UPDATE calls SET state = $3, version = version + 1, updated_at = $4
         WHERE tenant_id = $1 AND id = $2 AND version = $5",
    )
    .bind(tx.tenant())
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
pub async fn committed_in_call(tx: &mut Tx, call: &CallRow) -> Result<Money> {
    let currency = call.fields.currency();
    let awarded = sqlx::query(
        "SELECT currency, amount_minor FROM awards WHERE tenant_id = $1 AND call_id = $2",
    )
    .bind(tx.tenant())
    .bind(&call.id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|r| money_of(r, "currency", "amount_minor"))
    .collect::<Result<Vec<_>>>()?;
    let cancelled = sqlx::query(
        "SELECT t.currency, t.amount_minor FROM tranches t
         JOIN awards a ON a.tenant_id = t.tenant_id AND a.id = t.award_id
         WHERE t.tenant_id = $1 AND a.call_id = $2 AND t.state = 'TRANCHE_STATE_CANCELLED'",
    )
    .bind(tx.tenant())
    .bind(&call.id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|r| money_of(r, "currency", "amount_minor"))
    .collect::<Result<Vec<_>>>()?;
    Ok(money::sum(currency, awarded)?.checked_sub(money::sum(currency, cancelled)?)?)
}

// ----------------------------------------------------------------- copies

/// What grants knows of an organization: the eligibility facts and its name.
pub async fn organization_facts(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<(OrgFacts, LocalizedText)>> {
    let copy = tx
        .find(
            "SELECT kind, name_ar, name_en, branch_id, incubation_status
             FROM membership_organizations WHERE tenant_id = $1 AND id = $2",
            id,
            |r| {
                Ok((
                    OrgFacts {
                        kind: named(&text(r, "kind")?, OrganizationKind::from_str_name)?,
                        branch_id: text(r, "branch_id")?,
                        incubation_status: named(
                            &text(r, "incubation_status")?,
                            IncubationStatus::from_str_name,
                        )?,
                        topics: Vec::new(),
                    },
                    localized(r, "name")?,
                ))
            },
        )
        .await?;
    let Some((mut facts, name)) = copy else {
        return Ok(None);
    };
    facts.topics = sqlx::query(
        "SELECT DISTINCT t.topic_code FROM completions c
         JOIN course_topics t ON t.tenant_id = c.tenant_id AND t.course_id = c.course_id
         WHERE c.tenant_id = $1 AND c.organization_id = $2 AND c.revoked = 0
         ORDER BY t.topic_code",
    )
    .bind(tx.tenant())
    .bind(id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|t| text(t, "topic_code"))
    .collect::<Result<Vec<_>>>()?;
    Ok(Some((facts, name)))
}

/// Whether grants has a copy of the person, not erased.
pub async fn person_is_known(tx: &mut Tx, id: &str) -> Result<bool> {
    let found = tx
        .find(
            "SELECT 1 AS one FROM membership_people WHERE tenant_id = $1 AND id = $2 AND erased = 0",
            id,
            |_| Ok(()),
        )
        .await?;
    Ok(found.is_some())
}

/// What PersonErased changes in grants' own records (the copy lost the
/// name already, in `markaz-membership-copies`): a reviewer who was this
/// person loses the sign-in link and is no longer assigned anything new; the
/// stored replies of the reviewer's idempotent create (which carried the
/// name) are forgotten too.
pub async fn erase_person(tx: &mut Tx, id: &str) -> Result<()> {
    let reviewers: Vec<String> =
        sqlx::query_scalar("SELECT id FROM reviewers WHERE tenant_id = $1 AND person_id = $2")
            .bind(tx.tenant().to_owned())
            .bind(id.to_owned())
            .fetch_all(tx.conn())
            .await?;
    for reviewer in &reviewers {
        tx.forget_aggregate(reviewer).await?;
    }
    sqlx::query(
        "UPDATE reviewers SET subject = '', active = 0 WHERE tenant_id = $1 AND person_id = $2",
    )
    .bind(tx.tenant())
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A person of an organization completed a course on `topics` (from
/// CourseCompleted or CertificateIssued: the same fact, either may come
/// first or twice). A completion revoked already stays revoked.
pub async fn apply_completion(
    tx: &mut Tx,
    course_id: &str,
    person_id: &str,
    organization_id: &str,
    topics: &[String],
) -> Result<()> {
    for topic in topics {
        sqlx::query(
            "INSERT INTO course_topics (tenant_id, course_id, topic_code) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(tx.tenant())
        .bind(course_id)
        .bind(topic)
        .execute(tx.conn())
        .await?;
    }
    sqlx::query(
        "INSERT INTO completions (tenant_id, course_id, person_id, organization_id, revoked)
         VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant())
    .bind(course_id)
    .bind(person_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Capacity revoked the certificate of a person's completion of a course:
/// it no longer counts, whether it arrived before or arrives later.
pub async fn revoke_completion(
    tx: &mut Tx,
    course_id: &str,
    person_id: &str,
    organization_id: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO completions (tenant_id, course_id, person_id, organization_id, revoked)
         VALUES ($1, $2, $3, $4, 1)
         ON CONFLICT (tenant_id, course_id, person_id, organization_id)
         DO UPDATE SET revoked = 1",
    )
    .bind(tx.tenant())
    .bind(course_id)
    .bind(person_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

// -------------------------------------------------------------- proposals

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

fn budget_line(r: &AnyRow) -> Result<BudgetLine> {
    Ok(BudgetLine {
        category: named(&text(r, "category")?, BudgetCategory::from_str_name)?,
        description: localized(r, "description")?,
        amount: money_of(r, "currency", "amount_minor")?,
    })
}

/// The lines of a budget table (`proposal_lines`, `award_lines`,
/// `variation_lines`) for its owner, in line order.
async fn budget_lines(tx: &mut Tx, table: &str, owner: &str, id: &str) -> Result<Vec<BudgetLine>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT category, description_ar, description_en, currency, amount_minor FROM {table}
         WHERE tenant_id = $1 AND {owner} = $2 ORDER BY line_number"
    ));
    let rows = sqlx::query(sql)
        .bind(tx.tenant())
        .bind(id)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(budget_line).collect()
}

async fn write_budget_lines(
    tx: &mut Tx,
    table: &str,
    owner: &str,
    id: &str,
    lines: &[BudgetLine],
) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE tenant_id = $1 AND {owner} = $2"
    )))
    .bind(tx.tenant())
    .bind(id)
    .execute(tx.conn())
    .await?;
    for (i, l) in lines.iter().enumerate() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (tenant_id, {owner}, line_number, category, description_ar,
                description_en, currency, amount_minor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(tx.tenant())
        .bind(id)
        .bind(i as i64 + 1)
        .bind(l.category.as_str_name())
        .bind(&l.description.ar)
        .bind(&l.description.en)
        .bind(l.amount.currency().code())
        .bind(l.amount.minor_units())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
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

pub async fn insert_proposal(
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

pub async fn get_proposal(tx: &mut Tx, id: &str) -> Result<Option<ProposalRow>> {
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

pub async fn list_proposals(
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

pub async fn update_proposal(
    tx: &mut Tx,
    current: &ProposalRow,
    f: &ProposalFields,
) -> Result<ProposalRow> {
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
pub async fn set_proposal_state(
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

#[derive(Debug, Clone)]
pub struct NoteRow {
    pub id: String,
    pub proposal_id: String,
    pub body: String,
    pub author: String,
    pub author_role: String,
    pub version_number: i32,
    pub created_at: i64,
}

pub async fn insert_note(tx: &mut Tx, n: &NoteRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO coaching_notes (tenant_id, id, proposal_id, body, author, author_role,
            version_number, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant())
    .bind(&n.id)
    .bind(&n.proposal_id)
    .bind(&n.body)
    .bind(&n.author)
    .bind(&n.author_role)
    .bind(i64::from(n.version_number))
    .bind(n.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn list_notes(
    tx: &mut Tx,
    proposal_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<NoteRow>> {
    let rows = sqlx::query(
        "SELECT id, proposal_id, body, author, author_role, version_number, created_at
         FROM coaching_notes WHERE tenant_id = $1 AND proposal_id = $2 AND id > $3
         ORDER BY id LIMIT $4",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NoteRow {
                id: text(r, "id")?,
                proposal_id: text(r, "proposal_id")?,
                body: text(r, "body")?,
                author: text(r, "author")?,
                author_role: text(r, "author_role")?,
                version_number: int(r, "version_number")? as i32,
                created_at: int(r, "created_at")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- coaches

#[derive(Debug, Clone)]
pub struct CoachRow {
    pub id: String,
    pub proposal_id: String,
    pub subject: String,
    pub assigned_by: String,
    pub created_at: i64,
}

fn coach_row(r: &AnyRow) -> Result<CoachRow> {
    Ok(CoachRow {
        id: text(r, "id")?,
        proposal_id: text(r, "proposal_id")?,
        subject: text(r, "subject")?,
        assigned_by: text(r, "assigned_by")?,
        created_at: int(r, "created_at")?,
    })
}

pub async fn insert_coach(tx: &mut Tx, c: &CoachRow) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO coaches (tenant_id, id, proposal_id, subject, assigned_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant())
    .bind(&c.id)
    .bind(&c.proposal_id)
    .bind(&c.subject)
    .bind(&c.assigned_by)
    .bind(c.created_at)
    .execute(tx.conn())
    .await;
    inserted(result, "the trainer coaches this proposal already")
}

pub async fn get_coach(tx: &mut Tx, id: &str) -> Result<Option<CoachRow>> {
    tx.find(
        "SELECT id, proposal_id, subject, assigned_by, created_at FROM coaches
         WHERE tenant_id = $1 AND id = $2",
        id,
        coach_row,
    )
    .await
}

pub async fn list_coaches(tx: &mut Tx, proposal_id: &str) -> Result<Vec<CoachRow>> {
    let rows = sqlx::query(
        "SELECT id, proposal_id, subject, assigned_by, created_at FROM coaches
         WHERE tenant_id = $1 AND proposal_id = $2 ORDER BY id",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(coach_row).collect()
}

pub async fn delete_coach(tx: &mut Tx, id: &str) -> Result<()> {
    let rows = sqlx::query("DELETE FROM coaches WHERE tenant_id = $1 AND id = $2")
        .bind(tx.tenant())
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    changed(rows)
}

/// Whether the trainer with account `subject` coaches the proposal.
pub async fn is_coach(tx: &mut Tx, proposal_id: &str, subject: &str) -> Result<bool> {
    exists(
        tx,
        "SELECT 1 AS one FROM coaches WHERE tenant_id = $1 AND proposal_id = $2 AND subject = $3",
        proposal_id,
        subject,
    )
    .await
}

/// Whether the trainer with account `subject` coaches a proposal of the
/// organization.
pub async fn coaches_organization(
    tx: &mut Tx,
    subject: &str,
    organization_id: &str,
) -> Result<bool> {
    exists(
        tx,
        "SELECT 1 AS one FROM coaches c
         JOIN proposals p ON p.tenant_id = c.tenant_id AND p.id = c.proposal_id
         WHERE c.tenant_id = $1 AND c.subject = $2 AND p.organization_id = $3 LIMIT 1",
        subject,
        organization_id,
    )
    .await
}

// -------------------------------------------------------------- reviewers

#[derive(Debug, Clone)]
pub struct ReviewerRow {
    pub id: String,
    pub fields: ReviewerFields,
    pub display_name: String,
    pub active: bool,
    pub created_at: i64,
}

macro_rules! reviewer_select {
    () => {
        "SELECT r.id, r.person_id, r.subject, r.expertise, r.active, r.created_at,
            COALESCE(p.full_name, '') AS display_name
         FROM reviewers r
         LEFT JOIN membership_people p ON p.tenant_id = r.tenant_id AND p.id = r.person_id"
    };
}

fn reviewer_row(r: &AnyRow) -> Result<ReviewerRow> {
    Ok(ReviewerRow {
        id: text(r, "id")?,
        fields: ReviewerFields {
            person_id: text(r, "person_id")?,
            subject: text(r, "subject")?,
            expertise: parse_names(&text(r, "expertise")?, Sector::from_str_name)?,
        },
        display_name: text(r, "display_name")?,
        active: int(r, "active")? != 0,
        created_at: int(r, "created_at")?,
    })
}

pub async fn insert_reviewer(tx: &mut Tx, id: &str, f: &ReviewerFields) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO reviewers (tenant_id, id, person_id, subject, expertise, active, created_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6)",
    )
    .bind(tx.tenant())
    .bind(id)
    .bind(&f.person_id)
    .bind(&f.subject)
    .bind(names(&f.expertise, |s| s.as_str_name()))
    .bind(now_micros())
    .execute(tx.conn())
    .await;
    inserted(
        result,
        "a reviewer with this person or subject is registered",
    )
}

pub async fn get_reviewer(tx: &mut Tx, id: &str) -> Result<Option<ReviewerRow>> {
    tx.find(
        concat!(reviewer_select!(), " WHERE r.tenant_id = $1 AND r.id = $2"),
        id,
        reviewer_row,
    )
    .await
}

/// The reviewer who signs in as `subject` (an erased reviewer has none).
pub async fn reviewer_of(tx: &mut Tx, subject: &str) -> Result<Option<ReviewerRow>> {
    if subject.is_empty() {
        return Ok(None);
    }
    tx.find(
        concat!(
            reviewer_select!(),
            " WHERE r.tenant_id = $1 AND r.subject = $2"
        ),
        subject,
        reviewer_row,
    )
    .await
}

pub async fn list_reviewers(tx: &mut Tx, after: &str, limit: i64) -> Result<Vec<ReviewerRow>> {
    let rows = sqlx::query(concat!(
        reviewer_select!(),
        " WHERE r.tenant_id = $1 AND r.id > $2 ORDER BY r.id LIMIT $3"
    ))
    .bind(tx.tenant())
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(reviewer_row).collect()
}

// -------------------------------------------------------------- conflicts

#[derive(Debug, Clone)]
pub struct ConflictRow {
    pub id: String,
    pub reviewer_id: String,
    pub organization_id: String,
    pub proposal_id: String,
    pub reason: String,
    pub declared_by: String,
    pub created_at: i64,
}

pub async fn insert_conflict(tx: &mut Tx, c: &ConflictRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO conflicts (tenant_id, id, reviewer_id, organization_id, proposal_id, reason,
            declared_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant())
    .bind(&c.id)
    .bind(&c.reviewer_id)
    .bind(&c.organization_id)
    .bind(&c.proposal_id)
    .bind(&c.reason)
    .bind(&c.declared_by)
    .bind(c.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn list_conflicts(
    tx: &mut Tx,
    reviewer_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ConflictRow>> {
    let rows = sqlx::query(
        "SELECT id, reviewer_id, organization_id, proposal_id, reason, declared_by, created_at
         FROM conflicts WHERE tenant_id = $1 AND ($2 = '' OR reviewer_id = $2) AND id > $3
         ORDER BY id LIMIT $4",
    )
    .bind(tx.tenant())
    .bind(reviewer_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ConflictRow {
                id: text(r, "id")?,
                reviewer_id: text(r, "reviewer_id")?,
                organization_id: text(r, "organization_id")?,
                proposal_id: text(r, "proposal_id")?,
                reason: text(r, "reason")?,
                declared_by: text(r, "declared_by")?,
                created_at: int(r, "created_at")?,
            })
        })
        .collect()
}

/// Why the reviewer has a conflict of interest with the proposal, if any:
/// declared (against the proposal or its organization) or detected (the
/// reviewer's person is affiliated with the organization).
pub async fn conflict_of_interest(
    tx: &mut Tx,
    reviewer: &ReviewerRow,
    proposal: &ProposalRow,
) -> Result<Option<String>> {
    let declared = sqlx::query(
        "SELECT reason FROM conflicts WHERE tenant_id = $1 AND reviewer_id = $2
           AND (proposal_id = $3 OR organization_id = $4) ORDER BY id LIMIT 1",
    )
    .bind(tx.tenant())
    .bind(&reviewer.id)
    .bind(&proposal.id)
    .bind(&proposal.organization_id)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(r) = declared {
        return Ok(Some(format!(
            "the reviewer declared a conflict of interest: {}",
            text(&r, "reason")?
        )));
    }
    let affiliated = exists(
        tx,
        "SELECT 1 AS one FROM membership_affiliations WHERE tenant_id = $1 AND person_id = $2
           AND organization_id = $3 AND ended = 0",
        &reviewer.fields.person_id,
        &proposal.organization_id,
    )
    .await?;
    Ok(affiliated.then(|| {
        "the reviewer is affiliated with the applicant organization (a detected conflict of \
         interest)"
            .to_string()
    }))
}

/// Withdraws the active assignments a conflict touches: of `reviewer_id`
/// (or of every reviewer who is `person_id`), on `proposal_id` or on the
/// proposals of `organization_id`. Returns how many.
pub async fn recuse(
    tx: &mut Tx,
    reviewer_id: &str,
    person_id: &str,
    organization_id: &str,
    proposal_id: &str,
    reason: &str,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE assignments SET state = 'ASSIGNMENT_STATE_RECUSED', recusal_reason = $6
         WHERE tenant_id = $1 AND state = 'ASSIGNMENT_STATE_ACTIVE'
           AND (($2 <> '' AND reviewer_id = $2)
             OR ($3 <> '' AND reviewer_id IN (SELECT id FROM reviewers
                  WHERE tenant_id = $1 AND person_id = $3)))
           AND (($5 <> '' AND proposal_id = $5)
             OR ($4 <> '' AND proposal_id IN (SELECT id FROM proposals
                  WHERE tenant_id = $1 AND organization_id = $4)))",
    )
    .bind(tx.tenant())
    .bind(reviewer_id)
    .bind(person_id)
    .bind(organization_id)
    .bind(proposal_id)
    .bind(reason)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

// ------------------------------------------------------------ assignments

#[derive(Debug, Clone)]
pub struct AssignmentRow {
    pub id: String,
    pub proposal_id: String,
    pub reviewer_id: String,
    pub call_id: String,
    pub state: AssignmentState,
    pub recusal_reason: String,
    pub assigned_by: String,
    pub created_at: i64,
}

fn assignment_row(r: &AnyRow) -> Result<AssignmentRow> {
    Ok(AssignmentRow {
        id: text(r, "id")?,
        proposal_id: text(r, "proposal_id")?,
        reviewer_id: text(r, "reviewer_id")?,
        call_id: text(r, "call_id")?,
        state: named(&text(r, "state")?, AssignmentState::from_str_name)?,
        recusal_reason: text(r, "recusal_reason")?,
        assigned_by: text(r, "assigned_by")?,
        created_at: int(r, "created_at")?,
    })
}

pub async fn insert_assignment(tx: &mut Tx, a: &AssignmentRow) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO assignments (tenant_id, id, proposal_id, reviewer_id, call_id, state,
            recusal_reason, assigned_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.tenant())
    .bind(&a.id)
    .bind(&a.proposal_id)
    .bind(&a.reviewer_id)
    .bind(&a.call_id)
    .bind(a.state.as_str_name())
    .bind(&a.recusal_reason)
    .bind(&a.assigned_by)
    .bind(a.created_at)
    .execute(tx.conn())
    .await;
    inserted(result, "the reviewer is already assigned to this proposal")
}

pub async fn find_assignment(
    tx: &mut Tx,
    proposal_id: &str,
    reviewer_id: &str,
) -> Result<Option<AssignmentRow>> {
    let row = sqlx::query(
        "SELECT id, proposal_id, reviewer_id, call_id, state, recusal_reason, assigned_by,
            created_at
         FROM assignments WHERE tenant_id = $1 AND proposal_id = $2 AND reviewer_id = $3",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .bind(reviewer_id)
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(assignment_row).transpose()
}

pub async fn list_assignments(
    tx: &mut Tx,
    proposal_id: &str,
    reviewer_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<AssignmentRow>> {
    let rows = sqlx::query(
        "SELECT id, proposal_id, reviewer_id, call_id, state, recusal_reason, assigned_by,
            created_at
         FROM assignments WHERE tenant_id = $1 AND ($2 = '' OR proposal_id = $2)
           AND ($3 = '' OR reviewer_id = $3) AND id > $4
         ORDER BY id LIMIT $5",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .bind(reviewer_id)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(assignment_row).collect()
}

// ----------------------------------------------------------------- scores

#[derive(Debug, Clone)]
pub struct SheetRow {
    pub id: String,
    pub proposal_id: String,
    pub reviewer_id: String,
    pub sheet: Sheet,
    pub weighted_total: i64,
    /// The reviewer's assignment is active (not withdrawn for a conflict).
    pub counts: bool,
    pub submitted_at: i64,
}

/// Writes the reviewer's sheet for the proposal, replacing an earlier one.
pub async fn upsert_sheet(tx: &mut Tx, id: &str, call_id: &str, row: &SheetRow) -> Result<String> {
    let existing = sqlx::query(
        "SELECT id FROM score_sheets WHERE tenant_id = $1 AND proposal_id = $2
           AND reviewer_id = $3",
    )
    .bind(tx.tenant())
    .bind(&row.proposal_id)
    .bind(&row.reviewer_id)
    .fetch_optional(tx.conn())
    .await?;
    let id = match existing {
        Some(r) => {
            let id = text(&r, "id")?;
            sqlx::query("DELETE FROM score_items WHERE tenant_id = $1 AND sheet_id = $2")
                .bind(tx.tenant())
                .bind(&id)
                .execute(tx.conn())
                .await?;
            sqlx::query(
                "UPDATE score_sheets SET comment = $3, weighted_total = $4, submitted_at = $5
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tx.tenant())
            .bind(&id)
            .bind(&row.sheet.comment)
            .bind(row.weighted_total)
            .bind(row.submitted_at)
            .execute(tx.conn())
            .await?;
            id
        }
        None => {
            sqlx::query(
                "INSERT INTO score_sheets (tenant_id, id, proposal_id, reviewer_id, call_id,
                    comment, weighted_total, submitted_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(tx.tenant())
            .bind(id)
            .bind(&row.proposal_id)
            .bind(&row.reviewer_id)
            .bind(call_id)
            .bind(&row.sheet.comment)
            .bind(row.weighted_total)
            .bind(row.submitted_at)
            .execute(tx.conn())
            .await?;
            id.to_string()
        }
    };
    for (i, (code, score, comment)) in row.sheet.scores.iter().enumerate() {
        sqlx::query(
            "INSERT INTO score_items (tenant_id, sheet_id, ordinal, criterion_code, score, comment)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tx.tenant())
        .bind(&id)
        .bind(i as i64)
        .bind(code)
        .bind(i64::from(*score))
        .bind(comment)
        .execute(tx.conn())
        .await?;
    }
    Ok(id)
}

/// Score sheets of a proposal (`proposal_id`) or a call (`call_id`),
/// optionally of one reviewer, each with whether it counts: its reviewer's
/// assignment is active, and it scores the version submitted last (a sheet
/// given before the proposal was revised and submitted again does not).
pub async fn list_sheets(
    tx: &mut Tx,
    proposal_id: &str,
    call_id: &str,
    reviewer_id: &str,
) -> Result<Vec<SheetRow>> {
    let rows = sqlx::query(
        "SELECT s.id, s.proposal_id, s.reviewer_id, s.comment, s.weighted_total, s.submitted_at,
            COALESCE(a.state, '') AS assignment_state, p.submitted_at AS version_submitted_at
         FROM score_sheets s
         JOIN proposals p ON p.tenant_id = s.tenant_id AND p.id = s.proposal_id
         LEFT JOIN assignments a ON a.tenant_id = s.tenant_id AND a.proposal_id = s.proposal_id
           AND a.reviewer_id = s.reviewer_id
         WHERE s.tenant_id = $1 AND ($2 = '' OR s.proposal_id = $2)
           AND ($3 = '' OR s.call_id = $3) AND ($4 = '' OR s.reviewer_id = $4)
         ORDER BY s.id",
    )
    .bind(tx.tenant())
    .bind(proposal_id)
    .bind(call_id)
    .bind(reviewer_id)
    .fetch_all(tx.conn())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id = text(r, "id")?;
        let scores = sqlx::query(
            "SELECT criterion_code, score, comment FROM score_items
             WHERE tenant_id = $1 AND sheet_id = $2 ORDER BY ordinal",
        )
        .bind(tx.tenant())
        .bind(&id)
        .fetch_all(tx.conn())
        .await?
        .iter()
        .map(|i| {
            Ok((
                text(i, "criterion_code")?,
                int(i, "score")? as i32,
                text(i, "comment")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
        out.push(SheetRow {
            id,
            proposal_id: text(r, "proposal_id")?,
            reviewer_id: text(r, "reviewer_id")?,
            sheet: Sheet {
                scores,
                comment: text(r, "comment")?,
            },
            weighted_total: int(r, "weighted_total")?,
            counts: text(r, "assignment_state")? == AssignmentState::Active.as_str_name()
                && int(r, "submitted_at")? >= int(r, "version_submitted_at")?,
            submitted_at: int(r, "submitted_at")?,
        });
    }
    Ok(out)
}

// ----------------------------------------------------------------- awards

#[derive(Debug, Clone)]
pub struct TrancheRow {
    pub number: i32,
    pub milestone: i32,
    pub amount: Money,
    pub state: TrancheState,
    pub disbursed_on: Option<Date>,
    pub reference: String,
    pub disbursed_by: String,
}

#[derive(Debug, Clone)]
pub struct AwardRow {
    pub id: String,
    pub proposal_id: String,
    pub call_id: String,
    pub organization_id: String,
    pub amount: Money,
    pub budget: Vec<BudgetLine>,
    pub tranches: Vec<TrancheRow>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub closure_reason: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert_award(tx: &mut Tx, a: &AwardRow, awarded_by: &str) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO awards (tenant_id, id, proposal_id, call_id, organization_id, currency,
            amount_minor, start_date, end_date, closure_reason, awarded_by, version, created_at,
            updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, 1, $11, $11)",
    )
    .bind(tx.tenant())
    .bind(&a.id)
    .bind(&a.proposal_id)
    .bind(&a.call_id)
    .bind(&a.organization_id)
    .bind(a.amount.currency().code())
    .bind(a.amount.minor_units())
    .bind(date_text(a.start_date))
    .bind(date_text(a.end_date))
    .bind(awarded_by)
    .bind(a.created_at)
    .execute(tx.conn())
    .await;
    inserted(result, "the proposal is awarded already")?;
    write_budget_lines(tx, "award_lines", "award_id", &a.id, &a.budget).await?;
    for t in &a.tranches {
        sqlx::query(
            "INSERT INTO tranches (tenant_id, award_id, number, milestone_number, currency,
                amount_minor, state, disbursed_on, reference, disbursed_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, '', '', '')",
        )
        .bind(tx.tenant())
        .bind(&a.id)
        .bind(i64::from(t.number))
        .bind(i64::from(t.milestone))
        .bind(t.amount.currency().code())
        .bind(t.amount.minor_units())
        .bind(t.state.as_str_name())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

macro_rules! award_columns {
    () => {
        "id, proposal_id, call_id, organization_id, currency, amount_minor, start_date, \
         end_date, closure_reason, version, created_at, updated_at"
    };
}

/// An award's own row; [`with_award_children`] adds its tranches and budget.
fn award_head(r: &AnyRow) -> Result<AwardRow> {
    Ok(AwardRow {
        id: text(r, "id")?,
        proposal_id: text(r, "proposal_id")?,
        call_id: text(r, "call_id")?,
        organization_id: text(r, "organization_id")?,
        amount: money_of(r, "currency", "amount_minor")?,
        budget: Vec::new(),
        tranches: Vec::new(),
        start_date: optional_date(r, "start_date")?,
        end_date: optional_date(r, "end_date")?,
        closure_reason: text(r, "closure_reason")?,
        version: int(r, "version")?,
        created_at: int(r, "created_at")?,
        updated_at: int(r, "updated_at")?,
    })
}

async fn with_award_children(tx: &mut Tx, mut a: AwardRow) -> Result<AwardRow> {
    a.tranches = sqlx::query(
        "SELECT number, milestone_number, currency, amount_minor, state, disbursed_on, reference,
            disbursed_by
         FROM tranches WHERE tenant_id = $1 AND award_id = $2 ORDER BY number",
    )
    .bind(tx.tenant())
    .bind(&a.id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|t| {
        Ok(TrancheRow {
            number: int(t, "number")? as i32,
            milestone: int(t, "milestone_number")? as i32,
            amount: money_of(t, "currency", "amount_minor")?,
            state: named(&text(t, "state")?, TrancheState::from_str_name)?,
            disbursed_on: optional_date(t, "disbursed_on")?,
            reference: text(t, "reference")?,
            disbursed_by: text(t, "disbursed_by")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    a.budget = budget_lines(tx, "award_lines", "award_id", &a.id).await?;
    Ok(a)
}

pub async fn get_award(tx: &mut Tx, id: &str) -> Result<Option<AwardRow>> {
    let sql = concat!(
        "SELECT ",
        award_columns!(),
        " FROM awards WHERE tenant_id = $1 AND id = $2"
    );
    match tx.find(sql, id, award_head).await? {
        Some(a) => Ok(Some(with_award_children(tx, a).await?)),
        None => Ok(None),
    }
}

pub async fn list_awards(
    tx: &mut Tx,
    call_id: &str,
    organization_id: &str,
    state: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<AwardRow>> {
    let sql = concat!(
        "SELECT ",
        award_columns!(),
        " FROM awards w
         WHERE tenant_id = $1 AND id > $2 AND ($3 = '' OR call_id = $3)
           AND ($4 = '' OR organization_id = $4)
           AND ($5 = '' OR EXISTS (SELECT 1 FROM proposals p WHERE p.tenant_id = w.tenant_id
                AND p.id = w.proposal_id AND p.state = $5))
         ORDER BY id LIMIT $6"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant())
        .bind(after)
        .bind(call_id)
        .bind(organization_id)
        .bind(state)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(with_award_children(tx, award_head(r)?).await?);
    }
    Ok(out)
}

/// Bumps the award's version, checking `expected` (the etag) when given:
/// every change to an award goes through here first, which also serializes
/// concurrent writers on its row.
pub async fn touch_award(tx: &mut Tx, award: &AwardRow, expected: Option<i64>) -> Result<i64> {
    let rows = sqlx::query(
        "UPDATE awards SET version = version + 1, updated_at = $3
         WHERE tenant_id = $1 AND id = $2 AND ($4 = 0 OR version = $4)",
    )
    .bind(tx.tenant())
    .bind(&award.id)
    .bind(now_micros())
    .bind(expected.unwrap_or(0))
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    tx.find(
        "SELECT version FROM awards WHERE tenant_id = $1 AND id = $2",
        &award.id,
        |r| int(r, "version"),
    )
    .await?
    .ok_or_else(|| Error::internal("the award just changed"))
}

/// The award's money and progress as the rules see them, from the records.
pub async fn ledger(tx: &mut Tx, award: &AwardRow, state: ProposalState) -> Result<Ledger> {
    let milestones: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM proposal_milestones WHERE tenant_id = $1 AND proposal_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(award.proposal_id.clone())
    .fetch_one(tx.conn())
    .await?;
    let accepted_rows = sqlx::query(
        "SELECT kind, milestone_number FROM reports WHERE tenant_id = $1 AND award_id = $2
           AND state = 'REPORT_STATE_ACCEPTED'",
    )
    .bind(tx.tenant())
    .bind(&award.id)
    .fetch_all(tx.conn())
    .await?;
    let mut accepted = BTreeSet::new();
    let mut final_accepted = false;
    for r in &accepted_rows {
        if text(r, "kind")? == ReportKind::Final.as_str_name() {
            final_accepted = true;
        } else {
            accepted.insert(int(r, "milestone_number")? as i32);
        }
    }
    let spent_rows = sqlx::query(
        "SELECT l.line_number, l.currency, l.amount_minor FROM expenditure_lines l
         JOIN expenditure_reports e ON e.tenant_id = l.tenant_id AND e.id = l.report_id
         WHERE l.tenant_id = $1 AND e.award_id = $2 AND e.state = 'REPORT_STATE_ACCEPTED'",
    )
    .bind(tx.tenant())
    .bind(&award.id)
    .fetch_all(tx.conn())
    .await?;
    let currency = award.amount.currency();
    let mut spent = vec![Money::zero(currency); award.budget.len()];
    for r in &spent_rows {
        let line = int(r, "line_number")? as usize;
        let amount = money_of(r, "currency", "amount_minor")?;
        if line == 0 || line > spent.len() {
            return Err(Error::internal(format!(
                "spending on a missing line {line}"
            )));
        }
        spent[line - 1] = spent[line - 1].checked_add(amount)?;
    }
    // Every stored amount is checked to be in the award's currency.
    money::sum(currency, award.budget.iter().map(|l| l.amount))?;
    money::sum(currency, award.tranches.iter().map(|t| t.amount))?;
    Ok(Ledger {
        currency,
        state,
        amount: award.amount.minor_units(),
        tranches: award
            .tranches
            .iter()
            .map(|t| Tranche {
                number: t.number,
                milestone: t.milestone,
                amount: t.amount.minor_units(),
                state: t.state,
            })
            .collect(),
        milestones: milestones as i32,
        accepted,
        final_accepted,
        budget: award
            .budget
            .iter()
            .map(|l| l.amount.minor_units())
            .collect(),
        spent: spent.iter().map(Money::minor_units).collect(),
    })
}

pub async fn disburse_tranche(
    tx: &mut Tx,
    award_id: &str,
    number: i32,
    on: Date,
    reference: &str,
    by: &str,
) -> Result<()> {
    let rows = sqlx::query(
        "UPDATE tranches SET state = 'TRANCHE_STATE_DISBURSED', disbursed_on = $4,
            reference = $5, disbursed_by = $6
         WHERE tenant_id = $1 AND award_id = $2 AND number = $3
           AND state = 'TRANCHE_STATE_PLANNED'",
    )
    .bind(tx.tenant())
    .bind(award_id)
    .bind(i64::from(number))
    .bind(on.to_string())
    .bind(reference)
    .bind(by)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)
}

/// Closes an award: its planned tranches are cancelled, the reason kept.
pub async fn close_award(tx: &mut Tx, award_id: &str, reason: &str) -> Result<()> {
    sqlx::query(
        "UPDATE tranches SET state = 'TRANCHE_STATE_CANCELLED'
         WHERE tenant_id = $1 AND award_id = $2 AND state = 'TRANCHE_STATE_PLANNED'",
    )
    .bind(tx.tenant())
    .bind(award_id)
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE awards SET closure_reason = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tx.tenant())
        .bind(award_id)
        .bind(reason)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Puts an approved variation in force.
pub async fn vary_award(
    tx: &mut Tx,
    award_id: &str,
    budget: &[BudgetLine],
    end_date: Option<Date>,
) -> Result<()> {
    if !budget.is_empty() {
        write_budget_lines(tx, "award_lines", "award_id", award_id, budget).await?;
    }
    if let Some(end) = end_date {
        sqlx::query("UPDATE awards SET end_date = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tx.tenant())
            .bind(award_id)
            .bind(end.to_string())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- reports

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

pub async fn insert_report(tx: &mut Tx, r: &ReportRow) -> Result<()> {
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

pub async fn get_report(tx: &mut Tx, id: &str) -> Result<Option<ReportRow>> {
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
pub async fn list_reports(
    tx: &mut Tx,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ReportRow>> {
    let rows = rows_of_award(tx, "reports", report_columns!(), award_id, after, limit).await?;
    rows.iter().map(report_row).collect()
}

/// Records the review of a submitted report (state-checked).
pub async fn review(
    tx: &mut Tx,
    table: &str,
    id: &str,
    to: ReportState,
    comment: &str,
    by: &str,
) -> Result<i64> {
    let now = now_micros();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET state = $3, review_comment = $4, reviewed_by = $5, reviewed_at = $6
         WHERE tenant_id = $1 AND id = $2 AND state = 'REPORT_STATE_SUBMITTED'"
    )))
    .bind(tx.tenant())
    .bind(id)
    .bind(to.as_str_name())
    .bind(comment)
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    Ok(now)
}

// ------------------------------------------------------------ expenditure

#[derive(Debug, Clone)]
pub struct ExpenditureRow {
    pub id: String,
    pub award_id: String,
    pub fields: ExpenditureFields,
    pub state: ReportState,
    pub review_comment: String,
    pub submitted_by: String,
    pub reviewed_by: String,
    pub submitted_at: i64,
    pub reviewed_at: i64,
}

pub async fn insert_expenditure(tx: &mut Tx, e: &ExpenditureRow) -> Result<()> {
    let f = &e.fields;
    sqlx::query(
        "INSERT INTO expenditure_reports (tenant_id, id, award_id, period_start, period_end,
            state, review_comment, submitted_by, reviewed_by, submitted_at, reviewed_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', $7, '', $8, 0)",
    )
    .bind(tx.tenant())
    .bind(&e.id)
    .bind(&e.award_id)
    .bind(f.period_start.to_string())
    .bind(f.period_end.to_string())
    .bind(e.state.as_str_name())
    .bind(&e.submitted_by)
    .bind(e.submitted_at)
    .execute(tx.conn())
    .await?;
    for (i, (line, amount, note)) in f.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO expenditure_lines (tenant_id, report_id, ordinal, line_number, currency,
                amount_minor, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tx.tenant())
        .bind(&e.id)
        .bind(i as i64)
        .bind(i64::from(*line))
        .bind(amount.currency().code())
        .bind(amount.minor_units())
        .bind(note)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

macro_rules! expenditure_columns {
    () => {
        "id, award_id, period_start, period_end, state, review_comment, submitted_by, \
         reviewed_by, submitted_at, reviewed_at"
    };
}

/// An expenditure report's own row; [`with_expenditure_lines`] adds its lines.
fn expenditure_head(r: &AnyRow) -> Result<ExpenditureRow> {
    Ok(ExpenditureRow {
        id: text(r, "id")?,
        award_id: text(r, "award_id")?,
        fields: ExpenditureFields {
            period_start: required_date(r, "period_start")?,
            period_end: required_date(r, "period_end")?,
            lines: Vec::new(),
        },
        state: named(&text(r, "state")?, ReportState::from_str_name)?,
        review_comment: text(r, "review_comment")?,
        submitted_by: text(r, "submitted_by")?,
        reviewed_by: text(r, "reviewed_by")?,
        submitted_at: int(r, "submitted_at")?,
        reviewed_at: int(r, "reviewed_at")?,
    })
}

async fn with_expenditure_lines(tx: &mut Tx, mut e: ExpenditureRow) -> Result<ExpenditureRow> {
    e.fields.lines = sqlx::query(
        "SELECT line_number, currency, amount_minor, note FROM expenditure_lines
         WHERE tenant_id = $1 AND report_id = $2 ORDER BY ordinal",
    )
    .bind(tx.tenant())
    .bind(&e.id)
    .fetch_all(tx.conn())
    .await?
    .iter()
    .map(|l| {
        Ok((
            int(l, "line_number")? as i32,
            money_of(l, "currency", "amount_minor")?,
            text(l, "note")?,
        ))
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(e)
}

pub async fn get_expenditure(tx: &mut Tx, id: &str) -> Result<Option<ExpenditureRow>> {
    let sql = concat!(
        "SELECT ",
        expenditure_columns!(),
        " FROM expenditure_reports WHERE tenant_id = $1 AND id = $2"
    );
    match tx.find(sql, id, expenditure_head).await? {
        Some(e) => Ok(Some(with_expenditure_lines(tx, e).await?)),
        None => Ok(None),
    }
}

pub async fn list_expenditures(
    tx: &mut Tx,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ExpenditureRow>> {
    let rows = rows_of_award(
        tx,
        "expenditure_reports",
        expenditure_columns!(),
        award_id,
        after,
        limit,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(with_expenditure_lines(tx, expenditure_head(r)?).await?);
    }
    Ok(out)
}

// ------------------------------------------------------------- variations

#[derive(Debug, Clone)]
pub struct VariationRow {
    pub id: String,
    pub award_id: String,
    pub fields: VariationFields,
    pub state: VariationState,
    pub decision_note: String,
    pub requested_by: String,
    pub decided_by: String,
    pub created_at: i64,
    pub decided_at: i64,
}

pub async fn insert_variation(tx: &mut Tx, v: &VariationRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO variations (tenant_id, id, award_id, justification, new_end_date, state,
            decision_note, requested_by, decided_by, created_at, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', $7, '', $8, 0)",
    )
    .bind(tx.tenant())
    .bind(&v.id)
    .bind(&v.award_id)
    .bind(&v.fields.justification)
    .bind(date_text(v.fields.new_end_date))
    .bind(v.state.as_str_name())
    .bind(&v.requested_by)
    .bind(v.created_at)
    .execute(tx.conn())
    .await?;
    write_budget_lines(
        tx,
        "variation_lines",
        "variation_id",
        &v.id,
        &v.fields.budget,
    )
    .await
}

macro_rules! variation_columns {
    () => {
        "id, award_id, justification, new_end_date, state, decision_note, requested_by, \
         decided_by, created_at, decided_at"
    };
}

/// A variation's own row; [`with_variation_lines`] adds its budget.
fn variation_head(r: &AnyRow) -> Result<VariationRow> {
    Ok(VariationRow {
        fields: VariationFields {
            justification: text(r, "justification")?,
            budget: Vec::new(),
            new_end_date: optional_date(r, "new_end_date")?,
        },
        id: text(r, "id")?,
        award_id: text(r, "award_id")?,
        state: named(&text(r, "state")?, VariationState::from_str_name)?,
        decision_note: text(r, "decision_note")?,
        requested_by: text(r, "requested_by")?,
        decided_by: text(r, "decided_by")?,
        created_at: int(r, "created_at")?,
        decided_at: int(r, "decided_at")?,
    })
}

async fn with_variation_lines(tx: &mut Tx, mut v: VariationRow) -> Result<VariationRow> {
    v.fields.budget = budget_lines(tx, "variation_lines", "variation_id", &v.id).await?;
    Ok(v)
}

pub async fn get_variation(tx: &mut Tx, id: &str) -> Result<Option<VariationRow>> {
    let sql = concat!(
        "SELECT ",
        variation_columns!(),
        " FROM variations WHERE tenant_id = $1 AND id = $2"
    );
    match tx.find(sql, id, variation_head).await? {
        Some(v) => Ok(Some(with_variation_lines(tx, v).await?)),
        None => Ok(None),
    }
}

pub async fn list_variations(
    tx: &mut Tx,
    award_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<VariationRow>> {
    let rows = rows_of_award(
        tx,
        "variations",
        variation_columns!(),
        award_id,
        after,
        limit,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(with_variation_lines(tx, variation_head(r)?).await?);
    }
    Ok(out)
}

pub async fn has_pending_variation(tx: &mut Tx, award_id: &str) -> Result<bool> {
    let found = tx
        .find(
            "SELECT 1 AS one FROM variations WHERE tenant_id = $1 AND award_id = $2
               AND state = 'VARIATION_STATE_PENDING' LIMIT 1",
            award_id,
            |_| Ok(()),
        )
        .await?;
    Ok(found.is_some())
}

pub async fn decide_variation(
    tx: &mut Tx,
    id: &str,
    to: VariationState,
    note: &str,
    by: &str,
) -> Result<i64> {
    let now = now_micros();
    let rows = sqlx::query(
        "UPDATE variations SET state = $3, decision_note = $4, decided_by = $5, decided_at = $6
         WHERE tenant_id = $1 AND id = $2 AND state = 'VARIATION_STATE_PENDING'",
    )
    .bind(tx.tenant())
    .bind(id)
    .bind(to.as_str_name())
    .bind(note)
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    changed(rows)?;
    Ok(now)
}
