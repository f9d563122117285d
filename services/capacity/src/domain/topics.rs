//! The topic catalogue: the eight built-in topics every tenant starts with,
//! and the fields staff set on their own.

use markaz_kit::error::{AllValid, FieldViolation, Result};
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::common::v1::{CapacityDomain, LocalizedText};

use super::{NAME_MAX, PROSE_MAX, many};

pub const CODE_MAX: usize = 60;

/// One of the eight topics every tenant's catalogue starts with.
#[derive(Debug, Clone, Copy)]
pub struct BuiltInTopic {
    pub code: &'static str,
    pub ar: &'static str,
    pub en: &'static str,
    pub domains: &'static [CapacityDomain],
}

/// The center's topics, named as in its own profile, each mapped to the OCA
/// domains it builds (staff may change the mapping per tenant).
pub const BUILT_IN_TOPICS: [BuiltInTopic; 8] = {
    use CapacityDomain as D;
    [
        BuiltInTopic {
            code: "strategic-planning",
            ar: "التخطيط الإستراتيجي",
            en: "Strategic planning",
            domains: &[D::Governance, D::OrganizationalManagement],
        },
        BuiltInTopic {
            code: "project-management",
            ar: "إدارة المشاريع التنموية",
            en: "Development-project management",
            domains: &[D::ProgramManagement, D::ProjectPerformanceManagement],
        },
        BuiltInTopic {
            code: "monitoring-evaluation",
            ar: "المتابعة والتقييم",
            en: "Monitoring and evaluation",
            domains: &[D::ProjectPerformanceManagement],
        },
        BuiltInTopic {
            code: "financial-management",
            ar: "الإدارة المالية",
            en: "Financial management",
            domains: &[D::FinancialManagement],
        },
        BuiltInTopic {
            code: "human-resources",
            ar: "إدارة الموارد البشرية",
            en: "Human-resources management",
            domains: &[D::HumanResources],
        },
        BuiltInTopic {
            code: "operational-planning",
            ar: "التخطيط التشغيلي",
            en: "Operational planning",
            domains: &[D::Administration, D::OrganizationalManagement],
        },
        BuiltInTopic {
            code: "mobilisation-advocacy",
            ar: "الحشد والمناصرة",
            en: "Mobilisation and advocacy",
            domains: &[D::ProgramManagement, D::OrganizationalManagement],
        },
        BuiltInTopic {
            code: "proposal-writing",
            ar: "كتابة وتطوير مقترحات المشاريع",
            en: "Proposal writing",
            domains: &[D::ProgramManagement],
        },
    ]
};

/// The fields of a topic people may set.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicFields {
    pub name: LocalizedText,
    pub description: LocalizedText,
    pub domains: Vec<CapacityDomain>,
    pub archived: bool,
}

/// A topic of the catalogue as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub code: String,
    pub fields: TopicFields,
    pub built_in: bool,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl BuiltInTopic {
    pub fn fields(&self) -> TopicFields {
        TopicFields {
            name: LocalizedText {
                ar: self.ar.into(),
                en: self.en.into(),
            },
            description: LocalizedText::default(),
            domains: self.domains.to_vec(),
            archived: false,
        }
    }

    /// The topic as the seed writes it, at `now`.
    pub fn topic(&self, now: i64) -> Topic {
        Topic {
            code: self.code.to_string(),
            fields: self.fields(),
            built_in: true,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

/// The built-in topic of this code, if it is one.
pub fn built_in(code: &str) -> Option<&'static BuiltInTopic> {
    BUILT_IN_TOPICS.iter().find(|t| t.code == code)
}

/// A topic code: a slug, the topic's id.
pub fn parse_code(field: &str, code: &str) -> Result<String, FieldViolation> {
    validate::slug(field, code, CODE_MAX)
}

pub fn parse_topic(prefix: &str, t: &api::Topic) -> Result<TopicFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let (name, description, domains) = (
        many(validate::localized(
            &f("name"),
            t.name.as_ref(),
            NAME_MAX,
            true,
        )),
        many(validate::localized(
            &f("description"),
            t.description.as_ref(),
            PROSE_MAX,
            false,
        )),
        many(parse_domains(&f("capacity_domains"), &t.capacity_domains)),
    )
        .all()?;
    Ok(TopicFields {
        name,
        description,
        domains,
        archived: t.archived,
    })
}

fn parse_domains(field: &str, values: &[i32]) -> Result<Vec<CapacityDomain>, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, d) in values.iter().enumerate() {
        match validate::enumeration::<CapacityDomain>(&format!("{field}[{i}]"), *d, true) {
            Ok(Some(d)) if !out.contains(&d) => out.push(d),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

pub const TOPIC_MASK: &[&str] = &["name", "description", "capacity_domains", "archived"];

pub fn merge_topic(onto: &mut api::Topic, from: &api::Topic, mask: &[&str]) {
    for path in mask {
        match *path {
            "name" => onto.name = from.name.clone(),
            "description" => onto.description = from.description.clone(),
            "capacity_domains" => onto.capacity_domains = from.capacity_domains.clone(),
            "archived" => onto.archived = from.archived,
            _ => {}
        }
    }
}

/// A list of topic codes: slugs, no repeats, at most `max`. Whether they are
/// in the catalogue is for the caller to check.
pub fn parse_topic_codes(
    field: &str,
    codes: &[String],
    max: usize,
    required: bool,
) -> Result<Vec<String>, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    if required && codes.is_empty() {
        errors.push(FieldViolation::new(field, "at least one topic"));
    }
    if codes.len() > max {
        errors.push(FieldViolation::new(field, format!("at most {max} topics")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, c) in codes.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match parse_code(&f, c) {
            Ok(c) if out.contains(&c) => errors.push(FieldViolation::new(f, "named twice")),
            Ok(c) => out.push(c),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalogue_is_bilingual_and_mapped_to_domains() {
        assert_eq!(BUILT_IN_TOPICS.len(), 8);
        for t in BUILT_IN_TOPICS {
            assert!(parse_code("code", t.code).is_ok(), "{}", t.code);
            assert!(!t.ar.is_empty() && !t.en.is_empty() && !t.domains.is_empty());
        }
        let codes: Vec<_> = BUILT_IN_TOPICS.iter().map(|t| t.code).collect();
        assert_eq!(
            codes,
            [
                "strategic-planning",
                "project-management",
                "monitoring-evaluation",
                "financial-management",
                "human-resources",
                "operational-planning",
                "mobilisation-advocacy",
                "proposal-writing"
            ]
        );
    }
}
