//! `spin:postgres/postgres@4.0.0` with Spin 4.0.2's binding and decoding rules.
//! One deadpool pool (max 64) per component and address; statements are prepared once per
//! connection and cached (Spin prepares on every call — same results, fewer round trips).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{Datelike, Timelike};
use futures_util::{pin_mut, TryStreamExt};
use postgres_types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;

use crate::SpinCompat;

use crate::bindings::postgres::{
    Column, DbDataType, DbError, DbValue, Error, Interval, ParameterValue, QueryError, RangeBoundKind, RowSet,
};

const POOL_SIZE: usize = 64;
const POOL_CACHE_CAPACITY: usize = 16;

/// The guest's open connection: a pooled client, returned to the pool on drop.
pub struct PgConnection {
    pub client: deadpool_postgres::Object,
}

/// Per-component pool cache keyed by the address string verbatim.
#[derive(Default)]
pub struct PgPools {
    pools: Mutex<HashMap<String, deadpool_postgres::Pool>>,
}

impl PgPools {
    pub fn pool(&self, address: &str, config: tokio_postgres::Config) -> anyhow::Result<deadpool_postgres::Pool> {
        let mut pools = self.pools.lock().unwrap();
        if let Some(pool) = pools.get(address) {
            return Ok(pool.clone());
        }
        if pools.len() >= POOL_CACHE_CAPACITY {
            if let Some(evict) = pools.keys().next().cloned() {
                pools.remove(&evict);
            }
        }
        let manager = deadpool_postgres::Manager::from_config(
            config,
            // TLS unless sslmode=disable, verified against the system roots, as Spin does.
            sentinel_pg_tls::connector(),
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Clean },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| anyhow::anyhow!("building Postgres connection pool: {e}"))?;
        pools.insert(address.to_string(), pool.clone());
        Ok(pool)
    }
}

/// Hosts to check against the allow-list, as `postgres://host[:port]` strings.
#[allow(clippy::result_large_err)]
pub fn hosts_to_check(config: &tokio_postgres::Config) -> Result<Vec<String>, Error> {
    let ports = config.get_ports();
    let mut out = Vec::new();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let host = match host {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[allow(unreachable_patterns)]
            _ => return Err(Error::ConnectionFailed("Unix sockets are not supported on WebAssembly".into())),
        };
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
        let port = if ports.len() == 1 { ports.first() } else { ports.get(i) };
        out.push(match port {
            Some(p) => format!("postgres://{host}:{p}"),
            None => format!("postgres://{host}"),
        });
    }
    Ok(out)
}

/// tokio-postgres 0.7.12 (what Spin 4.0.2 links) displays an error followed by `: <cause>`;
/// later versions print the cause only through `source()`. Guest-visible texts use the old form.
pub fn pg_display(e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// anyhow-style Debug text of a driver error, with 0.7.12 Display semantics.
fn pg_debug(e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    let mut causes = Vec::new();
    let mut next = e.source();
    while let Some(c) = next {
        causes.push(c.to_string());
        next = c.source();
    }
    crate::debug_chain(pg_display(e), causes)
}

/// Connection/pool failures as Spin renders them (`connection-failed(<anyhow Debug>)`).
pub fn pool_error_text(e: deadpool_postgres::PoolError) -> String {
    use std::error::Error as _;
    match &e {
        deadpool_postgres::PoolError::Backend(inner) => {
            let mut causes = vec![pg_display(inner)];
            let mut next = inner.source();
            while let Some(c) = next {
                causes.push(c.to_string());
                next = c.source();
            }
            crate::debug_chain(format!("Error occurred while creating a new object: {}", pg_display(inner)), causes)
        }
        _ => crate::anyhow_debug(&anyhow::Error::new(e)),
    }
}

fn db_error_of(e: &tokio_postgres::Error) -> QueryError {
    let as_text = format!("{e:?}");
    match e.as_db_error() {
        None => QueryError::Text(as_text),
        Some(db) => {
            let mut extras = Vec::new();
            let mut push = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    extras.push((k.to_string(), v));
                }
            };
            push("column", db.column().map(str::to_string));
            push("constraint", db.constraint().map(str::to_string));
            push("routine", db.routine().map(str::to_string));
            push("hint", db.hint().map(str::to_string));
            push("table", db.table().map(str::to_string));
            push("datatype", db.datatype().map(str::to_string));
            push("schema", db.schema().map(str::to_string));
            push("file", db.file().map(str::to_string));
            push("line", db.line().map(|l| l.to_string()));
            push("where_", db.where_().map(str::to_string));
            QueryError::DbError(DbError {
                as_text,
                severity: db.severity().to_string(),
                code: db.code().code().to_string(),
                message: db.message().to_string(),
                detail: db.detail().map(str::to_string),
                extras,
            })
        }
    }
}

