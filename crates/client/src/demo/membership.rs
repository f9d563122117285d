//! Membership: the two branches, the organizations (and their incubation),
//! the people with their gender and age band, and who belongs where.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use markaz_proto::common::v1::IncubationStatus;
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;

use super::center::{self, BRANCHES, Fate, ORGS};
use super::{Ids, Seed, ar_of, parallel, rid, text};
use crate::rpc::{Api, all};

fn client(api: &Api) -> MembershipServiceClient<tonic::transport::Channel> {
    MembershipServiceClient::new(api.channel.clone())
}

async fn organizations(api: &Api) -> Result<Vec<mem::Organization>, String> {
    all("ListOrganizations", |page_token| async move {
        let r = api
            .call("ListOrganizations", || {
                let mut c = client(api);
                let r = api.request(mem::ListOrganizationsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_organizations(r).await }
            })
            .await?;
        Ok((r.organizations, r.next_page_token))
    })
    .await
}

/// The steps of the progress bar: an organization, a person and their
/// affiliation, a graduation or withdrawal.
pub(crate) fn steps() -> usize {
    let ends = ORGS
        .iter()
        .filter(|o| matches!(o.fate, Fate::Graduated | Fate::Withdrawn))
        .count();
    ORGS.len() + 2 * center::people().len() + ends
}

