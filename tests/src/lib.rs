//! sentinel_tests: the integration-test harness. Real parts only: a real PostgreSQL and Redis (private,
//! throwaway, one pair per test process), the real .wasm components, served by the real host.
//!
//! Everything asynchronous runs on ONE multi-thread tokio runtime owned by the harness, so shared
//! servers outlive any per-test runtime. All helpers here are blocking and callable from plain
//! `#[test]`s and from inside `#[tokio::test]`s alike (they hand the work to the harness runtime and
//! wait for it). Server processes are spawned from a dedicated long-lived thread (they are tied to it
//! with a parent-death signal) and stopped when the test process exits.
//!
//! Prerequisites (scripts/test installs them): PostgreSQL server binaries, redis-server, and the
//! wasm32-wasip2 Rust target.

pub mod browser;
mod contract;
pub mod fixtures;
pub mod relay;

use anyhow::{anyhow, Context, Result};
use sentinel_ops::build::ComponentBuild;
use sentinel_ops::services::{free_port, Durability, PostgresOptions, PostgresServer, RedisOptions, RedisServer};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

/// jwt_secret of the shared [`app()`] (development environment).
pub const TEST_JWT_SECRET: &str = "sentinel-integration-tests-jwt-secret-0123456789abcdef";
/// metrics_token of the shared [`app()`]: `Authorization: Bearer <this>` opens /metrics.
pub const TEST_METRICS_TOKEN: &str = "sentinel-test-metrics-token";

// ------------------------------------------------------------------ runtime and service thread

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .thread_name("sentinel-harness")
            .enable_all()
            .build()
            .expect("building the harness tokio runtime")
    })
}

/// Handle of the harness runtime (to spawn long-lived tasks that must outlive a test's own runtime).
pub fn runtime_handle() -> tokio::runtime::Handle {
    runtime().handle().clone()
}

/// Run a future on the harness runtime and wait for its output. Works from any thread, including
/// inside another tokio runtime (the calling thread just blocks). Panics in the future propagate.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if let Ok(current) = tokio::runtime::Handle::try_current() {
        if current.id() == runtime().handle().id() {
            // Already on a harness worker: blocking it on a channel could starve the very task we
            // wait for (tokio's non-stealable LIFO slot), so hand the worker's duties off first.
            return tokio::task::block_in_place(|| current.block_on(future));
        }
    }
    let task = runtime().spawn(future);
    let (tx, rx) = mpsc::channel();
    runtime().spawn(async move {
        let _ = tx.send(task.await);
    });
    match rx.recv().expect("the harness runtime is gone") {
        Ok(output) => output,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => panic!("harness task was cancelled"),
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Run `job` on the harness's process-spawning thread. Server processes die with the thread that
/// spawned them (PR_SET_PDEATHSIG), so they must not be spawned from short-lived test threads.
fn on_service_thread<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    static JOBS: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let sender = JOBS.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sentinel-services".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("spawning the service thread");
        Mutex::new(tx)
    });
    let (tx, rx) = mpsc::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
    });
    sender.lock().unwrap().send(job).expect("service thread gone");
    match rx.recv().expect("service thread gone") {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

// ------------------------------------------------------------------ paths and scratch space

/// The repository root (the Cargo workspace).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A fresh directory under the system temp dir, removed at process exit (and by its owner's Drop).
fn scratch_dir(label: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(remove_scratch_of_dead_processes);
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sentinel-test-{}-{}-{}", std::process::id(), label, n));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    exit_cleanup().lock().unwrap().dirs.push(dir.clone());
    dir
}

/// Test processes that were killed (no exit hooks) leave their scratch directories behind.
fn remove_scratch_of_dead_processes() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix("sentinel-test-").and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM };
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

// ------------------------------------------------------------------ process-exit cleanup

#[derive(Default)]
struct ExitCleanup {
    postgres: Vec<Arc<Mutex<PostgresServer>>>,
    redis: Vec<Arc<Mutex<RedisServer>>>,
    dirs: Vec<PathBuf>,
}

