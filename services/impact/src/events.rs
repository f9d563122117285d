//! Impact's consumer: the only way a fact gets into the service. It reads
//! capacity's courses and consultations, membership's organizations,
//! people and incubation moves (through `markaz-membership-copies`), and
//! grants' awards, tranches and project ends — and, for every event it
//! applies, notes how far that producer's events have come for the tenant
//! (the figures' freshness).
//!
//! Each event is applied in the transaction of its inbox row (a redelivery
//! has no second effect), and each write decides by version or by key, so
//! events out of order across producers arrive at the same facts.

use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::events::{Handler, On, Router};
use markaz_kit::rpc::{parse_id, parse_optional_id};
use markaz_kit::time::{Date, micros_of, now_micros};
use markaz_membership_copies::{Change, Reactions};
use markaz_proto::common::v1::{AgeBand, Gender, OrganizationKind, Sector};
use markaz_proto::events::v1 as ev;
use markaz_proto::events::v1::Envelope;

use std::collections::BTreeMap;

use crate::domain::Family;
use crate::store::facts::{
    self, Booking, CoalitionMember, CompletedCourse, Consultation, EventHeld, GrantPlace,
    LibraryItem, ScheduledCourse, Trainee,
};
use crate::store::{funded, generations};

/// The producers whose events impact reads.
pub const CAPACITY: &str = "capacity";
pub const GRANTS: &str = "grants";
pub const NETWORKING: &str = "networking";
pub const RESOURCES: &str = "resources";

/// Where the handlers write.
#[derive(Debug, Default)]
pub enum Target {
    /// The live consumer: every generation of the family that is current
    /// or being built, so a rebuild misses nothing that arrives meanwhile.
    #[default]
    Live,
    /// A rebuild's replay: the generations it builds, nothing else.
    Rebuild(BTreeMap<Family, i64>),
}

/// The state of impact's consumer.
#[derive(Debug, Default)]
pub struct ImpactEvents {
    target: Target,
}

impl ImpactEvents {
    /// The generations of `family` an event is written to.
    async fn generations(&self, tx: &mut Tx, family: Family) -> Result<Vec<i64>> {
        match &self.target {
            Target::Live => generations::live(tx, family).await,
            Target::Rebuild(built) => Ok(built.get(&family).copied().into_iter().collect()),
        }
    }
}

/// Told each time this process's consumer applies an event, so the donors'
/// watches wake on writes rather than only on a timer. It is said inside
/// the event's transaction, just before it commits: a watch woken by it
/// waits for the tenant's freshness marker ([`facts::marker`]) to move
/// before it recounts. One per process (the consumer and the API are built
/// apart); a write in another replica reaches a watch by its timer.
static WRITES: std::sync::LazyLock<tokio::sync::watch::Sender<u64>> =
    std::sync::LazyLock::new(|| tokio::sync::watch::Sender::new(0));

/// A receiver of [`WRITES`].
pub(crate) fn writes() -> tokio::sync::watch::Receiver<u64> {
    WRITES.subscribe()
}

/// The consumer's handler: the router, then the freshness of the producer.
pub struct ImpactConsumer {
    router: Router<ImpactEvents>,
}

/// The consumer, as the runtime runs it.
pub fn consumer() -> ImpactConsumer {
    ImpactConsumer { router: router() }
}

/// Membership's copies, then the facts of capacity, grants, networking and
/// resources.
pub fn router() -> Router<ImpactEvents> {
    facts_routes(markaz_membership_copies::routes(Router::new(
        ImpactEvents::default(),
    )))
    .on::<ev::MilestoneReported>()
}

/// What a rebuild replays the history through: the facts only, written to
/// the generations being built (`built`). Membership's copies are not
/// rebuilt, so its events other than the incubation moves pass by.
pub fn replay_router(built: BTreeMap<Family, i64>) -> Router<ImpactEvents> {
    facts_routes(Router::new(ImpactEvents {
        target: Target::Rebuild(built),
    }))
    .on::<ev::IncubationStatusChanged>()
}

