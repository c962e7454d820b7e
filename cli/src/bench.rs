//! `sentinel bench`: loads a production-like data set into a throwaway PostgreSQL (or given URLs), serves
//! spin.toml on loopback (the local host or a real `spin up`, each as its own process, beside the
//! realtime relay as its own process), drives one scenario (scans, reads or both) concurrently for a
//! bounded time and reports throughput and p50/p95/p99 latency per endpoint, the CPU milliseconds one
//! request costs in each process, and the database statements and Redis commands it costs.

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
    /// What the clients send: `scan` (badge scans only, each an accepted check-in), `reads` (the list
    /// and presence reads), `mixed` (half and half) or `floor` (`GET /live`: the cost of a request
    /// that touches neither PostgreSQL nor Redis)
    #[arg(long, value_enum, default_value_t = Scenario::Mixed)]
    pub scenario: Scenario,
    /// The sentinel-relay binary that appends the outbox to the streams [default: next to this executable]
    #[arg(long)]
    pub relay_binary: Option<PathBuf>,
    /// Migrate and serve with this `sentinel` binary (`sentinel migrate`, `sentinel serve`) instead of
    /// this one: to measure another build of Sentinel (with its own --manifest and --relay-binary) on
    /// the same machine in the same window. With --spin-bin it only migrates (Spin serves).
    #[arg(long, conflicts_with = "target")]
    pub serve_binary: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Scan,
    /// `GET /live` only: a component instance per request and nothing else (no database, no Redis),
    /// the floor every request pays.
    Floor,
    Reads,
    Mixed,
}

/// What serves the requests being measured.
enum Runtime {
    /// `sentinel serve` as a child process, so its CPU time is its own.
    Local(sentinel_ops::services::ChildServer),
    Spin(sentinel_ops::services::SpinServer, String),
    External(String),
}

impl Runtime {
    fn base_url(&self) -> String {
        match self {
            Runtime::Local(host) => format!("http://127.0.0.1:{}", host.port()),
            Runtime::Spin(spin, _) => format!("http://127.0.0.1:{}", spin.port()),
            Runtime::External(url) => url.trim_end_matches('/').to_string(),
        }
    }

    fn describe(&self, compat: sentinel_host::SpinCompat) -> String {
        match self {
            Runtime::Local(_) => format!("Sentinel's local host (`sentinel serve`, wasmtime; spin-compat {compat})"),
            Runtime::Spin(_, version) => format!("real {version}"),
            Runtime::External(url) => format!("an already running server at {url}"),
        }
    }

    /// The serving process, when it runs on this machine under the bench.
    fn pid(&self) -> Option<u32> {
        match self {
            Runtime::Local(host) => Some(host.pid()),
            Runtime::Spin(spin, _) => spin.pid(),
            Runtime::External(_) => None,
        }
    }

