//! People: the minimum personal data the center needs, and its erasure.

use markaz_kit::auth::Caller;
use markaz_kit::erasure::{Matcher, Subject};
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{
    Idempotency, Page, check_etag, etag, new_id, parse_id, parse_optional_id, update_mask,
};
use markaz_kit::time::timestamp;
use markaz_kit::validate;
use markaz_proto::events::v1 as ev;
use markaz_proto::membership::v1 as api;

use super::{MembershipApi, check_branch, visible_person};
use crate::domain;
use crate::store::{self, PersonRow};

pub(super) async fn create(
    api: &MembershipApi,
    caller: Caller,
    req: api::CreatePersonRequest,
) -> Result<api::Person> {
    let empty = api::Person::default();
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::parse_person("person", req.person.as_ref().unwrap_or(&empty)),
    )
        .all()?;
    let mut tx = api.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    check_branch(&mut tx, "person.branch_id", &fields.branch_id).await?;
    let id = new_id();
    let row = store::insert_person(&mut tx, &id, &fields).await?;
    tx.publish(
        &id,
        &ev::PersonRegistered {
            person: Some(snapshot(&row)),
        },
    )
    .await?;
    let reply = proto(&row);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(super) async fn get(
    api: &MembershipApi,
    caller: Caller,
    req: api::GetPersonRequest,
) -> Result<api::Person> {
    let id = parse_id("id", &req.id)?;
    let mut tx = api.db.read(&caller.tenant).await?;
    let row = visible_person(&mut tx, &caller, &id).await?;
    let mut person = proto(&row);
    if row.erased {
        person.erasure_id = store::erasure_of_person(&mut tx, &id)
            .await?
            .unwrap_or_default();
    }
    Ok(person)
}

pub(super) async fn list(
    api: &MembershipApi,
    caller: Caller,
    req: api::ListPeopleRequest,
) -> Result<api::ListPeopleResponse> {
    let (organization_id, _branch, query, page) = (
        parse_optional_id("organization_id", &req.organization_id),
        if req.branch_id.is_empty() {
            Ok(String::new())
        } else {
            validate::slug("branch_id", &req.branch_id, 40)
        },
        validate::line("query", &req.query, 100, false),
        Page::parse(
            req.page_size,
            &req.page_token,
            &format!("{}|{}|{}", req.organization_id, req.branch_id, req.query),
        ),
    )
        .all()?;
    // A partner sees the people of its own organization only.
    let Some(organization_id) = caller.organization_filter(&organization_id) else {
        return Ok(api::ListPeopleResponse::default());
    };
    let filter = store::PersonFilter {
        organization_id,
        branch_id: req.branch_id.clone(),
        text: query,
    };
    let mut tx = api.db.read(&caller.tenant).await?;
    let (mut rows, total) = store::list_people(&mut tx, &filter, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListPeopleResponse {
        people: rows.iter().map(proto).collect(),
        next_page_token,
        total_size: total.size,
        total_size_is_estimate: total.is_estimate,
    })
}

