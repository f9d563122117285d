//! Coaching: the notes on a proposal, and the trainers staff name to coach
//! it.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, new_id, parse_id};
use markaz_kit::time::{now_micros, timestamp};
use markaz_kit::validate;
use markaz_proto::grants::v1 as api;

use crate::domain::{self};
use crate::store::coaching::{CoachRow, NoteRow};
use crate::store::{self};

use super::{GrantsApi, Use, role_word, seen_proposal, viewer};

pub(super) async fn add_note(
    grants: &GrantsApi,
    caller: Caller,
    req: api::AddCoachingNoteRequest,
) -> Result<api::CoachingNote> {
    let (idempotency, id, body) = (
        Idempotency::of(&caller, &req.request_id, &req),
        parse_id("proposal_id", &req.proposal_id),
        validate::prose("body", &req.body, domain::PROSE_MAX, true),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &id, Use::Coach).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    domain::coaching::check_coaching_open(seen.proposal.state)?;
    domain::coaching::check_note_room(store::coaching::count_notes(&mut tx, &id).await?)?;
    let note = NoteRow {
        id: new_id(),
        proposal_id: id,
        body,
        author: caller.subject.clone(),
        author_role: role_word(&caller).to_string(),
        version_number: seen.proposal.version_number,
        created_at: now_micros(),
    };
    store::coaching::insert_note(&mut tx, &note).await?;
    let reply = note_proto(&note);
    idempotency.commit(tx, &note.id, &reply).await?;
    Ok(reply)
}

pub(super) async fn list_notes(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListCoachingNotesRequest,
) -> Result<api::ListCoachingNotesResponse> {
    let id = parse_id("proposal_id", &req.proposal_id)?;
    let page = Page::parse(req.page_size, &req.page_token, &id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    seen_proposal(&mut tx, &viewer, &id, Use::Coach).await?;
    let (mut rows, total) =
        store::coaching::list_notes(&mut tx, &id, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListCoachingNotesResponse {
        notes: rows.iter().map(note_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(super) async fn assign(
    grants: &GrantsApi,
    caller: Caller,
    req: api::AssignCoachRequest,
) -> Result<api::Coach> {
    let (proposal_id, subject) = (
        parse_id("proposal_id", &req.proposal_id),
        domain::reviewers::parse_account("subject", &req.subject),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    let seen = seen_proposal(&mut tx, &viewer, &proposal_id, Use::Write).await?;
    domain::coaching::check_coaching_open(seen.proposal.state)?;
    if store::reviewers::reviewer_of(&mut tx, &subject)
        .await?
        .is_some()
    {
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
    store::coaching::insert_coach(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(coach_proto(&row))
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListCoachesRequest,
) -> Result<api::ListCoachesResponse> {
    let id = parse_id("proposal_id", &req.proposal_id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let viewer = viewer(&mut tx, &caller).await?;
    seen_proposal(&mut tx, &viewer, &id, Use::Coach).await?;
    let coaches = store::coaching::list_coaches(&mut tx, &id).await?;
    Ok(api::ListCoachesResponse {
        coaches: coaches.iter().map(coach_proto).collect(),
    })
}

pub(super) async fn remove(
    grants: &GrantsApi,
    caller: Caller,
    req: api::RemoveCoachRequest,
) -> Result<api::Coach> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let row = store::coaching::get_coach(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("coach", &id))?;
    store::coaching::delete_coach(&mut tx, &id).await?;
    tx.commit().await?;
    Ok(coach_proto(&row))
}

pub(super) fn note_proto(n: &NoteRow) -> api::CoachingNote {
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

pub(super) fn coach_proto(c: &CoachRow) -> api::Coach {
    api::Coach {
        id: c.id.clone(),
        proposal_id: c.proposal_id.clone(),
        subject: c.subject.clone(),
        assigned_by: c.assigned_by.clone(),
        create_time: Some(timestamp(c.created_at)),
    }
}
