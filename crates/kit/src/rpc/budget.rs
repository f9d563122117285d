//! The write budget of each caller: how many writes, and how many bytes of
//! them, one credential may send. Reads are not counted; public methods
//! have their own limits ([`super::rate`]).
//!
//! Each caller (tenant and token subject) has two token buckets, refilled
//! continuously: one of requests, one of request bytes. A write takes one
//! request token when the gate admits it and is refused (RESOURCE_EXHAUSTED,
//! with when to try again) if none is left or its bytes went into debt; its
//! body's bytes are taken as they arrive, so one large write may overdraw
//! the bytes bucket — the caller's next writes then wait until it refilled.
//! So a partner who scripts notes in a loop is slowed to the refill rate,
//! while a person at a form never notices: the bursts are generous.
//!
//! Each process counts on its own (a multiple with several replicas), like
//! the public limits. Memory is bounded: a caller whose buckets are full is
//! at rest and the first to be forgotten.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::ServerConfig;

/// Callers remembered at most.
const MAX_CALLERS: usize = 100_000;

/// What a method that only reads is called: `Get…`, `List…` — the gRPC
/// naming the protos follow (AIP-131/132); everything else writes.
pub fn is_read(method: &str) -> bool {
    ["Get", "List", "Search", "Download", "Verify", "Recommend"]
        .iter()
        .any(|p| method.starts_with(p))
}

#[derive(Debug)]
pub struct WriteBudget {
    requests_per_second: f64,
    requests_burst: f64,
    bytes_per_second: f64,
    bytes_burst: f64,
    callers: Mutex<HashMap<String, Buckets>>,
}

#[derive(Debug, Clone, Copy)]
struct Buckets {
    at: Instant,
    requests: f64,
    bytes: f64,
}

impl WriteBudget {
    /// The budget `config` sets; a rate of 0 means no budget of that kind.
    pub fn new(config: &ServerConfig) -> WriteBudget {
        WriteBudget {
            requests_per_second: config.write_requests_per_second as f64,
            requests_burst: config.write_requests_burst.max(1) as f64,
            bytes_per_second: config.write_bytes_per_second as f64,
            bytes_burst: config.write_bytes_burst.max(1) as f64,
            callers: Mutex::default(),
        }
    }

    fn enabled(&self) -> bool {
        self.requests_per_second > 0.0 || self.bytes_per_second > 0.0
    }

    /// Takes one write for `caller`, or says how long until it may write.
    pub fn admit(&self, caller: &str) -> Result<(), Duration> {
        self.admit_at(caller, Instant::now())
    }

    fn admit_at(&self, caller: &str, now: Instant) -> Result<(), Duration> {
        if !self.enabled() {
            return Ok(());
        }
        let mut callers = self.callers.lock().expect("write budget lock");
        if !callers.contains_key(caller) && callers.len() >= MAX_CALLERS {
            self.forget_rested(&mut callers, now);
        }
        let b = callers.entry(caller.to_string()).or_insert(Buckets {
            at: now,
            requests: self.requests_burst,
            bytes: self.bytes_burst,
        });
        self.refill(b, now);
        let mut wait = Duration::ZERO;
        if self.requests_per_second > 0.0 && b.requests < 1.0 {
            wait = wait.max(Duration::from_secs_f64(
                (1.0 - b.requests) / self.requests_per_second,
            ));
        }
        if self.bytes_per_second > 0.0 && b.bytes < 0.0 {
            wait = wait.max(Duration::from_secs_f64(-b.bytes / self.bytes_per_second));
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        if self.requests_per_second > 0.0 {
            b.requests -= 1.0;
        }
        Ok(())
    }

    /// Takes `n` bytes of a write `caller` is sending.
    pub fn charge(&self, caller: &str, n: usize) {
        if self.bytes_per_second <= 0.0 || n == 0 {
            return;
        }
        let now = Instant::now();
        let mut callers = self.callers.lock().expect("write budget lock");
        if let Some(b) = callers.get_mut(caller) {
            self.refill(b, now);
            b.bytes -= n as f64;
        }
    }

    fn refill(&self, b: &mut Buckets, now: Instant) {
        let dt = now.saturating_duration_since(b.at).as_secs_f64();
        b.at = now;
        b.requests = (b.requests + dt * self.requests_per_second).min(self.requests_burst);
        b.bytes = (b.bytes + dt * self.bytes_per_second).min(self.bytes_burst);
    }

    /// Drops the callers whose buckets have refilled; if none has, the
    /// tenth that wrote longest ago.
    fn forget_rested(&self, callers: &mut HashMap<String, Buckets>, now: Instant) {
        callers.retain(|_, b| {
            let mut b = *b;
            self.refill(&mut b, now);
            b.requests < self.requests_burst || b.bytes < self.bytes_burst
        });
        if callers.len() >= MAX_CALLERS {
            let mut ats: Vec<Instant> = callers.values().map(|b| b.at).collect();
            let n = MAX_CALLERS / 10;
            let (_, cutoff, _) = ats.select_nth_unstable(n);
            let cutoff = *cutoff;
            callers.retain(|_, b| b.at > cutoff);
        }
    }
}

/// The refusal of a write over budget.
pub fn refused(wait: Duration) -> tonic::Status {
    let secs = wait.as_secs().max(1);
    let mut details = tonic_types::ErrorDetails::new();
    details.set_retry_info(Some(wait.max(Duration::from_secs(1))));
    <tonic::Status as tonic_types::StatusExt>::with_error_details(
        tonic::Code::ResourceExhausted,
        format!("this caller's write budget is spent; try again in {secs} s"),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(rps: u64, burst: u64, bps: u64, bytes_burst: u64) -> WriteBudget {
        WriteBudget::new(&ServerConfig {
            write_requests_per_second: rps,
            write_requests_burst: burst,
            write_bytes_per_second: bps,
            write_bytes_burst: bytes_burst,
            ..ServerConfig::default()
        })
    }

    #[test]
    fn a_burst_then_the_refill_rate() {
        let b = budget(2, 3, 0, 0);
        let t = Instant::now();
        for _ in 0..3 {
            assert!(b.admit_at("t/partner", t).is_ok());
        }
        let wait = b.admit_at("t/partner", t).unwrap_err();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        assert!(
            b.admit_at("t/other", t).is_ok(),
            "callers are counted apart"
        );
        assert!(
            b.admit_at("t/partner", t + Duration::from_millis(600))
                .is_ok()
        );
    }

    #[test]
    fn bytes_in_debt_hold_the_next_write() {
        let b = budget(0, 0, 1000, 10_000);
        let t = Instant::now();
        assert!(b.admit_at("c", t).is_ok());
        b.charge("c", 15_000);
        assert!(b.admit_at("c", t).is_err(), "5,000 bytes in debt");
    }

    #[test]
    fn no_rates_no_budget() {
        let b = budget(0, 0, 0, 0);
        for _ in 0..10_000 {
            assert!(b.admit("c").is_ok());
        }
    }

    #[test]
    fn reads_are_not_writes() {
        assert!(is_read("ListPeople") && is_read("GetErasure") && is_read("VerifyCertificate"));
        assert!(!is_read("CreateCoachingNote") && !is_read("ErasePerson"));
    }
}
