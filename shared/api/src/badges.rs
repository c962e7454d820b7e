//! Badges. Writes go through `badge_save`, `badge_assign` and
//! `badge_unassign` (migrations V6): assignment invariants and holder links
//! (member, visitor, event attendee) change together with the audit row.

use garde::Validate;
use http::{Method, StatusCode};
use sentinel_domain::badge::{self as rules, normalize_serial};
use sentinel_http::input::{double_option, query_flag};
use sentinel_http::pagination::PageRequest;
use sentinel_domain::Role;
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::calls::{map_db_error, run, uuid_text, valid_uuid, BadgeAssign, BadgeFields, BadgeOutcome, BadgeSave, BadgeUnassign, Field};
use crate::openapi::SuccessMessage;

const QM_OR_KIOSK: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk]);

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/badges", Access::QM, list)
        .route(Method::GET, "/api/badges/stats", Access::QM, stats)
        .route(Method::GET, "/api/badges/serial/:serialNumber", QM_OR_KIOSK, by_serial)
        .route(Method::GET, "/api/badges/:id", Access::QM, get)
        .route(Method::POST, "/api/badges", Access::ADM, create)
        .route(Method::PATCH, "/api/badges/:id", Access::ADM, update)
        .route(Method::POST, "/api/badges/:id/assign", Access::ADM, assign)
        .route(Method::POST, "/api/badges/:id/unassign", Access::ADM, unassign)
        .route(Method::DELETE, "/api/badges/:id", Access::ADM, delete)
}

