//! The operational day (docs/architecture.md, "Where each rule lives"): the rule in SQL across the
//! rollover and both DST changes of the default zone, and the unit's settings reaching it.

use sentinel_domain::time::OperationalDay;
use sentinel_tests::relay::{connect, session, start_relay, ws_url};
use sentinel_tests::{sql, sql_exec};
use serde_json::Value;

fn operational_date(at: &str, zone: &str, rollover: &str) -> String {
    let rows = sql(&format!("SELECT operational_date('{at}'::timestamptz, '{zone}', '{rollover}')::text AS d"));
    rows[0]["d"].as_str().unwrap().to_string()
}

#[test]
fn the_day_rolls_over_at_the_local_rollover_time_in_winter_and_summer() {
    let day = |at| operational_date(at, "America/Winnipeg", "03:00");
    // Winter, CST (UTC-6): 03:00 local is 09:00 UTC.
    assert_eq!(day("2026-01-10T08:59:59Z"), "2026-01-09");
    assert_eq!(day("2026-01-10T09:00:00Z"), "2026-01-10");
    // A night past midnight stays on the day it started.
    assert_eq!(day("2026-01-10T07:30:00Z"), "2026-01-09");
    // Summer, CDT (UTC-5): 03:00 local is 08:00 UTC.
    assert_eq!(day("2026-07-01T07:59:59Z"), "2026-06-30");
    assert_eq!(day("2026-07-01T08:00:00Z"), "2026-07-01");
    // Another rollover setting moves the boundary.
    assert_eq!(operational_date("2026-07-01T08:00:00Z", "America/Winnipeg", "04:30"), "2026-06-30");
    assert_eq!(operational_date("2026-07-01T09:30:00Z", "America/Winnipeg", "04:30"), "2026-07-01");
}

#[test]
fn the_day_follows_the_clock_change_of_the_default_zone() {
    let day = |at| operational_date(at, OperationalDay::DEFAULT_ZONE, OperationalDay::DEFAULT_ROLLOVER);
    // Spring forward, 2026-03-08: 02:00 CST (08:00 UTC) becomes 03:00 CDT — the new day starts at once.
    assert_eq!(day("2026-03-08T07:59:59Z"), "2026-03-07");
    assert_eq!(day("2026-03-08T08:00:00Z"), "2026-03-08");
    // Fall back, 2026-11-01: 02:00 CDT (07:00 UTC) becomes 01:00 CST; 01:00–02:59 local happen twice,
    // both still the previous day, and the day starts at 03:00 CST (09:00 UTC).
    assert_eq!(day("2026-11-01T06:30:00Z"), "2026-10-31");
    assert_eq!(day("2026-11-01T07:30:00Z"), "2026-10-31");
    assert_eq!(day("2026-11-01T08:59:59Z"), "2026-10-31");
    assert_eq!(day("2026-11-01T09:00:00Z"), "2026-11-01");
}

/// A zone whose operational date is not the default zone's right now (of two zones 26 h apart, at
/// most one can share the default's date).
fn zone_on_another_day() -> (String, String) {
    for zone in ["Pacific/Kiritimati", "Etc/GMT+12"] {
        let rows = sql(&format!(
            "SELECT operational_date(now(), '{zone}', '03:00')::text AS d,
                    operational_date(now(), '{zone}', '03:00') <> operational_date(now(), 'America/Winnipeg', '03:00') AS differs"
        ));
        if rows[0]["differs"] == Value::Bool(true) {
            return (zone.to_string(), rows[0]["d"].as_str().unwrap().to_string());
        }
    }
    unreachable!("two zones 26 hours apart cannot both share the default zone's date")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_backfills_todays_dds_of_the_units_own_day() {
    let (zone, date) = zone_on_another_day();
    let rows = sql(&format!(
        "WITH d AS (INSERT INTO divisions (code, name) VALUES ('OD{n}', 'Operational day {n}') RETURNING id)
         INSERT INTO members (service_number, rank, first_name, last_name, division_id)
         SELECT 'OD{n}', 'S1', 'Dana', 'Duty', id FROM d RETURNING id::text AS id",
        n = std::process::id()
    ));
    let member = rows[0]["id"].as_str().unwrap().to_string();
    sql_exec(&format!(
        "UPDATE dds_assignments SET status = 'released', released_at = now() WHERE assigned_date = '{date}' AND status IN ('pending', 'active');
         INSERT INTO dds_assignments (member_id, assigned_date, status, accepted_at) VALUES ('{member}', '{date}', 'active', now());"
    ));
    let token = session("admin").token;

    // A relay configured with the unit's zone finds today's assignment.
    let day = OperationalDay::parse(Some(&zone), Some("03:00")).unwrap();
    let relay = start_relay(move |c| c.operational_day = day).await;
    let mut client = connect(&ws_url(&relay), &token).await;
    client.subscribe("dds", None).await;
    let frame = client.next_json().await;
    assert_eq!(frame["data"]["assignment"]["memberId"], member.as_str(), "{frame}");
    relay.shutdown().await;

    // One on the default zone is on another day: not this assignment.
    let relay = start_relay(|_| {}).await;
    let mut client = connect(&ws_url(&relay), &token).await;
    client.subscribe("dds", None).await;
    let frame = client.next_json().await;
    assert_ne!(frame["data"]["assignment"]["memberId"], member.as_str(), "{frame}");
    relay.shutdown().await;
}
