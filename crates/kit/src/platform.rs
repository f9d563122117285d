//! The platform service every process serves next to its services: who the
//! caller is (`WhoAmI`), the `Ping` no-op, and for operators the dead
//! letters of the services it runs — what `markaz dlq` reads from their
//! databases, over gRPC for the console.

use std::collections::BTreeMap;
use std::sync::Arc;

use markaz_proto::platform::v1 as platform;

use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::error::{Error, FieldViolation, Result};
use crate::events::{self, Applied, Consumer, DeadLetter};
use crate::rpc::{Access, Page, Rights, Rpc};

/// The platform service of one process.
#[derive(Clone)]
pub struct PlatformApi {
    rpc: Rpc,
    /// Each service this process runs: its database, and its consumer
    /// (which a replay applies the letter with) if it consumes events.
    services: Arc<BTreeMap<&'static str, (Db, Option<Consumer>)>>,
}

impl std::fmt::Debug for PlatformApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformApi")
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl PlatformApi {
    pub fn new(
        services: impl IntoIterator<Item = (&'static str, Db, Option<Consumer>)>,
    ) -> PlatformApi {
        PlatformApi {
            rpc: Rpc::new("platform"),
            services: Arc::new(
                services
                    .into_iter()
                    .map(|(name, db, consumer)| (name, (db, consumer)))
                    .collect(),
            ),
        }
    }

    /// The database of `service`, which must be one this process runs.
    fn service(&self, service: &str) -> Result<(&'static str, &(Db, Option<Consumer>))> {
        self.services
            .get_key_value(service)
            .map(|(name, s)| (*name, s))
            .ok_or_else(|| Error::not_found("service", service))
    }
}

const OPERATOR: &[Role] = &[Role::Operator];

/// Who may call the platform service: any role for `WhoAmI` (how a client
/// learns what its token says) and `Ping`; the dead letters are the
/// operator's, who runs the deployment and sees no tenant's data — a
/// letter names its event, never carries its content.
pub const PLATFORM_RIGHTS: Rights = Rights {
    service: "platform",
    grpc_service: <platform::platform_service_server::PlatformServiceServer<PlatformApi> as tonic::server::NamedService>::NAME,
    methods: &[
        ("WhoAmI", Access::Roles(&Role::ALL)),
        ("Ping", Access::Roles(&Role::ALL)),
        ("ListDeadLetters", Access::Roles(OPERATOR)),
        ("ReplayDeadLetter", Access::Roles(OPERATOR)),
    ],
};

crate::grpc_forwards! {
    impl platform::platform_service_server::PlatformService for PlatformApi {
        who_am_i(platform::WhoAmIRequest) -> platform::WhoAmIResponse => who_am_i;
        ping(platform::PingRequest) -> platform::PingResponse => ping;
        list_dead_letters(platform::ListDeadLettersRequest) -> platform::ListDeadLettersResponse => list_dead_letters;
        replay_dead_letter(platform::ReplayDeadLetterRequest) -> platform::ReplayDeadLetterResponse => replay_dead_letter;
    }
}

async fn who_am_i(
    _: &PlatformApi,
    caller: Caller,
    _: platform::WhoAmIRequest,
) -> Result<platform::WhoAmIResponse> {
    Ok(platform::WhoAmIResponse {
        subject: caller.subject,
        tenant_id: caller.tenant,
        roles: caller
            .roles
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        organization_id: caller.organization.unwrap_or_default(),
        shared_tenant_ids: caller.shared_tenants,
    })
}

async fn ping(
    _: &PlatformApi,
    _: Caller,
    req: platform::PingRequest,
) -> Result<platform::PingResponse> {
    Ok(platform::PingResponse {
        payload: req.payload,
    })
}

async fn list_dead_letters(
    api: &PlatformApi,
    _: Caller,
    req: platform::ListDeadLettersRequest,
) -> Result<platform::ListDeadLettersResponse> {
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{}|{}", req.service, req.include_replayed),
    )?;
    let chosen: Vec<_> = if req.service.is_empty() {
        api.services.iter().map(|(name, s)| (*name, s)).collect()
    } else {
        vec![api.service(&req.service)?]
    };
    // The key is the service and the letter's id: services in name order,
    // each one's letters newest first.
    let (after_service, after_id) = match page.after.split_once(':') {
        None => ("", i64::MAX),
        Some((service, id)) => (
            service,
            id.parse()
                .map_err(|_| Error::invalid("page_token", "not a token from this list"))?,
        ),
    };
    let mut letters = Vec::new();
    for (name, (db, _)) in chosen
        .into_iter()
        .filter(|(name, _)| *name >= after_service)
    {
        let before = if name == after_service {
            after_id
        } else {
            i64::MAX
        };
        let wanted = page.fetch() - letters.len() as i64;
        if wanted <= 0 {
            break;
        }
        letters.extend(
            events::dead_letters_before(db, req.include_replayed, before, wanted)
                .await?
                .into_iter()
                .map(|d| (name, d)),
        );
    }
    let next_page_token = page.finish(&mut letters, |(name, d)| format!("{name}:{}", d.id));
    Ok(platform::ListDeadLettersResponse {
        dead_letters: letters.iter().map(|(name, d)| to_proto(name, d)).collect(),
        next_page_token,
        services: api.services.keys().map(|s| s.to_string()).collect(),
    })
}

async fn replay_dead_letter(
    api: &PlatformApi,
    _: Caller,
    req: platform::ReplayDeadLetterRequest,
) -> Result<platform::ReplayDeadLetterResponse> {
    let mut violations = Vec::new();
    if req.service.is_empty() {
        violations.push(FieldViolation::new("service", "required"));
    }
    if req.id <= 0 {
        violations.push(FieldViolation::new("id", "required"));
    }
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let (name, (db, consumer)) = api.service(&req.service)?;
    // A service that consumes nothing has no letters to replay.
    let consumer = consumer
        .as_ref()
        .ok_or_else(|| Error::not_found("dead letter", req.id.to_string()))?;
    let applied = events::replay(db, consumer, req.id).await?;
    let letter = events::find_dead_letter(db, req.id).await?;
    Ok(platform::ReplayDeadLetterResponse {
        dead_letter: Some(to_proto(name, &letter)),
        applied: matches!(applied, Applied::Applied),
    })
}

fn to_proto(service: &str, d: &DeadLetter) -> platform::DeadLetter {
    platform::DeadLetter {
        service: service.to_string(),
        id: d.id,
        consumer: d.consumer.clone(),
        event_id: d.event_id.clone(),
        tenant_id: d.tenant_id.clone(),
        event_type: d.event_type.clone(),
        producer: d.producer.clone(),
        error: d.error.clone(),
        attempts: d.attempts,
        fail_time: Some(crate::time::timestamp(d.failed_at)),
        replay_time: d.replayed_at.map(crate::time::timestamp),
    }
}
