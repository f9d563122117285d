//! The gRPC API: maps protobuf to the domain and back, checks the caller's
//! right to each object, runs each request in one transaction and writes the
//! events it causes into the outbox of that same transaction. The roles each
//! method takes are [`RIGHTS`], checked by the gate before a handler runs;
//! one file per resource holds its handlers, one function per RPC, and the
//! helpers the resources share are here.
//!
//! Object rights ([`Viewer`]): staff and admins see the tenant's all; a
//! partner sees and edits its own organization's proposals and grants; a
//! reviewer sees the proposals it has an active assignment on, without the
//! applicant's identity in a blind call — and a caller holding the reviewer
//! role (not staff) is only ever a reviewer to proposals it does not own,
//! whatever else it holds, so no other role opens a way around blind review;
//! a trainer sees the proposals staff named it coach of (with their versions
//! and coaching notes), writes coaching notes on them, and sees no award.
//! Anything else is NOT_FOUND, the same answer as an object that does not
//! exist.

pub(crate) mod assignments;
pub(crate) mod awards;
pub(crate) mod calls;
pub(crate) mod coaching;
pub(crate) mod conflicts;
pub(crate) mod expenditure;
pub(crate) mod programs;
pub(crate) mod proposals;
pub(crate) mod reports;
pub(crate) mod reviewers;
pub(crate) mod scores;
pub(crate) mod variations;

use markaz_kit::auth::{Caller, Organizations, Role};
use markaz_kit::db::{Db, Tx};
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Access, Page, Rights, Rpc, parse_id};
use markaz_kit::validate;
use markaz_proto::events::v1 as ev;
use markaz_proto::grants::v1 as api;
use markaz_proto::grants::v1::grants_service_server::{GrantsService, GrantsServiceServer};
use tonic::server::NamedService;

use crate::domain::proposals::CallTerms;
use crate::domain::{self, AssignmentState, CallState, ProposalState};
use crate::store::awards::AwardRow;
use crate::store::calls::CallRow;
use crate::store::proposals::ProposalRow;
use crate::store::reviewers::ReviewerRow;
use crate::store::{self};

/// The roles of the rights table; object rights are the handlers'.
const STAFF: &[Role] = &[Role::Admin, Role::Staff];
const EVERYONE: &[Role] = &[
    Role::Admin,
    Role::Staff,
    Role::Trainer,
    Role::Reviewer,
    Role::Partner,
];
const APPLICANTS: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];
const COACHES: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
/// Awards are the applicant's and staff's: trainers coach proposals, not grants.
const GRANTEES: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];
const REVIEW_READERS: &[Role] = &[Role::Admin, Role::Staff, Role::Reviewer];
const REVIEWERS: &[Role] = &[Role::Reviewer];

