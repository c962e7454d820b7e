//! Check-ins and scans: the direction decision, the
//! duplicate-scan window, the scan timestamp window and the offline-sync plan.
//! The database applies the same rules atomically (migrations V6); these are
//! their executable definition, unit- and property-tested natively.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    /// Case-insensitive (`IN`, `in`, `In`), as the check-in endpoints accept.
    pub fn parse(s: &str) -> Option<Direction> {
        match s.trim().to_ascii_lowercase().as_str() {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

// The scan's direction rule (the opposite of the member's latest check-in, `in` first) and its
// duplicate window (2 s either side) run inside the database, in `scan_badge` and `record_checkin`
// (migrations/functions/60_checkins.sql; docs/architecture.md, "Where each rule lives").

/// How far a kiosk clock may run ahead, and how old a scan may be.
pub const MAX_FUTURE: Duration = Duration::seconds(60);
pub const MAX_AGE: Duration = Duration::days(7);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampProblem {
    InFuture,
    TooOld,
}

impl TimestampProblem {
    pub fn message(self) -> &'static str {
        match self {
            TimestampProblem::InFuture => "timestamp is more than 60 seconds in the future",
            TimestampProblem::TooOld => "timestamp is older than 7 days",
        }
    }
}

pub fn check_scan_timestamp(ts: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), TimestampProblem> {
    if ts - now > MAX_FUTURE {
        Err(TimestampProblem::InFuture)
    } else if now - ts > MAX_AGE {
        Err(TimestampProblem::TooOld)
    } else {
        Ok(())
    }
}

/// Offline sync: clocks further apart than this flag the check-in.
pub const CLOCK_DRIFT_LIMIT: Duration = Duration::minutes(5);
/// Repeated scans of one serial at one kiosk within this window collapse into the earliest.
pub const SYNC_COLLAPSE_WINDOW: Duration = Duration::seconds(5);

/// `Clock drift: <n> minute(s)` when the kiosk clock (epoch ms at upload) is off by more than 5 minutes.
pub fn clock_drift_reason(local_epoch_ms: Option<i64>, now: DateTime<Utc>) -> Option<String> {
    let local = DateTime::<Utc>::from_timestamp_millis(local_epoch_ms?)?;
    let drift = (now - local).abs();
    (drift > CLOCK_DRIFT_LIMIT).then(|| format!("Clock drift: {} minute(s)", drift.num_minutes()))
}

/// One offline item as uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncItem {
    pub serial: String,
    pub timestamp: DateTime<Utc>,
}

/// How each item is processed: in `order` (indices into the upload, ascending timestamp, stable), and
/// `collapsed_into[i]` = the earlier item that item `i` repeats (same normalised serial within 5 s).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPlan {
    pub order: Vec<usize>,
    pub collapsed_into: Vec<Option<usize>>,
}

pub fn plan_sync(items: &[SyncItem]) -> SyncPlan {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (items[i].timestamp, i));
    let mut collapsed_into = vec![None; items.len()];
    // The earliest kept scan of each serial; a repeat within the window of it collapses into it.
    let mut kept: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for &i in &order {
        let serial = crate::badge::normalize_serial(&items[i].serial);
        match kept.get(&serial) {
            Some(&k) if items[i].timestamp - items[k].timestamp <= SYNC_COLLAPSE_WINDOW => collapsed_into[i] = Some(k),
            _ => {
                kept.insert(serial, i);
            }
        }
    }
    SyncPlan { order, collapsed_into }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(1_760_000_000_000 + ms).unwrap()
    }

    #[test]
    fn directions_parse_case_insensitively() {
        assert_eq!(Direction::parse("IN"), Some(Direction::In));
        assert_eq!(Direction::parse("Out"), Some(Direction::Out));
        assert_eq!(Direction::parse("sideways"), None);
    }

    #[test]
    fn timestamp_window() {
        let now = t(0);
        assert_eq!(check_scan_timestamp(t(60_000), now), Ok(()));
        assert_eq!(check_scan_timestamp(t(60_001), now), Err(TimestampProblem::InFuture));
        assert_eq!(check_scan_timestamp(now - MAX_AGE, now), Ok(()));
        assert_eq!(check_scan_timestamp(now - MAX_AGE - Duration::milliseconds(1), now), Err(TimestampProblem::TooOld));
    }

    #[test]
    fn clock_drift_is_reported_in_whole_minutes() {
        let now = t(0);
        assert_eq!(clock_drift_reason(Some(now.timestamp_millis() - 7 * 60_000 - 5), now).as_deref(), Some("Clock drift: 7 minute(s)"));
        assert_eq!(clock_drift_reason(Some(now.timestamp_millis() + 5 * 60_000), now), None);
        assert_eq!(clock_drift_reason(None, now), None);
    }

    #[test]
    fn sync_sorts_and_collapses_repeats_into_the_earliest() {
        let items = vec![
            SyncItem { serial: "b".into(), timestamp: t(10_000) },
            SyncItem { serial: "a".into(), timestamp: t(0) },
            SyncItem { serial: " A ".into(), timestamp: t(4_000) },
            SyncItem { serial: "a".into(), timestamp: t(9_500) },
        ];
        let plan = plan_sync(&items);
        assert_eq!(plan.order, vec![1, 2, 3, 0]);
        assert_eq!(plan.collapsed_into, vec![None, None, Some(1), None]);
    }

    proptest! {
        /// The sync plan is a permutation in timestamp order; collapsed items point at an earlier kept
        /// item of the same serial within 5 s.
        #[test]
        fn sync_plan_is_ordered_and_collapses_correctly(raw in proptest::collection::vec((0u8..4, 0i64..30_000), 0..60)) {
            let items: Vec<SyncItem> = raw.iter().map(|(s, ms)| SyncItem { serial: format!("s{s}"), timestamp: t(*ms) }).collect();
            let plan = plan_sync(&items);
            let mut sorted = plan.order.clone();
            sorted.sort();
            prop_assert_eq!(sorted, (0..items.len()).collect::<Vec<_>>());
            for w in plan.order.windows(2) {
                prop_assert!(items[w[0]].timestamp <= items[w[1]].timestamp);
            }
            for (i, target) in plan.collapsed_into.iter().enumerate() {
                if let Some(k) = target {
                    prop_assert!(plan.collapsed_into[*k].is_none());
                    prop_assert_eq!(&items[*k].serial, &items[i].serial);
                    let gap = items[i].timestamp - items[*k].timestamp;
                    prop_assert!(gap >= Duration::zero() && gap <= SYNC_COLLAPSE_WINDOW);
                }
            }
        }

        #[test]
        fn direction_parse_never_panics(s in ".{0,20}") {
            let parsed = Direction::parse(&s);
            prop_assert_eq!(parsed.is_some(), ["in", "out"].contains(&s.trim().to_ascii_lowercase().as_str()));
        }
    }
}
