//! Sentinel's local Spin-compatible host: runs a Spin manifest v2 application of WASI 0.2 HTTP
//! components (spin-sdk 5.2) the way Spin 4.0.2 does — routing, `spin-*` headers, variables,
//! `allowed_outbound_hosts`, `spin:postgres@4.0.0`, `fermyon:spin/redis@2.0.0`, a fresh instance
//! per request, 404/500 with empty bodies.
//!
//! One deliberate difference: requests are limited to an execution timeout (default 60 s,
//! `SENTINEL_REQUEST_TIMEOUT_SECS`), after which the instance is trapped/dropped and the client
//! gets a 500. Spin has no timeout; a local host must never wedge.

pub use server::MAX_REQUEST_BODY_BYTES;
pub mod allowed_hosts;
mod bindings;
pub mod headers;
pub mod manifest;
mod pg;
mod redis_host;
pub mod routes;
mod server;
mod state;
pub mod template;
pub mod variables;

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::manifest::{Handler, Manifest};
use crate::server::{App, LoadedComponent};
use crate::state::{ComponentContext, HostState};
use crate::variables::{AppVariable, Resolver};

const EPOCH_TICK: Duration = Duration::from_millis(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

pub struct HostConfig {
    /// A spin.toml; component sources resolve relative to its directory.
    pub manifest_path: PathBuf,
    /// Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Like `spin up --variable k=v`: the highest-priority provider.
    pub variables: HashMap<String, String>,
    /// Compiled-component cache (None: `<manifest dir>/.sentinel/cache`).
    pub cache_dir: Option<PathBuf>,
    /// Requests executing at once; excess requests wait.
    pub max_in_flight: usize,
    /// Which Spin release's `spin:postgres` behaviour to reproduce (default: strict 4.0).
    pub spin_compat: SpinCompat,
    /// How long a request may run (None: `SENTINEL_REQUEST_TIMEOUT_SECS`, else 60 s).
    pub request_timeout: Option<Duration>,
}

/// The Spin release whose host behaviour the local host reproduces where releases differ
/// (README, "Supported Spin versions"; docs/spin.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpinCompat {
    /// Spin 3.6.x: a `query` matching no row returns an empty row-set without columns; errors
    /// raised while a `query` executes arrive as the driver's plain text, without SQLSTATE.
    V3_6,
    /// Spin 4.0.0–4.0.2, strict: a `query` matching no row would never return on real Spin, so
    /// the local host fails the request loudly (a trap, hence a 500, and a log line naming the
    /// statement) instead of hanging it or hiding it.
    #[default]
    V4_0,
    /// Spin 4.1 (upstream fix of the zero-row deadlock): an empty row-set, 4.0's error texts.
    V4_1,
}

impl std::str::FromStr for SpinCompat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "3.6" => Ok(Self::V3_6),
            "4.0" => Ok(Self::V4_0),
            "4.1" => Ok(Self::V4_1),
            other => Err(format!("unknown Spin compatibility {other:?}: expected 3.6, 4.0 or 4.1")),
        }
    }
}

impl std::fmt::Display for SpinCompat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V3_6 => "3.6",
            Self::V4_0 => "4.0",
            Self::V4_1 => "4.1",
        })
    }
}

pub struct RunningHost {
    addr: SocketAddr,
    routes: Vec<(String, String)>,
    shutdown: watch::Sender<bool>,
    serve: tokio::task::JoinHandle<()>,
}

impl RunningHost {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `(route as written, component id)` for every routable trigger, manifest order.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.routes.clone()
    }

    /// Stops accepting, lets in-flight requests finish, returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.serve.await;
    }
}

/// anyhow's `{:?}` rendering (message, then `Caused by:` and indented causes) without the
/// backtrace section, so guest-visible texts do not depend on `RUST_BACKTRACE`.
pub(crate) fn anyhow_debug(e: &anyhow::Error) -> String {
    debug_chain(e.to_string(), e.chain().skip(1).map(|c| c.to_string()).collect())
}

/// anyhow's Debug layout for a message and its causes.
pub(crate) fn debug_chain(top: String, causes: Vec<String>) -> String {
    let mut out = top;
    if !causes.is_empty() {
        out.push_str("\n\nCaused by:");
        let multiple = causes.len() > 1;
        for (n, cause) in causes.iter().enumerate() {
            out.push('\n');
            for (i, line) in cause.split('\n').enumerate() {
                if i == 0 {
                    if multiple {
                        out.push_str(&format!("{n: >5}: "));
                    } else {
                        out.push_str("    ");
                    }
                } else {
                    out.push('\n');
                    out.push_str(if multiple { "       " } else { "    " });
                }
                out.push_str(line);
            }
        }
    }
    out
}

