//! Authentication, sessions, API keys, rate limits and access
//! through HTTP against the real host and components.

use std::collections::HashMap;

use sentinel_tests::fixtures::{admin, as_key, bearer, insert_user, login, new_api_key, new_user, PASSWORD};
use sentinel_tests::{app_variables, request, services, sql, sql_exec, start_host, workspace_root, HostHandle, Resp, TEST_METRICS_TOKEN};
use serde_json::{json, Value};

fn auth_get(path: &str, token: &str) -> Resp {
    let (k, v) = bearer(token);
    request("GET", path, &[(k, v.as_str())], None)
}

/// A short unique upper-case tag (division codes, service numbers, serials).
fn unique() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    format!("{:08X}", h.finish() as u32)
}

/// A second host of spin.toml on the shared database with `changes` applied to its variables.
fn host_with(changes: &[(&str, &str)]) -> HostHandle {
    let mut variables: HashMap<String, String> = app_variables(&services().database_url, &services().redis_url);
    for (name, value) in changes {
        variables.insert(name.to_string(), value.to_string());
    }
    start_host(&workspace_root().join("spin.toml"), variables).expect("starting a second host")
}

/// `redis_url` and `redis_host` of a Redis on which nothing listens: that host's Redis is "down".
fn unreachable_redis() -> [(&'static str, String); 2] {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    [("redis_url", format!("redis://127.0.0.1:{port}")), ("redis_host", format!("127.0.0.1:{port}"))]
}

/// A member with an active badge (serial returned) and, when `role` is given, a linked user of that role.
fn badge_holder(role: Option<&str>) -> (String, Option<String>) {
    let tag = unique();
    let division = sql(&format!("INSERT INTO divisions (code, name) VALUES ('RF{tag}', 'RFID {tag}') RETURNING id::text AS id"))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let member = sql(&format!(
        "INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('RF{tag}', 'PO1', 'Rita', 'Fid', '{division}') RETURNING id::text AS id"
    ))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let serial = format!("RF{tag}A");
    sql_exec(&format!(
        "BEGIN; INSERT INTO badges (id, serial_number, assignment_type, assigned_to_id) VALUES (gen_random_uuid(), '{serial}', 'member', '{member}');
         UPDATE members SET badge_id = (SELECT id FROM badges WHERE serial_number = '{serial}') WHERE id = '{member}'; COMMIT;"
    ));
    let user = role.map(|role| {
        let (user, _) = insert_user(role);
        sql_exec(&format!("UPDATE users SET member_id = '{member}' WHERE id = '{user}'"));
        user
    });
    (serial, user)
}

fn rfid_login(base: &str, key: &str, serial: &str) -> Resp {
    request("POST", &format!("{base}/api/auth/rfid-login"), &[("x-api-key", key)], Some(&json!({ "badgeNumber": serial })))
}

fn password_login(base: &str, email: &str, password: &str) -> Resp {
    request("POST", &format!("{base}/api/auth/login"), &[], Some(&json!({ "email": email, "password": password })))
}

fn username_login(base: &str, username: &str, password: &str) -> Resp {
    request("POST", &format!("{base}/api/auth/login"), &[], Some(&json!({ "username": username, "password": password })))
}

/// A password sign-in from `client` as a trusted proxy would forward it (`X-Forwarded-For`).
fn login_from(base: &str, client: &str, identifier: &str, password: &str) -> Resp {
    request("POST", &format!("{base}/api/auth/login"), &[("x-forwarded-for", client)], Some(&json!({ "email": identifier, "password": password })))
}

/// A documentation-range address (198.18.0.0/15) no other test uses.
fn unique_ip() -> String {
    let n = u32::from_str_radix(&unique(), 16).unwrap();
    format!("198.{}.{}.{}", 18 + (n >> 16) % 2, (n >> 8) & 0xff, (n & 0xff).max(1))
}

/// The `login_failed` audit rows of `where_` (a condition on `audit_log`), oldest first.
fn failed_logins_where(where_: &str) -> Vec<Value> {
    sql(&format!(
        "SELECT entity_id::text AS entity_id, admin_user_id::text AS actor, details, host(ip_address) AS ip FROM audit_log
         WHERE action = 'login_failed' AND {where_} ORDER BY created_at"
    ))
}

/// The `login_failed` audit rows naming the account `user_id`, oldest first.
fn failed_logins_of(user_id: &str) -> Vec<Value> {
    failed_logins_where(&format!("details->>'account' = '{user_id}'"))
}

/// The keyed hash a `login_failed` row records for an identifier that matched no account.
fn identifier_hash(method: &str, identifier: &str) -> String {
    sentinel_auth::keyed_hash(sentinel_tests::TEST_JWT_SECRET, "sentinel sign-in identifier", &format!("{method}:{}", identifier.to_lowercase()))
}

/// The `login_failed` audit rows of an RFID badge serial (recorded as its keyed hash), oldest first.
fn failed_badge_logins(serial: &str) -> Vec<Value> {
    failed_logins_where(&format!("details->>'identifierHash' = '{}'", identifier_hash("rfid", serial)))
}

/// No audit row anywhere holds `text` (an identifier or password as typed).
fn assert_not_audited(text: &str) {
    let rows = sql(&format!("SELECT action, details FROM audit_log WHERE strpos(lower(details::text), lower('{text}')) > 0"));
    assert!(rows.is_empty(), "{text:?} is in the audit log: {rows:?}");
}

fn assert_locked_out(r: &Resp) {
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.body["error"], "RATE_LIMIT_EXCEEDED");
    let retry_after: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=900).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(r.body["details"]["retryAfter"].as_u64(), Some(retry_after));
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
    // The failure names the matched account, never the identifier as typed (issue 13, finding 4).
    let audited = failed_logins_of(&id);
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["entity_id"], json!(id));
    assert_eq!(audited[0]["details"]["reason"], "invalid_credentials");
    assert!(audited[0]["details"].get("identifier").is_none(), "{audited:?}");
    assert_not_audited(&email);
    assert_not_audited("nobody@nowhere.test");
    let unknown_rows = failed_logins_where(&format!("details->>'identifierHash' = '{}'", identifier_hash("password", "NOBODY@nowhere.test")));
    assert!(!unknown_rows.is_empty(), "an unknown identifier is recorded as its keyed hash");
    // A password typed into the e-mail field is not kept either.
    let typed_secret = format!("Tr0ub4dor-{}", &id[..8]);
    let r = request("POST", "/api/auth/login", &[], Some(&json!({ "email": typed_secret, "password": "x" })));
    assert_eq!(r.status, 401, "{}", r.text);
    assert_not_audited(&typed_secret);
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
    // The right password on a disabled account is a failed sign-in: audited, and it counts toward the lockout.
    let failed = failed_logins_of(&user.id);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["entity_id"], json!(user.id));
    assert_eq!(failed[0]["details"]["reason"], "account_disabled");
    assert_eq!(failed[0]["details"]["method"], "password");
    for _ in 0..4 {
        assert_eq!(request("POST", "/api/auth/login", &[], Some(&json!({ "email": user.email, "password": PASSWORD }))).status, 403);
    }
    assert_locked_out(&request("POST", "/api/auth/login", &[], Some(&json!({ "email": user.email, "password": PASSWORD }))));
    assert_eq!(failed_logins_of(&user.id).len(), 5, "a locked-out attempt is not another failure");
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
    // ... and no longer hold their kiosk id: a replacement key can be issued, and the expired one is retired.
    let r = admin("POST", "/api/auth/api-keys", Some(&json!({ "name": "replacement", "kind": "kiosk", "kioskId": kiosk })));
    assert_eq!(r.status, 201, "{}", r.text);
    let retired = sql(&format!("SELECT count(*) AS n FROM api_keys WHERE kiosk_id = '{kiosk}' AND revoked_at IS NOT NULL"));
    assert_eq!(retired[0]["n"], 1);
    let audited = sql(&format!("SELECT count(*) AS n FROM audit_log WHERE action = 'api_key_retire_expired' AND details->>'kioskId' = '{kiosk}'"));
    assert_eq!(audited[0]["n"], 1);
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