fn query_failed(e: tokio_postgres::Error) -> Error {
    Error::QueryFailed(db_error_of(&e))
}

/// A failure that surfaces while rows stream (after BindComplete). Spin 4.x reports it as text
/// holding the Debug rendering of the WIT error it would otherwise have returned; Spin 3.6 as the
/// driver error's own anyhow-style text (`db error: ERROR: …`), without SQLSTATE.
fn execution_failure(compat: SpinCompat, e: tokio_postgres::Error) -> Error {
    match compat {
        SpinCompat::V3_6 => Error::QueryFailed(QueryError::Text(pg_debug(&e))),
        _ => Error::QueryFailed(QueryError::Text(format!("{:?}", query_failed(e)))),
    }
}

/// A row that fails to decode: Spin 4.x wraps the text like [`execution_failure`]; 3.6 sends it bare.
fn decode_failure(compat: SpinCompat, text: String) -> Error {
    match compat {
        SpinCompat::V3_6 => Error::QueryFailed(QueryError::Text(text)),
        _ => Error::QueryFailed(QueryError::Text(format!("{:?}", Error::QueryFailed(QueryError::Text(text))))),
    }
}

type SqlParam = Box<dyn ToSql + Send + Sync>;

fn to_sql_params(params: &[ParameterValue]) -> anyhow::Result<Vec<SqlParam>> {
    params.iter().map(to_sql_param).collect()
}

/// `query` as the Spin release `compat` serves it. The outer error is a trap: in strict 4.0 mode
/// a statement that matches no row fails the request (Spin 4.0.0–4.0.2 would hang it forever).
pub async fn query(
    conn: &PgConnection,
    statement: &str,
    params: Vec<ParameterValue>,
    compat: SpinCompat,
    component: &str,
) -> wasmtime::Result<Result<RowSet, Error>> {
    let params = match to_sql_params(&params) {
        Ok(p) => p,
        Err(e) => return Ok(Err(Error::BadParameter(crate::anyhow_debug(&e)))),
    };
    let prepared = match conn.client.prepare_cached(statement).await {
        Ok(p) => p,
        Err(e) => return Ok(Err(query_failed(e))),
    };
    let refs = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync));
    let stream = match conn.client.query_raw(&prepared, refs).await {
        Ok(s) => s,
        Err(e) => return Ok(Err(query_failed(e))),
    };
    pin_mut!(stream);
    let mut rows: Vec<Row> = Vec::new();
    loop {
        match stream.try_next().await {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => break,
            Err(e) => return Ok(Err(execution_failure(compat, e))),
        }
    }
    let Some(first) = rows.first() else {
        return match compat {
            SpinCompat::V3_6 => Ok(Ok(RowSet { columns: Vec::new(), rows: Vec::new() })),
            SpinCompat::V4_1 => Ok(Ok(RowSet { columns: columns_of(prepared.columns()), rows: Vec::new() })),
            SpinCompat::V4_0 => {
                let message = format!(
                    "spin-compat 4.0: component {component:?} ran a `query` that matched no row; Spin 4.0.0, 4.0.1 \
                     and 4.0.2 never return from it (the request hangs forever). Statement: {statement}"
                );
                eprintln!("error: {message}");
                Err(wasmtime::Error::msg(message))
            }
        };
    };
    let columns = columns_of(first.columns());
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            match decode(row, i) {
                Ok(value) => values.push(value),
                Err(e) => return Ok(Err(decode_failure(compat, e))),
            }
        }
        out.push(values);
    }
    Ok(Ok(RowSet { columns, rows: out }))
}

fn columns_of(columns: &[tokio_postgres::Column]) -> Vec<Column> {
    columns.iter().map(|c| Column { name: c.name().to_string(), data_type: data_type_of(c.type_()) }).collect()
}

