//! The database port. Components reach PostgreSQL only through [`Database`];
//! the Spin adapter implements it with `spin:postgres`, which cannot return
//! `timestamptz` columns — queries read instants through the `iso()` SQL
//! function and bind them as text with an explicit cast.

use std::collections::HashMap;
use std::rc::Rc;

/// A bound parameter. Spin binds without coercion, so the SQL must cast
/// (`$1::text::uuid`, `$2::text::timestamptz`: a bare `$1::uuid` would make the parameter uuid-typed, which text does not bind to) where the inferred type is not text/int.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Null,
    Bool(bool),
    Int32(i32),
    Int64(i64),
    Text(String),
    Json(serde_json::Value),
}

impl From<&str> for SqlParam {
    fn from(s: &str) -> Self {
        SqlParam::Text(s.to_string())
    }
}
impl From<String> for SqlParam {
    fn from(s: String) -> Self {
        SqlParam::Text(s)
    }
}
impl From<i64> for SqlParam {
    fn from(n: i64) -> Self {
        SqlParam::Int64(n)
    }
}
impl From<i32> for SqlParam {
    fn from(n: i32) -> Self {
        SqlParam::Int32(n)
    }
}
impl From<bool> for SqlParam {
    fn from(b: bool) -> Self {
        SqlParam::Bool(b)
    }
}
impl<T: Into<SqlParam>> From<Option<T>> for SqlParam {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(SqlParam::Null)
    }
}

/// A decoded column value. uuid columns arrive as `Text`.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Json(serde_json::Value),
    /// A type this layer does not decode (never selected by our queries).
    Unsupported,
}

impl SqlValue {
    /// The JSON rendering used in responses (`Null` → `null`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            SqlValue::Null | SqlValue::Unsupported => serde_json::Value::Null,
            SqlValue::Bool(b) => (*b).into(),
            SqlValue::Int(n) => (*n).into(),
            SqlValue::Float(f) => serde_json::Number::from_f64(*f).map(Into::into).unwrap_or_default(),
            SqlValue::Text(s) => s.clone().into(),
            SqlValue::Json(v) => v.clone(),
        }
    }
}

/// One result row, addressed by column name.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Rc<HashMap<String, usize>>,
    values: Vec<SqlValue>,
}

impl Row {
    pub fn new(columns: Rc<HashMap<String, usize>>, values: Vec<SqlValue>) -> Self {
        Self { columns, values }
    }

    /// The value of `column`. Asking for a column the statement does not return is a bug in the
    /// query or the handler, not a NULL: it fails the request loudly (a panic, so a 500 and a log
    /// line naming the column), which the integration suite turns into a failing test.
    pub fn get(&self, column: &str) -> &SqlValue {
        match self.columns.get(column).and_then(|i| self.values.get(*i)) {
            Some(value) => value,
            None => {
                let mut known: Vec<&str> = self.columns.keys().map(String::as_str).collect();
                known.sort_unstable();
                panic!("the statement returned no column {column:?} (it returned {known:?})")
            }
        }
    }

