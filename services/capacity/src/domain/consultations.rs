//! Consultations and technical-support sessions, and their follow-up
//! actions.

use markaz_kit::error::{AllValid, FieldViolation, Result, Violations};
use markaz_kit::rpc::parse_id;
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{AdvisorKind, ConsultationKind};
use markaz_proto::common::v1::{AgeBand, Gender};

use super::topics::parse_topic_codes;
use super::{BRANCH_MAX, MAX_TOPICS, NAME_MAX, NOTES_MAX, PROSE_MAX, many, optional_id, required};

pub const MAX_ATTENDEES: usize = 50;
pub const MAX_ACTIONS: usize = 50;
pub const MAX_DURATION_MINUTES: i32 = 24 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSpec {
    /// The id of an action kept from before; None for a new one.
    pub id: Option<String>,
    pub description: String,
    pub owner: String,
    pub due_date: Option<Date>,
    pub done_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationFields {
    pub kind: ConsultationKind,
    pub topic_codes: Vec<String>,
    pub organization_id: String,
    pub attendees: Vec<String>,
    pub advisor_name: String,
    pub advisor_kind: AdvisorKind,
    pub branch_id: String,
    pub held_on: Date,
    pub duration_minutes: i32,
    pub notes: String,
    pub actions: Vec<ActionSpec>,
}

/// A consultation as stored: its actions all have ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Consultation {
    pub id: String,
    pub fields: ConsultationFields,
    /// Declared gender of each attendee, in `fields.attendees` order.
    pub attendee_genders: Vec<Gender>,
    pub recorded_by: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An attendee as recorded: who, and the figures' fields as declared then.
#[derive(Debug, Clone, PartialEq)]
pub struct Attendee {
    pub person_id: String,
    pub gender: Gender,
    pub age_band: AgeBand,
}

/// A follow-up action with the consultation it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUp {
    pub action: ActionSpec,
    pub consultation_id: String,
    pub organization_id: String,
    /// The paging key: due date (or the far future) then id.
    pub key: String,
}

pub fn parse_consultation(prefix: &str, c: &api::Consultation) -> Result<ConsultationFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let empty = api::Advisor::default();
    let advisor = c.advisor.as_ref().unwrap_or(&empty);
    let (
        (kind, topic_codes, organization_id, attendees),
        (advisor_name, advisor_kind, branch_id, held_on),
        (duration_minutes, notes, actions),
    ) = (
        (
            required::<ConsultationKind>(&f("kind"), c.kind),
            many(parse_topic_codes(
                &f("topic_codes"),
                &c.topic_codes,
                MAX_TOPICS,
                false,
            )),
            optional_id(&f("organization_id"), &c.organization_id),
            parse_attendees(
                &f("attendee_person_ids"),
                &c.attendee_person_ids,
                !c.organization_id.is_empty(),
            ),
        )
            .all(),
        (
            validate::line(&f("advisor.name"), &advisor.name, NAME_MAX, true),
            required::<AdvisorKind>(&f("advisor.kind"), advisor.kind),
            validate::slug(&f("branch_id"), &c.branch_id, BRANCH_MAX),
            parse_held_on(&f("held_on"), c.held_on.as_ref()),
        )
            .all(),
        (
            parse_duration(&f("duration_minutes"), c.duration_minutes),
            validate::prose(&f("notes"), &c.notes, NOTES_MAX, false),
            parse_actions(&f("follow_up_actions"), &c.follow_up_actions),
        )
            .all(),
    )
        .all()?;
    Ok(ConsultationFields {
        kind,
        topic_codes,
        organization_id,
        attendees,
        advisor_name,
        advisor_kind,
        branch_id,
        held_on,
        duration_minutes,
        notes,
        actions,
    })
}

/// The people present: distinct ids; someone must be advised, an
/// organization (`with_organization`) or a person.
fn parse_attendees(field: &str, ids: &[String], with_organization: bool) -> Result<Vec<String>> {
    let mut v = Violations::new();
    if ids.len() > MAX_ATTENDEES {
        v.add(field, format!("at most {MAX_ATTENDEES} people"));
    }
    let mut attendees: Vec<String> = Vec::new();
    for (i, p) in ids.iter().enumerate() {
        let item = format!("{field}[{i}]");
        match v.take(parse_id(&item, p)) {
            Some(id) if attendees.contains(&id) => v.add(item, "named twice"),
            Some(id) => attendees.push(id),
            None => {}
        }
    }
    if !with_organization && ids.is_empty() {
        v.add(
            field,
            "an organization or at least one person present is required",
        );
    }
    v.finish()?;
    Ok(attendees)
}

fn parse_held_on(
    field: &str,
    held_on: Option<&markaz_proto::common::v1::Date>,
) -> Result<Date, FieldViolation> {
    let d = Date::required(field, held_on)?;
    if d > Date::today().add_days(1) {
        return Err(FieldViolation::new(field, "cannot be in the future"));
    }
    Ok(d)
}

fn parse_duration(field: &str, minutes: i32) -> Result<i32, FieldViolation> {
    if (1..=MAX_DURATION_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(FieldViolation::new(
            field,
            format!("from 1 to {MAX_DURATION_MINUTES} minutes"),
        ))
    }
}

