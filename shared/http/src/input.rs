//! Turning untrusted input into validated values: JSON bodies (serde + garde)
//! and query parameters. Every failure is a 400 `VALIDATION_ERROR` with
//! `issues`, never a 500.

use garde::Validate;
use sentinel_domain::Issues;
use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;

use crate::error::ApiError;

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn parse_json<T: DeserializeOwned + Validate<Context = ()>>(body: &[u8]) -> Result<T, ApiError> {
    // An absent body reads as `{}` so missing fields are reported as such.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let de = &mut serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let mut path = if path == "." { String::new() } else { path };
        let message = describe_serde_error(e.inner());
        // serde reports a missing field at its parent; point at the field itself.
        if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            path = if path.is_empty() { field.to_string() } else { format!("{path}.{field}") };
        }
        ApiError::validation(Issues::single(path, message))
    })?;
    value.validate().map_err(|report| ApiError::validation(issues_from_report(&report)))?;
    // JSON escapes U+0000 as `\u0000`; only then can a string hold one.
    if body.windows(6).any(|w| w == b"\\u0000") {
        if let Some(path) = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| nul_path(&v, String::new())) {
            return Err(ApiError::invalid(&path, NUL_MESSAGE));
        }
    }
    Ok(value)
}

/// PostgreSQL text cannot hold U+0000, so text input carrying it is refused
/// with a 400 here instead of failing in the database with a 500.
pub const NUL_MESSAGE: &str = "must not contain NUL (U+0000) characters";

/// The path (`items[2].serialNumber`) of the first string or key in `value` holding U+0000.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_path(v, format!("{path}[{i}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            let field = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains('\0') { Some(field) } else { nul_path(v, field) }
        }),
        _ => None,
    }
}

/// The first path parameter or query-string name or value holding U+0000 (see [`NUL_MESSAGE`]).
pub fn nul_in_parameters(params: &[(&'static str, String)], query: Option<&str>) -> Option<String> {
    if let Some((name, _)) = params.iter().find(|(_, v)| v.contains('\0')) {
        return Some(name.to_string());
    }
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', "\\0"))
}

fn describe_serde_error(e: &serde_json::Error) -> String {
    // serde's message ends with " at line L column C"; clients get the message only.
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => format!("Malformed JSON: {text}"),
        _ => text,
    }
}

pub fn issues_from_report(report: &garde::Report) -> Issues {
    let mut issues = Issues::default();
    for (path, error) in report.iter() {
        issues.push(path.to_string(), error.message().to_string());
    }
    issues
}

/// garde rule: the text has something besides white space.
pub fn not_blank(value: &str, _: &()) -> garde::Result {
    if value.trim().is_empty() { Err(garde::Error::new("must not be blank")) } else { Ok(()) }
}

/// Distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`) in PATCH bodies. Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(de: D) -> Result<Option<Option<T>>, D::Error> {
    Deserialize::deserialize(de).map(Some)
}

/// A boolean query flag: `true`/`false` (absent = false); anything else is a 400.
pub fn query_flag(query: &std::collections::HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match query.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::invalid(name, "must be true or false")),
    }
}

/// An optional UUID query parameter.
pub fn query_uuid(query: &std::collections::HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    query
        .get(name)
        .map(|v| sentinel_domain::uuid::parse_uuid(v).ok_or_else(|| ApiError::invalid(name, "must be a valid UUID")))
        .transpose()
}

/// An optional instant query parameter (ISO-8601 instant or `YYYY-MM-DD`), canonical ISO text; empty = absent.
pub fn query_instant(query: &std::collections::HashMap<String, String>, name: &str) -> Result<Option<String>, ApiError> {
    use sentinel_domain::time::Instant;
    query
        .get(name)
        .filter(|s| !s.is_empty())
        .map(|s| Instant::parse(s).map(Instant::iso).map_err(|e| ApiError::invalid(name, e.message())))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[garde(length(chars, min = 1, max = 3))]
        name: String,
        #[garde(skip)]
        #[serde(default, deserialize_with = "double_option")]
        note: Option<Option<String>>,
    }

    fn issues(r: Result<Body, ApiError>) -> Vec<(String, String)> {
        r.unwrap_err().issues.into_iter().map(|i| (i.path, i.message)).collect()
    }

    #[test]
    fn parses_valid_bodies_and_null_vs_absent() {
        let b: Body = parse_json(br#"{"name":"ab","note":null}"#).unwrap();
        assert_eq!(b.note, Some(None));
        let b: Body = parse_json(br#"{"name":"ab"}"#).unwrap();
        assert_eq!(b.note, None);
    }

    #[test]
    fn wrong_types_unknown_fields_and_malformed_json_are_issues() {
        assert_eq!(issues(parse_json(br#"{"name":5}"#))[0].0, "name");
        assert!(issues(parse_json(br#"{"name":"a","extra":1}"#))[0].1.contains("unknown field"));
        assert!(issues(parse_json(br#"{"name":"#))[0].1.starts_with("Malformed JSON"));
        assert!(issues(parse_json(b""))[0].1.contains("missing field"));
        assert_eq!(issues(parse_json(b"{}"))[0].0, "name");
    }

    #[test]
    fn nul_characters_are_refused_with_their_path() {
        let e = parse_json::<Body>(br#"{"name":"a\u0000"}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.issues[0].path.as_str(), e.issues[0].message.as_str()), (400, "name", NUL_MESSAGE));
        assert!(parse_json::<Body>(br#"{"name":"ab","note":"\\u0000"}"#).is_ok(), "an escaped backslash is not a NUL");
        let e = parse_json::<Body>(br#"{"name":"ab","note":"x\u0000"}"#).unwrap_err();
        assert_eq!(e.issues[0].path, "note");
        assert_eq!(nul_in_parameters(&[("id", "a\0".into())], None).as_deref(), Some("id"));
        assert_eq!(nul_in_parameters(&[], Some("a=1&search=x%00y")).as_deref(), Some("search"));
        assert_eq!(nul_in_parameters(&[("id", "a".into())], Some("a=1")), None);
    }

    #[test]
    fn garde_rules_become_issues() {
        assert_eq!(issues(parse_json(br#"{"name":"abcd"}"#))[0].0, "name");
    }
}
