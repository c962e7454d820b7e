//! Events: their lifecycle, attendees with temporary event badges, and event-badge scans at the kiosk.
//! Writes go through the SQL functions of `migrations/functions/90_events.sql` (typed in `calls.rs`):
//! the lifecycle is the trigger `events_check_transition`, badge rules are the badges' own
//! (docs/database.md, "Events").

use garde::Validate;
use http::{Method, StatusCode};
use sentinel_domain::event as rules;
use sentinel_domain::time::{format_instant, parse_instant};
use sentinel_domain::Role;
use sentinel_http::input::{double_option, not_blank};
use sentinel_http::pagination::PageRequest;
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::audit::Actor;
use crate::badges::badge_refusal;
use crate::calls::{
    run, uuid_text, valid_uuid, AttendeeFields, AttendeeOutcome, AttendeeRemove, AttendeeSave, EventClose, EventCloseOutcome, EventDelete,
    EventDeleteOutcome, EventFields, EventOutcome, EventSave, EventScan, EventScanOutcome, Field,
};
use crate::checkins::{
    badge_inactive, badge_not_found, badge_type_not_supported, badge_unassigned, duplicate_scan, kiosk_for, scan_instant,
    valid_instant, ScanRequest,
};
use crate::openapi::SuccessMessage;

const KIOSK_OR_DW: Access = Access::Restricted(&[Allow::Kiosk, Allow::User(Role::DutyWatch)]);

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/events/badges/available", Access::DW, available_badges)
        .route(Method::POST, "/api/events/scan", KIOSK_OR_DW, scan)
        .route(Method::GET, "/api/events", Access::QM, list)
        .route(Method::POST, "/api/events", Access::ADM, create)
        .route(Method::POST, "/api/events/:id/close", Access::ADM, close)
        .route(Method::GET, "/api/events/:id/stats", Access::QM, stats)
        .route(Method::GET, "/api/events/:id/attendees", Access::QM, attendees)
        .route(Method::POST, "/api/events/:id/attendees", Access::DW, add_attendee)
        .route(Method::POST, "/api/events/:id/attendees/:attendeeId/assign-badge", Access::DW, assign_badge)
        .route(Method::DELETE, "/api/events/:id/attendees/:attendeeId/badge", Access::DW, remove_badge)
        .route(Method::PATCH, "/api/events/:id/attendees/:attendeeId", Access::DW, update_attendee)
        .route(Method::DELETE, "/api/events/:id/attendees/:attendeeId", Access::DW, delete_attendee)
        .route(Method::GET, "/api/events/:id", Access::QM, get)
        .route(Method::PATCH, "/api/events/:id", Access::ADM, update)
        .route(Method::DELETE, "/api/events/:id", Access::ADM, delete)
}

// ------------------------------------------------------------------ response objects

/// The Event object, built by the database function `event_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Event {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    code: String,
    description: Option<String>,
    /// Midnight UTC of the first day.
    #[schema(format = DateTime)]
    start_date: String,
    /// Midnight UTC of the last day.
    #[schema(format = DateTime)]
    end_date: String,
    #[schema(pattern = "^(draft|active|completed|cancelled)$")]
    status: String,
    auto_expire_badges: bool,
    /// Extra attendee roles (an object), or null.
    #[schema(value_type = Option<Object>)]
    custom_roles: Option<Value>,
    /// The user who created it.
    #[schema(format = "uuid")]
    created_by: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// `{events}`; with `page`, also `total, page, limit, totalPages`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct EventList {
    events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_pages: Option<i64>,
}

