//! Reports: figures counted from the records, the same people in each.

use crate::world::*;

both_backends!(
    a_courses_figures_count_the_same_people,
    reports_count_from_records_and_survive_erasure,
    a_period_of_forty_thousand_consultations_is_counted,
    courses_completed_before_migration_10_are_counted_by_it,
);

async fn a_courses_figures_count_the_same_people(backend: Backend) {
    let mut w = world(backend).await;
    let (course, ids) = running_course(
        &mut w,
        5,
        2,
        &[
            ("أسماء", Gender::Female),
            ("بكر", Gender::Male),
            ("جنى", Gender::Female),
        ],
    )
    .await;
    let staff = w.staff.clone();
    use AttendanceStatus::{Absent, Present};
    let (day1, day2) = (course.sessions[0].id.clone(), course.sessions[1].id.clone());
    record(
        &mut w.client,
        &staff,
        &course.id,
        &day1,
        ids.iter().map(|id| mark(id, Present)).collect(),
        "",
    )
    .await
    .unwrap();
    // Jana leaves after the first day: she holds no place any more.
    cancel_enrolment(&mut w, &ids[2]).await;
    record(
        &mut w.client,
        &staff,
        &course.id,
        &day2,
        vec![mark(&ids[0], Present), mark(&ids[1], Absent)],
        "",
    )
    .await
    .unwrap();
    // A correction of the first day's sheet counts those holding a place.
    let mut late = mark(&ids[1], Present);
    late.note = "وصل متأخراً".into();
    let corrected = record(&mut w.client, &staff, &course.id, &day1, vec![late], "")
        .await
        .unwrap();
    assert_eq!(
        (
            corrected.present,
            corrected.absent,
            corrected.excused,
            corrected.unmarked
        ),
        (2, 0, 0, 0)
    );
    assert!(corrected.marks.iter().all(|m| m.enrolment_id != ids[2]));
    let heard = w.published::<ev::AttendanceRecorded>().await;
    assert_eq!(
        (heard.last().unwrap().present, heard.last().unwrap().absent),
        (2, 0)
    );
    complete(&mut w, &course.id).await.unwrap();

    let r = report(&mut w, &course.id).await;
    assert_eq!(counts(&r.enrolled), (1, 1, 0, 2));
    assert_eq!(r.cancelled, 1);
    assert_eq!(counts(&r.participants), (1, 1, 0, 2));
    assert_eq!(counts(&r.completed), (1, 0, 0, 1));
    assert!((r.average_attendance_percent - 75.0).abs() < 1e-9);
    assert_eq!(
        r.sessions
            .iter()
            .map(|s| (s.present, s.absent, s.excused))
            .collect::<Vec<_>>(),
        [(2, 0, 0), (1, 1, 0)]
    );
    // Each session's marks add up to the people enrolled, as every figure
    // of the report counts them.
    let enrolled = counts(&r.enrolled).3;
    assert!(
        r.sessions
            .iter()
            .all(|s| s.present + s.absent + s.excused == enrolled)
    );
    let completed = &w.published::<ev::CourseCompleted>().await[0];
    assert_eq!(
        (completed.participants_female, completed.participants_male),
        (1, 1)
    );
}

