//! Signed-in principals for tests. Users are inserted once per process (the
//! equivalent of an operator running the seed) and then sign in through the
//! real `POST /api/auth/login`; API keys are created through the real
//! `POST /api/auth/api-keys`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use crate::{request, sql, Resp};

pub const PASSWORD: &str = "Test-Passw0rd!42";

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub role: String,
    pub token: String,
}

fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}{}{n}", t % 1_000_000_000)
}

fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| sentinel_auth::password::hash(PASSWORD).expect("hashing"))
}

/// Inserts a new enabled user with `role` (not signed in).
pub fn insert_user(role: &str) -> (String, String) {
    let email = format!("{}@test.sentinel", unique(role));
    let rows = sql(&format!(
        "INSERT INTO users (email, display_name, password_hash, role) VALUES ('{email}', 'Test {role}', '{}', '{role}') RETURNING id::text AS id",
        password_hash()
    ));
    (rows[0]["id"].as_str().unwrap().to_string(), email)
}

/// Signs in through the API; panics unless it succeeds.
pub fn login(email: &str, password: &str) -> String {
    let r = request("POST", "/api/auth/login", &[], Some(&json!({ "email": email, "password": password })));
    assert_eq!(r.status, 200, "login of {email} failed: {}", r.text);
    r.body["token"].as_str().unwrap().to_string()
}

/// A fresh user of `role`, signed in.
pub fn new_user(role: &str) -> TestUser {
    let (id, email) = insert_user(role);
    let token = login(&email, PASSWORD);
    TestUser { id, email, role: role.to_string(), token }
}

/// One shared signed-in user per role for this test process.
pub fn user(role: &str) -> TestUser {
    static USERS: OnceLock<Mutex<HashMap<String, TestUser>>> = OnceLock::new();
    let users = USERS.get_or_init(Default::default);
    if let Some(u) = users.lock().unwrap().get(role) {
        return u.clone();
    }
    let u = new_user(role);
    users.lock().unwrap().entry(role.to_string()).or_insert(u).clone()
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// A request as `role` (developer, admin, executive, duty_watch, quartermaster).
pub fn as_role(role: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let (name, value) = bearer(&user(role).token);
    request(method, path, &[(name, value.as_str())], body)
}

pub fn admin(method: &str, path: &str, body: Option<&Value>) -> Resp {
    as_role("admin", method, path, body)
}

/// Creates an API key through the API as an admin; returns (key id, secret).
pub fn new_api_key(kind: &str, kiosk_id: Option<&str>) -> (String, String) {
    let mut body = json!({ "name": format!("test {kind} key"), "kind": kind });
    if let Some(k) = kiosk_id {
        body["kioskId"] = json!(k);
    }
    let r = admin("POST", "/api/auth/api-keys", Some(&body));
    assert_eq!(r.status, 201, "creating a {kind} key: {}", r.text);
    (r.body["apiKey"]["id"].as_str().unwrap().to_string(), r.body["key"].as_str().unwrap().to_string())
}

/// One shared key per kind (kiosk keys are bound to kiosk id `test-kiosk`).
pub fn api_key(kind: &str) -> String {
    static KEYS: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut keys = keys.lock().unwrap();
    keys.entry(kind.to_string())
        .or_insert_with(|| new_api_key(kind, (kind == "kiosk").then_some(&*Box::leak(unique("test-kiosk-").into_boxed_str()))).1)
        .clone()
}

/// A request with an API key of `kind`.
pub fn as_key(kind: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let key = api_key(kind);
    request(method, path, &[("x-api-key", key.as_str())], body)
}
