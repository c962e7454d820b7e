//! How list endpoints filter: one style for every list (docs/architecture.md, "Lists").
//!
//! A WHERE clause holds only the filters a request actually uses. Each combination is its own
//! prepared statement, so PostgreSQL plans it with the indexes that fit (a generic plan of
//! `($1 IS NULL OR col = $1)` for every optional filter would scan whole tables). Pages are
//! `page`/`limit` ([`sentinel_http::pagination::PageRequest`]).

use sentinel_http::SqlParam;

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

    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!("WHERE {}", self.clauses.join(" AND ")) }
    }
}

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
}
