//! `scale`: a consortium's records seeded through the public APIs at a
//! chosen size, then each list and report RPC a busy center calls, measured
//! on its own — so a cost that grows with the data shows as a figure that
//! grows with the size.
//!
//! Two shapes. `--size N` seeds one tenant with N units, a unit being 20
//! organizations, 100 people (each affiliated with one of them), 5 courses
//! of 4 sessions with 20 participants each (opened, started, every mark
//! recorded, completed), 50 consultations (two attendees and a follow-up
//! action each) spread over the past year and 5 submitted proposals.
//! `--five-years` seeds the consortium the issue of cost names: 10 tenants,
//! 2,000 organizations, 50,000 people, 5,000 courses of 10 sessions × 20
//! participants (1,000,000 attendance marks), 20,000 consultations and
//! 2,000 proposals, spread over five years; `--fraction` seeds a part of
//! every tenant's share for a quicker run.
//!
//! The RPCs are measured in the bench tenant while the others' records sit
//! beside it in the same tables, as in a shared deployment. Creates are
//! measured twice, before the seeding and after it, so "create within 10 %
//! of an empty database" is one division.

use std::sync::Arc;

use markaz_kit::time::Date;
use markaz_proto::capacity::v1 as capacity;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::{LocalizedText, Money, Sector};
use markaz_proto::grants::v1 as grants;
use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
use markaz_proto::membership::v1 as membership;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;

use crate::engine::Call;
use crate::scenarios::{self, Pool, Scenario, organization, person_message};
use crate::server::BenchResult;
use crate::target::{Kind, Target};
use crate::{Figure, Options, events, measure};

/// Requests in flight while seeding.
const SEEDERS: usize = 8;

/// How much to seed: the number of tenants and each one's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub tenants: usize,
    pub orgs: usize,
    pub people: usize,
    pub courses: usize,
    pub sessions: i64,
    pub participants: usize,
    pub consultations: usize,
    pub proposals: usize,
    /// Calls for proposals the proposals are spread over, one a year.
    pub calls: usize,
    /// The days into the past the courses and consultations are spread over.
    pub days: i64,
}

impl Shape {
    /// One tenant of `n` units (see the module's comment).
    pub fn units(n: usize) -> Shape {
        let n = n.max(1);
        Shape {
            tenants: 1,
            orgs: 20 * n,
            people: 100 * n,
            courses: 5 * n,
            sessions: 4,
            participants: 20,
            consultations: 50 * n,
            proposals: 5 * n,
            calls: 1,
            days: 365,
        }
    }

    /// The consortium after five years, each tenant with `fraction` of its
    /// share (1.0 for all of it).
    pub fn five_years(fraction: f64) -> Shape {
        let part = |n: usize| ((n as f64 * fraction.clamp(0.0, 1.0)).ceil() as usize).max(1);
        Shape {
            tenants: 10,
            orgs: part(200),
            people: part(5_000),
            courses: part(500),
            sessions: 10,
            participants: 20,
            consultations: part(2_000),
            proposals: part(200),
            calls: 5,
            days: 5 * 365,
        }
    }

    /// Attendance marks of all tenants.
    pub fn marks(&self) -> usize {
        self.tenants * self.courses * self.participants * self.sessions as usize
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.tenants;
        write!(
            f,
            "{t} tenant(s): {} organizations, {} people, {} courses, {} attendance marks, {} consultations, {} proposals",
            t * self.orgs,
            t * self.people,
            t * self.courses,
            self.marks(),
            t * self.consultations,
            t * self.proposals
        )
    }
}

