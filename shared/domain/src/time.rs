//! Instants in the API's wire format: ISO-8601 UTC with milliseconds.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

pub fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_iso() -> String {
    format_instant(Utc::now())
}

/// Parses an ISO timestamp (any offset) or a `YYYY-MM-DD` date (midnight UTC),
/// as api.md §0.1 accepts for date fields.
/// Only instants of the years 1–9999 (UTC) are accepted: PostgreSQL has no year 0, and
/// [`format_instant`] writes four-digit years.
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let parsed = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
    };
    parsed.filter(|t| (1..=9999).contains(&t.year()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        let t = parse_instant("2026-01-23T11:56:39.5-05:00").unwrap();
        assert_eq!(format_instant(t), "2026-01-23T16:56:39.500Z");
    }

    #[test]
    fn dates_are_midnight_utc() {
        assert_eq!(format_instant(parse_instant("2026-06-01").unwrap()), "2026-06-01T00:00:00.000Z");
        assert!(parse_instant("2026-13-01").is_none());
        assert!(parse_instant("yesterday").is_none());
    }

    #[test]
    fn only_years_1_to_9999_in_utc() {
        assert!(parse_instant("0000-01-01").is_none());
        assert!(parse_instant("0001-01-01T00:00:00+01:00").is_none(), "year 0 in UTC");
        assert!(parse_instant("9999-12-31T23:00:00-05:00").is_none(), "year 10000 in UTC");
        assert_eq!(format_instant(parse_instant("0001-01-01T00:00:00Z").unwrap()), "0001-01-01T00:00:00.000Z");
    }
}
