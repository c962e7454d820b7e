//! The request pipeline every component runs: correlation id, CORS,
//! routing, access, body limit, handler, error envelope, security headers,
//! and one structured log line per request on stderr.

use std::time::Instant;

use http::{header, HeaderValue, Method, StatusCode};
use sentinel_auth::session_token;
use serde_json::{json, Value};

use crate::access::{Access, Principal};
use crate::{auth, rate_limit};
use crate::context::{Ctx, Platform, Request};
use crate::error::ApiError;
use crate::input::MAX_BODY_BYTES;
use crate::request_metrics::{method_label, Observation};
use crate::router::{Match, Router};
use crate::Reply;

pub const CORRELATION_HEADER: &str = "x-correlation-id";
const DEFAULT_CORS_ORIGINS: &str = "http://localhost:3000,http://localhost:5173";

pub fn serve(router: &Router, platform: &Platform, req: Request) -> http::Response<Vec<u8>> {
    serve_observed(router, platform, req).0
}

/// [`serve`], plus what the request metrics record of it (the adapter records it once the response
/// has been sent: docs/architecture.md, "Metrics").
pub fn serve_observed(router: &Router, platform: &Platform, mut req: Request) -> (http::Response<Vec<u8>>, Observation) {
    let started = Instant::now();
    req.client_ip = auth::resolve_client_ip(&req, platform.config.var("trusted_proxies").as_deref());
    let correlation_id = req
        .header(CORRELATION_HEADER)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    let Dispatched { route: route_pattern, outcome, headers: extra_headers } = dispatch(router, platform, &req, &correlation_id);
    let (mut response, internal) = match outcome {
        Ok(Some(Reply::Json(status, body))) => (json_response(status, Some(body), Vec::new()), None),
        Ok(Some(Reply::JsonWithHeaders(status, body, headers))) => (json_response(status, Some(body), headers), None),
        Ok(Some(Reply::Text(status, content_type, text))) => {
            (build(status, text.into_bytes(), &[(header::CONTENT_TYPE.as_str(), content_type.to_string())]), None)
        }
        Ok(Some(Reply::Static(status, content_type, bytes, cache_control))) => (
            build(status, bytes.to_vec(), &[(header::CONTENT_TYPE.as_str(), content_type.to_string()), (header::CACHE_CONTROL.as_str(), cache_control.to_string())]),
            None,
        ),
        // CORS preflight: only the CORS headers matter.
        Ok(None) => (json_response(StatusCode::NO_CONTENT, None, Vec::new()), None),
        Err(e) => {
            let headers = e.headers.iter().map(|(n, v)| (*n, v.clone())).collect();
            (json_response(e.status, Some(e.envelope(&correlation_id)), headers), e.internal)
        }
    };
    add_headers(&mut response, extra_headers);
    finish(&mut response, platform, &req, &correlation_id);
    log(platform, &req, route_pattern, &correlation_id, response.status(), started, internal.as_deref());
    let observation = Observation {
        method: method_label(&req.method),
        route: route_pattern,
        status: response.status().as_u16(),
        micros: started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64,
    };
    (response, observation)
}

/// What the pipeline decided, plus headers for whatever response results
/// (rate-limit state, a renewed session cookie).
struct Dispatched {
    route: &'static str,
    outcome: Result<Option<Reply>, ApiError>,
    headers: Vec<(&'static str, String)>,
}

fn dispatch(router: &Router, platform: &Platform, req: &Request, correlation_id: &str) -> Dispatched {
    let done = |route, outcome, headers| Dispatched { route, outcome, headers };
    if req.method == Method::OPTIONS {
        return done("*", Ok(None), Vec::new());
    }
    let (route, params) = match router.find(&req.method, &req.path) {
        Match::Found(route, params) => (route, params),
        Match::NotFound => {
            return done("-", Err(ApiError::not_found(format!("Cannot {} {}", req.method, req.path))), Vec::new());
        }
    };
    if req.body.len() > MAX_BODY_BYTES {
        return done(route.pattern, Err(ApiError::payload_too_large(MAX_BODY_BYTES)), Vec::new());
    }
    let rate_limits = platform.config.var("rate_limits");
    // Public routes never look at credentials (a stale cookie must not break login).
    let principal = match route.access {
        Access::Public => Ok(Principal::Anonymous),
        Access::Token(variable) => auth::check_token(platform, req, variable).map(|()| Principal::Anonymous),
        Access::Restricted(_) => auth::authenticate(platform, req),
    };
    let principal = match principal {
        Ok(p) => p,
        // Credentials that fail authentication spend the caller's anonymous
        // budget, so keys and tokens cannot be guessed at will.
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            return match rate_limit::check(platform, &[rate_limit::anonymous(req, rate_limits.as_deref())]) {
                Ok(headers) => done(route.pattern, Err(e), headers),
                Err(limited) => done(route.pattern, Err(limited), Vec::new()),
            };
        }
        Err(e) => return done(route.pattern, Err(e), Vec::new()),
    };
    let mut headers = match rate_limit::check(platform, &rate_limit::limits_for(&principal, &req.path, req, rate_limits.as_deref())) {
        Ok(headers) => headers,
        Err(e) => return done(route.pattern, Err(e), Vec::new()),
    };
    // The stored session just slid forward: give the browser's cookie the
    // same fresh lifetime, whatever the response.
    if let Principal::User(user) = &principal {
        if user.session_renewed {
            if let Some(token) = auth::cookie_session_token(req) {
                headers.push(("set-cookie", auth::session_cookie(platform, &token, session_token::PASSWORD_SESSION_SECS)));
            }
        }
    }
    if let Access::Restricted(_) = route.access {
        if let Err(e) = auth::authorize(route.access, &principal) {
            return done(route.pattern, Err(e), headers);
        }
    }
    if let Some(name) = crate::input::nul_in_parameters(&params, req.query.as_deref()) {
        return done(route.pattern, Err(ApiError::invalid(&name, crate::input::NUL_MESSAGE)), headers);
    }
    let ctx = Ctx::new(platform, req, route.pattern, params, correlation_id.to_string(), principal);
    done(route.pattern, (route.handler)(&ctx).map(Some), headers)
}