fn facts_routes(router: Router<ImpactEvents>) -> Router<ImpactEvents> {
    router
        .on::<ev::CourseScheduled>()
        .on::<ev::CourseCompleted>()
        .on::<ev::ConsultationHeld>()
        .on::<ev::GrantAwarded>()
        .on::<ev::TrancheDisbursed>()
        .on::<ev::ProjectCompleted>()
        .on::<ev::EventHeld>()
        .on::<ev::CoalitionFormed>()
        .on::<ev::CoalitionChanged>()
        .on::<ev::CoalitionMemberJoined>()
        .on::<ev::CoalitionMemberLeft>()
        .on::<ev::CampaignLaunched>()
        .on::<ev::CampaignChanged>()
        .on::<ev::ResourcePublished>()
        .on::<ev::ResourceDownloaded>()
        .on::<ev::BookingConfirmed>()
        .on::<ev::BookingCancelled>()
}

#[markaz_kit::async_trait]
impl Handler for ImpactConsumer {
    fn handles(&self, event_type: &str) -> bool {
        self.router.handles(event_type)
    }

    async fn handle(&self, tx: &mut Tx, envelope: &Envelope) -> Result<()> {
        self.router.handle(tx, envelope).await?;
        let written = envelope.occurred_at.as_ref().map_or(0, micros_of);
        facts::applied(tx, &envelope.producer, written, now_micros()).await?;
        WRITES.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl Reactions for ImpactEvents {
    /// An incubation move is history: kept by its version, whatever order
    /// the moves arrive in. An erased person needs nothing here: impact
    /// keeps their id, gender and age band (no name, no contact), so the
    /// figures they are in stay right.
    async fn react(&self, tx: &mut Tx, change: &Change) -> Result<()> {
        if let Change::IncubationMoved {
            organization_id,
            to,
            changed_at,
            version,
        } = change
        {
            self.incubation_moved(tx, organization_id, *to, *changed_at, *version)
                .await?;
        }
        Ok(())
    }
}

impl ImpactEvents {
    async fn incubation_moved(
        &self,
        tx: &mut Tx,
        organization_id: &str,
        to: markaz_proto::common::v1::IncubationStatus,
        changed_at: i64,
        version: i64,
    ) -> Result<()> {
        let changed_on = day_of(changed_at);
        for g in self.generations(tx, Family::Incubation).await? {
            facts::incubation_moved(
                tx,
                g,
                organization_id,
                version,
                to.as_str_name(),
                &changed_on,
            )
            .await?;
        }
        Ok(())
    }
}

/// The UTC day of an instant in microseconds.
fn day_of(micros: i64) -> String {
    Date::from_days(micros.div_euclid(86_400_000_000)).to_string()
}

/// In a replay, membership's move straight from its event (live, the
/// copies give it as [`Change::IncubationMoved`]).
#[markaz_kit::async_trait]
impl On<ev::IncubationStatusChanged> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::IncubationStatusChanged) -> Result<()> {
        let id = parse_id("organization_id", &e.organization_id)?;
        if e.version <= 0 {
            return Err(Error::invalid("version", "must be positive"));
        }
        let to = markaz_proto::common::v1::IncubationStatus::try_from(e.to).unwrap_or_default();
        let changed_at = e.changed_at.as_ref().map_or(0, micros_of);
        self.incubation_moved(tx, &id, to, changed_at, e.version)
            .await
    }
}

fn topics(field: &str, codes: &[String]) -> Result<(), markaz_kit::error::FieldViolation> {
    match codes.iter().position(|c| c.is_empty() || c.len() > 64) {
        Some(i) => Err(markaz_kit::error::FieldViolation {
            field: format!("{field}[{i}]"),
            description: "not a topic code".into(),
        }),
        None => Ok(()),
    }
}

