//! The realtime relay (README, "Realtime"): real PostgreSQL, real Redis, the real host
//! for HTTP, relays started in-process. Tests that need exact stream contents, a
//! Redis restart or several replicas use a private Redis; the others share the
//! test services and tell their events apart by unique payloads.

use std::time::Duration;

use sentinel_tests::relay::{
    api_key, connect, metrics_text, publish, session, start_relay, try_connect, unique_label, ws_url, Client, Frame, PrivateRedis, Refused,
};
use sentinel_tests::{app, relay::relay_config, request, services, sql, sql_exec};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const WAIT: Duration = Duration::from_secs(10);

fn is_event(frame: &Value, event: &str) -> bool {
    frame["type"] == "event" && frame["event"] == event
}

// ------------------------------------------------------------------ authentication

#[tokio::test(flavor = "multi_thread")]
async fn connection_authentication_and_origins() {
    let relay = start_relay(|c| c.cors_origins = vec!["http://dashboard.test".into()]).await;
    let url = ws_url(&relay);

    let refused = try_connect(&url, &[]).await.err().expect("no credential is refused");
    assert_eq!((refused.status, refused.body["message"].as_str()), (401, Some("Authentication required")));

    let refused = try_connect(&url, &[("authorization", "Bearer not-a-token")]).await.err().expect("garbage token");
    assert_eq!((refused.status, refused.body["message"].as_str()), (401, Some("Invalid authentication token")));

    let refused = try_connect(&url, &[("x-api-key", "sk_unknown")]).await.err().expect("unknown key");
    assert_eq!((refused.status, refused.body["message"].as_str()), (401, Some("Invalid authentication token")));

    // A well-signed token whose session was revoked.
    let revoked = session("quartermaster");
    sql_exec(&format!("UPDATE sessions SET revoked_at = now() WHERE id = '{}'", revoked.session_id));
    let refused = try_connect(&url, &[("authorization", &format!("Bearer {}", revoked.token))]).await.err().expect("revoked session");
    assert_eq!((refused.status, refused.body["message"].as_str()), (401, Some("Invalid authentication token")));

    // Every credential form of the HTTP API, plus ?token= for browsers.
    let user = session("quartermaster");
    let key = api_key("display");
    for (path, headers) in [
        (url.clone(), vec![("authorization".to_string(), format!("Bearer {}", user.token))]),
        (url.clone(), vec![("cookie".to_string(), format!("theme=dark; sentinel_session={}", user.token))]),
        (url.clone(), vec![("x-api-key".to_string(), key.key.clone())]),
        (url.clone(), vec![("authorization".to_string(), format!("Bearer {}", key.key))]),
        (format!("{url}?token={}", user.token), vec![]),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut client = try_connect(&path, &headers).await.unwrap_or_else(|r| panic!("{headers:?} refused: {r:?}"));
        client.send(json!({ "type": "ping" })).await;
        let pong = client.next_json().await;
        assert!(is_event(&pong, "pong") && pong["data"]["timestamp"].is_string(), "{pong}");
    }

    // Browser origins: allow-listed only.
    let bearer = format!("Bearer {}", user.token);
    let refused = try_connect(&url, &[("authorization", &bearer), ("origin", "http://evil.test")]).await.err().expect("foreign origin");
    assert_eq!(refused.status, 403);
    assert!(try_connect(&url, &[("authorization", &bearer), ("origin", "http://dashboard.test")]).await.is_ok());
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_limits_per_ip_and_per_key() {
    let relay = start_relay(|c| {
        c.limits.connections_per_ip_per_minute = 3;
        c.limits.connections_per_key = 2;
    })
    .await;
    let url = ws_url(&relay);
    let key = api_key("kiosk");
    let _a = connect(&url, &key.key).await;
    let _b = connect(&url, &key.key).await;
    let refused = try_connect(&url, &[("x-api-key", &key.key)]).await.err().expect("third concurrent connection of one key");
    assert_eq!(refused.status, 429);
    let refused = try_connect(&url, &[("x-api-key", &key.key)]).await.err().expect("fourth connection from this IP in a minute");
    assert_eq!((refused.status, refused.body["message"].as_str()), (429, Some("Too many WebSocket connections from this IP")));
    relay.shutdown().await;
}

/// Issue 13, finding 8: behind a trusted proxy the per-IP connection limit counts each client (the
/// rightmost untrusted `X-Forwarded-For` hop), not the proxy; without one the header is ignored.
#[tokio::test(flavor = "multi_thread")]
async fn the_per_ip_connection_limit_counts_clients_behind_trusted_proxies() {
    async fn from(url: &str, key: &str, client: &str) -> Result<Client, Refused> {
        try_connect(url, &[("x-api-key", key), ("x-forwarded-for", client)]).await
    }
    let behind_proxy = start_relay(|c| {
        c.limits.connections_per_ip_per_minute = 2;
        c.trusted_proxies = sentinel_relay::TrustedProxies::parse("127.0.0.1/32").unwrap();
    })
    .await;
    let url = ws_url(&behind_proxy);
    let key = api_key("display");
    let mut open = Vec::new();
    for _ in 0..2 {
        open.push(from(&url, &key.key, "203.0.113.10").await.expect("within the client's budget"));
    }
    let refused = from(&url, &key.key, "198.51.100.7, 203.0.113.10").await.err().expect("that client's third, whatever it prepends");
    assert_eq!((refused.status, refused.body["message"].as_str()), (429, Some("Too many WebSocket connections from this IP")));
    open.push(from(&url, &key.key, "203.0.113.11").await.expect("another client behind the same proxy"));
    drop(open);
    behind_proxy.shutdown().await;

    // No trusted proxy: every connection from here is this peer's, whatever it forwards.
    let direct = start_relay(|c| c.limits.connections_per_ip_per_minute = 2).await;
    let url = ws_url(&direct);
    let mut open = Vec::new();
    for client in ["203.0.113.20", "203.0.113.21"] {
        open.push(from(&url, &key.key, client).await.expect("within the peer's budget"));
    }
    assert_eq!(from(&url, &key.key, "203.0.113.22").await.err().expect("the peer's third").status, 429);
    drop(open);
    direct.shutdown().await;
}

/// Issue 13, finding 3: a client that subscribes and then never reads, while events flood, is dropped
/// within the write timeout (batched writes, replay and heartbeats alike) and its API key's connection
/// slot is free again.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_is_dropped_and_frees_its_key_slot() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let redis = PrivateRedis::start();
    let mut config = relay_config(&redis.url());
    config.limits.connections_per_key = 1;
    config.limits.write_timeout = Duration::from_millis(500);
    let relay = sentinel_relay::start(config).await.unwrap();
    let url = ws_url(&relay);
    let key = api_key("kiosk");

    // A raw client with a tiny receive window that subscribes and then never reads again.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(relay.addr()).await.unwrap();
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert("x-api-key", key.key.parse().unwrap());
    let (mut stalled, _) = tokio_tungstenite::client_async(request, stream).await.expect("handshake");
    stalled
        .send(tokio_tungstenite::tungstenite::Message::Text(json!({ "type": "subscribe", "channel": "checkins" }).to_string().into()))
        .await
        .unwrap();
    let refused = try_connect(&url, &[("x-api-key", &key.key)]).await.err().expect("the key's one slot is taken");
    assert_eq!(refused.status, 429);

    // Flood the channel with far more than the socket buffers hold (about 16 MB).
    let padding = "x".repeat(32 * 1024);
    for n in 0..500 {
        publish(&redis.url(), "checkins", "checkin:new", &json!({ "n": n, "padding": padding })).await;
    }
    // The stalled socket is dropped and the key connects again (bounded wait, not a timing).
    let mut reconnected = None;
    for _ in 0..300 {
        match try_connect(&url, &[("x-api-key", &key.key)]).await {
            Ok(client) => {
                reconnected = Some(client);
                break;
            }
            Err(refused) => assert_eq!(refused.status, 429, "{:?}", refused.body),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(reconnected.is_some(), "the key's slot was never freed: the stalled socket is still held");
    assert!(metrics_text(&relay).await.lines().any(|l| l.starts_with("sentinel_relay_slow_consumers_dropped_total ") && !l.ends_with(" 0")), "counted as a slow consumer");
    drop(stalled);
    relay.shutdown().await;
}

// ------------------------------------------------------------------ channels

#[tokio::test(flavor = "multi_thread")]
async fn channels_are_gated_by_role() {
    let relay = start_relay(|_| {}).await;
    let url = ws_url(&relay);

    async fn outcome(client: &mut Client, channel: &str) -> Result<(), String> {
        client.send(json!({ "type": "subscribe", "channel": channel })).await;
        let frame = client.next_json().await;
        if frame["type"] == "subscribed" {
            // Unsubscribe again so backfill of the next channel does not interleave.
            client.send(json!({ "type": "unsubscribe", "channel": channel })).await;
            client.until(WAIT, |v| v["type"] == "unsubscribed").await;
            return Ok(());
        }
        assert!(is_event(&frame, "error"), "{frame}");
        Err(format!("{}: {}", frame["data"]["code"].as_str().unwrap(), frame["data"]["message"].as_str().unwrap()))
    }

    let channels = ["presence", "checkins", "visitors", "alerts", "dds", "lockup", "events", "badges", "kiosks"];
    let cases: Vec<(&str, String, [bool; 9])> = vec![
        ("quartermaster", session("quartermaster").token, [true, true, true, false, true, false, true, true, false]),
        ("duty_watch", session("duty_watch").token, [true, true, true, true, true, true, true, true, false]),
        ("admin", session("admin").token, [true; 9]),
        ("developer", session("developer").token, [true; 9]),
        ("kiosk", api_key("kiosk").key, [true, true, true, false, true, true, false, false, false]),
        ("display", api_key("display").key, [true, true, true, false, true, false, false, false, false]),
    ];
    for (who, token, allowed) in cases {
        let mut client = connect(&url, &token).await;
        for (channel, allowed) in channels.iter().zip(allowed) {
            let result = outcome(&mut client, channel).await;
            assert_eq!(result.is_ok(), allowed, "{who} on {channel}: {result:?}");
            if let Err(message) = result {
                assert!(message.starts_with("FORBIDDEN: ") && message.ends_with(&format!("role required to subscribe to {channel}")), "{message}");
            }
        }
        // A refused subscription leaves the socket usable.
        client.send(json!({ "type": "ping" })).await;
        assert!(is_event(&client.next_json().await, "pong"));
    }

    let mut client = connect(&url, &session("quartermaster").token).await;
    client.send(json!({ "type": "subscribe", "channel": "alerts" })).await;
    let refused = client.next_json().await;
    assert_eq!(refused["data"], json!({ "code": "FORBIDDEN", "message": "duty_watch role required to subscribe to alerts" }));
    client.send(json!({ "type": "subscribe", "channel": "logs" })).await;
    assert_eq!(client.next_json().await["data"]["code"], "UNKNOWN_CHANNEL");
    client.send(json!({ "type": "dance" })).await;
    assert_eq!(client.next_json().await["data"]["code"], "BAD_MESSAGE");
    relay.shutdown().await;
}

/// Members, a badge-less visitor, an alert, today's DDS and the lockup holder, in one division.
fn seed_snapshot_data() -> (String, String, String) {
    let code = unique_label("RT").to_uppercase();
    let code = &code[..code.len().min(20)];
    let rows = sql(&format!("INSERT INTO divisions (code, name) VALUES ('{code}', 'Relay {code}') RETURNING id::text AS id"));
    let division = rows[0]["id"].as_str().unwrap().to_string();
    let members = sql(&format!(
        "INSERT INTO members (service_number, rank, first_name, last_name, division_id)
         VALUES ('{code}A', 'S1', 'Ada', 'Present', '{division}'), ('{code}B', 'PO2', 'Bob', 'Absent', '{division}')
         RETURNING id::text AS id"
    ));
    let present = members[0]["id"].as_str().unwrap().to_string();
    sql_exec(&format!(
        "INSERT INTO checkins (member_id, direction, kiosk_id, method) VALUES ('{present}', 'in', 'relay-test', 'manual');
         INSERT INTO visitors (name, visit_type, kiosk_id, organization) VALUES ('Visitor {code}', 'guest', 'relay-test', 'Org {code}');
         INSERT INTO security_alerts (alert_type, severity, badge_serial, kiosk_id, message) VALUES ('badge_unknown', 'warning', '{code}', 'relay-test', 'Unknown badge {code}');"
    ));
    (division, present, code.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribing_sends_the_channel_backfill() {
    let (division, present, code) = seed_snapshot_data();
    let relay = start_relay(|_| {}).await;
    let mut client = connect(&ws_url(&relay), &session("admin").token).await;

    client.subscribe("presence", None).await;
    let presence = client.next_json().await;
    assert!(is_event(&presence, "presence:update") && presence["channel"] == "presence" && presence["id"].is_null(), "{presence}");
    let data = &presence["data"];
    for field in ["totalPresent", "totalMembers", "visitorsPresent"] {
        assert!(data[field].as_i64().is_some(), "{field} in {data}");
    }
    assert!(data["lastUpdated"].as_str().unwrap().ends_with('Z'));
    let mine = data["byDivision"].as_array().unwrap().iter().find(|d| d["divisionId"] == division.as_str()).expect("every division listed");
    assert_eq!(mine, &json!({ "divisionId": division, "divisionName": format!("Relay {code}"), "present": 1, "total": 2 }));
    let names: Vec<&str> = data["byDivision"].as_array().unwrap().iter().map(|d| d["divisionName"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ordered by name");

    client.subscribe("checkins", None).await;
    let activity = client.next_json().await;
    assert!(is_event(&activity, "activity:backfill"), "{activity}");
    let items = activity["data"]["items"].as_array().unwrap();
    assert!(items.len() <= 20);
    let checkin = items.iter().find(|i| i["type"] == "checkin" && i["name"] == "Ada Present").expect("our check-in among the newest");
    assert_eq!(checkin["direction"], "in");
    assert_eq!(checkin["rank"], "S1");
    assert_eq!(checkin["division"], format!("Relay {code}"));
    assert_eq!(checkin["kioskId"], "relay-test");
    let visitor = items.iter().find(|i| i["type"] == "visitor" && i["name"] == format!("Visitor {code}")).expect("our visitor");
    assert_eq!((visitor["direction"].as_str(), visitor["organization"].as_str(), visitor["visitType"].as_str()), (Some("in"), Some(&*format!("Org {code}")), Some("guest")));
    let stamps: Vec<&str> = items.iter().map(|i| i["timestamp"].as_str().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "newest first: {stamps:?}");

    client.subscribe("visitors", None).await;
    let visitors = client.next_json().await;
    assert!(is_event(&visitors, "visitors:backfill"), "{visitors}");
    let list = visitors["data"]["visitors"].as_array().unwrap();
    assert_eq!(visitors["data"]["count"].as_u64(), Some(list.len() as u64));
    let ours = list.iter().find(|v| v["name"] == format!("Visitor {code}")).unwrap();
    assert_eq!(ours["checkOutTime"], Value::Null);
    assert_eq!(ours["checkInMethod"], "kiosk");
    assert!(ours["visitTypeId"].is_string());

    client.subscribe("alerts", None).await;
    let alerts = client.next_json().await;
    assert!(is_event(&alerts, "alerts:backfill"), "{alerts}");
    let ours = alerts["data"]["alerts"].as_array().unwrap().iter().find(|a| a["badgeSerial"] == code.as_str()).unwrap().clone();
    assert_eq!((ours["status"].as_str(), ours["alertType"].as_str(), ours["severity"].as_str()), (Some("active"), Some("badge_unknown"), Some("warning")));

    // DDS and lockup: make our present member today's DDS and the Lockup holder.
    sql_exec(&format!(
        "UPDATE dds_assignments SET status = 'released', released_at = now() WHERE assigned_date = operational_date(now(), 'America/Winnipeg', '03:00') AND status IN ('pending', 'active');
         INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at) VALUES ('{present}', operational_date(now(), 'America/Winnipeg', '03:00'), 'active', now());
         DELETE FROM member_tags WHERE tag_id = (SELECT id FROM tags WHERE name = 'Lockup');
         INSERT INTO member_tags (member_id, tag_id) SELECT '{present}', id FROM tags WHERE name = 'Lockup';"
    ));
    client.subscribe("dds", None).await;
    let dds = client.next_json().await;
    assert!(is_event(&dds, "dds:current"), "{dds}");
    let assignment = &dds["data"]["assignment"];
    assert_eq!(assignment["memberId"], present.as_str());
    assert_eq!(assignment["member"], json!({ "id": present, "name": "Ada Present", "rank": "S1", "division": format!("Relay {code}") }));
    assert_eq!(assignment["status"], "active");
    assert!(assignment["assignedDate"].as_str().unwrap().ends_with("T00:00:00.000Z"));

    client.subscribe("lockup", None).await;
    let lockup = client.next_json().await;
    assert!(is_event(&lockup, "lockup:current"), "{lockup}");
    assert_eq!(lockup["data"]["holder"], json!({ "id": present, "rank": "S1", "firstName": "Ada", "lastName": "Present" }));
    let building = sql("SELECT building_status_json(operational_date(now(), 'America/Winnipeg', '03:00'))->>'buildingStatus' AS s");
    assert_eq!(lockup["data"]["buildingStatus"], building[0]["s"], "the day's building status");

    let kiosk = api_key("kiosk");
    client.subscribe("kiosks", None).await;
    let kiosks = client.next_json().await;
    assert!(is_event(&kiosks, "kiosks:backfill"), "{kiosks}");
    let ours = kiosks["data"]["kiosks"].as_array().unwrap().iter().find(|k| k["kioskId"] == kiosk.kiosk_id.as_deref().unwrap()).unwrap().clone();
    assert_eq!(ours, json!({ "kioskId": kiosk.kiosk_id, "name": "relay test kiosk", "status": "offline", "lastSeen": null }));

    // events and badges have no backfill; re-subscribing is a no-op.
    client.subscribe("events", None).await;
    client.subscribe("presence", None).await;
    assert!(client.drain_quiet(Duration::from_millis(500)).await.iter().all(|f| f["event"] != "presence:update"));
    relay.shutdown().await;
}

// ------------------------------------------------------------------ publishing through HTTP

/// Issue 13, finding 7: `alerts:backfill` carries only the newest active alerts, with the total and
/// `more` when there are others (the dashboard pages the rest over HTTP).
#[tokio::test(flavor = "multi_thread")]
async fn the_alerts_backfill_is_bounded() {
    for i in 0..3 {
        sql_exec(&format!(
            "INSERT INTO security_alerts (alert_type, severity, kiosk_id, message) VALUES ('system', 'info', '{}', 'bounded {i}')",
            unique_label("bf-")
        ));
    }
    let relay = start_relay(|c| c.limits.alerts_backfill_items = 2).await;
    let mut client = connect(&ws_url(&relay), &session("admin").token).await;
    client.subscribe("alerts", None).await;
    let alerts = client.next_json().await;
    assert!(is_event(&alerts, "alerts:backfill"), "{alerts}");
    let data = &alerts["data"];
    assert_eq!(data["alerts"].as_array().unwrap().len(), 2, "{data}");
    assert_eq!(data["count"], 2);
    assert!(data["total"].as_i64().unwrap() >= 3, "{data}");
    assert_eq!(data["more"], true);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_through_http_arrives_on_a_subscribed_socket() {
    let app = app();
    let code = unique_label("SC").to_uppercase();
    let code = code[..code.len().min(20)].to_string();
    let division = sql(&format!("INSERT INTO divisions (code, name) VALUES ('{code}', 'Scan {code}') RETURNING id::text AS id"))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let member = sql(&format!(
        "INSERT INTO members (service_number, rank, first_name, last_name, division_id) VALUES ('{code}', 'MS', 'Scan', 'Tester', '{division}') RETURNING id::text AS id"
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
    let relay = start_relay(|_| {}).await;
    let staff = session("quartermaster");
    let mut client = connect(&ws_url(&relay), &staff.token).await;
    client.subscribe("checkins", None).await;
    client.until(WAIT, |v| is_event(v, "activity:backfill")).await;

    let token = staff.token.clone();
    let url = format!("{}/api/checkins/scan", app.base_url);
    let serial = code.to_lowercase();
    let scan = tokio::task::spawn_blocking(move || {
        request("POST", &url, &[("authorization", &format!("Bearer {token}"))], Some(&json!({ "serialNumber": serial, "kioskId": "relay-scan-kiosk" })))
    })
    .await
    .unwrap();
    assert_eq!(scan.status, 201, "scan: {}", scan.text);

    let event = client.until(WAIT, |v| is_event(v, "checkin:new") && v["data"]["memberId"] == member.as_str()).await;
    assert_eq!(event["channel"], "checkins");
    assert!(event["id"].as_str().unwrap().contains('-'), "stream entry id: {event}");
    let data = &event["data"];
    assert_eq!(data["id"], scan.body["checkin"]["id"]);
    assert_eq!(data["memberName"], "Scan Tester");
    assert_eq!(data["rank"], "MS");
    assert_eq!(data["division"], format!("Scan {code}"));
    assert_eq!(data["direction"], "in");
    assert_eq!(data["kioskId"], "relay-scan-kiosk");
    assert!(data["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(data.get("method").is_some(), "method (rebuild) in {data}");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_through_http_expires_the_socket() {
    let app = app();
    // A user signs in through the real auth component.
    let email = format!("{}@relay.test", unique_label("logout"));
    let hash = sentinel_auth::password::hash("Relay-Passw0rd!42").unwrap();
    sql_exec(&format!("INSERT INTO users (email, display_name, password_hash, role) VALUES ('{email}', 'Logout', '{hash}', 'quartermaster')"));
    let base = app.base_url.clone();
    let login = tokio::task::spawn_blocking(move || request("POST", &format!("{base}/api/auth/login"), &[], Some(&json!({ "email": email, "password": "Relay-Passw0rd!42" }))))
        .await
        .unwrap();
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.body["token"].as_str().unwrap().to_string();

    let relay = start_relay(|_| {}).await;
    let mut client = connect(&ws_url(&relay), &token).await;
    client.subscribe("events", None).await;

    let base = app.base_url.clone();
    let logout = tokio::task::spawn_blocking(move || request("POST", &format!("{base}/api/auth/logout"), &[("authorization", &format!("Bearer {token}"))], None))
        .await
        .unwrap();
    assert_eq!(logout.status, 200, "{}", logout.text);
    // The auth component published session:revoked; the relay re-checked at once.
    let expired = client.until(WAIT, |v| is_event(v, "session:expired")).await;
    assert_eq!(expired["data"]["reason"], "revoked");
    assert!(client.closed(WAIT).await.is_some());
    relay.shutdown().await;
}

// ------------------------------------------------------------------ resume

async fn events_of(client: &mut Client, count: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < count {
        let frame = client.until(WAIT, |v| v["type"] == "event" && v["channel"] == "events").await;
        out.push(frame);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_replays_exactly_the_missed_events() {
    let redis = PrivateRedis::start();
    let relay = sentinel_relay::start(relay_config(&redis.url())).await.unwrap();
    let url = ws_url(&relay);
    let admin = session("admin");

    let mut first = connect(&url, &admin.token).await;
    first.subscribe("events", None).await;
    for n in 1..=2 {
        publish(&redis.url(), "events", "event:update", &json!({ "n": n })).await;
    }
    let seen = events_of(&mut first, 2).await;
    assert_eq!(seen.iter().map(|e| e["data"]["n"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2]);
    let last_seen = seen[1]["id"].as_str().unwrap().to_string();
    drop(first);

    let mut missed = Vec::new();
    for n in 3..=5 {
        missed.push(publish(&redis.url(), "events", "event:update", &json!({ "n": n })).await);
    }
    let mut second = connect(&url, &admin.token).await;
    second.send(json!({ "type": "subscribe", "channel": "events", "since": last_seen })).await;
    assert_eq!(second.next_json().await, json!({ "type": "subscribed", "channel": "events" }));
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(second.next_json().await);
    }
    assert_eq!(got.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect::<Vec<_>>(), missed);
    assert_eq!(got.iter().map(|e| e["data"]["n"].as_i64().unwrap()).collect::<Vec<_>>(), [3, 4, 5]);
    assert!(got.iter().all(|e| e["event"] == "event:update" && e["ts"].is_string()));
    assert_eq!(second.next_json().await, json!({ "type": "recovered", "channel": "events", "complete": true }));

    // Then live, with no gap and no duplicate.
    publish(&redis.url(), "events", "event:update", &json!({ "n": 6 })).await;
    let live = second.next_json().await;
    assert_eq!(live["data"]["n"], 6);
    assert!(second.drain_quiet(Duration::from_millis(500)).await.is_empty());

    // Resuming from the newest id replays nothing.
    let mut third = connect(&url, &admin.token).await;
    third.send(json!({ "type": "subscribe", "channel": "events", "since": live["id"] })).await;
    assert_eq!(third.next_json().await["type"], "subscribed");
    assert_eq!(third.next_json().await, json!({ "type": "recovered", "channel": "events", "complete": true }));
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn trimmed_history_recovers_incomplete() {
    let redis = PrivateRedis::start();
    let relay = sentinel_relay::start(relay_config(&redis.url())).await.unwrap();
    let admin = session("admin");
    let oldest = publish(&redis.url(), "events", "event:update", &json!({ "n": 0 })).await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for n in 1..=5 {
        let _: String = redis::cmd("XADD").arg("sentinel:rt:events").arg("MAXLEN").arg(3).arg("*").arg("event").arg("event:update").arg("ts").arg(sentinel_relay::now_iso()).arg("data").arg(json!({ "n": n }).to_string()).query_async(&mut conn).await.unwrap();
    }
    let mut socket = connect(&ws_url(&relay), &admin.token).await;
    socket.send(json!({ "type": "subscribe", "channel": "events", "since": oldest })).await;
    assert_eq!(socket.next_json().await["type"], "subscribed");
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(socket.next_json().await["data"]["n"].as_i64().unwrap());
    }
    assert_eq!(got, [3, 4, 5], "what the stream still holds");
    assert_eq!(socket.next_json().await, json!({ "type": "recovered", "channel": "events", "complete": false }));
    relay.shutdown().await;
}

// ------------------------------------------------------------------ resilience and scale-out

#[tokio::test(flavor = "multi_thread")]
async fn redis_restart_mid_stream_loses_nothing() {
    let mut redis = PrivateRedis::start();
    let relay = sentinel_relay::start(relay_config(&redis.url())).await.unwrap();
    let mut client = connect(&ws_url(&relay), &session("admin").token).await;
    client.subscribe("events", None).await;
    for n in 1..=3 {
        publish(&redis.url(), "events", "event:update", &json!({ "n": n })).await;
    }
    let before: Vec<i64> = events_of(&mut client, 3).await.iter().map(|e| e["data"]["n"].as_i64().unwrap()).collect();
    assert_eq!(before, [1, 2, 3]);

    redis.server.stop();
    tokio::time::sleep(Duration::from_millis(700)).await;
    redis.server.restart().expect("restarting redis");
    // Published right away, possibly before the reader reconnects: read from the last id on resume.
    for n in 4..=6 {
        publish(&redis.url(), "events", "event:update", &json!({ "n": n })).await;
    }
    let after: Vec<i64> = events_of(&mut client, 3).await.iter().map(|e| e["data"]["n"].as_i64().unwrap()).collect();
    assert_eq!(after, [4, 5, 6]);
    assert!(client.drain_quiet(Duration::from_millis(300)).await.is_empty(), "no duplicates");
    assert!(metrics_text(&relay).await.contains("sentinel_relay_redis_reconnects_total"));
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_both_deliver_every_event() {
    let redis = PrivateRedis::start();
    let one = sentinel_relay::start(relay_config(&redis.url())).await.unwrap();
    let two = sentinel_relay::start(relay_config(&redis.url())).await.unwrap();
    let admin = session("admin");
    let mut a = connect(&ws_url(&one), &admin.token).await;
    let mut b = connect(&ws_url(&two), &admin.token).await;
    a.subscribe("events", None).await;
    b.subscribe("events", None).await;
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(publish(&redis.url(), "events", "event:update", &json!({ "n": n })).await);
    }
    for client in [&mut a, &mut b] {
        let got: Vec<String> = events_of(client, 50).await.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(got, ids);
        assert!(client.drain_quiet(Duration::from_millis(300)).await.is_empty());
    }
    for relay in [&one, &two] {
        let text = metrics_text(relay).await;
        assert!(text.contains("sentinel_relay_events_delivered_total{channel=\"events\"} 50"), "{text}");
        assert!(text.contains("sentinel_relay_subscriptions{channel=\"events\"} 1"), "{text}");
        assert!(text.contains("sentinel_relay_connections{kind=\"user\"} 1"), "{text}");
        assert!(text.contains("sentinel_relay_fanout_lag_seconds_count"), "{text}");
    }
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_updates_are_coalesced_and_carry_figures_read_after_commit() {
    let redis = PrivateRedis::start();
    let relay = sentinel_relay::start(relay_config(&redis.url())).await.unwrap();
    let mut client = connect(&ws_url(&relay), &session("admin").token).await;
    client.subscribe("presence", None).await;
    let backfill = client.until(WAIT, |v| v["event"] == "presence:update").await;
    assert!(backfill["id"].is_null(), "the backfill comes first: {backfill}");

    // A burst of ten with figures no database holds: what arrives is at most two events (one at
    // once, one when the interval is up), the last with the newest entry's id, and figures the
    // relay read from PostgreSQL after the entries were committed and published.
    let mut ids = Vec::new();
    for n in 1..=10 {
        ids.push(publish(&redis.url(), "presence", "presence:update", &json!({ "totalPresent": 1_000_000 + n, "byDivision": [] })).await);
    }
    let mut received = Vec::new();
    loop {
        let frame = client.until(WAIT, |v| v["event"] == "presence:update").await;
        received.push((std::time::Instant::now(), frame.clone()));
        if frame["id"] == ids[9].as_str() {
            break;
        }
    }
    assert!(received.len() <= 2, "coalesced: {:?}", received.iter().map(|(_, f)| &f["id"]).collect::<Vec<_>>());
    if let [(first_at, _), (last_at, _)] = received.as_slice() {
        assert!(last_at.duration_since(*first_at) >= Duration::from_millis(700), "one per interval");
    }
    for (_, frame) in &received {
        let data = &frame["data"];
        assert!(data["totalPresent"].as_i64().unwrap() < 1_000_000, "figures from the database: {data}");
        assert!(data["totalMembers"].is_i64() && data["byDivision"].is_array() && data["lastUpdated"].is_string(), "{data}");
    }
    let rest = client.drain_quiet(Duration::from_millis(1_500)).await;
    assert!(rest.iter().all(|f| f["event"] != "presence:update"), "nothing else: {rest:?}");

    // Other channels are never held back.
    client.subscribe("events", None).await;
    for n in 1..=3 {
        publish(&redis.url(), "events", "event:update", &json!({ "n": n })).await;
    }
    assert_eq!(events_of(&mut client, 3).await.iter().map(|e| e["data"]["n"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn drain_on_shutdown() {
    let relay = start_relay(|_| {}).await;
    let url = ws_url(&relay);
    let mut client = connect(&url, &session("quartermaster").token).await;
    client.subscribe("events", None).await;
    let addr = relay.addr();
    let started = std::time::Instant::now();
    let shutdown = tokio::spawn(relay.shutdown());
    let notice = client.until(WAIT, |v| is_event(v, "server:shutdown")).await;
    assert_eq!(notice["data"]["message"], "Server is shutting down");
    // New connections are no longer accepted while draining.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(try_connect(&format!("ws://{addr}/ws"), &[]).await.is_err());
    let (code, _) = client.closed(WAIT).await.expect("a close frame");
    assert_eq!(code, CloseCode::Away);
    assert!(started.elapsed() >= Duration::from_millis(900), "closed after the 1 s grace, not before: {:?}", started.elapsed());
    shutdown.await.unwrap();
}

// ------------------------------------------------------------------ connection hygiene

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_then_disconnect() {
    let relay = start_relay(|c| c.limits.messages_per_minute = 5).await;
    let mut client = connect(&ws_url(&relay), &session("quartermaster").token).await;
    for _ in 0..5 {
        client.send(json!({ "type": "ping" })).await;
        assert!(is_event(&client.next_json().await, "pong"));
    }
    for violation in 1..=3 {
        client.send(json!({ "type": "ping" })).await;
        let frame = client.next_json().await;
        assert_eq!(frame["data"]["code"], "RATE_LIMITED", "violation {violation}: {frame}");
    }
    let (code, _) = client.closed(WAIT).await.expect("closed after 3 violations");
    assert_eq!(code, CloseCode::Policy);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_messages_and_silent_sockets_are_dropped() {
    let relay = start_relay(|c| {
        c.limits.ping_interval = Duration::from_millis(200);
        c.limits.idle_timeout = Duration::from_millis(700);
    })
    .await;
    let url = ws_url(&relay);
    let token = session("quartermaster").token;
    let mut big = connect(&url, &token).await;
    let payload = json!({ "type": "ping", "pad": "x".repeat(70 * 1024) });
    big.send_raw(tokio_tungstenite::tungstenite::Message::Text(payload.to_string().into())).await;
    match big.next_frame(WAIT).await {
        Some(Frame::Closed(frame)) => assert_eq!(frame.map(|f| f.0), Some(CloseCode::Size)),
        other => panic!("expected a close for a 70 KB message, got {other:?}"),
    }

    // A client that never reads never answers pings: dropped after the idle timeout.
    let _silent = connect(&url, &token).await;
    let mut t = 0;
    while relay.open_connections() > 0 && t < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        t += 1;
    }
    assert_eq!(relay.open_connections(), 0);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_revalidated() {
    let relay = start_relay(|c| c.limits.revalidate_interval = Duration::from_millis(300)).await;
    let url = ws_url(&relay);
    let revoked = session("quartermaster");
    let disabled = session("quartermaster");
    let mut a = connect(&url, &revoked.token).await;
    let mut b = connect(&url, &disabled.token).await;
    let key = api_key("display");
    let mut c = connect(&url, &key.key).await;
    sql_exec(&format!(
        "UPDATE sessions SET revoked_at = now() WHERE id = '{}';
         UPDATE users SET disabled = true, disabled_at = now() WHERE id = '{}';
         UPDATE api_keys SET revoked_at = now() WHERE id = '{}';",
        revoked.session_id, disabled.user_id, key.id
    ));
    for (client, reason) in [(&mut a, "revoked"), (&mut b, "disabled"), (&mut c, "revoked")] {
        let expired = client.until(WAIT, |v| is_event(v, "session:expired")).await;
        assert_eq!(expired["data"]["reason"], reason);
        assert!(expired["data"]["timestamp"].is_string());
        assert!(client.closed(WAIT).await.is_some());
    }
    // A valid session survives the same checks.
    let mut fine = connect(&url, &session("quartermaster").token).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    fine.send(json!({ "type": "ping" })).await;
    assert!(is_event(&fine.next_json().await, "pong"));
    relay.shutdown().await;
}

// ------------------------------------------------------------------ kiosks

#[tokio::test(flavor = "multi_thread")]
async fn kiosk_heartbeats_publish_online_and_the_sweep_publishes_offline_once() {
    // The shared Redis: kiosk:status goes through the shared database's outbox.
    let config = || {
        let mut c = relay_config(&sentinel_tests::services().redis_url);
        c.limits.kiosk_sweep_interval = Duration::from_millis(200);
        c
    };
    // Two replicas sweep concurrently: each transition must still be published once.
    let one = sentinel_relay::start(config()).await.unwrap();
    let two = sentinel_relay::start(config()).await.unwrap();
    let mut admin = connect(&ws_url(&one), &session("admin").token).await;
    admin.subscribe("kiosks", None).await;
    admin.until(WAIT, |v| is_event(v, "kiosks:backfill")).await;

    let key = api_key("kiosk");
    let kiosk_id = key.kiosk_id.clone().unwrap();
    let mut kiosk = connect(&ws_url(&two), &key.key).await;
    kiosk.send(json!({ "type": "kiosk:heartbeat", "queueSize": 4 })).await;
    let ack = kiosk.until(WAIT, |v| is_event(v, "kiosk:heartbeat:ok")).await;
    assert_eq!(ack["data"]["kioskId"], kiosk_id.as_str());
    let row = sql(&format!("SELECT queue_size, last_reported_status FROM kiosk_status WHERE kiosk_id = '{kiosk_id}'"));
    assert_eq!(row[0], json!({ "queue_size": 4, "last_reported_status": "online" }));

    let online = admin.until(WAIT, |v| is_event(v, "kiosk:status") && v["data"]["kioskId"] == kiosk_id.as_str()).await;
    assert_eq!(online["data"]["status"], "online");
    assert!(online["data"]["lastSeen"].is_string());

    // Silent for more than 90 s (simulated), and the key unused: offline, published once.
    sql_exec(&format!(
        "UPDATE kiosk_status SET last_seen_at = now() - interval '5 minutes' WHERE kiosk_id = '{kiosk_id}';
         UPDATE api_keys SET last_used_at = now() - interval '5 minutes' WHERE id = '{}';",
        key.id
    ));
    let offline = admin.until(WAIT, |v| is_event(v, "kiosk:status") && v["data"]["kioskId"] == kiosk_id.as_str()).await;
    assert_eq!(offline["data"]["status"], "offline");
    let more: Vec<Value> = admin.drain_quiet(Duration::from_millis(1000)).await;
    assert!(!more.iter().any(|v| v["data"]["kioskId"] == kiosk_id.as_str()), "one transition, one event: {more:?}");

    // Display and user principals cannot send kiosk heartbeats.
    let mut display = connect(&ws_url(&one), &api_key("display").key).await;
    display.send(json!({ "type": "kiosk:heartbeat" })).await;
    assert_eq!(display.next_json().await["data"]["code"], "FORBIDDEN");
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shared_redis_serves_components_and_relay_alike() {
    // Sanity: the relay on the shared services sees what is published there.
    let relay = start_relay(|_| {}).await;
    let mut client = connect(&ws_url(&relay), &session("quartermaster").token).await;
    client.subscribe("badges", None).await;
    let marker = unique_label("badge-");
    publish(&services().redis_url, "badges", "badge:assignment", &json!({ "badgeId": marker })).await;
    let got = client.until(WAIT, |v| v["data"]["badgeId"] == marker.as_str()).await;
    assert_eq!((got["channel"].as_str(), got["event"].as_str()), (Some("badges"), Some("badge:assignment")));
    relay.shutdown().await;
}

/// `presence:update` rows carry no figures: a publisher pass appends only the newest of its rows, with
/// figures read after they committed (docs/database.md, "Realtime outbox").
#[test]
fn a_publisher_pass_appends_one_presence_update_with_figures_read_after_commit() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    let redis_url = stack.redis_url().to_string();
    let entries = move || {
        let url = redis_url.clone();
        sentinel_tests::block_on(async move {
            let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
            let reply: redis::streams::StreamRangeReply =
                redis::cmd("XRANGE").arg("sentinel:rt:presence").arg("-").arg("+").query_async(&mut conn).await.unwrap();
            reply.ids.into_iter().map(|e| serde_json::from_str::<Value>(&e.get::<String>("data").unwrap_or_default()).unwrap()).collect::<Vec<_>>()
        })
    };
    sentinel_tests::wait_for_outbox_at(stack.database_url());
    let before = entries().len();
    // One transaction with two presence:update rows (the new division's deferred trigger finds them at
    // commit and adds none): one pass takes both.
    stack.sql_exec(
        "INSERT INTO event_outbox (channel, event, data) VALUES ('presence', 'presence:update', '{}'), ('presence', 'presence:update', '{}');
         INSERT INTO divisions (code, name) VALUES ('PASS', 'Pass division');",
    );
    sentinel_tests::wait_for_outbox_at(stack.database_url());
    let after = entries();
    assert_eq!(after.len(), before + 1, "one entry for the pass: {:?}", &after[before..]);
    let figures = &after[before];
    assert!(figures["totalPresent"].is_i64() && figures["lastUpdated"].is_string(), "{figures}");
    assert!(figures["byDivision"].as_array().unwrap().iter().any(|d| d["divisionName"] == "Pass division"), "read after the commit: {figures}");
}
