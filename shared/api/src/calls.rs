//! Calling the kiosk-flow SQL functions (migrations V6): each returns one
//! jsonb value carrying an `outcome` code and the data of the response and
//! its realtime events, so a request costs one round trip and expected
//! refusals never travel as database errors.

use sentinel_http::{ApiError, Ctx, DbError, SqlParam};
use serde_json::Value;

/// Runs `SELECT <call> AS r` and returns `r`.
pub fn call(ctx: &Ctx, call: &str, params: &[SqlParam]) -> Result<Value, ApiError> {
    let sql = format!("SELECT {call} AS r");
    let row = ctx.db().query_one(&sql, params).map_err(map_db_error)?;
    Ok(row.map(|r| r.json("r")).unwrap_or(Value::Null))
}

/// Invariant violations raised by triggers when a concurrent request won a
/// race (badge linkage, assignability) are conflicts, not server errors.
pub fn map_db_error(e: DbError) -> ApiError {
    match e.sqlstate.as_deref() {
        Some("SN002") | Some("SN003") => ApiError::conflict("The badge assignment changed concurrently; retry"),
        Some("23505") => ApiError::conflict("A conflicting record was written concurrently; retry"),
        Some("40P01") | Some("40001") => ApiError::conflict("Concurrent update; retry"),
        _ => e.into(),
    }
}

pub fn outcome(v: &Value) -> &str {
    v["outcome"].as_str().unwrap_or("")
}

/// A uuid that passed validation, canonical lower-case.
pub fn uuid_text(s: &str) -> String {
    sentinel_domain::uuid::parse_uuid(s).unwrap_or_default()
}

/// garde validator: a well-formed UUID (api.md §0.1).
pub fn valid_uuid(value: &str, _: &()) -> garde::Result {
    if sentinel_domain::uuid::parse_uuid(value).is_some() { Ok(()) } else { Err(garde::Error::new("must be a valid UUID")) }
}

/// Turns a domain rule into a garde validator.
pub fn rule(result: Result<(), &'static str>) -> garde::Result {
    result.map_err(garde::Error::new)
}

/// A WHERE clause holding only the filters a request actually uses. Each
/// combination is its own prepared statement, so PostgreSQL plans it with
/// the indexes that fit (a generic plan of `($1 IS NULL OR col = $1)` for
/// every optional filter would scan whole tables).
#[derive(Default)]
pub struct Filters {
    clauses: Vec<String>,
    pub params: Vec<SqlParam>,
}

impl Filters {
    /// Adds `clause`, whose `{}` becomes the next parameter placeholder.
    pub fn bind(&mut self, clause: &str, value: impl Into<SqlParam>) {
        self.params.push(value.into());
        self.clauses.push(clause.replace("{}", &format!("${}", self.params.len())));
    }

    /// Adds a clause without a parameter.
    pub fn when(&mut self, clause: &str) {
        self.clauses.push(clause.to_string());
    }

    /// Binds one more parameter (LIMIT, OFFSET…) and returns its placeholder.
    pub fn placeholder(&mut self, value: impl Into<SqlParam>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!("WHERE {}", self.clauses.join(" AND ")) }
    }
}
