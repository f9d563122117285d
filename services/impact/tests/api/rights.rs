//! Tenancy and the rights table: every method held to
//! [`markaz_impact::RIGHTS`] through the real server, as every role and
//! with every bad credential; and one tenant's figures never in another's.

use markaz_kit::testing::rights;

use crate::figures::{Activity, period};
use crate::world::*;

both_backends!(
    every_rpc_holds_to_the_rights_table,
    tenants_never_see_each_others_figures
);

async fn every_rpc_holds_to_the_rights_table(backend: Backend) {
    let w = world(backend).await;
    rights::check(&w.app, markaz_impact::RIGHTS, TENANT).await;
}

async fn tenants_never_see_each_others_figures(backend: Backend) {
    let mut w = world(backend).await;
    let activity = Activity::generate(7);
    for e in activity.envelopes(TENANT) {
        w.deliver_envelope(&e).await;
    }
    let mine = w.figures(period()).await;
    assert!(mine.indicators.iter().any(|i| i.total > 0));
    let other = w.app.token(OTHER_TENANT, &[Role::Staff], None);
    let theirs = w
        .client
        .get_indicators(authed(period(), &other))
        .await
        .unwrap()
        .into_inner();
    assert!(
        theirs
            .indicators
            .iter()
            .all(|i| i.total == 0 && i.cells.is_empty())
    );
    assert!(theirs.freshness.is_empty());
    let explained = w
        .client
        .explain_indicator(authed(
            api::ExplainIndicatorRequest {
                code: "trainees".into(),
                from: period().from,
                until: period().until,
                ..Default::default()
            },
            &other,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(explained.records.is_empty());
    assert_eq!(explained.total_size, 0);
}
