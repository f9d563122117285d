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
use markaz_proto::common::v1::{LocalizedText, Money, Sector};
use markaz_proto::donors::v1 as api;
use markaz_proto::impact::v1::{Dimension, DimensionValue};

use super::ImpactApi;
use super::sharing::share_proto;
use crate::domain::donors::{self as rules, Quarter, donor_lines, shareable};
use crate::domain::exports::{self, Activity, Organisations};
use crate::domain::suppression::{lines_table, suppress};
use crate::domain::{Filters, Scope};
use crate::store;
use crate::store::donors::{DonorRow, ReadRow, ShareRow};
use crate::store::funded::{Counts, MilestoneRow, ProjectRow};

/// Agreements of one tenant read for one request: all of them.
pub(super) const ALL: i64 = 10_000;

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

/// One indicator of one tenant in one quarter as a donor (or the public)
/// sees it: its protected table, with the cells of the `splits` asked
/// (none, one, or every line of the table for the change feed).
pub(super) async fn figure(
    tx: &mut markaz_kit::db::Tx,
    tenant: &str,
    code: &str,
    quarter: Quarter,
    splits: &[Dimension],
    threshold: i64,
    share: &str,
) -> Result<api::DonorFigures> {
    let ind = shareable(code).ok_or_else(|| Error::internal(format!("{code} is not shareable")))?;
    let p = protected(tx, code, quarter, threshold).await?;
    let cells: Vec<api::DonorCell> = p
        .lines
        .iter()
        .filter(|(x, _)| splits.contains(x))
        .flat_map(|(d, cells)| cells.iter().map(move |c| (*d, c)))
        .map(|(d, (k, v, h))| api::DonorCell {
            key: vec![DimensionValue {
                dimension: d as i32,
                value: k.clone(),
                scheme: String::new(),
            }],
            value: value(*v, *h),
        })
        .collect();
    Ok(api::DonorFigures {
        tenant_id: tenant.into(),
        code: code.into(),
        name: Some(LocalizedText {
            ar: ind.name.0.into(),
            en: ind.name.1.into(),
        }),
        unit: ind.unit.into(),
        quarter: quarter.label(),
        from: Some(quarter.first_day().to_proto()),
        until: Some(quarter.last_day().to_proto()),
        total: value(p.total.0, p.total.1),
        cells,
        share_agreement_id: share.into(),
    })
}

/// How many values a figure answers, and how many of them are withheld.
fn counted(f: &api::DonorFigures) -> (i64, i64) {
    let withheld = |v: &Option<api::DonorValue>| v.as_ref().is_some_and(|v| v.suppressed);
    (
        1 + f.cells.len() as i64,
        i64::from(withheld(&f.total))
            + f.cells.iter().filter(|c| withheld(&c.value)).count() as i64,
    )
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
            let f = figure(
                &mut tx,
                &tenant,
                &r.code,
                r.quarter,
                q.split.as_slice(),
                threshold,
                &r.share,
            )
            .await?;
            let (answered, suppressed) = counted(&f);
            read.values_answered += answered;
            read.values_suppressed += suppressed;
            if !read.indicator_codes.contains(&r.code) {
                read.indicator_codes.push(r.code.clone());
            }
            if !read.share_agreement_ids.contains(&r.share) {
                read.share_agreement_ids.push(r.share.clone());
            }
            figures.push(f);
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
pub(super) type Shared = (String, String, ProjectRow, String);

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
    projects_page(i, &caller, req, "ListFundedProjects").await
}

