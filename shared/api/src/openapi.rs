//! The OpenAPI document: the contract of the API. Operations, request and
//! response types come from the handlers' and types' own annotations;
//! [`document`] then adds, in one place, what every route of a kind answers
//! (access, authentication, rate limits, malformed ids and bodies, database
//! failures), derived from the routers so the document and the code cannot
//! disagree. Every non-2xx response is the error envelope, its `error`
//! restricted to the codes its description names.

use sentinel_http::input::MAX_BODY_BYTES;
use sentinel_http::{Access, Allow};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, SchemaFormat, Type};
use utoipa::OpenApi;

use crate::{alerts, audit_logs, auth, badges, checkins, dds, divisions, enums, events, kiosks, lockup, members, muster, platform, tags, users, visitors};

#[derive(OpenApi)]
#[openapi(
    info(title = "Sentinel API", version = "2.0.0", description = "RFID attendance backend for a naval reserve unit.\n\n\
        Every operation carries `x-sentinel-access` (who may call it: `PUBLIC`, `QM+`, `DW+`, `EX+`, `ADM+`, `DEV`, `KIOSK`, \
        `DISPLAY`, `TOKEN:<variable>`) and `x-spin-component`. Every non-2xx response is the error envelope \
        `{error, message, details?, correlationId, issues?}`; each response lists the `error` codes it can carry."),
    paths(
        divisions::list, divisions::get, divisions::create, divisions::update, divisions::delete,
        auth::login, auth::logout, auth::session, auth::rfid_login, auth::list_keys, auth::create_key, auth::revoke_key,
        platform::health, crate::metrics::metrics, platform::ready, platform::live, platform::openapi_json, platform::docs, platform::docs_asset,
        users::list, users::get, users::create, users::update, users::delete, users::reset_password, users::disable, users::enable,
        users::list_sessions, users::revoke_session,
        enums::visit_types::list, enums::visit_types::create, enums::visit_types::update, enums::visit_types::delete,
        enums::member_statuses::list, enums::member_statuses::create, enums::member_statuses::update, enums::member_statuses::delete,
        enums::member_types::list, enums::member_types::create, enums::member_types::update, enums::member_types::delete,
        enums::badge_statuses::list, enums::badge_statuses::create, enums::badge_statuses::update, enums::badge_statuses::delete,
        audit_logs::list, audit_logs::stats, audit_logs::for_entity, audit_logs::get,
        kiosks::heartbeat, kiosks::list,
        members::list, members::get, members::search, members::create, members::update, members::delete,
        badges::list, badges::stats, badges::by_serial, badges::get, badges::create, badges::update, badges::assign, badges::unassign, badges::delete,
        checkins::list, checkins::presence, checkins::presence_people, checkins::activity, checkins::get, checkins::create, checkins::bulk,
        checkins::scan, checkins::sync, checkins::manual_checkout, checkins::update, checkins::delete, checkins::member_checkins,
        alerts::active, alerts::create, alerts::acknowledge, alerts::dismiss, alerts::get,
        events::available_badges, events::scan, events::list, events::create, events::get, events::update, events::delete,
        events::close, events::stats, events::attendees, events::add_attendee, events::update_attendee, events::assign_badge,
        events::remove_badge, events::delete_attendee,
        visitors::active, visitors::list, visitors::sign_in, visitors::checkout, visitors::get, visitors::update,
        lockup::present, lockup::check_auth, lockup::execute, lockup::status_today, lockup::status_of_day, lockup::history,
        lockup::checkout_options, lockup::open,
        muster::start, muster::current, muster::get, muster::roll_csv, muster::account, muster::close,
        dds::current, dds::exists, dds::audit_log, dds::kiosk_state, dds::accept, dds::assign, dds::transfer, dds::release, dds::set_today,
        tags::lockup_holder, tags::lockup_transfer, tags::list, tags::member_tags, tags::add_member_tag, tags::remove_member_tag,
    ),
    components(schemas(
        ErrorEnvelope, Issue, Success, SuccessMessage, Message,
        divisions::Division, divisions::DivisionList, divisions::CreateDivision, divisions::UpdateDivision,
        auth::LoginRequest, auth::LoginResponse, auth::SessionUser, auth::RfidLoginRequest, auth::CreateApiKey,
        auth::SessionInfo, auth::SessionInfoSession, auth::SessionInfoUser, auth::RfidLoginResponse, auth::RfidSession, auth::RfidUser,
        auth::RfidMember, auth::ApiKey, auth::ApiKeyList, auth::CreatedApiKey, auth::ApiKeyKind, auth::ApiKeyScope,
        platform::Health, platform::HealthChecks, platform::Ready, platform::NotReady, platform::Live,
        crate::metrics::RuntimeSummary, crate::metrics::MemorySummary,
        users::User, users::UserEnvelope, users::UserList, users::OffsetPagination, users::CreateUser, users::UpdateUser, users::ResetPassword,
        users::AdminSession, users::AdminSessionList, users::UserRole,
        enums::EnumItem, enums::CreateEnumItem, enums::UpdateEnumItem,
        enums::VisitTypeList, enums::VisitTypeEnvelope, enums::MemberStatusList, enums::MemberStatusEnvelope,
        enums::MemberTypeList, enums::MemberTypeEnvelope, enums::BadgeStatusList, enums::BadgeStatusEnvelope,
        audit_logs::AuditEntry, audit_logs::AuditActor, audit_logs::AuditLogList, audit_logs::AuditStats, audit_logs::AuditAdminCount,
        kiosks::Heartbeat, kiosks::HeartbeatReply, kiosks::KioskStatus, kiosks::KioskList,
        members::Member, members::MemberList, members::CreateMember, members::UpdateMember,
        badges::Badge, badges::BadgeHolder, badges::BadgeList, badges::BadgeStats, badges::CreateBadge, badges::UpdateBadge, badges::AssignBadge,
        checkins::Checkin, checkins::CheckinMember, checkins::CheckinList, checkins::Presence, checkins::DivisionPresence, checkins::ScanResult,
        checkins::ScanMember, checkins::ScanWarning, checkins::PresentPerson, checkins::PresentPeople, checkins::PersonTag,
        checkins::ActivityItem, checkins::ActivityList,
        checkins::BulkResult, checkins::BulkError, checkins::SyncResult, checkins::SyncItemResult,
        checkins::CreateCheckin, checkins::BulkCheckins, checkins::UpdateCheckin,
        checkins::ScanRequest, checkins::SyncScan, checkins::SyncRequest, checkins::ManualCheckout,
        alerts::SecurityAlert, alerts::AlertList, alerts::CreateAlert, alerts::AcknowledgeAlert, alerts::ClosedAlert,
        events::Event, events::EventList, events::Attendee, events::AttendeeList, events::ClosedEvent, events::EventStats,
        events::AvailableBadge, events::AvailableBadges, events::EventCheckin, events::EventScanResult,
        events::CreateEvent, events::UpdateEvent, events::CreateAttendee, events::UpdateAttendee, events::AssignEventBadge,
        visitors::Visitor, visitors::VisitorList, visitors::ActiveVisitors, visitors::CheckoutResult, visitors::SignInVisitor, visitors::UpdateVisitor,
        lockup::PresentMember, lockup::PresentVisitor, lockup::PresentList, lockup::LockupAuthorization,
        lockup::BuildingStatus, lockup::CheckedOutIds, lockup::LockupStats, lockup::LockupResult, lockup::CheckedOutPerson,
        lockup::LockupExecution, lockup::LockupHistory, lockup::CheckoutOptions,
        lockup::ExecuteLockup, lockup::OpenBuilding,
        muster::MusterPerson, muster::Muster, muster::CurrentMuster, muster::AccountedPerson, muster::StartMuster,
        dds::DdsMember, dds::DdsAssignment, dds::CurrentDds, dds::DdsExists, dds::ResponsibilityLogEntry, dds::DdsAuditLog, dds::DdsKioskState,
        dds::DdsResult, dds::DdsSetTodayResult, dds::DdsReleased, dds::AcceptDds, dds::AssignDds, dds::TransferDds, dds::ReleaseDds, dds::SetTodayDds,
        tags::LockupHolder, tags::LockupHolderReply, tags::LockupTransferResult, tags::Tag, tags::TagList, tags::MemberTag, tags::MemberTagList,
        tags::MemberTagEnvelope, tags::TransferLockup, tags::AddMemberTag,
    )),
    tags((name = "auth"), (name = "divisions"), (name = "health"), (name = "docs"), (name = "admin"), (name = "enums"), (name = "audit-logs"), (name = "kiosks"), (name = "members"), (name = "badges"), (name = "checkins"), (name = "security-alerts"), (name = "events"), (name = "visitors"), (name = "lockup"), (name = "muster"), (name = "dds"), (name = "tags"))
)]
struct ApiDoc;

