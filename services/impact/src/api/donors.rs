//! The donor platform's side: what the tenants named in its token share
//! with it under an active agreement, small cells suppressed, every read
//! audited in the tenant it read.
//!
//! The donor is the token's subject; the tenants it may reach are the
//! token's `tenant` and `tenants`, and of those only the ones with an
//! active agreement naming this donor answer. A read is audited before it
//! is answered: a read the audit could not record fails.

use std::collections::{BTreeMap, BTreeSet};

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Page, new_id};
use markaz_kit::time::{Date, now_micros, rfc3339, timestamp};
use markaz_proto::common::v1::{Money, Sector};
use markaz_proto::donors::v1 as api;
use markaz_proto::impact::v1::{Dimension, DimensionValue};

use super::ImpactApi;
use super::sharing::share_proto;
use crate::domain::donors::{self as rules, Quarter, donor_lines, shareable};
use crate::domain::exports::{self, Activity, Organisations};
use crate::domain::suppression::{lines_table, suppress};
use crate::domain::{Filters, Scope};
use crate::store;
use crate::store::donors::{ReadRow, ShareRow};
use crate::store::funded::{Counts, MilestoneRow, ProjectRow};

/// Agreements of one tenant read for one request: all of them.
const ALL: i64 = 10_000;

/// A key's parts, joined so that keys sort as their parts do.
const SEP: char = '\u{1f}';

/// The tenants this donor token may reach (the one asked for, when set),
/// sorted.
fn reachable(caller: &Caller, asked: &str) -> Vec<String> {
    let mut tenants: BTreeSet<String> = std::iter::once(&caller.tenant)
        .chain(caller.shared_tenants.iter())
        .filter(|t| !t.is_empty() && markaz_kit::db::check_tenant(t).is_ok())
        .cloned()
        .collect();
    if !asked.is_empty() {
        tenants.retain(|t| t == asked);
    }
    tenants.into_iter().collect()
}

/// The active agreements of `tenant` with this donor.
async fn active_shares(i: &ImpactApi, tenant: &str, donor: &str) -> Result<Vec<ShareRow>> {
    let mut tx = i.db.read(tenant).await?;
    let (rows, _) = store::donors::shares(&mut tx, donor, true, "", ALL).await?;
    Ok(rows)
}

/// Records one read in the tenant's audit.
async fn audit(i: &ImpactApi, tenant: &str, read: ReadRow) -> Result<()> {
    let mut tx = i.db.write(tenant).await?;
    store::donors::insert_read(&mut tx, &read).await?;
    tx.commit().await
}

fn read_of(caller: &Caller, method: &str) -> ReadRow {
    ReadRow {
        id: new_id(),
        donor_id: caller.subject.clone(),
        subject: caller.subject.clone(),
        method: method.into(),
        read_at: now_micros(),
        ..Default::default()
    }
}

fn value(v: i64, hidden: bool) -> Option<api::DonorValue> {
    Some(if hidden {
        api::DonorValue {
            value: 0,
            suppressed: true,
        }
    } else {
        api::DonorValue {
            value: v,
            suppressed: false,
        }
    })
}

pub(crate) async fn list_shares(
    i: &ImpactApi,
    caller: Caller,
    req: api::ListSharesRequest,
) -> Result<api::ListSharesResponse> {
    let page = Page::parse(req.page_size, &req.page_token, "shares")?;
    let mut all: Vec<(String, ShareRow)> = Vec::new();
    for tenant in reachable(&caller, "") {
        let mut tx = i.db.read(&tenant).await?;
        let (rows, _) = store::donors::shares(&mut tx, &caller.subject, false, "", ALL).await?;
        all.extend(
            rows.into_iter()
                .map(|r| (format!("{tenant}{SEP}{}", r.id), r)),
        );
    }
    let total = all.len();
    let mut rows: Vec<(String, ShareRow)> = all
        .into_iter()
        .filter(|(k, _)| page.after.is_empty() || *k > page.after)
        .take(page.fetch() as usize)
        .collect();
    let next_page_token = page.finish(&mut rows, |(k, _)| k.clone());
    let mut by_tenant: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (_, r) in &rows {
        by_tenant
            .entry(r.tenant_id.as_str())
            .or_default()
            .push(r.id.clone());
    }
    for (tenant, ids) in by_tenant {
        let mut read = read_of(&caller, "ListShares");
        read.values_answered = ids.len() as i64;
        read.share_agreement_ids = ids;
        audit(i, tenant, read).await?;
    }
    Ok(api::ListSharesResponse {
        share_agreements: rows.iter().map(|(_, r)| share_proto(r)).collect(),
        next_page_token,
        total_size: total.min(i32::MAX as usize) as i32,
    })
}

