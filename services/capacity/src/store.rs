//! Capacity building's SQL: one implementation for PostgreSQL and SQLite.
//!
//! Every query of tenant data names `tenant_id = $1`, bound from the
//! transaction's tenant (the caller's token, or the event's tenant), never
//! from a request body. Enumerations are stored by their protobuf names,
//! flags as 0/1, and sums are made in Rust (PostgreSQL's SUM of a BIGINT is
//! a NUMERIC, which the `Any` driver cannot read).

use std::collections::HashMap;

use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::time::{Date, now_micros};
use markaz_proto::capacity::v1::{
    AdvisorKind, AttendanceStatus, Audience, ConsultationKind, CourseKind, CourseStatus,
    EnrolmentStatus, SuggestionStatus, TestKind,
};
use markaz_proto::common::v1::{
    AgeBand, CapacityDomain, Gender, IncubationStatus, LocalizedText, OrganizationKind,
};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::domain::{
    ActionSpec, BUILT_IN_TOPICS, CompletionRule, ConsultationFields, CourseFields, Mark,
    SuggestionFields, TopicFields, TrainerSpec,
};

/// Maps a stored enumeration name back to its value.
fn named<E>(value: &str, parse: fn(&str) -> Option<E>) -> Result<E> {
    parse(value).ok_or_else(|| Error::internal(format!("unknown stored value '{value}'")))
}

fn date_text(d: Option<Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn stored_date(r: &AnyRow, column: &str) -> Result<Date> {
    let text: String = r.try_get(column)?;
    Date::parse(&text).ok_or_else(|| Error::internal(format!("stored {column} is not a date")))
}

fn optional_date(r: &AnyRow, column: &str) -> Result<Option<Date>> {
    Ok(Date::parse(&r.try_get::<String, _>(column)?))
}

/// `",a,b,"`, so that `LIKE '%,a,%'` finds a code ("" for none). Codes are
/// slugs: no commas, no LIKE wildcards.
fn codes_text(codes: &[String]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        format!(",{},", codes.join(","))
    }
}

