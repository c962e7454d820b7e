//! Muster roll calls through HTTP and WebSocket against the real stack. One muster is open at a time in
//! the shared database, so these tests run one at a time.

#[path = "support/kiosk.rs"]
mod kiosk;

use std::sync::Mutex;
use std::time::Duration;

use kiosk::*;
use sentinel_tests::fixtures::{admin, as_key, as_role};
use sentinel_tests::relay::{api_key, connect, session, start_relay, ws_url};
use sentinel_tests::{sql, sql_exec};
use serde_json::{json, Value};

static ROLL_CALL: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    let guard = ROLL_CALL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // A muster a failed test left open would refuse the next start.
    sql_exec("UPDATE musters SET status = 'closed', closed_at = now() WHERE status = 'open'");
    guard
}

fn person<'a>(muster: &'a Value, id: &str) -> &'a Value {
    muster["people"].as_array().unwrap().iter().find(|p| p["personId"] == json!(id)).unwrap_or_else(|| panic!("{id} on the roll: {muster}"))
}

#[test]
fn a_muster_accounts_for_everyone_inside_by_hand_and_by_badge() {
    let _guard = one_at_a_time();
    let (_, key) = kiosk();
    let scanner = holder();
    assert_eq!(scan(&key, &scanner.serial, Some(&at(-600_000))).status, 201);
    let guest = admin("POST", "/api/visitors", Some(&json!({ "name": "Visiting Vera", "visitType": "guest", "kioskId": "front-desk" })));
    assert_eq!(guest.status, 201, "{}", guest.text);
    let guest = guest.body["id"].as_str().unwrap().to_string();
    let (pass, pass_serial) = badge("active");
    let contractor = admin("POST", "/api/visitors", Some(&json!({ "name": "Contractor Cole", "visitType": "contractor", "kioskId": "front-desk", "temporaryBadgeId": pass })));
    assert_eq!(contractor.status, 201, "{}", contractor.text);
    let contractor = contractor.body["id"].as_str().unwrap().to_string();
    let outside = holder();

    let r = as_role("duty_watch", "POST", "/api/muster", Some(&json!({ "reason": "Fire alarm, drill hall" })));
    assert_eq!(r.status, 201, "{}", r.text);
    let muster = r.body.clone();
    let id = muster["id"].as_str().unwrap().to_string();
    assert_eq!((muster["status"].as_str(), muster["reason"].as_str()), (Some("open"), Some("Fire alarm, drill hall")));
    let present = as_role("quartermaster", "GET", "/api/checkins/presence", None).body;
    let expected = present["totalPresent"].as_i64().unwrap() + present["visitorsPresent"].as_i64().unwrap();
    assert_eq!((muster["total"].as_i64(), muster["accounted"].as_i64(), muster["missing"].as_i64()), (Some(expected), Some(0), Some(expected)));
    assert_eq!(person(&muster, &scanner.member)["type"], "member");
    assert_eq!(person(&muster, &guest)["type"], "visitor");
    assert!(muster["people"].as_array().unwrap().iter().all(|p| p["personId"] != json!(outside.member)), "only who is inside");
    let r = as_role("duty_watch", "POST", "/api/muster", Some(&json!({})));
    assert_eq!((r.status, r.body["error"].as_str(), r.body["details"]["musterId"].as_str()), (409, Some("MUSTER_IN_PROGRESS"), Some(id.as_str())));

    // Staff account for the visitor; doing it again keeps the first time.
    let account = format!("/api/muster/{id}/account/{guest}");
    let r = as_role("duty_watch", "POST", &account, None);
    assert_eq!((r.status, r.body["person"]["accounted"].clone(), r.body["person"]["accountedMethod"].as_str()), (200, json!(true), Some("manual")), "{}", r.text);
    let first = r.body["person"]["accountedAt"].clone();
    assert_eq!(as_role("duty_watch", "POST", &account, None).body["person"]["accountedAt"], first);
    let r = as_role("duty_watch", "POST", &format!("/api/muster/{id}/account/{}", outside.member), None);
    assert_eq!(r.status, 404, "not on the roll: {}", r.text);

    // The member scans their badge at the muster point's kiosk: accounted, and checked out.
    let r = scan(&key, &scanner.serial, None);
    assert_eq!((r.status, r.body["direction"].as_str()), (201, Some("out")), "{}", r.text);
    // A visitor's temporary badge checks nobody in, but accounts for the visitor.
    let r = scan(&key, &pass_serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_TYPE_NOT_SUPPORTED")), "{}", r.text);
    let current = as_key("display", "GET", "/api/muster/current", None);
    assert_eq!(current.status, 200, "{}", current.text);
    let me = person(&current.body["muster"], &scanner.member);
    assert_eq!((me["accounted"].clone(), me["accountedMethod"].as_str()), (json!(true), Some("scan")));
    assert_eq!(person(&current.body["muster"], &contractor)["accountedMethod"], "scan");
    assert_eq!(current.body["muster"]["accounted"].as_i64(), Some(3));
    let updates: Vec<Value> = stream("muster").into_iter().filter(|(e, d)| e == "muster:update" && d["musterId"] == json!(id)).map(|(_, d)| d).collect();
    let actions: Vec<&str> = updates.iter().map(|u| u["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["started", "accounted", "accounted", "accounted"], "a repeated mark pushes nothing");
    assert_eq!(updates[2]["person"]["personId"], json!(scanner.member));

    // The roll as CSV: a header and one line per person, missing people first.
    let csv = sentinel_tests::request("GET", &format!("/api/muster/{id}/roll.csv"), &[("authorization", &format!("Bearer {}", sentinel_tests::fixtures::user("duty_watch").token))], None);
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = csv.text.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], "type,name,rank,division,organization,checked_in_at,accounted,accounted_at,accounted_method");
    assert_eq!(lines.len() as i64, expected + 1);
    assert!(lines.iter().any(|l| l.starts_with("visitor,Visiting Vera,,,,") && l.contains(",true,") && l.ends_with(",manual")));
    if expected > 3 {
        assert!(lines[1].contains(",false,"), "missing people first: {}", lines[1]);
    }

    // Close: the roll is kept; nothing more can be marked.
    let r = as_role("duty_watch", "POST", &format!("/api/muster/{id}/close"), None);
    assert_eq!((r.status, r.body["status"].as_str(), r.body["missing"].as_i64()), (200, Some("closed"), Some(expected - 3)), "{}", r.text);
    assert_eq!(as_role("duty_watch", "POST", &format!("/api/muster/{id}/close"), None).status, 200, "closing again changes nothing");
    let r = as_role("duty_watch", "POST", &format!("/api/muster/{id}/account/{}", scanner.member), None);
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("MUSTER_CLOSED")));
    assert_eq!(as_key("display", "GET", "/api/muster/current", None).body, json!({ "muster": null }));
    assert_eq!(as_role("duty_watch", "GET", &format!("/api/muster/{id}"), None).body["status"], "closed");
    assert_eq!(as_role("duty_watch", "GET", "/api/muster/00000000-0000-0000-0000-000000000000", None).status, 404);
    let actions: Vec<String> = sql(&format!("SELECT action FROM audit_log WHERE entity_id = '{id}' ORDER BY created_at"))
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["muster_start", "muster_account", "muster_close"], "badge scans are audited as check-ins");

    // After the muster, scans are plain scans again.
    let r = scan(&key, &scanner.serial, Some(&at(3_000)));
    assert_eq!(r.status, 201);
    assert_eq!(sql(&format!("SELECT count(*) AS n FROM muster_people WHERE person_id = '{}' AND accounted_method = 'scan'", scanner.member))[0]["n"], 1);
}

