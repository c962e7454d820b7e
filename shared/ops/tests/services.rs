//! The supervisors against the real server binaries: start, query, restart on the same port, stop.

use sentinel_ops::services::{free_port, Durability, PostgresOptions, PostgresServer, RedisOptions, RedisServer};

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sentinel-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn postgres_starts_creates_the_database_and_restarts() {
    let dir = scratch_dir("pg");
    let port = free_port().unwrap();
    let mut pg = PostgresServer::start(PostgresOptions { data_dir: dir.join("pg"), port, durability: Durability::Throwaway }).unwrap();
    assert_eq!(pg.psql("sentinel", "SELECT current_database()").unwrap(), "sentinel");
    pg.psql("sentinel", "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)").unwrap();
    pg.stop();
    assert!(!pg.is_running());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    pg.restart().unwrap();
    assert_eq!(pg.psql("sentinel", "SELECT x FROM kept").unwrap(), "7");
    drop(pg);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn redis_answers_and_restarts_on_the_same_port() {
    let dir = scratch_dir("redis");
    let port = free_port().unwrap();
    let mut redis = RedisServer::start(RedisOptions { dir: dir.clone(), port, durability: Durability::Throwaway }).unwrap();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
    redis.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    redis.restart().unwrap();
    assert!(redis.is_running());
    drop(redis);
    std::fs::remove_dir_all(dir).unwrap();
}
