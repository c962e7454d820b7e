//! The admin component through HTTP against
//! the real host, components, PostgreSQL and Redis: user administration and
//! its rules 1–5, sessions, enumerations, kiosk status and the audit trail.

use sentinel_tests::fixtures::{self, admin, as_key, as_role, bearer, new_api_key, new_user, PASSWORD};
use sentinel_tests::{request, sql, sql_exec, Resp};
use serde_json::{json, Value};

fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    format!("{prefix}{:08x}", h.finish() as u32)
}

fn with_token(token: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let (name, value) = bearer(token);
    request(method, path, &[(name, value.as_str())], body)
}

/// Creates a user through the API as the shared admin; returns its JSON.
fn create_user(role: &str) -> Value {
    let email = format!("{}@admin.test", unique("u"));
    let r = admin("POST", "/api/admin/users", Some(&json!({ "email": email, "password": PASSWORD, "role": role })));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["user"].clone()
}

fn id_of(user: &Value) -> String {
    user["id"].as_str().unwrap().to_string()
}

/// Audit rows of `action` recorded for `entity_id`.
fn audit_rows(action: &str, entity_id: &str) -> Vec<Value> {
    sql(&format!(
        "SELECT admin_user_id::text AS actor, details FROM audit_log WHERE action = '{action}' AND entity_id = '{entity_id}'::uuid"
    ))
}

fn assert_audited_once(action: &str, entity_id: &str, actor: &str) {
    let rows = audit_rows(action, entity_id);
    assert_eq!(rows.len(), 1, "{action} rows for {entity_id}: {rows:?}");
    assert_eq!(rows[0]["actor"], json!(actor));
    assert!(!rows[0]["details"].to_string().contains("argon2"), "audit details leak a hash: {}", rows[0]["details"]);
}

fn login_status(email: &str, password: &str) -> u16 {
    request("POST", "/api/auth/login", &[], Some(&json!({ "email": email, "password": password }))).status
}

// ------------------------------------------------------------------ users

#[test]
fn create_get_list_and_update_users() {
    let admin_id = fixtures::user("admin").id;
    let email = format!("{}@Admin.Test", unique("Mixed"));
    let username = unique("user_");
    let r = admin(
        "POST",
        "/api/admin/users",
        Some(&json!({ "email": email, "password": PASSWORD, "displayName": "Jane Doe", "firstName": "Jane", "lastName": "Doe",
                      "username": username, "role": "duty_watch" })),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let user = &r.body["user"];
    let id = id_of(user);
    for key in ["id", "email", "username", "displayName", "firstName", "lastName", "role", "memberId", "disabled", "disabledAt", "lastLoginAt", "createdAt", "updatedAt"] {
        assert!(user.get(key).is_some(), "missing {key}: {user}");
    }
    assert!(!r.text.to_lowercase().contains("password"), "{}", r.text);
    assert_eq!((user["role"].as_str(), user["disabled"].as_bool()), (Some("duty_watch"), Some(false)));
    assert_audited_once("user_created", &id, &admin_id);

    // The new account signs in.
    assert_eq!(login_status(&email, PASSWORD), 200);

    let r = admin("GET", &format!("/api/admin/users/{id}"), None);
    assert_eq!((r.status, r.body["user"]["email"].as_str()), (200, Some(email.as_str())));

    // Default display name is the e-mail's local part; default role quartermaster.
    let local = unique("local");
    let r = admin("POST", "/api/admin/users", Some(&json!({ "email": format!("{local}@admin.test"), "password": PASSWORD })));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["user"]["displayName"].as_str(), r.body["user"]["role"].as_str()), (Some(local.as_str()), Some("quartermaster")));

    let r = admin("GET", "/api/admin/users?limit=2&offset=1", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["users"].as_array().unwrap().len(), 2);
    assert_eq!((r.body["pagination"]["limit"].as_i64(), r.body["pagination"]["offset"].as_i64()), (Some(2), Some(1)));
    assert!(r.body["pagination"]["total"].as_i64().unwrap() >= 2);
    assert!(!r.text.contains("passwordHash") && !r.text.contains("argon2"));
    for bad in ["limit=0", "limit=101", "offset=-1", "limit=x"] {
        assert_eq!(admin("GET", &format!("/api/admin/users?{bad}"), None).status, 400, "{bad}");
    }

    let r = admin("PATCH", &format!("/api/admin/users/{id}"), Some(&json!({ "displayName": "J. Doe", "lastName": null })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["user"]["displayName"].as_str(), &r.body["user"]["lastName"]), (Some("J. Doe"), &Value::Null));
    assert_audited_once("user_updated", &id, &admin_id);
    assert_eq!(admin("PATCH", &format!("/api/admin/users/{id}"), Some(&json!({}))).status, 400);
    assert_eq!(admin("PATCH", &format!("/api/admin/users/{id}"), Some(&json!({ "passwordHash": "x" }))).status, 400);
}

