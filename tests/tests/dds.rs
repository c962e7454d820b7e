//! DDS — Duty Day Staff through HTTP and WebSocket against the real host, components,
//! PostgreSQL, Redis and relay: every endpoint and its rules in order, the Lockup responsibility following
//! the DDS, badge proof at kiosks, audit rows, realtime events and concurrency. Today's DDS is one row of
//! the process's database: every test that changes it holds `duty::serial()`.

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

fn accept_as(role: &str, member: &str) -> Resp {
    as_role(role, "POST", &format!("/api/dds/accept/{member}"), None)
}

fn current() -> Value {
    let r = as_role("quartermaster", "GET", "/api/dds/current", None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["assignment"].clone()
}

fn today_rows(member: &str) -> Vec<Value> {
    sql(&format!(
        "SELECT id::text AS id, status, accepted_at IS NOT NULL AS accepted, released_at IS NOT NULL AS released,
                transferred_to::text AS transferred_to, assigned_by::text AS assigned_by, notes
         FROM dds_assignments WHERE member_id = '{member}' AND assigned_date = {TODAY} ORDER BY created_at, id"
    ))
}

fn current_count() -> i64 {
    count(&format!("SELECT count(*) AS n FROM dds_assignments WHERE assigned_date = {TODAY} AND status IN ('pending', 'active')"))
}

/// `dds:update` events of the stream whose assignment is `member`'s.
fn dds_updates_for(member: &str) -> Vec<Value> {
    stream("dds").into_iter().filter(|(e, d)| e == "dds:update" && d["assignment"]["memberId"] == json!(member)).map(|(_, d)| d).collect()
}

fn lockup_moves_to(member: &str) -> Vec<Value> {
    stream("lockup").into_iter().filter(|(e, d)| e == "lockup:transferred" && d["toMemberId"] == json!(member)).map(|(_, d)| d).collect()
}

fn assert_error(r: &Resp, status: u16, code: &str, context: &str) {
    assert_eq!((r.status, r.body["error"].as_str()), (status, Some(code)), "{context}: {}", r.text);
}

#[test]
fn today_reads_current_exists_for_staff_kiosks_and_displays() {
    let _serial = serial();
    clear_duty();
    for (who, r) in [
        ("qm", as_role("quartermaster", "GET", "/api/dds/current", None)),
        ("kiosk", as_key("kiosk", "GET", "/api/dds/current", None)),
        ("display", as_key("display", "GET", "/api/dds/current", None)),
    ] {
        assert_eq!((r.status, r.body.clone()), (200, json!({ "assignment": null })), "{who}");
    }
    let r = as_key("display", "GET", "/api/dds/exists", None);
    assert_eq!((r.status, r.body.clone()), (200, json!({ "exists": false })));

    let division = division();
    sentinel_tests::sql_exec(&format!("UPDATE divisions SET name = 'Deck {division}' WHERE id = '{division}'"));
    let member = member_in(&division, "active");
    name_member(&member, "PO2", "Dana", "Duty");
    // A pending assignment is current too.
    let pending = pending_today(&member);
    let a = current();
    assert_eq!((a["id"].as_str(), a["status"].as_str(), a["acceptedAt"].clone()), (Some(pending.as_str()), Some("pending"), Value::Null));
    assert_eq!(a["member"], json!({ "id": member, "name": "Dana Duty", "rank": "PO2", "division": format!("Deck {division}") }));
    assert!(a["assignedDate"].as_str().unwrap().ends_with("T00:00:00.000Z"));
    assert_eq!(sql(&format!("SELECT iso_date({TODAY}) AS d"))[0]["d"], a["assignedDate"]);
    for key in ["releasedAt", "transferredTo", "assignedBy", "notes", "assignedByAdminName"] {
        assert_eq!(a[key], Value::Null, "{key}");
    }
    let r = as_key("kiosk", "GET", "/api/dds/exists", None);
    assert_eq!(r.body, json!({ "exists": true }));
    // Closed rows and other days are not current.
    sentinel_tests::sql_exec(&format!(
        "UPDATE dds_assignments SET status = 'released', released_at = now() WHERE id = '{pending}';
         INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at) VALUES ('{member}', {TODAY} - 1, 'active', now());"
    ));
    assert_eq!(current(), Value::Null);
    assert_eq!(as_role("quartermaster", "GET", "/api/dds/exists", None).body, json!({ "exists": false }));
}

