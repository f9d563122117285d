//! `markaz demo seed` against the whole platform, then `markaz report`'s
//! figures: every service in one app on SQLite with the in-process bus (as
//! `markaz dev` runs them), the center of the source document seeded
//! through the public gRPC APIs by the same library function the command
//! calls, and the impact figures — computed from the services' events only
//! — held to the source's figures as docs/demo.md reads them. A second seed
//! creates nothing and changes no figure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use markaz_client::demo;
use markaz_client::labels::{Lang, Names};
use markaz_client::progress::Progress;
use markaz_client::report::{self, Format, Query};
use markaz_client::rpc::Api;
use markaz_kit::auth::Role;
use markaz_kit::testing::{Backend, TestEnv, authed};
use markaz_kit::time::Date;
use markaz_proto::common::v1::LocalizedText;
use markaz_proto::impact::v1 as imp;
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use markaz_proto::networking::v1 as net;
use markaz_proto::networking::v1::networking_service_client::NetworkingServiceClient;
use tonic::transport::Channel;

const TENANT: &str = "demo";
const SETTLE: Duration = Duration::from_secs(60);

type Figures = BTreeMap<String, BTreeMap<String, i64>>;

/// `code → (cell key joined by '/', or "total") → value` of an answer.
fn figures(answer: &imp::GetIndicatorsResponse) -> Figures {
    answer
        .indicators
        .iter()
        .map(|i| {
            let mut cells: BTreeMap<String, i64> = i
                .cells
                .iter()
                .map(|c| {
                    let key: Vec<&str> = c.key.iter().map(|k| k.value.as_str()).collect();
                    (key.join("/"), c.value)
                })
                .collect();
            cells.insert("total".into(), i.total);
            (i.definition.as_ref().unwrap().code.clone(), cells)
        })
        .collect()
}

async fn settled(api: &Api, query: &Query) -> imp::GetIndicatorsResponse {
    let s = report::settle(
        api,
        &query.request(),
        SETTLE,
        report::QUIET,
        &Progress::hidden(),
    )
    .await
    .expect("GetIndicators answers");
    assert!(s.settled, "the figures did not settle within {SETTLE:?}");
    s.figures
}

fn get(f: &Figures, code: &str, key: &str) -> i64 {
    *f.get(code)
        .unwrap_or_else(|| panic!("no indicator {code} in {f:?}"))
        .get(key)
        .unwrap_or_else(|| panic!("{code} has no cell {key}: {:?}", f[code]))
}

