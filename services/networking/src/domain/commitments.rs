//! Follow-up commitments made at events: who owns one (an organization, a
//! local-administration body or a person), its life cycle (open → done with
//! evidence, or dropped with a reason), carrying it into the next meeting,
//! and when it is overdue.

use markaz_kit::error::{Error, FieldViolation, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::networking::v1 as api;

pub use api::{CommitmentStatus, OwnerKind};

use super::events::{EVENT_LIFECYCLE, EventAction, EventFacts};
use super::lifecycle::{Action, Lifecycle};
use super::{
    EvidenceSpec, PROSE_MAX, day_not_after, finish, optional_id, parse_evidence, reason,
    required_id,
};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Organization(String),
    /// An organization of kind LOCAL_ADMINISTRATION (the store checks the
    /// kind against its copy).
    LocalAdministration(String),
    Person(String),
}

impl Owner {
    pub fn kind(&self) -> OwnerKind {
        match self {
            Owner::Organization(_) => OwnerKind::Organization,
            Owner::LocalAdministration(_) => OwnerKind::LocalAdministration,
            Owner::Person(_) => OwnerKind::Person,
        }
    }

    pub fn organization_id(&self) -> Option<&str> {
        match self {
            Owner::Organization(id) | Owner::LocalAdministration(id) => Some(id),
            Owner::Person(_) => None,
        }
    }

    pub fn person_id(&self) -> Option<&str> {
        match self {
            Owner::Person(id) => Some(id),
            _ => None,
        }
    }
}

