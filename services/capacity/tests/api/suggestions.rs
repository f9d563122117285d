//! Training suggestions from the public, within their limits.

use crate::world::*;

both_backends!(
    suggestions_need_no_account_but_are_limited,
    refused_suggestions_do_not_use_up_a_centers_quota,
);

async fn suggestions_need_no_account_but_are_limited(backend: Backend) {
    let mut w = world(backend).await;
    let public = w.client.clone();
    let suggest = |tenant: &str, s: api::TrainingSuggestion| {
        let mut client = public.clone();
        let request = api::SuggestTrainingRequest {
            tenant_id: tenant.into(),
            suggestion: Some(s),
        };
        // No token: the public page of the center.
        async move {
            client
                .suggest_training(tonic::Request::new(request))
                .await
                .map(|r| r.into_inner())
        }
    };
    let idea = api::TrainingSuggestion {
        title: "تدريب على الأمن الرقمي للناشطين".into(),
        description: "حماية الحسابات والبيانات".into(),
        topic_codes: vec!["mobilisation-advocacy".into()],
        suggested_by: "مبادرة شباب الطبقة".into(),
        contact: "tabqa@example.org".into(),
        ..Default::default()
    };
    // 1: a center nobody has heard of.
    let unknown = suggest("nowhere", idea.clone()).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    // The center's staff are at work: it is known from now on.
    w.client
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap();
    // 2: taken.
    let receipt = suggest(TENANT, idea.clone()).await.unwrap();
    assert!(!receipt.id.is_empty());
    // Too big: refused before it is counted (a malformed flood uses up
    // nobody's window, the sender's included). 3: an unknown topic.
    let mut big = idea.clone();
    big.title = "ت".repeat(201);
    big.description = "x".repeat(2_001);
    let too_big = suggest(TENANT, big).await.unwrap_err();
    assert_eq!(
        field_violations(&too_big),
        ["suggestion.title", "suggestion.description"]
    );
    let mut odd = idea.clone();
    odd.topic_codes = vec!["astrology".into()];
    let odd = suggest(TENANT, odd).await.unwrap_err();
    assert_eq!(field_violations(&odd), ["suggestion.topic_codes[0]"]);
    // 4, 5: taken; 6: over the limit for this address.
    for title in ["Report writing", "Budgeting"] {
        suggest(
            TENANT,
            api::TrainingSuggestion {
                title: title.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let flood = suggest(TENANT, idea.clone()).await.unwrap_err();
    assert_eq!(flood.code(), Code::ResourceExhausted);
    // A malformed call past the limit is still told what is wrong with it.
    let mut big = idea.clone();
    big.title = "ت".repeat(201);
    assert_eq!(
        suggest(TENANT, big).await.unwrap_err().code(),
        Code::InvalidArgument
    );

    // Staff see what came in, byte for byte, and triage it.
    let listed = w
        .client
        .list_training_suggestions(authed(
            api::ListTrainingSuggestionsRequest {
                status: SuggestionStatus::New as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].title.as_bytes(), idea.title.as_bytes());
    assert_eq!(listed[0].contact, "tabqa@example.org");
    let triage =
        |status: SuggestionStatus, course: &str, etag: &str| api::TriageTrainingSuggestionRequest {
            id: receipt.id.clone(),
            status: status as i32,
            note: "فكرة جيدة".into(),
            course_id: course.into(),
            etag: etag.into(),
        };
    let accepted = w
        .client
        .triage_training_suggestion(authed(triage(SuggestionStatus::Accepted, "", ""), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.status, SuggestionStatus::Accepted as i32);
    assert_eq!(accepted.triaged_by, "user-staff");
    let no_course = w
        .client
        .triage_training_suggestion(authed(
            triage(SuggestionStatus::Scheduled, "", ""),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&no_course), ["course_id"]);
    let wrong_course = w
        .client
        .triage_training_suggestion(authed(
            triage(SuggestionStatus::Scheduled, &new_id(), ""),
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&wrong_course), ["course_id"]);
    let course = create_course(&mut w, course_body(10, Audience::Open, 2)).await;
    let scheduled = w
        .client
        .triage_training_suggestion(authed(
            triage(SuggestionStatus::Scheduled, &course.id, &accepted.etag),
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(scheduled.course_id, course.id);
    let back_to_new = w
        .client
        .triage_training_suggestion(authed(triage(SuggestionStatus::New, "", ""), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&back_to_new), ["status"]);
    let declined = w
        .client
        .triage_training_suggestion(authed(triage(SuggestionStatus::Declined, "", ""), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(precondition(&declined), "SUGGESTION_TRIAGE");
    // The public reads nothing back; partners do not triage.
    let partner = w.token(&[Role::Partner], Some(&new_id()));
    let refused = w
        .client
        .list_training_suggestions(authed(
            api::ListTrainingSuggestionsRequest::default(),
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

/// A client of the public page at 127.0.0.`n`: every loopback address is a
/// different client to the rate limits.
/// A client from its own network: 127.n.0.1 (a /24 apiece, so only the
/// per-address limits meet it).
async fn client_at(w: &World, n: u8) -> Client {
    let channel = Channel::from_shared(format!("http://{}", w.app.app.grpc_addr()))
        .unwrap()
        .local_address(Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(
            127, n, 0, 1,
        ))))
        .connect()
        .await
        .unwrap();
    CapacityServiceClient::new(channel)
}

async fn suggest_from(
    client: &mut Client,
    tenant: &str,
    topic: &str,
) -> Result<api::SuggestTrainingResponse, Status> {
    client
        .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
            tenant_id: tenant.into(),
            suggestion: Some(api::TrainingSuggestion {
                title: "إدارة المتطوعين".into(),
                topic_codes: vec![topic.into()],
                ..Default::default()
            }),
        }))
        .await
        .map(|r| r.into_inner())
}

async fn refused_suggestions_do_not_use_up_a_centers_quota(backend: Backend) {
    let w = world(backend).await;
    // The center's staff are at work: it is known.
    w.client
        .clone()
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap();
    // More refused attempts than a center takes in an hour, five from each
    // of many addresses (each within its own limit).
    let attempts = limits::SUGGESTIONS_PER_CENTER.max / limits::SUGGESTIONS_PER_CLIENT.max + 1;
    let per_client = limits::SUGGESTIONS_PER_CLIENT.max;
    // To a center not known yet (it may start using Markaz later today)...
    for n in 0..attempts {
        let mut client = client_at(&w, 1 + n as u8).await;
        for _ in 0..per_client {
            let refused = suggest_from(&mut client, "late-center", "proposal-writing")
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
        }
        // The address's own limit still comes first.
        let limited = suggest_from(&mut client, "late-center", "proposal-writing")
            .await
            .unwrap_err();
        assert_eq!(limited.code(), Code::ResourceExhausted);
    }
    // ... and to a known one, with a topic it does not have.
    for n in 0..attempts {
        let mut client = client_at(&w, 110 + n as u8).await;
        for _ in 0..per_client {
            let refused = suggest_from(&mut client, TENANT, "astrology")
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        }
    }
    // Neither used up anything: the next genuine suggestion is taken.
    let mut genuine = client_at(&w, 250).await;
    suggest_from(&mut genuine, TENANT, "proposal-writing")
        .await
        .unwrap();
    // The late center's staff start work; its form is open.
    let late_staff = w.app.token("late-center", &[Role::Staff], None);
    w.client
        .clone()
        .list_topics(authed(api::ListTopicsRequest::default(), &late_staff))
        .await
        .unwrap();
    let mut first = client_at(&w, 251).await;
    suggest_from(&mut first, "late-center", "proposal-writing")
        .await
        .unwrap();
}