/// An event attendee, built by the database function `attendee_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Attendee {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    event_id: String,
    name: String,
    rank: Option<String>,
    organization: String,
    role: String,
    /// The event badge; kept as history after the event closed and the badge went back to the pool.
    #[schema(format = "uuid")]
    badge_id: Option<String>,
    #[schema(format = DateTime)]
    badge_assigned_at: Option<String>,
    /// Midnight UTC of the first day of access.
    #[schema(format = DateTime)]
    access_start: Option<String>,
    /// Midnight UTC of the last day of access (the close date once the event is closed).
    #[schema(format = DateTime)]
    access_end: Option<String>,
    #[schema(pattern = "^(pending|approved|denied|checked_in|expired)$")]
    status: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AttendeeList {
    attendees: Vec<Attendee>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ClosedEvent {
    event: Event,
    /// Attendees expired by this close (0 when it was closed already).
    expired_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct EventStats {
    #[schema(format = "uuid")]
    event_id: String,
    total_attendees: i64,
    /// Status `checked_in`.
    active_attendees: i64,
    /// Attendees whose latest event check-in is `out`.
    checked_out: i64,
    /// Attendees whose latest event check-in is `in`.
    on_site: i64,
    expired: i64,
    pending: i64,
    /// Attendee status → count.
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    by_status: Map<String, Value>,
    /// Event check-ins recorded.
    total_checkins: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AvailableBadge {
    #[schema(format = "uuid")]
    id: String,
    serial_number: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AvailableBadges {
    badges: Vec<AvailableBadge>,
}

/// An event check-in, built by the database function `event_checkin_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct EventCheckin {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    event_attendee_id: String,
    #[schema(format = "uuid")]
    badge_id: String,
    #[schema(pattern = "^(in|out)$")]
    direction: String,
    #[schema(format = DateTime)]
    timestamp: String,
    kiosk_id: String,
    #[schema(format = DateTime)]
    created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct EventScanResult {
    checkin: EventCheckin,
    attendee: Attendee,
    event: Event,
    /// in | out, decided by the server.
    #[schema(pattern = "^(in|out)$")]
    direction: String,
}

// ------------------------------------------------------------------ requests

fn valid_date(v: &str, _: &()) -> garde::Result {
    sentinel_domain::time::parse_date(v).map(|_| ()).ok_or_else(|| garde::Error::new("must be a YYYY-MM-DD date or an ISO-8601 timestamp"))
}
fn valid_new_status(v: &str, _: &()) -> garde::Result {
    if rules::is_initial_status(v) { Ok(()) } else { Err(garde::Error::new("must be draft or active (an event starts as one of them)")) }
}
fn valid_status(v: &str, _: &()) -> garde::Result {
    if rules::is_status(v) { Ok(()) } else { Err(garde::Error::new("must be one of draft, active, completed, cancelled")) }
}
fn valid_attendee_status(v: &str, _: &()) -> garde::Result {
    if rules::is_attendee_status(v) { Ok(()) } else { Err(garde::Error::new("must be one of pending, approved, denied, checked_in, expired")) }
}
fn valid_roles(v: &Value, _: &()) -> garde::Result {
    if v.is_object() || v.is_null() { Ok(()) } else { Err(garde::Error::new("must be an object")) }
}

/// `2026-06-01` of a date as the API returns it (`2026-06-01T00:00:00.000Z`).
fn date_of(iso: &str) -> &str {
    iso.get(..10).unwrap_or(iso)
}

/// A date field as SQL receives it (`YYYY-MM-DD`); validated already.
fn date_text(v: &str) -> String {
    sentinel_domain::time::parse_date(v).map(|d| d.to_string()).unwrap_or_default()
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateEvent {
    #[garde(length(chars, min = 1, max = 200), custom(not_blank))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Unique.
    #[garde(length(chars, min = 1, max = 50), custom(not_blank))]
    #[schema(min_length = 1, max_length = 50, pattern = r"\S")]
    pub code: String,
    #[garde(skip)]
    pub description: Option<String>,
    #[garde(custom(valid_date))]
    #[schema(schema_with = crate::openapi::instant)]
    pub start_date: String,
    /// On or after `startDate`.
    #[garde(custom(valid_date))]
    #[schema(schema_with = crate::openapi::instant)]
    pub end_date: String,
    /// draft (default) | active
    #[garde(inner(custom(valid_new_status)))]
    #[schema(pattern = "^(draft|active)$")]
    pub status: Option<String>,
    /// Default true: closing the event expires its attendees and returns their badges.
    #[garde(skip)]
    pub auto_expire_badges: Option<bool>,
    /// Extra attendee roles.
    #[garde(inner(custom(valid_roles)))]
    #[schema(value_type = Option<Object>)]
    pub custom_roles: Option<Value>,
    /// Ignored: the creator is the caller.
    #[garde(skip)]
    #[schema(value_type = Option<String>)]
    pub created_by: Option<Value>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateEvent {
    #[garde(inner(length(chars, min = 1, max = 200), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[garde(inner(length(chars, min = 1, max = 50), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 50, pattern = r"\S")]
    pub code: Option<String>,
    #[garde(skip)]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[garde(inner(custom(valid_date)))]
    #[schema(schema_with = crate::openapi::instant)]
    pub start_date: Option<String>,
    #[garde(inner(custom(valid_date)))]
    #[schema(schema_with = crate::openapi::instant)]
    pub end_date: Option<String>,
    /// draft → active → (close) completed; draft | active → cancelled. `completed` only through close.
    #[garde(inner(custom(valid_status)))]
    #[schema(pattern = "^(draft|active|completed|cancelled)$")]
    pub status: Option<String>,
    #[garde(skip)]
    pub auto_expire_badges: Option<bool>,
    #[garde(skip)]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub custom_roles: Option<Option<Map<String, Value>>>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAttendee {
    /// Optional; when given it must be the event of the path.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub event_id: Option<String>,
    #[garde(length(chars, min = 1, max = 200), custom(not_blank))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[garde(inner(length(chars, max = 50)))]
    #[schema(max_length = 50)]
    pub rank: Option<String>,
    #[garde(length(chars, min = 1, max = 200), custom(not_blank))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub organization: String,
    #[garde(length(chars, min = 1, max = 100), custom(not_blank))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub role: String,
    /// An active, unassigned badge, which becomes this attendee's event badge.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub badge_id: Option<String>,
    /// With `badgeId` only (default now).
    #[garde(inner(custom(valid_instant)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub badge_assigned_at: Option<String>,
    #[garde(inner(custom(valid_date)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub access_start: Option<String>,
    /// On or after `accessStart`.
    #[garde(inner(custom(valid_date)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub access_end: Option<String>,
    /// pending (default) | approved | denied | checked_in | expired
    #[garde(inner(custom(valid_attendee_status)))]
    #[schema(pattern = "^(pending|approved|denied|checked_in|expired)$")]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateAttendee {
    #[garde(inner(length(chars, min = 1, max = 200), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[garde(inner(inner(length(chars, max = 50))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 50)]
    pub rank: Option<Option<String>>,
    #[garde(inner(length(chars, min = 1, max = 200), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub organization: Option<String>,
    #[garde(inner(length(chars, min = 1, max = 100), custom(not_blank)))]
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub role: Option<String>,
    /// A new event badge (active, unassigned; the previous one returns to the pool), or null to take it back.
    #[garde(inner(inner(custom(valid_uuid))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub badge_id: Option<Option<String>>,
    /// With a new `badgeId` only (default now).
    #[garde(inner(custom(valid_instant)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub badge_assigned_at: Option<String>,
    #[garde(inner(inner(custom(valid_date))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub access_start: Option<Option<String>>,
    #[garde(inner(inner(custom(valid_date))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub access_end: Option<Option<String>>,
    #[garde(inner(custom(valid_attendee_status)))]
    #[schema(pattern = "^(pending|approved|denied|checked_in|expired)$")]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssignEventBadge {
    /// An active, unassigned badge.
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub badge_id: String,
}

// ------------------------------------------------------------------ outcomes as responses

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Event with ID '{id}' not found"))
}

fn attendee_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Attendee with ID '{id}' not found in this event"))
}

fn event_result(outcome: EventOutcome, id: &str) -> Result<Value, ApiError> {
    match outcome {
        EventOutcome::Ok { event } => Ok(event),
        EventOutcome::NotFound => Err(not_found(id)),
        EventOutcome::DuplicateCode { code } => Err(ApiError::conflict(format!("Event with code '{code}' already exists"))),
        EventOutcome::InvalidDates { start_date, end_date } => {
            Err(ApiError::invalid("endDate", "must be on or after startDate").with_details(json!({ "startDate": start_date, "endDate": end_date })))
        }
    }
}

/// An attendee write's outcome: the attendee (badge changes pushed), or the refusal.
fn attendee_result(outcome: AttendeeOutcome, event_id: &str, badge_id: &str) -> Result<Value, ApiError> {
    match outcome {
        AttendeeOutcome::Ok { attendee, .. } => Ok(attendee),
        AttendeeOutcome::EventNotFound { .. } => Err(not_found(event_id)),
        AttendeeOutcome::NotFound { attendee_id } => Err(attendee_not_found(&attendee_id)),
        AttendeeOutcome::EventClosed { status } => {
            Err(ApiError::new(StatusCode::CONFLICT, "EVENT_CLOSED", format!("The event is {status}: it takes no new attendees or badges")))
        }
        AttendeeOutcome::InvalidAccessWindow => Err(ApiError::invalid("accessEnd", "must be on or after accessStart")),
        AttendeeOutcome::BadgeRefused { refusal } => Err(badge_refusal(refusal, badge_id)),
    }
}

// ------------------------------------------------------------------ handlers

/// List badges free for events
///
/// Active, unassigned badges ordered by serial, at most 100: the pool event badges are handed out from.
#[utoipa::path(get, path = "/api/events/badges/available", tag = "events", responses((status = 200, body = AvailableBadges)))]
pub fn available_badges(ctx: &Ctx) -> HandlerResult {
    let sql = "SELECT coalesce(jsonb_agg(jsonb_build_object('id', b.id, 'serialNumber', b.serial_number) ORDER BY b.serial_number), '[]'::jsonb) AS badges
               FROM (SELECT id, serial_number FROM badges WHERE status = 'active' AND assignment_type = 'unassigned'
                     ORDER BY serial_number LIMIT 100) b";
    let row = ctx.db().query_row(sql, &[])?;
    ok(json!({ "badges": row.json("badges") }))
}

/// List events
///
/// Events by start date, newest first, optionally of one status. With `page` the answer is paged and
/// carries `total, page, limit, totalPages`; with `limit` alone it is cut at `limit`.
#[utoipa::path(get, path = "/api/events", tag = "events",
    params(crate::openapi::Paging, ("status" = Option<String>, Query, pattern = "^(draft|active|completed|cancelled)$")),
    responses((status = 200, body = EventList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let query = ctx.query();
    let page = PageRequest::from_query(query)?;
    let status = query.get("status").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if status.as_deref().is_some_and(|s| !rules::is_status(s)) {
        return Err(ApiError::invalid("status", "must be one of draft, active, completed, cancelled"));
    }
    let paged = query.contains_key("page");
    let mut w = crate::listing::Where::default();
    w.bind_some("e.status = {}", status);
    let window = if paged || query.contains_key("limit") {
        // Without `page` the request is for page 1.
        w.page(page)
    } else {
        String::new()
    };
    let sql = format!(
        "WITH filtered AS (SELECT e.* FROM events e {}),
              total AS (SELECT count(*) AS total FROM filtered)
         SELECT total.total, page.event FROM total LEFT JOIN LATERAL (
            SELECT event_json(f::events) AS event
            FROM (SELECT * FROM filtered ORDER BY start_date DESC, created_at DESC, id {window}) f
            ORDER BY f.start_date DESC, f.created_at DESC, f.id
         ) page ON true",
        w.where_sql()
    );
    let rows = ctx.db().query(&sql, &w.params)?;
    let total = rows.first().map(|r| r.int("total")).unwrap_or(0);
    let events: Vec<Value> = rows.iter().map(|r| r.json("event")).filter(|e| !e.is_null()).collect();
    let body = json!({ "events": events });
    ok(if paged { page.wrap(body, total) } else { body })
}

/// Get an event
///
/// One event by id, with its status and dates.
#[utoipa::path(get, path = "/api/events/{id}", tag = "events", params(("id" = String, Path, description = "Event UUID")),
    responses((status = 200, body = Event), (status = 404, description = "`NOT_FOUND`: no event has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one("SELECT event_json(e) AS event FROM events e WHERE e.id = $1::text::uuid", &[id.as_str().into()])?;
    ok(row.ok_or_else(|| not_found(&id))?.json("event"))
}

/// Create an event
///
/// A new event, `draft` (default) or `active`, with a unique code; `endDate` on or after `startDate`.
/// The creator is the caller. Pushes `event:update` (`created`).
#[utoipa::path(post, path = "/api/events", tag = "events", request_body = CreateEvent,
    responses((status = 201, body = Event),
              (status = 400, description = "`VALIDATION_ERROR`: the body is invalid, or `endDate` is before `startDate`"),
              (status = 409, description = "`CONFLICT`: the code is taken")))]
pub fn create(ctx: &Ctx) -> HandlerResult {
    let body: CreateEvent = ctx.json()?;
    let fields = EventFields {
        name: Field::value(body.name.trim().to_string()),
        code: Field::value(body.code.trim().to_string()),
        description: Field::when(body.description),
        start_date: Field::value(date_text(&body.start_date)),
        end_date: Field::value(date_text(&body.end_date)),
        status: Field::when(body.status),
        auto_expire_badges: Field::when(body.auto_expire_badges),
        custom_roles: Field::when(body.custom_roles.filter(Value::is_object)),
    };
    let event = event_result(run(ctx, &EventSave { id: None, fields, actor: Actor::of(ctx) })?, "")?;
    created(event)
}

/// Update an event
///
/// Changes the fields present (at least one); the date rule holds for the merged result. Status follows
/// the lifecycle: draft → active, draft | active → cancelled; `completed` only through close; completed
/// and cancelled are final. Pushes `event:update` (`updated`).
#[utoipa::path(patch, path = "/api/events/{id}", tag = "events", params(("id" = String, Path, description = "Event UUID")), request_body = UpdateEvent,
    responses((status = 200, body = Event),
              (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing or is invalid, the dates would end before they start, or `status` is `completed` (use close)"),
              (status = 404, description = "`NOT_FOUND`: no event has this id"),
              (status = 409, description = "`CONFLICT`: the code is taken; `INVALID_TRANSITION`: the lifecycle does not allow this status change")))]
pub fn update(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: UpdateEvent = ctx.json()?;
    if body.status.as_deref() == Some("completed") {
        return Err(ApiError::invalid("status", "an event is completed by closing it (POST /api/events/{id}/close)"));
    }
    let fields = EventFields {
        name: Field::when(body.name.map(|s| s.trim().to_string())),
        code: Field::when(body.code.map(|s| s.trim().to_string())),
        description: Field::patch(body.description),
        start_date: Field::when(body.start_date.as_deref().map(date_text)),
        end_date: Field::when(body.end_date.as_deref().map(date_text)),
        status: Field::when(body.status),
        auto_expire_badges: Field::when(body.auto_expire_badges),
        custom_roles: Field::patch(body.custom_roles.map(|r| r.map(Value::Object))),
    };
    if fields.is_empty() {
        return Err(ApiError::invalid("", "At least one field must be provided"));
    }
    let event = event_result(run(ctx, &EventSave { id: Some(id.clone()), fields, actor: Actor::of(ctx) })?, &id)?;
    ok(event)
}

/// Close an event
///
/// Completes an active event. With `autoExpireBadges`, attendees not yet expired expire (access ends
/// today, the unit's operational day) and the event's badges return to the pool; attendees keep their
/// `badgeId` as history. Closing a completed event again changes nothing (`expiredCount` 0). Pushes
/// `event:update` (`closed`) and `badge:assignment` for each returned badge.
#[utoipa::path(post, path = "/api/events/{id}/close", tag = "events", params(("id" = String, Path, description = "Event UUID")),
    responses((status = 200, body = ClosedEvent), (status = 404, description = "`NOT_FOUND`: no event has this id"),
              (status = 409, description = "`EVENT_CANCELLED`: a cancelled event cannot be closed; `INVALID_TRANSITION`: a draft must be activated first")))]
pub fn close(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let day = ctx.operational_day()?;
    let call = EventClose { id: id.clone(), zone: day.zone.clone(), rollover: day.rollover_interval(), actor: Actor::of(ctx) };
    match run(ctx, &call)? {
        EventCloseOutcome::Ok { event, expired_count, .. } => ok(json!({ "event": event, "expiredCount": expired_count })),
        EventCloseOutcome::NotFound => Err(not_found(&id)),
        EventCloseOutcome::EventCancelled => Err(ApiError::new(StatusCode::CONFLICT, "EVENT_CANCELLED", "A cancelled event cannot be closed")),
    }
}

/// Delete an event
///
/// Deletes the event with its attendees and their event check-ins; its badges return to the pool and
/// visits that named it keep their history without it. Pushes `event:update` (`deleted`).
#[utoipa::path(delete, path = "/api/events/{id}", tag = "events", params(("id" = String, Path, description = "Event UUID")),
    responses((status = 200, body = SuccessMessage), (status = 404, description = "`NOT_FOUND`: no event has this id")))]
