//! `allowed_outbound_hosts`: entry parser and URL matcher with Spin's semantics
//! (scheme defaults, `*.domain` excludes `domain`, `A..B` port ranges exclude `B`, CIDRs, `self`).

use std::net::IpAddr;
use std::ops::Range;

use anyhow::{bail, ensure, Context};
use ipnet::IpNet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemePattern {
    Any,
    Exact(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    Any,
    /// Suffix including the leading dot: `*.example.com` → `.example.com`.
    AnySubdomain(String),
    /// `self` / `self.alt`: only relative (same-app) requests.
    ToSelf,
    Exact(String),
    Cidr(IpNet),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortPattern {
    Any,
    Exact(u16),
    /// End excluded.
    Range(Range<u16>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    pub scheme: SchemePattern,
    pub host: HostPattern,
    pub port: PortPattern,
}

pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHost {
    pub fn parse(entry: &str) -> anyhow::Result<Self> {
        let entry = entry.trim();
        let Some((scheme, rest)) = entry.split_once("://") else {
            match entry {
                "*" | ":" | "" | "?" => bail!(
                    "{entry:?} is not an allowed outbound host format.\nHosts must be in the form <scheme>://<host>[:<port>], with '*' wildcards allowed for each.\nIf you intended to allow all outbound networking, you can use '*://*:*' - this will obviate all network sandboxing."
                ),
                _ => bail!("{entry:?} does not contain a scheme (e.g., 'http://' or '*://')"),
            }
        };
        let (host, after_host) = rest.rsplit_once(':').unwrap_or((rest, ""));
        let port = match after_host.split_once('/') {
            Some((port, path)) => {
                ensure!(path.is_empty(), "{entry:?} has a path but is not allowed to");
                port
            }
            None => after_host,
        };
        Ok(Self {
            scheme: parse_scheme(scheme)?,
            host: parse_host(host)?,
            port: parse_port(port, scheme)?,
        })
    }

    pub fn allows(&self, url: &OutboundUrl) -> bool {
        let scheme_ok = match &self.scheme {
            SchemePattern::Any => true,
            SchemePattern::Exact(s) => *s == url.scheme,
        };
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::AnySubdomain(suffix) => url.host.ends_with(suffix.as_str()),
            HostPattern::ToSelf => false,
            HostPattern::Exact(h) => *h == url.host,
            HostPattern::Cidr(net) => url.host.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
        };
        let port_ok = match &self.port {
            PortPattern::Any => true,
            other => match url.port.or_else(|| default_port(&url.scheme)) {
                None => false,
                Some(p) => match other {
                    PortPattern::Exact(x) => *x == p,
                    PortPattern::Range(r) => r.contains(&p),
                    PortPattern::Any => true,
                },
            },
        };
        scheme_ok && host_ok && port_ok
    }

    fn allows_relative(&self, schemes: &[&str]) -> bool {
        let scheme_ok = schemes.iter().any(|s| match &self.scheme {
            SchemePattern::Any => true,
            SchemePattern::Exact(x) => x == s,
        });
        scheme_ok && matches!(self.host, HostPattern::Any | HostPattern::ToSelf)
    }
}

fn parse_scheme(scheme: &str) -> anyhow::Result<SchemePattern> {
    if scheme == "*" {
        return Ok(SchemePattern::Any);
    }
    ensure!(!scheme.starts_with('{'), "scheme lists are not yet supported");
    ensure!(
        scheme.chars().all(|c| c.is_alphabetic()),
        " scheme {scheme:?} contains non alphabetic character"
    );
    Ok(SchemePattern::Exact(scheme.to_string()))
}

fn parse_host(host: &str) -> anyhow::Result<HostPattern> {
    let host = host.trim();
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if host == "self" || host == "self.alt" {
        return Ok(HostPattern::ToSelf);
    }
    if host.starts_with('{') {
        ensure!(host.ends_with('}'), "invalid host list {host:?}");
        bail!("host lists are not yet supported");
    }
    if let Ok(net) = host.parse::<IpNet>() {
        return Ok(HostPattern::Cidr(net.trunc()));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Cidr(IpNet::from(ip)));
    }
    if matches!(host.split('/').nth(1), Some(path) if !path.is_empty()) {
        bail!("hosts must not contain paths");
    }
    if let Some(domain) = host.strip_prefix("*.") {
        ensure!(
            !domain.contains('*'),
            "Invalid allowed host {host}: wildcards are allowed only as prefixes"
        );
        return Ok(HostPattern::AnySubdomain(format!(".{domain}")));
    }
    ensure!(
        !host.contains('*'),
        "Invalid allowed host {host}: wildcards are allowed only as subdomains"
    );
    Ok(HostPattern::Exact(host.trim_end_matches('/').to_string()))
}

fn parse_port(port: &str, scheme: &str) -> anyhow::Result<PortPattern> {
    if port.is_empty() {
        return default_port(scheme).map(PortPattern::Exact).with_context(|| {
            format!("no port was provided and the scheme {scheme:?} does not have a known default port number")
        });
    }
    if port == "*" {
        return Ok(PortPattern::Any);
    }
    ensure!(!port.starts_with('{'), "port lists are not yet supported");
    if let Some((start, end)) = port.split_once("..") {
        let start = start.parse().with_context(|| format!("port range {port:?} contains non-number"))?;
        let end = end.parse().with_context(|| format!("port range {port:?} contains non-number"))?;
        return Ok(PortPattern::Range(start..end));
    }
    Ok(PortPattern::Exact(port.parse().with_context(|| format!("port {port:?} is not a number"))?))
}

/// A component's resolved allow-list (default: deny everything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts(pub Vec<AllowedHost>);

impl AllowedHosts {
    /// Parses already-resolved entries.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> anyhow::Result<Self> {
        if entries.len() == 1 && entries[0].as_ref() == "insecure:allow-all" {
            bail!("'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic'");
        }
        Ok(Self(entries.iter().map(|e| AllowedHost::parse(e.as_ref())).collect::<anyhow::Result<_>>()?))
    }

    pub fn allows(&self, url: &OutboundUrl) -> bool {
        self.0.iter().any(|h| h.allows(url))
    }

    pub fn allows_relative(&self, schemes: &[&str]) -> bool {
        self.0.iter().any(|h| h.allows_relative(schemes))
    }
}

