//! Organizations: the list with filters and search, registration, and an
//! organization's page with its tabs (profile, incubation history,
//! assessments with the action plan, people, trainings, grants).

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_kit::auth::Role;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::common::v1 as common;
use markaz_proto::grants::v1 as gr;
use markaz_proto::membership::v1 as mem;
use markaz_proto::networking::v1 as net;
use markaz_proto::resources::v1 as res;
use minijinja::{Value, context};
use serde::Serialize;

use super::{
    ORGANIZATIONS, STAFF, branch_choices, choices, enum_name, enum_names, enum_value, form_text,
    is_staff, next_page, own_organization, parse_date, parse_int,
};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::Outcome::{Again, Done};
use crate::render::{Answer, Ctx, Form};

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

async fn list(ctx: Ctx) -> Answer {
    let session = ctx.require(ORGANIZATIONS)?;
    if let Some(own) = session.who.partner_scope() {
        return ctx.redirect(&format!("/organizations/{own}"));
    }
    let lang = ctx.lang;
    let answer = ctx
        .membership()
        .list_organizations(mem::ListOrganizationsRequest {
            page_size: 25,
            page_token: ctx.q("page").to_string(),
            kind: enum_value!(common::OrganizationKind, ctx.q("kind")),
            branch_id: ctx.q("branch").to_string(),
            incubation_status: enum_value!(common::IncubationStatus, ctx.q("status")),
            query: ctx.q("q").to_string(),
        })
        .await?
        .into_inner();
    ctx.render_form(
        "orgs.html",
        ctx.filters(&["q", "kind", "status", "branch"]),
        context! {
            orgs => answer.organizations.iter().map(|o| org_row(lang, o)).collect::<Vec<_>>(),
            next => next_page(&ctx, &answer.next_page_token),
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
    org_form(&ctx, form).await
}

async fn org_form(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    ctx.render_form(
        "org_form.html",
        form,
        context! {
            kinds => choices(lang, enum_names!(common::OrganizationKind)),
            sectors => choices(lang, enum_names!(common::Sector)),
            branches => branch_choices(ctx).await?,
        },
    )
}

async fn create(ctx: Ctx) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
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
        .membership()
        .create_organization(mem::CreateOrganizationRequest {
            organization: Some(organization),
            apply_for_incubation: f.checked("apply_for_incubation"),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |o| format!("/organizations/{}?done=org_created", o.id),
        |form| org_form(&ctx, form),
    )
    .await
}

const TABS: [&str; 8] = [
    "profile",
    "history",
    "assessments",
    "people",
    "trainings",
    "grants",
    "events",
    "bookings",
];

/// The tabs of what is personal or confidential — incubation decisions,
/// assessments, people and their contact data — are staff's, and a
/// partner's for its own organization; never a trainer's (membership
/// refuses them too). So are its events and bookings: networking and
/// resources show a trainer only the events it organizes and the bookings
/// it made, never an organization's.
const CONFIDENTIAL_TABS: [&str; 5] = ["history", "assessments", "people", "events", "bookings"];
const CONFIDENTIAL: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];

fn offers_tab(ctx: &Ctx, tab: &str) -> bool {
    !CONFIDENTIAL_TABS.contains(&tab) || ctx.require(CONFIDENTIAL).is_ok()
}

async fn page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(ORGANIZATIONS)?;
    own_organization(&ctx, &id)?;
    let tab = TABS
        .iter()
        .find(|t| **t == ctx.q("tab"))
        .copied()
        .unwrap_or("profile");
    if !offers_tab(&ctx, tab) {
        ctx.require(CONFIDENTIAL)?;
    }
    organization_page(&ctx, &id, tab, Form::new()).await
}

