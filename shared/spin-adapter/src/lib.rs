//! The only crate that knows about Spin. It adapts a spin-sdk request to
//! [`sentinel_http::serve`] and implements the web layer's ports with Spin's
//! host interfaces, so every component's entry point is one line.

mod postgres;
mod realtime;

use std::cell::OnceCell;

use sentinel_http::context::{Config, Platform};
use sentinel_http::{Request, Router};

pub use postgres::SpinPostgres;
pub use realtime::RedisStreams;

/// Serves one request with `router`. `component` names the component in logs.
pub fn handle(component: &'static str, router: &Router, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    let (parts, body) = req.into_parts();
    let client_addr = parts.headers.get("spin-client-addr").and_then(|v| v.to_str().ok()).map(str::to_string);
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        client_addr,
    };
    let config = SpinVariables::default();
    let db = SpinPostgres::new(config.get_cached("database_url"));
    let events = RedisStreams::new(config.get_cached("redis_url"));
    let platform = Platform { component, db: &db, config: &config, events: &events, counters: &events };
    sentinel_http::serve(router, &platform, request)
}

/// Spin variables, read on demand (each `get` is a host call; values are
/// cached for the request since Spin re-evaluates templates on every get).
#[derive(Default)]
pub struct SpinVariables {
    cache: std::cell::RefCell<std::collections::HashMap<String, Option<String>>>,
}

impl SpinVariables {
    fn get_cached(&self, name: &str) -> LazyVar<'_> {
        LazyVar { vars: self, name: name.to_string(), value: OnceCell::new() }
    }
}

impl Config for SpinVariables {
    fn var(&self, name: &str) -> Option<String> {
        if let Some(v) = self.cache.borrow().get(name) {
            return v.clone();
        }
        // Undefined or unresolvable variables read as absent; callers decide.
        let value = spin_sdk::variables::get(name).ok();
        self.cache.borrow_mut().insert(name.to_string(), value.clone());
        value
    }
}

/// A variable resolved on first use (so `/live` never touches config it does not need).
pub struct LazyVar<'a> {
    vars: &'a SpinVariables,
    name: String,
    value: OnceCell<Option<String>>,
}

impl LazyVar<'_> {
    pub fn get(&self) -> Option<&str> {
        self.value.get_or_init(|| self.vars.var(&self.name)).as_deref()
    }
}
