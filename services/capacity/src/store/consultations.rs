//! Consultations, their attendees and their follow-up actions.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::sql::{Total, Where};
use markaz_kit::time::{Date, MaybeDate, now_micros};
use markaz_proto::capacity::v1::{AdvisorKind, ConsultationKind};
use markaz_proto::common::v1::Gender;
use sqlx::AssertSqlSafe;

use super::{AnyQuery, codes_of, codes_text, row, versioned, with_children};
use crate::domain::consultations::{
    ActionSpec, Attendee, Consultation, ConsultationFields, FollowUp,
};

const CONSULTATION_COLUMNS: &str = "id, kind, topic_codes, organization_id, advisor_name, \
     advisor_kind, branch_id, held_on, duration_minutes, notes, recorded_by, version, \
     created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ConsultationRow {
    id: String,
    kind: String,
    topic_codes: String,
    organization_id: String,
    advisor_name: String,
    advisor_kind: String,
    branch_id: String,
    #[sqlx(try_from = "String")]
    held_on: Date,
    #[sqlx(try_from = "i64")]
    duration_minutes: i32,
    notes: String,
    recorded_by: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct AttendeeRow {
    consultation_id: String,
    person_id: String,
    gender: String,
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: String,
    consultation_id: String,
    description: String,
    owner: String,
    #[sqlx(try_from = "String")]
    due_date: MaybeDate,
    #[sqlx(try_from = "String")]
    done_on: MaybeDate,
}

impl From<ActionRow> for ActionSpec {
    fn from(r: ActionRow) -> ActionSpec {
        ActionSpec {
            id: Some(r.id),
            description: r.description,
            owner: r.owner,
            due_date: r.due_date.0,
            done_on: r.done_on.0,
        }
    }
}

/// What a consultation row is read with, loaded for a whole page.
#[derive(Default)]
struct ConsultationParts {
    attendees: Vec<(String, Gender)>,
    actions: Vec<ActionSpec>,
}

impl TryFrom<(ConsultationRow, ConsultationParts)> for Consultation {
    type Error = Error;
    fn try_from((r, parts): (ConsultationRow, ConsultationParts)) -> Result<Consultation> {
        let (attendees, attendee_genders) = parts.attendees.into_iter().unzip();
        Ok(Consultation {
            fields: ConsultationFields {
                kind: stored(&r.kind, ConsultationKind::from_str_name)?,
                topic_codes: codes_of(&r.topic_codes),
                organization_id: r.organization_id,
                attendees,
                advisor_name: r.advisor_name,
                advisor_kind: stored(&r.advisor_kind, AdvisorKind::from_str_name)?,
                branch_id: r.branch_id,
                held_on: r.held_on,
                duration_minutes: r.duration_minutes,
                notes: r.notes,
                actions: parts.actions,
            },
            attendee_genders,
            recorded_by: r.recorded_by,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            id: r.id,
        })
    }
}

