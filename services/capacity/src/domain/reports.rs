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
        match gender {
            Gender::Female => self.female += 1,
            Gender::Male => self.male += 1,
            Gender::Undisclosed | Gender::Unspecified => self.undisclosed += 1,
        }
    }

    pub fn total(&self) -> i32 {
        self.female + self.male + self.undisclosed
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

/// A completed course of the period.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedCourse {
    pub id: String,
    pub kind: CourseKind,
    pub branch_id: String,
}

/// What the activity report needs of one completed course's participant.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseParticipation {
    pub course_id: String,
    pub kind: CourseKind,
    pub branch_id: String,
    pub gender: Gender,
    pub sessions_present: i64,
    pub completed: bool,
}

/// A consultation held in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationHeld {
    pub kind: ConsultationKind,
    pub branch_id: String,
    pub attendee_genders: Vec<Gender>,
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
}
