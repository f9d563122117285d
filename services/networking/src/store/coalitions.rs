//! Coalitions, their issues, members and each member's periods.

use std::collections::HashMap;

use markaz_kit::db::{Tx, stored};
use markaz_kit::error::{Error, Result};
use markaz_kit::time::{Date, now_micros};

use super::{Arg, Filter, StatusChange, in_list, text, versioned};
use crate::domain::coalitions::{CoalitionFields, CoalitionStatus};

const COLUMNS: &str = "c.id, c.name_ar, c.name_en, c.charter_ar, c.charter_en, \
     c.lead_organization_id, c.branch_id, c.formed_on, c.status, c.status_since, c.version, \
     c.created_by, c.created_at, c.updated_at";

#[derive(sqlx::FromRow)]
struct StoredCoalition {
    id: String,
    name_ar: String,
    name_en: String,
    charter_ar: String,
    charter_en: String,
    lead_organization_id: String,
    branch_id: String,
    #[sqlx(try_from = "String")]
    formed_on: Date,
    status: String,
    #[sqlx(try_from = "String")]
    status_since: Date,
    version: i64,
    #[allow(dead_code)]
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Coalition {
    pub id: String,
    pub fields: CoalitionFields,
    pub formed_on: Date,
    pub status: CoalitionStatus,
    pub status_since: Date,
    pub history: Vec<StatusChange>,
    pub active_members: i32,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct IssueRow {
    coalition_id: String,
    issue_code: String,
}

#[derive(sqlx::FromRow)]
struct ActiveRow {
    coalition_id: String,
    organization_id: String,
}

async fn with_children(tx: &mut Tx, rows: Vec<StoredCoalition>) -> Result<Vec<Coalition>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut f = Filter::tenant(tx, "tenant_id");
    let list = in_list(&mut f, &ids);
    let issues: Vec<IssueRow> = f
        .fetch(
            tx,
            format!(
                "SELECT coalition_id, issue_code FROM coalition_issues
                 WHERE {} AND coalition_id IN {list} ORDER BY coalition_id, ordinal",
                f.sql()
            ),
        )
        .await?;
    let active: Vec<ActiveRow> = f
        .fetch(
            tx,
            format!(
                "SELECT coalition_id, organization_id FROM coalition_members
                 WHERE {} AND active = 1 AND coalition_id IN {list}",
                f.sql()
            ),
        )
        .await?;
    let mut history = super::status_changes(tx, "coalition", &ids).await?;
    let mut codes: HashMap<String, Vec<String>> = HashMap::new();
    for i in issues {
        codes.entry(i.coalition_id).or_default().push(i.issue_code);
    }
    let mut counts: HashMap<String, i32> = HashMap::new();
    for a in active {
        let _ = a.organization_id;
        *counts.entry(a.coalition_id).or_default() += 1;
    }
    rows.into_iter()
        .map(|r| {
            Ok(Coalition {
                fields: CoalitionFields {
                    name: text(r.name_ar, r.name_en),
                    issue_codes: codes.remove(&r.id).unwrap_or_default(),
                    charter: text(r.charter_ar, r.charter_en),
                    lead_organization_id: r.lead_organization_id,
                    branch_id: r.branch_id,
                },
                formed_on: r.formed_on,
                status: stored(&r.status, CoalitionStatus::from_str_name)?,
                status_since: r.status_since,
                history: history.remove(&r.id).unwrap_or_default(),
                active_members: counts.get(&r.id).copied().unwrap_or(0),
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
                id: r.id,
            })
        })
        .collect()
}

async fn write_issues(tx: &mut Tx, id: &str, codes: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM coalition_issues WHERE tenant_id = $1 AND coalition_id = $2")
        .bind(tx.tenant().to_owned())
        .bind(id)
        .execute(tx.conn())
        .await?;
    for (i, c) in codes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO coalition_issues (tenant_id, coalition_id, issue_code, ordinal)
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
pub async fn insert(
    tx: &mut Tx,
    id: &str,
    f: &CoalitionFields,
    formed_on: Date,
    by: &str,
) -> Result<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO coalitions (tenant_id, id, name_ar, name_en, charter_ar, charter_en,
            lead_organization_id, branch_id, formed_on, status, status_since, version,
            created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, 1, $11, $12, $12)",
    )
    .bind(tx.tenant().to_owned())
    .bind(id)
    .bind(&f.name.ar)
    .bind(&f.name.en)
    .bind(&f.charter.ar)
    .bind(&f.charter.en)
    .bind(&f.lead_organization_id)
    .bind(&f.branch_id)
    .bind(formed_on.to_string())
    .bind(CoalitionStatus::Active.as_str_name())
    .bind(by)
    .bind(now)
    .execute(tx.conn())
    .await?;
    write_issues(tx, id, &f.issue_codes).await?;
    super::insert_status_change(
        tx,
        "coalition",
        id,
        CoalitionStatus::Unspecified.as_str_name(),
        CoalitionStatus::Active.as_str_name(),
        &formed_on.to_string(),
        "",
        by,
    )
    .await
}

