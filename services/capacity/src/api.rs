//! The gRPC API: maps protobuf to the domain and back, checks the caller's
//! role and right to each object, runs each request in one transaction and
//! writes the events it causes into the outbox of that same transaction.
//!
//! Rights, beyond the roles each RPC names:
//! * admin and staff see and manage everything of their tenant;
//! * a trainer records attendance and tests, and reads the enrolments,
//!   attendance and report, only of the courses that list the trainer's
//!   account (`Trainer.subject` = the token's `sub`); other trainers are
//!   PERMISSION_DENIED there (the course itself is no secret);
//! * a partner sees its own organization's enrolments, certificates,
//!   consultations, follow-up actions and recommendations, and enrols its
//!   own affiliated members; anything else is NOT_FOUND, like another
//!   tenant's object;
//! * anyone may verify a certificate and suggest a training (no token).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use markaz_kit::auth::{Caller, Role};
use markaz_kit::db::{Db, Tx};
use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::rpc::{
    Anonymous, Idempotency, Page, Rpc, check_etag, etag, new_id, parse_id, update_mask,
};
use markaz_kit::time::{Date, now_micros, timestamp};
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::capacity_service_server::CapacityService;
use markaz_proto::capacity::v1::{
    AttendanceStatus, Audience, ConsultationKind, CourseKind, CourseStatus, EnrolmentStatus,
    SuggestionStatus,
};
use markaz_proto::common::v1::AgeBand;
use markaz_proto::events::v1 as ev;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::domain::{self, GenderTally};
use crate::limits::{self, RateLimiter};
use crate::store::{
    self, CertificateRow, ConsultationRow, CourseRow, EnrolmentRow, MarkRow, SessionRow,
    SuggestionRow, TopicRow,
};

/// Who may do what; object rights are checked in the handlers.
const MANAGE: &[Role] = &[Role::Admin, Role::Staff];
const TEACH: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer];
const READ: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
const PARTNERS: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];

#[derive(Clone, Debug)]
pub struct CapacityApi {
    db: Db,
    rpc: Rpc,
    /// Tenants whose catalogue holds the built-in topics already.
    seeded: Arc<Mutex<HashSet<String>>>,
    limiter: Arc<RateLimiter>,
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

    /// Makes sure the tenant's catalogue starts with the built-in topics.
    /// Runs in a transaction of its own: call it before opening one.
    async fn seed(&self, tenant: &str) -> Result<()> {
        if self.seeded.lock().expect("seeded lock").contains(tenant) {
            return Ok(());
        }
        let mut tx = self.db.write(tenant).await?;
        store::seed_topics(&mut tx).await?;
        tx.commit().await?;
        self.seeded
            .lock()
            .expect("seeded lock")
            .insert(tenant.to_string());
        Ok(())
    }

    /// The same, inside the write transaction of a request that passed
    /// validation: the seed commits with the request's own writes or not at
    /// all. Call [`CapacityApi::seeded`] once that transaction committed.
    async fn seed_in(&self, tx: &mut Tx) -> Result<()> {
        if self
            .seeded
            .lock()
            .expect("seeded lock")
            .contains(tx.tenant())
        {
            return Ok(());
        }
        store::seed_topics(tx).await
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
}

type Reply<T> = std::result::Result<Response<T>, Status>;

/// The organization a partner caller is confined to; `None` for staff and
/// trainers.
fn partner_org(caller: &Caller) -> Option<&str> {
    caller.partner_scope()
}

/// A caller who is neither staff nor partner: a trainer, confined to the
/// courses they train.
fn trainer_only(caller: &Caller) -> bool {
    !caller.is_staff() && partner_org(caller).is_none()
}

/// The organization a list may show for this caller: whatever was asked,
/// except that a partner is confined to its own. `None` when a partner asks
/// for another organization's, or names none: the page is empty.
fn organization_filter(caller: &Caller, asked: String) -> Option<String> {
    match partner_org(caller) {
        None => Some(asked),
        Some(own) if own.is_empty() || (!asked.is_empty() && asked != own) => None,
        Some(own) => Some(own.to_string()),
    }
}

fn may_see_org(caller: &Caller, organization_id: &str) -> bool {
    partner_org(caller).is_none_or(|own| !own.is_empty() && own == organization_id)
}

/// Staff, or a trainer of this course.
async fn require_teaching(tx: &mut Tx, caller: &Caller, course_id: &str) -> Result<()> {
    if caller.is_staff()
        || (caller.has(Role::Trainer) && store::is_trainer(tx, course_id, &caller.subject).await?)
    {
        return Ok(());
    }
    Err(Error::permission_denied(
        "only staff and the course's own trainers may do this",
    ))
}

/// The course, read under its row lock: writers that decide on its state
/// (status, places taken) see it as committed and keep it so until they end.
async fn lock_and_find_course(tx: &mut Tx, id: &str) -> Result<CourseRow> {
    store::lock_course(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("course", id))?;
    find_course(tx, id).await
}

async fn find_course(tx: &mut Tx, id: &str) -> Result<CourseRow> {
    store::get_course(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("course", id))
}

/// Whether the caller may see this enrolment.
async fn may_see_enrolment(tx: &mut Tx, caller: &Caller, e: &EnrolmentRow) -> Result<bool> {
    if caller.is_staff() {
        return Ok(true);
    }
    if partner_org(caller).is_some() {
        return Ok(may_see_org(caller, &e.organization_id));
    }
    store::is_trainer(tx, &e.course_id, &caller.subject).await
}

/// Every code must be in the catalogue, and not archived unless it was
/// there before (`kept`).
async fn check_topics(tx: &mut Tx, field: &str, codes: &[String], kept: &[String]) -> Result<()> {
    let catalogue = store::catalogue(tx).await?;
    let mut v = Violations::new();
    for (i, code) in codes.iter().enumerate() {
        match catalogue.get(code) {
            None => v.add(
                format!("{field}[{i}]"),
                format!("no topic '{code}' in the catalogue"),
            ),
            Some(t) if t.fields.archived && !kept.contains(code) => v.add(
                format!("{field}[{i}]"),
                format!("the topic '{code}' is archived"),
            ),
            Some(_) => {}
        }
    }
    v.finish()
}

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

/// A built-in topic as [`store::seed_topics`] writes it.
fn built_in_row(code: &str) -> Option<TopicRow> {
    let now = now_micros();
    domain::BUILT_IN_TOPICS
        .iter()
        .find(|t| t.code == code)
        .map(|t| TopicRow {
            code: code.to_string(),
            fields: t.fields(),
            built_in: true,
            version: 1,
            created_at: now,
            updated_at: now,
        })
}

/// Gives freed places to the first in line, in order, and tells the bus.
async fn promote(tx: &mut Tx, course_id: &str, capacity: i32) -> Result<usize> {
    let enrolled = store::count_enrolled(tx, course_id).await?;
    let waiting = store::count_waiting(tx, course_id).await?;
    let n = domain::promotions(capacity, enrolled, waiting as usize);
    if n == 0 {
        return Ok(0);
    }
    for id in store::first_waiting(tx, course_id, n as i64).await? {
        store::set_enrolment_status(tx, &id, EnrolmentStatus::Enrolled, "").await?;
        let e = store::get_enrolment(tx, &id)
            .await?
            .ok_or_else(|| Error::internal("a promoted enrolment is gone"))?;
        tx.publish(&id, &enrolled_event(&e)).await?;
        tracing::info!(course = %course_id, enrolment = %id, "promoted from the waiting list");
    }
    Ok(n)
}

fn random_bytes() -> Result<[u8; 8]> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("no randomness for a certificate code"))?;
    Ok(bytes)
}

fn optional_date(field: &str, d: Option<&markaz_proto::common::v1::Date>) -> Result<String> {
    Ok(Date::optional(field, d)?
        .map(|d| d.to_string())
        .unwrap_or_default())
}

fn optional_id(field: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        Ok(parse_id(field, value)?)
    }
}

fn optional_slug(v: &mut Violations, field: &str, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    v.take(validate::slug(field, value, domain::BRANCH_MAX))
        .unwrap_or_default()
}

fn enum_name<E>(v: &mut Violations, field: &str, value: i32, name: fn(&E) -> &str) -> String
where
    E: TryFrom<i32>,
{
    v.take(validate::enumeration::<E>(field, value, false))
        .flatten()
        .map(|e| name(&e).to_string())
        .unwrap_or_default()
}

#[tonic::async_trait]
impl CapacityService for CapacityApi {
    // -------------------------------------------------------------- topics

