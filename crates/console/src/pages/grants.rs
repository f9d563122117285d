//! Grants: programs and calls, a call's proposals and ranking, a proposal
//! with its budget, work plan, versions, coaching notes and reviews, the
//! reviewer's scoring form (blind where the call is), and awards with their
//! tranches, disbursements and reports.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_kit::auth::Role;
use markaz_proto::common::v1 as common;
use markaz_proto::grants::v1 as gr;
use minijinja::{Value, context};

use super::{
    Choice, GRANTS, STAFF, choices, date_value, enum_name, enum_names, enum_value, form_text, has,
    is_staff, money_value, organization_choices, parse_date, parse_int, parse_money, put_text,
};
use crate::AppState;
use crate::i18n::Lang;
use crate::render::{Answer, Ctx, Fail, Form};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/grants", get(index))
        .route("/grants/programs", post(create_program))
        .route("/grants/programs/{id}/{file}", get(program_file))
        .route("/grants/reviewers", post(create_reviewer))
        .route("/grants/calls/new", get(new_call).post(create_call))
        .route("/grants/calls/{id}", get(call_page))
        .route("/grants/calls/{id}/state", post(call_state))
        .route("/grants/calls/{id}/proposals", post(create_proposal))
        .route("/grants/proposals/{id}", get(proposal_page))
        .route(
            "/grants/proposals/{id}/edit",
            get(edit_proposal).post(update_proposal),
        )
        .route("/grants/proposals/{id}/action", post(proposal_action))
        .route("/grants/proposals/{id}/notes", post(add_note))
        .route("/grants/proposals/{id}/reviewers", post(assign_reviewer))
        .route("/grants/proposals/{id}/score", post(submit_score))
        .route("/grants/proposals/{id}/award", post(award))
        .route("/grants/awards/{id}", get(award_page))
        .route("/grants/awards/{id}/action", post(award_action))
        .route("/grants/awards/{id}/reports", post(submit_report))
        .route("/grants/awards/{id}/reports/{report}", post(review_report))
}

const THEME_ROWS: usize = 3;
const CRITERION_ROWS: usize = 4;
const BUDGET_ROWS: usize = 6;
const MILESTONE_ROWS: usize = 4;

pub fn proposal_row(lang: Lang, p: &gr::Proposal) -> Value {
    context! {
        id => p.id,
        title => lang.text(p.title.as_ref()),
        organization => lang.text(p.organization_name.as_ref()),
        organization_id => p.organization_id,
        hidden => p.identity_hidden,
        state => enum_name!(gr::ProposalState, p.state),
        requested => lang.money(p.requested_total.as_ref()),
        version => lang.number(p.version_number as i64),
        submitted => lang.timestamp(p.submit_time.as_ref()),
    }
}

fn call_view(lang: Lang, c: &gr::Call) -> Value {
    context! {
        id => c.id,
        program_id => c.program_id,
        title => lang.text(c.title.as_ref()),
        description => lang.text(c.description.as_ref()),
        state => enum_name!(gr::CallState, c.state),
        envelope => lang.money(c.budget_envelope.as_ref()),
        ceiling => lang.money(c.project_ceiling.as_ref()),
        awarded => lang.money(c.awarded_total.as_ref()),
        remaining => lang.money(c.envelope_remaining.as_ref()),
        opens => lang.date(c.opens_on.as_ref()),
        closes => lang.date(c.closes_on.as_ref()),
        blind => c.blind_review,
        themes => c.themes.iter().map(|t| context! { code => t.code, name => lang.text(t.name.as_ref()) }).collect::<Vec<_>>(),
        criteria => c.rubric.as_ref().map(|r| r.criteria.iter().map(|k| context! {
            code => k.code,
            name => lang.text(k.name.as_ref()),
            guidance => lang.text(k.guidance.as_ref()),
            weight => lang.number(k.weight as i64),
        }).collect::<Vec<_>>()).unwrap_or_default(),
        max_score => c.rubric.as_ref().map(|r| r.max_score).unwrap_or(0),
        etag => c.etag,
    }
}

async fn index(ctx: Ctx) -> Answer {
    ctx.require(GRANTS)?;
    index_page(&ctx, Form::new()).await
}

