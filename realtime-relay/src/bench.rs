//! The realtime benchmark: N WebSocket subscribers on loopback against a relay
//! running as its own process (so its memory is measured alone), events
//! published to a channel stream at a steady rate exactly as components publish
//! them. Reports publish→receipt latency (p50/p99), delivered events per second
//! and relay memory per connection (RSS delta / connections).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// PostgreSQL URL (migrated schema; a benchmark user and session are inserted)
    #[arg(long, env = "SENTINEL_DATABASE_URL")]
    pub database_url: String,
    /// Redis URL
    #[arg(long, env = "SENTINEL_REDIS_URL")]
    pub redis_url: String,
    /// Subscriber counts, run one after the other
    #[arg(long, default_value = "1000,10000", value_delimiter = ',')]
    pub subscribers: Vec<usize>,
    /// Events published per second
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// Seconds of publishing per round
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// The relay binary to run (default: this executable)
    #[arg(long)]
    pub relay_binary: Option<PathBuf>,
    /// Concurrent connection attempts while connecting subscribers
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct RoundReport {
    pub subscribers: usize,
    pub published: u64,
    pub expected: u64,
    pub delivered: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub delivered_per_sec: f64,
    pub rss_per_connection_kib: f64,
    pub connect_secs: f64,
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("bad VmRSS")?.parse()?)
}

/// Lift the hard file limit too (root may), then the soft one.
fn raise_fd_limit_hard(wanted: u64) {
    // SAFETY: plain getrlimit/setrlimit on a stack value.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            if limit.rlim_max < wanted {
                let raised = libc::rlimit { rlim_cur: wanted, rlim_max: wanted };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    return;
                }
            }
        }
    }
    crate::raise_fd_limit();
}

/// A user session for the subscribers (quartermaster: may read `events`).
async fn bench_session(database_url: &str, secret: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(database_url, sentinel_pg_tls::connector()).await?;
    tokio::spawn(connection);
    let tag = format!("{:x}", now_ns());
    let user_id: String = client
        .query_one(
            "INSERT INTO users (email, display_name, password_hash, role) VALUES ($1, 'Relay benchmark', 'not-a-login', 'quartermaster') RETURNING id::text",
            &[&format!("relay-bench-{tag}@bench.invalid")],
        )
        .await?
        .get(0);
    let session_id = uuid::Uuid::new_v4().to_string();
    let token = sentinel_auth::session_token::issue(secret, &session_id, &user_id, sentinel_auth::session_token::SessionKind::Password)?;
    client
        .execute(
            "INSERT INTO sessions (id, user_id, token_hash, kind, expires_at) VALUES ($1::text::uuid, $2::text::uuid, $3, 'password', now() + interval '1 day')",
            &[&session_id, &user_id, &sentinel_auth::secret_hash(&token)],
        )
        .await?;
    Ok(token)
}