pub(crate) async fn seed(seed: &Arc<Seed>) -> Result<Ids, String> {
    let api = &seed.api;
    let people = center::people();
    seed.progress
        .phase("membership: branches, organizations, people");

    // Branches, by their id.
    let have: HashSet<String> = api
        .call("ListBranches", || {
            let mut c = client(api);
            let r = api.request(mem::ListBranchesRequest {
                page_size: 500,
                page_token: String::new(),
            });
            async move { c.list_branches(r).await }
        })
        .await?
        .branches
        .into_iter()
        .map(|b| b.id)
        .collect();
    for b in &BRANCHES {
        if have.contains(b.id) {
            seed.found("branches");
            continue;
        }
        api.call("CreateBranch", || {
            let mut c = client(api);
            let r = api.request(mem::CreateBranchRequest {
                branch: Some(mem::Branch {
                    id: b.id.into(),
                    name: text(b.ar, b.en),
                    governorate: b.governorate.into(),
                    create_time: None,
                }),
            });
            async move { c.create_branch(r).await }
        })
        .await?;
        seed.created("branches");
    }

    // Organizations, by their Arabic name; partners apply for incubation
    // and are incubated (graduations and withdrawals come last).
    let existing: HashMap<String, mem::Organization> = organizations(api)
        .await?
        .into_iter()
        .map(|o| (ar_of(&o.name), o))
        .collect();
    let existing = Arc::new(existing);
    let (s, e) = (seed.clone(), existing.clone());
    let orgs = parallel(seed, ORGS.len(), move |i| {
        let (s, e) = (s.clone(), e.clone());
        async move {
            let o = &ORGS[i];
            let api = &s.api;
            let mut org = match e.get(o.ar) {
                Some(found) => {
                    s.found("organizations");
                    found.clone()
                }
                None => {
                    let made = api
                        .call(&format!("CreateOrganization {}", o.en), || {
                            let mut c = client(api);
                            let r = api.request(mem::CreateOrganizationRequest {
                                organization: Some(mem::Organization {
                                    kind: o.kind as i32,
                                    name: text(o.ar, o.en),
                                    acronym: o.acronym.into(),
                                    governorate: BRANCHES[o.branch].governorate.into(),
                                    branch_id: BRANCHES[o.branch].id.into(),
                                    sectors: vec![o.sector as i32],
                                    ..Default::default()
                                }),
                                apply_for_incubation: o.fate != Fate::Outside,
                                request_id: rid(&format!("org-{i:02}")),
                            });
                            async move { c.create_organization(r).await }
                        })
                        .await?;
                    s.created("organizations");
                    made
                }
            };
            if o.fate != Fate::Outside
                && org.incubation_status == IncubationStatus::Applicant as i32
            {
                org = change(
                    api,
                    &org.id,
                    IncubationStatus::Incubated,
                    "قبول لجنة الاحتضان بعد تقييم الاحتياجات",
                )
                .await?;
                s.created("incubation moves");
            }
            Ok(org.id)
        }
    })
    .await?;

    // People, by their full name.
    let known: HashMap<String, String> = all("ListPeople", |page_token| async move {
        let r = api
            .call("ListPeople", || {
                let mut c = client(api);
                let r = api.request(mem::ListPeopleRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_people(r).await }
            })
            .await?;
        Ok((r.people, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|p| (p.full_name, p.id))
    .collect();
    let (s, known, plan) = (seed.clone(), Arc::new(known), Arc::new(people));
    let p2 = plan.clone();
    let person_ids = parallel(seed, plan.len(), move |i| {
        let (s, known, plan) = (s.clone(), known.clone(), p2.clone());
        async move {
            let p = &plan[i];
            if let Some(id) = known.get(&p.name) {
                s.found("people");
                return Ok(id.clone());
            }
            let api = &s.api;
            let made = api
                .call("CreatePerson", || {
                    let mut c = client(api);
                    let r = api.request(mem::CreatePersonRequest {
                        person: Some(mem::Person {
                            full_name: p.name.clone(),
                            gender: p.gender as i32,
                            age_band: p.age as i32,
                            branch_id: BRANCHES[ORGS[p.org].branch].id.into(),
                            legal_basis: mem::LegalBasis::Consent as i32,
                            processing_purpose: "المشاركة في برامج المركز (تدريب، استشارات، تشبيك)"
                                .into(),
                            ..Default::default()
                        }),
                        request_id: rid(&format!("person-{i:03}")),
                    });
                    async move { c.create_person(r).await }
                })
                .await?;
            s.created("people");
            Ok(made.id)
        }
    })
    .await?;

    // Affiliations: each person with their organization, once.
    let affiliated: HashSet<(String, String)> = all("ListAffiliations", |page_token| async move {
        let r = api
            .call("ListAffiliations", || {
                let mut c = client(api);
                let r = api.request(mem::ListAffiliationsRequest {
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                });
                async move { c.list_affiliations(r).await }
            })
            .await?;
        Ok((r.affiliations, r.next_page_token))
    })
    .await?
    .into_iter()
    .map(|a| (a.person_id, a.organization_id))
    .collect();
    let (s, affiliated) = (seed.clone(), Arc::new(affiliated));
    let (pids, oids) = (Arc::new(person_ids.clone()), Arc::new(orgs.clone()));
    let person_org = plan.iter().map(|p| orgs[p.org].clone()).collect();
    parallel(seed, plan.len(), move |i| {
        let (s, affiliated, plan, pids, oids) = (
            s.clone(),
            affiliated.clone(),
            plan.clone(),
            pids.clone(),
            oids.clone(),
        );
        async move {
            let (person, org) = (pids[i].clone(), oids[plan[i].org].clone());
            if affiliated.contains(&(person.clone(), org.clone())) {
                s.found("affiliations");
                return Ok(());
            }
            let api = &s.api;
            api.call("CreateAffiliation", || {
                let mut c = client(api);
                let r = api.request(mem::CreateAffiliationRequest {
                    affiliation: Some(mem::Affiliation {
                        person_id: person.clone(),
                        organization_id: org.clone(),
                        role: plan[i].role.into(),
                        ..Default::default()
                    }),
                    request_id: rid(&format!("affiliation-{i:03}")),
                });
                async move { c.create_affiliation(r).await }
            })
            .await?;
            s.created("affiliations");
            Ok(())
        }
    })
    .await?;
    Ok(Ids {
        person_org,
        orgs,
        people: person_ids,
    })
}

async fn change(
    api: &Api,
    org: &str,
    to: IncubationStatus,
    reason: &str,
) -> Result<mem::Organization, String> {
    api.call("ChangeIncubationStatus", || {
        let mut c = client(api);
        let r = api.request(mem::ChangeIncubationStatusRequest {
            organization_id: org.into(),
            status: to as i32,
            reason: reason.into(),
            etag: String::new(),
        });
        async move { c.change_incubation_status(r).await }
    })
    .await
}

/// The last moves of the program: four partners graduate after their
/// project, two withdraw.
pub(crate) async fn finish(seed: &Arc<Seed>, ids: &Ids) -> Result<(), String> {
    let api = &seed.api;
    let ends: Vec<(usize, IncubationStatus, &str)> = ORGS
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o.fate {
            Fate::Graduated => Some((
                i,
                IncubationStatus::Graduated,
                "أتمّت برنامج الاحتضان ونفّذت مشروعها المجتمعي",
            )),
            Fate::Withdrawn => Some((
                i,
                IncubationStatus::Withdrawn,
                "انسحبت من برنامج الاحتضان بطلب منها",
            )),
            _ => None,
        })
        .collect();
    seed.progress
        .phase("membership: graduations and withdrawals");
    let now: HashMap<String, i32> = organizations(api)
        .await?
        .into_iter()
        .map(|o| (o.id, o.incubation_status))
        .collect();
    for (i, to, reason) in ends {
        let id = &ids.orgs[i];
        match now.get(id) {
            Some(s) if *s == to as i32 => seed.found("incubation moves"),
            Some(s) if *s == IncubationStatus::Incubated as i32 => {
                change(api, id, to, reason).await?;
                seed.created("incubation moves");
            }
            other => {
                return Err(format!(
                    "{}: incubation status {other:?}, neither incubated nor {}",
                    ORGS[i].en,
                    to.as_str_name()
                ));
            }
        }
        seed.progress.tick();
    }
    Ok(())
}
