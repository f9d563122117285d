//! The consortium's structure: tenants (an operator registers them) and the
//! branches of a tenant.

use markaz_kit::auth::Caller;
use markaz_kit::error::Result;
use markaz_kit::rpc::Page;
use markaz_kit::time::timestamp;
use markaz_proto::membership::v1 as api;

use super::MembershipApi;
use crate::domain;
use crate::store::{self, BranchRow, TenantRow};

pub(super) async fn create_tenant(
    api: &MembershipApi,
    _: Caller,
    req: api::CreateTenantRequest,
) -> Result<api::Tenant> {
    let empty = api::Tenant::default();
    let row = crate::create_tenant(&api.db, req.tenant.as_ref().unwrap_or(&empty)).await?;
    tracing::info!(tenant = %row.spec.id, "tenant created");
    Ok(tenant_proto(&row))
}

pub(super) async fn list_tenants(
    api: &MembershipApi,
    _: Caller,
    req: api::ListTenantsRequest,
) -> Result<api::ListTenantsResponse> {
    let page = Page::parse(req.page_size, &req.page_token, "")?;
    let mut tx = api.db.system().await?;
    let mut rows = store::list_tenants(&mut tx, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.spec.id.clone());
    Ok(api::ListTenantsResponse {
        tenants: rows.iter().map(tenant_proto).collect(),
        next_page_token,
    })
}

pub(super) async fn create_branch(
    api: &MembershipApi,
    caller: Caller,
    req: api::CreateBranchRequest,
) -> Result<api::Branch> {
    let spec = domain::parse_branch(req.branch.as_ref())?;
    let mut tx = api.db.write(&caller.tenant).await?;
    api.require_tenant(&mut tx).await?;
    let row = store::insert_branch(&mut tx, &spec).await?;
    tx.commit().await?;
    Ok(branch_proto(&row))
}

pub(super) async fn list_branches(
    api: &MembershipApi,
    caller: Caller,
    req: api::ListBranchesRequest,
) -> Result<api::ListBranchesResponse> {
    let page = Page::parse(req.page_size, &req.page_token, "")?;
    let mut tx = api.db.read(&caller.tenant).await?;
    let (mut rows, total) = store::list_branches(&mut tx, &page.after, page.fetch()).await?;
    let next_page_token = page.finish(&mut rows, |r| r.spec.id.clone());
    Ok(api::ListBranchesResponse {
        branches: rows.iter().map(branch_proto).collect(),
        next_page_token,
        total_size: total.size,
    })
}

fn tenant_proto(r: &TenantRow) -> api::Tenant {
    api::Tenant {
        id: r.spec.id.clone(),
        name: Some(r.spec.name.clone()),
        identifier_prefix: r.spec.identifier_prefix.clone(),
        create_time: Some(timestamp(r.created_at)),
    }
}

fn branch_proto(r: &BranchRow) -> api::Branch {
    api::Branch {
        id: r.spec.id.clone(),
        name: Some(r.spec.name.clone()),
        governorate: r.spec.governorate.clone(),
        create_time: Some(timestamp(r.created_at)),
    }
}
