//! The services, as the console reaches them: their public gRPC APIs, each
//! call carrying the signed-in person's own bearer token.

use std::net::IpAddr;
use std::time::Duration;

use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::donors::v1::sharing_service_client::SharingServiceClient;
use markaz_proto::grants::v1::grants_service_client::GrantsServiceClient;
use markaz_proto::impact::v1::impact_service_client::ImpactServiceClient;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use markaz_proto::networking::v1::networking_service_client::NetworkingServiceClient;
use markaz_proto::platform::v1::platform_service_client::PlatformServiceClient;
use markaz_proto::resources::v1::resources_service_client::ResourcesServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_types::StatusExt;

#[derive(Debug, Clone)]
pub struct Upstream {
    channel: Channel,
    /// For uploads: a file streams as slowly as the reader's connection.
    uploads: Channel,
}

/// The longest an upload may take: 2 GiB at 1 Mbit/s is 4.8 hours.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// A client whose every call carries one person's bearer token.
pub type Authed = InterceptedService<Channel, Bearer>;

impl Upstream {
    /// Connects lazily: the console starts (and shows a readable
    /// UNAVAILABLE page) even while the services are down.
    pub fn new(url: &str) -> Result<Upstream, String> {
        let endpoint = Channel::from_shared(url.to_string())
            .map_err(|e| format!("upstream {url}: {e}"))?
            .connect_timeout(Duration::from_secs(5));
        let channel = endpoint
            .clone()
            .timeout(Duration::from_secs(30))
            .connect_lazy();
        let uploads = endpoint.timeout(UPLOAD_TIMEOUT).connect_lazy();
        Ok(Upstream { channel, uploads })
    }

    pub fn membership(&self, bearer: &Bearer) -> MembershipServiceClient<Authed> {
        MembershipServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    pub fn capacity(&self, bearer: &Bearer) -> CapacityServiceClient<Authed> {
        CapacityServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    pub fn grants(&self, bearer: &Bearer) -> GrantsServiceClient<Authed> {
        GrantsServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    pub fn impact(&self, bearer: &Bearer) -> ImpactServiceClient<Authed> {
        ImpactServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    /// What the tenant shares with donors (served by impact).
    pub fn sharing(&self, bearer: &Bearer) -> SharingServiceClient<Authed> {
        SharingServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    pub fn networking(&self, bearer: &Bearer) -> NetworkingServiceClient<Authed> {
        NetworkingServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    pub fn resources(&self, bearer: &Bearer) -> ResourcesServiceClient<Authed> {
        ResourcesServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    /// Resources over the upload channel (no 30-second deadline).
    pub fn resources_streaming(&self, bearer: &Bearer) -> ResourcesServiceClient<Authed> {
        ResourcesServiceClient::with_interceptor(self.uploads.clone(), bearer.clone())
    }

    pub fn platform(&self, bearer: &Bearer) -> PlatformServiceClient<Authed> {
        PlatformServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }
}

/// What every call made for a visitor carries: the signed-in person's
/// token as its `authorization` (none for a visitor: the public RPCs), and
/// the visitor's address as its `x-forwarded-for`, which the services
/// believe from the console alone (kit's `rpc::peer`) for their public
/// rate limits.
#[derive(Clone)]
pub struct Bearer {
    token: Option<MetadataValue<Ascii>>,
    client: Option<MetadataValue<Ascii>>,
}

/// Never the token itself: a debug line must not carry a credential.
impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.token.is_some() {
            "token"
        } else {
            "none"
        };
        write!(f, "Bearer({what})")
    }
}

impl Bearer {
    /// A call with `token` (empty: none).
    pub fn new(token: &str) -> Bearer {
        Bearer {
            token: if token.is_empty() {
                None
            } else {
                format!("Bearer {token}").parse().ok()
            },
            client: None,
        }
    }

    /// The same, made for the visitor at `client`.
    pub fn for_client(mut self, client: Option<IpAddr>) -> Bearer {
        self.client = client.and_then(|ip| ip.to_string().parse().ok());
        self
    }

    /// The same visitor, without their token: a public page's calls are
    /// the same for everyone, signed in or not.
    pub fn anonymous(&self) -> Bearer {
        Bearer {
            token: None,
            client: self.client.clone(),
        }
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        if let Some(client) = &self.client {
            request
                .metadata_mut()
                .insert(markaz_kit::rpc::peer::FORWARDED_FOR, client.clone());
        }
        Ok(request)
    }
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

/// The status with its field violations renamed where `rename` gives a new
/// name (the form's field for the request's path), the others as they are:
/// so an objection lands next to the input a form names differently.
pub fn rename_violations(
    status: tonic::Status,
    rename: impl Fn(&str) -> Option<String>,
) -> tonic::Status {
    let violations = field_violations(&status);
    if violations.is_empty() {
        return status;
    }
    let mut details = tonic_types::ErrorDetails::new();
    for (field, description) in violations {
        let field = rename(&field).unwrap_or(field);
        details.add_bad_request_violation(field, description);
    }
    tonic::Status::with_error_details(status.code(), status.message(), details)
}