fn parse_actions(field: &str, actions: &[api::FollowUpAction]) -> Result<Vec<ActionSpec>> {
    let mut v = Violations::new();
    if actions.len() > MAX_ACTIONS {
        v.add(field, format!("at most {MAX_ACTIONS} actions"));
    }
    let mut out: Vec<ActionSpec> = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let af = |name: &str| format!("{field}[{i}].{name}");
        let id = if a.id.is_empty() {
            Some(None)
        } else {
            v.take(parse_id(&af("id"), &a.id)).map(Some)
        };
        if let Some(Some(id)) = &id
            && out.iter().any(|x| x.id.as_ref() == Some(id))
        {
            v.add(af("id"), "named twice");
        }
        let description = v.take(validate::prose(
            &af("description"),
            &a.description,
            PROSE_MAX,
            true,
        ));
        let owner = v.take(validate::line(&af("owner"), &a.owner, NAME_MAX, false));
        let due_date = v.take(Date::optional(&af("due_date"), a.due_date.as_ref()));
        let done_on = v.take(Date::optional(&af("done_on"), a.done_on.as_ref()));
        if let (Some(id), Some(description), Some(owner), Some(due_date), Some(done_on)) =
            (id, description, owner, due_date, done_on)
        {
            out.push(ActionSpec {
                id,
                description,
                owner,
                due_date,
                done_on: if a.done {
                    Some(done_on.unwrap_or_else(Date::today))
                } else {
                    None
                },
            });
        }
    }
    v.finish()?;
    Ok(out)
}

pub const CONSULTATION_MASK: &[&str] = &[
    "kind",
    "topic_codes",
    "organization_id",
    "attendee_person_ids",
    "advisor",
    "branch_id",
    "held_on",
    "duration_minutes",
    "notes",
    "follow_up_actions",
];

pub fn merge_consultation(onto: &mut api::Consultation, from: &api::Consultation, mask: &[&str]) {
    for path in mask {
        match *path {
            "kind" => onto.kind = from.kind,
            "topic_codes" => onto.topic_codes = from.topic_codes.clone(),
            "organization_id" => onto.organization_id = from.organization_id.clone(),
            "attendee_person_ids" => onto.attendee_person_ids = from.attendee_person_ids.clone(),
            "advisor" => onto.advisor = from.advisor.clone(),
            "branch_id" => onto.branch_id = from.branch_id.clone(),
            "held_on" => onto.held_on = from.held_on,
            "duration_minutes" => onto.duration_minutes = from.duration_minutes,
            "notes" => onto.notes = from.notes.clone(),
            "follow_up_actions" => onto.follow_up_actions = from.follow_up_actions.clone(),
            _ => {}
        }
    }
}

/// Action ids an update sends that are not this consultation's: a new
/// action comes without one.
pub fn check_action_ids(current: &ConsultationFields, sent: &ConsultationFields) -> Result<()> {
    let mut v = Violations::new();
    for (i, a) in sent.actions.iter().enumerate() {
        if let Some(action_id) = &a.id
            && !current
                .actions
                .iter()
                .any(|x| x.id.as_ref() == Some(action_id))
        {
            v.add(
                format!("consultation.follow_up_actions[{i}].id"),
                "not an action of this consultation; leave it empty for a new one",
            );
        }
    }
    v.finish()
}

pub fn consultation_kind_word(k: ConsultationKind) -> &'static str {
    match k {
        ConsultationKind::Unspecified => "unspecified",
        ConsultationKind::Consultation => "consultation",
        ConsultationKind::TechnicalSupport => "technical_support",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::courses::tests::date;
    use markaz_kit::error::Error;

    fn consultation() -> api::Consultation {
        api::Consultation {
            kind: ConsultationKind::TechnicalSupport as i32,
            topic_codes: vec!["financial-management".into()],
            organization_id: "0190d3b4-5c1a-7000-8000-000000000001".into(),
            advisor: Some(api::Advisor {
                name: "خبير مالي".into(),
                kind: AdvisorKind::ExternalExpert as i32,
            }),
            branch_id: "deir-ez-zor".into(),
            held_on: date(2026, 1, 15),
            duration_minutes: 90,
            follow_up_actions: vec![api::FollowUpAction {
                description: "إعداد دليل الإجراءات المالية".into(),
                owner: "the accountant".into(),
                done: true,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn consultations_need_someone_advised_and_done_actions_get_a_date() {
        let c = parse_consultation("consultation", &consultation()).unwrap();
        assert_eq!(c.actions[0].done_on, Some(Date::today()));
        let mut nobody = consultation();
        nobody.organization_id.clear();
        let Error::InvalidArgument(v) = parse_consultation("consultation", &nobody).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(v[0].field, "consultation.attendee_person_ids");
        let mut future = consultation();
        future.held_on = Some(Date::today().add_days(3).to_proto());
        future.duration_minutes = 0;
        let Error::InvalidArgument(v) = parse_consultation("consultation", &future).unwrap_err()
        else {
            panic!()
        };
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            ["consultation.held_on", "consultation.duration_minutes"]
        );
    }
}
