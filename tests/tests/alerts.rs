//! Security alerts through HTTP against the real host, components, PostgreSQL and Redis.

#[path = "support/kiosk.rs"]
mod kiosk;

use kiosk::*;
use sentinel_tests::fixtures::{admin, as_key, as_role, user};
use sentinel_tests::{request, sql};
use serde_json::{json, Value};

fn alert_body(kiosk_id: &str, serial: Option<&str>) -> Value {
    json!({ "alertType": "unauthorized_access", "severity": "critical", "badgeSerial": serial, "kioskId": kiosk_id,
            "message": "Door forced", "details": { "door": "north" } })
}

#[test]
fn admins_and_kiosks_raise_alerts_and_identical_ones_are_suppressed() {
    let kiosk_id = unique("door-");
    let r = admin("POST", "/api/security-alerts", Some(&alert_body(&kiosk_id, Some("S-1"))));
    assert_eq!(r.status, 201, "{}", r.text);
    let a = &r.body;
    assert_eq!((a["status"].as_str(), a["kioskId"].as_str(), a["severity"].as_str()), (Some("active"), Some(kiosk_id.as_str()), Some("critical")));
    assert_eq!(a["details"], json!({ "door": "north" }));
    assert_eq!((a["acknowledgedAt"].clone(), a["acknowledgedBy"].clone()), (Value::Null, Value::Null));
    // Same type, serial and kiosk within 5 minutes: the existing alert is kept.
    let again = admin("POST", "/api/security-alerts", Some(&alert_body(&kiosk_id, Some("S-1"))));
    assert_eq!((again.status, again.body["id"].clone()), (201, a["id"].clone()), "{}", again.text);
    assert_eq!(sql(&format!("SELECT count(*) AS n FROM security_alerts WHERE kiosk_id = '{kiosk_id}'"))[0]["n"], 1);
    // A different serial (or none) is a different alert.
    assert_ne!(admin("POST", "/api/security-alerts", Some(&alert_body(&kiosk_id, None))).body["id"], a["id"]);
    // Both calls succeeded, so both are audited; the suppressed one records what it absorbed.
    let audit = sql(&format!(
        "SELECT coalesce((details->>'suppressed')::boolean, false) AS suppressed, details->'after'->>'id' AS alert, details->'request'->>'message' AS message
         FROM audit_log WHERE action = 'alert_create' AND entity_id = '{}' ORDER BY created_at, id",
        a["id"].as_str().unwrap()
    ));
    assert_eq!(audit, vec![
        json!({ "suppressed": false, "alert": a["id"], "message": null }),
        json!({ "suppressed": true, "alert": a["id"], "message": "Door forced" }),
    ]);
    // The suppressed duplicate pushed nothing.
    assert_eq!(stream("alerts").iter().filter(|(_, d)| d["id"] == a["id"]).count(), 1);
    // Kiosk keys record their own kiosk id (and need not send one).
    let (own_kiosk, key) = kiosk();
    let mut body = alert_body("ignored", None);
    body.as_object_mut().unwrap().remove("kioskId");
    let r = with_key(&key, "POST", "/api/security-alerts", Some(&body));
    assert_eq!((r.status, r.body["kioskId"].clone()), (201, json!(own_kiosk)), "{}", r.text);
}

#[test]
fn create_validation() {
    let k = unique("v-");
    let mut missing_serial = alert_body(&k, None);
    missing_serial.as_object_mut().unwrap().remove("badgeSerial");
    let mut missing_kiosk = alert_body(&k, None);
    missing_kiosk.as_object_mut().unwrap().remove("kioskId");
    for (body, what) in [
        (missing_serial, "badgeSerial key is required"),
        (missing_kiosk, "users must give kioskId"),
        (json!({ "alertType": "fire", "severity": "critical", "badgeSerial": null, "kioskId": k, "message": "m" }), "bad type"),
        (json!({ "alertType": "system", "severity": "huge", "badgeSerial": null, "kioskId": k, "message": "m" }), "bad severity"),
        (json!({ "alertType": "system", "severity": "info", "badgeSerial": null, "kioskId": k, "message": "" }), "empty message"),
        (json!({ "alertType": "system", "severity": "info", "badgeSerial": null, "kioskId": k, "message": "m".repeat(501) }), "long message"),
        (json!({ "alertType": "system", "severity": "info", "badgeSerial": null, "kioskId": k, "message": "m", "memberId": "x" }), "bad member uuid"),
        (json!({ "alertType": "system", "severity": "info", "badgeSerial": null, "kioskId": k, "message": "m", "details": [1] }), "details not an object"),
        (json!({ "alertType": "system", "severity": "info", "badgeSerial": null, "kioskId": k, "message": "m", "extra": 1 }), "unknown field"),
    ] {
        assert_validation_error(&admin("POST", "/api/security-alerts", Some(&body)), what);
    }
    // memberId is not validated against members.
    let body = json!({ "alertType": "system", "severity": "info", "badgeSerial": null, "kioskId": k, "message": "m", "memberId": "00000000-0000-0000-0000-000000000000" });
    assert_eq!(admin("POST", "/api/security-alerts", Some(&body)).status, 201);
}