/// The Badge object, built by the database function `badge_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Badge {
    #[schema(format = "uuid")]
    id: String,
    serial_number: String,
    /// member | visitor | event | unassigned
    #[schema(pattern = "^(member|visitor|event|unassigned)$")]
    assignment_type: String,
    #[schema(format = "uuid")]
    assigned_to_id: Option<String>,
    /// A badge status code (active | inactive | lost | damaged, or one added under `/api/enums/badge-statuses`).
    status: String,
    #[schema(format = "uuid")]
    badge_status_id: Option<String>,
    #[schema(format = DateTime)]
    last_used: Option<String>,
    /// The holder; `null` when unassigned.
    assigned_to: Option<BadgeHolder>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct BadgeHolder {
    #[schema(format = "uuid")]
    id: String,
    /// Members: `<rank> <firstName> <lastName>`.
    name: String,
    /// member | visitor | event
    #[serde(rename = "type")]
    #[schema(pattern = "^(member|visitor|event)$")]
    kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct BadgeList {
    badges: Vec<Badge>,
    total: i64,
    page: i64,
    limit: i64,
    total_pages: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct BadgeStats {
    total: i64,
    assigned: i64,
    unassigned: i64,
    /// status → count
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    by_status: Map<String, Value>,
    /// assignment type → count
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    by_assignment_type: Map<String, Value>,
}

fn valid_serial(v: &str, _: &()) -> garde::Result {
    let n = normalize_serial(v).chars().count();
    if (1..=100).contains(&n) { Ok(()) } else { Err(garde::Error::new("must be 1-100 characters")) }
}
fn valid_status(v: &str, _: &()) -> garde::Result {
    if rules::is_status(v) { Ok(()) } else { Err(garde::Error::new("must be one of active, inactive, lost, damaged")) }
}
fn valid_assignment_type(v: &str, _: &()) -> garde::Result {
    if rules::is_assignment_type(v) { Ok(()) } else { Err(garde::Error::new("must be one of member, visitor, event, unassigned")) }
}
fn valid_holder_type(v: &str, _: &()) -> garde::Result {
    if v != "unassigned" && rules::is_assignment_type(v) { Ok(()) } else { Err(garde::Error::new("must be one of member, visitor, event")) }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBadge {
    /// 1–100 characters once trimmed (ASCII white space) and upper-cased, as stored; unique.
    #[garde(custom(valid_serial))]
    #[schema(pattern = r"^[\t\n\v\f\r ]*[^\t\n\v\f\r ]([\s\S]{0,98}[^\t\n\v\f\r ])?[\t\n\v\f\r ]*$")]
    pub serial_number: String,
    /// member | visitor | event | unassigned (default).
    #[garde(inner(custom(valid_assignment_type)))]
    #[schema(pattern = "^(member|visitor|event|unassigned)$")]
    pub assignment_type: Option<String>,
    /// Required exactly when `assignmentType` is not `unassigned`.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub assigned_to_id: Option<String>,
    /// active (default) | inactive | lost | damaged
    #[garde(inner(custom(valid_status)))]
    #[schema(pattern = "^(active|inactive|lost|damaged)$")]
    pub status: Option<String>,
    /// Must match `status`.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub badge_status_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateBadge {
    /// 1–100 characters once trimmed and upper-cased; unique.
    #[garde(inner(custom(valid_serial)))]
    #[schema(pattern = r"^[\t\n\v\f\r ]*[^\t\n\v\f\r ]([\s\S]{0,98}[^\t\n\v\f\r ])?[\t\n\v\f\r ]*$")]
    pub serial_number: Option<String>,
    /// member | visitor | event | unassigned; given together with `assignedToId`.
    #[garde(inner(custom(valid_assignment_type)))]
    #[schema(pattern = "^(member|visitor|event|unassigned)$")]
    pub assignment_type: Option<String>,
    /// The holder; `null` with `assignmentType` `unassigned`.
    #[garde(inner(inner(custom(valid_uuid))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub assigned_to_id: Option<Option<String>>,
    /// active | inactive | lost | damaged (an inactive badge is unassigned).
    #[garde(inner(custom(valid_status)))]
    #[schema(pattern = "^(active|inactive|lost|damaged)$")]
    pub status: Option<String>,
    /// Must match `status`.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub badge_status_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssignBadge {
    /// member | visitor | event
    #[garde(custom(valid_holder_type))]
    #[schema(pattern = "^(member|visitor|event)$")]
    pub assignment_type: String,
    /// The member, visitor or event attendee.
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub assigned_to_id: String,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Badge with ID '{id}' not found"))
}

/// A `badge_*` outcome as the response: the Badge, or the refusal. Visitors answer `badge_assign`'s refusals of a temporary
/// badge through it too, so a badge is refused with the same code and message everywhere.
pub(crate) fn badge_result(outcome: BadgeOutcome, id: &str) -> Result<Value, ApiError> {
    match outcome {
        BadgeOutcome::Ok { badge, .. } => Ok(badge),
        BadgeOutcome::NotFound => Err(not_found(id)),
        BadgeOutcome::DuplicateSerial { serial_number } => Err(ApiError::conflict(format!("Badge with serial number '{serial_number}' already exists"))),
        BadgeOutcome::BadgeStatusNotFound { badge_status_id } => Err(ApiError::not_found(format!("Badge status with ID '{badge_status_id}' not found"))),
        BadgeOutcome::StatusMismatch => Err(ApiError::invalid("badgeStatusId", "does not match status")),
        BadgeOutcome::HolderNotFound { holder_id } => Err(ApiError::not_found(format!("Holder with ID '{holder_id}' not found"))),
        BadgeOutcome::BadgeNotActive { status } => Err(ApiError::bad_request("BADGE_NOT_ACTIVE", format!("Badge is not active (status {status})"))),
        BadgeOutcome::BadgeAlreadyAssigned => {
            Err(ApiError::new(StatusCode::CONFLICT, "BADGE_ALREADY_ASSIGNED", "Badge is already assigned to another holder; unassign it first"))
        }
        BadgeOutcome::MemberHasBadge => Err(ApiError::new(StatusCode::CONFLICT, "MEMBER_HAS_BADGE", "Member already holds another badge; unassign it first")),
        BadgeOutcome::AssignmentTypeRequired => Err(ApiError::invalid("assignmentType", "assignmentType and assignedToId must be given together")),
    }
}

/// A `badge_assign` refusal passed on by another resource's write (a visitor's temporary badge, an
/// attendee's event badge) as the error the badges component gives for it.
pub(crate) fn badge_refusal(refusal: BadgeOutcome, badge_id: &str) -> ApiError {
    badge_result(refusal, badge_id).err().unwrap_or_else(|| ApiError::internal("badge_assign refusal decoded as OK"))
}

/// List badges
///
/// One page of badges ordered by serial, filtered by a substring of the serial, status, assignment type
/// and whether they are assigned.
#[utoipa::path(get, path = "/api/badges", tag = "badges",
    params(crate::openapi::Paging, ("search" = Option<String>, Query, description = "Substring of the serial (case-insensitive)"),
           ("status" = Option<String>, Query, pattern = "^(active|inactive|lost|damaged)$"),
           ("assignmentType" = Option<String>, Query, pattern = "^(member|visitor|event|unassigned)$"),
           ("assignedOnly" = Option<bool>, Query), ("unassignedOnly" = Option<bool>, Query)),
    responses((status = 200, body = BadgeList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let query = ctx.query();
    let page = PageRequest::from_query(query)?;
    let text = |name: &str| query.get(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let status_filter = text("status");
    if status_filter.as_deref().is_some_and(|s| !rules::is_status(s)) {
        return Err(ApiError::invalid("status", "must be one of active, inactive, lost, damaged"));
    }
    let type_filter = text("assignmentType");
    if type_filter.as_deref().is_some_and(|s| !rules::is_assignment_type(s)) {
        return Err(ApiError::invalid("assignmentType", "must be one of member, visitor, event, unassigned"));
    }
    let assigned_only = query_flag(query, "assignedOnly")?;
    let unassigned_only = query_flag(query, "unassignedOnly")?;
    let search = text("search").map(|s| normalize_serial(&s));
    let mut w = crate::listing::Where::default();
    w.bind_some("strpos(b.serial_number, {}) > 0", search);
    w.bind_some("b.status = {}", status_filter);
    w.bind_some("b.assignment_type = {}", type_filter);
    if assigned_only {
        w.when("b.assignment_type <> 'unassigned'");
    }
    if unassigned_only {
        w.when("b.assignment_type = 'unassigned'");
    }
    let window = w.page(page);
    let sql = format!(
        "WITH filtered AS (SELECT b.* FROM badges b {}),
              total AS (SELECT count(*) AS total FROM filtered)
         SELECT total.total, page.badge FROM total LEFT JOIN LATERAL (
            SELECT badge_json(f::badges) AS badge
            FROM (SELECT * FROM filtered ORDER BY serial_number {window}) f ORDER BY f.serial_number
         ) page ON true",
        w.where_sql()
    );
    let rows = ctx.db().query(&sql, &w.params)?;
    let total = rows.first().map(|r| r.int("total")).unwrap_or(0);
    let badges: Vec<Value> = rows.iter().map(|r| r.json("badge")).filter(|b| !b.is_null()).collect();
    ok(page.wrap(json!({ "badges": badges }), total))
}

/// Count badges
///
/// Totals of badges: assigned, unassigned, per status and per assignment type.
#[utoipa::path(get, path = "/api/badges/stats", tag = "badges", responses((status = 200, body = BadgeStats)))]
pub fn stats(ctx: &Ctx) -> HandlerResult {
    let sql = "SELECT jsonb_build_object(
            'total', (SELECT count(*) FROM badges),
            'assigned', (SELECT count(*) FROM badges WHERE assignment_type <> 'unassigned'),
            'unassigned', (SELECT count(*) FROM badges WHERE assignment_type = 'unassigned'),
            'byStatus', (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb) FROM (SELECT status, count(*) AS n FROM badges GROUP BY status) s),
            'byAssignmentType', (SELECT coalesce(jsonb_object_agg(assignment_type, n), '{}'::jsonb)
                                 FROM (SELECT assignment_type, count(*) AS n FROM badges GROUP BY assignment_type) t)) AS stats";
    ok(ctx.db().query_one(sql, &[])?.map(|r| r.json("stats")).unwrap_or_default())
}

/// Find a badge by serial
///
/// The badge with this serial (trimmed, case-insensitive), with its holder.
#[utoipa::path(get, path = "/api/badges/serial/{serialNumber}", tag = "badges",
    params(("serialNumber" = String, Path, description = "Serial (case-insensitive, trimmed)")),
    responses((status = 200, body = Badge), (status = 404, description = "`NOT_FOUND`: no badge has this serial")))]
pub fn by_serial(ctx: &Ctx) -> HandlerResult {
    let serial = normalize_serial(ctx.param("serialNumber"));
    let row = ctx.db().query_one("SELECT badge_json(b) AS badge FROM badges b WHERE b.serial_number = $1", &[serial.as_str().into()])?;
    ok(row.ok_or_else(|| ApiError::not_found(format!("Badge with serial number '{serial}' not found")))?.json("badge"))
}

/// Get a badge
///
/// One badge by id, with its holder.
#[utoipa::path(get, path = "/api/badges/{id}", tag = "badges", params(("id" = String, Path, description = "Badge UUID")),
    responses((status = 200, body = Badge), (status = 404, description = "`NOT_FOUND`: no badge has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one("SELECT badge_json(b) AS badge FROM badges b WHERE b.id = $1::text::uuid", &[id.as_str().into()])?;
    ok(row.ok_or_else(|| not_found(&id))?.json("badge"))
}

fn save(ctx: &Ctx, id: Option<&str>, fields: BadgeFields) -> Result<Value, ApiError> {
    let outcome = run(ctx, &BadgeSave { id: id.map(str::to_string), fields, actor: Actor::of(ctx) })?;
    badge_result(outcome, id.unwrap_or_default())
}

/// Create a badge
///
/// Registers a badge by serial (stored trimmed and upper-cased, unique), unassigned or given to a
/// member, visitor or event attendee at once; only active badges can be assigned, a member holds one badge.
#[utoipa::path(post, path = "/api/badges", tag = "badges", request_body = CreateBadge,
    responses((status = 201, body = Badge),
              (status = 400, description = "`VALIDATION_ERROR`: `assignedToId` given without a holder type or missing for one, or `badgeStatusId` does not match the status; `BADGE_NOT_ACTIVE`: only an active badge can be assigned"),
              (status = 404, description = "`NOT_FOUND`: the holder or the badge status does not exist"),
              (status = 409, description = "`CONFLICT`: the serial is taken, or a concurrent change won; `BADGE_ALREADY_ASSIGNED`; `MEMBER_HAS_BADGE`: the member holds another badge")))]
