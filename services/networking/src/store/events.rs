//! Events and meetings: the event, its organizers, staff, issues and
//! decisions, and the status history (in `status_changes`).

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::time::{Date, now_micros};
use markaz_proto::common::v1::LocalizedText;
use sqlx::AssertSqlSafe;

use super::{Arg, Filter, StatusChange, in_list, text, versioned};
use crate::domain::events::{EventFields, EventKind, EventStatus, Staff};
use crate::domain::outcomes::OutcomeFields;

const COLUMNS: &str = "id, kind, title_ar, title_en, purpose_ar, purpose_en, branch_id, venue, \
     start_at, end_at, utc_offset_minutes, held_on, coalition_id, status, minutes_ar, minutes_en, \
     outcome_recorded_by, outcome_recorded_at, held_version, version, created_by, created_at, \
     updated_at";

#[derive(sqlx::FromRow)]
struct StoredEvent {
    id: String,
    kind: String,
    title_ar: String,
    title_en: String,
    purpose_ar: String,
    purpose_en: String,
    branch_id: String,
    venue: String,
    start_at: i64,
    end_at: i64,
    utc_offset_minutes: i64,
    #[sqlx(try_from = "String")]
    held_on: Date,
    coalition_id: String,
    status: String,
    minutes_ar: String,
    minutes_en: String,
    outcome_recorded_by: String,
    outcome_recorded_at: Option<i64>,
    held_version: i64,
    version: i64,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub id: String,
    pub text: LocalizedText,
}

/// An event as stored, with its children.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub fields: EventFields,
    pub status: EventStatus,
    pub held_on: Date,
    pub minutes: LocalizedText,
    pub outcome_recorded_by: String,
    pub outcome_recorded_at: Option<i64>,
    pub decisions: Vec<Decision>,
    pub history: Vec<StatusChange>,
    pub held_version: i64,
    pub version: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Default)]
struct Children {
    organizers: Vec<String>,
    staff: Vec<Staff>,
    issues: Vec<String>,
    decisions: Vec<Decision>,
    history: Vec<StatusChange>,
}

fn record(r: StoredEvent, c: Children) -> Result<Event> {
    Ok(Event {
        fields: EventFields {
            kind: stored(&r.kind, EventKind::from_str_name)?,
            title: text(r.title_ar, r.title_en),
            purpose: text(r.purpose_ar, r.purpose_en),
            branch_id: r.branch_id,
            venue: r.venue,
            start: r.start_at,
            end: r.end_at,
            utc_offset_minutes: r.utc_offset_minutes as i32,
            organizers: c.organizers,
            staff: c.staff,
            issue_codes: c.issues,
            coalition_id: Some(r.coalition_id).filter(|c| !c.is_empty()),
        },
        status: stored(&r.status, EventStatus::from_str_name)?,
        held_on: r.held_on,
        minutes: text(r.minutes_ar, r.minutes_en),
        outcome_recorded_by: r.outcome_recorded_by,
        outcome_recorded_at: r.outcome_recorded_at,
        decisions: c.decisions,
        history: c.history,
        held_version: r.held_version,
        version: r.version,
        created_by: r.created_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
        id: r.id,
    })
}

#[derive(sqlx::FromRow)]
struct Organizer {
    event_id: String,
    organization_id: String,
}

#[derive(sqlx::FromRow)]
struct StaffRow {
    event_id: String,
    name: String,
    subject: String,
}

#[derive(sqlx::FromRow)]
struct IssueRow {
    event_id: String,
    issue_code: String,
}

#[derive(sqlx::FromRow)]
struct DecisionRow {
    id: String,
    event_id: String,
    text_ar: String,
    text_en: String,
}

/// The events `rows`, with their children read in one statement per kind.
async fn with_children(tx: &mut Tx, rows: Vec<StoredEvent>) -> Result<Vec<Event>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut children: HashMap<String, Children> = HashMap::new();
    let mut f = Filter::tenant(tx, "tenant_id");
    let list = in_list(&mut f, &ids);
    let cond = format!("{} AND event_id IN {list}", f.sql());
    let organizers: Vec<Organizer> = f
        .fetch(
            tx,
            format!("SELECT event_id, organization_id FROM event_organizers WHERE {cond} ORDER BY event_id, ordinal"),
        )
        .await?;
    for o in organizers {
        children
            .entry(o.event_id)
            .or_default()
            .organizers
            .push(o.organization_id);
    }
    let staff: Vec<StaffRow> = f
        .fetch(
            tx,
            format!("SELECT event_id, name, subject FROM event_staff WHERE {cond} ORDER BY event_id, ordinal"),
        )
        .await?;
    for s in staff {
        children.entry(s.event_id).or_default().staff.push(Staff {
            name: s.name,
            subject: s.subject,
        });
    }
    let issues: Vec<IssueRow> = f
        .fetch(
            tx,
            format!("SELECT event_id, issue_code FROM event_issues WHERE {cond} ORDER BY event_id, ordinal"),
        )
        .await?;
    for i in issues {
        children
            .entry(i.event_id)
            .or_default()
            .issues
            .push(i.issue_code);
    }
    let decisions: Vec<DecisionRow> = f
        .fetch(
            tx,
            format!("SELECT id, event_id, text_ar, text_en FROM event_decisions WHERE {cond} ORDER BY event_id, ordinal"),
        )
        .await?;
    for d in decisions {
        children
            .entry(d.event_id)
            .or_default()
            .decisions
            .push(Decision {
                id: d.id,
                text: text(d.text_ar, d.text_en),
            });
    }
    let mut history = super::status_changes(tx, "event", &ids).await?;
    rows.into_iter()
        .map(|r| {
            let mut c = children.remove(&r.id).unwrap_or_default();
            c.history = history.remove(&r.id).unwrap_or_default();
            record(r, c)
        })
        .collect()
}

