//! The capacity-building service: the topic catalogue, courses and workshops
//! with their daily sessions, enrolments with a waiting list, attendance,
//! pre/post tests, certificates anyone can verify, consultations and
//! technical-support sessions with their follow-up actions, training
//! suggestions and consultation requests from the public, course recommendations from an
//! organization's latest assessment, and reports computed from the records.
//!
//! | room | what it holds |
//! |---|---|
//! | [`domain`] | the rules: parsing requests, the course life cycle, the waiting list, completion, learning gain, certificate codes, recommendation ranking |
//! | [`store`] | the SQL, one implementation for PostgreSQL and SQLite |
//! | [`api`] | the gRPC API: one handler per RPC, object rights, one transaction per request, events to the outbox |
//! | [`events`] | the consumer: membership's copies (`markaz-membership-copies`), the assessments, erasure |
//! | [`limits`] | the in-memory rate limits of the public RPCs |
//!
//! The three layers have the same rooms, one per resource of the API:
//! topics, courses, enrolments, attendance, certificates, consultations,
//! consultation requests, suggestions, recommendations, reports.
//!
//! Capacity never calls membership: what it knows of organizations and
//! people comes from membership's events, so a person registered a moment
//! ago may not be known here yet (such requests are refused with
//! FAILED_PRECONDITION and can be retried).
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod events;
pub mod limits;
pub mod store;

use std::sync::Arc;

use markaz_kit::app::{Service, ServiceContext};
use markaz_kit::auth::Role;
use markaz_kit::events::Consumer;
use markaz_kit::migrate::{Migration, MigrationSet};
use markaz_kit::rpc::{Access, Rights};
use markaz_proto::capacity::v1::capacity_service_server::CapacityServiceServer;
use tonic::server::NamedService;

pub const NAME: &str = "capacity";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "capacity",
        sql: include_str!("../migrations/0001_capacity.sql"),
    },
    Migration {
        version: 2,
        name: "membership copies",
        sql: include_str!("../migrations/0002_membership_copies.sql"),
    },
    Migration {
        version: 3,
        name: "certificates by enrolment and code",
        sql: include_str!("../migrations/0003_certificate_by_enrolment_code.sql"),
    },
    Migration {
        version: 4,
        name: "indexes for filters",
        sql: include_str!("../migrations/0004_indexes_for_filters.sql"),
    },
    Migration {
        version: 5,
        name: "versions follow every change of text",
        sql: include_str!("../migrations/0005_versions_follow_text.sql"),
    },
    Migration {
        version: 6,
        name: "suggestion contacts retention",
        sql: include_str!("../migrations/0006_suggestion_contacts_retention.sql"),
    },
    Migration {
        version: 7,
        name: "consultation requests",
        sql: include_str!("../migrations/0007_consultation_requests.sql"),
    },
    Migration {
        version: 8,
        name: "follow-ups in due order",
        sql: include_str!("../migrations/0008_follow_ups_in_due_order.sql"),
    },
    Migration {
        version: 9,
        name: "consultations counted from indexes",
        sql: include_str!("../migrations/0009_consultations_counted_from_indexes.sql"),
    },
    Migration {
        version: 10,
        name: "course figures",
        sql: include_str!("../migrations/0010_course_figures.sql"),
    },
];

/// Staff manage.
const MANAGE: &[Role] = &[Role::Admin, Role::Staff];
/// Staff, and trainers for the courses they train.
const TEACH: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer];
/// Staff, trainers, and partners for what is theirs.
const READ: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
/// Staff, and partners for their own organization.
const PARTNERS: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];

/// Who may call each method, in the proto's order; object rights (a
/// partner's own organization, a trainer's own courses) are the handlers'.
pub const RIGHTS: &[Rights] = &[Rights {
    service: NAME,
    grpc_service: <CapacityServiceServer<api::CapacityApi> as NamedService>::NAME,
    methods: &[
        ("CreateTopic", Access::Roles(MANAGE)),
        ("GetTopic", Access::Roles(READ)),
        ("ListTopics", Access::Roles(READ)),
        ("UpdateTopic", Access::Roles(MANAGE)),
        ("CreateCourse", Access::Roles(MANAGE)),
        ("GetCourse", Access::Roles(READ)),
        ("ListCourses", Access::Roles(READ)),
        ("UpdateCourse", Access::Roles(MANAGE)),
        ("OpenCourse", Access::Roles(MANAGE)),
        ("StartCourse", Access::Roles(MANAGE)),
        ("CompleteCourse", Access::Roles(MANAGE)),
        ("CancelCourse", Access::Roles(MANAGE)),
        ("EnrolParticipant", Access::Roles(PARTNERS)),
        ("GetEnrolment", Access::Roles(READ)),
        ("ListEnrolments", Access::Roles(READ)),
        ("CancelEnrolment", Access::Roles(PARTNERS)),
        ("RecordAttendance", Access::Roles(TEACH)),
        ("GetSessionAttendance", Access::Roles(TEACH)),
        ("ListAttendanceRevisions", Access::Roles(TEACH)),
        ("RecordTestScores", Access::Roles(TEACH)),
        ("ListCertificates", Access::Roles(PARTNERS)),
        ("RevokeCertificate", Access::Roles(MANAGE)),
        ("VerifyCertificate", Access::Public),
        ("CreateConsultation", Access::Roles(MANAGE)),
        ("GetConsultation", Access::Roles(PARTNERS)),
        ("ListConsultations", Access::Roles(PARTNERS)),
        ("UpdateConsultation", Access::Roles(MANAGE)),
        ("ListFollowUpActions", Access::Roles(PARTNERS)),
        ("SuggestTraining", Access::Public),
        ("ListTrainingSuggestions", Access::Roles(MANAGE)),
        ("TriageTrainingSuggestion", Access::Roles(MANAGE)),
        ("RequestConsultation", Access::Public),
        ("ListConsultationRequests", Access::Roles(MANAGE)),
        ("TriageConsultationRequest", Access::Roles(MANAGE)),
        ("RecommendCourses", Access::Roles(PARTNERS)),
        ("GetCourseReport", Access::Roles(TEACH)),
        ("GetActivityReport", Access::Roles(MANAGE)),
    ],
}];

/// The capacity-building service, as the runtime runs it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Capacity;

impl Service for Capacity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn libraries(&self) -> &'static [MigrationSet] {
        &[markaz_membership_copies::MIGRATIONS]
    }

    fn register(
        &self,
        ctx: &ServiceContext,
        routes: &mut tonic::service::RoutesBuilder,
    ) -> Vec<&'static str> {
        let api = api::CapacityApi::new(ctx.db.clone(), ctx.rpc.clone());
        routes.add_service(
            CapacityServiceServer::new(api).max_decoding_message_size(ctx.max_message_bytes),
        );
        vec![<CapacityServiceServer<api::CapacityApi> as NamedService>::NAME]
    }

    fn rights(&self) -> &'static [Rights] {
        RIGHTS
    }

    fn purges(&self) -> Vec<Arc<dyn markaz_kit::retention::Purge>> {
        vec![
            Arc::new(store::public_contacts::SUGGESTIONS),
            Arc::new(store::public_contacts::CONSULTATION_REQUESTS),
        ]
    }

    fn consumer(&self, _ctx: &ServiceContext) -> Option<(Consumer, Vec<&'static str>)> {
        Some((
            Consumer {
                name: NAME,
                handler: Arc::new(events::router()),
            },
            vec![markaz_membership_copies::PRODUCER],
        ))
    }
}
