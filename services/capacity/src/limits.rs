//! Rate limits of the public RPCs, kept in memory: a fixed window per key
//! (a client address, a center). Each process counts on its own, so with
//! several replicas the effective limit is a multiple; that is enough to
//! keep a form on a public page from being used as a firehose, which is all
//! these limits are for.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use markaz_kit::error::{Error, Result};

/// At most `max` calls per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub per: Duration,
}

/// Suggestions from one client address.
pub const SUGGESTIONS_PER_CLIENT: Limit = Limit {
    max: 5,
    per: Duration::from_secs(15 * 60),
};

/// Suggestions to one center, from everyone.
pub const SUGGESTIONS_PER_CENTER: Limit = Limit {
    max: 100,
    per: Duration::from_secs(3600),
};

/// Certificate checks from one client address: generous for people, slow
/// for anyone trying to guess codes.
pub const VERIFICATIONS_PER_CLIENT: Limit = Limit {
    max: 60,
    per: Duration::from_secs(60),
};

/// The key a client address is limited under. An IPv6 host usually holds a
/// whole /64 and can send each request from another address of it: the /64
/// is the client, or one host could pass every per-client limit and fill
/// the limiter's keys (which then refuses everyone).
pub fn client_key(peer: Option<IpAddr>) -> String {
    match peer {
        None => "unknown".into(),
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = ip.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

/// Keys remembered at most; beyond, expired windows are dropped, and if none
/// has expired new keys are refused until one does.
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
        self.check_at(key, limit, Instant::now())
    }

    fn check_at(&self, key: &str, limit: Limit, now: Instant) -> Result<()> {
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if !windows.contains_key(key) && windows.len() >= MAX_KEYS {
            windows.retain(|_, w| now.duration_since(w.started) < w.per);
            if windows.len() >= MAX_KEYS {
                return Err(exhausted(limit));
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
            limiter.check_at("10.0.0.1", limit, t0).unwrap();
        }
        let refused = limiter.check_at("10.0.0.1", limit, t0).unwrap_err();
        assert!(matches!(refused, Error::ResourceExhausted(_)));
        limiter.check_at("10.0.0.2", limit, t0).unwrap();
        // The next window starts afresh.
        let later = t0 + Duration::from_secs(61);
        limiter.check_at("10.0.0.1", limit, later).unwrap();
    }
}
