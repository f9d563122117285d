//! Impact: the indicator table of a period — every figure computed by the
//! impact service from the other services' events — split by one dimension
//! and filtered by branch, with the targets set for the period and how
//! fresh the data is; the counts a donor would see withheld marked; one
//! indicator over time as an SVG drawn here (no script); and what the
//! tenant shares with donors. A plain GET form: it works without
//! JavaScript and its address can be shared.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_kit::auth::Role;
use markaz_proto::common::v1 as common;
use markaz_proto::donors::v1 as don;
use markaz_proto::impact::v1 as imp;
use minijinja::{Value, context};

use super::{Choice, STAFF, branch_choices, date_value, enum_name, has, parse_date};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::{Answer, Ctx, Form};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/impact", get(page))
        .route("/impact/shares", get(shares))
        .route("/impact/shares/new", post(create_share))
        .route("/impact/shares/{id}/revoke", post(revoke))
        .route(
            "/impact/shares/settings",
            get(settings).post(update_settings),
        )
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

/// Whether a donor would see this count withheld as a small cell: from 1
/// to the tenant's threshold − 1 (money is never shared as figures). The
/// donor service may withhold more, so that none of these can be worked
/// out from the others; the page says so rather than guess which.
fn small(unit: &str, value: i64, threshold: i64) -> bool {
    unit != "money" && value > 0 && value < threshold
}

fn figures_view(lang: Lang, f: &imp::IndicatorFigures, threshold: i64) -> Value {
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
        total_small => small(&d.unit, f.total, threshold),
        cells => f.cells.iter().map(|c| context! {
            key => c.key.iter()
                .filter(|k| d.unit != "money" || k.dimension != imp::Dimension::Currency as i32)
                .map(|k| if k.value.is_empty() { "—".to_string() } else { lang.label(&k.value) })
                .collect::<Vec<_>>()
                .join(" · "),
            value => amount(lang, &d.unit, &currency_of(c), c.value),
            small => small(&d.unit, c.value, threshold),
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
    let mut form = ctx.filters(&["from", "until", "by", "branch", "chart"]);
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
    let mut charted = Vec::new();
    let mut chart = Value::from(());
    // The threshold donors are answered with (GetSharingSettings: admin
    // and staff, like this page).
    let threshold = i64::from(
        ctx.sharing()
            .get_sharing_settings(don::GetSharingSettingsRequest {})
            .await?
            .into_inner()
            .suppression_threshold,
    );
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
                        figures_view(lang, split.unwrap_or(f), threshold)
                    })
                    .collect();
                charted = whole
                    .indicators
                    .iter()
                    .filter_map(|f| f.definition.as_ref())
                    .filter(|d| d.unit != "money")
                    .map(|d| Choice::named(lang, &d.code, d.name.as_ref()))
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
        let wanted = match ctx.q("chart") {
            "" => charted
                .iter()
                .find(|c| c.value == "trainees")
                .or(charted.first())
                .map(|c| c.value.clone()),
            code => charted
                .iter()
                .find(|c| c.value == code)
                .map(|c| c.value.clone()),
        };
        if let (Some(code), Some(from), Some(until)) = (wanted, from, until) {
            form = form.with("chart", code.clone());
            chart = over_time(&ctx, &code, from, until).await?;
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
            threshold => lang.number(threshold),
            charted => charted,
            chart => chart,
        },
    )
}

/// The periods a chart has bars for: the months of the period asked, or
/// its years when it is longer than three years (bars stay readable).
fn periods(from: common::Date, until: common::Date) -> (imp::Dimension, Vec<String>) {
    let first = from.year * 12 + from.month - 1;
    let last = until.year * 12 + until.month - 1;
    if last < first {
        return (imp::Dimension::Month, Vec::new());
    }
    if last - first < 36 {
        let months = (first..=last)
            .map(|m| format!("{:04}-{:02}", m / 12, m % 12 + 1))
            .collect();
        (imp::Dimension::Month, months)
    } else {
        let years = (from.year..=until.year)
            .map(|y| format!("{y:04}"))
            .collect();
        (imp::Dimension::Year, years)
    }
}

