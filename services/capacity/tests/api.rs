//! Capacity building over real gRPC, on SQLite with the in-process bus and
//! on PostgreSQL with NATS: the same test bodies on both.
//!
//! What membership knows reaches capacity as membership's events; here they
//! are applied through capacity's real handler and inbox
//! (`markaz_kit::events::apply`) with envelopes built from the event
//! messages, so no membership service is needed.

use std::sync::Arc;
use std::time::Duration;

use markaz_capacity::{Capacity, limits};
use markaz_kit::auth::{Role, Signer};
use markaz_kit::both_backends;
use markaz_kit::events::Applied;
use markaz_kit::testing::{Backend, TestApp, authed, service_methods, spawn};
use markaz_kit::time::Date as KDate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::capacity::v1::{
    AdvisorKind, AttendanceStatus, Audience, ConsultationKind, CourseKind, CourseStatus,
    EnrolmentStatus, SuggestionStatus, TestKind,
};
use markaz_proto::common::v1::{
    AgeBand, CapacityDomain, Date, Gender, IncubationStatus, LocalizedText, OrganizationKind,
};
use markaz_proto::events::v1 as ev;
use prost::{Message, Name};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

const TENANT: &str = "raqqa-csc";
const OTHER_TENANT: &str = "deir-csc";
/// The subject `TestApp::token` gives a trainer's token.
const TRAINER: &str = "user-trainer";

type Client = CapacityServiceClient<Channel>;

struct World {
    app: TestApp,
    client: Client,
    staff: String,
}

async fn world(backend: Backend) -> World {
    let app = spawn(backend, vec![Arc::new(Capacity)]).await;
    let client = CapacityServiceClient::new(app.channel().await);
    let staff = app.token(TENANT, &[Role::Staff], None);
    World { app, client, staff }
}

impl World {
    fn token(&self, roles: &[Role], org: Option<&str>) -> String {
        self.app.token(TENANT, roles, org)
    }

    /// A token of `tenant` for `subject`.
    fn token_of(&self, subject: &str, tenant: &str, roles: &[Role]) -> String {
        let env = &self.app.env;
        env.signer.sign(&Signer::claims(
            &env.config.auth,
            subject,
            tenant,
            roles,
            None,
            Duration::from_secs(600),
        ))
    }

    /// Applies a membership event to capacity through its real handler and
    /// inbox, as the consumer does when the event comes off the bus.
    async fn membership<E: Name>(&self, tenant: &str, event: E) -> Applied {
        self.deliver(&envelope(tenant, &event)).await
    }

    async fn deliver(&self, envelope: &ev::Envelope) -> Applied {
        let db = self.app.app.db("capacity").expect("capacity's database");
        let consumer = self
            .app
            .app
            .consumer("capacity")
            .expect("capacity consumes");
        markaz_kit::events::apply(db, consumer, envelope)
            .await
            .expect("the event applies")
    }

    /// The events of type `E` capacity wrote to its outbox, in order.
    async fn published<E: Name + Default>(&self) -> Vec<E> {
        let db = self.app.app.db("capacity").expect("capacity's database");
        let mut tx = db.system().await.unwrap();
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT envelope FROM markaz_outbox WHERE event_name = $1 ORDER BY seq",
        )
        .bind(E::NAME)
        .fetch_all(tx.conn())
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        rows.iter()
            .map(|b| {
                let envelope = ev::Envelope::decode(b.as_slice()).unwrap();
                markaz_kit::events::payload::<E>(&envelope).unwrap()
            })
            .collect()
    }
}

