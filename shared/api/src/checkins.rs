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
use sentinel_domain::time::{format_instant, parse_instant, Instant};
use sentinel_domain::Role;
use sentinel_http::input::{double_option, query_flag, query_instant, query_uuid};
use sentinel_http::pagination::{with_json_text_field, PageRequest};
use sentinel_http::{created, ok, ok_json_text, Access, Allow, ApiError, Ctx, HandlerResult, Router, SqlParam};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::calls::{self, map_db_error, run, uuid_text, valid_uuid, BulkItem, RecordCheckin, RecordOutcome, ScanBadge, ScanOutcome, SyncScans};
use crate::openapi::SuccessMessage;

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
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    member_id: String,
    #[schema(format = "uuid")]
    badge_id: Option<String>,
    /// in | out
    #[schema(pattern = "^(in|out)$")]
    direction: String,
    #[schema(format = DateTime)]
    timestamp: String,
    kiosk_id: String,
    /// false for check-ins recorded while the kiosk was offline.
    synced: bool,
    flagged_for_review: bool,
    flag_reason: Option<String>,
    /// badge | manual | override | lockup | system
    #[schema(pattern = "^(badge|manual|override|lockup|system)$")]
    method: String,
    /// The user who recorded it by hand.
    #[schema(format = "uuid")]
    created_by_admin: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    member: Option<CheckinMember>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CheckinMember {
    #[schema(format = "uuid")]
    id: String,
    service_number: String,
    rank: String,
    first_name: String,
    last_name: String,
    #[schema(format = "uuid")]
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
    /// True when `total` (and so `totalPages`) is the planner's estimate of the table's size: an unfiltered
    /// list past 1 000 rows (docs/architecture.md, "Lists"). Filtered lists count exactly.
    total_is_estimate: bool,
}

/// Who is in the building: active members present, per division (every division, by name).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Presence {
    total_present: i64,
    /// Active members.
    total_members: i64,
    by_division: Vec<DivisionPresence>,
    #[schema(format = DateTime)]
    last_updated: String,
    /// Visitors signed in and not out.
    visitors_present: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DivisionPresence {
    #[schema(format = "uuid")]
    division_id: String,
    division_name: String,
    present: i64,
    total: i64,
}

/// A person on site: a present member (latest check-in first) or a visitor signed in. Absent fields are omitted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PresentPerson {
    #[schema(format = "uuid")]
    id: String,
    /// member | visitor
    #[serde(rename = "type")]
    #[schema(pattern = "^(member|visitor)$")]
    kind: String,
    name: String,
    #[schema(format = DateTime)]
    check_in_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    kiosk_id: Option<String>,
    /// Members: rank, division, division id, member type and tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    rank: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    division: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uuid")]
    division_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    member_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    tags: Option<Vec<PersonTag>>,
    /// Visitors: organisation, visit type and reason, host, event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    visit_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    visit_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uuid")]
    host_member_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    host_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uuid")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    event_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PersonTag {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    color: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PresentPeople {
    people: Vec<PresentPerson>,
}