/// The error envelope of every non-2xx response.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorEnvelope {
    /// The error code; each response of the document lists the codes it can carry.
    error: String,
    /// Human-readable; not for matching.
    message: String,
    /// Structured context of some errors (e.g. `retryAfter`, `memberCount`, the last scan of a duplicate).
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
    /// The request's `X-Correlation-ID` (as sent, or generated).
    #[schema(rename = "correlationId")]
    correlation_id: String,
    /// `VALIDATION_ERROR` only: what was wrong, field by field.
    issues: Option<Vec<Issue>>,
}

/// One validation problem: `path` is the field (dotted, `items[2].timestamp`; empty for the whole body).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Issue {
    path: String,
    message: String,
}

/// `{success: true}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Success {
    pub success: bool,
}

/// `{success: true, message}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SuccessMessage {
    pub success: bool,
    pub message: String,
}

/// `{message}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message: String,
}

/// Serialises a response struct (what handlers answer).
pub fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

// ------------------------------------------------------------------ field schemas shared by request types

/// An instant as the API accepts it: ISO-8601 with an offset, or a `YYYY-MM-DD` date (midnight UTC).
pub fn instant() -> utoipa::openapi::schema::Schema {
    instant_schema(false)
}

/// A security alert's `details`: an object of at most [`alerts::MAX_DETAILS_PROPERTIES`] properties
/// (its byte size and depth limits are stated in the description; JSON Schema cannot say them), or `null`.
pub fn alert_details() -> utoipa::openapi::schema::Schema {
    let description = format!(
        "An object, or null: at most {} properties, {} bytes as compact JSON and {} levels of nesting (the object itself is level 1); larger is 400 VALIDATION_ERROR",
        alerts::MAX_DETAILS_PROPERTIES,
        alerts::MAX_DETAILS_BYTES,
        alerts::MAX_DETAILS_DEPTH
    );
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Object).max_properties(Some(alerts::MAX_DETAILS_PROPERTIES)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(description))
        .into()
}

