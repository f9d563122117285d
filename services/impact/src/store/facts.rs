//! The facts, written from the producers' events. Each write is one
//! statement keyed by what the event names and deciding by version in the
//! database, so a redelivery, an older event arriving late or two replicas
//! applying events of one course at once all leave the same rows.

use markaz_kit::db::Tx;
use markaz_kit::error::Result;

/// A course as capacity scheduled it.
pub struct ScheduledCourse<'a> {
    pub course_id: &'a str,
    pub kind: &'a str,
    pub branch_id: &'a str,
    pub end_date: String,
    pub session_count: i64,
    pub status: &'a str,
    pub version: i64,
    pub topics: &'a [String],
}

#[tracing::instrument(skip_all, fields(course = c.course_id))]
pub async fn course_scheduled(tx: &mut Tx, c: &ScheduledCourse<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_courses (tenant_id, course_id, kind, branch_id, end_date,
            session_count, status, version, completed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)
         ON CONFLICT (tenant_id, course_id) DO UPDATE SET
            kind = CASE WHEN impact_courses.version < $8 THEN $3 ELSE impact_courses.kind END,
            branch_id = CASE WHEN impact_courses.version < $8 THEN $4
                ELSE impact_courses.branch_id END,
            end_date = CASE WHEN impact_courses.version < $8 THEN $5
                ELSE impact_courses.end_date END,
            session_count = CASE WHEN impact_courses.version < $8 THEN $6
                ELSE impact_courses.session_count END,
            status = CASE WHEN impact_courses.version < $8 THEN $7
                ELSE impact_courses.status END,
            version = CASE WHEN impact_courses.version < $8 THEN $8
                ELSE impact_courses.version END",
    )
    .bind(&tenant)
    .bind(c.course_id)
    .bind(c.kind)
    .bind(c.branch_id)
    .bind(&c.end_date)
    .bind(c.session_count)
    .bind(c.status)
    .bind(c.version)
    .execute(tx.conn())
    .await?;
    topics(
        tx,
        "impact_course_topics",
        "course_id",
        c.course_id,
        c.version,
        c.topics,
    )
    .await
}

/// A course's completion and its trainees. What the completion says of the
/// course (branch, last day, topics) stands only until a schedule is known.
pub struct CompletedCourse<'a> {
    pub course_id: &'a str,
    pub branch_id: &'a str,
    pub end_date: String,
    pub topics: &'a [String],
}

/// One attendee of a completed course.
pub struct Trainee<'a> {
    pub person_id: &'a str,
    pub organization_id: &'a str,
    pub gender: &'a str,
    pub age_band: &'a str,
    pub completed: bool,
}

#[tracing::instrument(skip_all, fields(course = c.course_id, trainees = trainees.len()))]
pub async fn course_completed(
    tx: &mut Tx,
    c: &CompletedCourse<'_>,
    trainees: &[Trainee<'_>],
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_courses (tenant_id, course_id, kind, branch_id, end_date,
            session_count, status, version, completed)
         VALUES ($1, $2, '', $3, $4, 0, 'completed', 0, 1)
         ON CONFLICT (tenant_id, course_id) DO UPDATE SET completed = 1",
    )
    .bind(&tenant)
    .bind(c.course_id)
    .bind(c.branch_id)
    .bind(&c.end_date)
    .execute(tx.conn())
    .await?;
    topics(
        tx,
        "impact_course_topics",
        "course_id",
        c.course_id,
        0,
        c.topics,
    )
    .await?;
    for t in trainees {
        sqlx::query(
            "INSERT INTO impact_trainees (tenant_id, course_id, person_id, organization_id,
                gender, age_band, completed)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, course_id, person_id) DO NOTHING",
        )
        .bind(&tenant)
        .bind(c.course_id)
        .bind(t.person_id)
        .bind(t.organization_id)
        .bind(t.gender)
        .bind(t.age_band)
        .bind(i64::from(t.completed))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// The topics of an object at one of its versions.
async fn topics(
    tx: &mut Tx,
    table: &'static str,
    key: &'static str,
    id: &str,
    version: i64,
    topics: &[String],
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    for topic in topics {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (tenant_id, {key}, version, topic) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, {key}, version, topic) DO NOTHING"
        )))
        .bind(&tenant)
        .bind(id)
        .bind(version)
        .bind(topic)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// A consultation as capacity recorded it.
pub struct Consultation<'a> {
    pub consultation_id: &'a str,
    pub kind: &'a str,
    pub organization_id: &'a str,
    pub branch_id: &'a str,
    pub held_on: String,
    /// Female, male, undisclosed.
    pub attendees: [i64; 3],
    pub version: i64,
    pub topics: &'a [String],
}

