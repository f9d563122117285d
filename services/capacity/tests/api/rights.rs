//! Tenancy and the rights table: every method held to [`markaz_capacity::RIGHTS`]
//! through the real server (every role, every bad credential), the public
//! ones reading no credential at all, and no tenant seeing another's.

use markaz_kit::rpc::Access;
use markaz_kit::testing::rights;

use crate::world::*;

both_backends!(
    every_rpc_holds_to_the_rights_table,
    tenants_never_see_each_other,
);

async fn every_rpc_holds_to_the_rights_table(backend: Backend) {
    let mut w = world(backend).await;
    rights::check(&w.app, markaz_capacity::RIGHTS, TENANT).await;
    // Public: the credential is not even read, a bad one no more than none.
    for table in markaz_capacity::RIGHTS {
        for (method, access) in table.methods {
            if *access != Access::Public {
                continue;
            }
            for (what, token) in w.app.env.bad_tokens(TENANT) {
                let code = rights::call_empty(&w.app, table.grpc_service, method, &token).await;
                assert_ne!(code, Code::Unauthenticated, "{method} with {what}");
                assert_ne!(code, Code::PermissionDenied, "{method} with {what}");
            }
        }
    }
    // Nothing was written by any of them.
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(courses.courses.is_empty());
    let topics = w
        .client
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(topics.topics.len(), 8);
    // Built-in topics start at version 1: nobody renamed them.
    assert!(
        topics
            .topics
            .iter()
            .all(|t| t.etag == markaz_kit::rpc::etag(1))
    );
}

async fn tenants_never_see_each_other(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(5, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let p = known_person(
        &w,
        TENANT,
        "سارة",
        Gender::Female,
        AgeBand::AgeBand2534,
        None,
    )
    .await;
    let e = enrol(&mut w, &course.id, &p, "").await.unwrap();
    w.client
        .create_topic(authed(
            api::CreateTopicRequest {
                topic: Some(api::Topic {
                    code: "ours-only".into(),
                    name: text("لنا", ""),
                    ..Default::default()
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let consultation = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(api::Consultation {
                    kind: ConsultationKind::Consultation as i32,
                    attendee_person_ids: vec![p.clone()],
                    advisor: Some(api::Advisor {
                        name: "x".into(),
                        kind: AdvisorKind::Staff as i32,
                    }),
                    branch_id: "raqqa".into(),
                    held_on: Some(day(-1)),
                    duration_minutes: 30,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();

    // Asked for on this center's public page.
    let asked = w
        .client
        .request_consultation(tonic::Request::new(api::RequestConsultationRequest {
            tenant_id: TENANT.into(),
            request: Some(api::ConsultationRequest {
                requester_name: "سارة".into(),
                contact: "sara@example.org".into(),
                description: "خطة استراتيجية".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap()
        .into_inner();

    let intruder = w.token_of("user-admin", OTHER_TENANT, &[Role::Admin]);
    let get = w
        .client
        .get_course(authed(
            api::GetCourseRequest {
                id: course.id.clone(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(get.code(), Code::NotFound);
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(courses.courses.is_empty());
    assert_eq!(
        courses.total_size, 0,
        "another tenant's courses count for none"
    );
    let ours = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ours.total_size, 1);
    let update = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    venue: "hacked".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["venue".into()],
                }),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(update.code(), Code::NotFound);
    let enrolment = w
        .client
        .get_enrolment(authed(
            api::GetEnrolmentRequest { id: e.id.clone() },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(enrolment.code(), Code::NotFound);
    let listed = w
        .client
        .list_enrolments(authed(api::ListEnrolmentsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.enrolments.is_empty());
    assert_eq!(listed.total_size, 0);
    for (token, certificates, consultations, suggestions, requests) in
        [(&intruder, 0, 0, 0, 0), (&w.staff, 0, 1, 0, 1)]
    {
        let c = w
            .client
            .list_certificates(authed(api::ListCertificatesRequest::default(), token))
            .await
            .unwrap()
            .into_inner();
        let k = w
            .client
            .list_consultations(authed(api::ListConsultationsRequest::default(), token))
            .await
            .unwrap()
            .into_inner();
        let s = w
            .client
            .list_training_suggestions(authed(
                api::ListTrainingSuggestionsRequest::default(),
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        let r = w
            .client
            .list_consultation_requests(authed(
                api::ListConsultationRequestsRequest::default(),
                token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (c.total_size, k.total_size, s.total_size, r.total_size),
            (certificates, consultations, suggestions, requests)
        );
    }
    let triage = w
        .client
        .triage_consultation_request(authed(
            api::TriageConsultationRequestRequest {
                id: asked.id.clone(),
                status: ConsultationRequestStatus::Declined as i32,
                ..Default::default()
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(triage.code(), Code::NotFound);
    let sneak = enrol_as(&mut w.client, &intruder, &course.id, &p, "")
        .await
        .unwrap_err();
    assert_eq!(sneak.code(), Code::NotFound);
    let cancel = w
        .client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: e.id.clone(),
                reason: String::new(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::NotFound);
    let attendance = record(
        &mut w.client,
        &intruder,
        &course.id,
        &course.sessions[0].id,
        vec![mark(&e.id, AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(attendance.code(), Code::NotFound);
    let report = w
        .client
        .get_course_report(authed(
            api::GetCourseReportRequest {
                course_id: course.id.clone(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(report.code(), Code::NotFound);
    let consult = w
        .client
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(consult.code(), Code::NotFound);
    let topics = w
        .client
        .list_topics(authed(api::ListTopicsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(topics.topics.len(), 8, "the built-in catalogue, not ours");
    assert_eq!(topics.total_size, 8);
    let our_topics = w
        .client
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(our_topics.total_size, 9);
    let activity = w
        .client
        .get_activity_report(authed(api::GetActivityReportRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(activity.consultations, 0);
    // Tenant B's own course cannot take tenant A's people.
    let mut theirs = w.client.clone();
    let their_course = theirs
        .create_course(authed(
            api::CreateCourseRequest {
                course: Some(course_body(5, Audience::Open, 2)),
                request_id: String::new(),
            },
            &intruder,
        ))
        .await
        .unwrap()
        .into_inner();
    theirs
        .open_course(authed(
            api::OpenCourseRequest {
                id: their_course.id.clone(),
                etag: String::new(),
            },
            &intruder,
        ))
        .await
        .unwrap();
    let borrowed = enrol_as(&mut theirs, &intruder, &their_course.id, &p, "")
        .await
        .unwrap_err();
    assert_eq!(precondition(&borrowed), "PERSON_NOT_KNOWN");

    if backend == Backend::Postgres {
        // The second wall: with no tenant set, row-level security hides
        // every tenant's rows even without a WHERE clause.
        let db = w.app.env.db("capacity").await.unwrap();
        let mut tx = db.system().await.unwrap();
        for table in [
            "courses",
            "enrolments",
            "membership_people",
            "consultations",
        ] {
            let n: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                    .fetch_one(tx.conn())
                    .await
                    .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        tx.rollback().await.unwrap();
        let mut tx = db.read(OTHER_TENANT).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM courses")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 1, "only the other tenant's own course");
    }
}
