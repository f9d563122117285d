//! The gRPC API: maps protobuf to the domain and back, checks the caller's
//! right to each object, runs each request in one transaction and writes the
//! events it causes into the outbox of that same transaction. The roles each
//! method takes are [`RIGHTS`], checked by the gate before a handler runs;
//! one file per resource holds its handlers, one function per RPC.
//!
//! Rights, beyond the roles:
//! * admin and staff see and manage everything of their tenant;
//! * a partner sees the events its organization was invited to, organized
//!   or attended, answers its own organization's invitations, and sees its
//!   own organization's commitments and the coalitions it is an active
//!   member of — their members, campaigns and outcomes, and the
//!   commitments made at their meetings; anything else is NOT_FOUND, like
//!   another tenant's object;
//! * a trainer or reviewer sees only the events whose organizer staff names
//!   their account (the token's `sub`), and nothing else here.

pub(crate) mod attendance;
pub(crate) mod campaigns;
pub(crate) mod coalitions;
pub(crate) mod commitments;
pub(crate) mod events;
pub(crate) mod invitations;
pub(crate) mod issues;
pub(crate) mod reports;
pub(crate) mod stakeholders;

use markaz_kit::auth::{Caller, Organizations, Role};
use markaz_kit::db::{Db, Tx};
use markaz_kit::error::{Error, FieldViolation, Result};
use markaz_kit::rpc::{Access, Rights, Rpc};
use markaz_kit::time::{Date, MaybeDate};
use markaz_kit::validate::enum_filter;
use markaz_membership_copies::Organization;
use markaz_proto::networking::v1 as api;
use markaz_proto::networking::v1::networking_service_server::{
    NetworkingService, NetworkingServiceServer,
};
use tonic::server::NamedService;

use crate::store::events::EventFilter;

/// Staff manage.
const MANAGE: &[Role] = &[Role::Admin, Role::Staff];
/// Staff, and partners for what is theirs.
const PARTNERS: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];
/// Staff, partners, and trainers and reviewers for the events they
/// organize.
const EVENTS: &[Role] = &[
    Role::Admin,
    Role::Staff,
    Role::Partner,
    Role::Trainer,
    Role::Reviewer,
];

/// Who may call each method, in the proto's order; object rights are the
/// handlers'.
pub const RIGHTS: &[Rights] = &[Rights {
    service: crate::NAME,
    grpc_service: <NetworkingServiceServer<NetworkingApi> as NamedService>::NAME,
    methods: &[
        ("CreateIssue", Access::Roles(MANAGE)),
        ("GetIssue", Access::Roles(PARTNERS)),
        ("ListIssues", Access::Roles(PARTNERS)),
        ("UpdateIssue", Access::Roles(MANAGE)),
        ("CreateEvent", Access::Roles(MANAGE)),
        ("GetEvent", Access::Roles(EVENTS)),
        ("ListEvents", Access::Roles(EVENTS)),
        ("UpdateEvent", Access::Roles(MANAGE)),
        ("MarkEventHeld", Access::Roles(MANAGE)),
        ("CancelEvent", Access::Roles(MANAGE)),
        ("RecordEventOutcome", Access::Roles(MANAGE)),
        ("BatchCreateInvitations", Access::Roles(MANAGE)),
        ("ListInvitations", Access::Roles(PARTNERS)),
        ("RespondToInvitation", Access::Roles(PARTNERS)),
        ("WithdrawInvitation", Access::Roles(MANAGE)),
        ("ForgetGuest", Access::Roles(MANAGE)),
        ("SuggestInvitees", Access::Roles(MANAGE)),
        ("CheckIn", Access::Roles(MANAGE)),
        ("RemoveParticipant", Access::Roles(MANAGE)),
        ("ListParticipants", Access::Roles(MANAGE)),
        ("CreateCommitment", Access::Roles(MANAGE)),
        ("GetCommitment", Access::Roles(PARTNERS)),
        ("ListCommitments", Access::Roles(PARTNERS)),
        ("UpdateCommitment", Access::Roles(MANAGE)),
        ("FulfilCommitment", Access::Roles(MANAGE)),
        ("DropCommitment", Access::Roles(MANAGE)),
        ("CarryCommitment", Access::Roles(MANAGE)),
        ("CreateCoalition", Access::Roles(MANAGE)),
        ("GetCoalition", Access::Roles(PARTNERS)),
        ("ListCoalitions", Access::Roles(PARTNERS)),
        ("UpdateCoalition", Access::Roles(MANAGE)),
        ("ChangeCoalitionStatus", Access::Roles(MANAGE)),
        ("AddCoalitionMember", Access::Roles(MANAGE)),
        ("RemoveCoalitionMember", Access::Roles(MANAGE)),
        ("ListCoalitionMembers", Access::Roles(PARTNERS)),
        ("CreateCampaign", Access::Roles(MANAGE)),
        ("GetCampaign", Access::Roles(PARTNERS)),
        ("ListCampaigns", Access::Roles(PARTNERS)),
        ("UpdateCampaign", Access::Roles(MANAGE)),
        ("LaunchCampaign", Access::Roles(MANAGE)),
        ("CompleteCampaign", Access::Roles(MANAGE)),
        ("CancelCampaign", Access::Roles(MANAGE)),
        ("RecordCampaignOutcome", Access::Roles(MANAGE)),
        ("UpdateCampaignOutcome", Access::Roles(MANAGE)),
        ("ListCampaignOutcomes", Access::Roles(PARTNERS)),
        ("GetStakeholderMap", Access::Roles(PARTNERS)),
        ("GetEventReport", Access::Roles(MANAGE)),
        ("GetNetworkingReport", Access::Roles(MANAGE)),
    ],
}];

