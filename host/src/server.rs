//! HTTP serving: well-known paths, routing, Spin headers, one fresh instance per request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::Semaphore;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::WasiHttpView;

use crate::headers::spin_headers;
use crate::manifest::{Handler, HttpTrigger, StaticResponse};
use crate::routes::{Router, WELL_KNOWN_PREFIX};
use crate::state::{ComponentContext, HostState};

pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, ErrorCode>;

/// The most of one request body the host passes to a component: the components' own 1 MiB limit
/// plus 64 KiB, so a component always sees that a body is too large and answers 413 itself, while no
/// request can stream more than this through the host (docs/api.md, "Request bodies").
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024 + 64 * 1024;

pub struct LoadedComponent {
    pub pre: ProxyPre<HostState>,
    pub context: Arc<ComponentContext>,
}

pub struct App {
    pub name: String,
    pub version: Option<String>,
    pub router: Router,
    pub triggers: Vec<HttpTrigger>,
    pub components: HashMap<String, LoadedComponent>,
    pub in_flight: Arc<Semaphore>,
    pub timeout: Duration,
    pub epoch_ticks: u64,
}

fn body_of(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(body_of(Bytes::new()));
    *r.status_mut() = status;
    r
}

impl App {
    /// Errors make hyper drop the connection without a response (Spin's behaviour for bad Host).
    pub async fn handle(self: Arc<Self>, mut req: Request<Incoming>, client: SocketAddr) -> anyhow::Result<Response<Body>> {
        let internal_host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.split(':').next().unwrap_or("").ends_with(".spin.internal"));
        if internal_host {
            req.headers_mut().remove(http::header::HOST);
        }

        let path = req.uri().path().to_string();
        if let Some(rest) = path.strip_prefix(WELL_KNOWN_PREFIX) {
            return Ok(self.well_known(rest));
        }
        let Some(matched) = self.router.route(&path) else {
            return Ok(empty(StatusCode::NOT_FOUND));
        };

        let host_header = match req.headers().get(http::header::HOST) {
            Some(h) => Some(h.to_str().map_err(|_| anyhow::anyhow!("invalid Host header"))?.to_string()),
            None => None,
        };
        let authority = match (req.uri().authority().map(|a| a.to_string()), &host_header) {
            (Some(a), Some(h)) if a != *h => anyhow::bail!("Host header {h:?} does not match request authority {a:?}"),
            (Some(a), _) => a,
            (None, Some(h)) => h.clone(),
            (None, None) => anyhow::bail!("request has neither a Host header nor an authority"),
        };

        let trigger = &self.triggers[matched.entry.trigger];
        let component_id = match &trigger.handler {
            Handler::Static(s) => return Ok(static_response(s)),
            Handler::Component(id) => id.clone(),
        };
        let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| path.clone());
        let extra = spin_headers(&matched, "http", host_header.as_deref(), &path_and_query, client);

        let (mut parts, body) = req.into_parts();
        parts.uri = match format!("http://{authority}{path_and_query}").parse() {
            Ok(u) => u,
            Err(_) => return Ok(empty(StatusCode::INTERNAL_SERVER_ERROR)),
        };
        // Non-UTF-8 header values are an executor error in Spin → 500.
        if parts.headers.values().any(|v| v.to_str().is_err()) {
            return Ok(empty(StatusCode::INTERNAL_SERVER_ERROR));
        }
        for (name, value) in extra {
            let (Ok(name), Ok(value)) = (http::HeaderName::try_from(name), http::HeaderValue::try_from(value)) else {
                return Ok(empty(StatusCode::INTERNAL_SERVER_ERROR));
            };
            parts.headers.append(name, value);
        }
        let body = http_body_util::Limited::new(body, MAX_REQUEST_BODY_BYTES)
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(e) => wasmtime_wasi_http::p2::hyper_request_error(*e),
                Err(_) => ErrorCode::HttpRequestBodySize(Some(MAX_REQUEST_BODY_BYTES as u64)),
            })
            .boxed_unsync();
        let req = Request::from_parts(parts, body);

        match self.clone().invoke(&component_id, req).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                eprintln!("Error handling request for component {component_id:?}: {e:?}");
                Ok(empty(StatusCode::INTERNAL_SERVER_ERROR))
            }
        }
    }

    async fn invoke(
        self: Arc<Self>,
        component_id: &str,
        req: Request<http_body_util::combinators::UnsyncBoxBody<Bytes, ErrorCode>>,
    ) -> anyhow::Result<Response<Body>> {
        let component = self
            .components
            .get(component_id)
            .ok_or_else(|| anyhow::anyhow!("unknown component {component_id:?}"))?;
        let permit = self.in_flight.clone().acquire_owned().await?;
        let mut store = Store::new(component.pre.engine(), HostState::new(component.context.clone()));
        store.set_epoch_deadline(self.epoch_ticks);
        store.epoch_deadline_trap();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, req).map_err(crate::wt)?;
        let outparam = store.data_mut().http().new_response_outparam(sender).map_err(crate::wt)?;
        let pre = component.pre.clone();
        let timeout = self.timeout;
        let id = component_id.to_string();
        let task = tokio::spawn(async move {
            let _permit = permit;
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy.wasi_http_incoming_handler().call_handle(&mut store, incoming, outparam).await
            };
            match tokio::time::timeout(timeout, run).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(crate::wt(e)),
                Err(_) => Err(anyhow::anyhow!("component {id:?} exceeded the {}s execution timeout", timeout.as_secs())),
            }
        });
        match receiver.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => {
                eprintln!("Component {component_id:?} responded with an error code: {code:?}");
                Ok(empty(StatusCode::INTERNAL_SERVER_ERROR))
            }
            Err(_) => {
                let e = match task.await {
                    Ok(Ok(())) => anyhow::anyhow!("guest failed to produce a response prior to returning"),
                    Ok(Err(e)) => e,
                    Err(e) => anyhow::Error::new(e),
                };
                Err(e)
            }
        }
    }

    fn well_known(&self, rest: &str) -> Response<Body> {
        match rest {
            "health" => Response::new(body_of("OK")),
            "info" => {
                let mut info = serde_json::Map::new();
                info.insert("name".into(), self.name.clone().into());
                if let Some(v) = &self.version {
                    info.insert("version".into(), v.clone().into());
                }
                let body = serde_json::to_string_pretty(&serde_json::Value::Object(info)).unwrap_or_default();
                let mut r = Response::new(body_of(body));
                r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
                r
            }
            _ => empty(StatusCode::NOT_FOUND),
        }
    }
}

fn static_response(s: &StaticResponse) -> Response<Body> {
    let mut r = Response::new(body_of(s.body.clone().unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(s.status_code.unwrap_or(200)).unwrap_or(StatusCode::OK);
    for (k, v) in &s.headers {
        if let (Ok(k), Ok(v)) = (http::HeaderName::try_from(k.as_str()), http::HeaderValue::try_from(v.as_str())) {
            r.headers_mut().append(k, v);
        }
    }
    r
}