/// Issue 13, finding 5: an account's e-mail and username are one budget, not two.
#[test]
fn email_and_username_share_one_lockout_budget() {
    let base = sentinel_tests::app().base_url.clone();
    let (id, email) = insert_user("quartermaster");
    let username = format!("sh_{}", &id[..8]);
    sql_exec(&format!("UPDATE users SET username = '{username}' WHERE id = '{id}'"));
    for i in 0..3 {
        assert_eq!(password_login(&base, &email, &format!("Wrong-{i}-Passw0rd!")).status, 401, "attempt {i}");
    }
    for i in 3..5 {
        assert_eq!(username_login(&base, &username, &format!("Wrong-{i}-Passw0rd!")).status, 401, "attempt {i}");
    }
    assert_locked_out(&username_login(&base, &username, PASSWORD));
    assert_locked_out(&password_login(&base, &email, PASSWORD));
    assert_eq!(failed_logins_of(&id).len(), 5);
}

/// Issue 13, findings 5 and 8: behind a trusted proxy each client address has its own budgets, and an
/// address guessing across many accounts is stopped by the `login_ip` budget; other addresses are not.
#[test]
fn an_address_guessing_across_accounts_is_locked_out_and_others_are_not() {
    let host = host_with(&[("trusted_proxies", "127.0.0.1/32"), ("rate_limits", "anonymous=1000000/60,login_ip=4/900")]);
    let base = host.base_url.clone();
    let attacker = unique_ip();
    for i in 0..4 {
        let r = login_from(&base, &attacker, &format!("victim-{i}-{}@nowhere.test", unique()), "Wrong-Passw0rd!1");
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text);
    }
    let rows = failed_logins_where(&format!("ip_address = '{attacker}'"));
    assert_eq!(rows.len(), 4, "the forwarded client address is audited: {rows:?}");
    // A fifth account, even with its right password, waits out the address's lockout ...
    let (_, email) = insert_user("quartermaster");
    assert_locked_out(&login_from(&base, &attacker, &email, PASSWORD));
    // ... while the same account signs in from elsewhere.
    assert_eq!(login_from(&base, &unique_ip(), &email, PASSWORD).status, 200);
    // A client cannot choose its address: an entry left of the trusted hop's is never read.
    let spoofed = format!("{}, {attacker}", unique_ip());
    assert_locked_out(&login_from(&base, &spoofed, &email, PASSWORD));
}

