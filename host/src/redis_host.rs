//! `fermyon:spin/redis@2.0.0`: Spin's command mapping and `execute` result flattening.
//! Connections are multiplexed and cached per address (Spin opens one per `open`).

use std::collections::HashMap;
use std::sync::Mutex;

use redis::aio::MultiplexedConnection;
use redis::{ErrorKind, FromRedisValue, RedisError, Value};

use crate::bindings::redis::{Error, RedisParameter, RedisResult};

pub struct RedisConnection {
    pub address: String,
    pub conn: MultiplexedConnection,
}

#[derive(Default)]
pub struct RedisClients {
    conns: tokio::sync::Mutex<HashMap<String, MultiplexedConnection>>,
    _guard: Mutex<()>,
}

impl RedisClients {
    pub async fn connect(&self, address: &str) -> Result<MultiplexedConnection, Error> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(address) {
            return Ok(c.clone());
        }
        let client = redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| Error::Other(e.to_string()))?;
        conns.insert(address.to_string(), conn.clone());
        Ok(conn)
    }

    /// Drops a cached connection after an I/O failure so the next `open` reconnects.
    pub async fn forget_if_broken(&self, address: &str, e: &RedisError) {
        if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
            self.conns.lock().await.remove(address);
        }
    }
}

pub fn other(e: &RedisError) -> Error {
    Error::Other(e.to_string())
}

pub async fn run<T: FromRedisValue>(
    conn: &mut MultiplexedConnection,
    cmd: &redis::Cmd,
) -> Result<T, RedisError> {
    cmd.query_async::<T>(conn).await
}

pub fn execute_command(command: &str, arguments: &[RedisParameter]) -> redis::Cmd {
    let mut cmd = redis::cmd(command);
    for a in arguments {
        match a {
            RedisParameter::Int64(n) => cmd.arg(*n),
            RedisParameter::Binary(b) => cmd.arg(b.as_slice()),
        };
    }
    cmd
}

/// Flattens a reply into Spin's list of `redis-result`.
pub fn flatten(value: Value, out: &mut Vec<RedisResult>) -> Result<(), Error> {
    match value {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(n) => out.push(RedisResult::Int64(n)),
        Value::BulkString(b) => out.push(RedisResult::Binary(b)),
        Value::Okay => out.push(RedisResult::Status("OK".to_string())),
        Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                flatten(item, out)?;
            }
        }
        Value::Double(d) => out.push(RedisResult::Binary(d.to_string().into_bytes())),
        Value::Boolean(b) => out.push(RedisResult::Int64(b as i64)),
        Value::ServerError(e) => return Err(other(&RedisError::from(e))),
        other_value => {
            let e = RedisError::from((
                ErrorKind::TypeError,
                "Could not convert from redis value",
                format!("{other_value:?}"),
            ));
            return Err(other(&e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_nested_arrays() {
        let v = Value::Array(vec![
            Value::Array(vec![
                Value::BulkString(b"1-0".to_vec()),
                Value::Array(vec![Value::BulkString(b"k".to_vec()), Value::BulkString(b"v".to_vec())]),
            ]),
            Value::Okay,
            Value::SimpleString("PONG".into()),
            Value::Int(3),
            Value::Nil,
            Value::Array(vec![]),
        ]);
        let mut out = Vec::new();
        flatten(v, &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                RedisResult::Binary(b"1-0".to_vec()),
                RedisResult::Binary(b"k".to_vec()),
                RedisResult::Binary(b"v".to_vec()),
                RedisResult::Status("OK".into()),
                RedisResult::Status("PONG".into()),
                RedisResult::Int64(3),
                RedisResult::Nil,
            ]
        );
    }
}
