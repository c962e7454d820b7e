//! Operator behaviours worth pinning: migrations apply once and refuse edited history; the harness
//! serves the real app on real servers.

use refinery::Migration;
use sentinel_tests::{block_on, services, sql, sql_exec};

#[test]
fn every_embedded_migration_is_applied_and_a_second_run_applies_nothing() {
    let services = services();
    let embedded = sentinel_ops::migrate::embedded_migrations();
    let applied = sql("SELECT version FROM refinery_schema_history ORDER BY version");
    assert_eq!(applied.len(), embedded.len(), "applied: {applied:?}");
    let url = services.database_url.clone();
    let again = block_on(async move { sentinel_ops::migrate::migrate_url(&url).await }).unwrap();
    assert!(again.is_empty(), "second run applied {again:?}");
}

#[test]
fn an_edited_applied_migration_is_refused_and_a_failing_one_leaves_no_trace() {
    let database = format!("ops_migrations_{}", std::process::id());
    sql_exec(&format!("CREATE DATABASE {database}"));
    let url = services().database_url.replace("/sentinel?", &format!("/{database}?"));
    let outcome = block_on(async move {
        let mut client = sentinel_ops::connect(&url).await?;
        let original = [Migration::unapplied("V1__widgets", "CREATE TABLE widgets (id int)")?];
        let first = sentinel_ops::migrate::apply(&mut client, &original).await?;
        let edited = [Migration::unapplied("V1__widgets", "CREATE TABLE widgets (id bigint)")?];
        let refused = sentinel_ops::migrate::apply(&mut client, &edited).await;
        // A failing migration is rolled back as a whole (each migration runs in a transaction).
        let failing = [
            Migration::unapplied("V1__widgets", "CREATE TABLE widgets (id int)")?,
            Migration::unapplied("V2__broken", "CREATE TABLE gadgets (id int); SELECT no_such_function()")?,
        ];
        let failed = sentinel_ops::migrate::apply(&mut client, &failing).await;
        let gadgets = client.query_opt("SELECT 1 FROM pg_tables WHERE tablename = 'gadgets'", &[]).await?;
        anyhow::Ok((first, refused.map_err(|e| format!("{e:#}")), failed.is_err(), gadgets.is_some()))
    });
    sql_exec(&format!("DROP DATABASE {database} WITH (FORCE)"));
    let (first, refused, failed, gadgets_exist) = outcome.unwrap();
    assert_eq!(first, vec!["V1__widgets".to_string()]);
    let message = refused.expect_err("an edited applied migration must be refused");
    assert!(message.contains("different"), "{message}");
    assert!(failed, "a broken migration must fail");
    assert!(!gadgets_exist, "the failed migration's table must be rolled back");
}

/// A scratch database on the shared server, dropped afterwards; `f` gets its URL.
fn with_scratch_database<T>(label: &str, f: impl FnOnce(String) -> anyhow::Result<T>) -> T {
    let database = format!("ops_{label}_{}", std::process::id());
    sql_exec(&format!("CREATE DATABASE {database}"));
    let url = services().database_url.replace("/sentinel?", &format!("/{database}?"));
    let outcome = f(url);
    sql_exec(&format!("DROP DATABASE {database} WITH (FORCE)"));
    outcome.unwrap()
}

