//! Visitors through HTTP and WebSocket against the real host, components, PostgreSQL, Redis and relay.

#[path = "support/kiosk.rs"]
mod kiosk;

use std::time::Duration;

use kiosk::*;
use sentinel_tests::fixtures::{admin, as_key, as_role, user};
use sentinel_tests::relay::{connect, session, start_relay, ws_url};
use sentinel_tests::{app, request, sql};
use serde_json::{json, Value};

const ZERO: &str = "00000000-0000-0000-0000-000000000000";

fn sign_in(body: &Value) -> sentinel_tests::Resp {
    admin("POST", "/api/visitors", Some(body))
}

/// Signs in a visitor named `name` as an admin; returns the Visitor.
fn visitor(name: &str, extra: Value) -> Value {
    let mut body = json!({ "name": name, "visitType": "guest", "kioskId": "front-desk" });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = sign_in(&body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

fn badge_row(badge: &str) -> Value {
    sql(&format!("SELECT assignment_type, assigned_to_id::text AS holder FROM badges WHERE id = '{badge}'"))[0].clone()
}

fn event(status: &str) -> String {
    let code = unique("EV");
    sql(&format!(
        "INSERT INTO events (name, code, start_date, end_date, status) VALUES ('Course {code}', '{code}', current_date, current_date + 2, '{status}')
         RETURNING id::text AS id"
    ))[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn events_of(channel: &str, event: &str, id_field: &str, id: &str) -> Vec<Value> {
    stream(channel).into_iter().filter(|(e, d)| e == event && d[id_field] == json!(id)).map(|(_, d)| d).collect()
}

fn audits(entity: &str) -> Vec<String> {
    sql(&format!("SELECT action FROM audit_log WHERE entity_id = '{entity}' ORDER BY created_at, id"))
        .into_iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn staff_and_kiosks_sign_visitors_in() {
    let division = division();
    let host = member_in(&division, "active");
    let qm = user("quartermaster");
    let name = unique("Staff Visitor ");
    let body = json!({ "name": name, "organization": "ACME", "visitType": "contractor", "visitReason": "Boiler",
                       "hostMemberId": host, "kioskId": "front-desk", "adminNotes": "escort", "checkInMethod": "kiosk",
                       "createdByAdmin": ZERO });
    let r = as_role("quartermaster", "POST", "/api/visitors", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text);
    let v = &r.body;
    assert_eq!((v["checkInMethod"].as_str(), v["createdByAdmin"].as_str()), (Some("admin_manual"), Some(qm.id.as_str())), "set from the caller");
    assert_eq!((v["kioskId"].as_str(), v["hostMemberId"].as_str(), v["visitType"].as_str()), (Some("front-desk"), Some(host.as_str()), Some("contractor")));
    assert_eq!((v["checkOutTime"].clone(), v["temporaryBadgeId"].clone()), (Value::Null, Value::Null));
    let type_id = sql("SELECT id::text AS id FROM visit_types WHERE code = 'contractor'")[0]["id"].clone();
    assert_eq!(v["visitTypeId"], type_id);
    assert!(v["checkInTime"].as_str().unwrap().ends_with('Z') && v["createdAt"].is_string());
    let stored = sql(&format!("SELECT name, organization, created_by_admin::text AS by FROM visitors WHERE id = '{}'", id(v)));
    assert_eq!(stored[0], json!({ "name": name, "organization": "ACME", "by": qm.id }));
    let audit = sql(&format!("SELECT admin_user_id::text AS actor, details->'after'->>'name' AS name FROM audit_log WHERE action = 'visitor_sign_in' AND entity_id = '{}'", id(v)));
    assert_eq!(audit, vec![json!({ "actor": qm.id, "name": name })]);

    // A kiosk records its own kiosk id and method; visitTypeId alone also names the type.
    let (kiosk_id, key) = kiosk();
    let guest = sql("SELECT id::text AS id FROM visit_types WHERE code = 'guest'")[0]["id"].as_str().unwrap().to_string();
    let r = with_key(&key, "POST", "/api/visitors", Some(&json!({ "name": "Kiosk Kim", "visitType": "guest", "visitTypeId": guest, "kioskId": "claimed" })));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["checkInMethod"].as_str(), r.body["kioskId"].as_str(), r.body["createdByAdmin"].clone()), (Some("kiosk"), Some(kiosk_id.as_str()), Value::Null));
    let audit = sql(&format!("SELECT admin_user_id, details->>'apiKeyId' IS NOT NULL AS by_key FROM audit_log WHERE action = 'visitor_sign_in' AND entity_id = '{}'", id(&r.body)));
    assert_eq!(audit, vec![json!({ "admin_user_id": null, "by_key": true })]);

    // Back-filled record: both times given; and an event reference.
    let ev = event("active");
    let v = visitor(&unique("Back "), json!({ "checkInTime": "2026-01-05T09:00:00Z", "checkOutTime": "2026-01-05T11:30:00.000Z", "eventId": ev }));
    assert_eq!((v["checkInTime"].as_str(), v["checkOutTime"].as_str(), v["eventId"].as_str()), (Some("2026-01-05T09:00:00.000Z"), Some("2026-01-05T11:30:00.000Z"), Some(ev.as_str())));
}

#[test]
fn sign_in_checks_every_reference_and_rule() {
    let name = unique("Refused ");
    let base = json!({ "name": name, "visitType": "guest", "kioskId": "front-desk" });
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    for (extra, what) in [
        (json!({ "eventId": ZERO }), "event"),
        (json!({ "hostMemberId": ZERO }), "host"),
        (json!({ "visitType": "no-such-type" }), "visit type"),
        (json!({ "visitTypeId": ZERO }), "visit type id"),
        (json!({ "temporaryBadgeId": ZERO }), "badge"),
    ] {
        let r = sign_in(&with(extra));
        assert_eq!((r.status, r.body["error"].as_str()), (404, Some("NOT_FOUND")), "{what}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains(if what == "visit type" { "no-such-type" } else { ZERO }), "{what}: {}", r.text);
    }
    let official = sql("SELECT id::text AS id FROM visit_types WHERE code = 'official'")[0]["id"].as_str().unwrap().to_string();
    assert_validation_error(&sign_in(&with(json!({ "visitTypeId": official }))), "visitTypeId names another type than visitType");
    let r = sign_in(&with(json!({ "checkInTime": "2026-03-01T10:00:00Z", "checkOutTime": "2026-03-01T09:59:59Z" })));
    assert_validation_error(&r, "checkout before checkin");
    assert_eq!(r.body["issues"][0]["path"], "checkOutTime");
    let (free, _) = badge("active");
    assert_validation_error(&sign_in(&with(json!({ "checkOutTime": "2030-01-01T00:00:00Z", "temporaryBadgeId": free }))), "badge for a signed-out visitor");

    // Badge rules, with the badges component's codes.
    let (lost, _) = badge("lost");
    let r = sign_in(&with(json!({ "temporaryBadgeId": lost })));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_NOT_ACTIVE")), "{}", r.text);
    let holder = holder();
    let r = sign_in(&with(json!({ "temporaryBadgeId": holder.badge })));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("BADGE_ALREADY_ASSIGNED")), "{}", r.text);
    // Nothing of the refused sign-ins was stored; the refused badges kept their state.
    assert_eq!(sql(&format!("SELECT count(*) AS n FROM visitors WHERE name = '{name}'"))[0]["n"], 0);
    assert_eq!(badge_row(&lost), json!({ "assignment_type": "unassigned", "holder": null }));
    assert_eq!(badge_row(&holder.badge), json!({ "assignment_type": "member", "holder": holder.member }));
    assert_eq!(badge_row(&free)["assignment_type"], "unassigned");

    for (body, what) in [
        (json!({ "visitType": "guest", "kioskId": "k" }), "missing name"),
        (json!({ "name": "", "visitType": "guest", "kioskId": "k" }), "empty name"),
        (json!({ "name": "   ", "visitType": "guest", "kioskId": "k" }), "blank name"),
        (json!({ "name": "x".repeat(201), "visitType": "guest", "kioskId": "k" }), "long name"),
        (json!({ "name": "A", "organization": "o".repeat(201), "visitType": "guest", "kioskId": "k" }), "long organization"),
        (json!({ "name": "A", "kioskId": "k" }), "missing visit type"),
        (json!({ "name": "A", "visitType": "guest" }), "missing kiosk id"),
        (json!({ "name": "A", "visitType": "guest", "kioskId": "k".repeat(51) }), "long kiosk id"),
        (json!({ "name": "A", "visitType": "guest", "kioskId": "k", "hostMemberId": "not-a-uuid" }), "bad host id"),
        (json!({ "name": "A", "visitType": "guest", "kioskId": "k", "checkInTime": "yesterday" }), "bad instant"),
        (json!({ "name": "A", "visitType": "guest", "kioskId": "k", "checkInMethod": "phone" }), "bad method"),
        (json!({ "name": "A", "visitType": "guest", "kioskId": "k", "badge": "x" }), "unknown field"),
    ] {
        assert_validation_error(&sign_in(&body), what);
    }
}

#[test]
fn a_temporary_badge_is_taken_and_returned_on_the_first_checkout_only() {
    let (badge_id, serial) = badge("active");
    let (_, key) = kiosk();
    let name = unique("Badge Visitor ");
    let r = with_key(&key, "POST", "/api/visitors", Some(&json!({ "name": name, "visitType": "guest", "kioskId": "k", "temporaryBadgeId": badge_id.to_uppercase() })));
    assert_eq!(r.status, 201, "{}", r.text);
    let vid = id(&r.body);
    assert_eq!(r.body["temporaryBadgeId"], json!(badge_id));
    assert_eq!(badge_row(&badge_id), json!({ "assignment_type": "visitor", "holder": vid }));
    let b = admin("GET", &format!("/api/badges/{badge_id}"), None);
    assert_eq!(b.body["assignedTo"], json!({ "id": vid, "name": name, "type": "visitor" }));

    // A visitor badge scanned at the member scan endpoint is refused.
    let scan = with_key(&key, "POST", "/api/checkins/scan", Some(&json!({ "serialNumber": serial })));
    assert_eq!((scan.status, scan.body["error"].as_str()), (400, Some("BADGE_TYPE_NOT_SUPPORTED")), "{}", scan.text);

    let path = format!("/api/visitors/{vid}/checkout");
    let first = with_key(&key, "POST", &path, None);
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!((first.body["success"].as_bool(), first.body["message"].as_str()), (Some(true), Some("Visitor checked out successfully")));
    let out = first.body["visitor"]["checkOutTime"].clone();
    assert!(out.is_string(), "{}", first.text);
    assert_eq!(badge_row(&badge_id), json!({ "assignment_type": "unassigned", "holder": null }), "back in the pool");
    assert_eq!(first.body["visitor"]["temporaryBadgeId"], json!(badge_id), "the visit keeps the badge it used");
    std::thread::sleep(Duration::from_millis(20));
    let second = as_role("quartermaster", "POST", &path, None);
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["visitor"]["checkOutTime"], out, "the first checkout time is kept");
    assert_eq!(sql(&format!("SELECT iso(check_out_time) AS t FROM visitors WHERE id = '{vid}'"))[0]["t"], out);

    assert_eq!(events_of("visitors", "visitor:signout", "id", &vid), vec![json!({ "id": vid, "name": name, "checkOutTime": out })], "pushed once");
    let pushes: Vec<String> = events_of("badges", "badge:assignment", "badgeId", &badge_id).iter().map(|d| d["assignmentType"].as_str().unwrap().to_string()).collect();
    assert_eq!(pushes, vec!["visitor", "unassigned"]);
    assert_eq!(audits(&vid), vec!["visitor_sign_in", "visitor_sign_out", "visitor_sign_out"]);
    assert_eq!(audits(&badge_id), vec!["badge_assign", "badge_unassign"]);
    let changed = sql(&format!("SELECT (details->>'changed')::boolean AS c FROM audit_log WHERE action = 'visitor_sign_out' AND entity_id = '{vid}' ORDER BY created_at, id"));
    assert_eq!(changed, vec![json!({ "c": true }), json!({ "c": false })]);

    // The badge can serve the next visitor.
    let next = visitor(&unique("Next "), json!({ "temporaryBadgeId": badge_id }));
    assert_eq!(badge_row(&badge_id)["holder"], next["id"]);

    let r = as_role("quartermaster", "POST", &format!("/api/visitors/{ZERO}/checkout"), None);
    assert!(r.status == 404 && r.body["message"].as_str().unwrap().contains(ZERO), "{}", r.text);
    assert_eq!(as_role("quartermaster", "POST", "/api/visitors/not-an-id/checkout", None).status, 400);
}

#[test]
fn concurrent_sign_ins_with_one_free_badge_give_it_to_one_visitor() {
    let (badge_id, _) = badge("active");
    let name = unique("Racer ");
    let results: Vec<(u16, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let body = json!({ "name": name, "visitType": "guest", "kioskId": "k", "temporaryBadgeId": badge_id });
                s.spawn(move || {
                    let r = sign_in(&body);
                    (r.status, r.body["error"].as_str().map(str::to_string))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|(s, _)| *s == 201).count(), 1, "{results:?}");
    assert!(results.iter().all(|(s, e)| *s == 201 || (*s == 409 && e.as_deref() == Some("BADGE_ALREADY_ASSIGNED"))), "{results:?}");
    let stored = sql(&format!("SELECT id::text AS id, temporary_badge_id::text AS b FROM visitors WHERE name = '{name}'"));
    assert_eq!(stored.len(), 1, "refused sign-ins leave no visitor: {stored:?}");
    assert_eq!(badge_row(&badge_id), json!({ "assignment_type": "visitor", "holder": stored[0]["id"] }));
}

#[test]
fn patch_corrects_visits_and_follows_the_checkout_and_badge_rules() {
    let (first_badge, _) = badge("active");
    let v = visitor(&unique("Patchy "), json!({ "organization": "Old Org", "temporaryBadgeId": first_badge }));
    let vid = id(&v);
    let path = format!("/api/visitors/{vid}");
    let patch = |body: Value| as_role("duty_watch", "PATCH", &path, Some(&body));

    let division = division();
    let host = member_in(&division, "active");
    let r = patch(json!({ "name": "Renamed", "organization": null, "hostMemberId": host, "visitType": "official", "adminNotes": "fixed" }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["name"].as_str(), r.body["organization"].clone(), r.body["visitType"].as_str()), (Some("Renamed"), Value::Null, Some("official")));
    assert_eq!(r.body["hostMemberId"], json!(host));
    let audit = sql(&format!("SELECT details->'before'->>'name' AS before, details->'after'->>'name' AS after FROM audit_log WHERE action = 'visitor_update' AND entity_id = '{vid}'"));
    assert_eq!(audit[0], json!({ "before": v["name"], "after": "Renamed" }));

    // A new badge: taken, the previous one returned; null returns it.
    let (second_badge, _) = badge("active");
    let r = patch(json!({ "temporaryBadgeId": second_badge }));
    assert_eq!((r.status, r.body["temporaryBadgeId"].as_str()), (200, Some(second_badge.as_str())), "{}", r.text);
    assert_eq!(badge_row(&second_badge), json!({ "assignment_type": "visitor", "holder": vid }));
    assert_eq!(badge_row(&first_badge)["assignment_type"], "unassigned");
    let (lost, _) = badge("lost");
    let r = patch(json!({ "temporaryBadgeId": lost }));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_NOT_ACTIVE")), "{}", r.text);
    let other = holder();
    let r = patch(json!({ "temporaryBadgeId": other.badge }));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("BADGE_ALREADY_ASSIGNED")), "{}", r.text);
    assert_eq!(badge_row(&second_badge)["holder"], json!(vid), "a refused change keeps the current badge");
    let r = patch(json!({ "temporaryBadgeId": null }));
    assert_eq!((r.status, r.body["temporaryBadgeId"].clone()), (200, Value::Null), "{}", r.text);
    assert_eq!(badge_row(&second_badge)["assignment_type"], "unassigned");
    let r = patch(json!({ "temporaryBadgeId": second_badge }));
    assert_eq!(r.status, 200, "{}", r.text);

    // Reference and time rules.
    assert_eq!(patch(json!({ "eventId": ZERO })).status, 404);
    assert_eq!(patch(json!({ "hostMemberId": ZERO })).status, 404);
    assert_eq!(patch(json!({ "visitType": "nope" })).status, 404);
    let r = patch(json!({ "checkOutTime": "2000-01-01T00:00:00Z" }));
    assert_validation_error(&r, "checkout before checkin");
    assert_validation_error(&patch(json!({})), "nothing to change");
    assert_validation_error(&patch(json!({ "createdByAdmin": ZERO })), "createdByAdmin is not editable");
    assert_validation_error(&patch(json!({ "name": "" })), "empty name");

    // Setting checkOutTime signs out: badge returned, one visitor:signout; clearing it is refused.
    let out = "2099-01-01T12:00:00.000Z";
    let r = patch(json!({ "checkOutTime": out }));
    assert_eq!((r.status, r.body["checkOutTime"].as_str()), (200, Some(out)), "{}", r.text);
    assert_eq!(badge_row(&second_badge)["assignment_type"], "unassigned");
    assert_eq!(r.body["temporaryBadgeId"], json!(second_badge), "kept as the badge the visit used");
    let r = patch(json!({ "checkOutTime": null }));
    assert_validation_error(&r, "re-admission");
    assert_eq!(r.body["issues"][0]["path"], "checkOutTime");
    let (third, _) = badge("active");
    assert_validation_error(&patch(json!({ "temporaryBadgeId": third })), "badge for a signed-out visitor");
    let again = as_role("quartermaster", "POST", &format!("{path}/checkout"), None);
    assert_eq!(again.body["visitor"]["checkOutTime"].as_str(), Some(out), "checkout keeps the PATCHed time");
    assert_eq!(events_of("visitors", "visitor:signout", "id", &vid).len(), 1);

    assert_eq!(as_role("duty_watch", "PATCH", &format!("/api/visitors/{ZERO}"), Some(&json!({ "name": "X" }))).status, 404);
    assert_eq!(as_role("quartermaster", "PATCH", &path, Some(&json!({ "name": "X" }))).status, 403);
}

