//! `sentinel`: the operator CLI. `sentinel up` runs the whole backend locally with zero configuration.

mod bench;
mod manifest;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use sentinel_ops::config::{env_first, persistent_secret, Settings};
use sentinel_ops::services::{port_or_free, Durability, PostgresOptions, PostgresServer, RedisOptions, RedisServer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "sentinel",
    version,
    about = "Run and operate the Sentinel RFID attendance backend",
    long_about = "Run and operate the Sentinel RFID attendance backend.\n\n\
        `sentinel up` is all a developer needs: it starts a private PostgreSQL and Redis under \
        <repo>/.sentinel/ (unless SENTINEL_DATABASE_URL / SENTINEL_REDIS_URL point elsewhere), applies \
        migrations, seeds demo data on the first run, builds stale Wasm components and serves spin.toml."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start everything: private PostgreSQL + Redis (unless URLs are configured), migrate, seed, build, serve.
    #[command(after_help = "State lives in <repo>/.sentinel/: postgres/ and redis/ data (kept across runs; \
        ports 55432/56379, or free ones if taken), jwt_secret (generated once, mode 0600), \
        admin-credentials.txt (the generated demo administrator), metrics_token (the /metrics bearer token, generated once, mode 0600).\n\n\
        Other environment: SENTINEL_JWT_SECRET, SENTINEL_METRICS_TOKEN, SENTINEL_ENVIRONMENT (default development), \
        SENTINEL_ADMIN_EMAIL / SENTINEL_ADMIN_PASSWORD (first seed), SPIN_VARIABLE_<NAME> for any spin.toml variable.\n\
        Ctrl-C or SIGTERM stops the host, then Redis, then PostgreSQL.")]
    Up(UpArgs),
    /// Apply pending database migrations (refuses edited or missing applied migrations).
    Migrate(DbArgs),
    /// Insert the demo data and the initial administrator (idempotent).
    Seed(SeedArgs),
    /// Build the Wasm components of spin.toml that are stale (or all with --force).
    Build(BuildArgs),
    /// Benchmark the realtime relay on loopback (throwaway PostgreSQL + Redis): N WebSocket subscribers,
    /// steady publishing; reports publish→receipt latency, delivered events/s and memory per connection.
    BenchRealtime(BenchRealtimeArgs),
    /// Serve spin.toml against an existing PostgreSQL and Redis (no servers started, no migrations).
    Serve(ServeArgs),
    /// Benchmark the API on loopback: load a production-like data set (throwaway PostgreSQL + Redis unless
    /// URLs are given), drive badge scans and the main reads concurrently, report throughput and p50/p95/p99.
    Bench(bench::BenchArgs),
    /// Scheduled checks (daily reset at the rollover, lockup reminder 22:00 and overdue 23:00): the relay
    /// runs them every minute; this runs what is due once (operators, a Kubernetes CronJob, tests).
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Render spin.toml with concrete outbound hosts for platforms that do not resolve variable templates in
    /// `allowed_outbound_hosts` (Fermyon/Akamai cloud); everything else of the manifest is kept as it is.
    #[command(after_help = "Write the result next to spin.toml (component sources are relative to the manifest), e.g.\n  \
        sentinel manifest --database-host db.example.com:5432 --redis-host cache.example.com:6379 --output spin.cloud.toml\n  \
        spin cloud deploy -f spin.cloud.toml --variable database_url=… --variable redis_url=… --variable jwt_secret=…")]
    Manifest(ManifestArgs),
}

#[derive(Args)]
struct ManifestArgs {
    /// host:port of PostgreSQL as the components reach it (the host of database_url)
    #[arg(long)]
    database_host: String,
    /// host:port of Redis as the components reach it (the host of redis_url)
    #[arg(long)]
    redis_host: String,
    /// The manifest to render [default: <repo>/spin.toml]
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Where to write the rendered manifest [default: standard output]
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Run every job due at --at (default now) that has not run for its operational day; prints a JSON report.
    Run(JobsRunArgs),
}