/// Issue 13, finding 8: behind a trusted proxy the anonymous budget is per client, not per proxy.
#[test]
fn the_anonymous_budget_counts_clients_behind_trusted_proxies() {
    let redis = format!("{}/6", services().redis_url);
    let host = host_with(&[("redis_url", &redis), ("trusted_proxies", "127.0.0.0/8, ::1"), ("rate_limits", "anonymous=2/900")]);
    let url = format!("{}/api/divisions", host.base_url);
    let (first, second) = (unique_ip(), unique_ip());
    for _ in 0..2 {
        assert_eq!(request("GET", &url, &[("x-forwarded-for", first.as_str())], None).status, 401);
    }
    assert_eq!(request("GET", &url, &[("x-forwarded-for", first.as_str())], None).status, 429, "the first client's budget is spent");
    let r = request("GET", &url, &[("x-forwarded-for", second.as_str())], None);
    assert_eq!((r.status, r.header("ratelimit-remaining")), (401, Some("1")), "another client behind the proxy has its own: {}", r.text);
}

/// Issue 13, finding 8: without `trusted_proxies` (the default) a client-sent `X-Forwarded-For` or
/// `spin-client-addr` header changes nothing: the address is the peer's.
#[test]
fn client_sent_address_headers_are_ignored_without_trusted_proxies() {
    let (_, email) = insert_user("quartermaster");
    let spoof = unique_ip();
    let r = request(
        "POST",
        "/api/auth/login",
        &[("x-forwarded-for", spoof.as_str()), ("spin-client-addr", &format!("{spoof}:4444"))],
        Some(&json!({ "email": email, "password": "Wrong-Passw0rd!1" })),
    );
    assert_eq!(r.status, 401, "{}", r.text);
    let user_id = sql(&format!("SELECT id::text AS id FROM users WHERE email = '{email}'"))[0]["id"].as_str().unwrap().to_string();
    let rows = failed_logins_of(&user_id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["ip"], "127.0.0.1", "{rows:?}");
}

