//! Security alerts. Alerts are raised by scans (inside the scan
//! functions), by kiosks and admins through POST, and closed once
//! (`active → acknowledged | dismissed`). Identical alerts (type, badge
//! serial, kiosk) within 5 minutes are suppressed: the active one is kept and
//! nothing new is pushed.

use garde::Validate;
use http::Method;
use sentinel_domain::Role;
use sentinel_http::input::double_option;
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::calls::{map_db_error, run, uuid_text, valid_uuid, CreateSecurityAlert};

const ADM_KIOSK: Access = Access::Restricted(&[Allow::User(Role::Admin), Allow::Kiosk]);

/// Window of duplicate suppression.
pub const SUPPRESSION_WINDOW: &str = "5 minutes";

pub const ALERT_TYPES: [&str; 11] = [
    "badge_disabled", "badge_unknown", "inactive_member", "unauthorized_access", "lockup_reminder", "lockup_not_executed",
    "duty_watch_missing", "duty_watch_not_checked_in", "building_not_secured", "member_missed_checkout", "system",
];
pub const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/security-alerts/active", Access::DW, active)
        .route(Method::POST, "/api/security-alerts", ADM_KIOSK, create)
        .route(Method::POST, "/api/security-alerts/:id/acknowledge", Access::DW, acknowledge)
        .route(Method::POST, "/api/security-alerts/:id/dismiss", Access::DW, dismiss)
        .route(Method::GET, "/api/security-alerts/:id", Access::DW, get)
}

/// The SecurityAlert object, built by the database function `alert_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SecurityAlert {
    #[schema(format = "uuid")]
    id: String,
    #[schema(pattern = "^(badge_disabled|badge_unknown|inactive_member|unauthorized_access|lockup_reminder|lockup_not_executed|duty_watch_missing|duty_watch_not_checked_in|building_not_secured|member_missed_checkout|system)$")]
    alert_type: String,
    /// critical | warning | info
    #[schema(pattern = "^(critical|warning|info)$")]
    severity: String,
    badge_serial: Option<String>,
    #[schema(format = "uuid")]
    member_id: Option<String>,
    kiosk_id: String,
    message: String,
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
    /// active | acknowledged | dismissed
    #[schema(pattern = "^(active|acknowledged|dismissed)$")]
    status: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = "uuid")]
    acknowledged_by: Option<String>,
    #[schema(format = DateTime)]
    acknowledged_at: Option<String>,
    acknowledge_note: Option<String>,
}

/// `{success, message, alert}` of acknowledge and dismiss.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ClosedAlert {
    success: bool,
    message: String,
    alert: SecurityAlert,
}

/// One page of the active alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AlertList {
    alerts: Vec<SecurityAlert>,
    /// Alerts on this page.
    count: i64,
    /// Active alerts in all.
    total: i64,
    page: i64,
    limit: i64,
    total_pages: i64,
}

