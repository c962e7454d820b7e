//! The live presence board (`/board`, the `web` component) in a real browser: Debian's chromium,
//! headless, driven over WebDriver (tests/src/browser.rs), against the real host serving spin.toml,
//! the real relay, PostgreSQL and Redis. Check-ins and alerts are made through HTTP as a kiosk would.
//!
//! The tests share one host whose `relay_public_url` names a fixed port (`:<port>/ws`, as
//! `sentinel up` sets it); each test runs its own relay there, so they run one at a time. DOM
//! conditions are polled with deadlines: bounds, not timings.

use std::sync::OnceLock;
use std::time::Duration;

use sentinel_relay::RunningRelay;
use sentinel_tests::browser::Browser;
use sentinel_tests::relay::{api_key, metrics_text, unique_label};
use sentinel_tests::{app_variables, build_components, fixtures, request, services, sql, sql_exec, start_host, workspace_root, HostHandle};
use serde_json::{json, Value};

/// Page load, sign-in, reconnects: generous for a loaded 2-core machine.
const LOAD: Duration = Duration::from_secs(20);
/// The bound for a scan to reach an open board.
const LIVE: Duration = Duration::from_secs(1);

struct BoardHost {
    host: HostHandle,
    relay_port: u16,
}

fn board_host() -> &'static BoardHost {
    static HOST: OnceLock<BoardHost> = OnceLock::new();
    HOST.get_or_init(|| {
        build_components();
        let relay_port = sentinel_ops::services::free_port().unwrap();
        let mut variables = app_variables(&services().database_url, &services().redis_url);
        variables.insert("relay_public_url".into(), format!(":{relay_port}/ws"));
        let host = start_host(&workspace_root().join("spin.toml"), variables).expect("starting the board's host");
        BoardHost { host, relay_port }
    })
}

/// One browser test at a time: they share the relay port, and chromium is heavy on 2 cores.
async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(Default::default).lock().await
}

/// A relay on the board host's relay port that admits the board's origin only.
async fn relay_for(board: &BoardHost) -> RunningRelay {
    let port = board.relay_port;
    let mut config = sentinel_tests::relay::relay_config(&services().redis_url);
    config.listen = format!("127.0.0.1:{port}").parse().unwrap();
    config.cors_origins = vec![board.host.base_url.clone()];
    // A relay of a test that failed may still hold the port for a moment while its runtime winds down.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match sentinel_relay::start(config.clone()).await {
            Ok(relay) => return relay,
            Err(err) if tokio::time::Instant::now() < deadline && format!("{err:#}").contains("in use") => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("starting the relay on port {port}: {err:#}"),
        }
    }
}

/// What each browser test starts from: the relay port to itself, a relay there, and a browser.
struct Stage {
    _one: tokio::sync::MutexGuard<'static, ()>,
    board: &'static BoardHost,
    relay: RunningRelay,
    browser: Browser,
}

async fn stage() -> Stage {
    let _one = exclusive().await;
    let board = board_host();
    let relay = relay_for(board).await;
    let browser = Browser::start().await;
    Stage { _one, board, relay, browser }
}

impl Stage {
    async fn end(self) {
        self.browser.close().await;
        self.relay.shutdown().await;
    }
}

/// Raises a critical alert with `message` through HTTP as the kiosk whose key is `kiosk_key`; its id.
async fn raise_alert(kiosk_key: &str, message: &str) -> String {
    let alert_url = url("/api/security-alerts");
    let (key, body) = (kiosk_key.to_string(), json!({ "alertType": "unauthorized_access", "severity": "critical", "badgeSerial": null, "kioskId": "ignored", "message": message }));
    let created = tokio::task::spawn_blocking(move || request("POST", &alert_url, &[("x-api-key", &key)], Some(&body))).await.unwrap();
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["id"].as_str().unwrap().to_string()
}

fn url(path: &str) -> String {
    format!("{}{path}", board_host().host.base_url)
}