pub fn delete(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    match run(ctx, &EventDelete { id: id.clone(), actor: Actor::of(ctx) })? {
        EventDeleteOutcome::Ok { .. } => ok(crate::openapi::to_json(&SuccessMessage { success: true, message: "Event deleted successfully".into() })),
        EventDeleteOutcome::NotFound => Err(not_found(&id)),
    }
}

/// Event statistics
///
/// Attendee counts of the event (zeros for an event without attendees): by status, and by their latest
/// event check-in.
#[utoipa::path(get, path = "/api/events/{id}/stats", tag = "events", params(("id" = String, Path, description = "Event UUID")),
    responses((status = 200, body = EventStats), (status = 404, description = "`NOT_FOUND`: no event has this id")))]
pub fn stats(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let sql = "WITH people AS (
            SELECT a.status, latest.direction
            FROM event_attendees a
            LEFT JOIN LATERAL (SELECT c.direction FROM event_checkins c WHERE c.event_attendee_id = a.id
                               ORDER BY c.\"timestamp\" DESC, c.created_at DESC LIMIT 1) latest ON true
            WHERE a.event_id = $1::text::uuid
         )
         SELECT jsonb_build_object(
            'eventId', e.id,
            'totalAttendees', (SELECT count(*) FROM people),
            'activeAttendees', (SELECT count(*) FROM people WHERE status = 'checked_in'),
            'checkedOut', (SELECT count(*) FROM people WHERE direction = 'out'),
            'onSite', (SELECT count(*) FROM people WHERE direction = 'in'),
            'expired', (SELECT count(*) FROM people WHERE status = 'expired'),
            'pending', (SELECT count(*) FROM people WHERE status = 'pending'),
            'byStatus', (SELECT coalesce(jsonb_object_agg(status, n), '{}'::jsonb) FROM (SELECT status, count(*) AS n FROM people GROUP BY status) s),
            'totalCheckins', (SELECT count(*) FROM event_checkins c JOIN event_attendees a ON a.id = c.event_attendee_id
                              WHERE a.event_id = e.id)) AS stats
         FROM events e WHERE e.id = $1::text::uuid";
    let row = ctx.db().query_one(sql, &[id.as_str().into()])?;
    ok(row.ok_or_else(|| not_found(&id))?.json("stats"))
}

