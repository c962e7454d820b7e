//! Events, attendees, event badges and event scans through HTTP against the real host, components,
//! PostgreSQL and Redis (the access of every route for every principal is in access.rs).

#[path = "support/kiosk.rs"]
mod kiosk;

use std::time::Duration;

use kiosk::*;
use sentinel_tests::fixtures::{admin, as_key, as_role, user};
use sentinel_tests::relay::{connect, session, start_relay, ws_url};
use sentinel_tests::{sql, sql_exec, Resp};
use serde_json::{json, Value};

/// A UTC date `days` from today, `YYYY-MM-DD`.
fn day(days: i64) -> String {
    sql(&format!("SELECT (current_date + {days})::text AS d"))[0]["d"].as_str().unwrap().to_string()
}

/// A fresh event through the API (running from yesterday to tomorrow unless `extra` says otherwise).
fn event_with(extra: Value) -> Value {
    let code = unique("EV");
    let mut body = json!({ "name": format!("Course {code}"), "code": code, "startDate": day(-1), "endDate": day(1) });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = admin("POST", "/api/events", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn active_event() -> Value {
    event_with(json!({ "status": "active" }))
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn add_attendee(event: &str, extra: Value) -> Resp {
    let mut body = json!({ "name": unique("Attendee "), "organization": "HMCS Test", "role": "participant" });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    as_role("duty_watch", "POST", &format!("/api/events/{event}/attendees"), Some(&body))
}

/// An attendee of `event` holding a fresh event badge: (attendee id, badge id, serial).
fn attendee_with_badge(event: &str) -> (String, String, String) {
    let (badge, serial) = badge("active");
    let r = add_attendee(event, json!({ "badgeId": badge }));
    assert_eq!(r.status, 201, "{}", r.text);
    (id(&r.body), badge, serial)
}

fn badge_link(badge: &str) -> (String, Option<String>) {
    let row = &sql(&format!("SELECT assignment_type, assigned_to_id::text AS holder FROM badges WHERE id = '{badge}'"))[0];
    (row["assignment_type"].as_str().unwrap().to_string(), row["holder"].as_str().map(str::to_string))
}

fn event_scan(key: &str, serial: &str, timestamp: Option<&str>) -> Resp {
    let mut body = json!({ "serialNumber": serial });
    if let Some(t) = timestamp {
        body["timestamp"] = json!(t);
    }
    with_key(key, "POST", "/api/events/scan", Some(&body))
}

fn stats(event: &str) -> Value {
    let r = as_role("quartermaster", "GET", &format!("/api/events/{event}/stats"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn updates_of(event: &str) -> Vec<Value> {
    stream("events").into_iter().filter(|(name, d)| name == "event:update" && d["id"] == json!(event)).map(|(_, d)| d).collect()
}

fn audit_actions(entity: &str) -> Vec<String> {
    sql(&format!("SELECT action FROM audit_log WHERE entity_id = '{entity}' ORDER BY created_at, id"))
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect()
}

// ------------------------------------------------------------------ lifecycle

#[test]
fn create_read_update_follow_the_rules_and_are_audited() {
    let code = unique("EVC");
    let body = json!({
        "name": "Basic Training", "code": code, "description": "Weekend course",
        "startDate": "2026-06-01", "endDate": "2026-06-03T10:00:00Z",
        "customRoles": { "instructor": "Instructor" }, "createdBy": "not-even-a-uuid",
    });
    let r = admin("POST", "/api/events", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text);
    let event = r.body.clone();
    assert_eq!(event["status"], "draft");
    assert_eq!(event["autoExpireBadges"], true);
    assert_eq!((event["startDate"].as_str(), event["endDate"].as_str()), (Some("2026-06-01T00:00:00.000Z"), Some("2026-06-03T00:00:00.000Z")));
    assert_eq!(event["customRoles"], json!({ "instructor": "Instructor" }));
    assert_eq!(event["createdBy"], json!(user("admin").id), "the creator is the caller");
    let e = id(&event);
    assert_eq!(updates_of(&e).first().map(|u| (u["action"].clone(), u["name"].clone())), Some((json!("created"), json!("Basic Training"))));

    let r = as_role("quartermaster", "GET", &format!("/api/events/{e}"), None);
    assert_eq!((r.status, r.body.clone()), (200, event.clone()));
    let r = as_role("quartermaster", "GET", "/api/events/00000000-0000-0000-0000-000000000000", None);
    assert!(r.status == 404 && r.body["message"].as_str().unwrap().contains("00000000-0000-0000-0000-000000000000"), "{}", r.text);
    assert_validation_error(&as_role("quartermaster", "GET", "/api/events/not-a-uuid", None), "malformed id");

    // Duplicate code, bad dates, a status an event cannot start in.
    let r = admin("POST", "/api/events", Some(&json!({ "name": "Again", "code": code, "startDate": "2026-06-01", "endDate": "2026-06-01" })));
    assert!(r.status == 409 && r.body["message"].as_str().unwrap().contains(&code), "{}", r.text);
    let r = admin("POST", "/api/events", Some(&json!({ "name": "Backwards", "code": unique("EVB"), "startDate": "2026-06-02", "endDate": "2026-06-01" })));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("VALIDATION_ERROR")), "{}", r.text);
    for status in ["completed", "cancelled", "open"] {
        let r = admin("POST", "/api/events", Some(&json!({ "name": "S", "code": unique("EVS"), "startDate": "2026-06-01", "endDate": "2026-06-01", "status": status })));
        assert_validation_error(&r, status);
    }
    for bad in [json!({}), json!({ "name": "", "code": "X", "startDate": "2026-06-01", "endDate": "2026-06-01" }),
                json!({ "name": "X", "code": "X", "startDate": "June", "endDate": "2026-06-01" }),
                json!({ "name": "X", "code": "X", "startDate": "2026-06-01", "endDate": "2026-06-01", "customRoles": [1] })] {
        assert_validation_error(&admin("POST", "/api/events", Some(&bad)), &bad.to_string());
    }

    // PATCH: the date rule holds for the merged result; codes stay unique.
    let path = format!("/api/events/{e}");
    assert_validation_error(&admin("PATCH", &path, Some(&json!({}))), "empty patch");
    let r = admin("PATCH", &path, Some(&json!({ "endDate": "2026-05-31" })));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("VALIDATION_ERROR")), "end before the stored start: {}", r.text);
    let other = event_with(json!({}));
    let r = admin("PATCH", &path, Some(&json!({ "code": other["code"] })));
    assert_eq!(r.status, 409, "{}", r.text);
    let r = admin("PATCH", &path, Some(&json!({ "name": "Basic Training II", "description": null, "customRoles": null })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["name"].as_str(), r.body["description"].clone(), r.body["customRoles"].clone()), (Some("Basic Training II"), Value::Null, Value::Null));
    assert_eq!(updates_of(&e).last().unwrap()["action"], "updated");
    assert_eq!(audit_actions(&e), ["event_create", "event_update"]);
    let before_after = &sql(&format!("SELECT details FROM audit_log WHERE entity_id = '{e}' AND action = 'event_update'"))[0]["details"];
    assert_eq!((before_after["before"]["name"].as_str(), before_after["after"]["name"].as_str()), (Some("Basic Training"), Some("Basic Training II")));
    let r = as_role("executive", "PATCH", &path, Some(&json!({ "name": "Nope" })));
    assert_eq!(r.status, 403, "writes are ADM+: {}", r.text);
}

#[test]
fn the_lifecycle_is_enforced() {
    let e = id(&event_with(json!({})));
    let path = format!("/api/events/{e}");
    let close = format!("/api/events/{e}/close");
    let r = admin("POST", &close, None);
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("INVALID_TRANSITION")), "a draft is not closed: {}", r.text);
    let r = admin("PATCH", &path, Some(&json!({ "status": "completed" })));
    assert_validation_error(&r, "completed only through close");
    assert_eq!(admin("PATCH", &path, Some(&json!({ "status": "active" }))).status, 200);
    let r = admin("PATCH", &path, Some(&json!({ "status": "draft" })));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("INVALID_TRANSITION")), "{}", r.text);
    let r = admin("PATCH", &path, Some(&json!({ "status": "cancelled" })));
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("cancelled")), "{}", r.text);
    for status in ["active", "draft"] {
        let r = admin("PATCH", &path, Some(&json!({ "status": status })));
        assert_eq!((r.status, r.body["error"].as_str()), (409, Some("INVALID_TRANSITION")), "cancelled is final: {}", r.text);
    }
    let r = admin("POST", &close, None);
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("EVENT_CANCELLED")), "{}", r.text);
    assert_eq!(sql(&format!("SELECT status FROM events WHERE id = '{e}'"))[0]["status"], "cancelled");

    // Completed is final too; closing again changes nothing.
    let e = id(&active_event());
    let close = format!("/api/events/{e}/close");
    let r = admin("POST", &close, None);
    assert_eq!((r.status, r.body["event"]["status"].as_str(), r.body["expiredCount"].as_i64()), (200, Some("completed"), Some(0)), "{}", r.text);
    let r = admin("POST", &close, None);
    assert_eq!((r.status, r.body["expiredCount"].as_i64()), (200, Some(0)), "{}", r.text);
    assert_eq!(updates_of(&e).iter().filter(|u| u["action"] == "closed").count(), 1, "a repeated close pushes nothing");
    let r = admin("PATCH", &format!("/api/events/{e}"), Some(&json!({ "status": "cancelled" })));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("INVALID_TRANSITION")), "{}", r.text);
    assert_eq!(admin("POST", "/api/events/00000000-0000-0000-0000-000000000000/close", None).status, 404);
}

