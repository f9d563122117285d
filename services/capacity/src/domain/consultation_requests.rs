//! Requests for a consultation from the public, and what staff decide of
//! them. Shaped like a training suggestion ([`super::suggestions`]): anyone
//! may send one, so every field is small; but a request is only worth
//! taking when the center can answer it, so the requester's name, a
//! contact and what is needed are required.

use markaz_kit::error::{AllValid, Error, FieldViolation, Result};
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{ConsultationKind, ConsultationRequestStatus};

use super::many;
use super::suggestions::{
    SUGGESTER_MAX, SUGGESTION_TEXT_MAX, SUGGESTION_TOPICS_MAX, parse_contact,
};
use super::topics::parse_topic_codes;

/// The same small sizes as a suggestion's: one public form is no bigger
/// than the other.
pub const REQUESTER_MAX: usize = SUGGESTER_MAX;
pub const ORGANIZATION_NAME_MAX: usize = 200;
pub const REQUEST_TEXT_MAX: usize = SUGGESTION_TEXT_MAX;
pub const REQUEST_TOPICS_MAX: usize = SUGGESTION_TOPICS_MAX;
/// The whole encoded request, whatever fields it carries.
pub const REQUEST_BYTES_MAX: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFields {
    pub requester_name: String,
    pub contact: String,
    pub organization_name: String,
    /// `Unspecified` when the requester does not know.
    pub kind: ConsultationKind,
    pub topic_codes: Vec<String>,
    pub description: String,
}

/// A request as stored, with its triage.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationRequest {
    pub id: String,
    pub fields: RequestFields,
    pub status: ConsultationRequestStatus,
    pub triage_note: String,
    pub triaged_by: String,
    pub consultation_id: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A request from anyone: who asks, how to answer them and what they need
/// are required; the organization (as typed), the kind and the topics are
/// not.
pub fn parse_request(r: Option<&api::ConsultationRequest>) -> Result<RequestFields> {
    let empty = api::ConsultationRequest::default();
    let r = r.unwrap_or(&empty);
    let (requester_name, contact, organization_name, kind, topic_codes, description) = (
        validate::line(
            "request.requester_name",
            &r.requester_name,
            REQUESTER_MAX,
            true,
        ),
        required_contact("request.contact", &r.contact),
        validate::line(
            "request.organization_name",
            &r.organization_name,
            ORGANIZATION_NAME_MAX,
            false,
        ),
        validate::enumeration::<ConsultationKind>("request.kind", r.kind, false),
        many(parse_topic_codes(
            "request.topic_codes",
            &r.topic_codes,
            REQUEST_TOPICS_MAX,
            false,
        )),
        validate::prose(
            "request.description",
            &r.description,
            REQUEST_TEXT_MAX,
            true,
        ),
    )
        .all()?;
    Ok(RequestFields {
        requester_name,
        contact,
        organization_name,
        kind: kind.unwrap_or(ConsultationKind::Unspecified),
        topic_codes,
        description,
    })
}

/// An e-mail address or a phone number, as a suggestion's contact, but
/// required: a request nobody can answer helps no one.
fn required_contact(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(field, "required"));
    }
    parse_contact(field, value)
}

/// What staff may decide about a request, and when: a new one is accepted
/// or declined; an accepted one may be declined, or accepted again to link
/// the consultation held for it (`linking`, while it has none); a declined
/// one may be reconsidered.
pub fn check_triage(
    from: ConsultationRequestStatus,
    to: ConsultationRequestStatus,
    linking: bool,
) -> Result<()> {
    use ConsultationRequestStatus as S;
    if !matches!(to, S::Accepted | S::Declined) {
        return Err(Error::invalid("status", "ACCEPTED or DECLINED"));
    }
    let allowed = matches!(
        (from, to, linking),
        (S::New, _, _)
            | (S::Accepted, S::Declined, _)
            | (S::Accepted, S::Accepted, true)
            | (S::Declined, S::Accepted, _)
    );
    if allowed {
        Ok(())
    } else {
        Err(Error::precondition(
            "CONSULTATION_REQUEST_TRIAGE",
            "request.status",
            format!(
                "a request that is {} cannot become {}",
                request_word(from),
                request_word(to)
            ),
        ))
    }
}

pub fn request_word(s: ConsultationRequestStatus) -> &'static str {
    match s {
        ConsultationRequestStatus::Unspecified => "unspecified",
        ConsultationRequestStatus::New => "new",
        ConsultationRequestStatus::Accepted => "accepted",
        ConsultationRequestStatus::Declined => "declined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_small_and_complete_and_triage_follows_its_rules() {
        let ok = api::ConsultationRequest {
            requester_name: "هدى الخلف".into(),
            contact: "+963 944 000 111".into(),
            description: "نحتاج مساعدة في إعداد الميزانية".into(),
            ..Default::default()
        };
        let fields = parse_request(Some(&ok)).unwrap();
        assert_eq!(fields.kind, ConsultationKind::Unspecified);
        let Error::InvalidArgument(v) = parse_request(None).unwrap_err() else {
            panic!()
        };
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "request.requester_name",
                "request.contact",
                "request.description"
            ]
        );
        let big = api::ConsultationRequest {
            requester_name: "x".repeat(REQUESTER_MAX + 1),
            contact: "call me maybe".into(),
            organization_name: "o".repeat(ORGANIZATION_NAME_MAX + 1),
            kind: 9,
            topic_codes: (0..6).map(|i| format!("t{i}")).collect(),
            description: "y".repeat(REQUEST_TEXT_MAX + 1),
            ..Default::default()
        };
        let Error::InvalidArgument(v) = parse_request(Some(&big)).unwrap_err() else {
            panic!()
        };
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "request.requester_name",
                "request.contact",
                "request.organization_name",
                "request.kind",
                "request.topic_codes",
                "request.description"
            ]
        );

        use ConsultationRequestStatus as S;
        assert!(check_triage(S::New, S::Accepted, false).is_ok());
        assert!(check_triage(S::New, S::Declined, false).is_ok());
        assert!(check_triage(S::Accepted, S::Declined, false).is_ok());
        assert!(check_triage(S::Declined, S::Accepted, true).is_ok());
        assert!(check_triage(S::Accepted, S::Accepted, true).is_ok());
        assert!(matches!(
            check_triage(S::Accepted, S::Accepted, false),
            Err(Error::FailedPrecondition { .. })
        ));
        assert!(matches!(
            check_triage(S::Declined, S::Declined, false),
            Err(Error::FailedPrecondition { .. })
        ));
        assert!(matches!(
            check_triage(S::New, S::New, false),
            Err(Error::InvalidArgument(_))
        ));
    }
}