/// [`instant`], or `null` (treated as absent).
pub fn optional_instant() -> utoipa::openapi::schema::Schema {
    instant_schema(true)
}

fn instant_schema(nullable: bool) -> utoipa::openapi::schema::Schema {
    let format = |f: &str| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::Custom(f.to_string())));
    let mut any = AnyOfBuilder::new()
        .item(format("date-time"))
        .item(format("date"))
        .description(Some("ISO-8601 instant with offset, or a YYYY-MM-DD date (midnight UTC); years 1–9999 in UTC"));
    if nullable {
        any = any.item(ObjectBuilder::new().schema_type(Type::Null));
    }
    utoipa::openapi::schema::Schema::AnyOf(any.build())
}

/// `page` and `limit` of the paged lists (bounds as `PageRequest` checks them).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Paging {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 2147483647, default = 1)]
    page: Option<i64>,
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 50)]
    limit: Option<i64>,
}

// ------------------------------------------------------------------ access

/// Renders a route's access as the spec's notation (`QM+`, `KIOSK`, …).
pub fn describe_access(access: Access) -> Vec<String> {
    match access {
        Access::Public => vec!["PUBLIC".into()],
        Access::Token(variable) => vec![format!("TOKEN:{variable}")],
        Access::Restricted(allowed) => allowed
            .iter()
            .map(|a| match a {
                Allow::User(role) => match role {
                    sentinel_domain::Role::Quartermaster => "QM+".into(),
                    sentinel_domain::Role::DutyWatch => "DW+".into(),
                    sentinel_domain::Role::Executive => "EX+".into(),
                    sentinel_domain::Role::Admin => "ADM+".into(),
                    sentinel_domain::Role::Developer => "DEV".into(),
                },
                Allow::Kiosk => "KIOSK".into(),
                Allow::Display => "DISPLAY".into(),
            })
            .collect(),
    }
}