/// List an event's attendees
///
/// The attendees of this event, by name.
#[utoipa::path(get, path = "/api/events/{id}/attendees", tag = "events", params(("id" = String, Path, description = "Event UUID")),
    responses((status = 200, body = AttendeeList), (status = 404, description = "`NOT_FOUND`: no event has this id")))]
pub fn attendees(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let sql = "SELECT (SELECT coalesce(jsonb_agg(attendee_json(a) ORDER BY a.name, a.id), '[]'::jsonb)
                       FROM event_attendees a WHERE a.event_id = e.id) AS attendees
               FROM events e WHERE e.id = $1::text::uuid";
    let row = ctx.db().query_one(sql, &[id.as_str().into()])?;
    ok(json!({ "attendees": row.ok_or_else(|| not_found(&id))?.json("attendees") }))
}

/// Add an attendee
///
/// A new attendee of this event (the path's event; a body `eventId` must name it). A `badgeId` must be an
/// active, unassigned badge and becomes the attendee's event badge (pushed as `badge:assignment`).
/// Completed and cancelled events take no new attendees.
#[utoipa::path(post, path = "/api/events/{id}/attendees", tag = "events", params(("id" = String, Path, description = "Event UUID")),
    request_body = CreateAttendee,
    responses((status = 201, body = Attendee),
              (status = 400, description = "`VALIDATION_ERROR`: the body is invalid, `eventId` is not the path's event, or access ends before it starts; `BADGE_NOT_ACTIVE`: the badge is not active"),
              (status = 404, description = "`NOT_FOUND`: no event has this id, or no badge has `badgeId`"),
              (status = 409, description = "`BADGE_ALREADY_ASSIGNED`: the badge has another holder; `CONFLICT`: a concurrent change won; `EVENT_CLOSED`: the event is completed or cancelled")))]
