//! Private PostgreSQL and Redis servers started from the system's server binaries.
//!
//! Both supervisors are synchronous (plain `std::process`) so they can be stopped from `Drop`
//! and from process-exit hooks. Children get a parent-death signal: if the thread that spawned
//! them dies (crash, SIGKILL of the CLI), they shut down instead of lingering. Spawn them from a
//! long-lived thread (the CLI's main thread, the test harness's service thread).

use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Name of the database every Sentinel deployment uses.
pub const DATABASE_NAME: &str = "sentinel";

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).context("binding an ephemeral port")?;
    Ok(listener.local_addr()?.port())
}

/// `preferred` if it can be bound on 127.0.0.1 right now, else a free port.
pub fn port_or_free(preferred: u16) -> Result<u16> {
    if port_is_free(preferred) {
        Ok(preferred)
    } else {
        free_port()
    }
}

pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// How a server is run: persistent (`sentinel up`) or throwaway (tests: no fsync, no persistence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    Persistent,
    Throwaway,
}

// ------------------------------------------------------------------ process helpers

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// uid/gid of a system user, read from /etc/passwd (no NSS dependency needed for system users).
fn system_user(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() > 3 && fields[0] == name {
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        } else {
            None
        }
    })
}

/// Ask the kernel to send `signal` to the child when the spawning thread dies.
/// Also moves the child into its own process group, so a terminal's Ctrl-C reaches only the
/// supervisor, which then stops the servers in order.
fn die_with_parent(cmd: &mut Command, signal: libc::c_int) {
    cmd.process_group(0);
    // SAFETY: prctl and getppid are async-signal-safe; nothing is allocated in the closure.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may already be gone between fork and prctl.
            if libc::getppid() == 1 {
                libc::raise(signal);
            }
            Ok(())
        });
    }
}

fn send_signal(child: &Child, signal: libc::c_int) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
}

/// Signal the child, wait up to `grace`, then SIGKILL. Returns when the child is reaped.
fn stop_child(child: &mut Child, signal: libc::c_int, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    send_signal(child, signal);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Last `max` bytes of a log file, for error messages.
fn log_tail(path: &Path, max: u64) -> String {
    let Ok(mut file) = fs::File::open(path) else { return String::new() };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    text
}

fn open_log(path: &Path) -> Result<(Stdio, Stdio)> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening log file {}", path.display()))?;
    Ok((Stdio::from(file.try_clone()?), Stdio::from(file)))
}

fn tcp_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(), Duration::from_millis(200)).is_ok()
}

// ------------------------------------------------------------------ PostgreSQL

/// Directory holding `initdb`, `postgres` and `psql`: the highest /usr/lib/postgresql/<v>/bin, else PATH.
pub fn postgres_bin_dir() -> Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        if bin.join("initdb").is_file() {
            return Ok(bin);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("postgres").is_file() && dir.join("initdb").is_file() {
                return Ok(dir);
            }
        }
    }
    bail!(
        "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH. \
         Install them with `apt-get install -y postgresql` (the Debian service does not need to run; \
         Sentinel starts its own private server)."
    )
}

#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Data directory (created if missing; initialised on first start).
    pub data_dir: PathBuf,
    pub port: u16,
    pub durability: Durability,
}

/// A private PostgreSQL server on 127.0.0.1. Trust authentication, loopback only, superuser
/// `postgres`, database [`DATABASE_NAME`]. Stopped on drop.
pub struct PostgresServer {
    options: PostgresOptions,
    bin_dir: PathBuf,
    /// (uid, gid) to run as: PostgreSQL refuses to run as root.
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
}

impl PostgresServer {
    /// Initialise (if needed) and start the server, wait until it accepts connections and make
    /// sure the `sentinel` database exists.
    pub fn start(options: PostgresOptions) -> Result<PostgresServer> {
        let bin_dir = postgres_bin_dir()?;
        let run_as = if is_root() {
            Some(system_user("postgres").ok_or_else(|| {
                anyhow!(
                    "running as root but there is no `postgres` system user to run PostgreSQL as; \
                     install the server with `apt-get install -y postgresql`"
                )
            })?)
        } else {
            None
        };
        let mut server = PostgresServer { options, bin_dir, run_as, child: None };
        server.restart()?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.options.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.options.data_dir
    }

