//! The host refuses to start outside development without a strong JWT secret (issue: secrets).

use std::process::Command;

fn serve(environment: &str, secret: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["serve", "--database-url", "postgres://sentinel@127.0.0.1:1/sentinel", "--listen", "127.0.0.1:0"])
        .args(["--jwt-secret", secret, "--environment", environment])
        .env_remove("SENTINEL_JWT_SECRET")
        .env_remove("SPIN_VARIABLE_JWT_SECRET")
        .output()
        .expect("running sentinel serve")
}

#[test]
fn production_refuses_a_jwt_secret_shorter_than_32_bytes_without_printing_it() {
    let secret = "short-but-secret-value-31-bytes";
    assert_eq!(secret.len(), 31);
    let out = serve("production", secret);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to start") && stderr.contains("at least 32"), "{stderr}");
    assert!(!stderr.contains(secret) && !String::from_utf8_lossy(&out.stdout).contains(secret));
}

#[test]
fn an_unknown_environment_mode_is_refused() {
    let out = serve("staging", &"x".repeat(40));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown environment \"staging\""), "{stderr}");
}

#[test]
fn up_in_production_refuses_a_short_secret_before_starting_anything() {
    let secret = "too-short";
    let out = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("SENTINEL_ENVIRONMENT", "production")
        .env("SENTINEL_JWT_SECRET", secret)
        .output()
        .expect("running sentinel up");
    assert!(!out.status.success());
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains("refusing to start"), "{stderr}");
    assert!(!stdout.contains("starting PostgreSQL") && !stdout.contains("starting Redis"), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
}