/// Who may call each method, in the proto's order; object rights (a
/// partner's own organization, a reviewer's assignments, a trainer's
/// coaching) are the handlers'.
pub const RIGHTS: &[Rights] = &[Rights {
    service: crate::NAME,
    grpc_service: <GrantsServiceServer<GrantsApi> as NamedService>::NAME,
    methods: &[
        ("CreateProgram", Access::Roles(STAFF)),
        ("GetProgram", Access::Roles(EVERYONE)),
        ("ListPrograms", Access::Roles(EVERYONE)),
        ("UpdateProgram", Access::Roles(STAFF)),
        ("CreateCall", Access::Roles(STAFF)),
        ("GetCall", Access::Roles(EVERYONE)),
        ("ListCalls", Access::Roles(EVERYONE)),
        ("UpdateCall", Access::Roles(STAFF)),
        ("OpenCall", Access::Roles(STAFF)),
        ("CloseCall", Access::Roles(STAFF)),
        ("CheckEligibility", Access::Roles(COACHES)),
        ("GetCallRanking", Access::Roles(STAFF)),
        ("CreateProposal", Access::Roles(APPLICANTS)),
        ("GetProposal", Access::Roles(EVERYONE)),
        ("ListProposals", Access::Roles(EVERYONE)),
        ("UpdateProposal", Access::Roles(APPLICANTS)),
        ("SubmitProposal", Access::Roles(APPLICANTS)),
        ("RequestChanges", Access::Roles(STAFF)),
        ("StartReview", Access::Roles(STAFF)),
        ("DecideProposal", Access::Roles(STAFF)),
        ("WithdrawProposal", Access::Roles(APPLICANTS)),
        ("ListProposalVersions", Access::Roles(COACHES)),
        ("AddCoachingNote", Access::Roles(COACHES)),
        ("ListCoachingNotes", Access::Roles(COACHES)),
        ("AssignCoach", Access::Roles(STAFF)),
        ("ListCoaches", Access::Roles(COACHES)),
        ("RemoveCoach", Access::Roles(STAFF)),
        ("CreateReviewer", Access::Roles(STAFF)),
        ("GetReviewer", Access::Roles(REVIEW_READERS)),
        ("ListReviewers", Access::Roles(STAFF)),
        ("DeclareConflict", Access::Roles(REVIEW_READERS)),
        ("ListConflicts", Access::Roles(REVIEW_READERS)),
        ("AssignReviewer", Access::Roles(STAFF)),
        ("ListAssignments", Access::Roles(REVIEW_READERS)),
        ("SubmitScore", Access::Roles(REVIEWERS)),
        ("ListScores", Access::Roles(REVIEW_READERS)),
        ("AwardGrant", Access::Roles(STAFF)),
        ("GetAward", Access::Roles(GRANTEES)),
        ("ListAwards", Access::Roles(GRANTEES)),
        ("ActivateGrant", Access::Roles(STAFF)),
        ("DisburseTranche", Access::Roles(STAFF)),
        ("CompleteGrant", Access::Roles(STAFF)),
        ("CloseGrantEarly", Access::Roles(STAFF)),
        ("SubmitReport", Access::Roles(APPLICANTS)),
        ("ReviewReport", Access::Roles(STAFF)),
        ("ListReports", Access::Roles(GRANTEES)),
        ("SubmitExpenditureReport", Access::Roles(APPLICANTS)),
        ("ReviewExpenditureReport", Access::Roles(STAFF)),
        ("ListExpenditureReports", Access::Roles(GRANTEES)),
        ("RequestVariation", Access::Roles(APPLICANTS)),
        ("DecideVariation", Access::Roles(STAFF)),
        ("ListVariations", Access::Roles(GRANTEES)),
    ],
}];

#[derive(Clone, Debug)]
pub struct GrantsApi {
    db: Db,
    rpc: Rpc,
}

markaz_kit::grpc_forwards! {
    impl GrantsService for GrantsApi {
        create_program(api::CreateProgramRequest) -> api::Program => programs::create;
        get_program(api::GetProgramRequest) -> api::Program => programs::get;
        list_programs(api::ListProgramsRequest) -> api::ListProgramsResponse => programs::list;
        update_program(api::UpdateProgramRequest) -> api::Program => programs::update;

        create_call(api::CreateCallRequest) -> api::Call => calls::create;
        get_call(api::GetCallRequest) -> api::Call => calls::get;
        list_calls(api::ListCallsRequest) -> api::ListCallsResponse => calls::list;
        update_call(api::UpdateCallRequest) -> api::Call => calls::update;
        open_call(api::OpenCallRequest) -> api::Call => calls::open;
        close_call(api::CloseCallRequest) -> api::Call => calls::close;
        check_eligibility(api::CheckEligibilityRequest) -> api::Eligibility
            => calls::check_eligibility;
        get_call_ranking(api::GetCallRankingRequest) -> api::CallRanking => calls::ranking;

        create_proposal(api::CreateProposalRequest) -> api::Proposal => proposals::create;
        get_proposal(api::GetProposalRequest) -> api::Proposal => proposals::get;
        list_proposals(api::ListProposalsRequest) -> api::ListProposalsResponse => proposals::list;
        update_proposal(api::UpdateProposalRequest) -> api::Proposal => proposals::update;
        submit_proposal(api::SubmitProposalRequest) -> api::Proposal => proposals::submit;
        request_changes(api::RequestChangesRequest) -> api::Proposal => proposals::request_changes;
        start_review(api::StartReviewRequest) -> api::Proposal => proposals::start_review;
        decide_proposal(api::DecideProposalRequest) -> api::Proposal => proposals::decide;
        withdraw_proposal(api::WithdrawProposalRequest) -> api::Proposal => proposals::withdraw;
        list_proposal_versions(api::ListProposalVersionsRequest)
            -> api::ListProposalVersionsResponse => proposals::versions;

        add_coaching_note(api::AddCoachingNoteRequest) -> api::CoachingNote => coaching::add_note;
        list_coaching_notes(api::ListCoachingNotesRequest) -> api::ListCoachingNotesResponse
            => coaching::list_notes;
        assign_coach(api::AssignCoachRequest) -> api::Coach => coaching::assign;
        list_coaches(api::ListCoachesRequest) -> api::ListCoachesResponse => coaching::list;
        remove_coach(api::RemoveCoachRequest) -> api::Coach => coaching::remove;

        create_reviewer(api::CreateReviewerRequest) -> api::Reviewer => reviewers::create;
        get_reviewer(api::GetReviewerRequest) -> api::Reviewer => reviewers::get;
        list_reviewers(api::ListReviewersRequest) -> api::ListReviewersResponse => reviewers::list;

        declare_conflict(api::DeclareConflictRequest) -> api::Conflict => conflicts::declare;
        list_conflicts(api::ListConflictsRequest) -> api::ListConflictsResponse => conflicts::list;

        assign_reviewer(api::AssignReviewerRequest) -> api::Assignment => assignments::assign;
        list_assignments(api::ListAssignmentsRequest) -> api::ListAssignmentsResponse
            => assignments::list;

        submit_score(api::SubmitScoreRequest) -> api::ScoreSheet => scores::submit;
        list_scores(api::ListScoresRequest) -> api::ListScoresResponse => scores::list;

        award_grant(api::AwardGrantRequest) -> api::Award => awards::award;
        get_award(api::GetAwardRequest) -> api::Award => awards::get;
        list_awards(api::ListAwardsRequest) -> api::ListAwardsResponse => awards::list;
        activate_grant(api::ActivateGrantRequest) -> api::Award => awards::activate;
        disburse_tranche(api::DisburseTrancheRequest) -> api::Award => awards::disburse;
        complete_grant(api::CompleteGrantRequest) -> api::Award => awards::complete;
        close_grant_early(api::CloseGrantEarlyRequest) -> api::Award => awards::close_early;

        submit_report(api::SubmitReportRequest) -> api::Report => reports::submit;
        review_report(api::ReviewReportRequest) -> api::Report => reports::review;
        list_reports(api::ListReportsRequest) -> api::ListReportsResponse => reports::list;

        submit_expenditure_report(api::SubmitExpenditureReportRequest) -> api::ExpenditureReport
            => expenditure::submit;
        review_expenditure_report(api::ReviewExpenditureReportRequest) -> api::ExpenditureReport
            => expenditure::review;
        list_expenditure_reports(api::ListExpenditureReportsRequest)
            -> api::ListExpenditureReportsResponse => expenditure::list;

        request_variation(api::RequestVariationRequest) -> api::Variation => variations::request;
        decide_variation(api::DecideVariationRequest) -> api::Variation => variations::decide;
        list_variations(api::ListVariationsRequest) -> api::ListVariationsResponse
            => variations::list;
    }
}

