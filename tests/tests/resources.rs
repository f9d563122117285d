//! The resources service next to capacity in one app, on real NATS
//! JetStream and PostgreSQL: a course scheduled in capacity with a venue
//! books its room in resources, across the bus; a second course in the same
//! room on the same day books nothing and `BookingConflict` goes out on the
//! bus for staff to act on. Nothing calls across: the tests wait for the
//! events' effects (never for a fixed time).

use std::sync::Arc;
use std::time::Duration;

use markaz_capacity::Capacity;
use markaz_kit::auth::Role;
use markaz_kit::testing::{Backend, TestEnv, authed, eventually};
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::events::v1 as ev;
use markaz_proto::resources::v1 as res;
use markaz_proto::resources::v1::resources_service_client::ResourcesServiceClient;
use markaz_resources::{Files, Resources};
use tonic::transport::Channel;

const TENANT: &str = "e2e-resources";
const WAIT: Duration = Duration::from_secs(20);

fn text(ar: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        ar: ar.into(),
        en: en.into(),
    })
}

async fn schedule(
    capacity: &mut CapacityServiceClient<Channel>,
    staff: &str,
    days: &[i64],
) -> cap::Course {
    let day = |n: i64| markaz_kit::time::Date::today().add_days(n).to_proto();
    capacity
        .create_course(authed(
            cap::CreateCourseRequest {
                course: Some(cap::Course {
                    kind: cap::CourseKind::Workshop as i32,
                    title: text("ورشة المناصرة", "Advocacy workshop"),
                    topic_codes: vec!["mobilisation-advocacy".into()],
                    branch_id: "raqqa".into(),
                    venue: "قاعة التدريب".into(),
                    sessions: days
                        .iter()
                        .map(|n| cap::Session {
                            date: Some(day(*n)),
                            ..Default::default()
                        })
                        .collect(),
                    capacity: 15,
                    audience: cap::Audience::Open as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            staff,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn bookings_of(
    resources: &ResourcesServiceClient<Channel>,
    staff: &str,
    course_id: &str,
) -> Vec<res::Booking> {
    let mut c = resources.clone();
    c.list_bookings(authed(
        res::ListBookingsRequest {
            page_size: 100,
            ..Default::default()
        },
        staff,
    ))
    .await
    .map(|r| r.into_inner().bookings)
    .unwrap_or_default()
    .into_iter()
    .filter(|b| b.course_id == course_id)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_course_books_its_room_and_a_clash_goes_out_as_a_conflict() {
    let env = TestEnv::new(Backend::Postgres);
    let files = std::env::temp_dir().join(format!(
        "markaz-e2e-resources-{}",
        uuid::Uuid::now_v7().simple()
    ));
    let app = env
        .start(vec![
            Arc::new(Capacity),
            Arc::new(Resources::with_files(Files::Local(files.clone()))),
        ])
        .await
        .expect("the app starts");
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut capacity = CapacityServiceClient::new(channel.clone());
    let mut resources = ResourcesServiceClient::new(channel);
    let staff = env.token(TENANT, &[Role::Staff], None);

    // The training hall, open 9:00 to 17:00 every day.
    let hall = resources
        .create_space(authed(
            res::CreateSpaceRequest {
                space: Some(res::Space {
                    branch_id: "raqqa".into(),
                    kind: res::SpaceKind::TrainingHall as i32,
                    name: text("قاعة التدريب", "Training hall"),
                    capacity: 30,
                    opening_hours: (1..=7)
                        .map(|d| res::OpeningInterval {
                            weekday: d,
                            opens_minute: 9 * 60,
                            closes_minute: 17 * 60,
                        })
                        .collect(),
                    utc_offset_minutes: 180,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();

    let first = schedule(&mut capacity, &staff, &[3, 4]).await;
    let booked = eventually(WAIT, || {
        let (resources, staff, id) = (resources.clone(), staff.clone(), first.id.clone());
        async move {
            let b = bookings_of(&resources, &staff, &id).await;
            (b.len() == 2).then_some(b)
        }
    })
    .await
    .expect("the course's room was booked across the bus");
    assert!(booked.iter().all(|b| b.space_id == hall.id
        && b.status == res::BookingStatus::Confirmed as i32
        && b.purpose == res::BookingPurpose::Workshop as i32));

    // Another course in the hall on the second day: nothing is booked, and
    // the conflict is on the bus.
    let second = schedule(&mut capacity, &staff, &[4]).await;
    let client = async_nats::connect(markaz_kit::testing::nats_url())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = format!(
        "{}_RESOURCES",
        env.config.bus_namespace.to_ascii_uppercase()
    );
    let subject = format!("{}.evt.resources.BookingConflict", env.config.bus_namespace);
    let conflict = eventually(WAIT, || {
        let (js, stream, subject) = (js.clone(), stream.clone(), subject.clone());
        async move {
            let s = js.get_stream(&stream).await.ok()?;
            let raw = s.get_last_raw_message_by_subject(&subject).await.ok()?;
            let envelope: ev::Envelope = prost::Message::decode(raw.payload.as_ref()).ok()?;
            let event: ev::BookingConflict =
                prost::Message::decode(envelope.payload.as_slice()).ok()?;
            Some((envelope, event))
        }
    })
    .await
    .expect("BookingConflict is on NATS");
    let (envelope, event) = conflict;
    assert_eq!(envelope.tenant_id, TENANT);
    assert_eq!(envelope.producer, "resources");
    assert_eq!(event.course_id, second.id);
    assert_eq!(event.space_id, hall.id);
    assert!(event.reason.contains("already booked"), "{}", event.reason);
    assert!(bookings_of(&resources, &staff, &second.id).await.is_empty());
    // The first course still holds its room.
    assert_eq!(bookings_of(&resources, &staff, &first.id).await.len(), 2);
    app.shutdown().await;
    let _ = std::fs::remove_dir_all(files);
}
