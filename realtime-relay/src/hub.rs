//! Reading the channel streams. One task per replica reads every channel
//! stream (and the internal sessions stream) with blocking `XREAD`, renders
//! each entry once into its wire frame, and broadcasts it to this replica's
//! connections. On a Redis failure it reconnects with exponential backoff and
//! resumes from the last id it read, so nothing the streams still hold is lost.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use redis::streams::{StreamId as RedisEntry, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch, Mutex};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::channels::{Channel, SESSIONS_STREAM};
use crate::metrics::Metrics;

/// A stream entry id `<ms>-<seq>`; ordered numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
}

impl Ord for StreamId {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ms, self.seq).cmp(&(other.ms, other.seq))
    }
}

impl PartialOrd for StreamId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl FromStr for StreamId {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        Ok(StreamId { ms: ms.parse().map_err(|_| ())?, seq: seq.parse().map_err(|_| ())? })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Channel(Channel),
    /// Logouts and revocations (never delivered to clients).
    Sessions,
}

/// One stream entry, rendered once for every subscriber.
#[derive(Debug)]
pub struct Event {
    pub source: Source,
    pub id: StreamId,
    pub name: String,
    /// The entry's `ts` field as published.
    pub ts: String,
    /// Publish time in Unix milliseconds (from the entry's `ts`), for the fan-out lag metric.
    pub published_ms: Option<i64>,
    pub data: Value,
    /// The server→client envelope as sent.
    pub frame: Utf8Bytes,
}

impl Event {
    pub fn from_entry(source: Source, entry: &RedisEntry) -> Option<Event> {
        let id: StreamId = entry.id.parse().ok()?;
        let field = |name: &str| entry.map.get(name).and_then(|v| redis::from_redis_value::<String>(v).ok());
        let name = field("event").unwrap_or_default();
        let ts = field("ts").unwrap_or_default();
        let raw = field("data").unwrap_or_else(|| "null".into());
        let data: Value = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
        let published_ms = chrono::DateTime::parse_from_rfc3339(&ts).ok().map(|t| t.timestamp_millis());
        Some(Event::render(source, id, name, ts, published_ms, data))
    }

    fn render(source: Source, id: StreamId, name: String, ts: String, published_ms: Option<i64>, data: Value) -> Event {
        let frame = match source {
            Source::Channel(channel) => json!({
                "type": "event", "channel": channel.name(), "event": name, "id": id.to_string(), "ts": ts, "data": data
            })
            .to_string(),
            Source::Sessions => String::new(),
        };
        Event { source, id, name, ts, published_ms, data, frame: frame.into() }
    }

    /// The same entry (id, name, time) carrying other data.
    pub fn with_data(&self, data: Value) -> Event {
        Event::render(self.source, self.id, self.name.clone(), self.ts.clone(), self.published_ms, data)
    }
}

/// The streams one reader follows, in a fixed order.
fn sources() -> Vec<(Source, String)> {
    let mut all: Vec<(Source, String)> = Channel::ALL.iter().map(|c| (Source::Channel(*c), c.stream_key())).collect();
    all.push((Source::Sessions, SESSIONS_STREAM.to_string()));
    all
}

/// Redis access for everything but the blocking reader: replays, the outbox, leases.
/// One multiplexed connection, made on demand and dropped after any failure but an error reply; every
/// command is bounded by a timeout, so a Redis restart heals by itself and nothing waits on a dead socket.
pub struct RedisHandle {
    client: redis::Client,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

/// The longest any one command (connecting included) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

impl RedisHandle {
    pub fn new(redis_url: &str) -> anyhow::Result<Self> {
        Ok(Self { client: redis::Client::open(redis_url)?, connection: Mutex::new(None) })
    }

    async fn connection(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let mut slot = self.connection.lock().await;
        if let Some(existing) = slot.as_ref() {
            return Ok(existing.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(COMMAND_TIMEOUT);
        let connection = self.client.get_multiplexed_async_connection_with_config(&config).await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Runs `cmd`; after any failure but an error reply the next call connects afresh.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        let attempt = async { cmd.query_async(&mut self.connection().await?).await };
        let result = match tokio::time::timeout(COMMAND_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "Redis command timed out"))),
        };
        if let Err(err) = &result {
            if err.kind() != redis::ErrorKind::ResponseError {
                *self.connection.lock().await = None;
            }
        }
        result
    }

    /// Entries of `channel` strictly after `after`, in order, at most `count`.
    pub async fn range_after(&self, channel: Channel, after: StreamId, count: usize) -> redis::RedisResult<Vec<RedisEntry>> {
        let reply: StreamRangeReply =
            self.query(redis::cmd("XRANGE").arg(channel.stream_key()).arg(format!("({after}")).arg("+").arg("COUNT").arg(count)).await?;
        Ok(reply.ids)
    }

    /// Whether the stream still holds the entry `id` (resume completeness).
    pub async fn holds(&self, channel: Channel, id: StreamId) -> redis::RedisResult<bool> {
        let reply: StreamRangeReply =
            self.query(redis::cmd("XRANGE").arg(channel.stream_key()).arg(id.to_string()).arg(id.to_string()).arg("COUNT").arg(1)).await?;
        Ok(!reply.ids.is_empty())
    }
}