impl GrantsApi {
    pub fn new(db: Db, rpc: Rpc) -> Self {
        GrantsApi { db, rpc }
    }
}

impl GrantsApi {
    /// The common start of listing an award's reports, expenditure or
    /// variations: the award must be one the caller may see.
    async fn award_page(
        &self,
        caller: &Caller,
        award_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Tx, String, Page)> {
        let id = parse_id("award_id", award_id)?;
        let page = Page::parse(page_size, page_token, &id)?;
        let mut tx = self.db.read(&caller.tenant).await?;
        let viewer = viewer(&mut tx, caller).await?;
        seen_award(&mut tx, &viewer, &id).await?;
        Ok((tx, id, page))
    }
}

/// The filters ListProposals and ListAwards share: call, organization and
/// state ("" = any).
fn list_filters(
    call_id: &str,
    organization_id: &str,
    state: i32,
) -> Result<(String, String, &'static str)> {
    let (call_id, organization_id, state) = (
        domain::optional_id("call_id", call_id),
        domain::optional_id("organization_id", organization_id),
        validate::enumeration::<ProposalState>("state", state, false),
    )
        .all()?;
    Ok((
        call_id,
        organization_id,
        state.map_or("", |s| s.as_str_name()),
    ))
}

// ============================================================== rights

/// What the caller may see.
struct Viewer {
    /// Admin or staff: reads and writes everything of the tenant.
    staff: bool,
    /// A partner's organization: its proposals and grants.
    org: Option<String>,
    /// The caller's reviewer record, when it holds the reviewer role, is not
    /// staff and is an active reviewer: the proposals assigned to it.
    reviewer: Option<ReviewerRow>,
    /// A trainer's account, when the caller is neither staff nor holds the
    /// reviewer role: the proposals it coaches.
    coach: Option<String>,
}

