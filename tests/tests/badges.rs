//! Badges through HTTP against the real host, components, PostgreSQL and Redis.

#[path = "support/kiosk.rs"]
mod kiosk;

use kiosk::*;
use sentinel_tests::fixtures::{admin, as_key, as_role};
use sentinel_tests::{request, sql};
use serde_json::{json, Value};

fn post(path: &str, body: &Value) -> sentinel_tests::Resp {
    admin("POST", path, Some(body))
}

fn link_of(badge: &str) -> Value {
    sql(&format!("SELECT assignment_type, assigned_to_id::text AS holder, status FROM badges WHERE id = '{badge}'"))[0].clone()
}

#[test]
fn create_normalises_serials_and_rejects_duplicates() {
    let serial = unique("ab-");
    let r = post("/api/badges", &json!({ "serialNumber": format!("  {serial} ") }));
    assert_eq!(r.status, 201, "{}", r.text);
    let b = &r.body;
    assert_eq!(b["serialNumber"], json!(serial.to_uppercase()));
    assert_eq!((b["assignmentType"].as_str(), b["status"].as_str()), (Some("unassigned"), Some("active")));
    assert_eq!((b["assignedTo"].clone(), b["lastUsed"].clone()), (Value::Null, Value::Null));
    assert!(b["badgeStatusId"].is_string());
    let r = post("/api/badges", &json!({ "serialNumber": serial.to_lowercase() }));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains(&serial.to_uppercase()));
    let r = as_role("quartermaster", "GET", &format!("/api/badges/serial/{}", serial.to_lowercase()), None);
    assert_eq!(r.body["id"], b["id"], "{}", r.text);
    let r = as_key("kiosk", "GET", &format!("/api/badges/serial/{serial}"), None);
    assert_eq!(r.status, 200, "kiosks may look up serials: {}", r.text);
    let r = as_role("quartermaster", "GET", "/api/badges/serial/NO-SUCH-SERIAL", None);
    assert!(r.status == 404 && r.body["message"].as_str().unwrap().contains("NO-SUCH-SERIAL"));
}

#[test]
fn create_assigned_to_a_member_links_both_sides() {
    let division = division();
    let member = member_in(&division, "active");
    let r = post("/api/badges", &json!({ "serialNumber": unique("m-"), "assignmentType": "member", "assignedToId": member }));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["assignedTo"]["type"], "member");
    assert_eq!(r.body["assignedTo"]["name"], "S1 Test Member");
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(sql(&format!("SELECT badge_id::text AS b FROM members WHERE id = '{member}'"))[0]["b"], json!(id));
    // The member now holds a badge.
    let r = post("/api/badges", &json!({ "serialNumber": unique("m2-"), "assignmentType": "member", "assignedToId": member }));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("MEMBER_HAS_BADGE")), "{}", r.text);
    assert_validation_error(&post("/api/badges", &json!({ "serialNumber": unique("x-"), "assignmentType": "member" })), "holder missing");
    assert_validation_error(&post("/api/badges", &json!({ "serialNumber": unique("x-"), "assignedToId": member })), "type missing");
    assert_eq!(post("/api/badges", &json!({ "serialNumber": unique("x-"), "assignmentType": "member", "assignedToId": "00000000-0000-0000-0000-000000000000" })).status, 404);
    for (body, what) in [
        (json!({}), "missing serial"),
        (json!({ "serialNumber": "" }), "empty serial"),
        (json!({ "serialNumber": "x".repeat(101) }), "long serial"),
        (json!({ "serialNumber": "A", "status": "stolen" }), "bad status"),
        (json!({ "serialNumber": "A", "assignmentType": "pet" }), "bad type"),
        (json!({ "serialNumber": "A", "color": "red" }), "unknown field"),
    ] {
        assert_validation_error(&post("/api/badges", &body), what);
    }
}

