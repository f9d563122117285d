//! The gRPC API: one handler per RPC, in a file per resource. The gate has
//! checked the caller's role by [`RIGHTS`] before a handler runs; a handler
//! checks the caller's right to the object, parses the request whole, runs
//! one transaction and writes the events it causes into that transaction's
//! outbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use markaz_kit::auth::{Caller, Role};
use markaz_kit::db::{Db, Tx};
use markaz_kit::error::{Error, Result};
use markaz_kit::rpc::{Access, Rights, Rpc};
use markaz_proto::membership::v1 as api;
use markaz_proto::membership::v1::membership_service_server::{
    MembershipService, MembershipServiceServer,
};
use tonic::server::NamedService;

use crate::store::{self, OrganizationRow, PersonRow};

mod affiliations;
mod assessments;
mod erasures;
mod organizations;
mod people;
mod tenants;

/// Who registers and changes the center's records.
const WRITE: &[Role] = &[Role::Admin, Role::Staff];
/// Who reads the directory of organizations (a partner its own only):
/// trainers — often outside experts — see whom they train, no more.
const DIRECTORY: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
/// Who reads what is personal or confidential — people and their contact
/// data, affiliations, incubation decisions, assessments: staff, and a
/// partner for its own organization. Never trainers or reviewers.
const CONFIDENTIAL: &[Role] = &[Role::Admin, Role::Staff, Role::Partner];
const TENANT_ADMIN: &[Role] = &[Role::Admin];
const OPERATOR: &[Role] = &[Role::Operator];

/// Who may call each method, in the proto's order.
pub const RIGHTS: &[Rights] = &[Rights {
    service: crate::NAME,
    grpc_service: <MembershipServiceServer<MembershipApi> as NamedService>::NAME,
    methods: &[
        ("CreateTenant", Access::Roles(OPERATOR)),
        ("ListTenants", Access::Roles(OPERATOR)),
        ("CreateBranch", Access::Roles(TENANT_ADMIN)),
        ("ListBranches", Access::Roles(&Role::TENANT)),
        ("CreateOrganization", Access::Roles(WRITE)),
        ("GetOrganization", Access::Roles(DIRECTORY)),
        ("ListOrganizations", Access::Roles(DIRECTORY)),
        ("UpdateOrganization", Access::Roles(WRITE)),
        ("ChangeIncubationStatus", Access::Roles(WRITE)),
        ("ListIncubationHistory", Access::Roles(CONFIDENTIAL)),
        ("CreatePerson", Access::Roles(WRITE)),
        ("GetPerson", Access::Roles(CONFIDENTIAL)),
        ("ListPeople", Access::Roles(CONFIDENTIAL)),
        ("UpdatePerson", Access::Roles(WRITE)),
        ("ErasePerson", Access::Roles(WRITE)),
        ("GetErasure", Access::Roles(WRITE)),
        ("ListErasures", Access::Roles(WRITE)),
        ("CreateAffiliation", Access::Roles(WRITE)),
        ("ListAffiliations", Access::Roles(CONFIDENTIAL)),
        ("EndAffiliation", Access::Roles(WRITE)),
        ("CreateAssessment", Access::Roles(WRITE)),
        ("GetAssessment", Access::Roles(CONFIDENTIAL)),
        ("ListAssessments", Access::Roles(CONFIDENTIAL)),
    ],
}];

markaz_kit::grpc_forwards! {
    impl MembershipService for MembershipApi {
        create_tenant(api::CreateTenantRequest) -> api::Tenant => tenants::create_tenant;
        list_tenants(api::ListTenantsRequest) -> api::ListTenantsResponse => tenants::list_tenants;
        create_branch(api::CreateBranchRequest) -> api::Branch => tenants::create_branch;
        list_branches(api::ListBranchesRequest) -> api::ListBranchesResponse => tenants::list_branches;
        create_organization(api::CreateOrganizationRequest) -> api::Organization => organizations::create;
        get_organization(api::GetOrganizationRequest) -> api::Organization => organizations::get;
        list_organizations(api::ListOrganizationsRequest) -> api::ListOrganizationsResponse => organizations::list;
        update_organization(api::UpdateOrganizationRequest) -> api::Organization => organizations::update;
        change_incubation_status(api::ChangeIncubationStatusRequest) -> api::Organization => organizations::change_incubation_status;
        list_incubation_history(api::ListIncubationHistoryRequest) -> api::ListIncubationHistoryResponse => organizations::list_incubation_history;
        create_person(api::CreatePersonRequest) -> api::Person => people::create;
        get_person(api::GetPersonRequest) -> api::Person => people::get;
        list_people(api::ListPeopleRequest) -> api::ListPeopleResponse => people::list;
        update_person(api::UpdatePersonRequest) -> api::Person => people::update;
        erase_person(api::ErasePersonRequest) -> api::Person => people::erase;
        get_erasure(api::GetErasureRequest) -> api::Erasure => erasures::get;
        list_erasures(api::ListErasuresRequest) -> api::ListErasuresResponse => erasures::list;
        create_affiliation(api::CreateAffiliationRequest) -> api::Affiliation => affiliations::create;
        list_affiliations(api::ListAffiliationsRequest) -> api::ListAffiliationsResponse => affiliations::list;
        end_affiliation(api::EndAffiliationRequest) -> api::Affiliation => affiliations::end;
        create_assessment(api::CreateAssessmentRequest) -> api::Assessment => assessments::create;
        get_assessment(api::GetAssessmentRequest) -> api::Assessment => assessments::get;
        list_assessments(api::ListAssessmentsRequest) -> api::ListAssessmentsResponse => assessments::list;
    }
}