async fn write_children(tx: &mut Tx, id: &str, f: &EventFields) -> Result<()> {
    for table in ["event_organizers", "event_staff", "event_issues"] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND event_id = $2"
        )))
        .bind(tx.tenant().to_owned())
        .bind(id)
        .execute(tx.conn())
        .await?;
    }
    for (i, o) in f.organizers.iter().enumerate() {
        sqlx::query(
            "INSERT INTO event_organizers (tenant_id, event_id, organization_id, ordinal)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(o)
        .bind(i as i64)
        .execute(tx.conn())
        .await?;
    }
    for (i, s) in f.staff.iter().enumerate() {
        sqlx::query(
            "INSERT INTO event_staff (tenant_id, event_id, ordinal, name, subject)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(i as i64)
        .bind(&s.name)
        .bind(&s.subject)
        .execute(tx.conn())
        .await?;
    }
    for (i, c) in f.issue_codes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO event_issues (tenant_id, event_id, issue_code, ordinal)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(tx.tenant().to_owned())
        .bind(id)
        .bind(c)
        .bind(i as i64)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

#[tracing::instrument(skip(tx, f))]
pub async fn insert(tx: &mut Tx, id: &str, f: &EventFields, by: &str) -> Result<Event> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO events (tenant_id, id, kind, title_ar, title_en, purpose_ar, purpose_en,
            branch_id, venue, start_at, end_at, utc_offset_minutes, held_on, coalition_id, status,
            minutes_ar, minutes_en, outcome_recorded_by, outcome_recorded_at, held_version,
            version, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, '', '', '',
            NULL, 0, 1, $16, $17, $17)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(f.kind.as_str_name())
    .bind(&f.title.ar)
    .bind(&f.title.en)
    .bind(&f.purpose.ar)
    .bind(&f.purpose.en)
    .bind(&f.branch_id)
    .bind(&f.venue)
    .bind(f.start)
    .bind(f.end)
    .bind(i64::from(f.utc_offset_minutes))
    .bind(f.held_on().to_string())
    .bind(f.coalition_id.clone().unwrap_or_default())
    .bind(EventStatus::Planned.as_str_name())
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    write_children(tx, id, f).await?;
    get(tx, id)
        .await?
        .ok_or_else(|| Error::internal("the event just created is gone"))
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Event>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    f.and("id = ?", [Arg::from(id)]);
    let rows: Vec<StoredEvent> = f
        .fetch(
            tx,
            format!("SELECT {COLUMNS} FROM events WHERE {}", f.sql()),
        )
        .await?;
    Ok(with_children(tx, rows).await?.pop())
}

/// The filters of ListEvents, as stored values ("" for any).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub status: String,
    pub kind: String,
    pub branch_id: String,
    pub issue_code: String,
    pub coalition_id: String,
    pub organization_id: String,
    pub from: String,
    pub until: String,
    /// Only events whose organizer staff includes this subject (a trainer
    /// or reviewer sees those only).
    pub staff_subject: String,
    /// Nothing at all (a partner token without an organization).
    pub nothing: bool,
}

/// The condition "organization `?` was invited to, organized or attended
/// event `e`" (three placeholders, the same organization).
pub const INVOLVES_ORGANIZATION: &str = "EXISTS (SELECT 1 FROM invitations i WHERE i.tenant_id = e.tenant_id \
        AND i.event_id = e.id AND i.organization_id = ? AND i.status <> 'INVITATION_STATUS_WITHDRAWN') \
     OR EXISTS (SELECT 1 FROM event_organizers o WHERE o.tenant_id = e.tenant_id \
        AND o.event_id = e.id AND o.organization_id = ?) \
     OR EXISTS (SELECT 1 FROM participants p WHERE p.tenant_id = e.tenant_id \
        AND p.event_id = e.id AND p.organization_id = ?)";

/// The condition "staff member `?` organizes event `e`".
pub const ORGANIZED_BY_STAFF: &str = "EXISTS (SELECT 1 FROM event_staff s WHERE s.tenant_id = e.tenant_id \
     AND s.event_id = e.id AND s.subject = ?)";

