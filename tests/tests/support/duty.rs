//! Fixtures of the duty suites (DDS, the Lockup responsibility). Today's DDS and the Lockup tag are single
//! rows of the process's database, so the tests that change them hold [`serial()`] for their whole run.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use sentinel_tests::{sql, sql_exec};
use serde_json::Value;

/// Today's operational day in SQL, with the app's settings (spin.toml defaults).
pub const TODAY: &str = "operational_date(now(), 'America/Winnipeg', '03:00')";
pub const ZERO: &str = "00000000-0000-0000-0000-000000000000";

/// Serialises the tests that change today's DDS or the Lockup holder (a failed test does not poison it).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Today without a current DDS and nobody holding Lockup (what a test starts from).
pub fn clear_duty() {
    sql_exec(&format!(
        "UPDATE dds_assignments SET status = 'released', released_at = now() WHERE assigned_date = {TODAY} AND status IN ('pending', 'active');
         DELETE FROM member_tags WHERE tag_id = (SELECT id FROM tags WHERE name = 'Lockup');"
    ));
}

/// Gives Lockup to `member` directly (the seed's equivalent).
pub fn set_lockup_holder(member: &str) {
    sql_exec(&format!(
        "DELETE FROM member_tags WHERE tag_id = (SELECT id FROM tags WHERE name = 'Lockup');
         INSERT INTO member_tags (member_id, tag_id) SELECT '{member}', id FROM tags WHERE name = 'Lockup';"
    ));
}

/// The members holding Lockup.
pub fn lockup_holders() -> Vec<String> {
    sql("SELECT mt.member_id::text AS m FROM member_tags mt JOIN tags t ON t.id = mt.tag_id WHERE t.name = 'Lockup'")
        .into_iter()
        .map(|r| r["m"].as_str().unwrap().to_string())
        .collect()
}

/// Names a member (rank, first, last) so payloads can be checked exactly.
pub fn name_member(member: &str, rank: &str, first: &str, last: &str) {
    sql_exec(&format!("UPDATE members SET rank = '{rank}', first_name = '{first}', last_name = '{last}' WHERE id = '{member}'"));
}

/// A pending assignment of today for `member` (what a weekly schedule would create).
pub fn pending_today(member: &str) -> String {
    sql(&format!("INSERT INTO dds_assignments (member_id, assigned_date, status) VALUES ('{member}', {TODAY}, 'pending') RETURNING id::text AS id"))[0]
        ["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Responsibility-audit rows of `tag` (DDS | Lockup) whose subject is `member`, oldest first.
pub fn responsibility_rows(tag: &str, member: &str) -> Vec<Value> {
    sql(&format!(
        "SELECT action, from_member_id::text AS from, to_member_id::text AS to, performed_by::text AS by, performed_by_type AS by_type, notes
         FROM responsibility_audit_log WHERE tag_name = '{tag}' AND member_id = '{member}' ORDER BY \"timestamp\", id"
    ))
}

/// Number of responsibility-audit rows (all tags).
pub fn responsibility_count() -> i64 {
    sql("SELECT count(*) AS n FROM responsibility_audit_log")[0]["n"].as_i64().unwrap()
}

/// audit_log actions on `entity_type`/`entity`, oldest first.
pub fn audit_actions(entity_type: &str, entity: &str) -> Vec<String> {
    sql(&format!("SELECT action FROM audit_log WHERE entity_type = '{entity_type}' AND entity_id = '{entity}' ORDER BY created_at, id"))
        .into_iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect()
}
