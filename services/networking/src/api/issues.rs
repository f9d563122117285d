//! The catalogue of issues events, coalitions and campaigns are about.

use markaz_kit::auth::Caller;
use markaz_kit::db::Tx;
use markaz_kit::error::{Error, Result, Violations};
use markaz_kit::rpc::{Page, check_etag, etag, update_mask};
use markaz_kit::time::timestamp;
use markaz_proto::networking::v1 as api;

use super::NetworkingApi;
use crate::domain::issue_code;
use crate::domain::issues::{ISSUE_MASK, merge_issue, parse_issue};
use crate::store;
use crate::store::issues::Issue;

pub(crate) async fn create(
    n: &NetworkingApi,
    caller: Caller,
    req: api::CreateIssueRequest,
) -> Result<api::Issue> {
    let fields = parse_issue(req.issue.as_ref())?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let issue = store::issues::insert(&mut tx, &fields)
        .await?
        .ok_or_else(|| Error::AlreadyExists(format!("issue '{}' exists", fields.code)))?;
    tx.commit().await?;
    Ok(proto(&issue))
}

pub(crate) async fn get(
    n: &NetworkingApi,
    caller: Caller,
    req: api::GetIssueRequest,
) -> Result<api::Issue> {
    let code = issue_code("code", &req.code)?;
    let mut tx = n.db.read(&caller.tenant).await?;
    let issue = store::issues::get(&mut tx, &code)
        .await?
        .ok_or_else(|| Error::not_found("issue", &code))?;
    Ok(proto(&issue))
}

pub(crate) async fn list(
    n: &NetworkingApi,
    caller: Caller,
    req: api::ListIssuesRequest,
) -> Result<api::ListIssuesResponse> {
    let page = Page::parse(
        req.page_size,
        &req.page_token,
        &req.include_archived.to_string(),
    )?;
    let mut tx = n.db.read(&caller.tenant).await?;
    let (mut issues, total_size) =
        store::issues::list(&mut tx, req.include_archived, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut issues, |i| i.fields.code.clone());
    Ok(api::ListIssuesResponse {
        issues: issues.iter().map(proto).collect(),
        next_page_token,
        total_size,
    })
}

pub(crate) async fn update(
    n: &NetworkingApi,
    caller: Caller,
    req: api::UpdateIssueRequest,
) -> Result<api::Issue> {
    let sent = req.issue.unwrap_or_default();
    let code = issue_code("issue.code", &sent.code)?;
    let mask = update_mask(req.update_mask.as_ref(), ISSUE_MASK)?;
    let mut tx = n.db.write(&caller.tenant).await?;
    let current = store::issues::get(&mut tx, &code)
        .await?
        .ok_or_else(|| Error::not_found("issue", &code))?;
    check_etag("issue.etag", &sent.etag, current.version)?;
    let mut merged = proto(&current);
    merge_issue(&mut merged, &sent, &mask);
    let fields = parse_issue(Some(&merged))?;
    if fields == current.fields {
        return Ok(proto(&current));
    }
    let issue = store::issues::update(&mut tx, &current, &fields).await?;
    tx.commit().await?;
    Ok(proto(&issue))
}

/// Every code must be in the catalogue, and not archived unless the object
/// had it before (`kept`). Only a missing or archived code is the caller's
/// fault; a database failure passes through as what it is.
pub(crate) async fn check_codes(
    tx: &mut Tx,
    field: &str,
    codes: &[String],
    kept: &[String],
) -> Result<()> {
    let fields: Vec<String> = (0..codes.len()).map(|i| format!("{field}[{i}]")).collect();
    check_named(tx, &fields, codes, kept).await
}

/// One code in a field of its own (a campaign's single issue).
pub(crate) async fn check_code(
    tx: &mut Tx,
    field: &str,
    code: &str,
    kept: &[String],
) -> Result<()> {
    check_named(tx, &[field.to_string()], &[code.to_string()], kept).await
}

async fn check_named(
    tx: &mut Tx,
    fields: &[String],
    codes: &[String],
    kept: &[String],
) -> Result<()> {
    if codes.is_empty() {
        return Ok(());
    }
    let known = store::issues::archived(tx, codes).await?;
    let mut v = Violations::new();
    for (field, code) in fields.iter().zip(codes) {
        match known.get(code) {
            None => v.add(field, format!("no issue '{code}' in the catalogue")),
            Some(true) if !kept.contains(code) => {
                v.add(field, format!("the issue '{code}' is archived"))
            }
            Some(_) => {}
        }
    }
    v.finish()
}

pub(crate) fn proto(i: &Issue) -> api::Issue {
    api::Issue {
        code: i.fields.code.clone(),
        name: Some(i.fields.name.clone()),
        description: Some(i.fields.description.clone()),
        archived: i.fields.archived,
        create_time: Some(timestamp(i.created_at)),
        update_time: Some(timestamp(i.updated_at)),
        etag: etag(i.version),
    }
}
