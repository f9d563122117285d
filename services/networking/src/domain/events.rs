//! Events and meetings: parsing, the life cycle (planned → held, or
//! cancelled) with what each state allows, when an event may be marked
//! held, when check-in opens, the local day an event is held on, and its
//! outcome (minutes and decisions).

use markaz_kit::error::{Error, FieldViolation, Result, Violations};
use markaz_kit::time::{Date, micros_of};
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::networking::v1 as api;
use markaz_proto::prost_types::Timestamp;

pub use api::{EventKind, EventStatus};

use super::lifecycle::{Action, Lifecycle};
use super::{NAME_MAX, PROSE_MAX, SHORT_MAX, branch, finish, id_list, issue_codes, optional_id};

pub const MAX_ORGANIZERS: usize = 20;
pub const MAX_STAFF: usize = 20;
/// The longest event: a two-week round of consultations.
pub const MAX_EVENT_DAYS: i64 = 14;
/// UTC offsets in use on Earth, in minutes: from UTC−12:00 to UTC+14:00.
pub const MIN_UTC_OFFSET: i32 = -12 * 60;
pub const MAX_UTC_OFFSET: i32 = 14 * 60;

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_MINUTE: i64 = 60_000_000;

// ============================================================ life cycle

/// What may happen to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventAction {
    /// Title, purpose, venue, organizers, issues.
    Edit,
    /// Kind, branch, times, coalition: what the figures count it by.
    Reschedule,
    Invite,
    /// An invitee replies, or changes its reply.
    Reply,
    CheckIn,
    Hold,
    Cancel,
    RecordOutcome,
    /// A commitment is made at the event.
    Commit,
    /// An open commitment of an earlier meeting is put on its agenda.
    CarryInto,
}

impl EventAction {
    pub const ALL: [EventAction; 10] = [
        EventAction::Edit,
        EventAction::Reschedule,
        EventAction::Invite,
        EventAction::Reply,
        EventAction::CheckIn,
        EventAction::Hold,
        EventAction::Cancel,
        EventAction::RecordOutcome,
        EventAction::Commit,
        EventAction::CarryInto,
    ];
}

impl Action for EventAction {
    fn past(self) -> &'static str {
        match self {
            EventAction::Edit => "edited",
            EventAction::Reschedule => "rescheduled (kind, branch, times, coalition)",
            EventAction::Invite => "sent invitations",
            EventAction::Reply => "replied to",
            EventAction::CheckIn => "checked in to",
            EventAction::Hold => "marked held",
            EventAction::Cancel => "cancelled",
            EventAction::RecordOutcome => "given minutes and decisions",
            EventAction::Commit => "given commitments",
            EventAction::CarryInto => "given commitments of an earlier meeting",
        }
    }
}

use EventAction as A;
use EventStatus as S;

/// The event life cycle: planned → held, or cancelled. A planned event is
/// prepared (edited, rescheduled, invitations sent and answered), and
/// people check in on the day; once held, its presentation may still be
/// corrected, late check-ins recorded, its minutes, decisions and
/// commitments written. A cancelled event is closed: nobody can check in.
pub const EVENT_LIFECYCLE: Lifecycle<EventStatus, EventAction> = Lifecycle {
    kind: "EVENT_STATUS",
    subject: "event.status",
    noun: "an event",
    moves: &[
        (S::Planned, A::Edit, S::Planned),
        (S::Held, A::Edit, S::Held),
        (S::Planned, A::Reschedule, S::Planned),
        (S::Planned, A::Invite, S::Planned),
        (S::Planned, A::Reply, S::Planned),
        (S::Planned, A::CheckIn, S::Planned),
        (S::Held, A::CheckIn, S::Held),
        (S::Planned, A::Hold, S::Held),
        (S::Planned, A::Cancel, S::Cancelled),
        (S::Held, A::RecordOutcome, S::Held),
        (S::Held, A::Commit, S::Held),
        (S::Planned, A::CarryInto, S::Planned),
        (S::Held, A::CarryInto, S::Held),
    ],
};

