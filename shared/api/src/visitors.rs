//! Visitors: sign-in by staff or a kiosk, the idempotent sign-out, corrections, and the lists. The
//! writes are single calls of `visitor_sign_in`, `visitor_sign_out` and `visitor_update`
//! (migrations/functions/80_visitors.sql): references, the temporary badge (the badge rules of
//! `badge_assign`) and the audit row change in one transaction. A visitor is on site while
//! `checkOutTime` is null; `visitorsPresent` of the presence figures counts them.

use garde::Validate;
use http::Method;
use sentinel_domain::Role;
use sentinel_http::input::{double_option, not_blank, query_instant, query_uuid};
use sentinel_http::pagination::PageRequest;
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::Actor;
use crate::badges::badge_refusal;
use crate::calls::{run, uuid_text, valid_uuid, Field, VisitorFields, VisitorOutcome, VisitorSignIn, VisitorSignOut, VisitorUpdate};
use crate::checkins::{canonical, valid_instant};

const QM_KIOSK: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk]);
const QM_KIOSK_DISPLAY: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk, Allow::Display]);

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/visitors/active", QM_KIOSK_DISPLAY, active)
        .route(Method::GET, "/api/visitors", Access::QM, list)
        .route(Method::POST, "/api/visitors", QM_KIOSK, sign_in)
        .route(Method::POST, "/api/visitors/:id/checkout", QM_KIOSK, checkout)
        .route(Method::GET, "/api/visitors/:id", Access::QM, get)
        .route(Method::PATCH, "/api/visitors/:id", Access::DW, update)
}

// ------------------------------------------------------------------ schemas

/// The Visitor object, built by the database function `visitor_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Visitor {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    organization: Option<String>,
    /// A visit type code (contractor | guest | official | other, or one added under `/api/enums/visit-types`).
    visit_type: String,
    /// The visit type's id.
    #[schema(format = "uuid")]
    visit_type_id: Option<String>,
    visit_reason: Option<String>,
    #[schema(format = "uuid")]
    event_id: Option<String>,
    #[schema(format = "uuid")]
    host_member_id: Option<String>,
    #[schema(format = DateTime)]
    check_in_time: String,
    /// `null` while the visitor is on site.
    #[schema(format = DateTime)]
    check_out_time: Option<String>,
    /// The temporary badge held on site; after sign-out, the badge the visit used (it is back in the pool).
    #[schema(format = "uuid")]
    temporary_badge_id: Option<String>,
    kiosk_id: String,
    admin_notes: Option<String>,
    /// kiosk | admin_manual
    #[schema(pattern = "^(kiosk|admin_manual)$")]
    check_in_method: String,
    /// The user who signed the visitor in (null for kiosks).
    #[schema(format = "uuid")]
    created_by_admin: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

/// One page of visitors, newest sign-in first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct VisitorList {
    visitors: Vec<Visitor>,
    total: i64,
    page: i64,
    limit: i64,
    total_pages: i64,
    /// True when `total` (and so `totalPages`) is the planner's estimate of the table's size: an unfiltered
    /// list past 1 000 rows (docs/architecture.md, "Lists"). Filtered lists count exactly.
    total_is_estimate: bool,
}

/// The visitors on site, newest sign-in first (also the `visitors:backfill` payload).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ActiveVisitors {
    visitors: Vec<Visitor>,
    count: i64,
}

/// `{success: true, message, visitor}`
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct CheckoutResult {
    success: bool,
    message: String,
    visitor: Visitor,
}

