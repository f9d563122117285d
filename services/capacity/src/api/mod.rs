//! The gRPC API: maps protobuf to the domain and back, checks the caller's
//! right to each object, runs each request in one transaction and writes the
//! events it causes into the outbox of that same transaction. The roles each
//! method takes are [`crate::RIGHTS`], checked by the gate before a handler
//! runs; one file per resource holds its handlers, one function per RPC.
//!
//! Rights, beyond the roles:
//! * admin and staff see and manage everything of their tenant;
//! * a trainer records attendance and tests, and reads the enrolments,
//!   attendance and report, only of the courses that list the trainer's
//!   account (`Trainer.subject` = the token's `sub`); other trainers are
//!   PERMISSION_DENIED there (the course itself is no secret);
//! * a partner sees its own organization's enrolments, certificates,
//!   consultations, follow-up actions and recommendations, and enrols its
//!   own affiliated members; anything else is NOT_FOUND, like another
//!   tenant's object;
//! * anyone may verify a certificate, suggest a training and ask for a
//!   consultation (no token).

pub(crate) mod attendance;
pub(crate) mod certificates;
pub(crate) mod consultation_requests;
pub(crate) mod consultations;
pub(crate) mod courses;
pub(crate) mod enrolments;
pub(crate) mod recommendations;
pub(crate) mod reports;
pub(crate) mod suggestions;
pub(crate) mod topics;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use markaz_kit::auth::{Caller, Organizations};
use markaz_kit::db::{Db, Tx};
use markaz_kit::error::{Error, FieldViolation, Result};
use markaz_kit::rpc::{Anonymous, Rpc};
use markaz_kit::time::{Date, MaybeDate};
use markaz_kit::validate;
use markaz_kit::validate::enum_filter;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::capacity_service_server::CapacityService;

use crate::domain::BRANCH_MAX;
use crate::limits;
use crate::store;
use markaz_kit::rpc::rate::RateLimiter;

#[derive(Clone, Debug)]
pub struct CapacityApi {
    db: Db,
    rpc: Rpc,
    /// Tenants whose catalogue holds the built-in topics already.
    seeded: Arc<Mutex<HashSet<String>>>,
    limiter: Arc<RateLimiter>,
}

markaz_kit::grpc_forwards! {
    impl CapacityService for CapacityApi {
        create_topic(api::CreateTopicRequest) -> api::Topic => topics::create;
        get_topic(api::GetTopicRequest) -> api::Topic => topics::get;
        list_topics(api::ListTopicsRequest) -> api::ListTopicsResponse => topics::list;
        update_topic(api::UpdateTopicRequest) -> api::Topic => topics::update;

        create_course(api::CreateCourseRequest) -> api::Course => courses::create;
        get_course(api::GetCourseRequest) -> api::Course => courses::get;
        list_courses(api::ListCoursesRequest) -> api::ListCoursesResponse => courses::list;
        update_course(api::UpdateCourseRequest) -> api::Course => courses::update;
        open_course(api::OpenCourseRequest) -> api::Course => courses::open;
        start_course(api::StartCourseRequest) -> api::Course => courses::start;
        complete_course(api::CompleteCourseRequest) -> api::Course => courses::complete;
        cancel_course(api::CancelCourseRequest) -> api::Course => courses::cancel;

        enrol_participant(api::EnrolParticipantRequest) -> api::Enrolment => enrolments::enrol;
        get_enrolment(api::GetEnrolmentRequest) -> api::Enrolment => enrolments::get;
        list_enrolments(api::ListEnrolmentsRequest) -> api::ListEnrolmentsResponse
            => enrolments::list;
        cancel_enrolment(api::CancelEnrolmentRequest) -> api::Enrolment => enrolments::cancel;

        record_attendance(api::RecordAttendanceRequest) -> api::SessionAttendance
            => attendance::record;
        get_session_attendance(api::GetSessionAttendanceRequest) -> api::SessionAttendance
            => attendance::get;
        list_attendance_revisions(api::ListAttendanceRevisionsRequest)
            -> api::ListAttendanceRevisionsResponse => attendance::revisions;
        record_test_scores(api::RecordTestScoresRequest) -> api::RecordTestScoresResponse
            => attendance::record_scores;

        list_certificates(api::ListCertificatesRequest) -> api::ListCertificatesResponse
            => certificates::list;
        revoke_certificate(api::RevokeCertificateRequest) -> api::Certificate
            => certificates::revoke;
        #[public] verify_certificate(api::VerifyCertificateRequest)
            -> api::CertificateVerification => certificates::verify;

        create_consultation(api::CreateConsultationRequest) -> api::Consultation
            => consultations::create;
        get_consultation(api::GetConsultationRequest) -> api::Consultation
            => consultations::get;
        list_consultations(api::ListConsultationsRequest) -> api::ListConsultationsResponse
            => consultations::list;
        update_consultation(api::UpdateConsultationRequest) -> api::Consultation
            => consultations::update;
        list_follow_up_actions(api::ListFollowUpActionsRequest)
            -> api::ListFollowUpActionsResponse => consultations::follow_ups;

        #[public] suggest_training(api::SuggestTrainingRequest) -> api::SuggestTrainingResponse
            => suggestions::suggest;
        list_training_suggestions(api::ListTrainingSuggestionsRequest)
            -> api::ListTrainingSuggestionsResponse => suggestions::list;
        triage_training_suggestion(api::TriageTrainingSuggestionRequest)
            -> api::TrainingSuggestion => suggestions::triage;

        #[public] request_consultation(api::RequestConsultationRequest)
            -> api::RequestConsultationResponse => consultation_requests::request;
        list_consultation_requests(api::ListConsultationRequestsRequest)
            -> api::ListConsultationRequestsResponse => consultation_requests::list;
        triage_consultation_request(api::TriageConsultationRequestRequest)
            -> api::ConsultationRequest => consultation_requests::triage;

        recommend_courses(api::RecommendCoursesRequest) -> api::RecommendCoursesResponse
            => recommendations::recommend;

        get_course_report(api::GetCourseReportRequest) -> api::CourseReport
            => reports::course;
        get_activity_report(api::GetActivityReportRequest) -> api::ActivityReport
            => reports::activity;
    }
}

