//! Health, readiness, liveness and the OpenAPI document.

use sentinel_tests::{get, isolated_stack, request, TEST_METRICS_TOKEN};

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
}

/// `/docs` is Swagger UI served from the component's own embedded files: the page, every file it
/// loads (with its content type), and nothing from another origin.
#[test]
fn docs_page_serves_swagger_ui_from_embedded_assets() {
    let r = get("/docs");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text.contains("id=\"swagger-ui\""), "{}", r.text);
    // Without JavaScript: the table of operations.
    assert!(r.text.contains("/api/divisions/{id}"));
    assert!(!r.text.contains("http://") && !r.text.contains("https://") && !r.text.contains("//cdn"), "no other origin: {}", r.text);
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'") && !csp.contains("script-src"), "scripts only from this origin: {csp}");

    let mut loaded = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for part in r.text.split(attribute).skip(1) {
            loaded.push(part.split('"').next().unwrap().to_string());
        }
    }
    let expected = [
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-initializer.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/favicon-32x32.png", "image/png"),
        ("/docs/favicon-16x16.png", "image/png"),
    ];
    for (path, content_type) in expected {
        assert!(loaded.iter().any(|l| l == path), "the page loads {path}: {loaded:?}");
        let asset = get(path);
        assert_eq!(asset.status, 200, "{path}");
        assert!(asset.header("content-type").unwrap().starts_with(content_type), "{path}: {:?}", asset.header("content-type"));
        assert!(asset.text.len() > 100, "{path} has content");
    }
    for link in loaded.iter().filter(|l| l.starts_with("/docs/")) {
        assert!(expected.iter().any(|(p, _)| p == link), "unexpected file {link}");
    }
    let bundle = get("/docs/swagger-ui-bundle.js");
    assert!(bundle.text.len() > 1_000_000, "the whole Swagger UI bundle");
    assert!(bundle.header("cache-control").unwrap().contains("max-age"));
    let init = get("/docs/swagger-initializer.js");
    assert!(init.text.contains("url: \"/openapi.json\""), "{}", init.text);
    let license = get("/docs/LICENSE");
    assert!(license.text.contains("Apache License"), "Swagger UI's licence is served with it");

    let missing = get("/docs/not-a-file.js");
    assert_eq!((missing.status, missing.body["error"].as_str()), (404, Some("NOT_FOUND")));
    assert_eq!(get("/docs/..%2Fspin.toml").status, 404);
}

/// What Swagger UI's "Try it out" needs: every operation has a summary and the security requirement of
/// its access rule, the schemes are a bearer token and the `X-API-Key` header, and the server is the
/// serving host.
#[test]
fn openapi_operations_carry_summaries_and_the_security_of_their_access() {
    let doc = get("/openapi.json").body;
    assert_eq!(doc["servers"], serde_json::json!([{ "url": "/", "description": "The host serving this document" }]));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!((schemes["session"]["type"].as_str(), schemes["session"]["scheme"].as_str()), (Some("http"), Some("bearer")));
    assert_eq!((schemes["apiKey"]["in"].as_str(), schemes["apiKey"]["name"].as_str()), (Some("header"), Some("X-API-Key")));
    assert_eq!(schemes["metricsToken"]["scheme"], "bearer");
    let mut count = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            count += 1;
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(!summary.trim().is_empty(), "{method} {path}: no summary");
            let access: Vec<&str> = op["x-sentinel-access"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
            let security: Vec<String> = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no security requirement"))
                .iter()
                .flat_map(|req| req.as_object().unwrap().keys().cloned().collect::<Vec<_>>())
                .collect();
            let users = access.iter().any(|a| a.ends_with('+') || *a == "DEV");
            let keys = access.iter().any(|a| *a == "KIOSK" || *a == "DISPLAY");
            let expected: Vec<&str> = if access == ["PUBLIC"] {
                vec![]
            } else if access.iter().any(|a| a.starts_with("TOKEN:")) {
                vec!["metricsToken"]
            } else {
                let mut e = Vec::new();
                if users {
                    e.extend(["session", "sessionCookie"]);
                }
                if keys {
                    e.push("apiKey");
                }
                e
            };
            assert_eq!(security, expected, "{method} {path} ({access:?})");
        }
    }
    assert!(count > 100, "every operation: {count}");

    // "Try it out" sends exactly these headers: both credentials work against the serving host.
    let admin_token = sentinel_tests::fixtures::user("admin").token.clone();
    let by_bearer = request("GET", "/api/dds/current", &[("authorization", &format!("Bearer {admin_token}"))], None);
    assert_eq!(by_bearer.status, 200, "{}", by_bearer.text);
    let key = sentinel_tests::fixtures::api_key("kiosk");
    let by_key = request("GET", "/api/dds/current", &[("x-api-key", &key)], None);
    assert_eq!(by_key.status, 200, "{}", by_key.text);
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