pub fn add_attendee(ctx: &Ctx) -> HandlerResult {
    let event_id = ctx.uuid_param("id")?;
    let body: CreateAttendee = ctx.json()?;
    if body.event_id.as_deref().is_some_and(|e| uuid_text(e) != event_id) {
        return Err(ApiError::invalid("eventId", "must be the event of the path"));
    }
    let badge_id = body.badge_id.as_deref().map(uuid_text).unwrap_or_default();
    let fields = AttendeeFields {
        name: Field::value(body.name.trim().to_string()),
        rank: Field::when(body.rank),
        organization: Field::value(body.organization.trim().to_string()),
        role: Field::value(body.role.trim().to_string()),
        badge_id: Field::when(body.badge_id.map(|b| uuid_text(&b))),
        badge_assigned_at: Field::when(body.badge_assigned_at.as_deref().and_then(parse_instant).map(format_instant)),
        access_start: Field::when(body.access_start.as_deref().map(date_text)),
        access_end: Field::when(body.access_end.as_deref().map(date_text)),
        status: Field::when(body.status),
    };
    let call = AttendeeSave { event_id: event_id.clone(), id: None, fields, actor: Actor::of(ctx) };
    created(attendee_result(run(ctx, &call)?, &event_id, &badge_id)?)
}

