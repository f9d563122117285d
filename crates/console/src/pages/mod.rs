//! The screens, their routes, and who each is offered to.
//!
//! [`SECTIONS`] is the one table of the navigation: the layout shows a
//! person the sections their roles are offered, and every handler refuses
//! the roles its section does not offer (the services then check each call
//! again: the console's gate only keeps people off pages that would only
//! show them refusals). Sections whose screens do not exist yet
//! are listed with `planned` (none is now), and
//! their route shows a page that says so — the place their screens plug
//! into.

mod admin;
mod auth;
mod coalitions;
mod consultations;
mod courses;
mod coworking;
mod grants;
mod impact;
mod library;
mod networking;
mod orgs;
mod public;
mod today;

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use markaz_kit::auth::Role;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::common::v1 as common;
use markaz_proto::membership::v1 as mem;
use minijinja::{Value, context};
use serde::Serialize;

use crate::AppState;
use crate::i18n::Lang;
use crate::render::{Answer, Ctx, Fail};

/// One entry of the navigation.
#[derive(Debug)]
pub struct Section {
    /// Its catalogue key (`nav_courses`).
    pub key: &'static str,
    pub path: &'static str,
    pub roles: &'static [Role],
    /// The service the section waits for, when it does not exist yet.
    pub planned: Option<&'static str>,
}

impl Section {
    pub fn offered_to(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(r))
    }

    pub fn is_current(&self, path: &str) -> bool {
        path == self.path
            || path
                .strip_prefix(self.path)
                .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'))
    }
}

pub const TENANT_ROLES: &[Role] = &Role::TENANT;
pub const STAFF: &[Role] = &[Role::Admin, Role::Staff];
pub const ORGANIZATIONS: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
pub const COURSES: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
pub const CONSULTATIONS: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];
pub const GRANTS: &[Role] = &[
    Role::Admin,
    Role::Staff,
    Role::Trainer,
    Role::Reviewer,
    Role::Partner,
];
pub const ADMINISTRATION: &[Role] = &[Role::Admin, Role::Staff, Role::Operator];
pub const OPERATOR: &[Role] = &[Role::Operator];

pub const SECTIONS: &[Section] = &[
    Section {
        key: "nav_today",
        path: "/today",
        roles: TENANT_ROLES,
        planned: None,
    },
    Section {
        key: "nav_organizations",
        path: "/organizations",
        roles: ORGANIZATIONS,
        planned: None,
    },
    Section {
        key: "nav_courses",
        path: "/courses",
        roles: COURSES,
        planned: None,
    },
    Section {
        key: "nav_consultations",
        path: "/consultations",
        roles: CONSULTATIONS,
        planned: None,
    },
    Section {
        key: "nav_grants",
        path: "/grants",
        roles: GRANTS,
        planned: None,
    },
    Section {
        key: "nav_networking",
        path: "/networking",
        roles: CONSULTATIONS,
        planned: None,
    },
    Section {
        key: "nav_coworking",
        path: "/coworking",
        roles: coworking::COWORKING,
        planned: None,
    },
    Section {
        key: "nav_library",
        path: "/library",
        roles: library::LIBRARY,
        planned: None,
    },
    Section {
        key: "nav_impact",
        path: "/impact",
        roles: STAFF,
        planned: None,
    },
    Section {
        key: "nav_admin",
        path: "/admin",
        roles: ADMINISTRATION,
        planned: None,
    },
];

pub fn routes() -> Router<Arc<AppState>> {
    let mut router = Router::new()
        .route("/", get(home))
        .route("/static/{file}", get(asset))
        .merge(auth::routes())
        .merge(public::routes())
        .route("/today", get(today::page))
        .merge(orgs::routes())
        .merge(courses::routes())
        .merge(consultations::routes())
        .merge(grants::routes())
        .merge(impact::routes())
        .merge(networking::routes())
        .merge(coalitions::routes())
        .merge(coworking::routes())
        .merge(library::routes())
        .merge(admin::routes());
    for section in SECTIONS.iter().filter(|s| s.planned.is_some()) {
        router = router.route(section.path, get(move |ctx: Ctx| planned(ctx, section)));
    }
    router
}

