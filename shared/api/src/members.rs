//! Members. Writes go through `member_save()` (migrations V6),
//! which validates references, keeps the member ↔ badge link consistent and
//! writes the audit row in one call; deletes are soft (status `inactive`).

use garde::Validate;
use http::Method;
use sentinel_domain::member as rules;
use sentinel_http::input::{double_option, query_uuid};
use sentinel_http::pagination::PageRequest;
use sentinel_http::{created, ok, ok_json_text, Access, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::calls::{rule, run, uuid_text, valid_uuid, Field, MemberFields, MemberOutcome, MemberSave};
use crate::openapi::SuccessMessage;

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/members", Access::QM, list)
        .route(Method::GET, "/api/members/search/:serviceNumber", Access::QM, search)
        .route(Method::GET, "/api/members/:id", Access::QM, get)
        .route(Method::POST, "/api/members", Access::ADM, create)
        .route(Method::PATCH, "/api/members/:id", Access::ADM, update)
        .route(Method::DELETE, "/api/members/:id", Access::ADM, delete)
}

/// The Member object; built by the database function `member_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Member {
    #[schema(format = "uuid")]
    id: String,
    service_number: String,
    rank: String,
    first_name: String,
    last_name: String,
    middle_initial: Option<String>,
    email: Option<String>,
    /// Mobile phone, else home phone.
    phone_number: Option<String>,
    #[schema(format = "uuid")]
    division_id: String,
    #[schema(format = "uuid")]
    badge_id: Option<String>,
    #[schema(format = "uuid")]
    member_type_id: Option<String>,
    #[schema(format = "uuid")]
    member_status_id: Option<String>,
    /// A member status code (`/api/enums/member-statuses`).
    status: String,
    /// A member type code (`/api/enums/member-types`).
    member_type: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MemberList {
    members: Vec<Member>,
    total: i64,
    page: i64,
    limit: i64,
    total_pages: i64,
}

