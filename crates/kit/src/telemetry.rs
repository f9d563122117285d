//! Logs, traces and metrics.
//!
//! * Logs and spans go through `tracing`; [`init`] installs a text or JSON
//!   formatter and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, an OpenTelemetry
//!   layer exporting spans over OTLP/gRPC.
//! * W3C trace context crosses process boundaries: [`traceparent_of`] reads the
//!   `traceparent` of the current span (or the one the request came with, when
//!   no exporter is configured) so it can ride in gRPC metadata, in the event
//!   envelope and in NATS headers; [`enter_remote`] continues it on the other side.
//! * [`metrics`] is the process's Prometheus registry, served on `/metrics`
//!   by [`serve_metrics`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogConfig;

static OTEL_ENABLED: OnceLock<bool> = OnceLock::new();

/// Flushes exported spans when dropped at the end of `main`.
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides `config.filter`.
/// With an `otlp_endpoint` (the binary passes `OTEL_EXPORTER_OTLP_ENDPOINT`)
/// spans are exported over OTLP/gRPC as well.
pub fn init(config: &LogConfig, service_name: &str, otlp_endpoint: Option<&str>) -> TelemetryGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr, so what a command prints on stdout stays clean.
    let fmt = if config.format == "json" {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        use std::io::IsTerminal;
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed()
    };
    let endpoint = otlp_endpoint
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string);
    let mut provider = None;
    let otel = endpoint.and_then(|endpoint| {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| eprintln!("OpenTelemetry export disabled: {e}"))
            .ok()?;
        let p = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(service_name.to_string())
                    .build(),
            )
            .build();
        let tracer = p.tracer("markaz");
        provider = Some(p);
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    });
    let _ = OTEL_ENABLED.set(otel.is_some());
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    TelemetryGuard { provider }
}

fn otel_enabled() -> bool {
    OTEL_ENABLED.get().copied().unwrap_or(false)
}

tokio::task_local! {
    /// The trace context a request or event arrived with, carried along when
    /// no OpenTelemetry layer turns it into real spans.
    static REMOTE_PARENT: String;
}

/// The W3C `traceparent` to send onward from the current context ("" if none).
pub fn traceparent_of(span: &tracing::Span) -> String {
    if otel_enabled() {
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            return format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            );
        }
    }
    REMOTE_PARENT.try_with(|p| p.clone()).unwrap_or_default()
}

/// The current span's `traceparent`.
pub fn current_traceparent() -> String {
    traceparent_of(&tracing::Span::current())
}

