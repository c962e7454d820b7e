//! Divisions.

use garde::Validate;
use http::Method;
use sentinel_domain::division::{delete_blocked_message, is_hex_color, normalize_code};
use sentinel_http::db::Row;

use crate::audit::{self, Actor};
use crate::openapi::SuccessMessage;
use sentinel_http::input::{double_option, query_flag};
use sentinel_http::pagination::PageRequest;
use sentinel_http::{created, ok, Access, ApiError, Ctx, HandlerResult, Router, SqlParam};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/divisions", Access::QM, list)
        .route(Method::GET, "/api/divisions/:id", Access::QM, get)
        .route(Method::POST, "/api/divisions", Access::ADM, create)
        .route(Method::PATCH, "/api/divisions/:id", Access::ADM, update)
        .route(Method::DELETE, "/api/divisions/:id", Access::ADM, delete)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Division {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    /// `#RRGGBB`
    pub color: Option<String>,
    /// Members (any status) in the division.
    pub member_count: i64,
    /// Present active members; only with `includeStats=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present_count: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DivisionList {
    pub divisions: Vec<Division>,
    pub total: i64,
    pub page: i64,
    pub limit: i64,
    pub total_pages: i64,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDivision {
    /// 1–10 characters, not blank; stored trimmed and upper-cased, unique.
    #[garde(length(chars, min = 1, max = 10), custom(sentinel_http::input::not_blank))]
    #[schema(min_length = 1, max_length = 10, pattern = r"\S")]
    pub code: String,
    /// 1–100 characters, not blank; stored trimmed.
    #[garde(length(chars, min = 1, max = 100), custom(sentinel_http::input::not_blank))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// Free text (no length limit).
    #[garde(skip)]
    pub description: Option<String>,
    /// `#RRGGBB`.
    #[garde(inner(custom(hex_color)))]
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDivision {
    /// 1–10 characters, not blank; stored trimmed and upper-cased, unique.
    #[garde(inner(length(chars, min = 1, max = 10), custom(sentinel_http::input::not_blank)))]
    #[schema(min_length = 1, max_length = 10, pattern = r"\S")]
    pub code: Option<String>,
    /// 1–100 characters, not blank.
    #[garde(inner(length(chars, min = 1, max = 100), custom(sentinel_http::input::not_blank)))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// Free text; `null` clears it.
    #[garde(skip)]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `#RRGGBB`; `null` clears it.
    #[garde(inner(inner(custom(hex_color))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<Option<String>>,
}

fn hex_color(value: &str, _: &()) -> garde::Result {
    if is_hex_color(value) { Ok(()) } else { Err(garde::Error::new("must be a colour in #RRGGBB form")) }
}

/// Columns every division query returns; `$stats` toggles the present count.
const DIVISION_COLUMNS: &str = "d.id, d.code, d.name, d.description, d.color, iso(d.created_at) AS created_at, iso(d.updated_at) AS updated_at,
    (SELECT count(*) FROM members m WHERE m.division_id = d.id) AS member_count";

const PRESENT_COUNT: &str = "(SELECT count(*) FROM members m JOIN member_presence p ON p.member_id = m.id
      WHERE m.division_id = d.id AND m.status = 'active' AND p.direction = 'in')";

fn division_from(row: &Row, with_stats: bool) -> Division {
    Division {
        id: row.text("id").unwrap_or_default(),
        code: row.text("code").unwrap_or_default(),
        name: row.text("name").unwrap_or_default(),
        description: row.text("description"),
        color: row.text("color"),
        member_count: row.int("member_count"),
        present_count: with_stats.then(|| row.int("present_count")),
        created_at: row.text("created_at").unwrap_or_default(),
        updated_at: row.text("updated_at").unwrap_or_default(),
    }
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Division with ID '{id}' not found"))
}

fn duplicate_code(code: &str) -> ApiError {
    ApiError::conflict(format!("Division with code '{code}' already exists"))
}

/// List divisions
///
/// One page of divisions ordered by code, optionally filtered by a case-insensitive substring of name or
/// code. `memberCount` counts members of any status; `includeStats=true` adds `presentCount`, the active
/// members present now.
#[utoipa::path(get, path = "/api/divisions", tag = "divisions",
    params(crate::openapi::Paging, ("search" = Option<String>, Query, description = "Case-insensitive substring of name or code"),
           ("includeStats" = Option<bool>, Query, description = "Add `presentCount` to each division")),
    responses((status = 200, body = DivisionList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let query = ctx.query();
    let page = PageRequest::from_query(query)?;
    let with_stats = query_flag(query, "includeStats")?;
    let search = query.get("search").map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
    // One round trip: the total and the requested page (a page past the end
    // still reports the total, with no division columns).
    let mut w = crate::listing::Where::default();
    w.bind_some("(strpos(lower(d.name), lower({})) > 0 OR strpos(lower(d.code), lower({})) > 0)", search);
    let (stats, window) = (w.placeholder(with_stats), w.page(page));
    let sql = format!(
        "WITH filtered AS (SELECT d.* FROM divisions d {}),
              total AS (SELECT count(*) AS total FROM filtered)
         SELECT total.total, page.* FROM total LEFT JOIN LATERAL (
            SELECT {DIVISION_COLUMNS}, CASE WHEN {stats} THEN {PRESENT_COUNT} END AS present_count
            FROM filtered d ORDER BY d.code {window}
         ) page ON true",
        w.where_sql()
    );
    let rows = ctx.db().query(&sql, &w.params)?;
    let total = rows.first().map(|r| r.int("total")).unwrap_or(0);
    let divisions: Vec<Division> =
        rows.iter().filter(|r| r.text("id").is_some()).map(|r| division_from(r, with_stats)).collect();
    ok(page.wrap(json!({ "divisions": to_json(&divisions) }), total))
}

/// Get a division
///
/// One division by id, with its member count.
#[utoipa::path(get, path = "/api/divisions/{id}", tag = "divisions", params(("id" = String, Path, description = "Division UUID")),
    responses((status = 200, body = Division), (status = 404, description = "`NOT_FOUND`: no division has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let sql = format!("SELECT {DIVISION_COLUMNS} FROM divisions d WHERE d.id = $1::text::uuid");
    let row = ctx.db().query_one(&sql, &[id.as_str().into()])?.ok_or_else(|| not_found(&id))?;
    ok(to_json(&division_from(&row, false)))
}

/// Create a division
///
/// Creates a division; its code is stored trimmed and upper-cased and must be unique case-insensitively.
/// Dashboards receive a `presence:update` listing the new division.
#[utoipa::path(post, path = "/api/divisions", tag = "divisions", request_body = CreateDivision,
    responses((status = 201, body = Division), (status = 409, description = "`CONFLICT`: a division already has this code")))]
pub fn create(ctx: &Ctx) -> HandlerResult {
    let body: CreateDivision = ctx.json()?;
    let code = normalize_code(&body.code);
    let audit = audit::cte("division_create", "division", "d", "id", "jsonb_build_object('after', to_jsonb(d))", 5);
    let sql = format!(
        "WITH d AS (
            INSERT INTO divisions (code, name, description, color) VALUES ($1, $2, $3, $4)
            ON CONFLICT (code) DO NOTHING RETURNING *
         ), {audit}
         SELECT {DIVISION_COLUMNS} FROM d"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let params = [code.as_str().into(), body.name.trim().into(), body.description.into(), body.color.into(), user, key, ip];
    let row = ctx.db().query_one(&sql, &params)?.ok_or_else(|| duplicate_code(&code))?;
    created(to_json(&division_from(&row, false)))
}

/// Update a division
///
/// Changes the fields present in the body (at least one); `description` and `color` may be set to `null`
/// to clear them. A renamed division is pushed to dashboards with `presence:update`.
#[utoipa::path(patch, path = "/api/divisions/{id}", tag = "divisions", params(("id" = String, Path, description = "Division UUID")), request_body = UpdateDivision,
    responses((status = 200, body = Division), (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing"),
              (status = 404, description = "`NOT_FOUND`: no division has this id"), (status = 409, description = "`CONFLICT`: another division has this code")))]