    async fn stop(self) {
        match self {
            Runtime::Local(mut host) => {
                let _ = tokio::task::spawn_blocking(move || host.stop()).await;
            }
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
            let mut pg = PostgresServer::start(PostgresOptions { data_dir: dir.join("pg"), port: free_port()?, durability: Durability::Throwaway })?;
            enable_statement_statistics(&mut pg).await?;
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
    match &args.serve_binary {
        None => {
            sentinel_ops::migrate::migrate_url(&database_url).await?;
        }
        Some(binary) => {
            let status = std::process::Command::new(binary).arg("migrate").env("SENTINEL_DATABASE_URL", &database_url).status()?;
            if !status.success() {
                bail!("{} migrate failed ({status})", binary.display());
            }
        }
    }

    let manifest = args.manifest.clone().unwrap_or_else(|| root.join("spin.toml"));
    if !args.no_build && args.serve_binary.is_none() {
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
    std::fs::create_dir_all(&dir)?;
    servers.dir = Some(dir.clone());
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
            let spin = tokio::task::spawn_blocking(move || sentinel_ops::services::SpinServer::start(options)).await??;
            Runtime::Spin(spin, version)
        }
        (None, None) => {
            let port = free_port()?;
            let binary = match &args.serve_binary {
                Some(binary) => binary.clone(),
                None => std::env::current_exe()?,
            };
            let mut command = std::process::Command::new(binary);
            command
                .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--spin-compat", &args.spin_compat.to_string()])
                .arg("--manifest")
                .arg(&manifest)
                .env("SENTINEL_DATABASE_URL", &settings.database_url)
                .env("SENTINEL_REDIS_URL", &settings.redis_url)
                .env("SENTINEL_JWT_SECRET", &settings.jwt_secret)
                .env("SENTINEL_ENVIRONMENT", &settings.environment)
                .env("SPIN_VARIABLE_RATE_LIMITS", BENCH_RATE_LIMITS);
            let log = dir.join("host.log");
            let host = tokio::task::spawn_blocking(move || {
                sentinel_ops::services::ChildServer::start(command, port, "/live", log, Duration::from_secs(600), libc::SIGTERM)
            })
            .await??;
            Runtime::Local(host)
        }
    };
    let runtime_name = runtime.describe(args.spin_compat);
    println!("runtime: {runtime_name}");
    // The realtime relay as in production, as its own process: its outbox publisher appends every
    // scan's events to the streams.
    let relay = start_relay(&args, &settings, &dir).await?;
    let probe = Probe::new(&database_url, &settings.redis_url, runtime.pid(), relay.pid()).await?;
    let outcome = drive(&runtime.base_url(), &data, &args, &probe).await;
    runtime.stop().await;
    let mut relay = relay;
    let _ = tokio::task::spawn_blocking(move || relay.stop()).await;
    let report = outcome?;
    if report.per_endpoint.values().any(|s| s.statuses.keys().any(|status| *status >= 500 || *status == 0)) {
        let log = std::fs::read_to_string(dir.join("host.log")).unwrap_or_default();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("\"error\"") || l.contains("rror")).collect();
        eprintln!("server errors; the last lines of its log that mention one:\n{}", errors[errors.len().saturating_sub(10)..].join("\n"));
    }

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
    // (the row trigger would do the same work 100 000 times), and history is not news: no realtime
    // event is written for it (the outbox trigger exists from V16 on).
    let has_outbox: bool = client
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'checkins_outbox')", &[])
        .await?
        .get(0);
    let (outbox_off, outbox_on) = if has_outbox {
        ("ALTER TABLE checkins DISABLE TRIGGER checkins_outbox;", "ALTER TABLE checkins ENABLE TRIGGER checkins_outbox;")
    } else {
        ("", "")
    };
    client
        .batch_execute(&format!(
            "ALTER TABLE checkins DISABLE TRIGGER checkins_maintain_presence; {outbox_off}
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
             ALTER TABLE checkins ENABLE TRIGGER checkins_maintain_presence; {outbox_on}
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
    Live,
    Presence,
    CheckinList,
    MemberList,
    Activity,
    AuditList,
    VisitorList,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Scan => "POST /api/checkins/scan",
            Endpoint::Live => "GET  /live",
            Endpoint::Presence => "GET  /api/checkins/presence",
            Endpoint::CheckinList => "GET  /api/checkins?limit=50",
            Endpoint::MemberList => "GET  /api/members?limit=50",
            Endpoint::Activity => "GET  /api/checkins/activity?limit=20",
            Endpoint::AuditList => "GET  /api/audit-logs?limit=50",
            Endpoint::VisitorList => "GET  /api/visitors?limit=50",
        }
    }

    /// `mixed`: half scans, half the main reads; `scan`: scans only; `reads`: the presence and
    /// list reads in turn. Lists are read at their first page, as a dashboard opens them.
    fn pick(scenario: Scenario, n: u64) -> Endpoint {
        const READS: [Endpoint; 6] =
            [Endpoint::Presence, Endpoint::CheckinList, Endpoint::MemberList, Endpoint::Activity, Endpoint::AuditList, Endpoint::VisitorList];
        match scenario {
            Scenario::Scan => Endpoint::Scan,
            Scenario::Floor => Endpoint::Live,
            Scenario::Reads => READS[(n % READS.len() as u64) as usize],
            Scenario::Mixed => match n % 10 {
                0..=4 => Endpoint::Scan,
                5 | 6 => Endpoint::Presence,
                7 => Endpoint::CheckinList,
                8 => Endpoint::MemberList,
                _ => Endpoint::Activity,
            },
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
    costs: Costs,
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

async fn drive(base: &str, data: &Data, args: &BenchArgs, probe: &Probe) -> Result<Report> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).timeout(Duration::from_secs(30)).build()?;
    let token = login(&client, base, &data.admin_email).await?;
    // Each member's next scan time: just past the 2 s duplicate window after their previous one, so
    // the scans measured are accepted check-ins (alternating in/out), not 409s. The timelines start 50
    // minutes ago (after every member's history, which ends an hour ago; a kiosk may report scans up to
    // 7 days old) so that thousands of scans a second never run past the 60 s a scan may be ahead.
    let next_scan: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(vec![now_ms() - 50 * 60 * 1000; data.serials.len()]));
    let serials = Arc::new(data.serials.clone());
    let keys = Arc::new(data.kiosk_keys.clone());

    let run_phase = |duration: Duration| {
        let mut tasks = Vec::new();
        for worker in 0..args.concurrency {
            let (client, base, token) = (client.clone(), base.to_string(), token.clone());
            let (next_scan, serials, keys, scenario) = (next_scan.clone(), serials.clone(), keys.clone(), args.scenario);
            tasks.push(tokio::spawn(async move {
                let deadline = Instant::now() + duration;
                let mut samples: BTreeMap<Endpoint, Samples> = BTreeMap::new();
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (worker as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                while Instant::now() < deadline {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let endpoint = Endpoint::pick(scenario, rng >> 3);
                    let request = match endpoint {
                        Endpoint::Scan => {
                            let i = (rng >> 8) as usize % serials.len();
                            let ts = {
                                let mut next = next_scan.lock().unwrap();
                                let ts = next[i];
                                next[i] = ts + 2_100;
                                ts
                            };
                            client
                                .post(format!("{base}/api/checkins/scan"))
                                .header("x-api-key", &keys[i % keys.len()])
                                .json(&json!({ "serialNumber": serials[i], "timestamp": iso(ts) }))
                        }
                        Endpoint::Live => client.get(format!("{base}/live")),
                        Endpoint::Presence => client.get(format!("{base}/api/checkins/presence")).bearer_auth(&token),
                        Endpoint::CheckinList => client.get(format!("{base}/api/checkins?limit=50")).bearer_auth(&token),
                        Endpoint::MemberList => client.get(format!("{base}/api/members?limit=50")).bearer_auth(&token),
                        Endpoint::Activity => client.get(format!("{base}/api/checkins/activity?limit=20")).bearer_auth(&token),
                        Endpoint::AuditList => client.get(format!("{base}/api/audit-logs?limit=50")).bearer_auth(&token),
                        Endpoint::VisitorList => client.get(format!("{base}/api/visitors?limit=50")).bearer_auth(&token),
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
    let before = probe.start().await?;
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
    let elapsed = started.elapsed();
    let after = probe.clocks();
    let requests = per_endpoint.values().map(|s| s.latencies_us.len() as u64).sum();
    Ok(Report { per_endpoint, elapsed, costs: probe.costs(&before, &after, requests).await? })
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
    println!(
        "Sentinel benchmark — scenario `{}`, {} s, {} concurrent clients, loopback, release components",
        format!("{:?}", args.scenario).to_lowercase(),
        args.seconds,
        args.concurrency
    );
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
    print_costs(&report.costs);
    println!();
    println!(
        "presence after the run: {}",
        if presence_mismatches == 0 { "materialised presence equals the derivation for every member".to_string() } else { format!("{presence_mismatches} MISMATCHES") }
    );
}

/// The realtime relay (`sentinel-relay`, as its own process) on loopback.
async fn start_relay(args: &BenchArgs, settings: &Settings, dir: &Path) -> Result<sentinel_ops::services::ChildServer> {
    let binary = match &args.relay_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("sentinel-relay"),
    };
    if !binary.is_file() {
        bail!("{} not found: build it first (`cargo build --release -p sentinel-relay`) or pass --relay-binary", binary.display());
    }
    let port = free_port()?;
    let mut command = std::process::Command::new(&binary);
    command
        .args(["--listen", &format!("127.0.0.1:{port}"), "--metrics-listen", &format!("127.0.0.1:{}", free_port()?)])
        .env("SENTINEL_DATABASE_URL", &settings.database_url)
        .env("SENTINEL_REDIS_URL", &settings.redis_url)
        .env("SENTINEL_JWT_SECRET", &settings.jwt_secret)
        .env("SENTINEL_ENVIRONMENT", &settings.environment);
    let log = dir.join("relay.log");
    Ok(tokio::task::spawn_blocking(move || {
        sentinel_ops::services::ChildServer::start(command, port, "/health", log, Duration::from_secs(60), libc::SIGTERM)
    })
    .await??)
}

/// Turns on `pg_stat_statements` (every statement, nested ones too) in the throwaway PostgreSQL, when
/// the server has the module; the report then counts statements per request.
async fn enable_statement_statistics(pg: &mut PostgresServer) -> Result<()> {
    let client = sentinel_ops::connect(&pg.database_url()).await?;
    let lib_dir: String = client.query_one("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'", &[]).await?.get(0);
    if !Path::new(&lib_dir).join("pg_stat_statements.so").is_file() {
        println!("note: {lib_dir} has no pg_stat_statements; the report will not count statements");
        return Ok(());
    }
    client.batch_execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'").await?;
    drop(client);
    pg.stop();
    pg.restart()?;
    // The module's own settings exist once it is loaded; ALTER SYSTEM refuses a batch's implicit transaction.
    let client = sentinel_ops::connect(&pg.database_url()).await?;
    client.batch_execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'").await?;
    client.batch_execute("SELECT pg_reload_conf()").await?;
    Ok(())
}

/// What the measured window cost, read before and after it: CPU time per process from `/proc`,
/// statements from `pg_stat_statements` (when loaded), commands from Redis `INFO commandstats`.
struct Probe {
    db: tokio_postgres::Client,
    redis: redis::aio::MultiplexedConnection,
    processes: Vec<(&'static str, Option<Process>)>,
    statements: bool,
}

#[derive(Clone, Copy)]
enum Process {
    /// A process and its descendants.
    Tree(u32),
    /// The bench itself: the load generator.
    Myself,
}

struct Snapshot {
    cpu_ticks: Vec<Option<u64>>,
}

struct Costs {
    requests: u64,
    /// Per process: CPU milliseconds per request (None: not on this machine or not readable).
    cpu_ms: Vec<(&'static str, Option<f64>)>,
    /// Per request: top-level statements (sent, or run by deferred triggers at commit), statements run
    /// inside functions and triggers.
    statements: Option<(f64, f64)>,
    /// The costliest statements: text, nested, calls per request, mean ms, share of statement time.
    top: Vec<(String, bool, f64, f64, f64)>,
    /// Per request, by Redis command.
    redis: Vec<(String, f64)>,
}

impl Probe {
    async fn new(database_url: &str, redis_url: &str, server: Option<u32>, relay: u32) -> Result<Probe> {
        let db = sentinel_ops::connect(database_url).await?;
        let redis = redis::Client::open(redis_url)?.get_multiplexed_async_connection().await?;
        let backend: i32 = db.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
        // The postmaster: every backend's parent.
        let postmaster = proc_stat(backend as u32).map(|s| s.ppid);
        let info: String = redis::cmd("INFO").arg("server").query_async(&mut redis.clone()).await?;
        let redis_pid = info.lines().find_map(|l| l.strip_prefix("process_id:")).and_then(|p| p.trim().parse::<u32>().ok());
        let statements = db.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await.is_ok()
            && db.query("SELECT 1 FROM pg_stat_statements LIMIT 1", &[]).await.is_ok();
        let processes = vec![
            ("host", server.map(Process::Tree)),
            ("PostgreSQL", postmaster.map(Process::Tree)),
            ("Redis", redis_pid.map(Process::Tree)),
            ("relay", Some(Process::Tree(relay))),
            ("load generator", Some(Process::Myself)),
        ];
        Ok(Probe { db, redis, processes, statements })
    }

    /// At the start of the window: resets the statement and command statistics, reads the CPU clocks.
    async fn start(&self) -> Result<Snapshot> {
        if self.statements {
            self.db.batch_execute("SELECT pg_stat_statements_reset()").await?;
        }
        let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut self.redis.clone()).await?;
        Ok(self.clocks())
    }

    /// The CPU clocks now.
    fn clocks(&self) -> Snapshot {
        Snapshot { cpu_ticks: self.processes.iter().map(|(_, p)| p.and_then(cpu_ticks)).collect() }
    }

    async fn costs(&self, before: &Snapshot, after: &Snapshot, requests: u64) -> Result<Costs> {
        let per_request = |n: f64| n / requests.max(1) as f64;
        let tick_ms = 1000.0 / clock_ticks_per_second();
        let cpu_ms = self
            .processes
            .iter()
            .zip(before.cpu_ticks.iter().zip(&after.cpu_ticks))
            .map(|((name, _), (b, a))| (*name, match (b, a) { (Some(b), Some(a)) => Some(per_request(a.saturating_sub(*b) as f64 * tick_ms)), _ => None }))
            .collect();
        let (mut statements, mut top) = (None, Vec::new());
        if self.statements {
            // The probe's own reads of pg_stat_statements are left out.
            let own = "query NOT LIKE '%pg_stat_statements%'";
            let row = self
                .db
                .query_one(
                    &format!("SELECT coalesce(sum(calls) FILTER (WHERE toplevel), 0)::float8, coalesce(sum(calls) FILTER (WHERE NOT toplevel), 0)::float8 FROM pg_stat_statements WHERE {own}"),
                    &[],
                )
                .await?;
            statements = Some((per_request(row.get(0)), per_request(row.get(1))));
            let rows = self
                .db
                .query(
                    &format!(
                        "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90), NOT toplevel, calls::float8, mean_exec_time,
                                100 * total_exec_time / nullif(sum(total_exec_time) FILTER (WHERE toplevel) OVER (), 0)
                         FROM pg_stat_statements WHERE {own} ORDER BY total_exec_time DESC LIMIT 25"
                    ),
                    &[],
                )
                .await?;
            top = rows.iter().map(|r| (r.get(0), r.get(1), per_request(r.get(2)), r.get(3), r.get::<_, Option<f64>>(4).unwrap_or(0.0))).collect();
        }
        let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut self.redis.clone()).await?;
        let redis = info
            .lines()
            .filter_map(|l| {
                let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls: f64 = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?.parse().ok()?;
                (!matches!(name, "info" | "config")).then(|| (name.to_string(), per_request(calls)))
            })
            .collect();
        Ok(Costs { requests, cpu_ms, statements, top, redis })
    }
}

struct ProcStat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
    /// utime + stime.
    own_ticks: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let own_ticks = field(11)? + field(12)?;
    Some(ProcStat { ppid: field(1)? as u32, ticks: own_ticks + field(13)? + field(14)?, own_ticks })
}

/// CPU ticks of a process and its live descendants (exited ones are in their parent's cutime/cstime);
/// for the bench itself, its own threads only (the servers it started are its children).
fn cpu_ticks(process: Process) -> Option<u64> {
    let root = match process {
        Process::Tree(pid) => pid,
        Process::Myself => return proc_stat(std::process::id()).map(|s| s.own_ticks),
    };
    let all: Vec<(u32, ProcStat)> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .collect();
    let mut tree = vec![root];
    let mut total = 0;
    while let Some(pid) = tree.pop() {
        for (child, stat) in &all {
            if *child == pid {
                total += stat.ticks;
            } else if stat.ppid == pid {
                tree.push(*child);
            }
        }
    }
    Some(total).filter(|_| all.iter().any(|(pid, _)| *pid == root))
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

fn print_costs(costs: &Costs) {
    println!();
    println!("CPU per request (ms), {} requests:", costs.requests);
    println!();
    println!("| {} | total |", costs.cpu_ms.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" | "));
    println!("|{}---:|", "---:|".repeat(costs.cpu_ms.len()));
    let cell = |v: &Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "n/a".into());
    let total: f64 = costs.cpu_ms.iter().filter_map(|(_, v)| *v).sum();
    println!("| {} | {total:.2} |", costs.cpu_ms.iter().map(|(_, v)| cell(v)).collect::<Vec<_>>().join(" | "));
    println!();
    match costs.statements {
        Some((top, nested)) => {
            println!("PostgreSQL statements per request: {top:.2} at top level (sent by the host and the relay, or run at commit by deferred triggers), {nested:.2} more inside functions and triggers");
            println!();
            println!("| statement | nested | calls/request | mean ms | % of client statement time |");
            println!("|---|---|---:|---:|---:|");
            for (query, nested, calls, mean, share) in &costs.top {
                println!("| `{}` | {} | {calls:.2} | {mean:.3} | {share:.1} |", query.replace('|', "\\|"), if *nested { "yes" } else { "" });
            }
        }
        None => println!("PostgreSQL statements: not counted (pg_stat_statements is not loaded in this server)"),
    }
    println!();
    let redis: Vec<String> = costs.redis.iter().filter(|(_, n)| *n > 0.0).map(|(c, n)| format!("{c} {n:.2}")).collect();
    let total: f64 = costs.redis.iter().map(|(_, n)| n).sum();
    println!("Redis commands per request: {total:.2} ({})", redis.join(", "));
}
