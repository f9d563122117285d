//! The resources service's consumer: membership's events (the copies of
//! organizations, people and affiliations are `markaz-membership-copies`')
//! and capacity's `CourseScheduled`, which books the course's room.
//!
//! Each event is applied in the transaction of its inbox row (a redelivery
//! has no second effect).
//!
//! A course scheduled with a venue books the space of its branch whose name
//! (Arabic or English) or id is the venue, on every day of the course the
//! space is open, for the day's opening intervals — or, when the space
//! refuses (closed, too small for the course, already booked), books
//! nothing and publishes `BookingConflict` for each day that clashes, so
//! staff can move the course or the other booking. A rescheduled course
//! moves its bookings; a cancelled one lets them go.
//!
//! `PersonErased`: the library and the space keep no person — bookings and
//! services name organizations, uploads and moves name token subjects
//! (accounts, not membership's people) — so the copies' erasure, with its
//! sweep of every text, is what there is to do; then the items' search
//! columns, the person's name in stemmed tokens the sweep does not
//! recognise, are rebuilt from the scrubbed texts.

use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Result};
use markaz_kit::events::{On, Router};
use markaz_kit::rpc::{new_id, parse_id};
use markaz_kit::time::{Date, now_micros, timestamp};
use markaz_membership_copies::Reactions;
use markaz_proto::events::v1 as ev;

use crate::api::bookings::{cancel_one, confirmed_event};
use crate::domain::bookings::{
    BookingFields, BookingPurpose, SpaceRules, Span, check_against_space,
};
use crate::store;
use crate::store::bookings::NewBooking;
use crate::store::spaces::Space;

/// The producer of the course events.
pub const CAPACITY: &str = "capacity";

/// Who a course's bookings are booked by, as a booking's `booked_by`.
pub const BOOKED_BY_CAPACITY: &str = "capacity";

/// The state of the consumer (none: every fact is in the database).
#[derive(Debug, Default)]
pub struct ResourcesEvents;

/// The consumer's handler: membership's copies, then capacity's courses.
pub fn router() -> Router<ResourcesEvents> {
    markaz_membership_copies::routes(Router::new(ResourcesEvents)).on::<ev::CourseScheduled>()
}

/// The items' search columns, derived from their texts (and on SQLite the
/// full-text index's content, which its triggers keep in step with them):
/// left to [`Reactions::after_erasure`], which rebuilds them from the
/// scrubbed texts. Swept in place, the index's own copy would no longer be
/// the text it indexed, and its delete would leave the old tokens in it.
const SEARCH_COLUMNS: &[&str] = &[
    "items.search_title",
    "items.search_authors",
    "items.search_topics",
    "items.search_summary",
    "items.search_text",
    "item_search_rows.search_text",
];

#[markaz_kit::async_trait]
impl Reactions for ResourcesEvents {
    fn spare(&self) -> &'static [&'static str] {
        SEARCH_COLUMNS
    }

    async fn after_erasure(&self, tx: &mut Tx, person_id: &str) -> Result<()> {
        let rebuilt = store::items::rebuild_search_columns(tx).await?;
        tracing::info!(person = %person_id, rebuilt, "items' search columns rebuilt after an erasure");
        Ok(())
    }
}

/// A day of a course the space refuses, and why.
struct Clash {
    date: Date,
    span: Option<Span>,
    reason: String,
}