/// Every function and view of the public schema with its definition, sorted.
async fn schema_objects(client: &tokio_postgres::Client) -> anyhow::Result<Vec<(String, String)>> {
    let rows = client
        .query(
            "SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc p
               JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.prokind = 'f'
             UNION ALL
             SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'v'
             ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Issue 13, finding 4: V17 removes the sign-in identifiers `login_failed` rows stored before it,
/// naming the matched account where there is one.
#[test]
fn v17_scrubs_the_identifiers_stored_by_failed_sign_ins() {
    let rows = with_scratch_database("v17", |url| {
        block_on(async move {
            let mut client = sentinel_ops::connect(&url).await?;
            let before: Vec<Migration> = sentinel_ops::migrate::embedded_migrations().into_iter().filter(|m| m.version() < 17).collect();
            sentinel_ops::migrate::apply(&mut client, &before).await?;
            client
                .batch_execute(
                    "INSERT INTO users (id, email, username, display_name, password_hash, role)
                       VALUES ('00000000-0000-4000-8000-000000000018', 'qm@unit.test', 'qm_user', 'QM', 'x', 'quartermaster');
                     INSERT INTO audit_log (action, entity_type, details, ip_address) VALUES
                       ('login_failed', 'admin_user', '{\"identifier\": \"QM@unit.test\", \"method\": \"password\", \"reason\": \"invalid_credentials\"}', '10.0.0.1'),
                       ('login_failed', 'admin_user', '{\"identifier\": \"qm_user\", \"method\": \"password\", \"reason\": \"invalid_credentials\"}', '10.0.0.1'),
                       ('login_failed', 'admin_user', '{\"identifier\": \"Hunter2-typed-as-email\", \"method\": \"password\", \"reason\": \"invalid_credentials\"}', '10.0.0.1'),
                       ('login_failed', 'admin_user', '{\"identifier\": \"BADGE123\", \"method\": \"rfid\", \"reason\": \"badge_not_found\"}', '10.0.0.2'),
                       ('login', 'admin_user', '{\"method\": \"password\"}', '10.0.0.1');",
                )
                .await?;
            sentinel_ops::migrate::migrate(&mut client).await?;
            let rows = client
                .query("SELECT action, entity_id::text, details::text FROM audit_log ORDER BY id", &[])
                .await?;
            Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1), r.get::<_, String>(2))).collect::<Vec<_>>())
        })
    });
    let failed: Vec<_> = rows.iter().filter(|(action, _, _)| action == "login_failed").collect();
    assert_eq!(failed.len(), 4, "{rows:?}");
    for (_, _, details) in &failed {
        assert!(!details.contains("\"identifier\""), "{details}");
        for typed in ["QM@unit.test", "qm_user", "Hunter2", "BADGE123"] {
            assert!(!details.contains(typed), "{typed} kept in {details}");
        }
    }
    let account = "00000000-0000-4000-8000-000000000018";
    let named = failed.iter().filter(|(_, entity, details)| entity.as_deref() == Some(account) && details.contains(account)).count();
    assert_eq!(named, 2, "the e-mail and the username matched the account: {failed:?}");
    assert_eq!(failed.iter().filter(|(_, _, d)| d.contains("identifierRemoved")).count(), 2, "{failed:?}");
    assert!(rows.iter().any(|(action, _, details)| action == "login" && details.contains("password")), "other rows are untouched");
}

#[test]
fn a_database_migrated_before_function_files_ends_up_with_the_same_functions_as_a_fresh_one() {
    let fresh = with_scratch_database("fresh", |url| {
        block_on(async move {
            let mut client = sentinel_ops::connect(&url).await?;
            sentinel_ops::migrate::migrate(&mut client).await?;
            schema_objects(&client).await
        })
    });
    let upgraded = with_scratch_database("upgraded", |url| {
        block_on(async move {
            let mut client = sentinel_ops::connect(&url).await?;
            // What the last release before function files applied: the versioned migrations V1–V10.
            let old: Vec<Migration> = sentinel_ops::migrate::embedded_migrations().into_iter().filter(|m| m.version() <= 10).collect();
            assert_eq!(old.len(), 10);
            sentinel_ops::migrate::apply(&mut client, &old).await?;
            let applied = sentinel_ops::migrate::migrate(&mut client).await?;
            assert!(applied.iter().any(|a| a.starts_with("functions/")), "{applied:?}");
            schema_objects(&client).await
        })
    });
    assert!(fresh.len() > 40, "{} objects", fresh.len());
    assert_eq!(fresh.iter().map(|(n, _)| n).collect::<Vec<_>>(), upgraded.iter().map(|(n, _)| n).collect::<Vec<_>>());
    for ((name, a), (_, b)) in fresh.iter().zip(&upgraded) {
        assert_eq!(a, b, "{name} differs");
    }
    // Every function and view (every overload of a name) is defined in exactly one function file (its single home).
    let mut homes: std::collections::HashMap<String, Vec<String>> = Default::default();
    for file in sentinel_ops::migrate::embedded_function_files() {
        for line in file.sql.lines() {
            if let Some(rest) = line.strip_prefix("CREATE OR REPLACE FUNCTION ").or_else(|| line.strip_prefix("CREATE OR REPLACE VIEW ")) {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let files = homes.entry(name).or_default();
                if !files.contains(&file.name) {
                    files.push(file.name.clone());
                }
            }
        }
    }
    for (name, _) in &fresh {
        let bare: String = name.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        assert_eq!(homes.get(&bare).map(Vec::len), Some(1), "{bare} must be defined in exactly one function file: {:?}", homes.get(&bare));
    }
}

