//! Building the Wasm components a Spin manifest declares.
//!
//! Each `[component.x.build]` normally is `cargo build --target wasm32-wasip2 --release -p <pkg>`;
//! those are batched into ONE cargo invocation (one dependency graph, one lock, much faster than
//! N sequential builds). Any other build command runs as-is through `sh -c`. Nothing is built when
//! every component's .wasm is newer than every file its `watch` globs match (plus Cargo.lock).

use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

pub const WASM_TARGET: &str = "wasm32-wasip2";

/// One component's build recipe from a manifest.
#[derive(Clone, Debug)]
pub struct ComponentBuild {
    pub id: String,
    /// Absolute path of the .wasm the manifest runs.
    pub wasm: PathBuf,
    pub command: Option<String>,
    /// Directory the command runs in (the manifest's directory, or its `workdir`).
    pub workdir: PathBuf,
    /// Glob patterns relative to `workdir`.
    pub watch: Vec<String>,
}

impl ComponentBuild {
    /// The cargo package when the command is the standard wasm32-wasip2 release build of one package.
    pub fn cargo_package(&self) -> Option<String> {
        let command = self.command.as_deref()?;
        let words: Vec<&str> = command.split_whitespace().collect();
        let standard = words.first() == Some(&"cargo")
            && words.get(1) == Some(&"build")
            && words.contains(&"--release")
            && words.windows(2).any(|w| w == ["--target", WASM_TARGET])
            && words.iter().filter(|w| w.starts_with('-')).all(|w| ["--release", "--target", "-p", "--package"].contains(w));
        if !standard {
            return None;
        }
        let packages: Vec<&str> = words.windows(2).filter(|w| w[0] == "-p" || w[0] == "--package").map(|w| w[1]).collect();
        match packages.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    }
}

