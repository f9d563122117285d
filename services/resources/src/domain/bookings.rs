//! Bookings of spaces (and portable equipment): what a request may say,
//! whether the space takes it (hours, closures, capacity, how far ahead),
//! overlap, recurring series, the booking life cycle with its time windows,
//! availability, and usage per organization and month.
//!
//! Overlap is decided here only for what one request asks at once (two
//! occurrences of one series) and for the availability shown to people.
//! Between bookings, the *database* is the guard — an exclusion constraint on
//! PostgreSQL, an aborting trigger on SQLite — because under row-level
//! security a transaction cannot see another tenant's bookings of a shared
//! space, and a check-then-insert races anyway.

use std::collections::BTreeMap;

use markaz_kit::error::{Error, FieldViolation, Result, Violations};
use markaz_kit::time::{Date, micros_of};
use markaz_kit::validate;
use markaz_proto::resources::v1 as api;

pub use api::{BookingPurpose, BookingStatus, Frequency};

use super::items::Month;
use super::spaces::{
    BookableBy, MICROS_PER_DAY, MICROS_PER_MINUTE, MIN_BOOKING_MINUTES, Refusal, Schedule, Weekday,
    weekday_of,
};
use super::{Lifecycle, NOTE_MAX, finish, parse_id, parse_ids};

pub const PURPOSE_NOTE_MAX: usize = 500;
pub const MAX_EQUIPMENT: usize = 10;
pub const MAX_OCCURRENCES: usize = 52;
pub const MAX_INTERVAL: i32 = 12;
/// A series reaches at most this far past its first occurrence.
pub const MAX_SERIES_DAYS: i64 = 366;
/// Check-in opens this long before the start; no-show may be marked this
/// long after it.
pub const CHECK_IN_EARLY_MINUTES: i64 = 30;
pub const NO_SHOW_AFTER_MINUTES: i64 = 30;
/// A cancellation later than this before the start is "late".
pub const LATE_CANCEL_HOURS: i64 = 24;
/// A booking may start this little in the past (a clock a minute off, a
/// form filled in at the door).
pub const PAST_GRACE_MINUTES: i64 = 5;

/// A half-open interval of UTC instants, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl Span {
    /// Whether two spans share an instant (touching ones do not: a meeting
    /// ending at 10:00 and one starting at 10:00 both take place).
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn minutes(&self) -> i64 {
        (self.end - self.start) / MICROS_PER_MINUTE
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BookingFields {
    pub space_id: String,
    pub equipment_ids: Vec<String>,
    /// Empty: the center's own use.
    pub organization_id: String,
    pub purpose: BookingPurpose,
    pub purpose_note: String,
    pub expected_attendance: i32,
    pub span: Span,
    pub notes: String,
}

/// Parses a booking. `partner` is a partner caller's organization: it books
/// for itself only (an empty organization becomes its own).
pub fn parse_booking(
    prefix: &str,
    b: &api::Booking,
    partner: Option<&str>,
) -> Result<BookingFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let mut v = Violations::new();
    let space_id = v.take(parse_id(&f("space_id"), &b.space_id, true));
    let equipment_ids = v.take_many(parse_ids(
        &f("equipment_ids"),
        &b.equipment_ids,
        MAX_EQUIPMENT,
    ));
    let organization_id = v.take(parse_id(&f("organization_id"), &b.organization_id, false));
    let organization_id = match (partner, organization_id) {
        (Some(own), Some(org)) if !org.is_empty() && org != own => {
            v.add(
                f("organization_id"),
                "a partner books for its own organization only",
            );
            None
        }
        (Some(own), Some(_)) => Some(own.to_string()),
        (None, org) => org,
        (Some(_), None) => None,
    };
    let purpose = v
        .take(validate::enumeration::<BookingPurpose>(
            &f("purpose"),
            b.purpose,
            true,
        ))
        .flatten();
    let purpose_note = v.take(validate::line(
        &f("purpose_note"),
        &b.purpose_note,
        PURPOSE_NOTE_MAX,
        false,
    ));
    if b.expected_attendance < 1 {
        v.add(f("expected_attendance"), "at least 1");
    }
    let span = v.take_many(parse_span(
        prefix,
        b.start_time.as_ref(),
        b.end_time.as_ref(),
    ));
    let notes = v.take(validate::prose(&f("notes"), &b.notes, NOTE_MAX, false));
    finish(v, || {
        Some(BookingFields {
            space_id: space_id?,
            equipment_ids: equipment_ids?,
            organization_id: organization_id?,
            purpose: purpose?,
            purpose_note: purpose_note?,
            expected_attendance: b.expected_attendance,
            span: span?,
            notes: notes?,
        })
    })
}

/// Start and end: both given, whole minutes, the end after the start by at
/// least [`MIN_BOOKING_MINUTES`].
pub fn parse_span(
    prefix: &str,
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> Result<Span, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let mut instant = |name: &str, t: Option<&prost_types::Timestamp>| {
        let field = format!("{prefix}.{name}");
        match t {
            None => {
                errors.push(FieldViolation::new(field, "required"));
                None
            }
            Some(t) if t.nanos != 0 || t.seconds % 60 != 0 => {
                errors.push(FieldViolation::new(field, "whole minutes"));
                None
            }
            Some(t) => Some(micros_of(t)),
        }
    };
    let start = instant("start_time", start);
    let end = instant("end_time", end);
    if let (Some(s), Some(e)) = (start, end)
        && e - s < i64::from(MIN_BOOKING_MINUTES) * MICROS_PER_MINUTE
    {
        errors.push(FieldViolation::new(
            format!("{prefix}.end_time"),
            format!("at least {MIN_BOOKING_MINUTES} minutes after start_time"),
        ));
    }
    match (start, end, errors.is_empty()) {
        (Some(start), Some(end), true) => Ok(Span { start, end }),
        _ => Err(errors),
    }
}