#[derive(Clone, Debug)]
pub struct NetworkingApi {
    db: Db,
    rpc: Rpc,
}

impl NetworkingApi {
    pub fn new(db: Db, rpc: Rpc) -> Self {
        NetworkingApi { db, rpc }
    }
}

markaz_kit::grpc_forwards! {
    impl NetworkingService for NetworkingApi {
        create_issue(api::CreateIssueRequest) -> api::Issue => issues::create;
        get_issue(api::GetIssueRequest) -> api::Issue => issues::get;
        list_issues(api::ListIssuesRequest) -> api::ListIssuesResponse => issues::list;
        update_issue(api::UpdateIssueRequest) -> api::Issue => issues::update;

        create_event(api::CreateEventRequest) -> api::Event => events::create;
        get_event(api::GetEventRequest) -> api::Event => events::get;
        list_events(api::ListEventsRequest) -> api::ListEventsResponse => events::list;
        update_event(api::UpdateEventRequest) -> api::Event => events::update;
        mark_event_held(api::MarkEventHeldRequest) -> api::Event => events::hold;
        cancel_event(api::CancelEventRequest) -> api::Event => events::cancel;
        record_event_outcome(api::RecordEventOutcomeRequest) -> api::Event
            => events::record_outcome;

        batch_create_invitations(api::BatchCreateInvitationsRequest)
            -> api::BatchCreateInvitationsResponse => invitations::batch_create;
        list_invitations(api::ListInvitationsRequest) -> api::ListInvitationsResponse
            => invitations::list;
        respond_to_invitation(api::RespondToInvitationRequest) -> api::Invitation
            => invitations::respond;
        withdraw_invitation(api::WithdrawInvitationRequest) -> api::Invitation
            => invitations::withdraw;
        forget_guest(api::ForgetGuestRequest) -> api::Invitation => invitations::forget_guest;
        suggest_invitees(api::SuggestInviteesRequest) -> api::SuggestInviteesResponse
            => invitations::suggest;

        check_in(api::CheckInRequest) -> api::CheckInResponse => attendance::check_in;
        remove_participant(api::RemoveParticipantRequest) -> api::Participant
            => attendance::remove;
        list_participants(api::ListParticipantsRequest) -> api::ListParticipantsResponse
            => attendance::list;

        create_commitment(api::CreateCommitmentRequest) -> api::Commitment
            => commitments::create;
        get_commitment(api::GetCommitmentRequest) -> api::Commitment => commitments::get;
        list_commitments(api::ListCommitmentsRequest) -> api::ListCommitmentsResponse
            => commitments::list;
        update_commitment(api::UpdateCommitmentRequest) -> api::Commitment
            => commitments::update;
        fulfil_commitment(api::FulfilCommitmentRequest) -> api::Commitment
            => commitments::fulfil;
        drop_commitment(api::DropCommitmentRequest) -> api::Commitment => commitments::drop;
        carry_commitment(api::CarryCommitmentRequest) -> api::Commitment => commitments::carry;

        create_coalition(api::CreateCoalitionRequest) -> api::Coalition => coalitions::create;
        get_coalition(api::GetCoalitionRequest) -> api::Coalition => coalitions::get;
        list_coalitions(api::ListCoalitionsRequest) -> api::ListCoalitionsResponse
            => coalitions::list;
        update_coalition(api::UpdateCoalitionRequest) -> api::Coalition => coalitions::update;
        change_coalition_status(api::ChangeCoalitionStatusRequest) -> api::Coalition
            => coalitions::change_status;
        add_coalition_member(api::AddCoalitionMemberRequest) -> api::CoalitionMember
            => coalitions::add_member;
        remove_coalition_member(api::RemoveCoalitionMemberRequest) -> api::CoalitionMember
            => coalitions::remove_member;
        list_coalition_members(api::ListCoalitionMembersRequest)
            -> api::ListCoalitionMembersResponse => coalitions::members;

        create_campaign(api::CreateCampaignRequest) -> api::Campaign => campaigns::create;
        get_campaign(api::GetCampaignRequest) -> api::Campaign => campaigns::get;
        list_campaigns(api::ListCampaignsRequest) -> api::ListCampaignsResponse
            => campaigns::list;
        update_campaign(api::UpdateCampaignRequest) -> api::Campaign => campaigns::update;
        launch_campaign(api::LaunchCampaignRequest) -> api::Campaign => campaigns::launch;
        complete_campaign(api::CompleteCampaignRequest) -> api::Campaign
            => campaigns::complete;
        cancel_campaign(api::CancelCampaignRequest) -> api::Campaign => campaigns::cancel;
        record_campaign_outcome(api::RecordCampaignOutcomeRequest) -> api::CampaignOutcome
            => campaigns::record_outcome;
        update_campaign_outcome(api::UpdateCampaignOutcomeRequest) -> api::CampaignOutcome
            => campaigns::update_outcome;
        list_campaign_outcomes(api::ListCampaignOutcomesRequest)
            -> api::ListCampaignOutcomesResponse => campaigns::outcomes;

        get_stakeholder_map(api::GetStakeholderMapRequest) -> api::StakeholderMap
            => stakeholders::map;
        get_event_report(api::GetEventReportRequest) -> api::EventReport => reports::event;
        get_networking_report(api::GetNetworkingReportRequest) -> api::NetworkingReport
            => reports::networking;
    }
}

