//! Invitations to an event and their replies.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::time::now_micros;
use markaz_proto::common::v1::Gender;

use super::{Arg, Filter, in_list, versioned};
use crate::domain::attendance::{GuestFacts, PersonInvitation};
use crate::domain::invitations::{InvitationSpec, InvitationStatus, Invitee, ParticipantCategory};

const COLUMNS: &str = "i.id, i.event_id, i.invitee_key, i.organization_id, i.person_id, \
     i.guest_name, i.guest_affiliation, i.guest_gender, i.category, i.status, i.note, \
     i.invited_by, i.replied_at, i.version, i.created_at, i.updated_at, \
     COALESCE(o.name_ar, '') AS org_name_ar, COALESCE(o.name_en, '') AS org_name_en, \
     COALESCE(p.full_name, '') AS person_name";

const FROM: &str = "invitations i \
     LEFT JOIN membership_organizations o ON o.tenant_id = i.tenant_id AND o.id = i.organization_id \
     LEFT JOIN membership_people p ON p.tenant_id = i.tenant_id AND p.id = i.person_id";

#[derive(sqlx::FromRow)]
struct StoredInvitation {
    id: String,
    event_id: String,
    invitee_key: String,
    organization_id: String,
    person_id: String,
    guest_name: String,
    guest_affiliation: String,
    guest_gender: String,
    category: String,
    status: String,
    note: String,
    invited_by: String,
    replied_at: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
    org_name_ar: String,
    org_name_en: String,
    person_name: String,
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: String,
    pub event_id: String,
    pub invitee: Invitee,
    /// The invitee's organization (an organization's own id, or the one a
    /// person was invited for); `None` for an individual or a guest.
    pub organization_id: Option<String>,
    pub category: Option<ParticipantCategory>,
    pub status: InvitationStatus,
    pub note: String,
    pub invitee_name: String,
    pub invited_by: String,
    pub replied_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<StoredInvitation> for Invitation {
    type Error = Error;
    fn try_from(r: StoredInvitation) -> Result<Invitation> {
        let organization_id = Some(r.organization_id.clone()).filter(|o| !o.is_empty());
        let (invitee, name) = if r.invitee_key.starts_with("organization:") {
            let name = if r.org_name_ar.is_empty() {
                r.org_name_en
            } else {
                r.org_name_ar
            };
            (Invitee::Organization(r.organization_id), name)
        } else if r.invitee_key.starts_with("person:") {
            (
                Invitee::Person {
                    person_id: r.person_id,
                    organization_id: organization_id.clone(),
                },
                r.person_name,
            )
        } else {
            (
                Invitee::Guest {
                    name: r.guest_name.clone(),
                    affiliation: r.guest_affiliation,
                    gender: stored(&r.guest_gender, Gender::from_str_name)?,
                },
                r.guest_name,
            )
        };
        Ok(Invitation {
            id: r.id,
            event_id: r.event_id,
            invitee,
            organization_id,
            category: if r.category.is_empty() {
                None
            } else {
                Some(stored(&r.category, ParticipantCategory::from_str_name)?)
            },
            status: stored(&r.status, InvitationStatus::from_str_name)?,
            note: r.note,
            invitee_name: name,
            invited_by: r.invited_by,
            replied_at: r.replied_at,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// The invitations of `event_id` by invitee key (organizations and people).
#[tracing::instrument(skip(tx))]
pub async fn existing(
    tx: &mut Tx,
    event_id: &str,
) -> Result<HashMap<String, (String, InvitationStatus)>> {
    let mut f = Filter::tenant(tx, "i.tenant_id");
    f.and("i.event_id = ?", [Arg::from(event_id)]);
    let rows: Vec<StoredInvitation> = f
        .fetch(
            tx,
            format!("SELECT {COLUMNS} FROM {FROM} WHERE {}", f.sql()),
        )
        .await?;
    let mut out = HashMap::new();
    for r in rows {
        let key = r.invitee_key.clone();
        let inv = Invitation::try_from(r)?;
        out.insert(key, (inv.id, inv.status));
    }
    Ok(out)
}

#[tracing::instrument(skip(tx, spec))]
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    event_id: &str,
    spec: &InvitationSpec,
    by: &str,
) -> Result<()> {
    let (key, org, person, name, affiliation, gender) = match &spec.invitee {
        Invitee::Organization(o) => (
            format!("organization:{o}"),
            o.clone(),
            String::new(),
            String::new(),
            String::new(),
            Gender::Unspecified,
        ),
        Invitee::Person {
            person_id,
            organization_id,
        } => (
            format!("person:{person_id}"),
            organization_id.clone().unwrap_or_default(),
            person_id.clone(),
            String::new(),
            String::new(),
            Gender::Unspecified,
        ),
        Invitee::Guest {
            name,
            affiliation,
            gender,
        } => (
            format!("guest:{id}"),
            String::new(),
            String::new(),
            name.clone(),
            affiliation.clone(),
            *gender,
        ),
    };
    let now = now_micros();
    sqlx::query(
        "INSERT INTO invitations (tenant_id, id, event_id, invitee_key, organization_id,
            person_id, guest_name, guest_affiliation, guest_gender, category, status, note,
            invited_by, replied_at, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', $12, NULL, 1, $13, $13)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(event_id)
    .bind(key)
    .bind(org)
    .bind(person)
    .bind(name)
    .bind(affiliation)
    .bind(gender.as_str_name())
    .bind(spec.category.map(|c| c.as_str_name()).unwrap_or_default())
    .bind(InvitationStatus::AwaitingReply.as_str_name())
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Invitation>> {
    Ok(by_ids(tx, &[id.to_string()]).await?.pop())
}

/// The invitations `ids`, in the order sent.
#[tracing::instrument(skip(tx, ids))]
pub async fn by_ids(tx: &mut Tx, ids: &[String]) -> Result<Vec<Invitation>> {
    let mut f = Filter::tenant(tx, "i.tenant_id");
    let list = in_list(&mut f, ids);
    let rows: Vec<StoredInvitation> = f
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE {} AND i.id IN {list} ORDER BY i.id",
                f.sql()
            ),
        )
        .await?;
    rows.into_iter().map(Invitation::try_from).collect()
}

/// A page of invitations in the order sent, and the size of the list.
#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    event_id: &str,
    organization_id: &str,
    status: &str,
    after: &str,
    limit: i64,
) -> Result<(Vec<Invitation>, i32)> {
    let mut f = Filter::tenant(tx, "i.tenant_id");
    f.when(event_id, "i.event_id = ?")
        .when(organization_id, "i.organization_id = ?")
        .when(status, "i.status = ?");
    let total = f.count(tx, "invitations i").await?;
    let mut page = f.clone();
    page.when(after, "i.id > ?");
    let limit = page.bind(limit);
    let rows: Vec<StoredInvitation> = page
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE {} ORDER BY i.id LIMIT {limit}",
                page.sql()
            ),
        )
        .await?;
    Ok((
        rows.into_iter()
            .map(Invitation::try_from)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// Sets the status (and the note) of an invitation.
#[tracing::instrument(skip(tx, current))]
pub async fn set_status(
    tx: &mut Tx,
    current: &Invitation,
    status: InvitationStatus,
    note: &str,
    replied: bool,
) -> Result<()> {
    let now = now_micros();
    versioned(
        tx,
        sqlx::query(
            "UPDATE invitations SET status = $3, note = $4,
                replied_at = CASE WHEN $5 = 1 THEN $6 ELSE replied_at END,
                version = version + 1, updated_at = $6
             WHERE tenant_id = $1 AND id = $2 AND version = $7",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(status.as_str_name())
        .bind(note)
        .bind(i64::from(replied))
        .bind(now)
        .bind(current.version),
    )
    .await
}

/// The guest's name and affiliation are gone for good.
#[tracing::instrument(skip(tx))]
pub async fn forget_guest(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE invitations SET guest_name = '', guest_affiliation = '', note = '',
            version = version + 1, updated_at = $3
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(now_micros())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// What check-in resolves entries against: the event's guests, the
/// invitations of people and of organizations.
#[allow(clippy::type_complexity)]
#[tracing::instrument(skip(tx))]
pub async fn for_check_in(
    tx: &mut Tx,
    event_id: &str,
) -> Result<(
    HashMap<String, GuestFacts>,
    HashMap<String, PersonInvitation>,
    HashMap<String, (String, Option<ParticipantCategory>)>,
)> {
    let mut f = Filter::tenant(tx, "i.tenant_id");
    f.and("i.event_id = ?", [Arg::from(event_id)]);
    let rows: Vec<StoredInvitation> = f
        .fetch(
            tx,
            format!("SELECT {COLUMNS} FROM {FROM} WHERE {}", f.sql()),
        )
        .await?;
    let (mut guests, mut people, mut organizations) =
        (HashMap::new(), HashMap::new(), HashMap::new());
    for r in rows {
        let inv = Invitation::try_from(r)?;
        let withdrawn = inv.status == InvitationStatus::Withdrawn;
        match &inv.invitee {
            Invitee::Guest { gender, .. } => {
                guests.insert(
                    inv.id.clone(),
                    GuestFacts {
                        category: inv.category.unwrap_or(ParticipantCategory::Individual),
                        gender: *gender,
                        withdrawn,
                    },
                );
            }
            Invitee::Person {
                person_id,
                organization_id,
            } if !withdrawn => {
                people.insert(
                    person_id.clone(),
                    PersonInvitation {
                        invitation_id: inv.id.clone(),
                        organization_id: organization_id.clone(),
                        category: inv.category,
                    },
                );
            }
            Invitee::Organization(o) if !withdrawn => {
                organizations.insert(o.clone(), (inv.id.clone(), inv.category));
            }
            _ => {}
        }
    }
    Ok((guests, people, organizations))
}

/// Organizations invited to `event_id` (not withdrawn), for suggestions.
#[tracing::instrument(skip(tx))]
pub async fn invited_organizations(tx: &mut Tx, event_id: &str) -> Result<Vec<String>> {
    let mut f = Filter::tenant(tx, "i.tenant_id");
    f.and("i.event_id = ?", [Arg::from(event_id)]);
    f.and("i.status <> 'INVITATION_STATUS_WITHDRAWN'", []);
    f.and("i.organization_id <> ''", []);
    let rows: Vec<StoredInvitation> = f
        .fetch(
            tx,
            format!("SELECT {COLUMNS} FROM {FROM} WHERE {}", f.sql()),
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.organization_id).collect())
}