pub const BOOKING_MASK: &[&str] = &[
    "purpose",
    "purpose_note",
    "expected_attendance",
    "notes",
    "start_time",
    "end_time",
    "equipment_ids",
];

/// Paths that move the booking in time or change what it holds: only
/// before it starts, and checked like a new booking.
pub const RESCHEDULING_PATHS: &[&str] = &["start_time", "end_time", "equipment_ids"];

pub fn merge_booking(onto: &mut api::Booking, from: &api::Booking, mask: &[&str]) {
    for path in mask {
        match *path {
            "purpose" => onto.purpose = from.purpose,
            "purpose_note" => onto.purpose_note = from.purpose_note.clone(),
            "expected_attendance" => onto.expected_attendance = from.expected_attendance,
            "notes" => onto.notes = from.notes.clone(),
            "start_time" => onto.start_time = from.start_time,
            "end_time" => onto.end_time = from.end_time,
            "equipment_ids" => onto.equipment_ids = from.equipment_ids.clone(),
            _ => {}
        }
    }
}

// ------------------------------------------------------ what a space takes

/// The facts of a space a booking is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceRules {
    pub capacity: i32,
    pub bookable_by: BookableBy,
    pub max_booking_minutes: i32,
    pub max_days_ahead: i32,
    pub archived: bool,
    pub schedule: Schedule,
}

/// Whether the space takes `booking` at `now`: FAILED_PRECONDITION with the
/// reason (its kind names it for clients) when it does not.
pub fn check_against_space(
    booking: &BookingFields,
    space: &SpaceRules,
    by_partner: bool,
    now: i64,
) -> Result<()> {
    let refuse = |kind: &'static str, why: String| Err(Error::precondition(kind, "booking", why));
    if space.archived {
        return refuse(
            "SPACE_ARCHIVED",
            "the space no longer takes bookings".into(),
        );
    }
    if by_partner && space.bookable_by != BookableBy::Partners {
        return Err(Error::permission_denied(
            "this space is booked by staff only",
        ));
    }
    if booking.expected_attendance > space.capacity {
        return refuse(
            "OVER_CAPACITY",
            format!(
                "the space holds {} people, {} are expected",
                space.capacity, booking.expected_attendance
            ),
        );
    }
    if booking.span.minutes() > i64::from(space.max_booking_minutes) {
        return refuse(
            "TOO_LONG",
            format!(
                "a booking of this space is at most {} minutes",
                space.max_booking_minutes
            ),
        );
    }
    if booking.span.start < now - PAST_GRACE_MINUTES * MICROS_PER_MINUTE {
        return refuse("IN_THE_PAST", "the booking starts in the past".into());
    }
    if booking.span.start > now + i64::from(space.max_days_ahead) * MICROS_PER_DAY {
        return refuse(
            "TOO_FAR_AHEAD",
            format!("bookings start at most {} days ahead", space.max_days_ahead),
        );
    }
    match space.schedule.refusal(booking.span.start, booking.span.end) {
        None => Ok(()),
        Some(Refusal::Closed) => refuse("SPACE_CLOSED", "the space is closed that day".into()),
        Some(Refusal::OutsideOpeningHours) => refuse(
            "OUTSIDE_OPENING_HOURS",
            "the booking is not within one of the space's opening intervals".into(),
        ),
    }
}

/// The answer when the database refused an overlapping booking: the times
/// that clash, never whose booking is in the way.
pub fn conflict(spans: &[Span]) -> Error {
    let when: Vec<String> = spans
        .iter()
        .map(|s| {
            format!(
                "{} to {}",
                markaz_kit::time::rfc3339(s.start),
                markaz_kit::time::rfc3339(s.end)
            )
        })
        .collect();
    Error::precondition(
        "BOOKING_CONFLICT",
        "booking.start_time",
        if when.is_empty() {
            "the space or equipment is already booked at that time".to_string()
        } else {
            format!(
                "the space or equipment is already booked: {}",
                when.join(", ")
            )
        },
    )
}

/// An availability question: a space and a period of at most
/// [`MAX_AVAILABILITY_DAYS`].
pub const MAX_AVAILABILITY_DAYS: i64 = 31;

pub fn parse_availability(r: &api::GetSpaceAvailabilityRequest) -> Result<(String, Span)> {
    let mut v = Violations::new();
    let space_id = v.take(parse_id("space_id", &r.space_id, true));
    let mut instant = |name: &str, t: Option<&prost_types::Timestamp>| match t {
        Some(t) => Some(micros_of(t)),
        None => {
            v.add(name, "required");
            None
        }
    };
    let from = instant("from", r.from.as_ref());
    let until = instant("until", r.until.as_ref());
    if let (Some(a), Some(b)) = (from, until) {
        if b <= a {
            v.add("until", "after from");
        } else if b - a > MAX_AVAILABILITY_DAYS * MICROS_PER_DAY {
            v.add(
                "until",
                format!("at most {MAX_AVAILABILITY_DAYS} days after from"),
            );
        }
    }
    finish(v, || {
        Some((
            space_id?,
            Span {
                start: from?,
                end: until?,
            },
        ))
    })
}

/// A cancellation's reason: required, for the record.
pub fn parse_cancel_reason(reason: &str) -> Result<String, FieldViolation> {
    validate::prose("reason", reason, NOTE_MAX, true)
}