async fn home(ctx: Ctx) -> Answer {
    match &ctx.session {
        Some(s) if s.who.roles == [Role::Operator] => ctx.redirect("/admin"),
        Some(_) => ctx.redirect("/today"),
        None => ctx.redirect("/public"),
    }
}

async fn asset(Path(file): Path<String>, headers: http::HeaderMap) -> Response {
    let path = format!("/static/{file}");
    let Some(asset) = crate::render::assets().iter().find(|a| a.path == path) else {
        return http::StatusCode::NOT_FOUND.into_response();
    };
    let gzip = crate::http::accepts_gzip(&headers);
    let body = if gzip {
        asset.gzipped.clone()
    } else {
        asset.plain.to_vec()
    };
    let mut r = Response::new(axum::body::Body::from(body));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(asset.content_type),
    );
    // The name carries the content's hash: a new build is a new name.
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        http::header::VARY,
        http::HeaderValue::from_static("accept-encoding"),
    );
    if gzip {
        h.insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_static("gzip"),
        );
    }
    r
}

/// A section whose service does not exist yet: says so, to the roles it
/// will be offered to.
async fn planned(ctx: Ctx, section: &'static Section) -> Answer {
    ctx.require(section.roles)?;
    ctx.render(
        "planned.html",
        context! { section => section.key, service => section.planned },
    )
}

// ---------------------------------------------------------------- helpers
// Small conversions every screen shares.

/// Options of a `<select>` over protobuf enum values, labelled in `lang`.
#[derive(Debug, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    /// An object offered by its id, labelled with its name in `lang`.
    pub fn named(lang: Lang, value: &str, name: Option<&common::LocalizedText>) -> Choice {
        Choice {
            value: value.to_string(),
            label: lang.text(name),
        }
    }
}

pub fn choices(lang: Lang, names: impl IntoIterator<Item = &'static str>) -> Vec<Choice> {
    names
        .into_iter()
        .map(|n| Choice {
            value: n.to_string(),
            label: lang.label(n),
        })
        .collect()
}

// ---------------------------------------------------------------- lookups
// The lists several forms offer to choose from.

