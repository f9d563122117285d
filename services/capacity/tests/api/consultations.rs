//! Consultations and their follow-up actions.

use crate::world::*;

both_backends!(
    consultations_record_follow_up_actions,
    follow_ups_page_in_due_order_with_the_undated_last,
);

async fn consultations_record_follow_up_actions(backend: Backend) {
    let mut w = world(backend).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let f = known_person(
        &w,
        TENANT,
        "رنا",
        Gender::Female,
        AgeBand::AgeBand2534,
        Some(&org),
    )
    .await;
    let m = known_person(
        &w,
        TENANT,
        "وائل",
        Gender::Male,
        AgeBand::AgeBand3544,
        Some(&org),
    )
    .await;
    let body = api::Consultation {
        kind: ConsultationKind::TechnicalSupport as i32,
        topic_codes: vec!["financial-management".into()],
        organization_id: org.clone(),
        attendee_person_ids: vec![f.clone(), m.clone()],
        advisor: Some(api::Advisor {
            name: "خبير مالي".into(),
            kind: AdvisorKind::ExternalExpert as i32,
        }),
        branch_id: "raqqa".into(),
        held_on: Some(day(-1)),
        duration_minutes: 90,
        notes: "مراجعة دليل الإجراءات المالية\nوخطة الموازنة".into(),
        follow_up_actions: vec![
            api::FollowUpAction {
                description: "إعداد سجل الأصول".into(),
                owner: "المحاسب".into(),
                due_date: Some(day(7)),
                ..Default::default()
            },
            api::FollowUpAction {
                description: "مشاركة النموذج".into(),
                owner: "the advisor".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let created = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(body.clone()),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(counts(&created.attendees_by_gender), (1, 1, 0, 2));
    assert_eq!(created.follow_up_actions.len(), 2);
    assert!(
        created
            .follow_up_actions
            .iter()
            .all(|a| !a.id.is_empty() && !a.done)
    );
    assert_eq!(created.notes, body.notes);
    let held = w.published::<ev::ConsultationHeld>().await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].kind, "technical_support");
    assert_eq!((held[0].attendees_female, held[0].attendees_male), (1, 1));

    // The first action is done, the second dropped, a third added.
    let mut actions = created.follow_up_actions.clone();
    actions[0].done = true;
    actions.truncate(1);
    actions.push(api::FollowUpAction {
        description: "زيارة متابعة".into(),
        owner: "مسؤولة بناء القدرات".into(),
        due_date: Some(day(3)),
        ..Default::default()
    });
    let updated = w
        .client
        .update_consultation(authed(
            api::UpdateConsultationRequest {
                consultation: Some(api::Consultation {
                    id: created.id.clone(),
                    follow_up_actions: actions,
                    etag: created.etag.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["follow_up_actions".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        updated.follow_up_actions[0].id,
        created.follow_up_actions[0].id
    );
    assert!(updated.follow_up_actions[0].done);
    assert_eq!(updated.follow_up_actions[0].done_on, Some(day(0)));
    assert_ne!(
        updated.follow_up_actions[1].id,
        created.follow_up_actions[1].id
    );
    assert_eq!(updated.notes, created.notes);
    let held = w.published::<ev::ConsultationHeld>().await;
    assert_eq!(held.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2]);

    let todo = |include_done| api::ListFollowUpActionsRequest {
        include_done,
        ..Default::default()
    };
    let open_list = w
        .client
        .list_follow_up_actions(authed(todo(false), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (open_list.total_size, open_list.total_size_is_estimate),
        (1, false)
    );
    let open_actions = open_list.actions;
    assert_eq!(open_actions.len(), 1);
    assert_eq!(open_actions[0].description, "زيارة متابعة");
    assert_eq!(open_actions[0].consultation_id, created.id);
    assert_eq!(open_actions[0].organization_id, org);
    let every_list = w
        .client
        .list_follow_up_actions(authed(todo(true), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(every_list.total_size, 2);
    // The second page of one counts the same two.
    let by_one = |page_token: String| api::ListFollowUpActionsRequest {
        include_done: true,
        page_size: 1,
        page_token,
        ..Default::default()
    };
    let first = w
        .client
        .list_follow_up_actions(authed(by_one(String::new()), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let second = w
        .client
        .list_follow_up_actions(authed(by_one(first.next_page_token), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (second.actions[0].due_date, second.total_size),
        (Some(day(7)), 2)
    );
    let every = every_list.actions;
    assert_eq!(
        every.iter().map(|a| a.due_date).collect::<Vec<_>>(),
        [Some(day(3)), Some(day(7))],
        "soonest due first"
    );
    let due_soon = w
        .client
        .list_follow_up_actions(authed(
            api::ListFollowUpActionsRequest {
                include_done: true,
                due_until: Some(day(5)),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((due_soon.actions.len(), due_soon.total_size), (1, 1));

    // An action id of another consultation, an unknown person: refused.
    let foreign = w
        .client
        .update_consultation(authed(
            api::UpdateConsultationRequest {
                consultation: Some(api::Consultation {
                    id: created.id.clone(),
                    follow_up_actions: vec![api::FollowUpAction {
                        id: new_id(),
                        description: "x".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["follow_up_actions".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&foreign),
        ["consultation.follow_up_actions[0].id"]
    );
    let mut stranger = body.clone();
    stranger.attendee_person_ids = vec![new_id()];
    let unknown = w
        .client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(stranger),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&unknown), "PERSON_NOT_KNOWN");

    // An individual comes on their own.
    let mut individual = body.clone();
    individual.kind = ConsultationKind::Consultation as i32;
    individual.organization_id.clear();
    individual.attendee_person_ids = vec![f.clone()];
    individual.follow_up_actions.clear();
    w.client
        .create_consultation(authed(
            api::CreateConsultationRequest {
                consultation: Some(individual),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let only_support = w
        .client
        .list_consultations(authed(
            api::ListConsultationsRequest {
                kind: ConsultationKind::TechnicalSupport as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (only_support.consultations.len(), only_support.total_size),
        (1, 1)
    );
    let all = w
        .client
        .list_consultations(authed(
            api::ListConsultationsRequest {
                page_size: 1,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let second = w
        .client
        .list_consultations(authed(
            api::ListConsultationsRequest {
                page_size: 1,
                page_token: all.next_page_token.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        [
            (all.consultations.len(), all.total_size),
            (second.consultations.len(), second.total_size)
        ],
        [(1, 2), (1, 2)]
    );

    // The partner sees its own organization's consultations only.
    let partner = w.token(&[Role::Partner], Some(&org));
    let theirs = w
        .client
        .list_consultations(authed(api::ListConsultationsRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (theirs.consultations.len(), theirs.total_size),
        (1, 1),
        "the individual's is not the partner's"
    );
    let their_actions = w
        .client
        .list_follow_up_actions(authed(todo(true), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(their_actions.total_size, 2);
    let outsider = w.token(&[Role::Partner], Some(&new_id()));
    let hidden = w
        .client
        .get_consultation(authed(
            api::GetConsultationRequest {
                id: created.id.clone(),
            },
            &outsider,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let none = w
        .client
        .list_follow_up_actions(authed(todo(true), &outsider))
        .await
        .unwrap()
        .into_inner();
    assert!(none.actions.is_empty());
    assert_eq!(none.total_size, 0);
    let none = w
        .client
        .list_consultations(authed(api::ListConsultationsRequest::default(), &outsider))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(none.total_size, 0);
}

/// The follow-up list's order, page by page: soonest due first, a tie in
/// id order, the actions without a due date last — open ones, and with
/// the done ones, in the same order.
async fn follow_ups_page_in_due_order_with_the_undated_last(backend: Backend) {
    let mut w = world(backend).await;
    let org = known_org(&w, TENANT, IncubationStatus::Incubated).await;
    let action = |description: &str, due: Option<i64>| api::FollowUpAction {
        description: description.into(),
        owner: "المنسقة".into(),
        due_date: due.map(day),
        ..Default::default()
    };
    for actions in [
        vec![action("بلا موعد", None), action("بعد أسبوعين", Some(14))],
        vec![action("غداً", Some(1)), action("بعد أسبوعين أيضاً", Some(14))],
    ] {
        w.client
            .create_consultation(authed(
                api::CreateConsultationRequest {
                    consultation: Some(api::Consultation {
                        kind: ConsultationKind::Consultation as i32,
                        organization_id: org.clone(),
                        advisor: Some(api::Advisor {
                            name: "مستشار".into(),
                            kind: AdvisorKind::Staff as i32,
                        }),
                        branch_id: "raqqa".into(),
                        held_on: Some(day(-1)),
                        duration_minutes: 30,
                        follow_up_actions: actions,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &w.staff,
            ))
            .await
            .unwrap();
    }
    for include_done in [false, true] {
        let (mut token, mut seen) = (String::new(), Vec::new());
        loop {
            let page = w
                .client
                .list_follow_up_actions(authed(
                    api::ListFollowUpActionsRequest {
                        include_done,
                        page_size: 1,
                        page_token: token,
                        ..Default::default()
                    },
                    &w.staff,
                ))
                .await
                .unwrap()
                .into_inner();
            seen.extend(
                page.actions
                    .into_iter()
                    .map(|a| (a.due_date, a.id, a.description)),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let dues: Vec<_> = seen.iter().map(|(due, _, _)| *due).collect();
        assert_eq!(
            dues,
            [Some(day(1)), Some(day(14)), Some(day(14)), None],
            "include_done {include_done}"
        );
        assert!(seen[1].1 < seen[2].1, "a tie in id order");
        assert_eq!(seen[3].2, "بلا موعد");
    }
}