#[test]
fn validation_duplicates_and_unknown_ids() {
    let existing = create_user("quartermaster");
    let email = existing["email"].as_str().unwrap();

    // Rule 4: duplicates name the value; e-mail is unique case-insensitively.
    let r = admin("POST", "/api/admin/users", Some(&json!({ "email": email.to_uppercase(), "password": PASSWORD })));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains(&email.to_uppercase()), "{}", r.text);

    let username = unique("dup_");
    let first = admin("POST", "/api/admin/users", Some(&json!({ "email": format!("{}@admin.test", unique("a")), "password": PASSWORD, "username": username })));
    assert_eq!(first.status, 201, "{}", first.text);
    let r = admin("POST", "/api/admin/users", Some(&json!({ "email": format!("{}@admin.test", unique("b")), "password": PASSWORD, "username": username })));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains(&username), "{}", r.text);
    let r = admin("PATCH", &format!("/api/admin/users/{}", id_of(&existing)), Some(&json!({ "username": username })));
    assert_eq!(r.status, 409, "{}", r.text);

    // Rule 5: the password policy, one issue per problem.
    let r = admin("POST", "/api/admin/users", Some(&json!({ "email": format!("{}@admin.test", unique("w")), "password": "short" })));
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"], "VALIDATION_ERROR");
    assert!(r.body["issues"].as_array().unwrap().iter().all(|i| i["path"] == "password"), "{}", r.text);
    assert!(r.body["issues"].as_array().unwrap().len() >= 2, "{}", r.text);

    for body in [
        json!({ "email": "not-an-email", "password": PASSWORD }),
        json!({ "email": "x@admin.test", "password": PASSWORD, "role": "superuser" }),
        json!({ "email": "x@admin.test", "password": PASSWORD, "username": "a b" }),
        json!({ "email": "x@admin.test", "password": PASSWORD, "memberId": "nope" }),
        json!({ "email": "x@admin.test", "password": PASSWORD, "badgeId": "B1" }),
    ] {
        assert_eq!(admin("POST", "/api/admin/users", Some(&body)).status, 400, "{body}");
    }

    let r = admin("POST", "/api/admin/users", Some(&json!({ "email": format!("{}@admin.test", unique("m")), "password": PASSWORD,
                                                          "memberId": "00000000-0000-0000-0000-000000000000" })));
    assert_eq!(r.status, 404, "{}", r.text);

    let zero = "00000000-0000-0000-0000-000000000000";
    for (method, path) in [
        ("GET", format!("/api/admin/users/{zero}")),
        ("DELETE", format!("/api/admin/users/{zero}")),
        ("POST", format!("/api/admin/users/{zero}/disable")),
        ("POST", format!("/api/admin/users/{zero}/enable")),
        ("DELETE", format!("/api/admin/sessions/{zero}")),
    ] {
        let r = admin(method, &path, None);
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains(zero));
    }
    let r = admin("PATCH", &format!("/api/admin/users/{zero}"), Some(&json!({ "displayName": "x" })));
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(admin("GET", "/api/admin/users/not-a-uuid", None).status, 400);
}

