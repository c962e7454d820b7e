//! Members through HTTP against the real host, components, PostgreSQL and Redis.

#[path = "support/kiosk.rs"]
mod kiosk;

use kiosk::*;
use sentinel_tests::fixtures::{admin, as_key, as_role};
use sentinel_tests::{request, request_bytes, sql};
use serde_json::{json, Value};

fn service_number() -> String {
    let n = unique("");
    format!("SN{}", &n[n.len() - 10..])
}

fn create(body: &Value) -> sentinel_tests::Resp {
    admin("POST", "/api/members", Some(body))
}

fn valid(division: &str) -> Value {
    json!({ "serviceNumber": service_number(), "rank": "S1", "firstName": "Ada", "lastName": "Lovelace", "divisionId": division })
}

#[test]
fn create_returns_the_member_with_derived_lookups_and_audits() {
    let division = division();
    let mut body = valid(&division);
    body["middleInitial"] = json!("K");
    body["email"] = json!("ada@navy.example.ca");
    body["phoneNumber"] = json!("204-555-0100");
    body["rank"] = json!("lt(n)");
    let r = create(&body);
    assert_eq!(r.status, 201, "{}", r.text);
    let m = &r.body;
    assert_eq!(m["serviceNumber"], body["serviceNumber"]);
    assert_eq!(m["rank"], "Lt(N)", "rank resolved case-insensitively to its code");
    assert_eq!((m["middleInitial"].as_str(), m["phoneNumber"].as_str()), (Some("K"), Some("204-555-0100")));
    assert_eq!((m["status"].as_str(), m["memberType"].as_str()), (Some("active"), Some("class_a")));
    assert!(m["memberTypeId"].is_string() && m["memberStatusId"].is_string());
    assert_eq!(m["badgeId"], Value::Null);
    assert!(m["createdAt"].as_str().unwrap().ends_with('Z'));
    let audit = sql(&format!("SELECT action FROM audit_log WHERE entity_id = '{}'", m["id"].as_str().unwrap()));
    assert_eq!(audit, vec![json!({"action": "member_create"})]);
    let got = as_role("quartermaster", "GET", &format!("/api/members/{}", m["id"].as_str().unwrap()), None);
    assert_eq!(got.body, r.body);
    let found = as_role("quartermaster", "GET", &format!("/api/members/search/{}", body["serviceNumber"].as_str().unwrap()), None);
    assert_eq!(found.body["id"], m["id"]);
}

#[test]
fn create_validation_and_reference_errors() {
    let division = division();
    let too_long = "x".repeat(101);
    for (patch, what) in [
        (json!({ "serviceNumber": "12345" }), "short service number"),
        (json!({ "serviceNumber": "1".repeat(21) }), "long service number"),
        (json!({ "firstName": "" }), "empty first name"),
        (json!({ "lastName": too_long }), "long last name"),
        (json!({ "middleInitial": "ABCDEF" }), "long initial"),
        (json!({ "email": "not-an-email" }), "bad email"),
        (json!({ "divisionId": "nope" }), "bad division uuid"),
        (json!({ "badgeId": "123" }), "bad badge uuid"),
        (json!({ "firstName": 7 }), "wrong type"),
        (json!({ "unknown": 1 }), "unknown field"),
        (json!({ "phoneNumber": "9".repeat(51) }), "long phone"),
    ] {
        let mut body = valid(&division);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        assert_validation_error(&create(&body), what);
    }
    let mut missing = valid(&division);
    missing.as_object_mut().unwrap().remove("rank");
    assert_validation_error(&create(&missing), "missing rank");
    let r = request_bytes("POST", "/api/members", &[("authorization", &format!("Bearer {}", sentinel_tests::fixtures::user("admin").token)), ("content-type", "application/json")], Some(b"{not json".to_vec()));
    assert_validation_error(&r, "malformed JSON");

    let mut body = valid(&division);
    body["rank"] = json!("Shipmate");
    let r = create(&body);
    assert_eq!(r.status, 400, "{}", r.text);
    let zero = "00000000-0000-0000-0000-000000000000";
    for field in ["divisionId", "memberTypeId", "memberStatusId", "badgeId"] {
        let mut body = valid(&division);
        body[field] = json!(zero);
        let r = create(&body);
        assert_eq!(r.status, 404, "{field}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains(zero), "{}", r.text);
    }
}

#[test]
fn duplicate_service_numbers_are_409_naming_the_number() {
    let division = division();
    let body = valid(&division);
    assert_eq!(create(&body).status, 201);
    let r = create(&body);
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains(body["serviceNumber"].as_str().unwrap()));
}

