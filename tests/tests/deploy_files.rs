//! The deployment files of infra/ checked without a cluster: every Kubernetes object against the
//! Kubernetes JSON schemas (strict: unknown fields are errors) and the SpinApp against the
//! spin-operator CRD's openAPIV3Schema, both vendored at pinned versions (infra/schemas/README.md);
//! then the references between them (Secrets, ConfigMaps, Services, ports) and their names against
//! spin.toml and the programs they run.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn root() -> PathBuf {
    sentinel_tests::workspace_root()
}

const K8S_SCHEMAS: &str = "infra/schemas/kubernetes-v1.32.2-standalone-strict";
const SPINAPP_CRD: &str = "infra/schemas/spinkube-v0.4.0/core.spinkube.dev_spinapps.yaml";
const COMPOSE_SPEC: &str = "infra/schemas/compose-spec-a08f8d5/compose-spec.json";

/// One YAML document of a file under infra/.
#[derive(Clone)]
struct Doc {
    file: String,
    index: usize,
    value: Value,
}

impl Doc {
    fn at(&self) -> String {
        format!("{} (document {})", self.file, self.index + 1)
    }
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            // The vendored schemas are inputs of this test, not deployment files.
            if path != root().join("infra/schemas") {
                yaml_files(&path, out);
            }
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(path);
        }
    }
}

fn parse_yaml_documents(text: &str, file: &str) -> Vec<Doc> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for (index, de) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(de).unwrap_or_else(|e| panic!("{file}: document {} is not valid YAML: {e}", index + 1));
        if !value.is_null() {
            docs.push(Doc { file: file.to_string(), index, value });
        }
    }
    docs
}

/// Every YAML document under infra/ (schemas excluded).
fn infra_docs() -> &'static Vec<Doc> {
    static DOCS: OnceLock<Vec<Doc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut files = Vec::new();
        yaml_files(&root().join("infra"), &mut files);
        files
            .iter()
            .flat_map(|path| {
                let rel = path.strip_prefix(root()).unwrap().display().to_string();
                parse_yaml_documents(&std::fs::read_to_string(path).unwrap(), &rel)
            })
            .collect()
    })
}

/// The Kubernetes objects: documents with apiVersion and kind.
fn k8s_docs() -> Vec<Doc> {
    infra_docs().iter().filter(|d| d.value.get("apiVersion").is_some() && d.value.get("kind").is_some()).cloned().collect()
}

// ------------------------------------------------------------------ schemas