fn exit_cleanup() -> &'static Mutex<ExitCleanup> {
    static CLEANUP: OnceLock<Mutex<ExitCleanup>> = OnceLock::new();
    CLEANUP.get_or_init(|| {
        extern "C" fn at_exit() {
            let Some(cleanup) = CLEANUP_REF.get() else { return };
            // try_lock: never hang process exit on a lock a dying thread held.
            let Ok(mut cleanup) = cleanup.try_lock() else { return };
            for redis in cleanup.redis.drain(..) {
                if let Ok(mut redis) = redis.try_lock() {
                    redis.stop();
                }
            }
            for pg in cleanup.postgres.drain(..) {
                if let Ok(mut pg) = pg.try_lock() {
                    pg.stop();
                }
            }
            for dir in cleanup.dirs.drain(..) {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        // SAFETY: registering a plain extern "C" function.
        unsafe {
            libc::atexit(at_exit);
        }
        Mutex::new(ExitCleanup::default())
    });
    let cleanup = CLEANUP.get().unwrap();
    let _ = CLEANUP_REF.set(cleanup);
    cleanup
}

static CLEANUP_REF: OnceLock<&'static Mutex<ExitCleanup>> = OnceLock::new();

// ------------------------------------------------------------------ PostgreSQL + Redis

/// The throwaway PostgreSQL + Redis of this test process (migrated).
#[derive(Clone, Debug)]
pub struct Services {
    pub database_url: String,
    pub redis_url: String,
    pub pg_port: u16,
    pub redis_port: u16,
}

struct ServerPair {
    postgres: Arc<Mutex<PostgresServer>>,
    redis: Arc<Mutex<RedisServer>>,
    dir: PathBuf,
}

/// Start a migrated PostgreSQL and a Redis under a fresh scratch directory.
fn start_server_pair(label: &str) -> Result<ServerPair> {
    start_server_pair_with(label, Durability::Throwaway)
}

/// [`start_server_pair`] with Redis of the given durability (persistent: append-only file, so a
/// restart keeps the streams as a production Redis does).
fn start_server_pair_with(label: &str, redis_durability: Durability) -> Result<ServerPair> {
    let dir = scratch_dir(label);
    let (pg_dir, redis_dir) = (dir.join("pg"), dir.join("redis"));
    let (postgres, redis) = on_service_thread(move || -> Result<_> {
        let postgres = PostgresServer::start(PostgresOptions { data_dir: pg_dir, port: free_port()?, durability: Durability::Throwaway })?;
        let redis = RedisServer::start(RedisOptions { dir: redis_dir, port: free_port()?, durability: redis_durability })?;
        Ok((postgres, redis))
    })?;
    let database_url = postgres.database_url();
    let postgres = Arc::new(Mutex::new(postgres));
    let redis = Arc::new(Mutex::new(redis));
    {
        let mut cleanup = exit_cleanup().lock().unwrap();
        cleanup.postgres.push(postgres.clone());
        cleanup.redis.push(redis.clone());
    }
    block_on(async move { sentinel_ops::migrate::migrate_url(&database_url).await })?;
    Ok(ServerPair { postgres, redis, dir })
}

/// The process-wide PostgreSQL + Redis (started and migrated on first use, stopped at exit).
pub fn services() -> &'static Services {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    SERVICES.get_or_init(|| {
        let pair = start_server_pair("shared").unwrap_or_else(|err| panic!("\n\nsentinel_tests: cannot start PostgreSQL/Redis: {err:#}\n\n"));
        let postgres = pair.postgres.lock().unwrap();
        let redis = pair.redis.lock().unwrap();
        Services { database_url: postgres.database_url(), redis_url: redis.url(), pg_port: postgres.port(), redis_port: redis.port() }
    })
}

// ------------------------------------------------------------------ components

fn probe_component(root: &Path) -> ComponentBuild {
    ComponentBuild {
        id: "probe".into(),
        wasm: root.join("target/wasm32-wasip2/release/sentinel_probe.wasm"),
        command: Some("cargo build --target wasm32-wasip2 --release -p sentinel-probe".into()),
        workdir: root.to_path_buf(),
        watch: vec!["tests/fixtures/probe/src/**/*.rs".into(), "tests/fixtures/probe/Cargo.toml".into()],
    }
}

/// Every component the tests run: those of spin.toml, of tests/fixtures/spin.toml (if present) and the probe.
pub fn test_components() -> Result<Vec<ComponentBuild>> {
    let root = workspace_root();
    let mut all = sentinel_ops::build::manifest_components(&root.join("spin.toml"))?;
    let fixture_manifest = root.join("tests/fixtures/spin.toml");
    if fixture_manifest.is_file() {
        all.extend(sentinel_ops::build::manifest_components(&fixture_manifest)?);
    }
    all.push(probe_component(&root));
    let mut seen = std::collections::HashSet::new();
    all.retain(|c| seen.insert(c.wasm.clone()));
    Ok(all)
}

