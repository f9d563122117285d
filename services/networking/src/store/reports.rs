//! What the stakeholder map and the reports read: plain rows of events,
//! invitations, participants, coalitions, memberships, campaigns and
//! outcomes, counted in Rust by `domain::figures`.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::time::Date;
use markaz_proto::common::v1::{AgeBand, Gender, OrganizationKind};

use super::{Arg, Filter, in_list, text};
use crate::domain::attendance::{ParticipantCategory, ParticipantKey};
use crate::domain::campaigns::CampaignStatus;
use crate::domain::coalitions::CoalitionStatus;
use crate::domain::events::{EventKind, EventStatus};
use crate::domain::figures::{
    CampaignRow, CoalitionRow, EventRow, InvitationRow, MembershipRow, OutcomeRow, ParticipantRow,
};
use crate::domain::invitations::InvitationStatus;
use crate::domain::membership::{Membership, Period as MemberPeriod};

/// The invitations and participants of some events.
#[derive(Debug, Clone, Default)]
pub struct Attendance {
    pub invitations: Vec<InvitationRow>,
    pub participants: Vec<ParticipantRow>,
    /// Known people's age bands, as declared at check-in.
    pub age_bands: HashMap<String, AgeBand>,
}

#[derive(sqlx::FromRow)]
struct StoredInvitation {
    id: String,
    event_id: String,
    status: String,
}

#[derive(sqlx::FromRow)]
struct StoredParticipant {
    event_id: String,
    participant_key: String,
    organization_id: String,
    invitation_id: String,
    category: String,
    gender: String,
    age_band: String,
    head_count: i64,
    checked_in_at: i64,
    org_kind: Option<String>,
    governorate: Option<String>,
}

/// The invitations and participants of the events `ids`, or of every
/// event when `ids` is `None`.
async fn read_attendance(tx: &mut Tx, ids: Option<&[String]>) -> Result<Attendance> {
    let mut f = Filter::tenant(tx, "i.tenant_id");
    if let Some(ids) = ids {
        let list = in_list(&mut f, ids);
        f.and(&format!("i.event_id IN {list}"), []);
    }
    let invitations: Vec<StoredInvitation> = f
        .fetch(
            tx,
            format!(
                "SELECT i.id, i.event_id, i.status FROM invitations i WHERE {}",
                f.sql()
            ),
        )
        .await?;
    let mut f = Filter::tenant(tx, "p.tenant_id");
    if let Some(ids) = ids {
        let list = in_list(&mut f, ids);
        f.and(&format!("p.event_id IN {list}"), []);
    }
    let participants: Vec<StoredParticipant> = f
        .fetch(
            tx,
            format!(
                "SELECT p.event_id, p.participant_key, p.organization_id, p.invitation_id,
                    p.category, p.gender, p.age_band, p.head_count, p.checked_in_at,
                    o.kind AS org_kind, o.governorate AS governorate
                 FROM participants p
                 LEFT JOIN membership_organizations o
                    ON o.tenant_id = p.tenant_id AND o.id = p.organization_id
                 WHERE {} ORDER BY p.id",
                f.sql()
            ),
        )
        .await?;
    let mut out = Attendance::default();
    for i in invitations {
        out.invitations.push(InvitationRow {
            status: stored(&i.status, InvitationStatus::from_str_name)?,
            id: i.id,
            event_id: i.event_id,
        });
    }
    for p in participants {
        let key = ParticipantKey::parse("participant_key", &p.participant_key)
            .map_err(|e| Error::internal(format!("a stored participant key: {}", e.description)))?;
        if let ParticipantKey::Person(id) = &key {
            out.age_bands
                .insert(id.clone(), stored(&p.age_band, AgeBand::from_str_name)?);
        }
        out.participants.push(ParticipantRow {
            event_id: p.event_id,
            key,
            organization_kind: match p.org_kind.as_deref() {
                None | Some("") => None,
                Some(k) => Some(stored(k, OrganizationKind::from_str_name)?),
            },
            organization_id: Some(p.organization_id).filter(|o| !o.is_empty()),
            governorate: p.governorate.unwrap_or_default(),
            invitation_id: Some(p.invitation_id).filter(|o| !o.is_empty()),
            category: stored(&p.category, ParticipantCategory::from_str_name)?,
            gender: stored(&p.gender, Gender::from_str_name)?,
            count: p.head_count.clamp(0, i64::from(i32::MAX)) as i32,
            checked_in_at: p.checked_in_at,
        });
    }
    Ok(out)
}

#[tracing::instrument(skip(tx, ids))]
pub async fn attendance(tx: &mut Tx, ids: &[String]) -> Result<Attendance> {
    read_attendance(tx, Some(ids)).await
}

#[tracing::instrument(skip_all)]
pub async fn all_attendance(tx: &mut Tx) -> Result<Attendance> {
    read_attendance(tx, None).await
}

#[derive(sqlx::FromRow)]
struct StoredEvent {
    id: String,
    kind: String,
    status: String,
    branch_id: String,
    #[sqlx(try_from = "String")]
    held_on: Date,
}

