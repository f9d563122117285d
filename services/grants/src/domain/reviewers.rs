//! Reviewers: a reviewer's fields and the accounts they sign in with.

use markaz_kit::error::{AllValid, FieldViolation, Result, Violations};
use markaz_kit::validate;
use markaz_proto::common::v1::Sector;
use markaz_proto::grants::v1 as api;

use super::{MAX_LIST, SHORT_MAX};

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewerFields {
    pub person_id: String,
    pub subject: String,
    pub expertise: Vec<Sector>,
}

pub fn parse_reviewer(r: Option<&api::Reviewer>) -> Result<ReviewerFields> {
    let empty = api::Reviewer::default();
    let r = r.unwrap_or(&empty);
    let mut v = Violations::new();
    if r.expertise.len() > MAX_LIST {
        v.add("reviewer.expertise", format!("at most {MAX_LIST}"));
    }
    let mut expertise = Vec::new();
    for (i, s) in r.expertise.iter().enumerate() {
        if let Some(Some(s)) = v.take(validate::enumeration::<Sector>(
            &format!("reviewer.expertise[{i}]"),
            *s,
            true,
        )) && !expertise.contains(&s)
        {
            expertise.push(s);
        }
    }
    let (person_id, subject, ()) = (
        markaz_kit::rpc::parse_id("reviewer.person_id", &r.person_id),
        parse_account("reviewer.subject", &r.subject),
        v.finish(),
    )
        .all()?;
    Ok(ReviewerFields {
        person_id,
        subject,
        expertise,
    })
}

/// An account: the subject of the tokens a reviewer or a trainer signs in with.
pub fn parse_account(field: &str, subject: &str) -> Result<String, FieldViolation> {
    validate::line(field, subject, SHORT_MAX * 2, true)
}