/// Build (once per process, only what is stale) all components of spin.toml plus the probe fixture.
/// Running `cargo build` from inside `cargo test` is safe: cargo releases its build lock before it runs
/// test binaries (checked empirically). With SENTINEL_TEST_PREBUILT=1 nothing is built; missing .wasm
/// files then fail with instructions.
pub fn build_components() {
    static BUILT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    let outcome = BUILT.get_or_init(|| {
        let components = test_components().map_err(|e| format!("{e:#}"))?;
        if std::env::var("SENTINEL_TEST_PREBUILT").is_ok_and(|v| v == "1") {
            let missing: Vec<String> = components.iter().filter(|c| !c.wasm.is_file()).map(|c| c.wasm.display().to_string()).collect();
            if !missing.is_empty() {
                return Err(format!("missing prebuilt components {missing:?}; run scripts/test (it builds them first)"));
            }
            return Ok(());
        }
        sentinel_ops::build::build_components(&workspace_root(), &components, false).map(|_| ()).map_err(|e| format!("{e:#}"))
    });
    if let Err(message) = outcome {
        panic!("\n\nsentinel_tests: building the wasm components failed: {message}\n\n");
    }
}

// ------------------------------------------------------------------ host

/// A running host — the local host in-process, or a real `spin up` when `SENTINEL_SPIN_BIN` names a
/// `spin` binary — stopped (gracefully) on drop.
pub struct HostHandle {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub base_url: String,
    pub addr: SocketAddr,
    host: Mutex<Option<Server>>,
}

enum Server {
    Local(sentinel_host::RunningHost),
    Spin(sentinel_ops::services::SpinServer),
}

impl HostHandle {
    /// A started host; one serving the production spin.toml has its responses checked against the
    /// OpenAPI document (see `contract`).
    fn new(base_url: String, addr: SocketAddr, server: Server, manifest: &Path) -> Self {
        let production = workspace_root().join("spin.toml");
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if same(manifest, &production) {
            contract::register(&base_url);
        }
        HostHandle { base_url, addr, host: Mutex::new(Some(server)) }
    }

    /// Stop now (also what Drop does).
    pub fn shutdown(&self) {
        contract::unregister(&self.base_url);
        match self.host.lock().unwrap().take() {
            Some(Server::Local(host)) => block_on(host.shutdown()),
            Some(Server::Spin(mut spin)) => spin.stop(),
            None => {}
        }
    }

    /// Routes as the local host printed them ("Available Routes"); empty on real Spin.
    pub fn routes(&self) -> Vec<(String, String)> {
        match self.host.lock().unwrap().as_ref() {
            Some(Server::Local(h)) => h.routes(),
            _ => Vec::new(),
        }
    }

    /// Everything real Spin has logged so far (its own lines and the guests' stderr); None for
    /// the in-process host, whose output goes to this process's stderr.
    pub fn spin_log(&self) -> Option<String> {
        match self.host.lock().unwrap().as_ref() {
            Some(Server::Spin(spin)) => Some(spin.log()),
            _ => None,
        }
    }
}

