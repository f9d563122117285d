//! Requests for a consultation from the public, within their limits, and
//! their triage: the requester's name and contact are kept only until then.

use markaz_capacity::store::public_contacts::CONSULTATION_REQUESTS as ContactRetention;
use markaz_kit::config::RetentionConfig;
use markaz_kit::retention::Purge;
use markaz_proto::capacity::v1::ConsultationRequestStatus as RequestStatus;

use crate::world::*;

both_backends!(
    consultation_requests_need_no_account_but_are_limited,
    triage_clears_the_requester_and_links_the_consultation,
    an_untriaged_requesters_contact_goes_after_the_retention_period,
);

const DAY: i64 = 24 * 3600 * 1_000_000;

fn asking() -> api::ConsultationRequest {
    api::ConsultationRequest {
        requester_name: "هدى الخلف".into(),
        contact: "huda@example.org".into(),
        organization_name: "جمعية نساء الفرات".into(),
        kind: ConsultationKind::TechnicalSupport as i32,
        topic_codes: vec!["financial-management".into()],
        description: "نحتاج مساعدة في إعداد أول ميزانية سنوية للجمعية".into(),
        ..Default::default()
    }
}

/// A request sent from the public page: no token.
async fn ask(
    client: &Client,
    tenant: &str,
    request: api::ConsultationRequest,
) -> Result<api::RequestConsultationResponse, Status> {
    client
        .clone()
        .request_consultation(tonic::Request::new(api::RequestConsultationRequest {
            tenant_id: tenant.into(),
            request: Some(request),
        }))
        .await
        .map(|r| r.into_inner())
}

