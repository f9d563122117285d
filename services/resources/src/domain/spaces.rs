//! Spaces and equipment of a branch, their weekly opening hours and
//! closures, and the local time they are read in.
//!
//! Times of bookings travel and are stored as UTC instants (microseconds);
//! opening hours and closures are local to the branch. The branch's offset
//! from UTC is fixed per space (`utc_offset_minutes`; Syria has kept UTC+3
//! all year since 2022), so converting is arithmetic, with no time-zone
//! database and no daylight-saving gap to fall into.

use markaz_kit::error::{FieldViolation, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::resources::v1 as api;

pub use api::{BookableBy, EquipmentKind, SpaceKind, Weekday};

use super::{NAME_MAX, PROSE_MAX, finish, parse_branch, parse_id};

pub const MAX_CAPACITY: i32 = 1_000;
pub const MAX_INTERVALS: usize = 28;
pub const DAY_MINUTES: i32 = 24 * 60;
pub const MIN_BOOKING_MINUTES: i32 = 15;
pub const DEFAULT_MAX_BOOKING_MINUTES: i32 = 8 * 60;
pub const DEFAULT_MAX_DAYS_AHEAD: i32 = 90;
pub const MAX_DAYS_AHEAD: i32 = 730;
/// UTC−12:00 to UTC+14:00.
pub const UTC_OFFSETS: std::ops::RangeInclusive<i32> = -720..=840;
/// A closure spans at most a year.
pub const MAX_CLOSURE_DAYS: i64 = 366;

pub const MICROS_PER_MINUTE: i64 = 60_000_000;
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// One opening interval of a weekday, minutes since local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Opening {
    pub weekday: Weekday,
    pub opens: i32,
    pub closes: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpaceFields {
    pub branch_id: String,
    pub kind: SpaceKind,
    pub name: LocalizedText,
    pub description: LocalizedText,
    pub capacity: i32,
    /// Sorted by weekday, then opening time; none overlapping.
    pub opening_hours: Vec<Opening>,
    pub utc_offset_minutes: i32,
    pub bookable_by: BookableBy,
    pub shared_with_consortium: bool,
    pub max_booking_minutes: i32,
    pub max_days_ahead: i32,
    pub archived: bool,
}

pub fn parse_space(prefix: &str, s: &api::Space) -> Result<SpaceFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let mut v = Violations::new();
    let branch_id = v.take(parse_branch(&f("branch_id"), &s.branch_id));
    let kind = v
        .take(validate::enumeration::<SpaceKind>(&f("kind"), s.kind, true))
        .flatten();
    let name = v.take_many(validate::localized(
        &f("name"),
        s.name.as_ref(),
        NAME_MAX,
        true,
    ));
    let description = v.take_many(validate::localized(
        &f("description"),
        s.description.as_ref(),
        PROSE_MAX,
        false,
    ));
    let capacity = v.take(in_range(&f("capacity"), s.capacity, 1, MAX_CAPACITY));
    let opening_hours = v.take_many(parse_opening_hours(&f("opening_hours"), &s.opening_hours));
    let utc_offset_minutes = v.take(in_range(
        &f("utc_offset_minutes"),
        s.utc_offset_minutes,
        *UTC_OFFSETS.start(),
        *UTC_OFFSETS.end(),
    ));
    let bookable_by = v
        .take(validate::enumeration::<BookableBy>(
            &f("bookable_by"),
            s.bookable_by,
            false,
        ))
        .map(|b| b.unwrap_or(BookableBy::Staff));
    let max_booking_minutes = v.take(defaulted(
        &f("max_booking_minutes"),
        s.max_booking_minutes,
        DEFAULT_MAX_BOOKING_MINUTES,
        MIN_BOOKING_MINUTES,
        DAY_MINUTES,
    ));
    let max_days_ahead = v.take(defaulted(
        &f("max_days_ahead"),
        s.max_days_ahead,
        DEFAULT_MAX_DAYS_AHEAD,
        1,
        MAX_DAYS_AHEAD,
    ));
    finish(v, || {
        Some(SpaceFields {
            branch_id: branch_id?,
            kind: kind?,
            name: name?,
            description: description?,
            capacity: capacity?,
            opening_hours: opening_hours?,
            utc_offset_minutes: utc_offset_minutes?,
            bookable_by: bookable_by?,
            shared_with_consortium: s.shared_with_consortium,
            max_booking_minutes: max_booking_minutes?,
            max_days_ahead: max_days_ahead?,
            archived: s.archived,
        })
    })
}

