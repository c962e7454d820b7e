//! `sentinel bench`: loads a production-like data set into a throwaway PostgreSQL (or given URLs), serves
//! spin.toml on loopback, drives badge scans and the main reads concurrently for a bounded time and
//! reports throughput and p50/p95/p99 latency per endpoint.

use anyhow::{bail, Context, Result};
use clap::Args;
use sentinel_ops::config::Settings;
use sentinel_ops::services::{free_port, Durability, PostgresOptions, PostgresServer, RedisOptions, RedisServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// Seconds of measured load (after a short warm-up)
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Concurrent clients
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Members in the data set (each holds a badge)
    #[arg(long, default_value_t = 500)]
    pub members: i64,
    /// Historical check-ins in the data set
    #[arg(long, default_value_t = 100_000)]
    pub checkins: i64,
    /// Events in the data set
    #[arg(long, default_value_t = 50)]
    pub events: i64,
    /// Visitors in the data set
    #[arg(long, default_value_t = 200)]
    pub visitors: i64,
    /// Use this PostgreSQL instead of a throwaway one (bench rows are added to it)
    #[arg(long)]
    pub database_url: Option<String>,
    /// Use this Redis instead of a throwaway one
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Do not build components (use the .wasm files as they are)
    #[arg(long)]
    pub no_build: bool,
    /// The Spin manifest to serve [default: <repo>/spin.toml]
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Serve the manifest with this real `spin` binary (`spin up`) instead of the local host
    #[arg(long, conflicts_with = "target")]
    pub spin_bin: Option<PathBuf>,
    /// Drive an already running Sentinel at this base URL (e.g. http://127.0.0.1:3000); it must
    /// use the same --database-url and --redis-url, and rate limits high enough not to refuse the load
    #[arg(long, requires = "database_url")]
    pub target: Option<String>,
    /// For the local host: the Spin release whose behaviour it reproduces (3.6, 4.0 or 4.1)
    #[arg(long, default_value = "4.0")]
    pub spin_compat: sentinel_host::SpinCompat,
}

/// What serves the requests being measured.
enum Runtime {
    Local(sentinel_host::RunningHost),
    Spin(sentinel_ops::services::SpinServer, String),
    External(String),
}

impl Runtime {
    fn base_url(&self) -> String {
        match self {
            Runtime::Local(host) => format!("http://{}", host.addr()),
            Runtime::Spin(spin, _) => format!("http://127.0.0.1:{}", spin.port()),
            Runtime::External(url) => url.trim_end_matches('/').to_string(),
        }
    }

    fn describe(&self, compat: sentinel_host::SpinCompat) -> String {
        match self {
            Runtime::Local(_) => format!("Sentinel's local host (wasmtime, in-process; spin-compat {compat})"),
            Runtime::Spin(_, version) => format!("real {version}"),
            Runtime::External(url) => format!("an already running server at {url}"),
        }
    }

    async fn stop(self) {
        match self {
            Runtime::Local(host) => host.shutdown().await,
            Runtime::Spin(mut spin, _) => {
                let _ = tokio::task::spawn_blocking(move || spin.stop()).await;
            }
            Runtime::External(_) => {}
        }
    }
}

/// Limits high enough that the benchmark measures the service, not the limiter (the limiter still
/// counts every request in Redis, as in production).
const BENCH_RATE_LIMITS: &str = "user=1000000000/60,kiosk=1000000000/60,scan=1000000000/60,key=1000000000/60,anonymous=1000000000/60";
const BENCH_PASSWORD: &str = "Bench-Passw0rd!42";
const KIOSKS: usize = 4;

