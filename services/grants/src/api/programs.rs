//! Programs: the named grant schemes (the "Father Paolo Grant for
//! Community Projects") whose rounds are calls.

use markaz_kit::auth::Caller;
use markaz_kit::error::{AllValid, Error, Result};
use markaz_kit::rpc::{Idempotency, Page, check_etag, etag, new_id, parse_id};
use markaz_kit::time::timestamp;
use markaz_proto::grants::v1 as api;

use crate::domain::{self};
use crate::store::programs::ProgramRow;
use crate::store::{self};

use super::GrantsApi;

pub(super) async fn create(
    grants: &GrantsApi,
    caller: Caller,
    req: api::CreateProgramRequest,
) -> Result<api::Program> {
    let (idempotency, fields) = (
        Idempotency::of(&caller, &req.request_id, &req),
        domain::programs::parse_program(req.program.as_ref().unwrap_or(&Default::default())),
    )
        .all()?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    if let Some(done) = idempotency.replay(&mut tx).await? {
        return Ok(done);
    }
    let id = new_id();
    let row = store::programs::insert(&mut tx, &id, &fields).await?;
    let reply = program_proto(&row);
    idempotency.commit(tx, &id, &reply).await?;
    Ok(reply)
}

pub(super) async fn get(
    grants: &GrantsApi,
    caller: Caller,
    req: api::GetProgramRequest,
) -> Result<api::Program> {
    let id = parse_id("id", &req.id)?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let row = store::programs::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("program", &id))?;
    Ok(program_proto(&row))
}

pub(super) async fn list(
    grants: &GrantsApi,
    caller: Caller,
    req: api::ListProgramsRequest,
) -> Result<api::ListProgramsResponse> {
    let page = Page::parse(req.page_size, &req.page_token, "")?;
    let mut tx = grants.db.read(&caller.tenant).await?;
    let (mut rows, total) = store::programs::list(&mut tx, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.id.clone());
    Ok(api::ListProgramsResponse {
        programs: rows.iter().map(program_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

pub(super) async fn update(
    grants: &GrantsApi,
    caller: Caller,
    req: api::UpdateProgramRequest,
) -> Result<api::Program> {
    let sent = req.program.unwrap_or_default();
    let id = parse_id("program.id", &sent.id)?;
    let mask =
        markaz_kit::rpc::update_mask(req.update_mask.as_ref(), domain::programs::PROGRAM_MASK)?;
    let mut tx = grants.db.write(&caller.tenant).await?;
    let current = store::programs::get(&mut tx, &id)
        .await?
        .ok_or_else(|| Error::not_found("program", &id))?;
    check_etag("program.etag", &sent.etag, current.version)?;
    let mut merged = program_proto(&current);
    domain::programs::merge_program(&mut merged, &sent, &mask);
    let fields = domain::programs::parse_program(&merged)?;
    let row = store::programs::update(&mut tx, &current, &fields).await?;
    tx.commit().await?;
    Ok(program_proto(&row))
}

pub(super) fn program_proto(r: &ProgramRow) -> api::Program {
    api::Program {
        id: r.id.clone(),
        name: Some(r.fields.name.clone()),
        description: Some(r.fields.description.clone()),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}
