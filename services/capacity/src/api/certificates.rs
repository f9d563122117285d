//! Certificates: issued when a course completes to everyone its rule
//! passes, revoked by staff, verified by anyone holding the code.

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Anonymous, Page, new_id, parse_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_kit::validate;
use markaz_proto::capacity::v1 as api;
use markaz_proto::events::v1 as ev;

use super::CapacityApi;
use crate::domain::attendance::{attendance_percent, completes};
use crate::domain::certificates::{Certificate, certificate_code, parse_certificate_code};
use crate::domain::courses::Course;
use crate::domain::reports::GenderTally;
use crate::domain::{PROSE_MAX, optional_id};
use crate::limits;
use crate::store;
use crate::store::certificates::NewCertificate;

pub(crate) async fn list(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListCertificatesRequest,
) -> Result<api::ListCertificatesResponse> {
    let (course_id, person_id, organization_id) = (
        optional_id("course_id", &req.course_id),
        optional_id("person_id", &req.person_id),
        optional_id("organization_id", &req.organization_id),
    )
        .all()?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{course_id}|{person_id}|{organization_id}"),
    )?;
    let Some(organization_id) = caller.organization_filter(&organization_id) else {
        return Ok(api::ListCertificatesResponse::default());
    };
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let (mut certificates, total) = store::certificates::list(
        &mut tx,
        &course_id,
        &person_id,
        &organization_id,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut certificates, |c| c.id.clone());
    Ok(api::ListCertificatesResponse {
        certificates: certificates.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(crate) async fn revoke(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::RevokeCertificateRequest,
) -> Result<api::Certificate> {
    let (id, reason) = (
        parse_id("id", &req.id),
        validate::prose("reason", &req.reason, PROSE_MAX, true),
    )
        .all()?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    let current = store::certificates::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("certificate", &id))?;
    if current.revoked_at.is_some() {
        return Err(Error::precondition(
            "CERTIFICATE_REVOKED",
            format!("certificates/{id}"),
            "the certificate was revoked already",
        ));
    }
    let certificate = store::certificates::revoke(&mut tx, &current, &reason).await?;
    tx.publish(
        &id,
        &ev::CertificateRevoked {
            certificate_id: id.clone(),
            code: certificate.code.clone(),
            course_id: certificate.course_id.clone(),
            person_id: certificate.person_id.clone(),
            organization_id: certificate.organization_id.clone(),
            reason,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&certificate))
}

pub(crate) async fn verify(
    capacity: &CapacityApi,
    anonymous: Anonymous,
    req: api::VerifyCertificateRequest,
) -> Result<api::CertificateVerification> {
    let (tenant, code) = parse_certificate_code("code", &req.code)?;
    capacity.limit_public(
        "verify",
        &anonymous,
        limits::VERIFICATIONS_PER_CLIENT,
        limits::VERIFICATIONS_PER_NETWORK,
    )?;
    let mut tx = capacity.db.read(&tenant).await?;
    let certificate = store::certificates::by_code(&mut tx, &code)
        .await?
        .ok_or_else(|| Error::not_found("certificate", &code))?;
    Ok(verification(&tenant, &certificate))
}

/// Applies the completion rule to everyone holding a place in the course
/// just completed, issues the certificates, and publishes CourseCompleted
/// and CertificateIssued.
pub(crate) async fn issue_on_completion(tx: &mut Tx, course: &Course) -> Result<()> {
    let sessions = course.sessions.len() as i64;
    let mut participants = GenderTally::default();
    let mut completed = GenderTally::default();
    let mut completers = Vec::new();
    let mut attendees = Vec::new();
    let mut certificates = Vec::new();
    let issued_at = now_micros();
    for e in store::enrolments::of_course(tx, &course.id).await? {
        if !e.holds_a_place() {
            continue;
        }
        if e.sessions_present > 0 {
            participants.add(e.gender);
            attendees.push(ev::Completer {
                person_id: e.person_id.clone(),
                organization_id: e.organization_id.clone(),
                gender: e.gender as i32,
                age_band: e.age_band as i32,
            });
        }
        if !completes(
            &course.fields.rule,
            e.sessions_present,
            sessions,
            e.post_score,
        ) {
            continue;
        }
        completed.add(e.gender);
        store::enrolments::set_completed(tx, &e.id).await?;
        let id = new_id();
        let code = certificate_code(tx.tenant(), random_bytes()?);
        store::certificates::insert(
            tx,
            &NewCertificate {
                id: &id,
                code: &code,
                enrolment: &e,
                attendance_percent: attendance_percent(e.sessions_present, sessions),
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
    store::reports::count_course(tx, &course.id).await?;
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
            participants: attendees,
        },
    )
    .await?;
    for c in &certificates {
        tx.publish(&c.certificate_id, c).await?;
    }
    Ok(())
}

fn random_bytes() -> Result<[u8; 8]> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("no randomness for a certificate code"))?;
    Ok(bytes)
}

fn proto(c: &Certificate) -> api::Certificate {
    api::Certificate {
        id: c.id.clone(),
        code: c.code.clone(),
        course_id: c.course_id.clone(),
        enrolment_id: c.enrolment_id.clone(),
        person_id: c.person_id.clone(),
        organization_id: c.organization_id.clone(),
        participant_name: c.participant_name.clone(),
        course_title: Some(c.course_title.clone()),
        course_kind: c.course_kind as i32,
        topic_codes: c.topic_codes.clone(),
        start_date: Some(c.start_date.to_proto()),
        end_date: Some(c.end_date.to_proto()),
        attendance_percent: c.attendance_percent,
        issue_time: Some(timestamp(c.issued_at)),
        revoked: c.revoked_at.is_some(),
        revoke_reason: c.revoke_reason.clone(),
        revoke_time: c.revoked_at.map(timestamp),
    }
}

fn verification(tenant: &str, c: &Certificate) -> api::CertificateVerification {
    api::CertificateVerification {
        code: c.code.clone(),
        center: tenant.to_string(),
        valid: c.revoked_at.is_none(),
        revoked: c.revoked_at.is_some(),
        participant_name: c.participant_name.clone(),
        course_title: Some(c.course_title.clone()),
        course_kind: c.course_kind as i32,
        topic_codes: c.topic_codes.clone(),
        start_date: Some(c.start_date.to_proto()),
        end_date: Some(c.end_date.to_proto()),
        issue_time: Some(timestamp(c.issued_at)),
    }
}
