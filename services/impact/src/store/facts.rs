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
pub async fn course_scheduled(tx: &mut Tx, g: i64, c: &ScheduledCourse<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_courses (tenant_id, generation, course_id, kind, branch_id, end_date,
            session_count, status, version, completed)
         VALUES ($1, $9, $2, $3, $4, $5, $6, $7, $8, 0)
         ON CONFLICT (tenant_id, generation, course_id) DO UPDATE SET
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
    .bind(g)
    .execute(tx.conn())
    .await?;
    topics(
        tx,
        g,
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
    g: i64,
    c: &CompletedCourse<'_>,
    trainees: &[Trainee<'_>],
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_courses (tenant_id, generation, course_id, kind, branch_id, end_date,
            session_count, status, version, completed)
         VALUES ($1, $5, $2, '', $3, $4, 0, 'completed', 0, 1)
         ON CONFLICT (tenant_id, generation, course_id) DO UPDATE SET completed = 1",
    )
    .bind(&tenant)
    .bind(c.course_id)
    .bind(c.branch_id)
    .bind(&c.end_date)
    .bind(g)
    .execute(tx.conn())
    .await?;
    topics(
        tx,
        g,
        "impact_course_topics",
        "course_id",
        c.course_id,
        0,
        c.topics,
    )
    .await?;
    for t in trainees {
        sqlx::query(
            "INSERT INTO impact_trainees (tenant_id, generation, course_id, person_id, organization_id,
                gender, age_band, completed)
             VALUES ($1, $8, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, generation, course_id, person_id) DO NOTHING",
        )
        .bind(&tenant)
        .bind(c.course_id)
        .bind(t.person_id)
        .bind(t.organization_id)
        .bind(t.gender)
        .bind(t.age_band)
        .bind(i64::from(t.completed))
        .bind(g)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// The topics of an object at one of its versions.
async fn topics(
    tx: &mut Tx,
    g: i64,
    table: &'static str,
    key: &'static str,
    id: &str,
    version: i64,
    topics: &[String],
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    for topic in topics {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (tenant_id, generation, {key}, version, topic) VALUES ($1, $5, $2, $3, $4)
             ON CONFLICT (tenant_id, generation, {key}, version, topic) DO NOTHING"
        )))
        .bind(&tenant)
        .bind(id)
        .bind(version)
        .bind(topic)
        .bind(g)
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
    /// Who came, with their gender (`GENDER_*`).
    pub people: Vec<(&'a str, &'static str)>,
    pub version: i64,
    pub topics: &'a [String],
}

#[tracing::instrument(skip_all, fields(consultation = c.consultation_id))]
pub async fn consultation(tx: &mut Tx, g: i64, c: &Consultation<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_consultations (tenant_id, generation, consultation_id, kind, organization_id,
            branch_id, held_on, attendees_female, attendees_male, attendees_undisclosed, version)
         VALUES ($1, $11, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, generation, consultation_id) DO UPDATE SET
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
    .bind(g)
    .execute(tx.conn())
    .await?;
    for (person, gender) in &c.people {
        sqlx::query(
            "INSERT INTO impact_consultation_attendees (tenant_id, generation, consultation_id,
                version, person_id, gender)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, generation, consultation_id, version, person_id) DO NOTHING",
        )
        .bind(&tenant)
        .bind(g)
        .bind(c.consultation_id)
        .bind(c.version)
        .bind(*person)
        .bind(*gender)
        .execute(tx.conn())
        .await?;
    }
    topics(
        tx,
        g,
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
    g: i64,
    organization_id: &str,
    version: i64,
    to_status: &str,
    changed_on: &str,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_incubation_moves (tenant_id, generation, organization_id, version, to_status,
            changed_on)
         VALUES ($1, $6, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, generation, organization_id, version) DO NOTHING",
    )
    .bind(&tenant)
    .bind(organization_id)
    .bind(version)
    .bind(to_status)
    .bind(changed_on)
    .bind(g)
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
async fn award_row(tx: &mut Tx, g: i64, place: &GrantPlace<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_awards (tenant_id, generation, award_id, organization_id, branch_id, sector,
            organization_kind, amount, currency, awarded_on, outcome, ended_on, spent,
            spent_currency)
         VALUES ($1, $7, $2, $3, $4, $5, $6, 0, '', '', '', '', 0, '')
         ON CONFLICT (tenant_id, generation, award_id) DO NOTHING",
    )
    .bind(&tenant)
    .bind(place.award_id)
    .bind(place.organization_id)
    .bind(place.branch_id)
    .bind(place.sector)
    .bind(place.organization_kind)
    .bind(g)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(award = place.award_id))]
