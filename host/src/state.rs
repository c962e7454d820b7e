//! Per-request store data and the host implementations of the Spin interfaces.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use wasmtime::component::{HasSelf, Linker, Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, OutgoingRequestConfig};
use wasmtime_wasi_http::p2::{HttpResult, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::allowed_hosts::{AllowedHosts, OutboundUrl};
use crate::bindings::{config_store, postgres, redis, variables};
use crate::pg::{PgConnection, PgPools};
use crate::redis_host::{RedisClients, RedisConnection};
use crate::variables::{Resolver, VariableError};

/// Max open Postgres / Redis connection resources per instance (Spin's limit).
const MAX_CONNECTIONS: usize = 1024;

/// Everything about one component that outlives a request.
pub struct ComponentContext {
    pub id: String,
    pub resolver: Arc<Resolver>,
    pub allowed_outbound_hosts: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub pg_pools: PgPools,
    pub spin_compat: crate::SpinCompat,
    pub redis: RedisClients,
    pub self_addr: OnceLock<SocketAddr>,
}

impl ComponentContext {
    /// Resolves the allow-list templates against all app variables (Spin: lazily, per instance).
    fn resolve_allowed_hosts(&self) -> Result<AllowedHosts, String> {
        let values = self.resolver.resolve_all_app().map_err(|e| e.to_string())?;
        let mut entries = Vec::with_capacity(self.allowed_outbound_hosts.len());
        for entry in &self.allowed_outbound_hosts {
            let template = self.resolver.parse_template(entry).map_err(|e| e.to_string())?;
            let rendered = template.render(|name| {
                values.get(name).cloned().ok_or_else(|| format!("invalid variable name: {name}"))
            })?;
            entries.push(rendered);
        }
        AllowedHosts::parse(&entries).map_err(|e| format!("{e:#}"))
    }
}

/// Per-instance lazily resolved allow-list, shared with the outbound HTTP hooks.
pub struct AllowList {
    component: Arc<ComponentContext>,
    resolved: OnceLock<Result<AllowedHosts, String>>,
}

impl AllowList {
    fn get(&self) -> &Result<AllowedHosts, String> {
        self.resolved.get_or_init(|| {
            let r = self.component.resolve_allowed_hosts();
            if let Err(e) = &r {
                eprintln!("Error resolving allowed_outbound_hosts of component {:?}: {e}", self.component.id);
            }
            r
        })
    }

    /// Ok(true) allowed, Ok(false) denied, Err: the check itself failed.
    fn check(&self, url: &str, default_scheme: &str) -> Result<bool, String> {
        let hosts = self.get().as_ref().map_err(Clone::clone)?;
        let parsed = OutboundUrl::parse(url, default_scheme).map_err(|e| format!("{e:#}"))?;
        let allowed = hosts.allows(&parsed);
        if !allowed {
            let target = format!("{}://{}", parsed.scheme, parsed.authority());
            eprintln!(
                "A component tried to make an outbound network connection to disallowed destination '{target}'.\nTo allow this request, add 'allowed_outbound_hosts = [\"{target}\"]' to the manifest component section."
            );
        }
        Ok(allowed)
    }
}

pub struct OutboundHttp {
    allow: Arc<AllowList>,
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        mut request: hyper::Request<HyperOutgoingBody>,
        mut config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        let uri = request.uri().clone();
        let relative = uri.authority().is_none_or(|a| a.as_str().is_empty() || a.host() == "self.alt");
        if relative {
            let hosts = match self.allow.get() {
                Ok(h) => h,
                Err(_) => return Err(ErrorCode::HttpRequestDenied.into()),
            };
            if !hosts.allows_relative(&["http", "https"]) {
                eprintln!("A component tried to make a relative HTTP request but 'self' is not in allowed_outbound_hosts.");
                return Err(ErrorCode::HttpRequestDenied.into());
            }
            // Relative requests go to this app's own listener.
            let Some(addr) = self.allow.component.self_addr.get().copied() else {
                return Err(ErrorCode::HttpRequestDenied.into());
            };
            let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let Ok(new_uri) = format!("http://{addr}{pq}").parse() else {
                return Err(ErrorCode::HttpRequestUriInvalid.into());
            };
            *request.uri_mut() = new_uri;
            config.use_tls = false;
        } else {
            let url = uri.to_string();
            match self.allow.check(&url, "https") {
                Ok(true) => {}
                Ok(false) | Err(_) => return Err(ErrorCode::HttpRequestDenied.into()),
            }
        }
        request.headers_mut().remove(http::header::HOST);
        Ok(wasmtime_wasi_http::p2::default_send_request(request, config))
    }
}

pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundHttp,
    allow: Arc<AllowList>,
    component: Arc<ComponentContext>,
    open_pg: usize,
    open_redis: usize,
}

impl HostState {
    pub fn new(component: Arc<ComponentContext>) -> Self {
        let mut builder = WasiCtx::builder();
        builder
            .envs(&component.environment)
            // Both guest streams go to the host's stderr, unmodified (as Spin does).
            .stdout(wasmtime_wasi::cli::stderr())
            .stderr(wasmtime_wasi::cli::stderr())
            .allow_tcp(false)
            .allow_udp(false);
        let allow = Arc::new(AllowList { component: component.clone(), resolved: OnceLock::new() });
        Self {
            wasi: builder.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundHttp { allow: allow.clone() },
            allow,
            component,
            open_pg: 0,
            open_redis: 0,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    variables::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    config_store::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    redis::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    postgres::add_to_linker::<_, HasSelf<HostState>>(linker, |s| s)?;
    Ok(())
}

// ---------------------------------------------------------------- variables

fn to_wit_variable_error(e: VariableError) -> variables::Error {
    match e {
        VariableError::InvalidName(m) => variables::Error::InvalidName(m),
        VariableError::Undefined(m) => variables::Error::Undefined(m),
        VariableError::Provider(m) => variables::Error::Provider(m),
        VariableError::Other(m) => variables::Error::Other(m),
    }
}

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(self.component.resolver.get(&self.component.id, &name).map_err(to_wit_variable_error))
    }
}

impl config_store::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, config_store::Error>> {
        Ok(match self.component.resolver.get(&self.component.id, &key) {
            Ok(v) => Ok(Some(v)),
            Err(VariableError::InvalidName(_)) | Err(VariableError::Undefined(_)) => Ok(None),
            Err(VariableError::Provider(m)) => Err(config_store::Error::Upstream(m)),
            Err(VariableError::Other(m)) => Err(config_store::Error::Io(m)),
        })
    }

    async fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config_store::Error>> {
        Ok(self.component.resolver.get_all(&self.component.id).map_err(|e| match e {
            VariableError::Other(m) => config_store::Error::Io(m),
            other => config_store::Error::Upstream(other.to_string()),
        }))
    }
}

// ---------------------------------------------------------------- postgres

impl postgres::Host for HostState {}

impl postgres::HostConnection for HostState {
    async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<PgConnection>, postgres::Error>> {
        let config: tokio_postgres::Config = match address.parse() {
            Ok(c) => c,
            Err(e) => return Ok(Err(postgres::Error::ConnectionFailed(crate::pg::pg_display(&e)))),
        };
        let hosts = match crate::pg::hosts_to_check(&config) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        for host in hosts {
            match self.allow.check(&host, "postgres") {
                Ok(true) => {}
                Ok(false) => {
                    return Ok(Err(postgres::Error::ConnectionFailed(format!("address {host} is not permitted"))))
                }
                Err(e) => return Ok(Err(postgres::Error::Other(e))),
            }
        }
        if self.open_pg >= MAX_CONNECTIONS {
            return Ok(Err(postgres::Error::ConnectionFailed("too many connections".into())));
        }
        let pool = match self.component.pg_pools.pool(&address, config) {
            Ok(p) => p,
            Err(e) => return Ok(Err(postgres::Error::ConnectionFailed(crate::anyhow_debug(&e)))),
        };
        let client = match pool.get().await {
            Ok(c) => c,
            Err(e) => return Ok(Err(postgres::Error::ConnectionFailed(crate::pg::pool_error_text(e)))),
        };
        self.open_pg += 1;
        Ok(Ok(self.table.push(PgConnection { client })?))
    }

    async fn query(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<postgres::ParameterValue>,
    ) -> wasmtime::Result<Result<postgres::RowSet, postgres::Error>> {
        let conn = self.table.get(&conn)?;
        crate::pg::query(conn, &statement, params, self.component.spin_compat, &self.component.id).await
    }

    async fn execute(
        &mut self,
        conn: Resource<PgConnection>,
        statement: String,
        params: Vec<postgres::ParameterValue>,
    ) -> wasmtime::Result<Result<u64, postgres::Error>> {
        let conn = self.table.get(&conn)?;
        Ok(crate::pg::execute(conn, &statement, params).await)
    }

    async fn drop(&mut self, conn: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        self.open_pg = self.open_pg.saturating_sub(1);
        Ok(())
    }
}

// ---------------------------------------------------------------- redis

impl redis::Host for HostState {}

