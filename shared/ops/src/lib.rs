//! sentinel-ops: the native operator library behind the `sentinel` CLI and the integration-test harness.
//!
//! - [`services`]: private PostgreSQL and Redis servers from the system's server binaries;
//! - [`migrate`]: the workspace's SQL migrations (refinery);
//! - [`seed`]: demo data and the initial administrator;
//! - [`build`]: building the Wasm components a Spin manifest declares;
//! - [`config`]: the variable map handed to the host.

pub mod build;
pub mod config;
pub mod migrate;
pub mod seed;
pub mod services;

use anyhow::{Context, Result};

/// Connect to PostgreSQL (TLS as the URL's `sslmode` says, like Spin) and drive the connection
/// on the current tokio runtime.
pub async fn connect(database_url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(database_url, sentinel_pg_tls::connector())
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact_url(database_url)))?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            eprintln!("postgres connection ended: {err}");
        }
    });
    Ok(client)
}

/// The URL with any password replaced, for messages.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<invalid URL>".into(),
    }
}
