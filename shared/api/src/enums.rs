//! Enumerations: four lookup groups served by one
//! implementation, parameterised by an [`EnumGroup`] descriptor. Rows
//! elsewhere store the lookup *code* (with `ON UPDATE CASCADE`), so usage
//! counts compare codes; system rows are protected by the database trigger
//! (SQLSTATE SN001 → 409 `SYSTEM_VALUE`).

use garde::Validate;
use http::{Method, StatusCode};
use sentinel_domain::Role;
use sentinel_http::db::Row;
use sentinel_http::input::double_option;
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, DbError, HandlerResult, Router, SqlParam};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::openapi::SuccessMessage;

/// One lookup group: its table, its wire names and where it is used.
pub struct EnumGroup {
    /// URL segment, e.g. `visit-types`.
    pub slug: &'static str,
    pub table: &'static str,
    /// Wrapper keys of list and single responses.
    pub plural: &'static str,
    pub singular: &'static str,
    /// "Visit type", for messages.
    pub thing: &'static str,
    /// The table and column that reference this lookup's code.
    pub used_by: (&'static str, &'static str),
}

pub const VISIT_TYPES: EnumGroup = EnumGroup {
    slug: "visit-types",
    table: "visit_types",
    plural: "visitTypes",
    singular: "visitType",
    thing: "Visit type",
    used_by: ("visitors", "visit_type"),
};
pub const MEMBER_STATUSES: EnumGroup = EnumGroup {
    slug: "member-statuses",
    table: "member_statuses",
    plural: "memberStatuses",
    singular: "memberStatus",
    thing: "Member status",
    used_by: ("members", "status"),
};
pub const MEMBER_TYPES: EnumGroup = EnumGroup {
    slug: "member-types",
    table: "member_types",
    plural: "memberTypes",
    singular: "memberType",
    thing: "Member type",
    used_by: ("members", "member_type"),
};
pub const BADGE_STATUSES: EnumGroup = EnumGroup {
    slug: "badge-statuses",
    table: "badge_statuses",
    plural: "badgeStatuses",
    singular: "badgeStatus",
    thing: "Badge status",
    used_by: ("badges", "status"),
};

/// Reads of visit types are also open to kiosks (the visitor sign-in form).
const QM_OR_KIOSK: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk]);

/// Declares the four operations of one group as documented handlers that
/// delegate to the shared implementation; `$list` and `$one` are the
/// group's response wrappers (`{<plural>: [...]}`, `{<singular>: …}`).
macro_rules! enum_group {
    ($module:ident, $group:path, $list:ident, $one:ident, $thing:literal, $things:literal, $list_path:literal, $item_path:literal) => {
        pub mod $module {
            use super::*;

            #[utoipa::path(get,
                summary = concat!("List ", $things),
                description = "Every row ordered by name, each with `usageCount` (the records using its code) and `isSystem` (system rows drive business rules and cannot be deleted or re-coded).", path = $list_path, tag = "enums", responses((status = 200, body = $list)))]
            pub fn list(ctx: &Ctx) -> HandlerResult {
                super::list(ctx, &$group)
            }

            #[utoipa::path(post,
                summary = concat!("Create a ", $thing),
                description = "Adds a row with a new code (1–50 of `a–z 0–9 _`); new rows are never system rows.", path = $list_path, tag = "enums", request_body = CreateEnumItem,
                responses((status = 201, body = $one), (status = 409, description = "`CONFLICT`: a row already has this code")))]
            pub fn create(ctx: &Ctx) -> HandlerResult {
                super::create(ctx, &$group)
            }

            #[utoipa::path(put,
                summary = concat!("Update a ", $thing),
                description = "Changes the fields present (at least one; despite PUT, a partial update). A changed code is carried over to every record using it; system rows keep their code.", path = $item_path, tag = "enums", params(("id" = String, Path, description = "Lookup row UUID")), request_body = UpdateEnumItem,
                responses((status = 200, body = $one), (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing"),
                          (status = 404, description = "`NOT_FOUND`: no row has this id"),
                          (status = 409, description = "`CONFLICT`: another row has this code; `SYSTEM_VALUE`: a system row cannot be re-coded")))]
            pub fn update(ctx: &Ctx) -> HandlerResult {
                super::update(ctx, &$group)
            }

            #[utoipa::path(delete,
                summary = concat!("Delete a ", $thing),
                description = "Deletes a row no record uses; system rows cannot be deleted.", path = $item_path, tag = "enums", params(("id" = String, Path, description = "Lookup row UUID")),
                responses((status = 200, body = SuccessMessage), (status = 404, description = "`NOT_FOUND`: no row has this id"),
                          (status = 409, description = "`CONFLICT`: records use the code (`details.usageCount`); `SYSTEM_VALUE`: a system row")))]
            pub fn delete(ctx: &Ctx) -> HandlerResult {
                super::delete(ctx, &$group)
            }
        }
    };
}