#[test]
fn the_list_filters_and_pages_on_request() {
    let marker = unique("LIST");
    let early = event_with(json!({ "name": format!("{marker} early"), "startDate": "2030-01-01", "endDate": "2030-01-02" }));
    let late = event_with(json!({ "name": format!("{marker} late"), "status": "active", "startDate": "2030-02-01", "endDate": "2030-02-02" }));
    let r = as_role("quartermaster", "GET", "/api/events", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("total").is_none(), "no paging fields without page: {}", r.text);
    let ids: Vec<Value> = r.body["events"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    let (pos_late, pos_early) = (ids.iter().position(|i| *i == late["id"]).unwrap(), ids.iter().position(|i| *i == early["id"]).unwrap());
    assert!(pos_late < pos_early, "newest start first");
    let r = as_role("quartermaster", "GET", "/api/events?status=active&page=1&limit=100", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["events"].as_array().unwrap().iter().all(|e| e["status"] == "active"));
    assert!(r.body["events"].as_array().unwrap().iter().any(|e| e["id"] == late["id"]));
    // Other tests create and delete events meanwhile: the page agrees with its own total.
    let total = r.body["total"].as_i64().unwrap();
    assert_eq!(r.body["events"].as_array().unwrap().len() as i64, total.min(100));
    assert_eq!(r.body["totalPages"].as_i64().unwrap(), (total + 99) / 100);
    let r = as_role("quartermaster", "GET", "/api/events?limit=1", None);
    assert_eq!(r.body["events"].as_array().unwrap().len(), 1);
    for bad in ["status=closed", "page=0", "limit=101", "page=x"] {
        assert_validation_error(&as_role("quartermaster", "GET", &format!("/api/events?{bad}"), None), bad);
    }
}

// ------------------------------------------------------------------ attendees and event badges

#[test]
fn attendees_get_event_badges_under_the_badge_rules() {
    let e = id(&active_event());
    let attendees = format!("/api/events/{e}/attendees");
    let r = as_role("quartermaster", "GET", &attendees, None);
    assert_eq!((r.status, r.body.clone()), (200, json!({ "attendees": [] })));
    let s = stats(&e);
    assert_eq!((s["totalAttendees"].as_i64(), s["activeAttendees"].as_i64(), s["pending"].as_i64()), (Some(0), Some(0), Some(0)), "zeros, not 404");

    let (first, serial) = badge("active");
    let r = as_role("duty_watch", "GET", "/api/events/badges/available", None);
    assert!(r.body["badges"].as_array().unwrap().len() <= 100);
    let r = add_attendee(&e, json!({ "name": "Zed Zulu", "rank": "Lt(N)", "badgeId": first, "eventId": e, "accessStart": day(-1), "accessEnd": day(2) }));
    assert_eq!(r.status, 201, "{}", r.text);
    let a = r.body.clone();
    assert_eq!((a["eventId"].as_str(), a["status"].as_str(), a["badgeId"].as_str()), (Some(e.as_str()), Some("pending"), Some(first.as_str())));
    assert!(a["badgeAssignedAt"].is_string() && a["accessEnd"].as_str().unwrap().ends_with("T00:00:00.000Z"));
    let attendee = id(&a);
    assert_eq!(badge_link(&first), ("event".into(), Some(attendee.clone())), "the holder is the attendee");
    let b = admin("GET", &format!("/api/badges/{first}"), None).body;
    assert_eq!(b["assignedTo"], json!({ "id": attendee, "name": "Zed Zulu", "type": "event" }));
    let assignment = stream("badges").into_iter().rev().find(|(_, d)| d["badgeId"] == json!(first)).expect("badge:assignment pushed").1;
    assert_eq!((assignment["assignmentType"].as_str(), assignment["assignedToName"].as_str()), (Some("event"), Some("Zed Zulu")));
    let r = as_role("duty_watch", "GET", "/api/events/badges/available", None);
    assert!(!r.body["badges"].as_array().unwrap().iter().any(|b| b["serialNumber"] == json!(serial)), "assigned badges are not available");

    // The same badge again, a badge that is not active, unknown references, the wrong event.
    let r = add_attendee(&e, json!({ "badgeId": first }));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("BADGE_ALREADY_ASSIGNED")), "{}", r.text);
    let (lost, _) = badge("lost");
    let r = add_attendee(&e, json!({ "badgeId": lost }));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_NOT_ACTIVE")), "{}", r.text);
    let r = add_attendee(&e, json!({ "badgeId": "00000000-0000-0000-0000-000000000000" }));
    assert_eq!(r.status, 404, "{}", r.text);
    let r = add_attendee(&e, json!({ "eventId": "00000000-0000-0000-0000-000000000001" }));
    assert_validation_error(&r, "body eventId must be the path's");
    let r = add_attendee("00000000-0000-0000-0000-000000000000", json!({}));
    assert_eq!(r.status, 404, "{}", r.text);
    let r = add_attendee(&e, json!({ "accessStart": day(3), "accessEnd": day(2) }));
    assert_validation_error(&r, "access ends before it starts");
    assert_eq!(count(&format!("SELECT count(*) AS n FROM event_attendees WHERE event_id = '{e}'")), 1, "refused attendees are not stored");

    // Assigning another badge returns the first to the pool.
    let (second, _) = badge("active");
    let assign = format!("/api/events/{e}/attendees/{attendee}/assign-badge");
    let r = as_role("duty_watch", "POST", &assign, Some(&json!({ "badgeId": second })));
    assert_eq!((r.status, r.body["badgeId"].as_str()), (200, Some(second.as_str())), "{}", r.text);
    assert_eq!(badge_link(&first), ("unassigned".into(), None));
    assert_eq!(badge_link(&second), ("event".into(), Some(attendee.clone())));
    let r = as_role("duty_watch", "POST", &assign, Some(&json!({ "badgeId": second })));
    assert_eq!(r.status, 200, "assigning the held badge again is a no-op: {}", r.text);

    // An attendee is reachable only under its own event.
    let other = id(&active_event());
    for (method, path, body) in [
        ("PATCH", format!("/api/events/{other}/attendees/{attendee}"), Some(json!({ "name": "Hijack" }))),
        ("POST", format!("/api/events/{other}/attendees/{attendee}/assign-badge"), Some(json!({ "badgeId": first }))),
        ("DELETE", format!("/api/events/{other}/attendees/{attendee}/badge"), None),
        ("DELETE", format!("/api/events/{other}/attendees/{attendee}"), None),
    ] {
        let r = as_role("duty_watch", method, &path, body.as_ref());
        assert!(r.status == 404 && r.body["message"].as_str().unwrap().contains(&attendee), "{method} {path}: {}", r.text);
    }
    assert_eq!(sql(&format!("SELECT name FROM event_attendees WHERE id = '{attendee}'"))[0]["name"], "Zed Zulu");

    // PATCH: fields, and badgeId null takes the badge back; DELETE …/badge is idempotent.
    let r = as_role("duty_watch", "PATCH", &format!("/api/events/{e}/attendees/{attendee}"), Some(&json!({ "status": "approved", "rank": null, "badgeId": null })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["status"].as_str(), r.body["rank"].clone(), r.body["badgeId"].clone(), r.body["badgeAssignedAt"].clone()), (Some("approved"), Value::Null, Value::Null, Value::Null));
    assert_eq!(badge_link(&second), ("unassigned".into(), None));
    assert_validation_error(&as_role("duty_watch", "PATCH", &format!("/api/events/{e}/attendees/{attendee}"), Some(&json!({}))), "empty patch");
    let r = as_role("duty_watch", "DELETE", &format!("/api/events/{e}/attendees/{attendee}/badge"), None);
    assert_eq!((r.status, r.body["badgeId"].clone()), (200, Value::Null), "{}", r.text);

    // Deleting an attendee frees their badge.
    let (other_attendee, held, _) = attendee_with_badge(&e);
    let r = as_role("duty_watch", "DELETE", &format!("/api/events/{e}/attendees/{other_attendee}"), None);
    assert_eq!((r.status, r.body.clone()), (200, json!({ "success": true, "message": "Attendee removed successfully" })));
    assert_eq!(badge_link(&held), ("unassigned".into(), None));
    assert_eq!(count(&format!("SELECT count(*) AS n FROM event_attendees WHERE id = '{other_attendee}'")), 0);
    let actions = audit_actions(&attendee);
    assert_eq!(actions[0], "attendee_create");
    assert!(actions.contains(&"attendee_update".to_string()) && actions.contains(&"attendee_badge_remove".to_string()), "{actions:?}");
    let r = as_role("quartermaster", "POST", &format!("/api/events/{e}/attendees"), Some(&json!({ "name": "N", "organization": "O", "role": "R" })));
    assert_eq!(r.status, 403, "attendee writes are DW+: {}", r.text);
}

