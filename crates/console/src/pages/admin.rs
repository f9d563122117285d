//! Administration: people and erasure (asked for in two steps; the
//! requests and their receipts), branches, tenants and donor platforms
//! (operators), and the dead letters of the services (operators).

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_kit::auth::Role;
use markaz_proto::common::v1 as common;
use markaz_proto::membership::v1 as mem;
use minijinja::context;

use super::{
    ADMINISTRATION, OPERATOR, STAFF, branches, choices, enum_name, enum_names, enum_value,
    form_text, next_page,
};
use crate::AppState;
use crate::render::Outcome::{Again, Done};
use crate::render::{Answer, Ctx, Form};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/people", get(people).post(create_person))
        .route("/admin/people/{id}", get(person))
        .route("/admin/people/{id}/erase", post(erase))
        .route("/admin/erasures", get(erasures))
        .route("/admin/erasures/{id}", get(erasure))
        .route("/admin/branches", post(create_branch))
        .route("/admin/tenants", get(tenants).post(create_tenant))
        .route("/admin/dead-letters", get(dead_letters))
        .route(
            "/admin/dead-letters/{service}/{id}/replay",
            post(replay_dead_letter),
        )
        .route("/admin/donors", get(donors).post(register_donor))
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
    people_page(&ctx, Form::new()).await
}