#[test]
fn badges_are_linked_both_ways_and_replaced_atomically() {
    let division = division();
    let (first, _) = badge("active");
    let mut body = valid(&division);
    body["badgeId"] = json!(first);
    let r = create(&body);
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["badgeId"], json!(first));
    let b = sql(&format!("SELECT assignment_type, assigned_to_id::text AS holder FROM badges WHERE id = '{first}'"));
    assert_eq!(b[0], json!({"assignment_type": "member", "holder": id}));

    // A badge held by someone else, or not active, cannot be given.
    let other = holder();
    let r = admin("PATCH", &format!("/api/members/{id}"), Some(&json!({ "badgeId": other.badge })));
    assert_eq!(r.status, 409, "{}", r.text);
    let (lost, _) = badge("lost");
    assert_eq!(admin("PATCH", &format!("/api/members/{id}"), Some(&json!({ "badgeId": lost }))).status, 409);

    // Replacing unassigns the previous badge.
    let (second, _) = badge("active");
    let r = admin("PATCH", &format!("/api/members/{id}"), Some(&json!({ "badgeId": second })));
    assert_eq!((r.status, r.body["badgeId"].clone()), (200, json!(second)), "{}", r.text);
    let b = sql(&format!("SELECT assignment_type FROM badges WHERE id = '{first}'"));
    assert_eq!(b[0]["assignment_type"], "unassigned");
    // null takes it away.
    let r = admin("PATCH", &format!("/api/members/{id}"), Some(&json!({ "badgeId": null })));
    assert_eq!(r.body["badgeId"], Value::Null, "{}", r.text);
    assert_eq!(sql(&format!("SELECT assignment_type FROM badges WHERE id = '{second}'"))[0]["assignment_type"], "unassigned");
}

#[test]
fn update_changes_fields_and_rejects_bad_input() {
    let division = division();
    let created = create(&valid(&division)).body;
    let id = created["id"].as_str().unwrap();
    let r = admin("PATCH", &format!("/api/members/{id}"), Some(&json!({ "firstName": "Grace", "status": "leave", "email": null })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["firstName"].as_str(), r.body["status"].as_str()), (Some("Grace"), Some("leave")));
    assert_eq!(r.body["lastName"], "Lovelace");
    assert_validation_error(&admin("PATCH", &format!("/api/members/{id}"), Some(&json!({}))), "empty body");
    assert_validation_error(&admin("PATCH", &format!("/api/members/{id}"), Some(&json!({ "status": "asleep" }))), "bad status");
    let taken = create(&valid(&division)).body["serviceNumber"].clone();
    let r = admin("PATCH", &format!("/api/members/{id}"), Some(&json!({ "serviceNumber": taken })));
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(admin("PATCH", "/api/members/00000000-0000-0000-0000-000000000000", Some(&json!({ "firstName": "X" }))).status, 404);
    let audit = sql(&format!("SELECT count(*) AS n FROM audit_log WHERE action = 'member_update' AND entity_id = '{id}'"));
    assert_eq!(audit[0]["n"], 1);
}

#[test]
fn delete_is_a_soft_delete_and_idempotent() {
    let h = holder();
    let (_, key) = kiosk();
    assert_eq!(scan(&key, &h.serial, None).status, 201);
    assert_eq!(division_presence(&h.division), (1, 1));
    let r = admin("DELETE", &format!("/api/members/{}", h.member), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({ "success": true, "message": "Member deleted successfully" }));
    let row = sql(&format!("SELECT status, badge_id::text AS badge FROM members WHERE id = '{}'", h.member));
    assert_eq!(row[0], json!({ "status": "inactive", "badge": h.badge }));
    assert_eq!(division_presence(&h.division), (0, 0), "inactive members leave presence at once");
    assert_eq!(admin("DELETE", &format!("/api/members/{}", h.member), None).status, 200);
    // The idempotent repeat is a successful call too: one audit row each.
    let audits = sql(&format!(
        "SELECT details->'before'->>'status' AS before, details->'after'->>'status' AS after, (details->>'changed')::boolean AS changed
         FROM audit_log WHERE action = 'member_delete' AND entity_id = '{}' ORDER BY created_at, id",
        h.member
    ));
    assert_eq!(audits, vec![
        json!({ "before": "active", "after": "inactive", "changed": true }),
        json!({ "before": "inactive", "after": "inactive", "changed": false }),
    ]);
    assert_eq!(admin("DELETE", "/api/members/00000000-0000-0000-0000-000000000000", None).status, 404);
    // Soft-deleted members still appear (as inactive) in lists.
    let r = as_role("quartermaster", "GET", &format!("/api/members?divisionId={}&status=inactive", h.division), None);
    assert_eq!(r.body["total"], 1, "{}", r.text);
}

