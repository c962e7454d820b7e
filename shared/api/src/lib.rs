//! Sentinel's resources. Each module owns one resource: its request and
//! response types (which also generate the OpenAPI document), its handlers
//! and its SQL. Components mount the routers they serve.

pub mod alerts;
pub mod audit;
pub mod audit_logs;
pub mod backfill;
pub mod auth;
pub mod badges;
pub mod calls;
pub mod checkins;
pub mod dds;
pub mod divisions;
pub mod metrics;
pub mod muster;
pub mod enums;
pub mod events;
pub mod kiosks;
pub mod listing;
pub mod lockup;
pub mod members;
pub mod openapi;
pub mod platform;
pub mod proof;
pub mod tags;
pub mod users;
pub mod visitors;

use sentinel_http::Router;

/// Every component's router, by component id as named in spin.toml. The
/// OpenAPI document and the access-matrix tests are derived from this list.
pub fn components() -> Vec<(&'static str, Router)> {
    vec![("members", members_router()), ("auth", auth_router()), ("platform", platform::router()), ("admin", admin_router()),
         ("badges", badges_router()), ("checkins", checkins_router()), ("alerts", alerts_router()), ("events", events_router()),
         ("visitors", visitors_router()), ("dds", dds_router()), ("lockup", lockup_router()),
         ("muster", muster_router())]
}

pub fn auth_router() -> Router {
    auth::routes(Router::new("auth"))
}

pub fn members_router() -> Router {
    members::routes(divisions::routes(Router::new("members")))
}

pub fn badges_router() -> Router {
    badges::routes(Router::new("badges"))
}

/// Check-ins, presence, scans and offline sync (also `/api/members/:id/checkins`).
pub fn checkins_router() -> Router {
    checkins::routes(Router::new("checkins"))
}

/// Events, their attendees and event badges, and event-badge scans.
pub fn events_router() -> Router {
    events::routes(Router::new("events"))
}

/// DDS — Duty Day Staff: today's assignment and its changes (with the Lockup responsibility following).
pub fn dds_router() -> Router {
    dds::routes(Router::new("dds"))
}

/// The Lockup responsibility and the general tags (`/api/tags/...`, `/api/members/:memberId/tags...`),
/// who is inside, the end-of-day lockup and the building's status (`/api/lockup/...`).
pub fn lockup_router() -> Router {
    lockup::routes(tags::routes(Router::new("lockup")))
}

/// Evacuation roll calls.
pub fn muster_router() -> Router {
    muster::routes(Router::new("muster"))
}

/// Visitor sign-in and sign-out, with temporary badges.
pub fn visitors_router() -> Router {
    visitors::routes(Router::new("visitors"))
}

pub fn alerts_router() -> Router {
    alerts::routes(Router::new("alerts"))
}

/// User and session administration, enumerations, the audit trail and kiosk status.
pub fn admin_router() -> Router {
    let router = users::routes(Router::new("admin"));
    let router = enums::routes(router);
    let router = audit_logs::routes(router);
    kiosks::routes(router)
}
