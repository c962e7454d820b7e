//! Check-ins, scans, offline sync and presence through HTTP against the real host, components,
//! PostgreSQL and Redis — including parallel scans and repeated sync batches.

#[path = "support/kiosk.rs"]
mod kiosk;

use kiosk::*;
use sentinel_tests::fixtures::{admin, as_key, as_role, user};
use sentinel_tests::{request, request_bytes, sql};
use serde_json::{json, Value};

fn checkins_of(member: &str) -> Vec<Value> {
    sql(&format!("SELECT id::text AS id, direction, kiosk_id, method, synced, flagged_for_review, flag_reason, client_ref FROM checkins WHERE member_id = '{member}' ORDER BY \"timestamp\", created_at"))
}

// ------------------------------------------------------------------ scan

#[test]
fn kiosk_scans_alternate_in_and_out_and_update_presence() {
    let h = holder();
    let (kiosk_id, key) = kiosk();
    let r = scan(&key, &h.serial.to_lowercase(), None);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["direction"], "in");
    assert_eq!(r.body["checkin"]["direction"], "in");
    assert_eq!(r.body["checkin"]["kioskId"], json!(kiosk_id));
    assert_eq!(r.body["checkin"]["memberId"], json!(h.member));
    assert_eq!(r.body["checkin"]["badgeId"], json!(h.badge));
    assert_eq!(r.body["checkin"]["method"], "badge");
    assert_eq!(r.body["checkin"]["synced"], true);
    assert_eq!(r.body["checkin"]["flaggedForReview"], false);
    assert_eq!(r.body["member"]["id"], json!(h.member));
    assert_eq!(r.body["member"]["rank"], "S1");
    assert!(r.body["member"]["division"].as_str().unwrap().starts_with("Division"));
    assert!(r.body.get("warning").is_none());
    assert_eq!(division_presence(&h.division), (1, 1));

    let r = scan(&key, &h.serial, Some(&at(3_000)));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["direction"], "out");
    assert_eq!(division_presence(&h.division), (0, 1));

    let stored = checkins_of(&h.member);
    assert_eq!(stored.iter().map(|c| c["direction"].as_str().unwrap()).collect::<Vec<_>>(), ["in", "out"]);
    let last_used = sql(&format!("SELECT last_used IS NOT NULL AS used FROM badges WHERE id = '{}'", h.badge));
    assert_eq!(last_used[0]["used"], true);
    // Each scan is audited with its method.
    let audits = count(&format!(
        "SELECT count(*) AS n FROM audit_log WHERE action = 'checkin_create' AND details->>'method' = 'scan' AND details->>'memberId' = '{}'",
        h.member
    ));
    assert_eq!(audits, 2);
}

#[test]
fn a_repeat_scan_within_two_seconds_is_409_and_stores_nothing() {
    let h = holder();
    let (_, key) = kiosk();
    assert_eq!(scan(&key, &h.serial, None).status, 201);
    let r = scan(&key, &h.serial, None);
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["error"], "DUPLICATE_SCAN");
    // Either side of the latest check-in counts.
    let r = scan(&key, &h.serial, Some(&at(-1_500)));
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(checkins_of(&h.member).len(), 1);
}

#[test]
fn unknown_badges_are_404_and_raise_one_alert_per_five_minutes() {
    let (kiosk_id, key) = kiosk();
    let serial = unique("UNKNOWN");
    let r = scan(&key, &serial, None);
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["error"], "BADGE_NOT_FOUND");
    assert!(r.body["message"].as_str().unwrap().contains(&serial.to_uppercase()));
    let r = scan(&key, &serial, None);
    assert_eq!(r.status, 404);
    let alerts = sql(&format!(
        "SELECT alert_type, severity, kiosk_id FROM security_alerts WHERE badge_serial = '{}'",
        serial.to_uppercase()
    ));
    assert_eq!(alerts.len(), 1, "identical alerts are suppressed: {alerts:?}");
    assert_eq!(alerts[0]["alert_type"], "badge_unknown");
    assert_eq!(alerts[0]["severity"], "warning");
    assert_eq!(alerts[0]["kiosk_id"], json!(kiosk_id));
    // Another kiosk is a different alert.
    let (_, other) = kiosk();
    scan(&other, &serial, None);
    assert_eq!(count(&format!("SELECT count(*) AS n FROM security_alerts WHERE badge_serial = '{}'", serial.to_uppercase())), 2);
}

#[test]
fn lost_damaged_and_inactive_badges_are_403_with_a_critical_alert_naming_the_holder() {
    let (_, key) = kiosk();
    for status in ["lost", "damaged"] {
        let h = holder();
        sql(&format!("UPDATE badges SET status = '{status}' WHERE id = '{}' RETURNING id", h.badge));
        let r = scan(&key, &h.serial, None);
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.body["error"], "BADGE_INACTIVE");
        assert!(r.body["message"].as_str().unwrap().contains(status));
        let alerts = sql(&format!("SELECT alert_type, severity, member_id::text AS member FROM security_alerts WHERE badge_serial = '{}'", h.serial));
        assert_eq!(alerts, vec![json!({"alert_type": "badge_disabled", "severity": "critical", "member": h.member})]);
        assert!(checkins_of(&h.member).is_empty());
    }
    let (_, serial) = badge("inactive");
    let r = scan(&key, &serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("BADGE_INACTIVE")));
}