/// `/api/divisions/:id` → `/api/divisions/{id}`
pub fn openapi_path(pattern: &str) -> String {
    pattern.split('/').map(|s| s.strip_prefix(':').map(|p| format!("{{{p}}}")).unwrap_or_else(|| s.to_string())).collect::<Vec<_>>().join("/")
}

/// Path parameters that handlers read with `Ctx::uuid_param`: `id` and every `…Id`.
pub fn is_uuid_param(name: &str) -> bool {
    name == "id" || name.ends_with("Id")
}

// ------------------------------------------------------------------ the document

/// Bodies whose handler requires at least one of these fields (PATCH-style
/// bodies must change something; sign-in needs an e-mail address or a
/// username), where `true` means an explicit `null` counts (it clears the
/// field) and `false` that `null` reads as absent.
const AT_LEAST_ONE: &[(&str, &[(&str, bool)])] = &[
    ("LoginRequest", &[("email", false), ("username", false)]),
    ("UpdateDivision", &[("code", false), ("name", false), ("description", true), ("color", true)]),
    ("UpdateEnumItem", &[("code", false), ("name", false), ("description", true), ("color", true)]),
    (
        "UpdateUser",
        &[("email", false), ("username", true), ("displayName", false), ("name", false), ("firstName", true), ("lastName", true), ("role", false), ("memberId", true)],
    ),
    (
        "UpdateMember",
        &[
            ("serviceNumber", false), ("rank", false), ("firstName", false), ("lastName", false), ("middleInitial", true), ("divisionId", false),
            ("email", true), ("phoneNumber", true), ("memberTypeId", false), ("memberStatusId", false), ("status", false), ("badgeId", true),
        ],
    ),
    ("UpdateBadge", &[("serialNumber", false), ("assignmentType", false), ("assignedToId", true), ("status", false), ("badgeStatusId", false)]),
    ("UpdateCheckin", &[("direction", false), ("flaggedForReview", false), ("flagReason", true), ("timestamp", false)]),
];

/// A response every route of a kind can give: status, error code, why.
struct Common {
    status: u16,
    code: &'static str,
    why: String,
}

fn common(status: u16, code: &'static str, why: impl Into<String>) -> Common {
    Common { status, code, why: why.into() }
}

