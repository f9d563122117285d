//! Public pages, no sign-in: certificate verification, the training
//! suggestion form, and the place of the center's public profile (its
//! figures wait for the impact service).

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use minijinja::context;

use super::enum_name;
use crate::AppState;
use crate::render::Outcome::{Again, Done};
use crate::render::{Answer, Ctx, Form};
use crate::upstream::{Authed, Bearer};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/public", get(landing))
        .route("/verify", get(verify))
        .route("/suggest", get(suggest_form).post(suggest))
        .route("/profile", get(profile))
}

/// The public RPCs, called with no token even for someone signed in: the
/// page is the same for everyone.
fn anonymous(ctx: &Ctx) -> CapacityServiceClient<Authed> {
    ctx.state.upstream.capacity(&Bearer::default())
}

async fn landing(ctx: Ctx) -> Answer {
    ctx.render("verify.html", context! { landing => true })
}

/// The profile's figures are to be computed live from the impact
/// indicators; until that service exists the page says so.
async fn profile(ctx: Ctx) -> Answer {
    ctx.render(
        "planned.html",
        context! { section => "public_profile", service => "impact" },
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
