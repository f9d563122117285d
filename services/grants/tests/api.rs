//! Grants over real gRPC, on SQLite with the in-process bus and on
//! PostgreSQL with NATS: the same test bodies on both.
//!
//! Membership's and capacity's facts reach grants' copies the way they do in
//! production: as events applied through grants' real handler and inbox
//! (`markaz_kit::events::apply`), built from the producers' own messages.

use std::sync::Arc;
use std::time::Duration;

use markaz_grants::Grants;
use markaz_kit::auth::{Role, Signer};
use markaz_kit::both_backends;
use markaz_kit::db::Db;
use markaz_kit::events::Consumer;
use markaz_kit::testing::{Backend, TestApp, authed, service_methods, spawn};
use markaz_proto::common::v1::{
    Date, Gender, IncubationStatus, LocalizedText, Money, OrganizationKind, Sector,
};
use markaz_proto::events::v1 as ev;
use markaz_proto::grants::v1 as api;
use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const TENANT: &str = "raqqa-csc";
const OTHER_TENANT: &str = "deir-csc";
const PROPOSAL_WRITING: &str = "proposal-writing";

type Client = GrantsServiceClient<Channel>;

struct World {
    app: TestApp,
    client: Client,
    db: Db,
    consumer: Consumer,
    staff: String,
    program_id: String,
}

async fn world(backend: Backend) -> World {
    World::on(spawn(backend, vec![Arc::new(Grants)]).await).await
}

