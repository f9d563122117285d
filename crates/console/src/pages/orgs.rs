//! Organizations: the list with filters and search, registration, and an
//! organization's page with its tabs (profile, incubation history,
//! assessments with the action plan, people, trainings, grants).

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_proto::capacity::v1 as cap;
use markaz_proto::common::v1 as common;
use markaz_proto::grants::v1 as gr;
use markaz_proto::membership::v1 as mem;
use minijinja::{Value, context};
use serde::Serialize;

use super::{
    ORGANIZATIONS, STAFF, choices, enum_name, enum_names, enum_value, form_text, is_staff,
    next_page, own_organization, parse_date, parse_int,
};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::{Answer, Ctx, Form};
use crate::upstream::authed;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/organizations", get(list))
        .route("/organizations/new", get(new_form).post(create))
        .route("/organizations/{id}", get(page))
        .route("/organizations/{id}/status", post(change_status))
        .route("/organizations/{id}/people", post(add_person))
        .route(
            "/organizations/{id}/assessments/new",
            get(new_assessment).post(create_assessment),
        )
}

#[derive(Debug, Serialize)]
pub struct OrgRow {
    id: String,
    identifier: String,
    name: String,
    acronym: String,
    kind: String,
    status: String,
    branch: String,
    governorate: String,
}

pub fn org_row(lang: Lang, o: &mem::Organization) -> OrgRow {
    OrgRow {
        id: o.id.clone(),
        identifier: o.identifier.clone(),
        name: lang.text(o.name.as_ref()),
        acronym: o.acronym.clone(),
        kind: enum_name!(common::OrganizationKind, o.kind).to_string(),
        status: enum_name!(common::IncubationStatus, o.incubation_status).to_string(),
        branch: o.branch_id.clone(),
        governorate: o.governorate.clone(),
    }
}

/// The tenant's branches, as select options.
pub async fn branch_choices(ctx: &Ctx) -> Result<Vec<super::Choice>, crate::render::Fail> {
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
    Ok(branches
        .branches
        .iter()
        .map(|b| super::Choice {
            value: b.id.clone(),
            label: ctx.lang.text(b.name.as_ref()),
        })
        .collect())
}

async fn list(ctx: Ctx) -> Answer {
    let session = ctx.require(ORGANIZATIONS)?;
    if let Some(own) = session.who.partner_org() {
        return ctx.redirect(&format!("/organizations/{own}"));
    }
    let lang = ctx.lang;
    let answer = ctx
        .state
        .upstream
        .membership()
        .list_organizations(authed(
            mem::ListOrganizationsRequest {
                page_size: 25,
                page_token: ctx.q("page").to_string(),
                kind: enum_value!(common::OrganizationKind, ctx.q("kind")),
                branch_id: ctx.q("branch").to_string(),
                incubation_status: enum_value!(common::IncubationStatus, ctx.q("status")),
                query: ctx.q("q").to_string(),
            },
            ctx.token(),
        ))
        .await?
        .into_inner();
    let filters = Form::default()
        .with("q", ctx.q("q"))
        .with("kind", ctx.q("kind"))
        .with("status", ctx.q("status"))
        .with("branch", ctx.q("branch"));
    ctx.render(
        "orgs.html",
        context! {
            orgs => answer.organizations.iter().map(|o| org_row(lang, o)).collect::<Vec<_>>(),
            next => next_page(&ctx, &answer.next_page_token),
            form => filters,
            kinds => choices(lang, enum_names!(common::OrganizationKind)),
            statuses => choices(lang, enum_names!(common::IncubationStatus)),
            branches => branch_choices(&ctx).await?,
            may_register => is_staff(&ctx),
        },
    )
}

async fn new_form(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let form = Form::new().with("apply_for_incubation", "on");
    org_form(&ctx, form, http::StatusCode::OK).await
}

async fn org_form(ctx: &Ctx, form: Form, status: http::StatusCode) -> Answer {
    let lang = ctx.lang;
    Ok(ctx.render_status(
        status,
        "org_form.html",
        context! {
            form => form,
            kinds => choices(lang, enum_names!(common::OrganizationKind)),
            sectors => choices(lang, enum_names!(common::Sector)),
            branches => branch_choices(ctx).await?,
        },
    ))
}

