//! Administration: people and erasure (with its receipt), branches, tenants
//! (operators), and the dead letters (operators; no public API yet).

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_kit::auth::Role;
use markaz_proto::common::v1 as common;
use markaz_proto::membership::v1 as mem;
use minijinja::context;

use super::{ADMINISTRATION, OPERATOR, STAFF, enum_name, form_text, next_page};
use crate::AppState;
use crate::render::{Answer, Ctx, Form};
use crate::upstream::authed;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/people", get(people).post(create_person))
        .route("/admin/people/{id}", get(person))
        .route("/admin/people/{id}/erase", post(erase))
        .route("/admin/branches", post(create_branch))
        .route("/admin/tenants", get(tenants).post(create_tenant))
        .route("/admin/dead-letters", get(dead_letters))
}

async fn index(ctx: Ctx) -> Answer {
    let session = ctx.require(ADMINISTRATION)?;
    if session.who.roles.contains(&Role::Operator) && !session.who.is_staff() {
        return ctx.redirect("/admin/tenants");
    }
    ctx.redirect("/admin/people")
}

async fn people(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    people_page(&ctx, Form::new(), http::StatusCode::OK).await
}

async fn people_page(ctx: &Ctx, form: Form, status: http::StatusCode) -> Answer {
    let lang = ctx.lang;
    let list = ctx
        .state
        .upstream
        .membership()
        .list_people(authed(
            mem::ListPeopleRequest {
                page_size: 50,
                page_token: ctx.q("page").to_string(),
                query: ctx.q("q").to_string(),
                ..Default::default()
            },
            ctx.token(),
        ))
        .await?
        .into_inner();
    let branches = ctx
        .state
        .upstream
        .membership()
        .list_branches(authed(
            mem::ListBranchesRequest {
                page_size: 100,
                ..Default::default()
            },
            ctx.token(),
        ))
        .await?
        .into_inner();
    Ok(ctx.render_status(
        status,
        "people.html",
        context! {
            people => list.people.iter().map(|p| context! {
                id => p.id,
                name => p.full_name,
                gender => enum_name!(common::Gender, p.gender),
                erased => p.erased,
                created => lang.timestamp(p.create_time.as_ref()),
            }).collect::<Vec<_>>(),
            next => next_page(ctx, &list.next_page_token),
            search => Form::default().with("q", ctx.q("q")),
            branches => branches.branches.iter().map(|b| context! { id => b.id, name => lang.text(b.name.as_ref()), governorate => b.governorate }).collect::<Vec<_>>(),
            admin => ctx.session.as_ref().is_some_and(|s| s.who.roles.contains(&Role::Admin)),
            choices => person_choices(lang),
            form => form,
            done => ctx.q("done"),
        },
    ))
}

/// The person a form describes (the fields of `macros.html`'s
/// `person_fields`): the minimum, with the legal basis and purpose.
pub fn person_from_form(f: &crate::session::FormFields) -> mem::Person {
    mem::Person {
        full_name: f.get("person.full_name").trim().to_string(),
        gender: super::enum_value!(common::Gender, f.get("person.gender")),
        age_band: super::enum_value!(common::AgeBand, f.get("person.age_band")),
        phone: f.get("person.phone").trim().to_string(),
        email: f.get("person.email").trim().to_string(),
        branch_id: f.get("person.branch_id").to_string(),
        legal_basis: super::enum_value!(mem::LegalBasis, f.get("person.legal_basis")),
        processing_purpose: f.get("person.processing_purpose").trim().to_string(),
        ..Default::default()
    }
}

/// The choices the person fields offer.
pub fn person_choices(lang: crate::i18n::Lang) -> minijinja::Value {
    use super::{choices, enum_names};
    context! {
        genders => choices(lang, enum_names!(common::Gender)),
        age_bands => choices(lang, enum_names!(common::AgeBand)),
        legal_bases => choices(lang, enum_names!(mem::LegalBasis)),
    }
}

/// Registers a person with no organization (a reviewer, an individual).
async fn create_person(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let form = Form::posted(&ctx.form);
    let answer = ctx
        .state
        .upstream
        .membership()
        .create_person(authed(
            mem::CreatePersonRequest {
                person: Some(person_from_form(&ctx.form)),
                request_id: form.request_id.clone(),
            },
            ctx.token(),
        ))
        .await;
    ctx.settle(
        answer,
        form,
        |p| format!("/admin/people/{}?done=person_added", p.id),
        |form| people_page(&ctx, form, http::StatusCode::UNPROCESSABLE_ENTITY),
    )
    .await
}

async fn person(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    person_page(&ctx, &id, Form::new(), http::StatusCode::OK).await
}