pub async fn awarded(
    tx: &mut Tx,
    g: i64,
    place: &GrantPlace<'_>,
    amount: i64,
    currency: &str,
    awarded_on: &str,
) -> Result<()> {
    award_row(tx, g, place).await?;
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "UPDATE impact_awards SET amount = $3, currency = $4, awarded_on = $5
         WHERE tenant_id = $1 AND generation = $6 AND award_id = $2",
    )
    .bind(&tenant)
    .bind(place.award_id)
    .bind(amount)
    .bind(currency)
    .bind(awarded_on)
    .bind(g)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(award = place.award_id))]
pub async fn project_ended(
    tx: &mut Tx,
    g: i64,
    place: &GrantPlace<'_>,
    outcome: &str,
    ended_on: &str,
    spent: i64,
    spent_currency: &str,
) -> Result<()> {
    award_row(tx, g, place).await?;
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "UPDATE impact_awards SET outcome = $3, ended_on = $4, spent = $5, spent_currency = $6
         WHERE tenant_id = $1 AND generation = $7 AND award_id = $2",
    )
    .bind(&tenant)
    .bind(place.award_id)
    .bind(outcome)
    .bind(ended_on)
    .bind(spent)
    .bind(spent_currency)
    .bind(g)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(award = place.award_id, tranche))]
pub async fn disbursed(
    tx: &mut Tx,
    g: i64,
    place: &GrantPlace<'_>,
    tranche: i64,
    amount: i64,
    currency: &str,
    disbursed_on: &str,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_disbursements (tenant_id, generation, award_id, tranche_number, amount, currency,
            disbursed_on, branch_id, sector, organization_kind)
         VALUES ($1, $10, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, generation, award_id, tranche_number) DO NOTHING",
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
    .bind(g)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An event or meeting networking held, at a version.
pub struct EventHeld<'a> {
    pub event_id: &'a str,
    pub kind: &'a str,
    pub branch_id: &'a str,
    pub held_on: String,
    pub version: i64,
    /// Category, gender (`GENDER_*`), participants.
    pub participants: Vec<(&'a str, &'static str, i64)>,
    /// Person, category, gender, age band.
    pub attendees: Vec<(&'a str, &'a str, &'static str, &'static str)>,
}

#[tracing::instrument(skip_all, fields(event = e.event_id))]
pub async fn event_held(tx: &mut Tx, g: i64, e: &EventHeld<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_events_held (tenant_id, generation, event_id, kind, branch_id,
            held_on, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, generation, event_id) DO UPDATE SET
            kind = CASE WHEN impact_events_held.version < $7 THEN $4
                ELSE impact_events_held.kind END,
            branch_id = CASE WHEN impact_events_held.version < $7 THEN $5
                ELSE impact_events_held.branch_id END,
            held_on = CASE WHEN impact_events_held.version < $7 THEN $6
                ELSE impact_events_held.held_on END,
            version = CASE WHEN impact_events_held.version < $7 THEN $7
                ELSE impact_events_held.version END",
    )
    .bind(&tenant)
    .bind(g)
    .bind(e.event_id)
    .bind(e.kind)
    .bind(e.branch_id)
    .bind(&e.held_on)
    .bind(e.version)
    .execute(tx.conn())
    .await?;
    for (category, gender, n) in &e.participants {
        sqlx::query(
            "INSERT INTO impact_event_participants (tenant_id, generation, event_id, version,
                category, gender, participants)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant_id, generation, event_id, version, category, gender) DO NOTHING",
        )
        .bind(&tenant)
        .bind(g)
        .bind(e.event_id)
        .bind(e.version)
        .bind(*category)
        .bind(*gender)
        .bind(*n)
        .execute(tx.conn())
        .await?;
    }
    for (person, category, gender, age_band) in &e.attendees {
        sqlx::query(
            "INSERT INTO impact_event_attendees (tenant_id, generation, event_id, version,
                person_id, category, gender, age_band)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (tenant_id, generation, event_id, version, person_id) DO NOTHING",
        )
        .bind(&tenant)
        .bind(g)
        .bind(e.event_id)
        .bind(e.version)
        .bind(*person)
        .bind(*category)
        .bind(*gender)
        .bind(*age_band)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

