//! Coalitions: formed with founding members, a member leaves and joins
//! again (two active periods), the lead cannot leave, members on a day;
//! and the stakeholder map from a held meeting's attendance.

use crate::world::*;

both_backends!(membership_keeps_every_active_period);

async fn membership_keeps_every_active_period(backend: Backend) {
    let mut w = world(backend).await;
    let lead = known_org(&w, OrganizationKind::Cso, "جمعية شباب الفرات", "Raqqa").await;
    let member = known_org(
        &w,
        OrganizationKind::Initiative,
        "مبادرة مدارس نظيفة",
        "Raqqa",
    )
    .await;
    w.client
        .create_issue(authed(
            api::CreateIssueRequest {
                issue: Some(api::Issue {
                    code: "clean-schools".into(),
                    name: text("مدارس نظيفة", "Clean schools"),
                    ..Default::default()
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let formed_on = KDate::today().add_days(-10);
    let c = w
        .client
        .create_coalition(authed(
            api::CreateCoalitionRequest {
                coalition: Some(api::Coalition {
                    name: text("تحالف المدارس النظيفة", ""),
                    issue_codes: vec!["clean-schools".into()],
                    lead_organization_id: lead.clone(),
                    formed_on: Some(formed_on.to_proto()),
                    ..Default::default()
                }),
                founding_member_ids: vec![member.clone()],
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.active_member_count, 2);
    let left_on = KDate::today().add_days(-5);
    let left = w
        .client
        .remove_coalition_member(authed(
            api::RemoveCoalitionMemberRequest {
                coalition_id: c.id.clone(),
                organization_id: member.clone(),
                left_on: Some(left_on.to_proto()),
                reason: "انشغال".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!left.active);
    assert_eq!(left.days_active, 5);
    let lead_leaves = w
        .client
        .remove_coalition_member(authed(
            api::RemoveCoalitionMemberRequest {
                coalition_id: c.id.clone(),
                organization_id: lead.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&lead_leaves), "LEAD_CANNOT_LEAVE");
    let back = w
        .client
        .add_coalition_member(authed(
            api::AddCoalitionMemberRequest {
                coalition_id: c.id.clone(),
                organization_id: member.clone(),
                joined_on: Some(KDate::today().add_days(-2).to_proto()),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(back.active);
    assert_eq!(back.periods.len(), 2);
    // 5 days of the first period, 3 of the second (today included).
    assert_eq!(back.days_active, 8);
    // On a day between the two periods the member was not a member.
    let between = w
        .client
        .list_coalition_members(authed(
            api::ListCoalitionMembersRequest {
                coalition_id: c.id.clone(),
                active_on: Some(KDate::today().add_days(-3).to_proto()),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(between.members.len(), 1);
    assert_eq!(between.members[0].organization_id, lead);
    // The member's partner sees its coalition; an outsider does not.
    let partner = w.app.token(TENANT, &[Role::Partner], Some(&member));
    w.client
        .get_coalition(authed(
            api::GetCoalitionRequest { id: c.id.clone() },
            &partner,
        ))
        .await
        .unwrap();
    let outsider = known_org(&w, OrganizationKind::Cso, "منظمة أخرى", "Raqqa").await;
    let hidden = w
        .client
        .get_coalition(authed(
            api::GetCoalitionRequest { id: c.id.clone() },
            &w.app.token(TENANT, &[Role::Partner], Some(&outsider)),
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // The report counts the memberships of today and the moves in the
    // period: two joins at founding and one again, one departure.
    let report = w
        .client
        .get_networking_report(authed(api::GetNetworkingReportRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let f = report.coalitions.unwrap();
    assert_eq!((f.existing, f.memberships, f.joined, f.left), (1, 2, 3, 1));
}
