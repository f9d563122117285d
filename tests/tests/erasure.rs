//! Erasure end to end, on real NATS JetStream and PostgreSQL: a person named
//! in staff's free text in membership and capacity is erased; every service
//! confirms (one that is down shows as pending, then confirms when it comes
//! back); afterwards no stream and no dead letter holds a readable copy of
//! them, and a consumer rebuilt from the streams' start counts people by
//! gender and age band exactly as the live one does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use markaz_capacity::Capacity;
use markaz_grants::Grants;
use markaz_kit::auth::Role;
use markaz_kit::db::Db;
use markaz_kit::testing::erasure::{EMAIL, FULL_NAME, PHONE, bytes_leak, mention, table_leaks};
use markaz_kit::testing::{Backend, TestEnv, authed, eventually, nats_url};
use markaz_membership::Membership;
use markaz_networking::Networking;
use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::{
    AgeBand, Gender, IncubationStatus, LocalizedText, OrganizationKind,
};
use markaz_proto::events::v1 as ev;
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use markaz_resources::{Files, Resources};
use prost::Message;
use tonic::transport::Channel;

const TENANT: &str = "e2e-erasure";
const WAIT: Duration = Duration::from_secs(30);

async fn channel(app: &markaz_kit::app::App) -> Channel {
    Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Every message now in `stream` (sequence, payload).
async fn stream_messages(js: &async_nats::jetstream::Context, stream: &str) -> Vec<(u64, Vec<u8>)> {
    let Ok(s) = js.get_stream(stream).await else {
        return Vec::new();
    };
    let info = s.get_info().await.unwrap();
    let mut out = Vec::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if let Ok(m) = s.get_raw_message(seq).await {
            out.push((seq, m.payload.to_vec()));
        }
    }
    out
}

