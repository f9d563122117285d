//! Follow-up commitments, the later meetings they were carried into and
//! every change of them.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::time::{Date, MaybeDate, now_micros};
use markaz_proto::networking::v1::CommitmentChangeKind;

use super::{Arg, Evidence, Filter, in_list, text, versioned};
use crate::domain::commitments::{
    CommitmentFields, CommitmentRow, CommitmentStatus, Owner, OwnerKind,
};

const COLUMNS: &str = "c.id, c.event_id, c.branch_id, c.made_on, c.decision_id, c.description_ar, \
     c.description_en, c.owner_kind, c.owner_organization_id, c.owner_person_id, c.due_date, \
     c.status, c.closed_on, c.note, c.version, c.created_by, c.created_at, c.updated_at, \
     COALESCE(o.name_ar, '') AS org_name_ar, COALESCE(o.name_en, '') AS org_name_en, \
     COALESCE(p.full_name, '') AS person_name";

const FROM: &str = "commitments c \
     LEFT JOIN membership_organizations o ON o.tenant_id = c.tenant_id AND o.id = c.owner_organization_id \
     LEFT JOIN membership_people p ON p.tenant_id = c.tenant_id AND p.id = c.owner_person_id";

#[derive(sqlx::FromRow)]
struct StoredCommitment {
    id: String,
    event_id: String,
    branch_id: String,
    #[sqlx(try_from = "String")]
    made_on: Date,
    decision_id: String,
    description_ar: String,
    description_en: String,
    owner_kind: String,
    owner_organization_id: String,
    owner_person_id: String,
    #[sqlx(try_from = "String")]
    due_date: Date,
    status: String,
    #[sqlx(try_from = "String")]
    closed_on: MaybeDate,
    note: String,
    version: i64,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    org_name_ar: String,
    org_name_en: String,
    person_name: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Change {
    pub commitment_id: String,
    pub change_kind: String,
    pub status: String,
    pub due_date: String,
    pub event_id: String,
    pub note: String,
    pub changed_by: String,
    pub changed_at: i64,
}

#[derive(Debug, Clone)]
pub struct Commitment {
    pub id: String,
    pub event_id: String,
    pub branch_id: String,
    pub made_on: Date,
    pub fields: CommitmentFields,
    pub status: CommitmentStatus,
    pub closed_on: Option<Date>,
    pub note: String,
    pub owner_name: String,
    pub agenda: Vec<String>,
    pub history: Vec<Change>,
    pub evidence: Vec<Evidence>,
    pub version: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Commitment {
    /// The row the figures count.
    pub fn row(&self) -> CommitmentRow {
        CommitmentRow {
            id: self.id.clone(),
            event_id: self.event_id.clone(),
            branch_id: self.branch_id.clone(),
            owner: self.fields.owner.clone(),
            made_on: self.made_on,
            due_date: self.fields.due_date,
            status: self.status,
            closed_on: self.closed_on,
        }
    }
}

fn owner(kind: OwnerKind, org: String, person: String) -> Result<Owner> {
    Ok(match kind {
        OwnerKind::Organization => Owner::Organization(org),
        OwnerKind::LocalAdministration => Owner::LocalAdministration(org),
        OwnerKind::Person => Owner::Person(person),
        OwnerKind::Unspecified => return Err(Error::internal("a commitment without an owner")),
    })
}

fn record(r: StoredCommitment) -> Result<Commitment> {
    let kind = stored(&r.owner_kind, OwnerKind::from_str_name)?;
    let owner_name = match kind {
        OwnerKind::Person => r.person_name,
        _ if r.org_name_ar.is_empty() => r.org_name_en,
        _ => r.org_name_ar,
    };
    Ok(Commitment {
        fields: CommitmentFields {
            description: text(r.description_ar, r.description_en),
            owner: owner(kind, r.owner_organization_id, r.owner_person_id)?,
            due_date: r.due_date,
            decision_id: Some(r.decision_id).filter(|d| !d.is_empty()),
        },
        status: stored(&r.status, CommitmentStatus::from_str_name)?,
        closed_on: r.closed_on.0,
        id: r.id,
        event_id: r.event_id,
        branch_id: r.branch_id,
        made_on: r.made_on,
        note: r.note,
        owner_name,
        agenda: Vec::new(),
        history: Vec::new(),
        evidence: Vec::new(),
        version: r.version,
        created_by: r.created_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

#[derive(sqlx::FromRow)]
struct AgendaRow {
    commitment_id: String,
    event_id: String,
}

async fn with_children(tx: &mut Tx, rows: Vec<StoredCommitment>) -> Result<Vec<Commitment>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut f = Filter::tenant(tx, "tenant_id");
    let list = in_list(&mut f, &ids);
    let agenda: Vec<AgendaRow> = f
        .fetch(
            tx,
            format!(
                "SELECT commitment_id, event_id FROM commitment_agenda
                 WHERE {} AND commitment_id IN {list} ORDER BY commitment_id, ordinal",
                f.sql()
            ),
        )
        .await?;
    let history: Vec<Change> = f
        .fetch(
            tx,
            format!(
                "SELECT commitment_id, change_kind, status, due_date, event_id, note, changed_by,
                    changed_at FROM commitment_history
                 WHERE {} AND commitment_id IN {list} ORDER BY id",
                f.sql()
            ),
        )
        .await?;
    let mut evidence = super::evidence(tx, "commitment", &ids).await?;
    let mut agendas: HashMap<String, Vec<String>> = HashMap::new();
    for a in agenda {
        agendas.entry(a.commitment_id).or_default().push(a.event_id);
    }
    let mut histories: HashMap<String, Vec<Change>> = HashMap::new();
    for h in history {
        histories
            .entry(h.commitment_id.clone())
            .or_default()
            .push(h);
    }
    rows.into_iter()
        .map(|r| {
            let mut c = record(r)?;
            c.agenda = agendas.remove(&c.id).unwrap_or_default();
            c.history = histories.remove(&c.id).unwrap_or_default();
            c.evidence = evidence.remove(&c.id).unwrap_or_default();
            Ok(c)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip(tx, f))]
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    event_id: &str,
    branch_id: &str,
    made_on: Date,
    f: &CommitmentFields,
    by: &str,
) -> Result<Commitment> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO commitments (tenant_id, id, event_id, branch_id, made_on, decision_id,
            description_ar, description_en, owner_kind, owner_organization_id, owner_person_id,
            due_date, status, closed_on, note, version, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, '', '', 1, $14, $15, $15)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(event_id)
    .bind(branch_id)
    .bind(made_on.to_string())
    .bind(f.decision_id.clone().unwrap_or_default())
    .bind(&f.description.ar)
    .bind(&f.description.en)
    .bind(f.owner.kind().as_str_name())
    .bind(f.owner.organization_id().unwrap_or_default().to_string())
    .bind(f.owner.person_id().unwrap_or_default().to_string())
    .bind(f.due_date.to_string())
    .bind(CommitmentStatus::Open.as_str_name())
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    history(
        tx,
        id,
        CommitmentChangeKind::Made,
        CommitmentStatus::Open,
        f.due_date,
        "",
        "",
        by,
    )
    .await?;
    get(tx, id)
        .await?
        .ok_or_else(|| Error::internal("the commitment just made is gone"))
}

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip(tx))]
pub async fn history(
    tx: &mut Tx,
    id: &str,
    kind: CommitmentChangeKind,
    status: CommitmentStatus,
    due: Date,
    event_id: &str,
    note: &str,
    by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO commitment_history (tenant_id, id, commitment_id, change_kind, status,
            due_date, event_id, note, changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tx.tenant().to_owned())
    .bind(new_id())
    .bind(id)
    .bind(kind.as_str_name())
    .bind(status.as_str_name())
    .bind(due.to_string())
    .bind(event_id)
    .bind(note)
    .bind(by)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Commitment>> {
    let mut f = Filter::tenant(tx, "c.tenant_id");
    f.and("c.id = ?", [Arg::from(id)]);
    let rows: Vec<StoredCommitment> = f
        .fetch(
            tx,
            format!("SELECT {COLUMNS} FROM {FROM} WHERE {}", f.sql()),
        )
        .await?;
    Ok(with_children(tx, rows).await?.pop())
}

/// The filters of ListCommitments, as stored values ("" for any).
#[derive(Debug, Clone, Default)]
pub struct CommitmentFilter {
    pub event_id: String,
    pub owner_organization_id: String,
    pub owner_person_id: String,
    pub owner_kind: String,
    pub status: String,
    /// Open and due before this day.
    pub overdue_before: String,
    pub due_until: String,
    /// A partner's organization: its own commitments and those made at
    /// meetings of coalitions it is an active member of.
    pub partner: String,
    pub nothing: bool,
}

/// The condition "commitment `c` is organization `?`'s, or was made at a
/// meeting of a coalition `?` is an active member of".
pub const PARTNER_SEES: &str = "c.owner_organization_id = ? OR EXISTS (SELECT 1 FROM events ev \
     JOIN coalition_members cm ON cm.tenant_id = ev.tenant_id AND cm.coalition_id = ev.coalition_id \
     WHERE ev.tenant_id = c.tenant_id AND ev.id = c.event_id AND cm.organization_id = ? \
     AND cm.active = 1)";

fn conditions(tx: &Tx, q: &CommitmentFilter) -> Filter {
    let mut f = Filter::tenant(tx, "c.tenant_id");
    if q.nothing {
        f.and("1 = 0", []);
    }
    f.when(
        &q.event_id,
        "c.event_id = ? OR EXISTS (SELECT 1 FROM commitment_agenda a WHERE a.tenant_id = c.tenant_id \
         AND a.commitment_id = c.id AND a.event_id = ?)",
    )
    .when(&q.owner_organization_id, "c.owner_organization_id = ?")
    .when(&q.owner_person_id, "c.owner_person_id = ?")
    .when(&q.owner_kind, "c.owner_kind = ?")
    .when(&q.status, "c.status = ?")
    .when(&q.due_until, "c.due_date <= ?")
    .when(&q.partner, PARTNER_SEES);
    if !q.overdue_before.is_empty() {
        f.and(
            "c.status = 'COMMITMENT_STATUS_OPEN' AND c.due_date < ?",
            [Arg::from(&q.overdue_before)],
        );
    }
    f
}

/// Whether a partner's filter lets it see commitment `id`.
#[tracing::instrument(skip(tx))]
pub async fn visible(tx: &mut Tx, id: &str, q: &CommitmentFilter) -> Result<bool> {
    let mut f = conditions(tx, q);
    f.and("c.id = ?", [Arg::from(id)]);
    Ok(f.count(tx, "commitments c").await? > 0)
}

/// A page, soonest due first, and the size of the list.
#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    q: &CommitmentFilter,
    after: Option<(String, String)>,
    limit: i64,
) -> Result<(Vec<Commitment>, i32)> {
    let f = conditions(tx, q);
    let total = f.count(tx, "commitments c").await?;
    let mut page = f.clone();
    if let Some((due, id)) = after {
        page.and(
            "c.due_date > ? OR (c.due_date = ? AND c.id > ?)",
            [due.clone().into(), due.into(), id.into()],
        );
    }
    let limit = page.bind(limit);
    let rows: Vec<StoredCommitment> = page
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE {} ORDER BY c.due_date, c.id LIMIT {limit}",
                page.sql()
            ),
        )
        .await?;
    Ok((with_children(tx, rows).await?, total))
}

