//! Consultations and technical-support sessions, and the follow-up actions
//! that come out of them: the officer's to-do list.

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id, update_mask};
use markaz_kit::time::{Date, timestamp};
use markaz_proto::capacity::v1 as api;
use markaz_proto::capacity::v1::ConsultationKind;
use markaz_proto::events::v1 as ev;

use super::{CapacityApi, enum_filter, not_known, optional_date, optional_slug};
use crate::domain::consultations::{
    ActionSpec, Attendee, CONSULTATION_MASK, Consultation, ConsultationFields, check_action_ids,
    consultation_kind_word, merge_consultation, parse_consultation,
};
use crate::domain::optional_id;
use crate::domain::reports::GenderTally;
use crate::store;
use crate::store::consultations::ConsultationFilter;

pub(crate) async fn create(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::CreateConsultationRequest,
) -> Result<api::Consultation> {
    let (mut fields, idempotency) = (
        parse_consultation(
            "consultation",
            req.consultation
                .as_ref()
                .unwrap_or(&api::Consultation::default()),
        ),
        Idempotency::of(&caller, &req.request_id, &req),
    )
        .all()?;
    // Actions are new on create, whatever ids they came with.
    for a in &mut fields.actions {
        a.id = None;
    }
    let mut tx = capacity.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    capacity.seed_in(&mut tx).await?;
    super::topics::check_codes(
        &mut tx,
        "consultation.topic_codes",
        &fields.topic_codes,
        &[],
    )
    .await?;
    let attendees = people(&mut tx, &fields, None).await?;
    let id = new_id();
    let consultation =
        store::consultations::insert(&mut tx, &id, &fields, &attendees, &caller.subject).await?;
    tx.publish(&id, &event(&consultation)).await?;
    let reply = proto(&consultation);
    idempotency.commit(tx, &id, &reply).await?;
    capacity.seeded(&caller.tenant);
    Ok(reply)
}

pub(crate) async fn get(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::GetConsultationRequest,
) -> Result<api::Consultation> {
    let id = parse_id("id", &req.id)?;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let consultation = store::consultations::get(&mut tx, &id)
        .await?
        .filter(|c| caller.may_see_organization(&c.fields.organization_id))
        .ok_or_else(|| Error::not_found("consultation", &id))?;
    Ok(proto(&consultation))
}