pub async fn execute(conn: &PgConnection, statement: &str, params: Vec<ParameterValue>) -> Result<u64, Error> {
    let params = to_sql_params(&params).map_err(|e| Error::ValueConversionFailed(crate::anyhow_debug(&e)))?;
    let statement = conn.client.prepare_cached(statement).await.map_err(query_failed)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    conn.client.execute(&statement, &refs).await.map_err(query_failed)
}

pub fn data_type_of(t: &Type) -> DbDataType {
    match *t {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(t.name().to_string()),
    }
}

/// Decodes one column; the error is already the text Spin puts in the guest error.
fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize, f: impl FnOnce(T) -> anyhow::Result<DbValue>) -> Result<DbValue, String> {
    // try_get checks the type before looking at NULL, so a timestamptz column fails even when NULL.
    match row.try_get::<_, Option<T>>(i) {
        Err(e) => Err(pg_debug(&e)),
        Ok(Some(v)) => f(v).map_err(|e| crate::anyhow_debug(&e)),
        Ok(None) => Ok(DbValue::DbNull),
    }
}

fn decode(row: &Row, i: usize) -> Result<DbValue, String> {
    let t = row.columns()[i].type_().clone();
    match t {
        Type::BOOL => get(row, i, |v| Ok(DbValue::Boolean(v))),
        Type::BYTEA => get(row, i, |v| Ok(DbValue::Binary(v))),
        Type::FLOAT4 => get(row, i, |v| Ok(DbValue::Floating32(v))),
        Type::FLOAT8 => get(row, i, |v| Ok(DbValue::Floating64(v))),
        Type::INT2 => get(row, i, |v| Ok(DbValue::Int16(v))),
        Type::INT4 => get(row, i, |v| Ok(DbValue::Int32(v))),
        Type::INT8 => get(row, i, |v| Ok(DbValue::Int64(v))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get(row, i, |v| Ok(DbValue::Str(v))),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => get(row, i, |v: chrono::NaiveDateTime| {
            Ok(DbValue::Datetime((
                v.year(),
                v.month().try_into()?,
                v.day().try_into()?,
                v.hour().try_into()?,
                v.minute().try_into()?,
                v.second().try_into()?,
                v.nanosecond(),
            )))
        }),
        Type::DATE => get(row, i, |v: chrono::NaiveDate| {
            Ok(DbValue::Date((v.year(), v.month().try_into()?, v.day().try_into()?)))
        }),
        Type::TIME => get(row, i, |v: chrono::NaiveTime| {
            Ok(DbValue::Time((v.hour().try_into()?, v.minute().try_into()?, v.second().try_into()?, v.nanosecond())))
        }),
        Type::UUID => get(row, i, |v: uuid::Uuid| Ok(DbValue::Uuid(v.to_string()))),
        Type::JSONB => get(row, i, |v: serde_json::Value| {
            Ok(DbValue::Jsonb(canonical_json(&v).map_err(|e| anyhow::Error::new(e).context("invalid JSON from database"))?))
        }),
        Type::NUMERIC => get(row, i, |v: rust_decimal::Decimal| Ok(DbValue::Decimal(v.to_string()))),
        Type::INT4_ARRAY => get(row, i, |v| Ok(DbValue::ArrayInt32(v))),
        Type::INT8_ARRAY => get(row, i, |v| Ok(DbValue::ArrayInt64(v))),
        Type::NUMERIC_ARRAY => get(row, i, |v: Vec<Option<rust_decimal::Decimal>>| {
            Ok(DbValue::ArrayDecimal(v.into_iter().map(|d| d.map(|d| d.to_string())).collect()))
        }),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => get(row, i, |v| Ok(DbValue::ArrayStr(v))),
        Type::INTERVAL => get(row, i, |v: PgInterval| Ok(DbValue::Interval(v.0))),
        Type::INT4_RANGE => get(row, i, |v: PgRange<i32>| Ok(DbValue::RangeInt32(v.bounds()))),
        Type::INT8_RANGE => get(row, i, |v: PgRange<i64>| Ok(DbValue::RangeInt64(v.bounds()))),
        Type::NUM_RANGE => get(row, i, |v: PgRange<rust_decimal::Decimal>| {
            let (l, u) = v.bounds();
            Ok(DbValue::RangeDecimal((l.map(|(d, k)| (d.to_string(), k)), u.map(|(d, k)| (d.to_string(), k)))))
        }),
        _ => get(row, i, |v: RawValue| Ok(DbValue::Unsupported(v.0))),
    }
}

/// serde_json's default (BTreeMap-backed) rendering: compact, object keys sorted bytewise.
/// Done explicitly so another crate enabling `preserve_order` cannot change it.
fn canonical_json(v: &serde_json::Value) -> serde_json::Result<Vec<u8>> {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut entries: Vec<_> = m.iter().collect();
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), sort(v))).collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sort(v))
}