impl Drop for HostHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn wasm_cache_dir() -> Option<PathBuf> {
    match std::env::var("SENTINEL_TEST_WASM_CACHE").as_deref() {
        Ok("off") => None,
        Ok(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => Some(workspace_root().join("target/sentinel-wasm-cache")),
    }
}

/// The real `spin` binary the suite runs against (`SENTINEL_SPIN_BIN`), if any.
pub fn real_spin() -> Option<PathBuf> {
    std::env::var_os("SENTINEL_SPIN_BIN").filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// For tests that inspect the local host itself (its compatibility modes, timeouts, logs):
/// true — after saying so — when the suite runs against real Spin, so the test returns early.
pub fn skip_on_real_spin(test: &str) -> bool {
    let skip = real_spin().is_some();
    if skip {
        eprintln!("{test}: skipped on real Spin (it inspects the local host)");
    }
    skip
}

/// The Spin release the in-process host reproduces: `SENTINEL_SPIN_COMPAT` (3.6, 4.0 or 4.1),
/// strict 4.0 by default so that a query matching no row fails its test.
pub fn spin_compat() -> sentinel_host::SpinCompat {
    match std::env::var("SENTINEL_SPIN_COMPAT") {
        Ok(v) if !v.is_empty() => v.parse().unwrap_or_else(|e| panic!("SENTINEL_SPIN_COMPAT: {e}")),
        _ => sentinel_host::SpinCompat::default(),
    }
}

/// Serve `manifest` on an ephemeral 127.0.0.1 port with `variables` (Spin's `--variable`s): on
/// real Spin when `SENTINEL_SPIN_BIN` is set, else on the in-process host in [`spin_compat`] mode.
/// Does not build anything: call [`build_components`] first.
pub fn start_host(manifest: &Path, variables: HashMap<String, String>) -> Result<HostHandle> {
    match real_spin() {
        Some(binary) => start_real_spin(binary, manifest, variables),
        None => start_local_host(manifest, variables, spin_compat()),
    }
}

/// The Spin release the suite runs against: real Spin's own version (`spin --version`) when
/// `SENTINEL_SPIN_BIN` is set, else the in-process host's [`spin_compat`] mode.
pub fn spin_release() -> sentinel_host::SpinCompat {
    static RELEASE: OnceLock<sentinel_host::SpinCompat> = OnceLock::new();
    *RELEASE.get_or_init(|| {
        let Some(binary) = real_spin() else { return spin_compat() };
        let output = std::process::Command::new(&binary).arg("--version").output().unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        // "spin 4.0.2 (bfc7543 2026-06-23)"
        let version = text.split_whitespace().nth(1).unwrap_or_default();
        let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        minor.parse().unwrap_or_else(|_| panic!("{} --version said {text:?}: not a release the suite knows", binary.display()))
    })
}

/// [`start_host`] on the in-process host in the given compatibility mode.
pub fn start_local_host(manifest: &Path, variables: HashMap<String, String>, spin_compat: sentinel_host::SpinCompat) -> Result<HostHandle> {
    start_local_host_with_timeout(manifest, variables, spin_compat, None)
}

/// [`start_local_host`] with its own request timeout (a process-wide environment variable would
/// reach hosts that other tests start meanwhile).
pub fn start_local_host_with_timeout(
    manifest: &Path,
    variables: HashMap<String, String>,
    spin_compat: sentinel_host::SpinCompat,
    request_timeout: Option<std::time::Duration>,
) -> Result<HostHandle> {
    let config = sentinel_host::HostConfig {
        manifest_path: manifest.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        variables,
        cache_dir: wasm_cache_dir(),
        max_in_flight: 256,
        spin_compat,
        request_timeout,
    };
    let host = block_on(sentinel_host::start(config)).with_context(|| format!("starting the host for {}", manifest.display()))?;
    let addr = host.addr();
    Ok(HostHandle::new(format!("http://{addr}"), addr, Server::Local(host), manifest))
}

fn start_real_spin(binary: PathBuf, manifest: &Path, variables: HashMap<String, String>) -> Result<HostHandle> {
    let options = sentinel_ops::services::SpinOptions {
        binary,
        manifest: manifest.to_path_buf(),
        port: free_port()?,
        variables,
        dir: scratch_dir("spin"),
    };
    let spin = sentinel_ops::services::SpinServer::start(options).with_context(|| format!("starting real Spin for {}", manifest.display()))?;
    let addr: SocketAddr = format!("127.0.0.1:{}", spin.port()).parse().unwrap();
    Ok(HostHandle::new(format!("http://{addr}"), addr, Server::Spin(spin), manifest))
}

/// Host variables for the production spin.toml against the given servers (development environment).
pub fn app_variables(database_url: &str, redis_url: &str) -> HashMap<String, String> {
    let settings = sentinel_ops::config::Settings {
        database_url: database_url.to_string(),
        redis_url: redis_url.to_string(),
        jwt_secret: TEST_JWT_SECRET.to_string(),
        environment: "development".to_string(),
    };
    let mut vars = settings.host_variables().expect("valid service URLs");
    vars.insert("metrics_token".into(), TEST_METRICS_TOKEN.into());
    // Parallel tests share a few principals; the spec's limits are pinned by
    // tests that start their own host with `rate_limits` set (tests/tests/auth.rs).
    vars.insert("rate_limits".into(), RELAXED_RATE_LIMITS.into());
    vars
}

pub const RELAXED_RATE_LIMITS: &str = "user=1000000/60,kiosk=1000000/60,scan=1000000/60,key=1000000/60,anonymous=1000000/60,login_ip=1000000/900";

/// The shared application: the production spin.toml on [`services()`].
pub struct App {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub base_url: String,
    pub variables: HashMap<String, String>,
    host: HostHandle,
    /// Appends the outbox to the streams, as every relay replica does (tests that start no relay see
    /// the events in Redis too).
    _outbox: sentinel_relay::outbox::Publisher,
}

/// An outbox publisher on the harness runtime (the relay's loop, without a relay).
pub fn start_outbox_publisher(database_url: &str, redis_url: &str) -> sentinel_relay::outbox::Publisher {
    let (database_url, redis_url) = (database_url.to_string(), redis_url.to_string());
    block_on(async move { sentinel_relay::outbox::Publisher::start(&database_url, &redis_url, Duration::from_millis(20)) })
        .expect("starting the outbox publisher")
}

impl App {
    pub fn addr(&self) -> SocketAddr {
        self.host.addr
    }

    /// See [`HostHandle::spin_log`].
    pub fn spin_log(&self) -> Option<String> {
        self.host.spin_log()
    }
}

/// The production spin.toml served once per process against [`services()`].
pub fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let services = services();
        build_components();
        let variables = app_variables(&services.database_url, &services.redis_url);
        let host = start_host(&workspace_root().join("spin.toml"), variables.clone())
            .unwrap_or_else(|err| panic!("\n\nsentinel_tests: cannot start the app: {err:#}\n\n"));
        let outbox = start_outbox_publisher(&services.database_url, &services.redis_url);
        App { base_url: host.base_url.clone(), variables, host, _outbox: outbox }
    })
}