fn valid_service_number(v: &str, _: &()) -> garde::Result {
    rule(rules::check_service_number(v))
}
fn valid_rank(v: &str, _: &()) -> garde::Result {
    rule(rules::check_rank(v))
}
fn valid_name(v: &str, _: &()) -> garde::Result {
    rule(rules::check_name(v))
}
fn valid_middle_initial(v: &str, _: &()) -> garde::Result {
    rule(rules::check_middle_initial(v))
}
fn valid_email(v: &str, _: &()) -> garde::Result {
    rule(rules::check_email(v))
}
fn valid_phone(v: &str, _: &()) -> garde::Result {
    rule(rules::check_phone(v))
}
fn valid_status(v: &str, _: &()) -> garde::Result {
    if rules::is_status(v) { Ok(()) } else { Err(garde::Error::new(format!("must be one of {}", rules::STATUSES.join(", ")))) }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateMember {
    /// 6–20 characters without surrounding white space or control characters; unique.
    #[garde(custom(valid_service_number))]
    #[schema(min_length = 6, max_length = 20, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$")]
    pub service_number: String,
    /// A rank code of the rank table (e.g. `S1`, `PO2`, `Lt(N)`): 1–10 characters, no white space.
    #[garde(custom(valid_rank))]
    #[schema(pattern = r"^[^\s\x00-\x1f\x7f-\x9f]{1,10}$")]
    pub rank: String,
    /// 1–100 characters, not blank; stored trimmed.
    #[garde(custom(valid_name))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub first_name: String,
    /// 1–100 characters, not blank; stored trimmed.
    #[garde(custom(valid_name))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub last_name: String,
    #[garde(inner(custom(valid_middle_initial)))]
    #[schema(max_length = 5)]
    pub middle_initial: Option<String>,
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub division_id: String,
    /// One `@`, a non-empty local part and a dotted domain, no white space; at most 255 characters.
    #[garde(inner(custom(valid_email)))]
    #[schema(max_length = 255, pattern = r"^[^\s\x00-\x1f\x7f-\x9f@]+@[^\s\x00-\x1f\x7f-\x9f@.]+(\.[^\s\x00-\x1f\x7f-\x9f@.]+)+$")]
    pub email: Option<String>,
    /// Stored as the mobile phone.
    #[garde(inner(custom(valid_phone)))]
    #[schema(max_length = 50)]
    pub phone_number: Option<String>,
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub member_type_id: Option<String>,
    /// Must match the member's status.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub member_status_id: Option<String>,
    /// An active, unassigned badge to give the member.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub badge_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateMember {
    /// 6–20 characters without surrounding white space or control characters; unique.
    #[garde(inner(custom(valid_service_number)))]
    #[schema(min_length = 6, max_length = 20, pattern = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$")]
    pub service_number: Option<String>,
    /// A rank code of the rank table: 1–10 characters, no white space.
    #[garde(inner(custom(valid_rank)))]
    #[schema(pattern = r"^[^\s\x00-\x1f\x7f-\x9f]{1,10}$")]
    pub rank: Option<String>,
    #[garde(inner(custom(valid_name)))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub first_name: Option<String>,
    #[garde(inner(custom(valid_name)))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub last_name: Option<String>,
    /// `null` clears it.
    #[garde(inner(inner(custom(valid_middle_initial))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 5)]
    pub middle_initial: Option<Option<String>>,
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub division_id: Option<String>,
    /// `null` clears it.
    #[garde(inner(inner(custom(valid_email))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 255, pattern = r"^[^\s\x00-\x1f\x7f-\x9f@]+@[^\s\x00-\x1f\x7f-\x9f@.]+(\.[^\s\x00-\x1f\x7f-\x9f@.]+)+$")]
    pub email: Option<Option<String>>,
    /// `null` clears it.
    #[garde(inner(inner(custom(valid_phone))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 50)]
    pub phone_number: Option<Option<String>>,
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub member_type_id: Option<String>,
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub member_status_id: Option<String>,
    /// active | inactive | leave | transferred | retired | pending_review
    #[garde(inner(custom(valid_status)))]
    #[schema(pattern = "^(active|inactive|leave|transferred|retired|pending_review)$")]
    pub status: Option<String>,
    /// A badge to give the member, or `null` to take their badge away.
    #[garde(inner(inner(custom(valid_uuid))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub badge_id: Option<Option<String>>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Member with ID '{id}' not found"))
}

/// Sort columns accepted by `sortBy`.
fn order_by(query: &std::collections::HashMap<String, String>) -> Result<String, ApiError> {
    let direction = match query.get("sortOrder").map(String::as_str) {
        None | Some("asc") => "ASC",
        Some("desc") => "DESC",
        Some(_) => return Err(ApiError::invalid("sortOrder", "must be asc or desc")),
    };
    let columns = match query.get("sortBy").map(String::as_str) {
        None | Some("lastName") => vec!["last_name", "first_name"],
        Some("firstName") => vec!["first_name", "last_name"],
        Some("rank") => vec!["rank", "last_name", "first_name"],
        Some("status") => vec!["status", "last_name", "first_name"],
        Some("serviceNumber") => vec!["service_number"],
        Some(_) => return Err(ApiError::invalid("sortBy", "must be one of lastName, firstName, rank, status, serviceNumber")),
    };
    let mut parts: Vec<String> = columns.iter().map(|c| format!("f.{c} {direction}")).collect();
    parts.push("f.id".into());
    Ok(parts.join(", "))
}

/// List members
///
/// One page of members (any status unless filtered), sorted by last name by default, filtered by a
/// case-insensitive substring of name or service number, division, rank, status and member type.
#[utoipa::path(get, path = "/api/members", tag = "members",
    params(crate::openapi::Paging,
           ("search" = Option<String>, Query, description = "Case-insensitive substring of first name, last name or service number"),
           ("divisionId" = Option<String>, Query, format = "uuid"), ("rank" = Option<String>, Query, description = "A rank code"),
           ("status" = Option<String>, Query, pattern = "^(active|inactive|leave|transferred|retired|pending_review)$"),
           ("memberType" = Option<String>, Query, description = "A member type code"),
           ("sortBy" = Option<String>, Query, pattern = "^(lastName|firstName|rank|status|serviceNumber)$", description = "Default lastName"),
           ("sortOrder" = Option<String>, Query, pattern = "^(asc|desc)$", description = "Default asc")),
    responses((status = 200, body = MemberList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let query = ctx.query();
    let page = PageRequest::from_query(query)?;
    let division = query_uuid(query, "divisionId")?;
    let text = |name: &str| query.get(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let status_filter = text("status");
    if let Some(s) = &status_filter {
        if !rules::is_status(s) {
            return Err(ApiError::invalid("status", &format!("must be one of {}", rules::STATUSES.join(", "))));
        }
    }
    let order = order_by(query)?;
    let mut w = crate::listing::Where::default();
    if let Some(search) = text("search") {
        w.bind("(strpos(lower(m.first_name), lower({})) > 0 OR strpos(lower(m.last_name), lower({})) > 0 OR strpos(lower(m.service_number), lower({})) > 0)", search);
    }
    if let Some(d) = division {
        w.bind("m.division_id = {}::text::uuid", d);
    }
    if let Some(r) = text("rank") {
        w.bind("m.rank = {}", r);
    }
    if let Some(s) = status_filter {
        w.bind("m.status = {}", s);
    }
    if let Some(t) = text("memberType") {
        w.bind("m.member_type = {}", t);
    }
    let filter = w.where_sql();
    let window = w.page(page);
    let order = order.replace("f.", "m.");
    // The page is cut before member_json runs, so skipped rows cost nothing.
    let sql = format!(
        "SELECT (SELECT count(*) FROM members m {filter}) AS total,
                (SELECT coalesce(jsonb_agg(member_json(m, t.id, s.id) ORDER BY {order}), '[]'::jsonb)
                 FROM (SELECT * FROM members m {filter} ORDER BY {order} {window}) m
                 LEFT JOIN member_types t ON t.code = m.member_type
                 LEFT JOIN member_statuses s ON s.code = m.status)::text AS members"
    );
    let row = ctx.db().query_row(&sql, &w.params)?;
    let members = row.text("members").unwrap_or_else(|| "[]".to_string());
    ok_json_text(page.wrap_text("members", &members, json!({}), row.int("total")))
}

/// Get a member
///
/// One member by id.
#[utoipa::path(get, path = "/api/members/{id}", tag = "members", params(("id" = String, Path, description = "Member UUID")),
    responses((status = 200, body = Member), (status = 404, description = "`NOT_FOUND`: no member has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one("SELECT member_json(m) AS member FROM members m WHERE m.id = $1::text::uuid", &[id.as_str().into()])?;
    ok(row.ok_or_else(|| not_found(&id))?.json("member"))
}

/// Find a member by service number
///
/// The member with exactly this service number (case-sensitive).
#[utoipa::path(get, path = "/api/members/search/{serviceNumber}", tag = "members",
    params(("serviceNumber" = String, Path, description = "Exact, case-sensitive service number")),
    responses((status = 200, body = Member), (status = 404, description = "`NOT_FOUND`: no member has this service number")))]
pub fn search(ctx: &Ctx) -> HandlerResult {
    let number = ctx.param("serviceNumber").to_string();
    let row = ctx.db().query_one("SELECT member_json(m) AS member FROM members m WHERE m.service_number = $1", &[number.as_str().into()])?;
    ok(row.ok_or_else(|| ApiError::not_found(format!("Member with service number '{number}' not found")))?.json("member"))
}

/// Runs `member_save` and answers its outcome: the Member, or the refusal.
fn save(ctx: &Ctx, id: Option<&str>, fields: MemberFields) -> Result<Value, ApiError> {
    let outcome = run(ctx, &MemberSave { id: id.map(str::to_string), fields, actor: Actor::of(ctx) })?;
    let member = match outcome {
        MemberOutcome::Ok { member, .. } => member,
        MemberOutcome::NotFound => return Err(not_found(id.unwrap_or_default())),
        MemberOutcome::InvalidRank { rank } => return Err(ApiError::invalid("rank", &format!("'{rank}' is not a known rank code"))),
        MemberOutcome::DivisionNotFound { id } => return Err(ApiError::not_found(format!("Division with ID '{id}' not found"))),
        MemberOutcome::MemberTypeNotFound { id } => return Err(ApiError::not_found(format!("Member type with ID '{id}' not found"))),
        MemberOutcome::MemberStatusNotFound { id } => return Err(ApiError::not_found(format!("Member status '{id}' not found"))),
        MemberOutcome::StatusMismatch => return Err(ApiError::invalid("memberStatusId", "does not match status")),
        MemberOutcome::BadgeNotFound { id } => return Err(ApiError::not_found(format!("Badge with ID '{id}' not found"))),
        MemberOutcome::BadgeNotAssignable { id, status, assignment_type } => {
            let message = if assignment_type != "unassigned" {
                format!("Badge '{id}' is already assigned")
            } else {
                format!("Badge '{id}' is not active (status {status})")
            };
            return Err(ApiError::conflict(message));
        }
        MemberOutcome::DuplicateServiceNumber { service_number } => {
            return Err(ApiError::conflict(format!("Member with service number '{service_number}' already exists")))
        }
    };
    Ok(member)
}

/// Create a member
///
/// Adds a member to a division, optionally giving them an active, unassigned badge; the rank must be in
/// the rank table and the service number unique. A new active member changes the presence figures,
/// which are pushed to dashboards.
#[utoipa::path(post, path = "/api/members", tag = "members", request_body = CreateMember,
    responses((status = 201, body = Member), (status = 400, description = "`VALIDATION_ERROR`: an unknown rank code, or `memberStatusId` does not match the status"),
              (status = 404, description = "`NOT_FOUND`: the division, member type, member status or badge does not exist"),
              (status = 409, description = "`CONFLICT`: the service number is taken, the badge is assigned or not active, or a concurrent change won")))]