/// Throwaway servers, stopped on drop.
struct Servers {
    postgres: Option<PostgresServer>,
    redis: Option<RedisServer>,
    dir: Option<PathBuf>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some(mut r) = self.redis.take() {
            r.stop();
        }
        if let Some(mut p) = self.postgres.take() {
            p.stop();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub async fn run(args: BenchArgs, root: &Path) -> Result<()> {
    if args.members < 1 || args.concurrency < 1 || args.seconds < 1 {
        bail!("--members, --concurrency and --seconds must be at least 1");
    }
    let mut servers = Servers { postgres: None, redis: None, dir: None };
    let dir = std::env::temp_dir().join(format!("sentinel-bench-{}", std::process::id()));
    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&dir)?;
            servers.dir = Some(dir.clone());
            println!("starting a throwaway PostgreSQL and Redis under {}", dir.display());
            let pg = PostgresServer::start(PostgresOptions { data_dir: dir.join("pg"), port: free_port()?, durability: Durability::Throwaway })?;
            let url = pg.database_url();
            servers.postgres = Some(pg);
            url
        }
    };
    let redis_url = match &args.redis_url {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&dir)?;
            let redis = RedisServer::start(RedisOptions { dir: dir.join("redis"), port: free_port()?, durability: Durability::Throwaway })?;
            let url = redis.url();
            servers.redis = Some(redis);
            url
        }
    };
    sentinel_ops::migrate::migrate_url(&database_url).await?;

    let manifest = args.manifest.clone().unwrap_or_else(|| root.join("spin.toml"));
    if !args.no_build {
        let (root, manifest) = (root.to_path_buf(), manifest.clone());
        tokio::task::spawn_blocking(move || -> Result<()> {
            let components = sentinel_ops::build::manifest_components(&manifest)?;
            sentinel_ops::build::build_components(&root, &components, false)?;
            Ok(())
        })
        .await??;
    }

    let started = Instant::now();
    let data = load(&database_url, &args).await?;
    println!(
        "loaded {} members (with badges), {} check-ins, {} events, {} visitors in {:.1}s",
        args.members, data.checkins, args.events, args.visitors, started.elapsed().as_secs_f64()
    );

    let settings = Settings {
        database_url: database_url.clone(),
        redis_url,
        jwt_secret: sentinel_ops::config::random_hex(32)?,
        environment: "production".into(),
    };
    let mut variables = settings.host_variables()?;
    variables.insert("rate_limits".into(), BENCH_RATE_LIMITS.into());
    let runtime = match (&args.target, &args.spin_bin) {
        (Some(url), _) => Runtime::External(url.clone()),
        (None, Some(binary)) => {
            let version = std::process::Command::new(binary).arg("--version").output().context("running spin --version")?;
            let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
            println!("starting {version} (compiling every component takes a while)…");
            let options = sentinel_ops::services::SpinOptions {
                binary: binary.clone(),
                manifest,
                port: free_port()?,
                variables,
                dir: dir.join("spin"),
            };
            servers.dir = Some(dir.clone());
            let spin = tokio::task::spawn_blocking(move || sentinel_ops::services::SpinServer::start(options)).await??;
            Runtime::Spin(spin, version)
        }
        (None, None) => Runtime::Local(
            sentinel_host::start(sentinel_host::HostConfig {
                manifest_path: manifest,
                listen: "127.0.0.1:0".parse()?,
                variables,
                cache_dir: Some(root.join("target/sentinel-wasm-cache")),
                max_in_flight: 256,
                spin_compat: args.spin_compat,
            })
            .await?,
        ),
    };
    let runtime_name = runtime.describe(args.spin_compat);
    println!("runtime: {runtime_name}");
    // The relay's outbox publisher, as in production: every scan's events reach the streams.
    let publisher = sentinel_relay::outbox::Publisher::start(&settings.database_url, &settings.redis_url, Duration::from_millis(20))?;
    let outcome = drive(&runtime.base_url(), &data, &args).await;
    runtime.stop().await;
    drop(publisher);
    let report = outcome?;

    let client = sentinel_ops::connect(&database_url).await?;
    let mismatches: i64 = client
        .query_one(
            "SELECT count(*) FROM member_presence p FULL JOIN member_presence_derived d USING (member_id)
             WHERE p.last_checkin_id IS DISTINCT FROM d.last_checkin_id OR p.direction IS DISTINCT FROM d.direction",
            &[],
        )
        .await?
        .get(0);
    print_report(&report, &args, mismatches, &runtime_name);
    drop(servers);
    Ok(())
}

struct Data {
    serials: Vec<String>,
    kiosk_keys: Vec<String>,
    admin_email: String,
    checkins: i64,
}