/// An event may be marked held once it has started and somebody was
/// checked in: figures are computed from who came, so a held event without
/// a single participant would count a meeting nobody attended.
pub fn check_holdable(now_micros: i64, start_micros: i64, participants: i64) -> Result<()> {
    if now_micros < start_micros {
        return Err(Error::precondition(
            "EVENT_NOT_STARTED",
            "event.start_time",
            "an event is marked held once it has started",
        ));
    }
    if participants <= 0 {
        return Err(Error::precondition(
            "NO_PARTICIPANTS",
            "event.attendance",
            "nobody was checked in: check in who came before marking the event held",
        ));
    }
    Ok(())
}

/// Check-in opens on the local day the event starts.
pub fn check_check_in_open(now_micros: i64, event: &EventFields) -> Result<()> {
    let today = local_date(now_micros, event.utc_offset_minutes);
    let held_on = event.held_on();
    if today < held_on {
        return Err(Error::precondition(
            "CHECK_IN_NOT_OPEN",
            "event.start_time",
            format!("check-in opens on the day the event starts, {held_on}"),
        ));
    }
    Ok(())
}

/// The local day of an instant at a UTC offset.
pub fn local_date(micros: i64, utc_offset_minutes: i32) -> Date {
    let local = micros + i64::from(utc_offset_minutes) * MICROS_PER_MINUTE;
    Date::from_days(local.div_euclid(MICROS_PER_DAY))
}

// ================================================================ fields

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub name: String,
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFields {
    pub kind: EventKind,
    pub title: LocalizedText,
    pub purpose: LocalizedText,
    pub branch_id: String,
    pub venue: String,
    /// Microseconds since the epoch.
    pub start: i64,
    pub end: i64,
    pub utc_offset_minutes: i32,
    pub organizers: Vec<String>,
    pub staff: Vec<Staff>,
    pub issue_codes: Vec<String>,
    pub coalition_id: Option<String>,
}

impl EventFields {
    /// The local day the event starts on: the day figures count it on.
    pub fn held_on(&self) -> Date {
        local_date(self.start, self.utc_offset_minutes)
    }
}

/// An instant given as a protobuf timestamp, in the years dates allow.
pub fn instant(field: &str, value: Option<&Timestamp>) -> Result<i64, FieldViolation> {
    let Some(ts) = value else {
        return Err(FieldViolation::new(field, "required"));
    };
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(FieldViolation::new(field, "nanos out of range"));
    }
    // Years 1900 to 2200, the range of calendar dates: far enough for any
    // event, and no arithmetic on the instant can overflow.
    let (first, last) = (-2_208_988_800_i64, 7_289_654_399_i64);
    if !(first..=last).contains(&ts.seconds) {
        return Err(FieldViolation::new(field, "not between 1900 and 2200"));
    }
    Ok(micros_of(ts))
}