fn valid_method(v: &str, _: &()) -> garde::Result {
    if matches!(v, "kiosk" | "admin_manual") { Ok(()) } else { Err(garde::Error::new("must be kiosk or admin_manual")) }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignInVisitor {
    /// 1–200 characters, not blank.
    #[garde(length(chars, min = 1, max = 200), custom(not_blank))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// At most 200 characters.
    #[garde(inner(length(chars, max = 200)))]
    #[schema(max_length = 200)]
    pub organization: Option<String>,
    /// A visit type code (`GET /api/enums/visit-types`); must exist.
    #[garde(length(chars, min = 1, max = 50))]
    #[schema(min_length = 1, max_length = 50)]
    pub visit_type: String,
    /// Must exist and denote the same visit type as `visitType`.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub visit_type_id: Option<String>,
    #[garde(skip)]
    pub visit_reason: Option<String>,
    /// Must exist.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub event_id: Option<String>,
    /// The member hosting the visit; must exist.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub host_member_id: Option<String>,
    /// Default now.
    #[garde(inner(custom(valid_instant)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub check_in_time: Option<String>,
    /// Only for back-filled records: not before `checkInTime`; such a visitor gets no temporary badge.
    #[garde(inner(custom(valid_instant)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub check_out_time: Option<String>,
    /// An active, unassigned badge; it is assigned to the visitor until sign-out.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub temporary_badge_id: Option<String>,
    /// 1–50 characters; kiosk keys record their own kiosk id.
    #[garde(length(chars, min = 1, max = 50))]
    #[schema(min_length = 1, max_length = 50)]
    pub kiosk_id: String,
    #[garde(skip)]
    pub admin_notes: Option<String>,
    /// kiosk | admin_manual; ignored: set from the caller (kiosk keys `kiosk`, users `admin_manual`).
    #[garde(inner(custom(valid_method)))]
    #[schema(pattern = "^(kiosk|admin_manual)$")]
    pub check_in_method: Option<String>,
    /// Ignored: the signed-in user is recorded.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub created_by_admin: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateVisitor {
    /// 1–200 characters, not blank.
    #[garde(inner(length(chars, min = 1, max = 200), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// At most 200 characters; `null` clears it.
    #[garde(inner(inner(length(chars, max = 200))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub organization: Option<Option<String>>,
    /// A visit type code; must exist.
    #[garde(inner(length(chars, min = 1, max = 50)))]
    #[schema(min_length = 1, max_length = 50)]
    pub visit_type: Option<String>,
    /// Must exist (and denote the same visit type as `visitType` when both are given).
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub visit_type_id: Option<String>,
    /// `null` clears it.
    #[garde(skip)]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub visit_reason: Option<Option<String>>,
    /// Must exist; `null` clears it.
    #[garde(inner(inner(custom(valid_uuid))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub event_id: Option<Option<String>>,
    /// Must exist; `null` clears it.
    #[garde(inner(inner(custom(valid_uuid))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub host_member_id: Option<Option<String>>,
    #[garde(inner(custom(valid_instant)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub check_in_time: Option<String>,
    /// Setting it signs the visitor out (temporary badge returned, `visitor:signout`); not before
    /// `checkInTime`; `null` is refused once set (no re-admission).
    #[garde(inner(inner(custom(valid_instant))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub check_out_time: Option<Option<String>>,
    /// A new temporary badge (active and unassigned; the previous one is returned), or `null` to return it.
    /// Only for visitors on site.
    #[garde(inner(inner(custom(valid_uuid))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub temporary_badge_id: Option<Option<String>>,
    /// 1–50 characters.
    #[garde(inner(length(chars, min = 1, max = 50)))]
    #[schema(min_length = 1, max_length = 50)]
    pub kiosk_id: Option<String>,
    /// `null` clears it.
    #[garde(skip)]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub admin_notes: Option<Option<String>>,
    /// kiosk | admin_manual
    #[garde(inner(custom(valid_method)))]
    #[schema(pattern = "^(kiosk|admin_manual)$")]
    pub check_in_method: Option<String>,
}

// ------------------------------------------------------------------ helpers

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Visitor with ID '{id}' not found"))
}

/// A `visitor_*` outcome as the response's Visitor, or the refusal.
fn visitor_result(outcome: VisitorOutcome, id: &str, badge_id: Option<&str>) -> Result<Value, ApiError> {
    match outcome {
        VisitorOutcome::Ok { visitor, .. } => Ok(visitor),
        VisitorOutcome::NotFound => Err(not_found(id)),
        VisitorOutcome::EventNotFound { event_id } => Err(ApiError::not_found(format!("Event with ID '{event_id}' not found"))),
        VisitorOutcome::HostNotFound { host_member_id } => Err(ApiError::not_found(format!("Host member with ID '{host_member_id}' not found"))),
        VisitorOutcome::VisitTypeNotFound { visit_type } => Err(ApiError::not_found(format!("Visit type '{visit_type}' not found"))),
        VisitorOutcome::VisitTypeMismatch => Err(ApiError::invalid("visitTypeId", "does not denote the same visit type as visitType")),
        VisitorOutcome::CheckOutBeforeCheckIn => Err(ApiError::invalid("checkOutTime", "must not be before checkInTime")),
        VisitorOutcome::CheckOutCleared => Err(ApiError::invalid("checkOutTime", "cannot be cleared once set: a signed-out visitor signs in again")),
        VisitorOutcome::BadgeForSignedOut => Err(ApiError::invalid("temporaryBadgeId", "only a visitor on site can be given a temporary badge")),
        VisitorOutcome::BadgeRefused { refusal } => Err(badge_refusal(refusal, badge_id.unwrap_or_default())),
    }
}

