//! `/metrics`: Prometheus text when the client asks for `text/plain` or OpenMetrics, otherwise
//! the JSON runtime summary. Guarded by the `metrics_token` variable.
//!
//! Components are instantiated per request, so nothing is counted in memory (docs/architecture.md,
//! "Metrics"): request counts and latencies are read from the Redis hash every component adds to
//! after each response (`sentinel_http::request_metrics`), and the domain gauges are read fresh from
//! PostgreSQL in one statement at scrape time. Every instance and replica reports the same figures.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use sentinel_domain::kiosk::ONLINE_WINDOW_SECS;
use sentinel_http::request_metrics;
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

/// The domain gauges, in one round trip. `$1` the kiosk online window in seconds, `$2`/`$3` the unit's
/// operational day (zone, rollover) for today's DDS.
const FIGURES_SQL: &str = "SELECT jsonb_build_object(
    'members_checked_in', (SELECT count(*) FROM present_members),
    'visitors_on_site', (SELECT count(*) FROM visitors WHERE check_out_time IS NULL),
    'auth_active_sessions', (SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > now()),
    'badges_by_status', (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) AS n FROM badges GROUP BY status) s),
    'checkins_today', (SELECT COALESCE(jsonb_object_agg(direction, n), '{}') FROM (SELECT direction, count(*) AS n FROM checkins WHERE \"timestamp\" >= now() - interval '24 hours' GROUP BY direction) s),
    'security_alerts_active', (SELECT COALESCE(jsonb_object_agg(severity, n), '{}') FROM (SELECT severity, count(*) AS n FROM security_alerts WHERE status = 'active' GROUP BY severity) s),
    'dds_assignments', (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) AS n FROM dds_assignments GROUP BY status) s),
    'events', (SELECT COALESCE(jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) AS n FROM events GROUP BY status) s),
    'kiosks', (SELECT jsonb_build_object('online', count(*) FILTER (WHERE online), 'offline', count(*) FILTER (WHERE NOT online))
               FROM (SELECT k.kiosk_id, bool_or(COALESCE(GREATEST(s.last_seen_at, k.last_used_at) >= now() - make_interval(secs => $1::int8), false)) AS online
                     FROM api_keys k LEFT JOIN kiosk_status s ON s.kiosk_id = k.kiosk_id
                     WHERE k.kind = 'kiosk' AND k.revoked_at IS NULL AND k.expires_at > now()
                     GROUP BY k.kiosk_id) x),
    'dds_today', (SELECT status FROM dds_current(operational_date(now(), $2::text, $3::text::interval)))
) AS figures";

/// Read operational metrics
///
/// Prometheus text (OpenMetrics when `Accept` names it, else `text/plain`) when `Accept` names either:
/// request counts and latencies of every component and replica (`http_requests_total`,
/// `http_request_duration_seconds` by method, route template and status class) and the domain gauges
/// read from the database now (present members, visitors on site, active alerts by severity, badges by
/// status, kiosks online, today's DDS, sessions, check-ins of the last 24 hours, DDS assignments, events).
/// Otherwise a JSON runtime summary. Needs `Authorization: Bearer <metrics_token>`.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text, or the JSON runtime summary",
               content((RuntimeSummary = "application/json"), (String = "text/plain"), (String = "application/openmetrics-text")))))]
