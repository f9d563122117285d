//! Sessions and CSRF.
//!
//! The bearer token never reaches the browser: it stays in this process's
//! memory under a random 256-bit session id, and the browser holds only that
//! id (HttpOnly, SameSite=Lax, Secure unless configured off). Sessions end at
//! sign-out, when the token expires, or after `session_hours`; a restart ends
//! them all (run one console replica, or sticky sessions).
//!
//! CSRF: every form carries `csrf` = HMAC(key, session id), or for a visitor
//! who has not signed in HMAC(key, visitor id); [`csrf_guard`] refuses every
//! POST whose token does not match the cookie that came with it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use futures::StreamExt;
use markaz_kit::auth::Caller;
use ring::hmac;

use crate::http::{CookieFlags, cookie, set_cookie};

pub const SESSION_COOKIE: &str = "mz_session";
pub const VISITOR_COOKIE: &str = "mz_visitor";
pub const LANG_COOKIE: &str = "mz_lang";
pub const LOGIN_COOKIE: &str = "mz_login";
/// Largest form body read.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct Session {
    pub id: String,
    pub token: String,
    /// Who the token names, as the services told it (WhoAmI): the caller
    /// every call is made as.
    pub who: Caller,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Neither the id nor the token: both are credentials.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("who", &self.who)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A sign-in started at the issuer and not yet back.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub verifier: String,
    pub nonce: String,
    pub return_to: String,
    pub started_at: i64,
}

/// How long a browser may take at the issuer.
const LOGIN_WINDOW_SECS: i64 = 600;

pub struct Sessions {
    key: hmac::Key,
    live: Mutex<HashMap<String, Session>>,
    pending: Mutex<HashMap<String, PendingLogin>>,
    pub secure: bool,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

pub fn now_secs() -> i64 {
    markaz_kit::time::now_micros() / 1_000_000
}

/// `n` random bytes, base64url.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the system has randomness");
    B64.encode(bytes)
}

impl Sessions {
    pub fn new(key: Option<&[u8]>, secure: bool) -> Arc<Sessions> {
        let key = match key {
            Some(k) => hmac::Key::new(hmac::HMAC_SHA256, k),
            None => hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
                .expect("the system has randomness"),
        };
        Arc::new(Sessions {
            key,
            live: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            secure,
        })
    }

    pub fn create(&self, token: String, who: Caller, expires_at: i64) -> Session {
        let session = Session {
            id: random_token(32),
            token,
            who,
            expires_at,
        };
        let now = now_secs();
        let mut live = self.live.lock().expect("sessions lock");
        live.retain(|_, s| s.expires_at > now);
        live.insert(session.id.clone(), session.clone());
        session
    }

    pub fn get(&self, id: &str) -> Option<Session> {
        let live = self.live.lock().expect("sessions lock");
        live.get(id).filter(|s| s.expires_at > now_secs()).cloned()
    }

    pub fn end(&self, id: &str) {
        self.live.lock().expect("sessions lock").remove(id);
    }

    pub fn start_login(&self, state: String, login: PendingLogin) {
        let now = now_secs();
        let mut pending = self.pending.lock().expect("pending lock");
        pending.retain(|_, p| now - p.started_at < LOGIN_WINDOW_SECS);
        pending.insert(state, login);
    }

    /// The sign-in `state` names, once: a replayed callback finds nothing.
    pub fn finish_login(&self, state: &str) -> Option<PendingLogin> {
        let login = self.pending.lock().expect("pending lock").remove(state)?;
        (now_secs() - login.started_at < LOGIN_WINDOW_SECS).then_some(login)
    }

    /// The CSRF token of the session or visitor `id`.
    pub fn csrf_for(&self, id: &str) -> String {
        B64.encode(hmac::sign(&self.key, format!("csrf|{id}").as_bytes()).as_ref())
    }

