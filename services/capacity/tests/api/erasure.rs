//! An erased person: their name on no read path, in any script.

use crate::world::*;

both_backends!(
    an_erased_persons_name_is_on_no_read_path,
    erasure_finds_a_name_in_any_script,
);

async fn an_erased_persons_name_is_on_no_read_path(backend: Backend) {
    let mut w = world(backend).await;
    const NAME: &str = "فاطمة الزهراء";
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let fatima = known_person(
        &w,
        TENANT,
        NAME,
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&org),
    )
    .await;
    let omar = known_person(
        &w,
        TENANT,
        "عمر السيد",
        Gender::Male,
        AgeBand::AgeBand3544,
        Some(&org),
    )
    .await;
    let course = create_course(&mut w, course_body(5, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let enrol_fatima = api::EnrolParticipantRequest {
        course_id: course.id.clone(),
        person_id: fatima.clone(),
        organization_id: org.clone(),
        request_id: "enrol-fatima".into(),
    };
    let hers = w
        .client
        .enrol_participant(authed(enrol_fatima.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let his = enrol(&mut w, &course.id, &omar, &org).await.unwrap();
    start(&mut w, &course.id).await;
    let staff = w.staff.clone();
    let note = |id: &str, text: &str| api::AttendanceMark {
        enrolment_id: id.into(),
        status: AttendanceStatus::Present as i32,
        note: text.into(),
        ..Default::default()
    };
    // Staff write about her: on her own marks (a medical appointment), and
    // by name on someone else's.
    let day1 = vec![
        note(&hers.id, &format!("غادرت {NAME} مبكراً لموعد طبي")),
        note(&his.id, &format!("حضر مع {NAME}")),
    ];
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[0].id,
        day1.clone(),
        "day-1",
    )
    .await
    .unwrap();
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[0].id,
        vec![note(&hers.id, "موعد في المستشفى الوطني")],
        "",
    )
    .await
    .unwrap();
    record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[1].id,
        vec![note(&hers.id, ""), note(&his.id, "")],
        "",
    )
    .await
    .unwrap();
    complete(&mut w, &course.id).await.unwrap();
    // She left another course; the reason names her.
    let other = create_course(&mut w, course_body(5, Audience::Open, 1)).await;
    open(&mut w, &other.id).await;
    let left = enrol(&mut w, &other.id, &fatima, &org).await.unwrap();
    w.client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: left.id.clone(),
                reason: format!("انتقلت {NAME} إلى دير الزور"),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    // A consultation she attended, its notes and actions naming her.
    let consult = api::CreateConsultationRequest {
        consultation: Some(api::Consultation {
            kind: ConsultationKind::Consultation as i32,
            organization_id: org.clone(),
            attendee_person_ids: vec![fatima.clone(), omar.clone()],
            advisor: Some(api::Advisor {
                name: "مسؤولة بناء القدرات".into(),
                kind: AdvisorKind::Staff as i32,
            }),
            branch_id: "raqqa".into(),
            held_on: Some(day(-1)),
            duration_minutes: 90,
            notes: format!("ناقشنا مع {NAME} ومع عمر خطة المشروع؛ وفاطمة الزهراء ستتابع"),
            follow_up_actions: vec![api::FollowUpAction {
                description: format!("ترسل {NAME} الميزانية"),
                owner: NAME.into(),
                due_date: Some(day(10)),
                ..Default::default()
            }],
            ..Default::default()
        }),
        request_id: "consult-1".into(),
    };
    let consultation = w
        .client
        .create_consultation(authed(consult.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    // She suggested a training on the public page, signing with her name.
    w.client
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: TENANT.into(),
            suggestion: Some(api::TrainingSuggestion {
                title: "إدارة المتطوعين".into(),
                suggested_by: NAME.into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap();
    // And asked for a consultation, signing with her name and her
    // organization's.
    w.client
        .request_consultation(tonic::Request::new(api::RequestConsultationRequest {
            tenant_id: TENANT.into(),
            request: Some(api::ConsultationRequest {
                requester_name: NAME.into(),
                contact: "fatima@example.org".into(),
                organization_name: format!("مبادرة {NAME}"),
                description: "إعداد الميزانية".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap();
    let before_report = report(&mut w, &course.id).await;
    let before_activity = activity_report(&w).await;

    // She asks membership to forget her.
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: fatima.clone(),
            ..Default::default()
        },
    )
    .await;

    // Every read path, and every retry of a request that once answered
    // with her name, as the API answers it now.
    let mut seen: Vec<String> = Vec::new();
    let mut c = w.client.clone();
    let s = &w.staff;
    seen.push(format!(
        "{:?}",
        c.get_enrolment(authed(
            api::GetEnrolmentRequest {
                id: hers.id.clone()
            },
            s
        ))
        .await
    ));
    seen.push(format!(
        "{:?}",
        c.get_enrolment(authed(
            api::GetEnrolmentRequest {
                id: left.id.clone()
            },
            s
        ))
        .await
    ));
    seen.push(format!(
        "{:?}",
        c.list_enrolments(authed(api::ListEnrolmentsRequest::default(), s))
            .await
    ));
    seen.push(format!(
        "{:?}",
        c.enrol_participant(authed(enrol_fatima, s)).await
    ));
    for session in &course.sessions {
        seen.push(format!(
            "{:?}",
            c.get_session_attendance(authed(
                api::GetSessionAttendanceRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                },
                s
            ))
            .await
        ));
        seen.push(format!(
            "{:?}",
            c.list_attendance_revisions(authed(
                api::ListAttendanceRevisionsRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                    ..Default::default()
                },
                s
            ))
            .await
        ));
    }
    seen.push(format!(
        "{:?}",
        record(&mut c, s, &course.id, &course.sessions[0].id, day1, "day-1").await
    ));
    let certificates = c
        .list_certificates(authed(api::ListCertificatesRequest::default(), s))
        .await
        .unwrap()
        .into_inner();
    for cert in &certificates.certificates {
        seen.push(format!(
            "{:?}",
            c.verify_certificate(tonic::Request::new(api::VerifyCertificateRequest {
                code: cert.code.clone()
            }))
            .await
        ));
    }
    seen.push(format!("{certificates:?}"));
    seen.push(format!(
        "{:?}",
        c.get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone()
            },
            s
        ))
        .await
    ));
    seen.push(format!(
        "{:?}",
        c.list_consultations(authed(api::ListConsultationsRequest::default(), s))
            .await
    ));
    seen.push(format!(
        "{:?}",
        c.list_follow_up_actions(authed(
            api::ListFollowUpActionsRequest {
                include_done: true,
                ..Default::default()
            },
            s
        ))
        .await
    ));
    seen.push(format!(
        "{:?}",
        c.create_consultation(authed(consult, s)).await
    ));
    let suggestions = c
        .list_training_suggestions(authed(api::ListTrainingSuggestionsRequest::default(), s))
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    assert_eq!(suggestions[0].suggested_by, "[erased]");
    seen.push(format!("{suggestions:?}"));
    let requests = c
        .list_consultation_requests(authed(api::ListConsultationRequestsRequest::default(), s))
        .await
        .unwrap()
        .into_inner()
        .requests;
    assert_eq!(requests[0].requester_name, "[erased]");
    assert_eq!(requests[0].organization_name, "مبادرة [erased]");
    seen.push(format!("{requests:?}"));
    seen.push(format!("{:?}", report(&mut w, &course.id).await));
    for (i, text) in seen.iter().enumerate() {
        assert!(!text.contains("فاطمة"), "read {i} still names her: {text}");
    }

    // What was about her is gone; what others did is kept, her name cut out
    // of it; her attendance stays.
    let sheet = w
        .client
        .get_session_attendance(authed(
            api::GetSessionAttendanceRequest {
                course_id: course.id.clone(),
                session_id: course.sessions[0].id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let of = |id: &str| sheet.marks.iter().find(|m| m.enrolment_id == id).unwrap();
    assert_eq!(of(&hers.id).note, "");
    assert_eq!(of(&hers.id).status, AttendanceStatus::Present as i32);
    assert_eq!(of(&his.id).note, "حضر مع [erased]");
    assert_eq!(of(&his.id).participant_name, "عمر السيد");
    let kept = w
        .client
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        kept.notes,
        "ناقشنا مع [erased] ومع عمر خطة المشروع؛ و[erased] ستتابع"
    );
    assert_eq!(kept.follow_up_actions[0].owner, "[erased]");
    assert_eq!(kept.attendee_person_ids, [fatima.clone(), omar.clone()]);
    assert_ne!(kept.etag, consultation.etag, "the change shows in the etag");
    assert_eq!(counts(&kept.attendees_by_gender), (1, 1, 0, 2));
    // The figures do not move.
    assert_eq!(report(&mut w, &course.id).await, before_report);
    assert_eq!(activity_report(&w).await, before_activity);
}

async fn erasure_finds_a_name_in_any_script(backend: Backend) {
    let mut w = world(backend).await;
    let name = "Şêrîn Kobanî";
    let her = known_person(&w, TENANT, name, Gender::Female, AgeBand::AgeBand1824, None).await;
    let consultation = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(api::Consultation {
                    kind: ConsultationKind::TechnicalSupport as i32,
                    attendee_person_ids: vec![her.clone()],
                    advisor: Some(api::Advisor {
                        name: "External expert".into(),
                        kind: AdvisorKind::ExternalExpert as i32,
                    }),
                    branch_id: "kobani".into(),
                    held_on: Some(day(-1)),
                    duration_minutes: 45,
                    notes: format!("Met {name} about the budget; ŞÊRÎN KOBANÎ will send it."),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: her.clone(),
            ..Default::default()
        },
    )
    .await;
    let kept = w
        .client
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    // Her name as written goes, and so does the same name in capitals:
    // the matcher reads Latin letters without case or accent.
    assert_eq!(
        kept.notes,
        "Met [erased] about the budget; [erased] will send it."
    );
}