fn read_json(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The vendored schema file of a built-in kind, named as kubernetes-json-schema names them:
/// `<kind>-<group's first label>-<version>.json`, the core group without a group part.
fn k8s_schema_file(api_version: &str, kind: &str) -> String {
    let kind = kind.to_ascii_lowercase();
    match api_version.split_once('/') {
        Some((group, version)) => format!("{K8S_SCHEMAS}/{kind}-{}-{version}.json", group.split('.').next().unwrap()),
        None => format!("{K8S_SCHEMAS}/{kind}-{api_version}.json"),
    }
}

/// Kubernetes prunes (and `kubectl apply --validate=strict` rejects) fields a CRD's structural schema
/// does not declare; JSON Schema allows them unless told. Every object schema that lists its
/// properties and neither allows extra ones nor preserves unknown fields becomes closed.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let preserves = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserves {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for value in map.values_mut() {
                close_objects(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// The SpinApp schema of the CRD's `version`, closed, with the strict ObjectMeta of the Kubernetes
/// schemas for `metadata` (the CRD leaves metadata to the API server) and apiVersion/kind pinned.
fn spinapp_schema(version: &str) -> Option<Value> {
    let text = std::fs::read_to_string(root().join(SPINAPP_CRD)).unwrap();
    let crd = parse_yaml_documents(&text, SPINAPP_CRD).remove(0).value;
    let group = crd["spec"]["group"].as_str().unwrap().to_string();
    let found = crd["spec"]["versions"].as_array().unwrap().iter().find(|v| v["name"] == json!(version))?;
    let mut schema = found["schema"]["openAPIV3Schema"].clone();
    close_objects(&mut schema);
    let object_meta = read_json(&format!("{K8S_SCHEMAS}/configmap-v1.json"))["properties"]["metadata"].clone();
    schema["properties"]["metadata"] = object_meta;
    schema["properties"]["apiVersion"] = json!({ "const": format!("{group}/{version}") });
    schema["properties"]["kind"] = json!({ "const": crd["spec"]["names"]["kind"] });
    schema["required"] = json!(["apiVersion", "kind", "metadata", "spec"]);
    Some(schema)
}

/// The schema a Kubernetes object must satisfy, or why there is none.
fn schema_for(api_version: &str, kind: &str) -> Result<Value, String> {
    if let Some(version) = api_version.strip_prefix("core.spinkube.dev/") {
        return match kind {
            "SpinApp" => spinapp_schema(version).ok_or_else(|| format!("the vendored CRD has no SpinApp version {version}")),
            _ => Err(format!("no vendored CRD for {api_version} {kind}")),
        };
    }
    let file = k8s_schema_file(api_version, kind);
    if !root().join(&file).is_file() {
        return Err(format!("no vendored schema {file} for {api_version} {kind}: vendor it (infra/schemas/README.md)"));
    }
    let mut schema = read_json(&file);
    // Their `$schema` (http://json-schema.org/schema#) names no draft; they are written for draft 4–7.
    schema.as_object_mut().unwrap().remove("$schema");
    Ok(schema)
}

/// Schema errors of one Kubernetes object (empty: valid).
fn validate(doc: &Value) -> Vec<String> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let schema = match schema_for(api_version, kind) {
        Ok(schema) => schema,
        Err(why) => return vec![why],
    };
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the schema for {api_version} {kind} does not compile: {e}"));
    validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

// ------------------------------------------------------------------ schema checks

#[test]
fn every_kubernetes_object_in_infra_matches_its_pinned_schema() {
    let docs = k8s_docs();
    let kinds: BTreeSet<&str> = docs.iter().map(|d| d.kind()).collect();
    for expected in ["SpinApp", "Deployment", "Service", "Ingress", "Job", "CronJob", "Secret", "ConfigMap"] {
        assert!(kinds.contains(expected), "infra/ has no {expected}; kinds found: {kinds:?}");
    }
    let mut failures = Vec::new();
    for doc in &docs {
        let errors = validate(&doc.value);
        if !errors.is_empty() {
            failures.push(format!("{} {} {}:\n    {}", doc.at(), doc.kind(), doc.name(), errors.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "deployment files that fail their schema:\n  {}", failures.join("\n  "));
}

#[test]
fn yaml_without_apiversion_and_kind_lives_outside_the_kubernetes_manifests() {
    // Other tools' configuration (Prometheus, Grafana, compose) may sit in infra/; Kubernetes manifests may not lack them.
    for doc in infra_docs() {
        let is_object = doc.value.get("apiVersion").is_some() && doc.value.get("kind").is_some();
        assert!(is_object || !doc.file.starts_with("infra/spinkube/"), "{}: a manifest without apiVersion and kind", doc.at());
    }
}

fn doc_of_kind(kind: &str, name: &str) -> Value {
    k8s_docs().into_iter().find(|d| d.kind() == kind && d.name() == name).unwrap_or_else(|| panic!("no {kind} {name} in infra/")).value
}

#[test]
fn a_misspelt_field_fails_the_check() {
    let relay = doc_of_kind("Deployment", "sentinel-relay");
    assert_eq!(validate(&relay), Vec::<String>::new());
    let mut misspelt = relay.clone();
    misspelt["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = json!("Always");
    let errors = validate(&misspelt);
    assert!(errors.iter().any(|e| e.contains("imagePullPolcy")), "{errors:?}");
    let mut misspelt = relay;
    misspelt["spec"]["replica"] = json!(3);
    assert!(validate(&misspelt).iter().any(|e| e.contains("replica")));

    let app = doc_of_kind("SpinApp", "sentinel");
    assert_eq!(validate(&app), Vec::<String>::new());
    for (pointer, field) in [("/spec", "replica"), ("/spec/runtimeConfig", "loadFromSecrets"), ("/metadata", "labelz")] {
        let mut misspelt = app.clone();
        misspelt.pointer_mut(pointer).unwrap().as_object_mut().unwrap().insert(field.into(), json!("x"));
        let errors = validate(&misspelt);
        assert!(errors.iter().any(|e| e.contains(field)), "{pointer}/{field}: {errors:?}");
    }
    let mut wrong_type = app;
    wrong_type["spec"]["replicas"] = json!("two");
    assert!(!validate(&wrong_type).is_empty());

    let ingress = doc_of_kind("Ingress", "sentinel");
    let mut misspelt = ingress;
    misspelt["spec"]["rules"][0]["http"]["paths"][0]["pathTyp"] = json!("Exact");
    assert!(validate(&misspelt).iter().any(|e| e.contains("pathTyp")));
}

// ------------------------------------------------------------------ references between the files

/// Keys of every Secret and ConfigMap in infra/spinkube, by (kind, name).
fn provided_keys() -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for doc in k8s_docs() {
        if matches!(doc.kind(), "Secret" | "ConfigMap") {
            let mut keys = BTreeSet::new();
            for field in ["data", "stringData"] {
                if let Some(map) = doc.value[field].as_object() {
                    keys.extend(map.keys().cloned());
                }
            }
            out.insert((doc.kind().to_string(), doc.name().to_string()), keys);
        }
    }
    out
}

/// Calls `f` with every object (JSON map) inside `value`.
fn walk<'a>(value: &'a Value, f: &mut dyn FnMut(&'a Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            f(map);
            map.values().for_each(|v| walk(v, f));
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, f)),
        _ => {}
    }
}

#[test]
fn every_secret_and_config_map_reference_names_an_existing_key() {
    let provided = provided_keys();
    let mut missing = Vec::new();
    for doc in k8s_docs() {
        walk(&doc.value, &mut |map| {
            for (field, kind) in [("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")] {
                if let Some(r) = map.get(field) {
                    let (name, key) = (r["name"].as_str().unwrap_or_default(), r["key"].as_str().unwrap_or_default());
                    if !provided.get(&(kind.into(), name.into())).is_some_and(|keys| keys.contains(key)) {
                        missing.push(format!("{}: {kind} {name} has no key {key}", doc.at()));
                    }
                }
            }
            if let Some(name) = map.get("configMap").and_then(|c| c["name"].as_str()) {
                if !provided.contains_key(&("ConfigMap".into(), name.into())) {
                    missing.push(format!("{}: no ConfigMap {name}", doc.at()));
                }
            }
            if let Some(name) = map.get("secret").and_then(|s| s["secretName"].as_str()) {
                if !provided.contains_key(&("Secret".into(), name.into())) {
                    missing.push(format!("{}: no Secret {name}", doc.at()));
                }
            }
        });
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

/// Container ports by name of the pods a Service's selector picks.
fn selected_ports(selector: &Map<String, Value>) -> Option<BTreeSet<String>> {
    k8s_docs().iter().filter(|d| d.kind() == "Deployment").find_map(|d| {
        let labels = d.value["spec"]["template"]["metadata"]["labels"].as_object()?;
        if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return None;
        }
        let mut names = BTreeSet::new();
        for container in d.value["spec"]["template"]["spec"]["containers"].as_array()? {
            for port in container["ports"].as_array().into_iter().flatten() {
                names.insert(port["name"].as_str().unwrap_or_default().to_string());
            }
        }
        Some(names)
    })
}

#[test]
fn services_select_pods_and_the_ingress_routes_ws_to_the_relay_and_the_rest_to_the_spinapp() {
    let mut service_ports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for svc in k8s_docs().into_iter().filter(|d| d.kind() == "Service") {
        let selector = svc.value["spec"]["selector"].as_object().cloned().unwrap_or_default();
        let pod_ports = selected_ports(&selector).unwrap_or_else(|| panic!("{}: Service {} selects no Deployment's pods", svc.at(), svc.name()));
        let mut names = BTreeSet::new();
        for port in svc.value["spec"]["ports"].as_array().unwrap() {
            if let Some(target) = port["targetPort"].as_str() {
                assert!(pod_ports.contains(target), "{}: targetPort {target} is not a container port name ({pod_ports:?})", svc.at());
            }
            names.insert(port["name"].as_str().unwrap_or_default().to_string());
            names.insert(port["port"].to_string());
        }
        service_ports.insert(svc.name().to_string(), names);
    }
    // The spin-operator creates a Service named after each SpinApp, port 80.
    for app in k8s_docs().into_iter().filter(|d| d.kind() == "SpinApp") {
        service_ports.insert(app.name().to_string(), BTreeSet::from(["80".to_string()]));
    }

    let ingress = doc_of_kind("Ingress", "sentinel");
    let mut routes = BTreeMap::new();
    for rule in ingress["spec"]["rules"].as_array().unwrap() {
        for path in rule["http"]["paths"].as_array().unwrap() {
            let service = &path["backend"]["service"];
            let name = service["name"].as_str().unwrap();
            let port = service["port"]["name"].as_str().map(str::to_string).unwrap_or_else(|| service["port"]["number"].to_string());
            let ports = service_ports.get(name).unwrap_or_else(|| panic!("the Ingress routes to a Service {name} that infra/ does not define"));
            assert!(ports.contains(&port), "Service {name} has no port {port}");
            routes.insert(path["path"].as_str().unwrap().to_string(), name.to_string());
        }
    }
    assert_eq!(routes.get("/ws").map(String::as_str), Some("sentinel-relay"));
    assert_eq!(routes.get("/").map(String::as_str), Some(doc_of_kind("SpinApp", "sentinel")["metadata"]["name"].as_str().unwrap()));
    // WebSockets stay open past the relay's idle limit (60 s) at the proxy.
    let annotations = ingress["metadata"]["annotations"].as_object().unwrap();
    for timeout in ["nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"] {
        let seconds: u64 = annotations[timeout].as_str().unwrap().parse().unwrap();
        assert!(seconds > 60, "{timeout} = {seconds}");
    }
}

// ------------------------------------------------------------------ names against spin.toml and the programs

fn spin_variables() -> toml::Table {
    let manifest: toml::Table = std::fs::read_to_string(root().join("spin.toml")).unwrap().parse().unwrap();
    manifest["variables"].as_table().unwrap().clone()
}

#[test]
fn the_spinapp_sets_each_spin_toml_variable_once_and_every_required_one() {
    let declared = spin_variables();
    let app = doc_of_kind("SpinApp", "sentinel");
    let mut given: BTreeMap<String, &str> = BTreeMap::new();
    for var in app["spec"]["variables"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_string();
        assert!(declared.contains_key(&name), "SpinApp variable {name} is not declared in spin.toml [variables]");
        assert!(given.insert(name.clone(), "spec.variables").is_none(), "{name} given twice");
    }

    // The runtime configuration Secret the SpinApp loads.
    let secret_name = app["spec"]["runtimeConfig"]["loadFromSecret"].as_str().expect("the SpinApp loads its runtime configuration from a Secret");
    let secret = doc_of_kind("Secret", secret_name);
    let text = secret["stringData"]["runtime-config.toml"].as_str().expect("the spin-operator reads the key runtime-config.toml");
    let runtime: toml::Table = text.parse().unwrap_or_else(|e| panic!("runtime-config.toml is not TOML: {e}"));
    for key in runtime.keys() {
        // Keys the Spin CLI's runtime configuration knows (it refuses unknown ones).
        assert!(
            ["variables_provider", "config_provider", "key_value_store", "sqlite_database", "llm_compute", "state_dir", "log_dir"].contains(&key.as_str()),
            "runtime-config.toml: unknown top-level key {key}"
        );
    }
    for provider in runtime["variables_provider"].as_array().unwrap() {
        let kind = provider["type"].as_str().unwrap();
        assert!(["static", "env", "vault", "azure_key_vault"].contains(&kind), "unknown variables provider type {kind}");
        if kind == "static" {
            for (name, value) in provider["values"].as_table().unwrap() {
                assert!(declared.contains_key(name), "runtime config variable {name} is not declared in spin.toml [variables]");
                assert!(value.is_str(), "{name}: static values are strings");
                assert!(given.insert(name.clone(), "runtime config").is_none(), "{name} given both by spec.variables and the runtime config");
            }
        }
    }
    for (name, spec) in &declared {
        if spec.get("required").and_then(|r| r.as_bool()) == Some(true) {
            assert!(given.contains_key(name), "required variable {name} is given neither by spec.variables nor the runtime config");
        }
    }
    // The app's connections go through PgBouncer.
    let static_values = &runtime["variables_provider"][0]["values"];
    let database_host = static_values["database_host"].as_str().unwrap();
    assert!(static_values["database_url"].as_str().unwrap().contains(database_host), "database_url and database_host disagree");
    assert!(database_host.starts_with("sentinel-pgbouncer"), "{database_host}");
}

/// Environment variable names a container sets, with the program it runs.
fn container_envs() -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for doc in k8s_docs() {
        walk(&doc.value, &mut |map| {
            if let (Some(image), Some(name)) = (map.get("image").and_then(Value::as_str), map.get("name").and_then(Value::as_str)) {
                let program = match map.get("command").and_then(|c| c[0].as_str()) {
                    Some(command) => command.rsplit('/').next().unwrap().to_string(),
                    None if image.contains("sentinel-relay") => "sentinel-relay".to_string(),
                    None => return,
                };
                let envs = map.get("env").and_then(Value::as_array).into_iter().flatten().map(|e| e["name"].as_str().unwrap().to_string()).collect();
                out.push((format!("{} container {name}", doc.at()), program, envs));
            }
        });
    }
    out
}

#[test]
fn containers_set_only_environment_variables_their_program_reads() {
    let sources = [("sentinel-relay", "realtime-relay/src/main.rs"), ("sentinel", "cli/src/main.rs")];
    let envs = container_envs();
    let programs: BTreeSet<&str> = envs.iter().map(|(_, p, _)| p.as_str()).collect();
    assert!(programs.contains("sentinel-relay") && programs.contains("sentinel"), "{programs:?}");
    for (at, program, names) in envs {
        let source = sources.iter().find(|(p, _)| *p == program).unwrap_or_else(|| panic!("{at}: runs {program}, which this check does not know"));
        let text = std::fs::read_to_string(root().join(source.1)).unwrap();
        for name in names {
            assert!(text.contains(&format!("\"{name}\"")), "{at}: {program} does not read {name} ({})", source.1);
        }
    }
    // The migration Job runs `sentinel migrate`, which needs only the database URL.
    let job = doc_of_kind("Job", "sentinel-migrate");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], json!(["/usr/local/bin/sentinel", "migrate"]));
}