#[tracing::instrument(skip(tx))]
pub async fn coalition(
    tx: &mut Tx,
    g: i64,
    coalition_id: &str,
    branch_id: &str,
    formed_on: &str,
    status: &str,
    version: i64,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_coalitions (tenant_id, generation, coalition_id, branch_id, formed_on,
            status, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, generation, coalition_id) DO UPDATE SET
            branch_id = CASE WHEN impact_coalitions.version < $7 THEN $4
                ELSE impact_coalitions.branch_id END,
            formed_on = CASE WHEN impact_coalitions.version < $7 THEN $5
                ELSE impact_coalitions.formed_on END,
            status = CASE WHEN impact_coalitions.version < $7 THEN $6
                ELSE impact_coalitions.status END,
            version = CASE WHEN impact_coalitions.version < $7 THEN $7
                ELSE impact_coalitions.version END",
    )
    .bind(&tenant)
    .bind(g)
    .bind(coalition_id)
    .bind(branch_id)
    .bind(formed_on)
    .bind(status)
    .bind(version)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A membership period of an organization in a coalition.
pub struct CoalitionMember<'a> {
    pub coalition_id: &'a str,
    pub organization_id: &'a str,
    pub period_number: i64,
    pub organization_kind: &'static str,
    pub joined_on: String,
    /// Empty while a member.
    pub left_on: String,
    pub version: i64,
}

#[tracing::instrument(skip_all, fields(coalition = m.coalition_id))]
pub async fn coalition_member(tx: &mut Tx, g: i64, m: &CoalitionMember<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_coalition_members (tenant_id, generation, coalition_id,
            organization_id, period_number, organization_kind, joined_on, left_on, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, generation, coalition_id, organization_id, period_number)
         DO UPDATE SET
            organization_kind = CASE WHEN impact_coalition_members.version < $9 THEN $6
                ELSE impact_coalition_members.organization_kind END,
            joined_on = CASE WHEN impact_coalition_members.version < $9 THEN $7
                ELSE impact_coalition_members.joined_on END,
            left_on = CASE WHEN impact_coalition_members.version < $9 THEN $8
                ELSE impact_coalition_members.left_on END,
            version = CASE WHEN impact_coalition_members.version < $9 THEN $9
                ELSE impact_coalition_members.version END",
    )
    .bind(&tenant)
    .bind(g)
    .bind(m.coalition_id)
    .bind(m.organization_id)
    .bind(m.period_number)
    .bind(m.organization_kind)
    .bind(&m.joined_on)
    .bind(&m.left_on)
    .bind(m.version)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[tracing::instrument(skip(tx))]
#[allow(clippy::too_many_arguments)]
pub async fn campaign(
    tx: &mut Tx,
    g: i64,
    campaign_id: &str,
    branch_id: &str,
    issue_code: &str,
    status: &str,
    launched_on: &str,
    version: i64,
) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_campaigns (tenant_id, generation, campaign_id, branch_id, issue_code,
            status, launched_on, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, generation, campaign_id) DO UPDATE SET
            branch_id = CASE WHEN impact_campaigns.version < $8 THEN $4
                ELSE impact_campaigns.branch_id END,
            issue_code = CASE WHEN impact_campaigns.version < $8 THEN $5
                ELSE impact_campaigns.issue_code END,
            status = CASE WHEN impact_campaigns.version < $8 THEN $6
                ELSE impact_campaigns.status END,
            launched_on = CASE WHEN impact_campaigns.version < $8 THEN $7
                ELSE impact_campaigns.launched_on END,
            version = CASE WHEN impact_campaigns.version < $8 THEN $8
                ELSE impact_campaigns.version END",
    )
    .bind(&tenant)
    .bind(g)
    .bind(campaign_id)
    .bind(branch_id)
    .bind(issue_code)
    .bind(status)
    .bind(launched_on)
    .bind(version)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A library item as resources published it.
pub struct LibraryItem<'a> {
    pub item_id: &'a str,
    pub kind: &'a str,
    pub language: &'a str,
    pub published_on: String,
    pub withdrawn: bool,
    pub version: i64,
    pub topics: &'a [String],
}