fn codes_of(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The `LIKE` pattern that finds `code` in a [`codes_text`] column.
pub fn code_pattern(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!("%,{code},%")
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Runs `sql`, whose `$1` is the tenant and whose `{ids}` stands for the
/// list `ids` (bound as `$2, $3, ...`): the rows of many objects at once.
async fn fetch_for_ids(tx: &mut Tx, sql: &str, ids: &[String]) -> Result<Vec<AnyRow>> {
    let list = (2..ids.len() + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut q =
        sqlx::query(AssertSqlSafe(sql.replace("{ids}", &list))).bind(tx.tenant().to_owned());
    for id in ids {
        q = q.bind(id);
    }
    Ok(q.fetch_all(tx.conn()).await?)
}

// ----------------------------------------------------------------- tenants

/// Remembers that the transaction's tenant exists (staff work in it, or
/// membership published for it).
/// Records the tenant as known here; true when this inserted its row.
pub async fn touch_tenant(tx: &mut Tx) -> Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO known_tenants (tenant_id, seen_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(now_micros())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

pub async fn tenant_known(tx: &mut Tx) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM known_tenants WHERE tenant_id = $1")
        .bind(tx.tenant().to_owned())
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.is_some())
}

// ---------------------------------------------------- copies of membership

#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationCopy {
    pub id: String,
    pub kind: OrganizationKind,
    pub name: LocalizedText,
    pub branch_id: String,
    pub incubation_status: IncubationStatus,
    pub version: i64,
    /// False while only an incubation change is known.
    pub complete: bool,
}

fn organization_row(r: &AnyRow) -> Result<OrganizationCopy> {
    Ok(OrganizationCopy {
        id: r.try_get("id")?,
        kind: named(
            &r.try_get::<String, _>("kind")?,
            OrganizationKind::from_str_name,
        )?,
        name: LocalizedText {
            ar: r.try_get("name_ar")?,
            en: r.try_get("name_en")?,
        },
        branch_id: r.try_get("branch_id")?,
        incubation_status: named(
            &r.try_get::<String, _>("incubation_status")?,
            IncubationStatus::from_str_name,
        )?,
        version: r.try_get("version")?,
        complete: r.try_get::<i64, _>("complete")? != 0,
    })
}

pub async fn get_organization(tx: &mut Tx, id: &str) -> Result<Option<OrganizationCopy>> {
    tx.find(
        "SELECT id, kind, name_ar, name_en, branch_id, incubation_status, version, complete
         FROM organizations WHERE tenant_id = $1 AND id = $2",
        id,
        organization_row,
    )
    .await
}

/// Applies an organization snapshot: a newer one replaces the copy; an older
/// one only fills in the names a bare incubation change left empty.
pub async fn apply_organization(tx: &mut Tx, o: &OrganizationCopy) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    let now = now_micros();
    match get_organization(tx, &o.id).await? {
        None => {
            sqlx::query(
                "INSERT INTO organizations (tenant_id, id, kind, name_ar, name_en, branch_id,
                    incubation_status, version, complete, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9)",
            )
            .bind(&tenant)
            .bind(&o.id)
            .bind(o.kind.as_str_name())
            .bind(&o.name.ar)
            .bind(&o.name.en)
            .bind(&o.branch_id)
            .bind(o.incubation_status.as_str_name())
            .bind(o.version)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Some(current) if current.version < o.version => {
            sqlx::query(
                "UPDATE organizations SET kind = $3, name_ar = $4, name_en = $5, branch_id = $6,
                    incubation_status = $7, version = $8, complete = 1, updated_at = $9
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(&tenant)
            .bind(&o.id)
            .bind(o.kind.as_str_name())
            .bind(&o.name.ar)
            .bind(&o.name.en)
            .bind(&o.branch_id)
            .bind(o.incubation_status.as_str_name())
            .bind(o.version)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Some(current) if !current.complete => {
            sqlx::query(
                "UPDATE organizations SET kind = $3, name_ar = $4, name_en = $5, branch_id = $6,
                    complete = 1, updated_at = $7
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(&tenant)
            .bind(&o.id)
            .bind(o.kind.as_str_name())
            .bind(&o.name.ar)
            .bind(&o.name.en)
            .bind(&o.branch_id)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Applies an incubation change made at `version`, unless the copy is newer.
pub async fn apply_incubation(
    tx: &mut Tx,
    organization_id: &str,
    status: IncubationStatus,
    version: i64,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    let now = now_micros();
    match get_organization(tx, organization_id).await? {
        None => {
            sqlx::query(
                "INSERT INTO organizations (tenant_id, id, kind, name_ar, name_en, branch_id,
                    incubation_status, version, complete, updated_at)
                 VALUES ($1, $2, $3, '', '', '', $4, $5, 0, $6)",
            )
            .bind(&tenant)
            .bind(organization_id)
            .bind(OrganizationKind::Unspecified.as_str_name())
            .bind(status.as_str_name())
            .bind(version)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Some(current) if current.version < version => {
            sqlx::query(
                "UPDATE organizations SET incubation_status = $3, version = $4, updated_at = $5
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(&tenant)
            .bind(organization_id)
            .bind(status.as_str_name())
            .bind(version)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Some(_) => {}
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonCopy {
    pub id: String,
    pub full_name: String,
    pub gender: Gender,
    pub age_band: AgeBand,
    pub branch_id: String,
    pub version: i64,
    pub erased: bool,
}

fn person_row(r: &AnyRow) -> Result<PersonCopy> {
    Ok(PersonCopy {
        id: r.try_get("id")?,
        full_name: r.try_get("full_name")?,
        gender: named(&r.try_get::<String, _>("gender")?, Gender::from_str_name)?,
        age_band: named(&r.try_get::<String, _>("age_band")?, AgeBand::from_str_name)?,
        branch_id: r.try_get("branch_id")?,
        version: r.try_get("version")?,
        erased: r.try_get::<i64, _>("erased")? != 0,
    })
}

pub async fn get_person(tx: &mut Tx, id: &str) -> Result<Option<PersonCopy>> {
    tx.find(
        "SELECT id, full_name, gender, age_band, branch_id, version, erased
         FROM people WHERE tenant_id = $1 AND id = $2",
        id,
        person_row,
    )
    .await
}

/// Applies a person snapshot if it is newer than the copy. An erased person
/// never gets a name back, whatever arrives late.
pub async fn apply_person(tx: &mut Tx, p: &PersonCopy) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    let now = now_micros();
    match get_person(tx, &p.id).await? {
        None => {
            sqlx::query(
                "INSERT INTO people (tenant_id, id, full_name, gender, age_band, branch_id,
                    version, erased, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)",
            )
            .bind(&tenant)
            .bind(&p.id)
            .bind(&p.full_name)
            .bind(p.gender.as_str_name())
            .bind(p.age_band.as_str_name())
            .bind(&p.branch_id)
            .bind(p.version)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Some(current) if current.version < p.version => {
            sqlx::query(
                "UPDATE people SET full_name = CASE WHEN erased = 1 THEN '' ELSE $3 END,
                    gender = $4, age_band = $5, branch_id = $6, version = $7, updated_at = $8
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(&tenant)
            .bind(&p.id)
            .bind(&p.full_name)
            .bind(p.gender.as_str_name())
            .bind(p.age_band.as_str_name())
            .bind(&p.branch_id)
            .bind(p.version)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Pseudonymizes the copy of a person: the name goes, gender and age band
/// stay. An erasure that arrives before the person leaves a tombstone.
pub async fn erase_person(tx: &mut Tx, person_id: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO people (tenant_id, id, full_name, gender, age_band, branch_id, version,
            erased, updated_at)
         VALUES ($1, $2, '', $3, $4, '', 0, 1, $5)
         ON CONFLICT (tenant_id, id) DO UPDATE SET full_name = '', erased = 1, updated_at = $5",
    )
    .bind(tx.tenant().to_owned())
    .bind(person_id)
    .bind(Gender::Unspecified.as_str_name())
    .bind(AgeBand::Unspecified.as_str_name())
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn apply_affiliation(
    tx: &mut Tx,
    id: &str,
    person_id: &str,
    organization_id: &str,
    ended: bool,
) -> Result<()> {
    // An end that arrived first stays an end.
    sqlx::query(
        "INSERT INTO affiliations (tenant_id, id, person_id, organization_id, ended)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, id) DO UPDATE SET ended = CASE
             WHEN affiliations.ended = 1 THEN 1 ELSE excluded.ended END",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(person_id)
    .bind(organization_id)
    .bind(flag(ended))
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn is_affiliated(tx: &mut Tx, person_id: &str, organization_id: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM affiliations WHERE tenant_id = $1 AND person_id = $2
           AND organization_id = $3 AND ended = 0",
    )
    .bind(tx.tenant().to_owned())
    .bind(person_id)
    .bind(organization_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentCopy {
    pub assessment_id: String,
    pub assessed_on: Date,
    pub scores: Vec<(CapacityDomain, i32)>,
}

/// Keeps the assessment if it is the organization's latest (by date, then
/// by id for two on one day).
pub async fn apply_assessment(
    tx: &mut Tx,
    organization_id: &str,
    a: &AssessmentCopy,
) -> Result<()> {
    let scores = a
        .scores
        .iter()
        .map(|(d, s)| format!("{}:{s}", d.as_str_name()))
        .collect::<Vec<_>>()
        .join(",");
    sqlx::query(
        "INSERT INTO assessments (tenant_id, organization_id, assessment_id, assessed_on, scores,
            received_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, organization_id) DO UPDATE SET
            assessment_id = excluded.assessment_id, assessed_on = excluded.assessed_on,
            scores = excluded.scores, received_at = excluded.received_at
         WHERE assessments.assessed_on < excluded.assessed_on
            OR (assessments.assessed_on = excluded.assessed_on
                AND assessments.assessment_id < excluded.assessment_id)",
    )
    .bind(tx.tenant().to_owned())
    .bind(organization_id)
    .bind(&a.assessment_id)
    .bind(a.assessed_on.to_string())
    .bind(scores)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn latest_assessment(
    tx: &mut Tx,
    organization_id: &str,
) -> Result<Option<AssessmentCopy>> {
    tx.find(
        "SELECT assessment_id, assessed_on, scores FROM assessments
         WHERE tenant_id = $1 AND organization_id = $2",
        organization_id,
        assessment_row,
    )
    .await
}

fn assessment_row(r: &AnyRow) -> Result<AssessmentCopy> {
    let text: String = r.try_get("scores")?;
    let mut scores = Vec::new();
    for part in text.split(',').filter(|s| !s.is_empty()) {
        let (domain, score) = part
            .split_once(':')
            .ok_or_else(|| Error::internal("stored scores are malformed"))?;
        let score = score
            .parse()
            .map_err(|_| Error::internal("stored score is not a number"))?;
        scores.push((named(domain, CapacityDomain::from_str_name)?, score));
    }
    Ok(AssessmentCopy {
        assessment_id: r.try_get("assessment_id")?,
        assessed_on: stored_date(r, "assessed_on")?,
        scores,
    })
}

// ------------------------------------------------------------------ topics

#[derive(Debug, Clone, PartialEq)]
pub struct TopicRow {
    pub code: String,
    pub fields: TopicFields,
    pub built_in: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns [`topic_row`] reads, as a literal so that queries built with
/// `concat!` stay `&'static str` (as [`Tx::find`] takes them).
macro_rules! topic_columns {
    () => {
        "code, name_ar, name_en, description_ar, description_en, \
     capacity_domains, built_in, archived, version, created_at, updated_at"
    };
}

fn topic_row(r: &AnyRow) -> Result<TopicRow> {
    let domains: String = r.try_get("capacity_domains")?;
    Ok(TopicRow {
        code: r.try_get("code")?,
        fields: TopicFields {
            name: LocalizedText {
                ar: r.try_get("name_ar")?,
                en: r.try_get("name_en")?,
            },
            description: LocalizedText {
                ar: r.try_get("description_ar")?,
                en: r.try_get("description_en")?,
            },
            domains: domains
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|d| named(d, CapacityDomain::from_str_name))
                .collect::<Result<_>>()?,
            archived: r.try_get::<i64, _>("archived")? != 0,
        },
        built_in: r.try_get::<i64, _>("built_in")? != 0,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn domains_text(domains: &[CapacityDomain]) -> String {
    domains
        .iter()
        .map(|d| d.as_str_name())
        .collect::<Vec<_>>()
        .join(",")
}

async fn insert_topic_row(tx: &mut Tx, code: &str, f: &TopicFields, built_in: bool) -> Result<u64> {
    let now = now_micros();
    Ok(sqlx::query(
        "INSERT INTO topics (tenant_id, code, name_ar, name_en, description_ar, description_en,
            capacity_domains, built_in, archived, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) ON CONFLICT DO NOTHING",
    )
    .bind(tx.tenant().to_owned())
    .bind(code)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(domains_text(&f.domains))
    .bind(flag(built_in))
    .bind(flag(f.archived))
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Puts the eight built-in topics in the tenant's catalogue, once: a topic
/// staff renamed or archived stays as they left it.
pub async fn seed_topics(tx: &mut Tx) -> Result<()> {
    for t in BUILT_IN_TOPICS {
        insert_topic_row(tx, t.code, &t.fields(), true).await?;
    }
    touch_tenant(tx).await?;
    Ok(())
}

pub async fn insert_topic(tx: &mut Tx, code: &str, f: &TopicFields) -> Result<TopicRow> {
    if insert_topic_row(tx, code, f, false).await? == 0 {
        return Err(Error::AlreadyExists(format!("topic '{code}' exists")));
    }
    get_topic(tx, code)
        .await?
        .ok_or_else(|| Error::internal("the topic just created is gone"))
}

pub async fn get_topic(tx: &mut Tx, code: &str) -> Result<Option<TopicRow>> {
    tx.find(
        concat!(
            "SELECT ",
            topic_columns!(),
            " FROM topics WHERE tenant_id = $1 AND code = $2"
        ),
        code,
        topic_row,
    )
    .await
}

pub async fn list_topics(
    tx: &mut Tx,
    include_archived: bool,
    after: &str,
    limit: i64,
) -> Result<Vec<TopicRow>> {
    let sql = concat!(
        "SELECT ",
        topic_columns!(),
        " FROM topics
         WHERE tenant_id = $1 AND code > $2 AND ($3 = 1 OR archived = 0)
         ORDER BY code LIMIT $4"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(after)
        .bind(flag(include_archived))
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(topic_row).collect()
}

/// The whole catalogue by code (it is small).
pub async fn catalogue(tx: &mut Tx) -> Result<HashMap<String, TopicRow>> {
    Ok(list_topics(tx, true, "", 100_000)
        .await?
        .into_iter()
        .map(|t| (t.code.clone(), t))
        .collect())
}

pub async fn update_topic(tx: &mut Tx, current: &TopicRow, f: &TopicFields) -> Result<TopicRow> {
    let now = now_micros();
    let changed = sqlx::query(
        "UPDATE topics SET name_ar = $3, name_en = $4, description_ar = $5, description_en = $6,
            capacity_domains = $7, archived = $8, version = version + 1, updated_at = $9
         WHERE tenant_id = $1 AND code = $2 AND version = $10",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.code)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(domains_text(&f.domains))
    .bind(flag(f.archived))
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::stale_etag());
    }
    Ok(TopicRow {
        fields: f.clone(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

// ----------------------------------------------------------------- courses

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: String,
    pub number: i32,
    pub date: Date,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CourseRow {
    pub id: String,
    pub fields: CourseFields,
    pub sessions: Vec<SessionRow>,
    pub status: CourseStatus,
    pub cancel_reason: String,
    pub enrolled: i64,
    pub waitlisted: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns of `courses` [`courses_of`] reads, as a literal (see
/// [`topic_columns`]).
macro_rules! course_columns {
    () => {
        "id, kind, title_ar, title_en, description_ar, description_en, \
     topic_codes, branch_id, venue, capacity, audience, status, min_attendance_percent, \
     min_post_test_score, cancel_reason, version, created_at, updated_at"
    };
}

/// Session ids for `dates`: a date the course had keeps its session's id.
pub fn session_ids(current: &[SessionRow], dates: &[Date]) -> Vec<SessionRow> {
    dates
        .iter()
        .enumerate()
        .map(|(i, d)| SessionRow {
            id: current
                .iter()
                .find(|s| s.date == *d)
                .map(|s| s.id.clone())
                .unwrap_or_else(new_id),
            number: i as i32 + 1,
            date: *d,
        })
        .collect()
}

pub async fn insert_course(tx: &mut Tx, id: &str, f: &CourseFields) -> Result<CourseRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO courses (tenant_id, id, kind, title_ar, title_en, description_ar,
            description_en, topic_codes, branch_id, venue, start_date, end_date, capacity,
            audience, status, min_attendance_percent, min_post_test_score, cancel_reason,
            serial, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, '',
            0, 1, $18, $18)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(f.kind.as_str_name())
    .bind(&f.title.ar)
    .bind(&f.title.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(codes_text(&f.topic_codes))
    .bind(&f.branch_id)
    .bind(&f.venue)
    .bind(f.start().to_string())
    .bind(f.end().to_string())
    .bind(i64::from(f.capacity))
    .bind(f.audience.as_str_name())
    .bind(CourseStatus::Planned.as_str_name())
    .bind(i64::from(f.rule.min_attendance_percent))
    .bind(i64::from(f.rule.min_post_test_score))
    .bind(now)
    .execute(tx.conn())
    .await?;
    let sessions = session_ids(&[], &f.sessions);
    write_course_parts(tx, id, f, &sessions).await?;
    Ok(CourseRow {
        id: id.to_string(),
        fields: f.clone(),
        sessions,
        status: CourseStatus::Planned,
        cancel_reason: String::new(),
        enrolled: 0,
        waitlisted: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// Replaces the sessions and trainers of a course.
async fn write_course_parts(
    tx: &mut Tx,
    id: &str,
    f: &CourseFields,
    sessions: &[SessionRow],
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query("DELETE FROM course_sessions WHERE tenant_id = $1 AND course_id = $2")
        .bind(&tenant)
        .bind(id)
        .execute(tx.conn())
        .await?;
    for s in sessions {
        sqlx::query(
            "INSERT INTO course_sessions (tenant_id, id, course_id, number, session_date)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&tenant)
        .bind(&s.id)
        .bind(id)
        .bind(i64::from(s.number))
        .bind(s.date.to_string())
        .execute(tx.conn())
        .await?;
    }
    sqlx::query("DELETE FROM course_trainers WHERE tenant_id = $1 AND course_id = $2")
        .bind(&tenant)
        .bind(id)
        .execute(tx.conn())
        .await?;
    for (ordinal, t) in f.trainers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO course_trainers (tenant_id, course_id, ordinal, name, subject, external)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&tenant)
        .bind(id)
        .bind(ordinal as i64)
        .bind(&t.name)
        .bind(&t.subject)
        .bind(flag(t.external))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Course rows with their sessions, trainers and counts, in the rows' order.
async fn courses_of(tx: &mut Tx, rows: &[AnyRow]) -> Result<Vec<CourseRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;

    let rows_of_sessions = fetch_for_ids(
        tx,
        "SELECT id, course_id, number, session_date FROM course_sessions
         WHERE tenant_id = $1 AND course_id IN ({ids}) ORDER BY course_id, number",
        &ids,
    )
    .await?;
    let mut sessions: HashMap<String, Vec<SessionRow>> = HashMap::new();
    for r in rows_of_sessions {
        sessions
            .entry(r.try_get("course_id")?)
            .or_default()
            .push(SessionRow {
                id: r.try_get("id")?,
                number: r.try_get::<i64, _>("number")? as i32,
                date: stored_date(&r, "session_date")?,
            });
    }

    let rows_of_trainers = fetch_for_ids(
        tx,
        "SELECT course_id, name, subject, external FROM course_trainers
         WHERE tenant_id = $1 AND course_id IN ({ids}) ORDER BY course_id, ordinal",
        &ids,
    )
    .await?;
    let mut trainers: HashMap<String, Vec<TrainerSpec>> = HashMap::new();
    for r in rows_of_trainers {
        trainers
            .entry(r.try_get("course_id")?)
            .or_default()
            .push(TrainerSpec {
                name: r.try_get("name")?,
                subject: r.try_get("subject")?,
                external: r.try_get::<i64, _>("external")? != 0,
            });
    }

    let rows_of_counts = fetch_for_ids(
        tx,
        "SELECT course_id, status, COUNT(*) AS n FROM enrolments
         WHERE tenant_id = $1 AND course_id IN ({ids}) GROUP BY course_id, status",
        &ids,
    )
    .await?;
    let mut counts: HashMap<(String, String), i64> = HashMap::new();
    for r in rows_of_counts {
        counts.insert(
            (r.try_get("course_id")?, r.try_get("status")?),
            r.try_get("n")?,
        );
    }
    let count = |id: &str, s: EnrolmentStatus| {
        counts
            .get(&(id.to_string(), s.as_str_name().to_string()))
            .copied()
            .unwrap_or(0)
    };

    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let sessions = sessions.remove(&id).unwrap_or_default();
        let fields = CourseFields {
            kind: named(&r.try_get::<String, _>("kind")?, CourseKind::from_str_name)?,
            title: LocalizedText {
                ar: r.try_get("title_ar")?,
                en: r.try_get("title_en")?,
            },
            description: LocalizedText {
                ar: r.try_get("description_ar")?,
                en: r.try_get("description_en")?,
            },
            topic_codes: codes_of(&r.try_get::<String, _>("topic_codes")?),
            branch_id: r.try_get("branch_id")?,
            venue: r.try_get("venue")?,
            sessions: sessions.iter().map(|s| s.date).collect(),
            capacity: r.try_get::<i64, _>("capacity")? as i32,
            trainers: trainers.remove(&id).unwrap_or_default(),
            audience: named(
                &r.try_get::<String, _>("audience")?,
                Audience::from_str_name,
            )?,
            rule: CompletionRule {
                min_attendance_percent: r.try_get::<i64, _>("min_attendance_percent")? as i32,
                min_post_test_score: r.try_get::<i64, _>("min_post_test_score")? as i32,
            },
        };
        if fields.sessions.is_empty() {
            return Err(Error::internal(format!("course {id} has no sessions")));
        }
        out.push(CourseRow {
            enrolled: count(&id, EnrolmentStatus::Enrolled),
            waitlisted: count(&id, EnrolmentStatus::Waitlisted),
            id,
            fields,
            sessions,
            status: named(
                &r.try_get::<String, _>("status")?,
                CourseStatus::from_str_name,
            )?,
            cancel_reason: r.try_get("cancel_reason")?,
            version: r.try_get("version")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        });
    }
    Ok(out)
}

pub async fn get_course(tx: &mut Tx, id: &str) -> Result<Option<CourseRow>> {
    let Some(row) = tx
        .find(
            concat!(
                "SELECT ",
                course_columns!(),
                " FROM courses WHERE tenant_id = $1 AND id = $2"
            ),
            id,
            |r| Ok(r.clone()),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(courses_of(tx, &[row]).await?.pop())
}

/// Filters of [`list_courses`]; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct CourseFilter {
    pub status: String,
    pub kind: String,
    pub branch_id: String,
    /// A [`code_pattern`], or "".
    pub topic: String,
    pub audience: String,
    pub starts_from: String,
    pub starts_until: String,
    pub trainer_subject: String,
}

pub async fn list_courses(
    tx: &mut Tx,
    filter: &CourseFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<CourseRow>> {
    let sql = concat!(
        "SELECT ",
        course_columns!(),
        " FROM courses c
         WHERE c.tenant_id = $1 AND c.id > $2
           AND ($3 = '' OR c.status = $3)
           AND ($4 = '' OR c.kind = $4)
           AND ($5 = '' OR c.branch_id = $5)
           AND ($6 = '' OR c.topic_codes LIKE $6)
           AND ($7 = '' OR c.audience = $7)
           AND ($8 = '' OR c.start_date >= $8)
           AND ($9 = '' OR c.start_date <= $9)
           AND ($10 = '' OR EXISTS (SELECT 1 FROM course_trainers t
                 WHERE t.tenant_id = c.tenant_id AND t.course_id = c.id AND t.subject = $10))
         ORDER BY c.id LIMIT $11"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(after)
        .bind(&filter.status)
        .bind(&filter.kind)
        .bind(&filter.branch_id)
        .bind(&filter.topic)
        .bind(&filter.audience)
        .bind(&filter.starts_from)
        .bind(&filter.starts_until)
        .bind(&filter.trainer_subject)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    courses_of(tx, &rows).await
}

/// Replaces the settable fields; the caller checked the version.
pub async fn update_course(
    tx: &mut Tx,
    current: &CourseRow,
    f: &CourseFields,
) -> Result<CourseRow> {
    let now = now_micros();
    let changed = sqlx::query(
        "UPDATE courses SET kind = $3, title_ar = $4, title_en = $5, description_ar = $6,
            description_en = $7, topic_codes = $8, branch_id = $9, venue = $10,
            start_date = $11, end_date = $12, capacity = $13, audience = $14,
            min_attendance_percent = $15, min_post_test_score = $16,
            version = version + 1, updated_at = $17
         WHERE tenant_id = $1 AND id = $2 AND version = $18",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(f.kind.as_str_name())
    .bind(&f.title.ar)
    .bind(&f.title.en)
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(codes_text(&f.topic_codes))
    .bind(&f.branch_id)
    .bind(&f.venue)
    .bind(f.start().to_string())
    .bind(f.end().to_string())
    .bind(i64::from(f.capacity))
    .bind(f.audience.as_str_name())
    .bind(i64::from(f.rule.min_attendance_percent))
    .bind(i64::from(f.rule.min_post_test_score))
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::stale_etag());
    }
    let sessions = session_ids(&current.sessions, &f.sessions);
    write_course_parts(tx, &current.id, f, &sessions).await?;
    Ok(CourseRow {
        fields: f.clone(),
        sessions,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// Moves the course to `to`; the caller checked the transition.
pub async fn set_course_status(
    tx: &mut Tx,
    current: &CourseRow,
    to: CourseStatus,
    cancel_reason: &str,
) -> Result<CourseRow> {
    let now = now_micros();
    let changed = sqlx::query(
        "UPDATE courses SET status = $3, cancel_reason = $4, version = version + 1,
            updated_at = $5
         WHERE tenant_id = $1 AND id = $2 AND version = $6",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(to.as_str_name())
    .bind(cancel_reason)
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::stale_etag());
    }
    Ok(CourseRow {
        status: to,
        cancel_reason: cancel_reason.to_string(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// What [`lock_course`] reads while it holds the course's row lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// This writer's turn: orders the waiting list.
    pub serial: i64,
    pub status: CourseStatus,
    pub capacity: i32,
    pub audience: Audience,
}

/// Serializes the writers of one course: the UPDATE takes the row lock on
/// PostgreSQL (SQLite has a single writer anyway) until the transaction
/// ends, and returns the course's state as of now.
pub async fn lock_course(tx: &mut Tx, id: &str) -> Result<Option<Locked>> {
    let row = sqlx::query(
        "UPDATE courses SET serial = serial + 1 WHERE tenant_id = $1 AND id = $2
         RETURNING serial, status, capacity, audience",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| {
        Ok(Locked {
            serial: r.try_get("serial")?,
            status: named(
                &r.try_get::<String, _>("status")?,
                CourseStatus::from_str_name,
            )?,
            capacity: r.try_get::<i64, _>("capacity")? as i32,
            audience: named(
                &r.try_get::<String, _>("audience")?,
                Audience::from_str_name,
            )?,
        })
    })
    .transpose()
}

pub async fn is_trainer(tx: &mut Tx, course_id: &str, subject: &str) -> Result<bool> {
    if subject.is_empty() {
        return Ok(false);
    }
    let row = sqlx::query(
        "SELECT 1 AS one FROM course_trainers WHERE tenant_id = $1 AND course_id = $2
           AND subject = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id)
    .bind(subject)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}

// -------------------------------------------------------------- enrolments

#[derive(Debug, Clone, PartialEq)]
pub struct EnrolmentRow {
    pub id: String,
    pub course_id: String,
    pub person_id: String,
    pub organization_id: String,
    pub status: EnrolmentStatus,
    pub queue_seq: i64,
    pub gender: Gender,
    pub age_band: AgeBand,
    pub completed: bool,
    pub pre_score: Option<i32>,
    pub post_score: Option<i32>,
    pub cancel_reason: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// From the copy of the person ("" once erased).
    pub participant_name: String,
    pub sessions_present: i64,
    pub certificate_code: String,
    /// 1 for the first in line; 0 when not waiting.
    pub waitlist_position: i64,
}

/// The SELECT [`enrolment_row`] reads, as a literal (see [`topic_columns`]).
macro_rules! enrolment_select {
    () => {
        "SELECT e.id, e.course_id, e.person_id, e.organization_id,
        e.status, e.queue_seq, e.gender, e.age_band, e.completed, e.pre_score, e.post_score,
        e.cancel_reason, e.created_at, e.updated_at,
        COALESCE(p.full_name, '') AS participant_name,
        (SELECT COUNT(*) FROM attendance a WHERE a.tenant_id = e.tenant_id
            AND a.enrolment_id = e.id AND a.status = 'ATTENDANCE_STATUS_PRESENT')
            AS sessions_present,
        COALESCE((SELECT MAX(c.code) FROM certificates c WHERE c.tenant_id = e.tenant_id
            AND c.enrolment_id = e.id AND c.revoked_at IS NULL), '') AS certificate_code,
        CASE WHEN e.status = 'ENROLMENT_STATUS_WAITLISTED' THEN
            (SELECT COUNT(*) FROM enrolments w WHERE w.tenant_id = e.tenant_id
                AND w.course_id = e.course_id AND w.status = 'ENROLMENT_STATUS_WAITLISTED'
                AND w.queue_seq <= e.queue_seq)
            ELSE 0 END AS waitlist_position
     FROM enrolments e
     LEFT JOIN people p ON p.tenant_id = e.tenant_id AND p.id = e.person_id"
    };
}

fn enrolment_row(r: &AnyRow) -> Result<EnrolmentRow> {
    Ok(EnrolmentRow {
        id: r.try_get("id")?,
        course_id: r.try_get("course_id")?,
        person_id: r.try_get("person_id")?,
        organization_id: r.try_get("organization_id")?,
        status: named(
            &r.try_get::<String, _>("status")?,
            EnrolmentStatus::from_str_name,
        )?,
        queue_seq: r.try_get("queue_seq")?,
        gender: named(&r.try_get::<String, _>("gender")?, Gender::from_str_name)?,
        age_band: named(&r.try_get::<String, _>("age_band")?, AgeBand::from_str_name)?,
        completed: r.try_get::<i64, _>("completed")? != 0,
        pre_score: r.try_get::<Option<i64>, _>("pre_score")?.map(|s| s as i32),
        post_score: r.try_get::<Option<i64>, _>("post_score")?.map(|s| s as i32),
        cancel_reason: r.try_get("cancel_reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        participant_name: r.try_get("participant_name")?,
        sessions_present: r.try_get("sessions_present")?,
        certificate_code: r.try_get("certificate_code")?,
        waitlist_position: r.try_get("waitlist_position")?,
    })
}

/// A new enrolment, as the API decided it.
#[derive(Debug, Clone)]
pub struct NewEnrolment<'a> {
    pub id: &'a str,
    pub course_id: &'a str,
    pub person: &'a PersonCopy,
    pub organization_id: &'a str,
    pub status: EnrolmentStatus,
    pub queue_seq: i64,
    pub enrolled_by: &'a str,
}

pub async fn insert_enrolment(tx: &mut Tx, e: &NewEnrolment<'_>) -> Result<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO enrolments (tenant_id, id, course_id, person_id, organization_id, status,
            queue_seq, gender, age_band, completed, pre_score, post_score, cancel_reason,
            enrolled_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, NULL, '', $10, $11, $11)",
    )
    .bind(tx.tenant().to_owned())
    .bind(e.id)
    .bind(e.course_id)
    .bind(&e.person.id)
    .bind(e.organization_id)
    .bind(e.status.as_str_name())
    .bind(e.queue_seq)
    .bind(e.person.gender.as_str_name())
    .bind(e.person.age_band.as_str_name())
    .bind(e.enrolled_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn get_enrolment(tx: &mut Tx, id: &str) -> Result<Option<EnrolmentRow>> {
    tx.find(
        concat!(enrolment_select!(), " WHERE e.tenant_id = $1 AND e.id = $2"),
        id,
        enrolment_row,
    )
    .await
}

/// Filters of [`list_enrolments`]; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct EnrolmentFilter {
    pub course_id: String,
    pub person_id: String,
    pub organization_id: String,
    pub status: String,
    /// Only courses this trainer account trains.
    pub trainer_subject: String,
}

pub async fn list_enrolments(
    tx: &mut Tx,
    filter: &EnrolmentFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<EnrolmentRow>> {
    let sql = concat!(
        enrolment_select!(),
        "
         WHERE e.tenant_id = $1 AND e.id > $2
           AND ($3 = '' OR e.course_id = $3)
           AND ($4 = '' OR e.person_id = $4)
           AND ($5 = '' OR e.organization_id = $5)
           AND ($6 = '' OR e.status = $6)
           AND ($7 = '' OR EXISTS (SELECT 1 FROM course_trainers t
                 WHERE t.tenant_id = e.tenant_id AND t.course_id = e.course_id
                   AND t.subject = $7))
         ORDER BY e.id LIMIT $8"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(after)
        .bind(&filter.course_id)
        .bind(&filter.person_id)
        .bind(&filter.organization_id)
        .bind(&filter.status)
        .bind(&filter.trainer_subject)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(enrolment_row).collect()
}

/// Every enrolment of a course, in queue order.
pub async fn course_enrolments(tx: &mut Tx, course_id: &str) -> Result<Vec<EnrolmentRow>> {
    let sql = concat!(
        enrolment_select!(),
        " WHERE e.tenant_id = $1 AND e.course_id = $2 ORDER BY e.queue_seq"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(course_id)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(enrolment_row).collect()
}

pub async fn count_enrolled(tx: &mut Tx, course_id: &str) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM enrolments WHERE tenant_id = $1 AND course_id = $2 AND status = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id.to_owned())
    .bind(EnrolmentStatus::Enrolled.as_str_name())
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// Whether the person holds a place or waits for one in the course.
pub async fn has_active_enrolment(tx: &mut Tx, course_id: &str, person_id: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM enrolments WHERE tenant_id = $1 AND course_id = $2
           AND person_id = $3 AND status IN ($4, $5)",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id)
    .bind(person_id)
    .bind(EnrolmentStatus::Enrolled.as_str_name())
    .bind(EnrolmentStatus::Waitlisted.as_str_name())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.is_some())
}

/// The first `limit` on the course's waiting list, in order.
pub async fn first_waiting(tx: &mut Tx, course_id: &str, limit: i64) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM enrolments WHERE tenant_id = $1 AND course_id = $2 AND status = $3
         ORDER BY queue_seq LIMIT $4",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id)
    .bind(EnrolmentStatus::Waitlisted.as_str_name())
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| r.try_get("id").map_err(Error::from))
        .collect()
}

pub async fn count_waiting(tx: &mut Tx, course_id: &str) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM enrolments WHERE tenant_id = $1 AND course_id = $2 AND status = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id.to_owned())
    .bind(EnrolmentStatus::Waitlisted.as_str_name())
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

pub async fn set_enrolment_status(
    tx: &mut Tx,
    id: &str,
    status: EnrolmentStatus,
    cancel_reason: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE enrolments SET status = $3, cancel_reason = $4, updated_at = $5
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(status.as_str_name())
    .bind(cancel_reason)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_score(tx: &mut Tx, id: &str, kind: TestKind, score: i32) -> Result<()> {
    let sql = match kind {
        TestKind::Pre => {
            "UPDATE enrolments SET pre_score = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2"
        }
        _ => {
            "UPDATE enrolments SET post_score = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2"
        }
    };
    sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(i64::from(score))
        .bind(now_micros())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_completed(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE enrolments SET completed = 1, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The enrolments of a person, and the sessions they were marked at: the
/// objects whose stored API responses carry the person's name.
pub async fn objects_naming(tx: &mut Tx, person_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT e.id AS id FROM enrolments e WHERE e.tenant_id = $1 AND e.person_id = $2
         UNION
         SELECT a.session_id AS id FROM attendance a
           JOIN enrolments e ON e.tenant_id = a.tenant_id AND e.id = a.enrolment_id
         WHERE a.tenant_id = $1 AND e.person_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(person_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| r.try_get("id").map_err(Error::from))
        .collect()
}

/// Clears the free text staff attached to the person's own records: the
/// notes on their attendance marks (every revision), the reasons their
/// enrolments were cancelled and their certificates revoked. Such text is
/// about the person (often why they were absent: health, family), so it
/// goes whole; statuses, dates and figures stay.
pub async fn clear_notes_about(tx: &mut Tx, person_id: &str) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    for sql in [
        "UPDATE attendance SET note = '' WHERE tenant_id = $1 AND note <> ''
           AND enrolment_id IN (SELECT id FROM enrolments WHERE tenant_id = $1 AND person_id = $2)",
        "UPDATE attendance_revisions SET note = '' WHERE tenant_id = $1 AND note <> ''
           AND enrolment_id IN (SELECT id FROM enrolments WHERE tenant_id = $1 AND person_id = $2)",
        "UPDATE enrolments SET cancel_reason = ''
         WHERE tenant_id = $1 AND person_id = $2 AND cancel_reason <> ''",
        "UPDATE certificates SET revoke_reason = ''
         WHERE tenant_id = $1 AND person_id = $2 AND revoke_reason <> ''",
    ] {
        sqlx::query(sql)
            .bind(&tenant)
            .bind(person_id)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// A table of staff's (or the public's) free text that may name people.
struct FreeText {
    table: &'static str,
    /// The columns that pick one row within the tenant.
    keys: &'static [&'static str],
    texts: &'static [&'static str],
    /// The column naming the object whose stored API answers (idempotent
    /// retries) show this text, if any.
    answered_by: Option<&'static str>,
    /// The versioned table (and the column of this one pointing at its row)
    /// whose etag must change with this text.
    versioned: Option<(&'static str, &'static str)>,
}

const FREE_TEXT: &[FreeText] = &[
    FreeText {
        table: "attendance",
        keys: &["session_id", "enrolment_id"],
        texts: &["note"],
        answered_by: Some("session_id"),
        versioned: None,
    },
    FreeText {
        table: "attendance_revisions",
        keys: &["id"],
        texts: &["note"],
        answered_by: Some("session_id"),
        versioned: None,
    },
    FreeText {
        table: "enrolments",
        keys: &["id"],
        texts: &["cancel_reason"],
        answered_by: None,
        versioned: None,
    },
    FreeText {
        table: "certificates",
        keys: &["id"],
        texts: &["revoke_reason"],
        answered_by: None,
        versioned: None,
    },
    FreeText {
        table: "consultations",
        keys: &["id"],
        texts: &["notes"],
        answered_by: Some("id"),
        versioned: Some(("consultations", "id")),
    },
    FreeText {
        table: "follow_up_actions",
        keys: &["id"],
        texts: &["description", "owner"],
        answered_by: Some("consultation_id"),
        versioned: Some(("consultations", "consultation_id")),
    },
    FreeText {
        table: "suggestions",
        keys: &["id"],
        texts: &["title", "description", "suggested_by"],
        answered_by: None,
        versioned: Some(("suggestions", "id")),
    },
];

/// Replaces each mention of an erased person's `name` in the tenant's free
/// text (see [`crate::domain::scrub_name`]); returns the objects whose
/// stored answers showed the text as it was.
pub async fn scrub_name(tx: &mut Tx, name: &str) -> Result<Vec<String>> {
    let tenant = tx.tenant().to_owned();
    // Both sides go through the database's LOWER (PostgreSQL lowers every
    // letter, SQLite only ASCII ones), so that the filter keeps every row
    // `scrub_name` would change, on either database; `like_pattern` would
    // lower the name in Rust and miss "Ş" on SQLite.
    let mut pattern = String::from("%");
    for c in name.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    let mut answered = Vec::new();
    let mut bumped: Vec<(&str, String)> = Vec::new();
    for f in FREE_TEXT {
        let pointer = f.versioned.map_or("''", |(_, column)| column);
        let select = format!(
            "SELECT {keys}, {answered} AS answered_by, {pointer} AS versioned_id, {texts}
             FROM {table} WHERE tenant_id = $1 AND ({matches})",
            keys = f.keys.join(", "),
            answered = f.answered_by.unwrap_or("''"),
            texts = f.texts.join(", "),
            table = f.table,
            matches = f
                .texts
                .iter()
                .map(|t| format!("LOWER({t}) LIKE LOWER($2) ESCAPE '\\'"))
                .collect::<Vec<_>>()
                .join(" OR "),
        );
        let rows = sqlx::query(AssertSqlSafe(select))
            .bind(&tenant)
            .bind(&pattern)
            .fetch_all(tx.conn())
            .await?;
        let update = format!(
            "UPDATE {table} SET {sets} WHERE tenant_id = $1 AND {keys}",
            table = f.table,
            sets = f
                .texts
                .iter()
                .enumerate()
                .map(|(i, t)| format!("{t} = ${}", i + 2))
                .collect::<Vec<_>>()
                .join(", "),
            keys = f
                .keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} = ${}", i + 2 + f.texts.len()))
                .collect::<Vec<_>>()
                .join(" AND "),
        );
        for r in &rows {
            let texts: Vec<String> = f
                .texts
                .iter()
                .map(|t| r.try_get::<String, _>(*t))
                .collect::<Result<_, _>>()?;
            let scrubbed: Vec<Option<String>> = texts
                .iter()
                .map(|t| crate::domain::scrub_name(t, name))
                .collect();
            if scrubbed.iter().all(Option::is_none) {
                continue;
            }
            let mut q = sqlx::query(AssertSqlSafe(update.clone())).bind(&tenant);
            for (new, old) in scrubbed.into_iter().zip(texts) {
                q = q.bind(new.unwrap_or(old));
            }
            for k in f.keys {
                q = q.bind(r.try_get::<String, _>(*k)?);
            }
            q.execute(tx.conn()).await?;
            if f.answered_by.is_some() {
                answered.push(r.try_get("answered_by")?);
            }
            if let Some((versioned, _)) = f.versioned {
                let id: String = r.try_get("versioned_id")?;
                if !bumped.iter().any(|(t, x)| *t == versioned && *x == id) {
                    sqlx::query(AssertSqlSafe(format!(
                        "UPDATE {versioned} SET version = version + 1, updated_at = $3
                         WHERE tenant_id = $1 AND id = $2"
                    )))
                    .bind(&tenant)
                    .bind(&id)
                    .bind(now_micros())
                    .execute(tx.conn())
                    .await?;
                    bumped.push((versioned, id));
                }
            }
        }
    }
    answered.sort();
    answered.dedup();
    Ok(answered)
}

// -------------------------------------------------------------- attendance

#[derive(Debug, Clone, PartialEq)]
pub struct MarkRow {
    pub session_id: String,
    pub enrolment_id: String,
    pub person_id: String,
    pub participant_name: String,
    pub status: AttendanceStatus,
    pub note: String,
    pub revision: i64,
    pub recorded_by: String,
    pub recorded_at: i64,
}

fn mark_row(r: &AnyRow) -> Result<MarkRow> {
    Ok(MarkRow {
        session_id: r.try_get("session_id")?,
        enrolment_id: r.try_get("enrolment_id")?,
        person_id: r.try_get("person_id")?,
        participant_name: r.try_get("participant_name")?,
        status: named(
            &r.try_get::<String, _>("status")?,
            AttendanceStatus::from_str_name,
        )?,
        note: r.try_get("note")?,
        revision: r.try_get("revision")?,
        recorded_by: r.try_get("recorded_by")?,
        recorded_at: r.try_get("recorded_at")?,
    })
}

/// The current marks of a session, in enrolment order.
pub async fn session_marks(tx: &mut Tx, session_id: &str) -> Result<Vec<MarkRow>> {
    let rows = sqlx::query(
        "SELECT a.session_id, a.enrolment_id, e.person_id,
            COALESCE(p.full_name, '') AS participant_name, a.status, a.note, a.revision,
            a.recorded_by, a.recorded_at
         FROM attendance a
         JOIN enrolments e ON e.tenant_id = a.tenant_id AND e.id = a.enrolment_id
         LEFT JOIN people p ON p.tenant_id = e.tenant_id AND p.id = e.person_id
         WHERE a.tenant_id = $1 AND a.session_id = $2
         ORDER BY e.queue_seq",
    )
    .bind(tx.tenant().to_owned())
    .bind(session_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(mark_row).collect()
}

/// Records `mark` as revision `revision` of the participant's mark at the
/// session: the current mark is replaced, the revision kept for good.
pub async fn write_mark(
    tx: &mut Tx,
    course_id: &str,
    session_id: &str,
    mark: &Mark,
    revision: i64,
    recorded_by: &str,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    let now = now_micros();
    sqlx::query(
        "INSERT INTO attendance (tenant_id, session_id, enrolment_id, course_id, status, note,
            revision, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, session_id, enrolment_id) DO UPDATE SET
            status = excluded.status, note = excluded.note, revision = excluded.revision,
            recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
    )
    .bind(&tenant)
    .bind(session_id)
    .bind(&mark.enrolment_id)
    .bind(course_id)
    .bind(mark.status.as_str_name())
    .bind(&mark.note)
    .bind(revision)
    .bind(recorded_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO attendance_revisions (tenant_id, id, session_id, enrolment_id, revision,
            course_id, status, note, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&tenant)
    .bind(new_id())
    .bind(session_id)
    .bind(&mark.enrolment_id)
    .bind(revision)
    .bind(course_id)
    .bind(mark.status.as_str_name())
    .bind(&mark.note)
    .bind(recorded_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A revision with the key it is paged by.
pub async fn list_revisions(
    tx: &mut Tx,
    session_id: &str,
    enrolment_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<(String, MarkRow)>> {
    let rows = sqlx::query(
        "SELECT r.id, r.session_id, r.enrolment_id, e.person_id,
            COALESCE(p.full_name, '') AS participant_name, r.status, r.note, r.revision,
            r.recorded_by, r.recorded_at
         FROM attendance_revisions r
         JOIN enrolments e ON e.tenant_id = r.tenant_id AND e.id = r.enrolment_id
         LEFT JOIN people p ON p.tenant_id = e.tenant_id AND p.id = e.person_id
         WHERE r.tenant_id = $1 AND r.session_id = $2 AND r.id > $3
           AND ($4 = '' OR r.enrolment_id = $4)
         ORDER BY r.id LIMIT $5",
    )
    .bind(tx.tenant().to_owned())
    .bind(session_id)
    .bind(after)
    .bind(enrolment_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, mark_row(r)?)))
        .collect()
}

/// Every current mark of a course: (session, enrolment, status).
pub async fn course_marks(
    tx: &mut Tx,
    course_id: &str,
) -> Result<Vec<(String, String, AttendanceStatus)>> {
    let rows = sqlx::query(
        "SELECT session_id, enrolment_id, status FROM attendance
         WHERE tenant_id = $1 AND course_id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(course_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("session_id")?,
                r.try_get("enrolment_id")?,
                named(
                    &r.try_get::<String, _>("status")?,
                    AttendanceStatus::from_str_name,
                )?,
            ))
        })
        .collect()
}

// ------------------------------------------------------------ certificates

#[derive(Debug, Clone, PartialEq)]
pub struct CertificateRow {
    pub id: String,
    pub code: String,
    pub course_id: String,
    pub enrolment_id: String,
    pub person_id: String,
    pub organization_id: String,
    pub attendance_percent: i32,
    pub issued_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: String,
    pub participant_name: String,
    pub course_title: LocalizedText,
    pub course_kind: CourseKind,
    pub topic_codes: Vec<String>,
    pub start_date: Date,
    pub end_date: Date,
}

/// The SELECT [`certificate_row`] reads, as a literal (see [`topic_columns`]).
macro_rules! certificate_select {
    () => {
        "SELECT x.id, x.code, x.course_id, x.enrolment_id, x.person_id,
        x.organization_id, x.attendance_percent, x.issued_at, x.revoked_at, x.revoke_reason,
        COALESCE(p.full_name, '') AS participant_name, c.title_ar, c.title_en, c.kind,
        c.topic_codes, c.start_date, c.end_date
     FROM certificates x
     JOIN courses c ON c.tenant_id = x.tenant_id AND c.id = x.course_id
     LEFT JOIN people p ON p.tenant_id = x.tenant_id AND p.id = x.person_id"
    };
}

fn certificate_row(r: &AnyRow) -> Result<CertificateRow> {
    Ok(CertificateRow {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        course_id: r.try_get("course_id")?,
        enrolment_id: r.try_get("enrolment_id")?,
        person_id: r.try_get("person_id")?,
        organization_id: r.try_get("organization_id")?,
        attendance_percent: r.try_get::<i64, _>("attendance_percent")? as i32,
        issued_at: r.try_get("issued_at")?,
        revoked_at: r.try_get("revoked_at")?,
        revoke_reason: r.try_get("revoke_reason")?,
        participant_name: r.try_get("participant_name")?,
        course_title: LocalizedText {
            ar: r.try_get("title_ar")?,
            en: r.try_get("title_en")?,
        },
        course_kind: named(&r.try_get::<String, _>("kind")?, CourseKind::from_str_name)?,
        topic_codes: codes_of(&r.try_get::<String, _>("topic_codes")?),
        start_date: stored_date(r, "start_date")?,
        end_date: stored_date(r, "end_date")?,
    })
}

/// A certificate as issued.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    pub id: &'a str,
    pub code: &'a str,
    pub enrolment: &'a EnrolmentRow,
    pub attendance_percent: i32,
    pub issued_at: i64,
}

pub async fn insert_certificate(tx: &mut Tx, c: &NewCertificate<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO certificates (tenant_id, id, code, course_id, enrolment_id, person_id,
            organization_id, attendance_percent, issued_at, revoked_at, revoke_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, '')",
    )
    .bind(tx.tenant().to_owned())
    .bind(c.id)
    .bind(c.code)
    .bind(&c.enrolment.course_id)
    .bind(&c.enrolment.id)
    .bind(&c.enrolment.person_id)
    .bind(&c.enrolment.organization_id)
    .bind(i64::from(c.attendance_percent))
    .bind(c.issued_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn get_certificate(tx: &mut Tx, id: &str) -> Result<Option<CertificateRow>> {
    tx.find(
        concat!(
            certificate_select!(),
            " WHERE x.tenant_id = $1 AND x.id = $2"
        ),
        id,
        certificate_row,
    )
    .await
}

pub async fn certificate_by_code(tx: &mut Tx, code: &str) -> Result<Option<CertificateRow>> {
    tx.find(
        concat!(
            certificate_select!(),
            " WHERE x.tenant_id = $1 AND x.code = $2"
        ),
        code,
        certificate_row,
    )
    .await
}

pub async fn list_certificates(
    tx: &mut Tx,
    course_id: &str,
    person_id: &str,
    organization_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<CertificateRow>> {
    let sql = concat!(
        certificate_select!(),
        "
         WHERE x.tenant_id = $1 AND x.id > $2
           AND ($3 = '' OR x.course_id = $3)
           AND ($4 = '' OR x.person_id = $4)
           AND ($5 = '' OR x.organization_id = $5)
         ORDER BY x.id LIMIT $6"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(after)
        .bind(course_id)
        .bind(person_id)
        .bind(organization_id)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(certificate_row).collect()
}

pub async fn revoke_certificate(
    tx: &mut Tx,
    current: &CertificateRow,
    reason: &str,
) -> Result<CertificateRow> {
    let now = now_micros();
    sqlx::query(
        "UPDATE certificates SET revoked_at = $3, revoke_reason = $4
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(now)
    .bind(reason)
    .execute(tx.conn())
    .await?;
    Ok(CertificateRow {
        revoked_at: Some(now),
        revoke_reason: reason.to_string(),
        ..current.clone()
    })
}

// ----------------------------------------------------------- consultations

/// A consultation as stored: its actions all have ids.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationRow {
    pub id: String,
    pub fields: ConsultationFields,
    /// Declared gender of each attendee, in `fields.attendees` order.
    pub attendee_genders: Vec<Gender>,
    pub recorded_by: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns of `consultations` [`consultations_of`] reads, as a literal
/// (see [`topic_columns`]).
macro_rules! consultation_columns {
    () => {
        "id, kind, topic_codes, organization_id, advisor_name, \
     advisor_kind, branch_id, held_on, duration_minutes, notes, recorded_by, version, \
     created_at, updated_at"
    };
}

/// An attendee as recorded: who, and the figures' fields as declared then.
#[derive(Debug, Clone, PartialEq)]
pub struct Attendee {
    pub person_id: String,
    pub gender: Gender,
    pub age_band: AgeBand,
}

pub async fn insert_consultation(
    tx: &mut Tx,
    id: &str,
    f: &ConsultationFields,
    attendees: &[Attendee],
    recorded_by: &str,
) -> Result<ConsultationRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO consultations (tenant_id, id, kind, topic_codes, organization_id,
            advisor_name, advisor_kind, branch_id, held_on, duration_minutes, notes,
            recorded_by, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(f.kind.as_str_name())
    .bind(codes_text(&f.topic_codes))
    .bind(&f.organization_id)
    .bind(&f.advisor_name)
    .bind(f.advisor_kind.as_str_name())
    .bind(&f.branch_id)
    .bind(f.held_on.to_string())
    .bind(i64::from(f.duration_minutes))
    .bind(&f.notes)
    .bind(recorded_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    let fields = write_consultation_parts(tx, id, f, attendees).await?;
    Ok(ConsultationRow {
        id: id.to_string(),
        fields,
        attendee_genders: attendees.iter().map(|a| a.gender).collect(),
        recorded_by: recorded_by.to_string(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// Replaces the attendees and actions; returns the fields with every
/// action's id.
async fn write_consultation_parts(
    tx: &mut Tx,
    id: &str,
    f: &ConsultationFields,
    attendees: &[Attendee],
) -> Result<ConsultationFields> {
    let tenant = tx.tenant().to_owned();
    sqlx::query("DELETE FROM consultation_attendees WHERE tenant_id = $1 AND consultation_id = $2")
        .bind(&tenant)
        .bind(id)
        .execute(tx.conn())
        .await?;
    for (ordinal, a) in attendees.iter().enumerate() {
        sqlx::query(
            "INSERT INTO consultation_attendees (tenant_id, consultation_id, ordinal, person_id,
                gender, age_band)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&tenant)
        .bind(id)
        .bind(ordinal as i64)
        .bind(&a.person_id)
        .bind(a.gender.as_str_name())
        .bind(a.age_band.as_str_name())
        .execute(tx.conn())
        .await?;
    }
    sqlx::query("DELETE FROM follow_up_actions WHERE tenant_id = $1 AND consultation_id = $2")
        .bind(&tenant)
        .bind(id)
        .execute(tx.conn())
        .await?;
    let mut fields = f.clone();
    for (ordinal, a) in fields.actions.iter_mut().enumerate() {
        let action_id = a.id.clone().unwrap_or_else(new_id);
        sqlx::query(
            "INSERT INTO follow_up_actions (tenant_id, id, consultation_id, ordinal, description,
                owner, due_date, done_on)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&tenant)
        .bind(&action_id)
        .bind(id)
        .bind(ordinal as i64)
        .bind(&a.description)
        .bind(&a.owner)
        .bind(date_text(a.due_date))
        .bind(date_text(a.done_on))
        .execute(tx.conn())
        .await?;
        a.id = Some(action_id);
    }
    Ok(fields)
}

async fn consultations_of(tx: &mut Tx, rows: &[AnyRow]) -> Result<Vec<ConsultationRow>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;

    let rows_of_attendees = fetch_for_ids(
        tx,
        "SELECT consultation_id, person_id, gender FROM consultation_attendees
         WHERE tenant_id = $1 AND consultation_id IN ({ids}) ORDER BY consultation_id, ordinal",
        &ids,
    )
    .await?;
    let mut attendees: HashMap<String, Vec<(String, Gender)>> = HashMap::new();
    for r in rows_of_attendees {
        attendees
            .entry(r.try_get("consultation_id")?)
            .or_default()
            .push((
                r.try_get("person_id")?,
                named(&r.try_get::<String, _>("gender")?, Gender::from_str_name)?,
            ));
    }

    let rows_of_actions = fetch_for_ids(
        tx,
        "SELECT id, consultation_id, description, owner, due_date, done_on FROM follow_up_actions
         WHERE tenant_id = $1 AND consultation_id IN ({ids}) ORDER BY consultation_id, ordinal",
        &ids,
    )
    .await?;
    let mut actions: HashMap<String, Vec<ActionSpec>> = HashMap::new();
    for r in rows_of_actions {
        actions
            .entry(r.try_get("consultation_id")?)
            .or_default()
            .push(action_row(&r)?);
    }

    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let people = attendees.remove(&id).unwrap_or_default();
        out.push(ConsultationRow {
            fields: ConsultationFields {
                kind: named(
                    &r.try_get::<String, _>("kind")?,
                    ConsultationKind::from_str_name,
                )?,
                topic_codes: codes_of(&r.try_get::<String, _>("topic_codes")?),
                organization_id: r.try_get("organization_id")?,
                attendees: people.iter().map(|(p, _)| p.clone()).collect(),
                advisor_name: r.try_get("advisor_name")?,
                advisor_kind: named(
                    &r.try_get::<String, _>("advisor_kind")?,
                    AdvisorKind::from_str_name,
                )?,
                branch_id: r.try_get("branch_id")?,
                held_on: stored_date(r, "held_on")?,
                duration_minutes: r.try_get::<i64, _>("duration_minutes")? as i32,
                notes: r.try_get("notes")?,
                actions: actions.remove(&id).unwrap_or_default(),
            },
            attendee_genders: people.iter().map(|(_, g)| *g).collect(),
            recorded_by: r.try_get("recorded_by")?,
            version: r.try_get("version")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            id,
        });
    }
    Ok(out)
}

fn action_row(r: &AnyRow) -> Result<ActionSpec> {
    Ok(ActionSpec {
        id: Some(r.try_get("id")?),
        description: r.try_get("description")?,
        owner: r.try_get("owner")?,
        due_date: optional_date(r, "due_date")?,
        done_on: optional_date(r, "done_on")?,
    })
}

pub async fn get_consultation(tx: &mut Tx, id: &str) -> Result<Option<ConsultationRow>> {
    let Some(row) = tx
        .find(
            concat!(
                "SELECT ",
                consultation_columns!(),
                " FROM consultations WHERE tenant_id = $1 AND id = $2"
            ),
            id,
            |r| Ok(r.clone()),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(consultations_of(tx, &[row]).await?.pop())
}

/// Filters of [`list_consultations`]; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct ConsultationFilter {
    pub organization_id: String,
    pub kind: String,
    pub branch_id: String,
    pub held_from: String,
    pub held_until: String,
}

pub async fn list_consultations(
    tx: &mut Tx,
    filter: &ConsultationFilter,
    after: &str,
    limit: i64,
) -> Result<Vec<ConsultationRow>> {
    let sql = concat!(
        "SELECT ",
        consultation_columns!(),
        " FROM consultations
         WHERE tenant_id = $1 AND id > $2
           AND ($3 = '' OR organization_id = $3)
           AND ($4 = '' OR kind = $4)
           AND ($5 = '' OR branch_id = $5)
           AND ($6 = '' OR held_on >= $6)
           AND ($7 = '' OR held_on <= $7)
         ORDER BY id LIMIT $8"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(after)
        .bind(&filter.organization_id)
        .bind(&filter.kind)
        .bind(&filter.branch_id)
        .bind(&filter.held_from)
        .bind(&filter.held_until)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    consultations_of(tx, &rows).await
}

pub async fn update_consultation(
    tx: &mut Tx,
    current: &ConsultationRow,
    f: &ConsultationFields,
    attendees: &[Attendee],
) -> Result<ConsultationRow> {
    let now = now_micros();
    let changed = sqlx::query(
        "UPDATE consultations SET kind = $3, topic_codes = $4, organization_id = $5,
            advisor_name = $6, advisor_kind = $7, branch_id = $8, held_on = $9,
            duration_minutes = $10, notes = $11, version = version + 1, updated_at = $12
         WHERE tenant_id = $1 AND id = $2 AND version = $13",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(f.kind.as_str_name())
    .bind(codes_text(&f.topic_codes))
    .bind(&f.organization_id)
    .bind(&f.advisor_name)
    .bind(f.advisor_kind.as_str_name())
    .bind(&f.branch_id)
    .bind(f.held_on.to_string())
    .bind(i64::from(f.duration_minutes))
    .bind(&f.notes)
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::stale_etag());
    }
    let fields = write_consultation_parts(tx, &current.id, f, attendees).await?;
    Ok(ConsultationRow {
        fields,
        attendee_genders: attendees.iter().map(|a| a.gender).collect(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

/// A follow-up action with the consultation it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub action: ActionSpec,
    pub consultation_id: String,
    pub organization_id: String,
    /// The paging key: due date (or the far future) then id.
    pub key: String,
}

/// Follow-up actions, soonest due first (those without a due date last).
pub async fn list_actions(
    tx: &mut Tx,
    include_done: bool,
    due_until: &str,
    organization_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<ActionRow>> {
    let rows = sqlx::query(
        "SELECT a.id, a.consultation_id, a.description, a.owner, a.due_date, a.done_on,
            c.organization_id,
            (CASE WHEN a.due_date = '' THEN '9999-12-31' ELSE a.due_date END) || '/' || a.id
              AS sort_key
         FROM follow_up_actions a
         JOIN consultations c ON c.tenant_id = a.tenant_id AND c.id = a.consultation_id
         WHERE a.tenant_id = $1
           AND ((CASE WHEN a.due_date = '' THEN '9999-12-31' ELSE a.due_date END) || '/' || a.id)
               > $2
           AND ($3 = 1 OR a.done_on = '')
           AND ($4 = '' OR (a.due_date <> '' AND a.due_date <= $4))
           AND ($5 = '' OR c.organization_id = $5)
         ORDER BY sort_key LIMIT $6",
    )
    .bind(tx.tenant().to_owned())
    .bind(after)
    .bind(flag(include_done))
    .bind(due_until)
    .bind(organization_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ActionRow {
                action: action_row(r)?,
                consultation_id: r.try_get("consultation_id")?,
                organization_id: r.try_get("organization_id")?,
                key: r.try_get("sort_key")?,
            })
        })
        .collect()
}

// ------------------------------------------------------------- suggestions

#[derive(Debug, Clone, PartialEq)]
pub struct SuggestionRow {
    pub id: String,
    pub fields: SuggestionFields,
    pub status: SuggestionStatus,
    pub triage_note: String,
    pub triaged_by: String,
    pub course_id: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns [`suggestion_row`] reads, as a literal (see [`topic_columns`]).
macro_rules! suggestion_columns {
    () => {
        "id, title, description, topic_codes, suggested_by, contact, \
     status, triage_note, triaged_by, course_id, version, created_at, updated_at"
    };
}

fn suggestion_row(r: &AnyRow) -> Result<SuggestionRow> {
    Ok(SuggestionRow {
        id: r.try_get("id")?,
        fields: SuggestionFields {
            title: r.try_get("title")?,
            description: r.try_get("description")?,
            topic_codes: codes_of(&r.try_get::<String, _>("topic_codes")?),
            suggested_by: r.try_get("suggested_by")?,
            contact: r.try_get("contact")?,
        },
        status: named(
            &r.try_get::<String, _>("status")?,
            SuggestionStatus::from_str_name,
        )?,
        triage_note: r.try_get("triage_note")?,
        triaged_by: r.try_get("triaged_by")?,
        course_id: r.try_get("course_id")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_suggestion(
    tx: &mut Tx,
    id: &str,
    f: &SuggestionFields,
) -> Result<SuggestionRow> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO suggestions (tenant_id, id, title, description, topic_codes, suggested_by,
            contact, status, triage_note, triaged_by, course_id, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', '', '', 1, $9, $9)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(&f.title)
    .bind(&f.description)
    .bind(codes_text(&f.topic_codes))
    .bind(&f.suggested_by)
    .bind(&f.contact)
    .bind(SuggestionStatus::New.as_str_name())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(SuggestionRow {
        id: id.to_string(),
        fields: f.clone(),
        status: SuggestionStatus::New,
        triage_note: String::new(),
        triaged_by: String::new(),
        course_id: String::new(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

pub async fn get_suggestion(tx: &mut Tx, id: &str) -> Result<Option<SuggestionRow>> {
    tx.find(
        concat!(
            "SELECT ",
            suggestion_columns!(),
            " FROM suggestions WHERE tenant_id = $1 AND id = $2"
        ),
        id,
        suggestion_row,
    )
    .await
}

pub async fn list_suggestions(
    tx: &mut Tx,
    status: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<SuggestionRow>> {
    let sql = concat!(
        "SELECT ",
        suggestion_columns!(),
        " FROM suggestions
         WHERE tenant_id = $1 AND id > $2 AND ($3 = '' OR status = $3)
         ORDER BY id LIMIT $4"
    );
    let rows = sqlx::query(sql)
        .bind(tx.tenant().to_owned())
        .bind(after)
        .bind(status)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(suggestion_row).collect()
}

pub async fn triage_suggestion(
    tx: &mut Tx,
    current: &SuggestionRow,
    status: SuggestionStatus,
    note: &str,
    by: &str,
    course_id: &str,
) -> Result<SuggestionRow> {
    let now = now_micros();
    let changed = sqlx::query(
        "UPDATE suggestions SET status = $3, triage_note = $4, triaged_by = $5, course_id = $6,
            version = version + 1, updated_at = $7
         WHERE tenant_id = $1 AND id = $2 AND version = $8",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(status.as_str_name())
    .bind(note)
    .bind(by)
    .bind(course_id)
    .bind(now)
    .bind(current.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::stale_etag());
    }
    Ok(SuggestionRow {
        status,
        triage_note: note.to_string(),
        triaged_by: by.to_string(),
        course_id: course_id.to_string(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

// ----------------------------------------------------------------- figures

/// What the activity report needs of one completed course's participant.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseParticipation {
    pub course_id: String,
    pub kind: CourseKind,
    pub branch_id: String,
    pub gender: Gender,
    pub sessions_present: i64,
    pub completed: bool,
}

/// The completed courses whose last session fell between `from` and `until`
/// ("" for open ends), in `branch_id` ("" for all): (id, kind, branch).
pub async fn completed_courses(
    tx: &mut Tx,
    from: &str,
    until: &str,
    branch_id: &str,
) -> Result<Vec<(String, CourseKind, String)>> {
    let rows = sqlx::query(
        "SELECT id, kind, branch_id FROM courses
         WHERE tenant_id = $1 AND status = $2
           AND ($3 = '' OR end_date >= $3) AND ($4 = '' OR end_date <= $4)
           AND ($5 = '' OR branch_id = $5)
         ORDER BY id",
    )
    .bind(tx.tenant().to_owned())
    .bind(CourseStatus::Completed.as_str_name())
    .bind(from)
    .bind(until)
    .bind(branch_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                named(&r.try_get::<String, _>("kind")?, CourseKind::from_str_name)?,
                r.try_get("branch_id")?,
            ))
        })
        .collect()
}

/// The participants (holding a place) of the completed courses of the period.
pub async fn participations(
    tx: &mut Tx,
    from: &str,
    until: &str,
    branch_id: &str,
) -> Result<Vec<CourseParticipation>> {
    let rows = sqlx::query(
        "SELECT c.id AS course_id, c.kind, c.branch_id, e.gender, e.completed,
            (SELECT COUNT(*) FROM attendance a WHERE a.tenant_id = e.tenant_id
                AND a.enrolment_id = e.id AND a.status = 'ATTENDANCE_STATUS_PRESENT')
                AS sessions_present
         FROM enrolments e
         JOIN courses c ON c.tenant_id = e.tenant_id AND c.id = e.course_id
         WHERE e.tenant_id = $1 AND c.status = $2 AND e.status = $3
           AND ($4 = '' OR c.end_date >= $4) AND ($5 = '' OR c.end_date <= $5)
           AND ($6 = '' OR c.branch_id = $6)",
    )
    .bind(tx.tenant().to_owned())
    .bind(CourseStatus::Completed.as_str_name())
    .bind(EnrolmentStatus::Enrolled.as_str_name())
    .bind(from)
    .bind(until)
    .bind(branch_id)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CourseParticipation {
                course_id: r.try_get("course_id")?,
                kind: named(&r.try_get::<String, _>("kind")?, CourseKind::from_str_name)?,
                branch_id: r.try_get("branch_id")?,
                gender: named(&r.try_get::<String, _>("gender")?, Gender::from_str_name)?,
                sessions_present: r.try_get("sessions_present")?,
                completed: r.try_get::<i64, _>("completed")? != 0,
            })
        })
        .collect()
}

/// Certificates in force of the completed courses of the period.
pub async fn count_certificates(
    tx: &mut Tx,
    from: &str,
    until: &str,
    branch_id: &str,
) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM certificates x
         JOIN courses c ON c.tenant_id = x.tenant_id AND c.id = x.course_id
         WHERE x.tenant_id = $1 AND x.revoked_at IS NULL AND c.status = $2
           AND ($3 = '' OR c.end_date >= $3) AND ($4 = '' OR c.end_date <= $4)
           AND ($5 = '' OR c.branch_id = $5)",
    )
    .bind(tx.tenant().to_owned())
    .bind(CourseStatus::Completed.as_str_name().to_owned())
    .bind(from.to_owned())
    .bind(until.to_owned())
    .bind(branch_id.to_owned())
    .fetch_one(tx.conn())
    .await?;
    Ok(n)
}

/// The consultations held in the period: (kind, branch, attendee genders).
pub async fn consultations_held(
    tx: &mut Tx,
    from: &str,
    until: &str,
    branch_id: &str,
) -> Result<Vec<(ConsultationKind, String, Vec<Gender>)>> {
    let filter = ConsultationFilter {
        branch_id: branch_id.to_string(),
        held_from: from.to_string(),
        held_until: until.to_string(),
        ..Default::default()
    };
    Ok(list_consultations(tx, &filter, "", i64::MAX)
        .await?
        .into_iter()
        .map(|c| (c.fields.kind, c.fields.branch_id, c.attendee_genders))
        .collect())
}
