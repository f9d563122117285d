//! Public pages, no sign-in: certificate verification, the training
//! suggestion and consultation-request forms, the center's public profile (its figures computed live
//! by the impact service, small counts withheld) and the IATI files it
//! publishes, at stable addresses for IATI's pipeline.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1 as common;
use markaz_proto::donors::v1 as don;
use markaz_proto::donors::v1::sharing_service_client::SharingServiceClient;
use markaz_proto::impact::v1 as imp;
use minijinja::context;

use super::{FileUse, choices, enum_name, enum_names, enum_value};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::Outcome::{Again, Done};
use crate::render::{Answer, Ctx, Fail, Form};
use crate::upstream::Authed;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/public", get(landing))
        .route("/verify", get(verify))
        .route("/suggest", get(suggest_form).post(suggest))
        .route("/consult", get(consult_form).post(consult))
        .route("/profile", get(profile))
        .route("/public/{tenant}", get(tenant_profile))
        .route("/public/{tenant}/iati/{file}", get(published_iati))
}

/// The public RPCs, called with no token even for someone signed in: the
/// page is the same for everyone, and the services' limits count the
/// visitor's address, which the console passes on.
fn anonymous(ctx: &Ctx) -> CapacityServiceClient<Authed> {
    ctx.state.upstream.capacity(&ctx.anonymous())
}

fn anonymous_sharing(ctx: &Ctx) -> SharingServiceClient<Authed> {
    ctx.state.upstream.sharing(&ctx.anonymous())
}

/// A published program's IATI activity file at a stable address
/// (`/public/{tenant}/iati/{program}.xml`), for IATI's pipeline, which
/// fetches it again when told and keeps it while its ETag holds: no
/// sign-in, the service's `GetPublishedIatiFile` with no token. An
/// unpublished or unknown program is 404 (the service answers both
/// alike), the service's rate limit 429.
async fn published_iati(ctx: Ctx, Path((tenant, file)): Path<(String, String)>) -> Answer {
    // `<program>.xml.sha256` beside the file: its hash alone, for a
    // pipeline that checks before it fetches.
    let (program_id, hash_only) = match file.strip_suffix(".xml.sha256") {
        Some(p) => (p, true),
        None => (file.strip_suffix(".xml").ok_or(Fail::NotFound)?, false),
    };
    let held = super::if_none_match(&ctx.headers);
    // One hash is the service's to compare (it then sends no content);
    // several, the console compares them with the current one.
    let if_none_match = match held.as_slice() {
        [one] => one.clone(),
        _ => String::new(),
    };
    let answer = anonymous_sharing(&ctx)
        .get_published_iati_file(don::GetPublishedIatiFileRequest {
            tenant_id: tenant,
            program_id: program_id.to_string(),
            if_none_match,
        })
        .await;
    let published = match answer {
        Ok(p) => p.into_inner(),
        // A malformed program id or tenant in the address names no file.
        Err(s) if s.code() == tonic::Code::InvalidArgument => return Err(Fail::NotFound),
        Err(s) => return Err(s.into()),
    };
    let file = published.file.unwrap_or_default();
    if hash_only {
        let mut r = crate::http::compressed(
            &ctx.headers,
            "text/plain; charset=utf-8",
            format!("{}\n", file.sha256).into_bytes(),
        );
        r.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("public, no-cache"),
        );
        return Ok(r);
    }
    let not_modified = published.not_modified || held.contains(&file.sha256);
    Ok(super::file_answer(file, FileUse::Published, not_modified))
}

async fn landing(ctx: Ctx) -> Answer {
    ctx.render("verify.html", context! { landing => true })
}

/// The configured center's public profile (`MARKAZ_CONSOLE_TENANT`, the
/// center whose public forms the console serves); another center's is at
/// `/public/{tenant}`.
async fn profile(ctx: Ctx) -> Answer {
    let tenant = ctx.state.config.public_tenant.clone();
    if tenant.is_empty() {
        return Err(Fail::NotFound);
    }
    profile_page(&ctx, tenant).await
}

async fn tenant_profile(ctx: Ctx, Path(tenant): Path<String>) -> Answer {
    profile_page(&ctx, tenant).await
}

/// The last four calendar quarters, this one last: whole quarters, as the
/// service answers them.
fn last_quarters(today: markaz_kit::time::Date) -> (common::Date, common::Date) {
    let t = today.to_proto();
    let this = t.year * 4 + (t.month - 1) / 3;
    let first = this - 3;
    let from = common::Date {
        year: first / 4,
        month: first % 4 * 3 + 1,
        day: 1,
    };
    let last_month = this % 4 * 3 + 3;
    let until = common::Date {
        year: this / 4,
        month: last_month,
        day: if last_month == 6 || last_month == 9 {
            30
        } else {
            31
        },
    };
    (from, until)
}

