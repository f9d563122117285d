//! The gRPC API: the catalogue, the figures and what a figure counts —
//! read from impact's own facts, which only its consumer writes — and what
//! staff write beside them: the tenant's own indicators, and baselines and
//! targets.
//!
//! Rights: admin and staff of the tenant — the center's program and M&E
//! officers — see every figure of their tenant and the records behind it.
//! Partners, trainers and reviewers see none here; donors get theirs
//! through `DonorService` ([`donors`]), with small cells suppressed, under
//! the agreements the tenant's admin makes in `SharingService`
//! ([`sharing`]).

pub(crate) mod definitions;
pub(crate) mod donors;
pub(crate) mod indicators;
pub(crate) mod publication;
pub(crate) mod sharing;

use std::sync::Arc;

use markaz_kit::auth::Role;
use markaz_kit::db::Db;
use markaz_kit::rpc::rate::RateLimiter;
use markaz_kit::rpc::{Access, Rights, Rpc};
use markaz_proto::donors::v1 as donors_api;
use markaz_proto::donors::v1::donor_service_server::{DonorService, DonorServiceServer};
use markaz_proto::donors::v1::sharing_service_server::{SharingService, SharingServiceServer};
use markaz_proto::impact::v1 as api;
use markaz_proto::impact::v1::impact_service_server::{ImpactService, ImpactServiceServer};
use tonic::server::NamedService;

/// The tenant's own staff.
const STAFF: &[Role] = &[Role::Admin, Role::Staff];

/// The tenant's admin: who shares and stops sharing.
const ADMIN: &[Role] = &[Role::Admin];

/// The deployment's operator, who registers donors.
const OPERATOR: &[Role] = &[Role::Operator];

/// Who picks a donor to share with.
const DONOR_LOOKUP: &[Role] = &[Role::Operator, Role::Admin, Role::Staff];

/// A donor platform, and no one else: staff read their own figures
/// through `ImpactService`, never through a donor's view.
const DONOR: &[Role] = &[Role::Donor];

/// Who may call each method, in the proto's order.
pub const RIGHTS: &[Rights] = &[
    Rights {
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
    },
    Rights {
        service: crate::NAME,
        grpc_service: <SharingServiceServer<ImpactApi> as NamedService>::NAME,
        methods: &[
            ("RegisterDonor", Access::Roles(OPERATOR)),
            ("ListDonors", Access::Roles(DONOR_LOOKUP)),
            ("CreateShareAgreement", Access::Roles(ADMIN)),
            ("RevokeShareAgreement", Access::Roles(ADMIN)),
            ("ListShareAgreements", Access::Roles(STAFF)),
            ("ListDonorReads", Access::Roles(STAFF)),
            ("GetSharingSettings", Access::Roles(STAFF)),
            ("UpdateSharingSettings", Access::Roles(ADMIN)),
            ("ExportProgramIati", Access::Roles(STAFF)),
            ("ExportProgramHxl3w", Access::Roles(STAFF)),
            // The center's public page and IATI's pipeline: no token.
            ("GetPublicFigures", Access::Public),
            ("GetPublishedIatiFile", Access::Public),
        ],
    },
    Rights {
        service: crate::NAME,
        grpc_service: <DonorServiceServer<ImpactApi> as NamedService>::NAME,
        methods: &[
            ("ListShares", Access::Roles(DONOR)),
            ("GetIndicators", Access::Roles(DONOR)),
            ("ListFundedProjects", Access::Roles(DONOR)),
            ("ExportIatiActivities", Access::Roles(DONOR)),
            ("ExportHxl3w", Access::Roles(DONOR)),
            ("GetStartCursor", Access::Roles(DONOR)),
            ("ListChanges", Access::Roles(DONOR)),
            ("WatchIndicators", Access::Roles(DONOR)),
            ("Export", Access::Roles(DONOR)),
        ],
    },
];

#[derive(Clone, Debug)]
pub struct ImpactApi {
    db: Db,
    rpc: Rpc,
    /// The public RPCs' rate limits.
    limiter: Arc<RateLimiter>,
}

impl ImpactApi {
    pub fn new(db: Db, rpc: Rpc) -> Self {
        ImpactApi {
            db,
            rpc,
            limiter: Arc::new(RateLimiter::new()),
        }
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

markaz_kit::grpc_forwards! {
    impl SharingService for ImpactApi {
        register_donor(donors_api::RegisterDonorRequest) -> donors_api::Donor => sharing::register_donor;
        list_donors(donors_api::ListDonorsRequest) -> donors_api::ListDonorsResponse => sharing::list_donors;
        create_share_agreement(donors_api::CreateShareAgreementRequest) -> donors_api::ShareAgreement
            => sharing::create_share;
        revoke_share_agreement(donors_api::RevokeShareAgreementRequest) -> donors_api::ShareAgreement
            => sharing::revoke_share;
        list_share_agreements(donors_api::ListShareAgreementsRequest)
            -> donors_api::ListShareAgreementsResponse => sharing::list_shares;
        list_donor_reads(donors_api::ListDonorReadsRequest) -> donors_api::ListDonorReadsResponse
            => sharing::list_reads;
        get_sharing_settings(donors_api::GetSharingSettingsRequest) -> donors_api::SharingSettings
            => sharing::get_settings;
        update_sharing_settings(donors_api::UpdateSharingSettingsRequest) -> donors_api::SharingSettings
            => sharing::update_settings;
        export_program_iati(donors_api::ExportProgramIatiRequest) -> donors_api::ExportFile
            => publication::export_program_iati;
        export_program_hxl3w(donors_api::ExportProgramHxl3wRequest) -> donors_api::ExportFile
            => publication::export_program_hxl;
        #[public] get_public_figures(donors_api::GetPublicFiguresRequest)
            -> donors_api::GetPublicFiguresResponse => publication::public_figures;
        #[public] get_published_iati_file(donors_api::GetPublishedIatiFileRequest)
            -> donors_api::PublishedIatiFile => publication::published_iati;
    }
}

markaz_kit::grpc_forwards! {
    impl DonorService for ImpactApi {
        list_shares(donors_api::ListSharesRequest) -> donors_api::ListSharesResponse => donors::list_shares;
        get_indicators(donors_api::GetIndicatorsRequest) -> donors_api::GetIndicatorsResponse
            => donors::indicators;
        list_funded_projects(donors_api::ListFundedProjectsRequest)
            -> donors_api::ListFundedProjectsResponse => donors::funded_projects;
        export_iati_activities(donors_api::ExportIatiActivitiesRequest)
            -> donors_api::ExportFile => donors::export_iati;
        export_hxl3w(donors_api::ExportHxl3wRequest) -> donors_api::ExportFile
            => donors::export_hxl;
        get_start_cursor(donors_api::GetStartCursorRequest)
            -> donors_api::GetStartCursorResponse => donors::start_cursor;
        list_changes(donors_api::ListChangesRequest) -> donors_api::ListChangesResponse
            => donors::changes;
        watch_indicators(donors_api::WatchIndicatorsRequest) -> donors::WatchStream
            => donors::watch;
        export(donors_api::ExportRequest) -> donors::ExportStream => donors::export;
    }
    extra {
        type WatchIndicatorsStream = donors::WatchStream;
        type ExportStream = donors::ExportStream;
    }
}
