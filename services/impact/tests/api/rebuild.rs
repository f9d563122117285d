//! `markaz impact rebuild`'s engine: the figures rebuilt from the event
//! history arrive at the same numbers — even after the live facts were
//! damaged — an event applied live during the rebuild is not lost, one
//! family can be rebuilt alone, and a history that lacks events is refused
//! before anything is written.

use markaz_impact::domain::Family;
use markaz_impact::rebuild::rebuild;
use markaz_impact::store::generations;
use markaz_kit::bus::Outgoing;
use markaz_kit::events::history::History;
use markaz_proto::common::v1::Date;
use prost::Message;

use crate::figures::{Activity, assert_figures, period};
use crate::world::*;

both_backends!(a_rebuild_arrives_at_the_same_figures, one_family_alone);

/// The activity's events, written where the backend's history is (an
/// event twice is kept once, as the stream's and the outbox's event ids
/// make it): each producer's stream on NATS; on SQLite, published rows of
/// an outbox (one
/// database stands for every producer's here, so each producer's replay
/// reads them all — applying an event again must change nothing anyway).
async fn history(w: &World, events: &[ev::Envelope]) -> History {
    let db = w.app.app.db("impact").unwrap().clone();
    match w.app.app.bus() {
        bus if bus.is_local() => {
            let mut tx = db.system().await.unwrap();
            for e in events {
                sqlx::query(
                    "INSERT INTO markaz_outbox (event_id, tenant_id, aggregate_id, event_name,
                        envelope, created_at, published_at)
                     VALUES ($1, $2, '', $3, $4, 1, 2)
                     ON CONFLICT (event_id) DO NOTHING",
                )
                .bind(&e.id)
                .bind(&e.tenant_id)
                .bind(e.r#type.rsplit('.').next().unwrap().to_string())
                .bind(e.encode_to_vec())
                .execute(tx.conn())
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
            let producers = [
                "membership",
                "capacity",
                "grants",
                "networking",
                "resources",
            ];
            History::Outboxes(
                producers
                    .iter()
                    .map(|p| (p.to_string(), db.clone()))
                    .collect(),
            )
        }
        bus => {
            for e in events {
                bus.ensure_producer(&e.producer).await.unwrap();
                let outgoing = Outgoing {
                    event_id: e.id.clone(),
                    event_name: e.r#type.rsplit('.').next().unwrap().to_string(),
                    traceparent: String::new(),
                    envelope: e.encode_to_vec().into(),
                };
                let (sent, result) = bus.publish(&e.producer, &[outgoing]).await;
                result.unwrap();
                assert_eq!(sent, 1);
            }
            History::Streams(bus.clone())
        }
    }
}

async fn damage_the_live_facts(w: &World) {
    let db = w.app.app.db("impact").unwrap();
    let mut tx = db.write(TENANT).await.unwrap();
    for table in ["impact_trainees", "impact_awards", "impact_events_held"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1"
        )))
        .bind(TENANT)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// A networking event that is in no history: only the live consumer sees it.
fn late_event() -> ev::Envelope {
    envelope(
        "networking",
        TENANT,
        &ev::EventHeld {
            event_id: markaz_kit::rpc::new_id(),
            kind: "local_administration_meeting".into(),
            branch_id: "raqqa".into(),
            held_on: Some(Date {
                year: 2025,
                month: 6,
                day: 1,
            }),
            version: 1,
            ..Default::default()
        },
    )
}

fn total(figures: &api::GetIndicatorsResponse, code: &str) -> i64 {
    figures
        .indicators
        .iter()
        .find(|i| i.definition.as_ref().unwrap().code == code)
        .unwrap()
        .total
}

async fn a_rebuild_arrives_at_the_same_figures(backend: Backend) {
    let mut w = world(backend).await;
    let activity = Activity::generate(46);
    let events = activity.envelopes(TENANT);
    for e in &events {
        w.deliver_envelope(e).await;
    }
    let before = w.figures(period()).await;
    let history = history(&w, &activity.shuffled(3)).await;
    damage_the_live_facts(&w).await;
    assert_ne!(w.figures(period()).await.indicators, before.indicators);

    // While the replay runs, an event arrives live: it must be in the
    // rebuilt figures, though no history holds it.
    let db = w.app.app.db("impact").unwrap().clone();
    let (late, handle) = (late_event(), tokio::runtime::Handle::current());
    let mut delivered = false;
    let done = rebuild(&db, &history, &Family::ALL, |_, _| {
        if !delivered {
            delivered = true;
            tokio::task::block_in_place(|| handle.block_on(w.deliver_envelope(&late)));
        }
    })
    .await
    .expect("the rebuild");
    assert!(delivered);
    assert!(done.read as usize >= events.len(), "{done:?}");
    assert!(done.applied > 0, "{done:?}");
    assert_eq!(done.skipped, 0);
    assert!(done.deleted > 0, "the retired generation's rows go");
    for f in Family::ALL {
        assert_eq!(done.generations[&f], 2, "{f:?}");
    }
    assert_eq!(generations::current(&db).await.unwrap(), done.generations);

    let after = w.figures(period()).await;
    let mut expected = before.indicators.clone();
    for figures in &mut expected {
        let code = figures.definition.as_ref().unwrap().code.clone();
        if code == "networking_events_held" || code == "local_administration_meetings" {
            figures.total += 1;
        }
    }
    assert_eq!(after.indicators, expected);
}

async fn one_family_alone(backend: Backend) {
    let mut w = world(backend).await;
    let activity = Activity::generate(47);
    for e in activity.envelopes(TENANT) {
        w.deliver_envelope(&e).await;
    }
    let history = history(&w, &activity.envelopes(TENANT)).await;
    damage_the_live_facts(&w).await;
    let db = w.app.app.db("impact").unwrap().clone();
    let done = rebuild(&db, &history, &[Family::Courses], |_, _| {})
        .await
        .unwrap();
    assert_eq!(done.generations.len(), 1);
    let current = generations::current(&db).await.unwrap();
    assert_eq!(current[&Family::Courses], 2);
    assert_eq!(current[&Family::Grants], 1);
    let figures = w.figures(period()).await;
    // The trainees are back; the awards, not rebuilt, are still gone.
    assert!(total(&figures, "trainees") > 0);
    assert_eq!(total(&figures, "community_projects_funded"), 0);
    // A full rebuild makes every figure right again.
    rebuild(&db, &history, &Family::ALL, |_, _| {})
        .await
        .unwrap();
    assert_figures(&mut w, &activity).await;
}

/// A history that lost its first events (an outbox purged before the
/// history was kept) is refused, naming the producer, and nothing moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_history_is_refused() {
    let w = world(Backend::Sqlite).await;
    let activity = Activity::generate(48);
    let history = history(&w, &activity.envelopes(TENANT)).await;
    let db = w.app.app.db("impact").unwrap().clone();
    let mut tx = db.system().await.unwrap();
    sqlx::query("DELETE FROM markaz_outbox WHERE seq = 1")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let err = rebuild(&db, &history, &Family::ALL, |_, _| {})
        .await
        .unwrap_err();
    match err {
        markaz_kit::error::Error::FailedPrecondition {
            kind, description, ..
        } => {
            assert_eq!(kind, markaz_kit::events::history::HISTORY_INCOMPLETE);
            assert!(description.contains("purged"), "{description}");
        }
        other => panic!("not refused: {other:?}"),
    }
    let current = generations::current(&db).await.unwrap();
    assert!(current.values().all(|g| *g == 1));
}