/// Update an attendee
///
/// Changes the fields present (at least one) of an attendee of this event. A new `badgeId` follows the
/// badge rules and returns the previous event badge to the pool; `null` takes the badge back.
#[utoipa::path(patch, path = "/api/events/{id}/attendees/{attendeeId}", tag = "events",
    params(("id" = String, Path, description = "Event UUID"), ("attendeeId" = String, Path, description = "Attendee UUID")),
    request_body = UpdateAttendee,
    responses((status = 200, body = Attendee),
              (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing or is invalid, or access ends before it starts; `BADGE_NOT_ACTIVE`: the badge is not active"),
              (status = 404, description = "`NOT_FOUND`: no event has this id, the attendee is not one of its attendees, or no badge has `badgeId`"),
              (status = 409, description = "`BADGE_ALREADY_ASSIGNED`: the badge has another holder; `CONFLICT`: a concurrent change won; `EVENT_CLOSED`: a completed or cancelled event hands out no badges")))]
pub fn update_attendee(ctx: &Ctx) -> HandlerResult {
    let event_id = ctx.uuid_param("id")?;
    let attendee_id = ctx.uuid_param("attendeeId")?;
    let body: UpdateAttendee = ctx.json()?;
    let badge_id = body.badge_id.clone().flatten().as_deref().map(uuid_text).unwrap_or_default();
    let fields = AttendeeFields {
        name: Field::when(body.name.map(|s| s.trim().to_string())),
        rank: Field::patch(body.rank),
        organization: Field::when(body.organization.map(|s| s.trim().to_string())),
        role: Field::when(body.role.map(|s| s.trim().to_string())),
        badge_id: Field::patch(body.badge_id.map(|b| b.map(|b| uuid_text(&b)))),
        badge_assigned_at: Field::when(body.badge_assigned_at.as_deref().and_then(parse_instant).map(format_instant)),
        access_start: Field::patch(body.access_start.map(|d| d.as_deref().map(date_text))),
        access_end: Field::patch(body.access_end.map(|d| d.as_deref().map(date_text))),
        status: Field::when(body.status),
    };
    if fields.is_empty() {
        return Err(ApiError::invalid("", "At least one field must be provided"));
    }
    let call = AttendeeSave { event_id: event_id.clone(), id: Some(attendee_id), fields, actor: Actor::of(ctx) };
    ok(attendee_result(run(ctx, &call)?, &event_id, &badge_id)?)
}

