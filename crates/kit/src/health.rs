//! Whether each service of the process can do its work right now.
//!
//! A service serves when its database answers, the event bus is connected
//! and none of its consumers is paused waiting for its database. That one
//! verdict is reported everywhere an operator or an orchestrator looks:
//!
//! * gRPC health (`grpc.health.v1`) under each of the service's gRPC names
//!   and its short name (`membership`), and under `""` for the whole process;
//! * `/readyz` on the metrics port (the whole process);
//! * the `markaz_service_serving{service}` and
//!   `markaz_consumer_blocked{consumer,producer}` gauges;
//! * the log: one line when a service stops serving (with every reason),
//!   one when it serves again (with how long it did not), and a reminder
//!   once a minute in between — never a line per failed request or event.
//!
//! [`Health::run`] probes the databases and the bus every second; consumers
//! report a pause at once through [`Health::consumer_blocked`].

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::bus::Bus;
use crate::db::Db;
use crate::telemetry::{self, ConsumerProducerLabels, ServiceLabels};

/// How often the databases and the bus are probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a probe may take before the database counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a service that still does not serve is mentioned in the log.
const REMINDER_EVERY: Duration = Duration::from_secs(60);

/// The health of the process's services; cheap to clone.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health").finish_non_exhaustive()
    }
}

struct Inner {
    reporter: HealthReporter,
    services: Vec<ServiceHealth>,
    bus_connected: AtomicBool,
    /// What `/readyz` answers.
    ready: Arc<AtomicBool>,
    /// Set once shutdown began: the verdicts are no longer published.
    stopping: AtomicBool,
    changed: Notify,
}

struct ServiceHealth {
    name: &'static str,
    grpc_names: Vec<&'static str>,
    /// Whether its work needs the bus (the platform service's does not).
    uses_bus: bool,
    database_up: AtomicBool,
    /// Producers whose events this service's consumer holds, waiting.
    blocked: Mutex<BTreeSet<&'static str>>,
    reported: Mutex<Reported>,
}

/// What was last published for a service.
struct Reported {
    /// `None` until the first verdict.
    serving: Option<bool>,
    since: Instant,
    reminded: Instant,
}

impl Health {
    /// Health for `services` (short name, gRPC service names, whether it
    /// needs the bus), all serving until a probe says otherwise. Nothing is
    /// published before [`Health::publish`] or [`Health::run`].
    pub fn new(
        reporter: HealthReporter,
        services: Vec<(&'static str, Vec<&'static str>, bool)>,
        ready: Arc<AtomicBool>,
    ) -> Health {
        let now = Instant::now();
        Health {
            inner: Arc::new(Inner {
                reporter,
                services: services
                    .into_iter()
                    .map(|(name, grpc_names, uses_bus)| ServiceHealth {
                        name,
                        grpc_names,
                        uses_bus,
                        database_up: AtomicBool::new(true),
                        blocked: Mutex::default(),
                        reported: Mutex::new(Reported {
                            serving: None,
                            since: now,
                            reminded: now,
                        }),
                    })
                    .collect(),
                bus_connected: AtomicBool::new(true),
                ready,
                stopping: AtomicBool::new(false),
                changed: Notify::new(),
            }),
        }
    }

    /// A consumer of `service` pauses (`true`: it holds events of
    /// `producer` until its database answers) or resumes (`false`).
    pub fn consumer_blocked(
        &self,
        service: &str,
        consumer: &str,
        producer: &'static str,
        blocked: bool,
    ) {
        telemetry::metrics()
            .consumer_blocked
            .get_or_create(&ConsumerProducerLabels {
                consumer: consumer.to_string(),
                producer: producer.to_string(),
            })
            .set(i64::from(blocked));
        if let Some(s) = self.inner.services.iter().find(|s| s.name == service) {
            let mut set = s.blocked.lock().expect("health lock");
            let changed = if blocked {
                set.insert(producer)
            } else {
                set.remove(producer)
            };
            if changed {
                self.inner.changed.notify_one();
            }
        }
    }

