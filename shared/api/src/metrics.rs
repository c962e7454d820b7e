//! `/metrics`: Prometheus text when the client asks for
//! `text/plain` or OpenMetrics, otherwise the JSON runtime summary. Guarded
//! by the `metrics_token` variable.
//!
//! Components are instantiated per request, so in-process counters would
//! always read zero; the figures are gauges read from the database in one
//! round trip, which every instance reports identically.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sentinel_http::{ok, Ctx, HandlerResult, Reply};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The JSON runtime summary of `/metrics` (the shape inherited from the original Node service).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct RuntimeSummary {
    /// Seconds this serving instance has existed.
    uptime: f64,
    memory: MemorySummary,
    /// Always `null`.
    #[schema(value_type = Option<Object>)]
    cpu: Option<Value>,
    platform: String,
    node_version: String,
    environment: String,
}

/// Linear memory of the serving instance, in bytes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MemorySummary {
    heap_used: u64,
    heap_total: u64,
    external: u64,
    rss: u64,
}

const FIGURES_SQL: &str = "SELECT jsonb_build_object(
    'members_checked_in', (SELECT count(*) FROM present_members),
    'visitors_on_site', (SELECT count(*) FROM visitors WHERE check_out_time IS NULL),
    'auth_active_sessions', (SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > now()),
    'badges_by_status', (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) AS n FROM badges GROUP BY status) s),
    'checkins_today', (SELECT COALESCE(jsonb_object_agg(direction, n), '{}') FROM (SELECT direction, count(*) AS n FROM checkins WHERE \"timestamp\" >= now() - interval '24 hours' GROUP BY direction) s),
    'security_alerts_active', (SELECT COALESCE(jsonb_object_agg(severity, n), '{}') FROM (SELECT severity, count(*) AS n FROM security_alerts WHERE status = 'active' GROUP BY severity) s),
    'dds_assignments', (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) AS n FROM dds_assignments GROUP BY status) s),
    'events', (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) AS n FROM events GROUP BY status) s)
) AS figures";

/// Read operational metrics
///
/// Prometheus text gauges (present members, visitors on site, sessions, badges, check-ins of the last
/// 24 hours, active alerts, DDS assignments, events) when `Accept` names `text/plain` or OpenMetrics,
/// otherwise a JSON runtime summary. Needs `Authorization: Bearer <metrics_token>`.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text, or the JSON runtime summary",
               content((RuntimeSummary = "application/json"), (String = "text/plain")))))]
pub fn metrics(ctx: &Ctx) -> HandlerResult {
    let accept = ctx.req.header("accept").unwrap_or_default().to_ascii_lowercase();
    if accept.contains("text/plain") || accept.contains("openmetrics") {
        let figures = ctx.db().query_one(FIGURES_SQL, &[])?.map(|r| r.json("figures")).unwrap_or_default();
        return Ok(Reply::Text(http::StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(&figures)));
    }
    ok(json!({
        "uptime": crate::platform::uptime_seconds(),
        "memory": { "heapUsed": heap_bytes(), "heapTotal": heap_bytes(), "external": 0, "rss": heap_bytes() },
        "cpu": Value::Null,
        "platform": std::env::consts::ARCH.to_string() + "-" + std::env::consts::OS,
        "nodeVersion": format!("sentinel {} (Rust, WASI 0.2 component)", env!("CARGO_PKG_VERSION")),
        "environment": ctx.config("environment").unwrap_or_else(|| "production".into()),
    }))
}

/// Linear memory of this instance (the closest analogue of a heap size).
fn heap_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as u64) * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

pub fn prometheus_text(figures: &Value) -> String {
    let mut registry = Registry::default();
    let scalar = |registry: &mut Registry, name: &str, help: &str, key: &str| {
        let gauge: Gauge = Gauge::default();
        gauge.set(figures[key].as_i64().unwrap_or(0));
        registry.register(name, help, gauge);
    };
    scalar(&mut registry, "members_checked_in", "Active members currently present", "members_checked_in");
    scalar(&mut registry, "visitors_on_site", "Visitors signed in and not out", "visitors_on_site");
    scalar(&mut registry, "auth_active_sessions", "Unexpired, unrevoked sessions", "auth_active_sessions");
    let family = |registry: &mut Registry, name: &str, help: &str, key: &str, label: &str| {
        let fam: Family<Vec<(String, String)>, Gauge> = Family::default();
        if let Some(map) = figures[key].as_object() {
            for (value, n) in map {
                fam.get_or_create(&vec![(label.to_string(), value.clone())]).set(n.as_i64().unwrap_or(0));
            }
        }
        registry.register(name, help, fam);
    };
    family(&mut registry, "badges_by_status", "Badges per status", "badges_by_status", "status");
    family(&mut registry, "checkins_last_24h", "Check-ins in the last 24 hours per direction", "checkins_today", "direction");
    family(&mut registry, "security_alerts_active", "Active security alerts per severity", "security_alerts_active", "severity");
    family(&mut registry, "dds_assignments", "DDS assignments per status", "dds_assignments", "status");
    family(&mut registry, "events", "Events per status", "events", "status");
    let mut text = String::new();
    if encode(&mut text, &registry).is_err() {
        text.clear();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_gauges_and_labelled_families() {
        let text = super::prometheus_text(&serde_json::json!({
            "members_checked_in": 7, "badges_by_status": {"active": 3, "lost": 1}
        }));
        assert!(text.contains("# TYPE members_checked_in gauge"));
        assert!(text.contains("members_checked_in 7"));
        assert!(text.contains("badges_by_status{status=\"lost\"} 1"));
        assert!(text.contains("visitors_on_site 0"));
    }
}
