//! Invitations to organizations, people and outside guests, their replies,
//! and what a batch sent twice does (nothing twice).

use std::collections::HashMap;

use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::validate;
use markaz_proto::common::v1::Gender;
use markaz_proto::networking::v1 as api;

pub use api::{InvitationStatus, ParticipantCategory};

use super::events::{EVENT_LIFECYCLE, EventAction, EventStatus};
use super::lifecycle::{Action, Lifecycle};
use super::{NAME_MAX, SHORT_MAX, finish, optional_id, required_id};

pub const MAX_INVITATIONS: usize = 500;
pub const NOTE_MAX: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invitee {
    Organization(String),
    Person {
        person_id: String,
        organization_id: Option<String>,
    },
    /// Somebody with no record: only what the door and the figures need.
    Guest {
        name: String,
        affiliation: String,
        gender: Gender,
    },
}

impl Invitee {
    /// The key under which an organization or a person is invited once per
    /// event. A guest has none: two guests of the same name are two people.
    pub fn key(&self) -> Option<String> {
        match self {
            Invitee::Organization(id) => Some(format!("organization:{id}")),
            Invitee::Person { person_id, .. } => Some(format!("person:{person_id}")),
            Invitee::Guest { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationSpec {
    pub invitee: Invitee,
    /// Required for a guest; for the others it defaults at check-in.
    pub category: Option<ParticipantCategory>,
}

/// Parses a batch of invitations: each with exactly one invitee, a guest
/// with a name, a category and a gender, no organization or person twice.
pub fn parse_invitations(list: &[api::Invitation]) -> Result<Vec<InvitationSpec>> {
    use api::invitation::Invitee as I;
    let mut v = Violations::new();
    if list.is_empty() {
        v.add("invitations", "at least one");
    }
    if list.len() > MAX_INVITATIONS {
        v.add("invitations", format!("at most {MAX_INVITATIONS}"));
    }
    let mut out: Vec<InvitationSpec> = Vec::new();
    for (i, inv) in list.iter().enumerate() {
        let f = |n: &str| format!("invitations[{i}].{n}");
        let category = v.take(validate::enumeration::<ParticipantCategory>(
            &f("category"),
            inv.category,
            false,
        ));
        let invitee = match &inv.invitee {
            None => {
                v.add(
                    format!("invitations[{i}]"),
                    "one of organization_id, person or guest",
                );
                None
            }
            Some(I::OrganizationId(id)) => v
                .take(required_id(&f("organization_id"), id))
                .map(Invitee::Organization),
            Some(I::Person(p)) => {
                let person_id = v.take(required_id(&f("person.person_id"), &p.person_id));
                let organization_id = v.take(optional_id(
                    &f("person.organization_id"),
                    &p.organization_id,
                ));
                person_id
                    .zip(organization_id)
                    .map(|(person_id, organization_id)| Invitee::Person {
                        person_id,
                        organization_id,
                    })
            }
            Some(I::Guest(g)) => {
                let name = v.take(validate::line(&f("guest.name"), &g.name, SHORT_MAX, true));
                let affiliation = v.take(validate::line(
                    &f("guest.affiliation"),
                    &g.affiliation,
                    NAME_MAX,
                    false,
                ));
                let gender = v
                    .take(validate::enumeration::<Gender>(
                        &f("guest.gender"),
                        g.gender,
                        false,
                    ))
                    .and_then(|g| {
                        if g.is_none() {
                            v.add(f("guest.gender"), "required; UNDISCLOSED when not said");
                        }
                        g
                    });
                if category == Some(None) {
                    v.add(
                        f("category"),
                        "required for a guest: their check-in counts by it",
                    );
                }
                match (name, affiliation, gender) {
                    (Some(name), Some(affiliation), Some(gender)) => Some(Invitee::Guest {
                        name,
                        affiliation,
                        gender,
                    }),
                    _ => None,
                }
            }
        };
        let (Some(invitee), Some(category)) = (invitee, category) else {
            continue;
        };
        if let Some(key) = invitee.key()
            && out.iter().any(|x| x.invitee.key().as_ref() == Some(&key))
        {
            v.add(format!("invitations[{i}]"), "invited twice in one call");
            continue;
        }
        out.push(InvitationSpec { invitee, category });
    }
    finish(v, || Some(out))
}

/// What becomes of one invitation of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan<'a> {
    /// A new invitation.
    Create(&'a InvitationSpec),
    /// The invitee has one already: returned as it is.
    Keep(&'a str),
    /// The invitee's invitation had been withdrawn: it is renewed (awaiting
    /// a reply again).
    Renew(&'a str),
}

/// Decides a batch against the event's invitations, `existing` by invitee
/// key: `(invitation id, status)`. Sending the same batch twice creates
/// nothing the second time.
pub fn plan_invitations<'a>(
    specs: &'a [InvitationSpec],
    existing: &'a HashMap<String, (String, InvitationStatus)>,
) -> Vec<Plan<'a>> {
    specs
        .iter()
        .map(
            |spec| match spec.invitee.key().and_then(|k| existing.get(&k)) {
                None => Plan::Create(spec),
                Some((id, InvitationStatus::Withdrawn)) => Plan::Renew(id),
                Some((id, _)) => Plan::Keep(id),
            },
        )
        .collect()
}

// ============================================================ life cycle

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvitationAction {
    Accept,
    Decline,
    Tentative,
    Withdraw,
    Renew,
}

impl InvitationAction {
    pub const ALL: [InvitationAction; 5] = [
        InvitationAction::Accept,
        InvitationAction::Decline,
        InvitationAction::Tentative,
        InvitationAction::Withdraw,
        InvitationAction::Renew,
    ];
}

impl Action for InvitationAction {
    fn past(self) -> &'static str {
        match self {
            InvitationAction::Accept => "accepted",
            InvitationAction::Decline => "declined",
            InvitationAction::Tentative => "answered with a maybe",
            InvitationAction::Withdraw => "withdrawn",
            InvitationAction::Renew => "renewed",
        }
    }
}

use InvitationAction as A;
use InvitationStatus as S;

/// A reply may be given and changed until the event takes place; the center
/// may withdraw any invitation not withdrawn yet, and invite again.
pub const INVITATION_LIFECYCLE: Lifecycle<InvitationStatus, InvitationAction> = Lifecycle {
    kind: "INVITATION_STATUS",
    subject: "invitation.status",
    noun: "an invitation",
    moves: &[
        (S::AwaitingReply, A::Accept, S::Accepted),
        (S::AwaitingReply, A::Decline, S::Declined),
        (S::AwaitingReply, A::Tentative, S::Tentative),
        (S::AwaitingReply, A::Withdraw, S::Withdrawn),
        (S::Accepted, A::Accept, S::Accepted),
        (S::Accepted, A::Decline, S::Declined),
        (S::Accepted, A::Tentative, S::Tentative),
        (S::Accepted, A::Withdraw, S::Withdrawn),
        (S::Declined, A::Accept, S::Accepted),
        (S::Declined, A::Decline, S::Declined),
        (S::Declined, A::Tentative, S::Tentative),
        (S::Declined, A::Withdraw, S::Withdrawn),
        (S::Tentative, A::Accept, S::Accepted),
        (S::Tentative, A::Decline, S::Declined),
        (S::Tentative, A::Tentative, S::Tentative),
        (S::Tentative, A::Withdraw, S::Withdrawn),
        (S::Withdrawn, A::Renew, S::AwaitingReply),
    ],
};

/// Parses a reply: ACCEPTED, DECLINED or TENTATIVE, with an optional note.
pub fn parse_response(response: i32, note: &str) -> Result<(InvitationAction, String)> {
    let mut v = Violations::new();
    let action = v
        .take(validate::enumeration::<InvitationStatus>(
            "response", response, true,
        ))
        .flatten()
        .and_then(|s| match s {
            S::Accepted => Some(A::Accept),
            S::Declined => Some(A::Decline),
            S::Tentative => Some(A::Tentative),
            _ => {
                v.add("response", "ACCEPTED, DECLINED or TENTATIVE");
                None
            }
        });
    let note = v.take(validate::line("note", note, NOTE_MAX, false));
    finish(v, || Some((action?, note?)))
}

/// The status after `action`, which the event must allow too: replies and
/// withdrawals only while it is planned.
pub fn change(
    event: EventStatus,
    from: InvitationStatus,
    action: InvitationAction,
) -> Result<InvitationStatus> {
    let on_event = match action {
        A::Accept | A::Decline | A::Tentative => EventAction::Reply,
        A::Withdraw | A::Renew => EventAction::Invite,
    };
    EVENT_LIFECYCLE.next(event, on_event)?;
    INVITATION_LIFECYCLE.next(from, action)
}

/// A withdrawn invitation is not counted as invited.
pub fn counts_as_invited(status: InvitationStatus) -> bool {
    status != S::Withdrawn && status != S::Unspecified
}

/// The guest forgotten: no name, no affiliation; the gender stays for the
/// figures. Only a guest: a person of membership is erased there.
pub fn forget_guest(invitee: &Invitee) -> Result<Invitee> {
    match invitee {
        Invitee::Guest { gender, .. } => Ok(Invitee::Guest {
            name: String::new(),
            affiliation: String::new(),
            gender: *gender,
        }),
        _ => Err(Error::precondition(
            "NOT_A_GUEST",
            "invitation.invitee",
            "only an outside guest is forgotten here; a person's record is erased in membership",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bad_fields;
    use crate::domain::lifecycle::assert_matches_spec;
    use markaz_kit::rpc::new_id;

    fn org(id: &str) -> api::Invitation {
        api::Invitation {
            invitee: Some(api::invitation::Invitee::OrganizationId(id.into())),
            ..Default::default()
        }
    }

    fn guest(name: &str, gender: Gender, category: ParticipantCategory) -> api::Invitation {
        api::Invitation {
            invitee: Some(api::invitation::Invitee::Guest(api::OutsideGuest {
                name: name.into(),
                affiliation: "UNICEF".into(),
                gender: gender as i32,
            })),
            category: category as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_batch_invites_organizations_people_and_guests() {
        let (o, p, po) = (new_id(), new_id(), new_id());
        let person = api::Invitation {
            invitee: Some(api::invitation::Invitee::Person(api::InvitedPerson {
                person_id: p.clone(),
                organization_id: po.clone(),
            })),
            category: ParticipantCategory::CivilSocietyLeader as i32,
            ..Default::default()
        };
        let specs = parse_invitations(&[
            org(&o),
            person,
            guest(
                "م. العلي",
                Gender::Undisclosed,
                ParticipantCategory::InternationalOrganization,
            ),
        ])
        .unwrap();
        assert_eq!(specs[0].invitee, Invitee::Organization(o.clone()));
        assert_eq!(specs[0].category, None);
        assert_eq!(
            specs[1].invitee,
            Invitee::Person {
                person_id: p.clone(),
                organization_id: Some(po)
            }
        );
        assert_eq!(
            specs[1].category,
            Some(ParticipantCategory::CivilSocietyLeader)
        );
        let Invitee::Guest { name, gender, .. } = &specs[2].invitee else {
            panic!()
        };
        assert_eq!((name.as_str(), *gender), ("م. العلي", Gender::Undisclosed));
        assert_eq!(specs[0].invitee.key(), Some(format!("organization:{o}")));
        assert_eq!(specs[1].invitee.key(), Some(format!("person:{p}")));
        assert_eq!(specs[2].invitee.key(), None);
    }

    #[test]
    fn every_bad_invitation_is_named() {
        let o = new_id();
        let list = [
            api::Invitation::default(),
            org("nope"),
            org(&o),
            org(&o),
            guest("", Gender::Unspecified, ParticipantCategory::Unspecified),
            api::Invitation {
                category: 42,
                ..org(&new_id())
            },
        ];
        let fields = bad_fields(parse_invitations(&list));
        assert_eq!(
            fields,
            [
                "invitations[0]",
                "invitations[1].organization_id",
                "invitations[3]",
                "invitations[4].guest.name",
                "invitations[4].guest.gender",
                "invitations[4].category",
                "invitations[5].category",
            ]
        );
        assert!(parse_invitations(&[]).is_err());
        let many: Vec<_> = (0..=MAX_INVITATIONS).map(|_| org(&new_id())).collect();
        assert!(parse_invitations(&many).is_err());
    }

    #[test]
    fn a_batch_sent_twice_invites_nobody_twice() {
        let (a, b) = (new_id(), new_id());
        let specs = parse_invitations(&[
            org(&a),
            org(&b),
            guest("Guest", Gender::Female, ParticipantCategory::Donor),
        ])
        .unwrap();
        let none = HashMap::new();
        let first = plan_invitations(&specs, &none);
        assert!(first.iter().all(|p| matches!(p, Plan::Create(_))));
        let existing: HashMap<String, (String, InvitationStatus)> = [
            (
                format!("organization:{a}"),
                ("inv-a".to_string(), S::Accepted),
            ),
            (
                format!("organization:{b}"),
                ("inv-b".to_string(), S::Withdrawn),
            ),
        ]
        .into();
        let again = plan_invitations(&specs, &existing);
        assert_eq!(again[0], Plan::Keep("inv-a"));
        assert_eq!(again[1], Plan::Renew("inv-b"));
        // A guest has no key: the request_id guards a retried batch.
        assert!(matches!(again[2], Plan::Create(_)));
    }

    /// The rule as the issue states it, written independently of the
    /// table: an invitee's reply may be given and changed to any reply while
    /// the invitation stands; the center withdraws an invitation that stands,
    /// and renews one it withdrew.
    fn spec() -> Vec<(InvitationStatus, InvitationAction, InvitationStatus)> {
        let standing = [S::AwaitingReply, S::Accepted, S::Declined, S::Tentative];
        let replies = [
            (A::Accept, S::Accepted),
            (A::Decline, S::Declined),
            (A::Tentative, S::Tentative),
        ];
        let mut spec = Vec::new();
        for from in standing {
            for (action, to) in replies {
                spec.push((from, action, to));
            }
            spec.push((from, A::Withdraw, S::Withdrawn));
        }
        spec.push((S::Withdrawn, A::Renew, S::AwaitingReply));
        spec
    }

    #[test]
    fn replies_change_until_withdrawn_and_the_table_is_the_specification() {
        assert_matches_spec(
            &INVITATION_LIFECYCLE,
            &[
                S::Unspecified,
                S::AwaitingReply,
                S::Accepted,
                S::Declined,
                S::Tentative,
                S::Withdrawn,
            ],
            &InvitationAction::ALL,
            &spec(),
        );
    }

    #[test]
    fn replies_wait_for_a_planned_event() {
        assert_eq!(
            change(EventStatus::Planned, S::AwaitingReply, A::Accept).unwrap(),
            S::Accepted
        );
        let Err(Error::FailedPrecondition { kind, .. }) =
            change(EventStatus::Held, S::AwaitingReply, A::Accept)
        else {
            panic!()
        };
        assert_eq!(kind, "EVENT_STATUS");
        let Err(Error::FailedPrecondition { kind, .. }) =
            change(EventStatus::Planned, S::Withdrawn, A::Accept)
        else {
            panic!()
        };
        assert_eq!(kind, "INVITATION_STATUS");
        assert!(change(EventStatus::Cancelled, S::Accepted, A::Withdraw).is_err());
    }

    #[test]
    fn a_reply_is_yes_no_or_maybe() {
        assert_eq!(
            parse_response(S::Accepted as i32, "two people will come").unwrap(),
            (A::Accept, "two people will come".to_string())
        );
        assert_eq!(
            parse_response(S::Tentative as i32, "").unwrap().0,
            A::Tentative
        );
        for bad in [0, S::Withdrawn as i32, S::AwaitingReply as i32, 77] {
            assert!(parse_response(bad, "").is_err(), "{bad}");
        }
        let errs = bad_fields(parse_response(0, &"x".repeat(NOTE_MAX + 1)));
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn withdrawn_invitations_do_not_count_and_only_guests_are_forgotten_here() {
        assert!(counts_as_invited(S::AwaitingReply) && counts_as_invited(S::Declined));
        assert!(!counts_as_invited(S::Withdrawn) && !counts_as_invited(S::Unspecified));
        let g = Invitee::Guest {
            name: "Name".into(),
            affiliation: "Office".into(),
            gender: Gender::Female,
        };
        assert_eq!(
            forget_guest(&g).unwrap(),
            Invitee::Guest {
                name: String::new(),
                affiliation: String::new(),
                gender: Gender::Female
            }
        );
        assert!(forget_guest(&Invitee::Organization(new_id())).is_err());
    }
}
