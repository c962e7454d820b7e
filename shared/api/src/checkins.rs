//! Check-ins and presence. The write paths are single calls of
//! the functions in migrations V6 (`scan_badge`, `record_checkin`,
//! `bulk_checkins`, `sync_scans`): each validates in the spec's order, locks
//! the member so direction and duplicates are decided race-free, inserts,
//! writes its audit row and returns the response and realtime payloads.
//!
//! Audit choice: scans and offline syncs are mutations by a key or user, so
//! each stored check-in gets an `audit_log` row (`checkin_create`,
//! `details.method` = scan | sync | bulk | manual) written inside the same call.

use chrono::Utc;
use garde::Validate;
use http::{Method, StatusCode};
use sentinel_domain::checkin::{self as rules, Direction};
use sentinel_domain::time::{format_instant, parse_instant};
use sentinel_domain::Role;
use sentinel_http::input::{double_option, query_flag, query_uuid};
use sentinel_http::pagination::PageRequest;
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, HandlerResult, Router, SqlParam};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::calls::{self, map_db_error, run, uuid_text, valid_uuid, BulkItem, RecordCheckin, RecordOutcome, ScanBadge, ScanOutcome, SyncScans};
use crate::members::publish_presence;

const QM_KIOSK: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk]);
const QM_KIOSK_DISPLAY: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk, Allow::Display]);
const QM_DISPLAY: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Display]);
const ADM_KIOSK: Access = Access::Restricted(&[Allow::User(Role::Admin), Allow::Kiosk]);
const KIOSK: Access = Access::Restricted(&[Allow::Kiosk]);

/// Kiosk id recorded for staff scans without a kiosk.
pub const MANUAL_ENTRY_KIOSK: &str = "manual-entry";

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/checkins", Access::QM, list)
        .route(Method::GET, "/api/checkins/presence", QM_KIOSK_DISPLAY, presence)
        .route(Method::GET, "/api/checkins/presence/people", QM_DISPLAY, presence_people)
        .route(Method::GET, "/api/checkins/activity", QM_KIOSK_DISPLAY, activity)
        .route(Method::GET, "/api/checkins/:id", Access::QM, get)
        .route(Method::POST, "/api/checkins", QM_KIOSK, create)
        .route(Method::POST, "/api/checkins/bulk", ADM_KIOSK, bulk)
        .route(Method::POST, "/api/checkins/scan", QM_KIOSK, scan)
        .route(Method::POST, "/api/checkins/sync", KIOSK, sync)
        .route(Method::POST, "/api/checkins/manual-checkout/:id", Access::DW, manual_checkout)
        .route(Method::PATCH, "/api/checkins/:id", Access::ADM, update)
        .route(Method::DELETE, "/api/checkins/:id", Access::ADM, delete)
        .route(Method::GET, "/api/members/:id/checkins", Access::QM, member_checkins)
}

// ------------------------------------------------------------------ schemas

