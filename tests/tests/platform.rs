//! Health, readiness, liveness and the OpenAPI document.

use sentinel_tests::{get, isolated_stack, request, TEST_METRICS_TOKEN};
use serde_json::Value;

#[test]
fn health_reports_every_dependency_up() {
    let r = get("/health");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "healthy");
    assert_eq!(r.body["checks"]["database"], true);
    assert_eq!(r.body["checks"]["redis"], true);
    assert!(r.body["checks"]["uptime"].as_f64().unwrap() > 0.0);
    assert!(r.body["checks"]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.body["version"], "2.0.0");
    assert_eq!(r.body["environment"], "development");
    assert!(r.body.get("down").is_none());
}

#[test]
fn ready_and_live() {
    let r = get("/ready");
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ready")));
    let r = get("/live");
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("alive")));
    assert!(r.body["uptime"].as_f64().unwrap() > 0.0);
}

#[test]
fn health_names_what_is_down() {
    let stack = isolated_stack().expect("isolated stack");
    let base = stack.base_url().to_string();
    assert_eq!(request("GET", &format!("{base}/health"), &[], None).status, 200);

    stack.stop_postgres();
    let r = request("GET", &format!("{base}/health"), &[], None);
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.body["status"], "unhealthy");
    assert_eq!(r.body["checks"]["database"], false);
    assert_eq!(r.body["checks"]["redis"], true);
    assert_eq!(r.body["down"], serde_json::json!(["database"]));
    assert!(!r.text.contains("Connection refused"), "internal error text must not leak: {}", r.text);
    let r = request("GET", &format!("{base}/ready"), &[], None);
    assert_eq!(r.status, 503);
    assert_eq!(r.body["error"], "Database connection failed");
    assert_eq!(request("GET", &format!("{base}/live"), &[], None).status, 200, "liveness never touches the database");

    stack.start_postgres();
    stack.stop_redis();
    let r = request("GET", &format!("{base}/health"), &[], None);
    assert_eq!(r.status, 503);
    assert_eq!(r.body["down"], serde_json::json!(["redis"]));
    stack.start_redis();
    assert_eq!(request("GET", &format!("{base}/health"), &[], None).status, 200);
}

#[test]
fn openapi_document_lists_operations_with_access() {
    let r = get("/openapi.json");
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let op = &r.body["paths"]["/api/divisions/{id}"]["delete"];
    assert_eq!(op["x-sentinel-access"], serde_json::json!(["ADM+"]));
    assert_eq!(op["x-spin-component"], "members");
    assert_eq!(r.body["paths"]["/health"]["get"]["x-sentinel-access"], serde_json::json!(["PUBLIC"]));

    let r = get("/docs");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text.contains("/api/divisions/{id}"));
    let _: Value = r.body; // HTML: not JSON
}

#[test]
fn metrics_need_the_token_and_negotiate_their_format() {
    assert_eq!(get("/metrics").status, 401);
    assert_eq!(request("GET", "/metrics", &[("authorization", "Bearer wrong")], None).status, 401);
    let auth = format!("Bearer {TEST_METRICS_TOKEN}");
    let r = request("GET", "/metrics", &[("authorization", &auth), ("accept", "text/plain")], None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(r.text.contains("# TYPE members_checked_in gauge"), "{}", r.text);
    assert!(r.text.contains("visitors_on_site"));
    let r = request("GET", "/metrics", &[("authorization", &auth)], None);
    assert_eq!(r.status, 200);
    assert!(r.body["uptime"].as_f64().unwrap() > 0.0);
    assert!(r.body["memory"]["heapTotal"].as_u64().unwrap() > 0);
    assert_eq!(r.body["environment"], "development");
}

/// Issue 13, finding 10: every component that talks to Redis (it maps `redis_url`) may open the TLS
/// `rediss://` URLs the README documents, at the configured `redis_host`, as well as `redis://`.
#[test]
fn every_component_using_redis_allows_rediss() {
    use sentinel_host::allowed_hosts::{AllowedHosts, OutboundUrl};
    let manifest = sentinel_host::manifest::Manifest::load(&sentinel_tests::workspace_root().join("spin.toml")).unwrap();
    let redis_host = "redis.example.internal:6380";
    let mut using_redis = 0;
    for (id, component) in &manifest.components {
        if !component.variables.contains_key("redis_url") {
            continue;
        }
        using_redis += 1;
        let entries: Vec<String> = component
            .allowed_outbound_hosts
            .iter()
            .map(|entry| {
                let template = sentinel_host::template::Template::parse(entry).unwrap();
                template
                    .render(|name| match name {
                        "redis_host" => Ok::<_, String>(redis_host.to_string()),
                        "database_host" => Ok("db.example.internal:5432".to_string()),
                        other => Err(format!("unexpected variable {other}")),
                    })
                    .unwrap()
            })
            .collect();
        let allowed = AllowedHosts::parse(&entries).unwrap();
        for scheme in ["redis", "rediss"] {
            let url = OutboundUrl::parse(&format!("{scheme}://{redis_host}"), scheme).unwrap();
            assert!(allowed.allows(&url), "component {id} does not allow {scheme}://{redis_host}: {entries:?}");
        }
    }
    assert!(using_redis >= 12, "every component publishes or rate-limits through Redis ({using_redis} found)");
}