#[test]
fn role_guard() {
    let developer = fixtures::user("developer");
    let target_dev = create_user_as(&developer.token, "developer");

    // An admin cannot grant developer, nor manage developers.
    let r = admin("POST", "/api/admin/users", Some(&json!({ "email": format!("{}@admin.test", unique("g")), "password": PASSWORD, "role": "developer" })));
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().starts_with("Your role (admin) cannot"), "{}", r.text);
    let dev_id = id_of(&target_dev);
    for (method, path, body) in [
        ("PATCH", format!("/api/admin/users/{dev_id}"), Some(json!({ "displayName": "x" }))),
        ("POST", format!("/api/admin/users/{dev_id}/disable"), None),
        ("POST", format!("/api/admin/users/{dev_id}/reset-password"), Some(json!({ "newPassword": "An0ther-Passw0rd!" }))),
        ("DELETE", format!("/api/admin/users/{dev_id}"), None),
    ] {
        let r = admin(method, &path, body.as_ref());
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().starts_with("Your role (admin) cannot"), "{}", r.text);
    }
    let qm = create_user("quartermaster");
    let r = admin("PATCH", &format!("/api/admin/users/{}", id_of(&qm)), Some(&json!({ "role": "developer" })));
    assert_eq!(r.status, 403, "{}", r.text);

    // A developer manages developers.
    let r = with_token(&developer.token, "PATCH", &format!("/api/admin/users/{dev_id}"), Some(&json!({ "displayName": "Dev Two" })));
    assert_eq!(r.status, 200, "{}", r.text);

    // Duty watch: only names and memberId of users below admin.
    let dw = new_user("duty_watch");
    let qm_id = id_of(&qm);
    let r = with_token(&dw.token, "PATCH", &format!("/api/admin/users/{qm_id}"), Some(&json!({ "displayName": "Renamed", "firstName": "R" })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_audited_once("user_updated", &qm_id, &dw.id);
    for body in [json!({ "role": "executive" }), json!({ "email": "new@admin.test" }), json!({ "username": "newname" })] {
        let r = with_token(&dw.token, "PATCH", &format!("/api/admin/users/{qm_id}"), Some(&body));
        assert_eq!(r.status, 403, "{body}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().starts_with("Your role (duty_watch) cannot"), "{}", r.text);
    }
    let an_admin = create_user("admin");
    let r = with_token(&dw.token, "PATCH", &format!("/api/admin/users/{}", id_of(&an_admin)), Some(&json!({ "displayName": "x" })));
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().starts_with("Your role (duty_watch) cannot"), "{}", r.text);
    // ... and nothing else of user administration.
    assert_eq!(with_token(&dw.token, "POST", "/api/admin/users", Some(&json!({ "email": "a@b.c", "password": PASSWORD }))).status, 403);
    assert_eq!(with_token(&dw.token, "DELETE", &format!("/api/admin/users/{qm_id}"), None).status, 403);
    assert_eq!(with_token(&dw.token, "GET", "/api/admin/users", None).status, 403);
    assert_eq!(as_role("executive", "GET", "/api/admin/sessions", None).status, 403);
    assert_eq!(as_role("quartermaster", "PATCH", &format!("/api/admin/users/{qm_id}"), Some(&json!({ "displayName": "x" }))).status, 403);
    assert_eq!(request("GET", "/api/admin/users", &[], None).status, 401);
    assert_eq!(as_key("kiosk", "GET", "/api/admin/users", None).status, 403);
}

fn create_user_as(token: &str, role: &str) -> Value {
    let r = with_token(token, "POST", "/api/admin/users", Some(&json!({ "email": format!("{}@admin.test", unique("d")), "password": PASSWORD, "role": role })));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["user"].clone()
}

#[test]
fn nobody_disables_or_deletes_themselves() {
    let me = new_user("admin");
    for (method, path) in [("POST", format!("/api/admin/users/{}/disable", me.id)), ("DELETE", format!("/api/admin/users/{}", me.id))] {
        let r = with_token(&me.token, method, &path, None);
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
    }
    assert_eq!(with_token(&me.token, "GET", "/api/auth/session", None).status, 200);
}

#[test]
fn disabling_revokes_sessions_at_once_and_enabling_restores_sign_in() {
    let admin_id = fixtures::user("admin").id;
    let victim = new_user("quartermaster");
    assert_eq!(with_token(&victim.token, "GET", "/api/auth/session", None).status, 200);

    let r = admin("POST", &format!("/api/admin/users/{}/disable", victim.id), None);
    assert_eq!((r.status, r.body["message"].as_str()), (200, Some("User disabled successfully")), "{}", r.text);
    assert_eq!(with_token(&victim.token, "GET", "/api/auth/session", None).status, 401);
    let open = sql(&format!("SELECT count(*) AS n FROM sessions WHERE user_id = '{}' AND revoked_at IS NULL", victim.id));
    assert_eq!(open[0]["n"], 0);
    assert_audited_once("user_disabled", &victim.id, &admin_id);
    let r = admin("GET", &format!("/api/admin/users/{}", victim.id), None);
    assert_eq!(r.body["user"]["disabled"], true);
    assert!(r.body["user"]["disabledAt"].is_string());

    // Rule 4: twice is a conflict; a disabled account cannot sign in.
    assert_eq!(admin("POST", &format!("/api/admin/users/{}/disable", victim.id), None).status, 409);
    assert_eq!(login_status(&victim.email, PASSWORD), 403);

    let r = admin("POST", &format!("/api/admin/users/{}/enable", victim.id), None);
    assert_eq!((r.status, r.body["message"].as_str()), (200, Some("User enabled successfully")), "{}", r.text);
    assert_eq!(admin("POST", &format!("/api/admin/users/{}/enable", victim.id), None).status, 409);
    assert_audited_once("user_enabled", &victim.id, &admin_id);
    assert_eq!(login_status(&victim.email, PASSWORD), 200);
}

#[test]
fn reset_password_and_role_change_revoke_sessions() {
    let admin_id = fixtures::user("admin").id;
    let victim = new_user("quartermaster");
    let new_password = "N3w-Passw0rd!xyz";

    let r = admin("POST", &format!("/api/admin/users/{}/reset-password", victim.id), Some(&json!({ "newPassword": "weakpassword" })));
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["issues"].as_array().unwrap().iter().all(|i| i["path"] == "newPassword"));
    assert_eq!(with_token(&victim.token, "GET", "/api/auth/session", None).status, 200);

    let r = admin("POST", &format!("/api/admin/users/{}/reset-password", victim.id), Some(&json!({ "newPassword": new_password })));
    assert_eq!((r.status, r.body["message"].as_str()), (200, Some("Password reset successfully")), "{}", r.text);
    assert_eq!(with_token(&victim.token, "GET", "/api/auth/session", None).status, 401);
    assert_eq!(login_status(&victim.email, PASSWORD), 401);
    assert_audited_once("password_reset", &victim.id, &admin_id);
    let token = fixtures::login(&victim.email, new_password);

    // A role change revokes too, and is audited as role_changed.
    let r = admin("PATCH", &format!("/api/admin/users/{}", victim.id), Some(&json!({ "role": "executive" })));
    assert_eq!((r.status, r.body["user"]["role"].as_str()), (200, Some("executive")), "{}", r.text);
    assert_eq!(with_token(&token, "GET", "/api/auth/session", None).status, 401);
    assert_audited_once("role_changed", &victim.id, &admin_id);
    assert!(audit_rows("user_updated", &victim.id).is_empty());

    // Changing only names keeps the sessions.
    let token = fixtures::login(&victim.email, new_password);
    let r = admin("PATCH", &format!("/api/admin/users/{}", victim.id), Some(&json!({ "firstName": "Still", "role": "executive" })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(with_token(&token, "GET", "/api/auth/session", None).status, 200);
}

#[test]
fn delete_user() {
    let admin_id = fixtures::user("admin").id;
    let victim = new_user("executive");
    let r = admin("DELETE", &format!("/api/admin/users/{}", victim.id), None);
    assert_eq!((r.status, r.body["message"].as_str()), (200, Some("User deleted successfully")), "{}", r.text);
    assert_eq!(admin("GET", &format!("/api/admin/users/{}", victim.id), None).status, 404);
    assert_eq!(with_token(&victim.token, "GET", "/api/auth/session", None).status, 401);
    assert_eq!(admin("DELETE", &format!("/api/admin/users/{}", victim.id), None).status, 404);
    assert_audited_once("user_deleted", &victim.id, &admin_id);
}

#[test]
fn sessions_are_listed_without_secrets_and_revocable() {
    let admin_id = fixtures::user("admin").id;
    let victim = new_user("quartermaster");
    let second = fixtures::login(&victim.email, PASSWORD);

    let r = admin("GET", &format!("/api/admin/sessions?userId={}", victim.id), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let sessions = r.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{}", r.text);
    assert!(sessions.iter().all(|s| s["userId"] == json!(victim.id) && s["active"] == true));
    assert!(!r.text.contains("token") && !r.text.contains(&victim.token) && !r.text.contains("Hash"), "{}", r.text);
    assert_eq!(admin("GET", "/api/admin/sessions?userId=nope", None).status, 400);

    // Revoke the first session: its token fails on the next request, the other still works.
    let first_id = sql(&format!("SELECT id::text AS id FROM sessions WHERE user_id = '{}' ORDER BY created_at LIMIT 1", victim.id))[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin("DELETE", &format!("/api/admin/sessions/{first_id}"), None);
    assert_eq!((r.status, r.body["message"].as_str()), (200, Some("Session revoked successfully")), "{}", r.text);
    assert_eq!(with_token(&victim.token, "GET", "/api/auth/session", None).status, 401);
    assert_eq!(with_token(&second, "GET", "/api/auth/session", None).status, 200);
    let rows = sql(&format!("SELECT admin_user_id::text AS actor, details FROM audit_log WHERE action = 'session_revoke' AND entity_id = '{}'", victim.id));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0]["actor"].as_str(), rows[0]["details"]["sessionId"].as_str()), (Some(admin_id.as_str()), Some(first_id.as_str())));
    // Idempotent: revoking again answers 200 without another audit row.
    assert_eq!(admin("DELETE", &format!("/api/admin/sessions/{first_id}"), None).status, 200);
    assert_eq!(sql(&format!("SELECT 1 FROM audit_log WHERE action = 'session_revoke' AND entity_id = '{}'", victim.id)).len(), 1);

    let r = admin("GET", &format!("/api/admin/sessions?userId={}", victim.id), None);
    assert_eq!(r.body["sessions"].as_array().unwrap().len(), 1);
    let r = admin("GET", &format!("/api/admin/sessions?userId={}&includeInactive=true", victim.id), None);
    assert_eq!(r.body["sessions"].as_array().unwrap().len(), 2);
}

/// `active` in the session list means "would authenticate now", as the
/// authentication itself decides: an RFID session idle for 15 minutes is not.
#[test]
fn idle_rfid_sessions_are_not_listed_as_active() {
    let victim = new_user("duty_watch");
    let idle = fixtures::login(&victim.email, PASSWORD);
    sql_exec(&format!(
        "UPDATE sessions SET kind = 'rfid', last_seen_at = now() - interval '16 minutes'
         WHERE id = (SELECT id FROM sessions WHERE user_id = '{}' ORDER BY created_at DESC LIMIT 1)",
        victim.id
    ));
    assert_eq!(with_token(&idle, "GET", "/api/auth/session", None).status, 401, "the idle RFID session no longer authenticates");
    assert_eq!(with_token(&victim.token, "GET", "/api/auth/session", None).status, 200);

    let r = admin("GET", &format!("/api/admin/sessions?userId={}", victim.id), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let sessions = r.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{}", r.text);
    assert_eq!((sessions[0]["kind"].as_str(), &sessions[0]["active"]), (Some("password"), &json!(true)));

    let r = admin("GET", &format!("/api/admin/sessions?userId={}&includeInactive=true", victim.id), None);
    let mut listed: Vec<_> = r.body["sessions"].as_array().unwrap().iter().map(|s| (s["kind"].as_str().unwrap().to_string(), s["active"].clone())).collect();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(listed, [("password".to_string(), json!(true)), ("rfid".to_string(), json!(false))]);
}

/// Rule 3 needs a database with exactly one active developer, so it runs on
/// a private stack: the last developer cannot demote themselves.
#[test]
fn last_active_developer_is_kept() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    let hash = sentinel_auth::password::hash(PASSWORD).unwrap();
    stack.sql_exec(&format!(
        "INSERT INTO users (email, display_name, password_hash, role) VALUES
            ('dev@solo.test', 'Solo Dev', '{hash}', 'developer'), ('adm@solo.test', 'Admin', '{hash}', 'admin')"
    ));
    let url = |p: &str| format!("{}{p}", stack.base_url());
    let login = |email: &str| {
        let r = request("POST", &url("/api/auth/login"), &[], Some(&json!({ "email": email, "password": PASSWORD })));
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["token"].as_str().unwrap().to_string()
    };
    let dev = login("dev@solo.test");
    let dev_id = stack.sql("SELECT id::text AS id FROM users WHERE email = 'dev@solo.test'")[0]["id"].as_str().unwrap().to_string();
    let (h, v) = bearer(&dev);
    let r = request("PATCH", &url(&format!("/api/admin/users/{dev_id}")), &[(h, v.as_str())], Some(&json!({ "role": "admin" })));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("last active developer"), "{}", r.text);
    // Self-disable and self-delete are refused by rule 2 first.
    let r = request("POST", &url(&format!("/api/admin/users/{dev_id}/disable")), &[(h, v.as_str())], None);
    assert_eq!(r.status, 403, "{}", r.text);

    // With a second developer the first may step down.
    let r = request("POST", &url("/api/admin/users"), &[(h, v.as_str())],
        Some(&json!({ "email": "dev2@solo.test", "password": PASSWORD, "role": "developer" })));
    assert_eq!(r.status, 201, "{}", r.text);
    let r = request("PATCH", &url(&format!("/api/admin/users/{dev_id}")), &[(h, v.as_str())], Some(&json!({ "role": "admin" })));
    assert_eq!(r.status, 200, "{}", r.text);
}

