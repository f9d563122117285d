//! Grants end to end with membership and capacity, on real NATS JetStream
//! and PostgreSQL: grants decides eligibility and conflicts of interest on
//! its own copy of membership's and capacity's data, kept from their events,
//! with no call between the services.

use std::sync::Arc;
use std::time::Duration;

use markaz_capacity::Capacity;
use markaz_grants::Grants;
use markaz_kit::auth::Role;
use markaz_kit::testing::{Backend, TestEnv, authed, eventually};
use markaz_membership::Membership;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::{
    AgeBand, Date, Gender, IncubationStatus, LocalizedText, Money, OrganizationKind, Sector,
};
use markaz_proto::grants::v1 as grants;
use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
use markaz_proto::membership::v1 as membership;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const TENANT: &str = "grants-e2e";
const WAIT: Duration = Duration::from_secs(20);

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

fn day(offset: i64) -> Date {
    markaz_kit::time::Date::today().add_days(offset).to_proto()
}

fn precondition_kind(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    status
        .get_details_precondition_failure()
        .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
        .unwrap_or_default()
}

fn proposal(call_id: &str) -> grants::Proposal {
    let line = |what: &str, amount| grants::BudgetLine {
        category: grants::BudgetCategory::Supplies as i32,
        description: Some(text(what, what)),
        amount: Some(usd(amount)),
        ..Default::default()
    };
    let milestone = |what: &str, due| grants::Milestone {
        title: Some(text(what, what)),
        due_date: Some(due),
        deliverables: Some(text("تسليم", "handover")),
        ..Default::default()
    };
    grants::Proposal {
        call_id: call_id.into(),
        title: Some(text("حديقة الحي", "The neighbourhood park")),
        summary: Some(text("ترميم حديقة", "Restoring a park")),
        community_need: Some(text("لا مكان آمن للأطفال", "No safe place for children")),
        location: Some(grants::Location {
            governorate: "Raqqa".into(),
            place: Some(text("المشلب", "Al-Mishlab")),
        }),
        sector: Sector::Environment as i32,
        theme_code: String::new(),
        beneficiaries_targeted: Some(grants::Beneficiaries {
            female: 300,
            male: 280,
            undisclosed: 0,
        }),
        budget_lines: vec![line("بذور وأشجار", 150_000), line("مقاعد", 100_000)],
        milestones: vec![milestone("تنظيف", day(20)), milestone("افتتاح", day(50))],
        start_date: Some(day(10)),
        end_date: Some(day(60)),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eligibility_and_conflicts_follow_membership_events_across_the_bus() {
    let env = TestEnv::new(Backend::Postgres);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Grants)])
        .await
        .unwrap();
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut members = MembershipServiceClient::new(channel.clone());
    let mut grants_api = GrantsServiceClient::new(channel);
    let staff = env.token(TENANT, &[Role::Staff], None);
    let admin = env.token(TENANT, &[Role::Admin], None);

    // Membership: the tenant, its branch, an applicant organization.
    members
        .create_tenant(authed(
            membership::CreateTenantRequest {
                tenant: Some(membership::Tenant {
                    id: TENANT.into(),
                    name: Some(text("مركز", "center")),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    members
        .create_branch(authed(
            membership::CreateBranchRequest {
                branch: Some(membership::Branch {
                    id: "raqqa".into(),
                    name: Some(text("الرقة", "Raqqa")),
                    governorate: "Raqqa".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .unwrap();
    let org = members
        .create_organization(authed(
            membership::CreateOrganizationRequest {
                organization: Some(membership::Organization {
                    kind: OrganizationKind::Cso as i32,
                    name: Some(text("جمعية الحي", "Neighbourhood Association")),
                    branch_id: "raqqa".into(),
                    ..Default::default()
                }),
                apply_for_incubation: true,
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org.incubation_status, IncubationStatus::Applicant as i32);
    let partner = env.token(TENANT, &[Role::Partner], Some(&org.id));

    // Grants: a call for incubated organizations only.
    let program = grants_api
        .create_program(authed(
            grants::CreateProgramRequest {
                program: Some(grants::Program {
                    name: Some(text("منحة الأب باولو", "Father Paolo Grant")),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let call = grants_api
        .create_call(authed(
            grants::CreateCallRequest {
                call: Some(grants::Call {
                    program_id: program.id.clone(),
                    title: Some(text("الدورة الأولى", "Round 1")),
                    budget_envelope: Some(usd(1_000_000)),
                    project_ceiling: Some(usd(500_000)),
                    opens_on: Some(day(-1)),
                    closes_on: Some(day(30)),
                    eligibility: Some(grants::EligibilityRules {
                        incubation_statuses: vec![IncubationStatus::Incubated as i32],
                        ..Default::default()
                    }),
                    rubric: Some(grants::Rubric {
                        max_score: 5,
                        criteria: vec![grants::Criterion {
                            code: "need".into(),
                            name: Some(text("الحاجة", "Need")),
                            guidance: None,
                            weight: 1,
                        }],
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    grants_api
        .open_call(authed(
            grants::OpenCallRequest {
                id: call.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();

    // The organization reaches grants' copy through membership's event; the
    // partner can then draft.
    let draft = eventually(WAIT, || {
        let mut c = grants_api.clone();
        let (request, token) = (
            grants::CreateProposalRequest {
                proposal: Some(proposal(&call.id)),
                request_id: "draft-1".into(),
            },
            partner.clone(),
        );
        async move { c.create_proposal(authed(request, &token)).await.ok() }
    })
    .await
    .expect("grants learned of the organization from membership's event")
    .into_inner();
    assert_eq!(draft.organization_name.unwrap().ar, "جمعية الحي");

    // Before incubation: submission refused, not eligible.
    let submit = |c: &GrantsServiceClient<Channel>| {
        let mut c = c.clone();
        let (id, token) = (draft.id.clone(), partner.clone());
        async move {
            c.submit_proposal(authed(
                grants::SubmitProposalRequest {
                    id,
                    etag: String::new(),
                },
                &token,
            ))
            .await
        }
    };
    let refused = submit(&grants_api).await.unwrap_err();
    assert_eq!(precondition_kind(&refused), "NOT_ELIGIBLE");
    assert!(
        refused.message().contains("applicant"),
        "{}",
        refused.message()
    );

    // Membership incubates the organization; grants hears of it on the bus.
    members
        .change_incubation_status(authed(
            membership::ChangeIncubationStatusRequest {
                organization_id: org.id.clone(),
                status: IncubationStatus::Incubated as i32,
                reason: "accepted by the committee".into(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let eligible = eventually(WAIT, || {
        let mut c = grants_api.clone();
        let (call_id, token) = (call.id.clone(), partner.clone());
        async move {
            let e = c
                .check_eligibility(authed(
                    grants::CheckEligibilityRequest {
                        call_id,
                        organization_id: String::new(),
                    },
                    &token,
                ))
                .await
                .ok()?
                .into_inner();
            e.eligible.then_some(e)
        }
    })
    .await;
    assert!(eligible.is_some(), "the incubation reached grants");
    let submitted = submit(&grants_api).await.unwrap().into_inner();
    assert_eq!(submitted.state, grants::ProposalState::Submitted as i32);

    // A conflict detected from membership's affiliation: a board member of
    // the applicant, registered as a reviewer, is never assigned.
    let person = members
        .create_person(authed(
            membership::CreatePersonRequest {
                person: Some(membership::Person {
                    full_name: "ليلى".into(),
                    gender: Gender::Female as i32,
                    age_band: AgeBand::AgeBand3544 as i32,
                    legal_basis: membership::LegalBasis::Consent as i32,
                    processing_purpose: "grant reviewer".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    members
        .create_affiliation(authed(
            membership::CreateAffiliationRequest {
                affiliation: Some(membership::Affiliation {
                    person_id: person.id.clone(),
                    organization_id: org.id.clone(),
                    role: "board member".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let reviewer = eventually(WAIT, || {
        let mut c = grants_api.clone();
        let (person_id, token) = (person.id.clone(), staff.clone());
        async move {
            c.create_reviewer(authed(
                grants::CreateReviewerRequest {
                    reviewer: Some(grants::Reviewer {
                        person_id,
                        subject: "laila".into(),
                        ..Default::default()
                    }),
                    request_id: "reviewer-laila".into(),
                },
                &token,
            ))
            .await
            .ok()
        }
    })
    .await
    .expect("grants learned of the person")
    .into_inner();
    assert_eq!(reviewer.display_name, "ليلى");
    let refused = eventually(WAIT, || {
        let mut c = grants_api.clone();
        let (proposal_id, reviewer_id, token) =
            (draft.id.clone(), reviewer.id.clone(), staff.clone());
        async move {
            let status = c
                .assign_reviewer(authed(
                    grants::AssignReviewerRequest {
                        proposal_id,
                        reviewer_id,
                    },
                    &token,
                ))
                .await
                .err()?;
            (status.code() == Code::FailedPrecondition).then_some(status)
        }
    })
    .await
    .expect("the affiliation reached grants");
    assert_eq!(precondition_kind(&refused), "CONFLICT_OF_INTEREST");

    // Erased in membership: the reviewer keeps no name in grants either.
    members
        .erase_person(authed(
            membership::ErasePersonRequest {
                id: person.id.clone(),
                reason: "asked to be forgotten".into(),
                legal_ground: membership::ErasureGround::DataSubjectRequest as i32,
            },
            &staff,
        ))
        .await
        .unwrap();
    let erased = eventually(WAIT, || {
        let mut c = grants_api.clone();
        let (id, token) = (reviewer.id.clone(), staff.clone());
        async move {
            let r = c
                .get_reviewer(authed(grants::GetReviewerRequest { id }, &token))
                .await
                .ok()?
                .into_inner();
            (!r.active).then_some(r)
        }
    })
    .await
    .expect("the erasure reached grants");
    assert_eq!(erased.display_name, "");

    // Grants' own events went out on the bus too.
    let client = async_nats::connect(markaz_kit::testing::nats_url())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = format!("{}_GRANTS", env.config.bus_namespace.to_ascii_uppercase());
    let published = eventually(WAIT, || {
        let js = js.clone();
        let stream = stream.clone();
        async move {
            let mut s = js.get_stream(&stream).await.ok()?;
            let n = s.info().await.ok()?.state.messages;
            (n >= 2).then_some(n)
        }
    })
    .await;
    assert!(
        published.is_some(),
        "CallOpened and ProposalSubmitted are on NATS"
    );
    app.shutdown().await;
}

/// Capacity issues a certificate of a proposal-writing course to a member of
/// an organization: a call that requires the topic takes the organization.
/// Capacity revokes the certificate: on the bus, grants hears of it, and the
/// organization no longer meets the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_stops_counting_for_eligibility_across_the_bus() {
    const TENANT: &str = "grants-e2e-certificates";
    let env = TestEnv::new(Backend::Postgres);
    let app = env
        .start(vec![
            Arc::new(Membership),
            Arc::new(Capacity),
            Arc::new(Grants),
        ])
        .await
        .unwrap();
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut members = MembershipServiceClient::new(channel.clone());
    let mut capacity = CapacityServiceClient::new(channel.clone());
    let mut grants_api = GrantsServiceClient::new(channel);
    let staff = env.token(TENANT, &[Role::Staff], None);
    members
        .create_tenant(authed(
            membership::CreateTenantRequest {
                tenant: Some(membership::Tenant {
                    id: TENANT.into(),
                    name: Some(text("مركز", "center")),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    let org = members
        .create_organization(authed(
            membership::CreateOrganizationRequest {
                organization: Some(membership::Organization {
                    kind: OrganizationKind::Cso as i32,
                    name: Some(text("جمعية النهر", "River Association")),
                    ..Default::default()
                }),
                apply_for_incubation: false,
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let person = members
        .create_person(authed(
            membership::CreatePersonRequest {
                person: Some(membership::Person {
                    full_name: "سلمى".into(),
                    gender: Gender::Female as i32,
                    age_band: AgeBand::AgeBand2534 as i32,
                    legal_basis: membership::LegalBasis::Consent as i32,
                    processing_purpose: "training participant".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    members
        .create_affiliation(authed(
            membership::CreateAffiliationRequest {
                affiliation: Some(membership::Affiliation {
                    person_id: person.id.clone(),
                    organization_id: org.id.clone(),
                    role: "coordinator".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();

    // Grants: a call open to organizations that completed proposal writing.
    let program = grants_api
        .create_program(authed(
            grants::CreateProgramRequest {
                program: Some(grants::Program {
                    name: Some(text("منحة الأب باولو", "Father Paolo Grant")),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let call = grants_api
        .create_call(authed(
            grants::CreateCallRequest {
                call: Some(grants::Call {
                    program_id: program.id.clone(),
                    title: Some(text("الدورة الثانية", "Round 2")),
                    budget_envelope: Some(usd(1_000_000)),
                    project_ceiling: Some(usd(500_000)),
                    opens_on: Some(day(-1)),
                    closes_on: Some(day(30)),
                    eligibility: Some(grants::EligibilityRules {
                        required_course_topic: "proposal-writing".into(),
                        ..Default::default()
                    }),
                    rubric: Some(grants::Rubric {
                        max_score: 5,
                        criteria: vec![grants::Criterion {
                            code: "need".into(),
                            name: Some(text("الحاجة", "Need")),
                            guidance: None,
                            weight: 1,
                        }],
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    grants_api
        .open_call(authed(
            grants::OpenCallRequest {
                id: call.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();

    // Capacity: a two-day proposal-writing course that ended yesterday.
    let course = capacity
        .create_course(authed(
            cap::CreateCourseRequest {
                course: Some(cap::Course {
                    kind: cap::CourseKind::TrainingCourse as i32,
                    title: Some(text("كتابة المقترحات", "Proposal writing")),
                    topic_codes: vec!["proposal-writing".into()],
                    branch_id: "raqqa".into(),
                    sessions: [-2, -1]
                        .into_iter()
                        .map(|n| cap::Session {
                            date: Some(day(n)),
                            ..Default::default()
                        })
                        .collect(),
                    capacity: 20,
                    audience: cap::Audience::Open as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let course = capacity
        .open_course(authed(
            cap::OpenCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    // Enrolled once capacity knows the person and the affiliation.
    let enrolment = eventually(WAIT, || {
        let mut c = capacity.clone();
        let request = cap::EnrolParticipantRequest {
            course_id: course.id.clone(),
            person_id: person.id.clone(),
            organization_id: org.id.clone(),
            request_id: "enrol-salma".into(),
        };
        let token = staff.clone();
        async move {
            c.enrol_participant(authed(request, &token))
                .await
                .ok()
                .map(|r| r.into_inner())
        }
    })
    .await
    .expect("the person and the affiliation reach capacity");
    capacity
        .start_course(authed(
            cap::StartCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    for session in &course.sessions {
        capacity
            .record_attendance(authed(
                cap::RecordAttendanceRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                    marks: vec![cap::AttendanceMark {
                        enrolment_id: enrolment.id.clone(),
                        status: cap::AttendanceStatus::Present as i32,
                        ..Default::default()
                    }],
                    request_id: String::new(),
                },
                &staff,
            ))
            .await
            .unwrap();
    }
    capacity
        .complete_course(authed(
            cap::CompleteCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();

    // Grants hears of the completion: the organization is eligible.
    let eligibility = |want: bool| {
        let grants_api = grants_api.clone();
        let (call_id, org_id, token) = (call.id.clone(), org.id.clone(), staff.clone());
        async move {
            eventually(WAIT, || {
                let mut c = grants_api.clone();
                let (call_id, organization_id, token) =
                    (call_id.clone(), org_id.clone(), token.clone());
                async move {
                    let e = c
                        .check_eligibility(authed(
                            grants::CheckEligibilityRequest {
                                call_id,
                                organization_id,
                            },
                            &token,
                        ))
                        .await
                        .ok()?
                        .into_inner();
                    (e.eligible == want).then_some(e)
                }
            })
            .await
        }
    };
    eligibility(true)
        .await
        .expect("the course's completion reached grants");

    // Capacity revokes the certificate: grants takes the topic back.
    let certificate = capacity
        .list_certificates(authed(
            cap::ListCertificatesRequest {
                person_id: person.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificates
        .pop()
        .expect("a certificate was issued");
    assert_eq!(certificate.organization_id, org.id);
    capacity
        .revoke_certificate(authed(
            cap::RevokeCertificateRequest {
                id: certificate.id.clone(),
                reason: "issued in error: attendance was recorded for the wrong person".into(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let after = eligibility(false)
        .await
        .expect("the revocation reached grants");
    assert_eq!(after.unmet.len(), 1, "{:?}", after.unmet);
    assert!(
        after.unmet[0].contains("proposal-writing"),
        "{:?}",
        after.unmet
    );
    app.shutdown().await;
}
