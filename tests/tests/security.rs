//! Row-level security on PostgreSQL is the platform's, not each service's:
//! every tenant table gets it, and a start puts it back if it went missing.

use std::sync::Arc;

use markaz_kit::testing::{Backend, TestEnv, postgres_url};
use markaz_membership::Membership;
use sqlx::{Connection, Executor};

async fn forced(schema: &str, table: &str) -> bool {
    let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
    sqlx::query_scalar(
        "SELECT c.relrowsecurity AND c.relforcerowsecurity FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
    )
    .bind(schema)
    .bind(table)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_restores_row_level_security_that_went_missing() {
    let env = TestEnv::new(Backend::Postgres);
    env.start(vec![Arc::new(Membership)])
        .await
        .unwrap()
        .shutdown()
        .await;
    let (url, schema) =
        markaz_kit::app::database_of(&env.config, &env.storage, "membership").unwrap();
    let schema = schema.unwrap();
    for table in [
        "organizations",
        "people",
        "markaz_inbox",
        "markaz_idempotency",
    ] {
        assert!(forced(&schema, table).await, "{table} is protected");
    }
    // The outbox and the dead letters are read across tenants by the platform.
    assert!(!forced(&schema, "markaz_outbox").await);

    // Someone lifts it by hand; the next start puts it back.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{schema}\".organizations NO FORCE ROW LEVEL SECURITY"
    )))
    .await
    .unwrap();
    assert!(!forced(&schema, "organizations").await);
    markaz_kit::migrate::run(&url, Some(&schema), markaz_membership::MIGRATIONS)
        .await
        .unwrap();
    assert!(forced(&schema, "organizations").await);
}

/// Defence in depth: the serving process logs in as a role that owns no
/// table (a member of `markaz_app`), the owner only migrates. Then even a
/// `RESET ROLE` — an injected statement, a bug in the platform — leaves
/// row-level security in force, and the tables cannot be altered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_logs_in_as_a_role_that_owns_nothing() {
    use markaz_kit::auth::Role;
    use markaz_kit::testing::authed;
    use markaz_proto::common::v1::LocalizedText;
    use markaz_proto::membership::v1 as api;
    use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;

    let env = TestEnv::new(Backend::Postgres);
    let login = format!("{}_app", env.id());
    let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();

    // Not migrated yet: a process that may not migrate refuses to start.
    let owner_url = postgres_url();
    let app_url = owner_url.replacen("postgres@", &format!("{login}@"), 1);
    assert!(app_url.contains(&login), "{app_url}");
    let refused = env
        .start_unmigrated_via(vec![Arc::new(Membership)], &owner_url)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("markaz migrate"), "{refused}");

    // The owner migrates (`markaz migrate`, a Job); the role is created as a
    // deployment does (CloudNativePG's managed role, `inRoles: [markaz_app]`).
    env.start(vec![Arc::new(Membership)])
        .await
        .unwrap()
        .shutdown()
        .await;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE ROLE \"{login}\" LOGIN IN ROLE markaz_app"
        )))
        .await
        .unwrap();

    let app = env
        .start_unmigrated_via(vec![Arc::new(Membership)], &app_url)
        .await
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = MembershipServiceClient::new(channel);
    let operator = env.token("", &[Role::Operator], None);
    client
        .create_tenant(authed(
            api::CreateTenantRequest {
                tenant: Some(api::Tenant {
                    id: "raqqa-csc".into(),
                    name: Some(LocalizedText {
                        ar: "مركز الرقة".into(),
                        en: "Raqqa".into(),
                    }),
                    ..Default::default()
                }),
            },
            &operator,
        ))
        .await
        .unwrap();
    let staff = env.token("raqqa-csc", &[Role::Staff], None);
    client
        .create_organization(authed(
            api::CreateOrganizationRequest {
                organization: Some(api::Organization {
                    kind: markaz_proto::common::v1::OrganizationKind::Cso as i32,
                    name: Some(LocalizedText {
                        ar: "جمعية شباب الفرات".into(),
                        en: "Euphrates Youth".into(),
                    }),
                    governorate: "Raqqa".into(),
                    ..Default::default()
                }),
                apply_for_incubation: false,
                request_id: String::new(),
            },
            &staff,
        ))
        .await
        .expect("the service works as a role that owns nothing");

    // The same login, with its role reset, still sees no tenant's rows
    // unless the transaction names the tenant, and cannot lift the wall.
    let (_, schema) =
        markaz_kit::app::database_of(&env.config, &env.storage, "membership").unwrap();
    let schema = schema.unwrap();
    let mut conn = sqlx::PgConnection::connect(&app_url).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "RESET ROLE; SET search_path TO \"{schema}\""
    )))
    .await
    .unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(seen, 0, "row-level security holds after RESET ROLE");
    let lifted = conn
        .execute("ALTER TABLE organizations NO FORCE ROW LEVEL SECURITY")
        .await;
    assert!(lifted.is_err(), "only the owner alters tables");
    conn.execute("SELECT set_config('markaz.tenant_id', 'raqqa-csc', false)")
        .await
        .unwrap();
    let own: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(own, 1);
    conn.close().await.ok();
    app.shutdown().await;
    admin
        .execute(sqlx::AssertSqlSafe(format!("DROP ROLE \"{login}\"")))
        .await
        .unwrap();
}

