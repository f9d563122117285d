//! What the storage tests share: a real S3-compatible server (moto) on
//! loopback, started by the test itself, and file contents generated on the
//! fly so no test holds a whole file in memory either.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use markaz_resources::storage::{FileStore, S3Settings};

/// A `moto_server` process on 127.0.0.1 and a random port, ended on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` (PyPI `moto[server]`; `MARKAZ_TEST_MOTO` may name
    /// the executable). There is no skipping: without it the test fails and
    /// says how to install it.
    pub fn start() -> Moto {
        let program = std::env::var("MARKAZ_TEST_MOTO").unwrap_or_else(|_| "moto_server".into());
        let mut child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {program} ({e}): the S3 tests need moto's server; \
                     install it with `python3 -m pip install 'moto[server]'`"
                )
            });
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = String::new();
            let mut sent = false;
            // Keep draining after the address, so the server never blocks
            // on a full pipe.
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if !sent && let Some(at) = line.find("http://127.0.0.1:") {
                    let _ = tx.send(line[at..].trim().to_string());
                    sent = true;
                }
                line.clear();
            }
        });
        let endpoint = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(endpoint) => endpoint,
            Err(_) => {
                let _ = child.kill();
                panic!("{program} did not say where it listens within 60 s");
            }
        };
        Moto { child, endpoint }
    }

    /// Creates `bucket` and a store on it.
    pub async fn bucket(&self, bucket: &str) -> FileStore {
        let store = FileStore::s3(&S3Settings {
            endpoint: Some(self.endpoint.clone()),
            bucket: bucket.into(),
            region: "us-east-1".into(),
            access_key_id: "markaz-test".into(),
            secret_access_key: "markaz-test-secret".into(),
            allow_http: true,
        })
        .expect("S3 store");
        // moto does not check signatures, so a plain PUT creates the bucket.
        let status = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("moto answers")
            .status();
        assert!(status.is_success(), "creating the bucket: {status}");
        store
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deterministic content of `size` bytes in chunks of `chunk`, generated as
/// it is consumed (xorshift), with its SHA-256 computed alongside.
pub struct Content {
    state: u64,
    left: u64,
    chunk: usize,
    sha: ring::digest::Context,
}

impl Content {
    pub fn new(seed: u64, size: u64, chunk: usize) -> Content {
        Content {
            state: seed | 1,
            left: size,
            chunk,
            sha: ring::digest::Context::new(&ring::digest::SHA256),
        }
    }

    pub fn next_chunk(&mut self) -> Option<Bytes> {
        if self.left == 0 {
            return None;
        }
        let n = (self.left as usize).min(self.chunk);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let take = (n - out.len()).min(8);
            out.extend_from_slice(&self.state.to_le_bytes()[..take]);
        }
        self.left -= n as u64;
        self.sha.update(&out);
        Some(Bytes::from(out))
    }

    /// The SHA-256 of everything generated so far.
    pub fn sha256(self) -> Vec<u8> {
        self.sha.finish().as_ref().to_vec()
    }
}

/// Streams `object` of `store` from `offset`, hashing as it goes; returns
/// the bytes read, their SHA-256 and the largest piece seen.
pub async fn read_hashed(
    store: &FileStore,
    object: &str,
    range: std::ops::Range<u64>,
) -> (u64, Vec<u8>, usize) {
    use futures::StreamExt;
    let mut stream = store.read(object, range).await.expect("read");
    let mut sha = ring::digest::Context::new(&ring::digest::SHA256);
    let (mut total, mut largest) = (0u64, 0usize);
    while let Some(piece) = stream.next().await {
        let piece = piece.expect("piece");
        total += piece.len() as u64;
        largest = largest.max(piece.len());
        sha.update(&piece);
    }
    (total, sha.finish().as_ref().to_vec(), largest)
}

/// Writes `content` to `object` chunk by chunk.
pub async fn write_all(store: &FileStore, object: &str, content: &mut Content) -> u64 {
    let mut writer = store.writer(object).await.expect("writer");
    while let Some(chunk) = content.next_chunk() {
        writer.write(chunk).await.expect("write");
    }
    writer.finish().await.expect("finish")
}
