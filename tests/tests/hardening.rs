//! What a caller with a credential cannot do to the others, and the port
//! without a mesh: each caller's write budget, and TLS.

use std::sync::Arc;
use std::time::Duration;

use markaz_kit::auth::Role;
use markaz_kit::testing::{Backend, TestEnv, authed};
use markaz_membership::Membership;
use markaz_proto::common::v1::{LocalizedText, OrganizationKind};
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_types::StatusExt;

const TENANT: &str = "hardening-csc";

async fn with_tenant(env: &TestEnv, channel: Channel) -> MembershipServiceClient<Channel> {
    let mut client = MembershipServiceClient::new(channel);
    client
        .create_tenant(authed(
            mem::CreateTenantRequest {
                tenant: Some(mem::Tenant {
                    id: TENANT.into(),
                    name: Some(LocalizedText {
                        ar: "مركز".into(),
                        en: "Center".into(),
                    }),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    client
}

fn organization(description: &str) -> mem::CreateOrganizationRequest {
    mem::CreateOrganizationRequest {
        organization: Some(mem::Organization {
            kind: OrganizationKind::Cso as i32,
            name: Some(LocalizedText {
                ar: "جمعية".into(),
                en: "Association".into(),
            }),
            description: Some(LocalizedText {
                ar: description.into(),
                en: String::new(),
            }),
            ..Default::default()
        }),
        apply_for_incubation: false,
        request_id: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_writes_in_a_loop_is_slowed_and_nobody_else_is() {
    let mut env = TestEnv::new(Backend::Sqlite);
    env.config.server.write_requests_per_second = 1;
    env.config.server.write_requests_burst = 3;
    env.config.server.write_bytes_per_second = 1;
    env.config.server.write_bytes_burst = 6 * 1024;
    let app = env.start(vec![Arc::new(Membership)]).await.unwrap();
    let channel = Endpoint::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = with_tenant(&env, channel).await;
    let partner = env.token(TENANT, &[Role::Staff], None);
    for _ in 0..3 {
        client
            .create_organization(authed(organization("وصف"), &partner))
            .await
            .expect("within the burst");
    }
    let refused = client
        .create_organization(authed(organization("وصف"), &partner))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let retry = refused
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .expect("the refusal says when to try again");
    assert!(retry <= Duration::from_secs(2), "{retry:?}");
    // Reads are not writes; another caller has a budget of its own.
    client
        .list_organizations(authed(mem::ListOrganizationsRequest::default(), &partner))
        .await
        .expect("reading goes on");
    let colleague = env.token_of("another-staff-member", TENANT, &[Role::Staff]);
    client
        .create_organization(authed(organization("وصف"), &colleague))
        .await
        .expect("another caller writes");
    // Bytes: two writes of 4 KB overdraw 6 KiB, and the third waits.
    let writer = env.token_of("a-third-member", TENANT, &[Role::Staff]);
    let long = "ن".repeat(2_000);
    let mut sent = 0;
    let outcome = loop {
        match client
            .create_organization(authed(organization(&long), &writer))
            .await
        {
            Ok(_) => sent += 1,
            Err(e) => break e,
        }
        assert!(
            sent < 3,
            "6 KiB of bytes and 3 writes: the bytes run out first"
        );
    };
    assert_eq!(outcome.code(), Code::ResourceExhausted);
    app.shutdown().await;
}

/// A self-signed certificate for localhost and 127.0.0.1, made with the
/// openssl tool: (certificate, key) paths.
fn certificate(dir: &std::path::Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

/// Connects a channel to `addr` through TLS, as a client outside a mesh.
#[derive(Clone)]
struct TlsConnect {
    addr: std::net::SocketAddr,
    tls: tokio_rustls::TlsConnector,
}

type TlsIo = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

impl tower::Service<tonic::codegen::http::Uri> for TlsConnect {
    type Response = TlsIo;
    type Error = std::io::Error;
    type Future = futures::future::BoxFuture<'static, std::io::Result<TlsIo>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: tonic::codegen::http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let tcp = tokio::net::TcpStream::connect(this.addr).await?;
            let name =
                tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").expect("a name");
            let tls = this.tls.connect(name, tcp).await?;
            Ok(hyper_util::rt::TokioIo::new(tls))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_certificate_the_port_speaks_tls_only() {
    use tokio_rustls::rustls;
    let dir = std::env::temp_dir().join(format!("markaz-tls-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = certificate(&dir);
    let mut env = TestEnv::new(Backend::Sqlite);
    env.config.server.tls_cert_path = cert.clone();
    env.config.server.tls_key_path = key;
    let app = env.start(vec![Arc::new(Membership)]).await.unwrap();
    let addr = app.grpc_addr();

    // A client that trusts the certificate, speaking HTTP/2 by ALPN.
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).unwrap();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = TlsConnect {
        addr,
        tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
    };
    let channel = Endpoint::from_static("http://localhost")
        .connect_with_connector(connector)
        .await
        .expect("a TLS connection");
    let mut client = with_tenant(&env, channel).await;
    let tenants = client
        .list_tenants(authed(
            mem::ListTenantsRequest::default(),
            &env.operator_token(),
        ))
        .await
        .expect("gRPC over TLS");
    assert_eq!(tenants.into_inner().tenants.len(), 1);

    // Plaintext gets no answer.
    let plain = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await;
    if let Ok(channel) = plain {
        let refused = MembershipServiceClient::new(channel)
            .list_tenants(authed(
                mem::ListTenantsRequest::default(),
                &env.operator_token(),
            ))
            .await
            .unwrap_err();
        assert_ne!(refused.code(), Code::Ok);
    }
    app.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_does_not_load_stops_the_start() {
    let mut env = TestEnv::new(Backend::Sqlite);
    env.config.server.tls_cert_path = "/nonexistent/cert.pem".into();
    env.config.server.tls_key_path = "/nonexistent/key.pem".into();
    let err = env.start(vec![Arc::new(Membership)]).await.unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
}
