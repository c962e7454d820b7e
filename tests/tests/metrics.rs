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

/// Held by the tests of this file that change the shared database, so a comparison of gauges
/// with the database never sees another test's change in between.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn domain_gauges_match_the_database_after_changes() {
    let _serial = serial();
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

/// A Prometheus process, killed on drop.
struct Prometheus {
    child: std::process::Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn api(&self, path: &str, query: &str) -> serde_json::Value {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.url), &[("query", query)]).unwrap();
        sentinel_tests::block_on(async move { reqwest::get(url).await?.json::<serde_json::Value>().await }).unwrap_or_default()
    }
}

/// The shipped scrape configuration, run by a real Prometheus (Debian's `prometheus`, installed by
/// `scripts/test`) against the app and a relay: both targets are up with the token read from a file,
/// the domain figures arrive, and every query of the Grafana dashboard parses and names only series
/// the two endpoints export.
#[test]
fn prometheus_scrapes_the_documented_endpoints_and_the_dashboard_queries_them() {
    let binary = "prometheus";
    assert!(
        std::process::Command::new(binary).arg("--version").output().is_ok(),
        "Debian's prometheus package is needed (scripts/test installs it)"
    );
    let _serial = serial();
    let base = app().base_url.clone();
    let relay = sentinel_tests::block_on(sentinel_tests::relay::start_relay(|_| {}));
    // Families appear once they have a sample: a connection, a refused one, a badge, an active alert.
    let session = sentinel_tests::relay::session("admin");
    let ws = sentinel_tests::relay::ws_url(&relay);
    let (url, token) = (ws.clone(), session.token.clone());
    let client = sentinel_tests::block_on(async move { sentinel_tests::relay::connect(&url, &token).await });
    let refused = sentinel_tests::block_on(async move {
        sentinel_tests::relay::try_connect(&ws, &[("authorization", "Bearer not-a-token")]).await.is_err()
    });
    assert!(refused);
    badge("active");
    let alert = admin(
        "POST",
        "/api/security-alerts",
        Some(&json!({ "alertType": "system", "severity": "warning", "badgeSerial": null, "kioskId": "prometheus-test", "message": "prometheus test" })),
    );
    assert_eq!(alert.status, 201, "{}", alert.text);

    // The shipped file, with only the addresses, the token file and the interval replaced.
    let dir = std::env::temp_dir().join(unique("sentinel-prometheus-"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), TEST_METRICS_TOKEN).unwrap();
    let shipped = std::fs::read_to_string(workspace_root().join("infra/prometheus/prometheus.yml")).unwrap();
    let mut config = shipped.clone();
    for (from, to) in [
        ("\"127.0.0.1:3000\"", format!("\"{}\"", base.trim_start_matches("http://"))),
        ("\"127.0.0.1:9464\"", format!("\"{}\"", relay.metrics_addr())),
        ("../../.sentinel/metrics_token", dir.join("token").display().to_string()),
        ("scrape_interval: 15s", "scrape_interval: 1s".to_string()),
        ("scrape_timeout: 10s", "scrape_timeout: 1s".to_string()),
    ] {
        assert_eq!(config.matches(from).count(), 1, "{from} in infra/prometheus/prometheus.yml");
        config = config.replace(from, &to);
    }
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = sentinel_ops::services::free_port().unwrap();
    let child = std::process::Command::new(binary)
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("starting prometheus");
    let prometheus = Prometheus { child, url: format!("http://127.0.0.1:{port}") };

    let value = |query: &str| -> Option<f64> {
        let r = prometheus.api("/api/v1/query", query);
        r["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse().ok())
    };
    let scraped = sentinel_tests::wait_until(Duration::from_secs(60), || {
        value("up{job=\"sentinel-app\"}") == Some(1.0)
            && value("up{job=\"sentinel-relay\"}") == Some(1.0)
            && value("sum(security_alerts_active{job=\"sentinel-app\"})").is_some()
            && value("sum(sentinel_relay_connections{job=\"sentinel-relay\"})").is_some()
    });
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    assert!(scraped, "Prometheus scraped both targets: {}\n{log}", prometheus.api("/api/v1/targets", "")["data"]);
    let present = value("members_checked_in{job=\"sentinel-app\"}").expect("members_checked_in scraped");
    assert!(present >= 0.0);

    // Every dashboard query parses, and every series it names is one of the exported ones.
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("infra/grafana/sentinel-dashboard.json")).unwrap()).unwrap();
    let names: Vec<String> = prometheus.api("/api/v1/label/__name__/values", "")["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries += 1;
            let expr = target["expr"].as_str().unwrap();
            let query = expr.replace("$__rate_interval", "1m").replace("$app_job", "sentinel-app").replace("$relay_job", "sentinel-relay");
            let r = prometheus.api("/api/v1/query", &query);
            assert_eq!(r["status"], "success", "{}: {expr}: {r}", panel["title"]);
            for word in query.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                let metric = word.starts_with("http_")
                    || word.starts_with("sentinel_relay_")
                    || ["members_checked_in", "visitors_on_site", "kiosks_online", "kiosks_offline", "dds_assigned", "security_alerts_active", "badges_by_status"].contains(&word);
                if metric {
                    assert!(names.iter().any(|n| n == word), "{}: {word} is not exported (have {names:?})", panel["title"]);
                }
            }
        }
    }
    assert!(queries >= 20, "{queries} queries");
    drop(client);
    drop(prometheus);
    sentinel_tests::block_on(relay.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
}
