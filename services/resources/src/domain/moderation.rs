//! The item life cycle and the moderation of partner contributions, as
//! tables: which move is allowed from which state, who may make it, and what
//! it must say.
//!
//! ```text
//! staff's items      draft ─publish→ published ─withdraw→ withdrawn ─publish→ published
//! contributions      draft ─submit→ submitted ─approve→ published ─withdraw→ withdrawn
//!                                   │  ↑
//!                      request changes  submit (revised)
//!                                   ↓  │
//!                            changes requested
//!                    submitted ─reject→ rejected (final)
//! ```

use markaz_kit::error::{Error, Result};
use markaz_kit::validate;

use super::items::ItemState;
use super::{Lifecycle, NOTE_MAX};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Change the item's fields (what may change is the mask's business).
    Edit,
    /// Staff publish their own item, or publish a withdrawn one again.
    Publish,
    Submit,
    Approve,
    RequestChanges,
    Reject,
    Withdraw,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Edit,
        Action::Publish,
        Action::Submit,
        Action::Approve,
        Action::RequestChanges,
        Action::Reject,
        Action::Withdraw,
    ];

    fn word(self) -> &'static str {
        match self {
            Action::Edit => "edited",
            Action::Publish => "published",
            Action::Submit => "submitted",
            Action::Approve => "approved",
            Action::RequestChanges => "sent back for changes",
            Action::Reject => "rejected",
            Action::Withdraw => "withdrawn",
        }
    }
}

pub fn state_word(s: ItemState) -> &'static str {
    match s {
        ItemState::Unspecified => "unspecified",
        ItemState::Draft => "a draft",
        ItemState::Submitted => "submitted",
        ItemState::ChangesRequested => "waiting for requested changes",
        ItemState::Published => "published",
        ItemState::Rejected => "rejected",
        ItemState::Withdrawn => "withdrawn",
    }
}

use Action as A;
use ItemState as S;

/// Staff's own items (from the center, a donor, an outside source).
pub const STAFF_ITEMS: Lifecycle<ItemState, Action> = Lifecycle {
    kind: "ITEM_STATE",
    subject: "item.state",
    noun: "an item",
    rows: &[
        (S::Draft, A::Edit, S::Draft),
        (S::Draft, A::Publish, S::Published),
        (S::Published, A::Edit, S::Published),
        (S::Published, A::Withdraw, S::Withdrawn),
        (S::Withdrawn, A::Edit, S::Withdrawn),
        (S::Withdrawn, A::Publish, S::Published),
    ],
    state_word,
    action_word: Action::word,
};

/// A partner's contribution: only staff's approval publishes it.
pub const CONTRIBUTIONS: Lifecycle<ItemState, Action> = Lifecycle {
    kind: "CONTRIBUTION_STATE",
    subject: "item.state",
    noun: "a contribution",
    rows: &[
        (S::Draft, A::Edit, S::Draft),
        (S::Draft, A::Submit, S::Submitted),
        (S::ChangesRequested, A::Edit, S::ChangesRequested),
        (S::ChangesRequested, A::Submit, S::Submitted),
        (S::Submitted, A::Approve, S::Published),
        (S::Submitted, A::RequestChanges, S::ChangesRequested),
        (S::Submitted, A::Reject, S::Rejected),
        (S::Published, A::Edit, S::Published),
        (S::Published, A::Withdraw, S::Withdrawn),
        (S::Withdrawn, A::Publish, S::Published),
    ],
    state_word,
    action_word: Action::word,
};

/// The table an item follows.
pub fn lifecycle(contribution: bool) -> &'static Lifecycle<ItemState, Action> {
    if contribution {
        &CONTRIBUTIONS
    } else {
        &STAFF_ITEMS
    }
}

/// Who acts on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Staff,
    /// The contributing partner organization's member.
    Contributor,
}

/// Which actor may take which action (the state table decides when).
pub const ACTORS: &[(Action, &[Actor])] = &[
    (Action::Edit, &[Actor::Staff, Actor::Contributor]),
    (Action::Submit, &[Actor::Staff, Actor::Contributor]),
    (Action::Publish, &[Actor::Staff]),
    (Action::Approve, &[Actor::Staff]),
    (Action::RequestChanges, &[Actor::Staff]),
    (Action::Reject, &[Actor::Staff]),
    (Action::Withdraw, &[Actor::Staff]),
];