/// People of the tenant by (gender, age band), as a consumer's copies count them.
async fn people_by_gender(db: &Db) -> Vec<(String, String, i64)> {
    let mut tx = db.read(TENANT).await.unwrap();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT gender, age_band, COUNT(*) FROM membership_people WHERE tenant_id = $1
         GROUP BY gender, age_band ORDER BY gender, age_band",
    )
    .bind(TENANT)
    .fetch_all(tx.conn())
    .await
    .unwrap();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_leaves_no_copy_on_any_stream_and_every_service_confirms() {
    let env = TestEnv::new(Backend::Postgres);
    // Resources is "down" at first: it starts later, in a process of its own.
    let app = env
        .start(vec![
            Arc::new(Membership),
            Arc::new(Capacity),
            Arc::new(Grants),
            Arc::new(Networking),
        ])
        .await
        .expect("the app starts");
    let ch = channel(&app).await;
    let mut membership = MembershipServiceClient::new(ch.clone());
    let mut capacity = CapacityServiceClient::new(ch);
    let staff = env.token(TENANT, &[Role::Staff], None);
    membership
        .create_tenant(authed(
            mem::CreateTenantRequest {
                tenant: Some(mem::Tenant {
                    id: TENANT.into(),
                    name: Some(LocalizedText {
                        ar: "مركز الرقة".into(),
                        en: "Raqqa center".into(),
                    }),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    let org = membership
        .create_organization(authed(
            mem::CreateOrganizationRequest {
                organization: Some(mem::Organization {
                    kind: OrganizationKind::Cso as i32,
                    name: Some(LocalizedText {
                        ar: "جمعية شباب الفرات".into(),
                        en: "Euphrates Youth".into(),
                    }),
                    ..Default::default()
                }),
                apply_for_incubation: true,
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let person = |name: &str, gender: Gender, email: &str, phone: &str| mem::CreatePersonRequest {
        person: Some(mem::Person {
            full_name: name.into(),
            gender: gender as i32,
            age_band: AgeBand::AgeBand2534 as i32,
            email: email.into(),
            phone: phone.into(),
            legal_basis: mem::LegalBasis::Consent as i32,
            processing_purpose: "training participant".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let nadia = membership
        .create_person(authed(
            person(FULL_NAME, Gender::Female, EMAIL, PHONE),
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let omar = membership
        .create_person(authed(person("عمر السيد", Gender::Male, "", ""), &staff))
        .await
        .unwrap()
        .into_inner();
    // Staff write about her in membership: her role, a decision's reason.
    membership
        .create_affiliation(authed(
            mem::CreateAffiliationRequest {
                affiliation: Some(mem::Affiliation {
                    person_id: nadia.id.clone(),
                    organization_id: org.id.clone(),
                    role: format!("أمينة الصندوق ({})", "ن. كريموفا"),
                    ..Default::default()
                }),
                request_id: "affiliate-nadia".into(),
            },
            &staff,
        ))
        .await
        .unwrap();
    membership
        .change_incubation_status(authed(
            mem::ChangeIncubationStatusRequest {
                organization_id: org.id.clone(),
                status: IncubationStatus::Incubated as i32,
                reason: mention(3),
                etag: String::new(),
            },
            &staff,
        ))
        .await
        .unwrap();
    // And in capacity, once it knows her.
    eventually(WAIT, || {
        let db = app.db("capacity").unwrap().clone();
        let id = nadia.id.clone();
        async move {
            markaz_membership_copies::person(&mut db.read(TENANT).await.ok()?, &id)
                .await
                .ok()?
        }
    })
    .await
    .expect("capacity learns of her");
    let consultation = capacity
        .create_consultation(authed(
            cap::CreateConsultationRequest {
                consultation: Some(cap::Consultation {
                    kind: cap::ConsultationKind::TechnicalSupport as i32,
                    attendee_person_ids: vec![nadia.id.clone(), omar.id.clone()],
                    advisor: Some(cap::Advisor {
                        name: "خبير خارجي".into(),
                        kind: cap::AdvisorKind::ExternalExpert as i32,
                    }),
                    branch_id: "raqqa".into(),
                    held_on: Some(markaz_kit::time::Date::today().add_days(-1).to_proto()),
                    duration_minutes: 45,
                    notes: format!("{} — {} — {}", mention(0), mention(6), mention(13)),
                    ..Default::default()
                }),
                request_id: "consultation-1".into(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    let capacity_db = app.db("capacity").unwrap().clone();
    let before = people_by_gender(&capacity_db).await;

    let erased = membership
        .erase_person(authed(
            mem::ErasePersonRequest {
                id: nadia.id.clone(),
                reason: format!("طلب {FULL_NAME} بتاريخ 2026-11-30"),
                legal_ground: mem::ErasureGround::DataSubjectRequest as i32,
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(erased.erased);
    assert!(
        !erased.erasure_id.is_empty(),
        "the answer names the receipt"
    );

    // Four services confirm; resources, not running, is pending.
    let receipt = |membership: MembershipServiceClient<Channel>, id: String, staff: String| async move {
        membership
            .clone()
            .get_erasure(authed(mem::GetErasureRequest { id }, &staff))
            .await
            .unwrap()
            .into_inner()
    };
    let pending = eventually(WAIT, || {
        let (m, id, s) = (membership.clone(), erased.erasure_id.clone(), staff.clone());
        async move {
            let r = receipt(m, id, s).await;
            (r.confirmations.len() == 4).then_some(r)
        }
    })
    .await
    .expect("four services confirm");
    assert!(!pending.complete);
    assert_eq!(pending.pending_services, ["resources"]);
    assert_eq!(
        pending.requested_by, "user-staff",
        "who asked is on the receipt"
    );
    assert_eq!(
        pending.legal_ground,
        mem::ErasureGround::DataSubjectRequest as i32
    );
    let capacity_receipt = pending
        .confirmations
        .iter()
        .find(|c| c.service == "capacity")
        .expect("capacity's confirmation");
    assert!(
        capacity_receipt.counts.get("table consultations").copied() >= Some(1),
        "capacity says what it scrubbed: {:?}",
        capacity_receipt.counts
    );

    // Resources comes back, in a process of its own, and confirms.
    let files: PathBuf = std::env::temp_dir().join(format!("markaz-erasure-{}", env.id()));
    let resources = env
        .start(vec![Arc::new(Resources::with_files(Files::Local(files)))])
        .await
        .expect("resources starts");
    let complete = eventually(WAIT, || {
        let (m, id, s) = (membership.clone(), erased.erasure_id.clone(), staff.clone());
        async move {
            let r = receipt(m, id, s).await;
            r.complete.then_some(r)
        }
    })
    .await
    .expect("the erasure completes once resources confirms");
    assert!(complete.pending_services.is_empty());
    assert_eq!(complete.confirmations.len(), 5);
    let listed = membership
        .list_erasures(authed(
            mem::ListErasuresRequest {
                person_id: nadia.id.clone(),
                ..Default::default()
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.erasures.len(), 1, "listable for audit");

    // No stream, no dead letter holds a readable copy of her.
    let client = async_nats::connect(nats_url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let ns = env.config.bus_namespace.to_ascii_uppercase();
    for producer in [
        "membership",
        "capacity",
        "grants",
        "networking",
        "resources",
        "dlq",
    ] {
        let stream = format!("{ns}_{}", producer.to_ascii_uppercase());
        let leaked: Vec<u64> = stream_messages(&js, &stream)
            .await
            .into_iter()
            .filter(|(_, payload)| bytes_leak(payload))
            .map(|(seq, _)| seq)
            .collect();
        assert!(leaked.is_empty(), "{stream} still names her at {leaked:?}");
    }
    // Nor any table of any service.
    for service in ["membership", "capacity", "grants", "networking"] {
        let db = app.db(service).unwrap();
        assert_eq!(
            table_leaks(db, TENANT).await,
            Vec::<String>::new(),
            "{service}"
        );
    }
    assert_eq!(
        table_leaks(resources.db("resources").unwrap(), TENANT).await,
        Vec::<String>::new()
    );
    // The consultation still counts her, under her gender.
    let kept = capacity
        .get_consultation(authed(
            cap::GetConsultationRequest {
                id: consultation.id.clone(),
            },
            &staff,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.attendee_person_ids.len(), 2);
    assert_eq!(
        people_by_gender(&capacity_db).await,
        before,
        "the live copy counts her"
    );

    // A consumer rebuilt from the start of membership's stream, as after a
    // lost database: the same people by gender and age band.
    let fresh = TestEnv::new(Backend::Sqlite);
    let rebuilt = fresh.start(vec![Arc::new(Capacity)]).await.unwrap();
    let stream = format!("{ns}_MEMBERSHIP");
    for (_, payload) in stream_messages(&js, &stream).await {
        let envelope = ev::Envelope::decode(payload.as_slice()).unwrap();
        markaz_kit::events::apply(
            rebuilt.db("capacity").unwrap(),
            rebuilt.consumer("capacity").unwrap(),
            &envelope,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        people_by_gender(rebuilt.db("capacity").unwrap()).await,
        before,
        "rebuilt from the stream, the figures are the same"
    );
    rebuilt.shutdown().await;
    resources.shutdown().await;
    app.shutdown().await;
}
