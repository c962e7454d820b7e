//! [`EventBus`] that appends events to per-channel Redis streams
//! (`sentinel:rt:<channel>`, realtime.md §1) through spin-sdk's Redis
//! interface. A failure is logged and never fails the request: the
//! database is the truth.

use std::cell::OnceCell;

use sentinel_http::context::{EventBus, RateCounter};
use spin_sdk::redis::{Connection, RedisParameter};

use crate::LazyVar;

/// Streams keep roughly this many entries per channel (approximate trimming).
pub const STREAM_MAX_LEN: i64 = 10_000;

pub struct RedisStreams<'a> {
    address: LazyVar<'a>,
    connection: OnceCell<Option<Connection>>,
}

impl<'a> RedisStreams<'a> {
    pub(crate) fn new(address: LazyVar<'a>) -> Self {
        Self { address, connection: OnceCell::new() }
    }

    fn connection(&self) -> Option<&Connection> {
        self.connection
            .get_or_init(|| {
                let address = self.address.get()?;
                Connection::open(address).map_err(|e| log_failure("open", &format!("{e:?}"))).ok()
            })
            .as_ref()
    }
}

impl EventBus for RedisStreams<'_> {
    fn publish(&self, channel: &str, event: &str, data: serde_json::Value) {
        let Some(connection) = self.connection() else { return };
        let ts = sentinel_http::domain::time::now_iso();
        let args = [
            format!("sentinel:rt:{channel}"),
            "MAXLEN".into(),
            "~".into(),
            STREAM_MAX_LEN.to_string(),
            "*".into(),
            "event".into(),
            event.into(),
            "ts".into(),
            ts,
            "data".into(),
            data.to_string(),
        ];
        let args: Vec<RedisParameter> = args.into_iter().map(|a| RedisParameter::Binary(a.into_bytes())).collect();
        if let Err(e) = connection.execute("XADD", &args) {
            log_failure("xadd", &format!("{e:?}"));
        }
    }

    fn ping(&self) -> Result<(), String> {
        let connection = self.connection().ok_or("redis unreachable")?;
        connection.execute("PING", &[]).map(|_| ()).map_err(|e| format!("{e:?}"))
    }
}

fn log_failure(op: &str, detail: &str) {
    eprintln!("{}", serde_json::json!({ "level": "error", "component": "realtime", "op": op, "error": detail }));
}

/// One round trip: increment, start the window on first hit, report the TTL.
const HIT_SCRIPT: &str = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end local t = redis.call('TTL', KEYS[1]) if t < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) t = tonumber(ARGV[1]) end return {n, t}";
const PEEK_SCRIPT: &str = "local n = redis.call('GET', KEYS[1]) local t = redis.call('TTL', KEYS[1]) return {tonumber(n or '0'), t}";

impl RateCounter for RedisStreams<'_> {
    fn hit(&self, key: &str, window_secs: u64) -> Result<(u64, u64), String> {
        self.eval(HIT_SCRIPT, key, &[window_secs.to_string()])
    }

    fn peek(&self, key: &str) -> Result<(u64, u64), String> {
        self.eval(PEEK_SCRIPT, key, &[])
    }

    fn clear(&self, key: &str) {
        if let Some(connection) = self.connection() {
            let _ = connection.execute("DEL", &[RedisParameter::Binary(key.as_bytes().to_vec())]);
        }
    }
}

impl RedisStreams<'_> {
    fn eval(&self, script: &str, key: &str, args: &[String]) -> Result<(u64, u64), String> {
        let connection = self.connection().ok_or("redis unreachable")?;
        let mut params = vec![
            RedisParameter::Binary(script.as_bytes().to_vec()),
            RedisParameter::Int64(1),
            RedisParameter::Binary(key.as_bytes().to_vec()),
        ];
        params.extend(args.iter().map(|a| RedisParameter::Binary(a.as_bytes().to_vec())));
        let result = connection.execute("EVAL", &params).map_err(|e| format!("{e:?}"))?;
        let number = |i: usize| match result.get(i) {
            Some(spin_sdk::redis::RedisResult::Int64(n)) => Ok((*n).max(0) as u64),
            other => Err(format!("unexpected EVAL reply {other:?}")),
        };
        Ok((number(0)?, number(1)?))
    }
}