#[derive(Args)]
struct JobsRunArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// The instant to run for (ISO-8601), e.g. to catch up after an outage [default: now]
    #[arg(long)]
    at: Option<String>,
    /// IANA zone of the unit [env: SENTINEL_UNIT_TIMEZONE, SPIN_VARIABLE_UNIT_TIMEZONE; default America/Winnipeg]
    #[arg(long)]
    unit_timezone: Option<String>,
    /// Local time the operational day rolls over, HH:MM [env: SENTINEL_DAY_ROLLOVER, SPIN_VARIABLE_DAY_ROLLOVER; default 03:00]
    #[arg(long)]
    day_rollover: Option<String>,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// PostgreSQL URL [env: SENTINEL_DATABASE_URL, SPIN_VARIABLE_DATABASE_URL]
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Args, Clone)]
struct ConnArgs {
    /// PostgreSQL URL [env: SENTINEL_DATABASE_URL, SPIN_VARIABLE_DATABASE_URL]
    #[arg(long)]
    database_url: Option<String>,
    /// Redis URL [env: SENTINEL_REDIS_URL, SPIN_VARIABLE_REDIS_URL]
    #[arg(long)]
    redis_url: Option<String>,
}

#[derive(Args)]
struct UpArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Address the HTTP server listens on
    #[arg(long, env = "SENTINEL_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Do not build components (use the .wasm files as they are)
    #[arg(long)]
    no_build: bool,
    /// Spin release whose host behaviour to reproduce: 3.6, 4.0 (strict: a query matching no row fails the request, since 4.0.0–4.0.2 would hang it) or 4.1
    #[arg(long, env = "SENTINEL_SPIN_COMPAT", default_value = "4.0")]
    spin_compat: sentinel_host::SpinCompat,
    /// The Spin manifest to serve [default: <repo>/spin.toml]
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Address of the realtime relay's WebSocket endpoint (GET /ws)
    #[arg(long, env = "SENTINEL_RELAY_LISTEN", default_value = "127.0.0.1:3001")]
    relay_listen: SocketAddr,
    /// Address of the relay's Prometheus metrics (GET /metrics)
    #[arg(long, env = "SENTINEL_RELAY_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    relay_metrics_listen: SocketAddr,
}

#[derive(Args)]
struct BenchRealtimeArgs {
    /// Subscriber counts, one round each
    #[arg(long, default_value = "1000,10000", value_delimiter = ',')]
    subscribers: Vec<usize>,
    /// Events published per second
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Seconds of publishing per round
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The sentinel-relay binary to benchmark [default: next to this executable]
    #[arg(long)]
    relay_binary: Option<PathBuf>,
}

#[derive(Args)]
struct SeedArgs {
    #[command(flatten)]
    db: DbArgs,
    /// E-mail of the initial administrator
    #[arg(long, env = "SENTINEL_ADMIN_EMAIL", default_value = "admin@sentinel.local")]
    admin_email: String,
    /// Password of the initial administrator (default: generate one and print it once)
    #[arg(long, env = "SENTINEL_ADMIN_PASSWORD")]
    admin_password: Option<String>,
    /// Create only the initial administrator, no demo data (production installs)
    #[arg(long)]
    admin_only: bool,
}

