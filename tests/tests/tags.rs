//! Tags through HTTP and WebSocket against the real stack: the Lockup responsibility — its holder,
//! the transfer rules in order, badge proof at kiosks, one holder under concurrency, the `LOCKUP_HELD` scan
//! refusal — and the general member tags with the protected Lockup tag. The Lockup holder is one
//! row of the process's database: every test that changes it holds `duty::serial()`.

#[path = "support/kiosk.rs"]
mod kiosk;
#[path = "support/duty.rs"]
mod duty;

use std::time::Duration;

use duty::*;
use kiosk::*;
use sentinel_tests::fixtures::{admin, as_key, as_role, user};
use sentinel_tests::relay::{connect, session, start_relay, ws_url};
use sentinel_tests::{app, request, sql, Resp};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

fn active_member() -> String {
    member_in(&division(), "active")
}

fn transfer_as(role: &str, body: &Value) -> Resp {
    as_role(role, "POST", "/api/tags/lockup/transfer", Some(body))
}

fn holder() -> Value {
    let r = as_role("quartermaster", "GET", "/api/tags/lockup/holder", None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["holder"].clone()
}

fn holder_json(member: &str) -> Value {
    sql(&format!("SELECT lockup_holder_json(m) AS h FROM members m WHERE id = '{member}'"))[0]["h"].clone()
}

fn transfers_to(member: &str) -> Vec<Value> {
    stream("lockup").into_iter().filter(|(e, d)| e == "lockup:transferred" && d["toMemberId"] == json!(member)).map(|(_, d)| d).collect()
}

fn lockup_tag() -> String {
    sql("SELECT id::text AS id FROM tags WHERE name = 'Lockup'")[0]["id"].as_str().unwrap().to_string()
}

fn assert_error(r: &Resp, status: u16, code: &str, context: &str) {
    assert_eq!((r.status, r.body["error"].as_str()), (status, Some(code)), "{context}: {}", r.text);
}

#[test]
fn the_holder_is_readable_by_staff_kiosks_and_displays() {
    let _serial = serial();
    clear_duty();
    for (who, r) in [
        ("qm", as_role("quartermaster", "GET", "/api/tags/lockup/holder", None)),
        ("kiosk", as_key("kiosk", "GET", "/api/tags/lockup/holder", None)),
        ("display", as_key("display", "GET", "/api/tags/lockup/holder", None)),
    ] {
        assert_eq!((r.status, r.body.clone()), (200, json!({ "holder": null })), "{who}");
    }
    let m = active_member();
    name_member(&m, "CPO2", "Hal", "Holder");
    set_lockup_holder(&m);
    assert_eq!(holder(), json!({ "id": m, "rank": "CPO2", "firstName": "Hal", "lastName": "Holder" }));
    assert_eq!(as_key("display", "GET", "/api/tags/lockup/holder", None).body["holder"]["id"], json!(m));
}

#[test]
fn transfer_rules_apply_in_order() {
    let _serial = serial();
    clear_duty();
    let dw = user("duty_watch");
    // Rule 2: the target must exist (404 with its id), even when nobody holds the tag.
    let r = transfer_as("duty_watch", &json!({ "toMemberId": ZERO }));
    assert_error(&r, 404, "NOT_FOUND", "unknown target");
    assert!(r.body["message"].as_str().unwrap().contains(ZERO), "{}", r.text);
    // Rule 3: it must be active.
    let inactive = member_in(&division(), "inactive");
    assert_error(&transfer_as("duty_watch", &json!({ "toMemberId": inactive })), 400, "MEMBER_NOT_ACTIVE", "inactive target");
    assert!(lockup_holders().is_empty(), "nothing changed");
    for (body, what) in [
        (json!({}), "missing toMemberId"),
        (json!({ "toMemberId": "nope" }), "malformed target"),
        (json!({ "toMemberId": ZERO, "performedByType": "robot" }), "bad performedByType"),
        (json!({ "toMemberId": ZERO, "performedBy": "nope" }), "bad performedBy"),
        (json!({ "toMemberId": ZERO, "notes": "n".repeat(2001) }), "long notes"),
        (json!({ "toMemberId": ZERO, "reason": "x" }), "unknown field"),
    ] {
        assert_validation_error(&transfer_as("duty_watch", &body), what);
    }

    // Rule 5: nobody holds it — granted. performedBy/performedByType come from the caller, not the body.
    let (a, b) = (active_member(), active_member());
    name_member(&a, "S1", "Ann", "First");
    name_member(&b, "S2", "Ben", "Second");
    let before = responsibility_count();
    let r = transfer_as("duty_watch", &json!({ "toMemberId": a, "performedBy": ZERO, "performedByType": "system", "notes": "Evening" }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({ "success": true, "previousHolder": null, "newHolder": holder_json(&a) }));
    assert_eq!(holder(), holder_json(&a));
    assert_eq!(
        responsibility_rows("Lockup", &a),
        vec![json!({ "action": "assigned", "from": null, "to": a, "by": dw.id, "by_type": "admin", "notes": "Evening" })]
    );
    let tag = lockup_tag();
    let audit = sql(&format!(
        "SELECT admin_user_id::text AS by, details->>'toMemberId' AS to, details->>'reason' AS reason FROM audit_log WHERE action = 'lockup_transfer' AND entity_id = '{tag}' AND details->>'toMemberId' = '{a}'"
    ));
    assert_eq!(audit, vec![json!({ "by": dw.id, "to": a, "reason": "granted" })]);
    let pushed = transfers_to(&a);
    assert_eq!(pushed.len(), 1);
    assert_eq!(
        pushed[0],
        json!({ "transferId": pushed[0]["transferId"], "fromMemberId": null, "fromMemberName": null, "toMemberId": a, "toMemberName": "Ann First",
                "reason": "granted", "timestamp": pushed[0]["timestamp"] })
    );

    // Rule 4: the target holds it already — 200, nothing written, nothing pushed.
    let r = transfer_as("executive", &json!({ "toMemberId": a }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({ "success": true, "previousHolder": holder_json(&a), "newHolder": holder_json(&a) }));
    assert_eq!(responsibility_count(), before + 1);
    assert_eq!(transfers_to(&a).len(), 1);
    assert_eq!(sql(&format!("SELECT count(*) AS n FROM audit_log WHERE action = 'lockup_transfer' AND details->>'toMemberId' = '{a}'"))[0]["n"], 1);

    // Rule 6: transfer from the holder.
    let r = transfer_as("duty_watch", &json!({ "toMemberId": b }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({ "success": true, "previousHolder": holder_json(&a), "newHolder": holder_json(&b) }));
    assert_eq!(lockup_holders(), vec![b.clone()]);
    assert_eq!(
        responsibility_rows("Lockup", &b),
        vec![json!({ "action": "transferred", "from": a, "to": b, "by": dw.id, "by_type": "admin", "notes": null })]
    );
    let pushed = transfers_to(&b);
    assert_eq!((pushed.len(), pushed[0]["reason"].as_str(), pushed[0]["fromMemberName"].as_str()), (1, Some("manual"), Some("Ann First")));
    assert_eq!(as_role("quartermaster", "POST", "/api/tags/lockup/transfer", Some(&json!({ "toMemberId": a }))).status, 403, "DW+");
}

#[test]
fn a_kiosk_transfer_needs_the_current_holders_badge() {
    let _serial = serial();
    clear_duty();
    let (a, b) = (kiosk::holder(), kiosk::holder());
    let (_, key) = kiosk();
    let transfer = |body: &Value| with_key(&key, "POST", "/api/tags/lockup/transfer", Some(body));
    // Nobody holds it: the target proves themselves.
    assert_error(&transfer(&json!({ "toMemberId": a.member })), 403, "BADGE_PROOF_REQUIRED", "no proof");
    assert_error(&transfer(&json!({ "toMemberId": a.member, "actorBadgeSerial": b.serial })), 403, "BADGE_PROOF_REQUIRED", "wrong badge");
    let r = transfer(&json!({ "toMemberId": a.member, "actorBadgeSerial": a.serial }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(responsibility_rows("Lockup", &a.member)[0]["by"], json!(a.member));
    assert_eq!(responsibility_rows("Lockup", &a.member)[0]["by_type"], "member");
    // Held by a: only a's badge moves it, whoever the target is.
    assert_error(&transfer(&json!({ "toMemberId": b.member, "actorBadgeSerial": b.serial })), 403, "BADGE_PROOF_REQUIRED", "the target's badge");
    assert_error(&transfer(&json!({ "toMemberId": b.member })), 403, "BADGE_PROOF_REQUIRED", "no proof");
    assert_eq!(lockup_holders(), vec![a.member.clone()]);
    let r = transfer(&json!({ "toMemberId": b.member, "actorBadgeSerial": a.serial.to_lowercase() }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(lockup_holders(), vec![b.member.clone()]);
    assert_eq!(
        responsibility_rows("Lockup", &b.member),
        vec![json!({ "action": "transferred", "from": a.member, "to": b.member, "by": a.member, "by_type": "member", "notes": null })]
    );
    let audit = sql(&format!("SELECT admin_user_id, details ? 'apiKeyId' AS by_key FROM audit_log WHERE action = 'lockup_transfer' AND details->>'toMemberId' = '{}'", b.member));
    assert_eq!(audit, vec![json!({ "admin_user_id": null, "by_key": true })]);
    // A kiosk without any serial is refused first; with one, rules 2 and 3 come before checking it.
    assert_error(&transfer(&json!({ "toMemberId": ZERO, "actorBadgeSerial": b.serial })), 404, "NOT_FOUND", "unknown target before proof");
    let inactive = holder_in(None, "inactive");
    let r = transfer(&json!({ "toMemberId": inactive.member, "actorBadgeSerial": inactive.serial }));
    assert_error(&r, 400, "MEMBER_NOT_ACTIVE", "inactive target before proof");
}

#[test]
fn concurrent_transfers_leave_exactly_one_holder() {
    let _serial = serial();
    for round in 0..3 {
        clear_duty();
        let members: Vec<String> = (0..8).map(|_| active_member()).collect();
        let before = responsibility_count();
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = members.iter().map(|m| s.spawn(move || transfer_as("duty_watch", &json!({ "toMemberId": m })).status)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(statuses.iter().all(|s| *s == 200), "round {round}: {statuses:?}");
        let holders = lockup_holders();
        assert_eq!(holders.len(), 1, "round {round}: {holders:?}");
        // Each call moved the tag once, in some order: one grant then seven transfers, a chain ending at the holder.
        let chain = sql(&format!(
            "SELECT action, from_member_id::text AS from, to_member_id::text AS to FROM responsibility_audit_log
             WHERE tag_name = 'Lockup' AND to_member_id = ANY(ARRAY[{}]::uuid[]) ORDER BY \"timestamp\", id",
            members.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(",")
        ));
        assert_eq!(responsibility_count(), before + 8);
        assert_eq!(chain.iter().filter(|r| r["action"] == "assigned").count(), 1, "{chain:?}");
        let mut seen: Vec<&str> = chain.iter().map(|r| r["to"].as_str().unwrap()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 8);
        assert!(chain.iter().any(|r| r["to"] == json!(holders[0])));
    }
}

#[test]
fn the_lockup_holder_is_still_refused_at_the_scan_until_it_is_transferred() {
    let _serial = serial();
    clear_duty();
    let (h, other) = (kiosk::holder(), kiosk::holder());
    let (_, key) = kiosk();
    assert_eq!(transfer_as("duty_watch", &json!({ "toMemberId": h.member })).status, 200);
    assert_eq!(scan(&key, &h.serial, None).status, 201);
    let r = scan(&key, &h.serial, Some(&at(5_000)));
    assert_error(&r, 403, "LOCKUP_HELD", "holder scanning out");
    assert_eq!(r.body["details"]["holdsLockup"], true);
    // Hand the tag over at the kiosk with the holder's badge; now the scan out works.
    let r = with_key(&key, "POST", "/api/tags/lockup/transfer", Some(&json!({ "toMemberId": other.member, "actorBadgeSerial": h.serial })));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = scan(&key, &h.serial, Some(&at(10_000)));
    assert_eq!((r.status, r.body["direction"].as_str()), (201, Some("out")), "{}", r.text);
    // The DDS holds Lockup and so is refused the same way.
    let dds = kiosk::holder();
    assert_eq!(as_role("duty_watch", "POST", &format!("/api/dds/accept/{}", dds.member), None).status, 200);
    assert_eq!(scan(&key, &dds.serial, None).status, 201);
    assert_error(&scan(&key, &dds.serial, Some(&at(5_000))), 403, "LOCKUP_HELD", "the DDS scanning out");
    clear_duty();
}

#[test]
fn general_tags_list_add_and_remove_but_never_the_lockup_tag() {
    let r = as_role("quartermaster", "GET", "/api/tags", None);
    assert_eq!(r.status, 200, "{}", r.text);
    let tags = r.body["tags"].as_array().unwrap();
    let lockup = tags.iter().find(|t| t["name"] == "Lockup").unwrap();
    assert_eq!((lockup["isSystem"].as_bool(), lockup["singleHolder"].as_bool(), lockup["displayOrder"].as_i64()), (Some(true), Some(true), Some(0)));
    let fts = tags.iter().find(|t| t["name"] == "FTS").unwrap().clone();
    assert_eq!(fts["isSystem"], false);
    let orders: Vec<i64> = tags.iter().map(|t| t["displayOrder"].as_i64().unwrap()).collect();
    assert!(orders.windows(2).all(|w| w[0] <= w[1]), "by display order: {orders:?}");
    let fts_id = fts["id"].as_str().unwrap().to_string();

    let member = active_member();
    let path = format!("/api/members/{member}/tags");
    assert_eq!(as_role("quartermaster", "GET", &path, None).body, json!({ "memberId": member, "tags": [] }));
    assert_error(&as_role("quartermaster", "GET", &format!("/api/members/{ZERO}/tags"), None), 404, "NOT_FOUND", "unknown member");
    assert_validation_error(&as_role("quartermaster", "GET", "/api/members/nope/tags", None), "malformed member id");
    // The members component still serves the member itself.
    assert_eq!(admin("GET", &format!("/api/members/{member}"), None).body["id"], json!(member));

    let adm = user("admin");
    let r = admin("POST", &path, Some(&json!({ "tagId": fts_id })));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["tag"]["id"].as_str(), r.body["tag"]["name"].as_str()), (Some(fts_id.as_str()), Some("FTS")));
    assert!(r.body["tag"]["assignedAt"].as_str().unwrap().ends_with('Z'));
    let r = admin("POST", &path, Some(&json!({ "tagId": fts_id.to_uppercase() })));
    assert_eq!(r.status, 200, "already held: {}", r.text);
    let audit = sql(&format!("SELECT action, admin_user_id::text AS by, details->>'tagName' AS tag FROM audit_log WHERE entity_type = 'member' AND entity_id = '{member}' ORDER BY created_at"));
    assert_eq!(audit, vec![json!({ "action": "member_tag_add", "by": adm.id, "tag": "FTS" })]);
    let listed = as_role("quartermaster", "GET", &path, None).body;
    assert_eq!(listed["tags"].as_array().unwrap().len(), 1);
    assert_eq!(listed["tags"][0]["name"], "FTS");

    // The Lockup tag changes holders only through its own flow.
    let lockup_id = lockup["id"].as_str().unwrap().to_string();
    let r = admin("POST", &path, Some(&json!({ "tagId": lockup_id })));
    assert_error(&r, 409, "PROTECTED_TAG", "adding Lockup");
    {
        let _serial = serial();
        set_lockup_holder(&member);
        assert_error(&admin("DELETE", &format!("{path}/{lockup_id}"), None), 409, "PROTECTED_TAG", "removing Lockup");
        assert_eq!(lockup_holders(), vec![member.clone()]);
        clear_duty();
    }
    for (body, what) in [(json!({}), "missing tagId"), (json!({ "tagId": "x" }), "malformed tagId"), (json!({ "tagId": fts_id, "x": 1 }), "unknown field")] {
        assert_validation_error(&admin("POST", &path, Some(&body)), what);
    }
    assert_error(&admin("POST", &path, Some(&json!({ "tagId": ZERO }))), 404, "NOT_FOUND", "unknown tag");
    assert_error(&admin("POST", &format!("/api/members/{ZERO}/tags"), Some(&json!({ "tagId": fts_id }))), 404, "NOT_FOUND", "unknown member");
    assert_eq!(as_role("executive", "POST", &path, Some(&json!({ "tagId": fts_id }))).status, 403, "ADM+");

    // A single-holder ordinary tag refuses a second holder.
    let code = unique("solo");
    let solo = sql(&format!("INSERT INTO tags (name, color, single_holder) VALUES ('{code}', '#000000', true) RETURNING id::text AS id"))[0]["id"].as_str().unwrap().to_string();
    assert_eq!(admin("POST", &path, Some(&json!({ "tagId": solo }))).status, 201);
    assert_error(&admin("POST", &format!("/api/members/{}/tags", active_member()), Some(&json!({ "tagId": solo }))), 409, "CONFLICT", "second holder");

    // Removal.
    let bi = sql("SELECT id::text AS id FROM tags WHERE name = 'BMQ'")[0]["id"].as_str().unwrap().to_string();
    assert_error(&admin("DELETE", &format!("{path}/{bi}"), None), 404, "NOT_FOUND", "not held");
    assert_error(&admin("DELETE", &format!("{path}/{ZERO}"), None), 404, "NOT_FOUND", "unknown tag");
    assert_validation_error(&admin("DELETE", &format!("{path}/nope"), None), "malformed tag id");
    let r = admin("DELETE", &format!("{path}/{fts_id}"), None);
    assert_eq!((r.status, r.body["success"].clone()), (200, json!(true)), "{}", r.text);
    let names: Vec<String> = as_role("quartermaster", "GET", &path, None).body["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, vec![code]);
    assert_eq!(audit_actions("member", &member), vec!["member_tag_add", "member_tag_add", "member_tag_remove"]);
    assert_error(&admin("DELETE", &format!("{path}/{fts_id}"), None), 404, "NOT_FOUND", "removed already");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_reach_websocket_subscribers() {
    // Held across awaits on the test's own thread (tokio::test does not move its body between threads).
    let _serial = serial();
    clear_duty();
    let app = app();
    let (a, b) = tokio::task::spawn_blocking(|| {
        let (a, b) = (active_member(), active_member());
        name_member(&a, "S1", "Wyn", "Before");
        name_member(&b, "S1", "Zed", "After");
        set_lockup_holder(&a);
        (a, b)
    })
    .await
    .unwrap();
    let relay = start_relay(|_| {}).await;
    let staff = session("duty_watch");
    let mut client = connect(&ws_url(&relay), &staff.token).await;
    client.subscribe("lockup", None).await;
    let current = client.until(WAIT, |v| v["event"] == "lockup:current").await;
    assert_eq!(current["data"]["holder"]["id"], json!(a));

    let (url, token, body) = (format!("{}/api/tags/lockup/transfer", app.base_url), staff.token.clone(), json!({ "toMemberId": b }));
    let r = tokio::task::spawn_blocking(move || request("POST", &url, &[("authorization", &format!("Bearer {token}"))], Some(&body))).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let bb = b.clone();
    let moved = client.until(WAIT, |v| v["event"] == "lockup:transferred" && v["data"]["toMemberId"] == bb.as_str()).await;
    assert_eq!(moved["channel"], "lockup");
    let d = &moved["data"];
    assert_eq!(
        (d["fromMemberId"].as_str(), d["fromMemberName"].as_str(), d["toMemberName"].as_str(), d["reason"].as_str()),
        (Some(a.as_str()), Some("Wyn Before"), Some("Zed After"), Some("manual"))
    );
    assert!(d["transferId"].is_string() && d["timestamp"].as_str().unwrap().ends_with('Z'));
    relay.shutdown().await;
}