async fn person_page(ctx: &Ctx, id: &str, form: Form, status: http::StatusCode) -> Answer {
    let lang = ctx.lang;
    let p = ctx
        .state
        .upstream
        .membership()
        .get_person(authed(
            mem::GetPersonRequest { id: id.to_string() },
            ctx.token(),
        ))
        .await?
        .into_inner();
    Ok(ctx.render_status(
        status,
        "person.html",
        context! {
            p => context! {
                id => p.id,
                name => p.full_name,
                gender => enum_name!(common::Gender, p.gender),
                age_band => enum_name!(common::AgeBand, p.age_band),
                phone => p.phone,
                email => p.email,
                legal_basis => enum_name!(mem::LegalBasis, p.legal_basis),
                purpose => p.processing_purpose,
                erased => p.erased,
                created => lang.timestamp(p.create_time.as_ref()),
                updated => lang.timestamp(p.update_time.as_ref()),
            },
            form => form,
            done => ctx.q("done"),
        },
    ))
}

/// Erases a person (every service holding a copy follows); the page shown
/// after is the receipt: what is left, and when.
async fn erase(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let form = Form::posted(&ctx.form);
    let answer = ctx
        .state
        .upstream
        .membership()
        .erase_person(authed(
            mem::ErasePersonRequest {
                id: id.clone(),
                reason: ctx.form.get("reason").trim().to_string(),
            },
            ctx.token(),
        ))
        .await;
    ctx.settle(
        answer,
        form,
        |_| format!("/admin/people/{id}?done=person_erased"),
        |form| person_page(&ctx, &id, form, http::StatusCode::UNPROCESSABLE_ENTITY),
    )
    .await
}

async fn create_branch(ctx: Ctx) -> Answer {
    ctx.require(&[Role::Admin])?;
    let f = &ctx.form;
    let form = Form::posted(f);
    let answer = ctx
        .state
        .upstream
        .membership()
        .create_branch(authed(
            mem::CreateBranchRequest {
                branch: Some(mem::Branch {
                    id: f.get("branch.id").trim().to_string(),
                    name: form_text(f, "branch.name"),
                    governorate: f.get("branch.governorate").trim().to_string(),
                    create_time: None,
                }),
            },
            ctx.token(),
        ))
        .await;
    ctx.settle(
        answer,
        form,
        |_| "/admin/people?done=branch_created".to_string(),
        |form| people_page(&ctx, form, http::StatusCode::UNPROCESSABLE_ENTITY),
    )
    .await
}

async fn tenants(ctx: Ctx) -> Answer {
    ctx.require(OPERATOR)?;
    tenants_page(&ctx, Form::new(), http::StatusCode::OK).await
}

async fn tenants_page(ctx: &Ctx, form: Form, status: http::StatusCode) -> Answer {
    let lang = ctx.lang;
    let list = ctx
        .state
        .upstream
        .membership()
        .list_tenants(authed(
            mem::ListTenantsRequest {
                page_size: 100,
                page_token: ctx.q("page").to_string(),
            },
            ctx.token(),
        ))
        .await?
        .into_inner();
    Ok(ctx.render_status(
        status,
        "tenants.html",
        context! {
            tenants => list.tenants.iter().map(|t| context! {
                id => t.id,
                name => lang.text(t.name.as_ref()),
                prefix => t.identifier_prefix,
                created => lang.timestamp(t.create_time.as_ref()),
            }).collect::<Vec<_>>(),
            next => next_page(ctx, &list.next_page_token),
            form => form,
            done => ctx.q("done"),
            letters => false,
        },
    ))
}

async fn create_tenant(ctx: Ctx) -> Answer {
    ctx.require(OPERATOR)?;
    let f = &ctx.form;
    let form = Form::posted(f);
    let answer = ctx
        .state
        .upstream
        .membership()
        .create_tenant(authed(
            mem::CreateTenantRequest {
                tenant: Some(mem::Tenant {
                    id: f.get("tenant.id").trim().to_string(),
                    name: form_text(f, "tenant.name"),
                    identifier_prefix: f.get("tenant.identifier_prefix").trim().to_string(),
                    create_time: None,
                }),
            },
            ctx.token(),
        ))
        .await;
    ctx.settle(
        answer,
        form,
        |_| "/admin/tenants?done=tenant_created".to_string(),
        |form| tenants_page(&ctx, form, http::StatusCode::UNPROCESSABLE_ENTITY),
    )
    .await
}

/// Dead letters live in each service's database and no service offers them
/// over gRPC yet; the console has no database, so it says where to look.
async fn dead_letters(ctx: Ctx) -> Answer {
    ctx.require(OPERATOR)?;
    ctx.render(
        "tenants.html",
        context! { letters => true, tenants => Vec::<()>::new(), form => Form::new() },
    )
}
