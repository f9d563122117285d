//! Courses: their fields, their life cycle, and what may still change at
//! each step of it.

use markaz_kit::error::{AllValid, Error, FieldViolation, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{Audience, CourseKind, CourseStatus};
use markaz_proto::common::v1::LocalizedText;

use super::attendance::MAX_TEST_SCORE;
use super::topics::parse_topic_codes;
use super::{BRANCH_MAX, MAX_TOPICS, NAME_MAX, PROSE_MAX, many, required};

pub const MAX_SESSIONS: usize = 100;
pub const MAX_TRAINERS: usize = 20;
pub const MAX_CAPACITY: i32 = 1_000;
pub const DEFAULT_MIN_ATTENDANCE: i32 = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainerSpec {
    pub name: String,
    pub subject: String,
    pub external: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletionRule {
    pub min_attendance_percent: i32,
    pub min_post_test_score: i32,
}

impl Default for CompletionRule {
    fn default() -> Self {
        CompletionRule {
            min_attendance_percent: DEFAULT_MIN_ATTENDANCE,
            min_post_test_score: 0,
        }
    }
}

/// The fields of a course people may set. Sessions are dates, distinct and
/// in order.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseFields {
    pub kind: CourseKind,
    pub title: LocalizedText,
    pub description: LocalizedText,
    pub topic_codes: Vec<String>,
    pub branch_id: String,
    pub venue: String,
    pub sessions: Vec<Date>,
    pub capacity: i32,
    pub trainers: Vec<TrainerSpec>,
    pub audience: Audience,
    pub rule: CompletionRule,
}

impl CourseFields {
    pub fn start(&self) -> Date {
        self.sessions[0]
    }

    pub fn end(&self) -> Date {
        self.sessions[self.sessions.len() - 1]
    }
}

/// One day of a course.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub number: i32,
    pub date: Date,
}

/// A course as stored, with the places taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Course {
    pub id: String,
    pub fields: CourseFields,
    pub sessions: Vec<Session>,
    pub status: CourseStatus,
    pub cancel_reason: String,
    pub enrolled: i64,
    pub waitlisted: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Course {
    /// The session of this course with this id.
    pub fn session(&self, session_id: &str) -> Result<&Session> {
        self.sessions
            .iter()
            .find(|s| s.id == session_id)
            .ok_or_else(|| Error::not_found("session", session_id))
    }
}

/// What a writer of a course reads while it holds the course's row lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// This writer's turn: orders the waiting list.
    pub serial: i64,
    pub status: CourseStatus,
    pub capacity: i32,
    pub audience: Audience,
}

pub fn parse_course(prefix: &str, c: &api::Course) -> Result<CourseFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let (
        (kind, title, description, topic_codes),
        (branch_id, venue, sessions, capacity),
        (trainers, audience, rule),
    ) = (
        (
            required::<CourseKind>(&f("kind"), c.kind),
            many(validate::localized(
                &f("title"),
                c.title.as_ref(),
                NAME_MAX,
                true,
            )),
            many(validate::localized(
                &f("description"),
                c.description.as_ref(),
                PROSE_MAX,
                false,
            )),
            many(parse_topic_codes(
                &f("topic_codes"),
                &c.topic_codes,
                MAX_TOPICS,
                true,
            )),
        )
            .all(),
        (
            validate::slug(&f("branch_id"), &c.branch_id, BRANCH_MAX),
            validate::line(&f("venue"), &c.venue, NAME_MAX, false),
            parse_sessions(&f("sessions"), &c.sessions),
            parse_capacity(&f("capacity"), c.capacity),
        )
            .all(),
        (
            parse_trainers(&f("trainers"), &c.trainers),
            required::<Audience>(&f("audience"), c.audience),
            many(parse_rule(
                &f("completion_rule"),
                c.completion_rule.as_ref(),
            )),
        )
            .all(),
    )
        .all()?;
    Ok(CourseFields {
        kind,
        title,
        description,
        topic_codes,
        branch_id,
        venue,
        sessions,
        capacity,
        trainers,
        audience,
        rule,
    })
}

/// The session dates, distinct, in order.
fn parse_sessions(field: &str, sessions: &[api::Session]) -> Result<Vec<Date>> {
    let mut v = Violations::new();
    if sessions.is_empty() {
        v.add(field, "at least one session");
    }
    if sessions.len() > MAX_SESSIONS {
        v.add(field, format!("at most {MAX_SESSIONS} sessions"));
    }
    let mut dates = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        let field = format!("{field}[{i}].date");
        if let Some(d) = v.take(Date::required(&field, s.date.as_ref())) {
            if dates.contains(&d) {
                v.add(field, "two sessions on one day");
            } else {
                dates.push(d);
            }
        }
    }
    v.finish()?;
    dates.sort();
    Ok(dates)
}

fn parse_capacity(field: &str, capacity: i32) -> Result<i32, FieldViolation> {
    if (1..=MAX_CAPACITY).contains(&capacity) {
        Ok(capacity)
    } else {
        Err(FieldViolation::new(
            field,
            format!("from 1 to {MAX_CAPACITY} places"),
        ))
    }
}

