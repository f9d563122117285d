//! Attendance and tests: marks for the whole group, corrections, completion's need of a mark for everyone, learning gain.

use crate::world::*;

both_backends!(
    bulk_attendance_counts_once_and_keeps_corrections,
    completion_needs_a_mark_for_everyone_holding_a_place,
    learning_gain_per_participant_and_per_course,
);

async fn bulk_attendance_counts_once_and_keeps_corrections(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 3)).await;
    open(&mut w, &course.id).await;
    let ids = enrol_people(
        &mut w,
        &course.id,
        &[
            ("أمل", Gender::Female),
            ("باسل", Gender::Male),
            ("جود", Gender::Undisclosed),
        ],
    )
    .await;
    let trainer = w.token(&[Role::Trainer], None);
    let session = course.sessions[0].id.clone();

    // Not before the course starts.
    let early = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        vec![mark(&ids[0], AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&early), "COURSE_NOT_RUNNING");
    start(&mut w, &course.id).await;

    let sheet = vec![
        mark(&ids[0], AttendanceStatus::Present),
        mark(&ids[1], AttendanceStatus::Absent),
        mark(&ids[2], AttendanceStatus::Present),
    ];
    let first = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        sheet.clone(),
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        (first.present, first.absent, first.excused, first.unmarked),
        (2, 1, 0, 0)
    );
    assert!(
        first
            .marks
            .iter()
            .all(|m| m.revision == 1 && m.recorded_by == TRAINER)
    );
    assert_eq!(first.marks[0].participant_name, "أمل");
    // The same sheet sent twice more (a flaky connection): counted once.
    for _ in 0..2 {
        let again = record(
            &mut w.client,
            &trainer,
            &course.id,
            &session,
            sheet.clone(),
            "",
        )
        .await
        .unwrap();
        assert_eq!((again.present, again.absent), (2, 1));
        assert!(again.marks.iter().all(|m| m.revision == 1));
    }
    let revisions = |enrolment: &str| api::ListAttendanceRevisionsRequest {
        course_id: course.id.clone(),
        session_id: session.clone(),
        enrolment_id: enrolment.into(),
        ..Default::default()
    };
    let all = w
        .client
        .list_attendance_revisions(authed(revisions(""), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_size, 3);
    let first_two = w
        .client
        .list_attendance_revisions(authed(
            api::ListAttendanceRevisionsRequest {
                page_size: 2,
                ..revisions("")
            },
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    let last = w
        .client
        .list_attendance_revisions(authed(
            api::ListAttendanceRevisionsRequest {
                page_size: 2,
                page_token: first_two.next_page_token,
                ..revisions("")
            },
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((last.revisions.len(), last.total_size), (1, 3));
    let all = all.revisions;
    assert_eq!(all.len(), 3);
    assert_eq!(w.published::<ev::AttendanceRecorded>().await.len(), 1);
    assert_eq!(enrolment(&mut w, &ids[0]).await.sessions_present, 1);

    // A correction: the absent participant had leave. Both records remain.
    let mut corrected = mark(&ids[1], AttendanceStatus::Excused);
    corrected.note = "إجازة مرضية".into();
    let fixed = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        vec![corrected],
        "",
    )
    .await
    .unwrap();
    assert_eq!((fixed.present, fixed.absent, fixed.excused), (2, 0, 1));
    let history = w
        .client
        .list_attendance_revisions(authed(revisions(&ids[1]), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.total_size, 2, "one participant's two");
    let history = history.revisions;
    assert_eq!(
        history
            .iter()
            .map(|m| (m.revision, m.status))
            .collect::<Vec<_>>(),
        [
            (1, AttendanceStatus::Absent as i32),
            (2, AttendanceStatus::Excused as i32)
        ]
    );
    assert_eq!(history[1].note, "إجازة مرضية");
    let events = w.published::<ev::AttendanceRecorded>().await;
    assert_eq!(events.len(), 2);
    assert_eq!((events[1].present, events[1].absent), (2, 1));
    assert_eq!(events[1].session_date, course.sessions[0].date);

    // With a request_id, a late retry returns the first answer and undoes
    // no later correction.
    let session2 = course.sessions[1].id.clone();
    let before = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session2,
        vec![mark(&ids[0], AttendanceStatus::Present)],
        "attendance-day-2",
    )
    .await
    .unwrap();
    record(
        &mut w.client,
        &trainer,
        &course.id,
        &session2,
        vec![mark(&ids[0], AttendanceStatus::Absent)],
        "",
    )
    .await
    .unwrap();
    let replayed = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session2,
        vec![mark(&ids[0], AttendanceStatus::Present)],
        "attendance-day-2",
    )
    .await
    .unwrap();
    assert_eq!(replayed, before);
    let now = w
        .client
        .get_session_attendance(authed(
            api::GetSessionAttendanceRequest {
                course_id: course.id.clone(),
                session_id: session2.clone(),
            },
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.marks[0].status, AttendanceStatus::Absent as i32);
    assert_eq!(now.marks[0].revision, 2);
    assert_eq!(now.unmarked, 2);

    // Only participants of this course, and nothing written otherwise.
    let stranger = record(
        &mut w.client,
        &trainer,
        &course.id,
        &session,
        vec![
            mark(&ids[0], AttendanceStatus::Absent),
            mark(&new_id(), AttendanceStatus::Present),
        ],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(field_violations(&stranger), ["marks[1].enrolment_id"]);
    let unchanged = w
        .client
        .list_attendance_revisions(authed(revisions(""), &trainer))
        .await
        .unwrap()
        .into_inner()
        .revisions;
    assert_eq!(unchanged.len(), 4);
    let other = create_course(&mut w, course_body(10, Audience::Open, 1)).await;
    let wrong_session = record(
        &mut w.client,
        &trainer,
        &course.id,
        &other.sessions[0].id,
        vec![mark(&ids[0], AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(wrong_session.code(), Code::NotFound);

    // Another trainer, a partner: not theirs to record.
    let other_trainer = w.token_of("user-other-trainer", TENANT, &[Role::Trainer]);
    let refused = record(
        &mut w.client,
        &other_trainer,
        &course.id,
        &session,
        sheet.clone(),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let report_refused = w
        .client
        .get_course_report(authed(
            api::GetCourseReportRequest {
                course_id: course.id.clone(),
            },
            &other_trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(report_refused.code(), Code::PermissionDenied);
    // A trainer lists the enrolments of their own courses only.
    let theirs = w
        .client
        .list_enrolments(authed(
            api::ListEnrolmentsRequest::default(),
            &other_trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.enrolments.is_empty());
    let own = w
        .client
        .list_enrolments(authed(api::ListEnrolmentsRequest::default(), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.enrolments.len(), 3);

    // A session that has not happened yet cannot be recorded.
    let future = create_course(&mut w, course_on(5, Audience::Open, &[-1, 5])).await;
    open(&mut w, &future.id).await;
    let p = known_person(
        &w,
        TENANT,
        "دانة",
        Gender::Female,
        AgeBand::AgeBand1824,
        None,
    )
    .await;
    let e = enrol(&mut w, &future.id, &p, "").await.unwrap();
    start(&mut w, &future.id).await;
    let ahead = record(
        &mut w.client,
        &trainer,
        &future.id,
        &future.sessions[1].id,
        vec![mark(&e.id, AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&ahead), "SESSION_NOT_HELD");
}

async fn completion_needs_a_mark_for_everyone_holding_a_place(backend: Backend) {
    let mut w = world(backend).await;
    // Three places and two waiting: Amal, Basel and Jud hold a place.
    let (course, ids) = running_course(
        &mut w,
        3,
        2,
        &[
            ("أمل", Gender::Female),
            ("باسل", Gender::Male),
            ("جود", Gender::Female),
            ("دانة", Gender::Female),
            ("هادي", Gender::Male),
        ],
    )
    .await;
    let staff = w.staff.clone();
    // The trainer marks only Amal, at both sessions.
    for session in &course.sessions {
        record(
            &mut w.client,
            &staff,
            &course.id,
            &session.id,
            vec![mark(&ids[0], AttendanceStatus::Present)],
            "",
        )
        .await
        .unwrap();
    }
    // Basel and Jud are unmarked: completing now would fail them for good.
    let refused = complete(&mut w, &course.id).await.unwrap_err();
    assert_eq!(precondition(&refused), "ATTENDANCE_MISSING");
    for session in &course.sessions {
        let date = KDate::required("date", session.date.as_ref()).unwrap();
        assert!(
            refused.message().contains(&date.to_string()),
            "{}",
            refused.message()
        );
    }
    assert!(refused.message().contains(&ids[1]), "{}", refused.message());
    assert!(refused.message().contains(&ids[2]), "{}", refused.message());
    assert!(
        !refused.message().contains(&ids[0]),
        "{}",
        refused.message()
    );
    // Nobody waiting is asked for: they hold no place.
    assert!(
        !refused.message().contains(&ids[3]),
        "{}",
        refused.message()
    );
    assert!(w.published::<ev::CourseCompleted>().await.is_empty());
    assert!(w.published::<ev::CertificateIssued>().await.is_empty());
    assert_eq!(
        get_course(&mut w, &course.id).await.status,
        CourseStatus::Running as i32
    );

    // Jud leaves; Dana takes her place and must be marked too.
    cancel_enrolment(&mut w, &ids[2]).await;
    assert_eq!(
        enrolment(&mut w, &ids[3]).await.status,
        EnrolmentStatus::Enrolled as i32
    );
    let sheet = |present: bool| {
        vec![
            mark(&ids[1], AttendanceStatus::Present),
            mark(
                &ids[3],
                if present {
                    AttendanceStatus::Present
                } else {
                    AttendanceStatus::Excused
                },
            ),
        ]
    };
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[0].id,
        sheet(true),
        "",
    )
    .await
    .unwrap();
    let still = complete(&mut w, &course.id).await.unwrap_err();
    assert_eq!(precondition(&still), "ATTENDANCE_MISSING");
    assert!(!still.message().contains(&ids[2]), "{}", still.message());
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[1].id,
        sheet(false),
        "",
    )
    .await
    .unwrap();
    let done = complete(&mut w, &course.id).await.unwrap();
    assert_eq!(done.status, CourseStatus::Completed as i32);
    let completed = w.published::<ev::CourseCompleted>().await;
    assert_eq!(completed.len(), 1);
    // Amal and Basel at both sessions; Dana excused once: 50%, no certificate.
    assert_eq!(
        (completed[0].completed_female, completed[0].completed_male),
        (1, 1)
    );
}

async fn learning_gain_per_participant_and_per_course(backend: Backend) {
    let mut w = world(backend).await;
    let mut body = course_body(10, Audience::Open, 2);
    body.completion_rule = Some(api::CompletionRule {
        min_attendance_percent: 50,
        min_post_test_score: 75,
    });
    let course = create_course(&mut w, body).await;
    open(&mut w, &course.id).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let p = known_person(
            &w,
            TENANT,
            &format!("متدرب {i}"),
            Gender::Female,
            AgeBand::AgeBand2534,
            None,
        )
        .await;
        ids.push(enrol(&mut w, &course.id, &p, "").await.unwrap().id);
    }
    start(&mut w, &course.id).await;
    let trainer = w.token(&[Role::Trainer], None);
    let scores = |kind: TestKind, list: &[(usize, i32)]| api::RecordTestScoresRequest {
        course_id: course.id.clone(),
        kind: kind as i32,
        scores: list
            .iter()
            .map(|(i, s)| api::TestScore {
                enrolment_id: ids[*i].clone(),
                score: *s,
            })
            .collect(),
    };
    let pre = w
        .client
        .record_test_scores(authed(
            scores(TestKind::Pre, &[(0, 40), (1, 60), (2, 100), (3, 50)]),
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pre.enrolments[0].pre_test_score, Some(40));
    assert_eq!(pre.enrolments[0].learning_gain, None);
    let post = w
        .client
        .record_test_scores(authed(
            scores(TestKind::Post, &[(0, 70), (1, 80), (2, 100)]),
            &trainer,
        ))
        .await
        .unwrap()
        .into_inner();
    let gains: Vec<Option<i32>> = post.enrolments.iter().map(|e| e.learning_gain).collect();
    assert_eq!(gains, [Some(30), Some(20), Some(0)]);
    assert_eq!(enrolment(&mut w, &ids[3]).await.learning_gain, None);

    let r = report(&mut w, &course.id).await;
    let g = r.learning_gain.unwrap();
    assert_eq!(g.participants_tested, 3);
    assert!((g.average_pre_test_score - 200.0 / 3.0).abs() < 1e-9);
    assert!((g.average_post_test_score - 250.0 / 3.0).abs() < 1e-9);
    assert!((g.average_gain - 50.0 / 3.0).abs() < 1e-9);
    assert!((g.average_normalized_gain - 0.5).abs() < 1e-9);

    // Scored again, the new score counts.
    let again = w
        .client
        .record_test_scores(authed(scores(TestKind::Post, &[(0, 90)]), &trainer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.enrolments[0].learning_gain, Some(50));

    let bad = w
        .client
        .record_test_scores(authed(
            api::RecordTestScoresRequest {
                course_id: course.id.clone(),
                kind: TestKind::Post as i32,
                scores: vec![
                    api::TestScore {
                        enrolment_id: ids[1].clone(),
                        score: 101,
                    },
                    api::TestScore {
                        enrolment_id: new_id(),
                        score: 50,
                    },
                ],
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bad), ["scores[0].score"]);
    let stranger = w
        .client
        .record_test_scores(authed(
            api::RecordTestScoresRequest {
                course_id: course.id.clone(),
                kind: TestKind::Post as i32,
                scores: vec![api::TestScore {
                    enrolment_id: new_id(),
                    score: 50,
                }],
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&stranger), ["scores[0].enrolment_id"]);

    // The rule asks for a post-test of 75: attendance alone is not enough.
    for session in &course.sessions {
        let marks = ids
            .iter()
            .map(|id| mark(id, AttendanceStatus::Present))
            .collect();
        record(&mut w.client, &trainer, &course.id, &session.id, marks, "")
            .await
            .unwrap();
    }
    complete(&mut w, &course.id).await.unwrap();
    let completed: Vec<bool> = futures::future::join_all(ids.iter().map(|id| {
        let mut client = w.client.clone();
        let (id, token) = (id.clone(), w.staff.clone());
        async move {
            client
                .get_enrolment(authed(api::GetEnrolmentRequest { id }, &token))
                .await
                .unwrap()
                .into_inner()
                .completed
        }
    }))
    .await;
    // 90 and 80 pass; 100 passes; no post-test fails.
    assert_eq!(completed, [true, true, true, false]);
}
