//! Per-principal rate limits, fixed windows in Redis shared by
//! every instance. Health probes and docs (public routes outside `/api`)
//! are exempt; if Redis is unreachable requests are let through (logged):
//! an outage of the limiter must not stop the kiosks. (Sign-in lockout does
//! not depend on Redis alone: see the auth resource.)

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
/// `login_ip` is the sign-in lockout's budget of failed password sign-ins per client address (across
/// accounts; docs/api.md, "Sign-in lockout").
pub const DEFAULT_LIMITS: &str = "user=300/60,kiosk=120/60,scan=60/60,key=60/60,anonymous=100/900,login_ip=30/900";

/// `(limit, window_secs)` for `class` from a `class=limit/window,...` list,
/// falling back to the spec's value for anything missing or malformed.
pub fn configured(config: Option<&str>, class: &str) -> (u64, u64) {
    let parse = |spec: &str| -> Option<(u64, u64)> {
        spec.split(',').find_map(|part| {
            let (name, value) = part.trim().split_once('=')?;
            let (limit, window) = value.split_once('/')?;
            (name == class).then(|| Some((limit.trim().parse().ok()?, window.trim().parse().ok()?))).flatten()
        })
    };
    config.and_then(parse).or_else(|| parse(DEFAULT_LIMITS)).unwrap_or((100, 60))
}

/// The limits that apply to this caller on this path (none for health
/// probes and docs). `config` is the `rate_limits` variable (operators tune
/// limits without a rebuild). A request counts against every limit listed.
pub fn limits_for(principal: &Principal, path: &str, req: &Request, config: Option<&str>) -> Vec<Limit> {
    let limit = |class: &str, key: String| class_limit(config, class, &key);
    match principal {
        Principal::User(u) => vec![limit("user", u.id.clone())],
        // Scans are limited per kiosk on top of the key's overall budget.
        Principal::ApiKey(k) if k.kind == KeyKind::Kiosk && path.trim_end_matches('/') == "/api/checkins/scan" => vec![
            limit("scan", k.kiosk_id.clone().unwrap_or_else(|| k.id.clone())),
            limit("kiosk", k.id.clone()),
        ],
        Principal::ApiKey(k) if k.kind == KeyKind::Kiosk => vec![limit("kiosk", k.id.clone())],
        Principal::ApiKey(k) => vec![limit("key", k.id.clone())],
        Principal::Anonymous if path.starts_with("/api/") => vec![anonymous(req, config)],
        Principal::Anonymous => Vec::new(),
    }
}

/// The per-IP anonymous budget. Requests whose credentials fail
/// authentication count against it on any route, so invalid keys and
/// tokens cannot be sprayed without limit.
pub fn anonymous(req: &Request, config: Option<&str>) -> Limit {
    class_limit(config, "anonymous", &client_ip(req).unwrap_or_default())
}

/// The configured limit of `class`, counted under `key`.
fn class_limit(config: Option<&str>, class: &str, key: &str) -> Limit {
    let (limit, window_secs) = configured(config, class);
    Limit { key: format!("sentinel:rl:{class}:{key}"), limit, window_secs }
}