// ------------------------------------------------------------------ reads

/// List visitors on site
///
/// The visitors signed in and not out, newest sign-in first, with their count (the same data as the
/// `visitors:backfill` of the realtime channel).
#[utoipa::path(get, path = "/api/visitors/active", tag = "visitors", responses((status = 200, body = ActiveVisitors)))]
pub fn active(ctx: &Ctx) -> HandlerResult {
    ok(crate::backfill::active_visitors(ctx.db())?)
}

/// List visitors
///
/// One page of visits, newest sign-in first, filtered by sign-in time (each bound independent and
/// inclusive), visit type code and host.
#[utoipa::path(get, path = "/api/visitors", tag = "visitors",
    params(crate::openapi::Paging,
           ("startDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$", description = "Signed in at or after (ISO-8601 instant or YYYY-MM-DD)"),
           ("endDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$", description = "Signed in at or before (ISO-8601 instant or YYYY-MM-DD)"),
           ("visitType" = Option<String>, Query, description = "Visit type code"),
           ("hostMemberId" = Option<String>, Query, format = "uuid")),
    responses((status = 200, body = VisitorList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let query = ctx.query();
    let page = PageRequest::from_query(query)?;
    let mut w = crate::listing::Where::default();
    w.bind_some("v.check_in_time >= {}::text::timestamptz", query_instant(query, "startDate")?);
    w.bind_some("v.check_in_time <= {}::text::timestamptz", query_instant(query, "endDate")?);
    w.bind_some("v.visit_type = {}", query.get("visitType").filter(|s| !s.is_empty()).cloned());
    w.bind_some("v.host_member_id = {}::text::uuid", query_uuid(query, "hostMemberId")?);
    let sql = crate::listing::page_statement(&mut w, "visitors", "visitors v", page, "", |filter, window| {
        format!(
            "SELECT coalesce(jsonb_agg(visitor_json(v, t.id) ORDER BY v.check_in_time DESC, v.id DESC), '[]'::jsonb)
             FROM (SELECT * FROM visitors v {filter} ORDER BY v.check_in_time DESC, v.id DESC {window}) v
             LEFT JOIN visit_types t ON t.code = v.visit_type"
        )
    });
    crate::listing::page_reply(&ctx.db().query_row(&sql, &w.params)?, page, "visitors")
}

/// Get a visitor
///
/// One visit by id.
#[utoipa::path(get, path = "/api/visitors/{id}", tag = "visitors", params(("id" = String, Path, description = "Visitor UUID")),
    responses((status = 200, body = Visitor), (status = 404, description = "`NOT_FOUND`: no visitor has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one("SELECT visitor_json(v) AS visitor FROM visitors v WHERE v.id = $1::text::uuid", &[id.as_str().into()])?;
    ok(row.ok_or_else(|| not_found(&id))?.json("visitor"))
}

// ------------------------------------------------------------------ writes

/// Sign a visitor in
///
/// Records a visitor signed in by staff (`checkInMethod` `admin_manual`, `createdByAdmin` the user) or by a
/// kiosk (`kiosk`, the key's kiosk id). The event, host, visit type and temporary badge must exist; the badge
/// must be active and unassigned and is assigned to the visitor until sign-out. Pushes `visitor:signin`,
/// `presence:update` and, with a badge, `badge:assignment`.
#[utoipa::path(post, path = "/api/visitors", tag = "visitors", request_body = SignInVisitor,
    responses((status = 201, body = Visitor),
              (status = 400, description = "`VALIDATION_ERROR`: `visitTypeId` does not match `visitType`, `checkOutTime` before `checkInTime`, or a temporary badge for a visitor already signed out; `BADGE_NOT_ACTIVE`: the temporary badge is not active"),
              (status = 404, description = "`NOT_FOUND`: the event, host member, visit type or temporary badge does not exist"),
              (status = 409, description = "`BADGE_ALREADY_ASSIGNED`: the temporary badge has a holder; `CONFLICT`: a concurrent change won")))]