struct RelayProcess {
    child: std::process::Child,
    url: String,
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

async fn spawn_relay(args: &BenchArgs, secret: &str) -> anyhow::Result<RelayProcess> {
    let binary = match &args.relay_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("sentinel-relay"),
    };
    let port = free_port()?;
    let child = std::process::Command::new(&binary)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{}", free_port()?))
        .arg("--database-url")
        .arg(&args.database_url)
        .arg("--redis-url")
        .arg(&args.redis_url)
        .arg("--jwt-secret")
        .arg(secret)
        .arg("--connections-per-ip-per-minute")
        .arg("1000000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let relay = RelayProcess { child, url: format!("ws://127.0.0.1:{port}/ws") };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            bail!("the relay did not start listening on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(relay)
}

/// Extracts `"sentNs":<digits>` without a full JSON parse (the client side must stay cheap).
fn sent_ns(frame: &str) -> Option<u64> {
    let start = frame.find("\"sentNs\":")? + "\"sentNs\":".len();
    let digits: String = frame[start..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

async fn round(args: &BenchArgs, relay: &RelayProcess, token: &str, subscribers: usize) -> anyhow::Result<RoundReport> {
    let pid = relay.child.id();
    let rss_before = rss_kib(pid)?;
    let received = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let connect_started = Instant::now();
    let mut clients = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let permit = gate.clone().acquire_owned().await?;
        let (url, token, received) = (relay.url.clone(), token.to_string(), received.clone());
        clients.push(tokio::spawn(async move {
            let mut request = url.into_client_request()?;
            request.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
            let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
            let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
            ws.send(Message::Text(r#"{"type":"subscribe","channel":"events"}"#.into())).await?;
            while let Some(message) = ws.next().await {
                if let Message::Text(text) = message? {
                    if text.contains("\"subscribed\"") {
                        break;
                    }
                }
            }
            drop(permit);
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
            let latencies = Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
            let sink = latencies.clone();
            let reader = tokio::spawn(async move {
                let _ = ready_tx.send(());
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Text(text) = message {
                        if let Some(sent) = sent_ns(text.as_str()) {
                            sink.lock().unwrap().push(((now_ns().saturating_sub(sent)) / 1_000) as u32);
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
            let _ = ready_rx.await;
            anyhow::Ok((reader, latencies))
        }));
    }
    let mut readers = Vec::with_capacity(subscribers);
    for client in clients {
        readers.push(client.await??);
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = rss_kib(pid)?;

    // Publish like a component: XADD sentinel:rt:events MAXLEN ~ 10000 * event … ts … data …
    let redis = redis::Client::open(args.redis_url.as_str())?;
    let mut conn = redis.get_multiplexed_async_connection().await?;
    let total = u64::from(args.rate) * args.seconds;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    for seq in 0..total {
        tick.tick().await;
        let data = format!(r#"{{"id":"bench","action":"updated","name":"bench {seq}","status":"active","timestamp":"{}","sentNs":{}}}"#, crate::now_iso(), now_ns());
        let _: String = redis::cmd("XADD")
            .arg("sentinel:rt:events")
            .arg("MAXLEN")
            .arg("~")
            .arg(10_000)
            .arg("*")
            .arg("event")
            .arg("event:update")
            .arg("ts")
            .arg(crate::now_iso())
            .arg("data")
            .arg(data)
            .query_async(&mut conn)
            .await?;
    }
    let expected = total * subscribers as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let delivered = received.load(Ordering::Relaxed);
    let mut latencies: Vec<u32> = Vec::with_capacity(expected as usize);
    for (reader, list) in readers {
        reader.abort();
        let _ = reader.await;
        latencies.extend(list.lock().unwrap().drain(..));
    }
    latencies.sort_unstable();
    let pick = |q: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        latencies[((latencies.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0
    };
    Ok(RoundReport {
        subscribers,
        published: total,
        expected,
        delivered,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        max_ms: pick(1.0),
        delivered_per_sec: delivered as f64 / elapsed,
        rss_per_connection_kib: rss_connected.saturating_sub(rss_before) as f64 / subscribers as f64,
        connect_secs,
    })
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    raise_fd_limit_hard(65_536);
    let secret = format!("relay-bench-{:x}-{:x}", now_ns(), std::process::id());
    let secret = format!("{secret:0<40}");
    let token = bench_session(&args.database_url, &secret).await?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("relay benchmark: {cores} cores, {} events/s for {} s per round, channel `events`", args.rate, args.seconds);
    let mut reports = Vec::new();
    for subscribers in args.subscribers.clone() {
        // A fresh relay per round so the memory delta is this round's connections only.
        let relay = spawn_relay(&args, &secret).await?;
        let report = round(&args, &relay, &token, subscribers).await?;
        println!(
            "  {:>6} subscribers: connected in {:.1} s; delivered {}/{} ({:.0} events/s); latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; relay RSS {:.1} KiB per connection",
            report.subscribers,
            report.connect_secs,
            report.delivered,
            report.expected,
            report.delivered_per_sec,
            report.p50_ms,
            report.p99_ms,
            report.max_ms,
            report.rss_per_connection_kib
        );
        reports.push(report);
        drop(relay);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!();
    println!("| Subscribers | Published | Delivered / expected | Delivered events/s | p50 latency | p99 latency | Max latency | Relay RSS per connection |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &reports {
        println!(
            "| {} | {} | {} / {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} KiB |",
            r.subscribers, r.published, r.delivered, r.expected, r.delivered_per_sec, r.p50_ms, r.p99_ms, r.max_ms, r.rss_per_connection_kib
        );
    }
    Ok(())
}