/// One figure a donor's request answers: a tenant's indicator in a quarter,
/// under an agreement.
struct Planned {
    key: String,
    tenant: String,
    code: String,
    quarter: Quarter,
    share: String,
}

/// One donor split's cells: the dimension's value, the number, withheld.
type Line = (Dimension, Vec<(String, i64, bool)>);

/// The protected table of one indicator of one tenant in one quarter:
/// the total and every donor split, suppressed together — whatever split
/// was asked, so every question about it sees the same withheld values.
struct Protected {
    total: (i64, bool),
    /// Per donor dimension, its cells: key value, number, withheld.
    lines: Vec<Line>,
}

async fn protected(
    tx: &mut markaz_kit::db::Tx,
    code: &str,
    quarter: Quarter,
    threshold: i64,
) -> Result<Protected> {
    let ind =
        shareable(code).ok_or_else(|| Error::internal(format!("{code} shared, not shareable")))?;
    let scope = Scope {
        from: quarter.first_day(),
        until: quarter.last_day(),
        filters: Filters::default(),
    };
    let (total, _) = store::figures::figure(tx, ind, &scope, &[], &[]).await?;
    let mut lines = Vec::new();
    for d in donor_lines(ind) {
        let (_, cells) = store::figures::figure(tx, ind, &scope, &[d], &[]).await?;
        let cells: Vec<(String, i64)> = cells
            .into_iter()
            .filter(|c| c.value != 0)
            .map(|c| (c.key.into_iter().next().unwrap_or_default(), c.value))
            .collect();
        lines.push((d, cells));
    }
    let values: Vec<Vec<i64>> = lines
        .iter()
        .map(|(_, cells)| cells.iter().map(|(_, v)| *v).collect())
        .collect();
    let (table, indices) = lines_table(total, &values);
    let s = suppress(&table, threshold);
    let hidden = s.hidden;
    if s.whole {
        // Not even which cells are zero may show: no cells at all.
        lines.iter_mut().for_each(|(_, cells)| cells.clear());
    }
    Ok(Protected {
        total: (total, hidden[0]),
        lines: lines
            .into_iter()
            .zip(indices)
            .map(|((d, cells), idx)| {
                let cells = cells
                    .into_iter()
                    .zip(idx)
                    .map(|((k, v), i)| (k, v, hidden[i]))
                    .collect();
                (d, cells)
            })
            .collect(),
    })
}

pub(crate) async fn indicators(
    i: &ImpactApi,
    caller: Caller,
    req: api::GetIndicatorsRequest,
) -> Result<api::GetIndicatorsResponse> {
    let q = rules::donor_query(&req)?;
    let page = Page::parse(req.page_size, &req.page_token, &q.fingerprint())?;
    let (answer, reads) = figures_of(i, &caller, &q, &page).await?;
    for (tenant, read) in reads {
        audit(i, &tenant, read).await?;
    }
    Ok(answer)
}

