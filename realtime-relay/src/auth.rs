//! Connection authentication with the credentials and the
//! principal SQL of `sentinel_auth`, exactly as the HTTP components use them.

use sentinel_auth::credentials::{self, Presented};
use sentinel_auth::{principal_sql, secret_hash, session_token};
use sentinel_domain::role::Role;
use sentinel_http::db::SqlParam;

use crate::pg::{params, refs, Pg};

/// The same key kinds the HTTP layer knows.
pub use sentinel_http::access::KeyKind;

#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub user_id: String,
    pub session_id: String,
    pub role: Role,
    /// Hash of the presented token, to re-run the session check later.
    pub token_hash: String,
}

#[derive(Debug, Clone)]
pub struct KeyPrincipal {
    pub key_id: String,
    pub kind: KeyKind,
    pub kiosk_id: Option<String>,
    pub key_hash: String,
}

#[derive(Debug, Clone)]
pub enum Principal {
    User(UserPrincipal),
    Key(KeyPrincipal),
}

impl Principal {
    /// Metrics label.
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::User(_) => "user",
            Principal::Key(k) => k.kind.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Invalid,
    Failed,
}

impl AuthError {
    /// The refusal message of a failed WebSocket authentication (README, "Realtime").
    pub fn message(self) -> &'static str {
        match self {
            AuthError::Missing => "Authentication required",
            AuthError::Invalid => "Invalid authentication token",
            AuthError::Failed => "Authentication failed",
        }
    }
}

/// The credential of an upgrade request: the HTTP API's headers (`X-API-Key`,
/// `Authorization: Bearer`, the session cookie), else `?token=` / `?apiKey=`
/// (browsers cannot set headers on a WebSocket).
pub fn presented(headers: &http::HeaderMap, query: Option<&str>) -> Presented {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let cookie = headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join("; ");
    let found = credentials::from_headers(header("x-api-key"), header("authorization"), (!cookie.is_empty()).then_some(cookie.as_str()));
    if found != Presented::None {
        return found;
    }
    for (name, value) in form_pairs(query.unwrap_or_default()) {
        if (name == "token" || name == "apiKey") && !value.trim().is_empty() {
            return credentials::classify(value.trim());
        }
    }
    Presented::None
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((percent_decode(k), percent_decode(v)))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves a credential into a principal with `principal_sql::{SESSION, API_KEY}`.
pub async fn authenticate(pg: &Pg, jwt_secret: &str, presented: Presented, ip: Option<String>) -> Result<Principal, AuthError> {
    match presented {
        Presented::None => Err(AuthError::Missing),
        Presented::SessionToken(token) => {
            let verified = session_token::verify(jwt_secret, &token).ok_or(AuthError::Invalid)?;
            let token_hash = secret_hash(&token);
            let client = pg.client().await.map_err(|_| AuthError::Failed)?;
            let args = [SqlParam::Text(verified.session_id.clone()), SqlParam::Text(token_hash.clone())];
            let rows = client.query(principal_sql::SESSION, &refs(&params(&args))).await.map_err(|e| log_failure(&e))?;
            let row = rows.first().ok_or(AuthError::Invalid)?;
            let user_id: String = row.try_get("user_id").map_err(|e| log_failure(&e))?;
            if user_id != verified.user_id {
                return Err(AuthError::Invalid);
            }
            let role: Option<String> = row.try_get("role").map_err(|e| log_failure(&e))?;
            Ok(Principal::User(UserPrincipal {
                user_id,
                session_id: verified.session_id,
                role: Role::parse_lenient(role.as_deref()),
                token_hash,
            }))
        }
        Presented::ApiKey(key) => {
            let key_hash = secret_hash(&key);
            let client = pg.client().await.map_err(|_| AuthError::Failed)?;
            let args = [SqlParam::Text(key_hash.clone()), ip.map(SqlParam::Text).unwrap_or(SqlParam::Null)];
            let rows = client.query(principal_sql::API_KEY, &refs(&params(&args))).await.map_err(|e| log_failure(&e))?;
            let row = rows.first().ok_or(AuthError::Invalid)?;
            let kind: String = row.try_get("kind").map_err(|e| log_failure(&e))?;
            Ok(Principal::Key(KeyPrincipal {
                key_id: row.try_get("key_id").map_err(|e| log_failure(&e))?,
                kind: KeyKind::parse(&kind).ok_or(AuthError::Invalid)?,
                kiosk_id: row.try_get("kiosk_id").map_err(|e| log_failure(&e))?,
                key_hash,
            }))
        }
    }
}

fn log_failure(e: &tokio_postgres::Error) -> AuthError {
    let detail = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
    crate::log("error", "authentication query failed", serde_json::json!({ "error": detail }));
    AuthError::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_credentials_and_header_precedence() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(presented(&headers, None), Presented::None);
        assert_eq!(presented(&headers, Some("token=abc%2Edef")), Presented::SessionToken("abc.def".into()));
        assert_eq!(presented(&headers, Some("x=1&apiKey=sk_1")), Presented::ApiKey("sk_1".into()));
        headers.insert("cookie", "sentinel_session=tok".parse().unwrap());
        assert_eq!(presented(&headers, Some("token=other")), Presented::SessionToken("tok".into()));
        headers.insert("x-api-key", "sk_k".parse().unwrap());
        assert_eq!(presented(&headers, None), Presented::ApiKey("sk_k".into()));
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}

/// Outcome of a periodic or triggered re-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid,
    /// `session:expired` reason: `expired`, `revoked` or `disabled`.
    Ended(&'static str),
}

/// Re-runs the principal's SQL inside a rolled-back transaction: an open socket
/// neither slides a session's expiry nor counts as activity against the idle
/// limit of RFID sessions. `Err` for infrastructure failures (the socket stays).
pub async fn revalidate(pg: &Pg, principal: &Principal) -> anyhow::Result<Validity> {
    let mut client = pg.client().await?;
    let tx = client.transaction().await?;
    let validity = match principal {
        Principal::User(user) => {
            let args = [SqlParam::Text(user.session_id.clone()), SqlParam::Text(user.token_hash.clone())];
            let valid = !tx.query(principal_sql::SESSION, &refs(&params(&args))).await?.is_empty();
            if valid {
                Validity::Valid
            } else {
                let args = [SqlParam::Text(user.session_id.clone())];
                let row = tx
                    .query_opt(
                        "SELECT s.revoked_at IS NOT NULL AS revoked, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1::uuid",
                        &refs(&params(&args)),
                    )
                    .await?;
                Validity::Ended(match row {
                    None => "revoked",
                    Some(row) if row.get::<_, bool>("disabled") => "disabled",
                    Some(row) if row.get::<_, bool>("revoked") => "revoked",
                    Some(_) => "expired",
                })
            }
        }
        Principal::Key(key) => {
            let args = [SqlParam::Text(key.key_hash.clone()), SqlParam::Null];
            let valid = !tx.query(principal_sql::API_KEY, &refs(&params(&args))).await?.is_empty();
            if valid {
                Validity::Valid
            } else {
                let args = [SqlParam::Text(key.key_id.clone())];
                let revoked = tx
                    .query_opt("SELECT revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = $1::uuid", &refs(&params(&args)))
                    .await?
                    .map_or(true, |row| row.get::<_, bool>("revoked"));
                Validity::Ended(if revoked { "revoked" } else { "expired" })
            }
        }
    };
    tx.rollback().await?;
    Ok(validity)
}