// ------------------------------------------------------------------ enumerations

#[test]
fn enum_groups_list_with_usage_counts_in_name_order() {
    for (group, key, system) in [
        ("visit-types", "visitTypes", None),
        ("member-statuses", "memberStatuses", Some("active")),
        ("member-types", "memberTypes", Some("class_a")),
        ("badge-statuses", "badgeStatuses", Some("lost")),
    ] {
        let r = as_role("quartermaster", "GET", &format!("/api/enums/{group}"), None);
        assert_eq!(r.status, 200, "{group}: {}", r.text);
        let items = r.body[key].as_array().unwrap_or_else(|| panic!("{group}: {}", r.text));
        assert!(!items.is_empty());
        let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "{group} ordered by name");
        assert!(items.iter().all(|i| i["usageCount"].is_i64() && i["createdAt"].is_string()), "{group}");
        if let Some(code) = system {
            assert!(items.iter().any(|i| i["code"] == code && i["isSystem"] == true), "{group}");
        }
    }
    // Kiosks read visit types (the visitor form) and nothing else here.
    assert_eq!(as_key("kiosk", "GET", "/api/enums/visit-types", None).status, 200);
    assert_eq!(as_key("kiosk", "GET", "/api/enums/member-types", None).status, 403);
    assert_eq!(as_key("display", "GET", "/api/enums/visit-types", None).status, 403);
    assert_eq!(request("GET", "/api/enums/visit-types", &[], None).status, 401);
    assert_eq!(as_role("executive", "POST", "/api/enums/visit-types", Some(&json!({ "code": "x", "name": "X" }))).status, 403);
}