#[markaz_kit::async_trait]
impl On<ev::CourseScheduled> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CourseScheduled) -> Result<()> {
        let (id, end, _) = (
            parse_id("course_id", &e.course_id),
            Date::required("end_date", e.end_date.as_ref()),
            topics("topic_codes", &e.topic_codes),
        )
            .all()?;
        if e.version <= 0 {
            return Err(Error::invalid("version", "must be positive"));
        }
        let course = ScheduledCourse {
            course_id: &id,
            kind: &e.kind,
            branch_id: &e.branch_id,
            end_date: end.to_string(),
            session_count: i64::from(e.session_count.max(0)),
            status: &e.status,
            version: e.version,
            topics: &e.topic_codes,
        };
        for g in self.generations(tx, Family::Courses).await? {
            facts::course_scheduled(tx, g, &course).await?;
        }
        Ok(())
    }
}

fn gender(value: i32) -> &'static str {
    Gender::try_from(value).unwrap_or_default().as_str_name()
}

fn age_band(value: i32) -> &'static str {
    AgeBand::try_from(value).unwrap_or_default().as_str_name()
}

#[markaz_kit::async_trait]
impl On<ev::CourseCompleted> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CourseCompleted) -> Result<()> {
        let (id, end, _) = (
            parse_id("course_id", &e.course_id),
            Date::required("end_date", e.end_date.as_ref()),
            topics("topic_codes", &e.topic_codes),
        )
            .all()?;
        let mut ids = Vec::with_capacity(e.participants.len());
        for (i, p) in e.participants.iter().enumerate() {
            ids.push((
                parse_id(&format!("participants[{i}].person_id"), &p.person_id)?,
                parse_optional_id(
                    &format!("participants[{i}].organization_id"),
                    &p.organization_id,
                )?,
            ));
        }
        let completers: std::collections::HashSet<&str> =
            e.completers.iter().map(|c| c.person_id.as_str()).collect();
        let trainees: Vec<Trainee<'_>> = e
            .participants
            .iter()
            .zip(&ids)
            .map(|(p, (person, organization))| Trainee {
                person_id: person,
                organization_id: organization,
                gender: gender(p.gender),
                age_band: age_band(p.age_band),
                completed: completers.contains(p.person_id.as_str()),
            })
            .collect();
        let course = CompletedCourse {
            course_id: &id,
            branch_id: &e.branch_id,
            end_date: end.to_string(),
            topics: &e.topic_codes,
        };
        for g in self.generations(tx, Family::Courses).await? {
            facts::course_completed(tx, g, &course, &trainees).await?;
        }
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl On<ev::ConsultationHeld> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::ConsultationHeld) -> Result<()> {
        let (id, organization, held_on, _) = (
            parse_id("consultation_id", &e.consultation_id),
            parse_optional_id("organization_id", &e.organization_id),
            Date::required("held_on", e.held_on.as_ref()),
            topics("topic_codes", &e.topic_codes),
        )
            .all()?;
        if e.version <= 0 {
            return Err(Error::invalid("version", "must be positive"));
        }
        for (i, a) in e.attendees.iter().enumerate() {
            parse_id(&format!("attendees[{i}].person_id"), &a.person_id)?;
        }
        let consultation = Consultation {
            consultation_id: &id,
            kind: &e.kind,
            organization_id: &organization,
            branch_id: &e.branch_id,
            held_on: held_on.to_string(),
            attendees: [
                i64::from(e.attendees_female.max(0)),
                i64::from(e.attendees_male.max(0)),
                i64::from(e.attendees_undisclosed.max(0)),
            ],
            people: e
                .attendees
                .iter()
                .map(|a| (a.person_id.as_str(), gender(a.gender)))
                .collect(),
            version: e.version,
            topics: &e.topic_codes,
        };
        for g in self.generations(tx, Family::Consultations).await? {
            facts::consultation(tx, g, &consultation).await?;
        }
        Ok(())
    }
}

/// The award's id and its project's place, from a grants event.
fn place<'a>(
    award_id: &'a str,
    context: Option<&'a ev::GrantContext>,
) -> Result<(String, &'a ev::GrantContext)> {
    let c = context.ok_or_else(|| Error::invalid("context", "required"))?;
    let (award, _) = (
        parse_id("award_id", award_id),
        parse_id("context.organization_id", &c.organization_id),
    )
        .all()?;
    Ok((award, c))
}