#[test]
fn rfid_login_needs_a_kiosk_and_a_linked_enabled_user() {
    let (serial, _) = badge_holder(None);
    let r = as_key("kiosk", "POST", "/api/auth/rfid-login", Some(&json!({ "badgeNumber": serial.to_lowercase() })));
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["error"], "USER_NOT_LINKED");

    let user = new_user("duty_watch");
    let member = sql(&format!("SELECT assigned_to_id::text AS id FROM badges WHERE serial_number = '{serial}'"))[0]["id"].as_str().unwrap().to_string();
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
fn rfid_login_refuses_unassigned_and_inactive_badges_in_the_spec_order() {
    let unassigned = format!("RFU{}", unique());
    sql_exec(&format!("INSERT INTO badges (serial_number) VALUES ('{unassigned}')"));
    let r = as_key("kiosk", "POST", "/api/auth/rfid-login", Some(&json!({ "badgeNumber": unassigned })));
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"], "VALIDATION_ERROR");
    assert_eq!(r.body["message"], "This badge is not assigned to any member");

    let (lost, _) = badge_holder(Some("quartermaster"));
    sql_exec(&format!("UPDATE badges SET status = 'lost' WHERE serial_number = '{lost}'"));
    let r = as_key("kiosk", "POST", "/api/auth/rfid-login", Some(&json!({ "badgeNumber": lost })));
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("BADGE_INACTIVE")), "{}", r.text);

    let reasons: Vec<_> = [&unassigned, &lost].iter().map(|s| failed_badge_logins(s)[0]["details"]["reason"].clone()).collect();
    assert_eq!(reasons, [json!("badge_unassigned"), json!("badge_inactive")]);
}

#[test]
fn rfid_login_failures_are_audited_and_lock_the_badge_out() {
    let (kiosk_key_id, key) = new_api_key("kiosk", Some(&format!("rfid-lock-{}", unique())));
    let base = sentinel_tests::app().base_url.clone();
    // A badge whose member has no account yet: five refusals, audited with the kiosk key as actor.
    let (serial, _) = badge_holder(None);
    for i in 0..5 {
        let r = rfid_login(&base, &key, &serial);
        assert_eq!((r.status, r.body["error"].as_str()), (403, Some("USER_NOT_LINKED")), "attempt {i}: {}", r.text);
    }
    let failed = failed_badge_logins(&serial);
    assert_eq!(failed.len(), 5, "{failed:?}");
    assert_eq!(failed[0]["actor"], Value::Null);
    assert_eq!(failed[0]["ip"], "127.0.0.1");
    assert_eq!(
        failed[0]["details"],
        json!({ "identifierHash": identifier_hash("rfid", &serial), "method": "rfid", "reason": "user_not_linked", "apiKeyId": kiosk_key_id })
    );
    assert_not_audited(&serial);

    // Now the member gets an account: the badge still waits out the lockout (any case of the serial).
    let (user, _) = insert_user("duty_watch");
    sql_exec(&format!("UPDATE users SET member_id = (SELECT assigned_to_id FROM badges WHERE serial_number = '{serial}') WHERE id = '{user}'"));
    assert_locked_out(&rfid_login(&base, &key, &serial.to_lowercase()));
    assert!(sql(&format!("SELECT 1 FROM sessions WHERE user_id = '{user}'")).is_empty());
    assert_eq!(failed_badge_logins(&serial).len(), 5);

    // Unknown serials are failures too; other badges at the same kiosk are unaffected.
    let unknown = format!("NOPE{}", unique());
    for _ in 0..5 {
        assert_eq!(rfid_login(&base, &key, &unknown).status, 404);
    }
    assert_locked_out(&rfid_login(&base, &key, &unknown));
    assert_eq!(failed_badge_logins(&unknown)[0]["details"]["reason"], "badge_not_found");
    let (other, _) = badge_holder(Some("quartermaster"));
    assert_eq!(rfid_login(&base, &key, &other).status, 200);
}