/// Parses the settable fields of an event.
pub fn parse_event(e: &api::Event) -> Result<EventFields> {
    let mut v = Violations::new();
    let kind = v
        .take(validate::enumeration::<EventKind>(
            "event.kind",
            e.kind,
            true,
        ))
        .flatten();
    let title = v.take_many(validate::localized(
        "event.title",
        e.title.as_ref(),
        NAME_MAX,
        true,
    ));
    let purpose = v.take_many(validate::localized(
        "event.purpose",
        e.purpose.as_ref(),
        PROSE_MAX,
        false,
    ));
    let branch_id = v.take(branch("event.branch_id", &e.branch_id, true));
    let venue = v.take(validate::line("event.venue", &e.venue, NAME_MAX, false));
    let start = v.take(instant("event.start_time", e.start_time.as_ref()));
    let end = v.take(instant("event.end_time", e.end_time.as_ref()));
    if let (Some(s), Some(en)) = (start, end) {
        if en <= s {
            v.add("event.end_time", "after the start");
        } else if en - s > MAX_EVENT_DAYS * MICROS_PER_DAY {
            v.add(
                "event.end_time",
                format!("at most {MAX_EVENT_DAYS} days after the start"),
            );
        }
    }
    let offset = e.utc_offset_minutes;
    if !(MIN_UTC_OFFSET..=MAX_UTC_OFFSET).contains(&offset) || offset % 15 != 0 {
        v.add(
            "event.utc_offset_minutes",
            "a UTC offset in minutes, a multiple of 15 from -720 to 840 (Syria: 180)",
        );
    }
    let organizers = id_list(
        &mut v,
        "event.organizer_organization_ids",
        &e.organizer_organization_ids,
        MAX_ORGANIZERS,
    );
    if e.organizer_staff.len() > MAX_STAFF {
        v.add("event.organizer_staff", format!("at most {MAX_STAFF}"));
    }
    let mut staff = Vec::new();
    for (i, s) in e.organizer_staff.iter().enumerate() {
        let f = |n: &str| format!("event.organizer_staff[{i}].{n}");
        let name = v.take(validate::line(&f("name"), &s.name, SHORT_MAX, true));
        let subject = v.take(validate::line(&f("subject"), &s.subject, NAME_MAX, false));
        if let (Some(name), Some(subject)) = (name, subject) {
            staff.push(Staff { name, subject });
        }
    }
    let issue_codes = issue_codes(&mut v, "event.issue_codes", &e.issue_codes, 0);
    let coalition_id = v.take(optional_id("event.coalition_id", &e.coalition_id));
    if kind == Some(EventKind::CoalitionMeeting) && coalition_id == Some(None) {
        v.add("event.coalition_id", "required for a coalition meeting");
    }
    finish(v, || {
        Some(EventFields {
            kind: kind?,
            title: title?,
            purpose: purpose?,
            branch_id: branch_id?,
            venue: venue?,
            start: start?,
            end: end?,
            utc_offset_minutes: offset,
            organizers,
            staff,
            issue_codes,
            coalition_id: coalition_id?,
        })
    })
}

/// The paths an update may name.
pub const EVENT_MASK: &[&str] = &[
    "kind",
    "title",
    "purpose",
    "branch_id",
    "venue",
    "start_time",
    "end_time",
    "utc_offset_minutes",
    "organizer_organization_ids",
    "organizer_staff",
    "issue_codes",
    "coalition_id",
];

/// The fields that only rescheduling changes: what the figures count an
/// event by (its kind, branch, day and coalition).
pub const SCHEDULE_FIELDS: &[&str] = &[
    "kind",
    "branch_id",
    "start_time",
    "end_time",
    "utc_offset_minutes",
    "coalition_id",
];

pub fn merge_event(onto: &mut api::Event, from: &api::Event, mask: &[&str]) {
    for path in mask {
        match *path {
            "kind" => onto.kind = from.kind,
            "title" => onto.title = from.title.clone(),
            "purpose" => onto.purpose = from.purpose.clone(),
            "branch_id" => onto.branch_id = from.branch_id.clone(),
            "venue" => onto.venue = from.venue.clone(),
            "start_time" => onto.start_time = from.start_time,
            "end_time" => onto.end_time = from.end_time,
            "utc_offset_minutes" => onto.utc_offset_minutes = from.utc_offset_minutes,
            "organizer_organization_ids" => {
                onto.organizer_organization_ids = from.organizer_organization_ids.clone()
            }
            "organizer_staff" => onto.organizer_staff = from.organizer_staff.clone(),
            "issue_codes" => onto.issue_codes = from.issue_codes.clone(),
            "coalition_id" => onto.coalition_id = from.coalition_id.clone(),
            _ => {}
        }
    }
}

