//! The relay, like the host, refuses a weak JWT secret outside development.

use std::process::Command;

#[test]
fn production_relay_refuses_a_jwt_secret_shorter_than_32_bytes() {
    let secret = "tiny-secret";
    let out = Command::new(env!("CARGO_BIN_EXE_sentinel-relay"))
        .args(["--database-url", "postgres://sentinel@127.0.0.1:1/sentinel", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
        .args(["--jwt-secret", secret, "--environment", "production"])
        .output()
        .expect("running sentinel-relay");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to start") && stderr.contains("at least 32"), "{stderr}");
    assert!(!stderr.contains(secret));
}