    pub fn text(&self, column: &str) -> Option<String> {
        match self.get(column) {
            SqlValue::Text(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn int(&self, column: &str) -> i64 {
        match self.get(column) {
            SqlValue::Int(n) => *n,
            _ => 0,
        }
    }

    pub fn bool(&self, column: &str) -> bool {
        matches!(self.get(column), SqlValue::Bool(true))
    }

    pub fn json(&self, column: &str) -> serde_json::Value {
        self.get(column).to_json()
    }
}

/// Builds the shared column index for rows of one result set.
pub fn column_index(names: impl IntoIterator<Item = String>) -> Rc<HashMap<String, usize>> {
    Rc::new(names.into_iter().enumerate().map(|(i, n)| (n, i)).collect())
}

/// A failed database call. Spin reports constraint violations raised by
/// `query` as text and by `execute` with their SQLSTATE; both are normalised
/// here so handlers can match on [`DbError::sqlstate`] and [`DbError::constraint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    pub sqlstate: Option<String>,
    pub constraint: Option<String>,
    /// Full driver text, for logs only — never sent to clients.
    pub detail: String,
}

pub const UNIQUE_VIOLATION: &str = "23505";
pub const FOREIGN_KEY_VIOLATION: &str = "23503";
pub const CHECK_VIOLATION: &str = "23514";

/// PostgreSQL's "connection failure": what adapters report when the database cannot be reached.
pub const CONNECTION_FAILURE: &str = "08006";

impl DbError {
    pub fn is(&self, sqlstate: &str) -> bool {
        self.sqlstate.as_deref() == Some(sqlstate)
    }

    /// The database could not be reached or is going away (SQLSTATE class 08 "connection exception",
    /// 57P01–57P03 shutdown / cannot connect now): a 503, not a fault of the request.
    pub fn is_unavailable(&self) -> bool {
        self.sqlstate.as_deref().is_some_and(|s| s.starts_with("08") || matches!(s, "57P01" | "57P02" | "57P03"))
    }

    /// A failure to reach the database, with the driver's text for the logs.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self { sqlstate: Some(CONNECTION_FAILURE.to_string()), constraint: None, detail: detail.into() }
    }

    pub fn is_unique_violation_of(&self, constraint: &str) -> bool {
        self.is(UNIQUE_VIOLATION) && self.constraint.as_deref() == Some(constraint)
    }

    /// Classifies the text form of an error (Spin 4.0.2 embeds the driver's
    /// Debug output with `code: SqlState(E23505)` and `constraint: Some("x")`;
    /// Spin 3.6.3 gives only `db error: ERROR: <message>`: the constraint name
    /// quoted in a built-in message, or the `[SN00x constraint]` tag that opens
    /// every message Sentinel's own SQL raises — see docs/spin.md, "Errors").
    pub fn from_text(text: &str) -> Self {
        let tag = sentinel_tag(text);
        let sqlstate = after(text, "SqlState(E")
            .or_else(|| after(text, "SqlState(Other(").map(|s| s.trim_start_matches(['\\', '"'])))
            .map(|s| s.chars().take(5).collect::<String>())
            .filter(|s| s.len() == 5 && s.chars().all(|c| c.is_ascii_alphanumeric()))
            .or_else(|| tag.map(|(code, _)| code.to_string()))
            .or_else(|| {
                [
                    ("duplicate key value violates unique constraint", UNIQUE_VIOLATION),
                    ("violates foreign key constraint", FOREIGN_KEY_VIOLATION),
                    ("violates check constraint", CHECK_VIOLATION),
                    // A pooled connection that broke mid-call (Spin: `query-failed(text("Error { kind: Closed|Io, … }"))`).
                    ("kind: Closed", CONNECTION_FAILURE),
                    ("kind: Io", CONNECTION_FAILURE),
                    ("kind: Connect", CONNECTION_FAILURE),
                ]
                .iter()
                .find(|(needle, _)| text.contains(needle))
                .map(|(_, code)| code.to_string())
            });
        let constraint = tag
            .map(|(_, constraint)| constraint.to_string())
            .or_else(|| after(text, "constraint: Some(\\\"").map(|s| s.split("\\\"").next().unwrap_or_default().to_string()))
            .or_else(|| after(text, "constraint: Some(\"").map(|s| s.split('"').next().unwrap_or_default().to_string()))
            .or_else(|| {
                after(text, " constraint \\\"").map(|s| s.split("\\\"").next().unwrap_or_default().to_string())
            })
            .or_else(|| after(text, " constraint \"").map(|s| s.split('"').next().unwrap_or_default().to_string()))
            .filter(|c| !c.is_empty());
        Self { sqlstate, constraint, detail: text.to_string() }
    }
}

/// The `[SN00x constraint]` tag at the start of a message raised by Sentinel's own SQL:
/// `(sqlstate, constraint)`.
fn sentinel_tag(text: &str) -> Option<(&str, &str)> {
    let start = text.find("[SN")?;
    let (inside, _) = text[start + 1..].split_once(']')?;
    let (code, constraint) = inside.split_once(' ')?;
    let valid = code.len() == 5
        && code[2..].chars().all(|c| c.is_ascii_digit())
        && !constraint.is_empty()
        && constraint.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    valid.then_some((code, constraint))
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|i| &text[i + marker.len()..])
}

/// The database port.
pub trait Database {
    fn query(&self, sql: &str, params: &[SqlParam]) -> Result<Vec<Row>, DbError>;
    fn execute(&self, sql: &str, params: &[SqlParam]) -> Result<u64, DbError>;