fn grant_place<'a>(award: &'a str, c: &'a ev::GrantContext) -> GrantPlace<'a> {
    GrantPlace {
        award_id: award,
        organization_id: &c.organization_id,
        branch_id: &c.branch_id,
        sector: Sector::try_from(c.sector).unwrap_or_default().as_str_name(),
        organization_kind: OrganizationKind::try_from(c.organization_kind)
            .unwrap_or_default()
            .as_str_name(),
    }
}

/// The funded project donors see, as a grants event names it.
fn project<'a>(award: &'a str, c: &'a ev::GrantContext) -> funded::Project<'a> {
    funded::Project {
        award_id: award,
        program_id: &c.program_id,
        call_id: &c.call_id,
        organization_id: &c.organization_id,
        branch_id: &c.branch_id,
        sector: Sector::try_from(c.sector).unwrap_or_default().as_str_name(),
        governorate: &c.governorate,
    }
}

fn counts(b: Option<&ev::BeneficiaryCount>) -> Result<funded::Counts> {
    let b = b.cloned().unwrap_or_default();
    if b.female < 0 || b.male < 0 || b.undisclosed < 0 {
        return Err(Error::invalid("beneficiaries", "a count below zero"));
    }
    Ok([b.female, b.male, b.undisclosed])
}

impl ImpactEvents {
    /// The donors' projection is live only: a rebuild replays the facts.
    async fn fund(&self, tx: &mut Tx, p: &funded::Project<'_>, c: &funded::Change) -> Result<()> {
        match self.target {
            Target::Live => funded::apply(tx, p, c).await,
            Target::Rebuild(_) => Ok(()),
        }
    }
}

#[markaz_kit::async_trait]
impl On<ev::MilestoneReported> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::MilestoneReported) -> Result<()> {
        let (award, c) = place(&e.award_id, e.context.as_ref())?;
        if e.milestone_number <= 0 {
            return Err(Error::invalid("milestone_number", "must be positive"));
        }
        let reached = counts(e.beneficiaries_reached.as_ref())?;
        let accepted = e.accepted_at.as_ref().map_or(0, micros_of);
        let change = funded::Change {
            status_rank: 2,
            ..Default::default()
        };
        self.fund(tx, &project(&award, c), &change).await?;
        funded::milestone(
            tx,
            &award,
            i64::from(e.milestone_number),
            &e.report_id,
            accepted,
            reached,
        )
        .await
    }
}

/// Minor units and currency of a required amount.
fn money(field: &str, m: Option<&markaz_proto::common::v1::Money>) -> Result<(i64, String)> {
    match m {
        Some(m) if m.currency_code.len() == 3 && m.minor_units >= 0 => {
            Ok((m.minor_units, m.currency_code.clone()))
        }
        _ => Err(Error::invalid(field, "an amount in a currency is required")),
    }
}