async fn load(database_url: &str, args: &BenchArgs) -> Result<Data> {
    let client = sentinel_ops::connect(database_url).await?;
    let run = sentinel_ops::config::random_hex(3)?.to_uppercase();
    let per_member = (args.checkins + args.members - 1) / args.members;
    let members = args.members;
    // One transaction per statement group; the member <-> badge link triggers are deferred to commit.
    client
        .batch_execute(&format!(
            "INSERT INTO divisions (code, name) SELECT 'B{run}' || g, 'Bench {run} division ' || g FROM generate_series(1, 8) g;
             INSERT INTO badges (serial_number) SELECT 'BENCH-{run}-' || lpad(g::text, 6, '0') FROM generate_series(1, {members}) g;
             INSERT INTO members (service_number, rank, first_name, last_name, email, division_id)
               SELECT 'B{run}' || lpad(g::text, 6, '0'), (ARRAY['S3','S2','S1','MS','PO2','PO1','CPO2','CPO1'])[1 + g % 8],
                      'First' || g, 'Last' || g, 'm' || g || '@bench.example',
                      (SELECT id FROM divisions WHERE code = 'B{run}' || (1 + g % 8))
               FROM generate_series(1, {members}) g;
             WITH m AS (SELECT id, row_number() OVER (ORDER BY service_number) AS n FROM members WHERE service_number LIKE 'B{run}%'),
                  b AS (SELECT id, row_number() OVER (ORDER BY serial_number) AS n FROM badges WHERE serial_number LIKE 'BENCH-{run}-%')
             UPDATE badges SET assignment_type = 'member', assigned_to_id = m.id FROM m JOIN b USING (n) WHERE badges.id = b.id;
             UPDATE members SET badge_id = b.id FROM badges b
               WHERE b.assignment_type = 'member' AND b.assigned_to_id = members.id AND members.service_number LIKE 'B{run}%';"
        ))
        .await
        .context("loading divisions, members and badges")?;
    // History: alternating check-ins every ~7 h per member; presence is materialised once afterwards
    // (the row trigger would do the same work 100 000 times).
    client
        .batch_execute(&format!(
            "ALTER TABLE checkins DISABLE TRIGGER checkins_maintain_presence;
             INSERT INTO checkins (member_id, badge_id, direction, \"timestamp\", kiosk_id, method, created_at)
               SELECT m.id, m.badge_id,
                      CASE WHEN (k + abs(hashtext(m.id::text))) % 2 = 0 THEN 'in' ELSE 'out' END,
                      now() - interval '1 hour' - ({per_member} - k) * interval '7 hours' + random() * interval '30 minutes',
                      'bench-kiosk-' || (1 + k % {KIOSKS}), 'badge', now()
               FROM members m CROSS JOIN generate_series(0, {per_member} - 1) k
               WHERE m.service_number LIKE 'B{run}%';
             INSERT INTO member_presence (member_id, direction, last_checkin_id, since)
               SELECT member_id, direction, last_checkin_id, since FROM member_presence_derived
             ON CONFLICT (member_id) DO UPDATE SET direction = EXCLUDED.direction, last_checkin_id = EXCLUDED.last_checkin_id,
                                                   since = EXCLUDED.since, updated_at = now();
             ALTER TABLE checkins ENABLE TRIGGER checkins_maintain_presence;
             INSERT INTO events (name, code, start_date, end_date, status)
               SELECT 'Bench event ' || g, 'BENCH-{run}-' || g, current_date - g, current_date - g + 2,
                      (ARRAY['draft','active','completed','cancelled'])[1 + g % 4]
               FROM generate_series(1, {events}) g;
             INSERT INTO visitors (name, organization, visit_type, kiosk_id, check_in_time, check_out_time, host_member_id, event_id)
               SELECT 'Visitor ' || g, 'Org ' || (g % 17), (ARRAY['contractor','guest','official','other'])[1 + g % 4], 'bench-kiosk-1',
                      now() - g * interval '37 minutes',
                      CASE WHEN g % 10 = 0 THEN NULL ELSE now() - g * interval '37 minutes' + interval '25 minutes' END,
                      (SELECT id FROM members WHERE service_number = 'B{run}' || lpad((1 + g % {members})::text, 6, '0')),
                      CASE WHEN g % 4 = 0 THEN (SELECT id FROM events WHERE code = 'BENCH-{run}-' || (1 + g % {events_or_one})) END
               FROM generate_series(1, {visitors}) g;
             ANALYZE;",
            events = args.events,
            visitors = args.visitors,
            events_or_one = args.events.max(1),
        ))
        .await
        .context("loading check-ins, events and visitors")?;

    let hash = sentinel_auth::password::hash(BENCH_PASSWORD)?;
    let email = format!("bench-{run}@bench.example");
    client
        .execute(
            "INSERT INTO users (email, display_name, password_hash, role) VALUES ($1, 'Bench admin', $2, 'admin')",
            &[&email, &hash],
        )
        .await?;
    let mut kiosk_keys = Vec::new();
    for i in 1..=KIOSKS {
        let key = sentinel_auth::api_key::generate();
        let kiosk_id = format!("bench-{run}-kiosk-{i}");
        client
            .execute(
                "INSERT INTO api_keys (name, kind, kiosk_id, key_hash, key_prefix) VALUES ($1, 'kiosk', $2, $3, $4)",
                &[&format!("Bench kiosk {i}"), &kiosk_id, &key.key_hash, &key.key_prefix],
            )
            .await?;
        kiosk_keys.push(key.key);
    }
    let serials = client
        .query(&format!("SELECT serial_number FROM badges WHERE serial_number LIKE 'BENCH-{run}-%' ORDER BY 1"), &[])
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let checkins: i64 = client.query_one("SELECT count(*) FROM checkins", &[]).await?.get(0);
    Ok(Data { serials, kiosk_keys, admin_email: email, checkins })
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Endpoint {
    Scan,
    Presence,
    CheckinList,
    MemberList,
    Activity,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Scan => "POST /api/checkins/scan",
            Endpoint::Presence => "GET  /api/checkins/presence",
            Endpoint::CheckinList => "GET  /api/checkins?limit=50",
            Endpoint::MemberList => "GET  /api/members?limit=50",
            Endpoint::Activity => "GET  /api/checkins/activity?limit=20",
        }
    }

    /// Half scans, half the main reads.
    fn pick(n: u64) -> Endpoint {
        match n % 10 {
            0..=4 => Endpoint::Scan,
            5 | 6 => Endpoint::Presence,
            7 => Endpoint::CheckinList,
            8 => Endpoint::MemberList,
            _ => Endpoint::Activity,
        }
    }
}