async fn listed(w: &World, status: RequestStatus) -> api::ListConsultationRequestsResponse {
    w.client
        .clone()
        .list_consultation_requests(authed(
            api::ListConsultationRequestsRequest {
                status: status as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// The center's staff are at work: it is known from now on.
async fn center_known(w: &World) {
    w.client
        .clone()
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap();
}

async fn consultation_requests_need_no_account_but_are_limited(backend: Backend) {
    let w = world(backend).await;
    // 1: a center nobody has heard of.
    let unknown = ask(&w.client, "nowhere", asking()).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    center_known(&w).await;
    // 2: taken.
    let receipt = ask(&w.client, TENANT, asking()).await.unwrap();
    assert!(!receipt.id.is_empty());
    assert!(receipt.create_time.is_some());
    // Nothing but what was asked: refused before it is counted, every bad
    // field at once.
    let empty = ask(&w.client, TENANT, api::ConsultationRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&empty),
        [
            "request.requester_name",
            "request.contact",
            "request.description"
        ]
    );
    let mut big = asking();
    big.requester_name = "ه".repeat(101);
    big.contact = "call me".into();
    big.organization_name = "ج".repeat(201);
    big.description = "x".repeat(2_001);
    let too_big = ask(&w.client, TENANT, big).await.unwrap_err();
    assert_eq!(
        field_violations(&too_big),
        [
            "request.requester_name",
            "request.contact",
            "request.organization_name",
            "request.description"
        ]
    );
    let mut huge = asking();
    huge.description = "x".repeat(17 * 1024);
    // Bigger than a public method takes: the gate refuses it unread.
    let huge = ask(&w.client, TENANT, huge).await.unwrap_err();
    assert_eq!(huge.code(), Code::ResourceExhausted, "{huge:?}");
    // 3: an unknown topic.
    let mut odd = asking();
    odd.topic_codes = vec!["astrology".into()];
    let odd = ask(&w.client, TENANT, odd).await.unwrap_err();
    assert_eq!(field_violations(&odd), ["request.topic_codes[0]"]);
    // 4, 5: taken (by phone, kind and topics left out); 6: over the limit
    // for this address.
    for contact in ["+963 944 000 111", "0933 222 333"] {
        ask(
            &w.client,
            TENANT,
            api::ConsultationRequest {
                requester_name: "Omar".into(),
                contact: contact.into(),
                description: "Board governance".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let flood = ask(&w.client, TENANT, asking()).await.unwrap_err();
    assert_eq!(flood.code(), Code::ResourceExhausted);
    // A malformed call past the limit is still told what is wrong with it.
    assert_eq!(
        ask(&w.client, TENANT, api::ConsultationRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    // The suggestion form has limits of its own: still open.
    w.client
        .clone()
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: TENANT.into(),
            suggestion: Some(api::TrainingSuggestion {
                title: "إدارة المتطوعين".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap();

    // Staff see what came in, byte for byte.
    let list = listed(&w, RequestStatus::New).await;
    assert_eq!((list.total_size, list.total_size_is_estimate), (3, false));
    let first = list.requests.iter().find(|r| r.id == receipt.id).unwrap();
    let sent = asking();
    assert_eq!(
        first.requester_name.as_bytes(),
        sent.requester_name.as_bytes()
    );
    assert_eq!(
        first.organization_name.as_bytes(),
        sent.organization_name.as_bytes()
    );
    assert_eq!(first.description.as_bytes(), sent.description.as_bytes());
    assert_eq!(first.contact, "huda@example.org");
    assert_eq!(first.kind, ConsultationKind::TechnicalSupport as i32);
    assert_eq!(first.topic_codes, ["financial-management"]);
    assert_eq!(first.status, RequestStatus::New as i32);
    assert!(
        listed(&w, RequestStatus::Declined)
            .await
            .requests
            .is_empty()
    );
    // Paged as every list is.
    let page = w
        .client
        .clone()
        .list_consultation_requests(authed(
            api::ListConsultationRequestsRequest {
                page_size: 2,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.requests.len(), 2);
    assert_eq!(page.total_size, 3);
    let rest = w
        .client
        .clone()
        .list_consultation_requests(authed(
            api::ListConsultationRequestsRequest {
                page_size: 2,
                page_token: page.next_page_token.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.requests.len(), 1);
    assert!(rest.next_page_token.is_empty());

    // The public reads nothing back; nor do partners, trainers, reviewers
    // or donors; another center's staff see none of them.
    let anonymous = w
        .client
        .clone()
        .list_consultation_requests(tonic::Request::new(
            api::ListConsultationRequestsRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    for token in [
        w.token(&[Role::Partner], Some(&new_id())),
        w.token(&[Role::Trainer], None),
        w.token(&[Role::Reviewer], None),
        w.token(&[Role::Donor], None),
    ] {
        let refused = w
            .client
            .clone()
            .list_consultation_requests(authed(
                api::ListConsultationRequestsRequest::default(),
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let other = w.token_of("other-staff", OTHER_TENANT, &[Role::Staff]);
    let theirs = w
        .client
        .clone()
        .list_consultation_requests(authed(
            api::ListConsultationRequestsRequest::default(),
            &other,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.requests.is_empty());
}

async fn triage_clears_the_requester_and_links_the_consultation(backend: Backend) {
    let w = world(backend).await;
    center_known(&w).await;
    let receipt = ask(&w.client, TENANT, asking()).await.unwrap();
    let triage = |status: RequestStatus, consultation: &str, etag: &str| {
        api::TriageConsultationRequestRequest {
            id: receipt.id.clone(),
            status: status as i32,
            note: "اتصلنا بها وحددنا موعداً".into(),
            consultation_id: consultation.into(),
            etag: etag.into(),
        }
    };
    let call = |req: api::TriageConsultationRequestRequest| {
        let mut client = w.client.clone();
        let staff = w.staff.clone();
        async move {
            client
                .triage_consultation_request(authed(req, &staff))
                .await
                .map(|r| r.into_inner())
        }
    };
    // Bad decisions, nothing written.
    let back_to_new = call(triage(RequestStatus::New, "", "")).await.unwrap_err();
    assert_eq!(field_violations(&back_to_new), ["status"]);
    let declined_with = call(triage(RequestStatus::Declined, &new_id(), ""))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&declined_with), ["consultation_id"]);
    let nowhere = call(triage(RequestStatus::Accepted, &new_id(), ""))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&nowhere), ["consultation_id"]);
    let untouched = listed(&w, RequestStatus::New).await.requests;
    assert_eq!(untouched[0].contact, "huda@example.org");

    // Accepted: the decision is kept, the requester and contact go in the
    // same write; the organization and the need stay.
    let accepted = call(triage(RequestStatus::Accepted, "", &untouched[0].etag))
        .await
        .unwrap();
    assert_eq!(accepted.status, RequestStatus::Accepted as i32);
    assert_eq!(accepted.triaged_by, "user-staff");
    assert_eq!(accepted.triage_note, "اتصلنا بها وحددنا موعداً");
    assert_eq!(
        (accepted.requester_name.as_str(), accepted.contact.as_str()),
        ("", "")
    );
    assert_eq!(accepted.organization_name, "جمعية نساء الفرات");
    assert_eq!(accepted.description, asking().description);
    assert_ne!(accepted.etag, untouched[0].etag);
    assert_eq!(
        listed(&w, RequestStatus::Accepted).await.requests,
        std::slice::from_ref(&accepted)
    );
    // The old etag is stale.
    let stale = call(triage(RequestStatus::Declined, "", &untouched[0].etag))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    // Accepted again with nothing to link: refused.
    let again = call(triage(RequestStatus::Accepted, "", ""))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again), "CONSULTATION_REQUEST_TRIAGE");

    // The consultation is held; the request is linked to it.
    let p = known_person(
        &w,
        TENANT,
        "هدى الخلف",
        Gender::Female,
        AgeBand::AgeBand2534,
        None,
    )
    .await;
    let consultation = w
        .client
        .clone()
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(api::Consultation {
                    kind: ConsultationKind::TechnicalSupport as i32,
                    attendee_person_ids: vec![p],
                    advisor: Some(api::Advisor {
                        name: "خبير مالي".into(),
                        kind: AdvisorKind::ExternalExpert as i32,
                    }),
                    branch_id: "raqqa".into(),
                    held_on: Some(day(-1)),
                    duration_minutes: 60,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let linked = call(triage(
        RequestStatus::Accepted,
        &consultation.id,
        &accepted.etag,
    ))
    .await
    .unwrap();
    assert_eq!(linked.consultation_id, consultation.id);
    // Linked once: another link is refused.
    let relink = call(triage(RequestStatus::Accepted, &consultation.id, ""))
        .await
        .unwrap_err();
    assert_eq!(precondition(&relink), "CONSULTATION_REQUEST_TRIAGE");
    // Declined after all: linked to nothing; reconsidered, accepted again.
    let declined = call(triage(RequestStatus::Declined, "", "")).await.unwrap();
    assert_eq!(declined.consultation_id, "");
    let reconsidered = call(triage(RequestStatus::Accepted, "", "")).await.unwrap();
    assert_eq!(reconsidered.status, RequestStatus::Accepted as i32);
    assert_eq!(
        (
            reconsidered.requester_name.as_str(),
            reconsidered.contact.as_str()
        ),
        ("", "")
    );
    // Partners do not triage.
    let partner = w.token(&[Role::Partner], Some(&new_id()));
    let refused = w
        .client
        .clone()
        .triage_consultation_request(authed(triage(RequestStatus::Declined, "", ""), &partner))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

async fn an_untriaged_requesters_contact_goes_after_the_retention_period(backend: Backend) {
    let w = world(backend).await;
    center_known(&w).await;
    let mut ids = Vec::new();
    for contact in ["salma@example.org", "+963 933 000 111", "0933 222 333"] {
        let mut r = asking();
        r.contact = contact.into();
        ids.push(ask(&w.client, TENANT, r).await.unwrap().id);
    }
    let before = listed(&w, RequestStatus::New).await.requests;
    let of = |list: &[api::ConsultationRequest], id: &str| {
        list.iter().find(|r| r.id == id).unwrap().clone()
    };
    // Two sent 31 days ago, one 29 days ago; the center keeps contacts 30.
    let db = w.app.env.db("capacity").await.unwrap();
    let now = markaz_kit::time::now_micros();
    let mut tx = db.write(TENANT).await.unwrap();
    for (id, age) in [(&ids[0], 31), (&ids[1], 31), (&ids[2], 29)] {
        sqlx::query(
            "UPDATE consultation_requests SET created_at = $1 WHERE tenant_id = $2 AND id = $3",
        )
        .bind(now - age * DAY)
        .bind(TENANT)
        .bind(id)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let config = RetentionConfig {
        public_contact_days: 30,
        batch: 1,
        ..RetentionConfig::default()
    };
    let purged = ContactRetention.purge(&db, &config, now).await.unwrap();
    assert_eq!(purged, 2);
    assert_eq!(
        ContactRetention.purge(&db, &config, now).await.unwrap(),
        0,
        "nothing left past the period"
    );
    let after = listed(&w, RequestStatus::New).await.requests;
    for id in [&ids[0], &ids[1]] {
        let (was, is) = (of(&before, id), of(&after, id));
        assert_eq!((is.requester_name.as_str(), is.contact.as_str()), ("", ""));
        assert_eq!(is.status, RequestStatus::New as i32, "still to triage");
        assert_eq!(
            (is.organization_name.as_str(), is.description.as_str()),
            (was.organization_name.as_str(), was.description.as_str())
        );
        assert_ne!(is.etag, was.etag, "a changed request has a new etag");
    }
    // Inside the period: kept.
    let (was, is) = (of(&before, &ids[2]), of(&after, &ids[2]));
    assert_eq!(
        (is.requester_name, is.contact, is.etag),
        (was.requester_name, was.contact, was.etag)
    );
    // The service runs the purge with the others.
    assert!(
        markaz_kit::app::Service::purges(&Capacity)
            .iter()
            .any(|p| p.name() == ContactRetention.name())
    );
}
