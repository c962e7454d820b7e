//! Authentication and authorisation for every route: the presented
//! credential becomes a [`Principal`] (one database round trip), and the
//! route's declared [`Access`] decides 401 vs 403.

use sentinel_auth::credentials::{self, Presented};
use sentinel_auth::{principal_sql, secret_hash, session_token};
use sentinel_domain::Role;

use crate::access::{Access, KeyKind, KeyPrincipal, Principal, UserPrincipal};
use crate::context::{Platform, Request};
use crate::error::ApiError;

pub fn authenticate(platform: &Platform, req: &Request) -> Result<Principal, ApiError> {
    match credentials::from_headers(req.header("x-api-key"), req.header("authorization"), req.header("cookie")) {
        Presented::None => Ok(Principal::Anonymous),
        Presented::ApiKey(key) => {
            let row = platform.db.query_row(principal_sql::API_KEY_ROW, &[secret_hash(&key).into(), client_ip(req).into()])?;
            if row.text("key_id").is_none() {
                return Err(ApiError::unauthorized("Invalid, expired or revoked API key"));
            }
            let kind = row.text("kind").as_deref().and_then(KeyKind::parse).ok_or_else(|| ApiError::internal("api key with unknown kind"))?;
            Ok(Principal::ApiKey(KeyPrincipal {
                id: row.text("key_id").unwrap_or_default(),
                kind,
                kiosk_id: row.text("kiosk_id"),
                name: row.text("name").unwrap_or_default(),
            }))
        }
        Presented::SessionToken(token) => {
            let secret = jwt_secret(platform)?;
            let verified = session_token::verify(&secret, &token).ok_or_else(invalid_session)?;
            let row = platform
                .db
                .query_one(principal_sql::SESSION, &[verified.session_id.as_str().into(), secret_hash(&token).into()])?
                .ok_or_else(invalid_session)?;
            Ok(Principal::User(UserPrincipal {
                id: row.text("user_id").unwrap_or_default(),
                role: Role::parse_lenient(row.text("role").as_deref()),
                session_id: row.text("session_id").unwrap_or_default(),
                session_kind: row.text("kind").unwrap_or_default(),
                member_id: row.text("member_id"),
                session_renewed: row.bool("renewed"),
            }))
        }
    }
}

/// The `Set-Cookie` value carrying a session token: HttpOnly,
/// SameSite=Lax, Secure outside development. `max_age` 0 clears the cookie.
pub fn session_cookie(platform: &Platform, token: &str, max_age: i64) -> String {
    let secure = if platform.config.var("environment").as_deref() == Some("development") { "" } else { "; Secure" };
    format!("{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", credentials::SESSION_COOKIE)
}

/// The session token of the `sentinel_session` cookie when that cookie is
/// the credential the request authenticated with (no API key or bearer
/// token took precedence).
pub fn cookie_session_token(req: &Request) -> Option<String> {
    let presented = credentials::from_headers(req.header("x-api-key"), req.header("authorization"), req.header("cookie"));
    match (presented, credentials::from_headers(None, None, req.header("cookie"))) {
        (Presented::SessionToken(used), Presented::SessionToken(cookie)) if used == cookie => Some(cookie),
        _ => None,
    }
}

fn invalid_session() -> ApiError {
    ApiError::unauthorized("Invalid or expired session")
}

/// The signing secret. Outside development a short secret is a
/// misconfiguration: refuse to authenticate rather than accept weak tokens.
pub fn jwt_secret(platform: &Platform) -> Result<String, ApiError> {
    let secret = platform.config.var("jwt_secret").unwrap_or_default();
    let development = platform.config.var("environment").as_deref() == Some("development");
    if secret.is_empty() || (!development && secret.len() < session_token::MIN_SECRET_BYTES) {
        return Err(ApiError::internal(format!(
            "jwt_secret must be set and at least {} bytes outside development",
            session_token::MIN_SECRET_BYTES
        )));
    }
    Ok(secret)
}