/// The Checkin object, built by the database function `checkin_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Checkin {
    id: String,
    member_id: Option<String>,
    badge_id: Option<String>,
    /// in | out
    direction: String,
    timestamp: String,
    kiosk_id: String,
    synced: Option<bool>,
    flagged_for_review: Option<bool>,
    flag_reason: Option<String>,
    method: Option<String>,
    created_by_admin: Option<String>,
    created_at: String,
    member: Option<CheckinMember>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CheckinMember {
    id: String,
    service_number: String,
    rank: String,
    first_name: String,
    last_name: String,
    division_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CheckinList {
    checkins: Vec<Checkin>,
    total: i64,
    page: i64,
    limit: i64,
    total_pages: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Presence {
    total_present: i64,
    total_members: i64,
    by_division: Vec<DivisionPresence>,
    last_updated: String,
    visitors_present: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DivisionPresence {
    division_id: String,
    division_name: String,
    present: i64,
    total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ScanResult {
    checkin: Checkin,
    /// `{id, firstName, lastName, rank, division}` (division name).
    member: Value,
    /// in | out, decided by the server.
    direction: String,
    /// `{type: "inactive_member", message}` when the member is not active.
    warning: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct BulkResult {
    /// Items stored (or already stored under their clientRef).
    success: i64,
    failed: i64,
    /// `[{index, error, message}]`
    errors: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SyncResult {
    success: bool,
    processed: i64,
    failed: i64,
    /// `[{serialNumber, timestamp, success, checkinId?, memberId?, memberName?, direction?, duplicate?, flagged?, error?}]`
    results: Vec<Value>,
}

fn valid_direction(v: &str, _: &()) -> garde::Result {
    Direction::parse(v).map(|_| ()).ok_or_else(|| garde::Error::new("must be in or out"))
}
fn valid_method(v: &str, _: &()) -> garde::Result {
    if ["badge", "manual", "override"].contains(&v) { Ok(()) } else { Err(garde::Error::new("must be badge, manual or override")) }
}
fn valid_instant(v: &str, _: &()) -> garde::Result {
    parse_instant(v).map(|_| ()).ok_or_else(|| garde::Error::new("must be an ISO-8601 timestamp"))
}
fn valid_serial(v: &str, _: &()) -> garde::Result {
    let n = sentinel_domain::badge::normalize_serial(v).chars().count();
    if (1..=100).contains(&n) { Ok(()) } else { Err(garde::Error::new("must be 1-100 characters")) }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCheckin {
    #[garde(custom(valid_uuid))]
    pub member_id: String,
    /// Must be assigned to the member; default: the member's current badge.
    #[garde(inner(custom(valid_uuid)))]
    pub badge_id: Option<String>,
    /// in | out (case-insensitive)
    #[garde(custom(valid_direction))]
    pub direction: String,
    /// 1–50 characters; kiosk keys record their own kiosk id.
    #[garde(length(chars, min = 1, max = 50))]
    pub kiosk_id: String,
    /// badge | manual | override (default manual for users, badge for kiosks)
    #[garde(inner(custom(valid_method)))]
    pub method: Option<String>,
    /// ISO timestamp (default now).
    #[garde(inner(custom(valid_instant)))]
    pub timestamp: Option<String>,
    #[garde(skip)]
    pub flagged_for_review: Option<bool>,
    #[garde(inner(length(chars, max = 255)))]
    pub flag_reason: Option<String>,
    /// Idempotency key (unique per kiosk).
    #[garde(inner(length(chars, min = 1, max = 100)))]
    pub client_ref: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkCheckins {
    /// 1–100 items.
    #[garde(length(min = 1, max = 100), dive)]
    pub checkins: Vec<CreateCheckin>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateCheckin {
    #[garde(inner(custom(valid_direction)))]
    pub direction: Option<String>,
    #[garde(skip)]
    pub flagged_for_review: Option<bool>,
    #[garde(inner(inner(length(chars, max = 255))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub flag_reason: Option<Option<String>>,
    #[garde(inner(custom(valid_instant)))]
    pub timestamp: Option<String>,
    /// Stored in the audit row.
    #[garde(inner(length(chars, max = 500)))]
    pub edit_reason: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScanRequest {
    /// The badge serial as read (trimmed, case-insensitive).
    #[garde(custom(valid_serial))]
    pub serial_number: String,
    /// Kiosk clock (default server now); at most 60 s ahead, at most 7 days old.
    #[garde(inner(custom(valid_instant)))]
    pub timestamp: Option<String>,
    /// Staff callers only (default `manual-entry`); kiosk keys record their own.
    #[garde(inner(length(chars, min = 1, max = 50)))]
    pub kiosk_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncScan {
    #[garde(custom(valid_serial))]
    pub serial_number: String,
    #[garde(custom(valid_instant))]
    pub timestamp: String,
    /// Idempotency key (unique per kiosk).
    #[garde(inner(length(chars, min = 1, max = 100)))]
    pub client_ref: Option<String>,
    /// Kiosk clock at upload, epoch milliseconds.
    #[garde(skip)]
    pub local_timestamp: Option<i64>,
    #[garde(skip)]
    pub sequence_number: Option<i64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// 1–100 items.
    #[garde(length(min = 1, max = 100), dive)]
    pub items: Vec<SyncScan>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualCheckout {
    /// 1–500 characters, stored in the audit row.
    #[garde(length(chars, min = 1, max = 500))]
    pub reason: String,
}

// ------------------------------------------------------------------ helpers

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Checkin with ID '{id}' not found"))
}

/// An accepted instant in canonical form (validated by garde already).
fn canonical(ts: &str) -> String {
    parse_instant(ts).map(format_instant).unwrap_or_default()
}

fn publish_checkins(ctx: &Ctx, events: &Value) {
    for event in events.as_array().into_iter().flatten() {
        ctx.publish("checkins", "checkin:new", event.clone());
    }
}

fn publish_alerts(ctx: &Ctx, alerts: &[&Value]) {
    for alert in alerts.iter().filter(|a| a.is_object()) {
        ctx.publish("alerts", "alert:new", crate::alerts::event_payload(alert));
    }
}

/// The kiosk id a write records: the key's own for kiosks, else the caller's choice.
fn kiosk_for(ctx: &Ctx, requested: Option<&str>) -> String {
    ctx.principal.kiosk_id().map(str::to_string).or_else(|| requested.map(str::to_string)).unwrap_or_else(|| MANUAL_ENTRY_KIOSK.to_string())
}

struct Filters {
    member: Option<String>,
    division: Option<String>,
    direction: Option<String>,
    kiosk: Option<String>,
    start: Option<String>,
    end: Option<String>,
    flagged_only: bool,
}

fn filters(ctx: &Ctx) -> Result<Filters, ApiError> {
    let query = ctx.query();
    let date = |name: &str| -> Result<Option<String>, ApiError> {
        query
            .get(name)
            .filter(|s| !s.is_empty())
            .map(|s| parse_instant(s).map(format_instant).ok_or_else(|| ApiError::invalid(name, "must be an ISO-8601 timestamp")))
            .transpose()
    };
    let direction = match query.get("direction").filter(|s| !s.is_empty()) {
        Some(d) => Some(Direction::parse(d).ok_or_else(|| ApiError::invalid("direction", "must be in or out"))?.as_str().to_string()),
        None => None,
    };
    Ok(Filters {
        member: query_uuid(query, "memberId")?,
        division: query_uuid(query, "divisionId")?,
        direction,
        kiosk: query.get("kioskId").filter(|s| !s.is_empty()).cloned(),
        start: date("startDate")?,
        end: date("endDate")?,
        flagged_only: query_flag(query, "flaggedOnly")?,
    })
}

/// One round trip: the filtered total and the requested page, newest first.
fn checkin_page(ctx: &Ctx, f: Filters, page: PageRequest, require_member: bool) -> Result<(bool, i64, Vec<Value>), ApiError> {
    let mut w = crate::listing::Where::default();
    let mut member_exists = "true".to_string();
    if let Some(member) = f.member {
        w.bind("c.member_id = {}::text::uuid", member);
        if require_member {
            member_exists = "EXISTS (SELECT 1 FROM members WHERE id = $1::text::uuid)".to_string();
        }
    }
    if let Some(d) = f.division {
        w.bind("c.member_id IN (SELECT id FROM members WHERE division_id = {}::text::uuid)", d);
    }
    if let Some(d) = f.direction {
        w.bind("c.direction = {}", d);
    }
    if let Some(k) = f.kiosk {
        w.bind("c.kiosk_id = {}", k);
    }
    if let Some(t) = f.start {
        w.bind("c.\"timestamp\" >= {}::text::timestamptz", t);
    }
    if let Some(t) = f.end {
        w.bind("c.\"timestamp\" <= {}::text::timestamptz", t);
    }
    if f.flagged_only {
        w.when("c.flagged_for_review");
    }
    let filter = w.where_sql();
    let (limit, offset) = (w.placeholder(page.limit), w.placeholder(page.offset()));
    let sql = format!(
        "SELECT (SELECT count(*) FROM checkins c {filter}) AS total, {member_exists} AS member_exists,
                (SELECT coalesce(jsonb_agg(checkin_json(c, m) ORDER BY c.\"timestamp\" DESC, c.created_at DESC, c.id DESC), '[]'::jsonb)
                 FROM (SELECT * FROM checkins c {filter} ORDER BY c.\"timestamp\" DESC, c.created_at DESC, c.id DESC
                       LIMIT {limit} OFFSET {offset}) c
                 LEFT JOIN members m ON m.id = c.member_id) AS checkins"
    );
    let row = ctx.db().query_one(&sql, &w.params)?.ok_or_else(|| ApiError::internal("checkin page returned no row"))?;
    let checkins = match row.json("checkins") {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    Ok((row.bool("member_exists"), row.int("total"), checkins))
}

// ------------------------------------------------------------------ reads

#[utoipa::path(get, path = "/api/checkins", tag = "checkins",
    params(("page" = Option<i64>, Query), ("limit" = Option<i64>, Query), ("memberId" = Option<String>, Query), ("divisionId" = Option<String>, Query),
           ("direction" = Option<String>, Query), ("kioskId" = Option<String>, Query), ("startDate" = Option<String>, Query, description = "Inclusive"),
           ("endDate" = Option<String>, Query, description = "Inclusive"), ("flaggedOnly" = Option<bool>, Query)),
    responses((status = 200, body = CheckinList), (status = 400)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let page = PageRequest::from_query(ctx.query())?;
    let (_, total, checkins) = checkin_page(ctx, filters(ctx)?, page, false)?;
    ok(page.wrap(json!({ "checkins": checkins }), total))
}

#[utoipa::path(get, path = "/api/members/{id}/checkins", tag = "checkins",
    params(("id" = String, Path, description = "Member UUID"), ("page" = Option<i64>, Query), ("limit" = Option<i64>, Query),
           ("direction" = Option<String>, Query), ("kioskId" = Option<String>, Query), ("startDate" = Option<String>, Query),
           ("endDate" = Option<String>, Query), ("flaggedOnly" = Option<bool>, Query)),
    responses((status = 200, body = CheckinList), (status = 400), (status = 404, description = "No such member")))]
pub fn member_checkins(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let page = PageRequest::from_query(ctx.query())?;
    let mut f = filters(ctx)?;
    f.member = Some(id.clone());
    let (exists, total, checkins) = checkin_page(ctx, f, page, true)?;
    if !exists {
        return Err(ApiError::not_found(format!("Member with ID '{id}' not found")));
    }
    ok(page.wrap(json!({ "checkins": checkins }), total))
}

#[utoipa::path(get, path = "/api/checkins/{id}", tag = "checkins", params(("id" = String, Path, description = "Checkin UUID")),
    responses((status = 200, body = Checkin), (status = 400), (status = 404)))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one(
        "SELECT checkin_json(c, m) AS checkin FROM checkins c LEFT JOIN members m ON m.id = c.member_id WHERE c.id = $1::text::uuid",
        &[id.as_str().into()],
    )?;
    ok(row.ok_or_else(|| not_found(&id))?.json("checkin"))
}

#[utoipa::path(get, path = "/api/checkins/presence", tag = "checkins", responses((status = 200, body = Presence)))]
pub fn presence(ctx: &Ctx) -> HandlerResult {
    ok(crate::backfill::presence(ctx.db())?)
}

#[utoipa::path(get, path = "/api/checkins/presence/people", tag = "checkins",
    responses((status = 200, description = "`{ people: [...] }` — present members (latest check-in first), then visitors on site")))]
pub fn presence_people(ctx: &Ctx) -> HandlerResult {
    let sql = "SELECT
        coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'id', m.id, 'type', 'member', 'name', m.first_name || ' ' || m.last_name, 'rank', m.rank,
                'division', d.name, 'divisionId', m.division_id, 'memberType', m.member_type,
                'tags', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name, 'color', t.color)
                                                   ORDER BY t.display_order, t.name), '[]'::jsonb)
                         FROM member_tags mt JOIN tags t ON t.id = mt.tag_id WHERE mt.member_id = m.id),
                'checkInTime', iso(pm.since), 'kioskId', c.kiosk_id)) ORDER BY pm.since DESC, m.id)
            FROM present_members pm
            JOIN members m ON m.id = pm.member_id
            LEFT JOIN divisions d ON d.id = m.division_id
            LEFT JOIN checkins c ON c.id = pm.last_checkin_id), '[]'::jsonb)
        || coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'id', v.id, 'type', 'visitor', 'name', v.name, 'organization', v.organization, 'visitType', v.visit_type,
                'visitReason', v.visit_reason, 'hostMemberId', v.host_member_id,
                'hostName', h.rank || ' ' || h.first_name || ' ' || h.last_name,
                'eventId', v.event_id, 'eventName', e.name, 'checkInTime', iso(v.check_in_time), 'kioskId', v.kiosk_id))
                ORDER BY v.check_in_time DESC, v.id)
            FROM visitors v
            LEFT JOIN members h ON h.id = v.host_member_id
            LEFT JOIN events e ON e.id = v.event_id
            WHERE v.check_out_time IS NULL), '[]'::jsonb) AS people";
    let people = ctx.db().query_one(sql, &[])?.map(|r| r.json("people")).unwrap_or_else(|| json!([]));
    ok(json!({ "people": people }))
}

