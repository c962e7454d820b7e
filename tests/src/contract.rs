//! The OpenAPI document as the contract of every test request.
//!
//! Every response of a host serving the production `spin.toml` (the shared [`crate::app()`], isolated
//! stacks, any [`crate::HostHandle`] started on `workspace_root()/spin.toml`) is checked against the
//! document that app serves at `/openapi.json` (fetched once per process): the request is matched to
//! its operation (method and path template, literal segments before `{param}`, as the routers do), its
//! status must be one the operation documents, and a JSON body must validate against that response's
//! schema (JSON Schema 2020-12, formats checked, `$ref`s resolved inside the document). A mismatch
//! panics the test with the operation, the status, the validation errors and the body. Requests that
//! match no documented operation (unknown paths and methods, CORS preflights) are not checked.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// Origins (`127.0.0.1:<port>`) of the hosts now serving the production spin.toml.
fn production_origins() -> &'static Mutex<HashSet<String>> {
    static ORIGINS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    ORIGINS.get_or_init(Default::default)
}

pub(crate) fn register(base_url: &str) {
    if let Some(origin) = origin_of(base_url) {
        production_origins().lock().unwrap().insert(origin);
    }
}

pub(crate) fn unregister(base_url: &str) {
    if let Some(origin) = origin_of(base_url) {
        production_origins().lock().unwrap().remove(&origin);
    }
}

fn origin_of(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    Some(format!("{}:{}", url.host_str()?, url.port_or_known_default()?))
}

/// The base URL of a production host if `url` goes to one.
fn production_base(url: &reqwest::Url) -> Option<String> {
    let origin = format!("{}:{}", url.host_str()?, url.port_or_known_default()?);
    production_origins().lock().unwrap().contains(&origin).then(|| format!("{}://{origin}", url.scheme()))
}

/// One documented operation: its method, path template split into segments, and JSON pointer.
struct Operation {
    method: String,
    template: String,
    segments: Vec<Option<String>>,
}

struct Contract {
    doc: Arc<Value>,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn contract(base: &str) -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let url = format!("{base}/openapi.json");
        let doc: Value = crate::block_on(async move {
            let response = reqwest::get(&url).await.unwrap_or_else(|e| panic!("contract: GET {url}: {e}"));
            response.json::<Value>().await.unwrap_or_else(|e| panic!("contract: {url} is not JSON: {e}"))
        });
        let mut operations = Vec::new();
        for (template, ops) in doc["paths"].as_object().expect("contract: the document has no paths") {
            for method in ops.as_object().into_iter().flatten().map(|(m, _)| m) {
                let segments = split(template)
                    .map(|s| if s.starts_with('{') && s.ends_with('}') { None } else { Some(s.to_string()) })
                    .collect();
                operations.push(Operation { method: method.to_uppercase(), template: template.clone(), segments });
            }
        }
        Contract { doc: Arc::new(doc), operations, validators: Mutex::default() }
    })
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

impl Contract {
    /// The operation serving `method path`: same segment count, literals equal, and literal segments
    /// preferred to parameters at the first position where candidates differ (the routers' rule).
    fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let method = if method == "HEAD" { "GET" } else { method };
        let parts: Vec<&str> = split(path).collect();
        self.operations
            .iter()
            .filter(|op| op.method == method && op.segments.len() == parts.len())
            .filter(|op| op.segments.iter().zip(&parts).all(|(s, p)| s.as_deref().is_none_or(|l| l == *p)))
            .max_by_key(|op| op.segments.iter().map(|s| u8::from(s.is_some())).collect::<Vec<_>>())
    }

    fn validator(&self, pointer: &str) -> Result<Arc<jsonschema::Validator>, String> {
        if let Some(v) = self.validators.lock().unwrap().get(pointer) {
            return Ok(v.clone());
        }
        // The response's schema is the root resource, with the document's `components` beside it so
        // that `#/components/schemas/…` references resolve (an unknown keyword is no constraint).
        let mut root = self.doc.pointer(pointer).cloned().ok_or_else(|| format!("no schema at {pointer}"))?;
        if !root.is_object() {
            return Err(format!("the documented schema at {pointer} is not an object"));
        }
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("the documented schema at {pointer} does not compile: {e}"))?;
        let validator = Arc::new(validator);
        self.validators.lock().unwrap().insert(pointer.to_string(), validator.clone());
        Ok(validator)
    }
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Checks one response against the document; panics on a mismatch.
pub(crate) fn check(method: &str, url: &str, response: &crate::Resp) {
    let Ok(url) = reqwest::Url::parse(url) else { return };
    let Some(base) = production_base(&url) else { return };
    let contract = contract(&base);
    let Some(op) = contract.operation(method, url.path()) else { return };
    let request = format!("{method} {}{}", url.path(), url.query().map(|q| format!("?{q}")).unwrap_or_default());
    let responses = &contract.doc["paths"][&op.template][op.method.to_lowercase()]["responses"];
    let status = response.status.to_string();
    let key = if responses.get(&status).is_some() {
        status.clone()
    } else if responses.get(format!("{}XX", &status[..1])).is_some() {
        format!("{}XX", &status[..1])
    } else if responses.get("default").is_some() {
        "default".to_string()
    } else {
        let documented: Vec<&String> = responses.as_object().map(|r| r.keys().collect()).unwrap_or_default();
        violation(op, &request, &response.text, format!("status {status} is not documented (documented: {documented:?})"));
    };
    if method == "HEAD" || response.text.is_empty() {
        return;
    }
    let content_type = response.header("content-type").unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let content = &responses[&key]["content"];
    if content_type != "application/json" {
        // Only documented media types for successes; a host-level failure (e.g. an interrupted
        // request) may answer a documented error status with a plain-text body.
        if response.status < 300 && content.get(&content_type).is_none() {
            violation(op, &request, &response.text, format!("status {status} with content type {content_type:?}, which is not documented"));
        }
        return;
    }
    if content.get("application/json").is_none() {
        violation(op, &request, &response.text, format!("status {status} answered a JSON body, but the document gives it none"));
    }
    let Ok(body) = serde_json::from_str::<Value>(&response.text) else {
        violation(op, &request, &response.text, format!("status {status} answered application/json that does not parse"));
    };
    let pointer = format!(
        "/paths/{}/{}/responses/{}/content/application~1json/schema",
        escape_pointer(&op.template),
        op.method.to_lowercase(),
        escape_pointer(&key)
    );
    let validator = contract.validator(&pointer).unwrap_or_else(|e| violation(op, &request, &response.text, e));
    let errors: Vec<String> = validator.iter_errors(&body).map(|e| format!("  at {:?}: {e}", e.instance_path().to_string())).collect();
    if !errors.is_empty() {
        violation(op, &request, &response.text, format!("the body of status {status} does not match the documented schema:\n{}", errors.join("\n")));
    }
}

fn violation(op: &Operation, request: &str, body: &str, problem: String) -> ! {
    let body: String = body.chars().take(2000).collect();
    panic!("\n\nOpenAPI contract violated by {} {} ({request}): {problem}\nbody: {body}\n\n", op.method, op.template)
}
