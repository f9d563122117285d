//! Networking's rules, as plain functions over plain types: no I/O, no
//! database (`tests/domain_boundaries.rs` keeps it so).
//!
//! | file | what it decides |
//! |---|---|
//! | [`lifecycle`] | the one shape of every life cycle: moves as a table, each refusal with its reason |
//! | [`issues`] | the catalogue of issues |
//! | [`events`] | events: parsing, what a planned, held or cancelled event allows, when it may be held, the local day |
//! | [`outcomes`] | an event's minutes and decisions |
//! | [`invitations`] | invitations to organizations, people and outside guests, and their replies |
//! | [`attendance`] | check-in: entries parsed, resolved against the records, merged idempotently |
//! | [`commitments`] | follow-up commitments: owners, fulfilment with evidence, carrying into the next meeting, overdue |
//! | [`coalitions`] | coalitions and their status |
//! | [`membership`] | a member's active periods: joining, leaving, active on a day, days active |
//! | [`campaigns`] | campaigns, their targets, activities and outcomes |
//! | [`stakeholders`] | the stakeholder map, from attendance |
//! | [`figures`] | every figure of the reports, from rows |
//!
//! Requests are *parsed* into values that exist only when valid, with every
//! bad field reported at once.

pub mod attendance;
pub mod campaigns;
pub mod coalitions;
pub mod commitments;
pub mod events;
pub mod figures;
pub mod invitations;
pub mod issues;
pub mod lifecycle;
pub mod membership;
pub mod outcomes;
pub mod stakeholders;

use markaz_kit::error::{Error, FieldViolation, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::networking::v1 as api;

pub const NAME_MAX: usize = 200;
pub const SHORT_MAX: usize = 100;
pub const PROSE_MAX: usize = 4_000;
/// Minutes and charters run long.
pub const LONG_PROSE_MAX: usize = 20_000;
pub const BRANCH_MAX: usize = 40;
pub const CODE_MAX: usize = 60;
pub const URL_MAX: usize = 2_000;
pub const MAX_ISSUES: usize = 10;
pub const MAX_EVIDENCE: usize = 20;

/// The value a parser built, once `v` holds no violation. `build` returns
/// `None` only when a field failed to parse, and every such failure left a
/// violation in `v`; a `None` without one is a bug, answered as an internal
/// error rather than a panic.
pub fn finish<T>(v: Violations, build: impl FnOnce() -> Option<T>) -> Result<T> {
    v.finish()?;
    build().ok_or_else(|| Error::internal("a request parsed without a violation lacks a field"))
}

/// An optional reference to an object: `None` when empty, else a well-formed id.
pub fn optional_id(field: &str, value: &str) -> Result<Option<String>, FieldViolation> {
    if value.is_empty() {
        Ok(None)
    } else {
        markaz_kit::rpc::parse_id(field, value).map(Some)
    }
}

/// A required reference to an object.
pub fn required_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    markaz_kit::rpc::parse_id(field, value)
}