enum_group!(visit_types, VISIT_TYPES, VisitTypeList, VisitTypeEnvelope, "visit type", "visit types", "/api/enums/visit-types", "/api/enums/visit-types/{id}");
enum_group!(member_statuses, MEMBER_STATUSES, MemberStatusList, MemberStatusEnvelope, "member status", "member statuses", "/api/enums/member-statuses", "/api/enums/member-statuses/{id}");
enum_group!(member_types, MEMBER_TYPES, MemberTypeList, MemberTypeEnvelope, "member type", "member types", "/api/enums/member-types", "/api/enums/member-types/{id}");
enum_group!(badge_statuses, BADGE_STATUSES, BadgeStatusList, BadgeStatusEnvelope, "badge status", "badge statuses", "/api/enums/badge-statuses", "/api/enums/badge-statuses/{id}");

/// Declares a group's list and single-row response wrappers.
macro_rules! enum_wrappers {
    ($list:ident, $plural:ident, $one:ident, $singular:ident) => {
        #[derive(Debug, Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        pub struct $list {
            $plural: Vec<EnumItem>,
        }

        #[derive(Debug, Serialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        pub struct $one {
            $singular: EnumItem,
        }
    };
}

enum_wrappers!(VisitTypeList, visit_types, VisitTypeEnvelope, visit_type);
enum_wrappers!(MemberStatusList, member_statuses, MemberStatusEnvelope, member_status);
enum_wrappers!(MemberTypeList, member_types, MemberTypeEnvelope, member_type);
enum_wrappers!(BadgeStatusList, badge_statuses, BadgeStatusEnvelope, badge_status);

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/enums/visit-types", QM_OR_KIOSK, visit_types::list)
        .route(Method::POST, "/api/enums/visit-types", Access::ADM, visit_types::create)
        .route(Method::PUT, "/api/enums/visit-types/:id", Access::ADM, visit_types::update)
        .route(Method::DELETE, "/api/enums/visit-types/:id", Access::ADM, visit_types::delete)
        .route(Method::GET, "/api/enums/member-statuses", Access::QM, member_statuses::list)
        .route(Method::POST, "/api/enums/member-statuses", Access::ADM, member_statuses::create)
        .route(Method::PUT, "/api/enums/member-statuses/:id", Access::ADM, member_statuses::update)
        .route(Method::DELETE, "/api/enums/member-statuses/:id", Access::ADM, member_statuses::delete)
        .route(Method::GET, "/api/enums/member-types", Access::QM, member_types::list)
        .route(Method::POST, "/api/enums/member-types", Access::ADM, member_types::create)
        .route(Method::PUT, "/api/enums/member-types/:id", Access::ADM, member_types::update)
        .route(Method::DELETE, "/api/enums/member-types/:id", Access::ADM, member_types::delete)
        .route(Method::GET, "/api/enums/badge-statuses", Access::QM, badge_statuses::list)
        .route(Method::POST, "/api/enums/badge-statuses", Access::ADM, badge_statuses::create)
        .route(Method::PUT, "/api/enums/badge-statuses/:id", Access::ADM, badge_statuses::update)
        .route(Method::DELETE, "/api/enums/badge-statuses/:id", Access::ADM, badge_statuses::delete)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnumItem {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(pattern = "^[a-z0-9_]{1,50}$")]
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub color: Option<String>,
    /// System values drive business rules: they cannot be deleted or re-coded.
    pub is_system: bool,
    /// Rows referencing this code; list responses only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub usage_count: Option<i64>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnumItem {
    /// 1–50 characters of `[a-z0-9_]`; unique.
    #[garde(length(chars, min = 1, max = 50), pattern(r"^[a-z0-9_]+$"))]
    #[schema(min_length = 1, max_length = 50, pattern = "^[a-z0-9_]+$")]
    pub code: String,
    /// 1–100 characters, not blank; stored trimmed.
    #[garde(length(chars, min = 1, max = 100), custom(sentinel_http::input::not_blank))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[garde(inner(length(chars, max = 500)))]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    #[garde(inner(length(chars, max = 20)))]
    #[schema(max_length = 20)]
    pub color: Option<String>,
}