#[test]
fn unassigned_and_visitor_badges_are_400() {
    let (_, key) = kiosk();
    let (_, serial) = badge("active");
    let r = scan(&key, &serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_UNASSIGNED")), "{}", r.text);
    let visitor = sql("INSERT INTO visitors (name, visit_type, kiosk_id) VALUES ('Guest', 'guest', 'k') RETURNING id::text AS id")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (badge_id, serial) = badge("active");
    sql(&format!("UPDATE badges SET assignment_type = 'visitor', assigned_to_id = '{visitor}' WHERE id = '{badge_id}' RETURNING id"));
    let r = scan(&key, &serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_TYPE_NOT_SUPPORTED")), "{}", r.text);
}

#[test]
fn inactive_members_are_checked_in_with_a_warning_and_an_alert() {
    let h = holder_in(None, "leave");
    let (_, key) = kiosk();
    let r = scan(&key, &h.serial, None);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["warning"]["type"], "inactive_member");
    let alerts = sql(&format!("SELECT alert_type, severity FROM security_alerts WHERE member_id = '{}'", h.member));
    assert_eq!(alerts, vec![json!({"alert_type": "inactive_member", "severity": "warning"})]);
    // Presence counts active members only.
    assert_eq!(division_presence(&h.division), (0, 0));
}

#[test]
fn scan_timestamps_outside_the_window_are_400() {
    let h = holder();
    let (_, key) = kiosk();
    for ts in [at(61_000), at(-8 * 24 * 3600 * 1000)] {
        let r = scan(&key, &h.serial, Some(&ts));
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_TIMESTAMP")), "{ts}: {}", r.text);
    }
    // A slightly old kiosk clock is fine.
    assert_eq!(scan(&key, &h.serial, Some(&at(-3_600_000))).status, 201);
}

#[test]
fn staff_scans_record_their_kiosk_or_manual_entry_and_kiosks_their_own() {
    let h = holder();
    let r = as_role("quartermaster", "POST", "/api/checkins/scan", Some(&json!({ "serialNumber": h.serial })));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["checkin"]["kioskId"], "manual-entry");
    assert_eq!(r.body["checkin"]["createdByAdmin"], json!(user("quartermaster").id));
    let r = as_role("quartermaster", "POST", "/api/checkins/scan", Some(&json!({ "serialNumber": h.serial, "kioskId": "front-desk", "timestamp": at(5_000) })));
    assert_eq!(r.body["checkin"]["kioskId"], "front-desk", "{}", r.text);
    let (kiosk_id, key) = kiosk();
    let r = with_key(&key, "POST", "/api/checkins/scan", Some(&json!({ "serialNumber": h.serial, "kioskId": "spoofed", "timestamp": at(10_000) })));
    assert_eq!(r.body["checkin"]["kioskId"], json!(kiosk_id), "{}", r.text);
}

#[test]
fn scan_access_and_malformed_bodies() {
    let body = json!({ "serialNumber": "X" });
    assert_eq!(request("POST", "/api/checkins/scan", &[], Some(&body)).status, 401);
    assert_eq!(as_key("display", "POST", "/api/checkins/scan", Some(&body)).status, 403);
    let (_, key) = kiosk();
    let long = "x".repeat(101);
    for (bad, what) in [
        (json!({}), "missing serial"),
        (json!({ "serialNumber": 12 }), "wrong type"),
        (json!({ "serialNumber": "  " }), "blank serial"),
        (json!({ "serialNumber": long }), "serial too long"),
        (json!({ "serialNumber": "A", "extra": true }), "unknown field"),
        (json!({ "serialNumber": "A", "timestamp": "yesterday" }), "bad timestamp"),
        (json!([1, 2]), "array body"),
    ] {
        assert_validation_error(&with_key(&key, "POST", "/api/checkins/scan", Some(&bad)), what);
    }
    let r = request_bytes("POST", "/api/checkins/scan", &[("x-api-key", key.as_str()), ("content-type", "application/json")], Some(b"{\"serialNumber\":".to_vec()));
    assert_validation_error(&r, "truncated JSON");
    let huge = format!("{{\"serialNumber\":\"{}\"}}", "y".repeat(600_000));
    let r = request_bytes("POST", "/api/checkins/scan", &[("x-api-key", key.as_str()), ("content-type", "application/json")], Some(huge.into_bytes()));
    assert_validation_error(&r, "huge string");
}

// ------------------------------------------------------------------ concurrency

#[test]
fn twenty_simultaneous_scans_of_one_badge_store_exactly_one_checkin() {
    let h = holder();
    let (_, key) = kiosk();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (barrier, key, serial) = (barrier.clone(), key.clone(), h.serial.clone());
                s.spawn(move || {
                    barrier.wait();
                    scan(&key, &serial, None).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    let stored = checkins_of(&h.member);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["direction"], "in");
    assert_eq!(division_presence(&h.division), (1, 1));
}

#[test]
fn simultaneous_scans_with_distinct_kiosk_times_are_all_stored_and_presence_matches_the_derivation() {
    // Scans with kiosk timestamps 3 s apart, sent all at once: none is a duplicate, each is stored once,
    // and the materialised presence equals the derivation (latest by timestamp) whatever the commit order.
    let h = holder();
    let (_, key) = kiosk();
    let stamps: Vec<String> = (0..8).map(|i| at(-60_000 + i * 3_000)).collect();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = stamps.iter().map(|t| {
            let (key, serial, t) = (key.clone(), h.serial.clone(), t.clone());
            s.spawn(move || scan(&key, &serial, Some(&t)).status)
        }).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(checkins_of(&h.member).len(), 8);
    let same = sql(&format!(
        "SELECT p.direction = d.direction AND p.last_checkin_id = d.last_checkin_id AS same
         FROM member_presence p JOIN member_presence_derived d USING (member_id) WHERE member_id = '{}'",
        h.member
    ));
    assert_eq!(same[0]["same"], true);
}

#[test]
fn fifty_members_scanned_concurrently_are_all_present_exactly_once() {
    let division = division();
    let holders: Vec<Holder> = (0..50).map(|_| holder_in(Some(&division), "active")).collect();
    let (_, key) = kiosk();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = holders.iter().map(|h| {
            let (key, serial) = (key.clone(), h.serial.clone());
            s.spawn(move || scan(&key, &serial, None).status)
        }).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(division_presence(&division), (50, 50));
    assert_eq!(count(&format!("SELECT count(*) AS n FROM checkins c JOIN members m ON m.id = c.member_id WHERE m.division_id = '{division}'")), 50);
    // Materialised presence equals the derivation.
    let mismatches = count(&format!(
        "SELECT count(*) AS n FROM member_presence p JOIN members m ON m.id = p.member_id
         LEFT JOIN member_presence_derived d ON d.member_id = p.member_id
         WHERE m.division_id = '{division}' AND (d.last_checkin_id IS DISTINCT FROM p.last_checkin_id OR d.direction IS DISTINCT FROM p.direction)"
    ));
    assert_eq!(mismatches, 0);
}

// ------------------------------------------------------------------ manual check-ins

#[test]
fn staff_record_checkins_with_explicit_direction() {
    let h = holder();
    let r = as_role("quartermaster", "POST", "/api/checkins", Some(&json!({ "memberId": h.member, "direction": "IN", "kioskId": "desk" })));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["direction"], "in");
    assert_eq!(r.body["method"], "manual");
    assert_eq!(r.body["badgeId"], json!(h.badge), "the member's current badge is recorded");
    assert_eq!(r.body["createdByAdmin"], json!(user("quartermaster").id));
    assert_eq!(r.body["member"]["id"], json!(h.member));
    // No duplicate window for manual entries.
    let r = as_role("quartermaster", "POST", "/api/checkins", Some(&json!({ "memberId": h.member, "direction": "out", "kioskId": "desk", "method": "override", "flaggedForReview": true, "flagReason": "test" })));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["method"].as_str(), r.body["flaggedForReview"].as_bool()), (Some("override"), Some(true)));
    // Kiosk keys record their own kiosk id and method badge.
    let (kiosk_id, key) = kiosk();
    let r = with_key(&key, "POST", "/api/checkins", Some(&json!({ "memberId": h.member, "direction": "in", "kioskId": "other" })));
    assert_eq!((r.body["kioskId"].clone(), r.body["method"].clone()), (json!(kiosk_id), json!("badge")), "{}", r.text);
}