/// A list of object ids, each well formed and named once, at most `max`.
pub fn id_list(v: &mut Violations, field: &str, values: &[String], max: usize) -> Vec<String> {
    if values.len() > max {
        v.add(field, format!("at most {max}"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if let Some(id) = v.take(required_id(&f, value)) {
            if out.contains(&id) {
                v.add(f, "named twice");
            } else {
                out.push(id);
            }
        }
    }
    out
}

/// A branch id: the slug membership gave the branch; required or not.
pub fn branch(field: &str, value: &str, required: bool) -> Result<String, FieldViolation> {
    if value.is_empty() && !required {
        return Ok(String::new());
    }
    validate::slug(field, value, BRANCH_MAX)
}

/// An issue code of the catalogue (the catalogue itself is checked by the
/// store: known and not archived).
pub fn issue_code(field: &str, value: &str) -> Result<String, FieldViolation> {
    validate::slug(field, value, CODE_MAX)
}

/// Issue codes, each once, `min` to [`MAX_ISSUES`].
pub fn issue_codes(v: &mut Violations, field: &str, values: &[String], min: usize) -> Vec<String> {
    if values.len() < min {
        v.add(field, format!("at least {min}"));
    }
    if values.len() > MAX_ISSUES {
        v.add(field, format!("at most {MAX_ISSUES}"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if let Some(code) = v.take(issue_code(&f, value)) {
            if out.contains(&code) {
                v.add(f, format!("'{code}' appears twice"));
            } else {
                out.push(code);
            }
        }
    }
    out
}

/// A reason given for the record: a line of at most [`PROSE_MAX`] characters.
pub fn reason(field: &str, value: &str, required: bool) -> Result<String, FieldViolation> {
    validate::prose(field, value, PROSE_MAX, required)
}

/// A day given in a request that defaults to `today` and may not lie in
/// the future. People type their own local day, and east of UTC it begins
/// hours before UTC's: a day ahead of `today` is still today somewhere, as
/// membership's and capacity's dates allow too.
pub fn day_not_after(
    field: &str,
    value: Option<&markaz_proto::common::v1::Date>,
    today: Date,
) -> Result<Date, FieldViolation> {
    let day = Date::optional(field, value)?.unwrap_or(today);
    if day > today.add_days(1) {
        return Err(FieldViolation::new(
            field,
            format!("{day} is in the future (today is {today})"),
        ));
    }
    Ok(day)
}

/// A period of days, both ends included, either open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    pub from: Option<Date>,
    pub until: Option<Date>,
}

impl Period {
    pub fn contains(&self, day: Date) -> bool {
        self.from.is_none_or(|f| day >= f) && self.until.is_none_or(|u| day <= u)
    }

    /// The day statuses are taken on: the period's end, or `today` when the
    /// end is later or open.
    pub fn as_of(&self, today: Date) -> Date {
        self.until.map_or(today, |u| u.min(today))
    }
}

/// Parses a period filter: each end optional, the end not before the start.
pub fn parse_period(
    from: Option<&markaz_proto::common::v1::Date>,
    until: Option<&markaz_proto::common::v1::Date>,
) -> Result<Period> {
    let mut v = Violations::new();
    let from = v.take(Date::optional("from", from));
    let until = v.take(Date::optional("until", until));
    if let (Some(Some(f)), Some(Some(u))) = (from, until)
        && u < f
    {
        v.add("until", format!("before the start of the period, {f}"));
    }
    finish(v, || {
        Some(Period {
            from: from?,
            until: until?,
        })
    })
}

/// What shows that something happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceSpec {
    pub description: LocalizedText,
    pub url: String,
    pub library_item_id: Option<String>,
    pub event_id: Option<String>,
}

/// An http(s) address without spaces or control characters.
pub fn url(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let lower = value.to_ascii_lowercase();
    let scheme = lower.starts_with("https://") || lower.starts_with("http://");
    let host = value.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    let ok = scheme
        && !host.is_empty()
        && !host.starts_with('/')
        && value.chars().count() <= URL_MAX
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            format!("an http or https address of at most {URL_MAX} characters"),
        ))
    }
}

/// Evidence items, `min` to [`MAX_EVIDENCE`], each naming at least one of
/// a description, an address, a library item or an event.
pub fn parse_evidence(
    v: &mut Violations,
    field: &str,
    items: &[api::Evidence],
    min: usize,
) -> Vec<EvidenceSpec> {
    if items.len() < min {
        v.add(field, format!("at least {min}: what shows it"));
    }
    if items.len() > MAX_EVIDENCE {
        v.add(field, format!("at most {MAX_EVIDENCE}"));
    }
    let mut out = Vec::new();
    for (i, e) in items.iter().enumerate() {
        let f = |n: &str| format!("{field}[{i}].{n}");
        let description = v.take_many(validate::localized(
            &f("description"),
            e.description.as_ref(),
            PROSE_MAX,
            false,
        ));
        let url = v.take(url(&f("url"), &e.url));
        let library_item_id = v.take(optional_id(&f("library_item_id"), &e.library_item_id));
        let event_id = v.take(optional_id(&f("event_id"), &e.event_id));
        let (Some(description), Some(url), Some(library_item_id), Some(event_id)) =
            (description, url, library_item_id, event_id)
        else {
            continue;
        };
        let empty = description.ar.is_empty()
            && description.en.is_empty()
            && url.is_empty()
            && library_item_id.is_none()
            && event_id.is_none();
        if empty {
            v.add(
                format!("{field}[{i}]"),
                "a description, an address, a library item or an event",
            );
            continue;
        }
        out.push(EvidenceSpec {
            description,
            url,
            library_item_id,
            event_id,
        });
    }
    out
}

