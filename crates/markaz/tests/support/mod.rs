//! `markaz dev` as a child process: what an operator (or an attacker) sees
//! from outside — its printed addresses, its memory, its CPU time.

#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("markaz-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `markaz dev`, killed when dropped.
pub struct Dev {
    pub child: tokio::process::Child,
    pub grpc: String,
    pub console: String,
    pub token: String,
    pub dir: PathBuf,
}

impl Dev {
    /// Starts `markaz dev` on fresh data with `env` set; `open_files` puts
    /// a descriptor limit on it (`ulimit -n`).
    pub async fn start(name: &str, env: &[(&str, &str)], open_files: Option<u32>) -> Dev {
        Dev::start_in(scratch(name), env, open_files).await
    }

    /// Starts `markaz dev` on the data directory `dir` as it is.
    pub async fn start_in(dir: PathBuf, env: &[(&str, &str)], open_files: Option<u32>) -> Dev {
        let binary = env!("CARGO_BIN_EXE_markaz");
        let mut cmd = match open_files {
            Some(n) => {
                let mut sh = tokio::process::Command::new("sh");
                sh.arg("-c")
                    .arg(format!(
                        "ulimit -n {n} && exec \"$0\" dev --data-dir \"$1\""
                    ))
                    .arg(binary)
                    .arg(&dir);
                sh
            }
            None => {
                let mut dev = tokio::process::Command::new(binary);
                dev.args(["dev", "--data-dir"]).arg(&dir);
                dev
            }
        };
        cmd.env("MARKAZ_GRPC_ADDR", "127.0.0.1:0")
            .env("MARKAZ_METRICS_ADDR", "127.0.0.1:0")
            .env("MARKAZ_CONSOLE_ADDR", "127.0.0.1:0")
            .env_remove("MARKAZ_DATABASE_URL")
            .env_remove("MARKAZ_NATS_URL")
            .env_remove("MARKAZ_CONFIG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut grpc, mut console, mut token) = (String::new(), String::new(), String::new());
        let mut next_is_token = false;
        let started = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let t = line.trim();
                if let Some(addr) = t.strip_prefix("gRPC") {
                    grpc = addr.trim().to_string();
                } else if let Some(url) = t.strip_prefix("console") {
                    console = url.trim().to_string();
                } else if t.starts_with("Admin token") {
                    next_is_token = true;
                } else if next_is_token && !t.is_empty() {
                    token = t.to_string();
                    next_is_token = false;
                } else if t.starts_with("Ctrl-C") {
                    return;
                }
            }
        })
        .await;
        assert!(started.is_ok(), "markaz dev printed its banner");
        Dev {
            child,
            grpc,
            console,
            token,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// The most memory the process has held, in bytes (VmHWM).
    pub fn peak_memory(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:") * 1024
    }

    /// CPU time the process has used so far (user + system).
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name, which is in parentheses.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // USER_HZ is 100 on Linux.
        Duration::from_millis(ticks * 10)
    }
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} in /proc/{pid}/status"))
}