// ------------------------------------------------------------------ isolated stacks

/// A private PostgreSQL + Redis + host of spin.toml, for tests that stop servers or otherwise
/// disturb shared state. Everything is stopped and deleted on drop.
pub struct IsolatedStack {
    host: Option<HostHandle>,
    outbox: Option<sentinel_relay::outbox::Publisher>,
    postgres: Arc<Mutex<PostgresServer>>,
    redis: Arc<Mutex<RedisServer>>,
    dir: PathBuf,
    database_url: String,
    redis_url: String,
    pub variables: HashMap<String, String>,
}

/// Start an [`IsolatedStack`].
pub fn isolated_stack() -> Result<IsolatedStack> {
    isolated_stack_with(Durability::Throwaway)
}

/// An [`IsolatedStack`] whose Redis keeps its data across [`IsolatedStack::stop_redis`] and
/// [`IsolatedStack::start_redis`], as a production Redis with an append-only file does.
pub fn isolated_stack_with_durable_redis() -> Result<IsolatedStack> {
    isolated_stack_with(Durability::Persistent)
}

fn isolated_stack_with(redis_durability: Durability) -> Result<IsolatedStack> {
    build_components();
    let pair = start_server_pair_with("isolated", redis_durability)?;
    let database_url = pair.postgres.lock().unwrap().database_url();
    let redis_url = pair.redis.lock().unwrap().url();
    let variables = app_variables(&database_url, &redis_url);
    let mut stack = IsolatedStack {
        host: None,
        outbox: None,
        postgres: pair.postgres,
        redis: pair.redis,
        dir: pair.dir,
        database_url,
        redis_url,
        variables: variables.clone(),
    };
    stack.host = Some(start_host(&workspace_root().join("spin.toml"), variables)?);
    stack.outbox = Some(start_outbox_publisher(&stack.database_url, &stack.redis_url));
    Ok(stack)
}