/// The target of an outbound connection as the allow-list sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundUrl {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
}

impl OutboundUrl {
    /// Parses `url`; if it is not a URL with a host, `<default_scheme>://` is prepended and retried.
    pub fn parse(url: &str, default_scheme: &str) -> anyhow::Result<Self> {
        let url = encode_userinfo(url);
        let parsed = match url::Url::parse(&url) {
            Ok(u) if u.has_host() => u,
            first => match url::Url::parse(&format!("{default_scheme}://{url}")) {
                Ok(u) => u,
                Err(second) => match first {
                    Err(e) => return Err(e.into()),
                    Ok(_) => return Err(anyhow::Error::new(second).context("could not convert into a url")),
                },
            },
        };
        let host = parsed
            .host_str()
            .with_context(|| format!("{url:?} does not have a host component"))?
            .to_string();
        Ok(Self { scheme: parsed.scheme().to_string(), host, port: parsed.port() })
    }

    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Percent-encodes the userinfo part so passwords with special characters still parse.
fn encode_userinfo(url: &str) -> String {
    let Some(at) = url.find('@') else { return url.to_string() };
    let scheme_end = url.find("://").map(|e| e + 3).unwrap_or(0);
    let path_start = url[scheme_end..].find('/').map(|e| e + scheme_end).unwrap_or(usize::MAX);
    if at < scheme_end || at >= path_start {
        return url.to_string();
    }
    let userinfo = &url[scheme_end..at];
    let mut encoded = String::new();
    for b in userinfo.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{}{}{}", &url[..scheme_end], encoded, &url[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, url: &str, default_scheme: &str) -> bool {
        AllowedHosts::parse(&[entry]).unwrap().allows(&OutboundUrl::parse(url, default_scheme).unwrap())
    }

