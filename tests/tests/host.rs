//! The local host against Spin's behaviour (docs/spin.md), through real HTTP, with the real probe
//! component, real PostgreSQL and real Redis. With `SENTINEL_SPIN_BIN` set the same checks run
//! against real Spin, which is how the local host's fidelity is verified; tests of what only the
//! local host does (its compatibility modes, its execution timeout) skip themselves there.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use sentinel_host::SpinCompat;
use sentinel_tests::{request, request_bytes, services, skip_on_real_spin, spin_release, start_host, start_local_host, workspace_root, HostHandle, Resp};
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    workspace_root().join("tests/fixtures").join(name)
}

/// Builds only the probe (these tests must not depend on the app's components building).
fn build_components() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let outcome = BUILT.get_or_init(|| {
        let probe: Vec<_> = sentinel_tests::test_components()
            .map_err(|e| format!("{e:#}"))?
            .into_iter()
            .filter(|c| c.wasm.ends_with("sentinel_probe.wasm") && c.command.is_some())
            .take(1)
            .collect();
        if std::env::var("SENTINEL_TEST_PREBUILT").is_ok_and(|v| v == "1") && probe.iter().all(|c| c.wasm.is_file()) {
            return Ok(());
        }
        sentinel_ops::build::build_components(&workspace_root(), &probe, false).map(|_| ()).map_err(|e| format!("{e:#}"))
    });
    if let Err(e) = outcome {
        panic!("building the probe component failed: {e}");
    }
}

fn base_variables() -> HashMap<String, String> {
    let s = services();
    HashMap::from([
        ("required_secret".to_string(), "s3cret".to_string()),
        ("db_host".to_string(), format!("127.0.0.1:{}", s.pg_port)),
        ("redis_host".to_string(), format!("127.0.0.1:{}", s.redis_port)),
    ])
}

/// One shared host for the read-only checks.
fn host() -> &'static HostHandle {
    static HOST: OnceLock<HostHandle> = OnceLock::new();
    HOST.get_or_init(|| {
        build_components();
        start_host(&fixture("spin.toml"), base_variables()).expect("starting the probe host")
    })
}

fn get(path: &str) -> Resp {
    request("GET", &format!("{}{}", host().base_url, path), &[], None)
}

fn post(path: &str, body: &Value) -> Resp {
    request("POST", &format!("{}{}", host().base_url, path), &[], Some(body))
}

fn header<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"].as_array()?.iter().find(|h| h[0] == name).and_then(|h| h[1].as_str())
}

fn headers_named<'a>(echo: &'a Value, name: &str) -> Vec<&'a str> {
    echo["headers"].as_array().unwrap().iter().filter(|h| h[0] == name).filter_map(|h| h[1].as_str()).collect()
}

// ------------------------------------------------------------------ routing

#[test]
fn routes_match_spins_verified_table() {
    // (path, component, matched route, path-info)
    let cases = [
        ("/", "probe", "", ""),
        ("/foo/", "probe", "/foo", ""),
        ("//foo", "probe", "/foo", ""),
        ("/Foo", "probe", "/...", "/Foo"),
        ("/foobar", "probe", "/...", "/foobar"),
        ("/foo/bar", "probe", "/...", "/foo/bar"),
        ("/users/me", "other", "/users/me", ""),
        ("/users/42", "probe", "/users/:id", ""),
        ("/users/42/", "probe", "/users/:id", ""),
        ("/users/42/posts", "probe", "/users/:user_id/...", "/posts"),
        ("/api", "other", "/api/...", ""),
        ("/api/", "other", "/api/...", "/"),
        ("/api/x/y", "other", "/api/...", "/x/y"),
    ];
    for (path, component, matched, info) in cases {
        let r = get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["component"], component, "{path}");
        assert_eq!(header(&r.body, "spin-matched-route"), Some(matched), "{path}");
        assert_eq!(header(&r.body, "spin-path-info"), Some(info), "{path}");
    }
    let r = get("/users/42");
    assert_eq!(header(&r.body, "spin-path-match-id"), Some("42"));
}

#[test]
fn available_routes_are_reported_in_manifest_order() {
    if skip_on_real_spin("available_routes_are_reported_in_manifest_order") {
        return;
    }
    let routes = host().routes();
    assert_eq!(routes.first(), Some(&("/".to_string(), "probe".to_string())));
    assert!(routes.contains(&("/users/me".to_string(), "other".to_string())));
    assert!(routes.contains(&("/static".to_string(), "static response".to_string())));
    assert!(!routes.iter().any(|(_, c)| c == "hidden"), "private routes are not routable");
}

