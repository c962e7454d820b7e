//! Realtime relay helpers: relays started against the test services (or a private
//! Redis), principals inserted with sentinel-auth, a small WebSocket client and a
//! publisher that appends exactly like the relay's outbox publisher (`realtime-relay/src/outbox.rs`).

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sentinel_ops::services::{free_port, Durability, RedisOptions, RedisServer};
use sentinel_relay::{RelayConfig, RunningRelay};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{services, sql, TEST_JWT_SECRET};

/// Relay settings for tests: ephemeral ports, the app's jwt secret, generous per-IP limit.
pub fn relay_config(redis_url: &str) -> RelayConfig {
    let mut config = RelayConfig::new(services().database_url.clone(), redis_url, TEST_JWT_SECRET);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.metrics_listen = "127.0.0.1:0".parse().unwrap();
    config.limits.connections_per_ip_per_minute = 100_000;
    // Scheduled jobs act on the shared database at the real clock; tests run them at chosen instants.
    config.limits.jobs_interval = None;
    // The shared database's outbox belongs to the shared Redis: a relay on a private Redis must not
    // drain it there (other tests would miss their events).
    if redis_url != services().redis_url {
        config.limits.outbox_interval = None;
    }
    config
}

/// A relay on the shared services (started on the caller's runtime).
pub async fn start_relay(tweak: impl FnOnce(&mut RelayConfig)) -> RunningRelay {
    let mut config = relay_config(&services().redis_url);
    tweak(&mut config);
    sentinel_relay::start(config).await.expect("starting the relay")
}

pub fn ws_url(relay: &RunningRelay) -> String {
    format!("ws://{}/ws", relay.addr())
}

fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}{}{n}", t % 10_000_000_000)
}

/// A unique label for test data.
pub fn unique_label(prefix: &str) -> String {
    unique(prefix)
}

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub session_id: String,
    pub token: String,
}

/// A new user of `role` with a stored password session, as the login endpoint would create it.
pub fn session(role: &str) -> Session {
    let email = format!("{}@relay.test", unique(&role.replace('_', "")));
    let rows = sql(&format!(
        "INSERT INTO users (email, display_name, password_hash, role) VALUES ('{email}', 'Relay {role}', 'unused', '{role}') RETURNING id::text AS id"
    ));
    let user_id = rows[0]["id"].as_str().unwrap().to_string();
    let session_id = sql("SELECT gen_random_uuid()::text AS id")[0]["id"].as_str().unwrap().to_string();
    let token = sentinel_auth::session_token::issue(TEST_JWT_SECRET, &session_id, &user_id, sentinel_auth::session_token::SessionKind::Password).unwrap();
    crate::sql_exec(&format!(
        "INSERT INTO sessions (id, user_id, token_hash, kind, expires_at) VALUES ('{session_id}', '{user_id}', '{}', 'password', now() + interval '7 days')",
        sentinel_auth::secret_hash(&token)
    ));
    Session { user_id, session_id, token }
}

#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub key: String,
    pub kiosk_id: Option<String>,
}

/// A new API key of `kind` (kiosk keys get a unique kiosk id).
pub fn api_key(kind: &str) -> Key {
    let generated = sentinel_auth::api_key::generate();
    let kiosk_id = (kind == "kiosk").then(|| unique("relay-kiosk-"));
    let kiosk_sql = kiosk_id.as_ref().map(|k| format!("'{k}'")).unwrap_or_else(|| "NULL".into());
    let rows = sql(&format!(
        "INSERT INTO api_keys (name, kind, kiosk_id, key_hash, key_prefix) VALUES ('relay test {kind}', '{kind}', {kiosk_sql}, '{}', '{}') RETURNING id::text AS id",
        generated.key_hash, generated.key_prefix
    ));
    Key { id: rows[0]["id"].as_str().unwrap().to_string(), key: generated.key, kiosk_id }
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection attempt was refused: HTTP status and the JSON body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

/// Opens `url` with extra headers; `Err` carries the HTTP refusal.
pub async fn try_connect(url: &str, headers: &[(&str, &str)]) -> Result<Client, Refused> {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(http_name(name), value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(Client { socket }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response.body().as_ref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
            Err(Refused { status, body })
        }
        Err(other) => Err(Refused { status: 0, body: json!({ "transport": other.to_string() }) }),
    }
}

fn http_name(name: &str) -> tokio_tungstenite::tungstenite::http::HeaderName {
    tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap()
}

/// Connects with `Authorization: Bearer <token>` (session token or `sk_` key); panics if refused.
pub async fn connect(url: &str, token: &str) -> Client {
    try_connect(url, &[("authorization", &format!("Bearer {token}"))]).await.unwrap_or_else(|r| panic!("connect refused: {r:?}"))
}

/// A test WebSocket client.
pub struct Client {
    pub socket: Socket,
}

/// What the next frame was.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Closed(Option<(CloseCode, String)>),
}