pub fn create(ctx: &Ctx) -> HandlerResult {
    let body: CreateBadge = ctx.json()?;
    let kind = body.assignment_type.clone().unwrap_or_else(|| "unassigned".into());
    if (kind == "unassigned") != body.assigned_to_id.is_none() {
        return Err(ApiError::invalid("assignedToId", "is required exactly when assignmentType is not unassigned"));
    }
    let f = BadgeFields {
        serial_number: Field::value(body.serial_number),
        assignment_type: Field::value(kind),
        assigned_to_id: Field::when(body.assigned_to_id.map(|h| uuid_text(&h))),
        status: Field::when(body.status),
        badge_status_id: Field::when(body.badge_status_id.map(|s| uuid_text(&s))),
    };
    created(save(ctx, None, f)?)
}

/// Update a badge
///
/// Changes the fields present (at least one): serial, status, or the holder (`assignmentType` with
/// `assignedToId`; `unassigned` with `null` takes the badge back). Assignment changes are pushed on the
/// `badges` channel.
#[utoipa::path(patch, path = "/api/badges/{id}", tag = "badges", params(("id" = String, Path, description = "Badge UUID")), request_body = UpdateBadge,
    responses((status = 200, body = Badge),
              (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing, `assignmentType` and `assignedToId` not given together, or `badgeStatusId` does not match the status; `BADGE_NOT_ACTIVE`: only an active badge can be assigned"),
              (status = 404, description = "`NOT_FOUND`: no badge has this id, or the holder or badge status does not exist"),
              (status = 409, description = "`CONFLICT`: the serial is taken, or a concurrent change won; `BADGE_ALREADY_ASSIGNED`; `MEMBER_HAS_BADGE`: the member holds another badge")))]
