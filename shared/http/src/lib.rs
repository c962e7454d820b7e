//! Sentinel's web layer, shared by every component and free of any host SDK.
//!
//! A component builds a [`Router`], and its entry point hands each request to
//! [`serve`] together with the [`Platform`] ports (database, configuration,
//! event sink) that the host adapter implements.

pub mod access;
pub mod auth;
pub mod client_addr;
pub mod context;
pub mod db;
pub mod error;
pub mod input;
pub mod pagination;
pub mod rate_limit;
pub mod request_metrics;
pub mod router;
pub mod serve;
pub mod statement;

pub use sentinel_domain as domain;

pub use access::{Access, Allow, Principal};
pub use context::{Config, Ctx, EventBus, Platform, RateCounter, Request};
pub use db::{Database, DbError, Row, SqlParam, SqlValue};
pub use error::ApiError;
pub use router::Router;
pub use serve::{log_line, serve, serve_observed};

/// What a handler returns on success.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Json(http::StatusCode, serde_json::Value),
    /// JSON plus response headers (e.g. `Set-Cookie`).
    JsonWithHeaders(http::StatusCode, serde_json::Value, Vec<(&'static str, String)>),
    /// Non-JSON payloads (the HTML docs page, Prometheus text).
    Text(http::StatusCode, &'static str, String),
    /// Static bytes embedded in the component (the `/docs` page's assets), with their content type and
    /// `Cache-Control`.
    Static(http::StatusCode, &'static str, &'static [u8], &'static str),
}

pub type HandlerResult = Result<Reply, ApiError>;

pub fn ok(body: serde_json::Value) -> HandlerResult {
    Ok(Reply::Json(http::StatusCode::OK, body))
}

/// The content type of every JSON response.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A 200 whose JSON body is already text (a page PostgreSQL rendered: see
/// [`pagination::PageRequest::wrap_text`]), sent without a parse and a re-serialisation.
pub fn ok_json_text(body: String) -> HandlerResult {
    Ok(Reply::Text(http::StatusCode::OK, JSON_CONTENT_TYPE, body))
}

pub fn created(body: serde_json::Value) -> HandlerResult {
    Ok(Reply::Json(http::StatusCode::CREATED, body))
}
