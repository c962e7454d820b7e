// Migrations and function files are embedded at compile time; a new or edited file under /migrations
// must rebuild this crate. The list of function files is generated so that adding one needs no code.
use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=../../migrations/functions");
    println!("cargo:rerun-if-changed=build.rs");
    // The manifest directory of this build (read at run time: a path compiled into the build script
    // would point at whichever checkout first built it, e.g. another worktree sharing the target dir).
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = std::path::Path::new(&manifest_dir).join("../../migrations/functions");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .collect()
        })
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    assert!(!names.is_empty(), "no function files in {}", dir.display());
    names.sort();
    let mut code = String::from("pub static FUNCTION_FILES: &[(&str, &str)] = &[\n");
    for name in names {
        let path = dir.join(&name).canonicalize().expect("function file path");
        writeln!(code, "    ({name:?}, include_str!({:?})),", path.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("function_files.rs");
    std::fs::write(out, code).expect("writing function_files.rs");
}
