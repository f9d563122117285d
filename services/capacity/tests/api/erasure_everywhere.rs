//! Erasure everywhere (issue 9): one person written, in every spelling a
//! matcher should know, into every free-text field capacity's API takes —
//! the list comes from the proto descriptors (`Coverage`), so a field added
//! later fails here until it is covered — then erased. Afterwards no read
//! and no retried create returns anything of them, no table (read directly)
//! holds anything of them, and the figures by gender and age band have not
//! moved.

use markaz_kit::testing::erasure::{
    Coverage, EMAIL, FULL_NAME, PHONE, SPELLINGS, erased_event, leaks, mention, message_leaks,
    table_leaks,
};

use crate::world::*;

both_backends!(nothing_of_an_erased_person_is_left_anywhere);

const SERVICE: &str = "markaz.capacity.v1.CapacityService";

/// The string fields of capacity's requests that hold no prose.
const EXEMPT: &[&str] = &[
    // A topic's code is its id, a slug (lowercase letters, digits, '-'):
    // no name can be written in it.
    "Topic.code",
    "GetTopicRequest.code",
    // Lists of topic codes, the same slugs.
    "Course.topic_codes",
    "Consultation.topic_codes",
    "TrainingSuggestion.topic_codes",
    "ConsultationRequest.topic_codes",
    // Filters: matched against what is stored, never stored themselves.
    "ListCoursesRequest.topic_code",
    "ListCoursesRequest.trainer_subject",
    // A certificate's code is issued by the service (the center and twelve
    // random characters); a caller only looks it up.
    "VerifyCertificateRequest.code",
];

/// Mentions of the person, each in the next spelling. A spelling the API
/// refuses everywhere (bidi isolates are suspicious text to
/// `markaz_kit::validate`) cannot reach a table; it is skipped here and its
/// refusal checked once.
#[derive(Default)]
struct Say(usize);

impl Say {
    fn next(&mut self) -> String {
        loop {
            let i = self.0;
            self.0 += 1;
            if markaz_kit::validate::suspicious(SPELLINGS[i % SPELLINGS.len()]).is_none() {
                return mention(i);
            }
        }
    }

    fn localized(&mut self) -> Option<LocalizedText> {
        Some(LocalizedText {
            ar: self.next(),
            en: self.next(),
        })
    }
}

/// What a retry or a refusal says must not name the person either.
fn status_leaks(s: &Status) -> bool {
    leaks(s.message()) || markaz_kit::testing::erasure::bytes_leak(s.details())
}

/// An answer, read after the erasure: nothing of the person in it.
fn clean<M: Message + std::fmt::Debug>(what: &str, answer: Result<tonic::Response<M>, Status>) {
    match answer {
        Ok(r) => {
            let m = r.into_inner();
            assert!(!message_leaks(&m), "{what} still holds the person: {m:?}");
        }
        Err(s) => assert!(!status_leaks(&s), "{what} refused naming the person: {s:?}"),
    }
}