pub fn update(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: UpdateBadge = ctx.json()?;
    let f = BadgeFields {
        serial_number: Field::when(body.serial_number),
        assignment_type: Field::when(body.assignment_type),
        assigned_to_id: Field::patch(body.assigned_to_id.map(|holder| holder.map(|h| uuid_text(&h)))),
        status: Field::when(body.status),
        badge_status_id: Field::when(body.badge_status_id.map(|s| uuid_text(&s))),
    };
    if f.is_empty() {
        return Err(ApiError::invalid("", "At least one field must be provided"));
    }
    ok(save(ctx, Some(&id), f)?)
}

/// Assign a badge
///
/// Gives an active, unassigned badge to a member, visitor or event attendee (assigning it again to its
/// holder changes nothing); a member holds at most one badge.
#[utoipa::path(post, path = "/api/badges/{id}/assign", tag = "badges", params(("id" = String, Path, description = "Badge UUID")), request_body = AssignBadge,
    responses((status = 200, body = Badge), (status = 400, description = "`BADGE_NOT_ACTIVE`: the badge is not active"),
              (status = 404, description = "`NOT_FOUND`: no badge has this id, or the holder does not exist"),
              (status = 409, description = "`BADGE_ALREADY_ASSIGNED`: the badge has another holder; `MEMBER_HAS_BADGE`: the member holds another badge; `CONFLICT`: a concurrent change won")))]
