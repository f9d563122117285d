//! The event bus end to end: membership's outbox, the relay, the bus and a
//! consumer in another service, on real NATS JetStream and PostgreSQL (and,
//! where the behaviour is the same, on the embedded SQLite + in-process bus).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use markaz_e2e::{LEDGER, Ledger, cure, lines, membership, org_request, register_tenant};
use markaz_kit::auth::Role;
use markaz_kit::both_backends;
use markaz_kit::testing::{Backend, TestEnv, authed, eventually};
use markaz_membership::Membership;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::events::v1 as ev;
use markaz_proto::membership::v1 as api;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

const TENANT: &str = "bus-tenant";
const WAIT: Duration = Duration::from_secs(15);

async fn create_org(
    env: &TestEnv,
    c: &mut MembershipServiceClient<Channel>,
    name: &str,
) -> api::Organization {
    c.create_organization(authed(
        org_request(name),
        &env.token(TENANT, &[Role::Staff], None),
    ))
    .await
    .unwrap()
    .into_inner()
}

/// Waits until the ledger has `n` lines for the organization.
async fn ledger_reaches(ledger: &markaz_kit::db::Db, organization_id: &str, n: i64) -> bool {
    eventually(WAIT, || async move {
        (lines(ledger, TENANT, organization_id).await == n).then_some(())
    })
    .await
    .is_some()
}

both_backends!(
    an_outbox_event_reaches_a_consumer_in_another_service,
    a_poison_event_is_dead_lettered_then_replayed,
    a_burst_is_applied_in_batches_and_a_poison_in_it_holds_nothing_back,
    a_handler_that_panics_costs_one_dead_letter_not_the_consumer,
    an_operator_pages_through_dead_letters_and_replays_one_over_grpc,
);

async fn an_outbox_event_reaches_a_consumer_in_another_service(backend: Backend) {
    let env = TestEnv::new(backend);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    let mut c = membership(&app).await;
    register_tenant(&env, &app, TENANT).await;
    let org = create_org(&env, &mut c, "Euphrates").await;
    let ledger = app.db(LEDGER).unwrap().clone();
    let arrived = ledger_reaches(&ledger, &org.id, 1).await;
    assert!(arrived, "the event reached the ledger");
    app.shutdown().await;
}

async fn a_poison_event_is_dead_lettered_then_replayed(backend: Backend) {
    let env = TestEnv::new(backend);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    let mut c = membership(&app).await;
    register_tenant(&env, &app, TENANT).await;
    let poison = create_org(&env, &mut c, "poison").await;
    let ledger = app.db(LEDGER).unwrap().clone();

    let letter = eventually(WAIT, || {
        let ledger = ledger.clone();
        async move {
            markaz_kit::events::dead_letters(&ledger, false)
                .await
                .ok()?
                .into_iter()
                .next()
        }
    })
    .await
    .expect("the poison event is dead-lettered");
    assert_eq!(letter.attempts, i64::from(env.config.consumer.max_deliver));
    assert_eq!(letter.event_type, "markaz.events.v1.OrganizationRegistered");
    assert_eq!(letter.tenant_id, TENANT);
    assert_eq!(lines(&ledger, TENANT, &poison.id).await, 0);

    // Events behind the poison are not held up by it.
    let healthy = create_org(&env, &mut c, "healthy").await;
    let passed = ledger_reaches(&ledger, &healthy.id, 1).await;
    assert!(passed, "the poison does not hold up later events");

    // The operator fixes the cause and replays: one effect, letter closed.
    cure(&ledger, TENANT, "poison").await;
    let consumer = app.consumer(LEDGER).unwrap().clone();
    let applied = markaz_kit::events::replay(&ledger, &consumer, letter.id)
        .await
        .unwrap();
    assert_eq!(applied, markaz_kit::events::Applied::Applied);
    assert_eq!(lines(&ledger, TENANT, &poison.id).await, 1);
    assert!(
        markaz_kit::events::dead_letters(&ledger, false)
            .await
            .unwrap()
            .is_empty()
    );
    // Replaying twice is refused, and would have had no effect anyway.
    assert!(
        markaz_kit::events::replay(&ledger, &consumer, letter.id)
            .await
            .is_err()
    );
    assert_eq!(lines(&ledger, TENANT, &poison.id).await, 1);

    if backend == Backend::Postgres {
        // Operators also see the dead letter on the bus.
        let js = jetstream().await;
        let mut dlq = js
            .get_stream(format!(
                "{}_DLQ",
                env.config.bus_namespace.to_ascii_uppercase()
            ))
            .await
            .unwrap();
        assert_eq!(dlq.info().await.unwrap().state.messages, 1);
    }
    app.shutdown().await;
}