async fn people_page(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let list = ctx
        .membership()
        .list_people(mem::ListPeopleRequest {
            page_size: 50,
            page_token: ctx.q("page").to_string(),
            query: ctx.q("q").to_string(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let branches = branches(ctx).await?;
    ctx.render_form(
        "people.html",
        form,
        context! {
            people => list.people.iter().map(|p| context! {
                id => p.id,
                name => p.full_name,
                gender => enum_name!(common::Gender, p.gender),
                erased => p.erased,
                created => lang.timestamp(p.create_time.as_ref()),
            }).collect::<Vec<_>>(),
            next => next_page(ctx, &list.next_page_token),
            search => ctx.filters(&["q"]),
            branches => branches.iter().map(|b| context! { id => b.id, name => lang.text(b.name.as_ref()), governorate => b.governorate }).collect::<Vec<_>>(),
            admin => ctx.session.as_ref().is_some_and(|s| s.who.roles.contains(&Role::Admin)),
            choices => person_choices(lang),
            done => ctx.q("done"),
        },
    )
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
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .membership()
        .create_person(mem::CreatePersonRequest {
            person: Some(person_from_form(f)),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |p| format!("/admin/people/{}?done=person_added", p.id),
        |form| people_page(&ctx, form),
    )
    .await
}

async fn person(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    person_page(&ctx, &id, Form::new()).await
}

async fn person_page(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let p = ctx
        .membership()
        .get_person(mem::GetPersonRequest { id: id.to_string() })
        .await?
        .into_inner();
    ctx.render_form(
        "person.html",
        form,
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
                erasure_id => p.erasure_id,
                created => lang.timestamp(p.create_time.as_ref()),
                updated => lang.timestamp(p.update_time.as_ref()),
            },
            grounds => choices(lang, enum_names!(mem::ErasureGround)),
            done => ctx.q("done"),
        },
    )
}

/// Erases a person in two steps: the first POST shows what will happen
/// and asks again (nothing is sent to the service: an erasure cannot be
/// undone, so one click must not do it); the second, carrying
/// `confirm=yes`, asks membership to erase, and the answer's erasure id
/// leads to the receipt.
async fn erase(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let ground = f.get("legal_ground");
    if f.get("confirm") != "yes" {
        // Only what the confirmation would show wrongly is checked here;
        // every rule stays the service's, applied on the second step.
        if mem::ErasureGround::from_str_name(ground).is_none_or(|g| g as i32 == 0) {
            form.object("legal_ground", ctx.lang.label("form_required"));
            return person_page(&ctx, &id, form).await;
        }
        let p = ctx
            .membership()
            .get_person(mem::GetPersonRequest { id: id.clone() })
            .await?
            .into_inner();
        return ctx.render_form(
            "erase_confirm.html",
            form,
            context! {
                p => context! { id => p.id, name => p.full_name, erased => p.erased },
                ground => ground,
                reason => f.get("reason").trim(),
            },
        );
    }
    let answer = ctx
        .membership()
        .erase_person(mem::ErasePersonRequest {
            id: id.clone(),
            reason: f.get("reason").trim().to_string(),
            legal_ground: enum_value!(mem::ErasureGround, ground),
        })
        .await;
    match form.outcome(answer)? {
        Done(p) if !p.erasure_id.is_empty() => ctx.redirect(&format!(
            "/admin/erasures/{}?done=person_erased",
            p.erasure_id
        )),
        Done(_) => ctx.redirect(&format!("/admin/people/{id}?done=person_erased")),
        Again => person_page(&ctx, &id, form).await,
    }
}

/// An erasure as its receipt shows it: who asked, on what ground, which
/// services confirmed (and what each changed), which are still to.
fn erasure_view(lang: crate::i18n::Lang, e: &mem::Erasure) -> minijinja::Value {
    context! {
        id => e.id,
        person => e.person_id,
        requested_by => e.requested_by,
        ground => enum_name!(mem::ErasureGround, e.legal_ground),
        reason => e.reason,
        requested => lang.timestamp(e.request_time.as_ref()),
        complete => e.complete,
        completed => lang.timestamp(e.complete_time.as_ref()),
        confirmations => e.confirmations.iter().map(|c| {
            // Kinds in a stable order, so two reads of a receipt match.
            let mut counts: Vec<(&String, &u64)> = c.counts.iter().collect();
            counts.sort();
            context! {
                service => c.service,
                at => lang.timestamp(c.confirm_time.as_ref()),
                counts => counts.iter().map(|(kind, n)| context! {
                    kind => kind,
                    n => lang.number(**n as i64),
                }).collect::<Vec<_>>(),
                total => lang.number(c.counts.values().sum::<u64>() as i64),
            }
        }).collect::<Vec<_>>(),
        pending => e.pending_services,
    }
}

/// Every erasure request of the tenant, newest first: the audit a
/// data-protection officer reads, and where a service that is behind shows.
async fn erasures(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let lang = ctx.lang;
    let mut form = ctx.filters(&["pending", "person_id"]);
    let answer = ctx
        .membership()
        .list_erasures(mem::ListErasuresRequest {
            page_size: 50,
            page_token: ctx.q("page").to_string(),
            person_id: ctx.q("person_id").trim().to_string(),
            pending_only: ctx.q("pending") == "on",
        })
        .await;
    let (list, total) = match answer {
        Ok(a) => {
            let a = a.into_inner();
            let total = lang.number(i64::from(a.total_size));
            (a, total)
        }
        Err(status) => {
            // A malformed person id: the filter is named as the request's
            // field, so the violation lands next to it.
            form.absorb(status)?;
            (mem::ListErasuresResponse::default(), String::new())
        }
    };
    ctx.render_form(
        "erasures.html",
        form,
        context! {
            erasures => list.erasures.iter().map(|e| erasure_view(lang, e)).collect::<Vec<_>>(),
            total => total,
            estimate => list.total_size_is_estimate,
            next => next_page(&ctx, &list.next_page_token),
        },
    )
}

async fn erasure(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let e = ctx
        .membership()
        .get_erasure(mem::GetErasureRequest { id })
        .await?
        .into_inner();
    ctx.render(
        "erasure.html",
        context! { e => erasure_view(ctx.lang, &e), done => ctx.q("done") },
    )
}

async fn create_branch(ctx: Ctx) -> Answer {
    let (f, form) = ctx.posted(&[Role::Admin])?;
    let answer = ctx
        .membership()
        .create_branch(mem::CreateBranchRequest {
            branch: Some(mem::Branch {
                id: f.get("branch.id").trim().to_string(),
                name: form_text(f, "branch.name"),
                governorate: f.get("branch.governorate").trim().to_string(),
                create_time: None,
            }),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/admin/people?done=branch_created".to_string(),
        |form| people_page(&ctx, form),
    )
    .await
}

async fn tenants(ctx: Ctx) -> Answer {
    ctx.require(OPERATOR)?;
    tenants_page(&ctx, Form::new()).await
}

async fn tenants_page(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let list = ctx
        .membership()
        .list_tenants(mem::ListTenantsRequest {
            page_size: 100,
            page_token: ctx.q("page").to_string(),
        })
        .await?
        .into_inner();
    ctx.render_form(
        "tenants.html",
        form,
        context! {
            tenants => list.tenants.iter().map(|t| context! {
                id => t.id,
                name => lang.text(t.name.as_ref()),
                prefix => t.identifier_prefix,
                created => lang.timestamp(t.create_time.as_ref()),
            }).collect::<Vec<_>>(),
            next => next_page(ctx, &list.next_page_token),
            done => ctx.q("done"),
            tab => "tenants",
        },
    )
}

async fn create_tenant(ctx: Ctx) -> Answer {
    let (f, form) = ctx.posted(OPERATOR)?;
    let answer = ctx
        .membership()
        .create_tenant(mem::CreateTenantRequest {
            tenant: Some(mem::Tenant {
                id: f.get("tenant.id").trim().to_string(),
                name: form_text(f, "tenant.name"),
                identifier_prefix: f.get("tenant.identifier_prefix").trim().to_string(),
                create_time: None,
            }),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/admin/tenants?done=tenant_created".to_string(),
        |form| tenants_page(&ctx, form),
    )
    .await
}

/// The deployment's donor platforms (operator): each registered once, its
/// id the `sub` of its platform's tokens; tenants' admins then share with
/// it (`/impact/shares`).
async fn donors(ctx: Ctx) -> Answer {
    ctx.require(OPERATOR)?;
    donors_page(&ctx, Form::new()).await
}

async fn donors_page(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let list = ctx
        .sharing()
        .list_donors(markaz_proto::donors::v1::ListDonorsRequest {
            page_size: 100,
            page_token: ctx.q("page").to_string(),
        })
        .await?
        .into_inner();
    ctx.render_form(
        "tenants.html",
        form,
        context! {
            donors => list.donors.iter().map(|d| context! {
                id => d.id,
                name => lang.text(d.name.as_ref()),
                iati => d.iati_identifier,
                created => lang.timestamp(d.create_time.as_ref()),
            }).collect::<Vec<_>>(),
            total => lang.number(i64::from(list.total_size)),
            next => next_page(ctx, &list.next_page_token),
            done => ctx.q("done"),
            tab => "donors",
        },
    )
}

/// Registers a donor platform (operator). The same fields again are the
/// same donor; another donor's id, the service's ALREADY_EXISTS on the form.
async fn register_donor(ctx: Ctx) -> Answer {
    let (f, form) = ctx.posted(OPERATOR)?;
    let answer = ctx
        .sharing()
        .register_donor(markaz_proto::donors::v1::RegisterDonorRequest {
            donor: Some(markaz_proto::donors::v1::Donor {
                id: f.get("donor.id").trim().to_string(),
                name: form_text(f, "donor.name"),
                iati_identifier: f.get("donor.iati_identifier").trim().to_string(),
                create_time: None,
            }),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/admin/donors?done=donor_registered".to_string(),
        |form| donors_page(&ctx, form),
    )
    .await
}

/// The events the services could not apply (operator), newest first per
/// service, filtered by service and whether replayed ones are shown; each
/// open one replayable once its cause is fixed. Every process's platform
/// service answers for the services it runs; each call names its service
/// in `x-markaz-service`, which the microservices' Gateway routes on to that
/// service's unit (one process answers them all in the monolith).
async fn dead_letters(ctx: Ctx) -> Answer {
    ctx.require(OPERATOR)?;
    dead_letters_page(&ctx, Form::new()).await
}

/// The services that may hold dead letters: every one that runs a
/// consumer, and membership, in name order.
const LETTER_SERVICES: [&str; 6] = [
    "capacity",
    "grants",
    "impact",
    "membership",
    "networking",
    "resources",
];

/// A platform request addressed to `service`'s unit.
fn to_service<T>(service: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = service.parse() {
        request.metadata_mut().insert("x-markaz-service", value);
    }
    request
}

async fn dead_letters_page(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let chosen = ctx.q("service");
    let include_replayed = ctx.q("replayed") == "1";
    // One service: its pages. Every service: the newest of each, and a link
    // to the rest of a service's.
    let services: Vec<&str> = if chosen.is_empty() {
        LETTER_SERVICES.to_vec()
    } else {
        vec![chosen]
    };
    let (mut letters, mut more, mut next) = (Vec::new(), Vec::new(), String::new());
    for service in services {
        let answer = ctx
            .platform()
            .list_dead_letters(to_service(
                service,
                markaz_proto::platform::v1::ListDeadLettersRequest {
                    service: service.to_string(),
                    include_replayed,
                    page_size: 50,
                    page_token: ctx.q("page").to_string(),
                },
            ))
            .await;
        let list = match answer {
            Ok(list) => list.into_inner(),
            // Not run behind this upstream (a partial deployment): none.
            Err(s) if s.code() == tonic::Code::NotFound && chosen.is_empty() => continue,
            Err(s) => return Err(s.into()),
        };
        if chosen.is_empty() {
            if !list.next_page_token.is_empty() {
                more.push(service);
            }
        } else {
            next = list.next_page_token;
        }
        letters.extend(list.dead_letters);
    }
    ctx.render_form(
        "tenants.html",
        form,
        context! {
            letters => letters.iter().map(|d| context! {
                service => d.service,
                id => d.id,
                event_id => d.event_id,
                event_type => d.event_type.rsplit('.').next().unwrap_or(&d.event_type),
                producer => d.producer,
                tenant => d.tenant_id,
                attempts => lang.number(d.attempts),
                error => d.error,
                failed => lang.timestamp(d.fail_time.as_ref()),
                replayed => d.replay_time.as_ref().map(|t| lang.timestamp(Some(t))),
            }).collect::<Vec<_>>(),
            services => LETTER_SERVICES,
            more => more,
            service => chosen,
            include_replayed => include_replayed,
            next => next_page(ctx, &next),
            done => ctx.q("done"),
            tab => "letters",
        },
    )
}

/// Replays one dead letter (operator). Applied, or found applied already
/// (the inbox keeps an event to one effect): either way the letter closes;
/// replayed before, the service's refusal on the page.
async fn replay_dead_letter(ctx: Ctx, Path((service, id)): Path<(String, i64)>) -> Answer {
    let (_, form) = ctx.posted(OPERATOR)?;
    let answer = ctx
        .platform()
        .replay_dead_letter(to_service(
            &service,
            markaz_proto::platform::v1::ReplayDeadLetterRequest {
                service: service.clone(),
                id,
            },
        ))
        .await;
    ctx.finish(
        form,
        answer,
        |r| {
            let done = if r.applied {
                "dead_letter_replayed"
            } else {
                "dead_letter_was_applied"
            };
            format!("/admin/dead-letters?done={done}")
        },
        |form| dead_letters_page(&ctx, form),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receipt lists each service's counts by kind, in a stable order,
    /// in the reader's digits, with their sum.
    #[test]
    fn a_receipt_shows_each_services_counts_in_order() {
        let e = mem::Erasure {
            id: "e1".into(),
            legal_ground: mem::ErasureGround::ConsentWithdrawn as i32,
            confirmations: vec![mem::ErasureConfirmation {
                service: "capacity".into(),
                confirm_time: None,
                counts: [
                    ("table enrolments".to_string(), 12),
                    ("outbox".to_string(), 3),
                ]
                .into_iter()
                .collect(),
            }],
            pending_services: vec!["grants".into()],
            ..Default::default()
        };
        let view = serde_json::to_value(erasure_view(crate::i18n::Lang::Ar, &e)).unwrap();
        assert_eq!(view["ground"], "ERASURE_GROUND_CONSENT_WITHDRAWN");
        let c = &view["confirmations"][0];
        assert_eq!(c["counts"][0]["kind"], "outbox");
        assert_eq!(c["counts"][1]["kind"], "table enrolments");
        assert_eq!(c["counts"][1]["n"], "١٢");
        assert_eq!(c["total"], "١٥");
        assert_eq!(view["pending"][0], "grants");
    }
}