/// A page of the shared funded projects, audited as a read of `method`.
async fn projects_page(
    i: &ImpactApi,
    caller: &Caller,
    req: api::ListFundedProjectsRequest,
    method: &str,
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
    let all = shared_projects(i, caller, &asked_tenant, &program).await?;
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
        let mut read = read_of(caller, method);
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

/// Hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

pub(super) fn file(name: String, media_type: &str, content: String) -> api::ExportFile {
    let sha256 = sha256_hex(content.as_bytes());
    api::ExportFile {
        file_name: name,
        media_type: media_type.into(),
        content: content.into_bytes(),
        sha256,
    }
}

/// Who the files name as the funder: a registered donor, or a name alone.
pub(super) fn funder_of(donor: Option<&DonorRow>, fallback_name: &str) -> Funder {
    match donor {
        Some(d) => Funder {
            iati_ref: d.donor.iati_identifier.clone(),
            name: d.donor.name.clone(),
        },
        None => Funder {
            iati_ref: String::new(),
            name: LocalizedText {
                ar: String::new(),
                en: fallback_name.into(),
            },
        },
    }
}

/// The funder as the files name it; an empty name: none named.
#[derive(Debug, Clone, Default)]
pub(super) struct Funder {
    pub iati_ref: String,
    pub name: LocalizedText,
}

/// The projects of one tenant as the files describe them, with the
/// organisations around them and the data's latest change; what was
/// answered and withheld is counted in `read`.
pub(super) async fn activities(
    i: &ImpactApi,
    tenant: &str,
    projects: &[&Shared],
    funder: &Funder,
    read: &mut ReadRow,
) -> Result<(Organisations, Vec<Activity>, i64)> {
    let awards: Vec<String> = projects
        .iter()
        .map(|(_, _, r, _)| r.award_id.clone())
        .collect();
    let mut tx = i.db.read(tenant).await?;
    let settings = store::donors::settings(&mut tx).await?;
    let milestones = store::funded::milestones(&mut tx, &awards).await?;
    let partners: Vec<String> = projects
        .iter()
        .map(|(_, _, r, _)| r.organization_id.clone())
        .collect();
    let partners = markaz_membership_copies::organizations(&mut tx, &partners).await?;
    let mut out = Vec::with_capacity(projects.len());
    let mut last = 0;
    for (_, _, r, share) in projects {
        let ms: Vec<&MilestoneRow> = milestones
            .iter()
            .filter(|m| m.award_id == r.award_id)
            .collect();
        let p = project_proto(tenant, r, &ms, share, settings.fields.threshold);
        let partner = partners.get(&r.organization_id).cloned();
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
        if !share.is_empty() && !read.share_agreement_ids.contains(share) {
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
            branch_pcode: settings
                .fields
                .branch_pcodes
                .get(&r.branch_id)
                .cloned()
                .unwrap_or_default(),
            sector_code: settings
                .fields
                .sector_codes
                .get(&r.sector)
                .cloned()
                .unwrap_or_default(),
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
        reporting_ref: settings.fields.iati_identifier.clone(),
        reporting_name_ar: settings.fields.name.ar.clone(),
        reporting_name_en: if settings.fields.name.en.is_empty() {
            tenant.to_string()
        } else {
            settings.fields.name.en.clone()
        },
        funder_ref: funder.iati_ref.clone(),
        funder_name_ar: funder.name.ar.clone(),
        funder_name_en: funder.name.en.clone(),
    };
    Ok((orgs, out, last))
}

/// The donor's registered record, to name it as the files' funder.
async fn donor_funder(i: &ImpactApi, caller: &Caller, tenant: &str) -> Result<Funder> {
    let donor = store::donors::donor(&mut i.db.read(tenant).await?, &caller.subject).await?;
    Ok(funder_of(donor.as_ref(), &caller.subject))
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
    if settings.fields.iati_identifier.is_empty() {
        return Err(Error::precondition(
            "IATI_IDENTIFIER_MISSING",
            format!("tenant {tenant}"),
            "the tenant has not set its IATI organisation identifier (UpdateSharingSettings)",
        ));
    }
    let funder = donor_funder(i, &caller, &tenant).await?;
    let mut read = read_of(&caller, "ExportIatiActivities");
    let (orgs, activities, last) = activities(i, &tenant, &mine, &funder, &mut read).await?;
    audit(i, &tenant, read).await?;
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
        let funder = donor_funder(i, &caller, &tenant).await?;
        let mut read = read_of(&caller, "ExportHxl3w");
        let (orgs, activities, _) = activities(i, &tenant, &mine, &funder, &mut read).await?;
        audit(i, &tenant, read).await?;
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
    // Figures of active agreements whose donor's view changed within the
    // window.
    for tenant in reachable(&caller, "") {
        let shares = active_shares(i, &tenant, &caller.subject).await?;
        found.extend(changed_figures(i, &tenant, &shares, (&from, &horizon)).await?);
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
            Some(api::change::What::Figures(f)) => {
                let (answered, suppressed) = counted(f);
                // The change is one value more than the figure's own.
                read.values_answered += answered - 1;
                read.values_suppressed += suppressed;
                if !read.indicator_codes.contains(&f.code) {
                    read.indicator_codes.push(f.code.clone());
                }
                if !read.share_agreement_ids.contains(&f.share_agreement_id) {
                    read.share_agreement_ids.push(f.share_agreement_id.clone());
                }
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

/// The shared figures of `tenant` whose position in the change feed (when
/// the donor's view of it last changed) lies within `window` (after the
/// first, up to the second): the versions are brought up to date first —
/// recounted only when the
/// tenant's data or settings moved since, or a figure has none yet. A
/// figure's first version is dated when it came to the donor (its
/// agreement made, its quarter begun), so only what is new to a cursor
/// comes in the feed.
async fn changed_figures(
    i: &ImpactApi,
    tenant: &str,
    shares: &[ShareRow],
    window: (&str, &str),
) -> Result<Vec<(String, api::Change)>> {
    // Each shared code and begun quarter once, under its oldest agreement.
    let today = Date::today();
    let mut planned: BTreeMap<(String, Quarter), &ShareRow> = BTreeMap::new();
    for s in shares {
        let mut q = Quarter::of(s.share.from);
        while q.first_day() <= today && q.first_day() <= s.share.until {
            if q.within(s.share.from, s.share.until) {
                for code in &s.share.indicator_codes {
                    let slot = planned.entry((code.clone(), q)).or_insert(s);
                    if s.id < slot.id {
                        *slot = s;
                    }
                }
            }
            q = q.next();
        }
    }
    if planned.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = i.db.write(tenant).await?;
    let applied = store::facts::marker(&mut tx).await?;
    let (threshold, settings_at) = store::donors::threshold(&mut tx).await?;
    let stored = store::feed::versions(&mut tx).await?;
    let version_of = |code: &str, q: Quarter| {
        stored
            .iter()
            .find(|v| v.code == code && v.quarter == q.label())
    };
    let moved = store::feed::marks(&mut tx).await? != Some((applied, settings_at));
    let mut views: BTreeMap<(String, Quarter), api::DonorFigures> = BTreeMap::new();
    let now = now_micros();
    for ((code, q), share) in &planned {
        let known = version_of(code, *q);
        if !moved && known.is_some() {
            continue;
        }
        let ind = shareable(code)
            .ok_or_else(|| Error::internal(format!("{code} shared, not shareable")))?;
        let f = figure(
            &mut tx,
            tenant,
            code,
            *q,
            &donor_lines(ind),
            threshold,
            &share.id,
        )
        .await?;
        let digest = sha256_hex(&prost::Message::encode_to_vec(&api::DonorFigures {
            share_agreement_id: String::new(),
            ..f.clone()
        }));
        let changed_at = match known {
            Some(v) if v.digest == digest => v.changed_at,
            Some(_) => now,
            // New to the donor when its agreement was made or its quarter
            // began, whichever was later.
            None => share.created_at.max(q.first_day().days() * 86_400_000_000),
        };
        store::feed::stamp(
            &mut tx,
            &store::feed::Version {
                code: code.clone(),
                quarter: q.label(),
                digest,
                changed_at,
            },
        )
        .await?;
        views.insert((code.clone(), *q), f);
    }
    if moved {
        store::feed::set_marks(&mut tx, applied, settings_at).await?;
    }
    let versions = store::feed::versions(&mut tx).await?;
    let mut out = Vec::new();
    for ((code, q), share) in &planned {
        let Some(v) = versions
            .iter()
            .find(|v| v.code == *code && v.quarter == q.label())
        else {
            continue;
        };
        let key = position(v.changed_at, tenant, &format!("{code}|{}", q.label()));
        if key.as_str() <= window.0 || key.as_str() > window.1 {
            continue;
        }
        let f = match views.remove(&(code.clone(), *q)) {
            Some(f) => f,
            None => {
                let ind = shareable(code)
                    .ok_or_else(|| Error::internal(format!("{code} shared, not shareable")))?;
                figure(
                    &mut tx,
                    tenant,
                    code,
                    *q,
                    &donor_lines(ind),
                    threshold,
                    &share.id,
                )
                .await?
            }
        };
        out.push((
            key,
            api::Change {
                tenant_id: tenant.to_string(),
                change_time: Some(timestamp(v.changed_at)),
                what: Some(api::change::What::Figures(f)),
            },
        ));
    }
    tx.commit().await?;
    Ok(out)
}

/// How often a watch checks its agreements and whether its tenants' data
/// moved, when no write wakes it (a write in another replica).
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A watch recounts at least this often, moved or not: a rebuild switching
/// generations moves no marker.
const WATCH_RECOUNT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// After a write woke it, how often and how long a watch looks for the
/// write's commit (the marker moving) before it goes back to its timer.
const COMMIT_POLL: std::time::Duration = std::time::Duration::from_millis(50);
const COMMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A watch: the figures, then each time they change.
pub type WatchStream = std::pin::Pin<
    Box<
        dyn futures::Stream<Item = std::result::Result<api::WatchIndicatorsResponse, tonic::Status>>
            + Send,
    >,
>;

/// Per tenant: when an event was last applied, when its settings (the
/// threshold) last changed, its active agreements with the donor. A
/// donor's view moves only when one of them does.
type Marks = BTreeMap<String, (i64, i64, BTreeSet<String>)>;

struct Watch {
    api: ImpactApi,
    caller: Caller,
    query: rules::DonorQuery,
    /// The agreements the first answer drew on, by tenant.
    shares: BTreeMap<String, BTreeSet<String>>,
    last: Option<Vec<api::DonorFigures>>,
    ended: bool,
    /// The marks of the last recount, and when it was.
    marks: Marks,
    recounted: std::time::Instant,
    /// This process's consumer's writes.
    writes: tokio::sync::watch::Receiver<u64>,
}

impl Watch {
    async fn marks(&self) -> Result<Marks> {
        let mut marks = Marks::new();
        for tenant in reachable(&self.caller, &self.query.tenant) {
            let mut tx = self.api.db.read(&tenant).await?;
            let applied = store::facts::marker(&mut tx).await?;
            let (_, settings) = store::donors::threshold(&mut tx).await?;
            drop(tx);
            let active = active_shares(&self.api, &tenant, &self.caller.subject)
                .await?
                .into_iter()
                .map(|s| s.id)
                .collect();
            marks.insert(tenant, (applied, settings, active));
        }
        Ok(marks)
    }

    /// Waits for a write or the timer; the marks then, once they moved or
    /// it is time to recount anyway. `Err`: an agreement it drew on was
    /// revoked.
    async fn moved(&mut self) -> Result<Marks> {
        loop {
            let woken = tokio::select! {
                changed = self.writes.changed() => match changed {
                    Ok(()) => true,
                    // The sender lives as long as the process; were it
                    // gone, the timer alone.
                    Err(_) => {
                        tokio::time::sleep(WATCH_EVERY).await;
                        false
                    }
                },
                () = tokio::time::sleep(WATCH_EVERY) => false,
            };
            let mut marks = self.marks().await?;
            if woken && marks == self.marks {
                // Woken inside the write's transaction: look for its commit.
                let deadline = tokio::time::Instant::now() + COMMIT_WAIT;
                while marks == self.marks && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(COMMIT_POLL).await;
                    marks = self.marks().await?;
                }
            }
            // A revoked agreement ends the watch before anything is
            // recounted without it.
            for (tenant, ids) in &self.shares {
                let active = marks.get(tenant).map(|(_, _, a)| a);
                if let Some(gone) = ids
                    .iter()
                    .find(|id| !active.is_some_and(|a| a.contains(*id)))
                {
                    return Err(Error::precondition(
                        "SHARE_REVOKED",
                        format!("share agreement {gone}"),
                        "an agreement this watch reads was revoked",
                    ));
                }
            }
            if marks != self.marks || self.recounted.elapsed() >= WATCH_RECOUNT_EVERY {
                return Ok(marks);
            }
        }
    }

    /// The next message: at once the first time, then the next change.
    /// `Err` ends the stream: an agreement it drew on was revoked.
    async fn next(&mut self) -> Result<api::WatchIndicatorsResponse> {
        loop {
            // The marks before the count: a write between them brings one
            // recount more, never one fewer.
            self.marks = if self.last.is_some() {
                self.moved().await?
            } else {
                self.marks().await?
            };
            self.recounted = std::time::Instant::now();
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
    let query = rules::figures_query(req.codes, req.from, req.until, req.group_by, req.tenant_id)?;
    let mut watch = Watch {
        api: i.clone(),
        caller,
        query,
        shares: BTreeMap::new(),
        last: None,
        ended: false,
        marks: Marks::new(),
        recounted: std::time::Instant::now(),
        writes: crate::events::writes(),
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

/// Figures or projects in one message of an export, at most.
const EXPORT_CHUNK: i32 = 100;

/// An export: chunks of figures, then of projects, then the cursor.
pub type ExportStream = std::pin::Pin<
    Box<dyn futures::Stream<Item = std::result::Result<api::ExportResponse, tonic::Status>> + Send>,
>;

struct Export {
    api: ImpactApi,
    caller: Caller,
    query: rules::DonorQuery,
    /// The next page of each part; `None` once it is done.
    figures: Option<String>,
    projects: Option<String>,
    cursor: Option<String>,
}

impl Export {
    /// The next message, `None` at the end.
    async fn next(&mut self) -> Result<Option<api::ExportResponse>> {
        // An empty page with more behind it goes on to the next.
        while self.figures.is_some() || self.projects.is_some() {
            if let Some(token) = self.figures.take() {
                let page = Page::parse(EXPORT_CHUNK, &token, &self.query.fingerprint())?;
                let (answer, reads) =
                    figures_of(&self.api, &self.caller, &self.query, &page).await?;
                for (tenant, mut read) in reads {
                    read.method = "Export".into();
                    audit(&self.api, &tenant, read).await?;
                }
                self.figures =
                    (!answer.next_page_token.is_empty()).then_some(answer.next_page_token);
                if !answer.figures.is_empty() {
                    return Ok(Some(api::ExportResponse {
                        figures: answer.figures,
                        suppression_thresholds: answer.suppression_thresholds,
                        ..Default::default()
                    }));
                }
            } else if let Some(token) = self.projects.take() {
                let answer = projects_page(
                    &self.api,
                    &self.caller,
                    api::ListFundedProjectsRequest {
                        tenant_id: self.query.tenant.clone(),
                        program_id: String::new(),
                        page_size: EXPORT_CHUNK,
                        page_token: token,
                    },
                    "Export",
                )
                .await?;
                self.projects =
                    (!answer.next_page_token.is_empty()).then_some(answer.next_page_token);
                if !answer.projects.is_empty() {
                    return Ok(Some(api::ExportResponse {
                        projects: answer.projects,
                        ..Default::default()
                    }));
                }
            }
        }
        Ok(self.cursor.take().map(|cursor| api::ExportResponse {
            cursor,
            ..Default::default()
        }))
    }
}

pub(crate) async fn export(
    i: &ImpactApi,
    caller: Caller,
    req: api::ExportRequest,
) -> Result<ExportStream> {
    let query = rules::figures_query(Vec::new(), req.from, req.until, req.group_by, req.tenant_id)?;
    // The cursor before anything is read: a change during the export is
    // in the feed after it.
    let cursor = cursor_at(&position(now_micros() - SETTLE_MICROS, "~", ""))?;
    let mut export = Export {
        api: i.clone(),
        caller,
        query,
        figures: Some(String::new()),
        projects: Some(String::new()),
        cursor: Some(cursor),
    };
    // The first message before the stream starts: a failure is the call's
    // status.
    let first = export.next().await?;
    let rest = futures::stream::unfold(Some(export), |state| async move {
        let mut e = state?;
        match e.next().await {
            Ok(Some(m)) => Some((Ok(m), Some(e))),
            Ok(None) => None,
            Err(err) => Some((Err(tonic::Status::from(err)), None)),
        }
    });
    Ok(Box::pin(futures::StreamExt::chain(
        futures::stream::iter(first.map(Ok)),
        rest,
    )))
}