#[test]
fn enum_lifecycle_usage_and_system_values() {
    let admin_id = fixtures::user("admin").id;
    let code = unique("vt_");
    let r = admin("POST", "/api/enums/visit-types", Some(&json!({ "code": code, "name": "Zz Test Visit", "description": "d", "color": "blue" })));
    assert_eq!(r.status, 201, "{}", r.text);
    let item = &r.body["visitType"];
    let id = item["id"].as_str().unwrap().to_string();
    assert_eq!((item["code"].as_str(), item["isSystem"].as_bool()), (Some(code.as_str()), Some(false)));
    assert!(item.get("usageCount").is_none(), "usageCount only on lists: {item}");
    assert_audited_once("enum_create", &id, &admin_id);

    // Rule 1: duplicate codes name the code; codes are lowercase [a-z0-9_].
    let r = admin("POST", "/api/enums/visit-types", Some(&json!({ "code": code, "name": "Again" })));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains(&code));
    for body in [json!({ "code": "Upper", "name": "x" }), json!({ "code": "has space", "name": "x" }), json!({ "code": "ok", "name": "" }),
                 json!({ "code": "ok", "name": "x", "color": "a-very-long-colour-name" }), json!({ "name": "x" })] {
        assert_eq!(admin("POST", "/api/enums/visit-types", Some(&body)).status, 400, "{body}");
    }
    let r = admin("PUT", &format!("/api/enums/visit-types/{id}"), Some(&json!({ "code": "guest" })));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("guest"));
    assert_eq!(admin("PUT", &format!("/api/enums/visit-types/{id}"), Some(&json!({}))).status, 400);

    // Partial update despite PUT.
    let r = admin("PUT", &format!("/api/enums/visit-types/{id}"), Some(&json!({ "name": "Zz Renamed", "color": null })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["visitType"]["name"].as_str(), r.body["visitType"]["code"].as_str(), &r.body["visitType"]["color"]),
               (Some("Zz Renamed"), Some(code.as_str()), &Value::Null));
    assert_eq!(r.body["visitType"]["description"], "d");
    assert_audited_once("enum_update", &id, &admin_id);

    // Rule 2: in use → 409 with the count; the usage count is visible in the list.
    sql_exec(&format!("INSERT INTO visitors (name, visit_type, kiosk_id, check_out_time) VALUES ('V', '{code}', 'k', now())"));
    let list = admin("GET", "/api/enums/visit-types", None);
    let listed = list.body["visitTypes"].as_array().unwrap().iter().find(|i| i["id"] == json!(id)).cloned().unwrap();
    assert_eq!(listed["usageCount"], 1);
    let r = admin("DELETE", &format!("/api/enums/visit-types/{id}"), None);
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().starts_with("Cannot delete"), "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("in use by 1 records"), "{}", r.text);

    // Re-coding an in-use value follows the references.
    let recoded = unique("vt_");
    let r = admin("PUT", &format!("/api/enums/visit-types/{id}"), Some(&json!({ "code": recoded })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sql(&format!("SELECT count(*) AS n FROM visitors WHERE visit_type = '{recoded}'"))[0]["n"], 1);

    sql_exec(&format!("DELETE FROM visitors WHERE visit_type = '{recoded}'"));
    let r = admin("DELETE", &format!("/api/enums/visit-types/{id}"), None);
    assert_eq!((r.status, r.body["message"].as_str()), (200, Some("Visit type deleted successfully")), "{}", r.text);
    assert_eq!(r.body["success"], true);
    assert_audited_once("enum_delete", &id, &admin_id);
    assert_eq!(admin("DELETE", &format!("/api/enums/visit-types/{id}"), None).status, 404);
    assert_eq!(admin("PUT", &format!("/api/enums/visit-types/{id}"), Some(&json!({ "name": "x" }))).status, 404);
    assert_eq!(admin("DELETE", "/api/enums/visit-types/not-a-uuid", None).status, 400);
}