/// Largest `details` of an alert, as compact JSON text (docs/api.md, "Security alerts").
pub const MAX_DETAILS_BYTES: usize = 4096;
/// Most properties of `details` itself.
pub const MAX_DETAILS_PROPERTIES: usize = 64;
/// Deepest nesting of `details` (the object itself is level 1).
pub const MAX_DETAILS_DEPTH: usize = 4;

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn valid_alert_type(v: &str, _: &()) -> garde::Result {
    if ALERT_TYPES.contains(&v) { Ok(()) } else { Err(garde::Error::new(format!("must be one of {}", ALERT_TYPES.join(", ")))) }
}
fn valid_severity(v: &str, _: &()) -> garde::Result {
    if SEVERITIES.contains(&v) { Ok(()) } else { Err(garde::Error::new("must be critical, warning or info")) }
}
/// `details`: an object of at most [`MAX_DETAILS_BYTES`] as JSON, nested at most [`MAX_DETAILS_DEPTH`] levels,
/// so no caller can make every dashboard download megabytes per alert.
fn valid_details(v: &Value, _: &()) -> garde::Result {
    if !v.is_object() {
        return Err(garde::Error::new("must be an object"));
    }
    if v.as_object().map_or(0, |m| m.len()) > MAX_DETAILS_PROPERTIES {
        return Err(garde::Error::new(format!("must have at most {MAX_DETAILS_PROPERTIES} properties")));
    }
    if depth(v) > MAX_DETAILS_DEPTH {
        return Err(garde::Error::new(format!("must be nested at most {MAX_DETAILS_DEPTH} levels deep")));
    }
    let size = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > MAX_DETAILS_BYTES {
        return Err(garde::Error::new(format!("must be at most {MAX_DETAILS_BYTES} bytes as JSON (got {size})")));
    }
    Ok(())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAlert {
    #[garde(custom(valid_alert_type))]
    #[schema(pattern = "^(badge_disabled|badge_unknown|inactive_member|unauthorized_access|lockup_reminder|lockup_not_executed|duty_watch_missing|duty_watch_not_checked_in|building_not_secured|member_missed_checkout|system)$")]
    pub alert_type: String,
    /// critical | warning | info
    #[garde(custom(valid_severity))]
    #[schema(pattern = "^(critical|warning|info)$")]
    pub severity: String,
    /// Required key; may be null.
    #[garde(required, inner(inner(length(chars, min = 1, max = 100))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, required = true, min_length = 1, max_length = 100)]
    pub badge_serial: Option<Option<String>>,
    /// Not validated against members (alerts are evidence).
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub member_id: Option<String>,
    /// Required for users; kiosk keys record their own kiosk id.
    #[garde(inner(length(chars, min = 1, max = 50)))]
    #[schema(min_length = 1, max_length = 50)]
    pub kiosk_id: Option<String>,
    #[garde(length(chars, min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub message: String,
    /// An object, or `null`: at most 64 properties, 4096 bytes as compact JSON and 4 levels of nesting
    /// (the object itself is level 1), else 400 `VALIDATION_ERROR`.
    #[garde(inner(custom(valid_details)))]
    #[schema(schema_with = crate::openapi::alert_details)]
    pub details: Option<Value>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcknowledgeAlert {
    /// Accepted for compatibility and ignored: the acknowledger is the caller.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub admin_id: Option<String>,
    #[garde(inner(length(chars, max = 1000)))]
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Security alert with ID '{id}' not found"))
}

/// List active alerts
///
/// The security alerts not yet acknowledged or dismissed, newest first, one page at a time
/// (`page`, `limit` 1–100, default 50), with the total.
#[utoipa::path(get, path = "/api/security-alerts/active", tag = "security-alerts",
    params(("page" = Option<i64>, Query, minimum = 1, description = "Page number (default 1)"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Alerts per page (default 50)")),
    responses((status = 200, body = AlertList)))]
pub fn active(ctx: &Ctx) -> HandlerResult {
    let page = sentinel_http::pagination::PageRequest::from_query(ctx.query())?;
    ok(crate::backfill::active_alerts(ctx.db(), page)?)
}

/// Get an alert
///
/// One security alert by id, in any status.
#[utoipa::path(get, path = "/api/security-alerts/{id}", tag = "security-alerts", params(("id" = String, Path, description = "Alert UUID")),
    responses((status = 200, body = SecurityAlert), (status = 404, description = "`NOT_FOUND`: no alert has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one("SELECT alert_json(a) AS alert FROM security_alerts a WHERE a.id = $1::text::uuid", &[id.as_str().into()])?;
    ok(row.ok_or_else(|| not_found(&id))?.json("alert"))
}

/// Raise an alert
///
/// Raises a security alert from a kiosk or an administrator. An identical active alert (type, badge
/// serial, kiosk) of the last 5 minutes is answered instead of a new one, and nothing is pushed.
#[utoipa::path(post, path = "/api/security-alerts", tag = "security-alerts", request_body = CreateAlert,
    responses((status = 201, body = SecurityAlert, description = "Raised (or the identical active alert of the last 5 minutes)"),
              (status = 400, description = "`VALIDATION_ERROR`: `kioskId` is missing (users must name the kiosk)")))]
pub fn create(ctx: &Ctx) -> HandlerResult {
    let body: CreateAlert = ctx.json()?;
    let kiosk = match (ctx.principal.kiosk_id(), &body.kiosk_id) {
        (Some(k), _) => k.to_string(),
        (None, Some(k)) => k.clone(),
        (None, None) => return Err(ApiError::invalid("kioskId", "is required")),
    };
    let serial = body.badge_serial.flatten();
    // One call raises the alert or matches the identical active one (read after the suppression lock, so also
    // one committed by a concurrent request) and writes the audit row either way (migrations V9).
    let call = CreateSecurityAlert {
        alert_type: body.alert_type,
        severity: body.severity,
        badge_serial: serial,
        member_id: body.member_id.map(|m| uuid_text(&m)),
        kiosk_id: kiosk,
        message: body.message,
        details: body.details,
        suppression_window: SUPPRESSION_WINDOW,
        actor: Actor::of(ctx),
    };
    let result = run(ctx, &call)?;
    created(result.alert)
}

/// Closes an active alert as `status` (acknowledged | dismissed), once.
fn close(ctx: &Ctx, status: &'static str) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: AcknowledgeAlert = ctx.json()?;
    let action = if status == "acknowledged" { "alert_acknowledge" } else { "alert_dismiss" };
    let audit = audit::cte(action, "security_alert", "a", "id", "jsonb_build_object('note', a.acknowledge_note)", 4);
    let sql = format!(
        "WITH target AS (SELECT id, status FROM security_alerts WHERE id = $1::text::uuid FOR UPDATE),
         a AS (
            UPDATE security_alerts SET status = $3, acknowledged_by = $4::text::uuid, acknowledged_at = now(), acknowledge_note = $2::text
            WHERE id IN (SELECT id FROM target WHERE status = 'active') RETURNING *
         ), {audit}
         SELECT t.status AS previous, (SELECT alert_json(a::security_alerts) FROM a) AS alert FROM target t"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let row = ctx
        .db()
        .query_one(&sql, &[id.as_str().into(), body.note.into(), status.into(), user, key, ip])
        .map_err(|e| if e.sqlstate.as_deref() == Some("SN004") { ApiError::bad_request("VALIDATION_ERROR", "Security alert is no longer active") } else { map_db_error(e) })?
        .ok_or_else(|| not_found(&id))?;
    let alert = row.json("alert");
    if !alert.is_object() {
        let previous = row.text("previous").unwrap_or_default();
        return Err(ApiError::bad_request("VALIDATION_ERROR", format!("Security alert is already {previous}")));
    }
    let verb = if status == "acknowledged" { "acknowledged" } else { "dismissed" };
    ok(json!({ "success": true, "message": format!("Security alert {verb} successfully"), "alert": alert }))
}

/// Acknowledge an alert
///
/// Closes an active alert as acknowledged by the caller, with an optional note; an alert is closed once.
#[utoipa::path(post, path = "/api/security-alerts/{id}/acknowledge", tag = "security-alerts", params(("id" = String, Path, description = "Alert UUID")),
    request_body = AcknowledgeAlert,
    responses((status = 200, body = ClosedAlert), (status = 400, description = "`VALIDATION_ERROR`: the alert is no longer active"),
              (status = 404, description = "`NOT_FOUND`: no alert has this id"), (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
pub fn acknowledge(ctx: &Ctx) -> HandlerResult {
    close(ctx, "acknowledged")
}

/// Dismiss an alert
///
/// Closes an active alert as dismissed by the caller, with an optional note; an alert is closed once.
#[utoipa::path(post, path = "/api/security-alerts/{id}/dismiss", tag = "security-alerts", params(("id" = String, Path, description = "Alert UUID")),
    request_body = AcknowledgeAlert,
    responses((status = 200, body = ClosedAlert), (status = 400, description = "`VALIDATION_ERROR`: the alert is no longer active"),
              (status = 404, description = "`NOT_FOUND`: no alert has this id"), (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
pub fn dismiss(ctx: &Ctx) -> HandlerResult {
    close(ctx, "dismissed")
}
