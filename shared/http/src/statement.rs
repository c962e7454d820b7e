//! Shapes of SQL statement text that the database port relies on.
//!
//! **Never-empty queries.** Spin 4.0.0–4.0.2 never return from a `spin:postgres` `query` whose
//! statement yields no row (docs/spin.md, "The zero-row deadlock"). [`never_empty`] rewrites any
//! row-returning statement — a plain `SELECT`, `INSERT … RETURNING`, or a statement with its own
//! (data-modifying) `WITH` list — so that it yields at least one row by construction: its rows,
//! each tagged with a trailing marker column, or else exactly one filler row whose marker is NULL.
//! [`drop_filler`] removes the marker column and the filler again, so callers see exactly the
//! rows of the original statement, in its order.

/// The marker column appended by [`never_empty`]; NULL only on the filler row.
pub const MARKER_COLUMN: &str = "sentinel_row_present";

/// `statement` rewritten to return at least one row (see the module docs).
///
/// The original statement becomes a materialised CTE (appended to its own `WITH` list when it has
/// one, since data-modifying CTEs cannot be nested), left-joined onto a one-row relation. The CTE's
/// rows are numbered in the order the statement produced them and emitted in that order.
pub fn never_empty(statement: &str) -> String {
    let statement = statement.trim().trim_end_matches(';').trim_end();
    let (with_list, body) = match with_list_end(statement) {
        Some(end) => {
            let (ctes, body) = statement.split_at(end);
            (format!("{ctes},"), body.trim_start())
        }
        None => ("WITH".to_string(), statement),
    };
    format!(
        "{with_list} sentinel_result AS MATERIALIZED ({body}) \
         SELECT sentinel_rows.* FROM (VALUES (1)) AS sentinel_one (one) \
         LEFT JOIN (SELECT sentinel_result.*, true AS {MARKER_COLUMN}, \
         row_number() OVER () AS sentinel_row_number FROM sentinel_result) AS sentinel_rows ON true \
         ORDER BY sentinel_rows.sentinel_row_number"
    )
}

/// Undoes [`never_empty`] on a result: drops the two trailing helper columns from `columns` and
/// from every row, and drops the filler row (the one whose marker is null per `is_null`).
pub fn drop_filler<V>(columns: &mut Vec<String>, rows: &mut Vec<Vec<V>>, is_null: impl Fn(&V) -> bool) {
    let Some(marker) = columns.iter().position(|c| c == MARKER_COLUMN) else { return };
    columns.truncate(marker);
    rows.retain(|row| row.get(marker).is_some_and(|v| !is_null(v)));
    for row in rows.iter_mut() {
        row.truncate(marker);
    }
}

/// For a statement that starts with a `WITH` list (`WITH [RECURSIVE] a AS (…), b (x) AS (…) <body>`):
/// the byte offset just after the last CTE's closing parenthesis. `None` when the statement does not
/// start with `WITH`. Quotes, comments and dollar-quoted strings are skipped.
pub fn with_list_end(statement: &str) -> Option<usize> {
    let bytes = statement.as_bytes();
    let start = skip_blank(bytes, 0);
    if !word_at(bytes, start, "with") {
        return None;
    }
    let mut depth = 0usize;
    let mut i = start + 4;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => i = end_of_quoted(bytes, i),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = end_of_block_comment(bytes, i),
            b'$' => i = end_of_dollar_quoted(bytes, i),
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let next = skip_blank(bytes, i + 1);
                    // `)` then `,` (next CTE) or `AS` (after a column list) stays inside the list.
                    if bytes.get(next) != Some(&b',') && !word_at(bytes, next, "as") {
                        return Some(i + 1);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn word_at(bytes: &[u8], at: usize, word: &str) -> bool {
    bytes.len() >= at + word.len()
        && bytes[at..at + word.len()].eq_ignore_ascii_case(word.as_bytes())
        && bytes.get(at + word.len()).is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
}

/// First byte at or after `i` that is neither white space nor inside a comment.
fn skip_blank(bytes: &[u8], mut i: usize) -> usize {
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) == Some(&b'-') && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes.get(i) == Some(&b'/') && bytes.get(i + 1) == Some(&b'*') {
            i = end_of_block_comment(bytes, i) + 1;
        } else {
            return i;
        }
    }
}