    /// Whether `service` serves, as last published.
    pub fn is_serving(&self, service: &str) -> bool {
        self.inner
            .services
            .iter()
            .find(|s| s.name == service)
            .is_some_and(|s| s.reported.lock().expect("health lock").serving == Some(true))
    }

    /// Probes every second and publishes each change until `stop`.
    pub async fn run(self, dbs: HashMap<&'static str, Db>, bus: Bus, stop: CancellationToken) {
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.probe(&dbs, &bus).await,
                _ = self.inner.changed.notified() => {}
                _ = stop.cancelled() => return,
            }
            self.publish().await;
        }
    }

    async fn probe(&self, dbs: &HashMap<&'static str, Db>, bus: &Bus) {
        let probes = self.inner.services.iter().map(|s| async move {
            let up = match dbs.get(s.name) {
                Some(db) => db.probe(PROBE_TIMEOUT).await.is_ok(),
                None => true,
            };
            s.database_up.store(up, Ordering::Relaxed);
        });
        futures::future::join_all(probes).await;
        self.inner
            .bus_connected
            .store(bus.is_connected(), Ordering::Relaxed);
    }

    /// Publishes the current verdicts: gRPC health, readiness, gauges, log.
    pub async fn publish(&self) {
        if self.inner.stopping.load(Ordering::Relaxed) {
            return;
        }
        let bus_up = self.inner.bus_connected.load(Ordering::Relaxed);
        let mut all_serving = true;
        for s in &self.inner.services {
            let mut reasons = Vec::new();
            if !s.database_up.load(Ordering::Relaxed) {
                reasons.push("its database does not answer".to_string());
            }
            if !bus_up && s.uses_bus {
                reasons.push("the event bus is disconnected".to_string());
            }
            for producer in s.blocked.lock().expect("health lock").iter() {
                reasons.push(format!("its consumer of {producer} events is paused"));
            }
            let serving = reasons.is_empty();
            all_serving &= serving;
            let change = {
                let mut r = s.reported.lock().expect("health lock");
                let now = Instant::now();
                if r.serving != Some(serving) {
                    let before = r.serving.replace(serving);
                    let lasted = now - r.since;
                    r.since = now;
                    r.reminded = now;
                    Some((before, lasted))
                } else {
                    if !serving && now - r.reminded >= REMINDER_EVERY {
                        r.reminded = now;
                        tracing::warn!(service = s.name, down_for = ?(now - r.since), reasons = %reasons.join("; "), "still not serving");
                    }
                    None
                }
            };
            let Some((before, lasted)) = change else {
                continue;
            };
            let status = if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            for name in s.grpc_names.iter().chain(std::iter::once(&s.name)) {
                self.inner.reporter.set_service_status(*name, status).await;
            }
            telemetry::metrics()
                .service_serving
                .get_or_create(&ServiceLabels { service: s.name })
                .set(i64::from(serving));
            match (before, serving) {
                // Serving from the start is no news.
                (None, true) => {}
                (Some(_), true) => {
                    tracing::info!(service = s.name, after = ?lasted, "serving again")
                }
                (_, false) => {
                    tracing::warn!(service = s.name, reasons = %reasons.join("; "), "not serving")
                }
            }
        }
        let overall = if all_serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.inner.reporter.set_service_status("", overall).await;
        self.inner.ready.store(all_serving, Ordering::Relaxed);
    }

    /// Shutdown: every service NOT_SERVING from now on, whatever the probes say.
    pub async fn stop_serving(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
        self.inner.ready.store(false, Ordering::Relaxed);
        for s in &self.inner.services {
            for name in s.grpc_names.iter().chain(std::iter::once(&s.name)) {
                self.inner
                    .reporter
                    .set_service_status(*name, ServingStatus::NotServing)
                    .await;
            }
        }
        self.inner
            .reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
    }
}