#[markaz_kit::async_trait]
impl On<ev::GrantAwarded> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::GrantAwarded) -> Result<()> {
        let (award, c) = place(&e.award_id, e.context.as_ref())?;
        let (amount, currency) = money("amount", e.amount.as_ref())?;
        let start = Date::required("start_date", e.start_date.as_ref())?;
        let end = Date::optional("end_date", e.end_date.as_ref())?;
        let change = funded::Change {
            status_rank: 1,
            start_date: start.to_string(),
            end_date: end
                .map(|d| d.to_string())
                .unwrap_or_else(|| start.to_string()),
            currency: currency.clone(),
            budget: amount,
            tranche_count: i64::from(e.tranche_count.max(0)),
            targeted: Some(counts(e.beneficiaries_targeted.as_ref())?),
            title: e.title.as_ref().map(|t| {
                let s = e.summary.clone().unwrap_or_default();
                [t.ar.clone(), t.en.clone(), s.ar, s.en]
            }),
            ..Default::default()
        };
        self.fund(tx, &project(&award, c), &change).await?;
        for g in self.generations(tx, Family::Grants).await? {
            facts::awarded(
                tx,
                g,
                &grant_place(&award, c),
                amount,
                &currency,
                &start.to_string(),
            )
            .await?;
        }
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl On<ev::TrancheDisbursed> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::TrancheDisbursed) -> Result<()> {
        let (award, c) = place(&e.award_id, e.context.as_ref())?;
        let (amount, currency) = money("amount", e.amount.as_ref())?;
        let on = Date::required("disbursed_on", e.disbursed_on.as_ref())?;
        if e.tranche_number <= 0 {
            return Err(Error::invalid("tranche_number", "must be positive"));
        }
        let total = match e.disbursed_total.as_ref() {
            Some(_) => money("disbursed_total", e.disbursed_total.as_ref())?.0,
            None => amount,
        };
        let change = funded::Change {
            status_rank: 2,
            currency: currency.clone(),
            disbursed: total,
            last_disbursed_on: on.to_string(),
            ..Default::default()
        };
        self.fund(tx, &project(&award, c), &change).await?;
        for g in self.generations(tx, Family::Grants).await? {
            facts::disbursed(
                tx,
                g,
                &grant_place(&award, c),
                i64::from(e.tranche_number),
                amount,
                &currency,
                &on.to_string(),
            )
            .await?;
        }
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl On<ev::ProjectCompleted> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::ProjectCompleted) -> Result<()> {
        let (award, c) = place(&e.award_id, e.context.as_ref())?;
        let outcome = match ev::ProjectOutcome::try_from(e.outcome) {
            Ok(ev::ProjectOutcome::Unspecified) | Err(_) => {
                return Err(Error::invalid("outcome", "required"));
            }
            Ok(o) => o.as_str_name(),
        };
        let ended = Date::required("ended_on", e.ended_on.as_ref())?;
        let (spent, currency) = match e.spent.as_ref() {
            Some(_) => money("spent", e.spent.as_ref())?,
            None => (0, String::new()),
        };
        let change = funded::Change {
            status_rank: 3,
            outcome: outcome.to_string(),
            ended_on: ended.to_string(),
            currency: currency.clone(),
            spent,
            budget: e.awarded.as_ref().map_or(0, |m| m.minor_units.max(0)),
            disbursed: e.disbursed.as_ref().map_or(0, |m| m.minor_units.max(0)),
            final_reached: Some(counts(e.beneficiaries_reached.as_ref())?),
            ..Default::default()
        };
        self.fund(tx, &project(&award, c), &change).await?;
        for g in self.generations(tx, Family::Grants).await? {
            facts::project_ended(
                tx,
                g,
                &grant_place(&award, c),
                outcome,
                &ended.to_string(),
                spent,
                &currency,
            )
            .await?;
        }
        Ok(())
    }
}

/// A vocabulary word as the events' contract spells it (`confirmed`,
/// `meeting_room`): resources publishes some as their enum names
/// (`BOOKING_STATUS_CONFIRMED`), and both spellings must count alike.
fn word(value: &str, prefix: &str) -> String {
    value
        .strip_prefix(prefix)
        .unwrap_or(value)
        .to_ascii_lowercase()
}

fn positive_version(version: i64) -> Result<i64> {
    if version <= 0 {
        return Err(Error::invalid("version", "must be positive"));
    }
    Ok(version)
}

fn optional_day(field: &str, d: Option<&markaz_proto::common::v1::Date>) -> Result<String> {
    Ok(Date::optional(field, d)?
        .map(|d| d.to_string())
        .unwrap_or_default())
}