#[test]
fn lists_filter_and_page_and_reads_find_one_visit() {
    let division = division();
    let host = member_in(&division, "active");
    let times = ["2025-02-01T08:00:00Z", "2025-02-02T08:00:00Z", "2025-02-03T08:00:00Z", "2025-02-04T08:00:00Z", "2025-02-05T08:00:00Z"];
    let ids: Vec<String> = times
        .iter()
        .enumerate()
        .map(|(i, t)| id(&visitor(&unique("Listed "), json!({ "hostMemberId": host, "checkInTime": t, "visitType": if i % 2 == 0 { "guest" } else { "contractor" } }))))
        .collect();
    let list = |q: &str| {
        let r = as_role("quartermaster", "GET", &format!("/api/visitors?hostMemberId={host}{q}"), None);
        assert_eq!(r.status, 200, "{q}: {}", r.text);
        r.body
    };
    let ids_of = |body: &Value| body["visitors"].as_array().unwrap().iter().map(id).collect::<Vec<_>>();
    let all = list("");
    assert_eq!(ids_of(&all), ids.iter().rev().cloned().collect::<Vec<_>>(), "newest sign-in first");
    assert_eq!((all["total"].as_i64(), all["page"].as_i64(), all["limit"].as_i64(), all["totalPages"].as_i64()), (Some(5), Some(1), Some(50), Some(1)));
    let page = list("&limit=2&page=2");
    assert_eq!(ids_of(&page), vec![ids[2].clone(), ids[1].clone()]);
    assert_eq!((page["total"].as_i64(), page["totalPages"].as_i64()), (Some(5), Some(3)));
    assert_eq!(ids_of(&list("&startDate=2025-02-04")), vec![ids[4].clone(), ids[3].clone()], "start bound alone");
    assert_eq!(ids_of(&list("&endDate=2025-02-02T08:00:00Z")), vec![ids[1].clone(), ids[0].clone()], "end bound alone, inclusive");
    assert_eq!(ids_of(&list("&startDate=2025-02-02&endDate=2025-02-03T23:59:59Z")), vec![ids[2].clone(), ids[1].clone()]);
    assert_eq!(ids_of(&list("&visitType=contractor")), vec![ids[3].clone(), ids[1].clone()]);
    assert_eq!(list("&visitType=official")["total"], 0);
    assert_eq!(list("&limit=2&page=9")["visitors"], json!([]));
    for q in ["?startDate=soon", "?endDate=2025-13-01", "?hostMemberId=nope", "?limit=0", "?limit=101", "?page=0"] {
        assert_validation_error(&as_role("quartermaster", "GET", &format!("/api/visitors{q}"), None), q);
    }

    let r = as_role("quartermaster", "GET", &format!("/api/visitors/{}", ids[0]), None);
    assert_eq!((r.status, r.body["checkInTime"].as_str()), (200, Some("2025-02-01T08:00:00.000Z")), "{}", r.text);
    let r = as_role("quartermaster", "GET", &format!("/api/visitors/{ZERO}"), None);
    assert!(r.status == 404 && r.body["message"].as_str().unwrap().contains(ZERO), "{}", r.text);
    assert_eq!(as_role("quartermaster", "GET", "/api/visitors/12345", None).status, 400);
}

