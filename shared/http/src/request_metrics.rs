//! Request counts and latencies that add up across instances and replicas (docs/architecture.md,
//! "Metrics"). A fresh instance serves every request, so nothing is counted in memory: after the
//! response has been sent, the adapter adds the request to one Redis hash shared by every component
//! and replica (one `EVAL`, off the request's latency). `/metrics` reads the hash back and renders
//! it as `http_requests_total` and the `http_request_duration_seconds` histogram, labelled by
//! method, route template and status class.
//!
//! Each request increments two fields: its latency bucket (per-bucket counts; the cumulative `le`
//! series are summed at scrape time) and the latency sum in microseconds. The request count is the
//! sum of the buckets.

use http::Method;

/// The Redis hash holding every series.
pub const KEY: &str = "sentinel:metrics:http";

/// Upper bounds of the latency buckets in seconds (Prometheus' defaults); a last, implicit `+Inf`.
pub const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One served request, as the metrics see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub method: &'static str,
    /// The matched route template (`/api/members/:id`), `-` when nothing matched, `*` for CORS preflights.
    pub route: &'static str,
    pub status: u16,
    pub micros: u64,
}

/// Where observations go and are read back from (Redis in production).
pub trait RequestMetrics {
    /// Adds one request. Never fails the request: an unreachable store is logged.
    fn record(&self, observation: &Observation);
    /// Every field of the hash with its value.
    fn read(&self) -> Result<Vec<(String, u64)>, String>;
}

/// The method as a label: the standard ones by name, anything else `OTHER` (bounded cardinality).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

impl Observation {
    /// `2xx`, `4xx`, …
    pub fn status_class(&self) -> &'static str {
        match self.status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        }
    }

    /// Index of the latency bucket (`BUCKETS.len()` is `+Inf`).
    pub fn bucket(&self) -> usize {
        let seconds = self.micros as f64 / 1e6;
        BUCKETS.iter().position(|le| seconds <= *le).unwrap_or(BUCKETS.len())
    }

    /// The two hash fields this request increments: `(bucket field, sum field)`.
    pub fn fields(&self) -> (String, String) {
        let series = format!("{} {} {}", self.method, self.route, self.status_class());
        (format!("{series} {}", self.bucket()), format!("{series} sum"))
    }
}

/// One series read back: method, route, status class, per-bucket counts, latency sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub method: String,
    pub route: String,
    pub status: String,
    /// Requests per bucket (not cumulative); the last is `+Inf`.
    pub buckets: [u64; BUCKETS.len() + 1],
    pub sum_micros: u64,
}

impl Series {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// Groups the hash's fields into series, ordered by route, method and status. Unknown fields are skipped.
pub fn series(fields: &[(String, u64)]) -> Vec<Series> {
    let mut out: std::collections::BTreeMap<(String, String, String), Series> = Default::default();
    for (field, value) in fields {
        let mut parts = field.rsplitn(4, ' ');
        let (Some(slot), Some(status), Some(route), Some(method)) = (parts.next(), parts.next(), parts.next(), parts.next()) else { continue };
        let entry = out.entry((route.to_string(), method.to_string(), status.to_string())).or_insert_with(|| Series {
            method: method.to_string(),
            route: route.to_string(),
            status: status.to_string(),
            buckets: [0; BUCKETS.len() + 1],
            sum_micros: 0,
        });
        match slot {
            "sum" => entry.sum_micros += value,
            index => match index.parse::<usize>() {
                Ok(i) if i <= BUCKETS.len() => entry.buckets[i] += value,
                _ => continue,
            },
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_names_its_bucket_and_sum() {
        let o = Observation { method: "POST", route: "/api/checkins/scan", status: 201, micros: 3_800 };
        assert_eq!(o.bucket(), 0);
        assert_eq!(o.fields(), ("POST /api/checkins/scan 2xx 0".into(), "POST /api/checkins/scan 2xx sum".into()));
        assert_eq!(Observation { micros: 5_001, ..o.clone() }.bucket(), 1);
        assert_eq!(Observation { micros: 60_000_000, status: 500, ..o.clone() }.bucket(), BUCKETS.len());
        assert_eq!(Observation { status: 404, ..o }.status_class(), "4xx");
        assert_eq!(method_label(&Method::from_bytes(b"PROPFIND").unwrap()), "OTHER");
    }

    #[test]
    fn fields_group_into_series() {
        let fields = vec![
            ("GET /api/members/:id 2xx 0".to_string(), 3),
            ("GET /api/members/:id 2xx 11".to_string(), 1),
            ("GET /api/members/:id 2xx sum".to_string(), 70_000_000),
            ("GET - 4xx 2".to_string(), 2),
            ("garbage".to_string(), 9),
            ("GET - 4xx 99".to_string(), 9),
        ];
        let s = series(&fields);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].route.as_str(), s[0].count()), ("-", 2));
        assert_eq!((s[1].route.as_str(), s[1].count(), s[1].sum_micros), ("/api/members/:id", 4, 70_000_000));
        assert_eq!(s[1].buckets[BUCKETS.len()], 1);
    }
}
