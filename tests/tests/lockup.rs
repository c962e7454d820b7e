//! The end-of-day lockup and the building's status through HTTP against the real host, components,
//! PostgreSQL and Redis. Every test here changes who is inside (a lockup checks out everyone), so they
//! run one at a time.

#[path = "support/kiosk.rs"]
mod kiosk;

use std::sync::Mutex;

use kiosk::*;
use sentinel_tests::fixtures::{admin, as_role};
use sentinel_tests::{sql, sql_exec, Resp};
use serde_json::{json, Value};

static BUILDING: Mutex<()> = Mutex::new(());

fn building() -> std::sync::MutexGuard<'static, ()> {
    BUILDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes `member` the only holder of the Lockup responsibility (as an operator's seed would).
fn give_lockup(member: &str) {
    sql_exec(&format!(
        "DELETE FROM member_tags WHERE tag_id = (SELECT id FROM tags WHERE name = 'Lockup');
         INSERT INTO member_tags (member_id, tag_id) SELECT '{member}', id FROM tags WHERE name = 'Lockup'"
    ));
}

/// A member holding a badge, checked in at a kiosk.
fn inside(key: &str) -> Holder {
    let h = holder();
    let r = scan(key, &h.serial, None);
    assert_eq!((r.status, r.body["direction"].as_str()), (201, Some("in")), "{}", r.text);
    h
}

fn execute(key: Option<&str>, member: &str, body: Value) -> Resp {
    let path = format!("/api/lockup/execute/{member}");
    match key {
        Some(key) => with_key(key, "POST", &path, Some(&body)),
        None => as_role("duty_watch", "POST", &path, Some(&body)),
    }
}

fn presence() -> (i64, i64) {
    let r = as_role("quartermaster", "GET", "/api/checkins/presence", None);
    assert_eq!(r.status, 200, "{}", r.text);
    (r.body["totalPresent"].as_i64().unwrap(), r.body["visitorsPresent"].as_i64().unwrap())
}

fn latest_checkin(member: &str) -> Value {
    sql(&format!(
        "SELECT direction, method, kiosk_id, badge_id::text AS badge FROM checkins WHERE member_id = '{member}'
         ORDER BY \"timestamp\" DESC, created_at DESC LIMIT 1"
    ))[0]
        .clone()
}

fn status_today() -> Value {
    let r = as_role("quartermaster", "GET", "/api/lockup/status", None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[test]
fn the_holder_locks_up_and_the_building_is_secured_with_nobody_inside() {
    let _building = building();
    let (_, key) = kiosk();
    let performer = inside(&key);
    give_lockup(&performer.member);
    let member = inside(&key);
    // A member without a badge, checked in by staff.
    let badgeless = member_in(&division(), "active");
    let r = admin("POST", "/api/checkins", Some(&json!({ "memberId": badgeless, "direction": "in", "kioskId": "front-desk" })));
    assert_eq!(r.status, 201, "{}", r.text);
    let (temporary, _) = badge("active");
    let r = admin("POST", "/api/visitors", Some(&json!({ "name": "Contractor Carl", "visitType": "contractor", "kioskId": "front-desk", "temporaryBadgeId": temporary })));
    assert_eq!(r.status, 201, "{}", r.text);
    let visitor = r.body["id"].as_str().unwrap().to_string();

    // The holder cannot simply leave; the options say what they can do.
    let r = scan(&key, &performer.serial, Some(&at(3_000)));
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("LOCKUP_HELD")), "{}", r.text);
    let r = with_key(&key, "GET", &format!("/api/lockup/checkout-options/{}", performer.member), None);
    assert_eq!((r.status, r.body["holdsLockup"].clone()), (200, json!(true)), "{}", r.text);
    assert!(r.body["availableOptions"].as_array().unwrap().contains(&json!("execute_lockup")));
    assert!(r.body["eligibleRecipients"].as_array().unwrap().iter().any(|m| m["id"] == json!(member.member)));
    let r = as_role("quartermaster", "GET", &format!("/api/lockup/checkout-options/{}", member.member), None);
    assert_eq!((r.body["holdsLockup"].clone(), r.body["availableOptions"].clone()), (json!(false), json!(["checkout"])));
    assert_eq!(as_role("quartermaster", "GET", "/api/lockup/checkout-options/00000000-0000-0000-0000-000000000000", None).status, 404);

    // Who is inside; who may lock up.
    let r = with_key(&key, "GET", "/api/lockup/present", None);
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&Value> = r.body["members"].as_array().unwrap().iter().map(|m| &m["id"]).collect();
    for m in [&performer.member, &member.member, &badgeless] {
        assert!(ids.contains(&&json!(m)), "{m} is inside: {}", r.text);
    }
    let v = r.body["visitors"].as_array().unwrap().iter().find(|v| v["id"] == json!(visitor)).expect("the visitor is inside").clone();
    assert_eq!((v["name"].as_str(), v["organization"].as_str()), (Some("Contractor Carl"), Some("Unknown")));
    let total = r.body["members"].as_array().unwrap().len() + r.body["visitors"].as_array().unwrap().len();
    assert_eq!(r.body["totalCount"].as_u64(), Some(total as u64));
    let r = with_key(&key, "GET", &format!("/api/lockup/check-auth/{}", performer.member), None);
    assert_eq!(r.body, json!({ "authorized": true, "message": "Member is authorized to perform lockup" }));
    let r = as_role("quartermaster", "GET", &format!("/api/lockup/check-auth/{}", member.member), None);
    assert_eq!(r.body, json!({ "authorized": false, "message": "Member does not have the Lockup tag" }));
    assert_eq!(as_role("quartermaster", "GET", "/api/lockup/check-auth/00000000-0000-0000-0000-000000000000", None).status, 404);

    // Refusals: no proof from a kiosk, someone else's badge as proof, a member without the tag, nobody.
    let r = execute(Some(&key), &performer.member, json!({}));
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("BADGE_PROOF_REQUIRED")), "{}", r.text);
    let r = execute(Some(&key), &performer.member, json!({ "actorBadgeSerial": member.serial }));
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("BADGE_PROOF_REQUIRED")), "{}", r.text);
    let r = execute(None, &member.member, json!({}));
    assert_eq!((r.status, r.body["error"].as_str(), r.body["message"].as_str()),
               (403, Some("LOCKUP_NOT_AUTHORIZED"), Some("Member is not authorized to perform lockup")), "{}", r.text);
    assert_eq!(execute(None, "00000000-0000-0000-0000-000000000000", json!({})).status, 404);
    assert_eq!(presence().0 >= 3, true, "nothing changed yet");

    // The holder locks up from the kiosk with their own badge (as scanned, any case).
    let r = execute(Some(&key), &performer.member, json!({ "actorBadgeSerial": format!(" {} ", performer.serial.to_lowercase()) }));
    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body.clone();
    let members: Vec<Value> = result["checkedOut"]["members"].as_array().unwrap().clone();
    for m in [&performer.member, &member.member, &badgeless] {
        assert!(members.contains(&json!(m)), "{m} checked out: {}", r.text);
    }
    assert_eq!(members.last(), Some(&json!(performer.member)), "the performer goes last");
    assert!(result["checkedOut"]["visitors"].as_array().unwrap().contains(&json!(visitor)));
    let n = result["stats"]["membersCheckedOut"].as_i64().unwrap();
    let m = result["stats"]["visitorsCheckedOut"].as_i64().unwrap();
    assert_eq!(result["stats"]["totalCheckedOut"].as_i64(), Some(n + m));
    assert_eq!(result["message"], json!(format!("Lockup executed successfully. Checked out {n} members and {m} visitors.")));

    // Nobody is inside; the records say how they left.
    assert_eq!(presence(), (0, 0));
    for (m, badge) in [(&member.member, Some(member.badge.as_str())), (&badgeless, None)] {
        let c = latest_checkin(m);
        assert_eq!((c["direction"].as_str(), c["method"].as_str(), c["kiosk_id"].as_str(), c["badge"].as_str()),
                   (Some("out"), Some("lockup"), Some("lockup-checkout"), badge));
    }
    let v = &sql(&format!("SELECT check_out_time IS NOT NULL AS out FROM visitors WHERE id = '{visitor}'"))[0];
    assert_eq!(v["out"], true);
    assert_eq!(sql(&format!("SELECT assignment_type FROM badges WHERE id = '{temporary}'"))[0]["assignment_type"], "unassigned");
    let execution = result["executionId"].as_str().unwrap();
    let row = &sql(&format!(
        "SELECT executed_by::text AS by, total_checked_out, audit_log_id::text AS audit FROM lockup_executions WHERE id = '{execution}'"
    ))[0];
    assert_eq!((row["by"].as_str(), row["total_checked_out"].as_i64(), row["audit"].as_str()),
               (Some(performer.member.as_str()), Some(n + m), result["auditLogId"].as_str()));
    let audit = &sql(&format!("SELECT tag_name, action, performed_by_type, notes FROM responsibility_audit_log WHERE id = '{}'", row["audit"].as_str().unwrap()))[0];
    assert_eq!((audit["tag_name"].as_str(), audit["action"].as_str(), audit["performed_by_type"].as_str()), (Some("Lockup"), Some("building_lockup"), Some("member")));
    assert_eq!(audit["notes"], json!(format!("Lockup executed. Checked out {n} members and {m} visitors.")));
    assert!(holds(&performer.member), "the responsibility stays with the holder");

    // The building is secured today, and the history shows the lockup.
    let s = status_today();
    assert_eq!((s["buildingStatus"].as_str(), s["securedBy"].as_str(), s["lockupExecutionId"].as_str()),
               (Some("secured"), Some(performer.member.as_str()), Some(execution)), "{s}");
    assert_eq!(s["currentHolder"]["id"], json!(performer.member));
    let r = as_role("duty_watch", "GET", "/api/lockup/history?limit=5", None);
    assert_eq!(r.status, 200, "{}", r.text);
    let newest = &r.body["executions"][0];
    assert_eq!((newest["id"].as_str(), newest["totalCheckedOut"].as_i64()), (Some(execution), Some(n + m)));
    assert!(newest["visitorsCheckedOut"].as_array().unwrap().iter().any(|v| v["name"] == "Contractor Carl"));

    // Pushes: a checkin:new per member, visitor:signout, lockup:executed, lockup:status, presence:update.
    let checkins = stream("checkins");
    for m in [&member.member, &badgeless, &performer.member] {
        assert!(checkins.iter().any(|(e, d)| e == "checkin:new" && d["memberId"] == json!(m) && d["method"] == "lockup"), "{m}");
    }
    assert!(stream("visitors").iter().any(|(e, d)| e == "visitor:signout" && d["id"] == json!(visitor)));
    let lockup = stream("lockup");
    let executed = lockup.iter().rev().find(|(e, d)| e == "lockup:executed" && d["executionId"] == json!(execution)).expect("lockup:executed");
    assert_eq!((executed.1["performedBy"].as_str(), executed.1["membersCheckedOut"].as_i64()), (Some(performer.member.as_str()), Some(n)));
    assert!(lockup.iter().any(|(e, d)| e == "lockup:status" && d["buildingStatus"] == "secured"));
    assert_eq!(stream("presence").last().map(|(_, d)| d["totalPresent"].clone()), Some(json!(0)));

    // Locking up an empty building changes nothing and answers zeros.
    let r = execute(None, &performer.member, json!({ "note": "Second round" }));
    assert_eq!((r.status, r.body["stats"]["totalCheckedOut"].as_i64()), (200, Some(0)), "{}", r.text);
}

