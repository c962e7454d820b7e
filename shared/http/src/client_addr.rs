//! The client's address behind reverse proxies: the `trusted_proxies` setting (docs/api.md,
//! "Client addresses"). Used by the anonymous rate limit, the sign-in lockout, audit rows and
//! the relay's per-IP connection limit.
//!
//! The peer address the host reports is the client unless it is a trusted proxy; then
//! `X-Forwarded-For` is read from the right (the hop the trusted proxy appended last), skipping
//! trusted addresses, and the first untrusted one is the client. A client cannot spoof its
//! address by sending `X-Forwarded-For` itself: entries left of the first untrusted hop are
//! never read. With no trusted proxies (the default) the header is ignored.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// Comma-separated CIDRs (`10.0.0.0/8, 192.168.1.7`; a bare address is a /32 or /128).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses the setting; empty → trust no proxy.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => part.parse::<IpAddr>().map(IpNet::from).map_err(|_| format!("trusted_proxies: {part:?} is not a CIDR or IP address"))?,
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer` unless it is trusted, else the rightmost untrusted hop of the
    /// `X-Forwarded-For` values (`forwarded_for`, every header occurrence in order). When every hop
    /// is trusted the leftmost one is the client; an unparseable hop stops the walk at the trusted
    /// address that reported it.
    pub fn client_ip<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).map(str::trim).collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { return client };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// An address as hosts and proxies write it: `ip`, `ip:port` or `[v6]:port`.
pub fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .or_else(|_| s.parse::<SocketAddr>().map(|a| a.ip()))
        .or_else(|_| s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>())
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_addresses() {
        let t = TrustedProxies::parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8").unwrap();
        assert!(t.trusts(ip("10.3.4.5")) && t.trusts(ip("192.168.1.7")) && t.trusts(ip("fd12::1")));
        assert!(!t.trusts(ip("192.168.1.8")) && !t.trusts(ip("11.0.0.1")));
        assert!(t.trusts(ip("::ffff:10.1.1.1")), "IPv4-mapped IPv6 is the IPv4 address");
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }

    #[test]
    fn forwarded_for_only_through_trusted_hops() {
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(ip("10.0.0.2"), ["1.2.3.4"]), ip("10.0.0.2"), "no trusted proxy: the header is ignored");
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(t.client_ip(ip("203.0.113.9"), ["1.2.3.4"]), ip("203.0.113.9"), "an untrusted peer's header is ignored");
        assert_eq!(t.client_ip(ip("10.0.0.2"), ["1.2.3.4"]), ip("1.2.3.4"));
        assert_eq!(t.client_ip(ip("10.0.0.2"), ["6.6.6.6, 1.2.3.4, 10.0.0.9"]), ip("1.2.3.4"), "a spoofed leftmost entry is never read");
        assert_eq!(t.client_ip(ip("10.0.0.2"), ["6.6.6.6", "1.2.3.4:5555"]), ip("1.2.3.4"), "several headers, ports");
        assert_eq!(t.client_ip(ip("10.0.0.2"), ["[2001:db8::1]:443"]), ip("2001:db8::1"));
        assert_eq!(t.client_ip(ip("10.0.0.2"), ["10.0.0.5, 10.0.0.4"]), ip("10.0.0.5"), "all trusted: the leftmost");
        assert_eq!(t.client_ip(ip("10.0.0.2"), ["1.2.3.4, garbage"]), ip("10.0.0.2"), "garbage stops at the proxy");
        assert_eq!(t.client_ip(ip("10.0.0.2"), std::iter::empty()), ip("10.0.0.2"));
    }
}
