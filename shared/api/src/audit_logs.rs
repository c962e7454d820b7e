//! Reading the audit trail. Rows are written only by the
//! server, in the same statement as the change they record (see `audit`);
//! there is deliberately no POST.

use http::Method;
use sentinel_http::input::query_uuid;
use sentinel_http::pagination::PageRequest;

use crate::listing::{page_reply, page_statement, Where};
use sentinel_http::{ok, Access, ApiError, Ctx, HandlerResult, Router};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/audit-logs", Access::EX, list)
        .route(Method::GET, "/api/audit-logs/stats", Access::EX, stats)
        .route(Method::GET, "/api/audit-logs/entity/:entityType/:entityId", Access::EX, for_entity)
        .route(Method::GET, "/api/audit-logs/:id", Access::EX, get)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditActor {
    #[schema(format = "uuid")]
    pub id: String,
    pub username: Option<String>,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[schema(format = "uuid")]
    pub id: String,
    /// The acting user (none for kiosk keys and the system).
    #[schema(format = "uuid")]
    pub admin_user_id: Option<String>,
    pub action: String,
    pub entity_type: String,
    #[schema(format = "uuid")]
    pub entity_id: Option<String>,
    /// Before/after summary; kiosk actions carry `apiKeyId`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    pub ip_address: Option<String>,
    pub admin_user: Option<AuditActor>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogList {
    pub audit_logs: Vec<AuditEntry>,
    pub total: i64,
    pub page: i64,
    pub limit: i64,
    pub total_pages: i64,
    /// True when `total` (and so `totalPages`) is the planner's estimate of the table's size: an unfiltered
    /// list past 1 000 rows (docs/architecture.md, "Lists"). Filtered lists count exactly.
    pub total_is_estimate: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditAdminCount {
    #[schema(format = "uuid")]
    pub admin_user_id: Option<String>,
    pub admin_username: Option<String>,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditStats {
    pub total: i64,
    /// action → count
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    pub by_action: Value,
    /// entity type → count
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    pub by_entity_type: Value,
    pub by_admin: Vec<AuditAdminCount>,
    /// The ten newest entries.
    pub recent_activity: Vec<AuditEntry>,
}

/// An entry (OpenAPI schema AuditEntry) as a jsonb expression over `audit_log a LEFT JOIN users u`.
const ENTRY_JSON: &str = "jsonb_build_object('id', a.id, 'adminUserId', a.admin_user_id, 'action', a.action, 'entityType', a.entity_type,
    'entityId', a.entity_id, 'details', a.details, 'ipAddress', host(a.ip_address),
    'adminUser', CASE WHEN u.id IS NULL THEN NULL ELSE jsonb_build_object('id', u.id, 'username', u.username, 'displayName', u.display_name) END,
    'createdAt', iso(a.created_at))";

/// The list filters a request gave.
struct Filters {
    admin_user_id: Option<String>,
    entity_type: Option<String>,
    entity_id: Option<String>,
    action: Option<String>,
    start: Option<String>,
    end: Option<String>,
    /// `endDate` given as a calendar date includes that whole day.
    end_is_date: bool,
}

impl Filters {
    fn from_query(query: &std::collections::HashMap<String, String>) -> Result<Self, ApiError> {
        let text = |name: &str| query.get(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let instant = |name: &str| -> Result<Option<String>, ApiError> {
            match text(name) {
                None => Ok(None),
                Some(raw) => sentinel_domain::time::Instant::parse(&raw)
                    .map(|t| Some(t.iso()))
                    .map_err(|e| ApiError::invalid(name, &format!("{} or a YYYY-MM-DD date", e.message()))),
            }
        };
        let end_raw = text("endDate");
        Ok(Self {
            admin_user_id: query_uuid(query, "adminUserId")?,
            entity_type: text("entityType"),
            entity_id: query_uuid(query, "entityId")?,
            action: text("action"),
            start: instant("startDate")?,
            end: instant("endDate")?,
            end_is_date: end_raw.is_some_and(|r| r.len() == 10),
        })
    }

    /// The WHERE clause over `audit_log a` holding only the filters given.
    fn to_where(&self) -> Where {
        let mut w = Where::default();
        w.bind_some("a.admin_user_id = {}::text::uuid", self.admin_user_id.clone());
        w.bind_some("a.entity_type = {}", self.entity_type.clone());
        w.bind_some("a.entity_id = {}::text::uuid", self.entity_id.clone());
        w.bind_some("a.action = {}", self.action.clone());
        w.bind_some("a.created_at >= {}::text::timestamptz", self.start.clone());
        if self.end_is_date {
            w.bind_some("a.created_at < {}::text::timestamptz + interval '1 day'", self.end.clone());
        } else {
            w.bind_some("a.created_at <= {}::text::timestamptz", self.end.clone());
        }
        w
    }
}

/// One page of entries matching `filters`, newest first, in the list shape.
fn page_of(ctx: &Ctx, filters: &Filters) -> HandlerResult {
    let page = PageRequest::from_query(ctx.query())?;
    let mut w = filters.to_where();
    let sql = page_statement(&mut w, "audit_log", "audit_log a", page, "", |filter, window| {
        format!(
            "SELECT COALESCE(jsonb_agg({ENTRY_JSON} ORDER BY a.created_at DESC, a.id DESC), '[]'::jsonb)
             FROM (SELECT * FROM audit_log a {filter} ORDER BY a.created_at DESC, a.id DESC {window}) a
             LEFT JOIN users u ON u.id = a.admin_user_id"
        )
    });
    page_reply(&ctx.db().query_row(&sql, &w.params)?, page, "auditLogs")
}

/// List audit entries
///
/// One page of the audit trail, newest first, filtered by actor, entity, action and a time range
/// (`endDate` given as a date includes that whole day). Every successful change writes one entry in the
/// same transaction as the change.
#[utoipa::path(get, path = "/api/audit-logs", tag = "audit-logs",
    params(crate::openapi::Paging, ("adminUserId" = Option<String>, Query, format = "uuid", description = "The acting user"),
           ("entityType" = Option<String>, Query), ("entityId" = Option<String>, Query, format = "uuid"), ("action" = Option<String>, Query),
           ("startDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$",
            description = "ISO-8601 instant or YYYY-MM-DD (inclusive)"),
           ("endDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$",
            description = "ISO-8601 instant (inclusive) or YYYY-MM-DD (that whole day)")),
    responses((status = 200, body = AuditLogList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let filters = Filters::from_query(ctx.query())?;
    page_of(ctx, &filters)
}

/// List an entity's audit entries
///
/// One page of the entries about one entity (type and id), newest first.
#[utoipa::path(get, path = "/api/audit-logs/entity/{entityType}/{entityId}", tag = "audit-logs",
    params(("entityType" = String, Path, description = "e.g. `member`, `badge`, `division`, `admin_user`"), ("entityId" = String, Path, description = "Entity UUID"),
           crate::openapi::Paging),
    responses((status = 200, body = AuditLogList)))]
pub fn for_entity(ctx: &Ctx) -> HandlerResult {
    let entity_id = ctx.uuid_param("entityId")?;
    let filters = Filters {
        admin_user_id: None,
        entity_type: Some(ctx.param("entityType").to_string()),
        entity_id: Some(entity_id),
        action: None,
        start: None,
        end: None,
        end_is_date: false,
    };
    page_of(ctx, &filters)
}

/// Get an audit entry
///
/// One entry by id, with its actor.
#[utoipa::path(get, path = "/api/audit-logs/{id}", tag = "audit-logs", params(("id" = String, Path, description = "Audit entry UUID")),
    responses((status = 200, body = AuditEntry), (status = 404, description = "`NOT_FOUND`: no audit entry has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one(
        &format!("SELECT {ENTRY_JSON} AS entry FROM audit_log a LEFT JOIN users u ON u.id = a.admin_user_id WHERE a.id = $1::text::uuid"),
        &[id.as_str().into()],
    )?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("Audit log entry with ID '{id}' not found")))?;
    ok(row.json("entry"))
}