/// One line of the activity feed: a member check-in, or a visitor sign-in of the last 24 hours
/// (`direction` `in` while the visitor is on site). Absent fields are omitted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ActivityItem {
    /// checkin | visitor
    #[serde(rename = "type")]
    #[schema(pattern = "^(checkin|visitor)$")]
    kind: String,
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = DateTime)]
    timestamp: String,
    #[schema(pattern = "^(in|out)$")]
    direction: String,
    name: String,
    kiosk_id: String,
    /// The kiosk key's name, when the kiosk has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    kiosk_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    rank: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    division: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    visit_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    visit_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    host_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uuid")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    event_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ActivityList {
    activity: Vec<ActivityItem>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ScanResult {
    checkin: Checkin,
    member: ScanMember,
    /// in | out, decided by the server.
    #[schema(pattern = "^(in|out)$")]
    direction: String,
    /// Present when the member is not active (the check-in is stored and an alert raised).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    warning: Option<ScanWarning>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ScanMember {
    #[schema(format = "uuid")]
    id: String,
    first_name: String,
    last_name: String,
    rank: String,
    /// The division's name.
    division: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ScanWarning {
    /// inactive_member
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct BulkResult {
    /// Items stored (or already stored under their clientRef).
    success: i64,
    failed: i64,
    errors: Vec<BulkError>,
}

/// A refused item of a bulk request.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct BulkError {
    /// The item's position in `checkins`.
    index: i64,
    /// MEMBER_NOT_FOUND | BADGE_NOT_FOUND | BADGE_MEMBER_MISMATCH | LOCKUP_HELD
    error: String,
    message: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SyncResult {
    /// Every item succeeded.
    success: bool,
    processed: i64,
    failed: i64,
    /// One per item, in order.
    results: Vec<SyncItemResult>,
}

/// The outcome of one offline scan: stored (or already stored: `duplicate`), or refused (`error`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SyncItemResult {
    serial_number: String,
    /// The scan's instant (canonical ISO-8601), or the text as sent when it was refused as not a valid instant.
    timestamp: String,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    duplicate: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uuid")]
    checkin_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = "uuid")]
    member_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    member_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, pattern = "^(in|out)$")]
    direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    flagged: Option<bool>,
}

