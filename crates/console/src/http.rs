//! HTTP plumbing: cookies, gzip for slow links, and the small client that
//! talks to the OpenID Connect issuer.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// How a cookie is set.
#[derive(Debug, Clone, Copy)]
pub struct CookieFlags {
    pub secure: bool,
    /// JavaScript never needs the console's cookies.
    pub http_only: bool,
    pub max_age_secs: Option<u64>,
}

/// A `Set-Cookie` value. SameSite=Lax: sent on top-level navigations (the
/// issuer's redirect back), never on cross-site POSTs.
pub fn set_cookie(name: &str, value: &str, flags: CookieFlags) -> HeaderValue {
    let mut s = format!("{name}={value}; Path=/; SameSite=Lax");
    if flags.http_only {
        s.push_str("; HttpOnly");
    }
    if flags.secure {
        s.push_str("; Secure");
    }
    if let Some(age) = flags.max_age_secs {
        s.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&s).expect("cookie values are base64url or fixed words")
}

/// Removes cookie `name`.
pub fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    set_cookie(
        name,
        "",
        CookieFlags {
            secure,
            http_only: true,
            max_age_secs: Some(0),
        },
    )
}

pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// A response of `body`, gzipped when the client takes it.
pub fn compressed(
    request_headers: &HeaderMap,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response {
    let mut response = if accepts_gzip(request_headers) && body.len() > 512 {
        let mut r = Response::new(Body::from(gzip(&body)));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Body::from(body))
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// An answer of the issuer.
#[derive(Debug)]
pub struct Fetched {
    pub status: http::StatusCode,
    pub body: Bytes,
}

/// One request to an `http(s)://` URL, bounded in time: a stalled issuer must
/// not hold a sign-in forever. HTTP/1.1 over rustls (already in the build).
pub async fn fetch(
    method: http::Method,
    url: &str,
    form: Option<String>,
    basic_auth: Option<(&str, &str)>,
) -> Result<Fetched, String> {
    tokio::time::timeout(
        Duration::from_secs(15),
        fetch_unbounded(method, url, form, basic_auth),
    )
    .await
    .map_err(|_| format!("{url}: no answer within 15 s"))?
}

async fn fetch_unbounded(
    method: http::Method,
    url: &str,
    form: Option<String>,
    basic_auth: Option<(&str, &str)>,
) -> Result<Fetched, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{url}: {e}");
    let uri: http::Uri = url.parse().map_err(|e| fail(&e))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(fail(&"not an http(s) URL")),
    };
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
    if let Some((user, password)) = basic_auth {
        use base64::Engine;
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(user), encode(password));
        request = request.header(
            header::AUTHORIZATION,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ),
        );
    }
    let request = request
        .body(Full::new(Bytes::from(form.unwrap_or_default())))
        .map_err(|e| fail(&e))?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| fail(&e))?;
    if https {
        let tls = tls_connector()
            .connect(
                tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| fail(&e))?,
                tcp,
            )
            .await
            .map_err(|e| fail(&e))?;
        send(TokioIo::new(tls), request).await.map_err(|e| fail(&e))
    } else {
        send(TokioIo::new(tcp), request).await.map_err(|e| fail(&e))
    }
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONNECTOR: std::sync::OnceLock<tokio_rustls::TlsConnector> = std::sync::OnceLock::new();
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
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Fetched { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; mz_session=xyz"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("mz_lang=en"));
        assert_eq!(cookie(&h, "mz_session"), Some("xyz"));
        assert_eq!(cookie(&h, "mz_lang"), Some("en"));
        assert_eq!(cookie(&h, "missing"), None);
        let v = set_cookie(
            "mz_session",
            "abc",
            CookieFlags {
                secure: true,
                http_only: true,
                max_age_secs: Some(60),
            },
        );
        assert_eq!(
            v.to_str().unwrap(),
            "mz_session=abc; Path=/; SameSite=Lax; HttpOnly; Secure; Max-Age=60"
        );
    }
}