#[test]
fn manual_checkin_errors_in_order() {
    let h = holder();
    let other = holder();
    let missing = "00000000-0000-0000-0000-000000000000";
    let post = |body: Value| admin("POST", "/api/checkins", Some(&body));
    let r = post(json!({ "memberId": missing, "direction": "in", "kioskId": "k" }));
    assert_eq!(r.status, 404, "{}", r.text);
    let r = post(json!({ "memberId": h.member, "badgeId": missing, "direction": "in", "kioskId": "k" }));
    assert_eq!(r.status, 404, "{}", r.text);
    let r = post(json!({ "memberId": h.member, "badgeId": other.badge, "direction": "in", "kioskId": "k" }));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_MEMBER_MISMATCH")), "{}", r.text);
    for (bad, what) in [
        (json!({ "memberId": "nope", "direction": "in", "kioskId": "k" }), "bad uuid"),
        (json!({ "memberId": h.member, "direction": "up", "kioskId": "k" }), "bad direction"),
        (json!({ "memberId": h.member, "direction": "in" }), "missing kioskId"),
        (json!({ "memberId": h.member, "direction": "in", "kioskId": "k".repeat(51) }), "long kioskId"),
        (json!({ "memberId": h.member, "direction": "in", "kioskId": "k", "method": "magic" }), "bad method"),
        (json!({ "memberId": h.member, "direction": "in", "kioskId": "k", "flaggedForReview": "yes" }), "wrong type"),
    ] {
        assert_validation_error(&post(bad), what);
    }
    assert!(checkins_of(&h.member).is_empty());
    assert_eq!(as_key("display", "POST", "/api/checkins", Some(&json!({}))).status, 403);
}

#[test]
fn bulk_upload_reports_per_item_errors_and_is_idempotent_by_client_ref() {
    let h = holder();
    let other = holder();
    let (_, key) = kiosk();
    let body = json!({ "checkins": [
        { "memberId": h.member, "direction": "out", "kioskId": "k", "timestamp": at(-10_000), "clientRef": "b-2" },
        { "memberId": h.member, "direction": "in", "kioskId": "k", "timestamp": at(-20_000), "clientRef": "b-1" },
        { "memberId": "00000000-0000-0000-0000-000000000000", "direction": "in", "kioskId": "k" },
        { "memberId": h.member, "badgeId": other.badge, "direction": "in", "kioskId": "k" },
    ]});
    for _ in 0..3 {
        let r = with_key(&key, "POST", "/api/checkins/bulk", Some(&body));
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((r.body["success"].as_i64(), r.body["failed"].as_i64()), (Some(2), Some(2)), "{}", r.text);
        let errors = r.body["errors"].as_array().unwrap();
        assert_eq!(errors[0]["index"], 2);
        assert_eq!(errors[0]["error"], "MEMBER_NOT_FOUND");
        assert_eq!(errors[1]["index"], 3);
        assert_eq!(errors[1]["error"], "BADGE_MEMBER_MISMATCH");
        assert!(errors[1]["message"].as_str().unwrap().len() > 5);
    }
    let stored = checkins_of(&h.member);
    assert_eq!(stored.iter().map(|c| c["client_ref"].as_str().unwrap()).collect::<Vec<_>>(), ["b-1", "b-2"]);
    // Schema errors anywhere reject the whole batch.
    let r = with_key(&key, "POST", "/api/checkins/bulk", Some(&json!({ "checkins": [{ "memberId": h.member, "direction": "x", "kioskId": "k" }] })));
    assert_validation_error(&r, "bad item");
    assert_validation_error(&with_key(&key, "POST", "/api/checkins/bulk", Some(&json!({ "checkins": [] }))), "empty batch");
    let many: Vec<Value> = (0..101).map(|_| json!({ "memberId": h.member, "direction": "in", "kioskId": "k" })).collect();
    assert_validation_error(&with_key(&key, "POST", "/api/checkins/bulk", Some(&json!({ "checkins": many }))), "101 items");
    assert_eq!(as_role("executive", "POST", "/api/checkins/bulk", Some(&body)).status, 403);
    assert_eq!(admin("POST", "/api/checkins/bulk", Some(&json!({ "checkins": [{ "memberId": h.member, "direction": "in", "kioskId": "k", "clientRef": "adm" }] }))).status, 201);
}

// ------------------------------------------------------------------ offline sync

fn sync(key: &str, items: Value) -> sentinel_tests::Resp {
    with_key(key, "POST", "/api/checkins/sync", Some(&json!({ "items": items })))
}