    fn query_one(&self, sql: &str, params: &[SqlParam]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// For a statement that yields exactly one row by construction — `SELECT f(…) AS r` with no FROM,
    /// the columns of one call of a function that returns one row (not a set): `SELECT a, b FROM f(…)`,
    /// or aggregates without GROUP BY or HAVING (a list page: `SELECT jsonb_agg(…) FROM (…) page`).
    /// An adapter may send it without the never-empty rewrite `query` needs on Spin (docs/spin.md).
    fn query_row(&self, sql: &str, params: &[SqlParam]) -> Result<Row, DbError> {
        self.query(sql, params)?.into_iter().next().ok_or_else(|| DbError {
            sqlstate: None,
            constraint: None,
            detail: format!("a statement that always yields one row yielded none: {sql}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_spin_4_text() {
        let t = r#"Error::QueryFailed(QueryError::DbError(DbError { as-text: "Error { kind: Db, cause: Some(DbError { severity: \"ERROR\", parsed_severity: Some(Error), code: SqlState(E23505), message: \"duplicate key value violates unique constraint \\\"divisions_code_key\\\"\", detail: Some(\"Key (code)=(OPS) already exists.\"), hint: None, position: None, where_: None, schema: Some(\"public\"), table: Some(\"divisions\"), column: None, datatype: None, constraint: Some(\"divisions_code_key\"), file: Some(\"nbtinsert.c\"), line: Some(666), routine: Some(\"_bt_check_unique\") }) }""#;
        let e = DbError::from_text(t);
        assert_eq!(e.sqlstate.as_deref(), Some("23505"));
        assert_eq!(e.constraint.as_deref(), Some("divisions_code_key"));
        assert!(e.is_unique_violation_of("divisions_code_key"));
    }

    #[test]
    fn classifies_spin_3_text() {
        let t = "db error: ERROR: duplicate key value violates unique constraint \"divisions_code_key\"\nDETAIL: Key (code)=(OPS) already exists.\n\nCaused by:\n    ERROR: duplicate key ...";
        let e = DbError::from_text(t);
        assert_eq!(e.sqlstate.as_deref(), Some("23505"));
        assert_eq!(e.constraint.as_deref(), Some("divisions_code_key"));
    }

    #[test]
    fn classifies_custom_sqlstates() {
        let t = r#"Error::QueryFailed(QueryError::DbError(DbError { as-text: "Error { kind: Db, cause: Some(DbError { severity: \"ERROR\", code: SqlState(Other(\"SN001\")), message: \"system value\", constraint: Some(\"system_value\") }) }""#;
        let e = DbError::from_text(t);
        assert_eq!(e.sqlstate.as_deref(), Some("SN001"));
        assert_eq!(e.constraint.as_deref(), Some("system_value"));
        let e = DbError::from_text(r#"code: SqlState(Other("SN003")), constraint: Some("badge_not_assignable")"#);
        assert_eq!(e.sqlstate.as_deref(), Some("SN003"));
    }

    #[test]
    fn classifies_spin_3_text_of_sentinels_own_errors_by_their_tag() {
        let t = "db error: ERROR: [SN001 system_value] system value \"active\" in badge_statuses cannot be re-coded\n\nCaused by:\n    ERROR: [SN001 system_value] system value";
        let e = DbError::from_text(t);
        assert_eq!(e.sqlstate.as_deref(), Some("SN001"));
        assert_eq!(e.constraint.as_deref(), Some("system_value"));
        assert_eq!(DbError::from_text("db error: ERROR: [SN4 x] y").sqlstate, None);
    }

    #[test]
    fn unknown_text_has_no_code() {
        let e = DbError::from_text("Error { kind: Parse, cause: None }");
        assert_eq!(e.sqlstate, None);
        assert_eq!(e.constraint, None);
    }

    #[test]
    fn a_broken_connection_is_unavailable() {
        let e = DbError::from_text("Error { kind: Closed, cause: None }");
        assert_eq!(e.sqlstate.as_deref(), Some(CONNECTION_FAILURE));
        assert!(e.is_unavailable());
        assert!(!DbError::from_text("db error: ERROR: duplicate key value violates unique constraint \"x\"").is_unavailable());
    }

    #[test]
    fn rows_are_addressed_by_name() {
        let cols = column_index(["a".to_string(), "b".to_string()]);
        let row = Row::new(cols, vec![SqlValue::Int(3), SqlValue::Text("x".into())]);
        assert_eq!(row.int("a"), 3);
        assert_eq!(row.text("b").as_deref(), Some("x"));
    }

    #[test]
    #[should_panic(expected = "the statement returned no column \"missing\"")]
    fn an_unknown_column_fails_loudly() {
        let row = Row::new(column_index(["a".to_string()]), vec![SqlValue::Int(3)]);
        row.get("missing");
    }
}
