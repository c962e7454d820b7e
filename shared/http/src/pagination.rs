//! Paging of list endpoints; paging happens in the database. Lists page with `page`/`limit`
//! ([`PageRequest`]); the one legacy list (`GET /api/admin/users`) keeps the `limit`/`offset`
//! shape it always had ([`OffsetRequest`]). Both parse and bound their parameters here.

use std::collections::HashMap;

use sentinel_domain::Issues;
use serde_json::{json, Value};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub limit: i64,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const MAX_LIMIT: i64 = 100;

    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let mut issues = Issues::default();
        let page = parse_bounded(&mut issues, query, "page", 1, 1, i64::from(i32::MAX));
        let limit = parse_bounded(&mut issues, query, "limit", Self::DEFAULT_LIMIT, 1, Self::MAX_LIMIT);
        issues.into_result().map_err(ApiError::validation)?;
        Ok(Self { page, limit })
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.limit
    }

    /// `total, page, limit, totalPages` merged into `body`.
    pub fn wrap(&self, mut body: Value, total: i64) -> Value {
        let total_pages = if total == 0 { 0 } else { (total + self.limit - 1) / self.limit };
        let meta = json!({ "total": total, "page": self.page, "limit": self.limit, "totalPages": total_pages });
        if let (Some(obj), Some(meta)) = (body.as_object_mut(), meta.as_object()) {
            obj.extend(meta.clone());
        }
        body
    }

    /// [`wrap`](Self::wrap) for a page whose items PostgreSQL rendered as JSON text
    /// (`jsonb_agg(…)::text`): the items go into the response as they are, under `items_field`, beside
    /// `body`'s fields and the paging fields — never parsed and re-serialised in the component
    /// (docs/architecture.md, "Lists").
    pub fn wrap_text(&self, items_field: &str, items_json: &str, body: Value, total: i64) -> String {
        with_json_text_field(&self.wrap(body, total), items_field, items_json)
    }
}

/// `object` serialised with one more field, `name`, whose value is the JSON text `value_json`
/// (trusted: PostgreSQL's rendering of a json/jsonb value). `object` must be a JSON object without `name`.
pub fn with_json_text_field(object: &Value, name: &str, value_json: &str) -> String {
    let rest = object.to_string();
    let mut out = String::with_capacity(rest.len() + name.len() + value_json.len() + 4);
    out.push('{');
    out.push_str(&Value::from(name).to_string());
    out.push(':');
    out.push_str(value_json);
    match rest.strip_prefix('{') {
        Some("}") | None => out.push('}'),
        Some(fields) => {
            out.push(',');
            out.push_str(fields);
        }
    }
    out
}

/// `limit` (1–100, default 50) and `offset` (≥ 0, default 0), answered as
/// `pagination: {limit, offset, total}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetRequest {
    pub limit: i64,
    pub offset: i64,
}

impl OffsetRequest {
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let mut issues = Issues::default();
        let limit = parse_bounded(&mut issues, query, "limit", PageRequest::DEFAULT_LIMIT, 1, PageRequest::MAX_LIMIT);
        let offset = parse_bounded(&mut issues, query, "offset", 0, 0, i64::from(i32::MAX));
        issues.into_result().map_err(ApiError::validation)?;
        Ok(Self { limit, offset })
    }

    /// `pagination: {limit, offset, total}` merged into `body`.
    pub fn wrap(&self, mut body: Value, total: i64) -> Value {
        body["pagination"] = json!({ "limit": self.limit, "offset": self.offset, "total": total });
        body
    }
}

fn parse_bounded(issues: &mut Issues, query: &HashMap<String, String>, name: &str, default: i64, min: i64, max: i64) -> i64 {
    match query.get(name) {
        None => default,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            Ok(_) if max == i64::from(i32::MAX) => {
                issues.push(name, format!("must be an integer >= {min}"));
                default
            }
            Ok(_) => {
                issues.push(name, format!("must be an integer between {min} and {max}"));
                default
            }
            Err(_) => {
                issues.push(name, "must be an integer");
                default
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_text_page_is_the_same_document_as_a_parsed_one() {
        let page = PageRequest { page: 2, limit: 2 };
        let items = r#"[{"id": "a", "n": 1}, {"id": "b", "n": "x\"y"}]"#;
        let text = page.wrap_text("items", items, json!({ "totalIsEstimate": false }), 3);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let expected = page.wrap(json!({ "items": serde_json::from_str::<Value>(items).unwrap(), "totalIsEstimate": false }), 3);
        assert_eq!(parsed, expected);
        assert_eq!(with_json_text_field(&json!({}), "a\"b", "[]"), r#"{"a\"b":[]}"#);
    }

    #[test]
    fn defaults_and_offsets() {
        let p = PageRequest::from_query(&q(&[])).unwrap();
        assert_eq!((p.page, p.limit, p.offset()), (1, 50, 0));
        let p = PageRequest::from_query(&q(&[("page", "3"), ("limit", "10")])).unwrap();
        assert_eq!(p.offset(), 20);
    }

    #[test]
    fn out_of_range_or_non_numeric_is_400() {
        for (k, v) in [("page", "0"), ("limit", "0"), ("limit", "101"), ("page", "x"), ("limit", "1.5")] {
            assert!(PageRequest::from_query(&q(&[(k, v)])).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn total_pages_rounds_up_and_is_zero_when_empty() {
        let p = PageRequest { page: 1, limit: 10 };
        assert_eq!(p.wrap(json!({}), 21)["totalPages"], 3);
        assert_eq!(p.wrap(json!({}), 0)["totalPages"], 0);
    }
}
