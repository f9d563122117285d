//! The gRPC API: maps protobuf to the domain and back, checks the caller's
//! role and right to each object, runs each request in one transaction and
//! writes the events it causes into the outbox of that same transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use markaz_kit::auth::{Caller, Role};
use markaz_kit::db::{Db, Tx};
use markaz_kit::error::{Error, Result, Violations, join};
use markaz_kit::rpc::{Idempotency, Page, Rpc, check_etag, etag, new_id, parse_id};
use markaz_kit::time::{Date, timestamp};
use markaz_kit::validate;
use markaz_proto::common::v1::{IncubationStatus, OrganizationKind};
use markaz_proto::events::v1 as ev;
use markaz_proto::membership::v1 as api;
use markaz_proto::membership::v1::membership_service_server::MembershipService;
use tonic::{Request, Response, Status};

use crate::domain::{self, AssessmentSpec};
use crate::store::{self, AffiliationRow, AssessmentRow, OrganizationRow, PersonRow};

/// Who may do what. Object-level rights (a partner sees its own organization
/// only) are checked in the handlers.
const WRITE: &[Role] = &[Role::Admin, Role::Staff];
const READ: &[Role] = &[Role::Admin, Role::Staff, Role::Trainer, Role::Partner];
const TENANT_ADMIN: &[Role] = &[Role::Admin];

#[derive(Clone, Debug)]
pub struct MembershipApi {
    db: Db,
    rpc: Rpc,
    /// Registered tenants, remembered once seen: a tenant is never changed
    /// or removed, and every create would otherwise read it again.
    tenants: Arc<Mutex<HashMap<String, store::TenantRow>>>,
}