#[derive(Args)]
struct BuildArgs {
    /// Rebuild even if every .wasm is newer than its sources
    #[arg(long)]
    force: bool,
    /// The Spin manifest whose components to build [default: <repo>/spin.toml]
    #[arg(long)]
    manifest: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Address the HTTP server listens on
    #[arg(long, env = "SENTINEL_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// JWT signing secret [env: SENTINEL_JWT_SECRET, SPIN_VARIABLE_JWT_SECRET]
    #[arg(long)]
    jwt_secret: Option<String>,
    /// production | development [env: SENTINEL_ENVIRONMENT, SPIN_VARIABLE_ENVIRONMENT]
    #[arg(long)]
    environment: Option<String>,
    /// Spin release whose host behaviour to reproduce: 3.6, 4.0 (strict: a query matching no row fails the request, since 4.0.0–4.0.2 would hang it) or 4.1
    #[arg(long, env = "SENTINEL_SPIN_COMPAT", default_value = "4.0")]
    spin_compat: sentinel_host::SpinCompat,
    /// The Spin manifest to serve [default: <repo>/spin.toml]
    #[arg(long)]
    manifest: Option<PathBuf>,
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => up(args).await,
            Command::Migrate(args) => migrate(args).await,
            Command::Seed(args) => seed(args).await,
            Command::Build(args) => build(args),
            Command::BenchRealtime(args) => bench_realtime(args).await,
            Command::Serve(args) => serve(args).await,
            Command::Bench(args) => bench::run(args, &repo_root()).await,
            Command::Jobs(JobsCommand::Run(args)) => jobs_run(args).await,
            Command::Manifest(args) => manifest::run(
                &args.manifest.unwrap_or_else(|| repo_root().join("spin.toml")),
                &args.database_host,
                &args.redis_host,
                args.output.as_deref(),
            ),
        }
    });
    if let Err(err) = outcome {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

/// The repository root: the nearest ancestor of the working directory holding spin.toml and
/// Cargo.toml, else the one this binary was built from.
fn repo_root() -> PathBuf {
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("spin.toml").is_file() && dir.join("Cargo.toml").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

fn configured_database_url(flag: &Option<String>) -> Option<String> {
    flag.clone().or_else(|| env_first(&["SENTINEL_DATABASE_URL", "SPIN_VARIABLE_DATABASE_URL"]))
}

fn configured_redis_url(flag: &Option<String>) -> Option<String> {
    flag.clone().or_else(|| env_first(&["SENTINEL_REDIS_URL", "SPIN_VARIABLE_REDIS_URL"]))
}

async fn jobs_run(args: JobsRunArgs) -> Result<()> {
    let database_url = configured_database_url(&args.conn.database_url).context("no database URL: pass --database-url or set SENTINEL_DATABASE_URL")?;
    let redis_url = configured_redis_url(&args.conn.redis_url).context("no Redis URL: pass --redis-url or set SENTINEL_REDIS_URL")?;
    let at = match &args.at {
        Some(raw) => Some(sentinel_domain::time::parse_instant(raw).with_context(|| format!("--at {raw:?} is not an ISO-8601 instant"))?),
        None => None,
    };
    let day = configured_operational_day(args.unit_timezone, args.day_rollover)?;
    let report = sentinel_relay::jobs::run_once(&database_url, &redis_url, at, &day).await?;
    println!("{report}");
    Ok(())
}

/// The unit's operational day: flags, else SENTINEL_* / SPIN_VARIABLE_* (as the components read them), else defaults.
fn configured_operational_day(zone: Option<String>, rollover: Option<String>) -> Result<sentinel_domain::time::OperationalDay> {
    let zone = zone.or_else(|| env_first(&["SENTINEL_UNIT_TIMEZONE", "SPIN_VARIABLE_UNIT_TIMEZONE"]));
    let rollover = rollover.or_else(|| env_first(&["SENTINEL_DAY_ROLLOVER", "SPIN_VARIABLE_DAY_ROLLOVER"]));
    sentinel_domain::time::OperationalDay::parse(zone.as_deref(), rollover.as_deref()).map_err(anyhow::Error::msg)
}

fn require_database_url(args: &DbArgs) -> Result<String> {
    configured_database_url(&args.database_url)
        .context("no database URL: pass --database-url or set SENTINEL_DATABASE_URL (`sentinel up` needs none)")
}

async fn run_migrations(database_url: &str) -> Result<()> {
    let applied = sentinel_ops::migrate::migrate_url(database_url).await?;
    if applied.is_empty() {
        println!("database schema up to date");
    } else {
        println!("applied migrations: {}", applied.join(", "));
    }
    Ok(())
}

async fn migrate(args: DbArgs) -> Result<()> {
    run_migrations(&require_database_url(&args)?).await
}

/// Seed and report; returns the admin credentials line to show (if an admin was created).
async fn run_seed(database_url: &str, email: &str, password: Option<String>, admin_only: bool) -> Result<Option<String>> {
    let client = sentinel_ops::connect(database_url).await?;
    let admin = sentinel_ops::seed::AdminSeed { email: email.to_string(), password };
    if admin_only {
        let report = sentinel_ops::seed::seed_initial_admin(&client, &admin).await?;
        if report.created_admin.is_none() {
            println!("an administrator already exists; nothing to do");
        }
        return Ok(admin_line(report));
    }
    let report = sentinel_ops::seed::seed_demo(&client, &admin).await?;
    println!("{}", if report.demo_inserted { "demo data inserted" } else { "demo data already present" });
    Ok(admin_line(report))
}

fn admin_line(report: sentinel_ops::seed::SeedReport) -> Option<String> {
    report.created_admin.map(|(email, password)| match password {
        Some(password) => format!("admin login: {email} / {password}"),
        None => format!("admin login: {email} (password as given)"),
    })
}

async fn seed(args: SeedArgs) -> Result<()> {
    let url = require_database_url(&args.db)?;
    if let Some(line) = run_seed(&url, &args.admin_email, args.admin_password, args.admin_only).await? {
        println!("{line}");
    }
    Ok(())
}

fn build_manifest(manifest: &Path, force: bool) -> Result<()> {
    let root = repo_root();
    let components = sentinel_ops::build::manifest_components(manifest)?;
    let summary = sentinel_ops::build::build_components(&root, &components, force)?;
    if !summary.built.is_empty() {
        println!("built: {}", summary.built.join(", "));
    }
    Ok(())
}

fn build(args: BuildArgs) -> Result<()> {
    build_manifest(&args.manifest.unwrap_or_else(|| repo_root().join("spin.toml")), args.force)
}

async fn start_host(
    manifest: PathBuf,
    listen: SocketAddr,
    settings: &Settings,
    spin_compat: sentinel_host::SpinCompat,
    relay_public_url: Option<String>,
    metrics_token: Option<&str>,
) -> Result<sentinel_host::RunningHost> {
    settings.validate()?;
    let mut variables = settings.host_variables()?;
    if let Some(token) = metrics_token {
        variables.insert("metrics_token".into(), token.to_string());
    }
    if let Some(url) = relay_public_url {
        variables.insert("relay_public_url".into(), url);
    }
    // The static map outranks SPIN_VARIABLE_* in the host; derived values must not hide explicit ones.
    for derived in ["database_host", "redis_host", "relay_public_url"] {
        if std::env::var_os(format!("SPIN_VARIABLE_{}", derived.to_ascii_uppercase())).is_some() {
            variables.remove(derived);
        }
    }
    sentinel_host::start(sentinel_host::HostConfig {
        manifest_path: manifest,
        listen,
        variables,
        cache_dir: None,
        max_in_flight: 256,
        spin_compat,
        request_timeout: None,
    })
    .await
}

fn print_routes(host: &sentinel_host::RunningHost) {
    let base = format!("http://{}", host.addr());
    println!();
    println!("Sentinel is running");
    println!("  API      {base}/api");
    println!("  Health   {base}/health");
    println!("  Docs     {base}/docs");
    println!();
    println!("Available Routes:");
    for (route, component) in host.routes() {
        let shown = match route.strip_suffix("/...") {
            Some(prefix) => format!("{base}{prefix} (wildcard)"),
            None if route == "/" => base.clone(),
            None => format!("{base}{route}"),
        };
        println!("  {component}: {shown}");
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let settings = Settings {
        database_url: configured_database_url(&args.conn.database_url)
            .context("no database URL: pass --database-url or set SENTINEL_DATABASE_URL")?,
        redis_url: configured_redis_url(&args.conn.redis_url).unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
        jwt_secret: args
            .jwt_secret
            .or_else(|| env_first(&["SENTINEL_JWT_SECRET", "SPIN_VARIABLE_JWT_SECRET"]))
            .context("no JWT secret: pass --jwt-secret or set SENTINEL_JWT_SECRET")?,
        environment: args
            .environment
            .or_else(|| env_first(&["SENTINEL_ENVIRONMENT", "SPIN_VARIABLE_ENVIRONMENT"]))
            .unwrap_or_else(|| "production".into()),
    };
    let host = start_host(args.manifest.unwrap_or_else(|| repo_root().join("spin.toml")), args.listen, &settings, args.spin_compat, None, None).await?;
    print_routes(&host);
    println!("\nPress Ctrl-C to stop.");
    shutdown_signal().await;
    println!("stopping…");
    host.shutdown().await;
    Ok(())
}

/// Servers `up` started itself; stopped in reverse order.
struct LocalServers {
    postgres: Option<PostgresServer>,
    redis: Option<RedisServer>,
}

impl LocalServers {
    fn stop(&mut self) {
        if let Some(mut redis) = self.redis.take() {
            println!("stopping Redis");
            redis.stop();
        }
        if let Some(mut postgres) = self.postgres.take() {
            println!("stopping PostgreSQL");
            postgres.stop();
        }
    }
}

const DEFAULT_PG_PORT: u16 = 55432;
const DEFAULT_REDIS_PORT: u16 = 56379;

async fn up(args: UpArgs) -> Result<()> {
    let root = repo_root();
    let state_dir = root.join(".sentinel");
    std::fs::create_dir_all(&state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
    let manifest = args.manifest.clone().unwrap_or_else(|| root.join("spin.toml"));
    // Stopping the servers is synchronous; do it even when a later step fails.
    let mut servers = LocalServers { postgres: None, redis: None };
    let outcome = up_inner(&args, &root, &state_dir, manifest, &mut servers).await;
    servers.stop();
    outcome
}

async fn up_inner(args: &UpArgs, root: &Path, state_dir: &Path, manifest: PathBuf, servers: &mut LocalServers) -> Result<()> {
    // Checked before anything starts, so a bad production setting costs nothing.
    let environment = env_first(&["SENTINEL_ENVIRONMENT", "SPIN_VARIABLE_ENVIRONMENT"]).unwrap_or_else(|| "development".into());
    let jwt_secret = match env_first(&["SENTINEL_JWT_SECRET", "SPIN_VARIABLE_JWT_SECRET"]) {
        Some(secret) => secret,
        None => persistent_secret(&state_dir.join("jwt_secret"))?,
    };
    sentinel_ops::config::check_environment(&environment, &jwt_secret)?;
    let database_url = match configured_database_url(&args.conn.database_url) {
        Some(url) => {
            println!("using PostgreSQL at {}", sentinel_ops::redact_url(&url));
            url
        }
        None => {
            if !state_dir.join("postgres/PG_VERSION").exists() {
                // A fresh cluster has no demo data, whatever an earlier cluster had.
                let _ = std::fs::remove_file(state_dir.join("seeded"));
            }
            let port = port_or_free(DEFAULT_PG_PORT)?;
            println!("starting PostgreSQL on 127.0.0.1:{port} (data in {})", state_dir.join("postgres").display());
            let pg = PostgresServer::start(PostgresOptions { data_dir: state_dir.join("postgres"), port, durability: Durability::Persistent })?;
            let url = pg.database_url();
            servers.postgres = Some(pg);
            url
        }
    };
    let redis_url = match configured_redis_url(&args.conn.redis_url) {
        Some(url) => {
            println!("using Redis at {}", sentinel_ops::redact_url(&url));
            url
        }
        None => {
            let port = port_or_free(DEFAULT_REDIS_PORT)?;
            println!("starting Redis on 127.0.0.1:{port}");
            let redis = RedisServer::start(RedisOptions { dir: state_dir.join("redis"), port, durability: Durability::Persistent })?;
            let url = redis.url();
            servers.redis = Some(redis);
            url
        }
    };

    run_migrations(&database_url).await?;

    let mut admin_line = None;
    let seeded_marker = state_dir.join("seeded");
    if !seeded_marker.exists() {
        let email = env_first(&["SENTINEL_ADMIN_EMAIL"]).unwrap_or_else(|| "admin@sentinel.local".into());
        match run_seed(&database_url, &email, env_first(&["SENTINEL_ADMIN_PASSWORD"]), false).await {
            Ok(line) => {
                admin_line = line;
                if let Some(line) = &admin_line {
                    // Generated credentials are shown once; keep a private copy for the developer.
                    let _ = write_private(&state_dir.join("admin-credentials.txt"), line);
                }
                std::fs::write(&seeded_marker, "seeded\n")?;
            }
            Err(err) => eprintln!("warning: demo seed skipped: {err:#}"),
        }
    }

    if !args.no_build {
        let root = root.to_path_buf();
        let manifest = manifest.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let components = sentinel_ops::build::manifest_components(&manifest)?;
            sentinel_ops::build::build_components(&root, &components, false)?;
            Ok(())
        })
        .await??;
    }

    // The presence board opens with a local display key (kept in .sentinel/, reused while valid).
    let display_key = match sentinel_ops::connect(&database_url).await {
        Ok(client) => sentinel_ops::seed::local_display_key(&client, &state_dir.join("display-key.txt")).await,
        Err(err) => Err(err),
    };
    // The /metrics token: SENTINEL_METRICS_TOKEN / SPIN_VARIABLE_METRICS_TOKEN, else one generated once
    // into .sentinel/metrics_token (mode 0600; Prometheus reads it with `credentials_file`).
    let from_env = ["SENTINEL_METRICS_TOKEN", "SPIN_VARIABLE_METRICS_TOKEN"].into_iter().find_map(|name| env_first(&[name]).map(|t| (t, format!("${name}"))));
    let (metrics_token, token_shown) = match from_env {
        Some(found) => found,
        None => {
            let path = state_dir.join("metrics_token");
            (persistent_secret(&path)?, format!("$(cat {})", path.display()))
        }
    };
    let settings = Settings { database_url, redis_url, jwt_secret, environment };
    // Locally the relay has its own port; the board reaches it on the page's host name.
    let relay_public_url = format!(":{}/ws", args.relay_listen.port());
    let host = start_host(manifest, args.listen, &settings, args.spin_compat, Some(relay_public_url), Some(&metrics_token)).await?;
    let relay = start_relay(args, &settings).await?;
    print_routes(&host);
    println!("\nMetrics (Prometheus text; infra/prometheus/prometheus.yml scrapes both)");
    println!("  App      curl -H \"Authorization: Bearer {token_shown}\" -H 'Accept: text/plain' http://{}/metrics", host.addr());
    println!("  Relay    curl http://{}/metrics", relay.metrics_addr());
    println!("\nRealtime relay");
    println!("  WebSocket  ws://{}/ws", relay.addr());
    let board = format!("http://{}/board", host.addr());
    println!("\nPresence board");
    match display_key {
        Ok(key) => {
            println!("  Lobby display  {board}#key={key}");
            println!("                 (a local display key, saved in .sentinel/display-key.txt)");
        }
        Err(err) => eprintln!("warning: no local display key: {err:#}"),
    }
    println!("  Signed in      {board}   (sign in with a Sentinel account, e.g. the administrator's)");
    match admin_line {
        Some(line) => println!("\n{line}   (also saved in .sentinel/admin-credentials.txt)"),
        None => {
            if let Ok(saved) = std::fs::read_to_string(state_dir.join("admin-credentials.txt")) {
                println!("\n{}   (from .sentinel/admin-credentials.txt; valid unless changed since)", saved.trim());
            }
        }
    }
    println!("\nPress Ctrl-C to stop.");
    shutdown_signal().await;
    println!("\ndraining the realtime relay");
    relay.shutdown().await;
    println!("stopping the host");
    host.shutdown().await;
    Ok(())
}

async fn bench_realtime(args: BenchRealtimeArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("sentinel-bench-realtime-{}", std::process::id()));
    let mut servers = LocalServers { postgres: None, redis: None };
    let outcome = async {
        let pg = PostgresServer::start(PostgresOptions { data_dir: dir.join("postgres"), port: sentinel_ops::services::free_port()?, durability: Durability::Throwaway })?;
        let database_url = pg.database_url();
        servers.postgres = Some(pg);
        let redis = RedisServer::start(RedisOptions { dir: dir.join("redis"), port: sentinel_ops::services::free_port()?, durability: Durability::Throwaway })?;
        let redis_url = redis.url();
        servers.redis = Some(redis);
        sentinel_ops::migrate::migrate_url(&database_url).await?;
        sentinel_relay::bench::run(sentinel_relay::bench::BenchArgs {
            database_url,
            redis_url,
            subscribers: args.subscribers,
            rate: args.rate,
            seconds: args.seconds,
            relay_binary: args.relay_binary,
            connect_concurrency: 256,
        })
        .await
    }
    .await;
    servers.stop();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// The realtime relay beside the host: same database, Redis, JWT secret and browser origins.
async fn start_relay(args: &UpArgs, settings: &Settings) -> Result<sentinel_relay::RunningRelay> {
    let mut config = sentinel_relay::RelayConfig::new(&settings.database_url, &settings.redis_url, &settings.jwt_secret);
    config.listen = args.relay_listen;
    config.metrics_listen = args.relay_metrics_listen;
    config.operational_day = configured_operational_day(None, None)?;
    if let Some(origins) = env_first(&["SENTINEL_CORS_ORIGINS", "SPIN_VARIABLE_CORS_ORIGINS"]) {
        config.cors_origins = origins.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
    } else {
        // The presence board is served by the host itself: its origin may open the relay.
        config.cors_origins.extend(local_origins(args.listen));
    }
    // The same trusted proxies as the components' `trusted_proxies` variable.
    if let Some(proxies) = env_first(&["SENTINEL_TRUSTED_PROXIES", "SPIN_VARIABLE_TRUSTED_PROXIES"]) {
        config.trusted_proxies = sentinel_relay::TrustedProxies::parse(&proxies).map_err(anyhow::Error::msg)?;
    }
    if settings.environment != "production" {
        // The spec's development allowance: 100 new connections per IP per minute.
        config.limits.connections_per_ip_per_minute = 100;
    }
    sentinel_relay::start(config).await.context("starting the realtime relay")
}

/// The browser origins of pages the host serves on `listen` (loopback also as `localhost`).
fn local_origins(listen: SocketAddr) -> Vec<String> {
    let port = listen.port();
    let mut origins = vec![format!("http://{listen}")];
    if listen.ip().is_loopback() || listen.ip().is_unspecified() {
        origins.push(format!("http://127.0.0.1:{port}"));
        origins.push(format!("http://localhost:{port}"));
    }
    origins.dedup();
    origins
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    writeln!(file, "{text}")?;
    Ok(())
}
