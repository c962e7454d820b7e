//! Sentinel on every Spin release it supports (README, "Supported Spin versions"): requests whose
//! statements match no row answer at once, and database errors map to the same 4xx whatever text
//! the release renders them in. Run on the shared app (strict 4.0 mode, or real Spin when
//! `SENTINEL_SPIN_BIN` is set) and on a local host reproducing Spin 3.6.

use sentinel_host::SpinCompat;
use sentinel_tests::fixtures::{self, bearer, PASSWORD};
use sentinel_tests::{app, app_variables, request, services, sql, start_local_host, workspace_root, Resp};
use serde_json::{json, Value};

const UNKNOWN_ID: &str = "00000000-0000-0000-0000-000000000000";

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

fn call(base: &str, token: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let (name, value) = bearer(token);
    request(method, &format!("{base}{path}"), &[(name, value.as_str())], body)
}

/// Every kind of statement that can match no row, through the app at `base`.
fn no_row_statements_answer_with_their_4xx(base: &str) {
    let admin = fixtures::user("admin");
    for path in [
        format!("/api/divisions/{UNKNOWN_ID}"),
        "/api/members/search/NO-SUCH-SERVICE-NUMBER".to_string(),
        "/api/badges/serial/NO-SUCH-SERIAL".to_string(),
        format!("/api/admin/users/{UNKNOWN_ID}"),
        format!("/api/members/{UNKNOWN_ID}"),
        format!("/api/security-alerts/{UNKNOWN_ID}"),
    ] {
        let r = call(base, &admin.token, "GET", &path, None);
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.body["error"], "NOT_FOUND", "{path}: {}", r.text);
    }
    // An empty list is a list, not a hang.
    let r = call(base, &admin.token, "GET", "/api/members?search=zz-no-member-matches-this&limit=5", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["members"], json!([]), "{}", r.text);

    // A revoked session is refused (the session look-up matches no row).
    let user = fixtures::new_user("quartermaster");
    assert_eq!(call(base, &user.token, "GET", "/api/auth/session", None).status, 200);
    assert_eq!(call(base, &user.token, "POST", "/api/auth/logout", None).status, 200);
    let r = call(base, &user.token, "GET", "/api/auth/session", None);
    assert_eq!(r.status, 401, "{}", r.text);
    // So is a revoked API key.
    let (key_id, key) = fixtures::new_api_key("display", None);
    assert_eq!(call(base, &admin.token, "DELETE", &format!("/api/auth/api-keys/{key_id}"), None).status, 200);
    let r = request("GET", &format!("{base}/api/checkins/presence"), &[("x-api-key", key.as_str())], None);
    assert_eq!(r.status, 401, "{}", r.text);
    // A wrong password (no matching account row for the failure path either).
    let r = request("POST", &format!("{base}/api/auth/login"), &[], Some(&json!({"email": "nobody@nowhere.example", "password": PASSWORD})));
    assert_eq!(r.status, 401, "{}", r.text);
}

/// Errors raised while the statement executes (constraint violations, Sentinel's own tagged
/// errors) map to the spec's 4xx.
fn execution_errors_map_to_their_4xx(base: &str) {
    let admin = fixtures::user("admin");
    // ON CONFLICT DO NOTHING RETURNING that inserts nothing → 409.
    let code = format!("vt_compat_{}", unique());
    let body = json!({"code": code, "name": "Compat"});
    let first = call(base, &admin.token, "POST", "/api/enums/visit-types", Some(&body));
    assert_eq!(first.status, 201, "{}", first.text);
    let r = call(base, &admin.token, "POST", "/api/enums/visit-types", Some(&body));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("CONFLICT")), "{}", r.text);

    // A system value cannot be re-coded: the trigger's SN001 → 409 SYSTEM_VALUE.
    let system = sql("SELECT id::text AS id FROM badge_statuses WHERE is_system ORDER BY code LIMIT 1");
    let id = system[0]["id"].as_str().unwrap();
    let r = call(base, &admin.token, "PUT", &format!("/api/enums/badge-statuses/{id}"), Some(&json!({"code": "renamed_system"})));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("SYSTEM_VALUE")), "{}", r.text);

    // A unique violation raised inside a statement → 409 naming the value.
    let division = format!("C{}", unique() % 10_000_000);
    let made = call(base, &admin.token, "POST", "/api/divisions", Some(&json!({"code": division, "name": "Compat division"})));
    assert_eq!(made.status, 201, "{}", made.text);
    let r = call(base, &admin.token, "POST", "/api/divisions", Some(&json!({"code": division, "name": "Again"})));
    assert_eq!(r.status, 409, "{}", r.text);
}

#[test]
fn on_the_shared_app_no_row_statements_answer_at_once() {
    no_row_statements_answer_with_their_4xx(&app().base_url);
}

#[test]
fn on_the_shared_app_execution_errors_map_to_their_4xx() {
    execution_errors_map_to_their_4xx(&app().base_url);
}

#[test]
fn on_spin_3_6_the_same_requests_answer_the_same() {
    sentinel_tests::build_components();
    let s = services();
    let host = start_local_host(&workspace_root().join("spin.toml"), app_variables(&s.database_url, &s.redis_url), SpinCompat::V3_6)
        .expect("starting a Spin 3.6 host");
    no_row_statements_answer_with_their_4xx(&host.base_url);
    execution_errors_map_to_their_4xx(&host.base_url);
}
