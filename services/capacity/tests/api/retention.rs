//! Retention (markaz_kit::retention): request ids past the replay window
//! and inbox rows past theirs are forgotten, in every tenant, in bounded
//! batches; what is inside its window, and erased requests' tombstones, stay.

use crate::world::*;
use markaz_kit::config::RetentionConfig;

both_backends!(what_is_past_its_window_is_forgotten);

const DAY: i64 = 24 * 3600 * 1_000_000;

async fn what_is_past_its_window_is_forgotten(backend: Backend) {
    let mut w = world(backend).await;
    let other_staff = w.token_of("other-staff", OTHER_TENANT, &[Role::Staff]);
    let create = |request_id: &str, capacity: i32| api::CreateCourseRequest {
        course: Some(course_body(capacity, Audience::Open, 2)),
        request_id: request_id.into(),
    };
    let mut made = Vec::new();
    for (id, token) in [
        ("old-1", &w.staff),
        ("recent-1", &w.staff),
        ("old-erased", &w.staff),
        ("old-other", &other_staff),
    ] {
        let course = w
            .client
            .create_course(authed(create(id, 3), token))
            .await
            .unwrap()
            .into_inner();
        made.push(course);
    }
    let old_event = envelope(
        TENANT,
        &ev::OrganizationRegistered {
            organization: Some(org_snapshot(&new_id(), IncubationStatus::Incubated, 1)),
        },
    );
    let recent_event = envelope(
        TENANT,
        &ev::OrganizationRegistered {
            organization: Some(org_snapshot(&new_id(), IncubationStatus::Incubated, 1)),
        },
    );
    assert_eq!(w.deliver(&old_event).await, Applied::Applied);
    assert_eq!(w.deliver(&recent_event).await, Applied::Applied);

    // Age what should be past its window: two request ids eight days old
    // (one in each tenant), an erased request's tombstone as old, and an
    // inbox row 32 days old.
    let now = markaz_kit::time::now_micros();
    let db = w
        .app
        .app
        .db("capacity")
        .expect("capacity's database")
        .clone();
    for (tenant, request_id) in [
        (TENANT, "old-1"),
        (TENANT, "old-erased"),
        (OTHER_TENANT, "old-other"),
    ] {
        let mut tx = db.write(tenant).await.unwrap();
        let aged = sqlx::query(
            "UPDATE markaz_idempotency SET created_at = $1 WHERE tenant_id = $2
               AND request_id LIKE $3",
        )
        .bind(now - 8 * DAY)
        .bind(tenant)
        .bind(format!("%/{request_id}"))
        .execute(tx.conn())
        .await
        .unwrap()
        .rows_affected();
        assert_eq!(aged, 1, "{request_id}");
        tx.commit().await.unwrap();
    }
    let mut tx = db.write(TENANT).await.unwrap();
    sqlx::query("UPDATE markaz_idempotency SET request_hash = $1 WHERE request_id LIKE $2")
        .bind(markaz_kit::rpc::ERASED_REQUEST)
        .bind("%/old-erased")
        .execute(tx.conn())
        .await
        .unwrap();
    sqlx::query("UPDATE markaz_inbox SET processed_at = $1 WHERE event_id = $2")
        .bind(now - 32 * DAY)
        .bind(&old_event.id)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Inside the window the old id is still remembered: another body is refused.
    let refused = w
        .client
        .create_course(authed(create("old-1", 30), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&refused), ["request_id"]);

    let config = RetentionConfig {
        batch: 1,
        ..RetentionConfig::default()
    };
    let purged = markaz_kit::retention::purge(&db, &config, now)
        .await
        .unwrap();
    assert_eq!((purged.request_ids, purged.inbox), (2, 1));
    let again = markaz_kit::retention::purge(&db, &config, now)
        .await
        .unwrap();
    assert_eq!(
        (again.request_ids, again.inbox),
        (0, 0),
        "nothing left past a window"
    );

    // Past the window the old id is a new request; the recent one replays;
    // the tombstone still refuses.
    let renewed = w
        .client
        .create_course(authed(create("old-1", 30), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(renewed.id, made[0].id);
    let replayed = w
        .client
        .create_course(authed(create("recent-1", 3), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed, made[1]);
    let erased = w
        .client
        .create_course(authed(create("old-erased", 3), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&erased), "REQUEST_ERASED");
    let mut tx = db.read(OTHER_TENANT).await.unwrap();
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM markaz_idempotency WHERE tenant_id = $1")
            .bind(OTHER_TENANT)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert_eq!(
        left, 0,
        "the other tenant's old request id is forgotten too"
    );
    tx.rollback().await.unwrap();

    // The old event's inbox row is gone (a redelivery applies again); the
    // recent one's stays.
    assert_eq!(w.deliver(&old_event).await, Applied::Applied);
    assert_eq!(w.deliver(&recent_event).await, Applied::Duplicate);
}
