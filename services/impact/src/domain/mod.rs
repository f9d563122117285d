//! The rules of the impact service, with no I/O: the indicator catalogue
//! and what a request for figures may ask.

pub mod catalogue;
pub mod donors;
pub mod exports;
pub mod schemes;
pub mod suppression;

use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::time::Date;
use markaz_kit::validate;
use markaz_proto::common::v1::{Gender, LocalizedText};

use markaz_proto::impact::v1 as api;
use markaz_proto::impact::v1::Dimension;

pub use catalogue::{CATALOGUE, Family, IncubationMove, Indicator, Source, indicator};
pub use schemes::{SCHEMES, Scheme};

/// A figure is split by at most this many dimensions at once.
pub const MAX_GROUP_BY: usize = 4;

/// The records a figure counts: a period, both days included, and filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub from: Date,
    pub until: Date,
    pub filters: Filters,
}

/// What restricts the records; empty restricts nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub branch_id: String,
    /// `GENDER_*` name.
    pub gender: String,
    pub topic: String,
}

impl Filters {
    /// The dimensions the filters set.
    pub fn dimensions(&self) -> Vec<Dimension> {
        let mut d = Vec::new();
        if !self.branch_id.is_empty() {
            d.push(Dimension::Branch);
        }
        if !self.gender.is_empty() {
            d.push(Dimension::Gender);
        }
        if !self.topic.is_empty() {
            d.push(Dimension::Topic);
        }
        d
    }

    /// A fingerprint of the filters, for page tokens.
    pub fn fingerprint(&self) -> String {
        format!("{}|{}|{}", self.branch_id, self.gender, self.topic)
    }
}

fn scope(
    from: Option<&markaz_proto::common::v1::Date>,
    until: Option<&markaz_proto::common::v1::Date>,
    filters: Option<&api::Filters>,
    v: &mut Violations,
) -> Option<Scope> {
    let from = v.take(Date::required("from", from));
    let until = v.take(Date::required("until", until));
    if let (Some(f), Some(u)) = (from, until)
        && u < f
    {
        v.add("until", format!("before the start of the period, {f}"));
    }
    let empty = api::Filters::default();
    let f = filters.unwrap_or(&empty);
    let gender = match Gender::try_from(f.gender) {
        Ok(Gender::Unspecified) => Some(String::new()),
        Ok(g) => Some(g.as_str_name().to_owned()),
        Err(_) => {
            v.add("filters.gender", format!("{} is not a gender", f.gender));
            None
        }
    };
    for (field, value) in [
        ("filters.branch_id", &f.branch_id),
        ("filters.topic_code", &f.topic_code),
    ] {
        if value.len() > 64 || value.chars().any(char::is_control) {
            v.add(
                field,
                "not a code: at most 64 characters, no control characters",
            );
        }
    }
    Some(Scope {
        from: from?,
        until: until?,
        filters: Filters {
            branch_id: f.branch_id.clone(),
            gender: gender?,
            topic: f.topic_code.clone(),
        },
    })
}

/// A tenant's own indicator: a catalogue indicator restricted by fixed
/// filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Custom {
    pub code: String,
    pub name: LocalizedText,
    pub definition: LocalizedText,
    pub base: &'static Indicator,
    pub fixed: Filters,
}

/// An indicator a request asks for, and the records its figure counts.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub indicator: &'static Indicator,
    pub custom: Option<Custom>,
    pub scope: Scope,
}

impl Chosen {
    pub fn code(&self) -> &str {
        self.custom
            .as_ref()
            .map_or(self.indicator.code, |c| c.code.as_str())
    }
}

