//! Services the space gives organizations — internet, printing, legal
//! support, publications — recorded per organization so the center can show
//! what it provided. A record made in error is voided with a reason, never
//! deleted: figures already reported can be explained.

use std::collections::BTreeMap;

use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::resources::v1 as api;

pub use api::SpaceServiceKind;

use super::{NOTE_MAX, finish, parse_branch, parse_id};

pub const MAX_QUANTITY: i32 = 100_000;
/// Records are entered at most this many days after the fact.
pub const MAX_DAYS_BACK: i64 = 730;

/// The unit each kind is counted in: the table the API and the events share.
pub const UNITS: &[(SpaceServiceKind, &str)] = &[
    (SpaceServiceKind::Internet, "hours"),
    (SpaceServiceKind::Printing, "pages"),
    (SpaceServiceKind::LegalSupport, "sessions"),
    (SpaceServiceKind::Publications, "copies"),
    (SpaceServiceKind::Other, "units"),
];

pub fn unit_of(kind: SpaceServiceKind) -> &'static str {
    UNITS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, u)| *u)
        .unwrap_or("units")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFields {
    pub organization_id: String,
    pub branch_id: String,
    pub kind: SpaceServiceKind,
    pub quantity: i32,
    pub provided_on: Date,
    pub booking_id: String,
    pub notes: String,
}

pub fn parse_service(prefix: &str, s: &api::SpaceService, today: Date) -> Result<ServiceFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let mut v = Violations::new();
    let organization_id = v.take(parse_id(&f("organization_id"), &s.organization_id, true));
    let branch_id = v.take(parse_branch(&f("branch_id"), &s.branch_id));
    let kind = v
        .take(validate::enumeration::<SpaceServiceKind>(
            &f("kind"),
            s.kind,
            true,
        ))
        .flatten();
    if !(1..=MAX_QUANTITY).contains(&s.quantity) {
        v.add(f("quantity"), format!("from 1 to {MAX_QUANTITY}"));
    }
    let provided_on = v.take(Date::required(&f("provided_on"), s.provided_on.as_ref()));
    if let Some(d) = provided_on {
        if d > today {
            v.add(f("provided_on"), "not in the future");
        } else if today.days() - d.days() > MAX_DAYS_BACK {
            v.add(
                f("provided_on"),
                format!("at most {MAX_DAYS_BACK} days ago"),
            );
        }
    }
    let booking_id = v.take(parse_id(&f("booking_id"), &s.booking_id, false));
    let notes = v.take(validate::prose(&f("notes"), &s.notes, NOTE_MAX, false));
    finish(v, || {
        Some(ServiceFields {
            organization_id: organization_id?,
            branch_id: branch_id?,
            kind: kind?,
            quantity: s.quantity,
            provided_on: provided_on?,
            booking_id: booking_id?,
            notes: notes?,
        })
    })
}

/// Voiding needs a reason, and happens once.
pub fn check_void(already_voided: bool, reason: &str) -> Result<String> {
    let reason = validate::prose("reason", reason, NOTE_MAX, true)?;
    if already_voided {
        return Err(Error::precondition(
            "SERVICE_VOIDED",
            "service",
            "this record was voided already",
        ));
    }
    Ok(reason)
}

/// One record as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFact {
    pub organization_id: String,
    pub kind: SpaceServiceKind,
    pub quantity: i32,
    pub voided: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Total {
    pub quantity: i64,
    pub records: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceTotals {
    pub by_organization: BTreeMap<(String, i32), Total>,
    pub by_kind: BTreeMap<i32, Total>,
    pub organizations_served: usize,
}

/// Totals per organization and kind, per kind, and the organizations served;
/// voided records never count.
pub fn totals(facts: &[ServiceFact]) -> ServiceTotals {
    let mut out = ServiceTotals::default();
    for f in facts.iter().filter(|f| !f.voided) {
        let key = (f.organization_id.clone(), f.kind as i32);
        for total in [
            out.by_organization.entry(key).or_default(),
            out.by_kind.entry(f.kind as i32).or_default(),
        ] {
            total.quantity += i64::from(f.quantity);
            total.records += 1;
        }
    }
    let mut orgs: Vec<&str> = out
        .by_organization
        .keys()
        .map(|(o, _)| o.as_str())
        .collect();
    orgs.dedup();
    out.organizations_served = orgs.len();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2026, 5, 10).unwrap()
    }

    fn service() -> api::SpaceService {
        api::SpaceService {
            organization_id: "org-1".into(),
            branch_id: "raqqa".into(),
            kind: SpaceServiceKind::Printing as i32,
            quantity: 120,
            provided_on: Some(today().to_proto()),
            notes: "طباعة دليل التدريب".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_record_parses_with_its_unit() {
        let s = parse_service("service", &service(), today()).unwrap();
        assert_eq!(unit_of(s.kind), "pages");
        assert_eq!(s.notes, "طباعة دليل التدريب");
        for k in [
            SpaceServiceKind::Internet,
            SpaceServiceKind::Printing,
            SpaceServiceKind::LegalSupport,
            SpaceServiceKind::Publications,
            SpaceServiceKind::Other,
        ] {
            assert!(UNITS.iter().any(|(x, _)| *x == k), "{k:?}");
        }
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = api::SpaceService {
            organization_id: String::new(),
            branch_id: String::new(),
            kind: 0,
            quantity: 0,
            provided_on: Some(today().add_days(1).to_proto()),
            booking_id: "not an id!".into(),
            ..Default::default()
        };
        let Err(Error::InvalidArgument(v)) = parse_service("service", &bad, today()) else {
            panic!()
        };
        let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "service.organization_id",
                "service.branch_id",
                "service.kind",
                "service.quantity",
                "service.provided_on",
                "service.booking_id"
            ]
        );
        let old = api::SpaceService {
            provided_on: Some(today().add_days(-800).to_proto()),
            ..service()
        };
        assert!(parse_service("service", &old, today()).is_err());
    }

    #[test]
    fn voiding_needs_a_reason_and_happens_once() {
        assert!(check_void(false, "").is_err());
        assert_eq!(check_void(false, "أدخل مرتين").unwrap(), "أدخل مرتين");
        assert!(matches!(
            check_void(true, "again"),
            Err(Error::FailedPrecondition { .. })
        ));
    }

    #[test]
    fn totals_skip_voided_records() {
        let fact = |org: &str, kind, quantity, voided| ServiceFact {
            organization_id: org.into(),
            kind,
            quantity,
            voided,
        };
        let t = totals(&[
            fact("a", SpaceServiceKind::Printing, 100, false),
            fact("a", SpaceServiceKind::Printing, 50, false),
            fact("a", SpaceServiceKind::Internet, 3, false),
            fact("b", SpaceServiceKind::Printing, 999, true),
            fact("c", SpaceServiceKind::LegalSupport, 1, false),
        ]);
        let printing = SpaceServiceKind::Printing as i32;
        assert_eq!(
            t.by_organization[&("a".to_string(), printing)],
            Total {
                quantity: 150,
                records: 2
            }
        );
        assert_eq!(
            t.by_kind[&printing],
            Total {
                quantity: 150,
                records: 2
            }
        );
        assert_eq!(t.organizations_served, 2, "b's only record was voided");
    }
}
