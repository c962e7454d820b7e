//! Credentials, shared by the HTTP components and the realtime relay so both
//! authenticate exactly alike: session tokens (JWT signed
//! with the `jwt_secret` variable, backed by a stored, revocable session),
//! `sk_` API keys, Argon2id passwords, and the SQL that resolves each into a
//! principal. Nothing here performs I/O: callers run the SQL on their own
//! database client.

pub mod api_key;
pub mod credentials;
pub mod password;
pub mod principal_sql;
pub mod session_token;

use sha2::{Digest, Sha256};

/// SHA-256 hex digest: how session tokens and API keys are stored. Both are
/// high-entropy secrets, so a fast hash is enough (unlike passwords).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// HMAC-SHA256 hex of `value` keyed with `secret` (the `jwt_secret` variable), separated by `purpose`:
/// how an unknown sign-in identifier is recorded, so the audit log never keeps text a user typed
/// (it may be a password typed into the wrong field) yet repeated guesses still match
/// (docs/api.md, "Sign-in lockout").
pub fn keyed_hash(secret: &str, purpose: &str, value: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `n` random bytes from the operating system (WASI `random` in components).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    #[test]
    fn secret_hash_is_hex_sha256() {
        assert_eq!(super::secret_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn keyed_hashes_depend_on_key_purpose_and_value() {
        let h = super::keyed_hash("k", "p", "v");
        assert_eq!(h.len(), 64);
        assert_eq!(h, super::keyed_hash("k", "p", "v"));
        assert_ne!(h, super::keyed_hash("k2", "p", "v"));
        assert_ne!(h, super::keyed_hash("k", "q", "v"));
        assert_ne!(h, super::keyed_hash("k", "p", "w"));
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(super::random_bytes::<32>(), super::random_bytes::<32>());
    }
}