/// Appends `headers` to a built response. A handler's own `Set-Cookie`
/// (logout clearing the cookie) wins over a renewal's.
fn add_headers(response: &mut http::Response<Vec<u8>>, headers: Vec<(&'static str, String)>) {
    let handler_set_cookie = response.headers().contains_key(header::SET_COOKIE);
    for (name, value) in headers {
        if name == "set-cookie" && handler_set_cookie {
            continue;
        }
        if let (Ok(name), Ok(value)) = (header::HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().append(name, value);
        }
    }
}

fn json_response(status: StatusCode, body: Option<Value>, headers: Vec<(&'static str, String)>) -> http::Response<Vec<u8>> {
    let mut all = headers;
    let bytes = match body {
        Some(body) => {
            all.push((header::CONTENT_TYPE.as_str(), crate::JSON_CONTENT_TYPE.to_string()));
            serde_json::to_vec(&body).unwrap_or_default()
        }
        None => Vec::new(),
    };
    build(status, bytes, &all)
}

fn build(status: StatusCode, body: Vec<u8>, headers: &[(&str, String)]) -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (header::HeaderName::try_from(*name), HeaderValue::try_from(value.as_str())) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// Correlation, CORS and hardening headers on every response.
fn finish(response: &mut http::Response<Vec<u8>>, platform: &Platform, req: &Request, correlation_id: &str) {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::try_from(correlation_id) {
        h.insert(CORRELATION_HEADER, v);
    }
    for (name, value) in SECURITY_HEADERS {
        // Embedded static assets keep their own caching; everything else is `no-store`.
        if *name == "cache-control" && h.contains_key(header::CACHE_CONTROL) {
            continue;
        }
        h.insert(*name, HeaderValue::from_static(value));
    }
    if let Some(origin) = req.header("origin") {
        let allowed = platform.config.var("cors_origins").unwrap_or_else(|| DEFAULT_CORS_ORIGINS.to_string());
        if allowed.split(',').map(str::trim).any(|o| o == origin || o == "*") {
            if let Ok(v) = HeaderValue::try_from(origin) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
            h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("X-Correlation-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"),
            );
            if req.method == Method::OPTIONS {
                h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"));
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("Content-Type, Authorization, X-API-Key, X-Correlation-ID"),
                );
                h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            }
        }
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; object-src 'none'; frame-ancestors 'self'; base-uri 'self'"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "SAMEORIGIN"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=15552000; includeSubDomains"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-dns-prefetch-control", "off"),
    ("x-permitted-cross-domain-policies", "none"),
    ("cache-control", "no-store"),
];

fn log(platform: &Platform, req: &Request, route: &str, correlation_id: &str, status: StatusCode, started: Instant, internal: Option<&str>) {
    let level = if status.is_server_error() { "error" } else if status.is_client_error() { "warn" } else { "info" };
    let mut line = json!({
        "ts": sentinel_domain::time::now_iso(),
        "level": level,
        "component": platform.component,
        "correlationId": correlation_id,
        "method": req.method.as_str(),
        "route": route,
        "path": req.path,
        "status": status.as_u16(),
        "durationMs": (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
    });
    if let Some(detail) = internal {
        line["error"] = detail.into();
    }
    log_line(&line);
}

/// Writes one structured log line to stderr in a single write. (`eprintln!` of a JSON value writes
/// every token separately: stderr is unbuffered, so in a component each token is a host call and a
/// system call, dozens per request.)
pub fn log_line(line: &Value) {
    use std::io::Write;
    let mut text = line.to_string();
    text.push('\n');
    let _ = std::io::stderr().write_all(text.as_bytes());
}
