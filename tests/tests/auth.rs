//! Authentication, sessions, API keys, rate limits and access (api.md §0.2–0.6, §16.2)
//! through HTTP against the real host and components.

use sentinel_tests::fixtures::{admin, as_key, bearer, insert_user, login, new_api_key, new_user, PASSWORD};
use sentinel_tests::{app_variables, request, services, sql, sql_exec, start_host, workspace_root};
use serde_json::json;

fn auth_get(path: &str, token: &str) -> sentinel_tests::Resp {
    let (k, v) = bearer(token);
    request("GET", path, &[(k, v.as_str())], None)
}

#[test]
fn login_issues_a_session_token_and_cookie() {
    let (id, email) = insert_user("executive");
    let r = request("POST", "/api/auth/login", &[], Some(&json!({ "email": email.to_uppercase(), "password": PASSWORD })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"], json!({ "id": id, "email": email, "displayName": "Test executive", "role": "executive" }));
    let token = r.body["token"].as_str().unwrap();
    assert!(r.body["expiresAt"].as_str().unwrap().ends_with('Z'));
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with(&format!("sentinel_session={token};")));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(!r.text.contains("argon2"), "no hash in the response");

    let stored = sql(&format!("SELECT token_hash, kind FROM sessions WHERE user_id = '{id}'"));
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0]["token_hash"], token, "only a hash of the token is stored");
    assert_eq!(stored[0]["kind"], "password");
    assert!(sql(&format!("SELECT 1 FROM users WHERE id = '{id}' AND last_login_at IS NOT NULL")).len() == 1);

    // The session works as a Bearer token and as the cookie.
    let r = auth_get("/api/auth/session", token);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["role"], "executive");
    assert_eq!(r.body["session"]["kind"], "password");
    let r = request("GET", "/api/auth/session", &[("cookie", &format!("other=1; sentinel_session={token}"))], None);
    assert_eq!(r.status, 200);
    // Username works as the identifier too.
    sql_exec(&format!("UPDATE users SET username = 'user_{}' WHERE id = '{id}'", &id[..8]));
    let r = request("POST", "/api/auth/login", &[], Some(&json!({ "username": format!("USER_{}", &id[..8]), "password": PASSWORD })));
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn bad_credentials_look_the_same_and_are_audited() {
    let (id, email) = insert_user("quartermaster");
    let wrong = request("POST", "/api/auth/login", &[], Some(&json!({ "email": email, "password": "Wrong-Passw0rd!" })));
    let unknown = request("POST", "/api/auth/login", &[], Some(&json!({ "email": "nobody@nowhere.test", "password": PASSWORD })));
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["error"], "INVALID_CREDENTIALS");
        assert_eq!(r.body["message"], "Invalid email or password");
    }
    let audited = sql(&format!("SELECT count(*)::int AS n FROM audit_log WHERE action = 'login_failed' AND details->>'identifier' = '{email}'"));
    assert_eq!(audited[0]["n"], 1);
    let r = request("POST", "/api/auth/login", &[], Some(&json!({ "password": PASSWORD })));
    assert_eq!(r.status, 400);
    assert!(sql(&format!("SELECT 1 FROM sessions WHERE user_id = '{id}'")).is_empty());
}

#[test]
fn disabled_accounts_cannot_sign_in_and_lose_their_sessions_at_once() {
    let user = new_user("duty_watch");
    assert_eq!(auth_get("/api/auth/session", &user.token).status, 200);
    sql_exec(&format!("UPDATE users SET disabled = true, disabled_at = now() WHERE id = '{}'", user.id));
    let r = auth_get("/api/auth/session", &user.token);
    assert_eq!(r.status, 401, "a disabled user's token is refused on the next request");
    let r = request("POST", "/api/auth/login", &[], Some(&json!({ "email": user.email, "password": PASSWORD })));
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "ACCOUNT_DISABLED");
}

#[test]
fn logout_revokes_the_session() {
    let user = new_user("quartermaster");
    let (k, v) = bearer(&user.token);
    let r = request("POST", "/api/auth/logout", &[(k, v.as_str())], None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({ "success": true }));
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(auth_get("/api/auth/session", &user.token).status, 401);
    let audit = sql(&format!("SELECT action FROM audit_log WHERE admin_user_id = '{}' ORDER BY created_at", user.id));
    let actions: Vec<_> = audit.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["login", "logout"]);
}