/// What the web layer (routing, access, rate limits, input parsing) and the
/// database port can answer on `route`, whatever its handler does
/// (see shared/http: serve, auth, rate_limit, input, pagination).
fn common_answers(route: &sentinel_http::router::Route, op: &Value) -> Vec<Common> {
    let mut out = Vec::new();
    for name in route.pattern.split('/').filter_map(|s| s.strip_prefix(':')) {
        if is_uuid_param(name) {
            out.push(common(400, "VALIDATION_ERROR", format!("the path parameter `{name}` is not a UUID")));
        } else {
            out.push(common(400, "VALIDATION_ERROR", format!("the path parameter `{name}` contains a NUL character")));
        }
    }
    let query: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "query").collect();
    if query.iter().any(|p| is_constrained(&p["schema"])) {
        out.push(common(400, "VALIDATION_ERROR", "a query parameter is malformed, out of range or contains a NUL character (`issues` names it)"));
    } else if !query.is_empty() {
        out.push(common(400, "VALIDATION_ERROR", "a query parameter contains a NUL character"));
    }
    if op.get("requestBody").is_some() {
        out.push(common(400, "VALIDATION_ERROR", "the body is not JSON, lacks a required field, has an unknown field or a value of the wrong type, breaks a documented constraint, or holds a NUL character in a string (`issues` lists each problem)"));
        out.push(common(413, "PAYLOAD_TOO_LARGE", format!("the body exceeds {MAX_BODY_BYTES} bytes")));
    }
    let api = route.pattern.starts_with("/api/");
    match route.access {
        Access::Restricted(_) => {
            out.push(common(401, "UNAUTHORIZED", "no credential was presented, or the session token or API key is invalid, expired or revoked"));
            out.push(common(403, "FORBIDDEN", "the caller's role or key kind is not admitted (`x-sentinel-access`)"));
            out.push(common(429, "RATE_LIMIT_EXCEEDED", "the caller's request budget is spent (`Retry-After`, `details.retryAfter`); credentials that fail authentication spend the client address's anonymous budget"));
            out.push(common(500, "DATABASE_ERROR", "the database failed"));
            out.push(common(503, "SERVICE_UNAVAILABLE", "the database cannot be reached; retry shortly"));
            out.push(common(500, "INTERNAL_ERROR", "an unexpected server fault (e.g. a misconfigured session secret)"));
        }
        Access::Token(variable) => {
            out.push(common(401, "UNAUTHORIZED", format!("the bearer token is missing or is not the `{variable}` variable's value (unset: the route is closed)")));
            out.push(common(429, "RATE_LIMIT_EXCEEDED", "failed tokens spend the client address's anonymous budget, which is spent"));
            out.push(common(500, "DATABASE_ERROR", "the database failed"));
            out.push(common(503, "SERVICE_UNAVAILABLE", "the database cannot be reached; retry shortly"));
        }
        Access::Public if api => {
            out.push(common(429, "RATE_LIMIT_EXCEEDED", "the client address's anonymous request budget is spent (`Retry-After`, `details.retryAfter`)"));
            out.push(common(500, "DATABASE_ERROR", "the database failed"));
            out.push(common(503, "SERVICE_UNAVAILABLE", "the database cannot be reached; retry shortly"));
            out.push(common(500, "INTERNAL_ERROR", "an unexpected server fault"));
        }
        Access::Public => {}
    }
    out
}

/// A query parameter whose value the handler checks (not free text).
fn is_constrained(schema: &Value) -> bool {
    schema.as_object().is_some_and(|s| s.keys().any(|k| k != "type" && k != "description") || s.get("type") != Some(&json!("string")))
}

/// The `error` codes a response description names: every `` `UPPER_CASE` `` word.
pub fn error_codes(description: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for (i, part) in description.split('`').enumerate() {
        let is_code = i % 2 == 1
            && part.len() > 2
            && part.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && part.starts_with(|c: char| c.is_ascii_uppercase());
        if is_code && !codes.iter().any(|c| c == part) {
            codes.push(part.to_string());
        }
    }
    codes
}

pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    // Relative to wherever the document was fetched from, so "Try it out" calls the serving host.
    doc["servers"] = json!([{ "url": "/", "description": "The host serving this document" }]);
    doc["components"]["securitySchemes"] = json!({
        "session": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "A session token from `POST /api/auth/login` or `/api/auth/rfid-login`"},
        "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "sentinel_session",
                          "description": "The HttpOnly cookie `POST /api/auth/login` sets"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "A kiosk, display or integration key (`sk_…`)"},
        "metricsToken": {"type": "http", "scheme": "bearer", "description": "The `metrics_token` variable's value"},
    });
    for (schema, fields) in AT_LEAST_ONE {
        let any_of: Vec<Value> = fields
            .iter()
            .map(|(field, null_counts)| {
                if *null_counts {
                    json!({ "required": [field] })
                } else {
                    json!({ "required": [field], "properties": { (*field): { "not": { "type": "null" } } } })
                }
            })
            .collect();
        let target = &mut doc["components"]["schemas"][*schema];
        if target.is_object() {
            target["minProperties"] = json!(1);
            target["anyOf"] = Value::Array(any_of);
        }
    }
    for (component, router) in crate::components() {
        for route in router.routes() {
            let path = openapi_path(route.pattern);
            let method = route.method.as_str().to_lowercase();
            let op = &mut doc["paths"][&path][&method];
            if !op.is_object() {
                continue;
            }
            op["x-sentinel-access"] = json!(describe_access(route.access));
            op["x-spin-component"] = json!(component);
            op["operationId"] = json!(operation_id(&method, &path));
            if let Some(security) = security(route.access) {
                op["security"] = security;
            }
            tidy_parameters(op);
            let answers = common_answers(route, op);
            let responses = &mut op["responses"];
            for answer in answers {
                let key = answer.status.to_string();
                let line = format!("`{}`: {}.", answer.code, answer.why);
                match responses.get_mut(&key) {
                    Some(existing) => {
                        let mut description = existing["description"].as_str().unwrap_or_default().trim().to_string();
                        if !description.is_empty() && !description.ends_with('.') {
                            description.push('.');
                        }
                        existing["description"] = json!(if description.is_empty() { line } else { format!("{description}\n{line}") });
                    }
                    None => responses[&key] = json!({ "description": line }),
                }
            }
            finish_responses(responses);
        }
    }
    // Request bodies are optional exactly when `{}` is a valid body (an absent body reads as `{}`).
    let schemas = doc["components"]["schemas"].clone();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for op in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|ops| ops.values_mut()) {
            if let Some(body) = op.get_mut("requestBody") {
                let schema = resolve(&schemas, &body["content"]["application/json"]["schema"]);
                let empty_is_valid = schema["required"].as_array().is_none_or(|r| r.is_empty()) && schema.get("minProperties").is_none();
                body["required"] = json!(!empty_is_valid);
            }
        }
    }
    doc
}