    fn csrf_matches(&self, id: &str, sent: &str) -> bool {
        match B64.decode(sent) {
            Ok(tag) => hmac::verify(&self.key, format!("csrf|{id}").as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }

    pub fn cookie_flags(&self, max_age_secs: Option<u64>) -> CookieFlags {
        CookieFlags {
            secure: self.secure,
            http_only: true,
            max_age_secs,
        }
    }
}

/// The id the CSRF token of a request is bound to: the live session, else
/// the visitor cookie (set by [`visitor`] on the first visit).
pub fn csrf_subject(sessions: &Sessions, headers: &http::HeaderMap) -> Option<String> {
    if let Some(id) = cookie(headers, SESSION_COOKIE)
        && sessions.get(id).is_some()
    {
        return Some(id.to_string());
    }
    headers_visitor(headers)
}

fn headers_visitor(headers: &http::HeaderMap) -> Option<String> {
    cookie(headers, VISITOR_COOKIE)
        .filter(|v| v.len() >= 20)
        .map(str::to_string)
}

/// The visitor id a request carries (its cookie, or one just given).
#[derive(Debug, Clone)]
pub struct Visitor(pub String);

/// Gives a first-time visitor an id, so anonymous forms (sign-in, the public
/// suggestion form) carry a CSRF token too.
pub async fn visitor(
    State(sessions): State<Arc<Sessions>>,
    mut request: Request,
    next: Next,
) -> Response {
    let existing = headers_visitor(request.headers());
    let id = existing.clone().unwrap_or_else(|| random_token(24));
    request.extensions_mut().insert(Visitor(id.clone()));
    let mut response = next.run(request).await;
    if existing.is_none() {
        response.headers_mut().append(
            http::header::SET_COOKIE,
            set_cookie(
                VISITOR_COOKIE,
                &id,
                sessions.cookie_flags(Some(365 * 24 * 3600)),
            ),
        );
    }
    response
}

/// The fields of a POSTed form, in order (a field may repeat).
#[derive(Debug, Clone, Default)]
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The values of checkboxes of one name, owned.
    pub fn ticked(&self, name: &str) -> Vec<String> {
        self.all(name).into_iter().map(str::to_string).collect()
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Fields named `prefix<key>`, as (key, value).
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .iter()
            .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|rest| (rest, v.as_str())))
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "true" | "1")
    }
}

/// Every POST: reads the form (bounded), checks its `csrf` field against the
/// session or visitor of the request, and hands the fields on; a mismatch is
/// 403 before any handler runs.
pub async fn csrf_guard(
    State(sessions): State<Arc<Sessions>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != http::Method::POST {
        return next.run(request).await;
    }
    if let Some(boundary) = multipart_boundary(request.headers()) {
        return multipart_guard(&sessions, request, boundary, next).await;
    }
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => return (http::StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
    };
    let fields: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    let sent = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    // A visitor id given with this very request cannot have a form yet.
    let bound = csrf_subject(&sessions, &parts.headers);
    let ok = bound.is_some_and(|id| sessions.csrf_matches(&id, sent));
    if !ok {
        return csrf_refused(&parts.headers);
    }
    parts.extensions.insert(FormFields(fields));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn csrf_refused(headers: &http::HeaderMap) -> Response {
    crate::render::plain_error(
        crate::i18n::Lang::of(headers),
        http::StatusCode::FORBIDDEN,
        "error_csrf_title",
        "error_csrf_body",
    )
}

// ------------------------------------------------------------ multipart
// A form with a file (the library's upload) is `multipart/form-data`. Its
// text fields come first (the templates put the file input last) and are
// read here like any form's, CSRF token included; the file is left in the
// body, unread, for the handler to stream on to the service.

/// The most any file may be, whatever it is: resources' largest size limit
/// (video, 2 GiB). Past it the body is not read further.
pub const MAX_UPLOAD_BYTES: u64 = 2048 * 1024 * 1024;

fn multipart_boundary(headers: &http::HeaderMap) -> Option<String> {
    let content_type = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    multer::parse_boundary(content_type).ok()
}

/// The file of a multipart form, its first byte not yet read.
pub struct FilePart {
    /// The form field's name.
    pub name: String,
    /// As the browser sent it ("" when no file was chosen).
    pub file_name: String,
    /// What the browser says it is ("" when it says nothing).
    pub content_type: String,
    /// The least the file can be, from the request's `Content-Length` less
    /// what was read before the file (and the closing boundary), when the
    /// browser sent a length: a file known too large is refused unsent.
    pub at_least: Option<u64>,
    pub field: multer::Field<'static>,
}

impl std::fmt::Debug for FilePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilePart")
            .field("name", &self.name)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// The file of a posted multipart form, taken once by its handler.
#[derive(Clone, Default)]
pub struct FileSlot(Arc<Mutex<Option<FilePart>>>);

impl std::fmt::Debug for FileSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSlot").finish_non_exhaustive()
    }
}

