//! [`EventBus`] that appends events to per-channel Redis streams
//! (`sentinel:rt:<channel>`, realtime.md §1) through spin-sdk's Redis
//! interface. A failure is logged and never fails the request: the
//! database is the truth.

use std::cell::OnceCell;

use sentinel_http::context::EventBus;
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
