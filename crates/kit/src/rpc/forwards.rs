//! [`grpc_forwards!`](crate::grpc_forwards): the tonic service trait as one
//! line per method, each forwarding to a handler function in the service's
//! `api` module. The handler is an `async fn(&Api, Caller, Request) ->
//! Result<Response>` (`Anonymous` for a public one); the macro adds the
//! rest — the gate's caller, the span, the metrics, the status mapping —
//! through [`Rpc::handle`](super::Rpc::handle), from the `rpc` field of the
//! API type.
//!
//! ```text
//! markaz_kit::grpc_forwards! {
//!     impl MembershipService for MembershipApi {
//!         create_organization(api::CreateOrganizationRequest) -> api::Organization
//!             => organizations::create;
//!         #[public] verify_certificate(api::VerifyCertificateRequest)
//!             -> api::VerifyCertificateResponse => certificates::verify;
//!     }
//!     // Streaming methods, written out as tonic wants them:
//!     extra { type DownloadStream = ...; async fn download(...) { ... } }
//! }
//! ```

/// See [the module](crate::rpc::forwards).
#[macro_export]
macro_rules! grpc_forwards {
    (
        impl $($service:ident)::+ for $api:ty {
            $( $(#[$kind:ident])? $method:ident ( $req:ty ) -> $resp:ty => $handler:path ; )*
        }
        $( extra { $($extra:tt)* } )?
    ) => {
        // The methods are written out here, not by a nested macro: the
        // async-trait attribute must see each `async fn` as it rewrites them.
        #[::tonic::async_trait]
        impl $($service)::+ for $api {
            $(
                async fn $method(
                    &self,
                    request: ::tonic::Request<$req>,
                ) -> ::std::result::Result<::tonic::Response<$resp>, ::tonic::Status> {
                    $crate::grpc_forwards!(@call $($kind)? self, request, $handler)
                }
            )*
            $( $($extra)* )?
        }
    };
    (@call $api:ident, $request:ident, $handler:path) => {
        $api.rpc
            .handle($request, |caller, req| $handler($api, caller, req))
            .await
    };
    (@call public $api:ident, $request:ident, $handler:path) => {
        $api.rpc
            .handle_public($request, |anonymous, req| $handler($api, anonymous, req))
            .await
    };
}