#[test]
fn two_attendees_racing_for_one_badge_one_wins() {
    let e = id(&active_event());
    let (badge, _) = badge("active");
    let first = id(&add_attendee(&e, json!({})).body);
    let second = id(&add_attendee(&e, json!({})).body);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let racers: Vec<_> = [first.clone(), second.clone()]
            .into_iter()
            .map(|a| {
                let (e, badge) = (e.clone(), badge.clone());
                s.spawn(move || as_role("duty_watch", "POST", &format!("/api/events/{e}/attendees/{a}/assign-badge"), Some(&json!({ "badgeId": badge }))).status)
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 409], "{statuses:?}");
    let holders = count(&format!("SELECT count(*) AS n FROM event_attendees WHERE badge_id = '{badge}'"));
    assert_eq!(holders, 1);
    let (kind, holder) = badge_link(&badge);
    assert!(kind == "event" && (holder == Some(first) || holder == Some(second)));
}

// ------------------------------------------------------------------ the kiosk flow

#[test]
fn attendees_scan_in_at_a_kiosk_and_closing_returns_the_badges() {
    let (kiosk_id, key) = kiosk();
    let event = active_event();
    let e = id(&event);
    let (alice, alice_badge, alice_serial) = attendee_with_badge(&e);
    let (bob, bob_badge, _) = attendee_with_badge(&e);

    let r = event_scan(&key, &alice_serial.to_lowercase(), None);
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["direction"].as_str(), r.body["attendee"]["status"].as_str()), (Some("in"), Some("checked_in")));
    assert_eq!((r.body["checkin"]["kioskId"].as_str(), r.body["event"]["id"].as_str()), (Some(kiosk_id.as_str()), Some(e.as_str())));
    assert_eq!(r.body["checkin"]["eventAttendeeId"], json!(alice));
    let first_in = r.body["checkin"]["timestamp"].as_str().unwrap().to_string();
    let r = event_scan(&key, &alice_serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("DUPLICATE_SCAN")), "{}", r.text);
    assert_eq!(r.body["details"]["lastTimestamp"], json!(first_in));
    let s = stats(&e);
    assert_eq!((s["totalAttendees"].as_i64(), s["activeAttendees"].as_i64(), s["onSite"].as_i64(), s["pending"].as_i64(), s["checkedOut"].as_i64()),
               (Some(2), Some(1), Some(1), Some(1), Some(0)), "{s}");
    let pushed = updates_of(&e).into_iter().find(|u| u["action"] == "checkin").expect("event:update checkin pushed");
    assert_eq!((pushed["attendeeId"].as_str(), pushed["direction"].as_str(), pushed["kioskId"].as_str()), (Some(alice.as_str()), Some("in"), Some(kiosk_id.as_str())));
    assert_eq!(sql(&format!("SELECT last_used IS NOT NULL AS used FROM badges WHERE id = '{alice_badge}'"))[0]["used"], true);

    // Staff may scan for an attendee; the direction alternates.
    let r = as_role("duty_watch", "POST", "/api/events/scan", Some(&json!({ "serialNumber": alice_serial, "timestamp": at(3_000) })));
    assert_eq!((r.status, r.body["direction"].as_str(), r.body["checkin"]["kioskId"].as_str()), (201, Some("out"), Some("manual-entry")), "{}", r.text);
    let s = stats(&e);
    assert_eq!((s["checkedOut"].as_i64(), s["onSite"].as_i64(), s["totalCheckins"].as_i64()), (Some(1), Some(0), Some(2)), "{s}");
    assert_eq!(audit_actions(r.body["checkin"]["id"].as_str().unwrap()), ["event_checkin_create"]);

    // An event badge is not a member badge, and the other way round.
    let r = scan(&key, &alice_serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_TYPE_NOT_SUPPORTED")), "{}", r.text);
    let member = holder();
    let r = event_scan(&key, &member.serial, None);
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_TYPE_NOT_SUPPORTED")), "{}", r.text);

    // Close: attendees expire, badges return to the pool, the attendee keeps the badge as history.
    let r = admin("POST", &format!("/api/events/{e}/close"), None);
    assert_eq!((r.status, r.body["expiredCount"].as_i64(), r.body["event"]["status"].as_str()), (200, Some(2), Some("completed")), "{}", r.text);
    for (attendee, badge) in [(&alice, &alice_badge), (&bob, &bob_badge)] {
        assert_eq!(badge_link(badge), ("unassigned".into(), None));
        let row = &sql(&format!("SELECT status, badge_id::text AS badge, access_end::text AS access_end FROM event_attendees WHERE id = '{attendee}'"))[0];
        assert_eq!((row["status"].as_str(), row["badge"].as_str()), (Some("expired"), Some(badge.as_str())));
        assert!(row["access_end"].is_string());
    }
    let pushes: Vec<_> = stream("badges").into_iter().filter(|(_, d)| d["badgeId"] == json!(bob_badge)).map(|(_, d)| d["assignmentType"].clone()).collect();
    assert_eq!(pushes, [json!("event"), json!("unassigned")]);
    assert_eq!(updates_of(&e).iter().filter(|u| u["action"] == "closed").count(), 1);
    let s = stats(&e);
    assert_eq!((s["expired"].as_i64(), s["activeAttendees"].as_i64()), (Some(2), Some(0)));
    let r = event_scan(&key, &alice_serial, Some(&at(6_000)));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_UNASSIGNED")), "a returned badge admits nobody: {}", r.text);
}

