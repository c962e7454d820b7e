//! How list endpoints filter: one style for every list (docs/architecture.md, "Lists").
//!
//! A WHERE clause holds only the filters a request actually uses. Each combination is its own
//! prepared statement, so PostgreSQL plans it with the indexes that fit (a generic plan of
//! `($1 IS NULL OR col = $1)` for every optional filter would scan whole tables). Pages are
//! `page`/`limit` ([`sentinel_http::pagination::PageRequest`]).
//!
//! Lists over tables that grow without bound (check-ins, the audit log, visits) keep their `total`
//! cheap with [`Where::total_from`]; lists bounded by the unit's size (members, badges) count exactly.

use sentinel_http::db::Row;
use sentinel_http::pagination::PageRequest;
use sentinel_http::{ok_json_text, HandlerResult, SqlParam};
use serde_json::json;

#[derive(Default)]
pub struct Where {
    clauses: Vec<String>,
    pub params: Vec<SqlParam>,
}

impl Where {
    /// Adds `clause`, each of whose `{}` becomes the next parameter placeholder.
    pub fn bind(&mut self, clause: &str, value: impl Into<SqlParam>) {
        self.params.push(value.into());
        self.clauses.push(clause.replace("{}", &format!("${}", self.params.len())));
    }

    /// Adds `clause` with `value` when the request gave one.
    pub fn bind_some<T: Into<SqlParam>>(&mut self, clause: &str, value: Option<T>) {
        if let Some(v) = value {
            self.bind(clause, v);
        }
    }

    /// Adds a clause without a parameter.
    pub fn when(&mut self, clause: &str) {
        self.clauses.push(clause.to_string());
    }

    /// Binds one more parameter (LIMIT, OFFSET…) and returns its placeholder.
    pub fn placeholder(&mut self, value: impl Into<SqlParam>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// `LIMIT n` or `LIMIT n OFFSET $k` for `page`. The page size (validated 1–100) is a literal and the
    /// first page has no OFFSET, so a first page's statement has no paging parameters: PostgreSQL keeps
    /// one plan for it per connection instead of planning it again for every request, which it does
    /// for `LIMIT $n` (the generic plan, costed for an unknown limit, never wins). Docs/architecture.md, "Lists".
    pub fn page(&mut self, page: PageRequest) -> String {
        let limit = page.limit.clamp(1, PageRequest::MAX_LIMIT);
        match page.offset() {
            0 => format!("LIMIT {limit}"),
            offset => format!("LIMIT {limit} OFFSET {}", self.placeholder(offset)),
        }
    }

    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!("WHERE {}", self.clauses.join(" AND ")) }
    }

    /// A FROM item named `total` with one row `(total bigint, total_is_estimate boolean)` for the rows
    /// of `from` (`"checkins c"`, over `table`) that this WHERE selects: counted exactly up to
    /// [`EXACT_TOTAL_UP_TO`] (the count stops there); past it, an unfiltered list takes the table's
    /// size as the planner estimates it (`table_row_estimate`, flagged as an estimate) and a filtered
    /// one counts exactly. Call it before binding LIMIT and OFFSET: it uses the filter's parameters.
    pub fn total_from(&self, table: &str, from: &str) -> String {
        let (filter, cap) = (self.where_sql(), EXACT_TOTAL_UP_TO);
        let unfiltered = self.clauses.is_empty();
        let beyond = if unfiltered {
            format!("greatest(table_row_estimate('{table}'), {cap} + 1)")
        } else {
            format!("(SELECT count(*) FROM {from} {filter})")
        };
        format!(
            "(SELECT CASE WHEN capped.n <= {cap} THEN capped.n ELSE {beyond} END AS total, capped.n > {cap} AND {unfiltered} AS total_is_estimate
              FROM (SELECT count(*) AS n FROM (SELECT 1 FROM {from} {filter} LIMIT {cap} + 1) s) capped) total"
        )
    }
}

/// The statement of one page of a list over a table that grows without bound: one row of `total` and
/// `total_is_estimate` ([`Where::total_from`] over `from`, rows of `table`), the `extra` columns
/// (`"<expr> AS name, "`, or empty) and `items`, the page as JSON text. `page_items(filter, window)`
/// is a sub-select yielding the page as a jsonb array, given this WHERE clause and the page's
/// LIMIT/OFFSET ([`Where::page`]). Send it with `query_row` and answer with [`page_reply`].
pub fn page_statement(w: &mut Where, table: &str, from: &str, page: PageRequest, extra: &str, page_items: impl FnOnce(&str, &str) -> String) -> String {
    let (filter, total) = (w.where_sql(), w.total_from(table, from));
    let window = w.page(page);
    let items = page_items(&filter, &window);
    format!("SELECT total.total, total.total_is_estimate, {extra}({items})::text AS items FROM {total}")
}

/// The response to a [`page_statement`] row: the items under `field` (passed through as text),
/// `totalIsEstimate` and the paging fields.
pub fn page_reply(row: &Row, page: PageRequest, field: &str) -> HandlerResult {
    let items = row.text("items").unwrap_or_else(|| "[]".to_string());
    ok_json_text(page.wrap_text(field, &items, json!({ "totalIsEstimate": row.bool("total_is_estimate") }), row.int("total")))
}

/// See [`Where::total_from`] (docs/architecture.md, "Lists").
pub const EXACT_TOTAL_UP_TO: i64 = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_used_filters_reach_the_statement() {
        let mut w = Where::default();
        w.bind_some("a = {}", None::<String>);
        w.bind("b = {}", "x");
        w.when("c");
        let limit = w.placeholder(5i64);
        assert_eq!(w.where_sql(), "WHERE b = $1 AND c");
        assert_eq!(limit, "$2");
        assert_eq!(Where::default().where_sql(), "");
    }

    #[test]
    fn only_later_pages_bind_an_offset() {
        let mut w = Where::default();
        w.bind("a = {}", "x");
        assert_eq!(w.page(PageRequest { page: 1, limit: 50 }), "LIMIT 50");
        assert_eq!(w.page(PageRequest { page: 3, limit: 20 }), "LIMIT 20 OFFSET $2");
        assert_eq!(w.params, vec![SqlParam::from("x"), SqlParam::Int64(40)]);
    }

    #[test]
    fn only_an_unfiltered_total_is_estimated() {
        let unfiltered = Where::default().total_from("checkins", "checkins c");
        assert!(unfiltered.contains("table_row_estimate('checkins')") && unfiltered.contains("AND true AS total_is_estimate"));
        let mut w = Where::default();
        w.bind("c.direction = {}", "in");
        let filtered = w.total_from("checkins", "checkins c");
        assert!(!filtered.contains("table_row_estimate") && filtered.contains("AND false AS total_is_estimate"));
        assert!(filtered.contains("(SELECT count(*) FROM checkins c WHERE c.direction = $1)"));
    }
}