fn valid_direction(v: &str, _: &()) -> garde::Result {
    Direction::parse(v).map(|_| ()).ok_or_else(|| garde::Error::new("must be in or out"))
}
fn valid_method(v: &str, _: &()) -> garde::Result {
    if ["badge", "manual", "override"].contains(&v) { Ok(()) } else { Err(garde::Error::new("must be badge, manual or override")) }
}
/// garde validator: an instant as the API accepts it (shared by the request types of several resources).
pub(crate) fn valid_instant(v: &str, _: &()) -> garde::Result {
    Instant::parse(v).map(|_| ()).map_err(|e| garde::Error::new(e.message()))
}
pub(crate) fn valid_serial(v: &str, _: &()) -> garde::Result {
    let n = sentinel_domain::badge::normalize_serial(v).chars().count();
    if (1..=100).contains(&n) { Ok(()) } else { Err(garde::Error::new("must be 1-100 characters")) }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCheckin {
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub member_id: String,
    /// Must be assigned to the member; default: the member's current badge.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub badge_id: Option<String>,
    /// in | out (case-insensitive, surrounding white space ignored)
    #[garde(custom(valid_direction))]
    #[schema(pattern = r"^\s*([Ii][Nn]|[Oo][Uu][Tt])\s*$")]
    pub direction: String,
    /// 1–50 characters; kiosk keys record their own kiosk id.
    #[garde(length(chars, min = 1, max = 50))]
    #[schema(min_length = 1, max_length = 50)]
    pub kiosk_id: String,
    /// badge | manual | override (default manual for users, badge for kiosks)
    #[garde(inner(custom(valid_method)))]
    #[schema(pattern = "^(badge|manual|override)$")]
    pub method: Option<String>,
    /// Default now.
    #[garde(inner(custom(valid_instant)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub timestamp: Option<String>,
    #[garde(skip)]
    pub flagged_for_review: Option<bool>,
    #[garde(inner(length(chars, max = 255)))]
    #[schema(max_length = 255)]
    pub flag_reason: Option<String>,
    /// Idempotency key (unique per kiosk): a repeated `clientRef` answers the stored check-in.
    #[garde(inner(length(chars, min = 1, max = 100)))]
    #[schema(min_length = 1, max_length = 100)]
    pub client_ref: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkCheckins {
    /// 1–100 items.
    #[garde(length(min = 1, max = 100), dive)]
    #[schema(min_items = 1, max_items = 100)]
    pub checkins: Vec<CreateCheckin>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateCheckin {
    /// in | out (case-insensitive)
    #[garde(inner(custom(valid_direction)))]
    #[schema(pattern = r"^\s*([Ii][Nn]|[Oo][Uu][Tt])\s*$")]
    pub direction: Option<String>,
    #[garde(skip)]
    pub flagged_for_review: Option<bool>,
    /// `null` clears it.
    #[garde(inner(inner(length(chars, max = 255))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub flag_reason: Option<Option<String>>,
    #[garde(inner(custom(valid_instant)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub timestamp: Option<String>,
    /// Stored in the audit row (changes nothing by itself).
    #[garde(inner(length(chars, max = 500)))]
    #[schema(max_length = 500)]
    pub edit_reason: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScanRequest {
    /// The badge serial as read: 1–100 characters once trimmed (ASCII white space) and upper-cased.
    #[garde(custom(valid_serial))]
    #[schema(pattern = r"^[\t\n\v\f\r ]*[^\t\n\v\f\r ]([\s\S]{0,98}[^\t\n\v\f\r ])?[\t\n\v\f\r ]*$")]
    pub serial_number: String,
    /// Kiosk clock (default server now); at most 60 s ahead, at most 7 days old.
    #[garde(inner(custom(valid_instant)))]
    #[schema(schema_with = crate::openapi::optional_instant)]
    pub timestamp: Option<String>,
    /// Staff callers only (default `manual-entry`); kiosk keys record their own.
    #[garde(inner(length(chars, min = 1, max = 50)))]
    #[schema(min_length = 1, max_length = 50)]
    pub kiosk_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncScan {
    /// 1–100 characters once trimmed (ASCII white space) and upper-cased.
    #[garde(custom(valid_serial))]
    #[schema(pattern = r"^[\t\n\v\f\r ]*[^\t\n\v\f\r ]([\s\S]{0,98}[^\t\n\v\f\r ])?[\t\n\v\f\r ]*$")]
    pub serial_number: String,
    /// When the badge was scanned (kiosk clock): an ISO-8601 instant with offset, or a YYYY-MM-DD date,
    /// in the years 0001–9999 (UTC). Any other text is accepted in the body and refused for this item
    /// alone (`success: false`, `error: "Invalid timestamp: …"`); the rest of the batch is stored.
    #[garde(skip)]
    pub timestamp: String,
    /// Idempotency key (unique per kiosk).
    #[garde(inner(length(chars, min = 1, max = 100)))]
    #[schema(min_length = 1, max_length = 100)]
    pub client_ref: Option<String>,
    /// Kiosk clock at upload, epoch milliseconds (a drift over 5 minutes flags the check-in).
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
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<SyncScan>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualCheckout {
    /// 1–500 characters, stored in the audit row.
    #[garde(length(chars, min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

// ------------------------------------------------------------------ helpers

// The refusals every badge scan shares, member scans here and event scans (events.rs).

/// A scan's instant: the kiosk's clock when sent (default now), within the scan window (400 `INVALID_TIMESTAMP`).
pub(crate) fn scan_instant(timestamp: Option<&str>) -> Result<chrono::DateTime<Utc>, ApiError> {
    let now = Utc::now();
    let ts = timestamp.and_then(parse_instant).unwrap_or(now);
    rules::check_scan_timestamp(ts, now).map_err(|problem| ApiError::bad_request("INVALID_TIMESTAMP", problem.message()))?;
    Ok(ts)
}

pub(crate) fn badge_not_found(serial: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "BADGE_NOT_FOUND", format!("Badge '{serial}' not found"))
}

pub(crate) fn badge_inactive(serial: &str, status: &str) -> ApiError {
    ApiError::forbidden("BADGE_INACTIVE", format!("Badge '{serial}' is {status}"))
}

pub(crate) fn badge_unassigned(serial: &str) -> ApiError {
    ApiError::bad_request("BADGE_UNASSIGNED", format!("Badge '{serial}' is not assigned"))
}

/// A badge of another kind than the endpoint checks in (`accepted`: member or event).
pub(crate) fn badge_type_not_supported(serial: &str, assignment_type: &str, accepted: &str) -> ApiError {
    ApiError::bad_request(
        "BADGE_TYPE_NOT_SUPPORTED",
        format!("Badge '{serial}' is assigned to a {assignment_type}; only {accepted} badges check in here"),
    )
}

/// A scan within 2 seconds of the holder's latest one: nothing stored; `details` names that one.
pub(crate) fn duplicate_scan(last_checkin_id: Value, last_timestamp: Value, last_direction: Value) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "DUPLICATE_SCAN", "Duplicate scan: this badge was just scanned").with_details(json!({
        "lastCheckinId": last_checkin_id, "lastTimestamp": last_timestamp, "lastDirection": last_direction,
    }))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Checkin with ID '{id}' not found"))
}

/// An accepted instant in canonical form (validated by garde already).
/// A validated instant as canonical ISO text.
pub(crate) fn canonical(ts: &str) -> String {
    parse_instant(ts).map(format_instant).unwrap_or_default()
}

/// The kiosk id a write records: the key's own for kiosks, else the caller's choice.
pub(crate) fn kiosk_for(ctx: &Ctx, requested: Option<&str>) -> String {
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
    let direction = match query.get("direction").filter(|s| !s.is_empty()) {
        Some(d) => Some(Direction::parse(d).ok_or_else(|| ApiError::invalid("direction", "must be in or out"))?.as_str().to_string()),
        None => None,
    };
    Ok(Filters {
        member: query_uuid(query, "memberId")?,
        division: query_uuid(query, "divisionId")?,
        direction,
        kiosk: query.get("kioskId").filter(|s| !s.is_empty()).cloned(),
        start: query_instant(query, "startDate")?,
        end: query_instant(query, "endDate")?,
        flagged_only: query_flag(query, "flaggedOnly")?,
    })
}

/// One round trip: the filtered total and the requested page, newest first.
/// The `page_statement` row of one page of check-ins; `member_exists` says whether the filtered member
/// exists when `require_member`.
fn checkin_page(ctx: &Ctx, f: Filters, page: PageRequest, require_member: bool) -> Result<sentinel_http::Row, ApiError> {
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
    let sql = crate::listing::page_statement(&mut w, "checkins", "checkins c", page, &format!("{member_exists} AS member_exists, "), |filter, window| {
        format!(
            "SELECT coalesce(jsonb_agg(checkin_json(c, m) ORDER BY c.\"timestamp\" DESC, c.created_at DESC, c.id DESC), '[]'::jsonb)
             FROM (SELECT * FROM checkins c {filter} ORDER BY c.\"timestamp\" DESC, c.created_at DESC, c.id DESC {window}) c
             LEFT JOIN members m ON m.id = c.member_id"
        )
    });
    Ok(ctx.db().query_row(&sql, &w.params)?)
}

// ------------------------------------------------------------------ reads

/// List check-ins
///
/// One page of check-ins, newest first, filtered by member, division, direction, kiosk, a time range
/// (inclusive) and whether they are flagged for review.
#[utoipa::path(get, path = "/api/checkins", tag = "checkins",
    params(crate::openapi::Paging, ("memberId" = Option<String>, Query, format = "uuid"), ("divisionId" = Option<String>, Query, format = "uuid"),
           ("direction" = Option<String>, Query, pattern = r"^\s*([Ii][Nn]|[Oo][Uu][Tt])\s*$", description = "in | out (case-insensitive)"),
           ("kioskId" = Option<String>, Query),
           ("startDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$", description = "ISO-8601 instant or YYYY-MM-DD (inclusive)"),
           ("endDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$", description = "ISO-8601 instant or YYYY-MM-DD (inclusive)"),
           ("flaggedOnly" = Option<bool>, Query)),
    responses((status = 200, body = CheckinList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let page = PageRequest::from_query(ctx.query())?;
    crate::listing::page_reply(&checkin_page(ctx, filters(ctx)?, page, false)?, page, "checkins")
}

/// List a member's check-ins
///
/// One page of one member's check-ins, newest first, with the same filters as the check-in list.
#[utoipa::path(get, path = "/api/members/{id}/checkins", tag = "checkins",
    params(("id" = String, Path, description = "Member UUID"), crate::openapi::Paging, ("divisionId" = Option<String>, Query, format = "uuid"),
           ("direction" = Option<String>, Query, pattern = r"^\s*([Ii][Nn]|[Oo][Uu][Tt])\s*$", description = "in | out (case-insensitive)"),
           ("kioskId" = Option<String>, Query),
           ("startDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$", description = "ISO-8601 instant or YYYY-MM-DD (inclusive)"),
           ("endDate" = Option<String>, Query, pattern = r"^(000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?$", description = "ISO-8601 instant or YYYY-MM-DD (inclusive)"),
           ("flaggedOnly" = Option<bool>, Query)),
    responses((status = 200, body = CheckinList), (status = 404, description = "`NOT_FOUND`: no member has this id")))]
pub fn member_checkins(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let page = PageRequest::from_query(ctx.query())?;
    let mut f = filters(ctx)?;
    f.member = Some(id.clone());
    let row = checkin_page(ctx, f, page, true)?;
    if !row.bool("member_exists") {
        return Err(ApiError::not_found(format!("Member with ID '{id}' not found")));
    }
    crate::listing::page_reply(&row, page, "checkins")
}

/// Get a check-in
///
/// One check-in by id, with its member.
#[utoipa::path(get, path = "/api/checkins/{id}", tag = "checkins", params(("id" = String, Path, description = "Checkin UUID")),
    responses((status = 200, body = Checkin), (status = 404, description = "`NOT_FOUND`: no check-in has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one(
        "SELECT checkin_json(c, m) AS checkin FROM checkins c LEFT JOIN members m ON m.id = c.member_id WHERE c.id = $1::text::uuid",
        &[id.as_str().into()],
    )?;
    ok(row.ok_or_else(|| not_found(&id))?.json("checkin"))
}

/// Count who is present
///
/// Active members present now, in total and per division (every division, by name), and the visitors on site.
#[utoipa::path(get, path = "/api/checkins/presence", tag = "checkins", responses((status = 200, body = Presence)))]
pub fn presence(ctx: &Ctx) -> HandlerResult {
    ok(crate::backfill::presence(ctx.db())?)
}

/// List who is present
///
/// The people on site: present members (latest check-in first, with their tags), then visitors signed in.
#[utoipa::path(get, path = "/api/checkins/presence/people", tag = "checkins", responses((status = 200, body = PresentPeople)))]
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

/// Read the activity feed
///
/// The latest member check-ins merged with visitor sign-ins of the last 24 hours, newest first.
#[utoipa::path(get, path = "/api/checkins/activity", tag = "checkins",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Items, 1–100 (default 10)")),
    responses((status = 200, body = ActivityList)))]
pub fn activity(ctx: &Ctx) -> HandlerResult {
    let limit = match ctx.query().get("limit") {
        None => 10,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(ApiError::invalid("limit", "must be an integer between 1 and 100")),
        },
    };
    ok_json_text(with_json_text_field(&json!({}), "activity", &crate::backfill::activity_json(ctx.db(), limit)?))
}

// ------------------------------------------------------------------ writes

/// A `record_checkin` outcome as the response: the check-in, or the refusal.
fn recorded(outcome: RecordOutcome) -> HandlerResult {
    match outcome {
        RecordOutcome::Ok { checkin, .. } => created(checkin),
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

/// Record a check-in
///
/// Records a check-in or check-out of a member in the given direction (staff correcting the record, or a
/// kiosk). A member holding the Lockup tag cannot check out until it is transferred; a repeated
/// `clientRef` of the same kiosk answers the stored check-in. Presence changes are pushed.
#[utoipa::path(post, path = "/api/checkins", tag = "checkins", request_body = CreateCheckin,
    responses((status = 201, body = Checkin), (status = 400, description = "`BADGE_MEMBER_MISMATCH`: the badge is not assigned to the member"),
              (status = 403, description = "`LOCKUP_HELD`: the member holds the lockup responsibility (`details` lists who could take it over)"),
              (status = 404, description = "`NOT_FOUND`: the member or the badge does not exist"),
              (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
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
    recorded(run(ctx, &call)?)
}

/// Record check-ins in bulk
///
/// Records up to 100 check-ins in one transaction; items that are refused (unknown member or badge,
/// mismatch, Lockup holder checking out) are reported in `errors`, the others stored.
#[utoipa::path(post, path = "/api/checkins/bulk", tag = "checkins", request_body = BulkCheckins,
    responses((status = 201, body = BulkResult), (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
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
    created(json!({ "success": result.success, "failed": result.failed, "errors": result.errors }))
}

/// Scan a badge
///
/// The kiosk flow: the server finds the badge's member, decides the direction (in unless present),
/// stores the check-in and pushes it. A scan of the same badge within 2 seconds is a duplicate and stores
/// nothing; unknown or disabled badges and inactive members raise security alerts.
#[utoipa::path(post, path = "/api/checkins/scan", tag = "checkins", request_body = ScanRequest,
    responses((status = 201, body = ScanResult),
              (status = 400, description = "`INVALID_TIMESTAMP`: more than 60 s ahead or 7 days old; `BADGE_UNASSIGNED`: the badge has no holder; `BADGE_TYPE_NOT_SUPPORTED`: a visitor or event badge"),
              (status = 403, description = "`BADGE_INACTIVE`: the badge is not active; `LOCKUP_HELD`: the member holds the lockup responsibility"),
              (status = 404, description = "`BADGE_NOT_FOUND`: no badge has this serial; `MEMBER_NOT_FOUND`: the badge's member is gone"),
              (status = 409, description = "`DUPLICATE_SCAN`: the same badge within 2 seconds, nothing stored (`details` names the last check-in); `CONFLICT`: a concurrent change won")))]
pub fn scan(ctx: &Ctx) -> HandlerResult {
    let body: ScanRequest = ctx.json()?;
    let ts = scan_instant(body.timestamp.as_deref())?;
    let kiosk = kiosk_for(ctx, body.kiosk_id.as_deref());
    let result = run(ctx, &ScanBadge { serial_number: &body.serial_number, kiosk_id: &kiosk, timestamp: format_instant(ts), actor: Actor::of(ctx) })?;
    let (checkin, member, direction, warning) = match result.outcome {
        ScanOutcome::Ok { checkin, member, direction, warning } => (checkin, member, direction, warning),
        ScanOutcome::BadgeNotFound { serial_number } => return Err(badge_not_found(&serial_number)),
        ScanOutcome::BadgeInactive { serial_number, status } => return Err(badge_inactive(&serial_number, &status)),
        ScanOutcome::BadgeUnassigned { serial_number } => return Err(badge_unassigned(&serial_number)),
        ScanOutcome::BadgeTypeNotSupported { serial_number, assignment_type } => {
            return Err(badge_type_not_supported(&serial_number, &assignment_type, "member"))
        }
        ScanOutcome::MemberNotFound { member_id } => {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "MEMBER_NOT_FOUND", format!("Member '{member_id}' not found")))
        }
        ScanOutcome::DuplicateScan { last_checkin_id, last_timestamp, last_direction } => {
            return Err(duplicate_scan(last_checkin_id, last_timestamp, last_direction))
        }
        ScanOutcome::LockupHeld { details } => return Err(lockup_held(details)),
    };
    let mut body = json!({ "checkin": checkin, "member": member, "direction": direction });
    if let Some(warning) = warning.filter(Value::is_object) {
        body["warning"] = warning;
    }
    created(body)
}

/// Upload offline scans
///
/// A kiosk replays up to 100 scans made while offline: each is stored in timestamp order with the
/// direction the member's history implies (a repeated `clientRef` is a duplicate), and refused ones are
/// reported per item. Clock drift over 5 minutes flags the check-ins for review.
#[utoipa::path(post, path = "/api/checkins/sync", tag = "checkins", request_body = SyncRequest,
    responses((status = 200, body = SyncResult), (status = 409, description = "`CONFLICT`: a concurrent change won twice; retry")))]