#[test]
fn visitors_on_site_count_in_presence_and_people() {
    let division = division();
    let host = member_in(&division, "active");
    let name = unique("OnSite ");
    let on_site = visitor(&name, json!({ "hostMemberId": host }));
    let gone = visitor(&unique("Gone "), json!({}));
    assert_eq!(admin("POST", &format!("/api/visitors/{}/checkout", id(&gone)), None).status, 200);

    for r in [as_key("kiosk", "GET", "/api/visitors/active", None), as_key("display", "GET", "/api/visitors/active", None), as_role("quartermaster", "GET", "/api/visitors/active", None)] {
        assert_eq!(r.status, 200, "{}", r.text);
        let list = r.body["visitors"].as_array().unwrap();
        assert_eq!(r.body["count"].as_u64(), Some(list.len() as u64));
        assert!(list.iter().any(|v| v["id"] == on_site["id"]) && !list.iter().any(|v| v["id"] == gone["id"]));
        assert!(list.iter().all(|v| v["checkOutTime"].is_null()));
    }
    let presence = as_key("display", "GET", "/api/checkins/presence", None).body;
    assert!(presence["visitorsPresent"].as_i64().unwrap() >= 1, "{presence}");

    let people = as_role("quartermaster", "GET", "/api/checkins/presence/people", None).body;
    let person = people["people"].as_array().unwrap().iter().find(|p| p["id"] == on_site["id"]).expect("the visitor on site").clone();
    assert_eq!((person["type"].as_str(), person["name"].as_str(), person["hostName"].as_str()), (Some("visitor"), Some(name.as_str()), Some("S1 Test Member")));
    assert_eq!((person["hostMemberId"].as_str(), person["kioskId"].as_str(), person["visitType"].as_str()), (Some(host.as_str()), Some("front-desk"), Some("guest")));
    assert!(!people["people"].as_array().unwrap().iter().any(|p| p["id"] == gone["id"]), "signed out: not on site");

    let activity = as_role("quartermaster", "GET", "/api/checkins/activity?limit=100", None).body;
    let items = activity["activity"].as_array().unwrap();
    let item = items.iter().find(|i| i["id"] == on_site["id"]).expect("visitor sign-in in the feed");
    assert_eq!((item["type"].as_str(), item["direction"].as_str(), item["hostName"].as_str()), (Some("visitor"), Some("in"), Some("S1 Test Member")));
    if let Some(item) = items.iter().find(|i| i["id"] == gone["id"]) {
        assert_eq!(item["direction"], "out");
    }
}

