//! What every RPC handler shares, written once.
//!
//! | room | what it holds |
//! |---|---|
//! | [`gate`] | the rights table of each service and the tower layer that admits a request — token and roles from its headers — before its body is read |
//! | this module | [`Rpc::handle`]: the admitted caller, a span continuing the client's trace, metrics, and the one mapping from [`Error`](crate::error::Error) to `tonic::Status` |
//! | [`limits`] | what a request may cost before its handler runs: message sizes read from the framing, bytes in flight per connection and per process |
//! | [`peer`] | a public request's client address, through the proxies the deployment trusts |
//! | [`idempotency`] | creates retried by `request_id` (AIP-155) |
//! | [`conventions`] | etags, update masks, keyset pages, object ids (AIP-134, 154, 158) |
//! | [`forwards`] | [`grpc_forwards!`](crate::grpc_forwards): the tonic trait impl as one line per method |

use std::future::Future;
use std::time::Instant;

use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::telemetry::{self, MethodLabels, RpcLabels};

pub mod budget;
pub mod conventions;
pub mod forwards;
pub mod gate;
pub mod idempotency;
pub mod limits;
pub mod peer;
pub mod rate;

pub use conventions::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, check_etag, etag, new_id, parse_id, parse_optional_id,
    update_mask,
};
pub use gate::{Access, Admitted, Gate, Rights};
pub use idempotency::{ERASED_REQUEST, Idempotency};

/// The per-service entry point of every RPC.
#[derive(Clone)]
pub struct Rpc {
    service: &'static str,
    /// The registered tenants; `None` where no request is served (replaying
    /// a dead letter).
    tenants: Option<crate::tenants::Tenants>,
    /// Whose `x-forwarded-for` names a public caller's address.
    trusted: peer::TrustedProxies,
}

impl std::fmt::Debug for Rpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rpc")
            .field("service", &self.service)
            .finish()
    }
}

impl Rpc {
    pub fn new(service: &'static str) -> Rpc {
        Rpc {
            service,
            tenants: None,
            trusted: peer::TrustedProxies::default(),
        }
    }

    /// Believes these proxies' `x-forwarded-for` for a public caller's
    /// address (`server.trusted_proxies`).
    pub fn with_trusted_proxies(mut self, trusted: peer::TrustedProxies) -> Rpc {
        self.trusted = trusted;
        self
    }

    /// Admits a tenant's callers only once the tenant is registered.
    pub fn with_tenants(mut self, tenants: crate::tenants::Tenants) -> Rpc {
        self.tenants = Some(tenants);
        self
    }

    /// PERMISSION_DENIED for a caller of a tenant this deployment never
    /// registered (an operator works on no tenant).
    async fn check_tenant(&self, caller: &Caller) -> Result<()> {
        match &self.tenants {
            Some(tenants) if !caller.tenant.is_empty() => tenants.check(&caller.tenant).await,
            _ => Ok(()),
        }
    }

    /// Runs `handler` for the request the [`Gate`] admitted: with the caller
    /// it verified (or, for a public method, [`Anonymous`] from the peer's
    /// address), in a span that continues the client's `traceparent`,
    /// recording the outcome in the metrics and mapping the error to a gRPC
    /// status. The method's name comes from the gate, never typed here.
    pub async fn handle<Req, Resp, F, Fut>(
        &self,
        request: tonic::Request<Req>,
        handler: F,
    ) -> std::result::Result<tonic::Response<Resp>, tonic::Status>
    where
        F: FnOnce(Caller, Req) -> Fut,
        Fut: Future<Output = Result<Resp>>,
    {
        let Some(admitted) = request.extensions().get::<Admitted>().cloned() else {
            return Err(not_on_the_gate());
        };
        self.observe(admitted.method, request, |request| async move {
            let caller = admitted.caller.ok_or_else(|| {
                Error::internal("a public method reached an authenticated handler")
            })?;
            let current = tracing::Span::current();
            current.record("tenant", caller.tenant.as_str());
            current.record("subject", caller.subject.as_str());
            self.check_tenant(&caller).await?;
            handler(caller, request.into_inner()).await
        })
        .await
    }

    /// [`Rpc::handle`] for a method its rights table makes public: no token
    /// is read, not even a bad one refused; the handler gets the peer's
    /// address, for rate limits.
    pub async fn handle_public<Req, Resp, F, Fut>(
        &self,
        request: tonic::Request<Req>,
        handler: F,
    ) -> std::result::Result<tonic::Response<Resp>, tonic::Status>
    where
        F: FnOnce(Anonymous, Req) -> Fut,
        Fut: Future<Output = Result<Resp>>,
    {
        let Some(admitted) = request.extensions().get::<Admitted>().cloned() else {
            return Err(not_on_the_gate());
        };
        self.observe(admitted.method, request, |request| async move {
            let anonymous = Anonymous::of(&request, &self.trusted);
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
    /// not say): behind a trusted proxy, the client it forwards for
    /// ([`peer`]); behind any other, the proxy's.
    pub peer: Option<std::net::IpAddr>,
}

impl Anonymous {
    fn of<Req>(request: &tonic::Request<Req>, trusted: &peer::TrustedProxies) -> Anonymous {
        let forwarded = request
            .metadata()
            .get(peer::FORWARDED_FOR)
            .and_then(|v| v.to_str().ok());
        Anonymous {
            peer: trusted.client(request.remote_addr().map(|a| a.ip()), forwarded),
        }
    }
}

/// A handler reached without the gate in front: its method is missing from
/// the service's rights table (its tests say which), or the server was built
/// without [`Gate`].
fn not_on_the_gate() -> tonic::Status {
    tracing::error!("a request reached a handler without passing the gate");
    tonic::Status::internal("this method is not in its service's rights table")
}