#[tracing::instrument(skip(tx, f, attendees))]
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    f: &ConsultationFields,
    attendees: &[Attendee],
    recorded_by: &str,
) -> Result<Consultation> {
    let now = now_micros();
    bind_fields(
        sqlx::query(
            "INSERT INTO consultations (tenant_id, id, kind, topic_codes, organization_id,
                advisor_name, advisor_kind, branch_id, held_on, duration_minutes, notes,
                recorded_by, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id),
        f,
    )
    .bind(recorded_by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    let fields = write_parts(tx, id, f, attendees).await?;
    Ok(Consultation {
        id: id.to_string(),
        fields,
        attendee_genders: attendees.iter().map(|a| a.gender).collect(),
        recorded_by: recorded_by.to_string(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// Binds the settable fields of a consultation as `$3`..`$11`, in the order
/// both the INSERT and the UPDATE name them.
fn bind_fields<'q>(q: AnyQuery<'q>, f: &'q ConsultationFields) -> AnyQuery<'q> {
    q.bind(f.kind.as_str_name())
        .bind(codes_text(&f.topic_codes))
        .bind(&f.organization_id)
        .bind(&f.advisor_name)
        .bind(f.advisor_kind.as_str_name())
        .bind(&f.branch_id)
        .bind(f.held_on.to_string())
        .bind(i64::from(f.duration_minutes))
        .bind(&f.notes)
}

/// Replaces the attendees and actions; returns the fields with every
/// action's id.
async fn write_parts(
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
                owner, due_date, done_on, due_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&tenant)
        .bind(&action_id)
        .bind(id)
        .bind(ordinal as i64)
        .bind(&a.description)
        .bind(&a.owner)
        .bind(MaybeDate::text(a.due_date))
        .bind(MaybeDate::text(a.done_on))
        .bind(due_key(a.due_date))
        .execute(tx.conn())
        .await?;
        a.id = Some(action_id);
    }
    Ok(fields)
}

/// Consultation rows with their attendees and actions, in the rows' order:
/// two statements for the whole page, whatever its size.
async fn with_parts(tx: &mut Tx, rows: Vec<ConsultationRow>) -> Result<Vec<Consultation>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut parts: HashMap<String, ConsultationParts> = HashMap::new();
    let attendees: Vec<AttendeeRow> = tx
        .rows_for_ids(
            "SELECT consultation_id, person_id, gender FROM consultation_attendees
         WHERE tenant_id = $1 AND consultation_id IN ({ids}) ORDER BY consultation_id, ordinal",
            &ids,
        )
        .await?;
    for a in attendees {
        let gender = stored(&a.gender, Gender::from_str_name)?;
        parts
            .entry(a.consultation_id)
            .or_default()
            .attendees
            .push((a.person_id, gender));
    }
    let actions: Vec<ActionRow> = tx.rows_for_ids(
        "SELECT id, consultation_id, description, owner, due_date, done_on FROM follow_up_actions
         WHERE tenant_id = $1 AND consultation_id IN ({ids}) ORDER BY consultation_id, ordinal",
        &ids,
    )
    .await?;
    for a in actions {
        parts
            .entry(a.consultation_id.clone())
            .or_default()
            .actions
            .push(a.into());
    }
    with_children(rows, parts, |r| &r.id)
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Consultation>> {
    let sql = format!(
        "SELECT {CONSULTATION_COLUMNS} FROM consultations WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<ConsultationRow> = row(tx, &sql, id).await?;
    Ok(with_parts(tx, row.into_iter().collect()).await?.pop())
}

/// Filters of [`list`]; empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct ConsultationFilter {
    pub organization_id: String,
    pub kind: String,
    pub branch_id: String,
    pub held_from: String,
    pub held_until: String,
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    filter: &ConsultationFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<Consultation>, Total)> {
    // Only the filters that are set are written: each on its index. The
    // same conditions count the list, before the page's cursor.
    let mut w = Where::tenant("tenant_id", tx.tenant());
    w.eq("organization_id", &filter.organization_id)
        .eq("kind", &filter.kind)
        .eq("branch_id", &filter.branch_id)
        .compare("held_on", ">=", &filter.held_from)
        .compare("held_on", "<=", &filter.held_until);
    let total = w.count_capped(tx, "consultations").await?;
    w.compare("id", ">", after);
    let limit = w.param(limit);
    let sql = format!(
        "SELECT {CONSULTATION_COLUMNS} FROM consultations {} ORDER BY id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<ConsultationRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    Ok((with_parts(tx, rows).await?, total))
}

#[tracing::instrument(skip(tx, current, f, attendees), fields(consultation = %current.id))]
pub async fn update(
    tx: &mut Tx,
    current: &Consultation,
    f: &ConsultationFields,
    attendees: &[Attendee],
) -> Result<Consultation> {
    let now = now_micros();
    versioned(
        tx,
        bind_fields(
            sqlx::query(
                "UPDATE consultations SET kind = $3, topic_codes = $4, organization_id = $5,
                    advisor_name = $6, advisor_kind = $7, branch_id = $8, held_on = $9,
                    duration_minutes = $10, notes = $11, version = version + 1, updated_at = $12
                 WHERE tenant_id = $1 AND id = $2 AND version = $13",
            )
            .bind(tx.tenant().to_owned())
            .bind(&current.id),
            f,
        )
        .bind(now)
        .bind(current.version),
    )
    .await?;
    let fields = write_parts(tx, &current.id, f, attendees).await?;
    Ok(Consultation {
        fields,
        attendee_genders: attendees.iter().map(|a| a.gender).collect(),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    })
}

#[derive(sqlx::FromRow)]
struct FollowUpRow {
    #[sqlx(flatten)]
    action: ActionRow,
    organization_id: String,
    sort_key: String,
}

/// Follow-up actions, soonest due first (those without a due date last).
#[tracing::instrument(skip(tx))]
pub async fn follow_ups(
    tx: &mut Tx,
    include_done: bool,
    due_until: &str,
    organization_id: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<FollowUp>, Total)> {
    // Only the filters that are set are written. The same conditions count
    // the list, before the page's cursor.
    let mut w = Where::tenant("a.tenant_id", tx.tenant());
    if !include_done {
        w.fixed("a.done_on = ''");
    }
    w.clause("a.due_date <> '' AND a.due_date <= {}", due_until)
        .eq("c.organization_id", organization_id);
    let from = "follow_up_actions a
         JOIN consultations c ON c.tenant_id = a.tenant_id AND c.id = a.consultation_id";
    // Every action has its consultation, so without the organization's
    // filter the count needs no join: it reads the actions' index alone.
    let counted = if organization_id.is_empty() {
        "follow_up_actions a"
    } else {
        from
    };
    let total = w.count_capped(tx, counted).await?;
    // The page key is `due_key/id`. After it is a row comparison, which
    // both databases take as a range of the index (an OR of the two cases
    // PostgreSQL only filters by).
    if let Some((due, id)) = after.split_once('/') {
        let (due, id) = (w.param(due), w.param(id));
        w.fixed(&format!("(a.due_key, a.id) > ({due}, {id})"));
    }
    let limit = w.param(limit);
    let sql = format!(
        "SELECT a.id, a.consultation_id, a.description, a.owner, a.due_date, a.done_on,
            c.organization_id, a.due_key || '/' || a.id AS sort_key
         FROM {from} {} ORDER BY a.due_key, a.id LIMIT {limit}",
        w.sql()
    );
    let rows: Vec<FollowUpRow> = sqlx::query_as_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let follow_ups = rows
        .into_iter()
        .map(|r| FollowUp {
            consultation_id: r.action.consultation_id.clone(),
            action: r.action.into(),
            organization_id: r.organization_id,
            key: r.sort_key,
        })
        .collect();
    Ok((follow_ups, total))
}

/// The order of the follow-up list: soonest due first, those without a due
/// date last (a key no date reaches), then by id.
fn due_key(due: Option<Date>) -> String {
    match MaybeDate::text(due) {
        none if none.is_empty() => "9999-12-31".to_string(),
        day => day,
    }
}
