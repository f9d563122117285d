//! Attendance and tests: the marks of a session, the pre/post test scores,
//! and what they decide — who completed, what they learnt.

use std::collections::{HashMap, HashSet};

use markaz_kit::error::{AllValid, Result, Violations};
use markaz_kit::rpc::parse_id;
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{AttendanceStatus, TestKind};

use super::courses::CompletionRule;
use super::{MARK_NOTE_MAX, required};

/// Marks or scores in one call: a full course plus room.
pub const MAX_BATCH: usize = 1_000;
/// Test scores run from 0 to this.
pub const MAX_TEST_SCORE: i32 = 100;

/// A mark as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub enrolment_id: String,
    pub status: AttendanceStatus,
    pub note: String,
}

/// A mark as recorded: the current one of a participant at a session, or
/// one revision of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedMark {
    pub session_id: String,
    pub enrolment_id: String,
    pub person_id: String,
    pub participant_name: String,
    pub status: AttendanceStatus,
    pub note: String,
    pub revision: i64,
    pub recorded_by: String,
    pub recorded_at: i64,
}

/// A participant's current status at a session, all a course's figures
/// need of a mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkStatus {
    pub session_id: String,
    pub enrolment_id: String,
    pub status: AttendanceStatus,
}

pub fn parse_marks(marks: &[api::AttendanceMark]) -> Result<Vec<Mark>> {
    let mut v = Violations::new();
    if marks.is_empty() {
        v.add("marks", "at least one mark");
    }
    if marks.len() > MAX_BATCH {
        v.add("marks", format!("at most {MAX_BATCH} marks"));
    }
    let mut out: Vec<Mark> = Vec::new();
    for (i, m) in marks.iter().enumerate() {
        let f = |name: &str| format!("marks[{i}].{name}");
        let id = v.take(parse_id(&f("enrolment_id"), &m.enrolment_id));
        let status = v.take(required::<AttendanceStatus>(&f("status"), m.status));
        let note = v.take(validate::line(&f("note"), &m.note, MARK_NOTE_MAX, false));
        if let Some(id) = &id
            && out.iter().any(|x| &x.enrolment_id == id)
        {
            v.add(f("enrolment_id"), "marked twice in one call");
            continue;
        }
        if let (Some(enrolment_id), Some(status), Some(note)) = (id, status, note) {
            out.push(Mark {
                enrolment_id,
                status,
                note,
            });
        }
    }
    v.finish()?;
    Ok(out)
}

/// The marks that change something: new ones, and ones whose status or note
/// differ from the current mark. Sending a session's marks again yields none.
pub fn changed_marks<'a>(
    current: &HashMap<String, (AttendanceStatus, String)>,
    marks: &'a [Mark],
) -> Vec<&'a Mark> {
    marks
        .iter()
        .filter(|m| {
            current
                .get(&m.enrolment_id)
                .is_none_or(|(status, note)| *status != m.status || *note != m.note)
        })
        .collect()
}

/// The participants still unmarked at each session, for the sessions that
/// have any: `(index of the session, enrolment ids)`, in the order given.
/// Completion needs none: the rule counts an unmarked participant as absent,
/// and a certificate withheld that way cannot be given back.
pub fn missing_marks<'a>(
    sessions: &'a [String],
    participants: &'a [String],
    marked: &HashSet<(String, String)>,
) -> Vec<(usize, Vec<&'a str>)> {
    sessions
        .iter()
        .enumerate()
        .filter_map(|(i, session)| {
            let missing: Vec<&str> = participants
                .iter()
                .filter(|e| !marked.contains(&(session.clone(), (*e).clone())))
                .map(String::as_str)
                .collect();
            (!missing.is_empty()).then_some((i, missing))
        })
        .collect()
}

/// Whole percent of the sessions attended, rounded down.
pub fn attendance_percent(present: i64, sessions: i64) -> i32 {
    if sessions <= 0 {
        return 0;
    }
    ((present.clamp(0, sessions) * 100) / sessions) as i32
}

