//! API keys: `sk_` followed by 32 random bytes in base64url. Only the
//! SHA-256 of the key is stored; the key is shown once at creation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub const PREFIX: &str = "sk_";
/// Characters of the key kept for display (`sk_` + 8).
pub const DISPLAY_PREFIX_LEN: usize = 11;

pub struct NewKey {
    /// The secret, shown once.
    pub key: String,
    pub key_prefix: String,
    pub key_hash: String,
}

pub fn generate() -> NewKey {
    let key = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>()));
    NewKey { key_prefix: key[..DISPLAY_PREFIX_LEN].to_string(), key_hash: crate::secret_hash(&key), key }
}

pub fn looks_like_key(s: &str) -> bool {
    s.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_long_and_hashed() {
        let k = generate();
        assert!(k.key.starts_with("sk_"));
        assert_eq!(k.key.len(), 3 + 43);
        assert_eq!(k.key_prefix, &k.key[..11]);
        assert_eq!(k.key_hash, crate::secret_hash(&k.key));
        assert!(!k.key_hash.contains(&k.key));
    }
}