impl MembershipApi {
    pub fn new(db: Db, rpc: Rpc) -> Self {
        MembershipApi {
            db,
            rpc,
            tenants: Arc::default(),
        }
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

type Reply<T> = std::result::Result<Response<T>, Status>;

/// The organization a partner caller is confined to (`None` for staff and
/// trainers, who see the tenant's all).
fn partner_org(caller: &Caller) -> Option<&str> {
    caller.partner_scope()
}

fn may_see_org(caller: &Caller, organization_id: &str) -> bool {
    partner_org(caller).is_none_or(|own| own == organization_id)
}

#[tonic::async_trait]
impl MembershipService for MembershipApi {
    async fn create_tenant(
        &self,
        request: Request<api::CreateTenantRequest>,
    ) -> Reply<api::Tenant> {
        self.rpc
            .run("CreateTenant", request, |caller, req| async move {
                caller.require(&[Role::Operator])?;
                let spec = domain::parse_tenant(req.tenant.as_ref())?;
                let mut tx = self.db.system().await?;
                let row = store::insert_tenant(&mut tx, &spec).await?;
                tx.commit().await?;
                tracing::info!(tenant = %spec.id, "tenant created");
                Ok(tenant_proto(&row))
            })
            .await
    }

    async fn list_tenants(
        &self,
        request: Request<api::ListTenantsRequest>,
    ) -> Reply<api::ListTenantsResponse> {
        self.rpc
            .run("ListTenants", request, |caller, req| async move {
                caller.require(&[Role::Operator])?;
                let page = Page::parse(req.page_size, &req.page_token, "")?;
                let mut tx = self.db.system().await?;
                let mut rows = store::list_tenants(&mut tx, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.spec.id.clone());
                Ok(api::ListTenantsResponse {
                    tenants: rows.iter().map(tenant_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn create_branch(
        &self,
        request: Request<api::CreateBranchRequest>,
    ) -> Reply<api::Branch> {
        self.rpc
            .run("CreateBranch", request, |caller, req| async move {
                caller.require(TENANT_ADMIN)?;
                let spec = domain::parse_branch(req.branch.as_ref())?;
                let mut tx = self.db.write(&caller.tenant).await?;
                self.require_tenant(&mut tx).await?;
                let row = store::insert_branch(&mut tx, &spec).await?;
                tx.commit().await?;
                Ok(branch_proto(&row))
            })
            .await
    }

    async fn list_branches(
        &self,
        request: Request<api::ListBranchesRequest>,
    ) -> Reply<api::ListBranchesResponse> {
        self.rpc
            .run("ListBranches", request, |caller, req| async move {
                caller.require(&Role::TENANT)?;
                let page = Page::parse(req.page_size, &req.page_token, "")?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows = store::list_branches(&mut tx, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.spec.id.clone());
                Ok(api::ListBranchesResponse {
                    branches: rows.iter().map(branch_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn create_organization(
        &self,
        request: Request<api::CreateOrganizationRequest>,
    ) -> Reply<api::Organization> {
        self.rpc
            .run("CreateOrganization", request, |caller, req| async move {
                caller.require(WRITE)?;
                let empty = api::Organization::default();
                let sent = req.organization.as_ref().unwrap_or(&empty);
                let mut v = Violations::new();
                let idempotency = v.absorb(
                    "request_id",
                    Idempotency::of("CreateOrganization", &caller, &req.request_id, &req),
                );
                let fields = v.absorb(
                    "organization",
                    domain::parse_organization("organization", sent),
                );
                let identifier = if sent.identifier.is_empty() {
                    None
                } else {
                    v.take(domain::parse_identifier(
                        "organization.identifier",
                        &sent.identifier,
                    ))
                };
                v.finish()?;
                let (idempotency, fields) =
                    (idempotency.expect("checked"), fields.expect("checked"));

                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                let tenant = self.require_tenant(&mut tx).await?;
                check_branch(&mut tx, "organization.branch_id", &fields.branch_id).await?;
                let identifier = match identifier {
                    Some(i) => i,
                    None => {
                        let n = tx.next_value("organization_numbers").await?;
                        domain::generated_identifier(&tenant.spec.identifier_prefix, n)
                    }
                };
                let status = domain::initial_status(req.apply_for_incubation);
                let id = new_id();
                let row =
                    store::insert_organization(&mut tx, &id, &identifier, &fields, status).await?;
                if status != IncubationStatus::None {
                    store::record_incubation_change(
                        &mut tx,
                        &id,
                        IncubationStatus::None,
                        status,
                        "registered as an applicant",
                        &caller.subject,
                        row.created_at,
                    )
                    .await?;
                }
                tx.publish(
                    &id,
                    &ev::OrganizationRegistered {
                        organization: Some(org_snapshot(&row)),
                    },
                )
                .await?;
                let reply = org_proto(&row);
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_organization(
        &self,
        request: Request<api::GetOrganizationRequest>,
    ) -> Reply<api::Organization> {
        self.rpc
            .run("GetOrganization", request, |caller, req| async move {
                caller.require(READ)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let row = visible_organization(&mut tx, &caller, &id).await?;
                Ok(org_proto(&row))
            })
            .await
    }

    async fn list_organizations(
        &self,
        request: Request<api::ListOrganizationsRequest>,
    ) -> Reply<api::ListOrganizationsResponse> {
        self.rpc
            .run("ListOrganizations", request, |caller, req| async move {
                caller.require(READ)?;
                let mut v = Violations::new();
                let kind = v
                    .take(validate::enumeration::<OrganizationKind>(
                        "kind", req.kind, false,
                    ))
                    .flatten();
                let status = v
                    .take(validate::enumeration::<IncubationStatus>(
                        "incubation_status",
                        req.incubation_status,
                        false,
                    ))
                    .flatten();
                let query = v.take(validate::line("query", &req.query, 100, false));
                if !req.branch_id.is_empty() {
                    v.take(validate::slug("branch_id", &req.branch_id, 40));
                }
                v.finish()?;
                let query = query.expect("checked");
                let filter = store::OrganizationFilter {
                    only_id: partner_org(&caller).unwrap_or("").to_string(),
                    kind: kind
                        .map(|k| k.as_str_name().to_string())
                        .unwrap_or_default(),
                    branch_id: req.branch_id.clone(),
                    incubation_status: status
                        .map(|s| s.as_str_name().to_string())
                        .unwrap_or_default(),
                    text: if query.is_empty() {
                        String::new()
                    } else {
                        validate::like_pattern(&query)
                    },
                };
                if partner_org(&caller) == Some("") {
                    return Ok(api::ListOrganizationsResponse::default());
                }
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!(
                        "{}|{}|{}|{}",
                        req.kind, req.branch_id, req.incubation_status, req.query
                    ),
                )?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows =
                    store::list_organizations(&mut tx, &filter, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListOrganizationsResponse {
                    organizations: rows.iter().map(org_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn update_organization(
        &self,
        request: Request<api::UpdateOrganizationRequest>,
    ) -> Reply<api::Organization> {
        self.rpc
            .run("UpdateOrganization", request, |caller, req| async move {
                caller.require(WRITE)?;
                let empty = api::Organization::default();
                let sent = req.organization.as_ref().unwrap_or(&empty);
                let id = parse_id("organization.id", &sent.id)?;
                let mask = markaz_kit::rpc::update_mask(
                    req.update_mask.as_ref(),
                    domain::ORGANIZATION_MASK,
                )?;
                let mut tx = self.db.write(&caller.tenant).await?;
                tx.lock("organizations", &id).await?;
                let current = visible_organization(&mut tx, &caller, &id).await?;
                check_etag("organization.etag", &sent.etag, current.version)?;
                let mut merged = org_proto(&current);
                domain::merge_organization(&mut merged, sent, &mask);
                let fields = domain::parse_organization("organization", &merged)?;
                if fields.branch_id != current.fields.branch_id {
                    check_branch(&mut tx, "organization.branch_id", &fields.branch_id).await?;
                }
                let row = store::update_organization(&mut tx, &current, &fields).await?;
                tx.publish(
                    &id,
                    &ev::OrganizationUpdated {
                        organization: Some(org_snapshot(&row)),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(org_proto(&row))
            })
            .await
    }

    async fn change_incubation_status(
        &self,
        request: Request<api::ChangeIncubationStatusRequest>,
    ) -> Reply<api::Organization> {
        self.rpc
            .run(
                "ChangeIncubationStatus",
                request,
                |caller, req| async move {
                    caller.require(WRITE)?;
                    let mut v = Violations::new();
                    let id = v.take(parse_id("organization_id", &req.organization_id));
                    let to = v
                        .take(validate::enumeration::<IncubationStatus>(
                            "status", req.status, true,
                        ))
                        .flatten();
                    let reason = v.take(validate::prose(
                        "reason",
                        &req.reason,
                        domain::PROSE_MAX,
                        false,
                    ));
                    v.finish()?;
                    let (id, to, reason) = (
                        id.expect("checked"),
                        to.expect("checked"),
                        reason.expect("checked"),
                    );
                    let mut tx = self.db.write(&caller.tenant).await?;
                    tx.lock("organizations", &id).await?;
                    let current = visible_organization(&mut tx, &caller, &id).await?;
                    check_etag("etag", &req.etag, current.version)?;
                    domain::check_transition(current.incubation_status, to, &reason)?;
                    let row = store::change_incubation_status(
                        &mut tx,
                        &current,
                        to,
                        &reason,
                        &caller.subject,
                    )
                    .await?;
                    tx.publish(
                        &id,
                        &ev::IncubationStatusChanged {
                            organization_id: id.clone(),
                            from: current.incubation_status as i32,
                            to: to as i32,
                            reason,
                            changed_at: Some(timestamp(row.updated_at)),
                            version: row.version,
                        },
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(org_proto(&row))
                },
            )
            .await
    }

    async fn list_incubation_history(
        &self,
        request: Request<api::ListIncubationHistoryRequest>,
    ) -> Reply<api::ListIncubationHistoryResponse> {
        self.rpc
            .run("ListIncubationHistory", request, |caller, req| async move {
                caller.require(READ)?;
                let id = parse_id("organization_id", &req.organization_id)?;
                let page = Page::parse(req.page_size, &req.page_token, &id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                visible_organization(&mut tx, &caller, &id).await?;
                let mut rows =
                    store::list_incubation_changes(&mut tx, &id, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListIncubationHistoryResponse {
                    changes: rows
                        .iter()
                        .map(|c| api::IncubationStatusChange {
                            from: c.from as i32,
                            to: c.to as i32,
                            reason: c.reason.clone(),
                            changed_by: c.changed_by.clone(),
                            change_time: Some(timestamp(c.changed_at)),
                        })
                        .collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn create_person(
        &self,
        request: Request<api::CreatePersonRequest>,
    ) -> Reply<api::Person> {
        self.rpc
            .run("CreatePerson", request, |caller, req| async move {
                caller.require(WRITE)?;
                let empty = api::Person::default();
                let (idempotency, fields) = join(
                    Idempotency::of("CreatePerson", &caller, &req.request_id, &req),
                    domain::parse_person("person", req.person.as_ref().unwrap_or(&empty)),
                )?;
                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                check_branch(&mut tx, "person.branch_id", &fields.branch_id).await?;
                let id = new_id();
                let row = store::insert_person(&mut tx, &id, &fields).await?;
                tx.publish(
                    &id,
                    &ev::PersonRegistered {
                        person: Some(person_snapshot(&row)),
                    },
                )
                .await?;
                let reply = person_proto(&row);
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_person(&self, request: Request<api::GetPersonRequest>) -> Reply<api::Person> {
        self.rpc
            .run("GetPerson", request, |caller, req| async move {
                caller.require(READ)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let row = visible_person(&mut tx, &caller, &id).await?;
                Ok(person_proto(&row))
            })
            .await
    }

    async fn list_people(
        &self,
        request: Request<api::ListPeopleRequest>,
    ) -> Reply<api::ListPeopleResponse> {
        self.rpc
            .run("ListPeople", request, |caller, req| async move {
                caller.require(READ)?;
                let mut v = Violations::new();
                let organization_id = if req.organization_id.is_empty() {
                    Some(String::new())
                } else {
                    v.take(parse_id("organization_id", &req.organization_id))
                };
                if !req.branch_id.is_empty() {
                    v.take(validate::slug("branch_id", &req.branch_id, 40));
                }
                let query = v.take(validate::line("query", &req.query, 100, false));
                v.finish()?;
                let mut organization_id = organization_id.expect("checked");
                if let Some(own) = partner_org(&caller) {
                    if !organization_id.is_empty() && organization_id != own {
                        return Ok(api::ListPeopleResponse::default());
                    }
                    if own.is_empty() {
                        return Ok(api::ListPeopleResponse::default());
                    }
                    organization_id = own.to_string();
                }
                let query = query.expect("checked");
                let filter = store::PersonFilter {
                    organization_id,
                    branch_id: req.branch_id.clone(),
                    text: if query.is_empty() {
                        String::new()
                    } else {
                        validate::like_pattern(&query)
                    },
                };
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!("{}|{}|{}", req.organization_id, req.branch_id, req.query),
                )?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows =
                    store::list_people(&mut tx, &filter, &page.after, page.fetch()).await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListPeopleResponse {
                    people: rows.iter().map(person_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn update_person(
        &self,
        request: Request<api::UpdatePersonRequest>,
    ) -> Reply<api::Person> {
        self.rpc
            .run("UpdatePerson", request, |caller, req| async move {
                caller.require(WRITE)?;
                let empty = api::Person::default();
                let sent = req.person.as_ref().unwrap_or(&empty);
                let id = parse_id("person.id", &sent.id)?;
                let mask =
                    markaz_kit::rpc::update_mask(req.update_mask.as_ref(), domain::PERSON_MASK)?;
                let mut tx = self.db.write(&caller.tenant).await?;
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
                let mut merged = person_proto(&current);
                domain::merge_person(&mut merged, sent, &mask);
                let fields = domain::parse_person("person", &merged)?;
                if fields.branch_id != current.fields.branch_id {
                    check_branch(&mut tx, "person.branch_id", &fields.branch_id).await?;
                }
                let row = store::update_person(&mut tx, &current, &fields).await?;
                tx.publish(
                    &id,
                    &ev::PersonUpdated {
                        person: Some(person_snapshot(&row)),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(person_proto(&row))
            })
            .await
    }

    async fn erase_person(&self, request: Request<api::ErasePersonRequest>) -> Reply<api::Person> {
        self.rpc
            .run("ErasePerson", request, |caller, req| async move {
                caller.require(WRITE)?;
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
                tx.lock("people", &id).await?;
                let current = visible_person(&mut tx, &caller, &id).await?;
                if current.erased {
                    // Erasure is done once; asking again changes nothing.
                    return Ok(person_proto(&current));
                }
                let kept = domain::erased(&current.fields);
                let row = store::erase_person(&mut tx, &current, &kept, &reason).await?;
                tx.forget_aggregate(&id).await?;
                tx.publish(
                    &id,
                    &ev::PersonErased {
                        person_id: id.clone(),
                    },
                )
                .await?;
                tx.commit().await?;
                tracing::info!(person = %id, "person erased");
                Ok(person_proto(&row))
            })
            .await
    }

    async fn create_affiliation(
        &self,
        request: Request<api::CreateAffiliationRequest>,
    ) -> Reply<api::Affiliation> {
        self.rpc
            .run("CreateAffiliation", request, |caller, req| async move {
                caller.require(WRITE)?;
                let (idempotency, spec) = join(
                    Idempotency::of("CreateAffiliation", &caller, &req.request_id, &req),
                    domain::parse_affiliation(req.affiliation.as_ref()),
                )?;
                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                // Affiliations of one person queue here, so two at once cannot
                // both find none and both be created.
                tx.lock("people", &spec.person_id).await?;
                let person = store::get_person(&mut tx, &spec.person_id)
                    .await?
                    .ok_or_else(|| Error::not_found("person", &spec.person_id))?;
                if person.erased {
                    return Err(Error::precondition(
                        "PERSON_ERASED",
                        format!("people/{}", spec.person_id),
                        "an erased person cannot be affiliated",
                    ));
                }
                store::get_organization(&mut tx, &spec.organization_id)
                    .await?
                    .ok_or_else(|| Error::not_found("organization", &spec.organization_id))?;
                if store::is_affiliated(&mut tx, &spec.person_id, &spec.organization_id).await? {
                    return Err(Error::AlreadyExists(
                        "the person is already affiliated with this organization".into(),
                    ));
                }
                let id = new_id();
                let row = store::insert_affiliation(&mut tx, &id, &spec).await?;
                tx.publish(
                    &id,
                    &ev::PersonAffiliated {
                        affiliation_id: id.clone(),
                        person_id: spec.person_id.clone(),
                        organization_id: spec.organization_id.clone(),
                        role: spec.role.clone(),
                    },
                )
                .await?;
                let reply = affiliation_proto(&row);
                idempotency.remember(&mut tx, &id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn list_affiliations(
        &self,
        request: Request<api::ListAffiliationsRequest>,
    ) -> Reply<api::ListAffiliationsResponse> {
        self.rpc
            .run("ListAffiliations", request, |caller, req| async move {
                caller.require(READ)?;
                let mut v = Violations::new();
                let mut organization_id = if req.organization_id.is_empty() {
                    Some(String::new())
                } else {
                    v.take(parse_id("organization_id", &req.organization_id))
                };
                let person_id = if req.person_id.is_empty() {
                    Some(String::new())
                } else {
                    v.take(parse_id("person_id", &req.person_id))
                };
                v.finish()?;
                if let Some(own) = partner_org(&caller) {
                    let asked = organization_id.as_deref().unwrap_or("");
                    if own.is_empty() || (!asked.is_empty() && asked != own) {
                        return Ok(api::ListAffiliationsResponse::default());
                    }
                    organization_id = Some(own.to_string());
                }
                let (organization_id, person_id) = (
                    organization_id.expect("checked"),
                    person_id.expect("checked"),
                );
                let page = Page::parse(
                    req.page_size,
                    &req.page_token,
                    &format!(
                        "{}|{}|{}",
                        req.organization_id, req.person_id, req.include_ended
                    ),
                )?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows = store::list_affiliations(
                    &mut tx,
                    &organization_id,
                    &person_id,
                    req.include_ended,
                    &page.after,
                    page.fetch(),
                )
                .await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListAffiliationsResponse {
                    affiliations: rows.iter().map(affiliation_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }

    async fn end_affiliation(
        &self,
        request: Request<api::EndAffiliationRequest>,
    ) -> Reply<api::Affiliation> {
        self.rpc
            .run("EndAffiliation", request, |caller, req| async move {
                caller.require(WRITE)?;
                let mut v = Violations::new();
                let id = v.take(parse_id("id", &req.id));
                let end = v.take(Date::optional("end_date", req.end_date.as_ref()));
                v.finish()?;
                let id = id.expect("checked");
                let end = end.expect("checked").unwrap_or_else(Date::today);
                let mut tx = self.db.write(&caller.tenant).await?;
                let current = store::get_affiliation(&mut tx, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("affiliation", &id))?;
                if current.end_date.is_some() {
                    return Err(Error::precondition(
                        "AFFILIATION_ENDED",
                        format!("affiliations/{id}"),
                        "the affiliation has ended already",
                    ));
                }
                if current.spec.start_date.is_some_and(|start| end < start) {
                    return Err(Error::invalid("end_date", "before the affiliation started"));
                }
                let row = store::end_affiliation(&mut tx, &current, end).await?;
                tx.publish(
                    &id,
                    &ev::AffiliationEnded {
                        affiliation_id: id.clone(),
                        person_id: row.spec.person_id.clone(),
                        organization_id: row.spec.organization_id.clone(),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(affiliation_proto(&row))
            })
            .await
    }

    async fn create_assessment(
        &self,
        request: Request<api::CreateAssessmentRequest>,
    ) -> Reply<api::Assessment> {
        self.rpc
            .run("CreateAssessment", request, |caller, req| async move {
                caller.require(WRITE)?;
                let (idempotency, spec) = join(
                    Idempotency::of("CreateAssessment", &caller, &req.request_id, &req),
                    domain::parse_assessment(req.assessment.as_ref()),
                )?;
                let mut tx = self.db.write(&caller.tenant).await?;
                if let Some(done) = idempotency.replay(&mut tx).await? {
                    return Ok(done);
                }
                store::get_organization(&mut tx, &spec.organization_id)
                    .await?
                    .ok_or_else(|| Error::not_found("organization", &spec.organization_id))?;
                let previous =
                    store::previous_assessment(&mut tx, &spec.organization_id, spec.assessed_on)
                        .await?;
                let row = assessed(&caller, spec, previous);
                store::insert_assessment(&mut tx, &row).await?;
                tx.publish(
                    &row.id,
                    &ev::AssessmentCompleted {
                        assessment_id: row.id.clone(),
                        organization_id: row.spec.organization_id.clone(),
                        assessed_on: Some(row.spec.assessed_on.to_proto()),
                        scores: row
                            .spec
                            .domains
                            .iter()
                            .map(|d| ev::DomainScore {
                                domain: d.domain as i32,
                                score: d.score,
                            })
                            .collect(),
                    },
                )
                .await?;
                let reply = assessment_proto(&row);
                idempotency.remember(&mut tx, &row.id, &reply).await?;
                tx.commit().await?;
                Ok(reply)
            })
            .await
    }

    async fn get_assessment(
        &self,
        request: Request<api::GetAssessmentRequest>,
    ) -> Reply<api::Assessment> {
        self.rpc
            .run("GetAssessment", request, |caller, req| async move {
                caller.require(READ)?;
                let id = parse_id("id", &req.id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let row = store::get_assessment(&mut tx, &id)
                    .await?
                    .filter(|a| may_see_org(&caller, &a.spec.organization_id))
                    .ok_or_else(|| Error::not_found("assessment", &id))?;
                Ok(assessment_proto(&row))
            })
            .await
    }

    async fn list_assessments(
        &self,
        request: Request<api::ListAssessmentsRequest>,
    ) -> Reply<api::ListAssessmentsResponse> {
        self.rpc
            .run("ListAssessments", request, |caller, req| async move {
                caller.require(READ)?;
                let mut organization_id = if req.organization_id.is_empty() {
                    String::new()
                } else {
                    parse_id("organization_id", &req.organization_id)?
                };
                if let Some(own) = partner_org(&caller) {
                    if own.is_empty() || (!organization_id.is_empty() && organization_id != own) {
                        return Ok(api::ListAssessmentsResponse::default());
                    }
                    organization_id = own.to_string();
                }
                let page = Page::parse(req.page_size, &req.page_token, &req.organization_id)?;
                let mut tx = self.db.read(&caller.tenant).await?;
                let mut rows =
                    store::list_assessments(&mut tx, &organization_id, &page.after, page.fetch())
                        .await?;
                let next_page_token = page.finish(&mut rows, |r| r.id.clone());
                Ok(api::ListAssessmentsResponse {
                    assessments: rows.iter().map(assessment_proto).collect(),
                    next_page_token,
                })
            })
            .await
    }
}

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
    if !may_see_org(caller, id) {
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
    if let Some(own) = partner_org(caller)
        && (own.is_empty() || !store::is_affiliated(tx, id, own).await?)
    {
        return Err(Error::not_found("person", id));
    }
    Ok(row)
}

/// Completes an assessment with what is computed when it is recorded.
fn assessed(
    caller: &Caller,
    spec: AssessmentSpec,
    previous: Option<(String, Vec<(markaz_proto::common::v1::CapacityDomain, i32)>)>,
) -> AssessmentRow {
    let changes = domain::changes(&spec.domains, previous.as_ref().map(|(_, s)| s.as_slice()));
    let computed = spec
        .domains
        .iter()
        .zip(changes)
        .map(|(d, (change, had))| (domain::consensus_spread(&d.participant_scores), change, had))
        .collect();
    AssessmentRow {
        id: new_id(),
        average_score: domain::average_score(&spec.domains),
        computed,
        assessed_by: caller.subject.clone(),
        previous_assessment_id: previous.map(|(id, _)| id).unwrap_or_default(),
        created_at: markaz_kit::time::now_micros(),
        spec,
    }
}

// ------------------------------------------------------------ mappings

fn tenant_proto(r: &store::TenantRow) -> api::Tenant {
    api::Tenant {
        id: r.spec.id.clone(),
        name: Some(r.spec.name.clone()),
        identifier_prefix: r.spec.identifier_prefix.clone(),
        create_time: Some(timestamp(r.created_at)),
    }
}

fn branch_proto(r: &store::BranchRow) -> api::Branch {
    api::Branch {
        id: r.spec.id.clone(),
        name: Some(r.spec.name.clone()),
        governorate: r.spec.governorate.clone(),
        create_time: Some(timestamp(r.created_at)),
    }
}

fn org_proto(r: &OrganizationRow) -> api::Organization {
    let f = &r.fields;
    api::Organization {
        id: r.id.clone(),
        identifier: r.identifier.clone(),
        kind: f.kind as i32,
        name: Some(f.name.clone()),
        acronym: f.acronym.clone(),
        governorate: f.governorate.clone(),
        branch_id: f.branch_id.clone(),
        sectors: f.sectors.iter().map(|s| *s as i32).collect(),
        description: Some(f.description.clone()),
        email: f.email.clone(),
        phone: f.phone.clone(),
        incubation_status: r.incubation_status as i32,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        etag: etag(r.version),
    }
}

fn org_snapshot(r: &OrganizationRow) -> ev::OrganizationSnapshot {
    let f = &r.fields;
    ev::OrganizationSnapshot {
        id: r.id.clone(),
        identifier: r.identifier.clone(),
        kind: f.kind as i32,
        name: Some(f.name.clone()),
        governorate: f.governorate.clone(),
        branch_id: f.branch_id.clone(),
        sectors: f.sectors.iter().map(|s| *s as i32).collect(),
        incubation_status: r.incubation_status as i32,
        version: r.version,
    }
}

fn person_proto(r: &PersonRow) -> api::Person {
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
    }
}

fn person_snapshot(r: &PersonRow) -> ev::PersonSnapshot {
    ev::PersonSnapshot {
        id: r.id.clone(),
        full_name: r.fields.full_name.clone(),
        gender: r.fields.gender as i32,
        age_band: r.fields.age_band as i32,
        branch_id: r.fields.branch_id.clone(),
        version: r.version,
    }
}

fn affiliation_proto(r: &AffiliationRow) -> api::Affiliation {
    api::Affiliation {
        id: r.id.clone(),
        person_id: r.spec.person_id.clone(),
        organization_id: r.spec.organization_id.clone(),
        role: r.spec.role.clone(),
        start_date: r.spec.start_date.map(Date::to_proto),
        end_date: r.end_date.map(Date::to_proto),
        create_time: Some(timestamp(r.created_at)),
    }
}

fn assessment_proto(r: &AssessmentRow) -> api::Assessment {
    api::Assessment {
        id: r.id.clone(),
        organization_id: r.spec.organization_id.clone(),
        assessed_on: Some(r.spec.assessed_on.to_proto()),
        domains: r
            .spec
            .domains
            .iter()
            .zip(&r.computed)
            .map(|(d, (spread, change, had))| api::DomainAssessment {
                domain: d.domain as i32,
                score: d.score,
                justification: d.justification.clone(),
                participant_scores: d
                    .participant_scores
                    .iter()
                    .map(|(participant, score)| api::ParticipantScore {
                        participant: participant.clone(),
                        score: *score,
                    })
                    .collect(),
                consensus_spread: *spread,
                change: *change,
                has_previous: *had,
            })
            .collect(),
        action_plan: r
            .spec
            .action_plan
            .iter()
            .map(|a| api::ActionItem {
                domain: a.domain as i32,
                gap: a.gap.clone(),
                action: a.action.clone(),
                due_date: Some(a.due_date.to_proto()),
                owner: a.owner.clone(),
            })
            .collect(),
        notes: r.spec.notes.clone(),
        assessed_by: r.assessed_by.clone(),
        previous_assessment_id: r.previous_assessment_id.clone(),
        average_score: r.average_score,
        create_time: Some(timestamp(r.created_at)),
    }
}
