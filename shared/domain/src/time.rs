//! Instants in the API's wire format: ISO-8601 UTC with milliseconds.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

pub fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_iso() -> String {
    format_instant(Utc::now())
}

/// An instant the API accepts and PostgreSQL's `timestamptz` stores: parsed from ISO-8601 (any
/// offset) or a `YYYY-MM-DD` date (midnight UTC), and only within [`Instant::MIN`]..=[`Instant::MAX`]
/// — the years 1–9999 in UTC. PostgreSQL has no year 0 (it would answer a 500 `DATABASE_ERROR`), and
/// [`format_instant`] writes four-digit years, so this is the range both sides round-trip.
/// Every query-string and body instant of the API is parsed through this type (docs/api.md, "Instants").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(DateTime<Utc>);

/// Why a string is not an [`Instant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstantError {
    /// Not an ISO-8601 instant or a `YYYY-MM-DD` date.
    Malformed,
    /// A well-formed instant outside the years 1–9999 (UTC).
    OutOfRange,
}

impl InstantError {
    pub fn message(self) -> &'static str {
        match self {
            InstantError::Malformed => "must be an ISO-8601 timestamp",
            InstantError::OutOfRange => "must be an ISO-8601 timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z",
        }
    }
}

impl std::fmt::Display for InstantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl Instant {
    /// The first instant accepted: `0001-01-01T00:00:00Z`.
    pub const MIN_YEAR: i32 = 1;
    /// The last year accepted (UTC): up to `9999-12-31T23:59:59.999Z`.
    pub const MAX_YEAR: i32 = 9999;

    pub fn parse(s: &str) -> Result<Self, InstantError> {
        let parsed = match DateTime::parse_from_rfc3339(s) {
            Ok(t) => t.with_timezone(&Utc),
            Err(_) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| InstantError::Malformed)?
                .and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc(),
        };
        Self::new(parsed)
    }

    /// `t` when it lies within the accepted range.
    pub fn new(t: DateTime<Utc>) -> Result<Self, InstantError> {
        if (Self::MIN_YEAR..=Self::MAX_YEAR).contains(&t.year()) {
            Ok(Self(t))
        } else {
            Err(InstantError::OutOfRange)
        }
    }

    pub fn utc(self) -> DateTime<Utc> {
        self.0
    }

    /// The wire form: ISO-8601 UTC with milliseconds ([`format_instant`]).
    pub fn iso(self) -> String {
        format_instant(self.0)
    }
}

/// [`Instant::parse`] as a `DateTime`: `None` for malformed or out-of-range input.
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    Instant::parse(s).ok().map(Instant::utc)
}

/// A date field (event dates, access windows): a `YYYY-MM-DD` date, or an ISO timestamp whose UTC
/// calendar day is taken; years 1–9999 as for [`parse_instant`].
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    parse_instant(s).map(|t| t.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_dates_or_instants() {
        assert_eq!(parse_date("2026-06-01").unwrap().to_string(), "2026-06-01");
        assert_eq!(parse_date("2026-06-01T23:30:00-05:00").unwrap().to_string(), "2026-06-02");
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("").is_none());
    }

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
        assert_eq!(Instant::parse("0000-01-01"), Err(InstantError::OutOfRange));
        assert_eq!(Instant::parse("10000-01-01T00:00:00Z"), Err(InstantError::Malformed));
        assert_eq!(Instant::parse("yesterday"), Err(InstantError::Malformed));
        assert_eq!(Instant::parse("9999-12-31T23:59:59.999Z").unwrap().iso(), "9999-12-31T23:59:59.999Z");
    }
}

/// The unit's operational day: the local calendar day in `zone`, shifted so that a duty night
/// running past midnight stays on the day it started until `rollover` local time. The rule itself
/// is the SQL function `operational_date(at, zone, rollover)` (migrations/functions/00_helpers.sql);
/// this type carries the `unit_timezone` and `day_rollover` settings to it, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationalDay {
    /// An IANA zone name, e.g. `America/Winnipeg` (PostgreSQL resolves it).
    pub zone: String,
    /// Minutes after local midnight at which the day rolls over (0–1439).
    pub rollover_minutes: u32,
}

impl OperationalDay {
    pub const DEFAULT_ZONE: &'static str = "America/Winnipeg";
    pub const DEFAULT_ROLLOVER: &'static str = "03:00";

    /// From the `unit_timezone` and `day_rollover` settings (`HH:MM`, 24-hour); absent → default.
    pub fn parse(zone: Option<&str>, rollover: Option<&str>) -> Result<Self, String> {
        let zone = zone.map(str::trim).filter(|z| !z.is_empty()).unwrap_or(Self::DEFAULT_ZONE);
        let valid_zone = zone.len() <= 64
            && zone.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && zone.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
        if !valid_zone {
            return Err(format!("unit_timezone {zone:?} is not an IANA zone name"));
        }
        let rollover = rollover.map(str::trim).filter(|r| !r.is_empty()).unwrap_or(Self::DEFAULT_ROLLOVER);
        let minutes = rollover
            .split_once(':')
            .filter(|(h, m)| h.len() == 2 && m.len() == 2)
            .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
            .filter(|(h, m)| *h < 24 && *m < 60)
            .map(|(h, m)| h * 60 + m)
            .ok_or_else(|| format!("day_rollover {rollover:?} is not a time of day as HH:MM"))?;
        Ok(Self { zone: zone.to_string(), rollover_minutes: minutes })
    }

    /// The rollover as a PostgreSQL interval literal (`03:00`), for `$n::text::interval`.
    pub fn rollover_interval(&self) -> String {
        format!("{:02}:{:02}", self.rollover_minutes / 60, self.rollover_minutes % 60)
    }
}

impl Default for OperationalDay {
    fn default() -> Self {
        Self::parse(None, None).expect("the defaults are valid")
    }
}

#[cfg(test)]
mod operational_day_tests {
    use super::OperationalDay;

    #[test]
    fn settings_parse_with_defaults() {
        let d = OperationalDay::default();
        assert_eq!((d.zone.as_str(), d.rollover_interval()), ("America/Winnipeg", "03:00".to_string()));
        let d = OperationalDay::parse(Some("Europe/London"), Some("04:30")).unwrap();
        assert_eq!((d.rollover_minutes, d.rollover_interval()), (270, "04:30".to_string()));
        assert_eq!(OperationalDay::parse(Some("Etc/GMT+12"), Some("00:00")).unwrap().rollover_minutes, 0);
        for bad in ["3:00", "24:00", "03:60", "0300", "ab:cd"] {
            assert!(OperationalDay::parse(None, Some(bad)).is_err(), "{bad}");
        }
        for bad in ["'; DROP", "/etc", "Zone With Space"] {
            assert!(OperationalDay::parse(Some(bad), None).is_err(), "{bad}");
        }
    }
}
