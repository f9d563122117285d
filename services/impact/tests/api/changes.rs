//! The change feed: a donor's nightly sync reads only what changed since
//! its cursor — a project's new tranche, an agreement revoked — and after a
//! revocation nothing the agreement shared.

use std::time::Duration;

use markaz_kit::rpc::new_id;
use markaz_proto::common::v1::Money;
use markaz_proto::donors::v1 as donors;
use markaz_proto::donors::v1::change::What;

use crate::donors::{DONOR, Donors, day, project_events};
use crate::figures::Activity;
use crate::world::*;

both_backends!(
    the_feed_gives_what_changed_and_stops_at_a_revocation,
    a_watch_pushes_changes_and_a_revocation_ends_it,
    a_bulk_export_streams_everything_shared_then_a_cursor,
    shared_figures_come_in_the_feed_when_the_donors_view_changes
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
        // The shared indicator's quarters, new with the agreement.
        Some(What::Figures(f)) => f.code == "trainees",
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
    d.revoke(TENANT, &share.id).await;
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
    assert!(projects(&first).is_some(), "the projects' figure");
    // Seven awards more starting in the quarter: the figure, published
    // now, is pushed. (A change inside a withheld value shows nothing, so
    // it pushes nothing: the figures compared are the donor's.)
    for _ in 0..7 {
        let (_, events) = project_events(TENANT, &new_id(), [5, 5, 0]);
        d.w.deliver_envelope(&events[0]).await;
    }
    // What the staff count once all seven are in.
    let q1 = first
        .figures
        .iter()
        .find(|f| f.code == "community_projects_funded")
        .unwrap();
    let counted = d
        .staff_figure(TENANT, "community_projects_funded", q1.from, q1.until, None)
        .await
        .total;
    assert!(counted >= 7);
    // The watch wakes on each write: a push per change the donor can
    // see, until the figure is the staff's count with all seven.
    let mut pushes = 0;
    let mut previous = first.clone();
    let after = loop {
        let pushed = next(&mut stream).await.unwrap().expect("the change");
        pushes += 1;
        assert_ne!(previous.figures, pushed.figures, "a push is a change");
        let after = projects(&pushed).expect("the projects' figure");
        if after == (counted, false) {
            break after;
        }
        assert!(pushes < 7, "seven awards, at most seven pushes");
        previous = pushed;
    };
    assert!(!after.1, "{after:?}");

    // Revoked: the stream ends, saying why.
    d.revoke(TENANT, &share.id).await;
    let ended = next(&mut stream).await.unwrap_err();
    assert_eq!(ended.code(), Code::FailedPrecondition);
    // Each push a read in the audit, the first answer too.
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
        1 + pushes
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

async fn a_bulk_export_streams_everything_shared_then_a_cursor(backend: Backend) {
    let mut d = Donors::new(backend).await;
    d.register(DONOR).await;
    for e in Activity::generate(7).envelopes(TENANT) {
        d.w.deliver_envelope(&e).await;
    }
    let (p1, p2) = (new_id(), new_id());
    for (program, reached) in [(&p1, [20, 3, 1]), (&p1, [7, 7, 7]), (&p2, [9, 9, 0])] {
        for e in project_events(TENANT, program, reached).1 {
            d.w.deliver_envelope(&e).await;
        }
    }
    d.share(TENANT, DONOR, &[&p1], &["trainees", "courses_held"])
        .await;
    let token = d.donor_token(DONOR, &[TENANT]);

    // A bad request is the call's status, by field, before any message.
    let bad = d
        .donors
        .export(authed(
            donors::ExportRequest {
                from: day(2025, 1, 2),
                until: day(2025, 12, 30),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&bad), vec!["from", "until"]);

    let year = donors::ExportRequest {
        from: day(2025, 1, 1),
        until: day(2025, 12, 31),
        group_by: vec![Dimension::Branch as i32],
        tenant_id: String::new(),
    };
    let mut stream = d
        .donors
        .export(authed(year.clone(), &token))
        .await
        .expect("an export")
        .into_inner();
    let mut messages = Vec::new();
    while let Some(m) = stream.message().await.expect("a message") {
        messages.push(m);
    }
    let (last, chunks) = messages.split_last().expect("at least the cursor");
    assert!(!last.cursor.is_empty());
    assert!(last.figures.is_empty() && last.projects.is_empty());
    assert!(
        chunks
            .iter()
            .all(|m| m.cursor.is_empty() && m.figures.len() <= 100 && m.projects.len() <= 100)
    );
    // Everything the lists give, figures first, the same values.
    let figures: Vec<donors::DonorFigures> =
        chunks.iter().flat_map(|m| m.figures.clone()).collect();
    let listed = d
        .donors
        .get_indicators(authed(
            donors::GetIndicatorsRequest {
                from: year.from,
                until: year.until,
                group_by: year.group_by.clone(),
                page_size: 100,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(figures, listed.figures);
    assert_eq!(figures.len(), listed.total_size as usize);
    assert!(figures.len() >= 4, "trainees of four quarters at least");
    let projects: Vec<donors::FundedProject> =
        chunks.iter().flat_map(|m| m.projects.clone()).collect();
    let shared = d
        .donors
        .list_funded_projects(authed(donors::ListFundedProjectsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .projects;
    assert_eq!(projects, shared);
    assert_eq!(projects.len(), 2, "the shared program's two awards only");
    let first_projects = chunks.iter().position(|m| !m.projects.is_empty()).unwrap();
    assert!(
        chunks[first_projects..]
            .iter()
            .all(|m| m.figures.is_empty())
    );
    // The cursor continues the feed.
    d.donors
        .list_changes(authed(
            donors::ListChangesRequest {
                cursor: last.cursor.clone(),
                page_size: 10,
            },
            &token,
        ))
        .await
        .expect("the export's cursor is the feed's");
    // Audited as the export's reads.
    let reads = d.reads(TENANT).await;
    assert!(reads.iter().filter(|r| r.method == "Export").count() >= 2);
}

fn figures_of(changes: &[donors::Change]) -> Vec<&donors::DonorFigures> {
    changes
        .iter()
        .filter_map(|c| match &c.what {
            Some(What::Figures(f)) => Some(f),
            _ => None,
        })
        .collect()
}

async fn shared_figures_come_in_the_feed_when_the_donors_view_changes(backend: Backend) {
    let mut d = Donors::new(backend).await;
    d.register(DONOR).await;
    for e in Activity::generate(7).envelopes(TENANT) {
        d.w.deliver_envelope(&e).await;
    }
    let token = d.donor_token(DONOR, &[TENANT]);
    let start = d
        .donors
        .get_start_cursor(authed(donors::GetStartCursorRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .cursor;
    let code = "community_projects_funded";
    let share = d.share(TENANT, DONOR, &[], &[code]).await;

    // The agreement is new to the cursor, and so are its four quarters:
    // each comes once, as the donor sees it.
    let (seen, cursor) = follow(&mut d, &token, start, |c| figures_of(c).len() >= 4).await;
    let figures = figures_of(&seen);
    let quarters: Vec<&str> = figures.iter().map(|f| f.quarter.as_str()).collect();
    assert_eq!(quarters, vec!["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]);
    assert!(
        figures
            .iter()
            .all(|f| f.code == code && f.share_agreement_id == share.id)
    );
    let listed = d
        .donors
        .get_indicators(authed(
            donors::GetIndicatorsRequest {
                codes: vec![code.into()],
                from: day(2025, 1, 1),
                until: day(2025, 12, 31),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .figures;
    for (f, l) in figures.iter().zip(&listed) {
        // The feed's figure is the whole protected table: the same total
        // as the list's, withheld or not.
        assert_eq!(f.total, l.total, "{}", f.quarter);
    }
    let q1 = figures[0].total.unwrap();
    let (quiet, cursor) = follow(&mut d, &token, cursor, |_| true).await;
    assert!(figures_of(&quiet).is_empty(), "{quiet:#?}");

    // Seven projects more in the first quarter: that quarter comes again,
    // with the new count, and no other.
    for _ in 0..7 {
        let (_, events) = project_events(TENANT, &new_id(), [5, 5, 0]);
        d.w.deliver_envelope(&events[0]).await;
    }
    let (seen, cursor) = follow(&mut d, &token, cursor, |c| !figures_of(c).is_empty()).await;
    let again = figures_of(&seen);
    assert_eq!(again.len(), 1, "{seen:#?}");
    assert_eq!(again[0].quarter, "2025-Q1");
    let now = again[0].total.unwrap();
    assert!(!now.suppressed);
    assert!(q1.suppressed || now.value == q1.value + 7, "{q1:?} {now:?}");

    // Revoked: the revocation comes, and no figure after it, however the
    // data moves.
    d.revoke(TENANT, &share.id).await;
    let (_, events) = project_events(TENANT, &new_id(), [5, 5, 0]);
    d.w.deliver_envelope(&events[0]).await;
    let (seen, cursor) = follow(&mut d, &token, cursor, |c| !c.is_empty()).await;
    assert!(matches!(&seen[..], [c] if matches!(&c.what,
        Some(What::ShareAgreement(s)) if s.state == donors::ShareState::Revoked as i32)));
    let (after, _) = follow(&mut d, &token, cursor, |_| true).await;
    assert!(after.is_empty(), "{after:#?}");
    // The pages with figures are reads of the indicator.
    let reads = d.reads(TENANT).await;
    assert!(
        reads
            .iter()
            .any(|r| r.method == "ListChanges" && r.indicator_codes == vec![code.to_string()])
    );
}