/// Runs `fut` as the continuation of the remote `traceparent`: the span
/// becomes its child when exporting, and the value is passed on otherwise.
pub async fn enter_remote<F: std::future::Future>(
    traceparent: &str,
    span: tracing::Span,
    fut: F,
) -> F::Output {
    use tracing::Instrument;
    if !traceparent.is_empty() && otel_enabled() {
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_string(), traceparent.to_string());
        let cx = TraceContextPropagator::new().extract(&carrier);
        let _ = span.set_parent(cx);
    }
    REMOTE_PARENT
        .scope(traceparent.to_string(), fut.instrument(span))
        .await
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub service: &'static str,
    pub method: &'static str,
    pub code: Code,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub service: &'static str,
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    pub service: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerLabels {
    pub consumer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumerProducerLabels {
    pub consumer: String,
    pub producer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumedLabels {
    pub consumer: String,
    pub outcome: Outcome,
}

/// A gRPC status code as a metric label.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum Code {
    OK,
    CANCELLED,
    UNKNOWN,
    INVALID_ARGUMENT,
    DEADLINE_EXCEEDED,
    NOT_FOUND,
    ALREADY_EXISTS,
    PERMISSION_DENIED,
    RESOURCE_EXHAUSTED,
    FAILED_PRECONDITION,
    ABORTED,
    OUT_OF_RANGE,
    UNIMPLEMENTED,
    INTERNAL,
    UNAVAILABLE,
    DATA_LOSS,
    UNAUTHENTICATED,
}

impl From<tonic::Code> for Code {
    fn from(c: tonic::Code) -> Code {
        use tonic::Code as T;
        match c {
            T::Ok => Code::OK,
            T::Cancelled => Code::CANCELLED,
            T::Unknown => Code::UNKNOWN,
            T::InvalidArgument => Code::INVALID_ARGUMENT,
            T::DeadlineExceeded => Code::DEADLINE_EXCEEDED,
            T::NotFound => Code::NOT_FOUND,
            T::AlreadyExists => Code::ALREADY_EXISTS,
            T::PermissionDenied => Code::PERMISSION_DENIED,
            T::ResourceExhausted => Code::RESOURCE_EXHAUSTED,
            T::FailedPrecondition => Code::FAILED_PRECONDITION,
            T::Aborted => Code::ABORTED,
            T::OutOfRange => Code::OUT_OF_RANGE,
            T::Unimplemented => Code::UNIMPLEMENTED,
            T::Internal => Code::INTERNAL,
            T::Unavailable => Code::UNAVAILABLE,
            T::DataLoss => Code::DATA_LOSS,
            T::Unauthenticated => Code::UNAUTHENTICATED,
        }
    }
}

/// What became of one consumed event.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Outcome {
    applied,
    duplicate,
    /// No handler for its type: acknowledged, nothing written.
    ignored,
    retried,
    dead_lettered,
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    process: ProcessMetrics,
    pub rpc_requests: Family<RpcLabels, Counter>,
    pub rpc_duration: Family<MethodLabels, Histogram>,
    pub outbox_backlog: Family<ServiceLabels, Gauge>,
    pub outbox_oldest_age_seconds: Family<ServiceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    pub events_published: Family<ServiceLabels, Counter>,
    pub events_consumed: Family<ConsumedLabels, Counter>,
    pub consumer_redeliveries: Family<ConsumerLabels, Counter>,
    pub dead_letters: Family<ConsumerLabels, Counter>,
    /// From the event's `occurred_at` to its effect committed by a consumer.
    pub event_lag: Family<ConsumerLabels, Histogram>,
    /// 1 while a consumer holds its events because its database is down.
    pub consumer_blocked: Family<ConsumerProducerLabels, Gauge>,
    /// Events the bus stopped delivering (JetStream max-deliveries
    /// advisories); each becomes a dead letter.
    pub events_lost_by_bus: Family<ConsumerLabels, Counter>,
    /// Events in the consumer's stream not delivered to it yet
    /// (JetStream's `num_pending`).
    pub consumer_pending: Family<ConsumerProducerLabels, Gauge>,
    /// Events delivered to the consumer and not acknowledged yet
    /// (JetStream's `num_ack_pending`).
    pub consumer_ack_pending: Family<ConsumerProducerLabels, Gauge>,
    /// 1 while a service can do its work (see [`crate::health`]).
    pub service_serving: Family<ServiceLabels, Gauge>,
    /// Erasures a service applied to its database and has not yet
    /// confirmed (its stream still to scrub), see [`crate::erasure`].
    pub erasures_pending: Family<ServiceLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~13 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// The process's metrics, created on first use.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        // The process's own metrics go unprefixed, as Prometheus names them
        // for every process; Markaz's under `markaz_`.
        let mut root = Registry::default();
        let process = ProcessMetrics::register(&mut root);
        let registry = root.sub_registry_with_prefix("markaz");
        let rpc_requests = Family::<RpcLabels, Counter>::default();
        registry.register(
            "rpc_requests",
            "gRPC requests handled, by service, method and status code",
            rpc_requests.clone(),
        );
        let rpc_duration = Family::<MethodLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "rpc_duration_seconds",
            "gRPC request latency, from the first byte of the handler to its answer",
            rpc_duration.clone(),
        );
        let outbox_backlog = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "outbox_backlog",
            "events committed to the outbox and not yet acknowledged by the bus",
            outbox_backlog.clone(),
        );
        let outbox_oldest_age_seconds = Family::default();
        registry.register(
            "outbox_oldest_age_seconds",
            "age of the oldest unpublished outbox event",
            outbox_oldest_age_seconds.clone(),
        );
        let events_published = Family::<ServiceLabels, Counter>::default();
        registry.register(
            "events_published",
            "events the relay published and the bus acknowledged",
            events_published.clone(),
        );
        let events_consumed = Family::<ConsumedLabels, Counter>::default();
        registry.register(
            "events_consumed",
            "events delivered to a consumer, by outcome",
            events_consumed.clone(),
        );
        let consumer_redeliveries = Family::<ConsumerLabels, Counter>::default();
        registry.register(
            "consumer_redeliveries",
            "deliveries that failed and were scheduled again",
            consumer_redeliveries.clone(),
        );
        let dead_letters = Family::<ConsumerLabels, Counter>::default();
        registry.register(
            "dead_letters",
            "events moved to the dead letters after their bounded redeliveries",
            dead_letters.clone(),
        );
        let event_lag = Family::<ConsumerLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "event_lag_seconds",
            "from an event's commit in its producer to its effect committed by a consumer",
            event_lag.clone(),
        );
        let consumer_blocked = Family::<ConsumerProducerLabels, Gauge>::default();
        registry.register(
            "consumer_blocked",
            "1 while a consumer holds its events until its database answers again",
            consumer_blocked.clone(),
        );
        let events_lost_by_bus = Family::<ConsumerLabels, Counter>::default();
        registry.register(
            "events_lost_by_bus",
            "events the bus stopped delivering (JetStream max-deliveries advisories), kept as dead letters",
            events_lost_by_bus.clone(),
        );
        let consumer_pending = Family::<ConsumerProducerLabels, Gauge>::default();
        registry.register(
            "consumer_pending",
            "events of the producer's stream not yet delivered to the consumer (JetStream num_pending)",
            consumer_pending.clone(),
        );
        let consumer_ack_pending = Family::<ConsumerProducerLabels, Gauge>::default();
        registry.register(
            "consumer_ack_pending",
            "events delivered to the consumer and not yet acknowledged (JetStream num_ack_pending)",
            consumer_ack_pending.clone(),
        );
        let service_serving = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "service_serving",
            "1 while the service can do its work: database answering, bus connected, no consumer paused",
            service_serving.clone(),
        );
        let erasures_pending = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "erasures_pending",
            "erasures applied to the service's database whose stream scrub and confirmation are still to come",
            erasures_pending.clone(),
        );
        Metrics {
            registry: root,
            erasures_pending,
            process,
            consumer_blocked,
            events_lost_by_bus,
            consumer_pending,
            consumer_ack_pending,
            service_serving,
            rpc_requests,
            rpc_duration,
            outbox_backlog,
            outbox_oldest_age_seconds,
            events_published,
            events_consumed,
            consumer_redeliveries,
            dead_letters,
            event_lag,
        }
    })
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.process.refresh();
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// `process_*`: what the kernel says of this process, read at each scrape
/// (Linux `/proc/self`; elsewhere they stay at 0).
struct ProcessMetrics {
    cpu_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    resident_memory_bytes: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
}

