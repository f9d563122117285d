//! Enrolments: a place while there is one, else the waiting list; a freed
//! place goes to the first in line.

use markaz_kit::auth::{Caller, Organizations};
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, new_id, parse_id};
use markaz_kit::time::timestamp;
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::{CourseStatus, EnrolmentStatus};
use markaz_proto::events::v1 as ev;

use super::{CapacityApi, confined_to_own_courses, enum_filter, not_known};
use crate::domain::attendance::learning_gain;
use crate::domain::courses::course_status_word;
use crate::domain::enrolments::{Enrolment, check_audience, placement, promotions};
use crate::domain::{MARK_NOTE_MAX, optional_id};
use crate::store;
use crate::store::enrolments::{EnrolmentFilter, NewEnrolment};

pub(crate) async fn enrol(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::EnrolParticipantRequest,
) -> Result<api::Enrolment> {
    let (course_id, person_id, organization_id, idempotency) = (
        parse_id("course_id", &req.course_id),
        parse_id("person_id", &req.person_id),
        optional_id("organization_id", &req.organization_id),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    // A partner enrols members of its own organization, as such.
    let organizations = caller.organizations();
    let organization_id = match organizations {
        Organizations::All => organization_id,
        Organizations::None => {
            return Err(Error::permission_denied("the token names no organization"));
        }
        Organizations::Only(own) if organization_id.is_empty() || organization_id == own => {
            own.to_string()
        }
        Organizations::Only(_) => return Err(Error::not_found("organization", organization_id)),
    };
    let confined = organizations != Organizations::All;

    let mut tx = capacity.db.write(&caller.tenant).await?;
    // Rights first, before a retry is answered: a partner enrols only those
    // affiliated with it now.
    let affiliated = !organization_id.is_empty()
        && markaz_membership_copies::is_affiliated(&mut tx, &person_id, &organization_id).await?;
    if confined && !affiliated {
        return Err(Error::not_found("person", &person_id));
    }
    // Every enrolment of a course waits here for the one before.
    let course = store::courses::lock(&mut tx, &course_id)
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
                course_status_word(course.status)
            ),
        ));
    }
    let person = markaz_membership_copies::person(&mut tx, &person_id)
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
        let organization = markaz_membership_copies::organization(&mut tx, &organization_id)
            .await?
            .ok_or_else(|| not_known("ORGANIZATION_NOT_KNOWN", "organization", &organization_id))?;
        if !affiliated {
            return Err(Error::precondition(
                "NOT_AFFILIATED",
                format!("people/{person_id}"),
                "the person is not (or not yet known to be) affiliated with the organization",
            ));
        }
        Some(organization.incubation_status)
    };
    check_audience(course.audience, incubation)?;
    if store::enrolments::has_active(&mut tx, &course_id, &person_id).await? {
        return Err(Error::AlreadyExists(
            "the person is already enrolled in (or waiting for) this course".into(),
        ));
    }
    let enrolled = store::enrolments::count(&mut tx, &course_id, EnrolmentStatus::Enrolled).await?;
    let id = new_id();
    store::enrolments::insert(
        &mut tx,
        &NewEnrolment {
            id: &id,
            course_id: &course_id,
            person: &person,
            organization_id: &organization_id,
            status: placement(enrolled, course.capacity),
            queue_seq: course.serial,
            enrolled_by: &caller.subject,
        },
    )
    .await?;
    let enrolment = store::enrolments::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::internal("the enrolment just made is gone"))?;
    tx.publish(&id, &enrolled_event(&enrolment)).await?;
    let reply = proto(&enrolment);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(crate) async fn get(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::GetEnrolmentRequest,
) -> Result<api::Enrolment> {
    let id = parse_id("id", &req.id)?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let enrolment = store::enrolments::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("enrolment", &id))?;
    if !may_see(&mut tx, &caller, &enrolment).await? {
        return Err(Error::not_found("enrolment", &id));
    }
    Ok(proto(&enrolment))
}

