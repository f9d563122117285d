//! Check-in on the day: entries parsed, resolved against what the service
//! knows (people and organizations from membership's events, the event's
//! invitations), and merged into the event's participants so that an entry
//! sent again changes nothing and an entry sent with other values corrects
//! the first.
//!
//! Each participant has a key: the person, the guest's invitation, or the
//! walk-in key the device chose. The merge is keyed on it, so a tablet that
//! lost its connection may resend everything it recorded, in any batches,
//! any number of times.

use std::collections::HashMap;

use markaz_kit::error::{Error, FieldViolation, Result, Violations};
use markaz_kit::validate;
use markaz_proto::common::v1::{AgeBand, Gender, OrganizationKind};
use markaz_proto::networking::v1 as api;

pub use api::{ParticipantCategory, ParticipantKind};

use super::{finish, optional_id, required_id};

pub const MAX_ENTRIES: usize = 1_000;
pub const MAX_WALK_IN_COUNT: i32 = 500;
pub const WALK_IN_KEY_MAX: usize = 64;

/// Who a participant is, as the event's list knows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParticipantKey {
    Person(String),
    /// An outside guest, by their invitation.
    Guest(String),
    /// People with no record, by the device's key.
    WalkIn(String),
}

impl ParticipantKey {
    /// The stored and returned form: `person:<id>`, `guest:<id>`,
    /// `walk-in:<key>`.
    pub fn text(&self) -> String {
        match self {
            ParticipantKey::Person(id) => format!("person:{id}"),
            ParticipantKey::Guest(id) => format!("guest:{id}"),
            ParticipantKey::WalkIn(key) => format!("walk-in:{key}"),
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<ParticipantKey, FieldViolation> {
        let bad =
            || FieldViolation::new(field, "a participant key: person:…, guest:… or walk-in:…");
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        match kind {
            "person" => required_id(field, rest).map(ParticipantKey::Person),
            "guest" => required_id(field, rest).map(ParticipantKey::Guest),
            "walk-in" => walk_in_key(field, rest).map(ParticipantKey::WalkIn),
            _ => Err(bad()),
        }
    }

    pub fn kind(&self) -> ParticipantKind {
        match self {
            ParticipantKey::Person(_) => ParticipantKind::Person,
            ParticipantKey::Guest(_) => ParticipantKind::Guest,
            ParticipantKey::WalkIn(_) => ParticipantKind::WalkIn,
        }
    }
}

/// A walk-in key chosen by a device: 1 to 64 ASCII letters, digits and
/// `-_.:`.
pub fn walk_in_key(field: &str, value: &str) -> Result<String, FieldViolation> {
    let ok = !value.is_empty()
        && value.len() <= WALK_IN_KEY_MAX
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            format!("1 to {WALK_IN_KEY_MAX} letters, digits, '-', '_', '.' or ':'"),
        ))
    }
}

/// One check-in entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: ParticipantKey,
    /// The organization a person comes for.
    pub organization_id: Option<String>,
    pub category: Option<ParticipantCategory>,
    /// A walk-in's only: a person's comes from membership, a guest's from
    /// the invitation.
    pub gender: Option<Gender>,
    pub count: i32,
}