impl IsolatedStack {
    pub fn base_url(&self) -> &str {
        &self.host.as_ref().expect("host running").base_url
    }
    pub fn database_url(&self) -> &str {
        &self.database_url
    }
    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }
    /// Fast shutdown of PostgreSQL (connections drop; port closed).
    pub fn stop_postgres(&self) {
        let pg = self.postgres.clone();
        on_service_thread(move || pg.lock().unwrap().stop());
    }
    /// Start PostgreSQL again on the same port with the same data.
    pub fn start_postgres(&self) {
        let pg = self.postgres.clone();
        on_service_thread(move || pg.lock().unwrap().restart()).expect("restarting PostgreSQL");
    }
    pub fn stop_redis(&self) {
        let redis = self.redis.clone();
        on_service_thread(move || redis.lock().unwrap().stop());
    }
    /// Start Redis again on the same port (its data is gone unless the stack has durable Redis).
    pub fn start_redis(&self) {
        let redis = self.redis.clone();
        on_service_thread(move || redis.lock().unwrap().restart()).expect("restarting Redis");
    }
    /// Rows of `query` against this stack's database (see [`sql`]).
    pub fn sql(&self, query: &str) -> Vec<Value> {
        sql_at(&self.database_url, query).unwrap_or_else(|e| panic!("{e:#}"))
    }
    pub fn sql_exec(&self, statements: &str) {
        sql_exec_at(&self.database_url, statements).unwrap_or_else(|e| panic!("{e:#}"))
    }
}