/// Issue 13, finding 7: `details` are bounded (size, properties, depth) with a clear 400.
#[test]
fn alert_details_are_bounded() {
    let raise = |details: Value| {
        let body = json!({ "alertType": "system", "severity": "info", "badgeSerial": null, "kioskId": unique("big-"), "message": "m", "details": details });
        as_key("kiosk", "POST", "/api/security-alerts", Some(&body))
    };
    let too_big = raise(json!({ "blob": "x".repeat(5000) }));
    assert_eq!((too_big.status, too_big.body["error"].as_str()), (400, Some("VALIDATION_ERROR")), "{}", too_big.text);
    assert!(too_big.text.contains("4096 bytes"), "{}", too_big.text);
    let deep = raise(json!({ "a": { "b": { "c": { "d": { "e": 1 } } } } }));
    assert_eq!(deep.status, 400, "{}", deep.text);
    assert!(deep.text.contains("4 levels"), "{}", deep.text);
    let wide: serde_json::Map<String, Value> = (0..65).map(|i| (format!("k{i}"), json!(i))).collect();
    let wide = raise(Value::Object(wide));
    assert_eq!(wide.status, 400, "{}", wide.text);
    assert!(wide.text.contains("64 properties"), "{}", wide.text);
    let fine = raise(json!({ "a": { "b": { "c": [1, 2, 3] } }, "note": "x".repeat(3000) }));
    assert_eq!(fine.status, 201, "{}", fine.text);
}

/// Issue 13, finding 7: the active list is paged (default 50, at most 100 per page) with its total.
#[test]
fn the_active_alert_list_is_paged() {
    for _ in 0..3 {
        assert_eq!(admin("POST", "/api/security-alerts", Some(&alert_body(&unique("page-"), None))).status, 201);
    }
    let r = as_role("duty_watch", "GET", "/api/security-alerts/active?limit=2", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["alerts"].as_array().unwrap().len(), r.body["count"].as_i64(), r.body["limit"].as_i64()), (2, Some(2), Some(2)));
    let total = r.body["total"].as_i64().unwrap();
    assert!(total >= 3, "{}", r.text);
    assert_eq!(r.body["totalPages"].as_i64(), Some((total + 1) / 2));
    let page2 = as_role("duty_watch", "GET", "/api/security-alerts/active?limit=2&page=2", None);
    assert_ne!(page2.body["alerts"][0]["id"], r.body["alerts"][0]["id"]);
    let default = as_role("duty_watch", "GET", "/api/security-alerts/active", None);
    assert_eq!(default.body["limit"], 50);
    assert!(default.body["alerts"].as_array().unwrap().len() <= 50);
    for bad in ["limit=0", "limit=101", "page=0", "limit=x"] {
        let r = as_role("duty_watch", "GET", &format!("/api/security-alerts/active?{bad}"), None);
        assert_eq!((r.status, r.body["error"].as_str()), (400, Some("VALIDATION_ERROR")), "{bad}: {}", r.text);
    }
}