pub fn sign_in(ctx: &Ctx) -> HandlerResult {
    let body: SignInVisitor = ctx.json()?;
    let kiosk_id = ctx.principal.kiosk_id().map(str::to_string).unwrap_or(body.kiosk_id);
    let method = if ctx.principal.is_kiosk() { "kiosk" } else { "admin_manual" };
    let badge_id = body.temporary_badge_id.map(|b| uuid_text(&b));
    let fields = VisitorFields {
        name: Field::value(body.name),
        organization: Field::when(body.organization),
        visit_type: Field::value(body.visit_type),
        visit_type_id: Field::when(body.visit_type_id.map(|t| uuid_text(&t))),
        visit_reason: Field::when(body.visit_reason),
        event_id: Field::when(body.event_id.map(|e| uuid_text(&e))),
        host_member_id: Field::when(body.host_member_id.map(|h| uuid_text(&h))),
        check_in_time: Field::when(body.check_in_time.map(|t| canonical(&t))),
        check_out_time: Field::when(body.check_out_time.map(|t| canonical(&t))),
        temporary_badge_id: Field::when(badge_id.clone()),
        kiosk_id: Field::value(kiosk_id),
        admin_notes: Field::when(body.admin_notes),
        check_in_method: Field::value(method.to_string()),
    };
    let outcome = run(ctx, &VisitorSignIn { fields, actor: Actor::of(ctx) })?;
    created(visitor_result(outcome, "", badge_id.as_deref())?)
}

/// Sign a visitor out
///
/// Records the checkout now and returns the temporary badge to the pool. Idempotent: a visitor already
/// signed out keeps the first checkout time and nothing is pushed again. Pushes `visitor:signout`,
/// `presence:update` and, when a badge was returned, `badge:assignment`.
#[utoipa::path(post, path = "/api/visitors/{id}/checkout", tag = "visitors", params(("id" = String, Path, description = "Visitor UUID")),
    responses((status = 200, body = CheckoutResult), (status = 404, description = "`NOT_FOUND`: no visitor has this id"),
              (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
pub fn checkout(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let outcome = run(ctx, &VisitorSignOut { id: id.clone(), actor: Actor::of(ctx) })?;
    let visitor = visitor_result(outcome, &id, None)?;
    ok(json!({ "success": true, "message": "Visitor checked out successfully", "visitor": visitor }))
}

/// Update a visitor
///
/// Corrects the fields present (at least one). Setting `checkOutTime` signs the visitor out as the checkout
/// does; clearing it is refused. A new `temporaryBadgeId` must be an active, unassigned badge and the previous
/// one is returned to the pool (`null` returns it).
#[utoipa::path(patch, path = "/api/visitors/{id}", tag = "visitors", params(("id" = String, Path, description = "Visitor UUID")), request_body = UpdateVisitor,
    responses((status = 200, body = Visitor),
              (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing, `visitTypeId` does not match `visitType`, `checkOutTime` cleared or before `checkInTime`, or a temporary badge for a visitor signed out; `BADGE_NOT_ACTIVE`: the temporary badge is not active"),
              (status = 404, description = "`NOT_FOUND`: no visitor has this id, or the event, host member, visit type or temporary badge does not exist"),
              (status = 409, description = "`BADGE_ALREADY_ASSIGNED`: the temporary badge has another holder; `CONFLICT`: a concurrent change won")))]
pub fn update(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: UpdateVisitor = ctx.json()?;
    let badge_id = body.temporary_badge_id.clone().flatten().map(|b| uuid_text(&b));
    let uuid = |v: Option<Option<String>>| Field::patch(v.map(|o| o.map(|s| uuid_text(&s))));
    let fields = VisitorFields {
        name: Field::when(body.name),
        organization: Field::patch(body.organization),
        visit_type: Field::when(body.visit_type),
        visit_type_id: Field::when(body.visit_type_id.map(|t| uuid_text(&t))),
        visit_reason: Field::patch(body.visit_reason),
        event_id: uuid(body.event_id),
        host_member_id: uuid(body.host_member_id),
        check_in_time: Field::when(body.check_in_time.map(|t| canonical(&t))),
        check_out_time: Field::patch(body.check_out_time.map(|o| o.map(|t| canonical(&t)))),
        temporary_badge_id: uuid(body.temporary_badge_id),
        kiosk_id: Field::when(body.kiosk_id),
        admin_notes: Field::patch(body.admin_notes),
        check_in_method: Field::when(body.check_in_method),
    };
    if fields.is_empty() {
        return Err(ApiError::invalid("", "At least one field must be provided"));
    }
    let outcome = run(ctx, &VisitorUpdate { id: id.clone(), fields, actor: Actor::of(ctx) })?;
    ok(visitor_result(outcome, &id, badge_id.as_deref())?)
}