#[test]
fn accept_checks_its_rules_in_order_grants_lockup_and_is_idempotent() {
    let _serial = serial();
    clear_duty();
    let r = accept_as("duty_watch", "not-a-uuid");
    assert_validation_error(&r, "malformed id");
    let r = accept_as("duty_watch", ZERO);
    assert_error(&r, 404, "NOT_FOUND", "unknown member");
    assert!(r.body["message"].as_str().unwrap().contains(ZERO), "{}", r.text);
    let inactive = member_in(&division(), "inactive");
    assert_error(&accept_as("duty_watch", &inactive), 400, "MEMBER_NOT_ACTIVE", "inactive member");
    assert_validation_error(&as_role("duty_watch", "POST", &format!("/api/dds/accept/{inactive}"), Some(&json!({ "extra": 1 }))), "unknown field");
    assert_eq!(current_count(), 0, "nothing was written");

    let member = active_member();
    name_member(&member, "S1", "Ace", "Accepter");
    let dw = user("duty_watch");
    let before = responsibility_count();
    let r = accept_as("duty_watch", &member);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["success"].clone(), r.body["message"].as_str()), (json!(true), Some("DDS accepted successfully")));
    let a = r.body["assignment"].clone();
    assert_eq!((a["memberId"].as_str(), a["status"].as_str(), a["assignedBy"].clone()), (Some(member.as_str()), Some("active"), Value::Null));
    assert!(a["acceptedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(current(), a, "GET /api/dds/current shares the shape");
    assert_eq!(today_rows(&member).len(), 1);
    // The responsibility rows: DDS self_accepted (performed by the user) and the Lockup grant (system).
    assert_eq!(
        responsibility_rows("DDS", &member),
        vec![json!({ "action": "self_accepted", "from": null, "to": member, "by": dw.id, "by_type": "admin", "notes": null })]
    );
    assert_eq!(
        responsibility_rows("Lockup", &member),
        vec![json!({ "action": "assigned", "from": null, "to": member, "by": null, "by_type": "system", "notes": "Auto-transferred on DDS acceptance" })]
    );
    assert_eq!(responsibility_count(), before + 2);
    assert_eq!(lockup_holders(), vec![member.clone()], "the DDS holds Lockup (granted: nobody held it)");
    let audit = sql(&format!("SELECT admin_user_id::text AS by, details->>'memberId' AS m FROM audit_log WHERE action = 'dds_accept' AND entity_id = '{}'", a["id"].as_str().unwrap()));
    assert_eq!(audit, vec![json!({ "by": dw.id, "m": member })]);
    // Realtime: dds:update accepted, lockup:transferred dds_handoff from nobody.
    let updates = dds_updates_for(&member);
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0]["action"], "accepted");
    assert_eq!(updates[0]["assignment"], json!({ "id": a["id"], "memberId": member, "memberName": "Ace Accepter", "rank": "S1", "status": "active" }));
    assert!(updates[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    let moves = lockup_moves_to(&member);
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert_eq!(
        (moves[0]["reason"].as_str(), moves[0]["fromMemberId"].clone(), moves[0]["fromMemberName"].clone(), moves[0]["toMemberName"].as_str()),
        (Some("dds_handoff"), Value::Null, Value::Null, Some("Ace Accepter"))
    );
    assert!(moves[0]["transferId"].is_string() && moves[0]["timestamp"].is_string());

    // Accepting again is idempotent: same assignment, nothing written, nothing pushed.
    let audits = audit_actions("dds", a["id"].as_str().unwrap()).len();
    let r = accept_as("executive", &member);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["assignment"], a);
    assert_eq!(responsibility_count(), before + 2);
    assert_eq!(audit_actions("dds", a["id"].as_str().unwrap()).len(), audits);
    assert_eq!(dds_updates_for(&member).len(), 1);
    assert_eq!(lockup_moves_to(&member).len(), 1);

    // Another member cannot accept today's DDS.
    let other = active_member();
    let r = accept_as("duty_watch", &other);
    assert_error(&r, 409, "CONFLICT", "already assigned");
    assert!(r.body["message"].as_str().unwrap().contains("already"), "{}", r.text);
    assert!(today_rows(&other).is_empty());
    assert_eq!(lockup_holders(), vec![member]);
}

