//! Swagger UI's distribution files for the `/docs` page, embedded in the component at build time
//! (units run on closed networks: nothing is fetched at run time). The release is pinned in
//! `build.rs` by version and SHA-256 and in Cargo.lock by the crate's checksum (docs/api.md).

/// The Swagger UI release embedded.
pub const SWAGGER_UI_VERSION: &str = include_str!(concat!(env!("OUT_DIR"), "/version.txt"));

/// `(file name, content type, bytes)` of every embedded asset, served under `/docs/<file name>`.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js"))),
    ("swagger-ui.css", "text/css; charset=utf-8", include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui.css"))),
    ("favicon-32x32.png", "image/png", include_bytes!(concat!(env!("OUT_DIR"), "/favicon-32x32.png"))),
    ("favicon-16x16.png", "image/png", include_bytes!(concat!(env!("OUT_DIR"), "/favicon-16x16.png"))),
    ("LICENSE", "text/plain; charset=utf-8", include_bytes!(concat!(env!("OUT_DIR"), "/LICENSE"))),
    ("NOTICE", "text/plain; charset=utf-8", include_bytes!(concat!(env!("OUT_DIR"), "/NOTICE"))),
];

/// The embedded asset called `name`: its content type and bytes.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS.iter().find(|(n, _, _)| *n == name).map(|(_, content_type, bytes)| (*content_type, *bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pinned_release_is_embedded() {
        assert_eq!(super::SWAGGER_UI_VERSION, "5.32.6");
        let (content_type, bundle) = super::asset("swagger-ui-bundle.js").unwrap();
        assert!(content_type.starts_with("text/javascript"));
        assert!(bundle.len() > 1_000_000, "the full bundle");
        assert!(super::asset("../Cargo.toml").is_none());
    }
}