// ------------------------------------------------------------- recurrence

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurrenceRule {
    pub frequency: Frequency,
    pub interval: i32,
    /// WEEKLY: the local weekdays (at least the first occurrence's).
    pub weekdays: Vec<Weekday>,
    pub end: SeriesEnd,
    pub skip_closed_days: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesEnd {
    Count(usize),
    Until(Date),
}

pub fn parse_recurrence(prefix: &str, r: Option<&api::Recurrence>) -> Result<RecurrenceRule> {
    let f = |name: &str| format!("{prefix}.{name}");
    let empty = api::Recurrence::default();
    let r = r.unwrap_or(&empty);
    let mut v = Violations::new();
    let frequency = v
        .take(validate::enumeration::<Frequency>(
            &f("frequency"),
            r.frequency,
            true,
        ))
        .flatten();
    let interval = match r.interval {
        0 => Some(1),
        n if (1..=MAX_INTERVAL).contains(&n) => Some(n),
        _ => {
            v.add(f("interval"), format!("from 1 to {MAX_INTERVAL}"));
            None
        }
    };
    let mut weekdays = Vec::new();
    for (i, w) in r.weekdays.iter().enumerate() {
        match validate::enumeration::<Weekday>(&format!("{}[{i}]", f("weekdays")), *w, true) {
            Ok(Some(w)) if !weekdays.contains(&w) => weekdays.push(w),
            Ok(_) => {}
            Err(e) => v.take::<()>(Err(e)).unwrap_or_default(),
        }
    }
    if !weekdays.is_empty() && frequency.is_some_and(|f| f != Frequency::Weekly) {
        v.add(f("weekdays"), "only with FREQUENCY_WEEKLY");
    }
    if r.skip_closed_days && frequency.is_some_and(|f| f != Frequency::Daily) {
        v.add(f("skip_closed_days"), "only with FREQUENCY_DAILY");
    }
    let until = v.take(Date::optional(&f("until"), r.until.as_ref()));
    let end = match (r.count, until) {
        (0, Some(Some(d))) => Some(SeriesEnd::Until(d)),
        (n, Some(None)) if (1..=MAX_OCCURRENCES as i32).contains(&n) => {
            Some(SeriesEnd::Count(n as usize))
        }
        (0, Some(None)) => {
            v.add(
                f("count"),
                "a count of occurrences or an until date is required",
            );
            None
        }
        (n, Some(Some(_))) if n != 0 => {
            v.add(f("count"), "either a count or an until date, not both");
            None
        }
        (_, Some(None)) => {
            v.add(f("count"), format!("from 1 to {MAX_OCCURRENCES}"));
            None
        }
        _ => None,
    };
    weekdays.sort_by_key(|w| *w as i32);
    finish(v, || {
        Some(RecurrenceRule {
            frequency: frequency?,
            interval: interval?,
            weekdays,
            end: end?,
            skip_closed_days: r.skip_closed_days,
        })
    })
}

/// The occurrences of a series whose first is `first`, in the space's
/// local time (the same local time of day each time). Refused when the rule
/// names no day of the first occurrence, when it yields more than
/// [`MAX_OCCURRENCES`], or reaches past [`MAX_SERIES_DAYS`].
pub fn expand(first: Span, rule: &RecurrenceRule, schedule: &Schedule) -> Result<Vec<Span>> {
    let start = schedule.local(first.start);
    let length = first.end - first.start;
    let first_day = start.date;
    let mut weekdays = rule.weekdays.clone();
    if rule.frequency == Frequency::Weekly && weekdays.is_empty() {
        weekdays.push(weekday_of(first_day));
    }
    if rule.frequency == Frequency::Weekly && !weekdays.contains(&weekday_of(first_day)) {
        return Err(Error::invalid(
            "series.recurrence.weekdays",
            "the first occurrence falls on a weekday the rule does not name",
        ));
    }
    let last_allowed = first_day.add_days(MAX_SERIES_DAYS - 1);
    let until = match rule.end {
        SeriesEnd::Until(d) if d < first_day => {
            return Err(Error::invalid(
                "series.recurrence.until",
                "before the first occurrence",
            ));
        }
        SeriesEnd::Until(d) if d > last_allowed => {
            return Err(Error::invalid(
                "series.recurrence.until",
                format!("a series spans at most {MAX_SERIES_DAYS} days"),
            ));
        }
        SeriesEnd::Until(d) => d,
        SeriesEnd::Count(_) => last_allowed,
    };
    let wanted = match rule.end {
        SeriesEnd::Count(n) => n,
        SeriesEnd::Until(_) => usize::MAX,
    };
    let interval = i64::from(rule.interval);
    let mut out = Vec::new();
    let push = |date: Date, out: &mut Vec<Span>| -> Result<bool> {
        if date > until || out.len() == wanted {
            return Ok(false);
        }
        if rule.skip_closed_days && schedule.openings_on(date).is_empty() {
            return Ok(true);
        }
        if out.len() == MAX_OCCURRENCES {
            return Err(Error::invalid(
                "series.recurrence",
                format!("a series has at most {MAX_OCCURRENCES} occurrences"),
            ));
        }
        let s = schedule.instant(date, start.minute);
        out.push(Span {
            start: s,
            end: s + length,
        });
        Ok(true)
    };
    match rule.frequency {
        Frequency::Daily | Frequency::Unspecified => {
            let mut date = first_day;
            while push(date, &mut out)? {
                date = date.add_days(interval);
            }
        }
        Frequency::Weekly => {
            // Week by week from the first occurrence's Monday.
            let monday = first_day.add_days(-(weekday_of(first_day) as i64 - 1));
            let mut week = 0;
            'weeks: loop {
                for w in &weekdays {
                    let date = monday.add_days(week * 7 + (*w as i64 - 1));
                    if date < first_day {
                        continue;
                    }
                    if !push(date, &mut out)? {
                        break 'weeks;
                    }
                }
                week += interval;
            }
        }
        Frequency::Monthly => {
            let d = first_day.to_proto();
            let mut k = 0i64;
            loop {
                let index = i64::from(d.year) * 12 + i64::from(d.month) - 1 + k * interval;
                let (year, month) = (index.div_euclid(12) as i32, index.rem_euclid(12) as u32 + 1);
                k += 1;
                match Date::new(year, month, d.day as u32) {
                    // A month without the day (the 31st) is skipped.
                    None if Date::new(year, month, 1).is_some_and(|m| m <= until) => continue,
                    None => break,
                    Some(date) => {
                        if !push(date, &mut out)? {
                            break;
                        }
                    }
                }
            }
        }
    }
    if let SeriesEnd::Count(n) = rule.end
        && out.len() < n
    {
        return Err(Error::invalid(
            "series.recurrence.count",
            format!("a series spans at most {MAX_SERIES_DAYS} days: {n} occurrences do not fit"),
        ));
    }
    Ok(out)
}