#[utoipa::path(get, path = "/api/checkins/activity", tag = "checkins", params(("limit" = Option<i64>, Query, description = "1–100, default 10")),
    responses((status = 200, description = "`{ activity: [...] }` newest first"), (status = 400)))]
pub fn activity(ctx: &Ctx) -> HandlerResult {
    let limit = match ctx.query().get("limit") {
        None => 10,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(ApiError::invalid("limit", "must be an integer between 1 and 100")),
        },
    };
    ok(json!({ "activity": crate::backfill::activity(ctx.db(), limit)? }))
}

// ------------------------------------------------------------------ writes

/// A `record_checkin` outcome as the response: the check-in, or the refusal.
fn recorded(ctx: &Ctx, outcome: RecordOutcome) -> HandlerResult {
    match outcome {
        RecordOutcome::Ok { checkin, event, .. } => {
            if let Some(event) = event {
                publish_checkins(ctx, &json!([event]));
                publish_presence(ctx);
            }
            created(checkin)
        }
        RecordOutcome::MemberNotFound { member_id } => Err(ApiError::not_found(format!("Member not found: '{member_id}'"))),
        RecordOutcome::BadgeNotFound { badge_id } => Err(ApiError::not_found(format!("Badge with ID '{badge_id}' not found"))),
        RecordOutcome::BadgeMemberMismatch { badge_id, member_id } => {
            Err(ApiError::bad_request("BADGE_MEMBER_MISMATCH", format!("Badge '{badge_id}' is not assigned to member '{member_id}'")))
        }
        RecordOutcome::NotCheckedIn { member_id } => Err(ApiError::bad_request("NOT_CHECKED_IN", format!("Member '{member_id}' is not checked in"))),
        RecordOutcome::LockupHeld { details } => Err(lockup_held(details)),
    }
}

