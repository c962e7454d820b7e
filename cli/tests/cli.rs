//! The `sentinel` binary's contract for scripts: exit codes and the messages operators act on.

use std::process::Command;

fn sentinel(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(args)
        .env_remove("SENTINEL_DATABASE_URL")
        .env_remove("SPIN_VARIABLE_DATABASE_URL")
        .output()
        .expect("running sentinel")
}

#[test]
fn migrate_succeeds_against_a_migrated_database() {
    let url = &sentinel_tests::services().database_url;
    let out = sentinel(&["migrate", "--database-url", url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}

#[test]
fn migrate_fails_with_exit_code_1_when_the_database_is_unreachable() {
    let port = sentinel_ops::services::free_port().unwrap();
    let out = sentinel(&["migrate", "--database-url", &format!("postgres://postgres@127.0.0.1:{port}/sentinel")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("connecting to PostgreSQL"));
}

#[test]
fn migrate_without_a_database_url_explains_how_to_give_one() {
    let out = sentinel(&["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--database-url"));
}

#[test]
fn seed_admin_only_creates_the_first_administrator_without_demo_rows() {
    let stack = sentinel_tests::isolated_stack().expect("isolated stack");
    let url = stack.database_url().to_string();
    let out = sentinel(&["seed", "--database-url", &url, "--admin-only", "--admin-email", "ops@unit.test"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("admin login: ops@unit.test / "), "{stdout}");
    let users = stack.sql("SELECT email, role FROM users");
    assert_eq!(users, vec![serde_json::json!({ "email": "ops@unit.test", "role": "developer" })]);
    assert_eq!(stack.sql("SELECT count(*)::int AS n FROM divisions")[0]["n"], 0, "no demo data");

    let again = sentinel(&["seed", "--database-url", &url, "--admin-only", "--admin-email", "ops@unit.test"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already exists"));
}
