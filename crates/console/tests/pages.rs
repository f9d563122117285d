//! The router and the templates against a real running Markaz: every page
//! renders for every role it is offered to and refuses the others; CSRF is
//! enforced on every POST; the services' field violations land next to their
//! fields; refusals and outages get a readable page; page weights.

mod common;

use std::time::{Duration, Instant};

use common::{Browser, TENANT, World};
use markaz_console::upstream::{Authed, Bearer};
use markaz_kit::auth::Role;
use markaz_kit::testing::eventually;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1 as common_pb;
use markaz_proto::grants::v1 as gr;
use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use markaz_proto::networking::v1 as net;
use markaz_proto::networking::v1::networking_service_client::NetworkingServiceClient;
use markaz_proto::resources::v1 as res;
use markaz_proto::resources::v1::resources_service_client::ResourcesServiceClient;
use tonic::transport::Channel;

const TRAINER: &str = "t-trainer";
const REVIEWER: &str = "r-reviewer";

fn text(ar: &str, en: &str) -> Option<common_pb::LocalizedText> {
    Some(common_pb::LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

fn money(minor_units: i64) -> Option<common_pb::Money> {
    Some(common_pb::Money {
        currency_code: "USD".into(),
        minor_units,
    })
}

/// Every kind of object a page shows, made over gRPC as staff.
struct Fixture {
    org: String,
    other_org: String,
    person: String,
    course: String,
    certificate: String,
    consultation: String,
    call: String,
    proposal: String,
    award: String,
    /// A networking event the organization is invited to, and one it is not.
    event: String,
    other_event: String,
    /// The erasure of a person registered only to be erased.
    erasure: String,
}

/// Retries `call` while the services have not yet heard (by event) of what
/// it refers to: FAILED_PRECONDITION until the copy arrives.
async fn once_known<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    eventually(Duration::from_secs(15), || {
        let attempt = call();
        async move {
            match attempt.await {
                Ok(v) => Some(v),
                Err(s) if s.code() == tonic::Code::FailedPrecondition => None,
                Err(s) => panic!("{what}: {s:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|| panic!("{what}: never known"))
}

async fn fixture(world: &World) -> Fixture {
    let channel: Channel = world.markaz.channel().await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let mut m = MembershipServiceClient::with_interceptor(channel.clone(), Bearer::new(&token));
    let mut c = CapacityServiceClient::with_interceptor(channel.clone(), Bearer::new(&token));
    let mut g = GrantsServiceClient::with_interceptor(channel.clone(), Bearer::new(&token));
    let mut n = NetworkingServiceClient::with_interceptor(channel, Bearer::new(&token));
    let today = markaz_kit::time::Date::today();

    m.create_branch(mem::CreateBranchRequest {
        branch: Some(mem::Branch {
            id: "raqqa".into(),
            name: text("الرقة", "Raqqa"),
            governorate: "الرقة".into(),
            create_time: None,
        }),
    })
    .await
    .unwrap();
    let org_named = |ar: &str, en: &str| mem::CreateOrganizationRequest {
        organization: Some(mem::Organization {
            kind: common_pb::OrganizationKind::Cso as i32,
            name: text(ar, en),
            sectors: vec![common_pb::Sector::Education as i32],
            ..Default::default()
        }),
        apply_for_incubation: true,
        request_id: String::new(),
    };
    let org = m
        .create_organization(org_named("جمعية شباب الفرات", "Euphrates Youth"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let other_org = m
        .create_organization(org_named("جمعية أخرى", "Another"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let new_person = |name: &str| mem::CreatePersonRequest {
        person: Some(mem::Person {
            full_name: name.into(),
            gender: common_pb::Gender::Female as i32,
            age_band: common_pb::AgeBand::AgeBand2534 as i32,
            legal_basis: mem::LegalBasis::Consent as i32,
            processing_purpose: "training participant".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let person = m
        .create_person(new_person("سلمى الأحمد"))
        .await
        .unwrap()
        .into_inner()
        .id;
    m.create_affiliation(mem::CreateAffiliationRequest {
        affiliation: Some(mem::Affiliation {
            person_id: person.clone(),
            organization_id: org.clone(),
            role: "coordinator".into(),
            start_date: Some(today.to_proto()),
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .unwrap();
    let reviewer_person = m
        .create_person(new_person("خبير مستقل"))
        .await
        .unwrap()
        .into_inner()
        .id;

    // A course run to its end: one day, one participant, a certificate.
    let (course_id, started, enrolment) = running_course(&mut c, &[today], &person, &org).await;
    c.record_attendance(cap::RecordAttendanceRequest {
        course_id: course_id.clone(),
        session_id: started.sessions[0].id.clone(),
        marks: vec![cap::AttendanceMark {
            enrolment_id: enrolment.id,
            status: cap::AttendanceStatus::Present as i32,
            ..Default::default()
        }],
        request_id: String::new(),
    })
    .await
    .unwrap();
    let started = c
        .get_course(cap::GetCourseRequest {
            id: course_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    c.complete_course(cap::CompleteCourseRequest {
        id: course_id.clone(),
        etag: started.etag,
    })
    .await
    .unwrap();
    let certificate = c
        .list_certificates(cap::ListCertificatesRequest {
            course_id: course_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .certificates[0]
        .id
        .clone();
    let consultation = c
        .create_consultation(cap::CreateConsultationRequest {
            consultation: Some(cap::Consultation {
                kind: cap::ConsultationKind::Consultation as i32,
                organization_id: org.clone(),
                advisor: Some(cap::Advisor {
                    name: "مستشار".into(),
                    kind: cap::AdvisorKind::Staff as i32,
                }),
                branch_id: "raqqa".into(),
                held_on: Some(today.to_proto()),
                duration_minutes: 60,
                follow_up_actions: vec![cap::FollowUpAction {
                    description: "إعداد الميزانية".into(),
                    owner: "المحاسب".into(),
                    due_date: Some(today.add_days(3).to_proto()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;

    // A grant from the call to the award, reviewed by an assigned reviewer.
    let program = g
        .create_program(gr::CreateProgramRequest {
            program: Some(gr::Program {
                name: text("منحة الأب باولو", "Father Paolo Grant"),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let call = g
        .create_call(gr::CreateCallRequest {
            call: Some(gr::Call {
                program_id: program,
                title: text("الجولة الأولى", "First round"),
                budget_envelope: money(10_000_000),
                project_ceiling: money(1_000_000),
                opens_on: Some(today.to_proto()),
                closes_on: Some(today.add_days(30).to_proto()),
                rubric: Some(gr::Rubric {
                    max_score: 5,
                    criteria: vec![gr::Criterion {
                        code: "need".into(),
                        name: text("حاجة المجتمع", "Community need"),
                        weight: 1,
                        ..Default::default()
                    }],
                }),
                blind_review: true,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let call_id = call.id.clone();
    g.open_call(gr::OpenCallRequest {
        id: call_id.clone(),
        etag: call.etag,
    })
    .await
    .unwrap();
    let draft = once_known("proposal", || {
        let mut g = g.clone();
        let request = gr::CreateProposalRequest {
            proposal: Some(gr::Proposal {
                call_id: call_id.clone(),
                organization_id: org.clone(),
                title: text("إعادة تأهيل بئر", "Well rehabilitation"),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        async move { g.create_proposal(request).await }
    })
    .await
    .into_inner();
    let proposal = draft.id.clone();
    let filled = g
        .update_proposal(gr::UpdateProposalRequest {
            proposal: Some(gr::Proposal {
                id: proposal.clone(),
                title: draft.title.clone(),
                summary: text("ملخص", "Summary"),
                community_need: text("مياه الشرب", "Drinking water"),
                location: Some(gr::Location {
                    governorate: "الرقة".into(),
                    place: text("قرية", "A village"),
                }),
                sector: common_pb::Sector::WaterSanitationHygiene as i32,
                beneficiaries_targeted: Some(gr::Beneficiaries {
                    female: 40,
                    male: 35,
                    undisclosed: 0,
                }),
                budget_lines: vec![gr::BudgetLine {
                    category: gr::BudgetCategory::Equipment as i32,
                    description: text("مضخة", "Pump"),
                    amount: money(500_000),
                    ..Default::default()
                }],
                milestones: vec![gr::Milestone {
                    title: text("تركيب المضخة", "Pump installed"),
                    due_date: Some(today.add_days(20).to_proto()),
                    deliverables: text("محضر تسليم", "Handover minutes"),
                    ..Default::default()
                }],
                start_date: Some(today.add_days(1).to_proto()),
                end_date: Some(today.add_days(60).to_proto()),
                etag: draft.etag,
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap()
        .into_inner();
    let submitted = g
        .submit_proposal(gr::SubmitProposalRequest {
            id: proposal.clone(),
            etag: filled.etag,
        })
        .await
        .unwrap()
        .into_inner();
    let reviewer = once_known("reviewer", || {
        let mut g = g.clone();
        let request = gr::CreateReviewerRequest {
            reviewer: Some(gr::Reviewer {
                person_id: reviewer_person.clone(),
                subject: REVIEWER.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        async move { g.create_reviewer(request).await }
    })
    .await
    .into_inner();
    let reviewing = g
        .start_review(gr::StartReviewRequest {
            id: proposal.clone(),
            etag: submitted.etag,
        })
        .await
        .unwrap()
        .into_inner();
    g.assign_reviewer(gr::AssignReviewerRequest {
        proposal_id: proposal.clone(),
        reviewer_id: reviewer.id,
    })
    .await
    .unwrap();
    let approved = g
        .decide_proposal(gr::DecideProposalRequest {
            id: proposal.clone(),
            decision: gr::Decision::Approve as i32,
            reason: String::new(),
            etag: reviewing.etag,
        })
        .await
        .unwrap()
        .into_inner();
    let award = g
        .award_grant(gr::AwardGrantRequest {
            proposal_id: proposal.clone(),
            amount: money(500_000),
            tranches: vec![gr::TrancheSpec {
                milestone_number: 1,
                amount: money(500_000),
            }],
            etag: approved.etag,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let (event, other_event) = networking_fixture(&mut n, &org).await;
    coworking_fixture(world, &other_org).await;
    let erased = m
        .create_person(new_person("شخص طلب المحو"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let erasure = m
        .erase_person(mem::ErasePersonRequest {
            id: erased,
            reason: "طلب الشخص".into(),
            legal_ground: mem::ErasureGround::DataSubjectRequest as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .erasure_id;
    Fixture {
        erasure,
        event,
        other_event,
        org,
        other_org,
        person,
        course: course_id,
        certificate,
        consultation,
        call: call_id,
        proposal,
        award,
    }
}

/// An issue, two events tomorrow (the organization invited to the first,
/// with a commitment of its own), a coalition it leads and its campaign.
async fn networking_fixture(
    n: &mut NetworkingServiceClient<Authed>,
    org: &str,
) -> (String, String) {
    n.create_issue(net::CreateIssueRequest {
        issue: Some(net::Issue {
            code: "clean-schools".into(),
            name: text("مدارس نظيفة", "Clean schools"),
            ..Default::default()
        }),
    })
    .await
    .unwrap();
    // Started a moment ago: check-in is open and it can be held.
    let start = markaz_kit::time::now_micros() / 1_000_000 - 10;
    let event = |title: &str| net::CreateEventRequest {
        event: Some(net::Event {
            kind: net::EventKind::Networking as i32,
            title: text(title, "Networking"),
            branch_id: "raqqa".into(),
            venue: "قاعة المركز".into(),
            start_time: Some(prost_types::Timestamp {
                seconds: start,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: start + 7200,
                nanos: 0,
            }),
            utc_offset_minutes: 180,
            issue_codes: vec!["clean-schools".into()],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let invited = n
        .create_event(event("لقاء تشبيك المنظمات"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let other = n
        .create_event(event("لقاء آخر"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut n2 = n.clone();
    let invited_id = invited.clone();
    once_known("invitation", || {
        let request = net::BatchCreateInvitationsRequest {
            event_id: invited_id.clone(),
            invitations: vec![net::Invitation {
                invitee: Some(net::invitation::Invitee::OrganizationId(org.to_string())),
                ..Default::default()
            }],
            request_id: String::new(),
        };
        let mut n = n2.clone();
        async move { n.batch_create_invitations(request).await }
    })
    .await;
    // Commitments are made at a held event: somebody came.
    let walk_in = n
        .check_in(net::CheckInRequest {
            event_id: invited.clone(),
            entries: vec![net::CheckInEntry {
                participant: Some(net::check_in_entry::Participant::WalkIn(net::WalkIn {
                    key: "door-1".into(),
                    count: 2,
                })),
                category: net::ParticipantCategory::Individual as i32,
                gender: common_pb::Gender::Female as i32,
            }],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(walk_in.added, 1);
    let etag = n
        .get_event(net::GetEventRequest {
            id: invited.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .etag;
    n.mark_event_held(net::MarkEventHeldRequest {
        id: invited.clone(),
        etag,
    })
    .await
    .unwrap();
    n.create_commitment(net::CreateCommitmentRequest {
        commitment: Some(net::Commitment {
            event_id: invited.clone(),
            description: text("تقديم قائمة المدارس", "List the schools"),
            owner: Some(net::CommitmentOwner {
                kind: net::OwnerKind::Organization as i32,
                organization_id: org.to_string(),
                ..Default::default()
            }),
            due_date: Some(markaz_kit::time::Date::today().add_days(7).to_proto()),
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .unwrap();
    let coalition = n2
        .create_coalition(coalition_led_by(
            "تحالف المدارس النظيفة",
            "Clean schools coalition",
            org,
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    n2.create_campaign(net::CreateCampaignRequest {
        campaign: Some(net::Campaign {
            title: text("حملة مدارس نظيفة", "Clean schools campaign"),
            issue_code: "clean-schools".into(),
            runner: Some(net::campaign::Runner::CoalitionId(coalition)),
            targets: vec![net::CampaignTarget {
                kind: net::TargetKind::Community as i32,
                description: text("أهالي الطلاب", "Parents"),
                ..Default::default()
            }],
            branch_id: "raqqa".into(),
            start_date: Some(markaz_kit::time::Date::today().to_proto()),
            end_date: Some(markaz_kit::time::Date::today().add_days(90).to_proto()),
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .unwrap();
    (invited, other)
}

/// A meeting room in Raqqa, open 08:00–20:00 every day, booked tomorrow
/// 10:00–12:00 (Raqqa time) by `org`.
async fn coworking_fixture(world: &World, org: &str) -> String {
    let channel = world.markaz.channel().await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let r = ResourcesServiceClient::with_interceptor(channel, Bearer::new(&token));
    let space = once_known("space", || {
        let mut r = r.clone();
        let request = res::CreateSpaceRequest {
            space: Some(res::Space {
                branch_id: "raqqa".into(),
                kind: res::SpaceKind::MeetingRoom as i32,
                name: text("قاعة الفرات", "Euphrates room"),
                capacity: 12,
                opening_hours: (1..=7)
                    .map(|d| res::OpeningInterval {
                        weekday: d,
                        opens_minute: 8 * 60,
                        closes_minute: 20 * 60,
                    })
                    .collect(),
                utc_offset_minutes: 180,
                bookable_by: res::BookableBy::Partners as i32,
                ..Default::default()
            }),
            request_id: "space-1".into(),
        };
        async move { r.create_space(request).await }
    })
    .await
    .into_inner()
    .id;
    let tomorrow = markaz_kit::time::Date::today().add_days(1).days() * 86_400;
    let at = |h: i64| prost_types::Timestamp {
        seconds: tomorrow + (h - 3) * 3600,
        nanos: 0,
    };
    once_known("booking", || {
        let mut r = r.clone();
        let request = res::CreateBookingRequest {
            booking: Some(res::Booking {
                space_id: space.clone(),
                organization_id: org.to_string(),
                purpose: res::BookingPurpose::Meeting as i32,
                expected_attendance: 6,
                start_time: Some(at(10)),
                end_time: Some(at(12)),
                ..Default::default()
            }),
            request_id: "booking-1".into(),
        };
        async move { r.create_booking(request).await }
    })
    .await;
    space
}

/// A course taking attendance: scheduled on `days`, opened, `person` (of
/// `org`) enrolled, started. Returns its id, the started course and the
/// enrolment.
async fn running_course(
    c: &mut CapacityServiceClient<Authed>,
    days: &[markaz_kit::time::Date],
    person: &str,
    org: &str,
) -> (String, cap::Course, cap::Enrolment) {
    let course = once_known("course", || {
        let mut c = c.clone();
        let request = cap::CreateCourseRequest {
            course: Some(cap::Course {
                kind: cap::CourseKind::TrainingCourse as i32,
                title: text("كتابة المقترحات", "Proposal writing"),
                topic_codes: vec!["proposal-writing".into()],
                branch_id: "raqqa".into(),
                sessions: days
                    .iter()
                    .map(|d| cap::Session {
                        date: Some(d.to_proto()),
                        ..Default::default()
                    })
                    .collect(),
                capacity: 10,
                trainers: vec![cap::Trainer {
                    name: "مدربة".into(),
                    subject: TRAINER.into(),
                    external: false,
                }],
                audience: cap::Audience::Open as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        };
        async move { c.create_course(request).await }
    })
    .await
    .into_inner();
    let course_id = course.id.clone();
    let opened = c
        .open_course(cap::OpenCourseRequest {
            id: course_id.clone(),
            etag: course.etag,
        })
        .await
        .unwrap()
        .into_inner();
    let enrolment = once_known("enrolment", || {
        let mut c = c.clone();
        let request = cap::EnrolParticipantRequest {
            course_id: course_id.clone(),
            person_id: person.to_string(),
            organization_id: org.to_string(),
            request_id: String::new(),
        };
        async move { c.enrol_participant(request).await }
    })
    .await
    .into_inner();
    let started = c
        .start_course(cap::StartCourseRequest {
            id: course_id.clone(),
            etag: opened.etag,
        })
        .await
        .unwrap()
        .into_inner();
    (course_id, started, enrolment)
}

/// The fixture's coalition (the organization leads it) and its campaign.
async fn coalition_of(world: &World) -> (String, String) {
    let channel: Channel = world.markaz.channel().await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let mut n = NetworkingServiceClient::with_interceptor(channel, Bearer::new(&token));
    let coalition = n
        .list_coalitions(net::ListCoalitionsRequest {
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .coalitions
        .into_iter()
        .find(|c| {
            c.name
                .as_ref()
                .is_some_and(|t| t.ar == "تحالف المدارس النظيفة")
        })
        .expect("the fixture's coalition")
        .id;
    let campaign = n
        .list_campaigns(net::ListCampaignsRequest {
            page_size: 10,
            coalition_id: coalition.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .campaigns[0]
        .id
        .clone();
    (coalition, campaign)
}

/// A coalition about clean schools in Raqqa, formed today, `lead` its only
/// member.
fn coalition_led_by(ar: &str, en: &str, lead: &str) -> net::CreateCoalitionRequest {
    net::CreateCoalitionRequest {
        coalition: Some(net::Coalition {
            name: text(ar, en),
            issue_codes: vec!["clean-schools".into()],
            lead_organization_id: lead.to_string(),
            branch_id: "raqqa".into(),
            formed_on: Some(markaz_kit::time::Date::today().to_proto()),
            ..Default::default()
        }),
        founding_member_ids: Vec::new(),
        request_id: String::new(),
    }
}

/// A coalition `lead` leads alone.
async fn other_coalition(world: &World, lead: &str) -> String {
    let channel: Channel = world.markaz.channel().await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let mut n = NetworkingServiceClient::with_interceptor(channel, Bearer::new(&token));
    n.create_coalition(coalition_led_by("تحالف آخر", "Another coalition", lead))
        .await
        .unwrap()
        .into_inner()
        .id
}

/// A query parameter's value, percent-encoded.
fn query(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A published guide (visible to partners) and a staff-only draft, made over
/// gRPC as staff.
async fn library_fixture(world: &World) -> (String, String) {
    let channel: Channel = world.markaz.channel().await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let mut r = ResourcesServiceClient::with_interceptor(channel, Bearer::new(&token));
    let item = |title: Option<common_pb::LocalizedText>, visibility: res::Visibility| {
        res::CreateItemRequest {
            item: Some(res::Item {
                kind: res::ItemKind::Guide as i32,
                title,
                language: "ar".into(),
                source: Some(res::Source {
                    kind: res::SourceKind::Center as i32,
                    ..Default::default()
                }),
                visibility: visibility as i32,
                external_url: "https://example.org/guide".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        }
    };
    let guide = r
        .create_item(item(
            text("دليل المناصرة المجتمعية", "Community advocacy guide"),
            res::Visibility::Partners,
        ))
        .await
        .unwrap()
        .into_inner();
    r.publish_item(res::PublishItemRequest {
        id: guide.id.clone(),
        etag: String::new(),
    })
    .await
    .unwrap();
    let draft = r
        .create_item(item(
            text("مسودة داخلية", "Internal draft"),
            res::Visibility::StaffOnly,
        ))
        .await
        .unwrap()
        .into_inner();
    (guide.id, draft.id)
}

const ROLES: [&str; 6] = [
    "staff", "admin", "trainer", "reviewer", "partner", "operator",
];

/// What a page answers a role: the page, a redirect within the console, a
/// refusal by the console (not offered), or NOT_FOUND (the service hides it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Page,
    Redirect,
    NotOffered,
    Hidden,
}

fn expect_for(role: &str, offered: &[&str], redirects: &[&str], hidden: &[&str]) -> Expect {
    if redirects.contains(&role) {
        Expect::Redirect
    } else if hidden.contains(&role) {
        Expect::Hidden
    } else if offered.contains(&role) {
        Expect::Page
    } else {
        Expect::NotOffered
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_for_the_roles_it_is_offered_to_and_refuses_the_others() {
    let started = Instant::now();
    let world = World::start().await;
    let f = fixture(&world).await;
    eprintln!("fixture ready in {:?}", started.elapsed());
    const STAFF: &[&str] = &["staff", "admin"];
    const ORGS: &[&str] = &["staff", "admin", "trainer", "partner"];
    const TENANT_ROLES: &[&str] = &["staff", "admin", "trainer", "reviewer", "partner"];
    const GRANTS: &[&str] = TENANT_ROLES;
    const APPLICANTS: &[&str] = &["staff", "admin", "partner"];
    const CONSULT: &[&str] = &["staff", "admin", "partner"];
    const OPERATOR: &[&str] = &["operator"];
    const NOBODY: &[&str] = &[];
    let (published_item, staff_draft) = library_fixture(&world).await;
    let (coalition, campaign) = coalition_of(&world).await;
    let other_coalition = other_coalition(&world, &f.other_org).await;
    let org_tab = |tab: &str| format!("/organizations/{}?tab={tab}", f.org);
    // (path, offered to, redirects, hidden by the service)
    type Row<'a> = (String, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let pages: Vec<Row> = vec![
        ("/today".into(), TENANT_ROLES, NOBODY, NOBODY),
        ("/organizations".into(), ORGS, &["partner"], NOBODY),
        ("/organizations/new".into(), STAFF, NOBODY, NOBODY),
        (org_tab("profile"), ORGS, NOBODY, NOBODY),
        (org_tab("history"), APPLICANTS, NOBODY, NOBODY),
        (org_tab("assessments"), APPLICANTS, NOBODY, NOBODY),
        (org_tab("people"), APPLICANTS, NOBODY, NOBODY),
        (org_tab("trainings"), ORGS, NOBODY, NOBODY),
        (org_tab("grants"), ORGS, NOBODY, NOBODY),
        (
            format!("/organizations/{}", f.other_org),
            ORGS,
            NOBODY,
            &["partner"],
        ),
        (
            format!("/organizations/{}/assessments/new", f.org),
            STAFF,
            NOBODY,
            NOBODY,
        ),
        ("/courses".into(), ORGS, NOBODY, NOBODY),
        ("/courses/new".into(), STAFF, NOBODY, NOBODY),
        (format!("/courses/{}", f.course), ORGS, NOBODY, NOBODY),
        (
            format!("/courses/{}/certificates/{}", f.course, f.certificate),
            APPLICANTS,
            NOBODY,
            NOBODY,
        ),
        ("/consultations".into(), CONSULT, NOBODY, NOBODY),
        ("/consultations/new".into(), STAFF, NOBODY, NOBODY),
        (
            format!("/consultations/{}", f.consultation),
            CONSULT,
            NOBODY,
            NOBODY,
        ),
        ("/grants".into(), GRANTS, NOBODY, NOBODY),
        ("/grants/calls/new".into(), STAFF, NOBODY, NOBODY),
        (format!("/grants/calls/{}", f.call), GRANTS, NOBODY, NOBODY),
        (
            format!("/grants/proposals/{}", f.proposal),
            GRANTS,
            NOBODY,
            // Not its coach: the service does not show it the proposal.
            &["trainer"],
        ),
        (
            format!("/grants/proposals/{}/edit", f.proposal),
            APPLICANTS,
            NOBODY,
            NOBODY,
        ),
        (
            format!("/grants/awards/{}", f.award),
            APPLICANTS,
            NOBODY,
            NOBODY,
        ),
        (
            "/admin".into(),
            &["staff", "admin", "operator"],
            &["staff", "admin", "operator"],
            NOBODY,
        ),
        ("/admin/people".into(), STAFF, NOBODY, NOBODY),
        (format!("/admin/people/{}", f.person), STAFF, NOBODY, NOBODY),
        ("/admin/erasures".into(), STAFF, NOBODY, NOBODY),
        ("/admin/erasures?pending=on".into(), STAFF, NOBODY, NOBODY),
        (
            format!("/admin/erasures/{}", f.erasure),
            STAFF,
            NOBODY,
            NOBODY,
        ),
        ("/admin/tenants".into(), OPERATOR, NOBODY, NOBODY),
        ("/admin/dead-letters".into(), OPERATOR, NOBODY, NOBODY),
        ("/networking".into(), CONSULT, NOBODY, NOBODY),
        ("/networking/events/new".into(), STAFF, NOBODY, NOBODY),
        (
            format!("/networking/events/{}", f.event),
            CONSULT,
            NOBODY,
            NOBODY,
        ),
        (
            format!("/networking/events/{}", f.other_event),
            CONSULT,
            NOBODY,
            // Not invited: the service does not show it the event.
            &["partner"],
        ),
        (
            format!("/networking/events/{}/checkin", f.event),
            STAFF,
            NOBODY,
            NOBODY,
        ),
        ("/networking/commitments".into(), CONSULT, NOBODY, NOBODY),
        ("/networking/coalitions".into(), CONSULT, NOBODY, NOBODY),
        (
            format!("/networking/coalitions/{coalition}"),
            CONSULT,
            NOBODY,
            NOBODY,
        ),
        (
            format!("/networking/coalitions/{other_coalition}"),
            CONSULT,
            NOBODY,
            // Not a member: the service does not show it the coalition.
            &["partner"],
        ),
        (
            format!("/networking/campaigns/{campaign}"),
            CONSULT,
            NOBODY,
            NOBODY,
        ),
        ("/coworking".into(), ORGS, NOBODY, NOBODY),
        ("/coworking/spaces/new".into(), STAFF, NOBODY, NOBODY),
        (
            "/coworking?branch=raqqa&week=2026-13-01".into(),
            ORGS,
            NOBODY,
            NOBODY,
        ),
        ("/library".into(), ORGS, NOBODY, NOBODY),
        (
            format!("/library?q={}", query("المناصرة")),
            ORGS,
            NOBODY,
            NOBODY,
        ),
        ("/library/new".into(), APPLICANTS, NOBODY, NOBODY),
        (
            format!("/library/items/{published_item}"),
            ORGS,
            NOBODY,
            NOBODY,
        ),
        (
            format!("/library/items/{staff_draft}"),
            ORGS,
            NOBODY,
            // A staff draft: nobody but staff sees it.
            &["trainer", "partner"],
        ),
        ("/impact".into(), STAFF, NOBODY, NOBODY),
        (
            "/impact?chart=consultation_sessions".into(),
            STAFF,
            NOBODY,
            NOBODY,
        ),
        ("/impact/shares".into(), STAFF, NOBODY, NOBODY),
    ];
    let public = ["/public", "/verify", "/suggest", "/profile", "/signin"];

    let mut checked = 0;
    for role in ROLES {
        let subject = match role {
            "trainer" => TRAINER,
            "reviewer" => REVIEWER,
            other => other,
        };
        let org = (role == "partner").then_some(f.org.as_str());
        let mut b = world.signed_in(role, subject, org).await;
        for (path, offered, redirects, hidden) in &pages {
            let page = b.get(path).await;
            let want = expect_for(role, offered, redirects, hidden);
            let got = match page.status {
                200 => Expect::Page,
                303 if !page.location().starts_with("/signin") => Expect::Redirect,
                403 => Expect::NotOffered,
                404 => Expect::Hidden,
                other => panic!("{role} {path}: HTTP {other}\n{}", page.body),
            };
            assert_eq!(
                got,
                want,
                "{role} {path}: {}",
                &page.body[..page.body.len().min(2000)]
            );
            if got != Expect::Redirect {
                assert!(
                    page.contains(r#"<html lang="ar" dir="rtl">"#),
                    "{role} {path}"
                );
            }
            checked += 1;
        }
        for path in public {
            assert_eq!(b.get(path).await.status, 200, "{role} {path}");
        }
    }
    // Nobody signed in: every page but the public ones leads to the sign-in.
    let mut anonymous = world.browser();
    for (path, ..) in &pages {
        let page = anonymous.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert!(page.location().starts_with("/signin?next="), "{path}");
    }
    for path in public {
        assert_eq!(anonymous.get(path).await.status, 200, "{path}");
    }
    // In English by choice: every staff page renders left to right.
    let mut english = world.signed_in("staff", "staff", None).await;
    english.cookies.insert("mz_lang".into(), "en".into());
    for (path, offered, redirects, _) in &pages {
        if offered.contains(&"staff") && !redirects.contains(&"staff") {
            let page = english.get(path).await;
            assert_eq!(page.status, 200, "{path}");
            assert!(page.contains(r#"<html lang="en" dir="ltr">"#), "{path}");
        }
    }
    eprintln!(
        "{checked} role × page answers checked in {:?}",
        started.elapsed()
    );

    // The partner sees its own organization's certificate, named in Arabic
    // byte for byte; staff see the blind call's proposal with its applicant
    // while the reviewer does not.
    let mut partner = world.signed_in("partner", "p", Some(&f.org)).await;
    let cert = partner
        .get(&format!(
            "/courses/{}/certificates/{}",
            f.course, f.certificate
        ))
        .await;
    assert!(cert.contains("سلمى الأحمد"), "{}", cert.body);
    let mut reviewer = world.signed_in("reviewer", REVIEWER, None).await;
    let blind = reviewer
        .get(&format!("/grants/proposals/{}", f.proposal))
        .await;
    assert!(
        !blind.contains("جمعية شباب الفرات"),
        "the reviewer sees the applicant"
    );
    let mut staff = world.signed_in("staff", "staff", None).await;
    let open = staff
        .get(&format!("/grants/proposals/{}", f.proposal))
        .await;
    assert!(open.contains("جمعية شباب الفرات"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_needs_the_csrf_token_of_its_own_session() {
    let world = World::start().await;
    let mut mallory = world.signed_in("staff", "mallory", None).await;
    let mut alice = world.signed_in("staff", "alice", None).await;
    let form = alice.get("/organizations/new").await;
    let fields = |csrf: &str, request_id: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("request_id".to_string(), request_id.to_string()),
            (
                "organization.kind".to_string(),
                "ORGANIZATION_KIND_CSO".to_string(),
            ),
            ("organization.name.ar".to_string(), "جمعية".to_string()),
        ]
    };
    async fn post(b: &mut Browser, pairs: Vec<(String, String)>) -> common::Page {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        b.post("/organizations/new", &refs).await
    }
    // No token, a made-up token, another session's token: refused, with a
    // page that says why.
    for (name, csrf) in [
        ("none", String::new()),
        ("forged", "AAAA".to_string()),
        (
            "another session's",
            mallory.get("/organizations/new").await.csrf(),
        ),
    ] {
        let answer = post(&mut alice, fields(&csrf, &form.request_id())).await;
        assert_eq!(answer.status, 403, "{name}");
        assert!(
            answer.contains("انتهت صلاحية النموذج"),
            "{name}: {}",
            answer.body
        );
    }
    // Nothing was written meanwhile.
    assert!(!alice.get("/organizations").await.contains("جمعية<"));
    // Every POST route is guarded, the anonymous ones too.
    let mut anonymous = world.browser();
    anonymous.get("/public").await;
    for path in ["/suggest", "/signin", "/lang", "/signout"] {
        assert_eq!(anonymous.post(path, &[]).await.status, 403, "{path}");
    }
    // The right token goes through, once: the retry with the same request id
    // is the same organization.
    let good = post(&mut alice, fields(&form.csrf(), &form.request_id())).await;
    assert_eq!(good.status, 303, "{}", good.body);
    let again = post(&mut alice, fields(&form.csrf(), &form.request_id())).await;
    assert_eq!(
        again.location(),
        good.location(),
        "a retry is the same creation"
    );
    // After sign-out the session's token is worthless.
    let csrf = form.csrf();
    assert_eq!(alice.post("/signout", &[("csrf", &csrf)]).await.status, 303);
    assert_eq!(post(&mut alice, fields(&csrf, "x")).await.status, 403);
    assert_eq!(alice.get("/today").await.status, 303, "signed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_violations_are_shown_next_to_their_fields() {
    let world = World::start().await;
    let mut staff = world.signed_in("staff", "staff", None).await;
    // No kind, no name, a bad e-mail: the service names every field at once.
    let answer = staff
        .submit(
            "/organizations/new",
            "/organizations/new",
            &[
                ("organization.email", "not-an-email"),
                ("organization.name.ar", ""),
            ],
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    for field in [
        "organization-kind",
        "organization-name",
        "organization-email",
    ] {
        let error = format!(r#"id="{field}-error""#);
        assert!(answer.contains(&error), "{field}: {}", answer.body);
    }
    // Each error sits in the field's own block, after its input, and the
    // input points at it.
    let kind_block = answer
        .body
        .split(r#"id="f-organization-kind""#)
        .nth(1)
        .unwrap();
    let before_next_field = kind_block.split("class=\"field").next().unwrap();
    assert!(before_next_field.contains("organization-kind-error"));
    assert!(answer.contains(r#"aria-describedby="organization-email-error""#));
    // What was typed stays.
    assert!(answer.contains(r#"value="not-an-email""#));
    // A course's rows are named as the service names them.
    let answer = staff
        .submit(
            "/courses/new",
            "/courses/new",
            &[
                ("course.kind", "COURSE_KIND_WORKSHOP"),
                ("course.title.ar", "ورشة"),
                ("course.capacity", "0"),
                ("course.sessions[0].date", "2026-13-40"),
                ("course.audience", "AUDIENCE_OPEN"),
            ],
        )
        .await;
    assert_eq!(answer.status, 422);
    assert!(
        answer.contains(r#"id="course-sessions-0--date-error""#),
        "{}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_outages_get_a_readable_page() {
    let world = World::start().await;
    let mut staff = world.signed_in("staff", "staff", None).await;
    // NOT_FOUND: an organization that does not exist.
    let missing = staff
        .get("/organizations/0190f0c8-0000-7000-8000-000000000000")
        .await;
    assert_eq!(missing.status, 404);
    assert!(missing.contains("غير موجود"), "{}", missing.body);
    // PERMISSION_DENIED from the service: a trainer taking attendance of a
    // course that does not list them.
    let f = fixture(&world).await;
    let mut trainer = world.signed_in("trainer", "another-trainer", None).await;
    let csrf = trainer.get("/courses").await.csrf();
    let denied = trainer
        .post(
            &format!("/courses/{}/attendance", f.course),
            &[
                ("csrf", &csrf),
                (
                    "mark.0190f0c8-0000-7000-8000-000000000001.0190f0c8-0000-7000-8000-000000000002",
                    "ATTENDANCE_STATUS_PRESENT",
                ),
            ],
        )
        .await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert!(denied.contains("غير مسموح"), "{}", denied.body);
    // UNAVAILABLE: the services stop; the page says to try again.
    let World {
        markaz, console, ..
    } = world;
    markaz.app.shutdown().await;
    let down = staff.get("/organizations").await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.contains("الخدمة غير متاحة مؤقتاً"), "{}", down.body);
    console.shutdown().await;
}

/// The first load of each kind of page, compressed as a browser asks for it:
/// HTML, the stylesheet and htmx (the only assets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_page_load_is_under_100_kb_compressed() {
    let world = World::start().await;
    let f = fixture(&world).await;
    let mut staff = world.signed_in("staff", "staff", None).await;
    staff.gzip = true;
    let first = staff.get("/today").await;
    assert_eq!(first.status, 200, "{first:?}");
    let assets: Vec<String> = first
        .body
        .split(['"', '\''])
        .filter(|s| s.starts_with("/static/"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        assets.len(),
        2,
        "a stylesheet and htmx: {assets:?} in {}",
        &first.body[..first.body.len().min(900)]
    );
    let mut asset_bytes = 0;
    for a in &assets {
        let page = staff.get(a).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.headers["content-encoding"], "gzip");
        assert!(
            page.headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        asset_bytes += page.wire_bytes;
    }
    let mut report = Vec::new();
    for path in [
        "/public".to_string(),
        "/signin".to_string(),
        "/today".to_string(),
        "/organizations".to_string(),
        format!("/organizations/{}?tab=assessments", f.org),
        format!("/courses/{}", f.course),
        format!("/grants/calls/{}", f.call),
        format!("/grants/proposals/{}", f.proposal),
        format!("/grants/awards/{}", f.award),
        "/grants/calls/new".to_string(),
        "/library".to_string(),
        "/library/new".to_string(),
    ] {
        let page = staff.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.headers["content-encoding"], "gzip", "{path}");
        let total = page.wire_bytes + asset_bytes;
        report.push(format!(
            "{path}: html {} B gzip ({} B plain) + assets {asset_bytes} B = {total} B",
            page.wire_bytes,
            page.body.len()
        ));
        assert!(total < 100 * 1024, "{path}: {total} B");
    }
    eprintln!(
        "page weights (first load, gzip):\n  {}",
        report.join("\n  ")
    );
    // An htmx navigation brings the main part only.
    let partial = staff
        .get_with("/organizations", &[("hx-request", "true")])
        .await;
    assert!(!partial.contains("<html"), "a partial page");
    assert!(partial.contains("<table"));
    let _ = TENANT;
}

/// The grid's columns carry request ids: a submission sent twice (the
/// answer lost on a bad line) is recorded once; the same id with other
/// marks is refused, not applied; after a save the page has new ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attendance_grid_is_safe_to_send_again() {
    let world = World::start().await;
    let f = fixture(&world).await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let mut c =
        CapacityServiceClient::with_interceptor(world.markaz.channel().await, Bearer::new(&token));
    let today = markaz_kit::time::Date::today();
    let (course, started, enrolment) =
        running_course(&mut c, &[today.add_days(-1), today], &f.person, &f.org).await;
    let mut trainer = world.signed_in("trainer", TRAINER, None).await;
    let page = trainer.get(&format!("/courses/{course}")).await;
    assert_eq!(page.status, 200);
    let first_day = &started.sessions[0].id;
    let request_id = page.attr_after(&format!("name=\"request_id.{first_day}\" value=\""));
    assert!(!request_id.is_empty(), "{}", page.body);
    let cell = format!("mark.{first_day}.{}", enrolment.id);
    let request_field = format!("request_id.{first_day}");
    let csrf = page.csrf();
    let send = |mark: &'static str| {
        vec![
            ("csrf".to_string(), csrf.clone()),
            (request_field.clone(), request_id.clone()),
            (cell.clone(), mark.to_string()),
        ]
    };
    async fn post(b: &mut Browser, path: &str, pairs: Vec<(String, String)>) -> common::Page {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        b.post(path, &refs).await
    }
    let path = format!("/courses/{course}/attendance");
    let saved = post(&mut trainer, &path, send("ATTENDANCE_STATUS_PRESENT")).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let again = post(&mut trainer, &path, send("ATTENDANCE_STATUS_PRESENT")).await;
    assert_eq!(again.status, 303, "the retry is answered as the first");
    let revisions = c
        .list_attendance_revisions(cap::ListAttendanceRevisionsRequest {
            course_id: course.clone(),
            session_id: first_day.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(revisions.len(), 1, "recorded once: {revisions:?}");
    // The same id with another mark is not a retry: refused and shown.
    let changed = post(&mut trainer, &path, send("ATTENDANCE_STATUS_ABSENT")).await;
    assert_eq!(changed.status, 422, "{}", changed.body);
    assert!(changed.contains("class=\"problems\""));
    // A fresh page has fresh ids: a correction goes through as a revision.
    let page = trainer.get(&format!("/courses/{course}")).await;
    let fresh = page.attr_after(&format!("name=\"request_id.{first_day}\" value=\""));
    assert_ne!(fresh, request_id);
    let correction = post(
        &mut trainer,
        &path,
        vec![
            ("csrf".to_string(), page.csrf()),
            (request_field.clone(), fresh),
            (cell.clone(), "ATTENDANCE_STATUS_ABSENT".to_string()),
        ],
    )
    .await;
    assert_eq!(correction.status, 303, "{}", correction.body);
    let marks = c
        .get_session_attendance(cap::GetSessionAttendanceRequest {
            course_id: course,
            session_id: first_day.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(marks.absent, 1, "{marks:?}");
}

/// An erasure through the console: the first POST only asks again (the
/// person is untouched), the confirmation erases and leads to the receipt,
/// which fills as every service confirms; the list shows it with its
/// confirmations; no ground is objected to before asking; without the
/// session's CSRF token nothing happens; trainers are not offered it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_is_confirmed_first_and_its_receipt_fills_as_services_confirm() {
    let world = World::start().await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let mut m = MembershipServiceClient::with_interceptor(
        world.markaz.channel().await,
        Bearer::new(&token),
    );
    let person = m
        .create_person(mem::CreatePersonRequest {
            person: Some(mem::Person {
                full_name: "ليلى حسن".into(),
                gender: common_pb::Gender::Female as i32,
                age_band: common_pb::AgeBand::AgeBand2534 as i32,
                legal_basis: mem::LegalBasis::Consent as i32,
                processing_purpose: "training participant".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let mut staff = world.signed_in("staff", "dpo", None).await;
    let page_path = format!("/admin/people/{person}");
    let erase = format!("/admin/people/{person}/erase");
    let csrf = staff.get(&page_path).await.csrf();
    // No ground: named next to its field, nothing asked.
    let no_ground = staff
        .post(&erase, &[("csrf", &csrf), ("reason", "طلب")])
        .await;
    assert_eq!(no_ground.status, 422, "{}", no_ground.body);
    assert!(no_ground.contains(r#"id="legal-ground-error""#));
    // The first step asks again and changes nothing.
    let ground = "ERASURE_GROUND_DATA_SUBJECT_REQUEST";
    let ask = staff
        .post(
            &erase,
            &[
                ("csrf", &csrf),
                ("legal_ground", ground),
                ("reason", "طلب الشخص بتاريخ اليوم"),
            ],
        )
        .await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.contains("ليلى حسن") && ask.contains(r#"name="confirm" value="yes""#));
    let kept = m
        .get_person(mem::GetPersonRequest { id: person.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(!kept.erased, "the first step erased");
    // Without the token the confirmation is refused, and nothing is erased.
    let forged = staff
        .post(
            &erase,
            &[
                ("legal_ground", ground),
                ("reason", "x"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    // Confirmed: erased, and the receipt.
    let done = staff
        .post(
            &erase,
            &[
                ("csrf", &csrf),
                ("legal_ground", ground),
                ("reason", "طلب الشخص بتاريخ اليوم"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let receipt = done.location().split('?').next().unwrap().to_string();
    assert!(receipt.starts_with("/admin/erasures/"), "{receipt}");
    let erased = m
        .get_person(mem::GetPersonRequest { id: person.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(erased.erased && erased.full_name.is_empty());
    assert_eq!(receipt, format!("/admin/erasures/{}", erased.erasure_id));
    // Every service confirms by event; the receipt shows each with what it
    // changed, then complete.
    let deadline = Instant::now() + Duration::from_secs(30);
    let complete = loop {
        let page = staff.get(&receipt).await;
        assert_eq!(page.status, 200, "{}", page.body);
        if page.contains("مكتمل") {
            break page;
        }
        assert!(Instant::now() < deadline, "never complete: {}", page.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        complete.contains("طلب الشخص بتاريخ اليوم"),
        "the reason byte for byte"
    );
    for service in ["العضوية", "بناء القدرات", "المنح", "التشبيك", "الموارد"]
    {
        assert!(complete.contains(service), "{service}: {}", complete.body);
    }
    assert!(!complete.contains("لم تؤكد بعد</h2>"), "nothing pending");
    // A person registered a moment ago is in no other record: each
    // service says it held none of it.
    assert!(complete.contains("لم تكن تحتفظ بشيء منه"));
    // The person's page links to it; the list has it, pending filter not.
    assert!(staff.get(&page_path).await.contains(&receipt));
    let list = staff.get("/admin/erasures").await;
    assert!(list.contains(&receipt), "{}", list.body);
    let pending = staff.get("/admin/erasures?pending=on").await;
    assert!(!pending.contains(&receipt), "{}", pending.body);
    let by_person = staff
        .get(&format!("/admin/erasures?person_id={person}"))
        .await;
    assert!(by_person.contains(&receipt));
    let bad = staff.get("/admin/erasures?person_id=nope").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.contains(r#"id="person-id-error""#), "{}", bad.body);
    // Trainers are not offered it.
    let mut trainer = world.signed_in("trainer", TRAINER, None).await;
    assert_eq!(trainer.get("/admin/erasures").await.status, 403);
}

/// The impact table shows the figures the impact service counted from the
/// fixture's events (a completed course, a consultation), split as asked,
/// in Arabic; a malformed date is named next to its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_impact_table_shows_the_figures_computed_from_the_records() {
    let world = World::start().await;
    let _f = fixture(&world).await;
    let mut staff = world.signed_in("staff", "staff", None).await;
    let year = markaz_kit::time::Date::today().to_proto().year;
    let path = format!(
        "/impact?from={}-01-01&until={}-12-31&by=DIMENSION_GENDER",
        year - 1,
        year
    );
    // The consultation's session reaches impact by event; wait for it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let shown = loop {
        let page = staff.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let counted = page
            .body
            .split("<tr>")
            .find(|r| r.contains("جلسات الاستشارة والدعم الفني"))
            .is_some_and(|row| !row.contains("<td>٠</td>"));
        if counted {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "the consultation is never counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(shown.contains("المتدربون"));
    assert!(shown.contains("الجنس"), "the split's column");
    assert!(shown.contains("آخر حدث محسوب"));
    let bad = staff.get("/impact?from=2025-13-40").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.contains(r#"id="from-error""#), "{}", bad.body);
}

/// Small counts a donor would see withheld are marked; the chart draws the
/// chosen indicator by month as inline SVG, right to left in Arabic; the
/// shares page lists an agreement (the purpose byte for byte, the donor by
/// name) and the threshold, admins end one (CSRF required, staff are not
/// offered the button and are refused the POST), and it then shows ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impact_marks_small_counts_draws_a_chart_and_lists_donor_shares() {
    use markaz_proto::donors::v1 as don;
    use markaz_proto::donors::v1::sharing_service_client::SharingServiceClient;
    let world = World::start().await;
    let _f = fixture(&world).await;
    let channel = world.markaz.channel().await;
    let operator = world.token(&[Role::Operator], None);
    let admin = world.token(&[Role::Admin], None);
    SharingServiceClient::with_interceptor(channel.clone(), Bearer::new(&operator))
        .register_donor(don::RegisterDonorRequest {
            donor: Some(don::Donor {
                id: "echo".into(),
                name: text("المفوضية الأوروبية للحماية المدنية", "ECHO"),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let programs = GrantsServiceClient::with_interceptor(channel.clone(), Bearer::new(&admin))
        .list_programs(gr::ListProgramsRequest {
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .programs;
    let year = markaz_kit::time::Date::today().to_proto().year;
    let purpose = "تقرير المنحة السنوي للمانح";
    let agreement = SharingServiceClient::with_interceptor(channel, Bearer::new(&admin))
        .create_share_agreement(don::CreateShareAgreementRequest {
            share_agreement: Some(don::ShareAgreement {
                donor_id: "echo".into(),
                program_ids: vec![programs[0].id.clone()],
                indicator_codes: vec!["trainees".into()],
                from: Some(common_pb::Date {
                    year,
                    month: 1,
                    day: 1,
                }),
                until: Some(common_pb::Date {
                    year,
                    month: 12,
                    day: 31,
                }),
                purpose: text(purpose, ""),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    let mut staff = world.signed_in("staff", "staff", None).await;
    let path = format!("/impact?from={year}-01-01&until={year}-12-31&chart=trainees");
    // The course's trainee reaches impact by event; wait for it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let shown = loop {
        let page = staff.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        if page.contains(r#"<mark class="withheld">١</mark>"#) {
            break page;
        }
        assert!(Instant::now() < deadline, "never marked: {}", page.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        shown.contains("عتبة الحجب"),
        "the legend names the threshold"
    );
    assert!(shown.contains(r#"<svg class="chart""#), "{}", shown.body);
    assert_eq!(shown.body.matches("<rect ").count(), 12, "a bar a month");
    // This month's bar has the trainee; in Arabic January is at the right.
    let month = markaz_kit::time::Date::today().to_proto().month;
    let label = format!("{year}-{month:02}");
    let arabic: String = label
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + '٠' as u32).unwrap(),
            other => other,
        })
        .collect();
    assert!(
        shown.contains(&format!("<title>{arabic}: ١</title>")),
        "{}",
        shown.body
    );
    let x_of = |body: &str, title: &str| -> f64 {
        body.split(&format!("<title>{title}"))
            .nth(1)
            .unwrap()
            .split("x=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let january = format!(
        "{}-٠١",
        label[..4]
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + '٠' as u32).unwrap())
            .collect::<String>()
    );
    let december = january.replace("-٠١", "-١٢");
    assert!(
        x_of(&shown.body, &january) > x_of(&shown.body, &december),
        "right to left"
    );

    // The shares page.
    let shares = staff.get("/impact/shares").await;
    assert_eq!(shares.status, 200, "{}", shares.body);
    assert!(shares.contains(purpose), "{}", shares.body);
    assert!(shares.contains("المفوضية الأوروبية للحماية المدنية"));
    assert!(shares.contains("المتدربون"), "the indicator by name");
    assert!(shares.contains("سارية"));
    let revoke = format!("/impact/shares/{}/revoke", agreement.id);
    assert!(
        !shares.contains(&revoke),
        "staff are not offered the button"
    );
    let csrf = shares.csrf();
    assert_eq!(
        staff
            .post(&revoke, &[("csrf", &csrf), ("reason", "x")])
            .await
            .status,
        403
    );
    let mut admin = world.signed_in("admin", "admin", None).await;
    let page = admin.get("/impact/shares").await;
    assert!(page.contains(&revoke), "{}", page.body);
    assert_eq!(
        admin
            .post(&revoke, &[("reason", "انتهى المشروع")])
            .await
            .status,
        403
    );
    let ended = admin
        .post(
            &revoke,
            &[("csrf", &page.csrf()), ("reason", "انتهى المشروع")],
        )
        .await;
    assert_eq!(ended.status, 303, "{}", ended.body);
    let after = admin.get(ended.location()).await;
    assert!(
        after.contains("منتهية") && after.contains("انتهى المشروع"),
        "{}",
        after.body
    );
    assert!(!after.contains(&revoke));
}

/// Networking through the console's forms: staff plan an event and invite
/// the organization, its partner accepts, the door checks in walk-ins (a
/// resent entry counts once) and a person of the organization, the event is
/// held and a commitment made there is fulfilled; the partner sees only its
/// own; every new form refuses a POST without its CSRF token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_from_invitation_to_follow_up() {
    let world = World::start().await;
    let f = fixture(&world).await;
    let mut staff = world.signed_in("staff", "staff", None).await;
    // Started a minute ago in Raqqa (UTC+3), typed as the venue's time.
    let local = markaz_kit::time::now_micros() / 1_000_000 + 180 * 60 - 60;
    let local_at = |secs: i64| {
        let d = markaz_kit::time::Date::from_days(secs.div_euclid(86_400)).to_proto();
        let s = secs.rem_euclid(86_400);
        (
            format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
            format!("{:02}:{:02}", s / 3600, s % 3600 / 60),
        )
    };
    let (day, hour) = local_at(local);
    let (end_day, end_hour) = local_at(local + 3 * 3600);
    let (starts, ends) = (format!("{day}T{hour}"), format!("{end_day}T{end_hour}"));
    let due = markaz_kit::time::Date::today().add_days(7).to_proto();
    let due = format!("{:04}-{:02}-{:02}", due.year, due.month, due.day);
    // A malformed time is named next to its field, nothing is created.
    let bad = staff
        .submit(
            "/networking/events/new",
            "/networking/events/new",
            &[
                ("event.kind", "EVENT_KIND_LOCAL_ADMINISTRATION_MEETING"),
                ("event.title.ar", "لقاء مع مجلس الرقة المدني"),
                ("event.branch_id", "raqqa"),
                ("event.start_time", "غداً"),
                ("event.end_time", &ends),
                ("event.utc_offset_minutes", "180"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.contains(r#"id="event-start-time-error""#),
        "{}",
        bad.body
    );
    let created = staff
        .submit(
            "/networking/events/new",
            "/networking/events/new",
            &[
                ("event.kind", "EVENT_KIND_LOCAL_ADMINISTRATION_MEETING"),
                ("event.title.ar", "لقاء مع مجلس الرقة المدني"),
                ("event.title.en", "Meeting the Raqqa civil council"),
                ("event.branch_id", "raqqa"),
                ("event.venue", "قاعة المركز"),
                ("event.start_time", &starts),
                ("event.end_time", &ends),
                ("event.utc_offset_minutes", "180"),
                ("event.issue_codes", "clean-schools"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let event_path = created.location().split('?').next().unwrap().to_string();
    let page = staff.get(&event_path).await;
    assert!(page.contains("لقاء مع مجلس الرقة المدني"), "{}", page.body);
    // The venue's time, shown as typed.
    let arabic_hour: String = hour
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32('٠' as u32 + (c as u32 - '0' as u32)).unwrap(),
            c => c,
        })
        .collect();
    assert!(page.contains(&arabic_hour), "{arabic_hour}: {}", page.body);
    let invite = format!("{event_path}/invite");
    let answer = staff
        .submit(
            &event_path,
            &invite,
            &[("invitee", "organization"), ("organization_id", &f.org)],
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let answer = staff
        .submit(
            &event_path,
            &invite,
            &[
                ("invitee", "guest"),
                ("guest.name", "أحمد العلي"),
                ("guest.affiliation", "مجلس الرقة المدني"),
                ("guest.gender", "GENDER_MALE"),
                ("category", "PARTICIPANT_CATEGORY_LOCAL_ADMINISTRATION"),
            ],
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);

    // The partner sees the event and its own invitation, and accepts.
    let mut partner = world.signed_in("partner", "p", Some(&f.org)).await;
    let seen = partner.get(&event_path).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.contains("جمعية شباب الفرات"));
    assert!(!seen.contains("أحمد العلي"), "another invitee's name");
    assert!(!seen.contains("/checkin"), "the door is staff's");
    let invitation = seen
        .attr_after(r#"action="/networking/invitations/"#)
        .trim_end_matches("/respond")
        .to_string();
    let etag = seen.attr_after(r#"name="etag" value=""#);
    let answer = partner
        .post(
            &format!("/networking/invitations/{invitation}/respond"),
            &[
                ("csrf", &seen.csrf()),
                ("etag", &etag),
                ("event_id", event_path.rsplit('/').next().unwrap()),
                ("response", "INVITATION_STATUS_ACCEPTED"),
                ("note", "سيحضر شخصان"),
            ],
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let after = staff.get(&event_path).await;
    assert!(after.contains("سيحضر شخصان"), "{}", after.body);

    // At the door: three walk-ins, the same entry sent twice, then a person
    // of the organization by name.
    let door = format!("{event_path}/checkin");
    let page = staff.get(&door).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.contains("أحمد العلي"), "the guest at the door");
    let walk_in = |csrf: String, request_id: String| {
        vec![
            ("csrf".to_string(), csrf),
            ("request_id".to_string(), request_id),
            ("what".to_string(), "walk-in".to_string()),
            (
                "category".to_string(),
                "PARTICIPANT_CATEGORY_INDIVIDUAL".to_string(),
            ),
            ("gender".to_string(), "GENDER_FEMALE".to_string()),
            ("count".to_string(), "٣".to_string()),
        ]
    };
    let fields = walk_in(page.csrf(), page.request_id());
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for _ in 0..2 {
        let answer = staff.post(&door, &refs).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
    }
    let person = format!("{}|{}", f.person, f.org);
    let answer = staff
        .submit(&door, &door, &[("what", "person"), ("person", &person)])
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let page = staff.get(&door).await;
    assert!(
        page.contains("<strong>٤</strong>"),
        "3 walk-ins once + 1: {}",
        page.body
    );
    assert!(page.contains("سلمى الأحمد"));
    let page = staff.get(&event_path).await;
    let held = staff
        .post(
            &format!("{event_path}/held"),
            &[
                ("csrf", &page.csrf()),
                ("etag", &page.attr_after(r#"name="etag" value=""#)),
            ],
        )
        .await;
    assert_eq!(held.status, 303, "{}", held.body);
    assert!(staff.get(&event_path).await.contains("عُقدت"));

    // A commitment made there, then fulfilled with its evidence.
    let answer = staff
        .submit(
            &event_path,
            &format!("{event_path}/commitments"),
            &[
                ("commitment.description.ar", "زيارة ثلاث مدارس"),
                ("commitment.owner.organization_id", &f.org),
                ("commitment.due_date", &due),
            ],
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let list = staff.get("/networking/commitments").await;
    assert!(list.contains("زيارة ثلاث مدارس"), "{}", list.body);
    let id = list
        .body
        .split("زيارة ثلاث مدارس")
        .nth(1)
        .and_then(|rest| rest.split_once("/networking/commitments/"))
        .and_then(|(_, rest)| rest.split_once("/fulfil"))
        .map(|(id, _)| id.to_string())
        .expect("the fulfil form");
    let etag = list
        .body
        .split(&format!("/networking/commitments/{id}/fulfil"))
        .nth(1)
        .and_then(|rest| rest.split_once(r#"name="etag" value=""#))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(etag, _)| common::unescape(etag))
        .unwrap();
    let done = staff
        .post(
            &format!("/networking/commitments/{id}/fulfil"),
            &[
                ("csrf", &list.csrf()),
                ("etag", &etag),
                ("evidence", "محضر الزيارة"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let list = staff.get("/networking/commitments").await;
    assert!(list.contains("✓ محضر الزيارة"), "{}", list.body);

    // The partner's lists hold its own only.
    let mine = partner.get("/networking").await;
    assert!(mine.contains("لقاء تشبيك المنظمات"));
    assert!(!mine.contains("لقاء آخر"), "an event it was not invited to");
    let coalitions = partner.get("/networking/coalitions").await;
    assert!(coalitions.contains("تحالف المدارس النظيفة"));
    assert!(coalitions.contains("حملة مدارس نظيفة"));
    assert!(!coalitions.contains("coalitions/new"), "no staff forms");

    // Every networking form refuses a POST without its token.
    let event_id = event_path.rsplit('/').next().unwrap();
    for path in [
        "/networking/events/new".to_string(),
        format!("/networking/events/{event_id}/invite"),
        format!("/networking/events/{event_id}/checkin"),
        format!("/networking/events/{event_id}/held"),
        format!("/networking/events/{event_id}/commitments"),
        format!("/networking/invitations/{invitation}/respond"),
        format!("/networking/commitments/{id}/fulfil"),
        format!("/networking/commitments/{id}/drop"),
        "/networking/coalitions/new".to_string(),
        "/networking/campaigns/new".to_string(),
        "/networking/issues/new".to_string(),
    ] {
        assert_eq!(staff.post(&path, &[]).await.status, 403, "{path}");
    }
}

/// The room calendar: staff see the other organization's booking by name,
/// the partner books through the form and sees its own booking by name and
/// the other only as taken; a booking over another is refused next to its
/// fields; the booking form needs its CSRF token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_calendar_and_booking() {
    let world = World::start().await;
    let f = fixture(&world).await;
    let tomorrow = markaz_kit::time::Date::today().add_days(1).to_proto();
    let day = format!(
        "{:04}-{:02}-{:02}",
        tomorrow.year, tomorrow.month, tomorrow.day
    );
    let mut staff = world.signed_in("staff", "staff", None).await;
    let week = staff.get("/coworking?branch=raqqa").await;
    assert_eq!(week.status, 200, "{}", week.body);
    assert!(week.contains("قاعة الفرات"));
    assert!(week.contains("١٠:٠٠–١٢:٠٠"), "{}", week.body);
    assert!(week.contains("جمعية أخرى"), "staff see whose booking");

    let mut partner = world.signed_in("partner", "p", Some(&f.org)).await;
    let page = partner.get("/coworking?branch=raqqa").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.contains("جمعية أخرى"), "another organization's name");
    assert!(page.contains("محجوزة"), "the other booking, as taken");
    // The booking form's space: the option after "choose".
    let space = page
        .body
        .split(r#"name="booking.space_id""#)
        .nth(1)
        .and_then(|rest| rest.split("<option value=\"").nth(2))
        .and_then(|rest| rest.split_once('"'))
        .map(|(id, _)| id.to_string())
        .expect("the space offered");
    let book = |from: &'static str, until: &'static str| {
        let (space, day) = (space.clone(), day.clone());
        vec![
            ("branch", "raqqa".to_string()),
            ("booking.space_id", space),
            ("booking.date", day),
            ("booking.from", from.to_string()),
            ("booking.until", until.to_string()),
            ("booking.purpose", "BOOKING_PURPOSE_WORK".to_string()),
            ("booking.expected_attendance", "٣".to_string()),
        ]
    };
    // Over the other organization's booking: refused, with the reason.
    let fields = book("11:00", "13:00");
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let taken = partner
        .submit("/coworking?branch=raqqa", "/coworking/bookings", &refs)
        .await;
    assert_eq!(taken.status, 422, "{}", taken.body);
    assert!(taken.contains(r#"class="problems""#));
    let fields = book("14:00", "16:00");
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let booked = partner
        .submit("/coworking?branch=raqqa", "/coworking/bookings", &refs)
        .await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    let page = partner.get(booked.location()).await;
    assert!(page.contains("تم الحجز"), "{}", page.body);
    assert!(page.contains("١٤:٠٠–١٦:٠٠"), "{}", page.body);
    assert!(page.contains("جمعية شباب الفرات") || page.contains("عمل"));
    // Staff see it with its organization.
    let week = staff.get("/coworking?branch=raqqa").await;
    assert!(week.contains("١٤:٠٠–١٦:٠٠"));
    assert!(week.contains("جمعية شباب الفرات"));
    // No token, no booking.
    assert_eq!(partner.post("/coworking/bookings", &refs).await.status, 403);
    assert_eq!(
        partner
            .post("/coworking/bookings/x/cancel", &[])
            .await
            .status,
        403
    );
}

/// The fields of the library's new-item form, after its CSRF token and
/// request id.
fn item_fields<'a>(
    csrf: &'a str,
    request_id: &'a str,
    rest: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("csrf", csrf), ("request_id", request_id)];
    all.extend_from_slice(rest);
    all
}

/// The item id of an item page's address.
fn item_id_of(location: &str) -> String {
    location
        .strip_prefix("/library/items/")
        .and_then(|rest| rest.split('?').next())
        .unwrap_or_else(|| panic!("not an item page: {location}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_from_upload_to_moderation() {
    let world = World::start().await;
    let f = fixture(&world).await;
    let channel: Channel = world.markaz.channel().await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let mut r = ResourcesServiceClient::with_interceptor(channel, Bearer::new(&token));
    let items_now = |r: &mut ResourcesServiceClient<Authed>| {
        let mut r = r.clone();
        async move {
            r.list_items(res::ListItemsRequest {
                page_size: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .items
            .len()
        }
    };

    // Staff add a guide with its file, sensitivity "partners", in Arabic
    // and English; the Arabic title, summary and file name come back byte
    // for byte.
    let mut staff = world.signed_in("staff", "staff", None).await;
    let form = staff.get("/library/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.contains(r#"enctype="multipart/form-data""#));
    assert!(form.contains("٢٠٠ ميغابايت"), "the limits are told");
    let (csrf, request_id) = (form.csrf(), form.request_id());
    let title_ar = "دليلُ المناصرة المجتمعية — الرقة ٢٠٢٦";
    let summary_ar = "خطوات عملية لتنظيم حملات المناصرة على مستوى الحي.";
    let file_name = "دليل-المناصرة.pdf";
    let pdf = b"%PDF-1.4\n% a small guide\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let fields = item_fields(
        &csrf,
        &request_id,
        &[
            ("item.title.ar", title_ar),
            ("item.title.en", "Community advocacy guide"),
            ("item.summary.ar", summary_ar),
            ("item.kind", "ITEM_KIND_GUIDE"),
            ("item.language", "ar"),
            ("item.visibility", "VISIBILITY_PARTNERS"),
            ("item.licence", "LICENCE_CC_BY"),
            ("item.source.kind", "SOURCE_KIND_CENTER"),
            ("item.authors", "سلمى الأحمد\nOmar K."),
            ("item.publication_date", "٢٠٢٦"),
        ],
    );
    let added = staff
        .post_multipart(
            "/library/new",
            &fields,
            Some(("file", file_name, "application/pdf", &pdf)),
            false,
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let guide = item_id_of(added.location());
    let stored = r
        .get_item(res::GetItemRequest { id: guide.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.title.as_ref().unwrap().ar, title_ar);
    assert_eq!(stored.summary.as_ref().unwrap().ar, summary_ar);
    assert_eq!(stored.authors, ["سلمى الأحمد", "Omar K."]);
    assert_eq!(stored.visibility, res::Visibility::Partners as i32);
    assert_eq!(stored.publication_date.unwrap().year, 2026);
    let files = r
        .list_item_files(res::ListItemFilesRequest {
            item_id: guide.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .files;
    assert_eq!(files.len(), 1);
    let current = files[0].current.as_ref().unwrap();
    assert_eq!(current.file_name, file_name);
    assert_eq!(current.media_type, "application/pdf");
    assert_eq!(current.size_bytes, pdf.len() as i64);
    // The form sent again on a bad line is the same item, its file once.
    let again = staff
        .post_multipart(
            "/library/new",
            &fields,
            Some(("file", file_name, "application/pdf", &pdf)),
            true,
        )
        .await;
    assert_eq!(again.location(), added.location(), "{}", again.body);
    let page = staff.get(added.location()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.contains(title_ar) && page.contains(file_name));
    assert!(page.contains("الشركاء"), "its sensitivity");
    assert!(page.contains("أُضيفت المادة"), "{}", page.body);
    assert_eq!(
        r.list_item_files(res::ListItemFilesRequest {
            item_id: guide.clone()
        })
        .await
        .unwrap()
        .into_inner()
        .files[0]
            .version_count,
        1
    );
    // The download is the file, its Arabic name kept.
    let download = staff
        .get(&format!("/library/items/{guide}/files/{}", files[0].id))
        .await;
    assert_eq!(download.status, 200);
    assert_eq!(download.raw, pdf);
    let disposition = download.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains(&query(file_name).replace('+', "%20")),
        "{disposition}"
    );

    // CSRF: none, another session's, or sent after the file: refused, and
    // nothing made.
    let before = items_now(&mut r).await;
    let mut mallory = world.signed_in("staff", "mallory", None).await;
    let theirs = mallory.get("/library/new").await.csrf();
    for csrf in ["", theirs.as_str()] {
        let fields = item_fields(csrf, "x-1", &[("item.title.ar", "مزوّر")]);
        let refused = staff
            .post_multipart(
                "/library/new",
                &fields,
                Some(("file", "a.pdf", "application/pdf", &pdf)),
                false,
            )
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
    }
    let late = staff
        .post_multipart(
            "/library/new",
            &[("item.title.ar", "متأخر")],
            Some(("file", "a.pdf", "application/pdf", &pdf)),
            false,
        )
        .await;
    assert_eq!(late.status, 403, "a token after the file is never read");
    assert_eq!(items_now(&mut r).await, before);

    // Too large for an image (50 MiB): said next to the file, before
    // anything is made when the length says so (a length within what the
    // parser read ahead of the file is found while streaming) ...
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(51 * 1024 * 1024, 0);
    let form = staff.get("/library/new").await;
    let (csrf, request_id) = (form.csrf(), form.request_id());
    let image_fields = item_fields(
        &csrf,
        &request_id,
        &[
            ("item.title.ar", "صورة كبيرة"),
            ("item.kind", "ITEM_KIND_OTHER"),
            ("item.language", "ar"),
            ("item.visibility", "VISIBILITY_TENANT"),
            ("item.source.kind", "SOURCE_KIND_CENTER"),
        ],
    );
    let too_large = staff
        .post_multipart(
            "/library/new",
            &image_fields,
            Some(("file", "photo.png", "image/png", &big)),
            false,
        )
        .await;
    assert_eq!(too_large.status, 422, "{}", too_large.body);
    assert!(
        too_large.contains(r#"id="file-error""#),
        "{}",
        too_large.body
    );
    assert!(
        too_large.contains("الصور: ٥٠ ميغابايت"),
        "{}",
        too_large.body
    );
    assert_eq!(items_now(&mut r).await, before, "nothing made");
    // ... and while it streams when it is not: the draft stays, named in
    // the form, and no byte of the file is kept.
    let streamed = staff
        .post_multipart(
            "/library/new",
            &image_fields,
            Some(("file", "photo.png", "image/png", &big)),
            true,
        )
        .await;
    assert_eq!(streamed.status, 422, "{}", streamed.body);
    assert!(streamed.contains("الصور: ٥٠ ميغابايت"), "{}", streamed.body);
    let draft = streamed.attr_after(r#"name="item_id" value=""#);
    assert!(!draft.is_empty(), "{}", streamed.body);
    let kept = r
        .list_item_files(res::ListItemFilesRequest {
            item_id: draft.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .files;
    assert!(kept.is_empty(), "{kept:?}");
    // The service's own refusal of the content lands next to the file.
    let program = b"MZ\x90\x00 not a document at all".to_vec();
    let form = staff.get(&format!("/library/items/{draft}")).await;
    let refused = staff
        .post_multipart(
            &format!("/library/items/{draft}/files"),
            &[("csrf", &form.csrf()), ("request_id", &form.request_id())],
            Some(("file", "report.pdf", "application/pdf", &program)),
            false,
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.contains(r#"id="file-error""#), "{}", refused.body);
    assert!(
        refused.contains("programs are not kept"),
        "{}",
        refused.body
    );

    // Staff publish the guide; a trainer finds it in Arabic (another form
    // of the word) and in English, and a partner too.
    let page = staff.get(&format!("/library/items/{guide}")).await;
    let etag = page.attr_after(r#"name="etag" value=""#);
    let published = staff
        .post(
            &format!("/library/items/{guide}/publish"),
            &[("csrf", &page.csrf()), ("etag", &etag), ("note", "")],
        )
        .await;
    assert_eq!(published.status, 303, "{}", published.body);
    let mut trainer = world.signed_in("trainer", TRAINER, None).await;
    for q in ["مناصرة", "advocacy guide"] {
        let found = trainer.get(&format!("/library?q={}", query(q))).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert!(found.contains(&guide), "{q}: {}", found.body);
        assert!(found.contains("<mark>"), "{q}: the match is marked");
    }
    let nothing = trainer
        .get(&format!("/library?q={}", query("مسودة داخلية")))
        .await;
    assert!(!nothing.contains("/library/items/"), "a draft is not found");
    // A trainer reads but does not add, publish or moderate.
    assert_eq!(trainer.get("/library/new").await.status, 403);
    let trainer_csrf = trainer.get("/library").await.csrf();
    assert_eq!(
        trainer
            .post(
                &format!("/library/items/{guide}/withdraw"),
                &[("csrf", &trainer_csrf), ("note", "x")]
            )
            .await
            .status,
        403
    );

    // A partner contributes: its draft, its file, then submitted.
    let mut partner = world.signed_in("partner", "p", Some(&f.org)).await;
    let form = partner.get("/library/new").await;
    assert_eq!(form.status, 200);
    assert!(!form.contains("item.source.kind"), "its source is its own");
    let note_ar = "تجربة جمعية شباب الفرات في توثيق الاحتياجات";
    let (csrf, request_id) = (form.csrf(), form.request_id());
    let fields = item_fields(
        &csrf,
        &request_id,
        &[
            ("item.title.ar", note_ar),
            ("item.kind", "ITEM_KIND_STUDY"),
            ("item.language", "ar"),
            ("item.visibility", "VISIBILITY_TENANT"),
        ],
    );
    let text_file = "ملاحظات ميدانية: ١٢ حياً.\n".as_bytes().to_vec();
    let contributed = partner
        .post_multipart(
            "/library/new",
            &fields,
            Some(("file", "ملاحظات.txt", "text/plain", &text_file)),
            false,
        )
        .await;
    assert_eq!(contributed.status, 303, "{}", contributed.body);
    let contribution = item_id_of(contributed.location());
    let page = partner.get(contributed.location()).await;
    assert!(
        page.contains("مسودة") && page.contains(note_ar),
        "{}",
        page.body
    );
    assert!(!page.contains("/approve"), "a partner does not moderate");
    let submitted = partner
        .post(
            &format!("/library/items/{contribution}/submit"),
            &[
                ("csrf", &page.csrf()),
                ("etag", &page.attr_after(r#"name="etag" value=""#)),
                ("note", "نرجو المراجعة"),
            ],
        )
        .await;
    assert_eq!(submitted.status, 303, "{}", submitted.body);
    let list = partner.get("/library").await;
    assert!(list.contains("مساهمات منظمتك") && list.contains("بانتظار المراجعة"));
    // Another partner organization never sees it.
    let mut other = world.signed_in("partner", "q", Some(&f.other_org)).await;
    assert_eq!(
        other
            .get(&format!("/library/items/{contribution}"))
            .await
            .status,
        404
    );
    // A partner cannot approve its own.
    assert_eq!(
        partner
            .post(
                &format!("/library/items/{contribution}/approve"),
                &[("csrf", &page.csrf())]
            )
            .await
            .status,
        403
    );

    // Staff see it waiting; changes asked without saying what is refused
    // next to that note; then approved, and it is published.
    let list = staff.get("/library").await;
    assert!(
        list.contains("بانتظار المراجعة") && list.contains(note_ar),
        "{}",
        list.body
    );
    let page = staff.get(&format!("/library/items/{contribution}")).await;
    assert!(page.contains("/approve") && page.contains("نرجو المراجعة"));
    let etag = page.attr_after(r#"name="etag" value=""#);
    let empty = staff
        .post(
            &format!("/library/items/{contribution}/changes"),
            &[("csrf", &page.csrf()), ("etag", &etag), ("note", "")],
        )
        .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    let changes_form = empty.body.split(r#"/changes""#).nth(1).unwrap();
    let changes_form = changes_form.split("</form>").next().unwrap();
    assert!(
        changes_form.contains(r#"id="note-error""#),
        "{}",
        empty.body
    );
    // Without the token: refused, and still waiting.
    assert_eq!(
        staff
            .post(
                &format!("/library/items/{contribution}/approve"),
                &[("etag", &etag)]
            )
            .await
            .status,
        403
    );
    let approved = staff
        .post(
            &format!("/library/items/{contribution}/approve"),
            &[("csrf", &page.csrf()), ("etag", &etag), ("note", "شكراً")],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let page = partner.get(&format!("/library/items/{contribution}")).await;
    assert!(page.contains("منشور"), "{}", page.body);
    assert!(page.contains("شكراً"), "the history's note");
    let stored = r
        .get_item(res::GetItemRequest {
            id: contribution.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.state, res::ItemState::Published as i32);
    assert_eq!(stored.title.unwrap().ar, note_ar);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coalition_s_members_join_and_leave() {
    let world = World::start().await;
    let f = fixture(&world).await;
    let (coalition, campaign) = coalition_of(&world).await;
    let page_path = format!("/networking/coalitions/{coalition}");
    let mut staff = world.signed_in("staff", "staff", None).await;
    let page = staff.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.contains("تحالف المدارس النظيفة") && page.contains("حملة مدارس نظيفة"));
    assert!(
        page.contains(&format!(r#"action="{page_path}/members""#)),
        "the join form"
    );
    let csrf = page.csrf();
    // No token: refused on every form, nothing changed.
    let members = format!("{page_path}/members");
    let leave = |org: &str| format!("{page_path}/members/{org}/leave");
    let status = format!("{page_path}/status");
    for path in [members.clone(), leave(&f.org), status.clone()] {
        let refused = staff
            .post(
                &path,
                &[
                    ("organization_id", &f.other_org),
                    ("status", "COALITION_STATUS_DISSOLVED"),
                ],
            )
            .await;
        assert_eq!(refused.status, 403, "{path}");
    }
    // The other organization joins, then leaves with a reason in Arabic.
    let joined = staff
        .post(
            &members,
            &[
                ("csrf", &csrf),
                ("request_id", &page.request_id()),
                ("organization_id", &f.other_org),
                ("joined_on", ""),
            ],
        )
        .await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    let page = staff.get(joined.location()).await;
    assert!(
        page.contains("انضمت المنظمة") && page.contains("جمعية أخرى"),
        "{}",
        page.body
    );
    let why = "انتقلت إلى تحالف المياه — بقرار من الهيئة العامة";
    let left = staff
        .post(
            &leave(&f.other_org),
            &[("csrf", &csrf), ("reason", why), ("left_on", "")],
        )
        .await;
    assert_eq!(left.status, 303, "{}", left.body);
    let page = staff.get(left.location()).await;
    assert!(
        page.contains(why) && page.contains("عضو سابق"),
        "{}",
        page.body
    );
    let channel: Channel = world.markaz.channel().await;
    let token = world.token(&[Role::Admin, Role::Staff], None);
    let mut n = NetworkingServiceClient::with_interceptor(channel, Bearer::new(&token));
    let former = n
        .list_coalition_members(net::ListCoalitionMembersRequest {
            coalition_id: coalition.clone(),
            page_size: 10,
            include_former: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .members
        .into_iter()
        .find(|m| m.organization_id == f.other_org)
        .unwrap();
    assert!(!former.active);
    assert_eq!(former.periods.last().unwrap().leave_reason, why);
    // The lead cannot leave: the service's reason, on the page.
    let refused = staff
        .post(&leave(&f.org), &[("csrf", &csrf), ("reason", "x")])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.contains(r#"class="problems""#));
    // Dormant, then shown so with its history.
    let etag = page.attr_after(r#"name="etag" value=""#);
    let changed = staff
        .post(
            &status,
            &[
                ("csrf", &csrf),
                ("etag", &etag),
                ("status", "COALITION_STATUS_DORMANT"),
                ("reason", "عطلة الصيف"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let page = staff.get(changed.location()).await;
    assert!(
        page.contains("خامل") && page.contains("عطلة الصيف"),
        "{}",
        page.body
    );

    // The partner reads its coalition and its campaign, with no staff form,
    // and cannot post one.
    let mut partner = world.signed_in("partner", "p", Some(&f.org)).await;
    let page = partner.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.contains("تحالف المدارس النظيفة"));
    assert!(
        !page.contains(&format!(r#"action="{members}""#)),
        "no staff forms"
    );
    let theirs = page.csrf();
    let tried = partner
        .post(
            &members,
            &[("csrf", &theirs), ("organization_id", &f.other_org)],
        )
        .await;
    assert_eq!(tried.status, 403);
    let k = partner
        .get(&format!("/networking/campaigns/{campaign}"))
        .await;
    assert_eq!(k.status, 200, "{}", k.body);
    assert!(
        k.contains("حملة مدارس نظيفة") && k.contains("أهالي الطلاب"),
        "{}",
        k.body
    );
    // Another organization's partner does not see it.
    let mut other = world.signed_in("partner", "q", Some(&f.other_org)).await;
    assert_eq!(other.get(&page_path).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_space() {
    let world = World::start().await;
    let f = fixture(&world).await;
    let mut admin = world.signed_in("admin", "admin", None).await;
    let form = admin.get("/coworking/spaces/new?branch=raqqa").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let (csrf, request_id) = (form.csrf(), form.request_id());
    let name = "قاعة الخابور — الطابق الثاني";
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("request_id", request_id.as_str()),
        ("space.branch_id", "raqqa"),
        ("space.kind", "SPACE_KIND_TRAINING_HALL"),
        ("space.name.ar", name),
        ("space.name.en", "Khabur hall"),
        ("space.capacity", "٣٠"),
        ("space.opens", "25:00"),
        ("space.closes", "16:00"),
        ("space.utc_offset_minutes", "180"),
        ("space.bookable_by", "BOOKABLE_BY_PARTNERS"),
        ("day.WEEKDAY_SATURDAY", "on"),
        ("day.WEEKDAY_SUNDAY", "on"),
        ("day.WEEKDAY_MONDAY", "on"),
    ];
    // A time that is none: next to its field, what was typed kept.
    let bad = admin.post("/coworking/spaces/new", &fields).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.contains(r#"id="space-opens-error""#), "{}", bad.body);
    assert!(bad.contains(name));
    // No token: refused; a partner or a trainer is not offered the form.
    let no_token: Vec<(&str, &str)> = fields[1..].to_vec();
    assert_eq!(
        admin.post("/coworking/spaces/new", &no_token).await.status,
        403
    );
    let mut partner = world.signed_in("partner", "p", Some(&f.org)).await;
    let theirs = partner.get("/coworking").await.csrf();
    let mut as_partner = fields.clone();
    as_partner[0] = ("csrf", theirs.as_str());
    assert_eq!(
        partner
            .post("/coworking/spaces/new", &as_partner)
            .await
            .status,
        403
    );
    // The service's objection (no capacity) next to its field.
    fields[7] = ("space.opens", "08:00");
    fields[6] = ("space.capacity", "0");
    let refused = admin.post("/coworking/spaces/new", &fields).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.contains(r#"id="space-capacity-error""#),
        "{}",
        refused.body
    );
    fields[6] = ("space.capacity", "٣٠");
    let made = admin.post("/coworking/spaces/new", &fields).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let week = admin.get(made.location()).await;
    assert!(
        week.contains("أُنشئت المساحة") && week.contains(name),
        "{}",
        week.body
    );
    let channel: Channel = world.markaz.channel().await;
    let token = world.token(&[Role::Admin], None);
    let mut r = ResourcesServiceClient::with_interceptor(channel, Bearer::new(&token));
    let space = r
        .list_spaces(res::ListSpacesRequest {
            page_size: 50,
            branch_id: "raqqa".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .spaces
        .into_iter()
        .find(|s| s.name.as_ref().is_some_and(|t| t.ar == name))
        .expect("the space, its Arabic name byte for byte");
    assert_eq!(space.capacity, 30);
    assert_eq!(space.opening_hours.len(), 3);
    assert!(
        space
            .opening_hours
            .iter()
            .all(|h| h.opens_minute == 480 && h.closes_minute == 960)
    );
    // Sent again on a bad line: the same space, not a second one.
    let again = admin.post("/coworking/spaces/new", &fields).await;
    assert_eq!(again.status, 303, "{}", again.body);
    let count = r
        .list_spaces(res::ListSpacesRequest {
            page_size: 50,
            branch_id: "raqqa".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .spaces
        .iter()
        .filter(|s| s.name.as_ref().is_some_and(|t| t.ar == name))
        .count();
    assert_eq!(count, 1);
}
