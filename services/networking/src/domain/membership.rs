//! A member's active periods in a coalition: joining, leaving, joining
//! again, whether it was a member on a given day, and for how many days.
//!
//! A period runs from the day it joined to the day it left, that day
//! excluded (on the day it leaves it is no longer a member): `[joined_on,
//! left_on)`. So a member that leaves and joins again on the same day has no
//! gap and no overlap, and its days add up exactly. Only the last period may
//! be open.

use markaz_kit::error::{Error, Result};
use markaz_kit::time::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub joined_on: Date,
    /// The first day it was no longer a member; `None` while it is.
    pub left_on: Option<Date>,
}

impl Period {
    pub fn contains(&self, day: Date) -> bool {
        self.joined_on <= day && self.left_on.is_none_or(|l| day < l)
    }

    /// Days of membership in `[from, until]`, both included.
    fn days_within(&self, from: Date, until: Date) -> i64 {
        let start = self.joined_on.max(from);
        let end = self
            .left_on
            .map_or(until.add_days(1), |l| l.min(until.add_days(1)));
        (end.days() - start.days()).max(0)
    }
}

/// One organization's membership of one coalition, every period of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    periods: Vec<Period>,
}

impl Membership {
    /// A membership from stored periods, in order; refused when they do not
    /// make one history (overlapping, reversed, or open before the last).
    pub fn from_periods(periods: Vec<Period>) -> Result<Membership> {
        for (i, p) in periods.iter().enumerate() {
            let reversed = p.left_on.is_some_and(|l| l < p.joined_on);
            let open_before_last = p.left_on.is_none() && i + 1 < periods.len();
            let overlaps = i > 0 && periods[i - 1].left_on.is_some_and(|l| p.joined_on < l);
            if reversed || open_before_last || overlaps {
                return Err(Error::internal(format!(
                    "membership periods out of order at period {}",
                    i + 1
                )));
            }
        }
        Ok(Membership { periods })
    }

    pub fn periods(&self) -> &[Period] {
        &self.periods
    }

    /// A member now: its last period is open.
    pub fn is_active(&self) -> bool {
        self.periods.last().is_some_and(|p| p.left_on.is_none())
    }

    pub fn active_on(&self, day: Date) -> bool {
        self.periods.iter().any(|p| p.contains(day))
    }

    /// Starts a new period on `on`; returns its number (1 for the first).
    /// Not while a member, not before the coalition was formed, not before
    /// it last left, not in the future.
    pub fn join(&mut self, on: Date, formed_on: Date, today: Date) -> Result<usize> {
        if self.is_active() {
            return Err(Error::precondition(
                "ALREADY_A_MEMBER",
                "organization_id",
                "the organization is a member already",
            ));
        }
        if on > today {
            return Err(Error::invalid(
                "joined_on",
                format!("{on} is in the future"),
            ));
        }
        if on < formed_on {
            return Err(Error::invalid(
                "joined_on",
                format!("{on} is before the coalition was formed, on {formed_on}"),
            ));
        }
        if let Some(left) = self.periods.last().and_then(|p| p.left_on)
            && on < left
        {
            return Err(Error::invalid(
                "joined_on",
                format!("{on} is before the organization last left, on {left}"),
            ));
        }
        self.periods.push(Period {
            joined_on: on,
            left_on: None,
        });
        Ok(self.periods.len())
    }

    /// Ends the open period on `on`; returns its number. Not before it
    /// joined (the same day is a period of no days), not in the future.
    pub fn leave(&mut self, on: Date, today: Date) -> Result<usize> {
        let count = self.periods.len();
        let Some(last) = self.periods.last_mut().filter(|p| p.left_on.is_none()) else {
            return Err(Error::precondition(
                "NOT_A_MEMBER",
                "organization_id",
                "the organization is not a member",
            ));
        };
        if on > today {
            return Err(Error::invalid("left_on", format!("{on} is in the future")));
        }
        if on < last.joined_on {
            return Err(Error::invalid(
                "left_on",
                format!("{on} is before it joined, on {}", last.joined_on),
            ));
        }
        last.left_on = Some(on);
        Ok(count)
    }

    /// Days of membership up to `today` included, every period together.
    pub fn days_active(&self, today: Date) -> i64 {
        self.periods
            .first()
            .map_or(0, |first| self.days_within(first.joined_on, today))
    }

    /// Days of membership between `from` and `until`, both included.
    pub fn days_within(&self, from: Date, until: Date) -> i64 {
        self.periods
            .iter()
            .map(|p| p.days_within(from, until))
            .sum()
    }

    /// Periods that started on a day `inside` says.
    pub fn joins(&self, inside: impl Fn(Date) -> bool) -> usize {
        self.periods.iter().filter(|p| inside(p.joined_on)).count()
    }