fn resolve<'a>(schemas: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &schemas[name],
        None => schema,
    }
}

/// `get /api/divisions/{id}` → `get_api_divisions_id` (unique, stable).
fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches(|c| c == '{' || c == '}').chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect())
        .collect();
    format!("{method}_{}", words.join("_"))
}

pub fn security(access: Access) -> Option<Value> {
    match access {
        // An explicit empty requirement: no credential is needed (and none is sent by "Try it out").
        Access::Public => Some(json!([])),
        Access::Token(_) => Some(json!([{ "metricsToken": [] }])),
        Access::Restricted(allowed) => {
            let mut alternatives = Vec::new();
            if allowed.iter().any(|a| matches!(a, Allow::User(_))) {
                alternatives.push(json!({ "session": [] }));
                alternatives.push(json!({ "sessionCookie": [] }));
            }
            if allowed.iter().any(|a| matches!(a, Allow::Kiosk | Allow::Display)) {
                alternatives.push(json!({ "apiKey": [] }));
            }
            Some(Value::Array(alternatives))
        }
    }
}

/// Query and path values are text: never `null`. UUID path parameters say so.
fn tidy_parameters(op: &mut Value) {
    for param in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
        let uuid_path = param["in"] == "path" && param["name"].as_str().is_some_and(is_uuid_param);
        let schema = &mut param["schema"];
        if let Some(types) = schema["type"].as_array() {
            let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            schema["type"] = if types.len() == 1 { types[0].clone() } else { Value::Array(types) };
        }
        if uuid_path {
            schema["format"] = json!("uuid");
        }
        if param["in"] == "path" {
            // An empty segment would route elsewhere.
            param["schema"]["minLength"] = json!(1);
        }
    }
}

/// Every non-2xx response without a body of its own is the error envelope,
/// its `error` one of the codes the description names.
fn finish_responses(responses: &mut Value) {
    let Some(responses) = responses.as_object_mut() else { return };
    for (status, response) in responses.iter_mut() {
        if response["description"].as_str().is_none_or(|d| d.trim().is_empty()) {
            response["description"] = json!(match status.as_str() {
                "200" => "OK",
                "201" => "Created",
                _ => "",
            });
        }
        if status.starts_with('2') || response.get("content").is_some() {
            continue;
        }
        let codes = error_codes(response["description"].as_str().unwrap_or_default());
        let mut envelope = Map::new();
        envelope.insert("allOf".into(), json!([{ "$ref": "#/components/schemas/ErrorEnvelope" }, { "properties": { "error": { "enum": codes } } }]));
        response["content"] = json!({ "application/json": { "schema": Value::Object(envelope) } });
    }
}

