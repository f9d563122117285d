//! The rights tables, tested the same way for every service: each table
//! names every method of its gRPC service, and the real server holds each
//! method to it — every role outside it refused, every role in it let
//! through, every bad credential turned away — before any request body is
//! read. The call is made with an empty request, which is a valid encoding
//! of every protobuf message, so no per-method code is needed.

use http::uri::PathAndQuery;
use tonic::Code;

use super::{TestApp, authed, service_methods_of};
use crate::auth::Role;
use crate::rpc::{Access, Rights};

/// A partner's organization in the tokens of this check: one that does not
/// exist, so a partner's call finds nothing of anyone's.
const SOMEONE_ELSES_ORGANIZATION: &str = "0190d3b4-5c1a-7000-8000-00000000dead";

/// Calls `/<service>/<method>` with an empty request and `token`.
pub async fn call_empty(app: &TestApp, grpc_service: &str, method: &str, token: &str) -> Code {
    let mut grpc = tonic::client::Grpc::new(app.channel().await);
    if let Err(e) = grpc.ready().await {
        panic!("the server is not ready: {e}");
    }
    let path = PathAndQuery::try_from(format!("/{grpc_service}/{method}")).expect("a path");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match grpc.unary(authed((), token), path, codec).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// Checks `tables` against the descriptors and through the running `app`,
/// for callers of `tenant`. Panics with every disagreement found.
pub async fn check(app: &TestApp, tables: &[Rights], tenant: &str) {
    let mut wrong = Vec::new();
    for table in tables {
        let declared = service_methods_of(table.grpc_service);
        let named: Vec<String> = table.methods.iter().map(|(m, _)| m.to_string()).collect();
        if declared != named {
            wrong.push(format!(
                "{}: the table names {named:?}, the proto declares {declared:?} (same order)",
                table.grpc_service
            ));
        }
        for (method, access) in table.methods {
            let Access::Roles(allowed) = access else {
                continue;
            };
            for (what, token) in app.env.bad_tokens(tenant) {
                let code = call_empty(app, table.grpc_service, method, &token).await;
                if code != Code::Unauthenticated {
                    wrong.push(format!(
                        "{method} with {what}: {code:?}, not Unauthenticated"
                    ));
                }
            }
            for role in Role::ALL {
                let own_tenant = if role == Role::Operator { "" } else { tenant };
                let token = app.token(own_tenant, &[role], Some(SOMEONE_ELSES_ORGANIZATION));
                let code = call_empty(app, table.grpc_service, method, &token).await;
                let admitted = allowed.contains(&role);
                let fine = if admitted {
                    !matches!(
                        code,
                        Code::PermissionDenied
                            | Code::Unauthenticated
                            | Code::Internal
                            | Code::Unknown
                            | Code::Unimplemented
                    )
                } else {
                    code == Code::PermissionDenied
                };
                if !fine {
                    wrong.push(format!(
                        "{method} as {role} ({}): {code:?}",
                        if admitted { "allowed" } else { "not allowed" }
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the rights tables do not hold:\n  {}",
        wrong.join("\n  ")
    );
}