impl Drop for IsolatedStack {
    fn drop(&mut self) {
        drop(self.host.take());
        drop(self.outbox.take());
        self.redis.lock().unwrap().stop();
        self.postgres.lock().unwrap().stop();
        let mut cleanup = exit_cleanup().lock().unwrap();
        cleanup.postgres.retain(|p| !Arc::ptr_eq(p, &self.postgres));
        cleanup.redis.retain(|r| !Arc::ptr_eq(r, &self.redis));
        cleanup.dirs.retain(|d| d != &self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ------------------------------------------------------------------ SQL

/// A connection to [`services()`]'s database, driven by the harness runtime (usable from any runtime).
pub fn db() -> &'static tokio_postgres::Client {
    static DB: OnceLock<tokio_postgres::Client> = OnceLock::new();
    DB.get_or_init(|| {
        let url = services().database_url.clone();
        block_on(async move { sentinel_ops::connect(&url).await }).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

/// Turn a row-returning statement into one returning each row as JSON. The statement becomes the
/// last CTE (so INSERT/UPDATE/DELETE ... RETURNING work); a statement with its own top-level WITH
/// list gets `sentinel_rows` appended to that list, since data-modifying CTEs cannot be nested.
fn wrap_rows(query: &str) -> String {
    let query = query.trim().trim_end_matches(';').trim_end();
    if let Some(split) = sentinel_http::statement::with_list_end(query) {
        let (ctes, last) = query.split_at(split);
        return format!("{ctes}, sentinel_rows AS ({last}) SELECT row_to_json(sentinel_rows) FROM sentinel_rows");
    }
    format!("WITH sentinel_rows AS ({query}) SELECT row_to_json(sentinel_rows) FROM sentinel_rows")
}

/// Rows of a SELECT against [`services()`], each as a JSON object (column name -> value, via `row_to_json`,
/// so timestamptz come back as ISO text). Panics on SQL errors.
pub fn sql(query: &str) -> Vec<Value> {
    try_sql(query).unwrap_or_else(|e| panic!("{e:#}"))
}

/// [`sql`] returning the error instead of panicking.
pub fn try_sql(query: &str) -> Result<Vec<Value>> {
    let wrapped = wrap_rows(query);
    let original = query.to_string();
    let client = db();
    block_on(async move {
        let rows = client.query(wrapped.as_str(), &[]).await.map_err(|e| anyhow!("SQL failed: {}\n  query: {original}", describe_pg_error(&e)))?;
        Ok(rows.iter().map(|row| row.get::<_, Value>(0)).collect())
    })
}

/// Execute statements (one or several, `;`-separated) against [`services()`]. Panics on errors.
pub fn sql_exec(statements: &str) {
    let owned = statements.to_string();
    let client = db();
    block_on(async move { client.batch_execute(&owned).await.map_err(|e| anyhow!("SQL failed: {}\n  statements: {owned}", describe_pg_error(&e))) })
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// [`sql`] against any database URL (a fresh connection per call).
pub fn sql_at(database_url: &str, query: &str) -> Result<Vec<Value>> {
    let (url, wrapped) = (database_url.to_string(), wrap_rows(query));
    block_on(async move {
        let client = sentinel_ops::connect(&url).await?;
        let rows = client.query(wrapped.as_str(), &[]).await.map_err(|e| anyhow!("SQL failed: {}", describe_pg_error(&e)))?;
        Ok(rows.iter().map(|row| row.get::<_, Value>(0)).collect())
    })
}

/// [`sql_exec`] against any database URL.
pub fn sql_exec_at(database_url: &str, statements: &str) -> Result<()> {
    let (url, owned) = (database_url.to_string(), statements.to_string());
    block_on(async move {
        let client = sentinel_ops::connect(&url).await?;
        client.batch_execute(&owned).await.map_err(|e| anyhow!("SQL failed: {}", describe_pg_error(&e)))
    })
}

fn describe_pg_error(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => err.to_string(),
    }
}

// ------------------------------------------------------------------ HTTP

/// An HTTP response, fully read.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// Parsed JSON body; `Value::Null` when empty or not JSON.
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// A header's value as text (first value; None if absent or not visible ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn http_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building the HTTP client")
    })
}

/// `url` if absolute (`http://...`), else [`app()`]'s base URL + `url`.
fn resolve(url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!("{}{}", app().base_url, url)
    }
}

/// Send a request with raw bytes. `url` is absolute or a path on [`app()`]. Panics on transport errors.
pub fn request_bytes(method: &str, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Resp {
    try_request_bytes(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e:#}"))
}

/// [`request_bytes`] returning transport errors (connection refused, timeout) instead of panicking.
/// A response of a host serving the production spin.toml must be one the OpenAPI document allows
/// (see `contract`): otherwise this panics with the operation, the status and the validation errors.
pub fn try_request_bytes(method: &str, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Result<Resp> {
    let method_name = method.to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes()).context("invalid HTTP method")?;
    let url = resolve(url);
    let checked_url = url.clone();
    let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    block_on(async move {
        let mut builder = http_client().request(method, &url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp { status, headers, body, text })
    })
    .inspect(|response| contract::check(&method_name, &checked_url, response))
}

/// Send a request with an optional JSON body (Content-Type set unless given). `url` absolute or a path on [`app()`].
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Resp {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    let bytes = body.map(|b| serde_json::to_vec(b).expect("serialising JSON"));
    if bytes.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        all.push(("content-type", "application/json"));
    }
    request_bytes(method, url, &all, bytes)
}

pub fn get(path: &str) -> Resp {
    request("GET", path, &[], None)
}

pub fn post_json(path: &str, body: &Value) -> Resp {
    request("POST", path, &[], Some(body))
}

pub fn put_json(path: &str, body: &Value) -> Resp {
    request("PUT", path, &[], Some(body))
}

pub fn patch_json(path: &str, body: &Value) -> Resp {
    request("PATCH", path, &[], Some(body))
}

pub fn delete(path: &str) -> Resp {
    request("DELETE", path, &[], None)
}

/// Poll `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::wrap_rows;

    #[test]
    fn plain_and_data_modifying_statements_become_the_last_cte() {
        assert_eq!(wrap_rows("SELECT 1;"), "WITH sentinel_rows AS (SELECT 1) SELECT row_to_json(sentinel_rows) FROM sentinel_rows");
        assert_eq!(
            wrap_rows("WITH b (x) AS (UPDATE t SET v = ')' RETURNING id), c AS (SELECT 1) UPDATE m SET y = (1) RETURNING id"),
            "WITH b (x) AS (UPDATE t SET v = ')' RETURNING id), c AS (SELECT 1), sentinel_rows AS ( UPDATE m SET y = (1) RETURNING id) \
             SELECT row_to_json(sentinel_rows) FROM sentinel_rows"
        );
    }
}

/// Waits until every event committed so far on [`services()`] has left the outbox for the channel
/// streams (docs/architecture.md, "Realtime"); panics after 10 s.
pub fn wait_for_outbox() {
    wait_for_outbox_at(&services().database_url)
}

/// [`wait_for_outbox`] for another database (an isolated stack's).
pub fn wait_for_outbox_at(database_url: &str) {
    let newest = sql_at(database_url, "SELECT coalesce(max(id), 0) AS n FROM event_outbox").expect("reading the outbox")[0]["n"].as_i64().unwrap_or(0);
    let drained = wait_until(Duration::from_secs(10), || {
        sql_at(database_url, &format!("SELECT count(*) AS n FROM event_outbox WHERE id <= {newest}"))
            .is_ok_and(|rows| rows[0]["n"].as_i64() == Some(0))
    });
    assert!(drained, "the outbox was not published within 10 s (is a publisher running?)");
}