fn parse_trainers(field: &str, trainers: &[api::Trainer]) -> Result<Vec<TrainerSpec>> {
    let mut v = Violations::new();
    if trainers.len() > MAX_TRAINERS {
        v.add(field, format!("at most {MAX_TRAINERS}"));
    }
    let mut out = Vec::new();
    for (i, t) in trainers.iter().enumerate() {
        let tf = |name: &str| format!("{field}[{i}].{name}");
        let name = v.take(validate::line(&tf("name"), &t.name, NAME_MAX, true));
        let subject = v.take(validate::line(&tf("subject"), &t.subject, NAME_MAX, false));
        if let (Some(name), Some(subject)) = (name, subject) {
            out.push(TrainerSpec {
                name,
                subject,
                external: t.external,
            });
        }
    }
    v.finish()?;
    Ok(out)
}

fn parse_rule(
    field: &str,
    rule: Option<&api::CompletionRule>,
) -> Result<CompletionRule, Vec<FieldViolation>> {
    let Some(rule) = rule else {
        return Ok(CompletionRule::default());
    };
    let mut errors = Vec::new();
    let min_attendance_percent = match rule.min_attendance_percent {
        0 => DEFAULT_MIN_ATTENDANCE,
        p if (1..=100).contains(&p) => p,
        _ => {
            errors.push(FieldViolation::new(
                format!("{field}.min_attendance_percent"),
                "from 1 to 100",
            ));
            0
        }
    };
    if !(0..=MAX_TEST_SCORE).contains(&rule.min_post_test_score) {
        errors.push(FieldViolation::new(
            format!("{field}.min_post_test_score"),
            format!("from 0 to {MAX_TEST_SCORE}"),
        ));
    }
    if errors.is_empty() {
        Ok(CompletionRule {
            min_attendance_percent,
            min_post_test_score: rule.min_post_test_score,
        })
    } else {
        Err(errors)
    }
}

pub const COURSE_MASK: &[&str] = &[
    "kind",
    "title",
    "description",
    "topic_codes",
    "branch_id",
    "venue",
    "sessions",
    "capacity",
    "trainers",
    "audience",
    "completion_rule",
];

pub fn merge_course(onto: &mut api::Course, from: &api::Course, mask: &[&str]) {
    for path in mask {
        match *path {
            "kind" => onto.kind = from.kind,
            "title" => onto.title = from.title.clone(),
            "description" => onto.description = from.description.clone(),
            "topic_codes" => onto.topic_codes = from.topic_codes.clone(),
            "branch_id" => onto.branch_id = from.branch_id.clone(),
            "venue" => onto.venue = from.venue.clone(),
            "sessions" => onto.sessions = from.sessions.clone(),
            "capacity" => onto.capacity = from.capacity,
            "trainers" => onto.trainers = from.trainers.clone(),
            "audience" => onto.audience = from.audience,
            "completion_rule" => onto.completion_rule = from.completion_rule,
            _ => {}
        }
    }
}

/// The fields that differ between two versions of a course.
pub fn changed_fields(old: &CourseFields, new: &CourseFields) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, changed: bool| {
        if changed {
            out.push(name);
        }
    };
    check("kind", old.kind != new.kind);
    check("title", old.title != new.title);
    check("description", old.description != new.description);
    check("topic_codes", old.topic_codes != new.topic_codes);
    check("branch_id", old.branch_id != new.branch_id);
    check("venue", old.venue != new.venue);
    check("sessions", old.sessions != new.sessions);
    check("capacity", old.capacity != new.capacity);
    check("trainers", old.trainers != new.trainers);
    check("audience", old.audience != new.audience);
    check("completion_rule", old.rule != new.rule);
    out
}

/// What may still change in a course of `status`: everything before it
/// starts; its presentation and trainers while it runs; nothing once closed.
pub fn check_course_update(status: CourseStatus, changed: &[&str]) -> Result<()> {
    const WHILE_RUNNING: &[&str] = &["title", "description", "venue", "trainers"];
    let refused: Vec<&str> = match status {
        CourseStatus::Planned | CourseStatus::Open => Vec::new(),
        CourseStatus::Running => changed
            .iter()
            .copied()
            .filter(|f| !WHILE_RUNNING.contains(f))
            .collect(),
        _ => changed.to_vec(),
    };
    if refused.is_empty() {
        return Ok(());
    }
    Err(Error::precondition(
        "COURSE_FIELDS_FROZEN",
        "course",
        format!(
            "a {} course cannot change its {}",
            course_status_word(status),
            refused.join(", ")
        ),
    ))
}

/// The course life cycle: planned → open → running → completed, and any
/// but the last → cancelled.
pub fn check_course_transition(from: CourseStatus, to: CourseStatus) -> Result<()> {
    use CourseStatus as S;
    let allowed = matches!(
        (from, to),
        (S::Planned, S::Open)
            | (S::Open, S::Running)
            | (S::Running, S::Completed)
            | (S::Planned, S::Cancelled)
            | (S::Open, S::Cancelled)
            | (S::Running, S::Cancelled)
    );
    if allowed {
        Ok(())
    } else {
        Err(Error::precondition(
            "COURSE_TRANSITION",
            "course.status",
            format!(
                "a {} course cannot become {}",
                course_status_word(from),
                course_status_word(to)
            ),
        ))
    }
}

