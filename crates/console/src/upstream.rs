//! The services, as the console reaches them: their public gRPC APIs, each
//! call carrying the signed-in person's own bearer token.

use std::time::Duration;

use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use markaz_proto::platform::v1::platform_service_client::PlatformServiceClient;
use tonic::transport::Channel;
use tonic_types::StatusExt;

#[derive(Debug, Clone)]
pub struct Upstream {
    channel: Channel,
}

impl Upstream {
    /// Connects lazily: the console starts (and shows a readable
    /// UNAVAILABLE page) even while the services are down.
    pub fn new(url: &str) -> Result<Upstream, String> {
        let channel = Channel::from_shared(url.to_string())
            .map_err(|e| format!("upstream {url}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .connect_lazy();
        Ok(Upstream { channel })
    }

    pub fn membership(&self) -> MembershipServiceClient<Channel> {
        MembershipServiceClient::new(self.channel.clone())
    }

    pub fn capacity(&self) -> CapacityServiceClient<Channel> {
        CapacityServiceClient::new(self.channel.clone())
    }

    pub fn grants(&self) -> GrantsServiceClient<Channel> {
        GrantsServiceClient::new(self.channel.clone())
    }

    pub fn platform(&self) -> PlatformServiceClient<Channel> {
        PlatformServiceClient::new(self.channel.clone())
    }
}

/// `message` with `token` as its bearer credential (empty: none, for the
/// public RPCs).
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if !token.is_empty()
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// The `BadRequest` field violations of a status, as (field, description).
pub fn field_violations(status: &tonic::Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// The reasons of a refused state change (`PreconditionFailure`), else the
/// status message.
pub fn refusal(status: &tonic::Status) -> Vec<String> {
    let reasons: Vec<String> = status
        .get_details_precondition_failure()
        .map(|p| p.violations.into_iter().map(|v| v.description).collect())
        .unwrap_or_default();
    if reasons.is_empty() {
        vec![status.message().to_string()]
    } else {
        reasons
    }
}
