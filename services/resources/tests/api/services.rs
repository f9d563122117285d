//! Services the space gives: recorded per organization, voided not
//! deleted, added up per organization and kind.

use crate::world::*;

both_backends!(services_are_recorded_voided_and_reported);

fn service(
    org: &str,
    kind: api::SpaceServiceKind,
    quantity: i32,
) -> api::RecordSpaceServiceRequest {
    api::RecordSpaceServiceRequest {
        service: Some(api::SpaceService {
            organization_id: org.into(),
            branch_id: "raqqa".into(),
            kind: kind as i32,
            quantity,
            provided_on: Some(KDate::today().add_days(-1).to_proto()),
            notes: "طباعة استمارات المسح".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn services_are_recorded_voided_and_reported(backend: Backend) {
    let mut w = world(backend).await;
    let staff = w.staff.clone();
    use api::SpaceServiceKind::*;
    let printing = w
        .client
        .record_space_service(authed(service(PARTNER_ORG, Printing, 120), &staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(printing.unit, "pages");
    w.client
        .record_space_service(authed(service(PARTNER_ORG, Printing, 30), &staff))
        .await
        .unwrap();
    let legal = w
        .client
        .record_space_service(authed(service(OTHER_ORG, LegalSupport, 2), &staff))
        .await
        .unwrap()
        .into_inner();
    w.client
        .void_space_service(authed(
            api::VoidSpaceServiceRequest {
                id: legal.id.clone(),
                reason: "سُجّلت مرتين".into(),
            },
            &staff,
        ))
        .await
        .unwrap();
    let twice = w
        .client
        .void_space_service(authed(
            api::VoidSpaceServiceRequest {
                id: legal.id.clone(),
                reason: "مرة أخرى".into(),
            },
            &staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&twice), "SERVICE_VOIDED");
    let report = w
        .client
        .get_space_service_report(authed(
            api::GetSpaceServiceReportRequest {
                from: Some(KDate::today().add_days(-30).to_proto()),
                until: Some(KDate::today().to_proto()),
                branch_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        report.organizations_served, 1,
        "the voided record counts for nothing"
    );
    assert_eq!(report.totals.len(), 1);
    assert_eq!(
        (report.totals[0].quantity, report.totals[0].records),
        (150, 2)
    );
    // A partner sees its own organization's records only.
    let partner = w.partner();
    let mine = w
        .client
        .list_space_services(authed(
            api::ListSpaceServicesRequest {
                include_voided: true,
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((mine.total_size, mine.total_size_is_estimate), (2, false));
    let elsewhere = w.other_staff.clone();
    let theirs = w
        .client
        .list_space_services(authed(api::ListSpaceServicesRequest::default(), &elsewhere))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs.total_size, 0);
    let hidden = w
        .client
        .get_space_service(authed(
            api::GetSpaceServiceRequest {
                id: legal.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // In the future, or nothing at all: refused, every field named.
    let mut bad = service("", Printing, 0);
    if let Some(s) = bad.service.as_mut() {
        s.provided_on = Some(KDate::today().add_days(2).to_proto());
    }
    let err = w
        .client
        .record_space_service(authed(bad, &staff))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&err),
        vec![
            "service.organization_id",
            "service.quantity",
            "service.provided_on"
        ]
    );
    assert_eq!(w.published::<ev::SpaceServiceProvided>().await.len(), 4);
}