/// With Redis unreachable the lockout still holds: the sign-in statements count
/// the recent `login_failed` audit rows themselves.
#[test]
fn lockout_holds_without_redis() {
    let [(url_name, url), (host_name, host_port)] = unreachable_redis();
    let host = host_with(&[(url_name, &url), (host_name, &host_port)]);
    let base = host.base_url.clone();
    let (id, email) = insert_user("quartermaster");
    let username = format!("nr_{}", &id[..8]);
    sql_exec(&format!("UPDATE users SET username = '{username}' WHERE id = '{id}'"));
    // The e-mail and the username of one account share its budget.
    for i in 0..5 {
        let r = if i % 2 == 0 { password_login(&base, &email, &format!("Wrong-{i}-Passw0rd!")) } else { username_login(&base, &username, &format!("Wrong-{i}-Passw0rd!")) };
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text);
    }
    assert_eq!(failed_logins_of(&id).len(), 5);
    let r = password_login(&base, &email, PASSWORD);
    assert_locked_out(&r);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 850, "about 15 minutes after the failures");
    // Nor does changing the identifier's case, or switching to the username.
    assert_locked_out(&password_login(&base, &email.to_uppercase(), PASSWORD));
    assert_locked_out(&username_login(&base, &username.to_uppercase(), PASSWORD));

    // A successful sign-in resets the count, as deleting the Redis counter would.
    let (_, email) = insert_user("quartermaster");
    for _ in 0..4 {
        assert_eq!(password_login(&base, &email, "Wrong-Passw0rd!1").status, 401);
    }
    assert_eq!(password_login(&base, &email, PASSWORD).status, 200);
    for _ in 0..4 {
        assert_eq!(password_login(&base, &email, "Wrong-Passw0rd!1").status, 401);
    }
    assert_eq!(password_login(&base, &email, PASSWORD).status, 200);

    // RFID sign-in likewise.
    let (_, key) = new_api_key("kiosk", Some(&format!("no-redis-{}", unique())));
    let unknown = format!("NOPE{}", unique());
    for _ in 0..5 {
        assert_eq!(rfid_login(&base, &key, &unknown).status, 404);
    }
    assert_locked_out(&rfid_login(&base, &key, &unknown));
}

/// Sessions slide forward on the server (7 days, renewed when used > 24 h after
/// the last renewal); a browser's cookie is re-sent with the same fresh lifetime.
#[test]
fn a_renewed_session_renews_its_cookie() {
    let user = new_user("quartermaster");
    let cookie = format!("sentinel_session={}", user.token);
    let age = |hours: u32| sql_exec(&format!("UPDATE sessions SET renewed_at = now() - interval '{hours} hours', expires_at = now() + interval '1 hour' WHERE user_id = '{}'", user.id));
    let with_cookie = || request("GET", "/api/auth/session", &[("cookie", &cookie)], None);

    let r = with_cookie();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("set-cookie"), None, "a fresh session is not renewed");
    age(25);
    let r = with_cookie();
    assert_eq!(r.status, 200, "{}", r.text);
    let set = r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(set, [format!("sentinel_session={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800", user.token)]);
    assert!(sql(&format!("SELECT 1 FROM sessions WHERE user_id = '{}' AND expires_at > now() + interval '6 days'", user.id)).len() == 1);
    assert_eq!(with_cookie().header("set-cookie"), None, "renewed once per 24 h");

    // A renewal on an error response still renews the cookie; a bearer token gets no cookie.
    age(25);
    let r = request("GET", "/api/divisions/not-a-uuid", &[("cookie", &cookie)], None);
    assert_eq!(r.status, 400);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=604800"));
    age(25);
    let r = auth_get("/api/auth/session", &user.token);
    assert_eq!((r.status, r.header("set-cookie")), (200, None));

    // Logout clears the cookie even when the same request renewed the session.
    age(25);
    let r = request("POST", "/api/auth/logout", &[("cookie", &cookie)], None);
    assert_eq!(r.status, 200);
    let set: Vec<_> = r.headers.get_all("set-cookie").iter().collect();
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(set[0].to_str().unwrap().starts_with("sentinel_session=; ") && set[0].to_str().unwrap().contains("Max-Age=0"));
}