async fn viewer(tx: &mut Tx, caller: &Caller) -> Result<Viewer> {
    let staff = caller.is_staff();
    let org = match caller.organizations() {
        Organizations::Only(own) => Some(own.to_string()),
        Organizations::All | Organizations::None => None,
    };
    // Whoever reviews is seen as a reviewer: assignment and blindness apply
    // whatever other role the account holds (staff aside).
    let reviews = !staff && caller.has(Role::Reviewer);
    let reviewer = if reviews {
        store::reviewers::reviewer_of(tx, &caller.subject)
            .await?
            .filter(|r| r.active)
    } else {
        None
    };
    let coach = (!staff && !reviews && caller.has(Role::Trainer)).then(|| caller.subject.clone());
    Ok(Viewer {
        staff,
        org,
        reviewer,
        coach,
    })
}

/// What the caller means to do with a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Read it: staff, the applicant, its coaches, its assigned reviewers.
    Read,
    /// Read its versions and coaching notes, write notes: staff, the
    /// applicant, its coaches.
    Coach,
    /// Change it: staff and the applicant.
    Write,
}

impl Viewer {
    fn owns(&self, organization_id: &str) -> bool {
        self.org.as_deref() == Some(organization_id)
    }

    /// Staff, or the partner of the organization: awards and proposals alike.
    fn holds(&self, organization_id: &str) -> bool {
        self.staff || self.owns(organization_id)
    }

    /// Partners, reviewers and trainers do not see calls in preparation.
    fn may_read_call(&self, call: &CallRow) -> bool {
        self.staff || call.state != CallState::Draft
    }
}

/// A proposal the caller may see, with its call and whether the view hides
/// the applicant's identity.
struct Seen {
    proposal: ProposalRow,
    call: CallRow,
    hidden: bool,
}

async fn seen_proposal(tx: &mut Tx, v: &Viewer, id: &str, usage: Use) -> Result<Seen> {
    let not_found = || Error::not_found("proposal", id);
    let proposal = store::proposals::get(tx, id).await?.ok_or_else(not_found)?;
    let call = store::calls::get(tx, &proposal.call_id)
        .await?
        .ok_or_else(|| Error::internal("a proposal without its call"))?;
    let hidden = if v.holds(&proposal.organization_id) {
        Some(false)
    } else if usage != Use::Write
        && let Some(subject) = &v.coach
        && store::coaching::is_coach(tx, id, subject).await?
    {
        Some(false)
    } else if usage == Use::Read
        && let Some(r) = &v.reviewer
        && store::assignments::find(tx, id, &r.id)
            .await?
            .is_some_and(|a| a.state == AssignmentState::Active)
    {
        Some(call.fields.blind)
    } else {
        None
    };
    match hidden {
        Some(hidden) => Ok(Seen {
            proposal,
            call,
            hidden,
        }),
        None => Err(not_found()),
    }
}

async fn seen_call(tx: &mut Tx, v: &Viewer, id: &str) -> Result<CallRow> {
    store::calls::get(tx, id)
        .await?
        .filter(|c| v.may_read_call(c))
        .ok_or_else(|| Error::not_found("call", id))
}

/// An award the caller may see and change: staff's, or the applicant's.
async fn seen_award(tx: &mut Tx, v: &Viewer, id: &str) -> Result<AwardRow> {
    store::awards::get(tx, id)
        .await?
        .filter(|a| v.holds(&a.organization_id))
        .ok_or_else(|| Error::not_found("award", id))
}

fn terms(call: &CallRow) -> CallTerms {
    CallTerms {
        ceiling: call.fields.ceiling,
        theme_codes: call.fields.themes.iter().map(|t| t.code.clone()).collect(),
    }
}

/// The role a note's author wrote as.
fn role_word(caller: &Caller) -> &'static str {
    caller
        .roles
        .iter()
        .find(|r| COACHES.contains(r))
        .map_or("", |r| r.as_str())
}

fn required_reason(field: &str, reason: &str) -> Result<String> {
    Ok(validate::prose(field, reason, domain::PROSE_MAX, true)?)
}

/// The facts every grants event carries.
async fn context(tx: &mut Tx, p: &ProposalRow, call: &CallRow) -> Result<ev::GrantContext> {
    let facts = store::eligibility::organization_facts(tx, &p.organization_id).await?;
    let (branch_id, kind) = facts
        .map(|(f, _)| (f.branch_id, f.kind as i32))
        .unwrap_or_default();
    Ok(ev::GrantContext {
        program_id: call.program_id.clone(),
        call_id: call.id.clone(),
        proposal_id: p.id.clone(),
        organization_id: p.organization_id.clone(),
        branch_id,
        organization_kind: kind,
        sector: p.fields.sector.map_or(0, |s| s as i32),
        theme_code: p.fields.theme_code.clone(),
        governorate: p.fields.governorate.clone(),
    })
}