pub async fn branches(ctx: &Ctx) -> Result<Vec<mem::Branch>, Fail> {
    Ok(ctx
        .membership()
        .list_branches(mem::ListBranchesRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .branches)
}

pub async fn branch_choices(ctx: &Ctx) -> Result<Vec<Choice>, Fail> {
    Ok(branches(ctx)
        .await?
        .iter()
        .map(|b| Choice::named(ctx.lang, &b.id, b.name.as_ref()))
        .collect())
}

pub async fn organization_choices(ctx: &Ctx) -> Result<Vec<Choice>, Fail> {
    Ok(ctx
        .membership()
        .list_organizations(mem::ListOrganizationsRequest {
            page_size: 200,
            ..Default::default()
        })
        .await?
        .into_inner()
        .organizations
        .iter()
        .map(|o| Choice::named(ctx.lang, &o.id, o.name.as_ref()))
        .collect())
}

/// Capacity's topic catalogue.
pub async fn topics(ctx: &Ctx) -> Result<Vec<cap::Topic>, Fail> {
    Ok(ctx
        .capacity()
        .list_topics(cap::ListTopicsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .topics)
}

/// Every value of a protobuf enum but `_UNSPECIFIED`, by name.
macro_rules! enum_names {
    ($ty:ty) => {
        (1..64)
            .filter_map(|i| <$ty>::try_from(i).ok())
            .map(|v| v.as_str_name())
            .collect::<Vec<&'static str>>()
    };
}
pub(crate) use enum_names;

/// A protobuf enum's value from its name in a form (0 when unknown: the
/// service then names the field).
macro_rules! enum_value {
    ($ty:ty, $name:expr) => {
        <$ty>::from_str_name($name).map(|v| v as i32).unwrap_or(0)
    };
}
pub(crate) use enum_value;

/// The name of an enum value a message carries.
macro_rules! enum_name {
    ($ty:ty, $value:expr) => {
        match $value {
            0 => "",
            v => <$ty>::try_from(v).map(|v| v.as_str_name()).unwrap_or(""),
        }
    };
}
pub(crate) use enum_name;

/// `YYYY-MM-DD` as a protobuf date; `None` when empty. A malformed date is
/// reported on the form under `field`.
pub fn parse_date(
    form: &mut crate::render::Form,
    lang: Lang,
    field: &str,
    value: &str,
) -> Option<common::Date> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match markaz_kit::time::Date::parse(value) {
        Some(d) => Some(d.to_proto()),
        None => {
            form.object(field, lang.label("form_bad_date"));
            None
        }
    }
}

pub fn date_value(d: Option<&common::Date>) -> String {
    match d {
        Some(d) if d.year > 0 => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        _ => String::new(),
    }
}

/// "1,234.50" in `currency` as minor units; reported under `field` when it
/// is no amount.
pub fn parse_money(
    form: &mut crate::render::Form,
    lang: Lang,
    field: &str,
    amount: &str,
    currency: &str,
) -> Option<common::Money> {
    let amount = amount.trim().replace([',', ' ', '٬'], "").replace('٫', ".");
    let amount: String = amount
        .chars()
        .map(|c| match c {
            '٠'..='٩' => char::from_u32(c as u32 - '٠' as u32 + '0' as u32).unwrap_or(c),
            other => other,
        })
        .collect();
    if amount.is_empty() {
        return None;
    }
    let digits = markaz_kit::money::Currency::of(currency.trim())
        .map(|c| c.minor_digits())
        .unwrap_or(2);
    let (whole, fraction) = amount.split_once('.').unwrap_or((&amount, ""));
    let ok = !whole.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.chars().all(|c| c.is_ascii_digit())
        && fraction.len() <= digits as usize;
    let minor = ok
        .then(|| {
            let padded = format!("{fraction:0<width$}", width = digits as usize);
            format!("{whole}{padded}").parse::<i64>().ok()
        })
        .flatten();
    match minor {
        Some(minor_units) => Some(common::Money {
            currency_code: currency.trim().to_string(),
            minor_units,
        }),
        None => {
            form.object(field, lang.label("form_bad_amount"));
            None
        }
    }
}

/// Money as typed back into a form ("1234.50").
pub fn money_value(m: Option<&common::Money>) -> (String, String) {
    let Some(m) = m else {
        return (String::new(), String::new());
    };
    let digits = markaz_kit::money::Currency::of(&m.currency_code)
        .map(|c| c.minor_digits())
        .unwrap_or(2);
    let scale = 10i64.pow(digits);
    let amount = if digits == 0 {
        m.minor_units.to_string()
    } else {
        format!(
            "{}.{:0width$}",
            m.minor_units / scale,
            (m.minor_units % scale).abs(),
            width = digits as usize
        )
    };
    (amount, m.currency_code.clone())
}

pub fn text(ar: &str, en: &str) -> Option<common::LocalizedText> {
    Some(common::LocalizedText {
        ar: ar.trim().to_string(),
        en: en.trim().to_string(),
    })
}

/// A bilingual field of a form (`name.ar`, `name.en`) as localized text.
pub fn form_text(fields: &crate::session::FormFields, name: &str) -> Option<common::LocalizedText> {
    text(
        fields.get(&format!("{name}.ar")),
        fields.get(&format!("{name}.en")),
    )
}

/// Puts localized text into a form's values under `name.ar`/`name.en`.
pub fn put_text(
    form: crate::render::Form,
    name: &str,
    t: Option<&common::LocalizedText>,
) -> crate::render::Form {
    let t = t.cloned().unwrap_or_default();
    form.with(&format!("{name}.ar"), t.ar)
        .with(&format!("{name}.en"), t.en)
}

/// A number typed in a form (Arabic-Indic digits accepted).
pub fn parse_int(
    form: &mut crate::render::Form,
    lang: Lang,
    field: &str,
    value: &str,
) -> Option<i64> {
    let value: String = value
        .trim()
        .chars()
        .map(|c| match c {
            '٠'..='٩' => char::from_u32(c as u32 - '٠' as u32 + '0' as u32).unwrap_or(c),
            other => other,
        })
        .collect();
    if value.is_empty() {
        return None;
    }
    match value.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            form.object(field, lang.label("form_bad_number"));
            None
        }
    }
}