/// Reads all streams until `stop` turns true; `ready` turns true once the start
/// positions (each stream's current tail) are known.
pub async fn run_reader(
    redis_url: String,
    events: broadcast::Sender<Arc<Event>>,
    presence: watch::Sender<Option<Arc<Event>>>,
    metrics: Arc<Metrics>,
    ready: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let sources = sources();
    let keys: Vec<String> = sources.iter().map(|(_, k)| k.clone()).collect();
    let mut last_ids: Option<Vec<String>> = None;
    let mut backoff = Duration::from_millis(100);
    let mut first_attempt = true;
    loop {
        if *stop.borrow() {
            return;
        }
        if !first_attempt {
            metrics.redis_reconnects.inc();
        }
        first_attempt = false;
        let outcome = async {
            let client = redis::Client::open(redis_url.as_str())?;
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Duration::from_secs(2))
                .set_response_timeout(Duration::from_secs(15));
            let mut conn = client.get_multiplexed_async_connection_with_config(&config).await?;
            if last_ids.is_none() {
                let mut tails = Vec::with_capacity(keys.len());
                for key in &keys {
                    let reply: StreamRangeReply = conn.xrevrange_count(key, "+", "-", 1).await?;
                    tails.push(reply.ids.first().map(|e| e.id.clone()).unwrap_or_else(|| "0-0".into()));
                }
                last_ids = Some(tails);
                let _ = ready.send(true);
            }
            crate::log("info", "stream reader connected", json!({ "streams": keys.len() }));
            backoff = Duration::from_millis(100);
            let options = StreamReadOptions::default().block(5_000).count(1_000);
            loop {
                let ids = last_ids.clone().expect("initialised above");
                let read = tokio::select! {
                    read = conn.xread_options::<_, _, Option<StreamReadReply>>(&keys, &ids, &options) => read?,
                    _ = stop.changed() => return Ok::<_, redis::RedisError>(()),
                };
                let Some(reply) = read else { continue };
                for stream in reply.keys {
                    let Some(position) = keys.iter().position(|k| *k == stream.key) else { continue };
                    let source = sources[position].0;
                    for entry in &stream.ids {
                        if let Some(event) = Event::from_entry(source, entry) {
                            if let Source::Channel(channel) = source {
                                metrics.read[channel.index()].inc();
                            }
                            if source == Source::Channel(Channel::Presence) && event.name == "presence:update" {
                                // Refreshed from the database before it goes out (see `run_presence_refresher`).
                                presence.send_replace(Some(Arc::new(event)));
                            } else {
                                // No receivers is fine: nobody is connected to this replica.
                                let _ = events.send(Arc::new(event));
                            }
                        }
                        last_ids.as_mut().expect("initialised")[position] = entry.id.clone();
                    }
                }
            }
        }
        .await;
        match outcome {
            Ok(()) => return,
            Err(err) => {
                crate::log("warn", "stream reader lost Redis; reconnecting", json!({ "error": err.to_string(), "retryInMs": backoff.as_millis() as u64 }));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// `presence:update` as the README's Realtime section describes it: at most one per interval per replica, always
/// carrying the latest figures. A component computes its figures inside its own transaction, so
/// two concurrent scans can each publish counts that miss the other's; the entry is appended only
/// after that transaction commits, so figures recomputed here, after reading it, include it. The
/// event keeps the newest entry's id, so resume and de-duplication work as for any other event.
pub(crate) async fn run_presence_refresher(shared: Arc<crate::Shared>, mut latest: watch::Receiver<Option<Arc<Event>>>, mut stop: watch::Receiver<bool>) {
    let interval = shared.config.limits.presence_interval;
    let mut last_sent: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            changed = latest.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
        if let Some(sent) = last_sent {
            tokio::select! {
                _ = tokio::time::sleep_until(sent + interval) => {}
                _ = stop.changed() => return,
            }
        }
        let Some(entry) = latest.borrow_and_update().clone() else { continue };
        let event = match shared.pg.run(|db| sentinel_api::backfill::presence(db)).await {
            Ok(figures) => entry.with_data(figures),
            Err(err) => {
                // The published figures are the best we have.
                crate::log("warn", "presence refresh failed; forwarding the published figures", json!({ "error": format!("{err:#}") }));
                entry.with_data(entry.data.clone())
            }
        };
        let _ = shared.events.send(Arc::new(event));
        last_sent = Some(tokio::time::Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::StreamId;

    #[test]
    fn ids_order_numerically() {
        let a: StreamId = "1700000000000-9".parse().unwrap();
        let b: StreamId = "1700000000000-10".parse().unwrap();
        let c: StreamId = "1700000000001-0".parse().unwrap();
        assert!(a < b && b < c);
        assert_eq!(b.to_string(), "1700000000000-10");
        assert_eq!("5".parse::<StreamId>().unwrap(), StreamId { ms: 5, seq: 0 });
        assert!("x-1".parse::<StreamId>().is_err());
    }
}
