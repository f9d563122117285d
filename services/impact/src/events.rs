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

use crate::store::facts::{
    self, CompletedCourse, Consultation, GrantPlace, ScheduledCourse, Trainee,
};

/// The producers whose events impact reads.
pub const CAPACITY: &str = "capacity";
pub const GRANTS: &str = "grants";

/// The state of impact's consumer.
#[derive(Debug, Default)]
pub struct ImpactEvents;

/// The consumer's handler: the router, then the freshness of the producer.
pub struct ImpactConsumer {
    router: Router<ImpactEvents>,
}

/// The consumer, as the runtime runs it.
pub fn consumer() -> ImpactConsumer {
    ImpactConsumer { router: router() }
}

/// Membership's copies, capacity's courses and consultations, grants'
/// money.
pub fn router() -> Router<ImpactEvents> {
    markaz_membership_copies::routes(Router::new(ImpactEvents))
        .on::<ev::CourseScheduled>()
        .on::<ev::CourseCompleted>()
        .on::<ev::ConsultationHeld>()
        .on::<ev::GrantAwarded>()
        .on::<ev::TrancheDisbursed>()
        .on::<ev::ProjectCompleted>()
}

#[markaz_kit::async_trait]
impl Handler for ImpactConsumer {
    fn handles(&self, event_type: &str) -> bool {
        self.router.handles(event_type)
    }

    async fn handle(&self, tx: &mut Tx, envelope: &Envelope) -> Result<()> {
        self.router.handle(tx, envelope).await?;
        let written = envelope.occurred_at.as_ref().map_or(0, micros_of);
        facts::applied(tx, &envelope.producer, written, now_micros()).await
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
            let changed_on = Date::from_days(changed_at.div_euclid(86_400_000_000));
            facts::incubation_moved(
                tx,
                organization_id,
                *version,
                to.as_str_name(),
                &changed_on.to_string(),
            )
            .await?;
        }
        Ok(())
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
        facts::course_scheduled(
            tx,
            &ScheduledCourse {
                course_id: &id,
                kind: &e.kind,
                branch_id: &e.branch_id,
                end_date: end.to_string(),
                session_count: i64::from(e.session_count.max(0)),
                status: &e.status,
                version: e.version,
                topics: &e.topic_codes,
            },
        )
        .await
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
        facts::course_completed(
            tx,
            &CompletedCourse {
                course_id: &id,
                branch_id: &e.branch_id,
                end_date: end.to_string(),
                topics: &e.topic_codes,
            },
            &trainees,
        )
        .await
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
        facts::consultation(
            tx,
            &Consultation {
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
                version: e.version,
                topics: &e.topic_codes,
            },
        )
        .await
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
        facts::awarded(
            tx,
            &grant_place(&award, c),
            amount,
            &currency,
            &start.to_string(),
        )
        .await
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
        facts::disbursed(
            tx,
            &grant_place(&award, c),
            i64::from(e.tranche_number),
            amount,
            &currency,
            &on.to_string(),
        )
        .await
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
        facts::project_ended(
            tx,
            &grant_place(&award, c),
            outcome,
            &ended.to_string(),
            spent,
            &currency,
        )
        .await
    }
}
