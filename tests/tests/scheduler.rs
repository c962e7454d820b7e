//! The relay replicas run the scheduled checks themselves (Spin has no cron trigger on SpinKube): two
//! replicas ticking fast against one stack run each job once.

use std::time::Duration;

use sentinel_tests::relay::relay_config;

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_run_the_daily_reset_once() {
    let stack = tokio::task::spawn_blocking(|| sentinel_tests::isolated_stack().expect("isolated stack")).await.unwrap();
    // A member checked in two days ago never left.
    stack.sql_exec(
        "INSERT INTO divisions (code, name) VALUES ('SCHED', 'Scheduler');
         INSERT INTO members (service_number, rank, first_name, last_name, division_id)
         SELECT 'SNSCHED', 'S1', 'Sam', 'Straggler', id FROM divisions;
         INSERT INTO checkins (member_id, direction, kiosk_id, method, \"timestamp\")
         SELECT id, 'in', 'front', 'badge', now() - interval '2 days' FROM members;",
    );
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let mut config = relay_config(stack.redis_url());
        config.database_url = stack.database_url().to_string();
        config.limits.jobs_interval = Some(Duration::from_millis(300));
        replicas.push(sentinel_relay::start(config).await.expect("starting a replica"));
    }
    let done = sentinel_tests::wait_until(Duration::from_secs(20), || {
        stack.sql("SELECT count(*) AS n FROM scheduled_job_runs WHERE job = 'daily_reset'")[0]["n"] == 1
            && stack.sql("SELECT count(*) AS n FROM checkins WHERE method = 'system'")[0]["n"] == 1
    });
    // Several more ticks of both replicas.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for replica in replicas {
        replica.shutdown().await;
    }
    assert!(done, "the replicas ran the daily reset");
    assert_eq!(stack.sql("SELECT count(*) AS n FROM checkins WHERE method = 'system'")[0]["n"], 1, "exactly one forced checkout");
    assert_eq!(stack.sql("SELECT count(*) AS n FROM security_alerts WHERE alert_type = 'member_missed_checkout'")[0]["n"], 1);
    assert_eq!(stack.sql("SELECT count(*) AS n FROM scheduled_job_runs WHERE job = 'daily_reset'")[0]["n"], 1);
    tokio::task::spawn_blocking(move || drop(stack)).await.unwrap();
}
