//! Per-principal rate limits (api.md §0.6), fixed windows in Redis shared by
//! every instance. Health probes and docs (public routes outside `/api`)
//! are exempt; if Redis is unreachable requests are let through (logged):
//! an outage of the limiter must not stop the kiosks.

use http::StatusCode;
use serde_json::json;

use crate::access::{KeyKind, Principal};
use crate::auth::client_ip;
use crate::context::{Platform, Request};
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub limit: u64,
    pub window_secs: u64,
}

/// The spec's limits, as the `rate_limits` variable spells them.
pub const DEFAULT_LIMITS: &str = "user=300/60,kiosk=120/60,scan=60/60,key=60/60,anonymous=100/900";

/// `(limit, window_secs)` for `class` from a `class=limit/window,...` list,
/// falling back to the spec's value for anything missing or malformed.
fn configured(config: Option<&str>, class: &str) -> (u64, u64) {
    let parse = |spec: &str| -> Option<(u64, u64)> {
        spec.split(',').find_map(|part| {
            let (name, value) = part.trim().split_once('=')?;
            let (limit, window) = value.split_once('/')?;
            (name == class).then(|| Some((limit.trim().parse().ok()?, window.trim().parse().ok()?))).flatten()
        })
    };
    config.and_then(parse).or_else(|| parse(DEFAULT_LIMITS)).unwrap_or((100, 60))
}

/// The limit that applies to this caller on this path, if any. `config` is
/// the `rate_limits` variable (operators tune limits without a rebuild).
pub fn limit_for(principal: &Principal, path: &str, req: &Request, config: Option<&str>) -> Option<Limit> {
    let limit = |class: &str, key: String| {
        let (limit, window_secs) = configured(config, class);
        Some(Limit { key: format!("sentinel:rl:{class}:{key}"), limit, window_secs })
    };
    match principal {
        Principal::User(u) => limit("user", u.id.clone()),
        // Scans are limited per kiosk on top of the key's overall budget.
        Principal::ApiKey(k) if k.kind == KeyKind::Kiosk && path.trim_end_matches('/') == "/api/checkins/scan" => {
            limit("scan", k.kiosk_id.clone().unwrap_or_else(|| k.id.clone()))
        }
        Principal::ApiKey(k) if k.kind == KeyKind::Kiosk => limit("kiosk", k.id.clone()),
        Principal::ApiKey(k) => limit("key", k.id.clone()),
        Principal::Anonymous if path.starts_with("/api/") => limit("anonymous", client_ip(req).unwrap_or_default()),
        Principal::Anonymous => None,
    }
}

/// Counts the request; returns the `RateLimit-*` headers, or a 429.
pub fn check(platform: &Platform, limit: &Limit) -> Result<Vec<(&'static str, String)>, ApiError> {
    let (count, reset) = match platform.counters.hit(&limit.key, limit.window_secs) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}", json!({"level": "error", "component": platform.component, "op": "rate limit", "error": e}));
            return Ok(Vec::new());
        }
    };
    let headers = vec![
        ("ratelimit-limit", limit.limit.to_string()),
        ("ratelimit-remaining", limit.limit.saturating_sub(count).to_string()),
        ("ratelimit-reset", reset.to_string()),
    ];
    if count > limit.limit {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED", "Too many requests; slow down")
            .with_details(json!({ "retryAfter": reset }))
            .with_header("retry-after", reset.to_string());
        e.headers.extend(headers);
        return Err(e);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{KeyPrincipal, UserPrincipal};

    fn req() -> Request {
        Request { method: http::Method::GET, path: "/".into(), query: None, headers: Default::default(), body: vec![], client_addr: Some("10.1.2.3:9".into()) }
    }

    #[test]
    fn limits_per_principal_kind() {
        let user = Principal::User(UserPrincipal { id: "u1".into(), role: sentinel_domain::Role::Admin, session_id: "s".into(), session_kind: "password".into(), member_id: None });
        assert_eq!(limit_for(&user, "/api/divisions", &req(), None).unwrap(), Limit { key: "sentinel:rl:user:u1".into(), limit: 300, window_secs: 60 });
        assert_eq!(limit_for(&user, "/api/divisions", &req(), Some("user=5/10")).unwrap().limit, 5);
        assert_eq!(limit_for(&user, "/api/divisions", &req(), Some("user=x/10,kiosk=1/1")).unwrap().limit, 300);
        let kiosk = Principal::ApiKey(KeyPrincipal { id: "k1".into(), kind: KeyKind::Kiosk, kiosk_id: Some("front".into()), name: "n".into() });
        assert_eq!(limit_for(&kiosk, "/api/checkins/scan", &req(), None).unwrap().key, "sentinel:rl:scan:front");
        assert_eq!(limit_for(&kiosk, "/api/visitors", &req(), None).unwrap().limit, 120);
        let anon = Principal::Anonymous;
        assert_eq!(limit_for(&anon, "/api/auth/login", &req(), None).unwrap(), Limit { key: "sentinel:rl:anonymous:10.1.2.3".into(), limit: 100, window_secs: 900 });
        assert_eq!(limit_for(&anon, "/health", &req(), None), None);
    }
}