/// Whether a participant present at `present` of `sessions` sessions, with
/// this post-test score, completed under `rule`. Integer arithmetic: 4 of 5
/// sessions is 80%, 3 of 4 is not.
pub fn completes(rule: &CompletionRule, present: i64, sessions: i64, post: Option<i32>) -> bool {
    sessions > 0
        && present * 100 >= i64::from(rule.min_attendance_percent) * sessions
        && (rule.min_post_test_score == 0
            || post.is_some_and(|score| score >= rule.min_post_test_score))
}

// ------------------------------------------------------------------- tests

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    pub enrolment_id: String,
    pub score: i32,
}

pub fn parse_scores(kind: i32, scores: &[api::TestScore]) -> Result<(TestKind, Vec<Score>)> {
    (required::<TestKind>("kind", kind), parse_score_list(scores)).all()
}

fn parse_score_list(scores: &[api::TestScore]) -> Result<Vec<Score>> {
    let mut v = Violations::new();
    if scores.is_empty() {
        v.add("scores", "at least one score");
    }
    if scores.len() > MAX_BATCH {
        v.add("scores", format!("at most {MAX_BATCH} scores"));
    }
    let mut out: Vec<Score> = Vec::new();
    for (i, s) in scores.iter().enumerate() {
        let id = v.take(parse_id(
            &format!("scores[{i}].enrolment_id"),
            &s.enrolment_id,
        ));
        if !(0..=MAX_TEST_SCORE).contains(&s.score) {
            v.add(
                format!("scores[{i}].score"),
                format!("from 0 to {MAX_TEST_SCORE}"),
            );
        }
        if let Some(id) = id {
            if out.iter().any(|x| x.enrolment_id == id) {
                v.add(
                    format!("scores[{i}].enrolment_id"),
                    "scored twice in one call",
                );
            } else {
                out.push(Score {
                    enrolment_id: id,
                    score: s.score,
                });
            }
        }
    }
    v.finish()?;
    Ok(out)
}

/// Post-test minus pre-test, in points, once both are in.
pub fn learning_gain(pre: Option<i32>, post: Option<i32>) -> Option<i32> {
    Some(post? - pre?)
}

