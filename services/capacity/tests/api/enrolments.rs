//! Enrolments: places, the waiting list, who may join, what membership must have told.

use crate::world::*;

both_backends!(
    concurrent_enrolments_never_overbook_and_the_waiting_list_promotes_in_order,
    incubated_only_courses_refuse_everyone_else,
    enrolment_needs_what_membership_told,
    partners_enrol_their_own_members_and_see_only_their_own,
);

async fn concurrent_enrolments_never_overbook_and_the_waiting_list_promotes_in_order(
    backend: Backend,
) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(5, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let mut people = Vec::new();
    for i in 0..20 {
        let gender = if i % 2 == 0 {
            Gender::Female
        } else {
            Gender::Male
        };
        people.push(
            known_person(
                &w,
                TENANT,
                &format!("مشارك {i}"),
                gender,
                AgeBand::AgeBand1824,
                None,
            )
            .await,
        );
    }
    // Twenty people ask for five places at the same moment.
    let mut tasks = tokio::task::JoinSet::new();
    for person in &people {
        let mut client = w.client.clone();
        let (token, course_id, person) = (w.staff.clone(), course.id.clone(), person.clone());
        tasks.spawn(async move { enrol_as(&mut client, &token, &course_id, &person, "").await });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(
            r.unwrap()
                .expect("every request is answered with a place or a spot in line"),
        );
    }
    let placed = results
        .iter()
        .filter(|e| e.status == EnrolmentStatus::Enrolled as i32)
        .count();
    assert_eq!(placed, 5, "never over-booked");
    let enrolled = enrolments(&mut w, &course.id, EnrolmentStatus::Enrolled).await;
    let waiting = enrolments(&mut w, &course.id, EnrolmentStatus::Waitlisted).await;
    assert_eq!((enrolled.len(), waiting.len()), (5, 15));
    // The line is in order of arrival, positions 1 to 15, no gaps.
    assert_eq!(
        waiting
            .iter()
            .map(|e| e.waitlist_position)
            .collect::<Vec<_>>(),
        (1..=15).collect::<Vec<_>>()
    );
    let time = |e: &api::Enrolment| markaz_kit::time::micros_of(e.enrol_time.as_ref().unwrap());
    assert!(waiting.windows(2).all(|p| time(&p[0]) <= time(&p[1])));
    let last_placed = enrolled.iter().map(time).max().unwrap();
    assert!(waiting.iter().all(|e| time(e) >= last_placed));
    assert!(enrolled.iter().all(|e| e.waitlist_position == 0));
    let c = get_course(&mut w, &course.id).await;
    assert_eq!((c.enrolled_count, c.waitlisted_count), (5, 15));

    // A place freed goes to the first in line.
    let first = waiting[0].clone();
    cancel_enrolment(&mut w, &enrolled[0].id).await;
    let promoted = enrolment(&mut w, &first.id).await;
    assert_eq!(promoted.status, EnrolmentStatus::Enrolled as i32);
    assert_eq!(promoted.waitlist_position, 0);
    assert_eq!(enrolment(&mut w, &waiting[1].id).await.waitlist_position, 1);

    // Leaving the line frees no place.
    let left = cancel_enrolment(&mut w, &waiting[3].id).await;
    assert_eq!(left.status, EnrolmentStatus::Cancelled as i32);
    assert_eq!(enrolment(&mut w, &waiting[4].id).await.waitlist_position, 3);
    let c = get_course(&mut w, &course.id).await;
    assert_eq!((c.enrolled_count, c.waitlisted_count), (5, 13));
    // Cancelling again changes nothing.
    assert_eq!(
        cancel_enrolment(&mut w, &waiting[3].id).await.status,
        EnrolmentStatus::Cancelled as i32
    );

    // Two more places: the next two in line move up.
    w.client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    capacity: 7,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    for e in [&waiting[1], &waiting[2]] {
        assert_eq!(
            enrolment(&mut w, &e.id).await.status,
            EnrolmentStatus::Enrolled as i32
        );
    }
    assert_eq!(enrolment(&mut w, &waiting[4].id).await.waitlist_position, 1);
    let c = get_course(&mut w, &course.id).await;
    assert_eq!((c.enrolled_count, c.waitlisted_count), (7, 11));
    // The capacity cannot go below the places taken.
    let below = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    capacity: 6,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&below), "CAPACITY_BELOW_ENROLLED");

    // Nobody is in a course twice.
    let twice = enrol(&mut w, &course.id, &first.person_id, "")
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);

    // The bus heard of every enrolment and every promotion.
    let events = w.published::<ev::ParticipantEnrolled>().await;
    assert_eq!(events.len(), 20 + 3);
    assert_eq!(events.iter().filter(|e| !e.waitlisted).count(), 5 + 3);
    assert_eq!(w.published::<ev::EnrolmentCancelled>().await.len(), 2);
}