pub fn parse_owner(
    field: &str,
    o: Option<&api::CommitmentOwner>,
) -> Result<Owner, Vec<FieldViolation>> {
    let Some(o) = o else {
        return Err(vec![FieldViolation::new(field, "required")]);
    };
    let mut errors = Vec::new();
    let kind = validate::enumeration::<OwnerKind>(&format!("{field}.kind"), o.kind, true)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let (org_field, person_field) = (
        format!("{field}.organization_id"),
        format!("{field}.person_id"),
    );
    let owner = match kind {
        Some(OwnerKind::Person) => {
            if !o.organization_id.is_empty() {
                errors.push(FieldViolation::new(&org_field, "not given for a person"));
            }
            required_id(&person_field, &o.person_id)
                .map(Owner::Person)
                .map_err(|e| errors.push(e))
                .ok()
        }
        Some(k @ (OwnerKind::Organization | OwnerKind::LocalAdministration)) => {
            if !o.person_id.is_empty() {
                errors.push(FieldViolation::new(
                    &person_field,
                    "not given for an organization",
                ));
            }
            required_id(&org_field, &o.organization_id)
                .map(|id| {
                    if k == OwnerKind::Organization {
                        Owner::Organization(id)
                    } else {
                        Owner::LocalAdministration(id)
                    }
                })
                .map_err(|e| errors.push(e))
                .ok()
        }
        _ => None,
    };
    match owner {
        Some(owner) if errors.is_empty() => Ok(owner),
        _ => Err(errors),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentFields {
    pub description: LocalizedText,
    pub owner: Owner,
    pub due_date: Date,
    /// The decision of the event it follows from.
    pub decision_id: Option<String>,
}

/// Parses the settable fields of a commitment.
pub fn parse_commitment(c: &api::Commitment) -> Result<CommitmentFields> {
    let mut v = Violations::new();
    let fields = commitment_fields(&mut v, c);
    finish(v, || fields)
}

/// Parses a new commitment: its event, and its fields.
pub fn parse_new_commitment(c: Option<&api::Commitment>) -> Result<(String, CommitmentFields)> {
    let empty = api::Commitment::default();
    let c = c.unwrap_or(&empty);
    let mut v = Violations::new();
    let event_id = v.take(required_id("commitment.event_id", &c.event_id));
    let fields = commitment_fields(&mut v, c);
    finish(v, || Some((event_id?, fields?)))
}

fn commitment_fields(v: &mut Violations, c: &api::Commitment) -> Option<CommitmentFields> {
    let description = v.take_many(validate::localized(
        "commitment.description",
        c.description.as_ref(),
        PROSE_MAX,
        true,
    ));
    let owner = v.take_many(parse_owner("commitment.owner", c.owner.as_ref()));
    let due_date = v.take(Date::required("commitment.due_date", c.due_date.as_ref()));
    let decision_id = v.take(optional_id("commitment.decision_id", &c.decision_id));
    Some(CommitmentFields {
        description: description?,
        owner: owner?,
        due_date: due_date?,
        decision_id: decision_id?,
    })
}

/// A commitment is due on or after the day it was made.
pub fn check_due_date(field: &str, due: Date, made_on: Date) -> Result<()> {
    if due < made_on {
        return Err(Error::invalid(
            field,
            format!("{due} is before the meeting it was made at, {made_on}"),
        ));
    }
    Ok(())
}

pub const COMMITMENT_MASK: &[&str] = &["description", "owner", "due_date", "decision_id"];

pub fn merge_commitment(onto: &mut api::Commitment, from: &api::Commitment, mask: &[&str]) {
    for path in mask {
        match *path {
            "description" => onto.description = from.description.clone(),
            "owner" => onto.owner = from.owner.clone(),
            "due_date" => onto.due_date = from.due_date,
            "decision_id" => onto.decision_id = from.decision_id.clone(),
            _ => {}
        }
    }
}

// ============================================================ life cycle

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitmentAction {
    Edit,
    Carry,
    Fulfil,
    Drop,
}

impl CommitmentAction {
    pub const ALL: [CommitmentAction; 4] = [
        CommitmentAction::Edit,
        CommitmentAction::Carry,
        CommitmentAction::Fulfil,
        CommitmentAction::Drop,
    ];
}

impl Action for CommitmentAction {
    fn past(self) -> &'static str {
        match self {
            CommitmentAction::Edit => "changed",
            CommitmentAction::Carry => "carried into another meeting",
            CommitmentAction::Fulfil => "fulfilled",
            CommitmentAction::Drop => "dropped",
        }
    }
}

use CommitmentAction as A;
use CommitmentStatus as S;

/// open → done | dropped. Done and dropped are final: what was reported is
/// on record; a commitment made again is a new one.
pub const COMMITMENT_LIFECYCLE: Lifecycle<CommitmentStatus, CommitmentAction> = Lifecycle {
    kind: "COMMITMENT_STATUS",
    subject: "commitment.status",
    noun: "a commitment",
    moves: &[
        (S::Open, A::Edit, S::Open),
        (S::Open, A::Carry, S::Open),
        (S::Open, A::Fulfil, S::Done),
        (S::Open, A::Drop, S::Dropped),
    ],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulfilment {
    pub evidence: Vec<EvidenceSpec>,
    pub done_on: Date,
    pub note: String,
}

/// Parses a fulfilment: at least one piece of evidence, done on a day
/// between the meeting it was made at and today.
pub fn parse_fulfilment(
    req: &api::FulfilCommitmentRequest,
    made_on: Date,
    today: Date,
) -> Result<Fulfilment> {
    let mut v = Violations::new();
    let evidence = parse_evidence(&mut v, "evidence", &req.evidence, 1);
    let done_on = v.take(day_not_after("done_on", req.done_on.as_ref(), today));
    if let Some(d) = done_on
        && d < made_on
    {
        v.add(
            "done_on",
            format!("{d} is before the meeting it was made at, {made_on}"),
        );
    }
    let note = v.take(validate::prose("note", &req.note, PROSE_MAX, false));
    finish(v, || {
        Some(Fulfilment {
            evidence,
            done_on: done_on?,
            note: note?,
        })
    })
}

/// Dropping says why.
pub fn parse_drop(reason_text: &str) -> Result<String> {
    Ok(reason("reason", reason_text, true)?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carry {
    pub event_id: String,
    pub due_date: Option<Date>,
    pub note: String,
}

pub fn parse_carry(req: &api::CarryCommitmentRequest) -> Result<Carry> {
    let mut v = Violations::new();
    let event_id = v.take(required_id("event_id", &req.event_id));
    let due_date = v.take(Date::optional("due_date", req.due_date.as_ref()));
    let note = v.take(validate::prose("note", &req.note, PROSE_MAX, false));
    finish(v, || {
        Some(Carry {
            event_id: event_id?,
            due_date: due_date?,
            note: note?,
        })
    })
}

/// Whether an open commitment may be carried into `target`: `agenda` is
/// the meeting it was made at and every meeting it was carried into, in
/// order. The target is the *next* meeting: not cancelled, not on the
/// agenda already, and later than the last one.
pub fn check_carry(
    status: CommitmentStatus,
    agenda: &[EventFacts],
    target: &EventFacts,
    carry: &Carry,
    made_on: Date,
) -> Result<()> {
    COMMITMENT_LIFECYCLE.next(status, A::Carry)?;
    EVENT_LIFECYCLE.next(target.status, EventAction::CarryInto)?;
    if agenda.iter().any(|e| e.id == target.id) {
        return Err(Error::precondition(
            "ALREADY_ON_AGENDA",
            "event_id",
            "the commitment is on that meeting's agenda already",
        ));
    }
    if let Some(last) = agenda.iter().max_by_key(|e| e.start)
        && target.start <= last.start
    {
        return Err(Error::precondition(
            "NOT_A_LATER_MEETING",
            "event_id",
            format!(
                "a commitment is carried into a later meeting than its last one, held on {}",
                last.held_on
            ),
        ));
    }
    if let Some(due) = carry.due_date {
        check_due_date("due_date", due, made_on)?;
    }
    Ok(())
}

/// Open and past its due date on `today`.
pub fn is_overdue(status: CommitmentStatus, due: Date, today: Date) -> bool {
    status == S::Open && due < today
}

/// Days past due (0 when not overdue).
pub fn days_overdue(status: CommitmentStatus, due: Date, today: Date) -> i64 {
    if is_overdue(status, due, today) {
        today.days() - due.days()
    } else {
        0
    }
}

/// A commitment as the figures read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentRow {
    pub id: String,
    pub event_id: String,
    /// The branch of the event it was made at.
    pub branch_id: String,
    pub owner: Owner,
    pub made_on: Date,
    pub due_date: Date,
    pub status: CommitmentStatus,
    /// The day it was fulfilled or dropped.
    pub closed_on: Option<Date>,
}

impl CommitmentRow {
    /// Its status on `day`: `None` before it was made; open until the day
    /// it was closed.
    pub fn status_on(&self, day: Date) -> Option<CommitmentStatus> {
        if self.made_on > day {
            return None;
        }
        match self.closed_on {
            Some(closed) if closed <= day => Some(self.status),
            _ => Some(S::Open),
        }
    }

    pub fn overdue_on(&self, day: Date) -> bool {
        self.status_on(day)
            .is_some_and(|s| is_overdue(s, self.due_date, day))
    }

    /// Fulfilled on or before its due date.
    pub fn on_time(&self) -> bool {
        self.status == S::Done && self.closed_on.is_some_and(|c| c <= self.due_date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bad_fields;
    use crate::domain::events::EventStatus;
    use crate::domain::lifecycle::assert_matches_spec;
    use markaz_kit::rpc::new_id;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn owner(kind: OwnerKind, org: &str, person: &str) -> Option<api::CommitmentOwner> {
        Some(api::CommitmentOwner {
            kind: kind as i32,
            organization_id: org.into(),
            person_id: person.into(),
            name: String::new(),
        })
    }

    fn commitment() -> api::Commitment {
        api::Commitment {
            event_id: new_id(),
            description: Some(LocalizedText {
                ar: "ترميم سور المدرسة قبل بدء العام الدراسي".into(),
                en: String::new(),
            }),
            owner: owner(OwnerKind::LocalAdministration, &new_id(), ""),
            due_date: Some(d("2026-09-01").to_proto()),
            ..Default::default()
        }
    }

    #[test]
    fn owners_are_organizations_bodies_or_people() {
        let (o, p) = (new_id(), new_id());
        assert_eq!(
            parse_owner("o", owner(OwnerKind::Organization, &o, "").as_ref()).unwrap(),
            Owner::Organization(o.clone())
        );
        let body =
            parse_owner("o", owner(OwnerKind::LocalAdministration, &o, "").as_ref()).unwrap();
        assert_eq!(body.kind(), OwnerKind::LocalAdministration);
        assert_eq!(body.organization_id(), Some(o.as_str()));
        assert_eq!(body.person_id(), None);
        let person = parse_owner("o", owner(OwnerKind::Person, "", &p).as_ref()).unwrap();
        assert_eq!(person.person_id(), Some(p.as_str()));
        assert_eq!(person.organization_id(), None);

        let fields = |r: Result<Owner, Vec<FieldViolation>>| -> Vec<String> {
            r.unwrap_err().into_iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(parse_owner("o", None)), ["o"]);
        assert_eq!(
            fields(parse_owner(
                "o",
                owner(OwnerKind::Unspecified, &o, "").as_ref()
            )),
            ["o.kind"]
        );
        assert_eq!(
            fields(parse_owner("o", owner(OwnerKind::Person, &o, "").as_ref())),
            ["o.organization_id", "o.person_id"]
        );
        assert_eq!(
            fields(parse_owner(
                "o",
                owner(OwnerKind::Organization, "x", &p).as_ref()
            )),
            ["o.person_id", "o.organization_id"]
        );
    }

    #[test]
    fn a_new_commitment_names_its_event_and_every_bad_field() {
        let (event, f) = parse_new_commitment(Some(&commitment())).unwrap();
        assert_eq!(event.len(), 36);
        assert_eq!(f.due_date, d("2026-09-01"));
        let fields = bad_fields(parse_new_commitment(None));
        assert_eq!(
            fields,
            [
                "commitment.event_id",
                "commitment.description",
                "commitment.owner",
                "commitment.due_date"
            ]
        );
        let bad = api::Commitment {
            decision_id: "x".into(),
            due_date: Some(markaz_proto::common::v1::Date {
                year: 2026,
                month: 13,
                day: 1,
            }),
            ..commitment()
        };
        let fields = bad_fields(parse_commitment(&bad));
        assert_eq!(fields, ["commitment.due_date", "commitment.decision_id"]);
        assert!(check_due_date("d", d("2026-01-01"), d("2026-01-02")).is_err());
        assert!(check_due_date("d", d("2026-01-02"), d("2026-01-02")).is_ok());
        let mut onto = commitment();
        merge_commitment(&mut onto, &api::Commitment::default(), &["due_date"]);
        assert_eq!(onto.due_date, None);
        assert!(onto.description.is_some());
        merge_commitment(&mut onto, &api::Commitment::default(), COMMITMENT_MASK);
        assert_eq!(onto.owner, None);
        assert_eq!(onto.description, None);
    }

    #[test]
    fn the_table_is_the_specification() {
        assert_matches_spec(
            &COMMITMENT_LIFECYCLE,
            &[S::Unspecified, S::Open, S::Done, S::Dropped],
            &CommitmentAction::ALL,
            &[
                (S::Open, A::Edit, S::Open),
                (S::Open, A::Carry, S::Open),
                (S::Open, A::Fulfil, S::Done),
                (S::Open, A::Drop, S::Dropped),
            ],
        );
        assert!(COMMITMENT_LIFECYCLE.is_final(S::Done));
        assert!(COMMITMENT_LIFECYCLE.is_final(S::Dropped));
    }

    #[test]
    fn fulfilment_shows_evidence_on_a_day_between_the_meeting_and_today() {
        let (made, today) = (d("2026-03-10"), d("2026-04-20"));
        let evidence = vec![api::Evidence {
            url: "https://example.org/photo.jpg".into(),
            ..Default::default()
        }];
        let ok = parse_fulfilment(
            &api::FulfilCommitmentRequest {
                evidence: evidence.clone(),
                ..Default::default()
            },
            made,
            today,
        )
        .unwrap();
        assert_eq!(ok.done_on, today);
        assert_eq!(ok.evidence.len(), 1);
        let on_the_day = parse_fulfilment(
            &api::FulfilCommitmentRequest {
                evidence: evidence.clone(),
                done_on: Some(made.to_proto()),
                ..Default::default()
            },
            made,
            today,
        )
        .unwrap();
        assert_eq!(on_the_day.done_on, made);
        let fields = bad_fields(parse_fulfilment(
            &api::FulfilCommitmentRequest {
                done_on: Some(d("2026-03-09").to_proto()),
                ..Default::default()
            },
            made,
            today,
        ));
        assert_eq!(fields, ["evidence", "done_on"]);
        assert!(
            parse_fulfilment(
                &api::FulfilCommitmentRequest {
                    evidence,
                    done_on: Some(d("2026-04-22").to_proto()),
                    ..Default::default()
                },
                made,
                today,
            )
            .is_err()
        );
        assert!(parse_drop("").is_err());
        assert_eq!(
            parse_drop("the council was dissolved").unwrap(),
            "the council was dissolved"
        );
    }

    fn facts(status: EventStatus, start: i64, day: &str) -> EventFacts {
        EventFacts {
            id: new_id(),
            status,
            start,
            held_on: d(day),
        }
    }

    #[test]
    fn a_commitment_is_carried_into_the_next_meeting_only() {
        let made = facts(EventStatus::Held, 100, "2026-03-10");
        let april = facts(EventStatus::Planned, 200, "2026-04-10");
        let carry = |event: &EventFacts, due: Option<&str>| Carry {
            event_id: event.id.clone(),
            due_date: due.map(d),
            note: String::new(),
        };
        let agenda = [made.clone()];
        assert!(check_carry(S::Open, &agenda, &april, &carry(&april, None), made.held_on).is_ok());
        assert!(
            check_carry(
                S::Open,
                &agenda,
                &april,
                &carry(&april, Some("2026-05-01")),
                made.held_on
            )
            .is_ok()
        );
        let kind_of = |r: Result<()>| match r {
            Err(Error::FailedPrecondition { kind, .. }) => kind,
            Err(Error::InvalidArgument(_)) => "INVALID",
            other => panic!("{other:?}"),
        };
        assert_eq!(
            kind_of(check_carry(
                S::Done,
                &agenda,
                &april,
                &carry(&april, None),
                made.held_on
            )),
            "COMMITMENT_STATUS"
        );
        let cancelled = facts(EventStatus::Cancelled, 300, "2026-05-10");
        assert_eq!(
            kind_of(check_carry(
                S::Open,
                &agenda,
                &cancelled,
                &carry(&cancelled, None),
                made.held_on
            )),
            "EVENT_STATUS"
        );
        let both = [made.clone(), april.clone()];
        assert_eq!(
            kind_of(check_carry(
                S::Open,
                &both,
                &april,
                &carry(&april, None),
                made.held_on
            )),
            "ALREADY_ON_AGENDA"
        );
        let earlier = facts(EventStatus::Held, 150, "2026-03-20");
        assert_eq!(
            kind_of(check_carry(
                S::Open,
                &both,
                &earlier,
                &carry(&earlier, None),
                made.held_on
            )),
            "NOT_A_LATER_MEETING"
        );
        assert_eq!(
            kind_of(check_carry(
                S::Open,
                &agenda,
                &april,
                &carry(&april, Some("2026-03-01")),
                made.held_on
            )),
            "INVALID"
        );
        let parsed = parse_carry(&api::CarryCommitmentRequest {
            id: new_id(),
            event_id: april.id.clone(),
            due_date: Some(d("2026-05-01").to_proto()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(parsed.due_date, Some(d("2026-05-01")));
        assert!(parse_carry(&api::CarryCommitmentRequest::default()).is_err());
    }

    #[test]
    fn overdue_means_open_and_past_due() {
        let due = d("2026-04-01");
        assert!(!is_overdue(S::Open, due, due));
        assert!(is_overdue(S::Open, due, d("2026-04-02")));
        assert!(!is_overdue(S::Done, due, d("2026-05-02")));
        assert!(!is_overdue(S::Dropped, due, d("2026-05-02")));
        assert_eq!(days_overdue(S::Open, due, d("2026-04-11")), 10);
        assert_eq!(days_overdue(S::Open, due, d("2026-03-11")), 0);
        assert_eq!(days_overdue(S::Done, due, d("2026-04-11")), 0);
    }

    #[test]
    fn a_row_knows_its_status_on_any_day() {
        let row = CommitmentRow {
            id: new_id(),
            event_id: new_id(),
            branch_id: "raqqa".into(),
            owner: Owner::Person(new_id()),
            made_on: d("2026-03-10"),
            due_date: d("2026-04-01"),
            status: S::Done,
            closed_on: Some(d("2026-04-15")),
        };
        assert_eq!(row.status_on(d("2026-03-09")), None);
        assert_eq!(row.status_on(d("2026-03-10")), Some(S::Open));
        assert_eq!(row.status_on(d("2026-04-15")), Some(S::Done));
        assert!(!row.overdue_on(d("2026-04-01")));
        assert!(row.overdue_on(d("2026-04-14")), "late, not yet done");
        assert!(!row.overdue_on(d("2026-04-15")));
        assert!(!row.on_time());
        let early = CommitmentRow {
            closed_on: Some(d("2026-03-30")),
            ..row.clone()
        };
        assert!(early.on_time());
        let dropped = CommitmentRow {
            status: S::Dropped,
            ..early
        };
        assert!(!dropped.on_time());
        assert!(!dropped.overdue_on(d("2026-12-01")));
    }
}
