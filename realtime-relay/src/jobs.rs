//! Scheduled checks: the daily reset at the day rollover, the 22:00 lockup reminder and the 23:00
//! overdue alert (the rules are the SQL function `run_scheduled_jobs`; docs/database.md, "Scheduled
//! jobs"). Spin has no cron trigger on SpinKube, so every relay replica ticks; a Redis lease lets one
//! replica run each tick, and the per-day job rows in PostgreSQL make each job run once however many
//! replicas or operators (`sentinel jobs run`) trigger it. The events a run produces are written to the
//! outbox by its transaction, like a component's.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::hub::RedisHandle;
use crate::pg::Pg;

const LEASE_KEY: &str = "sentinel:jobs:lease";

/// What a run did (its events are in the outbox, written by the same transaction).
#[derive(Debug, Deserialize)]
struct Run {
    ran: Vec<Value>,
}

/// Runs every job due at `at` once and returns `{ at, ran: [...] }`.
pub async fn run_due(pg: &Pg, at: DateTime<Utc>, day: &sentinel_domain::time::OperationalDay) -> anyhow::Result<Value> {
    let at_text = sentinel_domain::time::format_instant(at);
    let params = [at_text.as_str().into(), day.zone.as_str().into(), day.rollover_interval().into()];
    let sql = "SELECT run_scheduled_jobs($1::text::timestamptz, $2::text, $3::text::interval) AS r";
    let result = pg.run(move |db| db.query_row(sql, &params).map(|row| row.json("r"))).await?;
    let run: Run = serde_json::from_value(result).context("run_scheduled_jobs: result does not decode")?;
    Ok(json!({ "at": at_text, "ran": run.ran }))
}

/// `sentinel jobs run`: what is due at `at` (default now), once, from outside the relay; then appends the
/// outbox (`published`: rows appended), so its events go out even when no relay runs.
pub async fn run_once(database_url: &str, redis_url: &str, at: Option<DateTime<Utc>>, day: &sentinel_domain::time::OperationalDay) -> anyhow::Result<Value> {
    let pg = Pg::new(database_url, 1)?;
    let redis = RedisHandle::new(redis_url)?;
    let mut report = run_due(&pg, at.unwrap_or_else(Utc::now), day).await?;
    report["published"] = json!(crate::outbox::drain_all(&pg, &redis).await.context("publishing the outbox")?);
    Ok(report)
}

/// The replica's ticker: every `interval`, the replica holding the lease runs what is due.
pub(crate) async fn schedule(shared: std::sync::Arc<crate::Shared>, interval: Duration, mut stop: watch::Receiver<bool>) {
    let replica = uuid::Uuid::new_v4().to_string();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match take_lease(&shared.redis, &replica, interval).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                crate::log("warn", "jobs lease unavailable", json!({ "error": err.to_string() }));
                continue;
            }
        }
        match run_due(&shared.pg, Utc::now(), &shared.config.operational_day).await {
            Ok(report) if report["ran"].as_array().is_some_and(|r| !r.is_empty()) => crate::log("info", "scheduled jobs ran", report),
            Ok(_) => {}
            Err(err) => crate::log("error", "scheduled jobs failed", json!({ "error": format!("{err:#}") })),
        }
    }
}

/// `SET sentinel:jobs:lease <replica> NX PX <most of the interval>`: one replica per tick.
async fn take_lease(redis: &RedisHandle, replica: &str, interval: Duration) -> redis::RedisResult<bool> {
    let ttl = (interval.as_millis() as u64 * 9 / 10).max(1);
    let reply: Option<String> = redis.query(redis::cmd("SET").arg(LEASE_KEY).arg(replica).arg("NX").arg("PX").arg(ttl)).await?;
    Ok(reply.is_some())
}
