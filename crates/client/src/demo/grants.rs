//! Grants: the Father Paolo program, its call, a proposal of every
//! applicant (two turned down at screening), and each of the 24 community
//! projects taken from award to completion — activated, a progress report
//! accepted per milestone and its tranche disbursed, the spending reported,
//! the final report accepted.

use std::collections::HashMap;
use std::sync::Arc;

use markaz_kit::time::Date;
use markaz_proto::common::v1::{IncubationStatus, Money, Sector};
use markaz_proto::grants::v1 as gr;
use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;

use super::center::{self, BRANCHES, Grant, ORGS};
use super::{Ids, Seed, ar_of, parallel, rid, text};
use crate::rpc::{Api, all};

fn client(api: &Api) -> GrantsServiceClient<tonic::transport::Channel> {
    GrantsServiceClient::new(api.channel.clone())
}

fn usd(minor_units: i64) -> Option<Money> {
    Some(Money {
        currency_code: "USD".into(),
        minor_units,
    })
}

fn state(s: i32) -> gr::ProposalState {
    gr::ProposalState::try_from(s).unwrap_or_default()
}

/// The award id of each partner's project, by index into [`ORGS`].
pub(crate) type Awards = HashMap<usize, String>;

/// The steps of the progress bar: the call, an applicant.
pub(crate) fn steps() -> usize {
    center::applicants().len() + 1
}