/// The figures a donor's query answers on one page, and the reads to audit
/// (one per tenant answered) before they are sent.
async fn figures_of(
    i: &ImpactApi,
    caller: &Caller,
    q: &rules::DonorQuery,
    page: &Page,
) -> Result<(api::GetIndicatorsResponse, Vec<(String, ReadRow)>)> {
    let mut reads = Vec::new();
    let mut plan: Vec<Planned> = Vec::new();
    for tenant in reachable(caller, &q.tenant) {
        let shares = active_shares(i, &tenant, &caller.subject).await?;
        let codes: BTreeSet<String> = if q.codes.is_empty() {
            shares
                .iter()
                .flat_map(|s| s.share.indicator_codes.iter().cloned())
                .filter(|c| {
                    q.split
                        .is_none_or(|d| shareable(c).is_some_and(|i| i.has(d)))
                })
                .collect()
        } else {
            q.codes.iter().cloned().collect()
        };
        for code in codes {
            for &quarter in &q.quarters {
                let share = shares.iter().find(|s| {
                    s.share.indicator_codes.contains(&code)
                        && quarter.within(s.share.from, s.share.until)
                });
                if let Some(s) = share {
                    plan.push(Planned {
                        key: format!("{tenant}{SEP}{code}{SEP}{}", quarter.label()),
                        tenant: tenant.clone(),
                        code: code.clone(),
                        quarter,
                        share: s.id.clone(),
                    });
                }
            }
        }
    }
    plan.sort_by(|a, b| a.key.cmp(&b.key));
    let total_size = plan.len();
    let mut rows: Vec<Planned> = plan
        .into_iter()
        .filter(|p| page.after.is_empty() || p.key > page.after)
        .take(page.fetch() as usize)
        .collect();
    let next_page_token = page.finish(&mut rows, |p| p.key.clone());

    let mut figures = Vec::with_capacity(rows.len());
    let mut thresholds = std::collections::HashMap::new();
    let tenants: BTreeSet<String> = rows.iter().map(|r| r.tenant.clone()).collect();
    for tenant in tenants {
        let mut tx = i.db.read(&tenant).await?;
        let (threshold, _) = store::donors::threshold(&mut tx).await?;
        thresholds.insert(tenant.clone(), threshold as i32);
        let mut read = read_of(caller, "GetIndicators");
        read.from = q.from.to_string();
        read.until = q.until.to_string();
        for r in rows.iter().filter(|r| r.tenant == tenant) {
            let ind = shareable(&r.code)
                .ok_or_else(|| Error::internal(format!("{} is not shareable", r.code)))?;
            let p = protected(&mut tx, &r.code, r.quarter, threshold).await?;
            let cells: Vec<api::DonorCell> = match q.split {
                None => Vec::new(),
                Some(d) => p
                    .lines
                    .iter()
                    .filter(|(x, _)| *x == d)
                    .flat_map(|(_, cells)| cells.iter())
                    .map(|(k, v, h)| api::DonorCell {
                        key: vec![DimensionValue {
                            dimension: d as i32,
                            value: k.clone(),
                            scheme: String::new(),
                        }],
                        value: value(*v, *h),
                    })
                    .collect(),
            };
            read.values_answered += 1 + cells.len() as i64;
            read.values_suppressed += i64::from(p.total.1)
                + cells
                    .iter()
                    .filter(|c| c.value.as_ref().is_some_and(|v| v.suppressed))
                    .count() as i64;
            if !read.indicator_codes.contains(&r.code) {
                read.indicator_codes.push(r.code.clone());
            }
            if !read.share_agreement_ids.contains(&r.share) {
                read.share_agreement_ids.push(r.share.clone());
            }
            figures.push(api::DonorFigures {
                tenant_id: tenant.clone(),
                code: r.code.clone(),
                name: Some(markaz_proto::common::v1::LocalizedText {
                    ar: ind.name.0.into(),
                    en: ind.name.1.into(),
                }),
                unit: ind.unit.into(),
                quarter: r.quarter.label(),
                from: Some(r.quarter.first_day().to_proto()),
                until: Some(r.quarter.last_day().to_proto()),
                total: value(p.total.0, p.total.1),
                cells,
                share_agreement_id: r.share.clone(),
            });
        }
        drop(tx);
        reads.push((tenant, read));
    }
    Ok((
        api::GetIndicatorsResponse {
            figures,
            next_page_token,
            total_size: total_size.min(i32::MAX as usize) as i32,
            suppression_thresholds: thresholds,
        },
        reads,
    ))
}

/// People by gender and their total, protected together at `threshold`.
fn beneficiaries(c: Counts, threshold: i64) -> Option<api::DonorBeneficiaries> {
    let total: i64 = c.iter().sum();
    let (table, idx) = lines_table(total, &[c.to_vec()]);
    // Withheld whole, every count shows as withheld, zeros too.
    let hidden = suppress(&table, threshold).hidden;
    Some(api::DonorBeneficiaries {
        female: value(c[0], hidden[idx[0][0]]),
        male: value(c[1], hidden[idx[0][1]]),
        undisclosed: value(c[2], hidden[idx[0][2]]),
        total: value(total, hidden[0]),
    })
}

fn status(p: &ProjectRow) -> api::FundedProjectStatus {
    match (p.status_rank, p.outcome.as_str()) {
        (3, "PROJECT_OUTCOME_CLOSED_EARLY") => api::FundedProjectStatus::ClosedEarly,
        (3, _) => api::FundedProjectStatus::Completed,
        (2, _) => api::FundedProjectStatus::Active,
        _ => api::FundedProjectStatus::Awarded,
    }
}

