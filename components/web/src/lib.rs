//! The `web` component: the live presence board (`/board`), plain HTML/CSS/JS embedded in the
//! component, no build step and nothing fetched at run time. The page reads its data from the API
//! (same origin) and the realtime relay's WebSocket, whose address comes from `/board/config.json`
//! (the `relay_public_url` variable). These routes are not API operations: the OpenAPI document
//! covers `/api` only (docs/architecture.md, "The web component").

use http::{header, HeaderValue, Method, StatusCode};
use sentinel_http::{Access, ApiError, Config, Ctx, HandlerResult, Reply, Router};
use serde_json::json;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const BOARD_JS: &str = include_str!("../assets/board.js");
const BOARD_CSS: &str = include_str!("../assets/board.css");
const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// The relay address when `relay_public_url` is unset or empty: `/ws` on the page's own origin (in
/// production an ingress routes it to the relay).
const DEFAULT_RELAY_URL: &str = "/ws";

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    // The body is read with the API's bound (docs/api.md, "Request bodies").
    let req = sentinel_spin::read(req).await;
    let response = respond(req);
    sentinel_spin::respond(response_out, response).await
}

fn respond(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    let host = page_host(&req);
    let setting = sentinel_spin::SpinVariables::default().var("relay_public_url");
    let mut response = sentinel_spin::serve("web", &router(), req);
    // The API's policy lets pages connect to their own origin only; the board also talks to the relay.
    if let Some(relay) = Relay::parse(setting.as_deref()) {
        let headers = response.headers_mut();
        let policy = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("default-src 'self'").to_string();
        if let Ok(value) = HeaderValue::try_from(with_connect_sources(&policy, &relay.csp_sources(host.as_deref()))) {
            headers.insert("content-security-policy", value);
        }
    }
    response
}

/// The `host[:port]` the browser asked for: Spin passes it as the request's authority (wasi-http
/// has no Host header) and in `spin-full-url`.
fn page_host(req: &http::Request<Vec<u8>>) -> Option<String> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    header(header::HOST.as_str())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .or_else(|| {
            let full = header("spin-full-url")?;
            let rest = full.split_once("://")?.1;
            Some(rest.split(['/', '?', '#']).next()?.to_string())
        })
        .filter(|h| !h.is_empty())
}

fn router() -> Router {
    Router::new("web")
        .route(Method::GET, "/board", Access::Public, index)
        .route(Method::GET, "/board/board.js", Access::Public, script)
        .route(Method::GET, "/board/board.css", Access::Public, style)
        .route(Method::GET, "/board/favicon.svg", Access::Public, favicon)
        .route(Method::GET, "/board/config.json", Access::Public, config)
}

fn index(_: &Ctx) -> HandlerResult {
    Ok(Reply::Text(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML.to_string()))
}

fn script(_: &Ctx) -> HandlerResult {
    Ok(Reply::Text(StatusCode::OK, "text/javascript; charset=utf-8", BOARD_JS.to_string()))
}

fn style(_: &Ctx) -> HandlerResult {
    Ok(Reply::Text(StatusCode::OK, "text/css; charset=utf-8", BOARD_CSS.to_string()))
}

fn favicon(_: &Ctx) -> HandlerResult {
    Ok(Reply::Text(StatusCode::OK, "image/svg+xml", FAVICON_SVG.to_string()))
}

/// `{ relayUrl }`: where the page opens its WebSocket — a path on the page's origin (`/ws`), a port
/// on the page's host name (`:3001/ws`, what `sentinel up` sets), or an absolute `ws(s)://` URL.
fn config(ctx: &Ctx) -> HandlerResult {
    let setting = ctx.config("relay_public_url");
    let relay = Relay::parse(setting.as_deref())
        .ok_or_else(|| ApiError::internal(format!("relay_public_url {setting:?} is not a path, :port/path or ws(s):// URL")))?;
    Ok(Reply::Json(StatusCode::OK, json!({ "relayUrl": relay.0 })))
}

/// A validated `relay_public_url`.
struct Relay(String);

impl Relay {
    fn parse(setting: Option<&str>) -> Option<Relay> {
        let value = setting.map(str::trim).filter(|v| !v.is_empty()).unwrap_or(DEFAULT_RELAY_URL);
        let safe = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | ';' | ',' | '\\' | '<' | '>'));
        let valid = if let Some(path) = value.strip_prefix('/') {
            !path.starts_with('/') && (path.is_empty() || safe(path))
        } else if let Some(rest) = value.strip_prefix(':') {
            let (port, path) = rest.split_once('/').unwrap_or((rest, ""));
            port.parse::<u16>().is_ok_and(|p| p > 0) && (path.is_empty() || safe(path))
        } else if let Some(rest) = value.strip_prefix("ws://").or_else(|| value.strip_prefix("wss://")) {
            let authority = rest.split('/').next().unwrap_or_default();
            safe(rest) && !authority.is_empty() && !authority.contains('@')
        } else {
            false
        };
        valid.then(|| Relay(value.to_string()))
    }

    /// CSP sources the page needs to reach the relay (none beyond 'self' for a same-origin path).
    fn csp_sources(&self, host: Option<&str>) -> Vec<String> {
        let value = self.0.as_str();
        if let Some(rest) = value.strip_prefix(':') {
            let port = rest.split('/').next().unwrap_or_default();
            // The page's host name (Host without its port; IPv6 literals keep their brackets).
            let Some(host) = host.filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))) else {
                return Vec::new();
            };
            let name = match host.rfind(':') {
                Some(i) if !host[i..].contains(']') => &host[..i],
                _ => host,
            };
            return vec![format!("ws://{name}:{port}"), format!("wss://{name}:{port}")];
        }
        match value.strip_prefix("ws://").map(|r| ("ws://", r)).or_else(|| value.strip_prefix("wss://").map(|r| ("wss://", r))) {
            Some((scheme, rest)) => vec![format!("{scheme}{}", rest.split('/').next().unwrap_or_default())],
            None => Vec::new(),
        }
    }
}

/// `policy` with `sources` added to its `connect-src` (created from 'self' when absent).
fn with_connect_sources(policy: &str, sources: &[String]) -> String {
    if sources.is_empty() {
        return policy.to_string();
    }
    let extra = sources.join(" ");
    let mut found = false;
    let mut directives: Vec<String> = policy
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            if d.split_whitespace().next() == Some("connect-src") {
                found = true;
                format!("{d} {extra}")
            } else {
                d.to_string()
            }
        })
        .collect();
    if !found {
        directives.push(format!("connect-src 'self' {extra}"));
    }
    directives.join("; ")
}