pub fn sync(ctx: &Ctx) -> HandlerResult {
    let body: SyncRequest = ctx.json()?;
    let now = Utc::now();
    // An item with an unusable timestamp gets its own error; the others are planned and stored without it,
    // so one bad scan never blocks a kiosk's queue.
    let instants: Vec<Result<Instant, _>> = body.items.iter().map(|i| Instant::parse(&i.timestamp)).collect();
    let valid: Vec<usize> = (0..body.items.len()).filter(|&i| instants[i].is_ok()).collect();
    let plan = rules::plan_sync(
        &valid
            .iter()
            .map(|&i| rules::SyncItem { serial: body.items[i].serial_number.clone(), timestamp: instants[i].expect("valid").utc() })
            .collect::<Vec<_>>(),
    );
    let items: Vec<calls::SyncItem> = valid
        .iter()
        .enumerate()
        .map(|(position, &index)| {
            let item = &body.items[index];
            calls::SyncItem {
                index,
                serial_number: item.serial_number.clone(),
                timestamp: instants[index].expect("valid").iso(),
                client_ref: item.client_ref.clone(),
                drift_reason: rules::clock_drift_reason(item.local_timestamp, now),
                collapsed_into: plan.collapsed_into[position].map(|p| valid[p]),
            }
        })
        .collect();
    let call = SyncScans { kiosk_id: kiosk_for(ctx, None), items, actor: Actor::of(ctx) };
    // Two kiosks replaying overlapping members in opposite orders can deadlock; one retry settles it.
    let result = match run(ctx, &call) {
        Err(e) if e.status == StatusCode::CONFLICT => run(ctx, &call)?,
        other => other?,
    };
    // Merge the refused timestamps back in request order (the SQL answers its items in index order).
    let mut stored = result.results.into_iter();
    let results: Vec<Value> = body
        .items
        .iter()
        .zip(&instants)
        .map(|(item, instant)| match instant {
            Ok(_) => stored.next().unwrap_or(Value::Null),
            Err(e) => json!({ "serialNumber": item.serial_number, "timestamp": item.timestamp, "success": false,
                              "error": format!("Invalid timestamp: {}", e.message()) }),
        })
        .collect();
    let failed = results.iter().filter(|r| r["success"] != json!(true)).count() as i64;
    let processed = results.len() as i64 - failed;
    ok(json!({ "success": failed == 0, "processed": processed, "failed": failed, "results": results }))
}

