//! What the scenario stands on: the clients of the three services, the
//! grants flow up to an award, and reading an event back off the bus.

pub use markaz_grants::Grants;
pub use markaz_kit::auth::Role;
pub use markaz_kit::testing::{Backend, TestEnv, authed, eventually, precondition};
pub use markaz_membership::Membership;
pub use markaz_networking::Networking;
pub use markaz_proto::common::v1::{
    AgeBand, Gender, LocalizedText, Money, OrganizationKind, Sector,
};
pub use markaz_proto::events::v1 as ev;
pub use markaz_proto::grants::v1 as grants;
pub use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
pub use markaz_proto::membership::v1 as mem;
pub use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
pub use markaz_proto::networking::v1 as net;
pub use markaz_proto::networking::v1::networking_service_client::NetworkingServiceClient;
pub use markaz_proto::networking::v1::{EventKind, EventStatus, ParticipantCategory};
pub use std::sync::Arc;
pub use std::time::Duration;
pub use tonic::transport::Channel;

pub const TENANT: &str = "e2e-networking";
/// How long one event may take to cross the bus.
pub const WAIT: Duration = Duration::from_secs(20);
/// The whole scenario: a hung call fails the test instead of the run.
pub const LIMIT: Duration = Duration::from_secs(180);

pub fn text(ar: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

pub fn usd(minor_units: i64) -> Option<Money> {
    Some(Money {
        currency_code: "USD".into(),
        minor_units,
    })
}

pub fn day(offset: i64) -> markaz_proto::common::v1::Date {
    markaz_kit::time::Date::today().add_days(offset).to_proto()
}

pub struct Clients {
    pub membership: MembershipServiceClient<Channel>,
    pub grants: GrantsServiceClient<Channel>,
    pub networking: NetworkingServiceClient<Channel>,
    pub staff: String,
}

/// The three services in one app on NATS and PostgreSQL, the tenant and
/// its Raqqa branch registered in membership.
pub async fn start(env: &TestEnv) -> (markaz_kit::app::App, Clients) {
    let app = env
        .start(vec![
            Arc::new(Membership),
            Arc::new(Grants),
            Arc::new(Networking),
        ])
        .await
        .expect("the app starts");
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    let mut c = Clients {
        membership: MembershipServiceClient::new(channel.clone()),
        grants: GrantsServiceClient::new(channel.clone()),
        networking: NetworkingServiceClient::new(channel),
        staff: env.token(TENANT, &[Role::Staff], None),
    };
    c.membership
        .create_tenant(authed(
            mem::CreateTenantRequest {
                tenant: Some(mem::Tenant {
                    id: TENANT.into(),
                    name: text("مركز الرقة", "Raqqa center"),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    c.membership
        .create_branch(authed(
            mem::CreateBranchRequest {
                branch: Some(mem::Branch {
                    id: "raqqa".into(),
                    name: text("الرقة", "Raqqa"),
                    governorate: "Raqqa".into(),
                    ..Default::default()
                }),
            },
            &env.token(TENANT, &[Role::Admin], None),
        ))
        .await
        .unwrap();
    (app, c)
}

impl Clients {
    pub async fn organization(
        &mut self,
        kind: OrganizationKind,
        name: &str,
        apply_for_incubation: bool,
    ) -> mem::Organization {
        self.membership
            .create_organization(authed(
                mem::CreateOrganizationRequest {
                    organization: Some(mem::Organization {
                        kind: kind as i32,
                        name: text(name, ""),
                        governorate: "Raqqa".into(),
                        branch_id: "raqqa".into(),
                        ..Default::default()
                    }),
                    apply_for_incubation,
                    request_id: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// A person of membership, affiliated to `org` when there is one.
    pub async fn person(&mut self, name: &str, gender: Gender, org: Option<&str>) -> mem::Person {
        let person = self
            .membership
            .create_person(authed(
                mem::CreatePersonRequest {
                    person: Some(mem::Person {
                        full_name: name.into(),
                        gender: gender as i32,
                        age_band: AgeBand::AgeBand3544 as i32,
                        legal_basis: mem::LegalBasis::Consent as i32,
                        processing_purpose: "networking participant".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        if let Some(org) = org {
            self.membership
                .create_affiliation(authed(
                    mem::CreateAffiliationRequest {
                        affiliation: Some(mem::Affiliation {
                            person_id: person.id.clone(),
                            organization_id: org.into(),
                            role: "representative".into(),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    &self.staff,
                ))
                .await
                .unwrap();
        }
        person
    }

    /// A proposal of the organization of `partner` to `call`, approved by
    /// staff and awarded in full: the award grants announces as GrantAwarded.
    pub async fn awarded(&mut self, call: &grants::Call, partner: &str) -> grants::Award {
        let budget = [("لافتات وبروشورات", 60_000), ("قاعة وضيافة", 90_000)];
        let proposal = grants::Proposal {
            call_id: call.id.clone(),
            title: text("لا لزواج القاصرات", "No to early marriage"),
            summary: text("حملة توعية في القرى", "Awareness in the villages"),
            community_need: text(
                "زواج القاصرات منتشر في الريف",
                "Early marriage is common in the countryside",
            ),
            location: Some(grants::Location {
                governorate: "Raqqa".into(),
                place: text("الرقة", "Raqqa"),
            }),
            sector: Sector::Protection as i32,
            beneficiaries_targeted: Some(grants::Beneficiaries {
                female: 200,
                male: 100,
                undisclosed: 0,
            }),
            budget_lines: budget
                .iter()
                .map(|(what, amount)| grants::BudgetLine {
                    category: grants::BudgetCategory::Supplies as i32,
                    description: text(what, what),
                    amount: usd(*amount),
                    ..Default::default()
                })
                .collect(),
            milestones: [("ورشة مناصرة", 20), ("لقاء مع المجلس", 50)]
                .iter()
                .map(|(what, due)| grants::Milestone {
                    title: text(what, what),
                    due_date: Some(day(*due)),
                    deliverables: text("تقرير", "report"),
                    ..Default::default()
                })
                .collect(),
            start_date: Some(day(10)),
            end_date: Some(day(60)),
            ..Default::default()
        };
        // Grants takes the draft once it knows the organization, from
        // membership's event.
        let draft = eventually(WAIT, || {
            let mut c = self.grants.clone();
            let (proposal, token) = (proposal.clone(), partner.to_string());
            async move {
                c.create_proposal(authed(
                    grants::CreateProposalRequest {
                        proposal: Some(proposal),
                        request_id: "campaign-proposal".into(),
                    },
                    &token,
                ))
                .await
                .ok()
            }
        })
        .await
        .expect("grants learned of the organization from membership's event")
        .into_inner();
        self.grants
            .submit_proposal(authed(
                grants::SubmitProposalRequest {
                    id: draft.id.clone(),
                    etag: String::new(),
                },
                partner,
            ))
            .await
            .unwrap();
        self.grants
            .start_review(authed(
                grants::StartReviewRequest {
                    id: draft.id.clone(),
                    etag: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap();
        self.grants
            .decide_proposal(authed(
                grants::DecideProposalRequest {
                    id: draft.id.clone(),
                    decision: grants::Decision::Approve as i32,
                    reason: "a need the committee knows".into(),
                    etag: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap();
        self.grants
            .award_grant(authed(
                grants::AwardGrantRequest {
                    proposal_id: draft.id.clone(),
                    amount: usd(150_000),
                    tranches: [(1, 60_000), (2, 90_000)]
                        .iter()
                        .map(|(m, a)| grants::TrancheSpec {
                            milestone_number: *m,
                            amount: usd(*a),
                        })
                        .collect(),
                    etag: String::new(),
                    request_id: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn open_call(&mut self) -> grants::Call {
        let program = self
            .grants
            .create_program(authed(
                grants::CreateProgramRequest {
                    program: Some(grants::Program {
                        name: text("منح المناصرة", "Advocacy grants"),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        let call = self
            .grants
            .create_call(authed(
                grants::CreateCallRequest {
                    call: Some(grants::Call {
                        program_id: program.id,
                        title: text("حملات ٢٠١٩", "Campaigns 2019"),
                        budget_envelope: usd(1_000_000),
                        project_ceiling: usd(500_000),
                        opens_on: Some(day(-1)),
                        closes_on: Some(day(30)),
                        rubric: Some(grants::Rubric {
                            max_score: 5,
                            criteria: vec![grants::Criterion {
                                code: "need".into(),
                                name: text("الحاجة", "Need"),
                                guidance: None,
                                weight: 1,
                            }],
                        }),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        self.grants
            .open_call(authed(
                grants::OpenCallRequest {
                    id: call.id,
                    etag: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap()
            .into_inner()
    }
}

/// An advocacy workshop in Raqqa that started an hour ago (check-in is
/// open) and ends in an hour.
pub fn workshop() -> net::Event {
    let now = markaz_kit::time::now_micros();
    net::Event {
        kind: EventKind::AdvocacyWorkshop as i32,
        title: text(
            "ورشة مناصرة ضد زواج القاصرات",
            "Advocacy workshop against early marriage",
        ),
        branch_id: "raqqa".into(),
        venue: "مركز الرقة".into(),
        start_time: Some(markaz_kit::time::timestamp(now - 3_600_000_000)),
        end_time: Some(markaz_kit::time::timestamp(now + 3_600_000_000)),
        issue_codes: vec!["early-marriage".into()],
        ..Default::default()
    }
}

/// The last event of `name` that `producer` put on the stream, decoded,
/// with the envelope it came in.
pub async fn last_published<E: prost::Message + Default>(
    env: &TestEnv,
    producer: &str,
    name: &str,
    matches: impl Fn(&E) -> bool,
) -> (ev::Envelope, E) {
    let client = async_nats::connect(markaz_kit::testing::nats_url())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client);
    let ns = &env.config.bus_namespace;
    let stream = format!(
        "{}_{}",
        ns.to_ascii_uppercase(),
        producer.to_ascii_uppercase()
    );
    let subject = format!("{ns}.evt.{producer}.{name}");
    eventually(WAIT, || {
        let (js, stream, subject) = (js.clone(), stream.clone(), subject.clone());
        let matches = &matches;
        async move {
            let stream = js.get_stream(&stream).await.ok()?;
            let raw = stream
                .get_last_raw_message_by_subject(&subject)
                .await
                .ok()?;
            let envelope: ev::Envelope = prost::Message::decode(raw.payload.as_ref()).unwrap();
            let event = E::decode(envelope.payload.as_slice()).unwrap();
            matches(&event).then_some((envelope, event))
        }
    })
    .await
    .unwrap_or_else(|| panic!("{name} from {producer} is on NATS within {WAIT:?}"))
}

pub fn count(category: &str, female: i64, male: i64, undisclosed: i64) -> ev::CategoryCount {
    ev::CategoryCount {
        category: category.into(),
        female,
        male,
        undisclosed,
    }
}

pub fn sorted(mut counts: Vec<ev::CategoryCount>) -> Vec<ev::CategoryCount> {
    counts.sort_by(|a, b| a.category.cmp(&b.category));
    counts
}
