//! `scale`: a center's records seeded through the public APIs at a chosen
//! size, then each list and report RPC a busy center calls, measured on its
//! own — so a cost that grows with the data shows as a figure that grows
//! with `--size`.
//!
//! One unit of size is 20 organizations, 100 people (each affiliated with
//! one of them), 5 courses of 4 sessions with 20 participants each (opened,
//! started, every mark recorded, completed) and 50 consultations (two
//! attendees and a follow-up action each) spread over the past year.

use std::sync::Arc;

use markaz_kit::time::Date;
use markaz_proto::capacity::v1 as capacity;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::membership::v1 as membership;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;

use crate::engine::Call;
use crate::scenarios::{Pool, Scenario, organization, person_message};
use crate::server::BenchResult;
use crate::target::{Kind, Target};
use crate::{Figure, Options, events, measure};

/// Organizations, people, courses and consultations of one unit.
const ORGS: usize = 20;
const PEOPLE: usize = 100;
const COURSES: usize = 5;
const SESSIONS: i64 = 4;
const PARTICIPANTS: usize = 20;
const CONSULTATIONS: usize = 50;
/// Requests in flight while seeding.
const SEEDERS: usize = 8;

/// What the measured requests pick from.
struct Seeded {
    orgs: Vec<String>,
    courses: Vec<String>,
}

fn err(e: tonic::Status) -> String {
    format!("{}: {}", e.code(), e.message())
}

fn day(offset: i64) -> markaz_proto::common::v1::Date {
    Date::today().add_days(offset).to_proto()
}

fn text(ar: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

fn branch(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "raqqa"
    } else {
        "deir-ez-zor"
    }
}