pub(crate) async fn seed(seed: &Arc<Seed>, ids: &Arc<Ids>) -> Result<Awards, String> {
    let api = &seed.api;
    let applicants = center::applicants();
    seed.progress
        .phase("grants: the Father Paolo round, 24 projects");

    let programs = all("ListPrograms", |page_token| async move {
        let r = api
            .call("ListPrograms", || {
                let mut c = client(api);
                let r = api.request(gr::ListProgramsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                });
                async move { c.list_programs(r).await }
            })
            .await?;
        Ok((r.programs, r.next_page_token))
    })
    .await?;
    let program = match programs
        .into_iter()
        .find(|p| ar_of(&p.name) == center::PROGRAM_AR)
    {
        Some(p) => {
            seed.found("grant programs");
            p
        }
        None => {
            let p = api
                .call("CreateProgram", || {
                    let mut c = client(api);
                    let r = api.request(gr::CreateProgramRequest {
                        program: Some(gr::Program {
                            name: text(center::PROGRAM_AR, center::PROGRAM_EN),
                            description: text(
                                "برنامج منح صغيرة يساعد المنظمات التي يحتضنها المركز على تطوير وتنفيذ مشاريع مجتمعية صغيرة الحجم بإشراف فريق المركز وشبكة من الخبراء",
                                "Small grants helping the organizations the center incubates develop and carry out small community projects, supervised by the center's team and a network of experts",
                            ),
                            ..Default::default()
                        }),
                        request_id: rid("program"),
                    });
                    async move { c.create_program(r).await }
                })
                .await?;
            seed.created("grant programs");
            p
        }
    };

    let calls = all("ListCalls", |page_token| {
        let program_id = program.id.clone();
        async move {
            let r = api
                .call("ListCalls", || {
                    let mut c = client(api);
                    let r = api.request(gr::ListCallsRequest {
                        page_size: 500,
                        page_token: page_token.clone(),
                        program_id: program_id.clone(),
                        ..Default::default()
                    });
                    async move { c.list_calls(r).await }
                })
                .await?;
            Ok((r.calls, r.next_page_token))
        }
    })
    .await?;
    let mut call = match calls
        .into_iter()
        .find(|c| ar_of(&c.title) == center::CALL_AR)
    {
        Some(c) => {
            seed.found("grant calls");
            c
        }
        None => {
            let c = api
                .call("CreateCall", || {
                    let mut c = client(api);
                    let r = api.request(gr::CreateCallRequest {
                        call: Some(call_body(&program.id, seed.cal.first, seed.cal.today)),
                        request_id: rid("call"),
                    });
                    async move { c.create_call(r).await }
                })
                .await?;
            seed.created("grant calls");
            c
        }
    };
    if call.state == gr::CallState::Draft as i32 {
        call = api
            .call("OpenCall", || {
                let mut c = client(api);
                let r = api.request(gr::OpenCallRequest {
                    id: call.id.clone(),
                    etag: String::new(),
                });
                async move { c.open_call(r).await }
            })
            .await?;
    }
    seed.progress.tick();

    let call_id = call.id.clone();
    let proposals: HashMap<String, gr::Proposal> = all("ListProposals", |page_token| {
        let call_id = call_id.clone();
        async move {
            let r = api
                .call("ListProposals", || {
                    let mut c = client(api);
                    let r = api.request(gr::ListProposalsRequest {
                        page_size: 500,
                        page_token: page_token.clone(),
                        call_id: call_id.clone(),
                        ..Default::default()
                    });
                    async move { c.list_proposals(r).await }
                })
                .await?;
            Ok((r.proposals, r.next_page_token))
        }
    })
    .await?
    .into_iter()
    .filter(|p| state(p.state) != gr::ProposalState::Withdrawn)
    .map(|p| (p.organization_id.clone(), p))
    .collect();
    let awards: HashMap<String, gr::Award> = all("ListAwards", |page_token| {
        let call_id = call_id.clone();
        async move {
            let r = api
                .call("ListAwards", || {
                    let mut c = client(api);
                    let r = api.request(gr::ListAwardsRequest {
                        page_size: 500,
                        page_token: page_token.clone(),
                        call_id: call_id.clone(),
                        ..Default::default()
                    });
                    async move { c.list_awards(r).await }
                })
                .await?;
            Ok((r.awards, r.next_page_token))
        }
    })
    .await?
    .into_iter()
    .map(|a| (a.proposal_id.clone(), a))
    .collect();

    let numbers: HashMap<usize, usize> = center::projects()
        .into_iter()
        .map(|(n, org, _)| (org, n))
        .collect();
    let (s, i, proposals, awards, plan) = (
        seed.clone(),
        ids.clone(),
        Arc::new(proposals),
        Arc::new(awards),
        Arc::new(applicants.clone()),
    );
    let call_id = Arc::new(call.id.clone());
    let numbers = Arc::new(numbers);
    let done = parallel(seed, plan.len(), move |k| {
        let (s, i, proposals, awards, plan, call_id, numbers) = (
            s.clone(),
            i.clone(),
            proposals.clone(),
            awards.clone(),
            plan.clone(),
            call_id.clone(),
            numbers.clone(),
        );
        async move {
            let org = plan[k];
            let found = proposals.get(&i.orgs[org]).cloned();
            let award = proposal(
                &s,
                &i,
                &call_id,
                org,
                numbers.get(&org).copied(),
                found,
                &awards,
            )
            .await?;
            Ok(award.map(|a| (org, a)))
        }
    })
    .await?;

    // Every applicant has had its say: the call takes no more proposals.
    if call.state == gr::CallState::Open as i32 {
        api.call("CloseCall", || {
            let mut c = client(api);
            let r = api.request(gr::CloseCallRequest {
                id: call.id.clone(),
                etag: String::new(),
            });
            async move { c.close_call(r).await }
        })
        .await?;
    }
    Ok(done.into_iter().flatten().collect())
}

fn call_body(program_id: &str, opens: Date, closes: Date) -> gr::Call {
    gr::Call {
        program_id: program_id.into(),
        title: text(center::CALL_AR, center::CALL_EN),
        description: text(
            "مشاريع مجتمعية صغيرة تختارها المنظمات المحتضنة وفق احتياجات المجتمع المحلي ومجال عملها وأماكن تواجدها، وتكتب مقترحاتها بدعم من مدربي المركز",
            "Small community projects the incubated organizations choose by the community's needs, their field and where they work, writing their proposals with the center's trainers",
        ),
        themes: center::THEMES
            .iter()
            .map(|(code, ar, en)| gr::Theme {
                code: (*code).into(),
                name: text(ar, en),
            })
            .collect(),
        budget_envelope: usd(center::ENVELOPE),
        project_ceiling: usd(center::CEILING),
        opens_on: Some(opens.to_proto()),
        closes_on: Some(closes.to_proto()),
        eligibility: Some(gr::EligibilityRules {
            incubation_statuses: vec![
                IncubationStatus::Incubated as i32,
                IncubationStatus::Graduated as i32,
            ],
            branch_ids: BRANCHES.iter().map(|b| b.id.to_string()).collect(),
            ..Default::default()
        }),
        rubric: Some(gr::Rubric {
            max_score: 5,
            criteria: vec![
                gr::Criterion {
                    code: "need".into(),
                    name: text("حاجة المجتمع المحلي", "Community need"),
                    guidance: None,
                    weight: 3,
                },
                gr::Criterion {
                    code: "fit".into(),
                    name: text(
                        "مجال عمل المنظمة وأماكن تواجدها",
                        "The organization's field and place",
                    ),
                    guidance: None,
                    weight: 2,
                },
                gr::Criterion {
                    code: "feasibility".into(),
                    name: text("قابلية التنفيذ", "Feasibility"),
                    guidance: None,
                    weight: 2,
                },
            ],
        }),
        blind_review: false,
        ..Default::default()
    }
}

