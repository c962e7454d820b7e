//! Extracts the few distribution files the /docs page serves from Swagger UI's release archive
//! (shipped by the `utoipa-swagger-ui-vendored` crate) into OUT_DIR, after checking the archive
//! against the pinned SHA-256. Nothing is downloaded: the archive arrives with the crates.

use std::io::Read;

use sha2::{Digest, Sha256};

/// Swagger UI release the archive holds, and the archive's SHA-256 (docs/api.md, "The /docs page").
const VERSION: &str = "5.32.6";
const ARCHIVE_SHA256: &str = "b3c07e091559b59a833f66547eb1fc18f2896f96e3f1f953e2f1efb328aa3394";
const FILES: &[&str] = &["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"];

fn main() {
    let archive = utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED;
    let digest = hex::encode(Sha256::digest(archive));
    assert_eq!(digest, ARCHIVE_SHA256, "Swagger UI archive checksum mismatch: the pinned release was not what cargo delivered");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).expect("Swagger UI archive is a zip file");
    for name in FILES.iter().copied().chain(["LICENSE", "NOTICE"]) {
        let path = if matches!(name, "LICENSE" | "NOTICE") {
            format!("swagger-ui-{VERSION}/{name}")
        } else {
            format!("swagger-ui-{VERSION}/dist/{name}")
        };
        let mut entry = zip.by_name(&path).unwrap_or_else(|e| panic!("{path} missing from the Swagger UI archive: {e}"));
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read archive entry");
        std::fs::write(out.join(name), bytes).expect("write extracted file");
    }
    std::fs::write(out.join("version.txt"), VERSION).expect("write version");
    println!("cargo:rerun-if-changed=build.rs");
}
