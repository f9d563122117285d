//! Capacity building next to membership in one app, on real NATS JetStream
//! and PostgreSQL. Capacity never calls membership: what it knows of
//! organizations and people arrives as membership's events, and the tests
//! wait for that (never for a fixed time).

use std::sync::Arc;
use std::time::Duration;

use markaz_capacity::Capacity;
use markaz_kit::auth::Role;
use markaz_kit::testing::{Backend, TestEnv, authed, eventually};
use markaz_membership::Membership;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::{
    AgeBand, Gender, IncubationStatus, LocalizedText, OrganizationKind,
};
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const TENANT: &str = "e2e-capacity";
const WAIT: Duration = Duration::from_secs(20);

struct Clients {
    membership: MembershipServiceClient<Channel>,
    capacity: CapacityServiceClient<Channel>,
    staff: String,
}

async fn start(env: &TestEnv) -> (markaz_kit::app::App, Clients) {
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Capacity)])
        .await
        .expect("the app starts");
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut membership = MembershipServiceClient::new(channel.clone());
    membership
        .create_tenant(authed(
            mem::CreateTenantRequest {
                tenant: Some(mem::Tenant {
                    id: TENANT.into(),
                    name: Some(LocalizedText {
                        ar: "مركز الرقة".into(),
                        en: "Raqqa center".into(),
                    }),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    let clients = Clients {
        membership,
        capacity: CapacityServiceClient::new(channel),
        staff: env.token(TENANT, &[Role::Staff], None),
    };
    (app, clients)
}

impl Clients {
    async fn organization(&mut self, apply_for_incubation: bool) -> mem::Organization {
        self.membership
            .create_organization(authed(
                mem::CreateOrganizationRequest {
                    organization: Some(mem::Organization {
                        kind: OrganizationKind::Cso as i32,
                        name: Some(LocalizedText {
                            ar: "جمعية شباب الفرات".into(),
                            en: "Euphrates Youth".into(),
                        }),
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

    async fn person(&mut self, name: &str, gender: Gender, org: Option<&str>) -> mem::Person {
        let person = self
            .membership
            .create_person(authed(
                mem::CreatePersonRequest {
                    person: Some(mem::Person {
                        full_name: name.into(),
                        gender: gender as i32,
                        age_band: AgeBand::AgeBand2534 as i32,
                        legal_basis: mem::LegalBasis::Consent as i32,
                        processing_purpose: "training participant".into(),
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
                            role: "coordinator".into(),
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

    /// A course of two days that ended yesterday, open for enrolment.
    async fn open_course(&mut self, audience: cap::Audience) -> cap::Course {
        let day = |n| markaz_kit::time::Date::today().add_days(n).to_proto();
        let course = self
            .capacity
            .create_course(authed(
                cap::CreateCourseRequest {
                    course: Some(cap::Course {
                        kind: cap::CourseKind::IncubationOrientation as i32,
                        title: Some(LocalizedText {
                            ar: "التعريف بمنهجية الاحتضان".into(),
                            en: "The incubation method".into(),
                        }),
                        topic_codes: vec!["strategic-planning".into()],
                        branch_id: "raqqa".into(),
                        sessions: [-2, -1]
                            .into_iter()
                            .map(|n| cap::Session {
                                date: Some(day(n)),
                                ..Default::default()
                            })
                            .collect(),
                        capacity: 20,
                        audience: audience as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        self.capacity
            .open_course(authed(
                cap::OpenCourseRequest {
                    id: course.id.clone(),
                    etag: String::new(),
                },
                &self.staff,
            ))
            .await
            .unwrap()
            .into_inner()
    }
}

/// The kind of a FAILED_PRECONDITION, or the code of another outcome.
fn outcome(r: &Result<tonic::Response<cap::Enrolment>, tonic::Status>) -> String {
    match r {
        Ok(_) => "OK".into(),
        Err(s) => s
            .get_details_precondition_failure()
            .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
            .unwrap_or_else(|| format!("{:?}", s.code())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_incubated_in_membership_joins_an_incubated_only_course() {
    let env = TestEnv::new(Backend::Postgres);
    let (app, mut c) = start(&env).await;
    let course = c.open_course(cap::Audience::IncubatedOnly).await;
    let org = c.organization(true).await;
    assert_eq!(org.incubation_status, IncubationStatus::Applicant as i32);
    let person = c.person("ريم العلي", Gender::Female, Some(&org.id)).await;
    let request = cap::EnrolParticipantRequest {
        course_id: course.id.clone(),
        person_id: person.id.clone(),
        organization_id: org.id.clone(),
        request_id: String::new(),
    };

    // Until membership's events arrive the person is unknown here; once
    // they have, the applicant organization is refused as not incubated.
    let refused = eventually(WAIT, || {
        let mut client = c.capacity.clone();
        let (request, staff) = (request.clone(), c.staff.clone());
        async move {
            let r = client.enrol_participant(authed(request, &staff)).await;
            let kind = outcome(&r);
            assert_ne!(kind, "OK", "an applicant's member must not get in");
            (kind == "INCUBATED_ONLY").then_some(r.unwrap_err())
        }
    })
    .await
    .expect("membership's events reach capacity");
    assert!(
        refused.message().contains("applicant"),
        "{}",
        refused.message()
    );

    // Incubated in membership: capacity learns it from the event alone.
    c.membership
        .change_incubation_status(authed(
            mem::ChangeIncubationStatusRequest {
                organization_id: org.id.clone(),
                status: IncubationStatus::Incubated as i32,
                reason: "accepted by the committee".into(),
                etag: String::new(),
            },
            &c.staff,
        ))
        .await
        .unwrap();
    let enrolled = eventually(WAIT, || {
        let mut client = c.capacity.clone();
        let (request, staff) = (request.clone(), c.staff.clone());
        async move {
            let r = client.enrol_participant(authed(request, &staff)).await;
            match outcome(&r).as_str() {
                "OK" => Some(r.unwrap().into_inner()),
                "INCUBATED_ONLY" => None,
                other => panic!("unexpected refusal {other}"),
            }
        }
    })
    .await
    .expect("the incubation reaches capacity");
    assert_eq!(enrolled.status, cap::EnrolmentStatus::Enrolled as i32);
    assert_eq!(enrolled.organization_id, org.id);
    assert_eq!(enrolled.participant_name, "ريم العلي");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_person_disappears_from_capacity_while_the_figures_stay() {
    let env = TestEnv::new(Backend::Postgres);
    let (app, mut c) = start(&env).await;
    let course = c.open_course(cap::Audience::Open).await;
    let people = [
        c.person("هدى الخطيب", Gender::Female, None).await,
        c.person("عمر السيد", Gender::Male, None).await,
    ];
    let mut enrolments = Vec::new();
    for p in &people {
        let request = cap::EnrolParticipantRequest {
            course_id: course.id.clone(),
            person_id: p.id.clone(),
            organization_id: String::new(),
            request_id: String::new(),
        };
        let e = eventually(WAIT, || {
            let mut client = c.capacity.clone();
            let (request, staff) = (request.clone(), c.staff.clone());
            async move {
                client
                    .enrol_participant(authed(request, &staff))
                    .await
                    .ok()
                    .map(|r| r.into_inner())
            }
        })
        .await
        .expect("the person reaches capacity");
        enrolments.push(e);
    }
    assert_eq!(enrolments[0].participant_name, "هدى الخطيب");

    // The course runs and completes: both attend both days.
    c.capacity
        .start_course(authed(
            cap::StartCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &c.staff,
        ))
        .await
        .unwrap();
    for session in &course.sessions {
        c.capacity
            .record_attendance(authed(
                cap::RecordAttendanceRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                    // Staff's notes name her: on her own mark, and on his.
                    marks: enrolments
                        .iter()
                        .zip(["تأخرت لموعد طبي", "جاء مع هدى الخطيب"])
                        .map(|(e, note)| cap::AttendanceMark {
                            enrolment_id: e.id.clone(),
                            status: cap::AttendanceStatus::Present as i32,
                            note: note.into(),
                            ..Default::default()
                        })
                        .collect(),
                    request_id: String::new(),
                },
                &c.staff,
            ))
            .await
            .unwrap();
    }
    c.capacity
        .complete_course(authed(
            cap::CompleteCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &c.staff,
        ))
        .await
        .unwrap();
    let report = |client: &CapacityServiceClient<Channel>| {
        let mut client = client.clone();
        let (id, staff) = (course.id.clone(), c.staff.clone());
        async move {
            client
                .get_course_report(authed(
                    cap::GetCourseReportRequest { course_id: id },
                    &staff,
                ))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let before = report(&c.capacity).await;
    let participants = before.participants.unwrap();
    assert_eq!((participants.female, participants.male), (1, 1));

    // Huda asks membership to forget her; capacity follows from the event.
    c.membership
        .erase_person(authed(
            mem::ErasePersonRequest {
                id: people[0].id.clone(),
                reason: "request of the person".into(),
                legal_ground: mem::ErasureGround::DataSubjectRequest as i32,
            },
            &c.staff,
        ))
        .await
        .unwrap();
    let erased = eventually(WAIT, || {
        let mut client = c.capacity.clone();
        let (id, staff) = (enrolments[0].id.clone(), c.staff.clone());
        async move {
            let e = client
                .get_enrolment(authed(cap::GetEnrolmentRequest { id }, &staff))
                .await
                .unwrap()
                .into_inner();
            e.participant_name.is_empty().then_some(e)
        }
    })
    .await
    .expect("the erasure reaches capacity");
    assert_eq!(erased.gender, Gender::Female as i32);
    let listed = c
        .capacity
        .list_enrolments(authed(
            cap::ListEnrolmentsRequest {
                course_id: course.id.clone(),
                ..Default::default()
            },
            &c.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed
            .enrolments
            .iter()
            .all(|e| !e.participant_name.contains("هدى"))
    );
    assert_eq!(listed.enrolments[1].participant_name, "عمر السيد");
    let certificates = c
        .capacity
        .list_certificates(authed(
            cap::ListCertificatesRequest {
                person_id: people[0].id.clone(),
                ..Default::default()
            },
            &c.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(certificates[0].participant_name, "");
    for session in &course.sessions {
        let sheet = c
            .capacity
            .get_session_attendance(authed(
                cap::GetSessionAttendanceRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                },
                &c.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        let notes: Vec<&str> = sheet.marks.iter().map(|m| m.note.as_str()).collect();
        assert_eq!(notes, ["", "جاء مع [erased]"]);
        assert_eq!(sheet.present, 2);
    }
    // The course's figures are the same as before.
    assert_eq!(report(&c.capacity).await, before);
    app.shutdown().await;
}