pub fn create(ctx: &Ctx) -> HandlerResult {
    let body: CreateMember = ctx.json()?;
    let fields = MemberFields {
        service_number: Field::value(body.service_number),
        rank: Field::value(body.rank),
        first_name: Field::value(body.first_name.trim().to_string()),
        last_name: Field::value(body.last_name.trim().to_string()),
        middle_initial: Field::when(body.middle_initial),
        division_id: Field::value(uuid_text(&body.division_id)),
        email: Field::when(body.email),
        phone_number: Field::when(body.phone_number),
        member_type_id: Field::when(body.member_type_id.map(|v| uuid_text(&v))),
        member_status_id: Field::when(body.member_status_id.map(|v| uuid_text(&v))),
        status: Field::Unchanged,
        badge_id: Field::when(body.badge_id.map(|v| uuid_text(&v))),
    };
    created(save(ctx, None, fields)?)
}

/// Update a member
///
/// Changes the fields present (at least one); `badgeId` gives the member a badge or, as `null`, takes
/// theirs away (the badge link stays consistent on both sides). Presence changes are pushed.
#[utoipa::path(patch, path = "/api/members/{id}", tag = "members", params(("id" = String, Path, description = "Member UUID")),
    request_body = UpdateMember,
    responses((status = 200, body = Member),
              (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing, an unknown rank code, or `memberStatusId` does not match the status"),
              (status = 404, description = "`NOT_FOUND`: no member has this id, or the division, member type, member status or badge does not exist"),
              (status = 409, description = "`CONFLICT`: the service number is taken, the badge is assigned or not active, or a concurrent change won")))]