fn lockup_held(details: Value) -> ApiError {
    ApiError::forbidden("LOCKUP_HELD", "Member holds the lockup responsibility; transfer it or execute the lockup before checking out").with_details(details)
}

#[utoipa::path(post, path = "/api/checkins", tag = "checkins", request_body = CreateCheckin,
    responses((status = 201, body = Checkin), (status = 400, description = "Validation failed or BADGE_MEMBER_MISMATCH"),
              (status = 403, description = "LOCKUP_HELD"), (status = 404, description = "Member or badge not found")))]
pub fn create(ctx: &Ctx) -> HandlerResult {
    let body: CreateCheckin = ctx.json()?;
    let default_method = if ctx.principal.is_kiosk() { "badge" } else { "manual" };
    let method = body.method.unwrap_or_else(|| default_method.to_string());
    let call = RecordCheckin {
        member_id: uuid_text(&body.member_id),
        badge_id: body.badge_id.map(|b| uuid_text(&b)),
        direction: Direction::parse(&body.direction).map(Direction::as_str).unwrap_or("in"),
        kiosk_id: kiosk_for(ctx, Some(&body.kiosk_id)),
        timestamp: body.timestamp.map(|t| canonical(&t)),
        flagged_for_review: body.flagged_for_review,
        flag_reason: body.flag_reason,
        client_ref: body.client_ref,
        check_lockup: true,
        require_checked_in: false,
        actor: Actor::of(ctx),
        audit_action: "checkin_create",
        audit_details: json!({ "method": method }),
        method,
    };
    recorded(ctx, run(ctx, &call)?)
}