/// Runs `job(0..n)` with [`SEEDERS`] in flight, collecting the results in order.
async fn in_parallel<T, F, Fut>(n: usize, job: F) -> BenchResult<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = BenchResult<T>> + Send + 'static,
{
    let job = Arc::new(job);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..SEEDERS {
        let job = job.clone();
        tasks.spawn(async move {
            let mut made = Vec::new();
            let mut i = w;
            while i < n {
                made.push((i, job(i).await?));
                i += SEEDERS;
            }
            Ok::<_, String>(made)
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        all.extend(done.map_err(|e| e.to_string())??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

async fn seed(target: &Target, pool: &Pool, size: usize) -> BenchResult<Seeded> {
    let p = pool.clone();
    let orgs = in_parallel(ORGS * size, move |i| {
        let (p, mut client) = (p.clone(), MembershipServiceClient::new(p.channel(i as u64)));
        async move {
            let made = client
                .create_organization(p.request(membership::CreateOrganizationRequest {
                    organization: Some(organization(3_000_000 + i as u64)),
                    ..Default::default()
                }))
                .await
                .map_err(err)?;
            Ok(made.into_inner().id)
        }
    })
    .await?;
    let orgs = Arc::new(orgs);
    let (p, o) = (pool.clone(), orgs.clone());
    // Person i is affiliated with organization i % orgs.
    let people = in_parallel(PEOPLE * size, move |i| {
        let (p, o, mut client) = (
            p.clone(),
            o.clone(),
            MembershipServiceClient::new(p.channel(i as u64)),
        );
        async move {
            let person = client
                .create_person(p.request(membership::CreatePersonRequest {
                    person: Some(person_message(3_000_000 + i as u64)),
                    request_id: String::new(),
                }))
                .await
                .map_err(err)?
                .into_inner();
            client
                .create_affiliation(p.request(membership::CreateAffiliationRequest {
                    affiliation: Some(membership::Affiliation {
                        person_id: person.id.clone(),
                        organization_id: o[i % o.len()].clone(),
                        role: "member".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                }))
                .await
                .map_err(err)?;
            Ok(person.id)
        }
    })
    .await?;
    // Capacity enrols and consults only people and organizations its copies
    // of membership's data know.
    events::settle(target).await?;

    let people = Arc::new(people);
    let (p, o, pe) = (pool.clone(), orgs.clone(), people.clone());
    let courses = in_parallel(COURSES * size, move |k| {
        let (p, o, pe) = (p.clone(), o.clone(), pe.clone());
        async move { run_course(&p, &o, &pe, k).await }
    })
    .await?;
    let (p, o, pe) = (pool.clone(), orgs.clone(), people.clone());
    in_parallel(CONSULTATIONS * size, move |k| {
        let (p, o, pe) = (p.clone(), o.clone(), pe.clone());
        async move {
            let org = k % o.len();
            // People `org` and `org + orgs` are both affiliated with it.
            let attendees = [org, org + o.len()]
                .into_iter()
                .filter(|i| *i < pe.len())
                .map(|i| pe[i].clone())
                .collect();
            CapacityServiceClient::new(p.channel(k as u64))
                .create_consultation(p.request(capacity::CreateConsultationRequest {
                    consultation: Some(capacity::Consultation {
                        kind: if k.is_multiple_of(3) {
                            capacity::ConsultationKind::TechnicalSupport
                        } else {
                            capacity::ConsultationKind::Consultation
                        } as i32,
                        topic_codes: vec!["financial-management".into()],
                        organization_id: o[org].clone(),
                        attendee_person_ids: attendees,
                        advisor: Some(capacity::Advisor {
                            name: "خبير مالي".into(),
                            kind: capacity::AdvisorKind::Staff as i32,
                        }),
                        branch_id: branch(k).into(),
                        held_on: Some(day(-((k % 365) as i64) - 1)),
                        duration_minutes: 60,
                        follow_up_actions: vec![capacity::FollowUpAction {
                            description: "متابعة الخطة".into(),
                            owner: "المنسق".into(),
                            due_date: Some(day((k % 60) as i64)),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    request_id: String::new(),
                }))
                .await
                .map_err(err)?;
            Ok(())
        }
    })
    .await?;
    events::settle(target).await?;
    Ok(Seeded {
        orgs: orgs.to_vec(),
        courses,
    })
}

/// Course `k`: created, opened, 20 people enrolled, started, every mark
/// recorded, completed. Its sessions were in the past weeks.
async fn run_course(p: &Pool, orgs: &[String], people: &[String], k: usize) -> BenchResult<String> {
    let mut c = CapacityServiceClient::new(p.channel(k as u64));
    let first = -30 - (k % 300) as i64;
    let course = c
        .create_course(
            p.request(capacity::CreateCourseRequest {
                course: Some(capacity::Course {
                    kind: capacity::CourseKind::Workshop as i32,
                    title: text("ورشة كتابة المقترحات", "Proposal-writing workshop"),
                    description: text("أربعة أيام", "Four days"),
                    topic_codes: vec!["proposal-writing".into()],
                    branch_id: branch(k).into(),
                    venue: "القاعة ١".into(),
                    sessions: (0..SESSIONS)
                        .map(|s| capacity::Session {
                            date: Some(day(first + s)),
                            ..Default::default()
                        })
                        .collect(),
                    capacity: PARTICIPANTS as i32,
                    audience: capacity::Audience::Open as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            }),
        )
        .await
        .map_err(err)?
        .into_inner();
    let id = course.id.clone();
    c.open_course(p.request(capacity::OpenCourseRequest {
        id: id.clone(),
        etag: String::new(),
    }))
    .await
    .map_err(err)?;
    let mut enrolments = Vec::new();
    for j in 0..PARTICIPANTS {
        let i = (k * PARTICIPANTS + j) % people.len();
        let e = c
            .enrol_participant(p.request(capacity::EnrolParticipantRequest {
                course_id: id.clone(),
                person_id: people[i].clone(),
                organization_id: orgs[i % orgs.len()].clone(),
                request_id: String::new(),
            }))
            .await
            .map_err(err)?;
        enrolments.push(e.into_inner().id);
    }
    c.start_course(p.request(capacity::StartCourseRequest {
        id: id.clone(),
        etag: String::new(),
    }))
    .await
    .map_err(err)?;
    for (s, session) in course.sessions.iter().enumerate() {
        c.record_attendance(
            p.request(capacity::RecordAttendanceRequest {
                course_id: id.clone(),
                session_id: session.id.clone(),
                marks: enrolments
                    .iter()
                    .enumerate()
                    .map(|(j, e)| capacity::AttendanceMark {
                        enrolment_id: e.clone(),
                        status: if (j + s) % 7 == 0 {
                            capacity::AttendanceStatus::Absent
                        } else {
                            capacity::AttendanceStatus::Present
                        } as i32,
                        ..Default::default()
                    })
                    .collect(),
                request_id: String::new(),
            }),
        )
        .await
        .map_err(err)?;
    }
    c.complete_course(p.request(capacity::CompleteCourseRequest {
        id: id.clone(),
        etag: String::new(),
    }))
    .await
    .map_err(err)?;
    Ok(id)
}

fn code<T>(r: Result<T, tonic::Status>) -> Result<(), tonic::Code> {
    r.map(|_| ()).map_err(|s| s.code())
}

/// The RPCs measured, by the name the table shows.
const RPCS: [&str; 9] = [
    "people-by-org",
    "people-search-none",
    "enrolments-by-course",
    "enrolments-page",
    "course-report",
    "activity-report",
    "activity-branch",
    "consultations-page",
    "follow-ups-page",
];

fn call(pool: Pool, seeded: Arc<Seeded>, rpc: &'static str) -> Call {
    Arc::new(move |i| {
        let (pool, s) = (pool.clone(), seeded.clone());
        Box::pin(async move {
            let org = s.orgs[(i as usize).wrapping_mul(7919) % s.orgs.len()].clone();
            let course = s.courses[(i as usize).wrapping_mul(104_729) % s.courses.len()].clone();
            let mut m = MembershipServiceClient::new(pool.channel(i));
            let mut c = CapacityServiceClient::new(pool.channel(i));
            match rpc {
                "people-by-org" => code(
                    m.list_people(pool.request(membership::ListPeopleRequest {
                        page_size: 50,
                        organization_id: org,
                        ..Default::default()
                    }))
                    .await,
                ),
                "people-search-none" => code(
                    m.list_people(pool.request(membership::ListPeopleRequest {
                        page_size: 50,
                        query: "لا أحد بهذا الاسم".into(),
                        ..Default::default()
                    }))
                    .await,
                ),
                "enrolments-by-course" => code(
                    c.list_enrolments(pool.request(capacity::ListEnrolmentsRequest {
                        page_size: 50,
                        course_id: course,
                        ..Default::default()
                    }))
                    .await,
                ),
                "enrolments-page" => code(
                    c.list_enrolments(pool.request(capacity::ListEnrolmentsRequest {
                        page_size: 50,
                        ..Default::default()
                    }))
                    .await,
                ),
                "course-report" => code(
                    c.get_course_report(
                        pool.request(capacity::GetCourseReportRequest { course_id: course }),
                    )
                    .await,
                ),
                "activity-report" => code(
                    c.get_activity_report(
                        pool.request(capacity::GetActivityReportRequest::default()),
                    )
                    .await,
                ),
                "activity-branch" => code(
                    c.get_activity_report(pool.request(capacity::GetActivityReportRequest {
                        branch_id: "raqqa".into(),
                        ..Default::default()
                    }))
                    .await,
                ),
                "consultations-page" => code(
                    c.list_consultations(pool.request(capacity::ListConsultationsRequest {
                        page_size: 50,
                        ..Default::default()
                    }))
                    .await,
                ),
                _ => code(
                    c.list_follow_up_actions(pool.request(capacity::ListFollowUpActionsRequest {
                        page_size: 50,
                        ..Default::default()
                    }))
                    .await,
                ),
            }
        })
    })
}

/// Seeds `size` units through the public APIs, then measures each RPC.
pub async fn run(target: &Target, size: usize, options: &Options) -> BenchResult<Vec<Figure>> {
    let pool = Pool::connect(target.server.addr, options.connections, &target.staff_token).await?;
    let started = std::time::Instant::now();
    let seeded = Arc::new(seed(target, &pool, size.max(1)).await?);
    eprintln!(
        "scale: seeded {} units in {:.1} s",
        size.max(1),
        started.elapsed().as_secs_f64()
    );
    let load = options.load();
    let mut figures = Vec::new();
    for rpc in RPCS {
        eprintln!("scale: {rpc}");
        let (out, cost) = measure(
            call(pool.clone(), seeded.clone(), rpc),
            &load,
            Some(&target.server),
            target.kind == Kind::Serve,
        )
        .await;
        let mut figure = Figure::of(Scenario::Scale, &target.kind.to_string(), &load, &out, cost);
        figure.scenario = rpc.to_string();
        figures.push(figure);
    }
    Ok(figures)
}