#[derive(Clone, Debug)]
pub struct MembershipApi {
    db: Db,
    rpc: Rpc,
    /// Registered tenants, remembered once seen: a tenant is never changed
    /// or removed, and every create would otherwise read it again.
    tenants: Arc<Mutex<HashMap<String, store::TenantRow>>>,
    /// Per tenant, the generated organization numbers this process took
    /// and has not used yet: (next, last).
    numbers: Arc<Mutex<HashMap<String, (i64, i64)>>>,
    /// One refill of `numbers` at a time: the others wait and take from it.
    refill: Arc<tokio::sync::Mutex<()>>,
}

/// How many organization numbers a process takes at a time. Numbers are
/// dense while a process runs; a restart leaves the rest of its block
/// unused, and replicas number from blocks of their own.
const NUMBER_BLOCK: i64 = 64;

impl MembershipApi {
    pub fn new(db: Db, rpc: Rpc) -> Self {
        MembershipApi {
            db,
            rpc,
            tenants: Arc::default(),
            numbers: Arc::default(),
            refill: Arc::default(),
        }
    }

    /// The tenant's next generated organization number.
    async fn next_organization_number(&self, tenant: &str) -> Result<i64> {
        if let Some(n) = self.take_number(tenant) {
            return Ok(n);
        }
        let _refilling = self.refill.lock().await;
        if let Some(n) = self.take_number(tenant) {
            return Ok(n);
        }
        let mut tx = self.db.write(tenant).await?;
        let last = store::take_organization_numbers(&mut tx, NUMBER_BLOCK).await?;
        tx.commit().await?;
        let mut numbers = self.numbers.lock().expect("numbers lock");
        numbers.insert(tenant.to_string(), (last - NUMBER_BLOCK + 2, last));
        Ok(last - NUMBER_BLOCK + 1)
    }

    fn take_number(&self, tenant: &str) -> Option<i64> {
        let mut numbers = self.numbers.lock().expect("numbers lock");
        let entry = numbers.get_mut(tenant)?;
        if entry.0 > entry.1 {
            return None;
        }
        let n = entry.0;
        entry.0 += 1;
        Some(n)
    }

    /// The caller's tenant, which an operator must have registered.
    async fn require_tenant(&self, tx: &mut Tx) -> Result<store::TenantRow> {
        let id = tx.tenant().to_string();
        if let Some(t) = self.tenants.lock().expect("tenants lock").get(&id) {
            return Ok(t.clone());
        }
        let row = store::get_tenant(tx, &id).await?.ok_or_else(|| {
            Error::precondition(
                "TENANT_NOT_REGISTERED",
                format!("tenants/{id}"),
                format!("tenant '{id}' is not registered; an operator creates it first"),
            )
        })?;
        self.tenants
            .lock()
            .expect("tenants lock")
            .insert(id, row.clone());
        Ok(row)
    }
}

/// A branch a record names must be one of the tenant's ("" is none).
async fn check_branch(tx: &mut Tx, field: &str, branch_id: &str) -> Result<()> {
    if !branch_id.is_empty() && !store::branch_exists(tx, branch_id).await? {
        return Err(Error::invalid(
            field,
            format!("no branch '{branch_id}' in this tenant"),
        ));
    }
    Ok(())
}

/// The organization, if it exists in the caller's tenant and the caller may
/// see it; otherwise NOT_FOUND, whichever the reason.
async fn visible_organization(tx: &mut Tx, caller: &Caller, id: &str) -> Result<OrganizationRow> {
    if !caller.may_see_organization(id) {
        return Err(Error::not_found("organization", id));
    }
    store::get_organization(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("organization", id))
}

/// The person, if the caller may see them: staff and trainers see the
/// tenant's people, a partner only those affiliated with its organization.
async fn visible_person(tx: &mut Tx, caller: &Caller, id: &str) -> Result<PersonRow> {
    let row = store::get_person(tx, id)
        .await?
        .ok_or_else(|| Error::not_found("person", id))?;
    let visible = match caller.organizations() {
        markaz_kit::auth::Organizations::All => true,
        markaz_kit::auth::Organizations::Only(own) => store::is_affiliated(tx, id, own).await?,
        markaz_kit::auth::Organizations::None => false,
    };
    if !visible {
        return Err(Error::not_found("person", id));
    }
    Ok(row)
}