#[utoipa::path(post, path = "/api/checkins/bulk", tag = "checkins", request_body = BulkCheckins,
    responses((status = 201, body = BulkResult), (status = 400, description = "Schema error anywhere in the batch")))]
pub fn bulk(ctx: &Ctx) -> HandlerResult {
    let body: BulkCheckins = ctx.json()?;
    let default_method = if ctx.principal.is_kiosk() { "badge" } else { "manual" };
    let now = format_instant(Utc::now());
    let items = body
        .checkins
        .into_iter()
        .enumerate()
        .map(|(index, item)| BulkItem {
            index,
            member_id: uuid_text(&item.member_id),
            badge_id: item.badge_id.map(|b| uuid_text(&b)),
            direction: Direction::parse(&item.direction).map(Direction::as_str).unwrap_or("in"),
            kiosk_id: kiosk_for(ctx, Some(&item.kiosk_id)),
            method: item.method.unwrap_or_else(|| default_method.to_string()),
            timestamp: item.timestamp.map(|t| canonical(&t)).unwrap_or_else(|| now.clone()),
            flagged_for_review: item.flagged_for_review,
            flag_reason: item.flag_reason,
            client_ref: item.client_ref,
        })
        .collect();
    let result = run(ctx, &calls::BulkCheckins { items, actor: Actor::of(ctx) })?;
    if !result.events.is_empty() {
        publish_checkins(ctx, &Value::Array(result.events));
        ctx.publish("presence", "presence:update", result.presence);
    }
    created(json!({ "success": result.success, "failed": result.failed, "errors": result.errors }))
}

