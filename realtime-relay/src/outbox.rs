//! The outbox publisher (docs/architecture.md, "Realtime"; docs/database.md, "Realtime outbox").
//!
//! Components never append to Redis: every realtime event is a row of `event_outbox`, written in the
//! transaction of the change it announces, so a change and its events commit together and an event
//! survives a Redis outage or a crash right after the commit. Every relay replica runs this loop:
//!
//! 1. read the rows every older transaction has finished with (`txid` below the snapshot's `xmin`: no
//!    earlier row can still appear), in `(txid, id)` order;
//! 2. append them to the channel streams in one Redis script, which skips rows at or below the
//!    position it last appended (kept in Redis beside the streams) — so replicas racing over the same
//!    rows, or a publisher that crashed between the append and the delete, never append a row twice;
//! 3. delete them.
//!
//! `presence:update` rows carry no figures (a scan must not count the whole unit): a pass reads
//! `presence_figures()` once, after the rows it announces committed, and appends only the newest
//! `presence:update` of its rows with those figures — the figures are a state, the older ones are stale.
//!
//! While Redis is down the rows wait in PostgreSQL; when it returns they are appended in order, and a
//! dashboard resuming with `since` gets every one of them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::channels::STREAM_PREFIX;
use crate::hub::RedisHandle;
use crate::metrics::Metrics;
use crate::pg::Pg;

/// Rows per pass (one SELECT, one Redis script, one DELETE).
pub const BATCH: i64 = 500;

/// Streams keep roughly this many entries per channel (approximate trimming).
pub const STREAM_MAX_LEN: i64 = 10_000;

/// The `(txid, id)` of the newest row appended, as `txid:id`.
pub const WATERMARK_KEY: &str = "sentinel:rt:outbox:last";

const READ: &str = "SELECT id, txid::text AS txid, channel, event, ts, data::text AS data FROM event_outbox
                    WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY txid, id LIMIT $1";
const DELETE: &str = "DELETE FROM event_outbox WHERE id = ANY($1)";
const PRESENCE: &str = "SELECT presence_figures()::text";

fn is_presence_update(row: &tokio_postgres::Row) -> bool {
    row.get::<_, &str>("channel") == "presence" && row.get::<_, &str>("event") == "presence:update"
}

/// `ARGV[1]` the stream length; then six per row: txid, id, stream, event, ts, data. Rows at or below
/// the watermark are skipped; answers how many were appended.
const APPEND_SCRIPT: &str = r#"
local last = redis.call('GET', KEYS[1])
local lt, li = -1, -1
if last then
  local sep = string.find(last, ':', 1, true)
  lt = tonumber(string.sub(last, 1, sep - 1))
  li = tonumber(string.sub(last, sep + 1))
end
local appended, mark = 0, nil
for i = 2, #ARGV, 6 do
  local t, id = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if t > lt or (t == lt and id > li) then
    redis.call('XADD', ARGV[i + 2], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[i + 3], 'ts', ARGV[i + 4], 'data', ARGV[i + 5])
    lt, li, mark = t, id, ARGV[i] .. ':' .. ARGV[i + 1]
    appended = appended + 1
  end
end
if mark then redis.call('SET', KEYS[1], mark) end
return appended
"#;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Rows taken from the outbox (and deleted).
    pub rows: usize,
    /// Of those, appended by this pass (the rest another publisher had appended already).
    pub appended: usize,
}

/// One pass over the outbox: read, append, delete.
pub async fn drain_once(pg: &Pg, redis: &RedisHandle) -> anyhow::Result<Pass> {
    let client = pg.client().await?;
    let read = client.prepare_cached(READ).await?;
    let rows = client.query(&read, &[&BATCH]).await?;
    if rows.is_empty() {
        return Ok(Pass::default());
    }
    let newest_presence = rows.iter().rposition(is_presence_update);
    let figures: Option<String> = match newest_presence {
        Some(_) => Some(client.query_one(&client.prepare_cached(PRESENCE).await?, &[]).await?.get(0)),
        None => None,
    };
    let mut script = redis::cmd("EVAL");
    script.arg(APPEND_SCRIPT).arg(1).arg(WATERMARK_KEY).arg(STREAM_MAX_LEN);
    let mut ids = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let id: i64 = row.get("id");
        ids.push(id);
        let data = match (&figures, is_presence_update(row)) {
            (Some(figures), true) if Some(i) == newest_presence => figures.as_str(),
            (_, true) => continue,
            (_, false) => row.get::<_, &str>("data"),
        };
        let channel: &str = row.get("channel");
        script
            .arg(row.get::<_, &str>("txid"))
            .arg(id)
            .arg(format!("{STREAM_PREFIX}{channel}"))
            .arg(row.get::<_, &str>("event"))
            .arg(row.get::<_, &str>("ts"))
            .arg(data);
    }
    let appended: i64 = redis.query(&script).await?;
    let delete = client.prepare_cached(DELETE).await?;
    client.execute(&delete, &[&ids]).await?;
    Ok(Pass { rows: rows.len(), appended: appended.max(0) as usize })
}

/// Drains until the outbox holds nothing older than the running transactions (used after a one-off
/// run such as `sentinel jobs run`).
pub async fn drain_all(pg: &Pg, redis: &RedisHandle) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let pass = drain_once(pg, redis).await?;
        total += pass.appended;
        if pass.rows < BATCH as usize {
            return Ok(total);
        }
    }
}

/// The replica's publisher loop: a pass every `interval` while idle, back to back while rows remain;
/// on failure (PostgreSQL or Redis away) it retries with backoff and logs the outage once.
pub(crate) async fn run(pg: Pg, redis: Arc<RedisHandle>, metrics: Option<Arc<Metrics>>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut backoff = interval;
    let mut failing = false;
    let mut last_logged = None;
    loop {
        let wait = match drain_once(&pg, &redis).await {
            Ok(pass) => {
                if failing {
                    crate::log("info", "outbox publisher recovered", json!({}));
                    failing = false;
                    last_logged = None;
                }
                if let Some(metrics) = &metrics {
                    metrics.outbox_appended.inc_by(pass.appended as u64);
                }
                backoff = interval;
                if pass.rows == BATCH as usize {
                    Duration::ZERO
                } else {
                    interval
                }
            }
            Err(err) => {
                // Logged when the outage starts and every 10 s while it lasts, with the latest error.
                if !failing || last_logged.is_none_or(|at: std::time::Instant| at.elapsed() >= Duration::from_secs(10)) {
                    crate::log("warn", "outbox publisher cannot publish; retrying", json!({ "error": format!("{err:#}") }));
                    last_logged = Some(std::time::Instant::now());
                    failing = true;
                }
                backoff = (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(2));
                backoff
            }
        };
        if *stop.borrow() {
            return;
        }
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// A publisher running on its own (tests, tools): the same loop as a relay replica's, stopped on drop.
pub struct Publisher {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Publisher {
    /// Starts the loop on the current Tokio runtime.
    pub fn start(database_url: &str, redis_url: &str, interval: Duration) -> anyhow::Result<Publisher> {
        let pg = Pg::new(database_url, 2)?;
        let redis = Arc::new(RedisHandle::new(redis_url)?);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(pg, redis, None, interval, stop_rx));
        Ok(Publisher { stop, task: Some(task) })
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
