//! Impact next to membership and capacity in one app, the activity made
//! through their public gRPC APIs only: on SQLite with the in-process bus
//! and on PostgreSQL with NATS JetStream. Impact never calls them: every
//! figure is counted from their events, and held here to a recount of what
//! the test did — and again after the figures are rebuilt from the
//! producers' real event history.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use markaz_capacity::Capacity;
use markaz_impact::Impact;
use markaz_impact::domain::Family;
use markaz_impact::rebuild::rebuild;
use markaz_kit::auth::Role;
use markaz_kit::both_backends;
use markaz_kit::events::history::History;
use markaz_kit::testing::{Backend, TestEnv, authed, eventually};
use markaz_kit::time::Date;
use markaz_membership::Membership;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::{
    AgeBand, Gender, IncubationStatus, LocalizedText, OrganizationKind,
};
use markaz_proto::impact::v1 as imp;
use markaz_proto::impact::v1::impact_service_client::ImpactServiceClient;
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

const TENANT: &str = "e2e-impact";
const WAIT: Duration = Duration::from_secs(30);

both_backends!(figures_made_through_the_apis_are_counted_from_their_events);

/// A small deterministic generator.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn text(ar: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

async fn figures_made_through_the_apis_are_counted_from_their_events(backend: Backend) {
    let env = TestEnv::new(backend);
    let app = env
        .start(vec![
            Arc::new(Membership),
            Arc::new(Capacity),
            Arc::new(Impact),
        ])
        .await
        .expect("the app starts");
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut membership = MembershipServiceClient::new(channel.clone());
    let mut capacity = CapacityServiceClient::new(channel.clone());
    let mut impact = ImpactServiceClient::new(channel);
    membership
        .create_tenant(authed(
            mem::CreateTenantRequest {
                tenant: Some(mem::Tenant {
                    id: TENANT.into(),
                    name: text("مركز المجتمع المدني", "Civil society center"),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    let staff = env.token(TENANT, &[Role::Staff], None);
    // The activity is drawn from a seed: the same every run.
    let mut rng = Seeded(2026);
    let admin = env.token(TENANT, &[Role::Admin], None);
    for (id, ar, en) in [
        ("raqqa", "الرقة", "Raqqa"),
        ("deir-ez-zor", "دير الزور", "Deir ez-Zor"),
    ] {
        membership
            .create_branch(authed(
                mem::CreateBranchRequest {
                    branch: Some(mem::Branch {
                        id: id.into(),
                        name: text(ar, en),
                        governorate: ar.into(),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .unwrap();
    }

    // Four organizations applying for incubation; two are incubated.
    let mut orgs = Vec::new();
    for i in 0..4 {
        let org = membership
            .create_organization(authed(
                mem::CreateOrganizationRequest {
                    organization: Some(mem::Organization {
                        kind: OrganizationKind::Cso as i32,
                        name: text(&format!("جمعية الفرات {i}"), &format!("Euphrates {i}")),
                        branch_id: ["raqqa", "deir-ez-zor"][i % 2].into(),
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
        if i < 2 {
            membership
                .change_incubation_status(authed(
                    mem::ChangeIncubationStatusRequest {
                        organization_id: org.id.clone(),
                        status: IncubationStatus::Incubated as i32,
                        reason: "قبول لجنة الاحتضان".into(),
                        etag: String::new(),
                    },
                    &staff,
                ))
                .await
                .unwrap();
        }
        orgs.push(org.id);
    }

    // Twelve people, of genders drawn from the seed, each affiliated.
    let genders = [
        Gender::Female,
        Gender::Male,
        Gender::Male,
        Gender::Undisclosed,
    ];
    let mut people = Vec::new();
    for i in 0..12 {
        let gender = genders[rng.below(genders.len())];
        let person = membership
            .create_person(authed(
                mem::CreatePersonRequest {
                    person: Some(mem::Person {
                        full_name: format!("هدى الخلف {i}"),
                        gender: gender as i32,
                        age_band: AgeBand::AgeBand2534 as i32,
                        legal_basis: mem::LegalBasis::Consent as i32,
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
        let org = orgs[i % orgs.len()].clone();
        membership
            .create_affiliation(authed(
                mem::CreateAffiliationRequest {
                    affiliation: Some(mem::Affiliation {
                        person_id: person.id.clone(),
                        organization_id: org.clone(),
                        role: "member".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &staff,
            ))
            .await
            .unwrap();
        people.push((person.id, gender, org));
    }

    // Three courses of 2–4 days in the past weeks: participants drawn from
    // the seed enrolled, every mark taken, completed. About one in five is
    // absent every day: enrolled, never there, not a trainee.
    let today = Date::today();
    let mut trainees: BTreeMap<String, Gender> = BTreeMap::new();
    let mut training_days = 0;
    for k in 0..3usize {
        let days = 2 + k as i64;
        let course = capacity
            .create_course(authed(
                cap::CreateCourseRequest {
                    course: Some(cap::Course {
                        kind: cap::CourseKind::Workshop as i32,
                        title: text("ورشة المناصرة", "Advocacy workshop"),
                        topic_codes: vec!["mobilisation-advocacy".into()],
                        branch_id: "raqqa".into(),
                        sessions: (0..days)
                            .map(|d| cap::Session {
                                date: Some(today.add_days(-20 - 5 * k as i64 + d).to_proto()),
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
        capacity
            .open_course(authed(
                cap::OpenCourseRequest {
                    id: course.id.clone(),
                    etag: String::new(),
                },
                &staff,
            ))
            .await
            .unwrap();
        let mut enrolments = Vec::new();
        let mut chosen: Vec<usize> = (0..6 + 2 * k).map(|_| rng.below(people.len())).collect();
        chosen.sort_unstable();
        chosen.dedup();
        for j in chosen {
            let (person, gender, org) = people[j].clone();
            // Capacity enrols only the people its copies know: wait for
            // membership's events.
            let request = cap::EnrolParticipantRequest {
                course_id: course.id.clone(),
                person_id: person.clone(),
                organization_id: org,
                request_id: String::new(),
            };
            let enrolment = eventually(WAIT, || {
                let (mut client, request, staff) =
                    (capacity.clone(), request.clone(), staff.clone());
                async move { client.enrol_participant(authed(request, &staff)).await.ok() }
            })
            .await
            .expect("capacity learns the person")
            .into_inner();
            enrolments.push((enrolment.id, person, gender, rng.below(5) == 0));
        }
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
                        marks: enrolments
                            .iter()
                            .map(|(id, _, _, absent)| cap::AttendanceMark {
                                enrolment_id: id.clone(),
                                status: if *absent {
                                    cap::AttendanceStatus::Absent
                                } else {
                                    cap::AttendanceStatus::Present
                                } as i32,
                                ..Default::default()
                            })
                            .collect(),
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
        for (_, person, gender, absent) in &enrolments {
            if !absent {
                trainees.insert(person.clone(), *gender);
            }
        }
        training_days += days;
    }

    // Two consultations, one of them technical support.
    let mut attendances: BTreeMap<&str, i64> = BTreeMap::new();
    for k in 0..2usize {
        let attendees: Vec<(String, Gender)> = (0..3)
            .map(|j| people[k * 3 + j].clone())
            .map(|(p, g, _)| (p, g))
            .collect();
        for (_, g) in &attendees {
            *attendances.entry(g.as_str_name()).or_default() += 1;
        }
        capacity
            .create_consultation(authed(
                cap::CreateConsultationRequest {
                    consultation: Some(cap::Consultation {
                        kind: if k == 0 {
                            cap::ConsultationKind::Consultation
                        } else {
                            cap::ConsultationKind::TechnicalSupport
                        } as i32,
                        topic_codes: vec!["financial-management".into()],
                        organization_id: people[k * 3].2.clone(),
                        attendee_person_ids: attendees.iter().map(|(p, _)| p.clone()).collect(),
                        advisor: Some(cap::Advisor {
                            name: "خبير مالي".into(),
                            kind: cap::AdvisorKind::Staff as i32,
                        }),
                        branch_id: "raqqa".into(),
                        held_on: Some(today.add_days(-3).to_proto()),
                        duration_minutes: 60,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &staff,
            ))
            .await
            .unwrap();
    }

    let mut by_gender: BTreeMap<String, i64> = BTreeMap::new();
    for g in trainees.values() {
        *by_gender.entry(g.as_str_name().to_string()).or_default() += 1;
    }
    let period = imp::GetIndicatorsRequest {
        from: Some(today.add_days(-365).to_proto()),
        until: Some(today.to_proto()),
        ..Default::default()
    };
    let want: BTreeMap<&str, i64> = BTreeMap::from([
        ("trainees", trainees.len() as i64),
        ("courses_held", 3),
        ("training_days", training_days),
        ("consultation_sessions", 2),
        ("consultation_attendances", attendances.values().sum()),
        // Six different people came to the two.
        ("consultation_beneficiaries", 6),
        ("organizations_incubated", 2),
    ]);
    // The figures settle once every event has been applied.
    let settled = eventually(WAIT, || {
        let (mut client, staff, period, want) =
            (impact.clone(), staff.clone(), period.clone(), want.clone());
        async move {
            let got = client
                .get_indicators(authed(period, &staff))
                .await
                .unwrap()
                .into_inner();
            let totals: BTreeMap<&str, i64> = want
                .keys()
                .map(|code| {
                    let total = got
                        .indicators
                        .iter()
                        .find(|i| i.definition.as_ref().unwrap().code == *code)
                        .map_or(-1, |i| i.total);
                    (*code, total)
                })
                .collect();
            (totals == want).then_some(got)
        }
    })
    .await;
    assert!(settled.is_some(), "the figures never reached {want:?}");
    let settled = settled.unwrap();
    let period_again = period.clone();
    let producers: BTreeSet<&str> = settled
        .freshness
        .iter()
        .map(|f| f.producer.as_str())
        .collect();
    assert_eq!(producers, BTreeSet::from(["capacity", "membership"]));

    // Split by gender: the distinct trainees, and the attendances.
    let split = impact
        .get_indicators(authed(
            imp::GetIndicatorsRequest {
                codes: vec!["trainees".into(), "consultation_attendances".into()],
                group_by: vec![imp::Dimension::Gender as i32],
                ..period.clone()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let cells = |code: &str| -> BTreeMap<String, i64> {
        split
            .indicators
            .iter()
            .find(|i| i.definition.as_ref().unwrap().code == code)
            .unwrap()
            .cells
            .iter()
            .map(|c| (c.key[0].value.clone(), c.value))
            .collect()
    };
    assert_eq!(cells("trainees"), by_gender);
    assert_eq!(
        cells("consultation_attendances"),
        attendances
            .iter()
            .map(|(g, n)| (g.to_string(), *n))
            .collect()
    );

    // Rebuilt from the real history — the producers' outboxes on SQLite,
    // their streams on NATS — the figures are the same.
    let history = if app.bus().is_local() {
        History::Outboxes(
            ["membership", "capacity"]
                .into_iter()
                .map(|p| (p.to_string(), app.db(p).unwrap().clone()))
                .collect(),
        )
    } else {
        History::Streams(app.bus().clone())
    };
    let families = [Family::Courses, Family::Consultations, Family::Incubation];
    let done = rebuild(app.db("impact").unwrap(), &history, &families, |_, _| {})
        .await
        .expect("the rebuild");
    assert!(done.applied > 0, "{done:?}");
    let rebuilt = impact
        .get_indicators(authed(period_again, &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rebuilt.indicators, settled.indicators);
    app.shutdown().await;
}
