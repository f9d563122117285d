//! `markaz report`: the impact service's figures of a period, once the
//! projections have settled, as a table (right-aligned numbers, names in
//! Arabic or English), CSV or JSON — with the freshness of the data under
//! them.
//!
//! Impact builds its figures from the other services' events, so a figure
//! read a moment after the work was done may still be catching up. The
//! report polls `GetIndicators` until two consecutive answers are the same
//! and have stayed so for a quiet second (the freshness included: no event
//! was applied meanwhile), within `--wait`; past it, it prints what it has
//! and says so.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use markaz_kit::money::{Currency, Money};
use markaz_kit::time::Date;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::Gender;
use markaz_proto::impact::v1 as imp;
use markaz_proto::impact::v1::impact_service_client::ImpactServiceClient;
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use serde_json::{Value, json};

use crate::labels::{self, Lang, Names};
use crate::progress::Progress;
use crate::rpc::Api;

/// How long answers must stay the same to count as settled.
pub const QUIET: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(format!("--format is table, csv or json, not '{other}'")),
        }
    }
}

/// What is asked: the period, the filters, the split and the indicators.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub from: Date,
    pub until: Date,
    pub branch: String,
    pub gender: Gender,
    pub topic: String,
    pub by: Vec<imp::Dimension>,
    /// Groupings of some of the `by` dimensions (impact's versioned
    /// disaggregation schemes, e.g. `age-groups/2`).
    pub schemes: Vec<imp::SchemeChoice>,
    pub codes: Vec<String>,
}

impl Query {
    /// The year of `today`, every indicator, no split.
    pub fn this_year(today: Date) -> Query {
        let (from, until) = year_of(today);
        Query {
            from,
            until,
            branch: String::new(),
            gender: Gender::Unspecified,
            topic: String::new(),
            by: Vec::new(),
            schemes: Vec::new(),
            codes: Vec::new(),
        }
    }

    pub fn request(&self) -> imp::GetIndicatorsRequest {
        imp::GetIndicatorsRequest {
            codes: self.codes.clone(),
            from: Some(self.from.to_proto()),
            until: Some(self.until.to_proto()),
            group_by: self.by.iter().map(|d| *d as i32).collect(),
            filters: Some(imp::Filters {
                branch_id: self.branch.clone(),
                gender: self.gender as i32,
                topic_code: self.topic.clone(),
            }),
            schemes: self.schemes.clone(),
        }
    }
}

/// January 1st to December 31st of `today`'s year.
pub fn year_of(today: Date) -> (Date, Date) {
    let year = today.to_string()[..4].parse::<i32>().unwrap_or(1970);
    (
        Date::new(year, 1, 1).expect("January 1st"),
        Date::new(year, 12, 31).expect("December 31st"),
    )
}

/// `YYYY-MM-DD`, strictly.
pub fn parse_date(flag: &str, s: &str) -> Result<Date, String> {
    let ok = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    ok.then(|| Date::parse(s))
        .flatten()
        .ok_or_else(|| format!("{flag} '{s}' is not a date YYYY-MM-DD"))
}

pub fn parse_gender(s: &str) -> Result<Gender, String> {
    match s.to_ascii_lowercase().as_str() {
        "female" | "f" => Ok(Gender::Female),
        "male" | "m" => Ok(Gender::Male),
        "undisclosed" => Ok(Gender::Undisclosed),
        other => Err(format!(
            "--gender is female, male or undisclosed, not '{other}'"
        )),
    }
}

/// `gender,branch` and repeated flags alike, each dimension once.
pub fn parse_by(flags: &[String]) -> Result<Vec<imp::Dimension>, String> {
    let mut by = Vec::new();
    for part in flags.iter().flat_map(|f| f.split(',')) {
        if part.trim().is_empty() {
            continue;
        }
        let d = labels::parse_dimension(part)?;
        if by.contains(&d) {
            return Err(format!("--by names {} twice", labels::dimension_key(d)));
        }
        by.push(d);
    }
    if by.len() > 4 {
        return Err("--by takes at most four dimensions".into());
    }
    Ok(by)
}

