//! Campaigns over gRPC: the life cycle with history, targets and
//! activities checked against what networking knows, the grant award known
//! from grants' GrantAwarded, outcomes with evidence, partners' sight, and
//! the report's campaigns by issue and status recounted.

use crate::world::*;

both_backends!(a_campaign_from_plan_to_outcomes);

fn campaign(runner: &str, council: &str, award: &str, event_id: &str) -> api::Campaign {
    let today = KDate::today();
    api::Campaign {
        title: text("لا لزواج القاصرات", "No to early marriage"),
        issue_code: "early-marriage".into(),
        objective: text("قرار من المجلس بمنع زواج القاصرات", ""),
        runner: Some(api::campaign::Runner::OrganizationId(runner.into())),
        targets: vec![
            api::CampaignTarget {
                kind: api::TargetKind::LocalAdministration as i32,
                organization_id: council.into(),
                description: None,
            },
            api::CampaignTarget {
                kind: api::TargetKind::Community as i32,
                organization_id: String::new(),
                description: text("أهالي القرى", "Parents of the villages"),
            },
        ],
        activities: vec![api::CampaignActivity {
            date: Some(today.add_days(-1).to_proto()),
            description: text("ورشة مناصرة", "Advocacy workshop"),
            event_id: event_id.into(),
            people_reached: 40,
            ..Default::default()
        }],
        branch_id: "raqqa".into(),
        start_date: Some(today.add_days(-5).to_proto()),
        end_date: Some(today.add_days(60).to_proto()),
        grant_award_id: award.into(),
        ..Default::default()
    }
}