pub fn parse_entries(entries: &[api::CheckInEntry]) -> Result<Vec<Entry>> {
    use api::check_in_entry::Participant as P;
    let mut v = Violations::new();
    if entries.is_empty() {
        v.add("entries", "at least one");
    }
    if entries.len() > MAX_ENTRIES {
        v.add("entries", format!("at most {MAX_ENTRIES}"));
    }
    let mut out: Vec<Entry> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let f = |n: &str| format!("entries[{i}].{n}");
        let category = v.take(validate::enumeration::<ParticipantCategory>(
            &f("category"),
            e.category,
            false,
        ));
        let gender = v.take(validate::enumeration::<Gender>(
            &f("gender"),
            e.gender,
            false,
        ));
        let given_gender = |v: &mut Violations, whose: &str| {
            if matches!(gender, Some(Some(_))) {
                v.add(f("gender"), format!("not given for {whose}"));
            }
        };
        let parsed = match &e.participant {
            None => {
                v.add(
                    format!("entries[{i}]"),
                    "one of person, guest_invitation_id or walk_in",
                );
                None
            }
            Some(P::Person(p)) => {
                given_gender(&mut v, "a person: membership's record counts");
                let id = v.take(required_id(&f("person.person_id"), &p.person_id));
                let org = v.take(optional_id(
                    &f("person.organization_id"),
                    &p.organization_id,
                ));
                id.zip(org)
                    .map(|(id, org)| (ParticipantKey::Person(id), org, None, 1))
            }
            Some(P::GuestInvitationId(id)) => {
                given_gender(&mut v, "a guest: the invitation's counts");
                v.take(required_id(&f("guest_invitation_id"), id))
                    .map(|id| (ParticipantKey::Guest(id), None, None, 1))
            }
            Some(P::WalkIn(w)) => {
                let key = v.take(walk_in_key(&f("walk_in.key"), &w.key));
                let count = if w.count == 0 { 1 } else { w.count };
                if !(1..=MAX_WALK_IN_COUNT).contains(&count) {
                    v.add(f("walk_in.count"), format!("from 1 to {MAX_WALK_IN_COUNT}"));
                }
                if category == Some(None) {
                    v.add(f("category"), "required for a walk-in");
                }
                if gender == Some(None) {
                    v.add(
                        f("gender"),
                        "required for a walk-in; UNDISCLOSED when not said",
                    );
                }
                key.map(|k| (ParticipantKey::WalkIn(k), None, gender.flatten(), count))
            }
        };
        let (Some((key, organization_id, gender, count)), Some(category)) = (parsed, category)
        else {
            continue;
        };
        if out.iter().any(|x| x.key == key) {
            v.add(
                format!("entries[{i}]"),
                "the same participant twice in one call",
            );
            continue;
        }
        out.push(Entry {
            key,
            organization_id,
            category,
            gender,
            count,
        });
    }
    finish(v, || Some(out))
}

/// A person as membership last told networking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonFacts {
    pub gender: Gender,
    pub age_band: AgeBand,
}

/// An outside guest of the event, from their invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestFacts {
    pub category: ParticipantCategory,
    pub gender: Gender,
    pub withdrawn: bool,
}

/// A person's invitation to the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonInvitation {
    pub invitation_id: String,
    pub organization_id: Option<String>,
    pub category: Option<ParticipantCategory>,
}

/// What check-in resolves entries against: the records the entries name,
/// loaded by the store.
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub people: HashMap<String, PersonFacts>,
    pub organizations: HashMap<String, OrganizationKind>,
    /// The event's guest invitations, by invitation id.
    pub guests: HashMap<String, GuestFacts>,
    /// The event's person invitations, by person id.
    pub person_invitations: HashMap<String, PersonInvitation>,
    /// The event's organization invitations (not withdrawn), by
    /// organization id: (invitation id, expected category).
    pub organization_invitations: HashMap<String, (String, Option<ParticipantCategory>)>,
}

/// A participant of the event, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendance {
    pub key: ParticipantKey,
    pub organization_id: Option<String>,
    /// The invitation they came by: the guest's, the person's, or their
    /// organization's.
    pub invitation_id: Option<String>,
    pub category: ParticipantCategory,
    pub gender: Gender,
    pub age_band: AgeBand,
    pub count: i32,
}

/// The category a person counts in when none is said: by the kind of the
/// organization they come for. A civil-society leader is always said so.
pub fn default_category(kind: Option<OrganizationKind>) -> ParticipantCategory {
    use OrganizationKind as K;
    match kind {
        None => ParticipantCategory::Individual,
        Some(K::LocalAdministration) => ParticipantCategory::LocalAdministration,
        Some(K::Ingo) => ParticipantCategory::InternationalOrganization,
        Some(K::Donor) => ParticipantCategory::Donor,
        Some(K::Cso | K::Initiative | K::Other | K::Unspecified) => {
            ParticipantCategory::LocalOrganizationMember
        }
    }
}

