//! Fault tests: real processes stopped, started and killed under load (docs/architecture.md, "Realtime").
//!
//! - Redis stopped for ~10 s under scans: every scan succeeds (rate limits fail open) and every event of
//!   that window reaches a subscribed dashboard once Redis is back, in order, once each; a dashboard
//!   that was away resumes with `since` and misses nothing.
//! - PostgreSQL stopped: JSON 503s, never a 500 or a hang; full recovery without restarting anything.
//! - The host killed with SIGKILL in the middle of a burst of scans: no half-written check-in (each has its
//!   audit row and its event), presence equals its derivation.
//! - A relay replica killed: its dashboard reconnects to another replica with `since` and misses nothing.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sentinel_relay::{RelayConfig, RunningRelay};
use sentinel_tests::relay::{connect, Client, Frame};
use sentinel_tests::{block_on, request, wait_until, IsolatedStack, Resp, TEST_JWT_SECRET};
use serde_json::{json, Value};

/// What a test needs inside a stack's database: an admin session, a kiosk key, members with badges.
struct People {
    admin_token: String,
    kiosk_key: String,
    serials: Vec<String>,
    member_ids: Vec<String>,
}

fn people(sql: &dyn Fn(&str) -> Vec<Value>, label: &str, members: usize) -> People {
    let division = sql(&format!("INSERT INTO divisions (code, name) VALUES ('{label}', 'Fault {label}') RETURNING id::text AS id"))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rows = sql(&format!(
        "WITH m AS (
            INSERT INTO members (service_number, rank, first_name, last_name, division_id)
            SELECT '{label}' || g, (SELECT code FROM ranks ORDER BY code LIMIT 1), 'Fault', '{label}' || lpad(g::text, 3, '0'), '{division}'
            FROM generate_series(1, {members}) g RETURNING id, service_number
         ), b AS (
            INSERT INTO badges (serial_number) SELECT 'FB' || service_number FROM m RETURNING id, serial_number
         )
         SELECT m.id::text AS member, b.id::text AS badge, b.serial_number AS serial
         FROM m JOIN b ON b.serial_number = 'FB' || m.service_number ORDER BY m.service_number"
    ));
    let mut serials = Vec::new();
    let mut member_ids = Vec::new();
    for row in &rows {
        let (member, badge) = (row["member"].as_str().unwrap(), row["badge"].as_str().unwrap());
        let assigned = sql(&format!("SELECT badge_assign('{badge}', 'member', '{member}', NULL, NULL, NULL)->>'outcome' AS o"));
        assert_eq!(assigned[0]["o"], "OK", "assigning {badge}");
        serials.push(row["serial"].as_str().unwrap().to_string());
        member_ids.push(member.to_string());
    }
    // Scans in member order: sort so serial i belongs to member i.
    let email = format!("fault-{}@faults.test", label.to_lowercase());
    let user = sql(&format!(
        "INSERT INTO users (email, display_name, password_hash, role) VALUES ('{email}', 'Fault admin', 'unused', 'admin') RETURNING id::text AS id"
    ))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let session = sql("SELECT gen_random_uuid()::text AS id")[0]["id"].as_str().unwrap().to_string();
    let admin_token = sentinel_auth::session_token::issue(TEST_JWT_SECRET, &session, &user, sentinel_auth::session_token::SessionKind::Password).unwrap();
    sql(&format!(
        "INSERT INTO sessions (id, user_id, token_hash, kind, expires_at) VALUES ('{session}', '{user}', '{}', 'password', now() + interval '1 day') RETURNING id",
        sentinel_auth::secret_hash(&admin_token)
    ));
    let key = sentinel_auth::api_key::generate();
    sql(&format!(
        "INSERT INTO api_keys (name, kind, kiosk_id, key_hash, key_prefix) VALUES ('fault kiosk', 'kiosk', 'fault-{label}', '{}', '{}') RETURNING id",
        key.key_hash, key.key_prefix
    ));
    People { admin_token, kiosk_key: key.key, serials, member_ids }
}

fn scan(base: &str, key: &str, serial: &str) -> Resp {
    request("POST", &format!("{base}/api/checkins/scan"), &[("x-api-key", key)], Some(&json!({ "serialNumber": serial })))
}

/// A relay replica on the stack's servers, in this process.
fn relay_on(stack: &IsolatedStack) -> RunningRelay {
    let mut config = RelayConfig::new(stack.database_url(), stack.redis_url(), TEST_JWT_SECRET);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.metrics_listen = "127.0.0.1:0".parse().unwrap();
    config.limits.connections_per_ip_per_minute = 100_000;
    config.limits.jobs_interval = None;
    block_on(sentinel_relay::start(config)).expect("starting a relay")
}