#[test]
fn the_pgbouncer_config_map_carries_the_shipped_pgbouncer_ini() {
    let shipped = std::fs::read_to_string(root().join("infra/pgbouncer/pgbouncer.ini")).unwrap();
    let config_map = doc_of_kind("ConfigMap", "sentinel-pgbouncer");
    assert_eq!(config_map["data"]["pgbouncer.ini"].as_str(), Some(shipped.as_str()), "infra/spinkube/pgbouncer.yaml and infra/pgbouncer/pgbouncer.ini differ");
}

// ------------------------------------------------------------------ compose.yaml (single host)

fn compose_errors(compose: &Value) -> Vec<String> {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .build(&read_json(COMPOSE_SPEC))
        .unwrap_or_else(|e| panic!("{COMPOSE_SPEC} does not compile: {e}"));
    validator.iter_errors(compose).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn compose_yaml_matches_the_compose_specification() {
    let text = std::fs::read_to_string(root().join("compose.yaml")).unwrap();
    let compose = parse_yaml_documents(&text, "compose.yaml").remove(0).value;
    assert_eq!(compose_errors(&compose), Vec::<String>::new());
    let mut misspelt = compose;
    misspelt["services"]["relay"]["enviroment"] = json!({});
    assert!(compose_errors(&misspelt).iter().any(|e| e.contains("enviroment")));
}

#[test]
fn compose_names_the_variables_spin_toml_and_the_programs_read() {
    let text = std::fs::read_to_string(root().join("compose.yaml")).unwrap();
    let compose = parse_yaml_documents(&text, "compose.yaml").remove(0).value;
    let services = compose["services"].as_object().unwrap();
    for name in ["postgres", "redis", "pgbouncer", "migrate", "app", "relay"] {
        assert!(services.contains_key(name), "compose.yaml has no service {name}");
    }
    let declared = spin_variables();
    let env_names = |service: &str| -> Vec<String> { services[service]["environment"].as_object().map(|e| e.keys().cloned().collect()).unwrap_or_default() };
    for name in env_names("app") {
        let variable = name.strip_prefix("SPIN_VARIABLE_").unwrap_or_else(|| panic!("app: {name} is not a Spin variable")).to_ascii_lowercase();
        assert!(declared.contains_key(&variable), "app: {name} names no spin.toml variable");
    }
    for (name, spec) in &declared {
        if spec.get("required").and_then(|r| r.as_bool()) == Some(true) {
            assert!(env_names("app").contains(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())), "app: required {name} missing");
        }
    }
    let relay = std::fs::read_to_string(root().join("realtime-relay/src/main.rs")).unwrap();
    let cli = std::fs::read_to_string(root().join("cli/src/main.rs")).unwrap();
    for (service, source) in [("relay", &relay), ("migrate", &cli), ("seed", &cli)] {
        for name in env_names(service) {
            assert!(source.contains(&format!("\"{name}\"")), "{service}: {name} is not read by its program");
        }
    }
    // The app reaches PostgreSQL through PgBouncer, whose config is the shipped file.
    let app_env = &services["app"]["environment"];
    assert!(app_env["SPIN_VARIABLE_DATABASE_URL"].as_str().unwrap().contains(app_env["SPIN_VARIABLE_DATABASE_HOST"].as_str().unwrap()));
    assert!(app_env["SPIN_VARIABLE_DATABASE_HOST"].as_str().unwrap().starts_with("pgbouncer:"));
    let mounts: Vec<&str> = services["pgbouncer"]["volumes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(mounts.iter().any(|m| m.starts_with("./infra/pgbouncer/pgbouncer.ini:")), "{mounts:?}");
}