fn to_sql_param(value: &ParameterValue) -> anyhow::Result<SqlParam> {
    use anyhow::{anyhow, Context};
    let date = |(y, m, d): (i32, u8, u8)| {
        chrono::NaiveDate::from_ymd_opt(y, m.into(), d.into()).ok_or_else(|| anyhow!("invalid date y={y}, m={m}, d={d}"))
    };
    let time = |(h, mi, s, ns): (u8, u8, u8, u32)| {
        chrono::NaiveTime::from_hms_nano_opt(h.into(), mi.into(), s.into(), ns)
            .ok_or_else(|| anyhow!("invalid time {h}:{mi}:{s}:{ns}"))
    };
    let decimal = |s: &str| rust_decimal::Decimal::from_str_exact(s).with_context(|| format!("invalid decimal {s}"));
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(*v),
        ParameterValue::Int8(v) => Box::new(*v),
        ParameterValue::Int16(v) => Box::new(*v),
        ParameterValue::Int32(v) => Box::new(*v),
        ParameterValue::Int64(v) => Box::new(*v),
        ParameterValue::Floating32(v) => Box::new(*v),
        ParameterValue::Floating64(v) => Box::new(*v),
        ParameterValue::Str(v) => Box::new(v.clone()),
        ParameterValue::Binary(v) => Box::new(v.clone()),
        ParameterValue::Date(v) => Box::new(date(*v)?),
        ParameterValue::Time(v) => Box::new(time(*v)?),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => {
            Box::new(chrono::NaiveDateTime::new(date((*y, *mo, *d))?, time((*h, *mi, *s, *ns))?))
        }
        ParameterValue::Timestamp(v) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(*v, 0).ok_or_else(|| anyhow!("invalid epoch timestamp {v}"))?,
        ),
        ParameterValue::Uuid(v) => Box::new(uuid::Uuid::parse_str(v).with_context(|| format!("invalid UUID {v}"))?),
        ParameterValue::Jsonb(v) => Box::new(
            serde_json::from_slice::<serde_json::Value>(v)
                .with_context(|| format!("invalid JSON {}", String::from_utf8_lossy(v)))?,
        ),
        ParameterValue::Decimal(v) => Box::new(decimal(v)?),
        ParameterValue::ArrayInt32(v) => Box::new(v.clone()),
        ParameterValue::ArrayInt64(v) => Box::new(v.clone()),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter()
                .map(|d| d.as_deref().map(decimal).transpose())
                .collect::<anyhow::Result<Vec<Option<rust_decimal::Decimal>>>>()?,
        ),
        ParameterValue::ArrayStr(v) => Box::new(v.clone()),
        ParameterValue::Interval(v) => Box::new(PgInterval(*v)),
        ParameterValue::DbNull => Box::new(PgNull),
        ParameterValue::RangeInt32((l, u)) => Box::new(PgRange::new(*l, *u)),
        ParameterValue::RangeInt64((l, u)) => Box::new(PgRange::new(*l, *u)),
        ParameterValue::RangeDecimal((l, u)) => {
            let bound = |b: &Option<(String, RangeBoundKind)>| -> anyhow::Result<Option<(rust_decimal::Decimal, RangeBoundKind)>> {
                b.as_ref().map(|(v, k)| Ok((decimal(v)?, *k))).transpose()
            };
            Box::new(PgRange::new(bound(l)?, bound(u)?))
        }
    })
}

/// NULL for a parameter of any type.
#[derive(Debug)]
struct PgNull;

