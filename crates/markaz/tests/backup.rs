//! `markaz backup` and `markaz restore` as an operator runs them: a real
//! `markaz dev` serving and written to while it is backed up, stopped, its
//! data directory wiped, restored, started again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use markaz_proto::capacity::v1 as cap;
use markaz_proto::capacity::v1::capacity_service_client::CapacityServiceClient;
use markaz_proto::common::v1::{AgeBand, Gender, LocalizedText, OrganizationKind};
use markaz_proto::membership::v1 as mem;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};
use tonic::transport::Channel;

mod support;
use support::{Dev, scratch};

const WAIT: Duration = Duration::from_secs(30);
/// The whole of a test, however it goes.
const BOUND: Duration = Duration::from_secs(300);

const ORG_AR: &str = "جمعية شباب الفرات للتنمية — الرقّة";
const PERSON_AR: &str = "نادية عبد الرحمن الأحمد";

async fn markaz(args: &[&str]) -> Output {
    markaz_in(Path::new("no-such-data-dir"), args).await
}

/// The binary with `MARKAZ_DATA_DIR` = `data` (the commands here name
/// theirs with `--data-dir`).
async fn markaz_in(data: &Path, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_markaz"))
            .args(&args)
            .env("MARKAZ_DATA_DIR", data)
            .env_remove("MARKAZ_DATABASE_URL")
            .env_remove("MARKAZ_NATS_URL")
            .env_remove("MARKAZ_CONFIG")
            .output()
            .expect("markaz runs")
    })
    .await
    .unwrap()
}