#[test]
fn access_of_each_route_by_principal() {
    let v = visitor(&unique("Access "), json!({}));
    let path = format!("/api/visitors/{}", id(&v));
    let body = json!({ "name": "A", "visitType": "guest", "kioskId": "k" });
    // Anonymous: every route is 401.
    for (method, p) in [("GET", "/api/visitors/active".to_string()), ("GET", "/api/visitors".into()), ("POST", "/api/visitors".into()),
                        ("POST", format!("{path}/checkout")), ("GET", path.clone()), ("PATCH", path.clone())] {
        assert_eq!(request(method, &p, &[], Some(&body).filter(|_| method != "GET")).status, 401, "{method} {p}");
    }
    assert_eq!(as_key("display", "GET", "/api/visitors/active", None).status, 200);
    assert_eq!(as_key("display", "GET", "/api/visitors", None).status, 403);
    assert_eq!(as_key("display", "POST", "/api/visitors", Some(&body)).status, 403);
    assert_eq!(as_key("display", "POST", &format!("{path}/checkout"), None).status, 403);
    assert_eq!(as_key("kiosk", "GET", "/api/visitors", None).status, 403);
    assert_eq!(as_key("kiosk", "GET", &path, None).status, 403);
    assert_eq!(as_key("kiosk", "PATCH", &path, Some(&json!({ "name": "B" }))).status, 403);
    assert_eq!(as_key("integration", "GET", "/api/visitors/active", None).status, 403);
    assert_eq!(as_role("quartermaster", "GET", "/api/visitors", None).status, 200);
    assert_eq!(as_role("quartermaster", "GET", &path, None).status, 200);
    assert_eq!(as_role("quartermaster", "PATCH", &path, Some(&json!({ "name": "B" }))).status, 403);
    assert_eq!(as_role("duty_watch", "PATCH", &path, Some(&json!({ "name": "B" }))).status, 200);
    assert_eq!(as_role("developer", "PATCH", &path, Some(&json!({ "name": "C" }))).status, 200);
    assert_eq!(as_key("kiosk", "POST", &format!("{path}/checkout"), None).status, 200);
}