#[test]
fn event_scans_are_refused_with_clear_codes() {
    let (_, key) = kiosk();
    let scan_code = |serial: &str| {
        let r = event_scan(&key, serial, None);
        (r.status, r.body["error"].as_str().unwrap_or_default().to_string())
    };
    let draft = id(&event_with(json!({})));
    let (_, _, serial) = attendee_with_badge(&draft);
    assert_eq!(scan_code(&serial), (409, "EVENT_NOT_ACTIVE".into()));
    let future = id(&event_with(json!({ "status": "active", "startDate": day(30), "endDate": day(31) })));
    let (_, _, serial) = attendee_with_badge(&future);
    assert_eq!(scan_code(&serial), (409, "EVENT_NOT_IN_PROGRESS".into()));

    let e = id(&active_event());
    for (extra, code) in [
        (json!({ "status": "expired" }), "ATTENDEE_EXPIRED"),
        (json!({ "accessStart": day(-5), "accessEnd": day(-3) }), "ATTENDEE_EXPIRED"),
        (json!({ "status": "denied" }), "ATTENDEE_DENIED"),
        (json!({ "accessStart": day(3) }), "ACCESS_NOT_STARTED"),
    ] {
        let (b, serial) = badge("active");
        let mut body = extra.clone();
        body["badgeId"] = json!(b);
        assert_eq!(add_attendee(&e, body).status, 201);
        assert_eq!(scan_code(&serial), (403, code.to_string()), "{extra}");
    }
    assert_eq!(count(&format!("SELECT count(*) AS n FROM event_checkins c JOIN event_attendees a ON a.id = c.event_attendee_id WHERE a.event_id = '{e}'")), 0);

    let unknown = unique("NOPE");
    assert_eq!(scan_code(&unknown), (404, "BADGE_NOT_FOUND".into()));
    let alert = stream("alerts").into_iter().find(|(_, d)| d["badgeSerial"] == json!(unknown.to_uppercase()));
    assert!(alert.is_some_and(|(_, d)| d["alertType"] == "badge_unknown"), "an unknown badge raises an alert");
    let (_, unassigned) = badge("active");
    assert_eq!(scan_code(&unassigned), (400, "BADGE_UNASSIGNED".into()));
    let (_, lost) = badge("lost");
    assert_eq!(scan_code(&lost), (403, "BADGE_INACTIVE".into()));
    let r = event_scan(&key, "X", Some("2020-01-01T00:00:00Z"));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("INVALID_TIMESTAMP")), "{}", r.text);
    assert_validation_error(&event_scan(&key, "", None), "empty serial");

    // Without autoExpireBadges a closed event keeps its badges, and they no longer admit anyone.
    let kept = id(&event_with(json!({ "status": "active", "autoExpireBadges": false })));
    let (attendee, b, serial) = attendee_with_badge(&kept);
    let r = admin("POST", &format!("/api/events/{kept}/close"), None);
    assert_eq!((r.status, r.body["expiredCount"].as_i64()), (200, Some(0)));
    assert_eq!(badge_link(&b), ("event".into(), Some(attendee.clone())));
    assert_eq!(scan_code(&serial), (409, "EVENT_NOT_ACTIVE".into()));
    let r = add_attendee(&kept, json!({}));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("EVENT_CLOSED")), "{}", r.text);
    let r = as_key("display", "POST", "/api/events/scan", Some(&json!({ "serialNumber": serial })));
    assert_eq!(r.status, 403, "display keys cannot scan: {}", r.text);
}

