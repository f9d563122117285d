//! The running service, its client, and events delivered through its real
//! consumer.

pub use std::sync::Arc;

pub use markaz_impact::Impact;
pub use markaz_kit::auth::Role;
pub use markaz_kit::both_backends;
pub use markaz_kit::events::Applied;
pub use markaz_kit::testing::{Backend, TestApp, authed, field_violations, spawn};
pub use markaz_proto::events::v1 as ev;
pub use markaz_proto::impact::v1 as api;
pub use markaz_proto::impact::v1::Dimension;
pub use markaz_proto::impact::v1::impact_service_client::ImpactServiceClient;
pub use prost::Name;
pub use tonic::Code;
pub use tonic::transport::Channel;

pub const TENANT: &str = "raqqa-csc";
pub const OTHER_TENANT: &str = "deir-csc";

pub struct World {
    pub app: TestApp,
    pub client: ImpactServiceClient<Channel>,
    pub staff: String,
}

pub async fn world(backend: Backend) -> World {
    let app = spawn(backend, vec![Arc::new(Impact)]).await;
    let client = ImpactServiceClient::new(app.channel().await);
    let staff = app.token(TENANT, &[Role::Staff], None);
    World { app, client, staff }
}

impl World {
    /// Applies one event of `producer` through impact's consumer and inbox.
    pub async fn deliver_envelope(&self, envelope: &ev::Envelope) -> Applied {
        let db = self.app.app.db("impact").expect("impact's database");
        let consumer = self.app.app.consumer("impact").expect("impact consumes");
        markaz_kit::events::apply(db, consumer, envelope)
            .await
            .expect("the event applies")
    }

    pub async fn figures(&mut self, req: api::GetIndicatorsRequest) -> api::GetIndicatorsResponse {
        self.client
            .get_indicators(authed(req, &self.staff))
            .await
            .expect("figures")
            .into_inner()
    }
}

pub fn envelope<E: Name>(producer: &str, tenant: &str, event: &E) -> ev::Envelope {
    markaz_kit::events::envelope(producer, tenant, event)
}