#[test]
fn a_pending_assignment_is_accepted_by_its_member_only() {
    let _serial = serial();
    clear_duty();
    let (planned, other) = (active_member(), active_member());
    let previous_holder = active_member();
    set_lockup_holder(&previous_holder);
    let pending = pending_today(&planned);
    assert_error(&accept_as("duty_watch", &other), 409, "CONFLICT", "someone else's pending assignment");
    let r = accept_as("duty_watch", &planned);
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.body["assignment"];
    assert_eq!((a["id"].as_str(), a["status"].as_str()), (Some(pending.as_str()), Some("active")), "the planned row became active");
    assert!(a["acceptedAt"].is_string());
    assert_eq!(today_rows(&planned).len(), 1);
    assert_eq!(current_count(), 1);
    // Lockup moved from the previous holder to the DDS.
    assert_eq!(lockup_holders(), vec![planned.clone()]);
    let rows = responsibility_rows("Lockup", &planned);
    assert_eq!((rows[0]["action"].as_str(), rows[0]["from"].as_str()), (Some("transferred"), Some(previous_holder.as_str())));
    let moves = lockup_moves_to(&planned);
    assert_eq!((moves.len(), moves[0]["fromMemberId"].as_str(), moves[0]["reason"].as_str()), (1, Some(previous_holder.as_str()), Some("dds_handoff")));
    assert_eq!(dds_updates_for(&planned).iter().map(|u| u["action"].clone()).collect::<Vec<_>>(), vec![json!("accepted")]);
}

#[test]
fn kiosk_accept_and_release_need_the_members_badge() {
    let _serial = serial();
    clear_duty();
    let dds = holder();
    let stranger = holder();
    let (_, key) = kiosk();
    let accept = |body: Option<&Value>| with_key(&key, "POST", &format!("/api/dds/accept/{}", dds.member), body);
    assert_error(&accept(None), 403, "BADGE_PROOF_REQUIRED", "no proof");
    assert_error(&accept(Some(&json!({ "actorBadgeSerial": stranger.serial }))), 403, "BADGE_PROOF_REQUIRED", "someone else's badge");
    assert_error(&accept(Some(&json!({ "actorBadgeSerial": "NO-SUCH-BADGE" }))), 403, "BADGE_PROOF_REQUIRED", "unknown badge");
    assert_validation_error(&accept(Some(&json!({ "actorBadgeSerial": "   " }))), "blank serial");
    sentinel_tests::sql_exec(&format!("UPDATE badges SET status = 'lost' WHERE id = '{}'", dds.badge));
    assert_error(&accept(Some(&json!({ "actorBadgeSerial": dds.serial }))), 403, "BADGE_PROOF_REQUIRED", "a lost badge proves nothing");
    sentinel_tests::sql_exec(&format!("UPDATE badges SET status = 'active' WHERE id = '{}'", dds.badge));
    // Badge proof precedes the active-member rule: an unproved kiosk learns nothing more.
    let inactive = holder_in(None, "inactive");
    assert_error(&with_key(&key, "POST", &format!("/api/dds/accept/{}", inactive.member), None), 403, "BADGE_PROOF_REQUIRED", "inactive, no proof");
    let r = with_key(&key, "POST", &format!("/api/dds/accept/{}", inactive.member), Some(&json!({ "actorBadgeSerial": inactive.serial })));
    assert_error(&r, 400, "MEMBER_NOT_ACTIVE", "inactive, proved");
    assert_eq!(current_count(), 0, "nothing was written");

    // The member's own badge, as scanned (trimmed, upper-cased here).
    let r = accept(Some(&json!({ "actorBadgeSerial": format!("  {}  ", dds.serial.to_lowercase()) })));
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["assignment"]["id"].as_str().unwrap().to_string();
    assert_eq!(responsibility_rows("DDS", &dds.member)[0], json!({ "action": "self_accepted", "from": null, "to": dds.member, "by": dds.member, "by_type": "member", "notes": null }));
    let audit = sql(&format!("SELECT admin_user_id, details ? 'apiKeyId' AS by_key FROM audit_log WHERE action = 'dds_accept' AND entity_id = '{id}'"));
    assert_eq!(audit, vec![json!({ "admin_user_id": null, "by_key": true })]);
    assert_eq!(lockup_holders(), vec![dds.member.clone()]);

    // Release at the kiosk: the proof must be today's DDS's badge.
    let release = |body: Option<&Value>| with_key(&key, "POST", "/api/dds/release", body);
    assert_error(&release(None), 403, "BADGE_PROOF_REQUIRED", "release without proof");
    assert_error(&release(Some(&json!({ "actorBadgeSerial": stranger.serial }))), 403, "BADGE_PROOF_REQUIRED", "release with another badge");
    assert_eq!(today_rows(&dds.member)[0]["status"], "active");
    let r = release(Some(&json!({ "actorBadgeSerial": dds.serial, "notes": "Going home" })));
    assert_eq!((r.status, r.body.clone()), (200, json!({ "assignment": null })), "{}", r.text);
    let row = &today_rows(&dds.member)[0];
    assert_eq!((row["status"].as_str(), row["released"].as_bool()), (Some("released"), Some(true)));
    assert_eq!(
        responsibility_rows("DDS", &dds.member)[1],
        json!({ "action": "released", "from": dds.member, "to": null, "by": dds.member, "by_type": "member", "notes": "Going home" })
    );
    assert_eq!(audit_actions("dds", &id), vec!["dds_accept", "dds_release"]);
    assert_eq!(lockup_holders(), vec![dds.member.clone()], "release leaves the Lockup holder unchanged");
    let released: Vec<Value> = stream("dds").into_iter().filter(|(e, d)| e == "dds:update" && d["action"] == "released").map(|(_, d)| d).collect();
    assert!(released.iter().all(|d| d["assignment"].is_null()) && !released.is_empty(), "{released:?}");
    assert_eq!(current(), Value::Null);
    assert_error(&release(Some(&json!({ "actorBadgeSerial": dds.serial }))), 404, "NOT_FOUND", "nothing left to release");
}