impl Client {
    pub async fn send(&mut self, message: Value) {
        self.socket.send(Message::Text(message.to_string().into())).await.expect("sending");
    }

    pub async fn send_raw(&mut self, message: Message) -> bool {
        self.socket.send(message).await.is_ok()
    }

    /// The next JSON frame or the close, within `timeout` (None on timeout).
    pub async fn next_frame(&mut self, timeout: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next()).await.ok()?;
            match next {
                None | Some(Err(_)) => return Some(Frame::Closed(None)),
                Some(Ok(Message::Text(text))) => return Some(Frame::Json(serde_json::from_str(text.as_str()).expect("server sends JSON"))),
                Some(Ok(Message::Close(frame))) => return Some(Frame::Closed(frame.map(|f| (f.code, f.reason.to_string())))),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next JSON frame; panics on close or after 10 s.
    pub async fn next_json(&mut self) -> Value {
        match self.next_frame(Duration::from_secs(10)).await {
            Some(Frame::Json(v)) => v,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// Skips frames until one satisfies `want`; panics after `timeout`.
    pub async fn until(&mut self, timeout: Duration, mut want: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_frame(left).await {
                Some(Frame::Json(v)) if want(&v) => return v,
                Some(Frame::Json(_)) => continue,
                other => panic!("wanted frame not received: {other:?}"),
            }
        }
    }

    /// Subscribes and waits for the acknowledgement.
    pub async fn subscribe(&mut self, channel: &str, since: Option<&str>) {
        let mut message = json!({ "type": "subscribe", "channel": channel });
        if let Some(since) = since {
            message["since"] = json!(since);
        }
        self.send(message).await;
        self.until(Duration::from_secs(10), |v| v["type"] == "subscribed" && v["channel"] == channel).await;
    }

    /// Collects frames until `timeout` passes with nothing new.
    pub async fn drain_quiet(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(Frame::Json(v)) = self.next_frame(quiet).await {
            out.push(v);
        }
        out
    }

    /// Waits for the close frame (skipping other frames).
    pub async fn closed(&mut self, timeout: Duration) -> Option<(CloseCode, String)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_frame(left).await {
                Some(Frame::Closed(frame)) => return frame,
                Some(Frame::Json(_)) => continue,
                None => panic!("socket still open after {timeout:?}"),
            }
        }
    }
}

/// Appends an event exactly like the components (`XADD sentinel:rt:<channel> MAXLEN ~ 10000 * event … ts … data …`).
/// Returns the entry id.
pub async fn publish(redis_url: &str, channel: &str, event: &str, data: &Value) -> String {
    let client = redis::Client::open(redis_url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    redis::cmd("XADD")
        .arg(format!("sentinel:rt:{channel}"))
        .arg("MAXLEN")
        .arg("~")
        .arg(10_000)
        .arg("*")
        .arg("event")
        .arg(event)
        .arg("ts")
        .arg(sentinel_relay::now_iso())
        .arg("data")
        .arg(data.to_string())
        .query_async(&mut conn)
        .await
        .expect("XADD")
}

/// A private, throwaway Redis (for tests that need exact stream contents or restart it).
pub struct PrivateRedis {
    pub server: RedisServer,
    dir: PathBuf,
}

impl PrivateRedis {
    pub fn start() -> PrivateRedis {
        let dir = std::env::temp_dir().join(unique("sentinel-relay-redis-"));
        std::fs::create_dir_all(&dir).unwrap();
        let server = RedisServer::start(RedisOptions { dir: dir.clone(), port: free_port().unwrap(), durability: Durability::Throwaway })
            .expect("starting a private redis-server");
        PrivateRedis { server, dir }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.server.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Prometheus text of a relay.
pub async fn metrics_text(relay: &RunningRelay) -> String {
    reqwest::get(format!("http://{}/metrics", relay.metrics_addr())).await.unwrap().text().await.unwrap()
}
