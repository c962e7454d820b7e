//! The variable map handed to the host (Spin's `--variable` equivalent), shared by the CLI and the test harness.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Connection and runtime settings that become spin.toml application variables.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub redis_url: String,
    pub jwt_secret: String,
    /// `production` | `development`
    pub environment: String,
}

impl Settings {
    /// See [`check_environment`].
    pub fn validate(&self) -> Result<()> {
        check_environment(&self.environment, &self.jwt_secret)
    }

    /// Application variables: database_url, database_host, redis_url, redis_host, jwt_secret, environment.
    /// `*_host` are derived from the URLs for the components' outbound allow-lists.
    pub fn host_variables(&self) -> Result<HashMap<String, String>> {
        let mut vars = HashMap::new();
        vars.insert("database_url".into(), self.database_url.clone());
        vars.insert("database_host".into(), host_port(&self.database_url, 5432)?);
        vars.insert("redis_url".into(), self.redis_url.clone());
        vars.insert("redis_host".into(), host_port(&self.redis_url, 6379)?);
        vars.insert("jwt_secret".into(), self.jwt_secret.clone());
        vars.insert("environment".into(), self.environment.clone());
        Ok(vars)
    }
}

/// See [`sentinel_auth::session_token::check_environment`].
pub use sentinel_auth::session_token::check_environment;

/// `host:port` of a URL (`postgres://u@db:5433/x` -> `db:5433`), with the scheme's default port.
pub fn host_port(url: &str, default_port: u16) -> Result<String> {
    let parsed = url::Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
    let host = parsed.host_str().with_context(|| format!("URL {url:?} has no host"))?;
    Ok(format!("{}:{}", host, parsed.port().unwrap_or(default_port)))
}

/// First non-empty environment variable among `names`.
pub fn env_first(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// `bytes` random bytes from the kernel, hex-encoded.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The secret stored in `path`, or a new 256-bit one written there with mode 0600.
pub fn persistent_secret(path: &Path) -> Result<String> {
    if let Ok(existing) = fs::read_to_string(path) {
        let existing = existing.trim();
        if !existing.is_empty() {
            return Ok(existing.to_string());
        }
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let secret = random_hex(32)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_uses_scheme_defaults() {
        assert_eq!(host_port("postgres://u:p@db:5433/x?sslmode=disable", 5432).unwrap(), "db:5433");
        assert_eq!(host_port("postgres://u@db/x", 5432).unwrap(), "db:5432");
        assert_eq!(host_port("redis://127.0.0.1", 6379).unwrap(), "127.0.0.1:6379");
    }

    #[test]
    fn secrets_persist_with_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sentinel-secret-test-{}", std::process::id()));
        let path = dir.join("jwt_secret");
        let first = persistent_secret(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(persistent_secret(&path).unwrap(), first);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }
}