#[derive(Default)]
struct Samples {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
}

struct Report {
    per_endpoint: BTreeMap<Endpoint, Samples>,
    elapsed: Duration,
}

async fn login(client: &reqwest::Client, base: &str, email: &str) -> Result<String> {
    let r = client.post(format!("{base}/api/auth/login")).json(&json!({ "email": email, "password": BENCH_PASSWORD })).send().await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if !status.is_success() {
        bail!("bench login failed: {status} {body}");
    }
    Ok(body["token"].as_str().context("login returned no token")?.to_string())
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

async fn drive(base: &str, data: &Data, args: &BenchArgs) -> Result<Report> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).timeout(Duration::from_secs(30)).build()?;
    let token = login(&client, base, &data.admin_email).await?;
    // Each member's next scan time: just past the 2 s duplicate window after their previous one, so
    // the scans measured are accepted check-ins (alternating in/out), not 409s.
    let next_scan: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(vec![0; data.serials.len()]));
    let serials = Arc::new(data.serials.clone());
    let keys = Arc::new(data.kiosk_keys.clone());

    let run_phase = |duration: Duration| {
        let mut tasks = Vec::new();
        for worker in 0..args.concurrency {
            let (client, base, token) = (client.clone(), base.to_string(), token.clone());
            let (next_scan, serials, keys) = (next_scan.clone(), serials.clone(), keys.clone());
            tasks.push(tokio::spawn(async move {
                let deadline = Instant::now() + duration;
                let mut samples: BTreeMap<Endpoint, Samples> = BTreeMap::new();
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (worker as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                while Instant::now() < deadline {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let endpoint = Endpoint::pick(rng >> 3);
                    let request = match endpoint {
                        Endpoint::Scan => {
                            let i = (rng >> 8) as usize % serials.len();
                            let ts = {
                                let mut next = next_scan.lock().unwrap();
                                let ts = next[i].max(now_ms());
                                next[i] = ts + 2_100;
                                ts
                            };
                            client
                                .post(format!("{base}/api/checkins/scan"))
                                .header("x-api-key", &keys[i % keys.len()])
                                .json(&json!({ "serialNumber": serials[i], "timestamp": iso(ts) }))
                        }
                        Endpoint::Presence => client.get(format!("{base}/api/checkins/presence")).bearer_auth(&token),
                        Endpoint::CheckinList => client.get(format!("{base}/api/checkins?limit=50&page={}", 1 + (rng >> 20) % 20)).bearer_auth(&token),
                        Endpoint::MemberList => client.get(format!("{base}/api/members?limit=50&page={}", 1 + (rng >> 20) % 10)).bearer_auth(&token),
                        Endpoint::Activity => client.get(format!("{base}/api/checkins/activity?limit=20")).bearer_auth(&token),
                    };
                    let started = Instant::now();
                    let status = match request.send().await {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let _ = r.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    };
                    let s = samples.entry(endpoint).or_default();
                    s.latencies_us.push(started.elapsed().as_micros() as u64);
                    *s.statuses.entry(status).or_default() += 1;
                }
                samples
            }));
        }
        tasks
    };

    println!("warming up (3 s)…");
    for task in run_phase(Duration::from_secs(3)) {
        task.await?;
    }
    println!("measuring {} s with {} concurrent clients…", args.seconds, args.concurrency);
    let started = Instant::now();
    let mut per_endpoint: BTreeMap<Endpoint, Samples> = BTreeMap::new();
    for task in run_phase(Duration::from_secs(args.seconds)) {
        for (endpoint, samples) in task.await? {
            let merged = per_endpoint.entry(endpoint).or_default();
            merged.latencies_us.extend(samples.latencies_us);
            for (status, n) in samples.statuses {
                *merged.statuses.entry(status).or_default() += n;
            }
        }
    }
    Ok(Report { per_endpoint, elapsed: started.elapsed() })
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("MemTotal")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({model}), {mem_gib:.0} GiB RAM")
}