#[test]
fn spin_headers_example_a_wildcard_route() {
    let r = get("/api/items/7?x=1");
    let addr = host().addr;
    let e = &r.body;
    assert_eq!(header(e, "spin-path-info"), Some("/items/7"));
    assert_eq!(header(e, "spin-full-url"), Some(format!("http://{addr}/api/items/7?x=1").as_str()));
    assert_eq!(header(e, "spin-matched-route"), Some("/api/..."));
    assert_eq!(header(e, "spin-base-path"), Some("/"));
    assert_eq!(header(e, "spin-raw-component-route"), Some("/api/..."));
    assert_eq!(header(e, "spin-component-route"), Some("/api"));
    assert!(header(e, "spin-client-addr").unwrap().starts_with("127.0.0.1:"));
    assert_eq!(header(e, "host"), None, "forbidden headers are removed");
    assert_eq!(e["uri"], format!("http://{addr}/api/items/7?x=1"));
    assert_eq!(e["method"], "GET");
}

#[test]
fn spin_headers_example_b_named_parameters() {
    let r = get("/users/42/posts/hello");
    let e = &r.body;
    let route = "/users/:user_id/posts/:post";
    assert_eq!(header(e, "spin-path-info"), Some(""));
    assert_eq!(header(e, "spin-matched-route"), Some(route));
    assert_eq!(header(e, "spin-raw-component-route"), Some(route));
    assert_eq!(header(e, "spin-component-route"), Some(route));
    assert_eq!(header(e, "spin-path-match-user-id"), Some("42"));
    assert_eq!(header(e, "spin-path-match-post"), Some("hello"));
}

#[test]
fn client_spin_headers_are_kept_before_the_hosts_and_catch_all_values() {
    let url = format!("{}/anything", host().base_url);
    let r = request_bytes("GET", &url, &[("spin-path-info", "/forged"), ("x-custom", "1")], None);
    let echo: Value = serde_json::from_str(&r.text).unwrap();
    assert_eq!(headers_named(&echo, "spin-path-info"), vec!["/forged", "/anything"]);
    assert_eq!(header(&echo, "x-custom"), Some("1"));
    assert_eq!(header(&echo, "spin-component-route"), Some(""));
    assert_eq!(header(&echo, "spin-matched-route"), Some("/..."));
}

#[test]
fn unmatched_paths_get_an_empty_404() {
    build_components();
    let h = start_host(&fixture("minimal.toml"), HashMap::new()).unwrap();
    let r = request("GET", &format!("{}/a/b", h.base_url), &[], None);
    assert_eq!((r.status, r.text.as_str()), (404, ""));
    assert!(r.header("content-type").is_none());
    let r = request("GET", &format!("{}/", h.base_url), &[], None);
    assert_eq!((r.status, r.text.as_str()), (404, ""), "/:p does not match /");
    let r = request("GET", &format!("{}/x", h.base_url), &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(header(&r.body, "spin-path-match-p"), Some("x"));
}

#[test]
fn well_known_paths_are_answered_by_the_host() {
    let r = get("/.well-known/spin/health");
    assert_eq!((r.status, r.text.as_str()), (200, "OK"));
    let r = get("/.well-known/spin/info");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, json!({"name": "probe-app", "version": "1.2.3"}));
    let r = get("/.well-known/spin/other");
    assert_eq!((r.status, r.text.as_str()), (404, ""));
}

#[test]
fn static_responses_are_served_without_a_component() {
    let r = get("/static");
    assert_eq!((r.status, r.text.as_str()), (201, "static body"));
    assert_eq!(r.header("x-static"), Some("yes"));
}

#[test]
fn guest_environment_is_the_components_environment_table_only() {
    let r = get("/env");
    assert_eq!(r.body, json!([["EXTRA", "x"], ["PROBE_ID", "probe"]]));
}

// ------------------------------------------------------------------ variables

fn var(h: &HostHandle, path: &str, name: &str) -> Value {
    request("GET", &format!("{}{path}?name={name}", h.base_url), &[], None).body
}