fn in_range(field: &str, value: i32, min: i32, max: i32) -> Result<i32, FieldViolation> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldViolation::new(field, format!("from {min} to {max}")))
    }
}

/// 0 takes the default; anything else must be in range.
fn defaulted(
    field: &str,
    value: i32,
    default: i32,
    min: i32,
    max: i32,
) -> Result<i32, FieldViolation> {
    if value == 0 {
        Ok(default)
    } else {
        in_range(field, value, min, max)
    }
}

/// Weekly hours: each interval on a named weekday, opening before closing
/// within the day, and no two intervals of a day overlapping or touching
/// (touching ones are one interval: write them as one).
pub fn parse_opening_hours(
    field: &str,
    hours: &[api::OpeningInterval],
) -> Result<Vec<Opening>, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    if hours.len() > MAX_INTERVALS {
        errors.push(FieldViolation::new(
            field,
            format!("at most {MAX_INTERVALS} intervals"),
        ));
    }
    let mut out: Vec<(usize, Opening)> = Vec::new();
    for (i, h) in hours.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let weekday =
            match validate::enumeration::<Weekday>(&format!("{at}.weekday"), h.weekday, true) {
                Ok(Some(w)) => Some(w),
                Ok(None) => None,
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
        let times_ok = (0..DAY_MINUTES).contains(&h.opens_minute)
            && (1..=DAY_MINUTES).contains(&h.closes_minute)
            && h.opens_minute < h.closes_minute;
        if !times_ok {
            errors.push(FieldViolation::new(
                &at,
                "opens_minute before closes_minute, both within the day (0 to 1440)",
            ));
        }
        if let (Some(weekday), true) = (weekday, times_ok) {
            out.push((
                i,
                Opening {
                    weekday,
                    opens: h.opens_minute,
                    closes: h.closes_minute,
                },
            ));
        }
    }
    out.sort_by_key(|(_, o)| *o);
    for pair in out.windows(2) {
        let ((_, a), (i, b)) = (pair[0], pair[1]);
        if a.weekday == b.weekday && b.opens <= a.closes {
            errors.push(FieldViolation::new(
                format!("{field}[{i}]"),
                "overlaps or touches another interval of the same day",
            ));
        }
    }
    if errors.is_empty() {
        Ok(out.into_iter().map(|(_, o)| o).collect())
    } else {
        Err(errors)
    }
}

pub const SPACE_MASK: &[&str] = &[
    "kind",
    "name",
    "description",
    "capacity",
    "opening_hours",
    "utc_offset_minutes",
    "bookable_by",
    "shared_with_consortium",
    "max_booking_minutes",
    "max_days_ahead",
    "archived",
];

pub fn merge_space(onto: &mut api::Space, from: &api::Space, mask: &[&str]) {
    for path in mask {
        match *path {
            "kind" => onto.kind = from.kind,
            "name" => onto.name = from.name.clone(),
            "description" => onto.description = from.description.clone(),
            "capacity" => onto.capacity = from.capacity,
            "opening_hours" => onto.opening_hours = from.opening_hours.clone(),
            "utc_offset_minutes" => onto.utc_offset_minutes = from.utc_offset_minutes,
            "bookable_by" => onto.bookable_by = from.bookable_by,
            "shared_with_consortium" => onto.shared_with_consortium = from.shared_with_consortium,
            "max_booking_minutes" => onto.max_booking_minutes = from.max_booking_minutes,
            "max_days_ahead" => onto.max_days_ahead = from.max_days_ahead,
            "archived" => onto.archived = from.archived,
            _ => {}
        }
    }
}