/// Resolves entries into participants. Every entry naming something the
/// service does not know (yet) is listed in one FAILED_PRECONDITION, and
/// nothing is checked in: the batch can be retried once membership's
/// events have arrived, or the unknown entries sent as walk-ins.
pub fn resolve(entries: &[Entry], records: &Records) -> Result<Vec<Attendance>> {
    let mut unknown: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match &e.key {
            ParticipantKey::Person(person_id) => {
                let invitation = records.person_invitations.get(person_id);
                let organization_id = e
                    .organization_id
                    .clone()
                    .or_else(|| invitation.and_then(|inv| inv.organization_id.clone()));
                let kind = match &organization_id {
                    None => None,
                    Some(org) => match records.organizations.get(org) {
                        Some(kind) => Some(*kind),
                        None => {
                            unknown.push(format!("entries[{i}]: organization {org}"));
                            continue;
                        }
                    },
                };
                let Some(person) = records.people.get(person_id) else {
                    unknown.push(format!("entries[{i}]: person {person_id}"));
                    continue;
                };
                let org_invitation = organization_id
                    .as_ref()
                    .and_then(|o| records.organization_invitations.get(o));
                let category = e
                    .category
                    .or(invitation.and_then(|inv| inv.category))
                    .or(org_invitation.and_then(|(_, c)| *c))
                    .unwrap_or_else(|| default_category(kind));
                let invitation_id = invitation
                    .map(|inv| inv.invitation_id.clone())
                    .or_else(|| org_invitation.map(|(id, _)| id.clone()));
                out.push(Attendance {
                    key: e.key.clone(),
                    organization_id,
                    invitation_id,
                    category,
                    gender: person.gender,
                    age_band: person.age_band,
                    count: 1,
                });
            }
            ParticipantKey::Guest(invitation_id) => match records.guests.get(invitation_id) {
                Some(g) if !g.withdrawn => out.push(Attendance {
                    key: e.key.clone(),
                    organization_id: None,
                    invitation_id: Some(invitation_id.clone()),
                    category: e.category.unwrap_or(g.category),
                    gender: g.gender,
                    age_band: AgeBand::Undisclosed,
                    count: 1,
                }),
                Some(_) => unknown.push(format!(
                    "entries[{i}]: the invitation {invitation_id} was withdrawn"
                )),
                None => unknown.push(format!(
                    "entries[{i}]: {invitation_id} is not a guest's invitation to this event"
                )),
            },
            ParticipantKey::WalkIn(_) => out.push(Attendance {
                key: e.key.clone(),
                organization_id: None,
                invitation_id: None,
                category: e.category.unwrap_or(ParticipantCategory::Individual),
                gender: e.gender.unwrap_or(Gender::Undisclosed),
                age_band: AgeBand::Undisclosed,
                count: e.count,
            }),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::precondition(
            "NOT_KNOWN",
            "entries",
            format!(
                "not known to networking (yet): {}; nothing was checked in — retry once \
                 membership's records have arrived, or check them in as walk-ins",
                unknown.join("; ")
            ),
        ));
    }
    Ok(out)
}

/// What an entry did to the event's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Added,
    Corrected,
    Unchanged,
}

/// Merges resolved participants into the event's `current` list (by key
/// text). A person's or guest's gender and age band stay as declared when
/// they were first checked in, so figures do not move when membership's
/// record changes later; what may be corrected is the category, the
/// organization they came for, and a walk-in's category, gender and count.
pub fn merge(
    current: &HashMap<String, Attendance>,
    incoming: Vec<Attendance>,
) -> Vec<(Attendance, Effect)> {
    incoming
        .into_iter()
        .map(|mut a| match current.get(&a.key.text()) {
            None => (a, Effect::Added),
            Some(old) => {
                if !matches!(a.key, ParticipantKey::WalkIn(_)) {
                    a.gender = old.gender;
                    a.age_band = old.age_band;
                }
                let effect = if a == *old {
                    Effect::Unchanged
                } else {
                    Effect::Corrected
                };
                (a, effect)
            }
        })
        .collect()
}