/// The fields that differ, by their mask path.
pub fn changed_fields(old: &EventFields, new: &EventFields) -> Vec<&'static str> {
    let pairs = [
        ("kind", old.kind != new.kind),
        ("title", old.title != new.title),
        ("purpose", old.purpose != new.purpose),
        ("branch_id", old.branch_id != new.branch_id),
        ("venue", old.venue != new.venue),
        ("start_time", old.start != new.start),
        ("end_time", old.end != new.end),
        (
            "utc_offset_minutes",
            old.utc_offset_minutes != new.utc_offset_minutes,
        ),
        (
            "organizer_organization_ids",
            old.organizers != new.organizers,
        ),
        ("organizer_staff", old.staff != new.staff),
        ("issue_codes", old.issue_codes != new.issue_codes),
        ("coalition_id", old.coalition_id != new.coalition_id),
    ];
    pairs
        .into_iter()
        .filter(|(_, c)| *c)
        .map(|(p, _)| p)
        .collect()
}

/// Whether an event in `status` may change `changed`: an update sending
/// the fields it does not change is never refused for them.
pub fn check_event_update(status: EventStatus, changed: &[&str]) -> Result<()> {
    if changed.iter().any(|f| SCHEDULE_FIELDS.contains(f)) {
        EVENT_LIFECYCLE.next(status, A::Reschedule)?;
    }
    if changed.iter().any(|f| !SCHEDULE_FIELDS.contains(f)) {
        EVENT_LIFECYCLE.next(status, A::Edit)?;
    }
    Ok(())
}