#[test]
fn function_files_apply_when_changed_and_all_or_nothing() {
    use sentinel_ops::migrate::{apply_function_files, FunctionFile};
    let file = |name: &str, sql: &str| FunctionFile { name: name.into(), sql: sql.into() };
    let (first, second, third, failed, answer) = with_scratch_database("functions", |url| {
        block_on(async move {
            let mut client = sentinel_ops::connect(&url).await?;
            let v1 = [file("10_a.sql", "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 41 $$;"),
                      file("20_b.sql", "CREATE OR REPLACE FUNCTION twice() RETURNS int LANGUAGE sql AS $$ SELECT answer() * 2 $$;")];
            let first = apply_function_files(&mut client, &v1).await?;
            let second = apply_function_files(&mut client, &v1).await?;
            let v2 = [file("10_a.sql", "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;"), v1[1].clone()];
            let third = apply_function_files(&mut client, &v2).await?;
            // A failing file undoes the whole run, including the files before it.
            let v3 = [file("10_a.sql", "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 7 $$;"),
                      file("20_b.sql", "CREATE OR REPLACE FUNCTION twice() RETURNS int LANGUAGE sql AS $$ SELECT no_such() $$; SELECT no_such();")];
            let failed = apply_function_files(&mut client, &v3).await.is_err();
            let answer: i32 = client.query_one("SELECT twice()", &[]).await?.get(0);
            anyhow::Ok((first, second, third, failed, answer))
        })
    });
    assert_eq!(first, vec!["functions/10_a.sql", "functions/20_b.sql"]);
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(third, vec!["functions/10_a.sql"]);
    assert!(failed);
    assert_eq!(answer, 84, "the failed run left nothing behind");
}

#[test]
fn constraints_smoke_sql_passes_on_a_fresh_database() {
    let output = with_scratch_database("smoke", |url| {
        block_on({
            let url = url.clone();
            async move { sentinel_ops::migrate::migrate_url(&url).await }
        })?;
        let psql = sentinel_ops::services::postgres_bin_dir()?.join("psql");
        let script = sentinel_tests::workspace_root().join("migrations/tests/constraints_smoke.sql");
        let output = std::process::Command::new(psql).args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"]).arg(script).output()?;
        anyhow::Ok(output)
    });
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "constraints_smoke.sql failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("constraints smoke: OK"), "{stdout}\n{stderr}");
}

#[test]
fn the_app_answers_health_checks_through_the_host() {
    let live = sentinel_tests::get("/live");
    assert_eq!(live.status, 200, "{}", live.text);
    let health = sentinel_tests::get("/health");
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body["checks"]["database"], true, "{}", health.text);
}

#[test]
fn an_isolated_stack_recovers_when_its_servers_restart() {
    use sentinel_tests::{request, wait_until};
    use std::time::Duration;
    let stack = sentinel_tests::isolated_stack().unwrap();
    let ready = format!("{}/ready", stack.base_url());
    assert_eq!(request("GET", &ready, &[], None).status, 200);

    stack.stop_postgres();
    assert_eq!(request("GET", &ready, &[], None).status, 503, "ready while PostgreSQL is down");
    stack.start_postgres();
    assert!(wait_until(Duration::from_secs(30), || request("GET", &ready, &[], None).status == 200), "not ready after PostgreSQL restarted");
    assert_eq!(stack.sql("SELECT 1 AS one"), vec![serde_json::json!({"one": 1})]);

    stack.stop_redis();
    assert!(std::net::TcpStream::connect(stack.redis_url().trim_start_matches("redis://")).is_err());
    stack.start_redis();
    assert!(std::net::TcpStream::connect(stack.redis_url().trim_start_matches("redis://")).is_ok());
}

#[test]
fn sql_returns_rows_as_json_for_queries_with_their_own_ctes() {
    let rows = sql("WITH t (a) AS (SELECT 1), u AS (SELECT 'x' AS b) SELECT a, b, '2026-01-02T03:04:05Z'::timestamptz AS at FROM t, u;");
    assert_eq!(rows, vec![serde_json::json!({"a": 1, "b": "x", "at": "2026-01-02T03:04:05+00:00"})]);
}

/// The blocking helpers must also work from inside a test's own (current-thread) runtime.
#[tokio::test]
async fn harness_helpers_work_inside_a_tokio_test() {
    assert_eq!(sentinel_tests::get("/live").status, 200);
    assert_eq!(sql("SELECT 2 AS two"), vec![serde_json::json!({"two": 2})]);
    let rows = sentinel_tests::db().query("SELECT 3::int4", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 3);
}
