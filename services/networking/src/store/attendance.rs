//! The participants of an event (one row per participant key) and every
//! revision of the list.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::new_id;
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::{AgeBand, Gender, OrganizationKind};

use super::{Arg, Filter, in_list};
use crate::domain::attendance::{
    Attendance, Effect, ParticipantCategory, ParticipantKey, PersonFacts,
};

const COLUMNS: &str = "p.event_id, p.participant_key, p.id, p.kind, p.person_id, p.organization_id, \
     p.invitation_id, p.category, p.gender, p.age_band, p.head_count, p.checked_in_by, \
     p.checked_in_at, p.updated_at, COALESCE(m.full_name, '') AS person_name, \
     COALESCE(i.guest_name, '') AS guest_name";

const FROM: &str = "participants p \
     LEFT JOIN membership_people m ON m.tenant_id = p.tenant_id AND m.id = p.person_id \
     LEFT JOIN invitations i ON i.tenant_id = p.tenant_id AND i.id = p.invitation_id \
        AND p.kind = 'PARTICIPANT_KIND_GUEST'";

#[derive(sqlx::FromRow)]
struct StoredParticipant {
    event_id: String,
    participant_key: String,
    id: String,
    #[allow(dead_code)]
    kind: String,
    person_id: String,
    organization_id: String,
    invitation_id: String,
    category: String,
    gender: String,
    age_band: String,
    head_count: i64,
    checked_in_by: String,
    checked_in_at: i64,
    updated_at: i64,
    person_name: String,
    guest_name: String,
}

/// A participant as the list shows it.
#[derive(Debug, Clone)]
pub struct Participant {
    pub id: String,
    pub event_id: String,
    pub attendance: Attendance,
    pub person_id: Option<String>,
    pub display_name: String,
    pub checked_in_by: String,
    pub checked_in_at: i64,
    pub updated_at: i64,
}

impl TryFrom<StoredParticipant> for Participant {
    type Error = Error;
    fn try_from(r: StoredParticipant) -> Result<Participant> {
        let key = ParticipantKey::parse("participant_key", &r.participant_key)
            .map_err(|e| Error::internal(format!("a stored participant key: {}", e.description)))?;
        let display_name = match key {
            ParticipantKey::Person(_) => r.person_name,
            ParticipantKey::Guest(_) => r.guest_name,
            ParticipantKey::WalkIn(_) => String::new(),
        };
        Ok(Participant {
            attendance: Attendance {
                key,
                organization_id: Some(r.organization_id).filter(|o| !o.is_empty()),
                invitation_id: Some(r.invitation_id).filter(|o| !o.is_empty()),
                category: stored(&r.category, ParticipantCategory::from_str_name)?,
                gender: stored(&r.gender, Gender::from_str_name)?,
                age_band: stored(&r.age_band, AgeBand::from_str_name)?,
                count: r.head_count.clamp(0, i64::from(i32::MAX)) as i32,
            },
            person_id: Some(r.person_id).filter(|p| !p.is_empty()),
            id: r.id,
            event_id: r.event_id,
            display_name,
            checked_in_by: r.checked_in_by,
            checked_in_at: r.checked_in_at,
            updated_at: r.updated_at,
        })
    }
}

/// The participants of the events `ids`, in check-in order.
#[tracing::instrument(skip(tx, ids))]
pub async fn of_events(tx: &mut Tx, ids: &[String]) -> Result<Vec<Participant>> {
    let mut f = Filter::tenant(tx, "p.tenant_id");
    let list = in_list(&mut f, ids);
    let rows: Vec<StoredParticipant> = f
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE {} AND p.event_id IN {list} ORDER BY p.id",
                f.sql()
            ),
        )
        .await?;
    rows.into_iter().map(Participant::try_from).collect()
}

/// The event's list by participant key.
pub async fn current(tx: &mut Tx, event_id: &str) -> Result<HashMap<String, Participant>> {
    Ok(of_events(tx, &[event_id.to_string()])
        .await?
        .into_iter()
        .map(|p| (p.attendance.key.text(), p))
        .collect())
}