/// "2026-Q1" as the reader reads it: `الربع الأول ٢٠٢٦`, `Q1 2026`.
fn quarter_label(lang: Lang, quarter: &str) -> String {
    match quarter.split_once("-Q") {
        Some((year, q)) => lang.digits(&format!(
            "{} {year}",
            lang.get(&format!("quarter_{q}")).unwrap_or(q)
        )),
        None => quarter.to_string(),
    }
}

/// The cell of one gender in a figure split by gender.
fn gender_cell(f: &don::DonorFigures, gender: common::Gender) -> Option<&don::DonorValue> {
    f.cells
        .iter()
        .find(|c| c.key.iter().any(|k| k.value == gender.as_str_name()))
        .and_then(|c| c.value.as_ref())
}

/// A public value: the number, or withheld — never a 0 for a withheld
/// cell (the service sends 0, which means nothing).
fn public_value(lang: Lang, v: Option<&don::DonorValue>) -> minijinja::Value {
    match v {
        Some(v) if v.suppressed => context! { withheld => true },
        Some(v) => context! { value => lang.number(v.value) },
        None => context! { value => "" },
    }
}

/// The center's public figures, computed live by the impact service from
/// its records (`GetPublicFigures`: the indicators its admin made public,
/// per quarter, small counts withheld exactly as a donor sees them), by
/// indicator and quarter, women and men where the indicator counts people
/// by gender. No token: the page is the same for everyone.
async fn profile_page(ctx: &Ctx, tenant: String) -> Answer {
    let lang = ctx.lang;
    let (from, until) = last_quarters(markaz_kit::time::Date::today());
    let ask = |group_by: Vec<i32>| don::GetPublicFiguresRequest {
        tenant_id: tenant.clone(),
        codes: Vec::new(),
        from: Some(from),
        until: Some(until),
        group_by,
    };
    let totals = match anonymous_sharing(ctx)
        .get_public_figures(ask(Vec::new()))
        .await
    {
        Ok(t) => t.into_inner(),
        // Publishing nothing and not being here answer alike.
        Err(s)
            if matches!(
                s.code(),
                tonic::Code::NotFound | tonic::Code::InvalidArgument
            ) =>
        {
            return ctx.render(
                "profile.html",
                context! { tenant => tenant, nothing => true },
            );
        }
        Err(s) => return Err(s.into()),
    };
    // The gender split of the indicators that have one (the others are
    // left out of that answer).
    let by_gender = anonymous_sharing(ctx)
        .get_public_figures(ask(vec![imp::Dimension::Gender as i32]))
        .await?
        .into_inner();
    let mut quarters: Vec<String> = totals.figures.iter().map(|f| f.quarter.clone()).collect();
    quarters.sort();
    quarters.dedup();
    let mut codes: Vec<&don::DonorFigures> = Vec::new();
    for f in &totals.figures {
        if !codes.iter().any(|c| c.code == f.code) {
            codes.push(f);
        }
    }

    let rows: Vec<minijinja::Value> = codes
        .iter()
        .map(|first| {
            let values: Vec<minijinja::Value> = quarters
                .iter()
                .map(|q| {
                    let total = totals
                        .figures
                        .iter()
                        .find(|f| f.code == first.code && &f.quarter == q);
                    let split = by_gender
                        .figures
                        .iter()
                        .find(|f| f.code == first.code && &f.quarter == q);
                    context! {
                        total => public_value(lang, total.and_then(|f| f.total.as_ref())),
                        female => split.map(|f| public_value(lang, gender_cell(f, common::Gender::Female))),
                        male => split.map(|f| public_value(lang, gender_cell(f, common::Gender::Male))),
                    }
                })
                .collect();
            context! {
                code => first.code,
                name => lang.text(first.name.as_ref()),
                values => values,
            }
        })
        .collect();
    // The files anyone may fetch, at their stable addresses.
    let files: Vec<minijinja::Value> = totals
        .published_program_ids
        .iter()
        .map(|program| {
            context! {
                program => program,
                // Tenant ids are slugs and program ids UUIDs: both safe in a path.
                href => format!("/public/{tenant}/iati/{program}.xml"),
            }
        })
        .collect();
    let center = lang.text(totals.center_name.as_ref());
    ctx.render(
        "profile.html",
        context! {
            tenant => tenant,
            center => center,
            files => files,
            quarters => quarters.iter().map(|q| quarter_label(lang, q)).collect::<Vec<_>>(),
            rows => rows,
            threshold => lang.number(i64::from(totals.suppression_threshold)),
        },
    )
}