pub fn assign(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: AssignBadge = ctx.json()?;
    let call = BadgeAssign { id: id.clone(), assignment_type: body.assignment_type, holder_id: uuid_text(&body.assigned_to_id), actor: Actor::of(ctx) };
    ok(badge_result(run(ctx, &call)?, &id)?)
}

/// Unassign a badge
///
/// Takes a badge back from its holder (an unassigned badge stays so); the member's badge link is cleared.
#[utoipa::path(post, path = "/api/badges/{id}/unassign", tag = "badges", params(("id" = String, Path, description = "Badge UUID")),
    responses((status = 200, body = Badge), (status = 404, description = "`NOT_FOUND`: no badge has this id"),
              (status = 409, description = "`CONFLICT`: a concurrent change won")))]
pub fn unassign(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let outcome = run(ctx, &BadgeUnassign { id: id.clone(), actor: Actor::of(ctx) })?;
    ok(badge_result(outcome, &id)?)
}

/// Delete a badge
///
/// Deletes a badge that was never used: unassigned and referenced by no check-in, visit or event
/// attendee. A used badge is retired with status `inactive` instead.
#[utoipa::path(delete, path = "/api/badges/{id}", tag = "badges", params(("id" = String, Path, description = "Badge UUID")),
    responses((status = 200, body = SuccessMessage), (status = 404, description = "`NOT_FOUND`: no badge has this id"),
              (status = 409, description = "`BADGE_IN_USE`: the badge is assigned or referenced; `CONFLICT`: a concurrent change won")))]
pub fn delete(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let audit = audit::cte("badge_delete", "badge", "removed", "id", "jsonb_build_object('before', badge_json(removed::badges))", 2);
    let sql = format!(
        "WITH target AS (
            SELECT b.id, (b.assignment_type <> 'unassigned'
                          OR EXISTS (SELECT 1 FROM checkins c WHERE c.badge_id = b.id)
                          OR EXISTS (SELECT 1 FROM event_checkins e WHERE e.badge_id = b.id)
                          OR EXISTS (SELECT 1 FROM visitors v WHERE v.temporary_badge_id = b.id)
                          OR EXISTS (SELECT 1 FROM event_attendees a WHERE a.badge_id = b.id)
                          OR EXISTS (SELECT 1 FROM members m WHERE m.badge_id = b.id)) AS in_use
            FROM badges b WHERE b.id = $1::text::uuid
         ), removed AS (
            DELETE FROM badges WHERE id IN (SELECT id FROM target WHERE NOT in_use) RETURNING *
         ), {audit}
         SELECT in_use FROM target"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let in_use_error = || ApiError::new(StatusCode::CONFLICT, "BADGE_IN_USE", "Badge is assigned or referenced by check-ins or visits; retire it with status inactive instead");
    let row = ctx.db().query_one(&sql, &[id.as_str().into(), user, key, ip]).map_err(|e| {
        if e.is(sentinel_http::db::FOREIGN_KEY_VIOLATION) { in_use_error() } else { map_db_error(e) }
    })?;
    if row.ok_or_else(|| not_found(&id))?.bool("in_use") {
        return Err(in_use_error());
    }
    ok(crate::openapi::to_json(&SuccessMessage { success: true, message: "Badge deleted successfully".into() }))
}
