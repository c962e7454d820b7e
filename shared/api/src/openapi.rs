//! The OpenAPI document, generated from the handlers' and types' own
//! annotations, and stamped with each route's declared access so the
//! document and the routers cannot disagree.

use sentinel_http::{Access, Allow};
use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::{alerts, audit_logs, auth, badges, checkins, divisions, enums, kiosks, members, platform, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "Sentinel API", version = "2.0.0", description = "RFID attendance backend for a naval reserve unit."),
    paths(
        divisions::list, divisions::get, divisions::create, divisions::update, divisions::delete,
        auth::login, auth::logout, auth::session, auth::rfid_login, auth::list_keys, auth::create_key, auth::revoke_key,
        platform::health, crate::metrics::metrics, platform::ready, platform::live, platform::openapi_json, platform::docs,
        users::list, users::get, users::create, users::update, users::delete, users::reset_password, users::disable, users::enable,
        users::list_sessions, users::revoke_session,
        enums::visit_types::list, enums::visit_types::create, enums::visit_types::update, enums::visit_types::delete,
        enums::member_statuses::list, enums::member_statuses::create, enums::member_statuses::update, enums::member_statuses::delete,
        enums::member_types::list, enums::member_types::create, enums::member_types::update, enums::member_types::delete,
        enums::badge_statuses::list, enums::badge_statuses::create, enums::badge_statuses::update, enums::badge_statuses::delete,
        audit_logs::list, audit_logs::stats, audit_logs::for_entity, audit_logs::get,
        kiosks::heartbeat, kiosks::list,
        members::list, members::get, members::search, members::create, members::update, members::delete,
        badges::list, badges::stats, badges::by_serial, badges::get, badges::create, badges::update, badges::assign, badges::unassign, badges::delete,
        checkins::list, checkins::presence, checkins::presence_people, checkins::activity, checkins::get, checkins::create, checkins::bulk,
        checkins::scan, checkins::sync, checkins::manual_checkout, checkins::update, checkins::delete, checkins::member_checkins,
        alerts::active, alerts::create, alerts::acknowledge, alerts::dismiss, alerts::get,
    ),
    components(schemas(
        divisions::Division, divisions::DivisionList, divisions::CreateDivision, divisions::UpdateDivision,
        auth::LoginRequest, auth::LoginResponse, auth::SessionUser, auth::RfidLoginRequest, auth::CreateApiKey,
        platform::Health, platform::HealthChecks, ErrorEnvelope, Issue,
        users::User, users::UserEnvelope, users::UserList, users::OffsetPagination, users::CreateUser, users::UpdateUser, users::ResetPassword,
        users::AdminSession, users::AdminSessionList,
        enums::EnumItem, enums::CreateEnumItem, enums::UpdateEnumItem,
        audit_logs::AuditEntry, audit_logs::AuditActor, audit_logs::AuditLogList, audit_logs::AuditStats, audit_logs::AuditAdminCount,
        kiosks::Heartbeat, kiosks::HeartbeatReply, kiosks::KioskStatus, kiosks::KioskList,
        members::Member, members::MemberList, members::CreateMember, members::UpdateMember,
        badges::Badge, badges::BadgeHolder, badges::BadgeList, badges::BadgeStats, badges::CreateBadge, badges::UpdateBadge, badges::AssignBadge,
        checkins::Checkin, checkins::CheckinMember, checkins::CheckinList, checkins::Presence, checkins::DivisionPresence, checkins::ScanResult,
        checkins::BulkResult, checkins::SyncResult, checkins::CreateCheckin, checkins::BulkCheckins, checkins::UpdateCheckin,
        checkins::ScanRequest, checkins::SyncScan, checkins::SyncRequest, checkins::ManualCheckout,
        alerts::SecurityAlert, alerts::AlertList, alerts::CreateAlert, alerts::AcknowledgeAlert,
    )),
    tags((name = "auth"), (name = "divisions"), (name = "health"), (name = "docs"), (name = "admin"), (name = "enums"), (name = "audit-logs"), (name = "kiosks"), (name = "members"), (name = "badges"), (name = "checkins"), (name = "security-alerts"))
)]
struct ApiDoc;