impl ProcessMetrics {
    fn register(registry: &mut Registry) -> ProcessMetrics {
        let m = ProcessMetrics {
            cpu_seconds: Counter::default(),
            resident_memory_bytes: Gauge::default(),
            open_fds: Gauge::default(),
            max_fds: Gauge::default(),
        };
        registry.register(
            "process_cpu_seconds",
            "user and system CPU time spent, in seconds",
            m.cpu_seconds.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "resident memory size, in bytes",
            m.resident_memory_bytes.clone(),
        );
        registry.register(
            "process_open_fds",
            "open file descriptors",
            m.open_fds.clone(),
        );
        registry.register(
            "process_max_fds",
            "the limit of open file descriptors",
            m.max_fds.clone(),
        );
        m
    }

    fn refresh(&self) {
        // utime and stime, fields 14 and 15 of /proc/self/stat, in clock
        // ticks of USER_HZ (100 on every Linux Markaz runs on).
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some(after_name) = stat.rsplit(')').next()
        {
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let ticks: u64 = [11, 12]
                .iter()
                .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
                .sum();
            let seconds = ticks as f64 / 100.0;
            let grown = seconds - self.cpu_seconds.get();
            if grown > 0.0 {
                self.cpu_seconds.inc_by(grown);
            }
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status")
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<i64>().ok())
        {
            self.resident_memory_bytes.set(kb * 1024);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(fds.count() as i64);
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
            && let Some(max) = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<i64>().ok())
        {
            self.max_fds.set(max);
        }
    }
}

/// Serves `/metrics`, and `/livez` and `/readyz` for probes that speak HTTP,
/// until `shutdown` fires. `ready` tells whether the process serves.
pub async fn serve_metrics(
    addr: SocketAddr,
    ready: std::sync::Arc<std::sync::atomic::AtomicBool>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<SocketAddr> {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // Scrapers and probes, not the public: few connections, short deadlines.
    let limits = crate::listener::Limits {
        max_connections: 64,
        handshake_timeout: std::time::Duration::from_secs(5),
        idle_timeout: std::time::Duration::from_secs(30),
    };
    tokio::spawn(async move {
        use futures::StreamExt;
        let incoming = crate::listener::incoming(listener, limits);
        futures::pin_mut!(incoming);
        loop {
            let stream = tokio::select! {
                accepted = incoming.next() => match accepted {
                    Some(Ok(s)) => s,
                    _ => continue,
                },
                _ = shutdown.cancelled() => return,
            };
            let ready = ready.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let ready = ready.load(std::sync::atomic::Ordering::Relaxed);
                    async move {
                        let (status, body) = match req.uri().path() {
                            "/metrics" => (200, metrics().render()),
                            "/livez" => (200, "ok\n".to_string()),
                            "/readyz" if ready => (200, "ready\n".to_string()),
                            "/readyz" => (503, "not ready\n".to_string()),
                            _ => (404, "not found\n".to_string()),
                        };
                        http::Response::builder()
                            .status(status)
                            .header(
                                http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )
                            .body(Full::new(bytes::Bytes::from(body)))
                    }
                });
                // An unfinished request line or headers: closed after 5 s.
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(std::time::Duration::from_secs(5))
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(local)
}