#[test]
fn a_repeated_sync_batch_is_stored_exactly_once() {
    let a = holder();
    let b = holder();
    let (_, key) = kiosk();
    let items = json!([
        { "serialNumber": a.serial, "timestamp": at(-600_000), "clientRef": "r1" },
        { "serialNumber": b.serial, "timestamp": at(-590_000), "clientRef": "r2" },
        { "serialNumber": a.serial, "timestamp": at(-300_000), "clientRef": "r3" },
        { "serialNumber": b.serial, "timestamp": at(-200_000) },
    ]);
    let first = sync(&key, items.clone());
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["success"], true);
    assert_eq!(first.body["processed"], 4);
    let results = first.body["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["duplicate"] == false && r["success"] == true), "{results:?}");
    assert_eq!(results[0]["direction"], "in");
    assert_eq!(results[2]["direction"], "out", "direction follows the member's timeline within the batch");
    assert_eq!(results[0]["memberName"], "Test Member");
    // Re-sent sequentially and concurrently: nothing new.
    let again = sync(&key, items.clone());
    assert!(again.body["results"].as_array().unwrap().iter().all(|r| r["duplicate"] == true), "{}", again.text);
    assert_eq!(again.body["results"][0]["checkinId"], results[0]["checkinId"]);
    std::thread::scope(|s| {
        for _ in 0..5 {
            let (key, items) = (key.clone(), items.clone());
            s.spawn(move || assert_eq!(sync(&key, items).status, 200));
        }
    });
    assert_eq!(checkins_of(&a.member).len(), 2);
    assert_eq!(checkins_of(&b.member).len(), 2);
    let stored = checkins_of(&a.member);
    assert!(stored.iter().all(|c| c["synced"] == false && c["method"] == "badge"));
    assert_eq!(division_presence(&a.division), (0, 1));
    assert_eq!(division_presence(&b.division), (0, 1));
}

#[test]
fn sync_flags_clock_drift_and_out_of_order_items_and_collapses_repeats() {
    let h = holder();
    let (_, key) = kiosk();
    // A live scan now, then an offline item from before it: stored but flagged out_of_order.
    assert_eq!(scan(&key, &h.serial, None).status, 201);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let r = sync(&key, json!([
        { "serialNumber": h.serial, "timestamp": at(-120_000), "localTimestamp": now_ms - 7 * 60_000 - 30_000 },
        { "serialNumber": h.serial, "timestamp": at(-118_000) },
        { "serialNumber": "NO-SUCH-BADGE-XYZ", "timestamp": at(-100_000) },
    ]));
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(r.body["success"], false);
    assert_eq!((r.body["processed"].as_i64(), r.body["failed"].as_i64()), (Some(2), Some(1)));
    assert_eq!(results[0]["flagged"], true);
    assert_eq!(results[1]["duplicate"], true, "a repeat within 5 s collapses into the earliest");
    assert_eq!(results[1]["checkinId"], results[0]["checkinId"]);
    assert_eq!(results[2]["success"], false);
    assert_eq!(results[2]["error"], "Badge not found or not assigned");
    let flagged = sql(&format!("SELECT flag_reason FROM checkins WHERE id = '{}'", results[0]["checkinId"].as_str().unwrap()));
    let reason = flagged[0]["flag_reason"].as_str().unwrap();
    assert!(reason.contains("Clock drift: 7 minute(s)") && reason.contains("out_of_order"), "{reason}");
    // Server data wins: the member is still present from the live scan.
    assert_eq!(division_presence(&h.division), (1, 1));
}

#[test]
fn sync_reports_disabled_badges_and_is_kiosk_only() {
    let h = holder();
    sql(&format!("UPDATE badges SET status = 'lost' WHERE id = '{}' RETURNING id", h.badge));
    let (_, key) = kiosk();
    let r = sync(&key, json!([{ "serialNumber": h.serial, "timestamp": at(-1000) }]));
    assert_eq!(r.body["results"][0]["error"], "Badge is lost", "{}", r.text);
    assert_eq!(count(&format!("SELECT count(*) AS n FROM security_alerts WHERE badge_serial = '{}' AND alert_type = 'badge_disabled'", h.serial)), 1);
    let body = json!({ "items": [{ "serialNumber": "A", "timestamp": at(0) }] });
    assert_eq!(admin("POST", "/api/checkins/sync", Some(&body)).status, 403);
    assert_eq!(as_key("display", "POST", "/api/checkins/sync", Some(&body)).status, 403);
    assert_eq!(request("POST", "/api/checkins/sync", &[], Some(&body)).status, 401);
    assert_validation_error(&sync(&key, json!([])), "empty");
    assert_validation_error(&sync(&key, json!([{ "serialNumber": "A" }])), "missing timestamp");
    assert_validation_error(&sync(&key, json!([{ "serialNumber": "A", "timestamp": at(0), "clientRef": "x".repeat(101) }])), "long clientRef");
}

/// Issue 13, finding 1: an item dated outside what PostgreSQL stores (year 0, year 10000 in UTC) or not
/// a timestamp at all is refused on its own; the rest of the batch is stored, so the queue drains.
#[test]
fn a_sync_item_with_an_unusable_timestamp_fails_alone_and_the_rest_is_stored() {
    let a = holder();
    let b = holder();
    let (_, key) = kiosk();
    let r = sync(&key, json!([
        { "serialNumber": a.serial, "timestamp": at(-60_000), "clientRef": "ok-1" },
        { "serialNumber": a.serial, "timestamp": "0000-01-01T00:00:00Z", "clientRef": "year-0" },
        { "serialNumber": b.serial, "timestamp": "9999-12-31T23:00:00-05:00", "clientRef": "year-10000" },
        { "serialNumber": b.serial, "timestamp": "yesterday" },
        { "serialNumber": b.serial, "timestamp": at(-30_000), "clientRef": "ok-2" },
    ]));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["success"].as_bool(), r.body["processed"].as_i64(), r.body["failed"].as_i64()), (Some(false), Some(2), Some(3)), "{}", r.text);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!((results[0]["success"].as_bool(), results[0]["direction"].as_str()), (Some(true), Some("in")), "{}", r.text);
    assert_eq!((results[4]["success"].as_bool(), results[4]["direction"].as_str()), (Some(true), Some("in")), "{}", r.text);
    for (i, sent) in [(1, "0000-01-01T00:00:00Z"), (2, "9999-12-31T23:00:00-05:00"), (3, "yesterday")] {
        assert_eq!(results[i]["success"], false, "item {i}: {}", r.text);
        assert_eq!(results[i]["timestamp"], sent);
        assert!(results[i]["error"].as_str().unwrap().starts_with("Invalid timestamp"), "{}", results[i]);
    }
    assert_eq!(checkins_of(&a.member).len(), 1);
    assert_eq!(checkins_of(&b.member).len(), 1);
    // A batch of nothing but unusable items is answered item by item too.
    let r = sync(&key, json!([{ "serialNumber": a.serial, "timestamp": "0000-06-01" }]));
    assert_eq!((r.status, r.body["failed"].as_i64(), r.body["processed"].as_i64()), (200, Some(1), Some(0)), "{}", r.text);
}