#[utoipa::path(post, path = "/api/checkins/scan", tag = "checkins", request_body = ScanRequest,
    responses((status = 201, body = ScanResult),
              (status = 400, description = "VALIDATION_ERROR, INVALID_TIMESTAMP, BADGE_UNASSIGNED, BADGE_TYPE_NOT_SUPPORTED"),
              (status = 403, description = "BADGE_INACTIVE, LOCKUP_HELD"), (status = 404, description = "BADGE_NOT_FOUND, MEMBER_NOT_FOUND"),
              (status = 409, description = "DUPLICATE_SCAN (nothing stored)")))]
pub fn scan(ctx: &Ctx) -> HandlerResult {
    let body: ScanRequest = ctx.json()?;
    let now = Utc::now();
    let ts = match &body.timestamp {
        Some(raw) => parse_instant(raw).unwrap_or(now),
        None => now,
    };
    if let Err(problem) = rules::check_scan_timestamp(ts, now) {
        return Err(ApiError::bad_request("INVALID_TIMESTAMP", problem.message()));
    }
    let kiosk = kiosk_for(ctx, body.kiosk_id.as_deref());
    let result = run(ctx, &ScanBadge { serial_number: &body.serial_number, kiosk_id: &kiosk, timestamp: format_instant(ts), actor: Actor::of(ctx) })?;
    publish_alerts(ctx, &[result.alert.as_ref().unwrap_or(&Value::Null)]);
    let (checkin, member, direction, event, presence, warning) = match result.outcome {
        ScanOutcome::Ok { checkin, member, direction, event, presence, warning } => (checkin, member, direction, event, presence, warning),
        ScanOutcome::BadgeNotFound { serial_number } => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "BADGE_NOT_FOUND", format!("Badge '{serial_number}' not found")))
        }
        ScanOutcome::BadgeInactive { serial_number, status } => {
            return Err(ApiError::forbidden("BADGE_INACTIVE", format!("Badge '{serial_number}' is {status}")))
        }
        ScanOutcome::BadgeUnassigned { serial_number } => {
            return Err(ApiError::bad_request("BADGE_UNASSIGNED", format!("Badge '{serial_number}' is not assigned")))
        }
        ScanOutcome::BadgeTypeNotSupported { serial_number, assignment_type } => {
            return Err(ApiError::bad_request(
                "BADGE_TYPE_NOT_SUPPORTED",
                format!("Badge '{serial_number}' is assigned to a {assignment_type}; only member badges check in here"),
            ))
        }
        ScanOutcome::MemberNotFound { member_id } => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "MEMBER_NOT_FOUND", format!("Member '{member_id}' not found")))
        }
        ScanOutcome::DuplicateScan { last_checkin_id, last_timestamp, last_direction } => {
            return Err(ApiError::new(StatusCode::CONFLICT, "DUPLICATE_SCAN", "Duplicate scan: this badge was just scanned").with_details(json!({
                "lastCheckinId": last_checkin_id, "lastTimestamp": last_timestamp, "lastDirection": last_direction,
            })))
        }
        ScanOutcome::LockupHeld { details } => return Err(lockup_held(details)),
    };
    ctx.publish("checkins", "checkin:new", event);
    ctx.publish("presence", "presence:update", presence);
    let mut body = json!({ "checkin": checkin, "member": member, "direction": direction });
    if let Some(warning) = warning.filter(Value::is_object) {
        body["warning"] = warning;
    }
    created(body)
}

