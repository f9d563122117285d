//! What every module shares: the running service and its client, the
//! events of membership applied through networking's real consumer, and the
//! fixtures.

pub use std::sync::Arc;

pub use markaz_kit::auth::Role;
pub use markaz_kit::both_backends;
pub use markaz_kit::events::Applied;
pub use markaz_kit::testing::{Backend, TestApp, authed, field_violations, precondition, spawn};
pub use markaz_kit::time::Date as KDate;
pub use markaz_networking::Networking;
pub use markaz_proto::common::v1::{
    AgeBand, Gender, IncubationStatus, LocalizedText, OrganizationKind,
};
pub use markaz_proto::events::v1 as ev;
pub use markaz_proto::networking::v1 as api;
pub use markaz_proto::networking::v1::networking_service_client::NetworkingServiceClient;
pub use markaz_proto::networking::v1::{EventKind, EventStatus, ParticipantCategory};
pub use prost::Name;
pub use tonic::Code;
pub use tonic::transport::Channel;

pub const TENANT: &str = "raqqa-csc";
pub const OTHER_TENANT: &str = "deir-csc";

pub type Client = NetworkingServiceClient<Channel>;

pub struct World {
    pub app: TestApp,
    pub client: Client,
    pub staff: String,
}

pub async fn world(backend: Backend) -> World {
    let app = spawn(backend, vec![Arc::new(Networking)]).await;
    let client = NetworkingServiceClient::new(app.channel().await);
    let staff = app.token(TENANT, &[Role::Staff], None);
    World { app, client, staff }
}

impl World {
    pub async fn deliver<E: Name>(&self, producer: &str, tenant: &str, event: E) -> Applied {
        let db = self
            .app
            .app
            .db("networking")
            .expect("networking's database");
        let consumer = self
            .app
            .app
            .consumer("networking")
            .expect("networking consumes");
        let envelope = markaz_kit::events::envelope(producer, tenant, &event);
        markaz_kit::events::apply(db, consumer, &envelope)
            .await
            .expect("the event applies")
    }
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

/// An organization membership registered, as networking learns it.
pub async fn known_org(w: &World, kind: OrganizationKind, name: &str, governorate: &str) -> String {
    let id = new_id();
    w.deliver(
        "membership",
        TENANT,
        ev::OrganizationRegistered {
            organization: Some(ev::OrganizationSnapshot {
                id: id.clone(),
                identifier: "MKZ-RAQQA-CSC-0001".into(),
                kind: kind as i32,
                name: text(name, ""),
                governorate: governorate.into(),
                branch_id: "raqqa".into(),
                sectors: vec![],
                incubation_status: IncubationStatus::Incubated as i32,
                version: 1,
            }),
        },
    )
    .await;
    id
}

pub async fn known_person(w: &World, name: &str, gender: Gender) -> String {
    let id = new_id();
    w.deliver(
        "membership",
        TENANT,
        ev::PersonRegistered {
            person: Some(ev::PersonSnapshot {
                id: id.clone(),
                full_name: name.into(),
                gender: gender as i32,
                age_band: AgeBand::AgeBand2534 as i32,
                branch_id: "raqqa".into(),
                version: 1,
            }),
        },
    )
    .await;
    id
}

/// A meeting that started an hour ago (so check-in is open), in Raqqa.
pub fn meeting(kind: EventKind) -> api::Event {
    let now = markaz_kit::time::now_micros();
    api::Event {
        kind: kind as i32,
        title: text(
            "لقاء المنظمات مع المجلس المحلي",
            "Meet-and-greet with the local council",
        ),
        branch_id: "raqqa".into(),
        venue: "مركز الرقة".into(),
        start_time: Some(markaz_kit::time::timestamp(now - 3_600_000_000)),
        end_time: Some(markaz_kit::time::timestamp(now + 3_600_000_000)),
        utc_offset_minutes: 0,
        ..Default::default()
    }
}

pub async fn create_event(w: &mut World, e: api::Event) -> api::Event {
    w.client
        .create_event(authed(
            api::CreateEventRequest {
                event: Some(e),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("event created")
        .into_inner()
}

pub fn counts(g: &Option<api::GenderCounts>) -> (i32, i32, i32, i32) {
    let g = g.unwrap_or_default();
    (g.female, g.male, g.undisclosed, g.total)
}

pub async fn create_issue(w: &mut World, code: &str, ar: &str) {
    w.client
        .create_issue(authed(
            api::CreateIssueRequest {
                issue: Some(api::Issue {
                    code: code.into(),
                    name: text(ar, ""),
                    ..Default::default()
                }),
            },
            &w.staff,
        ))
        .await
        .expect("issue created");
}

/// A person checked in for an organization, in a category.
pub fn person_entry(
    person_id: &str,
    organization_id: &str,
    category: ParticipantCategory,
) -> api::CheckInEntry {
    api::CheckInEntry {
        participant: Some(api::check_in_entry::Participant::Person(
            api::CheckInPerson {
                person_id: person_id.into(),
                organization_id: organization_id.into(),
            },
        )),
        category: category as i32,
        ..Default::default()
    }
}

pub fn walk_ins(
    key: &str,
    count: i32,
    category: ParticipantCategory,
    gender: Gender,
) -> api::CheckInEntry {
    api::CheckInEntry {
        participant: Some(api::check_in_entry::Participant::WalkIn(api::WalkIn {
            key: key.into(),
            count,
        })),
        category: category as i32,
        gender: gender as i32,
    }
}

pub async fn check_in(
    w: &mut World,
    event_id: &str,
    entries: Vec<api::CheckInEntry>,
) -> api::CheckInResponse {
    w.client
        .check_in(authed(
            api::CheckInRequest {
                event_id: event_id.into(),
                entries,
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("checked in")
        .into_inner()
}

pub async fn hold(w: &mut World, event_id: &str) -> api::Event {
    w.client
        .mark_event_held(authed(
            api::MarkEventHeldRequest {
                id: event_id.into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("held")
        .into_inner()
}

/// grants' award of `organization_id`, as networking learns it.
pub async fn awarded(w: &World, organization_id: &str) -> String {
    let award = new_id();
    w.deliver(
        "grants",
        TENANT,
        ev::GrantAwarded {
            context: Some(ev::GrantContext {
                call_id: new_id(),
                proposal_id: new_id(),
                organization_id: organization_id.into(),
                branch_id: "raqqa".into(),
                ..Default::default()
            }),
            award_id: award.clone(),
            ..Default::default()
        },
    )
    .await;
    award
}

pub async fn report(w: &mut World, req: api::GetNetworkingReportRequest) -> api::NetworkingReport {
    w.client
        .get_networking_report(authed(req, &w.staff))
        .await
        .expect("report")
        .into_inner()
}
