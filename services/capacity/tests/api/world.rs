//! What every module of capacity's API tests shares: the running service
//! and its client (`World`), membership's events applied through capacity's
//! real consumer and inbox, and the fixtures of courses, people and marks.
//! Every module imports it whole (`use crate::world::*`), with the crates
//! and the status helpers of `markaz_kit::testing` it re-exports.

pub use std::sync::Arc;
pub use std::time::Duration;

pub use markaz_capacity::{Capacity, limits};
pub use markaz_kit::auth::Role;
pub use markaz_kit::both_backends;
pub use markaz_kit::events::Applied;
pub use markaz_kit::testing::{Backend, TestApp, authed, field_violations, precondition, spawn};
pub use markaz_kit::time::Date as KDate;
pub use markaz_proto::capacity::v1 as api;
pub use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
pub use markaz_proto::capacity::v1::{
    AdvisorKind, AttendanceStatus, Audience, ConsultationKind, ConsultationRequestStatus,
    CourseKind, CourseStatus, EnrolmentStatus, SuggestionStatus, TestKind,
};
pub use markaz_proto::common::v1::{
    AgeBand, CapacityDomain, Date, Gender, IncubationStatus, LocalizedText, OrganizationKind,
};
pub use markaz_proto::events::v1 as ev;
pub use prost::{Message, Name};
pub use tonic::transport::Channel;
pub use tonic::{Code, Status};

pub const TENANT: &str = "raqqa-csc";
pub const OTHER_TENANT: &str = "deir-csc";
/// The subject `TestApp::token` gives a trainer's token.
pub const TRAINER: &str = "user-trainer";

pub type Client = CapacityServiceClient<Channel>;

pub struct World {
    pub app: TestApp,
    pub client: Client,
    pub staff: String,
}

pub async fn world(backend: Backend) -> World {
    World::on(spawn(backend, vec![Arc::new(Capacity)]).await).await
}

impl World {
    /// The world of an app already started.
    pub async fn on(app: TestApp) -> World {
        let client = CapacityServiceClient::new(app.channel().await);
        let staff = app.token(TENANT, &[Role::Staff], None);
        World { app, client, staff }
    }

    pub fn token(&self, roles: &[Role], org: Option<&str>) -> String {
        self.app.token(TENANT, roles, org)
    }

    /// A token of `tenant` (taken as registered) for `subject`.
    pub fn token_of(&self, subject: &str, tenant: &str, roles: &[Role]) -> String {
        self.app.env.token_of(subject, tenant, roles)
    }

    /// Applies a membership event to capacity through its real handler and
    /// inbox, as the consumer does when the event comes off the bus.
    pub async fn membership<E: Name>(&self, tenant: &str, event: E) -> Applied {
        self.deliver(&envelope(tenant, &event)).await
    }

    pub async fn deliver(&self, envelope: &ev::Envelope) -> Applied {
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
    pub async fn published<E: Name + Default>(&self) -> Vec<E> {
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

pub fn envelope<E: Name>(tenant: &str, event: &E) -> ev::Envelope {
    markaz_kit::events::envelope("membership", tenant, event)
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn text(ar: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

/// Today plus `n` days.
pub fn day(n: i64) -> Date {
    KDate::today().add_days(n).to_proto()
}

pub fn org_snapshot(id: &str, status: IncubationStatus, version: i64) -> ev::OrganizationSnapshot {
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
pub async fn known_org(w: &World, tenant: &str, status: IncubationStatus) -> String {
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

pub fn person_snapshot(
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
pub async fn known_person(
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

pub async fn affiliate(w: &World, tenant: &str, person: &str, org: &str) -> String {
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
pub fn course_body(capacity: i32, audience: Audience, sessions: i64) -> api::Course {
    course_on(
        capacity,
        audience,
        &(0..sessions).map(|i| -sessions + i).collect::<Vec<_>>(),
    )
}

/// A course with sessions on these days from today.
pub fn course_on(capacity: i32, audience: Audience, days: &[i64]) -> api::Course {
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

pub async fn create_course(w: &mut World, course: api::Course) -> api::Course {
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

pub async fn open(w: &mut World, id: &str) -> api::Course {
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

pub async fn start(w: &mut World, id: &str) -> api::Course {
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

pub async fn complete(w: &mut World, id: &str) -> Result<api::Course, Status> {
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

pub async fn enrol_as(
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

pub async fn enrol(
    w: &mut World,
    course: &str,
    person: &str,
    org: &str,
) -> Result<api::Enrolment, Status> {
    let staff = w.staff.clone();
    enrol_as(&mut w.client, &staff, course, person, org).await
}

/// A course open to everyone, of `capacity` places and `sessions` sessions,
/// with `people` enrolled in this order and started: the course and the
/// enrolment ids.
pub async fn running_course(
    w: &mut World,
    capacity: i32,
    sessions: i64,
    people: &[(&str, Gender)],
) -> (api::Course, Vec<String>) {
    let course = create_course(w, course_body(capacity, Audience::Open, sessions)).await;
    open(w, &course.id).await;
    let ids = enrol_people(w, &course.id, people).await;
    start(w, &course.id).await;
    (course, ids)
}

/// People membership registered (aged 25-34, no organization), enrolled in
/// `course` in this order: their enrolment ids.
pub async fn enrol_people(w: &mut World, course: &str, people: &[(&str, Gender)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, g) in people {
        let p = known_person(w, TENANT, name, *g, AgeBand::AgeBand2534, None).await;
        ids.push(enrol(w, course, &p, "").await.unwrap().id);
    }
    ids
}

pub async fn enrolment(w: &mut World, id: &str) -> api::Enrolment {
    w.client
        .get_enrolment(authed(api::GetEnrolmentRequest { id: id.into() }, &w.staff))
        .await
        .expect("enrolment")
        .into_inner()
}

pub async fn enrolments(
    w: &mut World,
    course: &str,
    status: EnrolmentStatus,
) -> Vec<api::Enrolment> {
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

pub async fn get_course(w: &mut World, id: &str) -> api::Course {
    w.client
        .get_course(authed(api::GetCourseRequest { id: id.into() }, &w.staff))
        .await
        .expect("course")
        .into_inner()
}

pub async fn cancel_enrolment(w: &mut World, id: &str) -> api::Enrolment {
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

pub fn mark(enrolment: &str, status: AttendanceStatus) -> api::AttendanceMark {
    api::AttendanceMark {
        enrolment_id: enrolment.into(),
        status: status as i32,
        ..Default::default()
    }
}

pub async fn record(
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

/// The staff's activity report over every period and branch.
pub async fn activity_report(w: &World) -> api::ActivityReport {
    w.client
        .clone()
        .get_activity_report(authed(api::GetActivityReportRequest::default(), &w.staff))
        .await
        .expect("activity report")
        .into_inner()
}

pub async fn report(w: &mut World, course: &str) -> api::CourseReport {
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

pub fn counts(g: &Option<api::GenderCounts>) -> (i32, i32, i32, i32) {
    let g = g.unwrap_or_default();
    (g.female, g.male, g.undisclosed, g.total)
}
