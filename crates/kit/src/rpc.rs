//! What every RPC handler shares: the caller extracted once, a span that
//! continues the client's trace, metrics, and the one mapping from
//! [`Error`](crate::error::Error) to `tonic::Status`. Plus the API
//! conventions: idempotent creates by `request_id`, etags, page tokens.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use prost::Message;

use crate::auth::{Caller, Verifier};
use crate::db::Tx;
use crate::error::{Error, FieldViolation, Result};
use crate::telemetry::{self, MethodLabels, RpcLabels};

/// The per-service entry point of every RPC.
#[derive(Clone)]
pub struct Rpc {
    service: &'static str,
    verifier: Arc<Verifier>,
}

impl std::fmt::Debug for Rpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rpc")
            .field("service", &self.service)
            .finish()
    }
}

impl Rpc {
    pub fn new(service: &'static str, verifier: Arc<Verifier>) -> Rpc {
        Rpc { service, verifier }
    }

    /// Runs `handler` for an authenticated caller: verifies the bearer token,
    /// opens a span that continues the client's `traceparent`, records the
    /// outcome in the metrics and maps the error to a gRPC status.
    pub async fn run<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        request: tonic::Request<Req>,
        handler: F,
    ) -> std::result::Result<tonic::Response<Resp>, tonic::Status>
    where
        F: FnOnce(Caller, Req) -> Fut,
        Fut: Future<Output = Result<Resp>>,
    {
        self.observe(method, request, |request| async move {
            let header = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            let caller = self.verifier.verify_header(header)?;
            let current = tracing::Span::current();
            current.record("tenant", caller.tenant.as_str());
            current.record("subject", caller.subject.as_str());
            handler(caller, request.into_inner()).await
        })
        .await
    }

    /// Runs `handler` for an RPC that anyone may call without a credential
    /// (verifying a certificate, suggesting a training). No token is read —
    /// not even a bad one is refused — but the span, the metrics and the
    /// error mapping are those of [`Rpc::run`]. The handler gets the peer's
    /// address, for rate limits.
    pub async fn run_public<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        request: tonic::Request<Req>,
        handler: F,
    ) -> std::result::Result<tonic::Response<Resp>, tonic::Status>
    where
        F: FnOnce(Anonymous, Req) -> Fut,
        Fut: Future<Output = Result<Resp>>,
    {
        self.observe(method, request, |request| async move {
            let anonymous = Anonymous {
                peer: request.remote_addr().map(|a| a.ip()),
            };
            tracing::Span::current().record("subject", "anonymous");
            handler(anonymous, request.into_inner()).await
        })
        .await
    }

    /// What every RPC shares: the span continuing the client's trace, the
    /// request and latency metrics, the error mapped to a status.
    async fn observe<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        request: tonic::Request<Req>,
        body: F,
    ) -> std::result::Result<tonic::Response<Resp>, tonic::Status>
    where
        F: FnOnce(tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<Resp>>,
    {
        let started = Instant::now();
        let traceparent = request
            .metadata()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let span = tracing::info_span!(
            "rpc",
            service = self.service,
            method,
            tenant = tracing::field::Empty,
            subject = tracing::field::Empty,
            code = tracing::field::Empty,
            otel.kind = "server",
        );
        let span_handle = span.clone();
        // The error becomes a status inside the span: an internal error's log
        // line then carries the service, method, tenant and trace id.
        let work = async move {
            body(request)
                .await
                .map(tonic::Response::new)
                .map_err(tonic::Status::from)
        };
        let result = telemetry::enter_remote(&traceparent, span, work).await;
        let code = match &result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        span_handle.record("code", tracing::field::debug(code));
        let metrics = telemetry::metrics();
        metrics
            .rpc_requests
            .get_or_create(&RpcLabels {
                service: self.service,
                method,
                code: code.into(),
            })
            .inc();
        metrics
            .rpc_duration
            .get_or_create(&MethodLabels {
                service: self.service,
                method,
            })
            .observe(started.elapsed().as_secs_f64());
        if let Err(status) = &result
            && code != tonic::Code::Internal
        {
            tracing::debug!(parent: &span_handle, %status, "request refused");
        }
        result
    }
}

/// The caller of a public RPC: nobody in particular, from `peer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anonymous {
    /// The address the request came from (`None` when the transport does
    /// not say). Behind a proxy this is the proxy's address.
    pub peer: Option<std::net::IpAddr>,
}

