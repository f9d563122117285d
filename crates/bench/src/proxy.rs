//! A TCP proxy to cut a service off from its database (or the bus) and heal
//! it again, the way a network fault does — for the end-to-end tests and
//! `markaz bench faults` alike.
//!
//! While cut, every open connection is reset and new ones are accepted
//! and reset at once: the service sees "connection reset by peer" and
//! "unexpected EOF", as it does when PostgreSQL stops or a link drops.
//! [`Proxy::slow`] makes it a slow link instead: every chunk waits before
//! it is passed on, in both directions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy in front of `upstream`.
pub struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    /// Bumped on every cut: connections opened before it end.
    generation: watch::Sender<u64>,
    connections: Arc<AtomicU64>,
    /// Added to every chunk each way, in microseconds.
    latency: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let connections = Arc::new(AtomicU64::new(0));
        let latency = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let cut = cut.clone();
            let generation = generation.clone();
            let connections = connections.clone();
            let latency = latency.clone();
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    if cut.load(Ordering::SeqCst) {
                        reset(client);
                        continue;
                    }
                    connections.fetch_add(1, Ordering::Relaxed);
                    let mut ended = generation.subscribe();
                    let latency = latency.clone();
                    tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(upstream).await else {
                            reset(client);
                            return;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let (mut client, mut server) = (client, server);
                        let (mut client_in, mut client_out) = client.split();
                        let (mut server_in, mut server_out) = server.split();
                        let forward = async {
                            tokio::join!(
                                pass(&mut client_in, &mut server_out, &latency),
                                pass(&mut server_in, &mut client_out, &latency),
                            )
                        };
                        let reset_now = tokio::select! {
                            _ = forward => false,
                            _ = ended.changed() => true,
                        };
                        if reset_now {
                            reset(client);
                            reset(server);
                        }
                    });
                }
            }
        });
        Proxy {
            addr,
            cut,
            generation,
            connections,
            latency,
            task,
        }
    }

    /// Where clients connect instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (a `postgres://` or `nats://` URL naming the upstream) rewritten
    /// to go through the proxy.
    pub fn url(&self, url: &str, upstream: SocketAddr) -> String {
        url.replace(&upstream.to_string(), &self.addr.to_string())
            .replace(
                &format!("localhost:{}", upstream.port()),
                &self.addr.to_string(),
            )
    }

    /// Connections opened through the proxy so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Resets every connection and refuses new ones until [`Proxy::heal`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forwards again.
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// Every chunk waits `latency` before it is passed on, each way.
    pub fn slow(&self, latency: Duration) {
        self.latency
            .store(latency.as_micros() as u64, Ordering::Relaxed);
    }
}

/// Copies `from` to `to` until either ends, each chunk delayed by the
/// proxy's latency at that moment.
async fn pass<R, W>(from: &mut R, to: &mut W, latency: &AtomicU64)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let delay = latency.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_micros(delay)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// Closes `stream` with a reset (RST) rather than an orderly FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// The socket address of the host and port in a `scheme://...@host:port/...` URL.
pub fn upstream_of(url: &str) -> SocketAddr {
    let after_scheme = url.split("://").nth(1).expect("a URL with a scheme");
    let authority = after_scheme.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port.parse().expect("host:port in the URL")
}