#[tracing::instrument(skip(tx))]
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Coalition>> {
    let mut f = Filter::tenant(tx, "c.tenant_id");
    f.and("c.id = ?", [Arg::from(id)]);
    let rows: Vec<StoredCoalition> = f
        .fetch(
            tx,
            format!("SELECT {COLUMNS} FROM coalitions c WHERE {}", f.sql()),
        )
        .await?;
    Ok(with_children(tx, rows).await?.pop())
}

/// The condition "organization `?` is an active member of coalition `c`".
pub const HAS_ACTIVE_MEMBER: &str = "EXISTS (SELECT 1 FROM coalition_members m \
     WHERE m.tenant_id = c.tenant_id AND m.coalition_id = c.id AND m.organization_id = ? \
     AND m.active = 1)";

#[derive(Debug, Clone, Default)]
pub struct CoalitionFilter {
    pub status: String,
    pub issue_code: String,
    pub organization_id: String,
    pub branch_id: String,
    pub nothing: bool,
}

#[tracing::instrument(skip(tx))]
pub async fn list(
    tx: &mut Tx,
    q: &CoalitionFilter,
    after: &str,
    limit: i64,
) -> Result<(Vec<Coalition>, i32)> {
    let mut f = Filter::tenant(tx, "c.tenant_id");
    if q.nothing {
        f.and("1 = 0", []);
    }
    f.when(&q.status, "c.status = ?")
        .when(&q.branch_id, "c.branch_id = ?")
        .when(
            &q.issue_code,
            "EXISTS (SELECT 1 FROM coalition_issues x WHERE x.tenant_id = c.tenant_id \
             AND x.coalition_id = c.id AND x.issue_code = ?)",
        )
        .when(&q.organization_id, HAS_ACTIVE_MEMBER);
    let total = f.count(tx, "coalitions c").await?;
    let mut page = f.clone();
    page.when(after, "c.id > ?");
    let limit = page.bind(limit);
    let rows: Vec<StoredCoalition> = page
        .fetch(
            tx,
            format!(
                "SELECT {COLUMNS} FROM coalitions c WHERE {} ORDER BY c.id LIMIT {limit}",
                page.sql()
            ),
        )
        .await?;
    Ok((with_children(tx, rows).await?, total))
}

#[tracing::instrument(skip(tx, current, f))]
pub async fn update(tx: &mut Tx, current: &Coalition, f: &CoalitionFields) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE coalitions SET name_ar = $3, name_en = $4, charter_ar = $5, charter_en = $6,
                lead_organization_id = $7, branch_id = $8, version = version + 1, updated_at = $9
             WHERE tenant_id = $1 AND id = $2 AND version = $10",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(&f.name.ar)
        .bind(&f.name.en)
        .bind(&f.charter.ar)
        .bind(&f.charter.en)
        .bind(&f.lead_organization_id)
        .bind(&f.branch_id)
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    write_issues(tx, &current.id, &f.issue_codes).await
}