/// Give an attendee an event badge
///
/// The badge must exist, be active and unassigned; it becomes the attendee's event badge (a badge they
/// held before returns to the pool). Pushes `badge:assignment`.
#[utoipa::path(post, path = "/api/events/{id}/attendees/{attendeeId}/assign-badge", tag = "events",
    params(("id" = String, Path, description = "Event UUID"), ("attendeeId" = String, Path, description = "Attendee UUID")),
    request_body = AssignEventBadge,
    responses((status = 200, body = Attendee),
              (status = 400, description = "`BADGE_NOT_ACTIVE`: the badge is not active"),
              (status = 404, description = "`NOT_FOUND`: no event has this id, the attendee is not one of its attendees, or no badge has this id"),
              (status = 409, description = "`BADGE_ALREADY_ASSIGNED`: the badge has another holder; `CONFLICT`: a concurrent change won; `EVENT_CLOSED`: the event is completed or cancelled")))]
pub fn assign_badge(ctx: &Ctx) -> HandlerResult {
    let event_id = ctx.uuid_param("id")?;
    let attendee_id = ctx.uuid_param("attendeeId")?;
    let body: AssignEventBadge = ctx.json()?;
    let badge_id = uuid_text(&body.badge_id);
    let fields = AttendeeFields { badge_id: Field::value(badge_id.clone()), ..Default::default() };
    let call = AttendeeSave { event_id: event_id.clone(), id: Some(attendee_id), fields, actor: Actor::of(ctx) };
    ok(attendee_result(run(ctx, &call)?, &event_id, &badge_id)?)
}

/// Take an attendee's badge back
///
/// The attendee's event badge returns to the pool (a member badge is never touched); `badgeId` and
/// `badgeAssignedAt` are cleared. Idempotent.
#[utoipa::path(delete, path = "/api/events/{id}/attendees/{attendeeId}/badge", tag = "events",
    params(("id" = String, Path, description = "Event UUID"), ("attendeeId" = String, Path, description = "Attendee UUID")),
    responses((status = 200, body = Attendee),
              (status = 404, description = "`NOT_FOUND`: no event has this id, or the attendee is not one of its attendees")))]
pub fn remove_badge(ctx: &Ctx) -> HandlerResult {
    let event_id = ctx.uuid_param("id")?;
    let attendee_id = ctx.uuid_param("attendeeId")?;
    let call = AttendeeRemove { event_id: event_id.clone(), id: attendee_id, delete: false, actor: Actor::of(ctx) };
    ok(attendee_result(run(ctx, &call)?, &event_id, "")?)
}

/// Remove an attendee
///
/// Deletes an attendee of this event with their event check-ins; their event badge returns to the pool.
#[utoipa::path(delete, path = "/api/events/{id}/attendees/{attendeeId}", tag = "events",
    params(("id" = String, Path, description = "Event UUID"), ("attendeeId" = String, Path, description = "Attendee UUID")),
    responses((status = 200, body = SuccessMessage),
              (status = 404, description = "`NOT_FOUND`: no event has this id, or the attendee is not one of its attendees")))]
pub fn delete_attendee(ctx: &Ctx) -> HandlerResult {
    let event_id = ctx.uuid_param("id")?;
    let attendee_id = ctx.uuid_param("attendeeId")?;
    let call = AttendeeRemove { event_id: event_id.clone(), id: attendee_id, delete: true, actor: Actor::of(ctx) };
    attendee_result(run(ctx, &call)?, &event_id, "")?;
    ok(crate::openapi::to_json(&SuccessMessage { success: true, message: "Attendee removed successfully".into() }))
}

