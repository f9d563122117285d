//! Time as the database keeps it: instants are microseconds since the Unix
//! epoch (an `i64`, the same on PostgreSQL and SQLite), calendar dates are
//! `YYYY-MM-DD` text (which sorts in date order in both).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use markaz_proto::common::v1 as common;

use crate::error::FieldViolation;

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// Saturates at the ends of `i64` (a client can send any seconds; parsers
/// refuse instants out of their range, this never overflows).
pub fn micros_of(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.nanos) / 1_000)
}

/// RFC 3339 in UTC with millisecond precision, for people and logs.
pub fn rfc3339(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let date = Date::from_days(days);
    format!(
        "{date}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        micros.rem_euclid(1_000_000) / 1_000
    )
}

/// An RFC 3339 instant (`2026-12-02T03:00:00Z`, `2026-12-02T06:00:00.5+03:00`)
/// as microseconds since the epoch; `None` if it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = (s.get(..10)?, s.get(10..)?);
    let date = Date::parse(date)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let two = |t: &str| -> Option<i64> {
        (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let (h, m, sec) = (
        two(rest.get(0..2)?)?,
        two(rest.get(3..5)?)?,
        two(rest.get(6..8)?)?,
    );
    if rest.get(2..3)? != ":" || rest.get(5..6)? != ":" || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = &rest[8..];
    let mut micros = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let scaled: String = fraction[..digits]
            .chars()
            .chain("000000".chars())
            .take(6)
            .collect();
        micros = scaled.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.get(3..4)? != ":" {
                return None;
            }
            sign * (two(rest.get(1..3)?)? * 60 + two(rest.get(4..6)?)?)
        }
    };
    let secs = date.days() * 86_400 + h * 3600 + m * 60 + sec - offset_minutes * 60;
    Some(secs * 1_000_000 + micros)
}

/// A calendar date with no time zone, always valid once constructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1900..=2200).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day < 1 || day > days_in_month(year, month as u8) as u32 {
            return None;
        }
        Some(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    /// Parses the protobuf `Date` of the field named `field`.
    pub fn from_proto(field: &str, d: &common::Date) -> Result<Date, FieldViolation> {
        if d.month < 0 || d.day < 0 {
            return Err(FieldViolation::new(field, "not a valid calendar date"));
        }
        Date::new(d.year, d.month as u32, d.day as u32).ok_or_else(|| {
            FieldViolation::new(
                field,
                format!(
                    "{:04}-{:02}-{:02} is not a valid calendar date",
                    d.year, d.month, d.day
                ),
            )
        })
    }

    /// A required date field: absent is a violation.
    pub fn required(field: &str, d: Option<&common::Date>) -> Result<Date, FieldViolation> {
        match d {
            Some(d) => Date::from_proto(field, d),
            None => Err(FieldViolation::new(field, "required")),
        }
    }

    /// An optional date field: absent or all-zero is `None`.
    pub fn optional(field: &str, d: Option<&common::Date>) -> Result<Option<Date>, FieldViolation> {
        match d {
            None => Ok(None),
            Some(d) if d.year == 0 && d.month == 0 && d.day == 0 => Ok(None),
            Some(d) => Date::from_proto(field, d).map(Some),
        }
    }

    pub fn to_proto(self) -> common::Date {
        common::Date {
            year: self.year,
            month: i32::from(self.month),
            day: i32::from(self.day),
        }
    }

    /// Parses the stored `YYYY-MM-DD` form.
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.splitn(3, '-');
        let y = parts.next()?.parse().ok()?;
        let m = parts.next()?.parse().ok()?;
        let d = parts.next()?.parse().ok()?;
        Date::new(y, m, d)
    }

    /// Today in UTC.
    pub fn today() -> Date {
        Date::from_days(now_micros().div_euclid(86_400_000_000))
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.days() + n)
    }
}

/// A date column (`TEXT`, `YYYY-MM-DD`) read into a row struct:
/// `#[sqlx(try_from = "String")] starts_on: Date`.
impl TryFrom<String> for Date {
    type Error = String;
    fn try_from(stored: String) -> Result<Date, String> {
        Date::parse(&stored).ok_or_else(|| format!("stored '{stored}' is not a date"))
    }
}

/// A date column that may be empty (`''` is no date):
/// `#[sqlx(try_from = "String")] ends_on: MaybeDate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaybeDate(pub Option<Date>);

impl TryFrom<String> for MaybeDate {
    type Error = String;
    fn try_from(stored: String) -> Result<MaybeDate, String> {
        if stored.is_empty() {
            return Ok(MaybeDate(None));
        }
        Date::try_from(stored).map(|d| MaybeDate(Some(d)))
    }
}

impl MaybeDate {
    /// How the date is stored: `YYYY-MM-DD`, or `''` for none.
    pub fn text(date: Option<Date>) -> String {
        date.map(|d| d.to_string()).unwrap_or_default()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_across_centuries_and_leap_days() {
        for days in [-25_567, -1, 0, 59, 11_016, 19_782, 20_000, 73_000] {
            assert_eq!(Date::from_days(days).days(), days);
        }
        assert_eq!(Date::new(2000, 2, 29).unwrap().to_string(), "2000-02-29");
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2026, 4, 31).is_none());
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
    }

    #[test]
    fn stored_form_parses_back_and_sorts_like_dates() {
        let a = Date::parse("2026-01-09").unwrap();
        let b = Date::parse("2026-11-29").unwrap();
        assert!(a < b && a.to_string() < b.to_string());
        assert_eq!(a.add_days(1).to_string(), "2026-01-10");
    }

    #[test]
    fn rfc3339_parses_what_it_writes_and_offsets() {
        for micros in [0, 1_764_374_400_123_000, 1_796_000_000_000_000] {
            assert_eq!(parse_rfc3339(&rfc3339(micros)), Some(micros));
        }
        assert_eq!(
            parse_rfc3339("2026-12-02T06:00:00+03:00"),
            parse_rfc3339("2026-12-02T03:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-12-02T03:00:00.5Z").map(|m| m % 1_000_000),
            Some(500_000)
        );
        for bad in [
            "2026-12-02",
            "2026-12-02T03:00Z",
            "2026-12-02T25:00:00Z",
            "2026-12-02T03:00:00",
            "2026-12-02T03:00:00+3:00",
            "2026-12-02T03:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_is_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_764_374_400_123_456), "2025-11-29T00:00:00.123Z");
    }
}
