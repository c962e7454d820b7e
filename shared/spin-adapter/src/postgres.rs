//! [`Database`] over `spin:postgres/postgres@4.0.0`.

use std::cell::OnceCell;

use sentinel_http::db::{column_index, Database, DbError, Row, SqlParam, SqlValue};
use sentinel_http::statement;
use spin_sdk::pg4::{self, Connection, DbValue, ParameterValue};

use crate::LazyVar;

/// Opens the connection on first use; Spin returns it to its pool when the
/// instance ends.
pub struct SpinPostgres<'a> {
    address: LazyVar<'a>,
    connection: OnceCell<Result<Connection, DbError>>,
}

impl<'a> SpinPostgres<'a> {
    pub(crate) fn new(address: LazyVar<'a>) -> Self {
        Self { address, connection: OnceCell::new() }
    }

    fn connection(&self) -> Result<&Connection, DbError> {
        self.connection
            .get_or_init(|| {
                let address = self.address.get().ok_or_else(|| plain("variable database_url is not set"))?;
                Connection::open(address).map_err(convert_error)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl SpinPostgres<'_> {
    fn rows(&self, sql: &str, params: &[SqlParam]) -> Result<(Vec<String>, Vec<Vec<DbValue>>), DbError> {
        let params: Vec<ParameterValue> = params.iter().map(to_parameter).collect();
        let set = self.connection()?.query(sql, &params).map_err(convert_error)?;
        Ok((set.columns.into_iter().map(|c| c.name).collect(), set.rows))
    }
}

fn to_rows(columns: Vec<String>, rows: Vec<Vec<DbValue>>) -> Vec<Row> {
    let columns = column_index(columns);
    rows.into_iter().map(|row| Row::new(columns.clone(), row.into_iter().map(from_value).collect())).collect()
}

impl Database for SpinPostgres<'_> {
    /// Every statement is sent in its never-empty form: Spin 4.0.0–4.0.2 would never return from a
    /// `query` that yields no row (docs/spin.md, "The zero-row deadlock").
    fn query(&self, sql: &str, params: &[SqlParam]) -> Result<Vec<Row>, DbError> {
        let (mut columns, mut rows) = self.rows(&statement::never_empty(sql), params)?;
        statement::drop_filler(&mut columns, &mut rows, |v| matches!(v, DbValue::DbNull));
        Ok(to_rows(columns, rows))
    }

    /// Yields a row by construction, so it is sent as it is (no rewrite on the scan's path).
    fn query_row(&self, sql: &str, params: &[SqlParam]) -> Result<Row, DbError> {
        let (columns, rows) = self.rows(sql, params)?;
        to_rows(columns, rows).into_iter().next().ok_or_else(|| plain("a statement that always yields one row yielded none"))
    }

    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<u64, DbError> {
        let params: Vec<ParameterValue> = params.iter().map(to_parameter).collect();
        self.connection()?.execute(sql, &params).map_err(convert_error)
    }
}

fn to_parameter(p: &SqlParam) -> ParameterValue {
    match p {
        SqlParam::Null => ParameterValue::DbNull,
        SqlParam::Bool(b) => ParameterValue::Boolean(*b),
        SqlParam::Int32(n) => ParameterValue::Int32(*n),
        SqlParam::Int64(n) => ParameterValue::Int64(*n),
        SqlParam::Text(s) => ParameterValue::Str(s.clone()),
        SqlParam::Json(v) => ParameterValue::Jsonb(serde_json::to_vec(v).unwrap_or_default()),
    }
}

fn from_value(v: DbValue) -> SqlValue {
    match v {
        DbValue::DbNull => SqlValue::Null,
        DbValue::Boolean(b) => SqlValue::Bool(b),
        DbValue::Int8(n) => SqlValue::Int(n.into()),
        DbValue::Int16(n) => SqlValue::Int(n.into()),
        DbValue::Int32(n) => SqlValue::Int(n.into()),
        DbValue::Int64(n) => SqlValue::Int(n),
        DbValue::Floating32(f) => SqlValue::Float(f.into()),
        DbValue::Floating64(f) => SqlValue::Float(f),
        DbValue::Str(s) | DbValue::Uuid(s) | DbValue::Decimal(s) => SqlValue::Text(s),
        DbValue::Jsonb(bytes) => serde_json::from_slice(&bytes).map(SqlValue::Json).unwrap_or(SqlValue::Unsupported),
        DbValue::Date((y, m, d)) => SqlValue::Text(format!("{y:04}-{m:02}-{d:02}")),
        DbValue::ArrayStr(items) => {
            SqlValue::Json(items.into_iter().map(|s| s.map(serde_json::Value::String).unwrap_or_default()).collect())
        }
        _ => SqlValue::Unsupported,
    }
}

fn convert_error(e: pg4::PgError) -> DbError {
    match e {
        pg4::PgError::QueryFailed(pg4::QueryError::Text(text)) => DbError::from_text(&text),
        pg4::PgError::QueryFailed(pg4::QueryError::DbError(db)) => DbError {
            sqlstate: Some(db.code),
            constraint: db.extras.iter().find(|(k, _)| k == "constraint").map(|(_, v)| v.clone()),
            detail: db.as_text,
        },
        pg4::PgError::ConnectionFailed(t) => DbError::unavailable(format!("connection failed: {t}")),
        pg4::PgError::BadParameter(t) => plain(&format!("bad parameter: {t}")),
        pg4::PgError::ValueConversionFailed(t) => plain(&format!("value conversion failed: {t}")),
        pg4::PgError::Other(t) => plain(&t),
    }
}

fn plain(text: &str) -> DbError {
    DbError { sqlstate: None, constraint: None, detail: text.to_string() }
}