pub(crate) async fn list(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListConsultationsRequest,
) -> Result<api::ListConsultationsResponse> {
    let (organization_id, kind, branch_id, held_from, held_until) = (
        optional_id("organization_id", &req.organization_id),
        enum_filter("kind", req.kind, ConsultationKind::as_str_name),
        optional_slug("branch_id", &req.branch_id),
        optional_date("held_from", req.held_from.as_ref()),
        optional_date("held_until", req.held_until.as_ref()),
    )
        .all()?;
    let mut filter = ConsultationFilter {
        organization_id,
        kind,
        branch_id,
        held_from,
        held_until,
    };
    let page = Page::parse(req.page_size, &req.page_token, &format!("{filter:?}"))?;
    let Some(organization_id) = caller.organization_filter(&filter.organization_id) else {
        return Ok(api::ListConsultationsResponse::default());
    };
    filter.organization_id = organization_id;
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let (mut consultations, total) =
        store::consultations::list(&mut tx, &filter, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut consultations, |c| c.id.clone());
    Ok(api::ListConsultationsResponse {
        consultations: consultations.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(crate) async fn update(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::UpdateConsultationRequest,
) -> Result<api::Consultation> {
    let sent = req.consultation.unwrap_or_default();
    let id = parse_id("consultation.id", &sent.id)?;
    let mask = update_mask(req.update_mask.as_ref(), CONSULTATION_MASK)?;
    let mut tx = capacity.db.write(&caller.tenant).await?;
    let current = store::consultations::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("consultation", &id))?;
    check_etag("consultation.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current);
    merge_consultation(&mut merged, &sent, &mask);
    let fields = parse_consultation("consultation", &merged)?;
    check_action_ids(&current.fields, &fields)?;
    capacity.seed_in(&mut tx).await?;
    super::topics::check_codes(
        &mut tx,
        "consultation.topic_codes",
        &fields.topic_codes,
        &current.fields.topic_codes,
    )
    .await?;
    let attendees = people(&mut tx, &fields, Some(&current)).await?;
    let consultation = store::consultations::update(&mut tx, &current, &fields, &attendees).await?;
    tx.publish(&id, &event(&consultation)).await?;
    tx.commit().await?;
    capacity.seeded(&caller.tenant);
    Ok(proto(&consultation))
}

pub(crate) async fn follow_ups(
    capacity: &CapacityApi,
    caller: Caller,
    req: api::ListFollowUpActionsRequest,
) -> Result<api::ListFollowUpActionsResponse> {
    let (due_until, organization_id) = (
        optional_date("due_until", req.due_until.as_ref()),
        optional_id("organization_id", &req.organization_id),
    )
        .all()?;
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &format!("{}|{due_until}|{organization_id}", req.include_done),
    )?;
    let Some(organization_id) = caller.organization_filter(&organization_id) else {
        return Ok(api::ListFollowUpActionsResponse::default());
    };
    let mut tx = capacity.db.read(&caller.tenant).await?;
    let (mut actions, total) = store::consultations::follow_ups(
        &mut tx,
        req.include_done,
        &due_until,
        &organization_id,
        &page.after,
        page.fetch(),
    )
    .await?;
    let next_page_token = page.finish(&mut actions, |a| a.key.clone());
    Ok(api::ListFollowUpActionsResponse {
        actions: actions
            .iter()
            .map(|a| api::FollowUpAction {
                consultation_id: a.consultation_id.clone(),
                organization_id: a.organization_id.clone(),
                ..action_proto(&a.action)
            })
            .collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

/// The people of a consultation as recorded: each must be known here; one
/// erased since may stay on a consultation they attended, not join a new one.
async fn people(
    tx: &mut Tx,
    fields: &ConsultationFields,
    before: Option<&Consultation>,
) -> Result<Vec<Attendee>> {
    if !fields.organization_id.is_empty()
        && before.is_none_or(|b| b.fields.organization_id != fields.organization_id)
        && markaz_membership_copies::organization(tx, &fields.organization_id)
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
        let person = markaz_membership_copies::person(tx, person_id)
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
        out.push(Attendee {
            person_id: person_id.clone(),
            gender: person.gender,
            age_band: person.age_band,
        });
    }
    Ok(out)
}

fn action_proto(a: &ActionSpec) -> api::FollowUpAction {
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

fn proto(c: &Consultation) -> api::Consultation {
    let f = &c.fields;
    api::Consultation {
        id: c.id.clone(),
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
            c.attendee_genders
                .iter()
                .copied()
                .collect::<GenderTally>()
                .to_proto(),
        ),
        recorded_by: c.recorded_by.clone(),
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
        etag: etag(c.version),
    }
}

fn event(c: &Consultation) -> ev::ConsultationHeld {
    let f = &c.fields;
    let genders: GenderTally = c.attendee_genders.iter().copied().collect();
    ev::ConsultationHeld {
        consultation_id: c.id.clone(),
        kind: consultation_kind_word(f.kind).into(),
        organization_id: f.organization_id.clone(),
        topic_codes: f.topic_codes.clone(),
        branch_id: f.branch_id.clone(),
        held_on: Some(f.held_on.to_proto()),
        duration_minutes: f.duration_minutes,
        attendees_female: genders.female,
        attendees_male: genders.male,
        attendees_undisclosed: genders.undisclosed,
        version: c.version,
        attendees: f
            .attendees
            .iter()
            .zip(&c.attendee_genders)
            .map(|(person, gender)| ev::ConsultationAttendee {
                person_id: person.clone(),
                gender: *gender as i32,
            })
            .collect(),
    }
}
