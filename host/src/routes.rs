//! HTTP trigger routing with Spin's semantics on top of routefinder 0.5.4 (the crate Spin uses):
//! normalisation (leading `/` added, one trailing `/` removed), `/...` trailing wildcards,
//! `:param` segments, duplicate raw routes replaced by the later trigger.

use std::collections::HashMap;

use anyhow::anyhow;

pub const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

/// One routable trigger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// Index of the trigger in the manifest (what handles it).
    pub trigger: usize,
    /// Route as written in spin.toml.
    pub raw_route: String,
    /// `""` base + normalised route (`/` → empty).
    pub based_route: String,
    pub wildcard: bool,
}

impl RouteEntry {
    /// Raw route without a trailing `/...` (`spin-component-route`).
    pub fn raw_route_or_prefix(&self) -> &str {
        self.raw_route.strip_suffix("/...").unwrap_or(&self.raw_route)
    }
}

pub struct Router {
    inner: routefinder::Router<usize>,
    entries: Vec<RouteEntry>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub entry: &'a RouteEntry,
    /// Trailing-wildcard part (`spin-path-info`), Spin's trailing-slash convention applied.
    pub path_info: String,
    /// `:name` captures in route order.
    pub params: Vec<(String, String)>,
}

/// `"foo/"` → `"/foo"`, `"/"` → `""` (one trailing slash removed, leading slash added).
pub fn normalise(raw: &str) -> String {
    let absolute = if raw.starts_with('/') { raw.to_string() } else { format!("/{raw}") };
    match absolute.strip_suffix('/') {
        Some(s) => s.to_string(),
        None => absolute,
    }
}

impl Router {
    /// Builds the router from `(trigger index, raw route)` in manifest order; returns warnings
    /// for duplicate routes (the later trigger wins, as in Spin).
    pub fn build<'a>(
        routes: impl IntoIterator<Item = (usize, &'a str)>,
        describe: impl Fn(usize) -> String,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        let mut ordered: Vec<RouteEntry> = Vec::new();
        let mut by_raw: HashMap<String, usize> = HashMap::new();
        let mut warnings = Vec::new();
        for (trigger, raw) in routes {
            let based_route = normalise(raw);
            let wildcard = based_route.ends_with("/...") || based_route.ends_with("/*");
            let entry = RouteEntry { trigger, raw_route: raw.to_string(), based_route, wildcard };
            if let Some(&pos) = by_raw.get(raw) {
                let replaced = std::mem::replace(&mut ordered[pos], entry);
                warnings.push(format!(
                    "Duplicate route {:?}: {} replaced by {}",
                    if replaced.based_route.is_empty() { "/" } else { &replaced.based_route },
                    describe(replaced.trigger),
                    describe(trigger)
                ));
            } else {
                by_raw.insert(raw.to_string(), ordered.len());
                ordered.push(entry);
            }
        }
        let mut inner = routefinder::Router::new();
        for (index, entry) in ordered.iter().enumerate() {
            let spec = match entry.based_route.strip_suffix("/...") {
                Some(prefix) => format!("{prefix}/*"),
                None => entry.based_route.clone(),
            };
            inner.add(spec.as_str(), index).map_err(|e| {
                anyhow!(
                    "Error parsing route {} associated with component {}: {e}",
                    entry.based_route,
                    describe(entry.trigger)
                )
            })?;
        }
        Ok((Self { inner, entries: ordered }, warnings))
    }

    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }

    /// Matches a raw (percent-encoded, query-less) request path.
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        let best = self.inner.best_match(path)?;
        let entry = &self.entries[*best.handler()];
        let captures = best.captures();
        let params = captures.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let path_info = match captures.wildcard() {
            None => String::new(),
            Some(w) => match (w.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_string(),
                (false, false) => format!("/{w}"),
                (false, true) => format!("/{w}/"),
            },
        };
        Some(RouteMatch { entry, path_info, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE_ROUTES: [&str; 7] = ["/", "/...", "/foo", "/users/:id", "/users/me", "/users/:id/...", "/api/..."];

    fn router(routes: &[&str]) -> Router {
        Router::build(routes.iter().copied().enumerate(), |i| format!("c{i}")).unwrap().0
    }

    fn winner(r: &Router, path: &str) -> Option<(String, String)> {
        r.route(path).map(|m| (m.entry.raw_route.clone(), m.path_info))
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise("/"), "");
        assert_eq!(normalise("foo"), "/foo");
        assert_eq!(normalise("/foo/"), "/foo");
        assert_eq!(normalise("/foo//"), "/foo/");
        assert_eq!(normalise("/api/..."), "/api/...");
    }

    #[test]
    fn verified_table() {
        let r = router(&TABLE_ROUTES);
        let cases = [
            ("/", "/", ""),
            ("/foo/", "/foo", ""),
            ("//foo", "/foo", ""),
            ("/Foo", "/...", "/Foo"),
            ("/foobar", "/...", "/foobar"),
            ("/foo/bar", "/...", "/foo/bar"),
            ("/users/me", "/users/me", ""),
            ("/users/42", "/users/:id", ""),
            ("/users/42/", "/users/:id", ""),
            ("/users/42/posts", "/users/:id/...", "/posts"),
            ("/api", "/api/...", ""),
            ("/api/", "/api/...", "/"),
            ("/api/x/y", "/api/...", "/x/y"),
        ];
        for (path, route, info) in cases {
            assert_eq!(winner(&r, path), Some((route.to_string(), info.to_string())), "path {path}");
        }
        let m = r.route("/users/42").unwrap();
        assert_eq!(m.params, vec![("id".to_string(), "42".to_string())]);
    }

    #[test]
    fn precedence_extras() {
        let r = router(&["/a/:y", "/a/b/..."]);
        assert_eq!(winner(&r, "/a/b").unwrap().0, "/a/b/...");
        let r = router(&["/a/...", "/a/:y"]);
        assert_eq!(winner(&r, "/a/bc").unwrap().0, "/a/:y");
        let r = router(&["/:p"]);
        assert_eq!(winner(&r, "/"), None);
        let r = router(&["/foo"]);
        assert_eq!(winner(&r, "/bar"), None);
        let r = router(&["/files/:name.json"]);
        let m = r.route("/files/report.json").unwrap();
        assert_eq!(m.params, vec![("name".to_string(), "report".to_string())]);
    }

    #[test]
    fn wildcard_trailing_slash_path_info() {
        let r = router(&["/x/..."]);
        assert_eq!(winner(&r, "/x/a/b/").unwrap().1, "/a/b/");
    }

    #[test]
    fn duplicates_later_replaces_earlier() {
        let (r, warnings) =
            Router::build([(0, "/dup"), (1, "/dup"), (2, "/dup/")], |i| format!("c{i}")).unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(r.route("/dup").unwrap().entry.trigger, 1);
        assert_eq!(r.entries().len(), 2);
    }

    #[test]
    fn bad_routes_fail() {
        assert!(Router::build([(0, "/a/*name")], |i| format!("c{i}")).is_err());
        assert!(Router::build([(0, "/a/:")], |i| format!("c{i}")).is_err());
    }
}