#[utoipa::path(post, path = "/api/checkins/sync", tag = "checkins", request_body = SyncRequest,
    responses((status = 200, body = SyncResult), (status = 400, description = "Schema error")))]
pub fn sync(ctx: &Ctx) -> HandlerResult {
    let body: SyncRequest = ctx.json()?;
    let now = Utc::now();
    let plan = rules::plan_sync(
        &body.items.iter().map(|i| rules::SyncItem { serial: i.serial_number.clone(), timestamp: parse_instant(&i.timestamp).unwrap_or(now) }).collect::<Vec<_>>(),
    );
    let items = body
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| calls::SyncItem {
            index,
            serial_number: item.serial_number.clone(),
            timestamp: canonical(&item.timestamp),
            client_ref: item.client_ref.clone(),
            drift_reason: rules::clock_drift_reason(item.local_timestamp, now),
            collapsed_into: plan.collapsed_into[index],
        })
        .collect();
    let call = SyncScans { kiosk_id: kiosk_for(ctx, None), items, actor: Actor::of(ctx) };
    // Two kiosks replaying overlapping members in opposite orders can deadlock; one retry settles it.
    let result = match run(ctx, &call) {
        Err(e) if e.status == StatusCode::CONFLICT => run(ctx, &call)?,
        other => other?,
    };
    publish_alerts(ctx, &result.alerts.iter().collect::<Vec<_>>());
    let any_event = !result.events.is_empty();
    publish_checkins(ctx, &Value::Array(result.events));
    if any_event {
        ctx.publish("presence", "presence:update", result.presence);
    }
    let failed = result.results.iter().filter(|r| r["success"] != json!(true)).count() as i64;
    let processed = result.results.len() as i64 - failed;
    ok(json!({ "success": failed == 0, "processed": processed, "failed": failed, "results": result.results }))
}

