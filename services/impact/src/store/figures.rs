//! The figures, counted in SQL from the facts: one statement per figure
//! (the split) and one for its total, whatever the size of the period —
//! nothing is loaded into memory to be added up.
//!
//! Every indicator's [`Source`] is a `SELECT` of the same columns — the
//! tenant, the record counted (`subject`, `kind`), its quantity, the day it
//! counts on, and one `d_*` column per dimension it has — and the figure is
//! that select, filtered and grouped.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;
use markaz_kit::sql::Where;
use markaz_proto::impact::v1::{Dimension, Measure};
use sqlx::{AssertSqlSafe, Row};

use crate::domain::{Family, Indicator, Scheme, Scope, Source};

/// The column of a dimension in a source's select.
fn column(d: Dimension) -> &'static str {
    match d {
        Dimension::Gender => "f.d_gender",
        Dimension::AgeBand => "f.d_age_band",
        Dimension::Branch => "f.d_branch",
        Dimension::Topic => "f.d_topic",
        Dimension::CourseKind => "f.d_course_kind",
        Dimension::ConsultationKind => "f.d_consultation_kind",
        Dimension::OrganizationKind => "f.d_organization_kind",
        Dimension::IncubationStatus => "f.d_incubation_status",
        Dimension::Sector => "f.d_sector",
        Dimension::Currency => "f.d_currency",
        Dimension::EventKind => "f.d_event_kind",
        Dimension::ParticipantCategory => "f.d_participant_category",
        Dimension::ResourceKind => "f.d_resource_kind",
        Dimension::SpaceKind => "f.d_space_kind",
        Dimension::Month => "substr(f.on_date, 1, 7)",
        Dimension::Year => "substr(f.on_date, 1, 4)",
        Dimension::Quarter => {
            "substr(f.on_date, 1, 4) || '-Q' || \
             CAST((CAST(substr(f.on_date, 6, 2) AS INTEGER) + 2) / 3 AS TEXT)"
        }
        Dimension::Unspecified => "''",
    }
}

/// The expression a figure is grouped by for `d`: its column, or the
/// groups of the scheme chosen for it (the scheme's own constants, never a
/// request's text).
fn key(d: Dimension, schemes: &[(Dimension, &Scheme)]) -> String {
    match schemes.iter().find(|(x, _)| *x == d) {
        None => column(d).to_string(),
        Some((_, s)) => {
            let mut case = format!("CASE {}", column(d));
            for (group, values) in s.groups {
                for v in *values {
                    case.push_str(&format!(" WHEN '{v}' THEN '{group}'"));
                }
            }
            case.push_str(&format!(" ELSE '{}' END", s.other));
            case
        }
    }
}

/// `alias`'s rows of its family's current generation: the figures never
/// read a generation a rebuild is still filling, nor one it retired.
fn current(alias: &str, family: Family) -> String {
    format!(
        "{alias}.generation = (SELECT generation FROM impact_generations
            WHERE family = '{}' AND state = 'current')",
        family.name()
    )
}