fn project_proto(
    tenant: &str,
    p: &ProjectRow,
    milestones: &[&MilestoneRow],
    share: &str,
    threshold: i64,
) -> api::FundedProject {
    let money = |minor_units: i64| {
        Some(Money {
            currency_code: p.currency.clone(),
            minor_units,
        })
    };
    let reached: Counts = if p.final_reached == 1 {
        [p.reached_female, p.reached_male, p.reached_undisclosed]
    } else {
        milestones.iter().fold([0, 0, 0], |a, m| {
            [
                a[0] + m.reached_female,
                a[1] + m.reached_male,
                a[2] + m.reached_undisclosed,
            ]
        })
    };
    api::FundedProject {
        tenant_id: tenant.into(),
        award_id: p.award_id.clone(),
        program_id: p.program_id.clone(),
        call_id: p.call_id.clone(),
        organization_id: p.organization_id.clone(),
        branch_id: p.branch_id.clone(),
        sector: Sector::from_str_name(&p.sector).unwrap_or_default() as i32,
        status: status(p) as i32,
        start_date: Date::parse(&p.start_date).map(Date::to_proto),
        end_date: Date::parse(if p.ended_on.is_empty() {
            &p.end_date
        } else {
            &p.ended_on
        })
        .map(Date::to_proto),
        budget: money(p.budget),
        disbursed: money(p.disbursed),
        spent: money(p.spent),
        tranche_count: p.tranche_count.clamp(0, i64::from(i32::MAX)) as i32,
        milestones: milestones
            .iter()
            .map(|m| api::FundedMilestone {
                milestone_number: m.milestone_number.clamp(0, i64::from(i32::MAX)) as i32,
                report_id: m.report_id.clone(),
                accepted_time: (m.accepted_at > 0).then(|| timestamp(m.accepted_at)),
            })
            .collect(),
        targeted: beneficiaries(
            [p.targeted_female, p.targeted_male, p.targeted_undisclosed],
            threshold,
        ),
        reached: beneficiaries(reached, threshold),
        share_agreement_id: share.into(),
        update_time: Some(timestamp(p.updated_at)),
    }
}

fn suppressed_of(b: &Option<api::DonorBeneficiaries>) -> i64 {
    b.iter()
        .flat_map(|b| [&b.female, &b.male, &b.undisclosed, &b.total])
        .filter(|v| v.as_ref().is_some_and(|v| v.suppressed))
        .count() as i64
}

/// A shared project: its key (tenant, award), tenant, row and agreement.
type Shared = (String, String, ProjectRow, String);

/// Every project the tenants reachable by this donor share with it (of
/// `asked_tenant`, of `program`, when set), by tenant and award. A
/// tenant's shared projects are a donor's handful, so they are filtered
/// by agreement here.
async fn shared_projects(
    i: &ImpactApi,
    caller: &Caller,
    asked_tenant: &str,
    program: &str,
) -> Result<Vec<Shared>> {
    let mut all: Vec<Shared> = Vec::new();
    for tenant in reachable(caller, asked_tenant) {
        let shares = active_shares(i, &tenant, &caller.subject).await?;
        let programs: BTreeSet<String> = shares
            .iter()
            .flat_map(|s| s.share.program_ids.iter().cloned())
            .filter(|p| program.is_empty() || *p == program)
            .collect();
        if programs.is_empty() {
            continue;
        }
        let from = shares.iter().map(|s| s.share.from).min();
        let until = shares.iter().map(|s| s.share.until).max();
        let (Some(from), Some(until)) = (from, until) else {
            continue;
        };
        let programs: Vec<String> = programs.into_iter().collect();
        let mut tx = i.db.read(&tenant).await?;
        let (rows, _) = store::funded::projects(
            &mut tx,
            &programs,
            &from.to_string(),
            &until.to_string(),
            "",
            ALL,
        )
        .await?;
        for r in rows {
            let share = shares.iter().find(|s| {
                s.share.program_ids.contains(&r.program_id)
                    && r.start_date <= s.share.until.to_string()
                    && r.end_date >= s.share.from.to_string()
            });
            if let Some(s) = share {
                all.push((
                    format!("{tenant}{SEP}{}", r.award_id),
                    tenant.clone(),
                    r,
                    s.id.clone(),
                ));
            }
        }
    }
    Ok(all)
}