/// Starts Swagger UI on the document (served as `/docs/swagger-initializer.js`: the page's
/// Content-Security-Policy admits no inline script). Tokens typed into "Authorize" live only in the page.
pub const SWAGGER_INITIALIZER: &str = r##"window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    docExpansion: "none",
    filter: true,
    displayRequestDuration: true,
    persistAuthorization: false,
    tryItOutEnabled: false
  });
});
"##;

/// The `/docs` page: Swagger UI from the embedded assets (no CDN: works on an air-gapped unit network),
/// and, for browsers without JavaScript, a table of every operation (method, path, access, summary).
pub fn docs_page(doc: &Value) -> String {
    let mut rows = String::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let access = op["x-sentinel-access"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default();
                let summary = op["summary"].as_str().unwrap_or_default();
                rows.push_str(&format!(
                    "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                    escape(&method.to_uppercase()), escape(path), escape(&access), escape(summary)
                ));
            }
        }
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sentinel API</title><link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\
         <link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\" sizes=\"32x32\">\
         <link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-16x16.png\" sizes=\"16x16\"></head>\
         <body><div id=\"swagger-ui\"></div>\
         <noscript><h1>Sentinel API</h1><p>Machine-readable document: <a href=\"/openapi.json\">/openapi.json</a></p>\
         <table><tr><th>Method</th><th>Path</th><th>Access</th><th>Summary</th></tr>\n{rows}</table></noscript>\
         <script src=\"/docs/swagger-ui-bundle.js\"></script><script src=\"/docs/swagger-initializer.js\"></script></body></html>"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut out = Vec::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                out.push((method.clone(), path.clone(), op));
            }
        }
        out
    }

    #[test]
    fn every_routed_operation_is_documented_with_its_access() {
        let doc = document();
        for (_, router) in crate::components() {
            for route in router.routes() {
                let op = &doc["paths"][openapi_path(route.pattern)][route.method.as_str().to_lowercase()];
                assert!(op.is_object(), "{} {} is routed but not documented", route.method, route.pattern);
                assert!(op["x-sentinel-access"].is_array(), "{} {} has no access", route.method, route.pattern);
            }
        }
    }

    #[test]
    fn every_documented_operation_is_routed() {
        let doc = document();
        let routed: Vec<(String, String)> = crate::components()
            .iter()
            .flat_map(|(_, r)| r.routes().iter().map(|rt| (openapi_path(rt.pattern), rt.method.as_str().to_lowercase())).collect::<Vec<_>>())
            .collect();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                assert!(routed.contains(&(path.clone(), method.clone())), "{method} {path} documented but not routed");
            }
        }
    }

    #[test]
    fn paths_use_openapi_templates() {
        assert_eq!(openapi_path("/api/events/:id/attendees/:attendeeId"), "/api/events/{id}/attendees/{attendeeId}");
    }

    #[test]
    fn every_operation_has_a_summary_a_description_and_a_unique_id() {
        let doc = document();
        let mut ids = std::collections::HashSet::new();
        for (method, path, op) in operations(&doc) {
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(summary.len() >= 5, "{method} {path}: summary {summary:?}");
            assert!(!summary.ends_with('.'), "{method} {path}: a summary is a title, without a full stop");
            let description = op["description"].as_str().unwrap_or_default();
            assert!(description.len() >= 15, "{method} {path}: description {description:?}");
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "{method} {path}: duplicate operationId");
            for key in ["parameters", "requestBody", "responses", "security"] {
                assert!(op.get(key).is_none_or(|v| !v.is_null()), "{method} {path}: `{key}` is null");
            }
        }
    }

    #[test]
    fn request_bodies_are_closed_and_constrained() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for (method, path, op) in operations(&doc) {
            let Some(body) = op.get("requestBody") else { continue };
            let schema = resolve(schemas, &body["content"]["application/json"]["schema"]);
            assert_eq!(schema["additionalProperties"], json!(false), "{method} {path}: request body accepts unknown fields");
            for (field, property) in schema["properties"].as_object().unwrap() {
                // Ids of records are UUIDs (kiosk ids are names chosen by the unit).
                if field.ends_with("Id") && field != "kioskId" {
                    assert_eq!(property["format"], "uuid", "{method} {path}: `{field}` is not documented as a UUID");
                }
            }
        }
        // The kiosk heartbeat and alert acknowledgement accept no body at all.
        assert_eq!(doc["paths"]["/api/kiosks/heartbeat"]["post"]["requestBody"]["required"], json!(false));
        assert_eq!(doc["paths"]["/api/divisions"]["post"]["requestBody"]["required"], json!(true));
        assert_eq!(doc["paths"]["/api/divisions/{id}"]["patch"]["requestBody"]["required"], json!(true));
    }

    #[test]
    fn every_error_response_is_the_envelope_with_named_codes() {
        let doc = document();
        for (method, path, op) in operations(&doc) {
            for (status, response) in op["responses"].as_object().unwrap() {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(!description.trim().is_empty(), "{method} {path} {status}: no description");
                if status.starts_with('2') {
                    assert!(response["content"].is_object(), "{method} {path} {status}: no body schema");
                    continue;
                }
                if response["content"]["application/json"]["schema"]["$ref"].is_string() {
                    continue; // /health and /ready answer 503 with their own body
                }
                let schema = &response["content"]["application/json"]["schema"]["allOf"];
                assert_eq!(schema[0]["$ref"], "#/components/schemas/ErrorEnvelope", "{method} {path} {status}");
                let codes = schema[1]["properties"]["error"]["enum"].as_array().unwrap();
                assert!(!codes.is_empty(), "{method} {path} {status}: names no error code: {description:?}");
            }
        }
    }

    #[test]
    fn statuses_every_route_of_a_kind_can_answer_are_documented() {
        let doc = document();
        for (_, router) in crate::components() {
            for route in router.routes() {
                let (method, path) = (route.method.as_str().to_lowercase(), openapi_path(route.pattern));
                let op = &doc["paths"][&path][&method];
                let codes = |status: &str| -> Vec<String> {
                    op["responses"][status]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["enum"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
                        .unwrap_or_default()
                };
                let has = |status: &str, code: &str| codes(status).iter().any(|c| c == code);
                if let Access::Restricted(_) = route.access {
                    assert!(has("401", "UNAUTHORIZED") && has("403", "FORBIDDEN"), "{method} {path}: 401/403");
                    assert!(has("429", "RATE_LIMIT_EXCEEDED") && has("500", "DATABASE_ERROR"), "{method} {path}: 429/500");
                }
                if route.pattern.split('/').any(|s| s.strip_prefix(':').is_some_and(is_uuid_param)) {
                    assert!(has("400", "VALIDATION_ERROR"), "{method} {path}: malformed id");
                    let params = op["parameters"].as_array().unwrap();
                    assert!(params.iter().any(|p| p["in"] == "path" && p["schema"]["format"] == "uuid"), "{method} {path}: uuid param");
                }
                if op.get("requestBody").is_some() {
                    assert!(has("400", "VALIDATION_ERROR") && has("413", "PAYLOAD_TOO_LARGE"), "{method} {path}: malformed body");
                }
                for param in op["parameters"].as_array().into_iter().flatten() {
                    assert!(!param["schema"]["type"].as_array().is_some_and(|t| t.contains(&json!("null"))), "{method} {path}: nullable parameter");
                }
            }
        }
    }

    #[test]
    fn paging_parameters_carry_the_validators_bounds() {
        let doc = document();
        let param = |path: &str, name: &str| -> Value {
            doc["paths"][path]["get"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap()
        };
        use sentinel_http::pagination::PageRequest;
        let limit = param("/api/divisions", "limit");
        assert_eq!((limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64()), (Some(1), Some(PageRequest::MAX_LIMIT)));
        assert_eq!(limit["schema"]["default"].as_i64(), Some(PageRequest::DEFAULT_LIMIT));
        let page = param("/api/members", "page");
        assert_eq!((page["schema"]["minimum"].as_i64(), page["schema"]["maximum"].as_i64()), (Some(1), Some(i64::from(i32::MAX))));
    }

    #[test]
    fn error_codes_are_read_from_descriptions() {
        assert_eq!(error_codes("`NOT_FOUND`: no such thing; `{success: true}`; `CONFLICT` or `NOT_FOUND`"), ["NOT_FOUND", "CONFLICT"]);
    }
}
