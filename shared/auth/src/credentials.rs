//! Finding the credential a caller presented.

pub const SESSION_COOKIE: &str = "sentinel_session";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    None,
    SessionToken(String),
    ApiKey(String),
}

/// `X-API-Key: sk_…`, `Authorization: Bearer <token|sk_…>`, or the session cookie, in that order.
pub fn from_headers(x_api_key: Option<&str>, authorization: Option<&str>, cookie: Option<&str>) -> Presented {
    if let Some(key) = x_api_key.map(str::trim).filter(|k| !k.is_empty()) {
        return Presented::ApiKey(key.to_string());
    }
    if let Some(auth) = authorization {
        let mut parts = auth.trim().splitn(2, ' ');
        if parts.next().is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer")) {
            let token = parts.next().unwrap_or_default().trim();
            if !token.is_empty() {
                return classify(token);
            }
        }
    }
    if let Some(cookie) = cookie {
        for pair in cookie.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=') {
                if name == SESSION_COOKIE && !value.is_empty() {
                    return Presented::SessionToken(value.to_string());
                }
            }
        }
    }
    Presented::None
}

/// A bare token (WebSocket `auth.token`): keys start with `sk_`.
pub fn classify(token: &str) -> Presented {
    if crate::api_key::looks_like_key(token) { Presented::ApiKey(token.to_string()) } else { Presented::SessionToken(token.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_forms() {
        assert_eq!(from_headers(Some("sk_a"), Some("Bearer t"), None), Presented::ApiKey("sk_a".into()));
        assert_eq!(from_headers(None, Some("Bearer sk_b"), None), Presented::ApiKey("sk_b".into()));
        assert_eq!(from_headers(None, Some("bearer tok"), None), Presented::SessionToken("tok".into()));
        assert_eq!(from_headers(None, Some("Basic xyz"), None), Presented::None);
        assert_eq!(from_headers(None, None, Some("a=1; sentinel_session=tok2")), Presented::SessionToken("tok2".into()));
        assert_eq!(from_headers(None, None, Some("other=1")), Presented::None);
        assert_eq!(from_headers(Some(" "), None, None), Presented::None);
    }
}
