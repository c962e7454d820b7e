//! PostgreSQL TLS as Spin sets it up: `sslmode=disable` is
//! plaintext; `prefer` (the default) uses TLS when the server offers it and plaintext only when
//! the server answers "no SSL"; `require` insists on TLS. Certificates are verified against the
//! system's roots, hostname included. The host, the relay and the CLI all connect through this,
//! so one database URL behaves the same in each of them and on Spin.

use std::sync::{Arc, OnceLock};

pub use tokio_postgres_rustls::MakeRustlsConnect;

/// The shared connector (root store loaded once per process).
pub fn connector() -> MakeRustlsConnect {
    static CONNECTOR: OnceLock<MakeRustlsConnect> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            // Unreadable or malformed system certificates are skipped, as OpenSSL skips them.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            MakeRustlsConnect::new(config)
        })
        .clone()
}
