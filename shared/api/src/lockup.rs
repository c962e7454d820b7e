//! Lockup: who is still inside, who may lock up, the lockup itself, and the building's status per
//! operational day. Writes go through the SQL functions of `migrations/functions/94_lockup.sql`
//! (typed in `calls.rs`); authority is holding the `Lockup` tag (docs/database.md, "Lockup").

use garde::Validate;
use http::{Method, StatusCode};
use sentinel_domain::Role;
use sentinel_http::pagination::PageRequest;
use sentinel_http::{ok, Access, Allow, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::Actor;
use crate::calls::{run, BuildingOpen, BuildingOpenOutcome, LockupExecute, LockupExecuteOutcome};
use crate::proof::{actor_badge, proof_required};

const QM_OR_KIOSK: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk]);
const QM_KIOSK_DISPLAY: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk, Allow::Display]);
const KIOSK_OR_DW: Access = Access::Restricted(&[Allow::Kiosk, Allow::User(Role::DutyWatch)]);

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/lockup/present", QM_OR_KIOSK, present)
        .route(Method::GET, "/api/lockup/check-auth/:id", QM_OR_KIOSK, check_auth)
        .route(Method::POST, "/api/lockup/execute/:id", KIOSK_OR_DW, execute)
        .route(Method::GET, "/api/lockup/status", QM_KIOSK_DISPLAY, status_today)
        .route(Method::GET, "/api/lockup/status/:date", Access::QM, status_of_day)
        .route(Method::GET, "/api/lockup/history", Access::DW, history)
        .route(Method::GET, "/api/lockup/checkout-options/:memberId", QM_OR_KIOSK, checkout_options)
        .route(Method::POST, "/api/lockup/open/:memberId", KIOSK_OR_DW, open)
}

