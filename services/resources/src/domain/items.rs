//! Library items: what a create or update may say, who may read an item
//! (its visibility), what its search columns hold, and usage months.

use markaz_kit::auth::Role;
use markaz_kit::error::{FieldViolation, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::resources::v1 as api;

pub use api::{ItemKind, ItemState, Licence, SourceKind, Visibility};

use super::search::normalize;
use super::{finish, parse_id};

pub const TITLE_MAX: usize = 300;
pub const SUMMARY_MAX: usize = 4_000;
pub const AUTHOR_MAX: usize = 200;
pub const MAX_AUTHORS: usize = 30;
pub const MAX_TOPICS: usize = 10;
pub const SOURCE_NAME_MAX: usize = 200;
pub const LICENCE_NOTE_MAX: usize = 500;
pub const URL_MAX: usize = 2_000;
/// The oldest publication year a library of this kind plausibly holds.
pub const FIRST_YEAR: i32 = 1800;

/// A publication date as libraries record it: the year, maybe the month,
/// maybe the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublicationDate {
    pub year: i32,
    pub month: Option<u32>,
    pub day: Option<u32>,
}

impl PublicationDate {
    /// Stored as `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, which sort as dates.
    pub fn stored(&self) -> String {
        match (self.month, self.day) {
            (Some(m), Some(d)) => format!("{:04}-{m:02}-{d:02}", self.year),
            (Some(m), None) => format!("{:04}-{m:02}", self.year),
            _ => format!("{:04}", self.year),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFields {
    pub kind: SourceKind,
    pub organization_id: String,
    pub name: String,
}

/// The fields of an item people may set, once valid.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemFields {
    pub kind: ItemKind,
    pub title: LocalizedText,
    pub summary: LocalizedText,
    pub authors: Vec<String>,
    pub topic_codes: Vec<String>,
    pub language: String,
    pub source: SourceFields,
    pub publication: Option<PublicationDate>,
    pub licence: Licence,
    pub licence_note: String,
    pub visibility: Visibility,
    pub external_url: String,
}

/// Parses an item. `contributor` is the partner organization of a partner
/// caller: its item is a contribution whose source is that organization
/// (an empty source becomes it; another organization is refused).
pub fn parse_item(
    prefix: &str,
    item: &api::Item,
    contributor: Option<&str>,
    today: Date,
) -> Result<ItemFields> {
    let f = |name: &str| format!("{prefix}.{name}");
    let mut v = Violations::new();
    let kind = v
        .take(validate::enumeration::<ItemKind>(
            &f("kind"),
            item.kind,
            true,
        ))
        .flatten();
    let title = v.take_many(validate::localized(
        &f("title"),
        item.title.as_ref(),
        TITLE_MAX,
        true,
    ));
    let summary = v.take_many(validate::localized(
        &f("summary"),
        item.summary.as_ref(),
        SUMMARY_MAX,
        false,
    ));
    let authors = v.take_many(parse_authors(&f("authors"), &item.authors));
    let topic_codes = v.take_many(parse_topics(&f("topic_codes"), &item.topic_codes));
    let language = v.take(parse_language(&f("language"), &item.language));
    let source = v.take_many(parse_source(
        &f("source"),
        item.source.as_ref(),
        contributor,
    ));
    let publication = v.take(parse_publication(
        &f("publication_date"),
        item.publication_date.as_ref(),
        today,
    ));
    let licence = v
        .take(validate::enumeration::<Licence>(
            &f("licence"),
            item.licence,
            false,
        ))
        .map(|l| l.unwrap_or(Licence::AllRightsReserved));
    let licence_note = v.take(validate::prose(
        &f("licence_note"),
        &item.licence_note,
        LICENCE_NOTE_MAX,
        false,
    ));
    if licence == Some(Licence::Other) && licence_note.as_deref().is_some_and(str::is_empty) {
        v.add(f("licence_note"), "required with LICENCE_OTHER: the terms");
    }
    let visibility = v
        .take(validate::enumeration::<Visibility>(
            &f("visibility"),
            item.visibility,
            true,
        ))
        .flatten();
    let external_url = v.take(parse_url(&f("external_url"), &item.external_url));
    finish(v, || {
        Some(ItemFields {
            kind: kind?,
            title: title?,
            summary: summary?,
            authors: authors?,
            topic_codes: topic_codes?,
            language: language?,
            source: source?,
            publication: publication?,
            licence: licence?,
            licence_note: licence_note?,
            visibility: visibility?,
            external_url: external_url?,
        })
    })
}

fn parse_authors(field: &str, authors: &[String]) -> Result<Vec<String>, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    if authors.len() > MAX_AUTHORS {
        errors.push(FieldViolation::new(field, format!("at most {MAX_AUTHORS}")));
    }
    let mut out = Vec::new();
    for (i, a) in authors.iter().enumerate() {
        match validate::line(&format!("{field}[{i}]"), a, AUTHOR_MAX, true) {
            Ok(a) => out.push(a),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Topic codes: slugs, distinct, at most [`MAX_TOPICS`].
pub fn parse_topics(field: &str, codes: &[String]) -> Result<Vec<String>, Vec<FieldViolation>> {
    let mut errors = Vec::new();
    if codes.len() > MAX_TOPICS {
        errors.push(FieldViolation::new(field, format!("at most {MAX_TOPICS}")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, c) in codes.iter().enumerate() {
        let name = format!("{field}[{i}]");
        match validate::slug(&name, c, super::CODE_MAX) {
            Ok(c) if out.contains(&c) => errors.push(FieldViolation::new(name, "named twice")),
            Ok(c) => out.push(c),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A BCP-47 primary language subtag: two or three lowercase letters ("ar",
/// "en", "ku", "ckb"), or "mul" (several) / "und" (undetermined).
pub fn parse_language(field: &str, value: &str) -> Result<String, FieldViolation> {
    let ok = (2..=3).contains(&value.len()) && value.chars().all(|c| c.is_ascii_lowercase());
    if value.is_empty() {
        Err(FieldViolation::new(
            field,
            "required: \"ar\", \"en\", ... or \"mul\"",
        ))
    } else if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            "a language tag of two or three lowercase letters (\"ar\", \"en\", \"ku\", \"mul\")",
        ))
    }
}

fn parse_source(
    field: &str,
    source: Option<&api::Source>,
    contributor: Option<&str>,
) -> Result<SourceFields, Vec<FieldViolation>> {
    let empty = api::Source::default();
    let source = source.unwrap_or(&empty);
    let mut errors = Vec::new();
    let f = |name: &str| format!("{field}.{name}");
    let kind =
        match validate::enumeration::<SourceKind>(&f("kind"), source.kind, contributor.is_none()) {
            Ok(kind) => kind.unwrap_or(SourceKind::Partner),
            Err(e) => {
                errors.push(e);
                SourceKind::Unspecified
            }
        };
    let organization_id = parse_id(&f("organization_id"), &source.organization_id, false)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let name = validate::line(&f("name"), &source.name, SOURCE_NAME_MAX, false)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let organization_id = match contributor {
        Some(own) => {
            if kind != SourceKind::Partner && kind != SourceKind::Unspecified {
                errors.push(FieldViolation::new(
                    f("kind"),
                    "a partner's contribution has the partner as its source",
                ));
            }
            if !organization_id.is_empty() && organization_id != own {
                errors.push(FieldViolation::new(
                    f("organization_id"),
                    "a partner contributes for its own organization only",
                ));
            }
            own.to_string()
        }
        None => organization_id,
    };
    match kind {
        SourceKind::Partner | SourceKind::Donor
            if organization_id.is_empty() && name.is_empty() =>
        {
            errors.push(FieldViolation::new(
                field,
                "a donor or partner source names its organization or its name",
            ))
        }
        SourceKind::External if name.is_empty() => errors.push(FieldViolation::new(
            f("name"),
            "required for an external source",
        )),
        _ => {}
    }
    if errors.is_empty() {
        Ok(SourceFields {
            kind,
            organization_id,
            name,
        })
    } else {
        Err(errors)
    }
}

/// Year alone, year and month, or a full date; not after `today`'s year + 1
/// (forthcoming editions are announced a little ahead).
pub fn parse_publication(
    field: &str,
    date: Option<&markaz_proto::common::v1::Date>,
    today: Date,
) -> Result<Option<PublicationDate>, FieldViolation> {
    let Some(d) = date else { return Ok(None) };
    if d.year == 0 && d.month == 0 && d.day == 0 {
        return Ok(None);
    }
    let latest = today.to_proto().year + 1;
    if !(FIRST_YEAR..=latest).contains(&d.year) {
        return Err(FieldViolation::new(
            field,
            format!("the year must be from {FIRST_YEAR} to {latest}"),
        ));
    }
    match (d.month, d.day) {
        (0, 0) => Ok(Some(PublicationDate {
            year: d.year,
            month: None,
            day: None,
        })),
        (m @ 1..=12, 0) => Ok(Some(PublicationDate {
            year: d.year,
            month: Some(m as u32),
            day: None,
        })),
        (0, _) => Err(FieldViolation::new(field, "a day needs its month")),
        _ => Date::from_proto(field, d).map(|_| {
            Some(PublicationDate {
                year: d.year,
                month: Some(d.month as u32),
                day: Some(d.day as u32),
            })
        }),
    }
}

/// A link to the item elsewhere: https only, no spaces or controls.
pub fn parse_url(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let host = value.strip_prefix("https://").unwrap_or("");
    let ok = value.len() <= URL_MAX
        && !host.is_empty()
        && !host.starts_with('/')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            format!("an https:// address of at most {URL_MAX} characters"),
        ))
    }
}

// ------------------------------------------------------------ update mask

pub const ITEM_MASK: &[&str] = &[
    "kind",
    "title",
    "summary",
    "authors",
    "topic_codes",
    "language",
    "source",
    "publication_date",
    "licence",
    "licence_note",
    "visibility",
    "external_url",
];

/// What staff may still change on a published item: its presentation and
/// visibility. What it *is* (kind, language, source, date, link) is fixed
/// once readers rely on it; a wrong one is withdrawn and replaced.
pub const PUBLISHED_MASK: &[&str] = &[
    "title",
    "summary",
    "authors",
    "topic_codes",
    "licence",
    "licence_note",
    "visibility",
];

/// Copies the masked fields of `from` onto `onto`.
pub fn merge_item(onto: &mut api::Item, from: &api::Item, mask: &[&str]) {
    for path in mask {
        match *path {
            "kind" => onto.kind = from.kind,
            "title" => onto.title = from.title.clone(),
            "summary" => onto.summary = from.summary.clone(),
            "authors" => onto.authors = from.authors.clone(),
            "topic_codes" => onto.topic_codes = from.topic_codes.clone(),
            "language" => onto.language = from.language.clone(),
            "source" => onto.source = from.source.clone(),
            "publication_date" => onto.publication_date = from.publication_date,
            "licence" => onto.licence = from.licence,
            "licence_note" => onto.licence_note = from.licence_note.clone(),
            "visibility" => onto.visibility = from.visibility,
            "external_url" => onto.external_url = from.external_url.clone(),
            _ => {}
        }
    }
}

/// The masked paths a published item refuses, each a violation.
pub fn check_published_mask(mask: &[&str]) -> Result<()> {
    let mut v = Violations::new();
    for path in mask {
        if !PUBLISHED_MASK.contains(path) {
            v.add(
                format!("update_mask.{path}"),
                "fixed once the item is published (withdraw it and publish a corrected one)",
            );
        }
    }
    v.finish()
}

// ------------------------------------------------------------- visibility

/// How a reader stands to an item's tenant, from the widest audience to the
/// narrowest. A visibility admits a class and every narrower one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReaderClass {
    /// No account.
    Public,
    /// An account of another tenant of the deployment.
    Consortium,
    /// An account of the item's tenant with none of the roles below
    /// (donor, reviewer).
    Tenant,
    /// The tenant's trainers and its partner organizations' members.
    Partner,
    /// The tenant's admins and staff.
    Staff,
}

/// The narrowest class each visibility still admits: the table every read
/// path (get, list, search, download) and the store's filters follow.
pub const VISIBILITY_AUDIENCE: &[(Visibility, ReaderClass)] = &[
    (Visibility::Public, ReaderClass::Public),
    (Visibility::Consortium, ReaderClass::Consortium),
    (Visibility::Tenant, ReaderClass::Tenant),
    (Visibility::Partners, ReaderClass::Partner),
    (Visibility::StaffOnly, ReaderClass::Staff),
];

/// Who is reading: nobody (public), or an account of a tenant with roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// `None` for the public.
    pub tenant: Option<String>,
    pub roles: Vec<Role>,
    /// A partner's organization.
    pub organization: Option<String>,
}

impl Reader {
    pub fn public() -> Reader {
        Reader {
            tenant: None,
            roles: Vec::new(),
            organization: None,
        }
    }

    /// The reader's class towards items of `item_tenant`.
    pub fn class_for(&self, item_tenant: &str) -> ReaderClass {
        match &self.tenant {
            None => ReaderClass::Public,
            Some(t) if t != item_tenant => ReaderClass::Consortium,
            Some(_)
                if self
                    .roles
                    .iter()
                    .any(|r| matches!(r, Role::Admin | Role::Staff)) =>
            {
                ReaderClass::Staff
            }
            Some(_)
                if self
                    .roles
                    .iter()
                    .any(|r| matches!(r, Role::Trainer | Role::Partner)) =>
            {
                ReaderClass::Partner
            }
            Some(_) => ReaderClass::Tenant,
        }
    }
}

/// The visibilities a class may read (for the store's `IN (...)` filter).
pub fn readable_visibilities(class: ReaderClass) -> Vec<Visibility> {
    VISIBILITY_AUDIENCE
        .iter()
        .filter(|(_, narrowest)| class >= *narrowest)
        .map(|(v, _)| *v)
        .collect()
}

/// What decides whether an item may be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAccess {
    pub tenant: String,
    pub visibility: Visibility,
    pub state: ItemState,
    /// The contributing partner organization, for a contribution.
    pub contributor: Option<String>,
}

/// Whether `reader` may read the item: its staff always; the contributing
/// partner its own contribution in every state; everyone else a published
/// item whose visibility admits them.
pub fn may_read(reader: &Reader, item: &ItemAccess) -> bool {
    let class = reader.class_for(&item.tenant);
    if class == ReaderClass::Staff {
        return true;
    }
    let own_contribution = class >= ReaderClass::Tenant
        && reader.roles.contains(&Role::Partner)
        && item.contributor.is_some()
        && item.contributor == reader.organization;
    if own_contribution {
        return true;
    }
    item.state == ItemState::Published && readable_visibilities(class).contains(&item.visibility)
}

/// Whether `reader` may change the item's fields: staff, or the
/// contributing partner while the contribution is a draft or sent back.
pub fn may_edit(reader: &Reader, item: &ItemAccess) -> bool {
    let class = reader.class_for(&item.tenant);
    if class == ReaderClass::Staff {
        return true;
    }
    class == ReaderClass::Partner
        && reader.roles.contains(&Role::Partner)
        && item.contributor.is_some()
        && item.contributor == reader.organization
        && matches!(item.state, ItemState::Draft | ItemState::ChangesRequested)
}

// ---------------------------------------------------------- search columns

/// The normalized search columns of an item (see [`super::search`]): one per
/// ranked field, and `all` for the full-text index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchColumns {
    pub title: String,
    pub authors: String,
    pub topics: String,
    pub summary: String,
    pub all: String,
}

