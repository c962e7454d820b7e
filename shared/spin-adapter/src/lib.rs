//! The only crate that knows about Spin. It adapts a spin-sdk request to
//! [`sentinel_http::serve`] and implements the web layer's ports with Spin's
//! host interfaces, so every component's entry point is one line.

mod postgres;
mod realtime;

use std::cell::OnceCell;

use sentinel_http::context::{Config, Platform};
use sentinel_http::input::MAX_BODY_BYTES;
use sentinel_http::{Request, Router};
use spin_sdk::http::{IncomingRequest, IntoResponse, OutgoingResponse, ResponseOutparam};

pub use postgres::SpinPostgres;
pub use realtime::RedisStreams;

/// Serves one request with `router` (a component's whole entry point: see [`component!`]). The
/// body is read in chunks as it streams in and reading stops once it exceeds [`MAX_BODY_BYTES`]
/// (docs/api.md, "Request bodies"): memory stays bounded by the limit plus one read whatever a client
/// sends, and the web layer answers 413 `PAYLOAD_TOO_LARGE`. The response is sent first; then the
/// request is added to the shared request metrics, so that bookkeeping adds nothing to the caller's
/// latency (docs/architecture.md, "Metrics").
pub async fn serve(component: &'static str, router: &Router, req: IncomingRequest, response_out: ResponseOutparam) {
    serve_adjusted(component, router, req, response_out, None::<fn(&http::Request<()>, &mut http::Response<Vec<u8>>)>).await
}

/// [`serve`], with `adjust` applied to the response before it is sent; it sees the request's URI and
/// headers as received (the web component widens its Content-Security-Policy to the relay's address).
pub async fn serve_adjusted<F>(component: &'static str, router: &Router, req: IncomingRequest, response_out: ResponseOutparam, adjust: Option<F>)
where
    F: FnOnce(&http::Request<()>, &mut http::Response<Vec<u8>>),
{
    let (parts, body) = read(req).await.into_parts();
    // Only a component that adjusts its responses pays for a copy of the request head.
    let head = adjust.as_ref().map(|_| {
        let mut head = http::Request::new(());
        *head.uri_mut() = parts.uri.clone();
        *head.headers_mut() = parts.headers.clone();
        head
    });
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
    let platform = Platform { component, db: &db, config: &config, events: &events, counters: &events, metrics: &events };
    let (mut response, observation) = sentinel_http::serve_observed(router, &platform, request);
    if let (Some(adjust), Some(head)) = (adjust, head) {
        adjust(&head, &mut response);
    }
    send(response_out, IntoResponse::into_response(response)).await;
    platform.metrics.record(&observation);
}

/// The request as an `http::Request` (URI with authority when Spin gives one), its body read up to
/// just past [`MAX_BODY_BYTES`] (see [`serve`]).
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

/// Sends `response` and finishes its body.
async fn send(response_out: ResponseOutparam, mut response: spin_sdk::http::Response) {
    let body = std::mem::take(response.body_mut());
    match OutgoingResponse::try_from(response) {
        Ok(outgoing) => {
            if let Err(e) = response_out.set_with_body(outgoing, body).await {
                sentinel_http::log_line(&serde_json::json!({ "level": "error", "op": "send response", "error": e.to_string() }));
            }
        }
        Err(e) => sentinel_http::log_line(&serde_json::json!({ "level": "error", "op": "convert response", "error": e.to_string() })),
    }
}

/// A component's entry point: `sentinel_spin::component!("members", sentinel_api::members::router);`
#[macro_export]
macro_rules! component {
    ($name:literal, $router:path) => {
        #[spin_sdk::http_component]
        async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
            $crate::serve($name, &$router(), req, response_out).await
        }
    };
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