#[markaz_kit::async_trait]
impl On<ev::EventHeld> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::EventHeld) -> Result<()> {
        let (id, held_on) = (
            parse_id("event_id", &e.event_id),
            Date::required("held_on", e.held_on.as_ref()),
        )
            .all()?;
        let version = positive_version(e.version)?;
        let mut participants = Vec::new();
        for c in &e.participants {
            for (gender, n) in [
                ("GENDER_FEMALE", c.female),
                ("GENDER_MALE", c.male),
                ("GENDER_UNDISCLOSED", c.undisclosed),
            ] {
                if n > 0 {
                    participants.push((c.category.as_str(), gender, n));
                }
            }
        }
        let mut attendees = Vec::with_capacity(e.attendees.len());
        for (i, a) in e.attendees.iter().enumerate() {
            parse_id(&format!("attendees[{i}].person_id"), &a.person_id)?;
            attendees.push((
                a.person_id.as_str(),
                a.category.as_str(),
                gender(a.gender),
                age_band(a.age_band),
            ));
        }
        let held = EventHeld {
            event_id: &id,
            kind: &e.kind,
            branch_id: &e.branch_id,
            held_on: held_on.to_string(),
            version,
            participants,
            attendees,
        };
        for g in self.generations(tx, Family::Networking).await? {
            facts::event_held(tx, g, &held).await?;
        }
        Ok(())
    }
}

impl ImpactEvents {
    async fn coalition(&self, tx: &mut Tx, c: Option<ev::CoalitionSnapshot>) -> Result<()> {
        let c = c.ok_or_else(|| Error::invalid("coalition", "the event carries no snapshot"))?;
        let id = parse_id("coalition.coalition_id", &c.coalition_id)?;
        let version = positive_version(c.version)?;
        let formed_on = optional_day("coalition.formed_on", c.formed_on.as_ref())?;
        for g in self.generations(tx, Family::Networking).await? {
            facts::coalition(tx, g, &id, &c.branch_id, &formed_on, &c.status, version).await?;
        }
        Ok(())
    }

    async fn campaign(&self, tx: &mut Tx, c: Option<ev::CampaignSnapshot>) -> Result<()> {
        let c = c.ok_or_else(|| Error::invalid("campaign", "the event carries no snapshot"))?;
        let id = parse_id("campaign.campaign_id", &c.campaign_id)?;
        let version = positive_version(c.version)?;
        let launched_on = optional_day("campaign.launched_on", c.launched_on.as_ref())?;
        for g in self.generations(tx, Family::Networking).await? {
            facts::campaign(
                tx,
                g,
                &id,
                &c.branch_id,
                &c.issue_code,
                &c.status,
                &launched_on,
                version,
            )
            .await?;
        }
        Ok(())
    }

    async fn member(&self, tx: &mut Tx, m: CoalitionMember<'_>) -> Result<()> {
        for g in self.generations(tx, Family::Networking).await? {
            facts::coalition_member(tx, g, &m).await?;
        }
        Ok(())
    }

    async fn booking(&self, tx: &mut Tx, b: Booking<'_>) -> Result<()> {
        for g in self.generations(tx, Family::Space).await? {
            facts::booking(tx, g, &b).await?;
        }
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl On<ev::CoalitionFormed> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CoalitionFormed) -> Result<()> {
        self.coalition(tx, e.coalition).await
    }
}

#[markaz_kit::async_trait]
impl On<ev::CoalitionChanged> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CoalitionChanged) -> Result<()> {
        self.coalition(tx, e.coalition).await
    }
}

fn organization_kind(value: i32) -> &'static str {
    OrganizationKind::try_from(value)
        .unwrap_or_default()
        .as_str_name()
}

#[markaz_kit::async_trait]
impl On<ev::CoalitionMemberJoined> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CoalitionMemberJoined) -> Result<()> {
        let (coalition, organization, joined) = (
            parse_id("coalition_id", &e.coalition_id),
            parse_id("organization_id", &e.organization_id),
            Date::required("joined_on", e.joined_on.as_ref()),
        )
            .all()?;
        let m = CoalitionMember {
            coalition_id: &coalition,
            organization_id: &organization,
            period_number: i64::from(e.period_number),
            organization_kind: organization_kind(e.organization_kind),
            joined_on: joined.to_string(),
            left_on: String::new(),
            version: positive_version(e.version)?,
        };
        self.member(tx, m).await
    }
}

