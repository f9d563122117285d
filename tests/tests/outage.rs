//! Faults between a service and what it depends on: the consumer's database
//! cut for longer than any redelivery budget, a database locked, a consumer
//! killed with events in hand, the bus giving up on an event, requests
//! cancelled mid-transaction. What must hold through all of them: every
//! event applied exactly once by every consumer, a dead letter only for an
//! event that is itself at fault, health telling the truth meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use markaz_e2e::proxy::{Proxy, upstream_of};
use markaz_e2e::{LEDGER, Ledger, all_lines, membership, org_request, register_tenant};
use markaz_kit::app::App;
use markaz_kit::auth::Role;
use markaz_kit::testing::{Backend, TestEnv, authed, eventually, postgres_url};
use markaz_membership::Membership;
use tokio::sync::Mutex;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const TENANT: &str = "outage-tenant";

/// What the service's gRPC health says about `service`.
async fn health_of(app: &App, service: &str) -> ServingStatus {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let answer = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner();
    ServingStatus::try_from(answer.status).unwrap()
}

async fn becomes(app: &App, service: &str, wanted: ServingStatus, within: Duration) -> bool {
    eventually(within, || async move {
        (health_of(app, service).await == wanted).then_some(())
    })
    .await
    .is_some()
}

/// Creates organizations at about 50 a second until stopped, each retried
/// with its request id until acknowledged (the client any service should
/// have), the one numbered `poison_at` named "poison". Returns the ids
/// acknowledged, poison aside.
struct Load {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<String>>,
    acknowledged: Arc<Mutex<usize>>,
}