pub(crate) async fn funded_projects(
    i: &ImpactApi,
    caller: Caller,
    req: api::ListFundedProjectsRequest,
) -> Result<api::ListFundedProjectsResponse> {
    let asked_tenant =
        if req.tenant_id.is_empty() || markaz_kit::db::check_tenant(&req.tenant_id).is_ok() {
            req.tenant_id.clone()
        } else {
            return Err(Error::invalid("tenant_id", "not a tenant id"));
        };
    let program = markaz_kit::rpc::parse_optional_id("program_id", &req.program_id)?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{asked_tenant}|{program}"),
    )?;
    let all = shared_projects(i, &caller, &asked_tenant, &program).await?;
    let total = all.len();
    let mut rows: Vec<(String, String, ProjectRow, String)> = all
        .into_iter()
        .filter(|(k, ..)| page.after.is_empty() || *k > page.after)
        .take(page.fetch() as usize)
        .collect();
    let next_page_token = page.finish(&mut rows, |(k, ..)| k.clone());
    let mut projects = Vec::with_capacity(rows.len());
    let tenants: BTreeSet<String> = rows.iter().map(|(_, t, ..)| t.clone()).collect();
    for tenant in tenants {
        let mine: Vec<&(String, String, ProjectRow, String)> =
            rows.iter().filter(|(_, t, ..)| *t == tenant).collect();
        let awards: Vec<String> = mine.iter().map(|(_, _, r, _)| r.award_id.clone()).collect();
        let mut tx = i.db.read(&tenant).await?;
        let (threshold, _) = store::donors::threshold(&mut tx).await?;
        let milestones = store::funded::milestones(&mut tx, &awards).await?;
        drop(tx);
        let mut read = read_of(&caller, "ListFundedProjects");
        for (_, _, r, share) in mine {
            let ms: Vec<&MilestoneRow> = milestones
                .iter()
                .filter(|m| m.award_id == r.award_id)
                .collect();
            let p = project_proto(&tenant, r, &ms, share, threshold);
            read.values_answered += 8;
            read.values_suppressed += suppressed_of(&p.targeted) + suppressed_of(&p.reached);
            if !read.program_ids.contains(&r.program_id) {
                read.program_ids.push(r.program_id.clone());
            }
            if !read.share_agreement_ids.contains(share) {
                read.share_agreement_ids.push(share.clone());
            }
            projects.push(p);
        }
        audit(i, &tenant, read).await?;
    }
    Ok(api::ListFundedProjectsResponse {
        projects,
        next_page_token,
        total_size: total.min(i32::MAX as usize) as i32,
    })
}

fn file(name: String, media_type: &str, content: String) -> api::ExportFile {
    let digest = ring::digest::digest(&ring::digest::SHA256, content.as_bytes());
    let sha256 = digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    api::ExportFile {
        file_name: name,
        media_type: media_type.into(),
        content: content.into_bytes(),
        sha256,
    }
}

/// The shared projects of one tenant as the files describe them, with the
/// organisations around them; the read is audited in the tenant.
async fn activities(
    i: &ImpactApi,
    caller: &Caller,
    tenant: &str,
    projects: &[&Shared],
    method: &str,
) -> Result<(store::donors::Settings, Organisations, Vec<Activity>, i64)> {
    let awards: Vec<String> = projects
        .iter()
        .map(|(_, _, r, _)| r.award_id.clone())
        .collect();
    let mut tx = i.db.read(tenant).await?;
    let settings = store::donors::settings(&mut tx).await?;
    let milestones = store::funded::milestones(&mut tx, &awards).await?;
    let donor = store::donors::donor(&mut tx, &caller.subject).await?;
    let mut out = Vec::with_capacity(projects.len());
    let mut read = read_of(caller, method);
    let mut last = 0;
    for (_, _, r, share) in projects {
        let ms: Vec<&MilestoneRow> = milestones
            .iter()
            .filter(|m| m.award_id == r.award_id)
            .collect();
        let p = project_proto(tenant, r, &ms, share, settings.threshold);
        let partner = markaz_membership_copies::organization(&mut tx, &r.organization_id).await?;
        let shown =
            |v: &Option<api::DonorValue>| v.as_ref().filter(|v| !v.suppressed).map(|v| v.value);
        let t = p.targeted.unwrap_or_default();
        let re = p.reached.unwrap_or_default();
        let mut suppressed = Vec::new();
        for (name, v) in [
            ("targeted+f", &t.female),
            ("targeted+m", &t.male),
            ("reached+f", &re.female),
            ("reached+m", &re.male),
            ("reached+total", &re.total),
        ] {
            if shown(v).is_none() {
                suppressed.push(name);
            }
        }
        read.values_answered += 8;
        read.values_suppressed += suppressed_of(&p.targeted) + suppressed_of(&p.reached);
        if !read.program_ids.contains(&r.program_id) {
            read.program_ids.push(r.program_id.clone());
        }
        if !read.share_agreement_ids.contains(share) {
            read.share_agreement_ids.push(share.clone());
        }
        last = last.max(r.updated_at);
        let name = partner.map(|o| o.name).unwrap_or_default();
        out.push(Activity {
            award_id: r.award_id.clone(),
            title_ar: r.title_ar.clone(),
            title_en: if r.title_en.is_empty() && r.title_ar.is_empty() {
                format!("Award {}", r.award_id)
            } else {
                r.title_en.clone()
            },
            summary_ar: r.summary_ar.clone(),
            summary_en: r.summary_en.clone(),
            partner_name_ar: name.ar,
            partner_name_en: if name.en.is_empty() {
                r.organization_id.clone()
            } else {
                name.en
            },
            status: match status(r) {
                api::FundedProjectStatus::Completed => 4,
                api::FundedProjectStatus::ClosedEarly => 5,
                _ => 2,
            },
            planned_start: r.start_date.clone(),
            planned_end: r.end_date.clone(),
            actual_end: r.ended_on.clone(),
            started: r.status_rank >= 2,
            sector: r.sector.clone(),
            governorate: if r.governorate.is_empty() {
                r.branch_id.clone()
            } else {
                r.governorate.clone()
            },
            currency: r.currency.clone(),
            budget: r.budget,
            disbursed: r.disbursed,
            disbursed_on: r.last_disbursed_on.clone(),
            targeted: [shown(&t.female), shown(&t.male)],
            reached: [shown(&re.female), shown(&re.male)],
            reached_total: shown(&re.total),
            suppressed,
        });
    }
    drop(tx);
    let orgs = Organisations {
        reporting_ref: settings.iati_identifier.clone(),
        reporting_name_ar: settings.name.ar.clone(),
        reporting_name_en: if settings.name.en.is_empty() {
            tenant.to_string()
        } else {
            settings.name.en.clone()
        },
        funder_ref: donor
            .as_ref()
            .map(|d| d.donor.iati_identifier.clone())
            .unwrap_or_default(),
        funder_name_ar: donor
            .as_ref()
            .map(|d| d.donor.name.ar.clone())
            .unwrap_or_default(),
        funder_name_en: donor
            .as_ref()
            .map(|d| d.donor.name.en.clone())
            .unwrap_or_else(|| caller.subject.clone()),
    };
    audit(i, tenant, read).await?;
    Ok((settings, orgs, out, last))
}