/// The row of `division` in every `presence:update` pushed so far, oldest first, as (present, total).
fn pushed_division_figures(division: &str) -> Vec<(i64, i64)> {
    stream("presence")
        .into_iter()
        .filter(|(event, _)| event == "presence:update")
        .filter_map(|(_, data)| {
            let rows = data["byDivision"].as_array()?.clone();
            let row = rows.into_iter().find(|d| d["divisionId"] == json!(division))?;
            Some((row["present"].as_i64()?, row["total"].as_i64()?))
        })
        .collect()
}

/// Whether the pushed figures show `from` and later `to`.
fn went_from(figures: &[(i64, i64)], from: (i64, i64), to: (i64, i64)) -> bool {
    figures.iter().position(|f| *f == from).is_some_and(|i| figures[i + 1..].contains(&to))
}

#[test]
fn creating_an_active_member_or_moving_divisions_publishes_presence() {
    // Realtime: presence:update after any committed change that can alter presence — the totals
    // move when an active member is created or changes division (divisions made by SQL publish nothing).
    let first = division();
    let second = division();
    let r = create(&valid(&first));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(pushed_division_figures(&first).contains(&(0, 1)), "create published the new total: {:?}", pushed_division_figures(&first));

    let r = admin("PATCH", &format!("/api/members/{id}"), Some(&json!({ "divisionId": second })));
    assert_eq!((r.status, r.body["divisionId"].clone()), (200, json!(second)), "{}", r.text);
    assert!(pushed_division_figures(&second).contains(&(0, 1)), "the new division gained the member: {:?}", pushed_division_figures(&second));
    assert!(went_from(&pushed_division_figures(&first), (0, 1), (0, 0)), "the old division lost the member: {:?}", pushed_division_figures(&first));

    // A member created on leave moves no figure (their PATCH to active does).
    let third = division();
    let mut body = valid(&third);
    body["memberStatusId"] = sql("SELECT id::text AS id FROM member_statuses WHERE code = 'leave'")[0]["id"].clone();
    let r = create(&body);
    assert_eq!((r.status, r.body["status"].as_str()), (201, Some("leave")), "{}", r.text);
    let on_leave = r.body["id"].as_str().unwrap().to_string();
    assert!(pushed_division_figures(&third).iter().all(|f| *f == (0, 0)), "{:?}", pushed_division_figures(&third));
    assert_eq!(admin("PATCH", &format!("/api/members/{on_leave}"), Some(&json!({ "status": "active" }))).status, 200);
    assert!(pushed_division_figures(&third).contains(&(0, 1)), "{:?}", pushed_division_figures(&third));
}

