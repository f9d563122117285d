//! The gRPC API: maps protobuf to the domain and back, checks the caller's
//! role and right to each object, runs each request in one transaction and
//! writes the events it causes into the outbox of that same transaction.
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

use std::collections::HashMap;

use markaz_kit::auth::{Caller, Role};
use markaz_kit::db::{Db, Tx};
use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::money::{self, Currency, Money, Sign};
use markaz_kit::rpc::{Idempotency, Page, Rpc, check_etag, etag, new_id, parse_id};
use markaz_kit::time::{Date, now_micros, timestamp};
use markaz_kit::validate;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::events::v1 as ev;
use markaz_proto::grants::v1 as api;
use markaz_proto::grants::v1::grants_service_server::GrantsService;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::domain::{
    self, Action, AssignmentState, CallAction, CallState, CallTerms, Decision, Ledger,
    ProposalState, ReportKind, ReportState, ReviewOutcome, TrancheState, VariationState,
};
use crate::store::{
    self, AssignmentRow, AwardRow, CallRow, CoachRow, ConflictRow, ExpenditureRow, NoteRow,
    ProgramRow, ProposalRow, ReportRow, ReviewerRow, SheetRow, TrancheRow, VariationRow,
};

/// Who may call what. Object rights are checked in the handlers.
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

#[derive(Clone, Debug)]
pub struct GrantsApi {
    db: Db,
    rpc: Rpc,
}