/// The words of an API enumeration's values: their protobuf name without
/// the enum's prefix (the `_UNSPECIFIED` value's), in lowercase —
/// `EVENT_KIND_DONOR_ROUND_TABLE` is `donor_round_table`. Events carry these
/// words; messages to people say them with spaces.
pub trait Word: Copy {
    fn word(self) -> String;

    /// The word as a sentence says it: `awaiting reply`.
    fn says(self) -> String {
        self.word().replace('_', " ")
    }
}

macro_rules! words {
    ($($t:ty),* $(,)?) => {
        $(impl Word for $t {
            fn word(self) -> String {
                let prefix = <$t>::Unspecified
                    .as_str_name()
                    .trim_end_matches("UNSPECIFIED");
                let name = self.as_str_name();
                name.strip_prefix(prefix).unwrap_or(name).to_ascii_lowercase()
            }
        })*
    };
}

words!(
    api::ParticipantCategory,
    api::EventKind,
    api::EventStatus,
    api::InvitationStatus,
    api::ParticipantKind,
    api::CommitmentStatus,
    api::OwnerKind,
    api::CommitmentChangeKind,
    api::CoalitionStatus,
    api::CampaignStatus,
    api::TargetKind,
    api::OutcomeKind,
);

/// The fields an INVALID_ARGUMENT names, in order; any other result fails
/// the test.
#[cfg(test)]
pub fn bad_fields<T: std::fmt::Debug>(result: Result<T>) -> Vec<String> {
    match result {
        Err(Error::InvalidArgument(v)) => v.into_iter().map(|f| f.field).collect(),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use markaz_proto::common::v1 as common;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn finishing_reports_every_violation_or_builds_the_value() {
        let mut v = Violations::new();
        v.add("a", "bad");
        v.add("b", "bad");
        let Err(Error::InvalidArgument(all)) = finish(v, || Some(1)) else {
            panic!("violations first")
        };
        assert_eq!(all.len(), 2);
        assert_eq!(finish(Violations::new(), || Some(7)).unwrap(), 7);
        assert!(matches!(
            finish::<i32>(Violations::new(), || None),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn id_lists_are_well_formed_and_name_each_once() {
        let a = markaz_kit::rpc::new_id();
        let b = markaz_kit::rpc::new_id();
        let mut v = Violations::new();
        let ids = id_list(
            &mut v,
            "ids",
            &[a.clone(), "nope".into(), a.clone(), b.clone()],
            3,
        );
        assert_eq!(ids, [a, b]);
        let fields = bad_fields(v.finish());
        assert_eq!(fields, ["ids", "ids[1]", "ids[2]"]);
    }

    #[test]
    fn issue_codes_are_slugs_named_once_within_bounds() {
        let mut v = Violations::new();
        assert_eq!(
            issue_codes(&mut v, "c", &["early-marriage".into()], 1),
            ["early-marriage"]
        );
        assert!(v.is_empty());
        issue_codes(&mut v, "c", &[], 1);
        issue_codes(&mut v, "c", &["x".into(), "x".into(), "Bad".into()], 0);
        let many: Vec<String> = (0..11).map(|i| format!("i{i}")).collect();
        issue_codes(&mut v, "c", &many, 0);
        let fields = bad_fields(v.finish());
        assert_eq!(fields, ["c", "c[1]", "c[2]", "c"]);
    }

    #[test]
    fn periods_include_both_ends_and_take_statuses_on_the_last_day_known() {
        let p = parse_period(
            Some(&d("2026-01-01").to_proto()),
            Some(&d("2026-03-31").to_proto()),
        )
        .unwrap();
        assert!(p.contains(d("2026-01-01")) && p.contains(d("2026-03-31")));
        assert!(!p.contains(d("2025-12-31")) && !p.contains(d("2026-04-01")));
        assert_eq!(p.as_of(d("2026-06-01")), d("2026-03-31"));
        assert_eq!(p.as_of(d("2026-02-01")), d("2026-02-01"));
        let open = parse_period(None, None).unwrap();
        assert!(open.contains(d("1990-01-01")));
        assert_eq!(open.as_of(d("2026-02-01")), d("2026-02-01"));
        let zero = common::Date::default();
        assert_eq!(parse_period(Some(&zero), None).unwrap(), Period::default());
        let errs = bad_fields(parse_period(
            Some(&d("2026-03-01").to_proto()),
            Some(&d("2026-02-01").to_proto()),
        ));
        assert_eq!(errs[0], "until");
        let bad = common::Date {
            year: 2026,
            month: 2,
            day: 30,
        };
        assert!(parse_period(Some(&bad), Some(&bad)).is_err());
    }

    #[test]
    fn days_default_to_today_and_never_lie_ahead() {
        let today = d("2026-05-10");
        assert_eq!(day_not_after("on", None, today).unwrap(), today);
        assert_eq!(
            day_not_after("on", Some(&d("2026-05-01").to_proto()), today).unwrap(),
            d("2026-05-01")
        );
        // Already the 11th east of UTC.
        assert!(day_not_after("on", Some(&d("2026-05-11").to_proto()), today).is_ok());
        assert!(day_not_after("on", Some(&d("2026-05-12").to_proto()), today).is_err());
    }

    #[test]
    fn evidence_names_something_and_addresses_are_web_addresses() {
        let mut v = Violations::new();
        let items = [
            api::Evidence {
                url: "https://example.org/minutes.pdf".into(),
                ..Default::default()
            },
            api::Evidence {
                description: Some(LocalizedText {
                    ar: "محضر الاجتماع موقّع".into(),
                    en: String::new(),
                }),
                ..Default::default()
            },
        ];
        let parsed = parse_evidence(&mut v, "evidence", &items, 1);
        assert!(v.is_empty());
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].description.ar, "محضر الاجتماع موقّع");

        let mut v = Violations::new();
        let bad = [
            api::Evidence::default(),
            api::Evidence {
                url: "javascript:alert(1)".into(),
                library_item_id: "x".into(),
                ..Default::default()
            },
            api::Evidence {
                url: "https:///nohost".into(),
                ..Default::default()
            },
        ];
        assert!(parse_evidence(&mut v, "evidence", &bad, 1).is_empty());
        let fields = bad_fields(v.finish());
        assert_eq!(
            fields,
            [
                "evidence[0]",
                "evidence[1].url",
                "evidence[1].library_item_id",
                "evidence[2].url"
            ]
        );
        let mut v = Violations::new();
        parse_evidence(&mut v, "evidence", &[], 1);
        assert!(!v.is_empty());
        let mut v = Violations::new();
        parse_evidence(&mut v, "evidence", &[], 0);
        assert!(v.is_empty());
    }

    #[test]
    fn words_drop_the_enum_prefix() {
        assert_eq!(api::EventKind::DonorRoundTable.word(), "donor_round_table");
        assert_eq!(
            api::ParticipantCategory::LocalAdministration.word(),
            "local_administration"
        );
        assert_eq!(api::CommitmentStatus::Done.word(), "done");
        assert_eq!(api::OutcomeKind::PledgeObtained.word(), "pledge_obtained");
        assert_eq!(api::TargetKind::Community.word(), "community");
        assert_eq!(
            api::InvitationStatus::AwaitingReply.says(),
            "awaiting reply"
        );
        assert_eq!(api::CoalitionStatus::Unspecified.word(), "unspecified");
    }
}
