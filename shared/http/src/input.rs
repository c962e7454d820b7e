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
    Ok(value)
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
    fn garde_rules_become_issues() {
        assert_eq!(issues(parse_json(br#"{"name":"abcd"}"#))[0].0, "name");
    }
}