/// Counts the request against each limit; returns the `RateLimit-*` headers
/// of the tightest one, or a 429 once any is exhausted (`Retry-After` is the
/// latest reset among the exhausted ones).
pub fn check(platform: &Platform, limits: &[Limit]) -> Result<Vec<(&'static str, String)>, ApiError> {
    if limits.is_empty() {
        return Ok(Vec::new());
    }
    let hits: Vec<(&str, u64)> = limits.iter().map(|limit| (limit.key.as_str(), limit.window_secs)).collect();
    // (limit, count, reset) of each limit.
    let counted: Vec<(u64, u64, u64)> = match platform.counters.hit_all(&hits) {
        Ok(answers) => limits.iter().zip(answers).map(|(limit, (count, reset))| (limit.limit, count, reset)).collect(),
        // Redis down: requests go through rather than the API going down with it.
        Err(e) => {
            crate::serve::log_line(&json!({"level": "error", "component": platform.component, "op": "rate limit", "error": e}));
            Vec::new()
        }
    };
    let headers = |(limit, count, reset): (u64, u64, u64)| {
        vec![
            ("ratelimit-limit", limit.to_string()),
            ("ratelimit-remaining", limit.saturating_sub(count).to_string()),
            ("ratelimit-reset", reset.to_string()),
        ]
    };
    if let Some(exhausted) = counted.iter().copied().filter(|(limit, count, _)| count > limit).max_by_key(|(_, _, reset)| *reset) {
        let reset = exhausted.2;
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED", "Too many requests; slow down")
            .with_details(json!({ "retryAfter": reset }))
            .with_header("retry-after", reset.to_string());
        e.headers.extend(headers(exhausted));
        return Err(e);
    }
    Ok(counted.into_iter().min_by_key(|(limit, count, _)| limit.saturating_sub(*count)).map(headers).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{KeyPrincipal, UserPrincipal};

    fn req() -> Request {
        Request { method: http::Method::GET, path: "/".into(), query: None, headers: Default::default(), body: vec![], client_addr: Some("10.1.2.3:9".into()), client_ip: None }
    }

    #[test]
    fn limits_per_principal_kind() {
        let user = Principal::User(UserPrincipal {
            id: "u1".into(),
            role: sentinel_domain::Role::Admin,
            session_id: "s".into(),
            session_kind: "password".into(),
            member_id: None,
            session_renewed: false,
        });
        assert_eq!(limits_for(&user, "/api/divisions", &req(), None), [Limit { key: "sentinel:rl:user:u1".into(), limit: 300, window_secs: 60 }]);
        assert_eq!(limits_for(&user, "/api/divisions", &req(), Some("user=5/10"))[0].limit, 5);
        assert_eq!(limits_for(&user, "/api/divisions", &req(), Some("user=x/10,kiosk=1/1"))[0].limit, 300);
        let kiosk = Principal::ApiKey(KeyPrincipal { id: "k1".into(), kind: KeyKind::Kiosk, kiosk_id: Some("front".into()), name: "n".into() });
        let scan = limits_for(&kiosk, "/api/checkins/scan", &req(), None);
        let keys: Vec<_> = scan.iter().map(|l| (l.key.as_str(), l.limit)).collect();
        assert_eq!(keys, [("sentinel:rl:scan:front", 60), ("sentinel:rl:kiosk:k1", 120)], "scans also spend the key's overall budget");
        assert_eq!(limits_for(&kiosk, "/api/visitors", &req(), None), [Limit { key: "sentinel:rl:kiosk:k1".into(), limit: 120, window_secs: 60 }]);
        let anon = Principal::Anonymous;
        assert_eq!(limits_for(&anon, "/api/auth/login", &req(), None), [Limit { key: "sentinel:rl:anonymous:10.1.2.3".into(), limit: 100, window_secs: 900 }]);
        assert_eq!(limits_for(&anon, "/health", &req(), None), []);
        assert_eq!(anonymous(&req(), Some("anonymous=7/30")), Limit { key: "sentinel:rl:anonymous:10.1.2.3".into(), limit: 7, window_secs: 30 });
    }

    /// Counters in memory, for [`check`].
    #[derive(Default)]
    struct Counters(std::cell::RefCell<std::collections::HashMap<String, u64>>, bool);

    impl crate::RateCounter for Counters {
        fn hit(&self, key: &str, window_secs: u64) -> Result<(u64, u64), String> {
            if self.1 {
                return Err("down".into());
            }
            let mut map = self.0.borrow_mut();
            let n = map.entry(key.to_string()).or_default();
            *n += 1;
            Ok((*n, window_secs))
        }
        fn peek(&self, key: &str) -> Result<(u64, u64), String> {
            Ok((self.0.borrow().get(key).copied().unwrap_or(0), 1))
        }
        fn clear(&self, key: &str) {
            self.0.borrow_mut().remove(key);
        }
    }

    fn with_platform<T>(counters: &Counters, f: impl FnOnce(&Platform) -> T) -> T {
        struct Nothing;
        impl crate::Config for Nothing {
            fn var(&self, _: &str) -> Option<String> {
                None
            }
        }
        impl crate::EventBus for Nothing {
            fn ping(&self) -> Result<(), String> {
                Ok(())
            }
        }
        impl crate::Database for Nothing {
            fn query(&self, _: &str, _: &[crate::SqlParam]) -> Result<Vec<crate::Row>, crate::DbError> {
                Ok(Vec::new())
            }
            fn execute(&self, _: &str, _: &[crate::SqlParam]) -> Result<u64, crate::DbError> {
                Ok(0)
            }
        }
        impl crate::request_metrics::RequestMetrics for Nothing {
            fn record(&self, _: &crate::request_metrics::Observation) {}
            fn read(&self) -> Result<Vec<(String, u64)>, String> {
                Ok(Vec::new())
            }
        }
        f(&Platform { component: "test", db: &Nothing, config: &Nothing, events: &Nothing, counters, metrics: &Nothing })
    }

    #[test]
    fn every_limit_counts_and_the_tightest_answers() {
        let counters = Counters::default();
        let limits = [
            Limit { key: "scan".into(), limit: 3, window_secs: 60 },
            Limit { key: "kiosk".into(), limit: 2, window_secs: 30 },
        ];
        with_platform(&counters, |platform| {
            let headers = check(platform, &limits).unwrap();
            assert_eq!(headers, [("ratelimit-limit", "2".to_string()), ("ratelimit-remaining", "1".into()), ("ratelimit-reset", "30".into())]);
            assert!(check(platform, &limits).is_ok());
            let e = check(platform, &limits).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (429, "RATE_LIMIT_EXCEEDED"));
            assert!(e.headers.contains(&("retry-after", "30".into())));
            assert!(e.headers.contains(&("ratelimit-limit", "2".into())));
        });
        assert_eq!(counters.0.borrow()["scan"], 3, "every limit was counted");
        let down = Counters(Default::default(), true);
        with_platform(&down, |platform| assert_eq!(check(platform, &limits).unwrap(), []));
    }
}