async fn organization_page(ctx: &Ctx, id: &str, tab: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let org = ctx
        .membership()
        .get_organization(mem::GetOrganizationRequest { id: id.to_string() })
        .await?
        .into_inner();
    let tab_labels: Vec<(&str, String)> = TABS
        .iter()
        .filter(|t| offers_tab(ctx, t))
        .map(|t| (*t, lang.label(&format!("org_tab_{t}"))))
        .collect();
    let content = match tab {
        "history" => history_tab(ctx, id).await?,
        "assessments" => assessments_tab(ctx, id).await?,
        "people" => people_tab(ctx, id).await?,
        "trainings" => trainings_tab(ctx, id).await?,
        "grants" => grants_tab(ctx, id).await?,
        "events" => events_tab(ctx, id).await?,
        "bookings" => bookings_tab(ctx, id).await?,
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
    ctx.render_form(
        "org.html",
        form,
        context! {
            org => profile,
            tab => tab,
            tabs => tab_labels,
            content => content,
            done => ctx.q("done"),
            staff => is_staff(ctx),
            statuses => choices(lang, enum_names!(common::IncubationStatus)),
            choices => super::admin::person_choices(lang),
        },
    )
}

async fn history_tab(ctx: &Ctx, id: &str) -> Result<Value, crate::render::Fail> {
    let lang = ctx.lang;
    let history = ctx
        .membership()
        .list_incubation_history(mem::ListIncubationHistoryRequest {
            organization_id: id.to_string(),
            page_size: 100,
            ..Default::default()
        })
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
        .membership()
        .list_assessments(mem::ListAssessmentsRequest {
            organization_id: id.to_string(),
            page_size: 20,
            ..Default::default()
        })
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
    let affiliations = ctx
        .membership()
        .list_affiliations(mem::ListAffiliationsRequest {
            organization_id: id.to_string(),
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner();
    let people = ctx
        .membership()
        .list_people(mem::ListPeopleRequest {
            organization_id: id.to_string(),
            page_size: 100,
            ..Default::default()
        })
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
    let enrolments = ctx
        .capacity()
        .list_enrolments(cap::ListEnrolmentsRequest {
            organization_id: id.to_string(),
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner();
    let partner_or_staff = super::sees_certificates(ctx);
    let certificates = if partner_or_staff {
        ctx.capacity()
            .list_certificates(cap::ListCertificatesRequest {
                organization_id: id.to_string(),
                page_size: 100,
                ..Default::default()
            })
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
        match ctx.capacity()
        .recommend_courses(cap::RecommendCoursesRequest {
                organization_id: id.to_string(),
                max_results: 5,
            })
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
    let proposals = ctx
        .grants()
        .list_proposals(gr::ListProposalsRequest {
            organization_id: id.to_string(),
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner();
    let awards = ctx
        .grants()
        .list_awards(gr::ListAwardsRequest {
            organization_id: id.to_string(),
            page_size: 100,
            ..Default::default()
        })
        .await;
    // Trainers see proposals they coach but no award.
    let awards = super::unless_refused(awards)?
        .map(|a| a.awards)
        .unwrap_or_default();
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

/// The events the organization was invited to, organized or attended
/// (networking's filter), soonest first.
async fn events_tab(ctx: &Ctx, id: &str) -> Result<Value, crate::render::Fail> {
    let lang = ctx.lang;
    let events = ctx
        .networking()
        .list_events(net::ListEventsRequest {
            organization_id: id.to_string(),
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .events;
    Ok(context! {
        events => events.iter().map(|e| super::networking::event_view(lang, e)).collect::<Vec<_>>(),
    })
}

/// The organization's bookings from a month ago on, cancelled ones with
/// their status.
async fn bookings_tab(ctx: &Ctx, id: &str) -> Result<Value, crate::render::Fail> {
    let from = markaz_kit::time::Date::today().add_days(-30).days() * 86_400;
    let bookings = ctx
        .resources()
        .list_bookings(res::ListBookingsRequest {
            organization_id: id.to_string(),
            from: Some(prost_types::Timestamp {
                seconds: from,
                nanos: 0,
            }),
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .bookings;
    let spaces = super::coworking::all_spaces(ctx).await?;
    Ok(context! {
        bookings => super::coworking::booking_rows(ctx.lang, &bookings, &spaces),
    })
}

async fn change_status(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .membership()
        .change_incubation_status(mem::ChangeIncubationStatusRequest {
            organization_id: id.clone(),
            status: enum_value!(common::IncubationStatus, f.get("status")),
            reason: f.get("reason").trim().to_string(),
            etag: f.get("etag").to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/organizations/{id}?tab=history&done=status_changed"),
        |form| organization_page(&ctx, &id, "profile", form),
    )
    .await
}

/// Registers a person (minimum data, with the legal basis) and affiliates
/// them with the organization; a retry with the same request ids creates
/// nothing twice.
async fn add_person(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let person = super::admin::person_from_form(f);
    let created = ctx
        .membership()
        .create_person(mem::CreatePersonRequest {
            person: Some(person),
            request_id: form.request_id.clone(),
        })
        .await;
    let person = match form.outcome(created)? {
        Done(p) => p,
        Again => return organization_page(&ctx, &id, "people", form).await,
    };
    let affiliated = ctx
        .membership()
        .create_affiliation(mem::CreateAffiliationRequest {
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
        })
        .await;
    ctx.finish(
        form,
        affiliated,
        |_| format!("/organizations/{id}?tab=people&done=person_added"),
        |form| organization_page(&ctx, &id, "people", form),
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
    assessment_form(&ctx, &id, form)
}

fn assessment_form(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    ctx.render_form(
        "assessment_form.html",
        form,
        context! {
            org_id => id,
            domains => DOMAINS.iter().enumerate().map(|(i, d)| context! { index => i, name => d.as_str_name() }).collect::<Vec<_>>(),
            domain_choices => choices(lang, DOMAINS.iter().map(|d| d.as_str_name())),
            action_rows => (0..ACTION_ROWS).collect::<Vec<_>>(),
        },
    )
}

async fn create_assessment(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
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
        return assessment_form(&ctx, &id, form);
    }
    let answer = ctx
        .membership()
        .create_assessment(mem::CreateAssessmentRequest {
            assessment: Some(mem::Assessment {
                organization_id: id.clone(),
                assessed_on,
                domains,
                action_plan,
                notes: f.get("assessment.notes").trim().to_string(),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    match form.outcome(answer)? {
        Done(_) => ctx.redirect(&format!(
            "/organizations/{id}?tab=assessments&done=assessment_recorded"
        )),
        Again => assessment_form(&ctx, &id, form),
    }
}