/// The select of a source's records, `$1` the tenant. The topics are joined
/// only when the figure uses them (a course of two topics is two rows
/// there).
fn source(s: Source, topics: bool) -> String {
    let organization = |alias: &str, key: &str| {
        format!(
            "LEFT JOIN membership_organizations {alias}
                ON {alias}.tenant_id = $1 AND {alias}.id = {key}"
        )
    };
    let topic = |alias: &str| {
        if topics {
            format!(", {alias}.topic AS d_topic")
        } else {
            String::new()
        }
    };
    let join_topics = |table: &str, alias: &str, parent: &str, key: &str| {
        if topics {
            format!(
                " JOIN {table} {alias} ON {alias}.tenant_id = {parent}.tenant_id
                    AND {alias}.generation = {parent}.generation
                    AND {alias}.{key} = {parent}.{key} AND {alias}.version = {parent}.version"
            )
        } else {
            String::new()
        }
    };
    match s {
        Source::Trainees => format!(
            "SELECT t.tenant_id, 'person' AS kind, t.person_id AS subject, 1 AS amount,
                c.end_date AS on_date, '' AS d_currency,
                t.gender AS d_gender, t.age_band AS d_age_band, c.branch_id AS d_branch,
                c.kind AS d_course_kind, COALESCE(o.kind, '') AS d_organization_kind,
                COALESCE(o.incubation_status, '') AS d_incubation_status{topic}
             FROM impact_trainees t
             JOIN impact_courses c ON c.tenant_id = t.tenant_id
                AND c.generation = t.generation AND c.course_id = t.course_id AND c.completed = 1
             {org}{join}
             WHERE t.tenant_id = $1 AND {cur}",
            org = organization("o", "t.organization_id"),
            topic = topic("ct"),
            join = join_topics("impact_course_topics", "ct", "c", "course_id"),
            cur = current("t", Family::Courses),
        ),
        Source::Courses => format!(
            "SELECT c.tenant_id, 'course' AS kind, c.course_id AS subject,
                c.session_count AS amount, c.end_date AS on_date, '' AS d_currency,
                c.branch_id AS d_branch, c.kind AS d_course_kind{topic}
             FROM impact_courses c{join}
             WHERE c.tenant_id = $1 AND c.completed = 1 AND {cur}",
            topic = topic("ct"),
            join = join_topics("impact_course_topics", "ct", "c", "course_id"),
            cur = current("c", Family::Courses),
        ),
        Source::Consultations => format!(
            "SELECT k.tenant_id, 'consultation' AS kind, k.consultation_id AS subject,
                1 AS amount, k.held_on AS on_date, '' AS d_currency,
                k.branch_id AS d_branch, k.kind AS d_consultation_kind,
                COALESCE(o.kind, '') AS d_organization_kind,
                COALESCE(o.incubation_status, '') AS d_incubation_status{topic}
             FROM impact_consultations k
             {org}{join}
             WHERE k.tenant_id = $1 AND {cur}",
            org = organization("o", "k.organization_id"),
            topic = topic("kt"),
            join = join_topics("impact_consultation_topics", "kt", "k", "consultation_id"),
            cur = current("k", Family::Consultations),
        ),
        Source::ConsultationAttendances => [
            ("GENDER_FEMALE", "attendees_female"),
            ("GENDER_MALE", "attendees_male"),
            ("GENDER_UNDISCLOSED", "attendees_undisclosed"),
        ]
        .iter()
        .map(|(gender, count)| {
            format!(
                "SELECT k.tenant_id, 'consultation' AS kind, k.consultation_id AS subject,
                    k.{count} AS amount, k.held_on AS on_date, '' AS d_currency,
                    '{gender}' AS d_gender, k.branch_id AS d_branch,
                    k.kind AS d_consultation_kind{topic}
                 FROM impact_consultations k{join}
                 WHERE k.tenant_id = $1 AND k.{count} > 0 AND {cur}",
                topic = topic("kt"),
                join = join_topics("impact_consultation_topics", "kt", "k", "consultation_id"),
                cur = current("k", Family::Consultations),
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL "),
        Source::ConsultationBeneficiaries => format!(
            "SELECT k.tenant_id, 'person' AS kind, a.person_id AS subject, 1 AS amount,
                k.held_on AS on_date, '' AS d_currency, a.gender AS d_gender,
                k.branch_id AS d_branch, k.kind AS d_consultation_kind{topic}
             FROM impact_consultations k
             JOIN impact_consultation_attendees a ON a.tenant_id = k.tenant_id
                AND a.generation = k.generation AND a.consultation_id = k.consultation_id
                AND a.version = k.version{join}
             WHERE k.tenant_id = $1 AND {cur}",
            topic = topic("kt"),
            join = join_topics("impact_consultation_topics", "kt", "k", "consultation_id"),
            cur = current("k", Family::Consultations),
        ),
        Source::IncubationMoves(to) => format!(
            "SELECT m.tenant_id, 'organization' AS kind, m.organization_id AS subject,
                1 AS amount, m.changed_on AS on_date, '' AS d_currency,
                COALESCE(o.branch_id, '') AS d_branch,
                COALESCE(o.kind, '') AS d_organization_kind
             FROM impact_incubation_moves m
             {org}
             WHERE m.tenant_id = $1 AND m.to_status = '{status}' AND {cur}",
            org = organization("o", "m.organization_id"),
            status = to.status(),
            cur = current("m", Family::Incubation),
        ),
        Source::Awards => award_select(
            "a.amount",
            "a.currency",
            "a.awarded_on",
            "a.awarded_on <> ''",
        ),
        Source::CompletedProjects => award_select(
            "a.amount",
            "a.currency",
            "a.ended_on",
            "a.outcome = 'PROJECT_OUTCOME_COMPLETED'",
        ),
        Source::Spending => award_select(
            "a.spent",
            "a.spent_currency",
            "a.ended_on",
            "a.outcome <> ''",
        ),
        Source::Disbursements => format!(
            "SELECT d.tenant_id, 'disbursement' AS kind,
                d.award_id || ':' || CAST(d.tranche_number AS TEXT) AS subject,
                d.amount AS amount, d.disbursed_on AS on_date, d.currency AS d_currency,
                d.branch_id AS d_branch, d.sector AS d_sector,
                d.organization_kind AS d_organization_kind
             FROM impact_disbursements d
             WHERE d.tenant_id = $1 AND {}",
            current("d", Family::Grants)
        ),
        Source::EventsHeld(kind) => format!(
            "SELECT e.tenant_id, 'event' AS kind, e.event_id AS subject, 1 AS amount,
                e.held_on AS on_date, '' AS d_currency, e.branch_id AS d_branch,
                e.kind AS d_event_kind
             FROM impact_events_held e
             WHERE e.tenant_id = $1 AND {}{}",
            current("e", Family::Networking),
            kind.map(|k| format!(" AND e.kind = '{k}'"))
                .unwrap_or_default()
        ),
        Source::EventParticipants => format!(
            "SELECT e.tenant_id, 'event' AS kind, e.event_id AS subject,
                p.participants AS amount, e.held_on AS on_date, '' AS d_currency,
                p.gender AS d_gender, p.category AS d_participant_category,
                e.branch_id AS d_branch, e.kind AS d_event_kind
             FROM impact_events_held e
             JOIN impact_event_participants p ON p.tenant_id = e.tenant_id
                AND p.generation = e.generation AND p.event_id = e.event_id
                AND p.version = e.version
             WHERE e.tenant_id = $1 AND {}",
            current("e", Family::Networking)
        ),
        Source::EventPeople => format!(
            "SELECT e.tenant_id, 'person' AS kind, a.person_id AS subject, 1 AS amount,
                e.held_on AS on_date, '' AS d_currency, a.gender AS d_gender,
                a.age_band AS d_age_band, a.category AS d_participant_category,
                e.branch_id AS d_branch, e.kind AS d_event_kind
             FROM impact_events_held e
             JOIN impact_event_attendees a ON a.tenant_id = e.tenant_id
                AND a.generation = e.generation AND a.event_id = e.event_id
                AND a.version = e.version
             WHERE e.tenant_id = $1 AND {}",
            current("e", Family::Networking)
        ),
        Source::CoalitionsFormed => format!(
            "SELECT c.tenant_id, 'coalition' AS kind, c.coalition_id AS subject, 1 AS amount,
                c.formed_on AS on_date, '' AS d_currency, c.branch_id AS d_branch
             FROM impact_coalitions c
             WHERE c.tenant_id = $1 AND c.formed_on <> '' AND {}",
            current("c", Family::Networking)
        ),
        Source::CoalitionMembers => format!(
            "SELECT m.tenant_id, 'organization' AS kind, m.organization_id AS subject,
                1 AS amount, m.joined_on AS on_date, '' AS d_currency,
                COALESCE(c.branch_id, '') AS d_branch,
                m.organization_kind AS d_organization_kind
             FROM impact_coalition_members m
             LEFT JOIN impact_coalitions c ON c.tenant_id = m.tenant_id
                AND c.generation = m.generation AND c.coalition_id = m.coalition_id
             WHERE m.tenant_id = $1 AND {}",
            current("m", Family::Networking)
        ),
        Source::CampaignsLaunched => format!(
            "SELECT c.tenant_id, 'campaign' AS kind, c.campaign_id AS subject, 1 AS amount,
                c.launched_on AS on_date, '' AS d_currency, c.branch_id AS d_branch
             FROM impact_campaigns c
             WHERE c.tenant_id = $1 AND c.launched_on <> '' AND {}",
            current("c", Family::Networking)
        ),
        Source::LibraryItems => format!(
            "SELECT i.tenant_id, 'library_item' AS kind, i.item_id AS subject, 1 AS amount,
                i.published_on AS on_date, '' AS d_currency, i.kind AS d_resource_kind{topic}
             FROM impact_library_items i{join}
             WHERE i.tenant_id = $1 AND i.withdrawn = 0 AND i.published_on <> '' AND {cur}",
            topic = topic("it"),
            join = join_topics("impact_library_topics", "it", "i", "item_id"),
            cur = current("i", Family::Library),
        ),
        Source::LibraryDownloads => format!(
            "SELECT d.tenant_id, 'library_item' AS kind, d.item_id AS subject,
                d.downloads AS amount, d.month || '-01' AS on_date, '' AS d_currency,
                COALESCE(i.kind, '') AS d_resource_kind{topic}
             FROM impact_downloads d
             LEFT JOIN impact_library_items i ON i.tenant_id = d.tenant_id
                AND i.generation = d.generation AND i.item_id = d.item_id{join}
             WHERE d.tenant_id = $1 AND {cur}",
            topic = topic("it"),
            join = if topics {
                " JOIN impact_library_topics it ON it.tenant_id = i.tenant_id
                    AND it.generation = i.generation AND it.item_id = i.item_id
                    AND it.version = i.version"
            } else {
                ""
            },
            cur = current("d", Family::Library),
        ),
        Source::Bookings => format!(
            "SELECT b.tenant_id, 'booking' AS kind, b.booking_id AS subject, 1 AS amount,
                b.starts_on AS on_date, '' AS d_currency, b.branch_id AS d_branch,
                b.space_kind AS d_space_kind
             FROM impact_bookings b
             WHERE b.tenant_id = $1 AND b.status <> 'cancelled' AND {}",
            current("b", Family::Space)
        ),
        Source::SpaceUsers => format!(
            "SELECT b.tenant_id, 'organization' AS kind, b.organization_id AS subject,
                1 AS amount, b.starts_on AS on_date, '' AS d_currency,
                b.branch_id AS d_branch, b.space_kind AS d_space_kind
             FROM impact_bookings b
             WHERE b.tenant_id = $1 AND b.organization_id <> ''
                AND b.status IN ('confirmed', 'checked_in') AND {}",
            current("b", Family::Space)
        ),
    }
}

fn award_select(amount: &str, currency: &str, on: &str, condition: &str) -> String {
    format!(
        "SELECT a.tenant_id, 'award' AS kind, a.award_id AS subject, {amount} AS amount,
            {on} AS on_date, {currency} AS d_currency, a.branch_id AS d_branch,
            a.sector AS d_sector, a.organization_kind AS d_organization_kind
         FROM impact_awards a
         WHERE a.tenant_id = $1 AND {condition} AND {}",
        current("a", Family::Grants)
    )
}

/// The records of `indicator` in `scope`: `FROM (<source>) f WHERE ...`.
fn scoped(tx: &Tx, indicator: &Indicator, scope: &Scope, topics: bool) -> (String, Where) {
    let mut w = Where::tenant("f.tenant_id", tx.tenant());
    w.compare("f.on_date", ">=", &scope.from.to_string())
        .compare("f.on_date", "<=", &scope.until.to_string())
        .eq("f.d_branch", &scope.filters.branch_id)
        .eq("f.d_gender", &scope.filters.gender)
        .eq("f.d_topic", &scope.filters.topic);
    (format!("FROM ({}) f", source(indicator.source, topics)), w)
}

fn measure(indicator: &Indicator) -> &'static str {
    match indicator.measure {
        Measure::Sum => "CAST(COALESCE(SUM(f.amount), 0) AS BIGINT)",
        _ => "COUNT(DISTINCT f.subject)",
    }
}

/// One group of a figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub key: Vec<String>,
    pub value: i64,
}

/// The figure of `indicator` in `scope`, split by `group_by`, and its total
/// (0 for money: see the cells, always split by currency — put first in
/// each key when the request did not ask for it).
#[tracing::instrument(skip_all, fields(indicator = indicator.code))]
pub async fn figure(
    tx: &mut Tx,
    indicator: &Indicator,
    scope: &Scope,
    group_by: &[Dimension],
    schemes: &[(Dimension, &Scheme)],
) -> Result<(i64, Vec<Cell>)> {
    let mut split = group_by.to_vec();
    if indicator.is_money() && !split.contains(&Dimension::Currency) {
        split.insert(0, Dimension::Currency);
    }
    let topics_filtered = !scope.filters.topic.is_empty();
    let total = if indicator.is_money() {
        0
    } else {
        let (from, w) = scoped(tx, indicator, scope, topics_filtered);
        let sql = format!("SELECT {} {from} {}", measure(indicator), w.sql());
        let row = sqlx::query_with(AssertSqlSafe(sql), w.arguments()?)
            .fetch_one(tx.conn())
            .await?;
        row.try_get::<i64, _>(0)?
    };
    if split.is_empty() {
        return Ok((total, Vec::new()));
    }
    let topics = topics_filtered || split.contains(&Dimension::Topic);
    let (from, w) = scoped(tx, indicator, scope, topics);
    let keys: Vec<String> = split.iter().map(|d| key(*d, schemes)).collect();
    let keys = keys.join(", ");
    let sql = format!(
        "SELECT {keys}, {} {from} {} GROUP BY {keys} ORDER BY {keys}",
        measure(indicator),
        w.sql()
    );
    let rows = sqlx::query_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let mut cells = Vec::with_capacity(rows.len());
    for row in rows {
        let mut key = Vec::with_capacity(split.len());
        for i in 0..split.len() {
            key.push(row.try_get::<String, _>(i)?);
        }
        cells.push(Cell {
            key,
            value: row.try_get::<i64, _>(split.len())?,
        });
    }
    Ok((total, cells))
}

/// A record a figure counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub kind: String,
    pub id: String,
    pub value: i64,
    pub on_date: String,
    pub currency: String,
}

