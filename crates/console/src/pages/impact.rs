//! Impact: the indicator table of a period — every figure computed by the
//! impact service from the other services' events — split by one dimension
//! and filtered by branch, with the targets set for the period and how
//! fresh the data is. A plain GET form: it works without JavaScript and
//! its address can be shared.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use markaz_proto::impact::v1 as imp;
use minijinja::{Value, context};

use super::{Choice, STAFF, branch_choices, date_value, parse_date};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::{Answer, Ctx};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/impact", get(page))
}

/// The splits offered: the dimensions staff ask for most.
const SPLITS: [imp::Dimension; 8] = [
    imp::Dimension::Gender,
    imp::Dimension::Branch,
    imp::Dimension::AgeBand,
    imp::Dimension::Topic,
    imp::Dimension::OrganizationKind,
    imp::Dimension::IncubationStatus,
    imp::Dimension::Quarter,
    imp::Dimension::Month,
];

/// A figure as the table shows it: money in major units of its currency.
fn amount(lang: Lang, unit: &str, currency: &str, value: i64) -> String {
    if unit != "money" {
        return lang.number(value);
    }
    let digits = markaz_kit::money::Currency::of(currency)
        .map(|c| c.minor_digits())
        .unwrap_or(2);
    let scale = 10_i64.pow(digits);
    let fraction = if digits == 0 {
        String::new()
    } else {
        format!(
            ".{:0width$}",
            (value % scale).abs(),
            width = digits as usize
        )
    };
    lang.digits(&format!(
        "{}{fraction} {currency}",
        lang.number(value / scale)
    ))
}

fn figures_view(lang: Lang, f: &imp::IndicatorFigures) -> Value {
    let d = f.definition.clone().unwrap_or_default();
    let currency_of = |c: &imp::Cell| {
        c.key
            .iter()
            .find(|k| k.dimension == imp::Dimension::Currency as i32)
            .map(|k| k.value.clone())
            .unwrap_or_default()
    };
    context! {
        code => d.code,
        name => lang.text(d.name.as_ref()),
        definition => lang.text(d.definition.as_ref()),
        unit => d.unit,
        total => if d.unit == "money" { String::new() } else { lang.number(f.total) },
        cells => f.cells.iter().map(|c| context! {
            key => c.key.iter()
                .filter(|k| d.unit != "money" || k.dimension != imp::Dimension::Currency as i32)
                .map(|k| if k.value.is_empty() { "—".to_string() } else { lang.label(&k.value) })
                .collect::<Vec<_>>()
                .join(" · "),
            value => amount(lang, &d.unit, &currency_of(c), c.value),
        }).collect::<Vec<_>>(),
        targets => f.targets.iter().map(|t| context! {
            branch => t.branch_id,
            baseline => amount(lang, &d.unit, &t.currency_code, t.baseline),
            target => amount(lang, &d.unit, &t.currency_code, t.target),
        }).collect::<Vec<_>>(),
    }
}

async fn page(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let lang = ctx.lang;
    let mut form = ctx.filters(&["from", "until", "by", "branch"]);
    let today = markaz_kit::time::Date::today().to_proto();
    let year_start = markaz_proto::common::v1::Date {
        month: 1,
        day: 1,
        ..today
    };
    if ctx.q("from").is_empty() {
        form = form.with("from", date_value(Some(&year_start)));
    }
    if ctx.q("until").is_empty() {
        form = form.with("until", date_value(Some(&today)));
    }
    let from = match ctx.q("from") {
        "" => Some(year_start),
        v => parse_date(&mut form, lang, "from", v),
    };
    let until = match ctx.q("until") {
        "" => Some(today),
        v => parse_date(&mut form, lang, "until", v),
    };
    let split = imp::Dimension::from_str_name(ctx.q("by"));
    let mut indicators = Vec::new();
    let mut freshness = Vec::new();
    if !form.has_errors() {
        // Every indicator's total, then the split of those that have the
        // dimension: an indicator without it keeps its row, unsplit.
        let request = |group_by: Vec<i32>| imp::GetIndicatorsRequest {
            from,
            until,
            group_by,
            filters: Some(imp::Filters {
                branch_id: ctx.q("branch").to_string(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let whole = ctx.impact().get_indicators(request(Vec::new())).await;
        let split_answer = match split {
            Some(d) => Some(ctx.impact().get_indicators(request(vec![d as i32])).await),
            None => None,
        };
        match (whole, split_answer.transpose()) {
            (Ok(whole), Ok(split_answer)) => {
                let whole = whole.into_inner();
                let split_answer = split_answer.map(|a| a.into_inner());
                indicators = whole
                    .indicators
                    .iter()
                    .map(|f| {
                        let code = f.definition.as_ref().map(|d| d.code.as_str());
                        let split = split_answer.as_ref().and_then(|a| {
                            a.indicators
                                .iter()
                                .find(|s| s.definition.as_ref().map(|d| d.code.as_str()) == code)
                        });
                        figures_view(lang, split.unwrap_or(f))
                    })
                    .collect();
                freshness = whole
                    .freshness
                    .iter()
                    .map(|f| {
                        let at = f
                            .last_event_time
                            .as_ref()
                            .map(|t| {
                                markaz_kit::time::Date::from_days(t.seconds.div_euclid(86_400))
                            })
                            .map(|d| lang.date(Some(&d.to_proto())))
                            .unwrap_or_default();
                        context! { producer => f.producer, at => at }
                    })
                    .collect::<Vec<_>>();
            }
            (Err(status), _) | (_, Err(status)) => form.absorb(status)?,
        }
    }
    let splits: Vec<Choice> = SPLITS
        .iter()
        .map(|d| Choice {
            value: d.as_str_name().to_string(),
            label: lang.label(d.as_str_name()),
        })
        .collect();
    ctx.render_form(
        "impact.html",
        form,
        context! {
            indicators => indicators,
            freshness => freshness,
            splits => splits,
            branches => branch_choices(&ctx).await?,
            split => split.map(|d| lang.label(d.as_str_name())).unwrap_or_default(),
        },
    )
}