#[test]
fn variables_resolve_with_defaults_overrides_and_templates() {
    let h = host();
    assert_eq!(var(h, "/var", "greeting"), json!({"ok": "hello"}));
    assert_eq!(var(h, "/var", "secret"), json!({"ok": "s3cret"}));
    assert_eq!(var(h, "/var", "combo"), json!({"ok": "hello, s3cret!"}));
    assert_eq!(var(h, "/var", "literal"), json!({"ok": "fixed value"}));
    assert_eq!(var(h, "/api/var", "token"), json!({"ok": "t0ken"}));

    let mut vars = base_variables();
    vars.insert("greeting".into(), "hi".into());
    let custom = start_host(&fixture("spin.toml"), vars).unwrap();
    assert_eq!(var(&custom, "/var", "combo"), json!({"ok": "hi, s3cret!"}));
}

#[test]
fn variable_errors_use_spins_variants_and_texts() {
    let h = host();
    assert_eq!(var(h, "/var", "nope"), json!({"error": "undefined", "text": "no variable for \"probe\".\"nope\""}));
    assert_eq!(var(h, "/api/var", "greeting"), json!({"error": "undefined", "text": "no variable for \"other\".\"greeting\""}));
    assert_eq!(
        var(h, "/var", "Bad"),
        json!({"error": "invalid-name", "text": "\"Bad\": invalid character 'B'. Variable names may contain only lower-case letters, numbers, and underscores."})
    );
    assert_eq!(var(h, "/var", "1x"), json!({"error": "invalid-name", "text": "\"1x\": must start with a lowercase ASCII letter"}));
}

#[test]
fn spin_variable_environment_provider_is_read_on_every_get() {
    // Changes this test process's environment, which a real `spin up` (another process) never sees.
    if skip_on_real_spin("spin_variable_environment_provider_is_read_on_every_get") {
        return;
    }
    let h = host();
    assert_eq!(var(h, "/var", "from_env"), json!({"ok": "from-default"}));
    std::env::set_var("SPIN_VARIABLE_FROM_ENV", "from-environment");
    let value = var(h, "/var", "from_env");
    std::env::remove_var("SPIN_VARIABLE_FROM_ENV");
    assert_eq!(value, json!({"ok": "from-environment"}));
}

