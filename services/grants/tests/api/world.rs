//! What every module of grants' API tests shares: the running service and
//! its client (`World`), membership's and capacity's events applied through
//! grants' real consumer and inbox, and the fixtures of calls, proposals,
//! awards and reports. Every module imports it whole (`use crate::world::*`),
//! with the crates it re-exports.

pub use std::sync::Arc;
pub use std::time::Duration;

pub use markaz_grants::Grants;
pub use markaz_kit::auth::{Role, Signer};
pub use markaz_kit::both_backends;
pub use markaz_kit::db::Db;
pub use markaz_kit::events::Consumer;
pub use markaz_kit::testing::{
    Backend, TestApp, authed, code, field_violations, precondition, precondition_message, spawn,
};
pub use markaz_proto::common::v1::{
    Date, Gender, IncubationStatus, LocalizedText, Money, OrganizationKind, Sector,
};
pub use markaz_proto::events::v1 as ev;
pub use markaz_proto::grants::v1 as api;
pub use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
pub use prost::Message;
pub use tonic::Code;
pub use tonic::transport::Channel;

pub const TENANT: &str = "raqqa-csc";

pub const OTHER_TENANT: &str = "deir-csc";

pub const PROPOSAL_WRITING: &str = "proposal-writing";

pub type Client = GrantsServiceClient<Channel>;

pub struct World {
    pub app: TestApp,
    pub client: Client,
    pub db: Db,
    pub consumer: Consumer,
    pub staff: String,
    pub program_id: String,
}

pub async fn world(backend: Backend) -> World {
    World::on(spawn(backend, vec![Arc::new(Grants)]).await).await
}

impl World {
    /// The world of a running app, with a program.
    pub async fn on(app: TestApp) -> World {
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

pub fn text(ar: &str, en: &str) -> LocalizedText {
    LocalizedText {
        ar: ar.into(),
        en: en.into(),
    }
}

pub fn usd(minor_units: i64) -> Money {
    Money {
        currency_code: "USD".into(),
        minor_units,
    }
}

/// Today plus `offset` days.
pub fn day(offset: i64) -> Date {
    markaz_kit::time::Date::today().add_days(offset).to_proto()
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl World {
    /// A token of `subject` with `roles` (and the partner organization).
    pub fn token_of(&self, subject: &str, roles: &[Role], org: Option<&str>) -> String {
        let env = &self.app.env;
        env.register(TENANT);
        env.signer.sign(&Signer::claims(
            &env.config.auth,
            subject,
            TENANT,
            roles,
            org,
            Duration::from_secs(3600),
        ))
    }

    pub fn partner(&self, org: &str) -> String {
        self.token_of(&format!("member-of-{org}"), &[Role::Partner], Some(org))
    }

    /// Applies another service's event through grants' real handler and inbox.
    pub async fn deliver<E: prost::Name + Message>(&self, producer: &str, event: E) {
        let envelope = markaz_kit::events::envelope(producer, TENANT, &event);
        let applied = markaz_kit::events::apply(&self.db, &self.consumer, &envelope)
            .await
            .expect("the event applies");
        assert_eq!(applied, markaz_kit::events::Applied::Applied);
    }

    /// An organization as membership announces it.
    pub async fn organization(&self, name: &str, status: IncubationStatus) -> String {
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

    pub async fn incubation(
        &self,
        org: &str,
        from: IncubationStatus,
        to: IncubationStatus,
        v: i64,
    ) {
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

    pub async fn completed_course(&self, org: &str, topic: &str) {
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

    pub async fn person(&self, name: &str) -> String {
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

    pub async fn affiliate(&self, person: &str, org: &str) -> String {
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
    pub async fn reviewer(&mut self, name: &str) -> (api::Reviewer, String) {
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
    pub async fn call(
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

    pub async fn draft(&mut self, call: &api::Call, org: &str) -> api::Proposal {
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

    pub async fn submitted(&mut self, call: &api::Call, org: &str) -> api::Proposal {
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

    pub async fn under_review(&mut self, call: &api::Call, org: &str) -> api::Proposal {
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

    pub async fn approved(&mut self, call: &api::Call, org: &str) -> api::Proposal {
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
    pub async fn active_grant(&mut self, call: &api::Call, org: &str) -> api::Award {
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

    pub async fn award(
        &mut self,
        proposal: &str,
        amount: i64,
        tranches: &[(i32, i64)],
    ) -> api::Award {
        self.client
            .award_grant(authed(
                award_request(proposal, amount, tranches),
                &self.staff,
            ))
            .await
            .expect("awarded")
            .into_inner()
    }

    pub async fn get_proposal(
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
    pub async fn eligibility(&mut self, call: &str, org: &str) -> api::Eligibility {
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

    pub async fn get_call(&mut self, id: &str) -> api::Call {
        self.client
            .get_call(authed(api::GetCallRequest { id: id.into() }, &self.staff))
            .await
            .expect("call")
            .into_inner()
    }

    pub async fn get_award(&mut self, id: &str) -> api::Award {
        self.client
            .get_award(authed(api::GetAwardRequest { id: id.into() }, &self.staff))
            .await
            .expect("award")
            .into_inner()
    }

    pub async fn report(
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

    pub async fn review_report(&mut self, id: &str, outcome: api::ReviewOutcome) -> api::Report {
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

    pub async fn disburse(
        &mut self,
        award: &str,
        tranche: i32,
    ) -> Result<api::Award, tonic::Status> {
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

    pub async fn score(
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

    pub async fn assign(
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

    pub async fn ranking(&mut self, call: &str) -> api::CallRanking {
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
    pub async fn events(&self) -> Vec<String> {
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
    pub async fn last_event<E: Message + Default>(&self, name: &str) -> E {
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
    pub async fn count(&self, table: &str) -> i64 {
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

pub fn incubated_only() -> api::EligibilityRules {
    api::EligibilityRules {
        incubation_statuses: vec![IncubationStatus::Incubated as i32],
        ..Default::default()
    }
}

pub fn call_body(
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

pub fn line(category: api::BudgetCategory, what: &str, amount: i64) -> api::BudgetLine {
    api::BudgetLine {
        category: category as i32,
        description: Some(text(what, what)),
        amount: Some(usd(amount)),
        ..Default::default()
    }
}

pub fn milestone(title: &str, due: Date) -> api::Milestone {
    api::Milestone {
        title: Some(text(title, title)),
        due_date: Some(due),
        deliverables: Some(text("محضر تسليم", "handover minutes")),
        ..Default::default()
    }
}

/// A complete proposal: 3,000.00 + 1,500.00 = 4,500.00 USD, two milestones.
pub fn content(call_id: &str) -> api::Proposal {
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

pub fn award_request(
    proposal: &str,
    amount: i64,
    tranches: &[(i32, i64)],
) -> api::AwardGrantRequest {
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

pub fn report_body(
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
pub fn expenditure(award: &str, lines: &[(i32, i64)]) -> api::SubmitExpenditureReportRequest {
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

pub fn minor(m: &Option<Money>) -> i64 {
    let m = m.as_ref().expect("money");
    assert_eq!(m.currency_code, "USD");
    m.minor_units
}
