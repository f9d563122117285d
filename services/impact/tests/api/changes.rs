//! The change feed: a donor's nightly sync reads only what changed since
//! its cursor — a project's new tranche, an agreement revoked — and after a
//! revocation nothing the agreement shared.

use std::time::Duration;

use markaz_kit::rpc::new_id;
use markaz_proto::common::v1::Money;
use markaz_proto::donors::v1 as donors;
use markaz_proto::donors::v1::change::What;

use crate::donors::{DONOR, Donors, project_events};
use crate::world::*;

both_backends!(
    the_feed_gives_what_changed_and_stops_at_a_revocation,
    a_watch_pushes_changes_and_a_revocation_ends_it
);

/// Follows the feed from `cursor` until `want` holds of what it gave, for
/// at most 20 s (changes show once they are 5 s old); the changes and the
/// cursor after them.
async fn follow(
    d: &mut Donors,
    token: &str,
    mut cursor: String,
    want: impl Fn(&[donors::Change]) -> bool,
) -> (Vec<donors::Change>, String) {
    let mut seen = Vec::new();
    let mut client = d.donors.clone();
    // As `eventually` does: the condition polled until a deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut done = None;
    while done.is_none() {
        loop {
            let page = client
                .list_changes(authed(
                    donors::ListChangesRequest {
                        cursor: cursor.clone(),
                        page_size: 2,
                    },
                    token,
                ))
                .await
                .expect("changes")
                .into_inner();
            seen.extend(page.changes);
            cursor = page.next_cursor;
            if !page.more {
                break;
            }
        }
        if want(&seen) {
            done = Some(());
        } else if tokio::time::Instant::now() >= deadline {
            break;
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(
        done.is_some(),
        "the feed never gave what was expected: {seen:#?}"
    );
    (seen, cursor)
}

async fn the_feed_gives_what_changed_and_stops_at_a_revocation(backend: Backend) {
    let mut d = Donors::new(backend).await;
    d.register(DONOR).await;
    let token = d.donor_token(DONOR, &[TENANT, OTHER_TENANT]);
    let (p1, p2) = (new_id(), new_id());
    let (a1, first) = project_events(TENANT, &p1, [20, 3, 1]);
    let (_, other) = project_events(TENANT, &p2, [9, 9, 0]);
    for e in first.iter().take(1).chain(other.iter()) {
        d.w.deliver_envelope(e).await;
    }
    let share = d.share(TENANT, DONOR, &[&p1], &["trainees"]).await;

    // A bad cursor is refused by field.
    let bad = d
        .donors
        .list_changes(authed(
            donors::ListChangesRequest {
                cursor: "made-up".into(),
                page_size: 0,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bad), vec!["cursor"]);

    // From the start cursor, the award and the agreement arrive once
    // settled; the unshared program never does.
    let start = d
        .donors
        .get_start_cursor(authed(donors::GetStartCursorRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .cursor;
    let share_id = share.id.clone();
    let (seen, cursor) = follow(&mut d, &token, start, |c| {
        c.iter()
            .any(|c| matches!(&c.what, Some(What::FundedProject(p)) if p.award_id == a1))
            && c.iter()
                .any(|c| matches!(&c.what, Some(What::ShareAgreement(s)) if s.id == share_id))
    })
    .await;
    assert!(seen.iter().all(|c| match &c.what {
        Some(What::FundedProject(p)) => p.program_id == p1,
        Some(What::ShareAgreement(s)) => s.id == share.id,
        None => false,
    }));
    // Nothing changed: the same position, no changes.
    let (quiet, cursor) = follow(&mut d, &token, cursor, |_| true).await;
    assert!(quiet.is_empty(), "{quiet:#?}");

    // A tranche paid: the project comes again, with what was paid.
    d.w.deliver_envelope(&first[2]).await;
    let (seen, cursor) = follow(&mut d, &token, cursor, |c| !c.is_empty()).await;
    assert_eq!(seen.len(), 1);
    let Some(What::FundedProject(p)) = &seen[0].what else {
        panic!("{seen:#?}")
    };
    assert_eq!(
        p.disbursed,
        Some(Money {
            currency_code: "USD".into(),
            minor_units: 600_000
        })
    );

    // The project ends, then the agreement is revoked: the feed gives the
    // revocation, once, and not the project's end, which it no longer
    // shares.
    d.w.deliver_envelope(&first[3]).await;
    let admin = d.admin(TENANT);
    d.sharing
        .revoke_share_agreement(authed(
            donors::RevokeShareAgreementRequest {
                id: share.id.clone(),
                reason: "انتهت المنحة".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let (seen, cursor) = follow(&mut d, &token, cursor, |c| !c.is_empty()).await;
    assert!(matches!(&seen[..], [c] if matches!(&c.what,
        Some(What::ShareAgreement(s)) if s.state == donors::ShareState::Revoked as i32)));
    let (after, _) = follow(&mut d, &token, cursor, |_| true).await;
    assert!(after.is_empty(), "{after:#?}");
    // Every page that answered something was audited.
    let staff = d.w.app.token(TENANT, &[Role::Staff], None);
    let reads = d
        .sharing
        .list_donor_reads(authed(donors::ListDonorReadsRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner()
        .reads;
    assert!(reads.iter().all(|r| r.method == "ListChanges"));
    assert!(reads.len() >= 3);
}

async fn a_watch_pushes_changes_and_a_revocation_ends_it(backend: Backend) {
    let mut d = Donors::new(backend).await;
    d.register(DONOR).await;
    for e in crate::figures::Activity::generate(7).envelopes(TENANT) {
        d.w.deliver_envelope(&e).await;
    }
    let share = d
        .share(
            TENANT,
            DONOR,
            &[],
            &["trainees", "community_projects_funded"],
        )
        .await;
    let token = d.donor_token(DONOR, &[TENANT]);
    let bad = d
        .donors
        .watch_indicators(authed(donors::WatchIndicatorsRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&bad), vec!["from", "until"]);

    let mut stream = d
        .donors
        .watch_indicators(authed(
            donors::WatchIndicatorsRequest {
                from: crate::donors::day(2025, 1, 1),
                until: crate::donors::day(2025, 3, 31),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("a watch")
        .into_inner();
    let first = next(&mut stream)
        .await
        .unwrap()
        .expect("the figures at once");
    assert_eq!(first.figures.len(), 2);
    let projects = |r: &donors::WatchIndicatorsResponse| -> Option<(i64, bool)> {
        r.figures
            .iter()
            .find(|f| f.code == "community_projects_funded")
            .and_then(|f| f.total.as_ref())
            .map(|v| (v.value, v.suppressed))
    };
    let before = projects(&first).expect("the projects' figure");
    // Seven awards more starting in the quarter: the figure, published
    // now, is pushed. (A change inside a withheld value shows nothing, so
    // it pushes nothing: the figures compared are the donor's.)
    for _ in 0..7 {
        let (_, events) = project_events(TENANT, &new_id(), [5, 5, 0]);
        d.w.deliver_envelope(&events[0]).await;
    }
    let second = next(&mut stream).await.unwrap().expect("the change");
    let after = projects(&second).expect("the projects' figure");
    assert!(!after.1, "{after:?}");
    assert!(before.1 || after.0 >= before.0 + 7, "{before:?} {after:?}");
    assert_ne!(first.figures, second.figures);

    // Revoked: the stream ends, saying why.
    let admin = d.admin(TENANT);
    d.sharing
        .revoke_share_agreement(authed(
            donors::RevokeShareAgreementRequest {
                id: share.id.clone(),
                reason: "انتهت المنحة".into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let ended = next(&mut stream).await.unwrap_err();
    assert_eq!(ended.code(), Code::FailedPrecondition);
    // Two pushes, two reads in the audit.
    let staff = d.w.app.token(TENANT, &[Role::Staff], None);
    let reads = d
        .sharing
        .list_donor_reads(authed(donors::ListDonorReadsRequest::default(), &staff))
        .await
        .unwrap()
        .into_inner()
        .reads;
    assert_eq!(
        reads
            .iter()
            .filter(|r| r.method == "WatchIndicators")
            .count(),
        2
    );
}

/// The watch's next message, within 20 s.
async fn next(
    s: &mut tonic::Streaming<donors::WatchIndicatorsResponse>,
) -> Result<Option<donors::WatchIndicatorsResponse>, tonic::Status> {
    tokio::time::timeout(Duration::from_secs(20), s.message())
        .await
        .expect("the watch answers within 20 s")
}
