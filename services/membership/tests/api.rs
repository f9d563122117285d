//! Membership over real gRPC, on SQLite with the in-process bus and on
//! PostgreSQL with NATS: the same test bodies on both.

use std::sync::Arc;
use std::time::Duration;

use markaz_kit::auth::Role;
use markaz_kit::both_backends;
use markaz_kit::testing::{Backend, TestApp, authed, spawn};
use markaz_membership::Membership;
use markaz_proto::common::v1::{
    AgeBand, CapacityDomain, Date, Gender, IncubationStatus, LocalizedText, OrganizationKind,
    Sector,
};
use markaz_proto::membership::v1 as api;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const TENANT: &str = "raqqa-csc";
const OTHER_TENANT: &str = "deir-csc";
const ARABIC_NAME: &str = "جمعية شباب الفرات للتنمية";

type Client = MembershipServiceClient<Channel>;

struct World {
    app: TestApp,
    client: Client,
    staff: String,
    admin: String,
}

async fn world(backend: Backend) -> World {
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

fn organization(name_ar: &str, name_en: &str) -> api::Organization {
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

async fn create_org(w: &mut World, name_ar: &str, name_en: &str, apply: bool) -> api::Organization {
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

fn person(name: &str, gender: Gender) -> api::Person {
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

async fn create_person(w: &mut World, name: &str, gender: Gender) -> api::Person {
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

fn field_violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.iter().map(|f| f.field.clone()).collect())
        .unwrap_or_default()
}

async fn count_orgs(client: &mut Client, token: &str) -> usize {
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

both_backends!(
    organizations_are_registered_read_listed_and_updated,
    arabic_text_round_trips_byte_for_byte,
    lists_filter_and_page_with_stable_tokens,
    incubation_follows_its_life_cycle_and_keeps_history,
    people_are_registered_updated_and_erased,
    partners_see_only_their_own_organization,
    assessments_record_scores_spread_and_change,
    retried_creates_return_the_first_result,
    a_retry_after_erasure_is_refused_not_done_again,
    bad_input_is_refused_with_field_details_and_nothing_written,
    stale_etags_are_refused,
    concurrent_writers_queue_and_identifiers_stay_unique,
    concurrent_affiliations_leave_one_and_end_once,
    oversized_messages_are_refused,
    tenants_never_see_each_other,
    every_rpc_refuses_missing_and_bad_tokens,
    every_rpc_refuses_the_wrong_role,
    health_reports_serving_and_metrics_are_served,
);

async fn organizations_are_registered_read_listed_and_updated(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, ARABIC_NAME, "Euphrates Youth", false).await;
    assert_eq!(org.identifier, "MKZ-RAQQA-CSC-0001");
    assert_eq!(org.incubation_status, IncubationStatus::None as i32);
    assert!(!org.etag.is_empty());
    let second = create_org(&mut w, "منظمة ثانية", "Second", true).await;
    assert_eq!(second.identifier, "MKZ-RAQQA-CSC-0002");
    assert_eq!(second.incubation_status, IncubationStatus::Applicant as i32);

    let got = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, org);

    let mut change = org.clone();
    change.acronym = "EY".into();
    change.kind = OrganizationKind::Initiative as i32;
    let updated = w
        .client
        .update_organization(authed(
            api::UpdateOrganizationRequest {
                organization: Some(change),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["acronym".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.acronym, "EY");
    // Only the masked field changed.
    assert_eq!(updated.kind, OrganizationKind::Cso as i32);
    assert_ne!(updated.etag, org.etag);
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 2);
}

async fn arabic_text_round_trips_byte_for_byte(backend: Backend) {
    let mut w = world(backend).await;
    // Mixed scripts, combining marks (tashkeel), a right-to-left mark and an emoji.
    let tricky = "جَمْعِيَّة \u{200F}الفرات‎ – Euphrates 🌿";
    let org = create_org(&mut w, tricky, "", false).await;
    let got = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name.unwrap().ar.as_bytes(), tricky.as_bytes());
    let p = create_person(&mut w, "فاطمة الزهراء", Gender::Female).await;
    assert_eq!(p.full_name.as_bytes(), "فاطمة الزهراء".as_bytes());
    // Found by Arabic text in a list query.
    let found = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                query: "الفرات".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.organizations.len(), 1);
    assert_eq!(found.organizations[0].id, org.id);
}

async fn lists_filter_and_page_with_stable_tokens(backend: Backend) {
    let mut w = world(backend).await;
    for i in 0..5 {
        create_org(
            &mut w,
            &format!("منظمة {i}"),
            &format!("Org {i}"),
            i % 2 == 0,
        )
        .await;
    }
    // Kind and status filters.
    let applicants = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                incubation_status: IncubationStatus::Applicant as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(applicants.organizations.len(), 3);
    // English text, case-insensitive.
    let one = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                query: "org 3".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.organizations.len(), 1);

    // Pages of two: 2 + 2 + 1, in creation order, no repeats.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = w
            .client
            .list_organizations(authed(
                api::ListOrganizationsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &w.staff,
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(
            page.organizations
                .iter()
                .map(|o| o.name.clone().unwrap().en),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // A new organization created mid-way appears at the end, not twice.
        if seen.len() == 2 {
            create_org(&mut w, "متأخرة", "Late", false).await;
        }
    }
    assert_eq!(seen, ["Org 0", "Org 1", "Org 2", "Org 3", "Org 4", "Late"]);

    // A token is only good for the query that made it.
    let first = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                page_size: 1,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let status = w
        .client
        .list_organizations(authed(
            api::ListOrganizationsRequest {
                page_size: 1,
                page_token: first.next_page_token,
                kind: OrganizationKind::Donor as i32,
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status), ["page_token"]);
}

async fn incubation_follows_its_life_cycle_and_keeps_history(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", true).await;
    let change = |status: IncubationStatus, reason: &str| api::ChangeIncubationStatusRequest {
        organization_id: org.id.clone(),
        status: status as i32,
        reason: reason.into(),
        etag: String::new(),
    };
    // applicant -> graduated skips incubation: refused with the reason.
    let refused = w
        .client
        .change_incubation_status(authed(change(IncubationStatus::Graduated, ""), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("applicant"),
        "{}",
        refused.message()
    );
    assert!(refused.get_details_precondition_failure().is_some());

    let incubated = w
        .client
        .change_incubation_status(authed(
            change(IncubationStatus::Incubated, "accepted by the committee"),
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        incubated.incubation_status,
        IncubationStatus::Incubated as i32
    );
    w.client
        .change_incubation_status(authed(
            change(IncubationStatus::Graduated, "plan completed"),
            &w.staff,
        ))
        .await
        .unwrap();
    // Withdrawing needs a reason.
    let no_reason = w
        .client
        .change_incubation_status(authed(change(IncubationStatus::Withdrawn, ""), &w.staff))
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);

    let history = w
        .client
        .list_incubation_history(authed(
            api::ListIncubationHistoryRequest {
                organization_id: org.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let steps: Vec<(i32, i32)> = history.changes.iter().map(|c| (c.from, c.to)).collect();
    use IncubationStatus as S;
    assert_eq!(
        steps,
        [
            (S::None as i32, S::Applicant as i32),
            (S::Applicant as i32, S::Incubated as i32),
            (S::Incubated as i32, S::Graduated as i32),
        ]
    );
    assert_eq!(history.changes[1].reason, "accepted by the committee");
    assert_eq!(history.changes[1].changed_by, "user-staff");
}

async fn people_are_registered_updated_and_erased(backend: Backend) {
    let mut w = world(backend).await;
    let p = create_person(&mut w, "أحمد الخليل", Gender::Male).await;
    assert_eq!(p.gender, Gender::Male as i32);
    let mut change = p.clone();
    change.email = "ahmad@example.org".into();
    let updated = w
        .client
        .update_person(authed(
            api::UpdatePersonRequest {
                person: Some(change),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["email".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.email, "ahmad@example.org");

    // Erasure needs a reason, then keeps only the aggregate fields.
    let refused = w
        .client
        .erase_person(authed(
            api::ErasePersonRequest {
                id: p.id.clone(),
                reason: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let erased = w
        .client
        .erase_person(authed(
            api::ErasePersonRequest {
                id: p.id.clone(),
                reason: "request of the person".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(erased.erased);
    assert_eq!(erased.full_name, "");
    assert_eq!(erased.phone, "");
    assert_eq!(erased.email, "");
    assert_eq!(erased.gender, Gender::Male as i32);
    assert_eq!(erased.age_band, AgeBand::AgeBand2534 as i32);
    // The name is gone from search too, and an erased person cannot be edited.
    let found = w
        .client
        .list_people(authed(
            api::ListPeopleRequest {
                query: "الخليل".into(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(found.people.is_empty());
    let status = w
        .client
        .update_person(authed(
            api::UpdatePersonRequest {
                person: Some(api::Person {
                    id: p.id.clone(),
                    full_name: "x".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["full_name".into()],
                }),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    // PersonErased is in the outbox, and the relay publishes it.
    let db = w.app.env.db("membership").await.unwrap();
    let published = markaz_kit::testing::eventually(Duration::from_secs(10), || {
        let db = db.clone();
        async move {
            let mut tx = db.system().await.ok()?;
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM markaz_outbox WHERE event_name = 'PersonErased' AND published_at IS NOT NULL",
            )
            .fetch_one(tx.conn())
            .await
            .ok()?;
            (n == 1).then_some(())
        }
    })
    .await;
    assert!(published.is_some(), "PersonErased was published");
}

async fn partners_see_only_their_own_organization(backend: Backend) {
    let mut w = world(backend).await;
    let own = create_org(&mut w, "منظمتنا", "Ours", true).await;
    let other = create_org(&mut w, "منظمة أخرى", "Theirs", true).await;
    let member = create_person(&mut w, "عضو", Gender::Female).await;
    let stranger = create_person(&mut w, "غريب", Gender::Male).await;
    w.client
        .create_affiliation(authed(
            api::CreateAffiliationRequest {
                affiliation: Some(api::Affiliation {
                    person_id: member.id.clone(),
                    organization_id: own.id.clone(),
                    role: "director".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let partner = w.app.token(TENANT, &[Role::Partner], Some(&own.id));

    assert!(
        w.client
            .get_organization(authed(
                api::GetOrganizationRequest { id: own.id.clone() },
                &partner
            ))
            .await
            .is_ok()
    );
    let hidden = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest {
                id: other.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(count_orgs(&mut w.client, &partner).await, 1);

    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        people
            .people
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        vec![member.id]
    );
    let status = w
        .client
        .get_person(authed(
            api::GetPersonRequest {
                id: stranger.id.clone(),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // Writing is staff work.
    let status = w
        .client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(organization("x", "x")),
                ..Default::default()
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

fn oca(org: &str, score: i32, on: (i32, i32, i32)) -> api::Assessment {
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

async fn assessments_record_scores_spread_and_change(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", true).await;
    let first = w
        .client
        .create_assessment(authed(
            api::CreateAssessmentRequest {
                assessment: Some(oca(&org.id, 2, (2025, 1, 10))),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.domains.len(), 7);
    assert!(
        first
            .domains
            .iter()
            .all(|d| d.consensus_spread == 3 && !d.has_previous)
    );
    assert_eq!(first.average_score, 2.0);
    assert_eq!(first.previous_assessment_id, "");

    let second = w
        .client
        .create_assessment(authed(
            api::CreateAssessmentRequest {
                assessment: Some(oca(&org.id, 3, (2026, 1, 10))),
                request_id: String::new(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.previous_assessment_id, first.id);
    assert!(
        second
            .domains
            .iter()
            .all(|d| d.change == 1 && d.has_previous)
    );
    assert_eq!(second.action_plan.len(), 1);

    let got = w
        .client
        .get_assessment(authed(
            api::GetAssessmentRequest {
                id: second.id.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, second);
    let listed = w
        .client
        .list_assessments(authed(
            api::ListAssessmentsRequest {
                organization_id: org.id.clone(),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.assessments.len(), 2);
}

async fn retried_creates_return_the_first_result(backend: Backend) {
    let mut w = world(backend).await;
    let request = api::CreateOrganizationRequest {
        organization: Some(organization("منظمة", "Org")),
        apply_for_incubation: false,
        request_id: "8f14e45f-ceea-467f-a0e6-0fd0f6c6b5e1".into(),
    };
    let first = w
        .client
        .create_organization(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    let again = w
        .client
        .create_organization(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 1);

    // Request ids are each caller's own: someone else sending the same id
    // and body is not handed the first caller's answer — theirs is a new
    // request.
    let theirs = w
        .client
        .create_organization(authed(request.clone(), &w.admin))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.id, first.id);
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 2);

    let mut different = request;
    different.organization.as_mut().unwrap().acronym = "ZZ".into();
    let status = w
        .client
        .create_organization(authed(different, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status), ["request_id"]);
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 2);
}

async fn a_retry_after_erasure_is_refused_not_done_again(backend: Backend) {
    let mut w = world(backend).await;
    let request = api::CreatePersonRequest {
        person: Some(person("ليلى", Gender::Female)),
        request_id: "registration-7".into(),
    };
    let p = w
        .client
        .create_person(authed(request.clone(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    w.client
        .erase_person(authed(
            api::ErasePersonRequest {
                id: p.id.clone(),
                reason: "request of the person".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap();
    let status = w
        .client
        .create_person(authed(request, &w.staff))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(!status.message().contains("ليلى"), "{}", status.message());
    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner()
        .people;
    assert_eq!(people.len(), 1, "no second registration");
    assert!(people[0].erased);
}

async fn bad_input_is_refused_with_field_details_and_nothing_written(backend: Backend) {
    let mut w = world(backend).await;
    // Everything wrong at once: every field is reported.
    let bad = api::Organization {
        kind: 99,
        name: Some(LocalizedText {
            ar: "م".repeat(201),
            en: String::new(),
        }),
        sectors: vec![Sector::Health as i32, 1234],
        email: "not-an-email".into(),
        branch_id: "Not A Slug".into(),
        ..Default::default()
    };
    let status = w
        .client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(bad),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = field_violations(&status);
    for f in [
        "organization.kind",
        "organization.name.ar",
        "organization.branch_id",
        "organization.sectors[1]",
        "organization.email",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    // Missing required fields, and a malformed request id: all reported.
    let status = w
        .client
        .create_person(authed(
            api::CreatePersonRequest {
                person: None,
                request_id: "not an id!".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = field_violations(&status);
    for f in [
        "request_id",
        "person.full_name",
        "person.gender",
        "person.age_band",
        "person.legal_basis",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
    }
    // A branch that does not exist.
    let mut o = organization("x", "x");
    o.branch_id = "aleppo".into();
    let status = w
        .client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(o),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["organization.branch_id"]);
    // Malformed ids are refused, not looked up.
    let status = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest {
                id: "1 OR 1=1".into(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    // An incomplete assessment.
    let org = create_org(&mut w, "منظمة", "Org", false).await;
    let mut a = oca(&org.id, 2, (2025, 1, 1));
    a.domains.truncate(6);
    let status = w
        .client
        .create_assessment(authed(
            api::CreateAssessmentRequest {
                assessment: Some(a),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&status), ["assessment.domains"]);
    // Nothing was written but the one valid organization.
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 1);
    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &w.staff))
        .await
        .unwrap()
        .into_inner();
    assert!(people.people.is_empty());
}

async fn stale_etags_are_refused(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", true).await;
    let mut first = org.clone();
    first.acronym = "A".into();
    w.client
        .update_organization(authed(
            api::UpdateOrganizationRequest {
                organization: Some(first),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap();
    // A second writer still holding the old etag loses.
    let mut second = org.clone();
    second.acronym = "B".into();
    let status = w
        .client
        .update_organization(authed(
            api::UpdateOrganizationRequest {
                organization: Some(second),
                update_mask: None,
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    let status = w
        .client
        .change_incubation_status(authed(
            api::ChangeIncubationStatusRequest {
                organization_id: org.id.clone(),
                status: IncubationStatus::Incubated as i32,
                reason: String::new(),
                etag: org.etag.clone(),
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    let got = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.acronym, "A");
    assert_eq!(got.incubation_status, IncubationStatus::Applicant as i32);
}

async fn concurrent_writers_queue_and_identifiers_stay_unique(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", false).await;
    // Ten updates at once without an etag: none is lost, none fails.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut client = w.client.clone();
        let token = w.staff.clone();
        let id = org.id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .update_organization(authed(
                    api::UpdateOrganizationRequest {
                        organization: Some(api::Organization {
                            id,
                            acronym: format!("A{i}"),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["acronym".into()],
                        }),
                    },
                    &token,
                ))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every concurrent update succeeds");
    }
    let got = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.etag, markaz_kit::rpc::etag(11));

    // Twenty registrations at once: twenty distinct identifiers.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut client = w.client.clone();
        let token = w.staff.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_organization(authed(
                    api::CreateOrganizationRequest {
                        organization: Some(organization(&format!("م {i}"), &format!("O {i}"))),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .map(|r| r.into_inner().identifier)
        }));
    }
    let mut identifiers = Vec::new();
    for t in tasks {
        identifiers.push(t.await.unwrap().expect("created"));
    }
    identifiers.sort();
    identifiers.dedup();
    assert_eq!(identifiers.len(), 20);
}

async fn concurrent_affiliations_leave_one_and_end_once(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", false).await;
    let p = create_person(&mut w, "مريم", Gender::Female).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut client = w.client.clone();
        let token = w.staff.clone();
        let (person_id, organization_id) = (p.id.clone(), org.id.clone());
        tasks.push(tokio::spawn(async move {
            client
                .create_affiliation(authed(
                    api::CreateAffiliationRequest {
                        affiliation: Some(api::Affiliation {
                            person_id,
                            organization_id,
                            role: "member".into(),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    &token,
                ))
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(a) => created.push(a),
            Err(s) => assert_eq!(s.code(), Code::AlreadyExists, "{s:?}"),
        }
    }
    assert_eq!(created.len(), 1, "one active affiliation");

    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut client = w.client.clone();
        let token = w.staff.clone();
        let id = created[0].id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .end_affiliation(authed(
                    api::EndAffiliationRequest { id, end_date: None },
                    &token,
                ))
                .await
        }));
    }
    let mut ended = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ended += 1,
            Err(s) => assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}"),
        }
    }
    assert_eq!(ended, 1, "ended once");
    let db = w.app.env.db("membership").await.unwrap();
    let mut tx = db.system().await.unwrap();
    let events: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM markaz_outbox WHERE event_name = 'AffiliationEnded'",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!(events, 1, "one AffiliationEnded");
}

async fn oversized_messages_are_refused(backend: Backend) {
    let mut w = world(backend).await;
    let mut o = organization("x", "x");
    o.description = Some(LocalizedText {
        ar: "ب".repeat(5 * 1024 * 1024 / 2),
        en: String::new(),
    });
    let status = w
        .client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(o),
                ..Default::default()
            },
            &w.staff,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::ResourceExhausted | Code::OutOfRange),
        "{status:?}"
    );
    assert!(
        status.message().contains("too large") || status.message().contains("length"),
        "{}",
        status.message()
    );
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, 0);
}

async fn tenants_never_see_each_other(backend: Backend) {
    let mut w = world(backend).await;
    let org = create_org(&mut w, "منظمة", "Org", true).await;
    let p = create_person(&mut w, "سارة", Gender::Female).await;
    let intruder = w.app.token(OTHER_TENANT, &[Role::Admin], None);

    let get = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(get.code(), Code::NotFound);
    assert_eq!(count_orgs(&mut w.client, &intruder).await, 0);
    let update = w
        .client
        .update_organization(authed(
            api::UpdateOrganizationRequest {
                organization: Some(api::Organization {
                    acronym: "HACKED".into(),
                    ..org.clone()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["acronym".into()],
                }),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(update.code(), Code::NotFound);
    let erase = w
        .client
        .erase_person(authed(
            api::ErasePersonRequest {
                id: p.id.clone(),
                reason: "x".into(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(erase.code(), Code::NotFound);
    let people = w
        .client
        .list_people(authed(api::ListPeopleRequest::default(), &intruder))
        .await
        .unwrap()
        .into_inner();
    assert!(people.people.is_empty());
    let status = w
        .client
        .change_incubation_status(authed(
            api::ChangeIncubationStatusRequest {
                organization_id: org.id.clone(),
                status: IncubationStatus::Withdrawn as i32,
                reason: "x".into(),
                etag: String::new(),
            },
            &intruder,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // The owner's data is untouched.
    let mine = w
        .client
        .get_organization(authed(
            api::GetOrganizationRequest { id: org.id.clone() },
            &w.staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine, org);

    if backend == Backend::Postgres {
        // The second wall: a connection as the application role, with no
        // tenant set, sees no rows at all even without a WHERE clause.
        let db = w.app.env.db("membership").await.unwrap();
        let mut tx = db.system().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 0, "row-level security hides every tenant's rows");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM people")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 0);
        tx.rollback().await.unwrap();
        // And with the other tenant set, still none of this tenant's rows.
        let mut tx = db.read(OTHER_TENANT).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 0);
        let mut tx2 = db.read(TENANT).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
            .fetch_one(tx2.conn())
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}

/// One call of every RPC, with a body that would pass validation, so the
/// only reason to refuse it is the credential.
async fn call(client: &mut Client, rpc: &str, token: &str) -> Code {
    let id = "0190d3b4-5c1a-7000-8000-000000000001".to_string();
    let r = match rpc {
        "CreateTenant" => client
            .create_tenant(authed(
                api::CreateTenantRequest {
                    tenant: Some(api::Tenant {
                        id: "new-tenant".into(),
                        name: Some(LocalizedText {
                            ar: "جديد".into(),
                            en: String::new(),
                        }),
                        ..Default::default()
                    }),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListTenants" => client
            .list_tenants(authed(api::ListTenantsRequest::default(), token))
            .await
            .map(|_| ()),
        "CreateBranch" => client
            .create_branch(authed(
                api::CreateBranchRequest {
                    branch: Some(api::Branch {
                        id: "deir".into(),
                        name: Some(LocalizedText {
                            ar: "دير".into(),
                            en: String::new(),
                        }),
                        governorate: "Deir ez-Zor".into(),
                        ..Default::default()
                    }),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListBranches" => client
            .list_branches(authed(api::ListBranchesRequest::default(), token))
            .await
            .map(|_| ()),
        "CreateOrganization" => client
            .create_organization(authed(
                api::CreateOrganizationRequest {
                    organization: Some(organization("x", "x")),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "GetOrganization" => client
            .get_organization(authed(api::GetOrganizationRequest { id }, token))
            .await
            .map(|_| ()),
        "ListOrganizations" => client
            .list_organizations(authed(api::ListOrganizationsRequest::default(), token))
            .await
            .map(|_| ()),
        "UpdateOrganization" => client
            .update_organization(authed(
                api::UpdateOrganizationRequest {
                    organization: Some(api::Organization {
                        id,
                        ..organization("x", "x")
                    }),
                    update_mask: None,
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ChangeIncubationStatus" => client
            .change_incubation_status(authed(
                api::ChangeIncubationStatusRequest {
                    organization_id: id,
                    status: IncubationStatus::Incubated as i32,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListIncubationHistory" => client
            .list_incubation_history(authed(
                api::ListIncubationHistoryRequest {
                    organization_id: id,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "CreatePerson" => client
            .create_person(authed(
                api::CreatePersonRequest {
                    person: Some(person("x", Gender::Undisclosed)),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "GetPerson" => client
            .get_person(authed(api::GetPersonRequest { id }, token))
            .await
            .map(|_| ()),
        "ListPeople" => client
            .list_people(authed(api::ListPeopleRequest::default(), token))
            .await
            .map(|_| ()),
        "UpdatePerson" => client
            .update_person(authed(
                api::UpdatePersonRequest {
                    person: Some(api::Person {
                        id,
                        ..person("x", Gender::Female)
                    }),
                    update_mask: None,
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ErasePerson" => client
            .erase_person(authed(
                api::ErasePersonRequest {
                    id,
                    reason: "asked".into(),
                },
                token,
            ))
            .await
            .map(|_| ()),
        "CreateAffiliation" => client
            .create_affiliation(authed(
                api::CreateAffiliationRequest {
                    affiliation: Some(api::Affiliation {
                        person_id: id.clone(),
                        organization_id: id,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "ListAffiliations" => client
            .list_affiliations(authed(api::ListAffiliationsRequest::default(), token))
            .await
            .map(|_| ()),
        "EndAffiliation" => client
            .end_affiliation(authed(
                api::EndAffiliationRequest {
                    id,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "CreateAssessment" => client
            .create_assessment(authed(
                api::CreateAssessmentRequest {
                    assessment: Some(oca(&id, 2, (2025, 1, 1))),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|_| ()),
        "GetAssessment" => client
            .get_assessment(authed(api::GetAssessmentRequest { id }, token))
            .await
            .map(|_| ()),
        "ListAssessments" => client
            .list_assessments(authed(api::ListAssessmentsRequest::default(), token))
            .await
            .map(|_| ()),
        other => panic!("no call for {other}"),
    };
    match r {
        Ok(()) => Code::Ok,
        Err(s) => s.code(),
    }
}

/// Every RPC of the service, with a role that must be refused for it.
const RPCS: &[(&str, Role)] = &[
    ("CreateTenant", Role::Admin),
    ("ListTenants", Role::Staff),
    ("CreateBranch", Role::Staff),
    ("ListBranches", Role::Operator),
    ("CreateOrganization", Role::Trainer),
    ("GetOrganization", Role::Donor),
    ("ListOrganizations", Role::Reviewer),
    ("UpdateOrganization", Role::Partner),
    ("ChangeIncubationStatus", Role::Trainer),
    ("ListIncubationHistory", Role::Donor),
    ("CreatePerson", Role::Partner),
    ("GetPerson", Role::Reviewer),
    ("ListPeople", Role::Donor),
    ("UpdatePerson", Role::Trainer),
    ("ErasePerson", Role::Partner),
    ("CreateAffiliation", Role::Trainer),
    ("ListAffiliations", Role::Donor),
    ("EndAffiliation", Role::Reviewer),
    ("CreateAssessment", Role::Trainer),
    ("GetAssessment", Role::Reviewer),
    ("ListAssessments", Role::Donor),
];

#[test]
fn the_table_names_every_rpc_of_the_service() {
    let table: Vec<String> = RPCS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(
        markaz_kit::testing::service_methods("markaz.membership.v1"),
        table
    );
}

async fn every_rpc_refuses_missing_and_bad_tokens(backend: Backend) {
    let mut w = world(backend).await;
    let bad = w.app.env.bad_tokens(TENANT);
    for (rpc, _) in RPCS {
        for (what, token) in &bad {
            let code = call(&mut w.client, rpc, token).await;
            assert_eq!(code, Code::Unauthenticated, "{rpc} with {what}");
        }
    }
}

async fn every_rpc_refuses_the_wrong_role(backend: Backend) {
    let mut w = world(backend).await;
    let before = count_orgs(&mut w.client, &w.staff).await;
    for (rpc, role) in RPCS {
        let tenant = if *role == Role::Operator { "" } else { TENANT };
        let token = w.app.token(tenant, &[*role], None);
        let code = call(&mut w.client, rpc, &token).await;
        assert_eq!(code, Code::PermissionDenied, "{rpc} as {role}");
    }
    assert_eq!(count_orgs(&mut w.client, &w.staff).await, before);
    let _ = &w.admin;
}

async fn health_reports_serving_and_metrics_are_served(backend: Backend) {
    let w = world(backend).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(w.app.channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "markaz.membership.v1.MembershipService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let addr = w.app.app.metrics_addr().expect("metrics served");
    let body = http_get(addr, "/metrics").await;
    assert!(body.contains("markaz_rpc_requests_total"), "{body}");
    assert!(body.contains("method=\"CreateTenant\""), "{body}");
    assert!(http_get(addr, "/readyz").await.contains("ready"));

    // Reflection lists every service, so grpcurl needs no proto files.
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(w.app.channel().await);
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![
            tonic_reflection::pb::v1::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            },
        ]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("no service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "markaz.membership.v1.MembershipService",
        "markaz.platform.v1.PlatformService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}
