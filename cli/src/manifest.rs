//! `sentinel manifest`: spin.toml with concrete outbound hosts.
//!
//! spin.toml allows each component's outbound connections as `postgres://{{ database_host }}` and
//! `redis://{{ redis_host }}`. Spin and SpinKube resolve those templates from variables; Fermyon's
//! (Akamai's) cloud does not, so it gets a rendering with the hosts written in. Nothing else of the
//! manifest changes (comments and layout included). See infra/README.md, "Fermyon / Akamai cloud".

use anyhow::{bail, Context, Result};
use std::path::Path;
use toml_edit::{DocumentMut, Item, Value};

/// The variables templated into `allowed_outbound_hosts`, with the flag that gives each.
const HOST_VARIABLES: [(&str, &str); 2] = [("database_host", "--database-host"), ("redis_host", "--redis-host")];

/// A `host[:port]` as `allowed_outbound_hosts` takes it after the scheme: no scheme, credentials,
/// path or template; a port, if any, a number in 1..=65535.
pub fn check_host(flag: &str, host: &str) -> Result<()> {
    let fail = |why: &str| -> Result<()> { bail!("{flag} {host:?}: {why}; give host[:port], e.g. db.example.com:5432") };
    if host.is_empty() {
        return fail("empty");
    }
    if host.contains("://") || host.contains('/') || host.contains('@') || host.contains("{{") || host.contains("}}") {
        return fail("not a bare host");
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("contains whitespace");
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        // [IPv6]:port
        let (address, after) = rest.split_once(']').map(|(a, r)| (a, r)).unwrap_or((rest, "\u{0}"));
        if after == "\u{0}" || address.is_empty() {
            return fail("unclosed IPv6 bracket");
        }
        (address, after.strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if name.is_empty() || name.contains(':') && !host.starts_with('[') {
        return fail("not a host name");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '*')) {
        return fail("not a host name");
    }
    if let Some(port) = port {
        if !port.parse::<u16>().is_ok_and(|p| p > 0) {
            return fail("the port is not a number in 1..65535");
        }
    }
    Ok(())
}

/// Replace `{{ name }}` (any spacing) of the known host variables in one entry.
fn render_entry(entry: &str, hosts: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = entry;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let name = rest[start + 2..start + len].trim();
        out.push_str(&rest[..start]);
        match hosts.iter().find(|(variable, _)| *variable == name) {
            Some((_, host)) => out.push_str(host),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// The manifest text with every `allowed_outbound_hosts` entry rendered; fails when one is still a
/// template afterwards or the manifest is not a Spin manifest v2.
pub fn render(manifest: &str, database_host: &str, redis_host: &str) -> Result<String> {
    check_host("--database-host", database_host)?;
    check_host("--redis-host", redis_host)?;
    let hosts = [(HOST_VARIABLES[0].0, database_host), (HOST_VARIABLES[1].0, redis_host)];
    let mut doc: DocumentMut = manifest.parse().context("the manifest is not valid TOML")?;
    if doc.get("spin_manifest_version").and_then(Item::as_integer) != Some(2) {
        bail!("not a Spin manifest v2 (spin_manifest_version = 2)");
    }
    let components = doc.get_mut("component").and_then(Item::as_table_like_mut).context("the manifest has no [component.*] tables")?;
    let mut remaining = Vec::new();
    for (id, component) in components.iter_mut() {
        let Some(entries) = component.get_mut("allowed_outbound_hosts").and_then(Item::as_array_mut) else { continue };
        for entry in entries.iter_mut() {
            let Some(text) = entry.as_str() else { bail!("component {id}: allowed_outbound_hosts holds a non-string") };
            let rendered = render_entry(text, &hosts);
            if rendered.contains("{{") {
                remaining.push(format!("component {id}: {rendered}"));
            }
            if rendered != text {
                // Keep the entry's surrounding whitespace (the layout of the array).
                let decor = entry.decor().clone();
                *entry = Value::from(rendered);
                *entry.decor_mut() = decor;
            }
        }
    }
    if !remaining.is_empty() {
        bail!("templates other than {{{{ database_host }}}} / {{{{ redis_host }}}} remain in allowed_outbound_hosts:\n  {}", remaining.join("\n  "));
    }
    Ok(doc.to_string())
}

/// `sentinel manifest`: read `manifest`, write the rendering to `output` (or stdout).
pub fn run(manifest: &Path, database_host: &str, redis_host: &str, output: Option<&Path>) -> Result<()> {
    let text = std::fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let rendered = render(&text, database_host, redis_host).with_context(|| format!("rendering {}", manifest.display()))?;
    match output {
        Some(path) => std::fs::write(path, rendered).with_context(|| format!("writing {}", path.display()))?,
        None => print!("{rendered}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_render_with_any_spacing_and_unknown_templates_stay() {
        let hosts = [("database_host", "db:5432"), ("redis_host", "cache:6379")];
        assert_eq!(render_entry("postgres://{{ database_host }}", &hosts), "postgres://db:5432");
        assert_eq!(render_entry("redis://{{redis_host}}", &hosts), "redis://cache:6379");
        assert_eq!(render_entry("https://{{ other }}", &hosts), "https://{{ other }}");
    }

    #[test]
    fn hosts_are_bare_host_and_port() {
        for good in ["db", "db.internal:5432", "10.0.0.5:6379", "[::1]:5432", "my-db_1.example.com"] {
            check_host("--database-host", good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in ["", "postgres://db", "db/x", "u@db", "db:0", "db:99999", "db:x", "{{ database_host }}", "db host", "[::1", ":5432"] {
            assert!(check_host("--database-host", bad).is_err(), "{bad:?} accepted");
        }
    }
}
