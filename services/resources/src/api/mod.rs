//! The gRPC API: maps protobuf to the domain and back, checks the caller's
//! right to each object, runs each request in one transaction and writes the
//! events it causes into the outbox of that same transaction. The roles each
//! method takes are [`crate::RIGHTS`], checked by the gate before a handler
//! runs; one file per resource holds its handlers, one function per RPC.
//!
//! Rights, beyond the roles:
//! * every read of the library (get, list, search, suggest, files, usage)
//!   follows the item's visibility ([`crate::domain::items::may_read`], in
//!   SQL [`crate::store::items::Scope`]): an item the caller may not see is
//!   NOT_FOUND, and is never counted;
//! * a partner contributes for its own organization only, edits and submits
//!   its contribution while it is a draft or sent back, and follows its
//!   moderation; staff moderate;
//! * a partner books spaces open to partners for its own organization and
//!   sees its own bookings and services; staff of a space's tenant see and
//!   check in every booking of it, another tenant's included, without
//!   learning more of a clashing booking than its times;
//! * anyone may search a center's public catalogue, read its public items,
//!   list and download their files (rate-limited per client address; one
//!   rule, [`items::public_item`], says which items are the public's).
//!
//! Streaming: `UploadFile` takes `tonic::Streaming` as its request and
//! `DownloadFile`/`DownloadPublicFile` answer a boxed stream; both go
//! through `grpc_forwards!` like every other method (the handler runs — and
//! is measured — until the stream is set up; the chunks flow after).

pub(crate) mod bookings;
pub(crate) mod files;
pub(crate) mod items;
pub(crate) mod moderation;
pub(crate) mod search;
pub(crate) mod services;
pub(crate) mod spaces;
pub(crate) mod usage;

use std::sync::Arc;
use std::time::Duration;

use markaz_kit::auth::{Caller, Role};
use markaz_kit::db::Db;
use markaz_kit::error::{Error, FieldViolation, Result};
use markaz_kit::rpc::rate::{Limit, RateLimiter};
use markaz_kit::rpc::{Anonymous, Rpc};
use markaz_kit::validate;
use markaz_kit::validate::enum_filter;
use markaz_proto::resources::v1 as api;
use markaz_proto::resources::v1::resources_service_server::ResourcesService;

use crate::domain::items::Reader;
use crate::storage::FileStore;

#[derive(Clone, Debug)]
pub struct ResourcesApi {
    db: Db,
    rpc: Rpc,
    /// The file store, or why it could not be opened.
    files: std::result::Result<FileStore, String>,
    limiter: Arc<RateLimiter>,
}

