//! The shipped PgBouncer configuration (infra/pgbouncer/pgbouncer.ini: transaction pooling with
//! `max_prepared_statements`) in front of the suite's PostgreSQL, with the production spin.toml served
//! through it: concurrent scans and lists keep working although many client connections share two
//! server connections, and the prepared statements the host runs are tracked by PgBouncer
//! (infra/README.md, "Database connections at scale").
//!
//! Needs PgBouncer >= 1.21 (scripts/test installs it; SENTINEL_PGBOUNCER_BIN names another binary).

#[path = "support/kiosk.rs"]
mod kiosk;

use kiosk::*;
use sentinel_tests::fixtures::user;
use sentinel_tests::{request, sql};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Server connections PgBouncer may open: far fewer than the host's pools could hold.
const SERVER_POOL: usize = 2;
const PASSWORD: &str = "pgbouncer-test-password";

fn pgbouncer_binary() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(bin) = std::env::var_os("SENTINEL_PGBOUNCER_BIN").filter(|v| !v.is_empty()) {
        candidates.push(bin.into());
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("pgbouncer")));
    }
    candidates.extend(["/usr/sbin/pgbouncer", "/usr/local/bin/pgbouncer"].map(PathBuf::from));
    let mut seen = Vec::new();
    for candidate in candidates.into_iter().filter(|c| c.is_file()) {
        let Ok(out) = Command::new(&candidate).arg("--version").output() else { continue };
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        // "PgBouncer 1.24.1"
        let version: Vec<u32> = text.split_whitespace().nth(1).unwrap_or_default().split('.').filter_map(|p| p.parse().ok()).collect();
        if version.len() >= 2 && (version[0], version[1]) >= (1, 21) {
            return candidate;
        }
        seen.push(format!("{} ({})", candidate.display(), text.lines().next().unwrap_or_default()));
    }
    panic!("\n\nPgBouncer >= 1.21 not found (seen: {seen:?}); run scripts/test, which installs it, or set SENTINEL_PGBOUNCER_BIN\n\n");
}

/// A PgBouncer process, stopped on drop.
struct PgBouncer {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped pgbouncer.ini with only what differs on this machine replaced: where it listens,
/// where PostgreSQL is, the user list, and a server pool of [`SERVER_POOL`]. (Not `%include`: settings
/// of an included file's `[pgbouncer]` section do not survive a second `[pgbouncer]` header.)
fn test_config(shipped: &str, pg_port: u16, port: u16, users: &std::path::Path) -> String {
    let mut overrides: Vec<(&str, String)> = vec![
        ("listen_addr", "127.0.0.1".into()),
        ("listen_port", port.to_string()),
        ("unix_socket_dir", String::new()),
        ("auth_file", users.display().to_string()),
        ("admin_users", "postgres".into()),
        ("default_pool_size", SERVER_POOL.to_string()),
        ("reserve_pool_size", "0".into()),
        ("max_db_connections", SERVER_POOL.to_string()),
    ];
    let mut out = String::new();
    let mut section = String::new();
    let mut database_lines = 0;
    for line in shipped.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
        }
        let key = trimmed.split('=').next().unwrap_or_default().trim();
        if section == "[databases]" && key == "sentinel" {
            out.push_str(&format!("sentinel = host=127.0.0.1 port={pg_port} dbname=sentinel\n"));
            database_lines += 1;
            continue;
        }
        if section == "[pgbouncer]" && !trimmed.starts_with(';') {
            if let Some(at) = overrides.iter().position(|(k, _)| *k == key) {
                let (k, v) = overrides.remove(at);
                out.push_str(&format!("{k} = {v}\n"));
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    assert_eq!(database_lines, 1, "the shipped pgbouncer.ini defines the database `sentinel` once");
    assert!(out.trim_end().lines().any(|l| l.trim() == "[pgbouncer]") && section == "[pgbouncer]", "[pgbouncer] is the last section");
    for (k, v) in overrides {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out
}

fn start_pgbouncer(pg_port: u16) -> PgBouncer {
    let dir = tempfile::tempdir().unwrap();
    // PgBouncer refuses to run as root; started as root it switches to `-u postgres`, which must read these.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = sentinel_ops::services::free_port().unwrap();
    let shipped = std::fs::read_to_string(sentinel_tests::workspace_root().join("infra/pgbouncer/pgbouncer.ini")).unwrap();
    let users = dir.path().join("userlist.txt");
    std::fs::write(&users, format!("\"postgres\" \"{PASSWORD}\"\n")).unwrap();
    let config = dir.path().join("pgbouncer.ini");
    std::fs::write(&config, test_config(&shipped, pg_port, port, &users)).unwrap();
    let log = dir.path().join("pgbouncer.log");
    let mut command = Command::new(pgbouncer_binary());
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } == 0 {
        command.args(["-u", "postgres"]);
    }
    let child = command
        .arg(&config)
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap().try_clone().unwrap()))
        .spawn()
        .expect("starting pgbouncer");
    let mut bouncer = PgBouncer { child, port, log, _dir: dir };
    let up = sentinel_tests::wait_until(std::time::Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() || bouncer.child.try_wait().ok().flatten().is_some()
    });
    assert!(up && bouncer.child.try_wait().unwrap().is_none(), "pgbouncer did not start:\n{}", bouncer.log());
    bouncer
}

