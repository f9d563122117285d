//! The catalogue of issues the center's events, coalitions and campaigns
//! are about (thalassemia, early marriage, clean schools, ...). The code is
//! the issue's id: campaigns are counted by it, so it never changes.

use markaz_kit::error::{Result, Violations};
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::networking::v1 as api;

use super::{NAME_MAX, PROSE_MAX, finish, issue_code};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueFields {
    pub code: String,
    pub name: LocalizedText,
    pub description: LocalizedText,
    pub archived: bool,
}

pub const ISSUE_MASK: &[&str] = &["name", "description", "archived"];

pub fn parse_issue(issue: Option<&api::Issue>) -> Result<IssueFields> {
    let empty = api::Issue::default();
    let i = issue.unwrap_or(&empty);
    let mut v = Violations::new();
    let code = v.take(issue_code("issue.code", &i.code));
    let name = v.take_many(validate::localized(
        "issue.name",
        i.name.as_ref(),
        NAME_MAX,
        true,
    ));
    let description = v.take_many(validate::localized(
        "issue.description",
        i.description.as_ref(),
        PROSE_MAX,
        false,
    ));
    finish(v, || {
        Some(IssueFields {
            code: code?,
            name: name?,
            description: description?,
            archived: i.archived,
        })
    })
}

pub fn merge_issue(onto: &mut api::Issue, from: &api::Issue, mask: &[&str]) {
    for path in mask {
        match *path {
            "name" => onto.name = from.name.clone(),
            "description" => onto.description = from.description.clone(),
            "archived" => onto.archived = from.archived,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bad_fields;

    fn text(ar: &str, en: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            ar: ar.into(),
            en: en.into(),
        })
    }

    #[test]
    fn an_issue_has_a_code_and_a_name_in_one_language_at_least() {
        let parsed = parse_issue(Some(&api::Issue {
            code: "early-marriage".into(),
            name: text("الزواج المبكر", ""),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(parsed.code, "early-marriage");
        assert_eq!(parsed.name.ar.as_bytes(), "الزواج المبكر".as_bytes());

        let fields = bad_fields(parse_issue(Some(&api::Issue {
            code: "Early Marriage".into(),
            name: None,
            description: text(&"x".repeat(PROSE_MAX + 1), ""),
            ..Default::default()
        })));
        assert_eq!(fields, ["issue.code", "issue.name", "issue.description.ar"]);
        assert!(parse_issue(None).is_err());
    }

    #[test]
    fn the_mask_replaces_only_the_paths_named() {
        let mut onto = api::Issue {
            code: "thalassemia".into(),
            name: text("الثلاسيميا", ""),
            ..Default::default()
        };
        let from = api::Issue {
            code: "other".into(),
            name: text("", "Thalassemia"),
            archived: true,
            ..Default::default()
        };
        merge_issue(&mut onto, &from, &["archived"]);
        assert!(onto.archived);
        assert_eq!(onto.code, "thalassemia");
        assert_eq!(onto.name, text("الثلاسيميا", ""));
        merge_issue(&mut onto, &from, ISSUE_MASK);
        assert_eq!(onto.name, text("", "Thalassemia"));
    }
}
