//! Relay configuration. Defaults are the spec's values;
//! tests shorten the intervals and raise the per-IP limit.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where `GET /ws` (and `GET /health`) are served.
    pub listen: SocketAddr,
    /// Where Prometheus text metrics are served (`GET /metrics`), apart from client traffic.
    pub metrics_listen: SocketAddr,
    pub database_url: String,
    pub redis_url: String,
    /// The components' `jwt_secret` variable: session tokens are verified with it.
    pub jwt_secret: String,
    /// Browser origins allowed to connect (a request without `Origin` is not a browser and is allowed).
    pub cors_origins: Vec<String>,
    /// The unit's `unit_timezone` and `day_rollover` (today's DDS is today's operational day).
    pub operational_day: sentinel_domain::time::OperationalDay,
    /// Reverse proxies whose `X-Forwarded-For` is believed (the components' `trusted_proxies`
    /// variable; docs/api.md, "Client addresses"). Empty: the peer is the client.
    pub trusted_proxies: sentinel_http::client_addr::TrustedProxies,
    pub limits: Limits,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Server WebSocket ping interval (25 s).
    pub ping_interval: Duration,
    /// A socket silent for this long is dropped (60 s).
    pub idle_timeout: Duration,
    /// Largest client message (64 KB).
    pub max_message_bytes: usize,
    /// Client messages per rolling minute per connection (100).
    pub messages_per_minute: usize,
    /// Rate-limit violations within `violation_window` that end the connection (3 in 5 min).
    pub violations_before_disconnect: usize,
    pub violation_window: Duration,
    /// New connections per client IP per rolling minute (10).
    pub connections_per_ip_per_minute: usize,
    /// Concurrent connections per API key (5).
    pub connections_per_key: usize,
    /// User sessions and API keys are re-checked this often (5 min).
    pub revalidate_interval: Duration,
    /// Kiosk online/offline sweep period.
    pub kiosk_sweep_interval: Duration,
    /// Between `server:shutdown` and the going-away close (1 s).
    pub drain_grace: Duration,
    /// Items in `activity:backfill` (20).
    pub activity_backfill_items: i64,
    /// Newest active alerts in `alerts:backfill` (100; `more` says whether there are others).
    pub alerts_backfill_items: i64,
    /// Events a connection may fall behind the stream readers before it is dropped as a slow consumer.
    pub fanout_buffer: usize,
    /// A write to one socket that takes longer than this drops that socket (never blocks others).
    pub write_timeout: Duration,
    /// `presence:update` is coalesced per socket: at most one per this interval, always the latest (1 s).
    pub presence_interval: Duration,
    /// How often the replica checks for due scheduled jobs (`None`: never; `sentinel jobs run` still works).
    pub jobs_interval: Option<Duration>,
    /// How often an idle replica looks for committed events in the outbox (docs/architecture.md,
    /// "Realtime"); `None`: this replica does not publish (another process does).
    pub outbox_interval: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
            max_message_bytes: 64 * 1024,
            messages_per_minute: 100,
            violations_before_disconnect: 3,
            violation_window: Duration::from_secs(300),
            connections_per_ip_per_minute: 10,
            connections_per_key: 5,
            revalidate_interval: Duration::from_secs(300),
            kiosk_sweep_interval: Duration::from_secs(15),
            drain_grace: Duration::from_secs(1),
            activity_backfill_items: 20,
            alerts_backfill_items: 100,
            fanout_buffer: 16_384,
            write_timeout: Duration::from_secs(10),
            presence_interval: Duration::from_secs(1),
            jobs_interval: Some(Duration::from_secs(60)),
            outbox_interval: Some(Duration::from_millis(20)),
        }
    }
}

impl RelayConfig {
    /// Spec defaults on 127.0.0.1:3001 (metrics on 127.0.0.1:9464), development origins.
    pub fn new(database_url: impl Into<String>, redis_url: impl Into<String>, jwt_secret: impl Into<String>) -> Self {
        Self {
            listen: "127.0.0.1:3001".parse().unwrap(),
            metrics_listen: "127.0.0.1:9464".parse().unwrap(),
            database_url: database_url.into(),
            redis_url: redis_url.into(),
            jwt_secret: jwt_secret.into(),
            cors_origins: vec!["http://localhost:3000".into(), "http://localhost:5173".into()],
            operational_day: Default::default(),
            trusted_proxies: Default::default(),
            limits: Limits::default(),
        }
    }
}
