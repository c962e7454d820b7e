// Migrations are embedded at compile time; a new or edited file under /migrations must rebuild this crate.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=build.rs");
}
