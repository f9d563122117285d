//! Traces leave the process over OTLP and cross the bus: the span of a
//! request and the span of the consumer applying the event it caused share
//! the caller's trace id. A real OTLP receiver (the collector's gRPC API)
//! stands in for the OpenTelemetry Collector.
//!
//! Its own test binary: the tracing subscriber is global to the process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use markaz_e2e::{LEDGER, Ledger, lines};
use markaz_kit::auth::Role;
use markaz_kit::config::LogConfig;
use markaz_kit::testing::{Backend, TestEnv, authed, eventually};
use markaz_membership::Membership;
use markaz_proto::common::v1::{LocalizedText, OrganizationKind};
use markaz_proto::membership::v1 as api;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};

#[derive(Clone, Default)]
struct Collector {
    /// (span name, trace id as hex)
    spans: Arc<Mutex<Vec<(String, String)>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                for span in ss.spans {
                    let trace: String = span.trace_id.iter().map(|b| format!("{b:02x}")).collect();
                    spans.push((span.name, trace));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_and_the_event_it_caused_share_one_trace() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let telemetry = markaz_kit::telemetry::init(
        &LogConfig {
            format: "text".into(),
            filter: "info".into(),
        },
        "markaz-test",
        Some(&format!("http://{addr}")),
    );

    let env = TestEnv::new(Backend::Postgres);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = MembershipServiceClient::new(channel);
    client
        .create_tenant(authed(
            api::CreateTenantRequest {
                tenant: Some(api::Tenant {
                    id: "traced".into(),
                    name: Some(LocalizedText {
                        ar: "تتبع".into(),
                        en: String::new(),
                    }),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = authed(
        api::CreateOrganizationRequest {
            organization: Some(api::Organization {
                kind: OrganizationKind::Cso as i32,
                name: Some(LocalizedText {
                    ar: "منظمة".into(),
                    en: "Traced".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        &env.token("traced", &[Role::Staff], None),
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    let org = client
        .create_organization(request)
        .await
        .unwrap()
        .into_inner();
    let ledger = app.db(LEDGER).unwrap().clone();
    let applied = eventually(Duration::from_secs(15), || {
        let ledger = ledger.clone();
        let id = org.id.clone();
        async move { (lines(&ledger, "traced", &id).await == 1).then_some(()) }
    })
    .await;
    assert!(applied.is_some());
    app.shutdown().await;
    // Flushes the spans still batched.
    drop(telemetry);

    let spans = collector.spans.lock().unwrap().clone();
    let in_trace: Vec<&str> = spans
        .iter()
        .filter(|(_, t)| t == trace_id)
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        in_trace.contains(&"rpc"),
        "the request's span continues the caller's trace: {spans:?}"
    );
    assert!(
        in_trace.contains(&"event"),
        "the consumer's span continues it across NATS: {spans:?}"
    );
}