/// `markaz restore --from from --data-dir to [--force]`.
async fn restore(from: &Path, to: &Path, force: bool) -> Output {
    let mut args = vec!["restore", "--from", path(from), "--data-dir", path(to)];
    if force {
        args.push("--force");
    }
    markaz(&args).await
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

struct Clients {
    membership: MembershipServiceClient<Channel>,
    capacity: CapacityServiceClient<Channel>,
}

async fn clients(dev: &Dev) -> Clients {
    let channel = Channel::from_shared(format!("http://{}", dev.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Clients {
        membership: MembershipServiceClient::new(channel.clone()),
        capacity: CapacityServiceClient::new(channel),
    }
}

async fn create_org(
    m: &mut MembershipServiceClient<Channel>,
    token: &str,
    ar: &str,
    request_id: &str,
) -> Result<mem::Organization, tonic::Status> {
    m.create_organization(authed(
        mem::CreateOrganizationRequest {
            organization: Some(mem::Organization {
                kind: OrganizationKind::Cso as i32,
                name: Some(LocalizedText {
                    ar: ar.into(),
                    en: String::new(),
                }),
                ..Default::default()
            }),
            apply_for_incubation: false,
            request_id: request_id.into(),
        },
        token,
    ))
    .await
    .map(|r| r.into_inner())
}

/// Whether capacity has the organization in its copy of membership's:
/// NOT_FOUND until the event arrived, then "no assessment yet".
async fn capacity_knows(c: &mut CapacityServiceClient<Channel>, token: &str, org: &str) -> bool {
    match c
        .recommend_courses(authed(
            cap::RecommendCoursesRequest {
                organization_id: org.into(),
                max_results: 1,
            },
            token,
        ))
        .await
    {
        Ok(_) => true,
        Err(s) if s.code() == tonic::Code::FailedPrecondition => true,
        Err(s) if s.code() == tonic::Code::NotFound => false,
        Err(s) => panic!("capacity answered {s:?}"),
    }
}

async fn create_person(
    m: &mut MembershipServiceClient<Channel>,
    token: &str,
    request_id: &str,
) -> mem::Person {
    m.create_person(authed(
        mem::CreatePersonRequest {
            person: Some(mem::Person {
                full_name: PERSON_AR.into(),
                gender: Gender::Female as i32,
                age_band: AgeBand::AgeBand2534 as i32,
                legal_basis: mem::LegalBasis::Consent as i32,
                processing_purpose: "تدريب".into(),
                ..Default::default()
            }),
            request_id: request_id.into(),
        },
        token,
    ))
    .await
    .unwrap()
    .into_inner()
}

async fn until_capacity_knows(c: &mut CapacityServiceClient<Channel>, token: &str, org: &str) {
    let known = tokio::time::timeout(WAIT, async {
        while !capacity_knows(c, token, org).await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(known.is_ok(), "capacity learns of {org}");
}

/// After a restore, with the token of before: what the backup held is
/// there byte for byte, what was written after it is not.
async fn check_restored(
    c: &mut Clients,
    token: &str,
    org: &mem::Organization,
    consulted: &cap::Consultation,
    later: &mem::Organization,
) {
    let get = |id: &str| authed(mem::GetOrganizationRequest { id: id.into() }, token);
    let back = c
        .membership
        .get_organization(get(&org.id))
        .await
        .expect("the token of before the backup still verifies")
        .into_inner();
    assert_eq!(back.name.unwrap().ar.as_bytes(), ORG_AR.as_bytes());
    // Found by a part of its name: the search index came back with its rows
    // (on SQLite an FTS5 table keyed by a key of its own, which VACUUM INTO
    // keeps).
    let found: Vec<String> = c
        .membership
        .list_organizations(authed(
            mem::ListOrganizationsRequest {
                query: "الفرات".into(),
                page_size: 500,
                ..Default::default()
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .organizations
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert!(found.contains(&org.id), "{found:?}");
    assert!(!found.contains(&later.id), "{found:?}");
    let back = c
        .capacity
        .get_consultation(authed(
            cap::GetConsultationRequest {
                id: consulted.id.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.notes, consulted.notes);
    assert_eq!(back.organization_id, org.id);
    let gone = c
        .membership
        .get_organization(get(&later.id))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
}

/// A consultation of `org` attended by `person`: capacity takes it only once
/// both arrived in its copies, so it is retried until they did.
async fn consultation(
    c: &mut CapacityServiceClient<Channel>,
    token: &str,
    org: &str,
    person: &str,
    request_id: &str,
) -> cap::Consultation {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = c
            .create_consultation(authed(
                cap::CreateConsultationRequest {
                    consultation: Some(cap::Consultation {
                        kind: cap::ConsultationKind::TechnicalSupport as i32,
                        organization_id: org.into(),
                        attendee_person_ids: vec![person.into()],
                        advisor: Some(cap::Advisor {
                            name: "خبير خارجي".into(),
                            kind: cap::AdvisorKind::ExternalExpert as i32,
                        }),
                        branch_id: "raqqa".into(),
                        held_on: Some(markaz_kit::time::Date::today().add_days(-1).to_proto()),
                        duration_minutes: 45,
                        notes: "متابعة خطة المناصرة".into(),
                        ..Default::default()
                    }),
                    request_id: request_id.into(),
                },
                token,
            ))
            .await;
        match answer {
            Ok(r) => return r.into_inner(),
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "capacity never learnt of {org} and {person}: {s:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!("consultation refused: {s:?}"),
        }
    }
}

async fn stop(dev: Dev) -> PathBuf {
    let pid = dev.pid().to_string();
    let Dev { mut child, dir, .. } = dev;
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("markaz dev stops")
        .unwrap();
    assert!(status.success(), "{status}");
    dir
}

async fn open(file: &Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .unwrap()
}

async fn ids(file: &Path, sql: &'static str) -> BTreeSet<String> {
    let mut conn = open(file).await;
    sqlx::query(sql)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_the_data_keys_files_and_events() {
    tokio::time::timeout(BOUND, backup_wipe_restore())
        .await
        .expect("the test finishes in time");
}

async fn backup_wipe_restore() {
    let dev = Dev::start(
        "backup-live",
        &[("MARKAZ_WRITE_REQUESTS_PER_SECOND", "0")],
        None,
    )
    .await;
    let token = dev.token.clone();
    let mut c = clients(&dev).await;
    let org = create_org(&mut c.membership, &token, ORG_AR, "backup-org-1")
        .await
        .unwrap();
    let person = create_person(&mut c.membership, &token, "backup-person-1").await;
    // Needs both copies in capacity: membership's events went through.
    let consulted = consultation(
        &mut c.capacity,
        &token,
        &org.id,
        &person.id,
        "backup-consultation-1",
    )
    .await;
    // A file of the library, where the resources service keeps them.
    let library = dev.dir.join("files").join("items").join("x");
    std::fs::create_dir_all(&library).unwrap();
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(library.join("0193-report.pdf"), &blob).unwrap();
    std::fs::write(library.join("0194-upload.pdf#17"), b"half an upload").unwrap();

    // Writers keep going while the backup runs.
    let busy = Arc::new(AtomicBool::new(true));
    let writer = {
        let busy = busy.clone();
        let mut m = c.membership.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let mut made = 0u32;
            while busy.load(Ordering::Relaxed) {
                let name = format!("منظمة رقم {made}");
                create_org(&mut m, &token, &name, &format!("busy-{made}"))
                    .await
                    .expect("writes go on during the backup");
                made += 1;
            }
            made
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backup = scratch("backup-live-copy").join("copy");
    let taken = markaz(&[
        "backup",
        "--data-dir",
        path(&dev.dir),
        "--to",
        path(&backup),
    ])
    .await;
    assert!(taken.status.success(), "{}", stderr(&taken));
    tokio::time::sleep(Duration::from_millis(200)).await;
    busy.store(false, Ordering::Relaxed);
    let made = writer.await.unwrap();
    assert!(made > 0, "writes happened around the backup");

    // The copy is one cut: every organization capacity's copy knows is in
    // membership's, and every one membership has is in capacity's copy or
    // still waits in membership's outbox (published again after a restore).
    let membership_orgs = ids(
        &backup.join("membership.db"),
        "SELECT id FROM organizations",
    )
    .await;
    let copied = ids(
        &backup.join("capacity.db"),
        "SELECT id FROM membership_organizations",
    )
    .await;
    let pending = ids(
        &backup.join("membership.db"),
        "SELECT aggregate_id FROM markaz_outbox WHERE published_at IS NULL",
    )
    .await;
    assert!(
        copied.is_subset(&membership_orgs),
        "capacity's copy has organizations membership's has not: {:?}",
        copied.difference(&membership_orgs).collect::<Vec<_>>()
    );
    for id in &membership_orgs {
        assert!(
            copied.contains(id) || pending.contains(id),
            "{id} is neither in capacity's copy nor pending in membership's outbox"
        );
    }
    assert!(membership_orgs.contains(&org.id));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for want in [
        "membership.db",
        "capacity.db",
        "impact.db",
        "signing-key.json",
        "jwks.json",
        "files/items/x/0193-report.pdf",
    ] {
        assert!(listed.contains(&want), "{want} in {listed:?}");
    }
    assert!(
        !listed.iter().any(|p| p.contains('#')),
        "an unfinished upload is not backed up: {listed:?}"
    );
    assert_eq!(manifest["databases"][0]["service"], "membership");
    assert!(manifest["databases"][0]["migrations"]["service"].as_i64() > Some(0));

    // After the backup: not in it.
    let later = create_org(&mut c.membership, &token, "بعد النسخة", "backup-org-2")
        .await
        .unwrap();
    let (jwks, key) = (
        std::fs::read(dev.dir.join("jwks.json")).unwrap(),
        std::fs::read(dev.dir.join("signing-key.json")).unwrap(),
    );
    drop(c);
    let dir = stop(dev).await;

    // Into a directory in use: refused.
    let busy_dir = restore(&backup, &dir, false).await;
    assert!(!busy_dir.status.success());
    assert!(
        stderr(&busy_dir).contains("is not empty") && stderr(&busy_dir).contains("--force"),
        "{}",
        stderr(&busy_dir)
    );

    std::fs::remove_dir_all(&dir).unwrap();
    let restored = restore(&backup, &dir, false).await;
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert_eq!(std::fs::read(dir.join("jwks.json")).unwrap(), jwks);
    assert_eq!(std::fs::read(dir.join("signing-key.json")).unwrap(), key);
    assert_eq!(
        std::fs::read(dir.join("files/items/x/0193-report.pdf")).unwrap(),
        blob
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("signing-key.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the signing key stays private: {mode:o}");
    }

    let dev = Dev::start_in(
        dir.clone(),
        &[("MARKAZ_WRITE_REQUESTS_PER_SECOND", "0")],
        None,
    )
    .await;
    let mut c = clients(&dev).await;
    // The old token still verifies: the key came back. The data is there,
    // byte for byte.
    check_restored(&mut c, &token, &org, &consulted, &later).await;
    let back = c
        .membership
        .get_person(authed(
            mem::GetPersonRequest {
                id: person.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.full_name.as_bytes(), PERSON_AR.as_bytes());
    let found = c
        .membership
        .list_people(authed(
            mem::ListPeopleRequest {
                query: "عبد الرحمن".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.people.len(), 1, "{found:?}");
    assert_eq!(found.people[0].id, person.id);

    // The events pending at the cut are published again and reach capacity.
    for id in &membership_orgs {
        until_capacity_knows(&mut c.capacity, &token, id).await;
    }
    // And a new write flows as an event into capacity's copy.
    let fresh = create_org(
        &mut c.membership,
        &token,
        "منظمة بعد الاستعادة",
        "backup-org-3",
    )
    .await
    .unwrap();
    assert_ne!(fresh.id, later.id);
    consultation(
        &mut c.capacity,
        &token,
        &fresh.id,
        &person.id,
        "backup-consultation-2",
    )
    .await;

    // An erasure after the restore: a later restore over this data says so.
    c.membership
        .erase_person(authed(
            mem::ErasePersonRequest {
                id: person.id.clone(),
                reason: "طلب الشخص".into(),
                legal_ground: mem::ErasureGround::DataSubjectRequest as i32,
            },
            &token,
        ))
        .await
        .unwrap();

    // While it runs, the data directory is not restored over.
    let running = restore(&backup, &dir, true).await;
    assert!(!running.status.success());
    assert!(
        stderr(&running).contains("in use by a running markaz dev"),
        "{}",
        stderr(&running)
    );
    drop(c);
    let dir = stop(dev).await;
    // Stopped, --force replaces it.
    let forced = restore(&backup, &dir, true).await;
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        stderr(&forced).contains("1 erasure(s) made after the backup"),
        "{}",
        stderr(&forced)
    );
    let redo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("erasures-after-backup.json")).unwrap())
            .unwrap();
    assert_eq!(redo[0]["person_id"], person.id.as_str());
    assert_eq!(
        redo[0]["legal_ground"],
        "ERASURE_GROUND_DATA_SUBJECT_REQUEST"
    );
    let orgs = ids(&dir.join("membership.db"), "SELECT id FROM organizations").await;
    assert!(!orgs.contains(&fresh.id) && orgs.contains(&org.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_that_does_not_match_its_manifest_is_refused_and_nothing_is_written() {
    tokio::time::timeout(BOUND, refusals())
        .await
        .expect("the test finishes in time");
}

async fn refusals() {
    let data = scratch("backup-refusals");
    // Databases at this binary's level, no server.
    let migrated = markaz_in(&data, &["migrate"]).await;
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let copies = scratch("backup-refusals-copies");
    let backup = copies.join("good");
    let taken = markaz(&["backup", "--data-dir", path(&data), "--to", path(&backup)]).await;
    assert!(taken.status.success(), "{}", stderr(&taken));
    // Not over a backup already there.
    let again = markaz(&["backup", "--data-dir", path(&data), "--to", path(&backup)]).await;
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    // Not into the data directory, where a restore --force would remove it.
    let inside = data.join("backups").join("b1");
    let within = markaz(&["backup", "--data-dir", path(&data), "--to", path(&inside)]).await;
    assert!(
        stderr(&within).contains("inside the data directory"),
        "{}",
        stderr(&within)
    );
    assert!(!data.join("backups").exists());
    // Not from a directory that is no data directory.
    let nothing = markaz(&["backup", "--data-dir", path(&copies), "--to", "/tmp/x"]).await;
    assert!(
        stderr(&nothing).contains("holds no markaz database"),
        "{}",
        stderr(&nothing)
    );

    // One byte changed in a copy: refused, naming the file, nothing written.
    let damaged = copies.join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    for entry in std::fs::read_dir(&backup).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), damaged.join(entry.file_name())).unwrap();
    }
    let file = damaged.join("grants.db");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&file, &bytes).unwrap();
    let target = copies.join("restored");
    let refused = restore(&damaged, &target, false).await;
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(
        said.contains("does not match its manifest")
            && said.contains("grants.db: SHA-256")
            && said.contains("nothing restored"),
        "{said}"
    );
    assert!(!target.exists(), "nothing was written");
    // Nor over data already there: the checksums come first.
    let kept = data.join("membership.db");
    let before = std::fs::read(&kept).unwrap();
    let forced = restore(&damaged, &data, true).await;
    assert!(!forced.status.success());
    assert_eq!(std::fs::read(&kept).unwrap(), before);

    // A file missing, and a manifest naming a path outside the backup.
    std::fs::remove_file(damaged.join("impact.db")).unwrap();
    let missing = restore(&damaged, &target, false).await;
    assert!(
        stderr(&missing).contains("impact.db"),
        "{}",
        stderr(&missing)
    );
    let manifest = std::fs::read_to_string(backup.join("manifest.json")).unwrap();
    let escaping = copies.join("escaping");
    std::fs::create_dir_all(&escaping).unwrap();
    std::fs::write(
        escaping.join("manifest.json"),
        manifest.replacen(
            "\"path\": \"capacity.db\"",
            "\"path\": \"../capacity.db\"",
            1,
        ),
    )
    .unwrap();
    let outside = restore(&escaping, &target, false).await;
    assert!(
        stderr(&outside).contains("outside the backup"),
        "{}",
        stderr(&outside)
    );
    assert!(!target.exists());

    // The good one restores into an empty directory.
    let good = restore(&backup, &target, false).await;
    assert!(good.status.success(), "{}", stderr(&good));
    assert!(target.join("grants.db").exists());
}

/// The `serve` procedure of docs/operations.md for the usual disaster —
/// PostgreSQL lost, NATS intact: a `pg_dump --format=custom` of the
/// database under a running `markaz serve`, more writes, the database
/// dropped, `pg_restore`, `markaz serve` again on the same streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_comes_back_from_a_pg_dump_with_its_streams() {
    tokio::time::timeout(BOUND, serve_dump_restore())
        .await
        .expect("the test finishes in time");
}

async fn admin_sql(url: &str, sql: String) {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    let _ = conn.close().await;
}

async fn run(program: &str, args: Vec<String>) {
    let program = program.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

async fn serve(
    scratch: &Path,
    envs: &[(&str, String)],
    services: &str,
) -> (markaz_bench::server::ServerProcess, Clients) {
    let addr = markaz_bench::server::free_addr().unwrap();
    let mut envs = envs.to_vec();
    envs.push(("MARKAZ_GRPC_ADDR", addr.to_string()));
    let server = markaz_bench::server::ServerProcess::spawn(
        Path::new(env!("CARGO_BIN_EXE_markaz")),
        &["serve", "--services", services],
        &envs,
        addr,
        None,
        &scratch.join("serve.log"),
    )
    .await
    .unwrap();
    let channel = server.channel().await.unwrap();
    let clients = Clients {
        membership: MembershipServiceClient::new(channel.clone()),
        capacity: CapacityServiceClient::new(channel),
    };
    (server, clients)
}

/// A `markaz serve` world on the shared PostgreSQL and NATS: a database
/// and a bus namespace of its own (`{name}{pid}`), a signing key, an
/// operator's token and a tenant's admin-and-staff token; the tenant
/// registered and a first organization created by [`ServeWorld::open`].
struct ServeWorld {
    postgres: String,
    nats: String,
    db: String,
    url: String,
    namespace: String,
    scratch: PathBuf,
    envs: Vec<(&'static str, String)>,
    operator: String,
    token: String,
    tenant: &'static str,
}

impl ServeWorld {
    async fn new(name: &str, tenant: &'static str) -> ServeWorld {
        use markaz_kit::auth::{Role, Signer};
        use markaz_kit::config::AuthConfig;
        let postgres = std::env::var("MARKAZ_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let nats = std::env::var("MARKAZ_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        let id = std::process::id();
        let (db, namespace) = (format!("markaz_{name}_{id}"), format!("{name}{id}"));
        let url = match postgres.rsplit_once('/') {
            Some((root, _)) => format!("{root}/{db}"),
            None => panic!("MARKAZ_TEST_POSTGRES_URL names no database: {postgres}"),
        };
        admin_sql(
            &postgres,
            format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        )
        .await;
        admin_sql(&postgres, format!("CREATE DATABASE {db}")).await;
        let scratch = scratch(&format!("{name}-serve"));
        let signer = Signer::generate().unwrap();
        let jwks = scratch.join("jwks.json");
        std::fs::write(&jwks, serde_json::to_string(&signer.jwks()).unwrap()).unwrap();
        let envs = vec![
            ("MARKAZ_DATABASE_URL", url.clone()),
            ("MARKAZ_NATS_URL", nats.clone()),
            ("MARKAZ_BUS_NAMESPACE", namespace.clone()),
            ("MARKAZ_AUTH_JWKS", jwks.display().to_string()),
            ("MARKAZ_METRICS_ADDR", String::new()),
            ("MARKAZ_WRITE_REQUESTS_PER_SECOND", "0".into()),
        ];
        let auth = AuthConfig::default();
        let ttl = Duration::from_secs(3600);
        let operator = signer.sign(&Signer::claims(
            &auth,
            "op",
            "",
            &[Role::Operator],
            None,
            ttl,
        ));
        let token = signer.sign(&Signer::claims(
            &auth,
            "staff",
            tenant,
            &[Role::Admin, Role::Staff],
            None,
            ttl,
        ));
        ServeWorld {
            postgres,
            nats,
            db,
            url,
            namespace,
            scratch,
            envs,
            operator,
            token,
            tenant,
        }
    }

    /// `markaz serve --services <services>` on this world.
    async fn serve(&self, services: &str) -> (markaz_bench::server::ServerProcess, Clients) {
        serve(&self.scratch, &self.envs, services).await
    }

    /// Registers the tenant and creates a first organization, once the
    /// tenant is admitted.
    async fn open(&self, c: &mut Clients, name_ar: &str, request_id: &str) -> mem::Organization {
        c.membership
            .create_tenant(authed(
                mem::CreateTenantRequest {
                    tenant: Some(mem::Tenant {
                        id: self.tenant.into(),
                        name: Some(LocalizedText {
                            ar: name_ar.into(),
                            en: String::new(),
                        }),
                        ..Default::default()
                    }),
                },
                &self.operator,
            ))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match create_org(&mut c.membership, &self.token, ORG_AR, request_id).await {
                Ok(o) => break o,
                Err(s) if s.code() == tonic::Code::PermissionDenied => {
                    assert!(tokio::time::Instant::now() < deadline, "{s:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(s) => panic!("{s:?}"),
            }
        }
    }

    /// `pg_dump --format=custom` of the world's database into `file`.
    async fn dump(&self, file: &Path) {
        run(
            "pg_dump",
            vec![
                "--format=custom".into(),
                format!("--file={}", file.display()),
                self.url.clone(),
            ],
        )
        .await;
    }

    /// The database lost and `pg_restore`d from `file` into a new one.
    async fn restore(&self, file: &Path) {
        let (postgres, db) = (&self.postgres, &self.db);
        admin_sql(postgres, format!("DROP DATABASE {db} WITH (FORCE)")).await;
        admin_sql(postgres, format!("CREATE DATABASE {db}")).await;
        run(
            "pg_restore",
            vec![format!("--dbname={}", self.url), file.display().to_string()],
        )
        .await;
    }

    /// Drops the database and the streams: nothing left behind.
    async fn clean(&self) {
        admin_sql(
            &self.postgres,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db),
        )
        .await;
        markaz_kit::bus::delete_streams(&self.nats, &self.namespace).await;
    }
}

async fn serve_dump_restore() {
    let w = ServeWorld::new("bk", "bk").await;
    let token = w.token.clone();
    let (server, mut c) = w.serve("membership,capacity").await;
    let org = w.open(&mut c, "مركز النسخ", "serve-org-1").await;
    let person = create_person(&mut c.membership, &token, "serve-person-1").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let consulted = loop {
        // Capacity admits the tenant once TenantRegistered reached it.
        match c
            .capacity
            .list_topics(authed(cap::ListTopicsRequest::default(), &token))
            .await
        {
            Ok(_) => {
                break consultation(&mut c.capacity, &token, &org.id, &person.id, "serve-c-1")
                    .await;
            }
            Err(s) if s.code() == tonic::Code::PermissionDenied => {
                assert!(tokio::time::Instant::now() < deadline, "{s:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!("{s:?}"),
        }
    };

    // The backup, while serving: one snapshot of every schema.
    let dump = w.scratch.join("markaz.dump");
    w.dump(&dump).await;
    // After it: consumed by capacity (its durable consumer acknowledged it).
    let later = create_org(&mut c.membership, &token, "بعد النسخة", "serve-org-2")
        .await
        .unwrap();
    until_capacity_knows(&mut c.capacity, &token, &later.id).await;
    drop(c);
    server.stop().await;

    // PostgreSQL lost; the streams are not.
    w.restore(&dump).await;

    let (server, mut c) = w.serve("membership,capacity").await;
    check_restored(&mut c, &token, &org, &consulted, &later).await;
    // New writes flow as events again.
    let fresh = create_org(
        &mut c.membership,
        &token,
        "منظمة بعد الاستعادة",
        "serve-org-3",
    )
    .await
    .unwrap();
    consultation(&mut c.capacity, &token, &fresh.id, &person.id, "serve-c-2").await;
    // Events on one stream arrive in order: had the later organization's
    // event been delivered again, it would be known by now. It is not: the
    // restored databases agree with each other, at the dump.
    assert!(!capacity_knows(&mut c.capacity, &token, &later.id).await);
    drop(c);
    server.stop().await;
    w.clean().await;
}

/// `markaz bus rewind` after a restore to instant T: the streams then
/// agree with the databases. Provoked here, the two ways they disagree
/// without it: an event published before T that capacity applied only
/// after T (capacity was down) — its consumer had acknowledged it, so
/// without the rewind capacity would never learn of it; and an event
/// published after T, which no restored database remembers — a consumer
/// reading the stream from its start (a new one, `markaz impact rebuild`)
/// would take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewind_lines_the_streams_up_with_databases_restored_to_an_instant() {
    tokio::time::timeout(BOUND, rewind_after_restore())
        .await
        .expect("the test finishes in time");
}

async fn rewind_after_restore() {
    let w = ServeWorld::new("rw", "rw").await;
    let (token, namespace) = (w.token.clone(), w.namespace.clone());
    let nats = w.nats.clone();
    let js = async_nats::jetstream::new(async_nats::connect(&nats).await.unwrap());
    let stream_name = format!("{}_MEMBERSHIP", namespace.to_ascii_uppercase());
    let stored = |js: async_nats::jetstream::Context, name: String| async move {
        let mut stream = js.get_stream(&name).await.unwrap();
        stream.info().await.unwrap().state.clone()
    };

    // Both services: the tenant and a first organization reach capacity.
    let (server, mut c) = w.serve("membership,capacity").await;
    let first = w.open(&mut c, "مركز الاسترجاع", "rw-org-1").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while c
        .capacity
        .list_topics(authed(cap::ListTopicsRequest::default(), &token))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "capacity admits the tenant"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_capacity_knows(&mut c.capacity, &token, &first.id).await;
    drop(c);
    server.stop().await;

    // Capacity down: an organization published that it has not applied.
    let (server, mut c) = w.serve("membership").await;
    let before = stored(js.clone(), stream_name.clone()).await.messages;
    let unseen = create_org(&mut c.membership, &token, "منظمة قبل النسخة", "rw-org-2")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while stored(js.clone(), stream_name.clone()).await.messages == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the event is published"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(c);
    server.stop().await;

    // The backup: T is when nothing was being written.
    let dump = w.scratch.join("markaz.dump");
    w.dump(&dump).await;
    let at = markaz_kit::time::now_micros();
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Both again: capacity applies what it missed; one more after T.
    let (server, mut c) = w.serve("membership,capacity").await;
    until_capacity_knows(&mut c.capacity, &token, &unseen.id).await;
    let after = create_org(&mut c.membership, &token, "بعد النسخة", "rw-org-3")
        .await
        .unwrap();
    until_capacity_knows(&mut c.capacity, &token, &after.id).await;
    drop(c);
    server.stop().await;

    // PostgreSQL lost, restored to T; the streams are not.
    w.restore(&dump).await;

    let rewind = |dry: bool| {
        let envs = w.envs.clone();
        let to = markaz_kit::time::rfc3339(at);
        async move {
            let mut args = vec!["bus", "rewind", "--to", to.as_str()];
            if dry {
                args.push("--dry-run");
            }
            let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_markaz"));
            command
                .args(&args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap());
            for (k, v) in &envs {
                command.env(k, v);
            }
            command.output().await.unwrap()
        }
    };
    // Dry: says what it would do, changes nothing.
    let dry = rewind(true).await;
    assert!(dry.status.success(), "{}", stderr(&dry));
    let said = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(
        said.contains(&format!("{stream_name}: would remove ")),
        "{said}"
    );
    assert!(latest_stored(&js, &stream_name).await > at);
    // Too soon after the last event: a restored outbox's events published
    // again would be dropped as duplicates of the removed ones. Refused.
    let early = rewind(false).await;
    assert!(!early.status.success());
    assert!(stderr(&early).contains("wait"), "{}", stderr(&early));
    // The window is the streams' (two minutes); shortened here, as an
    // operator waiting it out would see it pass.
    for producer in ["MEMBERSHIP", "CAPACITY"] {
        let name = format!("{}_{producer}", namespace.to_ascii_uppercase());
        let mut stream = js.get_stream(&name).await.unwrap();
        let mut config = stream.info().await.unwrap().config.clone();
        config.duplicate_window = Duration::from_secs(1);
        js.update_stream(config).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let done = rewind(false).await;
    assert!(done.status.success(), "{}", stderr(&done));
    let said = String::from_utf8_lossy(&done.stdout).to_string();
    assert!(said.contains(&format!("{stream_name}: removed ")), "{said}");
    assert!(said.contains("capacity--membership"), "{said}");
    // Nothing after T is left for a consumer reading from the start.
    assert!(latest_stored(&js, &stream_name).await <= at);

    let (server, mut c) = w.serve("membership,capacity").await;
    // The event published before T and applied after it is applied again.
    until_capacity_knows(&mut c.capacity, &token, &unseen.id).await;
    // What came after T is in neither service.
    assert!(!capacity_knows(&mut c.capacity, &token, &after.id).await);
    let gone = c
        .membership
        .get_organization(authed(
            mem::GetOrganizationRequest {
                id: after.id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    // And new writes flow.
    let fresh = create_org(&mut c.membership, &token, "منظمة بعد الاستعادة", "rw-org-4")
        .await
        .unwrap();
    until_capacity_knows(&mut c.capacity, &token, &fresh.id).await;
    drop(c);
    server.stop().await;
    w.clean().await;
}

/// When the newest message still in stream `name` was stored (a
/// stream's own `last_timestamp` stays that of a message deleted since).
async fn latest_stored(js: &async_nats::jetstream::Context, name: &str) -> i64 {
    let mut stream = js.get_stream(name).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut latest = i64::MIN;
    for seq in state.first_sequence..=state.last_sequence {
        if let Ok(m) = stream.get_raw_message(seq).await {
            latest = latest.max((m.time.unix_timestamp_nanos() / 1_000) as i64);
        }
    }
    latest
}