/// `checkin:new` events of `client` until `want` have arrived or `timeout` passed; their member ids and
/// stream ids, in arrival order.
async fn checkins(client: &mut Client, want: usize, timeout: Duration) -> Vec<(String, String)> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while seen.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match client.next_frame(left).await {
            Some(Frame::Json(v)) if v["type"] == "event" && v["event"] == "checkin:new" => {
                seen.push((v["data"]["memberId"].as_str().unwrap_or_default().to_string(), v["id"].as_str().unwrap_or_default().to_string()));
            }
            Some(Frame::Json(_)) => {}
            _ => break,
        }
    }
    seen
}

/// A dashboard that reconnects to `ws` and subscribes to `checkins` with `since`: every frame up to and
/// including `recovered`.
async fn resume(ws: String, token: String, since: String) -> Vec<Value> {
    let mut c = connect(&ws, &token).await;
    c.send(json!({ "type": "subscribe", "channel": "checkins", "since": since })).await;
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while let Some(Frame::Json(v)) = c.next_frame(deadline.saturating_duration_since(Instant::now())).await {
        let done = v["type"] == "recovered";
        frames.push(v);
        if done {
            break;
        }
    }
    frames
}

#[test]
fn a_redis_outage_under_scans_loses_no_event_and_keeps_their_order() {
    let stack = sentinel_tests::isolated_stack_with_durable_redis().expect("isolated stack");
    let base = stack.base_url().to_string();
    let p = people(&|q| stack.sql(q), "RDS", 10);
    let relay = relay_on(&stack);
    let ws = format!("ws://{}/ws", relay.addr());

    let (token, ws_live, ws_away) = (p.admin_token.clone(), ws.clone(), ws.clone());
    let mut live = block_on(async move {
        let mut c = connect(&ws_live, &token).await;
        c.subscribe("checkins", None).await;
        c
    });
    let token = p.admin_token.clone();
    let mut away = block_on(async move {
        let mut c = connect(&ws_away, &token).await;
        c.subscribe("checkins", None).await;
        c
    });

    // Before the outage: one scan, seen by both dashboards.
    assert_eq!(scan(&base, &p.kiosk_key, &p.serials[0]).status, 201);
    let (first_live, first_away) = block_on(async move {
        let a = checkins(&mut live, 1, Duration::from_secs(10)).await;
        let b = checkins(&mut away, 1, Duration::from_secs(10)).await;
        ((a, live), (b, away))
    });
    let (seen, mut live) = first_live;
    let (seen_away, away) = first_away;
    assert_eq!(seen.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), vec![p.member_ids[0].as_str()]);
    let resume_from = seen_away[0].1.clone();
    drop(away); // this dashboard is away during the outage

    // About ten seconds without Redis, scanning all the while: every scan is stored and answered.
    stack.stop_redis();
    let outage = Instant::now();
    for serial in &p.serials[1..] {
        let r = scan(&base, &p.kiosk_key, serial);
        assert_eq!(r.status, 201, "a scan while Redis is down: {}", r.text);
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(outage.elapsed() >= Duration::from_secs(9));
    let waiting = stack.sql("SELECT count(*) AS n FROM event_outbox WHERE channel = 'checkins'")[0]["n"].as_i64().unwrap();
    assert_eq!(waiting, 9, "the outage's events wait in the outbox");
    stack.start_redis();
    // The publisher appends the waiting rows once Redis is back.
    sentinel_tests::wait_for_outbox_at(stack.database_url());

    // The connected dashboard gets every event of the window, in scan order, once each.
    let expected: Vec<String> = p.member_ids[1..].to_vec();
    let (got, mut live) = block_on(async move {
        let got = checkins(&mut live, 9, Duration::from_secs(30)).await;
        (got, live)
    });
    assert_eq!(got.iter().map(|s| s.0.clone()).collect::<Vec<_>>(), expected, "events after the outage, in order");
    let extra = block_on(async move { checkins(&mut live, 1, Duration::from_secs(2)).await });
    assert!(extra.is_empty(), "an event delivered twice: {extra:?}");

    // The dashboard that was away resumes with `since`: the missed events, in order, and a complete replay.
    let token = p.admin_token.clone();
    let frames = block_on(resume(ws, token, resume_from));
    let replayed: Vec<String> =
        frames.iter().filter(|v| v["event"] == "checkin:new").map(|v| v["data"]["memberId"].as_str().unwrap().to_string()).collect();
    assert_eq!(replayed, expected, "replay after the outage: {frames:?}");
    assert_eq!(frames.last().map(|v| v["complete"].clone()), Some(json!(true)), "{frames:?}");
    block_on(relay.shutdown());
}

