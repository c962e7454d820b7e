//! The `spin-*` request headers Spin appends before invoking a component.

use std::net::SocketAddr;

use crate::routes::RouteMatch;

pub const PATH_INFO: &str = "spin-path-info";
pub const FULL_URL: &str = "spin-full-url";
pub const MATCHED_ROUTE: &str = "spin-matched-route";
pub const BASE_PATH: &str = "spin-base-path";
pub const RAW_COMPONENT_ROUTE: &str = "spin-raw-component-route";
pub const COMPONENT_ROUTE: &str = "spin-component-route";
pub const CLIENT_ADDR: &str = "spin-client-addr";

/// Headers in Spin's order. `host` is the request's Host value (None → `localhost`),
/// `path_and_query` the raw request target.
pub fn spin_headers(
    route: &RouteMatch<'_>,
    listener_scheme: &str,
    host: Option<&str>,
    path_and_query: &str,
    client_addr: SocketAddr,
) -> Vec<(String, String)> {
    let entry = route.entry;
    let mut headers = vec![
        (PATH_INFO.to_string(), route.path_info.clone()),
        (
            FULL_URL.to_string(),
            format!("{listener_scheme}://{}{path_and_query}", host.unwrap_or("localhost")),
        ),
        (MATCHED_ROUTE.to_string(), entry.based_route.clone()),
        (BASE_PATH.to_string(), "/".to_string()),
        (RAW_COMPONENT_ROUTE.to_string(), entry.raw_route.clone()),
        (COMPONENT_ROUTE.to_string(), entry.raw_route_or_prefix().to_string()),
        (CLIENT_ADDR.to_string(), client_addr.to_string()),
    ];
    for (name, value) in &route.params {
        headers.push((path_match_header(name), value.clone()));
    }
    headers
}

/// `:user_id` → `spin-path-match-user-id`.
pub fn path_match_header(param: &str) -> String {
    format!("spin-path-match-{}", param.to_ascii_uppercase().replace('_', "-")).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::Router;

    fn build(route: &str, path: &str, pq: &str, host: Option<&str>) -> Vec<(String, String)> {
        let (r, _) = Router::build([(0, route)], |_| "c".into()).unwrap();
        let m = r.route(path).unwrap();
        spin_headers(&m, "http", host, pq, "127.0.0.1:54012".parse().unwrap())
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn example_a_wildcard() {
        let h = build("/api/...", "/api/items/7", "/api/items/7?x=1", Some("localhost:3000"));
        assert_eq!(
            h,
            pairs(&[
                ("spin-path-info", "/items/7"),
                ("spin-full-url", "http://localhost:3000/api/items/7?x=1"),
                ("spin-matched-route", "/api/..."),
                ("spin-base-path", "/"),
                ("spin-raw-component-route", "/api/..."),
                ("spin-component-route", "/api"),
                ("spin-client-addr", "127.0.0.1:54012"),
            ])
        );
    }

    #[test]
    fn example_b_params() {
        let route = "/users/:user_id/posts/:post";
        let h = build(route, "/users/42/posts/hello", "/users/42/posts/hello", None);
        assert_eq!(h[0], ("spin-path-info".into(), "".into()));
        assert_eq!(h[1], ("spin-full-url".into(), "http://localhost/users/42/posts/hello".into()));
        assert_eq!(h[2].1, route);
        assert_eq!(h[4].1, route);
        assert_eq!(h[5].1, route);
        assert!(h.contains(&("spin-path-match-user-id".into(), "42".into())));
        assert!(h.contains(&("spin-path-match-post".into(), "hello".into())));
    }

    #[test]
    fn root_and_catch_all_values() {
        let h = build("/", "/", "/", Some("h"));
        assert_eq!(h[2].1, "");
        assert_eq!(h[5].1, "/");
        let h = build("/...", "/x", "/x", Some("h"));
        assert_eq!(h[2].1, "/...");
        assert_eq!(h[5].1, "");
        let h = build("/foo/", "/foo", "/foo", Some("h"));
        assert_eq!(h[2].1, "/foo");
        assert_eq!(h[4].1, "/foo/");
    }
}