/// A request for figures, parsed.
#[derive(Debug, Clone)]
pub struct FiguresQuery {
    pub chosen: Vec<Chosen>,
    pub group_by: Vec<Dimension>,
    /// The schemes grouping some of `group_by`.
    pub schemes: Vec<(Dimension, &'static Scheme)>,
    pub from: Date,
    pub until: Date,
}

/// The filters of a custom indicator's figure: the request's and its own;
/// `None` when they contradict each other (the figure counts nothing).
fn merged(asked: &Filters, fixed: &Filters) -> Option<Filters> {
    let pick = |a: &String, f: &String| -> Option<String> {
        match (a.is_empty(), f.is_empty()) {
            (true, _) => Some(f.clone()),
            (false, true) => Some(a.clone()),
            (false, false) if a == f => Some(a.clone()),
            _ => None,
        }
    };
    Some(Filters {
        branch_id: pick(&asked.branch_id, &fixed.branch_id)?,
        gender: pick(&asked.gender, &fixed.gender)?,
        topic: pick(&asked.topic, &fixed.topic)?,
    })
}

/// `code` among the catalogue and `customs`, scoped by `scope`; the
/// violation says why not.
fn choose(
    code: &str,
    scope: &Scope,
    used: &[Dimension],
    customs: &[Custom],
) -> Result<Chosen, String> {
    let (indicator, custom) = match (indicator(code), customs.iter().find(|c| c.code == code)) {
        (Some(i), _) => (i, None),
        (None, Some(c)) => (c.base, Some(c.clone())),
        (None, None) => return Err(format!("no indicator {code:?} in the catalogue")),
    };
    if let Some(d) = used.iter().find(|d| !indicator.has(**d)) {
        return Err(format!(
            "{code:?} cannot be split or filtered by {}",
            d.as_str_name()
        ));
    }
    let filters = match &custom {
        None => scope.filters.clone(),
        Some(c) => merged(&scope.filters, &c.fixed)
            .ok_or_else(|| format!("the filters contradict {code:?}'s own"))?,
    };
    Ok(Chosen {
        indicator,
        custom,
        scope: Scope {
            filters,
            ..scope.clone()
        },
    })
}

/// `GetIndicators`: the indicators asked for (or every one — the
/// catalogue's, then the tenant's — that has all the dimensions the
/// request uses), the period, the split and its schemes.
pub fn figures_query(req: &api::GetIndicatorsRequest, customs: &[Custom]) -> Result<FiguresQuery> {
    let mut v = Violations::new();
    let scope = scope(
        req.from.as_ref(),
        req.until.as_ref(),
        req.filters.as_ref(),
        &mut v,
    );
    let mut group_by = Vec::new();
    for (i, d) in req.group_by.iter().enumerate() {
        match Dimension::try_from(*d) {
            Ok(Dimension::Unspecified) | Err(_) => {
                v.add(format!("group_by[{i}]"), format!("{d} is not a dimension"))
            }
            Ok(d) if group_by.contains(&d) => v.add(
                format!("group_by[{i}]"),
                format!("{} twice", d.as_str_name()),
            ),
            Ok(d) => group_by.push(d),
        }
    }
    if req.group_by.len() > MAX_GROUP_BY {
        v.add(
            "group_by",
            format!("at most {MAX_GROUP_BY} dimensions at once"),
        );
    }
    let mut schemes: Vec<(Dimension, &'static Scheme)> = Vec::new();
    for (i, c) in req.schemes.iter().enumerate() {
        let field = format!("schemes[{i}]");
        let d = Dimension::try_from(c.dimension).unwrap_or_default();
        match schemes::scheme(&c.scheme, c.version) {
            None => v.add(
                field,
                format!(
                    "no scheme {:?} version {} (0: the newest)",
                    c.scheme, c.version
                ),
            ),
            Some(s) if s.dimension != d => v.add(
                field,
                format!(
                    "{} groups {}, not {}",
                    s.label(),
                    s.dimension.as_str_name(),
                    d.as_str_name()
                ),
            ),
            Some(_) if !group_by.contains(&d) => {
                v.add(field, format!("{} is not in group_by", d.as_str_name()))
            }
            Some(_) if schemes.iter().any(|(x, _)| *x == d) => {
                v.add(field, format!("a second scheme for {}", d.as_str_name()))
            }
            Some(s) => schemes.push((d, s)),
        }
    }
    let used: Vec<Dimension> = group_by
        .iter()
        .copied()
        .chain(
            scope
                .as_ref()
                .map(|s| s.filters.dimensions())
                .unwrap_or_default(),
        )
        .collect();
    let mut chosen = Vec::new();
    if let Some(scope) = &scope {
        if req.codes.is_empty() {
            let codes = CATALOGUE
                .iter()
                .map(|i| i.code.to_string())
                .chain(customs.iter().map(|c| c.code.clone()));
            chosen.extend(codes.filter_map(|c| choose(&c, scope, &used, customs).ok()));
        }
        for (i, code) in req.codes.iter().enumerate() {
            let field = format!("codes[{i}]");
            if chosen.iter().any(|x: &Chosen| x.code() == code) {
                v.add(field, format!("{code:?} twice"));
                continue;
            }
            match choose(code, scope, &used, customs) {
                Ok(c) => chosen.push(c),
                Err(why) => v.add(field, why),
            }
        }
    } else {
        for (i, code) in req.codes.iter().enumerate() {
            if indicator(code).is_none() && !customs.iter().any(|c| &c.code == code) {
                v.add(
                    format!("codes[{i}]"),
                    format!("no indicator {code:?} in the catalogue"),
                );
            }
        }
    }
    v.finish()?;
    let scope = scope.ok_or_else(|| Error::internal("a parsed request lacks its scope"))?;
    Ok(FiguresQuery {
        chosen,
        group_by,
        schemes,
        from: scope.from,
        until: scope.until,
    })
}

/// `ExplainIndicator`: one indicator and the records' scope.
pub fn explain_query(req: &api::ExplainIndicatorRequest, customs: &[Custom]) -> Result<Chosen> {
    let mut v = Violations::new();
    let scope = scope(
        req.from.as_ref(),
        req.until.as_ref(),
        req.filters.as_ref(),
        &mut v,
    );
    let mut chosen = None;
    if req.code.is_empty() {
        v.add("code", "required");
    } else if let Some(s) = &scope {
        match choose(&req.code, s, &s.filters.dimensions(), customs) {
            Ok(c) => chosen = Some(c),
            Err(why) => v.add("code", why),
        }
    } else if indicator(&req.code).is_none() && !customs.iter().any(|c| c.code == req.code) {
        v.add(
            "code",
            format!("no indicator {:?} in the catalogue", req.code),
        );
    }
    v.finish()?;
    chosen.ok_or_else(|| Error::internal("a parsed request lacks its indicator"))
}

/// `CreateCustomIndicator`, parsed.
pub fn custom_indicator(req: &api::CreateCustomIndicatorRequest) -> Result<Custom> {
    let mut v = Violations::new();
    let code = v.take(validate::slug("code", &req.code, 64));
    if let Some(code) = &code
        && !code.starts_with("custom-")
    {
        v.add(
            "code",
            "a tenant's own indicator's code starts with \"custom-\"",
        );
    }
    let name = v.take_many(validate::localized("name", req.name.as_ref(), 200, true));
    let definition = v.take_many(validate::localized(
        "definition",
        req.definition.as_ref(),
        2_000,
        true,
    ));
    let base = indicator(&req.base_code);
    if base.is_none() {
        v.add(
            "base_code",
            format!("no indicator {:?} in the catalogue", req.base_code),
        );
    }
    let fixed = scope(
        Some(&markaz_proto::common::v1::Date {
            year: 2000,
            month: 1,
            day: 1,
        }),
        Some(&markaz_proto::common::v1::Date {
            year: 2000,
            month: 1,
            day: 1,
        }),
        req.fixed_filters.as_ref(),
        &mut v,
    )
    .map(|s| s.filters);
    if let Some(f) = &fixed {
        if f.dimensions().is_empty() {
            v.add(
                "fixed_filters",
                "at least one: a branch, a gender or a topic",
            );
        }
        if let Some(b) = base {
            for d in f.dimensions() {
                if !b.has(d) {
                    v.add(
                        "fixed_filters",
                        format!("{:?} cannot be filtered by {}", b.code, d.as_str_name()),
                    );
                }
            }
        }
    }
    v.finish()?;
    match (code, name, definition, base, fixed) {
        (Some(code), Some(name), Some(definition), Some(base), Some(fixed)) => Ok(Custom {
            code,
            name,
            definition,
            base,
            fixed,
        }),
        _ => Err(Error::internal("a parsed request lacks a part")),
    }
}

/// A baseline and a target, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub code: String,
    pub from: Date,
    pub until: Date,
    pub branch_id: String,
    pub baseline: i64,
    pub target: i64,
    pub currency: String,
}

/// `SetIndicatorTarget`, parsed: `code` is the catalogue's or one of
/// `customs`.
pub fn target(req: &api::SetIndicatorTargetRequest, customs: &[Custom]) -> Result<Target> {
    let empty = api::IndicatorTarget::default();
    let t = req.target.as_ref().unwrap_or(&empty);
    let mut v = Violations::new();
    let from = v.take(Date::required("target.from", t.from.as_ref()));
    let until = v.take(Date::required("target.until", t.until.as_ref()));
    if let (Some(f), Some(u)) = (from, until)
        && u < f
    {
        v.add(
            "target.until",
            format!("before the start of the period, {f}"),
        );
    }
    let base =
        indicator(&t.code).or_else(|| customs.iter().find(|c| c.code == t.code).map(|c| c.base));
    match base {
        None if t.code.is_empty() => v.add("target.code", "required"),
        None => v.add("target.code", format!("no indicator {:?}", t.code)),
        Some(b) => {
            let currency_ok = t.currency_code.len() == 3
                && t.currency_code.chars().all(|c| c.is_ascii_uppercase());
            if b.is_money() && !currency_ok {
                v.add(
                    "target.currency_code",
                    "an ISO-4217 code (USD) for a money indicator",
                );
            }
            if !b.is_money() && !t.currency_code.is_empty() {
                v.add(
                    "target.currency_code",
                    format!("{:?} is no money indicator", t.code),
                );
            }
        }
    }
    if !t.branch_id.is_empty() {
        v.take(validate::slug("target.branch_id", &t.branch_id, 64));
    }
    for (field, n) in [("target.baseline", t.baseline), ("target.target", t.target)] {
        if n < 0 {
            v.add(field, "must not be negative");
        }
    }
    v.finish()?;
    match (from, until) {
        (Some(from), Some(until)) => Ok(Target {
            code: t.code.clone(),
            from,
            until,
            branch_id: t.branch_id.clone(),
            baseline: t.baseline,
            target: t.target,
            currency: t.currency_code.clone(),
        }),
        _ => Err(Error::internal("a parsed request lacks its period")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use markaz_proto::common::v1::Date as PDate;

    fn day(year: i32, month: i32, day: i32) -> Option<PDate> {
        Some(PDate { year, month, day })
    }

    fn request() -> api::GetIndicatorsRequest {
        api::GetIndicatorsRequest {
            from: day(2025, 1, 1),
            until: day(2025, 12, 31),
            ..Default::default()
        }
    }

    fn fields(r: Result<FiguresQuery>) -> Vec<String> {
        match r {
            Err(Error::InvalidArgument(v)) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn every_indicator_without_a_split() {
        let q = figures_query(&request(), &[]).unwrap();
        assert_eq!(q.chosen.len(), CATALOGUE.len());
    }

    #[test]
    fn a_split_keeps_only_the_indicators_that_have_it() {
        let q = figures_query(
            &api::GetIndicatorsRequest {
                group_by: vec![Dimension::Gender as i32],
                ..request()
            },
            &[],
        )
        .unwrap();
        let codes: Vec<_> = q.chosen.iter().map(|c| c.code()).collect();
        assert_eq!(
            codes,
            [
                "trainees",
                "consultation_attendances",
                "consultation_beneficiaries",
                "networking_participants",
                "networking_people"
            ]
        );
    }

    #[test]
    fn a_named_indicator_without_the_dimension_is_refused() {
        let r = figures_query(
            &api::GetIndicatorsRequest {
                codes: vec!["courses_held".into()],
                filters: Some(api::Filters {
                    gender: Gender::Female as i32,
                    ..Default::default()
                }),
                ..request()
            },
            &[],
        );
        assert_eq!(fields(r), ["codes[0]"]);
    }

    #[test]
    fn every_bad_field_at_once() {
        let r = figures_query(
            &api::GetIndicatorsRequest {
                codes: vec!["nope".into()],
                from: day(2025, 6, 1),
                until: day(2025, 5, 1),
                group_by: vec![0, Dimension::Branch as i32, Dimension::Branch as i32],
                filters: Some(api::Filters {
                    gender: 99,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &[],
        );
        assert_eq!(
            fields(r),
            [
                "until",
                "filters.gender",
                "group_by[0]",
                "group_by[2]",
                "codes[0]"
            ]
        );
    }

    #[test]
    fn the_period_is_required() {
        let r = figures_query(&api::GetIndicatorsRequest::default(), &[]);
        assert_eq!(fields(r), ["from", "until"]);
    }
}