#[tracing::instrument(skip_all, fields(item = i.item_id))]
pub async fn library_item(tx: &mut Tx, g: i64, i: &LibraryItem<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_library_items (tenant_id, generation, item_id, kind, language,
            published_on, withdrawn, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, generation, item_id) DO UPDATE SET
            kind = CASE WHEN impact_library_items.version < $8 THEN $4
                ELSE impact_library_items.kind END,
            language = CASE WHEN impact_library_items.version < $8 THEN $5
                ELSE impact_library_items.language END,
            published_on = CASE WHEN impact_library_items.version < $8 THEN $6
                ELSE impact_library_items.published_on END,
            withdrawn = CASE WHEN impact_library_items.version < $8 THEN $7
                ELSE impact_library_items.withdrawn END,
            version = CASE WHEN impact_library_items.version < $8 THEN $8
                ELSE impact_library_items.version END",
    )
    .bind(&tenant)
    .bind(g)
    .bind(i.item_id)
    .bind(i.kind)
    .bind(i.language)
    .bind(&i.published_on)
    .bind(i64::from(i.withdrawn))
    .bind(i.version)
    .execute(tx.conn())
    .await?;
    topics(
        tx,
        g,
        "impact_library_topics",
        "item_id",
        i.item_id,
        i.version,
        i.topics,
    )
    .await
}

/// An item's downloads in a month: the highest running total seen, so a
/// redelivery or an older event changes nothing.
#[tracing::instrument(skip(tx))]
pub async fn downloads(tx: &mut Tx, g: i64, item_id: &str, month: &str, total: i64) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_downloads (tenant_id, generation, item_id, month, downloads)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, generation, item_id, month) DO UPDATE SET
            downloads = CASE WHEN impact_downloads.downloads < $5 THEN $5
                ELSE impact_downloads.downloads END",
    )
    .bind(&tenant)
    .bind(g)
    .bind(item_id)
    .bind(month)
    .bind(total)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A booking of the space, at a version; a cancellation is a booking whose
/// status is `cancelled` (what else it says stands until a newer version).
pub struct Booking<'a> {
    pub booking_id: &'a str,
    pub branch_id: &'a str,
    pub space_kind: &'a str,
    pub organization_id: &'a str,
    pub starts_on: String,
    pub status: &'a str,
    pub version: i64,
}

#[tracing::instrument(skip_all, fields(booking = b.booking_id))]
pub async fn booking(tx: &mut Tx, g: i64, b: &Booking<'_>) -> Result<()> {
    let tenant = tx.tenant().to_owned();
    sqlx::query(
        "INSERT INTO impact_bookings (tenant_id, generation, booking_id, branch_id, space_kind,
            organization_id, starts_on, status, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, generation, booking_id) DO UPDATE SET
            branch_id = CASE WHEN impact_bookings.version < $9 AND $4 <> '' THEN $4
                ELSE impact_bookings.branch_id END,
            space_kind = CASE WHEN impact_bookings.version < $9 AND $5 <> '' THEN $5
                ELSE impact_bookings.space_kind END,
            organization_id = CASE WHEN impact_bookings.version < $9 THEN $6
                ELSE impact_bookings.organization_id END,
            starts_on = CASE WHEN impact_bookings.version < $9 THEN $7
                ELSE impact_bookings.starts_on END,
            status = CASE WHEN impact_bookings.version < $9 THEN $8
                ELSE impact_bookings.status END,
            version = CASE WHEN impact_bookings.version < $9 THEN $9
                ELSE impact_bookings.version END",
    )
    .bind(&tenant)
    .bind(g)
    .bind(b.booking_id)
    .bind(b.branch_id)
    .bind(b.space_kind)
    .bind(b.organization_id)
    .bind(&b.starts_on)
    .bind(b.status)
    .bind(b.version)
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

/// When an event was last applied for the tenant (0: never): it moves with
/// every event the consumer applies, so a watch recounts only after it did.
#[tracing::instrument(skip(tx))]
pub async fn marker(tx: &mut Tx) -> Result<i64> {
    let tenant = tx.tenant().to_owned();
    let latest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(applied_micros) FROM impact_freshness WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_one(tx.conn())
            .await?;
    Ok(latest.unwrap_or(0))
}