pub(crate) fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

fn engine() -> anyhow::Result<Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e.clone());
    }
    let mut config = Config::new();
    config.epoch_interruption(true);
    let mut pooling = wasmtime::PoolingAllocationConfig::default();
    pooling
        .total_component_instances(1000)
        .total_memories(1000)
        .total_tables(2000)
        .total_core_instances(4000)
        .max_component_instance_size(10 << 20)
        .max_core_instances_per_component(200)
        .max_tables_per_component(20)
        .table_elements(100_000)
        .max_memories_per_component(4)
        .max_memory_size(4 << 30)
        // Spin 4.0's defaults (crates/core): an instance's first 2 MiB of linear memory and 512 KiB of
        // tables are zeroed in place when it is freed instead of handed back to the kernel, so the next
        // instance in that slot takes no page faults and no TLB shootdown for them (host/README.md).
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(1 << 19);
    let mut pooled = config.clone();
    pooled.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    let engine = match Engine::new(&pooled) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("warning: pooling allocator unavailable ({e}); using on-demand allocation");
            Engine::new(&config).map_err(wt)?
        }
    };
    let engine = ENGINE.get_or_init(|| engine).clone();
    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("sentinel-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match ticker.upgrade() {
                Some(e) => e.increment_epoch(),
                None => break,
            }
        })?;
    Ok(engine)
}

/// Compiles once; reuses `<cache>/<hash of wasm + engine>.cwasm` across runs.
fn load_component(engine: &Engine, source: &Path, cache_dir: &Path) -> anyhow::Result<Component> {
    let wasm = std::fs::read(source).with_context(|| {
        format!(
            "component file {} not found or unreadable; build the components first (e.g. `cargo build --target wasm32-wasip2 --release`)",
            source.display()
        )
    })?;
    let mut h1 = std::collections::hash_map::DefaultHasher::new();
    let mut h2 = std::collections::hash_map::DefaultHasher::new();
    "sentinel-host-cache-v1".hash(&mut h2);
    wasm.hash(&mut h1);
    wasm.len().hash(&mut h2);
    wasm.iter().rev().take(65536).for_each(|b| b.hash(&mut h2));
    engine.precompile_compatibility_hash().hash(&mut h1);
    engine.precompile_compatibility_hash().hash(&mut h2);
    let cached = cache_dir.join(format!("{:016x}{:016x}.cwasm", h1.finish(), h2.finish()));
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same engine configuration
        // (the compatibility hash is part of its name) into the host's own cache directory.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(c) => return Ok(c),
            Err(e) => eprintln!("warning: ignoring unusable cache entry {}: {e}", cached.display()),
        }
    }
    let component = Component::new(engine, &wasm)
        .map_err(wt)
        .with_context(|| format!("failed to compile component {}", source.display()))?;
    if std::fs::create_dir_all(cache_dir).is_ok() {
        if let Ok(bytes) = component.serialize() {
            let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, &cached);
            }
        }
    }
    Ok(component)
}