#[tracing::instrument(skip(tx, current))]
pub async fn set_status(
    tx: &mut Tx,
    current: &Coalition,
    to: CoalitionStatus,
    on: Date,
    reason: &str,
    by: &str,
) -> Result<()> {
    versioned(
        tx,
        sqlx::query(
            "UPDATE coalitions SET status = $3, status_since = $4, version = version + 1,
                updated_at = $5
             WHERE tenant_id = $1 AND id = $2 AND version = $6",
        )
        .bind(tx.tenant().to_owned())
        .bind(&current.id)
        .bind(to.as_str_name())
        .bind(on.to_string())
        .bind(now_micros())
        .bind(current.version),
    )
    .await?;
    super::insert_status_change(
        tx,
        "coalition",
        &current.id,
        current.status.as_str_name(),
        to.as_str_name(),
        &on.to_string(),
        reason,
        by,
    )
    .await
}

/// A new active period (`period_number`, from 1) of a member.
#[tracing::instrument(skip(tx))]
pub async fn join(
    tx: &mut Tx,
    coalition_id: &str,
    organization_id: &str,
    on: Date,
    period_number: usize,
    by: &str,
) -> Result<i64> {
    let now = now_micros();
    let version: i64 = sqlx::query_scalar(
        "INSERT INTO coalition_members (tenant_id, coalition_id, organization_id, active,
            version, updated_at)
         VALUES ($1, $2, $3, 1, 1, $4)
         ON CONFLICT (tenant_id, coalition_id, organization_id)
         DO UPDATE SET active = 1, version = coalition_members.version + 1, updated_at = $4
         RETURNING version",
    )
    .bind(tx.tenant().to_owned())
    .bind(coalition_id)
    .bind(organization_id)
    .bind(now)
    .fetch_one(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO coalition_member_periods (tenant_id, coalition_id, organization_id,
            period_number, joined_on, left_on, leave_reason, joined_by, left_by)
         VALUES ($1, $2, $3, $4, $5, '', '', $6, '')",
    )
    .bind(tx.tenant().to_owned())
    .bind(coalition_id)
    .bind(organization_id)
    .bind(period_number as i64)
    .bind(on.to_string())
    .bind(by)
    .execute(tx.conn())
    .await?;
    Ok(version)
}

