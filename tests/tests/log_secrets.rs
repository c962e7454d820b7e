//! Issue 13: no log line of the host, the components or the relay holds a password, a session
//! token, an API key or the JWT secret.
//!
//! The test runs a representative session in a child process of its own (this test binary again,
//! with `--nocapture`), whose stdout and stderr — every line the in-process host, the guests and the
//! relay write — go to a file; the parent then searches that file for each secret the session used.
//! A child process of its own means the scan covers exactly this session's traffic, whatever other
//! tests run meanwhile, and nothing of it is held back by the test harness's output capture.

use std::io::Write;
use std::process::{Command, Stdio};

use sentinel_tests::fixtures::PASSWORD;
use sentinel_tests::relay::{start_relay, try_connect, ws_url};
use sentinel_tests::{app, request, sql, TEST_JWT_SECRET};
use serde_json::{json, Value};

/// Set in the child: where it writes the secrets it used (a JSON object label → value).
const CHILD_ENV: &str = "SENTINEL_LOG_SCAN_SECRETS";
const TEST_NAME: &str = "no_log_line_holds_a_password_token_key_or_the_jwt_secret";

#[test]
fn no_log_line_holds_a_password_token_key_or_the_jwt_secret() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        let secrets = session();
        std::fs::write(path, serde_json::to_vec(&secrets).unwrap()).unwrap();
        return;
    }
    let dir = std::env::temp_dir().join(format!("sentinel-log-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (log_path, secrets_path) = (dir.join("session.log"), dir.join("secrets.json"));
    let log = std::fs::File::create(&log_path).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &secrets_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "the session failed ({status}); its output is in {}", log_path.display());
    let secrets: serde_json::Map<String, Value> = serde_json::from_slice(&std::fs::read(&secrets_path).unwrap()).unwrap();

    // The capture worked: the components' request lines and the relay's lines are there.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().filter(|l| l.contains("\"correlationId\"")).count() >= 10, "no request log lines captured:\n{text}");
    assert!(lines.iter().any(|l| l.contains("\"component\":\"relay\"")), "no relay log lines captured:\n{text}");

    let mut found = Vec::new();
    for (label, value) in &secrets {
        let value = value.as_str().unwrap();
        assert!(value.len() >= 12, "{label} is too short to search for");
        if let Some(line) = lines.iter().find(|l| l.contains(value)) {
            found.push(format!("{label} in: {}", line.replace(value, "<SECRET>")));
        }
    }
    assert!(found.is_empty(), "secrets in the logs ({}):\n{}", log_path.display(), found.join("\n"));
    // Ordinary traffic — refused credentials and bad bodies are warnings — logs no error; the presence
    // board's files come from a component without Redis, which is not metered rather than failing to be.
    let errors: Vec<&&str> = lines.iter().filter(|l| l.contains("\"level\":\"error\"")).collect();
    assert!(errors.is_empty(), "error lines for ordinary traffic ({}):\n{}", log_path.display(), errors.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The session, in the child: sign-in failures and successes, a session used as bearer and cookie,
/// an API key issued and used (HTTP and WebSocket), forged credentials, sign-out. Returns every
/// secret it used.
fn session() -> serde_json::Map<String, Value> {
    let base = app().base_url.clone();
    let url = |path: &str| format!("{base}{path}");
    let tag = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    let admin_password = format!("Adm1n-Secret-{tag}!");
    let email = format!("log-scan-{tag}@test.sentinel");
    let hash = sentinel_auth::password::hash(&admin_password).unwrap();
    sql(&format!("INSERT INTO users (email, display_name, password_hash, role) VALUES ('{email}', 'Log scan', '{hash}', 'admin') RETURNING id"));

    let login = |identifier: &str, password: &str| request("POST", &url("/api/auth/login"), &[], Some(&json!({ "email": identifier, "password": password })));
    let typed_in_email_field = format!("Typed-Passw0rd-{tag}");
    assert_eq!(login(&email, "Wrong-Passw0rd!1").status, 401);
    assert_eq!(login(&typed_in_email_field, &admin_password).status, 401);
    let r = login(&email, &admin_password);
    assert_eq!(r.status, 200, "sign-in failed");
    let token = r.body["token"].as_str().unwrap().to_string();

    let bearer = format!("Bearer {token}");
    let cookie = format!("sentinel_session={token}");
    assert_eq!(request("GET", &url("/api/auth/session"), &[("authorization", &bearer)], None).status, 200);
    assert_eq!(request("GET", &url("/api/auth/session"), &[("cookie", &cookie)], None).status, 200);
    let r = request("POST", &url("/api/auth/api-keys"), &[("authorization", &bearer)], Some(&json!({ "name": "log scan", "kind": "kiosk", "kioskId": format!("log-{tag}") })));
    assert_eq!(r.status, 201, "issuing an API key failed");
    let api_key = r.body["key"].as_str().unwrap().to_string();
    let heartbeat = request("POST", &url("/api/kiosks/heartbeat"), &[("x-api-key", &api_key)], Some(&json!({})));
    assert!(heartbeat.status < 300, "heartbeat: {}", heartbeat.status);
    let scan = request("POST", &url("/api/checkins/scan"), &[("x-api-key", &api_key)], Some(&json!({ "serialNumber": format!("NOPE{tag}") })));
    assert_eq!(scan.status, 404);
    // Forged and expired-looking credentials.
    let forged_key = format!("sk_{tag}{tag}");
    assert_eq!(request("GET", &url("/api/divisions"), &[("x-api-key", &forged_key)], None).status, 401);
    let tampered = format!("{}x", &token);
    assert_eq!(request("GET", &url("/api/divisions"), &[("authorization", &format!("Bearer {tampered}"))], None).status, 401);
    // The presence board's page and script (the `web` component).
    for path in ["/board", "/board/board.js"] {
        assert_eq!(request("GET", &url(path), &[], None).status, 200, "{path}");
    }
    // A request that fails inside (a body the handler refuses) and one answered 404.
    assert_eq!(request("POST", &url("/api/members"), &[("authorization", &bearer)], Some(&json!({ "password": admin_password }))).status, 400);

    // The relay: a session token in the header and in the query string, an API key, forged ones.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let relay = start_relay(|_| {}).await;
        let ws = ws_url(&relay);
        let mut user = try_connect(&ws, &[("authorization", &bearer)]).await.expect("token in the header");
        user.subscribe("presence", None).await;
        let _ = user.next_json().await;
        let mut by_query = try_connect(&format!("{ws}?token={token}"), &[]).await.expect("token in the query string");
        by_query.subscribe("checkins", None).await;
        let _ = by_query.next_json().await;
        let mut kiosk = try_connect(&ws, &[("x-api-key", &api_key)]).await.expect("API key");
        kiosk.subscribe("presence", None).await;
        let _ = kiosk.next_json().await;
        assert!(try_connect(&format!("{ws}?token={tampered}"), &[]).await.is_err());
        assert!(try_connect(&ws, &[("x-api-key", &forged_key)]).await.is_err());
        relay.shutdown().await;
    });
    assert_eq!(request("POST", &url("/api/auth/logout"), &[("authorization", &bearer)], None).status, 200);
    // On real Spin the components' lines are in Spin's own log: pass them on to the scan.
    if let Some(spin_log) = app().spin_log() {
        eprint!("{spin_log}");
    }
    std::io::stderr().flush().unwrap();

    let mut secrets = serde_json::Map::new();
    for (label, value) in [
        ("the admin password", admin_password),
        ("the fixture password", PASSWORD.to_string()),
        ("a password typed into the e-mail field", typed_in_email_field),
        ("the session token", token.clone()),
        ("the session token's signature", token.rsplit('.').next().unwrap().to_string()),
        ("the API key", api_key.clone()),
        ("the forged API key", forged_key),
        ("the JWT secret", TEST_JWT_SECRET.to_string()),
    ] {
        secrets.insert(label.to_string(), json!(value));
    }
    secrets
}
