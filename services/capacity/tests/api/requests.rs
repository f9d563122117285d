//! What every request keeps to: retries, etags, bad input, nothing written when refused, Arabic byte for byte.

use crate::world::*;

both_backends!(
    retried_creates_return_the_first_result,
    rights_are_checked_before_a_retry_is_answered,
    stale_etags_are_refused,
    bad_input_is_refused_with_field_details_and_nothing_written,
    refused_updates_write_nothing,
    arabic_text_round_trips_byte_for_byte,
);

async fn retried_creates_return_the_first_result(backend: Backend) {
    let mut w = world(backend).await;
    let request = api::CreateCourseRequest {
        course: Some(course_body(3, Audience::Open, 2)),
        request_id: "8f14e45f-ceea-467f-a0e6-0fd0f6c6b5e1".into(),
    };
    let first = w
        .client
        .create_course(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .create_course(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    let mut different = request;
    different.course.as_mut().unwrap().capacity = 30;
    let status = w
        .client
        .create_course(authed(different, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["request_id"]);
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(courses.courses.len(), 1);

    open(&mut w, &first.id).await;
    let p = known_person(&w, TENANT, "أ", Gender::Female, AgeBand::AgeBand2534, None).await;
    let enrol_request = api::EnrolParticipantRequest {
        course_id: first.id.clone(),
        person_id: p.clone(),
        organization_id: String::new(),
        request_id: "enrol-1".into(),
    };
    let a = w
        .client
        .enrol_participant(authed(enrol_request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let b = w
        .client
        .enrol_participant(authed(enrol_request, &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a, b);
    assert_eq!(get_course(&mut w, &first.id).await.enrolled_count, 1);
}

async fn rights_are_checked_before_a_retry_is_answered(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let p = new_id();
    w.membership(
        TENANT,
        ev::PersonRegistered {
            person: Some(person_snapshot(
                &p,
                "نور",
                Gender::Female,
                AgeBand::AgeBand2534,
                1,
            )),
        },
    )
    .await;
    let affiliation = affiliate(&w, TENANT, &p, &org).await;

    // A partner enrols its member, with a request id.
    let partner = w.token(&[Role::Partner], Some(&org));
    let request = api::EnrolParticipantRequest {
        course_id: course.id.clone(),
        person_id: p.clone(),
        organization_id: String::new(),
        request_id: "partner-enrol-1".into(),
    };
    let first = w
        .client
        .enrol_participant(authed(request.clone(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.organization_id, org);
    // The person leaves the organization: the partner has no right to them
    // any more, and a retry of the same request gets no copy of the answer.
    w.membership(
        TENANT,
        ev::AffiliationEnded {
            affiliation_id: affiliation,
            person_id: p.clone(),
            organization_id: org.clone(),
        },
    )
    .await;
    let retried = w
        .client
        .enrol_participant(authed(request, &partner))
        .await
        .unwrap_err();
    assert_eq!(retried.code(), Code::NotFound, "{retried:?}");

    // The course's trainer records a sheet, with a request id.
    start(&mut w, &course.id).await;
    let trainer = w.token(&[Role::Trainer], None);
    let sheet = vec![mark(&first.id, AttendanceStatus::Present)];
    let session = course.sessions[0].id.clone();
    record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        sheet.clone(),
        "sheet-day-1",
    )
    .await
    .unwrap();
    // Staff hand the course to another trainer: the first one's retry is
    // refused like any other request of theirs on this course.
    w.client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    trainers: vec![api::Trainer {
                        name: "مدرّب آخر".into(),
                        subject: "user-other-trainer".into(),
                        external: false,
                    }],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["trainers".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let replayed = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        sheet,
        "sheet-day-1",
    )
    .await
    .unwrap_err();
    assert_eq!(replayed.code(), Code::PermissionDenied, "{replayed:?}");
}

async fn stale_etags_are_refused(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    let rename = |etag: &str, en: &str| api::UpdateCourseRequest {
        course: Some(api::Course {
            id: course.id.clone(),
            title: text("ورشة", en),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into()],
        }),
    };
    w.client
        .update_course(authed(rename(&course.etag, "A"), &w.staff))
        .await
        .unwrap();
    let lost = w
        .client
        .update_course(authed(rename(&course.etag, "B"), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(lost.code(), Code::Aborted);
    let stale_open = w
        .client
        .open_course(authed(
            api::OpenCourseRequest {
                id: course.id.clone(),
                etag: course.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale_open.code(), Code::Aborted);
    let got = get_course(&mut w, &course.id).await;
    assert_eq!(got.title.unwrap().en, "A");
    assert_eq!(got.status, CourseStatus::Planned as i32);
    let not_ours = w
        .client
        .open_course(authed(
            api::OpenCourseRequest {
                id: course.id.clone(),
                etag: "v7".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&not_ours), ["etag"]);
}

async fn bad_input_is_refused_with_field_details_and_nothing_written(backend: Backend) {
    let mut w = world(backend).await;
    let bad = api::Course {
        kind: 99,
        title: text(&"م".repeat(201), ""),
        topic_codes: vec![],
        branch_id: "Raqqa Branch".into(),
        sessions: vec![],
        capacity: -1,
        audience: 0,
        trainers: vec![api::Trainer::default()],
        ..Default::default()
    };
    let status = w
        .client
        .create_course(authed(
            api::CreateCourseRequest {
                course: Some(bad),
                request_id: "x".repeat(129),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        field_violations(&status),
        [
            "course.kind",
            "course.title.ar",
            "course.topic_codes",
            "course.branch_id",
            "course.sessions",
            "course.capacity",
            "course.trainers[0].name",
            "course.audience",
            "request_id",
        ]
    );
    let status = w
        .client
        .enrol_participant(authed(
            api::EnrolParticipantRequest {
                course_id: "1 OR 1=1".into(),
                person_id: String::new(),
                organization_id: "x".into(),
                request_id: "no spaces allowed".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    // Every bad field at once, the request id among them.
    assert_eq!(
        field_violations(&status),
        ["course_id", "person_id", "organization_id", "request_id"]
    );
    let status = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: None,
                request_id: "no spaces allowed".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&status),
        [
            "consultation.kind",
            "consultation.attendee_person_ids",
            "consultation.advisor.name",
            "consultation.advisor.kind",
            "consultation.branch_id",
            "consultation.held_on",
            "consultation.duration_minutes",
            "request_id",
        ]
    );
    let status = w
        .client
        .record_attendance(authed(
            api::RecordAttendanceRequest {
                course_id: new_id(),
                session_id: new_id(),
                marks: vec![],
                request_id: "no spaces allowed".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["marks", "request_id"]);
    let status = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: new_id(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["status".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["update_mask.paths[0]"]);
    let status = w
        .client
        .list_courses(authed(
            api::ListCoursesRequest {
                page_token: "garbage".into(),
                status: 42,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["status"]);
    let status = w
        .client
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: "Not A Tenant".into(),
            suggestion: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["tenant_id", "suggestion.title"]);
    let status = w
        .client
        .get_activity_report(authed(
            api::GetActivityReportRequest {
                from: Some(day(0)),
                until: Some(day(-1)),
                branch_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["until"]);

    // Nothing was written.
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(courses.courses.is_empty());
    let consultations = w
        .client
        .list_consultations(authed(api::ListConsultationsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(consultations.consultations.is_empty());
}

async fn refused_updates_write_nothing(backend: Backend) {
    let mut w = world(backend).await;
    // A center whose staff have done nothing yet: no catalogue, not known.
    let staff = w.token_of("user-staff", OTHER_TENANT, &[Role::Staff]);
    let long = api::UpdateTopicRequest {
        topic: Some(api::Topic {
            code: "strategic-planning".into(),
            name: text(&"ت".repeat(201), "Strategic planning"),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into()],
        }),
    };
    let refused = w
        .client
        .update_topic(authed(long, &staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&refused), ["topic.name.ar"]);
    let unknown_course = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: new_id(),
                    venue: "قاعة".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["venue".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown_course.code(), Code::NotFound);
    let unknown_consultation = w
        .client
        .update_consultation(authed(
            api::UpdateConsultationRequest {
                consultation: Some(api::Consultation {
                    id: new_id(),
                    notes: "ملاحظات".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["notes".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown_consultation.code(), Code::NotFound);

    // Nothing was written: no catalogue, and the center's public form is
    // not open on the strength of refused requests.
    let db = w.app.app.db("capacity").expect("capacity's database");
    let mut tx = db.read(OTHER_TENANT).await.unwrap();
    for table in ["topics", "known_tenants"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"
        )))
        .bind(OTHER_TENANT)
        .fetch_one(tx.conn())
        .await
        .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    tx.rollback().await.unwrap();
    let closed = w
        .client
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: OTHER_TENANT.into(),
            suggestion: Some(api::TrainingSuggestion {
                title: "فكرة".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::NotFound);

    // A valid update of a built-in topic still finds it.
    let renamed = w
        .client
        .update_topic(authed(
            api::UpdateTopicRequest {
                topic: Some(api::Topic {
                    code: "strategic-planning".into(),
                    name: text("التخطيط الاستراتيجي للمنظمات", "Strategic planning"),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["name".into()],
                }),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(renamed.built_in);
    assert_eq!(renamed.name.unwrap().ar, "التخطيط الاستراتيجي للمنظمات");
    let listed = w
        .client
        .list_topics(authed(api::ListTopicsRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner()
        .topics;
    assert_eq!(listed.len(), 8);
}

async fn arabic_text_round_trips_byte_for_byte(backend: Backend) {
    let mut w = world(backend).await;
    // Tashkeel, a right-to-left mark, mixed scripts, an emoji.
    let tricky = "دَوْرَة \u{200F}المُناصَرة‎ – Advocacy 🌿";
    let mut body = course_body(5, Audience::Open, 2);
    body.title = text(tricky, "");
    body.description = text("سطر أول\nسطر ثانٍ", "");
    body.venue = "حيّ الثكنة، الرقة".into();
    body.trainers[0].name = "عبد الرَّحمن".into();
    let course = create_course(&mut w, body.clone()).await;
    let got = get_course(&mut w, &course.id).await;
    assert_eq!(got.title.clone().unwrap().ar.as_bytes(), tricky.as_bytes());
    assert_eq!(got.description, body.description);
    assert_eq!(got.venue.as_bytes(), body.venue.as_bytes());
    assert_eq!(got.trainers[0].name.as_bytes(), "عبد الرَّحمن".as_bytes());
    let found = w
        .client
        .list_courses(authed(
            api::ListCoursesRequest {
                topic_code: "proposal-writing".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.courses[0].title, got.title);

    let name = "مُحَمَّد \u{200F}الحَسَن";
    let p = known_person(&w, TENANT, name, Gender::Male, AgeBand::AgeBand2534, None).await;
    open(&mut w, &course.id).await;
    let e = enrol(&mut w, &course.id, &p, "").await.unwrap();
    assert_eq!(e.participant_name.as_bytes(), name.as_bytes());
    let topic = w
        .client
        .create_topic(authed(
            api::CreateTopicRequest {
                topic: Some(api::Topic {
                    code: "peace-building".into(),
                    name: text(tricky, "Peace"),
                    description: text("وصفٌ\tمفصّل", ""),
                    ..Default::default()
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let got = w
        .client
        .get_topic(authed(
            api::GetTopicRequest {
                code: topic.code.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name.unwrap().ar.as_bytes(), tricky.as_bytes());
    assert_eq!(got.description.unwrap().ar, "وصفٌ\tمفصّل");
}
