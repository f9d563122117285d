//! The catalogue (with the tenant's own indicators and the schemes), the
//! figures of a period and the records behind one.

use markaz_kit::auth::Caller;
use markaz_kit::error::Result;
use markaz_kit::rpc::Page;
use markaz_kit::time::{Date, timestamp};
use markaz_proto::common::v1::{Gender, LocalizedText};
use markaz_proto::impact::v1 as api;

use super::ImpactApi;
use crate::domain::{self, CATALOGUE, Chosen, Custom, Filters, Indicator, SCHEMES, Scheme};
use crate::store;
use crate::store::definitions::TargetRow;

fn text((ar, en): (&str, &str)) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

fn filters_proto(f: &Filters) -> api::Filters {
    api::Filters {
        branch_id: f.branch_id.clone(),
        gender: Gender::from_str_name(&f.gender).unwrap_or_default() as i32,
        topic_code: f.topic.clone(),
    }
}

fn definition(i: &Indicator) -> api::IndicatorDefinition {
    api::IndicatorDefinition {
        code: i.code.into(),
        name: text(i.name),
        unit: i.unit.into(),
        definition: text(i.definition),
        dimensions: i.dimensions.iter().map(|d| *d as i32).collect(),
        measure: i.measure as i32,
        producers: i.producers.iter().map(|p| p.to_string()).collect(),
        base_code: String::new(),
        fixed_filters: None,
    }
}

pub(super) fn custom_definition(c: &Custom) -> api::IndicatorDefinition {
    api::IndicatorDefinition {
        code: c.code.clone(),
        name: Some(c.name.clone()),
        definition: Some(c.definition.clone()),
        base_code: c.base.code.into(),
        fixed_filters: Some(filters_proto(&c.fixed)),
        ..definition(c.base)
    }
}

fn chosen_definition(c: &Chosen) -> api::IndicatorDefinition {
    match &c.custom {
        Some(custom) => custom_definition(custom),
        None => definition(c.indicator),
    }
}

fn scheme_proto(s: &Scheme) -> api::DisaggregationScheme {
    api::DisaggregationScheme {
        code: s.code.into(),
        version: s.version,
        dimension: s.dimension as i32,
        name: text(s.name),
        groups: s
            .groups
            .iter()
            .map(|(group, values)| api::SchemeGroup {
                group: group.to_string(),
                values: values.iter().map(|v| v.to_string()).collect(),
            })
            .collect(),
        other_group: s.other.into(),
    }
}

pub(super) fn target_proto(t: &TargetRow) -> api::IndicatorTarget {
    api::IndicatorTarget {
        code: t.target.code.clone(),
        from: Some(t.target.from.to_proto()),
        until: Some(t.target.until.to_proto()),
        branch_id: t.target.branch_id.clone(),
        baseline: t.target.baseline,
        target: t.target.target,
        currency_code: t.target.currency.clone(),
        update_time: Some(timestamp(t.updated_at)),
    }
}

pub(crate) async fn definitions(
    i: &ImpactApi,
    caller: Caller,
    _: api::ListIndicatorDefinitionsRequest,
) -> Result<api::ListIndicatorDefinitionsResponse> {
    let mut tx = i.db.read(&caller.tenant).await?;
    let customs = store::definitions::customs(&mut tx).await?;
    Ok(api::ListIndicatorDefinitionsResponse {
        definitions: CATALOGUE
            .iter()
            .map(definition)
            .chain(customs.iter().map(custom_definition))
            .collect(),
        schemes: SCHEMES.iter().map(scheme_proto).collect(),
    })
}

pub(crate) async fn figures(
    i: &ImpactApi,
    caller: Caller,
    req: api::GetIndicatorsRequest,
) -> Result<api::GetIndicatorsResponse> {
    // One read transaction: every figure of the answer from the same facts.
    let mut tx = i.db.read(&caller.tenant).await?;
    let customs = store::definitions::customs(&mut tx).await?;
    let q = domain::figures_query(&req, &customs)?;
    let targets = store::definitions::targets(&mut tx, "", Some((q.from, q.until))).await?;
    let mut indicators = Vec::with_capacity(q.chosen.len());
    for c in &q.chosen {
        let ind = c.indicator;
        let (total, cells) =
            store::figures::figure(&mut tx, ind, &c.scope, &q.group_by, &q.schemes).await?;
        let mut split = q.group_by.clone();
        if ind.is_money() && !split.contains(&api::Dimension::Currency) {
            split.insert(0, api::Dimension::Currency);
        }
        let scheme_of = |d: &api::Dimension| {
            q.schemes
                .iter()
                .find(|(x, _)| x == d)
                .map(|(_, s)| s.label())
                .unwrap_or_default()
        };
        let branch = &c.scope.filters.branch_id;
        indicators.push(api::IndicatorFigures {
            definition: Some(chosen_definition(c)),
            total,
            cells: cells
                .into_iter()
                .map(|cell| api::Cell {
                    key: split
                        .iter()
                        .zip(cell.key)
                        .map(|(d, value)| api::DimensionValue {
                            dimension: *d as i32,
                            value,
                            scheme: scheme_of(d),
                        })
                        .collect(),
                    value: cell.value,
                })
                .collect(),
            targets: targets
                .iter()
                .filter(|t| t.target.code == c.code())
                .filter(|t| branch.is_empty() || &t.target.branch_id == branch)
                .map(target_proto)
                .collect(),
        });
    }
    let freshness = store::facts::freshness(&mut tx)
        .await?
        .into_iter()
        .map(|(producer, last, applied)| api::Freshness {
            producer,
            last_event_time: Some(timestamp(last)),
            applied_time: Some(timestamp(applied)),
        })
        .collect();
    Ok(api::GetIndicatorsResponse {
        indicators,
        freshness,
    })
}

pub(crate) async fn explain(
    i: &ImpactApi,
    caller: Caller,
    req: api::ExplainIndicatorRequest,
) -> Result<api::ExplainIndicatorResponse> {
    let mut tx = i.db.read(&caller.tenant).await?;
    let customs = store::definitions::customs(&mut tx).await?;
    let c = domain::explain_query(&req, &customs)?;
    let scope = &c.scope;
    let fingerprint = format!(
        "{}|{}|{}|{}",
        c.code(),
        scope.from,
        scope.until,
        scope.filters.fingerprint()
    );
    let page = Page::parse(req.page_size, &req.page_token, &fingerprint)?;
    let (mut rows, total) =
        store::figures::records(&mut tx, c.indicator, scope, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ExplainIndicatorResponse {
        definition: Some(chosen_definition(&c)),
        records: rows
            .into_iter()
            .map(|r| api::CountedRecord {
                kind: r.kind,
                id: r.id,
                value: r.value,
                date: Date::parse(&r.on_date).map(Date::to_proto),
                currency_code: r.currency,
            })
            .collect(),
        next_page_token,
        total_size: total,
    })
}