#[test]
fn expired_and_idle_sessions_are_refused_and_password_sessions_slide() {
    let user = new_user("quartermaster");
    sql_exec(&format!("UPDATE sessions SET renewed_at = now() - interval '25 hours', expires_at = now() + interval '1 hour' WHERE user_id = '{}'", user.id));
    assert_eq!(auth_get("/api/auth/session", &user.token).status, 200);
    let renewed = sql(&format!("SELECT expires_at > now() + interval '6 days' AS slid FROM sessions WHERE user_id = '{}'", user.id));
    assert_eq!(renewed[0]["slid"], true, "used 24 h after the last renewal: slides to 7 days");

    sql_exec(&format!("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = '{}'", user.id));
    assert_eq!(auth_get("/api/auth/session", &user.token).status, 401);

    let other = new_user("quartermaster");
    sql_exec(&format!("UPDATE sessions SET kind = 'rfid', last_seen_at = now() - interval '16 minutes' WHERE user_id = '{}'", other.id));
    assert_eq!(auth_get("/api/auth/session", &other.token).status, 401, "RFID sessions end after 15 idle minutes");
}

#[test]
fn forged_and_garbage_tokens_are_refused() {
    for token in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJ4In0.sig"] {
        let r = auth_get("/api/auth/session", token);
        assert_eq!(r.status, 401, "{token}");
        assert_eq!(r.body["error"], "UNAUTHORIZED");
    }
    let r = request("GET", "/api/divisions", &[("x-api-key", "sk_not_a_real_key")], None);
    assert_eq!(r.status, 401);
}