async fn nothing_of_an_erased_person_is_left_anywhere(backend: Backend) {
    let mut w = world(backend).await;
    let mut c = w.client.clone();
    let staff = w.staff.clone();
    let s = staff.as_str();
    let mut say = Say::default();
    let mut coverage = Coverage::default();

    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let nadia = known_person(
        &w,
        TENANT,
        FULL_NAME,
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

    // --- topics
    let create_topic = api::CreateTopicRequest {
        topic: Some(api::Topic {
            code: "erasure-drill".into(),
            name: say.localized(),
            description: say.localized(),
            capacity_domains: vec![CapacityDomain::Governance as i32],
            ..Default::default()
        }),
    };
    coverage.note(&create_topic);
    let topic = c
        .create_topic(authed(create_topic, s))
        .await
        .unwrap()
        .into_inner();
    let update_topic = api::UpdateTopicRequest {
        topic: Some(api::Topic {
            name: say.localized(),
            description: say.localized(),
            ..topic.clone()
        }),
        update_mask: None,
    };
    coverage.note(&update_topic);
    c.update_topic(authed(update_topic, s)).await.unwrap();

    // --- a course both attend, every text of it naming her
    let mut body = course_body(5, Audience::Open, 2);
    body.title = say.localized();
    body.description = say.localized();
    body.venue = say.next();
    body.trainers = vec![api::Trainer {
        name: say.next(),
        // A trainer's account is often their e-mail.
        subject: EMAIL.into(),
        external: true,
    }];
    // Output only: sent anyway, it must not be kept.
    body.cancel_reason = say.next();
    let create_a = api::CreateCourseRequest {
        course: Some(body),
        request_id: "course-a".into(),
    };
    coverage.note(&create_a);
    let course = c
        .create_course(authed(create_a.clone(), s))
        .await
        .unwrap()
        .into_inner();
    let update_course = api::UpdateCourseRequest {
        course: Some(api::Course {
            title: say.localized(),
            venue: say.next(),
            trainers: vec![api::Trainer {
                name: say.next(),
                subject: EMAIL.into(),
                external: true,
            }],
            ..course.clone()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into(), "venue".into(), "trainers".into()],
        }),
    };
    coverage.note(&update_course);
    c.update_course(authed(update_course, s)).await.unwrap();
    open(&mut w, &course.id).await;
    let enrol_nadia = api::EnrolParticipantRequest {
        course_id: course.id.clone(),
        person_id: nadia.clone(),
        organization_id: org.clone(),
        request_id: "enrol-nadia".into(),
    };
    let hers = c
        .enrol_participant(authed(enrol_nadia.clone(), s))
        .await
        .unwrap()
        .into_inner();
    let his = enrol(&mut w, &course.id, &omar, &org).await.unwrap();
    start(&mut w, &course.id).await;
    let noted = |say: &mut Say, enrolment: &str| api::AttendanceMark {
        enrolment_id: enrolment.into(),
        status: AttendanceStatus::Present as i32,
        note: say.next(),
        // Output only.
        participant_name: say.next(),
        recorded_by: say.next(),
        ..Default::default()
    };
    let day1 = api::RecordAttendanceRequest {
        course_id: course.id.clone(),
        session_id: course.sessions[0].id.clone(),
        marks: vec![noted(&mut say, &hers.id), noted(&mut say, &his.id)],
        request_id: "marks-day-1".into(),
    };
    coverage.note(&day1);
    c.record_attendance(authed(day1.clone(), s)).await.unwrap();
    // A correction: the first note stays in the revisions.
    let correction = api::RecordAttendanceRequest {
        marks: vec![noted(&mut say, &his.id)],
        request_id: String::new(),
        ..day1.clone()
    };
    coverage.note(&correction);
    c.record_attendance(authed(correction, s)).await.unwrap();
    record(
        &mut c,
        s,
        &course.id,
        &course.sessions[1].id,
        vec![
            mark(&hers.id, AttendanceStatus::Present),
            mark(&his.id, AttendanceStatus::Present),
        ],
        "",
    )
    .await
    .unwrap();
    for (kind, score) in [(TestKind::Pre, 40), (TestKind::Post, 80)] {
        c.record_test_scores(authed(
            api::RecordTestScoresRequest {
                course_id: course.id.clone(),
                kind: kind as i32,
                scores: vec![
                    api::TestScore {
                        enrolment_id: hers.id.clone(),
                        score,
                    },
                    api::TestScore {
                        enrolment_id: his.id.clone(),
                        score: score - 10,
                    },
                ],
            },
            s,
        ))
        .await
        .unwrap();
    }
    complete(&mut w, &course.id).await.unwrap();
    let certificates = c
        .list_certificates(authed(
            api::ListCertificatesRequest {
                course_id: course.id.clone(),
                ..Default::default()
            },
            s,
        ))
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert_eq!(certificates.len(), 2);
    let his_certificate = certificates
        .iter()
        .find(|c| c.person_id == omar)
        .unwrap()
        .clone();
    let revoke = api::RevokeCertificateRequest {
        id: his_certificate.id.clone(),
        reason: say.next(),
    };
    coverage.note(&revoke);
    c.revoke_certificate(authed(revoke, s)).await.unwrap();

    // --- a course he left and that was cancelled, the reasons naming her
    let other = create_course(&mut w, course_body(5, Audience::Open, 1)).await;
    open(&mut w, &other.id).await;
    let left = enrol(&mut w, &other.id, &omar, &org).await.unwrap();
    let cancel_enrolment = api::CancelEnrolmentRequest {
        id: left.id.clone(),
        reason: say.next(),
    };
    coverage.note(&cancel_enrolment);
    c.cancel_enrolment(authed(cancel_enrolment, s))
        .await
        .unwrap();
    let cancel_course = api::CancelCourseRequest {
        id: other.id.clone(),
        reason: say.next(),
        etag: String::new(),
    };
    coverage.note(&cancel_course);
    c.cancel_course(authed(cancel_course, s)).await.unwrap();

    // --- a consultation both attended
    let action = |say: &mut Say| api::FollowUpAction {
        description: say.next(),
        owner: say.next(),
        due_date: Some(day(10)),
        ..Default::default()
    };
    let create_consultation = api::CreateConsultationRequest {
        consultation: Some(api::Consultation {
            kind: ConsultationKind::Consultation as i32,
            organization_id: org.clone(),
            attendee_person_ids: vec![nadia.clone(), omar.clone()],
            advisor: Some(api::Advisor {
                name: say.next(),
                kind: AdvisorKind::ExternalExpert as i32,
            }),
            branch_id: "raqqa".into(),
            held_on: Some(day(-1)),
            duration_minutes: 60,
            notes: say.next(),
            follow_up_actions: vec![action(&mut say), action(&mut say)],
            // Output only.
            recorded_by: say.next(),
            ..Default::default()
        }),
        request_id: "consult-1".into(),
    };
    coverage.note(&create_consultation);
    let consultation = c
        .create_consultation(authed(create_consultation.clone(), s))
        .await
        .unwrap()
        .into_inner();
    let mut kept = consultation.follow_up_actions[0].clone();
    kept.description = say.next();
    let update_consultation = api::UpdateConsultationRequest {
        consultation: Some(api::Consultation {
            notes: say.next(),
            follow_up_actions: vec![kept, action(&mut say)],
            ..consultation.clone()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["notes".into(), "follow_up_actions".into()],
        }),
    };
    coverage.note(&update_consultation);
    c.update_consultation(authed(update_consultation, s))
        .await
        .unwrap();
    // The one spelling no field takes.
    let hidden = SPELLINGS
        .iter()
        .position(|t| markaz_kit::validate::suspicious(t).is_some())
        .expect("a spelling with bidi controls");
    let refused = c
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(api::Consultation {
                    notes: mention(hidden),
                    ..create_consultation.consultation.clone().unwrap()
                }),
                request_id: String::new(),
            },
            s,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&refused), ["consultation.notes"]);

    // --- suggestions from the public: she signs one with her e-mail,
    // another with her phone
    let mut suggestion_ids = Vec::new();
    for contact in [EMAIL, PHONE] {
        let suggest = api::SuggestTrainingRequest {
            tenant_id: TENANT.into(),
            suggestion: Some(api::TrainingSuggestion {
                title: say.next(),
                description: say.next(),
                suggested_by: say.next(),
                contact: contact.into(),
                // Output only.
                triage_note: say.next(),
                triaged_by: say.next(),
                ..Default::default()
            }),
        };
        coverage.note(&suggest);
        let receipt = c
            .suggest_training(tonic::Request::new(suggest))
            .await
            .unwrap()
            .into_inner();
        suggestion_ids.push(receipt.id);
    }
    let triage = api::TriageTrainingSuggestionRequest {
        id: suggestion_ids[0].clone(),
        status: SuggestionStatus::Accepted as i32,
        note: say.next(),
        course_id: String::new(),
        etag: String::new(),
    };
    coverage.note(&triage);
    c.triage_training_suggestion(authed(triage, s))
        .await
        .unwrap();

    // --- consultation requests from the public: she asks for one by
    // e-mail, another by phone, writing her name everywhere
    let mut request_ids = Vec::new();
    for contact in [EMAIL, PHONE] {
        let request = api::RequestConsultationRequest {
            tenant_id: TENANT.into(),
            request: Some(api::ConsultationRequest {
                requester_name: say.next(),
                contact: contact.into(),
                organization_name: say.next(),
                description: say.next(),
                // Output only.
                triage_note: say.next(),
                triaged_by: say.next(),
                ..Default::default()
            }),
        };
        coverage.note(&request);
        let receipt = c
            .request_consultation(tonic::Request::new(request))
            .await
            .unwrap()
            .into_inner();
        request_ids.push(receipt.id);
    }
    let triage = api::TriageConsultationRequestRequest {
        id: request_ids[0].clone(),
        status: ConsultationRequestStatus::Accepted as i32,
        note: say.next(),
        consultation_id: String::new(),
        etag: String::new(),
    };
    coverage.note(&triage);
    c.triage_consultation_request(authed(triage, s))
        .await
        .unwrap();

    // --- an assessment of her organization, for the recommendations
    w.membership(
        TENANT,
        ev::AssessmentCompleted {
            assessment_id: new_id(),
            organization_id: org.clone(),
            assessed_on: Some(day(-3)),
            scores: vec![ev::DomainScore {
                domain: CapacityDomain::Governance as i32,
                score: 2,
            }],
        },
    )
    .await;

    assert!(
        say.0 >= SPELLINGS.len(),
        "every spelling written somewhere ({} mentions)",
        say.0
    );
    eprintln!("DEBUG all {:?}", Coverage::default().missing(SERVICE, &[]));
    eprintln!("DEBUG notexempt {:?}", coverage.missing(SERVICE, &[]));
    let missing = coverage.missing(SERVICE, EXEMPT);
    assert!(
        missing.is_empty(),
        "free-text fields no request filled: {missing:?}"
    );

    // The figures, before.
    let activity = |c: &Client| {
        let mut c = c.clone();
        let s = staff.clone();
        async move {
            c.get_activity_report(authed(api::GetActivityReportRequest::default(), &s))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let activity_before = activity(&c).await;
    let report_before = report(&mut w, &course.id).await;
    assert_eq!(counts(&activity_before.course_participants), (1, 1, 0, 2));
    assert_eq!(
        counts(&activity_before.consultation_attendees),
        (1, 1, 0, 2)
    );

    // The objects as a client read them before: their etags.
    let topic_before = c
        .get_topic(authed(
            api::GetTopicRequest {
                code: topic.code.clone(),
            },
            s,
        ))
        .await
        .unwrap()
        .into_inner();
    let course_before = get_course(&mut w, &course.id).await;
    let consultation_before = c
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            s,
        ))
        .await
        .unwrap()
        .into_inner();

    // --- she is erased
    let erased = w
        .membership(
            TENANT,
            erased_event(
                &nadia,
                &new_id(),
                Gender::Female,
                AgeBand::AgeBand2534,
                "raqqa",
            ),
        )
        .await;
    assert_eq!(erased, Applied::Applied);

    // Every read of what was created.
    clean(
        "GetTopic",
        c.get_topic(authed(
            api::GetTopicRequest {
                code: topic.code.clone(),
            },
            s,
        ))
        .await,
    );
    clean(
        "ListTopics",
        c.list_topics(authed(
            api::ListTopicsRequest {
                page_size: 100,
                include_archived: true,
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    for id in [&course.id, &other.id] {
        clean(
            "GetCourse",
            c.get_course(authed(api::GetCourseRequest { id: id.clone() }, s))
                .await,
        );
    }
    clean(
        "ListCourses",
        c.list_courses(authed(api::ListCoursesRequest::default(), s))
            .await,
    );
    for id in [&hers.id, &his.id, &left.id] {
        clean(
            "GetEnrolment",
            c.get_enrolment(authed(api::GetEnrolmentRequest { id: id.clone() }, s))
                .await,
        );
    }
    clean(
        "ListEnrolments",
        c.list_enrolments(authed(api::ListEnrolmentsRequest::default(), s))
            .await,
    );
    for session in &course.sessions {
        clean(
            "GetSessionAttendance",
            c.get_session_attendance(authed(
                api::GetSessionAttendanceRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                },
                s,
            ))
            .await,
        );
        clean(
            "ListAttendanceRevisions",
            c.list_attendance_revisions(authed(
                api::ListAttendanceRevisionsRequest {
                    course_id: course.id.clone(),
                    session_id: session.id.clone(),
                    ..Default::default()
                },
                s,
            ))
            .await,
        );
    }
    clean(
        "ListCertificates",
        c.list_certificates(authed(api::ListCertificatesRequest::default(), s))
            .await,
    );
    for certificate in &certificates {
        clean(
            "VerifyCertificate",
            c.verify_certificate(tonic::Request::new(api::VerifyCertificateRequest {
                code: certificate.code.clone(),
            }))
            .await,
        );
    }
    clean(
        "GetConsultation",
        c.get_consultation(authed(
            api::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            s,
        ))
        .await,
    );
    clean(
        "ListConsultations",
        c.list_consultations(authed(api::ListConsultationsRequest::default(), s))
            .await,
    );
    clean(
        "ListFollowUpActions",
        c.list_follow_up_actions(authed(
            api::ListFollowUpActionsRequest {
                include_done: true,
                ..Default::default()
            },
            s,
        ))
        .await,
    );
    clean(
        "ListTrainingSuggestions",
        c.list_training_suggestions(authed(api::ListTrainingSuggestionsRequest::default(), s))
            .await,
    );
    clean(
        "ListConsultationRequests",
        c.list_consultation_requests(authed(api::ListConsultationRequestsRequest::default(), s))
            .await,
    );
    clean(
        "RecommendCourses",
        c.recommend_courses(authed(
            api::RecommendCoursesRequest {
                organization_id: org.clone(),
                max_results: 50,
            },
            s,
        ))
        .await,
    );
    clean(
        "GetCourseReport",
        c.get_course_report(authed(
            api::GetCourseReportRequest {
                course_id: course.id.clone(),
            },
            s,
        ))
        .await,
    );

    // Retries of creates whose first answer held her: refused (the stored
    // answer is a tombstone), never answered with her.
    let retried = c.create_course(authed(create_a, s)).await.unwrap_err();
    assert_eq!(precondition(&retried), "REQUEST_ERASED");
    clean(
        "CreateCourse retried",
        Err::<tonic::Response<api::Course>, _>(retried),
    );
    clean(
        "EnrolParticipant retried",
        c.enrol_participant(authed(enrol_nadia, s)).await,
    );
    clean(
        "RecordAttendance retried",
        c.record_attendance(authed(day1, s)).await,
    );
    clean(
        "CreateConsultation retried",
        c.create_consultation(authed(create_consultation, s)).await,
    );

    // What the sweep rewrote changed its etag: a client still holding the
    // copy from before cannot write her back with it.
    let topic_after = c
        .get_topic(authed(
            api::GetTopicRequest {
                code: topic.code.clone(),
            },
            s,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(topic_after.etag, topic_before.etag);
    assert_ne!(
        get_course(&mut w, &course.id).await.etag,
        course_before.etag
    );
    let stale = c
        .update_consultation(authed(
            api::UpdateConsultationRequest {
                consultation: Some(consultation_before),
                update_mask: None,
            },
            s,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    // The tables, read directly: the service's and the platform's.
    let db = w.app.env.db("capacity").await.unwrap();
    let leaked = table_leaks(&db, TENANT).await;
    assert!(leaked.is_empty(), "still holding the person: {leaked:?}");

    // The figures have not moved.
    assert_eq!(activity(&c).await, activity_before);
    assert_eq!(report(&mut w, &course.id).await, report_before);
}
