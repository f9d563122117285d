//! Figures, computed from the records and never typed by hand: people
//! counted by declared gender, and what the activity report reads.

use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{ConsultationKind, CourseKind};
use markaz_proto::common::v1::Gender;

/// People counted by declared gender; an unknown gender counts as not
/// disclosed (it is never guessed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenderTally {
    pub female: i32,
    pub male: i32,
    pub undisclosed: i32,
}

impl GenderTally {
    pub fn add(&mut self, gender: Gender) {
        self.add_many(gender, 1);
    }

    /// `n` people of `gender` (a count the database made).
    pub fn add_many(&mut self, gender: Gender, n: i32) {
        let slot = match gender {
            Gender::Female => &mut self.female,
            Gender::Male => &mut self.male,
            Gender::Undisclosed | Gender::Unspecified => &mut self.undisclosed,
        };
        *slot = slot.saturating_add(n);
    }

    pub fn total(&self) -> i32 {
        self.female
            .saturating_add(self.male)
            .saturating_add(self.undisclosed)
    }

    pub fn to_proto(self) -> api::GenderCounts {
        api::GenderCounts {
            female: self.female,
            male: self.male,
            undisclosed: self.undisclosed,
            total: self.total(),
        }
    }
}

impl FromIterator<Gender> for GenderTally {
    fn from_iter<I: IntoIterator<Item = Gender>>(iter: I) -> Self {
        let mut t = GenderTally::default();
        for g in iter {
            t.add(g);
        }
        t
    }
}

/// The completed courses of a period with one kind and branch, counted.
#[derive(Debug, Clone, PartialEq)]
pub struct CoursesCounted {
    pub kind: CourseKind,
    pub branch_id: String,
    pub courses: i64,
}

/// The participants (holding a place) of a period's completed courses who
/// share a course kind, a gender, whether they were present at a session at
/// least once and whether they completed, counted.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantsCounted {
    pub kind: CourseKind,
    pub gender: Gender,
    pub attended: bool,
    pub completed: bool,
    pub people: i64,
}

/// The consultations of a period with one kind and branch, counted.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationsCounted {
    pub kind: ConsultationKind,
    pub branch_id: String,
    pub sessions: i64,
}

/// The attendees of a period's consultations of one gender, counted once
/// per consultation they attended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttendeesCounted {
    pub gender: Gender,
    pub people: i64,
}

/// A count the database made, as the report's `int32`: a figure past
/// `i32::MAX` shows as `i32::MAX` rather than wrapping to a negative.
pub fn figure(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gender_is_counted_as_declared_and_never_guessed() {
        let t: GenderTally = [
            Gender::Female,
            Gender::Male,
            Gender::Female,
            Gender::Undisclosed,
            Gender::Unspecified,
        ]
        .into_iter()
        .collect();
        assert_eq!((t.female, t.male, t.undisclosed, t.total()), (2, 1, 2, 5));
    }

    #[test]
    fn counts_made_by_the_database_add_up_and_never_wrap() {
        let mut t = GenderTally::default();
        t.add_many(Gender::Female, 40_000);
        t.add_many(Gender::Unspecified, 2);
        t.add_many(Gender::Female, 1);
        assert_eq!((t.female, t.undisclosed, t.total()), (40_001, 2, 40_003));
        t.add_many(Gender::Male, i32::MAX);
        assert_eq!(t.total(), i32::MAX);
        assert_eq!(figure(i64::from(i32::MAX) + 1), i32::MAX);
        assert_eq!(figure(32_767), 32_767);
    }
}
