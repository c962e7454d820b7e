//! `/metrics` (docs/architecture.md, "Metrics"): request counts and latencies that add up across
//! instances and separately started hosts sharing one Redis, domain gauges that match the database
//! after changes, and the token.

#[path = "support/kiosk.rs"]
mod kiosk;

use std::collections::BTreeMap;
use std::time::Duration;

use kiosk::*;
use sentinel_tests::fixtures::admin;
use sentinel_tests::{app, isolated_stack, request, sql, start_host, workspace_root, TEST_METRICS_TOKEN};
use serde_json::json;

/// Recording happens after each response has been sent; this bounds how long the figures may lag.
const SETTLE: Duration = Duration::from_secs(20);

fn scrape(base: &str) -> String {
    let auth = format!("Bearer {TEST_METRICS_TOKEN}");
    let r = request("GET", &format!("{base}/metrics"), &[("authorization", &auth), ("accept", "text/plain")], None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
}

/// Every sample of the exposition: `name{labels}` (as written) → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn series(route: &str, status: &str) -> String {
    format!("method=\"GET\",route=\"{route}\",status=\"{status}\"")
}

#[test]
fn request_counts_and_latencies_add_up_across_instances_and_hosts() {
    // Two hosts started separately (as two replicas would be) on one PostgreSQL and Redis; every
    // request gets a fresh component instance.
    let stack = isolated_stack().expect("isolated stack");
    let second = start_host(&workspace_root().join("spin.toml"), stack.variables.clone()).expect("second host");
    let (a, b) = (stack.base_url().to_string(), second.base_url.clone());
    for _ in 0..5 {
        assert_eq!(request("GET", &format!("{a}/live"), &[], None).status, 200);
    }
    for _ in 0..4 {
        assert_eq!(request("GET", &format!("{b}/live"), &[], None).status, 200);
    }
    for base in [&a, &b, &b] {
        assert_eq!(request("GET", &format!("{base}/api/members"), &[], None).status, 401);
    }

    let live = series("/live", "2xx");
    let refused = series("/api/members", "4xx");
    let settled = sentinel_tests::wait_until(SETTLE, || {
        let s = samples(&scrape(&a));
        s.get(&format!("http_requests_total{{{live}}}")) == Some(&9.0) && s.get(&format!("http_requests_total{{{refused}}}")) == Some(&3.0)
    });
    let text = scrape(&b);
    assert!(settled, "9 + 3 requests counted across both hosts:\n{text}");
    let s = samples(&text);
    assert_eq!(s[&format!("http_requests_total{{{live}}}")], 9.0, "either host reports the shared figures");
    assert_eq!(s[&format!("http_request_duration_seconds_count{{{live}}}")], 9.0);
    assert_eq!(s[&format!("http_request_duration_seconds_bucket{{le=\"+Inf\",{live}}}")], 9.0);
    assert!(s[&format!("http_request_duration_seconds_sum{{{live}}}")] > 0.0);
    let buckets: Vec<f64> = s.iter().filter(|(k, _)| k.starts_with("http_request_duration_seconds_bucket{") && k.ends_with(&format!(",{live}}}"))).map(|(_, v)| *v).collect();
    assert_eq!(buckets.len(), 12, "11 bounds and +Inf");
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(text.contains("# TYPE http_requests counter"));
    let mut cumulative: Vec<(f64, f64)> = s
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix("http_request_duration_seconds_bucket{le=\"")?.split('"').next()?;
            k.ends_with(&format!(",{live}}}")).then(|| (if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() }, *v))
        })
        .collect();
    cumulative.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap());
    assert!(cumulative.windows(2).all(|w| w[0].1 <= w[1].1), "buckets are cumulative: {cumulative:?}");
    // The route template, not the path: ids do not multiply the series.
    let id = "00000000-0000-4000-8000-000000000001";
    assert_eq!(request("GET", &format!("{a}/api/members/{id}"), &[], None).status, 401);
    assert!(sentinel_tests::wait_until(SETTLE, || scrape(&a).contains(&format!("http_requests_total{{{}}} 1", series("/api/members/:id", "4xx")))));
    assert!(!scrape(&a).contains(id));
}

