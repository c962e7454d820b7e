//! Passwords: Argon2id (PHC strings) and the password policy (12–128 characters, upper, lower, digit, symbol).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&crate::random_bytes::<16>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("hashing: {e}"))?.to_string())
}

/// Constant-time verification; a malformed stored hash never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of a random password, verified against when the account does not
/// exist, so unknown users cost the same time as wrong passwords.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2VudGluZWxkdW1teXNhbHQ$3m3xkG1H0B5cXNtGQ1o9QqgkYDCpHZ6EnW3fUQ8bXcY";

/// 12–128 characters with an upper-case letter, a lower-case letter, a digit and a symbol.
pub fn policy_violations(password: &str) -> Vec<&'static str> {
    let n = password.chars().count();
    let mut problems = Vec::new();
    if !(12..=128).contains(&n) {
        problems.push("must be 12 to 128 characters");
    }
    if !password.chars().any(|c| c.is_uppercase()) {
        problems.push("must contain an upper-case letter");
    }
    if !password.chars().any(|c| c.is_lowercase()) {
        problems.push("must contain a lower-case letter");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        problems.push("must contain a digit");
    }
    if !password.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control()) {
        problems.push("must contain a symbol");
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("Correct-Horse-9").unwrap();
        let b = hash("Correct-Horse-9").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify("Correct-Horse-9", &a));
        assert!(!verify("correct-horse-9", &a));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn dummy_hash_parses_and_rejects() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify("anything", DUMMY_HASH));
    }

    #[test]
    fn policy() {
        assert!(policy_violations("Str0ng!Passw0rd").is_empty());
        assert_eq!(policy_violations("Short1!a"), ["must be 12 to 128 characters"]);
        assert_eq!(policy_violations("alllowercase1!"), ["must contain an upper-case letter"]);
        assert_eq!(policy_violations("NoDigitsHere!!"), ["must contain a digit"]);
        assert_eq!(policy_violations("NoSymbols12345"), ["must contain a symbol"]);
    }
}