impl World {
    /// The world of a running app, with a program.
    async fn on(app: TestApp) -> World {
        let client = GrantsServiceClient::new(app.channel().await);
        let db = app.app.db("grants").expect("grants' database").clone();
        let staff = app.token(TENANT, &[Role::Staff], None);
        let mut w = World {
            app,
            client,
            db,
            consumer: markaz_grants::consumer(),
            staff,
            program_id: String::new(),
        };
        let program = w
            .client
            .create_program(authed(
                api::CreateProgramRequest {
                    program: Some(api::Program {
                        name: Some(text(
                            "منحة الأب باولو للمشاريع المجتمعية",
                            "Father Paolo Grant for Community Projects",
                        )),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &w.staff,
            ))
            .await
            .expect("program created")
            .into_inner();
        w.program_id = program.id;
        w
    }
}

fn text(ar: &str, en: &str) -> LocalizedText {
    LocalizedText {
        ar: ar.into(),
        en: en.into(),
    }
}

fn usd(minor_units: i64) -> Money {
    Money {
        currency_code: "USD".into(),
        minor_units,
    }
}

/// Today plus `offset` days.
fn day(offset: i64) -> Date {
    markaz_kit::time::Date::today().add_days(offset).to_proto()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl World {
    /// A token of `subject` with `roles` (and the partner organization).
    fn token_of(&self, subject: &str, roles: &[Role], org: Option<&str>) -> String {
        let env = &self.app.env;
        env.signer.sign(&Signer::claims(
            &env.config.auth,
            subject,
            TENANT,
            roles,
            org,
            Duration::from_secs(3600),
        ))
    }

    fn partner(&self, org: &str) -> String {
        self.token_of(&format!("member-of-{org}"), &[Role::Partner], Some(org))
    }

    /// Applies another service's event through grants' real handler and inbox.
    async fn deliver<E: prost::Name + Message>(&self, producer: &str, event: E) {
        let envelope = markaz_kit::events::envelope(producer, TENANT, &event);
        let applied = markaz_kit::events::apply(&self.db, &self.consumer, &envelope)
            .await
            .expect("the event applies");
        assert_eq!(applied, markaz_kit::events::Applied::Applied);
    }

    /// An organization as membership announces it.
    async fn organization(&self, name: &str, status: IncubationStatus) -> String {
        let id = new_id();
        self.deliver(
            "membership",
            ev::OrganizationRegistered {
                organization: Some(ev::OrganizationSnapshot {
                    id: id.clone(),
                    identifier: format!("MKZ-RAQQA-{}", &id[30..]),
                    kind: OrganizationKind::Cso as i32,
                    name: Some(text(name, name)),
                    governorate: "Raqqa".into(),
                    branch_id: "raqqa".into(),
                    sectors: vec![Sector::WaterSanitationHygiene as i32],
                    incubation_status: status as i32,
                    version: 1,
                }),
            },
        )
        .await;
        id
    }

    async fn incubation(&self, org: &str, from: IncubationStatus, to: IncubationStatus, v: i64) {
        self.deliver(
            "membership",
            ev::IncubationStatusChanged {
                organization_id: org.into(),
                from: from as i32,
                to: to as i32,
                reason: "committee".into(),
                changed_at: None,
                version: v,
            },
        )
        .await;
    }

    async fn completed_course(&self, org: &str, topic: &str) {
        self.deliver(
            "capacity",
            ev::CourseCompleted {
                course_id: new_id(),
                topic_codes: vec![topic.into()],
                branch_id: "raqqa".into(),
                completers: vec![ev::Completer {
                    person_id: new_id(),
                    organization_id: org.into(),
                    gender: Gender::Female as i32,
                    ..Default::default()
                }],
                completed_female: 1,
                ..Default::default()
            },
        )
        .await;
    }

    async fn person(&self, name: &str) -> String {
        let id = new_id();
        self.deliver(
            "membership",
            ev::PersonRegistered {
                person: Some(ev::PersonSnapshot {
                    id: id.clone(),
                    full_name: name.into(),
                    gender: Gender::Female as i32,
                    version: 1,
                    ..Default::default()
                }),
            },
        )
        .await;
        id
    }

    async fn affiliate(&self, person: &str, org: &str) -> String {
        let id = new_id();
        self.deliver(
            "membership",
            ev::PersonAffiliated {
                affiliation_id: id.clone(),
                person_id: person.into(),
                organization_id: org.into(),
                role: "board member".into(),
            },
        )
        .await;
        id
    }

    /// A registered reviewer and its token.
    async fn reviewer(&mut self, name: &str) -> (api::Reviewer, String) {
        let person = self.person(name).await;
        let subject = format!("reviewer-{}", &person[24..]);
        let reviewer = self
            .client
            .create_reviewer(authed(
                api::CreateReviewerRequest {
                    reviewer: Some(api::Reviewer {
                        person_id: person,
                        subject: subject.clone(),
                        expertise: vec![Sector::WaterSanitationHygiene as i32],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &self.staff,
            ))
            .await
            .expect("reviewer created")
            .into_inner();
        let token = self.token_of(&subject, &[Role::Reviewer], None);
        (reviewer, token)
    }

    /// An open call with these rules, envelope and blindness.
    async fn call(
        &mut self,
        rules: api::EligibilityRules,
        envelope: i64,
        blind: bool,
    ) -> api::Call {
        let call = self
            .client
            .create_call(authed(
                api::CreateCallRequest {
                    call: Some(call_body(&self.program_id, rules, envelope, blind)),
                    request_id: String::new(),
                },
                &self.staff,
            ))
            .await
            .expect("call created")
            .into_inner();
        self.client
            .open_call(authed(
                api::OpenCallRequest {
                    id: call.id,
                    etag: call.etag,
                },
                &self.staff,
            ))
            .await
            .expect("call opened")
            .into_inner()
    }

    async fn draft(&mut self, call: &api::Call, org: &str) -> api::Proposal {
        let token = self.partner(org);
        self.client
            .create_proposal(authed(
                api::CreateProposalRequest {
                    proposal: Some(content(&call.id)),
                    request_id: String::new(),
                },
                &token,
            ))
            .await
            .expect("proposal created")
            .into_inner()
    }

    async fn submitted(&mut self, call: &api::Call, org: &str) -> api::Proposal {
        let draft = self.draft(call, org).await;
        let token = self.partner(org);
        self.client
            .submit_proposal(authed(
                api::SubmitProposalRequest {
                    id: draft.id,
                    etag: String::new(),
                },
                &token,
            ))
            .await
            .expect("proposal submitted")
            .into_inner()
    }

    async fn under_review(&mut self, call: &api::Call, org: &str) -> api::Proposal {
        let p = self.submitted(call, org).await;
        self.client
            .start_review(authed(
                api::StartReviewRequest {
                    id: p.id,
                    etag: String::new(),
                },
                &self.staff,
            ))
            .await
            .expect("review started")
            .into_inner()
    }

    async fn approved(&mut self, call: &api::Call, org: &str) -> api::Proposal {
        let p = self.under_review(call, org).await;
        self.client
            .decide_proposal(authed(
                api::DecideProposalRequest {
                    id: p.id,
                    decision: api::Decision::Approve as i32,
                    reason: "meets the community's need".into(),
                    etag: String::new(),
                },
                &self.staff,
            ))
            .await
            .expect("approved")
            .into_inner()
    }

    /// An approved proposal awarded in two tranches (2,000.00 on milestone 1,
    /// 2,500.00 on milestone 2) and activated.
    async fn active_grant(&mut self, call: &api::Call, org: &str) -> api::Award {
        let p = self.approved(call, org).await;
        let award = self
            .award(&p.id, 450_000, &[(1, 200_000), (2, 250_000)])
            .await;
        self.client
            .activate_grant(authed(
                api::ActivateGrantRequest {
                    award_id: award.id,
                    etag: String::new(),
                },
                &self.staff,
            ))
            .await
            .expect("activated")
            .into_inner()
    }

    async fn award(&mut self, proposal: &str, amount: i64, tranches: &[(i32, i64)]) -> api::Award {
        self.client
            .award_grant(authed(
                award_request(proposal, amount, tranches),
                &self.staff,
            ))
            .await
            .expect("awarded")
            .into_inner()
    }

    async fn get_proposal(
        &mut self,
        id: &str,
        token: &str,
    ) -> Result<api::Proposal, tonic::Status> {
        self.client
            .get_proposal(authed(api::GetProposalRequest { id: id.into() }, token))
            .await
            .map(|r| r.into_inner())
    }

    /// Whether `org` may apply to `call` now, as staff sees it.
    async fn eligibility(&mut self, call: &str, org: &str) -> api::Eligibility {
        self.client
            .check_eligibility(authed(
                api::CheckEligibilityRequest {
                    call_id: call.into(),
                    organization_id: org.into(),
                },
                &self.staff,
            ))
            .await
            .expect("eligibility")
            .into_inner()
    }

    async fn get_call(&mut self, id: &str) -> api::Call {
        self.client
            .get_call(authed(api::GetCallRequest { id: id.into() }, &self.staff))
            .await
            .expect("call")
            .into_inner()
    }

    async fn get_award(&mut self, id: &str) -> api::Award {
        self.client
            .get_award(authed(api::GetAwardRequest { id: id.into() }, &self.staff))
            .await
            .expect("award")
            .into_inner()
    }

    async fn report(
        &mut self,
        award: &str,
        kind: api::ReportKind,
        milestone: i32,
        reached: (i64, i64),
    ) -> api::Report {
        let token = self.staff.clone();
        self.client
            .submit_report(authed(
                api::SubmitReportRequest {
                    report: Some(report_body(award, kind, milestone, reached)),
                    request_id: String::new(),
                },
                &token,
            ))
            .await
            .expect("report submitted")
            .into_inner()
    }

    async fn review_report(&mut self, id: &str, outcome: api::ReviewOutcome) -> api::Report {
        self.client
            .review_report(authed(
                api::ReviewReportRequest {
                    id: id.into(),
                    outcome: outcome as i32,
                    comment: "checked against the deliverables".into(),
                },
                &self.staff,
            ))
            .await
            .expect("report reviewed")
            .into_inner()
    }

    async fn disburse(&mut self, award: &str, tranche: i32) -> Result<api::Award, tonic::Status> {
        self.client
            .disburse_tranche(authed(
                api::DisburseTrancheRequest {
                    award_id: award.into(),
                    tranche_number: tranche,
                    disbursed_on: Some(day(0)),
                    reference: format!("TRF-{tranche}"),
                    etag: String::new(),
                },
                &self.staff,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn score(
        &mut self,
        proposal: &str,
        token: &str,
        need: i32,
        feasibility: i32,
    ) -> Result<api::ScoreSheet, tonic::Status> {
        self.client
            .submit_score(authed(
                api::SubmitScoreRequest {
                    proposal_id: proposal.into(),
                    scores: vec![
                        api::CriterionScore {
                            criterion_code: "need".into(),
                            score: need,
                            comment: "حاجة واضحة".into(),
                        },
                        api::CriterionScore {
                            criterion_code: "feasibility".into(),
                            score: feasibility,
                            comment: String::new(),
                        },
                    ],
                    comment: "ok".into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn assign(
        &mut self,
        proposal: &str,
        reviewer: &str,
    ) -> Result<api::Assignment, tonic::Status> {
        self.client
            .assign_reviewer(authed(
                api::AssignReviewerRequest {
                    proposal_id: proposal.into(),
                    reviewer_id: reviewer.into(),
                },
                &self.staff,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn ranking(&mut self, call: &str) -> api::CallRanking {
        self.client
            .get_call_ranking(authed(
                api::GetCallRankingRequest {
                    call_id: call.into(),
                },
                &self.staff,
            ))
            .await
            .expect("ranking")
            .into_inner()
    }

    /// The names of the events in grants' outbox, in order.
    async fn events(&self) -> Vec<String> {
        let mut tx = self.db.system().await.unwrap();
        let names: Vec<String> =
            sqlx::query_scalar("SELECT event_name FROM markaz_outbox ORDER BY seq")
                .fetch_all(tx.conn())
                .await
                .unwrap();
        tx.rollback().await.unwrap();
        names
    }

    /// The payload of the last outbox event named `name`.
    async fn last_event<E: Message + Default>(&self, name: &str) -> E {
        let mut tx = self.db.system().await.unwrap();
        let bytes: Vec<u8> = sqlx::query_scalar(
            "SELECT envelope FROM markaz_outbox WHERE event_name = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(name.to_string())
        .fetch_one(tx.conn())
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        let envelope = ev::Envelope::decode(bytes.as_slice()).unwrap();
        assert_eq!(envelope.tenant_id, TENANT);
        assert_eq!(envelope.producer, "grants");
        E::decode(envelope.payload.as_slice()).unwrap()
    }

    /// How many rows a grants table has (all tenants), to show nothing was written.
    async fn count(&self, table: &str) -> i64 {
        let mut tx = self.db.read(TENANT).await.unwrap();
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(tx.conn())
                .await
                .unwrap();
        tx.rollback().await.unwrap();
        n
    }
}

fn incubated_only() -> api::EligibilityRules {
    api::EligibilityRules {
        incubation_statuses: vec![IncubationStatus::Incubated as i32],
        ..Default::default()
    }
}

fn call_body(
    program_id: &str,
    rules: api::EligibilityRules,
    envelope: i64,
    blind: bool,
) -> api::Call {
    api::Call {
        program_id: program_id.into(),
        title: Some(text(
            "منحة الأب باولو – الدورة الثالثة",
            "Father Paolo Grant – round 3",
        )),
        description: Some(text("مشاريع مجتمعية صغيرة", "Small community projects")),
        themes: vec![
            api::Theme {
                code: "water".into(),
                name: Some(text("إعادة تأهيل المياه", "Water rehabilitation")),
            },
            api::Theme {
                code: "parks".into(),
                name: Some(text("الحدائق", "Parks")),
            },
        ],
        budget_envelope: Some(usd(envelope)),
        project_ceiling: Some(usd(500_000)),
        opens_on: Some(day(-1)),
        closes_on: Some(day(30)),
        eligibility: Some(rules),
        rubric: Some(api::Rubric {
            max_score: 5,
            criteria: vec![
                api::Criterion {
                    code: "need".into(),
                    name: Some(text("الحاجة المجتمعية", "Community need")),
                    guidance: None,
                    weight: 3,
                },
                api::Criterion {
                    code: "feasibility".into(),
                    name: Some(text("قابلية التنفيذ", "Feasibility")),
                    guidance: None,
                    weight: 2,
                },
            ],
        }),
        blind_review: blind,
        ..Default::default()
    }
}

fn line(category: api::BudgetCategory, what: &str, amount: i64) -> api::BudgetLine {
    api::BudgetLine {
        category: category as i32,
        description: Some(text(what, what)),
        amount: Some(usd(amount)),
        ..Default::default()
    }
}

fn milestone(title: &str, due: Date) -> api::Milestone {
    api::Milestone {
        title: Some(text(title, title)),
        due_date: Some(due),
        deliverables: Some(text("محضر تسليم", "handover minutes")),
        ..Default::default()
    }
}

/// A complete proposal: 3,000.00 + 1,500.00 = 4,500.00 USD, two milestones.
fn content(call_id: &str) -> api::Proposal {
    api::Proposal {
        call_id: call_id.into(),
        title: Some(text(
            "إعادة تأهيل بئر القرية",
            "Rehabilitating the village well",
        )),
        summary: Some(text("بئر لألف شخص", "A well for a thousand people")),
        community_need: Some(text("لا ماء صالح للشرب", "No safe drinking water")),
        location: Some(api::Location {
            governorate: "Raqqa".into(),
            place: Some(text("الكرامة", "Al-Karama")),
        }),
        sector: Sector::WaterSanitationHygiene as i32,
        theme_code: "water".into(),
        beneficiaries_targeted: Some(api::Beneficiaries {
            female: 120,
            male: 100,
            undisclosed: 5,
        }),
        budget_lines: vec![
            line(api::BudgetCategory::Supplies, "pumps and pipes", 300_000),
            line(api::BudgetCategory::Personnel, "technician", 150_000),
        ],
        milestones: vec![
            milestone("inception", day(10)),
            milestone("well handed over", day(60)),
        ],
        start_date: Some(day(5)),
        end_date: Some(day(90)),
        ..Default::default()
    }
}

fn award_request(proposal: &str, amount: i64, tranches: &[(i32, i64)]) -> api::AwardGrantRequest {
    api::AwardGrantRequest {
        proposal_id: proposal.into(),
        amount: Some(usd(amount)),
        tranches: tranches
            .iter()
            .map(|(m, a)| api::TrancheSpec {
                milestone_number: *m,
                amount: Some(usd(*a)),
            })
            .collect(),
        etag: String::new(),
        request_id: String::new(),
    }
}

fn report_body(
    award: &str,
    kind: api::ReportKind,
    milestone: i32,
    reached: (i64, i64),
) -> api::Report {
    api::Report {
        award_id: award.into(),
        kind: kind as i32,
        milestone_number: milestone,
        narrative: Some(text("تم العمل كما خطط له", "Work went as planned")),
        beneficiaries_reached: Some(api::Beneficiaries {
            female: reached.0,
            male: reached.1,
            undisclosed: 0,
        }),
        ..Default::default()
    }
}

/// An expenditure report on `award`: `(budget line, minor units)` per line.
fn expenditure(award: &str, lines: &[(i32, i64)]) -> api::SubmitExpenditureReportRequest {
    api::SubmitExpenditureReportRequest {
        report: Some(api::ExpenditureReport {
            award_id: award.into(),
            period_start: Some(day(0)),
            period_end: Some(day(1)),
            lines: lines
                .iter()
                .map(|(n, a)| api::ExpenditureLine {
                    line_number: *n,
                    amount: Some(usd(*a)),
                    note: String::new(),
                })
                .collect(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

fn field_violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

/// A FAILED_PRECONDITION with its machine-readable kind, and its message.
fn precondition(status: &tonic::Status) -> (String, String) {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let kind = status
        .get_details_precondition_failure()
        .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
        .expect("a PreconditionFailure detail");
    (kind, status.message().to_string())
}

fn minor(m: &Option<Money>) -> i64 {
    let m = m.as_ref().expect("money");
    assert_eq!(m.currency_code, "USD");
    m.minor_units
}

both_backends!(
    the_full_life_cycle_from_call_to_completion,
    refused_transitions_say_why,
    every_life_cycle_rpc_is_refused_where_the_domain_table_says,
    changes_may_be_requested_under_review_and_an_approval_withdrawn,
    eligibility_follows_the_copies_of_membership_and_capacity,
    revoked_certificates_stop_counting_for_eligibility,
    topics_completed_before_migration_2_still_count,
    declared_and_detected_conflicts_keep_reviewers_away,
    blind_calls_hide_the_applicant_from_reviewers,
    the_ranking_follows_weighted_scores_that_count,
    tranches_are_released_only_against_accepted_milestones,
    money_is_integer_minor_units_and_totals_never_drift,
    money_near_the_limit_of_64_bits_is_refused_never_wrapped,
    closing_a_grant_early_returns_its_unpaid_tranches_to_the_envelope,
    variations_apply_only_when_approved,
    stale_etags_are_refused_and_concurrent_edits_serialize,
    concurrent_creates_leave_one_proposal_per_organization_and_call,
    concurrent_variation_requests_leave_one_pending,
    partners_and_reviewers_see_only_their_own,
    trainers_see_only_what_they_coach_and_reviewers_stay_blind,
    bad_input_is_refused_with_field_details_and_nothing_written,
    bad_reports_are_refused_whole_before_the_award_is_locked,
    arabic_text_round_trips_byte_for_byte,
    erasure_is_honoured_in_the_copies,
    copies_kept_before_migration_4_carry_over,
    retried_creates_return_the_first_result,
    a_retry_is_answered_only_to_a_caller_who_still_has_the_rights,
    tenants_never_see_each_other,
    every_rpc_refuses_missing_and_bad_tokens,
    every_rpc_refuses_the_wrong_role,
);

async fn the_full_life_cycle_from_call_to_completion(backend: Backend) {
    let mut w = world(backend).await;
    let org = w
        .organization("جمعية الفرات", IncubationStatus::Incubated)
        .await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    assert_eq!(call.state, api::CallState::Open as i32);
    let partner = w.partner(&org);

    // The partner drafts and submits; staff coach: changes requested.
    let draft = w.draft(&call, &org).await;
    assert_eq!(draft.state, api::ProposalState::Draft as i32);
    assert_eq!(minor(&draft.requested_total), 450_000);
    assert_eq!(draft.organization_name.as_ref().unwrap().ar, "جمعية الفرات");
    let submitted = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: draft.etag.clone(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.state, api::ProposalState::Submitted as i32);
    assert_eq!(submitted.version_number, 1);
    let sent_back = w
        .client
        .request_changes(authed(
            api::RequestChangesRequest {
                id: draft.id.clone(),
                note: "فصّل بند المضخات من فضلك".into(),
                etag: submitted.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent_back.state, api::ProposalState::ChangesRequested as i32);

    // The partner revises (one line split in two) and submits again.
    let mut revised = sent_back.clone();
    revised.budget_lines = vec![
        line(api::BudgetCategory::Supplies, "pumps", 200_000),
        line(api::BudgetCategory::Supplies, "pipes", 100_000),
        line(api::BudgetCategory::Personnel, "technician", 150_000),
    ];
    let revised = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(revised),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["budget_lines".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revised.budget_lines.len(), 3);
    assert_eq!(revised.budget_lines[2].line_number, 3);
    w.client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: draft.id.clone(),
                body: "تم فصل البند".into(),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();
    let resubmitted = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: revised.etag.clone(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resubmitted.version_number, 2);

    // Every version is kept and readable, as it was submitted.
    let versions = w
        .client
        .list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: draft.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].proposal.as_ref().unwrap().budget_lines.len(), 2);
    assert_eq!(versions[1].proposal.as_ref().unwrap().budget_lines.len(), 3);
    assert_eq!(versions[0].submitted_by, format!("member-of-{org}"));
    let notes = w
        .client
        .list_coaching_notes(authed(
            api::ListCoachingNotesRequest {
                proposal_id: draft.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .notes;
    let roles: Vec<_> = notes
        .iter()
        .map(|n| (n.author_role.as_str(), n.version_number))
        .collect();
    assert_eq!(roles, [("staff", 1), ("partner", 1)]);

    // Review: two reviewers score; the ranking is computed from the sheets.
    w.client
        .start_review(authed(
            api::StartReviewRequest {
                id: draft.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let (r1, t1) = w.reviewer("خبير المياه").await;
    let (r2, t2) = w.reviewer("خبيرة التمويل").await;
    w.assign(&draft.id, &r1.id).await.unwrap();
    w.assign(&draft.id, &r2.id).await.unwrap();
    let sheet = w.score(&draft.id, &t1, 5, 4).await.unwrap();
    assert_eq!((sheet.weighted_total, sheet.basis_points), (23, 9_200));
    w.score(&draft.id, &t2, 4, 4).await.unwrap();
    let ranking = w.ranking(&call.id).await;
    assert_eq!(ranking.proposals[0].review_count, 2);
    // (23 + 20) / (2 × 25) = 86.00 %
    assert_eq!(ranking.proposals[0].score_basis_points, 8_600);

    let approved = w
        .client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: draft.id.clone(),
                decision: api::Decision::Approve as i32,
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.state, api::ProposalState::Approved as i32);
    let decided: ev::ProposalDecided = w.last_event("ProposalDecided").await;
    assert_eq!(decided.outcome, ev::ProposalOutcome::Approved as i32);
    assert_eq!(
        (decided.score_basis_points, decided.review_count),
        (8_600, 2)
    );

    // Award in two tranches tied to the milestones; activate.
    let award = w
        .award(&draft.id, 450_000, &[(1, 200_000), (2, 250_000)])
        .await;
    assert_eq!(award.state, api::ProposalState::Awarded as i32);
    assert_eq!(minor(&award.remaining), 450_000);
    let awarded: ev::GrantAwarded = w.last_event("GrantAwarded").await;
    let context = awarded.context.unwrap();
    assert_eq!(
        (context.organization_id.as_str(), context.branch_id.as_str()),
        (org.as_str(), "raqqa")
    );
    assert_eq!(context.sector, Sector::WaterSanitationHygiene as i32);
    assert_eq!(awarded.amount.unwrap().minor_units, 450_000);
    assert_eq!(awarded.beneficiaries_targeted.unwrap().female, 120);
    let call_now = w
        .client
        .get_call(authed(
            api::GetCallRequest {
                id: call.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minor(&call_now.awarded_total), 450_000);
    assert_eq!(minor(&call_now.envelope_remaining), 750_000);
    w.client
        .activate_grant(authed(
            api::ActivateGrantRequest {
                award_id: award.id.clone(),
                etag: award.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap();

    // Milestone 1 reported by the partner, accepted, tranche 1 paid.
    let r = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(
                    &award.id,
                    api::ReportKind::Progress,
                    1,
                    (40, 35),
                )),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    w.review_report(&r.id, api::ReviewOutcome::Accept).await;
    let reported: ev::MilestoneReported = w.last_event("MilestoneReported").await;
    assert_eq!(reported.milestone_number, 1);
    assert_eq!(reported.beneficiaries_reached.unwrap().female, 40);
    let paid = w.disburse(&award.id, 1).await.unwrap();
    assert_eq!(minor(&paid.disbursed), 200_000);
    assert_eq!(minor(&paid.remaining), 250_000);

    // Spending against the budget lines.
    let spent = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(5)),
                    period_end: Some(day(30)),
                    lines: vec![
                        api::ExpenditureLine {
                            line_number: 1,
                            amount: Some(usd(210_000)),
                            note: "pumps cost more".into(),
                        },
                        api::ExpenditureLine {
                            line_number: 3,
                            amount: Some(usd(50_000)),
                            note: String::new(),
                        },
                    ],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minor(&spent.total), 260_000);
    w.client
        .review_expenditure_report(authed(
            api::ReviewExpenditureReportRequest {
                id: spent.id.clone(),
                outcome: api::ReviewOutcome::Accept as i32,
                comment: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let view = w.get_award(&award.id).await;
    let bva: Vec<(i64, i64, i64)> = view
        .budget
        .iter()
        .map(|b| {
            (
                minor(&b.line.as_ref().unwrap().amount),
                minor(&b.spent),
                minor(&b.variance),
            )
        })
        .collect();
    assert_eq!(
        bva,
        [
            (200_000, 210_000, -10_000),
            (100_000, 0, 100_000),
            (150_000, 50_000, 100_000)
        ]
    );
    assert_eq!(minor(&view.spent), 260_000);

    // Milestone 2, tranche 2, final report, completion.
    let r2 = w
        .report(&award.id, api::ReportKind::Progress, 2, (80, 65))
        .await;
    w.review_report(&r2.id, api::ReviewOutcome::Accept).await;
    w.disburse(&award.id, 2).await.unwrap();
    let f = w
        .report(&award.id, api::ReportKind::Final, 0, (120, 100))
        .await;
    w.review_report(&f.id, api::ReviewOutcome::Accept).await;
    let done = w
        .client
        .complete_grant(authed(
            api::CompleteGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.state, api::ProposalState::Completed as i32);
    assert_eq!(minor(&done.disbursed), 450_000);
    assert_eq!(minor(&done.remaining), 0);
    assert!(
        done.milestones
            .iter()
            .all(|m| m.report_state == api::ReportState::Accepted as i32)
    );
    let completed: ev::ProjectCompleted = w.last_event("ProjectCompleted").await;
    assert_eq!(completed.outcome, ev::ProjectOutcome::Completed as i32);
    assert_eq!(completed.disbursed.unwrap().minor_units, 450_000);
    assert_eq!(completed.spent.unwrap().minor_units, 260_000);
    assert_eq!(completed.beneficiaries_reached.unwrap().male, 100);

    let proposal = w.get_proposal(&draft.id, &partner).await.unwrap();
    assert_eq!(proposal.state, api::ProposalState::Completed as i32);
    assert_eq!(
        w.events().await,
        [
            "CallOpened",
            "ProposalSubmitted",
            "ProposalSubmitted",
            "ProposalDecided",
            "GrantAwarded",
            "MilestoneReported",
            "TrancheDisbursed",
            "MilestoneReported",
            "TrancheDisbursed",
            "ProjectCompleted",
        ]
    );
    let submitted_event: ev::ProposalSubmitted = w.last_event("ProposalSubmitted").await;
    assert_eq!(submitted_event.version_number, 2);
    assert_eq!(submitted_event.requested.unwrap().minor_units, 450_000);
}

async fn refused_transitions_say_why(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let partner = w.partner(&org);
    let draft = w.draft(&call, &org).await;
    let id = draft.id.clone();

    // Staff moves that a draft does not allow.
    let review = w
        .client
        .start_review(authed(
            api::StartReviewRequest {
                id: id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition(&review);
    assert_eq!(kind, "PROPOSAL_STATE");
    assert!(
        why.contains("a draft") && why.contains("put under review"),
        "{why}"
    );
    let decide = w
        .client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: id.clone(),
                decision: api::Decision::Approve as i32,
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(precondition(&decide).1.contains("cannot be approved"));
    let changes = w
        .client
        .request_changes(authed(
            api::RequestChangesRequest {
                id: id.clone(),
                note: "x".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&changes).0, "PROPOSAL_STATE");
    let award = w
        .client
        .award_grant(authed(
            award_request(&id, 450_000, &[(1, 450_000)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(precondition(&award).1.contains("cannot be awarded"));
    // Assigning a reviewer to a draft.
    let (reviewer, token) = w.reviewer("خبير").await;
    let assign = w.assign(&id, &reviewer.id).await.unwrap_err();
    assert_eq!(precondition(&assign).0, "PROPOSAL_STATE");

    // An incomplete draft cannot be submitted; every missing part is named.
    let bare = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(api::Proposal {
                    id: id.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["milestones".into(), "summary".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    let incomplete = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: id.clone(),
                etag: bare.etag.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition(&incomplete);
    assert_eq!(kind, "PROPOSAL_INCOMPLETE");
    assert!(
        why.contains("summary") && why.contains("milestones"),
        "{why}"
    );
    let mut whole = content(&call.id);
    whole.id = id.clone();
    w.client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(whole),
                update_mask: None,
            },
            &partner,
        ))
        .await
        .unwrap();
    w.client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();

    // A submitted proposal is not edited, nor submitted again; scoring waits
    // for the review.
    let edit = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(api::Proposal {
                    id: id.clone(),
                    title: Some(text("جديد", "new")),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    let (_, why) = precondition(&edit);
    assert!(why.contains("submitted cannot be edited"), "{why}");
    let again = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again).0, "PROPOSAL_STATE");
    w.assign(&id, &reviewer.id).await.unwrap();
    let early = w.score(&id, &token, 3, 3).await.unwrap_err();
    assert!(precondition(&early).1.contains("cannot be scored"));

    // A rejection needs a reason; a rejected proposal is final.
    let no_reason = w
        .client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: id.clone(),
                decision: api::Decision::Reject as i32,
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&no_reason), ["reason"]);
    w.client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: id.clone(),
                decision: api::Decision::Reject as i32,
                reason: "outside the call's themes".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let withdraw = w
        .client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: id.clone(),
                reason: String::new(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition(&withdraw)
            .1
            .contains("rejected cannot be withdrawn")
    );
    let note = w
        .client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: id.clone(),
                body: "?".into(),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&note).0, "COACHING_CLOSED");
    // The rejected organization may apply again in the same call only after
    // withdrawing, which a rejection does not allow: one proposal per call.
    let second = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(content(&call.id)),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::AlreadyExists);

    // Grants: activation, reporting and completion follow the award.
    let org2 = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let approved = w.approved(&call, &org2).await;
    let award = w
        .award(&approved.id, 450_000, &[(1, 200_000), (2, 250_000)])
        .await;
    let report = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(&award.id, api::ReportKind::Progress, 1, (1, 1))),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition(&report)
            .1
            .contains("awarded cannot be reported on")
    );
    let pay = w.disburse(&award.id, 1).await.unwrap_err();
    assert_eq!(precondition(&pay).0, "PROPOSAL_STATE");
    w.client
        .activate_grant(authed(
            api::ActivateGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let twice = w
        .client
        .activate_grant(authed(
            api::ActivateGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition(&twice)
            .1
            .contains("active cannot be activated")
    );
    let final_first = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(&award.id, api::ReportKind::Final, 0, (1, 1))),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition(&final_first);
    assert_eq!(kind, "MILESTONES_OPEN");
    assert!(why.contains("1, 2"), "{why}");
    let complete = w
        .client
        .complete_grant(authed(
            api::CompleteGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&complete).0, "TRANCHES_OPEN");
    // Closed early: the planned tranches are cancelled and nothing more moves.
    let closed = w
        .client
        .close_grant_early(authed(
            api::CloseGrantEarlyRequest {
                award_id: award.id.clone(),
                reason: "the organization dissolved".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.state, api::ProposalState::ClosedEarly as i32);
    assert!(
        closed
            .tranches
            .iter()
            .all(|t| t.state == api::TrancheState::Cancelled as i32)
    );
    assert_eq!(
        (minor(&closed.cancelled), minor(&closed.remaining)),
        (450_000, 0)
    );
    let after = w.disburse(&award.id, 1).await.unwrap_err();
    assert!(precondition(&after).1.contains("closed early"));
    let ended: ev::ProjectCompleted = w.last_event("ProjectCompleted").await;
    assert_eq!(ended.outcome, ev::ProjectOutcome::ClosedEarly as i32);

    // Calls: opened once; rules frozen once open; closed calls take nothing.
    let reopen = w
        .client
        .open_call(authed(
            api::OpenCallRequest {
                id: call.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&reopen).0, "CALL_STATE");
    let mut cheaper = call.clone();
    cheaper.project_ceiling = Some(usd(100_000));
    let rules = w
        .client
        .update_call(authed(
            api::UpdateCallRequest {
                call: Some(cheaper),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["project_ceiling".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        precondition(&rules)
            .1
            .contains("judged by the rules it opened with")
    );
    let mut later = call.clone();
    later.closes_on = Some(day(45));
    w.client
        .update_call(authed(
            api::UpdateCallRequest {
                call: Some(later),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["closes_on".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .expect("an open call may extend its deadline");
    let org3 = w
        .organization("منظمة ثالثة", IncubationStatus::Incubated)
        .await;
    let late = w.draft(&call, &org3).await;
    w.client
        .close_call(authed(
            api::CloseCallRequest {
                id: call.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let closed_call = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: late.id.clone(),
                etag: String::new(),
            },
            &w.partner(&org3),
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition(&closed_call);
    assert_eq!(kind, "CALL_STATE");
    assert!(why.contains("closed"), "{why}");

    // A draft call without a rubric does not open.
    let mut no_rubric = call_body(&w.program_id, Default::default(), 100_000, false);
    no_rubric.rubric = None;
    no_rubric.project_ceiling = Some(usd(100_000));
    let draft_call = w
        .client
        .create_call(authed(
            api::CreateCallRequest {
                call: Some(no_rubric),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let open = w
        .client
        .open_call(authed(
            api::OpenCallRequest {
                id: draft_call.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&open).0, "RUBRIC_MISSING");
}

/// A fresh proposal (of a new organization) driven into `state` through the
/// API, with `reviewer` assigned since its submission; and its award, if it
/// has one.
async fn in_state(
    w: &mut World,
    call: &api::Call,
    state: api::ProposalState,
    reviewer: &str,
) -> (api::Proposal, Option<String>) {
    use api::ProposalState as P;
    let org = w
        .organization(state.as_str_name(), IncubationStatus::Incubated)
        .await;
    let partner = w.partner(&org);
    let staff = w.staff.clone();
    let mut award = None;
    let p = if state == P::Draft {
        w.draft(call, &org).await
    } else {
        w.submitted(call, &org).await
    };
    let id = p.id.clone();
    if state != P::Draft {
        w.assign(&id, reviewer).await.unwrap();
    }
    let decide = |decision: api::Decision| api::DecideProposalRequest {
        id: id.clone(),
        decision: decision as i32,
        reason: "the committee's decision".into(),
        etag: String::new(),
    };
    match state {
        P::Draft | P::Submitted => {}
        P::ChangesRequested => {
            w.client
                .request_changes(authed(
                    api::RequestChangesRequest {
                        id: id.clone(),
                        note: "وضحوا الميزانية".into(),
                        etag: String::new(),
                    },
                    &staff,
                ))
                .await
                .unwrap();
        }
        P::Rejected => {
            w.client
                .decide_proposal(authed(decide(api::Decision::Reject), &staff))
                .await
                .unwrap();
        }
        P::Withdrawn => {
            w.client
                .withdraw_proposal(authed(
                    api::WithdrawProposalRequest {
                        id: id.clone(),
                        reason: "changed our plans".into(),
                        etag: String::new(),
                    },
                    &partner,
                ))
                .await
                .unwrap();
        }
        _ => {
            w.client
                .start_review(authed(
                    api::StartReviewRequest {
                        id: id.clone(),
                        etag: String::new(),
                    },
                    &staff,
                ))
                .await
                .unwrap();
            if state != P::UnderReview {
                w.client
                    .decide_proposal(authed(decide(api::Decision::Approve), &staff))
                    .await
                    .unwrap();
            }
            if !matches!(state, P::UnderReview | P::Approved) {
                let a = w.award(&id, 450_000, &[(1, 200_000), (2, 250_000)]).await;
                award = Some(a.id.clone());
                if state == P::ClosedEarly {
                    w.client
                        .close_grant_early(authed(
                            api::CloseGrantEarlyRequest {
                                award_id: a.id.clone(),
                                reason: "the partner dissolved".into(),
                                etag: String::new(),
                            },
                            &staff,
                        ))
                        .await
                        .unwrap();
                } else if state != P::Awarded {
                    w.client
                        .activate_grant(authed(
                            api::ActivateGrantRequest {
                                award_id: a.id.clone(),
                                etag: String::new(),
                            },
                            &staff,
                        ))
                        .await
                        .unwrap();
                }
                if state == P::Completed {
                    for m in [1, 2] {
                        let r = w.report(&a.id, api::ReportKind::Progress, m, (1, 1)).await;
                        w.review_report(&r.id, api::ReviewOutcome::Accept).await;
                        w.disburse(&a.id, m).await.unwrap();
                    }
                    let r = w.report(&a.id, api::ReportKind::Final, 0, (2, 2)).await;
                    w.review_report(&r.id, api::ReviewOutcome::Accept).await;
                    w.client
                        .complete_grant(authed(
                            api::CompleteGrantRequest {
                                award_id: a.id.clone(),
                                etag: String::new(),
                            },
                            &staff,
                        ))
                        .await
                        .unwrap();
                }
            }
        }
    }
    let now = w.get_proposal(&id, &staff).await.unwrap();
    assert_eq!(now.state, state as i32, "driven into {state:?}");
    (now, award)
}

fn ok<T>(r: Result<T, tonic::Status>) -> Result<(), tonic::Status> {
    r.map(|_| ())
}

/// Tries `action` on a proposal (and its award) through the RPC that does it.
/// `None` when the RPC cannot reach the life-cycle check for a reason of its
/// own: the award-level moves of a proposal that has no award (NOT_FOUND),
/// and scoring by a reviewer never assigned (a draft: NOT_FOUND).
#[allow(clippy::too_many_arguments)]
async fn attempt(
    w: &mut World,
    action: markaz_grants::domain::proposals::Action,
    p: &api::Proposal,
    award: Option<&str>,
    state: api::ProposalState,
    reviewer_token: &str,
    other_reviewer: &str,
) -> Option<Result<(), tonic::Status>> {
    use markaz_grants::domain::proposals::Action as A;
    let org = p.organization_id.clone();
    let partner = w.partner(&org);
    let staff = w.staff.clone();
    let c = &mut w.client;
    let id = p.id.clone();
    let decide = |decision: api::Decision| api::DecideProposalRequest {
        id: id.clone(),
        decision: decision as i32,
        reason: "the committee's decision".into(),
        etag: String::new(),
    };
    let award_id = award.map(str::to_string);
    if matches!(
        action,
        A::Activate | A::Report | A::Disburse | A::Vary | A::Complete | A::CloseEarly
    ) && award_id.is_none()
    {
        return None;
    }
    let award_id = award_id.unwrap_or_default();
    Some(match action {
        A::Edit => ok(c
            .update_proposal(authed(
                api::UpdateProposalRequest {
                    proposal: Some(api::Proposal {
                        id: id.clone(),
                        title: Some(text("عنوان جديد", "a new title")),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["title".into()],
                    }),
                },
                &partner,
            ))
            .await),
        A::Submit => ok(c
            .submit_proposal(authed(
                api::SubmitProposalRequest {
                    id: id.clone(),
                    etag: String::new(),
                },
                &partner,
            ))
            .await),
        A::RequestChanges => ok(c
            .request_changes(authed(
                api::RequestChangesRequest {
                    id: id.clone(),
                    note: "مزيد من التفاصيل".into(),
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
        A::StartReview => ok(c
            .start_review(authed(
                api::StartReviewRequest {
                    id: id.clone(),
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
        A::AssignReviewer => ok(c
            .assign_reviewer(authed(
                api::AssignReviewerRequest {
                    proposal_id: id.clone(),
                    reviewer_id: other_reviewer.into(),
                },
                &staff,
            ))
            .await),
        A::Score => {
            if state == api::ProposalState::Draft {
                return None;
            }
            ok(w.score(&id, reviewer_token, 4, 4).await)
        }
        A::Approve => ok(c
            .decide_proposal(authed(decide(api::Decision::Approve), &staff))
            .await),
        A::Reject => ok(c
            .decide_proposal(authed(decide(api::Decision::Reject), &staff))
            .await),
        A::Withdraw => ok(c
            .withdraw_proposal(authed(
                api::WithdrawProposalRequest {
                    id: id.clone(),
                    reason: "we withdraw".into(),
                    etag: String::new(),
                },
                &partner,
            ))
            .await),
        A::Award => ok(c
            .award_grant(authed(
                award_request(&id, 450_000, &[(1, 200_000), (2, 250_000)]),
                &staff,
            ))
            .await),
        A::Activate => ok(c
            .activate_grant(authed(
                api::ActivateGrantRequest {
                    award_id,
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
        A::Report => ok(c
            .submit_report(authed(
                api::SubmitReportRequest {
                    report: Some(report_body(&award_id, api::ReportKind::Progress, 1, (1, 1))),
                    request_id: String::new(),
                },
                &partner,
            ))
            .await),
        A::Disburse => w.disburse(&award_id, 1).await.map(|_| ()),
        A::Vary => ok(c
            .request_variation(authed(
                api::RequestVariationRequest {
                    variation: Some(api::Variation {
                        award_id,
                        justification: "تأخر التوريد".into(),
                        new_end_date: Some(day(300)),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &partner,
            ))
            .await),
        A::Complete => ok(c
            .complete_grant(authed(
                api::CompleteGrantRequest {
                    award_id,
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
        A::CloseEarly => ok(c
            .close_grant_early(authed(
                api::CloseGrantEarlyRequest {
                    award_id,
                    reason: "ended".into(),
                    etag: String::new(),
                },
                &staff,
            ))
            .await),
    })
}

/// Every state a proposal can reach, driven through the API; in each, every
/// life-cycle RPC the domain's table refuses is refused with
/// FAILED_PRECONDITION and the table's own reason (and coaching with
/// COACHING_CLOSED once decided). Moves the table allows are the other
/// tests' business: trying them here would leave the state.
async fn every_life_cycle_rpc_is_refused_where_the_domain_table_says(backend: Backend) {
    use api::ProposalState as P;
    use markaz_grants::domain::{self, proposals::Action};
    let mut w = world(backend).await;
    let call = w.call(incubated_only(), 10_000_000, false).await;
    let (reviewer, reviewer_token) = w.reviewer("مراجعة").await;
    let (other, _) = w.reviewer("مراجع آخر").await;
    let mut checked = 0;
    for state in [
        P::Draft,
        P::Submitted,
        P::ChangesRequested,
        P::UnderReview,
        P::Approved,
        P::Rejected,
        P::Withdrawn,
        P::Awarded,
        P::Active,
        P::Completed,
        P::ClosedEarly,
    ] {
        let (p, award) = in_state(&mut w, &call, state, &reviewer.id).await;
        for action in Action::ALL {
            let Err(markaz_kit::error::Error::FailedPrecondition { description, .. }) =
                domain::proposals::transition(state, action)
            else {
                continue;
            };
            let Some(outcome) = attempt(
                &mut w,
                action,
                &p,
                award.as_deref(),
                state,
                &reviewer_token,
                &other.id,
            )
            .await
            else {
                continue;
            };
            let mut outcomes = vec![outcome];
            if action == Action::Report
                && let Some(award) = &award
            {
                // Spending is reported on too.
                let partner = w.partner(&p.organization_id);
                let spent = w
                    .client
                    .submit_expenditure_report(authed(expenditure(award, &[(1, 100)]), &partner))
                    .await;
                outcomes.push(ok(spent));
            }
            for outcome in outcomes {
                let status = outcome.expect_err(&format!("{action:?} in {state:?} is refused"));
                let (kind, why) = precondition(&status);
                assert_eq!(kind, "PROPOSAL_STATE", "{action:?} in {state:?}: {why}");
                assert_eq!(why, description, "{action:?} in {state:?}");
                checked += 1;
            }
        }
        // Coaching ends with the decision.
        let note = w
            .client
            .add_coaching_note(authed(
                api::AddCoachingNoteRequest {
                    proposal_id: p.id.clone(),
                    body: "ملاحظة".into(),
                    request_id: String::new(),
                },
                &w.staff,
            ))
            .await;
        let coach = w
            .client
            .assign_coach(authed(
                api::AssignCoachRequest {
                    proposal_id: p.id.clone(),
                    subject: format!("trainer-{}", state.as_str_name()),
                },
                &w.staff,
            ))
            .await;
        for (rpc, outcome) in [
            ("AddCoachingNote", code(note)),
            ("AssignCoach", code(coach)),
        ] {
            let expected = if domain::coaching::check_coaching_open(state).is_ok() {
                Code::Ok
            } else {
                Code::FailedPrecondition
            };
            assert_eq!(outcome, expected, "{rpc} in {state:?}");
        }
        // Nothing refused moved the proposal.
        let after = w.get_proposal(&p.id, &w.staff.clone()).await.unwrap();
        assert_eq!(after.state, state as i32, "{state:?} stayed");
    }
    assert!(checked > 100, "{checked} refusals checked");
}

async fn changes_may_be_requested_under_review_and_an_approval_withdrawn(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let partner = w.partner(&org);
    let p = w.under_review(&call, &org).await;
    let (reviewer, token) = w.reviewer("مراجعة").await;
    w.assign(&p.id, &reviewer.id).await.unwrap();
    w.score(&p.id, &token, 5, 4).await.unwrap();
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 1);

    // The committee sends it back while reviewing; the applicant revises.
    let back = w
        .client
        .request_changes(authed(
            api::RequestChangesRequest {
                id: p.id.clone(),
                note: "الميزانية غير واضحة: فصلوا بند المضخات".into(),
                etag: p.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.state, api::ProposalState::ChangesRequested as i32);
    let mut revised = content(&call.id);
    revised.id = p.id.clone();
    revised.summary = Some(text("بئر لألف شخص، بميزانية مفصلة", "detailed budget"));
    w.client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(revised),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["summary".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap();
    let resubmitted = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: p.id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resubmitted.version_number, 2);
    w.client
        .start_review(authed(
            api::StartReviewRequest {
                id: p.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    // The sheet scored version 1: kept, but no longer counted.
    let scores = |w: &mut World| {
        let mut c = w.client.clone();
        let (id, staff) = (p.id.clone(), w.staff.clone());
        async move {
            c.list_scores(authed(api::ListScoresRequest { proposal_id: id }, &staff))
                .await
                .unwrap()
                .into_inner()
                .sheets
        }
    };
    let sheets = scores(&mut w).await;
    assert_eq!(sheets.len(), 1);
    assert!(!sheets[0].counts);
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 0);
    // Scored again, on the revision: it counts.
    w.score(&p.id, &token, 5, 5).await.unwrap();
    assert!(scores(&mut w).await[0].counts);
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 1);

    // Approved, then never awarded: withdrawn, and only with a reason.
    w.client
        .decide_proposal(authed(
            api::DecideProposalRequest {
                id: p.id.clone(),
                decision: api::Decision::Approve as i32,
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let bare = w
        .client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: p.id.clone(),
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bare), ["reason"]);
    let withdrawn = w
        .client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: p.id.clone(),
                reason: "the envelope went to projects ranked higher".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.state, api::ProposalState::Withdrawn as i32);
    assert_eq!(
        withdrawn.decision_reason,
        "the envelope went to projects ranked higher"
    );
    let award = w
        .client
        .award_grant(authed(
            award_request(&p.id, 450_000, &[(1, 450_000)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&award).0, "PROPOSAL_STATE");
    // The organization may apply again in the call.
    w.draft(&call, &org).await;
}

async fn eligibility_follows_the_copies_of_membership_and_capacity(backend: Backend) {
    let mut w = world(backend).await;
    let rules = api::EligibilityRules {
        incubation_statuses: vec![IncubationStatus::Incubated as i32],
        branch_ids: vec!["raqqa".into()],
        organization_kinds: vec![OrganizationKind::Cso as i32],
        required_course_topic: PROPOSAL_WRITING.into(),
    };
    let call = w.call(rules, 1_200_000, false).await;
    let org = w
        .organization("منظمة متقدمة", IncubationStatus::Applicant)
        .await;
    let partner = w.partner(&org);
    let draft = w.draft(&call, &org).await;
    let check = |w: &mut World| {
        let mut c = w.client.clone();
        let (call_id, token) = (call.id.clone(), partner.clone());
        async move {
            c.check_eligibility(authed(
                api::CheckEligibilityRequest {
                    call_id,
                    organization_id: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
        }
    };
    let submit = |w: &mut World| {
        let mut c = w.client.clone();
        let (id, token) = (draft.id.clone(), partner.clone());
        async move {
            c.submit_proposal(authed(
                api::SubmitProposalRequest {
                    id,
                    etag: String::new(),
                },
                &token,
            ))
            .await
        }
    };

    // An applicant without the course: two rules unmet, submission refused.
    let e = check(&mut w).await;
    assert!(!e.eligible);
    assert_eq!(e.unmet.len(), 2, "{:?}", e.unmet);
    assert!(e.unmet[0].contains("applicant"));
    assert!(e.unmet[1].contains(PROPOSAL_WRITING));
    let refused = submit(&mut w).await.unwrap_err();
    let (kind, why) = precondition(&refused);
    assert_eq!(kind, "NOT_ELIGIBLE");
    assert!(
        why.contains("incubated") && why.contains(PROPOSAL_WRITING),
        "{why}"
    );

    // Incubated (membership's event): one rule left.
    w.incubation(
        &org,
        IncubationStatus::Applicant,
        IncubationStatus::Incubated,
        2,
    )
    .await;
    // A late, older snapshot does not take the status back.
    w.deliver(
        "membership",
        ev::OrganizationUpdated {
            organization: Some(ev::OrganizationSnapshot {
                id: org.clone(),
                kind: OrganizationKind::Cso as i32,
                name: Some(text("منظمة متقدمة", "x")),
                branch_id: "raqqa".into(),
                incubation_status: IncubationStatus::Applicant as i32,
                version: 1,
                ..Default::default()
            }),
        },
    )
    .await;
    let e = check(&mut w).await;
    assert_eq!(e.unmet.len(), 1, "{:?}", e.unmet);
    assert!(submit(&mut w).await.is_err());

    // A member completed proposal writing (capacity's event): eligible.
    w.completed_course(&org, PROPOSAL_WRITING).await;
    assert!(check(&mut w).await.eligible);
    let submitted = submit(&mut w).await.unwrap().into_inner();
    assert_eq!(submitted.state, api::ProposalState::Submitted as i32);

    // Other branches and kinds are named too; staff may check any organization.
    let elsewhere = new_id();
    w.deliver(
        "membership",
        ev::OrganizationRegistered {
            organization: Some(ev::OrganizationSnapshot {
                id: elsewhere.clone(),
                kind: OrganizationKind::Initiative as i32,
                branch_id: "deir-ez-zor".into(),
                incubation_status: IncubationStatus::Incubated as i32,
                version: 3,
                ..Default::default()
            }),
        },
    )
    .await;
    w.deliver(
        "capacity",
        ev::CertificateIssued {
            certificate_id: new_id(),
            code: "X".into(),
            course_id: new_id(),
            person_id: new_id(),
            organization_id: elsewhere.clone(),
            topic_codes: vec![PROPOSAL_WRITING.into()],
            issued_at: None,
        },
    )
    .await;
    let e = w
        .client
        .check_eligibility(authed(
            api::CheckEligibilityRequest {
                call_id: call.id.clone(),
                organization_id: elsewhere.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.unmet.len(), 2, "{:?}", e.unmet);
    assert!(e.unmet[0].contains("deir-ez-zor"));
    assert!(e.unmet[1].contains("INITIATIVE"));

    // An organization grants has never heard of cannot apply.
    let stranger = new_id();
    let unknown = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(content(&call.id)),
                request_id: String::new(),
            },
            &w.partner(&stranger),
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&unknown).0, "ORGANIZATION_UNKNOWN");
}

async fn revoked_certificates_stop_counting_for_eligibility(backend: Backend) {
    let mut w = world(backend).await;
    let rules = api::EligibilityRules {
        required_course_topic: PROPOSAL_WRITING.into(),
        ..incubated_only()
    };
    let call = w.call(rules, 1_200_000, false).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let (course, first, second) = (new_id(), new_id(), new_id());
    let completed = ev::CourseCompleted {
        course_id: course.clone(),
        topic_codes: vec![PROPOSAL_WRITING.into(), "monitoring-evaluation".into()],
        completers: [&first, &second]
            .iter()
            .map(|p| ev::Completer {
                person_id: p.to_string(),
                organization_id: org.clone(),
                gender: Gender::Female as i32,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let certificate = |person: &str, org: &str, course: &str| ev::CertificateIssued {
        certificate_id: new_id(),
        code: "RAQ-1".into(),
        course_id: course.into(),
        person_id: person.into(),
        organization_id: org.into(),
        topic_codes: vec![PROPOSAL_WRITING.into()],
        issued_at: None,
    };
    let revoked = |c: &ev::CertificateIssued| ev::CertificateRevoked {
        certificate_id: c.certificate_id.clone(),
        code: c.code.clone(),
        course_id: c.course_id.clone(),
        person_id: c.person_id.clone(),
        organization_id: c.organization_id.clone(),
        reason: "issued in error".into(),
    };
    let (cert1, cert2) = (
        certificate(&first, &org, &course),
        certificate(&second, &org, &course),
    );
    w.deliver("capacity", completed.clone()).await;
    w.deliver("capacity", cert1.clone()).await;
    w.deliver("capacity", cert2.clone()).await;
    assert!(w.eligibility(&call.id, &org).await.eligible);

    // One of two certificates revoked: the other still holds the topic.
    w.deliver("capacity", revoked(&cert1)).await;
    assert!(w.eligibility(&call.id, &org).await.eligible);
    // Both revoked: the topic is no longer completed.
    w.deliver("capacity", revoked(&cert2)).await;
    let e = w.eligibility(&call.id, &org).await;
    assert!(!e.eligible);
    assert_eq!(e.unmet.len(), 1, "{:?}", e.unmet);
    assert!(e.unmet[0].contains(PROPOSAL_WRITING), "{:?}", e.unmet);
    let draft = w.draft(&call, &org).await;
    let refused = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused).0, "NOT_ELIGIBLE");
    // The course's completion delivered again (at least once) does not
    // bring the revoked certificates back.
    w.deliver("capacity", completed.clone()).await;
    w.deliver("capacity", cert2.clone()).await;
    assert!(!w.eligibility(&call.id, &org).await.eligible);

    // Out of order: a revocation that arrives before the completion it
    // revokes still wins.
    let late = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let (course2, person) = (new_id(), new_id());
    let cert = certificate(&person, &late, &course2);
    w.deliver("capacity", revoked(&cert)).await;
    w.deliver("capacity", cert.clone()).await;
    w.deliver(
        "capacity",
        ev::CourseCompleted {
            course_id: course2.clone(),
            completers: vec![ev::Completer {
                person_id: person.clone(),
                organization_id: late.clone(),
                ..Default::default()
            }],
            ..completed.clone()
        },
    )
    .await;
    assert!(!w.eligibility(&call.id, &late).await.eligible);

    // Another course on the topic completed: eligible again.
    w.completed_course(&org, PROPOSAL_WRITING).await;
    assert!(w.eligibility(&call.id, &org).await.eligible);
    w.client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap();
}

/// Migration 2 moves the topics kept by migration 1 (per organization, no
/// person) into the completions that revocations now apply to.
async fn topics_completed_before_migration_2_still_count(backend: Backend) {
    let env = markaz_kit::testing::TestEnv::new(backend);
    let (url, schema) = markaz_kit::app::database_of(&env.config, &env.storage, "grants").unwrap();
    markaz_kit::migrate::run(&url, schema.as_deref(), &markaz_grants::MIGRATIONS[..1])
        .await
        .unwrap();
    let org = new_id();
    {
        let db = env.db("grants").await.unwrap();
        let mut tx = db.write(TENANT).await.unwrap();
        sqlx::query(
            "INSERT INTO organization_copies (tenant_id, id, identifier, kind, name_ar, name_en,
                governorate, branch_id, fields_version, incubation_status, status_version)
             VALUES ($1, $2, 'MKZ-1', 'ORGANIZATION_KIND_CSO', 'منظمة', '', 'Raqqa', 'raqqa', 1,
                'INCUBATION_STATUS_INCUBATED', 1)",
        )
        .bind(TENANT)
        .bind(&org)
        .execute(tx.conn())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO completed_topics (tenant_id, organization_id, topic_code, first_course_id)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(TENANT)
        .bind(&org)
        .bind(PROPOSAL_WRITING)
        .bind(new_id())
        .execute(tx.conn())
        .await
        .unwrap();
        tx.commit().await.unwrap();
        db.close().await;
    }
    // The service starts: migration 2 runs.
    let app = env.start(vec![Arc::new(Grants)]).await.unwrap();
    let mut w = World::on(TestApp { app, env }).await;
    let rules = api::EligibilityRules {
        required_course_topic: PROPOSAL_WRITING.into(),
        ..incubated_only()
    };
    let call = w.call(rules, 1_200_000, false).await;
    let e = w.eligibility(&call.id, &org).await;
    assert!(e.eligible, "{:?}", e.unmet);
}

async fn declared_and_detected_conflicts_keep_reviewers_away(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let p = w.under_review(&call, &org).await;

    // Declared: the reviewer names the organization; never assigned.
    let (declarer, declarer_token) = w.reviewer("مراجع أول").await;
    w.client
        .declare_conflict(authed(
            api::DeclareConflictRequest {
                conflict: Some(api::Conflict {
                    organization_id: org.clone(),
                    reason: "my brother chairs its board".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &declarer_token,
        ))
        .await
        .unwrap();
    let refused = w.assign(&p.id, &declarer.id).await.unwrap_err();
    let (kind, why) = precondition(&refused);
    assert_eq!(kind, "CONFLICT_OF_INTEREST");
    assert!(why.contains("declared") && why.contains("brother"), "{why}");

    // Detected: the reviewer's person is affiliated with the applicant.
    let (member, _) = w.reviewer("مراجع ثان").await;
    w.affiliate(&member.person_id, &org).await;
    let refused = w.assign(&p.id, &member.id).await.unwrap_err();
    let (kind, why) = precondition(&refused);
    assert_eq!(kind, "CONFLICT_OF_INTEREST");
    assert!(why.contains("affiliated"), "{why}");

    // Detected after assignment: the assignment is withdrawn, the reviewer no
    // longer sees the proposal and cannot score it.
    let (late, late_token) = w.reviewer("مراجع ثالث").await;
    w.assign(&p.id, &late.id).await.unwrap();
    assert!(w.get_proposal(&p.id, &late_token).await.is_ok());
    w.affiliate(&late.person_id, &org).await;
    let hidden = w.get_proposal(&p.id, &late_token).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let score = w.score(&p.id, &late_token, 5, 5).await.unwrap_err();
    let (kind, why) = precondition(&score);
    assert_eq!(kind, "CONFLICT_OF_INTEREST");
    assert!(why.contains("affiliated"), "{why}");
    let assignments = w
        .client
        .list_assignments(authed(
            api::ListAssignmentsRequest {
                proposal_id: p.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert_eq!(assignments.len(), 1);
    assert_eq!(assignments[0].state, api::AssignmentState::Recused as i32);

    // Declared after scoring: the score stops counting in the ranking.
    let (honest, honest_token) = w.reviewer("مراجعة رابعة").await;
    w.assign(&p.id, &honest.id).await.unwrap();
    w.score(&p.id, &honest_token, 5, 5).await.unwrap();
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 1);
    w.client
        .declare_conflict(authed(
            api::DeclareConflictRequest {
                conflict: Some(api::Conflict {
                    proposal_id: p.id.clone(),
                    reason: "I advised them on this project".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &honest_token,
        ))
        .await
        .unwrap();
    let ranking = w.ranking(&call.id).await;
    assert_eq!(
        (ranking.proposals[0].review_count, ranking.proposals[0].rank),
        (0, 0)
    );
    let sheets = w
        .client
        .list_scores(authed(
            api::ListScoresRequest {
                proposal_id: p.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .sheets;
    assert_eq!(sheets.len(), 1);
    assert!(!sheets[0].counts);
    let again = w.score(&p.id, &honest_token, 1, 1).await.unwrap_err();
    assert_eq!(precondition(&again).0, "CONFLICT_OF_INTEREST");
    // Staff see every declaration; a reviewer only its own.
    let all = w
        .client
        .list_conflicts(authed(api::ListConflictsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.conflicts.len(), 2);
    let own = w
        .client
        .list_conflicts(authed(
            api::ListConflictsRequest::default(),
            &declarer_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.conflicts.len(), 1);
    assert_eq!(own.conflicts[0].declared_by, declarer.subject);

    // An ended affiliation no longer blocks.
    let other_org = w
        .organization("منظمة أخرى", IncubationStatus::Incubated)
        .await;
    let (former, _) = w.reviewer("عضو سابق").await;
    let affiliation = w.affiliate(&former.person_id, &other_org).await;
    w.deliver(
        "membership",
        ev::AffiliationEnded {
            affiliation_id: affiliation,
            person_id: former.person_id.clone(),
            organization_id: other_org.clone(),
        },
    )
    .await;
    let q = w.under_review(&call, &other_org).await;
    w.assign(&q.id, &former.id).await.unwrap();
}

async fn blind_calls_hide_the_applicant_from_reviewers(backend: Backend) {
    let mut w = world(backend).await;
    let org = w
        .organization("جمعية معروفة", IncubationStatus::Incubated)
        .await;
    let blind = w.call(incubated_only(), 1_200_000, true).await;
    let p = w.under_review(&blind, &org).await;
    let (reviewer, token) = w.reviewer("مراجع").await;
    w.assign(&p.id, &reviewer.id).await.unwrap();

    let seen = w.get_proposal(&p.id, &token).await.unwrap();
    assert_eq!(seen.organization_id, "");
    assert_eq!(seen.organization_name, None);
    assert!(seen.identity_hidden);
    // The content to review is all there.
    assert_eq!(seen.title, p.title);
    assert_eq!(seen.budget_lines, p.budget_lines);
    let listed = w
        .client
        .list_proposals(authed(api::ListProposalsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].organization_id, "");
    // Filtering by organization would reveal who applied: refused.
    let probe = w
        .client
        .list_proposals(authed(
            api::ListProposalsRequest {
                organization_id: org.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&probe), ["organization_id"]);
    // The reviewer has no way to the versions or coaching notes either.
    let versions = w
        .client
        .list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: p.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(versions.code(), Code::PermissionDenied);

    // Staff see the applicant; in an open (not blind) call so do reviewers.
    let staff_view = w.get_proposal(&p.id, &w.staff.clone()).await.unwrap();
    assert_eq!(staff_view.organization_id, org);
    assert!(!staff_view.identity_hidden);
    let open = w.call(incubated_only(), 1_200_000, false).await;
    let q = w.under_review(&open, &org).await;
    w.assign(&q.id, &reviewer.id).await.unwrap();
    let seen = w.get_proposal(&q.id, &token).await.unwrap();
    assert_eq!(seen.organization_id, org);
    assert_eq!(seen.organization_name.unwrap().ar, "جمعية معروفة");
}

async fn the_ranking_follows_weighted_scores_that_count(backend: Backend) {
    let mut w = world(backend).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let mut proposals = Vec::new();
    for name in ["أ", "ب", "ج", "د"] {
        let org = w.organization(name, IncubationStatus::Incubated).await;
        proposals.push(w.under_review(&call, &org).await.id);
    }
    let (r1, t1) = w.reviewer("مراجع ١").await;
    let (r2, t2) = w.reviewer("مراجع ٢").await;
    for p in &proposals[..3] {
        w.assign(p, &r1.id).await.unwrap();
        w.assign(p, &r2.id).await.unwrap();
    }
    // Weighted totals (need × 3 + feasibility × 2, out of 25):
    // a: 25 and 15 → mean 20; b: 21 and 19 → 20; c: 23 and 23 → 23.
    w.score(&proposals[0], &t1, 5, 5).await.unwrap();
    w.score(&proposals[0], &t2, 3, 3).await.unwrap();
    w.score(&proposals[1], &t1, 5, 3).await.unwrap();
    w.score(&proposals[1], &t2, 3, 5).await.unwrap();
    w.score(&proposals[2], &t1, 5, 4).await.unwrap();
    // A sheet sent again replaces the reviewer's earlier one.
    w.score(&proposals[2], &t2, 1, 1).await.unwrap();
    w.score(&proposals[2], &t2, 5, 4).await.unwrap();
    let ranking = w.ranking(&call.id).await;
    let got: Vec<(usize, i32, i32, i32)> = ranking
        .proposals
        .iter()
        .map(|r| {
            (
                proposals.iter().position(|p| *p == r.proposal_id).unwrap(),
                r.rank,
                r.review_count,
                r.score_basis_points,
            )
        })
        .collect();
    let (a, b) = if proposals[0] < proposals[1] {
        (0, 1)
    } else {
        (1, 0)
    };
    assert_eq!(
        got,
        [
            (2, 1, 2, 9_200),
            (a, 2, 2, 8_000),
            (b, 2, 2, 8_000),
            (3, 0, 0, 0)
        ]
    );
    assert_eq!(minor(&ranking.proposals[0].requested), 450_000);
    // A reviewer sees only its own sheets.
    let own = w
        .client
        .list_scores(authed(
            api::ListScoresRequest {
                proposal_id: proposals[0].clone(),
            },
            &t1,
        ))
        .await
        .unwrap()
        .into_inner()
        .sheets;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].reviewer_id, r1.id);
    // Scores must cover the rubric, within its scale.
    let bad = w
        .client
        .submit_score(authed(
            api::SubmitScoreRequest {
                proposal_id: proposals[0].clone(),
                scores: vec![api::CriterionScore {
                    criterion_code: "need".into(),
                    score: 6,
                    comment: String::new(),
                }],
                comment: String::new(),
            },
            &t1,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bad), ["scores[0].score"]);
}

async fn tranches_are_released_only_against_accepted_milestones(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &org).await;

    let refused = w.disburse(&award.id, 1).await.unwrap_err();
    let (kind, why) = precondition(&refused);
    assert_eq!(kind, "MILESTONE_NOT_ACCEPTED");
    assert!(why.contains("milestone 1"), "{why}");
    // Submitted is not accepted.
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (10, 10))
        .await;
    assert_eq!(
        precondition(&w.disburse(&award.id, 1).await.unwrap_err()).0,
        "MILESTONE_NOT_ACCEPTED"
    );
    // Returned is not accepted either; the partner reports again.
    let returned = w
        .review_report(&report.id, api::ReviewOutcome::Return)
        .await;
    assert_eq!(returned.state, api::ReportState::Returned as i32);
    assert!(w.disburse(&award.id, 1).await.is_err());
    let dup = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(
                    &award.id,
                    api::ReportKind::Progress,
                    1,
                    (12, 10),
                )),
                request_id: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap()
        .into_inner();
    let twice = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(report_body(
                    &award.id,
                    api::ReportKind::Progress,
                    1,
                    (12, 10),
                )),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice).0, "REPORT_EXISTS");
    // Milestone 2's tranche waits for milestone 2, whatever milestone 1 did.
    w.review_report(&dup.id, api::ReviewOutcome::Accept).await;
    let reviewed_twice = w
        .client
        .review_report(authed(
            api::ReviewReportRequest {
                id: dup.id.clone(),
                outcome: api::ReviewOutcome::Return as i32,
                comment: "x".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&reviewed_twice).0, "REPORT_REVIEWED");
    assert_eq!(
        precondition(&w.disburse(&award.id, 2).await.unwrap_err()).0,
        "MILESTONE_NOT_ACCEPTED"
    );
    let paid = w.disburse(&award.id, 1).await.unwrap();
    assert_eq!(paid.tranches[0].state, api::TrancheState::Disbursed as i32);
    assert_eq!(paid.tranches[0].reference, "TRF-1");
    assert_eq!(paid.tranches[1].state, api::TrancheState::Planned as i32);
    assert_eq!(
        precondition(&w.disburse(&award.id, 1).await.unwrap_err()).0,
        "TRANCHE_NOT_PLANNED"
    );
    let missing = w.disburse(&award.id, 3).await.unwrap_err();
    assert_eq!(field_violations(&missing), ["tranche_number"]);
    let paid: ev::TrancheDisbursed = w.last_event("TrancheDisbursed").await;
    assert_eq!(
        (
            paid.tranche_number,
            paid.milestone_number,
            paid.amount.unwrap().minor_units
        ),
        (1, 1, 200_000)
    );
    assert_eq!(paid.disbursed_total.unwrap().minor_units, 200_000);
    // Milestone progress is visible on the award.
    let view = w.get_award(&award.id).await;
    let states: Vec<i32> = view.milestones.iter().map(|m| m.report_state).collect();
    assert_eq!(states, [api::ReportState::Accepted as i32, 0]);
}

async fn money_is_integer_minor_units_and_totals_never_drift(backend: Backend) {
    let mut w = world(backend).await;
    // An envelope for one award of 4,500.00, not two.
    let call = w.call(incubated_only(), 600_000, false).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let partner = w.partner(&org);

    // Cents add up exactly: 1,666.67 + 1,666.67 + 1,166.66 = 4,500.00.
    let mut p = content(&call.id);
    p.budget_lines = vec![
        line(api::BudgetCategory::Supplies, "a", 166_667),
        line(api::BudgetCategory::Supplies, "b", 166_667),
        line(api::BudgetCategory::Activities, "c", 116_666),
    ];
    let draft = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(p.clone()),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minor(&draft.requested_total), 450_000);

    // Over the ceiling, or in another currency: refused at once, by field.
    let mut over = draft.clone();
    over.budget_lines
        .push(line(api::BudgetCategory::Other, "d", 50_001));
    let status = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(over),
                update_mask: None,
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["proposal.budget_lines"]);
    assert!(
        status.message().contains("5,000.01 USD"),
        "{}",
        status.message()
    );
    let mut mixed = draft.clone();
    mixed.budget_lines[1].amount = Some(Money {
        currency_code: "EUR".into(),
        minor_units: 10,
    });
    let status = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(mixed),
                update_mask: None,
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        ["proposal.budget_lines[1].amount.currency_code"]
    );
    w.client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();
    for step in ["review", "approve"] {
        if step == "review" {
            w.client
                .start_review(authed(
                    api::StartReviewRequest {
                        id: draft.id.clone(),
                        etag: String::new(),
                    },
                    &w.staff,
                ))
                .await
                .unwrap();
        } else {
            w.client
                .decide_proposal(authed(
                    api::DecideProposalRequest {
                        id: draft.id.clone(),
                        decision: api::Decision::Approve as i32,
                        reason: String::new(),
                        etag: String::new(),
                    },
                    &w.staff,
                ))
                .await
                .unwrap();
        }
    }

    // The award is the approved budget, to the cent; tranches add up to it.
    let less = w
        .client
        .award_grant(authed(
            award_request(&draft.id, 449_999, &[(1, 449_999)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition(&less);
    assert_eq!(kind, "AWARD_NOT_BUDGET");
    assert!(why.contains("4,500.00 USD"), "{why}");
    let short = w
        .client
        .award_grant(authed(
            award_request(&draft.id, 450_000, &[(1, 200_000), (2, 249_999)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&short), ["tranches"]);
    let mut euros = award_request(&draft.id, 450_000, &[(1, 450_000)]);
    euros.amount.as_mut().unwrap().currency_code = "EUR".into();
    euros.tranches[0].amount.as_mut().unwrap().currency_code = "EUR".into();
    let status = w
        .client
        .award_grant(authed(euros, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["amount.currency_code"]);
    let bogus = w
        .client
        .award_grant(authed(
            api::AwardGrantRequest {
                amount: Some(Money {
                    currency_code: "XYZ".into(),
                    minor_units: -5,
                }),
                ..award_request(&draft.id, 0, &[(1, 1)])
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&bogus),
        ["amount.currency_code", "amount.minor_units"]
    );
    let award = w
        .award(&draft.id, 450_000, &[(1, 150_001), (2, 299_999)])
        .await;
    assert_eq!(
        award.tranches.iter().map(|t| minor(&t.amount)).sum::<i64>(),
        minor(&award.amount)
    );

    // The envelope holds 6,000.00: a second award of 4,500.00 does not fit.
    let org2 = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let second = w.approved(&call, &org2).await;
    let status = w
        .client
        .award_grant(authed(
            award_request(&second.id, 450_000, &[(1, 450_000)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    let (kind, why) = precondition(&status);
    assert_eq!(kind, "ENVELOPE_EXCEEDED");
    assert!(why.contains("1,500.00 USD"), "{why}");

    // Spending never passes the award; totals stay integers all the way.
    w.client
        .activate_grant(authed(
            api::ActivateGrantRequest {
                award_id: award.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let too_much = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(0)),
                    period_end: Some(day(1)),
                    lines: vec![api::ExpenditureLine {
                        line_number: 1,
                        amount: Some(usd(450_001)),
                        note: String::new(),
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&too_much).0, "EXPENDITURE_OVER_AWARD");
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (1, 1))
        .await;
    w.review_report(&report.id, api::ReviewOutcome::Accept)
        .await;
    let paid = w.disburse(&award.id, 1).await.unwrap();
    assert_eq!(
        (minor(&paid.disbursed), minor(&paid.remaining)),
        (150_001, 299_999)
    );
    assert_eq!(
        minor(&paid.disbursed) + minor(&paid.cancelled) + minor(&paid.remaining),
        minor(&paid.amount)
    );
    let call_now = w
        .client
        .get_call(authed(
            api::GetCallRequest {
                id: call.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            minor(&call_now.awarded_total),
            minor(&call_now.envelope_remaining)
        ),
        (450_000, 150_000)
    );
}

/// An expenditure that would take the award's spending past `i64::MAX`
/// minor units is a bad amount (INVALID_ARGUMENT on the line), never a sum
/// that wraps negative, slips under the "over the award" check and leaves
/// the award unreadable.
async fn money_near_the_limit_of_64_bits_is_refused_never_wrapped(backend: Backend) {
    let mut w = world(backend).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let partner = w.partner(&org);
    let award = w.active_grant(&call, &org).await;
    let spent = w
        .client
        .submit_expenditure_report(authed(expenditure(&award.id, &[(1, 100)]), &partner))
        .await
        .unwrap()
        .into_inner();
    w.client
        .review_expenditure_report(authed(
            api::ReviewExpenditureReportRequest {
                id: spent.id.clone(),
                outcome: api::ReviewOutcome::Accept as i32,
                comment: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();

    // 1.00 spent already plus a line near the maximum: too large, not wrapped.
    let huge = w
        .client
        .submit_expenditure_report(authed(
            expenditure(&award.id, &[(2, i64::MAX - 50)]),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(huge.code(), Code::InvalidArgument, "{huge:?}");
    assert_eq!(
        field_violations(&huge),
        ["report.lines[0].amount.minor_units"]
    );
    // Two lines whose own sum does not fit.
    let halves = w
        .client
        .submit_expenditure_report(authed(
            expenditure(&award.id, &[(1, i64::MAX / 2 + 1), (2, i64::MAX / 2 + 1)]),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&halves),
        ["report.lines[1].amount.minor_units"]
    );
    // A reallocation whose lines do not fit.
    let mut wide = line(api::BudgetCategory::Supplies, "x", i64::MAX);
    wide.line_number = 1;
    let variation = w
        .client
        .request_variation(authed(
            api::RequestVariationRequest {
                variation: Some(api::Variation {
                    award_id: award.id.clone(),
                    justification: "more".into(),
                    budget_lines: vec![wide, line(api::BudgetCategory::Supplies, "y", 1)],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&variation),
        ["variation.budget_lines[1].amount.minor_units"]
    );
    assert_eq!(w.count("expenditure_reports").await, 1);
    assert_eq!(w.count("variations").await, 0);

    // The award still reads, with exactly what was accepted.
    let view = w.get_award(&award.id).await;
    assert_eq!((minor(&view.spent), minor(&view.amount)), (100, 450_000));
    let reports = w
        .client
        .list_expenditure_reports(authed(
            api::ListExpenditureReportsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert_eq!(reports.len(), 1);
}

async fn closing_a_grant_early_returns_its_unpaid_tranches_to_the_envelope(backend: Backend) {
    let mut w = world(backend).await;
    // 7,000.00: one award of 4,500.00 leaves 2,500.00, not enough for another.
    let call = w.call(incubated_only(), 700_000, false).await;
    let first = w.organization("الأولى", IncubationStatus::Incubated).await;
    let second = w.organization("الثانية", IncubationStatus::Incubated).await;
    let award = w.active_grant(&call, &first).await;
    let waiting = w.approved(&call, &second).await;
    let envelope = |c: api::Call| (minor(&c.awarded_total), minor(&c.envelope_remaining));
    assert_eq!(envelope(w.get_call(&call.id).await), (450_000, 250_000));
    let refused = w
        .client
        .award_grant(authed(
            award_request(&waiting.id, 450_000, &[(1, 200_000), (2, 250_000)]),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused).0, "ENVELOPE_EXCEEDED");

    // The first tranche is paid; the grant closes early; the second tranche
    // (2,500.00) is cancelled and returns to the envelope.
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (1, 1))
        .await;
    w.review_report(&report.id, api::ReviewOutcome::Accept)
        .await;
    w.disburse(&award.id, 1).await.unwrap();
    assert_eq!(envelope(w.get_call(&call.id).await), (450_000, 250_000));
    w.client
        .close_grant_early(authed(
            api::CloseGrantEarlyRequest {
                award_id: award.id.clone(),
                reason: "the partner could not continue".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    assert_eq!(envelope(w.get_call(&call.id).await), (200_000, 500_000));
    let listed = w
        .client
        .list_calls(authed(api::ListCallsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner()
        .calls;
    assert_eq!(
        listed.into_iter().map(envelope).collect::<Vec<_>>(),
        [(200_000, 500_000)]
    );

    // Now the second proposal fits.
    let awarded = w
        .award(&waiting.id, 450_000, &[(1, 200_000), (2, 250_000)])
        .await;
    assert_eq!(awarded.state, api::ProposalState::Awarded as i32);
    assert_eq!(envelope(w.get_call(&call.id).await), (650_000, 50_000));
}

async fn variations_apply_only_when_approved(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let partner = w.partner(&org);
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &org).await;
    // 500.00 spent on line 2 (the technician).
    let spent = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(0)),
                    period_end: Some(day(10)),
                    lines: vec![api::ExpenditureLine {
                        line_number: 2,
                        amount: Some(usd(50_000)),
                        note: String::new(),
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    w.client
        .review_expenditure_report(authed(
            api::ReviewExpenditureReportRequest {
                id: spent.id,
                outcome: api::ReviewOutcome::Accept as i32,
                comment: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let request = |budget: Vec<api::BudgetLine>, end: Option<Date>| api::RequestVariationRequest {
        variation: Some(api::Variation {
            award_id: award.id.clone(),
            justification: "الأسعار ارتفعت".into(),
            budget_lines: budget,
            new_end_date: end,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    // A reallocation keeps the total...
    let grows = w
        .client
        .request_variation(authed(
            request(
                vec![
                    line(api::BudgetCategory::Supplies, "pumps", 350_000),
                    line(api::BudgetCategory::Personnel, "technician", 150_000),
                ],
                None,
            ),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&grows).0, "BUDGET_NOT_AWARD");
    // ...and no line falls below what was spent on it.
    let below = w
        .client
        .request_variation(authed(
            request(
                vec![
                    line(api::BudgetCategory::Supplies, "pumps", 420_000),
                    line(api::BudgetCategory::Personnel, "technician", 30_000),
                ],
                None,
            ),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&below).0, "BELOW_SPENDING");
    let variation = w
        .client
        .request_variation(authed(
            request(
                vec![
                    line(api::BudgetCategory::Supplies, "pumps", 350_000),
                    line(api::BudgetCategory::Personnel, "technician", 100_000),
                ],
                Some(day(120)),
            ),
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(variation.state, api::VariationState::Pending as i32);
    let pending = w
        .client
        .request_variation(authed(request(vec![], Some(day(100))), &partner))
        .await
        .unwrap_err();
    assert_eq!(precondition(&pending).0, "VARIATION_PENDING");
    // Nothing changes before approval.
    let before = w.get_award(&award.id).await;
    assert_eq!(
        minor(&before.budget[0].line.as_ref().unwrap().amount),
        300_000
    );
    let decided = w
        .client
        .decide_variation(authed(
            api::DecideVariationRequest {
                id: variation.id.clone(),
                decision: api::Decision::Approve as i32,
                note: "justified".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(decided.state, api::VariationState::Approved as i32);
    let after = w.get_award(&award.id).await;
    let lines: Vec<(i64, i64)> = after
        .budget
        .iter()
        .map(|b| (minor(&b.line.as_ref().unwrap().amount), minor(&b.spent)))
        .collect();
    assert_eq!(lines, [(350_000, 0), (100_000, 50_000)]);
    assert_eq!(after.end_date, Some(day(120)));
    assert_eq!(minor(&after.amount), 450_000);
    assert_ne!(after.etag, before.etag);
    let again = w
        .client
        .decide_variation(authed(
            api::DecideVariationRequest {
                id: variation.id.clone(),
                decision: api::Decision::Reject as i32,
                note: "x".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again).0, "VARIATION_DECIDED");
    let listed = w
        .client
        .list_variations(authed(
            api::ListVariationsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner()
        .variations;
    assert_eq!(listed.len(), 1);
}

async fn stale_etags_are_refused_and_concurrent_edits_serialize(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let partner = w.partner(&org);
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let draft = w.draft(&call, &org).await;
    let edit = |title: &str, etag: &str| api::UpdateProposalRequest {
        proposal: Some(api::Proposal {
            id: draft.id.clone(),
            title: Some(text(title, title)),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into()],
        }),
    };
    // Two writers read the same version; the second one loses.
    w.client
        .update_proposal(authed(edit("الأول", &draft.etag), &partner))
        .await
        .unwrap();
    let stale = w
        .client
        .update_proposal(authed(edit("الثاني", &draft.etag), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let submit = w
        .client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: draft.id.clone(),
                etag: draft.etag.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(submit.code(), Code::Aborted);
    let current = w.get_proposal(&draft.id, &partner).await.unwrap();
    assert_eq!(current.title.unwrap().ar, "الأول");
    assert_eq!(current.state, api::ProposalState::Draft as i32);

    // Truly concurrent: of two edits sent at once with the same etag, exactly
    // one wins.
    let (mut a, mut b) = (w.client.clone(), w.client.clone());
    let (ra, rb) = tokio::join!(
        a.update_proposal(authed(edit("أ", &current.etag), &partner)),
        b.update_proposal(authed(edit("ب", &current.etag), &partner)),
    );
    let codes =
        [ra.map(|_| Code::Ok), rb.map(|_| Code::Ok)].map(|r| r.unwrap_or_else(|s| s.code()));
    let mut sorted = codes.to_vec();
    sorted.sort_by_key(|c| *c as i32);
    assert_eq!(sorted, [Code::Ok, Code::Aborted], "{codes:?}");

    // Programs, calls and awards carry etags too.
    let program = w
        .client
        .get_program(authed(
            api::GetProgramRequest {
                id: w.program_id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let rename = |name: &str| api::UpdateProgramRequest {
        program: Some(api::Program {
            name: Some(text(name, name)),
            ..program.clone()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into()],
        }),
    };
    w.client
        .update_program(authed(rename("منحة"), &w.staff))
        .await
        .unwrap();
    let stale = w
        .client
        .update_program(authed(rename("أخرى"), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let close = w
        .client
        .close_call(authed(
            api::CloseCallRequest {
                id: call.id.clone(),
                etag: "W/\"1\"".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(close.code(), Code::Aborted);
    let org2 = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let award = w.active_grant(&call, &org2).await;
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (1, 1))
        .await;
    w.review_report(&report.id, api::ReviewOutcome::Accept)
        .await;
    let stale = w
        .client
        .disburse_tranche(authed(
            api::DisburseTrancheRequest {
                award_id: award.id.clone(),
                tranche_number: 1,
                disbursed_on: None,
                reference: "TRF".into(),
                etag: award.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let fresh = w.get_award(&award.id).await;
    assert_eq!(minor(&fresh.disbursed), 0);
    // Two disbursements of the same tranche at once: one is paid.
    let (mut a, mut b) = (w.client.clone(), w.client.clone());
    let pay = |etag: &str| api::DisburseTrancheRequest {
        award_id: award.id.clone(),
        tranche_number: 1,
        disbursed_on: None,
        reference: "TRF".into(),
        etag: etag.into(),
    };
    let (ra, rb) = tokio::join!(
        a.disburse_tranche(authed(pay(""), &w.staff)),
        b.disburse_tranche(authed(pay(""), &w.staff)),
    );
    assert_eq!(
        [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "exactly one payment"
    );
    assert_eq!(minor(&w.get_award(&award.id).await.disbursed), 200_000);
}

async fn concurrent_creates_leave_one_proposal_per_organization_and_call(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let partner = w.partner(&org);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let mut client = w.client.clone();
            let request = authed(
                api::CreateProposalRequest {
                    proposal: Some(content(&call.id)),
                    request_id: String::new(),
                },
                &partner,
            );
            tokio::spawn(async move { code(client.create_proposal(request).await) })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(
        codes.iter().filter(|c| **c == Code::Ok).count(),
        1,
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| matches!(c, Code::Ok | Code::AlreadyExists)),
        "{codes:?}"
    );
    assert_eq!(w.count("proposals").await, 1);
}

async fn concurrent_variation_requests_leave_one_pending(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &org).await;
    let partner = w.partner(&org);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let mut client = w.client.clone();
            let request = authed(
                api::RequestVariationRequest {
                    variation: Some(api::Variation {
                        award_id: award.id.clone(),
                        justification: format!("طلب {i}"),
                        new_end_date: Some(day(100 + i)),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &partner,
            );
            tokio::spawn(async move { client.request_variation(request).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(match t.await.unwrap() {
            Ok(_) => "OK".to_string(),
            Err(s) => precondition(&s).0,
        });
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "OK").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o == "OK" || o == "VARIATION_PENDING"),
        "{outcomes:?}"
    );
    assert_eq!(w.count("variations").await, 1);
}

async fn partners_and_reviewers_see_only_their_own(backend: Backend) {
    let mut w = world(backend).await;
    let mine = w.organization("منظمتنا", IncubationStatus::Incubated).await;
    let theirs = w.organization("منظمتهم", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &theirs).await;
    let proposal = award.proposal_id.clone();
    let report = w
        .report(&award.id, api::ReportKind::Progress, 1, (1, 1))
        .await;
    let own_draft = w.draft(&call, &mine).await;
    let intruder = w.partner(&mine);
    let (stranger, stranger_token) = w.reviewer("مراجع غريب").await;
    let _ = stranger;

    // The owner sees its own.
    let owner = w.partner(&theirs);
    assert!(w.get_proposal(&proposal, &owner).await.is_ok());

    // Another partner: every object of the other organization is NOT_FOUND.
    let c = &mut w.client;
    let t = intruder.as_str();
    let codes: Vec<(&str, Code)> = vec![
        (
            "GetProposal",
            code(
                c.get_proposal(authed(
                    api::GetProposalRequest {
                        id: proposal.clone(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "UpdateProposal",
            code(
                c.update_proposal(authed(
                    api::UpdateProposalRequest {
                        proposal: Some(api::Proposal {
                            id: proposal.clone(),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["summary".into()],
                        }),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "SubmitProposal",
            code(
                c.submit_proposal(authed(
                    api::SubmitProposalRequest {
                        id: proposal.clone(),
                        etag: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "WithdrawProposal",
            code(
                c.withdraw_proposal(authed(
                    api::WithdrawProposalRequest {
                        id: proposal.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListProposalVersions",
            code(
                c.list_proposal_versions(authed(
                    api::ListProposalVersionsRequest {
                        proposal_id: proposal.clone(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "AddCoachingNote",
            code(
                c.add_coaching_note(authed(
                    api::AddCoachingNoteRequest {
                        proposal_id: proposal.clone(),
                        body: "x".into(),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListCoachingNotes",
            code(
                c.list_coaching_notes(authed(
                    api::ListCoachingNotesRequest {
                        proposal_id: proposal.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "CheckEligibility",
            code(
                c.check_eligibility(authed(
                    api::CheckEligibilityRequest {
                        call_id: call.id.clone(),
                        organization_id: theirs.clone(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "CreateProposal",
            code(
                c.create_proposal(authed(
                    api::CreateProposalRequest {
                        proposal: Some(api::Proposal {
                            organization_id: theirs.clone(),
                            ..content(&call.id)
                        }),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "GetAward",
            code(
                c.get_award(authed(
                    api::GetAwardRequest {
                        id: award.id.clone(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "SubmitReport",
            code(
                c.submit_report(authed(
                    api::SubmitReportRequest {
                        report: Some(report_body(&award.id, api::ReportKind::Progress, 2, (1, 1))),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListReports",
            code(
                c.list_reports(authed(
                    api::ListReportsRequest {
                        award_id: award.id.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "SubmitExpenditureReport",
            code(
                c.submit_expenditure_report(authed(
                    api::SubmitExpenditureReportRequest {
                        report: Some(api::ExpenditureReport {
                            award_id: award.id.clone(),
                            period_start: Some(day(0)),
                            period_end: Some(day(1)),
                            lines: vec![api::ExpenditureLine {
                                line_number: 1,
                                amount: Some(usd(1)),
                                note: String::new(),
                            }],
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListExpenditureReports",
            code(
                c.list_expenditure_reports(authed(
                    api::ListExpenditureReportsRequest {
                        award_id: award.id.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "RequestVariation",
            code(
                c.request_variation(authed(
                    api::RequestVariationRequest {
                        variation: Some(api::Variation {
                            award_id: award.id.clone(),
                            justification: "x".into(),
                            new_end_date: Some(day(200)),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    t,
                ))
                .await,
            ),
        ),
        (
            "ListVariations",
            code(
                c.list_variations(authed(
                    api::ListVariationsRequest {
                        award_id: award.id.clone(),
                        ..Default::default()
                    },
                    t,
                ))
                .await,
            ),
        ),
    ];
    for (rpc, got) in &codes {
        assert_eq!(*got, Code::NotFound, "{rpc} by another partner");
    }
    // Lists show only the caller's own organization.
    let listed = c
        .list_proposals(authed(api::ListProposalsRequest::default(), t))
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert_eq!(
        listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        [own_draft.id.as_str()]
    );
    let asked = c
        .list_proposals(authed(
            api::ListProposalsRequest {
                organization_id: theirs.clone(),
                ..Default::default()
            },
            t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(asked.proposals.is_empty());
    let awards = c
        .list_awards(authed(api::ListAwardsRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert!(awards.awards.is_empty());
    // Nothing of theirs changed.
    let untouched = w.get_proposal(&proposal, &owner).await.unwrap();
    assert_eq!(untouched.state, api::ProposalState::Active as i32);
    let reports = w
        .client
        .list_reports(authed(
            api::ListReportsRequest {
                award_id: award.id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert_eq!(
        reports.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [report.id]
    );

    // A reviewer not assigned: NOT_FOUND for the proposal, its scores and
    // conflicts declared against it; empty lists.
    let c = &mut w.client;
    let t = stranger_token.as_str();
    assert_eq!(
        code(
            c.get_proposal(authed(
                api::GetProposalRequest {
                    id: proposal.clone()
                },
                t
            ))
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            c.list_scores(authed(
                api::ListScoresRequest {
                    proposal_id: proposal.clone(),
                },
                t
            ))
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            c.submit_score(authed(
                api::SubmitScoreRequest {
                    proposal_id: proposal.clone(),
                    ..Default::default()
                },
                t
            ))
            .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            c.declare_conflict(authed(
                api::DeclareConflictRequest {
                    conflict: Some(api::Conflict {
                        proposal_id: proposal.clone(),
                        reason: "x".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                t
            ))
            .await
        ),
        Code::NotFound
    );
    let listed = c
        .list_proposals(authed(api::ListProposalsRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.proposals.is_empty());
    let assignments = c
        .list_assignments(authed(api::ListAssignmentsRequest::default(), t))
        .await
        .unwrap()
        .into_inner();
    assert!(assignments.assignments.is_empty());
    // Another reviewer's record is not visible either.
    let (other_reviewer, _) = w.reviewer("مراجع آخر").await;
    assert_eq!(
        code(
            w.client
                .get_reviewer(authed(
                    api::GetReviewerRequest {
                        id: other_reviewer.id.clone(),
                    },
                    &stranger_token
                ))
                .await
        ),
        Code::NotFound
    );
    // Partners and reviewers do not see draft calls.
    let draft_call = w
        .client
        .create_call(authed(
            api::CreateCallRequest {
                call: Some(call_body(&w.program_id, incubated_only(), 1_200_000, false)),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    for token in [&intruder, &stranger_token] {
        assert_eq!(
            code(
                w.client
                    .get_call(authed(
                        api::GetCallRequest {
                            id: draft_call.id.clone(),
                        },
                        token
                    ))
                    .await
            ),
            Code::NotFound
        );
        let calls = w
            .client
            .list_calls(authed(api::ListCallsRequest::default(), token))
            .await
            .unwrap()
            .into_inner()
            .calls;
        assert_eq!(calls.len(), 1, "only the open call");
    }
}

/// Every combination of roles against a blind call: P is assigned to the
/// reviewers, Q to nobody. Whoever holds the reviewer role (and is not
/// staff) sees only P, without the applicant; a trainer sees what staff
/// named it coach of, with the applicant (it works with them), and no award.
async fn trainers_see_only_what_they_coach_and_reviewers_stay_blind(backend: Backend) {
    let mut w = world(backend).await;
    let a = w.organization("منظمة أ", IncubationStatus::Incubated).await;
    let b = w.organization("منظمة ب", IncubationStatus::Incubated).await;
    let c = w.organization("منظمة ج", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, true).await;
    let p = w.under_review(&call, &a).await;
    let q = w.under_review(&call, &b).await;
    let open_call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&open_call, &b).await;
    let (r1, reviewer) = w.reviewer("مراجعة أولى").await;
    let (r2, _) = w.reviewer("مراجع ثان").await;
    w.assign(&p.id, &r1.id).await.unwrap();
    w.assign(&p.id, &r2.id).await.unwrap();
    let trainer = w.token_of("trainer-huda", &[Role::Trainer], None);
    let trainer_reviewer = w.token_of(&r1.subject, &[Role::Trainer, Role::Reviewer], None);
    let partner_reviewer = w.token_of(&r2.subject, &[Role::Partner, Role::Reviewer], Some(&c));

    // Reviewers, whatever else they hold: the assigned proposal without its
    // applicant; nothing else, and no coaching material.
    for (who, token) in [
        ("reviewer", &reviewer),
        ("trainer + reviewer", &trainer_reviewer),
        ("partner + reviewer", &partner_reviewer),
    ] {
        let got = w.get_proposal(&q.id, token).await.unwrap_err();
        assert_eq!(got.code(), Code::NotFound, "{who}: the unassigned proposal");
        let seen = w.get_proposal(&p.id, token).await.unwrap();
        assert!(seen.identity_hidden, "{who}: blind");
        assert_eq!(seen.organization_id, "", "{who}");
        assert_eq!(seen.organization_name, None, "{who}");
        let listed = w
            .client
            .list_proposals(authed(api::ListProposalsRequest::default(), token))
            .await
            .unwrap()
            .into_inner()
            .proposals;
        if who == "partner + reviewer" {
            // Its own organization's list: nothing.
            assert!(listed.is_empty(), "{who}");
        } else {
            assert_eq!(listed.len(), 1, "{who}");
            assert_eq!(listed[0].id, p.id);
            assert!(listed[0].identity_hidden && listed[0].organization_id.is_empty());
        }
        if who == "reviewer" {
            continue;
        }
        for proposal in [&p.id, &q.id] {
            let versions = w
                .client
                .list_proposal_versions(authed(
                    api::ListProposalVersionsRequest {
                        proposal_id: proposal.clone(),
                    },
                    token,
                ))
                .await;
            assert_eq!(code(versions), Code::NotFound, "{who}: versions");
            let notes = w
                .client
                .list_coaching_notes(authed(
                    api::ListCoachingNotesRequest {
                        proposal_id: proposal.clone(),
                        ..Default::default()
                    },
                    token,
                ))
                .await;
            assert_eq!(code(notes), Code::NotFound, "{who}: notes");
            let note = w
                .client
                .add_coaching_note(authed(
                    api::AddCoachingNoteRequest {
                        proposal_id: proposal.clone(),
                        body: "من أنتم؟".into(),
                        request_id: String::new(),
                    },
                    token,
                ))
                .await;
            assert_eq!(code(note), Code::NotFound, "{who}: a note to the applicant");
        }
    }

    // A trainer that coaches nothing sees no proposal, no award, no draft call.
    for id in [&p.id, &q.id] {
        let got = w.get_proposal(id, &trainer).await.unwrap_err();
        assert_eq!(got.code(), Code::NotFound);
    }
    let listed = w
        .client
        .list_proposals(authed(api::ListProposalsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.proposals.is_empty());
    let eligibility = |org: &str| api::CheckEligibilityRequest {
        call_id: call.id.clone(),
        organization_id: org.into(),
    };
    let asked = w
        .client
        .check_eligibility(authed(eligibility(&b), &trainer))
        .await;
    assert_eq!(code(asked), Code::NotFound);
    let award_read = w
        .client
        .get_award(authed(
            api::GetAwardRequest {
                id: award.id.clone(),
            },
            &trainer,
        ))
        .await;
    assert_eq!(code(award_read), Code::PermissionDenied);
    let awards = w
        .client
        .list_awards(authed(api::ListAwardsRequest::default(), &trainer))
        .await;
    assert_eq!(code(awards), Code::PermissionDenied);
    let draft_call = w
        .client
        .create_call(authed(
            api::CreateCallRequest {
                call: Some(call_body(&w.program_id, incubated_only(), 1_200_000, false)),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let draft_read = w
        .client
        .get_call(authed(
            api::GetCallRequest {
                id: draft_call.id.clone(),
            },
            &trainer,
        ))
        .await;
    assert_eq!(code(draft_read), Code::NotFound);
    let calls = w
        .client
        .list_calls(authed(api::ListCallsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner()
        .calls;
    assert!(calls.iter().all(|c| c.id != draft_call.id));

    // Named coach of Q: Q with its applicant, its versions and notes; not P.
    let coach = w
        .client
        .assign_coach(authed(
            api::AssignCoachRequest {
                proposal_id: q.id.clone(),
                subject: "trainer-huda".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let seen = w.get_proposal(&q.id, &trainer).await.unwrap();
    assert!(!seen.identity_hidden);
    assert_eq!(seen.organization_id, b);
    assert_eq!(
        w.get_proposal(&p.id, &trainer).await.unwrap_err().code(),
        Code::NotFound
    );
    let listed = w
        .client
        .list_proposals(authed(api::ListProposalsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert_eq!(
        listed.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        [q.id.as_str()]
    );
    let note = w
        .client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: q.id.clone(),
                body: "وضحوا خطة العمل".into(),
                request_id: String::new(),
            },
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(note.author_role, "trainer");
    let versions = w
        .client
        .list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: q.id.clone(),
            },
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(versions.len(), 1);
    let coaches = w
        .client
        .list_coaches(authed(
            api::ListCoachesRequest {
                proposal_id: q.id.clone(),
            },
            &w.partner(&b),
        ))
        .await
        .unwrap()
        .into_inner()
        .coaches;
    assert_eq!(coaches.len(), 1);
    assert_eq!(coaches[0].subject, "trainer-huda");
    let asked = w
        .client
        .check_eligibility(authed(eligibility(&b), &trainer))
        .await;
    assert_eq!(code(asked), Code::Ok);
    let asked = w
        .client
        .check_eligibility(authed(eligibility(&a), &trainer))
        .await;
    assert_eq!(code(asked), Code::NotFound);
    // A coach does not edit the applicant's proposal.
    let edit = w
        .client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: q.id.clone(),
                reason: "x".into(),
                etag: String::new(),
            },
            &trainer,
        ))
        .await;
    assert_eq!(code(edit), Code::PermissionDenied);
    let twice = w
        .client
        .assign_coach(authed(
            api::AssignCoachRequest {
                proposal_id: q.id.clone(),
                subject: "trainer-huda".into(),
            },
            &w.staff,
        ))
        .await;
    assert_eq!(code(twice), Code::AlreadyExists);

    // A reviewer's account is not named coach; and if it were (a row
    // written by hand), holding the reviewer role still decides its view.
    let refused = w
        .client
        .assign_coach(authed(
            api::AssignCoachRequest {
                proposal_id: q.id.clone(),
                subject: r1.subject.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused).0, "COACH_REVIEWS");
    let mut tx = w.db.write(TENANT).await.unwrap();
    sqlx::query(
        "INSERT INTO coaches (tenant_id, id, proposal_id, subject, assigned_by, created_at)
         VALUES ($1, $2, $3, $4, 'staff', 0)",
    )
    .bind(TENANT)
    .bind(new_id())
    .bind(&q.id)
    .bind(&r1.subject)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let got = w.get_proposal(&q.id, &trainer_reviewer).await.unwrap_err();
    assert_eq!(got.code(), Code::NotFound);

    // The coach removed: Q is out of sight again.
    w.client
        .remove_coach(authed(
            api::RemoveCoachRequest {
                id: coach.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let got = w.get_proposal(&q.id, &trainer).await.unwrap_err();
    assert_eq!(got.code(), Code::NotFound);
}

fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

async fn bad_input_is_refused_with_field_details_and_nothing_written(backend: Backend) {
    let mut w = world(backend).await;
    // A call with everything wrong at once.
    let bad = api::Call {
        program_id: "not-an-id".into(),
        title: Some(text(&"م".repeat(201), "")),
        themes: vec![api::Theme {
            code: "Water!".into(),
            name: Some(text("ماء", "")),
        }],
        budget_envelope: Some(usd(100)),
        project_ceiling: Some(Money {
            currency_code: "EUR".into(),
            minor_units: 50,
        }),
        opens_on: Some(day(10)),
        closes_on: Some(day(1)),
        eligibility: Some(api::EligibilityRules {
            incubation_statuses: vec![99],
            ..Default::default()
        }),
        rubric: Some(api::Rubric {
            max_score: 0,
            criteria: vec![api::Criterion {
                code: "need".into(),
                name: Some(text("الحاجة", "")),
                guidance: None,
                weight: 0,
            }],
        }),
        ..Default::default()
    };
    let status = w
        .client
        .create_call(authed(
            api::CreateCallRequest {
                call: Some(bad),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = field_violations(&status);
    for f in [
        "call.program_id",
        "call.title.ar",
        "call.themes[0].code",
        "call.project_ceiling.currency_code",
        "call.closes_on",
        "call.eligibility.incubation_statuses[0]",
        "call.rubric.max_score",
        "call.rubric.criteria[0].weight",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    assert_eq!(w.count("calls").await, 0);

    // A proposal with bad parts: every one named, nothing written.
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let mut p = content(&call.id);
    p.theme_code = "space".into();
    p.sector = 404;
    p.beneficiaries_targeted = Some(api::Beneficiaries {
        female: -1,
        male: 0,
        undisclosed: 0,
    });
    p.budget_lines[0].category = 0;
    p.milestones[1].due_date = Some(day(1));
    p.end_date = Some(day(2));
    let status = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(p),
                request_id: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap_err();
    let fields = field_violations(&status);
    for f in [
        "proposal.theme_code",
        "proposal.sector",
        "proposal.beneficiaries_targeted.female",
        "proposal.budget_lines[0].category",
        "proposal.milestones[1].due_date",
        "proposal.end_date",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    assert_eq!(w.count("proposals").await, 0);
    assert_eq!(w.count("proposal_lines").await, 0);

    // Malformed ids are refused, not looked up; unknown update paths named.
    let status = w
        .client
        .get_proposal(authed(
            api::GetProposalRequest {
                id: "1 OR 1=1".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["id"]);
    let draft = w.draft(&call, &org).await;
    let status = w
        .client
        .update_proposal(authed(
            api::UpdateProposalRequest {
                proposal: Some(api::Proposal {
                    id: draft.id.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["organization_id".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["update_mask.paths[0]"]);
    // Reports, expenditure and variations are checked field by field too.
    let status = w
        .client
        .submit_report(authed(
            api::SubmitReportRequest {
                report: Some(api::Report {
                    award_id: String::new(),
                    kind: api::ReportKind::Progress as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "report.award_id",
            "report.milestone_number",
            "report.narrative"
        ]
    );
    let second_call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&second_call, &org).await;
    let status = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(5)),
                    period_end: Some(day(1)),
                    lines: vec![
                        api::ExpenditureLine {
                            line_number: 1,
                            amount: Some(Money {
                                currency_code: "TRY".into(),
                                minor_units: 10,
                            }),
                            note: String::new(),
                        },
                        api::ExpenditureLine {
                            line_number: 9,
                            amount: Some(usd(10)),
                            note: String::new(),
                        },
                    ],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "report.period_end",
            "report.lines[0].amount.currency_code",
            "report.lines[1].line_number"
        ]
    );
    let status = w
        .client
        .submit_expenditure_report(authed(
            api::SubmitExpenditureReportRequest {
                report: Some(api::ExpenditureReport {
                    award_id: award.id.clone(),
                    period_start: Some(day(0)),
                    period_end: Some(day(1)),
                    lines: vec![api::ExpenditureLine {
                        line_number: 9,
                        amount: Some(usd(10)),
                        note: String::new(),
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["report.lines[0].line_number"]);
    assert_eq!(w.count("expenditure_reports").await, 0);
    let status = w
        .client
        .request_variation(authed(
            api::RequestVariationRequest {
                variation: Some(api::Variation {
                    award_id: award.id.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["variation.justification"]);
    assert_eq!(w.count("variations").await, 0);
    // A reviewer for a person grants never heard of.
    let status = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: new_id(),
                    subject: "someone".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&status).0, "PERSON_UNKNOWN");
    assert_eq!(w.count("reviewers").await, 0);
}

/// An expenditure report or a variation is validated in full — every bad
/// field at once, those judged against the award too — before the award is
/// locked or anything written.
async fn bad_reports_are_refused_whole_before_the_award_is_locked(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&call, &org).await;
    let partner = w.partner(&org);

    // A bad award id (or request id) does not hide the rest of what is wrong.
    let mut bad = expenditure("not-an-id", &[(1, -5)]);
    bad.report.as_mut().unwrap().period_end = Some(day(-3));
    bad.request_id = "not a request id!".into();
    let status = w
        .client
        .submit_expenditure_report(authed(bad, &partner))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "request_id",
            "report.award_id",
            "report.period_end",
            "report.lines[0].amount.minor_units"
        ]
    );
    let status = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(content("not-an-id")),
                request_id: "not a request id!".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        ["request_id", "proposal.call_id", "proposal.organization_id"]
    );
    let status = w
        .client
        .request_variation(authed(
            api::RequestVariationRequest {
                variation: Some(api::Variation {
                    award_id: "not-an-id".into(),
                    justification: String::new(),
                    budget_lines: vec![api::BudgetLine {
                        amount: Some(usd(10)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "variation.award_id",
            "variation.justification",
            "variation.budget_lines[0].category",
            "variation.budget_lines[0].description"
        ]
    );

    // Judged against the award (its currency, its two budget lines) while
    // another writer holds the award's row: answered at once, not after it.
    let mut against_award = expenditure(&award.id, &[(1, 100), (7, 100)]);
    against_award.report.as_mut().unwrap().lines[0].amount = Some(Money {
        currency_code: "EUR".into(),
        minor_units: 100,
    });
    let holder = if backend == Backend::Postgres {
        let mut holder = w.db.write(TENANT).await.unwrap();
        sqlx::query("UPDATE awards SET version = version WHERE tenant_id = $1 AND id = $2")
            .bind(TENANT)
            .bind(&award.id)
            .execute(holder.conn())
            .await
            .unwrap();
        Some(holder)
    } else {
        None
    };
    let status = tokio::time::timeout(
        Duration::from_secs(5),
        w.client
            .submit_expenditure_report(authed(against_award, &partner)),
    )
    .await
    .expect("refused without waiting for the award's lock")
    .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "report.lines[0].amount.currency_code",
            "report.lines[1].line_number"
        ]
    );
    if let Some(holder) = holder {
        holder.rollback().await.unwrap();
    }
    let after = w.get_award(&award.id).await;
    assert_eq!(after.etag, award.etag, "nothing was written");
    assert_eq!(w.count("expenditure_reports").await, 0);
    // A good report goes through, and changes the award's etag.
    w.client
        .submit_expenditure_report(authed(expenditure(&award.id, &[(2, 100)]), &partner))
        .await
        .unwrap();
    assert_ne!(w.get_award(&award.id).await.etag, award.etag);
}

async fn arabic_text_round_trips_byte_for_byte(backend: Backend) {
    let mut w = world(backend).await;
    // Tashkeel, a right-to-left mark, mixed scripts, an emoji, a newline.
    let tricky = "مَشْرُوع \u{200F}إعادة تأهيل – Phase ١ 💧\nالمرحلة الثانية";
    let org = w
        .organization("جَمْعِيَّة الفُرات", IncubationStatus::Incubated)
        .await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let mut p = content(&call.id);
    p.title = Some(text("عنوان \u{200F}مُشَكَّل", ""));
    p.summary = Some(text(tricky, ""));
    p.budget_lines[0].description = Some(text("مضخّات غاطسة", ""));
    let created = w
        .client
        .create_proposal(authed(
            api::CreateProposalRequest {
                proposal: Some(p),
                request_id: String::new(),
            },
            &w.partner(&org),
        ))
        .await
        .unwrap()
        .into_inner();
    let got = w.get_proposal(&created.id, &w.staff.clone()).await.unwrap();
    assert_eq!(
        got.summary.as_ref().unwrap().ar.as_bytes(),
        tricky.as_bytes()
    );
    assert_eq!(
        got.title.as_ref().unwrap().ar.as_bytes(),
        "عنوان \u{200F}مُشَكَّل".as_bytes()
    );
    assert_eq!(
        got.budget_lines[0].description.as_ref().unwrap().ar,
        "مضخّات غاطسة"
    );
    assert_eq!(
        got.organization_name.as_ref().unwrap().ar.as_bytes(),
        "جَمْعِيَّة الفُرات".as_bytes()
    );
    // The submitted version keeps it too, and a coaching note.
    w.client
        .submit_proposal(authed(
            api::SubmitProposalRequest {
                id: created.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let versions = w
        .client
        .list_proposal_versions(authed(
            api::ListProposalVersionsRequest {
                proposal_id: created.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(
        versions[0]
            .proposal
            .as_ref()
            .unwrap()
            .summary
            .as_ref()
            .unwrap()
            .ar
            .as_bytes(),
        tricky.as_bytes()
    );
    let note = w
        .client
        .add_coaching_note(authed(
            api::AddCoachingNoteRequest {
                proposal_id: created.id.clone(),
                body: tricky.into(),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(note.body.as_bytes(), tricky.as_bytes());
    let call_title = w
        .client
        .get_call(authed(
            api::GetCallRequest {
                id: call.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .title
        .unwrap();
    assert_eq!(call_title.ar, "منحة الأب باولو – الدورة الثالثة");
    let event: ev::ProposalSubmitted = w.last_event("ProposalSubmitted").await;
    assert_eq!(event.context.unwrap().governorate, "Raqqa");
}

async fn erasure_is_honoured_in_the_copies(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let p = w.under_review(&call, &org).await;
    let person = w.person("سلمى الأحمد").await;
    let create = api::CreateReviewerRequest {
        reviewer: Some(api::Reviewer {
            person_id: person.clone(),
            subject: "salma".into(),
            ..Default::default()
        }),
        request_id: "reviewer-salma".into(),
    };
    let reviewer = w
        .client
        .create_reviewer(authed(create.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let token = w.token_of("salma", &[Role::Reviewer], None);
    assert_eq!(reviewer.display_name, "سلمى الأحمد");
    w.assign(&p.id, &reviewer.id).await.unwrap();
    w.score(&p.id, &token, 4, 4).await.unwrap();

    w.deliver(
        "membership",
        ev::PersonErased {
            person_id: reviewer.person_id.clone(),
        },
    )
    .await;
    // A late update does not bring the name back.
    w.deliver(
        "membership",
        ev::PersonUpdated {
            person: Some(ev::PersonSnapshot {
                id: reviewer.person_id.clone(),
                full_name: "سلمى الأحمد".into(),
                gender: Gender::Female as i32,
                version: 7,
                ..Default::default()
            }),
        },
    )
    .await;
    let after = w
        .client
        .get_reviewer(authed(
            api::GetReviewerRequest {
                id: reviewer.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.display_name, "");
    assert_eq!(after.subject, "");
    assert!(!after.active);
    // The erased person's sign-in no longer reaches anything.
    let gone = w.get_proposal(&p.id, &token).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    // Nothing of the name is left in grants' database.
    let mut tx = w.db.read(TENANT).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM membership_people WHERE full_name <> ''")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(n, 0);
    // Nor in the stored reply of the idempotent create: a retry does not
    // bring the name back, and is refused rather than done again.
    let retry = w
        .client
        .create_reviewer(authed(create, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&retry).0, "REQUEST_ERASED");
    // The score given before stays a record of the review.
    assert_eq!(w.ranking(&call.id).await.proposals[0].review_count, 1);
    // An erased person cannot become a reviewer again.
    let again = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: reviewer.person_id.clone(),
                    subject: "new-subject".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again).0, "PERSON_UNKNOWN");
}

async fn copies_kept_before_migration_4_carry_over(backend: Backend) {
    let env = markaz_kit::testing::TestEnv::new(backend);
    let (url, schema) = markaz_kit::app::database_of(&env.config, &env.storage, "grants").unwrap();
    markaz_kit::migrate::run(&url, schema.as_deref(), &markaz_grants::MIGRATIONS[..3])
        .await
        .unwrap();
    // Copies as grants kept them itself: an organization whose snapshot
    // arrived (fields at version 2, status at 3), one known only from an
    // incubation change, a person and one erased, an affiliation in force
    // and one ended.
    let (org, pending, person, erased) = (new_id(), new_id(), new_id(), new_id());
    let (member, former) = (new_id(), new_id());
    {
        let db = env.db("grants").await.unwrap();
        let mut tx = db.write(TENANT).await.unwrap();
        for (id, identifier, kind, name, status, fields, status_version) in [
            (
                &org,
                "MKZ-RAQQA-0001",
                "ORGANIZATION_KIND_CSO",
                "جمعية شباب الفرات",
                "INCUBATION_STATUS_INCUBATED",
                2,
                3,
            ),
            (
                &pending,
                "",
                "ORGANIZATION_KIND_UNSPECIFIED",
                "",
                "INCUBATION_STATUS_APPLICANT",
                0,
                4,
            ),
        ] {
            sqlx::query(
                "INSERT INTO organization_copies (tenant_id, id, identifier, kind, name_ar,
                    name_en, governorate, branch_id, fields_version, incubation_status,
                    status_version)
                 VALUES ($1, $2, $3, $4, $5, 'Euphrates Youth', 'Raqqa', 'raqqa', $6, $7, $8)",
            )
            .bind(TENANT)
            .bind(id)
            .bind(identifier)
            .bind(kind)
            .bind(name)
            .bind(fields as i64)
            .bind(status)
            .bind(status_version as i64)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        for (id, name, version, gone) in [(&person, "سلمى الأحمد", 3, 0), (&erased, "", 0, 1)]
        {
            sqlx::query(
                "INSERT INTO person_copies (tenant_id, id, full_name, gender, erased, version)
                 VALUES ($1, $2, $3, 'GENDER_FEMALE', $4, $5)",
            )
            .bind(TENANT)
            .bind(id)
            .bind(name)
            .bind(gone as i64)
            .bind(version as i64)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        for (id, organization, ended) in [(&member, &org, 0), (&former, &pending, 1)] {
            sqlx::query(
                "INSERT INTO affiliation_copies (tenant_id, id, person_id, organization_id, ended)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(TENANT)
            .bind(id)
            .bind(&person)
            .bind(organization)
            .bind(ended as i64)
            .execute(tx.conn())
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        db.close().await;
    }
    // The service starts: the library's tables, then migration 4.
    let app = env.start(vec![Arc::new(Grants)]).await.unwrap();
    let mut w = World::on(TestApp { app, env }).await;

    // The copies read through the library as they were.
    let mut tx = w.db.read(TENANT).await.unwrap();
    let copy = markaz_membership_copies::organization(&mut tx, &org)
        .await
        .unwrap()
        .expect("the organization carried over");
    assert_eq!(copy.identifier, "MKZ-RAQQA-0001");
    assert_eq!(copy.kind, OrganizationKind::Cso);
    assert_eq!(copy.name.ar, "جمعية شباب الفرات");
    assert_eq!(copy.governorate, "Raqqa");
    assert_eq!(copy.incubation_status, IncubationStatus::Incubated);
    assert_eq!((copy.fields_version, copy.status_version), (2, 3));
    assert!(copy.is_complete());
    let partial = markaz_membership_copies::organization(&mut tx, &pending)
        .await
        .unwrap()
        .expect("the partial organization carried over");
    assert!(!partial.is_complete(), "its snapshot has not arrived");
    assert_eq!(partial.status_version, 4);
    assert_eq!(partial.incubation_status, IncubationStatus::Applicant);
    let p = markaz_membership_copies::person(&mut tx, &person)
        .await
        .unwrap()
        .expect("the person carried over");
    assert_eq!(
        (p.full_name.as_str(), p.gender, p.version, p.erased),
        ("سلمى الأحمد", Gender::Female, 3, false)
    );
    let gone = markaz_membership_copies::person(&mut tx, &erased)
        .await
        .unwrap()
        .expect("the tombstone carried over");
    assert!(gone.erased && gone.full_name.is_empty());
    assert!(
        markaz_membership_copies::is_affiliated(&mut tx, &person, &org)
            .await
            .unwrap()
    );
    assert!(
        !markaz_membership_copies::is_affiliated(&mut tx, &person, &pending)
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    // The old tables are gone (each asked in a transaction of its own: on
    // PostgreSQL a failed statement fails the rest of its transaction).
    for table in ["organization_copies", "person_copies", "affiliation_copies"] {
        let mut tx = w.db.read(TENANT).await.unwrap();
        let read = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT 1 FROM {table}")))
            .fetch_optional(tx.conn())
            .await;
        let error = read.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.contains(table),
            "{table} is dropped, so reading it fails naming it: {error:?}"
        );
        tx.rollback().await.ok();
    }

    // And grants works on them: the organization is eligible and applies
    // under its name; an older snapshot changes nothing; the person becomes a
    // reviewer by name and is kept away by the affiliation carried over; the
    // erased person cannot become one.
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let e = w.eligibility(&call.id, &org).await;
    assert!(e.eligible, "{:?}", e.unmet);
    w.deliver(
        "membership",
        ev::PersonUpdated {
            person: Some(ev::PersonSnapshot {
                id: person.clone(),
                full_name: "قديم".into(),
                gender: Gender::Female as i32,
                version: 2,
                ..Default::default()
            }),
        },
    )
    .await;
    let p = w.under_review(&call, &org).await;
    let reviewer = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: person.clone(),
                    subject: "salma".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reviewer.display_name, "سلمى الأحمد");
    let refused = w.assign(&p.id, &reviewer.id).await.unwrap_err();
    let (kind, why) = precondition(&refused);
    assert_eq!(kind, "CONFLICT_OF_INTEREST");
    assert!(why.contains("affiliated"), "{why}");
    let again = w
        .client
        .create_reviewer(authed(
            api::CreateReviewerRequest {
                reviewer: Some(api::Reviewer {
                    person_id: erased.clone(),
                    subject: "erased".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again).0, "PERSON_UNKNOWN");
}

async fn retried_creates_return_the_first_result(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let request = api::CreateProposalRequest {
        proposal: Some(content(&call.id)),
        request_id: "8f14e45f-ceea-467f-a0e6-0fd0f6c6b5e1".into(),
    };
    let partner = w.partner(&org);
    let first = w
        .client
        .create_proposal(authed(request.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .create_proposal(authed(request.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(w.count("proposals").await, 1);
    let mut different = request;
    different.proposal.as_mut().unwrap().theme_code = "parks".into();
    let status = w
        .client
        .create_proposal(authed(different, &partner))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["request_id"]);
    // An award retried after a lost answer is not awarded twice.
    let org2 = w
        .organization("منظمة ثانية", IncubationStatus::Incubated)
        .await;
    let approved = w.approved(&call, &org2).await;
    let mut award = award_request(&approved.id, 450_000, &[(1, 450_000)]);
    award.request_id = "award-1".into();
    let a1 = w
        .client
        .award_grant(authed(award.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let a2 = w
        .client
        .award_grant(authed(award, &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a1.id, a2.id);
    assert_eq!(w.count("awards").await, 1);
}

/// Rights come before replays: the same account (same subject, so the same
/// idempotency key) retrying after it lost its rights gets NOT_FOUND, not a
/// copy of the first answer.
async fn a_retry_is_answered_only_to_a_caller_who_still_has_the_rights(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let other = w
        .organization("منظمة أخرى", IncubationStatus::Incubated)
        .await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let partner = w.partner(&org);
    // The same account, now a member of another organization.
    let moved = w.token_of(&format!("member-of-{org}"), &[Role::Partner], Some(&other));

    // CreateProposal naming the organization: NOT_FOUND; not naming it (the
    // token's organization is meant): not the same request any more.
    let named = api::CreateProposalRequest {
        proposal: Some(api::Proposal {
            organization_id: org.clone(),
            ..content(&call.id)
        }),
        request_id: "create-1".into(),
    };
    let created = w
        .client
        .create_proposal(authed(named.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .create_proposal(authed(named.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, created, "the owner's retry is answered");
    let retried = w.client.create_proposal(authed(named, &moved)).await;
    assert_eq!(code(retried), Code::NotFound);
    w.client
        .withdraw_proposal(authed(
            api::WithdrawProposalRequest {
                id: created.id.clone(),
                reason: String::new(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap();
    let unnamed = api::CreateProposalRequest {
        proposal: Some(content(&call.id)),
        request_id: "create-2".into(),
    };
    let draft = w
        .client
        .create_proposal(authed(unnamed.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    let retried = w
        .client
        .create_proposal(authed(unnamed, &moved))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&retried), ["request_id"]);

    // AddCoachingNote on the organization's proposal.
    let note = api::AddCoachingNoteRequest {
        proposal_id: draft.id.clone(),
        body: "سؤال عن الميزانية".into(),
        request_id: "note-1".into(),
    };
    w.client
        .add_coaching_note(authed(note.clone(), &partner))
        .await
        .unwrap();
    let retried = w.client.add_coaching_note(authed(note, &moved)).await;
    assert_eq!(code(retried), Code::NotFound);

    // SubmitReport, SubmitExpenditureReport and RequestVariation on its grant.
    let next_round = w.call(incubated_only(), 1_200_000, false).await;
    let award = w.active_grant(&next_round, &org).await;
    let report = api::SubmitReportRequest {
        report: Some(report_body(&award.id, api::ReportKind::Progress, 1, (3, 2))),
        request_id: "report-1".into(),
    };
    w.client
        .submit_report(authed(report.clone(), &partner))
        .await
        .unwrap();
    let retried = w.client.submit_report(authed(report, &moved)).await;
    assert_eq!(code(retried), Code::NotFound);
    let mut spending = expenditure(&award.id, &[(1, 5_000)]);
    spending.request_id = "spent-1".into();
    w.client
        .submit_expenditure_report(authed(spending.clone(), &partner))
        .await
        .unwrap();
    let retried = w
        .client
        .submit_expenditure_report(authed(spending, &moved))
        .await;
    assert_eq!(code(retried), Code::NotFound);
    let variation = api::RequestVariationRequest {
        variation: Some(api::Variation {
            award_id: award.id.clone(),
            justification: "الأمطار أخرت العمل".into(),
            new_end_date: Some(day(200)),
            ..Default::default()
        }),
        request_id: "vary-1".into(),
    };
    w.client
        .request_variation(authed(variation.clone(), &partner))
        .await
        .unwrap();
    let retried = w.client.request_variation(authed(variation, &moved)).await;
    assert_eq!(code(retried), Code::NotFound);

    // DeclareConflict: a reviewer's retry after recusing itself from the
    // proposal is answered; after its person was erased (no reviewer any
    // more), it is not.
    let p = w.under_review(&call, &other).await;
    let (reviewer, token) = w.reviewer("مراجعة").await;
    w.assign(&p.id, &reviewer.id).await.unwrap();
    let on_proposal = api::DeclareConflictRequest {
        conflict: Some(api::Conflict {
            proposal_id: p.id.clone(),
            reason: "قريبة لمديرة المنظمة".into(),
            ..Default::default()
        }),
        request_id: "conflict-1".into(),
    };
    let declared = w
        .client
        .declare_conflict(authed(on_proposal.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .declare_conflict(authed(on_proposal, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, declared);
    let on_organization = api::DeclareConflictRequest {
        conflict: Some(api::Conflict {
            organization_id: org.clone(),
            reason: "عضو في مجلس الإدارة سابقا".into(),
            ..Default::default()
        }),
        request_id: "conflict-2".into(),
    };
    w.client
        .declare_conflict(authed(on_organization.clone(), &token))
        .await
        .unwrap();
    w.deliver(
        "membership",
        ev::PersonErased {
            person_id: reviewer.person_id.clone(),
        },
    )
    .await;
    let retried = w
        .client
        .declare_conflict(authed(on_organization, &token))
        .await;
    assert_eq!(code(retried), Code::NotFound);
}

async fn tenants_never_see_each_other(backend: Backend) {
    let mut w = world(backend).await;
    let org = w.organization("منظمة", IncubationStatus::Incubated).await;
    let call = w.call(incubated_only(), 1_200_000, false).await;
    let p = w.submitted(&call, &org).await;
    let intruder = w.app.token(OTHER_TENANT, &[Role::Admin], None);
    let got = w.get_proposal(&p.id, &intruder).await.unwrap_err();
    assert_eq!(got.code(), Code::NotFound);
    let calls = w
        .client
        .list_calls(authed(api::ListCallsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(calls.calls.is_empty());
    let programs = w
        .client
        .list_programs(authed(api::ListProgramsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(programs.programs.is_empty());
    // Nor can the other tenant act on this tenant's objects.
    let award = w
        .client
        .award_grant(authed(
            award_request(&p.id, 450_000, &[(1, 450_000)]),
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(award.code(), Code::NotFound);
    let eligibility = w
        .client
        .check_eligibility(authed(
            api::CheckEligibilityRequest {
                call_id: call.id.clone(),
                organization_id: org.clone(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(eligibility.code(), Code::NotFound);
    if backend == Backend::Postgres {
        // Row-level security: no tenant set, no rows.
        let mut tx = w.db.system().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM proposals")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(n, 0);
    }
}

// ================================================================ auth

/// One call of every RPC with a body that passes validation, so the only
/// reasons to refuse it are the credential, the role, or (with the right
/// role) that the random object does not exist.
async fn call(client: &mut Client, rpc: &str, token: &str) -> Code {
    let id = "0190d3b4-5c1a-7000-8000-000000000001".to_string();
    let c = client;
    let t = token;
    match rpc {
        "CreateProgram" => code(
            c.create_program(authed(
                api::CreateProgramRequest {
                    program: Some(api::Program {
                        name: Some(text("برنامج", "")),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "GetProgram" => code(
            c.get_program(authed(api::GetProgramRequest { id }, t))
                .await,
        ),
        "ListPrograms" => code(
            c.list_programs(authed(api::ListProgramsRequest::default(), t))
                .await,
        ),
        "UpdateProgram" => code(
            c.update_program(authed(
                api::UpdateProgramRequest {
                    program: Some(api::Program {
                        id,
                        name: Some(text("برنامج", "")),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
                t,
            ))
            .await,
        ),
        "CreateCall" => code(
            c.create_call(authed(
                api::CreateCallRequest {
                    call: Some(call_body(&id, Default::default(), 1_200_000, false)),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "GetCall" => code(c.get_call(authed(api::GetCallRequest { id }, t)).await),
        "ListCalls" => code(
            c.list_calls(authed(api::ListCallsRequest::default(), t))
                .await,
        ),
        "UpdateCall" => code(
            c.update_call(authed(
                api::UpdateCallRequest {
                    call: Some(api::Call {
                        id: id.clone(),
                        ..call_body(&id, Default::default(), 1_200_000, false)
                    }),
                    update_mask: None,
                },
                t,
            ))
            .await,
        ),
        "OpenCall" => code(
            c.open_call(authed(
                api::OpenCallRequest {
                    id,
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "CloseCall" => code(
            c.close_call(authed(
                api::CloseCallRequest {
                    id,
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "CheckEligibility" => code(
            c.check_eligibility(authed(
                api::CheckEligibilityRequest {
                    call_id: id.clone(),
                    organization_id: id,
                },
                t,
            ))
            .await,
        ),
        "GetCallRanking" => code(
            c.get_call_ranking(authed(api::GetCallRankingRequest { call_id: id }, t))
                .await,
        ),
        "CreateProposal" => code(
            c.create_proposal(authed(
                api::CreateProposalRequest {
                    proposal: Some(api::Proposal {
                        organization_id: id.clone(),
                        ..content(&id)
                    }),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "GetProposal" => code(
            c.get_proposal(authed(api::GetProposalRequest { id }, t))
                .await,
        ),
        "ListProposals" => code(
            c.list_proposals(authed(api::ListProposalsRequest::default(), t))
                .await,
        ),
        "UpdateProposal" => code(
            c.update_proposal(authed(
                api::UpdateProposalRequest {
                    proposal: Some(api::Proposal {
                        id: id.clone(),
                        ..content(&id)
                    }),
                    update_mask: None,
                },
                t,
            ))
            .await,
        ),
        "SubmitProposal" => code(
            c.submit_proposal(authed(
                api::SubmitProposalRequest {
                    id,
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "RequestChanges" => code(
            c.request_changes(authed(
                api::RequestChangesRequest {
                    id,
                    note: "x".into(),
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "StartReview" => code(
            c.start_review(authed(
                api::StartReviewRequest {
                    id,
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "DecideProposal" => code(
            c.decide_proposal(authed(
                api::DecideProposalRequest {
                    id,
                    decision: api::Decision::Approve as i32,
                    reason: String::new(),
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "WithdrawProposal" => code(
            c.withdraw_proposal(authed(
                api::WithdrawProposalRequest {
                    id,
                    ..Default::default()
                },
                t,
            ))
            .await,
        ),
        "ListProposalVersions" => code(
            c.list_proposal_versions(authed(
                api::ListProposalVersionsRequest { proposal_id: id },
                t,
            ))
            .await,
        ),
        "AddCoachingNote" => code(
            c.add_coaching_note(authed(
                api::AddCoachingNoteRequest {
                    proposal_id: id,
                    body: "x".into(),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "ListCoachingNotes" => code(
            c.list_coaching_notes(authed(
                api::ListCoachingNotesRequest {
                    proposal_id: id,
                    ..Default::default()
                },
                t,
            ))
            .await,
        ),
        "AssignCoach" => code(
            c.assign_coach(authed(
                api::AssignCoachRequest {
                    proposal_id: id,
                    subject: "trainer-1".into(),
                },
                t,
            ))
            .await,
        ),
        "ListCoaches" => code(
            c.list_coaches(authed(api::ListCoachesRequest { proposal_id: id }, t))
                .await,
        ),
        "RemoveCoach" => code(
            c.remove_coach(authed(api::RemoveCoachRequest { id }, t))
                .await,
        ),
        "CreateReviewer" => code(
            c.create_reviewer(authed(
                api::CreateReviewerRequest {
                    reviewer: Some(api::Reviewer {
                        person_id: id,
                        subject: "s".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "GetReviewer" => code(
            c.get_reviewer(authed(api::GetReviewerRequest { id }, t))
                .await,
        ),
        "ListReviewers" => code(
            c.list_reviewers(authed(api::ListReviewersRequest::default(), t))
                .await,
        ),
        "DeclareConflict" => code(
            c.declare_conflict(authed(
                api::DeclareConflictRequest {
                    conflict: Some(api::Conflict {
                        reviewer_id: id.clone(),
                        proposal_id: id,
                        reason: "x".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "ListConflicts" => code(
            c.list_conflicts(authed(api::ListConflictsRequest::default(), t))
                .await,
        ),
        "AssignReviewer" => code(
            c.assign_reviewer(authed(
                api::AssignReviewerRequest {
                    proposal_id: id.clone(),
                    reviewer_id: id,
                },
                t,
            ))
            .await,
        ),
        "ListAssignments" => code(
            c.list_assignments(authed(api::ListAssignmentsRequest::default(), t))
                .await,
        ),
        "SubmitScore" => code(
            c.submit_score(authed(
                api::SubmitScoreRequest {
                    proposal_id: id,
                    ..Default::default()
                },
                t,
            ))
            .await,
        ),
        "ListScores" => code(
            c.list_scores(authed(api::ListScoresRequest { proposal_id: id }, t))
                .await,
        ),
        "AwardGrant" => code(
            c.award_grant(authed(award_request(&id, 100, &[(1, 100)]), t))
                .await,
        ),
        "GetAward" => code(c.get_award(authed(api::GetAwardRequest { id }, t)).await),
        "ListAwards" => code(
            c.list_awards(authed(api::ListAwardsRequest::default(), t))
                .await,
        ),
        "ActivateGrant" => code(
            c.activate_grant(authed(
                api::ActivateGrantRequest {
                    award_id: id,
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "DisburseTranche" => code(
            c.disburse_tranche(authed(
                api::DisburseTrancheRequest {
                    award_id: id,
                    tranche_number: 1,
                    disbursed_on: None,
                    reference: "r".into(),
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "CompleteGrant" => code(
            c.complete_grant(authed(
                api::CompleteGrantRequest {
                    award_id: id,
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "CloseGrantEarly" => code(
            c.close_grant_early(authed(
                api::CloseGrantEarlyRequest {
                    award_id: id,
                    reason: "x".into(),
                    etag: String::new(),
                },
                t,
            ))
            .await,
        ),
        "SubmitReport" => code(
            c.submit_report(authed(
                api::SubmitReportRequest {
                    report: Some(report_body(&id, api::ReportKind::Progress, 1, (1, 1))),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "ReviewReport" => code(
            c.review_report(authed(
                api::ReviewReportRequest {
                    id,
                    outcome: api::ReviewOutcome::Accept as i32,
                    comment: String::new(),
                },
                t,
            ))
            .await,
        ),
        "ListReports" => code(
            c.list_reports(authed(
                api::ListReportsRequest {
                    award_id: id,
                    ..Default::default()
                },
                t,
            ))
            .await,
        ),
        "SubmitExpenditureReport" => code(
            c.submit_expenditure_report(authed(
                api::SubmitExpenditureReportRequest {
                    report: Some(api::ExpenditureReport {
                        award_id: id,
                        period_start: Some(day(0)),
                        period_end: Some(day(1)),
                        lines: vec![api::ExpenditureLine {
                            line_number: 1,
                            amount: Some(usd(1)),
                            note: String::new(),
                        }],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "ReviewExpenditureReport" => code(
            c.review_expenditure_report(authed(
                api::ReviewExpenditureReportRequest {
                    id,
                    outcome: api::ReviewOutcome::Accept as i32,
                    comment: String::new(),
                },
                t,
            ))
            .await,
        ),
        "ListExpenditureReports" => code(
            c.list_expenditure_reports(authed(
                api::ListExpenditureReportsRequest {
                    award_id: id,
                    ..Default::default()
                },
                t,
            ))
            .await,
        ),
        "RequestVariation" => code(
            c.request_variation(authed(
                api::RequestVariationRequest {
                    variation: Some(api::Variation {
                        award_id: id,
                        justification: "x".into(),
                        new_end_date: Some(day(100)),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                t,
            ))
            .await,
        ),
        "DecideVariation" => code(
            c.decide_variation(authed(
                api::DecideVariationRequest {
                    id,
                    decision: api::Decision::Approve as i32,
                    note: String::new(),
                },
                t,
            ))
            .await,
        ),
        "ListVariations" => code(
            c.list_variations(authed(
                api::ListVariationsRequest {
                    award_id: id,
                    ..Default::default()
                },
                t,
            ))
            .await,
        ),
        other => panic!("no call for {other}"),
    }
}

/// Every RPC of the service, in the proto's order, with a role that must be
/// refused for it.
const RPCS: &[(&str, Role)] = &[
    ("CreateProgram", Role::Partner),
    ("GetProgram", Role::Donor),
    ("ListPrograms", Role::Operator),
    ("UpdateProgram", Role::Trainer),
    ("CreateCall", Role::Reviewer),
    ("GetCall", Role::Donor),
    ("ListCalls", Role::Operator),
    ("UpdateCall", Role::Partner),
    ("OpenCall", Role::Trainer),
    ("CloseCall", Role::Partner),
    ("CheckEligibility", Role::Reviewer),
    ("GetCallRanking", Role::Reviewer),
    ("CreateProposal", Role::Reviewer),
    ("GetProposal", Role::Donor),
    ("ListProposals", Role::Donor),
    ("UpdateProposal", Role::Trainer),
    ("SubmitProposal", Role::Reviewer),
    ("RequestChanges", Role::Partner),
    ("StartReview", Role::Trainer),
    ("DecideProposal", Role::Reviewer),
    ("WithdrawProposal", Role::Trainer),
    ("ListProposalVersions", Role::Reviewer),
    ("AddCoachingNote", Role::Reviewer),
    ("ListCoachingNotes", Role::Donor),
    ("AssignCoach", Role::Trainer),
    ("ListCoaches", Role::Reviewer),
    ("RemoveCoach", Role::Partner),
    ("CreateReviewer", Role::Reviewer),
    ("GetReviewer", Role::Partner),
    ("ListReviewers", Role::Reviewer),
    ("DeclareConflict", Role::Partner),
    ("ListConflicts", Role::Trainer),
    ("AssignReviewer", Role::Reviewer),
    ("ListAssignments", Role::Partner),
    ("SubmitScore", Role::Staff),
    ("ListScores", Role::Partner),
    ("AwardGrant", Role::Partner),
    ("GetAward", Role::Trainer),
    ("ListAwards", Role::Trainer),
    ("ActivateGrant", Role::Partner),
    ("DisburseTranche", Role::Partner),
    ("CompleteGrant", Role::Trainer),
    ("CloseGrantEarly", Role::Partner),
    ("SubmitReport", Role::Trainer),
    ("ReviewReport", Role::Partner),
    ("ListReports", Role::Trainer),
    ("SubmitExpenditureReport", Role::Reviewer),
    ("ReviewExpenditureReport", Role::Partner),
    ("ListExpenditureReports", Role::Donor),
    ("RequestVariation", Role::Trainer),
    ("DecideVariation", Role::Partner),
    ("ListVariations", Role::Reviewer),
];

#[test]
fn the_table_names_every_rpc_of_the_service() {
    let table: Vec<String> = RPCS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(service_methods("markaz.grants.v1"), table);
}

async fn every_rpc_refuses_missing_and_bad_tokens(backend: Backend) {
    let mut w = world(backend).await;
    let bad = w.app.env.bad_tokens(TENANT);
    let writes_before = w.count("proposals").await + w.count("calls").await;
    for (rpc, _) in RPCS {
        for (what, token) in &bad {
            let code = call(&mut w.client, rpc, token).await;
            assert_eq!(code, Code::Unauthenticated, "{rpc} with {what}");
        }
    }
    assert_eq!(
        w.count("proposals").await + w.count("calls").await,
        writes_before
    );
}

async fn every_rpc_refuses_the_wrong_role(backend: Backend) {
    let mut w = world(backend).await;
    let programs = w.count("programs").await;
    for (rpc, role) in RPCS {
        let tenant = if *role == Role::Operator { "" } else { TENANT };
        let token = w.app.token(
            tenant,
            &[*role],
            Some("0190d3b4-5c1a-7000-8000-000000000002"),
        );
        let code = call(&mut w.client, rpc, &token).await;
        assert_eq!(code, Code::PermissionDenied, "{rpc} as {role}");
    }
    assert_eq!(
        w.count("programs").await,
        programs,
        "a refused call wrote nothing"
    );
    // With an allowed role the same calls get past the role check: the
    // random objects are simply not found (or the lists empty).
    let staff = w.staff.clone();
    for (rpc, _) in RPCS {
        let token = if *rpc == "SubmitScore" {
            w.token_of("unregistered-reviewer", &[Role::Reviewer], None)
        } else {
            staff.clone()
        };
        let code = call(&mut w.client, rpc, &token).await;
        assert!(
            matches!(code, Code::NotFound | Code::Ok | Code::FailedPrecondition),
            "{rpc} with an allowed role: {code:?}"
        );
    }
}