/// Check a member out by hand
///
/// Duty staff record a forced check-out of a present member with a reason (kept in the audit row).
#[utoipa::path(post, path = "/api/checkins/manual-checkout/{id}", tag = "checkins", params(("id" = String, Path, description = "Member UUID")),
    request_body = ManualCheckout,
    responses((status = 201, body = Checkin), (status = 400, description = "`NOT_CHECKED_IN`: the member is not present"),
              (status = 404, description = "`NOT_FOUND`: no member has this id"), (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
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
    recorded(run(ctx, &call)?)
}

/// Correct a check-in
///
/// Changes the direction, review flag, flag reason or timestamp of a stored check-in (at least one);
/// `editReason` goes to the audit row. Presence is recomputed and pushed.
#[utoipa::path(patch, path = "/api/checkins/{id}", tag = "checkins", params(("id" = String, Path, description = "Checkin UUID")), request_body = UpdateCheckin,
    responses((status = 200, body = Checkin), (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing"),
              (status = 404, description = "`NOT_FOUND`: no check-in has this id"), (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
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
    ok(row.json("checkin"))
}

/// Delete a check-in
///
/// Removes a check-in (audited with its content); presence is recomputed and pushed.
#[utoipa::path(delete, path = "/api/checkins/{id}", tag = "checkins", params(("id" = String, Path, description = "Checkin UUID")),
    responses((status = 200, body = SuccessMessage), (status = 404, description = "`NOT_FOUND`: no check-in has this id"),
              (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
pub fn delete(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let audit = audit::cte("checkin_delete", "checkin", "removed", "id", "jsonb_build_object('before', checkin_json(removed::checkins, NULL) - 'member')", 2);
    let sql = format!("WITH removed AS (DELETE FROM checkins WHERE id = $1::text::uuid RETURNING *), {audit} SELECT id FROM removed");
    let [user, key, ip] = Actor::of(ctx).params();
    ctx.db().query_one(&sql, &[id.as_str().into(), user, key, ip]).map_err(map_db_error)?.ok_or_else(|| not_found(&id))?;
    ok(crate::openapi::to_json(&SuccessMessage { success: true, message: "Checkin deleted successfully".into() }))
}