async fn create(w: &mut World, c: api::Campaign) -> Result<api::Campaign, tonic::Status> {
    w.client
        .create_campaign(authed(
            api::CreateCampaignRequest {
                campaign: Some(c),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn listed(w: &mut World, req: api::ListCampaignsRequest) -> api::ListCampaignsResponse {
    w.client
        .list_campaigns(authed(req, &w.staff))
        .await
        .unwrap()
        .into_inner()
}

fn outcome(campaign_id: &str, council: &str) -> api::CampaignOutcome {
    api::CampaignOutcome {
        campaign_id: campaign_id.into(),
        kind: api::OutcomeKind::DecisionObtained as i32,
        description: text("أصدر المجلس تعميماً", "The council issued a circular"),
        achieved_on: Some(KDate::today().to_proto()),
        target_organization_id: council.into(),
        evidence: vec![api::Evidence {
            url: "https://example.org/circular.pdf".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn a_campaign_from_plan_to_outcomes(backend: Backend) {
    let mut w = world(backend).await;
    create_issue(&mut w, "early-marriage", "ضد زواج القاصرات").await;
    let cso = known_org(&w, OrganizationKind::Cso, "جمعية نساء الرقة", "Raqqa").await;
    let council = known_org(
        &w,
        OrganizationKind::LocalAdministration,
        "مجلس الرقة المدني",
        "Raqqa",
    )
    .await;
    let workshop = create_event(&mut w, meeting(EventKind::AdvocacyWorkshop)).await;

    // Bad input, nothing written: an issue not in the catalogue, a CSO as a
    // local-administration target, an award grants has not announced.
    let mut bad = campaign(&cso, &council, "", &workshop.id);
    bad.issue_code = "no-such-issue".into();
    let e = create(&mut w, bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&e), vec!["campaign.issue_code"]);
    let e = create(&mut w, campaign(&cso, &cso, "", &workshop.id))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&e),
        vec!["campaign.targets[0].organization_id"]
    );
    let e = create(&mut w, campaign(&cso, &council, &new_id(), &workshop.id))
        .await
        .unwrap_err();
    assert_eq!(precondition(&e), "NOT_KNOWN");
    let e = create(&mut w, campaign(&cso, &council, "", &new_id()))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&e),
        vec!["campaign.activities[0].event_id"]
    );
    assert_eq!(listed(&mut w, Default::default()).await.total_size, 0);

    // The award, known from grants' event: the campaign links it.
    let award = awarded(&w, &cso).await;
    let c = create(&mut w, campaign(&cso, &council, &award, &workshop.id))
        .await
        .unwrap();
    assert_eq!(c.status, api::CampaignStatus::Planned as i32);
    assert_eq!(c.title.as_ref().unwrap().ar, "لا لزواج القاصرات");
    assert_eq!(c.targets.len(), 2);
    assert_eq!(c.activities[0].event_id, workshop.id);
    assert!(!c.activities[0].id.is_empty());
    let by_award = listed(
        &mut w,
        api::ListCampaignsRequest {
            grant_award_id: award.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_award.campaigns.len(), 1);
    assert_eq!(by_award.campaigns[0].grant_award_id, award);

    // No outcome before it is launched.
    let early = w
        .client
        .record_campaign_outcome(authed(
            api::RecordCampaignOutcomeRequest {
                outcome: Some(outcome(&c.id, &council)),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&early), "CAMPAIGN_STATUS");

    let launched = w
        .client
        .launch_campaign(authed(
            api::LaunchCampaignRequest {
                id: c.id.clone(),
                etag: c.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(launched.status, api::CampaignStatus::Active as i32);
    // Planned on creation, then active.
    assert_eq!(launched.status_history.len(), 2);
    // A stale etag is refused.
    let stale = w
        .client
        .complete_campaign(authed(
            api::CompleteCampaignRequest {
                id: c.id.clone(),
                etag: c.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // Active: the objective may change, the issue may not.
    let mut changed = launched.clone();
    changed.objective = text("تعميم من المجلس", "A circular of the council");
    let updated = w
        .client
        .update_campaign(authed(
            api::UpdateCampaignRequest {
                campaign: Some(changed),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.objective.as_ref().unwrap().ar, "تعميم من المجلس");
    assert_eq!(updated.activities.len(), 1, "the activity kept");
    create_issue(&mut w, "clean-schools", "مدارس نظيفة").await;
    let mut moved = updated.clone();
    moved.issue_code = "clean-schools".into();
    let refused = w
        .client
        .update_campaign(authed(
            api::UpdateCampaignRequest {
                campaign: Some(moved),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.code(),
            Code::InvalidArgument | Code::FailedPrecondition
        ),
        "{refused:?}"
    );

    // An outcome needs evidence; with it, recorded once though retried.
    let mut bare = outcome(&c.id, &council);
    bare.evidence.clear();
    let e = w
        .client
        .record_campaign_outcome(authed(
            api::RecordCampaignOutcomeRequest {
                outcome: Some(bare),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        field_violations(&e)
            .iter()
            .any(|f| f.starts_with("outcome.evidence"))
    );
    let record = api::RecordCampaignOutcomeRequest {
        outcome: Some(outcome(&c.id, &council)),
        request_id: "outcome-1".into(),
    };
    let o = w
        .client
        .record_campaign_outcome(authed(record.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .record_campaign_outcome(authed(record, &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, o);
    assert_eq!(o.evidence.len(), 1);
    // More evidence later: the same outcome, two pieces.
    let mut more = o.clone();
    more.evidence.push(api::Evidence {
        event_id: workshop.id.clone(),
        description: text("أُعلن في الورشة", ""),
        ..Default::default()
    });
    let o2 = w
        .client
        .update_campaign_outcome(authed(
            api::UpdateCampaignOutcomeRequest {
                outcome: Some(more),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((o2.id.as_str(), o2.evidence.len()), (o.id.as_str(), 2));
    let outcomes = w
        .client
        .list_campaign_outcomes(authed(
            api::ListCampaignOutcomesRequest {
                campaign_id: c.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcomes.total_size, 1);

    let current = w
        .client
        .get_campaign(authed(
            api::GetCampaignRequest { id: c.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(current.outcome_count, 1);
    let done = w
        .client
        .complete_campaign(authed(
            api::CompleteCampaignRequest {
                id: c.id.clone(),
                etag: current.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.status, api::CampaignStatus::Completed as i32);
    assert_eq!(done.status_history.len(), 3);
    let closed = w
        .client
        .cancel_campaign(authed(
            api::CancelCampaignRequest {
                id: c.id.clone(),
                reason: "متأخر".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&closed), "CAMPAIGN_STATUS");

    // A second campaign, planned then cancelled: a reason is required.
    let second = create(&mut w, campaign(&cso, &council, "", &workshop.id))
        .await
        .unwrap();
    let e = w
        .client
        .cancel_campaign(authed(
            api::CancelCampaignRequest {
                id: second.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&e), vec!["reason"]);
    let cancelled = w
        .client
        .cancel_campaign(authed(
            api::CancelCampaignRequest {
                id: second.id.clone(),
                reason: "لا تمويل".into(),
                etag: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let last = cancelled.status_history.last().unwrap();
    assert_eq!(last.to, api::CampaignStatus::Cancelled as i32);
    assert_eq!(last.reason, "لا تمويل");

    // The runner's partner sees its campaigns; another partner none.
    let own = w.app.token(TENANT, &[Role::Partner], Some(&cso));
    w.client
        .get_campaign(authed(api::GetCampaignRequest { id: c.id.clone() }, &own))
        .await
        .unwrap();
    let other = known_org(&w, OrganizationKind::Cso, "منظمة أخرى", "Raqqa").await;
    let stranger = w.app.token(TENANT, &[Role::Partner], Some(&other));
    let hidden = w
        .client
        .get_campaign(authed(
            api::GetCampaignRequest { id: c.id.clone() },
            &stranger,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let none = w
        .client
        .list_campaigns(authed(api::ListCampaignsRequest::default(), &stranger))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(none.total_size, 0);

    // The report: by issue and status as this test left them.
    let f = report(&mut w, Default::default()).await.campaigns.unwrap();
    let by: Vec<(String, i32, i32)> = f
        .by_issue_and_status
        .iter()
        .map(|c| (c.issue_code.clone(), c.status, c.campaigns))
        .collect();
    assert_eq!(
        by,
        vec![
            (
                "early-marriage".to_string(),
                api::CampaignStatus::Completed as i32,
                1
            ),
            (
                "early-marriage".to_string(),
                api::CampaignStatus::Cancelled as i32,
                1
            ),
        ]
    );
    assert_eq!((f.launched, f.completed, f.outcomes), (1, 1, 1));
}