fn holds(member: &str) -> bool {
    count(&format!("SELECT count(*) AS n FROM member_tags mt JOIN tags t ON t.id = mt.tag_id WHERE t.name = 'Lockup' AND mt.member_id = '{member}'")) == 1
}

#[test]
fn a_present_member_opens_the_building() {
    let _building = building();
    let (_, key) = kiosk();
    let outside = holder();
    let r = with_key(&key, "POST", &format!("/api/lockup/open/{}", outside.member), Some(&json!({ "actorBadgeSerial": outside.serial })));
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("NOT_CHECKED_IN")), "{}", r.text);
    let keeper = inside(&key);
    give_lockup(&keeper.member);
    // Make sure the day starts secured: lock up whatever earlier tests left inside.
    assert_eq!(execute(None, &keeper.member, json!({})).status, 200);
    let opener = inside(&key);
    let r = with_key(&key, "POST", &format!("/api/lockup/open/{}", opener.member), None);
    assert_eq!((r.status, r.body["error"].as_str()), (403, Some("BADGE_PROOF_REQUIRED")), "{}", r.text);
    let r = with_key(&key, "POST", &format!("/api/lockup/open/{}", opener.member), Some(&json!({ "actorBadgeSerial": opener.serial })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["buildingStatus"].as_str(), r.body["openedBy"].as_str()), (Some("open"), Some(opener.member.as_str())));
    assert_eq!(status_today()["buildingStatus"], "open");
    assert!(stream("lockup").iter().any(|(e, d)| e == "lockup:status" && d["buildingStatus"] == "open"));
    let r = as_role("duty_watch", "POST", &format!("/api/lockup/open/{}", opener.member), None);
    assert_eq!((r.status, r.body["error"].as_str(), r.body["details"]["buildingStatus"].as_str()), (409, Some("ALREADY_OPEN"), Some("open")), "{}", r.text);
    let inactive = member_in(&division(), "inactive");
    let r = as_role("duty_watch", "POST", &format!("/api/lockup/open/{inactive}"), None);
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("MEMBER_NOT_ACTIVE")), "{}", r.text);
    assert_eq!(as_role("duty_watch", "POST", "/api/lockup/open/00000000-0000-0000-0000-000000000000", None).status, 404);
    let r = as_role("quartermaster", "POST", &format!("/api/lockup/open/{}", opener.member), None);
    assert_eq!(r.status, 403, "opening is DW+ or a kiosk: {}", r.text);
    assert_eq!(execute(None, &keeper.member, json!({})).status, 200);
    assert_eq!(status_today()["buildingStatus"], "secured");
}