// ---------------------------------------------------------------- rows
// A repeated field edited as rows (`campaign.activities[0].date`): a row
// left empty is no row, an empty row more adds one.

/// Rows `0..n` of a repeated field the form has values for, and `extra`
/// empty ones after them.
pub fn rows(form: &crate::render::Form, prefix: &str, extra: usize) -> Vec<usize> {
    let filled = (0..)
        .take_while(|i| {
            let row = format!("{prefix}[{i}].");
            form.values.keys().any(|k| k.starts_with(&row))
        })
        .count();
    (0..filled + extra).collect()
}

/// The rows `prefix[0]`, `prefix[1]`, … a form sent, by their fields'
/// prefix, in order.
pub fn sent_rows(f: &crate::session::FormFields, prefix: &str) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}[{i}]"))
        .take_while(|n| f.0.iter().any(|(k, _)| k.starts_with(&format!("{n}."))))
        .collect()
}

pub fn blank(t: &Option<markaz_proto::common::v1::LocalizedText>) -> bool {
    t.as_ref()
        .is_none_or(|t| t.ar.is_empty() && t.en.is_empty())
}

/// The form's name of a row's field the service names by its place among
/// the rows sent (`campaign.targets[0].kind` is the form's row 2 when rows
/// 0 and 1 were left empty).
pub fn renumber(field: &str, list: &str, rows: &[String]) -> Option<String> {
    let rest = field.strip_prefix(list)?.strip_prefix('[')?;
    let (index, tail) = rest.split_once(']')?;
    Some(format!("{}{tail}", rows.get(index.parse::<usize>().ok()?)?))
}

/// The page a list continues on.
pub fn next_page(ctx: &Ctx, token: &str) -> Value {
    if token.is_empty() {
        return Value::from(());
    }
    let mut query: Vec<(String, String)> = ctx
        .query
        .iter()
        .filter(|(k, _)| k != "page")
        .cloned()
        .collect();
    query.push(("page".into(), token.to_string()));
    let path = ctx.path.split('?').next().unwrap_or("/");
    let encoded: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    Value::from(format!("{path}?{encoded}"))
}

/// Refuses a partner a page about another organization before asking the
/// service (which would answer NOT_FOUND anyway).
pub fn own_organization(ctx: &Ctx, organization_id: &str) -> Result<(), Fail> {
    match ctx.session.as_ref().and_then(|s| s.who.partner_scope()) {
        Some(own) if own != organization_id => Err(Fail::NotFound),
        _ => Ok(()),
    }
}

/// A list the reader's roles may not read is none, not a failure: a panel
/// or tab the service refuses to a role is left out (or empty), never the
/// page's error.
pub fn unless_refused<T>(
    answer: Result<tonic::Response<T>, tonic::Status>,
) -> Result<Option<T>, Fail> {
    match answer {
        Ok(a) => Ok(Some(a.into_inner())),
        Err(s) if s.code() == tonic::Code::PermissionDenied => Ok(None),
        Err(s) => Err(s.into()),
    }
}