/// Issue 13, finding 1: every date filter refuses instants PostgreSQL cannot store with a 400, not a 500.
#[test]
fn out_of_range_instants_in_date_filters_are_400() {
    let h = holder();
    let member_history = format!("/api/members/{}/checkins", h.member);
    for path in ["/api/checkins", member_history.as_str(), "/api/visitors", "/api/audit-logs"] {
        for bad in ["startDate=0000-01-01", "startDate=0001-01-01T00:00:00%2B01:00", "endDate=9999-12-31T23:00:00-05:00", "endDate=0000-12-31"] {
            let r = admin("GET", &format!("{path}?{bad}"), None);
            assert_eq!((r.status, r.body["error"].as_str()), (400, Some("VALIDATION_ERROR")), "{path}?{bad}: {}", r.text);
        }
        let r = admin("GET", &format!("{path}?startDate=0001-01-01&endDate=9999-12-31"), None);
        assert_eq!(r.status, 200, "{path}: the extremes are accepted: {}", r.text);
    }
}

#[test]
fn a_sync_retry_is_a_duplicate_even_after_the_badge_was_lost_or_reassigned() {
    // Sync rule: a stored item is `duplicate` before any badge/member validation, so a retry after
    // the badge was lost (or returned and given to someone else) neither fails nor raises an alert.
    let a = holder();
    let b = holder();
    let c = member_in(&b.division, "active");
    let (kiosk_id, key) = kiosk();
    let items = json!([
        { "serialNumber": a.serial, "timestamp": at(-600_000), "clientRef": "lost-1" },
        { "serialNumber": a.serial, "timestamp": at(-500_000) },
        { "serialNumber": b.serial, "timestamp": at(-400_000), "clientRef": "moved-1" },
        { "serialNumber": b.serial, "timestamp": at(-300_000) },
    ]);
    let first = sync(&key, items.clone());
    assert_eq!(first.status, 200, "{}", first.text);
    let first_results = first.body["results"].as_array().unwrap().clone();
    assert!(first_results.iter().all(|r| r["success"] == true && r["duplicate"] == false), "{}", first.text);
    let stored = |m: &str| checkins_of(m).len();
    let (a_count, b_count) = (stored(&a.member), stored(&b.member));
    assert_eq!((a_count, b_count), (2, 2));
    let audits = || count(&format!("SELECT count(*) AS n FROM audit_log WHERE action = 'checkin_create' AND details->>'kioskId' = '{kiosk_id}'"));
    let audits_before = audits();

    // a's badge is reported lost; b's badge is returned and handed to member c.
    assert_eq!(admin("PATCH", &format!("/api/badges/{}", a.badge), Some(&json!({ "status": "lost" }))).status, 200);
    assert_eq!(admin("POST", &format!("/api/badges/{}/unassign", b.badge), Some(&json!({}))).status, 200);
    let r = admin("POST", &format!("/api/badges/{}/assign", b.badge), Some(&json!({ "assignmentType": "member", "assignedToId": c })));
    assert_eq!(r.status, 200, "{}", r.text);

    let again = sync(&key, items);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!((again.body["success"].as_bool(), again.body["processed"].as_i64(), again.body["failed"].as_i64()), (Some(true), Some(4), Some(0)), "{}", again.text);
    let results = again.body["results"].as_array().unwrap();
    for (i, r) in results.iter().enumerate() {
        assert_eq!((r["success"].as_bool(), r["duplicate"].as_bool()), (Some(true), Some(true)), "item {i}: {r}");
        assert_eq!(r["checkinId"], first_results[i]["checkinId"], "item {i}: the stored check-in");
        assert_eq!(r["direction"], first_results[i]["direction"], "item {i}");
        assert!(r.get("error").is_none(), "item {i}: {r}");
    }
    // The stored check-ins belong to whoever held the badge then.
    assert_eq!((results[2]["memberId"].clone(), results[3]["memberId"].clone()), (json!(b.member), json!(b.member)));
    assert_eq!(results[0]["memberId"], json!(a.member));
    // Nothing new: no check-in, no alert, no audit row.
    assert_eq!((stored(&a.member), stored(&b.member), stored(&c)), (a_count, b_count, 0));
    assert_eq!(count(&format!("SELECT count(*) AS n FROM security_alerts WHERE kiosk_id = '{kiosk_id}'")), 0);
    assert_eq!(audits(), audits_before);
}

#[test]
fn badge_disabled_alerts_for_returned_badges_name_the_last_holder() {
    // Scan rule: a returned badge (status inactive, hence unassigned) still names its last holder,
    // taken from the most recent check-in made with it — in /scan and in /sync.
    let h = holder();
    let (_, key) = kiosk();
    assert_eq!(scan(&key, &h.serial, Some(&at(-60_000))).status, 201);
    let r = admin("PATCH", &format!("/api/badges/{}", h.badge), Some(&json!({ "status": "inactive" })));
    assert_eq!((r.status, r.body["assignmentType"].as_str()), (200, Some("unassigned")), "{}", r.text);

    let (scan_kiosk, scan_key) = kiosk();
    let r = scan(&scan_key, &h.serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("BADGE_INACTIVE")), "{}", r.text);
    let (sync_kiosk, sync_key) = kiosk();
    let r = sync(&sync_key, json!([{ "serialNumber": h.serial, "timestamp": at(-1_000) }]));
    assert_eq!(r.body["results"][0]["error"], "Badge is inactive", "{}", r.text);
    for kiosk_id in [&scan_kiosk, &sync_kiosk] {
        let alerts = sql(&format!(
            "SELECT alert_type, severity, member_id::text AS member FROM security_alerts WHERE kiosk_id = '{kiosk_id}' AND badge_serial = '{}'",
            h.serial
        ));
        assert_eq!(alerts, vec![json!({"alert_type": "badge_disabled", "severity": "critical", "member": h.member})], "{kiosk_id}");
    }
    // The pushed alert carries it too.
    let pushed = stream("alerts").into_iter().find(|(_, d)| d["kioskId"] == json!(scan_kiosk)).expect("alert:new published");
    assert_eq!(pushed.1["memberId"], json!(h.member));
    // A returned badge never used names nobody.
    let (_, unused) = badge("inactive");
    assert_eq!(scan(&scan_key, &unused, None).status, 403);
    let alerts = sql(&format!("SELECT member_id::text AS member FROM security_alerts WHERE badge_serial = '{unused}'"));
    assert_eq!(alerts, vec![json!({"member": null})]);
}