// -------------------------------------------------------------- equipment

#[derive(Debug, Clone, PartialEq)]
pub struct EquipmentFields {
    pub branch_id: String,
    pub kind: EquipmentKind,
    pub name: LocalizedText,
    pub space_id: String,
    pub bookable: bool,
    pub archived: bool,
}

pub fn parse_equipment(prefix: &str, e: &api::Equipment) -> Result<EquipmentFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let mut v = Violations::new();
    let branch_id = v.take(parse_branch(&f("branch_id"), &e.branch_id));
    let kind = v
        .take(validate::enumeration::<EquipmentKind>(
            &f("kind"),
            e.kind,
            true,
        ))
        .flatten();
    let name = v.take_many(validate::localized(
        &f("name"),
        e.name.as_ref(),
        NAME_MAX,
        true,
    ));
    let space_id = v.take(parse_id(&f("space_id"), &e.space_id, false));
    if e.bookable && !e.space_id.is_empty() {
        v.add(
            f("bookable"),
            "equipment fixed in a space comes with it; only portable equipment is booked alone",
        );
    }
    finish(v, || {
        Some(EquipmentFields {
            branch_id: branch_id?,
            kind: kind?,
            name: name?,
            space_id: space_id?,
            bookable: e.bookable,
            archived: e.archived,
        })
    })
}

pub const EQUIPMENT_MASK: &[&str] = &["kind", "name", "space_id", "bookable", "archived"];

pub fn merge_equipment(onto: &mut api::Equipment, from: &api::Equipment, mask: &[&str]) {
    for path in mask {
        match *path {
            "kind" => onto.kind = from.kind,
            "name" => onto.name = from.name.clone(),
            "space_id" => onto.space_id = from.space_id.clone(),
            "bookable" => onto.bookable = from.bookable,
            "archived" => onto.archived = from.archived,
            _ => {}
        }
    }
}

// --------------------------------------------------------------- closures

#[derive(Debug, Clone, PartialEq)]
pub struct ClosureFields {
    pub branch_id: String,
    /// Empty: every space of the branch.
    pub space_id: String,
    pub first_day: Date,
    pub last_day: Date,
    pub reason: LocalizedText,
}

pub fn parse_closure(prefix: &str, c: &api::Closure) -> Result<ClosureFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let mut v = Violations::new();
    let branch_id = v.take(parse_branch(&f("branch_id"), &c.branch_id));
    let space_id = v.take(parse_id(&f("space_id"), &c.space_id, false));
    let first_day = v.take(Date::required(&f("first_day"), c.first_day.as_ref()));
    let last_day = v.take(Date::required(&f("last_day"), c.last_day.as_ref()));
    if let (Some(a), Some(b)) = (first_day, last_day) {
        if b < a {
            v.add(f("last_day"), "before first_day");
        } else if b.days() - a.days() + 1 > MAX_CLOSURE_DAYS {
            v.add(
                f("last_day"),
                format!("a closure spans at most {MAX_CLOSURE_DAYS} days"),
            );
        }
    }
    let reason = v.take_many(validate::localized(
        &f("reason"),
        c.reason.as_ref(),
        NAME_MAX,
        true,
    ));
    finish(v, || {
        Some(ClosureFields {
            branch_id: branch_id?,
            space_id: space_id?,
            first_day: first_day?,
            last_day: last_day?,
            reason: reason?,
        })
    })
}

// ------------------------------------------------------ the local calendar

/// What decides when a space may be used: its hours, its closures (those of
/// the space and those of its whole branch), its local offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub utc_offset_minutes: i32,
    pub opening_hours: Vec<Opening>,
    /// Inclusive local date ranges.
    pub closures: Vec<(Date, Date)>,
}

/// A local moment: the date and the minute of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub date: Date,
    pub minute: i32,
}