#[test]
fn system_values_keep_their_code_and_existence() {
    let active = sql("SELECT id::text AS id, name FROM member_statuses WHERE code = 'active'")[0].clone();
    let id = active["id"].as_str().unwrap();
    let r = admin("DELETE", &format!("/api/enums/member-statuses/{id}"), None);
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("SYSTEM_VALUE")), "{}", r.text);
    let r = admin("PUT", &format!("/api/enums/member-statuses/{id}"), Some(&json!({ "code": "active_renamed" })));
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("SYSTEM_VALUE")), "{}", r.text);
    // Display fields stay editable.
    let r = admin("PUT", &format!("/api/enums/member-statuses/{id}"), Some(&json!({ "description": "Currently serving" })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["memberStatus"]["code"], "active");

    let lost = sql("SELECT id::text AS id FROM badge_statuses WHERE code = 'lost'")[0]["id"].as_str().unwrap().to_string();
    let r = admin("DELETE", &format!("/api/enums/badge-statuses/{lost}"), None);
    assert_eq!((r.status, r.body["error"].as_str()), (409, Some("SYSTEM_VALUE")), "{}", r.text);
    // Refusals write no audit rows.
    assert!(audit_rows("enum_delete", &lost).is_empty());
}

// ------------------------------------------------------------------ kiosks