#[utoipa::path(post, path = "/api/checkins/manual-checkout/{id}", tag = "checkins", params(("id" = String, Path, description = "Member UUID")),
    request_body = ManualCheckout,
    responses((status = 201, body = Checkin), (status = 400, description = "Validation failed or NOT_CHECKED_IN"), (status = 404)))]
pub fn manual_checkout(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: ManualCheckout = ctx.json()?;
    let call = RecordCheckin {
        member_id: id,
        badge_id: None,
        direction: "out",
        kiosk_id: "admin-forced-checkout".into(),
        method: "override".into(),
        timestamp: None,
        flagged_for_review: Some(false),
        flag_reason: None,
        client_ref: None,
        check_lockup: false,
        require_checked_in: true,
        actor: Actor::of(ctx),
        audit_action: "checkin_manual_checkout",
        audit_details: json!({ "method": "override", "reason": body.reason }),
    };
    recorded(ctx, run(ctx, &call)?)
}

#[utoipa::path(patch, path = "/api/checkins/{id}", tag = "checkins", params(("id" = String, Path, description = "Checkin UUID")), request_body = UpdateCheckin,
    responses((status = 200, body = Checkin), (status = 400), (status = 404)))]
pub fn update(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: UpdateCheckin = ctx.json()?;
    if body.direction.is_none() && body.flagged_for_review.is_none() && body.flag_reason.is_none() && body.timestamp.is_none() {
        return Err(ApiError::invalid("", "At least one of direction, flaggedForReview, flagReason, timestamp must be provided"));
    }
    let audit = audit::cte(
        "checkin_update",
        "checkin",
        "c",
        "id",
        "jsonb_build_object('before', (SELECT checkin_json(b::checkins, NULL) - 'member' FROM before b), 'after', checkin_json(c::checkins, NULL) - 'member', 'editReason', $7::text)",
        8,
    );
    let sql = format!(
        "WITH before AS (SELECT * FROM checkins WHERE id = $1::text::uuid),
         c AS (
            UPDATE checkins SET
                direction = coalesce($2, direction),
                flagged_for_review = coalesce($3::boolean, flagged_for_review),
                flag_reason = CASE WHEN $4 THEN $5::text ELSE flag_reason END,
                \"timestamp\" = coalesce($6::text::timestamptz, \"timestamp\")
            WHERE id = $1::text::uuid RETURNING *
         ), {audit}
         SELECT checkin_json(c::checkins, m) AS checkin FROM c LEFT JOIN members m ON m.id = c.member_id"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let params: [SqlParam; 10] = [
        id.as_str().into(),
        body.direction.as_deref().and_then(Direction::parse).map(Direction::as_str).into(),
        body.flagged_for_review.into(),
        body.flag_reason.is_some().into(),
        body.flag_reason.flatten().into(),
        body.timestamp.map(|t| canonical(&t)).into(),
        body.edit_reason.into(),
        user,
        key,
        ip,
    ];
    let row = ctx.db().query_one(&sql, &params).map_err(map_db_error)?.ok_or_else(|| not_found(&id))?;
    publish_presence(ctx);
    ok(row.json("checkin"))
}

#[utoipa::path(delete, path = "/api/checkins/{id}", tag = "checkins", params(("id" = String, Path, description = "Checkin UUID")),
    responses((status = 200, description = "Deleted"), (status = 404)))]
pub fn delete(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let audit = audit::cte("checkin_delete", "checkin", "removed", "id", "jsonb_build_object('before', checkin_json(removed::checkins, NULL) - 'member')", 2);
    let sql = format!("WITH removed AS (DELETE FROM checkins WHERE id = $1::text::uuid RETURNING *), {audit} SELECT id FROM removed");
    let [user, key, ip] = Actor::of(ctx).params();
    ctx.db().query_one(&sql, &[id.as_str().into(), user, key, ip]).map_err(map_db_error)?.ok_or_else(|| not_found(&id))?;
    publish_presence(ctx);
    ok(json!({ "success": true, "message": "Checkin deleted successfully" }))
}