// ------------------------------------------------------------- life cycle

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Edit,
    Cancel,
    CheckIn,
    MarkNoShow,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Edit,
        Action::Cancel,
        Action::CheckIn,
        Action::MarkNoShow,
    ];

    fn word(self) -> &'static str {
        match self {
            Action::Edit => "changed",
            Action::Cancel => "cancelled",
            Action::CheckIn => "checked in",
            Action::MarkNoShow => "marked as a no-show",
        }
    }
}

pub fn status_word(s: BookingStatus) -> &'static str {
    match s {
        BookingStatus::Unspecified => "unspecified",
        BookingStatus::Confirmed => "confirmed",
        BookingStatus::CheckedIn => "checked in",
        BookingStatus::NoShow => "a no-show",
        BookingStatus::Cancelled => "cancelled",
    }
}

pub const LIFECYCLE: Lifecycle<BookingStatus, Action> = Lifecycle {
    kind: "BOOKING_STATUS",
    subject: "booking.status",
    noun: "a booking",
    rows: &[
        (
            BookingStatus::Confirmed,
            Action::Edit,
            BookingStatus::Confirmed,
        ),
        (
            BookingStatus::Confirmed,
            Action::Cancel,
            BookingStatus::Cancelled,
        ),
        (
            BookingStatus::Confirmed,
            Action::CheckIn,
            BookingStatus::CheckedIn,
        ),
        (
            BookingStatus::Confirmed,
            Action::MarkNoShow,
            BookingStatus::NoShow,
        ),
        // Attendance counted at the door may be corrected the same day.
        (
            BookingStatus::CheckedIn,
            Action::CheckIn,
            BookingStatus::CheckedIn,
        ),
    ],
    state_word: status_word,
    action_word: Action::word,
};

/// When, relative to the booking, each action may happen: `[from, until)`
/// offsets in minutes from the start (`from`) and from the end (`until`);
/// `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_start: Option<i64>,
    pub until_end: Option<i64>,
}

pub const WINDOWS: &[(Action, Window, &str)] = &[
    (
        Action::Edit,
        Window {
            from_start: None,
            until_end: Some(0),
        },
        "a booking changes until it ends",
    ),
    (
        Action::Cancel,
        Window {
            from_start: None,
            until_end: Some(0),
        },
        "a booking that has ended cannot be cancelled",
    ),
    (
        Action::CheckIn,
        Window {
            from_start: Some(-CHECK_IN_EARLY_MINUTES),
            until_end: Some(12 * 60),
        },
        "check-in opens 30 minutes before the start and closes 12 hours after the end",
    ),
    (
        Action::MarkNoShow,
        Window {
            from_start: Some(NO_SHOW_AFTER_MINUTES),
            until_end: None,
        },
        "a no-show is marked once the start is 30 minutes past",
    ),
];

/// The status after `action` at `now`, or why not: the table, then the
/// action's time window.
pub fn decide(
    status: BookingStatus,
    action: Action,
    span: Span,
    now: i64,
) -> Result<BookingStatus> {
    let to = LIFECYCLE.next(status, action)?;
    if let Some((_, w, why)) = WINDOWS.iter().find(|(a, _, _)| *a == action) {
        let opens = w.from_start.map(|m| span.start + m * MICROS_PER_MINUTE);
        let closes = w.until_end.map(|m| span.end + m * MICROS_PER_MINUTE);
        if opens.is_some_and(|o| now < o) || closes.is_some_and(|c| now >= c) {
            return Err(Error::precondition("BOOKING_WINDOW", "booking", *why));
        }
    }
    Ok(to)
}

/// Whether the rescheduling paths of a mask may change at `now`: before the
/// booking starts.
pub fn check_reschedule(mask: &[&str], span: Span, now: i64) -> Result<()> {
    if mask.iter().any(|p| RESCHEDULING_PATHS.contains(p)) && now >= span.start {
        return Err(Error::precondition(
            "BOOKING_STARTED",
            "booking.start_time",
            "a booking's times and equipment change only before it starts",
        ));
    }
    Ok(())
}

/// Check-in attendance: 0 to twice the capacity (people squeeze in; more
/// is a typing error).
pub fn parse_attendance(field: &str, value: i32, capacity: i32) -> Result<i32, FieldViolation> {
    if (0..=capacity.saturating_mul(2)).contains(&value) {
        Ok(value)
    } else {
        Err(FieldViolation::new(
            field,
            format!("from 0 to {}", capacity.saturating_mul(2)),
        ))
    }
}