impl PgBouncer {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    fn url(&self, database: &str) -> String {
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}?sslmode=disable", self.port)
    }
    /// Rows of an admin-console command (simple protocol only), as column -> text maps.
    fn admin(&self, command: &str) -> Vec<std::collections::HashMap<String, String>> {
        let (url, command) = (self.url("pgbouncer"), command.to_string());
        sentinel_tests::block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("admin console");
            tokio::spawn(connection);
            let mut rows = Vec::new();
            for message in client.simple_query(&command).await.expect("admin command") {
                if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                    rows.push(row.columns().iter().enumerate().map(|(i, c)| (c.name().to_string(), row.get(i).unwrap_or_default().to_string())).collect());
                }
            }
            rows
        })
    }
}

fn column_sum(rows: &[std::collections::HashMap<String, String>], column: &str) -> i64 {
    rows.iter().filter(|r| r.get("database").map(String::as_str) == Some("sentinel")).map(|r| r[column].parse::<i64>().unwrap_or(0)).sum()
}

#[test]
fn scans_and_lists_work_through_pgbouncer_in_transaction_mode() {
    let services = sentinel_tests::services();
    let bouncer = start_pgbouncer(services.pg_port);
    let pools = bouncer.admin("SHOW CONFIG");
    let setting = |key: &str| pools.iter().find(|r| r["key"] == key).map(|r| r["value"].clone()).unwrap_or_default();
    assert_eq!(setting("pool_mode"), "transaction");
    assert!(setting("max_prepared_statements").parse::<u32>().unwrap() > 0);

    sentinel_tests::build_components();
    let variables = sentinel_tests::app_variables(&bouncer.url("sentinel"), &services.redis_url);
    let host = sentinel_tests::start_host(&sentinel_tests::workspace_root().join("spin.toml"), variables).unwrap();
    let base = host.base_url.clone();
    assert_eq!(request("GET", &format!("{base}/ready"), &[], None).status, 200, "{}", bouncer.log());

    // Fixtures through the shared app; the traffic under test through the PgBouncer-backed host.
    let division = division();
    let holders: Vec<Holder> = (0..12).map(|_| holder_in(Some(&division), "active")).collect();
    let (_, key) = kiosk();
    let admin = user("admin");
    let bearer = format!("Bearer {}", admin.token);

    // Concurrent scans (each member in) and lists, many more clients than server connections.
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for h in &holders {
            let (base, key) = (&base, &key);
            handles.push(scope.spawn(move || {
                let body = serde_json::json!({ "serialNumber": h.serial });
                let r = request("POST", &format!("{base}/api/checkins/scan"), &[("x-api-key", key.as_str())], Some(&body));
                assert_eq!(r.status, 201, "scan: {}", r.text);
                assert_eq!(r.body["direction"], "in");
            }));
        }
        for path in ["/api/members?limit=50", "/api/checkins?limit=50", "/api/checkins/presence", "/api/divisions", "/api/badges?limit=20", "/api/members?limit=10&page=2"] {
            let (base, bearer) = (&base, &bearer);
            handles.push(scope.spawn(move || {
                for _ in 0..3 {
                    let r = request("GET", &format!("{base}{path}"), &[("authorization", bearer.as_str())], None);
                    assert_eq!(r.status, 200, "GET {path}: {}", r.text);
                }
            }));
        }
        for handle in handles {
            handle.join().unwrap();
        }
    });

    // The database effects: one `in` per member, and the presence the host reports from it.
    for h in &holders {
        let rows = sql(&format!("SELECT direction, kiosk_id FROM checkins WHERE member_id = '{}'", h.member));
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["direction"], "in");
    }
    let r = request("GET", &format!("{base}/api/checkins/presence"), &[("authorization", bearer.as_str())], None);
    assert_eq!(r.status, 200, "{}", r.text);
    let mine = r.body["byDivision"].as_array().unwrap().iter().find(|d| d["divisionId"] == serde_json::json!(division)).unwrap();
    assert_eq!((mine["present"].as_i64(), mine["total"].as_i64()), (Some(12), Some(12)));

    // A second round scans everyone out, statements now running on whichever server connection is free.
    for h in &holders {
        let body = serde_json::json!({ "serialNumber": h.serial, "timestamp": at(5_000) });
        let r = request("POST", &format!("{base}/api/checkins/scan"), &[("x-api-key", key.as_str())], Some(&body));
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["direction"], "out");
    }
    assert_eq!(count(&format!("SELECT count(*) AS n FROM checkins c JOIN members m ON m.id = c.member_id WHERE m.division_id = '{division}' AND c.direction = 'out'")), 12);

    // PgBouncer served it all over at most SERVER_POOL server connections, to more clients than that.
    let pools = bouncer.admin("SHOW POOLS");
    let servers = column_sum(&pools, "sv_active") + column_sum(&pools, "sv_idle") + column_sum(&pools, "sv_used") + column_sum(&pools, "sv_tested") + column_sum(&pools, "sv_login");
    let clients = column_sum(&pools, "cl_active") + column_sum(&pools, "cl_waiting");
    assert!(servers <= SERVER_POOL as i64, "{pools:?}");
    assert!(clients > SERVER_POOL as i64, "expected more client than server connections: {pools:?}");
    assert!(!bouncer.log().contains("does not exist"), "{}", bouncer.log());
    // The host's connections stay open; PgBouncer tracks the statements they prepared (1.21+).
    let clients = bouncer.admin("SHOW CLIENTS");
    let prepared: i64 = clients.iter().filter(|c| c["database"] == "sentinel").map(|c| c["prepared_statements"].parse::<i64>().unwrap_or(0)).sum();
    assert!(prepared > 0, "{clients:?}");
    drop(host);
}