#[test]
fn staff_release_and_its_refusals() {
    let _serial = serial();
    clear_duty();
    assert_error(&as_role("duty_watch", "POST", "/api/dds/release", None), 404, "NOT_FOUND", "no current DDS");
    let member = active_member();
    assert_eq!(admin("POST", "/api/dds/assign", Some(&json!({ "memberId": member }))).status, 200);
    assert_validation_error(&as_role("duty_watch", "POST", "/api/dds/release", Some(&json!({ "notes": "x".repeat(2001) }))), "long notes");
    let dw = user("duty_watch");
    let r = as_role("duty_watch", "POST", "/api/dds/release", Some(&json!({ "actorBadgeSerial": "IGNORED" })));
    assert_eq!((r.status, r.body.clone()), (200, json!({ "assignment": null })), "users need no proof: {}", r.text);
    let rows = responsibility_rows("DDS", &member);
    assert_eq!(rows.last().unwrap(), &json!({ "action": "released", "from": member, "to": null, "by": dw.id, "by_type": "admin", "notes": null }));
}

#[test]
fn assign_checks_member_then_today_and_aligns_lockup() {
    let _serial = serial();
    clear_duty();
    let assign = |body: &Value| admin("POST", "/api/dds/assign", Some(body));
    for (body, what) in [
        (json!({}), "missing memberId"),
        (json!({ "memberId": "nope" }), "malformed memberId"),
        (json!({ "memberId": ZERO, "notes": "n".repeat(2001) }), "long notes"),
        (json!({ "memberId": ZERO, "assignedBy": ZERO }), "unknown field"),
    ] {
        assert_validation_error(&assign(&body), what);
    }
    let r = assign(&json!({ "memberId": ZERO }));
    assert_error(&r, 404, "NOT_FOUND", "unknown member");
    assert!(r.body["message"].as_str().unwrap().contains(ZERO));
    let inactive = member_in(&division(), "inactive");
    assert_error(&assign(&json!({ "memberId": inactive })), 400, "MEMBER_NOT_ACTIVE", "inactive");

    let (member, holder_before) = (active_member(), active_member());
    name_member(&member, "LS", "Ava", "Assigned");
    set_lockup_holder(&holder_before);
    let adm = user("admin");
    let r = assign(&json!({ "memberId": member.to_uppercase(), "notes": "Covering Saturday" }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["message"], "DDS assigned successfully");
    let a = &r.body["assignment"];
    assert_eq!(
        (a["status"].as_str(), a["assignedBy"].as_str(), a["assignedByAdminName"].as_str(), a["notes"].as_str()),
        (Some("active"), Some(adm.id.as_str()), Some("Test admin"), Some("Covering Saturday"))
    );
    assert!(a["acceptedAt"].is_string());
    assert_eq!(
        responsibility_rows("DDS", &member),
        vec![json!({ "action": "assigned", "from": null, "to": member, "by": adm.id, "by_type": "admin", "notes": "Covering Saturday" })]
    );
    assert_eq!(lockup_holders(), vec![member.clone()]);
    let moves = lockup_moves_to(&member);
    assert_eq!((moves[0]["fromMemberId"].as_str(), moves[0]["toMemberName"].as_str(), moves[0]["reason"].as_str()), (Some(holder_before.as_str()), Some("Ava Assigned"), Some("dds_handoff")));
    assert_eq!(dds_updates_for(&member)[0]["action"], "assigned");
    assert_eq!(audit_actions("dds", a["id"].as_str().unwrap()), vec!["dds_assign"]);
    // A second assignment the same day is refused, even for the same member.
    assert_error(&assign(&json!({ "memberId": member })), 409, "CONFLICT", "already assigned");
    assert_error(&assign(&json!({ "memberId": active_member() })), 409, "CONFLICT", "already assigned");
    assert_eq!(current_count(), 1);
}

#[test]
fn transfer_checks_target_then_current_then_sameness() {
    let _serial = serial();
    clear_duty();
    let transfer = |body: &Value| admin("POST", "/api/dds/transfer", Some(body));
    // Order: the target is checked before today's DDS.
    let r = transfer(&json!({ "toMemberId": ZERO }));
    assert_error(&r, 404, "NOT_FOUND", "unknown target, no DDS");
    assert!(r.body["message"].as_str().unwrap().contains(ZERO), "{}", r.text);
    let inactive = member_in(&division(), "inactive");
    assert_error(&transfer(&json!({ "toMemberId": inactive })), 400, "MEMBER_NOT_ACTIVE", "inactive target, no DDS");
    let (from, to) = (active_member(), active_member());
    name_member(&from, "S2", "Fay", "From");
    name_member(&to, "S1", "Tom", "To");
    let r = transfer(&json!({ "toMemberId": to }));
    assert_error(&r, 404, "NOT_FOUND", "no DDS today");
    assert!(r.body["message"].as_str().unwrap().contains("today"), "{}", r.text);
    assert_validation_error(&transfer(&json!({ "toMemberId": "x" })), "malformed target");

    let first = admin("POST", "/api/dds/assign", Some(&json!({ "memberId": from })));
    assert_eq!(first.status, 200, "{}", first.text);
    let first_id = first.body["assignment"]["id"].as_str().unwrap().to_string();
    let r = transfer(&json!({ "toMemberId": from }));
    assert_validation_error(&r, "same member");
    assert!(r.body["issues"][0]["message"].as_str().unwrap().contains("same member"));
    assert_error(&transfer(&json!({ "toMemberId": inactive })), 400, "MEMBER_NOT_ACTIVE", "inactive target");

    let adm = user("admin");
    let r = transfer(&json!({ "toMemberId": to, "notes": "Sick call" }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["message"], "DDS transferred successfully");
    let a = &r.body["assignment"];
    assert_eq!((a["memberId"].as_str(), a["status"].as_str(), a["assignedBy"].as_str(), a["notes"].as_str()), (Some(to.as_str()), Some("active"), Some(adm.id.as_str()), Some("Sick call")));
    assert_eq!(current(), *a);
    // The old row is closed, not edited otherwise.
    let old = &today_rows(&from)[0];
    assert_eq!(
        (old["id"].as_str(), old["status"].as_str(), old["transferred_to"].as_str(), old["released"].as_bool()),
        (Some(first_id.as_str()), Some("transferred"), Some(to.as_str()), Some(true))
    );
    assert_eq!(
        responsibility_rows("DDS", &to),
        vec![json!({ "action": "transferred", "from": from, "to": to, "by": adm.id, "by_type": "admin", "notes": "Sick call" })]
    );
    assert_eq!(lockup_holders(), vec![to.clone()], "Lockup follows the DDS");
    let moves = lockup_moves_to(&to);
    assert_eq!(
        moves,
        vec![json!({ "transferId": moves[0]["transferId"], "fromMemberId": from, "fromMemberName": "Fay From", "toMemberId": to,
                     "toMemberName": "Tom To", "reason": "dds_handoff", "timestamp": moves[0]["timestamp"] })]
    );
    let update = &dds_updates_for(&to)[0];
    assert_eq!((update["action"].as_str(), update["assignment"]["memberName"].as_str()), (Some("transferred"), Some("Tom To")));
    assert_eq!(audit_actions("dds", a["id"].as_str().unwrap()), vec!["dds_transfer"]);
    assert_eq!(current_count(), 1);
}

#[test]
fn set_today_replaces_whatever_is_current() {
    let _serial = serial();
    clear_duty();
    let set = |body: &Value| admin("POST", "/api/dds/set-today", Some(body));
    assert_validation_error(&set(&json!({})), "missing memberId");
    assert_error(&set(&json!({ "memberId": ZERO })), 404, "NOT_FOUND", "unknown member");
    assert_error(&set(&json!({ "memberId": member_in(&division(), "inactive") })), 400, "MEMBER_NOT_ACTIVE", "inactive");
    assert_eq!(as_role("executive", "POST", "/api/dds/set-today", Some(&json!({ "memberId": ZERO }))).status, 403, "ADM+ only");

    // Nobody: a new active assignment (assigned).
    let (a, b, c) = (active_member(), active_member(), active_member());
    let r = set(&json!({ "memberId": a, "notes": "Roster" }));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["message"].as_str(), r.body["replaced"].clone()), (Some("DDS set for today"), Value::Null));
    assert_eq!(r.body["assignment"]["notes"], "Roster");
    assert_eq!(dds_updates_for(&a)[0]["action"], "assigned");
    assert_eq!(lockup_holders(), vec![a.clone()]);

    // The same member, active: nothing changes.
    let rows = responsibility_count();
    let r = set(&json!({ "memberId": a }));
    assert_eq!((r.status, r.body["replaced"].clone()), (200, Value::Null));
    assert_eq!(responsibility_count(), rows);
    assert_eq!(dds_updates_for(&a).len(), 1);

    // Another member: the current one is closed as transferred, a new one opens.
    let r = set(&json!({ "memberId": b }));
    assert_eq!(r.status, 200, "{}", r.text);
    let replaced = &r.body["replaced"];
    assert_eq!((replaced["memberId"].as_str(), replaced["status"].as_str(), replaced["transferredTo"].as_str()), (Some(a.as_str()), Some("transferred"), Some(b.as_str())));
    assert!(replaced["releasedAt"].is_string());
    assert_eq!((r.body["assignment"]["memberId"].as_str(), r.body["assignment"]["status"].as_str()), (Some(b.as_str()), Some("active")));
    assert_eq!(responsibility_rows("DDS", &b)[0]["action"], "transferred");
    assert_eq!(responsibility_rows("DDS", &b)[0]["from"], json!(a));
    assert_eq!(dds_updates_for(&b)[0]["action"], "transferred");
    assert_eq!(lockup_holders(), vec![b.clone()]);
    assert_eq!(current_count(), 1);

    // A pending assignment of the member becomes active.
    clear_duty();
    let pending = pending_today(&c);
    let r = set(&json!({ "memberId": c }));
    assert_eq!((r.body["assignment"]["id"].as_str(), r.body["assignment"]["status"].as_str()), (Some(pending.as_str()), Some("active")));
    assert_eq!(lockup_holders(), vec![c.clone()]);
    assert_eq!(audit_actions("dds", &pending), vec!["dds_set_today"]);
}