impl ToSql for PgNull {
    fn to_sql(&self, _: &Type, _: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// Postgres `interval` wire format: i64 microseconds, i32 days, i32 months.
#[derive(Debug)]
struct PgInterval(Interval);

impl ToSql for PgInterval {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0.micros.to_be_bytes());
        out.extend_from_slice(&self.0.days.to_be_bytes());
        out.extend_from_slice(&self.0.months.to_be_bytes());
        Ok(IsNull::No)
    }
    fn accepts(t: &Type) -> bool {
        *t == Type::INTERVAL
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        if raw.len() != 16 {
            return Err("invalid interval length".into());
        }
        Ok(Self(Interval {
            micros: i64::from_be_bytes(raw[0..8].try_into()?),
            days: i32::from_be_bytes(raw[8..12].try_into()?),
            months: i32::from_be_bytes(raw[12..16].try_into()?),
        }))
    }
    fn accepts(t: &Type) -> bool {
        *t == Type::INTERVAL
    }
}

/// A range over an element type, in Postgres' binary range format.
trait RangeElement: Copy + PartialOrd + std::fmt::Debug + Send + Sync + ToSql + for<'a> FromSql<'a> + 'static {
    const ELEMENT: Type;
    const RANGE: Type;
    /// The next value for discrete types (ranges are normalised to `[a,b)`); None if continuous.
    fn successor(self) -> Option<Self>;
}

impl RangeElement for i32 {
    const ELEMENT: Type = Type::INT4;
    const RANGE: Type = Type::INT4_RANGE;
    fn successor(self) -> Option<Self> {
        Some(self.saturating_add(1))
    }
}

impl RangeElement for i64 {
    const ELEMENT: Type = Type::INT8;
    const RANGE: Type = Type::INT8_RANGE;
    fn successor(self) -> Option<Self> {
        Some(self.saturating_add(1))
    }
}

impl RangeElement for rust_decimal::Decimal {
    const ELEMENT: Type = Type::NUMERIC;
    const RANGE: Type = Type::NUM_RANGE;
    fn successor(self) -> Option<Self> {
        None
    }
}

type Bound<T> = Option<(T, RangeBoundKind)>;

#[derive(Debug)]
struct PgRange<T> {
    lower: Bound<T>,
    upper: Bound<T>,
    empty: bool,
}

impl<T: RangeElement> PgRange<T> {
    /// Normalises discrete ranges to `[a,b)`; a lower bound above the upper one makes it empty.
    fn new(mut lower: Bound<T>, mut upper: Bound<T>) -> Self {
        if let Some((v, RangeBoundKind::Exclusive)) = lower {
            if let Some(next) = v.successor() {
                lower = Some((next, RangeBoundKind::Inclusive));
            }
        }
        if let Some((v, RangeBoundKind::Inclusive)) = upper {
            if let Some(next) = v.successor() {
                upper = Some((next, RangeBoundKind::Exclusive));
            }
        }
        let empty = match (&lower, &upper) {
            (Some((l, lk)), Some((u, uk))) => {
                l > u || (l == u && !(*lk == RangeBoundKind::Inclusive && *uk == RangeBoundKind::Inclusive))
            }
            _ => false,
        };
        Self { lower, upper, empty }
    }

    /// An empty range reads as unbounded on both sides (as in Spin).
    fn bounds(self) -> (Bound<T>, Bound<T>) {
        if self.empty { (None, None) } else { (self.lower, self.upper) }
    }
}

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;

impl<T: RangeElement> ToSql for PgRange<T> {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if self.empty {
            out.extend_from_slice(&[RANGE_EMPTY]);
            return Ok(IsNull::No);
        }
        let mut flags = 0;
        match &self.lower {
            None => flags |= RANGE_LB_INF,
            Some((_, RangeBoundKind::Inclusive)) => flags |= RANGE_LB_INC,
            Some(_) => {}
        }
        match &self.upper {
            None => flags |= RANGE_UB_INF,
            Some((_, RangeBoundKind::Inclusive)) => flags |= RANGE_UB_INC,
            Some(_) => {}
        }
        out.extend_from_slice(&[flags]);
        for (v, _) in [&self.lower, &self.upper].into_iter().flatten() {
            let mut element = bytes::BytesMut::new();
            v.to_sql(&T::ELEMENT, &mut element)?;
            out.extend_from_slice(&(element.len() as i32).to_be_bytes());
            out.extend_from_slice(&element);
        }
        Ok(IsNull::No)
    }
    fn accepts(t: &Type) -> bool {
        *t == T::RANGE
    }
    to_sql_checked!();
}