#[test]
fn a_day_nobody_opened_is_secured() {
    let r = as_role("quartermaster", "GET", "/api/lockup/status/2001-02-03", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["date"].as_str(), r.body["buildingStatus"].as_str(), r.body["openedAt"].clone()),
               (Some("2001-02-03T00:00:00.000Z"), Some("secured"), Value::Null));
    for bad in ["2001-02-30", "yesterday", "0000-01-01"] {
        assert_validation_error(&as_role("quartermaster", "GET", &format!("/api/lockup/status/{bad}"), None), bad);
    }
    assert_validation_error(&as_role("duty_watch", "GET", "/api/lockup/history?limit=0", None), "limit 0");
}

/// A scan racing the lockup either checks its member out first (the lockup skips them) or waits for the
/// lockup's row lock and then falls within the 2-second duplicate window of the lockup's checkout.
#[test]
fn lockups_racing_scans_and_each_other_leave_nobody_inside() {
    let _building = building();
    let (_, key) = kiosk();
    let performer = inside(&key);
    give_lockup(&performer.member);
    // Inside for ten minutes, so a scan now is a checkout, not a duplicate of their check-in.
    let members: Vec<Holder> = (0..5)
        .map(|_| {
            let h = holder();
            let body = json!({ "memberId": h.member, "direction": "in", "kioskId": "front-desk", "timestamp": at(-600_000) });
            assert_eq!(admin("POST", "/api/checkins", Some(&body)).status, 201);
            h
        })
        .collect();
    let (scans, lockups): (Vec<u16>, Vec<u16>) = std::thread::scope(|s| {
        let scanners: Vec<_> = members
            .iter()
            .map(|m| {
                let (key, serial) = (key.clone(), m.serial.clone());
                s.spawn(move || scan(&key, &serial, None).status)
            })
            .collect();
        let lockers: Vec<_> = (0..2).map(|_| s.spawn(|| execute(None, &performer.member, json!({})).status)).collect();
        (scanners.into_iter().map(|h| h.join().unwrap()).collect(), lockers.into_iter().map(|h| h.join().unwrap()).collect())
    });
    assert!(lockups.iter().all(|s| [200, 409].contains(s)) && lockups.contains(&200), "{lockups:?}");
    assert!(scans.iter().all(|s| [201, 409].contains(s)), "{scans:?}");
    assert_eq!(presence(), (0, 0), "scans: {scans:?}, lockups: {lockups:?}");
    for m in &members {
        assert_eq!(latest_checkin(&m.member)["direction"], "out");
    }
}