pub fn metrics(ctx: &Ctx) -> HandlerResult {
    let accept = ctx.req.header("accept").unwrap_or_default().to_ascii_lowercase();
    if accept.contains("text/plain") || accept.contains("openmetrics") {
        let day = ctx.operational_day()?;
        let params = [ONLINE_WINDOW_SECS.into(), day.zone.as_str().into(), day.rollover_interval().into()];
        let figures = ctx.db().query_one(FIGURES_SQL, &params)?.map(|r| r.json("figures")).unwrap_or_default();
        // Redis down: the gauges still answer; the request series are missing until it is back.
        let requests = match ctx.platform.metrics.read() {
            Ok(fields) => request_metrics::series(&fields),
            Err(e) => {
                sentinel_http::log_line(&json!({"level": "error", "component": "platform", "op": "read request metrics", "error": e}));
                Vec::new()
            }
        };
        let text = prometheus_text(&figures, &requests);
        let content_type = if accept.contains("openmetrics") {
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        } else {
            "text/plain; version=0.0.4; charset=utf-8"
        };
        return Ok(Reply::Text(http::StatusCode::OK, content_type, text));
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

/// A histogram whose buckets were counted elsewhere (the shared Redis hash), for the encoder.
#[derive(Debug)]
struct CountedHistogram(request_metrics::Series);

impl EncodeMetric for CountedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let bounds = request_metrics::BUCKETS.iter().copied().chain([f64::MAX]);
        let buckets: Vec<(f64, u64)> = bounds.zip(self.0.buckets.iter().copied()).collect();
        encoder.encode_histogram::<NoLabelSet>(self.0.sum_micros as f64 / 1e6, self.0.count(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The Prometheus/OpenMetrics text of the domain `figures` and the request `series`.
pub fn prometheus_text(figures: &Value, series: &[request_metrics::Series]) -> String {
    let mut registry = Registry::default();
    let requests: Family<Vec<(String, String)>, Counter> = Family::default();
    let http = registry.sub_registry_with_prefix("http");
    let mut histograms = Vec::new();
    for s in series {
        let labels = vec![("method".to_string(), s.method.clone()), ("route".to_string(), s.route.clone()), ("status".to_string(), s.status.clone())];
        requests.get_or_create(&labels).inc_by(s.count());
        histograms.push((labels, CountedHistogram(s.clone())));
    }
    http.register("requests", "HTTP requests served by every component and replica, by method, route template and status class", requests);
    let mut durations_collector = HistogramCollector(histograms);
    durations_collector.0.sort_by(|a, b| a.0.cmp(&b.0));
    registry.register_collector(Box::new(durations_collector));

    let scalar = |registry: &mut Registry, name: &str, help: &str, value: i64| {
        let gauge: Gauge = Gauge::default();
        gauge.set(value);
        registry.register(name, help, gauge);
    };
    scalar(&mut registry, "members_checked_in", "Active members currently present", figures["members_checked_in"].as_i64().unwrap_or(0));
    scalar(&mut registry, "visitors_on_site", "Visitors signed in and not out", figures["visitors_on_site"].as_i64().unwrap_or(0));
    scalar(&mut registry, "auth_active_sessions", "Unexpired, unrevoked sessions", figures["auth_active_sessions"].as_i64().unwrap_or(0));
    scalar(&mut registry, "kiosks_online", "Kiosks with an active key seen in the last 90 seconds", figures["kiosks"]["online"].as_i64().unwrap_or(0));
    scalar(&mut registry, "kiosks_offline", "Kiosks with an active key not seen in the last 90 seconds", figures["kiosks"]["offline"].as_i64().unwrap_or(0));
    let dds = figures["dds_today"].as_str();
    scalar(&mut registry, "dds_assigned", "1 when today's Duty Day Staff is assigned (pending or accepted), else 0", i64::from(dds.is_some()));
    scalar(&mut registry, "dds_accepted", "1 when today's Duty Day Staff has accepted, else 0", i64::from(dds == Some("active")));
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
    family(&mut registry, "dds_assignments", "DDS assignments per status (all days)", "dds_assignments", "status");
    family(&mut registry, "events", "Events per status", "events", "status");
    let mut text = String::new();
    if encode(&mut text, &registry).is_err() {
        text.clear();
    }
    text
}

/// `http_request_duration_seconds`: one histogram per (method, route, status class) series.
#[derive(Debug)]
struct HistogramCollector(Vec<(Vec<(String, String)>, CountedHistogram)>);

impl Collector for HistogramCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "http_request_duration_seconds",
            "Time from receiving a request to its response being ready, every component and replica, by method, route template and status class",
            None,
            MetricType::Histogram,
        )?;
        for (labels, histogram) in &self.0 {
            histogram.encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_gauges_and_labelled_families() {
        let text = super::prometheus_text(
            &serde_json::json!({
                "members_checked_in": 7, "badges_by_status": {"active": 3, "lost": 1}, "kiosks": {"online": 2, "offline": 1}, "dds_today": "pending"
            }),
            &[],
        );
        assert!(text.contains("# TYPE members_checked_in gauge"));
        assert!(text.contains("members_checked_in 7"));
        assert!(text.contains("badges_by_status{status=\"lost\"} 1"));
        assert!(text.contains("visitors_on_site 0"));
        assert!(text.contains("kiosks_online 2"));
        assert!(text.contains("dds_assigned 1") && text.contains("dds_accepted 0"));
    }

    #[test]
    fn request_series_become_counters_and_cumulative_histograms() {
        let fields = vec![
            ("GET /api/members/:id 2xx 0".to_string(), 3),
            ("GET /api/members/:id 2xx 2".to_string(), 1),
            ("GET /api/members/:id 2xx sum".to_string(), 40_000),
        ];
        let text = super::prometheus_text(&serde_json::json!({}), &sentinel_http::request_metrics::series(&fields));
        let labels = "method=\"GET\",route=\"/api/members/:id\",status=\"2xx\"";
        assert!(text.contains(&format!("http_requests_total{{{labels}}} 4")), "{text}");
        assert!(text.contains("# TYPE http_request_duration_seconds histogram"), "{text}");
        assert!(text.contains(&format!("http_request_duration_seconds_count{{{labels}}} 4")), "{text}");
        assert!(text.contains(&format!("http_request_duration_seconds_sum{{{labels}}} 0.04")), "{text}");
        assert!(text.contains(&format!("http_request_duration_seconds_bucket{{le=\"0.005\",{labels}}} 3")), "{text}");
        assert!(text.contains(&format!("http_request_duration_seconds_bucket{{le=\"0.025\",{labels}}} 4")), "{text}");
        assert!(text.contains(&format!("http_request_duration_seconds_bucket{{le=\"+Inf\",{labels}}} 4")), "{text}");
    }
}