#[test]
fn missing_required_variable_fails_startup_with_spins_message() {
    build_components();
    let err = match start_host(&fixture("spin.toml"), HashMap::new()) {
        Ok(_) => panic!("the host started without required_secret"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("provider error: no provider resolved required variable(s): [Key(\"required_secret\")]"),
        "{err}"
    );
}

// ------------------------------------------------------------------ outbound permissions

#[test]
fn outbound_connections_outside_the_allow_list_are_denied() {
    let s = services();
    // "other" has no allowed_outbound_hosts at all.
    let r = post("/api/pg", &json!({"address": s.database_url, "sql": "SELECT 1"}));
    assert_eq!(r.body["error"], "connection-failed");
    assert_eq!(r.body["text"], format!("address postgres://127.0.0.1:{} is not permitted", s.pg_port));
    let r = post("/api/redis", &json!({"address": s.redis_url, "op": "open"}));
    assert_eq!(r.body, json!({"error": "invalid-address"}));
    // "probe" may reach http://127.0.0.1:9 only.
    let r = get("/http?url=http://127.0.0.1:1/x");
    assert!(r.body["error"].as_str().unwrap().contains("HttpRequestDenied"), "{}", r.text);
    let r = get("/http?url=https://example.com/");
    assert!(r.body["error"].as_str().unwrap().contains("HttpRequestDenied"), "{}", r.text);
}

#[test]
fn outbound_http_to_an_allowed_host_goes_out() {
    // http_host points at the app itself: the probe calls its own /.well-known/spin/health.
    build_components();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut vars = base_variables();
    vars.insert("http_host".into(), "127.0.0.1:*".into());
    let h = start_host(&fixture("spin.toml"), vars).unwrap();
    let _ = port;
    let url = format!("{}/http?url=http://{}/.well-known/spin/health", h.base_url, h.addr);
    let r = request("GET", &url, &[], None);
    assert_eq!(r.body, json!({"status": 200, "body": "OK"}), "{}", r.text);
}

// ------------------------------------------------------------------ postgres

fn pg(steps: Value) -> Vec<Value> {
    let r = post("/pg", &json!({"address": services().database_url, "steps": steps}));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().unwrap_or_else(|| panic!("{}", r.text)).clone()
}

fn pg1(sql: &str, params: Value, mode: &str) -> Value {
    pg(json!([{"sql": sql, "params": params, "mode": mode}])).remove(0)
}

#[test]
fn postgres_round_trips_every_column_type_the_schema_uses() {
    let out = pg(json!([
        {"mode": "execute", "sql": "CREATE TEMP TABLE probe_types (id uuid, name text, code varchar(10), s int2, i int4, b int8, flag bool, ts timestamp, tstz timestamptz, d date, doc jsonb, amount numeric(10,2), tags text[], nothing text)"},
        {"mode": "execute", "sql": "INSERT INTO probe_types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::timestamptz, $10, $11, $12, $13, $14)", "params": [
            {"type": "uuid", "value": "6F9619FF-8B86-D011-B42D-00C04FC964FF"},
            {"type": "str", "value": "Ada"},
            {"type": "str", "value": "C-1"},
            {"type": "int16", "value": -3},
            {"type": "int32", "value": 70000},
            {"type": "int64", "value": 9000000000i64},
            {"type": "bool", "value": true},
            {"type": "datetime", "value": [2026, 1, 23, 16, 56, 39, 123456000]},
            {"type": "str", "value": "2026-01-23T16:56:39Z"},
            {"type": "date", "value": [2026, 2, 28]},
            {"type": "jsonb", "value": {"b": 1, "a": [1, 2.5, {"z": null, "y": "x"}]}},
            {"type": "decimal", "value": "1.5"},
            {"type": "array_str", "value": ["x", null]},
            {"type": "null"}
        ]},
        {"mode": "query", "sql": "SELECT id, name, code, s, i, b, flag, ts, d, doc, amount, tags, nothing, iso(tstz) AS at, id::text AS id_text FROM probe_types"},
    ]));
    assert_eq!(out[0], json!({"count": 0}));
    assert_eq!(out[1], json!({"count": 1}));
    let types: Vec<&str> = out[2]["columns"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["Uuid", "Str", "Str", "Int16", "Int32", "Int64", "Boolean", "Datetime", "Date", "Jsonb", "Decimal", "ArrayStr", "Str", "Str", "Str"]
    );
    assert_eq!(
        out[2]["rows"][0],
        json!([
            {"uuid": "6f9619ff-8b86-d011-b42d-00c04fc964ff"},
            {"str": "Ada"},
            {"str": "C-1"},
            {"int16": -3},
            {"int32": 70000},
            {"int64": 9000000000i64},
            {"boolean": true},
            {"datetime": [2026, 1, 23, 16, 56, 39, 123456000]},
            {"date": [2026, 2, 28]},
            {"jsonb": "{\"a\":[1,2.5,{\"y\":\"x\",\"z\":null}],\"b\":1}"},
            {"decimal": "1.50"},
            {"array_str": ["x", null]},
            {"null": true},
            {"str": "2026-01-23T16:56:39.000Z"},
            {"str": "6f9619ff-8b86-d011-b42d-00c04fc964ff"}
        ])
    );
}

/// A probe host of its own in the given compatibility mode.
fn host_in(compat: SpinCompat) -> HostHandle {
    build_components();
    start_local_host(&fixture("spin.toml"), base_variables(), compat).expect("starting the probe host")
}

fn pg_on(h: &HostHandle, steps: Value) -> Resp {
    request("POST", &format!("{}/pg", h.base_url), &[], Some(&json!({"address": services().database_url, "steps": steps})))
}

#[test]
fn a_query_matching_no_row_follows_the_chosen_spin_release() {
    if skip_on_real_spin("a_query_matching_no_row_follows_the_chosen_spin_release") {
        return;
    }
    let none = json!([{"mode": "query", "sql": "SELECT 1 AS one, 'x'::text AS two WHERE false"}]);
    // 3.6: an empty row-set without columns.
    let r = pg_on(&host_in(SpinCompat::V3_6), none.clone());
    assert_eq!((r.status, r.body.clone()), (200, json!([{"columns": [], "rows": []}])), "{}", r.text);
    // 4.1: an empty row-set that keeps the statement's columns.
    let r = pg_on(&host_in(SpinCompat::V4_1), none.clone());
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r.body[0]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!((names, r.body[0]["rows"].clone()), (vec!["one", "two"], json!([])));
    // Strict 4.0 (the default): real Spin 4.0.0–4.0.2 would hang, so the request fails at once.
    let strict = host_in(SpinCompat::V4_0);
    let started = std::time::Instant::now();
    let r = pg_on(&strict, none);
    assert_eq!((r.status, r.text.as_str()), (500, ""));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // The same statement with a row, and `execute` matching nothing, are fine in strict mode.
    let r = pg_on(&strict, json!([
        {"mode": "query", "sql": "SELECT 1 AS one"},
        {"mode": "execute", "sql": "UPDATE badges SET serial_number = serial_number WHERE false"},
    ]));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[1], json!({"count": 0}));
}