#[test]
fn kiosk_state_says_when_to_prompt() {
    let _serial = serial();
    clear_duty();
    let state = |member: &str| {
        let r = as_key("kiosk", "GET", &format!("/api/dds/kiosk-state/{member}"), None);
        assert_eq!(r.status, 200, "{}", r.text);
        (r.body["prompt"].as_bool().unwrap(), r.body["reason"].as_str().unwrap().to_string(), r.body["assignment"].clone())
    };
    assert_error(&as_key("kiosk", "GET", &format!("/api/dds/kiosk-state/{ZERO}"), None), 404, "NOT_FOUND", "unknown member");
    assert_validation_error(&as_key("kiosk", "GET", "/api/dds/kiosk-state/zzz", None), "malformed id");
    let (a, b) = (active_member(), active_member());
    let inactive = member_in(&division(), "inactive");
    assert_eq!(state(&a), (true, "no_dds_today".into(), Value::Null));
    assert_eq!(state(&inactive), (false, "member_not_active".into(), Value::Null));
    let pending = pending_today(&a);
    let (prompt, reason, assignment) = state(&a);
    assert_eq!((prompt, reason.as_str(), assignment["id"].as_str()), (true, "pending_for_member", Some(pending.as_str())));
    assert_eq!(state(&b).1, "dds_assigned");
    assert!(!state(&b).0);
    assert_eq!(accept_as("duty_watch", &a).status, 200);
    assert_eq!(state(&a).0, false);
    assert_eq!(state(&a).1, "member_is_dds");
    assert_eq!(state(&inactive).1, "dds_assigned");
    assert_eq!(as_role("quartermaster", "GET", &format!("/api/dds/kiosk-state/{a}"), None).status, 200);
}