/// The request hash of a stored result erased with a person's data.
pub const ERASED_REQUEST: &str = "erased";

/// A create made idempotent by its `request_id` (AIP-155): a retry with the
/// same id and the same body returns the first result; the same id with a
/// different body is refused.
#[derive(Debug)]
pub struct Idempotency {
    method: &'static str,
    request_id: String,
    /// What is stored: the request id within the caller's own space, so
    /// callers never meet each other's ids (not even to learn one exists).
    key: String,
    hash: String,
}

impl Idempotency {
    /// `request_id` may be empty (no idempotency asked for). Ids are the
    /// caller's own: another caller using the same id is a different request.
    pub fn of<R: Message>(
        method: &'static str,
        caller: &Caller,
        request_id: &str,
        request: &R,
    ) -> Result<Self> {
        if request_id.len() > 128
            || !request_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(Error::invalid(
                "request_id",
                "at most 128 letters, digits, '-', '_', '.' or ':' (a UUID is ideal)",
            ));
        }
        if request_id.is_empty() {
            // No retry to recognize: nothing to hash.
            return Ok(Idempotency {
                method,
                request_id: String::new(),
                key: String::new(),
                hash: String::new(),
            });
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, &request.encode_to_vec());
        let caller_digest = ring::digest::digest(&ring::digest::SHA256, caller.subject.as_bytes());
        Ok(Idempotency {
            method,
            request_id: request_id.to_string(),
            key: format!("{}/{request_id}", &B64.encode(caller_digest.as_ref())[..16]),
            hash: B64.encode(digest.as_ref()),
        })
    }

    /// The earlier result of this request, if it was done before.
    pub async fn replay<T: Message + Default>(&self, tx: &mut Tx) -> Result<Option<T>> {
        if self.request_id.is_empty() {
            return Ok(None);
        }
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT request_hash, response FROM markaz_idempotency
             WHERE tenant_id = $1 AND method = $2 AND request_id = $3",
        )
        .bind(tx.tenant().to_owned())
        .bind(self.method)
        .bind(&self.key)
        .fetch_optional(tx.conn())
        .await?;
        match row {
            None => Ok(None),
            Some((hash, _)) if hash == ERASED_REQUEST => Err(Error::precondition(
                "REQUEST_ERASED",
                "request_id",
                "this request was done, and its result erased with the personal data it held",
            )),
            Some((hash, _)) if hash != self.hash => Err(Error::invalid(
                "request_id",
                "this request_id was used before with a different request",
            )),
            Some((_, response)) => T::decode(response.as_slice())
                .map(Some)
                .map_err(|e| Error::internal(format!("stored response: {e}"))),
        }
    }

    /// Keeps `response`, which created `resource_id`, as the result of this request.
    pub async fn remember<T: Message>(
        &self,
        tx: &mut Tx,
        resource_id: &str,
        response: &T,
    ) -> Result<()> {
        if self.request_id.is_empty() {
            return Ok(());
        }
        let inserted = sqlx::query(
            "INSERT INTO markaz_idempotency
               (tenant_id, method, request_id, request_hash, resource_id, response, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(tx.tenant())
        .bind(self.method)
        .bind(&self.key)
        .bind(&self.hash)
        .bind(resource_id)
        .bind(response.encode_to_vec())
        .bind(crate::time::now_micros())
        .execute(tx.conn())
        .await?
        .rows_affected();
        if inserted == 0 {
            // A concurrent retry got there first; this one rolls back and the
            // client's next retry finds the stored result.
            return Err(Error::Aborted(
                "a concurrent request with this request_id is in progress; retry".into(),
            ));
        }
        Ok(())
    }
}

/// The etag of an object at `version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Refuses an update whose etag is not the object's current one. An empty
/// etag means the caller does not ask for the check.
pub fn check_etag(field: &str, sent: &str, current_version: i64) -> Result<()> {
    if sent.is_empty() {
        return Ok(());
    }
    let version = sent
        .strip_prefix("W/\"")
        .and_then(|s| s.strip_suffix('"'))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| Error::invalid(field, "not an etag this service issued"))?;
    if version != current_version {
        return Err(Error::stale_etag());
    }
    Ok(())
}

