//! A coalition's own page (its charter, status and its history, the members
//! with every period of membership) and a campaign's (its targets,
//! activities and outcomes with their evidence).
//!
//! Joining and leaving are networking's `AddCoalitionMember` and
//! `RemoveCoalitionMember`, staff's only, as are a change of status,
//! editing a coalition (`UpdateCoalition`) or a campaign (`UpdateCampaign`:
//! its targets and activities too), a campaign's life cycle (launch,
//! complete, cancel) and recording what it achieved: a partner reads the
//! coalitions its organization is a member of (the service answers
//! NOT_FOUND for the others) and their campaigns.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use markaz_proto::networking::v1 as net;
use minijinja::context;

use super::networking::{NETWORKING, issue_choices};
use super::{
    Choice, STAFF, branch_choices, choices, date_value, enum_name, enum_names, enum_value,
    form_text, is_staff, organization_choices, parse_date, parse_int, put_text,
};
use super::{blank, renumber, rows, sent_rows};
use crate::AppState;
use crate::render::Outcome::{Again, Done};
use crate::render::{Answer, Ctx, Fail, Form};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/networking/coalitions/{id}", get(coalition))
        .route("/networking/coalitions/{id}/members", post(join))
        .route(
            "/networking/coalitions/{id}/members/{org}/leave",
            post(leave),
        )
        .route("/networking/coalitions/{id}/status", post(change_status))
        .route(
            "/networking/coalitions/{id}/edit",
            get(edit_coalition).post(update_coalition),
        )
        .route("/networking/campaigns/{id}", get(campaign))
        .route(
            "/networking/campaigns/{id}/edit",
            get(edit_campaign).post(update_campaign),
        )
        .route("/networking/campaigns/{id}/outcomes", post(record_outcome))
        .route(
            "/networking/campaigns/{id}/outcomes/{outcome}/edit",
            get(edit_outcome).post(update_outcome),
        )
        .route("/networking/campaigns/{id}/{action}", post(move_campaign))
}

async fn coalition(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(NETWORKING)?;
    coalition_page(&ctx, &id, Form::new()).await
}

async fn coalition_page(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let c = get_coalition(ctx, id).await?;
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
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/coalitions/{id}?done=member_joined"),
        |form| coalition_page(&ctx, &id, form),
    )
    .await
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
    let (f, form) = ctx.posted(STAFF)?;
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
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/coalitions/{id}?done=coalition_status_changed"),
        |form| coalition_page(&ctx, &id, form),
    )
    .await
}

