//! Health, readiness, liveness and API documentation.

use std::sync::OnceLock;
use std::time::Instant;

use http::{Method, StatusCode};
use sentinel_domain::time::now_iso;
use sentinel_http::{ok, Access, Ctx, HandlerResult, Reply, Router};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

pub const VERSION: &str = "2.0.0";

pub fn router() -> Router {
    Router::new("platform")
        .route(Method::GET, "/health", Access::Public, health)
        .route(Method::GET, "/ready", Access::Public, ready)
        .route(Method::GET, "/live", Access::Public, live)
        .route(Method::GET, "/metrics", Access::Token("metrics_token"), crate::metrics::metrics)
        .route(Method::GET, "/openapi.json", Access::Public, openapi_json)
        .route(Method::GET, "/docs", Access::Public, docs)
        .route(Method::GET, "/docs/:file", Access::Public, docs_asset)
}

/// Seconds since this serving instance started. Under Spin every request
/// gets a fresh instance, so this is the age of the instance, not of a process.
pub fn uptime_seconds() -> f64 {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    // Never exactly zero: the instance has existed for at least this request.
    STARTED.get_or_init(Instant::now).elapsed().as_secs_f64().max(1e-6)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthChecks {
    pub database: bool,
    pub redis: bool,
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// Seconds this serving instance has existed.
    pub uptime: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `healthy` or `unhealthy`
    #[schema(pattern = "^(healthy|unhealthy)$")]
    pub status: String,
    pub checks: HealthChecks,
    pub environment: String,
    pub version: String,
    /// What is down, when unhealthy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub down: Vec<String>,
}

/// `GET /ready` when the database answers.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Ready {
    /// `ready`
    #[schema(pattern = "^ready$")]
    status: String,
    #[schema(format = DateTime)]
    timestamp: String,
}

/// `GET /ready` when the database does not answer.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct NotReady {
    /// `not ready`
    #[schema(pattern = "^not ready$")]
    status: String,
    error: String,
    #[schema(format = DateTime)]
    timestamp: String,
}

/// `GET /live`.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Live {
    /// `alive`
    #[schema(pattern = "^alive$")]
    status: String,
    #[schema(format = DateTime)]
    timestamp: String,
    /// Seconds this serving instance has existed.
    uptime: f64,
}

fn database_up(ctx: &Ctx) -> bool {
    match ctx.db().query("SELECT 1 AS ok", &[]) {
        Ok(_) => true,
        Err(e) => {
            sentinel_http::log_line(&json!({"level": "error", "component": "platform", "check": "database", "error": e.detail}));
            false
        }
    }
}

/// Check health
///
/// Whether the database and Redis answer, with the environment and version; 503 when either is down
/// (`down` names them). Not rate-limited, no credentials.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health, description = "A dependency is down (`down` names it)")))]
pub fn health(ctx: &Ctx) -> HandlerResult {
    let uptime = uptime_seconds();
    let database = database_up(ctx);
    let redis = match ctx.platform.events.ping() {
        Ok(()) => true,
        Err(e) => {
            sentinel_http::log_line(&json!({"level": "error", "component": "platform", "check": "redis", "error": e}));
            false
        }
    };
    let down: Vec<String> = [("database", database), ("redis", redis)].iter().filter(|(_, up)| !up).map(|(n, _)| n.to_string()).collect();
    let body = Health {
        status: if down.is_empty() { "healthy" } else { "unhealthy" }.into(),
        checks: HealthChecks { database, redis, timestamp: now_iso(), uptime },
        environment: ctx.config("environment").unwrap_or_else(|| "production".into()),
        version: VERSION.into(),
        down,
    };
    let status = if body.down.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok(Reply::Json(status, serde_json::to_value(body).unwrap_or_default()))
}

/// Check readiness
///
/// Ready when the database answers (for load balancers and Kubernetes readiness probes).
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Ready), (status = 503, body = NotReady, description = "The database does not answer")))]
pub fn ready(ctx: &Ctx) -> HandlerResult {
    if database_up(ctx) {
        ok(json!({ "status": "ready", "timestamp": now_iso() }))
    } else {
        Ok(Reply::Json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "not ready", "error": "Database connection failed", "timestamp": now_iso() }),
        ))
    }
}

/// Check liveness
///
/// Answers as long as the component runs; never touches the database (Kubernetes liveness probes).
#[utoipa::path(get, path = "/live", tag = "health", responses((status = 200, body = Live)))]
pub fn live(_ctx: &Ctx) -> HandlerResult {
    ok(json!({ "status": "alive", "timestamp": now_iso(), "uptime": uptime_seconds() }))
}

/// Get this OpenAPI document
///
/// The API's contract: every operation with its access rule, parameters, bodies and responses.
#[utoipa::path(get, path = "/openapi.json", tag = "docs", responses((status = 200, body = Object, description = "This OpenAPI 3.1 document")))]
pub fn openapi_json(_ctx: &Ctx) -> HandlerResult {
    ok(crate::openapi::document())
}

/// Open the interactive API reference
///
/// Swagger UI (the release embedded in the component, docs/api.md "The /docs page") showing this document:
/// every operation with its access, and "Try it out" with a session token (`Authorization: Bearer`), an
/// `X-API-Key` or the metrics token (the "Authorize" button). Without JavaScript, a table of every operation.
#[utoipa::path(get, path = "/docs", tag = "docs", responses((status = 200, content_type = "text/html", body = String, description = "The interactive API reference (HTML)")))]
pub fn docs(_ctx: &Ctx) -> HandlerResult {
    Ok(Reply::Text(StatusCode::OK, "text/html; charset=utf-8", crate::openapi::docs_page(&crate::openapi::document())))
}

/// Get a file of the API reference page
///
/// The page's script, style sheet and icons (Swagger UI's distribution files, embedded at build time; nothing
/// is fetched from elsewhere), its start-up script, and Swagger UI's `LICENSE` and `NOTICE`.
#[utoipa::path(get, path = "/docs/{file}", tag = "docs",
    params(("file" = String, Path, description = "`swagger-ui-bundle.js`, `swagger-ui.css`, `swagger-initializer.js`, `favicon-32x32.png`, `favicon-16x16.png`, `LICENSE` or `NOTICE`")),
    responses((status = 200, description = "The file, with its content type",
               content((String = "text/javascript"), (String = "text/css"), (String = "image/png"), (String = "text/plain"))),
              (status = 404, description = "`NOT_FOUND`: no such file")))]
pub fn docs_asset(ctx: &Ctx) -> HandlerResult {
    // Cached for an hour: the files change only with the component's build.
    const CACHE: &str = "public, max-age=3600";
    let file = ctx.param("file");
    if file == "swagger-initializer.js" {
        return Ok(Reply::Static(StatusCode::OK, "text/javascript; charset=utf-8", crate::openapi::SWAGGER_INITIALIZER.as_bytes(), CACHE));
    }
    match sentinel_docs_ui::asset(file) {
        Some((content_type, bytes)) => Ok(Reply::Static(StatusCode::OK, content_type, bytes, CACHE)),
        None => Err(sentinel_http::ApiError::not_found(format!("No file {file:?} in the API reference"))),
    }
}
