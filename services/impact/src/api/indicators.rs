//! The catalogue, the figures of a period and the records behind one.

use markaz_kit::auth::Caller;
use markaz_kit::error::Result;
use markaz_kit::rpc::Page;
use markaz_kit::time::{Date, timestamp};
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::impact::v1 as api;

use super::ImpactApi;
use crate::domain::{self, CATALOGUE, Indicator};
use crate::store;

fn definition(i: &Indicator) -> api::IndicatorDefinition {
    let text = |(ar, en): (&str, &str)| {
        Some(LocalizedText {
            ar: ar.into(),
            en: en.into(),
        })
    };
    api::IndicatorDefinition {
        code: i.code.into(),
        name: text(i.name),
        unit: i.unit.into(),
        definition: text(i.definition),
        dimensions: i.dimensions.iter().map(|d| *d as i32).collect(),
        measure: i.measure as i32,
        producers: i.producers.iter().map(|p| p.to_string()).collect(),
    }
}

pub(crate) async fn definitions(
    _: &ImpactApi,
    _: Caller,
    _: api::ListIndicatorDefinitionsRequest,
) -> Result<api::ListIndicatorDefinitionsResponse> {
    Ok(api::ListIndicatorDefinitionsResponse {
        definitions: CATALOGUE.iter().map(definition).collect(),
    })
}

pub(crate) async fn figures(
    i: &ImpactApi,
    caller: Caller,
    req: api::GetIndicatorsRequest,
) -> Result<api::GetIndicatorsResponse> {
    let q = domain::figures_query(&req)?;
    // One read transaction: every figure of the answer from the same facts.
    let mut tx = i.db.read(&caller.tenant).await?;
    let mut indicators = Vec::with_capacity(q.indicators.len());
    for ind in &q.indicators {
        let (total, cells) = store::figures::figure(&mut tx, ind, &q.scope, &q.group_by).await?;
        let mut split = q.group_by.clone();
        if ind.is_money() && !split.contains(&api::Dimension::Currency) {
            split.insert(0, api::Dimension::Currency);
        }
        indicators.push(api::IndicatorFigures {
            definition: Some(definition(ind)),
            total,
            cells: cells
                .into_iter()
                .map(|c| api::Cell {
                    key: split
                        .iter()
                        .zip(c.key)
                        .map(|(d, value)| api::DimensionValue {
                            dimension: *d as i32,
                            value,
                        })
                        .collect(),
                    value: c.value,
                })
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
    let (ind, scope) = domain::explain_query(&req)?;
    let fingerprint = format!(
        "{}|{}|{}|{}",
        ind.code,
        scope.from,
        scope.until,
        scope.filters.fingerprint()
    );
    let page = Page::parse(req.page_size, &req.page_token, &fingerprint)?;
    let mut tx = i.db.read(&caller.tenant).await?;
    let (mut rows, total) =
        store::figures::records(&mut tx, ind, &scope, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ExplainIndicatorResponse {
        definition: Some(definition(ind)),
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