fn print_report(report: &Report, args: &BenchArgs, presence_mismatches: i64, runtime: &str) {
    let secs = report.elapsed.as_secs_f64();
    println!();
    println!("Sentinel benchmark — {} s, {} concurrent clients, loopback, release components", args.seconds, args.concurrency);
    println!("runtime: {runtime}");
    println!("machine: {}", machine());
    println!("data: {} members with badges, {} historical check-ins, {} events, {} visitors", args.members, args.checkins, args.events, args.visitors);
    println!();
    println!("| endpoint | requests | req/s | p50 ms | p95 ms | p99 ms | statuses |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    let (mut total, mut all) = (0u64, Vec::new());
    for (endpoint, samples) in &report.per_endpoint {
        let mut sorted = samples.latencies_us.clone();
        sorted.sort_unstable();
        let n = sorted.len() as u64;
        total += n;
        all.extend_from_slice(&sorted);
        let statuses = samples.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect::<Vec<_>>().join(" ");
        println!(
            "| `{}` | {n} | {:.0} | {:.1} | {:.1} | {:.1} | {statuses} |",
            endpoint.label(),
            n as f64 / secs,
            percentile(&sorted, 50.0),
            percentile(&sorted, 95.0),
            percentile(&sorted, 99.0)
        );
    }
    all.sort_unstable();
    println!(
        "| **all** | {total} | {:.0} | {:.1} | {:.1} | {:.1} | |",
        total as f64 / secs,
        percentile(&all, 50.0),
        percentile(&all, 95.0),
        percentile(&all, 99.0)
    );
    println!();
    println!(
        "presence after the run: {}",
        if presence_mismatches == 0 { "materialised presence equals the derivation for every member".to_string() } else { format!("{presence_mismatches} MISMATCHES") }
    );
}