pub(crate) async fn export_iati(
    i: &ImpactApi,
    caller: Caller,
    req: api::ExportIatiActivitiesRequest,
) -> Result<api::ExportFile> {
    let tenant = if req.tenant_id.is_empty() {
        Err(markaz_kit::error::FieldViolation::new(
            "tenant_id",
            "required",
        ))
    } else if markaz_kit::db::check_tenant(&req.tenant_id).is_err() {
        Err(markaz_kit::error::FieldViolation::new(
            "tenant_id",
            "not a tenant id",
        ))
    } else {
        Ok(req.tenant_id.clone())
    };
    let (tenant, program) = (
        tenant,
        markaz_kit::rpc::parse_id("program_id", &req.program_id),
    )
        .all()?;
    let shared = shared_projects(i, &caller, &tenant, &program).await?;
    let mine: Vec<&Shared> = shared.iter().collect();
    if mine.is_empty() {
        // Unshared and unknown answer alike: nothing to probe.
        return Err(Error::not_found("shared program", program));
    }
    let settings = store::donors::settings(&mut i.db.read(&tenant).await?).await?;
    if settings.iati_identifier.is_empty() {
        return Err(Error::precondition(
            "IATI_IDENTIFIER_MISSING",
            format!("tenant {tenant}"),
            "the tenant has not set its IATI organisation identifier (UpdateSharingSettings)",
        ));
    }
    let (_, orgs, activities, last) =
        activities(i, &caller, &tenant, &mine, "ExportIatiActivities").await?;
    let xml = exports::iati(&orgs, &activities, &rfc3339(last));
    Ok(file(
        format!("{tenant}-{program}.iati.xml"),
        "application/xml",
        xml,
    ))
}

pub(crate) async fn export_hxl(
    i: &ImpactApi,
    caller: Caller,
    req: api::ExportHxl3wRequest,
) -> Result<api::ExportFile> {
    if !req.tenant_id.is_empty() && markaz_kit::db::check_tenant(&req.tenant_id).is_err() {
        return Err(Error::invalid("tenant_id", "not a tenant id"));
    }
    let shared = shared_projects(i, &caller, &req.tenant_id, "").await?;
    let tenants: BTreeSet<String> = shared.iter().map(|(_, t, ..)| t.clone()).collect();
    let mut rows = Vec::new();
    for tenant in tenants {
        let mine: Vec<&Shared> = shared.iter().filter(|(_, t, ..)| *t == tenant).collect();
        let (_, orgs, activities, _) =
            activities(i, &caller, &tenant, &mine, "ExportHxl3w").await?;
        rows.extend(activities.into_iter().map(|a| (orgs.clone(), a)));
    }
    Ok(file(
        "3w.hxl.csv".into(),
        "text/csv",
        exports::hxl_3w(&rows),
    ))
}