/// One indicator over the period, by month (or year), as an inline SVG
/// drawn on the server: no script, a few hundred bytes. Time runs the
/// reader's way (right to left in Arabic). Each bar names its period and
/// value for screen readers.
async fn over_time(
    ctx: &Ctx,
    code: &str,
    from: common::Date,
    until: common::Date,
) -> Result<Value, crate::render::Fail> {
    let lang = ctx.lang;
    let (dimension, labels) = periods(from, until);
    let answer = ctx
        .impact()
        .get_indicators(imp::GetIndicatorsRequest {
            codes: vec![code.to_string()],
            from: Some(from),
            until: Some(until),
            group_by: vec![dimension as i32],
            filters: Some(imp::Filters {
                branch_id: ctx.q("branch").to_string(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    let figures = match answer {
        Ok(a) => a.into_inner().indicators.into_iter().next(),
        // An indicator that cannot be split by time has no chart.
        Err(s) if s.code() == tonic::Code::InvalidArgument => None,
        Err(s) => return Err(s.into()),
    };
    let Some(figures) = figures else {
        return Ok(Value::from(()));
    };
    let values: Vec<i64> = labels
        .iter()
        .map(|l| {
            figures
                .cells
                .iter()
                .filter(|c| c.key.iter().any(|k| &k.value == l))
                .map(|c| c.value)
                .sum()
        })
        .collect();
    let name = lang.text(figures.definition.as_ref().and_then(|d| d.name.as_ref()));
    Ok(Value::from_safe_string(svg_bars(
        lang, &name, &labels, &values,
    )))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A period's key (`2026-03`, `2026`) as the reader reads it: the month's
/// name, with its year under it on the first bar and each January (the
/// axis is then read in one pass, whichever way it runs); a year as its
/// digits.
fn period_label(lang: Lang, key: &str, first: bool) -> (String, String) {
    match key.split_once('-') {
        Some((year, month)) => {
            let month: i32 = month.parse().unwrap_or(1);
            let year = if first || month == 1 {
                lang.digits(year)
            } else {
                String::new()
            };
            (lang.month(month).to_string(), year)
        }
        None => (lang.digits(key), String::new()),
    }
}

/// Bars with their values above and their periods below. In Arabic time
/// runs from the right: the first period is the rightmost bar, and the
/// text is drawn right to left (`direction="rtl"`, so a label's words and
/// digits keep their order).
pub(crate) fn svg_bars(lang: Lang, title: &str, labels: &[String], values: &[i64]) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 236.0;
    const TOP: f64 = 18.0;
    const BOTTOM: f64 = 40.0;
    let n = labels.len().max(1) as f64;
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = WIDTH / n;
    let bar = (slot * 0.7).max(2.0);
    // Label every period when they fit, else every few.
    let every = (labels.len() / 12).max(1);
    // Long month names take a smaller type where slots are narrow.
    let size = if slot < 64.0 { 9 } else { 11 };
    let mut out = format!(
        r##"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="chart-title" direction="{dir}" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">{}</title><line x1="0" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="#8a96a3"/>"##,
        escape(title),
        base = HEIGHT - BOTTOM,
        dir = lang.dir(),
    );
    for (i, (label, value)) in labels.iter().zip(values).enumerate() {
        let place = if lang.dir() == "rtl" {
            labels.len() - 1 - i
        } else {
            i
        } as f64;
        let h = (HEIGHT - TOP - BOTTOM) * (*value as f64) / max;
        let x = place * slot + (slot - bar) / 2.0;
        let y = HEIGHT - BOTTOM - h;
        let centre = x + bar / 2.0;
        let (name, year) = period_label(lang, label, i == 0);
        // The whole period for screen readers and on hover.
        let full = escape(&match period_label(lang, label, true) {
            (name, year) if year.is_empty() => name,
            (name, year) => format!("{name} {year}"),
        });
        let shown_value = escape(&lang.number(*value));
        out.push_str(&format!(
            r##"<g><title>{full}: {shown_value}</title><rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="#2b6cb0"/>"##
        ));
        if *value > 0 {
            out.push_str(&format!(
                r##"<text x="{centre:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#1a2733">{shown_value}</text>"##,
                y - 4.0
            ));
        }
        if i % every == 0 {
            out.push_str(&format!(
                r##"<text class="period" x="{centre:.1}" y="{:.1}" text-anchor="middle" font-size="{size}" fill="#4a5663">{}</text>"##,
                HEIGHT - BOTTOM + 15.0,
                escape(&name)
            ));
            if !year.is_empty() {
                out.push_str(&format!(
                    r##"<text class="year" x="{centre:.1}" y="{:.1}" text-anchor="middle" font-size="{size}" fill="#4a5663">{}</text>"##,
                    HEIGHT - 6.0,
                    escape(&year)
                ));
            }
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// What the tenant shares with donors: each agreement (donor, programs,
/// indicators, period, purpose, state), the suppression threshold and IATI
/// identity donors are answered with, and the latest donor reads. Admins
/// make an agreement and end one here (the service lets only them).
async fn shares(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let today = markaz_kit::time::Date::today().to_proto();
    let form = Form::new()
        .with(
            "share_agreement.from",
            date_value(Some(&common::Date {
                month: 1,
                day: 1,
                ..today
            })),
        )
        .with(
            "share_agreement.until",
            date_value(Some(&common::Date {
                month: 12,
                day: 31,
                ..today
            })),
        );
    shares_page(&ctx, form, Vec::new()).await
}

/// `chosen`: the programs and indicators ticked on the new agreement's
/// form (checkboxes of one name, not among the form's single values).
async fn shares_page(ctx: &Ctx, form: Form, chosen: Vec<String>) -> Answer {
    let lang = ctx.lang;
    let list = ctx
        .sharing()
        .list_share_agreements(don::ListShareAgreementsRequest {
            page_size: 50,
            page_token: ctx.q("page").to_string(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let donors = ctx
        .sharing()
        .list_donors(don::ListDonorsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .donors;
    let settings = ctx
        .sharing()
        .get_sharing_settings(don::GetSharingSettingsRequest {})
        .await?
        .into_inner();
    let reads = ctx
        .sharing()
        .list_donor_reads(don::ListDonorReadsRequest {
            page_size: 10,
            ..Default::default()
        })
        .await?
        .into_inner();
    let (programs, definitions) = shareable(ctx).await?;
    let donor_name = |id: &str| {
        donors
            .iter()
            .find(|d| d.id == id)
            .map(|d| lang.text(d.name.as_ref()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.to_string())
    };
    let program_name = |id: &String| {
        programs
            .iter()
            .find(|p| &p.id == id)
            .map(|p| lang.text(p.name.as_ref()))
            .unwrap_or_else(|| id.clone())
    };
    let indicator_name = |code: &String| {
        definitions
            .iter()
            .find(|d| &d.code == code)
            .map(|d| lang.text(d.name.as_ref()))
            .unwrap_or_else(|| code.clone())
    };
    ctx.render_form(
        "shares.html",
        form,
        context! {
            agreements => list.share_agreements.iter().map(|a| context! {
                id => a.id,
                donor => donor_name(&a.donor_id),
                programs => a.program_ids.iter().map(program_name).collect::<Vec<_>>(),
                indicators => a.indicator_codes.iter().map(indicator_name).collect::<Vec<_>>(),
                from => lang.date(a.from.as_ref()),
                until => lang.date(a.until.as_ref()),
                purpose => lang.text(a.purpose.as_ref()),
                state => enum_name!(don::ShareState, a.state),
                active => a.state == don::ShareState::Active as i32,
                revoke_reason => a.revoke_reason,
                revoked => lang.timestamp(a.revoke_time.as_ref()),
                created => lang.timestamp(a.create_time.as_ref()),
            }).collect::<Vec<_>>(),
            total => lang.number(i64::from(list.total_size)),
            next => super::next_page(ctx, &list.next_page_token),
            threshold => lang.number(i64::from(settings.suppression_threshold)),
            iati => settings.iati_identifier,
            organisation => lang.text(settings.organisation_name.as_ref()),
            reads => reads.reads.iter().map(|r| context! {
                donor => donor_name(&r.donor_id),
                method => r.method,
                answered => lang.number(i64::from(r.values_answered)),
                suppressed => lang.number(i64::from(r.values_suppressed)),
                at => lang.timestamp(r.read_time.as_ref()),
            }).collect::<Vec<_>>(),
            reads_total => lang.number(i64::from(reads.total_size)),
            admin => has(ctx, Role::Admin),
            donor_choices => donors.iter().map(|d| Choice::named(lang, &d.id, d.name.as_ref())).collect::<Vec<_>>(),
            program_choices => programs.iter().map(|p| Choice::named(lang, &p.id, p.name.as_ref())).collect::<Vec<_>>(),
            indicator_choices => count_choices(lang, &definitions),
            chosen => chosen,
            done => ctx.q("done"),
        },
    )
}

/// What a tenant can share or publish: its grant programs and the
/// indicator catalogue.
async fn shareable(
    ctx: &Ctx,
) -> Result<
    (
        Vec<markaz_proto::grants::v1::Program>,
        Vec<imp::IndicatorDefinition>,
    ),
    crate::render::Fail,
> {
    let programs = ctx
        .grants()
        .list_programs(markaz_proto::grants::v1::ListProgramsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .programs;
    let definitions = ctx
        .impact()
        .list_indicator_definitions(imp::ListIndicatorDefinitionsRequest {})
        .await?
        .into_inner()
        .definitions;
    Ok((programs, definitions))
}

/// The indicators offered to donors and the public page: the catalogue's
/// counts — not money (a donor sees it per project), not the tenant's own
/// indicators — as the service allows.
fn count_choices(lang: Lang, definitions: &[imp::IndicatorDefinition]) -> Vec<Choice> {
    definitions
        .iter()
        .filter(|d| d.unit != "money" && d.base_code.is_empty())
        .map(|d| Choice::named(lang, &d.code, d.name.as_ref()))
        .collect()
}

/// Ends an agreement at once (admin; the service checks it too).
async fn revoke(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(&[Role::Admin])?;
    let answer = ctx
        .sharing()
        .revoke_share_agreement(don::RevokeShareAgreementRequest {
            id,
            reason: f.get("reason").trim().to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/impact/shares?done=share_revoked".to_string(),
        |form| shares_page(&ctx, form, Vec::new()),
    )
    .await
}

/// A new agreement: a registered donor sees the programs' awards and the
/// indicators ticked, for a period and a purpose (admin; the service checks
/// it too, and that the donor is registered).
async fn create_share(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(&[Role::Admin])?;
    let lang = ctx.lang;
    let from = parse_date(
        &mut form,
        lang,
        "share_agreement.from",
        f.get("share_agreement.from"),
    );
    let until = parse_date(
        &mut form,
        lang,
        "share_agreement.until",
        f.get("share_agreement.until"),
    );
    let programs: Vec<String> = f.ticked("share_agreement.program_ids");
    let indicators: Vec<String> = f.ticked("share_agreement.indicator_codes");
    let chosen: Vec<String> = programs.iter().chain(&indicators).cloned().collect();
    if form.has_errors() {
        return shares_page(&ctx, form, chosen).await;
    }
    let answer = ctx
        .sharing()
        .create_share_agreement(don::CreateShareAgreementRequest {
            share_agreement: Some(don::ShareAgreement {
                donor_id: f.get("share_agreement.donor_id").to_string(),
                program_ids: programs,
                indicator_codes: indicators,
                from,
                until,
                purpose: super::form_text(f, "share_agreement.purpose"),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/impact/shares?done=share_created".to_string(),
        |form| shares_page(&ctx, form, chosen),
    )
    .await
}

/// The form's name of a map entry, as the service names it in a violation
/// (`settings.branch_admin1_pcodes["raqqa"]`), so its objection lands next
/// to its input.
fn entry(map: &str, key: &str) -> String {
    format!("settings.{map}[{key:?}]")
}

/// When the settings were last saved, as the form carries it back: the
/// service's update time stands in for the etag it does not have.
fn saved_at(s: &don::SharingSettings) -> String {
    s.update_time
        .as_ref()
        .map(|t| format!("{}.{:09}", t.seconds, t.nanos))
        .unwrap_or_default()
}

/// The sharing settings as the form shows them.
fn settings_form(form: Form, s: &don::SharingSettings) -> Form {
    let form = form
        .with(
            "settings.suppression_threshold",
            s.suppression_threshold.to_string(),
        )
        .with("settings.iati_identifier", s.iati_identifier.clone())
        .with("saved_at", saved_at(s));
    let form = super::put_text(
        form,
        "settings.organisation_name",
        s.organisation_name.as_ref(),
    );
    let form = s.branch_admin1_pcodes.iter().fold(form, |f, (b, code)| {
        f.with(&entry("branch_admin1_pcodes", b), code.clone())
    });
    s.sector_dac5_codes.iter().fold(form, |f, (sector, code)| {
        f.with(&entry("sector_dac5_codes", sector), code.clone())
    })
}

/// The tenant's sharing settings (admin): the suppression threshold, the
/// center as an IATI reporting organisation, the indicators of its public
/// page, the programs whose IATI file it publishes at a stable address,
/// and the codes its files use for branches and sectors.
async fn settings(ctx: Ctx) -> Answer {
    ctx.require(&[Role::Admin])?;
    let current = ctx
        .sharing()
        .get_sharing_settings(don::GetSharingSettingsRequest {})
        .await?
        .into_inner();
    let chosen: Vec<String> = current
        .public_indicator_codes
        .iter()
        .chain(&current.published_program_ids)
        .cloned()
        .collect();
    settings_page(&ctx, settings_form(Form::new(), &current), chosen).await
}

async fn settings_page(ctx: &Ctx, form: Form, chosen: Vec<String>) -> Answer {
    let lang = ctx.lang;
    let (programs, definitions) = shareable(ctx).await?;
    let branches = super::branches(ctx).await?;
    ctx.render_form(
        "sharing_settings.html",
        form,
        context! {
            program_choices => programs.iter().map(|p| Choice::named(lang, &p.id, p.name.as_ref())).collect::<Vec<_>>(),
            indicator_choices => count_choices(lang, &definitions),
            branch_rows => branches.iter().map(|b| context! {
                name => entry("branch_admin1_pcodes", &b.id),
                label => lang.text(b.name.as_ref()),
            }).collect::<Vec<_>>(),
            sector_rows => super::enum_names!(common::Sector).into_iter().map(|s| context! {
                name => entry("sector_dac5_codes", s),
                label => lang.label(s),
            }).collect::<Vec<_>>(),
            chosen => chosen,
            public_base => format!("/public/{}/iati/", ctx.session.as_ref().map(|s| s.who.tenant.as_str()).unwrap_or("")),
        },
    )
}

/// Saves every setting at once (`UpdateSharingSettings` replaces them:
/// the form shows them all, so what it does not change is sent as it
/// was). The RPC has no etag; the console refuses a form opened before the
/// settings were last saved (their update time), so two admins do not
/// silently undo each other's change — a check, not a lock: a save landing
/// between the check and the write still wins.
async fn update_settings(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(&[Role::Admin])?;
    let lang = ctx.lang;
    let threshold = super::parse_int(
        &mut form,
        lang,
        "settings.suppression_threshold",
        f.get("settings.suppression_threshold"),
    )
    .unwrap_or(0);
    let threshold = i32::try_from(threshold).unwrap_or_else(|_| {
        form.object(
            "settings.suppression_threshold",
            lang.label("form_bad_number"),
        );
        0
    });
    let codes: Vec<String> = f.ticked("settings.public_indicator_codes");
    let programs: Vec<String> = f.ticked("settings.published_program_ids");
    let chosen: Vec<String> = codes.iter().chain(&programs).cloned().collect();
    // A map entry per filled row; an empty row is no entry.
    let entries = |map: &str| {
        let prefix = format!("settings.{map}[\"");
        f.0.iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix(&prefix)?.strip_suffix("\"]")?;
                let v = v.trim();
                (!v.is_empty()).then(|| (key.to_string(), v.to_string()))
            })
            .collect::<std::collections::HashMap<String, String>>()
    };
    let branch_admin1_pcodes = entries("branch_admin1_pcodes");
    let sector_dac5_codes = entries("sector_dac5_codes");
    let current = ctx
        .sharing()
        .get_sharing_settings(don::GetSharingSettingsRequest {})
        .await?
        .into_inner();
    if saved_at(&current) != f.get("saved_at") {
        // Shown again as typed, now against the current save: sent once
        // more, it replaces what the other admin saved.
        form.refusals.push(lang.label("sharing_settings_stale"));
        form = form.with("saved_at", saved_at(&current));
    }
    if form.has_errors() {
        return settings_page(&ctx, form, chosen).await;
    }
    let answer = ctx
        .sharing()
        .update_sharing_settings(don::UpdateSharingSettingsRequest {
            settings: Some(don::SharingSettings {
                suppression_threshold: threshold,
                iati_identifier: f.get("settings.iati_identifier").trim().to_string(),
                organisation_name: super::form_text(f, "settings.organisation_name"),
                public_indicator_codes: codes,
                published_program_ids: programs,
                branch_admin1_pcodes,
                sector_dac5_codes,
                update_time: None,
            }),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/impact/shares?done=sharing_settings_saved".to_string(),
        |form| settings_page(&ctx, form, chosen),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The x of the label `text` (the first `<text>` holding it).
    fn x_of(svg: &str, text: &str) -> f64 {
        let before = svg
            .split(&format!(">{text}</text>"))
            .next()
            .expect("the label is drawn");
        let tag = before.rsplit("<text").next().unwrap();
        tag.split("x=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn the_axis_reads_the_reader_s_way() {
        let (_, months) = periods(
            common::Date {
                year: 2025,
                month: 11,
                day: 1,
            },
            common::Date {
                year: 2026,
                month: 2,
                day: 28,
            },
        );
        assert_eq!(months, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        let values = [1, 2, 3, 4];
        let ar = svg_bars(Lang::Ar, "المتدربون", &months, &values);
        // Month names, the year under the first bar and under January, in
        // Arabic-Indic digits; the text drawn right to left.
        assert!(ar.contains(r#"direction="rtl""#));
        for name in ["تشرين الثاني", "كانون الأول", "كانون الثاني", "شباط"]
        {
            assert!(ar.contains(&format!(">{name}</text>")), "{name}: {ar}");
        }
        assert!(ar.contains(">٢٠٢٥</text>") && ar.contains(">٢٠٢٦</text>"));
        assert_eq!(ar.matches(r#"class="year""#).count(), 2);
        assert!(ar.contains("<title>كانون الثاني ٢٠٢٦: ٣</title>"), "{ar}");
        // November, the first, at the right; February at the left.
        assert!(x_of(&ar, "تشرين الثاني") > x_of(&ar, "كانون الأول"));
        assert!(x_of(&ar, "كانون الأول") > x_of(&ar, "شباط"));
        let en = svg_bars(Lang::En, "Trainees", &months, &values);
        assert!(en.contains(r#"direction="ltr""#));
        assert!(x_of(&en, "Nov") < x_of(&en, "Feb"));
        assert!(en.contains("<title>Jan 2026: 3</title>"));
    }
}
