//! The one shape of every life cycle of the service: the moves as data —
//! `(from, action, to)` — and one function that answers "may this happen
//! now?" with the state it leads to, or FAILED_PRECONDITION saying why not
//! and from which states it could.
//!
//! Besides the moves between states, the activities a state allows
//! (editing, inviting, checking in, ...) are rows of the same table that
//! lead back to the same state, so one table is the whole specification.

use std::fmt::Debug;

use markaz_kit::error::{Error, Result};
use markaz_kit::time::Date;

use super::Word;

/// An action on an object, as a refusal says it: "… cannot be {past}".
pub trait Action: Copy + Eq + Debug + 'static {
    fn past(self) -> &'static str;
}

/// A life cycle: its moves and how its refusals are named.
#[derive(Debug)]
pub struct Lifecycle<S: 'static, A: 'static> {
    /// The precondition failure's type, e.g. `EVENT_STATUS`.
    pub kind: &'static str,
    /// The precondition failure's subject, e.g. `event.status`.
    pub subject: &'static str,
    /// The object as a sentence names it, e.g. "an event".
    pub noun: &'static str,
    pub moves: &'static [(S, A, S)],
}

impl<S, A> Lifecycle<S, A>
where
    S: Word + Eq + Debug,
    A: Action,
{
    /// The state after `action`, or why `action` is refused in `from`.
    pub fn next(&self, from: S, action: A) -> Result<S> {
        if let Some((_, _, to)) = self
            .moves
            .iter()
            .find(|(f, a, _)| *f == from && *a == action)
        {
            return Ok(*to);
        }
        let mut allowed: Vec<String> = Vec::new();
        for (f, a, _) in self.moves {
            if *a == action && !allowed.contains(&f.says()) {
                allowed.push(f.says());
            }
        }
        let why = if allowed.is_empty() {
            format!("{} cannot be {}", self.noun, action.past())
        } else {
            format!(
                "{} that is {} cannot be {}; only one that is {}",
                self.noun,
                from.says(),
                action.past(),
                allowed.join(" or ")
            )
        };
        Err(Error::precondition(self.kind, self.subject, why))
    }

    pub fn allows(&self, from: S, action: A) -> bool {
        self.moves
            .iter()
            .any(|(f, a, _)| *f == from && *a == action)
    }

    /// No action leads out of `state` to another state.
    pub fn is_final(&self, state: S) -> bool {
        !self
            .moves
            .iter()
            .any(|(f, _, t)| *f == state && *t != state)
    }

    /// The states reachable from `from` by any number of moves, `from`
    /// included.
    pub fn reachable(&self, from: S) -> Vec<S> {
        let mut seen = vec![from];
        let mut i = 0;
        while i < seen.len() {
            for (f, _, t) in self.moves {
                if *f == seen[i] && !seen.contains(t) {
                    seen.push(*t);
                }
            }
            i += 1;
        }
        seen
    }
}

/// The status on `day` from a history of `(day it took effect, status)`,
/// oldest first: the last one in effect by then, `None` before the first.
pub fn status_on<S: Copy>(history: &[(Date, S)], day: Date) -> Option<S> {
    history
        .iter()
        .take_while(|(since, _)| *since <= day)
        .last()
        .map(|(_, s)| *s)
}

