//! Redis through spin-sdk's interface: the shared rate-limit counters, and the realtime bus's health
//! check. Realtime events do not pass here: they are written to the database's outbox with their change
//! and the relay appends them to the channel streams (docs/architecture.md, "Realtime").

use std::cell::OnceCell;

use sentinel_http::context::{EventBus, RateCounter};
use sentinel_http::request_metrics::{self, Observation, RequestMetrics};
use spin_sdk::redis::{Connection, RedisParameter};

use crate::LazyVar;

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
    fn ping(&self) -> Result<(), String> {
        let connection = self.connection().ok_or("redis unreachable")?;
        connection.execute("PING", &[]).map(|_| ()).map_err(|e| format!("{e:?}"))
    }
}

fn log_failure(op: &str, detail: &str) {
    sentinel_http::log_line(&serde_json::json!({ "level": "error", "component": "realtime", "op": op, "error": detail }));
}

/// One round trip for every counter: increment, start the window on first hit, report the TTL
/// (`ARGV[i]` is the window of `KEYS[i]`); answers `n1, ttl1, n2, ttl2, …`.
const HIT_SCRIPT: &str = "local out = {} for i, key in ipairs(KEYS) do local w = ARGV[i] local n = redis.call('INCR', key) if n == 1 then redis.call('EXPIRE', key, w) end local t = redis.call('TTL', key) if t < 0 then redis.call('EXPIRE', key, w) t = tonumber(w) end out[#out + 1] = n out[#out + 1] = t end return out";
const PEEK_SCRIPT: &str = "local n = redis.call('GET', KEYS[1]) local t = redis.call('TTL', KEYS[1]) return {tonumber(n or '0'), t}";

impl RateCounter for RedisStreams<'_> {
    fn hit(&self, key: &str, window_secs: u64) -> Result<(u64, u64), String> {
        Ok(self.hit_all(&[(key, window_secs)])?[0])
    }

    fn hit_all(&self, hits: &[(&str, u64)]) -> Result<Vec<(u64, u64)>, String> {
        let keys: Vec<&str> = hits.iter().map(|(key, _)| *key).collect();
        let windows: Vec<String> = hits.iter().map(|(_, window)| window.to_string()).collect();
        let numbers = self.eval(HIT_SCRIPT, &keys, &windows)?;
        if numbers.len() != hits.len() * 2 {
            return Err(format!("unexpected EVAL reply of {} numbers for {} counters", numbers.len(), hits.len()));
        }
        Ok(numbers.chunks(2).map(|pair| (pair[0], pair[1])).collect())
    }

    fn peek(&self, key: &str) -> Result<(u64, u64), String> {
        match self.eval(PEEK_SCRIPT, &[key], &[])?[..] {
            [count, reset] => Ok((count, reset)),
            ref other => Err(format!("unexpected EVAL reply {other:?}")),
        }
    }

    fn clear(&self, key: &str) {
        if let Some(connection) = self.connection() {
            let _ = connection.execute("DEL", &[RedisParameter::Binary(key.as_bytes().to_vec())]);
        }
    }
}

/// One request into the shared metrics hash: its latency bucket and the latency sum (docs/architecture.md, "Metrics").
const RECORD_SCRIPT: &str = "redis.call('HINCRBY', KEYS[1], ARGV[1], 1) redis.call('HINCRBY', KEYS[1], ARGV[2], ARGV[3]) return 0";

impl RequestMetrics for RedisStreams<'_> {
    fn record(&self, observation: &Observation) {
        // A component with no Redis (the presence board's `web`) is not metered: docs/architecture.md, "Metrics".
        if self.address.get().is_none() {
            return;
        }
        let (bucket, sum) = observation.fields();
        if let Err(e) = self.eval(RECORD_SCRIPT, &[request_metrics::KEY], &[bucket, sum, observation.micros.to_string()]) {
            log_failure("request metrics", &e);
        }
    }

    fn read(&self) -> Result<Vec<(String, u64)>, String> {
        let connection = self.connection().ok_or("redis unreachable")?;
        let reply = connection
            .execute("HGETALL", &[RedisParameter::Binary(request_metrics::KEY.as_bytes().to_vec())])
            .map_err(|e| format!("{e:?}"))?;
        let text = |value: &spin_sdk::redis::RedisResult| match value {
            spin_sdk::redis::RedisResult::Binary(bytes) => Ok(String::from_utf8_lossy(bytes).into_owned()),
            spin_sdk::redis::RedisResult::Status(s) => Ok(s.clone()),
            spin_sdk::redis::RedisResult::Int64(n) => Ok(n.to_string()),
            other => Err(format!("unexpected HGETALL reply {other:?}")),
        };
        reply.chunks(2).filter(|pair| pair.len() == 2).map(|pair| Ok((text(&pair[0])?, text(&pair[1])?.parse().unwrap_or(0)))).collect()
    }
}

impl RedisStreams<'_> {
    /// Runs `script` over `keys` and `args`; its reply must be a flat list of integers.
    fn eval(&self, script: &str, keys: &[&str], args: &[String]) -> Result<Vec<u64>, String> {
        let connection = self.connection().ok_or("redis unreachable")?;
        let mut params = vec![RedisParameter::Binary(script.as_bytes().to_vec()), RedisParameter::Int64(keys.len() as i64)];
        params.extend(keys.iter().map(|k| RedisParameter::Binary(k.as_bytes().to_vec())));
        params.extend(args.iter().map(|a| RedisParameter::Binary(a.as_bytes().to_vec())));
        let result = connection.execute("EVAL", &params).map_err(|e| format!("{e:?}"))?;
        result
            .iter()
            .map(|value| match value {
                spin_sdk::redis::RedisResult::Int64(n) => Ok((*n).max(0) as u64),
                other => Err(format!("unexpected EVAL reply {other:?}")),
            })
            .collect()
    }
}