// ------------------------------------------------------------------ response objects

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PresentMember {
    #[schema(format = "uuid")]
    id: String,
    first_name: String,
    last_name: String,
    rank: String,
    /// Division name.
    division: Option<String>,
    #[schema(format = "uuid")]
    division_id: Option<String>,
    member_type: String,
    /// Not tracked by Sentinel: always null.
    mess: Option<String>,
    /// When their latest `in` was recorded.
    #[schema(format = DateTime)]
    checked_in_at: String,
    kiosk_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PresentVisitor {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    /// "Unknown" when none was given.
    organization: String,
    visit_type: String,
    #[schema(format = DateTime)]
    check_in_time: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PresentList {
    members: Vec<PresentMember>,
    visitors: Vec<PresentVisitor>,
    /// Members plus visitors.
    total_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct LockupAuthorization {
    authorized: bool,
    message: String,
}

/// The building on one operational day. A day nobody opened is `secured`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct BuildingStatus {
    /// The operational day (midnight UTC of the date).
    #[schema(format = DateTime)]
    date: String,
    /// open | locking_up | secured
    #[schema(pattern = "^(open|locking_up|secured)$")]
    building_status: String,
    #[schema(format = DateTime)]
    opened_at: Option<String>,
    /// The member who opened the building.
    #[schema(format = "uuid")]
    opened_by: Option<String>,
    #[schema(format = DateTime)]
    secured_at: Option<String>,
    /// The member who executed the lockup.
    #[schema(format = "uuid")]
    secured_by: Option<String>,
    #[schema(format = "uuid")]
    lockup_execution_id: Option<String>,
    /// The Lockup holder now (not per day).
    current_holder: Option<crate::tags::LockupHolder>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CheckedOutIds {
    members: Vec<String>,
    visitors: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LockupStats {
    members_checked_out: i64,
    visitors_checked_out: i64,
    total_checked_out: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LockupResult {
    success: bool,
    message: String,
    checked_out: CheckedOutIds,
    /// The responsibility-audit row of this lockup.
    #[schema(format = "uuid")]
    audit_log_id: String,
    /// The LockupExecution record.
    #[schema(format = "uuid")]
    execution_id: String,
    stats: LockupStats,
}

/// One person checked out by a lockup.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct CheckedOutPerson {
    #[schema(format = "uuid")]
    id: String,
    name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LockupExecution {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    executed_by: String,
    executed_by_name: Option<String>,
    #[schema(format = DateTime)]
    executed_at: String,
    #[schema(format = DateTime)]
    operational_date: String,
    members_checked_out: Vec<CheckedOutPerson>,
    visitors_checked_out: Vec<CheckedOutPerson>,
    total_checked_out: i64,
    notes: Option<String>,
    #[schema(format = "uuid")]
    audit_log_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LockupHistory {
    executions: Vec<LockupExecution>,
    total: i64,
    page: i64,
    limit: i64,
    total_pages: i64,
}

/// What a member can do to leave: anyone checks out; the Lockup holder transfers the responsibility to a
/// present member or executes the lockup.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CheckoutOptions {
    #[schema(format = "uuid")]
    member_id: String,
    holds_lockup: bool,
    /// checkout | transfer_lockup | execute_lockup
    available_options: Vec<String>,
    /// Present active members other than the holder (at most 50), by name.
    eligible_recipients: Vec<crate::tags::LockupHolder>,
}

// ------------------------------------------------------------------ requests

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecuteLockup {
    /// Replaces the default note of the responsibility-audit row.
    #[garde(inner(length(chars, max = 500)))]
    #[schema(max_length = 500)]
    pub note: Option<String>,
    /// Kiosk keys only, and then required: the badge the Lockup holder just scanned.
    #[garde(inner(length(chars, min = 1, max = 100)))]
    #[schema(min_length = 1, max_length = 100)]
    pub actor_badge_serial: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenBuilding {
    /// Kiosk keys only, and then required: the badge the opening member just scanned.
    #[garde(inner(length(chars, min = 1, max = 100)))]
    #[schema(min_length = 1, max_length = 100)]
    pub actor_badge_serial: Option<String>,
}

fn member_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Member with ID '{id}' not found"))
}

// ------------------------------------------------------------------ handlers

/// List who is inside
///
/// Present members (latest check-in first) and visitors on site: who a lockup would check out.
#[utoipa::path(get, path = "/api/lockup/present", tag = "lockup", responses((status = 200, body = PresentList)))]
pub fn present(ctx: &Ctx) -> HandlerResult {
    let sql = "SELECT jsonb_build_object(
            'members', coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'id', m.id, 'firstName', m.first_name, 'lastName', m.last_name, 'rank', m.rank,
                    'division', d.name, 'divisionId', m.division_id, 'memberType', m.member_type, 'mess', NULL,
                    'checkedInAt', iso(pm.since), 'kioskId', c.kiosk_id) ORDER BY pm.since DESC, m.id)
                FROM present_members pm JOIN members m ON m.id = pm.member_id
                LEFT JOIN divisions d ON d.id = m.division_id
                LEFT JOIN checkins c ON c.id = pm.last_checkin_id), '[]'::jsonb),
            'visitors', coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'id', v.id, 'name', v.name, 'organization', coalesce(v.organization, 'Unknown'),
                    'visitType', v.visit_type, 'checkInTime', iso(v.check_in_time)) ORDER BY v.check_in_time DESC, v.id)
                FROM visitors v WHERE v.check_out_time IS NULL), '[]'::jsonb)) AS present";
    let mut present = ctx.db().query_row(sql, &[])?.json("present");
    let total = present["members"].as_array().map_or(0, Vec::len) + present["visitors"].as_array().map_or(0, Vec::len);
    present["totalCount"] = json!(total);
    ok(present)
}

/// Check lockup authority
///
/// Whether the member holds the Lockup responsibility and so may execute the lockup.
#[utoipa::path(get, path = "/api/lockup/check-auth/{id}", tag = "lockup", params(("id" = String, Path, description = "Member UUID")),
    responses((status = 200, body = LockupAuthorization), (status = 404, description = "`NOT_FOUND`: no member has this id")))]
pub fn check_auth(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one("SELECT holds_lockup(m.id) AS holds FROM members m WHERE m.id = $1::text::uuid", &[id.as_str().into()])?;
    let (authorized, message) = if row.ok_or_else(|| member_not_found(&id))?.bool("holds") {
        (true, "Member is authorized to perform lockup")
    } else {
        (false, "Member does not have the Lockup tag")
    };
    ok(json!({ "authorized": authorized, "message": message }))
}