impl GrantsApi {
    pub fn new(db: Db, rpc: Rpc) -> Self {
        GrantsApi { db, rpc }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

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
        caller.require(GRANTEES)?;
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
    let mut v = Violations::new();
    let call_id = v.take(domain::optional_id("call_id", call_id));
    let organization_id = v.take(domain::optional_id("organization_id", organization_id));
    let state = v
        .take(validate::enumeration::<ProposalState>(
            "state", state, false,
        ))
        .flatten();
    v.finish()?;
    Ok((
        call_id.expect("checked"),
        organization_id.expect("checked"),
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
    let org = if caller.has(Role::Partner) {
        caller.organization.clone().filter(|o| !o.is_empty())
    } else {
        None
    };
    // Whoever reviews is seen as a reviewer: assignment and blindness apply
    // whatever other role the account holds (staff aside).
    let reviews = !staff && caller.has(Role::Reviewer);
    let reviewer = if reviews {
        store::reviewer_of(tx, &caller.subject)
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
    let proposal = store::get_proposal(tx, id).await?.ok_or_else(not_found)?;
    let call = store::get_call(tx, &proposal.call_id)
        .await?
        .ok_or_else(|| Error::internal("a proposal without its call"))?;
    let hidden = if v.holds(&proposal.organization_id) {
        Some(false)
    } else if usage != Use::Write
        && let Some(subject) = &v.coach
        && store::is_coach(tx, id, subject).await?
    {
        Some(false)
    } else if usage == Use::Read
        && let Some(r) = &v.reviewer
        && store::find_assignment(tx, id, &r.id)
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
    store::get_call(tx, id)
        .await?
        .filter(|c| v.may_read_call(c))
        .ok_or_else(|| Error::not_found("call", id))
}

/// An award the caller may see and change: staff's, or the applicant's.
async fn seen_award(tx: &mut Tx, v: &Viewer, id: &str) -> Result<AwardRow> {
    store::get_award(tx, id)
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

#[tonic::async_trait]
impl GrantsService for GrantsApi {
    // ========================================================= programs

    async fn create_program(
        &self,
        request: Request<api::CreateProgramRequest>,
    ) -> Reply<api::Program> {
        self.rpc
            .run("CreateProgram", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                let fields = v.absorb(
                    "program",
                    domain::parse_program(req.program.as_ref().unwrap_or(&Default::default())),
                );
                v.finish()?;
                let (idempotency, fields) =
                    (idempotency.expect("checked"), fields.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                let id = new_id();
                let row = store::insert_program(&mut tx, &id, &fields).await?;
                let reply = program_proto(&row);
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_program(&self, request: Request<api::GetProgramRequest>) -> Reply<api::Program> {
        self.rpc
            .run("GetProgram", request, |caller, req| async move {
                caller.require(EVERYONE)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let row = store::get_program(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("program", &id))?;
                Ok(program_proto(&row))
            })
            .await
    }

    async fn list_programs(
        &self,
        request: Request<api::ListProgramsRequest>,
    ) -> Reply<api::ListProgramsResponse> {
        self.rpc
            .run("ListPrograms", request, |caller, req| async move {
                caller.require(EVERYONE)?;
                let page = Page::parse(req.page_size, &req.page_token, "")?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows = store::list_programs(&mut tx, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListProgramsResponse {
                    programs: rows.iter().map(program_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn update_program(
        &self,
        request: Request<api::UpdateProgramRequest>,
    ) -> Reply<api::Program> {
        self.rpc
            .run("UpdateProgram", request, |caller, req| async move {
                caller.require(STAFF)?;
                let sent = req.program.unwrap_or_default();
                let id = parse_id("program.id", &sent.id)?;
                let mask =
                    markaz_kit::rpc::update_mask(req.update_mask.as_ref(), domain::PROGRAM_MASK)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = store::get_program(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("program", &id))?;
                check_etag("program.etag", &sent.etag, current.version)?;
                let mut merged = program_proto(&current);
                domain::merge_program(&mut merged, &sent, &mask);
                let fields = domain::parse_program(&merged)?;
                let row = store::update_program(&mut tx, &current, &fields).await?;
                tx.commit().await?;
                Ok(program_proto(&row))
            })
            .await
    }

    // ============================================================ calls

    async fn create_call(&self, request: Request<api::CreateCallRequest>) -> Reply<api::Call> {
        self.rpc
            .run("CreateCall", request, |caller, req| async move {
                caller.require(STAFF)?;
                let sent = req.call.clone().unwrap_or_default();
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                let program_id = v.take(parse_id("call.program_id", &sent.program_id));
                let fields = v.absorb("call", domain::parse_call(&sent));
                v.finish()?;
                let (idempotency, program_id, fields) = (
                    idempotency.expect("checked"),
                    program_id.expect("checked"),
                    fields.expect("checked"),
                );
                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                store::get_program(&mut tx, &program_id)
                    .await?
                    .ok_or_else(|| Error::not_found("program", &program_id))?;
                let id = new_id();
                let row = store::insert_call(&mut tx, &id, &program_id, &fields).await?;
                let reply = call_proto(&row, Money::zero(row.fields.currency()));
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_call(&self, request: Request<api::GetCallRequest>) -> Reply<api::Call> {
        self.rpc
            .run("GetCall", request, |caller, req| async move {
                caller.require(EVERYONE)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let v = viewer(&mut tx, &caller).await?;
                let call = seen_call(&mut tx, &v, &id).await?;
                let committed = store::committed_in_call(&mut tx, &call).await?;
                Ok(call_proto(&call, committed))
            })
            .await
    }

    async fn list_calls(
        &self,
        request: Request<api::ListCallsRequest>,
    ) -> Reply<api::ListCallsResponse> {
        self.rpc
            .run("ListCalls", request, |caller, req| async move {
                caller.require(EVERYONE)?;
                let mut v = Violations::new();
                let program_id = v.take(domain::optional_id("program_id", &req.program_id));
                let state = v
                    .take(validate::enumeration::<CallState>(
                        "state", req.state, false,
                    ))
                    .flatten();
                v.finish()?;
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!("{}|{}", req.program_id, req.state),
                )?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let mut rows = store::list_calls(
                    &mut tx,
                    &program_id.expect("checked"),
                    state.map_or("", |s| s.as_str_name()),
                    !viewer.staff,
                    &page.after,
                    page.fetch(),
                )
                .await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                let mut calls = Vec::with_capacity(rows.len());
                for row in &rows {
                    let committed = store::committed_in_call(&mut tx, row).await?;
                    calls.push(call_proto(row, committed));
                }
                Ok(api::ListCallsResponse {
                    calls,
                    next_page_token,
                })
            })
            .await
    }

    async fn update_call(&self, request: Request<api::UpdateCallRequest>) -> Reply<api::Call> {
        self.rpc
            .run("UpdateCall", request, |caller, req| async move {
                caller.require(STAFF)?;
                let sent = req.call.unwrap_or_default();
                let id = parse_id("call.id", &sent.id)?;
                let mask =
                    markaz_kit::rpc::update_mask(req.update_mask.as_ref(), domain::CALL_MASK)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = store::get_call(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("call", &id))?;
                check_etag("call.etag", &sent.etag, current.version)?;
                domain::call_transition(current.state, CallAction::Edit)?;
                if mask.iter().any(|p| !domain::CALL_OPEN_MASK.contains(p)) {
                    domain::call_transition(current.state, CallAction::EditRules)?;
                }
                let committed = store::committed_in_call(&mut tx, &current).await?;
                let mut merged = call_proto(&current, committed);
                domain::merge_call(&mut merged, &sent, &mask);
                let fields = domain::parse_call(&merged)?;
                let row = store::update_call(&mut tx, &current, &fields).await?;
                tx.commit().await?;
                Ok(call_proto(&row, committed))
            })
            .await
    }

    async fn open_call(&self, request: Request<api::OpenCallRequest>) -> Reply<api::Call> {
        self.rpc
            .run("OpenCall", request, |caller, req| async move {
                caller.require(STAFF)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = store::get_call(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("call", &id))?;
                check_etag("etag", &req.etag, current.version)?;
                let to = domain::call_transition(current.state, CallAction::Open)?;
                domain::check_openable(&current.fields)?;
                let row = store::set_call_state(&mut tx, &current, to).await?;
                let f = &row.fields;
                tx.publish(
                    &id,
                    &ev::CallOpened {
                        call_id: id.clone(),
                        program_id: row.program_id.clone(),
                        title: Some(f.title.clone()),
                        budget_envelope: Some(f.envelope.to_proto()),
                        project_ceiling: Some(f.ceiling.to_proto()),
                        opens_on: Some(f.opens_on.to_proto()),
                        closes_on: Some(f.closes_on.to_proto()),
                        theme_codes: f.themes.iter().map(|t| t.code.clone()).collect(),
                        incubation_statuses: f
                            .rules
                            .incubation_statuses
                            .iter()
                            .map(|s| *s as i32)
                            .collect(),
                        branch_ids: f.rules.branch_ids.clone(),
                        organization_kinds: f
                            .rules
                            .organization_kinds
                            .iter()
                            .map(|k| *k as i32)
                            .collect(),
                        required_course_topic: f.rules.required_course_topic.clone(),
                        blind_review: f.blind,
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(call_proto(&row, Money::zero(f.currency())))
            })
            .await
    }

    async fn close_call(&self, request: Request<api::CloseCallRequest>) -> Reply<api::Call> {
        self.rpc
            .run("CloseCall", request, |caller, req| async move {
                caller.require(STAFF)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = store::get_call(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("call", &id))?;
                check_etag("etag", &req.etag, current.version)?;
                let to = domain::call_transition(current.state, CallAction::Close)?;
                let row = store::set_call_state(&mut tx, &current, to).await?;
                let committed = store::committed_in_call(&mut tx, &row).await?;
                tx.commit().await?;
                Ok(call_proto(&row, committed))
            })
            .await
    }

    async fn check_eligibility(
        &self,
        request: Request<api::CheckEligibilityRequest>,
    ) -> Reply<api::Eligibility> {
        self.rpc
            .run("CheckEligibility", request, |caller, req| async move {
                caller.require(&[Role::Admin, Role::Staff, Role::Trainer, Role::Partner])?;
                let mut v = Violations::new();
                let call_id = v.take(parse_id("call_id", &req.call_id));
                let asked = v.take(domain::optional_id("organization_id", &req.organization_id));
                v.finish()?;
                let (call_id, asked) = (call_id.expect("checked"), asked.expect("checked"));
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let call = seen_call(&mut tx, &viewer, &call_id).await?;
                // Staff ask about any organization, a partner about its own,
                // a trainer about an organization whose proposal it coaches.
                let organization_id = if viewer.staff {
                    if asked.is_empty() {
                        return Err(Error::invalid("organization_id", "required"));
                    }
                    asked
                } else if let Some(own) = viewer
                    .org
                    .as_ref()
                    .filter(|own| asked.is_empty() || &&asked == own)
                {
                    own.clone()
                } else if let Some(subject) = &viewer.coach
                    && !asked.is_empty()
                    && store::coaches_organization(&mut tx, subject, &asked).await?
                {
                    asked
                } else {
                    return Err(Error::not_found("organization", &asked));
                };
                let facts = store::organization_facts(&mut tx, &organization_id).await?;
                let unmet = domain::unmet(&call.fields.rules, facts.as_ref().map(|(f, _)| f));
                Ok(api::Eligibility {
                    call_id,
                    organization_id,
                    eligible: unmet.is_empty(),
                    unmet,
                })
            })
            .await
    }

    async fn get_call_ranking(
        &self,
        request: Request<api::GetCallRankingRequest>,
    ) -> Reply<api::CallRanking> {
        self.rpc
            .run("GetCallRanking", request, |caller, req| async move {
                caller.require(STAFF)?;
                let call_id = parse_id("call_id", &req.call_id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let call = store::get_call(&mut tx, &call_id)
                    .await?
                    .ok_or_else(|| Error::not_found("call", &call_id))?;
                let filter = store::ProposalFilter {
                    call_id: call_id.clone(),
                    ..Default::default()
                };
                let proposals: Vec<ProposalRow> =
                    store::list_proposals(&mut tx, &filter, "", 100_000)
                        .await?
                        .into_iter()
                        .filter(|p| {
                            !matches!(p.state, ProposalState::Draft | ProposalState::Withdrawn)
                        })
                        .collect();
                let sheets = store::list_sheets(&mut tx, "", &call_id, "").await?;
                let inputs = proposals
                    .iter()
                    .map(|p| domain::RankInput {
                        proposal_id: p.id.clone(),
                        totals: sheets
                            .iter()
                            .filter(|s| s.counts && s.proposal_id == p.id)
                            .map(|s| s.weighted_total)
                            .collect(),
                    })
                    .collect();
                let by_id: HashMap<&str, &ProposalRow> =
                    proposals.iter().map(|p| (p.id.as_str(), p)).collect();
                let currency = call.fields.currency();
                let mut ranked = Vec::new();
                for r in domain::rank(inputs, call.fields.rubric.max_total()) {
                    let p = by_id[r.proposal_id.as_str()];
                    ranked.push(api::RankedProposal {
                        rank: r.rank,
                        organization_id: p.organization_id.clone(),
                        title: Some(p.fields.title.clone()),
                        state: p.state as i32,
                        requested: Some(p.fields.total(currency)?.to_proto()),
                        review_count: r.review_count,
                        score_basis_points: r.basis_points,
                        proposal_id: r.proposal_id,
                    });
                }
                Ok(api::CallRanking {
                    call_id,
                    proposals: ranked,
                })
            })
            .await
    }

    // ======================================================== proposals

    async fn create_proposal(
        &self,
        request: Request<api::CreateProposalRequest>,
    ) -> Reply<api::Proposal> {
        self.rpc
            .run("CreateProposal", request, |caller, req| async move {
                caller.require(APPLICANTS)?;
                let sent = req.proposal.clone().unwrap_or_default();
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                let call_id = v.take(parse_id("proposal.call_id", &sent.call_id));
                let asked = v.take(domain::optional_id(
                    "proposal.organization_id",
                    &sent.organization_id,
                ));
                if caller.is_staff() && sent.organization_id.is_empty() {
                    v.add(
                        "proposal.organization_id",
                        "required: staff create a proposal for an organization",
                    );
                }
                v.finish()?;
                let (idempotency, call_id, asked) = (
                    idempotency.expect("checked"),
                    call_id.expect("checked"),
                    asked.expect("checked"),
                );
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let organization_id = if viewer.staff {
                    asked
                } else {
                    match &viewer.org {
                        Some(own) if asked.is_empty() || &asked == own => own.clone(),
                        Some(_) => return Err(Error::not_found("organization", &asked)),
                        None => {
                            return Err(Error::permission_denied(
                                "the token names no partner organization",
                            ));
                        }
                    }
                };
                let call = seen_call(&mut tx, &viewer, &call_id).await?;
                // Rights first: a retry is answered only to a caller who may
                // still create this proposal (the organization may come from
                // the token, so the first answer must be for the same one).
                if let Some(done) = idempotency.replay::<api::Proposal>(&mut tx).await? {
                    if done.organization_id != organization_id {
                        return Err(Error::invalid(
                            "request_id",
                            "this request_id was used before with a different request",
                        ));
                    }
                    return Ok(done);
                }
                // The content is judged against the call's terms (themes,
                // ceiling, currency): parsed as soon as the call is read, every
                // bad field at once, and before anything is written.
                let fields = domain::parse_proposal(&sent, &terms(&call))?;
                if call.state == CallState::Closed {
                    return Err(Error::precondition(
                        "CALL_STATE",
                        format!("calls/{call_id}"),
                        "the call is closed: it takes no new proposals",
                    ));
                }
                let (_, name) = store::organization_facts(&mut tx, &organization_id)
                    .await?
                    .ok_or_else(|| {
                        Error::precondition(
                            "ORGANIZATION_UNKNOWN",
                            format!("organizations/{organization_id}"),
                            "the organization is not known to the grants service yet: its \
                             membership record has not arrived; retry shortly",
                        )
                    })?;
                // One live proposal per organization and call: creates in one
                // call queue on its row, so the check below sees the others.
                tx.lock("calls", &call_id).await?;
                if store::has_live_proposal(&mut tx, &call_id, &organization_id).await? {
                    return Err(Error::AlreadyExists(
                        "the organization has a proposal in this call already; edit or \
                         withdraw it"
                            .into(),
                    ));
                }
                let id = new_id();
                let row = store::insert_proposal(
                    &mut tx,
                    &id,
                    &call_id,
                    &organization_id,
                    &fields,
                    &caller.subject,
                )
                .await?;
                let reply = proposal_proto(&row, &call, Some(name), false)?;
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_proposal(
        &self,
        request: Request<api::GetProposalRequest>,
    ) -> Reply<api::Proposal> {
        self.rpc
            .run("GetProposal", request, |caller, req| async move {
                caller.require(EVERYONE)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Read).await?;
                render(&mut tx, &seen).await
            })
            .await
    }

    async fn list_proposals(
        &self,
        request: Request<api::ListProposalsRequest>,
    ) -> Reply<api::ListProposalsResponse> {
        self.rpc
            .run("ListProposals", request, |caller, req| async move {
                caller.require(EVERYONE)?;
                let (call_id, organization_id, state) =
                    list_filters(&req.call_id, &req.organization_id, req.state)?;
                let mut filter = store::ProposalFilter {
                    call_id,
                    organization_id,
                    state: state.to_string(),
                    ..Default::default()
                };
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!("{}|{}|{}", req.call_id, req.organization_id, req.state),
                )?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let mut reviewing = false;
                if !viewer.staff {
                    if let Some(own) = &viewer.org {
                        if !filter.organization_id.is_empty() && &filter.organization_id != own {
                            return Ok(api::ListProposalsResponse::default());
                        }
                        filter.organization_id = own.clone();
                    } else if let Some(r) = &viewer.reviewer {
                        if !filter.organization_id.is_empty() {
                            return Err(Error::invalid(
                                "organization_id",
                                "reviewers do not filter by organization",
                            ));
                        }
                        filter.reviewer_id = r.id.clone();
                        reviewing = true;
                    } else if let Some(subject) = &viewer.coach {
                        filter.coach = subject.clone();
                    } else {
                        return Ok(api::ListProposalsResponse::default());
                    }
                }
                let mut rows =
                    store::list_proposals(&mut tx, &filter, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                let mut calls: HashMap<String, CallRow> = HashMap::new();
                let mut proposals = Vec::with_capacity(rows.len());
                for proposal in rows {
                    let call = match calls.get(&proposal.call_id) {
                        Some(c) => c.clone(),
                        None => {
                            let c = store::get_call(&mut tx, &proposal.call_id)
                                .await?
                                .ok_or_else(|| Error::internal("a proposal without its call"))?;
                            calls.insert(c.id.clone(), c.clone());
                            c
                        }
                    };
                    let seen = Seen {
                        hidden: reviewing && call.fields.blind,
                        proposal,
                        call,
                    };
                    proposals.push(render(&mut tx, &seen).await?);
                }
                Ok(api::ListProposalsResponse {
                    proposals,
                    next_page_token,
                })
            })
            .await
    }

    async fn update_proposal(
        &self,
        request: Request<api::UpdateProposalRequest>,
    ) -> Reply<api::Proposal> {
        self.rpc
            .run("UpdateProposal", request, |caller, req| async move {
                caller.require(APPLICANTS)?;
                let sent = req.proposal.unwrap_or_default();
                let id = parse_id("proposal.id", &sent.id)?;
                let mask =
                    markaz_kit::rpc::update_mask(req.update_mask.as_ref(), domain::PROPOSAL_MASK)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
                check_etag("proposal.etag", &sent.etag, seen.proposal.version)?;
                domain::transition(seen.proposal.state, Action::Edit)?;
                let mut merged = proposal_proto(&seen.proposal, &seen.call, None, false)?;
                domain::merge_proposal(&mut merged, &sent, &mask);
                let fields = domain::parse_proposal(&merged, &terms(&seen.call))?;
                let row = store::update_proposal(&mut tx, &seen.proposal, &fields).await?;
                let reply = render(
                    &mut tx,
                    &Seen {
                        proposal: row,
                        ..seen
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn submit_proposal(
        &self,
        request: Request<api::SubmitProposalRequest>,
    ) -> Reply<api::Proposal> {
        self.rpc
            .run("SubmitProposal", request, |caller, req| async move {
                caller.require(APPLICANTS)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
                let (proposal, call) = (&seen.proposal, &seen.call);
                check_etag("etag", &req.etag, proposal.version)?;
                let to = domain::transition(proposal.state, Action::Submit)?;
                domain::check_submission_window(
                    call.state,
                    call.fields.opens_on,
                    call.fields.closes_on,
                    Date::today(),
                )?;
                // The call's terms may have changed while it was a draft.
                let terms = terms(call);
                if let Err(Error::InvalidArgument(v)) =
                    domain::parse_proposal(&proposal_proto(proposal, call, None, false)?, &terms)
                {
                    return Err(Error::precondition(
                        "PROPOSAL_INVALID",
                        "proposal",
                        v.iter()
                            .map(|x| format!("{}: {}", x.field, x.description))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ));
                }
                domain::check_complete(&proposal.fields, &terms)?;
                let facts = store::organization_facts(&mut tx, &proposal.organization_id).await?;
                domain::check_eligible(&call.fields.rules, facts.as_ref().map(|(f, _)| f))?;
                let row = store::set_proposal_state(&mut tx, proposal, to, true, None).await?;
                let snapshot = proposal_proto(&row, call, facts.map(|(_, n)| n), false)?;
                store::insert_version(
                    &mut tx,
                    &id,
                    row.version_number,
                    &snapshot.encode_to_vec(),
                    &caller.subject,
                    row.submitted_at,
                )
                .await?;
                let context = context(&mut tx, &row, call).await?;
                tx.publish(
                    &id,
                    &ev::ProposalSubmitted {
                        context: Some(context),
                        version_number: row.version_number,
                        requested: Some(row.fields.total(call.fields.currency())?.to_proto()),
                        beneficiaries_targeted: Some(people_event(&row.fields.targeted)),
                        submitted_at: Some(timestamp(row.submitted_at)),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(snapshot)
            })
            .await
    }

    async fn request_changes(
        &self,
        request: Request<api::RequestChangesRequest>,
    ) -> Reply<api::Proposal> {
        self.rpc
            .run("RequestChanges", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("id", &req.id));
                let note = v.take(validate::prose("note", &req.note, domain::PROSE_MAX, true));
                v.finish()?;
                let (id, note) = (id.expect("checked"), note.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
                check_etag("etag", &req.etag, seen.proposal.version)?;
                let to = domain::transition(seen.proposal.state, Action::RequestChanges)?;
                let row =
                    store::set_proposal_state(&mut tx, &seen.proposal, to, false, None).await?;
                store::insert_note(
                    &mut tx,
                    &NoteRow {
                        id: new_id(),
                        proposal_id: id.clone(),
                        body: note,
                        author: caller.subject.clone(),
                        author_role: role_word(&caller).to_string(),
                        version_number: row.version_number,
                        created_at: now_micros(),
                    },
                )
                .await?;
                let reply = render(
                    &mut tx,
                    &Seen {
                        proposal: row,
                        ..seen
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn start_review(
        &self,
        request: Request<api::StartReviewRequest>,
    ) -> Reply<api::Proposal> {
        self.rpc
            .run("StartReview", request, |caller, req| async move {
                caller.require(STAFF)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
                check_etag("etag", &req.etag, seen.proposal.version)?;
                let to = domain::transition(seen.proposal.state, Action::StartReview)?;
                let row =
                    store::set_proposal_state(&mut tx, &seen.proposal, to, false, None).await?;
                let reply = render(
                    &mut tx,
                    &Seen {
                        proposal: row,
                        ..seen
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn decide_proposal(
        &self,
        request: Request<api::DecideProposalRequest>,
    ) -> Reply<api::Proposal> {
        self.rpc
            .run("DecideProposal", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("id", &req.id));
                let decision = v.absorb(
                    "decision",
                    domain::parse_decision(req.decision, &req.reason, "reason"),
                );
                v.finish()?;
                let (id, (decision, reason)) = (id.expect("checked"), decision.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
                check_etag("etag", &req.etag, seen.proposal.version)?;
                let (action, outcome) = match decision {
                    Decision::Reject => (Action::Reject, ev::ProposalOutcome::Rejected),
                    _ => (Action::Approve, ev::ProposalOutcome::Approved),
                };
                let to = domain::transition(seen.proposal.state, action)?;
                let row =
                    store::set_proposal_state(&mut tx, &seen.proposal, to, false, Some(&reason))
                        .await?;
                let counted: Vec<i64> = store::list_sheets(&mut tx, &id, "", "")
                    .await?
                    .iter()
                    .filter(|s| s.counts)
                    .map(|s| s.weighted_total)
                    .collect();
                let context = context(&mut tx, &row, &seen.call).await?;
                tx.publish(
                    &id,
                    &ev::ProposalDecided {
                        context: Some(context),
                        outcome: outcome as i32,
                        requested: Some(row.fields.total(seen.call.fields.currency())?.to_proto()),
                        score_basis_points: domain::basis_points(
                            counted.iter().sum(),
                            counted.len() as i64,
                            seen.call.fields.rubric.max_total(),
                        ),
                        review_count: counted.len() as i32,
                        decided_at: Some(timestamp(row.updated_at)),
                    },
                )
                .await?;
                let reply = render(
                    &mut tx,
                    &Seen {
                        proposal: row,
                        ..seen
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn withdraw_proposal(
        &self,
        request: Request<api::WithdrawProposalRequest>,
    ) -> Reply<api::Proposal> {
        self.rpc
            .run("WithdrawProposal", request, |caller, req| async move {
                caller.require(APPLICANTS)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("id", &req.id));
                let reason = v.take(validate::prose(
                    "reason",
                    &req.reason,
                    domain::PROSE_MAX,
                    false,
                ));
                v.finish()?;
                let (id, reason) = (id.expect("checked"), reason.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Write).await?;
                check_etag("etag", &req.etag, seen.proposal.version)?;
                let to = domain::transition(seen.proposal.state, Action::Withdraw)?;
                domain::check_withdrawal(seen.proposal.state, &reason)?;
                let row =
                    store::set_proposal_state(&mut tx, &seen.proposal, to, false, Some(&reason))
                        .await?;
                let reply = render(
                    &mut tx,
                    &Seen {
                        proposal: row,
                        ..seen
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn list_proposal_versions(
        &self,
        request: Request<api::ListProposalVersionsRequest>,
    ) -> Reply<api::ListProposalVersionsResponse> {
        self.rpc
            .run("ListProposalVersions", request, |caller, req| async move {
                caller.require(COACHES)?;
                let id = parse_id("proposal_id", &req.proposal_id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                seen_proposal(&mut tx, &viewer, &id, Use::Coach).await?;
                let versions = store::list_versions(&mut tx, &id)
                    .await?
                    .into_iter()
                    .map(|v| {
                        Ok(api::ProposalVersion {
                            number: v.number,
                            proposal: Some(
                                api::Proposal::decode(v.content.as_slice())
                                    .map_err(|e| Error::internal(format!("stored version: {e}")))?,
                            ),
                            submitted_by: v.submitted_by,
                            submit_time: Some(timestamp(v.submitted_at)),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(api::ListProposalVersionsResponse { versions })
            })
            .await
    }

    async fn add_coaching_note(
        &self,
        request: Request<api::AddCoachingNoteRequest>,
    ) -> Reply<api::CoachingNote> {
        self.rpc
            .run("AddCoachingNote", request, |caller, req| async move {
                caller.require(COACHES)?;
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                let id = v.take(parse_id("proposal_id", &req.proposal_id));
                let body = v.take(validate::prose("body", &req.body, domain::PROSE_MAX, true));
                v.finish()?;
                let (idempotency, id, body) = (
                    idempotency.expect("checked"),
                    id.expect("checked"),
                    body.expect("checked"),
                );
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Coach).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                domain::check_coaching_open(seen.proposal.state)?;
                let note = NoteRow {
                    id: new_id(),
                    proposal_id: id,
                    body,
                    author: caller.subject.clone(),
                    author_role: role_word(&caller).to_string(),
                    version_number: seen.proposal.version_number,
                    created_at: now_micros(),
                };
                store::insert_note(&mut tx, &note).await?;
                let reply = note_proto(&note);
                idempotency.remember(&mut tx, &note.id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn list_coaching_notes(
        &self,
        request: Request<api::ListCoachingNotesRequest>,
    ) -> Reply<api::ListCoachingNotesResponse> {
        self.rpc
            .run("ListCoachingNotes", request, |caller, req| async move {
                caller.require(COACHES)?;
                let id = parse_id("proposal_id", &req.proposal_id)?;
                let page = Page::parse(req.page_size, &req.page_token, &id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                seen_proposal(&mut tx, &viewer, &id, Use::Coach).await?;
                let mut rows = store::list_notes(&mut tx, &id, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListCoachingNotesResponse {
                    notes: rows.iter().map(note_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn assign_coach(&self, request: Request<api::AssignCoachRequest>) -> Reply<api::Coach> {
        self.rpc
            .run("AssignCoach", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let proposal_id = v.take(parse_id("proposal_id", &req.proposal_id));
                let subject = v.take(domain::parse_account("subject", &req.subject));
                v.finish()?;
                let (proposal_id, subject) =
                    (proposal_id.expect("checked"), subject.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &proposal_id, Use::Write).await?;
                domain::check_coaching_open(seen.proposal.state)?;
                if store::reviewer_of(&mut tx, &subject).await?.is_some() {
                    return Err(Error::precondition(
                        "COACH_REVIEWS",
                        "subject",
                        "the account is a reviewer's: whoever reviews sees proposals only as \
                         a reviewer, and does not coach",
                    ));
                }
                let row = CoachRow {
                    id: new_id(),
                    proposal_id,
                    subject,
                    assigned_by: caller.subject.clone(),
                    created_at: now_micros(),
                };
                store::insert_coach(&mut tx, &row).await?;
                tx.commit().await?;
                Ok(coach_proto(&row))
            })
            .await
    }

    async fn list_coaches(
        &self,
        request: Request<api::ListCoachesRequest>,
    ) -> Reply<api::ListCoachesResponse> {
        self.rpc
            .run("ListCoaches", request, |caller, req| async move {
                caller.require(COACHES)?;
                let id = parse_id("proposal_id", &req.proposal_id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                seen_proposal(&mut tx, &viewer, &id, Use::Coach).await?;
                let coaches = store::list_coaches(&mut tx, &id).await?;
                Ok(api::ListCoachesResponse {
                    coaches: coaches.iter().map(coach_proto).collect(),
                })
            })
            .await
    }

    async fn remove_coach(&self, request: Request<api::RemoveCoachRequest>) -> Reply<api::Coach> {
        self.rpc
            .run("RemoveCoach", request, |caller, req| async move {
                caller.require(STAFF)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let row = store::get_coach(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("coach", &id))?;
                store::delete_coach(&mut tx, &id).await?;
                tx.commit().await?;
                Ok(coach_proto(&row))
            })
            .await
    }

    // =========================================================== review

    async fn create_reviewer(
        &self,
        request: Request<api::CreateReviewerRequest>,
    ) -> Reply<api::Reviewer> {
        self.rpc
            .run("CreateReviewer", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                let fields = v.absorb("reviewer", domain::parse_reviewer(req.reviewer.as_ref()));
                v.finish()?;
                let (idempotency, fields) =
                    (idempotency.expect("checked"), fields.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                if !store::person_is_known(&mut tx, &fields.person_id).await? {
                    return Err(Error::precondition(
                        "PERSON_UNKNOWN",
                        format!("people/{}", fields.person_id),
                        "the person is not known to the grants service (not yet arrived from \
                         membership, or erased)",
                    ));
                }
                let id = new_id();
                store::insert_reviewer(&mut tx, &id, &fields).await?;
                let row = store::get_reviewer(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::internal("the reviewer just written"))?;
                let reply = reviewer_proto(&row);
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_reviewer(
        &self,
        request: Request<api::GetReviewerRequest>,
    ) -> Reply<api::Reviewer> {
        self.rpc
            .run("GetReviewer", request, |caller, req| async move {
                caller.require(REVIEW_READERS)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let row = store::get_reviewer(&mut tx, &id)
                    .await?
                    .filter(|r| {
                        viewer.staff || viewer.reviewer.as_ref().is_some_and(|me| me.id == r.id)
                    })
                    .ok_or_else(|| Error::not_found("reviewer", &id))?;
                Ok(reviewer_proto(&row))
            })
            .await
    }

    async fn list_reviewers(
        &self,
        request: Request<api::ListReviewersRequest>,
    ) -> Reply<api::ListReviewersResponse> {
        self.rpc
            .run("ListReviewers", request, |caller, req| async move {
                caller.require(STAFF)?;
                let page = Page::parse(req.page_size, &req.page_token, "")?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows = store::list_reviewers(&mut tx, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListReviewersResponse {
                    reviewers: rows.iter().map(reviewer_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn declare_conflict(
        &self,
        request: Request<api::DeclareConflictRequest>,
    ) -> Reply<api::Conflict> {
        self.rpc
            .run("DeclareConflict", request, |caller, req| async move {
                caller.require(REVIEW_READERS)?;
                let sent = req.conflict.clone().unwrap_or_default();
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                let reviewer_id = v.take(domain::optional_id(
                    "conflict.reviewer_id",
                    &sent.reviewer_id,
                ));
                let target = v.absorb("conflict", domain::parse_conflict(Some(&sent)));
                v.finish()?;
                let (idempotency, reviewer_id, (target, reason)) = (
                    idempotency.expect("checked"),
                    reviewer_id.expect("checked"),
                    target.expect("checked"),
                );
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let reviewer = if viewer.staff {
                    if reviewer_id.is_empty() {
                        return Err(Error::invalid("conflict.reviewer_id", "required"));
                    }
                    store::get_reviewer(&mut tx, &reviewer_id).await?
                } else {
                    viewer
                        .reviewer
                        .clone()
                        .filter(|me| reviewer_id.is_empty() || me.id == reviewer_id)
                };
                let reviewer =
                    reviewer.ok_or_else(|| Error::not_found("reviewer", &reviewer_id))?;
                let (organization_id, proposal_id) = match target {
                    domain::ConflictTarget::Organization(o) => (o, String::new()),
                    domain::ConflictTarget::Proposal(p) => {
                        // Staff name any proposal; a reviewer one it is
                        // assigned to, or was until it recused (so a retry
                        // of its declaration still finds it).
                        let known = if viewer.staff {
                            store::get_proposal(&mut tx, &p).await?.is_some()
                        } else {
                            store::find_assignment(&mut tx, &p, &reviewer.id)
                                .await?
                                .is_some()
                        };
                        if !known {
                            return Err(Error::not_found("proposal", &p));
                        }
                        (String::new(), p)
                    }
                };
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                let row = ConflictRow {
                    id: new_id(),
                    reviewer_id: reviewer.id.clone(),
                    organization_id,
                    proposal_id,
                    reason,
                    declared_by: caller.subject.clone(),
                    created_at: now_micros(),
                };
                store::insert_conflict(&mut tx, &row).await?;
                store::recuse(
                    &mut tx,
                    &reviewer.id,
                    "",
                    &row.organization_id,
                    &row.proposal_id,
                    &format!("conflict of interest declared: {}", row.reason),
                )
                .await?;
                let reply = conflict_proto(&row);
                idempotency.remember(&mut tx, &row.id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn list_conflicts(
        &self,
        request: Request<api::ListConflictsRequest>,
    ) -> Reply<api::ListConflictsResponse> {
        self.rpc
            .run("ListConflicts", request, |caller, req| async move {
                caller.require(REVIEW_READERS)?;
                let mut reviewer_id = domain::optional_id("reviewer_id", &req.reviewer_id)?;
                let page = Page::parse(req.page_size, &req.page_token, &reviewer_id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                if !viewer.staff {
                    match &viewer.reviewer {
                        Some(me) if reviewer_id.is_empty() || me.id == reviewer_id => {
                            reviewer_id = me.id.clone()
                        }
                        _ => return Ok(api::ListConflictsResponse::default()),
                    }
                }
                let mut rows =
                    store::list_conflicts(&mut tx, &reviewer_id, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListConflictsResponse {
                    conflicts: rows.iter().map(conflict_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn assign_reviewer(
        &self,
        request: Request<api::AssignReviewerRequest>,
    ) -> Reply<api::Assignment> {
        self.rpc
            .run("AssignReviewer", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let proposal_id = v.take(parse_id("proposal_id", &req.proposal_id));
                let reviewer_id = v.take(parse_id("reviewer_id", &req.reviewer_id));
                v.finish()?;
                let (proposal_id, reviewer_id) =
                    (proposal_id.expect("checked"), reviewer_id.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &proposal_id, Use::Write).await?;
                let reviewer = store::get_reviewer(&mut tx, &reviewer_id)
                    .await?
                    .ok_or_else(|| Error::not_found("reviewer", &reviewer_id))?;
                domain::transition(seen.proposal.state, Action::AssignReviewer)?;
                if !reviewer.active {
                    return Err(Error::precondition(
                        "REVIEWER_INACTIVE",
                        format!("reviewers/{reviewer_id}"),
                        "the reviewer is no longer active",
                    ));
                }
                if let Some(why) =
                    store::conflict_of_interest(&mut tx, &reviewer, &seen.proposal).await?
                {
                    return Err(Error::precondition(
                        "CONFLICT_OF_INTEREST",
                        format!("reviewers/{reviewer_id}"),
                        format!("the reviewer cannot be assigned: {why}"),
                    ));
                }
                let row = AssignmentRow {
                    id: new_id(),
                    proposal_id,
                    reviewer_id,
                    call_id: seen.call.id.clone(),
                    state: AssignmentState::Active,
                    recusal_reason: String::new(),
                    assigned_by: caller.subject.clone(),
                    created_at: now_micros(),
                };
                store::insert_assignment(&mut tx, &row).await?;
                tx.commit().await?;
                Ok(assignment_proto(&row))
            })
            .await
    }

    async fn list_assignments(
        &self,
        request: Request<api::ListAssignmentsRequest>,
    ) -> Reply<api::ListAssignmentsResponse> {
        self.rpc
            .run("ListAssignments", request, |caller, req| async move {
                caller.require(REVIEW_READERS)?;
                let mut v = Violations::new();
                let proposal_id = v.take(domain::optional_id("proposal_id", &req.proposal_id));
                let reviewer_id = v.take(domain::optional_id("reviewer_id", &req.reviewer_id));
                v.finish()?;
                let (proposal_id, mut reviewer_id) =
                    (proposal_id.expect("checked"), reviewer_id.expect("checked"));
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!("{proposal_id}|{reviewer_id}"),
                )?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                if !viewer.staff {
                    match &viewer.reviewer {
                        Some(me) if reviewer_id.is_empty() || me.id == reviewer_id => {
                            reviewer_id = me.id.clone()
                        }
                        _ => return Ok(api::ListAssignmentsResponse::default()),
                    }
                }
                let mut rows = store::list_assignments(
                    &mut tx,
                    &proposal_id,
                    &reviewer_id,
                    &page.after,
                    page.fetch(),
                )
                .await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListAssignmentsResponse {
                    assignments: rows.iter().map(assignment_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn submit_score(
        &self,
        request: Request<api::SubmitScoreRequest>,
    ) -> Reply<api::ScoreSheet> {
        self.rpc
            .run("SubmitScore", request, |caller, req| async move {
                caller.require(REVIEWERS)?;
                let proposal_id = parse_id("proposal_id", &req.proposal_id)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let not_found = || Error::not_found("proposal", &proposal_id);
                let reviewer = store::reviewer_of(&mut tx, &caller.subject)
                    .await?
                    .filter(|r| r.active)
                    .ok_or_else(not_found)?;
                let assignment = store::find_assignment(&mut tx, &proposal_id, &reviewer.id)
                    .await?
                    .ok_or_else(not_found)?;
                let proposal = store::get_proposal(&mut tx, &proposal_id)
                    .await?
                    .ok_or_else(not_found)?;
                if assignment.state == AssignmentState::Recused {
                    return Err(Error::precondition(
                        "CONFLICT_OF_INTEREST",
                        format!("proposals/{proposal_id}"),
                        format!(
                            "the assignment was withdrawn: {}",
                            assignment.recusal_reason
                        ),
                    ));
                }
                if let Some(why) =
                    store::conflict_of_interest(&mut tx, &reviewer, &proposal).await?
                {
                    return Err(Error::precondition(
                        "CONFLICT_OF_INTEREST",
                        format!("proposals/{proposal_id}"),
                        format!("the reviewer cannot score this proposal: {why}"),
                    ));
                }
                domain::transition(proposal.state, Action::Score)?;
                let call = store::get_call(&mut tx, &proposal.call_id)
                    .await?
                    .ok_or_else(|| Error::internal("a proposal without its call"))?;
                let rubric = &call.fields.rubric;
                let sheet = domain::parse_sheet(&req.scores, &req.comment, rubric)?;
                let mut row = SheetRow {
                    id: new_id(),
                    proposal_id,
                    reviewer_id: reviewer.id.clone(),
                    weighted_total: domain::weighted_total(rubric, &sheet),
                    sheet,
                    counts: true,
                    submitted_at: now_micros(),
                };
                row.id = store::upsert_sheet(&mut tx, &row.id, &call.id, &row).await?;
                tx.commit().await?;
                Ok(sheet_proto(&row, rubric.max_total()))
            })
            .await
    }

    async fn list_scores(
        &self,
        request: Request<api::ListScoresRequest>,
    ) -> Reply<api::ListScoresResponse> {
        self.rpc
            .run("ListScores", request, |caller, req| async move {
                caller.require(REVIEW_READERS)?;
                let id = parse_id("proposal_id", &req.proposal_id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &id, Use::Read).await?;
                let only = match (&viewer.reviewer, viewer.staff) {
                    (_, true) => String::new(),
                    (Some(me), false) => me.id.clone(),
                    (None, false) => return Err(Error::not_found("proposal", &id)),
                };
                let max = seen.call.fields.rubric.max_total();
                let sheets = store::list_sheets(&mut tx, &id, "", &only)
                    .await?
                    .iter()
                    .map(|s| sheet_proto(s, max))
                    .collect();
                Ok(api::ListScoresResponse { sheets })
            })
            .await
    }

    // =========================================================== awards

    async fn award_grant(&self, request: Request<api::AwardGrantRequest>) -> Reply<api::Award> {
        self.rpc
            .run("AwardGrant", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                let proposal_id = v.take(parse_id("proposal_id", &req.proposal_id));
                let amount =
                    v.take_many(money::amount("amount", req.amount.as_ref(), Sign::Positive));
                v.finish()?;
                let (idempotency, proposal_id, amount) = (
                    idempotency.expect("checked"),
                    proposal_id.expect("checked"),
                    amount.expect("checked"),
                );
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let seen = seen_proposal(&mut tx, &viewer, &proposal_id, Use::Write).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                let (proposal, call) = (&seen.proposal, &seen.call);
                check_etag("etag", &req.etag, proposal.version)?;
                let tranches = domain::parse_tranches(
                    &req.tranches,
                    amount,
                    proposal.fields.milestones.len(),
                )?;
                let to = domain::transition(proposal.state, Action::Award)?;
                // Awards in one call queue on its row: none reads the
                // envelope before the one ahead of it wrote.
                tx.lock("calls", &call.id).await?;
                let committed = store::committed_in_call(&mut tx, call).await?;
                let remaining = call.fields.envelope.checked_sub(committed)?;
                let budget_total = proposal.fields.total(call.fields.currency())?;
                domain::check_award(amount, budget_total, call.fields.ceiling, remaining)?;
                let award = AwardRow {
                    id: new_id(),
                    proposal_id: proposal_id.clone(),
                    call_id: call.id.clone(),
                    organization_id: proposal.organization_id.clone(),
                    amount,
                    budget: proposal.fields.budget.clone(),
                    tranches: tranches
                        .iter()
                        .enumerate()
                        .map(|(i, t)| TrancheRow {
                            number: i as i32 + 1,
                            milestone: t.milestone,
                            amount: t.amount,
                            state: TrancheState::Planned,
                            disbursed_on: None,
                            reference: String::new(),
                            disbursed_by: String::new(),
                        })
                        .collect(),
                    start_date: proposal.fields.start_date,
                    end_date: proposal.fields.end_date,
                    closure_reason: String::new(),
                    version: 1,
                    created_at: now_micros(),
                    updated_at: now_micros(),
                };
                store::insert_award(&mut tx, &award, &caller.subject).await?;
                let row = store::set_proposal_state(&mut tx, proposal, to, false, None).await?;
                let context = context(&mut tx, &row, call).await?;
                tx.publish(
                    &award.id,
                    &ev::GrantAwarded {
                        context: Some(context),
                        award_id: award.id.clone(),
                        amount: Some(amount.to_proto()),
                        tranche_count: award.tranches.len() as i32,
                        beneficiaries_targeted: Some(people_event(&row.fields.targeted)),
                        start_date: award.start_date.map(Date::to_proto),
                        end_date: award.end_date.map(Date::to_proto),
                    },
                )
                .await?;
                let reply = award_view(&mut tx, &award).await?;
                idempotency.remember(&mut tx, &award.id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_award(&self, request: Request<api::GetAwardRequest>) -> Reply<api::Award> {
        self.rpc
            .run("GetAward", request, |caller, req| async move {
                caller.require(GRANTEES)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let award = seen_award(&mut tx, &viewer, &id).await?;
                award_view(&mut tx, &award).await
            })
            .await
    }

    async fn list_awards(
        &self,
        request: Request<api::ListAwardsRequest>,
    ) -> Reply<api::ListAwardsResponse> {
        self.rpc
            .run("ListAwards", request, |caller, req| async move {
                caller.require(GRANTEES)?;
                let (call_id, mut organization_id, state) =
                    list_filters(&req.call_id, &req.organization_id, req.state)?;
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!("{}|{}|{}", req.call_id, req.organization_id, req.state),
                )?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                if !viewer.staff {
                    match &viewer.org {
                        Some(own) if organization_id.is_empty() || &organization_id == own => {
                            organization_id = own.clone()
                        }
                        _ => return Ok(api::ListAwardsResponse::default()),
                    }
                }
                let mut rows = store::list_awards(
                    &mut tx,
                    &call_id,
                    &organization_id,
                    state,
                    &page.after,
                    page.fetch(),
                )
                .await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                let mut awards = Vec::with_capacity(rows.len());
                for a in &rows {
                    awards.push(award_view(&mut tx, a).await?);
                }
                Ok(api::ListAwardsResponse {
                    awards,
                    next_page_token,
                })
            })
            .await
    }

    async fn activate_grant(
        &self,
        request: Request<api::ActivateGrantRequest>,
    ) -> Reply<api::Award> {
        self.rpc
            .run("ActivateGrant", request, |caller, req| async move {
                caller.require(STAFF)?;
                let id = parse_id("award_id", &req.award_id)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let mut work = AwardWork::open(&mut tx, &caller, &id, &req.etag).await?;
                work.ledger.activate()?;
                work.move_proposal(&mut tx).await?;
                let reply = work.finish(&mut tx).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn disburse_tranche(
        &self,
        request: Request<api::DisburseTrancheRequest>,
    ) -> Reply<api::Award> {
        self.rpc
            .run("DisburseTranche", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("award_id", &req.award_id));
                if req.tranche_number < 1 {
                    v.add("tranche_number", "required: 1, 2, ...");
                }
                let on = v.take(Date::optional("disbursed_on", req.disbursed_on.as_ref()));
                let reference = v.take(validate::line(
                    "reference",
                    &req.reference,
                    domain::SHORT_MAX,
                    true,
                ));
                v.finish()?;
                let id = id.expect("checked");
                let on = on.expect("checked").unwrap_or_else(Date::today);
                let mut tx = self.db.write(&caller.tenant).await?;
                let mut work = AwardWork::open(&mut tx, &caller, &id, &req.etag).await?;
                let paid = work.ledger.disburse(req.tranche_number)?;
                store::disburse_tranche(
                    &mut tx,
                    &id,
                    req.tranche_number,
                    on,
                    &reference.expect("checked"),
                    &caller.subject,
                )
                .await?;
                let tranche = work
                    .ledger
                    .tranches
                    .iter()
                    .find(|t| t.number == req.tranche_number)
                    .copied()
                    .ok_or_else(|| Error::internal("the tranche just paid"))?;
                let context = context(&mut tx, &work.proposal, &work.call).await?;
                tx.publish(
                    &id,
                    &ev::TrancheDisbursed {
                        context: Some(context),
                        award_id: id.clone(),
                        tranche_number: tranche.number,
                        milestone_number: tranche.milestone,
                        amount: Some(paid.to_proto()),
                        disbursed_total: Some(work.ledger.totals()?.disbursed.to_proto()),
                        disbursed_on: Some(on.to_proto()),
                    },
                )
                .await?;
                let reply = work.finish(&mut tx).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn complete_grant(
        &self,
        request: Request<api::CompleteGrantRequest>,
    ) -> Reply<api::Award> {
        self.rpc
            .run("CompleteGrant", request, |caller, req| async move {
                caller.require(STAFF)?;
                let id = parse_id("award_id", &req.award_id)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let mut work = AwardWork::open(&mut tx, &caller, &id, &req.etag).await?;
                work.ledger.complete()?;
                work.move_proposal(&mut tx).await?;
                let reports = store::list_reports(&mut tx, &id, "", 0).await?;
                let reached = reports
                    .iter()
                    .rfind(|r| {
                        r.state == ReportState::Accepted && r.fields.kind == ReportKind::Final
                    })
                    .map(|r| r.fields.reached)
                    .unwrap_or_default();
                work.publish_end(&mut tx, ev::ProjectOutcome::Completed, reached)
                    .await?;
                let reply = work.finish(&mut tx).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn close_grant_early(
        &self,
        request: Request<api::CloseGrantEarlyRequest>,
    ) -> Reply<api::Award> {
        self.rpc
            .run("CloseGrantEarly", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("award_id", &req.award_id));
                let reason = v.absorb("reason", required_reason("reason", &req.reason));
                v.finish()?;
                let (id, reason) = (id.expect("checked"), reason.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let mut work = AwardWork::open(&mut tx, &caller, &id, &req.etag).await?;
                work.ledger.close_early()?;
                store::close_award(&mut tx, &id, &reason).await?;
                work.move_proposal(&mut tx).await?;
                let reached = store::list_reports(&mut tx, &id, "", 0)
                    .await?
                    .iter()
                    .filter(|r| {
                        r.state == ReportState::Accepted && r.fields.kind == ReportKind::Progress
                    })
                    .fold(domain::People::default(), |acc, r| {
                        acc.plus(&r.fields.reached)
                    });
                work.publish_end(&mut tx, ev::ProjectOutcome::ClosedEarly, reached)
                    .await?;
                let reply = work.finish(&mut tx).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    // ======================================================== reporting

    async fn submit_report(
        &self,
        request: Request<api::SubmitReportRequest>,
    ) -> Reply<api::Report> {
        self.rpc
            .run("SubmitReport", request, |caller, req| async move {
                caller.require(APPLICANTS)?;
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                let report = v.absorb("report", domain::parse_report(req.report.as_ref()));
                v.finish()?;
                let (idempotency, (award_id, fields)) =
                    (idempotency.expect("checked"), report.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let work = AwardWork::open(&mut tx, &caller, &award_id, "").await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                let existing = store::list_reports(&mut tx, &award_id, "", 0).await?;
                let open = existing.iter().any(|r| {
                    r.state == ReportState::Submitted
                        && r.fields.kind == fields.kind
                        && r.fields.milestone == fields.milestone
                });
                match fields.kind {
                    ReportKind::Final => work.ledger.check_final_report(open)?,
                    _ => work.ledger.check_progress_report(fields.milestone, open)?,
                }
                let row = ReportRow {
                    id: new_id(),
                    award_id,
                    fields,
                    state: ReportState::Submitted,
                    review_comment: String::new(),
                    submitted_by: caller.subject.clone(),
                    reviewed_by: String::new(),
                    submitted_at: now_micros(),
                    reviewed_at: 0,
                };
                store::insert_report(&mut tx, &row).await?;
                work.finish(&mut tx).await?;
                let reply = report_proto(&row);
                idempotency.remember(&mut tx, &row.id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn review_report(
        &self,
        request: Request<api::ReviewReportRequest>,
    ) -> Reply<api::Report> {
        self.rpc
            .run("ReviewReport", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("id", &req.id));
                let review = v.absorb("outcome", domain::parse_review(req.outcome, &req.comment));
                v.finish()?;
                let (id, (outcome, comment)) = (id.expect("checked"), review.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let report = store::get_report(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("report", &id))?;
                let mut work = AwardWork::open(&mut tx, &caller, &report.award_id, "").await?;
                domain::check_reviewable(report.state)?;
                let to = if outcome == ReviewOutcome::Accept {
                    match report.fields.kind {
                        ReportKind::Final => work.ledger.accept_final()?,
                        _ => work.ledger.accept_milestone(report.fields.milestone)?,
                    }
                    ReportState::Accepted
                } else {
                    ReportState::Returned
                };
                let at =
                    store::review(&mut tx, "reports", &id, to, &comment, &caller.subject).await?;
                if to == ReportState::Accepted && report.fields.kind == ReportKind::Progress {
                    let context = context(&mut tx, &work.proposal, &work.call).await?;
                    tx.publish(
                        &report.award_id,
                        &ev::MilestoneReported {
                            context: Some(context),
                            award_id: report.award_id.clone(),
                            report_id: id.clone(),
                            milestone_number: report.fields.milestone,
                            beneficiaries_reached: Some(people_event(&report.fields.reached)),
                            accepted_at: Some(timestamp(at)),
                        },
                    )
                    .await?;
                }
                work.finish(&mut tx).await?;
                tx.commit().await?;
                Ok(report_proto(&ReportRow {
                    state: to,
                    review_comment: comment,
                    reviewed_by: caller.subject.clone(),
                    reviewed_at: at,
                    ..report
                }))
            })
            .await
    }

    async fn list_reports(
        &self,
        request: Request<api::ListReportsRequest>,
    ) -> Reply<api::ListReportsResponse> {
        self.rpc
            .run("ListReports", request, |caller, req| async move {
                let (mut tx, id, page) = self
                    .award_page(&caller, &req.award_id, req.page_size, &req.page_token)
                    .await?;
                let mut rows = store::list_reports(&mut tx, &id, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListReportsResponse {
                    reports: rows.iter().map(report_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn submit_expenditure_report(
        &self,
        request: Request<api::SubmitExpenditureReportRequest>,
    ) -> Reply<api::ExpenditureReport> {
        self.rpc
            .run(
                "SubmitExpenditureReport",
                request,
                |caller, req| async move {
                    caller.require(APPLICANTS)?;
                    let sent = req.report.clone().unwrap_or_default();
                    let mut v = Violations::new();
                    let idempotency = v.absorb(
                        "request_id",
                        Idempotency::of(&caller, &req.request_id, &req),
                    );
                    // The report is judged against its award: a bad award id
                    // is answered with all else the request alone gets wrong.
                    let award_id = parse_id("report.award_id", &sent.award_id).ok();
                    if award_id.is_none() {
                        let _ = v.absorb("report", domain::parse_expenditure(Some(&sent), None));
                    }
                    v.finish()?;
                    let (idempotency, award_id) =
                        (idempotency.expect("checked"), award_id.expect("checked"));
                    let mut tx = self.db.write(&caller.tenant).await?;
                    let viewer = viewer(&mut tx, &caller).await?;
                    let award = seen_award(&mut tx, &viewer, &award_id).await?;
                    if let Some(done) = idempotency.replay(&mut tx).await? {
                        return Ok(done);
                    }
                    // Every bad field at once, before the award is locked.
                    let (_, fields) = domain::parse_expenditure(
                        Some(&sent),
                        Some(domain::AwardTerms {
                            currency: award.amount.currency(),
                            budget_lines: award.budget.len(),
                        }),
                    )?;
                    let mut work = AwardWork::lock(&mut tx, &award_id, "").await?;
                    work.ledger.spend(&spending(&fields), false)?;
                    let row = ExpenditureRow {
                        id: new_id(),
                        award_id,
                        fields,
                        state: ReportState::Submitted,
                        review_comment: String::new(),
                        submitted_by: caller.subject.clone(),
                        reviewed_by: String::new(),
                        submitted_at: now_micros(),
                        reviewed_at: 0,
                    };
                    store::insert_expenditure(&mut tx, &row).await?;
                    work.finish(&mut tx).await?;
                    let reply = expenditure_proto(&row)?;
                    idempotency.remember(&mut tx, &row.id, &reply).await?;
                    tx.commit().await?;
                    Ok(reply)
                },
            )
            .await
    }

    async fn review_expenditure_report(
        &self,
        request: Request<api::ReviewExpenditureReportRequest>,
    ) -> Reply<api::ExpenditureReport> {
        self.rpc
            .run(
                "ReviewExpenditureReport",
                request,
                |caller, req| async move {
                    caller.require(STAFF)?;
                    let mut v = Violations::new();
                    let id = v.take(parse_id("id", &req.id));
                    let review =
                        v.absorb("outcome", domain::parse_review(req.outcome, &req.comment));
                    v.finish()?;
                    let (id, (outcome, comment)) = (id.expect("checked"), review.expect("checked"));
                    let mut tx = self.db.write(&caller.tenant).await?;
                    let report = store::get_expenditure(&mut tx, &id)
                        .await?
                        .ok_or_else(|| Error::not_found("expenditure report", &id))?;
                    let mut work = AwardWork::open(&mut tx, &caller, &report.award_id, "").await?;
                    domain::check_reviewable(report.state)?;
                    let to = if outcome == ReviewOutcome::Accept {
                        work.ledger.spend(&spending(&report.fields), true)?;
                        ReportState::Accepted
                    } else {
                        ReportState::Returned
                    };
                    let at = store::review(
                        &mut tx,
                        "expenditure_reports",
                        &id,
                        to,
                        &comment,
                        &caller.subject,
                    )
                    .await?;
                    work.finish(&mut tx).await?;
                    tx.commit().await?;
                    expenditure_proto(&ExpenditureRow {
                        state: to,
                        review_comment: comment,
                        reviewed_by: caller.subject.clone(),
                        reviewed_at: at,
                        ..report
                    })
                },
            )
            .await
    }

    async fn list_expenditure_reports(
        &self,
        request: Request<api::ListExpenditureReportsRequest>,
    ) -> Reply<api::ListExpenditureReportsResponse> {
        self.rpc
            .run(
                "ListExpenditureReports",
                request,
                |caller, req| async move {
                    let (mut tx, id, page) = self
                        .award_page(&caller, &req.award_id, req.page_size, &req.page_token)
                        .await?;
                    let mut rows =
                        store::list_expenditures(&mut tx, &id, &page.after, page.fetch()).await?;
                    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                    Ok(api::ListExpenditureReportsResponse {
                        reports: rows.iter().map(expenditure_proto).collect::<Result<_>>()?,
                        next_page_token,
                    })
                },
            )
            .await
    }

    async fn request_variation(
        &self,
        request: Request<api::RequestVariationRequest>,
    ) -> Reply<api::Variation> {
        self.rpc
            .run("RequestVariation", request, |caller, req| async move {
                caller.require(APPLICANTS)?;
                let sent = req.variation.clone().unwrap_or_default();
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of(&caller, &req.request_id, &req),
                );
                // Judged against its award: a bad award id is answered with
                // all else the request alone gets wrong.
                let award_id = parse_id("variation.award_id", &sent.award_id).ok();
                if award_id.is_none() {
                    let _ = v.absorb("variation", domain::parse_variation(Some(&sent), None));
                }
                v.finish()?;
                let (idempotency, award_id) =
                    (idempotency.expect("checked"), award_id.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let viewer = viewer(&mut tx, &caller).await?;
                let award = seen_award(&mut tx, &viewer, &award_id).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                let (_, fields) =
                    domain::parse_variation(Some(&sent), Some(award.amount.currency()))?;
                // One pending variation per award: requests queue on the
                // award's row (a variation does not change the award until
                // approved, so nothing is bumped).
                let work = AwardWork::lock(&mut tx, &award_id, "").await?;
                check_variation(&work, &fields)?;
                if store::has_pending_variation(&mut tx, &award_id).await? {
                    return Err(Error::precondition(
                        "VARIATION_PENDING",
                        format!("awards/{award_id}"),
                        "a variation of this award waits for a decision already",
                    ));
                }
                let row = VariationRow {
                    id: new_id(),
                    award_id,
                    fields,
                    state: VariationState::Pending,
                    decision_note: String::new(),
                    requested_by: caller.subject.clone(),
                    decided_by: String::new(),
                    created_at: now_micros(),
                    decided_at: 0,
                };
                store::insert_variation(&mut tx, &row).await?;
                let reply = variation_proto(&row);
                idempotency.remember(&mut tx, &row.id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn decide_variation(
        &self,
        request: Request<api::DecideVariationRequest>,
    ) -> Reply<api::Variation> {
        self.rpc
            .run("DecideVariation", request, |caller, req| async move {
                caller.require(STAFF)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("id", &req.id));
                let decision = v.absorb(
                    "decision",
                    domain::parse_decision(req.decision, &req.note, "note"),
                );
                v.finish()?;
                let (id, (decision, note)) = (id.expect("checked"), decision.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let variation = store::get_variation(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("variation", &id))?;
                if variation.state != VariationState::Pending {
                    return Err(Error::precondition(
                        "VARIATION_DECIDED",
                        format!("variations/{id}"),
                        "the variation was decided already",
                    ));
                }
                let mut work = AwardWork::open(&mut tx, &caller, &variation.award_id, "").await?;
                let to = if decision == Decision::Approve {
                    check_variation(&work, &variation.fields)?;
                    if !variation.fields.budget.is_empty() {
                        let budget: Vec<i64> = variation
                            .fields
                            .budget
                            .iter()
                            .map(|l| l.amount.minor_units())
                            .collect();
                        work.ledger.reallocate(&budget, true)?;
                    }
                    store::vary_award(
                        &mut tx,
                        &variation.award_id,
                        &variation.fields.budget,
                        variation.fields.new_end_date,
                    )
                    .await?;
                    VariationState::Approved
                } else {
                    VariationState::Rejected
                };
                let at = store::decide_variation(&mut tx, &id, to, &note, &caller.subject).await?;
                work.finish(&mut tx).await?;
                tx.commit().await?;
                Ok(variation_proto(&VariationRow {
                    state: to,
                    decision_note: note,
                    decided_by: caller.subject.clone(),
                    decided_at: at,
                    ..variation
                }))
            })
            .await
    }

    async fn list_variations(
        &self,
        request: Request<api::ListVariationsRequest>,
    ) -> Reply<api::ListVariationsResponse> {
        self.rpc
            .run("ListVariations", request, |caller, req| async move {
                let (mut tx, id, page) = self
                    .award_page(&caller, &req.award_id, req.page_size, &req.page_token)
                    .await?;
                let mut rows =
                    store::list_variations(&mut tx, &id, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListVariationsResponse {
                    variations: rows.iter().map(variation_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }
}

// ===================================================== award operations

/// An award being changed in this transaction, with its proposal, call and
/// ledger as they are under the award's row lock: writers of one award queue
/// instead of racing. Opening writes nothing; [`AwardWork::finish`] bumps
/// the version once the change is made.
struct AwardWork {
    award: AwardRow,
    proposal: ProposalRow,
    call: CallRow,
    ledger: Ledger,
}

impl AwardWork {
    async fn load(tx: &mut Tx, award: AwardRow) -> Result<AwardWork> {
        let proposal = store::get_proposal(tx, &award.proposal_id)
            .await?
            .ok_or_else(|| Error::internal("an award without its proposal"))?;
        let call = store::get_call(tx, &award.call_id)
            .await?
            .ok_or_else(|| Error::internal("an award without its call"))?;
        let ledger = store::ledger(tx, &award, proposal.state).await?;
        Ok(AwardWork {
            award,
            proposal,
            call,
            ledger,
        })
    }

    /// The award `id` for a change by the caller: its rights first (an
    /// award it may not change is NOT_FOUND), then the award's row lock,
    /// then the award as it is under the lock, the etag checked when sent.
    async fn open(tx: &mut Tx, caller: &Caller, id: &str, sent_etag: &str) -> Result<AwardWork> {
        let viewer = viewer(tx, caller).await?;
        seen_award(tx, &viewer, id).await?;
        AwardWork::lock(tx, id, sent_etag).await
    }

    /// The award `id` (one the caller may change) under its row lock.
    async fn lock(tx: &mut Tx, id: &str, sent_etag: &str) -> Result<AwardWork> {
        tx.lock("awards", id).await?;
        let award = store::get_award(tx, id)
            .await?
            .ok_or_else(|| Error::internal("the award just seen"))?;
        check_etag("etag", sent_etag, award.version)?;
        AwardWork::load(tx, award).await
    }

    /// Moves the proposal to the ledger's state.
    async fn move_proposal(&mut self, tx: &mut Tx) -> Result<()> {
        if self.ledger.state != self.proposal.state {
            self.proposal =
                store::set_proposal_state(tx, &self.proposal, self.ledger.state, false, None)
                    .await?;
        }
        Ok(())
    }

    async fn publish_end(
        &self,
        tx: &mut Tx,
        outcome: ev::ProjectOutcome,
        reached: domain::People,
    ) -> Result<()> {
        let totals = self.ledger.totals()?;
        let context = context(tx, &self.proposal, &self.call).await?;
        tx.publish(
            &self.award.id,
            &ev::ProjectCompleted {
                context: Some(context),
                award_id: self.award.id.clone(),
                outcome: outcome as i32,
                awarded: Some(totals.awarded.to_proto()),
                disbursed: Some(totals.disbursed.to_proto()),
                spent: Some(totals.spent.to_proto()),
                beneficiaries_reached: Some(people_event(&reached)),
                ended_on: Some(Date::today().to_proto()),
            },
        )
        .await
    }

    /// Bumps the award's version (its etag) for the change made, and
    /// returns the award as it stands after it.
    async fn finish(&self, tx: &mut Tx) -> Result<api::Award> {
        store::touch_award(tx, &self.award, Some(self.award.version)).await?;
        let award = store::get_award(tx, &self.award.id)
            .await?
            .ok_or_else(|| Error::internal("the award being changed"))?;
        award_view(tx, &award).await
    }
}

fn spending(f: &domain::ExpenditureFields) -> Vec<(i32, i64)> {
    f.lines
        .iter()
        .map(|(line, amount, _)| (*line, amount.minor_units()))
        .collect()
}

/// A variation must fit the award: a reallocation keeps the total and the
/// lines already spent on; a new end date is not before the start.
fn check_variation(work: &AwardWork, f: &domain::VariationFields) -> Result<()> {
    let mut ledger = work.ledger.clone();
    if f.budget.is_empty() {
        domain::transition(ledger.state, Action::Vary)?;
    } else {
        let budget: Vec<i64> = f.budget.iter().map(|l| l.amount.minor_units()).collect();
        ledger.reallocate(&budget, false)?;
    }
    if let (Some(end), Some(start)) = (f.new_end_date, work.award.start_date)
        && end < start
    {
        return Err(Error::invalid(
            "variation.new_end_date",
            format!("before the project starts on {start}"),
        ));
    }
    Ok(())
}

/// The facts every grants event carries.
async fn context(tx: &mut Tx, p: &ProposalRow, call: &CallRow) -> Result<ev::GrantContext> {
    let facts = store::organization_facts(tx, &p.organization_id).await?;
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

// ============================================================== mappings

fn program_proto(r: &ProgramRow) -> api::Program {
    api::Program {
        id: r.id.clone(),
        name: Some(r.fields.name.clone()),
        description: Some(r.fields.description.clone()),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}

/// The call with `committed`, the money its awards hold (awarded less what
/// grants closed early will never pay).
fn call_proto(r: &CallRow, committed: Money) -> api::Call {
    let f = &r.fields;
    let remaining = f
        .envelope
        .checked_sub(committed)
        .unwrap_or(Money::zero(f.currency()));
    api::Call {
        id: r.id.clone(),
        program_id: r.program_id.clone(),
        title: Some(f.title.clone()),
        description: Some(f.description.clone()),
        themes: f
            .themes
            .iter()
            .map(|t| api::Theme {
                code: t.code.clone(),
                name: Some(t.name.clone()),
            })
            .collect(),
        budget_envelope: Some(f.envelope.to_proto()),
        project_ceiling: Some(f.ceiling.to_proto()),
        opens_on: Some(f.opens_on.to_proto()),
        closes_on: Some(f.closes_on.to_proto()),
        eligibility: Some(api::EligibilityRules {
            incubation_statuses: f
                .rules
                .incubation_statuses
                .iter()
                .map(|s| *s as i32)
                .collect(),
            branch_ids: f.rules.branch_ids.clone(),
            organization_kinds: f
                .rules
                .organization_kinds
                .iter()
                .map(|k| *k as i32)
                .collect(),
            required_course_topic: f.rules.required_course_topic.clone(),
        }),
        rubric: Some(api::Rubric {
            max_score: f.rubric.max_score,
            criteria: f
                .rubric
                .criteria
                .iter()
                .map(|c| api::Criterion {
                    code: c.code.clone(),
                    name: Some(c.name.clone()),
                    guidance: Some(c.guidance.clone()),
                    weight: c.weight,
                })
                .collect(),
        }),
        blind_review: f.blind,
        state: r.state as i32,
        awarded_total: Some(committed.to_proto()),
        envelope_remaining: Some(remaining.to_proto()),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}

fn people_proto(p: &domain::People) -> api::Beneficiaries {
    api::Beneficiaries {
        female: p.female,
        male: p.male,
        undisclosed: p.undisclosed,
    }
}

fn people_event(p: &domain::People) -> ev::BeneficiaryCount {
    ev::BeneficiaryCount {
        female: p.female,
        male: p.male,
        undisclosed: p.undisclosed,
    }
}

fn budget_proto(lines: &[domain::BudgetLine]) -> Vec<api::BudgetLine> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| api::BudgetLine {
            line_number: i as i32 + 1,
            category: l.category as i32,
            description: Some(l.description.clone()),
            amount: Some(l.amount.to_proto()),
        })
        .collect()
}

fn milestone_proto(number: usize, m: &domain::Milestone) -> api::Milestone {
    api::Milestone {
        number: number as i32,
        title: Some(m.title.clone()),
        due_date: Some(m.due_date.to_proto()),
        deliverables: Some(m.deliverables.clone()),
    }
}

/// The proposal as a caller sees it; `hidden` drops the applicant's identity
/// (a reviewer of a blind call).
fn proposal_proto(
    r: &ProposalRow,
    call: &CallRow,
    organization_name: Option<LocalizedText>,
    hidden: bool,
) -> Result<api::Proposal> {
    let f = &r.fields;
    Ok(api::Proposal {
        id: r.id.clone(),
        call_id: r.call_id.clone(),
        organization_id: if hidden {
            String::new()
        } else {
            r.organization_id.clone()
        },
        organization_name: if hidden { None } else { organization_name },
        state: r.state as i32,
        title: Some(f.title.clone()),
        summary: Some(f.summary.clone()),
        community_need: Some(f.community_need.clone()),
        location: Some(api::Location {
            governorate: f.governorate.clone(),
            place: Some(f.place.clone()),
        }),
        sector: f.sector.map_or(0, |s| s as i32),
        theme_code: f.theme_code.clone(),
        beneficiaries_targeted: Some(people_proto(&f.targeted)),
        budget_lines: budget_proto(&f.budget),
        milestones: f
            .milestones
            .iter()
            .enumerate()
            .map(|(i, m)| milestone_proto(i + 1, m))
            .collect(),
        start_date: f.start_date.map(Date::to_proto),
        end_date: f.end_date.map(Date::to_proto),
        requested_total: Some(f.total(call.fields.currency())?.to_proto()),
        version_number: r.version_number,
        decision_reason: r.decision_reason.clone(),
        identity_hidden: hidden,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        submit_time: (r.submitted_at > 0).then(|| timestamp(r.submitted_at)),
        etag: etag(r.version),
    })
}

/// Renders a seen proposal with the organization's name from the copy.
async fn render(tx: &mut Tx, seen: &Seen) -> Result<api::Proposal> {
    let name = if seen.hidden {
        None
    } else {
        store::organization_facts(tx, &seen.proposal.organization_id)
            .await?
            .map(|(_, n)| n)
    };
    proposal_proto(&seen.proposal, &seen.call, name, seen.hidden)
}

fn note_proto(n: &NoteRow) -> api::CoachingNote {
    api::CoachingNote {
        id: n.id.clone(),
        proposal_id: n.proposal_id.clone(),
        body: n.body.clone(),
        author: n.author.clone(),
        author_role: n.author_role.clone(),
        version_number: n.version_number,
        create_time: Some(timestamp(n.created_at)),
    }
}

fn coach_proto(c: &CoachRow) -> api::Coach {
    api::Coach {
        id: c.id.clone(),
        proposal_id: c.proposal_id.clone(),
        subject: c.subject.clone(),
        assigned_by: c.assigned_by.clone(),
        create_time: Some(timestamp(c.created_at)),
    }
}

fn reviewer_proto(r: &ReviewerRow) -> api::Reviewer {
    api::Reviewer {
        id: r.id.clone(),
        person_id: r.fields.person_id.clone(),
        subject: r.fields.subject.clone(),
        display_name: r.display_name.clone(),
        expertise: r.fields.expertise.iter().map(|s| *s as i32).collect(),
        active: r.active,
        create_time: Some(timestamp(r.created_at)),
    }
}

fn conflict_proto(c: &ConflictRow) -> api::Conflict {
    api::Conflict {
        id: c.id.clone(),
        reviewer_id: c.reviewer_id.clone(),
        organization_id: c.organization_id.clone(),
        proposal_id: c.proposal_id.clone(),
        reason: c.reason.clone(),
        declared_by: c.declared_by.clone(),
        create_time: Some(timestamp(c.created_at)),
    }
}

fn assignment_proto(a: &AssignmentRow) -> api::Assignment {
    api::Assignment {
        id: a.id.clone(),
        proposal_id: a.proposal_id.clone(),
        reviewer_id: a.reviewer_id.clone(),
        call_id: a.call_id.clone(),
        state: a.state as i32,
        recusal_reason: a.recusal_reason.clone(),
        assigned_by: a.assigned_by.clone(),
        create_time: Some(timestamp(a.created_at)),
    }
}

fn sheet_proto(s: &SheetRow, max_total: i64) -> api::ScoreSheet {
    api::ScoreSheet {
        id: s.id.clone(),
        proposal_id: s.proposal_id.clone(),
        reviewer_id: s.reviewer_id.clone(),
        scores: s
            .sheet
            .scores
            .iter()
            .map(|(code, score, comment)| api::CriterionScore {
                criterion_code: code.clone(),
                score: *score,
                comment: comment.clone(),
            })
            .collect(),
        comment: s.sheet.comment.clone(),
        weighted_total: s.weighted_total,
        basis_points: domain::basis_points(s.weighted_total, 1, max_total),
        counts: s.counts,
        submit_time: Some(timestamp(s.submitted_at)),
    }
}

/// The award with its totals, budget against actual and milestones, all
/// computed from the records.
async fn award_view(tx: &mut Tx, a: &AwardRow) -> Result<api::Award> {
    let proposal = store::get_proposal(tx, &a.proposal_id)
        .await?
        .ok_or_else(|| Error::internal("an award without its proposal"))?;
    let ledger = store::ledger(tx, a, proposal.state).await?;
    let totals = ledger.totals()?;
    let reports = store::list_reports(tx, &a.id, "", 0).await?;
    let currency: Currency = ledger.currency;
    let milestones = proposal
        .fields
        .milestones
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let number = i as i32 + 1;
            let latest = reports
                .iter()
                .rfind(|r| r.fields.kind == ReportKind::Progress && r.fields.milestone == number);
            api::MilestoneProgress {
                milestone: Some(milestone_proto(i + 1, m)),
                report_state: latest.map_or(0, |r| r.state as i32),
            }
        })
        .collect();
    let budget = budget_proto(&a.budget)
        .into_iter()
        .zip(&ledger.spent)
        .map(|(line, spent)| {
            let budgeted = Money::new(currency, ledger.budget[line.line_number as usize - 1]);
            let spent = Money::new(currency, *spent);
            Ok(api::BudgetLineActual {
                line: Some(line),
                spent: Some(spent.to_proto()),
                variance: Some(budgeted.checked_sub(spent)?.to_proto()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(api::Award {
        id: a.id.clone(),
        proposal_id: a.proposal_id.clone(),
        call_id: a.call_id.clone(),
        organization_id: a.organization_id.clone(),
        state: proposal.state as i32,
        amount: Some(a.amount.to_proto()),
        tranches: a
            .tranches
            .iter()
            .map(|t| api::Tranche {
                number: t.number,
                milestone_number: t.milestone,
                amount: Some(t.amount.to_proto()),
                state: t.state as i32,
                disbursed_on: t.disbursed_on.map(Date::to_proto),
                reference: t.reference.clone(),
                disbursed_by: t.disbursed_by.clone(),
            })
            .collect(),
        budget,
        milestones,
        disbursed: Some(totals.disbursed.to_proto()),
        cancelled: Some(totals.cancelled.to_proto()),
        remaining: Some(totals.remaining.to_proto()),
        spent: Some(totals.spent.to_proto()),
        start_date: a.start_date.map(Date::to_proto),
        end_date: a.end_date.map(Date::to_proto),
        closure_reason: a.closure_reason.clone(),
        create_time: Some(timestamp(a.created_at)),
        update_time: Some(timestamp(a.updated_at)),
        etag: etag(a.version),
    })
}

fn report_proto(r: &ReportRow) -> api::Report {
    api::Report {
        id: r.id.clone(),
        award_id: r.award_id.clone(),
        kind: r.fields.kind as i32,
        milestone_number: r.fields.milestone,
        narrative: Some(r.fields.narrative.clone()),
        beneficiaries_reached: Some(people_proto(&r.fields.reached)),
        state: r.state as i32,
        review_comment: r.review_comment.clone(),
        submitted_by: r.submitted_by.clone(),
        reviewed_by: r.reviewed_by.clone(),
        submit_time: Some(timestamp(r.submitted_at)),
        review_time: (r.reviewed_at > 0).then(|| timestamp(r.reviewed_at)),
    }
}

fn expenditure_proto(r: &ExpenditureRow) -> Result<api::ExpenditureReport> {
    let currency = r
        .fields
        .lines
        .first()
        .map(|(_, a, _)| a.currency())
        .ok_or_else(|| Error::internal("an expenditure report without lines"))?;
    let total = money::sum(currency, r.fields.lines.iter().map(|(_, a, _)| *a))?;
    Ok(api::ExpenditureReport {
        id: r.id.clone(),
        award_id: r.award_id.clone(),
        period_start: Some(r.fields.period_start.to_proto()),
        period_end: Some(r.fields.period_end.to_proto()),
        lines: r
            .fields
            .lines
            .iter()
            .map(|(line, amount, note)| api::ExpenditureLine {
                line_number: *line,
                amount: Some(amount.to_proto()),
                note: note.clone(),
            })
            .collect(),
        total: Some(total.to_proto()),
        state: r.state as i32,
        review_comment: r.review_comment.clone(),
        submitted_by: r.submitted_by.clone(),
        reviewed_by: r.reviewed_by.clone(),
        submit_time: Some(timestamp(r.submitted_at)),
        review_time: (r.reviewed_at > 0).then(|| timestamp(r.reviewed_at)),
    })
}

fn variation_proto(r: &VariationRow) -> api::Variation {
    api::Variation {
        id: r.id.clone(),
        award_id: r.award_id.clone(),
        justification: r.fields.justification.clone(),
        budget_lines: budget_proto(&r.fields.budget),
        new_end_date: r.fields.new_end_date.map(Date::to_proto),
        state: r.state as i32,
        decision_note: r.decision_note.clone(),
        requested_by: r.requested_by.clone(),
        decided_by: r.decided_by.clone(),
        create_time: Some(timestamp(r.created_at)),
        decide_time: (r.decided_at > 0).then(|| timestamp(r.decided_at)),
    }
}
