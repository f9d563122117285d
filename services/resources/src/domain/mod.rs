//! The resources service's rules, as plain functions over plain types: no
//! I/O, no SQL (a test checks that no file here names `sqlx` or `kit::db`).
//!
//! One file per resource, the same names the api and store layers will use:
//!
//! | file | what it decides |
//! |---|---|
//! | [`items`] | library items: parsing, the update mask, who may read what (visibility) |
//! | [`moderation`] | the item life cycle and partner contributions' moderation, as a table |
//! | [`files`] | uploads and downloads: chunk rules, size limits, media types, versions, ranges |
//! | [`search`] | the one normalizer for documents and queries, ranking, snippets, facets |
//! | [`spaces`] | spaces, equipment, opening hours, closures |
//! | [`bookings`] | bookings: times, overlap, recurrence, the booking life cycle |
//! | [`services`] | services the space gives (internet, printing, legal support) |
//!
//! Requests are *parsed* into values that exist only when valid, every bad
//! field reported at once ([`Violations`]); refused moves of a life cycle are
//! FAILED_PRECONDITION with a reason, from tables that are data.

pub mod bookings;
pub mod files;
pub mod items;
pub mod moderation;
pub mod search;
pub mod services;
pub mod spaces;

use markaz_kit::error::{Error, FieldViolation, Result, Violations};
use markaz_kit::validate;

/// Length limits shared by the resources.
pub const NAME_MAX: usize = 200;
pub const PROSE_MAX: usize = 4_000;
pub const NOTE_MAX: usize = 2_000;
pub const CODE_MAX: usize = 60;
pub const BRANCH_MAX: usize = 40;
/// Ids are UUIDv7 text (36 characters); anything longer is refused unread.
pub const ID_MAX: usize = 64;

/// The end of every parser: one `InvalidArgument` with every violation, or
/// the value built from the fields, each of which is present exactly when no
/// violation was recorded. `build` returning `None` with no violation would
/// be a bug of the parser, reported as such rather than panicking.
pub(crate) fn finish<T>(v: Violations, build: impl FnOnce() -> Option<T>) -> Result<T> {
    v.finish()?;
    build().ok_or_else(|| Error::internal("a parser lost a field it had checked"))
}

/// An id sent by a client: required or not, at most [`ID_MAX`] characters of
/// `[0-9a-zA-Z-]` (ids are UUIDs; the store finds nothing for a wrong one).
pub fn parse_id(field: &str, value: &str, required: bool) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return if required {
            Err(FieldViolation::new(field, "required"))
        } else {
            Ok(String::new())
        };
    }
    let ok = value.len() <= ID_MAX && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(field, "not an id"))
    }
}

/// A branch id as membership names them: a slug.
pub fn parse_branch(field: &str, value: &str) -> Result<String, FieldViolation> {
    validate::slug(field, value, BRANCH_MAX)
}

/// A list of ids without repeats, each parsed with [`parse_id`].
pub fn parse_ids(
    field: &str,
    values: &[String],
    max: usize,
) -> Result<Vec<String>, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let mut out: Vec<String> = Vec::new();
    if values.len() > max {
        errors.push(FieldViolation::new(field, format!("at most {max}")));
    }
    for (i, id) in values.iter().enumerate() {
        match parse_id(&format!("{field}[{i}]"), id, true) {
            Ok(id) if out.contains(&id) => {
                errors.push(FieldViolation::new(format!("{field}[{i}]"), "named twice"))
            }
            Ok(id) => out.push(id),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A life-cycle table: `(from, action, to)` rows, everything else refused.
/// Each service file keeps its table as data and names its states for
/// people; this is the one lookup every table shares.
#[derive(Debug)]
pub struct Lifecycle<S: 'static, A: 'static> {
    /// The precondition kind of a refusal, e.g. `ITEM_STATE`.
    pub kind: &'static str,
    /// The field the refusal is about, e.g. `item.state`.
    pub subject: &'static str,
    /// What the object is called in a sentence: "an item".
    pub noun: &'static str,
    pub rows: &'static [(S, A, S)],
    /// How a state reads after "that is": "a draft", "published".
    pub state_word: fn(S) -> &'static str,
    /// How an action reads after "cannot be": "submitted", "approved".
    pub action_word: fn(A) -> &'static str,
}

impl<S: Copy + PartialEq, A: Copy + PartialEq> Lifecycle<S, A> {
    /// The state after `action`, or FAILED_PRECONDITION saying which states
    /// would have allowed it.
    pub fn next(&self, from: S, action: A) -> Result<S> {
        if let Some((_, _, to)) = self
            .rows
            .iter()
            .find(|(f, a, _)| *f == from && *a == action)
        {
            return Ok(*to);
        }
        let mut allowed: Vec<&str> = Vec::new();
        for (f, a, _) in self.rows {
            let word = (self.state_word)(*f);
            if *a == action && !allowed.contains(&word) {
                allowed.push(word);
            }
        }
        let only = if allowed.is_empty() {
            "never".to_string()
        } else {
            format!("only one that is {}", allowed.join(" or "))
        };
        Err(Error::precondition(
            self.kind,
            self.subject,
            format!(
                "{} that is {} cannot be {}; {only}",
                self.noun,
                (self.state_word)(from),
                (self.action_word)(action),
            ),
        ))
    }

    pub fn allows(&self, from: S, action: A) -> bool {
        self.rows.iter().any(|(f, a, _)| *f == from && *a == action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_like_text() {
        assert!(parse_id("id", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", true).is_ok());
        assert!(parse_id("id", "", true).is_err());
        assert_eq!(parse_id("id", "", false).unwrap(), "");
        assert!(parse_id("id", "x'; DROP TABLE items; --", true).is_err());
        assert!(parse_id("id", &"a".repeat(65), true).is_err());
        let e = parse_ids("ids", &["a".into(), "a".into(), "?".into()], 5).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(parse_ids("ids", &vec!["a".to_string(); 6], 5).is_err());
    }
}