#[test]
fn execution_errors_of_a_query_read_as_each_spin_release_renders_them() {
    if skip_on_real_spin("execution_errors_of_a_query_read_as_each_spin_release_renders_them") {
        return;
    }
    let steps = json!([
        {"mode": "execute", "sql": "CREATE TEMP TABLE probe_unique36 (k int PRIMARY KEY)"},
        {"mode": "execute", "sql": "INSERT INTO probe_unique36 VALUES (1)"},
        {"mode": "query", "sql": "INSERT INTO probe_unique36 VALUES (1) RETURNING k"},
        {"mode": "query", "sql": "SELECT now() AS at"},
    ]);
    let r = pg_on(&host_in(SpinCompat::V3_6), steps.clone());
    assert_eq!(r.status, 200, "{}", r.text);
    // 3.6.3: the driver's own text, SQLSTATE nowhere.
    assert_eq!((r.body[2]["error"].as_str(), r.body[2]["kind"].as_str()), (Some("query-failed"), Some("text")));
    let text = r.body[2]["text"].as_str().unwrap();
    assert!(text.starts_with("db error: ERROR: duplicate key value violates unique constraint \"probe_unique36_pkey\""), "{text}");
    assert!(text.contains("\n\nCaused by:\n    ERROR: duplicate key"), "{text}");
    assert!(!text.contains("SqlState"), "{text}");
    // A row-decode failure is the inner text itself, without 4.0's wrapper.
    let text = r.body[3]["text"].as_str().unwrap();
    assert!(text.starts_with("error deserializing column 0"), "{text}");
    // 4.0.x (and 4.1): the Debug rendering of the wrapped WIT error, SQLSTATE inside.
    let r = pg_on(&host_in(SpinCompat::V4_0), steps);
    let text = r.body[2]["text"].as_str().unwrap();
    assert!(text.starts_with("Error::QueryFailed(QueryError::DbError(DbError { as-text:"), "{text}");
    assert!(text.contains("code: SqlState(E23505)"), "{text}");
    assert!(r.body[3]["text"].as_str().unwrap().starts_with("Error::QueryFailed(QueryError::Text(\"error deserializing column 0"));
}

#[test]
fn postgres_timestamptz_columns_fail_even_when_null() {
    for sql in ["SELECT now() AS t", "SELECT NULL::timestamptz AS t"] {
        let r = pg1(sql, json!([]), "query");
        assert_eq!(r["error"], "query-failed", "{sql}: {r}");
        assert_eq!(r["kind"], "text");
        let text = r["text"].as_str().unwrap();
        let decode_error = "error deserializing column 0: cannot convert between the Rust type `core::option::Option<chrono::naive::datetime::NaiveDateTime>` and the Postgres type `timestamptz`";
        if spin_release() == SpinCompat::V3_6 {
            assert!(text.starts_with(decode_error), "{text}");
            assert!(text.contains("\n\nCaused by:\n    cannot convert"), "{text}");
        } else {
            assert!(text.starts_with(&format!("Error::QueryFailed(QueryError::Text(\"{decode_error}")), "{text}");
            assert!(text.contains("\\n\\nCaused by:\\n    cannot convert"), "{text}");
        }
    }
}

#[test]
fn postgres_other_types_come_back_raw() {
    let r = pg1("SELECT 'ab'::name AS n, ARRAY[1,2]::int2[] AS a, NULL::inet AS i", json!([]), "query");
    assert_eq!(r["columns"], json!([{"name": "n", "type": "Other(\"name\")"}, {"name": "a", "type": "Other(\"_int2\")"}, {"name": "i", "type": "Other(\"inet\")"}]));
    assert_eq!(r["rows"][0][0], json!({"unsupported": [97, 98]}));
    assert_eq!(r["rows"][0][2], json!({"null": true}));
}

