//! HTTP plumbing: cookies and gzip for slow links.

use std::io::Write;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};

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
