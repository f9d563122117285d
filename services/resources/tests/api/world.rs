//! What every module of the resources API tests shares: the running
//! service and its client (`World`), tokens of two tenants, events applied
//! through the real consumer, and the fixtures of items, spaces and times.
//! Every module imports it whole (`use crate::world::*`).

pub use std::sync::Arc;
pub use std::time::Duration;

pub use markaz_kit::auth::Role;
pub use markaz_kit::both_backends;
pub use markaz_kit::events::Applied;
pub use markaz_kit::testing::{Backend, TestApp, authed, field_violations, precondition, spawn};
pub use markaz_kit::time::{Date as KDate, now_micros, timestamp};
pub use markaz_proto::common::v1::{Date, LocalizedText};
pub use markaz_proto::events::v1 as ev;
pub use markaz_proto::resources::v1 as api;
pub use markaz_proto::resources::v1::resources_service_client::ResourcesServiceClient;
pub use markaz_proto::resources::v1::{
    BookableBy, BookingPurpose, BookingStatus, ItemKind, ItemState, SourceKind, SpaceKind,
    Visibility,
};
pub use markaz_resources::{Files, Resources};
pub use prost::{Message, Name};
pub use tonic::transport::Channel;
pub use tonic::{Code, Status};

pub const TENANT: &str = "raqqa-csc";
pub const OTHER_TENANT: &str = "deir-csc";
/// A partner organization of TENANT (its members' tokens name it).
pub const PARTNER_ORG: &str = "0190d3b4-5c1a-7000-8000-00000000a001";
pub const OTHER_ORG: &str = "0190d3b4-5c1a-7000-8000-00000000a002";

pub type Client = ResourcesServiceClient<Channel>;

pub struct World {
    pub app: TestApp,
    pub client: Client,
    /// TENANT's staff.
    pub staff: String,
    /// OTHER_TENANT's staff.
    pub other_staff: String,
    /// Where this world's files are (removed with it).
    pub files_dir: std::path::PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.files_dir);
    }
}

pub async fn world(backend: Backend) -> World {
    world_with(backend, None).await
}