pub(super) async fn update(
    api: &MembershipApi,
    caller: Caller,
    req: api::UpdatePersonRequest,
) -> Result<api::Person> {
    let empty = api::Person::default();
    let sent = req.person.as_ref().unwrap_or(&empty);
    let (id, mask) = (
        parse_id("person.id", &sent.id),
        update_mask(req.update_mask.as_ref(), domain::PERSON_MASK),
    )
        .all()?;
    let mut tx = api.db.write(&caller.tenant).await?;
    tx.lock("people", &id).await?;
    let current = visible_person(&mut tx, &caller, &id).await?;
    if current.erased {
        return Err(Error::precondition(
            "PERSON_ERASED",
            format!("people/{id}"),
            "an erased person cannot be updated",
        ));
    }
    check_etag("person.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current);
    domain::merge_person(&mut merged, sent, &mask);
    let fields = domain::parse_person("person", &merged)?;
    if fields.branch_id != current.fields.branch_id {
        check_branch(&mut tx, "person.branch_id", &fields.branch_id).await?;
    }
    let row = store::update_person(&mut tx, &current, &fields).await?;
    tx.publish(
        &id,
        &ev::PersonUpdated {
            person: Some(snapshot(&row)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(proto(&row))
}

/// The columns that hold people's own names and contacts: the erasure's
/// sweep leaves them, since the same name may be someone else's (the erased
/// person's own were overwritten just before).
const OWN_NAMES: &[&str] = &[
    "people.full_name",
    "people.phone",
    "people.email",
    "people.search_text",
];

/// Erases a person: their record keeps gender, age band and branch; every
/// mention of them in membership's records is scrubbed
/// ([`markaz_kit::erasure::erase`]), their affiliations lose the role (which
/// says who they are as surely as a name); an erasure record is the receipt
/// every other service confirms through `PersonErased`.
pub(super) async fn erase(
    api: &MembershipApi,
    caller: Caller,
    req: api::ErasePersonRequest,
) -> Result<api::Person> {
    let (id, reason, ground) = (
        parse_id("id", &req.id),
        validate::prose("reason", &req.reason, domain::PROSE_MAX, true),
        validate::enumeration::<api::ErasureGround>("legal_ground", req.legal_ground, true)
            .map_err(Error::from),
    )
        .all()?;
    let ground = ground.expect("required");
    let mut tx = api.db.write(&caller.tenant).await?;
    tx.lock("people", &id).await?;
    let current = visible_person(&mut tx, &caller, &id).await?;
    if current.erased {
        // Erasure is done once; asking again changes nothing.
        let mut person = proto(&current);
        person.erasure_id = store::erasure_of_person(&mut tx, &id)
            .await?
            .unwrap_or_default();
        return Ok(person);
    }
    let f = &current.fields;
    let matcher = Matcher::new(&Subject {
        names: vec![f.full_name.clone()],
        emails: vec![f.email.clone()],
        phones: vec![f.phone.clone()],
    });
    let kept = domain::erased(f);
    let row = store::erase_person(&mut tx, &current, &kept, &reason).await?;
    store::clear_roles_of(&mut tx, &id).await?;
    let erasure_id = new_id();
    store::insert_erasure(
        &mut tx,
        &store::NewErasure {
            id: &erasure_id,
            person_id: &id,
            requested_by: &caller.subject,
            legal_ground: ground.as_str_name(),
            reason: &reason,
        },
    )
    .await?;
    let erasure = markaz_kit::erasure::Erasure {
        erasure_id: &erasure_id,
        person_id: &id,
        matcher: &matcher,
    };
    markaz_kit::erasure::erase(&mut tx, erasure, OWN_NAMES).await?;
    tx.publish(
        &id,
        &ev::PersonErased {
            person_id: id.clone(),
            erasure_id: erasure_id.clone(),
            gender: f.gender as i32,
            age_band: f.age_band as i32,
            branch_id: f.branch_id.clone(),
            match_keys: Some(matcher.keys()),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(person = %id, erasure = %erasure_id, "person erased");
    let mut person = proto(&row);
    person.erasure_id = erasure_id;
    Ok(person)
}

fn proto(r: &PersonRow) -> api::Person {
    let f = &r.fields;
    api::Person {
        id: r.id.clone(),
        full_name: f.full_name.clone(),
        gender: f.gender as i32,
        age_band: f.age_band as i32,
        phone: f.phone.clone(),
        email: f.email.clone(),
        branch_id: f.branch_id.clone(),
        legal_basis: f.legal_basis as i32,
        processing_purpose: f.processing_purpose.clone(),
        erased: r.erased,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
        erasure_id: String::new(),
    }
}

fn snapshot(r: &PersonRow) -> ev::PersonSnapshot {
    ev::PersonSnapshot {
        id: r.id.clone(),
        full_name: r.fields.full_name.clone(),
        gender: r.fields.gender as i32,
        age_band: r.fields.age_band as i32,
        branch_id: r.fields.branch_id.clone(),
        version: r.version,
    }
}
