//! Training suggestions from the public, within their limits.

use crate::world::*;

both_backends!(
    suggestions_need_no_account_but_are_limited,
    refused_suggestions_do_not_use_up_a_centers_quota,
    a_suggesters_contact_goes_at_triage_or_after_the_retention_period,
    limits_believe_the_address_a_trusted_proxy_names,
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
        .into_inner();
    assert_eq!(
        (listed.total_size, listed.total_size_is_estimate),
        (3, false)
    );
    let listed = listed.suggestions;
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
    let attempts = limits::SUGGESTIONS.per_center.max / limits::SUGGESTIONS.per_client.max + 1;
    let per_client = limits::SUGGESTIONS.per_client.max;
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

async fn a_suggesters_contact_goes_at_triage_or_after_the_retention_period(backend: Backend) {
    assert_eq!(
        markaz_kit::config::RetentionConfig::default().public_contact_days,
        90,
        "the default the operations guide gives"
    );
    // A center that keeps contacts 30 days, purged every second.
    let mut env = markaz_kit::testing::TestEnv::new(backend);
    env.config.retention.public_contact_days = 30;
    env.config.retention.interval_secs = 1;
    env.config.retention.batch = 1;
    let app = env
        .start(vec![Arc::new(Capacity)])
        .await
        .expect("the app starts");
    let mut w = World::on(TestApp { app, env }).await;
    w.client
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (title, contact) in [
        ("الأمن الرقمي", "salma@example.org"),
        ("كتابة التقارير", "+963 933 000 111"),
        ("إدارة المتطوعين", "huda@example.org"),
        ("إدارة المتطوعين", "0933 222 333"),
    ] {
        let receipt = w
            .client
            .suggest_training(tonic::Request::new(api::SuggestTrainingRequest {
                tenant_id: TENANT.into(),
                suggestion: Some(api::TrainingSuggestion {
                    title: title.into(),
                    description: "لفريق المبادرة".into(),
                    suggested_by: "مبادرة شباب الطبقة".into(),
                    contact: contact.into(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap()
            .into_inner();
        ids.push(receipt.id);
    }
    let listed = |w: &World| {
        let mut client = w.client.clone();
        let staff = w.staff.clone();
        async move {
            client
                .list_training_suggestions(authed(
                    api::ListTrainingSuggestionsRequest::default(),
                    &staff,
                ))
                .await
                .unwrap()
                .into_inner()
                .suggestions
        }
    };
    let before = listed(&w).await;
    assert!(before.iter().all(|s| !s.contact.is_empty()));
    let of = |list: &[api::TrainingSuggestion], id: &str| {
        list.iter().find(|s| s.id == id).unwrap().clone()
    };

    // Triage: the decision is kept, the sender and contact go in the same
    // write.
    let triaged = w
        .client
        .triage_training_suggestion(authed(
            api::TriageTrainingSuggestionRequest {
                id: ids[0].clone(),
                status: SuggestionStatus::Declined as i32,
                note: "خارج نطاق المركز".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (triaged.suggested_by.as_str(), triaged.contact.as_str()),
        ("", "")
    );
    assert_eq!(triaged.title, "الأمن الرقمي");
    assert_eq!(triaged.triage_note, "خارج نطاق المركز");
    assert_eq!(of(&listed(&w).await, &ids[0]), triaged);

    // Untriaged: two sent 31 days ago, one 29 days ago.
    let db = w.app.env.db("capacity").await.unwrap();
    let now = markaz_kit::time::now_micros();
    const DAY: i64 = 24 * 3600 * 1_000_000;
    let mut tx = db.write(TENANT).await.unwrap();
    for (id, age) in [(&ids[1], 31), (&ids[2], 31), (&ids[3], 29)] {
        sqlx::query("UPDATE suggestions SET created_at = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(now - age * DAY)
            .bind(TENANT)
            .bind(id)
            .execute(tx.conn())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // The retention task clears the old ones by itself (one per
    // transaction here), leaving the suggestions.
    let after = markaz_kit::testing::eventually(Duration::from_secs(20), || async {
        let list = listed(&w).await;
        [&ids[1], &ids[2]]
            .iter()
            .all(|id| of(&list, id).contact.is_empty())
            .then_some(list)
    })
    .await
    .expect("the contacts past 30 days are cleared");
    for id in [&ids[1], &ids[2]] {
        let (was, is) = (of(&before, id), of(&after, id));
        assert_eq!((is.suggested_by.as_str(), is.contact.as_str()), ("", ""));
        assert_eq!(is.status, SuggestionStatus::New as i32, "still to triage");
        assert_eq!(
            (is.title.as_str(), is.description.as_str()),
            (was.title.as_str(), was.description.as_str())
        );
        assert_ne!(is.etag, was.etag, "a changed suggestion has a new etag");
    }
    // Inside the period: kept.
    let (was, is) = (of(&before, &ids[3]), of(&after, &ids[3]));
    assert_eq!(
        (is.suggested_by, is.contact, is.etag),
        (was.suggested_by, was.contact, was.etag)
    );
    assert_eq!(of(&after, &ids[0]), triaged);
    let kept = w
        .client
        .list_training_suggestions(authed(
            api::ListTrainingSuggestionsRequest::default(),
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    assert_eq!(
        kept.iter().filter(|s| !s.contact.is_empty()).count(),
        1,
        "only the one inside its period"
    );
}

/// Suggestions from `address` as a proxy in front names it.
async fn suggest_via_proxy(
    client: &mut Client,
    address: &str,
) -> Result<api::SuggestTrainingResponse, Status> {
    let mut request = tonic::Request::new(api::SuggestTrainingRequest {
        tenant_id: TENANT.into(),
        suggestion: Some(api::TrainingSuggestion {
            title: "تدريب على كتابة المقترحات".into(),
            topic_codes: vec!["proposal-writing".into()],
            ..Default::default()
        }),
    });
    request
        .metadata_mut()
        .insert("x-forwarded-for", address.parse().unwrap());
    client
        .suggest_training(request)
        .await
        .map(|r| r.into_inner())
}

/// Behind a proxy (the console, an ingress), every visitor arrives from the
/// proxy's address: the limits count the visitor the proxy names — but
/// only a proxy the deployment trusts may name one, or anyone could.
async fn limits_believe_the_address_a_trusted_proxy_names(backend: Backend) {
    let per_client = limits::SUGGESTIONS.per_client.max;
    // Trusted: loopback, the default (the console of `markaz dev`).
    let w = world(backend).await;
    w.client
        .clone()
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap();
    let mut proxy = w.client.clone();
    for _ in 0..per_client {
        suggest_via_proxy(&mut proxy, "203.0.113.9").await.unwrap();
    }
    let limited = suggest_via_proxy(&mut proxy, "203.0.113.9")
        .await
        .unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
    // Another visitor through the same proxy has their own window.
    suggest_via_proxy(&mut proxy, "198.51.100.7").await.unwrap();
    // A visitor's own entry before the proxy's is not believed.
    let forged = suggest_via_proxy(&mut proxy, "192.0.2.1, 203.0.113.9")
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::ResourceExhausted);

    // Not trusted: a peer naming someone else is still itself.
    let mut env = markaz_kit::testing::TestEnv::new(backend);
    env.config.server.trusted_proxies = "10.0.0.0/8".into();
    let app = env.start(vec![Arc::new(Capacity)]).await.unwrap();
    let w = World::on(markaz_kit::testing::TestApp { app, env }).await;
    w.client
        .clone()
        .list_topics(authed(api::ListTopicsRequest::default(), &w.staff))
        .await
        .unwrap();
    let mut direct = w.client.clone();
    for n in 0..per_client {
        suggest_via_proxy(&mut direct, &format!("203.0.113.{}", n + 1))
            .await
            .unwrap();
    }
    let limited = suggest_via_proxy(&mut direct, "198.51.100.7")
        .await
        .unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
}
