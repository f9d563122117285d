//! Who sent a public request: the client's address, seen through the
//! proxies this deployment trusts.
//!
//! The public RPCs (verifying a certificate, suggesting a training, a
//! center's figures, its IATI file) are limited per client address. Behind
//! the console, an ingress or a mesh the transport's peer is the proxy, so
//! every visitor would share one window: a bot could use up a center's form
//! for everyone. A proxy says whom it forwards for in `x-forwarded-for`,
//! but anyone can send that header, so it is believed only from a peer in
//! `trusted` (`MARKAZ_TRUSTED_PROXIES`), and only so far: the list is read
//! from the right — each hop appends the address it saw — and the first
//! address that is not itself a trusted proxy is the client. What comes
//! before it was written by the client and is ignored.

use std::net::IpAddr;
use std::str::FromStr;

/// The header a proxy names its client in (gRPC metadata and HTTP alike).
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The loopback networks: what `markaz dev` and a sidecar proxy use.
pub const LOOPBACK: &str = "127.0.0.0/8,::1/128";

/// Networks whose hosts are proxies this deployment runs (the console, an
/// ingress), parsed from `10.0.0.0/8,::1/128`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, unmapped(ip)) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                prefix_matches(&base.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                prefix_matches(&base.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_matches(base: &[u8], ip: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    if base[..whole] != ip[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        base[whole] & mask == ip[whole] & mask
    }
}

/// An IPv4 client reached over an IPv6 socket is the IPv4 address.
pub(crate) fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated networks (`10.0.0.0/8`) or single addresses; empty:
    /// none, every peer is the client.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut networks = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (address, prefix) = part.split_once('/').unwrap_or((part, ""));
            let base: IpAddr = address
                .parse()
                .map_err(|_| format!("{part:?} is not an IP address or network"))?;
            let bits = if base.is_ipv4() { 32 } else { 128 };
            let prefix = if prefix.is_empty() {
                bits
            } else {
                prefix
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= bits)
                    .ok_or_else(|| format!("{part:?}: a prefix length from 0 to {bits}"))?
            };
            networks.push(Network {
                base: unmapped(base),
                prefix,
            });
        }
        Ok(TrustedProxies(networks))
    }
}

impl TrustedProxies {
    pub fn loopback() -> TrustedProxies {
        LOOPBACK.parse().expect("the loopback networks parse")
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy
    /// that says whom it forwards for; then the rightmost address of
    /// `forwarded_for` that is not a trusted proxy (all of them trusted:
    /// the leftmost). An entry that is not an address ends the walk at the
    /// hop that wrote it: nothing a client forged is believed.
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let mut client = peer?;
        if !self.trusts(client) {
            return Some(client);
        }
        let Some(list) = forwarded_for else {
            return Some(client);
        };
        for hop in list.rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = unmapped(ip);
            if !self.trusts(client) {
                break;
            }
        }
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn networks_parse_and_contain() {
        let t: TrustedProxies = "10.0.0.0/8, 192.168.1.7,fd00::/8".parse().unwrap();
        assert!(t.trusts("10.200.3.4".parse().unwrap()));
        assert!(!t.trusts("11.0.0.1".parse().unwrap()));
        assert!(t.trusts("192.168.1.7".parse().unwrap()));
        assert!(!t.trusts("192.168.1.8".parse().unwrap()));
        assert!(t.trusts("fd12::1".parse().unwrap()));
        assert!(!t.trusts("fe80::1".parse().unwrap()));
        // An IPv4 peer on an IPv6 socket.
        assert!(t.trusts("::ffff:10.1.2.3".parse().unwrap()));
        let odd: TrustedProxies = "10.1.2.128/25".parse().unwrap();
        assert!(odd.trusts("10.1.2.200".parse().unwrap()));
        assert!(!odd.trusts("10.1.2.100".parse().unwrap()));
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::default()
        );
        for bad in ["10.0.0.0/33", "console", "::/129", "10.0.0.0/x"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let t: TrustedProxies = "127.0.0.0/8,10.0.0.0/8".parse().unwrap();
        // No proxy in between: the peer, whatever it claims.
        assert_eq!(
            t.client(ip("203.0.113.9"), Some("198.51.100.1")),
            ip("203.0.113.9")
        );
        // The console on loopback forwards for a visitor.
        assert_eq!(
            t.client(ip("127.0.0.1"), Some("203.0.113.9")),
            ip("203.0.113.9")
        );
        // A visitor's own header before the ingress's entry is not believed.
        assert_eq!(
            t.client(ip("127.0.0.1"), Some("1.2.3.4, 203.0.113.9, 10.0.0.5")),
            ip("203.0.113.9")
        );
        // A trusted proxy forwarding nothing is the client.
        assert_eq!(t.client(ip("10.0.0.5"), None), ip("10.0.0.5"));
        // All trusted: the leftmost.
        assert_eq!(
            t.client(ip("127.0.0.1"), Some("10.0.0.7, 10.0.0.5")),
            ip("10.0.0.7")
        );
        // Garbage stops the walk at the hop that wrote it.
        assert_eq!(
            t.client(ip("127.0.0.1"), Some("203.0.113.9, nonsense, 10.0.0.5")),
            ip("10.0.0.5")
        );
        assert_eq!(
            t.client(ip("127.0.0.1"), Some("::ffff:203.0.113.9")),
            ip("203.0.113.9")
        );
        assert_eq!(t.client(None, Some("203.0.113.9")), None);
        // Nothing trusted: the header means nothing.
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("127.0.0.1"), Some("203.0.113.9")),
            ip("127.0.0.1")
        );
    }
}