/// The error envelope of every non-2xx response.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorEnvelope {
    error: String,
    message: String,
    details: Option<serde_json::Value>,
    #[schema(rename = "correlationId")]
    correlation_id: Option<String>,
    issues: Option<Vec<Issue>>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Issue {
    path: String,
    message: String,
}

/// Renders a route's access as the spec's notation (`QM+`, `KIOSK`, …).
pub fn describe_access(access: Access) -> Vec<String> {
    match access {
        Access::Public => vec!["PUBLIC".into()],
        Access::Token(variable) => vec![format!("TOKEN:{variable}")],
        Access::Restricted(allowed) => allowed
            .iter()
            .map(|a| match a {
                Allow::User(role) => match role {
                    sentinel_domain::Role::Quartermaster => "QM+".into(),
                    sentinel_domain::Role::DutyWatch => "DW+".into(),
                    sentinel_domain::Role::Executive => "EX+".into(),
                    sentinel_domain::Role::Admin => "ADM+".into(),
                    sentinel_domain::Role::Developer => "DEV".into(),
                },
                Allow::Kiosk => "KIOSK".into(),
                Allow::Display => "DISPLAY".into(),
            })
            .collect(),
    }
}

/// `/api/divisions/:id` → `/api/divisions/{id}`
pub fn openapi_path(pattern: &str) -> String {
    pattern.split('/').map(|s| s.strip_prefix(':').map(|p| format!("{{{p}}}")).unwrap_or_else(|| s.to_string())).collect::<Vec<_>>().join("/")
}

pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    for (component, router) in crate::components() {
        for route in router.routes() {
            let op = &mut doc["paths"][openapi_path(route.pattern)][route.method.as_str().to_lowercase()];
            if op.is_object() {
                op["x-sentinel-access"] = json!(describe_access(route.access));
                op["x-spin-component"] = json!(component);
            }
        }
    }
    doc
}

/// A dependency-free reference page (no CDN: works on an air-gapped unit network).
pub fn html(doc: &Value) -> String {
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let access = op["x-sentinel-access"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default();
                let summary = op["summary"].as_str().or(op["description"].as_str()).unwrap_or_default();
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                    escape(&method.to_uppercase()), escape(path), escape(&access), escape(summary)
                ));
            }
        }
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sentinel API</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head>\
         <body><h1>Sentinel API</h1><p>Machine-readable document: <a href=\"/openapi.json\">/openapi.json</a></p>\
         <table><tr><th>Method</th><th>Path</th><th>Access</th><th>Summary</th></tr>\n{rows}</table></body></html>"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_operation_is_documented_with_its_access() {
        let doc = document();
        for (_, router) in crate::components() {
            for route in router.routes() {
                let op = &doc["paths"][openapi_path(route.pattern)][route.method.as_str().to_lowercase()];
                assert!(op.is_object(), "{} {} is routed but not documented", route.method, route.pattern);
                assert!(op["x-sentinel-access"].is_array(), "{} {} has no access", route.method, route.pattern);
            }
        }
    }

    #[test]
    fn every_documented_operation_is_routed() {
        let doc = document();
        let routed: Vec<(String, String)> = crate::components()
            .iter()
            .flat_map(|(_, r)| r.routes().iter().map(|rt| (openapi_path(rt.pattern), rt.method.as_str().to_lowercase())).collect::<Vec<_>>())
            .collect();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                assert!(routed.contains(&(path.clone(), method.clone())), "{method} {path} documented but not routed");
            }
        }
    }

    #[test]
    fn paths_use_openapi_templates() {
        assert_eq!(openapi_path("/api/events/:id/attendees/:attendeeId"), "/api/events/{id}/attendees/{attendeeId}");
    }
}