// ------------------------------------------------------------------ corrections, manual checkout

#[test]
fn manual_checkout_checks_a_present_member_out() {
    let h = holder();
    let path = format!("/api/checkins/manual-checkout/{}", h.member);
    let r = as_role("duty_watch", "POST", &path, Some(&json!({ "reason": "went home" })));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("NOT_CHECKED_IN")), "{}", r.text);
    let (_, key) = kiosk();
    assert_eq!(scan(&key, &h.serial, None).status, 201);
    let r = as_role("duty_watch", "POST", &path, Some(&json!({ "reason": "went home" })));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["direction"].as_str(), r.body["method"].as_str(), r.body["kioskId"].as_str()), (Some("out"), Some("override"), Some("admin-forced-checkout")));
    assert_eq!(r.body["createdByAdmin"], json!(user("duty_watch").id));
    assert_eq!(division_presence(&h.division), (0, 1));
    let audit = sql(&format!("SELECT details->>'reason' AS reason FROM audit_log WHERE entity_id = '{}'", r.body["id"].as_str().unwrap()));
    assert_eq!(audit[0]["reason"], "went home");
    assert_eq!(as_role("quartermaster", "POST", &path, Some(&json!({ "reason": "x" }))).status, 403);
    assert_validation_error(&as_role("duty_watch", "POST", &path, Some(&json!({ "reason": "" }))), "empty reason");
    assert_eq!(as_role("duty_watch", "POST", "/api/checkins/manual-checkout/00000000-0000-0000-0000-000000000000", Some(&json!({ "reason": "x" }))).status, 404);
}

#[test]
fn manual_checkout_refuses_members_who_are_not_active() {
    // Presence: present = status active AND latest check-in `in`. A non-active member whose latest
    // check-in is `in` is not present, so there is nothing to check out.
    let (_, key) = kiosk();
    let on_leave = holder_in(None, "leave");
    assert_eq!(scan(&key, &on_leave.serial, None).status, 201, "non-active members are checked in with a warning");
    let deleted = holder();
    assert_eq!(scan(&key, &deleted.serial, None).status, 201);
    assert_eq!(admin("DELETE", &format!("/api/members/{}", deleted.member), None).status, 200);
    for h in [&on_leave, &deleted] {
        let before = checkins_of(&h.member).len();
        let r = as_role("duty_watch", "POST", &format!("/api/checkins/manual-checkout/{}", h.member), Some(&json!({ "reason": "gone" })));
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some("NOT_CHECKED_IN")), "{}", r.text);
        assert_eq!(checkins_of(&h.member).len(), before, "nothing stored");
        assert_eq!(count(&format!("SELECT count(*) AS n FROM audit_log WHERE action = 'checkin_manual_checkout' AND details->'after'->>'memberId' = '{}'", h.member)), 0);
    }
}