async fn create(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let f = &ctx.form;
    let form = Form::posted(f);
    let organization = mem::Organization {
        kind: enum_value!(common::OrganizationKind, f.get("organization.kind")),
        name: form_text(f, "organization.name"),
        acronym: f.get("organization.acronym").trim().to_string(),
        governorate: f.get("organization.governorate").trim().to_string(),
        branch_id: f.get("organization.branch_id").to_string(),
        sectors: f
            .all("organization.sectors")
            .into_iter()
            .map(|s| enum_value!(common::Sector, s))
            .collect(),
        description: form_text(f, "organization.description"),
        email: f.get("organization.email").trim().to_string(),
        phone: f.get("organization.phone").trim().to_string(),
        ..Default::default()
    };
    let answer = ctx
        .state
        .upstream
        .membership()
        .create_organization(authed(
            mem::CreateOrganizationRequest {
                organization: Some(organization),
                apply_for_incubation: f.checked("apply_for_incubation"),
                request_id: form.request_id.clone(),
            },
            ctx.token(),
        ))
        .await;
    ctx.settle(
        answer,
        form,
        |o| format!("/organizations/{}?done=org_created", o.id),
        |form| org_form(&ctx, form, http::StatusCode::UNPROCESSABLE_ENTITY),
    )
    .await
}

const TABS: [&str; 6] = [
    "profile",
    "history",
    "assessments",
    "people",
    "trainings",
    "grants",
];

async fn page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(ORGANIZATIONS)?;
    own_organization(&ctx, &id)?;
    let tab = TABS
        .iter()
        .find(|t| **t == ctx.q("tab"))
        .copied()
        .unwrap_or("profile");
    organization_page(&ctx, &id, tab, Form::new(), http::StatusCode::OK).await
}

async fn organization_page(
    ctx: &Ctx,
    id: &str,
    tab: &str,
    form: Form,
    status: http::StatusCode,
) -> Answer {
    let lang = ctx.lang;
    let token = ctx.token();
    let up = &ctx.state.upstream;
    let org = up
        .membership()
        .get_organization(authed(
            mem::GetOrganizationRequest { id: id.to_string() },
            token,
        ))
        .await?
        .into_inner();
    let tab_labels: Vec<(&str, String)> = TABS
        .iter()
        .map(|t| (*t, lang.label(&format!("org_tab_{t}"))))
        .collect();
    let content = match tab {
        "history" => history_tab(ctx, id).await?,
        "assessments" => assessments_tab(ctx, id).await?,
        "people" => people_tab(ctx, id).await?,
        "trainings" => trainings_tab(ctx, id).await?,
        "grants" => grants_tab(ctx, id).await?,
        _ => Value::from(()),
    };
    let profile = context! {
        row => org_row(lang, &org),
        description => lang.text(org.description.as_ref()),
        name_ar => org.name.as_ref().map(|n| n.ar.clone()),
        name_en => org.name.as_ref().map(|n| n.en.clone()),
        sectors => org.sectors.iter().map(|s| enum_name!(common::Sector, *s)).collect::<Vec<_>>(),
        email => org.email,
        phone => org.phone,
        created => lang.timestamp(org.create_time.as_ref()),
        etag => org.etag,
    };
    Ok(ctx.render_status(
        status,
        "org.html",
        context! {
            org => profile,
            tab => tab,
            tabs => tab_labels,
            content => content,
            form => form,
            done => ctx.q("done"),
            staff => is_staff(ctx),
            statuses => choices(lang, enum_names!(common::IncubationStatus)),
            choices => super::admin::person_choices(lang),
        },
    ))
}

async fn history_tab(ctx: &Ctx, id: &str) -> Result<Value, crate::render::Fail> {
    let lang = ctx.lang;
    let history = ctx
        .state
        .upstream
        .membership()
        .list_incubation_history(authed(
            mem::ListIncubationHistoryRequest {
                organization_id: id.to_string(),
                page_size: 100,
                ..Default::default()
            },
            ctx.token(),
        ))
        .await?
        .into_inner();
    let changes: Vec<Value> = history
        .changes
        .iter()
        .map(|c| {
            context! {
                from => enum_name!(common::IncubationStatus, c.from),
                to => enum_name!(common::IncubationStatus, c.to),
                reason => c.reason,
                by => c.changed_by,
                at => lang.timestamp(c.change_time.as_ref()),
            }
        })
        .collect();
    Ok(context! { changes => changes })
}