/// Execute the lockup
///
/// The Lockup holder empties the building in one transaction: every present member (badge-less ones too;
/// the holder last) is checked out with method `lockup`, every visitor on site signed out (temporary badges
/// return to the pool), a LockupExecution is recorded and the day's building status becomes `secured`.
/// Pushes one `checkin:new` per member, one `visitor:signout` per visitor, `lockup:executed`,
/// `lockup:status`, then one `presence:update`. A kiosk must send the holder's `actorBadgeSerial`.
#[utoipa::path(post, path = "/api/lockup/execute/{id}", tag = "lockup", params(("id" = String, Path, description = "The Lockup holder's member UUID")),
    request_body(content = ExecuteLockup, description = "Optional"),
    responses((status = 200, body = LockupResult),
              (status = 403, description = "`LOCKUP_NOT_AUTHORIZED`: the member does not hold the Lockup responsibility; `BADGE_PROOF_REQUIRED`: a kiosk sent no badge of this member"),
              (status = 404, description = "`NOT_FOUND`: no member has this id"),
              (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
pub fn execute(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: ExecuteLockup = ctx.json()?; // an absent body reads as {}
    let actor_serial = actor_badge(ctx, body.actor_badge_serial.as_deref())?;
    let day = ctx.operational_day()?;
    let call = LockupExecute {
        member_id: id.clone(),
        actor_serial,
        note: body.note,
        zone: day.zone.clone(),
        rollover: day.rollover_interval(),
        actor: Actor::of(ctx),
    };
    match run(ctx, &call)? {
        LockupExecuteOutcome::Ok { result } => ok(result),
        LockupExecuteOutcome::NotFound => Err(member_not_found(&id)),
        LockupExecuteOutcome::BadgeProofRequired => Err(proof_required()),
        LockupExecuteOutcome::NotAuthorized => Err(ApiError::forbidden("LOCKUP_NOT_AUTHORIZED", "Member is not authorized to perform lockup")),
    }
}

fn building_status(ctx: &Ctx, day_sql: &str, params: &[sentinel_http::SqlParam]) -> HandlerResult {
    let row = ctx.db().query_row(&format!("SELECT building_status_json({day_sql}) AS status"), params)?;
    ok(row.json("status"))
}

/// Building status today
///
/// The building's status on the current operational day (open, or secured by a lockup or never opened)
/// and the Lockup holder.
#[utoipa::path(get, path = "/api/lockup/status", tag = "lockup", responses((status = 200, body = BuildingStatus)))]
pub fn status_today(ctx: &Ctx) -> HandlerResult {
    let day = ctx.operational_day()?;
    building_status(ctx, "operational_date(now(), $1, $2::text::interval)", &[day.zone.as_str().into(), day.rollover_interval().into()])
}

/// Building status of a day
///
/// The building's status on one operational day, `YYYY-MM-DD`.
#[utoipa::path(get, path = "/api/lockup/status/{date}", tag = "lockup",
    params(("date" = String, Path, format = Date, description = "Operational day, YYYY-MM-DD")),
    responses((status = 200, body = BuildingStatus)))]
pub fn status_of_day(ctx: &Ctx) -> HandlerResult {
    let date = chrono::NaiveDate::parse_from_str(ctx.param("date"), "%Y-%m-%d")
        .ok()
        .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| ApiError::invalid("date", "must be a YYYY-MM-DD date"))?;
    building_status(ctx, "$1::text::date", &[date.to_string().into()])
}

/// Lockup history
///
/// Lockup executions, newest first: who locked up, when, and whom it checked out.
#[utoipa::path(get, path = "/api/lockup/history", tag = "lockup", params(crate::openapi::Paging),
    responses((status = 200, body = LockupHistory)))]