/// Scan an event badge
///
/// The kiosk flow for event attendees: the attendee holding this event badge checks in or out (the
/// server decides: the opposite of their latest event check-in). The event must be active and the scan's
/// operational day within its dates and the attendee's access window; a pending or approved attendee
/// becomes `checked_in`. A scan within 2 seconds of the attendee's latest stores nothing. Unknown and
/// disabled badges raise security alerts as member scans do. Pushes `event:update` (`checkin`).
#[utoipa::path(post, path = "/api/events/scan", tag = "events", request_body = ScanRequest,
    responses((status = 201, body = EventScanResult),
              (status = 400, description = "`INVALID_TIMESTAMP`: more than 60 s ahead or 7 days old; `BADGE_UNASSIGNED`: the badge has no holder; `BADGE_TYPE_NOT_SUPPORTED`: not an event badge (members scan at /api/checkins/scan)"),
              (status = 403, description = "`BADGE_INACTIVE`: the badge is not active; `ATTENDEE_EXPIRED`: the attendee expired or their access ended; `ATTENDEE_DENIED`: the attendee was denied; `ACCESS_NOT_STARTED`: the attendee's access starts later"),
              (status = 404, description = "`BADGE_NOT_FOUND`: no badge has this serial; `ATTENDEE_NOT_FOUND`: the badge's attendee is gone"),
              (status = 409, description = "`EVENT_NOT_ACTIVE`: the event is not active; `EVENT_NOT_IN_PROGRESS`: the scan's day is outside the event's dates; `DUPLICATE_SCAN`: the same badge within 2 seconds, nothing stored; `CONFLICT`: a concurrent change won")))]
pub fn scan(ctx: &Ctx) -> HandlerResult {
    let body: ScanRequest = ctx.json()?;
    let ts = scan_instant(body.timestamp.as_deref())?;
    let day = ctx.operational_day()?;
    let call = EventScan {
        serial_number: body.serial_number,
        kiosk_id: kiosk_for(ctx, body.kiosk_id.as_deref()),
        timestamp: format_instant(ts),
        zone: day.zone.clone(),
        rollover: day.rollover_interval(),
        actor: Actor::of(ctx),
    };
    let result = run(ctx, &call)?;
    let conflict = |code, message: String| ApiError::new(StatusCode::CONFLICT, code, message);
    match result.outcome {
        EventScanOutcome::Ok { checkin, attendee, event, direction } => {
            created(json!({ "checkin": checkin, "attendee": attendee, "event": event, "direction": direction }))
        }
        EventScanOutcome::BadgeNotFound { serial_number } => Err(badge_not_found(&serial_number)),
        EventScanOutcome::BadgeInactive { serial_number, status } => Err(badge_inactive(&serial_number, &status)),
        EventScanOutcome::BadgeUnassigned { serial_number } => Err(badge_unassigned(&serial_number)),
        EventScanOutcome::BadgeTypeNotSupported { serial_number, assignment_type } => {
            Err(badge_type_not_supported(&serial_number, &assignment_type, "event"))
        }
        EventScanOutcome::AttendeeNotFound { attendee_id } => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "ATTENDEE_NOT_FOUND", format!("Attendee '{attendee_id}' not found")))
        }
        EventScanOutcome::EventNotActive { event_name, status } => {
            Err(conflict("EVENT_NOT_ACTIVE", format!("Event '{event_name}' is {status}, not active")))
        }
        EventScanOutcome::EventNotInProgress { event_name, start_date, end_date, day } => Err(conflict(
            "EVENT_NOT_IN_PROGRESS",
            format!("Event '{event_name}' runs {} to {}, not on {}", date_of(&start_date), date_of(&end_date), date_of(&day)),
        )),
        EventScanOutcome::AttendeeExpired { attendee_name } => {
            Err(ApiError::forbidden("ATTENDEE_EXPIRED", format!("{attendee_name}'s access to the event has expired")))
        }
        EventScanOutcome::AttendeeDenied { attendee_name } => {
            Err(ApiError::forbidden("ATTENDEE_DENIED", format!("{attendee_name} was denied access to the event")))
        }
        EventScanOutcome::AccessNotStarted { attendee_name, access_start } => Err(ApiError::forbidden(
            "ACCESS_NOT_STARTED",
            format!("{attendee_name}'s access to the event starts on {}", date_of(&access_start)),
        )),
        EventScanOutcome::DuplicateScan { last_checkin_id, last_timestamp, last_direction } => {
            Err(duplicate_scan(last_checkin_id, last_timestamp, last_direction))
        }
    }
}
