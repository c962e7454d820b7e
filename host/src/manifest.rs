//! Spin manifest v2 (`spin.toml`) — the subset a local HTTP app uses, validated like Spin's loader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Deserialize)]
struct RawApplication {
    name: String,
    version: Option<String>,
    #[serde(default)]
    trigger: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    default: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    secret: bool,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    allowed_http_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Route(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTrigger {
    #[allow(dead_code)]
    id: Option<String>,
    route: RawRoute,
    component: Option<toml::Value>,
    static_response: Option<StaticResponse>,
    executor: Option<toml::Table>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StaticResponse {
    pub status_code: Option<u16>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Variable {
    pub default: Option<String>,
    pub secret: bool,
}

#[derive(Clone, Debug)]
pub struct Component {
    pub id: String,
    pub source: PathBuf,
    pub allowed_outbound_hosts: Vec<String>,
    pub variables: BTreeMap<String, String>,
    pub environment: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handler {
    Component(String),
    Static(StaticResponse),
}

#[derive(Clone, Debug)]
pub struct HttpTrigger {
    /// None: private (`{ private = true }`), not routable.
    pub route: Option<String>,
    pub handler: Handler,
}

#[derive(Clone, Debug)]
pub struct Manifest {
    pub name: String,
    pub version: Option<String>,
    pub dir: PathBuf,
    pub variables: BTreeMap<String, Variable>,
    pub components: BTreeMap<String, Component>,
    pub http_triggers: Vec<HttpTrigger>,
    pub warnings: Vec<String>,
}

impl Manifest {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read manifest {}", path.display()))?;
        let dir = path
            .canonicalize()
            .with_context(|| format!("failed to resolve manifest path {}", path.display()))?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Self::parse(&text, dir).with_context(|| format!("invalid manifest {}", path.display()))
    }

    pub fn parse(text: &str, dir: PathBuf) -> anyhow::Result<Self> {
        let raw: RawManifest = toml::from_str(text)?;
        if raw.spin_manifest_version.as_integer() != Some(2)
            && raw.spin_manifest_version.as_str() != Some("2")
        {
            bail!("only spin_manifest_version = 2 is supported");
        }
        let mut warnings = Vec::new();
        if let Some(http) = raw.application.trigger.get("http") {
            match http.get("base").and_then(|b| b.as_str()) {
                None => {}
                Some("/") => warnings.push(
                    "the `base` setting of the HTTP trigger is deprecated; routes already start at `/`".into(),
                ),
                Some(other) => bail!(
                    "the HTTP trigger `base` {other:?} is not supported; include the base in each route instead"
                ),
            }
        }

        let mut variables = BTreeMap::new();
        for (name, v) in raw.variables {
            match (v.required, &v.default) {
                (true, Some(_)) => bail!("variable {name:?}: `required` and `default` are mutually exclusive"),
                (false, None) => bail!("variable {name:?}: must either be `required = true` or have a `default`"),
                _ => {}
            }
            variables.insert(name, Variable { default: v.default, secret: v.secret });
        }

        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            let source = match &c.source {
                toml::Value::String(s) => dir.join(s),
                _ => bail!("component {id:?}: only local file `source` paths are supported"),
            };
            let mut allowed = c.allowed_outbound_hosts.clone();
            for legacy in &c.allowed_http_hosts {
                if legacy == "insecure:allow-all" {
                    allowed.extend(["http://*:*".into(), "https://*:*".into(), "http://self".into()]);
                } else {
                    allowed.push(format!("http://{legacy}"));
                    allowed.push(format!("https://{legacy}"));
                }
            }
            components.insert(
                id.clone(),
                Component {
                    id,
                    source,
                    allowed_outbound_hosts: allowed,
                    variables: c.variables,
                    environment: c.environment,
                },
            );
        }

        let mut http_triggers = Vec::new();
        for (kind, triggers) in raw.trigger {
            if kind != "http" {
                warnings.push(format!("trigger type {kind:?} is not supported by this host; ignored"));
                continue;
            }
            for table in triggers {
                let t: RawHttpTrigger = toml::Value::Table(table)
                    .try_into()
                    .context("invalid [[trigger.http]] entry")?;
                let handler = match (t.component, t.static_response) {
                    (Some(toml::Value::String(id)), None) => {
                        if !components.contains_key(&id) {
                            bail!("trigger refers to component {id:?} which does not exist");
                        }
                        Handler::Component(id)
                    }
                    (Some(_), None) => bail!("inline trigger components are not supported; use a [component.<id>] table"),
                    (None, Some(s)) => Handler::Static(s),
                    (Some(_), Some(_)) => bail!("a trigger may have only one of `component` and `static_response`"),
                    (None, None) => bail!("a trigger must have one of `component` and `static_response`"),
                };
                if let Some(exec) = &t.executor {
                    match exec.get("type").and_then(|v| v.as_str()) {
                        None | Some("http") | Some("spin") => {}
                        Some(other) => bail!("executor type {other:?} is not supported by this host"),
                    }
                }
                let route = match t.route {
                    RawRoute::Route(r) => Some(r),
                    RawRoute::Private { private: true } => None,
                    RawRoute::Private { private: false } => {
                        let who = match &handler {
                            Handler::Component(id) => id.clone(),
                            Handler::Static(_) => "static response".into(),
                        };
                        bail!("route must be a string pattern or '{{ private = true }}': '{who}' has {{ private = false }}")
                    }
                };
                http_triggers.push(HttpTrigger { route, handler });
            }
        }

        Ok(Self {
            name: raw.application.name,
            version: raw.application.version,
            dir,
            variables,
            components,
            http_triggers,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
version = "1.0.0"
[variables]
a = { required = true, secret = true }
b = { default = "x" }
[[trigger.http]]
route = "/..."
component = "c"
[[trigger.http]]
route = { private = true }
component = "c"
[[trigger.http]]
route = "/static"
static_response = { status_code = 201, body = "hi" }
[component.c]
source = "c.wasm"
allowed_outbound_hosts = ["redis://{{ b }}:6379"]
environment = { K = "V" }
[component.c.variables]
v = "{{ a }}"
[component.c.build]
command = "ignored"
"#;

    #[test]
    fn parses_basic_manifest() {
        let m = Manifest::parse(BASIC, PathBuf::from("/app")).unwrap();
        assert_eq!(m.name, "t");
        assert_eq!(m.http_triggers.len(), 3);
        assert_eq!(m.http_triggers[1].route, None);
        assert_eq!(m.components["c"].source, PathBuf::from("/app/c.wasm"));
        assert_eq!(m.components["c"].environment["K"], "V");
        assert!(matches!(m.http_triggers[2].handler, Handler::Static(_)));
    }

    #[test]
    fn variable_rules() {
        let both = BASIC.replace(r#"b = { default = "x" }"#, r#"b = { default = "x", required = true }"#);
        assert!(Manifest::parse(&both, PathBuf::new()).is_err());
        let neither = BASIC.replace(r#"b = { default = "x" }"#, r#"b = { secret = true }"#);
        assert!(Manifest::parse(&neither, PathBuf::new()).is_err());
    }

    #[test]
    fn private_false_is_an_error() {
        let bad = BASIC.replace("route = { private = true }", "route = { private = false }");
        let err = Manifest::parse(&bad, PathBuf::new()).unwrap_err().to_string();
        assert!(err.contains("'c' has { private = false }"), "{err}");
    }

    #[test]
    fn unknown_component_is_an_error() {
        let bad = BASIC.replace("component = \"c\"\n[[trigger.http]]\nroute = { private", "component = \"zz\"\n[[trigger.http]]\nroute = { private");
        assert!(Manifest::parse(&bad, PathBuf::new()).is_err());
    }
}