#[tracing::instrument(skip_all, fields(consultation = c.consultation_id))]
pub async fn consultation(tx: &mut Tx, c: &Consultation<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_consultations (tenant_id, consultation_id, kind, organization_id,
            branch_id, held_on, attendees_female, attendees_male, attendees_undisclosed, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, consultation_id) DO UPDATE SET
            kind = CASE WHEN impact_consultations.version < $10 THEN $3
                ELSE impact_consultations.kind END,
            organization_id = CASE WHEN impact_consultations.version < $10 THEN $4
                ELSE impact_consultations.organization_id END,
            branch_id = CASE WHEN impact_consultations.version < $10 THEN $5
                ELSE impact_consultations.branch_id END,
            held_on = CASE WHEN impact_consultations.version < $10 THEN $6
                ELSE impact_consultations.held_on END,
            attendees_female = CASE WHEN impact_consultations.version < $10 THEN $7
                ELSE impact_consultations.attendees_female END,
            attendees_male = CASE WHEN impact_consultations.version < $10 THEN $8
                ELSE impact_consultations.attendees_male END,
            attendees_undisclosed = CASE WHEN impact_consultations.version < $10 THEN $9
                ELSE impact_consultations.attendees_undisclosed END,
            version = CASE WHEN impact_consultations.version < $10 THEN $10
                ELSE impact_consultations.version END",
    )
    .bind(&tenant)
    .bind(c.consultation_id)
    .bind(c.kind)
    .bind(c.organization_id)
    .bind(c.branch_id)
    .bind(&c.held_on)
    .bind(c.attendees[0])
    .bind(c.attendees[1])
    .bind(c.attendees[2])
    .bind(c.version)
    .execute(tx.conn())
    .await?;
    topics(
        tx,
        "impact_consultation_topics",
        "consultation_id",
        c.consultation_id,
        c.version,
        c.topics,
    )
    .await
}

#[tracing::instrument(skip(tx))]
pub async fn incubation_moved(
    tx: &mut Tx,
    organization_id: &str,
    version: i64,
    to_status: &str,
    changed_on: &str,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_incubation_moves (tenant_id, organization_id, version, to_status,
            changed_on)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, organization_id, version) DO NOTHING",
    )
    .bind(&tenant)
    .bind(organization_id)
    .bind(version)
    .bind(to_status)
    .bind(changed_on)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Where a grant's project sits, as grants' events describe it.
pub struct GrantPlace<'a> {
    pub award_id: &'a str,
    pub organization_id: &'a str,
    pub branch_id: &'a str,
    pub sector: &'a str,
    pub organization_kind: &'a str,
}

/// Inserts the award's row if it is not there, with `place` and nothing
/// else known.
async fn award_row(tx: &mut Tx, place: &GrantPlace<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_awards (tenant_id, award_id, organization_id, branch_id, sector,
            organization_kind, amount, currency, awarded_on, outcome, ended_on, spent,
            spent_currency)
         VALUES ($1, $2, $3, $4, $5, $6, 0, '', '', '', '', 0, '')
         ON CONFLICT (tenant_id, award_id) DO NOTHING",
    )
    .bind(&tenant)
    .bind(place.award_id)
    .bind(place.organization_id)
    .bind(place.branch_id)
    .bind(place.sector)
    .bind(place.organization_kind)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(award = place.award_id))]
pub async fn awarded(
    tx: &mut Tx,
    place: &GrantPlace<'_>,
    amount: i64,
    currency: &str,
    awarded_on: &str,
) -> Result<()> {
    award_row(tx, place).await?;
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "UPDATE impact_awards SET amount = $3, currency = $4, awarded_on = $5
         WHERE tenant_id = $1 AND award_id = $2",
    )
    .bind(&tenant)
    .bind(place.award_id)
    .bind(amount)
    .bind(currency)
    .bind(awarded_on)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(award = place.award_id))]
pub async fn project_ended(
    tx: &mut Tx,
    place: &GrantPlace<'_>,
    outcome: &str,
    ended_on: &str,
    spent: i64,
    spent_currency: &str,
) -> Result<()> {
    award_row(tx, place).await?;
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "UPDATE impact_awards SET outcome = $3, ended_on = $4, spent = $5, spent_currency = $6
         WHERE tenant_id = $1 AND award_id = $2",
    )
    .bind(&tenant)
    .bind(place.award_id)
    .bind(outcome)
    .bind(ended_on)
    .bind(spent)
    .bind(spent_currency)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(award = place.award_id, tranche))]
pub async fn disbursed(
    tx: &mut Tx,
    place: &GrantPlace<'_>,
    tranche: i64,
    amount: i64,
    currency: &str,
    disbursed_on: &str,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_disbursements (tenant_id, award_id, tranche_number, amount, currency,
            disbursed_on, branch_id, sector, organization_kind)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, award_id, tranche_number) DO NOTHING",
    )
    .bind(&tenant)
    .bind(place.award_id)
    .bind(tranche)
    .bind(amount)
    .bind(currency)
    .bind(disbursed_on)
    .bind(place.branch_id)
    .bind(place.sector)
    .bind(place.organization_kind)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The newest event of `producer` applied for the tenant.
#[tracing::instrument(skip(tx))]
pub async fn applied(tx: &mut Tx, producer: &str, event_micros: i64, now: i64) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_freshness (tenant_id, producer, last_event_micros, applied_micros)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, producer) DO UPDATE SET
            last_event_micros = CASE WHEN impact_freshness.last_event_micros < $3 THEN $3
                ELSE impact_freshness.last_event_micros END,
            applied_micros = $4",
    )
    .bind(&tenant)
    .bind(producer)
    .bind(event_micros)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Per producer: the newest event applied, and when.
#[tracing::instrument(skip(tx))]
pub async fn freshness(tx: &mut Tx) -> Result<Vec<(String, i64, i64)>> {
    let tenant = tx.tenant().to_owned();
    Ok(sqlx::query_as(
        "SELECT producer, last_event_micros, applied_micros FROM impact_freshness
         WHERE tenant_id = $1 ORDER BY producer",
    )
    .bind(&tenant)
    .fetch_all(tx.conn())
    .await?)
}
