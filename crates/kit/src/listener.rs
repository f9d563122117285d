//! The accept loop of every server of the process (gRPC, metrics), hardened
//! against clients that take without giving:
//!
//! * **a cap on connections** — beyond it the loop stops accepting, and
//!   the kernel's backlog holds the rest, instead of the process running out
//!   of file descriptors;
//! * **back-off when accepting fails** — at the file-descriptor limit
//!   (EMFILE, ENFILE) `accept` fails at once, and a loop that simply tries
//!   again burns a core; it waits, longer each time, then tries again;
//! * **a handshake deadline** — a connection that sends nothing within it
//!   is closed (500 silent sockets used to stay open for ever);
//! * **an idle deadline** — a connection with no byte in either direction
//!   for that long is closed. HTTP/2 keep-alive pings count as traffic, so a
//!   live client that answers them keeps its connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// How a listener treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// The first byte must come within this.
    pub handshake_timeout: Duration,
    /// No byte either way for this long, and the connection is closed.
    pub idle_timeout: Duration,
}

/// The accepted connections of `listener`, within `limits`.
pub fn incoming(
    listener: TcpListener,
    limits: Limits,
) -> impl Stream<Item = io::Result<Guarded>> + Send + 'static {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    futures::stream::unfold(
        (listener, slots, limits),
        |(listener, slots, limits)| async move {
            let accepted = accept(&listener, &slots, limits).await;
            Some((Ok(accepted), (listener, slots, limits)))
        },
    )
}

/// The next connection: waits for a free slot, then for a client, backing
/// off while accepting fails.
async fn accept(listener: &TcpListener, slots: &Arc<Semaphore>, limits: Limits) -> Guarded {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    let mut failures = 0u32;
    loop {
        match listener.accept().await {
            Ok((io, _)) => {
                let _ = io.set_nodelay(true);
                return Guarded::new(io, slot, limits);
            }
            Err(e) => {
                failures += 1;
                // Out of descriptors (or memory): nothing will be accepted
                // until something closes. Anything else (a client that reset
                // during the handshake) is that client's business.
                let exhausted = matches!(e.raw_os_error(), Some(23 | 24)) // ENFILE, EMFILE
                    || e.kind() == io::ErrorKind::OutOfMemory;
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures, "accepting a connection failed");
                }
                let delay = if exhausted {
                    Duration::from_millis(10 * 2u64.pow(failures.min(7))) // up to 1.28 s
                } else {
                    Duration::from_millis(1)
                };
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// An accepted connection: the socket, its slot, and its deadline.
pub struct Guarded {
    io: TcpStream,
    _slot: OwnedSemaphorePermit,
    deadline: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    /// Whether the client has sent a byte. Until then only its bytes count
    /// as activity: the server's own preface (HTTP/2 sends SETTINGS first)
    /// must not turn the handshake deadline into the idle one.
    greeted: bool,
}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded").field("io", &self.io).finish()
    }
}

impl Guarded {
    fn new(io: TcpStream, slot: OwnedSemaphorePermit, limits: Limits) -> Guarded {
        Guarded {
            io,
            _slot: slot,
            deadline: Box::pin(tokio::time::sleep(limits.handshake_timeout)),
            idle_timeout: limits.idle_timeout,
            greeted: false,
        }
    }

    fn active(&mut self) {
        let next = Instant::now() + self.idle_timeout;
        self.deadline.as_mut().reset(next);
    }

    /// Whether the connection's deadline passed (registering for it if not).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "no traffic within the deadline")
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.greeted = true;
                    self.active();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 && self.greeted {
                    self.active();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                if n > 0 && self.greeted {
                    self.active();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Guarded {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// A connection as the gRPC server serves it: as accepted, or inside TLS.
pub enum Conn {
    Plain(Guarded),
    Tls(Box<tokio_rustls::server::TlsStream<Guarded>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(g) => &g.io,
            Conn::Tls(t) => &t.get_ref().0.io,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(g) => Pin::new(g).poll_read(cx, buf),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(g) => Pin::new(g).poll_write(cx, buf),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(g) => Pin::new(g).poll_flush(cx),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(g) => Pin::new(g).poll_shutdown(cx),
            Conn::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.tcp().connect_info()
    }
}

/// How many TLS handshakes run at once; more connections wait their turn
/// (each is still bound by the handshake deadline).
const CONCURRENT_HANDSHAKES: usize = 64;

/// The gRPC server's connections: [`incoming`], inside TLS when `tls` is
/// given. A handshake that fails or passes the deadline drops that
/// connection only.
pub fn serving(
    listener: TcpListener,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> futures::stream::BoxStream<'static, io::Result<Conn>> {
    use futures::StreamExt;
    let accepted = incoming(listener, limits);
    match tls {
        None => accepted.map(|c| c.map(Conn::Plain)).boxed(),
        Some(acceptor) => accepted
            .map(move |c| {
                let acceptor = acceptor.clone();
                async move {
                    match c {
                        Ok(g) => match acceptor.accept(g).await {
                            Ok(t) => Some(Ok(Conn::Tls(Box::new(t)))),
                            Err(e) => {
                                tracing::debug!(error = %e, "a TLS handshake failed");
                                None
                            }
                        },
                        Err(e) => Some(Err(e)),
                    }
                }
            })
            .buffer_unordered(CONCURRENT_HANDSHAKES)
            .filter_map(std::future::ready)
            .boxed(),
    }
}

/// The TLS configuration of the gRPC port, from a PEM certificate chain
/// and private key: TLS 1.2 and 1.3, HTTP/2 by ALPN (what gRPC speaks).
pub fn tls_acceptor(cert_path: &str, key_path: &str) -> crate::Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let unavailable = |what: &str, e: &dyn std::fmt::Display| {
        crate::Error::Unavailable(format!("TLS: {what}: {e}"))
    };
    let certs = std::fs::read(cert_path).map_err(|e| unavailable(cert_path, &e))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&certs)
        .collect::<Result<_, _>>()
        .map_err(|e| unavailable(cert_path, &e))?;
    if certs.is_empty() {
        return Err(unavailable(cert_path, &"no certificate in the file"));
    }
    let key = std::fs::read(key_path).map_err(|e| unavailable(key_path, &e))?;
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| unavailable(key_path, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unavailable("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| unavailable("certificate and key", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