/// The domain figures as the API and the database state them now.
fn expected_gauges() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let n = |q: &str| sql(q)[0]["n"].as_i64().unwrap() as f64;
    out.insert("members_checked_in".into(), n("SELECT count(*) AS n FROM present_members"));
    out.insert("visitors_on_site".into(), n("SELECT count(*) AS n FROM visitors WHERE check_out_time IS NULL"));
    for row in sql("SELECT severity, count(*) AS n FROM security_alerts WHERE status = 'active' GROUP BY severity") {
        out.insert(format!("security_alerts_active{{severity=\"{}\"}}", row["severity"].as_str().unwrap()), row["n"].as_i64().unwrap() as f64);
    }
    for row in sql("SELECT status, count(*) AS n FROM badges GROUP BY status") {
        out.insert(format!("badges_by_status{{status=\"{}\"}}", row["status"].as_str().unwrap()), row["n"].as_i64().unwrap() as f64);
    }
    let kiosks = admin("GET", "/api/kiosks", None);
    assert_eq!(kiosks.status, 200, "{}", kiosks.text);
    let online = kiosks.body["kiosks"].as_array().unwrap().iter().filter(|k| k["status"] == "online").count();
    out.insert("kiosks_online".into(), online as f64);
    let dds = admin("GET", "/api/dds/current", None);
    assert_eq!(dds.status, 200, "{}", dds.text);
    out.insert("dds_assigned".into(), if dds.body["assignment"].is_null() { 0.0 } else { 1.0 });
    out
}

fn assert_gauges_match(context: &str) {
    let expected = expected_gauges();
    let actual = samples(&scrape(&app().base_url));
    for (name, value) in &expected {
        assert_eq!(actual.get(name), Some(value), "{context}: {name}");
    }
    // No series the database does not have (a severity or status with no rows is absent).
    for name in actual.keys().filter(|k| k.starts_with("security_alerts_active{") || k.starts_with("badges_by_status{")) {
        assert!(expected.contains_key(name), "{context}: unexpected {name}");
    }
}

#[test]
fn domain_gauges_match_the_database_after_changes() {
    assert_gauges_match("before");

    // A member scans in at a kiosk (the kiosk comes online too).
    let holder = holder();
    let (_, key) = kiosk();
    let r = scan(&key, &holder.serial, None);
    assert_eq!(r.status, 201, "{}", r.text);
    // A critical alert is raised; a badge is reported lost; today's DDS is set.
    let alert = admin(
        "POST",
        "/api/security-alerts",
        Some(&json!({ "alertType": "system", "severity": "critical", "badgeSerial": null, "kioskId": "metrics-test", "message": "metrics test" })),
    );
    assert_eq!(alert.status, 201, "{}", alert.text);
    badge("lost");
    let dds = admin("POST", "/api/dds/set-today", Some(&json!({ "memberId": holder.member })));
    assert_eq!(dds.status, 200, "{}", dds.text);

    let after = samples(&scrape(&app().base_url));
    assert!(after["members_checked_in"] >= 1.0 && after["kiosks_online"] >= 1.0 && after["dds_assigned"] == 1.0, "{after:?}");
    assert!(after["security_alerts_active{severity=\"critical\"}"] >= 1.0);
    assert_gauges_match("after changes");
}

#[test]
fn metrics_need_the_token_and_speak_openmetrics_to_prometheus() {
    let base = &app().base_url;
    let no_token = request("GET", &format!("{base}/metrics"), &[("accept", "text/plain")], None);
    assert_eq!((no_token.status, no_token.body["error"].as_str()), (401, Some("UNAUTHORIZED")));
    assert!(!no_token.text.contains("members_checked_in"));
    let wrong = request("GET", &format!("{base}/metrics"), &[("authorization", "Bearer not-the-token"), ("accept", "text/plain")], None);
    assert_eq!(wrong.status, 401);
    // Prometheus' own Accept header.
    let auth = format!("Bearer {TEST_METRICS_TOKEN}");
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let r = request("GET", &format!("{base}/metrics"), &[("authorization", &auth), ("accept", accept)], None);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("application/openmetrics-text"), "{:?}", r.header("content-type"));
    assert!(r.text.trim_end().ends_with("# EOF"), "OpenMetrics ends with # EOF");
}
