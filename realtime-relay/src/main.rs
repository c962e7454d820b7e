//! `sentinel-relay`: run one relay replica, or the realtime benchmark.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sentinel_relay::{Limits, RelayConfig};

#[derive(Parser)]
#[command(name = "sentinel-relay", version, about = "Sentinel realtime relay: Redis channel streams to WebSocket subscribers")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmark against a running relay: N subscribers, steady publishing, latency and memory report.
    Bench(sentinel_relay::bench::BenchArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address of GET /ws
    #[arg(long, env = "SENTINEL_RELAY_LISTEN", default_value = "127.0.0.1:3001")]
    listen: SocketAddr,
    /// Address of GET /metrics (Prometheus text)
    #[arg(long, env = "SENTINEL_RELAY_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    metrics_listen: SocketAddr,
    /// PostgreSQL URL
    #[arg(long, env = "SENTINEL_DATABASE_URL")]
    database_url: Option<String>,
    /// Redis URL
    #[arg(long, env = "SENTINEL_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// The components' jwt_secret
    #[arg(long, env = "SENTINEL_JWT_SECRET")]
    jwt_secret: Option<String>,
    /// production | development; outside development the JWT secret must be at least 32 bytes
    #[arg(long, env = "SENTINEL_ENVIRONMENT", default_value = "production")]
    environment: String,
    /// Allowed browser origins, comma-separated
    #[arg(long, env = "SENTINEL_CORS_ORIGINS", default_value = "http://localhost:3000,http://localhost:5173")]
    cors_origins: String,
    /// The unit's IANA time zone (as the app's `unit_timezone` variable)
    #[arg(long, env = "SENTINEL_UNIT_TIMEZONE", default_value = sentinel_domain::time::OperationalDay::DEFAULT_ZONE)]
    unit_timezone: String,
    /// Local time at which the operational day rolls over, HH:MM (as the app's `day_rollover` variable)
    #[arg(long, env = "SENTINEL_DAY_ROLLOVER", default_value = sentinel_domain::time::OperationalDay::DEFAULT_ROLLOVER)]
    day_rollover: String,
    /// Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed (empty: none), as the app's `trusted_proxies` variable
    #[arg(long, env = "SENTINEL_TRUSTED_PROXIES", default_value = "")]
    trusted_proxies: String,
    /// New connections per client IP per minute
    #[arg(long, env = "SENTINEL_RELAY_CONNECTIONS_PER_IP", default_value_t = 10)]
    connections_per_ip_per_minute: usize,
    /// Concurrent connections per API key
    #[arg(long, env = "SENTINEL_RELAY_CONNECTIONS_PER_KEY", default_value_t = 5)]
    connections_per_key: usize,
    /// Seconds between checks for due scheduled jobs (daily reset, lockup reminders); 0 disables them here
    #[arg(long, env = "SENTINEL_RELAY_JOBS_INTERVAL", default_value_t = 60)]
    jobs_interval_secs: u64,
}

fn main() {
    let cli = Cli::parse();
    sentinel_relay::raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let outcome = runtime.block_on(async move {
        match cli.command {
            Some(Command::Bench(args)) => sentinel_relay::bench::run(args).await,
            None => serve(cli.serve).await,
        }
    });
    if let Err(err) = outcome {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let jwt_secret = args.jwt_secret.context("no JWT secret: pass --jwt-secret or set SENTINEL_JWT_SECRET")?;
    sentinel_auth::session_token::check_environment(&args.environment, &jwt_secret)?;
    let mut config = RelayConfig::new(
        args.database_url.context("no database URL: pass --database-url or set SENTINEL_DATABASE_URL")?,
        args.redis_url,
        jwt_secret,
    );
    config.listen = args.listen;
    config.metrics_listen = args.metrics_listen;
    config.cors_origins = args.cors_origins.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
    config.operational_day =
        sentinel_domain::time::OperationalDay::parse(Some(&args.unit_timezone), Some(&args.day_rollover)).map_err(anyhow::Error::msg)?;
    config.trusted_proxies = sentinel_http::client_addr::TrustedProxies::parse(&args.trusted_proxies).map_err(anyhow::Error::msg)?;
    config.limits = Limits {
        connections_per_ip_per_minute: args.connections_per_ip_per_minute,
        connections_per_key: args.connections_per_key,
        jobs_interval: (args.jobs_interval_secs > 0).then(|| Duration::from_secs(args.jobs_interval_secs)),
        ..Limits::default()
    };
    let relay = sentinel_relay::start(config).await?;
    println!("relay listening on ws://{}/ws (metrics http://{}/metrics)", relay.addr(), relay.metrics_addr());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    println!("draining");
    tokio::time::timeout(Duration::from_secs(10), relay.shutdown()).await.ok();
    Ok(())
}
