//! A coalition's own page (its charter, status and its history, the members
//! with every period of membership) and a campaign's (its targets,
//! activities and outcomes with their evidence).
//!
//! Joining and leaving are networking's `AddCoalitionMember` and
//! `RemoveCoalitionMember`, staff's only, as is a change of status: a
//! partner reads the coalitions its organization is a member of (the
//! service answers NOT_FOUND for the others) and their campaigns.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_proto::networking::v1 as net;
use minijinja::context;

use super::networking::NETWORKING;
use super::{STAFF, choices, enum_name, enum_value, is_staff, organization_choices, parse_date};
use crate::AppState;
use crate::render::Outcome::{Again, Done};
use crate::render::{Answer, Ctx, Form};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/networking/coalitions/{id}", get(coalition))
        .route("/networking/coalitions/{id}/members", post(join))
        .route(
            "/networking/coalitions/{id}/members/{org}/leave",
            post(leave),
        )
        .route("/networking/coalitions/{id}/status", post(change_status))
        .route("/networking/campaigns/{id}", get(campaign))
}

async fn coalition(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(NETWORKING)?;
    coalition_page(&ctx, &id, Form::new()).await
}

async fn coalition_page(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let c = ctx
        .networking()
        .get_coalition(net::GetCoalitionRequest { id: id.to_string() })
        .await?
        .into_inner();
    let members = ctx
        .networking()
        .list_coalition_members(net::ListCoalitionMembersRequest {
            coalition_id: id.to_string(),
            page_size: 200,
            include_former: true,
            ..Default::default()
        })
        .await?
        .into_inner()
        .members;
    let campaigns = ctx
        .networking()
        .list_campaigns(net::ListCampaignsRequest {
            page_size: 100,
            coalition_id: id.to_string(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .campaigns;
    let staff = is_staff(ctx);
    // Organizations that could join: not active members now.
    let joinable = if staff {
        organization_choices(ctx)
            .await?
            .into_iter()
            .filter(|o| {
                !members
                    .iter()
                    .any(|m| m.active && m.organization_id == o.value)
            })
            .collect()
    } else {
        Vec::new()
    };
    let statuses: Vec<&'static str> = [
        net::CoalitionStatus::Active,
        net::CoalitionStatus::Dormant,
        net::CoalitionStatus::Dissolved,
    ]
    .into_iter()
    .filter(|s| *s as i32 != c.status)
    .map(|s| s.as_str_name())
    .collect();
    let charter = c.charter.clone().unwrap_or_default();
    ctx.render_form(
        "coalition.html",
        form,
        context! {
            c => context! {
                id => c.id,
                name_ar => c.name.as_ref().map(|t| t.ar.clone()),
                name_en => c.name.as_ref().map(|t| t.en.clone()),
                charter_ar => charter.ar,
                charter_en => charter.en,
                status => enum_name!(net::CoalitionStatus, c.status),
                issues => c.issue_codes,
                branch => c.branch_id,
                formed_on => lang.date(c.formed_on.as_ref()),
                members => lang.number(c.active_member_count.into()),
                etag => c.etag,
                history => c.status_history.iter().map(|h| context! {
                    from => enum_name!(net::CoalitionStatus, h.from),
                    to => enum_name!(net::CoalitionStatus, h.to),
                    on => lang.date(h.effective_on.as_ref()),
                    reason => h.reason,
                    by => h.changed_by,
                }).collect::<Vec<_>>(),
            },
            members => members.iter().map(|m| context! {
                id => m.organization_id,
                name => lang.text(m.organization_name.as_ref()),
                active => m.active,
                lead => m.lead,
                days => lang.number(m.days_active.into()),
                periods => m.periods.iter().map(|p| context! {
                    joined => lang.date(p.joined_on.as_ref()),
                    left => lang.date(p.left_on.as_ref()),
                    reason => p.leave_reason,
                }).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
            campaigns => campaigns.iter().map(|k| context! {
                id => k.id,
                title => lang.text(k.title.as_ref()),
                status => enum_name!(net::CampaignStatus, k.status),
            }).collect::<Vec<_>>(),
            staff => staff,
            joinable => joinable,
            statuses => choices(lang, statuses),
            done => ctx.q("done"),
        },
    )
}

/// An organization joins (or joins again): staff.
async fn join(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let joined_on = parse_date(&mut form, ctx.lang, "joined_on", f.get("joined_on"));
    if form.has_errors() {
        return coalition_page(&ctx, &id, form).await;
    }
    let answer = ctx
        .networking()
        .add_coalition_member(net::AddCoalitionMemberRequest {
            coalition_id: id.clone(),
            organization_id: f.get("organization_id").to_string(),
            joined_on,
            request_id: form.request_id.clone(),
        })
        .await;
    match form.outcome(answer)? {
        Done(_) => ctx.redirect(&format!("/networking/coalitions/{id}?done=member_joined")),
        Again => coalition_page(&ctx, &id, form).await,
    }
}

/// An organization leaves, with why: staff.
async fn leave(ctx: Ctx, Path((id, org)): Path<(String, String)>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let mut form = form.with("leaving", org.clone());
    let left_on = parse_date(&mut form, ctx.lang, "left_on", f.get("left_on"));
    if form.has_errors() {
        return coalition_page(&ctx, &id, form).await;
    }
    let answer = ctx
        .networking()
        .remove_coalition_member(net::RemoveCoalitionMemberRequest {
            coalition_id: id.clone(),
            organization_id: org,
            left_on,
            reason: f.get("reason").trim().to_string(),
        })
        .await;
    match form.outcome(answer)? {
        Done(_) => ctx.redirect(&format!("/networking/coalitions/{id}?done=member_left")),
        Again => {
            // The leaving row's own reason, not the status form's.
            if let Some(errors) = form.errors.remove("reason") {
                form.errors.insert("leave_reason".into(), errors);
            }
            if let Some(reason) = form.values.remove("reason") {
                form.values.insert("leave_reason".into(), reason);
            }
            coalition_page(&ctx, &id, form).await
        }
    }
}

/// Active ⇄ dormant, or dissolved (with a reason): staff.
async fn change_status(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let answer = ctx
        .networking()
        .change_coalition_status(net::ChangeCoalitionStatusRequest {
            id: id.clone(),
            status: enum_value!(net::CoalitionStatus, f.get("status")),
            reason: f.get("reason").trim().to_string(),
            effective_on: None,
            etag: f.get("etag").to_string(),
        })
        .await;
    match form.outcome(answer)? {
        Done(_) => ctx.redirect(&format!(
            "/networking/coalitions/{id}?done=coalition_status_changed"
        )),
        Again => coalition_page(&ctx, &id, form).await,
    }
}

/// A campaign: who runs it, whom it addresses, what it did and achieved.
async fn campaign(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(NETWORKING)?;
    let lang = ctx.lang;
    let k = ctx
        .networking()
        .get_campaign(net::GetCampaignRequest { id: id.clone() })
        .await?
        .into_inner();
    let outcomes = ctx
        .networking()
        .list_campaign_outcomes(net::ListCampaignOutcomesRequest {
            campaign_id: id,
            page_size: 100,
            page_token: String::new(),
        })
        .await?
        .into_inner()
        .outcomes;
    let runner = match &k.runner {
        Some(net::campaign::Runner::CoalitionId(cid)) => {
            let c = ctx
                .networking()
                .get_coalition(net::GetCoalitionRequest { id: cid.clone() })
                .await?
                .into_inner();
            context! { coalition => cid, name => lang.text(c.name.as_ref()) }
        }
        Some(net::campaign::Runner::OrganizationId(org)) => {
            context! { organization => org, name => lang.label("organization") }
        }
        None => context! {},
    };
    ctx.render(
        "campaign.html",
        context! {
            k => context! {
                title_ar => k.title.as_ref().map(|t| t.ar.clone()),
                title_en => k.title.as_ref().map(|t| t.en.clone()),
                objective => lang.text(k.objective.as_ref()),
                issue => k.issue_code,
                status => enum_name!(net::CampaignStatus, k.status),
                starts => lang.date(k.start_date.as_ref()),
                ends => lang.date(k.end_date.as_ref()),
                branch => k.branch_id,
                targets => k.targets.iter().map(|t| context! {
                    kind => enum_name!(net::TargetKind, t.kind),
                    description => lang.text(t.description.as_ref()),
                }).collect::<Vec<_>>(),
                activities => k.activities.iter().map(|a| context! {
                    date => lang.date(a.date.as_ref()),
                    description => lang.text(a.description.as_ref()),
                    reached => lang.number(a.people_reached.into()),
                }).collect::<Vec<_>>(),
                history => k.status_history.iter().map(|h| context! {
                    from => enum_name!(net::CampaignStatus, h.from),
                    to => enum_name!(net::CampaignStatus, h.to),
                    reason => h.reason,
                    when => lang.timestamp(h.change_time.as_ref()),
                }).collect::<Vec<_>>(),
            },
            runner => runner,
            outcomes => outcomes.iter().map(|o| context! {
                kind => enum_name!(net::OutcomeKind, o.kind),
                description => lang.text(o.description.as_ref()),
                on => lang.date(o.achieved_on.as_ref()),
                evidence => o.evidence.iter().map(|e| context! {
                    description => lang.text(e.description.as_ref()),
                    url => e.url,
                    item => e.library_item_id,
                }).collect::<Vec<_>>(),
            }).collect::<Vec<_>>(),
        },
    )
}
