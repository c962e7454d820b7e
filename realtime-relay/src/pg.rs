//! PostgreSQL for the relay: a small pool, and the [`Database`] port over it
//! so the backfill builders of `sentinel_api::backfill` run here exactly as in
//! the components. The port is synchronous (Spin's `pg4` is), so port calls run
//! on a blocking thread that drives the async client with `Handle::block_on`.

use std::error::Error as _;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use sentinel_http::db::{column_index, Database, DbError, Row, SqlParam, SqlValue};
use tokio::runtime::Handle;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

#[derive(Clone)]
pub struct Pg {
    pool: Pool,
}

impl Pg {
    pub fn new(database_url: &str, max_size: usize) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = database_url.parse().context("invalid database URL")?;
        let manager = Manager::from_config(config, sentinel_pg_tls::connector(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .context("building the PostgreSQL pool")?;
        Ok(Self { pool })
    }

    pub async fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| anyhow::anyhow!("PostgreSQL unavailable: {e}"))
    }

    /// Runs `work` against the [`Database`] port on a blocking thread.
    pub async fn run<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Database) -> Result<T, DbError> + Send + 'static,
    {
        let client = self.client().await?;
        let handle = Handle::current();
        let outcome = tokio::task::spawn_blocking(move || work(&SyncClient { client: &client, handle })).await?;
        outcome.map_err(|e| anyhow::anyhow!("database: {}", e.detail))
    }
}

struct SyncClient<'a> {
    client: &'a deadpool_postgres::Object,
    handle: Handle,
}

impl Database for SyncClient<'_> {
    fn query(&self, sql: &str, params: &[SqlParam]) -> Result<Vec<Row>, DbError> {
        self.handle.block_on(async {
            let statement = self.client.prepare_cached(sql).await.map_err(db_error)?;
            let rows = self.client.query(&statement, &refs(&self::params(params))).await.map_err(db_error)?;
            let columns = column_index(statement.columns().iter().map(|c| c.name().to_string()));
            rows.iter()
                .map(|row| {
                    let values = (0..row.len()).map(|i| decode(row, i)).collect::<Result<Vec<_>, _>>()?;
                    Ok(Row::new(columns.clone(), values))
                })
                .collect()
        })
    }

    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<u64, DbError> {
        self.handle.block_on(async {
            let statement = self.client.prepare_cached(sql).await.map_err(db_error)?;
            self.client.execute(&statement, &refs(&self::params(params))).await.map_err(db_error)
        })
    }
}

/// Port parameters as tokio-postgres parameters.
pub fn params(params: &[SqlParam]) -> Vec<Param<'_>> {
    params.iter().map(Param).collect()
}

pub fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

pub fn db_error(e: tokio_postgres::Error) -> DbError {
    let db = e.as_db_error();
    DbError {
        // A connection that broke has no SQLSTATE; it is PostgreSQL's "connection failure" (a 503 upstream).
        sqlstate: e.code().map(|c| c.code().to_string()).or_else(|| e.is_closed().then(|| sentinel_http::db::CONNECTION_FAILURE.to_string())),
        constraint: db.and_then(|d| d.constraint()).map(str::to_string),
        detail: match e.source() {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

fn decode(row: &tokio_postgres::Row, i: usize) -> Result<SqlValue, DbError> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a tokio_postgres::Row, i: usize) -> Result<Option<T>, DbError> {
        row.try_get::<_, Option<T>>(i).map_err(db_error)
    }
    let ty = row.columns()[i].type_().clone();
    let value = match ty {
        Type::BOOL => get::<bool>(row, i)?.map(SqlValue::Bool),
        Type::INT2 => get::<i16>(row, i)?.map(|v| SqlValue::Int(v.into())),
        Type::INT4 => get::<i32>(row, i)?.map(|v| SqlValue::Int(v.into())),
        Type::INT8 => get::<i64>(row, i)?.map(SqlValue::Int),
        Type::FLOAT4 => get::<f32>(row, i)?.map(|v| SqlValue::Float(v.into())),
        Type::FLOAT8 => get::<f64>(row, i)?.map(SqlValue::Float),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => get::<String>(row, i)?.map(SqlValue::Text),
        Type::UUID => get::<uuid::Uuid>(row, i)?.map(|v| SqlValue::Text(v.to_string())),
        Type::JSON | Type::JSONB => get::<serde_json::Value>(row, i)?.map(SqlValue::Json),
        Type::DATE => get::<chrono::NaiveDate>(row, i)?.map(|d| SqlValue::Text(d.format("%Y-%m-%d").to_string())),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY => get::<Vec<Option<String>>>(row, i)?
            .map(|items| SqlValue::Json(items.into_iter().map(|s| s.map(serde_json::Value::String).unwrap_or_default()).collect())),
        // Spin cannot return these either (timestamptz above all): queries never select them raw.
        _ => Some(SqlValue::Unsupported),
    };
    Ok(value.unwrap_or(SqlValue::Null))
}

/// Binds a port parameter the way the SQL's cast asks for it: Spin binds text and
/// lets the server cast; tokio-postgres types parameters by the statement, so
/// text given for a `uuid`/`timestamptz`/`date`/`jsonb` parameter is converted here.
#[derive(Debug)]
pub struct Param<'a>(pub &'a SqlParam);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self.0 {
            SqlParam::Null => Ok(IsNull::Yes),
            SqlParam::Bool(b) => b.to_sql(ty, out),
            SqlParam::Int32(n) => int_to_sql(i64::from(*n), ty, out),
            SqlParam::Int64(n) => int_to_sql(*n, ty, out),
            SqlParam::Json(v) => v.to_sql(ty, out),
            SqlParam::Text(s) => match *ty {
                Type::UUID => uuid::Uuid::parse_str(s)?.to_sql(ty, out),
                Type::TIMESTAMPTZ => chrono::DateTime::parse_from_rfc3339(s)?.with_timezone(&chrono::Utc).to_sql(ty, out),
                Type::DATE => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")?.to_sql(ty, out),
                Type::JSON | Type::JSONB => serde_json::from_str::<serde_json::Value>(s)?.to_sql(ty, out),
                Type::INT2 | Type::INT4 | Type::INT8 => int_to_sql(s.parse()?, ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn int_to_sql(n: i64, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
    match *ty {
        Type::INT2 => i16::try_from(n)?.to_sql(ty, out),
        Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
        Type::FLOAT8 => (n as f64).to_sql(ty, out),
        Type::FLOAT4 => (n as f32).to_sql(ty, out),
        _ => n.to_sql(ty, out),
    }
}