async fn assessments_tab(ctx: &Ctx, id: &str) -> Result<Value, crate::render::Fail> {
    let lang = ctx.lang;
    let list = ctx
        .state
        .upstream
        .membership()
        .list_assessments(authed(
            mem::ListAssessmentsRequest {
                organization_id: id.to_string(),
                page_size: 20,
                ..Default::default()
            },
            ctx.token(),
        ))
        .await?
        .into_inner();
    let assessments: Vec<Value> = list
        .assessments
        .iter()
        .map(|a| {
            context! {
                id => a.id,
                on => lang.date(a.assessed_on.as_ref()),
                by => a.assessed_by,
                average => lang.digits(&format!("{:.2}", a.average_score)),
                notes => a.notes,
                domains => a.domains.iter().map(|d| context! {
                    domain => enum_name!(common::CapacityDomain, d.domain),
                    score => lang.number(d.score as i64),
                    change => if d.has_previous { lang.digits(&format!("{:+}", d.change)) } else { String::new() },
                    spread => lang.number(d.consensus_spread as i64),
                    justification => d.justification,
                }).collect::<Vec<_>>(),
                actions => a.action_plan.iter().map(|p| context! {
                    domain => enum_name!(common::CapacityDomain, p.domain),
                    gap => p.gap,
                    action => p.action,
                    due => lang.date(p.due_date.as_ref()),
                    owner => p.owner,
                }).collect::<Vec<_>>(),
            }
        })
        .collect();
    Ok(context! { assessments => assessments })
}

async fn people_tab(ctx: &Ctx, id: &str) -> Result<Value, crate::render::Fail> {
    let lang = ctx.lang;
    let up = ctx.state.upstream.membership();
    let token = ctx.token();
    let affiliations = up
        .clone()
        .list_affiliations(authed(
            mem::ListAffiliationsRequest {
                organization_id: id.to_string(),
                page_size: 100,
                ..Default::default()
            },
            token,
        ))
        .await?
        .into_inner();
    let people = up
        .clone()
        .list_people(authed(
            mem::ListPeopleRequest {
                organization_id: id.to_string(),
                page_size: 100,
                ..Default::default()
            },
            token,
        ))
        .await?
        .into_inner();
    let rows: Vec<Value> = affiliations
        .affiliations
        .iter()
        .map(|a| {
            let person = people.people.iter().find(|p| p.id == a.person_id);
            context! {
                person_id => a.person_id,
                name => person.map(|p| p.full_name.clone()).unwrap_or_default(),
                gender => person.map(|p| enum_name!(common::Gender, p.gender)).unwrap_or(""),
                role => a.role,
                since => lang.date(a.start_date.as_ref()),
            }
        })
        .collect();
    Ok(context! { people => rows })
}

async fn trainings_tab(ctx: &Ctx, id: &str) -> Result<Value, crate::render::Fail> {
    let lang = ctx.lang;
    let token = ctx.token();
    let up = &ctx.state.upstream;
    let enrolments = up
        .capacity()
        .list_enrolments(authed(
            cap::ListEnrolmentsRequest {
                organization_id: id.to_string(),
                page_size: 100,
                ..Default::default()
            },
            token,
        ))
        .await?
        .into_inner();
    let partner_or_staff = super::sees_certificates(ctx);
    let certificates = if partner_or_staff {
        up.capacity()
            .list_certificates(authed(
                cap::ListCertificatesRequest {
                    organization_id: id.to_string(),
                    page_size: 100,
                    ..Default::default()
                },
                token,
            ))
            .await?
            .into_inner()
            .certificates
    } else {
        Vec::new()
    };
    // Recommendations need an assessment: none yet is no error.
    let recommended = if !partner_or_staff {
        Vec::new()
    } else {
        match up
        .capacity()
        .recommend_courses(authed(
            cap::RecommendCoursesRequest {
                organization_id: id.to_string(),
                max_results: 5,
            },
            token,
        ))
        .await
    {
        Ok(r) => r
            .into_inner()
            .recommendations
            .iter()
            .filter_map(|r| r.course.as_ref())
            .map(|c| context! { id => c.id, title => lang.text(c.title.as_ref()), starts => lang.date(c.start_date.as_ref()) })
            .collect(),
        Err(s) if matches!(s.code(), tonic::Code::FailedPrecondition | tonic::Code::NotFound) => Vec::new(),
        Err(s) => return Err(s.into()),
        }
    };
    Ok(context! {
        enrolments => enrolments.enrolments.iter().map(|e| context! {
            course_id => e.course_id,
            name => e.participant_name,
            status => enum_name!(cap::EnrolmentStatus, e.status),
            present => lang.number(e.sessions_present as i64),
            completed => e.completed,
        }).collect::<Vec<_>>(),
        certificates => certificates.iter().map(|c| super::courses::certificate_row(lang, c)).collect::<Vec<_>>(),
        recommended => recommended,
    })
}

