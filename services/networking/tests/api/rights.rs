//! Tenancy and the rights table: every method held to
//! [`markaz_networking::RIGHTS`] through the real server, as every role and
//! with every bad credential.

use markaz_kit::testing::rights;

use crate::world::*;

both_backends!(
    every_rpc_holds_to_the_rights_table,
    tenants_never_see_each_other
);

async fn every_rpc_holds_to_the_rights_table(backend: Backend) {
    let mut w = world(backend).await;
    rights::check(&w.app, markaz_networking::RIGHTS, TENANT).await;
    // Nothing was written by any of the empty requests.
    let events = w
        .client
        .list_events(authed(api::ListEventsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(events.events.is_empty());
    assert_eq!(events.total_size, 0);
}

async fn tenants_never_see_each_other(backend: Backend) {
    let mut w = world(backend).await;
    let e = create_event(&mut w, meeting(EventKind::Networking)).await;
    let other = w.app.token(OTHER_TENANT, &[Role::Staff], None);
    let got = w
        .client
        .get_event(authed(api::GetEventRequest { id: e.id.clone() }, &other))
        .await
        .unwrap_err();
    assert_eq!(got.code(), Code::NotFound);
    let listed = w
        .client
        .list_events(authed(api::ListEventsRequest::default(), &other))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.events.is_empty());
    // A partner not invited sees nothing either; a trainer not organizing
    // neither.
    let org = known_org(&w, OrganizationKind::Cso, "جمعية شباب الفرات", "Raqqa").await;
    for token in [
        w.app.token(TENANT, &[Role::Partner], Some(&org)),
        w.app.token(TENANT, &[Role::Trainer], None),
    ] {
        let got = w
            .client
            .get_event(authed(api::GetEventRequest { id: e.id.clone() }, &token))
            .await
            .unwrap_err();
        assert_eq!(got.code(), Code::NotFound);
    }
}