pub fn weekday_of(date: Date) -> Weekday {
    // 1970-01-01 was a Thursday.
    match (date.days() + 3).rem_euclid(7) {
        0 => Weekday::Monday,
        1 => Weekday::Tuesday,
        2 => Weekday::Wednesday,
        3 => Weekday::Thursday,
        4 => Weekday::Friday,
        5 => Weekday::Saturday,
        _ => Weekday::Sunday,
    }
}

impl Schedule {
    pub fn local(&self, micros: i64) -> LocalTime {
        let local = micros + i64::from(self.utc_offset_minutes) * MICROS_PER_MINUTE;
        LocalTime {
            date: Date::from_days(local.div_euclid(MICROS_PER_DAY)),
            minute: (local.rem_euclid(MICROS_PER_DAY) / MICROS_PER_MINUTE) as i32,
        }
    }

    /// The UTC instant of a local date and minute.
    pub fn instant(&self, date: Date, minute: i32) -> i64 {
        (date.days() * MICROS_PER_DAY)
            + i64::from(minute - self.utc_offset_minutes) * MICROS_PER_MINUTE
    }

    pub fn is_closed(&self, date: Date) -> bool {
        self.closures.iter().any(|(a, b)| *a <= date && date <= *b)
    }

    /// Opening intervals of a local date (none when closed), in minutes.
    pub fn openings_on(&self, date: Date) -> Vec<(i32, i32)> {
        if self.is_closed(date) {
            return Vec::new();
        }
        let weekday = weekday_of(date);
        self.opening_hours
            .iter()
            .filter(|o| o.weekday == weekday)
            .map(|o| (o.opens, o.closes))
            .collect()
    }

    /// Opening intervals as UTC instants over `[from, until)`, clipped.
    pub fn open_intervals(&self, from: i64, until: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        if until <= from {
            return out;
        }
        let first = self.local(from).date;
        let last = self.local(until - 1).date;
        let mut date = first;
        while date <= last {
            for (opens, closes) in self.openings_on(date) {
                let a = self.instant(date, opens).max(from);
                let b = self.instant(date, closes).min(until);
                if a < b {
                    out.push((a, b));
                }
            }
            date = date.add_days(1);
        }
        out
    }

    /// Why `[start, end)` cannot be used, if it cannot: a closed day (a
    /// closure, or no hours that weekday), or not within one opening
    /// interval of one local day.
    pub fn refusal(&self, start: i64, end: i64) -> Option<Refusal> {
        let a = self.local(start);
        let b = self.local(end);
        // An end at local midnight belongs to the day before.
        let (end_date, end_minute) = if b.minute == 0 && b.date > a.date {
            (b.date.add_days(-1), DAY_MINUTES)
        } else {
            (b.date, b.minute)
        };
        if self.is_closed(a.date) || self.is_closed(end_date) {
            return Some(Refusal::Closed);
        }
        let openings = self.openings_on(a.date);
        if openings.is_empty() {
            return Some(Refusal::Closed);
        }
        let inside = end_date == a.date
            && openings
                .iter()
                .any(|(o, c)| *o <= a.minute && end_minute <= *c);
        if inside {
            None
        } else {
            Some(Refusal::OutsideOpeningHours)
        }
    }
}

/// Why a space refuses a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Closed,
    OutsideOpeningHours,
}

#[cfg(test)]
mod tests {
    use super::*;
    use markaz_kit::Error;

    fn hours(weekday: Weekday, opens: i32, closes: i32) -> api::OpeningInterval {
        api::OpeningInterval {
            weekday: weekday as i32,
            opens_minute: opens,
            closes_minute: closes,
        }
    }

    pub(crate) fn space() -> api::Space {
        api::Space {
            branch_id: "raqqa".into(),
            kind: SpaceKind::MeetingRoom as i32,
            name: Some(LocalizedText {
                ar: "قاعة الاجتماعات".into(),
                en: "Meeting room".into(),
            }),
            capacity: 20,
            opening_hours: vec![
                hours(Weekday::Sunday, 9 * 60, 13 * 60),
                hours(Weekday::Sunday, 14 * 60, 17 * 60),
                hours(Weekday::Monday, 9 * 60, 17 * 60),
            ],
            utc_offset_minutes: 180,
            ..Default::default()
        }
    }

