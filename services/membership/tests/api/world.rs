//! The world every test starts from: two registered tenants, a branch, staff
//! and admin tokens; and the records most tests create.

pub use markaz_kit::auth::Role;
pub use markaz_kit::testing::field_violations;
pub use markaz_kit::testing::{Backend, TestApp, authed, spawn};
pub use markaz_membership::Membership;
pub use markaz_proto::common::v1::{
    AgeBand, CapacityDomain, Date, Gender, IncubationStatus, LocalizedText, OrganizationKind,
    Sector,
};
pub use markaz_proto::membership::v1 as api;
pub use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
pub use std::sync::Arc;
pub use std::time::Duration;
pub use tonic::Code;
pub use tonic::transport::Channel;
pub use tonic_types::StatusExt;

pub const TENANT: &str = "raqqa-csc";

pub const OTHER_TENANT: &str = "deir-csc";

pub const ARABIC_NAME: &str = "جمعية شباب الفرات للتنمية";

pub type Client = MembershipServiceClient<Channel>;

pub struct World {
    pub app: TestApp,
    pub client: Client,
    pub staff: String,
    pub admin: String,
}

pub async fn world(backend: Backend) -> World {
    let app = spawn(backend, vec![Arc::new(Membership)]).await;
    let mut client = MembershipServiceClient::new(app.channel().await);
    let operator = app.env.operator_token();
    for (id, ar) in [(TENANT, "مركز الرقة"), (OTHER_TENANT, "مركز دير الزور")]
    {
        client
            .create_tenant(authed(
                api::CreateTenantRequest {
                    tenant: Some(api::Tenant {
                        id: id.into(),
                        name: Some(LocalizedText {
                            ar: ar.into(),
                            en: id.into(),
                        }),
                        ..Default::default()
                    }),
                },
                &operator,
            ))
            .await
            .expect("tenant created");
    }
    let staff = app.token(TENANT, &[Role::Staff], None);
    let admin = app.token(TENANT, &[Role::Admin], None);
    client
        .create_branch(authed(
            api::CreateBranchRequest {
                branch: Some(api::Branch {
                    id: "raqqa".into(),
                    name: Some(LocalizedText {
                        ar: "الرقة".into(),
                        en: "Raqqa".into(),
                    }),
                    governorate: "Raqqa".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("branch created");
    World {
        app,
        client,
        staff,
        admin,
    }
}

pub fn organization(name_ar: &str, name_en: &str) -> api::Organization {
    api::Organization {
        kind: OrganizationKind::Cso as i32,
        name: Some(LocalizedText {
            ar: name_ar.into(),
            en: name_en.into(),
        }),
        governorate: "Raqqa".into(),
        branch_id: "raqqa".into(),
        sectors: vec![Sector::Education as i32, Sector::PsychosocialSupport as i32],
        ..Default::default()
    }
}

pub async fn create_org(
    w: &mut World,
    name_ar: &str,
    name_en: &str,
    apply: bool,
) -> api::Organization {
    w.client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(organization(name_ar, name_en)),
                apply_for_incubation: apply,
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("organization created")
        .into_inner()
}

pub fn person(name: &str, gender: Gender) -> api::Person {
    api::Person {
        full_name: name.into(),
        gender: gender as i32,
        age_band: AgeBand::AgeBand2534 as i32,
        phone: "+963 944 123 456".into(),
        legal_basis: api::LegalBasis::Consent as i32,
        processing_purpose: "training participant".into(),
        branch_id: "raqqa".into(),
        ..Default::default()
    }
}

pub async fn create_person(w: &mut World, name: &str, gender: Gender) -> api::Person {
    w.client
        .create_person(authed(
            api::CreatePersonRequest {
                person: Some(person(name, gender)),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .expect("person created")
        .into_inner()
}

pub async fn count_orgs(client: &mut Client, token: &str) -> usize {
    client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                page_size: 500,
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("list")
        .into_inner()
        .organizations
        .len()
}

/// An OCA assessment of `org` scoring every domain `score`, dated `on`.
pub fn oca(org: &str, score: i32, on: (i32, i32, i32)) -> api::Assessment {
    let domains = [
        CapacityDomain::Governance,
        CapacityDomain::Administration,
        CapacityDomain::HumanResources,
        CapacityDomain::FinancialManagement,
        CapacityDomain::OrganizationalManagement,
        CapacityDomain::ProgramManagement,
        CapacityDomain::ProjectPerformanceManagement,
    ];
    api::Assessment {
        organization_id: org.into(),
        assessed_on: Some(Date {
            year: on.0,
            month: on.1,
            day: on.2,
        }),
        domains: domains
            .iter()
            .map(|d| api::DomainAssessment {
                domain: *d as i32,
                score,
                justification: "لا توجد سياسات مكتوبة".into(),
                participant_scores: vec![
                    api::ParticipantScore {
                        participant: "director".into(),
                        score: 1,
                    },
                    api::ParticipantScore {
                        participant: "accountant".into(),
                        score: 4,
                    },
                ],
                ..Default::default()
            })
            .collect(),
        action_plan: vec![api::ActionItem {
            domain: CapacityDomain::FinancialManagement as i32,
            gap: "no financial manual".into(),
            action: "write a financial procedures manual".into(),
            due_date: Some(Date {
                year: 2026,
                month: 6,
                day: 30,
            }),
            owner: "finance officer".into(),
        }],
        notes: String::new(),
        ..Default::default()
    }
}