pub fn search_columns(item: &ItemFields) -> SearchColumns {
    search_columns_of(&item.title, &item.authors, &item.topic_codes, &item.summary)
}

/// [`search_columns`] of an item's texts as stored (rebuilt after an
/// erasure scrubbed them).
pub fn search_columns_of(
    title: &LocalizedText,
    authors: &[String],
    topic_codes: &[String],
    summary: &LocalizedText,
) -> SearchColumns {
    let both = |t: &LocalizedText| format!("{} {}", t.ar, t.en);
    let title = normalize(&both(title));
    let authors = normalize(&authors.join(" "));
    let topics = normalize(&topic_codes.join(" "));
    let summary = normalize(&both(summary));
    let all = [&title, &authors, &topics, &summary]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    SearchColumns {
        title,
        authors,
        topics,
        summary,
        all,
    }
}

// ------------------------------------------------------------------ usage

/// A calendar month (UTC), the unit of usage figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

/// At most this many months in one usage answer.
pub const MAX_USAGE_MONTHS: usize = 36;

impl Month {
    pub fn of_micros(micros: i64) -> Month {
        let d = Date::from_days(micros.div_euclid(86_400_000_000)).to_proto();
        Month {
            year: d.year,
            month: d.month as u32,
        }
    }

    /// `YYYY-MM`, as stored and as events carry it.
    pub fn stored(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    fn back(self, n: u32) -> Month {
        let index = self.year * 12 + self.month as i32 - 1 - n as i32;
        Month {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    pub fn to_proto(self) -> api::YearMonth {
        api::YearMonth {
            year: self.year,
            month: self.month as i32,
        }
    }
}

fn parse_month(field: &str, m: Option<&api::YearMonth>) -> Result<Option<Month>, FieldViolation> {
    match m {
        None => Ok(None),
        Some(m) if m.year == 0 && m.month == 0 => Ok(None),
        Some(m) if (2000..=2200).contains(&m.year) && (1..=12).contains(&m.month) => {
            Ok(Some(Month {
                year: m.year,
                month: m.month as u32,
            }))
        }
        Some(_) => Err(FieldViolation::new(
            field,
            "a year from 2000 and a month 1 to 12",
        )),
    }
}

/// A usage period: both ends included, default the twelve months up to
/// `now`'s, at most [`MAX_USAGE_MONTHS`]. Returns every month in order.
pub fn parse_usage_period(
    from: Option<&api::YearMonth>,
    until: Option<&api::YearMonth>,
    now: i64,
) -> Result<Vec<Month>> {
    let mut v = Violations::new();
    let from = v.take(parse_month("from", from)).flatten();
    let until = v.take(parse_month("until", until)).flatten();
    v.finish()?;
    let until = until.unwrap_or_else(|| Month::of_micros(now));
    let from = from.unwrap_or_else(|| until.back(11));
    if from > until {
        return Err(markaz_kit::Error::invalid("from", "after until"));
    }
    let mut months = vec![from];
    while *months.last().unwrap_or(&until) < until {
        if months.len() == MAX_USAGE_MONTHS {
            return Err(markaz_kit::Error::invalid(
                "until",
                format!("at most {MAX_USAGE_MONTHS} months at once"),
            ));
        }
        let next = months[months.len() - 1].next();
        months.push(next);
    }
    Ok(months)
}

#[cfg(test)]
mod tests {
    use super::*;
    use markaz_kit::Error;

    fn today() -> Date {
        Date::new(2026, 5, 10).unwrap()
    }

    fn item() -> api::Item {
        api::Item {
            kind: ItemKind::Study as i32,
            title: Some(LocalizedText {
                ar: "دليل المناصرة".into(),
                en: "Advocacy guide".into(),
            }),
            authors: vec!["مركز دعم المجتمع المدني".into()],
            topic_codes: vec!["mobilisation-advocacy".into()],
            language: "ar".into(),
            source: Some(api::Source {
                kind: SourceKind::Center as i32,
                ..Default::default()
            }),
            publication_date: Some(markaz_proto::common::v1::Date {
                year: 2019,
                month: 3,
                day: 0,
            }),
            visibility: Visibility::Public as i32,
            ..Default::default()
        }
    }

    fn fields_of(err: Error) -> Vec<String> {
        match err {
            Error::InvalidArgument(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_good_item_parses_and_keeps_arabic_byte_for_byte() {
        let parsed = parse_item("item", &item(), None, today()).unwrap();
        assert_eq!(parsed.title.ar.as_bytes(), "دليل المناصرة".as_bytes());
        assert_eq!(parsed.licence, Licence::AllRightsReserved);
        assert_eq!(parsed.publication.unwrap().stored(), "2019-03");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = api::Item {
            kind: 99,
            title: None,
            authors: vec!["".into()],
            topic_codes: vec!["Bad Code".into(), "a".into(), "a".into()],
            language: "Arabic".into(),
            source: Some(api::Source {
                kind: SourceKind::External as i32,
                ..Default::default()
            }),
            publication_date: Some(markaz_proto::common::v1::Date {
                year: 2030,
                month: 0,
                day: 0,
            }),
            licence: Licence::Other as i32,
            visibility: 0,
            external_url: "http://insecure.example".into(),
            ..Default::default()
        };
        let fields = fields_of(parse_item("item", &bad, None, today()).unwrap_err());
        for f in [
            "item.kind",
            "item.title",
            "item.authors[0]",
            "item.topic_codes[0]",
            "item.topic_codes[2]",
            "item.language",
            "item.source.name",
            "item.publication_date",
            "item.licence_note",
            "item.visibility",
            "item.external_url",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
        assert_eq!(fields.len(), 11, "{fields:?}");
    }

    #[test]
    fn a_partner_contributes_for_its_own_organization_only() {
        let mut mine = item();
        mine.source = None;
        let parsed = parse_item("item", &mine, Some("org-1"), today()).unwrap();
        assert_eq!(parsed.source.kind, SourceKind::Partner);
        assert_eq!(parsed.source.organization_id, "org-1");

        let mut theirs = item();
        theirs.source = Some(api::Source {
            kind: SourceKind::Donor as i32,
            organization_id: "org-2".into(),
            name: String::new(),
        });
        let fields = fields_of(parse_item("item", &theirs, Some("org-1"), today()).unwrap_err());
        assert_eq!(fields, ["item.source.kind", "item.source.organization_id"]);
    }

    #[test]
    fn sources_name_who_they_are() {
        let mut donor = item();
        donor.source = Some(api::Source {
            kind: SourceKind::Donor as i32,
            ..Default::default()
        });
        assert_eq!(
            fields_of(parse_item("item", &donor, None, today()).unwrap_err()),
            ["item.source"]
        );
    }

    #[test]
    fn publication_dates_are_partial_or_full() {
        let d = |y, m, dd| {
            Some(markaz_proto::common::v1::Date {
                year: y,
                month: m,
                day: dd,
            })
        };
        assert_eq!(
            parse_publication("d", d(0, 0, 0).as_ref(), today()),
            Ok(None)
        );
        assert!(parse_publication("d", d(2019, 0, 0).as_ref(), today()).is_ok());
        assert!(parse_publication("d", d(2027, 1, 1).as_ref(), today()).is_ok());
        assert!(parse_publication("d", d(2028, 1, 1).as_ref(), today()).is_err());
        assert!(parse_publication("d", d(1799, 0, 0).as_ref(), today()).is_err());
        assert!(parse_publication("d", d(2019, 0, 5).as_ref(), today()).is_err());
        assert!(parse_publication("d", d(2019, 2, 30).as_ref(), today()).is_err());
        assert!(parse_publication("d", d(2019, 13, 0).as_ref(), today()).is_err());
        assert_eq!(
            parse_publication("d", d(2019, 2, 3).as_ref(), today())
                .unwrap()
                .unwrap()
                .stored(),
            "2019-02-03"
        );
    }

    #[test]
    fn urls_and_languages() {
        assert!(parse_url("u", "https://undp.org/syria").is_ok());
        assert!(parse_url("u", "https:///x").is_err());
        assert!(parse_url("u", "javascript:alert(1)").is_err());
        assert!(parse_url("u", "https://a b").is_err());
        assert!(parse_language("l", "ckb").is_ok());
        assert!(parse_language("l", "").is_err());
        assert!(parse_language("l", "AR").is_err());
    }

    #[test]
    fn a_published_item_changes_only_its_presentation() {
        assert!(check_published_mask(&["title", "visibility"]).is_ok());
        let fields = fields_of(check_published_mask(&["title", "kind", "source"]).unwrap_err());
        assert_eq!(fields, ["update_mask.kind", "update_mask.source"]);
        let mut onto = item();
        let from = api::Item {
            title: Some(LocalizedText {
                ar: "عنوان".into(),
                en: String::new(),
            }),
            kind: ItemKind::Video as i32,
            ..Default::default()
        };
        merge_item(&mut onto, &from, &["title"]);
        assert_eq!(onto.title.as_ref().unwrap().ar, "عنوان");
        assert_eq!(onto.kind, ItemKind::Study as i32);
        assert!(PUBLISHED_MASK.iter().all(|p| ITEM_MASK.contains(p)));
    }

    fn reader(tenant: Option<&str>, roles: &[Role], org: Option<&str>) -> Reader {
        Reader {
            tenant: tenant.map(str::to_string),
            roles: roles.to_vec(),
            organization: org.map(str::to_string),
        }
    }

    /// The visibility matrix as the proto states it, written out: who reads
    /// a published item of tenant "raqqa" at each level.
    #[test]
    fn every_read_follows_the_visibility_table() {
        let readers = [
            ("public", reader(None, &[], None)),
            (
                "other tenant staff",
                reader(Some("dez"), &[Role::Staff], None),
            ),
            ("donor", reader(Some("raqqa"), &[Role::Donor], None)),
            ("reviewer", reader(Some("raqqa"), &[Role::Reviewer], None)),
            ("trainer", reader(Some("raqqa"), &[Role::Trainer], None)),
            (
                "partner",
                reader(Some("raqqa"), &[Role::Partner], Some("org-9")),
            ),
            ("staff", reader(Some("raqqa"), &[Role::Staff], None)),
            ("admin", reader(Some("raqqa"), &[Role::Admin], None)),
        ];
        let expected: &[(Visibility, &[&str])] = &[
            (
                Visibility::Public,
                &[
                    "public",
                    "other tenant staff",
                    "donor",
                    "reviewer",
                    "trainer",
                    "partner",
                    "staff",
                    "admin",
                ],
            ),
            (
                Visibility::Consortium,
                &[
                    "other tenant staff",
                    "donor",
                    "reviewer",
                    "trainer",
                    "partner",
                    "staff",
                    "admin",
                ],
            ),
            (
                Visibility::Tenant,
                &["donor", "reviewer", "trainer", "partner", "staff", "admin"],
            ),
            (
                Visibility::Partners,
                &["trainer", "partner", "staff", "admin"],
            ),
            (Visibility::StaffOnly, &["staff", "admin"]),
        ];
        for (visibility, allowed) in expected {
            for (name, r) in &readers {
                let access = ItemAccess {
                    tenant: "raqqa".into(),
                    visibility: *visibility,
                    state: ItemState::Published,
                    contributor: None,
                };
                assert_eq!(
                    may_read(r, &access),
                    allowed.contains(name),
                    "{name} reading {visibility:?}"
                );
                let class = r.class_for("raqqa");
                assert_eq!(
                    readable_visibilities(class).contains(visibility),
                    allowed.contains(name),
                    "{name}'s store filter for {visibility:?}"
                );
            }
        }
    }

    #[test]
    fn unpublished_items_are_seen_by_staff_and_their_contributor_only() {
        let partner = reader(Some("raqqa"), &[Role::Partner], Some("org-1"));
        let other_partner = reader(Some("raqqa"), &[Role::Partner], Some("org-2"));
        let staff = reader(Some("raqqa"), &[Role::Staff], None);
        let other_staff = reader(Some("dez"), &[Role::Staff], None);
        for state in [
            ItemState::Draft,
            ItemState::Submitted,
            ItemState::ChangesRequested,
            ItemState::Rejected,
            ItemState::Withdrawn,
        ] {
            let access = ItemAccess {
                tenant: "raqqa".into(),
                visibility: Visibility::Public,
                state,
                contributor: Some("org-1".into()),
            };
            assert!(may_read(&staff, &access));
            assert!(may_read(&partner, &access));
            assert!(!may_read(&other_partner, &access), "{state:?}");
            assert!(!may_read(&other_staff, &access), "{state:?}");
            assert!(!may_read(&Reader::public(), &access), "{state:?}");
            assert_eq!(
                may_edit(&partner, &access),
                matches!(state, ItemState::Draft | ItemState::ChangesRequested)
            );
            assert!(!may_edit(&other_partner, &access));
            assert!(may_edit(&staff, &access));
        }
    }

    #[test]
    fn search_columns_hold_normalized_tokens_of_both_languages() {
        let parsed = parse_item("item", &item(), None, today()).unwrap();
        let cols = search_columns(&parsed);
        assert_eq!(cols.title, normalize("دليل المناصرة Advocacy guide"));
        assert_eq!(cols.topics, normalize("mobilisation advocacy"));
        assert!(cols.all.starts_with(&cols.title));
        assert!(!cols.all.contains("  "));
    }

    #[test]
    fn usage_periods_default_to_a_year_and_are_bounded() {
        let now = 1_778_400_000_000_000; // 2026-05-10
        let months = parse_usage_period(None, None, now).unwrap();
        assert_eq!(months.len(), 12);
        assert_eq!(months[0].stored(), "2025-06");
        assert_eq!(months[11].stored(), "2026-05");
        let ym = |y, m| Some(api::YearMonth { year: y, month: m });
        let span = parse_usage_period(ym(2025, 11).as_ref(), ym(2026, 2).as_ref(), now).unwrap();
        assert_eq!(
            span.iter().map(|m| m.stored()).collect::<Vec<_>>(),
            ["2025-11", "2025-12", "2026-01", "2026-02"]
        );
        assert!(parse_usage_period(ym(2026, 2).as_ref(), ym(2025, 2).as_ref(), now).is_err());
        assert!(parse_usage_period(ym(2020, 1).as_ref(), ym(2026, 2).as_ref(), now).is_err());
        assert!(parse_usage_period(ym(2026, 13).as_ref(), None, now).is_err());
        assert_eq!(Month::of_micros(now).stored(), "2026-05");
    }
}
