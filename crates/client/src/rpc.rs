//! A connection to a running Markaz and the caller's token, and the one
//! place that decides which refusals are worth waiting out.
//!
//! A client of Markaz meets three refusals that are not errors of its own:
//! the write budget (RESOURCE_EXHAUSTED with a RetryInfo saying when),
//! a service that has not yet heard of a record another service just made
//! (FAILED_PRECONDITION `*_NOT_KNOWN`: its copy follows by events), and a
//! moment's unavailability. [`Api::call`] waits those out, within bounds,
//! and turns everything else into a message naming what was being done.

use std::future::Future;
use std::time::{Duration, Instant};

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// How long a record may take to reach another service's copy before the
/// refusal is taken for what it says.
const COPY_WAIT: Duration = Duration::from_secs(60);
/// How long one call waits out the write budget and unavailability.
const BUDGET_WAIT: Duration = Duration::from_secs(300);

/// Precondition kinds that mean "not known here yet": another service's
/// event has not arrived. `NOT_ELIGIBLE` is grants judging an organization
/// on a copy whose incubation status may still be on its way.
const NOT_YET: &[&str] = &[
    "NOT_KNOWN",
    "PERSON_NOT_KNOWN",
    "ORGANIZATION_NOT_KNOWN",
    "ORGANIZATION_UNKNOWN",
    "PERSON_UNKNOWN",
    "NOT_AFFILIATED",
    "NOT_ELIGIBLE",
];

/// `127.0.0.1:50051` (as `markaz dev` prints it) or `http://…`.
pub fn endpoint(addr: &str) -> Result<String, String> {
    let addr = addr.trim();
    if addr.starts_with("https://") {
        return Err(format!(
            "{addr}: this client speaks plaintext gRPC only (a `markaz dev` or a server without \
             TLS); reach a TLS server through a port-forward"
        ));
    }
    Ok(if addr.starts_with("http://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    })
}

/// The token of `--token`, else of MARKAZ_TOKEN.
pub fn token(flag: Option<String>) -> Result<String, String> {
    flag.filter(|t| !t.trim().is_empty())
        .or_else(|| std::env::var("MARKAZ_TOKEN").ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            "a token is needed: --token or MARKAZ_TOKEN (`markaz dev` prints an admin token for \
             tenant 'demo')"
                .to_string()
        })
}

pub async fn connect(addr: &str) -> Result<Channel, String> {
    let url = endpoint(addr)?;
    Channel::from_shared(url.clone())
        .map_err(|e| format!("{url}: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("cannot reach Markaz at {url}: {e} (is `markaz dev` running?)"))
}

/// A channel and the bearer token every request carries.
#[derive(Clone, Debug)]
pub struct Api {
    pub channel: Channel,
    bearer: MetadataValue<Ascii>,
}

impl Api {
    pub fn new(channel: Channel, token: &str) -> Result<Api, String> {
        Ok(Api {
            channel,
            bearer: format!("Bearer {token}")
                .parse()
                .map_err(|_| "the token is not ASCII".to_string())?,
        })
    }

    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        r.metadata_mut()
            .insert("authorization", self.bearer.clone());
        r
    }

    /// Calls `f` until it answers or fails for good: the write budget and
    /// unavailability are waited out, a record not yet known to the service
    /// is retried for [`COPY_WAIT`]. The error names `what`.
    pub async fn call<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let status = match f().await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) => s,
            };
            let wait = match retry_after(&status) {
                Some(Retry::Budget(d)) if started.elapsed() < BUDGET_WAIT => d,
                Some(Retry::Soon) if started.elapsed() < BUDGET_WAIT => pause,
                Some(Retry::NotYet) if started.elapsed() < COPY_WAIT => pause,
                _ => return Err(format!("{what}: {}", describe(&status))),
            };
            tokio::time::sleep(wait).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

/// Why a refusal is worth trying again.
#[derive(Debug, PartialEq)]
pub enum Retry {
    /// The write budget: after the server's RetryInfo.
    Budget(Duration),
    /// UNAVAILABLE, ABORTED: at once, backing off.
    Soon,
    /// A record the service's copy has not received yet.
    NotYet,
}

pub fn retry_after(status: &tonic::Status) -> Option<Retry> {
    match status.code() {
        tonic::Code::ResourceExhausted => {
            let wait = status
                .get_details_retry_info()
                .and_then(|r| r.retry_delay)
                .unwrap_or(Duration::from_secs(1));
            Some(Retry::Budget(wait))
        }
        tonic::Code::Unavailable | tonic::Code::Aborted => Some(Retry::Soon),
        tonic::Code::FailedPrecondition => {
            let kinds: Vec<String> = status
                .get_details_precondition_failure()
                .map(|p| p.violations.into_iter().map(|v| v.r#type).collect())
                .unwrap_or_default();
            kinds
                .iter()
                .any(|k| NOT_YET.contains(&k.as_str()))
                .then_some(Retry::NotYet)
        }
        _ => None,
    }
}

/// A status as a person reads it: the code, the message and every bad
/// field or unmet precondition.
pub fn describe(status: &tonic::Status) -> String {
    let mut out = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            out.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    if let Some(pre) = status.get_details_precondition_failure() {
        for v in pre.violations {
            out.push_str(&format!(
                "\n  {} {}: {}",
                v.r#type, v.subject, v.description
            ));
        }
    }
    out
}

/// Every item of a paged list: `page(token)` returns one page's items and
/// the next token ("" at the end).
pub async fn all<T, F, Fut>(what: &str, mut page: F) -> Result<Vec<T>, String>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), String>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    for _ in 0..10_000 {
        let (mut got, next) = page(token).await?;
        items.append(&mut got);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
    Err(format!("{what}: the list never ended"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_take_what_dev_prints() {
        assert_eq!(
            endpoint("127.0.0.1:50051").unwrap(),
            "http://127.0.0.1:50051"
        );
        assert_eq!(endpoint("http://h:1").unwrap(), "http://h:1");
        assert!(endpoint("https://h:1").is_err());
    }

    #[test]
    fn only_passing_refusals_are_retried() {
        let budget = tonic_types::ErrorDetails::with_retry_info(Some(Duration::from_secs(3)));
        let s = tonic::Status::with_error_details(tonic::Code::ResourceExhausted, "budget", budget);
        assert_eq!(retry_after(&s), Some(Retry::Budget(Duration::from_secs(3))));
        let not_known = tonic::Status::with_error_details(
            tonic::Code::FailedPrecondition,
            "x",
            tonic_types::ErrorDetails::with_precondition_failure(vec![
                tonic_types::PreconditionViolation::new("PERSON_NOT_KNOWN", "person/1", "later"),
            ]),
        );
        assert_eq!(retry_after(&not_known), Some(Retry::NotYet));
        let refused = tonic::Status::with_error_details(
            tonic::Code::FailedPrecondition,
            "x",
            tonic_types::ErrorDetails::with_precondition_failure(vec![
                tonic_types::PreconditionViolation::new("CALL_STATE", "call/1", "closed"),
            ]),
        );
        assert_eq!(retry_after(&refused), None);
        assert_eq!(retry_after(&tonic::Status::invalid_argument("bad")), None);
    }
}
