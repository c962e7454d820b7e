//! sentinel-relay: the realtime relay (README, "Realtime"). Components write events to the
//! database's outbox with their changes; every relay replica appends committed outbox rows to
//! the per-channel Redis streams ([`outbox`], exactly once across replicas), reads all the
//! streams and fans events out to its own WebSocket subscribers.
//! Replicas share nothing but Redis and PostgreSQL (the outbox, authentication and
//! backfill), so they scale horizontally behind any load balancer.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let config = sentinel_relay::RelayConfig::new("postgres://…", "redis://127.0.0.1:6379", "jwt secret");
//! let relay = sentinel_relay::start(config).await?;
//! println!("ws://{}/ws, metrics http://{}/metrics", relay.addr(), relay.metrics_addr());
//! relay.shutdown().await; // drains: server:shutdown, 1 s, close 1001
//! # Ok(()) }
//! ```

pub mod auth;
pub mod bench;
pub mod channels;
mod conn;
pub mod config;
pub mod hub;
pub mod jobs;
pub mod metrics;
pub mod outbox;
pub mod pg;
mod server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;

pub use sentinel_http::client_addr::TrustedProxies;
pub use crate::config::{Limits, RelayConfig};
use crate::hub::{Event, RedisHandle};
use crate::metrics::Metrics;

/// State shared by the tasks of one replica.
pub(crate) struct Shared {
    pub config: RelayConfig,
    pub pg: pg::Pg,
    pub redis: Arc<RedisHandle>,
    pub events: broadcast::Sender<Arc<Event>>,
    pub metrics: Arc<Metrics>,
    pub drain: watch::Receiver<bool>,
    pub ip_windows: server::IpWindows,
    pub key_slots: server::KeySlots,
    open: AtomicUsize,
    all_closed: Notify,
}

impl Shared {
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    fn connection_opened(self: &Arc<Self>, principal: &auth::Principal) -> ConnectionGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        let gauge = self.metrics.connection_gauge(principal.kind());
        gauge.inc();
        ConnectionGuard { shared: self.clone(), gauge }
    }
}

/// Counts a connection from its upgrade until its task ends.
struct ConnectionGuard {
    shared: Arc<Shared>,
    gauge: prometheus_client::metrics::gauge::Gauge,
}

impl ConnectionGuard {
    fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.gauge.dec();
        if self.shared.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.all_closed.notify_waiters();
        }
    }
}

/// A running replica.
pub struct RunningRelay {
    addr: SocketAddr,
    metrics_addr: SocketAddr,
    shared: Arc<Shared>,
    drain: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningRelay {
    /// Where `GET /ws` is served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `GET /metrics` is served.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    pub fn open_connections(&self) -> usize {
        self.shared.open_connections()
    }

    /// Graceful drain: stop accepting, send `server:shutdown` to
    /// every socket, wait the grace period, close them with 1001 "going away".
    /// Returns once every connection has ended (or after a safety timeout).
    pub async fn drain(&self) {
        let _ = self.drain.send(true);
        let deadline = self.shared.config.limits.drain_grace + Duration::from_secs(5);
        let _ = tokio::time::timeout(deadline, async {
            loop {
                let notified = self.shared.all_closed.notified();
                if self.shared.open_connections() == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }

    /// Drains, then stops the listeners, the stream reader and the kiosk sweep.
    pub async fn shutdown(self) {
        self.drain().await;
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// Starts a replica: binds both listeners, starts the stream reader (waiting up to
/// 5 s for Redis so events published right after `start` returns are not missed)
/// and the kiosk status sweep.
pub async fn start(config: RelayConfig) -> anyhow::Result<RunningRelay> {
    raise_fd_limit();
    let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let metrics_listener = TcpListener::bind(config.metrics_listen).await.with_context(|| format!("binding {}", config.metrics_listen))?;
    let addr = listener.local_addr()?;
    let metrics_addr = metrics_listener.local_addr()?;
    let (events, _) = broadcast::channel(config.limits.fanout_buffer.max(16));
    let (drain_tx, drain_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = watch::channel(false);
    let metrics = Arc::new(Metrics::new());
    let metrics_for_outbox = metrics.clone();
    let shared = Arc::new(Shared {
        pg: pg::Pg::new(&config.database_url, 16)?,
        redis: Arc::new(RedisHandle::new(&config.redis_url)?),
        config,
        events: events.clone(),
        metrics: metrics.clone(),
        drain: drain_rx,
        ip_windows: Default::default(),
        key_slots: Default::default(),
        open: AtomicUsize::new(0),
        all_closed: Notify::new(),
    });
    let mut tasks = Vec::new();
    let (presence_tx, presence_rx) = watch::channel(None);
    tasks.push(tokio::spawn(hub::run_reader(shared.config.redis_url.clone(), events, presence_tx, metrics, ready_tx, stop_rx.clone())));
    tasks.push(tokio::spawn(hub::run_presence_refresher(shared.clone(), presence_rx, stop_rx.clone())));
    if tokio::time::timeout(Duration::from_secs(5), ready_rx.wait_for(|ready| *ready)).await.is_err() {
        log("warn", "Redis not reachable yet; the stream reader keeps retrying", json!({}));
    }
    // Stop accepting as soon as draining begins.
    let mut accept_stop = drain_tx.subscribe();
    let mut stop_for_accept = stop_rx.clone();
    let (accept_stop_tx, accept_stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = accept_stop.wait_for(|d| *d) => {}
            _ = stop_for_accept.wait_for(|s| *s) => {}
        }
        let _ = accept_stop_tx.send(true);
    });
    tasks.push(tokio::spawn(server::serve_ws(listener, shared.clone(), accept_stop_rx)));
    tasks.push(tokio::spawn(server::serve_metrics(metrics_listener, shared.clone(), stop_rx.clone())));
    if let Some(interval) = shared.config.limits.jobs_interval {
        tasks.push(tokio::spawn(jobs::schedule(shared.clone(), interval, stop_rx.clone())));
    }
    if let Some(interval) = shared.config.limits.outbox_interval {
        tasks.push(tokio::spawn(outbox::run(shared.pg.clone(), shared.redis.clone(), Some(metrics_for_outbox), interval, stop_rx.clone())));
    }
    tasks.push(tokio::spawn(kiosk_sweep(shared.clone(), stop_rx)));
    log("info", "relay started", json!({ "ws": format!("ws://{addr}/ws"), "metrics": format!("http://{metrics_addr}/metrics") }));
    Ok(RunningRelay { addr, metrics_addr, shared, drain: drain_tx, stop: stop_tx, tasks })
}

/// Marks kiosk online/offline transitions, announced through the outbox (once across replicas: the SQL is
/// conditional).
async fn kiosk_sweep(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(shared.config.limits.kiosk_sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match shared.pg.run(|db| sentinel_api::backfill::kiosk_transitions(db)).await {
            Ok(_) => {}
            Err(err) => log("warn", "kiosk sweep failed", json!({ "error": format!("{err:#}") })),
        }
    }
}

/// ISO-8601 UTC with milliseconds, like the components' timestamps.
pub fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One JSON log line on stderr.
pub(crate) fn log(level: &str, message: &str, fields: Value) {
    let mut line = json!({ "level": level, "component": "relay", "message": message, "time": now_iso() });
    if let (Some(line), Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    eprintln!("{line}");
}

/// Every socket is a file descriptor: lift the soft limit to the hard one.
pub fn raise_fd_limit() {
    // SAFETY: plain getrlimit/setrlimit on a stack value.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
