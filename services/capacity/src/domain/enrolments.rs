//! Enrolments: places first come, first served, a waiting list behind them,
//! and who may join a course for incubated organizations.

use markaz_kit::error::{Error, Result};
use markaz_proto::capacity::v1::{Audience, EnrolmentStatus};
use markaz_proto::common::v1::{AgeBand, Gender, IncubationStatus};

/// An enrolment as stored, with what is read alongside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolment {
    pub id: String,
    pub course_id: String,
    pub person_id: String,
    pub organization_id: String,
    pub status: EnrolmentStatus,
    pub queue_seq: i64,
    pub gender: Gender,
    pub age_band: AgeBand,
    pub completed: bool,
    pub pre_score: Option<i32>,
    pub post_score: Option<i32>,
    pub cancel_reason: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// From the copy of the person ("" once erased).
    pub participant_name: String,
    pub sessions_present: i64,
    pub certificate_code: String,
    /// 1 for the first in line; 0 when not waiting.
    pub waitlist_position: i64,
}

impl Enrolment {
    /// Whether it holds a place (not waiting, not cancelled).
    pub fn holds_a_place(&self) -> bool {
        self.status == EnrolmentStatus::Enrolled
    }
}

/// Where a new enrolment goes: a place while there is one, else the end of
/// the waiting list.
pub fn placement(enrolled: i64, capacity: i32) -> EnrolmentStatus {
    if enrolled < i64::from(capacity) {
        EnrolmentStatus::Enrolled
    } else {
        EnrolmentStatus::Waitlisted
    }
}

/// How many of the first in line get a place when `enrolled` of `capacity`
/// places are taken and `waiting` people wait.
pub fn promotions(capacity: i32, enrolled: i64, waiting: usize) -> usize {
    let free = (i64::from(capacity) - enrolled).max(0);
    (free as usize).min(waiting)
}

/// Whether a participant from an organization in `incubation` (None for an
/// individual) may join a course for `audience`.
pub fn check_audience(audience: Audience, incubation: Option<IncubationStatus>) -> Result<()> {
    if audience != Audience::IncubatedOnly {
        return Ok(());
    }
    match incubation {
        Some(IncubationStatus::Incubated) => Ok(()),
        None => Err(Error::precondition(
            "INCUBATED_ONLY",
            "course.audience",
            "this course is for members of incubated organizations only; an individual cannot enrol",
        )),
        Some(other) => Err(Error::precondition(
            "INCUBATED_ONLY",
            "course.audience",
            format!(
                "this course is for members of incubated organizations only; the organization is {}",
                incubation_word(other)
            ),
        )),
    }
}

pub fn incubation_word(s: IncubationStatus) -> &'static str {
    match s {
        IncubationStatus::Unspecified => "of unknown standing",
        IncubationStatus::None => "outside the incubation program",
        IncubationStatus::Applicant => "an applicant, not incubated yet",
        IncubationStatus::Incubated => "incubated",
        IncubationStatus::Graduated => "graduated from incubation",
        IncubationStatus::Withdrawn => "withdrawn from incubation",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_go_first_come_and_freed_places_to_the_first_in_line() {
        assert_eq!(placement(4, 5), EnrolmentStatus::Enrolled);
        assert_eq!(placement(5, 5), EnrolmentStatus::Waitlisted);
        assert_eq!(placement(7, 5), EnrolmentStatus::Waitlisted);
        assert_eq!(promotions(5, 4, 15), 1);
        assert_eq!(promotions(8, 5, 15), 3);
        assert_eq!(promotions(8, 5, 2), 2);
        assert_eq!(promotions(5, 5, 15), 0);
        // Over capacity (the capacity was lowered by hand): nobody moves.
        assert_eq!(promotions(5, 7, 15), 0);
    }

    #[test]
    fn incubated_only_courses_take_members_of_incubated_organizations_only() {
        use IncubationStatus as I;
        assert!(check_audience(Audience::Open, None).is_ok());
        assert!(check_audience(Audience::Open, Some(I::None)).is_ok());
        assert!(check_audience(Audience::IncubatedOnly, Some(I::Incubated)).is_ok());
        for refused in [
            None,
            Some(I::None),
            Some(I::Applicant),
            Some(I::Graduated),
            Some(I::Withdrawn),
        ] {
            let e = check_audience(Audience::IncubatedOnly, refused).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::FailedPrecondition {
                        kind: "INCUBATED_ONLY",
                        ..
                    }
                ),
                "{refused:?}"
            );
        }
    }
}
