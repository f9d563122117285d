//! One HTTP(S) request, with the HTTP and TLS stacks already in the build
//! (hyper, rustls), so talking to an external issuer costs no new
//! dependency: the JWKS the verifier fetches, and the console's OpenID
//! Connect discovery and token exchange.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// How long one request may take, connection included: a stalled issuer
/// must not hang a start, a key refresh or a sign-in.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The largest answer read: a key set or an OIDC document is a few
/// kilobytes; an issuer (or someone in its place) sending more is refused
/// rather than buffered.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the server answered.
#[derive(Debug)]
pub struct Fetched {
    pub status: http::StatusCode,
    pub body: Bytes,
}

/// `method` on an `http(s)://` URL over HTTP/1.1, asking for JSON; `form`
/// is sent as `application/x-www-form-urlencoded`, `authorization` as that
/// header. Errors name the URL.
pub async fn fetch(
    method: http::Method,
    url: &str,
    form: Option<String>,
    authorization: Option<&str>,
) -> Result<Fetched, String> {
    tokio::time::timeout(TIMEOUT, fetch_unbounded(method, url, form, authorization))
        .await
        .map_err(|_| format!("{url}: no answer within {} s", TIMEOUT.as_secs()))?
}

async fn fetch_unbounded(
    method: http::Method,
    url: &str,
    form: Option<String>,
    authorization: Option<&str>,
) -> Result<Fetched, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{url}: {e}");
    let (uri, https) = check_transport(url)?;
    let host = uri.host().ok_or_else(|| fail(&"no host"))?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri
        .authority()
        .map(|a| a.to_string())
        .unwrap_or(host.clone());
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(header::HOST, authority)
        .header(header::ACCEPT, "application/json");
    if form.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let request = request
        .body(Full::new(Bytes::from(form.unwrap_or_default())))
        .map_err(|e| fail(&e))?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| fail(&e))?;
    if https {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| fail(&e))?;
        let tls = tls_connector()
            .connect(name, tcp)
            .await
            .map_err(|e| fail(&e))?;
        send(TokioIo::new(tls), request).await.map_err(|e| fail(&e))
    } else {
        send(TokioIo::new(tcp), request).await.map_err(|e| fail(&e))
    }
}

/// The URL parsed, and whether it is HTTPS. Plain `http://` is refused
/// except to this machine (a sidecar, a test issuer): keys and tokens
/// fetched in the clear could be read or swapped on the way.
pub fn check_transport(url: &str) -> Result<(http::Uri, bool), String> {
    let fail = |e: &dyn std::fmt::Display| format!("{url}: {e}");
    let uri: http::Uri = url.parse().map_err(|e| fail(&e))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(fail(&"not an http(s) URL")),
    };
    let host = uri.host().ok_or_else(|| fail(&"no host"))?;
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        return Err(fail(&"plain http is allowed to loopback only: use https"));
    }
    Ok((uri, https))
}

/// The system's roots, loaded once.
fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONNECTOR: OnceLock<tokio_rustls::TlsConnector> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let mut roots = tokio_rustls::rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                roots.add(cert).ok();
            }
            let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
            let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            tokio_rustls::TlsConnector::from(Arc::new(config))
        })
        .clone()
}

async fn send<IO>(
    io: IO,
    request: http::Request<Full<Bytes>>,
) -> Result<Fetched, Box<dyn std::error::Error + Send + Sync>>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = http_body_util::Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await?
        .to_bytes();
    Ok(Fetched { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_reaches_loopback_only() {
        for url in [
            "https://issuer.example/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9000/jwks",
        ] {
            assert!(check_transport(url).is_ok(), "{url}");
        }
        for url in [
            "http://issuer.example/jwks",
            "http://10.0.0.5/jwks",
            "ftp://issuer.example/",
        ] {
            assert!(check_transport(url).is_err(), "{url}");
        }
    }

    /// An answer larger than any key set is refused, not buffered.
    #[tokio::test]
    async fn an_oversized_answer_is_refused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = s.read(&mut request).await;
            let body = vec![b'x'; 2 * MAX_BODY_BYTES];
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&body).await;
        });
        let answer = fetch(
            http::Method::GET,
            &format!("http://{addr}/jwks"),
            None,
            None,
        )
        .await;
        assert!(answer.is_err(), "{answer:?}");
    }
}
