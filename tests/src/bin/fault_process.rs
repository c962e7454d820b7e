//! The app's host or a relay replica as a process of its own, so fault tests can kill it with SIGKILL
//! (tests/tests/faults.rs):
//!
//! ```text
//! fault_process host  <database_url> <redis_url>   # spin.toml on the local host (or real Spin: SENTINEL_SPIN_BIN)
//! fault_process relay <database_url> <redis_url>   # a relay replica with the tests' JWT secret
//! ```
//!
//! Prints `listening <url>` on stdout once serving, then runs until killed.

use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, what, database_url, redis_url] = &args[..] else {
        eprintln!("usage: fault_process host|relay <database_url> <redis_url>");
        std::process::exit(2);
    };
    let url = match what.as_str() {
        "host" => {
            let manifest = sentinel_tests::workspace_root().join("spin.toml");
            let host = sentinel_tests::start_host(&manifest, sentinel_tests::app_variables(database_url, redis_url))
                .unwrap_or_else(|e| panic!("starting the host: {e:#}"));
            let url = host.base_url.clone();
            std::mem::forget(host);
            url
        }
        "relay" => {
            let mut config = sentinel_relay::RelayConfig::new(database_url.as_str(), redis_url.as_str(), sentinel_tests::TEST_JWT_SECRET);
            config.listen = "127.0.0.1:0".parse().unwrap();
            config.metrics_listen = "127.0.0.1:0".parse().unwrap();
            config.limits.connections_per_ip_per_minute = 100_000;
            config.limits.jobs_interval = None;
            let relay = sentinel_tests::block_on(sentinel_relay::start(config)).unwrap_or_else(|e| panic!("starting the relay: {e:#}"));
            let url = format!("ws://{}/ws", relay.addr());
            std::mem::forget(relay);
            url
        }
        other => panic!("unknown process kind {other}"),
    };
    println!("listening {url}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
