//! The HTTP side: `GET /ws` upgrades (origin check, per-IP and per-key limits,
//! authentication before the 101), `GET /health`, and the metrics listener.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::auth::{self, Principal};
use crate::Shared;

type Body = Full<Bytes>;

fn json_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(json!({ "error": code, "message": message }).to_string())))
        .expect("static response")
}

/// Sliding one-minute windows of new connections per client IP.
#[derive(Default)]
pub(crate) struct IpWindows(std::sync::Mutex<HashMap<IpAddr, VecDeque<Instant>>>);

impl IpWindows {
    fn admit(&self, ip: IpAddr, per_minute: usize) -> bool {
        let now = Instant::now();
        let mut windows = self.0.lock().unwrap();
        if windows.len() > 10_000 {
            windows.retain(|_, w| w.back().is_some_and(|t| now.duration_since(*t) < Duration::from_secs(60)));
        }
        let window = windows.entry(ip).or_default();
        while window.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            window.pop_front();
        }
        if window.len() >= per_minute {
            return false;
        }
        window.push_back(now);
        true
    }
}

/// Open connections per API key, released when the connection ends.
#[derive(Default)]
pub(crate) struct KeySlots(std::sync::Mutex<HashMap<String, usize>>);

pub(crate) struct KeySlot {
    shared: Arc<Shared>,
    key_id: String,
}

impl KeySlots {
    fn acquire(shared: &Arc<Shared>, key_id: &str, max: usize) -> Option<KeySlot> {
        let mut slots = shared.key_slots.0.lock().unwrap();
        let used = slots.entry(key_id.to_string()).or_default();
        if *used >= max {
            return None;
        }
        *used += 1;
        Some(KeySlot { shared: shared.clone(), key_id: key_id.to_string() })
    }
}

impl Drop for KeySlot {
    fn drop(&mut self) {
        let mut slots = self.shared.key_slots.0.lock().unwrap();
        if let Some(used) = slots.get_mut(&self.key_id) {
            *used -= 1;
            if *used == 0 {
                slots.remove(&self.key_id);
            }
        }
    }
}

/// Accepts connections until `stop` turns true.
pub(crate) async fn serve_ws(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // EMFILE and friends: back off instead of spinning.
                    crate::log("warn", "accept failed", json!({ "error": err.to_string() }));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(request, peer, shared).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn handle(mut request: Request<Incoming>, peer: SocketAddr, shared: Arc<Shared>) -> Response<Body> {
    match request.uri().path() {
        "/health" => {
            let status = if *shared.drain.borrow() { "draining" } else { "ok" };
            return Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(json!({ "status": status, "connections": shared.open_connections() }).to_string())))
                .expect("static response");
        }
        "/ws" => {}
        _ => return json_response(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("Cannot {} {}", request.method(), request.uri().path())),
    }
    let limits = &shared.config.limits;
    if *shared.drain.borrow() {
        shared.metrics.refuse("draining");
        return json_response(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Server is shutting down");
    }
    let headers = request.headers();
    let is_upgrade = request.method() == http::Method::GET
        && headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).filter(|_| is_upgrade).cloned() else {
        return Response::builder()
            .status(StatusCode::UPGRADE_REQUIRED)
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(json!({ "error": "UPGRADE_REQUIRED", "message": "WebSocket upgrade required" }).to_string())))
            .expect("static response");
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if !shared.config.cors_origins.iter().any(|allowed| allowed == origin || allowed == "*") {
            shared.metrics.refuse("origin");
            return json_response(StatusCode::FORBIDDEN, "FORBIDDEN", "Origin not allowed");
        }
    }
    // The client behind trusted proxies (docs/api.md, "Client addresses"): the per-IP limit is per client.
    let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let client = shared.config.trusted_proxies.client_ip(peer.ip(), forwarded);
    if !shared.ip_windows.admit(client, limits.connections_per_ip_per_minute) {
        shared.metrics.refuse("ip_rate");
        return json_response(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED", "Too many WebSocket connections from this IP");
    }
    let presented = auth::presented(headers, request.uri().query());
    let ip = client.to_string();
    let principal = match auth::authenticate(&shared.pg, &shared.config.jwt_secret, presented, Some(ip.clone())).await {
        Ok(principal) => principal,
        Err(err) => {
            shared.metrics.refuse(match err {
                auth::AuthError::Missing => "no_credential",
                auth::AuthError::Invalid => "invalid_credential",
                auth::AuthError::Failed => "auth_failure",
            });
            // The credential could not be checked (PostgreSQL away): a retryable 503, as the API answers.
            if err == auth::AuthError::Failed {
                return json_response(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "Authentication is unavailable; retry shortly");
            }
            return json_response(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", err.message());
        }
    };
    let slot = match &principal {
        Principal::Key(key) => match KeySlots::acquire(&shared, &key.key_id, limits.connections_per_key) {
            Some(slot) => Some(slot),
            None => {
                shared.metrics.refuse("key_connections");
                return json_response(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED", "Too many concurrent connections for this API key");
            }
        },
        Principal::User(_) => None,
    };
    // Subscribe to the fan-out before answering, so nothing read after the 101 is missed.
    let events = shared.events.subscribe();
    let upgrade = hyper::upgrade::on(&mut request);
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_message_bytes))
        .max_frame_size(Some(limits.max_message_bytes))
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let guard = shared.connection_opened(&principal);
    tokio::spawn(async move {
        let _slot = slot;
        let _guard = guard;
        match upgrade.await {
            Ok(upgraded) => {
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                let shared = _guard.shared();
                crate::conn::run(ws, shared, principal, Some(ip), events).await;
            }
            Err(err) => crate::log("warn", "upgrade failed", json!({ "error": err.to_string() })),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
        .body(Full::new(Bytes::new()))
        .expect("static response")
}

/// `GET /metrics` in Prometheus text on its own listener.
pub(crate) async fn serve_metrics(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            _ = stop.changed() => return,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let shared = shared.clone();
                async move {
                    let response = if request.uri().path() == "/metrics" {
                        Response::builder()
                            .header(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")
                            .body(Full::new(Bytes::from(shared.metrics.encode())))
                            .expect("static response")
                    } else {
                        json_response(StatusCode::NOT_FOUND, "NOT_FOUND", "Cannot GET this path (try /metrics)")
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