    async fn create_topic(&self, request: Request<api::CreateTopicRequest>) -> Reply<api::Topic> {
        self.rpc
            .run("CreateTopic", request, |caller, req| async move {
                caller.require(MANAGE)?;
                let empty = api::Topic::default();
                let sent = req.topic.as_ref().unwrap_or(&empty);
                let mut v = Violations::new();
                let code = v.take(domain::parse_code("topic.code", &sent.code));
                let fields = v.absorb("topic", domain::parse_topic("topic", sent));
                v.finish()?;
                let (code, fields) = (code.expect("checked"), fields.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                // First the built-in topics, so that their codes are taken.
                self.seed_in(&mut tx).await?;
                let row = store::insert_topic(&mut tx, &code, &fields).await?;
                tx.commit().await?;
                self.seeded(&caller.tenant);
                Ok(topic_proto(&row))
            })
            .await
    }

    async fn get_topic(&self, request: Request<api::GetTopicRequest>) -> Reply<api::Topic> {
        self.rpc
            .run("GetTopic", request, |caller, req| async move {
                caller.require(READ)?;
                let code = domain::parse_code("code", &req.code)?;
                self.seed(&caller.tenant).await?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let row = store::get_topic(&mut tx, &code)
                    .await?
                    .ok_or_else(|| Error::not_found("topic", &code))?;
                Ok(topic_proto(&row))
            })
            .await
    }

    async fn list_topics(
        &self,
        request: Request<api::ListTopicsRequest>,
    ) -> Reply<api::ListTopicsResponse> {
        self.rpc
            .run("ListTopics", request, |caller, req| async move {
                caller.require(READ)?;
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &req.include_archived.to_string(),
                )?;
                self.seed(&caller.tenant).await?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows =
                    store::list_topics(&mut tx, req.include_archived, &page.after, page.fetch())
                        .await?;
                let next_page_token = page.finish(&mut rows, |r| r.code.clone());
                Ok(api::ListTopicsResponse {
                    topics: rows.iter().map(topic_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn update_topic(&self, request: Request<api::UpdateTopicRequest>) -> Reply<api::Topic> {
        self.rpc
            .run("UpdateTopic", request, |caller, req| async move {
                caller.require(MANAGE)?;
                let empty = api::Topic::default();
                let sent = req.topic.as_ref().unwrap_or(&empty);
                let code = domain::parse_code("topic.code", &sent.code)?;
                let mask = update_mask(req.update_mask.as_ref(), domain::TOPIC_MASK)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                // A built-in topic of a catalogue not seeded yet is as the
                // seed will write it; nothing is written before the merged
                // topic is valid.
                let (current, unseeded) = match store::get_topic(&mut tx, &code).await? {
                    Some(row) => (row, false),
                    None => (
                        built_in_row(&code).ok_or_else(|| Error::not_found("topic", &code))?,
                        true,
                    ),
                };
                check_etag("topic.etag", &sent.etag, current.version)?;
                let mut merged = topic_proto(&current);
                domain::merge_topic(&mut merged, sent, &mask);
                let fields = domain::parse_topic("topic", &merged)?;
                self.seed_in(&mut tx).await?;
                let mut row = store::update_topic(&mut tx, &current, &fields).await?;
                if unseeded {
                    row = store::get_topic(&mut tx, &code)
                        .await?
                        .ok_or_else(|| Error::internal("the topic just seeded is gone"))?;
                }
                tx.commit().await?;
                self.seeded(&caller.tenant);
                Ok(topic_proto(&row))
            })
            .await
    }

    // ------------------------------------------------------------- courses

    async fn create_course(
        &self,
        request: Request<api::CreateCourseRequest>,
    ) -> Reply<api::Course> {
        self.rpc
            .run("CreateCourse", request, |caller, req| async move {
                caller.require(MANAGE)?;
                let empty = api::Course::default();
                let mut v = Violations::new();
                let fields = v.absorb(
                    "course",
                    domain::parse_course("course", req.course.as_ref().unwrap_or(&empty)),
                );
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of("CreateCourse", &caller, &req.request_id, &req),
                );
                v.finish()?;
                let (fields, idempotency) =
                    (fields.expect("checked"), idempotency.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                self.seed_in(&mut tx).await?;
                check_topics(&mut tx, "course.topic_codes", &fields.topic_codes, &[]).await?;
                let id = new_id();
                let row = store::insert_course(&mut tx, &id, &fields).await?;
                tx.publish(&id, &course_event(&row)).await?;
                let reply = course_proto(&row);
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                self.seeded(&caller.tenant);
                tracing::info!(course = %id, "course scheduled");
                Ok(reply)
            })
            .await
    }

    async fn get_course(&self, request: Request<api::GetCourseRequest>) -> Reply<api::Course> {
        self.rpc
            .run("GetCourse", request, |caller, req| async move {
                caller.require(READ)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                Ok(course_proto(&find_course(&mut tx, &id).await?))
            })
            .await
    }

    async fn list_courses(
        &self,
        request: Request<api::ListCoursesRequest>,
    ) -> Reply<api::ListCoursesResponse> {
        self.rpc
            .run("ListCourses", request, |caller, req| async move {
                caller.require(READ)?;
                let mut v = Violations::new();
                let filter = store::CourseFilter {
                    status: enum_name(&mut v, "status", req.status, CourseStatus::as_str_name),
                    kind: enum_name(&mut v, "kind", req.kind, CourseKind::as_str_name),
                    branch_id: optional_slug(&mut v, "branch_id", &req.branch_id),
                    topic: if req.topic_code.is_empty() {
                        String::new()
                    } else {
                        v.take(domain::parse_code("topic_code", &req.topic_code))
                            .map(|c| store::code_pattern(&c))
                            .unwrap_or_default()
                    },
                    audience: enum_name(&mut v, "audience", req.audience, Audience::as_str_name),
                    starts_from: v
                        .absorb(
                            "starts_from",
                            optional_date("starts_from", req.starts_from.as_ref()),
                        )
                        .unwrap_or_default(),
                    starts_until: v
                        .absorb(
                            "starts_until",
                            optional_date("starts_until", req.starts_until.as_ref()),
                        )
                        .unwrap_or_default(),
                    trainer_subject: v
                        .take(validate::line(
                            "trainer_subject",
                            &req.trainer_subject,
                            domain::NAME_MAX,
                            false,
                        ))
                        .unwrap_or_default(),
                };
                v.finish()?;
                let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows =
                    store::list_courses(&mut tx, &filter, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListCoursesResponse {
                    courses: rows.iter().map(course_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn update_course(
        &self,
        request: Request<api::UpdateCourseRequest>,
    ) -> Reply<api::Course> {
        self.rpc
            .run("UpdateCourse", request, |caller, req| async move {
                caller.require(MANAGE)?;
                let empty = api::Course::default();
                let sent = req.course.as_ref().unwrap_or(&empty);
                let id = parse_id("course.id", &sent.id)?;
                let mask = update_mask(req.update_mask.as_ref(), domain::COURSE_MASK)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = lock_and_find_course(&mut tx, &id).await?;
                check_etag("course.etag", &sent.etag, current.version)?;
                let mut merged = course_proto(&current);
                domain::merge_course(&mut merged, sent, &mask);
                let fields = domain::parse_course("course", &merged)?;
                self.seed_in(&mut tx).await?;
                check_topics(
                    &mut tx,
                    "course.topic_codes",
                    &fields.topic_codes,
                    &current.fields.topic_codes,
                )
                .await?;
                let changed = domain::changed_fields(&current.fields, &fields);
                if changed.is_empty() {
                    return Ok(course_proto(&current));
                }
                domain::check_course_update(current.status, &changed)?;
                if i64::from(fields.capacity) < current.enrolled {
                    return Err(Error::precondition(
                        "CAPACITY_BELOW_ENROLLED",
                        format!("courses/{id}"),
                        format!(
                            "{} participants hold a place; the capacity cannot go below that",
                            current.enrolled
                        ),
                    ));
                }
                if changed.contains(&"audience") && current.enrolled + current.waitlisted > 0 {
                    return Err(Error::precondition(
                        "AUDIENCE_FIXED",
                        format!("courses/{id}"),
                        "the audience cannot change once people have enrolled",
                    ));
                }
                let row = store::update_course(&mut tx, &current, &fields).await?;
                if fields.capacity > current.fields.capacity {
                    promote(&mut tx, &id, fields.capacity).await?;
                }
                tx.publish(&id, &course_event(&row)).await?;
                let row = find_course(&mut tx, &id).await?;
                tx.commit().await?;
                self.seeded(&caller.tenant);
                Ok(course_proto(&row))
            })
            .await
    }

    async fn open_course(&self, request: Request<api::OpenCourseRequest>) -> Reply<api::Course> {
        self.rpc
            .run("OpenCourse", request, |caller, req| async move {
                self.move_course(&caller, &req.id, &req.etag, CourseStatus::Open, "")
                    .await
            })
            .await
    }

    async fn start_course(&self, request: Request<api::StartCourseRequest>) -> Reply<api::Course> {
        self.rpc
            .run("StartCourse", request, |caller, req| async move {
                self.move_course(&caller, &req.id, &req.etag, CourseStatus::Running, "")
                    .await
            })
            .await
    }

    async fn complete_course(
        &self,
        request: Request<api::CompleteCourseRequest>,
    ) -> Reply<api::Course> {
        self.rpc
            .run("CompleteCourse", request, |caller, req| async move {
                self.move_course(&caller, &req.id, &req.etag, CourseStatus::Completed, "")
                    .await
            })
            .await
    }

    async fn cancel_course(
        &self,
        request: Request<api::CancelCourseRequest>,
    ) -> Reply<api::Course> {
        self.rpc
            .run("CancelCourse", request, |caller, req| async move {
                self.move_course(
                    &caller,
                    &req.id,
                    &req.etag,
                    CourseStatus::Cancelled,
                    &req.reason,
                )
                .await
            })
            .await
    }

    // ---------------------------------------------------------- enrolments

    async fn enrol_participant(
        &self,
        request: Request<api::EnrolParticipantRequest>,
    ) -> Reply<api::Enrolment> {
        self.rpc
            .run("EnrolParticipant", request, |caller, req| async move {
                caller.require(PARTNERS)?;
                let mut v = Violations::new();
                let course_id = v.take(parse_id("course_id", &req.course_id));
                let person_id = v.take(parse_id("person_id", &req.person_id));
                let organization_id = v.absorb(
                    "organization_id",
                    optional_id("organization_id", &req.organization_id),
                );
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of("EnrolParticipant", &caller, &req.request_id, &req),
                );
                v.finish()?;
                let (course_id, person_id, organization_id, idempotency) = (
                    course_id.expect("checked"),
                    person_id.expect("checked"),
                    organization_id.expect("checked"),
                    idempotency.expect("checked"),
                );
                // A partner enrols members of its own organization, as such.
                let partner = partner_org(&caller);
                let organization_id = match partner {
                    None => organization_id,
                    Some("") => {
                        return Err(Error::permission_denied("the token names no organization"));
                    }
                    Some(own) if organization_id.is_empty() || organization_id == own => {
                        own.to_string()
                    }
                    Some(_) => return Err(Error::not_found("organization", organization_id)),
                };

                let mut tx = self.db.write(&caller.tenant).await?;
                // Rights first, before a retry is answered: a partner enrols
                // only those affiliated with it now.
                let affiliated = !organization_id.is_empty()
                    && store::is_affiliated(&mut tx, &person_id, &organization_id).await?;
                if partner.is_some() && !affiliated {
                    return Err(Error::not_found("person", &person_id));
                }
                // Every enrolment of a course waits here for the one before.
                let course = store::lock_course(&mut tx, &course_id)
                    .await?
                    .ok_or_else(|| Error::not_found("course", &course_id))?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                if course.status != CourseStatus::Open {
                    return Err(Error::precondition(
                        "COURSE_NOT_OPEN",
                        format!("courses/{course_id}"),
                        format!(
                            "enrolment is taken while a course is open; this one is {}",
                            domain::course_status_word(course.status)
                        ),
                    ));
                }
                let person = store::get_person(&mut tx, &person_id)
                    .await?
                    .ok_or_else(|| not_known("PERSON_NOT_KNOWN", "person", &person_id))?;
                if person.erased {
                    return Err(Error::precondition(
                        "PERSON_ERASED",
                        format!("people/{person_id}"),
                        "this person was erased and cannot be enrolled",
                    ));
                }
                let incubation = if organization_id.is_empty() {
                    None
                } else {
                    let org = store::get_organization(&mut tx, &organization_id)
                        .await?
                        .ok_or_else(|| {
                            not_known("ORGANIZATION_NOT_KNOWN", "organization", &organization_id)
                        })?;
                    if !affiliated {
                        return Err(Error::precondition(
                            "NOT_AFFILIATED",
                            format!("people/{person_id}"),
                            "the person is not (or not yet known to be) affiliated with the organization",
                        ));
                    }
                    Some(org.incubation_status)
                };
                domain::check_audience(course.audience, incubation)?;
                if store::has_active_enrolment(&mut tx, &course_id, &person_id).await? {
                    return Err(Error::AlreadyExists(
                        "the person is already enrolled in (or waiting for) this course".into(),
                    ));
                }
                let enrolled = store::count_enrolled(&mut tx, &course_id).await?;
                let status = domain::placement(enrolled, course.capacity);
                let id = new_id();
                store::insert_enrolment(
                    &mut tx,
                    &store::NewEnrolment {
                        id: &id,
                        course_id: &course_id,
                        person: &person,
                        organization_id: &organization_id,
                        status,
                        queue_seq: course.serial,
                        enrolled_by: &caller.subject,
                    },
                )
                .await?;
                let row = store::get_enrolment(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::internal("the enrolment just made is gone"))?;
                tx.publish(&id, &enrolled_event(&row)).await?;
                let reply = enrolment_proto(&row);
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_enrolment(
        &self,
        request: Request<api::GetEnrolmentRequest>,
    ) -> Reply<api::Enrolment> {
        self.rpc
            .run("GetEnrolment", request, |caller, req| async move {
                caller.require(READ)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let row = store::get_enrolment(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("enrolment", &id))?;
                if !may_see_enrolment(&mut tx, &caller, &row).await? {
                    return Err(Error::not_found("enrolment", &id));
                }
                Ok(enrolment_proto(&row))
            })
            .await
    }

    async fn list_enrolments(
        &self,
        request: Request<api::ListEnrolmentsRequest>,
    ) -> Reply<api::ListEnrolmentsResponse> {
        self.rpc
            .run("ListEnrolments", request, |caller, req| async move {
                caller.require(READ)?;
                let mut v = Violations::new();
                let mut filter = store::EnrolmentFilter {
                    course_id: v
                        .absorb("course_id", optional_id("course_id", &req.course_id))
                        .unwrap_or_default(),
                    person_id: v
                        .absorb("person_id", optional_id("person_id", &req.person_id))
                        .unwrap_or_default(),
                    organization_id: v
                        .absorb(
                            "organization_id",
                            optional_id("organization_id", &req.organization_id),
                        )
                        .unwrap_or_default(),
                    status: enum_name(&mut v, "status", req.status, EnrolmentStatus::as_str_name),
                    trainer_subject: String::new(),
                };
                v.finish()?;
                let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
                let Some(organization_id) =
                    organization_filter(&caller, std::mem::take(&mut filter.organization_id))
                else {
                    return Ok(api::ListEnrolmentsResponse::default());
                };
                filter.organization_id = organization_id;
                if trainer_only(&caller) {
                    filter.trainer_subject = caller.subject.clone();
                    if filter.trainer_subject.is_empty() {
                        return Ok(api::ListEnrolmentsResponse::default());
                    }
                }
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows =
                    store::list_enrolments(&mut tx, &filter, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListEnrolmentsResponse {
                    enrolments: rows.iter().map(enrolment_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn cancel_enrolment(
        &self,
        request: Request<api::CancelEnrolmentRequest>,
    ) -> Reply<api::Enrolment> {
        self.rpc
            .run("CancelEnrolment", request, |caller, req| async move {
                caller.require(PARTNERS)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("id", &req.id));
                let reason = v.take(validate::line(
                    "reason",
                    &req.reason,
                    domain::MARK_NOTE_MAX,
                    false,
                ));
                v.finish()?;
                let (id, reason) = (id.expect("checked"), reason.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = store::get_enrolment(&mut tx, &id)
                    .await?
                    .filter(|e| may_see_org(&caller, &e.organization_id))
                    .ok_or_else(|| Error::not_found("enrolment", &id))?;
                let course = store::lock_course(&mut tx, &current.course_id)
                    .await?
                    .ok_or_else(|| Error::internal("an enrolment's course is gone"))?;
                // Read again under the course's lock: a promotion may have
                // moved it meanwhile.
                let current = store::get_enrolment(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("enrolment", &id))?;
                if current.status == EnrolmentStatus::Cancelled {
                    return Ok(enrolment_proto(&current));
                }
                if matches!(
                    course.status,
                    CourseStatus::Completed | CourseStatus::Cancelled
                ) {
                    return Err(Error::precondition(
                        "COURSE_CLOSED",
                        format!("courses/{}", current.course_id),
                        format!(
                            "the course is {}; its enrolments are kept as they were",
                            domain::course_status_word(course.status)
                        ),
                    ));
                }
                store::set_enrolment_status(&mut tx, &id, EnrolmentStatus::Cancelled, &reason)
                    .await?;
                let was_enrolled = current.status == EnrolmentStatus::Enrolled;
                tx.publish(
                    &id,
                    &ev::EnrolmentCancelled {
                        course_id: current.course_id.clone(),
                        enrolment_id: id.clone(),
                        person_id: current.person_id.clone(),
                        organization_id: current.organization_id.clone(),
                        was_enrolled,
                    },
                )
                .await?;
                if was_enrolled {
                    promote(&mut tx, &current.course_id, course.capacity).await?;
                }
                let row = store::get_enrolment(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::internal("the enrolment just cancelled is gone"))?;
                tx.commit().await?;
                Ok(enrolment_proto(&row))
            })
            .await
    }

    // ---------------------------------------------------------- attendance

    async fn record_attendance(
        &self,
        request: Request<api::RecordAttendanceRequest>,
    ) -> Reply<api::SessionAttendance> {
        self.rpc
            .run("RecordAttendance", request, |caller, req| async move {
                caller.require(TEACH)?;
                let mut v = Violations::new();
                let course_id = v.take(parse_id("course_id", &req.course_id));
                let session_id = v.take(parse_id("session_id", &req.session_id));
                let marks = v.absorb("marks", domain::parse_marks(&req.marks));
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of("RecordAttendance", &caller, &req.request_id, &req),
                );
                v.finish()?;
                let (course_id, session_id, marks, idempotency) = (
                    course_id.expect("checked"),
                    session_id.expect("checked"),
                    marks.expect("checked"),
                    idempotency.expect("checked"),
                );
                let mut tx = self.db.write(&caller.tenant).await?;
                // Rights first, before the course is locked or a retry
                // answered: a trainer taken off the course gets nothing back.
                find_course(&mut tx, &course_id).await?;
                require_teaching(&mut tx, &caller, &course_id).await?;
                let course = lock_and_find_course(&mut tx, &course_id).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                let session = session_of(&course, &session_id)?;
                if course.status != CourseStatus::Running {
                    return Err(not_running(&course));
                }
                if session.date > Date::today().add_days(1) {
                    return Err(Error::precondition(
                        "SESSION_NOT_HELD",
                        format!("sessions/{session_id}"),
                        format!("the session of {} has not taken place yet", session.date),
                    ));
                }
                let enrolled = enrolled_of(&mut tx, &course_id).await?;
                let mut v = Violations::new();
                for (i, m) in marks.iter().enumerate() {
                    if !enrolled.contains_key(&m.enrolment_id) {
                        v.add(
                            format!("marks[{i}].enrolment_id"),
                            "not a participant holding a place in this course",
                        );
                    }
                }
                v.finish()?;
                let current: HashMap<String, MarkRow> = store::session_marks(&mut tx, &session_id)
                    .await?
                    .into_iter()
                    .map(|m| (m.enrolment_id.clone(), m))
                    .collect();
                let states = current
                    .iter()
                    .map(|(k, m)| (k.clone(), (m.status, m.note.clone())))
                    .collect();
                let changed = domain::changed_marks(&states, &marks);
                for m in &changed {
                    let revision = current.get(&m.enrolment_id).map_or(1, |c| c.revision + 1);
                    store::write_mark(
                        &mut tx,
                        &course_id,
                        &session_id,
                        m,
                        revision,
                        &caller.subject,
                    )
                    .await?;
                }
                let reply = session_attendance(&mut tx, &course, session, &enrolled).await?;
                if !changed.is_empty() {
                    tx.publish(
                        &session_id,
                        &ev::AttendanceRecorded {
                            course_id: course_id.clone(),
                            session_id: session_id.clone(),
                            session_date: Some(session.date.to_proto()),
                            present: reply.present,
                            absent: reply.absent + reply.excused,
                        },
                    )
                    .await?;
                }
                idempotency.remember(&mut tx, &session_id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_session_attendance(
        &self,
        request: Request<api::GetSessionAttendanceRequest>,
    ) -> Reply<api::SessionAttendance> {
        self.rpc
            .run("GetSessionAttendance", request, |caller, req| async move {
                caller.require(TEACH)?;
                let mut v = Violations::new();
                let course_id = v.take(parse_id("course_id", &req.course_id));
                let session_id = v.take(parse_id("session_id", &req.session_id));
                v.finish()?;
                let (course_id, session_id) =
                    (course_id.expect("checked"), session_id.expect("checked"));
                let mut tx = self.db.read(&caller.tenant).await?;
                let course = find_course(&mut tx, &course_id).await?;
                require_teaching(&mut tx, &caller, &course_id).await?;
                let session = session_of(&course, &session_id)?;
                let enrolled = enrolled_of(&mut tx, &course_id).await?;
                session_attendance(&mut tx, &course, session, &enrolled).await
            })
            .await
    }

    async fn list_attendance_revisions(
        &self,
        request: Request<api::ListAttendanceRevisionsRequest>,
    ) -> Reply<api::ListAttendanceRevisionsResponse> {
        self.rpc
            .run(
                "ListAttendanceRevisions",
                request,
                |caller, req| async move {
                    caller.require(TEACH)?;
                    let mut v = Violations::new();
                    let course_id = v.take(parse_id("course_id", &req.course_id));
                    let session_id = v.take(parse_id("session_id", &req.session_id));
                    let enrolment_id = v.absorb(
                        "enrolment_id",
                        optional_id("enrolment_id", &req.enrolment_id),
                    );
                    v.finish()?;
                    let (course_id, session_id, enrolment_id) = (
                        course_id.expect("checked"),
                        session_id.expect("checked"),
                        enrolment_id.expect("checked"),
                    );
                    let page = Page::parse(
                        req.page_size,
                        &req.page_token,
                        &format!("{course_id}|{session_id}|{enrolment_id}"),
                    )?;
                    let mut tx = self.db.read(&caller.tenant).await?;
                    let course = find_course(&mut tx, &course_id).await?;
                    require_teaching(&mut tx, &caller, &course_id).await?;
                    session_of(&course, &session_id)?;
                    let mut rows = store::list_revisions(
                        &mut tx,
                        &session_id,
                        &enrolment_id,
                        &page.after,
                        page.fetch(),
                    )
                    .await?;
                    let next_page_token = page.finish(&mut rows, |(key, _)| key.clone());
                    Ok(api::ListAttendanceRevisionsResponse {
                        revisions: rows.iter().map(|(_, m)| mark_proto(m)).collect(),
                        next_page_token,
                    })
                },
            )
            .await
    }

    async fn record_test_scores(
        &self,
        request: Request<api::RecordTestScoresRequest>,
    ) -> Reply<api::RecordTestScoresResponse> {
        self.rpc
            .run("RecordTestScores", request, |caller, req| async move {
                caller.require(TEACH)?;
                let mut v = Violations::new();
                let course_id = v.take(parse_id("course_id", &req.course_id));
                let scores = v.absorb("scores", domain::parse_scores(req.kind, &req.scores));
                v.finish()?;
                let (course_id, (kind, scores)) =
                    (course_id.expect("checked"), scores.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                find_course(&mut tx, &course_id).await?;
                require_teaching(&mut tx, &caller, &course_id).await?;
                let course = lock_and_find_course(&mut tx, &course_id).await?;
                if !matches!(
                    course.status,
                    CourseStatus::Running | CourseStatus::Completed
                ) {
                    return Err(not_running(&course));
                }
                let enrolled = enrolled_of(&mut tx, &course_id).await?;
                let mut v = Violations::new();
                for (i, s) in scores.iter().enumerate() {
                    if !enrolled.contains_key(&s.enrolment_id) {
                        v.add(
                            format!("scores[{i}].enrolment_id"),
                            "not a participant holding a place in this course",
                        );
                    }
                }
                v.finish()?;
                let mut enrolments = Vec::with_capacity(scores.len());
                for s in &scores {
                    store::set_score(&mut tx, &s.enrolment_id, kind, s.score).await?;
                    let row = store::get_enrolment(&mut tx, &s.enrolment_id)
                        .await?
                        .ok_or_else(|| Error::internal("a scored enrolment is gone"))?;
                    enrolments.push(enrolment_proto(&row));
                }
                tx.commit().await?;
                Ok(api::RecordTestScoresResponse { enrolments })
            })
            .await
    }

    // -------------------------------------------------------- certificates

    async fn list_certificates(
        &self,
        request: Request<api::ListCertificatesRequest>,
    ) -> Reply<api::ListCertificatesResponse> {
        self.rpc
            .run("ListCertificates", request, |caller, req| async move {
                caller.require(PARTNERS)?;
                let mut v = Violations::new();
                let course_id = v.absorb("course_id", optional_id("course_id", &req.course_id));
                let person_id = v.absorb("person_id", optional_id("person_id", &req.person_id));
                let organization_id = v.absorb(
                    "organization_id",
                    optional_id("organization_id", &req.organization_id),
                );
                v.finish()?;
                let (course_id, person_id, organization_id) = (
                    course_id.expect("checked"),
                    person_id.expect("checked"),
                    organization_id.expect("checked"),
                );
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!("{course_id}|{person_id}|{organization_id}"),
                )?;
                let Some(organization_id) = organization_filter(&caller, organization_id) else {
                    return Ok(api::ListCertificatesResponse::default());
                };
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows = store::list_certificates(
                    &mut tx,
                    &course_id,
                    &person_id,
                    &organization_id,
                    &page.after,
                    page.fetch(),
                )
                .await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListCertificatesResponse {
                    certificates: rows.iter().map(certificate_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn revoke_certificate(
        &self,
        request: Request<api::RevokeCertificateRequest>,
    ) -> Reply<api::Certificate> {
        self.rpc
            .run("RevokeCertificate", request, |caller, req| async move {
                caller.require(MANAGE)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("id", &req.id));
                let reason = v.take(validate::prose(
                    "reason",
                    &req.reason,
                    domain::PROSE_MAX,
                    true,
                ));
                v.finish()?;
                let (id, reason) = (id.expect("checked"), reason.expect("checked"));
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = store::get_certificate(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("certificate", &id))?;
                if current.revoked_at.is_some() {
                    return Err(Error::precondition(
                        "CERTIFICATE_REVOKED",
                        format!("certificates/{id}"),
                        "the certificate was revoked already",
                    ));
                }
                let row = store::revoke_certificate(&mut tx, &current, &reason).await?;
                tx.publish(
                    &id,
                    &ev::CertificateRevoked {
                        certificate_id: id.clone(),
                        code: row.code.clone(),
                        course_id: row.course_id.clone(),
                        person_id: row.person_id.clone(),
                        organization_id: row.organization_id.clone(),
                        reason,
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(certificate_proto(&row))
            })
            .await
    }

    async fn verify_certificate(
        &self,
        request: Request<api::VerifyCertificateRequest>,
    ) -> Reply<api::CertificateVerification> {
        self.rpc
            .run_public("VerifyCertificate", request, |anonymous, req| async move {
                self.limit(
                    "verify",
                    &client_of(&anonymous),
                    limits::VERIFICATIONS_PER_CLIENT,
                )?;
                let (tenant, code) = domain::parse_certificate_code("code", &req.code)?;
                let mut tx = self.db.read(&tenant).await?;
                let row = store::certificate_by_code(&mut tx, &code)
                    .await?
                    .ok_or_else(|| Error::not_found("certificate", &code))?;
                Ok(verification_proto(&tenant, &row))
            })
            .await
    }

    // ------------------------------------------------------- consultations

    async fn create_consultation(
        &self,
        request: Request<api::CreateConsultationRequest>,
    ) -> Reply<api::Consultation> {
        self.rpc
            .run("CreateConsultation", request, |caller, req| async move {
                caller.require(MANAGE)?;
                let empty = api::Consultation::default();
                let mut v = Violations::new();
                let fields = v.absorb(
                    "consultation",
                    domain::parse_consultation(
                        "consultation",
                        req.consultation.as_ref().unwrap_or(&empty),
                    ),
                );
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of("CreateConsultation", &caller, &req.request_id, &req),
                );
                v.finish()?;
                let (mut fields, idempotency) =
                    (fields.expect("checked"), idempotency.expect("checked"));
                // Actions are new on create, whatever ids they came with.
                for a in &mut fields.actions {
                    a.id = None;
                }
                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                self.seed_in(&mut tx).await?;
                check_topics(
                    &mut tx,
                    "consultation.topic_codes",
                    &fields.topic_codes,
                    &[],
                )
                .await?;
                let attendees = consultation_people(&mut tx, &fields, None).await?;
                let id = new_id();
                let row =
                    store::insert_consultation(&mut tx, &id, &fields, &attendees, &caller.subject)
                        .await?;
                tx.publish(&id, &consultation_event(&row)).await?;
                let reply = consultation_proto(&row);
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                self.seeded(&caller.tenant);
                Ok(reply)
            })
            .await
    }

    async fn get_consultation(
        &self,
        request: Request<api::GetConsultationRequest>,
    ) -> Reply<api::Consultation> {
        self.rpc
            .run("GetConsultation", request, |caller, req| async move {
                caller.require(PARTNERS)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let row = store::get_consultation(&mut tx, &id)
                    .await?
                    .filter(|c| may_see_org(&caller, &c.fields.organization_id))
                    .ok_or_else(|| Error::not_found("consultation", &id))?;
                Ok(consultation_proto(&row))
            })
            .await
    }

    async fn list_consultations(
        &self,
        request: Request<api::ListConsultationsRequest>,
    ) -> Reply<api::ListConsultationsResponse> {
        self.rpc
            .run("ListConsultations", request, |caller, req| async move {
                caller.require(PARTNERS)?;
                let mut v = Violations::new();
                let mut filter = store::ConsultationFilter {
                    organization_id: v
                        .absorb(
                            "organization_id",
                            optional_id("organization_id", &req.organization_id),
                        )
                        .unwrap_or_default(),
                    kind: enum_name(&mut v, "kind", req.kind, ConsultationKind::as_str_name),
                    branch_id: optional_slug(&mut v, "branch_id", &req.branch_id),
                    held_from: v
                        .absorb(
                            "held_from",
                            optional_date("held_from", req.held_from.as_ref()),
                        )
                        .unwrap_or_default(),
                    held_until: v
                        .absorb(
                            "held_until",
                            optional_date("held_until", req.held_until.as_ref()),
                        )
                        .unwrap_or_default(),
                };
                v.finish()?;
                let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
                let Some(organization_id) =
                    organization_filter(&caller, std::mem::take(&mut filter.organization_id))
                else {
                    return Ok(api::ListConsultationsResponse::default());
                };
                filter.organization_id = organization_id;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows =
                    store::list_consultations(&mut tx, &filter, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListConsultationsResponse {
                    consultations: rows.iter().map(consultation_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn update_consultation(
        &self,
        request: Request<api::UpdateConsultationRequest>,
    ) -> Reply<api::Consultation> {
        self.rpc
            .run("UpdateConsultation", request, |caller, req| async move {
                caller.require(MANAGE)?;
                let empty = api::Consultation::default();
                let sent = req.consultation.as_ref().unwrap_or(&empty);
                let id = parse_id("consultation.id", &sent.id)?;
                let mask = update_mask(req.update_mask.as_ref(), domain::CONSULTATION_MASK)?;
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = store::get_consultation(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("consultation", &id))?;
                check_etag("consultation.etag", &sent.etag, current.version)?;
                let mut merged = consultation_proto(&current);
                domain::merge_consultation(&mut merged, sent, &mask);
                let fields = domain::parse_consultation("consultation", &merged)?;
                let mut v = Violations::new();
                for (i, a) in fields.actions.iter().enumerate() {
                    if let Some(action_id) = &a.id
                        && !current
                            .fields
                            .actions
                            .iter()
                            .any(|x| x.id.as_ref() == Some(action_id))
                    {
                        v.add(
                            format!("consultation.follow_up_actions[{i}].id"),
                            "not an action of this consultation; leave it empty for a new one",
                        );
                    }
                }
                v.finish()?;
                self.seed_in(&mut tx).await?;
                check_topics(
                    &mut tx,
                    "consultation.topic_codes",
                    &fields.topic_codes,
                    &current.fields.topic_codes,
                )
                .await?;
                let attendees = consultation_people(&mut tx, &fields, Some(&current)).await?;
                let row =
                    store::update_consultation(&mut tx, &current, &fields, &attendees).await?;
                tx.publish(&id, &consultation_event(&row)).await?;
                tx.commit().await?;
                self.seeded(&caller.tenant);
                Ok(consultation_proto(&row))
            })
            .await
    }

    async fn list_follow_up_actions(
        &self,
        request: Request<api::ListFollowUpActionsRequest>,
    ) -> Reply<api::ListFollowUpActionsResponse> {
        self.rpc
            .run("ListFollowUpActions", request, |caller, req| async move {
                caller.require(PARTNERS)?;
                let mut v = Violations::new();
                let due_until = v.absorb(
                    "due_until",
                    optional_date("due_until", req.due_until.as_ref()),
                );
                let organization_id = v.absorb(
                    "organization_id",
                    optional_id("organization_id", &req.organization_id),
                );
                v.finish()?;
                let (due_until, organization_id) = (
                    due_until.expect("checked"),
                    organization_id.expect("checked"),
                );
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!("{}|{due_until}|{organization_id}", req.include_done),
                )?;
                let Some(organization_id) = organization_filter(&caller, organization_id) else {
                    return Ok(api::ListFollowUpActionsResponse::default());
                };
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows = store::list_actions(
                    &mut tx,
                    req.include_done,
                    &due_until,
                    &organization_id,
                    &page.after,
                    page.fetch(),
                )
                .await?;
                let next_page_token = page.finish(&mut rows, |r| r.key.clone());
                Ok(api::ListFollowUpActionsResponse {
                    actions: rows
                        .iter()
                        .map(|r| api::FollowUpAction {
                            consultation_id: r.consultation_id.clone(),
                            organization_id: r.organization_id.clone(),
                            ..action_proto(&r.action)
                        })
                        .collect(),
                    next_page_token,
                })
            })
            .await
    }

    // --------------------------------------------------------- suggestions

    async fn suggest_training(
        &self,
        request: Request<api::SuggestTrainingRequest>,
    ) -> Reply<api::SuggestTrainingResponse> {
        self.rpc
            .run_public("SuggestTraining", request, |anonymous, req| async move {
                self.limit(
                    "suggest/client",
                    &client_of(&anonymous),
                    limits::SUGGESTIONS_PER_CLIENT,
                )?;
                if req.encoded_len() > domain::SUGGESTION_BYTES_MAX {
                    return Err(Error::invalid(
                        "suggestion",
                        format!("at most {} KiB in all", domain::SUGGESTION_BYTES_MAX / 1024),
                    ));
                }
                let mut v = Violations::new();
                let tenant = v.take(validate::slug("tenant_id", &req.tenant_id, 40));
                let fields = v.absorb(
                    "suggestion",
                    domain::parse_suggestion(req.suggestion.as_ref()),
                );
                v.finish()?;
                let (tenant, fields) = (tenant.expect("checked"), fields.expect("checked"));
                let mut tx = self.db.read(&tenant).await?;
                let known = store::tenant_known(&mut tx).await?;
                tx.rollback().await?;
                if !known {
                    return Err(Error::not_found("center", &tenant));
                }
                let mut tx = self.db.write(&tenant).await?;
                self.seed_in(&mut tx).await?;
                check_topics(&mut tx, "suggestion.topic_codes", &fields.topic_codes, &[]).await?;
                // Only a suggestion the center takes counts against its quota:
                // refused attempts (an unknown center, bad input) are limited
                // per address above and cannot use up the center's form.
                self.limit("suggest/center", &tenant, limits::SUGGESTIONS_PER_CENTER)?;
                let row = store::insert_suggestion(&mut tx, &new_id(), &fields).await?;
                tx.commit().await?;
                self.seeded(&tenant);
                tracing::info!(tenant = %tenant, suggestion = %row.id, "training suggested");
                Ok(api::SuggestTrainingResponse {
                    id: row.id,
                    create_time: Some(timestamp(row.created_at)),
                })
            })
            .await
    }

    async fn list_training_suggestions(
        &self,
        request: Request<api::ListTrainingSuggestionsRequest>,
    ) -> Reply<api::ListTrainingSuggestionsResponse> {
        self.rpc
            .run(
                "ListTrainingSuggestions",
                request,
                |caller, req| async move {
                    caller.require(MANAGE)?;
                    let mut v = Violations::new();
                    let status =
                        enum_name(&mut v, "status", req.status, SuggestionStatus::as_str_name);
                    v.finish()?;
                    let page = Page::parse(req.page_size, &req.page_token, &status)?;
                    let mut tx = self.db.read(&caller.tenant).await?;
                    let mut rows =
                        store::list_suggestions(&mut tx, &status, &page.after, page.fetch())
                            .await?;
                    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                    Ok(api::ListTrainingSuggestionsResponse {
                        suggestions: rows.iter().map(suggestion_proto).collect(),
                        next_page_token,
                    })
                },
            )
            .await
    }

    async fn triage_training_suggestion(
        &self,
        request: Request<api::TriageTrainingSuggestionRequest>,
    ) -> Reply<api::TrainingSuggestion> {
        self.rpc
            .run(
                "TriageTrainingSuggestion",
                request,
                |caller, req| async move {
                    caller.require(MANAGE)?;
                    let mut v = Violations::new();
                    let id = v.take(parse_id("id", &req.id));
                    let status = v
                        .take(validate::enumeration::<SuggestionStatus>(
                            "status", req.status, true,
                        ))
                        .flatten();
                    let note = v.take(validate::prose(
                        "note",
                        &req.note,
                        domain::SUGGESTION_TEXT_MAX,
                        false,
                    ));
                    let course_id = if status == Some(SuggestionStatus::Scheduled) {
                        v.take(parse_id("course_id", &req.course_id))
                    } else {
                        Some(String::new())
                    };
                    v.finish()?;
                    let (id, status, note, course_id) = (
                        id.expect("checked"),
                        status.expect("checked"),
                        note.expect("checked"),
                        course_id.expect("checked"),
                    );
                    let mut tx = self.db.write(&caller.tenant).await?;
                    let current = store::get_suggestion(&mut tx, &id)
                        .await?
                        .ok_or_else(|| Error::not_found("suggestion", &id))?;
                    check_etag("etag", &req.etag, current.version)?;
                    domain::check_triage(current.status, status)?;
                    if !course_id.is_empty()
                        && store::get_course(&mut tx, &course_id).await?.is_none()
                    {
                        return Err(Error::invalid(
                            "course_id",
                            format!("no course '{course_id}' in this tenant"),
                        ));
                    }
                    let row = store::triage_suggestion(
                        &mut tx,
                        &current,
                        status,
                        &note,
                        &caller.subject,
                        &course_id,
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(suggestion_proto(&row))
                },
            )
            .await
    }

    // ----------------------------------------------------- recommendations

    async fn recommend_courses(
        &self,
        request: Request<api::RecommendCoursesRequest>,
    ) -> Reply<api::RecommendCoursesResponse> {
        self.rpc
            .run("RecommendCourses", request, |caller, req| async move {
                caller.require(PARTNERS)?;
                let mut v = Violations::new();
                let organization_id = v.take(parse_id("organization_id", &req.organization_id));
                let max = match req.max_results {
                    0 => domain::DEFAULT_RECOMMENDATIONS,
                    n if (1..=domain::MAX_RECOMMENDATIONS).contains(&n) => n,
                    _ => {
                        v.add(
                            "max_results",
                            format!("from 1 to {}", domain::MAX_RECOMMENDATIONS),
                        );
                        0
                    }
                };
                v.finish()?;
                let organization_id = organization_id.expect("checked");
                if !may_see_org(&caller, &organization_id) {
                    return Err(Error::not_found("organization", &organization_id));
                }
                self.seed(&caller.tenant).await?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let org = store::get_organization(&mut tx, &organization_id)
                    .await?
                    .ok_or_else(|| {
                        not_known("ORGANIZATION_NOT_KNOWN", "organization", &organization_id)
                    })?;
                let assessment = store::latest_assessment(&mut tx, &organization_id)
                    .await?
                    .ok_or_else(|| {
                        Error::precondition(
                            "NO_ASSESSMENT",
                            format!("organizations/{organization_id}"),
                            "no capacity assessment of this organization has reached capacity \
                             building yet",
                        )
                    })?;
                let open = store::list_courses(
                    &mut tx,
                    &store::CourseFilter {
                        status: CourseStatus::Open.as_str_name().into(),
                        ..Default::default()
                    },
                    "",
                    i64::from(domain::MAX_CAPACITY) * 10,
                )
                .await?;
                let catalogue = store::catalogue(&mut tx).await?;
                let eligible: Vec<&CourseRow> = open
                    .iter()
                    .filter(|c| {
                        domain::check_audience(c.fields.audience, Some(org.incubation_status))
                            .is_ok()
                    })
                    .collect();
                let candidates: Vec<domain::Candidate> = eligible
                    .iter()
                    .map(|c| domain::Candidate {
                        id: c.id.clone(),
                        domains: c
                            .fields
                            .topic_codes
                            .iter()
                            .filter_map(|code| catalogue.get(code))
                            .flat_map(|t| t.fields.domains.iter().copied())
                            .collect(),
                        start: c.fields.start(),
                    })
                    .collect();
                let ranked = domain::rank_courses(&assessment.scores, &candidates);
                Ok(api::RecommendCoursesResponse {
                    assessment_id: assessment.assessment_id.clone(),
                    assessed_on: Some(assessment.assessed_on.to_proto()),
                    weakest_domains: domain::weakest_domains(&assessment.scores)
                        .into_iter()
                        .map(|(d, s)| api::DomainScore {
                            domain: d as i32,
                            score: s,
                        })
                        .collect(),
                    recommendations: ranked
                        .into_iter()
                        .take(max as usize)
                        .map(|r| api::CourseRecommendation {
                            course: Some(course_proto(eligible[r.index])),
                            covered_domains: r.covered.iter().map(|d| *d as i32).collect(),
                            relevance: r.relevance,
                        })
                        .collect(),
                })
            })
            .await
    }

    // ------------------------------------------------------------- reports

    async fn get_course_report(
        &self,
        request: Request<api::GetCourseReportRequest>,
    ) -> Reply<api::CourseReport> {
        self.rpc
            .run("GetCourseReport", request, |caller, req| async move {
                caller.require(TEACH)?;
                let id = parse_id("course_id", &req.course_id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let course = find_course(&mut tx, &id).await?;
                require_teaching(&mut tx, &caller, &id).await?;
                let enrolments = store::course_enrolments(&mut tx, &id).await?;
                let marks = store::course_marks(&mut tx, &id).await?;
                Ok(course_report(&course, &enrolments, &marks))
            })
            .await
    }

    async fn get_activity_report(
        &self,
        request: Request<api::GetActivityReportRequest>,
    ) -> Reply<api::ActivityReport> {
        self.rpc
            .run("GetActivityReport", request, |caller, req| async move {
                caller.require(MANAGE)?;
                let mut v = Violations::new();
                let from = v.take(Date::optional("from", req.from.as_ref())).flatten();
                let until = v
                    .take(Date::optional("until", req.until.as_ref()))
                    .flatten();
                if let (Some(f), Some(u)) = (from, until)
                    && f > u
                {
                    v.add("until", "before `from`");
                }
                let branch_id = optional_slug(&mut v, "branch_id", &req.branch_id);
                v.finish()?;
                let (from_text, until_text) = (
                    from.map(|d| d.to_string()).unwrap_or_default(),
                    until.map(|d| d.to_string()).unwrap_or_default(),
                );
                let mut tx = self.db.read(&caller.tenant).await?;
                let courses =
                    store::completed_courses(&mut tx, &from_text, &until_text, &branch_id).await?;
                let participations =
                    store::participations(&mut tx, &from_text, &until_text, &branch_id).await?;
                let certificates =
                    store::count_certificates(&mut tx, &from_text, &until_text, &branch_id).await?;
                let consultations =
                    store::consultations_held(&mut tx, &from_text, &until_text, &branch_id).await?;
                let mut report = activity_report(&courses, &participations, &consultations);
                report.from = from.map(Date::to_proto);
                report.until = until.map(Date::to_proto);
                report.branch_id = branch_id;
                report.certificates_issued = certificates as i32;
                Ok(report)
            })
            .await
    }
}

impl CapacityApi {
    /// A move in the course life cycle, with what each move needs and does.
    async fn move_course(
        &self,
        caller: &Caller,
        id: &str,
        sent_etag: &str,
        to: CourseStatus,
        reason: &str,
    ) -> Result<api::Course> {
        caller.require(MANAGE)?;
        let mut v = Violations::new();
        let id = v.take(parse_id("id", id));
        let reason = if to == CourseStatus::Cancelled {
            v.take(validate::prose("reason", reason, domain::PROSE_MAX, true))
        } else {
            Some(String::new())
        };
        v.finish()?;
        let (id, reason) = (id.expect("checked"), reason.expect("checked"));
        let mut tx = self.db.write(&caller.tenant).await?;
        let current = lock_and_find_course(&mut tx, &id).await?;
        check_etag("etag", sent_etag, current.version)?;
        domain::check_course_transition(current.status, to)?;
        if to == CourseStatus::Running && current.enrolled == 0 {
            return Err(Error::precondition(
                "NO_PARTICIPANTS",
                format!("courses/{id}"),
                "nobody holds a place in this course yet",
            ));
        }
        if to == CourseStatus::Completed {
            check_attendance_complete(&mut tx, &current).await?;
        }
        let row = store::set_course_status(&mut tx, &current, to, &reason).await?;
        tx.publish(&id, &course_event(&row)).await?;
        if to == CourseStatus::Completed {
            complete(&mut tx, &row).await?;
        }
        let row = find_course(&mut tx, &id).await?;
        tx.commit().await?;
        tracing::info!(course = %id, status = domain::course_status_word(to), "course moved");
        Ok(course_proto(&row))
    }
}

/// Most participants a refusal lists per session; the rest are counted.
const MISSING_LISTED: usize = 10;

/// Every participant holding a place must have a mark (present, absent or
/// excused) at every session before the rule is applied: the rule would
/// count the unmarked as absent, and CourseCompleted cannot be taken back.
/// Marks of cancelled enrolments do not stand in for anyone's.
async fn check_attendance_complete(tx: &mut Tx, course: &CourseRow) -> Result<()> {
    let holding: Vec<String> = store::course_enrolments(tx, &course.id)
        .await?
        .into_iter()
        .filter(|e| e.status == EnrolmentStatus::Enrolled)
        .map(|e| e.id)
        .collect();
    if holding.is_empty() {
        return Err(Error::precondition(
            "NO_PARTICIPANTS",
            format!("courses/{}", course.id),
            "nobody holds a place in this course; cancel it rather than complete it",
        ));
    }
    let marked: HashSet<(String, String)> = store::course_marks(tx, &course.id)
        .await?
        .into_iter()
        .map(|(session, enrolment, _)| (session, enrolment))
        .collect();
    let sessions: Vec<String> = course.sessions.iter().map(|s| s.id.clone()).collect();
    let missing = domain::missing_marks(&sessions, &holding, &marked);
    if missing.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = missing
        .iter()
        .map(|(i, enrolments)| {
            let s = &course.sessions[*i];
            let mut who = enrolments
                .iter()
                .take(MISSING_LISTED)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if enrolments.len() > MISSING_LISTED {
                who.push_str(&format!(" and {} more", enrolments.len() - MISSING_LISTED));
            }
            format!(
                "session {} ({}, sessions/{}): enrolments {who}",
                s.number, s.date, s.id
            )
        })
        .collect();
    Err(Error::precondition(
        "ATTENDANCE_MISSING",
        format!("courses/{}", course.id),
        format!(
            "attendance is not recorded for everyone holding a place; mark them present, \
             absent or excused first: {}",
            listed.join("; ")
        ),
    ))
}

/// Applies the completion rule to everyone holding a place, issues the
/// certificates, and publishes CourseCompleted and CertificateIssued.
async fn complete(tx: &mut Tx, course: &CourseRow) -> Result<()> {
    let sessions = course.sessions.len() as i64;
    let mut participants = GenderTally::default();
    let mut completed = GenderTally::default();
    let mut completers = Vec::new();
    let mut certificates = Vec::new();
    let issued_at = now_micros();
    for e in store::course_enrolments(tx, &course.id).await? {
        if e.status != EnrolmentStatus::Enrolled {
            continue;
        }
        if e.sessions_present > 0 {
            participants.add(e.gender);
        }
        if !domain::completes(
            &course.fields.rule,
            e.sessions_present,
            sessions,
            e.post_score,
        ) {
            continue;
        }
        completed.add(e.gender);
        store::set_completed(tx, &e.id).await?;
        let id = new_id();
        let code = domain::certificate_code(tx.tenant(), random_bytes()?);
        store::insert_certificate(
            tx,
            &store::NewCertificate {
                id: &id,
                code: &code,
                enrolment: &e,
                attendance_percent: domain::attendance_percent(e.sessions_present, sessions),
                issued_at,
            },
        )
        .await?;
        completers.push(ev::Completer {
            person_id: e.person_id.clone(),
            organization_id: e.organization_id.clone(),
            gender: e.gender as i32,
            age_band: e.age_band as i32,
        });
        certificates.push(ev::CertificateIssued {
            certificate_id: id,
            code,
            course_id: course.id.clone(),
            person_id: e.person_id.clone(),
            organization_id: e.organization_id.clone(),
            topic_codes: course.fields.topic_codes.clone(),
            issued_at: Some(timestamp(issued_at)),
        });
    }
    tx.publish(
        &course.id,
        &ev::CourseCompleted {
            course_id: course.id.clone(),
            topic_codes: course.fields.topic_codes.clone(),
            branch_id: course.fields.branch_id.clone(),
            end_date: Some(course.fields.end().to_proto()),
            completers,
            participants_female: participants.female,
            participants_male: participants.male,
            participants_undisclosed: participants.undisclosed,
            completed_female: completed.female,
            completed_male: completed.male,
            completed_undisclosed: completed.undisclosed,
        },
    )
    .await?;
    for c in &certificates {
        tx.publish(&c.certificate_id, c).await?;
    }
    Ok(())
}

fn session_of<'a>(course: &'a CourseRow, session_id: &str) -> Result<&'a SessionRow> {
    course
        .sessions
        .iter()
        .find(|s| s.id == session_id)
        .ok_or_else(|| Error::not_found("session", session_id))
}

fn not_running(course: &CourseRow) -> Error {
    Error::precondition(
        "COURSE_NOT_RUNNING",
        format!("courses/{}", course.id),
        format!(
            "attendance and tests are recorded once a course runs; this one is {}",
            domain::course_status_word(course.status)
        ),
    )
}

/// The enrolments holding a place in the course, by id.
async fn enrolled_of(tx: &mut Tx, course_id: &str) -> Result<HashMap<String, EnrolmentRow>> {
    Ok(store::course_enrolments(tx, course_id)
        .await?
        .into_iter()
        .filter(|e| e.status == EnrolmentStatus::Enrolled)
        .map(|e| (e.id.clone(), e))
        .collect())
}

async fn session_attendance(
    tx: &mut Tx,
    course: &CourseRow,
    session: &SessionRow,
    enrolled: &HashMap<String, EnrolmentRow>,
) -> Result<api::SessionAttendance> {
    // The sheet of those holding a place: a cancelled participant's mark
    // stays in the revisions but counts here no more than in the report, so
    // present + absent + excused + unmarked = enrolled.
    let marks: Vec<MarkRow> = store::session_marks(tx, &session.id)
        .await?
        .into_iter()
        .filter(|m| enrolled.contains_key(&m.enrolment_id))
        .collect();
    let count = |s: AttendanceStatus| marks.iter().filter(|m| m.status == s).count() as i32;
    let unmarked = enrolled
        .keys()
        .filter(|id| !marks.iter().any(|m| &m.enrolment_id == *id))
        .count() as i32;
    Ok(api::SessionAttendance {
        course_id: course.id.clone(),
        session: Some(session_proto(session)),
        present: count(AttendanceStatus::Present),
        absent: count(AttendanceStatus::Absent),
        excused: count(AttendanceStatus::Excused),
        unmarked,
        marks: marks.iter().map(mark_proto).collect(),
    })
}

/// The people of a consultation as recorded: each must be known here; one
/// erased since may stay on a consultation they attended, not join a new one.
async fn consultation_people(
    tx: &mut Tx,
    fields: &domain::ConsultationFields,
    before: Option<&ConsultationRow>,
) -> Result<Vec<store::Attendee>> {
    if !fields.organization_id.is_empty()
        && before.is_none_or(|b| b.fields.organization_id != fields.organization_id)
        && store::get_organization(tx, &fields.organization_id)
            .await?
            .is_none()
    {
        return Err(not_known(
            "ORGANIZATION_NOT_KNOWN",
            "organization",
            &fields.organization_id,
        ));
    }
    let mut out = Vec::with_capacity(fields.attendees.len());
    for person_id in &fields.attendees {
        let person = store::get_person(tx, person_id)
            .await?
            .ok_or_else(|| not_known("PERSON_NOT_KNOWN", "person", person_id))?;
        let attended_before = before.is_some_and(|b| b.fields.attendees.contains(person_id));
        if person.erased && !attended_before {
            return Err(Error::precondition(
                "PERSON_ERASED",
                format!("people/{person_id}"),
                "this person was erased and cannot be recorded again",
            ));
        }
        out.push(store::Attendee {
            person_id: person_id.clone(),
            gender: person.gender,
            age_band: person.age_band,
        });
    }
    Ok(out)
}

fn client_of(anonymous: &Anonymous) -> String {
    limits::client_key(anonymous.peer)
}

// ------------------------------------------------------------------ figures

fn course_report(
    course: &CourseRow,
    enrolments: &[EnrolmentRow],
    marks: &[(String, String, AttendanceStatus)],
) -> api::CourseReport {
    // Every figure but the waiting and cancelled counts is of the same
    // people: those holding a place. A cancelled participant's marks count
    // in no session.
    let holding: Vec<&EnrolmentRow> = enrolments
        .iter()
        .filter(|e| e.status == EnrolmentStatus::Enrolled)
        .collect();
    let holding_ids: HashSet<&str> = holding.iter().map(|e| e.id.as_str()).collect();
    let marks: Vec<&(String, String, AttendanceStatus)> = marks
        .iter()
        .filter(|(_, enrolment, _)| holding_ids.contains(enrolment.as_str()))
        .collect();
    let count_status = |s: EnrolmentStatus| enrolments.iter().filter(|e| e.status == s).count();
    let attended: Vec<&&EnrolmentRow> = holding.iter().filter(|e| e.sessions_present > 0).collect();
    let mut ages: Vec<(AgeBand, i32)> = Vec::new();
    for e in &attended {
        match ages.iter_mut().find(|(a, _)| *a == e.age_band) {
            Some((_, n)) => *n += 1,
            None => ages.push((e.age_band, 1)),
        }
    }
    ages.sort_by_key(|(a, _)| *a as i32);
    let sessions = course.sessions.len() as i64;
    let average_attendance_percent = if holding.is_empty() || sessions == 0 {
        0.0
    } else {
        holding
            .iter()
            .map(|e| e.sessions_present as f64 * 100.0 / sessions as f64)
            .sum::<f64>()
            / holding.len() as f64
    };
    let pairs: Vec<(i32, i32)> = holding
        .iter()
        .filter_map(|e| Some((e.pre_score?, e.post_score?)))
        .collect();
    let gain = domain::summarize_gains(&pairs);
    api::CourseReport {
        course_id: course.id.clone(),
        status: course.status as i32,
        capacity: course.fields.capacity,
        session_count: sessions as i32,
        enrolled: Some(
            holding
                .iter()
                .map(|e| e.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        waitlisted: count_status(EnrolmentStatus::Waitlisted) as i32,
        cancelled: count_status(EnrolmentStatus::Cancelled) as i32,
        participants: Some(
            attended
                .iter()
                .map(|e| e.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        participants_by_age_band: ages
            .into_iter()
            .map(|(a, n)| api::AgeBandCount {
                age_band: a as i32,
                count: n,
            })
            .collect(),
        completed: Some(
            holding
                .iter()
                .filter(|e| e.completed)
                .map(|e| e.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        average_attendance_percent,
        sessions: course
            .sessions
            .iter()
            .map(|s| {
                let count = |status: AttendanceStatus| {
                    marks
                        .iter()
                        .filter(|(session, _, st)| session == &s.id && *st == status)
                        .count() as i32
                };
                api::SessionSummary {
                    session: Some(session_proto(s)),
                    present: count(AttendanceStatus::Present),
                    absent: count(AttendanceStatus::Absent),
                    excused: count(AttendanceStatus::Excused),
                }
            })
            .collect(),
        certificates_issued: holding
            .iter()
            .filter(|e| !e.certificate_code.is_empty())
            .count() as i32,
        learning_gain: Some(api::LearningGain {
            participants_tested: gain.tested,
            average_pre_test_score: gain.average_pre,
            average_post_test_score: gain.average_post,
            average_gain: gain.average_gain,
            average_normalized_gain: gain.average_normalized_gain,
        }),
    }
}

fn activity_report(
    courses: &[(String, CourseKind, String)],
    participations: &[store::CourseParticipation],
    consultations: &[(
        ConsultationKind,
        String,
        Vec<markaz_proto::common::v1::Gender>,
    )],
) -> api::ActivityReport {
    let attended: Vec<&store::CourseParticipation> = participations
        .iter()
        .filter(|p| p.sessions_present > 0)
        .collect();
    let mut kinds: Vec<CourseKind> = courses.iter().map(|(_, k, _)| *k).collect();
    kinds.sort_by_key(|k| *k as i32);
    kinds.dedup();
    let by_kind = kinds
        .into_iter()
        .map(|kind| api::CourseKindActivity {
            kind: kind as i32,
            courses: courses.iter().filter(|(_, k, _)| *k == kind).count() as i32,
            participants: Some(
                attended
                    .iter()
                    .filter(|p| p.kind == kind)
                    .map(|p| p.gender)
                    .collect::<GenderTally>()
                    .to_proto(),
            ),
        })
        .collect();
    let mut branches: Vec<&str> = courses
        .iter()
        .map(|(_, _, b)| b.as_str())
        .chain(consultations.iter().map(|(_, b, _)| b.as_str()))
        .collect();
    branches.sort();
    branches.dedup();
    let held = |kind: ConsultationKind, branch: Option<&str>| {
        consultations
            .iter()
            .filter(|(k, b, _)| *k == kind && branch.is_none_or(|x| x == b))
            .count() as i32
    };
    api::ActivityReport {
        courses_completed: courses.len() as i32,
        by_kind,
        course_participants: Some(
            attended
                .iter()
                .map(|p| p.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        course_completers: Some(
            participations
                .iter()
                .filter(|p| p.completed)
                .map(|p| p.gender)
                .collect::<GenderTally>()
                .to_proto(),
        ),
        consultations: held(ConsultationKind::Consultation, None),
        technical_support_sessions: held(ConsultationKind::TechnicalSupport, None),
        consultation_attendees: Some(
            consultations
                .iter()
                .flat_map(|(_, _, g)| g.iter().copied())
                .collect::<GenderTally>()
                .to_proto(),
        ),
        by_branch: branches
            .into_iter()
            .map(|b| api::BranchActivity {
                branch_id: b.to_string(),
                courses_completed: courses.iter().filter(|(_, _, x)| x == b).count() as i32,
                consultations: held(ConsultationKind::Consultation, Some(b)),
                technical_support_sessions: held(ConsultationKind::TechnicalSupport, Some(b)),
            })
            .collect(),
        ..Default::default()
    }
}

// ----------------------------------------------------------------- mappings

fn topic_proto(r: &TopicRow) -> api::Topic {
    api::Topic {
        code: r.code.clone(),
        name: Some(r.fields.name.clone()),
        description: Some(r.fields.description.clone()),
        capacity_domains: r.fields.domains.iter().map(|d| *d as i32).collect(),
        built_in: r.built_in,
        archived: r.fields.archived,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}

fn session_proto(s: &SessionRow) -> api::Session {
    api::Session {
        id: s.id.clone(),
        date: Some(s.date.to_proto()),
        number: s.number,
    }
}

fn course_proto(r: &CourseRow) -> api::Course {
    let f = &r.fields;
    api::Course {
        id: r.id.clone(),
        kind: f.kind as i32,
        title: Some(f.title.clone()),
        description: Some(f.description.clone()),
        topic_codes: f.topic_codes.clone(),
        branch_id: f.branch_id.clone(),
        venue: f.venue.clone(),
        sessions: r.sessions.iter().map(session_proto).collect(),
        start_date: Some(f.start().to_proto()),
        end_date: Some(f.end().to_proto()),
        capacity: f.capacity,
        trainers: f
            .trainers
            .iter()
            .map(|t| api::Trainer {
                name: t.name.clone(),
                subject: t.subject.clone(),
                external: t.external,
            })
            .collect(),
        audience: f.audience as i32,
        status: r.status as i32,
        completion_rule: Some(api::CompletionRule {
            min_attendance_percent: f.rule.min_attendance_percent,
            min_post_test_score: f.rule.min_post_test_score,
        }),
        enrolled_count: r.enrolled as i32,
        waitlisted_count: r.waitlisted as i32,
        cancel_reason: r.cancel_reason.clone(),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}

fn course_event(r: &CourseRow) -> ev::CourseScheduled {
    let f = &r.fields;
    ev::CourseScheduled {
        course_id: r.id.clone(),
        kind: domain::course_kind_word(f.kind).into(),
        title: Some(f.title.clone()),
        topic_codes: f.topic_codes.clone(),
        branch_id: f.branch_id.clone(),
        venue: f.venue.clone(),
        start_date: Some(f.start().to_proto()),
        end_date: Some(f.end().to_proto()),
        session_count: f.sessions.len() as i32,
        capacity: f.capacity,
        incubated_only: f.audience == Audience::IncubatedOnly,
        status: domain::course_status_word(r.status).into(),
        version: r.version,
    }
}

fn enrolment_proto(r: &EnrolmentRow) -> api::Enrolment {
    api::Enrolment {
        id: r.id.clone(),
        course_id: r.course_id.clone(),
        person_id: r.person_id.clone(),
        organization_id: r.organization_id.clone(),
        status: r.status as i32,
        waitlist_position: r.waitlist_position as i32,
        participant_name: r.participant_name.clone(),
        gender: r.gender as i32,
        age_band: r.age_band as i32,
        sessions_present: r.sessions_present as i32,
        completed: r.completed,
        certificate_code: r.certificate_code.clone(),
        pre_test_score: r.pre_score,
        post_test_score: r.post_score,
        learning_gain: domain::learning_gain(r.pre_score, r.post_score),
        cancel_reason: r.cancel_reason.clone(),
        enrol_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
    }
}

fn enrolled_event(r: &EnrolmentRow) -> ev::ParticipantEnrolled {
    ev::ParticipantEnrolled {
        course_id: r.course_id.clone(),
        enrolment_id: r.id.clone(),
        person_id: r.person_id.clone(),
        organization_id: r.organization_id.clone(),
        gender: r.gender as i32,
        waitlisted: r.status == EnrolmentStatus::Waitlisted,
    }
}

fn mark_proto(m: &MarkRow) -> api::AttendanceMark {
    api::AttendanceMark {
        enrolment_id: m.enrolment_id.clone(),
        status: m.status as i32,
        note: m.note.clone(),
        person_id: m.person_id.clone(),
        participant_name: m.participant_name.clone(),
        revision: m.revision as i32,
        recorded_by: m.recorded_by.clone(),
        record_time: Some(timestamp(m.recorded_at)),
    }
}

fn certificate_proto(r: &CertificateRow) -> api::Certificate {
    api::Certificate {
        id: r.id.clone(),
        code: r.code.clone(),
        course_id: r.course_id.clone(),
        enrolment_id: r.enrolment_id.clone(),
        person_id: r.person_id.clone(),
        organization_id: r.organization_id.clone(),
        participant_name: r.participant_name.clone(),
        course_title: Some(r.course_title.clone()),
        course_kind: r.course_kind as i32,
        topic_codes: r.topic_codes.clone(),
        start_date: Some(r.start_date.to_proto()),
        end_date: Some(r.end_date.to_proto()),
        attendance_percent: r.attendance_percent,
        issue_time: Some(timestamp(r.issued_at)),
        revoked: r.revoked_at.is_some(),
        revoke_reason: r.revoke_reason.clone(),
        revoke_time: r.revoked_at.map(timestamp),
    }
}

fn verification_proto(tenant: &str, r: &CertificateRow) -> api::CertificateVerification {
    api::CertificateVerification {
        code: r.code.clone(),
        center: tenant.to_string(),
        valid: r.revoked_at.is_none(),
        revoked: r.revoked_at.is_some(),
        participant_name: r.participant_name.clone(),
        course_title: Some(r.course_title.clone()),
        course_kind: r.course_kind as i32,
        topic_codes: r.topic_codes.clone(),
        start_date: Some(r.start_date.to_proto()),
        end_date: Some(r.end_date.to_proto()),
        issue_time: Some(timestamp(r.issued_at)),
    }
}

fn action_proto(a: &domain::ActionSpec) -> api::FollowUpAction {
    api::FollowUpAction {
        id: a.id.clone().unwrap_or_default(),
        description: a.description.clone(),
        owner: a.owner.clone(),
        due_date: a.due_date.map(Date::to_proto),
        done: a.done_on.is_some(),
        done_on: a.done_on.map(Date::to_proto),
        consultation_id: String::new(),
        organization_id: String::new(),
    }
}

fn consultation_proto(r: &ConsultationRow) -> api::Consultation {
    let f = &r.fields;
    api::Consultation {
        id: r.id.clone(),
        kind: f.kind as i32,
        topic_codes: f.topic_codes.clone(),
        organization_id: f.organization_id.clone(),
        attendee_person_ids: f.attendees.clone(),
        advisor: Some(api::Advisor {
            name: f.advisor_name.clone(),
            kind: f.advisor_kind as i32,
        }),
        branch_id: f.branch_id.clone(),
        held_on: Some(f.held_on.to_proto()),
        duration_minutes: f.duration_minutes,
        notes: f.notes.clone(),
        follow_up_actions: f.actions.iter().map(action_proto).collect(),
        attendees_by_gender: Some(
            r.attendee_genders
                .iter()
                .copied()
                .collect::<GenderTally>()
                .to_proto(),
        ),
        recorded_by: r.recorded_by.clone(),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}

fn consultation_event(r: &ConsultationRow) -> ev::ConsultationHeld {
    let f = &r.fields;
    let genders: GenderTally = r.attendee_genders.iter().copied().collect();
    ev::ConsultationHeld {
        consultation_id: r.id.clone(),
        kind: domain::consultation_kind_word(f.kind).into(),
        organization_id: f.organization_id.clone(),
        topic_codes: f.topic_codes.clone(),
        branch_id: f.branch_id.clone(),
        held_on: Some(f.held_on.to_proto()),
        duration_minutes: f.duration_minutes,
        attendees_female: genders.female,
        attendees_male: genders.male,
        attendees_undisclosed: genders.undisclosed,
        version: r.version,
    }
}

fn suggestion_proto(r: &SuggestionRow) -> api::TrainingSuggestion {
    api::TrainingSuggestion {
        id: r.id.clone(),
        title: r.fields.title.clone(),
        description: r.fields.description.clone(),
        topic_codes: r.fields.topic_codes.clone(),
        suggested_by: r.fields.suggested_by.clone(),
        contact: r.fields.contact.clone(),
        status: r.status as i32,
        triage_note: r.triage_note.clone(),
        triaged_by: r.triaged_by.clone(),
        course_id: r.course_id.clone(),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}