/// Partial update (despite PUT): every field optional, at least one required.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEnumItem {
    /// 1–50 characters of `[a-z0-9_]`; unique; system rows cannot be re-coded.
    #[garde(inner(length(chars, min = 1, max = 50), pattern(r"^[a-z0-9_]+$")))]
    #[schema(min_length = 1, max_length = 50, pattern = "^[a-z0-9_]+$")]
    pub code: Option<String>,
    /// 1–100 characters, not blank.
    #[garde(inner(length(chars, min = 1, max = 100), custom(sentinel_http::input::not_blank)))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// `null` clears it.
    #[garde(inner(inner(length(chars, max = 500))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    /// `null` clears it.
    #[garde(inner(inner(length(chars, max = 20))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 20)]
    pub color: Option<Option<String>>,
}

const ITEM_COLUMNS: &str = "e.id::text AS id, e.code, e.name, e.description, e.color, e.is_system,
    iso(e.created_at) AS created_at, iso(e.updated_at) AS updated_at";

fn usage_sql(group: &EnumGroup) -> String {
    let (table, column) = group.used_by;
    format!("(SELECT count(*) FROM {table} x WHERE x.{column} = e.code)")
}

fn item_from(row: &Row, with_usage: bool) -> EnumItem {
    EnumItem {
        id: row.text("id").unwrap_or_default(),
        code: row.text("code").unwrap_or_default(),
        name: row.text("name").unwrap_or_default(),
        description: row.text("description"),
        color: row.text("color"),
        is_system: row.bool("is_system"),
        usage_count: with_usage.then(|| row.int("usage_count")),
        created_at: row.text("created_at").unwrap_or_default(),
        updated_at: row.text("updated_at").unwrap_or_default(),
    }
}

fn single(group: &EnumGroup, row: &Row) -> Value {
    keyed(group.singular, serde_json::to_value(item_from(row, false)).unwrap_or_default())
}

fn keyed(key: &str, value: Value) -> Value {
    let mut object = serde_json::Map::new();
    object.insert(key.to_string(), value);
    Value::Object(object)
}

fn not_found(group: &EnumGroup, id: &str) -> ApiError {
    ApiError::not_found(format!("{} with ID '{id}' not found", group.thing))
}

fn duplicate(group: &EnumGroup, code: &str) -> ApiError {
    ApiError::conflict(format!("{} with code '{code}' already exists", group.thing))
}

fn system_value(group: &EnumGroup, code: Option<&str>, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "SYSTEM_VALUE",
        format!("{} '{}' is a system value and cannot be {what}", group.thing, code.unwrap_or_default()),
    )
}

/// SN001 from the lookup trigger. Spin 4 renders custom SQLSTATEs as
/// `SqlState(Other("SN001"))`, which the text classifier does not read, so
/// the trigger's constraint name is matched as well.
fn is_system_violation(e: &DbError) -> bool {
    e.is("SN001") || e.constraint.as_deref() == Some("system_value")
}

pub fn list(ctx: &Ctx, group: &EnumGroup) -> HandlerResult {
    let sql = format!("SELECT {ITEM_COLUMNS}, {} AS usage_count FROM {} e ORDER BY e.name, e.code", usage_sql(group), group.table);
    let rows = ctx.db().query(&sql, &[])?;
    let items: Vec<EnumItem> = rows.iter().map(|r| item_from(r, true)).collect();
    ok(keyed(group.plural, serde_json::to_value(items).unwrap_or_default()))
}

pub fn create(ctx: &Ctx, group: &EnumGroup) -> HandlerResult {
    let body: CreateEnumItem = ctx.json()?;
    let audit = audit::cte("enum_create", "enum", "e", "id", &format!("jsonb_build_object('group', '{}', 'after', to_jsonb(e))", group.slug), 5);
    let sql = format!(
        "WITH e AS (
            INSERT INTO {table} (code, name, description, color) VALUES ($1, $2, $3, $4)
            ON CONFLICT (code) DO NOTHING RETURNING *
         ), {audit}
         SELECT {ITEM_COLUMNS} FROM e",
        table = group.table
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let params: [SqlParam; 7] =
        [body.code.as_str().into(), body.name.trim().into(), body.description.clone().into(), body.color.clone().into(), user, key, ip];
    let row = ctx.db().query_one(&sql, &params)?.ok_or_else(|| duplicate(group, &body.code))?;
    created(single(group, &row))
}