impl<'a, T: RangeElement> FromSql<'a> for PgRange<T> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let (&flags, mut rest) = raw.split_first().ok_or("invalid range")?;
        if flags & RANGE_EMPTY != 0 {
            return Ok(Self { lower: None, upper: None, empty: true });
        }
        let mut read = |inclusive: bool| -> Result<Bound<T>, Box<dyn std::error::Error + Sync + Send>> {
            let len = i32::from_be_bytes(rest.get(..4).ok_or("invalid range")?.try_into()?) as usize;
            let element = rest.get(4..4 + len).ok_or("invalid range")?;
            rest = &rest[4 + len..];
            let kind = if inclusive { RangeBoundKind::Inclusive } else { RangeBoundKind::Exclusive };
            Ok(Some((T::from_sql(&T::ELEMENT, element)?, kind)))
        };
        let lower = if flags & RANGE_LB_INF != 0 { None } else { read(flags & RANGE_LB_INC != 0)? };
        let upper = if flags & RANGE_UB_INF != 0 { None } else { read(flags & RANGE_UB_INC != 0)? };
        Ok(Self { lower, upper, empty: false })
    }
    fn accepts(t: &Type) -> bool {
        *t == T::RANGE
    }
}

/// Raw binary wire bytes of a type the host does not understand.
struct RawValue(Vec<u8>);

impl<'a> FromSql<'a> for RawValue {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_compact_and_sorted() {
        let v: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "B": true}}"#).unwrap();
        assert_eq!(String::from_utf8(canonical_json(&v).unwrap()).unwrap(), r#"{"a":{"B":true,"z":[1,{"x":3,"y":2}]},"b":1}"#);
    }

    #[test]
    fn parameter_parse_failures() {
        let e = to_sql_param(&ParameterValue::Uuid("nope".into())).err().unwrap();
        assert!(crate::anyhow_debug(&e).starts_with("invalid UUID nope\n\nCaused by:\n    "));
        let e = to_sql_param(&ParameterValue::Date((2020, 2, 30))).err().unwrap();
        assert_eq!(crate::anyhow_debug(&e), "invalid date y=2020, m=2, d=30");
        let e = to_sql_param(&ParameterValue::Timestamp(i64::MAX)).err().unwrap();
        assert_eq!(e.to_string(), format!("invalid epoch timestamp {}", i64::MAX));
        assert!(to_sql_param(&ParameterValue::Decimal("1e5".into())).is_err());
        assert!(to_sql_param(&ParameterValue::Decimal("1_000.5".into())).is_ok());
    }

    #[test]
    fn discrete_ranges_normalise_and_empty_ranges_read_unbounded() {
        use RangeBoundKind::*;
        let r = PgRange::new(Some((1i32, Exclusive)), Some((5, Inclusive)));
        assert_eq!((r.lower, r.upper, r.empty), (Some((2, Inclusive)), Some((6, Exclusive)), false));
        let r = PgRange::new(Some((5i64, Inclusive)), Some((1, Exclusive)));
        assert_eq!(r.bounds(), (None, None));
        let mut buf = bytes::BytesMut::new();
        let r = PgRange::new(Some((1i32, Inclusive)), None);
        r.to_sql(&Type::INT4_RANGE, &mut buf).unwrap();
        let back = PgRange::<i32>::from_sql(&Type::INT4_RANGE, &buf).unwrap();
        assert_eq!(back.bounds(), (Some((1, Inclusive)), None));
    }

    #[test]
    fn hosts_for_allow_check() {
        let c: tokio_postgres::Config = "postgres://u:p@db.local:5433/x".parse().unwrap();
        assert_eq!(hosts_to_check(&c).unwrap(), vec!["postgres://db.local:5433"]);
        let c: tokio_postgres::Config = "host=a,b port=7 user=u".parse().unwrap();
        assert_eq!(hosts_to_check(&c).unwrap(), vec!["postgres://a:7", "postgres://b:7"]);
        let c: tokio_postgres::Config = "postgres://u@h/x".parse().unwrap();
        assert_eq!(hosts_to_check(&c).unwrap().len(), 1);
    }
}