/// `age-band=age-groups` or `age-band=age-groups/2` (version 0, or none:
/// the scheme's newest).
pub fn parse_scheme(s: &str) -> Result<imp::SchemeChoice, String> {
    let bad =
        || format!("--scheme '{s}' is DIMENSION=SCHEME[/VERSION], e.g. age-band=age-groups/2");
    let (dimension, scheme) = s.split_once('=').ok_or_else(bad)?;
    let dimension = labels::parse_dimension(dimension).map_err(|e| format!("--scheme: {e}"))?;
    let (scheme, version) = match scheme.split_once('/') {
        Some((code, v)) => (code, v.parse::<i32>().map_err(|_| bad())?),
        None => (scheme, 0),
    };
    if scheme.trim().is_empty() || version < 0 {
        return Err(bad());
    }
    Ok(imp::SchemeChoice {
        dimension: dimension as i32,
        scheme: scheme.trim().to_string(),
        version,
    })
}

/// The answer the report prints, and whether it had settled.
#[derive(Debug, Clone)]
pub struct Settled {
    pub figures: imp::GetIndicatorsResponse,
    pub settled: bool,
    pub waited: Duration,
}

/// Polls `GetIndicators` until two consecutive answers are identical and
/// stayed so for `quiet` (the freshness too), or `wait` has passed.
pub async fn settle(
    api: &Api,
    request: &imp::GetIndicatorsRequest,
    wait: Duration,
    quiet: Duration,
    progress: &Progress,
) -> Result<Settled, String> {
    let started = Instant::now();
    let mut last: Option<(imp::GetIndicatorsResponse, Instant)> = None;
    loop {
        let got = api
            .call("GetIndicators", || {
                let mut c = ImpactServiceClient::new(api.channel.clone());
                let r = api.request(request.clone());
                async move { c.get_indicators(r).await }
            })
            .await?;
        let now = Instant::now();
        let since = match &last {
            Some((previous, since)) if *previous == got => *since,
            _ => now,
        };
        let steady = now - since >= quiet && last.is_some();
        if steady || now - started >= wait {
            progress.finish();
            return Ok(Settled {
                figures: got,
                settled: steady,
                waited: now - started,
            });
        }
        last = Some((got, since));
        progress.spin("waiting for the figures to settle");
        tokio::time::sleep(POLL).await;
    }
}

/// The tenant's branch and topic names, for the table; a name that cannot
/// be read leaves the code in its place.
pub async fn names(api: &Api) -> Names {
    let mut names = Names::default();
    let branches = api
        .call("ListBranches", || {
            let mut c = MembershipServiceClient::new(api.channel.clone());
            let r = api.request(mem::ListBranchesRequest {
                page_size: 500,
                page_token: String::new(),
            });
            async move { c.list_branches(r).await }
        })
        .await;
    for b in branches.map(|r| r.branches).unwrap_or_default() {
        let n = b.name.unwrap_or_default();
        names.branches.insert(b.id, (n.ar, n.en));
    }
    let topics = api
        .call("ListTopics", || {
            let mut c = CapacityServiceClient::new(api.channel.clone());
            let r = api.request(cap::ListTopicsRequest {
                page_size: 500,
                include_archived: true,
                ..Default::default()
            });
            async move { c.list_topics(r).await }
        })
        .await;
    for t in topics.map(|r| r.topics).unwrap_or_default() {
        let n = t.name.unwrap_or_default();
        names.topics.insert(t.code, (n.ar, n.en));
    }
    names
}

/// One line of the report: an indicator's total (no key) or one cell.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    code: String,
    name: (String, String),
    unit: String,
    /// The values of the asked dimensions; empty for a total.
    key: Vec<(imp::Dimension, String)>,
    /// The currency of a money line.
    currency: Option<String>,
    value: i64,
}

fn dimension_of(v: &imp::DimensionValue) -> imp::Dimension {
    imp::Dimension::try_from(v.dimension).unwrap_or(imp::Dimension::Unspecified)
}