#[test]
fn a_postgres_outage_answers_json_503s_and_heals_without_restarts() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    let base = stack.base_url().to_string();
    let p = people(&|q| stack.sql(q), "PGO", 2);
    let relay = relay_on(&stack);
    let ws = format!("ws://{}/ws", relay.addr());
    assert_eq!(scan(&base, &p.kiosk_key, &p.serials[0]).status, 201);

    stack.stop_postgres();
    let bearer = format!("Bearer {}", p.admin_token);
    let calls: Vec<(&str, String, Vec<(&str, &str)>, Option<Value>)> = vec![
        ("POST", format!("{base}/api/checkins/scan"), vec![("x-api-key", p.kiosk_key.as_str())], Some(json!({ "serialNumber": p.serials[1] }))),
        ("GET", format!("{base}/api/members?limit=5"), vec![("authorization", bearer.as_str())], None),
        ("GET", format!("{base}/api/checkins/presence"), vec![("authorization", bearer.as_str())], None),
        ("POST", format!("{base}/api/auth/login"), vec![], Some(json!({ "email": "nobody@faults.test", "password": "whatever-long-enough" }))),
        ("GET", format!("{base}/api/security-alerts/active"), vec![("authorization", bearer.as_str())], None),
    ];
    for (method, url, headers, body) in &calls {
        let started = Instant::now();
        let r = request(method, url, headers, body.as_ref());
        assert_eq!(r.status, 503, "{method} {url} with PostgreSQL down: {}", r.text);
        assert!(r.body["error"].is_string() && r.body["message"].is_string(), "the JSON envelope: {}", r.text);
        assert!(!r.text.to_lowercase().contains("connection refused"), "internal error text leaked: {}", r.text);
        assert!(started.elapsed() < Duration::from_secs(30), "{method} {url} hung for {:?}", started.elapsed());
    }
    let token = p.admin_token.clone();
    let ws_down = ws.clone();
    let refused = block_on(async move {
        sentinel_tests::relay::try_connect(&ws_down, &[("authorization", &format!("Bearer {token}"))]).await.err().map(|r| r.status)
    });
    assert_eq!(refused, Some(503), "the relay cannot authenticate without PostgreSQL");

    stack.start_postgres();
    assert!(
        wait_until(Duration::from_secs(30), || scan(&base, &p.kiosk_key, &p.serials[1]).status == 201),
        "scans work again without restarting the host"
    );
    let r = request("GET", &format!("{base}/api/members?limit=5"), &[("authorization", bearer.as_str())], None);
    assert_eq!(r.status, 200, "{}", r.text);
    let token = p.admin_token.clone();
    let recovered = block_on(async move {
        let mut c = connect(&ws, &token).await;
        c.subscribe("checkins", None).await;
        true
    });
    assert!(recovered, "the relay accepts dashboards again without a restart");
    block_on(relay.shutdown());
}

/// A host or relay in a process of its own (tests/src/bin/fault_process.rs) and where it listens.
struct Process {
    child: Child,
    url: String,
}

