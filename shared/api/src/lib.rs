//! Sentinel's resources. Each module owns one resource: its request and
//! response types (which also generate the OpenAPI document), its handlers
//! and its SQL. Components mount the routers they serve.

pub mod audit;
pub mod audit_logs;
pub mod backfill;
pub mod auth;
pub mod divisions;
pub mod enums;
pub mod kiosks;
pub mod openapi;
pub mod platform;
pub mod users;

use sentinel_http::Router;

/// Every component's router, by component id as named in spin.toml. The
/// OpenAPI document and the access-matrix tests are derived from this list.
pub fn components() -> Vec<(&'static str, Router)> {
    vec![("members", members_router()), ("auth", auth_router()), ("platform", platform::router()), ("admin", admin_router())]
}

pub fn auth_router() -> Router {
    auth::routes(Router::new("auth"))
}

pub fn members_router() -> Router {
    divisions::routes(Router::new("members"))
}

/// User and session administration, enumerations, the audit trail and kiosk status.
pub fn admin_router() -> Router {
    let router = users::routes(Router::new("admin"));
    let router = enums::routes(router);
    let router = audit_logs::routes(router);
    kiosks::routes(router)
}
