//! The rights table: every method held to [`markaz_resources::RIGHTS`]
//! through the real server (every role, every bad credential), the public
//! ones reading no credential at all — and none of those calls wrote
//! anything.

use markaz_kit::rpc::Access;
use markaz_kit::testing::rights;

use crate::world::*;

both_backends!(every_rpc_holds_to_the_rights_table);

async fn every_rpc_holds_to_the_rights_table(backend: Backend) {
    let mut w = world(backend).await;
    rights::check(&w.app, markaz_resources::RIGHTS, TENANT).await;
    for table in markaz_resources::RIGHTS {
        for (method, access) in table.methods {
            if *access != Access::Public {
                continue;
            }
            for (what, token) in w.app.env.bad_tokens(TENANT) {
                let code = rights::call_empty(&w.app, table.grpc_service, method, &token).await;
                assert_ne!(code, Code::Unauthenticated, "{method} with {what}");
                assert_ne!(code, Code::PermissionDenied, "{method} with {what}");
            }
        }
    }
    let items = w
        .client
        .list_items(authed(api::ListItemsRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(items.total_size, 0);
    let spaces = w
        .client
        .list_spaces(authed(api::ListSpacesRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(spaces.total_size, 0);
    assert_eq!(w.count("bookings", TENANT).await, 0);
    assert_eq!(w.count("space_services", TENANT).await, 0);
}