/// A well-signed token of a tenant the deployment never registered is
/// refused by every service; once the operator registers the tenant in
/// membership, the others admit it as soon as `TenantRegistered` reaches
/// them over the bus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_nobody_registered_are_refused_everywhere() {
    use std::time::Duration;

    use markaz_kit::auth::{Role, Signer};
    use markaz_kit::testing::authed;
    use markaz_proto::capacity::v1 as cap;
    use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
    use markaz_proto::common::v1::LocalizedText;
    use markaz_proto::membership::v1 as api;
    use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;

    let env = TestEnv::new(Backend::Postgres);
    let app = env
        .start(vec![
            Arc::new(Membership),
            Arc::new(markaz_capacity::Capacity),
        ])
        .await
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut membership = MembershipServiceClient::new(channel.clone());
    let mut capacity = CapacityServiceClient::new(channel);
    // Signed by the deployment's issuer, but not one of this world's tokens.
    let staff_of = |tenant: &str| {
        env.signer.sign(&Signer::claims(
            &env.config.auth,
            "someone",
            tenant,
            &[Role::Staff],
            None,
            Duration::from_secs(600),
        ))
    };
    let topic = || cap::CreateTopicRequest {
        topic: Some(cap::Topic {
            code: "civic-archives".into(),
            name: Some(LocalizedText {
                ar: "الحوكمة".into(),
                en: "Governance".into(),
            }),
            ..Default::default()
        }),
    };
    let ghost = staff_of("ghost-tenant");
    let person = api::CreatePersonRequest {
        person: Some(api::Person {
            full_name: "نادية".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let refused = membership
        .create_person(authed(person.clone(), &ghost))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let refused = capacity
        .create_topic(authed(topic(), &ghost))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    // The operator registers a new center: membership admits it at once,
    // capacity when the event has arrived.
    membership
        .create_tenant(authed(
            api::CreateTenantRequest {
                tenant: Some(api::Tenant {
                    id: "tabqa-csc".into(),
                    name: Some(LocalizedText {
                        ar: "مركز الطبقة".into(),
                        en: "Tabqa".into(),
                    }),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    let staff = staff_of("tabqa-csc");
    let listed = membership
        .list_people(authed(api::ListPeopleRequest::default(), &staff))
        .await;
    assert!(listed.is_ok(), "{listed:?}");
    let admitted = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match capacity.create_topic(authed(topic(), &staff)).await {
                Err(s) if s.code() == tonic::Code::PermissionDenied => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                other => return other,
            }
        }
    })
    .await
    .expect("capacity learns of the tenant");
    assert!(admitted.is_ok(), "{admitted:?}");
    // The ghost is still refused.
    let refused = capacity
        .create_topic(authed(topic(), &ghost))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    app.shutdown().await;
}