#[test]
fn admin_corrections_recompute_presence_and_are_audited() {
    let h = holder();
    let (_, key) = kiosk();
    let id = scan(&key, &h.serial, None).body["checkin"]["id"].as_str().unwrap().to_string();
    assert_eq!(division_presence(&h.division), (1, 1));
    let r = admin("PATCH", &format!("/api/checkins/{id}"), Some(&json!({ "direction": "OUT", "editReason": "wrong tap", "flaggedForReview": true })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["direction"].as_str(), r.body["flaggedForReview"].as_bool()), (Some("out"), Some(true)));
    assert_eq!(division_presence(&h.division), (0, 1));
    let audit = sql(&format!("SELECT details->>'editReason' AS reason FROM audit_log WHERE action = 'checkin_update' AND entity_id = '{id}'"));
    assert_eq!(audit[0]["reason"], "wrong tap");
    assert_validation_error(&admin("PATCH", &format!("/api/checkins/{id}"), Some(&json!({}))), "empty patch");
    assert_eq!(as_role("executive", "PATCH", &format!("/api/checkins/{id}"), Some(&json!({ "direction": "in" }))).status, 403);
    admin("PATCH", &format!("/api/checkins/{id}"), Some(&json!({ "direction": "in" })));
    assert_eq!(division_presence(&h.division), (1, 1));
    let r = admin("DELETE", &format!("/api/checkins/{id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["message"], "Checkin deleted successfully");
    assert_eq!(division_presence(&h.division), (0, 1));
    assert_eq!(admin("DELETE", &format!("/api/checkins/{id}"), None).status, 404);
    assert_eq!(admin("GET", &format!("/api/checkins/{id}"), None).status, 404);
    assert_eq!(admin("GET", "/api/checkins/not-a-uuid", None).status, 400);
}

// ------------------------------------------------------------------ reads

#[test]
fn lists_filter_and_member_history_requires_the_member() {
    let h = holder();
    let (kiosk_id, key) = kiosk();
    scan(&key, &h.serial, Some(&at(-10_000)));
    scan(&key, &h.serial, None);
    let r = as_role("quartermaster", "GET", &format!("/api/checkins?memberId={}&limit=1", h.member), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["total"].as_i64(), r.body["totalPages"].as_i64()), (Some(2), Some(2)));
    assert_eq!(r.body["checkins"][0]["direction"], "out", "newest first");
    let r = as_role("quartermaster", "GET", &format!("/api/checkins?kioskId={kiosk_id}&direction=IN"), None);
    assert_eq!(r.body["total"], 1, "{}", r.text);
    let r = as_role("quartermaster", "GET", &format!("/api/checkins?divisionId={}&startDate={}", h.division, at(-5_000)), None);
    assert_eq!(r.body["total"], 1, "{}", r.text);
    let r = as_role("quartermaster", "GET", &format!("/api/members/{}/checkins", h.member), None);
    assert_eq!((r.status, r.body["total"].as_i64()), (200, Some(2)), "{}", r.text);
    assert_eq!(as_role("quartermaster", "GET", "/api/members/00000000-0000-0000-0000-000000000000/checkins", None).status, 404);
    assert_eq!(as_role("quartermaster", "GET", "/api/members/bad/checkins", None).status, 400);
    for bad in ["direction=up", "memberId=x", "startDate=never", "flaggedOnly=maybe", "limit=0", "page=x"] {
        assert_validation_error(&as_role("quartermaster", "GET", &format!("/api/checkins?{bad}"), None), bad);
    }
    assert_eq!(request("GET", "/api/checkins", &[], None).status, 401);
    assert_eq!(as_key("kiosk", "GET", "/api/checkins", None).status, 403);
}

#[test]
fn presence_people_and_activity() {
    let h = holder();
    let (kiosk_id, key) = kiosk();
    scan(&key, &h.serial, None);
    for who in ["quartermaster"] {
        let r = as_role(who, "GET", "/api/checkins/presence", None);
        assert_eq!(r.status, 200);
        assert!(r.body["totalPresent"].as_i64().unwrap() >= 1);
        assert!(r.body["lastUpdated"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(as_key("display", "GET", "/api/checkins/presence", None).status, 200);
    assert_eq!(with_key(&key, "GET", "/api/checkins/presence", None).status, 200);
    let r = as_key("display", "GET", "/api/checkins/presence/people", None);
    assert_eq!(r.status, 200, "{}", r.text);
    let person = r.body["people"].as_array().unwrap().iter().find(|p| p["id"] == json!(h.member)).cloned().unwrap();
    assert_eq!((person["type"].as_str(), person["kioskId"].as_str()), (Some("member"), Some(kiosk_id.as_str())));
    assert_eq!(with_key(&key, "GET", "/api/checkins/presence/people", None).status, 403);
    let r = with_key(&key, "GET", "/api/checkins/activity?limit=100", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["activity"].as_array().unwrap().iter().any(|a| a["type"] == "checkin" && a["kioskId"] == json!(kiosk_id)));
    assert_validation_error(&as_key("display", "GET", "/api/checkins/activity?limit=101", None), "limit");
    assert_eq!(request("GET", "/api/checkins/presence", &[], None).status, 401);
}

// ------------------------------------------------------------------ lockup, realtime

#[test]
fn the_lockup_holder_cannot_scan_out() {
    let h = holder();
    sql(&format!("INSERT INTO member_tags (member_id, tag_id) SELECT '{}', id FROM tags WHERE name = 'Lockup' RETURNING id", h.member));
    let (_, key) = kiosk();
    assert_eq!(scan(&key, &h.serial, None).status, 201);
    let r = scan(&key, &h.serial, Some(&at(5_000)));
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("LOCKUP_HELD")), "{}", r.text);
    assert_eq!(r.body["details"]["holdsLockup"], true);
    assert!(r.body["details"]["availableOptions"].as_array().unwrap().contains(&json!("execute_lockup")));
    assert!(r.body["details"]["eligibleRecipients"].is_array());
    assert_eq!(checkins_of(&h.member).len(), 1);
    let r = admin("POST", "/api/checkins", Some(&json!({ "memberId": h.member, "direction": "out", "kioskId": "desk" })));
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("LOCKUP_HELD")), "{}", r.text);
    sql("DELETE FROM member_tags WHERE tag_id = (SELECT id FROM tags WHERE name = 'Lockup') RETURNING id");
}

#[test]
fn scans_publish_checkin_presence_and_alert_events() {
    let h = holder();
    let (kiosk_id, key) = kiosk();
    let r = scan(&key, &h.serial, None);
    let id = r.body["checkin"]["id"].clone();
    let checkins = stream("checkins");
    let event = checkins.iter().find(|(_, d)| d["id"] == id).expect("checkin:new published");
    assert_eq!(event.0, "checkin:new");
    assert_eq!(event.1["memberName"], "Test Member");
    assert_eq!((event.1["direction"].as_str(), event.1["kioskId"].as_str(), event.1["method"].as_str()), (Some("in"), Some(kiosk_id.as_str()), Some("badge")));
    assert!(event.1["division"].as_str().unwrap().starts_with("Division"));
    let presence = stream("presence");
    let last = presence.iter().rev().find(|(e, d)| e == "presence:update" && d["byDivision"].as_array().unwrap().iter().any(|x| x["divisionId"] == json!(h.division))).expect("presence:update published");
    assert!(last.1["totalPresent"].as_i64().unwrap() >= 1);
    // A refused duplicate publishes nothing.
    assert_eq!(scan(&key, &h.serial, None).status, 409);
    assert_eq!(stream("checkins").iter().filter(|(_, d)| d["memberId"] == json!(h.member)).count(), 1);
    // Unknown badge: one alert:new, none for the suppressed repeat.
    let serial = unique("RT-UNKNOWN");
    scan(&key, &serial, None);
    scan(&key, &serial, None);
    let alerts: Vec<_> = stream("alerts").into_iter().filter(|(_, d)| d["badgeSerial"] == json!(serial.to_uppercase())).collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!((alerts[0].0.as_str(), alerts[0].1["alertType"].as_str(), alerts[0].1["status"].as_str()), ("alert:new", Some("badge_unknown"), Some("active")));
}