#[test]
fn acknowledge_once_and_read_in_any_status() {
    let kiosk_id = unique("ack-");
    let id = admin("POST", "/api/security-alerts", Some(&alert_body(&kiosk_id, Some("X")))).body["id"].as_str().unwrap().to_string();
    let active = as_role("duty_watch", "GET", "/api/security-alerts/active?limit=100", None);
    assert_eq!(active.status, 200, "{}", active.text);
    assert!(active.body["alerts"].as_array().unwrap().iter().any(|a| a["id"] == json!(id)));
    assert_eq!(active.body["count"].as_u64().unwrap() as usize, active.body["alerts"].as_array().unwrap().len());

    let r = as_role("duty_watch", "POST", &format!("/api/security-alerts/{id}/acknowledge"), Some(&json!({ "adminId": "00000000-0000-0000-0000-000000000000", "note": "checked" })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "Security alert acknowledged successfully");
    let alert = &r.body["alert"];
    assert_eq!((alert["status"].as_str(), alert["acknowledgeNote"].as_str()), (Some("acknowledged"), Some("checked")));
    assert_eq!(alert["acknowledgedBy"], json!(user("duty_watch").id), "the caller, not the body's adminId");
    assert!(alert["acknowledgedAt"].is_string());
    let r = as_role("duty_watch", "POST", &format!("/api/security-alerts/{id}/acknowledge"), Some(&json!({})));
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("already acknowledged"));
    assert_eq!(as_role("duty_watch", "POST", &format!("/api/security-alerts/{id}/dismiss"), Some(&json!({}))).status, 400);
    let r = as_role("duty_watch", "GET", &format!("/api/security-alerts/{id}"), None);
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("acknowledged")), "{}", r.text);
    let active = as_role("duty_watch", "GET", "/api/security-alerts/active?limit=100", None);
    assert!(!active.body["alerts"].as_array().unwrap().iter().any(|a| a["id"] == json!(id)));
    assert_eq!(sql(&format!("SELECT count(*) AS n FROM audit_log WHERE action = 'alert_acknowledge' AND entity_id = '{id}'"))[0]["n"], 1);

    let other = admin("POST", "/api/security-alerts", Some(&alert_body(&unique("dis-"), None))).body["id"].as_str().unwrap().to_string();
    let r = as_role("executive", "POST", &format!("/api/security-alerts/{other}/dismiss"), Some(&json!({})));
    assert_eq!((r.status, r.body["alert"]["status"].as_str()), (200, Some("dismissed")), "{}", r.text);
    let r = as_role("duty_watch", "POST", &format!("/api/security-alerts/{other}/acknowledge"), Some(&json!({})));
    assert!(r.status == 400 && r.body["message"].as_str().unwrap().contains("already dismissed"), "{}", r.text);

    let zero = "00000000-0000-0000-0000-000000000000";
    let r = as_role("duty_watch", "GET", &format!("/api/security-alerts/{zero}"), None);
    assert!(r.status == 404 && r.body["message"].as_str().unwrap().contains(zero));
    assert_eq!(as_role("duty_watch", "POST", &format!("/api/security-alerts/{zero}/acknowledge"), Some(&json!({}))).status, 404);
    assert_eq!(as_role("duty_watch", "GET", "/api/security-alerts/bad-id", None).status, 400);
    assert_validation_error(&as_role("duty_watch", "POST", &format!("/api/security-alerts/{other}/acknowledge"), Some(&json!({ "adminId": "x" }))), "bad adminId");
}

#[test]
fn simultaneous_identical_alerts_all_return_the_one_alert() {
    // Requests that lose the suppression race still answer 201 with the alert that won (never a null body).
    let kiosk_id = unique("burst-");
    let bodies: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| {
            let body = alert_body(&kiosk_id, Some("S-9"));
            s.spawn(move || {
                let r = admin("POST", "/api/security-alerts", Some(&body));
                assert_eq!(r.status, 201, "{}", r.text);
                r.body
            })
        }).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let stored = sql(&format!("SELECT id::text AS id FROM security_alerts WHERE kiosk_id = '{kiosk_id}'"));
    assert_eq!(stored.len(), 1, "{stored:?}");
    for body in &bodies {
        assert!(body.is_object(), "{body}");
        assert_eq!((body["id"].clone(), body["status"].as_str(), body["kioskId"].as_str()), (stored[0]["id"].clone(), Some("active"), Some(kiosk_id.as_str())));
    }
    let audits = sql(&format!("SELECT count(*) AS n FROM audit_log WHERE action = 'alert_create' AND entity_id = '{}'", stored[0]["id"].as_str().unwrap()));
    assert_eq!(audits[0]["n"], 8, "one audit row per successful call");
    assert_eq!(stream("alerts").iter().filter(|(_, d)| d["kioskId"] == json!(kiosk_id)).count(), 1, "one alert:new");
}

#[test]
fn concurrent_acknowledgements_close_an_alert_once() {
    let id = admin("POST", "/api/security-alerts", Some(&alert_body(&unique("race-"), None))).body["id"].as_str().unwrap().to_string();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| {
            let path = format!("/api/security-alerts/{id}/acknowledge");
            s.spawn(move || as_role("duty_watch", "POST", &path, Some(&json!({}))).status)
        }).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 5, "{statuses:?}");
}

#[test]
fn access_rules_per_route() {
    let id = "00000000-0000-0000-0000-000000000000";
    for path in ["/api/security-alerts/active".to_string(), format!("/api/security-alerts/{id}")] {
        assert_eq!(request("GET", &path, &[], None).status, 401);
        assert_eq!(as_role("quartermaster", "GET", &path, None).status, 403, "{path}");
        assert_eq!(as_key("kiosk", "GET", &path, None).status, 403, "{path}");
        assert_eq!(as_key("display", "GET", &path, None).status, 403, "{path}");
    }
    let body = alert_body("k", None);
    assert_eq!(request("POST", "/api/security-alerts", &[], Some(&body)).status, 401);
    assert_eq!(as_role("executive", "POST", "/api/security-alerts", Some(&body)).status, 403);
    assert_eq!(as_key("display", "POST", "/api/security-alerts", Some(&body)).status, 403);
    for action in ["acknowledge", "dismiss"] {
        let path = format!("/api/security-alerts/{id}/{action}");
        assert_eq!(as_role("quartermaster", "POST", &path, Some(&json!({}))).status, 403);
        assert_eq!(as_key("kiosk", "POST", &path, Some(&json!({}))).status, 403);
    }
}