pub fn update(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: UpdateMember = ctx.json()?;
    let fields = MemberFields {
        service_number: Field::when(body.service_number),
        rank: Field::when(body.rank),
        first_name: Field::when(body.first_name.map(|v| v.trim().to_string())),
        last_name: Field::when(body.last_name.map(|v| v.trim().to_string())),
        middle_initial: Field::patch(body.middle_initial),
        division_id: Field::when(body.division_id.map(|v| uuid_text(&v))),
        email: Field::patch(body.email),
        phone_number: Field::patch(body.phone_number),
        member_type_id: Field::when(body.member_type_id.map(|v| uuid_text(&v))),
        member_status_id: Field::when(body.member_status_id.map(|v| uuid_text(&v))),
        status: Field::when(body.status),
        badge_id: Field::patch(body.badge_id.map(|v| v.map(|b| uuid_text(&b)))),
    };
    if fields.is_empty() {
        return Err(ApiError::invalid("", "At least one field must be provided"));
    }
    ok(save(ctx, Some(&id), fields)?)
}

/// Deactivate a member
///
/// Soft delete: the member's status becomes `inactive`; the row, its check-ins and badge link stay.
/// Deactivating an inactive member succeeds without change.
#[utoipa::path(delete, path = "/api/members/{id}", tag = "members", params(("id" = String, Path, description = "Member UUID")),
    responses((status = 200, body = SuccessMessage), (status = 404, description = "`NOT_FOUND`: no member has this id")))]
pub fn delete(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    // Soft delete: the row, its check-ins and badge link stay. Already inactive is a successful
    // no-op, audited like any other successful call with `changed: false`.
    let audit = audit::cte(
        "member_delete",
        "member",
        "target",
        "id",
        "jsonb_build_object('before', jsonb_build_object('status', target.status), 'after', jsonb_build_object('status', 'inactive'),
                            'changed', EXISTS (SELECT 1 FROM m))",
        2,
    );
    let sql = format!(
        "WITH target AS (SELECT id, status FROM members WHERE id = $1::text::uuid),
         m AS (UPDATE members SET status = 'inactive' WHERE id IN (SELECT id FROM target WHERE status <> 'inactive') RETURNING *),
         {audit}
         SELECT (SELECT count(*) FROM m) AS changed FROM target"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    ctx.db().query_one(&sql, &[id.as_str().into(), user, key, ip])?.ok_or_else(|| not_found(&id))?;
    ok(crate::openapi::to_json(&SuccessMessage { success: true, message: "Member deleted successfully".into() }))
}