markaz_kit::grpc_forwards! {
    impl ResourcesService for ResourcesApi {
        create_item(api::CreateItemRequest) -> api::Item => items::create;
        get_item(api::GetItemRequest) -> api::Item => items::get;
        list_items(api::ListItemsRequest) -> api::ListItemsResponse => items::list;
        update_item(api::UpdateItemRequest) -> api::Item => items::update;
        publish_item(api::PublishItemRequest) -> api::Item => moderation::publish;
        withdraw_item(api::WithdrawItemRequest) -> api::Item => moderation::withdraw;

        submit_contribution(api::SubmitContributionRequest) -> api::Item => moderation::submit;
        approve_contribution(api::ApproveContributionRequest) -> api::Item
            => moderation::approve;
        request_contribution_changes(api::RequestContributionChangesRequest) -> api::Item
            => moderation::request_changes;
        reject_contribution(api::RejectContributionRequest) -> api::Item => moderation::reject;
        list_item_history(api::ListItemHistoryRequest) -> api::ListItemHistoryResponse
            => moderation::history;

        upload_file(::tonic::Streaming<api::UploadFileRequest>) -> api::ItemFile
            => files::upload;
        download_file(api::DownloadFileRequest) -> files::DownloadStream => files::download;
        list_item_files(api::ListItemFilesRequest) -> api::ListItemFilesResponse
            => files::list;
        list_file_versions(api::ListFileVersionsRequest) -> api::ListFileVersionsResponse
            => files::versions;
        withdraw_file_version(api::WithdrawFileVersionRequest) -> api::FileVersion
            => files::withdraw_version;

        search_items(api::SearchItemsRequest) -> api::SearchItemsResponse => search::search;
        suggest_items(api::SuggestItemsRequest) -> api::SuggestItemsResponse => search::suggest;
        #[public] search_public_items(api::SearchPublicItemsRequest) -> api::SearchItemsResponse
            => search::search_public;
        #[public] get_public_item(api::GetPublicItemRequest) -> api::Item
            => items::get_public;
        #[public] list_public_item_files(api::ListPublicItemFilesRequest)
            -> api::ListItemFilesResponse => files::list_public;
        #[public] download_public_file(api::DownloadPublicFileRequest) -> files::DownloadStream
            => files::download_public;

        get_item_usage(api::GetItemUsageRequest) -> api::ItemUsage => usage::item;
        get_library_usage_report(api::GetLibraryUsageReportRequest) -> api::LibraryUsageReport
            => usage::library;

        create_space(api::CreateSpaceRequest) -> api::Space => spaces::create;
        get_space(api::GetSpaceRequest) -> api::Space => spaces::get;
        list_spaces(api::ListSpacesRequest) -> api::ListSpacesResponse => spaces::list;
        update_space(api::UpdateSpaceRequest) -> api::Space => spaces::update;
        create_equipment(api::CreateEquipmentRequest) -> api::Equipment
            => spaces::create_equipment;
        get_equipment(api::GetEquipmentRequest) -> api::Equipment => spaces::get_equipment;
        list_equipment(api::ListEquipmentRequest) -> api::ListEquipmentResponse
            => spaces::list_equipment;
        update_equipment(api::UpdateEquipmentRequest) -> api::Equipment
            => spaces::update_equipment;
        add_closure(api::AddClosureRequest) -> api::AddClosureResponse => spaces::add_closure;
        list_closures(api::ListClosuresRequest) -> api::ListClosuresResponse
            => spaces::list_closures;
        remove_closure(api::RemoveClosureRequest) -> api::Closure => spaces::remove_closure;
        get_space_availability(api::GetSpaceAvailabilityRequest) -> api::SpaceAvailability
            => spaces::availability;

        create_booking(api::CreateBookingRequest) -> api::Booking => bookings::create;
        create_booking_series(api::CreateBookingSeriesRequest) -> api::BookingSeries
            => bookings::create_series;
        get_booking(api::GetBookingRequest) -> api::Booking => bookings::get;
        get_booking_series(api::GetBookingSeriesRequest) -> api::BookingSeries
            => bookings::get_series;
        list_bookings(api::ListBookingsRequest) -> api::ListBookingsResponse => bookings::list;
        update_booking(api::UpdateBookingRequest) -> api::Booking => bookings::update;
        cancel_booking(api::CancelBookingRequest) -> api::Booking => bookings::cancel;
        cancel_booking_series(api::CancelBookingSeriesRequest) -> api::BookingSeries
            => bookings::cancel_series;
        check_in_booking(api::CheckInBookingRequest) -> api::Booking => bookings::check_in;
        mark_booking_no_show(api::MarkBookingNoShowRequest) -> api::Booking
            => bookings::no_show;
        get_space_usage_report(api::GetSpaceUsageReportRequest) -> api::SpaceUsageReport
            => bookings::usage_report;

        record_space_service(api::RecordSpaceServiceRequest) -> api::SpaceService
            => services::record;
        get_space_service(api::GetSpaceServiceRequest) -> api::SpaceService => services::get;
        list_space_services(api::ListSpaceServicesRequest) -> api::ListSpaceServicesResponse
            => services::list;
        void_space_service(api::VoidSpaceServiceRequest) -> api::SpaceService
            => services::void;
        get_space_service_report(api::GetSpaceServiceReportRequest) -> api::SpaceServiceReport
            => services::report;
    }
    extra {
        type DownloadFileStream = files::DownloadStream;
        type DownloadPublicFileStream = files::DownloadStream;
    }
}

impl ResourcesApi {
    pub fn new(db: Db, rpc: Rpc, files: std::result::Result<FileStore, String>) -> Self {
        ResourcesApi {
            db,
            rpc,
            files,
            limiter: Arc::new(RateLimiter::new()),
        }
    }

    fn files(&self) -> Result<&FileStore> {
        self.files
            .as_ref()
            .map_err(|why| Error::Unavailable(why.clone()))
    }
}

/// The reader a caller is, for the library's visibility rules.
fn reader(caller: &Caller) -> Reader {
    Reader {
        tenant: Some(caller.tenant.clone()),
        roles: caller.roles.clone(),
        organization: caller.organization.clone(),
    }
}

/// A partner's own organization, for what it creates for itself: `None`
/// for staff; for a partner token naming no organization, a refusal.
fn partner_of(caller: &Caller) -> Result<Option<String>> {
    if caller.is_staff() || !caller.has(Role::Partner) {
        return Ok(None);
    }
    match caller.organization.as_deref() {
        Some(org) if !org.is_empty() => Ok(Some(org.to_string())),
        _ => Err(Error::permission_denied(
            "a partner token must name its organization",
        )),
    }
}

/// An optional slug filter ("" for any).
fn optional_slug(field: &str, value: &str) -> Result<String, FieldViolation> {
    validate::optional_slug(field, value, crate::domain::BRANCH_MAX)
}

/// Requests per minute one client address may make of the public catalogue.
pub const PUBLIC_PER_ADDRESS: Limit = Limit {
    max: 120,
    per: Duration::from_secs(60),
};
/// Requests per minute from one network (an IPv4 /24, an IPv6 /48): many
/// addresses of one network are one reader.
pub const PUBLIC_PER_NETWORK: Limit = Limit {
    max: 1_200,
    per: Duration::from_secs(60),
};

impl ResourcesApi {
    /// Counts a valid call to the public catalogue.
    fn limit_public(&self, anonymous: &Anonymous) -> Result<()> {
        self.limiter.check_public(
            "catalogue",
            anonymous,
            PUBLIC_PER_ADDRESS,
            PUBLIC_PER_NETWORK,
        )
    }
}