async fn a_burst_is_applied_in_batches_and_a_poison_in_it_holds_nothing_back(backend: Backend) {
    let env = TestEnv::new(backend);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    let c = membership(&app).await;
    register_tenant(&env, &app, TENANT).await;
    // Forty registrations at once, one of them poison: the consumer takes
    // them in batches; the batch holding the poison fails and its events are
    // applied one by one instead.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let mut c = c.clone();
        let token = env.token(TENANT, &[Role::Staff], None);
        let name = if i == 17 {
            "poison".to_string()
        } else {
            format!("burst {i}")
        };
        tasks.push(tokio::spawn(async move {
            c.create_organization(authed(org_request(&name), &token))
                .await
                .unwrap()
                .into_inner()
        }));
    }
    let mut orgs = Vec::new();
    for t in tasks {
        orgs.push(t.await.unwrap());
    }
    let ledger = app.db(LEDGER).unwrap().clone();
    for org in orgs
        .iter()
        .filter(|o| o.name.as_ref().unwrap().en != "poison")
    {
        assert!(
            ledger_reaches(&ledger, &org.id, 1).await,
            "{} applied",
            org.id
        );
    }
    let letters = eventually(WAIT, || {
        let ledger = ledger.clone();
        async move {
            let l = markaz_kit::events::dead_letters(&ledger, false)
                .await
                .ok()?;
            (!l.is_empty()).then_some(l)
        }
    })
    .await
    .expect("the poison is dead-lettered");
    assert_eq!(letters.len(), 1);
    app.shutdown().await;
}

async fn a_handler_that_panics_costs_one_dead_letter_not_the_consumer(backend: Backend) {
    let env = TestEnv::new(backend);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    let mut c = membership(&app).await;
    register_tenant(&env, &app, TENANT).await;
    create_org(&env, &mut c, "panic").await;
    let ledger = app.db(LEDGER).unwrap().clone();
    let letter = eventually(WAIT, || {
        let ledger = ledger.clone();
        async move {
            markaz_kit::events::dead_letters(&ledger, false)
                .await
                .ok()?
                .into_iter()
                .next()
        }
    })
    .await
    .expect("the panicking event is dead-lettered");
    assert!(letter.error.contains("panicked"), "{}", letter.error);
    // The consumer is alive: the next event is applied.
    let after = create_org(&env, &mut c, "after the panic").await;
    assert!(ledger_reaches(&ledger, &after.id, 1).await);
    app.shutdown().await;
}

