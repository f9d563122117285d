//! Signing in and out, and the reader's language.

use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use markaz_kit::auth::{Caller, Role};
use minijinja::context;

use super::local_path;
use crate::AppState;
use crate::http::{clear_cookie, cookie, set_cookie};
use crate::oidc::{DEV_ROLES, SignIn, expiry, who_am_i};
use crate::render::{Answer, Ctx, Form, redirect_response};
use crate::session::{LANG_COOKIE, LOGIN_COOKIE, PendingLogin, SESSION_COOKIE, now_secs};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/signin", get(sign_in_page).post(dev_sign_in))
        .route("/signin/callback", get(callback))
        .route("/signout", post(sign_out))
        .route("/lang", post(choose_language))
}

async fn sign_in_page(ctx: Ctx) -> Answer {
    let next = local_path(ctx.q("next")).to_string();
    match &ctx.state.sign_in {
        SignIn::Oidc(oidc) => {
            let auth = oidc.authorize();
            ctx.state.sessions.start_login(
                auth.state.clone(),
                PendingLogin {
                    verifier: auth.verifier,
                    nonce: auth.nonce,
                    return_to: next,
                    started_at: now_secs(),
                },
            );
            // The browser that comes back must be the one that left.
            let mut r = redirect_response(false, &auth.url);
            r.headers_mut().append(
                http::header::SET_COOKIE,
                set_cookie(
                    LOGIN_COOKIE,
                    &auth.state,
                    ctx.state.sessions.cookie_flags(Some(600)),
                ),
            );
            Ok(r)
        }
        SignIn::Dev(dev) => dev_page(&ctx, &dev.tenant, Form::new().with("next", next)),
    }
}

fn dev_page(ctx: &Ctx, tenant: &str, form: Form) -> Answer {
    let roles: Vec<&str> = DEV_ROLES.iter().map(|r| r.as_str()).collect();
    ctx.render_form(
        "signin.html",
        form,
        context! { roles => roles, tenant => tenant },
    )
}

/// `markaz dev` only: a token for the chosen role of the demo tenant.
async fn dev_sign_in(ctx: Ctx) -> Answer {
    let SignIn::Dev(dev) = &ctx.state.sign_in else {
        return Err(crate::render::Fail::NotFound);
    };
    let f = &ctx.fields;
    let mut form = Form::posted(f);
    let role: Option<Role> = f.get("role").parse().ok().filter(|r| DEV_ROLES.contains(r));
    let subject = f.get("subject").trim();
    let org = f.get("organization").trim();
    if role.is_none() {
        form.object("role", ctx.lang.label("signin_pick_role"));
    }
    if subject.is_empty() {
        form.object("subject", ctx.lang.label("form_required"));
    }
    if role == Some(Role::Partner) && org.is_empty() {
        form.object("organization", ctx.lang.label("signin_partner_org"));
    }
    let Some(role) = role.filter(|_| !form.has_errors()) else {
        return dev_page(&ctx, &dev.tenant, form);
    };
    let token = dev.token(subject, role, (role == Role::Partner).then_some(org));
    match who_am_i(&ctx.state.upstream, &token).await {
        Ok(who) => Ok(start_session(&ctx, token, who, None, f.get("next"))),
        Err(e) => {
            form.refusals.push(e);
            dev_page(&ctx, &dev.tenant, form)
        }
    }
}

/// A new session (a new id: never one the browser had before).
fn start_session(
    ctx: &Ctx,
    token: String,
    who: Caller,
    expires_in: Option<i64>,
    next: &str,
) -> Response {
    if let Some(old) = cookie(&ctx.headers, SESSION_COOKIE) {
        ctx.state.sessions.end(old);
    }
    let now = now_secs();
    let longest = now + ctx.state.config.session_hours as i64 * 3600;
    let token_end = expires_in
        .map(|s| now + s)
        .or_else(|| expiry(&token))
        .unwrap_or(longest);
    let operator_only = who.roles == [Role::Operator];
    let session = ctx
        .state
        .sessions
        .create(token, who, token_end.min(longest));
    let next = match local_path(next) {
        "/" | "" if operator_only => "/admin",
        "/" | "" => "/today",
        other => other,
    };
    let mut r = redirect_response(false, next);
    let age = (session.expires_at - now).max(0) as u64;
    r.headers_mut().append(
        http::header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &session.id,
            ctx.state.sessions.cookie_flags(Some(age)),
        ),
    );
    r
}

/// The issuer sends the browser back here with `code` and `state`.
async fn callback(ctx: Ctx) -> Answer {
    let SignIn::Oidc(oidc) = &ctx.state.sign_in else {
        return Err(crate::render::Fail::NotFound);
    };
    let state = ctx.q("state");
    let bound = cookie(&ctx.headers, LOGIN_COOKIE).is_some_and(|c| c == state && !state.is_empty());
    let pending = if bound {
        ctx.state.sessions.finish_login(state)
    } else {
        None
    };
    let failed = |why: String| {
        tracing::warn!(why, "sign-in failed");
        Ok(ctx.render_status(
            http::StatusCode::UNAUTHORIZED,
            "error.html",
            context! {
                title_key => "signin_failed_title",
                body_key => "signin_failed_body",
                reasons => vec![why],
            },
        ))
    };
    let Some(pending) = pending else {
        return failed("this sign-in was not started by this browser, or took too long".into());
    };
    if !ctx.q("error").is_empty() {
        return failed(format!("the issuer said: {}", ctx.q("error")));
    }
    match oidc
        .finish(
            ctx.q("code"),
            &pending.verifier,
            &pending.nonce,
            &ctx.state.upstream,
        )
        .await
    {
        Ok(done) => {
            let mut r = start_session(
                &ctx,
                done.token,
                done.who,
                done.expires_in,
                &pending.return_to,
            );
            r.headers_mut().append(
                http::header::SET_COOKIE,
                clear_cookie(LOGIN_COOKIE, ctx.state.sessions.secure),
            );
            Ok(r)
        }
        Err(why) => failed(why),
    }
}

async fn sign_out(ctx: Ctx) -> Answer {
    if let Some(s) = &ctx.session {
        ctx.state.sessions.end(&s.id);
    }
    let mut r = redirect_response(false, "/public");
    r.headers_mut().append(
        http::header::SET_COOKIE,
        clear_cookie(SESSION_COOKIE, ctx.state.sessions.secure),
    );
    Ok(r)
}

/// Arabic or English, remembered for a year in this browser.
async fn choose_language(ctx: Ctx) -> Answer {
    let lang = crate::i18n::Lang::parse(ctx.fields.get("lang")).unwrap_or(crate::i18n::Lang::Ar);
    let mut r = redirect_response(false, local_path(ctx.fields.get("back")));
    let mut flags = ctx.state.sessions.cookie_flags(Some(365 * 24 * 3600));
    flags.http_only = true;
    r.headers_mut().append(
        http::header::SET_COOKIE,
        set_cookie(LANG_COOKIE, lang.code(), flags),
    );
    Ok(r)
}