/// The proposal of partner `org`: project `n`'s, or (no number) one
/// turned down at screening.
fn content(s: &Seed, call_id: &str, org: usize, n: Option<usize>) -> gr::Proposal {
    let o = &ORGS[org];
    let (title_ar, title_en, sector, theme, place_ar, place_en, amount, days) = match (o.grant, n) {
        (Grant::Project(p), Some(n)) => (
            p.title_ar,
            p.title_en,
            p.sector,
            p.theme,
            p.place_ar,
            p.place_en,
            center::budget(n),
            center::project_days(&s.cal, n),
        ),
        _ => (
            "مبادرة حوار مجتمعي",
            "A community dialogue initiative",
            Sector::GovernancePeacebuilding,
            "services",
            BRANCHES[o.branch].city,
            BRANCHES[o.branch].governorate,
            (400_000, 200_000),
            center::project_days(&s.cal, 23),
        ),
    };
    let (start, m1, end) = days;
    let k = n.unwrap_or(0) as i64;
    gr::Proposal {
        call_id: call_id.into(),
        organization_id: String::new(),
        title: text(title_ar, title_en),
        summary: text(
            &format!("{title_ar} تنفذه {} بإشراف فريق المركز", o.ar),
            &format!(
                "{title_en}, carried out by {} under the center's supervision",
                o.en
            ),
        ),
        community_need: text(
            "حاجة حددها المجتمع المحلي بعد سنوات من الدمار الذي طال البنى التحتية والخدمات الأساسية",
            "A need the community named after years of destruction of infrastructure and basic services",
        ),
        location: Some(gr::Location {
            governorate: BRANCHES[o.branch].governorate.into(),
            place: text(place_ar, place_en),
        }),
        sector: sector as i32,
        theme_code: theme.into(),
        beneficiaries_targeted: Some(gr::Beneficiaries {
            female: 60 + 5 * k,
            male: 50 + 4 * k,
            undisclosed: 0,
        }),
        budget_lines: vec![
            gr::BudgetLine {
                category: gr::BudgetCategory::Activities as i32,
                description: text("الأنشطة والمواد", "Activities and supplies"),
                amount: usd(amount.0),
                ..Default::default()
            },
            gr::BudgetLine {
                category: gr::BudgetCategory::Personnel as i32,
                description: text("فريق المشروع", "Project team"),
                amount: usd(amount.1),
                ..Default::default()
            },
        ],
        milestones: vec![
            gr::Milestone {
                title: text("انطلاق المشروع", "Inception"),
                due_date: Some(m1.to_proto()),
                deliverables: text("خطة العمل ومحضر الانطلاق", "Work plan and inception minutes"),
                ..Default::default()
            },
            gr::Milestone {
                title: text("تسليم المشروع", "Handover"),
                due_date: Some(end.to_proto()),
                deliverables: text(
                    "محضر التسليم والتقرير الختامي",
                    "Handover minutes and final report",
                ),
                ..Default::default()
            },
        ],
        start_date: Some(start.to_proto()),
        end_date: Some(end.to_proto()),
        ..Default::default()
    }
}

