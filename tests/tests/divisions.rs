//! Divisions through HTTP against the real host, components,
//! PostgreSQL and Redis.

#[path = "support/kiosk.rs"]
mod kiosk;

use sentinel_tests::fixtures::{admin, as_role, bearer, user};
use sentinel_tests::{request, request_bytes, sql, sql_exec, Resp};
use serde_json::{json, Value};

fn get(path: &str) -> Resp {
    as_role("quartermaster", "GET", path, None)
}
fn post_json(path: &str, body: &Value) -> Resp {
    admin("POST", path, Some(body))
}
fn patch_json(path: &str, body: &Value) -> Resp {
    admin("PATCH", path, Some(body))
}
fn delete(path: &str) -> Resp {
    admin("DELETE", path, None)
}
/// Raw requests signed in as an admin.
fn admin_headers() -> Vec<(&'static str, String)> {
    vec![bearer(&user("admin").token)]
}
fn with_admin<'a>(extra: &[(&'a str, &'a str)], auth: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    all
}

/// A division code unique to this test run (codes are at most 10 chars).
fn unique_code(prefix: &str) -> String {
    let n: u32 = rand_u32() % 0xFFFFFF;
    format!("{prefix}{n:06X}")
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish() as u32
}

fn create(code: &str, name: &str) -> Value {
    let r = post_json("/api/divisions", &json!({ "code": code, "name": name }));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn add_member(division_id: &str, status: &str) -> String {
    let service_number = format!("SN{}", rand_u32());
    let rows = sql(&format!(
        "INSERT INTO members (service_number, rank, first_name, last_name, division_id, status)
         VALUES ('{service_number}', 'S1', 'Test', 'Member', '{division_id}', '{status}') RETURNING id::text AS id"
    ));
    rows[0]["id"].as_str().unwrap().to_string()
}

fn issue_paths(body: &Value) -> Vec<String> {
    body["issues"].as_array().unwrap_or(&vec![]).iter().map(|i| i["path"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn create_returns_the_division_with_upper_cased_code() {
    let code = unique_code("c");
    let r = post_json("/api/divisions", &json!({ "code": code, "name": "Created", "color": "#12ab9F" }));
    assert_eq!(r.status, 201, "{}", r.text);
    let d = &r.body;
    assert_eq!(d["code"], code.to_uppercase());
    assert_eq!(d["name"], "Created");
    assert_eq!(d["description"], Value::Null);
    assert_eq!(d["color"], "#12ab9F");
    assert_eq!(d["memberCount"], 0);
    assert!(d.get("presentCount").is_none());
    assert!(d["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(d["createdAt"].as_str().unwrap().len(), "2026-01-23T16:56:39.000Z".len());
    let stored = sql(&format!("SELECT code, color FROM divisions WHERE id = '{}'", d["id"].as_str().unwrap()));
    assert_eq!(stored[0]["code"], code.to_uppercase());
}

#[test]
fn duplicate_codes_conflict_case_insensitively() {
    let code = unique_code("D");
    create(&code, "First");
    let r = post_json("/api/divisions", &json!({ "code": code.to_lowercase(), "name": "Second" }));
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["error"], "CONFLICT");
    assert!(r.body["message"].as_str().unwrap().contains(&code.to_uppercase()));
    assert_eq!(sql(&format!("SELECT count(*)::int AS n FROM divisions WHERE code = '{}'", code.to_uppercase()))[0]["n"], 1);
}

#[test]
fn invalid_bodies_get_the_validation_envelope() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (br#"{}"#.to_vec(), "code"),
        (br#"{"code":"ABCDEFGHIJK","name":"x"}"#.to_vec(), "code"),
        (br#"{"code":"","name":"x"}"#.to_vec(), "code"),
        (br#"{"code":"OK","name":""}"#.to_vec(), "name"),
        (br#"{"code":"OK","name":"x","color":"red"}"#.to_vec(), "color"),
        (br#"{"code":12,"name":"x"}"#.to_vec(), "code"),
        (br#"{"code":"OK","name":"x","extra":true}"#.to_vec(), ""),
        (br#"{"code":"OK","#.to_vec(), ""),
        (br#"[1,2]"#.to_vec(), ""),
    ];
    for (body, path) in cases {
        let auth = admin_headers();
        let r = request_bytes("POST", "/api/divisions", &with_admin(&[("content-type", "application/json")], &auth), Some(body.clone()));
        assert_eq!(r.status, 400, "{} -> {}", String::from_utf8_lossy(&body), r.text);
        assert_eq!(r.body["error"], "VALIDATION_ERROR");
        assert_eq!(r.body["message"], "Request validation failed");
        assert!(r.body["correlationId"].is_string());
        let paths = issue_paths(&r.body);
        assert!(!paths.is_empty());
        if !path.is_empty() {
            assert!(paths.iter().any(|p| p == path), "{} -> {paths:?}", String::from_utf8_lossy(&body));
        }
    }
}

#[test]
fn get_by_id_404_and_malformed_id() {
    let d = create(&unique_code("G"), "Gettable");
    let id = d["id"].as_str().unwrap();
    let r = get(&format!("/api/divisions/{id}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["memberCount"], 0);

    let nil = "00000000-0000-0000-0000-000000000000";
    let r = get(&format!("/api/divisions/{nil}"));
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "NOT_FOUND");
    assert!(r.body["message"].as_str().unwrap().contains(nil));

    let r = get("/api/divisions/not-a-uuid");
    assert_eq!(r.status, 400);
    assert_eq!(issue_paths(&r.body), ["id"]);
}

#[test]
fn list_searches_and_paginates_in_the_database() {
    let marker = format!("Paging{}", rand_u32());
    let mut codes: Vec<String> = (0..5).map(|i| { let c = unique_code(&format!("P{i}")); create(&c, &format!("{marker} {i}")); c.to_uppercase() }).collect();
    codes.sort();

    let r = get(&format!("/api/divisions?search={}&limit=2&page=1", marker.to_lowercase()));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["total"], 5);
    assert_eq!(r.body["page"], 1);
    assert_eq!(r.body["limit"], 2);
    assert_eq!(r.body["totalPages"], 3);
    let page1: Vec<&str> = r.body["divisions"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(page1, codes[..2].iter().map(String::as_str).collect::<Vec<_>>(), "ordered by code");

    let r = get(&format!("/api/divisions?search={marker}&limit=2&page=3"));
    assert_eq!(r.body["divisions"].as_array().unwrap().len(), 1);

    let r = get(&format!("/api/divisions?search={marker}&limit=2&page=9"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["divisions"], json!([]));
    assert_eq!(r.body["total"], 5, "a page past the end still reports the total");

    // Search also matches codes.
    let r = get(&format!("/api/divisions?search={}", &codes[0].to_lowercase()));
    assert_eq!(r.body["total"], 1);

    let r = get("/api/divisions?search=zzz-no-such-division-zzz");
    assert_eq!((r.body["total"].clone(), r.body["totalPages"].clone()), (json!(0), json!(0)));
}

#[test]
fn list_rejects_bad_paging_parameters() {
    for q in ["page=0", "limit=0", "limit=101", "page=abc", "limit=2.5", "includeStats=maybe"] {
        let r = get(&format!("/api/divisions?{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.text);
        assert_eq!(r.body["error"], "VALIDATION_ERROR");
    }
}

#[test]
fn member_and_present_counts() {
    let d = create(&unique_code("M"), "Counted");
    let id = d["id"].as_str().unwrap().to_string();
    let present = add_member(&id, "active");
    add_member(&id, "active");
    let inactive_present = add_member(&id, "inactive");
    for m in [&present, &inactive_present] {
        sql_exec(&format!("INSERT INTO checkins (member_id, direction, kiosk_id) VALUES ('{m}', 'in', 'test')"));
    }
    let r = get(&format!("/api/divisions/{id}"));
    assert_eq!(r.body["memberCount"], 3, "members of every status count");

    let r = get(&format!("/api/divisions?search={}&includeStats=true", d["code"].as_str().unwrap()));
    let listed = &r.body["divisions"][0];
    assert_eq!(listed["memberCount"], 3);
    assert_eq!(listed["presentCount"], 1, "only active members who are in");
}

#[test]
fn patch_updates_clears_and_conflicts() {
    let d = create(&unique_code("U"), "Before");
    let id = d["id"].as_str().unwrap();
    sql_exec(&format!("UPDATE divisions SET description = 'old' WHERE id = '{id}'"));

    let r = patch_json(&format!("/api/divisions/{id}"), &json!({ "name": "After", "description": null, "color": "#000000" }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "After");
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["color"], "#000000");
    assert_eq!(r.body["code"], d["code"]);

    let r = patch_json(&format!("/api/divisions/{id}"), &json!({}));
    assert_eq!(r.status, 400);

    let other = create(&unique_code("O"), "Other");
    let r = patch_json(&format!("/api/divisions/{id}"), &json!({ "code": other["code"].as_str().unwrap().to_lowercase() }));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains(other["code"].as_str().unwrap()));
    assert_eq!(get(&format!("/api/divisions/{id}")).body["code"], d["code"], "nothing changed");

    let r = patch_json("/api/divisions/00000000-0000-0000-0000-000000000000", &json!({ "name": "x" }));
    assert_eq!(r.status, 404);
}

#[test]
fn delete_is_refused_while_members_remain() {
    let d = create(&unique_code("X"), "Doomed");
    let id = d["id"].as_str().unwrap();
    add_member(id, "inactive");
    let r = delete(&format!("/api/divisions/{id}"));
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["message"], "Cannot delete division with 1 assigned members");
    assert_eq!(get(&format!("/api/divisions/{id}")).status, 200);

    let empty = create(&unique_code("E"), "Empty");
    let eid = empty["id"].as_str().unwrap();
    let r = delete(&format!("/api/divisions/{eid}"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({ "success": true, "message": "Division deleted successfully" }));
    assert_eq!(get(&format!("/api/divisions/{eid}")).status, 404);
    assert_eq!(delete(&format!("/api/divisions/{eid}")).status, 404);
}

#[test]
fn a_member_added_during_the_delete_is_counted_in_the_conflict() {
    // The count and the delete are one statement; a member committed after its snapshot makes the delete
    // fail on the foreign key, and that answer names the count too.
    let d = create(&unique_code("R"), "Raced");
    let id = d["id"].as_str().unwrap().to_string();
    let url = sentinel_tests::services().database_url.clone();
    let holder = std::sync::Arc::new(sentinel_tests::block_on(async move { sentinel_ops::connect(&url).await.unwrap() }));
    let client = holder.clone();
    let insert = format!(
        "BEGIN; INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('SN{}', 'S1', 'Late', 'Comer', '{id}')",
        rand_u32()
    );
    sentinel_tests::block_on(async move { client.batch_execute(&insert).await.unwrap() });
    let r = std::thread::scope(|s| {
        let path = format!("/api/divisions/{id}");
        let waiting = s.spawn(move || delete(&path));
        // The delete waits on the uncommitted member's lock of the division row; then the member commits.
        let blocked = sentinel_tests::wait_until(std::time::Duration::from_secs(10), || {
            sql("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM divisions%'")[0]["n"].as_i64() >= Some(1)
        });
        let client = holder.clone();
        sentinel_tests::block_on(async move { client.batch_execute("COMMIT").await.unwrap() });
        assert!(blocked, "the delete never waited on the member's lock");
        waiting.join().unwrap()
    });
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["message"], "Cannot delete division with 1 assigned members");
    assert_eq!(r.body["details"]["memberCount"], 1, "{}", r.text);
    assert_eq!(get(&format!("/api/divisions/{id}")).status, 200);
}

#[test]
fn division_changes_publish_presence() {
    // Presence lists every division by name: create, rename and delete push it.
    let listed = |id: &str| -> Vec<String> {
        kiosk::stream("presence")
            .into_iter()
            .filter(|(event, _)| event == "presence:update")
            .filter_map(|(_, data)| {
                data["byDivision"].as_array()?.iter().find(|d| d["divisionId"] == json!(id)).map(|d| d["divisionName"].as_str().unwrap_or_default().to_string())
            })
            .collect()
    };
    let d = create(&unique_code("P"), "Pushed");
    let id = d["id"].as_str().unwrap().to_string();
    assert!(listed(&id).contains(&"Pushed".to_string()), "{:?}", listed(&id));
    assert_eq!(patch_json(&format!("/api/divisions/{id}"), &json!({ "name": "Pushed Again" })).status, 200);
    assert!(listed(&id).contains(&"Pushed Again".to_string()), "{:?}", listed(&id));
    assert_eq!(delete(&format!("/api/divisions/{id}")).status, 200);
    // After the last update listing it, one without it.
    let events: Vec<bool> = kiosk::stream("presence")
        .into_iter()
        .filter(|(event, _)| event == "presence:update")
        .map(|(_, data)| data["byDivision"].as_array().is_some_and(|rows| rows.iter().any(|d| d["divisionId"] == json!(id))))
        .collect();
    let last_listing = events.iter().rposition(|listed| *listed).expect("listed before the delete");
    assert!(last_listing + 1 < events.len(), "no presence:update after the delete");
}

#[test]
fn correlation_ids_are_echoed_or_generated() {
    let auth = admin_headers();
    let r = request("GET", "/api/divisions/00000000-0000-0000-0000-000000000000", &with_admin(&[("x-correlation-id", "trace-123")], &auth), None);
    assert_eq!(r.header("x-correlation-id"), Some("trace-123"));
    assert_eq!(r.body["correlationId"], "trace-123");
    let r = get("/api/divisions");
    let generated = r.header("x-correlation-id").unwrap();
    assert_eq!(generated.len(), 36);
}

#[test]
fn cors_and_security_headers() {
    let auth = admin_headers();
    let r = request("GET", "/api/divisions", &with_admin(&[("origin", "http://localhost:5173")], &auth), None);
    assert_eq!(r.header("access-control-allow-origin"), Some("http://localhost:5173"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert!(r.header("access-control-expose-headers").unwrap().contains("X-Correlation-ID"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("content-security-policy").unwrap().contains("default-src 'self'"));

    let r = request("GET", "/api/divisions", &with_admin(&[("origin", "https://evil.example")], &auth), None);
    assert_eq!(r.header("access-control-allow-origin"), None);

    let r = request("OPTIONS", "/api/divisions", &[("origin", "http://localhost:3000"), ("access-control-request-method", "POST")], None);
    assert_eq!(r.status, 204);
    assert!(r.header("access-control-allow-methods").unwrap().contains("PATCH"));
    assert!(r.header("access-control-allow-headers").unwrap().contains("X-API-Key"));
}

#[test]
fn unknown_routes_and_oversized_bodies() {
    let r = get("/api/no-such-resource");
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "NOT_FOUND");
    assert_eq!(r.body["message"], "Cannot GET /api/no-such-resource");

    let r = admin("PUT", "/api/divisions", Some(&json!({})));
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "Cannot PUT /api/divisions");

    let huge = format!(r#"{{"code":"BIG","name":"{}"}}"#, "x".repeat(1024 * 1024 + 10));
    let auth = admin_headers();
    let r = request_bytes("POST", "/api/divisions", &with_admin(&[("content-type", "application/json")], &auth), Some(huge.into_bytes()));
    assert_eq!(r.status, 413, "{}", &r.text[..r.text.len().min(200)]);
    assert_eq!(r.body["error"], "PAYLOAD_TOO_LARGE");
}

#[test]
fn access_follows_the_spec_column() {
    let r = request("GET", "/api/divisions", &[], None);
    assert_eq!(r.status, 401, "anonymous: {}", r.text);
    assert_eq!(r.body["error"], "UNAUTHORIZED");
    let r = request("GET", "/api/divisions", &[("authorization", "Bearer not-a-token")], None);
    assert_eq!(r.status, 401);
    for role in ["quartermaster", "duty_watch", "executive"] {
        let r = as_role(role, "POST", "/api/divisions", Some(&json!({ "code": "NOPE", "name": "No" })));
        assert_eq!(r.status, 403, "{role} may not create: {}", r.text);
        assert_eq!(r.body["error"], "FORBIDDEN");
        assert_eq!(as_role(role, "GET", "/api/divisions", None).status, 200, "{role} may read");
    }
    let r = as_role("developer", "POST", "/api/divisions", Some(&json!({ "code": unique_code("V"), "name": "Dev made" })));
    assert_eq!(r.status, 201);
}

#[test]
fn mutations_write_audit_rows() {
    let d = create(&unique_code("A"), "Audited");
    let id = d["id"].as_str().unwrap();
    patch_json(&format!("/api/divisions/{id}"), &json!({ "name": "Audited 2" }));
    delete(&format!("/api/divisions/{id}"));
    let rows = sql(&format!(
        "SELECT action, admin_user_id::text AS actor, details FROM audit_log WHERE entity_type = 'division' AND entity_id = '{id}' ORDER BY created_at, action"
    ));
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["division_create", "division_update", "division_delete"]);
    let admin_id = user("admin").id;
    assert!(rows.iter().all(|r| r["actor"] == admin_id.as_str()));
    assert_eq!(rows[1]["details"]["before"]["name"], "Audited");
    assert_eq!(rows[1]["details"]["after"]["name"], "Audited 2");
}
