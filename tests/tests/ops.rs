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