/// What the measured requests pick from, in the bench tenant.
struct Seeded {
    orgs: Vec<String>,
    courses: Vec<String>,
    calls: Vec<String>,
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

fn usd(minor_units: i64) -> Option<Money> {
    Some(Money {
        currency_code: "USD".into(),
        minor_units,
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

/// Seeds one tenant's share of `shape` through `pool`, which carries that
/// tenant's token. `tenant` numbers the records so no two tenants' names
/// are the same.
async fn seed(target: &Target, pool: &Pool, shape: Shape, tenant: usize) -> BenchResult<Seeded> {
    let base = 3_000_000 + 100_000 * tenant as u64;
    let p = pool.clone();
    let orgs = in_parallel(shape.orgs, move |i| {
        let (p, mut client) = (p.clone(), MembershipServiceClient::new(p.channel(i as u64)));
        async move {
            let made = client
                .create_organization(p.request(membership::CreateOrganizationRequest {
                    organization: Some(organization(base + i as u64)),
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
    let people = in_parallel(shape.people, move |i| {
        let (p, o, mut client) = (
            p.clone(),
            o.clone(),
            MembershipServiceClient::new(p.channel(i as u64)),
        );
        async move {
            let person = client
                .create_person(p.request(membership::CreatePersonRequest {
                    person: Some(person_message(base + i as u64)),
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
    // Capacity and grants enrol, consult and take proposals only from people
    // and organizations their copies of membership's data know.
    events::settle(target).await?;

    let people = Arc::new(people);
    let (p, o, pe) = (pool.clone(), orgs.clone(), people.clone());
    let courses = in_parallel(shape.courses, move |k| {
        let (p, o, pe) = (p.clone(), o.clone(), pe.clone());
        async move { run_course(&p, &o, &pe, shape, k).await }
    })
    .await?;
    let (p, o, pe) = (pool.clone(), orgs.clone(), people.clone());
    in_parallel(shape.consultations, move |k| {
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
                        held_on: Some(day(-((k as i64) % shape.days) - 1)),
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
    let calls = seed_proposals(pool, &orgs, shape).await?;
    events::settle(target).await?;
    Ok(Seeded {
        orgs: orgs.to_vec(),
        courses,
        calls,
    })
}

/// A program with `shape.calls` open calls, and `shape.proposals`
/// proposals spread over them, each organization at most once per call,
/// every one submitted. Returns the calls' ids.
async fn seed_proposals(
    pool: &Pool,
    orgs: &Arc<Vec<String>>,
    shape: Shape,
) -> BenchResult<Vec<String>> {
    let mut g = GrantsServiceClient::new(pool.channel(0));
    let program = g
        .create_program(pool.request(grants::CreateProgramRequest {
            program: Some(grants::Program {
                name: text("برنامج المنح الصغيرة", "Small grants program"),
                description: text("مشاريع مجتمعية صغيرة", "Small community projects"),
                ..Default::default()
            }),
            request_id: String::new(),
        }))
        .await
        .map_err(err)?
        .into_inner();
    let mut calls = Vec::new();
    for year in 0..shape.calls {
        let call = g
            .create_call(pool.request(grants::CreateCallRequest {
                call: Some(grants::Call {
                    program_id: program.id.clone(),
                    title: text(
                        &format!("دعوة المشاريع المجتمعية {year}"),
                        &format!("Community projects call {year}"),
                    ),
                    description: text("مشاريع صغيرة", "Small projects"),
                    budget_envelope: usd(10_000_000_000),
                    project_ceiling: usd(1_000_000),
                    opens_on: Some(day(-30)),
                    closes_on: Some(day(30)),
                    rubric: Some(grants::Rubric {
                        max_score: 5,
                        criteria: vec![grants::Criterion {
                            code: "need".into(),
                            name: text("حاجة المجتمع المحلي", "Community need"),
                            guidance: None,
                            weight: 1,
                        }],
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            }))
            .await
            .map_err(err)?
            .into_inner();
        g.open_call(pool.request(grants::OpenCallRequest {
            id: call.id.clone(),
            etag: String::new(),
        }))
        .await
        .map_err(err)?;
        calls.push(call.id);
    }
    let (p, o, c) = (pool.clone(), orgs.clone(), Arc::new(calls.clone()));
    // Proposal k goes to call k % calls from organization k % orgs: within
    // a call its organizations differ while proposals ≤ organizations × calls.
    in_parallel(shape.proposals, move |k| {
        let (p, o, c) = (p.clone(), o.clone(), c.clone());
        async move {
            let mut g = GrantsServiceClient::new(p.channel(k as u64));
            let made = g
                .create_proposal(p.request(grants::CreateProposalRequest {
                    proposal: Some(proposal(&c[k % c.len()], &o[k % o.len()], k)),
                    request_id: String::new(),
                }))
                .await
                .map_err(err)?
                .into_inner();
            g.submit_proposal(p.request(grants::SubmitProposalRequest {
                id: made.id,
                etag: String::new(),
            }))
            .await
            .map_err(err)?;
            Ok(())
        }
    })
    .await?;
    Ok(calls)
}

fn proposal(call_id: &str, organization_id: &str, k: usize) -> grants::Proposal {
    grants::Proposal {
        call_id: call_id.into(),
        organization_id: organization_id.into(),
        title: text("إعادة تأهيل بئر القرية", "Rehabilitating the village well"),
        summary: text("مشروع مجتمعي صغير", "A small community project"),
        community_need: text("مياه الشرب", "Drinking water"),
        location: Some(grants::Location {
            governorate: "Raqqa".into(),
            place: text("القرية", "The village"),
        }),
        sector: Sector::Education as i32,
        beneficiaries_targeted: Some(grants::Beneficiaries {
            female: 60 + (k % 40) as i64,
            male: 50,
            undisclosed: 0,
        }),
        budget_lines: vec![grants::BudgetLine {
            category: grants::BudgetCategory::Activities as i32,
            description: text("الأنشطة والمواد", "Activities and supplies"),
            amount: usd(500_000),
            ..Default::default()
        }],
        milestones: vec![grants::Milestone {
            title: text("تسليم المشروع", "Handover"),
            due_date: Some(day(120)),
            deliverables: text("محضر التسليم", "Handover minutes"),
            ..Default::default()
        }],
        start_date: Some(day(40)),
        end_date: Some(day(160)),
        ..Default::default()
    }
}

/// Course `k`: created, opened, its participants enrolled, started, every
/// mark recorded, completed. Its sessions were on consecutive days in the
/// past, spread over `shape.days`.
async fn run_course(
    p: &Pool,
    orgs: &[String],
    people: &[String],
    shape: Shape,
    k: usize,
) -> BenchResult<String> {
    let mut c = CapacityServiceClient::new(p.channel(k as u64));
    let first = -30 - (k as i64 * 7) % (shape.days - 30).max(1);
    let course = c
        .create_course(
            p.request(capacity::CreateCourseRequest {
                course: Some(capacity::Course {
                    kind: capacity::CourseKind::Workshop as i32,
                    title: text("ورشة كتابة المقترحات", "Proposal-writing workshop"),
                    description: text("أيام متتالية", "Consecutive days"),
                    topic_codes: vec!["proposal-writing".into()],
                    branch_id: branch(k).into(),
                    venue: "القاعة ١".into(),
                    sessions: (0..shape.sessions)
                        .map(|s| capacity::Session {
                            date: Some(day(first - shape.sessions + s)),
                            ..Default::default()
                        })
                        .collect(),
                    capacity: shape.participants as i32,
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
    // No one is enrolled twice in a course, however few people there are.
    let participants = shape.participants.min(people.len());
    for j in 0..participants {
        let i = (k * participants + j) % people.len();
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
const RPCS: [&str; 16] = [
    "orgs-page",
    "people-by-org",
    "people-search-none",
    "people-search-all",
    "enrolments-by-course",
    "enrolments-page",
    "course-report",
    "activity-report",
    "activity-year",
    "activity-branch",
    "consultations-page",
    "follow-ups-page",
    "proposals-page",
    "proposals-by-call",
    "call-ranking",
    "calls-page",
];

fn call(pool: Pool, seeded: Arc<Seeded>, rpc: &'static str) -> Call {
    Arc::new(move |i| {
        let (pool, s) = (pool.clone(), seeded.clone());
        Box::pin(async move {
            let pick = |n: usize, prime: usize| (i as usize).wrapping_mul(prime) % n.max(1);
            let org = s.orgs[pick(s.orgs.len(), 7919)].clone();
            let course = s.courses[pick(s.courses.len(), 104_729)].clone();
            let call_id = s.calls[pick(s.calls.len(), 31)].clone();
            let mut m = MembershipServiceClient::new(pool.channel(i));
            let mut c = CapacityServiceClient::new(pool.channel(i));
            let mut g = GrantsServiceClient::new(pool.channel(i));
            let people = |query: &str, organization_id: String| membership::ListPeopleRequest {
                page_size: 50,
                query: query.into(),
                organization_id,
                ..Default::default()
            };
            match rpc {
                "orgs-page" => code(
                    m.list_organizations(pool.request(membership::ListOrganizationsRequest {
                        page_size: 50,
                        ..Default::default()
                    }))
                    .await,
                ),
                "people-by-org" => code(m.list_people(pool.request(people("", org))).await),
                "people-search-none" => code(
                    m.list_people(pool.request(people("لا أحد بهذا الاسم", String::new())))
                        .await,
                ),
                // Every person's name holds it: the page's order is walked.
                "people-search-all" => code(
                    m.list_people(pool.request(people("مشارك", String::new())))
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
                // Every record the tenant ever had.
                "activity-report" => code(
                    c.get_activity_report(
                        pool.request(capacity::GetActivityReportRequest::default()),
                    )
                    .await,
                ),
                "activity-year" => code(
                    c.get_activity_report(pool.request(capacity::GetActivityReportRequest {
                        from: Some(day(-365)),
                        until: Some(day(0)),
                        ..Default::default()
                    }))
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
                "follow-ups-page" => code(
                    c.list_follow_up_actions(pool.request(capacity::ListFollowUpActionsRequest {
                        page_size: 50,
                        ..Default::default()
                    }))
                    .await,
                ),
                "proposals-page" => code(
                    g.list_proposals(pool.request(grants::ListProposalsRequest {
                        page_size: 50,
                        ..Default::default()
                    }))
                    .await,
                ),
                "proposals-by-call" => code(
                    g.list_proposals(pool.request(grants::ListProposalsRequest {
                        page_size: 50,
                        call_id,
                        ..Default::default()
                    }))
                    .await,
                ),
                "call-ranking" => code(
                    g.get_call_ranking(pool.request(grants::GetCallRankingRequest { call_id }))
                        .await,
                ),
                _ => code(
                    g.list_calls(pool.request(grants::ListCallsRequest {
                        page_size: 50,
                        ..Default::default()
                    }))
                    .await,
                ),
            }
        })
    })
}

/// Measures `call` under the options' load, as a figure named `name`.
async fn figure(target: &Target, options: &Options, name: &str, call: Call) -> Figure {
    eprintln!("scale: {name}");
    let load = options.load();
    let (out, cost) = measure(
        call,
        &load,
        Some(&target.server),
        target.kind == Kind::Serve,
    )
    .await;
    let mut figure = Figure::of(Scenario::Scale, &target.kind.to_string(), &load, &out, cost);
    figure.scenario = name.to_string();
    figure
}

/// Seeds `shape` through the public APIs, then measures each RPC in the
/// bench tenant, and creates before and after the seeding.
pub async fn run(target: &Target, shape: Shape, options: &Options) -> BenchResult<Vec<Figure>> {
    let pool = Pool::connect(target.server.addr, options.connections, &target.staff_token).await?;
    let mut figures = vec![
        figure(
            target,
            options,
            "create-empty",
            scenarios::create(pool.clone()),
        )
        .await,
    ];
    events::quiesce(target, std::time::Duration::from_secs(600)).await?;
    let disk_empty = target.disk_bytes().await?;
    eprintln!("scale: seeding {shape}");
    let started = std::time::Instant::now();
    // The other tenants first, so the bench tenant's records are the
    // newest: no index walk that starts at the end finds them first.
    for t in 1..shape.tenants {
        let token = target.add_tenant(&format!("center-{t}")).await?;
        let other = Pool::connect(target.server.addr, options.connections, &token).await?;
        seed(target, &other, shape, t).await?;
        eprintln!(
            "scale: tenant {} of {} seeded at {:.0} s",
            t,
            shape.tenants,
            started.elapsed().as_secs_f64()
        );
    }
    let seeded = Arc::new(seed(target, &pool, shape, 0).await?);
    let seeded_in = started.elapsed().as_secs_f64();
    // Grants and impact may still be applying capacity's events: their
    // work would be counted in the reads measured next.
    events::quiesce(target, std::time::Duration::from_secs(3600)).await?;
    if target.vacuum_if_autovacuum_is_off().await? {
        eprintln!(
            "scale: autovacuum is off on this server: ran VACUUM (ANALYZE), as it would have"
        );
    }
    let disk = target.disk_bytes().await?;
    eprintln!(
        "scale: seeded in {seeded_in:.1} s, every consumer at rest after {:.1} s; data on disk {:.1} MiB (empty: {:.1} MiB); server resident {:.1} MiB",
        started.elapsed().as_secs_f64(),
        disk as f64 / crate::MIB,
        disk_empty as f64 / crate::MIB,
        target.server.rss_bytes() as f64 / crate::MIB,
    );
    for rpc in RPCS {
        figures.push(
            figure(
                target,
                options,
                rpc,
                call(pool.clone(), seeded.clone(), rpc),
            )
            .await,
        );
    }
    figures.push(
        figure(
            target,
            options,
            "create-seeded",
            scenarios::create(pool.clone()),
        )
        .await,
    );
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::Shape;

    #[test]
    fn five_years_is_the_consortium_the_targets_are_set_for() {
        let s = Shape::five_years(1.0);
        let t = s.tenants;
        assert_eq!(
            (
                t,
                t * s.orgs,
                t * s.people,
                t * s.courses,
                s.marks(),
                t * s.consultations,
                t * s.proposals
            ),
            (10, 2_000, 50_000, 5_000, 1_000_000, 20_000, 2_000)
        );
        // Within a call no organization proposes twice.
        assert!(s.proposals <= s.orgs * s.calls);
    }

    #[test]
    fn a_fraction_seeds_part_of_every_tenant_and_never_nothing() {
        let tenth = Shape::five_years(0.1);
        assert_eq!((tenth.tenants, tenth.people, tenth.courses), (10, 500, 50));
        let tiny = Shape::five_years(0.0);
        assert_eq!((tiny.orgs, tiny.people, tiny.proposals), (1, 1, 1));
    }
}