/// How many people a list of participants is.
pub fn headcount<'a>(participants: impl IntoIterator<Item = &'a Attendance>) -> i64 {
    participants.into_iter().map(|a| i64::from(a.count)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bad_fields;
    use markaz_kit::rpc::new_id;

    fn person(id: &str, org: &str) -> api::CheckInEntry {
        api::CheckInEntry {
            participant: Some(api::check_in_entry::Participant::Person(
                api::CheckInPerson {
                    person_id: id.into(),
                    organization_id: org.into(),
                },
            )),
            ..Default::default()
        }
    }

    fn walk_in(key: &str, count: i32, c: ParticipantCategory, g: Gender) -> api::CheckInEntry {
        api::CheckInEntry {
            participant: Some(api::check_in_entry::Participant::WalkIn(api::WalkIn {
                key: key.into(),
                count,
            })),
            category: c as i32,
            gender: g as i32,
        }
    }

    fn guest(invitation: &str) -> api::CheckInEntry {
        api::CheckInEntry {
            participant: Some(api::check_in_entry::Participant::GuestInvitationId(
                invitation.into(),
            )),
            ..Default::default()
        }
    }

    #[test]
    fn keys_round_trip_and_say_their_kind() {
        let id = new_id();
        for key in [
            ParticipantKey::Person(id.clone()),
            ParticipantKey::Guest(id.clone()),
            ParticipantKey::WalkIn("tablet-2:0007".into()),
        ] {
            assert_eq!(ParticipantKey::parse("key", &key.text()).unwrap(), key);
        }
        assert_eq!(
            ParticipantKey::WalkIn("a".into()).kind(),
            ParticipantKind::WalkIn
        );
        for bad in [
            "",
            "person:",
            "person:x",
            "someone:1",
            "walk-in:has space",
            "walk-in:",
        ] {
            assert!(ParticipantKey::parse("key", bad).is_err(), "{bad}");
        }
        assert!(walk_in_key("k", &"a".repeat(WALK_IN_KEY_MAX)).is_ok());
        assert!(walk_in_key("k", &"a".repeat(WALK_IN_KEY_MAX + 1)).is_err());
        assert!(walk_in_key("k", "مرحبا").is_err());
    }

    #[test]
    fn entries_parse_persons_guests_and_walk_ins() {
        let (p, o, g) = (new_id(), new_id(), new_id());
        let entries = parse_entries(&[
            person(&p, &o),
            guest(&g),
            walk_in(
                "w1",
                0,
                ParticipantCategory::Individual,
                Gender::Undisclosed,
            ),
            walk_in(
                "w2",
                12,
                ParticipantCategory::LocalOrganizationMember,
                Gender::Female,
            ),
        ])
        .unwrap();
        assert_eq!(entries[0].key, ParticipantKey::Person(p));
        assert_eq!(entries[0].organization_id, Some(o));
        assert_eq!(entries[1].key, ParticipantKey::Guest(g));
        assert_eq!(
            entries[2].count, 1,
            "a walk-in entry of no count is one person"
        );
        assert_eq!(entries[2].gender, Some(Gender::Undisclosed));
        assert_eq!(entries[3].count, 12);
    }

    #[test]
    fn every_bad_entry_is_named() {
        let p = new_id();
        let with_gender = api::CheckInEntry {
            gender: Gender::Male as i32,
            ..person(&p, "")
        };
        let entries = [
            api::CheckInEntry::default(),
            with_gender,
            person(&p, ""),
            walk_in("", 0, ParticipantCategory::Unspecified, Gender::Unspecified),
            walk_in("w", 501, ParticipantCategory::Donor, Gender::Male),
            api::CheckInEntry {
                gender: Gender::Female as i32,
                ..guest("nope")
            },
            api::CheckInEntry {
                category: 99,
                ..person(&new_id(), "bad")
            },
        ];
        let fields = bad_fields(parse_entries(&entries));
        assert_eq!(
            fields,
            [
                "entries[0]",
                "entries[1].gender",
                "entries[2]",
                "entries[3].walk_in.key",
                "entries[3].category",
                "entries[3].gender",
                "entries[4].walk_in.count",
                "entries[5].gender",
                "entries[5].guest_invitation_id",
                "entries[6].category",
                "entries[6].person.organization_id",
            ]
        );
        assert!(parse_entries(&[]).is_err());
    }

    #[test]
    fn categories_default_from_the_organization_they_come_for() {
        use OrganizationKind as K;
        assert_eq!(default_category(None), ParticipantCategory::Individual);
        assert_eq!(
            default_category(Some(K::LocalAdministration)),
            ParticipantCategory::LocalAdministration
        );
        assert_eq!(
            default_category(Some(K::Ingo)),
            ParticipantCategory::InternationalOrganization
        );
        assert_eq!(default_category(Some(K::Donor)), ParticipantCategory::Donor);
        for k in [K::Cso, K::Initiative, K::Other] {
            assert_eq!(
                default_category(Some(k)),
                ParticipantCategory::LocalOrganizationMember
            );
        }
    }

    struct World {
        records: Records,
        nadia: String,
        omar: String,
        council: String,
        cso: String,
        guest: String,
        withdrawn_guest: String,
        org_invitation: String,
        person_invitation: String,
    }

    fn world() -> World {
        let (nadia, omar, council, cso) = (new_id(), new_id(), new_id(), new_id());
        let (guest, withdrawn_guest, org_invitation, person_invitation) =
            (new_id(), new_id(), new_id(), new_id());
        let mut r = Records::default();
        r.people.insert(
            nadia.clone(),
            PersonFacts {
                gender: Gender::Female,
                age_band: AgeBand::AgeBand2534,
            },
        );
        r.people.insert(
            omar.clone(),
            PersonFacts {
                gender: Gender::Male,
                age_band: AgeBand::AgeBand4554,
            },
        );
        r.organizations
            .insert(council.clone(), OrganizationKind::LocalAdministration);
        r.organizations.insert(cso.clone(), OrganizationKind::Cso);
        r.guests.insert(
            guest.clone(),
            GuestFacts {
                category: ParticipantCategory::Donor,
                gender: Gender::Male,
                withdrawn: false,
            },
        );
        r.guests.insert(
            withdrawn_guest.clone(),
            GuestFacts {
                category: ParticipantCategory::Donor,
                gender: Gender::Female,
                withdrawn: true,
            },
        );
        r.organization_invitations
            .insert(council.clone(), (org_invitation.clone(), None));
        r.person_invitations.insert(
            omar.clone(),
            PersonInvitation {
                invitation_id: person_invitation.clone(),
                organization_id: Some(cso.clone()),
                category: Some(ParticipantCategory::CivilSocietyLeader),
            },
        );
        World {
            records: r,
            nadia,
            omar,
            council,
            cso,
            guest,
            withdrawn_guest,
            org_invitation,
            person_invitation,
        }
    }

    #[test]
    fn resolution_takes_gender_from_the_records_and_the_invitation_it_came_by() {
        let w = world();
        let omar = w.omar.clone();
        let entries = parse_entries(&[
            person(&w.nadia, &w.council),
            person(&omar, ""),
            guest(&w.guest),
            walk_in(
                "w",
                3,
                ParticipantCategory::LocalOrganizationMember,
                Gender::Male,
            ),
        ])
        .unwrap();
        let got = resolve(&entries, &w.records).unwrap();
        // Nadia comes for the council: local administration by its kind,
        // by the council's invitation.
        assert_eq!(got[0].category, ParticipantCategory::LocalAdministration);
        assert_eq!(got[0].gender, Gender::Female);
        assert_eq!(got[0].age_band, AgeBand::AgeBand2534);
        assert_eq!(got[0].invitation_id.as_ref(), Some(&w.org_invitation));
        // Omar was invited for the CSO, as a civil-society leader.
        assert_eq!(got[1].organization_id.as_ref(), Some(&w.cso));
        assert_eq!(got[1].category, ParticipantCategory::CivilSocietyLeader);
        assert_eq!(got[1].invitation_id.as_ref(), Some(&w.person_invitation));
        // The guest counts as the invitation says.
        assert_eq!(got[2].category, ParticipantCategory::Donor);
        assert_eq!(got[2].gender, Gender::Male);
        assert_eq!(got[2].invitation_id.as_ref(), Some(&w.guest));
        assert_eq!(got[3].count, 3);
        assert_eq!(headcount(&got), 6);
        // Said explicitly, the category wins.
        let leader = api::CheckInEntry {
            category: ParticipantCategory::CivilSocietyLeader as i32,
            ..person(&w.nadia, "")
        };
        let got = resolve(&parse_entries(&[leader]).unwrap(), &w.records).unwrap();
        assert_eq!(got[0].category, ParticipantCategory::CivilSocietyLeader);
        assert_eq!(got[0].organization_id, None);
        assert_eq!(got[0].invitation_id, None);
    }

    #[test]
    fn unknown_records_refuse_the_whole_batch_naming_each() {
        let w = world();
        let entries = parse_entries(&[
            person(&w.nadia, ""),
            person(&new_id(), ""),
            guest(&w.withdrawn_guest),
            guest(&new_id()),
        ])
        .unwrap();
        let Err(Error::FailedPrecondition {
            kind, description, ..
        }) = resolve(&entries, &w.records)
        else {
            panic!()
        };
        assert_eq!(kind, "NOT_KNOWN");
        for i in 1..=3 {
            assert!(
                description.contains(&format!("entries[{i}]")),
                "{description}"
            );
        }
        assert!(!description.contains("entries[0]"));
        assert!(description.contains("withdrawn"));
        let unknown_org = parse_entries(&[person(&w.nadia, &new_id())]).unwrap();
        assert!(resolve(&unknown_org, &w.records).is_err());
    }

    #[test]
    fn resending_changes_nothing_and_other_values_correct() {
        let w = world();
        let entries = parse_entries(&[
            person(&w.nadia, &w.cso),
            walk_in("w", 2, ParticipantCategory::Individual, Gender::Female),
        ])
        .unwrap();
        let first = resolve(&entries, &w.records).unwrap();
        let merged = merge(&HashMap::new(), first.clone());
        assert!(merged.iter().all(|(_, e)| *e == Effect::Added));
        let current: HashMap<String, Attendance> =
            merged.into_iter().map(|(a, _)| (a.key.text(), a)).collect();

        let again = merge(&current, first.clone());
        assert!(again.iter().all(|(_, e)| *e == Effect::Unchanged));

        // Membership corrected Nadia's gender since: her check-in keeps the
        // one declared then, and a resend is no correction.
        let mut changed_record = w.records.clone();
        changed_record.people.insert(
            w.nadia.clone(),
            PersonFacts {
                gender: Gender::Undisclosed,
                age_band: AgeBand::Undisclosed,
            },
        );
        let resent = resolve(&entries, &changed_record).unwrap();
        let merged = merge(&current, resent);
        assert_eq!(merged[0].1, Effect::Unchanged);
        assert_eq!(merged[0].0.gender, Gender::Female);

        // A walk-in entry resent with another count corrects the first.
        let corrected = parse_entries(&[walk_in(
            "w",
            5,
            ParticipantCategory::Individual,
            Gender::Female,
        )])
        .unwrap();
        let merged = merge(&current, resolve(&corrected, &w.records).unwrap());
        assert_eq!(merged[0].1, Effect::Corrected);
        assert_eq!(merged[0].0.count, 5);
        // As does a person's category.
        let leader = api::CheckInEntry {
            category: ParticipantCategory::CivilSocietyLeader as i32,
            ..person(&w.nadia, &w.cso)
        };
        let merged = merge(
            &current,
            resolve(&parse_entries(&[leader]).unwrap(), &w.records).unwrap(),
        );
        assert_eq!(merged[0].1, Effect::Corrected);
    }
}