/// Ends the open period (`period_number`) of a member.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip(tx))]
pub async fn leave(
    tx: &mut Tx,
    coalition_id: &str,
    organization_id: &str,
    on: Date,
    period_number: usize,
    reason: &str,
    by: &str,
) -> Result<i64> {
    let version: i64 = sqlx::query_scalar(
        "UPDATE coalition_members SET active = 0, version = version + 1, updated_at = $4
         WHERE tenant_id = $1 AND coalition_id = $2 AND organization_id = $3
         RETURNING version",
    )
    .bind(tx.tenant().to_owned())
    .bind(coalition_id)
    .bind(organization_id)
    .bind(now_micros())
    .fetch_one(tx.conn())
    .await?;
    sqlx::query(
        "UPDATE coalition_member_periods SET left_on = $5, leave_reason = $6, left_by = $7
         WHERE tenant_id = $1 AND coalition_id = $2 AND organization_id = $3
            AND period_number = $4",
    )
    .bind(tx.tenant().to_owned())
    .bind(coalition_id)
    .bind(organization_id)
    .bind(period_number as i64)
    .bind(on.to_string())
    .bind(reason)
    .bind(by)
    .execute(tx.conn())
    .await?;
    Ok(version)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Period {
    pub organization_id: String,
    pub joined_on: String,
    pub left_on: String,
    pub leave_reason: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    pub organization_id: String,
    pub active: i64,
    pub updated_at: i64,
    pub name_ar: String,
    pub name_en: String,
    pub kind: String,
}

/// Which members a list shows.
#[derive(Debug, Clone)]
pub enum Which {
    /// Today's members.
    Active,
    /// Every member that ever was.
    Ever,
    /// The members on a day (`YYYY-MM-DD`): a period with `joined_on <= day
    /// < left_on`, open periods (`left_on = ''`) included.
    On(String),
}

/// A page of a coalition's members in the order of their ids, after
/// `after`, with their periods oldest first, and how many there are in all.
#[tracing::instrument(skip(tx))]
pub async fn members_page(
    tx: &mut Tx,
    coalition_id: &str,
    which: &Which,
    after: &str,
    limit: i64,
) -> Result<(Vec<Member>, Vec<Period>, i32)> {
    let mut f = Filter::tenant(tx, "m.tenant_id");
    f.and("m.coalition_id = ?", [Arg::from(coalition_id)]);
    match which {
        Which::Active => {
            f.and("m.active = 1", []);
        }
        Which::Ever => {}
        // Dates are ISO text: their order is the order of the strings.
        Which::On(day) => {
            f.and(
                "EXISTS (SELECT 1 FROM coalition_member_periods p \
                 WHERE p.tenant_id = m.tenant_id AND p.coalition_id = m.coalition_id \
                 AND p.organization_id = m.organization_id \
                 AND p.joined_on <= ? AND (p.left_on = '' OR ? < p.left_on))",
                [Arg::from(day), Arg::from(day)],
            );
        }
    }
    let total = f.count(tx, "coalition_members m").await?;
    f.when(after, "m.organization_id > ?");
    let (members, periods) = read_members(tx, coalition_id, f, Some(limit)).await?;
    Ok((members, periods, total))
}

/// One member, with its periods oldest first (none if it never was one).
#[tracing::instrument(skip(tx))]
pub async fn member_of(
    tx: &mut Tx,
    coalition_id: &str,
    organization_id: &str,
) -> Result<(Vec<Member>, Vec<Period>)> {
    let mut f = Filter::tenant(tx, "m.tenant_id");
    f.and("m.coalition_id = ?", [Arg::from(coalition_id)])
        .and("m.organization_id = ?", [Arg::from(organization_id)]);
    read_members(tx, coalition_id, f, None).await
}

async fn read_members(
    tx: &mut Tx,
    coalition_id: &str,
    mut f: Filter,
    limit: Option<i64>,
) -> Result<(Vec<Member>, Vec<Period>)> {
    let limit = limit.map_or(String::new(), |l| format!(" LIMIT {}", f.bind(l)));
    let members: Vec<Member> = f
        .fetch(
            tx,
            format!(
                "SELECT m.organization_id, m.active, m.updated_at,
                    COALESCE(o.name_ar, '') AS name_ar, COALESCE(o.name_en, '') AS name_en,
                    COALESCE(o.kind, '') AS kind
                 FROM coalition_members m
                 LEFT JOIN membership_organizations o
                    ON o.tenant_id = m.tenant_id AND o.id = m.organization_id
                 WHERE {} ORDER BY m.organization_id{limit}",
                f.sql()
            ),
        )
        .await?;
    if members.is_empty() {
        return Ok((members, Vec::new()));
    }
    let ids: Vec<String> = members.iter().map(|m| m.organization_id.clone()).collect();
    let mut f = Filter::tenant(tx, "tenant_id");
    f.and("coalition_id = ?", [Arg::from(coalition_id)]);
    let list = super::in_list(&mut f, &ids);
    let periods: Vec<Period> = f
        .fetch(
            tx,
            format!(
                "SELECT organization_id, joined_on, left_on, leave_reason
                 FROM coalition_member_periods WHERE {} AND organization_id IN {list}
                 ORDER BY organization_id, period_number",
                f.sql()
            ),
        )
        .await?;
    Ok((members, periods))
}

/// Fails unless a row exists: a member read back after a write.
pub fn member<'a>(members: &'a [Member], organization_id: &str) -> Result<&'a Member> {
    members
        .iter()
        .find(|m| m.organization_id == organization_id)
        .ok_or_else(|| Error::internal("the member just written is gone"))
}
