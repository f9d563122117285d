//! Capacity's `CourseScheduled` with a venue books its room, through the
//! real consumer and inbox; a clash books nothing and publishes
//! `BookingConflict`; a redelivery has no second effect; a cancelled course
//! lets its room go.

use crate::world::*;

both_backends!(a_scheduled_course_books_its_room_or_publishes_a_conflict);

fn course(
    id: &str,
    venue: &str,
    from: i64,
    days: i64,
    status: &str,
    version: i64,
) -> ev::CourseScheduled {
    let start = KDate::today().add_days(from);
    ev::CourseScheduled {
        course_id: id.into(),
        kind: "workshop".into(),
        title: text("ورشة المناصرة", "Advocacy workshop"),
        topic_codes: vec!["mobilisation-advocacy".into()],
        branch_id: "raqqa".into(),
        venue: venue.into(),
        start_date: Some(start.to_proto()),
        end_date: Some(start.add_days(days - 1).to_proto()),
        session_count: days as i32,
        capacity: 15,
        incubated_only: false,
        status: status.into(),
        version,
    }
}

async fn course_bookings(w: &mut World, course_id: &str) -> Vec<api::Booking> {
    let staff = w.staff.clone();
    w.client
        .list_bookings(authed(
            api::ListBookingsRequest {
                page_size: 100,
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .bookings
        .into_iter()
        .filter(|b| b.course_id == course_id && b.status == BookingStatus::Confirmed as i32)
        .collect()
}

async fn a_scheduled_course_books_its_room_or_publishes_a_conflict(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    // A training hall open 9:00–13:00 and 14:00–17:00 every day.
    let hall = w
        .create_space(
            &staff,
            api::Space {
                kind: SpaceKind::TrainingHall as i32,
                name: text("قاعة التدريب", "Training hall"),
                opening_hours: (1..=7)
                    .flat_map(|d| {
                        [(9, 13), (14, 17)].map(|(a, b)| api::OpeningInterval {
                            weekday: d,
                            opens_minute: a * 60,
                            closes_minute: b * 60,
                        })
                    })
                    .collect(),
                ..space_body(false)
            },
        )
        .await;
    let id = uuid::Uuid::now_v7().to_string();
    let event = course(&id, "قاعة التدريب", 3, 2, "open", 1);
    let envelope = markaz_kit::events::envelope("capacity", TENANT, &event);
    let db = w.app.app.db("resources").unwrap().clone();
    let consumer = w.app.app.consumer("resources").unwrap().clone();
    let first = markaz_kit::events::apply(&db, &consumer, &envelope)
        .await
        .unwrap();
    assert_eq!(first, Applied::Applied);
    // The same envelope again: the inbox drops it.
    let again = markaz_kit::events::apply(&db, &consumer, &envelope)
        .await
        .unwrap();
    assert_eq!(again, Applied::Duplicate);
    let booked = course_bookings(&mut w, &id).await;
    assert_eq!(booked.len(), 4, "two days, two intervals a day");
    assert!(booked.iter().all(|b| b.space_id == hall.id
        && b.purpose == BookingPurpose::Workshop as i32
        && b.expected_attendance == 15));
    // Published again unchanged (a new event of the same course): no
    // second booking.
    w.deliver("capacity", TENANT, &event).await;
    assert_eq!(course_bookings(&mut w, &id).await.len(), 4);
    assert_eq!(w.published::<ev::BookingConfirmed>().await.len(), 4);

    // Another course the same days: the room is taken; nothing is booked
    // and staff hear of each clash.
    let clash_id = uuid::Uuid::now_v7().to_string();
    w.deliver(
        "capacity",
        TENANT,
        &course(&clash_id, "Training hall", 4, 1, "open", 1),
    )
    .await;
    assert!(course_bookings(&mut w, &clash_id).await.is_empty());
    let conflicts = w.published::<ev::BookingConflict>().await;
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    assert!(
        conflicts
            .iter()
            .all(|c| c.course_id == clash_id && c.space_id == hall.id)
    );
    assert!(conflicts[0].reason.contains("already booked"));
    // A venue no space is called: a conflict, nothing booked.
    let nowhere = uuid::Uuid::now_v7().to_string();
    w.deliver(
        "capacity",
        TENANT,
        &course(&nowhere, "الحديقة", 5, 1, "open", 1),
    )
    .await;
    let conflicts = w.published::<ev::BookingConflict>().await;
    assert_eq!(conflicts.len(), 3);
    assert!(conflicts[2].space_id.is_empty());
    // The first course cancelled: its room is free, the second fits now.
    w.deliver(
        "capacity",
        TENANT,
        &course(&id, "قاعة التدريب", 3, 2, "cancelled", 2),
    )
    .await;
    assert!(course_bookings(&mut w, &id).await.is_empty());
    assert_eq!(w.published::<ev::BookingCancelled>().await.len(), 4);
    w.deliver(
        "capacity",
        TENANT,
        &course(&clash_id, "Training hall", 4, 1, "open", 2),
    )
    .await;
    assert_eq!(course_bookings(&mut w, &clash_id).await.len(), 2);
    // Malformed: a dead letter, not a booking.
    let bad = ev::CourseScheduled {
        course_id: "nope".into(),
        ..course(&id, "Training hall", 9, 1, "open", 3)
    };
    let envelope = markaz_kit::events::envelope("capacity", TENANT, &bad);
    let outcome = markaz_kit::events::apply(&db, &consumer, &envelope).await;
    assert_eq!(outcome.unwrap_err().code(), Code::InvalidArgument);
}