#[markaz_kit::async_trait]
impl On<ev::CourseScheduled> for ResourcesEvents {
    async fn on(&self, tx: &mut Tx, e: ev::CourseScheduled) -> Result<()> {
        let (course_id, start, end) = (
            parse_id("course_id", &e.course_id),
            Date::required("start_date", e.start_date.as_ref()),
            Date::required("end_date", e.end_date.as_ref()),
        )
            .all()?;
        let live = store::bookings::of_course(tx, &course_id).await?;
        let venue = e.venue.trim();
        if matches!(e.status.as_str(), "cancelled") || venue.is_empty() {
            return release(tx, &live).await;
        }
        if matches!(e.status.as_str(), "completed" | "running") && !live.is_empty() {
            // A course under way keeps the rooms it has.
            return Ok(());
        }
        let spaces = store::spaces::by_venue(tx, &e.branch_id, venue).await?;
        let space = match spaces.as_slice() {
            [one] => one.clone(),
            [] => {
                release(tx, &live).await?;
                return conflicts(
                    tx,
                    &e,
                    None,
                    &[whole_course(start, "no space of the branch has this name")],
                )
                .await;
            }
            _ => {
                release(tx, &live).await?;
                return conflicts(
                    tx,
                    &e,
                    None,
                    &[whole_course(
                        start,
                        "several spaces of the branch have this name",
                    )],
                )
                .await;
            }
        };
        let rules = SpaceRules {
            capacity: space.fields.capacity,
            bookable_by: space.fields.bookable_by,
            max_booking_minutes: space.fields.max_booking_minutes,
            max_days_ahead: space.fields.max_days_ahead,
            archived: space.fields.archived,
            schedule: store::spaces::schedule(tx, &space).await?,
        };
        let wanted = wanted_spans(&rules, start, end);
        let mut held: Vec<Span> = live
            .iter()
            .filter(|b| b.fields.space_id == space.id)
            .map(|b| b.fields.span)
            .collect();
        held.sort();
        if held == wanted && live.len() == held.len() {
            // A redelivery or a change that does not move the course.
            return Ok(());
        }
        release(tx, &live).await?;
        let fields_of = |span: Span| BookingFields {
            space_id: space.id.clone(),
            equipment_ids: Vec::new(),
            organization_id: String::new(),
            purpose: if e.kind == "workshop" {
                BookingPurpose::Workshop
            } else {
                BookingPurpose::Training
            },
            purpose_note: course_note(&e),
            expected_attendance: e.capacity.clamp(1, i32::MAX),
            span,
            notes: String::new(),
        };
        let mut refused: Vec<Clash> = Vec::new();
        if wanted.is_empty() {
            refused.push(whole_course(
                start,
                "the space is closed on every day of the course",
            ));
        }
        let now = now_micros();
        for span in &wanted {
            if let Err(why) = check_against_space(&fields_of(*span), &rules, false, now) {
                refused.push(Clash {
                    date: rules.schedule.local(span.start).date,
                    span: Some(*span),
                    reason: why.to_string(),
                });
            }
        }
        // Clashes with other bookings, named by day (the slots carry no
        // owner); the inserts below are the guard.
        for span in store::bookings::clashing(tx, std::slice::from_ref(&space.id), &wanted).await? {
            refused.push(Clash {
                date: rules.schedule.local(span.start).date,
                span: Some(span),
                reason: "the space is already booked at that time".into(),
            });
        }
        if !refused.is_empty() {
            return conflicts(tx, &e, Some(&space), &refused).await;
        }
        for span in wanted {
            let id = new_id();
            let fields = fields_of(span);
            let booked = store::bookings::insert(
                tx,
                &NewBooking {
                    id: &id,
                    space_tenant_id: &space.tenant_id,
                    series_id: "",
                    course_id: &course_id,
                    booked_by: BOOKED_BY_CAPACITY,
                },
                &fields,
            )
            .await?;
            if !booked {
                // Someone booked the space since the check: the event is
                // retried, and the retry names the clash.
                return Err(markaz_kit::Error::Aborted(
                    "a booking of the course's room raced another; retrying".into(),
                ));
            }
            let viewer = store::bookings::Viewer::staff();
            if let Some(b) = store::bookings::get(tx, &viewer, &id).await? {
                tx.publish(&id, &confirmed_event(&b, &space)).await?;
            }
        }
        Ok(())
    }
}

/// Every opening interval of every open day of the course, in order.
fn wanted_spans(rules: &SpaceRules, start: Date, end: Date) -> Vec<Span> {
    let mut out = Vec::new();
    let mut date = start;
    while date <= end {
        for (opens, closes) in rules.schedule.openings_on(date) {
            out.push(Span {
                start: rules.schedule.instant(date, opens),
                end: rules.schedule.instant(date, closes),
            });
        }
        date = date.add_days(1);
    }
    out.sort();
    out
}

fn whole_course(start: Date, reason: &str) -> Clash {
    Clash {
        date: start,
        span: None,
        reason: reason.to_string(),
    }
}

fn course_note(e: &ev::CourseScheduled) -> String {
    let title = e
        .title
        .as_ref()
        .map(|t| {
            if t.ar.is_empty() {
                t.en.clone()
            } else {
                t.ar.clone()
            }
        })
        .unwrap_or_default();
    title
        .chars()
        .take(crate::domain::bookings::PURPOSE_NOTE_MAX)
        .collect()
}

/// Lets go of a course's bookings that have not ended.
async fn release(tx: &mut Tx, live: &[store::bookings::Booking]) -> Result<()> {
    let now = now_micros();
    for b in live.iter().filter(|b| b.fields.span.end > now) {
        cancel_one(
            tx,
            BOOKED_BY_CAPACITY,
            b,
            "the course was moved or cancelled",
        )
        .await?;
    }
    Ok(())
}

/// Publishes one `BookingConflict` per day the space refuses.
async fn conflicts(
    tx: &mut Tx,
    e: &ev::CourseScheduled,
    space: Option<&Space>,
    refused: &[Clash],
) -> Result<()> {
    for clash in refused {
        tx.publish(
            &e.course_id,
            &ev::BookingConflict {
                course_id: e.course_id.clone(),
                venue: e.venue.clone(),
                space_id: space.map(|s| s.id.clone()).unwrap_or_default(),
                branch_id: e.branch_id.clone(),
                date: Some(clash.date.to_proto()),
                start_time: clash.span.map(|s| timestamp(s.start)),
                end_time: clash.span.map(|s| timestamp(s.end)),
                reason: clash.reason.clone(),
            },
        )
        .await?;
    }
    tracing::info!(course = %e.course_id, days = refused.len(), "a course's room could not be booked");
    Ok(())
}