pub fn history(ctx: &Ctx) -> HandlerResult {
    let page = PageRequest::from_query(ctx.query())?;
    let sql = "WITH total AS (SELECT count(*) AS total FROM lockup_executions)
         SELECT total.total, page.execution FROM total LEFT JOIN LATERAL (
            SELECT jsonb_build_object(
                'id', x.id, 'executedBy', x.executed_by, 'executedByName', m.first_name || ' ' || m.last_name,
                'executedAt', iso(x.executed_at), 'operationalDate', iso_date(x.operational_date),
                'membersCheckedOut', x.members_checked_out, 'visitorsCheckedOut', x.visitors_checked_out,
                'totalCheckedOut', x.total_checked_out, 'notes', x.notes, 'auditLogId', x.audit_log_id) AS execution
            FROM (SELECT * FROM lockup_executions ORDER BY executed_at DESC, id LIMIT $1 OFFSET $2) x
            LEFT JOIN members m ON m.id = x.executed_by
            ORDER BY x.executed_at DESC, x.id
         ) page ON true";
    let rows = ctx.db().query(sql, &[page.limit.into(), page.offset().into()])?;
    let total = rows.first().map(|r| r.int("total")).unwrap_or(0);
    let executions: Vec<Value> = rows.iter().map(|r| r.json("execution")).filter(|e| !e.is_null()).collect();
    ok(page.wrap(json!({ "executions": executions }), total))
}

/// Checkout options
///
/// What the member can do to leave. Anyone checks out; the Lockup holder (refused a plain checkout with
/// `LOCKUP_HELD`) can transfer the responsibility to one of the eligible present members or execute the
/// lockup.
#[utoipa::path(get, path = "/api/lockup/checkout-options/{memberId}", tag = "lockup",
    params(("memberId" = String, Path, description = "Member UUID")),
    responses((status = 200, body = CheckoutOptions), (status = 404, description = "`NOT_FOUND`: no member has this id")))]
pub fn checkout_options(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("memberId")?;
    let sql = "SELECT CASE WHEN holds_lockup(m.id) THEN lockup_held_details(m.id)
                           ELSE jsonb_build_object('holdsLockup', false, 'availableOptions', '[\"checkout\"]'::jsonb,
                                                   'eligibleRecipients', '[]'::jsonb) END
                      || jsonb_build_object('memberId', m.id) AS options
               FROM members m WHERE m.id = $1::text::uuid";
    let row = ctx.db().query_one(sql, &[id.as_str().into()])?;
    ok(row.ok_or_else(|| member_not_found(&id))?.json("options"))
}

/// Open the building
///
/// A present, active member opens the building for the operational day (the first one in, usually).
/// Pushes `lockup:status`. A kiosk must send the member's `actorBadgeSerial`.
#[utoipa::path(post, path = "/api/lockup/open/{memberId}", tag = "lockup", params(("memberId" = String, Path, description = "Member UUID")),
    request_body(content = OpenBuilding, description = "Optional"),
    responses((status = 200, body = BuildingStatus),
              (status = 400, description = "`MEMBER_NOT_ACTIVE`: the member is not active; `NOT_CHECKED_IN`: the member is not inside"),
              (status = 403, description = "`BADGE_PROOF_REQUIRED`: a kiosk sent no badge of this member"),
              (status = 404, description = "`NOT_FOUND`: no member has this id"),
              (status = 409, description = "`ALREADY_OPEN`: the building is open today (`details` holds its status); `CONFLICT`: a concurrent change won")))]
pub fn open(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("memberId")?;
    let body: OpenBuilding = ctx.json()?;
    let actor_serial = actor_badge(ctx, body.actor_badge_serial.as_deref())?;
    let day = ctx.operational_day()?;
    let call = BuildingOpen { member_id: id.clone(), actor_serial, zone: day.zone.clone(), rollover: day.rollover_interval(), actor: Actor::of(ctx) };
    match run(ctx, &call)? {
        BuildingOpenOutcome::Ok { status } => ok(status),
        BuildingOpenOutcome::NotFound => Err(member_not_found(&id)),
        BuildingOpenOutcome::BadgeProofRequired => Err(proof_required()),
        BuildingOpenOutcome::MemberNotActive { status } => {
            Err(ApiError::bad_request("MEMBER_NOT_ACTIVE", format!("Member is {status}; only active members open the building")))
        }
        BuildingOpenOutcome::NotCheckedIn => Err(ApiError::bad_request("NOT_CHECKED_IN", "Member is not checked in")),
        BuildingOpenOutcome::AlreadyOpen { status } => {
            Err(ApiError::new(StatusCode::CONFLICT, "ALREADY_OPEN", "The building is already open today").with_details(status))
        }
    }
}
