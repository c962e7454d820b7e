//! Routing inside a component. Literal segments are preferred to `:params`
//! at the first position where candidates differ, so `/api/badges/stats`
//! never reaches `/api/badges/:id`.

use http::Method;

use crate::access::Access;
use crate::context::Ctx;
use crate::HandlerResult;

pub type Handler = fn(&Ctx) -> HandlerResult;

/// One operation: method, path pattern, who may call it, and its handler.
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub access: Access,
    pub handler: Handler,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

pub struct Router {
    pub component: &'static str,
    routes: Vec<Route>,
}

pub enum Match<'r> {
    Found(&'r Route, Vec<(&'static str, String)>),
    NotFound,
}

impl Router {
    pub fn new(component: &'static str) -> Self {
        Self { component, routes: Vec::new() }
    }

    /// Declares an operation. `access` is its rule from the spec's access column.
    pub fn route(mut self, method: Method, pattern: &'static str, access: Access, handler: Handler) -> Self {
        let segments = split(pattern)
            .map(|s| match s.strip_prefix(':') {
                Some(name) => Segment::Param(name),
                None => Segment::Literal(s),
            })
            .collect();
        self.routes.push(Route { method, pattern, access, handler, segments });
        self
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn find(&self, method: &Method, path: &str) -> Match<'_> {
        let parts: Vec<&str> = split(path).collect();
        let best = self
            .routes
            .iter()
            .filter(|r| (r.method == method || (method == Method::HEAD && r.method == Method::GET)) && r.segments.len() == parts.len())
            .filter(|r| r.segments.iter().zip(&parts).all(|(s, p)| match s { Segment::Param(_) => true, Segment::Literal(l) => l == p }))
            // Literal beats parameter at the first differing position.
            .max_by(|a, b| specificity(a).cmp(&specificity(b)));
        match best {
            Some(route) => {
                let params = route
                    .segments
                    .iter()
                    .zip(&parts)
                    .filter_map(|(s, p)| match s {
                        Segment::Param(name) => Some((*name, percent_decode(p))),
                        Segment::Literal(_) => None,
                    })
                    .collect();
                Match::Found(route, params)
            }
            None => Match::NotFound,
        }
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn specificity(route: &Route) -> Vec<u8> {
    route.segments.iter().map(|s| if matches!(s, Segment::Literal(_)) { 1 } else { 0 }).collect()
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("v={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ok;

    fn h(_: &Ctx) -> HandlerResult {
        ok(serde_json::Value::Null)
    }

    fn router() -> Router {
        Router::new("t")
            .route(Method::GET, "/api/badges/:id", Access::QM, h)
            .route(Method::GET, "/api/badges/stats", Access::QM, h)
            .route(Method::GET, "/api/badges", Access::QM, h)
            .route(Method::GET, "/api/members/search/:serviceNumber", Access::QM, h)
    }

    fn found(r: &Router, m: Method, p: &str) -> Option<(&'static str, Vec<(&'static str, String)>)> {
        match r.find(&m, p) {
            Match::Found(route, params) => Some((route.pattern, params)),
            Match::NotFound => None,
        }
    }

    #[test]
    fn literal_segments_win_over_params() {
        let r = router();
        assert_eq!(found(&r, Method::GET, "/api/badges/stats").unwrap().0, "/api/badges/stats");
        let (pattern, params) = found(&r, Method::GET, "/api/badges/abc").unwrap();
        assert_eq!((pattern, params), ("/api/badges/:id", vec![("id", "abc".to_string())]));
    }

    #[test]
    fn trailing_slashes_and_head_are_tolerated() {
        let r = router();
        assert_eq!(found(&r, Method::GET, "/api/badges/").unwrap().0, "/api/badges");
        assert!(found(&r, Method::HEAD, "/api/badges").is_some());
    }

    #[test]
    fn unknown_paths_and_methods_do_not_match() {
        let r = router();
        assert!(found(&r, Method::POST, "/api/badges/stats").is_none());
        assert!(found(&r, Method::GET, "/api/badges/a/b").is_none());
    }

    #[test]
    fn params_are_percent_decoded() {
        let r = router();
        let (_, params) = found(&r, Method::GET, "/api/members/search/A%20B+C").unwrap();
        assert_eq!(params[0].1, "A B+C");
    }
}