/// A cancellation less than [`LATE_CANCEL_HOURS`] before the start.
pub fn is_late_cancellation(span: Span, now: i64) -> bool {
    span.start - now < LATE_CANCEL_HOURS * 60 * MICROS_PER_MINUTE
}

// ----------------------------------------------------------- availability

/// `open` less `busy` and less nothing else: the free intervals, in order.
pub fn free_intervals(open: &[(i64, i64)], busy: &[Span]) -> Vec<Span> {
    let mut busy: Vec<Span> = busy.to_vec();
    busy.sort();
    let mut out = Vec::new();
    for (a, b) in open {
        let mut at = *a;
        for s in &busy {
            if s.end <= at || s.start >= *b {
                continue;
            }
            if s.start > at {
                out.push(Span {
                    start: at,
                    end: s.start,
                });
            }
            at = at.max(s.end);
        }
        if at < *b {
            out.push(Span { start: at, end: *b });
        }
    }
    out
}

/// Overlapping pairs among spans asked for together (a series), by index.
pub fn self_overlaps(spans: &[Span]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for i in 0..spans.len() {
        for j in i + 1..spans.len() {
            if spans[i].overlaps(&spans[j]) {
                out.push((i, j));
            }
        }
    }
    out
}

// ------------------------------------------------------------------ usage

/// One booking as the usage report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingFact {
    pub organization_id: String,
    pub status: BookingStatus,
    pub span: Span,
    pub utc_offset_minutes: i32,
    pub actual_attendance: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgMonthUsage {
    pub bookings: u32,
    pub checked_in: u32,
    pub no_shows: u32,
    pub cancelled: u32,
    pub minutes_booked: i64,
    pub minutes_used: i64,
    pub attendance: i64,
}

/// Usage per (organization, local month of the start). Minutes booked count
/// every booking that held the space (confirmed, checked in, no-show);
/// minutes used only the checked-in ones.
pub fn usage(facts: &[BookingFact]) -> BTreeMap<(String, Month), OrgMonthUsage> {
    let mut out: BTreeMap<(String, Month), OrgMonthUsage> = BTreeMap::new();
    for f in facts {
        let local = f.span.start + i64::from(f.utc_offset_minutes) * MICROS_PER_MINUTE;
        let u = out
            .entry((f.organization_id.clone(), Month::of_micros(local)))
            .or_default();
        u.bookings += 1;
        match f.status {
            BookingStatus::Cancelled => u.cancelled += 1,
            BookingStatus::CheckedIn => {
                u.checked_in += 1;
                u.minutes_used += f.span.minutes();
                u.attendance += i64::from(f.actual_attendance);
            }
            BookingStatus::NoShow => u.no_shows += 1,
            BookingStatus::Confirmed | BookingStatus::Unspecified => {}
        }
        if f.status != BookingStatus::Cancelled {
            u.minutes_booked += f.span.minutes();
        }
    }
    out
}

