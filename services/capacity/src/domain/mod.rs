//! Capacity building's rules, as plain functions over plain types: no I/O.
//!
//! Requests are *parsed* here into values that can only exist when valid
//! (`TopicFields`, `CourseFields`, `ConsultationFields`, ...), with every bad
//! field reported at once. The records the store reads back are plain
//! types here too (`Course`, `Enrolment`, ...).
//!
//! | room | what it holds |
//! |---|---|
//! | [`topics`] | the built-in catalogue, topic fields and codes |
//! | [`courses`] | course fields, the life cycle, what may change when |
//! | [`enrolments`] | places and the waiting list, who may join a course |
//! | [`attendance`] | marks, test scores, completion, learning gain |
//! | [`certificates`] | certificate codes |
//! | [`consultations`] | consultations and their follow-up actions |
//! | [`consultation_requests`] | requests for a consultation from the public and their triage |
//! | [`suggestions`] | suggestions from the public and their triage |
//! | [`recommendations`] | an assessment's weak domains, the ranking of courses |
//! | [`reports`] | figures: people counted by gender |

pub mod attendance;
pub mod certificates;
pub mod consultation_requests;
pub mod consultations;
pub mod courses;
pub mod enrolments;
pub mod recommendations;
pub mod reports;
pub mod suggestions;
pub mod topics;

use markaz_kit::error::{Error, FieldViolation, Result};
use markaz_kit::validate;

pub const NAME_MAX: usize = 200;
pub const PROSE_MAX: usize = 4_000;
pub const NOTES_MAX: usize = 8_000;
pub const MARK_NOTE_MAX: usize = 500;
pub const BRANCH_MAX: usize = 40;
pub const MAX_TOPICS: usize = 10;

/// The bad fields of a parser that reports several at once, as one error,
/// so it joins the others of its request (`(a, b).all()`).
pub(crate) fn many<T>(parsed: Result<T, Vec<FieldViolation>>) -> Result<T> {
    parsed.map_err(Error::InvalidArgument)
}

/// A required enumeration field: unset or unknown is a bad field.
pub(crate) fn required<E: TryFrom<i32>>(field: &str, value: i32) -> Result<E, FieldViolation> {
    validate::enumeration::<E>(field, value, true)?
        .ok_or_else(|| FieldViolation::new(field, "required"))
}

/// An id field that may be empty ("" for none).
pub(crate) fn optional_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        markaz_kit::rpc::parse_id(field, value)
    }
}