/// The lines of an answer: per indicator, its total then its cells. Money
/// has no total across currencies: its total is given per currency, the
/// sum of that currency's cells — exact, since every dimension of a money
/// indicator (branch, sector, organization kind, period) puts each record
/// in one cell only.
fn lines(figures: &imp::GetIndicatorsResponse, by: &[imp::Dimension]) -> Vec<Line> {
    let mut out = Vec::new();
    for f in &figures.indicators {
        let d = f.definition.clone().unwrap_or_default();
        let name = d.name.clone().unwrap_or_default();
        let line = |key, currency, value| Line {
            code: d.code.clone(),
            name: (name.ar.clone(), name.en.clone()),
            unit: d.unit.clone(),
            key,
            currency,
            value,
        };
        let split = |c: &imp::Cell| -> (Vec<(imp::Dimension, String)>, Option<String>) {
            let mut currency = None;
            let mut key = Vec::new();
            for v in &c.key {
                let dim = dimension_of(v);
                if dim == imp::Dimension::Currency {
                    currency = Some(v.value.clone());
                }
                if by.contains(&dim) {
                    key.push((dim, v.value.clone()));
                }
            }
            (key, currency)
        };
        if d.unit == "money" {
            let mut per_currency: Vec<(String, i64)> = Vec::new();
            for c in &f.cells {
                let (_, currency) = split(c);
                let currency = currency.unwrap_or_default();
                match per_currency.iter_mut().find(|(k, _)| *k == currency) {
                    Some((_, sum)) => *sum += c.value,
                    None => per_currency.push((currency, c.value)),
                }
            }
            per_currency.sort();
            for (currency, sum) in per_currency {
                out.push(line(Vec::new(), Some(currency), sum));
            }
            if !by.iter().all(|d| *d == imp::Dimension::Currency) {
                for c in &f.cells {
                    let (key, currency) = split(c);
                    out.push(line(key, currency, c.value));
                }
            }
        } else {
            out.push(line(Vec::new(), None, f.total));
            for c in &f.cells {
                let (key, currency) = split(c);
                out.push(line(key, currency, c.value));
            }
        }
    }
    out
}

/// A money figure in major units, its minor units exact: `1,234.50 USD`.
pub fn money(minor_units: i64, currency: &str) -> String {
    match Currency::of(currency) {
        Some(c) => Money::new(c, minor_units).to_string(),
        None => format!("{minor_units} {currency} (minor units)"),
    }
}

/// `1234.50` — the major units as a decimal, exact, for CSV and JSON.
pub fn decimal(minor_units: i64, currency: &str) -> String {
    let digits = Currency::of(currency).map_or(0, |c| c.minor_digits());
    if digits == 0 {
        return minor_units.to_string();
    }
    let scale = 10i64.pow(digits);
    let sign = if minor_units < 0 { "-" } else { "" };
    let abs = minor_units.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale as u64,
        abs % scale as u64,
        width = digits as usize
    )
}

/// `12,345`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Columns a string takes in a terminal: Arabic vowel marks and other
/// combining characters take none.
fn width(s: &str) -> usize {
    s.chars()
        .filter(|c| {
            let c = *c as u32;
            !matches!(c,
                0x0300..=0x036F | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670
                | 0x06D6..=0x06DC | 0x06DF..=0x06E4 | 0x06E7..=0x06E8 | 0x06EA..=0x06ED
                | 0x200B..=0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0xFE00..=0xFE0F)
        })
        .count()
}