#[test]
fn postgres_ranges_intervals_and_arrays() {
    let r = pg1(
        "SELECT int4range(1,5) AS a, 'empty'::int4range AS e, numrange(1.5, 2.25, '[]') AS n, int8range(NULL, 7) AS b, interval '1 month 2 days 3 seconds' AS i, ARRAY[1,NULL]::int4[] AS ai, ARRAY[1.5]::numeric[] AS an",
        json!([]),
        "query",
    );
    assert_eq!(
        r["rows"][0],
        json!([
            {"range_int32": [[1, "inclusive"], [5, "exclusive"]]},
            {"range_int32": [null, null]},
            {"range_decimal": [["1.5", "inclusive"], ["2.25", "inclusive"]]},
            {"range_int64": [null, [7, "exclusive"]]},
            {"interval": {"micros": 3000000, "days": 2, "months": 1}},
            {"array_int32": [1, null]},
            {"array_decimal": ["1.5"]}
        ]),
        "{r}"
    );
    let r = pg1(
        "SELECT $1::int4range = int4range(2,6) AS same, $2::interval = interval '1 day' AS i, $3::numrange AS n",
        json!([
            {"type": "range_int32", "value": {"lower": [1, "exclusive"], "upper": [5, "inclusive"]}},
            {"type": "interval", "value": {"micros": 0, "days": 1, "months": 0}},
            {"type": "range_decimal", "value": {"lower": ["0.5", "inclusive"], "upper": null}}
        ]),
        "query",
    );
    assert_eq!(r["rows"][0], json!([{"boolean": true}, {"boolean": true}, {"range_decimal": [["0.5", "inclusive"], null]}]), "{r}");
}

#[test]
fn postgres_parameter_binding_is_strict() {
    let wrong = |sql: &str, param: Value, pg: &str, rust: &str| {
        for mode in ["query", "execute"] {
            let r = pg1(sql, json!([param.clone()]), mode);
            assert_eq!(
                r,
                json!({"error": "query-failed", "kind": "text", "text": format!("Error {{ kind: ToSql(0), cause: Some(WrongType {{ postgres: {pg}, rust: \"{rust}\" }}) }}")}),
                "{sql} {mode}"
            );
        }
    };
    wrong("SELECT $1::int4", json!({"type": "int64", "value": 1}), "Int4", "i64");
    wrong("SELECT $1::int4", json!({"type": "int8", "value": 1}), "Int4", "i8");
    wrong("SELECT $1", json!({"type": "int32", "value": 1}), "Text", "i32");
    wrong("SELECT $1::timestamptz", json!({"type": "datetime", "value": [2026, 1, 1, 0, 0, 0, 0]}), "Timestamptz", "chrono::naive::datetime::NaiveDateTime");
    wrong("SELECT $1::timestamp", json!({"type": "timestamp", "value": 0}), "Timestamp", "chrono::datetime::DateTime<chrono::offset::utc::Utc>");

    let ok = pg1("SELECT $1::timestamptz IS NOT NULL AS ok", json!([{"type": "timestamp", "value": 0}]), "query");
    assert_eq!(ok["rows"][0][0], json!({"boolean": true}));
    let r = pg1("SELECT $1::int4", json!([]), "query");
    assert_eq!(r["text"], "Error { kind: Parameters(0, 1), cause: None }");

    let r = pg1("SELECT $1::uuid", json!([{"type": "uuid", "value": "nope"}]), "query");
    assert_eq!(r["error"], "bad-parameter");
    assert!(r["text"].as_str().unwrap().starts_with("invalid UUID nope\n\nCaused by:\n    "), "{r}");
    let r = pg1("SELECT $1::uuid", json!([{"type": "uuid", "value": "nope"}]), "execute");
    assert_eq!(r["error"], "value-conversion-failed");
    let r = pg1("SELECT $1::date", json!([{"type": "date", "value": [2026, 2, 30]}]), "query");
    assert_eq!(r, json!({"error": "bad-parameter", "text": "invalid date y=2026, m=2, d=30"}));
}