#[test]
fn closing_while_attendees_scan_leaves_no_scan_after_the_close() {
    let (_, key) = kiosk();
    let e = id(&active_event());
    let attendees: Vec<(String, String, String)> = (0..6).map(|_| attendee_with_badge(&e)).collect();
    let (scans, close): (Vec<u16>, u16) = std::thread::scope(|s| {
        let scanners: Vec<_> = attendees
            .iter()
            .map(|(_, _, serial)| {
                let (key, serial) = (key.clone(), serial.clone());
                s.spawn(move || event_scan(&key, &serial, None).status)
            })
            .collect();
        let closer = s.spawn(|| admin("POST", &format!("/api/events/{e}/close"), None).status);
        (scanners.into_iter().map(|h| h.join().unwrap()).collect(), closer.join().unwrap())
    });
    assert_eq!(close, 200);
    assert!(scans.iter().all(|s| [201, 400, 409].contains(s)), "{scans:?}");
    let recorded = count(&format!(
        "SELECT count(*) AS n FROM event_checkins c JOIN event_attendees a ON a.id = c.event_attendee_id WHERE a.event_id = '{e}'"
    ));
    assert_eq!(recorded, scans.iter().filter(|s| **s == 201).count() as i64, "every accepted scan and only those: {scans:?}");
    for (attendee, badge, _) in &attendees {
        assert_eq!(badge_link(badge), ("unassigned".into(), None));
        assert_eq!(sql(&format!("SELECT status FROM event_attendees WHERE id = '{attendee}'"))[0]["status"], "expired");
    }
}