fn pad_right(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

fn timestamp(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref()
        .map(|t| markaz_kit::time::rfc3339(markaz_kit::time::micros_of(t)))
        .unwrap_or_default()
}

/// The report as `format`.
pub fn render(
    figures: &imp::GetIndicatorsResponse,
    query: &Query,
    names: &Names,
    lang: Lang,
    format: Format,
) -> String {
    match format {
        Format::Table => table(figures, query, names, lang),
        Format::Csv => csv(figures, query, lang),
        Format::Json => {
            serde_json::to_string_pretty(&json_of(figures, query)).expect("JSON of plain values")
                + "\n"
        }
    }
}

fn table(figures: &imp::GetIndicatorsResponse, query: &Query, names: &Names, lang: Lang) -> String {
    let ar = lang == Lang::Ar;
    let mut out = String::new();
    let mut scope = vec![format!(
        "{} {} — {}",
        if ar { "الفترة" } else { "period" },
        query.from,
        query.until
    )];
    if !query.branch.is_empty() {
        scope.push(format!(
            "{}: {}",
            labels::dimension(imp::Dimension::Branch, lang),
            names.value(imp::Dimension::Branch, &query.branch, lang)
        ));
    }
    if query.gender != Gender::Unspecified {
        scope.push(format!(
            "{}: {}",
            labels::dimension(imp::Dimension::Gender, lang),
            names.value(imp::Dimension::Gender, query.gender.as_str_name(), lang)
        ));
    }
    if !query.topic.is_empty() {
        scope.push(format!(
            "{}: {}",
            labels::dimension(imp::Dimension::Topic, lang),
            names.value(imp::Dimension::Topic, &query.topic, lang)
        ));
    }
    let _ = writeln!(out, "{}\n", scope.join(" · "));

    let total_word = if ar { "المجموع" } else { "total" };
    let mut header = vec![
        (if ar { "المؤشر" } else { "indicator" }).to_string(),
        (if ar { "الرمز" } else { "code" }).to_string(),
    ];
    header.extend(
        query
            .by
            .iter()
            .map(|d| labels::dimension(*d, lang).to_string()),
    );
    header.push((if ar { "القيمة" } else { "value" }).to_string());
    header.push((if ar { "الوحدة" } else { "unit" }).to_string());
    let value_column = header.len() - 2;

    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut previous = String::new();
    for l in lines(figures, &query.by) {
        let first = l.code != previous;
        previous = l.code.clone();
        let mut row = vec![
            if first {
                lang.pick(&l.name.0, &l.name.1).to_string()
            } else {
                String::new()
            },
            if first { l.code.clone() } else { String::new() },
        ];
        for (i, d) in query.by.iter().enumerate() {
            let cell = match l.key.iter().find(|(k, _)| k == d) {
                Some((_, v)) => names.value(*d, v, lang),
                None if l.key.is_empty() && i == 0 => total_word.to_string(),
                None => String::new(),
            };
            row.push(cell);
        }
        let (value, unit) = match &l.currency {
            Some(c) if l.unit == "money" => (money(l.value, c), String::new()),
            _ => (grouped(l.value), labels::unit(&l.unit, lang)),
        };
        row.push(value);
        row.push(if first { unit } else { String::new() });
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| width(&r[i]))
                .chain([width(&header[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let format_row = |r: &[String]| -> String {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == value_column {
                    pad_left(c, widths[i])
                } else {
                    pad_right(c, widths[i])
                }
            })
            .collect();
        cells.join("  ").trim_end().to_string()
    };
    let _ = writeln!(out, "{}", format_row(&header));
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    let _ = writeln!(out, "{}", rule.join("  "));
    for r in &rows {
        let _ = writeln!(out, "{}", format_row(r));
    }
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            if ar {
                "لا مؤشرات لهذا الطلب"
            } else {
                "no indicator answers this request"
            }
        );
    }
    let targets = target_lines(figures, names, lang);
    if !targets.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            if ar {
                "خطوط الأساس والأهداف:"
            } else {
                "baselines and targets:"
            }
        );
        for t in targets {
            let _ = writeln!(out, "  {t}");
        }
    }
    let fresh: Vec<String> = figures
        .freshness
        .iter()
        .map(|f| format!("{} {}", f.producer, timestamp(&f.last_event_time)))
        .collect();
    let _ = writeln!(
        out,
        "\n{} {}",
        if ar {
            "حداثة البيانات (آخر حدث طُبّق من كل خدمة):"
        } else {
            "freshness (the last event applied, per producer):"
        },
        if fresh.is_empty() {
            (if ar {
                "لا أحداث بعد"
            } else {
                "no event yet"
            })
            .to_string()
        } else {
            fresh.join(" · ")
        }
    );
    out
}

