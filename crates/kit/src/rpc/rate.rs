//! Rate limits of the public RPCs, kept in memory: a fixed window per key
//! (a client address, its network, a center). Each process counts on its
//! own, so with several replicas the effective limit is a multiple; that is
//! enough to keep a public form or catalogue from being used as a firehose,
//! which is all these limits are for — an ingress's limits come first
//! (docs/security.md). A service counts a call once it is valid, so a
//! malformed flood costs no one else a window.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::rpc::Anonymous;
use crate::rpc::peer::unmapped;

/// At most `max` calls per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub per: Duration,
}

/// The key a client address is limited under. An IPv6 host usually holds a
/// whole /64 and can send each request from another address of it: the /64
/// is the client, or one host could pass every per-client limit.
pub fn client_key(peer: Option<IpAddr>) -> String {
    match peer.map(unmapped) {
        None => "unknown".into(),
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => format!("{}/64", v6_prefix(ip, 4)),
    }
}

/// The network a client address belongs to, for the aggregate limits: an
/// IPv4 /24, an IPv6 /48 (what one site is usually given).
pub fn network_key(peer: Option<IpAddr>) -> String {
    match peer.map(unmapped) {
        None => "unknown".into(),
        Some(IpAddr::V4(ip)) => {
            let [a, b, c, _] = ip.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Some(IpAddr::V6(ip)) => format!("{}/48", v6_prefix(ip, 3)),
    }
}

/// The first `segments` 16-bit groups of `ip`, the rest zero.
fn v6_prefix(ip: Ipv6Addr, segments: usize) -> Ipv6Addr {
    let mut s = ip.segments();
    for part in s.iter_mut().skip(segments) {
        *part = 0;
    }
    Ipv6Addr::from(s)
}

/// Keys remembered at most. When full, expired windows go first, then the
/// oldest tenth: memory stays bounded, and a flood of new addresses costs the
/// flood its own old windows — it never turns into a refusal of everyone.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    per: Duration,
    count: u32,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one call for `key`; RESOURCE_EXHAUSTED beyond `limit`.
    pub fn check(&self, key: &str, limit: Limit) -> Result<()> {
        self.check_at(key, limit, Instant::now(), MAX_KEYS)
    }

    /// Counts one public call of `what` against its network, then its
    /// address.
    pub fn check_public(
        &self,
        what: &str,
        anonymous: &Anonymous,
        per_client: Limit,
        per_network: Limit,
    ) -> Result<()> {
        let network = network_key(anonymous.peer);
        let client = client_key(anonymous.peer);
        self.check(&format!("{what}/network/{network}"), per_network)?;
        self.check(&format!("{what}/client/{client}"), per_client)
    }

    fn check_at(&self, key: &str, limit: Limit, now: Instant, max_keys: usize) -> Result<()> {
        let mut windows = self
            .windows
            .lock()
            .map_err(|_| Error::internal("the rate limiter's lock was poisoned"))?;
        if !windows.contains_key(key) && windows.len() >= max_keys {
            windows.retain(|_, w| now.duration_since(w.started) < w.per);
            if windows.len() >= max_keys {
                evict_oldest(&mut windows, max_keys / 10 + 1);
            }
        }
        let window = windows.entry(key.to_string()).or_insert(Window {
            started: now,
            per: limit.per,
            count: 0,
        });
        if now.duration_since(window.started) >= window.per {
            *window = Window {
                started: now,
                per: limit.per,
                count: 0,
            };
        }
        if window.count >= limit.max {
            return Err(exhausted(limit));
        }
        window.count += 1;
        Ok(())
    }
}

/// Drops the `n` windows that started longest ago.
fn evict_oldest(windows: &mut HashMap<String, Window>, n: usize) {
    let mut starts: Vec<Instant> = windows.values().map(|w| w.started).collect();
    let n = n.min(starts.len());
    if n == 0 {
        return;
    }
    let (_, cutoff, _) = starts.select_nth_unstable(n - 1);
    let cutoff = *cutoff;
    let mut dropped = 0;
    windows.retain(|_, w| {
        if dropped < n && w.started <= cutoff {
            dropped += 1;
            false
        } else {
            true
        }
    });
}

fn exhausted(limit: Limit) -> Error {
    Error::ResourceExhausted(format!(
        "too many requests: at most {} per {} minutes; try again later",
        limit.max,
        limit.per.as_secs().div_ceil(60)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_64() {
        let key = |s: &str| client_key(Some(s.parse().unwrap()));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), key("2001:db8:1:2::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(client_key(None), "unknown");
    }

    #[test]
    fn a_key_gets_its_quota_per_window_and_others_are_untouched() {
        let limiter = RateLimiter::new();
        let limit = Limit {
            max: 3,
            per: Duration::from_secs(60),
        };
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.check_at("10.0.0.1", limit, t0, MAX_KEYS).unwrap();
        }
        let refused = limiter
            .check_at("10.0.0.1", limit, t0, MAX_KEYS)
            .unwrap_err();
        assert!(matches!(refused, Error::ResourceExhausted(_)));
        limiter.check_at("10.0.0.2", limit, t0, MAX_KEYS).unwrap();
        // The next window starts afresh.
        let later = t0 + Duration::from_secs(61);
        limiter
            .check_at("10.0.0.1", limit, later, MAX_KEYS)
            .unwrap();
    }

    #[test]
    fn networks_are_a_v4_24_and_a_v6_48() {
        let net = |s: &str| network_key(Some(s.parse().unwrap()));
        assert_eq!(net("203.0.113.7"), "203.0.113.0/24");
        assert_eq!(net("::ffff:203.0.113.200"), "203.0.113.0/24");
        assert_eq!(net("2001:db8:1:2::1"), "2001:db8:1::/48");
        assert_eq!(net("2001:db8:1:ffff::1"), net("2001:db8:1:2::1"));
        assert_ne!(net("127.1.2.3"), net("127.0.0.1"));
    }

    /// A flood of new keys fills the table and is then evicted, oldest
    /// first: the next visitor is served, never refused for the table.
    #[test]
    fn a_full_table_evicts_instead_of_refusing_newcomers() {
        let limiter = RateLimiter::new();
        let limit = Limit {
            max: 1,
            per: Duration::from_secs(900),
        };
        let t0 = Instant::now();
        for i in 0..1_000u32 {
            let at = t0 + Duration::from_millis(u64::from(i));
            limiter
                .check_at(&format!("flood-{i}"), limit, at, 100)
                .unwrap();
        }
        let later = t0 + Duration::from_secs(2);
        limiter.check_at("127.0.0.1", limit, later, 100).unwrap();
        assert!(limiter.windows.lock().unwrap().len() <= 100);
        // Its own window is kept: the same visitor's next call is counted.
        assert!(limiter.check_at("127.0.0.1", limit, later, 100).is_err());
    }
}