fn envelope<E: Name>(tenant: &str, event: &E) -> ev::Envelope {
    markaz_kit::events::envelope("membership", tenant, event)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn text(ar: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

/// Today plus `n` days.
fn day(n: i64) -> Date {
    KDate::today().add_days(n).to_proto()
}

fn org_snapshot(id: &str, status: IncubationStatus, version: i64) -> ev::OrganizationSnapshot {
    ev::OrganizationSnapshot {
        id: id.into(),
        identifier: "MKZ-RAQQA-CSC-0001".into(),
        kind: OrganizationKind::Cso as i32,
        name: text("جمعية شباب الفرات", "Euphrates Youth"),
        governorate: "Raqqa".into(),
        branch_id: "raqqa".into(),
        sectors: vec![],
        incubation_status: status as i32,
        version,
    }
}

/// An organization membership registered, as capacity learns it.
async fn known_org(w: &World, tenant: &str, status: IncubationStatus) -> String {
    let id = new_id();
    w.membership(
        tenant,
        ev::OrganizationRegistered {
            organization: Some(org_snapshot(&id, status, 1)),
        },
    )
    .await;
    id
}

fn person_snapshot(
    id: &str,
    name: &str,
    gender: Gender,
    age: AgeBand,
    v: i64,
) -> ev::PersonSnapshot {
    ev::PersonSnapshot {
        id: id.into(),
        full_name: name.into(),
        gender: gender as i32,
        age_band: age as i32,
        branch_id: "raqqa".into(),
        version: v,
    }
}

/// A person membership registered (and affiliated with `org`).
async fn known_person(
    w: &World,
    tenant: &str,
    name: &str,
    gender: Gender,
    age: AgeBand,
    org: Option<&str>,
) -> String {
    let id = new_id();
    w.membership(
        tenant,
        ev::PersonRegistered {
            person: Some(person_snapshot(&id, name, gender, age, 1)),
        },
    )
    .await;
    if let Some(org) = org {
        affiliate(w, tenant, &id, org).await;
    }
    id
}

async fn affiliate(w: &World, tenant: &str, person: &str, org: &str) -> String {
    let id = new_id();
    w.membership(
        tenant,
        ev::PersonAffiliated {
            affiliation_id: id.clone(),
            person_id: person.into(),
            organization_id: org.into(),
            role: "member".into(),
        },
    )
    .await;
    id
}

/// A workshop of `sessions` days that ended yesterday, taught by
/// [`TRAINER`].
fn course_body(capacity: i32, audience: Audience, sessions: i64) -> api::Course {
    course_on(
        capacity,
        audience,
        &(0..sessions).map(|i| -sessions + i).collect::<Vec<_>>(),
    )
}

/// A course with sessions on these days from today.
fn course_on(capacity: i32, audience: Audience, days: &[i64]) -> api::Course {
    api::Course {
        kind: CourseKind::Workshop as i32,
        title: text("ورشة كتابة المقترحات", "Proposal-writing workshop"),
        description: text("أربعة أيام", "Four days"),
        topic_codes: vec!["proposal-writing".into()],
        branch_id: "raqqa".into(),
        venue: "مركز الرقة، القاعة ١".into(),
        sessions: days
            .iter()
            .map(|d| api::Session {
                date: Some(day(*d)),
                ..Default::default()
            })
            .collect(),
        capacity,
        trainers: vec![api::Trainer {
            name: "سلمى الأحمد".into(),
            subject: TRAINER.into(),
            external: false,
        }],
        audience: audience as i32,
        ..Default::default()
    }
}

async fn create_course(w: &mut World, course: api::Course) -> api::Course {
    w.client
        .create_course(authed(
            api::CreateCourseRequest {
                course: Some(course),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("course created")
        .into_inner()
}

async fn open(w: &mut World, id: &str) -> api::Course {
    w.client
        .open_course(authed(
            api::OpenCourseRequest {
                id: id.into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("course opened")
        .into_inner()
}

async fn start(w: &mut World, id: &str) -> api::Course {
    w.client
        .start_course(authed(
            api::StartCourseRequest {
                id: id.into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("course started")
        .into_inner()
}

async fn complete(w: &mut World, id: &str) -> Result<api::Course, Status> {
    w.client
        .complete_course(authed(
            api::CompleteCourseRequest {
                id: id.into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn enrol_as(
    client: &mut Client,
    token: &str,
    course: &str,
    person: &str,
    org: &str,
) -> Result<api::Enrolment, Status> {
    client
        .enrol_participant(authed(
            api::EnrolParticipantRequest {
                course_id: course.into(),
                person_id: person.into(),
                organization_id: org.into(),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn enrol(
    w: &mut World,
    course: &str,
    person: &str,
    org: &str,
) -> Result<api::Enrolment, Status> {
    let staff = w.staff.clone();
    enrol_as(&mut w.client, &staff, course, person, org).await
}

/// People membership registered (aged 25-34, no organization), enrolled in
/// `course` in this order: their enrolment ids.
async fn enrol_people(w: &mut World, course: &str, people: &[(&str, Gender)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, g) in people {
        let p = known_person(w, TENANT, name, *g, AgeBand::AgeBand2534, None).await;
        ids.push(enrol(w, course, &p, "").await.unwrap().id);
    }
    ids
}

async fn enrolment(w: &mut World, id: &str) -> api::Enrolment {
    w.client
        .get_enrolment(authed(api::GetEnrolmentRequest { id: id.into() }, &w.staff))
        .await
        .expect("enrolment")
        .into_inner()
}

async fn enrolments(w: &mut World, course: &str, status: EnrolmentStatus) -> Vec<api::Enrolment> {
    w.client
        .list_enrolments(authed(
            api::ListEnrolmentsRequest {
                course_id: course.into(),
                status: status as i32,
                page_size: 500,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .expect("enrolments")
        .into_inner()
        .enrolments
}

async fn get_course(w: &mut World, id: &str) -> api::Course {
    w.client
        .get_course(authed(api::GetCourseRequest { id: id.into() }, &w.staff))
        .await
        .expect("course")
        .into_inner()
}

async fn cancel_enrolment(w: &mut World, id: &str) -> api::Enrolment {
    w.client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: id.into(),
                reason: "انسحب".into(),
            },
            &w.staff,
        ))
        .await
        .expect("cancelled")
        .into_inner()
}

fn mark(enrolment: &str, status: AttendanceStatus) -> api::AttendanceMark {
    api::AttendanceMark {
        enrolment_id: enrolment.into(),
        status: status as i32,
        ..Default::default()
    }
}

async fn record(
    client: &mut Client,
    token: &str,
    course: &str,
    session: &str,
    marks: Vec<api::AttendanceMark>,
    request_id: &str,
) -> Result<api::SessionAttendance, Status> {
    client
        .record_attendance(authed(
            api::RecordAttendanceRequest {
                course_id: course.into(),
                session_id: session.into(),
                marks,
                request_id: request_id.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn report(w: &mut World, course: &str) -> api::CourseReport {
    w.client
        .get_course_report(authed(
            api::GetCourseReportRequest {
                course_id: course.into(),
            },
            &w.staff,
        ))
        .await
        .expect("report")
        .into_inner()
}

fn field_violations(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

/// The machine-readable kind of a FAILED_PRECONDITION.
fn precondition(status: &Status) -> String {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    status
        .get_details_precondition_failure()
        .and_then(|p| p.violations.first().map(|v| v.r#type.clone()))
        .unwrap_or_default()
}

fn counts(g: &Option<api::GenderCounts>) -> (i32, i32, i32, i32) {
    let g = g.unwrap_or_default();
    (g.female, g.male, g.undisclosed, g.total)
}

both_backends!(
    topics_start_with_the_built_in_catalogue_and_grow,
    courses_follow_their_life_cycle,
    concurrent_enrolments_never_overbook_and_the_waiting_list_promotes_in_order,
    incubated_only_courses_refuse_everyone_else,
    enrolment_needs_what_membership_told,
    partners_enrol_their_own_members_and_see_only_their_own,
    bulk_attendance_counts_once_and_keeps_corrections,
    completion_follows_the_rule_and_certificates_verify_publicly,
    completion_needs_a_mark_for_everyone_holding_a_place,
    learning_gain_per_participant_and_per_course,
    consultations_record_follow_up_actions,
    suggestions_need_no_account_but_are_limited,
    refused_suggestions_do_not_use_up_a_centers_quota,
    recommendations_follow_the_latest_assessment,
    reports_count_from_records_and_survive_erasure,
    a_courses_figures_count_the_same_people,
    an_erased_persons_name_is_on_no_read_path,
    erasure_finds_a_name_in_any_script,
    copies_apply_only_newer_snapshots_and_each_event_once,
    retried_creates_return_the_first_result,
    rights_are_checked_before_a_retry_is_answered,
    stale_etags_are_refused,
    bad_input_is_refused_with_field_details_and_nothing_written,
    refused_updates_write_nothing,
    arabic_text_round_trips_byte_for_byte,
    tenants_never_see_each_other,
    every_rpc_refuses_missing_and_bad_tokens,
    every_rpc_refuses_the_wrong_role,
);

async fn topics_start_with_the_built_in_catalogue_and_grow(backend: Backend) {
    let mut w = world(backend).await;
    let trainer = w.token(&[Role::Trainer], None);
    let list = |include_archived| api::ListTopicsRequest {
        include_archived,
        ..Default::default()
    };
    let topics = w
        .client
        .list_topics(authed(list(false), &trainer))
        .await
        .unwrap()
        .into_inner()
        .topics;
    let codes: Vec<&str> = topics.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "financial-management",
            "human-resources",
            "mobilisation-advocacy",
            "monitoring-evaluation",
            "operational-planning",
            "project-management",
            "proposal-writing",
            "strategic-planning"
        ]
    );
    for t in &topics {
        let name = t.name.clone().unwrap();
        assert!(
            t.built_in && !name.ar.is_empty() && !name.en.is_empty(),
            "{t:?}"
        );
        assert!(!t.capacity_domains.is_empty(), "{}", t.code);
    }
    let finance = topics
        .iter()
        .find(|t| t.code == "financial-management")
        .unwrap();
    assert_eq!(finance.name.clone().unwrap().ar, "الإدارة المالية");
    assert_eq!(
        finance.capacity_domains,
        [CapacityDomain::FinancialManagement as i32]
    );

    // Staff extend the catalogue, in Arabic.
    let created = w
        .client
        .create_topic(authed(
            api::CreateTopicRequest {
                topic: Some(api::Topic {
                    code: "digital-security".into(),
                    name: text("الأمن الرقمي", ""),
                    capacity_domains: vec![CapacityDomain::Administration as i32],
                    ..Default::default()
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!created.built_in);
    for code in ["digital-security", "proposal-writing"] {
        let again = w
            .client
            .create_topic(authed(
                api::CreateTopicRequest {
                    topic: Some(api::Topic {
                        code: code.into(),
                        name: text("مكرر", ""),
                        ..Default::default()
                    }),
                },
                &w.staff,
            ))
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::AlreadyExists, "{code}");
    }

    // A built-in topic can be renamed and remapped, field by field.
    let proposal = topics
        .iter()
        .find(|t| t.code == "proposal-writing")
        .unwrap();
    let updated = w
        .client
        .update_topic(authed(
            api::UpdateTopicRequest {
                topic: Some(api::Topic {
                    code: "proposal-writing".into(),
                    name: text("ignored", "ignored"),
                    capacity_domains: vec![
                        CapacityDomain::ProgramManagement as i32,
                        CapacityDomain::FinancialManagement as i32,
                    ],
                    etag: proposal.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity_domains".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.name, proposal.name);
    assert_eq!(updated.capacity_domains.len(), 2);
    assert!(updated.built_in);
    assert_ne!(updated.etag, proposal.etag);

    // Archived topics leave the default list and new courses.
    w.client
        .update_topic(authed(
            api::UpdateTopicRequest {
                topic: Some(api::Topic {
                    code: "digital-security".into(),
                    archived: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["archived".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let n = |all| {
        let mut c = w.client.clone();
        let t = trainer.clone();
        async move {
            c.list_topics(authed(list(all), &t))
                .await
                .unwrap()
                .into_inner()
                .topics
                .len()
        }
    };
    assert_eq!(n(false).await, 8);
    assert_eq!(n(true).await, 9);
    for code in ["digital-security", "no-such-topic"] {
        let mut body = course_body(10, Audience::Open, 2);
        body.topic_codes = vec![code.into()];
        let status = w
            .client
            .create_course(authed(
                api::CreateCourseRequest {
                    course: Some(body),
                    request_id: String::new(),
                },
                &w.staff,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{code}");
        assert_eq!(field_violations(&status), ["course.topic_codes[0]"]);
    }
    let missing = w
        .client
        .get_topic(authed(
            api::GetTopicRequest {
                code: "astrology".into(),
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn courses_follow_their_life_cycle(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_on(10, Audience::Open, &[-1, -3, -2, -4])).await;
    assert_eq!(course.status, CourseStatus::Planned as i32);
    let dates: Vec<Date> = course.sessions.iter().map(|s| s.date.unwrap()).collect();
    assert_eq!(dates, [day(-4), day(-3), day(-2), day(-1)]);
    assert_eq!(
        course.sessions.iter().map(|s| s.number).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        (course.start_date, course.end_date),
        (Some(day(-4)), Some(day(-1)))
    );
    assert_eq!(
        course.completion_rule.unwrap().min_attendance_percent,
        80,
        "the default rule"
    );

    // Moving sessions keeps the ids of the days that stay.
    let moved = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    sessions: course_on(0, Audience::Open, &[-4, -3, -2, -5]).sessions,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["sessions".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.sessions[1].id, course.sessions[0].id);
    assert_eq!(moved.sessions[0].date, Some(day(-5)));
    assert!(!course.sessions.iter().any(|s| s.id == moved.sessions[0].id));
    assert_eq!(moved.title, course.title, "only the masked field changed");

    let person = known_person(&w, TENANT, "رامي", Gender::Male, AgeBand::AgeBand2534, None).await;
    let early = enrol(&mut w, &course.id, &person, "").await.unwrap_err();
    assert_eq!(precondition(&early), "COURSE_NOT_OPEN");
    let skip = w
        .client
        .start_course(authed(
            api::StartCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&skip), "COURSE_TRANSITION");
    assert!(skip.message().contains("planned"), "{}", skip.message());

    assert_eq!(
        open(&mut w, &course.id).await.status,
        CourseStatus::Open as i32
    );
    let empty = w
        .client
        .start_course(authed(
            api::StartCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&empty), "NO_PARTICIPANTS");
    enrol(&mut w, &course.id, &person, "").await.unwrap();
    assert_eq!(
        start(&mut w, &course.id).await.status,
        CourseStatus::Running as i32
    );

    // While it runs, the venue may change, the capacity may not.
    let update = |field: &str, c: api::Course| api::UpdateCourseRequest {
        course: Some(c),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![field.into()],
        }),
    };
    let frozen = w
        .client
        .update_course(authed(
            update(
                "capacity",
                api::Course {
                    id: course.id.clone(),
                    capacity: 30,
                    ..Default::default()
                },
            ),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&frozen), "COURSE_FIELDS_FROZEN");
    let venue = w
        .client
        .update_course(authed(
            update(
                "venue",
                api::Course {
                    id: course.id.clone(),
                    venue: "قاعة الاجتماعات".into(),
                    ..Default::default()
                },
            ),
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(venue.venue, "قاعة الاجتماعات");

    let incomplete = complete(&mut w, &course.id).await.unwrap_err();
    assert_eq!(precondition(&incomplete), "ATTENDANCE_MISSING");

    let no_reason = w
        .client
        .cancel_course(authed(
            api::CancelCourseRequest {
                id: course.id.clone(),
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&no_reason), ["reason"]);
    let cancel = api::CancelCourseRequest {
        id: course.id.clone(),
        reason: "الطريق مقطوع".into(),
        etag: String::new(),
    };
    let cancelled = w
        .client
        .cancel_course(authed(cancel.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, CourseStatus::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "الطريق مقطوع");
    let twice = w
        .client
        .cancel_course(authed(cancel, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice), "COURSE_TRANSITION");

    // Every change went out as a CourseScheduled snapshot, versions rising.
    let events = w.published::<ev::CourseScheduled>().await;
    let statuses: Vec<&str> = events.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "planned",
            "planned",
            "open",
            "running",
            "running",
            "cancelled"
        ]
    );
    assert!(events.windows(2).all(|p| p[0].version < p[1].version));
    assert_eq!(events[0].kind, "workshop");
    assert_eq!(events[0].session_count, 4);
    assert!(!events[0].incubated_only);
}

async fn concurrent_enrolments_never_overbook_and_the_waiting_list_promotes_in_order(
    backend: Backend,
) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(5, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let mut people = Vec::new();
    for i in 0..20 {
        let gender = if i % 2 == 0 {
            Gender::Female
        } else {
            Gender::Male
        };
        people.push(
            known_person(
                &w,
                TENANT,
                &format!("مشارك {i}"),
                gender,
                AgeBand::AgeBand1824,
                None,
            )
            .await,
        );
    }
    // Twenty people ask for five places at the same moment.
    let mut tasks = tokio::task::JoinSet::new();
    for person in &people {
        let mut client = w.client.clone();
        let (token, course_id, person) = (w.staff.clone(), course.id.clone(), person.clone());
        tasks.spawn(async move { enrol_as(&mut client, &token, &course_id, &person, "").await });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(
            r.unwrap()
                .expect("every request is answered with a place or a spot in line"),
        );
    }
    let placed = results
        .iter()
        .filter(|e| e.status == EnrolmentStatus::Enrolled as i32)
        .count();
    assert_eq!(placed, 5, "never over-booked");
    let enrolled = enrolments(&mut w, &course.id, EnrolmentStatus::Enrolled).await;
    let waiting = enrolments(&mut w, &course.id, EnrolmentStatus::Waitlisted).await;
    assert_eq!((enrolled.len(), waiting.len()), (5, 15));
    // The line is in order of arrival, positions 1 to 15, no gaps.
    assert_eq!(
        waiting
            .iter()
            .map(|e| e.waitlist_position)
            .collect::<Vec<_>>(),
        (1..=15).collect::<Vec<_>>()
    );
    let time = |e: &api::Enrolment| markaz_kit::time::micros_of(e.enrol_time.as_ref().unwrap());
    assert!(waiting.windows(2).all(|p| time(&p[0]) <= time(&p[1])));
    let last_placed = enrolled.iter().map(time).max().unwrap();
    assert!(waiting.iter().all(|e| time(e) >= last_placed));
    assert!(enrolled.iter().all(|e| e.waitlist_position == 0));
    let c = get_course(&mut w, &course.id).await;
    assert_eq!((c.enrolled_count, c.waitlisted_count), (5, 15));

    // A place freed goes to the first in line.
    let first = waiting[0].clone();
    cancel_enrolment(&mut w, &enrolled[0].id).await;
    let promoted = enrolment(&mut w, &first.id).await;
    assert_eq!(promoted.status, EnrolmentStatus::Enrolled as i32);
    assert_eq!(promoted.waitlist_position, 0);
    assert_eq!(enrolment(&mut w, &waiting[1].id).await.waitlist_position, 1);

    // Leaving the line frees no place.
    let left = cancel_enrolment(&mut w, &waiting[3].id).await;
    assert_eq!(left.status, EnrolmentStatus::Cancelled as i32);
    assert_eq!(enrolment(&mut w, &waiting[4].id).await.waitlist_position, 3);
    let c = get_course(&mut w, &course.id).await;
    assert_eq!((c.enrolled_count, c.waitlisted_count), (5, 13));
    // Cancelling again changes nothing.
    assert_eq!(
        cancel_enrolment(&mut w, &waiting[3].id).await.status,
        EnrolmentStatus::Cancelled as i32
    );

    // Two more places: the next two in line move up.
    w.client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    capacity: 7,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    for e in [&waiting[1], &waiting[2]] {
        assert_eq!(
            enrolment(&mut w, &e.id).await.status,
            EnrolmentStatus::Enrolled as i32
        );
    }
    assert_eq!(enrolment(&mut w, &waiting[4].id).await.waitlist_position, 1);
    let c = get_course(&mut w, &course.id).await;
    assert_eq!((c.enrolled_count, c.waitlisted_count), (7, 11));
    // The capacity cannot go below the places taken.
    let below = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    capacity: 6,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&below), "CAPACITY_BELOW_ENROLLED");

    // Nobody is in a course twice.
    let twice = enrol(&mut w, &course.id, &first.person_id, "")
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);

    // The bus heard of every enrolment and every promotion.
    let events = w.published::<ev::ParticipantEnrolled>().await;
    assert_eq!(events.len(), 20 + 3);
    assert_eq!(events.iter().filter(|e| !e.waitlisted).count(), 5 + 3);
    assert_eq!(w.published::<ev::EnrolmentCancelled>().await.len(), 2);
}

async fn incubated_only_courses_refuse_everyone_else(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::IncubatedOnly, 2)).await;
    open(&mut w, &course.id).await;
    let incubated = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let applicant = known_org(&w, TENANT, IncubationStatus::Applicant).await;
    let member = known_person(
        &w,
        TENANT,
        "ليلى",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&incubated),
    )
    .await;
    let hopeful = known_person(
        &w,
        TENANT,
        "خالد",
        Gender::Male,
        AgeBand::AgeBand3544,
        Some(&applicant),
    )
    .await;
    let individual = known_person(
        &w,
        TENANT,
        "سمر",
        Gender::Female,
        AgeBand::AgeBand1824,
        None,
    )
    .await;

    let ok = enrol(&mut w, &course.id, &member, &incubated)
        .await
        .unwrap();
    assert_eq!(ok.status, EnrolmentStatus::Enrolled as i32);
    assert_eq!(ok.organization_id, incubated);

    let refused = enrol(&mut w, &course.id, &hopeful, &applicant)
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "INCUBATED_ONLY");
    assert!(
        refused.message().contains("applicant"),
        "{}",
        refused.message()
    );
    let alone = enrol(&mut w, &course.id, &individual, "")
        .await
        .unwrap_err();
    assert_eq!(precondition(&alone), "INCUBATED_ONLY");
    assert!(
        alone.message().contains("individual"),
        "{}",
        alone.message()
    );

    // The organization is incubated in membership: once the event is here,
    // its member gets in — no call to membership.
    w.membership(
        TENANT,
        ev::IncubationStatusChanged {
            organization_id: applicant.clone(),
            from: IncubationStatus::Applicant as i32,
            to: IncubationStatus::Incubated as i32,
            reason: "accepted".into(),
            changed_at: None,
            version: 2,
        },
    )
    .await;
    enrol(&mut w, &course.id, &hopeful, &applicant)
        .await
        .unwrap();

    // Graduated is no longer incubated.
    w.membership(
        TENANT,
        ev::IncubationStatusChanged {
            organization_id: applicant.clone(),
            from: IncubationStatus::Incubated as i32,
            to: IncubationStatus::Graduated as i32,
            reason: "plan completed".into(),
            changed_at: None,
            version: 3,
        },
    )
    .await;
    let colleague = known_person(
        &w,
        TENANT,
        "نور",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&applicant),
    )
    .await;
    let graduated = enrol(&mut w, &course.id, &colleague, &applicant)
        .await
        .unwrap_err();
    assert_eq!(precondition(&graduated), "INCUBATED_ONLY");

    // The audience is fixed once people enrolled.
    let change = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    audience: Audience::Open as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["audience".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&change), "AUDIENCE_FIXED");
    let e = w.published::<ev::CourseScheduled>().await;
    assert!(e[0].incubated_only);
}

async fn enrolment_needs_what_membership_told(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;

    // Registered in membership a moment ago, not arrived yet: refused, and
    // the message says why.
    let person = new_id();
    let early = enrol(&mut w, &course.id, &person, "").await.unwrap_err();
    assert_eq!(precondition(&early), "PERSON_NOT_KNOWN");
    assert!(early.message().contains("not known"), "{}", early.message());
    w.membership(
        TENANT,
        ev::PersonRegistered {
            person: Some(person_snapshot(
                &person,
                "هبة",
                Gender::Female,
                AgeBand::AgeBand2534,
                1,
            )),
        },
    )
    .await;
    let org = new_id();
    let unknown_org = enrol(&mut w, &course.id, &person, &org).await.unwrap_err();
    assert_eq!(precondition(&unknown_org), "ORGANIZATION_NOT_KNOWN");
    w.membership(
        TENANT,
        ev::OrganizationRegistered {
            organization: Some(org_snapshot(&org, IncubationStatus::None, 1)),
        },
    )
    .await;
    let stranger = enrol(&mut w, &course.id, &person, &org).await.unwrap_err();
    assert_eq!(precondition(&stranger), "NOT_AFFILIATED");
    let affiliation = affiliate(&w, TENANT, &person, &org).await;
    let e = enrol(&mut w, &course.id, &person, &org).await.unwrap();
    assert_eq!(e.participant_name, "هبة");
    assert_eq!(e.gender, Gender::Female as i32);
    assert_eq!(e.age_band, AgeBand::AgeBand2534 as i32);

    // An ended affiliation no longer counts.
    cancel_enrolment(&mut w, &e.id).await;
    w.membership(
        TENANT,
        ev::AffiliationEnded {
            affiliation_id: affiliation,
            person_id: person.clone(),
            organization_id: org.clone(),
        },
    )
    .await;
    let ended = enrol(&mut w, &course.id, &person, &org).await.unwrap_err();
    assert_eq!(precondition(&ended), "NOT_AFFILIATED");
    // As an individual, the person may come back.
    enrol(&mut w, &course.id, &person, "").await.unwrap();

    // An erased person cannot be enrolled again.
    let gone = known_person(
        &w,
        TENANT,
        "مجهول",
        Gender::Male,
        AgeBand::AgeBand4554,
        None,
    )
    .await;
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: gone.clone(),
        },
    )
    .await;
    let erased = enrol(&mut w, &course.id, &gone, "").await.unwrap_err();
    assert_eq!(precondition(&erased), "PERSON_ERASED");

    let missing = enrol(&mut w, &new_id(), &person, "").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn partners_enrol_their_own_members_and_see_only_their_own(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let ours = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let theirs = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let member = known_person(
        &w,
        TENANT,
        "عضو",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&ours),
    )
    .await;
    let outsider = known_person(
        &w,
        TENANT,
        "غريب",
        Gender::Male,
        AgeBand::AgeBand2534,
        Some(&theirs),
    )
    .await;
    let partner = w.token(&[Role::Partner], Some(&ours));

    // The partner's own organization is implied.
    let mine = enrol_as(&mut w.client, &partner, &course.id, &member, "")
        .await
        .unwrap();
    assert_eq!(mine.organization_id, ours);
    let not_ours = enrol_as(&mut w.client, &partner, &course.id, &outsider, "")
        .await
        .unwrap_err();
    assert_eq!(not_ours.code(), Code::NotFound);
    let other_org = enrol_as(&mut w.client, &partner, &course.id, &member, &theirs)
        .await
        .unwrap_err();
    assert_eq!(other_org.code(), Code::NotFound);
    let theirs_enrolment = enrol(&mut w, &course.id, &outsider, &theirs).await.unwrap();

    let listed = w
        .client
        .list_enrolments(authed(api::ListEnrolmentsRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner()
        .enrolments;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, mine.id);
    let hidden = w
        .client
        .get_enrolment(authed(
            api::GetEnrolmentRequest {
                id: theirs_enrolment.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let cancel_theirs = w
        .client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: theirs_enrolment.id.clone(),
                reason: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel_theirs.code(), Code::NotFound);
    let withdrawn = w
        .client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: mine.id.clone(),
                reason: "سفر".into(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.status, EnrolmentStatus::Cancelled as i32);
    assert_eq!(withdrawn.cancel_reason, "سفر");

    // The course catalogue is open to partners; managing it is not.
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(courses.courses.len(), 1);
    let create = w
        .client
        .create_course(authed(
            api::CreateCourseRequest {
                course: Some(course_body(5, Audience::Open, 1)),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(create.code(), Code::PermissionDenied);

    // A partner token naming no organization sees nothing and enrols nobody.
    let nobody = w.token(&[Role::Partner], None);
    let refused = enrol_as(&mut w.client, &nobody, &course.id, &member, "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let none = w
        .client
        .list_enrolments(authed(api::ListEnrolmentsRequest::default(), &nobody))
        .await
        .unwrap()
        .into_inner();
    assert!(none.enrolments.is_empty());
}

async fn bulk_attendance_counts_once_and_keeps_corrections(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 3)).await;
    open(&mut w, &course.id).await;
    let ids = enrol_people(
        &mut w,
        &course.id,
        &[
            ("أمل", Gender::Female),
            ("باسل", Gender::Male),
            ("جود", Gender::Undisclosed),
        ],
    )
    .await;
    let trainer = w.token(&[Role::Trainer], None);
    let session = course.sessions[0].id.clone();

    // Not before the course starts.
    let early = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        vec![mark(&ids[0], AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&early), "COURSE_NOT_RUNNING");
    start(&mut w, &course.id).await;

    let sheet = vec![
        mark(&ids[0], AttendanceStatus::Present),
        mark(&ids[1], AttendanceStatus::Absent),
        mark(&ids[2], AttendanceStatus::Present),
    ];
    let first = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        sheet.clone(),
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        (first.present, first.absent, first.excused, first.unmarked),
        (2, 1, 0, 0)
    );
    assert!(
        first
            .marks
            .iter()
            .all(|m| m.revision == 1 && m.recorded_by == TRAINER)
    );
    assert_eq!(first.marks[0].participant_name, "أمل");
    // The same sheet sent twice more (a flaky connection): counted once.
    for _ in 0..2 {
        let again = record(
            &mut w.client,
            &trainer,
            &course.id,
            &session,
            sheet.clone(),
            "",
        )
        .await
        .unwrap();
        assert_eq!((again.present, again.absent), (2, 1));
        assert!(again.marks.iter().all(|m| m.revision == 1));
    }
    let revisions = |enrolment: &str| api::ListAttendanceRevisionsRequest {
        course_id: course.id.clone(),
        session_id: session.clone(),
        enrolment_id: enrolment.into(),
        ..Default::default()
    };
    let all = w
        .client
        .list_attendance_revisions(authed(revisions(""), &trainer))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(all.len(), 3);
    assert_eq!(w.published::<ev::AttendanceRecorded>().await.len(), 1);
    assert_eq!(enrolment(&mut w, &ids[0]).await.sessions_present, 1);

    // A correction: the absent participant had leave. Both records remain.
    let mut corrected = mark(&ids[1], AttendanceStatus::Excused);
    corrected.note = "إجازة مرضية".into();
    let fixed = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        vec![corrected],
        "",
    )
    .await
    .unwrap();
    assert_eq!((fixed.present, fixed.absent, fixed.excused), (2, 0, 1));
    let history = w
        .client
        .list_attendance_revisions(authed(revisions(&ids[1]), &trainer))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(
        history
            .iter()
            .map(|m| (m.revision, m.status))
            .collect::<Vec<_>>(),
        [
            (1, AttendanceStatus::Absent as i32),
            (2, AttendanceStatus::Excused as i32)
        ]
    );
    assert_eq!(history[1].note, "إجازة مرضية");
    let events = w.published::<ev::AttendanceRecorded>().await;
    assert_eq!(events.len(), 2);
    assert_eq!((events[1].present, events[1].absent), (2, 1));
    assert_eq!(events[1].session_date, course.sessions[0].date);

    // With a request_id, a late retry returns the first answer and undoes
    // no later correction.
    let session2 = course.sessions[1].id.clone();
    let before = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session2,
        vec![mark(&ids[0], AttendanceStatus::Present)],
        "attendance-day-2",
    )
    .await
    .unwrap();
    record(
        &mut w.client,
        &trainer,
        &course.id,
        &session2,
        vec![mark(&ids[0], AttendanceStatus::Absent)],
        "",
    )
    .await
    .unwrap();
    let replayed = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session2,
        vec![mark(&ids[0], AttendanceStatus::Present)],
        "attendance-day-2",
    )
    .await
    .unwrap();
    assert_eq!(replayed, before);
    let now = w
        .client
        .get_session_attendance(authed(
            api::GetSessionAttendanceRequest {
                course_id: course.id.clone(),
                session_id: session2.clone(),
            },
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.marks[0].status, AttendanceStatus::Absent as i32);
    assert_eq!(now.marks[0].revision, 2);
    assert_eq!(now.unmarked, 2);

    // Only participants of this course, and nothing written otherwise.
    let stranger = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        vec![
            mark(&ids[0], AttendanceStatus::Absent),
            mark(&new_id(), AttendanceStatus::Present),
        ],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(field_violations(&stranger), ["marks[1].enrolment_id"]);
    let unchanged = w
        .client
        .list_attendance_revisions(authed(revisions(""), &trainer))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(unchanged.len(), 4);
    let other = create_course(&mut w, course_body(10, Audience::Open, 1)).await;
    let wrong_session = record(
        &mut w.client,
        &trainer,
        &course.id,
        &other.sessions[0].id,
        vec![mark(&ids[0], AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(wrong_session.code(), Code::NotFound);

    // Another trainer, a partner: not theirs to record.
    let other_trainer = w.token_of("user-other-trainer", TENANT, &[Role::Trainer]);
    let refused = record(
        &mut w.client,
        &other_trainer,
        &course.id,
        &session,
        sheet.clone(),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let report_refused = w
        .client
        .get_course_report(authed(
            api::GetCourseReportRequest {
                course_id: course.id.clone(),
            },
            &other_trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(report_refused.code(), Code::PermissionDenied);
    // A trainer lists the enrolments of their own courses only.
    let theirs = w
        .client
        .list_enrolments(authed(
            api::ListEnrolmentsRequest::default(),
            &other_trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.enrolments.is_empty());
    let own = w
        .client
        .list_enrolments(authed(api::ListEnrolmentsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.enrolments.len(), 3);

    // A session that has not happened yet cannot be recorded.
    let future = create_course(&mut w, course_on(5, Audience::Open, &[-1, 5])).await;
    open(&mut w, &future.id).await;
    let p = known_person(
        &w,
        TENANT,
        "دانة",
        Gender::Female,
        AgeBand::AgeBand1824,
        None,
    )
    .await;
    let e = enrol(&mut w, &future.id, &p, "").await.unwrap();
    start(&mut w, &future.id).await;
    let ahead = record(
        &mut w.client,
        &trainer,
        &future.id,
        &future.sessions[1].id,
        vec![mark(&e.id, AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&ahead), "SESSION_NOT_HELD");
}

async fn completion_follows_the_rule_and_certificates_verify_publicly(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 5)).await;
    open(&mut w, &course.id).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    // Present at 5, 4, 3 and 0 of the 5 days.
    let people = [
        ("آمنة", Gender::Female, 5),
        ("بشير", Gender::Male, 4),
        ("جميلة", Gender::Female, 3),
        ("داود", Gender::Male, 0),
    ];
    let mut ids = Vec::new();
    for (name, gender, _) in people {
        let p = known_person(&w, TENANT, name, gender, AgeBand::AgeBand2534, Some(&org)).await;
        ids.push(enrol(&mut w, &course.id, &p, &org).await.unwrap().id);
    }
    start(&mut w, &course.id).await;
    let staff = w.staff.clone();
    for (i, session) in course.sessions.iter().enumerate() {
        let marks = people
            .iter()
            .zip(&ids)
            .map(|((_, _, present), id)| {
                mark(
                    id,
                    if (i as i32) < *present {
                        AttendanceStatus::Present
                    } else {
                        AttendanceStatus::Absent
                    },
                )
            })
            .collect();
        record(&mut w.client, &staff, &course.id, &session.id, marks, "")
            .await
            .unwrap();
    }
    let done = complete(&mut w, &course.id).await.unwrap();
    assert_eq!(done.status, CourseStatus::Completed as i32);

    let certificates = w
        .client
        .list_certificates(authed(
            api::ListCertificatesRequest {
                course_id: course.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificates;
    let issued: Vec<(String, i32)> = certificates
        .iter()
        .map(|c| (c.participant_name.clone(), c.attendance_percent))
        .collect();
    assert_eq!(
        issued,
        [("آمنة".to_string(), 100), ("بشير".to_string(), 80)]
    );
    assert!(
        certificates
            .iter()
            .all(|c| c.code.starts_with("RAQQA-CSC-"))
    );
    let first = enrolment(&mut w, &ids[0]).await;
    assert!(first.completed);
    assert_eq!(first.certificate_code, certificates[0].code);
    let third = enrolment(&mut w, &ids[2]).await;
    assert!(!third.completed && third.certificate_code.is_empty());
    assert_eq!(third.sessions_present, 3);

    // Anyone can check a certificate: no token at all.
    let public = w.client.clone();
    let verify = |code: &str| {
        let mut client = public.clone();
        let code = code.to_string();
        async move {
            client
                .verify_certificate(tonic::Request::new(api::VerifyCertificateRequest { code }))
                .await
                .map(|r| r.into_inner())
        }
    };
    let genuine = verify(&certificates[0].code).await.unwrap();
    assert!(genuine.valid && !genuine.revoked);
    assert_eq!(genuine.participant_name, "آمنة");
    assert_eq!(genuine.center, TENANT);
    assert_eq!(genuine.course_title, course.title);
    assert_eq!(genuine.end_date, course.end_date);
    let typed = format!("  {} ", certificates[0].code.to_lowercase());
    assert_eq!(verify(&typed).await.unwrap().code, certificates[0].code);
    let random = certificates[0].code.rsplitn(4, '-').collect::<Vec<_>>();
    let unknown = verify(&format!("RAQQA-CSC-{}-{}-0000", random[2], random[1]))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let elsewhere = verify(&certificates[0].code.replace("RAQQA-CSC", "DEIR-CSC"))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);
    let garbage = verify("not a code").await.unwrap_err();
    assert_eq!(garbage.code(), Code::InvalidArgument);

    // A certificate issued in error is revoked; verification says so.
    let revoke = api::RevokeCertificateRequest {
        id: certificates[1].id.clone(),
        reason: "خطأ في سجل الحضور".into(),
    };
    let revoked = w
        .client
        .revoke_certificate(authed(revoke.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.revoked);
    let check = verify(&certificates[1].code).await.unwrap();
    assert!(!check.valid && check.revoked);
    let twice = w
        .client
        .revoke_certificate(authed(revoke, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice), "CERTIFICATE_REVOKED");

    // What the bus heard: who took part and who completed, by gender.
    let completed = w.published::<ev::CourseCompleted>().await;
    assert_eq!(completed.len(), 1);
    let c = &completed[0];
    assert_eq!(
        (
            c.participants_female,
            c.participants_male,
            c.participants_undisclosed
        ),
        (2, 1, 0)
    );
    assert_eq!((c.completed_female, c.completed_male), (1, 1));
    assert_eq!(c.completers.len(), 2);
    assert_eq!(c.completers[0].organization_id, org);
    assert_eq!(c.topic_codes, ["proposal-writing"]);
    let issued = w.published::<ev::CertificateIssued>().await;
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[0].code, certificates[0].code);
    assert_eq!(w.published::<ev::CertificateRevoked>().await.len(), 1);

    let r = report(&mut w, &course.id).await;
    assert_eq!(counts(&r.completed), (1, 1, 0, 2));
    assert_eq!(r.certificates_issued, 1, "the revoked one no longer counts");

    // A completed course is closed.
    let late = record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[0].id,
        vec![mark(&ids[3], AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&late), "COURSE_NOT_RUNNING");
    let leave = w
        .client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: ids[3].clone(),
                reason: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&leave), "COURSE_CLOSED");
    // A partner sees its own organization's certificates.
    let partner = w.token(&[Role::Partner], Some(&org));
    let theirs = w
        .client
        .list_certificates(authed(api::ListCertificatesRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.certificates.len(), 2);
}

async fn completion_needs_a_mark_for_everyone_holding_a_place(backend: Backend) {
    let mut w = world(backend).await;
    // Three places and two waiting: Amal, Basel and Jud hold a place.
    let course = create_course(&mut w, course_body(3, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let ids = enrol_people(
        &mut w,
        &course.id,
        &[
            ("أمل", Gender::Female),
            ("باسل", Gender::Male),
            ("جود", Gender::Female),
            ("دانة", Gender::Female),
            ("هادي", Gender::Male),
        ],
    )
    .await;
    start(&mut w, &course.id).await;
    let staff = w.staff.clone();
    // The trainer marks only Amal, at both sessions.
    for session in &course.sessions {
        record(
            &mut w.client,
            &staff,
            &course.id,
            &session.id,
            vec![mark(&ids[0], AttendanceStatus::Present)],
            "",
        )
        .await
        .unwrap();
    }
    // Basel and Jud are unmarked: completing now would fail them for good.
    let refused = complete(&mut w, &course.id).await.unwrap_err();
    assert_eq!(precondition(&refused), "ATTENDANCE_MISSING");
    for session in &course.sessions {
        let date = KDate::required("date", session.date.as_ref()).unwrap();
        assert!(
            refused.message().contains(&date.to_string()),
            "{}",
            refused.message()
        );
    }
    assert!(refused.message().contains(&ids[1]), "{}", refused.message());
    assert!(refused.message().contains(&ids[2]), "{}", refused.message());
    assert!(
        !refused.message().contains(&ids[0]),
        "{}",
        refused.message()
    );
    // Nobody waiting is asked for: they hold no place.
    assert!(
        !refused.message().contains(&ids[3]),
        "{}",
        refused.message()
    );
    assert!(w.published::<ev::CourseCompleted>().await.is_empty());
    assert!(w.published::<ev::CertificateIssued>().await.is_empty());
    assert_eq!(
        get_course(&mut w, &course.id).await.status,
        CourseStatus::Running as i32
    );

    // Jud leaves; Dana takes her place and must be marked too.
    cancel_enrolment(&mut w, &ids[2]).await;
    assert_eq!(
        enrolment(&mut w, &ids[3]).await.status,
        EnrolmentStatus::Enrolled as i32
    );
    let sheet = |present: bool| {
        vec![
            mark(&ids[1], AttendanceStatus::Present),
            mark(
                &ids[3],
                if present {
                    AttendanceStatus::Present
                } else {
                    AttendanceStatus::Excused
                },
            ),
        ]
    };
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[0].id,
        sheet(true),
        "",
    )
    .await
    .unwrap();
    let still = complete(&mut w, &course.id).await.unwrap_err();
    assert_eq!(precondition(&still), "ATTENDANCE_MISSING");
    assert!(!still.message().contains(&ids[2]), "{}", still.message());
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[1].id,
        sheet(false),
        "",
    )
    .await
    .unwrap();
    let done = complete(&mut w, &course.id).await.unwrap();
    assert_eq!(done.status, CourseStatus::Completed as i32);
    let completed = w.published::<ev::CourseCompleted>().await;
    assert_eq!(completed.len(), 1);
    // Amal and Basel at both sessions; Dana excused once: 50%, no certificate.
    assert_eq!(
        (completed[0].completed_female, completed[0].completed_male),
        (1, 1)
    );
}

async fn learning_gain_per_participant_and_per_course(backend: Backend) {
    let mut w = world(backend).await;
    let mut body = course_body(10, Audience::Open, 2);
    body.completion_rule = Some(api::CompletionRule {
        min_attendance_percent: 50,
        min_post_test_score: 75,
    });
    let course = create_course(&mut w, body).await;
    open(&mut w, &course.id).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let p = known_person(
            &w,
            TENANT,
            &format!("متدرب {i}"),
            Gender::Female,
            AgeBand::AgeBand2534,
            None,
        )
        .await;
        ids.push(enrol(&mut w, &course.id, &p, "").await.unwrap().id);
    }
    start(&mut w, &course.id).await;
    let trainer = w.token(&[Role::Trainer], None);
    let scores = |kind: TestKind, list: &[(usize, i32)]| api::RecordTestScoresRequest {
        course_id: course.id.clone(),
        kind: kind as i32,
        scores: list
            .iter()
            .map(|(i, s)| api::TestScore {
                enrolment_id: ids[*i].clone(),
                score: *s,
            })
            .collect(),
    };
    let pre = w
        .client
        .record_test_scores(authed(
            scores(TestKind::Pre, &[(0, 40), (1, 60), (2, 100), (3, 50)]),
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pre.enrolments[0].pre_test_score, Some(40));
    assert_eq!(pre.enrolments[0].learning_gain, None);
    let post = w
        .client
        .record_test_scores(authed(
            scores(TestKind::Post, &[(0, 70), (1, 80), (2, 100)]),
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    let gains: Vec<Option<i32>> = post.enrolments.iter().map(|e| e.learning_gain).collect();
    assert_eq!(gains, [Some(30), Some(20), Some(0)]);
    assert_eq!(enrolment(&mut w, &ids[3]).await.learning_gain, None);

    let r = report(&mut w, &course.id).await;
    let g = r.learning_gain.unwrap();
    assert_eq!(g.participants_tested, 3);
    assert!((g.average_pre_test_score - 200.0 / 3.0).abs() < 1e-9);
    assert!((g.average_post_test_score - 250.0 / 3.0).abs() < 1e-9);
    assert!((g.average_gain - 50.0 / 3.0).abs() < 1e-9);
    assert!((g.average_normalized_gain - 0.5).abs() < 1e-9);

    // Scored again, the new score counts.
    let again = w
        .client
        .record_test_scores(authed(scores(TestKind::Post, &[(0, 90)]), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.enrolments[0].learning_gain, Some(50));

    let bad = w
        .client
        .record_test_scores(authed(
            api::RecordTestScoresRequest {
                course_id: course.id.clone(),
                kind: TestKind::Post as i32,
                scores: vec![
                    api::TestScore {
                        enrolment_id: ids[1].clone(),
                        score: 101,
                    },
                    api::TestScore {
                        enrolment_id: new_id(),
                        score: 50,
                    },
                ],
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bad), ["scores[0].score"]);
    let stranger = w
        .client
        .record_test_scores(authed(
            api::RecordTestScoresRequest {
                course_id: course.id.clone(),
                kind: TestKind::Post as i32,
                scores: vec![api::TestScore {
                    enrolment_id: new_id(),
                    score: 50,
                }],
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&stranger), ["scores[0].enrolment_id"]);

    // The rule asks for a post-test of 75: attendance alone is not enough.
    for session in &course.sessions {
        let marks = ids
            .iter()
            .map(|id| mark(id, AttendanceStatus::Present))
            .collect();
        record(&mut w.client, &trainer, &course.id, &session.id, marks, "")
            .await
            .unwrap();
    }
    complete(&mut w, &course.id).await.unwrap();
    let completed: Vec<bool> = futures::future::join_all(ids.iter().map(|id| {
        let mut client = w.client.clone();
        let (id, token) = (id.clone(), w.staff.clone());
        async move {
            client
                .get_enrolment(authed(api::GetEnrolmentRequest { id }, &token))
                .await
                .unwrap()
                .into_inner()
                .completed
        }
    }))
    .await;
    // 90 and 80 pass; 100 passes; no post-test fails.
    assert_eq!(completed, [true, true, true, false]);
}

async fn consultations_record_follow_up_actions(backend: Backend) {
    let mut w = world(backend).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let f = known_person(
        &w,
        TENANT,
        "رنا",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&org),
    )
    .await;
    let m = known_person(
        &w,
        TENANT,
        "وائل",
        Gender::Male,
        AgeBand::AgeBand3544,
        Some(&org),
    )
    .await;
    let body = api::Consultation {
        kind: ConsultationKind::TechnicalSupport as i32,
        topic_codes: vec!["financial-management".into()],
        organization_id: org.clone(),
        attendee_person_ids: vec![f.clone(), m.clone()],
        advisor: Some(api::Advisor {
            name: "خبير مالي".into(),
            kind: AdvisorKind::ExternalExpert as i32,
        }),
        branch_id: "raqqa".into(),
        held_on: Some(day(-1)),
        duration_minutes: 90,
        notes: "مراجعة دليل الإجراءات المالية\nوخطة الموازنة".into(),
        follow_up_actions: vec![
            api::FollowUpAction {
                description: "إعداد سجل الأصول".into(),
                owner: "المحاسب".into(),
                due_date: Some(day(7)),
                ..Default::default()
            },
            api::FollowUpAction {
                description: "مشاركة النموذج".into(),
                owner: "the advisor".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let created = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(body.clone()),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counts(&created.attendees_by_gender), (1, 1, 0, 2));
    assert_eq!(created.follow_up_actions.len(), 2);
    assert!(
        created
            .follow_up_actions
            .iter()
            .all(|a| !a.id.is_empty() && !a.done)
    );
    assert_eq!(created.notes, body.notes);
    let held = w.published::<ev::ConsultationHeld>().await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].kind, "technical_support");
    assert_eq!((held[0].attendees_female, held[0].attendees_male), (1, 1));

    // The first action is done, the second dropped, a third added.
    let mut actions = created.follow_up_actions.clone();
    actions[0].done = true;
    actions.truncate(1);
    actions.push(api::FollowUpAction {
        description: "زيارة متابعة".into(),
        owner: "مسؤولة بناء القدرات".into(),
        due_date: Some(day(3)),
        ..Default::default()
    });
    let updated = w
        .client
        .update_consultation(authed(
            api::UpdateConsultationRequest {
                consultation: Some(api::Consultation {
                    id: created.id.clone(),
                    follow_up_actions: actions,
                    etag: created.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["follow_up_actions".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        updated.follow_up_actions[0].id,
        created.follow_up_actions[0].id
    );
    assert!(updated.follow_up_actions[0].done);
    assert_eq!(updated.follow_up_actions[0].done_on, Some(day(0)));
    assert_ne!(
        updated.follow_up_actions[1].id,
        created.follow_up_actions[1].id
    );
    assert_eq!(updated.notes, created.notes);
    let held = w.published::<ev::ConsultationHeld>().await;
    assert_eq!(held.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2]);

    let todo = |include_done| api::ListFollowUpActionsRequest {
        include_done,
        ..Default::default()
    };
    let open_actions = w
        .client
        .list_follow_up_actions(authed(todo(false), &w.staff))
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert_eq!(open_actions.len(), 1);
    assert_eq!(open_actions[0].description, "زيارة متابعة");
    assert_eq!(open_actions[0].consultation_id, created.id);
    assert_eq!(open_actions[0].organization_id, org);
    let every = w
        .client
        .list_follow_up_actions(authed(todo(true), &w.staff))
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert_eq!(
        every.iter().map(|a| a.due_date).collect::<Vec<_>>(),
        [Some(day(3)), Some(day(7))],
        "soonest due first"
    );
    let due_soon = w
        .client
        .list_follow_up_actions(authed(
            api::ListFollowUpActionsRequest {
                include_done: true,
                due_until: Some(day(5)),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .actions;
    assert_eq!(due_soon.len(), 1);

    // An action id of another consultation, an unknown person: refused.
    let foreign = w
        .client
        .update_consultation(authed(
            api::UpdateConsultationRequest {
                consultation: Some(api::Consultation {
                    id: created.id.clone(),
                    follow_up_actions: vec![api::FollowUpAction {
                        id: new_id(),
                        description: "x".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["follow_up_actions".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&foreign),
        ["consultation.follow_up_actions[0].id"]
    );
    let mut stranger = body.clone();
    stranger.attendee_person_ids = vec![new_id()];
    let unknown = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(stranger),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&unknown), "PERSON_NOT_KNOWN");

    // An individual comes on their own.
    let mut individual = body.clone();
    individual.kind = ConsultationKind::Consultation as i32;
    individual.organization_id.clear();
    individual.attendee_person_ids = vec![f.clone()];
    individual.follow_up_actions.clear();
    w.client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(individual),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let only_support = w
        .client
        .list_consultations(authed(
            api::ListConsultationsRequest {
                kind: ConsultationKind::TechnicalSupport as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_support.consultations.len(), 1);

    // The partner sees its own organization's consultations only.
    let partner = w.token(&[Role::Partner], Some(&org));
    let theirs = w
        .client
        .list_consultations(authed(api::ListConsultationsRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.consultations.len(), 1);
    let outsider = w.token(&[Role::Partner], Some(&new_id()));
    let hidden = w
        .client
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: created.id.clone(),
            },
            &outsider,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let none = w
        .client
        .list_follow_up_actions(authed(todo(true), &outsider))
        .await
        .unwrap()
        .into_inner();
    assert!(none.actions.is_empty());
}

async fn suggestions_need_no_account_but_are_limited(backend: Backend) {
    let mut w = world(backend).await;
    let public = w.client.clone();
    let suggest = |tenant: &str, s: api::TrainingSuggestion| {
        let mut client = public.clone();
        let request = api::SuggestTrainingRequest {
            tenant_id: tenant.into(),
            suggestion: Some(s),
        };
        // No token: the public page of the center.
        async move {
            client
                .suggest_training(tonic::Request::new(request))
                .await
                .map(|r| r.into_inner())
        }
    };
    let idea = api::TrainingSuggestion {
        title: "تدريب على الأمن الرقمي للناشطين".into(),
        description: "حماية الحسابات والبيانات".into(),
        topic_codes: vec!["mobilisation-advocacy".into()],
        suggested_by: "مبادرة شباب الطبقة".into(),
        contact: "tabqa@example.org".into(),
        ..Default::default()
    };
    // 1: a center nobody has heard of.
    let unknown = suggest("nowhere", idea.clone()).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    // The center's staff are at work: it is known from now on.
    w.client
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap();
    // 2: taken.
    let receipt = suggest(TENANT, idea.clone()).await.unwrap();
    assert!(!receipt.id.is_empty());
    // 3, 4: too big, an unknown topic.
    let mut big = idea.clone();
    big.title = "ت".repeat(201);
    big.description = "x".repeat(2_001);
    let too_big = suggest(TENANT, big).await.unwrap_err();
    assert_eq!(
        field_violations(&too_big),
        ["suggestion.title", "suggestion.description"]
    );
    let mut odd = idea.clone();
    odd.topic_codes = vec!["astrology".into()];
    let odd = suggest(TENANT, odd).await.unwrap_err();
    assert_eq!(field_violations(&odd), ["suggestion.topic_codes[0]"]);
    // 5: taken; 6: over the limit for this address.
    suggest(
        TENANT,
        api::TrainingSuggestion {
            title: "Report writing".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let flood = suggest(TENANT, idea.clone()).await.unwrap_err();
    assert_eq!(flood.code(), Code::ResourceExhausted);

    // Staff see what came in, byte for byte, and triage it.
    let listed = w
        .client
        .list_training_suggestions(authed(
            api::ListTrainingSuggestionsRequest {
                status: SuggestionStatus::New as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].title.as_bytes(), idea.title.as_bytes());
    assert_eq!(listed[0].contact, "tabqa@example.org");
    let triage =
        |status: SuggestionStatus, course: &str, etag: &str| api::TriageTrainingSuggestionRequest {
            id: receipt.id.clone(),
            status: status as i32,
            note: "فكرة جيدة".into(),
            course_id: course.into(),
            etag: etag.into(),
        };
    let accepted = w
        .client
        .triage_training_suggestion(authed(triage(SuggestionStatus::Accepted, "", ""), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.status, SuggestionStatus::Accepted as i32);
    assert_eq!(accepted.triaged_by, "user-staff");
    let no_course = w
        .client
        .triage_training_suggestion(authed(
            triage(SuggestionStatus::Scheduled, "", ""),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&no_course), ["course_id"]);
    let wrong_course = w
        .client
        .triage_training_suggestion(authed(
            triage(SuggestionStatus::Scheduled, &new_id(), ""),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&wrong_course), ["course_id"]);
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    let scheduled = w
        .client
        .triage_training_suggestion(authed(
            triage(SuggestionStatus::Scheduled, &course.id, &accepted.etag),
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(scheduled.course_id, course.id);
    let back_to_new = w
        .client
        .triage_training_suggestion(authed(triage(SuggestionStatus::New, "", ""), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&back_to_new), ["status"]);
    let declined = w
        .client
        .triage_training_suggestion(authed(triage(SuggestionStatus::Declined, "", ""), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&declined), "SUGGESTION_TRIAGE");
    // The public reads nothing back; partners do not triage.
    let partner = w.token(&[Role::Partner], Some(&new_id()));
    let refused = w
        .client
        .list_training_suggestions(authed(
            api::ListTrainingSuggestionsRequest::default(),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

/// A client of the public page at 127.0.0.`n`: every loopback address is a
/// different client to the rate limits.
async fn client_at(w: &World, n: u8) -> Client {
    let channel = Channel::from_shared(format!("http://{}", w.app.app.grpc_addr()))
        .unwrap()
        .local_address(Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(
            127, 0, 0, n,
        ))))
        .connect()
        .await
        .unwrap();
    CapacityServiceClient::new(channel)
}

async fn suggest_from(
    client: &mut Client,
    tenant: &str,
    topic: &str,
) -> Result<api::SuggestTrainingResponse, Status> {
    client
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: tenant.into(),
            suggestion: Some(api::TrainingSuggestion {
                title: "إدارة المتطوعين".into(),
                topic_codes: vec![topic.into()],
                ..Default::default()
            }),
        }))
        .await
        .map(|r| r.into_inner())
}

async fn refused_suggestions_do_not_use_up_a_centers_quota(backend: Backend) {
    let w = world(backend).await;
    // The center's staff are at work: it is known.
    w.client
        .clone()
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap();
    // More refused attempts than a center takes in an hour, five from each
    // of many addresses (each within its own limit).
    let attempts = limits::SUGGESTIONS_PER_CENTER.max / limits::SUGGESTIONS_PER_CLIENT.max + 1;
    let per_client = limits::SUGGESTIONS_PER_CLIENT.max;
    // To a center not known yet (it may start using Markaz later today)...
    for n in 0..attempts {
        let mut client = client_at(&w, 10 + n as u8).await;
        for _ in 0..per_client {
            let refused = suggest_from(&mut client, "late-center", "proposal-writing")
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
        }
        // The address's own limit still comes first.
        let limited = suggest_from(&mut client, "late-center", "proposal-writing")
            .await
            .unwrap_err();
        assert_eq!(limited.code(), Code::ResourceExhausted);
    }
    // ... and to a known one, with a topic it does not have.
    for n in 0..attempts {
        let mut client = client_at(&w, 100 + n as u8).await;
        for _ in 0..per_client {
            let refused = suggest_from(&mut client, TENANT, "astrology")
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        }
    }
    // Neither used up anything: the next genuine suggestion is taken.
    let mut genuine = client_at(&w, 200).await;
    suggest_from(&mut genuine, TENANT, "proposal-writing")
        .await
        .unwrap();
    // The late center's staff start work; its form is open.
    let late_staff = w.app.token("late-center", &[Role::Staff], None);
    w.client
        .clone()
        .list_topics(authed(api::ListTopicsRequest::default(), &late_staff))
        .await
        .unwrap();
    let mut first = client_at(&w, 201).await;
    suggest_from(&mut first, "late-center", "proposal-writing")
        .await
        .unwrap();
}

async fn recommendations_follow_the_latest_assessment(backend: Backend) {
    let mut w = world(backend).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let shared = w.client.clone();
    let recommend = |org: &str, token: &str, max: i32| {
        let mut client = shared.clone();
        let (org, token) = (org.to_string(), token.to_string());
        async move {
            client
                .recommend_courses(authed(
                    api::RecommendCoursesRequest {
                        organization_id: org,
                        max_results: max,
                    },
                    &token,
                ))
                .await
                .map(|r| r.into_inner())
        }
    };
    let staff = w.staff.clone();
    let none = recommend(&org, &staff, 0).await.unwrap_err();
    assert_eq!(precondition(&none), "NO_ASSESSMENT");

    use CapacityDomain as D;
    let assessment = |id: &str, on: Date, scores: &[(D, i32)]| ev::AssessmentCompleted {
        assessment_id: id.into(),
        organization_id: org.clone(),
        assessed_on: Some(on),
        scores: scores
            .iter()
            .map(|(d, s)| ev::DomainScore {
                domain: *d as i32,
                score: *s,
            })
            .collect(),
    };
    let scores = [
        (D::Governance, 3),
        (D::Administration, 4),
        (D::HumanResources, 2),
        (D::FinancialManagement, 1),
        (D::OrganizationalManagement, 4),
        (D::ProgramManagement, 2),
        (D::ProjectPerformanceManagement, 3),
    ];
    let first = new_id();
    w.membership(TENANT, assessment(&first, day(-30), &scores))
        .await;

    let course = |topic: &str, audience: Audience, days: &[i64]| {
        let mut body = course_on(20, audience, days);
        body.topic_codes = vec![topic.into()];
        body
    };
    let mut ids = std::collections::HashMap::new();
    for (name, topic, audience, days, opened) in [
        (
            "finance",
            "financial-management",
            Audience::Open,
            [20, 21],
            true,
        ),
        (
            "me",
            "monitoring-evaluation",
            Audience::Open,
            [10, 11],
            true,
        ),
        (
            "proposal",
            "proposal-writing",
            Audience::Open,
            [10, 11],
            true,
        ),
        (
            "hr",
            "human-resources",
            Audience::IncubatedOnly,
            [5, 6],
            true,
        ),
        (
            "planned",
            "financial-management",
            Audience::Open,
            [5, 6],
            false,
        ),
        (
            "operations",
            "operational-planning",
            Audience::Open,
            [5, 6],
            true,
        ),
        (
            "projects",
            "project-management",
            Audience::Open,
            [30, 31],
            true,
        ),
    ] {
        let c = create_course(&mut w, course(topic, audience, &days)).await;
        if opened {
            open(&mut w, &c.id).await;
        }
        ids.insert(c.id.clone(), name);
    }
    let names = |r: &api::RecommendCoursesResponse| -> Vec<&str> {
        r.recommendations
            .iter()
            .map(|x| ids[&x.course.as_ref().unwrap().id])
            .collect()
    };
    let r = recommend(&org, &staff, 0).await.unwrap();
    assert_eq!(r.assessment_id, first);
    assert_eq!(
        r.weakest_domains
            .iter()
            .map(|d| (d.domain, d.score))
            .collect::<Vec<_>>(),
        [
            (D::FinancialManagement as i32, 1),
            (D::HumanResources as i32, 2),
            (D::ProgramManagement as i32, 2),
            (D::Governance as i32, 3),
            (D::ProjectPerformanceManagement as i32, 3),
        ]
    );
    // finance covers a gap of 3 at the weakest domain; projects 2 + 1;
    // hr and proposal 2 each (hr sooner); m&e 1. Planned and mature-only
    // courses are not offered.
    assert_eq!(names(&r), ["finance", "projects", "hr", "proposal", "me"]);
    assert_eq!(r.recommendations[0].relevance, 3);
    assert_eq!(
        r.recommendations[1].covered_domains,
        [
            D::ProgramManagement as i32,
            D::ProjectPerformanceManagement as i32
        ]
    );
    assert_eq!(
        names(&recommend(&org, &staff, 2).await.unwrap()),
        ["finance", "projects"]
    );

    // A newer assessment replaces it; an older one arriving late does not.
    let mut better = scores;
    better[3] = (D::FinancialManagement, 4);
    let second = new_id();
    w.membership(TENANT, assessment(&second, day(-1), &better))
        .await;
    w.membership(TENANT, assessment(&new_id(), day(-60), &scores))
        .await;
    let r = recommend(&org, &staff, 0).await.unwrap();
    assert_eq!(r.assessment_id, second);
    assert_eq!(names(&r), ["projects", "hr", "proposal", "me"]);

    // An organization outside incubation is not offered incubated-only courses.
    let outside = known_org(&w, TENANT, IncubationStatus::None).await;
    w.membership(
        TENANT,
        ev::AssessmentCompleted {
            organization_id: outside.clone(),
            ..assessment(&new_id(), day(-2), &scores)
        },
    )
    .await;
    let r = recommend(&outside, &staff, 0).await.unwrap();
    assert_eq!(names(&r), ["finance", "projects", "proposal", "me"]);

    // Partners ask for their own organization only.
    let partner = w.token(&[Role::Partner], Some(&org));
    assert!(recommend(&org, &partner, 0).await.is_ok());
    let other = recommend(&outside, &partner, 0).await.unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    let unknown = recommend(&new_id(), &staff, 0).await.unwrap_err();
    assert_eq!(precondition(&unknown), "ORGANIZATION_NOT_KNOWN");
}

async fn a_courses_figures_count_the_same_people(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(5, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let ids = enrol_people(
        &mut w,
        &course.id,
        &[
            ("أسماء", Gender::Female),
            ("بكر", Gender::Male),
            ("جنى", Gender::Female),
        ],
    )
    .await;
    start(&mut w, &course.id).await;
    let staff = w.staff.clone();
    use AttendanceStatus::{Absent, Present};
    let (day1, day2) = (course.sessions[0].id.clone(), course.sessions[1].id.clone());
    record(
        &mut w.client,
        &staff,
        &course.id,
        &day1,
        ids.iter().map(|id| mark(id, Present)).collect(),
        "",
    )
    .await
    .unwrap();
    // Jana leaves after the first day: she holds no place any more.
    cancel_enrolment(&mut w, &ids[2]).await;
    record(
        &mut w.client,
        &staff,
        &course.id,
        &day2,
        vec![mark(&ids[0], Present), mark(&ids[1], Absent)],
        "",
    )
    .await
    .unwrap();
    // A correction of the first day's sheet counts those holding a place.
    let mut late = mark(&ids[1], Present);
    late.note = "وصل متأخراً".into();
    let corrected = record(&mut w.client, &staff, &course.id, &day1, vec![late], "")
        .await
        .unwrap();
    assert_eq!(
        (
            corrected.present,
            corrected.absent,
            corrected.excused,
            corrected.unmarked
        ),
        (2, 0, 0, 0)
    );
    assert!(corrected.marks.iter().all(|m| m.enrolment_id != ids[2]));
    let heard = w.published::<ev::AttendanceRecorded>().await;
    assert_eq!(
        (heard.last().unwrap().present, heard.last().unwrap().absent),
        (2, 0)
    );
    complete(&mut w, &course.id).await.unwrap();

    let r = report(&mut w, &course.id).await;
    assert_eq!(counts(&r.enrolled), (1, 1, 0, 2));
    assert_eq!(r.cancelled, 1);
    assert_eq!(counts(&r.participants), (1, 1, 0, 2));
    assert_eq!(counts(&r.completed), (1, 0, 0, 1));
    assert!((r.average_attendance_percent - 75.0).abs() < 1e-9);
    assert_eq!(
        r.sessions
            .iter()
            .map(|s| (s.present, s.absent, s.excused))
            .collect::<Vec<_>>(),
        [(2, 0, 0), (1, 1, 0)]
    );
    // Each session's marks add up to the people enrolled, as every figure
    // of the report counts them.
    let enrolled = counts(&r.enrolled).3;
    assert!(
        r.sessions
            .iter()
            .all(|s| s.present + s.absent + s.excused == enrolled)
    );
    let completed = &w.published::<ev::CourseCompleted>().await[0];
    assert_eq!(
        (completed.participants_female, completed.participants_male),
        (1, 1)
    );
}

async fn reports_count_from_records_and_survive_erasure(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(4, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let people = [
        ("فاطمة الزهراء", Gender::Female, AgeBand::AgeBand2534),
        ("سلوى", Gender::Female, AgeBand::AgeBand1824),
        ("مازن", Gender::Male, AgeBand::AgeBand2534),
        ("—", Gender::Undisclosed, AgeBand::Undisclosed),
        ("متأخر", Gender::Male, AgeBand::AgeBand3544),
    ];
    let mut person_ids = Vec::new();
    let mut ids = Vec::new();
    for (name, gender, age) in people {
        let p = known_person(&w, TENANT, name, gender, age, None).await;
        ids.push(enrol(&mut w, &course.id, &p, "").await.unwrap().id);
        person_ids.push(p);
    }
    start(&mut w, &course.id).await;
    use AttendanceStatus::{Absent, Present};
    let staff = w.staff.clone();
    for (session, statuses) in course.sessions.iter().zip([
        [Present, Present, Present, Absent],
        [Present, Absent, Present, Absent],
    ]) {
        let marks = ids
            .iter()
            .zip(statuses)
            .map(|(id, s)| mark(id, s))
            .collect();
        record(&mut w.client, &staff, &course.id, &session.id, marks, "")
            .await
            .unwrap();
    }
    complete(&mut w, &course.id).await.unwrap();

    let before = report(&mut w, &course.id).await;
    assert_eq!(counts(&before.enrolled), (2, 1, 1, 4));
    assert_eq!(before.waitlisted, 1);
    assert_eq!(counts(&before.participants), (2, 1, 0, 3));
    assert_eq!(
        before
            .participants_by_age_band
            .iter()
            .map(|a| (a.age_band, a.count))
            .collect::<Vec<_>>(),
        [
            (AgeBand::AgeBand1824 as i32, 1),
            (AgeBand::AgeBand2534 as i32, 2)
        ]
    );
    assert_eq!(counts(&before.completed), (1, 1, 0, 2));
    assert!((before.average_attendance_percent - 62.5).abs() < 1e-9);
    assert_eq!(
        before
            .sessions
            .iter()
            .map(|s| (s.present, s.absent))
            .collect::<Vec<_>>(),
        [(3, 1), (2, 2)]
    );
    assert_eq!(before.certificates_issued, 2);

    // Fatima asks membership to forget her.
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: person_ids[0].clone(),
        },
    )
    .await;
    let hers = enrolment(&mut w, &ids[0]).await;
    assert_eq!(hers.participant_name, "");
    assert_eq!(hers.gender, Gender::Female as i32);
    let listed = enrolments(&mut w, &course.id, EnrolmentStatus::Enrolled).await;
    assert!(!listed.iter().any(|e| e.participant_name.contains("فاطمة")));
    let certificate = w
        .client
        .list_certificates(authed(
            api::ListCertificatesRequest {
                person_id: person_ids[0].clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(certificate[0].participant_name, "");
    let verified = w
        .client
        .verify_certificate(tonic::Request::new(api::VerifyCertificateRequest {
            code: certificate[0].code.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid && verified.participant_name.is_empty());
    // The figures do not move.
    assert_eq!(report(&mut w, &course.id).await, before);
    // A stale snapshot arriving late does not bring the name back.
    w.membership(
        TENANT,
        ev::PersonUpdated {
            person: Some(person_snapshot(
                &person_ids[0],
                "فاطمة الزهراء",
                Gender::Female,
                AgeBand::AgeBand2534,
                7,
            )),
        },
    )
    .await;
    assert_eq!(enrolment(&mut w, &ids[0]).await.participant_name, "");

    // The period's activity: courses and consultations by branch and gender.
    let consult =
        |kind: ConsultationKind, branch: &str, who: Vec<String>| api::CreateConsultationRequest {
            consultation: Some(api::Consultation {
                kind: kind as i32,
                attendee_person_ids: who,
                advisor: Some(api::Advisor {
                    name: "مسؤولة بناء القدرات".into(),
                    kind: AdvisorKind::Staff as i32,
                }),
                branch_id: branch.into(),
                held_on: Some(day(-2)),
                duration_minutes: 60,
                ..Default::default()
            }),
            request_id: String::new(),
        };
    for (kind, branch, who) in [
        (
            ConsultationKind::TechnicalSupport,
            "raqqa",
            vec![person_ids[1].clone()],
        ),
        (
            ConsultationKind::TechnicalSupport,
            "deir-ez-zor",
            vec![person_ids[2].clone(), person_ids[3].clone()],
        ),
        (
            ConsultationKind::Consultation,
            "deir-ez-zor",
            vec![person_ids[4].clone()],
        ),
    ] {
        w.client
            .create_consultation(authed(consult(kind, branch, who), &w.staff))
            .await
            .unwrap();
    }
    let activity = w
        .client
        .get_activity_report(authed(
            api::GetActivityReportRequest {
                from: Some(day(-30)),
                until: Some(day(0)),
                branch_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(activity.courses_completed, 1);
    assert_eq!(activity.by_kind[0].kind, CourseKind::Workshop as i32);
    assert_eq!(counts(&activity.course_participants), (2, 1, 0, 3));
    assert_eq!(counts(&activity.course_completers), (1, 1, 0, 2));
    assert_eq!(activity.certificates_issued, 2);
    assert_eq!(
        (activity.consultations, activity.technical_support_sessions),
        (1, 2)
    );
    assert_eq!(counts(&activity.consultation_attendees), (1, 2, 1, 4));
    let branches: Vec<(String, i32, i32, i32)> = activity
        .by_branch
        .iter()
        .map(|b| {
            (
                b.branch_id.clone(),
                b.courses_completed,
                b.consultations,
                b.technical_support_sessions,
            )
        })
        .collect();
    assert_eq!(
        branches,
        [
            ("deir-ez-zor".to_string(), 0, 1, 1),
            ("raqqa".to_string(), 1, 0, 1)
        ]
    );
    let raqqa = w
        .client
        .get_activity_report(authed(
            api::GetActivityReportRequest {
                branch_id: "raqqa".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            raqqa.courses_completed,
            raqqa.technical_support_sessions,
            raqqa.consultations
        ),
        (1, 1, 0)
    );
    let earlier = w
        .client
        .get_activity_report(authed(
            api::GetActivityReportRequest {
                until: Some(day(-100)),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            earlier.courses_completed,
            earlier.technical_support_sessions
        ),
        (0, 0)
    );
}

async fn an_erased_persons_name_is_on_no_read_path(backend: Backend) {
    let mut w = world(backend).await;
    const NAME: &str = "فاطمة الزهراء";
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let fatima = known_person(
        &w,
        TENANT,
        NAME,
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&org),
    )
    .await;
    let omar = known_person(
        &w,
        TENANT,
        "عمر السيد",
        Gender::Male,
        AgeBand::AgeBand3544,
        Some(&org),
    )
    .await;
    let course = create_course(&mut w, course_body(5, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let enrol_fatima = api::EnrolParticipantRequest {
        course_id: course.id.clone(),
        person_id: fatima.clone(),
        organization_id: org.clone(),
        request_id: "enrol-fatima".into(),
    };
    let hers = w
        .client
        .enrol_participant(authed(enrol_fatima.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let his = enrol(&mut w, &course.id, &omar, &org).await.unwrap();
    start(&mut w, &course.id).await;
    let staff = w.staff.clone();
    let note = |id: &str, text: &str| api::AttendanceMark {
        enrolment_id: id.into(),
        status: AttendanceStatus::Present as i32,
        note: text.into(),
        ..Default::default()
    };
    // Staff write about her: on her own marks (a medical appointment), and
    // by name on someone else's.
    let day1 = vec![
        note(&hers.id, &format!("غادرت {NAME} مبكراً لموعد طبي")),
        note(&his.id, &format!("حضر مع {NAME}")),
    ];
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[0].id,
        day1.clone(),
        "day-1",
    )
    .await
    .unwrap();
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[0].id,
        vec![note(&hers.id, "موعد في المستشفى الوطني")],
        "",
    )
    .await
    .unwrap();
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[1].id,
        vec![note(&hers.id, ""), note(&his.id, "")],
        "",
    )
    .await
    .unwrap();
    complete(&mut w, &course.id).await.unwrap();
    // She left another course; the reason names her.
    let other = create_course(&mut w, course_body(5, Audience::Open, 1)).await;
    open(&mut w, &other.id).await;
    let left = enrol(&mut w, &other.id, &fatima, &org).await.unwrap();
    w.client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: left.id.clone(),
                reason: format!("انتقلت {NAME} إلى دير الزور"),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    // A consultation she attended, its notes and actions naming her.
    let consult = api::CreateConsultationRequest {
        consultation: Some(api::Consultation {
            kind: ConsultationKind::Consultation as i32,
            organization_id: org.clone(),
            attendee_person_ids: vec![fatima.clone(), omar.clone()],
            advisor: Some(api::Advisor {
                name: "مسؤولة بناء القدرات".into(),
                kind: AdvisorKind::Staff as i32,
            }),
            branch_id: "raqqa".into(),
            held_on: Some(day(-1)),
            duration_minutes: 90,
            notes: format!("ناقشنا مع {NAME} ومع عمر خطة المشروع؛ وفاطمة الزهراء ستتابع"),
            follow_up_actions: vec![api::FollowUpAction {
                description: format!("ترسل {NAME} الميزانية"),
                owner: NAME.into(),
                due_date: Some(day(10)),
                ..Default::default()
            }],
            ..Default::default()
        }),
        request_id: "consult-1".into(),
    };
    let consultation = w
        .client
        .create_consultation(authed(consult.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    // She suggested a training on the public page, signing with her name.
    w.client
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: TENANT.into(),
            suggestion: Some(api::TrainingSuggestion {
                title: "إدارة المتطوعين".into(),
                suggested_by: NAME.into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap();
    let before_report = report(&mut w, &course.id).await;
    let activity = |w: &World| {
        let mut client = w.client.clone();
        let staff = w.staff.clone();
        async move {
            client
                .get_activity_report(authed(api::GetActivityReportRequest::default(), &staff))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let before_activity = activity(&w).await;

    // She asks membership to forget her.
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: fatima.clone(),
        },
    )
    .await;

    // Every read path, and every retry of a request that once answered
    // with her name, as the API answers it now.
    let mut seen: Vec<String> = Vec::new();
    let mut c = w.client.clone();
    let s = &w.staff;
    seen.push(format!(
        "{:?}",
        c.get_enrolment(authed(
            api::GetEnrolmentRequest {
                id: hers.id.clone()
            },
            s
        ))
        .await
    ));
    seen.push(format!(
        "{:?}",
        c.get_enrolment(authed(
            api::GetEnrolmentRequest {
                id: left.id.clone()
            },
            s
        ))
        .await
    ));
    seen.push(format!(
        "{:?}",
        c.list_enrolments(authed(api::ListEnrolmentsRequest::default(), s))
            .await
    ));
    seen.push(format!(
        "{:?}",
        c.enrol_participant(authed(enrol_fatima, s)).await
    ));
    for session in &course.sessions {
        seen.push(format!(
            "{:?}",
            c.get_session_attendance(authed(
                api::GetSessionAttendanceRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                },
                s
            ))
            .await
        ));
        seen.push(format!(
            "{:?}",
            c.list_attendance_revisions(authed(
                api::ListAttendanceRevisionsRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                    ..Default::default()
                },
                s
            ))
            .await
        ));
    }
    seen.push(format!(
        "{:?}",
        record(&mut c, s, &course.id, &course.sessions[0].id, day1, "day-1").await
    ));
    let certificates = c
        .list_certificates(authed(api::ListCertificatesRequest::default(), s))
        .await
        .unwrap()
        .into_inner();
    for cert in &certificates.certificates {
        seen.push(format!(
            "{:?}",
            c.verify_certificate(tonic::Request::new(api::VerifyCertificateRequest {
                code: cert.code.clone()
            }))
            .await
        ));
    }
    seen.push(format!("{certificates:?}"));
    seen.push(format!(
        "{:?}",
        c.get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone()
            },
            s
        ))
        .await
    ));
    seen.push(format!(
        "{:?}",
        c.list_consultations(authed(api::ListConsultationsRequest::default(), s))
            .await
    ));
    seen.push(format!(
        "{:?}",
        c.list_follow_up_actions(authed(
            api::ListFollowUpActionsRequest {
                include_done: true,
                ..Default::default()
            },
            s
        ))
        .await
    ));
    seen.push(format!(
        "{:?}",
        c.create_consultation(authed(consult, s)).await
    ));
    let suggestions = c
        .list_training_suggestions(authed(api::ListTrainingSuggestionsRequest::default(), s))
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    assert_eq!(suggestions[0].suggested_by, "[erased]");
    seen.push(format!("{suggestions:?}"));
    seen.push(format!("{:?}", report(&mut w, &course.id).await));
    for (i, text) in seen.iter().enumerate() {
        assert!(!text.contains("فاطمة"), "read {i} still names her: {text}");
    }

    // What was about her is gone; what others did is kept, her name cut out
    // of it; her attendance stays.
    let sheet = w
        .client
        .get_session_attendance(authed(
            api::GetSessionAttendanceRequest {
                course_id: course.id.clone(),
                session_id: course.sessions[0].id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let of = |id: &str| sheet.marks.iter().find(|m| m.enrolment_id == id).unwrap();
    assert_eq!(of(&hers.id).note, "");
    assert_eq!(of(&hers.id).status, AttendanceStatus::Present as i32);
    assert_eq!(of(&his.id).note, "حضر مع [erased]");
    assert_eq!(of(&his.id).participant_name, "عمر السيد");
    let kept = w
        .client
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        kept.notes,
        "ناقشنا مع [erased] ومع عمر خطة المشروع؛ و[erased] ستتابع"
    );
    assert_eq!(kept.follow_up_actions[0].owner, "[erased]");
    assert_eq!(kept.attendee_person_ids, [fatima.clone(), omar.clone()]);
    assert_ne!(kept.etag, consultation.etag, "the change shows in the etag");
    assert_eq!(counts(&kept.attendees_by_gender), (1, 1, 0, 2));
    // The figures do not move.
    assert_eq!(report(&mut w, &course.id).await, before_report);
    assert_eq!(activity(&w).await, before_activity);
}

async fn erasure_finds_a_name_in_any_script(backend: Backend) {
    let mut w = world(backend).await;
    let name = "Şêrîn Kobanî";
    let her = known_person(&w, TENANT, name, Gender::Female, AgeBand::AgeBand1824, None).await;
    let consultation = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(api::Consultation {
                    kind: ConsultationKind::TechnicalSupport as i32,
                    attendee_person_ids: vec![her.clone()],
                    advisor: Some(api::Advisor {
                        name: "External expert".into(),
                        kind: AdvisorKind::ExternalExpert as i32,
                    }),
                    branch_id: "kobani".into(),
                    held_on: Some(day(-1)),
                    duration_minutes: 45,
                    notes: format!("Met {name} about the budget; ŞÊRÎN KOBANÎ will send it."),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: her.clone(),
        },
    )
    .await;
    let kept = w
        .client
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    // Her name as written goes; a spelling that differs beyond ASCII case
    // is not recognised as hers.
    assert_eq!(
        kept.notes,
        "Met [erased] about the budget; ŞÊRÎN KOBANÎ will send it."
    );
}

async fn copies_apply_only_newer_snapshots_and_each_event_once(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::IncubatedOnly, 2)).await;
    open(&mut w, &course.id).await;

    // Version 3 (incubated) arrives before version 2 (applicant).
    let org = new_id();
    let snapshot = |status, v| ev::OrganizationUpdated {
        organization: Some(org_snapshot(&org, status, v)),
    };
    w.membership(
        TENANT,
        ev::OrganizationRegistered {
            organization: Some(org_snapshot(&org, IncubationStatus::Applicant, 1)),
        },
    )
    .await;
    w.membership(TENANT, snapshot(IncubationStatus::Incubated, 3))
        .await;
    w.membership(TENANT, snapshot(IncubationStatus::Applicant, 2))
        .await;
    let p = known_person(
        &w,
        TENANT,
        "أ",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&org),
    )
    .await;
    enrol(&mut w, &course.id, &p, &org).await.unwrap();

    // The incubation change arrives before the organization itself.
    let late = new_id();
    w.membership(
        TENANT,
        ev::IncubationStatusChanged {
            organization_id: late.clone(),
            from: IncubationStatus::Applicant as i32,
            to: IncubationStatus::Incubated as i32,
            reason: String::new(),
            changed_at: None,
            version: 2,
        },
    )
    .await;
    w.membership(
        TENANT,
        ev::OrganizationRegistered {
            organization: Some(org_snapshot(&late, IncubationStatus::Applicant, 1)),
        },
    )
    .await;
    let q = known_person(
        &w,
        TENANT,
        "ب",
        Gender::Male,
        AgeBand::AgeBand2534,
        Some(&late),
    )
    .await;
    enrol(&mut w, &course.id, &q, &late).await.unwrap();

    // The same event twice: the inbox applies it once.
    let person = new_id();
    let registered = envelope(
        TENANT,
        &ev::PersonRegistered {
            person: Some(person_snapshot(
                &person,
                "ج",
                Gender::Male,
                AgeBand::AgeBand1824,
                1,
            )),
        },
    );
    assert_eq!(w.deliver(&registered).await, Applied::Applied);
    assert_eq!(w.deliver(&registered).await, Applied::Duplicate);
    // A newer snapshot changes the name; an older one does not undo it.
    for (name, v) in [("جديد", 3), ("قديم", 2)] {
        w.membership(
            TENANT,
            ev::PersonUpdated {
                person: Some(person_snapshot(
                    &person,
                    name,
                    Gender::Male,
                    AgeBand::AgeBand1824,
                    v,
                )),
            },
        )
        .await;
    }
    let open_course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    open(&mut w, &open_course.id).await;
    let e = enrol(&mut w, &open_course.id, &person, "").await.unwrap();
    assert_eq!(e.participant_name, "جديد");

    // An erasure that arrives before the person: no name, ever.
    let ghost = new_id();
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: ghost.clone(),
        },
    )
    .await;
    w.membership(
        TENANT,
        ev::PersonRegistered {
            person: Some(person_snapshot(
                &ghost,
                "شبح",
                Gender::Female,
                AgeBand::AgeBand2534,
                1,
            )),
        },
    )
    .await;
    let refused = enrol(&mut w, &open_course.id, &ghost, "")
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "PERSON_ERASED");

    // Events of other tenants stay there.
    let foreign = known_person(
        &w,
        OTHER_TENANT,
        "د",
        Gender::Male,
        AgeBand::AgeBand2534,
        None,
    )
    .await;
    let not_here = enrol(&mut w, &open_course.id, &foreign, "")
        .await
        .unwrap_err();
    assert_eq!(precondition(&not_here), "PERSON_NOT_KNOWN");

    // Events membership publishes that capacity does not need are ignored.
    w.membership(TENANT, ev::CourseScheduled::default()).await;
}

async fn retried_creates_return_the_first_result(backend: Backend) {
    let mut w = world(backend).await;
    let request = api::CreateCourseRequest {
        course: Some(course_body(3, Audience::Open, 2)),
        request_id: "8f14e45f-ceea-467f-a0e6-0fd0f6c6b5e1".into(),
    };
    let first = w
        .client
        .create_course(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .create_course(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    let mut different = request;
    different.course.as_mut().unwrap().capacity = 30;
    let status = w
        .client
        .create_course(authed(different, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["request_id"]);
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(courses.courses.len(), 1);

    open(&mut w, &first.id).await;
    let p = known_person(&w, TENANT, "أ", Gender::Female, AgeBand::AgeBand2534, None).await;
    let enrol_request = api::EnrolParticipantRequest {
        course_id: first.id.clone(),
        person_id: p.clone(),
        organization_id: String::new(),
        request_id: "enrol-1".into(),
    };
    let a = w
        .client
        .enrol_participant(authed(enrol_request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let b = w
        .client
        .enrol_participant(authed(enrol_request, &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a, b);
    assert_eq!(get_course(&mut w, &first.id).await.enrolled_count, 1);
}

async fn rights_are_checked_before_a_retry_is_answered(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let p = new_id();
    w.membership(
        TENANT,
        ev::PersonRegistered {
            person: Some(person_snapshot(
                &p,
                "نور",
                Gender::Female,
                AgeBand::AgeBand2534,
                1,
            )),
        },
    )
    .await;
    let affiliation = affiliate(&w, TENANT, &p, &org).await;

    // A partner enrols its member, with a request id.
    let partner = w.token(&[Role::Partner], Some(&org));
    let request = api::EnrolParticipantRequest {
        course_id: course.id.clone(),
        person_id: p.clone(),
        organization_id: String::new(),
        request_id: "partner-enrol-1".into(),
    };
    let first = w
        .client
        .enrol_participant(authed(request.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.organization_id, org);
    // The person leaves the organization: the partner has no right to them
    // any more, and a retry of the same request gets no copy of the answer.
    w.membership(
        TENANT,
        ev::AffiliationEnded {
            affiliation_id: affiliation,
            person_id: p.clone(),
            organization_id: org.clone(),
        },
    )
    .await;
    let retried = w
        .client
        .enrol_participant(authed(request, &partner))
        .await
        .unwrap_err();
    assert_eq!(retried.code(), Code::NotFound, "{retried:?}");

    // The course's trainer records a sheet, with a request id.
    start(&mut w, &course.id).await;
    let trainer = w.token(&[Role::Trainer], None);
    let sheet = vec![mark(&first.id, AttendanceStatus::Present)];
    let session = course.sessions[0].id.clone();
    record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        sheet.clone(),
        "sheet-day-1",
    )
    .await
    .unwrap();
    // Staff hand the course to another trainer: the first one's retry is
    // refused like any other request of theirs on this course.
    w.client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    trainers: vec![api::Trainer {
                        name: "مدرّب آخر".into(),
                        subject: "user-other-trainer".into(),
                        external: false,
                    }],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["trainers".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let replayed = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        sheet,
        "sheet-day-1",
    )
    .await
    .unwrap_err();
    assert_eq!(replayed.code(), Code::PermissionDenied, "{replayed:?}");
}

async fn stale_etags_are_refused(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    let rename = |etag: &str, en: &str| api::UpdateCourseRequest {
        course: Some(api::Course {
            id: course.id.clone(),
            title: text("ورشة", en),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into()],
        }),
    };
    w.client
        .update_course(authed(rename(&course.etag, "A"), &w.staff))
        .await
        .unwrap();
    let lost = w
        .client
        .update_course(authed(rename(&course.etag, "B"), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(lost.code(), Code::Aborted);
    let stale_open = w
        .client
        .open_course(authed(
            api::OpenCourseRequest {
                id: course.id.clone(),
                etag: course.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale_open.code(), Code::Aborted);
    let got = get_course(&mut w, &course.id).await;
    assert_eq!(got.title.unwrap().en, "A");
    assert_eq!(got.status, CourseStatus::Planned as i32);
    let not_ours = w
        .client
        .open_course(authed(
            api::OpenCourseRequest {
                id: course.id.clone(),
                etag: "v7".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&not_ours), ["etag"]);
}

async fn bad_input_is_refused_with_field_details_and_nothing_written(backend: Backend) {
    let mut w = world(backend).await;
    let bad = api::Course {
        kind: 99,
        title: text(&"م".repeat(201), ""),
        topic_codes: vec![],
        branch_id: "Raqqa Branch".into(),
        sessions: vec![],
        capacity: -1,
        audience: 0,
        trainers: vec![api::Trainer::default()],
        ..Default::default()
    };
    let status = w
        .client
        .create_course(authed(
            api::CreateCourseRequest {
                course: Some(bad),
                request_id: "x".repeat(129),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        field_violations(&status),
        [
            "course.kind",
            "course.title.ar",
            "course.topic_codes",
            "course.branch_id",
            "course.sessions",
            "course.capacity",
            "course.trainers[0].name",
            "course.audience",
            "request_id",
        ]
    );
    let status = w
        .client
        .enrol_participant(authed(
            api::EnrolParticipantRequest {
                course_id: "1 OR 1=1".into(),
                person_id: String::new(),
                organization_id: "x".into(),
                request_id: "no spaces allowed".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    // Every bad field at once, the request id among them.
    assert_eq!(
        field_violations(&status),
        ["course_id", "person_id", "organization_id", "request_id"]
    );
    let status = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: None,
                request_id: "no spaces allowed".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "consultation.kind",
            "consultation.attendee_person_ids",
            "consultation.advisor.name",
            "consultation.advisor.kind",
            "consultation.branch_id",
            "consultation.held_on",
            "consultation.duration_minutes",
            "request_id",
        ]
    );
    let status = w
        .client
        .record_attendance(authed(
            api::RecordAttendanceRequest {
                course_id: new_id(),
                session_id: new_id(),
                marks: vec![],
                request_id: "no spaces allowed".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["marks", "request_id"]);
    let status = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: new_id(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["status".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["update_mask.paths[0]"]);
    let status = w
        .client
        .list_courses(authed(
            api::ListCoursesRequest {
                page_token: "garbage".into(),
                status: 42,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["status"]);
    let status = w
        .client
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: "Not A Tenant".into(),
            suggestion: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["tenant_id", "suggestion.title"]);
    let status = w
        .client
        .get_activity_report(authed(
            api::GetActivityReportRequest {
                from: Some(day(0)),
                until: Some(day(-1)),
                branch_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["until"]);

    // Nothing was written.
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(courses.courses.is_empty());
    let consultations = w
        .client
        .list_consultations(authed(api::ListConsultationsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(consultations.consultations.is_empty());
}

async fn refused_updates_write_nothing(backend: Backend) {
    let mut w = world(backend).await;
    // A center whose staff have done nothing yet: no catalogue, not known.
    let staff = w.token_of("user-staff", OTHER_TENANT, &[Role::Staff]);
    let long = api::UpdateTopicRequest {
        topic: Some(api::Topic {
            code: "strategic-planning".into(),
            name: text(&"ت".repeat(201), "Strategic planning"),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into()],
        }),
    };
    let refused = w
        .client
        .update_topic(authed(long, &staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&refused), ["topic.name.ar"]);
    let unknown_course = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: new_id(),
                    venue: "قاعة".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["venue".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown_course.code(), Code::NotFound);
    let unknown_consultation = w
        .client
        .update_consultation(authed(
            api::UpdateConsultationRequest {
                consultation: Some(api::Consultation {
                    id: new_id(),
                    notes: "ملاحظات".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["notes".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown_consultation.code(), Code::NotFound);

    // Nothing was written: no catalogue, and the center's public form is
    // not open on the strength of refused requests.
    let db = w.app.app.db("capacity").expect("capacity's database");
    let mut tx = db.read(OTHER_TENANT).await.unwrap();
    for table in ["topics", "known_tenants"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"
        )))
        .bind(OTHER_TENANT)
        .fetch_one(tx.conn())
        .await
        .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    tx.rollback().await.unwrap();
    let closed = w
        .client
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: OTHER_TENANT.into(),
            suggestion: Some(api::TrainingSuggestion {
                title: "فكرة".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::NotFound);

    // A valid update of a built-in topic still finds it.
    let renamed = w
        .client
        .update_topic(authed(
            api::UpdateTopicRequest {
                topic: Some(api::Topic {
                    code: "strategic-planning".into(),
                    name: text("التخطيط الاستراتيجي للمنظمات", "Strategic planning"),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["name".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(renamed.built_in);
    assert_eq!(renamed.name.unwrap().ar, "التخطيط الاستراتيجي للمنظمات");
    let listed = w
        .client
        .list_topics(authed(api::ListTopicsRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner()
        .topics;
    assert_eq!(listed.len(), 8);
}

async fn arabic_text_round_trips_byte_for_byte(backend: Backend) {
    let mut w = world(backend).await;
    // Tashkeel, a right-to-left mark, mixed scripts, an emoji.
    let tricky = "دَوْرَة \u{200F}المُناصَرة‎ – Advocacy 🌿";
    let mut body = course_body(5, Audience::Open, 2);
    body.title = text(tricky, "");
    body.description = text("سطر أول\nسطر ثانٍ", "");
    body.venue = "حيّ الثكنة، الرقة".into();
    body.trainers[0].name = "عبد الرَّحمن".into();
    let course = create_course(&mut w, body.clone()).await;
    let got = get_course(&mut w, &course.id).await;
    assert_eq!(got.title.clone().unwrap().ar.as_bytes(), tricky.as_bytes());
    assert_eq!(got.description, body.description);
    assert_eq!(got.venue.as_bytes(), body.venue.as_bytes());
    assert_eq!(got.trainers[0].name.as_bytes(), "عبد الرَّحمن".as_bytes());
    let found = w
        .client
        .list_courses(authed(
            api::ListCoursesRequest {
                topic_code: "proposal-writing".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.courses[0].title, got.title);

    let name = "مُحَمَّد \u{200F}الحَسَن";
    let p = known_person(&w, TENANT, name, Gender::Male, AgeBand::AgeBand2534, None).await;
    open(&mut w, &course.id).await;
    let e = enrol(&mut w, &course.id, &p, "").await.unwrap();
    assert_eq!(e.participant_name.as_bytes(), name.as_bytes());
    let topic = w
        .client
        .create_topic(authed(
            api::CreateTopicRequest {
                topic: Some(api::Topic {
                    code: "peace-building".into(),
                    name: text(tricky, "Peace"),
                    description: text("وصفٌ\tمفصّل", ""),
                    ..Default::default()
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let got = w
        .client
        .get_topic(authed(
            api::GetTopicRequest {
                code: topic.code.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name.unwrap().ar.as_bytes(), tricky.as_bytes());
    assert_eq!(got.description.unwrap().ar, "وصفٌ\tمفصّل");
}

async fn tenants_never_see_each_other(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(5, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let p = known_person(
        &w,
        TENANT,
        "سارة",
        Gender::Female,
        AgeBand::AgeBand2534,
        None,
    )
    .await;
    let e = enrol(&mut w, &course.id, &p, "").await.unwrap();
    w.client
        .create_topic(authed(
            api::CreateTopicRequest {
                topic: Some(api::Topic {
                    code: "ours-only".into(),
                    name: text("لنا", ""),
                    ..Default::default()
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let consultation = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(api::Consultation {
                    kind: ConsultationKind::Consultation as i32,
                    attendee_person_ids: vec![p.clone()],
                    advisor: Some(api::Advisor {
                        name: "x".into(),
                        kind: AdvisorKind::Staff as i32,
                    }),
                    branch_id: "raqqa".into(),
                    held_on: Some(day(-1)),
                    duration_minutes: 30,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();

    let intruder = w.token_of("user-admin", OTHER_TENANT, &[Role::Admin]);
    let get = w
        .client
        .get_course(authed(
            api::GetCourseRequest {
                id: course.id.clone(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(get.code(), Code::NotFound);
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(courses.courses.is_empty());
    let update = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    venue: "hacked".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["venue".into()],
                }),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(update.code(), Code::NotFound);
    let enrolment = w
        .client
        .get_enrolment(authed(
            api::GetEnrolmentRequest { id: e.id.clone() },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(enrolment.code(), Code::NotFound);
    let listed = w
        .client
        .list_enrolments(authed(api::ListEnrolmentsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.enrolments.is_empty());
    let sneak = enrol_as(&mut w.client, &intruder, &course.id, &p, "")
        .await
        .unwrap_err();
    assert_eq!(sneak.code(), Code::NotFound);
    let cancel = w
        .client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: e.id.clone(),
                reason: String::new(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::NotFound);
    let attendance = record(
        &mut w.client,
        &intruder,
        &course.id,
        &course.sessions[0].id,
        vec![mark(&e.id, AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(attendance.code(), Code::NotFound);
    let report = w
        .client
        .get_course_report(authed(
            api::GetCourseReportRequest {
                course_id: course.id.clone(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(report.code(), Code::NotFound);
    let consult = w
        .client
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(consult.code(), Code::NotFound);
    let topics = w
        .client
        .list_topics(authed(api::ListTopicsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(topics.topics.len(), 8, "the built-in catalogue, not ours");
    let activity = w
        .client
        .get_activity_report(authed(api::GetActivityReportRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(activity.consultations, 0);
    // Tenant B's own course cannot take tenant A's people.
    let mut theirs = w.client.clone();
    let their_course = theirs
        .create_course(authed(
            api::CreateCourseRequest {
                course: Some(course_body(5, Audience::Open, 2)),
                request_id: String::new(),
            },
            &intruder,
        ))
        .await
        .unwrap()
        .into_inner();
    theirs
        .open_course(authed(
            api::OpenCourseRequest {
                id: their_course.id.clone(),
                etag: String::new(),
            },
            &intruder,
        ))
        .await
        .unwrap();
    let borrowed = enrol_as(&mut theirs, &intruder, &their_course.id, &p, "")
        .await
        .unwrap_err();
    assert_eq!(precondition(&borrowed), "PERSON_NOT_KNOWN");

    if backend == Backend::Postgres {
        // The second wall: with no tenant set, row-level security hides
        // every tenant's rows even without a WHERE clause.
        let db = w.app.env.db("capacity").await.unwrap();
        let mut tx = db.system().await.unwrap();
        for table in [
            "courses",
            "enrolments",
            "membership_people",
            "consultations",
        ] {
            let n: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(tx.conn())
                    .await
                    .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        tx.rollback().await.unwrap();
        let mut tx = db.read(OTHER_TENANT).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM courses")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 1, "only the other tenant's own course");
    }
}

/// One call of every RPC, with a body that would pass validation, so the
/// only reason to refuse it is the credential.
async fn call(client: &mut Client, rpc: &str, token: &str) -> Code {
    let id = "0190d3b4-5c1a-7000-8000-000000000001".to_string();
    let r = match rpc {
        "CreateTopic" => client
            .create_topic(authed(
                api::CreateTopicRequest {
                    topic: Some(api::Topic {
                        code: "new-topic".into(),
                        name: text("جديد", ""),
                        ..Default::default()
                    }),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "GetTopic" => client
            .get_topic(authed(
                api::GetTopicRequest {
                    code: "proposal-writing".into(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListTopics" => client
            .list_topics(authed(api::ListTopicsRequest::default(), token))
            .await
            .map(|_| ()),
        "UpdateTopic" => client
            .update_topic(authed(
                api::UpdateTopicRequest {
                    topic: Some(api::Topic {
                        code: "proposal-writing".into(),
                        name: text("كتابة", ""),
                        ..Default::default()
                    }),
                    update_mask: None,
                },
                token,
            ))
            .await
            .map(|_| ()),
        "CreateCourse" => client
            .create_course(authed(
                api::CreateCourseRequest {
                    course: Some(course_body(5, Audience::Open, 2)),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "GetCourse" => client
            .get_course(authed(api::GetCourseRequest { id }, token))
            .await
            .map(|_| ()),
        "ListCourses" => client
            .list_courses(authed(api::ListCoursesRequest::default(), token))
            .await
            .map(|_| ()),
        "UpdateCourse" => client
            .update_course(authed(
                api::UpdateCourseRequest {
                    course: Some(api::Course {
                        id,
                        ..course_body(5, Audience::Open, 2)
                    }),
                    update_mask: None,
                },
                token,
            ))
            .await
            .map(|_| ()),
        "OpenCourse" => client
            .open_course(authed(
                api::OpenCourseRequest {
                    id,
                    etag: String::new(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "StartCourse" => client
            .start_course(authed(
                api::StartCourseRequest {
                    id,
                    etag: String::new(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "CompleteCourse" => client
            .complete_course(authed(
                api::CompleteCourseRequest {
                    id,
                    etag: String::new(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "CancelCourse" => client
            .cancel_course(authed(
                api::CancelCourseRequest {
                    id,
                    reason: "x".into(),
                    etag: String::new(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "EnrolParticipant" => enrol_as(client, token, &id, &id, "").await.map(|_| ()),
        "GetEnrolment" => client
            .get_enrolment(authed(api::GetEnrolmentRequest { id }, token))
            .await
            .map(|_| ()),
        "ListEnrolments" => client
            .list_enrolments(authed(api::ListEnrolmentsRequest::default(), token))
            .await
            .map(|_| ()),
        "CancelEnrolment" => client
            .cancel_enrolment(authed(
                api::CancelEnrolmentRequest {
                    id,
                    reason: String::new(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "RecordAttendance" => record(
            client,
            token,
            &id,
            &id,
            vec![mark(&id, AttendanceStatus::Present)],
            "",
        )
        .await
        .map(|_| ()),
        "GetSessionAttendance" => client
            .get_session_attendance(authed(
                api::GetSessionAttendanceRequest {
                    course_id: id.clone(),
                    session_id: id,
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListAttendanceRevisions" => client
            .list_attendance_revisions(authed(
                api::ListAttendanceRevisionsRequest {
                    course_id: id.clone(),
                    session_id: id,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "RecordTestScores" => client
            .record_test_scores(authed(
                api::RecordTestScoresRequest {
                    course_id: id.clone(),
                    kind: TestKind::Pre as i32,
                    scores: vec![api::TestScore {
                        enrolment_id: id,
                        score: 50,
                    }],
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListCertificates" => client
            .list_certificates(authed(api::ListCertificatesRequest::default(), token))
            .await
            .map(|_| ()),
        "RevokeCertificate" => client
            .revoke_certificate(authed(
                api::RevokeCertificateRequest {
                    id,
                    reason: "x".into(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "VerifyCertificate" => client
            .verify_certificate(authed(
                api::VerifyCertificateRequest {
                    code: "RAQQA-CSC-7F3K-9QXD-2M4P".into(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "CreateConsultation" => client
            .create_consultation(authed(
                api::CreateConsultationRequest {
                    consultation: Some(api::Consultation {
                        kind: ConsultationKind::Consultation as i32,
                        organization_id: id,
                        advisor: Some(api::Advisor {
                            name: "x".into(),
                            kind: AdvisorKind::Staff as i32,
                        }),
                        branch_id: "raqqa".into(),
                        held_on: Some(day(-1)),
                        duration_minutes: 30,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "GetConsultation" => client
            .get_consultation(authed(api::GetConsultationRequest { id }, token))
            .await
            .map(|_| ()),
        "ListConsultations" => client
            .list_consultations(authed(api::ListConsultationsRequest::default(), token))
            .await
            .map(|_| ()),
        "UpdateConsultation" => client
            .update_consultation(authed(
                api::UpdateConsultationRequest {
                    consultation: Some(api::Consultation {
                        id,
                        notes: "x".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["notes".into()],
                    }),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListFollowUpActions" => client
            .list_follow_up_actions(authed(api::ListFollowUpActionsRequest::default(), token))
            .await
            .map(|_| ()),
        "SuggestTraining" => client
            .suggest_training(authed(
                api::SuggestTrainingRequest {
                    tenant_id: TENANT.into(),
                    suggestion: Some(api::TrainingSuggestion {
                        title: "x".into(),
                        ..Default::default()
                    }),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListTrainingSuggestions" => client
            .list_training_suggestions(authed(
                api::ListTrainingSuggestionsRequest::default(),
                token,
            ))
            .await
            .map(|_| ()),
        "TriageTrainingSuggestion" => client
            .triage_training_suggestion(authed(
                api::TriageTrainingSuggestionRequest {
                    id,
                    status: SuggestionStatus::Accepted as i32,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "RecommendCourses" => client
            .recommend_courses(authed(
                api::RecommendCoursesRequest {
                    organization_id: id,
                    max_results: 0,
                },
                token,
            ))
            .await
            .map(|_| ()),
        "GetCourseReport" => client
            .get_course_report(authed(api::GetCourseReportRequest { course_id: id }, token))
            .await
            .map(|_| ()),
        "GetActivityReport" => client
            .get_activity_report(authed(api::GetActivityReportRequest::default(), token))
            .await
            .map(|_| ()),
        other => panic!("no call for {other}"),
    };
    match r {
        Ok(()) => Code::Ok,
        Err(s) => s.code(),
    }
}

/// Every RPC of the service with a role it must refuse; `None` for the
/// public ones, which need no credential at all.
const RPCS: &[(&str, Option<Role>)] = &[
    ("CreateTopic", Some(Role::Trainer)),
    ("GetTopic", Some(Role::Donor)),
    ("ListTopics", Some(Role::Reviewer)),
    ("UpdateTopic", Some(Role::Partner)),
    ("CreateCourse", Some(Role::Trainer)),
    ("GetCourse", Some(Role::Donor)),
    ("ListCourses", Some(Role::Operator)),
    ("UpdateCourse", Some(Role::Partner)),
    ("OpenCourse", Some(Role::Trainer)),
    ("StartCourse", Some(Role::Partner)),
    ("CompleteCourse", Some(Role::Trainer)),
    ("CancelCourse", Some(Role::Donor)),
    ("EnrolParticipant", Some(Role::Trainer)),
    ("GetEnrolment", Some(Role::Donor)),
    ("ListEnrolments", Some(Role::Reviewer)),
    ("CancelEnrolment", Some(Role::Trainer)),
    ("RecordAttendance", Some(Role::Partner)),
    ("GetSessionAttendance", Some(Role::Partner)),
    ("ListAttendanceRevisions", Some(Role::Donor)),
    ("RecordTestScores", Some(Role::Partner)),
    ("ListCertificates", Some(Role::Trainer)),
    ("RevokeCertificate", Some(Role::Partner)),
    ("VerifyCertificate", None),
    ("CreateConsultation", Some(Role::Partner)),
    ("GetConsultation", Some(Role::Trainer)),
    ("ListConsultations", Some(Role::Reviewer)),
    ("UpdateConsultation", Some(Role::Trainer)),
    ("ListFollowUpActions", Some(Role::Trainer)),
    ("SuggestTraining", None),
    ("ListTrainingSuggestions", Some(Role::Partner)),
    ("TriageTrainingSuggestion", Some(Role::Trainer)),
    ("RecommendCourses", Some(Role::Trainer)),
    ("GetCourseReport", Some(Role::Partner)),
    ("GetActivityReport", Some(Role::Trainer)),
];

#[test]
fn the_table_names_every_rpc_of_the_service() {
    let table: Vec<String> = RPCS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(service_methods("markaz.capacity.v1"), table);
}

async fn every_rpc_refuses_missing_and_bad_tokens(backend: Backend) {
    let mut w = world(backend).await;
    let bad = w.app.env.bad_tokens(TENANT);
    for (rpc, role) in RPCS {
        for (what, token) in &bad {
            let code = call(&mut w.client, rpc, token).await;
            if role.is_some() {
                assert_eq!(code, Code::Unauthenticated, "{rpc} with {what}");
            } else {
                // Public: the credential is not even read.
                assert_ne!(code, Code::Unauthenticated, "{rpc} with {what}");
                assert_ne!(code, Code::PermissionDenied, "{rpc} with {what}");
            }
        }
    }
}

async fn every_rpc_refuses_the_wrong_role(backend: Backend) {
    let mut w = world(backend).await;
    for (rpc, role) in RPCS {
        let Some(role) = role else { continue };
        let tenant = if *role == Role::Operator { "" } else { TENANT };
        let token = w.token_of(&format!("user-{role}"), tenant, &[*role]);
        let code = call(&mut w.client, rpc, &token).await;
        assert_eq!(code, Code::PermissionDenied, "{rpc} as {role}");
    }
    // Nothing was written by any of them.
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(courses.courses.is_empty());
    let topics = w
        .client
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(topics.topics.len(), 8);
    // Built-in topics start at version 1: nobody renamed them.
    assert!(
        topics
            .topics
            .iter()
            .all(|t| t.etag == markaz_kit::rpc::etag(1))
    );
}
