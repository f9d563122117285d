//! Courses through their life cycle.

use crate::world::*;

both_backends!(courses_follow_their_life_cycle,);

async fn courses_follow_their_life_cycle(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_on(10, Audience::Open, &[-1, -3, -2, -4])).await;
    assert_eq!(course.status, CourseStatus::Planned as i32);
    let dates: Vec<Date> = course.sessions.iter().map(|s| s.date.unwrap()).collect();
    assert_eq!(dates, [day(-4), day(-3), day(-2), day(-1)]);
    assert_eq!(
        course.sessions.iter().map(|s| s.number).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        (course.start_date, course.end_date),
        (Some(day(-4)), Some(day(-1)))
    );
    assert_eq!(
        course.completion_rule.unwrap().min_attendance_percent,
        80,
        "the default rule"
    );

    // Moving sessions keeps the ids of the days that stay.
    let moved = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    sessions: course_on(0, Audience::Open, &[-4, -3, -2, -5]).sessions,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["sessions".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.sessions[1].id, course.sessions[0].id);
    assert_eq!(moved.sessions[0].date, Some(day(-5)));
    assert!(!course.sessions.iter().any(|s| s.id == moved.sessions[0].id));
    assert_eq!(moved.title, course.title, "only the masked field changed");

    let person = known_person(&w, TENANT, "رامي", Gender::Male, AgeBand::AgeBand2534, None).await;
    let early = enrol(&mut w, &course.id, &person, "").await.unwrap_err();
    assert_eq!(precondition(&early), "COURSE_NOT_OPEN");
    let skip = w
        .client
        .start_course(authed(
            api::StartCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&skip), "COURSE_TRANSITION");
    assert!(skip.message().contains("planned"), "{}", skip.message());

    assert_eq!(
        open(&mut w, &course.id).await.status,
        CourseStatus::Open as i32
    );
    let empty = w
        .client
        .start_course(authed(
            api::StartCourseRequest {
                id: course.id.clone(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&empty), "NO_PARTICIPANTS");
    enrol(&mut w, &course.id, &person, "").await.unwrap();
    assert_eq!(
        start(&mut w, &course.id).await.status,
        CourseStatus::Running as i32
    );

    // While it runs, the venue may change, the capacity may not.
    let update = |field: &str, c: api::Course| api::UpdateCourseRequest {
        course: Some(c),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![field.into()],
        }),
    };
    let frozen = w
        .client
        .update_course(authed(
            update(
                "capacity",
                api::Course {
                    id: course.id.clone(),
                    capacity: 30,
                    ..Default::default()
                },
            ),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&frozen), "COURSE_FIELDS_FROZEN");
    let venue = w
        .client
        .update_course(authed(
            update(
                "venue",
                api::Course {
                    id: course.id.clone(),
                    venue: "قاعة الاجتماعات".into(),
                    ..Default::default()
                },
            ),
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(venue.venue, "قاعة الاجتماعات");

    let incomplete = complete(&mut w, &course.id).await.unwrap_err();
    assert_eq!(precondition(&incomplete), "ATTENDANCE_MISSING");

    let no_reason = w
        .client
        .cancel_course(authed(
            api::CancelCourseRequest {
                id: course.id.clone(),
                reason: String::new(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&no_reason), ["reason"]);
    let cancel = api::CancelCourseRequest {
        id: course.id.clone(),
        reason: "الطريق مقطوع".into(),
        etag: String::new(),
    };
    let cancelled = w
        .client
        .cancel_course(authed(cancel.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, CourseStatus::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "الطريق مقطوع");
    let twice = w
        .client
        .cancel_course(authed(cancel, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice), "COURSE_TRANSITION");

    // Every change went out as a CourseScheduled snapshot, versions rising.
    let events = w.published::<ev::CourseScheduled>().await;
    let statuses: Vec<&str> = events.iter().map(|e| e.status.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "planned",
            "planned",
            "open",
            "running",
            "running",
            "cancelled"
        ]
    );
    assert!(events.windows(2).all(|p| p[0].version < p[1].version));
    assert_eq!(events[0].kind, "workshop");
    assert_eq!(events[0].session_count, 4);
    assert!(!events[0].incubated_only);
}