#[test]
fn a_late_synced_checkout_replaces_the_forced_rollover_checkout() {
    let h = holder();
    let (kiosk_id, key) = kiosk();
    // In two hours ago; the day rollover then forced them out (as `sentinel jobs run` does) one hour ago.
    let came = at(-7_200_000);
    let forced = at(-3_600_000);
    sentinel_tests::sql_exec(&format!(
        "INSERT INTO checkins (member_id, badge_id, direction, \"timestamp\", kiosk_id, method)
         VALUES ('{m}', '{b}', 'in', '{came}', '{kiosk_id}', 'badge');
         INSERT INTO checkins (member_id, direction, \"timestamp\", kiosk_id, method, flagged_for_review, flag_reason)
         VALUES ('{m}', 'out', '{forced}', 'SYSTEM', 'system', true, 'Forced checkout at day rollover');",
        m = h.member,
        b = h.badge
    ));
    let forced_id = sql(&format!("SELECT id::text AS id FROM checkins WHERE member_id = '{}' AND method = 'system'", h.member))[0]["id"].clone();
    // The kiosk was offline: its real checkout from before the rollover arrives now.
    let left = at(-5_400_000);
    let r = sync(&key, json!([{ "serialNumber": h.serial, "timestamp": left, "clientRef": "late-1" }]));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["results"][0]["direction"].as_str(), r.body["results"][0]["flagged"].as_bool()), (Some("out"), Some(false)), "{}", r.text);
    let rows = sql(&format!("SELECT direction, method, iso(\"timestamp\") AS at FROM checkins WHERE member_id = '{}' ORDER BY \"timestamp\"", h.member));
    assert_eq!(rows, vec![json!({ "direction": "in", "method": "badge", "at": came }), json!({ "direction": "out", "method": "badge", "at": left })]);
    let audit = sql(&format!("SELECT details->>'reason' AS reason FROM audit_log WHERE action = 'checkin_delete' AND entity_id = '{}'", forced_id.as_str().unwrap()));
    assert_eq!(audit.len(), 1, "the replacement is audited");
}

/// A list's `total` counts exactly up to 1 000 rows; past that an unfiltered list answers the table's
/// estimated size and says so, and a filtered one still counts exactly (docs/architecture.md, "Lists").
/// On a private stack, so that the table's size is this test's own.
#[test]
fn long_lists_estimate_only_an_unfiltered_total_past_a_thousand_rows() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    let hash = sentinel_auth::password::hash(sentinel_tests::fixtures::PASSWORD).unwrap();
    // Two members with 900 and 300 check-ins an hour apart (1 200 rows), alternating in and out.
    stack.sql_exec(&format!(
        "INSERT INTO users (email, display_name, password_hash, role) VALUES ('admin@totals.test', 'Admin', '{hash}', 'admin');
         INSERT INTO divisions (code, name) VALUES ('TOT', 'Totals');
         INSERT INTO members (service_number, rank, first_name, last_name, division_id)
           SELECT 'TOT' || g, 'S1', 'First' || g, 'Last' || g, (SELECT id FROM divisions WHERE code = 'TOT') FROM generate_series(1, 2) g;
         INSERT INTO checkins (member_id, direction, \"timestamp\", kiosk_id, method)
           SELECT m.id, CASE WHEN k % 2 = 0 THEN 'in' ELSE 'out' END, now() - interval '1 day' - k * interval '1 hour', 'totals-kiosk', 'manual'
           FROM members m CROSS JOIN generate_series(1, 900) k
           WHERE m.service_number = 'TOT1' OR (m.service_number = 'TOT2' AND k <= 300);
         ANALYZE checkins;"
    ));
    let url = |p: &str| format!("{}{p}", stack.base_url());
    let r = request("POST", &url("/api/auth/login"), &[], Some(&json!({ "email": "admin@totals.test", "password": sentinel_tests::fixtures::PASSWORD })));
    assert_eq!(r.status, 200, "{}", r.text);
    let (h, v) = sentinel_tests::fixtures::bearer(r.body["token"].as_str().unwrap());
    let get = |p: &str| {
        let r = request("GET", &url(p), &[(h, v.as_str())], None);
        assert_eq!(r.status, 200, "{p}: {}", r.text);
        r
    };
    let member = |n: u32| stack.sql(&format!("SELECT id::text AS id FROM members WHERE service_number = 'TOT{n}'"))[0]["id"].as_str().unwrap().to_string();

    // Unfiltered, past 1 000: the estimate, flagged, within a few percent of the 1 200 rows.
    let r = get("/api/checkins?limit=10");
    assert_eq!(r.body["totalIsEstimate"], true, "{}", r.text);
    let total = r.body["total"].as_i64().unwrap();
    assert!((1_100..=1_300).contains(&total), "estimate {total} of 1 200 rows");
    assert_eq!(r.body["totalPages"].as_i64().unwrap(), (total + 9) / 10);
    assert_eq!(r.body["checkins"].as_array().unwrap().len(), 10);
    // Filtered: exact on both sides of 1 000 matching rows (900 of one member; 1 200 in one kiosk).
    let r = get(&format!("/api/checkins?memberId={}&limit=10", member(1)));
    assert_eq!((r.body["total"].as_i64(), r.body["totalIsEstimate"].as_bool()), (Some(900), Some(false)), "{}", r.text);
    let r = get("/api/checkins?kioskId=totals-kiosk&limit=10");
    assert_eq!((r.body["total"].as_i64(), r.body["totalIsEstimate"].as_bool()), (Some(1_200), Some(false)), "{}", r.text);
    // Page 2 (the one that binds an offset) continues page 1, newest first.
    let ids = |p: &str| -> Vec<String> { get(p).body["checkins"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect() };
    let pages = [ids("/api/checkins?kioskId=totals-kiosk&limit=10"), ids("/api/checkins?kioskId=totals-kiosk&limit=10&page=2")].concat();
    assert_eq!(pages, ids("/api/checkins?kioskId=totals-kiosk&limit=20"));
    assert_eq!(pages.len(), 20);
    let r = get(&format!("/api/members/{}/checkins?direction=in", member(2)));
    assert_eq!((r.body["total"].as_i64(), r.body["totalIsEstimate"].as_bool()), (Some(150), Some(false)), "{}", r.text);
    // Up to 1 000 rows an unfiltered list counts exactly.
    stack.sql_exec("DELETE FROM checkins WHERE \"timestamp\" < now() - interval '1 day' - interval '700 hours'");
    let exact = stack.sql("SELECT count(*)::int8 AS n FROM checkins")[0]["n"].as_i64().unwrap();
    assert!(exact <= 1_000, "{exact} rows left");
    let r = get("/api/checkins?limit=10");
    assert_eq!((r.body["total"].as_i64(), r.body["totalIsEstimate"].as_bool()), (Some(exact), Some(false)), "{}", r.text);
    // The audit log and the visitor list answer the same flag.
    assert_eq!(get("/api/audit-logs?limit=1").body["totalIsEstimate"], false);
    assert_eq!(get("/api/visitors?limit=1").body["totalIsEstimate"], false);
}