#[test]
fn a_lockup_holder_blocked_from_checking_out_is_still_accounted() {
    let _guard = one_at_a_time();
    let (_, key) = kiosk();
    let keeper = holder();
    assert_eq!(scan(&key, &keeper.serial, Some(&at(-600_000))).status, 201);
    sql_exec(&format!(
        "DELETE FROM member_tags WHERE tag_id = (SELECT id FROM tags WHERE name = 'Lockup');
         INSERT INTO member_tags (member_id, tag_id) SELECT '{}', id FROM tags WHERE name = 'Lockup'",
        keeper.member
    ));
    let id = as_role("duty_watch", "POST", "/api/muster", None).body["id"].as_str().unwrap().to_string();
    let r = scan(&key, &keeper.serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("LOCKUP_HELD")), "{}", r.text);
    let roll = as_role("duty_watch", "GET", &format!("/api/muster/{id}"), None).body;
    assert_eq!(person(&roll, &keeper.member)["accountedMethod"], "scan");
    sql_exec(&format!("DELETE FROM member_tags WHERE member_id = '{}'", keeper.member));
    assert_eq!(as_role("duty_watch", "POST", &format!("/api/muster/{id}/close"), None).status, 200);
    assert_eq!(as_role("quartermaster", "POST", "/api/muster", None).status, 403, "starting is DW+");
}

#[tokio::test(flavor = "multi_thread")]
async fn displays_follow_the_muster_live() {
    let guard = ROLL_CALL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tokio::task::spawn_blocking(|| sql_exec("UPDATE musters SET status = 'closed', closed_at = now() WHERE status = 'open'")).await.unwrap();
    let relay = start_relay(|_| {}).await;
    let display = api_key("display");
    let mut board = connect(&ws_url(&relay), &display.key).await;
    board.subscribe("muster", None).await;
    let backfill = board.next_json().await;
    assert_eq!((backfill["event"].as_str(), backfill["data"].clone()), (Some("muster:current"), json!({ "muster": null })), "{backfill}");
    let started = tokio::task::spawn_blocking(|| as_role("duty_watch", "POST", "/api/muster", None)).await.unwrap();
    assert_eq!(started.status, 201);
    let id = started.body["id"].clone();
    let frame = board.until(Duration::from_secs(10), |v| v["event"] == "muster:update" && v["data"]["musterId"] == id).await;
    assert_eq!(frame["data"]["action"], "started");
    let mut quartermaster = connect(&ws_url(&relay), &session("quartermaster").token).await;
    quartermaster.send(json!({ "type": "subscribe", "channel": "muster" })).await;
    assert_eq!(quartermaster.next_json().await["data"]["code"], "FORBIDDEN");
    let closing = format!("/api/muster/{}/close", id.as_str().unwrap());
    tokio::task::spawn_blocking(move || as_role("duty_watch", "POST", &closing, None)).await.unwrap();
    let frame = board.until(Duration::from_secs(10), |v| v["event"] == "muster:update" && v["data"]["action"] == "closed").await;
    assert_eq!(frame["data"]["status"], "closed");
    relay.shutdown().await;
    drop(guard);
}
