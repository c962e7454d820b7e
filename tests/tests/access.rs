//! The access matrix: every operation of the OpenAPI document × every kind
//! of principal, checked against the operation's declared access
//! (`x-sentinel-access`, which the document takes from the routers). A route
//! without a declared access, or one whose enforcement disagrees with its
//! declaration, fails here.

use sentinel_tests::fixtures::{api_key, bearer, login, new_api_key, new_user, PASSWORD};
use sentinel_tests::{request, sql_exec, Resp};
use serde_json::json;

#[derive(Debug, Clone)]
enum Who {
    Anonymous,
    Role(&'static str),
    Key(&'static str),
    ExpiredSession,
    RevokedKey,
}

const ROLE_RANK: [&str; 5] = ["quartermaster", "duty_watch", "executive", "admin", "developer"];

fn rank(role: &str) -> usize {
    ROLE_RANK.iter().position(|r| *r == role).unwrap()
}

/// Whether `who` satisfies one entry of the spec's access notation.
fn admits(entry: &str, who: &Who) -> bool {
    match (entry, who) {
        ("PUBLIC", _) => true,
        // Every role is at least quartermaster; rank() still rejects an unknown role name.
        ("QM+", Who::Role(r)) => rank(r) < ROLE_RANK.len(),
        ("DW+", Who::Role(r)) => rank(r) >= 1,
        ("EX+", Who::Role(r)) => rank(r) >= 2,
        ("ADM+", Who::Role(r)) => rank(r) >= 3,
        ("DEV", Who::Role(r)) => *r == "developer",
        ("KIOSK", Who::Key(k)) => *k == "kiosk",
        ("DISPLAY", Who::Key(k)) => *k == "display",
        _ => false,
    }
}

/// A concrete path: every `{param}` becomes the nil UUID (a well-formed id that does not exist).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "00000000-0000-0000-0000-000000000000" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_operation_enforces_its_declared_access_for_every_principal() {
    let doc = request("GET", "/openapi.json", &[], None).body;
    let expired = new_user("admin");
    sql_exec(&format!("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = '{}'", expired.id));
    let (revoked_id, revoked_key) = new_api_key("kiosk", Some(&format!("revoked-{}", std::process::id())));
    sql_exec(&format!("UPDATE api_keys SET revoked_at = now() WHERE id = '{revoked_id}'"));

    // One dedicated user per role, so logout calls only end sessions of this test.
    let users: Vec<(&str, sentinel_tests::fixtures::TestUser)> = ROLE_RANK.iter().map(|r| (*r, new_user(r))).collect();
    let principals: Vec<Who> = std::iter::once(Who::Anonymous)
        .chain(ROLE_RANK.iter().map(|r| Who::Role(r)))
        .chain(["kiosk", "display", "integration"].into_iter().map(Who::Key))
        .chain([Who::ExpiredSession, Who::RevokedKey])
        .collect();

    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().unwrap() {
            let access: Vec<String> = match op["x-sentinel-access"].as_array() {
                Some(a) if !a.is_empty() => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                _ => {
                    failures.push(format!("{method} {path}: no declared access"));
                    continue;
                }
            };
            for who in &principals {
                let mut headers: Vec<(String, String)> = Vec::new();
                match who {
                    Who::Anonymous => {}
                    Who::Role(role) => {
                        let user = &users.iter().find(|(r, _)| r == role).unwrap().1;
                        // Logout ends the session it is called with: give it a fresh one.
                        let token = if path == "/api/auth/logout" { login(&user.email, PASSWORD) } else { user.token.clone() };
                        let (k, v) = bearer(&token);
                        headers.push((k.into(), v));
                    }
                    Who::Key(kind) => headers.push(("x-api-key".into(), api_key(kind))),
                    Who::ExpiredSession => {
                        let (k, v) = bearer(&expired.token);
                        headers.push((k.into(), v));
                    }
                    Who::RevokedKey => headers.push(("x-api-key".into(), revoked_key.clone())),
                }
                let header_refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let body = (method != "get" && method != "delete").then(|| json!({}));
                let r: Resp = request(&method.to_uppercase(), &concrete(path), &header_refs, body.as_ref());
                checked += 1;
                let admitted = access.iter().any(|a| admits(a, who));
                let denial = matches!(r.body["error"].as_str(), Some("UNAUTHORIZED") | Some("FORBIDDEN"));
                let token_only = access.iter().all(|a| a.starts_with("TOKEN:"));
                let ok = match who {
                    // Token-guarded routes (/metrics) admit no principal at all.
                    _ if token_only => r.status == 401,
                    _ if admitted => !denial && r.status != 401,
                    Who::Anonymous | Who::ExpiredSession | Who::RevokedKey => r.status == 401 && r.body["error"] == "UNAUTHORIZED",
                    _ => r.status == 403 && r.body["error"] == "FORBIDDEN",
                };
                if r.status >= 500 {
                    failures.push(format!("{method} {path} as {who:?}: server error {} {}", r.status, r.text));
                } else if !ok {
                    failures.push(format!("{method} {path} as {who:?} (access {access:?}): got {} {}", r.status, r.text));
                }
            }
        }
    }
    assert!(checked > 50, "the document lists too few operations ({checked} checks)");
    assert!(failures.is_empty(), "{} access failures:\n{}", failures.len(), failures.join("\n"));
}