#[test]
fn assign_follows_the_rules_in_order() {
    let division = division();
    let member = member_in(&division, "active");
    let (badge_id, _) = badge("active");
    let path = format!("/api/badges/{badge_id}/assign");
    let zero = "00000000-0000-0000-0000-000000000000";
    assert_eq!(post(&format!("/api/badges/{zero}/assign"), &json!({ "assignmentType": "member", "assignedToId": member })).status, 404);
    let r = post(&path, &json!({ "assignmentType": "member", "assignedToId": zero }));
    assert!(r.status == 404 && r.body["message"].as_str().unwrap().contains(zero), "{}", r.text);
    assert_validation_error(&post(&path, &json!({ "assignmentType": "unassigned", "assignedToId": member })), "unassigned type");
    let r = post(&path, &json!({ "assignmentType": "member", "assignedToId": member }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["assignedToId"], json!(member));
    assert_eq!(post(&path, &json!({ "assignmentType": "member", "assignedToId": member })).status, 200, "idempotent");
    let other = member_in(&division, "active");
    let r = post(&path, &json!({ "assignmentType": "member", "assignedToId": other }));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("BADGE_ALREADY_ASSIGNED")), "{}", r.text);
    let (second, _) = badge("active");
    let r = post(&format!("/api/badges/{second}/assign"), &json!({ "assignmentType": "member", "assignedToId": member }));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("MEMBER_HAS_BADGE")), "{}", r.text);
    let (lost, _) = badge("lost");
    let r = post(&format!("/api/badges/{lost}/assign"), &json!({ "assignmentType": "member", "assignedToId": other }));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("BADGE_NOT_ACTIVE")), "{}", r.text);
    // Visitors hold badges too.
    let visitor = sql("INSERT INTO visitors (name, visit_type, kiosk_id) VALUES ('Vera Visitor', 'guest', 'k') RETURNING id::text AS id")[0]["id"].as_str().unwrap().to_string();
    let r = post(&format!("/api/badges/{second}/assign"), &json!({ "assignmentType": "visitor", "assignedToId": visitor }));
    assert_eq!((r.status, r.body["assignedTo"]["name"].as_str()), (200, Some("Vera Visitor")), "{}", r.text);
    assert_eq!(sql(&format!("SELECT temporary_badge_id::text AS b FROM visitors WHERE id = '{visitor}'"))[0]["b"], json!(second));
    // The idempotent repeat changes nothing but is a successful call: audited with changed = false.
    let audits = sql(&format!(
        "SELECT details->>'assignedToId' AS holder, (details->>'changed')::boolean AS changed FROM audit_log
         WHERE action = 'badge_assign' AND entity_id = '{badge_id}' ORDER BY created_at, id"
    ));
    assert_eq!(audits, vec![json!({ "holder": member, "changed": true }), json!({ "holder": member, "changed": false })]);
    assert_eq!(sql(&format!("SELECT count(*) AS n FROM members WHERE badge_id = '{badge_id}'"))[0]["n"], 1);
}

#[test]
fn concurrent_assignments_of_one_badge_leave_one_holder() {
    let division = division();
    let members: Vec<String> = (0..8).map(|_| member_in(&division, "active")).collect();
    let (badge_id, _) = badge("active");
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = members.iter().map(|m| {
            let (m, path) = (m.clone(), format!("/api/badges/{badge_id}/assign"));
            s.spawn(move || post(&path, &json!({ "assignmentType": "member", "assignedToId": m })).status)
        }).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
    let holders = sql(&format!("SELECT count(*) AS n FROM members WHERE badge_id = '{badge_id}'"));
    assert_eq!(holders[0]["n"], 1);
}

#[test]
fn unassign_clears_every_link_and_is_idempotent() {
    let h = holder();
    let r = post(&format!("/api/badges/{}/unassign", h.badge), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["assignmentType"].as_str(), r.body["assignedToId"].clone(), r.body["assignedTo"].clone()), (Some("unassigned"), Value::Null, Value::Null));
    assert_eq!(sql(&format!("SELECT badge_id FROM members WHERE id = '{}'", h.member))[0]["badge_id"], Value::Null);
    assert_eq!(post(&format!("/api/badges/{}/unassign", h.badge), &json!({})).status, 200);
    assert_eq!(post("/api/badges/00000000-0000-0000-0000-000000000000/unassign", &json!({})).status, 404);
}