/// A world whose files are in `files` (default: a directory of its own).
pub async fn world_with(backend: Backend, files: Option<Files>) -> World {
    let files_dir = std::env::temp_dir().join(format!(
        "markaz-resources-files-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let service = Resources::with_files(files.unwrap_or_else(|| Files::Local(files_dir.clone())));
    let app = spawn(backend, vec![Arc::new(service)]).await;
    let client =
        ResourcesServiceClient::new(app.channel().await).max_decoding_message_size(8 * 1024 * 1024);
    let staff = app.token(TENANT, &[Role::Staff], None);
    let other_staff = app.token(OTHER_TENANT, &[Role::Staff], None);
    World {
        app,
        client,
        staff,
        other_staff,
        files_dir,
    }
}

impl World {
    pub fn token(&self, roles: &[Role], org: Option<&str>) -> String {
        self.app.token(TENANT, roles, org)
    }

    pub fn partner(&self) -> String {
        self.token(&[Role::Partner], Some(PARTNER_ORG))
    }

    /// Applies an event to the service through its real handler and inbox,
    /// as the consumer does when the event comes off the bus.
    pub async fn deliver(&self, producer: &str, tenant: &str, event: &impl Name) -> Applied {
        let envelope = markaz_kit::events::envelope(producer, tenant, event);
        let db = self.app.app.db("resources").expect("resources' database");
        let consumer = self
            .app
            .app
            .consumer("resources")
            .expect("resources consumes");
        markaz_kit::events::apply(db, consumer, &envelope)
            .await
            .expect("the event applies")
    }

    /// The events of type `E` the service wrote to its outbox, in order.
    pub async fn published<E: Name + Default>(&self) -> Vec<E> {
        let db = self.app.app.db("resources").expect("resources' database");
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

    /// Rows of a table of the service, every tenant's (a system read on
    /// SQLite; on PostgreSQL row-level security shows a system transaction
    /// none, so the count is made per tenant).
    pub async fn count(&self, table: &str, tenant: &str) -> i64 {
        let db = self.app.app.db("resources").expect("resources' database");
        let mut tx = db.read(tenant).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"
        )))
        .bind(tenant.to_string())
        .fetch_one(tx.conn())
        .await
        .unwrap()
    }

    pub async fn create_item(&mut self, token: &str, item: api::Item) -> api::Item {
        self.client
            .create_item(authed(
                api::CreateItemRequest {
                    item: Some(item),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .expect("the item is created")
            .into_inner()
    }

    /// An item created and published by `token` (staff).
    pub async fn published_item(&mut self, token: &str, item: api::Item) -> api::Item {
        let created = self.create_item(token, item).await;
        self.client
            .publish_item(authed(
                api::PublishItemRequest {
                    id: created.id.clone(),
                    etag: String::new(),
                },
                token,
            ))
            .await
            .expect("the item is published")
            .into_inner()
    }

    pub async fn create_space(&mut self, token: &str, space: api::Space) -> api::Space {
        self.client
            .create_space(authed(
                api::CreateSpaceRequest {
                    space: Some(space),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .expect("the space is created")
            .into_inner()
    }

    pub async fn book(
        &mut self,
        token: &str,
        booking: api::Booking,
    ) -> Result<api::Booking, Status> {
        self.client
            .create_booking(authed(
                api::CreateBookingRequest {
                    booking: Some(booking),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner())
    }
}

pub fn text(ar: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

/// An item of the center with a link (so it may be published).
pub fn item_body(title_ar: &str, title_en: &str, visibility: Visibility) -> api::Item {
    api::Item {
        kind: ItemKind::Guide as i32,
        title: text(title_ar, title_en),
        summary: text("", ""),
        authors: vec!["مركز دعم المجتمع المدني".into()],
        topic_codes: vec!["mobilisation-advocacy".into()],
        language: "ar".into(),
        source: Some(api::Source {
            kind: SourceKind::Center as i32,
            ..Default::default()
        }),
        publication_date: Some(Date {
            year: 2019,
            month: 3,
            day: 0,
        }),
        visibility: visibility as i32,
        external_url: "https://example.org/library/1".into(),
        ..Default::default()
    }
}

/// A meeting room of TENANT's Raqqa branch, open every day around the
/// clock (so tests choose any time), in Syria's offset.
pub fn space_body(shared: bool) -> api::Space {
    api::Space {
        branch_id: "raqqa".into(),
        kind: SpaceKind::MeetingRoom as i32,
        name: text("قاعة الاجتماعات", "Meeting room"),
        capacity: 20,
        opening_hours: (1..=7)
            .map(|d| api::OpeningInterval {
                weekday: d,
                opens_minute: 0,
                closes_minute: 24 * 60,
            })
            .collect(),
        utc_offset_minutes: 180,
        bookable_by: BookableBy::Partners as i32,
        shared_with_consortium: shared,
        ..Default::default()
    }
}

/// The space's offset from UTC in these tests (Syria), in microseconds.
pub const LOCAL_OFFSET: i64 = 180 * 60_000_000;
pub const DAY: i64 = 86_400_000_000;

/// An instant `hours` after the local midnight (UTC+3) that starts the day
/// after tomorrow: whole minutes, as bookings want, never "in the past",
/// and a span within hours 0 to 24 stays within one local day whatever the
/// time the test runs (a booking may not run past midnight).
pub fn at_hour(hours: i64) -> prost_types::Timestamp {
    let midnight = ((now_micros() + LOCAL_OFFSET) / DAY + 2) * DAY - LOCAL_OFFSET;
    timestamp(midnight + hours * 3_600_000_000)
}

pub fn booking_body(space_id: &str, from_hour: i64, until_hour: i64) -> api::Booking {
    api::Booking {
        space_id: space_id.into(),
        purpose: BookingPurpose::Meeting as i32,
        purpose_note: "اجتماع تنسيقي".into(),
        expected_attendance: 8,
        start_time: Some(at_hour(from_hour)),
        end_time: Some(at_hour(until_hour)),
        ..Default::default()
    }
}