/// Something membership (or grants) has not told networking about (yet).
fn not_known(what: &str, id: &str) -> Error {
    Error::precondition(
        "NOT_KNOWN",
        format!("{what}/{id}"),
        format!(
            "{what} '{id}' is not known to networking yet: its producer's event may still be \
             on its way; retry in a moment"
        ),
    )
}

/// The organization's copy, which must have arrived.
async fn known_organization(tx: &mut Tx, id: &str) -> Result<Organization> {
    markaz_membership_copies::organization(tx, id)
        .await?
        .filter(Organization::is_complete)
        .ok_or_else(|| not_known("organization", id))
}

/// Every organization of `ids` must be known here.
async fn known_organizations(tx: &mut Tx, ids: &[String]) -> Result<()> {
    let kinds = crate::store::attendance::organization_kinds(tx, ids).await?;
    match ids.iter().find(|id| !kinds.contains_key(*id)) {
        Some(missing) => Err(not_known("organization", missing)),
        None => Ok(()),
    }
}

/// The person's copy, which must have arrived and not be erased.
async fn known_person(tx: &mut Tx, id: &str) -> Result<markaz_membership_copies::Person> {
    markaz_membership_copies::person(tx, id)
        .await?
        .filter(|p| !p.erased)
        .ok_or_else(|| not_known("person", id))
}

/// An optional date filter, as stored ("" for none).
fn optional_date(
    field: &str,
    d: Option<&markaz_proto::common::v1::Date>,
) -> Result<String, FieldViolation> {
    Ok(MaybeDate::text(Date::optional(field, d)?))
}

/// An optional id filter ("" for any).
fn optional_id(field: &str, value: &str) -> Result<String, FieldViolation> {
    markaz_kit::rpc::parse_optional_id(field, value)
}

/// Which events the caller may see, as a filter: every one for staff; for a
/// partner those its organization was invited to, organized or attended;
/// for a trainer or reviewer those it organizes.
fn event_scope(caller: &Caller) -> EventFilter {
    let mut f = EventFilter::default();
    if caller.is_staff() {
        return f;
    }
    match caller.organizations() {
        Organizations::Only(own) => f.organization_id = own.to_string(),
        Organizations::None => f.nothing = true,
        Organizations::All => {
            f.staff_subject = caller.subject.clone();
            if f.staff_subject.is_empty() {
                f.nothing = true;
            }
        }
    }
    f
}

/// The organization a partner is held to (`Some("")` for none), or `None`
/// for staff.
fn partner_of(caller: &Caller) -> Option<String> {
    match caller.organizations() {
        Organizations::All => None,
        Organizations::Only(own) => Some(own.to_string()),
        Organizations::None => Some(String::new()),
    }
}

/// A keyset key of two parts, `a|b`, from a page token.
fn split_key(after: &str) -> Result<Option<(String, String)>> {
    if after.is_empty() {
        return Ok(None);
    }
    after
        .split_once('|')
        .map(|(a, b)| Some((a.to_string(), b.to_string())))
        .ok_or_else(|| Error::invalid("page_token", "not a token from this list"))
}
