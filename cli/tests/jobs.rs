//! `sentinel jobs run --at`: the scheduled checks at chosen instants, on a stack of their own (moving the
//! clock through a day rollover acts on everyone inside, so not on the shared test database).
//! America/Winnipeg, rollover 03:00: DST starts 2026-03-08 02:00 (→ 03:00) and ends 2026-11-01 02:00 (→ 01:00).

use std::process::Command;

use serde_json::{json, Value};
use sentinel_tests::IsolatedStack;

fn jobs_at(stack: &IsolatedStack, at: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["jobs", "run", "--database-url", stack.database_url(), "--redis-url", stack.redis_url(), "--at", at])
        .args(["--unit-timezone", "America/Winnipeg", "--day-rollover", "03:00"])
        .output()
        .expect("running sentinel jobs run");
    assert!(out.status.success(), "jobs run --at {at}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn jobs_ran(report: &Value) -> Vec<String> {
    report["ran"].as_array().unwrap().iter().map(|r| format!("{} {}", r["job"].as_str().unwrap(), &r["date"].as_str().unwrap()[..10])).collect()
}

/// A member checked in at `at` (kiosk `kiosk`); returns their id.
fn inside_since(stack: &IsolatedStack, name: &str, at: &str, kiosk: &str) -> String {
    let rows = stack.sql(&format!(
        "WITH d AS (INSERT INTO divisions (code, name) VALUES ('{name}', 'Division {name}') RETURNING id),
              m AS (INSERT INTO members (service_number, rank, first_name, last_name, division_id)
                    SELECT 'SN{name}', 'S1', '{name}', 'Straggler', id FROM d RETURNING id)
         INSERT INTO checkins (member_id, direction, kiosk_id, method, \"timestamp\")
         SELECT id, 'in', '{kiosk}', 'badge', '{at}' FROM m RETURNING member_id::text AS id"
    ));
    rows[0]["id"].as_str().unwrap().to_string()
}

fn alerts(stack: &IsolatedStack, kind: &str) -> Vec<Value> {
    stack.sql(&format!("SELECT severity, member_id::text AS member, kiosk_id, message FROM security_alerts WHERE alert_type = '{kind}' ORDER BY created_at"))
}

fn latest(stack: &IsolatedStack, member: &str) -> Value {
    stack.sql(&format!(
        "SELECT direction, method, kiosk_id, iso(\"timestamp\") AS at, flagged_for_review FROM checkins WHERE member_id = '{member}'
         ORDER BY \"timestamp\" DESC LIMIT 1"
    ))[0]
        .clone()
}

fn stream(stack: &IsolatedStack, channel: &str) -> Vec<(String, Value)> {
    sentinel_tests::wait_for_outbox_at(stack.database_url());
    let url = stack.redis_url().to_string();
    let channel = channel.to_string();
    sentinel_tests::block_on(async move {
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let reply: redis::streams::StreamRangeReply =
            redis::cmd("XRANGE").arg(format!("sentinel:rt:{channel}")).arg("-").arg("+").query_async(&mut conn).await.unwrap();
        reply
            .ids
            .into_iter()
            .map(|e| (e.get::<String>("event").unwrap_or_default(), serde_json::from_str(&e.get::<String>("data").unwrap_or_default()).unwrap_or(Value::Null)))
            .collect()
    })
}

#[test]
fn evening_reminders_and_the_rollover_across_the_spring_dst_change_run_once_each() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    // Saturday 2026-03-07, 18:00 CST: one member comes in and nobody locks up.
    let straggler = inside_since(&stack, "SPRING", "2026-03-07T18:00:00-06:00", "front");
    assert!(jobs_ran(&jobs_at(&stack, "2026-03-07T21:59:00-06:00")).iter().all(|j| !j.starts_with("lockup")), "nothing before 22:00");
    let r = jobs_at(&stack, "2026-03-07T22:00:00-06:00");
    assert!(jobs_ran(&r).contains(&"lockup_reminder 2026-03-07".to_string()), "{r}");
    assert_eq!(alerts(&stack, "lockup_reminder").len(), 1);
    assert!(jobs_ran(&jobs_at(&stack, "2026-03-07T22:30:00-06:00")).is_empty(), "the reminder runs once");
    jobs_at(&stack, "2026-03-07T23:05:00-06:00");
    let overdue = alerts(&stack, "lockup_not_executed");
    assert_eq!((overdue.len(), overdue[0]["severity"].as_str()), (1, Some("critical")));
    assert_eq!(alerts(&stack, "lockup_reminder").len(), 1);

    // 02:59 CST is still Saturday's operational day (and 02:00–03:00 does not exist: at 02:00 the clocks
    // jump to 03:00 CDT, which is the rollover).
    assert!(jobs_ran(&jobs_at(&stack, "2026-03-08T07:59:00Z")).is_empty());
    assert_eq!(latest(&stack, &straggler)["direction"], "in");
    let r = jobs_at(&stack, "2026-03-08T03:00:00-05:00");
    assert_eq!(jobs_ran(&r), ["daily_reset 2026-03-07"], "{r}");
    let out = latest(&stack, &straggler);
    assert_eq!(out, json!({ "direction": "out", "method": "system", "kiosk_id": "SYSTEM", "at": "2026-03-08T08:00:00.000Z", "flagged_for_review": true }));
    let missed = alerts(&stack, "member_missed_checkout");
    assert_eq!((missed.len(), missed[0]["member"].as_str(), missed[0]["kiosk_id"].as_str()), (1, Some(straggler.as_str()), Some("SYSTEM")));
    assert_eq!(alerts(&stack, "building_not_secured").len(), 1);
    let pushed: Vec<String> = stream(&stack, "alerts").into_iter().map(|(_, d)| d["alertType"].as_str().unwrap().to_string()).collect();
    assert_eq!(pushed, ["lockup_reminder", "lockup_not_executed", "member_missed_checkout", "building_not_secured"]);
    assert!(stream(&stack, "checkins").iter().any(|(e, d)| e == "checkin:new" && d["memberId"] == json!(straggler) && d["method"] == "system"));
    assert_eq!(stream(&stack, "presence").last().map(|(_, d)| d["totalPresent"].clone()), Some(json!(0)));

    // Running again, later the same day, changes nothing.
    assert!(jobs_ran(&jobs_at(&stack, "2026-03-08T03:30:00-05:00")).is_empty());
    assert_eq!(stack.sql("SELECT count(*) AS n FROM checkins")[0]["n"], 2);
    assert_eq!(stack.sql("SELECT count(*) AS n FROM security_alerts")[0]["n"], 4);
}