/// For [`Access::Token`] routes: the bearer token must equal the variable's
/// value (compared in constant time); an unset variable disables the route.
pub fn check_token(platform: &Platform, req: &Request, variable: &str) -> Result<(), ApiError> {
    let expected = platform.config.var(variable).unwrap_or_default();
    let presented = req.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
    let equal = !expected.is_empty()
        && expected.len() == presented.len()
        && expected.bytes().zip(presented.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if equal { Ok(()) } else { Err(ApiError::unauthorized("A valid token is required")) }
}

/// 401 when nobody is signed in, 403 when the caller lacks the right.
pub fn authorize(access: Access, principal: &Principal) -> Result<(), ApiError> {
    if access.admits(principal) {
        return Ok(());
    }
    match principal {
        Principal::Anonymous => Err(ApiError::unauthorized("Authentication required")),
        other => Err(ApiError::forbidden("FORBIDDEN", format!("Access denied for {}", other.describe()))),
    }
}

/// The client's IP address without port: as resolved through the `trusted_proxies` setting
/// ([`crate::client_addr`]) once `serve` has run, else the peer's (`spin-client-addr` is `ip:port` or
/// `[v6]:port`).
pub fn client_ip(req: &Request) -> Option<String> {
    if let Some(ip) = &req.client_ip {
        return Some(ip.clone());
    }
    req.client_addr.as_deref().and_then(crate::client_addr::parse_hop).map(|ip| ip.to_string())
}

/// Resolves the client's address of `req` with the `trusted_proxies` setting (`spec`). A malformed
/// setting trusts no proxy and logs an error line.
pub fn resolve_client_ip(req: &Request, spec: Option<&str>) -> Option<String> {
    let peer = req.client_addr.as_deref().and_then(crate::client_addr::parse_hop)?;
    let trusted = crate::client_addr::TrustedProxies::parse(spec.unwrap_or_default()).unwrap_or_else(|e| {
        crate::serve::log_line(&serde_json::json!({ "level": "error", "op": "trusted_proxies", "error": e }));
        Default::default()
    });
    let forwarded = req.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    Some(trusted.client_ip(peer, forwarded).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(addr: &str) -> Request {
        Request { method: http::Method::GET, path: "/".into(), query: None, headers: Default::default(), body: vec![], client_addr: Some(addr.into()), client_ip: None }
    }

    #[test]
    fn only_a_cookie_credential_is_renewed_as_a_cookie() {
        let mut r = req("1.2.3.4:5");
        r.headers.insert("cookie", "a=1; sentinel_session=tok".parse().unwrap());
        assert_eq!(cookie_session_token(&r).as_deref(), Some("tok"));
        r.headers.insert("authorization", "Bearer other".parse().unwrap());
        assert_eq!(cookie_session_token(&r), None, "the bearer token took precedence");
        r.headers.remove("authorization");
        r.headers.insert("x-api-key", "sk_x".parse().unwrap());
        assert_eq!(cookie_session_token(&r), None);
    }

    #[test]
    fn client_ip_strips_ports() {
        assert_eq!(client_ip(&req("127.0.0.1:5000")).as_deref(), Some("127.0.0.1"));
        assert_eq!(client_ip(&req("[::1]:5000")).as_deref(), Some("::1"));
    }

    #[test]
    fn anonymous_gets_401_others_403() {
        assert_eq!(authorize(Access::ADM, &Principal::Anonymous).unwrap_err().status, 401);
        let qm = Principal::User(UserPrincipal {
            id: "u".into(),
            role: Role::Quartermaster,
            session_id: "s".into(),
            session_kind: "password".into(),
            member_id: None,
            session_renewed: false,
        });
        let e = authorize(Access::ADM, &qm).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (403, "FORBIDDEN"));
        assert!(authorize(Access::QM, &qm).is_ok());
    }
}