pub fn is_staff(ctx: &Ctx) -> bool {
    ctx.session.as_ref().is_some_and(|s| s.who.is_staff())
}

/// Capacity shows certificates and recommendations to staff and partners
/// (not to trainers).
pub fn sees_certificates(ctx: &Ctx) -> bool {
    ctx.session
        .as_ref()
        .is_some_and(|s| s.who.is_staff() || s.who.partner_scope().is_some())
}

pub fn has(ctx: &Ctx, role: Role) -> bool {
    ctx.session
        .as_ref()
        .is_some_and(|s| s.who.roles.contains(&role))
}

/// A local path to go back to (never another site).
pub fn local_path(path: &str) -> &str {
    if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') {
        path
    } else {
        "/"
    }
}

// ---------------------------------------------------------------- files
// The files the impact service generates (IATI, HXL), answered as HTTP.

/// How a generated file is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileUse {
    /// A staff download: an attachment, never cached (the signed-in
    /// person's data).
    Download,
    /// A public file at a stable address (IATI's pipeline): shown inline,
    /// cached by anyone but checked again each time (its ETag makes that a
    /// 304).
    Published,
}

/// Only these types leave the console: the service names its file's type,
/// and a header must be a known word.
fn media_type(media_type: &str) -> &'static str {
    match media_type {
        "application/xml" => "application/xml; charset=utf-8",
        "text/csv" => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A file name safe in a header and on every file system: ASCII letters,
/// digits, `.`, `-`, `_` (anything else becomes `_`).
pub fn safe_file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match safe.trim_start_matches('.') {
        "" => "file".to_string(),
        s => s.to_string(),
    }
}

/// The hashes an `If-None-Match` header holds (`"h"`, `W/"h"`, several
/// separated by commas), those that can be ours: 64 lowercase hex digits.
pub fn if_none_match(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// A generated file as the answer: its type, its SHA-256 as a strong ETag
/// (the same data gives the same bytes), a 304 without body when
/// `not_modified`. Not gzipped: a strong ETag names these exact bytes.
pub fn file_answer(
    file: markaz_proto::donors::v1::ExportFile,
    usage: FileUse,
    not_modified: bool,
) -> Response {
    let mut r = if not_modified {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = http::StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(axum::body::Body::from(file.content))
    };
    let h = r.headers_mut();
    if !not_modified {
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(media_type(&file.media_type)),
        );
    }
    // The service's hash is hex; anything else is no ETag of ours.
    if !file.sha256.is_empty()
        && file.sha256.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", file.sha256))
    {
        h.insert(http::header::ETAG, v);
    }
    let name = safe_file_name(&file.file_name);
    let (disposition, cache) = match usage {
        FileUse::Download => ("attachment", "private, no-store"),
        FileUse::Published => ("inline", "public, no-cache"),
    };
    if let Ok(v) = http::HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
        h.insert(http::header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static(cache),
    );
    h.insert(
        "x-content-type-options",
        http::HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_ascii() {
        assert_eq!(safe_file_name("demo-0190.iati.xml"), "demo-0190.iati.xml");
        assert_eq!(safe_file_name("منحة x.csv"), "_____x.csv");
        assert_eq!(safe_file_name("a\"b\r\n.csv"), "a_b__.csv");
        assert_eq!(safe_file_name("../../etc"), "_.._etc");
        assert_eq!(safe_file_name("..."), "file");
    }

    #[test]
    fn if_none_match_takes_our_hashes_only() {
        let h = "a".repeat(64);
        let g = "B".repeat(64);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::IF_NONE_MATCH,
            http::HeaderValue::from_str(&format!("\"{h}\", W/\"{g}\", \"short\", *")).unwrap(),
        );
        assert_eq!(if_none_match(&headers), vec![h, "b".repeat(64)]);
        assert!(if_none_match(&http::HeaderMap::new()).is_empty());
    }
}