    /// `postgres://postgres@127.0.0.1:<port>/sentinel?sslmode=disable`
    pub fn database_url(&self) -> String {
        self.url_for(DATABASE_NAME)
    }

    /// URL of another database on this server.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}?sslmode=disable", self.options.port, database)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    fn log_path(&self) -> PathBuf {
        let name = self.options.data_dir.file_name().and_then(|n| n.to_str()).unwrap_or("postgres");
        self.options.data_dir.with_file_name(format!("{name}.log"))
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.current_dir("/").env_remove("PGDATA").env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Create and hand the data directory to the postgres user; make its parents traversable.
    fn prepare_data_dir(&self) -> Result<()> {
        let dir = &self.options.data_dir;
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        if let Some((uid, gid)) = self.run_as {
            // Temporary directories are 0700 root; the postgres user must be able to reach the data dir.
            let mut parent = dir.parent();
            while let Some(p) = parent {
                if p.as_os_str().is_empty() || p == Path::new("/") {
                    break;
                }
                let mode = fs::metadata(p)?.permissions().mode();
                if mode & 0o001 == 0 {
                    eprintln!("note: making {} traversable (o+x) so the postgres user can reach its data directory", p.display());
                    fs::set_permissions(p, fs::Permissions::from_mode(mode | 0o011))?;
                }
                parent = p.parent();
            }
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).with_context(|| format!("chown {}", dir.display()))?;
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        Ok(())
    }

