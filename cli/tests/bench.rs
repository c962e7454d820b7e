//! `sentinel bench`: a short run measures what it says it measures (the figures themselves belong in
//! the README, never in an assertion).

use std::process::Command;

#[test]
fn a_short_scan_benchmark_reports_cpu_per_process_statements_and_redis_commands() {
    sentinel_tests::build_components();
    let sentinel = env!("CARGO_BIN_EXE_sentinel");
    let relay = std::path::Path::new(sentinel).with_file_name("sentinel-relay");
    assert!(relay.is_file(), "{} is built with the workspace", relay.display());
    let out = Command::new(sentinel)
        .args(["bench", "--scenario", "scan", "--seconds", "2", "--concurrency", "2", "--no-build"])
        .args(["--members", "20", "--checkins", "200", "--events", "2", "--visitors", "4"])
        .arg("--relay-binary")
        .arg(&relay)
        .env_remove("SENTINEL_DATABASE_URL")
        .output()
        .expect("running sentinel bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    // Only scans, every one an accepted check-in.
    let scans = stdout.lines().find(|l| l.starts_with("| `POST /api/checkins/scan`")).unwrap_or_else(|| panic!("{stdout}"));
    let statuses = scans.rsplit('|').nth(1).unwrap().trim();
    assert!(statuses.starts_with("201×") && !statuses.contains(' '), "{scans}");
    assert!(!stdout.contains("| `GET"), "the scan scenario sends scans only:\n{stdout}");

    // CPU per request for every process, each a number (all five run on this machine).
    let header = stdout.lines().position(|l| l == "| host | PostgreSQL | Redis | relay | load generator | total |").unwrap_or_else(|| panic!("{stdout}"));
    let figures: Vec<f64> = stdout.lines().nth(header + 2).unwrap().split('|').filter(|c| !c.trim().is_empty()).map(|c| c.trim().parse().unwrap()).collect();
    assert_eq!(figures.len(), 6, "{stdout}");
    assert!(figures[0] > 0.0 && figures[1] > 0.0, "host and PostgreSQL did work: {figures:?}");
    let sum: f64 = figures[..5].iter().sum();
    assert!((sum - figures[5]).abs() < 0.02, "the total is the sum: {figures:?}");

    // Statements from pg_stat_statements (scan_badge is among the costliest) and Redis commands.
    let statements = stdout.lines().find(|l| l.starts_with("PostgreSQL statements per request:")).unwrap_or_else(|| panic!("{stdout}"));
    let top_level: f64 = statements.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(top_level >= 2.0, "at least the key and the scan: {statements}");
    assert!(stdout.contains("| `SELECT scan_badge("), "{stdout}");
    let redis = stdout.lines().find(|l| l.starts_with("Redis commands per request:")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(redis.contains("eval "), "rate limits and metrics are scripts: {redis}");
    assert!(stdout.contains("materialised presence equals the derivation for every member"), "{stdout}");
}