pub fn update(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: UpdateDivision = ctx.json()?;
    if body.code.is_none() && body.name.is_none() && body.description.is_none() && body.color.is_none() {
        return Err(ApiError::invalid("", "At least one field must be provided"));
    }
    let code = body.code.as_deref().map(normalize_code);
    let audit = audit::cte(
        "division_update",
        "division",
        "d",
        "id",
        "jsonb_build_object('before', (SELECT to_jsonb(b) FROM before b), 'after', to_jsonb(d))",
        8,
    );
    let sql = format!(
        "WITH before AS (SELECT * FROM divisions WHERE id = $1::text::uuid), d AS (
            UPDATE divisions SET
                code = COALESCE($2, code),
                name = COALESCE($3, name),
                description = CASE WHEN $4 THEN $5 ELSE description END,
                color = CASE WHEN $6 THEN $7 ELSE color END
            WHERE id = $1::text::uuid RETURNING *
         ), {audit}
         SELECT {DIVISION_COLUMNS} FROM d"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let params: [SqlParam; 10] = [
        id.as_str().into(),
        code.clone().into(),
        body.name.as_deref().map(str::trim).into(),
        body.description.is_some().into(),
        body.description.flatten().into(),
        body.color.is_some().into(),
        body.color.flatten().into(),
        user,
        key,
        ip,
    ];
    let row = ctx.db().query_one(&sql, &params).map_err(|e| match e {
        e if e.is_unique_violation_of("divisions_code_key") => duplicate_code(code.as_deref().unwrap_or_default()),
        e => ApiError::from(e),
    })?;
    let division = division_from(&row.ok_or_else(|| not_found(&id))?, false);
    ok(to_json(&division))
}