#[test]
fn list_filters_sorts_and_paginates() {
    let division = division();
    for (first, last) in [("Zed", "Adams"), ("Amy", "Baker"), ("Bob", "Baker")] {
        let mut body = valid(&division);
        body["firstName"] = json!(first);
        body["lastName"] = json!(last);
        assert_eq!(create(&body).status, 201);
    }
    let q = |query: &str| as_role("quartermaster", "GET", &format!("/api/members?divisionId={division}&{query}"), None);
    let r = q("limit=2");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["total"].as_i64(), r.body["totalPages"].as_i64(), r.body["limit"].as_i64()), (Some(3), Some(2), Some(2)));
    let names: Vec<&str> = r.body["members"].as_array().unwrap().iter().map(|m| m["firstName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Zed", "Amy"], "lastName then firstName");
    // Later pages bind their offset (the first page's statement has none): the next row, then nothing.
    let names = |query: &str| -> Vec<String> {
        let r = q(query);
        assert_eq!((r.status, r.body["total"].as_i64()), (200, Some(3)), "{query}: {}", r.text);
        r.body["members"].as_array().unwrap().iter().map(|m| m["firstName"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names("limit=2&page=2"), ["Bob"]);
    assert_eq!(names("limit=1&page=2"), ["Amy"]);
    assert!(names("limit=2&page=3").is_empty());
    let r = q("search=bak&sortBy=firstName&sortOrder=desc");
    let names: Vec<&str> = r.body["members"].as_array().unwrap().iter().map(|m| m["firstName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Bob", "Amy"]);
    assert_eq!(q("rank=S1").body["total"], 3);
    assert_eq!(q("rank=PO1").body["total"], 0);
    for bad in ["status=asleep", "sortBy=salary", "sortOrder=up", "page=0", "limit=500"] {
        assert_validation_error(&q(bad), bad);
    }
    assert_validation_error(&as_role("quartermaster", "GET", "/api/members?divisionId=zzz", None), "bad divisionId");
}

#[test]
fn only_changes_that_move_the_presence_figures_announce_them() {
    // Each presence trigger's WHEN clause names the change that moves the figures (docs/database.md,
    // "Realtime outbox"). The deferred triggers are made immediate so the rows show inside the transaction.
    let r = create(&valid(&division()));
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let url = sentinel_tests::services().database_url.clone();
    let announced = sentinel_tests::block_on(async move {
        let mut client = sentinel_ops::connect(&url).await.unwrap();
        let tx = client.transaction().await.unwrap();
        tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE").await.unwrap();
        let mut announced = Vec::new();
        for change in [
            "UPDATE members SET first_name = 'Renamed', status = status, division_id = division_id WHERE id = $1::text::uuid",
            "UPDATE members SET status = 'leave' WHERE id = $1::text::uuid",
        ] {
            tx.execute(change, &[&id]).await.unwrap();
            let rows: i64 = tx
                .query_one("SELECT count(*) FROM event_outbox WHERE txid = pg_current_xact_id() AND channel = 'presence'", &[])
                .await
                .unwrap()
                .get(0);
            announced.push(rows);
        }
        tx.rollback().await.unwrap();
        announced
    });
    assert_eq!(announced, [0, 1], "a rename announces nothing; a status change announces presence");
}

#[test]
fn access_rules_per_route() {
    let id = "00000000-0000-0000-0000-000000000000";
    for (method, path) in [("GET", "/api/members".to_string()), ("GET", format!("/api/members/{id}")), ("GET", "/api/members/search/X123456".to_string())] {
        assert_eq!(request(method, &path, &[], None).status, 401, "{path}");
        assert_eq!(as_key("kiosk", method, &path, None).status, 403, "{path}");
        assert_eq!(as_key("display", method, &path, None).status, 403, "{path}");
        assert_ne!(as_role("quartermaster", method, &path, None).status, 403, "{path}");
    }
    for (method, path) in [("POST", "/api/members".to_string()), ("PATCH", format!("/api/members/{id}")), ("DELETE", format!("/api/members/{id}"))] {
        assert_eq!(request(method, &path, &[], Some(&json!({}))).status, 401, "{path}");
        assert_eq!(as_role("executive", method, &path, Some(&json!({}))).status, 403, "{path}");
        assert_eq!(as_key("kiosk", method, &path, Some(&json!({}))).status, 403, "{path}");
    }
    assert_eq!(as_role("quartermaster", "GET", "/api/members/not-a-uuid", None).status, 400);
    assert_eq!(as_role("developer", "GET", &format!("/api/members/{id}"), None).status, 404);
}

#[test]
fn service_numbers_that_read_like_other_member_routes_are_searched_too() {
    // `/api/members/:id/checkins` and `/api/members/:memberId/tags` belong to other components; a search
    // for the service number `checkins` or `tags` must still reach the members component.
    let r = sentinel_tests::fixtures::as_role("quartermaster", "GET", "/api/members/search/tags", None);
    assert_eq!((r.status, r.body["error"].as_str()), (404, Some("NOT_FOUND")), "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("tags"), "{}", r.text);
    // Issue 13, finding 6: a member whose service number is `checkins` is found by the search.
    let existing = sql("SELECT id::text AS id FROM members WHERE service_number = 'checkins'");
    let id = match existing.first() {
        Some(row) => row["id"].clone(),
        None => {
            let mut body = valid(&division());
            body["serviceNumber"] = json!("checkins");
            let created = create(&body);
            assert_eq!(created.status, 201, "{}", created.text);
            created.body["id"].clone()
        }
    };
    let found = as_role("quartermaster", "GET", "/api/members/search/checkins", None);
    assert_eq!((found.status, found.body["id"].clone()), (200, id), "{}", found.text);
    assert_eq!(found.body["serviceNumber"], "checkins");
}
