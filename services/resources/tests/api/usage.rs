//! Usage, never who: the library's views and downloads per month with its
//! most used items; the space's use per organization and month, from
//! check-ins, with its occupancy.

use crate::world::*;

both_backends!(
    the_library_report_counts_reads_not_readers,
    the_space_report_counts_bookings_and_check_ins,
);

async fn the_library_report_counts_reads_not_readers(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let popular = w
        .published_item(
            &staff,
            item_body("الأكثر قراءة", "Most read", Visibility::Consortium),
        )
        .await;
    let quiet = w
        .published_item(
            &staff,
            item_body("الأقل قراءة", "Least read", Visibility::Consortium),
        )
        .await;
    for token in [staff.clone(), w.other_staff.clone(), w.partner()] {
        w.client
            .get_item(authed(
                api::GetItemRequest {
                    id: popular.id.clone(),
                },
                &token,
            ))
            .await
            .unwrap();
    }
    w.client
        .get_item(authed(
            api::GetItemRequest {
                id: quiet.id.clone(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let report = w
        .client
        .get_library_usage_report(authed(api::GetLibraryUsageReportRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.months.len(), 12);
    let this_month = report.months.last().unwrap();
    assert_eq!(
        this_month.views, 4,
        "the other tenant's read counts for the owner"
    );
    assert_eq!(
        report
            .top_items
            .iter()
            .map(|t| (t.item_id.clone(), t.views))
            .collect::<Vec<_>>(),
        vec![(popular.id.clone(), 3), (quiet.id.clone(), 1)]
    );
    assert_eq!(report.items_published, 2);
    assert_eq!(report.items_published_total, 2);
    // The usage table holds counts and months: no column names a reader.
    assert_eq!(w.count("item_usage", TENANT).await, 2);
    // A bad period names its field.
    let err = w
        .client
        .get_library_usage_report(authed(
            api::GetLibraryUsageReportRequest {
                from: Some(api::YearMonth {
                    year: 2026,
                    month: 13,
                }),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&err), vec!["from"]);
}

async fn the_space_report_counts_bookings_and_check_ins(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let space = w.create_space(&staff, space_body(true)).await;
    // Starting in a few minutes, so check-in is open already; two
    // bookings of 20 minutes, within one local day (moved to the coming
    // midnight when the day ends sooner — still within check-in's 30
    // minutes).
    let minute = 60_000_000i64;
    let length = 20 * minute;
    let mut start = (now_micros() / minute + 3) * minute;
    let into_day = (start + LOCAL_OFFSET).rem_euclid(DAY);
    if into_day > DAY - 2 * length {
        start += DAY - into_day;
    }
    let soon = api::Booking {
        organization_id: PARTNER_ORG.into(),
        start_time: Some(timestamp(start)),
        end_time: Some(timestamp(start + length)),
        ..booking_body(&space.id, 0, 1)
    };
    let b = w.book(&staff, soon).await.unwrap();
    // Another tenant's booking of the shared space: the owner checks it in.
    let other = w.other_staff.clone();
    let theirs = w
        .book(
            &other,
            api::Booking {
                start_time: Some(timestamp(start + length)),
                end_time: Some(timestamp(start + 2 * length)),
                ..booking_body(&space.id, 0, 1)
            },
        )
        .await
        .unwrap();
    let checked = w
        .client
        .check_in_booking(authed(
            api::CheckInBookingRequest {
                id: b.id.clone(),
                actual_attendance: 7,
                etag: b.etag.clone(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.status, BookingStatus::CheckedIn as i32);
    // Its own staff do not check people in at another tenant's space.
    let refused = w
        .client
        .check_in_booking(authed(
            api::CheckInBookingRequest {
                id: theirs.id.clone(),
                actual_attendance: 3,
                etag: String::new(),
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let too_many = w
        .client
        .check_in_booking(authed(
            api::CheckInBookingRequest {
                id: theirs.id.clone(),
                actual_attendance: 41,
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&too_many), vec!["actual_attendance"]);
    let report = w
        .client
        .get_space_usage_report(authed(api::GetSpaceUsageReportRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.organizations_served, 1);
    let partner_row = report
        .by_organization
        .iter()
        .find(|r| r.organization_id == PARTNER_ORG)
        .expect("the partner's month");
    assert_eq!(
        (
            partner_row.bookings,
            partner_row.checked_in,
            partner_row.minutes_used,
            partner_row.attendance
        ),
        (1, 1, 20, 7)
    );
    let booked: i64 = report.occupancy.iter().map(|o| o.minutes_booked).sum();
    assert_eq!(booked, 40);
    assert!(report.occupancy.iter().all(|o| o.space_id == space.id));
}