/// Index of the closing quote of a `'…'` or `"…"` starting at `i` (doubled quotes stay inside).
fn end_of_quoted(bytes: &[u8], i: usize) -> usize {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() {
        if bytes[j] == quote {
            if bytes.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return j;
        }
        j += 1;
    }
    bytes.len()
}

/// Index of the `/` closing a (nestable) block comment starting at `i`.
fn end_of_block_comment(bytes: &[u8], i: usize) -> usize {
    let (mut depth, mut j) = (0usize, i);
    while j + 1 < bytes.len() {
        if bytes[j] == b'/' && bytes[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else if bytes[j] == b'*' && bytes[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j - 1;
            }
        } else {
            j += 1;
        }
    }
    bytes.len()
}

/// For `$tag$…$tag$` starting at `i`: the index of the closing tag's last `$`; for a parameter
/// (`$1`) or a lone `$`: `i` itself.
fn end_of_dollar_quoted(bytes: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
        j += 1;
    }
    if bytes.get(j) != Some(&b'$') || bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return i;
    }
    let tag = &bytes[i..=j];
    let mut k = j + 1;
    while k + tag.len() <= bytes.len() {
        if &bytes[k..k + tag.len()] == tag {
            return k + tag.len() - 1;
        }
        k += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_statement_becomes_the_only_cte() {
        let s = never_empty("SELECT id FROM members WHERE id = $1::text::uuid;");
        assert!(s.starts_with("WITH sentinel_result AS MATERIALIZED (SELECT id FROM members WHERE id = $1::text::uuid) SELECT"));
    }

    #[test]
    fn a_statement_with_its_own_with_list_gets_the_cte_appended() {
        let sql = "WITH a AS (SELECT 1), b (x) AS (UPDATE t SET y = ')' RETURNING x) INSERT INTO u SELECT x FROM b RETURNING *";
        let end = with_list_end(sql).unwrap();
        assert_eq!(&sql[..end], "WITH a AS (SELECT 1), b (x) AS (UPDATE t SET y = ')' RETURNING x)");
        let s = never_empty(sql);
        assert!(s.starts_with("WITH a AS (SELECT 1), b (x) AS (UPDATE t SET y = ')' RETURNING x), sentinel_result AS MATERIALIZED (INSERT INTO u"));
    }

    #[test]
    fn the_with_list_scan_skips_comments_quotes_and_dollar_strings() {
        let sql = "-- lead\n /* c ( */ WITH RECURSIVE a AS (SELECT $$)$$, 'it''s )', \"q)\" -- )\n /* ) */ ), b AS NOT MATERIALIZED (SELECT $1) SELECT 1";
        let end = with_list_end(sql).unwrap();
        assert!(sql[..end].ends_with("b AS NOT MATERIALIZED (SELECT $1)"), "{}", &sql[..end]);
        assert_eq!(with_list_end("SELECT 1"), None);
        assert_eq!(with_list_end("WITHOUT_TABLE"), None);
    }

    #[test]
    fn filler_and_marker_are_dropped() {
        let mut columns = vec!["id".to_string(), MARKER_COLUMN.to_string(), "sentinel_row_number".to_string()];
        let mut rows: Vec<Vec<Option<bool>>> = vec![vec![None, None, None]];
        drop_filler(&mut columns, &mut rows, Option::is_none);
        assert_eq!(columns, vec!["id".to_string()]);
        assert!(rows.is_empty());

        let mut columns = vec!["id".to_string(), MARKER_COLUMN.to_string(), "sentinel_row_number".to_string()];
        let mut rows = vec![vec![None, Some(true), Some(true)], vec![Some(true), Some(true), Some(true)]];
        drop_filler(&mut columns, &mut rows, Option::is_none);
        assert_eq!(rows, vec![vec![None], vec![Some(true)]], "a real row of nulls is kept");
    }
}