async fn index_page(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let reviewer_only = !is_staff(ctx) && has(ctx, Role::Reviewer);
    let programs = if reviewer_only {
        Vec::new()
    } else {
        ctx.grants()
            .list_programs(gr::ListProgramsRequest {
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner()
            .programs
    };
    let calls = if reviewer_only {
        Vec::new()
    } else {
        ctx.grants()
            .list_calls(gr::ListCallsRequest {
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner()
            .calls
    };
    // Partners see their own proposals, reviewers those assigned to them,
    // trainers those they coach; staff go through the calls.
    let mine = if is_staff(ctx) {
        Vec::new()
    } else {
        ctx.grants()
            .list_proposals(gr::ListProposalsRequest {
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner()
            .proposals
    };
    let reviewers = if is_staff(ctx) {
        ctx.grants()
            .list_reviewers(gr::ListReviewersRequest {
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner()
            .reviewers
    } else {
        Vec::new()
    };
    ctx.render_form(
        "grants.html",
        form,
        context! {
            programs => programs.iter().map(|p| context! { id => p.id, name => lang.text(p.name.as_ref()), description => lang.text(p.description.as_ref()) }).collect::<Vec<_>>(),
            calls => calls.iter().map(|c| call_view(lang, c)).collect::<Vec<_>>(),
            mine => mine.iter().map(|p| proposal_row(lang, p)).collect::<Vec<_>>(),
            reviewers => reviewers.iter().map(|r| context! { id => r.id, name => r.display_name, subject => r.subject, active => r.active }).collect::<Vec<_>>(),
            staff => is_staff(ctx),
            reviewer => reviewer_only,
            done => ctx.q("done"),
            sectors => choices(lang, enum_names!(common::Sector)),
        },
    )
}

/// A program's files for its funders, made by the impact service with a
/// donor's rules (small counts withheld at the tenant's threshold):
/// `iati` its IATI 2.03 activity file (`ExportProgramIati`), `hxl` the
/// HXL-tagged 3W CSV of its awards (`ExportProgramHxl3w`). Downloaded as
/// attachments with the file's SHA-256 as ETag. Admin and staff may; the
/// console offers the links to them only, and anyone else signed in gets
/// the service's refusal.
async fn program_file(ctx: Ctx, Path((id, file)): Path<(String, String)>) -> Answer {
    ctx.require(GRANTS)?;
    let answer = match file.as_str() {
        "iati" => {
            ctx.sharing()
                .export_program_iati(markaz_proto::donors::v1::ExportProgramIatiRequest {
                    program_id: id,
                    funder_donor_id: String::new(),
                })
                .await
        }
        "hxl" => {
            ctx.sharing()
                .export_program_hxl3w(markaz_proto::donors::v1::ExportProgramHxl3wRequest {
                    program_id: id,
                })
                .await
        }
        _ => return Err(Fail::NotFound),
    };
    Ok(super::file_answer(
        answer?.into_inner(),
        super::FileUse::Download,
        false,
    ))
}

async fn create_program(ctx: Ctx) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .grants()
        .create_program(gr::CreateProgramRequest {
            program: Some(gr::Program {
                name: form_text(f, "program.name"),
                description: form_text(f, "program.description"),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/grants?done=program_created".to_string(),
        |form| index_page(&ctx, form),
    )
    .await
}

async fn create_reviewer(ctx: Ctx) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .grants()
        .create_reviewer(gr::CreateReviewerRequest {
            reviewer: Some(gr::Reviewer {
                person_id: f.get("reviewer.person_id").trim().to_string(),
                subject: f.get("reviewer.subject").trim().to_string(),
                expertise: f
                    .all("reviewer.expertise")
                    .into_iter()
                    .map(|s| enum_value!(common::Sector, s))
                    .collect(),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| "/grants?done=reviewer_registered".to_string(),
        |form| index_page(&ctx, form),
    )
    .await
}

async fn new_call(ctx: Ctx) -> Answer {
    ctx.require(STAFF)?;
    let form = Form::new()
        .with("call.program_id", ctx.q("program"))
        .with("call.currency", "USD")
        .with("call.rubric.max_score", "5");
    call_form(&ctx, form).await
}

async fn call_form(ctx: &Ctx, form: Form) -> Answer {
    let lang = ctx.lang;
    let programs = ctx
        .grants()
        .list_programs(gr::ListProgramsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner();
    ctx.render_form(
        "call_form.html",
        form,
        context! {
            programs => programs.programs.iter().map(|p| Choice::named(lang, &p.id, p.name.as_ref())).collect::<Vec<_>>(),
            statuses => choices(lang, enum_names!(common::IncubationStatus)),
            theme_rows => (0..THEME_ROWS).collect::<Vec<_>>(),
            criterion_rows => (0..CRITERION_ROWS).collect::<Vec<_>>(),
        },
    )
}

async fn create_call(ctx: Ctx) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
    let currency = f.get("call.currency");
    let envelope = parse_money(
        &mut form,
        lang,
        "call.budget_envelope",
        f.get("call.budget_envelope"),
        currency,
    );
    let ceiling = parse_money(
        &mut form,
        lang,
        "call.project_ceiling",
        f.get("call.project_ceiling"),
        currency,
    );
    let opens_on = parse_date(&mut form, lang, "call.opens_on", f.get("call.opens_on"));
    let closes_on = parse_date(&mut form, lang, "call.closes_on", f.get("call.closes_on"));
    let max_score = parse_int(
        &mut form,
        lang,
        "call.rubric.max_score",
        f.get("call.rubric.max_score"),
    )
    .unwrap_or(0);
    let themes: Vec<gr::Theme> = (0..THEME_ROWS)
        .filter_map(|i| {
            let code = f.get(&format!("call.themes[{i}].code")).trim().to_string();
            (!code.is_empty()).then(|| gr::Theme {
                code,
                name: form_text(f, &format!("call.themes[{i}].name")),
            })
        })
        .collect();
    let mut criteria = Vec::new();
    for i in 0..CRITERION_ROWS {
        let code = f
            .get(&format!("call.rubric.criteria[{i}].code"))
            .trim()
            .to_string();
        if code.is_empty() {
            continue;
        }
        let n = criteria.len();
        let field = format!("call.rubric.criteria[{n}].weight");
        let weight = parse_int(
            &mut form,
            lang,
            &field,
            f.get(&format!("call.rubric.criteria[{i}].weight")),
        )
        .unwrap_or(0);
        criteria.push(gr::Criterion {
            code,
            name: form_text(f, &format!("call.rubric.criteria[{i}].name")),
            guidance: form_text(f, &format!("call.rubric.criteria[{i}].guidance")),
            weight: weight as i32,
        });
    }
    if form.has_errors() {
        return call_form(&ctx, form).await;
    }
    let call = gr::Call {
        program_id: f.get("call.program_id").to_string(),
        title: form_text(f, "call.title"),
        description: form_text(f, "call.description"),
        themes,
        budget_envelope: envelope,
        project_ceiling: ceiling,
        opens_on,
        closes_on,
        eligibility: Some(gr::EligibilityRules {
            incubation_statuses: f
                .all("call.eligibility.incubation_statuses")
                .into_iter()
                .map(|s| enum_value!(common::IncubationStatus, s))
                .collect(),
            required_course_topic: f
                .get("call.eligibility.required_course_topic")
                .trim()
                .to_string(),
            ..Default::default()
        }),
        rubric: Some(gr::Rubric {
            max_score: max_score as i32,
            criteria,
        }),
        blind_review: f.checked("call.blind_review"),
        ..Default::default()
    };
    let answer = ctx
        .grants()
        .create_call(gr::CreateCallRequest {
            call: Some(call),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |c| format!("/grants/calls/{}?done=call_created", c.id),
        |form| call_form(&ctx, form),
    )
    .await
}

async fn call_page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(GRANTS)?;
    call_screen(&ctx, &id, Form::new()).await
}

async fn call_screen(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let call = ctx
        .grants()
        .get_call(gr::GetCallRequest { id: id.to_string() })
        .await?
        .into_inner();
    let proposals = ctx
        .grants()
        .list_proposals(gr::ListProposalsRequest {
            call_id: id.to_string(),
            page_size: 200,
            state: enum_value!(gr::ProposalState, ctx.q("state")),
            ..Default::default()
        })
        .await?
        .into_inner();
    let ranking = if is_staff(ctx) {
        ctx.grants()
            .get_call_ranking(gr::GetCallRankingRequest {
                call_id: id.to_string(),
            })
            .await?
            .into_inner()
            .proposals
    } else {
        Vec::new()
    };
    let partner = ctx.partner_org();
    let eligibility = match &partner {
        Some(_) if call.state == gr::CallState::Open as i32 => Some(
            ctx.grants()
                .check_eligibility(gr::CheckEligibilityRequest {
                    call_id: id.to_string(),
                    organization_id: String::new(),
                })
                .await?
                .into_inner(),
        ),
        _ => None,
    };
    let organizations = if is_staff(ctx) && call.state == gr::CallState::Open as i32 {
        organization_choices(ctx).await?
    } else {
        Vec::new()
    };
    // The proposals' filter is part of the page's one form.
    ctx.render_form(
        "call.html",
        form.with("state", ctx.q("state")),
        context! {
            call => call_view(lang, &call),
            proposals => proposals.proposals.iter().map(|p| proposal_row(lang, p)).collect::<Vec<_>>(),
            ranking => ranking.iter().map(|r| context! {
                rank => lang.number(r.rank as i64),
                id => r.proposal_id,
                title => lang.text(r.title.as_ref()),
                state => enum_name!(gr::ProposalState, r.state),
                reviews => lang.number(r.review_count as i64),
                score => lang.digits(&format!("{:.2}", r.score_basis_points as f64 / 100.0)),
                requested => lang.money(r.requested.as_ref()),
            }).collect::<Vec<_>>(),
            eligibility => eligibility.map(|e| context! { eligible => e.eligible, unmet => e.unmet }),
            may_apply => (partner.is_some() || is_staff(ctx)) && call.state == gr::CallState::Open as i32,
            partner => partner.is_some(),
            organizations => organizations,
            staff => is_staff(ctx),
            states => choices(lang, enum_names!(gr::ProposalState)),
            done => ctx.q("done"),
        },
    )
}

async fn call_state(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let etag = f.get("etag").to_string();
    let action = f.get("action");
    let answer = match action {
        "open" => {
            ctx.grants()
                .open_call(gr::OpenCallRequest {
                    id: id.clone(),
                    etag,
                })
                .await
        }
        "close" => {
            ctx.grants()
                .close_call(gr::CloseCallRequest {
                    id: id.clone(),
                    etag,
                })
                .await
        }
        _ => return Err(Fail::NotFound),
    };
    ctx.finish(
        form,
        answer,
        |_| format!("/grants/calls/{id}?done=call_{action}"),
        |form| call_screen(&ctx, &id, form),
    )
    .await
}

async fn create_proposal(ctx: Ctx, Path(call_id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(&[Role::Admin, Role::Staff, Role::Partner])?;
    let answer = ctx
        .grants()
        .create_proposal(gr::CreateProposalRequest {
            proposal: Some(gr::Proposal {
                call_id: call_id.clone(),
                organization_id: f.get("proposal.organization_id").to_string(),
                title: form_text(f, "proposal.title"),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |p| format!("/grants/proposals/{}/edit?done=proposal_started", p.id),
        |form| call_screen(&ctx, &call_id, form),
    )
    .await
}

async fn get_proposal(ctx: &Ctx, id: &str) -> Result<gr::Proposal, Fail> {
    Ok(ctx
        .grants()
        .get_proposal(gr::GetProposalRequest { id: id.to_string() })
        .await?
        .into_inner())
}

fn budget_view(lang: Lang, lines: &[gr::BudgetLine]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| {
            context! {
                number => lang.number(l.line_number as i64),
                category => enum_name!(gr::BudgetCategory, l.category),
                description => lang.text(l.description.as_ref()),
                amount => lang.money(l.amount.as_ref()),
            }
        })
        .collect()
}

fn milestones_view(lang: Lang, ms: &[gr::Milestone]) -> Vec<Value> {
    ms.iter()
        .map(|m| {
            context! {
                number => m.number,
                number_text => lang.number(m.number as i64),
                title => lang.text(m.title.as_ref()),
                due => lang.date(m.due_date.as_ref()),
                deliverables => lang.text(m.deliverables.as_ref()),
            }
        })
        .collect()
}

fn proposal_view(lang: Lang, p: &gr::Proposal) -> Value {
    let b = p.beneficiaries_targeted.unwrap_or_default();
    context! {
        row => proposal_row(lang, p),
        call_id => p.call_id,
        summary => lang.text(p.summary.as_ref()),
        need => lang.text(p.community_need.as_ref()),
        location => p.location.as_ref().map(|l| format!("{} {}", l.governorate, lang.text(l.place.as_ref()))).unwrap_or_default(),
        sector => enum_name!(common::Sector, p.sector),
        theme => p.theme_code,
        beneficiaries => context! { female => lang.number(b.female), male => lang.number(b.male), undisclosed => lang.number(b.undisclosed) },
        budget => budget_view(lang, &p.budget_lines),
        milestones => milestones_view(lang, &p.milestones),
        starts => lang.date(p.start_date.as_ref()),
        ends => lang.date(p.end_date.as_ref()),
        decision_reason => p.decision_reason,
        etag => p.etag,
    }
}

async fn proposal_page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(GRANTS)?;
    proposal_screen(&ctx, &id, Form::new()).await
}

/// The proposal: what each role may see of it, and the forms each may use.
async fn proposal_screen(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let p = get_proposal(ctx, id).await?;
    let call = ctx
        .grants()
        .get_call(gr::GetCallRequest {
            id: p.call_id.clone(),
        })
        .await?
        .into_inner();
    let staff = is_staff(ctx);
    let reviewer = !staff && has(ctx, Role::Reviewer);
    let partner = ctx.partner_org();
    let coaching = !reviewer;
    let state = gr::ProposalState::try_from(p.state).unwrap_or(gr::ProposalState::Unspecified);

    let (versions, notes) = if coaching {
        let versions = ctx
            .grants()
            .list_proposal_versions(gr::ListProposalVersionsRequest {
                proposal_id: id.to_string(),
            })
            .await?
            .into_inner()
            .versions;
        let notes = ctx
            .grants()
            .list_coaching_notes(gr::ListCoachingNotesRequest {
                proposal_id: id.to_string(),
                page_size: 200,
                ..Default::default()
            })
            .await?
            .into_inner()
            .notes;
        (versions, notes)
    } else {
        (Vec::new(), Vec::new())
    };
    let (assignments, sheets, reviewers) = if staff || reviewer {
        let assignments = ctx
            .grants()
            .list_assignments(gr::ListAssignmentsRequest {
                proposal_id: id.to_string(),
                page_size: 100,
                ..Default::default()
            })
            .await?
            .into_inner()
            .assignments;
        let sheets = ctx
            .grants()
            .list_scores(gr::ListScoresRequest {
                proposal_id: id.to_string(),
            })
            .await?
            .into_inner()
            .sheets;
        let reviewers = if staff {
            ctx.grants()
                .list_reviewers(gr::ListReviewersRequest {
                    page_size: 100,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .reviewers
        } else {
            Vec::new()
        };
        (assignments, sheets, reviewers)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let awards = if staff || partner.is_some() {
        ctx.grants()
            .list_awards(gr::ListAwardsRequest {
                call_id: p.call_id.clone(),
                page_size: 200,
                ..Default::default()
            })
            .await?
            .into_inner()
            .awards
            .into_iter()
            .filter(|a| a.proposal_id == p.id)
            .collect()
    } else {
        Vec::<gr::Award>::new()
    };
    let reviewer_name = |rid: &str| {
        reviewers
            .iter()
            .find(|r| r.id == rid)
            .map(|r| r.display_name.clone())
            .unwrap_or_else(|| rid.to_string())
    };
    let writable = matches!(
        state,
        gr::ProposalState::Draft | gr::ProposalState::ChangesRequested
    );
    let applicant = staff || partner.is_some();
    // The reviewer's own sheet fills the scoring form.
    let mut form = form;
    if reviewer
        && !form.has_errors()
        && let Some(mine) = sheets.first()
    {
        for s in &mine.scores {
            form = form
                .with(&format!("score.{}", s.criterion_code), s.score.to_string())
                .with(&format!("comment.{}", s.criterion_code), s.comment.clone());
        }
        form = form.with("comment", mine.comment.clone());
    }
    let milestones: Vec<Value> = milestones_view(lang, &p.milestones);
    ctx.render_form(
        "proposal.html",
        form,
        context! {
            p => proposal_view(lang, &p),
            state => state.as_str_name(),
            call => call_view(lang, &call),
            versions => versions.iter().map(|v| context! {
                number => lang.number(v.number as i64),
                by => v.submitted_by,
                at => lang.timestamp(v.submit_time.as_ref()),
                requested => v.proposal.as_ref().map(|p| lang.money(p.requested_total.as_ref())).unwrap_or_default(),
                title => v.proposal.as_ref().map(|p| lang.text(p.title.as_ref())).unwrap_or_default(),
            }).collect::<Vec<_>>(),
            notes => notes.iter().map(|n| context! {
                body => n.body,
                author => n.author,
                role => n.author_role,
                version => lang.number(n.version_number as i64),
                at => lang.timestamp(n.create_time.as_ref()),
            }).collect::<Vec<_>>(),
            assignments => assignments.iter().map(|a| context! {
                reviewer => reviewer_name(&a.reviewer_id),
                state => enum_name!(gr::AssignmentState, a.state),
                reason => a.recusal_reason,
            }).collect::<Vec<_>>(),
            sheets => sheets.iter().map(|s| context! {
                reviewer => reviewer_name(&s.reviewer_id),
                result => lang.digits(&format!("{:.2}", s.basis_points as f64 / 100.0)),
                counts => s.counts,
                comment => s.comment,
                at => lang.timestamp(s.submit_time.as_ref()),
            }).collect::<Vec<_>>(),
            reviewer_choices => reviewers.iter().filter(|r| r.active).map(|r| Choice { value: r.id.clone(), label: r.display_name.clone() }).collect::<Vec<_>>(),
            awards => awards.iter().map(|a| context! { id => a.id, amount => lang.money(a.amount.as_ref()), state => enum_name!(gr::ProposalState, a.state) }).collect::<Vec<_>>(),
            milestone_choices => milestones,
            staff => staff,
            reviewer => reviewer,
            coaching => coaching,
            applicant => applicant,
            writable => writable && applicant,
            scoring => reviewer && state == gr::ProposalState::UnderReview,
            done => ctx.q("done"),
            currency => call.budget_envelope.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
        },
    )
}

async fn edit_proposal(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(&[Role::Admin, Role::Staff, Role::Partner])?;
    let p = get_proposal(&ctx, &id).await?;
    let mut form = Form::new()
        .with("etag", p.etag.clone())
        .with("proposal.sector", enum_name!(common::Sector, p.sector))
        .with("proposal.theme_code", p.theme_code.clone())
        .with("proposal.start_date", date_value(p.start_date.as_ref()))
        .with("proposal.end_date", date_value(p.end_date.as_ref()));
    for (name, t) in [
        ("proposal.title", p.title.as_ref()),
        ("proposal.summary", p.summary.as_ref()),
        ("proposal.community_need", p.community_need.as_ref()),
        (
            "proposal.location.place",
            p.location.as_ref().and_then(|l| l.place.as_ref()),
        ),
    ] {
        form = put_text(form, name, t);
    }
    form = form.with(
        "proposal.location.governorate",
        p.location
            .as_ref()
            .map(|l| l.governorate.clone())
            .unwrap_or_default(),
    );
    let b = p.beneficiaries_targeted.unwrap_or_default();
    for (k, v) in [
        ("female", b.female),
        ("male", b.male),
        ("undisclosed", b.undisclosed),
    ] {
        form = form.with(
            &format!("proposal.beneficiaries_targeted.{k}"),
            v.to_string(),
        );
    }
    for (i, l) in p.budget_lines.iter().enumerate() {
        let n = format!("proposal.budget_lines[{i}]");
        form = put_text(form, &format!("{n}.description"), l.description.as_ref())
            .with(
                &format!("{n}.category"),
                enum_name!(gr::BudgetCategory, l.category),
            )
            .with(&format!("{n}.amount"), money_value(l.amount.as_ref()).0);
    }
    for (i, m) in p.milestones.iter().enumerate() {
        let n = format!("proposal.milestones[{i}]");
        form = put_text(form, &format!("{n}.title"), m.title.as_ref());
        form = put_text(form, &format!("{n}.deliverables"), m.deliverables.as_ref())
            .with(&format!("{n}.due_date"), date_value(m.due_date.as_ref()));
    }
    proposal_form(&ctx, &p, form).await
}

async fn proposal_form(ctx: &Ctx, p: &gr::Proposal, form: Form) -> Answer {
    let lang = ctx.lang;
    let call = ctx
        .grants()
        .get_call(gr::GetCallRequest {
            id: p.call_id.clone(),
        })
        .await?
        .into_inner();
    ctx.render_form(
        "proposal_form.html",
        form,
        context! {
            p => proposal_row(lang, p),
            call => call_view(lang, &call),
            currency => call.budget_envelope.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
            sectors => choices(lang, enum_names!(common::Sector)),
            categories => choices(lang, enum_names!(gr::BudgetCategory)),
            themes => call.themes.iter().map(|t| Choice::named(lang, &t.code, t.name.as_ref())).collect::<Vec<_>>(),
            budget_rows => (0..BUDGET_ROWS).collect::<Vec<_>>(),
            milestone_rows => (0..MILESTONE_ROWS).collect::<Vec<_>>(),
            done => ctx.q("done"),
        },
    )
}

async fn update_proposal(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(&[Role::Admin, Role::Staff, Role::Partner])?;
    let lang = ctx.lang;
    let p = get_proposal(&ctx, &id).await?;
    let currency = ctx
        .grants()
        .get_call(gr::GetCallRequest {
            id: p.call_id.clone(),
        })
        .await?
        .into_inner()
        .budget_envelope
        .map(|m| m.currency_code)
        .unwrap_or_default();
    let f = &ctx.fields;
    let mut form = Form::posted(f);
    let count = |form: &mut Form, name: &str| -> i64 {
        parse_int(form, lang, name, f.get(name)).unwrap_or(0)
    };
    let beneficiaries = gr::Beneficiaries {
        female: count(&mut form, "proposal.beneficiaries_targeted.female"),
        male: count(&mut form, "proposal.beneficiaries_targeted.male"),
        undisclosed: count(&mut form, "proposal.beneficiaries_targeted.undisclosed"),
    };
    let mut budget_lines = Vec::new();
    for i in 0..BUDGET_ROWS {
        let at = |k: &str| format!("proposal.budget_lines[{i}].{k}");
        let description = form_text(f, &at("description"));
        let amount = f.get(&at("amount"));
        if amount.trim().is_empty()
            && description
                .as_ref()
                .is_none_or(|d| d.ar.is_empty() && d.en.is_empty())
        {
            continue;
        }
        let n = budget_lines.len();
        let amount = parse_money(
            &mut form,
            lang,
            &format!("proposal.budget_lines[{n}].amount"),
            amount,
            &currency,
        );
        budget_lines.push(gr::BudgetLine {
            category: enum_value!(gr::BudgetCategory, f.get(&at("category"))),
            description,
            amount,
            ..Default::default()
        });
    }
    let mut milestones = Vec::new();
    for i in 0..MILESTONE_ROWS {
        let at = |k: &str| format!("proposal.milestones[{i}].{k}");
        let title = form_text(f, &at("title"));
        if title
            .as_ref()
            .is_none_or(|t| t.ar.is_empty() && t.en.is_empty())
            && f.get(&at("due_date")).is_empty()
        {
            continue;
        }
        let n = milestones.len();
        let due = parse_date(
            &mut form,
            lang,
            &format!("proposal.milestones[{n}].due_date"),
            f.get(&at("due_date")),
        );
        milestones.push(gr::Milestone {
            title,
            due_date: due,
            deliverables: form_text(f, &at("deliverables")),
            ..Default::default()
        });
    }
    let start_date = parse_date(
        &mut form,
        lang,
        "proposal.start_date",
        f.get("proposal.start_date"),
    );
    let end_date = parse_date(
        &mut form,
        lang,
        "proposal.end_date",
        f.get("proposal.end_date"),
    );
    if form.has_errors() {
        return proposal_form(&ctx, &p, form).await;
    }
    let proposal = gr::Proposal {
        id: id.clone(),
        title: form_text(f, "proposal.title"),
        summary: form_text(f, "proposal.summary"),
        community_need: form_text(f, "proposal.community_need"),
        location: Some(gr::Location {
            governorate: f.get("proposal.location.governorate").trim().to_string(),
            place: form_text(f, "proposal.location.place"),
        }),
        sector: enum_value!(common::Sector, f.get("proposal.sector")),
        theme_code: f.get("proposal.theme_code").to_string(),
        beneficiaries_targeted: Some(beneficiaries),
        budget_lines,
        milestones,
        start_date,
        end_date,
        etag: f.get("etag").to_string(),
        ..Default::default()
    };
    let answer = ctx
        .grants()
        .update_proposal(gr::UpdateProposalRequest {
            proposal: Some(proposal),
            update_mask: None,
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/grants/proposals/{id}?done=proposal_saved"),
        |form| proposal_form(&ctx, &p, form),
    )
    .await
}

/// The life-cycle buttons of a proposal.
async fn proposal_action(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(&[Role::Admin, Role::Staff, Role::Partner])?;
    let etag = f.get("etag").to_string();
    let reason = f.get("reason").trim().to_string();
    let id_ = id.clone();
    let action = f.get("action");
    let answer = match action {
        "submit" => {
            ctx.grants()
                .submit_proposal(gr::SubmitProposalRequest { id: id_, etag })
                .await
        }
        "start_review" => {
            ctx.grants()
                .start_review(gr::StartReviewRequest { id: id_, etag })
                .await
        }
        "request_changes" => {
            ctx.grants()
                .request_changes(gr::RequestChangesRequest {
                    id: id_,
                    note: reason,
                    etag,
                })
                .await
        }
        "approve" | "reject" => {
            let decision = if action == "approve" {
                gr::Decision::Approve
            } else {
                gr::Decision::Reject
            };
            ctx.grants()
                .decide_proposal(gr::DecideProposalRequest {
                    id: id_,
                    decision: decision as i32,
                    reason,
                    etag,
                })
                .await
        }
        "withdraw" => {
            ctx.grants()
                .withdraw_proposal(gr::WithdrawProposalRequest {
                    id: id_,
                    reason,
                    etag,
                })
                .await
        }
        _ => return Err(Fail::NotFound),
    };
    ctx.finish(
        form,
        answer,
        |_| format!("/grants/proposals/{id}?done=proposal_{action}"),
        |form| proposal_screen(&ctx, &id, form),
    )
    .await
}

async fn add_note(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(&[Role::Admin, Role::Staff, Role::Trainer, Role::Partner])?;
    let answer = ctx
        .grants()
        .add_coaching_note(gr::AddCoachingNoteRequest {
            proposal_id: id.clone(),
            body: f.get("body").trim().to_string(),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/grants/proposals/{id}?done=note_added#notes"),
        |form| proposal_screen(&ctx, &id, form),
    )
    .await
}

async fn assign_reviewer(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let answer = ctx
        .grants()
        .assign_reviewer(gr::AssignReviewerRequest {
            proposal_id: id.clone(),
            reviewer_id: f.get("reviewer_id").to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/grants/proposals/{id}?done=reviewer_assigned#reviews"),
        |form| proposal_screen(&ctx, &id, form),
    )
    .await
}

/// The reviewer's sheet: one score per criterion of the call's rubric.
async fn submit_score(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(&[Role::Reviewer])?;
    let lang = ctx.lang;
    let mut scores = Vec::new();
    for (i, (code, value)) in f.with_prefix("score.").enumerate() {
        let score = parse_int(&mut form, lang, &format!("scores[{i}].score"), value).unwrap_or(-1);
        scores.push(gr::CriterionScore {
            criterion_code: code.to_string(),
            score: score as i32,
            comment: f.get(&format!("comment.{code}")).trim().to_string(),
        });
    }
    if form.has_errors() {
        return proposal_screen(&ctx, &id, form).await;
    }
    let answer = ctx
        .grants()
        .submit_score(gr::SubmitScoreRequest {
            proposal_id: id.clone(),
            scores,
            comment: f.get("comment").trim().to_string(),
        })
        .await;
    match answer {
        Ok(_) => ctx.redirect(&format!("/grants/proposals/{id}?done=score_submitted")),
        Err(status) => {
            // The service names `scores[i].score`: show it by the criterion.
            let mut errors = Form::posted(f);
            errors.absorb(status)?;
            let codes: Vec<&str> = f.with_prefix("score.").map(|(c, _)| c).collect();
            for (field, description) in errors.summary.clone() {
                let renamed = field
                    .strip_prefix("scores[")
                    .and_then(|r| r.split_once(']'))
                    .and_then(|(i, rest)| Some((codes.get(i.parse::<usize>().ok()?)?, rest)))
                    .map(|(code, rest)| {
                        if rest == ".score" {
                            format!("score.{code}")
                        } else {
                            format!("comment.{code}")
                        }
                    })
                    .unwrap_or(field);
                form.object(&renamed, description);
            }
            form.refusals.extend(errors.refusals);
            proposal_screen(&ctx, &id, form).await
        }
    }
}

/// Awards the approved budget, one tranche per milestone with an amount.
async fn award(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let lang = ctx.lang;
    let p = get_proposal(&ctx, &id).await?;
    let f = &ctx.fields;
    let mut form = Form::posted(f);
    let currency = p
        .requested_total
        .as_ref()
        .map(|m| m.currency_code.clone())
        .unwrap_or_default();
    let mut tranches = Vec::new();
    for m in &p.milestones {
        let field = format!("tranche.{}", m.number);
        let n = tranches.len();
        if let Some(amount) = parse_money(
            &mut form,
            lang,
            &format!("tranches[{n}].amount"),
            f.get(&field),
            &currency,
        ) {
            tranches.push(gr::TrancheSpec {
                milestone_number: m.number,
                amount: Some(amount),
            });
        }
    }
    if form.has_errors() {
        return proposal_screen(&ctx, &id, form).await;
    }
    let answer = ctx
        .grants()
        .award_grant(gr::AwardGrantRequest {
            proposal_id: id.clone(),
            amount: p.requested_total.clone(),
            tranches,
            etag: p.etag.clone(),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |a| format!("/grants/awards/{}?done=awarded", a.id),
        |form| proposal_screen(&ctx, &id, form),
    )
    .await
}

async fn award_page(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(&[Role::Admin, Role::Staff, Role::Partner])?;
    award_screen(&ctx, &id, Form::new()).await
}

async fn award_screen(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let a = ctx
        .grants()
        .get_award(gr::GetAwardRequest { id: id.to_string() })
        .await?
        .into_inner();
    let reports = ctx
        .grants()
        .list_reports(gr::ListReportsRequest {
            award_id: id.to_string(),
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .reports;
    let form = if form.values.contains_key("disbursed_on") {
        form
    } else {
        form.with(
            "disbursed_on",
            date_value(Some(&markaz_kit::time::Date::today().to_proto())),
        )
    };
    ctx.render_form(
        "award.html",
        form,
        context! {
            a => context! {
                id => a.id,
                proposal_id => a.proposal_id,
                organization_id => a.organization_id,
                state => enum_name!(gr::ProposalState, a.state),
                amount => lang.money(a.amount.as_ref()),
                disbursed => lang.money(a.disbursed.as_ref()),
                cancelled => lang.money(a.cancelled.as_ref()),
                remaining => lang.money(a.remaining.as_ref()),
                spent => lang.money(a.spent.as_ref()),
                starts => lang.date(a.start_date.as_ref()),
                ends => lang.date(a.end_date.as_ref()),
                etag => a.etag,
            },
            tranches => a.tranches.iter().map(|t| context! {
                number => t.number,
                number_text => lang.number(t.number as i64),
                milestone => lang.number(t.milestone_number as i64),
                amount => lang.money(t.amount.as_ref()),
                state => enum_name!(gr::TrancheState, t.state),
                on => lang.date(t.disbursed_on.as_ref()),
                reference => t.reference,
            }).collect::<Vec<_>>(),
            budget => a.budget.iter().map(|b| context! {
                line => b.line.as_ref().map(|l| lang.text(l.description.as_ref())).unwrap_or_default(),
                budget => lang.money(b.line.as_ref().and_then(|l| l.amount.as_ref())),
                spent => lang.money(b.spent.as_ref()),
                variance => lang.money(b.variance.as_ref()),
            }).collect::<Vec<_>>(),
            milestones => a.milestones.iter().map(|m| context! {
                number => m.milestone.as_ref().map(|x| x.number).unwrap_or(0),
                title => m.milestone.as_ref().map(|x| lang.text(x.title.as_ref())).unwrap_or_default(),
                report => enum_name!(gr::ReportState, m.report_state),
            }).collect::<Vec<_>>(),
            reports => reports.iter().map(|r| context! {
                id => r.id,
                kind => enum_name!(gr::ReportKind, r.kind),
                milestone => lang.number(r.milestone_number as i64),
                narrative => lang.text(r.narrative.as_ref()),
                state => enum_name!(gr::ReportState, r.state),
                comment => r.review_comment,
                at => lang.timestamp(r.submit_time.as_ref()),
            }).collect::<Vec<_>>(),
            kinds => choices(lang, enum_names!(gr::ReportKind)),
            staff => is_staff(ctx),
            done => ctx.q("done"),
        },
    )
}

async fn award_action(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
    let etag = f.get("etag").to_string();
    let award_id = id.clone();
    let action = f.get("action");
    let answer = match action {
        "activate" => {
            ctx.grants()
                .activate_grant(gr::ActivateGrantRequest { award_id, etag })
                .await
        }
        "complete" => {
            ctx.grants()
                .complete_grant(gr::CompleteGrantRequest { award_id, etag })
                .await
        }
        "close_early" => {
            ctx.grants()
                .close_grant_early(gr::CloseGrantEarlyRequest {
                    award_id,
                    reason: f.get("reason").trim().to_string(),
                    etag,
                })
                .await
        }
        "disburse" => {
            let on = parse_date(&mut form, lang, "disbursed_on", f.get("disbursed_on"));
            let number =
                parse_int(&mut form, lang, "tranche_number", f.get("tranche_number")).unwrap_or(0);
            if form.has_errors() {
                return award_screen(&ctx, &id, form).await;
            }
            ctx.grants()
                .disburse_tranche(gr::DisburseTrancheRequest {
                    award_id,
                    tranche_number: number as i32,
                    disbursed_on: on,
                    reference: f.get("reference").trim().to_string(),
                    etag,
                })
                .await
        }
        _ => return Err(Fail::NotFound),
    };
    ctx.finish(
        form,
        answer,
        |_| format!("/grants/awards/{id}?done=award_{action}"),
        |form| award_screen(&ctx, &id, form),
    )
    .await
}

async fn submit_report(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(&[Role::Admin, Role::Staff, Role::Partner])?;
    let lang = ctx.lang;
    let milestone = parse_int(
        &mut form,
        lang,
        "report.milestone_number",
        f.get("report.milestone_number"),
    )
    .unwrap_or(0);
    let count = |form: &mut Form, k: &str| {
        let name = format!("report.beneficiaries_reached.{k}");
        parse_int(form, lang, &name, f.get(&name)).unwrap_or(0)
    };
    let reached = gr::Beneficiaries {
        female: count(&mut form, "female"),
        male: count(&mut form, "male"),
        undisclosed: count(&mut form, "undisclosed"),
    };
    if form.has_errors() {
        return award_screen(&ctx, &id, form).await;
    }
    let answer = ctx
        .grants()
        .submit_report(gr::SubmitReportRequest {
            report: Some(gr::Report {
                award_id: id.clone(),
                kind: enum_value!(gr::ReportKind, f.get("report.kind")),
                milestone_number: milestone as i32,
                narrative: form_text(f, "report.narrative"),
                beneficiaries_reached: Some(reached),
                ..Default::default()
            }),
            request_id: form.request_id.clone(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/grants/awards/{id}?done=report_submitted"),
        |form| award_screen(&ctx, &id, form),
    )
    .await
}

async fn review_report(ctx: Ctx, Path((id, report)): Path<(String, String)>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let outcome = if f.get("outcome") == "accept" {
        gr::ReviewOutcome::Accept
    } else {
        gr::ReviewOutcome::Return
    };
    let answer = ctx
        .grants()
        .review_report(gr::ReviewReportRequest {
            id: report,
            outcome: outcome as i32,
            comment: f.get("comment").trim().to_string(),
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/grants/awards/{id}?done=report_reviewed"),
        |form| award_screen(&ctx, &id, form),
    )
    .await
}
