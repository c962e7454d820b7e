//! Fixtures shared by the kiosk-flow suites (members, badges, check-ins, alerts): unique reference data
//! inserted directly (the equivalent of an operator's seed) and requests as a kiosk key.
#![allow(dead_code)]

use sentinel_tests::fixtures::{admin, new_api_key};
use sentinel_tests::{request, sql, Resp};
use serde_json::{json, Value};

pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000_000;
    format!("{prefix}{t}{n}")
}

/// A fresh division; returns its id.
pub fn division() -> String {
    let code = unique("D");
    let code = &code[code.len() - 10..];
    let rows = sql(&format!("INSERT INTO divisions (code, name) VALUES ('{code}', 'Division {code}') RETURNING id::text AS id"));
    rows[0]["id"].as_str().unwrap().to_string()
}

/// A member of `division` with `status`; returns its id.
pub fn member_in(division: &str, status: &str) -> String {
    let number = unique("SN");
    let number = &number[number.len() - 12..];
    let rows = sql(&format!(
        "INSERT INTO members (service_number, rank, first_name, last_name, division_id, status)
         VALUES ('{number}', 'S1', 'Test', 'Member', '{division}', '{status}') RETURNING id::text AS id"
    ));
    rows[0]["id"].as_str().unwrap().to_string()
}

/// An unassigned badge with `status`; returns (id, serial).
pub fn badge(status: &str) -> (String, String) {
    let serial = unique("B");
    let rows = sql(&format!("INSERT INTO badges (serial_number, status) VALUES ('{serial}', '{status}') RETURNING id::text AS id"));
    (rows[0]["id"].as_str().unwrap().to_string(), serial)
}

/// Links badge and member both ways (one statement, so the deferred linkage check passes).
pub fn link(badge: &str, member: &str) {
    sentinel_tests::sql_exec(&format!(
        "UPDATE badges SET assignment_type = 'member', assigned_to_id = '{member}' WHERE id = '{badge}';
         UPDATE members SET badge_id = '{badge}' WHERE id = '{member}'"
    ));
}

pub struct Holder {
    pub member: String,
    pub badge: String,
    pub serial: String,
    pub division: String,
}

/// A member (in `division`, or a fresh one) holding an active badge.
pub fn holder_in(division: Option<&str>, status: &str) -> Holder {
    let division = division.map(str::to_string).unwrap_or_else(self::division);
    let member = member_in(&division, status);
    let (badge, serial) = badge("active");
    link(&badge, &member);
    Holder { member, badge, serial, division }
}

pub fn holder() -> Holder {
    holder_in(None, "active")
}

/// A fresh kiosk key (own scan budget); returns (kiosk id, secret).
pub fn kiosk() -> (String, String) {
    let kiosk_id = unique("kiosk-");
    let (_, secret) = new_api_key("kiosk", Some(&kiosk_id));
    (kiosk_id, secret)
}

pub fn with_key(key: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    request(method, path, &[("x-api-key", key)], body)
}

pub fn scan(key: &str, serial: &str, timestamp: Option<&str>) -> Resp {
    let mut body = json!({ "serialNumber": serial });
    if let Some(t) = timestamp {
        body["timestamp"] = json!(t);
    }
    with_key(key, "POST", "/api/checkins/scan", Some(&body))
}

/// ISO timestamp `offset_ms` from now.
pub fn at(offset_ms: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 + offset_ms;
    let secs = now.div_euclid(1000);
    let ms = now.rem_euclid(1000);
    let row = sql(&format!("SELECT iso(to_timestamp({secs}) + interval '{ms} milliseconds') AS t"));
    row[0]["t"].as_str().unwrap().to_string()
}

pub fn count(query: &str) -> i64 {
    sql(query)[0]["n"].as_i64().unwrap()
}

pub fn division_presence(division: &str) -> (i64, i64) {
    let r = admin("GET", "/api/checkins/presence", None);
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.body["byDivision"].as_array().unwrap().iter().find(|d| d["divisionId"] == json!(division)).cloned().unwrap();
    (d["present"].as_i64().unwrap(), d["total"].as_i64().unwrap())
}

/// Every malformed body gets the 400 envelope with issues, never a 500.
pub fn assert_validation_error(r: &Resp, context: &str) {
    assert_eq!(r.status, 400, "{context}: {}", r.text);
    assert_eq!(r.body["error"], "VALIDATION_ERROR", "{context}: {}", r.text);
    assert!(r.body["issues"].as_array().is_some_and(|i| !i.is_empty()), "{context}: {}", r.text);
}

/// Entries of a realtime channel stream (`sentinel:rt:<channel>`) as (event, data), once everything committed
/// so far has been published.
pub fn stream(channel: &str) -> Vec<(String, Value)> {
    sentinel_tests::wait_for_outbox();
    let url = sentinel_tests::services().redis_url.clone();
    let channel = channel.to_string();
    sentinel_tests::block_on(async move {
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE").arg(format!("sentinel:rt:{channel}")).arg("-").arg("+").query_async(&mut conn).await.unwrap();
        reply
            .ids
            .into_iter()
            .map(|entry| {
                let event: String = entry.get("event").unwrap_or_default();
                let data: String = entry.get("data").unwrap_or_default();
                (event, serde_json::from_str(&data).unwrap_or(Value::Null))
            })
            .collect()
    })
}