#[test]
fn postgres_query_and_execute_report_errors_differently() {
    let out = pg(json!([
        {"mode": "execute", "sql": "CREATE TEMP TABLE probe_unique (k int PRIMARY KEY)"},
        {"mode": "execute", "sql": "INSERT INTO probe_unique VALUES (1)"},
        {"mode": "query", "sql": "INSERT INTO probe_unique VALUES (1) RETURNING k"},
        {"mode": "execute", "sql": "INSERT INTO probe_unique VALUES (1)"},
        {"mode": "query", "sql": "SELECT 1/0"},
        {"mode": "query", "sql": "SELECT nope FROM probe_unique"},
        {"mode": "execute", "sql": "SELECT 1; SELECT 2"},
        {"mode": "execute", "sql": "UPDATE probe_unique SET k = k + 10"},
    ]));
    // Execution-phase error through query: text — on 4.x wrapping the WIT error's Debug rendering,
    // on 3.6 the driver's own message without SQLSTATE.
    assert_eq!(out[2]["error"], "query-failed");
    assert_eq!(out[2]["kind"], "text");
    let text = out[2]["text"].as_str().unwrap();
    if spin_release() == SpinCompat::V3_6 {
        assert!(text.starts_with("db error: ERROR: duplicate key value violates unique constraint"), "{text}");
    } else {
        assert!(text.starts_with("Error::QueryFailed(QueryError::DbError(DbError { as-text: \"Error { kind: Db, cause: Some(DbError { severity: \\\"ERROR\\\""), "{text}");
        assert!(text.contains("code: SqlState(E23505)"), "{text}");
    }
    // The same failure through execute keeps the structured db-error.
    assert_eq!(out[3]["kind"], "db-error");
    assert_eq!(out[3]["code"], "23505");
    assert_eq!(out[3]["severity"], "ERROR");
    assert!(out[3]["extras"].as_array().unwrap().iter().any(|e| e[0] == "constraint"));
    assert_eq!((out[4]["kind"].as_str(), out[4]["code"].as_str()), (Some("db-error"), Some("22012")));
    assert_eq!((out[5]["kind"].as_str(), out[5]["code"].as_str()), (Some("db-error"), Some("42703")));
    assert_eq!((out[6]["kind"].as_str(), out[6]["code"].as_str()), (Some("db-error"), Some("42601")));
    assert_eq!(out[7], json!({"count": 1}));
}

#[test]
fn postgres_tls_follows_sslmode_like_spin() {
    // The test server offers no TLS: `prefer` (the default) falls back to plaintext after the
    // server's "no SSL" answer, `disable` never asks, and `require` fails the connection.
    let url = services().database_url.clone();
    let with_mode = |mode: &str| format!("{url}{}sslmode={mode}", if url.contains('?') { '&' } else { '?' });
    for mode in ["prefer", "disable"] {
        let r = post("/pg", &json!({"address": with_mode(mode), "sql": "SELECT 7 AS seven", "mode": "query"}));
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.text.contains("seven"), "sslmode={mode}: {}", r.text);
    }
    let r = post("/pg", &json!({"address": with_mode("require"), "sql": "SELECT 1", "mode": "query"}));
    assert_eq!(r.body["error"], "connection-failed", "{}", r.text);
    assert!(r.body["text"].as_str().unwrap().contains("server does not support TLS"), "a real TLS attempt: {}", r.text);
}

// ------------------------------------------------------------------ redis

