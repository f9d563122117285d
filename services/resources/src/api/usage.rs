//! Usage of the library: views and downloads per item and month, never who.

use std::collections::BTreeMap;

use markaz_kit::auth::Caller;
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::parse_id;
use markaz_kit::time::{Date, now_micros};
use markaz_proto::resources::v1 as api;

use super::items::own_item;
use super::{ResourcesApi, reader};
use crate::domain::items::{Month, ReaderClass, parse_usage_period};
use crate::store;
use crate::store::items::Scope;

/// Default and most items in a report's top list.
const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 100;

pub(crate) async fn item(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetItemUsageRequest,
) -> Result<api::ItemUsage> {
    let (id, months) = markaz_kit::error::join(
        parse_id("item_id", &req.item_id).map_err(Error::from),
        parse_usage_period(req.from.as_ref(), req.until.as_ref(), now_micros()),
    )?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let item = own_item(&mut tx, &caller, &id).await?;
    // The figures are the owner's: its staff, and the contributing partner
    // of its own contribution.
    let staff = reader(&caller).class_for(&item.tenant_id) == ReaderClass::Staff;
    let contributor = item.contribution
        && caller.organization.as_deref() == Some(item.contributor_organization_id.as_str());
    if !staff && !contributor {
        return Err(Error::not_found("item", &id));
    }
    let (first, last) = period_ends(&months)?;
    let rows = store::usage::of_item(&mut tx, &id, &first.stored(), &last.stored()).await?;
    let found: BTreeMap<String, (i64, i64)> =
        rows.into_iter().map(|(m, v, d)| (m, (v, d))).collect();
    let months: Vec<api::MonthUsage> = months
        .iter()
        .map(|m| {
            let (views, downloads) = found.get(&m.stored()).copied().unwrap_or((0, 0));
            api::MonthUsage {
                month: Some(m.to_proto()),
                views,
                downloads,
            }
        })
        .collect();
    Ok(api::ItemUsage {
        item_id: id,
        total_views: months.iter().map(|m| m.views).sum(),
        total_downloads: months.iter().map(|m| m.downloads).sum(),
        months,
    })
}

fn period_ends(months: &[Month]) -> Result<(Month, Month)> {
    match (months.first(), months.last()) {
        (Some(a), Some(b)) => Ok((*a, *b)),
        _ => Err(Error::internal("a usage period without months")),
    }
}

/// The first instant (UTC) of a month.
fn start_of(m: Month) -> i64 {
    Date::new(m.year, m.month, 1)
        .map(|d| d.days() * 86_400_000_000)
        .unwrap_or(0)
}

pub(crate) async fn library(
    resources: &ResourcesApi,
    caller: Caller,
    req: api::GetLibraryUsageReportRequest,
) -> Result<api::LibraryUsageReport> {
    let months = parse_usage_period(req.from.as_ref(), req.until.as_ref(), now_micros())?;
    let top = match req.top {
        0 => DEFAULT_TOP,
        n if n < 0 => return Err(Error::invalid("top", "not negative")),
        n => (n as usize).min(MAX_TOP),
    };
    let (first, last) = period_ends(&months)?;
    let mut tx = resources.db.read(&caller.tenant).await?;
    let rows = store::usage::of_tenant(&mut tx, &first.stored(), &last.stored()).await?;
    let mut per_month: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut per_item: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (item_id, month, views, downloads) in rows {
        let m = per_month.entry(month).or_default();
        m.0 += views;
        m.1 += downloads;
        let i = per_item.entry(item_id).or_default();
        i.0 += views;
        i.1 += downloads;
    }
    let mut ranked: Vec<(String, (i64, i64))> = per_item.into_iter().collect();
    ranked.sort_by(|(a, x), (b, y)| y.1.cmp(&x.1).then(y.0.cmp(&x.0)).then(a.cmp(b)));
    ranked.truncate(top);
    let ids: Vec<String> = ranked.iter().map(|(id, _)| id.clone()).collect();
    let items = store::items::by_ids(&mut tx, &Scope::of(&reader(&caller)), &ids).await?;
    let from = start_of(first);
    let until = start_of(last.next());
    let (published, published_total) = store::usage::published_counts(&mut tx, from, until).await?;
    let approved = store::moderation::approvals_between(&mut tx, from, until).await?;
    Ok(api::LibraryUsageReport {
        from: Some(first.to_proto()),
        until: Some(last.to_proto()),
        months: months
            .iter()
            .map(|m| {
                let (views, downloads) = per_month.get(&m.stored()).copied().unwrap_or((0, 0));
                api::MonthUsage {
                    month: Some(m.to_proto()),
                    views,
                    downloads,
                }
            })
            .collect(),
        top_items: ranked
            .iter()
            .filter_map(|(id, (views, downloads))| {
                items
                    .iter()
                    .find(|i| &i.id == id)
                    .map(|i| api::ItemUsageSummary {
                        item_id: id.clone(),
                        title: Some(i.title.clone()),
                        kind: i.kind as i32,
                        views: *views,
                        downloads: *downloads,
                    })
            })
            .collect(),
        items_published: published as i32,
        items_published_total: published_total as i32,
        contributions_approved: approved as i32,
    })
}
