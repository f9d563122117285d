//! Bookings: the database is the overlap guard — twenty concurrent
//! overlapping requests from two tenants' staff, exactly one wins, the
//! others learn the times but not the owner; touching bookings both fit;
//! cancelling frees the slot; partners book for themselves; check-in by the
//! space's staff; series all or nothing.

use crate::world::*;

both_backends!(
    twenty_concurrent_overlapping_bookings_one_wins,
    touching_bookings_fit_and_cancelling_frees_the_slot,
    partners_book_for_their_own_organization,
    a_series_is_booked_whole_or_not_at_all,
    a_booking_moves_only_to_a_free_time,
);

async fn twenty_concurrent_overlapping_bookings_one_wins(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let space = w.create_space(&staff, space_body(true)).await;
    let mut tasks = Vec::new();
    for i in 0..20i64 {
        let mut client = w.client.clone();
        // Half from each tenant (the other sees the shared space), every
        // span overlapping hour 3.
        let token = if i % 2 == 0 {
            w.staff.clone()
        } else {
            w.other_staff.clone()
        };
        let booking = api::Booking {
            organization_id: format!("0190d3b4-5c1a-7000-8000-0000000000{i:02}"),
            ..booking_body(&space.id, 3 - (i % 3), 4 + (i % 2))
        };
        tasks.push(tokio::spawn(async move {
            client
                .create_booking(authed(
                    api::CreateBookingRequest {
                        booking: Some(booking),
                        request_id: String::new(),
                    },
                    &token,
                ))
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut won = Vec::new();
    let mut refused = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(b) => won.push(b),
            Err(e) => refused.push(e),
        }
    }
    assert_eq!(won.len(), 1, "exactly one wins: {refused:?}");
    assert_eq!(refused.len(), 19);
    let winner = &won[0];
    for e in &refused {
        assert_eq!(precondition(e), "BOOKING_CONFLICT", "{e:?}");
        // Nothing of the winner's: not its id, tenant, organization.
        let said = format!("{} {:?}", e.message(), e.details());
        assert!(!said.contains(&winner.id));
        assert!(!said.contains(&winner.organization_id));
        assert!(!said.contains(&winner.tenant_id));
    }
    // The loser's transactions left nothing.
    let mine = w.count("bookings", TENANT).await + w.count("bookings", OTHER_TENANT).await;
    assert_eq!(mine, 1);
    // Availability shows one busy interval, without an owner.
    let avail = w
        .client
        .get_space_availability(authed(
            api::GetSpaceAvailabilityRequest {
                space_id: space.id.clone(),
                from: Some(at_hour(0)),
                until: Some(at_hour(12)),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(avail.busy.len(), 1);
    assert_eq!(avail.busy[0].start_time, winner.start_time);
    assert_eq!(avail.free.len(), 2);
    // The space's staff see the booking whichever tenant made it.
    let seen = w
        .client
        .get_booking(authed(
            api::GetBookingRequest {
                id: winner.id.clone(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.space_tenant_id, TENANT);
    assert_eq!(w.published::<ev::BookingConfirmed>().await.len(), 1);
}

async fn touching_bookings_fit_and_cancelling_frees_the_slot(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let space = w.create_space(&staff, space_body(false)).await;
    let first = w.book(&staff, booking_body(&space.id, 2, 4)).await.unwrap();
    // Ending at 4:00 and starting at 4:00 do not overlap.
    let second = w.book(&staff, booking_body(&space.id, 4, 5)).await.unwrap();
    assert_eq!(second.status, BookingStatus::Confirmed as i32);
    let clash = w
        .book(&staff, booking_body(&space.id, 3, 5))
        .await
        .unwrap_err();
    assert_eq!(precondition(&clash), "BOOKING_CONFLICT");
    // Another tenant cannot see (nor book) a space that is not shared.
    let other = w.other_staff.clone();
    let hidden = w
        .book(&other, booking_body(&space.id, 8, 9))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // Cancelled: the slot is free again.
    let cancelled = w
        .client
        .cancel_booking(authed(
            api::CancelBookingRequest {
                id: first.id.clone(),
                reason: "أُلغي الاجتماع".into(),
                etag: first.etag.clone(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, BookingStatus::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "أُلغي الاجتماع");
    let again = w.book(&staff, booking_body(&space.id, 2, 4)).await.unwrap();
    assert_eq!(again.status, BookingStatus::Confirmed as i32);
    // Bad input: every field, nothing written.
    let before = w.count("bookings", TENANT).await;
    let err = w
        .book(
            &staff,
            api::Booking {
                space_id: "not an id".into(),
                purpose: 0,
                expected_attendance: 0,
                start_time: None,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&err),
        vec![
            "booking.space_id",
            "booking.purpose",
            "booking.expected_attendance",
            "booking.start_time",
            "booking.end_time"
        ]
    );
    assert_eq!(w.count("bookings", TENANT).await, before);
    // Over the space's capacity.
    let crowd = w
        .book(
            &staff,
            api::Booking {
                expected_attendance: 21,
                ..booking_body(&space.id, 10, 11)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(precondition(&crowd), "OVER_CAPACITY");
    assert_eq!(w.published::<ev::BookingCancelled>().await.len(), 1);
}

async fn partners_book_for_their_own_organization(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let space = w.create_space(&staff, space_body(false)).await;
    let partner = w.partner();
    let mine = w
        .book(&partner, booking_body(&space.id, 1, 2))
        .await
        .unwrap();
    assert_eq!(mine.organization_id, PARTNER_ORG);
    let theirs = w
        .book(
            &partner,
            api::Booking {
                organization_id: OTHER_ORG.into(),
                ..booking_body(&space.id, 3, 4)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(field_violations(&theirs), vec!["booking.organization_id"]);
    // Staff book for another organization; the partner does not see it.
    let staffs = w
        .book(
            &staff,
            api::Booking {
                organization_id: OTHER_ORG.into(),
                ..booking_body(&space.id, 5, 6)
            },
        )
        .await
        .unwrap();
    let list = w
        .client
        .list_bookings(authed(api::ListBookingsRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        list.bookings
            .iter()
            .map(|b| b.id.clone())
            .collect::<Vec<_>>(),
        vec![mine.id.clone()]
    );
    assert_eq!(
        (list.total_size, list.total_size_is_estimate),
        (1, false),
        "a partner counts its own bookings only"
    );
    // Staff count both, on the second page as on the first; by
    // organization, the one.
    let by_one = |page_token: String| api::ListBookingsRequest {
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let first = w
        .client
        .list_bookings(authed(by_one(String::new()), &staff))
        .await
        .unwrap()
        .into_inner();
    let second = w
        .client
        .list_bookings(authed(by_one(first.next_page_token.clone()), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        [
            (first.bookings.len(), first.total_size),
            (second.bookings.len(), second.total_size)
        ],
        [(1, 2), (1, 2)]
    );
    let of_other = w
        .client
        .list_bookings(authed(
            api::ListBookingsRequest {
                organization_id: OTHER_ORG.into(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((of_other.bookings.len(), of_other.total_size), (1, 1));
    let other_tenant = w.other_staff.clone();
    let elsewhere = w
        .client
        .list_bookings(authed(api::ListBookingsRequest::default(), &other_tenant))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        elsewhere.total_size, 0,
        "another tenant counts none of ours"
    );
    let hidden = w
        .client
        .get_booking(authed(
            api::GetBookingRequest {
                id: staffs.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // A trainer books for the center and sees the bookings it made.
    let trainer = w.token(&[Role::Trainer], None);
    let trainers = w
        .book(&trainer, booking_body(&space.id, 7, 8))
        .await
        .unwrap();
    let list = w
        .client
        .list_bookings(authed(api::ListBookingsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        list.bookings
            .iter()
            .map(|b| b.id.clone())
            .collect::<Vec<_>>(),
        vec![trainers.id.clone()]
    );
    assert_eq!(list.total_size, 1);
    // A staff-only space refuses partners.
    let mut closed_to_partners = space_body(false);
    closed_to_partners.bookable_by = BookableBy::Staff as i32;
    let staff_room = w.create_space(&staff, closed_to_partners).await;
    let refused = w
        .book(&partner, booking_body(&staff_room.id, 1, 2))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // Check-in opens 30 minutes before the start: too early a day ahead.
    let early = w
        .client
        .check_in_booking(authed(
            api::CheckInBookingRequest {
                id: mine.id.clone(),
                actual_attendance: 5,
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&early), "BOOKING_WINDOW");
}

async fn a_series_is_booked_whole_or_not_at_all(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let space = w.create_space(&staff, space_body(false)).await;
    // Something in the way on the third day.
    w.book(&staff, booking_body(&space.id, 48 + 2, 48 + 3))
        .await
        .unwrap();
    let series = |request_id: &str| api::CreateBookingSeriesRequest {
        series: Some(api::BookingSeries {
            template: Some(booking_body(&space.id, 2, 3)),
            recurrence: Some(api::Recurrence {
                frequency: api::Frequency::Daily as i32,
                count: 4,
                ..Default::default()
            }),
            ..Default::default()
        }),
        request_id: request_id.into(),
    };
    let clash = w
        .client
        .create_booking_series(authed(series(""), &staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&clash), "BOOKING_CONFLICT");
    assert_eq!(w.count("bookings", TENANT).await, 1, "none of the series");
    // Later in the day it fits: four occurrences, one series.
    let mut body = series("series-1");
    if let Some(s) = body.series.as_mut() {
        s.template = Some(booking_body(&space.id, 5, 6));
    }
    let made = w
        .client
        .create_booking_series(authed(body.clone(), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.bookings.len(), 4);
    assert!(made.bookings.iter().all(|b| b.series_id == made.id));
    // A retry answers the first result.
    let retried = w
        .client
        .create_booking_series(authed(body, &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.id, made.id);
    let cancelled = w
        .client
        .cancel_booking_series(authed(
            api::CancelBookingSeriesRequest {
                id: made.id.clone(),
                reason: "انتهى المشروع".into(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        cancelled
            .bookings
            .iter()
            .all(|b| b.status == BookingStatus::Cancelled as i32)
    );
}

async fn a_booking_moves_only_to_a_free_time(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let space = w.create_space(&staff, space_body(false)).await;
    let early = w.book(&staff, booking_body(&space.id, 1, 2)).await.unwrap();
    let late = w.book(&staff, booking_body(&space.id, 5, 6)).await.unwrap();
    let moving = |b: &api::Booking, from: i64, until: i64| api::UpdateBookingRequest {
        booking: Some(api::Booking {
            id: b.id.clone(),
            etag: b.etag.clone(),
            start_time: Some(at_hour(from)),
            end_time: Some(at_hour(until)),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["start_time".into(), "end_time".into()],
        }),
    };
    // Onto the other booking: refused, and the booking keeps its time.
    let clash = w
        .client
        .update_booking(authed(moving(&early, 5, 7), &staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&clash), "BOOKING_CONFLICT");
    let kept = w
        .client
        .get_booking(authed(
            api::GetBookingRequest {
                id: early.id.clone(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.start_time, early.start_time);
    // Its old slot is still held: nobody else gets it.
    let taken = w
        .book(&staff, booking_body(&space.id, 1, 2))
        .await
        .unwrap_err();
    assert_eq!(precondition(&taken), "BOOKING_CONFLICT");
    // To a free time: moved, and the old time is free.
    let moved = w
        .client
        .update_booking(authed(moving(&early, 3, 4), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.start_time, Some(at_hour(3)));
    assert!(w.book(&staff, booking_body(&space.id, 1, 2)).await.is_ok());
    // Notes change without touching the slots; the late one is untouched.
    let noted = w
        .client
        .update_booking(authed(
            api::UpdateBookingRequest {
                booking: Some(api::Booking {
                    id: late.id.clone(),
                    notes: "يرجى تجهيز جهاز العرض".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["notes".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(noted.notes, "يرجى تجهيز جهاز العرض");
    assert_eq!(noted.start_time, late.start_time);
}
