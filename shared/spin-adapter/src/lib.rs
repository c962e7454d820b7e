//! The only crate that knows about Spin. It adapts a spin-sdk request to
//! [`sentinel_http::serve`] and implements the web layer's ports with Spin's
//! host interfaces, so every component's entry point is one line.

mod postgres;
mod realtime;

use std::cell::OnceCell;

use sentinel_http::context::{Config, Platform};
use sentinel_http::input::MAX_BODY_BYTES;
use sentinel_http::{Request, Router};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};

pub use postgres::SpinPostgres;
pub use realtime::RedisStreams;

/// Serves one request with `router`. `component` names the component in logs.
///
/// The body is read here in chunks as it streams in and reading stops once it exceeds
/// [`MAX_BODY_BYTES`] (docs/api.md, "Request bodies"): memory stays bounded by the limit plus one
/// read whatever a client sends, and the web layer answers 413 `PAYLOAD_TOO_LARGE`.
pub async fn handle(component: &'static str, router: &Router, req: IncomingRequest, response_out: ResponseOutparam) {
    let request = read(req).await;
    respond(response_out, serve(component, router, request)).await;
}

/// The request as an `http::Request` (URI with authority when Spin gives one), its body read up to
/// just past [`MAX_BODY_BYTES`] (see [`handle`]).
pub async fn read(req: IncomingRequest) -> http::Request<Vec<u8>> {
    let method: http::Method = req.method().into();
    let uri = req.uri();
    let mut builder = http::Request::builder().method(method).uri(if uri.is_empty() { "/".to_string() } else { uri });
    for (name, value) in req.headers().entries() {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_bytes(&value)) {
            builder = builder.header(name, value);
        }
    }
    let body = read_bounded(req, MAX_BODY_BYTES).await;
    builder.body(body).unwrap_or_else(|_| http::Request::new(Vec::new()))
}

/// Serves an already read request with `router` (what [`handle`] does between reading and answering).
pub fn serve(component: &'static str, router: &Router, req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    let (parts, body) = req.into_parts();
    // Spin appends its own `spin-client-addr` after any the client sent (docs/spin.md), so the last one is the peer.
    let client_addr = parts.headers.get_all("spin-client-addr").iter().last().and_then(|v| v.to_str().ok()).map(str::to_string);
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        client_addr,
        client_ip: None,
    };
    let config = SpinVariables::default();
    let db = SpinPostgres::new(config.get_cached("database_url"));
    let events = RedisStreams::new(config.get_cached("redis_url"));
    let platform = Platform { component, db: &db, config: &config, events: &events, counters: &events };
    sentinel_http::serve(router, &platform, request)
}

/// The body, read until its end or until more than `limit` bytes arrived (then at most `limit` plus
/// one read; the rest is never read). A transport error ends the body where it stopped.
async fn read_bounded(req: IncomingRequest, limit: usize) -> Vec<u8> {
    use futures_util::StreamExt;
    let mut stream = std::pin::pin!(req.into_body_stream());
    let mut body = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            break;
        }
    }
    body
}

/// Sends `response` through Spin.
pub async fn respond(response_out: ResponseOutparam, response: http::Response<Vec<u8>>) {
    let mut response = spin_sdk::http::IntoResponse::into_response(response);
    let body = std::mem::take(response.body_mut());
    match spin_sdk::http::OutgoingResponse::try_from(response) {
        Ok(outgoing) => {
            if let Err(e) = response_out.set_with_body(outgoing, body).await {
                eprintln!("{}", serde_json::json!({ "level": "error", "op": "response", "error": e.to_string() }));
            }
        }
        Err(e) => eprintln!("{}", serde_json::json!({ "level": "error", "op": "response", "error": e.to_string() })),
    }
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