    fn initdb_if_needed(&self) -> Result<()> {
        let dir = &self.options.data_dir;
        if dir.join("PG_VERSION").is_file() {
            return Ok(());
        }
        self.prepare_data_dir()?;
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(dir)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"])
            .stdin(Stdio::null());
        if self.options.durability == Durability::Throwaway {
            cmd.arg("--no-sync");
        }
        let output = cmd.output().context("running initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed for {}:\n{}{}",
                dir.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// Start a stopped server again (same port and data directory).
    pub fn restart(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.initdb_if_needed()?;
        let log = self.log_path();
        let (stdout, stderr) = open_log(&log)?;
        let dir = &self.options.data_dir;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(dir)
            .args(["-p", &self.options.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.display()))
            .args(["-c", "timezone=UTC", "-c", "log_timezone=UTC", "-c", "max_connections=300"])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        if self.options.durability == Durability::Throwaway {
            cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        // SIGINT = PostgreSQL's "fast shutdown": clean, without waiting for clients.
        die_with_parent(&mut cmd, libc::SIGINT);
        let child = cmd.spawn().context("spawning postgres")?;
        self.child = Some(child);
        if let Err(err) = self.wait_ready(Duration::from_secs(60)) {
            self.stop();
            return Err(err.context(format!("PostgreSQL did not start; log {}:\n{}", log.display(), log_tail(&log, 3000))));
        }
        self.ensure_database(DATABASE_NAME)?;
        Ok(())
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let pid_file = self.options.data_dir.join("postmaster.pid");
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                bail!("postgres exited during startup ({status})");
            }
            // Line 8 of postmaster.pid is the postmaster status; "ready" once it accepts connections.
            let ready = fs::read_to_string(&pid_file)
                .map(|text| text.lines().nth(7).map(|l| l.trim() == "ready").unwrap_or(false))
                .unwrap_or(false);
            if ready && tcp_accepts(self.options.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for PostgreSQL on port {}", self.options.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Run one SQL statement with `psql` as the superuser against `database`.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let output = self
            .command("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.options.port.to_string(), "-d", database, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .context("running psql")?;
        if !output.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&output.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Create `database` unless it exists.
    pub fn ensure_database(&self, database: &str) -> Result<()> {
        let quoted = database.replace('\'', "''");
        let exists = self.psql("postgres", &format!("SELECT 1 FROM pg_database WHERE datname = '{quoted}'"))?;
        if exists != "1" {
            let ident = database.replace('"', "\"\"");
            self.psql("postgres", &format!("CREATE DATABASE \"{ident}\""))?;
        }
        Ok(())
    }

    /// Fast shutdown (SIGINT), SIGKILL after 30 s. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, libc::SIGINT, Duration::from_secs(30));
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

// ------------------------------------------------------------------ Redis

pub fn redis_server_binary() -> Result<PathBuf> {
    for candidate in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if Path::new(candidate).is_file() {
            return Ok(PathBuf::from(candidate));
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("redis-server").is_file() {
                return Ok(dir.join("redis-server"));
            }
        }
    }
    bail!(
        "redis-server not found. Install it with `apt-get install -y redis-server` (the Debian service does \
         not need to run; Sentinel starts its own private server)."
    )
}

#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// Working directory (append-only file, log).
    pub dir: PathBuf,
    pub port: u16,
    pub durability: Durability,
}

/// A private redis-server on 127.0.0.1 without password. Stopped on drop; restartable.
pub struct RedisServer {
    options: RedisOptions,
    binary: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start(options: RedisOptions) -> Result<RedisServer> {
        let binary = redis_server_binary()?;
        let mut server = RedisServer { options, binary, child: None };
        server.restart()?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.options.port
    }

    /// `redis://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.options.port)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Start a stopped server again on the same port and directory.
    pub fn restart(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let dir = &self.options.dir;
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let log = dir.join("redis.log");
        let (stdout, stderr) = open_log(&log)?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--port")
            .arg(self.options.port.to_string())
            .args(["--bind", "127.0.0.1", "--protected-mode", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        match self.options.durability {
            Durability::Throwaway => cmd.args(["--save", "", "--appendonly", "no"]),
            Durability::Persistent => cmd.args(["--save", "", "--appendonly", "yes"]),
        };
        die_with_parent(&mut cmd, libc::SIGTERM);
        self.child = Some(cmd.spawn().context("spawning redis-server")?);
        if let Err(err) = self.wait_ready(Duration::from_secs(30)) {
            self.stop();
            return Err(err.context(format!("Redis did not start; log {}:\n{}", log.display(), log_tail(&log, 3000))));
        }
        Ok(())
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        use std::io::Write;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                bail!("redis-server exited during startup ({status})");
            }
            let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.options.port).into();
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut reply = [0u8; 64];
                if stream.write_all(b"PING\r\n").is_ok() {
                    if let Ok(n) = stream.read(&mut reply) {
                        if reply[..n].starts_with(b"+PONG") {
                            return Ok(());
                        }
                    }
                }
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for Redis on port {}", self.options.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM (redis shuts down, flushing the append-only file), SIGKILL after 10 s. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, libc::SIGTERM, Duration::from_secs(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

// ------------------------------------------------------------------ real Spin

/// How to start a real `spin` binary on an application (`spin up`).
pub struct SpinOptions {
    /// The `spin` executable.
    pub binary: PathBuf,
    /// The spin.toml to serve (its components' `.wasm` files must already be built).
    pub manifest: PathBuf,
    pub port: u16,
    /// Application variables, given to Spin as `SPIN_VARIABLE_<NAME>` (so secrets stay out of
    /// the process list).
    pub variables: std::collections::HashMap<String, String>,
    /// Spin's log directory and the file that receives its own stdout/stderr (`spin.log`).
    pub dir: PathBuf,
}

/// A server process on 127.0.0.1 that is ready once `GET <health path>` answers 200 on its port.
///
/// The process is spawned, watched and stopped by a keeper thread of its own that lives exactly as
/// long as it should: the process is tied to its spawning thread (PR_SET_PDEATHSIG), so spawning it
/// from a short-lived thread (a tokio blocking worker, a test thread) would stop it early.
pub struct ChildServer {
    port: u16,
    pid: u32,
    log: PathBuf,
    stop: Option<std::sync::mpsc::Sender<()>>,
    keeper: Option<std::thread::JoinHandle<()>>,
}

impl ChildServer {
    /// Spawns `command` (its output goes to `log`), waits up to `timeout` for `health_path` to answer
    /// 200 on `port`; `stop_signal` asks it to stop (SIGKILL 10 s later).
    pub fn start(mut command: Command, port: u16, health_path: &'static str, log: PathBuf, timeout: Duration, stop_signal: libc::c_int) -> Result<ChildServer> {
        let (stdout, stderr) = open_log(&log)?;
        command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        // With these set (cargo test sets RUST_BACKTRACE) Spin appends a backtrace to every error
        // text it hands a guest; deployments run without them.
        command.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
        die_with_parent(&mut command, libc::SIGTERM);
        let program = command.get_program().to_string_lossy().into_owned();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<u32>>();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let keeper = std::thread::Builder::new()
            .name("sentinel-child".into())
            .spawn(move || {
                let mut child = match command.spawn().with_context(|| format!("spawning {program}")) {
                    Ok(child) => child,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                let ready = wait_for_health(&mut child, port, health_path, timeout).map(|()| child.id());
                let failed = ready.is_err();
                let _ = ready_tx.send(ready);
                if !failed {
                    // Until stop() or drop (the sender goes away).
                    let _ = stop_rx.recv();
                }
                stop_child(&mut child, stop_signal, Duration::from_secs(10));
            })
            .context("spawning the keeper thread")?;
        let mut server = ChildServer { port, pid: 0, log: log.clone(), stop: Some(stop_tx), keeper: Some(keeper) };
        match ready_rx.recv() {
            Ok(Ok(pid)) => {
                server.pid = pid;
                Ok(server)
            }
            Ok(Err(err)) => {
                server.stop();
                Err(err.context(format!("the server did not become ready; log {}:\n{}", log.display(), log_tail(&log, 4000))))
            }
            Err(_) => {
                server.stop();
                bail!("the keeper thread ended before the server was ready")
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The process's output, as far as written.
    pub fn log(&self) -> String {
        log_tail(&self.log, 1 << 20)
    }

    /// Asks the process to stop, SIGKILL after 10 s; returns when it is gone. Idempotent.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `spin up` process serving an application on 127.0.0.1 (README, "Running the suite on real Spin").
pub struct SpinServer {
    server: ChildServer,
}

impl SpinServer {
    /// Starts `spin up` and waits until `/.well-known/spin/health` answers (Spin compiles every
    /// component before it listens, which takes a while on a small machine).
    pub fn start(options: SpinOptions) -> Result<SpinServer> {
        fs::create_dir_all(&options.dir).with_context(|| format!("creating {}", options.dir.display()))?;
        let log = options.dir.join("spin.log");
        let server = ChildServer::start(spin_command(&options), options.port, "/.well-known/spin/health", log, Duration::from_secs(600), libc::SIGINT)
            .context("spin up did not become ready")?;
        Ok(SpinServer { server })
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The `spin` process.
    pub fn pid(&self) -> Option<u32> {
        Some(self.server.pid())
    }

    /// Spin's own output and the guests' stderr, as far as written.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// SIGINT (Spin's graceful stop), SIGKILL after 10 s; returns when it is gone. Idempotent.
    pub fn stop(&mut self) {
        self.server.stop()
    }
}

fn spin_command(options: &SpinOptions) -> Command {
    let mut cmd = Command::new(&options.binary);
    cmd.arg("up")
        .arg("--from")
        .arg(&options.manifest)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", options.port))
        .arg("--log-dir")
        .arg(options.dir.join("logs"))
        .current_dir(&options.dir);
    for (name, value) in &options.variables {
        cmd.env(format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()), value);
    }
    cmd
}

fn wait_for_health(child: &mut Child, port: u16, path: &str, timeout: Duration) -> Result<()> {
    use std::io::Write;
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            bail!("the process exited during startup ({status})");
        }
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            let mut reply = [0u8; 64];
            if stream.write_all(request.as_bytes()).is_ok() {
                if let Ok(n) = stream.read(&mut reply) {
                    if reply[..n].starts_with(b"HTTP/1.1 200") {
                        return Ok(());
                    }
                }
            }
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {path} on port {port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