pub(crate) async fn list(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListEnrolmentsRequest,
) -> Result<api::ListEnrolmentsResponse> {
    let (course_id, person_id, organization_id, status) = (
        optional_id("course_id", &req.course_id),
        optional_id("person_id", &req.person_id),
        optional_id("organization_id", &req.organization_id),
        enum_filter("status", req.status, EnrolmentStatus::as_str_name),
    )
        .all()?;
    let mut filter = EnrolmentFilter {
        course_id,
        person_id,
        organization_id,
        status,
        trainer_subject: String::new(),
    };
    let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
    let Some(organization_id) = caller.organization_filter(&filter.organization_id) else {
        return Ok(api::ListEnrolmentsResponse::default());
    };
    filter.organization_id = organization_id;
    if confined_to_own_courses(&caller) {
        if caller.subject.is_empty() {
            return Ok(api::ListEnrolmentsResponse::default());
        }
        filter.trainer_subject = caller.subject.clone();
    }
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let (mut enrolments, total) =
        store::enrolments::list(&mut tx, &filter, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut enrolments, |e| e.id.clone());
    Ok(api::ListEnrolmentsResponse {
        enrolments: enrolments.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(crate) async fn cancel(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::CancelEnrolmentRequest,
) -> Result<api::Enrolment> {
    let (id, reason) = (
        parse_id("id", &req.id),
        validate::line("reason", &req.reason, MARK_NOTE_MAX, false),
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    let current = store::enrolments::get(&mut tx, &id)
        .await?
        .filter(|e| caller.may_see_organization(&e.organization_id))
        .ok_or_else(|| Error::not_found("enrolment", &id))?;
    let course = store::courses::lock(&mut tx, &current.course_id)
        .await?
        .ok_or_else(|| Error::internal("an enrolment's course is gone"))?;
    // Read again under the course's lock: a promotion may have moved it
    // meanwhile.
    let current = store::enrolments::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("enrolment", &id))?;
    if current.status == EnrolmentStatus::Cancelled {
        return Ok(proto(&current));
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
                course_status_word(course.status)
            ),
        ));
    }
    store::enrolments::set_status(&mut tx, &id, EnrolmentStatus::Cancelled, &reason).await?;
    let was_enrolled = current.holds_a_place();
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
    let enrolment = store::enrolments::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::internal("the enrolment just cancelled is gone"))?;
    tx.commit().await?;
    Ok(proto(&enrolment))
}

/// Gives freed places to the first in line, in order, and tells the bus.
pub(crate) async fn promote(tx: &mut Tx, course_id: &str, capacity: i32) -> Result<usize> {
    let enrolled = store::enrolments::count(tx, course_id, EnrolmentStatus::Enrolled).await?;
    let waiting = store::enrolments::count(tx, course_id, EnrolmentStatus::Waitlisted).await?;
    let n = promotions(capacity, enrolled, waiting as usize);
    if n == 0 {
        return Ok(0);
    }
    let ids = store::enrolments::first_waiting(tx, course_id, n as i64).await?;
    store::enrolments::promote(tx, &ids).await?;
    for e in store::enrolments::by_ids(tx, &ids).await? {
        tx.publish(&e.id, &enrolled_event(&e)).await?;
        tracing::info!(course = %course_id, enrolment = %e.id, "promoted from the waiting list");
    }
    Ok(n)
}

/// Whether the caller may see this enrolment: staff all, a partner its own
/// organization's, a trainer those of the courses they train.
async fn may_see(tx: &mut Tx, caller: &Caller, e: &Enrolment) -> Result<bool> {
    if caller.is_staff() {
        return Ok(true);
    }
    if caller.organizations() != Organizations::All {
        return Ok(caller.may_see_organization(&e.organization_id));
    }
    store::courses::is_trainer(tx, &e.course_id, &caller.subject).await
}

pub(crate) fn proto(e: &Enrolment) -> api::Enrolment {
    api::Enrolment {
        id: e.id.clone(),
        course_id: e.course_id.clone(),
        person_id: e.person_id.clone(),
        organization_id: e.organization_id.clone(),
        status: e.status as i32,
        waitlist_position: e.waitlist_position as i32,
        participant_name: e.participant_name.clone(),
        gender: e.gender as i32,
        age_band: e.age_band as i32,
        sessions_present: e.sessions_present as i32,
        completed: e.completed,
        certificate_code: e.certificate_code.clone(),
        pre_test_score: e.pre_score,
        post_test_score: e.post_score,
        learning_gain: learning_gain(e.pre_score, e.post_score),
        cancel_reason: e.cancel_reason.clone(),
        enrol_time: Some(timestamp(e.created_at)),
        update_time: Some(timestamp(e.updated_at)),
    }
}

fn enrolled_event(e: &Enrolment) -> ev::ParticipantEnrolled {
    ev::ParticipantEnrolled {
        course_id: e.course_id.clone(),
        enrolment_id: e.id.clone(),
        person_id: e.person_id.clone(),
        organization_id: e.organization_id.clone(),
        gender: e.gender as i32,
        waitlisted: e.status == EnrolmentStatus::Waitlisted,
    }
}