async fn jetstream() -> async_nats::jetstream::Context {
    let client = async_nats::connect(markaz_kit::testing::nats_url())
        .await
        .unwrap();
    async_nats::jetstream::new(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_their_id_as_nats_msg_id_and_the_callers_trace() {
    let env = TestEnv::new(Backend::Postgres);
    let app = env.start(vec![Arc::new(Membership)]).await.unwrap();
    let mut c = membership(&app).await;
    register_tenant(&env, &app, TENANT).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut request = authed(
        org_request("traced"),
        &env.token(TENANT, &[Role::Staff], None),
    );
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    let org = c.create_organization(request).await.unwrap().into_inner();

    let js = jetstream().await;
    let stream_name = format!(
        "{}_MEMBERSHIP",
        env.config.bus_namespace.to_ascii_uppercase()
    );
    let stream = js.get_stream(&stream_name).await.unwrap();
    let subject = format!(
        "{}.evt.membership.OrganizationRegistered",
        env.config.bus_namespace
    );
    let found = eventually(WAIT, || {
        let stream = stream.clone();
        let subject = subject.clone();
        async move { stream.get_last_raw_message_by_subject(&subject).await.ok() }
    })
    .await
    .expect("the event is on the stream");
    let headers = found.headers;
    let envelope: ev::Envelope = prost::Message::decode(found.payload.as_ref()).unwrap();
    assert_eq!(
        headers.get("Nats-Msg-Id").map(|v| v.as_str().to_string()),
        Some(envelope.id.clone())
    );
    assert_eq!(
        headers
            .get("traceparent")
            .map(|v| v.as_str().to_string())
            .as_deref(),
        Some(traceparent)
    );
    assert_eq!(envelope.traceparent, traceparent);
    assert_eq!(envelope.producer, "membership");
    assert_eq!(envelope.tenant_id, TENANT);
    let event: ev::OrganizationRegistered =
        prost::Message::decode(envelope.payload.as_slice()).unwrap();
    assert_eq!(event.organization.unwrap().id, org.id);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_has_one_effect() {
    let env = TestEnv::new(Backend::Postgres);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    let mut c = membership(&app).await;
    register_tenant(&env, &app, TENANT).await;
    let first = create_org(&env, &mut c, "once").await;
    let ledger = app.db(LEDGER).unwrap().clone();
    assert!(ledger_reaches(&ledger, &first.id, 1).await);

    // The same event again on the stream, under another message id so the
    // duplicate window lets it through — as a republish after the window
    // closed, or a redelivery, would.
    let js = jetstream().await;
    let subject = format!(
        "{}.evt.membership.OrganizationRegistered",
        env.config.bus_namespace
    );
    let stream = js
        .get_stream(format!(
            "{}_MEMBERSHIP",
            env.config.bus_namespace.to_ascii_uppercase()
        ))
        .await
        .unwrap();
    let original = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .unwrap();
    js.send_publish(
        subject.clone(),
        async_nats::jetstream::message::PublishMessage::build()
            .payload(original.payload.clone())
            .message_id("a-second-copy"),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    // A later event: once it is applied, the copy before it was handled too.
    let later = create_org(&env, &mut c, "later").await;
    assert!(ledger_reaches(&ledger, &later.id, 1).await);
    assert_eq!(
        lines(&ledger, TENANT, &first.id).await,
        1,
        "the copy had no second effect"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_before_a_crash_is_published_at_restart() {
    let env = TestEnv::new(Backend::Postgres);
    // The membership database exists (a first run migrated it).
    let first = env.start(vec![Arc::new(Membership)]).await.unwrap();
    first.shutdown().await;

    // A request commits its change and its event, and the process dies
    // before the relay publishes: no process runs now, the row is committed
    // and unpublished.
    let membership = env.db("membership").await.unwrap();
    let mut tx = membership.write(TENANT).await.unwrap();
    let org_id = markaz_kit::rpc::new_id();
    tx.publish(
        &org_id,
        &ev::OrganizationRegistered {
            organization: Some(ev::OrganizationSnapshot {
                id: org_id.clone(),
                name: Some(LocalizedText {
                    ar: String::new(),
                    en: "survivor".into(),
                }),
                version: 1,
                ..Default::default()
            }),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    membership.close().await;

    // The restarted process publishes it and the consumer applies it.
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    let ledger = app.db(LEDGER).unwrap().clone();
    let arrived = ledger_reaches(&ledger, &org_id, 1).await;
    assert!(arrived, "the event survived the crash");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_consumers_are_created_idempotently() {
    let env = TestEnv::new(Backend::Postgres);
    for _ in 0..2 {
        let app = env
            .start(vec![Arc::new(Membership), Arc::new(Ledger)])
            .await
            .unwrap();
        app.shutdown().await;
    }
    let js = jetstream().await;
    let stream = js
        .get_stream(format!(
            "{}_MEMBERSHIP",
            env.config.bus_namespace.to_ascii_uppercase()
        ))
        .await
        .unwrap();
    let mut names: Vec<String> = stream
        .consumer_names()
        .filter_map(|n| async move { n.ok() })
        .collect()
        .await;
    names.sort();
    // Membership reads its own stream too: its erasures' confirmations.
    assert_eq!(names, ["ledger--membership", "membership--membership"]);
}

/// What the console's dead-letter page rests on: the platform service of
/// the process lists each of its services' letters, a page at a time, to
/// the operator alone, and replays one once its cause is fixed.
async fn an_operator_pages_through_dead_letters_and_replays_one_over_grpc(backend: Backend) {
    use markaz_proto::platform::v1 as platform;
    use markaz_proto::platform::v1::platform_service_client::PlatformServiceClient;

    let env = TestEnv::new(backend);
    let app = env
        .start(vec![Arc::new(Membership), Arc::new(Ledger)])
        .await
        .unwrap();
    let mut c = membership(&app).await;
    register_tenant(&env, &app, TENANT).await;
    let first = create_org(&env, &mut c, "poison").await;
    let second = create_org(&env, &mut c, "poison").await;
    let ledger = app.db(LEDGER).unwrap().clone();
    eventually(WAIT, || {
        let ledger = ledger.clone();
        async move {
            let letters = markaz_kit::events::dead_letters(&ledger, false)
                .await
                .ok()?;
            (letters.len() == 2).then_some(())
        }
    })
    .await
    .expect("both poison events are dead-lettered");

    let mut p = PlatformServiceClient::connect(format!("http://{}", app.grpc_addr()))
        .await
        .unwrap();
    let operator = env.token("", &[Role::Operator], None);
    let list = |service: &str, page_size: i32, page_token: &str, include_replayed: bool| {
        authed(
            platform::ListDeadLettersRequest {
                service: service.into(),
                include_replayed,
                page_size,
                page_token: page_token.into(),
            },
            &operator,
        )
    };

    // A tenant's admin runs no deployment: refused.
    let refused = p
        .list_dead_letters(authed(
            platform::ListDeadLettersRequest {
                service: LEDGER.into(),
                ..Default::default()
            },
            &env.token(TENANT, &[Role::Admin], None),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    // Every service of the process, or one.
    let every = p
        .list_dead_letters(list("", 0, "", false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(every.dead_letters.len(), 2);
    assert!(every.dead_letters.iter().all(|d| d.service == LEDGER));
    let unknown = p
        .list_dead_letters(list("grants", 0, "", false))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "not run here");

    // Newest first, one a page.
    let page = p
        .list_dead_letters(list(LEDGER, 1, "", false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.services, vec![LEDGER.to_string(), "membership".into()]);
    assert_eq!(page.dead_letters.len(), 1);
    let newest = &page.dead_letters[0];
    assert_eq!(newest.service, LEDGER);
    assert_eq!(newest.tenant_id, TENANT);
    assert_eq!(newest.event_type, "markaz.events.v1.OrganizationRegistered");
    assert_eq!(newest.attempts, i64::from(env.config.consumer.max_deliver));
    assert!(newest.fail_time.is_some() && newest.replay_time.is_none());
    assert!(!page.next_page_token.is_empty());
    let rest = p
        .list_dead_letters(list(LEDGER, 1, &page.next_page_token, false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.dead_letters.len(), 1);
    assert!(rest.dead_letters[0].id < newest.id);
    assert!(rest.next_page_token.is_empty(), "two letters, two pages");
    // A token continues only its own list.
    let foreign = p
        .list_dead_letters(list(LEDGER, 1, &page.next_page_token, true))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::InvalidArgument);

    // The cause fixed, the oldest letter replayed: applied once, marked.
    cure(&ledger, TENANT, "poison").await;
    let oldest = rest.dead_letters[0].id;
    let replayed = p
        .replay_dead_letter(authed(
            platform::ReplayDeadLetterRequest {
                service: LEDGER.into(),
                id: oldest,
            },
            &operator,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(replayed.applied);
    let letter = replayed.dead_letter.unwrap();
    assert_eq!(letter.id, oldest);
    assert!(letter.replay_time.is_some());
    let applied_to =
        lines(&ledger, TENANT, &first.id).await + lines(&ledger, TENANT, &second.id).await;
    assert_eq!(applied_to, 1, "one organization's event applied, once");
    let open = p
        .list_dead_letters(list(LEDGER, 0, "", false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(open.dead_letters.len(), 1, "the replayed one is closed");
    let all = p
        .list_dead_letters(list(LEDGER, 0, "", true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.dead_letters.len(), 2);
    let again = p
        .replay_dead_letter(authed(
            platform::ReplayDeadLetterRequest {
                service: LEDGER.into(),
                id: oldest,
            },
            &operator,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    app.shutdown().await;
}
