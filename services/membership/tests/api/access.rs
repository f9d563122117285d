use super::world::*;

markaz_kit::both_backends!(
    every_method_holds_to_the_rights_table,
    partners_see_only_their_own_organization,
    tenants_never_see_each_other,
    health_reports_serving_and_metrics_are_served,
);

async fn partners_see_only_their_own_organization(backend: Backend) {
    let mut w = world(backend).await;
    let own = create_org(&mut w, "منظمتنا", "Ours", true).await;
    let other = create_org(&mut w, "منظمة أخرى", "Theirs", true).await;
    let member = create_person(&mut w, "عضو", Gender::Female).await;
    let stranger = create_person(&mut w, "غريب", Gender::Male).await;
    w.client
        .create_affiliation(authed(
            api::CreateAffiliationRequest {
                affiliation: Some(api::Affiliation {
                    person_id: member.id.clone(),
                    organization_id: own.id.clone(),
                    role: "director".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let partner = w.app.token(TENANT, &[Role::Partner], Some(&own.id));

    assert!(
        w.client
            .get_organization(authed(
                api::GetOrganizationRequest { id: own.id.clone() },
                &partner
            ))
            .await
            .is_ok()
    );
    let hidden = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest {
                id: other.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(count_orgs(&mut w.client, &partner).await, 1);

    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        people
            .people
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        vec![member.id]
    );
    // A partner's totals count what it may see, never the tenant's.
    assert_eq!(people.total_size, 1);
    let orgs = |token: &str| {
        authed(
            api::ListOrganizationsRequest {
                page_size: 1,
                ..Default::default()
            },
            token,
        )
    };
    let staff_orgs = w.client.list_organizations(orgs(&w.staff)).await.unwrap();
    let partner_orgs = w.client.list_organizations(orgs(&partner)).await.unwrap();
    assert_eq!(
        (
            staff_orgs.into_inner().total_size,
            partner_orgs.into_inner().total_size
        ),
        (2, 1)
    );
    let staff_people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(staff_people.total_size, 2);
    let affiliations = w
        .client
        .list_affiliations(authed(api::ListAffiliationsRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (affiliations.affiliations.len(), affiliations.total_size),
        (1, 1)
    );
    let status = w
        .client
        .get_person(authed(
            api::GetPersonRequest {
                id: stranger.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // Writing is staff work.
    let status = w
        .client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(organization("x", "x")),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

async fn tenants_never_see_each_other(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", true).await;
    let p = create_person(&mut w, "سارة", Gender::Female).await;
    let intruder = w.app.token(OTHER_TENANT, &[Role::Admin], None);

    let get = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(get.code(), Code::NotFound);
    assert_eq!(count_orgs(&mut w.client, &intruder).await, 0);
    let update = w
        .client
        .update_organization(authed(
            api::UpdateOrganizationRequest {
                organization: Some(api::Organization {
                    acronym: "HACKED".into(),
                    ..org.clone()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["acronym".into()],
                }),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(update.code(), Code::NotFound);
    let erase = w
        .client
        .erase_person(authed(
            api::ErasePersonRequest {
                id: p.id.clone(),
                reason: "x".into(),
                legal_ground: api::ErasureGround::DataSubjectRequest as i32,
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(erase.code(), Code::NotFound);
    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(people.people.is_empty());
    assert_eq!(
        people.total_size, 0,
        "another tenant's people count for none"
    );
    let orgs = w
        .client
        .list_organizations(authed(api::ListOrganizationsRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((orgs.total_size, orgs.total_size_is_estimate), (0, false));
    let branches = w
        .client
        .list_branches(authed(api::ListBranchesRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(branches.total_size, 0);
    let staff_branches = w
        .client
        .list_branches(authed(api::ListBranchesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(staff_branches.total_size, 1);
    let status = w
        .client
        .change_incubation_status(authed(
            api::ChangeIncubationStatusRequest {
                organization_id: org.id.clone(),
                status: IncubationStatus::Withdrawn as i32,
                reason: "x".into(),
                etag: String::new(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // The owner's data is untouched.
    let mine = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine, org);

    if backend == Backend::Postgres {
        // The second wall: a connection as the application role, with no
        // tenant set, sees no rows at all even without a WHERE clause.
        let db = w.app.env.db("membership").await.unwrap();
        let mut tx = db.system().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 0, "row-level security hides every tenant's rows");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM people")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 0);
        tx.rollback().await.unwrap();
        // And with the other tenant set, still none of this tenant's rows.
        let mut tx = db.read(OTHER_TENANT).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 0);
        let mut tx2 = db.read(TENANT).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(tx2.conn())
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}

async fn health_reports_serving_and_metrics_are_served(backend: Backend) {
    let w = world(backend).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(w.app.channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "markaz.membership.v1.MembershipService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let addr = w.app.app.metrics_addr().expect("metrics served");
    let body = http_get(addr, "/metrics").await;
    assert!(body.contains("markaz_rpc_requests_total"), "{body}");
    assert!(body.contains("method=\"CreateTenant\""), "{body}");
    assert!(http_get(addr, "/readyz").await.contains("ready"));

    // Reflection lists every service, so grpcurl needs no proto files.
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(w.app.channel().await);
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![
            tonic_reflection::pb::v1::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
        ]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("no service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    // And v1alpha, which grpcurl 1.8, grpcui and Postman ask.
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let mut alpha = AlphaClient::new(w.app.channel().await);
    let mut answers = alpha
        .server_reflection_info(tokio_stream::iter(vec![
            tonic_reflection::pb::v1alpha::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(AlphaRequest::ListServices(String::new())),
            },
        ]))
        .await
        .expect("v1alpha reflection is served")
        .into_inner();
    let Some(AlphaResponse::ListServicesResponse(alpha_list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("no v1alpha service list");
    };
    let alpha_names: Vec<String> = alpha_list.service.into_iter().map(|s| s.name).collect();
    let not_reflection = |n: &&String| !n.starts_with("grpc.reflection.");
    assert_eq!(
        alpha_names
            .iter()
            .filter(not_reflection)
            .collect::<Vec<_>>(),
        names.iter().filter(not_reflection).collect::<Vec<_>>(),
        "both versions list the same services"
    );
    for expected in [
        "markaz.membership.v1.MembershipService",
        "markaz.platform.v1.PlatformService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// Every method, every role, every bad credential, against the rights
/// table — and a refused call writes nothing.
async fn every_method_holds_to_the_rights_table(backend: Backend) {
    let mut w = world(backend).await;
    let before = count_orgs(&mut w.client, &w.staff).await;
    markaz_kit::testing::rights::check(&w.app, markaz_membership::api::RIGHTS, TENANT).await;
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, before);
}
