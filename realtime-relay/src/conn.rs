//! One WebSocket connection: client messages (subscribe, unsubscribe, ping,
//! kiosk heartbeat), backfill and resume, live delivery in stream order with no
//! gap and no duplicate, heartbeats, rate limits, session re-validation and the
//! drain sequence.
//!
//! Server → client frames: stream events `{type:"event", channel, event, id, ts, data}`;
//! backfill events the same without `id`; socket events (`pong`, `error`,
//! `session:expired`, `server:shutdown`, `kiosk:heartbeat:ok`) without `channel`;
//! `{type:"subscribed"|"unsubscribed", channel}` acknowledgements and
//! `{type:"recovered", channel, complete}` at the end of a `since` replay.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::auth::{self, KeyKind, Principal, Validity};
use crate::channels::Channel;
use crate::hub::{Event, Source, StreamId};
use crate::Shared;

/// Entries fetched per `XRANGE` page during a replay.
const REPLAY_PAGE: usize = 500;
/// Most events written before one flush.
const MAX_BATCH: usize = 256;

struct Subscription {
    /// Last stream id delivered on this channel; later duplicates are skipped.
    last_id: Option<StreamId>,
}

/// Why the loop ended early.
struct Closing(CloseCode, &'static str);

pub(crate) struct Connection<S> {
    sink: SplitSink<WebSocketStream<S>, Message>,
    shared: Arc<Shared>,
    principal: Principal,
    ip: Option<String>,
    subscriptions: [Option<Subscription>; Channel::ALL.len()],
    message_times: VecDeque<Instant>,
    violations: VecDeque<Instant>,
    /// When this socket last got a `presence:update`, and the newest one held back since
    ///.
    presence_sent: Option<tokio::time::Instant>,
    presence_pending: Option<Arc<Event>>,
}

pub(crate) async fn run<S>(ws: WebSocketStream<S>, shared: Arc<Shared>, principal: Principal, ip: Option<String>, mut events: broadcast::Receiver<Arc<Event>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = shared.config.limits.clone();
    let (sink, mut incoming) = ws.split();
    let mut conn = Connection {
        sink,
        shared: shared.clone(),
        principal,
        ip,
        subscriptions: Default::default(),
        message_times: VecDeque::new(),
        violations: VecDeque::new(),
        presence_sent: None,
        presence_pending: None,
    };
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + limits.ping_interval, limits.ping_interval);
    let mut revalidate = tokio::time::interval_at(tokio::time::Instant::now() + limits.revalidate_interval, limits.revalidate_interval);
    let mut drain = shared.drain.clone();
    let mut closing_at: Option<tokio::time::Instant> = None;
    if *drain.borrow() {
        closing_at = Some(tokio::time::Instant::now());
    }

    let ending: Option<Closing> = loop {
        tokio::select! {
            message = incoming.next() => {
                let Some(message) = message else { break None };
                let message = match message {
                    Ok(m) => m,
                    Err(tokio_tungstenite::tungstenite::Error::Capacity(_)) => break Some(Closing(CloseCode::Size, "message too large")),
                    Err(_) => break None,
                };
                last_heard = Instant::now();
                let outcome = match message {
                    Message::Text(text) => conn.on_client_message(text.as_str()).await,
                    Message::Binary(_) => conn.on_client_message("\u{0}binary").await,
                    Message::Close(_) => break None,
                    _ => Ok(()),
                };
                if let Err(closing) = outcome {
                    break Some(closing);
                }
            }
            received = events.recv() => {
                let first = match received {
                    Ok(event) => event,
                    Err(RecvError::Lagged(_)) => {
                        shared.metrics.slow_consumers.inc();
                        break Some(Closing(CloseCode::Again, "slow consumer"));
                    }
                    Err(RecvError::Closed) => break None,
                };
                let mut batch = vec![first];
                let mut lagged = false;
                while batch.len() < MAX_BATCH {
                    match events.try_recv() {
                        Ok(event) => batch.push(event),
                        Err(TryRecvError::Lagged(_)) => { lagged = true; break; }
                        Err(_) => break,
                    }
                }
                if lagged {
                    shared.metrics.slow_consumers.inc();
                    break Some(Closing(CloseCode::Again, "slow consumer"));
                }
                if let Err(closing) = conn.deliver(&batch).await {
                    break Some(closing);
                }
            }
            _ = tokio::time::sleep_until(conn.presence_due()), if conn.presence_pending.is_some() => {
                if let Err(closing) = conn.flush_presence().await {
                    break Some(closing);
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > limits.idle_timeout {
                    break Some(Closing(CloseCode::Away, "heartbeat timeout"));
                }
                if conn.write(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            _ = revalidate.tick() => {
                if let Err(closing) = conn.revalidate().await {
                    break Some(closing);
                }
            }
            changed = drain.changed(), if closing_at.is_none() => {
                if changed.is_err() || *drain.borrow() {
                    let _ = conn.socket_event("server:shutdown", json!({ "message": "Server is shutting down", "timestamp": crate::now_iso() })).await;
                    closing_at = Some(tokio::time::Instant::now() + limits.drain_grace);
                }
            }
            _ = tokio::time::sleep_until(closing_at.unwrap_or_else(tokio::time::Instant::now)), if closing_at.is_some() => {
                break Some(Closing(CloseCode::Away, "server shutting down"));
            }
        }
    };

    if let Some(Closing(code, reason)) = ending {
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = tokio::time::timeout(Duration::from_secs(2), conn.sink.send(Message::Close(Some(frame)))).await;
        // Give the peer a moment to answer the close handshake, then drop.
        let _ = tokio::time::timeout(Duration::from_millis(500), async { while let Some(Ok(m)) = incoming.next().await { if m.is_close() { break; } } }).await;
    }
    // A peer that stopped reading must not keep this task (and its API key's connection slot) alive.
    let _ = tokio::time::timeout(limits.write_timeout, conn.sink.close()).await;
    for channel in Channel::ALL {
        if conn.subscriptions[channel.index()].is_some() {
            shared.metrics.subscriptions[channel.index()].dec();
        }
    }
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn write(&mut self, message: Message) -> Result<(), ()> {
        match tokio::time::timeout(self.shared.config.limits.write_timeout, self.sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    async fn send_json(&mut self, value: Value) -> Result<(), Closing> {
        self.write(Message::Text(value.to_string().into())).await.map_err(|_| Closing(CloseCode::Away, "write failed"))
    }

    /// An event addressed to this socket only (no channel).
    async fn socket_event(&mut self, event: &str, data: Value) -> Result<(), Closing> {
        self.send_json(json!({ "type": "event", "event": event, "ts": crate::now_iso(), "data": data })).await
    }

    async fn error(&mut self, code: &str, message: impl Into<String>) -> Result<(), Closing> {
        self.socket_event("error", json!({ "code": code, "message": message.into() })).await
    }

    async fn on_client_message(&mut self, text: &str) -> Result<(), Closing> {
        if !self.within_rate_limit() {
            self.error("RATE_LIMITED", format!("Too many messages: at most {} per minute", self.shared.config.limits.messages_per_minute)).await?;
            let limits = &self.shared.config.limits;
            let now = Instant::now();
            self.violations.push_back(now);
            while self.violations.front().is_some_and(|t| now.duration_since(*t) > limits.violation_window) {
                self.violations.pop_front();
            }
            if self.violations.len() >= limits.violations_before_disconnect {
                return Err(Closing(CloseCode::Policy, "rate limit exceeded"));
            }
            return Ok(());
        }
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return self.error("BAD_MESSAGE", "Messages must be JSON objects").await;
        };
        match message.get("type").and_then(Value::as_str) {
            Some("subscribe") => {
                let Some(channel) = self.channel_of(&message).await? else { return Ok(()) };
                let since = match message.get("since") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => match s.parse::<StreamId>() {
                        Ok(id) => Some(id),
                        Err(()) => return self.error("BAD_MESSAGE", format!("Invalid since id: {s}")).await,
                    },
                    Some(_) => return self.error("BAD_MESSAGE", "since must be a stream id string").await,
                };
                self.subscribe(channel, since).await
            }
            Some("unsubscribe") => {
                let Some(channel) = self.channel_of(&message).await? else { return Ok(()) };
                if self.subscriptions[channel.index()].take().is_some() {
                    self.shared.metrics.subscriptions[channel.index()].dec();
                }
                self.send_json(json!({ "type": "unsubscribed", "channel": channel.name() })).await
            }
            Some("ping") => self.socket_event("pong", json!({ "timestamp": crate::now_iso() })).await,
            Some("kiosk:heartbeat") => self.kiosk_heartbeat(&message).await,
            Some(other) => self.error("BAD_MESSAGE", format!("Unknown message type: {other}")).await,
            None => self.error("BAD_MESSAGE", "Messages need a type").await,
        }
    }

    fn within_rate_limit(&mut self) -> bool {
        let now = Instant::now();
        while self.message_times.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            self.message_times.pop_front();
        }
        if self.message_times.len() >= self.shared.config.limits.messages_per_minute {
            return false;
        }
        self.message_times.push_back(now);
        true
    }

    async fn channel_of(&mut self, message: &Value) -> Result<Option<Channel>, Closing> {
        match message.get("channel").and_then(Value::as_str) {
            Some(name) => match Channel::parse(name) {
                Some(channel) => Ok(Some(channel)),
                None => self.error("UNKNOWN_CHANNEL", format!("Unknown channel: {name}")).await.map(|_| None),
            },
            None => self.error("BAD_MESSAGE", "channel is required").await.map(|_| None),
        }
    }

    async fn subscribe(&mut self, channel: Channel, since: Option<StreamId>) -> Result<(), Closing> {
        if let Err(message) = channel.authorize(&self.principal) {
            return self.error("FORBIDDEN", message).await;
        }
        if self.subscriptions[channel.index()].is_some() {
            // Re-subscribing is a no-op.
            return self.send_json(json!({ "type": "subscribed", "channel": channel.name() })).await;
        }
        self.subscriptions[channel.index()] = Some(Subscription { last_id: since });
        self.shared.metrics.subscriptions[channel.index()].inc();
        self.send_json(json!({ "type": "subscribed", "channel": channel.name() })).await?;
        match since {
            Some(since) => self.replay(channel, since).await,
            None => self.backfill(channel).await,
        }
    }

    /// Everything after `since` the stream still holds, then `recovered`. Live events
    /// that arrive meanwhile wait in the broadcast queue and are de-duplicated by id.
    async fn replay(&mut self, channel: Channel, since: StreamId) -> Result<(), Closing> {
        let redis = &self.shared.redis;
        let complete = match redis.holds(channel, since).await {
            Ok(held) => held,
            Err(err) => {
                crate::log("warn", "resume check failed", json!({ "channel": channel.name(), "error": err.to_string() }));
                false
            }
        };
        let mut after = since;
        loop {
            let page = match self.shared.redis.range_after(channel, after, REPLAY_PAGE).await {
                Ok(page) => page,
                Err(err) => {
                    crate::log("warn", "replay failed", json!({ "channel": channel.name(), "error": err.to_string() }));
                    return self.send_json(json!({ "type": "recovered", "channel": channel.name(), "complete": false })).await;
                }
            };
            let full = page.len() == REPLAY_PAGE;
            let mut frames = Vec::with_capacity(page.len());
            for entry in &page {
                if let Some(event) = Event::from_entry(Source::Channel(channel), entry) {
                    after = event.id;
                    frames.push(event.frame);
                }
            }
            let delivered = frames.len() as u64;
            // The page goes out under the write timeout, like every write (a reader that stalls is dropped).
            let deadline = tokio::time::Instant::now() + self.shared.config.limits.write_timeout;
            for frame in frames {
                match tokio::time::timeout_at(deadline, self.sink.feed(Message::Text(frame))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(Closing(CloseCode::Away, "write failed")),
                    Err(_) => return Err(self.slow_consumer()),
                }
            }
            match tokio::time::timeout_at(deadline, self.sink.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Closing(CloseCode::Away, "write failed")),
                Err(_) => return Err(self.slow_consumer()),
            }
            self.shared.metrics.delivered[channel.index()].inc_by(delivered);
            if let Some(sub) = self.subscriptions[channel.index()].as_mut() {
                sub.last_id = Some(after);
            }
            if !full {
                break;
            }
        }
        self.send_json(json!({ "type": "recovered", "channel": channel.name(), "complete": complete })).await
    }

    /// The channel's current-state event, computed with the
    /// same SQL as the HTTP endpoints.
    async fn backfill(&mut self, channel: Channel) -> Result<(), Closing> {
        use sentinel_api::backfill;
        let limit = self.shared.config.limits.activity_backfill_items;
        let outcome = match channel {
            Channel::Presence => self.shared.pg.run(|db| backfill::presence(db)).await.map(|d| Some(("presence:update", d))),
            Channel::Checkins => self
                .shared
                .pg
                .run(move |db| backfill::activity(db, limit))
                .await
                .map(|items| Some(("activity:backfill", json!({ "items": items })))),
            Channel::Visitors => self.shared.pg.run(|db| backfill::active_visitors(db)).await.map(|d| Some(("visitors:backfill", d))),
            Channel::Alerts => {
                // The newest active alerts only; `more` tells the dashboard to page the rest over HTTP.
                let page = sentinel_http::pagination::PageRequest { page: 1, limit: self.shared.config.limits.alerts_backfill_items };
                self.shared.pg.run(move |db| backfill::active_alerts(db, page)).await.map(|mut d| {
                    d["more"] = json!(d["total"].as_i64().unwrap_or(0) > d["count"].as_i64().unwrap_or(0));
                    Some(("alerts:backfill", d))
                })
            }
            Channel::Dds => {
                let day = self.shared.config.operational_day.clone();
                self.shared.pg.run(move |db| backfill::current_dds(db, &day)).await.map(|d| Some(("dds:current", d)))
            }
            Channel::Lockup => {
                let day = self.shared.config.operational_day.clone();
                self.shared.pg.run(move |db| backfill::lockup_state(db, &day)).await.map(|d| Some(("lockup:current", d)))
            }
            Channel::Kiosks => self.shared.pg.run(|db| backfill::kiosks(db)).await.map(|mut d| {
                // The relay's backfill has the spec's four fields; queueSize is for GET /api/kiosks.
                if let Some(list) = d.get_mut("kiosks").and_then(Value::as_array_mut) {
                    for kiosk in list {
                        if let Some(object) = kiosk.as_object_mut() {
                            object.remove("queueSize");
                        }
                    }
                }
                Some(("kiosks:backfill", d))
            }),
            Channel::Muster => self.shared.pg.run(|db| backfill::current_muster(db)).await.map(|d| Some(("muster:current", d))),
            Channel::Events | Channel::Badges => Ok(None),
        };
        match outcome {
            Ok(Some((event, data))) => {
                if channel == Channel::Presence {
                    self.presence_sent = Some(tokio::time::Instant::now());
                }
                self.send_json(json!({ "type": "event", "channel": channel.name(), "event": event, "ts": crate::now_iso(), "data": data })).await
            }
            Ok(None) => Ok(()),
            Err(err) => {
                // The subscription stands; the client can refetch through REST.
                crate::log("error", "backfill failed", json!({ "channel": channel.name(), "error": format!("{err:#}") }));
                Ok(())
            }
        }
    }

    /// A socket whose writes did not finish within the write timeout: counted, then closed.
    fn slow_consumer(&self) -> Closing {
        self.shared.metrics.slow_consumers.inc();
        Closing(CloseCode::Again, "slow consumer")
    }

    async fn deliver(&mut self, batch: &[Arc<Event>]) -> Result<(), Closing> {
        // Every write of the batch, and its flush, within one write timeout.
        let deadline = tokio::time::Instant::now() + self.shared.config.limits.write_timeout;
        let mut written = 0usize;
        let mut oldest_published: Option<i64> = None;
        for event in batch {
            match event.source {
                Source::Channel(channel) => {
                    let Some(sub) = self.subscriptions[channel.index()].as_mut() else { continue };
                    if sub.last_id.is_some_and(|last| event.id <= last) {
                        continue;
                    }
                    if channel == Channel::Presence {
                        let now = tokio::time::Instant::now();
                        if self.presence_sent.is_some_and(|sent| now < sent + self.shared.config.limits.presence_interval) {
                            // Held back; a newer one replaces it. Sent by `flush_presence` when due.
                            self.presence_pending = Some(event.clone());
                            continue;
                        }
                        self.presence_sent = Some(now);
                        self.presence_pending = None;
                    }
                    sub.last_id = Some(event.id);
                    match tokio::time::timeout_at(deadline, self.sink.feed(Message::Text(event.frame.clone()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return Err(Closing(CloseCode::Away, "write failed")),
                        Err(_) => return Err(self.slow_consumer()),
                    }
                    self.shared.metrics.delivered[channel.index()].inc();
                    written += 1;
                    if let Some(ms) = event.published_ms {
                        oldest_published = Some(oldest_published.map_or(ms, |o: i64| o.min(ms)));
                    }
                }
                Source::Sessions => {
                    if self.concerns_me(&event.data) {
                        self.revalidate().await?;
                    }
                }
            }
        }
        if written > 0 {
            match tokio::time::timeout_at(deadline, self.sink.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Closing(CloseCode::Away, "write failed")),
                Err(_) => return Err(self.slow_consumer()),
            }
            if let Some(ms) = oldest_published {
                let lag = (chrono::Utc::now().timestamp_millis() - ms).max(0) as f64 / 1000.0;
                self.shared.metrics.fanout_lag.observe(lag);
            }
        }
        Ok(())
    }

    /// When the held-back `presence:update` may go out.
    fn presence_due(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        self.presence_sent.map_or(now, |sent| sent + self.shared.config.limits.presence_interval)
    }

    /// Sends the held-back `presence:update` (if the socket is still subscribed).
    async fn flush_presence(&mut self) -> Result<(), Closing> {
        let Some(event) = self.presence_pending.take() else { return Ok(()) };
        let Some(sub) = self.subscriptions[Channel::Presence.index()].as_mut() else { return Ok(()) };
        if sub.last_id.is_some_and(|last| event.id <= last) {
            return Ok(());
        }
        sub.last_id = Some(event.id);
        self.presence_sent = Some(tokio::time::Instant::now());
        self.write(Message::Text(event.frame.clone())).await.map_err(|_| Closing(CloseCode::Again, "slow consumer"))?;
        self.shared.metrics.delivered[Channel::Presence.index()].inc();
        Ok(())
    }

    /// Whether a sessions-stream notice (logout, revocation, user change) is about this socket.
    fn concerns_me(&self, notice: &Value) -> bool {
        let field = |name: &str| notice.get(name).and_then(Value::as_str);
        match &self.principal {
            Principal::User(user) => {
                field("sessionId") == Some(user.session_id.as_str()) || (field("sessionId").is_none() && field("userId") == Some(user.user_id.as_str()))
            }
            Principal::Key(key) => field("apiKeyId") == Some(key.key_id.as_str()),
        }
    }

    async fn revalidate(&mut self) -> Result<(), Closing> {
        match auth::revalidate(&self.shared.pg, &self.principal).await {
            Ok(Validity::Valid) => Ok(()),
            Ok(Validity::Ended(reason)) => {
                self.socket_event("session:expired", json!({ "reason": reason, "timestamp": crate::now_iso() })).await?;
                Err(Closing(CloseCode::Policy, "session expired"))
            }
            Err(err) => {
                // Keep the socket through a database outage; the next check decides.
                crate::log("warn", "session re-validation failed", json!({ "error": format!("{err:#}") }));
                Ok(())
            }
        }
    }

    async fn kiosk_heartbeat(&mut self, message: &Value) -> Result<(), Closing> {
        let Principal::Key(key) = &self.principal else {
            return self.error("FORBIDDEN", "kiosk key required for kiosk:heartbeat").await;
        };
        let (KeyKind::Kiosk, Some(kiosk_id)) = (key.kind, key.kiosk_id.clone()) else {
            return self.error("FORBIDDEN", "kiosk key required for kiosk:heartbeat").await;
        };
        let queue_size = match message.get("queueSize") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64().and_then(|n| i32::try_from(n).ok()).filter(|n| *n >= 0) {
                Some(n) => Some(n),
                None => return self.error("BAD_MESSAGE", "queueSize must be a non-negative integer").await,
            },
        };
        let key_id = key.key_id.clone();
        let ip = self.ip.clone();
        let kiosk = kiosk_id.clone();
        let outcome = self
            .shared
            .pg
            .run(move |db| sentinel_api::backfill::kiosk_heartbeat(db, &kiosk, Some(&key_id), queue_size, None, ip.as_deref()))
            .await;
        match outcome {
            // A transition to online is announced through the outbox by the same statement.
            Ok(_) => {
                self.socket_event("kiosk:heartbeat:ok", json!({ "kioskId": kiosk_id, "serverTime": crate::now_iso() })).await
            }
            Err(err) => {
                crate::log("error", "kiosk heartbeat failed", json!({ "error": format!("{err:#}") }));
                self.error("INTERNAL_ERROR", "Heartbeat could not be recorded").await
            }
        }
    }
}