/// Whether a note is required with an action, and what it is called.
pub const NOTES: &[(Action, Option<&str>)] = &[
    (Action::Edit, None),
    (Action::Submit, None),
    (Action::Publish, None),
    (Action::Approve, None),
    (Action::RequestChanges, Some("note")),
    (Action::Reject, Some("reason")),
    (Action::Withdraw, Some("reason")),
];

/// What a move needs to know about the item besides its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub state: ItemState,
    pub contribution: bool,
    /// Files with a current version, and the external link.
    pub files_with_content: u32,
    pub has_external_url: bool,
}

/// One entry of an item's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub from: ItemState,
    pub to: ItemState,
    pub by_contributor: bool,
    pub note: String,
    /// Whether the move changes what readers see, so ResourcePublished goes
    /// out: publishing, withdrawing, and edits of a published item.
    pub publishes: bool,
}

/// Decides a move: the actor's right, the state table, the note, and that
/// an item going out has something to read. Every refusal says why.
pub fn decide(subject: &Subject, action: Action, actor: Actor, note: &str) -> Result<Step> {
    let allowed = ACTORS
        .iter()
        .find(|(a, _)| *a == action)
        .is_some_and(|(_, actors)| actors.contains(&actor));
    if !allowed {
        return Err(Error::permission_denied(format!(
            "only staff may have an item {}",
            action.word()
        )));
    }
    let note_name = NOTES
        .iter()
        .find(|(a, _)| *a == action)
        .and_then(|(_, n)| *n);
    let note = validate::prose(
        note_name.unwrap_or("note"),
        note,
        NOTE_MAX,
        note_name.is_some(),
    )?;
    let to = lifecycle(subject.contribution).next(subject.state, action)?;
    let goes_out = matches!(action, Action::Submit | Action::Publish | Action::Approve);
    if goes_out && subject.files_with_content == 0 && !subject.has_external_url {
        return Err(Error::precondition(
            "ITEM_EMPTY",
            "item",
            "an item needs a file or an external link before it is submitted or published",
        ));
    }
    Ok(Step {
        from: subject.state,
        to,
        by_contributor: actor == Actor::Contributor,
        note,
        publishes: to == ItemState::Published || subject.state == ItemState::Published,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [ItemState; 7] = [
        S::Unspecified,
        S::Draft,
        S::Submitted,
        S::ChangesRequested,
        S::Published,
        S::Rejected,
        S::Withdrawn,
    ];

    /// The moderation the issue describes, written independently of the
    /// table: a partner submits; staff approve, request changes or reject;
    /// only approved contributions are published.
    const CONTRIBUTION_SPEC: &[(ItemState, Action, ItemState)] = &[
        (S::Draft, A::Edit, S::Draft),
        (S::Draft, A::Submit, S::Submitted),
        (S::Submitted, A::Approve, S::Published),
        (S::Submitted, A::RequestChanges, S::ChangesRequested),
        (S::Submitted, A::Reject, S::Rejected),
        (S::ChangesRequested, A::Edit, S::ChangesRequested),
        (S::ChangesRequested, A::Submit, S::Submitted),
        (S::Published, A::Edit, S::Published),
        (S::Published, A::Withdraw, S::Withdrawn),
        (S::Withdrawn, A::Publish, S::Published),
    ];

    fn subject(state: ItemState, contribution: bool) -> Subject {
        Subject {
            state,
            contribution,
            files_with_content: 1,
            has_external_url: false,
        }
    }

    fn note_for(action: Action) -> &'static str {
        match action {
            A::RequestChanges | A::Reject | A::Withdraw => "السبب",
            _ => "",
        }
    }

    #[test]
    fn the_contribution_table_is_the_specification_for_every_pair() {
        for from in STATES {
            for action in Action::ALL {
                let expected = CONTRIBUTION_SPEC
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, t)| *t);
                match decide(&subject(from, true), action, Actor::Staff, note_for(action)) {
                    Ok(step) => assert_eq!(Some(step.to), expected, "{from:?} {action:?}"),
                    Err(Error::FailedPrecondition {
                        description, kind, ..
                    }) => {
                        assert_eq!(expected, None, "{from:?} {action:?}");
                        assert_eq!(kind, "CONTRIBUTION_STATE");
                        assert!(description.contains(state_word(from)), "{description}");
                    }
                    Err(e) => panic!("{from:?} {action:?}: {e}"),
                }
            }
        }
    }

    #[test]
    fn only_approval_publishes_a_contribution() {
        for (from, action, to) in CONTRIBUTIONS.rows {
            if *to == S::Published && *from != S::Published {
                assert!(
                    matches!(
                        (from, action),
                        (S::Submitted, A::Approve) | (S::Withdrawn, A::Publish)
                    ),
                    "{from:?} {action:?}"
                );
            }
        }
        assert!(decide(&subject(S::Draft, true), A::Publish, Actor::Staff, "").is_err());
        // A withdrawn contribution was approved once; staff may put it back.
        assert!(CONTRIBUTIONS.allows(S::Withdrawn, A::Publish));
    }

    #[test]
    fn staff_items_publish_directly_and_cannot_be_moderated() {
        assert_eq!(
            decide(&subject(S::Draft, false), A::Publish, Actor::Staff, "")
                .unwrap()
                .to,
            S::Published
        );
        for action in [A::Submit, A::Approve, A::RequestChanges, A::Reject] {
            for from in STATES {
                assert!(!STAFF_ITEMS.allows(from, action), "{from:?} {action:?}");
            }
        }
    }

    #[test]
    fn contributors_submit_and_edit_but_never_decide() {
        assert!(decide(&subject(S::Draft, true), A::Submit, Actor::Contributor, "").is_ok());
        assert!(
            decide(
                &subject(S::ChangesRequested, true),
                A::Edit,
                Actor::Contributor,
                ""
            )
            .is_ok()
        );
        for action in [
            A::Approve,
            A::RequestChanges,
            A::Reject,
            A::Publish,
            A::Withdraw,
        ] {
            let err = decide(
                &subject(S::Submitted, true),
                action,
                Actor::Contributor,
                "x",
            )
            .unwrap_err();
            assert!(matches!(err, Error::PermissionDenied(_)), "{action:?}");
        }
        let step = decide(&subject(S::Draft, true), A::Submit, Actor::Contributor, "").unwrap();
        assert!(step.by_contributor && !step.publishes);
    }

    #[test]
    fn refusals_and_withdrawals_say_why() {
        for action in [A::RequestChanges, A::Reject] {
            let err = decide(&subject(S::Submitted, true), action, Actor::Staff, " ").unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{action:?}");
        }
        let err = decide(&subject(S::Published, false), A::Withdraw, Actor::Staff, "").unwrap_err();
        assert!(err.to_string().contains("reason"), "{err}");
        let step = decide(
            &subject(S::Submitted, true),
            A::Reject,
            Actor::Staff,
            "خارج النطاق",
        )
        .unwrap();
        assert_eq!(step.note, "خارج النطاق");
    }

    #[test]
    fn nothing_goes_out_empty() {
        let empty = Subject {
            files_with_content: 0,
            ..subject(S::Draft, true)
        };
        let err = decide(&empty, A::Submit, Actor::Contributor, "").unwrap_err();
        assert!(matches!(err, Error::FailedPrecondition { .. }));
        let linked = Subject {
            has_external_url: true,
            ..empty
        };
        assert!(decide(&linked, A::Submit, Actor::Contributor, "").is_ok());
    }

    #[test]
    fn readers_hear_of_publication_withdrawal_and_published_edits_only() {
        let cases = [
            (subject(S::Submitted, true), A::Approve, true),
            (subject(S::Draft, false), A::Publish, true),
            (subject(S::Published, false), A::Withdraw, true),
            (subject(S::Published, false), A::Edit, true),
            (subject(S::Draft, false), A::Edit, false),
            (subject(S::Submitted, true), A::RequestChanges, false),
            (subject(S::Submitted, true), A::Reject, false),
        ];
        for (s, action, publishes) in cases {
            let step = decide(&s, action, Actor::Staff, note_for(action)).unwrap();
            assert_eq!(step.publishes, publishes, "{:?} {action:?}", s.state);
        }
    }

    #[test]
    fn every_action_has_its_actors_and_note_rule() {
        for a in Action::ALL {
            assert!(ACTORS.iter().any(|(x, _)| *x == a), "{a:?}");
            assert!(NOTES.iter().any(|(x, _)| *x == a), "{a:?}");
        }
        // Rejected is final.
        assert!(
            Action::ALL
                .iter()
                .all(|a| !CONTRIBUTIONS.allows(S::Rejected, *a))
        );
    }
}