#[tracing::instrument(skip_all)]
pub async fn events(tx: &mut Tx) -> Result<Vec<EventRow>> {
    let f = Filter::tenant(tx, "tenant_id");
    let rows: Vec<StoredEvent> = f
        .fetch(
            tx,
            format!(
                "SELECT id, kind, status, branch_id, held_on FROM events WHERE {} ORDER BY id",
                f.sql()
            ),
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(EventRow {
                kind: stored(&r.kind, EventKind::from_str_name)?,
                status: stored(&r.status, EventStatus::from_str_name)?,
                id: r.id,
                branch_id: r.branch_id,
                held_on: r.held_on,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct StoredChange {
    subject_id: String,
    to_status: String,
    #[sqlx(try_from = "String")]
    effective_on: Date,
}

async fn histories(tx: &mut Tx, kind: &str) -> Result<HashMap<String, Vec<(Date, String)>>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    f.and("subject_kind = ?", [Arg::from(kind)]);
    let rows: Vec<StoredChange> = f
        .fetch(
            tx,
            format!(
                "SELECT subject_id, to_status, effective_on FROM status_changes
                 WHERE {} ORDER BY id",
                f.sql()
            ),
        )
        .await?;
    let mut out: HashMap<String, Vec<(Date, String)>> = HashMap::new();
    for r in rows {
        out.entry(r.subject_id)
            .or_default()
            .push((r.effective_on, r.to_status));
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct StoredCoalition {
    id: String,
    name_ar: String,
    name_en: String,
    branch_id: String,
    #[sqlx(try_from = "String")]
    formed_on: Date,
}

#[tracing::instrument(skip_all)]
pub async fn coalitions(tx: &mut Tx) -> Result<Vec<CoalitionRow>> {
    let mut history = histories(tx, "coalition").await?;
    let f = Filter::tenant(tx, "tenant_id");
    let rows: Vec<StoredCoalition> = f
        .fetch(
            tx,
            format!(
                "SELECT id, name_ar, name_en, branch_id, formed_on FROM coalitions
                 WHERE {} ORDER BY id",
                f.sql()
            ),
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            let h = history
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .map(|(d, s)| Ok((d, stored(&s, CoalitionStatus::from_str_name)?)))
                .collect::<Result<Vec<_>>>()?;
            Ok(CoalitionRow {
                name: text(r.name_ar, r.name_en),
                id: r.id,
                branch_id: r.branch_id,
                formed_on: r.formed_on,
                history: h,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct StoredPeriod {
    coalition_id: String,
    organization_id: String,
    #[sqlx(try_from = "String")]
    joined_on: Date,
    left_on: String,
}

/// Every membership's periods, by coalition and organization.
#[tracing::instrument(skip_all)]
pub async fn memberships(tx: &mut Tx, coalition_id: Option<&str>) -> Result<Vec<MembershipRow>> {
    let mut f = Filter::tenant(tx, "tenant_id");
    if let Some(c) = coalition_id {
        f.and("coalition_id = ?", [Arg::from(c)]);
    }
    let rows: Vec<StoredPeriod> = f
        .fetch(
            tx,
            format!(
                "SELECT coalition_id, organization_id, joined_on, left_on
                 FROM coalition_member_periods WHERE {}
                 ORDER BY coalition_id, organization_id, period_number",
                f.sql()
            ),
        )
        .await?;
    let mut grouped: Vec<((String, String), Vec<MemberPeriod>)> = Vec::new();
    for r in rows {
        let left_on = if r.left_on.is_empty() {
            None
        } else {
            Some(Date::try_from(r.left_on).map_err(Error::internal)?)
        };
        let period = MemberPeriod {
            joined_on: r.joined_on,
            left_on,
        };
        let key = (r.coalition_id, r.organization_id);
        match grouped.last_mut() {
            Some((k, periods)) if *k == key => periods.push(period),
            _ => grouped.push((key, vec![period])),
        }
    }
    grouped
        .into_iter()
        .map(|((coalition_id, organization_id), periods)| {
            Ok(MembershipRow {
                coalition_id,
                organization_id,
                membership: Membership::from_periods(periods)?,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct StoredCampaign {
    id: String,
    issue_code: String,
    branch_id: String,
}

#[tracing::instrument(skip_all)]
pub async fn campaigns(tx: &mut Tx) -> Result<Vec<CampaignRow>> {
    let mut history = histories(tx, "campaign").await?;
    let f = Filter::tenant(tx, "tenant_id");
    let rows: Vec<StoredCampaign> = f
        .fetch(
            tx,
            format!(
                "SELECT id, issue_code, branch_id FROM campaigns WHERE {} ORDER BY id",
                f.sql()
            ),
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            let h = history
                .remove(&r.id)
                .unwrap_or_default()
                .into_iter()
                .map(|(d, s)| Ok((d, stored(&s, CampaignStatus::from_str_name)?)))
                .collect::<Result<Vec<_>>>()?;
            Ok(CampaignRow {
                id: r.id,
                issue_code: r.issue_code,
                branch_id: r.branch_id,
                history: h,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct StoredOutcome {
    campaign_id: String,
    #[sqlx(try_from = "String")]
    achieved_on: Date,
}

#[tracing::instrument(skip_all)]
pub async fn outcomes(tx: &mut Tx) -> Result<Vec<OutcomeRow>> {
    let f = Filter::tenant(tx, "tenant_id");
    let rows: Vec<StoredOutcome> = f
        .fetch(
            tx,
            format!(
                "SELECT campaign_id, achieved_on FROM campaign_outcomes WHERE {}",
                f.sql()
            ),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| OutcomeRow {
            campaign_id: r.campaign_id,
            achieved_on: r.achieved_on,
        })
        .collect())
}