    /// Periods that ended on a day `inside` says.
    pub fn departures(&self, inside: impl Fn(Date) -> bool) -> usize {
        self.periods
            .iter()
            .filter(|p| p.left_on.is_some_and(&inside))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    const FORMED: &str = "2026-01-10";
    const TODAY: &str = "2026-12-31";

    fn member_since(day: &str) -> Membership {
        let mut m = Membership::default();
        m.join(d(day), d(FORMED), d(TODAY)).unwrap();
        m
    }

    fn kind(r: Result<usize>) -> &'static str {
        match r {
            Err(Error::FailedPrecondition { kind, .. }) => kind,
            Err(Error::InvalidArgument(v)) if v[0].field == "joined_on" => "joined_on",
            Err(Error::InvalidArgument(v)) if v[0].field == "left_on" => "left_on",
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn join_leave_and_join_again_keep_every_period() {
        let mut m = member_since("2026-01-10");
        assert!(m.is_active());
        assert_eq!(m.leave(d("2026-03-01"), d(TODAY)).unwrap(), 1);
        assert!(!m.is_active());
        assert_eq!(m.join(d("2026-05-01"), d(FORMED), d(TODAY)).unwrap(), 2);
        assert_eq!(
            m.periods(),
            [
                Period {
                    joined_on: d("2026-01-10"),
                    left_on: Some(d("2026-03-01"))
                },
                Period {
                    joined_on: d("2026-05-01"),
                    left_on: None
                }
            ]
        );
        assert_eq!(Membership::from_periods(m.periods().to_vec()).unwrap(), m);
    }

    #[test]
    fn a_member_on_a_day_counts_from_joining_to_the_day_before_leaving() {
        let mut m = member_since("2026-01-10");
        m.leave(d("2026-03-01"), d(TODAY)).unwrap();
        m.join(d("2026-05-01"), d(FORMED), d(TODAY)).unwrap();
        assert!(!m.active_on(d("2026-01-09")));
        assert!(m.active_on(d("2026-01-10")));
        assert!(m.active_on(d("2026-02-28")));
        assert!(!m.active_on(d("2026-03-01")), "the day it left");
        assert!(!m.active_on(d("2026-04-30")));
        assert!(m.active_on(d("2026-05-01")));
        assert!(m.active_on(d("2030-01-01")), "open while a member");
    }

    #[test]
    fn days_add_up_across_periods_and_windows() {
        let mut m = member_since("2026-01-10");
        m.leave(d("2026-01-20"), d(TODAY)).unwrap();
        // 10..19 January: ten days.
        assert_eq!(m.days_active(d(TODAY)), 10);
        m.join(d("2026-01-20"), d(FORMED), d(TODAY)).unwrap();
        // Left and joined again the same day: no gap, no day twice.
        assert_eq!(m.days_active(d("2026-01-20")), 11);
        assert!(m.active_on(d("2026-01-20")));
        assert_eq!(m.days_active(d("2026-01-31")), 22);
        // A window: 15..25 January, both included.
        assert_eq!(m.days_within(d("2026-01-15"), d("2026-01-25")), 11);
        assert_eq!(m.days_within(d("2025-01-01"), d("2025-12-31")), 0);
        assert_eq!(member_since("2026-02-01").days_active(d("2026-01-31")), 0);
        assert_eq!(Membership::default().days_active(d(TODAY)), 0);
    }

    #[test]
    fn a_period_of_no_days_is_kept_but_never_active() {
        let mut m = member_since("2026-06-01");
        m.leave(d("2026-06-01"), d(TODAY)).unwrap();
        assert_eq!(m.periods().len(), 1);
        assert!(!m.active_on(d("2026-06-01")));
        assert_eq!(m.days_active(d(TODAY)), 0);
    }

    #[test]
    fn joining_and_leaving_refuse_what_cannot_be() {
        let mut m = member_since("2026-02-01");
        assert_eq!(
            kind(m.join(d("2026-03-01"), d(FORMED), d(TODAY))),
            "ALREADY_A_MEMBER"
        );
        assert_eq!(kind(m.leave(d("2026-01-31"), d(TODAY))), "left_on");
        assert_eq!(kind(m.leave(d("2027-01-01"), d(TODAY))), "left_on");
        m.leave(d("2026-04-01"), d(TODAY)).unwrap();
        assert_eq!(kind(m.leave(d("2026-05-01"), d(TODAY))), "NOT_A_MEMBER");
        assert_eq!(
            kind(m.join(d("2026-03-31"), d(FORMED), d(TODAY))),
            "joined_on"
        );
        assert_eq!(
            kind(m.join(d("2027-01-01"), d(FORMED), d(TODAY))),
            "joined_on"
        );
        let mut fresh = Membership::default();
        assert_eq!(
            kind(fresh.join(d("2026-01-09"), d(FORMED), d(TODAY))),
            "joined_on"
        );
        assert_eq!(kind(fresh.leave(d("2026-02-01"), d(TODAY))), "NOT_A_MEMBER");
        // Nothing refused changed anything.
        assert_eq!(m.periods().len(), 1);
        assert!(fresh.periods().is_empty());
    }

    #[test]
    fn joins_and_departures_are_counted_by_day() {
        let mut m = member_since("2026-01-10");
        m.leave(d("2026-03-01"), d(TODAY)).unwrap();
        m.join(d("2026-05-01"), d(FORMED), d(TODAY)).unwrap();
        let q1 = |day: Date| day >= d("2026-01-01") && day <= d("2026-03-31");
        let q2 = |day: Date| day >= d("2026-04-01") && day <= d("2026-06-30");
        assert_eq!((m.joins(q1), m.departures(q1)), (1, 1));
        assert_eq!((m.joins(q2), m.departures(q2)), (1, 0));
    }

    #[test]
    fn stored_periods_that_are_not_one_history_are_refused() {
        let p = |j: &str, l: Option<&str>| Period {
            joined_on: d(j),
            left_on: l.map(d),
        };
        assert!(Membership::from_periods(vec![]).is_ok());
        assert!(Membership::from_periods(vec![p("2026-02-01", Some("2026-01-01"))]).is_err());
        assert!(
            Membership::from_periods(vec![p("2026-01-01", None), p("2026-02-01", None)]).is_err()
        );
        assert!(
            Membership::from_periods(vec![
                p("2026-01-01", Some("2026-03-01")),
                p("2026-02-01", None)
            ])
            .is_err()
        );
        assert!(
            Membership::from_periods(vec![
                p("2026-01-01", Some("2026-03-01")),
                p("2026-03-01", None)
            ])
            .is_ok()
        );
    }
}