fn redis(op: Value) -> Value {
    let mut body = op;
    body["address"] = json!(services().redis_url);
    let r = post("/redis", &body);
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[test]
fn redis_operations_map_like_spin() {
    let key = format!("probe:{}", std::process::id());
    assert_eq!(redis(json!({"op": "set", "key": key, "value": "v1"})), json!({"ok": null}));
    assert_eq!(redis(json!({"op": "get", "key": key})), json!({"ok": "v1"}));
    assert_eq!(redis(json!({"op": "get", "key": format!("{key}:missing")})), json!({"ok": null}));
    let counter = format!("{key}:n");
    assert_eq!(redis(json!({"op": "incr", "key": counter})), json!({"ok": 1}));
    assert_eq!(redis(json!({"op": "incr", "key": counter})), json!({"ok": 2}));
    let r = redis(json!({"op": "incr", "key": key}));
    assert_eq!(r["error"], "other");
    assert!(r["text"].as_str().unwrap().contains("value is not an integer or out of range"), "{r}");
    let set = format!("{key}:set");
    assert_eq!(redis(json!({"op": "sadd", "key": set, "values": ["a", "b"]})), json!({"ok": 2}));
    assert_eq!(redis(json!({"op": "srem", "key": set, "values": ["a"]})), json!({"ok": 1}));
    assert_eq!(redis(json!({"op": "smembers", "key": set})), json!({"ok": ["b"]}));
    assert_eq!(redis(json!({"op": "del", "keys": [key, counter, set]})), json!({"ok": 3}));
    assert_eq!(redis(json!({"op": "publish", "key": "probe-channel", "value": "x"})), json!({"ok": null}));
}

#[test]
fn rediss_addresses_are_accepted_like_spin() {
    // Spin opens `rediss://` with TLS. A host without TLS support refuses the address itself
    // (`invalid-address`); with it, the open gets as far as connecting — here to a closed port —
    // and fails as a connection error (`other`). (A plaintext Redis is no test: it waits forever
    // for the end of the TLS hello, and Spin sets no timeout either.)
    let r = post("/redis", &json!({"op": "open", "address": "rediss://127.0.0.1:1"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["error"], "other", "{}", r.text);
    assert!(r.body["text"].as_str().unwrap().to_lowercase().contains("refused"), "{}", r.text);
}

#[test]
fn redis_execute_flattens_replies() {
    let stream = format!("probe:stream:{}", std::process::id());
    let r = redis(json!({"op": "execute", "command": "XADD", "args": [stream, "1-1", "field", "value"]}));
    assert_eq!(r, json!({"ok": [{"binary": "1-1"}]}), "XADD ids are bulk strings");
    let r = redis(json!({"op": "execute", "command": "XRANGE", "args": [stream, "-", "+"]}));
    assert_eq!(r, json!({"ok": [{"binary": "1-1"}, {"binary": "field"}, {"binary": "value"}]}));
    let r = redis(json!({"op": "execute", "command": "SET", "args": [format!("{stream}:k"), 5]}));
    assert_eq!(r, json!({"ok": [{"status": "OK"}]}));
    let r = redis(json!({"op": "execute", "command": "INCRBY", "args": [format!("{stream}:k"), 2]}));
    assert_eq!(r, json!({"ok": [{"int64": 7}]}));
    let r = redis(json!({"op": "execute", "command": "GET", "args": [format!("{stream}:missing")]}));
    assert_eq!(r, json!({"ok": [{"nil": null}]}));
    let r = redis(json!({"op": "execute", "command": "LRANGE", "args": [format!("{stream}:missing"), 0, -1]}));
    assert_eq!(r, json!({"ok": []}));
    let r = redis(json!({"op": "execute", "command": "NOSUCHCOMMAND", "args": []}));
    assert_eq!(r["error"], "other");
    assert!(r["text"].as_str().unwrap().starts_with("An error was signalled by the server - ResponseError: "), "{r}");
    redis(json!({"op": "del", "keys": [stream, format!("{stream}:k")]}));
}

// ------------------------------------------------------------------ failures and limits

#[test]
fn a_trap_is_an_empty_500_and_the_host_keeps_serving() {
    let r = get("/trap");
    assert_eq!((r.status, r.text.as_str()), (500, ""));
    let r = get("/users/1");
    assert_eq!(r.status, 200);
}

#[test]
fn a_spinning_guest_hits_the_execution_timeout() {
    // Real Spin has no execution timeout: the request would hang (docs/spin.md).
    if skip_on_real_spin("a_spinning_guest_hits_the_execution_timeout") {
        return;
    }
    build_components();
    // A short timeout for this host only.
    let h = sentinel_tests::start_local_host_with_timeout(&fixture("spin.toml"), base_variables(), spin_release(), Some(std::time::Duration::from_secs(3)))
        .unwrap();
    let t0 = std::time::Instant::now();
    let r = request("GET", &format!("{}/spin", h.base_url), &[], None);
    assert_eq!((r.status, r.text.as_str()), (500, ""));
    assert!(t0.elapsed() < std::time::Duration::from_secs(30));
    let r = request("GET", &format!("{}/x", h.base_url), &[], None);
    assert_eq!(r.status, 200);
}

// ------------------------------------------------------------------ raw HTTP edge cases

fn raw_exchange(request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(host().addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn non_utf8_header_values_are_a_500() {
    let reply = raw_exchange(b"GET /x HTTP/1.1\r\nHost: localhost\r\nX-Bad: \xff\xfe\r\nConnection: close\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 500"), "{reply}");
}

#[test]
fn a_missing_host_header_drops_the_connection_without_a_response() {
    let reply = raw_exchange(b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(!reply.starts_with("HTTP/1.1 2"), "{reply}");
}