/// Summarise the audit trail
///
/// Counts of the entries matching the filters by action, entity type and actor, and the ten newest.
#[utoipa::path(get, path = "/api/audit-logs/stats", tag = "audit-logs",
    params(("startDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$",
            description = "ISO-8601 instant or YYYY-MM-DD (inclusive)"),
           ("endDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$",
            description = "ISO-8601 instant (inclusive) or YYYY-MM-DD (that whole day)"),
           ("entityType" = Option<String>, Query), ("action" = Option<String>, Query),
           ("adminUserId" = Option<String>, Query, format = "uuid"), ("entityId" = Option<String>, Query, format = "uuid")),
    responses((status = 200, body = AuditStats)))]
pub fn stats(ctx: &Ctx) -> HandlerResult {
    let w = Filters::from_query(ctx.query())?.to_where();
    let sql = format!(
        "WITH filtered AS (SELECT a.* FROM audit_log a {where_sql})
         SELECT
            (SELECT count(*) FROM filtered) AS total,
            (SELECT COALESCE(jsonb_object_agg(action, n), '{{}}'::jsonb) FROM (SELECT action, count(*) AS n FROM filtered GROUP BY action) x) AS by_action,
            (SELECT COALESCE(jsonb_object_agg(entity_type, n), '{{}}'::jsonb) FROM (SELECT entity_type, count(*) AS n FROM filtered GROUP BY entity_type) x) AS by_entity_type,
            (SELECT COALESCE(jsonb_agg(jsonb_build_object('adminUserId', x.admin_user_id, 'adminUsername', COALESCE(u.username, u.email), 'count', x.n)
                                       ORDER BY x.n DESC, x.admin_user_id), '[]'::jsonb)
               FROM (SELECT admin_user_id, count(*) AS n FROM filtered GROUP BY admin_user_id) x
               LEFT JOIN users u ON u.id = x.admin_user_id) AS by_admin,
            (SELECT COALESCE(jsonb_agg(e ORDER BY ord), '[]'::jsonb) FROM (
                SELECT {ENTRY_JSON} AS e, row_number() OVER (ORDER BY a.created_at DESC, a.id DESC) AS ord
                FROM filtered a LEFT JOIN users u ON u.id = a.admin_user_id
                ORDER BY a.created_at DESC, a.id DESC LIMIT 10) r) AS recent_activity",
        where_sql = w.where_sql()
    );
    let row = ctx.db().query_row(&sql, &w.params)?;
    ok(json!({
        "total": row.int("total"),
        "byAction": row.json("by_action"),
        "byEntityType": row.json("by_entity_type"),
        "byAdmin": row.json("by_admin"),
        "recentActivity": row.json("recent_activity"),
    }))
}