#[markaz_kit::async_trait]
impl On<ev::CoalitionMemberLeft> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CoalitionMemberLeft) -> Result<()> {
        let (coalition, organization, joined, left) = (
            parse_id("coalition_id", &e.coalition_id),
            parse_id("organization_id", &e.organization_id),
            Date::required("joined_on", e.joined_on.as_ref()),
            Date::required("left_on", e.left_on.as_ref()),
        )
            .all()?;
        let m = CoalitionMember {
            coalition_id: &coalition,
            organization_id: &organization,
            period_number: i64::from(e.period_number),
            organization_kind: organization_kind(e.organization_kind),
            joined_on: joined.to_string(),
            left_on: left.to_string(),
            version: positive_version(e.version)?,
        };
        self.member(tx, m).await
    }
}

#[markaz_kit::async_trait]
impl On<ev::CampaignLaunched> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CampaignLaunched) -> Result<()> {
        self.campaign(tx, e.campaign).await
    }
}

#[markaz_kit::async_trait]
impl On<ev::CampaignChanged> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CampaignChanged) -> Result<()> {
        self.campaign(tx, e.campaign).await
    }
}

#[markaz_kit::async_trait]
impl On<ev::ResourcePublished> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::ResourcePublished) -> Result<()> {
        let (id, _) = (
            parse_id("item_id", &e.item_id),
            topics("topic_codes", &e.topic_codes),
        )
            .all()?;
        let item = LibraryItem {
            item_id: &id,
            kind: &word(&e.kind, "ITEM_KIND_"),
            language: &e.language,
            published_on: e
                .first_published_at
                .as_ref()
                .map(|t| day_of(micros_of(t)))
                .unwrap_or_default(),
            withdrawn: e.withdrawn,
            version: positive_version(e.version)?,
            topics: &e.topic_codes,
        };
        for g in self.generations(tx, Family::Library).await? {
            facts::library_item(tx, g, &item).await?;
        }
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl On<ev::ResourceDownloaded> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::ResourceDownloaded) -> Result<()> {
        let id = parse_id("item_id", &e.item_id)?;
        let month_ok = e.month.len() == 7 && Date::parse(&format!("{}-01", e.month)).is_some();
        if !month_ok {
            return Err(Error::invalid("month", "not a month (YYYY-MM)"));
        }
        for g in self.generations(tx, Family::Library).await? {
            facts::downloads(tx, g, &id, &e.month, e.month_total.max(0)).await?;
        }
        Ok(())
    }
}

#[markaz_kit::async_trait]
impl On<ev::BookingConfirmed> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::BookingConfirmed) -> Result<()> {
        let (id, organization) = (
            parse_id("booking_id", &e.booking_id),
            parse_optional_id("organization_id", &e.organization_id),
        )
            .all()?;
        let start = e
            .start_time
            .as_ref()
            .ok_or_else(|| Error::invalid("start_time", "required"))?;
        let b = Booking {
            booking_id: &id,
            branch_id: &e.branch_id,
            space_kind: &word(&e.space_kind, "SPACE_KIND_"),
            organization_id: &organization,
            starts_on: day_of(micros_of(start)),
            status: &word(&e.status, "BOOKING_STATUS_"),
            version: positive_version(e.version)?,
        };
        self.booking(tx, b).await
    }
}

#[markaz_kit::async_trait]
impl On<ev::BookingCancelled> for ImpactEvents {
    async fn on(&self, tx: &mut Tx, e: ev::BookingCancelled) -> Result<()> {
        let (id, organization) = (
            parse_id("booking_id", &e.booking_id),
            parse_optional_id("organization_id", &e.organization_id),
        )
            .all()?;
        let start = e
            .start_time
            .as_ref()
            .ok_or_else(|| Error::invalid("start_time", "required"))?;
        let b = Booking {
            booking_id: &id,
            branch_id: &e.branch_id,
            space_kind: "",
            organization_id: &organization,
            starts_on: day_of(micros_of(start)),
            status: "cancelled",
            version: positive_version(e.version)?,
        };
        self.booking(tx, b).await
    }
}
