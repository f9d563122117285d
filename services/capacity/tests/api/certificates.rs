//! Certificates: issued by the completion rule, verified by anyone.

use crate::world::*;

both_backends!(completion_follows_the_rule_and_certificates_verify_publicly,);

async fn completion_follows_the_rule_and_certificates_verify_publicly(backend: Backend) {
    let mut w = world(backend).await;
    let course = create_course(&mut w, course_body(10, Audience::Open, 5)).await;
    open(&mut w, &course.id).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    // Present at 5, 4, 3 and 0 of the 5 days.
    let people = [
        ("آمنة", Gender::Female, 5),
        ("بشير", Gender::Male, 4),
        ("جميلة", Gender::Female, 3),
        ("داود", Gender::Male, 0),
    ];
    let mut ids = Vec::new();
    for (name, gender, _) in people {
        let p = known_person(&w, TENANT, name, gender, AgeBand::AgeBand2534, Some(&org)).await;
        ids.push(enrol(&mut w, &course.id, &p, &org).await.unwrap().id);
    }
    start(&mut w, &course.id).await;
    let staff = w.staff.clone();
    for (i, session) in course.sessions.iter().enumerate() {
        let marks = people
            .iter()
            .zip(&ids)
            .map(|((_, _, present), id)| {
                mark(
                    id,
                    if (i as i32) < *present {
                        AttendanceStatus::Present
                    } else {
                        AttendanceStatus::Absent
                    },
                )
            })
            .collect();
        record(&mut w.client, &staff, &course.id, &session.id, marks, "")
            .await
            .unwrap();
    }
    let done = complete(&mut w, &course.id).await.unwrap();
    assert_eq!(done.status, CourseStatus::Completed as i32);

    let certificates = w
        .client
        .list_certificates(authed(
            api::ListCertificatesRequest {
                course_id: course.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (certificates.total_size, certificates.total_size_is_estimate),
        (2, false)
    );
    let certificates = certificates.certificates;
    let issued: Vec<(String, i32)> = certificates
        .iter()
        .map(|c| (c.participant_name.clone(), c.attendance_percent))
        .collect();
    assert_eq!(
        issued,
        [("آمنة".to_string(), 100), ("بشير".to_string(), 80)]
    );
    assert!(
        certificates
            .iter()
            .all(|c| c.code.starts_with("RAQQA-CSC-"))
    );
    let first = enrolment(&mut w, &ids[0]).await;
    assert!(first.completed);
    assert_eq!(first.certificate_code, certificates[0].code);
    let third = enrolment(&mut w, &ids[2]).await;
    assert!(!third.completed && third.certificate_code.is_empty());
    assert_eq!(third.sessions_present, 3);

    // Anyone can check a certificate: no token at all.
    let public = w.client.clone();
    let verify = |code: &str| {
        let mut client = public.clone();
        let code = code.to_string();
        async move {
            client
                .verify_certificate(tonic::Request::new(api::VerifyCertificateRequest { code }))
                .await
                .map(|r| r.into_inner())
        }
    };
    let genuine = verify(&certificates[0].code).await.unwrap();
    assert!(genuine.valid && !genuine.revoked);
    assert_eq!(genuine.participant_name, "آمنة");
    assert_eq!(genuine.center, TENANT);
    assert_eq!(genuine.course_title, course.title);
    assert_eq!(genuine.end_date, course.end_date);
    let typed = format!("  {} ", certificates[0].code.to_lowercase());
    assert_eq!(verify(&typed).await.unwrap().code, certificates[0].code);
    let random = certificates[0].code.rsplitn(4, '-').collect::<Vec<_>>();
    let unknown = verify(&format!("RAQQA-CSC-{}-{}-0000", random[2], random[1]))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let elsewhere = verify(&certificates[0].code.replace("RAQQA-CSC", "DEIR-CSC"))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);
    let garbage = verify("not a code").await.unwrap_err();
    assert_eq!(garbage.code(), Code::InvalidArgument);

    // A certificate issued in error is revoked; verification says so.
    let revoke = api::RevokeCertificateRequest {
        id: certificates[1].id.clone(),
        reason: "خطأ في سجل الحضور".into(),
    };
    let revoked = w
        .client
        .revoke_certificate(authed(revoke.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.revoked);
    let check = verify(&certificates[1].code).await.unwrap();
    assert!(!check.valid && check.revoked);
    let twice = w
        .client
        .revoke_certificate(authed(revoke, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice), "CERTIFICATE_REVOKED");

    // What the bus heard: who took part and who completed, by gender.
    let completed = w.published::<ev::CourseCompleted>().await;
    assert_eq!(completed.len(), 1);
    let c = &completed[0];
    assert_eq!(
        (
            c.participants_female,
            c.participants_male,
            c.participants_undisclosed
        ),
        (2, 1, 0)
    );
    assert_eq!((c.completed_female, c.completed_male), (1, 1));
    assert_eq!(c.completers.len(), 2);
    assert_eq!(c.completers[0].organization_id, org);
    assert_eq!(c.topic_codes, ["proposal-writing"]);
    let issued = w.published::<ev::CertificateIssued>().await;
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[0].code, certificates[0].code);
    assert_eq!(w.published::<ev::CertificateRevoked>().await.len(), 1);

    let r = report(&mut w, &course.id).await;
    assert_eq!(counts(&r.completed), (1, 1, 0, 2));
    assert_eq!(r.certificates_issued, 1, "the revoked one no longer counts");

    // A completed course is closed.
    let late = record(
        &mut w.client,
        &staff,
        &course.id,
        &course.sessions[0].id,
        vec![mark(&ids[3], AttendanceStatus::Present)],
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(precondition(&late), "COURSE_NOT_RUNNING");
    let leave = w
        .client
        .cancel_enrolment(authed(
            api::CancelEnrolmentRequest {
                id: ids[3].clone(),
                reason: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&leave), "COURSE_CLOSED");
    // A partner sees its own organization's certificates.
    let partner = w.token(&[Role::Partner], Some(&org));
    let theirs = w
        .client
        .list_certificates(authed(api::ListCertificatesRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((theirs.certificates.len(), theirs.total_size), (2, 2));
    let by_one = |page_token: String| api::ListCertificatesRequest {
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let first = w
        .client
        .list_certificates(authed(by_one(String::new()), &partner))
        .await
        .unwrap()
        .into_inner();
    let second = w
        .client
        .list_certificates(authed(by_one(first.next_page_token), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second.certificates.len(), second.total_size), (1, 2));
    let elsewhere = w.token(&[Role::Partner], Some(&new_id()));
    let none = w
        .client
        .list_certificates(authed(api::ListCertificatesRequest::default(), &elsewhere))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(none.total_size, 0);
}