#[test]
fn the_audit_log_lists_dds_rows_newest_first() {
    let _serial = serial();
    clear_duty();
    let (a, b) = (active_member(), active_member());
    assert_eq!(admin("POST", "/api/dds/assign", Some(&json!({ "memberId": a }))).status, 200);
    assert_eq!(admin("POST", "/api/dds/transfer", Some(&json!({ "toMemberId": b }))).status, 200);
    let r = as_role("duty_watch", "GET", &format!("/api/dds/audit-log?memberId={a}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let logs = r.body["logs"].as_array().unwrap();
    assert_eq!(r.body["count"].as_u64(), Some(logs.len() as u64));
    assert_eq!(logs.iter().map(|l| l["action"].as_str().unwrap()).collect::<Vec<_>>(), vec!["transferred", "assigned"], "matches subject or from/to, newest first");
    assert!(logs.iter().all(|l| l["tagName"] == "DDS"), "Lockup rows are not listed: {logs:?}");
    let t = &logs[0];
    assert_eq!((t["memberId"].as_str(), t["fromMemberId"].as_str(), t["toMemberId"].as_str(), t["performedByType"].as_str()), (Some(b.as_str()), Some(a.as_str()), Some(b.as_str()), Some("admin")));
    assert!(t["timestamp"].as_str().unwrap().ends_with('Z') && t["id"].is_string() && t.get("notes").is_some());
    let r = as_role("duty_watch", "GET", "/api/dds/audit-log?limit=1", None);
    assert_eq!((r.status, r.body["count"].as_u64()), (200, Some(1)));
    assert_eq!(r.body["logs"][0]["toMemberId"], json!(b), "newest first");
    for q in ["limit=0", "limit=101", "limit=abc", "memberId=nope"] {
        assert_validation_error(&as_role("duty_watch", "GET", &format!("/api/dds/audit-log?{q}"), None), q);
    }
    assert_eq!(as_role("quartermaster", "GET", "/api/dds/audit-log", None).status, 403);
}

#[test]
fn concurrent_accepts_and_assigns_have_exactly_one_winner() {
    let _serial = serial();
    for round in 0..3 {
        clear_duty();
        let members: Vec<String> = (0..6).map(|_| active_member()).collect();
        let results: Vec<(String, Resp)> = std::thread::scope(|s| {
            let handles: Vec<_> = members
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    s.spawn(move || {
                        let r = if i % 2 == 0 { accept_as("duty_watch", m) } else { admin("POST", "/api/dds/assign", Some(&json!({ "memberId": m }))) };
                        (m.clone(), r)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&String> = results.iter().filter(|(_, r)| r.status == 200).map(|(m, _)| m).collect();
        assert_eq!(winners.len(), 1, "round {round}: {:?}", results.iter().map(|(_, r)| (r.status, r.text.clone())).collect::<Vec<_>>());
        for (_, r) in results.iter().filter(|(_, r)| r.status != 200) {
            assert_error(r, 409, "CONFLICT", "loser");
        }
        assert_eq!(current_count(), 1);
        assert_eq!(current()["memberId"], json!(winners[0]));
        assert_eq!(lockup_holders(), vec![winners[0].clone()], "the winner holds Lockup");
    }
}

#[test]
fn concurrent_transfers_and_replacements_keep_one_current_and_lockup_with_it() {
    let _serial = serial();
    clear_duty();
    assert_eq!(admin("POST", "/api/dds/assign", Some(&json!({ "memberId": active_member() }))).status, 200);
    let members: Vec<String> = (0..6).map(|_| active_member()).collect();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                s.spawn(move || {
                    let (path, field) = if i % 2 == 0 { ("/api/dds/transfer", "toMemberId") } else { ("/api/dds/set-today", "memberId") };
                    admin("POST", path, Some(&json!({ field: m }))).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(current_count(), 1);
    let now = current()["memberId"].as_str().unwrap().to_string();
    assert_eq!(lockup_holders(), vec![now]);
    assert_eq!(count(&format!("SELECT count(*) AS n FROM dds_assignments WHERE assigned_date = {TODAY} AND status = 'transferred' AND transferred_to = ANY(ARRAY[{}]::uuid[])",
        members.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(","))), 6, "each call closed the one before it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dds_changes_reach_websocket_subscribers() {
    // Held across awaits on the test's own thread (tokio::test does not move its body between threads).
    let _serial = serial();
    clear_duty();
    let app = app();
    let member = tokio::task::spawn_blocking(|| {
        let m = active_member();
        name_member(&m, "PO1", "Wes", "Socket");
        m
    })
    .await
    .unwrap();
    let relay = start_relay(|_| {}).await;
    let staff = session("duty_watch");
    let mut client = connect(&ws_url(&relay), &staff.token).await;
    client.subscribe("dds", None).await;
    let backfill = client.until(WAIT, |v| v["event"] == "dds:current").await;
    assert_eq!(backfill["data"], json!({ "assignment": null }));
    client.subscribe("lockup", None).await;
    let holder = client.until(WAIT, |v| v["event"] == "lockup:current").await;
    assert_eq!(holder["data"]["holder"], Value::Null);

    let (url, token, m) = (format!("{}/api/dds/accept/{member}", app.base_url), staff.token.clone(), member.clone());
    let r = tokio::task::spawn_blocking(move || request("POST", &url, &[("authorization", &format!("Bearer {token}"))], None)).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let update = client.until(WAIT, |v| v["event"] == "dds:update" && v["data"]["assignment"]["memberId"] == m.as_str()).await;
    assert_eq!(update["channel"], "dds");
    assert_eq!(update["data"]["action"], "accepted");
    assert_eq!(update["data"]["assignment"], json!({ "id": r.body["assignment"]["id"], "memberId": member, "memberName": "Wes Socket", "rank": "PO1", "status": "active" }));
    let moved = client.until(WAIT, |v| v["event"] == "lockup:transferred" && v["data"]["toMemberId"] == m.as_str()).await;
    assert_eq!((moved["data"]["reason"].as_str(), moved["data"]["toMemberName"].as_str(), moved["data"]["fromMemberId"].clone()), (Some("dds_handoff"), Some("Wes Socket"), Value::Null));

    // A display sees the DDS, and its backfill is the same as GET /api/dds/current.
    let display = sentinel_tests::relay::api_key("display");
    let mut wall = connect(&ws_url(&relay), &display.key).await;
    wall.subscribe("dds", None).await;
    let backfill = wall.until(WAIT, |v| v["event"] == "dds:current").await;
    let rest = tokio::task::spawn_blocking(current).await.unwrap();
    assert_eq!(backfill["data"]["assignment"], rest);

    let (url, token) = (format!("{}/api/dds/release", app.base_url), staff.token.clone());
    let r = tokio::task::spawn_blocking(move || request("POST", &url, &[("authorization", &format!("Bearer {token}"))], None)).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let released = client.until(WAIT, |v| v["event"] == "dds:update" && v["data"]["action"] == "released").await;
    assert_eq!(released["data"]["assignment"], Value::Null);
    relay.shutdown().await;
}