#[test]
fn deleting_an_event_cascades_and_frees_its_badges() {
    let (_, key) = kiosk();
    let e = id(&active_event());
    let (attendee, badge, serial) = attendee_with_badge(&e);
    assert_eq!(event_scan(&key, &serial, None).status, 201);
    let visit = sql(&format!(
        "INSERT INTO visitors (name, visit_type, kiosk_id, event_id) VALUES ('Guest of the course', 'guest', 'k', '{e}') RETURNING id::text AS id"
    ))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin("DELETE", &format!("/api/events/{e}"), None);
    assert_eq!((r.status, r.body.clone()), (200, json!({ "success": true, "message": "Event deleted successfully" })));
    assert_eq!(count(&format!("SELECT count(*) AS n FROM event_attendees WHERE id = '{attendee}'")), 0);
    assert_eq!(count(&format!("SELECT count(*) AS n FROM event_checkins WHERE event_attendee_id = '{attendee}'")), 0);
    assert_eq!(sql(&format!("SELECT event_id FROM visitors WHERE id = '{visit}'"))[0]["event_id"], Value::Null, "the visit survives");
    assert_eq!(badge_link(&badge), ("unassigned".into(), None));
    assert_eq!(updates_of(&e).last().unwrap()["action"], "deleted");
    assert_eq!(admin("GET", &format!("/api/events/{e}"), None).status, 404);
    assert_eq!(admin("DELETE", &format!("/api/events/{e}"), None).status, 404);
    assert_eq!(audit_actions(&e).last().map(String::as_str), Some("event_delete"));
    sql_exec(&format!("DELETE FROM visitors WHERE id = '{visit}'"));
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_see_event_updates() {
    let relay = start_relay(|_| {}).await;
    let mut client = connect(&ws_url(&relay), &session("quartermaster").token).await;
    client.subscribe("events", None).await;
    let event = tokio::task::spawn_blocking(|| event_with(json!({}))).await.unwrap();
    let frame = client.until(Duration::from_secs(10), |v| v["event"] == "event:update" && v["data"]["id"] == event["id"]).await;
    assert_eq!((frame["data"]["action"].as_str(), frame["data"]["status"].as_str()), (Some("created"), Some("draft")));
    relay.shutdown().await;
}