async fn grants_tab(ctx: &Ctx, id: &str) -> Result<Value, crate::render::Fail> {
    let lang = ctx.lang;
    let token = ctx.token();
    let up = &ctx.state.upstream;
    let proposals = up
        .grants()
        .list_proposals(authed(
            gr::ListProposalsRequest {
                organization_id: id.to_string(),
                page_size: 100,
                ..Default::default()
            },
            token,
        ))
        .await?
        .into_inner();
    let awards = up
        .grants()
        .list_awards(authed(
            gr::ListAwardsRequest {
                organization_id: id.to_string(),
                page_size: 100,
                ..Default::default()
            },
            token,
        ))
        .await;
    // Trainers see proposals they coach but no award.
    let awards = match awards {
        Ok(a) => a.into_inner().awards,
        Err(s) if s.code() == tonic::Code::PermissionDenied => Vec::new(),
        Err(s) => return Err(s.into()),
    };
    Ok(context! {
        proposals => proposals.proposals.iter().map(|p| super::grants::proposal_row(lang, p)).collect::<Vec<_>>(),
        awards => awards.iter().map(|a| context! {
            id => a.id,
            state => enum_name!(gr::ProposalState, a.state),
            amount => lang.money(a.amount.as_ref()),
            disbursed => lang.money(a.disbursed.as_ref()),
        }).collect::<Vec<_>>(),
    })
}

async fn change_status(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let f = &ctx.form;
    let form = Form::posted(f);
    let answer = ctx
        .state
        .upstream
        .membership()
        .change_incubation_status(authed(
            mem::ChangeIncubationStatusRequest {
                organization_id: id.clone(),
                status: enum_value!(common::IncubationStatus, f.get("status")),
                reason: f.get("reason").trim().to_string(),
                etag: f.get("etag").to_string(),
            },
            ctx.token(),
        ))
        .await;
    ctx.settle(
        answer,
        form,
        |_| format!("/organizations/{id}?tab=history&done=status_changed"),
        |form| {
            organization_page(
                &ctx,
                &id,
                "profile",
                form,
                http::StatusCode::UNPROCESSABLE_ENTITY,
            )
        },
    )
    .await
}

