//! The outcome of a held event: its minutes and decisions. Decisions keep
//! their ids when the outcome is rewritten, so a commitment may name the
//! decision it follows from.

use markaz_kit::error::{Result, Violations};
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::networking::v1 as api;

use super::{LONG_PROSE_MAX, finish, optional_id};

pub const MAX_DECISIONS: usize = 100;
pub const DECISION_MAX: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionSpec {
    /// The decision's id when it is kept; `None` for a new one.
    pub id: Option<String>,
    pub text: LocalizedText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeFields {
    pub minutes: LocalizedText,
    pub decisions: Vec<DecisionSpec>,
}

impl OutcomeFields {
    /// The ids of `existing` decisions this outcome no longer has: a
    /// commitment naming one of them must be let go of first.
    pub fn removed<'a>(&self, existing: &'a [String]) -> Vec<&'a str> {
        existing
            .iter()
            .filter(|id| !self.decisions.iter().any(|d| d.id.as_ref() == Some(id)))
            .map(String::as_str)
            .collect()
    }
}

pub const OUTCOME_MASK: &[&str] = &["minutes", "decisions"];

pub fn merge_outcome(onto: &mut api::EventOutcome, from: &api::EventOutcome, mask: &[&str]) {
    for path in mask {
        match *path {
            "minutes" => onto.minutes = from.minutes.clone(),
            "decisions" => onto.decisions = from.decisions.clone(),
            _ => {}
        }
    }
}

/// Parses an event's outcome; a decision sent with an id must be one of
/// `existing` (the event's decisions), each named once.
pub fn parse_outcome(o: Option<&api::EventOutcome>, existing: &[String]) -> Result<OutcomeFields> {
    let empty = api::EventOutcome::default();
    let o = o.unwrap_or(&empty);
    let mut v = Violations::new();
    let minutes = v.take_many(validate::localized(
        "outcome.minutes",
        o.minutes.as_ref(),
        LONG_PROSE_MAX,
        false,
    ));
    if o.decisions.len() > MAX_DECISIONS {
        v.add("outcome.decisions", format!("at most {MAX_DECISIONS}"));
    }
    let mut decisions: Vec<DecisionSpec> = Vec::new();
    for (i, d) in o.decisions.iter().enumerate() {
        let f = |n: &str| format!("outcome.decisions[{i}].{n}");
        let id = v
            .take(optional_id(&f("id"), &d.id))
            .and_then(|id| match id {
                Some(id) if !existing.contains(&id) => {
                    v.add(f("id"), "not a decision of this event");
                    None
                }
                Some(id) if decisions.iter().any(|x| x.id.as_ref() == Some(&id)) => {
                    v.add(f("id"), "named twice");
                    None
                }
                other => Some(other),
            });
        let text = v.take_many(validate::localized(
            &f("text"),
            d.text.as_ref(),
            DECISION_MAX,
            true,
        ));
        if let (Some(id), Some(text)) = (id, text) {
            decisions.push(DecisionSpec { id, text });
        }
    }
    finish(v, || {
        Some(OutcomeFields {
            minutes: minutes?,
            decisions,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bad_fields;
    use markaz_kit::rpc::new_id;

    #[test]
    fn decisions_keep_their_ids_and_new_ones_get_none() {
        let kept = new_id();
        let gone = new_id();
        let outcome = api::EventOutcome {
            minutes: Some(LocalizedText {
                ar: "حضر ممثلو المجلس المحلي".into(),
                en: String::new(),
            }),
            decisions: vec![
                api::Decision {
                    id: kept.clone(),
                    text: Some(LocalizedText {
                        ar: "تشكيل لجنة متابعة".into(),
                        en: String::new(),
                    }),
                },
                api::Decision {
                    id: String::new(),
                    text: Some(LocalizedText {
                        ar: String::new(),
                        en: "Meet again in April".into(),
                    }),
                },
            ],
            ..Default::default()
        };
        let existing = [kept.clone(), gone.clone()];
        let parsed = parse_outcome(Some(&outcome), &existing).unwrap();
        assert_eq!(parsed.decisions[0].id.as_ref(), Some(&kept));
        assert_eq!(parsed.decisions[1].id, None);
        assert_eq!(parsed.removed(&existing), [gone.as_str()]);

        let bad = api::EventOutcome {
            decisions: vec![
                api::Decision {
                    id: new_id(),
                    text: None,
                },
                api::Decision {
                    id: kept.clone(),
                    text: outcome.decisions[0].text.clone(),
                },
                api::Decision {
                    id: kept.clone(),
                    text: outcome.decisions[0].text.clone(),
                },
            ],
            ..Default::default()
        };
        let fields = bad_fields(parse_outcome(Some(&bad), &existing));
        assert_eq!(
            fields,
            [
                "outcome.decisions[0].id",
                "outcome.decisions[0].text",
                "outcome.decisions[2].id"
            ]
        );
        let mut onto = outcome.clone();
        merge_outcome(&mut onto, &api::EventOutcome::default(), &["minutes"]);
        assert_eq!(onto.minutes, None);
        assert_eq!(onto.decisions.len(), 2);
        merge_outcome(&mut onto, &api::EventOutcome::default(), OUTCOME_MASK);
        assert!(onto.decisions.is_empty());
    }
}
