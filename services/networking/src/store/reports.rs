//! What the stakeholder map and the reports read. Attendance, the rows that
//! grow with every check-in, is counted in SQL (GROUP BY) over the events in
//! scope only; coalitions, memberships, campaigns and outcomes are plain
//! rows counted in Rust by `domain::figures`.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::time::Date;
use markaz_proto::common::v1::{AgeBand, Gender, OrganizationKind};

use super::{Arg, Filter, in_list, text};
use crate::domain::Period;
use crate::domain::attendance::ParticipantKind;
use crate::domain::attendance::{ParticipantCategory, ParticipantKey};
use crate::domain::campaigns::CampaignStatus;
use crate::domain::coalitions::CoalitionStatus;
use crate::domain::events::{EventKind, EventStatus};
use crate::domain::figures::{
    AttendanceFigures, CampaignRow, CoalitionRow, EventRow, InvitationRow, MembershipRow,
    OutcomeRow, ParticipantRow, clamp,
};
use crate::domain::invitations::{InvitationStatus, counts_as_invited};
use crate::domain::membership::{Membership, Period as MemberPeriod};
use crate::domain::stakeholders::Presence;

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

/// The invitations and participants of the events `ids` (a few: one
/// event's report, the figures of an event held).
#[tracing::instrument(skip(tx, ids))]
pub async fn attendance(tx: &mut Tx, ids: &[String]) -> Result<Attendance> {
    let mut f = Filter::tenant(tx, "i.tenant_id");
    let list = in_list(&mut f, ids);
    f.and(&format!("i.event_id IN {list}"), []);
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
    let list = in_list(&mut f, ids);
    f.and(&format!("p.event_id IN {list}"), []);
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

/// `e.` conditions of the held events of a report's scope.
fn held_in_scope(f: &mut Filter, period: Period, branch: Option<&str>) {
    f.and("e.status = ?", [Arg::from(EventStatus::Held.as_str_name())]);
    // Days are ISO text: their order is the order of the strings.
    if let Some(from) = period.from {
        f.and("e.held_on >= ?", [Arg::from(from.to_string())]);
    }
    if let Some(until) = period.until {
        f.and("e.held_on <= ?", [Arg::from(until.to_string())]);
    }
    if let Some(b) = branch {
        f.and("e.branch_id = ?", [Arg::from(b)]);
    }
}

const EVENT_OF_PARTICIPANT: &str =
    "participants p JOIN events e ON e.tenant_id = p.tenant_id AND e.id = p.event_id";

#[derive(sqlx::FromRow)]
struct StatusCount {
    status: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct Honoured {
    n: i64,
}

#[derive(sqlx::FromRow)]
struct Heads {
    branch_id: String,
    kind: String,
    category: String,
    gender: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct StoredPresence {
    event_id: String,
    event_kind: String,
    #[sqlx(try_from = "String")]
    held_on: Date,
    organization_id: String,
    org_kind: String,
    governorate: String,
}

/// What attendance adds to a period's report, counted in SQL over the held
/// events of the scope; the same figures `domain::figures::attendance_figures`
/// counts from rows.
#[tracing::instrument(skip(tx))]
pub async fn period_attendance(
    tx: &mut Tx,
    period: Period,
    branch: Option<&str>,
) -> Result<AttendanceFigures> {
    let mut out = AttendanceFigures::default();

    let mut f = Filter::tenant(tx, "i.tenant_id");
    held_in_scope(&mut f, period, branch);
    let statuses: Vec<StatusCount> = f
        .fetch(
            tx,
            format!(
                "SELECT i.status, COUNT(*) AS n
                 FROM invitations i JOIN events e ON e.tenant_id = i.tenant_id AND e.id = i.event_id
                 WHERE {} GROUP BY i.status",
                f.sql()
            ),
        )
        .await?;
    let mut invited_statuses = Vec::new();
    for r in statuses {
        let status = stored(&r.status, InvitationStatus::from_str_name)?;
        let n = clamp(r.n);
        let s = &mut out.summary;
        if counts_as_invited(status) {
            s.invited = s.invited.saturating_add(n);
            invited_statuses.push(r.status);
        }
        match status {
            InvitationStatus::Accepted => s.registered = n,
            InvitationStatus::Declined => s.declined = n,
            InvitationStatus::Tentative => s.tentative = n,
            InvitationStatus::AwaitingReply => s.awaiting_reply = n,
            _ => {}
        }
    }

    let mut f = Filter::tenant(tx, "p.tenant_id");
    held_in_scope(&mut f, period, branch);
    let list = in_list(&mut f, &invited_statuses);
    let honoured: Vec<Honoured> = f
        .fetch(
            tx,
            format!(
                "SELECT COUNT(DISTINCT p.invitation_id) AS n
                 FROM {EVENT_OF_PARTICIPANT}
                 JOIN invitations i ON i.tenant_id = p.tenant_id AND i.id = p.invitation_id
                 WHERE {} AND i.status IN {list}",
                f.sql()
            ),
        )
        .await?;
    out.summary.invitations_honoured = honoured.first().map_or(0, |h| clamp(h.n));

    // Every check-in, by branch, kind of participant, category and gender
    // (SUM of a BIGINT is NUMERIC on PostgreSQL: cast back).
    let mut f = Filter::tenant(tx, "p.tenant_id");
    held_in_scope(&mut f, period, branch);
    let heads: Vec<Heads> = f
        .fetch(
            tx,
            format!(
                "SELECT e.branch_id, p.kind, p.category, p.gender, CAST(SUM(p.head_count) AS BIGINT) AS n
                 FROM {EVENT_OF_PARTICIPANT} WHERE {}
                 GROUP BY e.branch_id, p.kind, p.category, p.gender",
                f.sql()
            ),
        )
        .await?;
    let person = ParticipantKind::Person.as_str_name();
    for h in &heads {
        let (category, gender) = (
            stored(&h.category, ParticipantCategory::from_str_name)?,
            stored(&h.gender, Gender::from_str_name)?,
        );
        let s = &mut out.summary;
        s.attended = s.attended.saturating_add(clamp(h.n));
        if h.kind == ParticipantKind::WalkIn.as_str_name() {
            s.walk_ins = s.walk_ins.saturating_add(clamp(h.n));
        }
        out.attendances.add(category, gender, h.n);
        // Guests and walk-ins have no record to tell two visits apart:
        // they count at every event.
        if h.kind != person {
            out.participants.add(category, gender, h.n);
            out.by_branch
                .entry(h.branch_id.clone())
                .or_default()
                .add(category, gender, h.n);
        }
    }
    // Branches with held events but nobody checked in still show.
    let mut f = Filter::tenant(tx, "e.tenant_id");
    held_in_scope(&mut f, period, branch);
    let branches: Vec<BranchRow> = f
        .fetch(
            tx,
            format!(
                "SELECT DISTINCT e.branch_id FROM events e WHERE {}",
                f.sql()
            ),
        )
        .await?;
    for b in branches {
        out.by_branch.entry(b.branch_id).or_default();
    }

    // Known people once, in the category and gender of their latest
    // attendance (latest day, then latest check-in, then the first
    // recorded): over the whole scope, and within each branch.
    for per_branch in [false, true] {
        let mut f = Filter::tenant(tx, "p.tenant_id");
        held_in_scope(&mut f, period, branch);
        f.and("p.kind = ?", [Arg::from(person)]);
        let partition = if per_branch {
            "e.branch_id, p.participant_key"
        } else {
            "p.participant_key"
        };
        let latest: Vec<Heads> = f
            .fetch(
                tx,
                format!(
                    "SELECT branch_id, kind, category, gender, CAST(SUM(head_count) AS BIGINT) AS n FROM (
                        SELECT e.branch_id, p.kind, p.category, p.gender, p.head_count,
                            ROW_NUMBER() OVER (PARTITION BY {partition}
                                ORDER BY e.held_on DESC, p.checked_in_at DESC, p.id) AS r
                        FROM {EVENT_OF_PARTICIPANT} WHERE {}
                     ) latest WHERE r = 1
                     GROUP BY branch_id, kind, category, gender",
                    f.sql()
                ),
            )
            .await?;
        for h in latest {
            let (category, gender) = (
                stored(&h.category, ParticipantCategory::from_str_name)?,
                stored(&h.gender, Gender::from_str_name)?,
            );
            if per_branch {
                out.by_branch
                    .entry(h.branch_id)
                    .or_default()
                    .add(category, gender, h.n);
            } else {
                out.distinct.add(category, gender, h.n);
                out.participants.add(category, gender, h.n);
            }
        }
    }

    let mut f = Filter::tenant(tx, "p.tenant_id");
    held_in_scope(&mut f, period, branch);
    out.presences = presences(tx, f).await?;
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct BranchRow {
    branch_id: String,
}

/// One row per organization present and held event, for `f` over
/// participants `p` and events `e`: the organization as the copy of
/// membership describes it, known organizations only.
async fn presences(tx: &mut Tx, f: Filter) -> Result<Vec<Presence>> {
    let rows: Vec<StoredPresence> = f
        .fetch(
            tx,
            format!(
                "SELECT p.event_id, e.kind AS event_kind, e.held_on, p.organization_id,
                    o.kind AS org_kind, o.governorate
                 FROM {EVENT_OF_PARTICIPANT}
                 JOIN membership_organizations o
                    ON o.tenant_id = p.tenant_id AND o.id = p.organization_id
                 WHERE {} AND p.organization_id <> '' AND o.kind <> ''
                 GROUP BY p.event_id, e.kind, e.held_on, p.organization_id, o.kind, o.governorate
                 ORDER BY p.event_id, p.organization_id",
                f.sql()
            ),
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Presence {
                event_kind: stored(&r.event_kind, EventKind::from_str_name)?,
                organization_kind: stored(&r.org_kind, OrganizationKind::from_str_name)?,
                event_id: r.event_id,
                held_on: r.held_on,
                organization_id: r.organization_id,
                governorate: r.governorate,
            })
        })
        .collect()
}

/// The presences the stakeholder map of `focal` is drawn from: at the held
/// events of `period` that `focal` attended, `focal` itself and every
/// organization present, one row per organization and event.
#[tracing::instrument(skip(tx))]
pub async fn stakeholder_presences(
    tx: &mut Tx,
    focal: &str,
    period: Period,
) -> Result<Vec<Presence>> {
    let mut f = Filter::tenant(tx, "p.tenant_id");
    held_in_scope(&mut f, period, None);
    f.and(
        "p.event_id IN (SELECT x.event_id FROM participants x \
         WHERE x.tenant_id = p.tenant_id AND x.organization_id = ?)",
        [Arg::from(focal)],
    );
    presences(tx, f).await
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
