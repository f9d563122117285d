//! Partner contributions and their moderation: a partner submits, staff
//! request changes, approve or reject, every step in the history; only
//! approved contributions are published.

use crate::world::*;

both_backends!(
    a_contribution_goes_through_moderation,
    a_rejection_is_final_and_notes_are_required,
);

fn contribution(title: &str) -> api::Item {
    api::Item {
        source: Some(api::Source::default()),
        ..item_body(title, "", Visibility::Tenant)
    }
}

async fn a_contribution_goes_through_moderation(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let partner = w.partner();
    let item = w
        .create_item(&partner, contribution("تجربتنا في المناصرة"))
        .await;
    assert!(item.contribution);
    assert_eq!(item.source.as_ref().unwrap().organization_id, PARTNER_ORG);
    assert_eq!(
        item.source.as_ref().unwrap().kind,
        SourceKind::Partner as i32
    );
    // Staff of another tenant, and another partner, see nothing of it.
    let other_partner = w.token(&[Role::Partner], Some(OTHER_ORG));
    for token in [w.other_staff.clone(), other_partner.clone()] {
        let got = w
            .client
            .get_item(authed(
                api::GetItemRequest {
                    id: item.id.clone(),
                },
                &token,
            ))
            .await;
        assert_eq!(got.unwrap_err().code(), Code::NotFound);
    }
    // A partner does not publish; it submits.
    let refused = w
        .client
        .publish_item(authed(
            api::PublishItemRequest {
                id: item.id.clone(),
                etag: String::new(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let submit = |token: &str| {
        authed(
            api::SubmitContributionRequest {
                id: item.id.clone(),
                note: "من تجربتنا الميدانية".into(),
                etag: String::new(),
            },
            token,
        )
    };
    let submitted = w
        .client
        .submit_contribution(submit(&partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.state, ItemState::Submitted as i32);
    // Submitted: the partner may no longer change it.
    let frozen = w
        .client
        .update_item(authed(
            api::UpdateItemRequest {
                item: Some(api::Item {
                    id: item.id.clone(),
                    title: text("عنوان آخر", ""),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&frozen), "ITEM_STATE");
    let sent_back = w
        .client
        .request_contribution_changes(authed(
            api::RequestContributionChangesRequest {
                id: item.id.clone(),
                note: "أضيفوا ملخصاً بالإنجليزية".into(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent_back.state, ItemState::ChangesRequested as i32);
    assert_eq!(sent_back.state_note, "أضيفوا ملخصاً بالإنجليزية");
    w.client
        .update_item(authed(
            api::UpdateItemRequest {
                item: Some(api::Item {
                    id: item.id.clone(),
                    summary: text("", "Our field experience of advocacy"),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["summary".into()],
                }),
            },
            &partner,
        ))
        .await
        .unwrap();
    w.client
        .submit_contribution(submit(&partner))
        .await
        .unwrap();
    // Not yet published: the tenant's other readers do not see it.
    let donor = w.token(&[Role::Donor], None);
    let hidden = w
        .client
        .get_item(authed(
            api::GetItemRequest {
                id: item.id.clone(),
            },
            &donor,
        ))
        .await;
    assert_eq!(hidden.unwrap_err().code(), Code::NotFound);
    let approved = w
        .client
        .approve_contribution(authed(
            api::ApproveContributionRequest {
                id: item.id.clone(),
                note: String::new(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.state, ItemState::Published as i32);
    let seen = w
        .client
        .get_item(authed(
            api::GetItemRequest {
                id: item.id.clone(),
            },
            &donor,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.state, ItemState::Published as i32);
    let history = w
        .client
        .list_item_history(authed(
            api::ListItemHistoryRequest {
                item_id: item.id.clone(),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    let steps: Vec<(i32, i32, bool)> = history
        .entries
        .iter()
        .map(|e| (e.from_state, e.to_state, e.by_contributor))
        .collect();
    use ItemState::*;
    assert_eq!(
        steps,
        vec![
            (Draft as i32, Submitted as i32, true),
            (Submitted as i32, ChangesRequested as i32, false),
            (ChangesRequested as i32, Submitted as i32, true),
            (Submitted as i32, Published as i32, false),
        ]
    );
    assert_eq!(history.entries[1].note, "أضيفوا ملخصاً بالإنجليزية");
    assert_eq!(history.total_size, 4);
    let by_three = |page_token: String| api::ListItemHistoryRequest {
        item_id: item.id.clone(),
        page_size: 3,
        page_token,
    };
    let first = w
        .client
        .list_item_history(authed(by_three(String::new()), &partner))
        .await
        .unwrap()
        .into_inner();
    let rest = w
        .client
        .list_item_history(authed(by_three(first.next_page_token), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((rest.entries.len(), rest.total_size), (1, 4));
    // The history is the moderation's: another partner gets NOT_FOUND.
    let err = w
        .client
        .list_item_history(authed(
            api::ListItemHistoryRequest {
                item_id: item.id.clone(),
                ..Default::default()
            },
            &other_partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let published = w.published::<ev::ResourcePublished>().await;
    assert_eq!(published.len(), 1);
    assert!(published[0].contribution);
    assert_eq!(published[0].source_organization_id, PARTNER_ORG);
}

async fn a_rejection_is_final_and_notes_are_required(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    let partner = w.partner();
    let item = w.create_item(&partner, contribution("مادة مكررة")).await;
    w.client
        .submit_contribution(authed(
            api::SubmitContributionRequest {
                id: item.id.clone(),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap();
    let no_reason = w
        .client
        .reject_contribution(authed(
            api::RejectContributionRequest {
                id: item.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&no_reason), vec!["reason"]);
    let rejected = w
        .client
        .reject_contribution(authed(
            api::RejectContributionRequest {
                id: item.id.clone(),
                reason: "موجودة في المكتبة".into(),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.state, ItemState::Rejected as i32);
    let again = w
        .client
        .submit_contribution(authed(
            api::SubmitContributionRequest {
                id: item.id.clone(),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&again), "CONTRIBUTION_STATE");
    assert!(w.published::<ev::ResourcePublished>().await.is_empty());
}
