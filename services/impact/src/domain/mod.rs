//! The rules of the impact service, with no I/O: the indicator catalogue
//! and what a request for figures may ask.

pub mod catalogue;

use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::time::Date;
use markaz_proto::common::v1::Gender;
use markaz_proto::impact::v1 as api;
use markaz_proto::impact::v1::Dimension;

pub use catalogue::{CATALOGUE, Family, IncubationMove, Indicator, Source, indicator};

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

/// A request for figures, parsed.
#[derive(Debug, Clone)]
pub struct FiguresQuery {
    pub indicators: Vec<&'static Indicator>,
    pub scope: Scope,
    pub group_by: Vec<Dimension>,
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

/// `GetIndicators`: the indicators asked for (or every one that has all the
/// dimensions the request uses), the period, the split.
pub fn figures_query(req: &api::GetIndicatorsRequest) -> Result<FiguresQuery> {
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
    let mut indicators = Vec::new();
    if req.codes.is_empty() {
        indicators.extend(CATALOGUE.iter().filter(|i| used.iter().all(|d| i.has(*d))));
    }
    for (i, code) in req.codes.iter().enumerate() {
        let field = format!("codes[{i}]");
        match indicator(code) {
            None => v.add(field, format!("no indicator {code:?} in the catalogue")),
            Some(ind) if indicators.iter().any(|x: &&Indicator| x.code == ind.code) => {
                v.add(field, format!("{code:?} twice"))
            }
            Some(ind) => {
                for d in &used {
                    if !ind.has(*d) {
                        v.add(
                            field.clone(),
                            format!(
                                "{code:?} cannot be split or filtered by {}",
                                d.as_str_name()
                            ),
                        );
                    }
                }
                indicators.push(ind);
            }
        }
    }
    v.finish()?;
    Ok(FiguresQuery {
        indicators,
        scope: scope.ok_or_else(|| Error::internal("a parsed request lacks its scope"))?,
        group_by,
    })
}

/// `ExplainIndicator`: one indicator and the records' scope.
pub fn explain_query(req: &api::ExplainIndicatorRequest) -> Result<(&'static Indicator, Scope)> {
    let mut v = Violations::new();
    let scope = scope(
        req.from.as_ref(),
        req.until.as_ref(),
        req.filters.as_ref(),
        &mut v,
    );
    let ind = match indicator(&req.code) {
        None if req.code.is_empty() => {
            v.add("code", "required");
            None
        }
        None => {
            v.add(
                "code",
                format!("no indicator {:?} in the catalogue", req.code),
            );
            None
        }
        Some(ind) => Some(ind),
    };
    if let (Some(ind), Some(s)) = (ind, &scope) {
        for d in s.filters.dimensions() {
            if !ind.has(d) {
                v.add(
                    "filters",
                    format!("{:?} cannot be filtered by {}", ind.code, d.as_str_name()),
                );
            }
        }
    }
    v.finish()?;
    match (ind, scope) {
        (Some(ind), Some(scope)) => Ok((ind, scope)),
        _ => Err(Error::internal("a parsed request lacks a part")),
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
        let q = figures_query(&request()).unwrap();
        assert_eq!(q.indicators.len(), CATALOGUE.len());
    }

    #[test]
    fn a_split_keeps_only_the_indicators_that_have_it() {
        let q = figures_query(&api::GetIndicatorsRequest {
            group_by: vec![Dimension::Gender as i32],
            ..request()
        })
        .unwrap();
        let codes: Vec<_> = q.indicators.iter().map(|i| i.code).collect();
        assert_eq!(
            codes,
            [
                "trainees",
                "consultation_attendances",
                "networking_participants",
                "networking_people"
            ]
        );
    }

    #[test]
    fn a_named_indicator_without_the_dimension_is_refused() {
        let r = figures_query(&api::GetIndicatorsRequest {
            codes: vec!["courses_held".into()],
            filters: Some(api::Filters {
                gender: Gender::Female as i32,
                ..Default::default()
            }),
            ..request()
        });
        assert_eq!(fields(r), ["codes[0]"]);
    }

    #[test]
    fn every_bad_field_at_once() {
        let r = figures_query(&api::GetIndicatorsRequest {
            codes: vec!["nope".into()],
            from: day(2025, 6, 1),
            until: day(2025, 5, 1),
            group_by: vec![0, Dimension::Branch as i32, Dimension::Branch as i32],
            filters: Some(api::Filters {
                gender: 99,
                ..Default::default()
            }),
        });
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
        let r = figures_query(&api::GetIndicatorsRequest::default());
        assert_eq!(fields(r), ["from", "until"]);
    }
}