    fn fields(e: Error) -> Vec<String> {
        match e {
            Error::InvalidArgument(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_space_parses_with_defaults() {
        let s = parse_space("space", &space()).unwrap();
        assert_eq!(s.bookable_by, BookableBy::Staff);
        assert_eq!(s.max_booking_minutes, DEFAULT_MAX_BOOKING_MINUTES);
        assert_eq!(s.max_days_ahead, DEFAULT_MAX_DAYS_AHEAD);
        assert_eq!(s.opening_hours[0].weekday, Weekday::Monday, "sorted");
        assert_eq!(s.name.ar, "قاعة الاجتماعات");
    }

    #[test]
    fn every_bad_space_field_is_reported_at_once() {
        let bad = api::Space {
            branch_id: "Raqqa Center".into(),
            kind: 0,
            name: None,
            capacity: 0,
            opening_hours: vec![
                hours(Weekday::Monday, 9 * 60, 8 * 60),
                api::OpeningInterval {
                    weekday: 0,
                    opens_minute: 0,
                    closes_minute: 60,
                },
                hours(Weekday::Sunday, 9 * 60, 12 * 60),
                hours(Weekday::Sunday, 11 * 60, 13 * 60),
            ],
            utc_offset_minutes: 900,
            bookable_by: 9,
            max_booking_minutes: 5,
            max_days_ahead: 1000,
            ..Default::default()
        };
        let got = fields(parse_space("space", &bad).unwrap_err());
        assert_eq!(
            got,
            [
                "space.branch_id",
                "space.kind",
                "space.name",
                "space.capacity",
                "space.opening_hours[0]",
                "space.opening_hours[1].weekday",
                "space.opening_hours[3]",
                "space.utc_offset_minutes",
                "space.bookable_by",
                "space.max_booking_minutes",
                "space.max_days_ahead",
            ]
        );
    }

    #[test]
    fn touching_intervals_are_refused_but_a_full_day_is_fine() {
        assert!(
            parse_opening_hours(
                "h",
                &[
                    hours(Weekday::Monday, 0, 600),
                    hours(Weekday::Monday, 600, 900)
                ]
            )
            .is_err()
        );
        assert!(parse_opening_hours("h", &[hours(Weekday::Monday, 0, DAY_MINUTES)]).is_ok());
        assert!(parse_opening_hours("h", &[hours(Weekday::Monday, 0, DAY_MINUTES + 1)]).is_err());
    }

    #[test]
    fn equipment_is_fixed_or_portable() {
        let e = api::Equipment {
            branch_id: "raqqa".into(),
            kind: EquipmentKind::Projector as i32,
            name: Some(LocalizedText {
                ar: "جهاز العرض".into(),
                en: String::new(),
            }),
            space_id: "s1".into(),
            bookable: true,
            ..Default::default()
        };
        assert_eq!(
            fields(parse_equipment("equipment", &e).unwrap_err()),
            ["equipment.bookable"]
        );
        let portable = api::Equipment {
            space_id: String::new(),
            ..e
        };
        assert!(parse_equipment("equipment", &portable).unwrap().bookable);
    }

    #[test]
    fn closures_are_ordered_bounded_and_explained() {
        let d = |y, m, dd| {
            Some(markaz_proto::common::v1::Date {
                year: y,
                month: m,
                day: dd,
            })
        };
        let c = api::Closure {
            branch_id: "raqqa".into(),
            first_day: d(2026, 3, 30),
            last_day: d(2026, 3, 28),
            ..Default::default()
        };
        assert_eq!(
            fields(parse_closure("closure", &c).unwrap_err()),
            ["closure.last_day", "closure.reason"]
        );
        let long = api::Closure {
            last_day: d(2027, 6, 1),
            reason: Some(LocalizedText {
                ar: "عطلة عيد الفطر".into(),
                en: String::new(),
            }),
            ..c.clone()
        };
        assert_eq!(
            fields(parse_closure("closure", &long).unwrap_err()),
            ["closure.last_day"]
        );
    }

    fn schedule() -> Schedule {
        let s = parse_space("space", &space()).unwrap();
        Schedule {
            utc_offset_minutes: 180,
            opening_hours: s.opening_hours,
            closures: vec![(
                Date::new(2026, 3, 30).unwrap(),
                Date::new(2026, 3, 31).unwrap(),
            )],
        }
    }

    /// 2026-03-29 is a Sunday; 10:00 local (UTC+3) is 07:00 UTC.
    fn at(day: u32, hour: i32, minute: i32) -> i64 {
        schedule().instant(Date::new(2026, 3, day).unwrap(), hour * 60 + minute)
    }

    #[test]
    fn weekdays_and_local_time() {
        assert_eq!(
            weekday_of(Date::new(1970, 1, 1).unwrap()),
            Weekday::Thursday
        );
        assert_eq!(weekday_of(Date::new(2026, 3, 29).unwrap()), Weekday::Sunday);
        let s = schedule();
        let t = at(29, 10, 0);
        assert_eq!(
            t % MICROS_PER_DAY / (60 * MICROS_PER_MINUTE),
            7,
            "07:00 UTC"
        );
        assert_eq!(s.local(t).minute, 600);
        // 01:00 local on the 29th is 22:00 UTC on the 28th.
        assert_eq!(s.local(at(29, 1, 0)).date, Date::new(2026, 3, 29).unwrap());
    }

    #[test]
    fn bookings_must_fit_one_opening_interval_of_an_open_day() {
        let s = schedule();
        assert_eq!(s.refusal(at(29, 9, 0), at(29, 13, 0)), None);
        assert_eq!(s.refusal(at(29, 14, 30), at(29, 17, 0)), None);
        // Across the lunch break, before opening, after closing.
        assert_eq!(
            s.refusal(at(29, 12, 0), at(29, 15, 0)),
            Some(Refusal::OutsideOpeningHours)
        );
        assert_eq!(
            s.refusal(at(29, 8, 0), at(29, 10, 0)),
            Some(Refusal::OutsideOpeningHours)
        );
        assert_eq!(
            s.refusal(at(29, 16, 0), at(29, 18, 0)),
            Some(Refusal::OutsideOpeningHours)
        );
        // A closure, and a weekday without hours (the 28th is a Saturday).
        assert_eq!(
            s.refusal(at(30, 10, 0), at(30, 11, 0)),
            Some(Refusal::Closed)
        );
        assert_eq!(
            s.refusal(at(28, 10, 0), at(28, 11, 0)),
            Some(Refusal::Closed)
        );
        // Across midnight.
        assert_eq!(
            s.refusal(at(29, 16, 0), at(30, 1, 0)),
            Some(Refusal::Closed)
        );
    }

    #[test]
    fn an_end_at_midnight_belongs_to_the_day() {
        let s = Schedule {
            utc_offset_minutes: 0,
            opening_hours: vec![Opening {
                weekday: Weekday::Sunday,
                opens: 0,
                closes: DAY_MINUTES,
            }],
            closures: vec![],
        };
        let day = Date::new(2026, 3, 29).unwrap();
        assert_eq!(
            s.refusal(s.instant(day, 1200), s.instant(day.add_days(1), 0)),
            None
        );
    }

    #[test]
    fn open_intervals_skip_closures_and_clip_to_the_period() {
        let s = schedule();
        let got = s.open_intervals(at(29, 10, 0), at(31, 23, 0));
        // Sunday's two intervals (the first clipped at 10:00); Monday 30th
        // and Tuesday 31st are closed.
        assert_eq!(
            got,
            vec![
                (at(29, 10, 0), at(29, 13, 0)),
                (at(29, 14, 0), at(29, 17, 0))
            ]
        );
        assert!(s.open_intervals(at(29, 10, 0), at(29, 10, 0)).is_empty());
    }
}
