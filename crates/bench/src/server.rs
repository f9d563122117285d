//! The server under test, as a separate process the bench starts itself —
//! `markaz dev`, `markaz serve`, or the bare echo server — so that its CPU
//! time and resident memory can be read from `/proc` and charged to the
//! operations it served, apart from the load generator's own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tonic::transport::Channel;

pub type BenchResult<T> = Result<T, String>;

/// A running server process.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub metrics: Option<SocketAddr>,
}

/// A free port on loopback (the listener is dropped; the server binds it next).
pub fn free_addr() -> BenchResult<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map_err(|e| e.to_string())
}

impl ServerProcess {
    /// Starts `exe args` with `envs` and waits until its gRPC health check
    /// answers SERVING (or `health_service` is empty and it accepts calls).
    pub async fn spawn(
        exe: &Path,
        args: &[&str],
        envs: &[(&str, String)],
        addr: SocketAddr,
        metrics: Option<SocketAddr>,
        log: &Path,
    ) -> BenchResult<ServerProcess> {
        let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        // MARKAZ_BENCH_WRAP runs the server under a profiler, e.g.
        // "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p": the
        // bench still drives it and reads its CPU time and memory.
        let wrap: Vec<String> = std::env::var("MARKAZ_BENCH_WRAP")
            .map(|w| w.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let mut cmd = match wrap.split_first() {
            Some((program, rest)) => {
                let mut c = tokio::process::Command::new(program);
                c.args(rest).arg(exe);
                c
            }
            None => tokio::process::Command::new(exe),
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let server = ServerProcess {
            child,
            pid,
            addr,
            metrics,
        };
        server.wait_ready(log).await?;
        Ok(server)
    }

    async fn wait_ready(&self, log: &Path) -> BenchResult<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(channel) = Channel::from_shared(format!("http://{}", self.addr))
                .expect("address")
                .connect()
                .await
            {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                if let Ok(r) = health
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    && r.into_inner().status
                        == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
                {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                return Err(format!("the server did not become ready; its log:\n{tail}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// CPU seconds (user + system) the process has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid)
    }

    /// Resident memory in bytes.
    pub fn rss_bytes(&self) -> u64 {
        rss_bytes(self.pid)
    }

    pub async fn channel(&self) -> BenchResult<Channel> {
        Channel::from_shared(format!("http://{}", self.addr))
            .map_err(|e| e.to_string())?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| e.to_string())
    }

    /// SIGKILL, as a crash or an evicted pod: no drain, no goodbye.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then wait for the graceful shutdown (SIGKILL after 30 s).
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Sends `signal` (`KILL`, `STOP`, `CONT`, …) to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status();
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / clock_ticks()
}

/// CPU seconds used so far by every PostgreSQL process of the machine (the
/// database's side of the work, next to the server's).
pub fn database_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

pub fn rss_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// The most the process held resident since [`reset_peak_rss`] (or its start).
pub fn peak_rss_bytes(pid: u32) -> u64 {
    status_bytes(pid, "VmHWM:")
}

/// Starts the process's peak resident size over from what it holds now
/// (Linux's `clear_refs` 5), so a window's peak is the window's own.
pub fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// A size line (`VmRSS:`, `VmHWM:`) of `/proc/{pid}/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// A scratch directory for one bench run.
pub fn scratch_dir(name: &str) -> BenchResult<PathBuf> {
    let dir = std::env::temp_dir().join(format!("markaz-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