#[test]
fn kiosk_heartbeat_and_status() {
    let kiosk_id = unique("kiosk-");
    let (key_id, key) = new_api_key("kiosk", Some(&kiosk_id));
    let headers = [("x-api-key", key.as_str())];

    let r = request("POST", "/api/kiosks/heartbeat", &headers, Some(&json!({ "queueSize": 3, "appVersion": "1.2.3" })));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["kioskId"], json!(kiosk_id));
    assert!(r.body["serverTime"].as_str().unwrap().ends_with('Z'));
    let status = sql(&format!("SELECT last_reported_status, queue_size, app_version, api_key_id::text AS key FROM kiosk_status WHERE kiosk_id = '{kiosk_id}'"));
    assert_eq!(status[0]["last_reported_status"], "online");
    assert_eq!((status[0]["queue_size"].as_i64(), status[0]["key"].as_str()), (Some(3), Some(key_id.as_str())));

    let find = || {
        let r = admin("GET", "/api/kiosks", None);
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["kiosks"].as_array().unwrap().iter().find(|k| k["kioskId"] == json!(kiosk_id)).cloned().expect("kiosk listed")
    };
    let listed = find();
    assert_eq!((listed["status"].as_str(), listed["queueSize"].as_i64(), listed["name"].as_str()), (Some("online"), Some(3), Some("test kiosk key")));
    assert!(listed["lastSeen"].is_string());

    // Quiet for longer than 90 s (neither heartbeat nor any request) → offline, and recorded as reported.
    sql_exec(&format!(
        "UPDATE kiosk_status SET last_seen_at = now() - interval '5 minutes' WHERE kiosk_id = '{kiosk_id}';
         UPDATE api_keys SET last_used_at = now() - interval '5 minutes' WHERE id = '{key_id}'"
    ));
    assert_eq!(find()["status"], "offline");
    let reported = sql(&format!("SELECT last_reported_status AS s FROM kiosk_status WHERE kiosk_id = '{kiosk_id}'"));
    assert_eq!(reported[0]["s"], "offline");

    // The next heartbeat brings it back online; an empty body keeps the queue size.
    let r = request("POST", "/api/kiosks/heartbeat", &headers, None);
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = find();
    assert_eq!((listed["status"].as_str(), listed["queueSize"].as_i64()), (Some("online"), Some(3)));

    // A kiosk never heard from is listed offline with no queue size.
    let silent = unique("kiosk-");
    new_api_key("kiosk", Some(&silent));
    let r = admin("GET", "/api/kiosks", None);
    let s = r.body["kiosks"].as_array().unwrap().iter().find(|k| k["kioskId"] == json!(silent)).cloned().unwrap();
    assert_eq!((s["status"].as_str(), &s["queueSize"], &s["lastSeen"]), (Some("offline"), &Value::Null, &Value::Null));

    assert_eq!(request("POST", "/api/kiosks/heartbeat", &headers, Some(&json!({ "queueSize": -1 }))).status, 400);
    assert_eq!(admin("POST", "/api/kiosks/heartbeat", Some(&json!({}))).status, 403);
    assert_eq!(as_key("display", "POST", "/api/kiosks/heartbeat", Some(&json!({}))).status, 403);
    assert_eq!(request("POST", "/api/kiosks/heartbeat", &[], Some(&json!({}))).status, 401);
    assert_eq!(as_role("executive", "GET", "/api/kiosks", None).status, 403);
    assert_eq!(request("GET", "/api/kiosks", &headers, None).status, 403);
}