/// One line per baseline and target set for an indicator of the answer:
/// its period, branch, baseline and target beside the figure.
fn target_lines(figures: &imp::GetIndicatorsResponse, names: &Names, lang: Lang) -> Vec<String> {
    let ar = lang == Lang::Ar;
    let mut out = Vec::new();
    for f in &figures.indicators {
        let d = f.definition.clone().unwrap_or_default();
        for t in &f.targets {
            let amount = |v: i64| {
                if d.unit == "money" {
                    money(v, &t.currency_code)
                } else {
                    grouped(v)
                }
            };
            let day = |x: &Option<markaz_proto::common::v1::Date>| {
                x.as_ref()
                    .and_then(|x| Date::from_proto("", x).ok())
                    .map(|x| x.to_string())
                    .unwrap_or_default()
            };
            let branch = if t.branch_id.is_empty() {
                (if ar {
                    "كل الفروع"
                } else {
                    "all branches"
                })
                .to_string()
            } else {
                names.value(imp::Dimension::Branch, &t.branch_id, lang)
            };
            out.push(format!(
                "{}  {} — {}  {branch}  {} {}  {} {}",
                d.code,
                day(&t.from),
                day(&t.until),
                if ar { "خط الأساس" } else { "baseline" },
                amount(t.baseline),
                if ar { "الهدف" } else { "target" },
                amount(t.target),
            ));
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One row per total and per cell: `row` is `total` or `cell`, dimension
/// values as stored (`GENDER_FEMALE`), money in major units exact with its
/// currency, the indicator's name in the report's language.
fn csv(figures: &imp::GetIndicatorsResponse, query: &Query, lang: Lang) -> String {
    let mut header = vec!["indicator", "name", "unit", "row"];
    header.extend(query.by.iter().map(|d| labels::dimension_key(*d)));
    header.extend(["value", "currency"]);
    let mut out = header.join(",") + "\n";
    for l in lines(figures, &query.by) {
        let mut row = vec![
            csv_field(&l.code),
            csv_field(lang.pick(&l.name.0, &l.name.1)),
            csv_field(&l.unit),
            (if l.key.is_empty() { "total" } else { "cell" }).to_string(),
        ];
        for d in &query.by {
            row.push(csv_field(
                l.key
                    .iter()
                    .find(|(k, _)| k == d)
                    .map_or("", |(_, v)| v.as_str()),
            ));
        }
        match &l.currency {
            Some(c) if l.unit == "money" => {
                row.push(decimal(l.value, c));
                row.push(csv_field(c));
            }
            _ => {
                row.push(l.value.to_string());
                row.push(String::new());
            }
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn json_of(figures: &imp::GetIndicatorsResponse, query: &Query) -> Value {
    let indicators: Vec<Value> = figures
        .indicators
        .iter()
        .map(|f| {
            let d = f.definition.clone().unwrap_or_default();
            let name = d.name.clone().unwrap_or_default();
            let money_of = |v: i64, key: &[imp::DimensionValue]| {
                key.iter()
                    .find(|k| dimension_of(k) == imp::Dimension::Currency)
                    .map(|k| (k.value.clone(), decimal(v, &k.value)))
            };
            let cells: Vec<Value> = f
                .cells
                .iter()
                .map(|c| {
                    let key: serde_json::Map<String, Value> = c
                        .key
                        .iter()
                        .map(|k| {
                            (
                                labels::dimension_key(dimension_of(k)).to_string(),
                                Value::String(k.value.clone()),
                            )
                        })
                        .collect();
                    let mut cell = json!({"key": key, "value": c.value});
                    let schemes: serde_json::Map<String, Value> = c
                        .key
                        .iter()
                        .filter(|k| !k.scheme.is_empty())
                        .map(|k| {
                            (
                                labels::dimension_key(dimension_of(k)).to_string(),
                                Value::String(k.scheme.clone()),
                            )
                        })
                        .collect();
                    if !schemes.is_empty() {
                        cell["schemes"] = Value::Object(schemes);
                    }
                    if d.unit == "money"
                        && let Some((currency, amount)) = money_of(c.value, &c.key)
                    {
                        cell["currency"] = json!(currency);
                        cell["amount"] = json!(amount);
                    }
                    cell
                })
                .collect();
            let targets: Vec<Value> = f
                .targets
                .iter()
                .map(|t| {
                    let day = |x: &Option<markaz_proto::common::v1::Date>| {
                        x.as_ref()
                            .and_then(|x| Date::from_proto("", x).ok())
                            .map(|x| x.to_string())
                            .unwrap_or_default()
                    };
                    json!({
                        "from": day(&t.from),
                        "until": day(&t.until),
                        "branch": t.branch_id,
                        "baseline": t.baseline,
                        "target": t.target,
                        "currency": t.currency_code,
                    })
                })
                .collect();
            let mut v = json!({
                "code": d.code,
                "name": {"ar": name.ar, "en": name.en},
                "unit": d.unit,
                "cells": cells,
                "targets": targets,
            });
            if d.unit == "money" {
                // No total across currencies: one per currency.
                let mut totals: Vec<(String, i64)> = Vec::new();
                for l in lines(
                    &imp::GetIndicatorsResponse {
                        indicators: vec![f.clone()],
                        freshness: Vec::new(),
                    },
                    &[],
                ) {
                    if let Some(c) = l.currency {
                        totals.push((c, l.value));
                    }
                }
                v["totals"] = Value::Array(
                    totals
                        .into_iter()
                        .map(|(c, m)| {
                            json!({"currency": c, "minor_units": m, "amount": decimal(m, &c)})
                        })
                        .collect(),
                );
            } else {
                v["total"] = json!(f.total);
            }
            v
        })
        .collect();
    let freshness: Vec<Value> = figures
        .freshness
        .iter()
        .map(|f| {
            json!({
                "producer": f.producer,
                "last_event_time": timestamp(&f.last_event_time),
                "applied_time": timestamp(&f.applied_time),
            })
        })
        .collect();
    json!({
        "from": query.from.to_string(),
        "until": query.until.to_string(),
        "filters": {
            "branch": query.branch,
            "gender": if query.gender == Gender::Unspecified { "" } else { query.gender.as_str_name() },
            "topic": query.topic,
        },
        "group_by": query.by.iter().map(|d| labels::dimension_key(*d)).collect::<Vec<_>>(),
        "schemes": query
            .schemes
            .iter()
            .map(|c| {
                let d = imp::Dimension::try_from(c.dimension).unwrap_or(imp::Dimension::Unspecified);
                json!({"dimension": labels::dimension_key(d), "scheme": c.scheme, "version": c.version})
            })
            .collect::<Vec<_>>(),
        "indicators": indicators,
        "freshness": freshness,
    })
}

/// Runs the report: names (for a table), settled figures, the text.
/// Returns the text and, when the figures had not settled within `wait`,
/// a warning for stderr.
pub async fn run(
    api: &Api,
    query: &Query,
    lang: Lang,
    format: Format,
    wait: Duration,
    progress: &Progress,
) -> Result<(String, Option<String>), String> {
    let names = if format == Format::Table {
        names(api).await
    } else {
        Names::default()
    };
    let settled = settle(api, &query.request(), wait, QUIET, progress).await?;
    let warning = (!settled.settled).then(|| {
        format!(
            "markaz report: the figures were still moving after {:.0} s (--wait); shown as they \
             stood",
            settled.waited.as_secs_f64()
        )
    });
    Ok((
        render(&settled.figures, query, &names, lang, format),
        warning,
    ))
}

#[cfg(test)]
mod tests;