/// Delete a division
///
/// Deletes a division that has no members (of any status); otherwise answers 409 with `details.memberCount`.
#[utoipa::path(delete, path = "/api/divisions/{id}", tag = "divisions", params(("id" = String, Path, description = "Division UUID")),
    responses((status = 200, body = SuccessMessage), (status = 404, description = "`NOT_FOUND`: no division has this id"),
              (status = 409, description = "`CONFLICT`: the division still has members (`details.memberCount`)")))]
pub fn delete(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    // Count and delete in one statement; a member added concurrently makes
    // the delete fail on the foreign key, which is answered the same way.
    let audit = audit::cte("division_delete", "division", "removed", "id", "jsonb_build_object('before', to_jsonb(removed))", 2);
    let sql = format!(
        "WITH target AS (
            SELECT d.id, (SELECT count(*) FROM members m WHERE m.division_id = d.id) AS member_count
            FROM divisions d WHERE d.id = $1::text::uuid
         ), removed AS (
            DELETE FROM divisions WHERE id IN (SELECT id FROM target WHERE member_count = 0) RETURNING *
         ), {audit}
         SELECT member_count FROM target"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let blocked = |member_count: i64| ApiError::conflict(delete_blocked_message(member_count)).with_details(json!({ "memberCount": member_count }));
    let row = match ctx.db().query_one(&sql, &[id.as_str().into(), user, key, ip]) {
        Err(e) if e.is(sentinel_http::db::FOREIGN_KEY_VIOLATION) => {
            // A member was added after the count: count again (at least that member).
            let count = ctx.db().query_one("SELECT count(*) AS n FROM members WHERE division_id = $1::text::uuid", &[id.as_str().into()])?;
            return Err(blocked(count.map(|r| r.int("n")).unwrap_or(0).max(1)));
        }
        other => other?,
    };
    let member_count = row.ok_or_else(|| not_found(&id))?.int("member_count");
    if member_count > 0 {
        return Err(blocked(member_count));
    }
    ok(crate::openapi::to_json(&SuccessMessage { success: true, message: "Division deleted successfully".into() }))
}
