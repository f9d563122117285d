//! Training suggestions from the public, and what staff decide of them.

use markaz_kit::error::{AllValid, Error, FieldViolation, Result};
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::SuggestionStatus;

use super::many;
use super::topics::parse_topic_codes;

// Suggestions come from anyone: small, and few per call.
pub const SUGGESTION_TITLE_MAX: usize = 200;
pub const SUGGESTION_TEXT_MAX: usize = 2_000;
pub const SUGGESTION_TOPICS_MAX: usize = 5;
pub const SUGGESTER_MAX: usize = 100;
/// The whole encoded request, whatever fields it carries.
pub const SUGGESTION_BYTES_MAX: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestionFields {
    pub title: String,
    pub description: String,
    pub topic_codes: Vec<String>,
    pub suggested_by: String,
    pub contact: String,
}

/// A suggestion as stored, with its triage.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub id: String,
    pub fields: SuggestionFields,
    pub status: SuggestionStatus,
    pub triage_note: String,
    pub triaged_by: String,
    pub course_id: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A suggestion from anyone: every field small, nothing required but the
/// title.
pub fn parse_suggestion(s: Option<&api::TrainingSuggestion>) -> Result<SuggestionFields> {
    let empty = api::TrainingSuggestion::default();
    let s = s.unwrap_or(&empty);
    let (title, description, topic_codes, suggested_by, contact) = (
        validate::line("suggestion.title", &s.title, SUGGESTION_TITLE_MAX, true),
        validate::prose(
            "suggestion.description",
            &s.description,
            SUGGESTION_TEXT_MAX,
            false,
        ),
        many(parse_topic_codes(
            "suggestion.topic_codes",
            &s.topic_codes,
            SUGGESTION_TOPICS_MAX,
            false,
        )),
        validate::line(
            "suggestion.suggested_by",
            &s.suggested_by,
            SUGGESTER_MAX,
            false,
        ),
        parse_contact("suggestion.contact", &s.contact),
    )
        .all()?;
    Ok(SuggestionFields {
        title,
        description,
        topic_codes,
        suggested_by,
        contact,
    })
}

/// How to answer someone: an e-mail address or a phone number, optional.
pub fn parse_contact(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Ok(String::new());
    }
    validate::email(field, value)
        .or_else(|_| validate::phone(field, value))
        .map_err(|_| FieldViolation::new(field, "an e-mail address or a phone number"))
}

/// What staff may decide about a suggestion, and when: a new one may go any
/// way; an accepted one is scheduled or declined; a declined one may be
/// reconsidered; a scheduled one goes back to accepted when its course falls
/// through.
pub fn check_triage(from: SuggestionStatus, to: SuggestionStatus) -> Result<()> {
    use SuggestionStatus as S;
    if !matches!(to, S::Accepted | S::Declined | S::Scheduled) {
        return Err(Error::invalid("status", "ACCEPTED, DECLINED or SCHEDULED"));
    }
    let allowed = matches!(
        (from, to),
        (S::New, _)
            | (S::Accepted, S::Declined)
            | (S::Accepted, S::Scheduled)
            | (S::Declined, S::Accepted)
            | (S::Scheduled, S::Accepted)
    );
    if allowed {
        Ok(())
    } else {
        Err(Error::precondition(
            "SUGGESTION_TRIAGE",
            "suggestion.status",
            format!(
                "a suggestion that is {} cannot become {}",
                suggestion_word(from),
                suggestion_word(to)
            ),
        ))
    }
}

pub fn suggestion_word(s: SuggestionStatus) -> &'static str {
    match s {
        SuggestionStatus::Unspecified => "unspecified",
        SuggestionStatus::New => "new",
        SuggestionStatus::Accepted => "accepted",
        SuggestionStatus::Declined => "declined",
        SuggestionStatus::Scheduled => "scheduled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_small_and_triage_follows_its_rules() {
        let ok = api::TrainingSuggestion {
            title: "تدريب على المناصرة الرقمية".into(),
            contact: "+963 944 000 111".into(),
            ..Default::default()
        };
        assert!(parse_suggestion(Some(&ok)).is_ok());
        let big = api::TrainingSuggestion {
            title: "x".repeat(SUGGESTION_TITLE_MAX + 1),
            description: "y".repeat(SUGGESTION_TEXT_MAX + 1),
            topic_codes: (0..6).map(|i| format!("t{i}")).collect(),
            contact: "call me maybe".into(),
            ..Default::default()
        };
        let Error::InvalidArgument(v) = parse_suggestion(Some(&big)).unwrap_err() else {
            panic!()
        };
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "suggestion.title",
                "suggestion.description",
                "suggestion.topic_codes",
                "suggestion.contact"
            ]
        );

        use SuggestionStatus as S;
        assert!(check_triage(S::New, S::Declined).is_ok());
        assert!(check_triage(S::Accepted, S::Scheduled).is_ok());
        assert!(check_triage(S::Declined, S::Accepted).is_ok());
        assert!(check_triage(S::Scheduled, S::Accepted).is_ok());
        assert!(matches!(
            check_triage(S::Declined, S::Scheduled),
            Err(Error::FailedPrecondition { .. })
        ));
        assert!(matches!(
            check_triage(S::Accepted, S::Accepted),
            Err(Error::FailedPrecondition { .. })
        ));
        assert!(matches!(
            check_triage(S::New, S::New),
            Err(Error::InvalidArgument(_))
        ));
    }
}