/// Every commitment of the tenant as the figures count them.
#[tracing::instrument(skip_all)]
pub async fn rows(tx: &mut Tx, q: &CommitmentFilter) -> Result<Vec<CommitmentRow>> {
    let f = conditions(tx, q);
    let rows: Vec<StoredCommitment> = f
        .fetch(
            tx,
            format!("SELECT {COLUMNS} FROM {FROM} WHERE {}", f.sql()),
        )
        .await?;
    rows.into_iter().map(|r| Ok(record(r)?.row())).collect()
}

#[tracing::instrument(skip(tx, current, f))]
pub async fn update(tx: &mut Tx, current: &Commitment, f: &CommitmentFields) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE commitments SET decision_id = $3, description_ar = $4, description_en = $5,
                owner_kind = $6, owner_organization_id = $7, owner_person_id = $8, due_date = $9,
                version = version + 1, updated_at = $10
             WHERE tenant_id = $1 AND id = $2 AND version = $11",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(f.decision_id.clone().unwrap_or_default())
        .bind(&f.description.ar)
        .bind(&f.description.en)
        .bind(f.owner.kind().as_str_name())
        .bind(f.owner.organization_id().unwrap_or_default().to_string())
        .bind(f.owner.person_id().unwrap_or_default().to_string())
        .bind(f.due_date.to_string())
        .bind(now_micros())
        .bind(current.version),
    )
    .await
}

