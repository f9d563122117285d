//! What an attacker with nothing but a TCP connection can do to a running
//! `markaz dev`: the attacks of the security review, replayed against the
//! real binary, watched from outside (its memory and CPU time in /proc).

use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

mod support;
use support::Dev;

const MIB: u64 = 1024 * 1024;

/// A legitimate client's call, answered within `within`.
async fn served(dev: &Dev, within: Duration) -> bool {
    let call = async {
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", dev.grpc))
            .unwrap()
            .connect()
            .await
            .ok()?;
        let mut client =
            markaz_proto::platform::v1::platform_service_client::PlatformServiceClient::new(
                channel,
            );
        let mut request = tonic::Request::new(markaz_proto::platform::v1::WhoAmIRequest {});
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", dev.token).parse().unwrap(),
        );
        client.who_am_i(request).await.ok()
    };
    matches!(tokio::time::timeout(within, call).await, Ok(Some(_)))
}

/// One attacking stream: a gRPC frame declaring `declared` bytes, then
/// `sent` bytes of it, never the end. Returns the grpc-status the server
/// answered with, if it answered.
async fn attacking_stream(
    client: &mut h2::client::SendRequest<Bytes>,
    addr: &str,
    path: &str,
    declared: u32,
    sent: usize,
) -> Option<String> {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let ready = client.clone().ready().await.ok()?;
    *client = ready;
    let (response, mut body) = client.send_request(request, false).ok()?;
    let mut header = vec![0u8];
    header.extend_from_slice(&declared.to_be_bytes());
    body.send_data(Bytes::from(header), false).ok()?;
    // h2 queues what the server's window does not take yet; a server that
    // buffered it would grow by this much per stream.
    let chunk = Bytes::from(vec![7u8; 64 * 1024]);
    for _ in 0..sent / chunk.len() {
        if body.send_data(chunk.clone(), false).is_err() {
            break;
        }
    }
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .ok()?
        .ok()?;
    if let Some(status) = response.headers().get("grpc-status") {
        return Some(status.to_str().unwrap().to_string());
    }
    let mut answer = response.into_body();
    while let Some(data) = answer.data().await {
        if data.is_err() {
            break;
        }
    }
    let trailers = answer.trailers().await.ok()??;
    trailers
        .get("grpc-status")
        .map(|s| s.to_str().unwrap().to_string())
}

/// Finding 1: unauthenticated streams declaring 4 MiB messages and sending
/// them slowly used to be buffered whole (24 MiB → 823 MiB). Now a request
/// with no token is refused from its headers and a public method's message
/// is refused at its frame header: memory stays under 100 MiB and other
/// clients are served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_of_unread_megabytes_do_not_grow_the_server() {
    let dev = Dev::start("attack-memory", &[], None).await;
    assert!(served(&dev, Duration::from_secs(10)).await);
    let before = dev.peak_memory();

    let targets = [
        // A method that needs a token, called without one.
        "/markaz.membership.v1.MembershipService/ListPeople",
        // A public method: no token needed, a small message at most.
        "/markaz.capacity.v1.CapacityService/VerifyCertificate",
    ];
    let mut attacks = Vec::new();
    for connection in 0..2 {
        let addr = dev.grpc.clone();
        let path = targets[connection % 2];
        attacks.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(&addr).await.unwrap();
            let (mut client, h2) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(h2);
            let mut answers = Vec::new();
            for _ in 0..100 {
                let declared = 4 * MIB as u32 - 16;
                answers
                    .push(attacking_stream(&mut client, &addr, path, declared, 256 * 1024).await);
            }
            (path, answers, client)
        }));
    }
    // While the attack runs, a legitimate client is served.
    assert!(
        served(&dev, Duration::from_secs(10)).await,
        "served during the attack"
    );
    let mut held = Vec::new();
    for attack in attacks {
        let (path, answers, client) = attack.await.unwrap();
        let expected = if path.contains("VerifyCertificate") {
            "8" // RESOURCE_EXHAUSTED: over the public method's limit
        } else {
            "16" // UNAUTHENTICATED: no token
        };
        let refused = answers
            .iter()
            .filter(|a| a.as_deref() == Some(expected))
            .count();
        assert_eq!(refused, 100, "{path}: {answers:?}");
        held.push(client); // the connections stay open
    }
    assert!(
        served(&dev, Duration::from_secs(10)).await,
        "served after the attack"
    );
    let peak = dev.peak_memory();
    assert!(
        peak < 100 * MIB,
        "peak memory {} MiB (before the attack {} MiB)",
        peak / MIB,
        before / MIB
    );
    drop(held);
}

/// Finding 2: at the descriptor limit the accept loops used to spin on
/// EMFILE, burning a core, and silent connections were kept for ever. Now
/// the loops back off, connections that say nothing are closed after the
/// handshake timeout, and the server serves again once descriptors free up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_descriptor_limit_the_server_waits_and_recovers() {
    let dev = Dev::start(
        "attack-fds",
        &[
            ("MARKAZ_HANDSHAKE_TIMEOUT_MS", "1500"),
            ("MARKAZ_IDLE_TIMEOUT_MS", "60000"),
        ],
        Some(256),
    )
    .await;
    assert!(served(&dev, Duration::from_secs(10)).await);

    // Silent connections past the limit: the process runs out of descriptors.
    let mut silent = Vec::new();
    for _ in 0..300 {
        match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(&dev.grpc)).await
        {
            Ok(Ok(s)) => silent.push(s),
            _ => break,
        }
    }
    assert!(silent.len() > 100, "{} connections", silent.len());
    let cpu = dev.cpu_time();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spent = dev.cpu_time() - cpu;
    assert!(
        spent < Duration::from_millis(500),
        "{spent:?} of CPU in a second at the descriptor limit"
    );

    // Connections that never speak are closed by the server (after its
    // own HTTP/2 preface, which it sends first).
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 1024];
        loop {
            match silent[0].read(&mut buffer).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "a silent connection is closed");
    drop(silent);
    assert!(
        served(&dev, Duration::from_secs(10)).await,
        "served again once descriptors are free"
    );
}
