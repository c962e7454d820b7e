//! `sentinel manifest`: spin.toml with concrete `allowed_outbound_hosts` for Fermyon/Akamai cloud,
//! which does not resolve variable templates there (infra/README.md). The rendering must be a Spin
//! manifest v2 that differs from spin.toml only in those entries, and must serve.

use std::path::{Path, PathBuf};
use std::process::Command;

fn sentinel(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel")).args(args).output().expect("running sentinel")
}

fn repo() -> PathBuf {
    sentinel_tests::workspace_root()
}

fn render(database_host: &str, redis_host: &str) -> String {
    let manifest = repo().join("spin.toml");
    let out = sentinel(&["manifest", "--database-host", database_host, "--redis-host", redis_host, "--manifest", manifest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every component's `allowed_outbound_hosts`, by component id.
fn outbound_hosts(manifest: &toml::Table) -> Vec<(String, Vec<String>)> {
    manifest["component"]
        .as_table()
        .unwrap()
        .iter()
        // Components that reach nothing (the web component) have no allow-list to render.
        .filter_map(|(id, c)| {
            let hosts = c.get("allowed_outbound_hosts").and_then(|h| h.as_array())?;
            Some((id.clone(), hosts.iter().map(|h| h.as_str().unwrap().to_string()).collect()))
        })
        .collect()
}

#[test]
fn the_rendering_is_a_v2_manifest_with_concrete_hosts_and_nothing_else_changed() {
    let original_text = std::fs::read_to_string(repo().join("spin.toml")).unwrap();
    let rendered_text = render("db.unit.example:5432", "cache.unit.example:6380");
    let rendered: toml::Table = rendered_text.parse().expect("the rendering is TOML");
    assert_eq!(rendered["spin_manifest_version"].as_integer(), Some(2));

    let hosts = outbound_hosts(&rendered);
    assert!(hosts.len() >= 12, "{hosts:?}");
    for (id, entries) in &hosts {
        assert_eq!(
            entries,
            &["postgres://db.unit.example:5432", "redis://cache.unit.example:6380", "rediss://cache.unit.example:6380"],
            "component {id}"
        );
        assert!(entries.iter().all(|h| !h.contains("{{")), "component {id}: {entries:?}");
    }

    // Structurally: spin.toml with those entries substituted.
    let mut expected: toml::Table = original_text.parse().unwrap();
    for (_, component) in expected["component"].as_table_mut().unwrap().iter_mut() {
        if let Some(entries) = component.get_mut("allowed_outbound_hosts").and_then(|h| h.as_array_mut()) {
            for entry in entries.iter_mut() {
                let text = entry.as_str().unwrap().replace("{{ database_host }}", "db.unit.example:5432").replace("{{ redis_host }}", "cache.unit.example:6380");
                *entry = toml::Value::String(text);
            }
        }
    }
    assert_eq!(rendered, expected);

    // Textually: the same lines (comments, order, layout) except the allow-lists.
    let (a, b): (Vec<&str>, Vec<&str>) = (original_text.lines().collect(), rendered_text.lines().collect());
    assert_eq!(a.len(), b.len());
    for (before, after) in a.iter().zip(&b) {
        if before != after {
            assert!(before.starts_with("allowed_outbound_hosts"), "changed line: {before:?} -> {after:?}");
        }
    }
}

#[test]
fn bad_hosts_are_refused_with_the_flag_named_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("spin.cloud.toml");
    for (flag, value) in [("--database-host", "postgres://db:5432"), ("--database-host", "db:99999"), ("--redis-host", "{{ redis_host }}"), ("--redis-host", "")] {
        let (db, redis) = if flag == "--database-host" { (value, "cache:6379") } else { ("db:5432", value) };
        let out = sentinel(&["manifest", "--database-host", db, "--redis-host", redis, "--output", output.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{flag} {value:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag) && stderr.contains("host[:port]"), "{flag} {value:?}: {stderr}");
        assert!(!output.exists(), "{flag} {value:?} wrote {}", output.display());
    }
    let out = sentinel(&["manifest", "--database-host", "db:5432", "--redis-host", "cache:6379", "--manifest", "/nonexistent/spin.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/spin.toml"));
}

#[test]
fn a_manifest_with_other_templates_in_its_allow_list_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        "spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.a]\nsource = \"a.wasm\"\nallowed_outbound_hosts = [\"https://{{ api_host }}\", \"postgres://{{ database_host }}\"]\n",
    )
    .unwrap();
    let out = sentinel(&["manifest", "--database-host", "db:5432", "--redis-host", "cache:6379", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("{{ api_host }}") && stderr.contains("component a"), "{stderr}");

    std::fs::write(&manifest, "spin_manifest_version = 1\nname = \"x\"\n").unwrap();
    let out = sentinel(&["manifest", "--database-host", "db:5432", "--redis-host", "cache:6379", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest v2"));
}

/// The rendering written beside a `target` link to the workspace's, so its relative `source` paths
/// resolve as they do next to spin.toml.
fn written(dir: &Path, database_host: &str, redis_host: &str) -> PathBuf {
    std::os::unix::fs::symlink(repo().join("target"), dir.join("target")).unwrap();
    let path = dir.join("spin.cloud.toml");
    let out = sentinel(&[
        "manifest",
        "--database-host",
        database_host,
        "--redis-host",
        redis_host,
        "--manifest",
        repo().join("spin.toml").to_str().unwrap(),
        "--output",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    path
}

#[test]
fn the_rendering_serves_and_its_allow_list_is_what_admits_the_database() {
    let services = sentinel_tests::services();
    sentinel_tests::build_components();
    let variables = sentinel_tests::app_variables(&services.database_url, &services.redis_url);
    let (db, redis) = (format!("127.0.0.1:{}", services.pg_port), format!("127.0.0.1:{}", services.redis_port));

    let good = tempfile::tempdir().unwrap();
    let host = sentinel_tests::start_host(&written(good.path(), &db, &redis), variables.clone()).unwrap();
    let r = sentinel_tests::get(&format!("{}/ready", host.base_url));
    assert_eq!(r.status, 200, "{}", r.text);
    drop(host);

    // The same variables with another database host written in: the components may not connect.
    let other = tempfile::tempdir().unwrap();
    let host = sentinel_tests::start_host(&written(other.path(), "db.elsewhere.example:5432", &redis), variables).unwrap();
    let r = sentinel_tests::get(&format!("{}/ready", host.base_url));
    assert_eq!(r.status, 503, "{}", r.text);
}
