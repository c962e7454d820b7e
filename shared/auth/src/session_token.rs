//! Session tokens: a JWT (HS256, `jwt_secret`) naming the stored session.
//! The signature lets garbage be rejected without touching the database;
//! the stored session (looked up by id and token hash) decides validity, so
//! logout, revocation and user disabling take effect on the next request.

use jwt_simple::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    Password,
    Rfid,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Password => "password",
            SessionKind::Rfid => "rfid",
        }
    }

    /// Hard upper bound of the token itself; the stored session's own expiry
    /// (7 days sliding, or 8 h for RFID) is normally reached first.
    pub fn token_lifetime(self) -> Duration {
        match self {
            SessionKind::Password => Duration::from_days(90),
            SessionKind::Rfid => Duration::from_hours(8),
        }
    }
}

/// Lifetime of a stored password session, from sign-in and again from each
/// sliding renewal; also the session cookie's `Max-Age`.
pub const PASSWORD_SESSION_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Session id (uuid).
    pub sid: String,
    pub kind: SessionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub session_id: String,
    pub user_id: String,
    pub kind: SessionKind,
}

/// Secrets shorter than this are refused outside development (issue: secrets).
pub const MIN_SECRET_BYTES: usize = 32;

/// Refuses what a production process must not start with: an unknown environment mode, or
/// (outside development) a JWT secret shorter than [`MIN_SECRET_BYTES`], which would make
/// session tokens forgeable by brute force. The secret itself never appears in the error.
/// Used by `sentinel serve`/`up` and the relay at start-up.
pub fn check_environment(environment: &str, jwt_secret: &str) -> anyhow::Result<()> {
    match environment {
        "development" => Ok(()),
        "production" if jwt_secret.len() >= MIN_SECRET_BYTES => Ok(()),
        "production" => anyhow::bail!(
            "refusing to start: the JWT secret is {} bytes; outside development it must be at least {MIN_SECRET_BYTES} \
             (generate one with `openssl rand -hex 32` and set SENTINEL_JWT_SECRET)",
            jwt_secret.len()
        ),
        other => anyhow::bail!("unknown environment {other:?}: expected production or development"),
    }
}

fn key(secret: &str) -> HS256Key {
    HS256Key::from_bytes(secret.as_bytes())
}

/// Signs a token for a new session. A random nonce makes every token unique
/// even for sessions created in the same second.
pub fn issue(secret: &str, session_id: &str, user_id: &str, kind: SessionKind) -> anyhow::Result<String> {
    let claims = Claims::with_custom_claims(SessionClaims { sid: session_id.to_string(), kind }, kind.token_lifetime())
        .with_subject(user_id)
        .with_nonce(hex::encode(crate::random_bytes::<16>()));
    key(secret).authenticate(claims).map_err(|e| anyhow::anyhow!("signing session token: {e}"))
}

/// Checks signature and expiry. `None` for anything not a valid token.
pub fn verify(secret: &str, token: &str) -> Option<VerifiedToken> {
    if token.len() > 2048 {
        return None;
    }
    let claims = key(secret).verify_token::<SessionClaims>(token, None).ok()?;
    Some(VerifiedToken { session_id: claims.custom.sid, user_id: claims.subject?, kind: claims.custom.kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify_with_the_same_secret_only() {
        let t = issue(SECRET, "11111111-1111-1111-1111-111111111111", "u1", SessionKind::Rfid).unwrap();
        let v = verify(SECRET, &t).unwrap();
        assert_eq!((v.session_id.as_str(), v.user_id.as_str(), v.kind), ("11111111-1111-1111-1111-111111111111", "u1", SessionKind::Rfid));
        assert!(verify("another-secret-another-secret-xx", &t).is_none());
        assert!(verify(SECRET, "not.a.token").is_none());
        assert!(verify(SECRET, &format!("{t}x")).is_none());
    }

    #[test]
    fn tokens_are_unique() {
        let a = issue(SECRET, "s", "u", SessionKind::Password).unwrap();
        let b = issue(SECRET, "s", "u", SessionKind::Password).unwrap();
        assert_ne!(a, b);
    }
}