impl Load {
    fn start(env: &TestEnv, app: &App, poison_at: Option<usize>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(0));
        let token = env.token(TENANT, &[Role::Staff], None);
        let addr = app.grpc_addr();
        let task = tokio::spawn({
            let stop = stop.clone();
            let acknowledged = acknowledged.clone();
            async move {
                let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
                    .unwrap()
                    .connect_lazy();
                let mut c = markaz_proto::membership::v1::membership_service_client::MembershipServiceClient::new(channel);
                let mut ids = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let poison = poison_at == Some(i);
                    let name = if poison {
                        "poison".to_string()
                    } else {
                        format!("load {i}")
                    };
                    let mut request = org_request(&name);
                    request.request_id = uuid_like(i);
                    let created = loop {
                        match c.create_organization(authed(request.clone(), &token)).await {
                            Ok(o) => break o.into_inner(),
                            Err(s) => {
                                assert_eq!(
                                    s.code(),
                                    tonic::Code::Unavailable,
                                    "only the outage may refuse a create: {s:?}"
                                );
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    };
                    if !poison {
                        ids.push(created.id);
                    }
                    *acknowledged.lock().await += 1;
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                ids
            }
        });
        Load {
            stop,
            task,
            acknowledged,
        }
    }

    async fn acknowledged(&self) -> usize {
        *self.acknowledged.lock().await
    }

    async fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

fn uuid_like(i: usize) -> String {
    format!("00000000-0000-7000-8000-{i:012}")
}

/// Waits until the ledger holds exactly one line for each of `ids` and no
/// other, then says whether it does.
async fn applied_exactly_once(
    ledger: &markaz_kit::db::Db,
    ids: &[String],
    within: Duration,
) -> bool {
    let expected: HashMap<String, i64> = ids.iter().map(|id| (id.clone(), 1)).collect();
    let reached = eventually(within, || {
        let expected = expected.clone();
        async move {
            let seen = all_lines(ledger, TENANT).await;
            (seen.len() >= expected.len()).then_some(seen)
        }
    })
    .await;
    let seen = match reached {
        Some(seen) => seen,
        None => all_lines(ledger, TENANT).await,
    };
    let missing = expected.keys().filter(|id| !seen.contains_key(*id)).count();
    let twice = seen.values().filter(|n| **n != 1).count();
    let strangers = seen.keys().filter(|id| !expected.contains_key(*id)).count();
    assert_eq!(
        (missing, twice, strangers),
        (0, 0, 0),
        "missing, applied more than once, unknown — of {} created",
        ids.len()
    );
    true
}

async fn dead_letters(ledger: &markaz_kit::db::Db) -> Vec<markaz_kit::events::DeadLetter> {
    markaz_kit::events::dead_letters(ledger, true)
        .await
        .unwrap()
}

/// Waits for the first dead letters to appear, and returns them all.
async fn dead_letters_appear(ledger: &markaz_kit::db::Db) -> Vec<markaz_kit::events::DeadLetter> {
    eventually(Duration::from_secs(20), || async move {
        let letters = dead_letters(ledger).await;
        (!letters.is_empty()).then_some(letters)
    })
    .await
    .expect("a dead letter is kept")
}

/// The finding this guards against: the consumers' connection to
/// PostgreSQL cut for longer than the whole redelivery budget, several
/// times, under load. Before, JetStream stopped redelivering after its
/// `max_deliver` and the events were gone without a trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_cut_off_from_its_database_loses_no_event() {
    let env = TestEnv::new(Backend::Postgres);
    let producer = env.start(vec![Arc::new(Membership)]).await.unwrap();
    let upstream = upstream_of(&postgres_url());
    let proxy = Proxy::start(upstream).await;
    let consumer = env
        .start_via(
            vec![Arc::new(Ledger)],
            &proxy.url(&postgres_url(), upstream),
        )
        .await
        .unwrap();
    register_tenant(&env, &producer, TENANT).await;
    let ledger = env.db(LEDGER).await.unwrap();

    // A poison event in the same run must still become a dead letter.
    let load = Load::start(&env, &producer, Some(10));
    let budget = env.config.consumer.backoff_ms.iter().sum::<u64>();
    for cycle in 0..3 {
        let before = load.acknowledged().await;
        assert!(
            eventually(Duration::from_secs(10), || async {
                (load.acknowledged().await >= before + 20).then_some(())
            })
            .await
            .is_some(),
            "cycle {cycle}: the load goes on"
        );
        proxy.cut();
        assert!(
            becomes(
                &consumer,
                LEDGER,
                ServingStatus::NotServing,
                Duration::from_secs(5)
            )
            .await,
            "cycle {cycle}: the consumer reports itself unhealthy while cut off"
        );
        // Many times the whole redelivery budget.
        tokio::time::sleep(Duration::from_millis(budget * 20).max(Duration::from_secs(3))).await;
        assert_eq!(
            health_of(&consumer, LEDGER).await,
            ServingStatus::NotServing,
            "cycle {cycle}: still unhealthy while cut off"
        );
        assert_eq!(
            health_of(&producer, "membership").await,
            ServingStatus::Serving,
            "cycle {cycle}: the producer is not cut off"
        );
        proxy.heal();
    }
    let ids = load.finish().await;
    assert!(applied_exactly_once(&ledger, &ids, Duration::from_secs(60)).await);
    let letters = dead_letters_appear(&ledger).await;
    assert_eq!(
        letters.len(),
        1,
        "only the poison is a dead letter: {letters:?}"
    );
    assert!(letters[0].error.contains("poison"), "{}", letters[0].error);
    assert_eq!(
        letters[0].attempts,
        i64::from(env.config.consumer.max_deliver),
        "the poison used its whole budget, no more"
    );
    assert!(
        becomes(
            &consumer,
            LEDGER,
            ServingStatus::Serving,
            Duration::from_secs(5)
        )
        .await,
        "healthy again once healed"
    );
    consumer.shutdown().await;
    producer.shutdown().await;
}

/// A service whose database connection is lost answers UNAVAILABLE, which
/// gRPC clients retry, not INTERNAL; the retry by request id then creates
/// the organization once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_connection_answers_unavailable_and_the_retry_creates_once() {
    let env = TestEnv::new(Backend::Postgres);
    let upstream = upstream_of(&postgres_url());
    let proxy = Proxy::start(upstream).await;
    let app = env
        .start_via(
            vec![Arc::new(Membership)],
            &proxy.url(&postgres_url(), upstream),
        )
        .await
        .unwrap();
    register_tenant(&env, &app, TENANT).await;
    let mut c = membership(&app).await;
    let token = env.token(TENANT, &[Role::Staff], None);
    // Warm pooled connections, then cut them all.
    for i in 0..5 {
        c.create_organization(authed(org_request(&format!("warm {i}")), &token))
            .await
            .unwrap();
    }
    proxy.cut();
    let mut request = org_request("during the cut");
    request.request_id = uuid_like(424242);
    for _ in 0..8 {
        let refused = c
            .create_organization(authed(request.clone(), &token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
        assert!(!refused.message().contains("EOF"), "{}", refused.message());
    }
    assert!(
        becomes(
            &app,
            "membership",
            ServingStatus::NotServing,
            Duration::from_secs(5)
        )
        .await,
        "health says the service cannot work"
    );
    proxy.heal();
    let created = eventually(Duration::from_secs(10), || {
        let mut c = c.clone();
        let (request, token) = (request.clone(), token.clone());
        async move { c.create_organization(authed(request, &token)).await.ok() }
    })
    .await
    .expect("the retry succeeds once the database is back")
    .into_inner();
    let again = c
        .create_organization(authed(request.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, created.id, "the retry is the same organization");
    let listed = c
        .list_organizations(authed(
            markaz_proto::membership::v1::ListOrganizationsRequest {
                page_size: 100,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    let named = listed
        .organizations
        .iter()
        .filter(|o| o.name.as_ref().unwrap().en == "during the cut")
        .count();
    assert_eq!(named, 1, "created exactly once");
    assert!(
        becomes(
            &app,
            "membership",
            ServingStatus::Serving,
            Duration::from_secs(5)
        )
        .await
    );
    app.shutdown().await;
}

/// Embedded mode: the consumer's SQLite file locked by another process
/// (a CLI command, a backup) for longer than SQLite's busy wait. The
/// in-process bus must hold to the same promise as NATS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_consumer_waits_out_a_locked_database() {
    use sqlx::{Connection, Executor};
    let env = TestEnv::new(Backend::Sqlite);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    register_tenant(&env, &app, TENANT).await;
    let ledger = app.db(LEDGER).unwrap().clone();
    let file = env.config.data_dir.join("ledger.db");
    let mut locker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();

    let load = Load::start(&env, &app, Some(30));
    let before = load.acknowledged().await;
    eventually(Duration::from_secs(10), || async {
        (load.acknowledged().await >= before + 10).then_some(())
    })
    .await
    .expect("load flows");
    locker.execute("BEGIN IMMEDIATE").await.unwrap();
    let locked_at = Instant::now();
    assert!(
        becomes(
            &app,
            LEDGER,
            ServingStatus::NotServing,
            Duration::from_secs(15)
        )
        .await,
        "the consumer reports itself unhealthy while its file is locked"
    );
    assert_eq!(health_of(&app, "membership").await, ServingStatus::Serving);
    // Held well beyond SQLite's 5 s busy wait and the whole redelivery budget.
    let hold = Duration::from_secs(8).saturating_sub(locked_at.elapsed());
    tokio::time::sleep(hold).await;
    locker.execute("ROLLBACK").await.unwrap();
    drop(locker);
    let ids = load.finish().await;
    assert!(applied_exactly_once(&ledger, &ids, Duration::from_secs(60)).await);
    let letters = dead_letters_appear(&ledger).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(
        becomes(
            &app,
            LEDGER,
            ServingStatus::Serving,
            Duration::from_secs(10)
        )
        .await
    );
    app.shutdown().await;
}

/// `kill -9` of a consumer holding events it has not acknowledged: once it
/// is started again, everything is applied within seconds (the events it
/// held come back after `ack_wait`, not after 30 s), and exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_with_events_in_flight_catches_up_within_seconds() {
    let env = TestEnv::new(Backend::Postgres);
    env.cleans_up(LEDGER);
    let producer = env.start(vec![Arc::new(Membership)]).await.unwrap();
    register_tenant(&env, &producer, TENANT).await;
    let spawn_ledger = || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ledger"))
            .env("MARKAZ_DATABASE_URL", postgres_url())
            .env("MARKAZ_NATS_URL", env.config.nats_url.clone().unwrap())
            .env("MARKAZ_BUS_NAMESPACE", &env.config.bus_namespace)
            .env("MARKAZ_TEST_SCHEMA_PREFIX", env.id())
            .env("MARKAZ_GRPC_ADDR", "127.0.0.1:0")
            .env("MARKAZ_METRICS_ADDR", "")
            .env("MARKAZ_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the ledger process starts");
        let stdout = child.stdout.take().unwrap();
        let ready = std::thread::spawn(move || {
            use std::io::BufRead;
            std::io::BufReader::new(stdout)
                .lines()
                .any(|l| l.is_ok_and(|l| l == "ready"))
        });
        (child, ready)
    };
    let (mut child, ready) = spawn_ledger();
    assert!(ready.join().unwrap(), "the ledger said ready");
    let ledger = env.db(LEDGER).await.unwrap();

    // A burst of slow events (10 ms each): the consumer is killed while it
    // works through them, with a batch delivered to it and not acknowledged.
    let token = env.token(TENANT, &[Role::Staff], None);
    let c = membership(&producer).await;
    let mut ids = Vec::new();
    for chunk in 0..15 {
        let creates = (0..10).map(|i| {
            let mut c = c.clone();
            let token = token.clone();
            async move {
                c.create_organization(authed(org_request(&format!("slow {chunk}-{i}")), &token))
                    .await
                    .unwrap()
                    .into_inner()
                    .id
            }
        });
        ids.extend(futures::future::join_all(creates).await);
    }
    eventually(Duration::from_secs(15), || async {
        (all_lines(&ledger, TENANT).await.len() >= 20).then_some(())
    })
    .await
    .expect("the ledger consumes");
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let at_kill = all_lines(&ledger, TENANT).await.len();
    assert!(at_kill < ids.len(), "killed with events left to apply");

    let (mut child, ready) = spawn_ledger();
    let restarted = Instant::now();
    assert!(ready.join().unwrap(), "the ledger said ready again");
    assert!(applied_exactly_once(&ledger, &ids, Duration::from_secs(30)).await);
    let caught_up = restarted.elapsed();
    assert!(
        caught_up <= Duration::from_secs(10),
        "applied everything {caught_up:?} after its restart"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    producer.shutdown().await;
}

/// Should a consumer still be bounded on the server (an operator's edit,
/// an older configuration), the events JetStream gives up on are not lost
/// without a trace: each becomes a dead letter, counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_bus_gives_up_on_becomes_a_dead_letter() {
    use async_nats::jetstream::consumer::pull;
    let env = TestEnv::new(Backend::Postgres);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    register_tenant(&env, &app, TENANT).await;
    let ns = env.config.bus_namespace.clone();
    let js = async_nats::jetstream::new(
        async_nats::connect(env.config.nats_url.clone().unwrap())
            .await
            .unwrap(),
    );
    let stream = js
        .get_stream(format!("{}_MEMBERSHIP", ns.to_ascii_uppercase()))
        .await
        .unwrap();
    let durable = "ledger--membership";
    let mut config = stream
        .get_consumer::<pull::Config>(durable)
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    assert_eq!(config.max_deliver, -1, "Markaz sets no server-side bound");
    // Fewer than the consumer loop's own budget: the server gives up first.
    config.max_deliver = 2;
    stream
        .create_consumer(pull::Config {
            durable_name: Some(durable.into()),
            filter_subject: config.filter_subject.clone(),
            ack_policy: config.ack_policy,
            deliver_policy: config.deliver_policy,
            ack_wait: config.ack_wait,
            max_deliver: 2,
            max_ack_pending: config.max_ack_pending,
            ..Default::default()
        })
        .await
        .unwrap();
    let lost_before = lost_by_bus();
    let mut c = membership(&app).await;
    c.create_organization(authed(
        org_request("poison"),
        &env.token(TENANT, &[Role::Staff], None),
    ))
    .await
    .unwrap();
    let ledger = app.db(LEDGER).unwrap().clone();
    let letter = dead_letters_appear(&ledger).await.remove(0);
    assert!(
        letter.error.contains("the bus stopped delivering"),
        "{}",
        letter.error
    );
    assert_eq!(letter.event_type, "markaz.events.v1.OrganizationRegistered");
    assert_eq!(letter.attempts, 2);
    assert!(lost_by_bus() > lost_before, "the loss is counted");
    app.shutdown().await;
}

fn lost_by_bus() -> u64 {
    markaz_kit::telemetry::metrics()
        .events_lost_by_bus
        .get_or_create(&markaz_kit::telemetry::ConsumerLabels {
            consumer: LEDGER.to_string(),
        })
        .get()
}