pub fn update(ctx: &Ctx, group: &EnumGroup) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: UpdateEnumItem = ctx.json()?;
    if body.code.is_none() && body.name.is_none() && body.description.is_none() && body.color.is_none() {
        return Err(ApiError::invalid("", "At least one field must be provided"));
    }
    let audit = audit::cte(
        "enum_update",
        "enum",
        "e",
        "id",
        &format!("jsonb_build_object('group', '{}', 'before', (SELECT to_jsonb(b) FROM before b), 'after', to_jsonb(e))", group.slug),
        8,
    );
    let sql = format!(
        "WITH before AS (SELECT * FROM {table} WHERE id = $1::text::uuid), e AS (
            UPDATE {table} SET
                code = COALESCE($2, code),
                name = COALESCE($3, name),
                description = CASE WHEN $4 THEN $5 ELSE description END,
                color = CASE WHEN $6 THEN $7 ELSE color END
            WHERE id = $1::text::uuid RETURNING *
         ), {audit}
         SELECT {ITEM_COLUMNS} FROM e",
        table = group.table
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let params: [SqlParam; 10] = [
        id.as_str().into(),
        body.code.clone().into(),
        body.name.as_deref().map(str::trim).into(),
        body.description.is_some().into(),
        body.description.clone().flatten().into(),
        body.color.is_some().into(),
        body.color.clone().flatten().into(),
        user,
        key,
        ip,
    ];
    let row = ctx.db().query_one(&sql, &params).map_err(|e| {
        if e.is_unique_violation_of(&format!("{}_code_key", group.table)) {
            duplicate(group, body.code.as_deref().unwrap_or_default())
        } else if is_system_violation(&e) {
            let current = ctx
                .db()
                .query_one(&format!("SELECT code FROM {} WHERE id = $1::text::uuid", group.table), &[id.as_str().into()])
                .ok()
                .flatten()
                .and_then(|r| r.text("code"));
            system_value(group, current.as_deref(), "re-coded")
        } else {
            e.into()
        }
    })?;
    ok(single(group, &row.ok_or_else(|| not_found(group, &id))?))
}

pub fn delete(ctx: &Ctx, group: &EnumGroup) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    // Usage is counted and the row deleted in one statement; a reference
    // added concurrently fails the delete on the foreign key instead.
    let audit = audit::cte("enum_delete", "enum", "removed", "id", &format!("jsonb_build_object('group', '{}', 'before', to_jsonb(removed))", group.slug), 2);
    let sql = format!(
        "WITH target AS (SELECT e.id, e.code, e.is_system, {usage} AS usage_count FROM {table} e WHERE e.id = $1::text::uuid),
         removed AS (DELETE FROM {table} WHERE id IN (SELECT id FROM target WHERE NOT is_system AND usage_count = 0) RETURNING *), {audit}
         SELECT code, is_system, usage_count FROM target",
        usage = usage_sql(group),
        table = group.table
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let row = ctx.db().query_one(&sql, &[id.as_str().into(), user, key, ip]).map_err(|e| {
        if is_system_violation(&e) {
            system_value(group, None, "deleted")
        } else if e.is(sentinel_http::db::FOREIGN_KEY_VIOLATION) {
            ApiError::conflict(format!("Cannot delete {}: it is in use", group.thing.to_lowercase()))
        } else {
            e.into()
        }
    })?;
    let row = row.ok_or_else(|| not_found(group, &id))?;
    let code = row.text("code");
    if row.bool("is_system") {
        return Err(system_value(group, code.as_deref(), "deleted"));
    }
    let usage = row.int("usage_count");
    if usage > 0 {
        return Err(ApiError::conflict(format!(
            "Cannot delete {} '{}': in use by {usage} records",
            group.thing.to_lowercase(),
            code.unwrap_or_default()
        ))
        .with_details(json!({ "usageCount": usage })));
    }
    ok(crate::openapi::to_json(&SuccessMessage { success: true, message: format!("{} deleted successfully", group.thing) }))
}
