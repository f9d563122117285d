//! The baseline: a bare tonic server answering the same `Ping` the platform
//! serves, with nothing behind it — no auth, no tracing, no metrics, no
//! limits. `noop` against the platform divided by `echo` is the share of
//! gRPC's own cost in what the platform adds.

use std::net::SocketAddr;

use markaz_proto::platform::v1 as platform;
use platform::platform_service_server::{PlatformService, PlatformServiceServer};

#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

#[tonic::async_trait]
impl PlatformService for Echo {
    async fn who_am_i(
        &self,
        _: tonic::Request<platform::WhoAmIRequest>,
    ) -> Result<tonic::Response<platform::WhoAmIResponse>, tonic::Status> {
        Ok(tonic::Response::new(platform::WhoAmIResponse::default()))
    }

    async fn ping(
        &self,
        request: tonic::Request<platform::PingRequest>,
    ) -> Result<tonic::Response<platform::PingResponse>, tonic::Status> {
        Ok(tonic::Response::new(platform::PingResponse {
            payload: request.into_inner().payload,
        }))
    }

    // The echo runs no service: it has no dead letters.
    async fn list_dead_letters(
        &self,
        _: tonic::Request<platform::ListDeadLettersRequest>,
    ) -> Result<tonic::Response<platform::ListDeadLettersResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("the echo runs no service"))
    }

    async fn replay_dead_letter(
        &self,
        _: tonic::Request<platform::ReplayDeadLetterRequest>,
    ) -> Result<tonic::Response<platform::ReplayDeadLetterResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("the echo runs no service"))
    }
}

/// Serves the echo until SIGTERM or Ctrl-C (`markaz bench-echo`).
pub async fn serve(addr: SocketAddr) -> Result<(), String> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(health)
        .add_service(PlatformServiceServer::new(Echo))
        .serve_with_shutdown(addr, markaz_kit::app::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}