/// Attendance and tests are recorded once a course runs.
pub fn not_running(course: &Course) -> Error {
    Error::precondition(
        "COURSE_NOT_RUNNING",
        format!("courses/{}", course.id),
        format!(
            "attendance and tests are recorded once a course runs; this one is {}",
            course_status_word(course.status)
        ),
    )
}

pub fn course_status_word(s: CourseStatus) -> &'static str {
    match s {
        CourseStatus::Unspecified => "unspecified",
        CourseStatus::Planned => "planned",
        CourseStatus::Open => "open",
        CourseStatus::Running => "running",
        CourseStatus::Completed => "completed",
        CourseStatus::Cancelled => "cancelled",
    }
}

/// The kind as events name it.
pub fn course_kind_word(k: CourseKind) -> &'static str {
    match k {
        CourseKind::Unspecified => "unspecified",
        CourseKind::TrainingCourse => "training_course",
        CourseKind::Workshop => "workshop",
        CourseKind::TrainingOfTrainers => "training_of_trainers",
        CourseKind::IncubationOrientation => "incubation_orientation",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use markaz_proto::common::v1::Date as PDate;

    pub(crate) fn date(y: i32, m: i32, d: i32) -> Option<PDate> {
        Some(PDate {
            year: y,
            month: m,
            day: d,
        })
    }

    fn course() -> api::Course {
        api::Course {
            kind: CourseKind::Workshop as i32,
            title: Some(LocalizedText {
                ar: "ورشة كتابة المقترحات".into(),
                en: String::new(),
            }),
            topic_codes: vec!["proposal-writing".into()],
            branch_id: "raqqa".into(),
            sessions: [4, 2, 3, 1]
                .iter()
                .map(|d| api::Session {
                    date: date(2026, 3, *d),
                    ..Default::default()
                })
                .collect(),
            capacity: 20,
            audience: Audience::Open as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_course_parses_with_sessions_in_order_and_the_default_rule() {
        let c = parse_course("course", &course()).unwrap();
        assert_eq!(c.sessions.len(), 4);
        assert!(c.sessions.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(c.start().to_string(), "2026-03-01");
        assert_eq!(c.end().to_string(), "2026-03-04");
        assert_eq!(c.rule, CompletionRule::default());
        assert_eq!(c.rule.min_attendance_percent, 80);
    }

    #[test]
    fn every_bad_course_field_is_reported_at_once() {
        let mut bad = course();
        bad.kind = 42;
        bad.topic_codes = vec!["Not A Code".into(), "x".into(), "x".into()];
        bad.sessions.push(api::Session {
            date: date(2026, 3, 1),
            ..Default::default()
        });
        bad.sessions.push(api::Session {
            date: date(2026, 2, 30),
            ..Default::default()
        });
        bad.capacity = 0;
        bad.audience = 0;
        bad.completion_rule = Some(api::CompletionRule {
            min_attendance_percent: 101,
            min_post_test_score: -1,
        });
        let Error::InvalidArgument(v) = parse_course("course", &bad).unwrap_err() else {
            panic!()
        };
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "course.kind",
                "course.topic_codes[0]",
                "course.topic_codes[2]",
                "course.sessions[4].date",
                "course.sessions[5].date",
                "course.capacity",
                "course.audience",
                "course.completion_rule.min_attendance_percent",
                "course.completion_rule.min_post_test_score",
            ]
        );
    }

    #[test]
    fn courses_follow_their_life_cycle_and_nothing_else() {
        use CourseStatus as S;
        let all = [
            S::Unspecified,
            S::Planned,
            S::Open,
            S::Running,
            S::Completed,
            S::Cancelled,
        ];
        let allowed = [
            (S::Planned, S::Open),
            (S::Open, S::Running),
            (S::Running, S::Completed),
            (S::Planned, S::Cancelled),
            (S::Open, S::Cancelled),
            (S::Running, S::Cancelled),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    check_course_transition(from, to).is_ok(),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn a_running_course_keeps_its_schedule_and_a_closed_one_everything() {
        let old = parse_course("course", &course()).unwrap();
        let mut new = old.clone();
        new.venue = "قاعة ٢".into();
        new.capacity = 30;
        let changed = changed_fields(&old, &new);
        assert_eq!(changed, ["venue", "capacity"]);
        assert!(check_course_update(CourseStatus::Open, &changed).is_ok());
        let e = check_course_update(CourseStatus::Running, &changed).unwrap_err();
        assert!(e.to_string().contains("capacity") && !e.to_string().contains("venue"));
        assert!(check_course_update(CourseStatus::Running, &["venue", "trainers"]).is_ok());
        assert!(check_course_update(CourseStatus::Completed, &["venue"]).is_err());
        assert!(check_course_update(CourseStatus::Cancelled, &[]).is_ok());
    }
}