async fn count_of_organizations_and_people(channel: &Channel, token: &str) -> (usize, usize) {
    let mut m = MembershipServiceClient::new(channel.clone());
    let orgs = m
        .list_organizations(authed(
            mem::ListOrganizationsRequest {
                page_size: 500,
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    let people = m
        .list_people(authed(
            mem::ListPeopleRequest {
                page_size: 500,
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(orgs.next_page_token.is_empty() && people.next_page_token.is_empty());
    (orgs.organizations.len(), people.people.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seeded_center_reports_the_source_figures_and_a_second_seed_changes_nothing() {
    let env = TestEnv::new(Backend::Sqlite);
    let files = std::env::temp_dir().join(format!("markaz-e2e-demo-{}", env.id()));
    let app = env
        .start(vec![
            Arc::new(markaz_membership::Membership),
            Arc::new(markaz_capacity::Capacity),
            Arc::new(markaz_grants::Grants),
            Arc::new(markaz_networking::Networking),
            Arc::new(markaz_resources::Resources::with_files(
                markaz_resources::Files::Local(files.clone()),
            )),
            Arc::new(markaz_impact::Impact),
        ])
        .await
        .expect("the app starts");
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    MembershipServiceClient::new(channel.clone())
        .create_tenant(authed(
            mem::CreateTenantRequest {
                tenant: Some(mem::Tenant {
                    id: TENANT.into(),
                    name: Some(LocalizedText {
                        ar: "مركز دعم المجتمع المدني (تجريبي)".into(),
                        en: "Civil Society Support Center (demo)".into(),
                    }),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .unwrap();
    // The token `markaz dev` prints: an admin and staff member of `demo`.
    let token = env.token_of("dev-admin", TENANT, &[Role::Admin, Role::Staff]);
    let api = Api::new(channel.clone(), &token).unwrap();
    let today = Date::today();

    let started = std::time::Instant::now();
    let first = demo::seed(api.clone(), today, Progress::hidden())
        .await
        .expect("the first seed");
    eprintln!(
        "first seed: {:.1} s, {first:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(first.created.get("organizations"), Some(&35));
    assert_eq!(first.created.get("people"), Some(&260));
    assert_eq!(first.created.get("courses"), Some(&44));
    assert_eq!(first.created.get("consultations"), Some(&523));
    assert_eq!(first.created.get("awards"), Some(&24));

    // The period the seed spans, as `markaz report --from --until` asks it.
    let query = Query {
        from: first.first_day.unwrap(),
        until: first.last_day.unwrap(),
        ..Query::this_year(today)
    };
    let split = |by: &[imp::Dimension]| Query {
        by: by.to_vec(),
        ..query.clone()
    };
    use imp::Dimension as D;
    let totals = figures(&settled(&api, &query).await);
    let by_gender = figures(&settled(&api, &split(&[D::Gender])).await);
    let by_branch = figures(&settled(&api, &split(&[D::Branch])).await);
    let by_kind = figures(&settled(&api, &split(&[D::CourseKind])).await);
    let by_topic = figures(&settled(&api, &split(&[D::Topic])).await);
    let by_session = figures(&settled(&api, &split(&[D::ConsultationKind, D::Branch])).await);

    // "186 male and 70 female trainees ... 18 workshops of four days". (Kinds
    // come as capacity's events name them, "workshop": see docs/demo.md.)
    assert_eq!(get(&totals, "trainees", "total"), 256);
    assert_eq!(get(&by_gender, "trainees", "GENDER_FEMALE"), 70);
    assert_eq!(get(&by_gender, "trainees", "GENDER_MALE"), 186);
    assert_eq!(get(&by_kind, "trainees", "workshop"), 256);
    assert_eq!(get(&by_kind, "trainees", "training_course"), 104);
    assert_eq!(get(&by_kind, "courses_held", "workshop"), 18);
    assert_eq!(get(&by_kind, "training_days", "workshop"), 72);
    // "26 training courses" in management.
    assert_eq!(get(&by_kind, "courses_held", "training_course"), 26);
    assert_eq!(get(&totals, "courses_held", "total"), 44);
    assert_eq!(get(&totals, "training_days", "total"), 150);
    // "3 advocacy workshops, 39 trainees ... 3 sessions, 9 activists".
    assert_eq!(get(&by_topic, "courses_held", "mobilisation-advocacy"), 3);
    assert_eq!(get(&by_topic, "trainees", "mobilisation-advocacy"), 39);
    assert_eq!(
        get(&by_topic, "consultation_sessions", "mobilisation-advocacy"),
        3
    );
    assert_eq!(
        get(
            &by_topic,
            "consultation_attendances",
            "mobilisation-advocacy"
        ),
        9
    );
    // "140 consultation sessions ... 383 technical-support sessions (196 in
    // Raqqa and 187 in Deir ez-Zor)".
    assert_eq!(get(&totals, "consultation_sessions", "total"), 523);
    let c = "consultation";
    let ts = "technical_support";
    assert_eq!(
        get(&by_session, "consultation_sessions", &format!("{c}/raqqa"))
            + get(
                &by_session,
                "consultation_sessions",
                &format!("{c}/deir-ez-zor")
            ),
        140
    );
    assert_eq!(
        get(&by_session, "consultation_sessions", &format!("{ts}/raqqa")),
        196
    );
    assert_eq!(
        get(
            &by_session,
            "consultation_sessions",
            &format!("{ts}/deir-ez-zor")
        ),
        187
    );
    assert_eq!(get(&totals, "consultation_attendances", "total"), 529);
    // "24 community projects in Raqqa and Deir ez-Zor".
    assert_eq!(get(&totals, "community_projects_funded", "total"), 24);
    assert_eq!(get(&by_branch, "community_projects_funded", "raqqa"), 12);
    assert_eq!(
        get(&by_branch, "community_projects_funded", "deir-ez-zor"),
        12
    );
    assert_eq!(get(&totals, "community_projects_completed", "total"), 24);
    let committed: i64 = (0..24).map(demo::center::amount).sum();
    let spent: i64 = (0..24)
        .map(|n| demo::center::spent(n).0 + demo::center::spent(n).1)
        .sum();
    assert_eq!(get(&totals, "grant_amount_committed", "USD"), committed);
    assert_eq!(get(&totals, "grant_amount_disbursed", "USD"), committed);
    assert_eq!(get(&totals, "grant_amount_spent", "USD"), spent);
    // The incubation program.
    assert_eq!(get(&totals, "organizations_incubated", "total"), 28);
    assert_eq!(get(&totals, "organizations_graduated", "total"), 4);
    assert_eq!(get(&totals, "organizations_withdrawn", "total"), 2);
    assert_eq!(get(&by_branch, "trainees", "raqqa"), 128);
    assert_eq!(get(&totals, "consultation_beneficiaries", "total"), 256);

    // Networking: "about 474 participants", each once; the meet-and-greets
    // with local administration; the coalitions and the 2019 campaigns.
    assert_eq!(get(&totals, "networking_events_held", "total"), 12);
    assert_eq!(get(&totals, "local_administration_meetings", "total"), 4);
    assert_eq!(get(&totals, "networking_participants", "total"), 474);
    assert_eq!(get(&totals, "networking_people", "total"), 124);
    assert_eq!(get(&totals, "coalitions_formed", "total"), 2);
    assert_eq!(get(&totals, "coalition_members", "total"), 10);
    assert_eq!(get(&totals, "campaigns_launched", "total"), 7);
    // The library and the co-working space.
    assert_eq!(get(&totals, "library_items_published", "total"), 10);
    assert_eq!(get(&totals, "library_downloads", "total"), 0);
    assert_eq!(get(&totals, "space_bookings", "total"), 8);
    assert_eq!(get(&totals, "organizations_using_space", "total"), 8);

    // Networking's own report agrees.
    let networking = NetworkingServiceClient::new(channel.clone())
        .get_networking_report(authed(
            net::GetNetworkingReportRequest {
                from: Some(query.from.to_proto()),
                until: Some(query.until.to_proto()),
                branch_id: String::new(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(networking.events_held, 12);
    assert_eq!(networking.participants.unwrap().total.unwrap().total, 474);
    assert_eq!(networking.campaigns.unwrap().completed, 7);

    // The report renders what GetIndicators answered.
    let table = report::render(
        &settled(&api, &split(&[D::Gender])).await,
        &split(&[D::Gender]),
        &report::names(&api).await,
        Lang::Ar,
        Format::Table,
    );
    assert!(table.contains("المتدربون"), "{table}");
    assert!(table.contains("إناث"), "{table}");
    let csv = report::render(
        &settled(&api, &query).await,
        &query,
        &Names::default(),
        Lang::En,
        Format::Csv,
    );
    assert!(csv.contains("\ntrainees,"), "{csv}");
    assert!(csv.contains(",total,256,\n"), "{csv}");

    let counts = count_of_organizations_and_people(&channel, &token).await;
    assert_eq!(counts, (35, 260));

    // Again, as if the next day (the plan's dates move with the calendar,
    // the lookups do not): nothing new, the same figures.
    let started = std::time::Instant::now();
    let second = demo::seed(api.clone(), today.add_days(1), Progress::hidden())
        .await
        .expect("the second seed");
    eprintln!("second seed: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(
        second.created,
        BTreeMap::new(),
        "the second seed created {:?}",
        second.created
    );
    assert_eq!(second.found.get("consultations"), Some(&523));
    assert_eq!(
        count_of_organizations_and_people(&channel, &token).await,
        counts
    );
    assert_eq!(figures(&settled(&api, &query).await), totals);
    assert_eq!(
        figures(&settled(&api, &split(&[D::ConsultationKind, D::Branch])).await),
        by_session
    );

    app.shutdown().await;
    let _ = std::fs::remove_dir_all(files);
}