#[test]
fn the_autumn_rollover_waits_a_while_for_offline_kiosks_and_expires_ended_events() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    // Saturday 2026-10-31: one member came in at a kiosk that still holds offline scans, one at a kiosk that
    // has synced; a course ended on Friday with an attendee still holding an event badge; the building
    // was locked up on Saturday (so no building alert).
    let waiting = inside_since(&stack, "AUTUMNQ", "2026-10-31T19:00:00-05:00", "kiosk-offline");
    let synced = inside_since(&stack, "AUTUMNS", "2026-10-31T19:30:00-05:00", "kiosk-synced");
    let silent = inside_since(&stack, "AUTUMNX", "2026-10-31T20:00:00-05:00", "kiosk-silent");
    stack.sql_exec(
        "INSERT INTO kiosk_status (kiosk_id, queue_size) VALUES ('kiosk-offline', 3), ('kiosk-synced', 0);
         -- Not heard from since the evening: it may hold scans it could not upload.
         INSERT INTO kiosk_status (kiosk_id, queue_size, last_seen_at) VALUES ('kiosk-silent', 0, '2026-10-31T21:00:00-05:00');
         INSERT INTO badges (serial_number, assignment_type, status) VALUES ('EVB-AUTUMN', 'unassigned', 'active');
         INSERT INTO events (name, code, start_date, end_date, status) VALUES ('Course', 'AUTUMN', '2026-10-29', '2026-10-30', 'active');
         INSERT INTO event_attendees (event_id, name, organization, role) SELECT id, 'Guest', 'Org', 'participant' FROM events;
         SELECT badge_link((SELECT id FROM badges WHERE serial_number = 'EVB-AUTUMN'), 'event', (SELECT id FROM event_attendees));
         INSERT INTO building_status (operational_date, status, secured_at) VALUES ('2026-10-31', 'secured', '2026-10-31T23:30:00-05:00');",
    );

    // 01:30 happens twice on 2026-11-01 (CDT, then CST); the rollover is 03:00 CST = 09:00 UTC.
    assert!(jobs_ran(&jobs_at(&stack, "2026-11-01T01:30:00-06:00")).iter().all(|j| !j.starts_with("daily_reset 2026-10-31")));
    let r = jobs_at(&stack, "2026-11-01T03:00:00-06:00");
    assert_eq!(r["ran"][0]["deferred"], 2, "the members of the kiosk with queued scans and of the silent one wait: {r}");
    assert_eq!((latest(&stack, &waiting)["direction"].as_str(), latest(&stack, &synced)["direction"].as_str()), (Some("in"), Some("out")));
    assert_eq!(latest(&stack, &synced)["at"], "2026-11-01T09:00:00.000Z");
    // The first kiosk syncs; the silent one still may hold scans.
    stack.sql_exec("UPDATE kiosk_status SET queue_size = 0 WHERE kiosk_id = 'kiosk-offline'");
    let r = jobs_at(&stack, "2026-11-01T03:01:00-06:00");
    assert_eq!(r["ran"][0]["deferred"], 1, "{r}");
    assert_eq!((latest(&stack, &waiting)["direction"].as_str(), latest(&stack, &silent)["direction"].as_str()), (Some("out"), Some("in")));
    // Two hours after the rollover nobody is waited for any longer.
    let r = jobs_at(&stack, "2026-11-01T05:00:00-06:00");
    assert_eq!(jobs_ran(&r), ["daily_reset 2026-10-31"], "{r}");
    assert_eq!(latest(&stack, &silent)["at"], "2026-11-01T09:00:00.000Z", "forced at the rollover instant all the same");
    assert_eq!(alerts(&stack, "member_missed_checkout").len(), 3);
    assert!(alerts(&stack, "building_not_secured").is_empty(), "the building was secured");
    let attendee = &stack.sql("SELECT status, badge_id IS NOT NULL AS kept FROM event_attendees")[0];
    assert_eq!((attendee["status"].as_str(), attendee["kept"].as_bool()), (Some("expired"), Some(true)));
    assert_eq!(stack.sql("SELECT assignment_type FROM badges WHERE serial_number = 'EVB-AUTUMN'")[0]["assignment_type"], "unassigned");
    assert!(stream(&stack, "badges").iter().any(|(_, d)| d["serialNumber"] == "EVB-AUTUMN" && d["assignmentType"] == "unassigned"));
    assert!(jobs_ran(&jobs_at(&stack, "2026-11-01T05:30:00-06:00")).is_empty(), "done for the day");
}

#[test]
fn jobs_run_refuses_a_bad_instant() {
    let out = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["jobs", "run", "--database-url", "postgres://x@127.0.0.1:1/x", "--redis-url", "redis://127.0.0.1:1", "--at", "tomorrow"])
        .output()
        .expect("running sentinel");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at \"tomorrow\""));
}