/// Checks an update mask (AIP-134) against the fields a method lets callers
/// set; an empty mask means all of them. Returns the fields to replace.
pub fn update_mask(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&'static str],
) -> Result<Vec<&'static str>> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Ok(allowed.to_vec());
    }
    let mut violations = crate::error::Violations::new();
    let mut out = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        match allowed.iter().find(|a| **a == p.as_str()) {
            Some(a) => out.push(*a),
            None => violations.add(
                format!("update_mask.paths[{i}]"),
                format!("'{p}' cannot be updated; allowed: {}", allowed.join(", ")),
            ),
        }
    }
    violations.finish()?;
    Ok(out)
}

/// Default and largest page sizes (AIP-158).
pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

/// A page request, parsed: the size and the key to continue after.
#[derive(Debug, Clone)]
pub struct Page {
    pub size: i64,
    /// The last key of the previous page, or "" for the first page.
    pub after: String,
    filter: String,
}

impl Page {
    /// Parses `page_size` and `page_token`. `filter` is a fingerprint of the
    /// request's filters: a token is only good for the query that made it.
    pub fn parse(page_size: i32, page_token: &str, filter: &str) -> Result<Page> {
        if page_size < 0 {
            return Err(Error::invalid("page_size", "must not be negative"));
        }
        let size = match i64::from(page_size) {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let filter = fingerprint(filter);
        let after = if page_token.is_empty() {
            String::new()
        } else {
            let bad = || Error::invalid("page_token", "not a token from this list");
            let raw = B64.decode(page_token).map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (f, key) = text.split_once('|').ok_or_else(bad)?;
            if f != filter {
                return Err(Error::invalid(
                    "page_token",
                    "the token belongs to a list with other filters",
                ));
            }
            key.to_string()
        };
        Ok(Page {
            size,
            after,
            filter,
        })
    }

    /// How many rows to fetch: one more than the page, to know if more follow.
    pub fn fetch(&self) -> i64 {
        self.size + 1
    }

    /// Trims the extra row and returns the token of the next page ("" if last).
    pub fn finish<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if rows.len() as i64 > self.size {
            rows.truncate(self.size as usize);
            let last = rows.last().map(&key).unwrap_or_default();
            B64.encode(format!("{}|{last}", self.filter))
        } else {
            String::new()
        }
    }
}

fn fingerprint(filter: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, filter.as_bytes());
    B64.encode(&d.as_ref()[..9])
}

/// An object id in a request: a UUID this platform issued. Anything else is
/// refused as malformed (rather than looked up).
pub fn parse_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(field, "required"));
    }
    uuid::Uuid::try_parse(value)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| FieldViolation::new(field, "not a valid id"))
}

/// A fresh object id: a UUIDv7, so ids sort by creation time and keyset
/// pages follow creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_continue_only_the_same_query() {
        let page = Page::parse(2, "", "kind=1").unwrap();
        let mut rows = vec!["a", "b", "c"];
        let token = page.finish(&mut rows, |r| r.to_string());
        assert_eq!(rows, ["a", "b"]);
        let next = Page::parse(2, &token, "kind=1").unwrap();
        assert_eq!(next.after, "b");
        assert!(Page::parse(2, &token, "kind=2").is_err());
        assert!(Page::parse(2, "garbage!", "kind=1").is_err());
        assert!(Page::parse(-1, "", "").is_err());
        assert_eq!(Page::parse(100_000, "", "").unwrap().size, MAX_PAGE_SIZE);
    }

    #[test]
    fn update_masks_name_settable_fields_only() {
        let allowed = &["name", "kind"];
        assert_eq!(update_mask(None, allowed).unwrap(), ["name", "kind"]);
        let mask = prost_types::FieldMask {
            paths: vec!["kind".into()],
        };
        assert_eq!(update_mask(Some(&mask), allowed).unwrap(), ["kind"]);
        let mask = prost_types::FieldMask {
            paths: vec!["kind".into(), "id".into()],
        };
        let Err(Error::InvalidArgument(v)) = update_mask(Some(&mask), allowed) else {
            panic!("an unknown path is refused")
        };
        assert_eq!(v[0].field, "update_mask.paths[1]");
    }

    #[test]
    fn etags_must_match_the_current_version() {
        assert!(check_etag("etag", "", 3).is_ok());
        assert!(check_etag("etag", &etag(3), 3).is_ok());
        assert!(matches!(
            check_etag("etag", &etag(2), 3),
            Err(Error::Aborted(_))
        ));
        assert!(matches!(
            check_etag("etag", "3", 3),
            Err(Error::InvalidArgument(_))
        ));
    }
}