impl HostState {
    async fn redis_call<T: ::redis::FromRedisValue>(
        &mut self,
        conn: &Resource<RedisConnection>,
        cmd: ::redis::Cmd,
    ) -> wasmtime::Result<Result<T, ::redis::RedisError>> {
        let c = self.table.get_mut(conn)?;
        let address = c.address.clone();
        let result = crate::redis_host::run::<T>(&mut c.conn, &cmd).await;
        if let Err(e) = &result {
            self.component.redis.forget_if_broken(&address, e).await;
        }
        Ok(result)
    }
}

impl redis::HostConnection for HostState {
    async fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<RedisConnection>, redis::Error>> {
        match self.allow.check(&address, "redis") {
            Ok(true) => {}
            Ok(false) => return Ok(Err(redis::Error::InvalidAddress)),
            Err(e) => return Ok(Err(redis::Error::Other(e))),
        }
        if self.open_redis >= MAX_CONNECTIONS {
            return Ok(Err(redis::Error::TooManyConnections));
        }
        let conn = match self.component.redis.connect(&address).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        self.open_redis += 1;
        Ok(Ok(self.table.push(RedisConnection { address, conn })?))
    }

    async fn publish(&mut self, c: Resource<RedisConnection>, channel: String, payload: Vec<u8>) -> wasmtime::Result<Result<(), redis::Error>> {
        let mut cmd = ::redis::cmd("PUBLISH");
        cmd.arg(channel).arg(payload);
        Ok(self.redis_call::<::redis::Value>(&c, cmd).await?.map(|_| ()).map_err(|e| crate::redis_host::other(&e)))
    }

    async fn get(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, redis::Error>> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(key);
        Ok(self.redis_call::<Option<Vec<u8>>>(&c, cmd).await?.map_err(|e| crate::redis_host::other(&e)))
    }

    async fn set(&mut self, c: Resource<RedisConnection>, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), redis::Error>> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(key).arg(value);
        Ok(self.redis_call::<()>(&c, cmd).await?.map_err(|e| crate::redis_host::other(&e)))
    }

    async fn incr(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<i64, redis::Error>> {
        let mut cmd = ::redis::cmd("INCRBY");
        cmd.arg(key).arg(1);
        Ok(self.redis_call::<i64>(&c, cmd).await?.map_err(|e| crate::redis_host::other(&e)))
    }

    async fn del(&mut self, c: Resource<RedisConnection>, keys: Vec<String>) -> wasmtime::Result<Result<u32, redis::Error>> {
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(keys);
        Ok(self.redis_call::<u32>(&c, cmd).await?.map_err(|e| crate::redis_host::other(&e)))
    }

    async fn sadd(&mut self, c: Resource<RedisConnection>, key: String, values: Vec<String>) -> wasmtime::Result<Result<u32, redis::Error>> {
        let mut cmd = ::redis::cmd("SADD");
        cmd.arg(key).arg(values);
        Ok(self.redis_call::<u32>(&c, cmd).await?.map_err(|e| {
            if e.kind() == ::redis::ErrorKind::TypeError {
                redis::Error::TypeError
            } else {
                crate::redis_host::other(&e)
            }
        }))
    }

    async fn smembers(&mut self, c: Resource<RedisConnection>, key: String) -> wasmtime::Result<Result<Vec<String>, redis::Error>> {
        let mut cmd = ::redis::cmd("SMEMBERS");
        cmd.arg(key);
        Ok(self.redis_call::<Vec<String>>(&c, cmd).await?.map_err(|e| crate::redis_host::other(&e)))
    }

    async fn srem(&mut self, c: Resource<RedisConnection>, key: String, values: Vec<String>) -> wasmtime::Result<Result<u32, redis::Error>> {
        let mut cmd = ::redis::cmd("SREM");
        cmd.arg(key).arg(values);
        Ok(self.redis_call::<u32>(&c, cmd).await?.map_err(|e| crate::redis_host::other(&e)))
    }

    async fn execute(
        &mut self,
        c: Resource<RedisConnection>,
        command: String,
        arguments: Vec<redis::RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<redis::RedisResult>, redis::Error>> {
        let cmd = crate::redis_host::execute_command(&command, &arguments);
        let value = match self.redis_call::<::redis::Value>(&c, cmd).await? {
            Ok(v) => v,
            Err(e) => return Ok(Err(crate::redis_host::other(&e))),
        };
        let mut out = Vec::new();
        Ok(crate::redis_host::flatten(value, &mut out).map(|()| out))
    }

    async fn drop(&mut self, c: Resource<RedisConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        self.open_redis = self.open_redis.saturating_sub(1);
        Ok(())
    }
}