#[test]
fn status_changes_inactive_unassigns_lost_keeps_the_holder() {
    let h = holder();
    let r = admin("PATCH", &format!("/api/badges/{}", h.badge), Some(&json!({ "status": "lost" })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(link_of(&h.badge), json!({ "assignment_type": "member", "holder": h.member, "status": "lost" }));
    let r = admin("PATCH", &format!("/api/badges/{}", h.badge), Some(&json!({ "status": "inactive" })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(link_of(&h.badge), json!({ "assignment_type": "unassigned", "holder": null, "status": "inactive" }));
    assert_eq!(sql(&format!("SELECT badge_id FROM members WHERE id = '{}'", h.member))[0]["badge_id"], Value::Null);
    // Serial changes and duplicate serials.
    let (other, other_serial) = badge("active");
    let r = admin("PATCH", &format!("/api/badges/{other}"), Some(&json!({ "serialNumber": h.serial.to_lowercase() })));
    assert_eq!(r.status, 409, "{}", r.text);
    let fresh = unique("new-");
    let r = admin("PATCH", &format!("/api/badges/{other}"), Some(&json!({ "serialNumber": fresh })));
    assert_eq!(r.body["serialNumber"], json!(fresh.to_uppercase()), "{}", r.text);
    let _ = other_serial;
    // Assignment through PATCH follows the assign rules.
    let member = member_in(&h.division, "active");
    let r = admin("PATCH", &format!("/api/badges/{other}"), Some(&json!({ "assignmentType": "member", "assignedToId": member })));
    assert_eq!((r.status, r.body["assignedToId"].clone()), (200, json!(member)), "{}", r.text);
    let r = admin("PATCH", &format!("/api/badges/{other}"), Some(&json!({ "assignedToId": null })));
    assert_eq!(r.body["assignmentType"], "unassigned", "{}", r.text);
    assert_validation_error(&admin("PATCH", &format!("/api/badges/{other}"), Some(&json!({}))), "empty");
    assert_eq!(admin("PATCH", "/api/badges/00000000-0000-0000-0000-000000000000", Some(&json!({ "status": "lost" }))).status, 404);
}

#[test]
fn delete_refuses_badges_in_use() {
    let h = holder();
    let r = admin("DELETE", &format!("/api/badges/{}", h.badge), None);
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("BADGE_IN_USE")), "{}", r.text);
    let (_, key) = kiosk();
    assert_eq!(scan(&key, &h.serial, None).status, 201);
    post(&format!("/api/badges/{}/unassign", h.badge), &json!({}));
    let r = admin("DELETE", &format!("/api/badges/{}", h.badge), None);
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("BADGE_IN_USE")), "referenced by a check-in: {}", r.text);
    let (free, _) = badge("active");
    let r = admin("DELETE", &format!("/api/badges/{free}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["message"], "Badge deleted successfully");
    assert_eq!(admin("DELETE", &format!("/api/badges/{free}"), None).status, 404);
}

#[test]
fn list_filters_and_stats() {
    let prefix = unique("LST");
    for (suffix, status) in [("A", "active"), ("B", "lost"), ("C", "active")] {
        sql(&format!("INSERT INTO badges (serial_number, status) VALUES ('{prefix}{suffix}', '{status}') RETURNING id"));
    }
    let q = |query: &str| as_role("quartermaster", "GET", &format!("/api/badges?search={}&{query}", prefix.to_lowercase()), None);
    let r = q("limit=2");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["total"].as_i64(), r.body["totalPages"].as_i64()), (Some(3), Some(2)));
    assert_eq!(r.body["badges"][0]["serialNumber"], json!(format!("{prefix}A")));
    assert_eq!(q("status=lost").body["total"], 1);
    assert_eq!(q("unassignedOnly=true").body["total"], 3);
    assert_eq!(q("assignedOnly=true").body["total"], 0);
    for bad in ["status=stolen", "assignmentType=pet", "assignedOnly=yes", "limit=0"] {
        assert_validation_error(&q(bad), bad);
    }
    let r = as_role("quartermaster", "GET", "/api/badges/stats", None);
    assert_eq!(r.status, 200, "{}", r.text);
    let s = &r.body;
    assert_eq!(s["total"].as_i64().unwrap(), s["assigned"].as_i64().unwrap() + s["unassigned"].as_i64().unwrap());
    assert!(s["byStatus"]["lost"].as_i64().unwrap() >= 1);
    assert!(s["byAssignmentType"].is_object());
}

#[test]
fn access_rules_per_route() {
    let id = "00000000-0000-0000-0000-000000000000";
    for path in ["/api/badges".to_string(), "/api/badges/stats".to_string(), format!("/api/badges/{id}")] {
        assert_eq!(request("GET", &path, &[], None).status, 401, "{path}");
        assert_eq!(as_key("kiosk", "GET", &path, None).status, 403, "{path}");
        assert_eq!(as_key("display", "GET", &path, None).status, 403, "{path}");
    }
    assert_eq!(as_key("display", "GET", "/api/badges/serial/X", None).status, 403);
    for (method, path) in [
        ("POST", "/api/badges".to_string()),
        ("PATCH", format!("/api/badges/{id}")),
        ("POST", format!("/api/badges/{id}/assign")),
        ("POST", format!("/api/badges/{id}/unassign")),
        ("DELETE", format!("/api/badges/{id}")),
    ] {
        assert_eq!(as_role("executive", method, &path, Some(&json!({}))).status, 403, "{method} {path}");
        assert_eq!(as_key("kiosk", method, &path, Some(&json!({}))).status, 403, "{method} {path}");
    }
    assert_eq!(as_role("quartermaster", "GET", "/api/badges/stats", None).status, 200, "literal beats :id");
    assert_eq!(as_role("quartermaster", "GET", "/api/badges/nope", None).status, 400);
}
