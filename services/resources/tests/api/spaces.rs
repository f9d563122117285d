//! Spaces, equipment and closures: a tenant manages its own and sees the
//! spaces others share; closures name the bookings they touch and close the
//! days to new ones; availability shows no owner.

use crate::world::*;

both_backends!(
    spaces_are_shared_with_the_consortium_only_when_said,
    closures_name_affected_bookings_and_refuse_new_ones,
    equipment_is_booked_with_a_space_and_never_twice,
);

async fn spaces_are_shared_with_the_consortium_only_when_said(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let other = w.other_staff.clone();
    let shared = w.create_space(&staff, space_body(true)).await;
    let own = w.create_space(&staff, space_body(false)).await;
    assert_eq!(shared.tenant_id, TENANT);
    assert_eq!(shared.max_booking_minutes, 480, "the default");
    let theirs = w
        .client
        .list_spaces(authed(api::ListSpacesRequest::default(), &other))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        theirs
            .spaces
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>(),
        vec![shared.id.clone()]
    );
    assert_eq!(
        theirs.total_size, 1,
        "another tenant counts the shared one only"
    );
    let ours = w
        .client
        .list_spaces(authed(
            api::ListSpacesRequest {
                page_size: 1,
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((ours.spaces.len(), ours.total_size), (1, 2));
    let hidden = w
        .client
        .get_space(authed(api::GetSpaceRequest { id: own.id.clone() }, &other))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // Only the owner changes it.
    let refused = w
        .client
        .update_space(authed(
            api::UpdateSpaceRequest {
                space: Some(api::Space {
                    id: shared.id.clone(),
                    capacity: 5,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity".into()],
                }),
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    let updated = w
        .client
        .update_space(authed(
            api::UpdateSpaceRequest {
                space: Some(api::Space {
                    id: shared.id.clone(),
                    capacity: 5,
                    etag: shared.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.capacity, 5);
    assert_eq!(updated.opening_hours.len(), 7, "the rest kept");
    // Bad input: every field.
    let err = w
        .client
        .create_space(authed(
            api::CreateSpaceRequest {
                space: Some(api::Space {
                    branch_id: "Raqqa Branch".into(),
                    capacity: 0,
                    opening_hours: vec![api::OpeningInterval {
                        weekday: 1,
                        opens_minute: 600,
                        closes_minute: 500,
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&err),
        vec![
            "space.branch_id",
            "space.kind",
            "space.name",
            "space.capacity",
            "space.opening_hours[0]"
        ]
    );
}

async fn closures_name_affected_bookings_and_refuse_new_ones(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let space = w.create_space(&staff, space_body(false)).await;
    // Two days ahead, local noon (UTC+3).
    let b = w
        .book(&staff, booking_body(&space.id, 36, 37))
        .await
        .unwrap();
    let day = {
        let start = b.start_time.unwrap();
        let local = start.seconds * 1_000_000 + 180 * 60_000_000;
        KDate::from_days(local.div_euclid(86_400_000_000))
    };
    let added = w
        .client
        .add_closure(authed(
            api::AddClosureRequest {
                closure: Some(api::Closure {
                    branch_id: "raqqa".into(),
                    first_day: Some(day.to_proto()),
                    last_day: Some(day.to_proto()),
                    reason: text("عطلة عيد الفطر", "Eid al-Fitr holiday"),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.affected_booking_ids, vec![b.id.clone()]);
    let refused = w
        .book(&staff, booking_body(&space.id, 38, 39))
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "SPACE_CLOSED");
    let listed = w
        .client
        .list_closures(authed(
            api::ListClosuresRequest {
                space_id: space.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((listed.closures.len(), listed.total_size), (1, 1));
    let avail = w
        .client
        .get_space_availability(authed(
            api::GetSpaceAvailabilityRequest {
                space_id: space.id.clone(),
                from: Some(at_hour(24)),
                until: Some(at_hour(72)),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(avail.closed.len(), 1);
    w.client
        .remove_closure(authed(
            api::RemoveClosureRequest {
                id: added.closure.unwrap().id,
            },
            &staff,
        ))
        .await
        .unwrap();
    assert!(
        w.book(&staff, booking_body(&space.id, 38, 39))
            .await
            .is_ok()
    );
}

async fn equipment_is_booked_with_a_space_and_never_twice(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let a = w.create_space(&staff, space_body(false)).await;
    let b = w.create_space(&staff, space_body(false)).await;
    let projector = w
        .client
        .create_equipment(authed(
            api::CreateEquipmentRequest {
                equipment: Some(api::Equipment {
                    branch_id: "raqqa".into(),
                    kind: api::EquipmentKind::Projector as i32,
                    name: text("جهاز العرض", "Projector"),
                    bookable: true,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let with = |space: &str| api::Booking {
        equipment_ids: vec![projector.id.clone()],
        ..booking_body(space, 2, 3)
    };
    let first = w.book(&staff, with(&a.id)).await.unwrap();
    assert_eq!(first.equipment_ids, vec![projector.id.clone()]);
    // The other room is free, the projector is not.
    let clash = w.book(&staff, with(&b.id)).await.unwrap_err();
    assert_eq!(precondition(&clash), "BOOKING_CONFLICT");
    assert!(w.book(&staff, booking_body(&b.id, 2, 3)).await.is_ok());
    let list = w
        .client
        .list_equipment(authed(api::ListEquipmentRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.total_size, 1);
}