fn request_timeout() -> Duration {
    std::env::var("SENTINEL_REQUEST_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Loads, validates and compiles the app, binds the listener and serves in a spawned task.
pub async fn start(cfg: HostConfig) -> anyhow::Result<RunningHost> {
    let manifest = Manifest::load(&cfg.manifest_path)?;
    for w in &manifest.warnings {
        eprintln!("warning: {w}");
    }

    let app_vars: BTreeMap<String, AppVariable> = manifest
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), AppVariable { default: v.default.clone(), secret: v.secret }))
        .collect();
    let mut resolver = Resolver::new(app_vars, cfg.variables.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
    for component in manifest.components.values() {
        resolver
            .add_component(&component.id, &component.variables)
            .map_err(|e| anyhow::anyhow!("component {:?}: {e}", component.id))?;
        for entry in &component.allowed_outbound_hosts {
            let template = resolver
                .parse_template(entry)
                .map_err(|e| anyhow::anyhow!("component {:?}: allowed_outbound_hosts: {e}", component.id))?;
            if template.is_literal() {
                allowed_hosts::AllowedHost::parse(entry)
                    .with_context(|| format!("component {:?}: invalid allowed_outbound_hosts entry", component.id))?;
            }
        }
        if component.allowed_outbound_hosts.len() == 1 && component.allowed_outbound_hosts[0] == "insecure:allow-all" {
            bail!("'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic'");
        }
    }
    resolver.check_required().map_err(|e| anyhow::anyhow!(e))?;
    let resolver = Arc::new(resolver);

    let cache_dir = cfg.cache_dir.clone().unwrap_or_else(|| manifest.dir.join(".sentinel").join("cache"));
    let engine = engine()?;
    let mut linker: Linker<HostState> = Linker::new(&engine);
    state::add_to_linker(&mut linker).map_err(wt)?;

    // Only components some trigger uses are compiled.
    let used: std::collections::BTreeSet<String> = manifest
        .http_triggers
        .iter()
        .filter_map(|t| match &t.handler {
            Handler::Component(id) => Some(id.clone()),
            Handler::Static(_) => None,
        })
        .collect();
    let mut components = HashMap::new();
    let mut contexts = Vec::new();
    for id in used {
        let c = &manifest.components[&id];
        let source = c.source.clone();
        let engine2 = engine.clone();
        let cache2 = cache_dir.clone();
        let component = tokio::task::spawn_blocking(move || load_component(&engine2, &source, &cache2))
            .await?
            .with_context(|| format!("component {id:?}"))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(wt)
            .with_context(|| format!("component {id:?} imports something this host does not provide"))?;
        let pre = ProxyPre::new(pre)
            .map_err(wt)
            .with_context(|| format!("component {id:?} does not export wasi:http/incoming-handler@0.2.x"))?;
        let context = Arc::new(ComponentContext {
            id: id.clone(),
            resolver: resolver.clone(),
            allowed_outbound_hosts: c.allowed_outbound_hosts.clone(),
            environment: c.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            pg_pools: Default::default(),
            spin_compat: cfg.spin_compat,
            redis: Default::default(),
            self_addr: OnceLock::new(),
        });
        contexts.push(context.clone());
        components.insert(id, LoadedComponent { pre, context });
    }

    let routable: Vec<(usize, &str)> = manifest
        .http_triggers
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.route.as_deref().map(|r| (i, r)))
        .collect();
    let describe = |i: usize| match &manifest.http_triggers[i].handler {
        Handler::Component(id) => id.clone(),
        Handler::Static(_) => "static response".to_string(),
    };
    let (router, dup_warnings) = routes::Router::build(routable, describe)?;
    for w in dup_warnings {
        eprintln!("error: {w}");
    }
    let routes: Vec<(String, String)> = router
        .entries()
        .iter()
        .map(|e| {
            if e.based_route.starts_with(routes::WELL_KNOWN_PREFIX) {
                eprintln!("warning: route {:?} is under the reserved /.well-known/spin/ prefix and will never be reached", e.raw_route);
            }
            (e.raw_route.clone(), describe(e.trigger))
        })
        .collect();

    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("failed to listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    for c in &contexts {
        let _ = c.self_addr.set(addr);
    }

    let timeout = cfg.request_timeout.unwrap_or_else(request_timeout);
    let app = Arc::new(App {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        router,
        triggers: manifest.http_triggers.clone(),
        components,
        in_flight: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
        timeout,
        epoch_ticks: (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64,
    });

    let (shutdown, shutdown_rx) = watch::channel(false);
    let serve = tokio::spawn(serve(listener, app, shutdown_rx));
    Ok(RunningHost { addr, routes, shutdown, serve })
}

async fn serve(listener: TcpListener, app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let mut stop = shutdown.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| app.clone().handle(req, client));
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_chain_matches_anyhows_layout() {
        assert_eq!(debug_chain("top".into(), vec![]), "top");
        assert_eq!(debug_chain("top".into(), vec!["one\ntwo".into()]), "top\n\nCaused by:\n    one\n    two");
        assert_eq!(
            debug_chain("top".into(), vec!["a".into(), "b".into()]),
            "top\n\nCaused by:\n    0: a\n    1: b"
        );
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(anyhow_debug(&e), "outer\n\nCaused by:\n    inner");
    }

    #[tokio::test]
    async fn missing_component_file_names_the_path_and_says_to_build() {
        let dir = std::env::temp_dir().join(format!("sentinel-host-missing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("spin.toml");
        std::fs::write(
            &manifest,
            "spin_manifest_version = 2\n[application]\nname = \"x\"\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n[component.c]\nsource = \"nope.wasm\"\n",
        )
        .unwrap();
        let cfg = HostConfig {
            manifest_path: manifest,
            listen: "127.0.0.1:0".parse().unwrap(),
            variables: HashMap::new(),
            cache_dir: Some(dir.join("cache")),
            max_in_flight: 4,
            spin_compat: SpinCompat::default(),
            request_timeout: None,
        };
        let err = match start(cfg).await {
            Ok(_) => panic!("started without a component file"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("nope.wasm") && err.contains("build"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