/// Takes partner `org`'s proposal from wherever it stands to its end: a
/// completed project (its award id) or a rejection.
async fn proposal(
    s: &Seed,
    ids: &Ids,
    call_id: &str,
    org: usize,
    n: Option<usize>,
    found: Option<gr::Proposal>,
    awards: &HashMap<String, gr::Award>,
) -> Result<Option<String>, String> {
    let api = &s.api;
    let who = ORGS[org].en;
    let mut p = match found {
        Some(p) => {
            s.found("proposals");
            p
        }
        None => {
            let mut body = content(s, call_id, org, n);
            body.organization_id = ids.orgs[org].clone();
            let made = api
                .call(&format!("CreateProposal {who}"), || {
                    let mut c = client(api);
                    let r = api.request(gr::CreateProposalRequest {
                        proposal: Some(body.clone()),
                        request_id: rid(&format!("proposal-{org:02}")),
                    });
                    async move { c.create_proposal(r).await }
                })
                .await?;
            s.created("proposals");
            made
        }
    };
    loop {
        let id = p.id.clone();
        p = match state(p.state) {
            gr::ProposalState::Draft | gr::ProposalState::ChangesRequested => {
                api.call(&format!("SubmitProposal {who}"), || {
                    let mut c = client(api);
                    let r = api.request(gr::SubmitProposalRequest {
                        id: id.clone(),
                        etag: String::new(),
                    });
                    async move { c.submit_proposal(r).await }
                })
                .await?
            }
            gr::ProposalState::Submitted if n.is_none() => {
                decide(
                    api,
                    &id,
                    gr::Decision::Reject,
                    "لا يستوفي المقترح معايير الحاجة المجتمعية في هذه الدورة",
                )
                .await?
            }
            gr::ProposalState::Submitted => {
                api.call(&format!("StartReview {who}"), || {
                    let mut c = client(api);
                    let r = api.request(gr::StartReviewRequest {
                        id: id.clone(),
                        etag: String::new(),
                    });
                    async move { c.start_review(r).await }
                })
                .await?
            }
            gr::ProposalState::UnderReview => {
                decide(api, &id, gr::Decision::Approve, "يلبي حاجة مجتمعية واضحة").await?
            }
            gr::ProposalState::Rejected if n.is_none() => return Ok(None),
            gr::ProposalState::Approved => {
                let Some(n) = n else {
                    return Err(format!("{who}: approved, but the plan turns it down"));
                };
                let (t1, t2) = center::tranches(n);
                let award = api
                    .call(&format!("AwardGrant {who}"), || {
                        let mut c = client(api);
                        let r = api.request(gr::AwardGrantRequest {
                            proposal_id: id.clone(),
                            amount: usd(center::amount(n)),
                            tranches: vec![
                                gr::TrancheSpec {
                                    milestone_number: 1,
                                    amount: usd(t1),
                                },
                                gr::TrancheSpec {
                                    milestone_number: 2,
                                    amount: usd(t2),
                                },
                            ],
                            etag: String::new(),
                            request_id: rid(&format!("award-{n:02}")),
                        });
                        async move { c.award_grant(r).await }
                    })
                    .await?;
                s.created("awards");
                return project(s, n, award).await.map(Some);
            }
            gr::ProposalState::Awarded
            | gr::ProposalState::Active
            | gr::ProposalState::Completed => {
                let Some(n) = n else {
                    return Err(format!("{who}: awarded, but the plan turns it down"));
                };
                let award = match awards.get(&id) {
                    Some(a) => a.clone(),
                    None => {
                        return Err(format!(
                            "{who}: the proposal is awarded, its award not listed"
                        ));
                    }
                };
                s.found("awards");
                return project(s, n, award).await.map(Some);
            }
            other => {
                return Err(format!(
                    "{who}: the proposal is {}, which the plan does not lead to",
                    other.as_str_name()
                ));
            }
        };
    }
}

async fn decide(
    api: &Api,
    id: &str,
    decision: gr::Decision,
    reason: &str,
) -> Result<gr::Proposal, String> {
    api.call("DecideProposal", || {
        let mut c = client(api);
        let r = api.request(gr::DecideProposalRequest {
            id: id.into(),
            decision: decision as i32,
            reason: reason.into(),
            etag: String::new(),
        });
        async move { c.decide_proposal(r).await }
    })
    .await
}