#[test]
fn cookies_are_secure_outside_development() {
    let host = host_with(&[("environment", "production")]);
    let (id, email) = insert_user("quartermaster");
    let r = password_login(&host.base_url, &email, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("set-cookie").unwrap().ends_with("; Max-Age=604800; Secure"), "{:?}", r.header("set-cookie"));
    let token = r.body["token"].as_str().unwrap();
    sql_exec(&format!("UPDATE sessions SET renewed_at = now() - interval '25 hours' WHERE user_id = '{id}'"));
    let r = request("GET", &format!("{}/api/auth/session", host.base_url), &[("cookie", &format!("sentinel_session={token}"))], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("set-cookie"), Some(format!("sentinel_session={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800; Secure").as_str()));
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

/// Requests whose credentials fail count against the anonymous per-IP budget,
/// on their own Redis database so the shared app's traffic does not count.
#[test]
fn failed_credentials_spend_the_anonymous_budget() {
    let redis = format!("{}/7", services().redis_url);
    let host = host_with(&[("redis_url", &redis), ("rate_limits", "anonymous=3/900")]);
    let url = |path: &str| format!("{}{path}", host.base_url);
    let attempts: [(&str, String); 3] =
        [("x-api-key", "sk_guessed".into()), ("authorization", "Bearer not-a-token".into()), ("cookie", "sentinel_session=forged".into())];
    for (i, (name, value)) in attempts.iter().enumerate() {
        let r = request("GET", &url("/api/divisions"), &[(name, value.as_str())], None);
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        assert_eq!(r.header("ratelimit-remaining"), Some((2 - i).to_string().as_str()));
    }
    let r = request("GET", &url("/api/divisions"), &[("x-api-key", "sk_guessed_again")], None);
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.body["error"], "RATE_LIMIT_EXCEEDED");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    let r = request("GET", &url("/metrics"), &[("authorization", "Bearer wrong-metrics-token")], None);
    assert_eq!(r.status, 429, "a wrong /metrics token is a failed credential too");
    // Valid credentials keep their own budgets; health probes stay exempt.
    let user = new_user("quartermaster");
    let (k, v) = bearer(&user.token);
    assert_eq!(request("GET", &url("/api/auth/session"), &[(k, v.as_str())], None).status, 200);
    let metrics = format!("Bearer {TEST_METRICS_TOKEN}");
    assert_eq!(request("GET", &url("/metrics"), &[("authorization", metrics.as_str())], None).status, 200);
    for probe in ["/live", "/ready", "/health"] {
        assert_eq!(request("GET", &url(probe), &[], None).status, 200, "{probe}");
    }
}

/// A kiosk's scans spend its scan budget and its key's overall budget.
#[test]
fn kiosk_scans_count_toward_the_key_budget() {
    let host = host_with(&[("rate_limits", "kiosk=3/60,scan=10/60")]);
    let (_, key) = new_api_key("kiosk", Some(&format!("budget-{}", unique())));
    let scan = format!("{}/api/checkins/scan", host.base_url);
    for i in 1..=3 {
        // An invalid body: the limits are counted before the handler runs.
        let r = request("POST", &scan, &[("x-api-key", key.as_str())], Some(&json!({})));
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.header("ratelimit-limit"), Some("3"), "the tighter budget is reported");
        assert_eq!(r.header("ratelimit-remaining"), Some((3 - i).to_string().as_str()));
    }
    let r = request("POST", &format!("{}/api/kiosks/heartbeat", host.base_url), &[("x-api-key", key.as_str())], Some(&json!({})));
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.body["error"], "RATE_LIMIT_EXCEEDED");
    let r = request("POST", &scan, &[("x-api-key", key.as_str())], Some(&json!({})));
    assert_eq!(r.status, 429);
}