/// Components of a Spin manifest (paths resolved against the manifest's directory).
pub fn manifest_components(manifest: &Path) -> Result<Vec<ComponentBuild>> {
    let text = fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let doc: toml::Value = toml::from_str(&text).with_context(|| format!("parsing {}", manifest.display()))?;
    let base = manifest.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let mut out = Vec::new();
    let Some(components) = doc.get("component").and_then(|c| c.as_table()) else { return Ok(out) };
    for (id, component) in components {
        let Some(source) = component.get("source").and_then(|s| s.as_str()) else { continue };
        let build = component.get("build");
        let workdir = match build.and_then(|b| b.get("workdir")).and_then(|w| w.as_str()) {
            Some(w) => base.join(w),
            None => base.clone(),
        };
        out.push(ComponentBuild {
            id: id.clone(),
            wasm: base.join(source),
            command: build.and_then(|b| b.get("command")).and_then(|c| c.as_str()).map(str::to_string),
            workdir,
            watch: build
                .and_then(|b| b.get("watch"))
                .and_then(|w| w.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Whether `component` must be rebuilt: its .wasm is missing or older than a watched file or
/// the workspace's Cargo.lock. Components without watch globs are always rebuilt.
pub fn is_stale(component: &ComponentBuild, workspace_root: &Path) -> bool {
    let Some(built) = mtime(&component.wasm) else { return true };
    if component.watch.is_empty() {
        return true;
    }
    let mut newest = mtime(&workspace_root.join("Cargo.lock")).unwrap_or(SystemTime::UNIX_EPOCH);
    for pattern in &component.watch {
        for file in glob_files(&component.workdir, pattern) {
            if let Some(t) = mtime(&file) {
                newest = newest.max(t);
            }
        }
    }
    newest > built
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Files under `base` matching a `/`-separated glob (`*`, `?`, `**`). Skips `target` and dot dirs.
pub fn glob_files(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    let literal = segments.iter().take_while(|s| !s.contains(['*', '?'])).count();
    let mut root = base.to_path_buf();
    for s in &segments[..literal] {
        root.push(s);
    }
    let rest = &segments[literal..];
    if rest.is_empty() {
        return if root.is_file() { vec![root] } else { Vec::new() };
    }
    let mut found = Vec::new();
    walk(&root, &mut Vec::new(), rest, &mut found);
    found
}

fn walk(dir: &Path, rel: &mut Vec<String>, pattern: &[&str], found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(kind) = entry.file_type() else { continue };
        rel.push(name.clone());
        if kind.is_dir() {
            if !(name == "target" || name.starts_with('.')) {
                walk(&entry.path(), rel, pattern, found);
            }
        } else if segments_match(pattern, &rel.iter().map(String::as_str).collect::<Vec<_>>()) {
            found.push(entry.path());
        }
        rel.pop();
    }
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => !path.is_empty() && wildcard_match(first.as_bytes(), path[0].as_bytes()) && segments_match(rest, &path[1..]),
    }
}

fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard_match(&pattern[1..], text) || (!text.is_empty() && wildcard_match(pattern, &text[1..])),
        (Some(b'?'), Some(_)) => wildcard_match(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => wildcard_match(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// Fails with instructions when the Rust standard library for wasm32-wasip2 is not installed.
pub fn check_wasm_target() -> Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .with_context(|| format!("running `{rustc} --print sysroot` (is Rust installed?)"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir() {
        bail!("the Rust target {WASM_TARGET} is not installed. Run `rustup target add {WASM_TARGET}` and try again.");
    }
    Ok(())
}

/// What [`build_components`] did.
#[derive(Debug, Default)]
pub struct BuildSummary {
    pub built: Vec<String>,
    pub up_to_date: Vec<String>,
}

/// Build every stale component (all of them with `force`). `workspace_root` is where cargo runs.
/// Progress goes to stderr (cargo's own output is inherited).
pub fn build_components(workspace_root: &Path, components: &[ComponentBuild], force: bool) -> Result<BuildSummary> {
    let mut summary = BuildSummary::default();
    let mut cargo_packages: Vec<String> = Vec::new();
    let mut custom: Vec<&ComponentBuild> = Vec::new();
    for component in components {
        if component.command.is_none() {
            summary.up_to_date.push(component.id.clone());
            continue;
        }
        if !force && !is_stale(component, workspace_root) {
            summary.up_to_date.push(component.id.clone());
            continue;
        }
        summary.built.push(component.id.clone());
        match component.cargo_package() {
            Some(pkg) => {
                if !cargo_packages.contains(&pkg) {
                    cargo_packages.push(pkg)
                }
            }
            None => custom.push(component),
        }
    }
    if summary.built.is_empty() {
        eprintln!("components up to date: {}", summary.up_to_date.join(", "));
        return Ok(summary);
    }
    if !cargo_packages.is_empty() {
        check_wasm_target()?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(workspace_root).args(["build", "--target", WASM_TARGET, "--release"]);
        for pkg in &cargo_packages {
            cmd.args(["-p", pkg]);
        }
        eprintln!("building components ({}): cargo build --target {WASM_TARGET} --release -p {}", summary.built.join(", "), cargo_packages.join(" -p "));
        let status = cmd.status().with_context(|| format!("running {cargo}"))?;
        if !status.success() {
            bail!("building components failed ({status})");
        }
    }
    for component in custom {
        let command = component.command.as_deref().unwrap_or_default();
        eprintln!("building component {}: {command}", component.id);
        let status = Command::new("sh")
            .args(["-c", command])
            .current_dir(&component.workdir)
            .status()
            .context("running sh")?;
        if !status.success() {
            bail!("building component {} failed ({status})", component.id);
        }
    }
    for component in components {
        if component.command.is_some() && !component.wasm.is_file() {
            bail!("component {} was built but {} does not exist", component.id, component.wasm.display());
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_segments() {
        assert!(segments_match(&["shared", "**", "*.rs"], &["shared", "a.rs"]));
        assert!(segments_match(&["shared", "**", "*.rs"], &["shared", "x", "y", "a.rs"]));
        assert!(!segments_match(&["shared", "**", "*.rs"], &["shared", "a.toml"]));
        assert!(segments_match(&["Cargo.toml"], &["Cargo.toml"]));
        assert!(wildcard_match(b"V*__*.sql", b"V1__init.sql"));
    }

    #[test]
    fn recognises_standard_cargo_builds() {
        let mut c = ComponentBuild {
            id: "x".into(),
            wasm: PathBuf::from("x.wasm"),
            command: Some("cargo build --target wasm32-wasip2 --release -p sentinel-x".into()),
            workdir: PathBuf::from("."),
            watch: vec![],
        };
        assert_eq!(c.cargo_package().as_deref(), Some("sentinel-x"));
        c.command = Some("cargo build --target wasm32-wasip2 --release -p a --features f".into());
        assert_eq!(c.cargo_package(), None);
    }
}