/// Takes project `n`'s award to completed; its id.
async fn project(s: &Seed, n: usize, mut award: gr::Award) -> Result<String, String> {
    let api = &s.api;
    let id = award.id.clone();
    let (start, m1, end) = center::project_days(&s.cal, n);
    let key = format!("award-{n:02}");
    loop {
        award = match state(award.state) {
            gr::ProposalState::Completed => return Ok(id),
            gr::ProposalState::Awarded => {
                api.call("ActivateGrant", || {
                    let mut c = client(api);
                    let r = api.request(gr::ActivateGrantRequest {
                        award_id: id.clone(),
                        etag: String::new(),
                    });
                    async move { c.activate_grant(r).await }
                })
                .await?
            }
            gr::ProposalState::Active => {
                let reports = reports(api, &id).await?;
                for m in 1..=2 {
                    let accepted = award
                        .milestones
                        .get(m as usize - 1)
                        .is_some_and(|p| p.report_state == gr::ReportState::Accepted as i32);
                    if !accepted {
                        let open = reports.iter().find(|r| {
                            r.kind == gr::ReportKind::Progress as i32
                                && r.milestone_number == m
                                && r.state == gr::ReportState::Submitted as i32
                        });
                        let report = match open {
                            Some(r) => r.id.clone(),
                            None => {
                                submit_report(
                                    s,
                                    &id,
                                    &format!("{key}-progress-{m}"),
                                    gr::ReportKind::Progress,
                                    m,
                                    n,
                                )
                                .await?
                            }
                        };
                        accept_report(api, &report).await?;
                    }
                }
                let award_now = get_award(api, &id).await?;
                for t in &award_now.tranches {
                    if t.state != gr::TrancheState::Planned as i32 {
                        continue;
                    }
                    let on = if t.milestone_number == 1 { m1 } else { end };
                    api.call("DisburseTranche", || {
                        let mut c = client(api);
                        let r = api.request(gr::DisburseTrancheRequest {
                            award_id: id.clone(),
                            tranche_number: t.number,
                            disbursed_on: Some(on.to_proto()),
                            reference: format!("حوالة {}-{}", n + 1, t.number),
                            etag: String::new(),
                        });
                        async move { c.disburse_tranche(r).await }
                    })
                    .await?;
                }
                spending(s, &id, &key, n, start, end).await?;
                let reports = self::reports(api, &id).await?;
                let final_report = reports.iter().find(|r| {
                    r.kind == gr::ReportKind::Final as i32
                        && r.state != gr::ReportState::Returned as i32
                });
                match final_report {
                    Some(r) if r.state == gr::ReportState::Accepted as i32 => {}
                    Some(r) => accept_report(api, &r.id).await?,
                    None => {
                        let r = submit_report(
                            s,
                            &id,
                            &format!("{key}-final"),
                            gr::ReportKind::Final,
                            0,
                            n,
                        )
                        .await?;
                        accept_report(api, &r).await?;
                    }
                }
                api.call("CompleteGrant", || {
                    let mut c = client(api);
                    let r = api.request(gr::CompleteGrantRequest {
                        award_id: id.clone(),
                        etag: String::new(),
                    });
                    async move { c.complete_grant(r).await }
                })
                .await?
            }
            other => {
                return Err(format!(
                    "award {id} is {}, which the plan does not lead to",
                    other.as_str_name()
                ));
            }
        };
    }
}

async fn get_award(api: &Api, id: &str) -> Result<gr::Award, String> {
    api.call("GetAward", || {
        let mut c = client(api);
        let r = api.request(gr::GetAwardRequest { id: id.into() });
        async move { c.get_award(r).await }
    })
    .await
}

async fn reports(api: &Api, award: &str) -> Result<Vec<gr::Report>, String> {
    all("ListReports", |page_token| async move {
        let r = api
            .call("ListReports", || {
                let mut c = client(api);
                let r = api.request(gr::ListReportsRequest {
                    award_id: award.into(),
                    page_size: 500,
                    page_token: page_token.clone(),
                });
                async move { c.list_reports(r).await }
            })
            .await?;
        Ok((r.reports, r.next_page_token))
    })
    .await
}

