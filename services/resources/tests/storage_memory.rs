//! A 50 MiB file written and read back through each store, with the
//! process's peak resident memory measured around it: the file is never
//! whole in memory, on the way in or out.
//!
//! One test in its own binary, so no other test's allocations share the
//! peak. The peak is the kernel's high-water mark (VmHWM), reset through
//! `/proc/self/clear_refs` before each run; the figure is its rise above the
//! resident size at the start.

mod support;

use markaz_resources::storage::FileStore;
use support::{Content, Moto, read_hashed, write_all};

const MIB: u64 = 1024 * 1024;
const FILE: u64 = 50 * MIB;

fn status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Peak resident growth while `store` takes and gives back a 50 MiB file.
async fn peak_growth(store: &FileStore, object: &str) -> u64 {
    // Resets the high-water mark to the current resident size.
    std::fs::write("/proc/self/clear_refs", "5").expect("clear_refs");
    let before = status("VmRSS:");
    let mut content = Content::new(42, FILE, 1024 * 1024);
    assert_eq!(write_all(store, object, &mut content).await, FILE);
    let sha = content.sha256();
    let (read, back, _) = read_hashed(store, object, 0..FILE).await;
    assert_eq!((read, back), (FILE, sha), "the file came back whole");
    store.delete(object).await.expect("delete");
    status("VmHWM:").saturating_sub(before)
}

/// Measures one store in a fresh process (this test binary run again with
/// `MARKAZ_MEMORY_STORE` set): memory an earlier run freed but the allocator
/// kept would otherwise hide the next run's growth. Without the variable the
/// test only starts the measurements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_one_store() {
    let Ok(which) = std::env::var("MARKAZ_MEMORY_STORE") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("markaz-mem-{}", uuid::Uuid::now_v7().simple()));
    let (moto, store) = if which == "s3" {
        let moto = Moto::start();
        let store = moto.bucket("markaz-memory").await;
        (Some(moto), store)
    } else {
        (None, FileStore::local(&dir).unwrap())
    };
    let peak = peak_growth(&store, "t/items/i/files/f/v1").await;
    println!("PEAK_GROWTH_BYTES={peak}");
    drop(moto);
    let _ = std::fs::remove_dir_all(&dir);
}

fn measure_in_child(which: &str) -> u64 {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "measure_one_store",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MARKAZ_MEMORY_STORE", which)
        .output()
        .expect("the measurement runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{which}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split("PEAK_GROWTH_BYTES=").nth(1))
        .and_then(|n| n.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("{which}: no figure in {stdout}"))
}

#[test]
fn a_50_mib_file_streams_in_bounded_memory() {
    let local_peak = measure_in_child("local");
    let s3_peak = measure_in_child("s3");
    println!(
        "50 MiB streamed in and out: peak resident growth {:.1} MiB on the local filesystem, \
         {:.1} MiB on S3 (moto), one-time setup included",
        local_peak as f64 / MIB as f64,
        s3_peak as f64 / MIB as f64
    );
    // One part filling and two in flight (5 MiB parts on S3, 1 MiB
    // locally), the pieces being read, the HTTP client: far below the
    // file's 50 MiB.
    assert!(local_peak < 16 * MIB, "local: {local_peak} bytes");
    assert!(s3_peak < 32 * MIB, "S3: {s3_peak} bytes");
}