/// An active member with a linked badge in a division of their own: (member id, badge serial, "First Last", division).
fn member_with_badge() -> (String, String, String, String) {
    let code = unique_label("BD").to_uppercase();
    let code = code[..code.len().min(20)].to_string();
    let division = format!("Board {code}");
    let division_id = sql(&format!("INSERT INTO divisions (code, name) VALUES ('{code}', '{division}') RETURNING id::text AS id"))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let last = format!("Watcher{}", &code[2..]);
    let member = sql(&format!(
        "INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('{code}', 'LS', 'Board', '{last}', '{division_id}') RETURNING id::text AS id"
    ))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    sql_exec(&format!(
        "BEGIN;
         WITH b AS (INSERT INTO badges (serial_number, assignment_type, assigned_to_id) VALUES ('{code}', 'member', '{member}') RETURNING id)
         UPDATE members SET badge_id = (SELECT id FROM b) WHERE id = '{member}';
         COMMIT;"
    ));
    (member, code, format!("Board {last}"), division)
}

/// A badge scan at a kiosk through HTTP (blocking; run off the test's runtime).
async fn scan(kiosk_key: &str, serial: &str) -> Value {
    let (key, serial, scan_url) = (kiosk_key.to_string(), serial.to_string(), url("/api/checkins/scan"));
    let response = tokio::task::spawn_blocking(move || request("POST", &scan_url, &[("x-api-key", &key)], Some(&json!({ "serialNumber": serial }))))
        .await
        .unwrap();
    assert_eq!(response.status, 201, "scan: {}", response.text);
    response.body
}

/// What the board shows, read from the DOM.
const VIEW: &str = "{
    connection: document.body.dataset.connection,
    live: document.body.dataset.live,
    channels: document.body.dataset.channels || '',
    resumed: document.body.dataset.resumed || '',
    staleBanner: !document.getElementById('stale-banner').hidden,
    present: document.getElementById('present-total').textContent,
    activity: [...document.querySelectorAll('#activity-list li')].map(li => li.textContent),
    alertsShown: !document.getElementById('alerts-panel').hidden,
    alerts: [...document.querySelectorAll('#alerts-list li')].map(li => li.textContent),
    text: document.body.innerText,
    marker: window.__sentinelNoReload || null
}";

fn activity_has(view: &Value, needle: &str) -> bool {
    view["activity"].as_array().is_some_and(|items| items.iter().any(|i| i.as_str().is_some_and(|t| t.contains(needle))))
}

async fn open_display_board(browser: &Browser) -> String {
    let display = api_key("display");
    browser.goto(&url(&format!("/board#key={}", display.key))).await;
    browser.wait_for("the display board goes live", LOAD, VIEW, |v| v["live"] == "true" && v["connection"] == "live").await;
    // The key left the address bar.
    let address = browser.eval("location.href").await;
    assert!(!address.as_str().unwrap().contains("sk_"), "key still in the address bar: {address}");
    display.key
}