#[test]
fn api_keys_are_shown_once_stored_hashed_and_revocable() {
    let (id, key) = new_api_key("display", None);
    assert!(key.starts_with("sk_"));
    let r = admin("GET", "/api/auth/api-keys", None);
    assert_eq!(r.status, 200);
    assert!(!r.text.contains(&key), "the secret is never listed");
    let listed = r.body["apiKeys"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
    assert_eq!(listed["kind"], "display");
    assert_eq!(listed["keyPrefix"], &key[..11]);
    assert_eq!(listed["revokedAt"], serde_json::Value::Null);
    let stored = sql(&format!("SELECT key_hash FROM api_keys WHERE id = '{id}'"));
    assert_ne!(stored[0]["key_hash"], key.as_str());
    assert!(!stored[0]["key_hash"].as_str().unwrap().contains("sk_"));

    // A display key may read presence-type routes but not QM-only ones.
    let r = request("GET", "/api/divisions", &[("x-api-key", &key)], None);
    assert_eq!(r.status, 403, "{}", r.text);
    let r = request("GET", "/api/divisions", &[("authorization", &format!("Bearer {key}"))], None);
    assert_eq!(r.status, 403);

    let r = admin("DELETE", &format!("/api/auth/api-keys/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = request("GET", "/api/divisions", &[("x-api-key", &key)], None);
    assert_eq!(r.status, 401, "a revoked key is refused immediately");
    assert_eq!(admin("DELETE", "/api/auth/api-keys/00000000-0000-0000-0000-000000000000", None).status, 404);
    let actions = sql(&format!("SELECT action FROM audit_log WHERE entity_id = '{id}' ORDER BY created_at"));
    assert_eq!(actions.iter().map(|r| r["action"].as_str().unwrap()).collect::<Vec<_>>(), ["api_key_create", "api_key_revoke"]);
}

#[test]
fn api_key_rules() {
    let r = admin("POST", "/api/auth/api-keys", Some(&json!({ "name": "no kiosk id", "kind": "kiosk" })));
    assert_eq!(r.status, 400);
    let r = admin("POST", "/api/auth/api-keys", Some(&json!({ "name": "bad kind", "kind": "root" })));
    assert_eq!(r.status, 400);
    let r = admin("POST", "/api/auth/api-keys", Some(&json!({ "name": "bad scope", "kind": "display", "scopes": ["checkins"] })));
    assert_eq!(r.status, 400);
    let kiosk = format!("kiosk-{}", std::process::id());
    let (_, key) = new_api_key("kiosk", Some(&kiosk));
    let r = admin("POST", "/api/auth/api-keys", Some(&json!({ "name": "dup", "kind": "kiosk", "kioskId": kiosk })));
    assert_eq!(r.status, 409, "{}", r.text);
    // Expired keys are refused.
    sql_exec(&format!("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE kiosk_id = '{kiosk}'"));
    assert_eq!(request("GET", "/api/auth/api-keys", &[("x-api-key", &key)], None).status, 401);
    // Keys may not administer keys.
    assert_eq!(as_key("kiosk", "GET", "/api/auth/api-keys", None).status, 403);
    assert_eq!(request("GET", "/api/auth/api-keys", &[], None).status, 401);
    assert_eq!(sentinel_tests::fixtures::as_role("executive", "GET", "/api/auth/api-keys", None).status, 403);
}

#[test]
fn repeated_failures_lock_the_identifier_out() {
    let (_, email) = insert_user("quartermaster");
    for i in 0..5 {
        let r = request("POST", "/api/auth/login", &[], Some(&json!({ "email": email, "password": format!("Wrong-{i}-Passw0rd!") })));
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = request("POST", "/api/auth/login", &[], Some(&json!({ "email": email, "password": PASSWORD })));
    assert_eq!(r.status, 429, "even the right password waits out the lockout: {}", r.text);
    assert_eq!(r.body["error"], "RATE_LIMIT_EXCEEDED");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    assert!(r.body["details"]["retryAfter"].as_u64().unwrap() > 0);
}

#[test]
fn rfid_login_needs_a_kiosk_and_a_linked_enabled_user() {
    let suffix = std::process::id();
    let division = sql(&format!("INSERT INTO divisions (code, name) VALUES ('RF{suffix}', 'RFID') RETURNING id::text AS id"))[0]["id"].as_str().unwrap().to_string();
    let member = sql(&format!(
        "INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('RF{suffix}', 'PO1', 'Rita', 'Fid', '{division}') RETURNING id::text AS id"
    ))[0]["id"].as_str().unwrap().to_string();
    let serial = format!("RF{suffix}A");
    sql_exec(&format!(
        "BEGIN; INSERT INTO badges (id, serial_number, assignment_type, assigned_to_id) VALUES (gen_random_uuid(), '{serial}', 'member', '{member}');
         UPDATE members SET badge_id = (SELECT id FROM badges WHERE serial_number = '{serial}') WHERE id = '{member}'; COMMIT;"
    ));
    let r = as_key("kiosk", "POST", "/api/auth/rfid-login", Some(&json!({ "badgeNumber": serial.to_lowercase() })));
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["error"], "USER_NOT_LINKED");

    let user = new_user("duty_watch");
    sql_exec(&format!("UPDATE users SET member_id = '{member}' WHERE id = '{}'", user.id));
    let r = as_key("kiosk", "POST", "/api/auth/rfid-login", Some(&json!({ "badgeNumber": serial })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["member"]["firstName"], "Rita");
    assert_eq!(r.body["user"]["role"], "duty_watch");
    let token = r.body["session"]["token"].as_str().unwrap();
    let s = auth_get("/api/auth/session", token);
    assert_eq!(s.body["session"]["kind"], "rfid");

    let r = as_key("kiosk", "POST", "/api/auth/rfid-login", Some(&json!({ "badgeNumber": "NO-SUCH-BADGE" })));
    assert_eq!((r.status, r.body["message"].as_str()), (404, Some("Invalid badge number")));
    // Only kiosks may use it.
    let r = sentinel_tests::fixtures::admin("POST", "/api/auth/rfid-login", Some(&json!({ "badgeNumber": serial })));
    assert_eq!(r.status, 403);
}

#[test]
fn rate_limits_per_principal_with_headers() {
    let mut variables = app_variables(&services().database_url, &services().redis_url);
    variables.insert("rate_limits".into(), "user=3/60,anonymous=2/60".into());
    let host = start_host(&workspace_root().join("spin.toml"), variables).expect("host with tight limits");
    let (_, email) = insert_user("quartermaster");
    let token = login(&email, PASSWORD);
    let url = format!("{}/api/auth/session", host.base_url);
    let (k, v) = bearer(&token);
    for i in 1..=3 {
        let r = request("GET", &url, &[(k, v.as_str())], None);
        assert_eq!(r.status, 200, "request {i}: {}", r.text);
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        assert_eq!(r.header("ratelimit-remaining"), Some((3 - i).to_string().as_str()));
    }
    let r = request("GET", &url, &[(k, v.as_str())], None);
    assert_eq!(r.status, 429);
    assert_eq!(r.body["error"], "RATE_LIMIT_EXCEEDED");
    assert!(r.header("retry-after").is_some());
    // Health probes are exempt.
    for _ in 0..5 {
        assert_eq!(request("GET", &format!("{}/live", host.base_url), &[], None).status, 200);
    }
}