/// What other resources need to know of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFacts {
    pub id: String,
    pub status: EventStatus,
    pub start: i64,
    pub held_on: Date,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bad_fields;
    use crate::domain::lifecycle::assert_matches_spec;
    use markaz_kit::rpc::new_id;

    /// 2026-03-10 07:00 UTC: 10:00 in Raqqa.
    const START: i64 = 1_773_126_000_000_000;
    const HOUR: i64 = 3_600_000_000;

    fn ts(micros: i64) -> Option<Timestamp> {
        Some(markaz_kit::time::timestamp(micros))
    }

    fn event() -> api::Event {
        api::Event {
            kind: EventKind::LocalAdministrationMeeting as i32,
            title: Some(LocalizedText {
                ar: "لقاء تعارف مع الإدارة المحلية".into(),
                en: "Meet-and-greet with the local administration".into(),
            }),
            branch_id: "raqqa".into(),
            venue: "مركز دعم المجتمع المدني – الرقة".into(),
            start_time: ts(START),
            end_time: ts(START + 3 * HOUR),
            utc_offset_minutes: 180,
            organizer_staff: vec![api::StaffMember {
                name: "Officer".into(),
                subject: "user-staff".into(),
            }],
            issue_codes: vec!["clean-schools".into()],
            ..Default::default()
        }
    }

    /// The life cycle as the issue states it, written independently of
    /// [`EVENT_LIFECYCLE`].
    const SPEC: &[(EventStatus, EventAction, EventStatus)] = &[
        (S::Planned, A::Edit, S::Planned),
        (S::Planned, A::Reschedule, S::Planned),
        (S::Planned, A::Invite, S::Planned),
        (S::Planned, A::Reply, S::Planned),
        (S::Planned, A::CheckIn, S::Planned),
        (S::Planned, A::Hold, S::Held),
        (S::Planned, A::Cancel, S::Cancelled),
        (S::Planned, A::CarryInto, S::Planned),
        (S::Held, A::Edit, S::Held),
        (S::Held, A::CheckIn, S::Held),
        (S::Held, A::RecordOutcome, S::Held),
        (S::Held, A::Commit, S::Held),
        (S::Held, A::CarryInto, S::Held),
    ];

    #[test]
    fn the_table_is_the_specification() {
        assert_matches_spec(
            &EVENT_LIFECYCLE,
            &[S::Unspecified, S::Planned, S::Held, S::Cancelled],
            &EventAction::ALL,
            SPEC,
        );
        assert!(EVENT_LIFECYCLE.is_final(S::Held));
        assert!(EVENT_LIFECYCLE.is_final(S::Cancelled));
        assert_eq!(
            EVENT_LIFECYCLE.reachable(S::Planned),
            [S::Planned, S::Held, S::Cancelled]
        );
        let Err(Error::FailedPrecondition { description, .. }) =
            EVENT_LIFECYCLE.next(S::Cancelled, A::CheckIn)
        else {
            panic!()
        };
        assert_eq!(
            description,
            "an event that is cancelled cannot be checked in to; only one that is planned or held"
        );
    }

    #[test]
    fn a_whole_event_parses_and_keeps_arabic_byte_for_byte() {
        let f = parse_event(&event()).unwrap();
        assert_eq!(f.kind, EventKind::LocalAdministrationMeeting);
        assert_eq!(
            f.venue.as_bytes(),
            "مركز دعم المجتمع المدني – الرقة".as_bytes()
        );
        assert_eq!(f.held_on(), Date::parse("2026-03-10").unwrap());
        assert_eq!(f.staff[0].subject, "user-staff");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let e = api::Event {
            kind: 99,
            title: None,
            branch_id: "Raqqa!".into(),
            venue: "a\nb".into(),
            start_time: ts(START),
            end_time: ts(START),
            utc_offset_minutes: 181,
            organizer_organization_ids: vec!["x".into()],
            organizer_staff: vec![api::StaffMember::default()],
            issue_codes: vec!["A".into()],
            coalition_id: "nope".into(),
            ..Default::default()
        };
        let fields = bad_fields(parse_event(&e));
        assert_eq!(
            fields,
            [
                "event.kind",
                "event.title",
                "event.branch_id",
                "event.venue",
                "event.end_time",
                "event.utc_offset_minutes",
                "event.organizer_organization_ids[0]",
                "event.organizer_staff[0].name",
                "event.issue_codes[0]",
                "event.coalition_id",
            ]
        );
        let fields = bad_fields(parse_event(&api::Event::default()));
        assert_eq!(
            fields,
            [
                "event.kind",
                "event.title",
                "event.branch_id",
                "event.start_time",
                "event.end_time"
            ]
        );
    }

    #[test]
    fn times_are_bounded_and_an_event_lasts_at_most_two_weeks() {
        let long = api::Event {
            end_time: ts(START + (MAX_EVENT_DAYS * 24 + 1) * HOUR),
            ..event()
        };
        let errs = bad_fields(parse_event(&long));
        assert_eq!(errs[0], "event.end_time");
        let two_weeks = api::Event {
            end_time: ts(START + MAX_EVENT_DAYS * 24 * HOUR),
            ..event()
        };
        assert!(parse_event(&two_weeks).is_ok());
        let far = Timestamp {
            seconds: 9_000_000_000,
            nanos: 0,
        };
        let bad_nanos = Timestamp {
            seconds: 1,
            nanos: -1,
        };
        assert!(instant("t", Some(&far)).is_err());
        assert!(instant("t", Some(&bad_nanos)).is_err());
        assert!(instant("t", None).is_err());
        for offset in [-720, 0, 180, 345, 840] {
            let e = api::Event {
                utc_offset_minutes: offset,
                ..event()
            };
            assert!(parse_event(&e).is_ok(), "{offset}");
        }
        for offset in [-735, 850, 7] {
            let e = api::Event {
                utc_offset_minutes: offset,
                ..event()
            };
            assert!(parse_event(&e).is_err(), "{offset}");
        }
    }

    #[test]
    fn a_coalition_meeting_names_its_coalition() {
        let e = api::Event {
            kind: EventKind::CoalitionMeeting as i32,
            ..event()
        };
        let errs = bad_fields(parse_event(&e));
        assert_eq!(errs[0], "event.coalition_id");
        let e = api::Event {
            coalition_id: new_id(),
            ..e
        };
        assert!(parse_event(&e).unwrap().coalition_id.is_some());
    }

    #[test]
    fn the_local_day_follows_the_offset() {
        // 22:30 UTC on 9 March is 01:30 on 10 March in Raqqa.
        let late = START - 8 * HOUR - HOUR / 2;
        assert_eq!(local_date(late, 0), Date::parse("2026-03-09").unwrap());
        assert_eq!(local_date(late, 180), Date::parse("2026-03-10").unwrap());
        assert_eq!(local_date(-1, 0), Date::parse("1969-12-31").unwrap());
        assert_eq!(local_date(0, -60), Date::parse("1969-12-31").unwrap());
    }

    #[test]
    fn an_event_is_held_once_started_with_somebody_there() {
        assert!(check_holdable(START, START, 1).is_ok());
        let Err(Error::FailedPrecondition { kind, .. }) = check_holdable(START - 1, START, 5)
        else {
            panic!()
        };
        assert_eq!(kind, "EVENT_NOT_STARTED");
        let Err(Error::FailedPrecondition { kind, .. }) = check_holdable(START + HOUR, START, 0)
        else {
            panic!()
        };
        assert_eq!(kind, "NO_PARTICIPANTS");
    }

    #[test]
    fn check_in_opens_on_the_local_day_of_the_start() {
        let f = parse_event(&event()).unwrap();
        // 00:30 local on the day, 21:30 UTC the day before.
        let just_after_midnight = START - 9 * HOUR - HOUR / 2;
        assert!(check_check_in_open(just_after_midnight, &f).is_ok());
        let Err(Error::FailedPrecondition {
            kind, description, ..
        }) = check_check_in_open(just_after_midnight - HOUR, &f)
        else {
            panic!()
        };
        assert_eq!(kind, "CHECK_IN_NOT_OPEN");
        assert!(description.contains("2026-03-10"));
        assert!(check_check_in_open(START + 40 * 24 * HOUR, &f).is_ok());
    }

    #[test]
    fn a_held_event_keeps_what_it_is_counted_by() {
        let old = parse_event(&event()).unwrap();
        let mut retitled = event();
        retitled.title = Some(LocalizedText {
            ar: "عنوان مصحح".into(),
            en: String::new(),
        });
        let new = parse_event(&retitled).unwrap();
        let changed = changed_fields(&old, &new);
        assert_eq!(changed, ["title"]);
        assert!(check_event_update(S::Held, &changed).is_ok());
        assert!(check_event_update(S::Cancelled, &changed).is_err());

        let mut moved = event();
        moved.start_time = ts(START + 24 * HOUR);
        moved.end_time = ts(START + 27 * HOUR);
        let changed = changed_fields(&old, &parse_event(&moved).unwrap());
        assert_eq!(changed, ["start_time", "end_time"]);
        assert!(check_event_update(S::Planned, &changed).is_ok());
        let Err(Error::FailedPrecondition { description, .. }) =
            check_event_update(S::Held, &changed)
        else {
            panic!()
        };
        assert!(description.contains("rescheduled"), "{description}");
        // Sending everything unchanged is never refused.
        assert!(check_event_update(S::Cancelled, &[]).is_ok());
    }

    #[test]
    fn the_mask_replaces_only_the_paths_named() {
        let mut onto = event();
        let from = api::Event {
            venue: "elsewhere".into(),
            kind: EventKind::Other as i32,
            ..Default::default()
        };
        merge_event(&mut onto, &from, &["venue"]);
        assert_eq!(onto.venue, "elsewhere");
        assert_eq!(onto.kind, EventKind::LocalAdministrationMeeting as i32);
        merge_event(&mut onto, &from, EVENT_MASK);
        assert_eq!(onto, from);
        let full = api::Event {
            purpose: Some(LocalizedText {
                ar: "تعزيز التعاون".into(),
                en: String::new(),
            }),
            organizer_organization_ids: vec![new_id()],
            coalition_id: new_id(),
            ..event()
        };
        for path in EVENT_MASK {
            let mut probe = api::Event::default();
            merge_event(&mut probe, &full, &[path]);
            assert_ne!(probe, api::Event::default(), "{path} is merged");
        }
    }
}