#[test]
fn the_board_and_its_assets_are_served_with_a_policy_that_admits_the_relay() {
    let board = board_host();
    let page = request("GET", &url("/board"), &[], None);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.text.contains("/board/board.js") && page.text.contains("Sentinel"), "{}", page.text);
    let policy = page.header("content-security-policy").unwrap().to_string();
    let port = board.relay_port;
    assert!(policy.contains(&format!("connect-src 'self' ws://127.0.0.1:{port} wss://127.0.0.1:{port}")), "{policy}");
    assert!(policy.contains("default-src 'self'") && policy.contains("object-src 'none'"), "{policy}");

    for (path, content_type) in [("/board/board.js", "text/javascript; charset=utf-8"), ("/board/board.css", "text/css; charset=utf-8"), ("/board/favicon.svg", "image/svg+xml")] {
        let asset = request("GET", &url(path), &[], None);
        assert_eq!((asset.status, asset.header("content-type")), (200, Some(content_type)), "{path}");
        assert!(!asset.text.is_empty());
    }
    // Nothing on the page comes from elsewhere (closed networks).
    let js = request("GET", &url("/board/board.js"), &[], None).text;
    for page in [&page.text, &js] {
        assert!(!page.contains("https://") && !page.contains("http://"), "an external reference in a board asset");
    }
    let config = request("GET", &url("/board/config.json"), &[], None);
    assert_eq!((config.status, config.body.clone()), (200, json!({ "relayUrl": format!(":{port}/ws") })));
    let missing = request("GET", &url("/board/nope.js"), &[], None);
    assert_eq!((missing.status, missing.body["error"].as_str()), (404, Some("NOT_FOUND")), "{}", missing.text);

    // The shared app leaves relay_public_url at its default: the relay on the same origin.
    let default = request("GET", "/board/config.json", &[], None);
    assert_eq!(default.body, json!({ "relayUrl": "/ws" }));
    assert!(!default.header("content-security-policy").unwrap().contains("ws://"));
    // The board is not an API operation.
    let doc = request("GET", "/openapi.json", &[], None).body;
    assert!(doc["paths"].as_object().unwrap().keys().all(|p| p.starts_with("/api/") || !p.starts_with("/board")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scan_through_http_appears_on_the_board_within_a_second() {
    let stage = stage().await;
    let browser = &stage.browser;
    open_display_board(browser).await;
    let (_, serial, name, division) = member_with_badge();
    let kiosk = api_key("kiosk");

    let scanned = scan(&kiosk.key, &serial).await;
    assert_eq!(scanned["direction"], "in", "{scanned}");
    // From the scan's response to the DOM: within the second.
    let answered = tokio::time::Instant::now();
    let view = browser.wait_for("the check-in on the board", LIVE, VIEW, |v| activity_has(v, &name)).await;
    eprintln!("scan → board: seen {:?} after the scan's response (bound {LIVE:?})", answered.elapsed());
    assert!(activity_has(&view, "IN"), "{view}");
    // The member is listed under their division once the presence figures arrive (coalesced to 1/s).
    let card = format!("[...document.querySelectorAll('.division')].filter(d => d.dataset.division === {}).map(d => d.innerText).join('')", json!(division));
    browser.wait_for("the member under their division", LOAD, &card, |v| v.as_str().is_some_and(|t| t.contains(&name) && t.contains("1 / 1"))).await;
    stage.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_restart_shows_reconnecting_then_the_missed_checkin_without_a_reload() {
    let Stage { _one, board, relay, browser } = stage().await;
    open_display_board(&browser).await;
    let kiosk = api_key("kiosk");
    // A first check-in, so the board has a stream id to resume from.
    let (_, first_serial, first_name, _) = member_with_badge();
    scan(&kiosk.key, &first_serial).await;
    browser.wait_for("the first check-in", LOAD, VIEW, |v| activity_has(v, &first_name)).await;
    browser.eval("(window.__sentinelNoReload = 'same page', true)").await;

    relay.shutdown().await;
    let view = browser
        .wait_for("the board says it is reconnecting", LOAD, VIEW, |v| v["connection"] == "reconnecting" && v["live"] == "false" && v["staleBanner"] == true)
        .await;
    assert!(view["text"].as_str().unwrap().contains("Reconnecting"), "{view}");
    // Stale figures are labelled as such.
    assert!(view["text"].as_str().unwrap().to_lowercase().contains("not live"), "{view}");

    // Checked in while the board is disconnected.
    let (_, serial, name, _) = member_with_badge();
    scan(&kiosk.key, &serial).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let view = browser.eval(VIEW).await;
    assert!(!activity_has(&view, &name) && view["live"] == "false", "shown before the relay is back: {view}");

    let relay = relay_for(board).await;
    let view = browser
        .wait_for("the missed check-in after the reconnect", Duration::from_secs(60), VIEW, |v| v["live"] == "true" && activity_has(v, &name))
        .await;
    assert_eq!(view["marker"], "same page", "the page was reloaded: {view}");
    assert_eq!(view["staleBanner"], false, "{view}");
    // The check-in channel resumed from the last id it had seen (`since`), not from a fresh backfill.
    assert!(view["resumed"].as_str().unwrap().split(' ').any(|c| c == "checkins"), "{view}");
    assert!(activity_has(&view, &first_name), "{view}");

    browser.close().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_display_board_never_receives_alerts() {
    let stage = stage().await;
    let browser = &stage.browser;
    open_display_board(browser).await;
    let kiosk = api_key("kiosk");

    let message = format!("Board test alert {}", unique_label(""));
    raise_alert(&kiosk.key, &message).await;
    // A later check-in reaches the board, so the alert had every chance to arrive first.
    let (_, serial, name, _) = member_with_badge();
    scan(&kiosk.key, &serial).await;
    let view = browser.wait_for("the later check-in", LOAD, VIEW, |v| activity_has(v, &name)).await;

    assert!(!view["text"].as_str().unwrap().contains(&message), "the alert is on a display board: {view}");
    assert_eq!(view["alertsShown"], false, "{view}");
    assert_eq!(view["channels"], "presence checkins visitors dds", "{view}");
    // The relay's own account: one display connection, never subscribed to alerts, nothing delivered on it.
    let metrics = metrics_text(&stage.relay).await;
    let value = |name: &str| metrics.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).map(str::to_string);
    assert_eq!(value("sentinel_relay_connections{kind=\"display\"}").as_deref(), Some("1"), "{metrics}");
    assert_eq!(value("sentinel_relay_subscriptions{channel=\"alerts\"}").as_deref(), Some("0"), "{metrics}");
    assert_eq!(value("sentinel_relay_events_delivered_total{channel=\"alerts\"}").as_deref(), Some("0"), "{metrics}");
    assert_eq!(value("sentinel_relay_subscriptions{channel=\"checkins\"}").as_deref(), Some("1"), "{metrics}");
    stage.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duty_watch_signs_in_sees_alerts_live_and_acknowledges_one() {
    let stage = stage().await;
    let browser = &stage.browser;
    let (_, email) = tokio::task::spawn_blocking(|| fixtures::insert_user("duty_watch")).await.unwrap();

    browser.goto(&url("/board")).await;
    browser.wait_for("the sign-in form", LOAD, "!document.getElementById('signin').hidden", |v| v == true).await;
    let fill = format!(
        "(document.getElementById('login-email').value = {}, document.getElementById('login-password').value = {}, document.getElementById('login-form').requestSubmit(), true)",
        json!(email),
        json!(fixtures::PASSWORD)
    );
    browser.eval(&fill).await;
    let view = browser.wait_for("the signed-in board goes live", LOAD, VIEW, |v| v["live"] == "true").await;
    assert_eq!(view["channels"], "presence checkins visitors dds alerts lockup", "{view}");
    assert_eq!(view["alertsShown"], true, "{view}");

    let message = format!("Board ack alert {}", unique_label(""));
    let id = raise_alert(&api_key("kiosk").key, &message).await;
    browser.wait_for("the alert on the board", LOAD, VIEW, |v| v["alerts"].as_array().is_some_and(|a| a.iter().any(|t| t.as_str().unwrap().contains(&message)))).await;

    let click = format!("(document.querySelector('[data-alert-id=\"{id}\"] button.ack').click(), true)");
    browser.eval(&click).await;
    browser.wait_for("the alert leaves the board", LOAD, VIEW, |v| !v["text"].as_str().unwrap().contains(&message)).await;
    let stored = sql(&format!("SELECT status, acknowledged_by::text AS by FROM security_alerts WHERE id = '{id}'"));
    assert_eq!(stored[0]["status"], "acknowledged");
    let user = sql(&format!("SELECT id::text AS id FROM users WHERE email = '{email}'"));
    assert_eq!(stored[0]["by"], user[0]["id"]);
    stage.end().await;
}

/// The interactive API reference renders in a real browser and lists every operation of the OpenAPI
/// document (docs/api.md, "The /docs page").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_docs_page_renders_and_lists_every_operation() {
    let _one = exclusive().await;
    let (docs, spec) = tokio::task::spawn_blocking(|| (url("/docs"), request("GET", &url("/openapi.json"), &[], None)))
        .await
        .unwrap();
    assert_eq!(spec.status, 200, "{}", spec.text);
    let mut expected: Vec<String> = spec.body["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            ["get", "post", "put", "patch", "delete"].into_iter().filter(|m| item.get(*m).is_some()).map(move |m| format!("{m} {path}"))
        })
        .collect();
    expected.sort();
    assert!(expected.len() > 50, "{expected:?}");

    let browser = Browser::start().await;
    browser.goto(&docs).await;
    browser
        .wait_for("Swagger UI rendered the tags", Duration::from_secs(60), "document.querySelectorAll('.opblock-tag').length", |v| {
            v.as_u64().is_some_and(|n| n > 0)
        })
        .await;
    // Tags start collapsed: open each, then read every operation Swagger UI rendered.
    browser.eval("(document.querySelectorAll('.opblock-tag').forEach(t => t.click()), true)").await;
    let listed = browser
        .wait_for(
            "every operation listed",
            Duration::from_secs(60),
            "[...new Set([...document.querySelectorAll('.opblock')].map(o => \
               (o.querySelector('.opblock-summary-method')?.textContent || '').toLowerCase() + ' ' + \
               (o.querySelector('.opblock-summary-path')?.getAttribute('data-path') || '')))].sort()",
            |v| v.as_array().is_some_and(|ops| ops.len() >= expected.len()),
        )
        .await;
    let listed: Vec<String> = listed.as_array().unwrap().iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(listed, expected, "the operations /docs lists");
    browser.close().await;
}