async fn incubated_only_courses_refuse_everyone_else(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::IncubatedOnly, 2)).await;
    open(&mut w, &course.id).await;
    let incubated = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let applicant = known_org(&w, TENANT, IncubationStatus::Applicant).await;
    let member = known_person(
        &w,
        TENANT,
        "ليلى",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&incubated),
    )
    .await;
    let hopeful = known_person(
        &w,
        TENANT,
        "خالد",
        Gender::Male,
        AgeBand::AgeBand3544,
        Some(&applicant),
    )
    .await;
    let individual = known_person(
        &w,
        TENANT,
        "سمر",
        Gender::Female,
        AgeBand::AgeBand1824,
        None,
    )
    .await;

    let ok = enrol(&mut w, &course.id, &member, &incubated)
        .await
        .unwrap();
    assert_eq!(ok.status, EnrolmentStatus::Enrolled as i32);
    assert_eq!(ok.organization_id, incubated);

    let refused = enrol(&mut w, &course.id, &hopeful, &applicant)
        .await
        .unwrap_err();
    assert_eq!(precondition(&refused), "INCUBATED_ONLY");
    assert!(
        refused.message().contains("applicant"),
        "{}",
        refused.message()
    );
    let alone = enrol(&mut w, &course.id, &individual, "")
        .await
        .unwrap_err();
    assert_eq!(precondition(&alone), "INCUBATED_ONLY");
    assert!(
        alone.message().contains("individual"),
        "{}",
        alone.message()
    );

    // The organization is incubated in membership: once the event is here,
    // its member gets in — no call to membership.
    w.membership(
        TENANT,
        ev::IncubationStatusChanged {
            organization_id: applicant.clone(),
            from: IncubationStatus::Applicant as i32,
            to: IncubationStatus::Incubated as i32,
            reason: "accepted".into(),
            changed_at: None,
            version: 2,
        },
    )
    .await;
    enrol(&mut w, &course.id, &hopeful, &applicant)
        .await
        .unwrap();

    // Graduated is no longer incubated.
    w.membership(
        TENANT,
        ev::IncubationStatusChanged {
            organization_id: applicant.clone(),
            from: IncubationStatus::Incubated as i32,
            to: IncubationStatus::Graduated as i32,
            reason: "plan completed".into(),
            changed_at: None,
            version: 3,
        },
    )
    .await;
    let colleague = known_person(
        &w,
        TENANT,
        "نور",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&applicant),
    )
    .await;
    let graduated = enrol(&mut w, &course.id, &colleague, &applicant)
        .await
        .unwrap_err();
    assert_eq!(precondition(&graduated), "INCUBATED_ONLY");

    // The audience is fixed once people enrolled.
    let change = w
        .client
        .update_course(authed(
            api::UpdateCourseRequest {
                course: Some(api::Course {
                    id: course.id.clone(),
                    audience: Audience::Open as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["audience".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&change), "AUDIENCE_FIXED");
    let e = w.published::<ev::CourseScheduled>().await;
    assert!(e[0].incubated_only);
}

async fn enrolment_needs_what_membership_told(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;

    // Registered in membership a moment ago, not arrived yet: refused, and
    // the message says why.
    let person = new_id();
    let early = enrol(&mut w, &course.id, &person, "").await.unwrap_err();
    assert_eq!(precondition(&early), "PERSON_NOT_KNOWN");
    assert!(early.message().contains("not known"), "{}", early.message());
    w.membership(
        TENANT,
        ev::PersonRegistered {
            person: Some(person_snapshot(
                &person,
                "هبة",
                Gender::Female,
                AgeBand::AgeBand2534,
                1,
            )),
        },
    )
    .await;
    let org = new_id();
    let unknown_org = enrol(&mut w, &course.id, &person, &org).await.unwrap_err();
    assert_eq!(precondition(&unknown_org), "ORGANIZATION_NOT_KNOWN");
    w.membership(
        TENANT,
        ev::OrganizationRegistered {
            organization: Some(org_snapshot(&org, IncubationStatus::None, 1)),
        },
    )
    .await;
    let stranger = enrol(&mut w, &course.id, &person, &org).await.unwrap_err();
    assert_eq!(precondition(&stranger), "NOT_AFFILIATED");
    let affiliation = affiliate(&w, TENANT, &person, &org).await;
    let e = enrol(&mut w, &course.id, &person, &org).await.unwrap();
    assert_eq!(e.participant_name, "هبة");
    assert_eq!(e.gender, Gender::Female as i32);
    assert_eq!(e.age_band, AgeBand::AgeBand2534 as i32);

    // An ended affiliation no longer counts.
    cancel_enrolment(&mut w, &e.id).await;
    w.membership(
        TENANT,
        ev::AffiliationEnded {
            affiliation_id: affiliation,
            person_id: person.clone(),
            organization_id: org.clone(),
        },
    )
    .await;
    let ended = enrol(&mut w, &course.id, &person, &org).await.unwrap_err();
    assert_eq!(precondition(&ended), "NOT_AFFILIATED");
    // As an individual, the person may come back.
    enrol(&mut w, &course.id, &person, "").await.unwrap();

    // An erased person cannot be enrolled again.
    let gone = known_person(
        &w,
        TENANT,
        "مجهول",
        Gender::Male,
        AgeBand::AgeBand4554,
        None,
    )
    .await;
    w.membership(
        TENANT,
        ev::PersonErased {
            person_id: gone.clone(),
            ..Default::default()
        },
    )
    .await;
    let erased = enrol(&mut w, &course.id, &gone, "").await.unwrap_err();
    assert_eq!(precondition(&erased), "PERSON_ERASED");

    let missing = enrol(&mut w, &new_id(), &person, "").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn partners_enrol_their_own_members_and_see_only_their_own(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    open(&mut w, &course.id).await;
    let ours = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let theirs = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let member = known_person(
        &w,
        TENANT,
        "عضو",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&ours),
    )
    .await;
    let outsider = known_person(
        &w,
        TENANT,
        "غريب",
        Gender::Male,
        AgeBand::AgeBand2534,
        Some(&theirs),
    )
    .await;
    let partner = w.token(&[Role::Partner], Some(&ours));

    // The partner's own organization is implied.
    let mine = enrol_as(&mut w.client, &partner, &course.id, &member, "")
        .await
        .unwrap();
    assert_eq!(mine.organization_id, ours);
    let not_ours = enrol_as(&mut w.client, &partner, &course.id, &outsider, "")
        .await
        .unwrap_err();
    assert_eq!(not_ours.code(), Code::NotFound);
    let other_org = enrol_as(&mut w.client, &partner, &course.id, &member, &theirs)
        .await
        .unwrap_err();
    assert_eq!(other_org.code(), Code::NotFound);
    let theirs_enrolment = enrol(&mut w, &course.id, &outsider, &theirs).await.unwrap();

    let partners = w
        .client
        .list_enrolments(authed(api::ListEnrolmentsRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    // The partner's total is of its own, the staff's of the course's two,
    // on the second page as on the first.
    assert_eq!(partners.total_size, 1);
    let by_one = |page_token: String| api::ListEnrolmentsRequest {
        course_id: course.id.clone(),
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let first = w
        .client
        .list_enrolments(authed(by_one(String::new()), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let second = w
        .client
        .list_enrolments(authed(by_one(first.next_page_token), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        [
            (first.enrolments.len(), first.total_size),
            (second.enrolments.len(), second.total_size)
        ],
        [(1, 2), (1, 2)]
    );
    assert!(!second.total_size_is_estimate);
    let listed = partners.enrolments;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, mine.id);
    let hidden = w
        .client
        .get_enrolment(authed(
            api::GetEnrolmentRequest {
                id: theirs_enrolment.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let cancel_theirs = w
        .client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: theirs_enrolment.id.clone(),
                reason: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel_theirs.code(), Code::NotFound);
    let withdrawn = w
        .client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: mine.id.clone(),
                reason: "سفر".into(),
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.status, EnrolmentStatus::Cancelled as i32);
    assert_eq!(withdrawn.cancel_reason, "سفر");

    // The course catalogue is open to partners; managing it is not.
    let courses = w
        .client
        .list_courses(authed(api::ListCoursesRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((courses.courses.len(), courses.total_size), (1, 1));
    let create = w
        .client
        .create_course(authed(
            api::CreateCourseRequest {
                course: Some(course_body(5, Audience::Open, 1)),
                request_id: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(create.code(), Code::PermissionDenied);

    // A partner token naming no organization sees nothing and enrols nobody.
    let nobody = w.token(&[Role::Partner], None);
    let refused = enrol_as(&mut w.client, &nobody, &course.id, &member, "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let none = w
        .client
        .list_enrolments(authed(api::ListEnrolmentsRequest::default(), &nobody))
        .await
        .unwrap()
        .into_inner();
    assert!(none.enrolments.is_empty());
    assert_eq!(none.total_size, 0);
}