/// Closes the commitment: done or dropped on `on`.
#[tracing::instrument(skip(tx, current))]
pub async fn close(
    tx: &mut Tx,
    current: &Commitment,
    status: CommitmentStatus,
    on: Date,
    note: &str,
) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE commitments SET status = $3, closed_on = $4, note = $5,
                version = version + 1, updated_at = $6
             WHERE tenant_id = $1 AND id = $2 AND version = $7",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(status.as_str_name())
        .bind(on.to_string())
        .bind(note)
        .bind(now_micros())
        .bind(current.version),
    )
    .await
}

/// Puts the commitment on a later meeting's agenda, with its due date.
#[tracing::instrument(skip(tx, current))]
pub async fn carry(tx: &mut Tx, current: &Commitment, event_id: &str, due: Date) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE commitments SET due_date = $3, version = version + 1, updated_at = $4
             WHERE tenant_id = $1 AND id = $2 AND version = $5",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(due.to_string())
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    sqlx::query(
        "INSERT INTO commitment_agenda (tenant_id, commitment_id, ordinal, event_id)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(tx.tenant().to_owned())
    .bind(&current.id)
    .bind(current.agenda.len() as i64)
    .bind(event_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct CarriedRow {
    n: i64,
}

/// How many commitments of earlier meetings were carried into `event_id`.
#[tracing::instrument(skip(tx))]
pub async fn carried_into(tx: &mut Tx, event_id: &str) -> Result<usize> {
    let mut f = Filter::tenant(tx, "tenant_id");
    f.and("event_id = ?", [Arg::from(event_id)]);
    let rows: Vec<CarriedRow> = f
        .fetch(
            tx,
            format!(
                "SELECT COUNT(*) AS n FROM commitment_agenda WHERE {}",
                f.sql()
            ),
        )
        .await?;
    Ok(rows.first().map_or(0, |r| r.n.max(0) as usize))
}
