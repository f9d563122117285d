//! The `markaz` binary as an operator uses it: real processes, real files.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use markaz_kit::auth::{KeySource, Signer, Verifier};
use markaz_kit::config::AuthConfig;

fn markaz(data: &PathBuf, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_markaz"));
    cmd.args(args)
        .env("MARKAZ_DATA_DIR", data)
        .env_remove("MARKAZ_DATABASE_URL")
        .env_remove("MARKAZ_NATS_URL")
        .env_remove("MARKAZ_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("markaz runs")
}

mod support;
use support::{Dev, scratch};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn config_prints_the_effective_settings_without_secrets() {
    let dir = scratch("config");
    let out = markaz(
        &dir,
        &["config"],
        &[
            (
                "MARKAZ_DATABASE_URL",
                "postgres://app:s3cret@db:5432/markaz",
            ),
            ("MARKAZ_GRPC_ADDR", "0.0.0.0:7000"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("grpc_addr = \"0.0.0.0:7000\""), "{text}");
    assert!(
        text.contains("postgres://app:****@db:5432/markaz"),
        "{text}"
    );
    assert!(!text.contains("s3cret"));

    let listed = stdout(&markaz(&dir, &["config", "--env"], &[]));
    for name in ["MARKAZ_NATS_URL", "MARKAZ_CONSOLE_OIDC_CLIENT_ID"] {
        assert!(listed.contains(name), "{name} in {listed}");
    }

    let bad = markaz(&dir, &["config"], &[("MARKAZ_GRPC_ADDR", "nowhere")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("MARKAZ_GRPC_ADDR"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn tenants_are_created_and_listed_on_the_embedded_database() {
    let dir = scratch("tenant");
    let out = markaz(
        &dir,
        &[
            "tenant",
            "create",
            "--id",
            "raqqa-csc",
            "--name-ar",
            "مركز الرقة",
            "--name-en",
            "Raqqa center",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("MKZ-RAQQA-CSC"), "{}", stdout(&out));
    let again = markaz(
        &dir,
        &["tenant", "create", "--id", "raqqa-csc", "--name-en", "x"],
        &[],
    );
    assert!(!again.status.success());
    let list = markaz(&dir, &["tenant", "list"], &[]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).contains("raqqa-csc"), "{}", stdout(&list));
    assert!(stdout(&list).contains("Raqqa center"));
}

#[test]
fn tokens_are_issued_with_the_signing_key_and_verify() {
    let dir = scratch("token");
    let missing = markaz(
        &dir,
        &["token", "issue", "--tenant", "demo", "--role", "staff"],
        &[],
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("markaz dev"),
        "{}",
        stderr(&missing)
    );

    let signer =
        Signer::load_or_create(&dir.join("signing-key.json"), &dir.join("jwks.json")).unwrap();
    let out = markaz(
        &dir,
        &[
            "token", "issue", "--tenant", "demo", "--role", "staff", "--role", "trainer",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let caller = rt.block_on(async {
        Verifier::new(&AuthConfig::default(), KeySource::Static(signer.jwks()))
            .await
            .unwrap()
            .verify(&token)
            .unwrap()
    });
    assert_eq!(caller.tenant, "demo");
    assert_eq!(caller.roles.len(), 2);

    let partner = markaz(
        &dir,
        &["token", "issue", "--tenant", "demo", "--role", "partner"],
        &[],
    );
    assert!(stderr(&partner).contains("--org"), "{}", stderr(&partner));
}

#[test]
fn migrate_and_dead_letters_work_on_the_embedded_database() {
    let dir = scratch("dlq");
    let out = markaz(&dir, &["migrate"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("membership: migrated"));
    let list = markaz(&dir, &["dlq", "list"], &[]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).starts_with("SERVICE"));
    let unknown = markaz(&dir, &["dlq", "list", "--services", "nonsense"], &[]);
    assert!(
        stderr(&unknown).contains("unknown service"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn a_database_for_an_unknown_service_is_refused() {
    let dir = scratch("typo");
    let out = markaz(
        &dir,
        &["tenant", "list"],
        &[("MARKAZ_GRANT_DATABASE_URL", "postgres://x@h/db")],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("MARKAZ_GRANT_DATABASE_URL"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_refuses_to_start_without_its_database_and_bus() {
    let dir = scratch("serve");
    let out = markaz(&dir, &["serve"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("MARKAZ_NATS_URL"), "{}", stderr(&out));
}

#[test]
fn serve_console_needs_its_issuer() {
    let dir = scratch("serve-console");
    let out = markaz(&dir, &["serve", "--services", "console"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("MARKAZ_CONSOLE_OIDC_CLIENT_ID"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_starts_serves_and_stops_cleanly_on_sigterm() {
    let dev = Dev::start("dev", &[], None).await;
    let (grpc, console, token) = (&dev.grpc, &dev.console, &dev.token);

    // The printed token works against the printed address.
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        markaz_proto::platform::v1::platform_service_client::PlatformServiceClient::new(channel);
    let mut request = tonic::Request::new(markaz_proto::platform::v1::WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let me = client.who_am_i(request).await.unwrap().into_inner();
    assert_eq!(me.tenant_id, "demo");

    // The printed console answers: its dev sign-in page, in Arabic.
    let addr = console
        .strip_prefix("http://")
        .and_then(|a| a.strip_suffix('/'))
        .expect("the console's address is printed");
    let page = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /signin HTTP/1.1\r\nHost: console\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut page = String::new();
        s.read_to_string(&mut page).await.unwrap();
        page
    };
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains(r#"dir="rtl""#), "{page}");

    let pid = dev.pid().to_string();
    let Dev { mut child, dir, .. } = dev;
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within the drain timeout")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(dir.join("membership.db").exists());
}

/// `markaz report` and `markaz demo seed` as a person runs them:
/// `markaz dev` as a child, its printed address and token, the seed, the
/// report in JSON and as a table, and a second seed that creates nothing.
/// (The write budget is lifted so the test does not wait on it; with it,
/// `markaz dev` paces the seed to about 30 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seed_then_report_shows_the_source_figures() {
    let dev = Dev::start("demo", &[("MARKAZ_WRITE_REQUESTS_PER_SECOND", "0")], None).await;
    let client = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--addr", &dev.grpc]);
        markaz(&dev.dir, &all, &[("MARKAZ_TOKEN", &dev.token)])
    };
    let first = client(&["demo", "seed"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let text = stdout(&first);
    let line = |kind: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(kind))
            .unwrap_or_else(|| panic!("{kind} in {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("consultations"), "consultations 523 created 0 found");
    assert_eq!(line("people"), "people 260 created 0 found");

    let json = client(&["report", "--format", "json", "--by", "gender"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let indicator = |code: &str| {
        report["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == code)
            .unwrap_or_else(|| panic!("{code} in {report}"))
            .clone()
    };
    let trainees = indicator("trainees");
    assert_eq!(trainees["total"], 256);
    let cells: Vec<(String, i64)> = trainees["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"]["gender"].as_str().unwrap().to_string(),
                c["value"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        vec![("GENDER_FEMALE".into(), 70), ("GENDER_MALE".into(), 186)]
    );
    assert_eq!(indicator("networking_participants")["total"], 474);

    let table = client(&[
        "report",
        "--lang",
        "en",
        "--indicator",
        "consultation_sessions",
        "--by",
        "consultation-kind,branch",
    ]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    for row in [
        "technical support  Raqqa branch          196",
        "technical support  Deir ez-Zor branch    187",
        "freshness (the last event applied, per producer): capacity ",
    ] {
        assert!(text.contains(row), "{row:?} in\n{text}");
    }

    let again = client(&["demo", "seed"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("nothing to create, the center was seeded already"),
        "{}",
        stdout(&again)
    );
}

#[test]
fn report_and_seed_refuse_what_they_cannot_do() {
    let dir = scratch("report-refusals");
    let none = markaz(&dir, &["report"], &[("MARKAZ_TOKEN", "")]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stderr(&none).contains("--token or MARKAZ_TOKEN"),
        "{}",
        stderr(&none)
    );
    let args: [(&[&str], &str); 5] = [
        (&["report", "--by", "colour"], "'colour' is no dimension"),
        (
            &["report", "--from", "2026-02-30"],
            "--from '2026-02-30' is not a date",
        ),
        (
            &["report", "--from", "2026-03-01", "--until", "2026-02-01"],
            "is before --from",
        ),
        (
            &["report", "--format", "xml"],
            "--format is table, csv or json",
        ),
        (
            &["report", "--addr", "https://example.org"],
            "plaintext gRPC only",
        ),
    ];
    for (args, said) in args {
        let out = markaz(&dir, args, &[("MARKAZ_TOKEN", "t")]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
    // Nothing listens there: a clear refusal, not a hang.
    let away = markaz(
        &dir,
        &["demo", "seed", "--addr", "127.0.0.1:1"],
        &[("MARKAZ_TOKEN", "t")],
    );
    assert_eq!(away.status.code(), Some(1));
    assert!(
        stderr(&away).contains("cannot reach Markaz"),
        "{}",
        stderr(&away)
    );
}