async fn verify(ctx: Ctx) -> Answer {
    let lang = ctx.lang;
    let code = ctx.q("code").trim().to_string();
    let form = Form::default().with("code", code.clone());
    if code.is_empty() {
        return ctx.render("verify.html", context! { form => form });
    }
    let answer = anonymous(&ctx)
        .verify_certificate(cap::VerifyCertificateRequest { code })
        .await;
    match answer {
        Ok(v) => {
            let v = v.into_inner();
            ctx.render(
                "verify.html",
                context! {
                    form => form,
                    result => context! {
                        valid => v.valid,
                        revoked => v.revoked,
                        code => v.code,
                        center => v.center,
                        name => v.participant_name,
                        course => lang.text(v.course_title.as_ref()),
                        kind => enum_name!(cap::CourseKind, v.course_kind),
                        starts => lang.date(v.start_date.as_ref()),
                        ends => lang.date(v.end_date.as_ref()),
                        issued => lang.timestamp(v.issue_time.as_ref()),
                    },
                },
            )
        }
        Err(s) if s.code() == tonic::Code::NotFound => {
            ctx.render("verify.html", context! { form => form, unknown => true })
        }
        Err(s) => {
            let mut form = form;
            form.absorb(s)?;
            ctx.render_form("verify.html", form, context! {})
        }
    }
}

async fn suggest_form(ctx: Ctx) -> Answer {
    let form = Form::new().with("tenant_id", ctx.state.config.public_tenant.clone());
    ctx.render(
        "suggest.html",
        context! { form => form, fixed_tenant => !ctx.state.config.public_tenant.is_empty() },
    )
}

async fn suggest(ctx: Ctx) -> Answer {
    let f = &ctx.fields;
    let mut form = Form::posted(f);
    let tenant_id = if ctx.state.config.public_tenant.is_empty() {
        f.get("tenant_id").trim().to_string()
    } else {
        ctx.state.config.public_tenant.clone()
    };
    let answer = anonymous(&ctx)
        .suggest_training(cap::SuggestTrainingRequest {
            tenant_id,
            suggestion: Some(cap::TrainingSuggestion {
                title: f.get("suggestion.title").trim().to_string(),
                description: f.get("suggestion.description").trim().to_string(),
                suggested_by: f.get("suggestion.suggested_by").trim().to_string(),
                contact: f.get("suggestion.contact").trim().to_string(),
                ..Default::default()
            }),
        })
        .await;
    let fixed = !ctx.state.config.public_tenant.is_empty();
    match form.outcome(answer)? {
        Done(r) => {
            ctx.render(
                "suggest.html",
                context! { receipt => context! { id => r.id, at => ctx.lang.timestamp(r.create_time.as_ref()) }, form => Form::new(), fixed_tenant => fixed },
            )
        }
        Again => ctx.render_form("suggest.html", form, context! { fixed_tenant => fixed }),
    }
}

/// The consultation-request form: the suggestion form's shape (the center
/// fixed by the console's configuration, or typed), with the kinds of
/// support to choose from.
fn consult_page(ctx: &Ctx, form: Form, receipt: Option<minijinja::Value>) -> Answer {
    ctx.render_form(
        "consult.html",
        form,
        context! {
            receipt => receipt,
            fixed_tenant => !ctx.state.config.public_tenant.is_empty(),
            kinds => choices(ctx.lang, enum_names!(cap::ConsultationKind)),
        },
    )
}

async fn consult_form(ctx: Ctx) -> Answer {
    let form = Form::new().with("tenant_id", ctx.state.config.public_tenant.clone());
    consult_page(&ctx, form, None)
}

async fn consult(ctx: Ctx) -> Answer {
    let f = &ctx.fields;
    let mut form = Form::posted(f);
    let tenant_id = if ctx.state.config.public_tenant.is_empty() {
        f.get("tenant_id").trim().to_string()
    } else {
        ctx.state.config.public_tenant.clone()
    };
    let answer = anonymous(&ctx)
        .request_consultation(cap::RequestConsultationRequest {
            tenant_id,
            request: Some(cap::ConsultationRequest {
                requester_name: f.get("request.requester_name").trim().to_string(),
                contact: f.get("request.contact").trim().to_string(),
                organization_name: f.get("request.organization_name").trim().to_string(),
                kind: enum_value!(cap::ConsultationKind, f.get("request.kind")),
                description: f.get("request.description").trim().to_string(),
                ..Default::default()
            }),
        })
        .await;
    match form.outcome(answer)? {
        // The thank-you page: the receipt, and an empty form (what was sent
        // is not shown back to whoever uses the screen next).
        Done(r) => {
            let receipt = context! { id => r.id, at => ctx.lang.timestamp(r.create_time.as_ref()) };
            consult_page(&ctx, Form::new(), Some(receipt))
        }
        Again => consult_page(&ctx, form, None),
    }
}