impl CapacityApi {
    pub fn new(db: Db, rpc: Rpc) -> Self {
        CapacityApi {
            db,
            rpc,
            seeded: Arc::default(),
            limiter: Arc::new(RateLimiter::new()),
        }
    }

    fn is_seeded(&self, tenant: &str) -> bool {
        self.seeded.lock().expect("seeded lock").contains(tenant)
    }

    /// Makes sure the tenant's catalogue starts with the built-in topics.
    /// Runs in a transaction of its own: call it before opening one.
    async fn seed(&self, tenant: &str) -> Result<()> {
        if self.is_seeded(tenant) {
            return Ok(());
        }
        let mut tx = self.db.write(tenant).await?;
        store::topics::seed(&mut tx).await?;
        tx.commit().await?;
        self.seeded(tenant);
        Ok(())
    }

    /// The same, inside the write transaction of a request that passed
    /// validation: the seed commits with the request's own writes or not at
    /// all. Call [`CapacityApi::seeded`] once that transaction committed.
    async fn seed_in(&self, tx: &mut Tx) -> Result<()> {
        if self.is_seeded(tx.tenant()) {
            return Ok(());
        }
        store::topics::seed(tx).await
    }

    /// Remembers that a transaction that ran [`CapacityApi::seed_in`] for
    /// `tenant` committed.
    fn seeded(&self, tenant: &str) {
        self.seeded
            .lock()
            .expect("seeded lock")
            .insert(tenant.to_string());
    }

    fn limit(&self, what: &str, key: &str, limit: limits::Limit) -> Result<()> {
        self.limiter.check(&format!("{what}/{key}"), limit)
    }

    /// The first half of a public form's intake, once the request itself is
    /// valid: the caller counted against its address and network, the
    /// center known, and the transaction the form's row is written in.
    async fn open_public_form(
        &self,
        form: &limits::PublicForm,
        anonymous: &Anonymous,
        tenant: &str,
    ) -> Result<Tx> {
        self.limit_public(form.name, anonymous, form.per_client, form.per_network)?;
        let mut tx = self.db.read(tenant).await?;
        let known = store::tenant_known(&mut tx).await?;
        tx.rollback().await?;
        if !known {
            return Err(Error::not_found("center", tenant));
        }
        let mut tx = self.db.write(tenant).await?;
        self.seed_in(&mut tx).await?;
        Ok(tx)
    }

    /// The second half, once the form's own checks passed: only a request
    /// the center takes counts against the center's quotas, so refused
    /// attempts (an unknown center, bad input), limited per address above,
    /// cannot use up the center's form.
    fn count_for_center(
        &self,
        form: &limits::PublicForm,
        anonymous: &Anonymous,
        tenant: &str,
    ) -> Result<()> {
        let network = markaz_kit::rpc::rate::network_key(anonymous.peer);
        self.limit(
            &format!("{}/center-network", form.name),
            &format!("{tenant}/{network}"),
            form.per_center_and_network,
        )?;
        self.limit(&format!("{}/center", form.name), tenant, form.per_center)
    }

    /// A public call, counted against its address and its network.
    fn limit_public(
        &self,
        what: &str,
        anonymous: &Anonymous,
        per_client: limits::Limit,
        per_network: limits::Limit,
    ) -> Result<()> {
        self.limiter
            .check_public(what, anonymous, per_client, per_network)
    }
}

/// A caller who is neither staff nor held to an organization (a partner):
/// a trainer, confined to the courses they train.
fn confined_to_own_courses(caller: &Caller) -> bool {
    !caller.is_staff() && caller.organizations() == Organizations::All
}

/// Something membership has not told capacity about (yet).
fn not_known(kind: &'static str, what: &str, id: &str) -> Error {
    Error::precondition(
        kind,
        format!("{what}/{id}"),
        format!(
            "{what} '{id}' is not known to capacity building yet: membership's event may still \
             be on its way; retry in a moment"
        ),
    )
}

/// An optional date field, as stored ("" for none).
fn optional_date(
    field: &str,
    d: Option<&markaz_proto::common::v1::Date>,
) -> Result<String, FieldViolation> {
    Ok(MaybeDate::text(Date::optional(field, d)?))
}

/// An optional branch filter ("" for any).
fn optional_slug(field: &str, value: &str) -> Result<String, FieldViolation> {
    validate::optional_slug(field, value, BRANCH_MAX)
}
