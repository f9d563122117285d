//! The gRPC API: the catalogue, the figures and what a figure counts —
//! read from impact's own facts, which only its consumer writes — and what
//! staff write beside them: the tenant's own indicators, and baselines and
//! targets.
//!
//! Rights: admin and staff of the tenant — the center's program and M&E
//! officers — see every figure of their tenant and the records behind it.
//! Partners, trainers and reviewers see none here; donors get theirs
//! through the donors API, with small cells suppressed.

pub(crate) mod definitions;
pub(crate) mod indicators;

use markaz_kit::auth::Role;
use markaz_kit::db::Db;
use markaz_kit::rpc::{Access, Rights, Rpc};
use markaz_proto::impact::v1 as api;
use markaz_proto::impact::v1::impact_service_server::{ImpactService, ImpactServiceServer};
use tonic::server::NamedService;

/// The tenant's own staff.
const STAFF: &[Role] = &[Role::Admin, Role::Staff];

/// Who may call each method, in the proto's order.
pub const RIGHTS: &[Rights] = &[Rights {
    service: crate::NAME,
    grpc_service: <ImpactServiceServer<ImpactApi> as NamedService>::NAME,
    methods: &[
        ("ListIndicatorDefinitions", Access::Roles(STAFF)),
        ("GetIndicators", Access::Roles(STAFF)),
        ("ExplainIndicator", Access::Roles(STAFF)),
        ("SetIndicatorTarget", Access::Roles(STAFF)),
        ("ListIndicatorTargets", Access::Roles(STAFF)),
        ("CreateCustomIndicator", Access::Roles(STAFF)),
    ],
}];

#[derive(Clone, Debug)]
pub struct ImpactApi {
    db: Db,
    rpc: Rpc,
}

impl ImpactApi {
    pub fn new(db: Db, rpc: Rpc) -> Self {
        ImpactApi { db, rpc }
    }
}

markaz_kit::grpc_forwards! {
    impl ImpactService for ImpactApi {
        list_indicator_definitions(api::ListIndicatorDefinitionsRequest)
            -> api::ListIndicatorDefinitionsResponse => indicators::definitions;
        get_indicators(api::GetIndicatorsRequest) -> api::GetIndicatorsResponse
            => indicators::figures;
        explain_indicator(api::ExplainIndicatorRequest) -> api::ExplainIndicatorResponse
            => indicators::explain;
        set_indicator_target(api::SetIndicatorTargetRequest) -> api::IndicatorTarget
            => definitions::set_target;
        list_indicator_targets(api::ListIndicatorTargetsRequest)
            -> api::ListIndicatorTargetsResponse => definitions::list_targets;
        create_custom_indicator(api::CreateCustomIndicatorRequest) -> api::IndicatorDefinition
            => definitions::create_custom;
    }
}