impl FileSlot {
    pub fn take(&self) -> Option<FilePart> {
        self.0.lock().expect("file slot lock").take()
    }
}

async fn multipart_guard(
    sessions: &Sessions,
    request: Request,
    boundary: String,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let body_length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || (http::StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
    if body_length.is_some_and(|n| n > MAX_UPLOAD_BYTES + MAX_FORM_BYTES as u64) {
        return too_large();
    }
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new().whole_stream(MAX_UPLOAD_BYTES + MAX_FORM_BYTES as u64),
    );
    // What the parser has pulled from the body: at least everything before
    // the file (it may have read a little of the file ahead).
    let consumed = Arc::new(AtomicU64::new(0));
    let counter = consumed.clone();
    let counted = body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        chunk
    });
    // "\r\n--{boundary}--\r\n" ends the body after the file.
    let closing = boundary.len() as u64 + 8;
    let mut multipart = multer::Multipart::with_constraints(counted, boundary, constraints);
    let mut fields = Vec::new();
    let mut text_bytes = 0usize;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return (http::StatusCode::BAD_REQUEST, "a broken form").into_response(),
        };
        let name = field.name().unwrap_or_default().to_string();
        if let Some(file_name) = field.file_name() {
            // The file: the rest of the body stays unread.
            file = Some(FilePart {
                name,
                file_name: file_name.to_string(),
                content_type: field
                    .content_type()
                    .map(|m| m.essence_str().to_string())
                    .unwrap_or_default(),
                at_least: body_length.map(|n| {
                    n.saturating_sub(consumed.load(Ordering::Relaxed))
                        .saturating_sub(closing)
                }),
                field,
            });
            break;
        }
        let value = match field.text().await {
            Ok(v) => v,
            Err(_) => return (http::StatusCode::BAD_REQUEST, "a broken form").into_response(),
        };
        text_bytes += name.len() + value.len();
        if text_bytes > MAX_FORM_BYTES {
            return too_large();
        }
        fields.push((name, value));
    }
    let sent = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    // The token must come before the file: one sent after it is never read.
    let bound = csrf_subject(sessions, &parts.headers);
    if !bound.is_some_and(|id| sessions.csrf_matches(&id, sent)) {
        return csrf_refused(&parts.headers);
    }
    parts.extensions.insert(FormFields(fields));
    parts
        .extensions
        .insert(FileSlot(Arc::new(Mutex::new(file))));
    next.run(Request::from_parts(parts, Body::empty())).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use markaz_kit::auth::Role;

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let s = Sessions::new(Some(&[7u8; 32]), false);
        let a = s.csrf_for("session-a");
        assert!(s.csrf_matches("session-a", &a));
        assert!(!s.csrf_matches("session-b", &a));
        assert!(!s.csrf_matches("session-a", ""));
        assert!(!s.csrf_matches("session-a", "not base64 !"));
        let other_key = Sessions::new(Some(&[8u8; 32]), false);
        assert!(!other_key.csrf_matches("session-a", &a));
    }

    #[test]
    fn a_sign_in_is_finished_once() {
        let s = Sessions::new(None, false);
        s.start_login(
            "state-1".into(),
            PendingLogin {
                verifier: "v".into(),
                nonce: "n".into(),
                return_to: "/".into(),
                started_at: now_secs(),
            },
        );
        assert!(s.finish_login("state-1").is_some());
        assert!(s.finish_login("state-1").is_none());
        s.start_login(
            "old".into(),
            PendingLogin {
                verifier: "v".into(),
                nonce: "n".into(),
                return_to: "/".into(),
                started_at: now_secs() - LOGIN_WINDOW_SECS - 1,
            },
        );
        assert!(s.finish_login("old").is_none());
    }

    #[test]
    fn sessions_end() {
        let s = Sessions::new(None, true);
        let who = Caller {
            subject: "u".into(),
            tenant: "t".into(),
            roles: vec![Role::Staff],
            organization: None,
            shared_tenants: Vec::new(),
        };
        let live = s.create("tok".into(), who.clone(), now_secs() + 60);
        assert_eq!(s.get(&live.id).unwrap().token, "tok");
        s.end(&live.id);
        assert!(s.get(&live.id).is_none());
        let expired = s.create("tok".into(), who, now_secs() - 1);
        assert!(s.get(&expired.id).is_none());
    }
}