/// A report of project `n`: a milestone's progress (half the people
/// reached each) or the final one (everyone).
async fn submit_report(
    s: &Seed,
    award: &str,
    key: &str,
    kind: gr::ReportKind,
    milestone: i32,
    n: usize,
) -> Result<String, String> {
    let api = &s.api;
    let k = n as i64;
    let (female, male) = (60 + 5 * k, 50 + 4 * k);
    let reached = if kind == gr::ReportKind::Final {
        (female, male)
    } else if milestone == 1 {
        (female / 2, male / 2)
    } else {
        (female - female / 2, male - male / 2)
    };
    let narrative = if kind == gr::ReportKind::Final {
        text(
            "نُفّذ المشروع وفق الخطة التي وضعتها المنظمة",
            "The project was carried out as the organization planned",
        )
    } else {
        text(
            "أُنجزت المرحلة كما خُطط لها",
            "The milestone was reached as planned",
        )
    };
    let made = api
        .call("SubmitReport", || {
            let mut c = client(api);
            let r = api.request(gr::SubmitReportRequest {
                report: Some(gr::Report {
                    award_id: award.into(),
                    kind: kind as i32,
                    milestone_number: milestone,
                    narrative: narrative.clone(),
                    beneficiaries_reached: Some(gr::Beneficiaries {
                        female: reached.0,
                        male: reached.1,
                        undisclosed: 0,
                    }),
                    ..Default::default()
                }),
                request_id: rid(key),
            });
            async move { c.submit_report(r).await }
        })
        .await?;
    s.created("grant reports");
    Ok(made.id)
}

async fn accept_report(api: &Api, id: &str) -> Result<(), String> {
    api.call("ReviewReport", || {
        let mut c = client(api);
        let r = api.request(gr::ReviewReportRequest {
            id: id.into(),
            outcome: gr::ReviewOutcome::Accept as i32,
            comment: "مطابق للمخرجات المتفق عليها".into(),
        });
        async move { c.review_report(r).await }
    })
    .await?;
    Ok(())
}

/// The project's spending per budget line, reported once and accepted.
async fn spending(
    s: &Seed,
    award: &str,
    key: &str,
    n: usize,
    start: Date,
    end: Date,
) -> Result<(), String> {
    let api = &s.api;
    let existing = all("ListExpenditureReports", |page_token| async move {
        let r = api
            .call("ListExpenditureReports", || {
                let mut c = client(api);
                let r = api.request(gr::ListExpenditureReportsRequest {
                    award_id: award.into(),
                    page_size: 500,
                    page_token: page_token.clone(),
                });
                async move { c.list_expenditure_reports(r).await }
            })
            .await?;
        Ok((r.reports, r.next_page_token))
    })
    .await?;
    let live = existing
        .iter()
        .find(|r| r.state != gr::ReportState::Returned as i32);
    let id = match live {
        Some(r) if r.state == gr::ReportState::Accepted as i32 => return Ok(()),
        Some(r) => r.id.clone(),
        None => {
            let (a, b) = center::spent(n);
            let made = api
                .call("SubmitExpenditureReport", || {
                    let mut c = client(api);
                    let r = api.request(gr::SubmitExpenditureReportRequest {
                        report: Some(gr::ExpenditureReport {
                            award_id: award.into(),
                            period_start: Some(start.to_proto()),
                            period_end: Some(end.to_proto()),
                            lines: vec![
                                gr::ExpenditureLine {
                                    line_number: 1,
                                    amount: usd(a),
                                    note: "فواتير الأنشطة والمواد".into(),
                                },
                                gr::ExpenditureLine {
                                    line_number: 2,
                                    amount: usd(b),
                                    note: "رواتب فريق المشروع".into(),
                                },
                            ],
                            ..Default::default()
                        }),
                        request_id: rid(&format!("{key}-spending")),
                    });
                    async move { c.submit_expenditure_report(r).await }
                })
                .await?;
            s.created("expenditure reports");
            made.id
        }
    };
    api.call("ReviewExpenditureReport", || {
        let mut c = client(api);
        let r = api.request(gr::ReviewExpenditureReportRequest {
            id: id.clone(),
            outcome: gr::ReviewOutcome::Accept as i32,
            comment: "مطابق للفواتير".into(),
        });
        async move { c.review_expenditure_report(r).await }
    })
    .await?;
    Ok(())
}