fn conditions(tx: &Tx, q: &EventFilter) -> Filter {
    let mut f = Filter::tenant(tx, "e.tenant_id");
    if q.nothing {
        f.and("1 = 0", []);
    }
    f.when(&q.status, "e.status = ?")
        .when(&q.kind, "e.kind = ?")
        .when(&q.branch_id, "e.branch_id = ?")
        .when(&q.coalition_id, "e.coalition_id = ?")
        .when(&q.from, "e.held_on >= ?")
        .when(&q.until, "e.held_on <= ?")
        .when(
            &q.issue_code,
            "EXISTS (SELECT 1 FROM event_issues x WHERE x.tenant_id = e.tenant_id \
             AND x.event_id = e.id AND x.issue_code = ?)",
        )
        .when(&q.organization_id, INVOLVES_ORGANIZATION)
        .when(&q.staff_subject, ORGANIZED_BY_STAFF);
    f
}

/// Whether the filter's visibility rules (organization, staff subject)
/// let the caller see event `id`.
#[tracing::instrument(skip(tx))]
pub async fn visible(tx: &mut Tx, id: &str, q: &EventFilter) -> Result<bool> {
    let mut f = conditions(tx, q);
    f.and("e.id = ?", [Arg::from(id)]);
    Ok(f.count(tx, "events e").await? > 0)
}

/// A page of events, soonest first (keyset on start and id), and the size
/// of the whole list.
#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    q: &EventFilter,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<(Vec<Event>, i32)> {
    let f = conditions(tx, q);
    let total = f.count(tx, "events e").await?;
    let mut page = f.clone();
    if let Some((start, id)) = after {
        page.and(
            "e.start_at > ? OR (e.start_at = ? AND e.id > ?)",
            [start.into(), start.into(), id.into()],
        );
    }
    let limit = page.bind(limit);
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("e.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<StoredEvent> = page
        .fetch(
            tx,
            format!(
                "SELECT {cols} FROM events e WHERE {} ORDER BY e.start_at, e.id LIMIT {limit}",
                page.sql()
            ),
        )
        .await?;
    Ok((with_children(tx, rows).await?, total))
}

#[tracing::instrument(skip(tx, current, f))]
pub async fn update(tx: &mut Tx, current: &Event, f: &EventFields) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE events SET kind = $3, title_ar = $4, title_en = $5, purpose_ar = $6,
                purpose_en = $7, branch_id = $8, venue = $9, start_at = $10, end_at = $11,
                utc_offset_minutes = $12, held_on = $13, coalition_id = $14,
                version = version + 1, updated_at = $15
             WHERE tenant_id = $1 AND id = $2 AND version = $16",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(f.kind.as_str_name())
        .bind(&f.title.ar)
        .bind(&f.title.en)
        .bind(&f.purpose.ar)
        .bind(&f.purpose.en)
        .bind(&f.branch_id)
        .bind(&f.venue)
        .bind(f.start)
        .bind(f.end)
        .bind(i64::from(f.utc_offset_minutes))
        .bind(f.held_on().to_string())
        .bind(f.coalition_id.clone().unwrap_or_default())
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    write_children(tx, &current.id, f).await
}

/// Moves the event to `to`, recording the change.
#[tracing::instrument(skip(tx, current))]
pub async fn set_status(
    tx: &mut Tx,
    current: &Event,
    to: EventStatus,
    reason: &str,
    by: &str,
    today: Date,
) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE events SET status = $3, version = version + 1, updated_at = $4
             WHERE tenant_id = $1 AND id = $2 AND version = $5",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(to.as_str_name())
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    super::insert_status_change(
        tx,
        "event",
        &current.id,
        current.status.as_str_name(),
        to.as_str_name(),
        &today.to_string(),
        reason,
        by,
    )
    .await
}

/// Takes the next EventHeld version: the one to publish now.
#[tracing::instrument(skip(tx))]
pub async fn next_held_version(tx: &mut Tx, id: &str) -> Result<i64> {
    let v: i64 = sqlx::query_scalar(
        "UPDATE events SET held_version = held_version + 1
         WHERE tenant_id = $1 AND id = $2 RETURNING held_version",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    Ok(v)
}

/// Replaces the minutes and decisions; decisions sent with their id keep it.
#[tracing::instrument(skip(tx, current, o))]
pub async fn set_outcome(tx: &mut Tx, current: &Event, o: &OutcomeFields, by: &str) -> Result<()> {
    let now = now_micros();
    versioned(
        tx,
        sqlx::query(
            "UPDATE events SET minutes_ar = $3, minutes_en = $4, outcome_recorded_by = $5,
                outcome_recorded_at = $6, version = version + 1, updated_at = $6
             WHERE tenant_id = $1 AND id = $2 AND version = $7",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(&o.minutes.ar)
        .bind(&o.minutes.en)
        .bind(by)
        .bind(now)
        .bind(current.version),
    )
    .await?;
    sqlx::query("DELETE FROM event_decisions WHERE tenant_id = $1 AND event_id = $2")
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .execute(tx.conn())
        .await?;
    for (i, d) in o.decisions.iter().enumerate() {
        sqlx::query(
            "INSERT INTO event_decisions (tenant_id, id, event_id, ordinal, text_ar, text_en)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tx.tenant().to_owned())
        .bind(d.id.clone().unwrap_or_else(new_id))
        .bind(&current.id)
        .bind(i as i64)
        .bind(&d.text.ar)
        .bind(&d.text.en)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}