async fn reports_count_from_records_and_survive_erasure(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(4, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let people = [
        ("فاطمة الزهراء", Gender::Female, AgeBand::AgeBand2534),
        ("سلوى", Gender::Female, AgeBand::AgeBand1824),
        ("مازن", Gender::Male, AgeBand::AgeBand2534),
        ("—", Gender::Undisclosed, AgeBand::Undisclosed),
        ("متأخر", Gender::Male, AgeBand::AgeBand3544),
    ];
    let mut person_ids = Vec::new();
    let mut ids = Vec::new();
    for (name, gender, age) in people {
        let p = known_person(&w, TENANT, name, gender, age, None).await;
        ids.push(enrol(&mut w, &course.id, &p, "").await.unwrap().id);
        person_ids.push(p);
    }
    start(&mut w, &course.id).await;
    use AttendanceStatus::{Absent, Present};
    let staff = w.staff.clone();
    for (session, statuses) in course.sessions.iter().zip([
        [Present, Present, Present, Absent],
        [Present, Absent, Present, Absent],
    ]) {
        let marks = ids
            .iter()
            .zip(statuses)
            .map(|(id, s)| mark(id, s))
            .collect();
        record(&mut w.client, &staff, &course.id, &session.id, marks, "")
            .await
            .unwrap();
    }
    complete(&mut w, &course.id).await.unwrap();

    let before = report(&mut w, &course.id).await;
    assert_eq!(counts(&before.enrolled), (2, 1, 1, 4));
    assert_eq!(before.waitlisted, 1);
    assert_eq!(counts(&before.participants), (2, 1, 0, 3));
    assert_eq!(
        before
            .participants_by_age_band
            .iter()
            .map(|a| (a.age_band, a.count))
            .collect::<Vec<_>>(),
        [
            (AgeBand::AgeBand1824 as i32, 1),
            (AgeBand::AgeBand2534 as i32, 2)
        ]
    );
    assert_eq!(counts(&before.completed), (1, 1, 0, 2));
    assert!((before.average_attendance_percent - 62.5).abs() < 1e-9);
    assert_eq!(
        before
            .sessions
            .iter()
            .map(|s| (s.present, s.absent))
            .collect::<Vec<_>>(),
        [(3, 1), (2, 2)]
    );
    assert_eq!(before.certificates_issued, 2);

    // Fatima asks membership to forget her.
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: person_ids[0].clone(),
            ..Default::default()
        },
    )
    .await;
    let hers = enrolment(&mut w, &ids[0]).await;
    assert_eq!(hers.participant_name, "");
    assert_eq!(hers.gender, Gender::Female as i32);
    let listed = enrolments(&mut w, &course.id, EnrolmentStatus::Enrolled).await;
    assert!(!listed.iter().any(|e| e.participant_name.contains("فاطمة")));
    let certificate = w
        .client
        .list_certificates(authed(
            api::ListCertificatesRequest {
                person_id: person_ids[0].clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(certificate[0].participant_name, "");
    let verified = w
        .client
        .verify_certificate(tonic::Request::new(api::VerifyCertificateRequest {
            code: certificate[0].code.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid && verified.participant_name.is_empty());
    // The figures do not move.
    assert_eq!(report(&mut w, &course.id).await, before);
    // A stale snapshot arriving late does not bring the name back.
    w.membership(
        TENANT,
        ev::PersonUpdated {
            person: Some(person_snapshot(
                &person_ids[0],
                "فاطمة الزهراء",
                Gender::Female,
                AgeBand::AgeBand2534,
                7,
            )),
        },
    )
    .await;
    assert_eq!(enrolment(&mut w, &ids[0]).await.participant_name, "");

    // The period's activity: courses and consultations by branch and gender.
    let consult =
        |kind: ConsultationKind, branch: &str, who: Vec<String>| api::CreateConsultationRequest {
            consultation: Some(api::Consultation {
                kind: kind as i32,
                attendee_person_ids: who,
                advisor: Some(api::Advisor {
                    name: "مسؤولة بناء القدرات".into(),
                    kind: AdvisorKind::Staff as i32,
                }),
                branch_id: branch.into(),
                held_on: Some(day(-2)),
                duration_minutes: 60,
                ..Default::default()
            }),
            request_id: String::new(),
        };
    for (kind, branch, who) in [
        (
            ConsultationKind::TechnicalSupport,
            "raqqa",
            vec![person_ids[1].clone()],
        ),
        (
            ConsultationKind::TechnicalSupport,
            "deir-ez-zor",
            vec![person_ids[2].clone(), person_ids[3].clone()],
        ),
        (
            ConsultationKind::Consultation,
            "deir-ez-zor",
            vec![person_ids[4].clone()],
        ),
    ] {
        w.client
            .create_consultation(authed(consult(kind, branch, who), &w.staff))
            .await
            .unwrap();
    }
    let activity = w
        .client
        .get_activity_report(authed(
            api::GetActivityReportRequest {
                from: Some(day(-30)),
                until: Some(day(0)),
                branch_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(activity.courses_completed, 1);
    assert_eq!(activity.by_kind[0].kind, CourseKind::Workshop as i32);
    assert_eq!(counts(&activity.course_participants), (2, 1, 0, 3));
    assert_eq!(counts(&activity.course_completers), (1, 1, 0, 2));
    assert_eq!(activity.certificates_issued, 2);
    assert_eq!(
        (activity.consultations, activity.technical_support_sessions),
        (1, 2)
    );
    assert_eq!(counts(&activity.consultation_attendees), (1, 2, 1, 4));
    let branches: Vec<(String, i32, i32, i32)> = activity
        .by_branch
        .iter()
        .map(|b| {
            (
                b.branch_id.clone(),
                b.courses_completed,
                b.consultations,
                b.technical_support_sessions,
            )
        })
        .collect();
    assert_eq!(
        branches,
        [
            ("deir-ez-zor".to_string(), 0, 1, 1),
            ("raqqa".to_string(), 1, 0, 1)
        ]
    );
    let raqqa = w
        .client
        .get_activity_report(authed(
            api::GetActivityReportRequest {
                branch_id: "raqqa".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            raqqa.courses_completed,
            raqqa.technical_support_sessions,
            raqqa.consultations
        ),
        (1, 1, 0)
    );
    let earlier = w
        .client
        .get_activity_report(authed(
            api::GetActivityReportRequest {
                until: Some(day(-100)),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            earlier.courses_completed,
            earlier.technical_support_sessions
        ),
        (0, 0)
    );
}

/// SQLite refuses a statement with more than 32,766 parameters: a report
/// that bound one per consultation failed (INTERNAL) for any period that
/// held more. Seeded in one statement, straight into the tables: 40,000
/// consultations with one attendee each, 1,000 of them before the period.
async fn a_period_of_forty_thousand_consultations_is_counted(backend: Backend) {
    let w = world(backend).await;
    let db = w.app.app.db("capacity").expect("capacity's database");
    let mut tx = db.write(TENANT).await.unwrap();
    let seeded = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{seeded}
         INSERT INTO consultations (tenant_id, id, kind, topic_codes, organization_id,
            advisor_name, advisor_kind, branch_id, held_on, duration_minutes, notes,
            recorded_by, version, created_at, updated_at)
         SELECT $1, 'seeded-' || CAST(i AS TEXT),
            CASE WHEN i % 4 = 0 THEN $3 ELSE $2 END, '', '', 'مستشار', $4,
            CASE WHEN i % 2 = 0 THEN 'raqqa' ELSE 'deir-ez-zor' END,
            CASE WHEN i <= 1000 THEN '2023-12-31' ELSE '2024-06-01' END,
            60, '', 'seed', 1, 0, 0
         FROM n"
    )))
    .bind(TENANT)
    .bind(ConsultationKind::Consultation.as_str_name())
    .bind(ConsultationKind::TechnicalSupport.as_str_name())
    .bind(AdvisorKind::Staff.as_str_name())
    .execute(tx.conn())
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{seeded}
         INSERT INTO consultation_attendees (tenant_id, consultation_id, ordinal, person_id,
            gender, age_band)
         SELECT $1, 'seeded-' || CAST(i AS TEXT), 0, 'person-' || CAST(i AS TEXT),
            CASE WHEN i % 5 = 0 THEN $3 ELSE $2 END, $4
         FROM n"
    )))
    .bind(TENANT)
    .bind(Gender::Female.as_str_name())
    .bind(Gender::Male.as_str_name())
    .bind(AgeBand::Unspecified.as_str_name())
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let report = |from: Option<Date>, branch: &str| {
        let mut client = w.client.clone();
        let request = authed(
            api::GetActivityReportRequest {
                from,
                until: Some(KDate::parse("2024-12-31").unwrap().to_proto()),
                branch_id: branch.into(),
            },
            &w.staff,
        );
        async move { client.get_activity_report(request).await }
    };
    let from = Some(KDate::parse("2024-01-01").unwrap().to_proto());
    let period = report(from, "").await.unwrap().into_inner();
    // i = 1001..=40000: 39,000 held, every fourth technical support.
    assert_eq!(
        (period.consultations, period.technical_support_sessions),
        (29_250, 9_750)
    );
    // Every fifth attendee is a man.
    assert_eq!(
        counts(&period.consultation_attendees),
        (31_200, 7_800, 0, 39_000)
    );
    let branches: Vec<(String, i32, i32)> = period
        .by_branch
        .iter()
        .map(|b| {
            (
                b.branch_id.clone(),
                b.consultations,
                b.technical_support_sessions,
            )
        })
        .collect();
    assert_eq!(
        branches,
        [
            ("deir-ez-zor".to_string(), 19_500, 0),
            ("raqqa".to_string(), 9_750, 9_750)
        ]
    );
    let raqqa = report(from, "raqqa").await.unwrap().into_inner();
    assert_eq!(
        (raqqa.consultations, raqqa.technical_support_sessions),
        (9_750, 9_750)
    );
    let open = report(None, "").await.unwrap().into_inner();
    assert_eq!(open.consultations + open.technical_support_sessions, 40_000);
}

/// Migration 10 keeps each completed course's figures in a table of their
/// own. Courses completed before it are counted by the migration from the
/// same records: the report reads the same after the table is dropped and
/// the migration runs again.
async fn courses_completed_before_migration_10_are_counted_by_it(backend: Backend) {
    use sqlx::{Connection, Executor};
    let mut w = world(backend).await;
    let (course, ids) = running_course(
        &mut w,
        5,
        2,
        &[
            ("سلمى", Gender::Female),
            ("عمر", Gender::Male),
            ("ليلى", Gender::Female),
        ],
    )
    .await;
    let staff = w.staff.clone();
    use AttendanceStatus::{Absent, Present};
    let sheets = [[Present, Present, Absent], [Present, Absent, Absent]];
    for (session, sheet) in course.sessions.iter().zip(sheets) {
        let marks = ids.iter().zip(sheet).map(|(id, s)| mark(id, s)).collect();
        record(&mut w.client, &staff, &course.id, &session.id, marks, "")
            .await
            .unwrap();
    }
    complete(&mut w, &course.id).await.unwrap();
    let before = activity_report(&w).await;
    assert_eq!(before.courses_completed, 1);
    // Present at a session: Salma and Omar; Layla never came.
    assert_eq!(counts(&before.course_participants), (1, 1, 0, 2));

    // The database as it was before migration 10, with the course
    // completed: the figures' table and the index gone, the migration not
    // applied.
    let env = &w.app.env;
    let (url, schema) =
        markaz_kit::app::database_of(&env.config, &env.storage, markaz_capacity::NAME).unwrap();
    let mut owner = sqlx::AnyConnection::connect(&url).await.unwrap();
    if let Some(schema) = &schema {
        owner
            .execute(sqlx::AssertSqlSafe(format!(
                "SET search_path TO \"{schema}\""
            )))
            .await
            .unwrap();
    }
    owner.execute("DROP TABLE course_figures").await.unwrap();
    owner
        .execute("DROP INDEX certificates_by_course_revoked")
        .await
        .unwrap();
    owner
        .execute("DELETE FROM markaz_migrations WHERE scope = 'service' AND version = 10")
        .await
        .unwrap();
    owner.close().await.unwrap();
    markaz_kit::migrate::run_all(&url, schema.as_deref(), &[], markaz_capacity::MIGRATIONS)
        .await
        .unwrap();
    assert_eq!(activity_report(&w).await, before);
}
