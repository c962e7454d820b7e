//! API errors and their envelope.

use http::StatusCode;
use sentinel_domain::{Issue, Issues};
use serde_json::{json, Value};

use crate::db::DbError;

/// An error answered to the client. `internal` is logged, never sent.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub issues: Vec<Issue>,
    pub headers: Vec<(&'static str, String)>,
    pub internal: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: None, issues: Vec::new(), headers: Vec::new(), internal: None }
    }

    /// 400 `VALIDATION_ERROR` carrying the list of issues.
    pub fn validation(issues: Issues) -> Self {
        Self { issues: issues.0, ..Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Request validation failed") }
    }

    pub fn invalid(path: &str, message: &str) -> Self {
        Self::validation(Issues::single(path, message))
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", format!("Request body exceeds {limit} bytes"))
    }

    /// 500 with a generic message; `detail` goes to the log only.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self { internal: Some(detail.into()), ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "An unexpected error occurred") }
    }

    /// Replaces the error code (e.g. `INVALID_CREDENTIALS` on a 401).
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The JSON envelope sent to the client.
    pub fn envelope(&self, correlation_id: &str) -> Value {
        let mut body = json!({ "error": self.code, "message": self.message, "correlationId": correlation_id });
        if let Some(details) = &self.details {
            body["details"] = details.clone();
        }
        if !self.issues.is_empty() {
            body["issues"] = serde_json::to_value(&self.issues).unwrap_or_default();
        }
        body
    }
}

/// Unexpected database failures become a generic 500 `DATABASE_ERROR`;
/// handlers map the failures they expect (unique violations…) themselves.
impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        let internal = Some(format!("database: sqlstate={:?} constraint={:?} {}", e.sqlstate, e.constraint, e.detail));
        if e.is_unavailable() {
            // PostgreSQL cannot be reached (or is shutting down): nothing is wrong with the request; retry.
            return Self { internal, ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "The database is unavailable; retry shortly") };
        }
        Self { internal, ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "DATABASE_ERROR", "A database error occurred") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_envelope_lists_issues() {
        let e = ApiError::invalid("code", "must not be empty");
        assert_eq!(
            e.envelope("c1"),
            json!({"error": "VALIDATION_ERROR", "message": "Request validation failed", "correlationId": "c1",
                   "issues": [{"path": "code", "message": "must not be empty"}]})
        );
    }

    #[test]
    fn database_errors_hide_their_text() {
        let e: ApiError = DbError::from_text("db error: ERROR: relation \"secret_table\" does not exist").into();
        let body = e.envelope("c").to_string();
        assert!(!body.contains("secret_table"));
        assert!(e.internal.unwrap().contains("secret_table"));
    }
}