// ------------------------------------------------------------------ realtime

fn is_event(frame: &Value, event: &str) -> bool {
    frame["type"] == "event" && frame["event"] == event
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_see_sign_in_and_sign_out_live() {
    const WAIT: Duration = Duration::from_secs(10);
    let app = app();
    let (host, badge_id) = tokio::task::spawn_blocking(|| {
        let division = division();
        let host = member_in(&division, "active");
        sentinel_tests::sql_exec(&format!("UPDATE members SET rank = 'PO2', first_name = 'Hana', last_name = 'Host' WHERE id = '{host}'"));
        (host, badge("active").0)
    })
    .await
    .unwrap();
    let relay = start_relay(|_| {}).await;
    let staff = session("quartermaster");
    let mut client = connect(&ws_url(&relay), &staff.token).await;
    client.subscribe("visitors", None).await;
    let backfill = client.until(WAIT, |v| is_event(v, "visitors:backfill")).await;
    assert_eq!(backfill["data"]["count"].as_u64(), Some(backfill["data"]["visitors"].as_array().unwrap().len() as u64));
    client.subscribe("presence", None).await;
    client.until(WAIT, |v| is_event(v, "presence:update")).await;
    client.subscribe("badges", None).await;

    let name = unique("Live ");
    let (url, token) = (format!("{}/api/visitors", app.base_url), staff.token.clone());
    let body = json!({ "name": name, "visitType": "guest", "kioskId": "front-desk", "hostMemberId": host, "temporaryBadgeId": badge_id });
    let signed = tokio::task::spawn_blocking(move || request("POST", &url, &[("authorization", &format!("Bearer {token}"))], Some(&body))).await.unwrap();
    assert_eq!(signed.status, 201, "{}", signed.text);
    let vid = id(&signed.body);

    let event = client.until(WAIT, |v| is_event(v, "visitor:signin") && v["data"]["id"] == vid.as_str()).await;
    assert_eq!(event["channel"], "visitors");
    assert_eq!(
        event["data"],
        json!({ "id": vid, "name": name, "organization": "N/A", "visitType": "guest", "checkInTime": signed.body["checkInTime"], "hostName": "PO2 Hana Host" })
    );
    let assignment = client.until(WAIT, |v| is_event(v, "badge:assignment") && v["data"]["badgeId"] == badge_id.as_str()).await;
    assert_eq!((assignment["data"]["assignmentType"].as_str(), assignment["data"]["assignedToId"].as_str(), assignment["data"]["assignedToName"].as_str()), (Some("visitor"), Some(vid.as_str()), Some(name.as_str())));
    let presence = client.until(WAIT, |v| is_event(v, "presence:update")).await;
    let expected = tokio::task::spawn_blocking(|| sql("SELECT count(*) AS n FROM visitors WHERE check_out_time IS NULL")[0]["n"].as_i64().unwrap()).await.unwrap();
    assert!(presence["data"]["visitorsPresent"].as_i64().unwrap() >= 1 && presence["data"]["visitorsPresent"].as_i64().unwrap() <= expected + 1, "{presence}");

    let (url, token) = (format!("{}/api/visitors/{vid}/checkout", app.base_url), staff.token.clone());
    for _ in 0..2 {
        let (url, token) = (url.clone(), token.clone());
        let r = tokio::task::spawn_blocking(move || request("POST", &url, &[("authorization", &format!("Bearer {token}"))], None)).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let out = client.until(WAIT, |v| is_event(v, "visitor:signout") && v["data"]["id"] == vid.as_str()).await;
    assert_eq!(out["data"]["name"], json!(name));
    assert!(out["data"]["checkOutTime"].as_str().unwrap().ends_with('Z'));
    let released = client.until(WAIT, |v| is_event(v, "badge:assignment") && v["data"]["badgeId"] == badge_id.as_str()).await;
    assert_eq!((released["data"]["assignmentType"].as_str(), released["data"]["assignedToId"].clone()), (Some("unassigned"), Value::Null));
    let rest = client.drain_quiet(Duration::from_millis(1500)).await;
    assert!(!rest.iter().any(|f| is_event(f, "visitor:signout") && f["data"]["id"] == vid.as_str()), "the repeated checkout pushes nothing: {rest:?}");

    // A new subscriber's backfill no longer lists the visitor.
    let mut late = connect(&ws_url(&relay), &staff.token).await;
    late.subscribe("visitors", None).await;
    let backfill = late.until(WAIT, |v| is_event(v, "visitors:backfill")).await;
    assert!(!backfill["data"]["visitors"].as_array().unwrap().iter().any(|v| v["id"] == vid.as_str()));
    relay.shutdown().await;
}