/// The bodies a campaign's targets name (organizations on record, a
/// local-administration body above all), by name: what an outcome may
/// concern, as the service allows only these.
async fn target_bodies(ctx: &Ctx, k: &net::Campaign) -> Result<Vec<Choice>, Fail> {
    let named: Vec<&str> = k
        .targets
        .iter()
        .map(|t| t.organization_id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    if named.is_empty() {
        return Ok(Vec::new());
    }
    Ok(organization_choices(ctx)
        .await?
        .into_iter()
        .filter(|o| named.contains(&o.value.as_str()))
        .collect())
}

/// A campaign: who runs it, whom it addresses, what it did and achieved.
async fn campaign(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(NETWORKING)?;
    let form = Form::new().with(
        "outcome.achieved_on",
        date_value(Some(&markaz_kit::time::Date::today().to_proto())),
    );
    campaign_page(&ctx, &id, form).await
}

async fn campaign_page(ctx: &Ctx, id: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let k = get_campaign(ctx, id).await?;
    let outcomes = outcomes_of(ctx, id).await?;
    let runner = match &k.runner {
        Some(net::campaign::Runner::CoalitionId(cid)) => {
            let c = get_coalition(ctx, cid).await?;
            context! { coalition => cid, name => lang.text(c.name.as_ref()) }
        }
        Some(net::campaign::Runner::OrganizationId(org)) => {
            context! { organization => org, name => lang.label("organization") }
        }
        None => context! {},
    };
    let bodies = target_bodies(ctx, &k).await?;
    let status =
        net::CampaignStatus::try_from(k.status).unwrap_or(net::CampaignStatus::Unspecified);
    use net::CampaignStatus as S;
    let staff = is_staff(ctx);
    let actions = context! {
        edit => staff && matches!(status, S::Planned | S::Active),
        launch => staff && status == S::Planned,
        complete => staff && status == S::Active,
        cancel => staff && matches!(status, S::Planned | S::Active),
        outcome => staff && matches!(status, S::Active | S::Completed),
    };
    ctx.render_form(
        "campaign.html",
        form,
        context! {
            actions => actions,
            outcome_kinds => choices(lang, enum_names!(net::OutcomeKind)),
            target_bodies => bodies,
            done => ctx.q("done"),
            k => context! {
                id => k.id,
                etag => k.etag,
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
                    body => bodies.iter().find(|b| b.value == t.organization_id).map(|b| b.label.clone()),
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
                id => o.id,
                body => bodies.iter().find(|b| b.value == o.target_organization_id).map(|b| b.label.clone()),
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

// ------------------------------------------------------ editing a coalition

async fn get_coalition(ctx: &Ctx, id: &str) -> Result<net::Coalition, Fail> {
    Ok(ctx
        .networking()
        .get_coalition(net::GetCoalitionRequest { id: id.to_string() })
        .await?
        .into_inner())
}

/// Its name, issues, charter, lead and branch as they are now: staff.
async fn edit_coalition(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let c = get_coalition(&ctx, &id).await?;
    let mut form = Form::new()
        .with("etag", c.etag.clone())
        .with(
            "coalition.lead_organization_id",
            c.lead_organization_id.clone(),
        )
        .with("coalition.branch_id", c.branch_id.clone());
    form = put_text(form, "coalition.name", c.name.as_ref());
    form = put_text(form, "coalition.charter", c.charter.as_ref());
    coalition_form(&ctx, &c, form, c.issue_codes.clone()).await
}

/// The edit form; `chosen` the issues ticked (a form's checkboxes share one
/// name, so they are not among its single values).
async fn coalition_form(ctx: &Ctx, c: &net::Coalition, form: Form, chosen: Vec<String>) -> Answer {
    let lang = ctx.lang;
    // The lead is one of the active members.
    let leads: Vec<Choice> = ctx
        .networking()
        .list_coalition_members(net::ListCoalitionMembersRequest {
            coalition_id: c.id.clone(),
            page_size: 200,
            ..Default::default()
        })
        .await?
        .into_inner()
        .members
        .iter()
        .filter(|m| m.active)
        .map(|m| Choice::named(lang, &m.organization_id, m.organization_name.as_ref()))
        .collect();
    ctx.render_form(
        "coalition_form.html",
        form,
        context! {
            c => context! { id => c.id, name => lang.text(c.name.as_ref()) },
            issues => issue_choices(ctx).await?,
            chosen => chosen,
            leads => leads,
            branches => branch_choices(ctx).await?,
        },
    )
}

async fn update_coalition(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, form) = ctx.posted(STAFF)?;
    let issue_codes: Vec<String> = f
        .all("coalition.issue_codes")
        .into_iter()
        .map(str::to_string)
        .collect();
    let answer = ctx
        .networking()
        .update_coalition(net::UpdateCoalitionRequest {
            coalition: Some(net::Coalition {
                id: id.clone(),
                name: form_text(f, "coalition.name"),
                issue_codes: issue_codes.clone(),
                charter: form_text(f, "coalition.charter"),
                lead_organization_id: f.get("coalition.lead_organization_id").to_string(),
                branch_id: f.get("coalition.branch_id").to_string(),
                etag: f.get("etag").to_string(),
                ..Default::default()
            }),
            // Every field the form shows.
            update_mask: None,
        })
        .await;
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/coalitions/{id}?done=coalition_saved"),
        |form| async {
            let c = get_coalition(&ctx, &id).await?;
            coalition_form(&ctx, &c, form, issue_codes).await
        },
    )
    .await
}

// ------------------------------------------------------- editing a campaign

/// Empty rows a campaign form offers besides those it has.
const NEW_TARGETS: usize = 1;
const NEW_ACTIVITIES: usize = 2;

async fn get_campaign(ctx: &Ctx, id: &str) -> Result<net::Campaign, Fail> {
    Ok(ctx
        .networking()
        .get_campaign(net::GetCampaignRequest { id: id.to_string() })
        .await?
        .into_inner())
}

async fn edit_campaign(ctx: Ctx, Path(id): Path<String>) -> Answer {
    ctx.require(STAFF)?;
    let k = get_campaign(&ctx, &id).await?;
    let (coalition, organization) = match &k.runner {
        Some(net::campaign::Runner::CoalitionId(c)) => (c.clone(), String::new()),
        Some(net::campaign::Runner::OrganizationId(o)) => (String::new(), o.clone()),
        None => (String::new(), String::new()),
    };
    let mut form = Form::new()
        .with("etag", k.etag.clone())
        .with("campaign.issue_code", k.issue_code.clone())
        .with("campaign.coalition_id", coalition)
        .with("campaign.organization_id", organization)
        .with("campaign.branch_id", k.branch_id.clone())
        .with("campaign.start_date", date_value(k.start_date.as_ref()))
        .with("campaign.end_date", date_value(k.end_date.as_ref()));
    form = put_text(form, "campaign.title", k.title.as_ref());
    form = put_text(form, "campaign.objective", k.objective.as_ref());
    for (i, t) in k.targets.iter().enumerate() {
        let n = format!("campaign.targets[{i}]");
        form = put_text(form, &format!("{n}.description"), t.description.as_ref())
            .with(&format!("{n}.kind"), enum_name!(net::TargetKind, t.kind))
            .with(&format!("{n}.organization_id"), t.organization_id.clone());
    }
    for (i, a) in k.activities.iter().enumerate() {
        let n = format!("campaign.activities[{i}]");
        form = put_text(form, &format!("{n}.description"), a.description.as_ref())
            .with(&format!("{n}.id"), a.id.clone())
            .with(&format!("{n}.event_id"), a.event_id.clone())
            .with(&format!("{n}.date"), date_value(a.date.as_ref()))
            .with(
                &format!("{n}.people_reached"),
                match a.people_reached {
                    0 => String::new(),
                    n => n.to_string(),
                },
            );
    }
    campaign_form(&ctx, &k, form).await
}

async fn campaign_form(ctx: &Ctx, k: &net::Campaign, form: Form) -> Answer {
    let lang = ctx.lang;
    let coalitions = ctx
        .networking()
        .list_coalitions(net::ListCoalitionsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .coalitions;
    let active = k.status == net::CampaignStatus::Active as i32;
    ctx.render_form(
        "campaign_form.html",
        form.clone(),
        context! {
            k => context! {
                id => k.id,
                title => lang.text(k.title.as_ref()),
                status => enum_name!(net::CampaignStatus, k.status),
                // Launched: its issue and who runs it are kept.
                focused => active,
            },
            issues => issue_choices(ctx).await?,
            coalition_choices => coalitions.iter().map(|c| Choice::named(lang, &c.id, c.name.as_ref())).collect::<Vec<_>>(),
            organizations => organization_choices(ctx).await?,
            branches => branch_choices(ctx).await?,
            target_kinds => choices(lang, enum_names!(net::TargetKind)),
            target_rows => rows(&form, "campaign.targets", NEW_TARGETS),
            activity_rows => rows(&form, "campaign.activities", NEW_ACTIVITIES),
        },
    )
}

async fn update_campaign(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let lang = ctx.lang;
    let start = parse_date(
        &mut form,
        lang,
        "campaign.start_date",
        f.get("campaign.start_date"),
    );
    let end = parse_date(
        &mut form,
        lang,
        "campaign.end_date",
        f.get("campaign.end_date"),
    );
    let k = get_campaign(&ctx, &id).await?;
    // A row left empty is no row; the service numbers those sent, and
    // `*_rows` keep which form row each one is.
    let (mut targets, mut target_rows) = (Vec::new(), Vec::new());
    for n in sent_rows(f, "campaign.targets") {
        let kind = f.get(&format!("{n}.kind"));
        let description = form_text(f, &format!("{n}.description"));
        let body = f.get(&format!("{n}.organization_id"));
        if kind.is_empty() && body.is_empty() && blank(&description) {
            continue;
        }
        targets.push(net::CampaignTarget {
            kind: enum_value!(net::TargetKind, kind),
            organization_id: body.to_string(),
            description,
        });
        target_rows.push(n);
    }
    let (mut activities, mut activity_rows) = (Vec::new(), Vec::new());
    for n in sent_rows(f, "campaign.activities") {
        let description = form_text(f, &format!("{n}.description"));
        let date_field = format!("{n}.date");
        if blank(&description) && f.get(&date_field).trim().is_empty() {
            continue;
        }
        let date = parse_date(&mut form, lang, &date_field, f.get(&date_field));
        let reached_field = format!("{n}.people_reached");
        let reached = parse_int(&mut form, lang, &reached_field, f.get(&reached_field));
        activities.push(net::CampaignActivity {
            id: f.get(&format!("{n}.id")).to_string(),
            date,
            description,
            event_id: f.get(&format!("{n}.event_id")).to_string(),
            people_reached: reached.unwrap_or(0) as i32,
        });
        activity_rows.push(n);
    }
    if form.has_errors() {
        return campaign_form(&ctx, &k, form).await;
    }
    let runner = match (
        f.get("campaign.coalition_id"),
        f.get("campaign.organization_id"),
    ) {
        ("", "") => None,
        ("", org) => Some(net::campaign::Runner::OrganizationId(org.to_string())),
        (coalition, _) => Some(net::campaign::Runner::CoalitionId(coalition.to_string())),
    };
    let answer = ctx
        .networking()
        .update_campaign(net::UpdateCampaignRequest {
            campaign: Some(net::Campaign {
                id: id.clone(),
                title: form_text(f, "campaign.title"),
                issue_code: f.get("campaign.issue_code").to_string(),
                objective: form_text(f, "campaign.objective"),
                runner,
                targets,
                activities,
                branch_id: f.get("campaign.branch_id").to_string(),
                start_date: start,
                end_date: end,
                // Not on the form: kept as it is.
                grant_award_id: k.grant_award_id.clone(),
                etag: f.get("etag").to_string(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .map_err(|s| {
            crate::upstream::rename_violations(s, |field| {
                renumber(field, "campaign.targets", &target_rows)
                    .or_else(|| renumber(field, "campaign.activities", &activity_rows))
            })
        });
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/campaigns/{id}?done=campaign_saved"),
        |form| campaign_form(&ctx, &k, form),
    )
    .await
}

/// planned → active, active → completed, planned | active → cancelled
/// (with why): staff.
async fn move_campaign(ctx: Ctx, Path((id, action)): Path<(String, String)>) -> Answer {
    if !matches!(action.as_str(), "launch" | "complete" | "cancel") {
        return Err(Fail::NotFound);
    }
    let (f, form) = ctx.posted(STAFF)?;
    let etag = f.get("etag").to_string();
    let mut n = ctx.networking();
    let answer = match action.as_str() {
        "launch" => {
            n.launch_campaign(net::LaunchCampaignRequest {
                id: id.clone(),
                etag,
            })
            .await
        }
        "complete" => {
            n.complete_campaign(net::CompleteCampaignRequest {
                id: id.clone(),
                etag,
            })
            .await
        }
        _ => {
            n.cancel_campaign(net::CancelCampaignRequest {
                id: id.clone(),
                reason: f.get("reason").trim().to_string(),
                etag,
            })
            .await
        }
    };
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/campaigns/{id}?done=campaign_{action}"),
        |form| campaign_page(&ctx, &id, form),
    )
    .await
}

/// What a launched campaign achieved, with one piece of evidence (a link,
/// a library item or a description): staff.
async fn record_outcome(ctx: Ctx, Path(id): Path<String>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let achieved_on = parse_date(
        &mut form,
        ctx.lang,
        "outcome.achieved_on",
        f.get("outcome.achieved_on"),
    );
    if form.has_errors() {
        return campaign_page(&ctx, &id, form).await;
    }
    let (outcome, sent) = outcome_of(f, achieved_on);
    let answer = ctx
        .networking()
        .record_campaign_outcome(net::RecordCampaignOutcomeRequest {
            outcome: Some(net::CampaignOutcome {
                campaign_id: id.clone(),
                ..outcome
            }),
            request_id: form.request_id.clone(),
        })
        .await
        .map_err(|s| evidence_renamed(s, &sent));
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/campaigns/{id}?done=outcome_recorded"),
        |form| campaign_page(&ctx, &id, form),
    )
    .await
}

// ------------------------------------------------- correcting an outcome

/// Empty evidence rows the outcome form offers besides those it has.
const NEW_EVIDENCE: usize = 1;

/// The paths of an outcome the correction form shows: all of them.
const OUTCOME_PATHS: &[&str] = &[
    "kind",
    "description",
    "achieved_on",
    "target_organization_id",
    "evidence",
];

/// One outcome of a campaign (there is no `GetCampaignOutcome`): NOT_FOUND
/// when it is not this campaign's.
async fn get_outcome(ctx: &Ctx, campaign: &str, id: &str) -> Result<net::CampaignOutcome, Fail> {
    outcomes_of(ctx, campaign)
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or(Fail::NotFound)
}

/// A campaign's outcomes, earliest achieved first.
async fn outcomes_of(ctx: &Ctx, campaign: &str) -> Result<Vec<net::CampaignOutcome>, Fail> {
    Ok(ctx
        .networking()
        .list_campaign_outcomes(net::ListCampaignOutcomesRequest {
            campaign_id: campaign.to_string(),
            page_size: 100,
            page_token: String::new(),
        })
        .await?
        .into_inner()
        .outcomes)
}

/// An outcome as its form (recording or correcting it) sends it, with which
/// form row each piece of evidence is.
fn outcome_of(
    f: &crate::session::FormFields,
    achieved_on: Option<markaz_proto::common::v1::Date>,
) -> (net::CampaignOutcome, Vec<String>) {
    let (evidence, sent) = evidence_rows(f);
    let outcome = net::CampaignOutcome {
        kind: enum_value!(net::OutcomeKind, f.get("outcome.kind")),
        description: form_text(f, "outcome.description"),
        achieved_on,
        target_organization_id: f.get("outcome.target_organization_id").to_string(),
        evidence,
        ..Default::default()
    };
    (outcome, sent)
}

/// The service's `outcome.evidence[i]` named as the form's row.
fn evidence_renamed(status: tonic::Status, sent: &[String]) -> tonic::Status {
    crate::upstream::rename_violations(status, |field| renumber(field, "outcome.evidence", sent))
}

/// An outcome form's evidence rows (`outcome.evidence[0].url`, …): a row
/// left empty is none; the second list keeps which form row each one is.
fn evidence_rows(f: &crate::session::FormFields) -> (Vec<net::Evidence>, Vec<String>) {
    let (mut evidence, mut sent) = (Vec::new(), Vec::new());
    for n in sent_rows(f, "outcome.evidence") {
        let field = |name: &str| f.get(&format!("{n}.{name}")).trim().to_string();
        let e = net::Evidence {
            description: form_text(f, &format!("{n}.description")),
            url: field("url"),
            library_item_id: field("library_item_id"),
            event_id: field("event_id"),
            ..Default::default()
        };
        if blank(&e.description) && e.url.is_empty() && e.library_item_id.is_empty() {
            continue;
        }
        evidence.push(e);
        sent.push(n);
    }
    (evidence, sent)
}

/// Correcting an outcome or adding evidence to it: staff,
/// `UpdateCampaignOutcome` with its etag.
async fn edit_outcome(ctx: Ctx, Path((id, outcome)): Path<(String, String)>) -> Answer {
    ctx.require(STAFF)?;
    let k = get_campaign(&ctx, &id).await?;
    let o = get_outcome(&ctx, &id, &outcome).await?;
    let mut form = Form::new()
        .with("etag", o.etag.clone())
        .with("outcome.kind", enum_name!(net::OutcomeKind, o.kind))
        .with("outcome.achieved_on", date_value(o.achieved_on.as_ref()))
        .with(
            "outcome.target_organization_id",
            o.target_organization_id.clone(),
        );
    form = put_text(form, "outcome.description", o.description.as_ref());
    for (i, e) in o.evidence.iter().enumerate() {
        let n = format!("outcome.evidence[{i}]");
        form = put_text(form, &format!("{n}.description"), e.description.as_ref())
            .with(&format!("{n}.url"), e.url.clone())
            .with(&format!("{n}.library_item_id"), e.library_item_id.clone())
            .with(&format!("{n}.event_id"), e.event_id.clone());
    }
    outcome_form(&ctx, &k, &outcome, form).await
}

async fn outcome_form(ctx: &Ctx, k: &net::Campaign, outcome: &str, form: Form) -> Answer {
    let lang = ctx.lang;
    let evidence_rows = rows(&form, "outcome.evidence", NEW_EVIDENCE);
    ctx.render_form(
        "campaign_outcome.html",
        form,
        context! {
            k => context! { id => k.id, title => lang.text(k.title.as_ref()) },
            outcome => outcome,
            outcome_kinds => choices(lang, enum_names!(net::OutcomeKind)),
            target_bodies => target_bodies(ctx, k).await?,
            evidence_rows => evidence_rows,
        },
    )
}

async fn update_outcome(ctx: Ctx, Path((id, outcome)): Path<(String, String)>) -> Answer {
    let (f, mut form) = ctx.posted(STAFF)?;
    let achieved_on = parse_date(
        &mut form,
        ctx.lang,
        "outcome.achieved_on",
        f.get("outcome.achieved_on"),
    );
    let k = get_campaign(&ctx, &id).await?;
    // The outcome must be this campaign's, as the page says.
    get_outcome(&ctx, &id, &outcome).await?;
    if form.has_errors() {
        return outcome_form(&ctx, &k, &outcome, form).await;
    }
    let (fields, sent) = outcome_of(f, achieved_on);
    let answer = ctx
        .networking()
        .update_campaign_outcome(net::UpdateCampaignOutcomeRequest {
            outcome: Some(net::CampaignOutcome {
                id: outcome.clone(),
                etag: f.get("etag").to_string(),
                ..fields
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: OUTCOME_PATHS.iter().map(|p| p.to_string()).collect(),
            }),
        })
        .await
        .map_err(|s| evidence_renamed(s, &sent));
    ctx.finish(
        form,
        answer,
        |_| format!("/networking/campaigns/{id}?done=campaign_outcome_saved"),
        |form| outcome_form(&ctx, &k, &outcome, form),
    )
    .await
}