    #[test]
    fn default_ports_per_scheme() {
        assert_eq!(AllowedHost::parse("postgres://db").unwrap().port, PortPattern::Exact(5432));
        assert_eq!(AllowedHost::parse("redis://r").unwrap().port, PortPattern::Exact(6379));
        assert_eq!(AllowedHost::parse("https://x.com").unwrap().port, PortPattern::Exact(443));
        assert_eq!(AllowedHost::parse("http://x.com/").unwrap().port, PortPattern::Exact(80));
        for no_default in ["*://x.com", "rediss://r", "tcp://h", "udp://h"] {
            assert!(AllowedHost::parse(no_default).is_err(), "{no_default}");
        }
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "example.com",
            "*",
            "redis+unix://x:1",
            "http://ex*ample.com",
            "http://*.ex*.com",
            "http://{a,b}.com",
            "http://x.com:{80,81}",
            "http://x.com:80/path",
            "http://x.com:abc",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
        assert!(AllowedHosts::parse(&["insecure:allow-all"]).is_err());
    }

    #[test]
    fn subdomain_wildcard_excludes_bare_domain() {
        assert!(allows("https://*.example.com", "https://a.b.example.com", "https"));
        assert!(!allows("https://*.example.com", "https://example.com", "https"));
    }

    #[test]
    fn port_ranges_exclude_end() {
        assert!(allows("http://h:8000..8002", "http://h:8001", "https"));
        assert!(!allows("http://h:8000..8002", "http://h:8002", "https"));
        assert!(allows("http://h:*", "http://h:1", "https"));
    }

    #[test]
    fn scheme_and_default_port_matching() {
        assert!(allows("postgres://127.0.0.1:5432", "postgres://127.0.0.1", "postgres"));
        assert!(allows("postgres://localhost", "localhost:5432", "postgres"));
        assert!(!allows("postgresql://localhost:5432", "postgres://localhost", "postgres"));
        assert!(allows("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/0", "redis"));
        assert!(!allows("redis://127.0.0.1:6379", "redis://127.0.0.1:6380", "redis"));
        assert!(allows("*://*:*", "mqtt://anything:1", "https"));
        // The URL side is lower-cased by URL parsing; the entry is compared as written.
        assert!(!allows("https://Example.com", "https://EXAMPLE.com", "https"));
        assert!(allows("https://example.com", "https://EXAMPLE.com", "https"));
    }

    #[test]
    fn cidr_and_ips() {
        assert!(allows("tcp://10.0.0.0/8:80", "tcp://10.1.2.3:80", "tcp"));
        assert!(!allows("tcp://10.0.0.0/8:80", "tcp://11.1.2.3:80", "tcp"));
        assert!(allows("http://127.0.0.1", "http://127.0.0.1/x", "https"));
        assert!(!allows("http://*.example.com", "http://127.0.0.1", "https"));
    }

    #[test]
    fn self_only_for_relative() {
        let hosts = AllowedHosts::parse(&["http://self"]).unwrap();
        assert!(hosts.allows_relative(&["http", "https"]));
        assert!(!hosts.allows(&OutboundUrl::parse("http://self", "https").unwrap()));
        assert!(!AllowedHosts::parse(&["http://x.com"]).unwrap().allows_relative(&["http", "https"]));
    }

    #[test]
    fn userinfo_with_specials_parses() {
        let u = OutboundUrl::parse("postgres://us:p#w@db.local:5433/x", "postgres").unwrap();
        assert_eq!(u.host, "db.local");
        assert_eq!(u.port, Some(5433));
    }
}
