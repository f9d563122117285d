//! The topic catalogue: the built-in topics every tenant starts with, and staff's own.

use crate::world::*;

both_backends!(topics_start_with_the_built_in_catalogue_and_grow,);

async fn topics_start_with_the_built_in_catalogue_and_grow(backend: Backend) {
    let mut w = world(backend).await;
    let trainer = w.token(&[Role::Trainer], None);
    let list = |include_archived| api::ListTopicsRequest {
        include_archived,
        ..Default::default()
    };
    let topics = w
        .client
        .list_topics(authed(list(false), &trainer))
        .await
        .unwrap()
        .into_inner()
        .topics;
    let codes: Vec<&str> = topics.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "financial-management",
            "human-resources",
            "mobilisation-advocacy",
            "monitoring-evaluation",
            "operational-planning",
            "project-management",
            "proposal-writing",
            "strategic-planning"
        ]
    );
    for t in &topics {
        let name = t.name.clone().unwrap();
        assert!(
            t.built_in && !name.ar.is_empty() && !name.en.is_empty(),
            "{t:?}"
        );
        assert!(!t.capacity_domains.is_empty(), "{}", t.code);
    }
    let finance = topics
        .iter()
        .find(|t| t.code == "financial-management")
        .unwrap();
    assert_eq!(finance.name.clone().unwrap().ar, "الإدارة المالية");
    assert_eq!(
        finance.capacity_domains,
        [CapacityDomain::FinancialManagement as i32]
    );

    // Staff extend the catalogue, in Arabic.
    let created = w
        .client
        .create_topic(authed(
            api::CreateTopicRequest {
                topic: Some(api::Topic {
                    code: "digital-security".into(),
                    name: text("الأمن الرقمي", ""),
                    capacity_domains: vec![CapacityDomain::Administration as i32],
                    ..Default::default()
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!created.built_in);
    for code in ["digital-security", "proposal-writing"] {
        let again = w
            .client
            .create_topic(authed(
                api::CreateTopicRequest {
                    topic: Some(api::Topic {
                        code: code.into(),
                        name: text("مكرر", ""),
                        ..Default::default()
                    }),
                },
                &w.staff,
            ))
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::AlreadyExists, "{code}");
    }

    // A built-in topic can be renamed and remapped, field by field.
    let proposal = topics
        .iter()
        .find(|t| t.code == "proposal-writing")
        .unwrap();
    let updated = w
        .client
        .update_topic(authed(
            api::UpdateTopicRequest {
                topic: Some(api::Topic {
                    code: "proposal-writing".into(),
                    name: text("ignored", "ignored"),
                    capacity_domains: vec![
                        CapacityDomain::ProgramManagement as i32,
                        CapacityDomain::FinancialManagement as i32,
                    ],
                    etag: proposal.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity_domains".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.name, proposal.name);
    assert_eq!(updated.capacity_domains.len(), 2);
    assert!(updated.built_in);
    assert_ne!(updated.etag, proposal.etag);

    // Archived topics leave the default list and new courses.
    w.client
        .update_topic(authed(
            api::UpdateTopicRequest {
                topic: Some(api::Topic {
                    code: "digital-security".into(),
                    archived: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["archived".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let n = |all| {
        let mut c = w.client.clone();
        let t = trainer.clone();
        async move {
            let listed = c
                .list_topics(authed(list(all), &t))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(listed.total_size as usize, listed.topics.len());
            listed.topics.len()
        }
    };
    assert_eq!(n(false).await, 8);
    assert_eq!(n(true).await, 9);
    for code in ["digital-security", "no-such-topic"] {
        let mut body = course_body(10, Audience::Open, 2);
        body.topic_codes = vec![code.into()];
        let status = w
            .client
            .create_course(authed(
                api::CreateCourseRequest {
                    course: Some(body),
                    request_id: String::new(),
                },
                &w.staff,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{code}");
        assert_eq!(field_violations(&status), ["course.topic_codes[0]"]);
    }
    let missing = w
        .client
        .get_topic(authed(
            api::GetTopicRequest {
                code: "astrology".into(),
            },
            &trainer,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}