/// Writes one merged entry: a new participant, a correction, or nothing.
#[tracing::instrument(skip(tx, a))]
pub async fn write(
    tx: &mut Tx,
    event_id: &str,
    a: &Attendance,
    effect: Effect,
    by: &str,
) -> Result<()> {
    let now = now_micros();
    let person_id = match &a.key {
        ParticipantKey::Person(id) => id.clone(),
        _ => String::new(),
    };
    match effect {
        Effect::Unchanged => return Ok(()),
        Effect::Added => {
            sqlx::query(
                "INSERT INTO participants (tenant_id, event_id, participant_key, id, kind,
                    person_id, organization_id, invitation_id, category, gender, age_band,
                    head_count, checked_in_by, checked_in_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
            )
            .bind(tx.tenant().to_owned())
            .bind(event_id)
            .bind(a.key.text())
            .bind(new_id())
            .bind(a.key.kind().as_str_name())
            .bind(person_id)
            .bind(a.organization_id.clone().unwrap_or_default())
            .bind(a.invitation_id.clone().unwrap_or_default())
            .bind(a.category.as_str_name())
            .bind(a.gender.as_str_name())
            .bind(a.age_band.as_str_name())
            .bind(i64::from(a.count))
            .bind(by)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        Effect::Corrected => {
            sqlx::query(
                "UPDATE participants SET organization_id = $4, invitation_id = $5, category = $6,
                    gender = $7, age_band = $8, head_count = $9, updated_at = $10
                 WHERE tenant_id = $1 AND event_id = $2 AND participant_key = $3",
            )
            .bind(tx.tenant().to_owned())
            .bind(event_id)
            .bind(a.key.text())
            .bind(a.organization_id.clone().unwrap_or_default())
            .bind(a.invitation_id.clone().unwrap_or_default())
            .bind(a.category.as_str_name())
            .bind(a.gender.as_str_name())
            .bind(a.age_band.as_str_name())
            .bind(i64::from(a.count))
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
    }
    let word = if effect == Effect::Added {
        "added"
    } else {
        "corrected"
    };
    revision(tx, event_id, a, word, "", by).await
}

async fn revision(
    tx: &mut Tx,
    event_id: &str,
    a: &Attendance,
    effect: &str,
    reason: &str,
    by: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO participant_revisions (tenant_id, id, event_id, participant_key, effect,
            organization_id, category, gender, head_count, reason, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tx.tenant().to_owned())
    .bind(new_id())
    .bind(event_id)
    .bind(a.key.text())
    .bind(effect)
    .bind(a.organization_id.clone().unwrap_or_default())
    .bind(a.category.as_str_name())
    .bind(a.gender.as_str_name())
    .bind(i64::from(a.count))
    .bind(reason)
    .bind(by)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Takes a participant off the list, keeping the revision.
#[tracing::instrument(skip(tx, p))]
pub async fn remove(tx: &mut Tx, p: &Participant, reason: &str, by: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM participants WHERE tenant_id = $1 AND event_id = $2 AND participant_key = $3",
    )
    .bind(tx.tenant().to_owned())
    .bind(&p.event_id)
    .bind(p.attendance.key.text())
    .execute(tx.conn())
    .await?;
    revision(tx, &p.event_id, &p.attendance, "removed", reason, by).await
}

/// A page of the event's list in check-in order, and its size in entries.
#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    event_id: &str,
    category: &str,
    kind: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<Participant>, i32)> {
    let mut f = Filter::tenant(tx, "p.tenant_id");
    f.and("p.event_id = ?", [Arg::from(event_id)])
        .when(category, "p.category = ?")
        .when(kind, "p.kind = ?");
    let total = f.count(tx, "participants p").await?;
    let mut page = f.clone();
    page.when(after, "p.id > ?");
    let limit = page.bind(limit);
    let rows: Vec<StoredParticipant> = page
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE {} ORDER BY p.id LIMIT {limit}",
                page.sql()
            ),
        )
        .await?;
    Ok((
        rows.into_iter()
            .map(Participant::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    id: String,
    gender: String,
    age_band: String,
}

/// What membership's copy says of these people (the ones it knows).
#[tracing::instrument(skip(tx, ids))]
pub async fn people(tx: &mut Tx, ids: &[String]) -> Result<HashMap<String, PersonFacts>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    let list = in_list(&mut f, ids);
    let rows: Vec<PersonRow> = f
        .fetch(
            tx,
            format!(
                "SELECT id, gender, age_band FROM membership_people WHERE {} AND id IN {list}",
                f.sql()
            ),
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.id,
                PersonFacts {
                    gender: stored(&r.gender, Gender::from_str_name)?,
                    age_band: stored(&r.age_band, AgeBand::from_str_name)?,
                },
            ))
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct OrganizationRow {
    id: String,
    kind: String,
}

/// The kinds of these organizations, for those whose snapshot arrived.
#[tracing::instrument(skip(tx, ids))]
pub async fn organization_kinds(
    tx: &mut Tx,
    ids: &[String],
) -> Result<HashMap<String, OrganizationKind>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    let list = in_list(&mut f, ids);
    let rows: Vec<OrganizationRow> = f
        .fetch(
            tx,
            format!(
                "SELECT id, kind FROM membership_organizations
                 WHERE {} AND fields_version > 0 AND id IN {list}",
                f.sql()
            ),
        )
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.id, stored(&r.kind, OrganizationKind::from_str_name)?)))
        .collect()
}