impl Process {
    fn start(kind: &str, database_url: &str, redis_url: &str) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fault_process"))
            .args([kind, database_url, redis_url])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning fault_process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("reading the listening line");
        let url = line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
        Process { child, url }
    }

    fn kill(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_host_killed_mid_burst_leaves_no_half_written_checkin() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    let p = people(&|q| stack.sql(q), "KIL", 40);
    let mut host = Process::start("host", stack.database_url(), stack.redis_url());
    let base = host.url.clone();

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (stop, answered, base, key) = (stop.clone(), answered.clone(), base.clone(), p.kiosk_key.clone());
            let serials = p.serials.clone();
            std::thread::spawn(move || {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    match sentinel_tests::try_request_bytes("POST", &format!("{base}/api/checkins/scan"), &[("x-api-key", key.as_str()), ("content-type", "application/json")], Some(json!({ "serialNumber": serials[i % serials.len()] }).to_string().into_bytes())) {
                        Ok(_) => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => return,
                    }
                    i += 8;
                }
            })
        })
        .collect();
    assert!(wait_until(Duration::from_secs(60), || answered.load(Ordering::Relaxed) >= 40), "the burst got going");
    host.kill();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }

    let stored = stack.sql(&format!(
        "SELECT c.id::text AS id FROM checkins c JOIN members m ON m.id = c.member_id WHERE m.division_id = (SELECT id FROM divisions WHERE code = 'KIL')"
    ));
    assert!(!stored.is_empty(), "some scans committed before the kill");
    let unaudited = stack.sql(
        "SELECT count(*) AS n FROM checkins c WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.entity_type = 'checkin' AND a.entity_id = c.id)",
    );
    assert_eq!(unaudited[0]["n"], 0, "every stored check-in has its audit row");
    let drift = stack.sql(
        "SELECT count(*) AS n FROM ((SELECT member_id, direction, last_checkin_id FROM member_presence
                                     EXCEPT SELECT member_id, direction, last_checkin_id FROM member_presence_derived)
                                    UNION ALL
                                    (SELECT member_id, direction, last_checkin_id FROM member_presence_derived
                                     EXCEPT SELECT member_id, direction, last_checkin_id FROM member_presence)) d",
    );
    assert_eq!(drift[0]["n"], 0, "presence equals its derivation");

    // Every committed check-in's event reaches the stream (the outbox survived the kill), once.
    sentinel_tests::wait_for_outbox_at(stack.database_url());
    let redis_url = stack.redis_url().to_string();
    let streamed: Vec<String> = block_on(async move {
        let client = redis::Client::open(redis_url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE").arg("sentinel:rt:checkins").arg("-").arg("+").query_async(&mut conn).await.unwrap();
        reply
            .ids
            .into_iter()
            .filter_map(|e| serde_json::from_str::<Value>(&e.get::<String>("data").unwrap_or_default()).ok())
            .filter_map(|d| d["id"].as_str().map(str::to_string))
            .collect()
    });
    let stored: HashSet<String> = stored.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    let streamed_set: HashSet<String> = streamed.iter().cloned().collect();
    assert_eq!(streamed.len(), streamed_set.len(), "no event appended twice");
    assert_eq!(streamed_set, stored, "one checkin:new per stored check-in");

    // A new host serves the same data at once.
    let again = Process::start("host", stack.database_url(), stack.redis_url());
    let r = scan(&again.url, &p.kiosk_key, &p.serials[0]);
    assert!(r.status == 201 || r.status == 409, "{}", r.text);
}

#[test]
fn a_killed_relay_replica_s_dashboard_resumes_on_another_and_misses_nothing() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    let base = stack.base_url().to_string();
    let p = people(&|q| stack.sql(q), "RLY", 4);
    let mut doomed = Process::start("relay", stack.database_url(), stack.redis_url());
    let survivor = relay_on(&stack);
    let survivor_ws = format!("ws://{}/ws", survivor.addr());

    let (token, doomed_ws) = (p.admin_token.clone(), doomed.url.clone());
    let mut client = block_on(async move {
        let mut c = connect(&doomed_ws, &token).await;
        c.subscribe("checkins", None).await;
        c
    });
    assert_eq!(scan(&base, &p.kiosk_key, &p.serials[0]).status, 201);
    let (seen, client) = block_on(async move {
        let seen = checkins(&mut client, 1, Duration::from_secs(10)).await;
        (seen, client)
    });
    assert_eq!(seen.len(), 1, "the first event arrived on the doomed replica");
    let last_id = seen[0].1.clone();

    doomed.kill();
    let closed = block_on(async move {
        let mut client = client;
        client.next_frame(Duration::from_secs(10)).await
    });
    assert!(!matches!(closed, Some(Frame::Json(_))), "the dashboard noticed the replica died: {closed:?}");
    for serial in &p.serials[1..] {
        assert_eq!(scan(&base, &p.kiosk_key, serial).status, 201);
    }
    sentinel_tests::wait_for_outbox_at(stack.database_url());

    let token = p.admin_token.clone();
    let frames = block_on(resume(survivor_ws, token, last_id));
    let replayed: Vec<&str> = frames.iter().filter(|v| v["event"] == "checkin:new").map(|v| v["data"]["memberId"].as_str().unwrap()).collect();
    let expected: Vec<&str> = p.member_ids[1..].iter().map(String::as_str).collect();
    assert_eq!(replayed, expected, "the missed events, in order: {frames:?}");
    assert_eq!(frames.last().map(|v| v["complete"].clone()), Some(json!(true)));
    block_on(survivor.shutdown());
}