/// The records of `indicator` in `scope` after the subject `after`, at most
/// `limit`, and how many there are in all. A record in several rows of the
/// source (a course's topics, a consultation's genders) is one record; its
/// quantity is its rows' sum, its day the earliest.
#[tracing::instrument(skip_all, fields(indicator = indicator.code))]
pub async fn records(
    tx: &mut Tx,
    indicator: &Indicator,
    scope: &Scope,
    after: &str,
    limit: i64,
) -> Result<(Vec<Counted>, i64)> {
    let topics = !scope.filters.topic.is_empty();
    let (from, w) = scoped(tx, indicator, scope, topics);
    let sql = format!("SELECT COUNT(DISTINCT f.subject) {from} {}", w.sql());
    let total: i64 = sqlx::query_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_one(tx.conn())
        .await?
        .try_get(0)?;
    let (from, mut w) = scoped(tx, indicator, scope, topics);
    w.compare("f.subject", ">", after);
    let limit = w.param(limit);
    // A course counted on two topics is one record: its quantity once.
    let quantity = match indicator.measure {
        // Sources with several rows per record, each a part of it.
        Measure::Sum
            if matches!(
                indicator.source,
                Source::ConsultationAttendances
                    | Source::EventParticipants
                    | Source::LibraryDownloads
            ) =>
        {
            "CAST(SUM(f.amount) AS BIGINT)"
        }
        Measure::Sum => "CAST(MAX(f.amount) AS BIGINT)",
        _ => "CAST(1 AS BIGINT)",
    };
    let sql = format!(
        "SELECT MIN(f.kind), f.subject, {quantity}, MIN(f.on_date), MIN(f.d_currency)
         {from} {} GROUP BY f.subject ORDER BY f.subject LIMIT {limit}",
        w.sql()
    );
    let rows = sqlx::query_with(AssertSqlSafe(sql), w.arguments()?)
        .fetch_all(tx.conn())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(Counted {
            kind: row.try_get(0)?,
            id: row.try_get(1)?,
            value: row.try_get(2)?,
            on_date: row.try_get(3)?,
            currency: row.try_get(4)?,
        });
    }
    Ok((out, total))
}