// ------------------------------------------------------------------ audit logs

#[test]
fn audit_log_reads() {
    let admin_user = fixtures::user("admin");
    let target = create_user("quartermaster");
    let target_id = id_of(&target);
    assert_eq!(admin("PATCH", &format!("/api/admin/users/{target_id}"), Some(&json!({ "displayName": "Audited" }))).status, 200);

    let r = as_role("executive", "GET", &format!("/api/audit-logs?entityType=admin_user&entityId={target_id}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let entries = r.body["auditLogs"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user_updated", "user_created"], "newest first");
    assert_eq!((r.body["total"].as_i64(), r.body["page"].as_i64(), r.body["totalPages"].as_i64()), (Some(2), Some(1), Some(1)));
    let entry = &entries[0];
    assert_eq!(entry["adminUserId"], json!(admin_user.id));
    assert_eq!(entry["adminUser"]["id"], json!(admin_user.id));
    assert!(entry["adminUser"]["displayName"].is_string() && entry["adminUser"].get("username").is_some());
    assert_eq!((entry["entityType"].as_str(), entry["entityId"].as_str()), (Some("admin_user"), Some(target_id.as_str())));
    assert_eq!(entry["details"]["after"]["display_name"], "Audited");
    assert!(entry["ipAddress"].is_string() && entry["createdAt"].is_string());

    let r = as_role("executive", "GET", &format!("/api/audit-logs?action=user_created&adminUserId={}&limit=1", admin_user.id), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["auditLogs"].as_array().unwrap().len(), 1);
    assert!(r.body["auditLogs"][0]["action"] == "user_created");

    let r = as_role("executive", "GET", &format!("/api/audit-logs/entity/admin_user/{target_id}"), None);
    assert_eq!((r.status, r.body["total"].as_i64()), (200, Some(2)), "{}", r.text);

    let id = entry["id"].as_str().unwrap();
    let r = as_role("executive", "GET", &format!("/api/audit-logs/{id}"), None);
    assert_eq!((r.status, r.body["action"].as_str()), (200, Some("user_updated")), "{}", r.text);
    assert_eq!(as_role("executive", "GET", "/api/audit-logs/00000000-0000-0000-0000-000000000000", None).status, 404);
    assert_eq!(as_role("executive", "GET", "/api/audit-logs/nope", None).status, 400);

    // Dates: a date-only endDate includes the whole day; a future start excludes everything.
    let today = sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d")[0]["d"].as_str().unwrap().to_string();
    let r = as_role("executive", "GET", &format!("/api/audit-logs?entityId={target_id}&startDate={today}&endDate={today}"), None);
    assert_eq!(r.body["total"], 2, "{}", r.text);
    let r = as_role("executive", "GET", &format!("/api/audit-logs?entityId={target_id}&startDate=2999-01-01"), None);
    assert_eq!(r.body["total"], 0, "{}", r.text);
    for bad in ["startDate=yesterday", "entityId=x", "adminUserId=x", "page=0", "limit=500"] {
        assert_eq!(as_role("executive", "GET", &format!("/api/audit-logs?{bad}"), None).status, 400, "{bad}");
    }

    // /stats is a literal segment, never an id.
    let r = as_role("executive", "GET", "/api/audit-logs/stats", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["total"].as_i64().unwrap() >= 2);
    assert!(r.body["byAction"]["user_created"].as_i64().unwrap() >= 1);
    assert!(r.body["byEntityType"]["admin_user"].as_i64().unwrap() >= 2);
    assert!(r.body["byAdmin"].as_array().unwrap().iter().any(|a| a["adminUserId"] == json!(admin_user.id) && a["count"].as_i64().unwrap() >= 2));
    let recent = r.body["recentActivity"].as_array().unwrap();
    assert!(!recent.is_empty() && recent.len() <= 10);
    assert!(recent[0]["action"].is_string() && recent[0].get("adminUser").is_some());

    // Access: EX+; no client-written rows.
    assert_eq!(as_role("duty_watch", "GET", "/api/audit-logs", None).status, 403);
    assert_eq!(as_key("display", "GET", "/api/audit-logs", None).status, 403);
    assert_eq!(request("GET", "/api/audit-logs", &[], None).status, 401);
    let r = as_role("developer", "POST", "/api/audit-logs", Some(&json!({ "action": "create", "entityType": "member" })));
    assert_eq!(r.status, 404, "{}", r.text);
}