/// The share of the possible gain achieved: (post - pre) / (100 - pre).
/// None when the pre-test left nothing to gain.
pub fn normalized_gain(pre: i32, post: i32) -> Option<f64> {
    (pre < MAX_TEST_SCORE).then(|| f64::from(post - pre) / f64::from(MAX_TEST_SCORE - pre))
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GainSummary {
    pub tested: i32,
    pub average_pre: f64,
    pub average_post: f64,
    pub average_gain: f64,
    pub average_normalized_gain: f64,
}

/// A course's learning gain from its participants' (pre, post) pairs.
pub fn summarize_gains(pairs: &[(i32, i32)]) -> GainSummary {
    if pairs.is_empty() {
        return GainSummary::default();
    }
    let n = pairs.len() as f64;
    let mean = |f: &dyn Fn(&(i32, i32)) -> f64| pairs.iter().map(f).sum::<f64>() / n;
    let normalized: Vec<f64> = pairs
        .iter()
        .filter_map(|(pre, post)| normalized_gain(*pre, *post))
        .collect();
    GainSummary {
        tested: pairs.len() as i32,
        average_pre: mean(&|p| f64::from(p.0)),
        average_post: mean(&|p| f64::from(p.1)),
        average_gain: mean(&|p| f64::from(p.1 - p.0)),
        average_normalized_gain: if normalized.is_empty() {
            0.0
        } else {
            normalized.iter().sum::<f64>() / normalized.len() as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use markaz_kit::error::Error;

    #[test]
    fn every_participant_needs_a_mark_at_every_session() {
        let sessions: Vec<String> = ["s1", "s2", "s3"].map(String::from).to_vec();
        let people: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let marked: HashSet<(String, String)> = [("s1", "a"), ("s1", "b"), ("s2", "a")]
            .iter()
            .map(|(s, e)| (s.to_string(), e.to_string()))
            .collect();
        assert_eq!(
            missing_marks(&sessions, &people, &marked),
            [(1, vec!["b"]), (2, vec!["a", "b"])]
        );
        // Marks of people holding no place (cancelled, waiting) do not count.
        let others: HashSet<(String, String)> = sessions
            .iter()
            .map(|s| (s.clone(), "cancelled".to_string()))
            .collect();
        assert_eq!(missing_marks(&sessions, &people, &others).len(), 3);
        assert!(missing_marks(&sessions, &[], &HashSet::new()).is_empty());
    }

    fn mark(id: &str, status: AttendanceStatus) -> Mark {
        Mark {
            enrolment_id: id.into(),
            status,
            note: String::new(),
        }
    }

    #[test]
    fn sending_a_session_again_changes_nothing_and_a_correction_is_a_change() {
        use AttendanceStatus as A;
        let marks = vec![mark("a", A::Present), mark("b", A::Absent)];
        let current: HashMap<_, _> = HashMap::new();
        assert_eq!(changed_marks(&current, &marks).len(), 2);
        let current: HashMap<_, _> = marks
            .iter()
            .map(|m| (m.enrolment_id.clone(), (m.status, m.note.clone())))
            .collect();
        assert!(changed_marks(&current, &marks).is_empty());
        let corrected = vec![mark("a", A::Present), mark("b", A::Excused)];
        let changed = changed_marks(&current, &corrected);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].enrolment_id, "b");
    }

    #[test]
    fn marks_are_parsed_with_every_problem_named() {
        let id = "0190d3b4-5c1a-7000-8000-000000000001";
        let marks = vec![
            api::AttendanceMark {
                enrolment_id: id.into(),
                status: AttendanceStatus::Present as i32,
                ..Default::default()
            },
            api::AttendanceMark {
                enrolment_id: id.into(),
                status: AttendanceStatus::Absent as i32,
                ..Default::default()
            },
            api::AttendanceMark {
                enrolment_id: "nope".into(),
                status: 0,
                ..Default::default()
            },
        ];
        let Error::InvalidArgument(v) = parse_marks(&marks).unwrap_err() else {
            panic!()
        };
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "marks[1].enrolment_id",
                "marks[2].enrolment_id",
                "marks[2].status"
            ]
        );
        assert!(parse_marks(&[]).is_err());
    }

    #[test]
    fn completion_needs_the_rules_share_of_sessions_and_the_post_test_if_asked() {
        let rule = CompletionRule::default();
        assert!(completes(&rule, 4, 5, None));
        assert!(!completes(&rule, 3, 5, None));
        // 3 of 4 is 75%: a four-day workshop at 80% needs all four days.
        assert!(!completes(&rule, 3, 4, None));
        assert!(completes(&rule, 4, 4, None));
        assert!(completes(&rule, 8, 10, None));
        assert!(!completes(&rule, 0, 0, None));
        let lenient = CompletionRule {
            min_attendance_percent: 75,
            min_post_test_score: 0,
        };
        assert!(completes(&lenient, 3, 4, None));
        let tested = CompletionRule {
            min_attendance_percent: 50,
            min_post_test_score: 60,
        };
        assert!(!completes(&tested, 4, 4, None));
        assert!(!completes(&tested, 4, 4, Some(59)));
        assert!(completes(&tested, 2, 4, Some(60)));
        assert_eq!(attendance_percent(2, 3), 66);
        assert_eq!(attendance_percent(5, 5), 100);
        assert_eq!(attendance_percent(1, 0), 0);
    }

    #[test]
    fn learning_gain_per_participant_and_per_course() {
        assert_eq!(learning_gain(Some(40), Some(70)), Some(30));
        assert_eq!(learning_gain(Some(70), Some(60)), Some(-10));
        assert_eq!(learning_gain(None, Some(60)), None);
        assert_eq!(learning_gain(Some(60), None), None);
        assert_eq!(normalized_gain(40, 70), Some(0.5));
        assert_eq!(normalized_gain(100, 100), None);
        let s = summarize_gains(&[(40, 70), (60, 80), (100, 100)]);
        assert_eq!(s.tested, 3);
        assert!((s.average_pre - 200.0 / 3.0).abs() < 1e-9);
        assert!((s.average_post - 250.0 / 3.0).abs() < 1e-9);
        assert!((s.average_gain - 50.0 / 3.0).abs() < 1e-9);
        // (0.5 + 0.5) / 2: the perfect pre-test has no room to gain.
        assert!((s.average_normalized_gain - 0.5).abs() < 1e-9);
        assert_eq!(summarize_gains(&[]), GainSummary::default());
    }
}
