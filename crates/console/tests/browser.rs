//! The console in headless Chromium: `browser/flow.mjs` (playwright-core
//! driving Debian's chromium, axe-core checking accessibility) against a
//! real Markaz and console on port 0. Node, chromium and the npm packages
//! (`npm ci` in crates/console/browser) must be installed: `.ci/run` does
//! it; without them this test fails, it does not skip.
//!
//! Screenshots go to the test's scratch directory; set
//! `MARKAZ_CONSOLE_SCREENSHOTS=docs/console` (from the repository root) to
//! refresh the ones the documentation shows.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::World;

/// Well under the three minutes the suite allows a browser run.
const BOUND: Duration = Duration::from_secs(150);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_center_day_in_headless_chromium() {
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is missing: install Node.js (see .ci/run)"
    );
    assert!(
        Path::new(&chromium()).exists(),
        "{} is missing: apt-get install -y chromium fonts-noto-core (see .ci/run)",
        chromium()
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists()
            && browser_dir().join("node_modules/axe-core").exists(),
        "the browser tests' packages are missing: run `npm ci` in {}",
        browser_dir().display()
    );
    let shots = match std::env::var("MARKAZ_CONSOLE_SCREENSHOTS") {
        Ok(dir) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir),
        Err(_) => Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots"),
    };
    std::fs::create_dir_all(&shots).expect("screenshot directory");

    let world = World::start().await;
    // A donor platform the deployment knows (only the operator registers
    // one, over gRPC: the console has no page for it), for the flow's new
    // share agreement.
    {
        use markaz_console::upstream::Bearer;
        use markaz_proto::donors::v1 as don;
        use markaz_proto::donors::v1::sharing_service_client::SharingServiceClient;
        let operator = world.markaz.env.operator_token();
        SharingServiceClient::with_interceptor(
            world.markaz.channel().await,
            Bearer::new(&operator),
        )
        .register_donor(don::RegisterDonorRequest {
            donor: Some(don::Donor {
                id: "echo".into(),
                name: Some(markaz_proto::common::v1::LocalizedText {
                    ar: "المديرية العامة للحماية المدنية الأوروبية".into(),
                    en: "ECHO".into(),
                }),
                ..Default::default()
            }),
        })
        .await
        .expect("the donor registered");
    }
    let started = Instant::now();
    let run = tokio::process::Command::new("node")
        .arg("flow.mjs")
        .current_dir(browser_dir())
        .env("CONSOLE_URL", &world.base)
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", chromium())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run)
        .await
        .unwrap_or_else(|_| panic!("the browser flow took longer than {BOUND:?}"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "browser flow in {:?}, screenshots in {}:\n{stdout}",
        started.elapsed(),
        shots.display()
    );
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("browser flow: ok"), "{stdout}");
}
