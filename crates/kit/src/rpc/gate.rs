//! The gate in front of every service: who may call which method, decided
//! from the request's headers before a byte of its body is read.
//!
//! Each service declares a [`Rights`] table — every method of its gRPC
//! service with its [`Access`] — and the runtime puts one [`Gate`] (a tower
//! layer) in front of the server. For a method that needs a credential the
//! gate verifies the bearer token and the caller's roles from the headers;
//! a refused request is answered at once (UNAUTHENTICATED, PERMISSION_DENIED)
//! and its body is never buffered or decoded, whatever it declares. An
//! admitted request carries an [`Admitted`] extension — the method's names
//! and the verified [`Caller`] — which [`super::Rpc::handle`] takes, so a
//! handler neither types its method's name nor checks its roles again.
//!
//! Every request body is then read through [`GuardedBody`]: a message over
//! the method's limit is refused at its header, and the bytes still
//! arriving count against per-connection and per-process budgets (see
//! [`super::limits`]). A write (any method but a read, see
//! [`super::budget::is_read`]) with a credential also spends its caller's
//! write budget ([`WriteBudget`]): one request when admitted, its bytes as
//! they arrive.
//!
//! The tables are checked against the protobuf descriptors in every
//! service's tests ([`crate::testing::rights`]): every method has exactly one
//! entry, and every role outside it is refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;

use super::budget::{WriteBudget, is_read};
use super::limits::{GuardedBody, InFlight, PUBLIC_MESSAGE_BYTES};
use crate::auth::{Caller, Role, Verifier};
use crate::telemetry::{self, RpcLabels};

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A caller holding one of these roles — and a tenant, unless the
    /// operator is among them.
    Roles(&'static [Role]),
    /// Anyone, without a credential (none is even read).
    Public,
}

/// The rights table of one gRPC service of a Markaz service.
#[derive(Debug, Clone, Copy)]
pub struct Rights {
    /// The Markaz service (`membership`): the label of its metrics.
    pub service: &'static str,
    /// The full gRPC service name (`markaz.membership.v1.MembershipService`).
    pub grpc_service: &'static str,
    /// Every method, by its protobuf name, with who may call it.
    pub methods: &'static [(&'static str, Access)],
}

impl Rights {
    /// Who may call `method`, if the table names it.
    pub fn access(&self, method: &str) -> Option<Access> {
        self.methods
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, a)| *a)
    }
}

/// What the gate lets through, attached to the request for its handler.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub service: &'static str,
    pub method: &'static str,
    /// The verified caller; `None` for a public method.
    pub caller: Option<Caller>,
}

/// One method as the gate knows it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    service: &'static str,
    method: &'static str,
    access: Access,
}

/// The tower layer: every method of every service's rights table.
#[derive(Clone)]
pub struct Gate {
    /// By request path, `/<grpc service>/<method>`.
    methods: Arc<HashMap<String, Entry>>,
    verifier: Arc<Verifier>,
    /// The largest message a method with a credential decodes.
    max_message_bytes: usize,
    in_flight: Arc<InFlight>,
    writes: Arc<WriteBudget>,
}

/// The caller whose write budget a request's bytes are taken from.
#[derive(Debug, Clone)]
struct Writer(String);

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("methods", &self.methods.len())
            .finish()
    }
}

impl Gate {
    pub fn new(
        rights: &[Rights],
        verifier: Arc<Verifier>,
        max_message_bytes: usize,
        in_flight: Arc<InFlight>,
        writes: Arc<WriteBudget>,
    ) -> Gate {
        let mut methods = HashMap::new();
        for table in rights {
            for (method, access) in table.methods {
                methods.insert(
                    format!("/{}/{method}", table.grpc_service),
                    Entry {
                        service: table.service,
                        method,
                        access: *access,
                    },
                );
            }
        }
        Gate {
            methods: Arc::new(methods),
            verifier,
            max_message_bytes,
            in_flight,
            writes,
        }
    }

    /// The largest message the method at `path` decodes: a method with a
    /// credential the configured size; a public one, and anything no table
    /// names (health, reflection), a small one.
    fn message_limit(&self, path: &str) -> usize {
        match self.methods.get(path) {
            Some(Entry {
                access: Access::Roles(_),
                ..
            }) => self.max_message_bytes,
            _ => PUBLIC_MESSAGE_BYTES,
        }
    }

    /// Admits the request, or says why not. Paths no table names (health,
    /// reflection, a service not yet on the gate) pass untouched.
    fn admit<B>(&self, request: &mut http::Request<B>) -> Result<(), (Entry, tonic::Status)> {
        let Some(entry) = self.methods.get(request.uri().path()).copied() else {
            return Ok(());
        };
        let caller = match entry.access {
            Access::Public => None,
            Access::Roles(roles) => {
                let header = request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                let caller = self
                    .verifier
                    .verify_header(header)
                    .and_then(|caller| caller.require(roles).map(|()| caller))
                    .map_err(|e| (entry, tonic::Status::from(e)))?;
                if !is_read(entry.method) {
                    let writer = format!("{}/{}", caller.tenant, caller.subject);
                    self.writes
                        .admit(&writer)
                        .map_err(|wait| (entry, super::budget::refused(wait)))?;
                    request.extensions_mut().insert(Writer(writer));
                }
                Some(caller)
            }
        };
        request.extensions_mut().insert(Admitted {
            service: entry.service,
            method: entry.method,
            caller,
        });
        Ok(())
    }
}

impl<S> tower::Layer<S> for Gate {
    type Service = Gated<S>;
    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            gate: self.clone(),
            inner,
        }
    }
}

/// A service behind the [`Gate`].
#[derive(Clone, Debug)]
pub struct Gated<S> {
    gate: Gate,
    inner: S,
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for Gated<S>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
        > + Send,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        match self.gate.admit(&mut request) {
            Ok(()) => {
                let limit = self.gate.message_limit(request.uri().path());
                let connection = request
                    .extensions()
                    .get::<tonic::transport::server::TcpConnectInfo>()
                    .and_then(|c| c.remote_addr());
                let writer = request.extensions_mut().remove::<Writer>();
                let (parts, body) = request.into_parts();
                let mut body =
                    GuardedBody::new(body, limit, self.gate.in_flight.clone(), connection);
                if let Some(Writer(writer)) = writer {
                    body = body.charging(self.gate.writes.clone(), writer);
                }
                let request = http::Request::from_parts(parts, tonic::body::Body::new(body));
                Box::pin(self.inner.call(request))
            }
            Err((entry, status)) => {
                telemetry::metrics()
                    .rpc_requests
                    .get_or_create(&RpcLabels {
                        service: entry.service,
                        method: entry.method,
                        code: status.code().into(),
                    })
                    .inc();
                tracing::debug!(service = entry.service, method = entry.method, %status, "refused at the gate");
                // Answered from the headers: the body is dropped unread.
                drop(request);
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
