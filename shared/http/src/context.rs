//! The request context handed to every handler.

use std::cell::OnceCell;
use std::collections::HashMap;

use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use crate::access::Principal;
use crate::db::Database;
use crate::error::ApiError;
use crate::input;

/// A request as the web layer sees it (body already read).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Peer address as reported by the host (Spin's own `spin-client-addr`).
    pub client_addr: Option<String>,
    /// The client's address: the peer, or through trusted proxies `X-Forwarded-For`
    /// (resolved by [`crate::serve`] from the `trusted_proxies` variable; read it with
    /// [`crate::auth::client_ip`]).
    pub client_ip: Option<String>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Application configuration (Spin variables).
pub trait Config {
    fn var(&self, name: &str) -> Option<String>;
}

/// The realtime bus (Redis streams in production). Components never append to it: realtime events are
/// written to the database's outbox in the transaction of their change, and the relay appends them
/// (docs/architecture.md, "Realtime").
pub trait EventBus {
    /// Whether the bus is reachable (health checks).
    fn ping(&self) -> Result<(), String>;
}

/// Fixed-window counters shared by all instances (Redis), for rate limits
/// and login lockout.
pub trait RateCounter {
    /// Adds one hit to `key`'s window of `window_secs`; returns the count so
    /// far and the seconds until the window resets.
    fn hit(&self, key: &str, window_secs: u64) -> Result<(u64, u64), String>;
    /// [`hit`](Self::hit) for several counters at once; adapters answer it in one round trip
    /// (a kiosk scan spends both its scan and its key budget).
    fn hit_all(&self, hits: &[(&str, u64)]) -> Result<Vec<(u64, u64)>, String> {
        hits.iter().map(|(key, window_secs)| self.hit(key, *window_secs)).collect()
    }
    /// The current count and reset time without adding a hit.
    fn peek(&self, key: &str) -> Result<(u64, u64), String>;
    fn clear(&self, key: &str);
}

/// What the host provides to a component.
pub struct Platform<'a> {
    pub component: &'static str,
    pub db: &'a dyn Database,
    pub config: &'a dyn Config,
    pub events: &'a dyn EventBus,
    pub counters: &'a dyn RateCounter,
    /// Request counts and latencies shared by every instance (read by `/metrics`).
    pub metrics: &'a dyn crate::request_metrics::RequestMetrics,
}

/// One request's context: the platform ports, the request, matched path
/// parameters, the correlation id and the authenticated principal.
pub struct Ctx<'a> {
    pub platform: &'a Platform<'a>,
    pub req: &'a Request,
    pub route: &'static str,
    pub params: Vec<(&'static str, String)>,
    pub correlation_id: String,
    pub principal: Principal,
    query: OnceCell<HashMap<String, String>>,
}

impl<'a> Ctx<'a> {
    pub fn new(platform: &'a Platform<'a>, req: &'a Request, route: &'static str, params: Vec<(&'static str, String)>, correlation_id: String, principal: Principal) -> Self {
        Self { platform, req, route, params, correlation_id, principal, query: OnceCell::new() }
    }

    pub fn db(&self) -> &dyn Database {
        self.platform.db
    }

    pub fn config(&self, name: &str) -> Option<String> {
        self.platform.config.var(name)
    }

    /// The unit's operational day settings (`unit_timezone`, `day_rollover` variables; the component
    /// must declare both), bound into SQL as `operational_date(at, $zone::text, $rollover::text::interval)`.
    /// A malformed setting is a deployment error: 500, logged.
    pub fn operational_day(&self) -> Result<sentinel_domain::time::OperationalDay, ApiError> {
        sentinel_domain::time::OperationalDay::parse(self.config("unit_timezone").as_deref(), self.config("day_rollover").as_deref())
            .map_err(ApiError::internal)
    }

    /// A raw path parameter.
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    /// A path parameter that must be a well-formed UUID (400 otherwise).
    pub fn uuid_param(&self, name: &str) -> Result<String, ApiError> {
        sentinel_domain::uuid::parse_uuid(self.param(name)).ok_or_else(|| ApiError::invalid(name, "must be a valid UUID"))
    }

    /// Query-string parameters (last value wins).
    pub fn query(&self) -> &HashMap<String, String> {
        self.query.get_or_init(|| {
            form_urlencoded::parse(self.req.query.as_deref().unwrap_or_default().as_bytes()).into_owned().collect()
        })
    }

    /// The JSON body, deserialised and validated (400 envelope on failure).
    pub fn json<T: DeserializeOwned + garde::Validate<Context = ()>>(&self) -> Result<T, ApiError> {
        input::parse_json(&self.req.body)
    }
}