/// Distinct organizations that used a space (checked in), the center's own
/// use not counted.
pub fn organizations_served(facts: &[BookingFact]) -> usize {
    let mut orgs: Vec<&str> = facts
        .iter()
        .filter(|f| f.status == BookingStatus::CheckedIn && !f.organization_id.is_empty())
        .map(|f| f.organization_id.as_str())
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    orgs.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spaces::Opening;
    use proptest::prelude::*;

    const M: i64 = MICROS_PER_MINUTE;

    fn schedule() -> Schedule {
        let every_day = [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Sunday,
            Weekday::Saturday,
        ];
        Schedule {
            utc_offset_minutes: 180,
            opening_hours: every_day
                .iter()
                .map(|w| Opening {
                    weekday: *w,
                    opens: 8 * 60,
                    closes: 18 * 60,
                })
                .collect(),
            // Fridays closed; a holiday on 2026-04-07 (a Tuesday).
            closures: vec![(
                Date::new(2026, 4, 7).unwrap(),
                Date::new(2026, 4, 7).unwrap(),
            )],
        }
    }

    fn local(y: i32, m: u32, d: u32, hour: i32) -> i64 {
        schedule().instant(Date::new(y, m, d).unwrap(), hour * 60)
    }

    fn ts(micros: i64) -> prost_types::Timestamp {
        markaz_kit::time::timestamp(micros)
    }

    fn booking(start: i64, end: i64) -> api::Booking {
        api::Booking {
            space_id: "space-1".into(),
            purpose: BookingPurpose::Meeting as i32,
            expected_attendance: 12,
            start_time: Some(ts(start)),
            end_time: Some(ts(end)),
            ..Default::default()
        }
    }

    fn rules() -> SpaceRules {
        SpaceRules {
            capacity: 20,
            bookable_by: BookableBy::Partners,
            max_booking_minutes: 480,
            max_days_ahead: 90,
            archived: false,
            schedule: schedule(),
        }
    }

    fn kind_of(e: Error) -> &'static str {
        match e {
            Error::FailedPrecondition { kind, .. } => kind,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn overlap_is_half_open() {
        let s = |a, b| Span { start: a, end: b };
        assert!(s(0, 10).overlaps(&s(5, 15)));
        assert!(s(0, 10).overlaps(&s(2, 3)));
        assert!(!s(0, 10).overlaps(&s(10, 20)), "touching is fine");
        assert!(!s(10, 20).overlaps(&s(0, 10)));
        assert_eq!(
            self_overlaps(&[s(0, 10), s(10, 20), s(15, 30)]),
            vec![(1, 2)]
        );
    }

    #[test]
    fn every_bad_booking_field_is_reported_at_once() {
        let bad = api::Booking {
            space_id: String::new(),
            equipment_ids: vec!["p".into(), "p".into()],
            organization_id: "other-org".into(),
            purpose: 0,
            expected_attendance: 0,
            start_time: Some(prost_types::Timestamp {
                seconds: 61,
                nanos: 0,
            }),
            end_time: None,
            ..Default::default()
        };
        let Err(Error::InvalidArgument(v)) = parse_booking("booking", &bad, Some("own-org")) else {
            panic!()
        };
        let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "booking.space_id",
                "booking.equipment_ids[1]",
                "booking.organization_id",
                "booking.purpose",
                "booking.expected_attendance",
                "booking.start_time",
                "booking.end_time",
            ]
        );
        let short = booking(local(2026, 4, 5, 10), local(2026, 4, 5, 10) + 10 * M);
        assert!(parse_booking("booking", &short, None).is_err());
    }

    #[test]
    fn a_partner_books_for_itself() {
        let b = booking(local(2026, 4, 5, 10), local(2026, 4, 5, 12));
        assert_eq!(
            parse_booking("booking", &b, Some("org-1"))
                .unwrap()
                .organization_id,
            "org-1"
        );
        assert_eq!(
            parse_booking("booking", &b, None).unwrap().organization_id,
            ""
        );
    }

    #[test]
    fn the_space_refuses_what_it_cannot_hold() {
        let now = local(2026, 4, 1, 9);
        let parse = |start, end| parse_booking("booking", &booking(start, end), None).unwrap();
        let ok = parse(local(2026, 4, 5, 10), local(2026, 4, 5, 12));
        assert!(check_against_space(&ok, &rules(), true, now).is_ok());
        let cases = [
            (
                parse(local(2026, 4, 3, 10), local(2026, 4, 3, 12)),
                "SPACE_CLOSED",
            ), // a Friday
            (
                parse(local(2026, 4, 7, 10), local(2026, 4, 7, 12)),
                "SPACE_CLOSED",
            ), // the holiday
            (
                parse(local(2026, 4, 5, 7), local(2026, 4, 5, 9)),
                "OUTSIDE_OPENING_HOURS",
            ),
            (
                parse(local(2026, 4, 5, 8), local(2026, 4, 5, 17)),
                "TOO_LONG",
            ),
            (
                parse(local(2026, 3, 31, 10), local(2026, 3, 31, 12)),
                "IN_THE_PAST",
            ),
            (
                parse(local(2026, 8, 2, 10), local(2026, 8, 2, 12)),
                "TOO_FAR_AHEAD",
            ),
        ];
        for (b, kind) in cases {
            assert_eq!(
                kind_of(check_against_space(&b, &rules(), false, now).unwrap_err()),
                kind
            );
        }
        let mut crowded = ok.clone();
        crowded.expected_attendance = 21;
        assert_eq!(
            kind_of(check_against_space(&crowded, &rules(), false, now).unwrap_err()),
            "OVER_CAPACITY"
        );
        let archived = SpaceRules {
            archived: true,
            ..rules()
        };
        assert_eq!(
            kind_of(check_against_space(&ok, &archived, false, now).unwrap_err()),
            "SPACE_ARCHIVED"
        );
        let staff_only = SpaceRules {
            bookable_by: BookableBy::Staff,
            ..rules()
        };
        assert!(matches!(
            check_against_space(&ok, &staff_only, true, now),
            Err(Error::PermissionDenied(_))
        ));
        assert!(check_against_space(&ok, &staff_only, false, now).is_ok());
    }

    #[test]
    fn a_conflict_names_times_not_owners() {
        let e = conflict(&[Span {
            start: 0,
            end: 60 * M,
        }]);
        let Error::FailedPrecondition {
            kind, description, ..
        } = e
        else {
            panic!()
        };
        assert_eq!(kind, "BOOKING_CONFLICT");
        assert!(
            description.contains("1970-01-01T00:00:00.000Z"),
            "{description}"
        );
    }

    fn rule(
        frequency: Frequency,
        interval: i32,
        weekdays: &[Weekday],
        end: SeriesEnd,
    ) -> RecurrenceRule {
        RecurrenceRule {
            frequency,
            interval,
            weekdays: weekdays.to_vec(),
            end,
            skip_closed_days: false,
        }
    }

    fn dates(spans: &[Span]) -> Vec<String> {
        spans
            .iter()
            .map(|s| schedule().local(s.start).date.to_string())
            .collect()
    }

    #[test]
    fn weekly_series_follow_their_weekdays_in_local_time() {
        // Sunday 2026-04-05, 10:00-12:00 local; Sundays and Tuesdays.
        let first = Span {
            start: local(2026, 4, 5, 10),
            end: local(2026, 4, 5, 12),
        };
        let r = rule(
            Frequency::Weekly,
            1,
            &[Weekday::Tuesday, Weekday::Sunday],
            SeriesEnd::Count(4),
        );
        let got = expand(first, &r, &schedule()).unwrap();
        assert_eq!(
            dates(&got),
            ["2026-04-05", "2026-04-07", "2026-04-12", "2026-04-14"]
        );
        assert!(got.iter().all(|s| s.end - s.start == 120 * M));
        assert!(got.iter().all(|s| schedule().local(s.start).minute == 600));
        // Every other week, until a date.
        let r = rule(
            Frequency::Weekly,
            2,
            &[],
            SeriesEnd::Until(Date::new(2026, 5, 3).unwrap()),
        );
        assert_eq!(
            dates(&expand(first, &r, &schedule()).unwrap()),
            ["2026-04-05", "2026-04-19", "2026-05-03"]
        );
        let wrong_day = rule(
            Frequency::Weekly,
            1,
            &[Weekday::Monday],
            SeriesEnd::Count(2),
        );
        assert!(expand(first, &wrong_day, &schedule()).is_err());
    }

    #[test]
    fn daily_series_may_skip_closed_days() {
        let first = Span {
            start: local(2026, 4, 5, 10),
            end: local(2026, 4, 5, 11),
        };
        let mut r = rule(Frequency::Daily, 1, &[], SeriesEnd::Count(5));
        assert_eq!(
            dates(&expand(first, &r, &schedule()).unwrap()),
            [
                "2026-04-05",
                "2026-04-06",
                "2026-04-07",
                "2026-04-08",
                "2026-04-09"
            ]
        );
        r.skip_closed_days = true;
        // The holiday (7th) and Friday (10th) are skipped; five still booked.
        assert_eq!(
            dates(&expand(first, &r, &schedule()).unwrap()),
            [
                "2026-04-05",
                "2026-04-06",
                "2026-04-08",
                "2026-04-09",
                "2026-04-11"
            ]
        );
    }

    #[test]
    fn monthly_series_skip_months_without_the_day() {
        let first = Span {
            start: local(2026, 1, 31, 10),
            end: local(2026, 1, 31, 11),
        };
        let r = rule(Frequency::Monthly, 1, &[], SeriesEnd::Count(3));
        assert_eq!(
            dates(&expand(first, &r, &schedule()).unwrap()),
            ["2026-01-31", "2026-03-31", "2026-05-31"]
        );
    }

    #[test]
    fn series_are_bounded() {
        let first = Span {
            start: local(2026, 4, 5, 10),
            end: local(2026, 4, 5, 11),
        };
        let long = rule(
            Frequency::Daily,
            1,
            &[],
            SeriesEnd::Until(Date::new(2026, 12, 31).unwrap()),
        );
        assert!(expand(first, &long, &schedule()).is_err(), "more than 52");
        let far = rule(
            Frequency::Monthly,
            1,
            &[],
            SeriesEnd::Until(Date::new(2027, 6, 1).unwrap()),
        );
        assert!(expand(first, &far, &schedule()).is_err(), "past a year");
        let before = rule(
            Frequency::Daily,
            1,
            &[],
            SeriesEnd::Until(Date::new(2026, 4, 1).unwrap()),
        );
        assert!(expand(first, &before, &schedule()).is_err());
    }

    #[test]
    fn recurrence_requests_are_parsed_with_every_violation() {
        let bad = api::Recurrence {
            frequency: 0,
            interval: 13,
            weekdays: vec![9],
            count: 60,
            until: None,
            skip_closed_days: false,
        };
        let Err(Error::InvalidArgument(v)) = parse_recurrence("series.recurrence", Some(&bad))
        else {
            panic!()
        };
        let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "series.recurrence.frequency",
                "series.recurrence.interval",
                "series.recurrence.weekdays[0]",
                "series.recurrence.count",
            ]
        );
        let both = api::Recurrence {
            frequency: Frequency::Monthly as i32,
            weekdays: vec![Weekday::Monday as i32],
            count: 3,
            until: Some(markaz_proto::common::v1::Date {
                year: 2026,
                month: 6,
                day: 1,
            }),
            skip_closed_days: true,
            ..Default::default()
        };
        let Err(Error::InvalidArgument(v)) = parse_recurrence("r", Some(&both)) else {
            panic!()
        };
        assert_eq!(v.len(), 3, "{v:?}");
        let ok = api::Recurrence {
            frequency: Frequency::Weekly as i32,
            count: 10,
            ..Default::default()
        };
        assert_eq!(parse_recurrence("r", Some(&ok)).unwrap().interval, 1);
    }

    const STATUSES: [BookingStatus; 5] = [
        BookingStatus::Unspecified,
        BookingStatus::Confirmed,
        BookingStatus::CheckedIn,
        BookingStatus::NoShow,
        BookingStatus::Cancelled,
    ];

    #[test]
    fn the_life_cycle_and_its_windows() {
        let span = Span {
            start: 1_000 * 60 * M,
            end: 1_120 * 60 * M,
        };
        let at = |min_from_start: i64| span.start + min_from_start * M;
        use BookingStatus as S;
        assert_eq!(
            decide(S::Confirmed, Action::Cancel, span, at(-60)).unwrap(),
            S::Cancelled
        );
        assert_eq!(
            kind_of(decide(S::Confirmed, Action::Cancel, span, span.end).unwrap_err()),
            "BOOKING_WINDOW"
        );
        assert_eq!(
            kind_of(decide(S::Confirmed, Action::CheckIn, span, at(-31)).unwrap_err()),
            "BOOKING_WINDOW"
        );
        assert_eq!(
            decide(S::Confirmed, Action::CheckIn, span, at(-30)).unwrap(),
            S::CheckedIn
        );
        assert_eq!(
            decide(S::CheckedIn, Action::CheckIn, span, at(10)).unwrap(),
            S::CheckedIn
        );
        assert_eq!(
            kind_of(decide(S::Confirmed, Action::MarkNoShow, span, at(29)).unwrap_err()),
            "BOOKING_WINDOW"
        );
        assert_eq!(
            decide(S::Confirmed, Action::MarkNoShow, span, at(30)).unwrap(),
            S::NoShow
        );
        // Terminal states refuse everything, with the table's reason.
        for from in STATUSES {
            for action in Action::ALL {
                let allowed = LIFECYCLE.allows(from, action);
                if !allowed {
                    assert_eq!(
                        kind_of(decide(from, action, span, at(45)).unwrap_err()),
                        "BOOKING_STATUS"
                    );
                }
            }
        }
        for end in [S::Cancelled, S::NoShow] {
            assert!(Action::ALL.iter().all(|a| !LIFECYCLE.allows(end, *a)));
        }
        assert!(WINDOWS.len() == Action::ALL.len());
    }

    #[test]
    fn rescheduling_only_before_the_start() {
        let span = Span {
            start: 100 * M,
            end: 200 * M,
        };
        assert!(check_reschedule(&["start_time"], span, 99 * M).is_ok());
        assert!(check_reschedule(&["start_time"], span, 100 * M).is_err());
        assert!(check_reschedule(&["purpose_note"], span, 150 * M).is_ok());
        assert!(RESCHEDULING_PATHS.iter().all(|p| BOOKING_MASK.contains(p)));
        assert!(is_late_cancellation(span, 99 * M));
        assert!(!is_late_cancellation(
            Span {
                start: 2_000 * M,
                end: 2_100 * M
            },
            0
        ));
        assert!(parse_attendance("a", 40, 20).is_ok());
        assert!(parse_attendance("a", 41, 20).is_err());
        assert!(parse_attendance("a", -1, 20).is_err());
    }

    #[test]
    fn availability_questions_are_bounded() {
        let q = |from: Option<i64>, until: Option<i64>| api::GetSpaceAvailabilityRequest {
            space_id: "s".into(),
            from: from.map(ts),
            until: until.map(ts),
        };
        let day = MICROS_PER_DAY;
        assert_eq!(
            parse_availability(&q(Some(0), Some(day))).unwrap().1,
            Span { start: 0, end: day }
        );
        assert!(parse_availability(&q(Some(day), Some(0))).is_err());
        assert!(parse_availability(&q(Some(0), Some(32 * day))).is_err());
        let Err(Error::InvalidArgument(v)) =
            parse_availability(&api::GetSpaceAvailabilityRequest::default())
        else {
            panic!()
        };
        assert_eq!(v.len(), 3);
        assert!(parse_cancel_reason(" ").is_err());
        assert_eq!(
            parse_cancel_reason("تأجيل الاجتماع").unwrap(),
            "تأجيل الاجتماع"
        );
    }

    #[test]
    fn availability_subtracts_bookings_from_opening_hours() {
        let s = |a, b| Span { start: a, end: b };
        let free = free_intervals(
            &[(0, 100), (200, 300)],
            &[s(10, 20), s(15, 30), s(90, 210), s(250, 300)],
        );
        assert_eq!(free, vec![s(0, 10), s(30, 90), s(210, 250)]);
        assert_eq!(free_intervals(&[(0, 10)], &[]), vec![s(0, 10)]);
    }

    #[test]
    fn usage_is_per_organization_and_local_month() {
        let fact = |org: &str, status, start: i64, attendance| BookingFact {
            organization_id: org.into(),
            status,
            span: Span {
                start,
                end: start + 90 * M,
            },
            utc_offset_minutes: 180,
            actual_attendance: attendance,
        };
        // 2026-03-31 22:30 UTC is 2026-04-01 01:30 in UTC+3: April.
        let late_march_utc =
            Date::new(2026, 3, 31).unwrap().days() * MICROS_PER_DAY + (22 * 60 + 30) * M;
        let facts = [
            fact("a", BookingStatus::CheckedIn, late_march_utc, 9),
            fact(
                "a",
                BookingStatus::NoShow,
                late_march_utc + MICROS_PER_DAY,
                0,
            ),
            fact(
                "a",
                BookingStatus::Cancelled,
                late_march_utc + 2 * MICROS_PER_DAY,
                0,
            ),
            fact("b", BookingStatus::Confirmed, late_march_utc, 0),
            fact("", BookingStatus::CheckedIn, late_march_utc, 30),
        ];
        let u = usage(&facts);
        let april = Month {
            year: 2026,
            month: 4,
        };
        let a = &u[&("a".to_string(), april)];
        assert_eq!(
            (a.bookings, a.checked_in, a.no_shows, a.cancelled),
            (3, 1, 1, 1)
        );
        assert_eq!(
            (a.minutes_booked, a.minutes_used, a.attendance),
            (180, 90, 9)
        );
        assert_eq!(
            organizations_served(&facts),
            1,
            "b never came; the center is not counted"
        );
    }

    proptest! {
        /// Whatever the rule, occurrences are ordered, never overlap each
        /// other, keep their length, and stay within the bounds.
        #[test]
        fn expansions_are_ordered_and_disjoint(
            frequency in prop::sample::select(vec![Frequency::Daily, Frequency::Weekly, Frequency::Monthly]),
            interval in 1..=4i32,
            count in 1..=52usize,
            day in 1..=28u32,
            hour in 8..=16i32,
            minutes in 15..=120i64,
        ) {
            let first = Span { start: local(2026, 4, day, hour), end: local(2026, 4, day, hour) + minutes * M };
            let r = rule(frequency, interval, &[], SeriesEnd::Count(count));
            let got = match expand(first, &r, &schedule()) {
                Ok(got) => got,
                Err(e) => {
                    // Only a series too long for a year is refused.
                    prop_assert!(e.to_string().contains("366 days"), "{}", e);
                    return Ok(());
                }
            };
            prop_assert_eq!(got.len(), count);
            prop_assert_eq!(got[0], first);
            prop_assert!(self_overlaps(&got).is_empty());
            prop_assert!(got.windows(2).all(|w| w[0].start < w[1].start));
            prop_assert!(got.iter().all(|s| s.end - s.start == minutes * M));
            prop_assert!(got.iter().all(|s| s.start - first.start < MAX_SERIES_DAYS * MICROS_PER_DAY));
        }
    }
}