/// Checks a life cycle against its specification written independently:
/// every (state, action) pair is decided by the table exactly as `spec`
/// says, and every refusal names the state it was refused in. For the
/// resources' tests.
#[cfg(test)]
pub fn assert_matches_spec<S, A>(
    lifecycle: &Lifecycle<S, A>,
    states: &[S],
    actions: &[A],
    spec: &[(S, A, S)],
) where
    S: Word + Eq + Debug,
    A: Action,
{
    for &from in states {
        for &action in actions {
            let expected = spec
                .iter()
                .find(|(f, a, _)| *f == from && *a == action)
                .map(|(_, _, t)| *t);
            match lifecycle.next(from, action) {
                Ok(to) => assert_eq!(Some(to), expected, "{from:?} {action:?}"),
                Err(Error::FailedPrecondition {
                    kind, description, ..
                }) => {
                    assert_eq!(expected, None, "{from:?} {action:?}");
                    assert_eq!(kind, lifecycle.kind);
                    assert!(
                        description.contains(action.past()),
                        "{description} names the action"
                    );
                    if lifecycle.moves.iter().any(|(_, a, _)| *a == action) {
                        assert!(
                            description.contains(&from.says()),
                            "{description} names the state"
                        );
                    }
                }
                Err(e) => panic!("{e}"),
            }
            assert_eq!(lifecycle.allows(from, action), expected.is_some());
        }
    }
    assert_eq!(
        lifecycle.moves.len(),
        spec.len(),
        "the table has no row the specification lacks"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use markaz_proto::networking::v1::EventStatus as S;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Toy {
        Hold,
        Cancel,
        Paint,
    }

    impl Action for Toy {
        fn past(self) -> &'static str {
            match self {
                Toy::Hold => "held",
                Toy::Cancel => "cancelled",
                Toy::Paint => "painted",
            }
        }
    }

    const TOY: Lifecycle<S, Toy> = Lifecycle {
        kind: "TOY_STATUS",
        subject: "toy.status",
        noun: "a toy",
        moves: &[
            (S::Planned, Toy::Hold, S::Held),
            (S::Planned, Toy::Cancel, S::Cancelled),
            (S::Held, Toy::Cancel, S::Cancelled),
        ],
    };

    #[test]
    fn a_move_leads_to_its_state_and_a_refusal_says_why() {
        assert_eq!(TOY.next(S::Planned, Toy::Hold).unwrap(), S::Held);
        let Err(Error::FailedPrecondition {
            kind,
            subject,
            description,
        }) = TOY.next(S::Cancelled, Toy::Cancel)
        else {
            panic!()
        };
        assert_eq!((kind, subject.as_str()), ("TOY_STATUS", "toy.status"));
        assert_eq!(
            description,
            "a toy that is cancelled cannot be cancelled; only one that is planned or held"
        );
        let Err(Error::FailedPrecondition { description, .. }) = TOY.next(S::Held, Toy::Paint)
        else {
            panic!()
        };
        assert_eq!(description, "a toy cannot be painted");
    }

    #[test]
    fn final_and_reachable_states_follow_the_table() {
        assert!(TOY.is_final(S::Cancelled));
        assert!(!TOY.is_final(S::Held));
        assert_eq!(
            TOY.reachable(S::Planned),
            [S::Planned, S::Held, S::Cancelled]
        );
        assert_eq!(TOY.reachable(S::Cancelled), [S::Cancelled]);
        assert!(TOY.allows(S::Held, Toy::Cancel) && !TOY.allows(S::Held, Toy::Hold));
    }

    #[test]
    fn a_history_says_the_status_on_any_day() {
        let d = |s| Date::parse(s).unwrap();
        let history = [
            (d("2026-01-01"), S::Planned),
            (d("2026-02-01"), S::Held),
            (d("2026-02-01"), S::Cancelled),
        ];
        assert_eq!(status_on(&history, d("2025-12-31")), None);
        assert_eq!(status_on(&history, d("2026-01-31")), Some(S::Planned));
        // Two changes on one day: the later one stands.
        assert_eq!(status_on(&history, d("2026-02-01")), Some(S::Cancelled));
        assert_eq!(status_on::<S>(&[], d("2026-02-01")), None);
    }

    #[test]
    fn the_checker_accepts_the_table_it_describes() {
        assert_matches_spec(
            &TOY,
            &[S::Unspecified, S::Planned, S::Held, S::Cancelled],
            &[Toy::Hold, Toy::Cancel, Toy::Paint],
            TOY.moves,
        );
    }
}