/// How far behind now a cursor stays: a change is stamped before its
/// transaction commits, so the feed reads only changes older than this,
/// which every transaction has committed by.
const SETTLE_MICROS: i64 = 5_000_000;

/// A cursor: a signed position `<micros, 20 digits>|<tenant>|<id>` in the
/// order of changes. `~` sorts after every tenant and id: a position past
/// everything stamped at that microsecond.
fn cursor_at(position: &str) -> Result<String> {
    // A page of one with a second row makes a token for the first: the
    // kit's signed tokens, bound to this feed.
    let page = Page::parse(1, "", "changes")?;
    let mut two = vec![position.to_string(), position.to_string()];
    Ok(page.finish(&mut two, |p| p.clone()))
}

fn position(micros: i64, tenant: &str, id: &str) -> String {
    format!("{micros:020}|{tenant}|{id}")
}

pub(crate) async fn start_cursor(
    _i: &ImpactApi,
    _caller: Caller,
    _req: api::GetStartCursorRequest,
) -> Result<api::GetStartCursorResponse> {
    let horizon = now_micros() - SETTLE_MICROS;
    Ok(api::GetStartCursorResponse {
        cursor: cursor_at(&position(horizon, "~", ""))?,
    })
}

pub(crate) async fn changes(
    i: &ImpactApi,
    caller: Caller,
    req: api::ListChangesRequest,
) -> Result<api::ListChangesResponse> {
    if req.cursor.is_empty() {
        return Err(Error::invalid("cursor", "required: from GetStartCursor"));
    }
    let page = Page::parse(req.page_size, &req.cursor, "changes")
        .map_err(|_| Error::invalid("cursor", "not a cursor of this feed"))?;
    let from = page.after.clone();
    let horizon = position(now_micros() - SETTLE_MICROS, "~", "");
    let mut found: Vec<(String, api::Change)> = Vec::new();
    // Agreements: made or revoked within the window, revoked ones too.
    for tenant in reachable(&caller, "") {
        let mut tx = i.db.read(&tenant).await?;
        let (rows, _) = store::donors::shares(&mut tx, &caller.subject, false, "", ALL).await?;
        for r in rows {
            let at = r.revoked_at.max(r.created_at);
            let key = position(at, &tenant, &r.id);
            if key > from && key <= horizon {
                found.push((
                    key,
                    api::Change {
                        tenant_id: tenant.clone(),
                        change_time: Some(timestamp(at)),
                        what: Some(api::change::What::ShareAgreement(share_proto(&r))),
                    },
                ));
            }
        }
    }
    // Projects of active agreements that changed within the window.
    let shared = shared_projects(i, &caller, "", "").await?;
    let mut changed: Vec<(String, &Shared)> = shared
        .iter()
        .map(|s| (position(s.2.updated_at, &s.1, &s.2.award_id), s))
        .filter(|(k, _)| *k > from && *k <= horizon)
        .collect();
    changed.sort_by(|a, b| a.0.cmp(&b.0));
    let tenants: BTreeSet<String> = changed.iter().map(|(_, s)| s.1.clone()).collect();
    for tenant in tenants {
        let mine: Vec<&(String, &Shared)> = changed.iter().filter(|(_, s)| s.1 == tenant).collect();
        let awards: Vec<String> = mine.iter().map(|(_, s)| s.2.award_id.clone()).collect();
        let mut tx = i.db.read(&tenant).await?;
        let (threshold, _) = store::donors::threshold(&mut tx).await?;
        let milestones = store::funded::milestones(&mut tx, &awards).await?;
        for (key, (_, _, r, share)) in mine {
            let ms: Vec<&MilestoneRow> = milestones
                .iter()
                .filter(|m| m.award_id == r.award_id)
                .collect();
            found.push((
                key.clone(),
                api::Change {
                    tenant_id: tenant.clone(),
                    change_time: Some(timestamp(r.updated_at)),
                    what: Some(api::change::What::FundedProject(project_proto(
                        &tenant, r, &ms, share, threshold,
                    ))),
                },
            ));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let size = page.size as usize;
    let more = found.len() > size;
    found.truncate(size);
    let next = match found.last() {
        Some((key, _)) if more => key.clone(),
        _ if from > horizon => from.clone(),
        _ => horizon,
    };
    // Audited per tenant, like every read.
    let mut by_tenant: BTreeMap<String, ReadRow> = BTreeMap::new();
    for (_, c) in &found {
        let read = by_tenant
            .entry(c.tenant_id.clone())
            .or_insert_with(|| read_of(&caller, "ListChanges"));
        read.values_answered += 1;
        match &c.what {
            Some(api::change::What::FundedProject(p)) => {
                read.values_suppressed += suppressed_of(&p.targeted) + suppressed_of(&p.reached);
                if !read.program_ids.contains(&p.program_id) {
                    read.program_ids.push(p.program_id.clone());
                }
                if !read.share_agreement_ids.contains(&p.share_agreement_id) {
                    read.share_agreement_ids.push(p.share_agreement_id.clone());
                }
            }
            Some(api::change::What::ShareAgreement(s))
                if !read.share_agreement_ids.contains(&s.id) =>
            {
                read.share_agreement_ids.push(s.id.clone());
            }
            _ => {}
        }
    }
    for (tenant, read) in by_tenant {
        audit(i, &tenant, read).await?;
    }
    Ok(api::ListChangesResponse {
        changes: found.into_iter().map(|(_, c)| c).collect(),
        next_cursor: cursor_at(&next)?,
        more,
    })
}

/// How often a watch recounts its figures.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A watch: the figures, then each time they change.
pub type WatchStream = std::pin::Pin<
    Box<
        dyn futures::Stream<Item = std::result::Result<api::WatchIndicatorsResponse, tonic::Status>>
            + Send,
    >,
>;

struct Watch {
    api: ImpactApi,
    caller: Caller,
    query: rules::DonorQuery,
    /// The agreements the first answer drew on, by tenant.
    shares: BTreeMap<String, BTreeSet<String>>,
    last: Option<Vec<api::DonorFigures>>,
    ended: bool,
}

impl Watch {
    /// The next message: at once the first time, then the next change.
    /// `Err` ends the stream: an agreement it drew on was revoked.
    async fn next(&mut self) -> Result<api::WatchIndicatorsResponse> {
        loop {
            if self.last.is_some() {
                tokio::time::sleep(WATCH_EVERY).await;
                for (tenant, ids) in &self.shares {
                    let active: BTreeSet<String> =
                        active_shares(&self.api, tenant, &self.caller.subject)
                            .await?
                            .into_iter()
                            .map(|s| s.id)
                            .collect();
                    if let Some(gone) = ids.iter().find(|id| !active.contains(*id)) {
                        return Err(Error::precondition(
                            "SHARE_REVOKED",
                            format!("share agreement {gone}"),
                            "an agreement this watch reads was revoked",
                        ));
                    }
                }
            }
            let page = Page::parse(rules::MAX_WATCHED, "", &self.query.fingerprint())?;
            let (answer, reads) = figures_of(&self.api, &self.caller, &self.query, &page).await?;
            if self.last.as_ref() == Some(&answer.figures) {
                continue;
            }
            if self.last.is_none() {
                for f in &answer.figures {
                    self.shares
                        .entry(f.tenant_id.clone())
                        .or_default()
                        .insert(f.share_agreement_id.clone());
                }
            }
            for (tenant, read) in reads {
                let mut read = read;
                read.method = "WatchIndicators".into();
                audit(&self.api, &tenant, read).await?;
            }
            self.last = Some(answer.figures.clone());
            return Ok(api::WatchIndicatorsResponse {
                figures: answer.figures,
                suppression_thresholds: answer.suppression_thresholds,
            });
        }
    }
}

pub(crate) async fn watch(
    i: &ImpactApi,
    caller: Caller,
    req: api::WatchIndicatorsRequest,
) -> Result<WatchStream> {
    let query = rules::donor_query(&api::GetIndicatorsRequest {
        codes: req.codes,
        from: req.from,
        until: req.until,
        group_by: req.group_by,
        tenant_id: req.tenant_id,
        page_size: 0,
        page_token: String::new(),
    })?;
    let mut watch = Watch {
        api: i.clone(),
        caller,
        query,
        shares: BTreeMap::new(),
        last: None,
        ended: false,
    };
    // The first answer before the stream starts: a bad request or a
    // failure is the call's status.
    let first = watch.next().await?;
    let rest = futures::stream::unfold(watch, |mut w| async move {
        if w.ended {
            return None;
        }
        match w.next().await {
            Ok(m) => Some((Ok(m), w)),
            Err(e) => {
                w.ended = true;
                Some((Err(tonic::Status::from(e)), w))
            }
        }
    });
    Ok(Box::pin(futures::StreamExt::chain(
        futures::stream::once(async move { Ok(first) }),
        rest,
    )))
}