/// Registers a person (minimum data, with the legal basis) and affiliates
/// them with the organization; a retry with the same request ids creates
/// nothing twice.
async fn add_person(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let f = &ctx.form;
    let mut form = Form::posted(f);
    let membership = ctx.state.upstream.membership();
    let person = super::admin::person_from_form(f);
    let created = membership
        .clone()
        .create_person(authed(
            mem::CreatePersonRequest {
                person: Some(person),
                request_id: form.request_id.clone(),
            },
            ctx.token(),
        ))
        .await;
    let person = match created {
        Ok(p) => p.into_inner(),
        Err(status) => {
            form.absorb(status)?;
            return organization_page(
                &ctx,
                &id,
                "people",
                form,
                http::StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let affiliated = membership
        .clone()
        .create_affiliation(authed(
            mem::CreateAffiliationRequest {
                affiliation: Some(mem::Affiliation {
                    person_id: person.id.clone(),
                    organization_id: id.clone(),
                    role: f.get("affiliation.role").trim().to_string(),
                    start_date: Some(markaz_kit::time::Date::today().to_proto()),
                    ..Default::default()
                }),
                // Request ids are per method: the person's id serves here too,
                // so a retried submission makes one affiliation.
                request_id: form.request_id.clone(),
            },
            ctx.token(),
        ))
        .await;
    ctx.settle(
        affiliated,
        form,
        |_| format!("/organizations/{id}?tab=people&done=person_added"),
        |form| {
            organization_page(
                &ctx,
                &id,
                "people",
                form,
                http::StatusCode::UNPROCESSABLE_ENTITY,
            )
        },
    )
    .await
}

const DOMAINS: [common::CapacityDomain; 7] = [
    common::CapacityDomain::Governance,
    common::CapacityDomain::Administration,
    common::CapacityDomain::HumanResources,
    common::CapacityDomain::FinancialManagement,
    common::CapacityDomain::OrganizationalManagement,
    common::CapacityDomain::ProgramManagement,
    common::CapacityDomain::ProjectPerformanceManagement,
];

/// Rows of the action plan the form offers.
const ACTION_ROWS: usize = 4;

async fn new_assessment(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let form = Form::new().with(
        "assessment.assessed_on",
        super::date_value(Some(&markaz_kit::time::Date::today().to_proto())),
    );
    assessment_form(&ctx, &id, form, http::StatusCode::OK)
}

fn assessment_form(ctx: &Ctx, id: &str, form: Form, status: http::StatusCode) -> Answer {
    let lang = ctx.lang;
    Ok(ctx.render_status(
        status,
        "assessment_form.html",
        context! {
            form => form,
            org_id => id,
            domains => DOMAINS.iter().enumerate().map(|(i, d)| context! { index => i, name => d.as_str_name() }).collect::<Vec<_>>(),
            domain_choices => choices(lang, DOMAINS.iter().map(|d| d.as_str_name())),
            action_rows => (0..ACTION_ROWS).collect::<Vec<_>>(),
        },
    ))
}

async fn create_assessment(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let lang = ctx.lang;
    let f = &ctx.form;
    let mut form = Form::posted(f);
    let assessed_on = parse_date(
        &mut form,
        lang,
        "assessment.assessed_on",
        f.get("assessment.assessed_on"),
    );
    let domains = DOMAINS
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let field = format!("assessment.domains[{i}].score");
            mem::DomainAssessment {
                domain: *d as i32,
                score: parse_int(&mut form, lang, &field, f.get(&field)).unwrap_or(0) as i32,
                justification: f
                    .get(&format!("assessment.domains[{i}].justification"))
                    .trim()
                    .to_string(),
                ..Default::default()
            }
        })
        .collect();
    let mut action_plan = Vec::new();
    for i in 0..ACTION_ROWS {
        let at = |k: &str| {
            f.get(&format!("assessment.action_plan[{i}].{k}"))
                .trim()
                .to_string()
        };
        if at("gap").is_empty() && at("action").is_empty() {
            continue;
        }
        // Rows are renumbered as sent, so the service's paths match the form.
        let n = action_plan.len();
        let due = parse_date(
            &mut form,
            lang,
            &format!("assessment.action_plan[{n}].due_date"),
            &at("due_date"),
        );
        action_plan.push(mem::ActionItem {
            domain: enum_value!(common::CapacityDomain, &at("domain")),
            gap: at("gap"),
            action: at("action"),
            due_date: due,
            owner: at("owner"),
        });
    }
    if form.has_errors() {
        return assessment_form(&ctx, &id, form, http::StatusCode::UNPROCESSABLE_ENTITY);
    }
    let answer = ctx
        .state
        .upstream
        .membership()
        .create_assessment(authed(
            mem::CreateAssessmentRequest {
                assessment: Some(mem::Assessment {
                    organization_id: id.clone(),
                    assessed_on,
                    domains,
                    action_plan,
                    notes: f.get("assessment.notes").trim().to_string(),
                    ..Default::default()
                }),
                request_id: form.request_id.clone(),
            },
            ctx.token(),
        ))
        .await;
    ctx.settle(
        answer,
        form,
        |_| format!("/organizations/{id}?tab=assessments&done=assessment_recorded"),
        |form| {
            std::future::ready(assessment_form(
                &ctx,
                &id,
                form,
                http::StatusCode::UNPROCESSABLE_ENTITY,
            ))
        },
    )
    .await
}
