//! DDS — Duty Day Staff: who holds today's duty. "Today" is the unit's operational day
//! (`ctx.operational_day()`, SQL `operational_date`). The writes are single calls of the functions of
//! `migrations/functions/92_responsibilities.sql` (typed in `calls.rs`): the day's current assignment (at most
//! one, held by the database), the responsibility-audit and audit rows, and the Lockup responsibility, which
//! follows the active DDS in the same transaction, all change together. Kiosks act for a member with a badge
//! proof (`crate::proof`).

use garde::Validate;
use http::Method;
use sentinel_domain::Role;
use sentinel_http::input::query_uuid;
use sentinel_http::{ok, Access, Allow, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::Actor;
use crate::calls::{run, uuid_text, valid_uuid, DdsCall, DdsOutcome, ACCEPT, ASSIGN, RELEASE, SET_TODAY, TRANSFER};
use crate::checkins::valid_serial;

const QM_KIOSK_DISPLAY: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk, Allow::Display]);
const QM_KIOSK: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk]);
const DW_KIOSK: Access = Access::Restricted(&[Allow::Kiosk, Allow::User(Role::DutyWatch)]);

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/dds/current", QM_KIOSK_DISPLAY, current)
        .route(Method::GET, "/api/dds/exists", QM_KIOSK_DISPLAY, exists)
        .route(Method::GET, "/api/dds/audit-log", Access::DW, audit_log)
        .route(Method::GET, "/api/dds/kiosk-state/:memberId", QM_KIOSK, kiosk_state)
        .route(Method::POST, "/api/dds/accept/:id", DW_KIOSK, accept)
        .route(Method::POST, "/api/dds/assign", Access::ADM, assign)
        .route(Method::POST, "/api/dds/transfer", Access::ADM, transfer)
        .route(Method::POST, "/api/dds/release", DW_KIOSK, release)
        .route(Method::POST, "/api/dds/set-today", Access::ADM, set_today)
}

// ------------------------------------------------------------------ schemas

/// The DDS member: `name` is "<firstName> <lastName>", `division` the division's name.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DdsMember {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    rank: String,
    division: Option<String>,
}

/// A DDS assignment, built by the database function `dds_assignment_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DdsAssignment {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = "uuid")]
    member_id: String,
    /// The operational day, as midnight UTC.
    #[schema(format = DateTime)]
    assigned_date: String,
    /// When the member took it (self-accept or admin assignment); null while pending.
    #[schema(format = DateTime)]
    accepted_at: Option<String>,
    /// When it was released or transferred away.
    #[schema(format = DateTime)]
    released_at: Option<String>,
    /// The member it was transferred to.
    #[schema(format = "uuid")]
    transferred_to: Option<String>,
    /// The user who assigned it (null for a self-accept).
    #[schema(format = "uuid")]
    assigned_by: Option<String>,
    #[schema(pattern = "^(pending|active|transferred|released)$")]
    status: String,
    notes: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    member: DdsMember,
    /// Display name of the assigning user.
    assigned_by_admin_name: Option<String>,
}

/// `{assignment}`: today's current (pending or active) assignment, or null (also the `dds:current` backfill).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct CurrentDds {
    assignment: Option<DdsAssignment>,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DdsExists {
    /// Whether today has a current (pending or active) assignment.
    exists: bool,
}

/// A responsibility-audit row, built by the database function `responsibility_log_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ResponsibilityLogEntry {
    #[schema(format = "uuid")]
    id: String,
    /// The subject member.
    #[schema(format = "uuid")]
    member_id: String,
    #[schema(pattern = "^(DDS|Lockup)$")]
    tag_name: String,
    #[schema(pattern = "^(assigned|self_accepted|transferred|released|building_lockup)$")]
    action: String,
    #[schema(format = "uuid")]
    from_member_id: Option<String>,
    #[schema(format = "uuid")]
    to_member_id: Option<String>,
    /// A user id (`admin`) or a member id (`member`); null for `system`.
    #[schema(format = "uuid")]
    performed_by: Option<String>,
    #[schema(pattern = "^(admin|member|system)$")]
    performed_by_type: String,
    #[schema(format = DateTime)]
    timestamp: String,
    notes: Option<String>,
}

/// `{logs, count}`: DDS responsibility-audit rows, newest first; `count` = rows returned.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DdsAuditLog {
    logs: Vec<ResponsibilityLogEntry>,
    count: i64,
}

/// Whether the kiosk should prompt the scanning member to accept DDS.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DdsKioskState {
    /// True when the member may accept now: nobody holds today's DDS and the member is active, or today's
    /// assignment is pending for this member.
    prompt: bool,
    /// `no_dds_today` (prompt), `pending_for_member` (prompt), `member_is_dds` (the member is today's active DDS),
    /// `dds_assigned` (another member holds today's DDS), `member_not_active`.
    #[schema(pattern = "^(no_dds_today|pending_for_member|member_is_dds|dds_assigned|member_not_active)$")]
    reason: String,
    /// Today's current assignment, or null.
    assignment: Option<DdsAssignment>,
}

/// `{success: true, message, assignment}`: today's assignment after the change.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DdsResult {
    success: bool,
    message: String,
    assignment: DdsAssignment,
}

/// `{success: true, message, assignment, replaced}`.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DdsSetTodayResult {
    success: bool,
    message: String,
    /// Today's active assignment, now the member's.
    assignment: DdsAssignment,
    /// The assignment of another member this call closed (status `transferred`), or null.
    replaced: Option<DdsAssignment>,
}

/// `{assignment: null}` after a release.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct DdsReleased {
    /// Always null: today has no current DDS any more.
    #[schema(value_type = Option<Object>)]
    assignment: Option<Value>,
}

// ------------------------------------------------------------------ requests

/// Kiosk keys: `actorBadgeSerial` is the badge the member just scanned (users send none; ignored).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcceptDds {
    /// Kiosk keys only, required for them: an active badge of the accepting member, 1–100 characters once
    /// trimmed and upper-cased. Ignored for users.
    #[garde(inner(custom(valid_serial)))]
    #[schema(pattern = r"^[\t\n\v\f\r ]*[^\t\n\v\f\r ]([\s\S]{0,98}[^\t\n\v\f\r ])?[\t\n\v\f\r ]*$")]
    pub actor_badge_serial: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssignDds {
    /// An active member.
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub member_id: String,
    /// At most 2000 characters.
    #[garde(inner(length(chars, max = 2000)))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransferDds {
    /// An active member other than today's DDS.
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub to_member_id: String,
    /// At most 2000 characters.
    #[garde(inner(length(chars, max = 2000)))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReleaseDds {
    /// At most 2000 characters.
    #[garde(inner(length(chars, max = 2000)))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// Kiosk keys only, required for them: an active badge of today's DDS, 1–100 characters once trimmed and
    /// upper-cased. Ignored for users.
    #[garde(inner(custom(valid_serial)))]
    #[schema(pattern = r"^[\t\n\v\f\r ]*[^\t\n\v\f\r ]([\s\S]{0,98}[^\t\n\v\f\r ])?[\t\n\v\f\r ]*$")]
    pub actor_badge_serial: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetTodayDds {
    /// An active member: today's DDS after the call.
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub member_id: String,
    /// At most 2000 characters.
    #[garde(inner(length(chars, max = 2000)))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

// ------------------------------------------------------------------ helpers

fn member_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Member with ID '{id}' not found"))
}

/// A DDS outcome as the changed assignment (null after a release) and what it closed. Its pushes (`dds:update`,
/// `lockup:transferred` with `dds_handoff`) are written by the database with the change (docs/database.md).
fn dds_result(outcome: DdsOutcome) -> Result<(Value, Value), ApiError> {
    match outcome {
        DdsOutcome::Ok { assignment, replaced, .. } => Ok((assignment.unwrap_or(Value::Null), replaced.unwrap_or(Value::Null))),
        DdsOutcome::MemberNotFound { member_id } => Err(member_not_found(&member_id)),
        DdsOutcome::MemberNotActive { member_id, status } => Err(ApiError::bad_request(
            "MEMBER_NOT_ACTIVE",
            format!("Member '{member_id}' is {status}; only active members can hold DDS"),
        )),
        DdsOutcome::BadgeProofRequired => Err(crate::proof::proof_required()),
        DdsOutcome::AlreadyAssigned => Err(ApiError::conflict("A DDS has already been assigned for today")),
        DdsOutcome::NoCurrent => Err(ApiError::not_found("DDS Assignment for today not found")),
        DdsOutcome::SameMember => Err(ApiError::invalid("toMemberId", "Cannot transfer DDS to the same member")),
    }
}

fn call<const A: u8>(ctx: &Ctx, member_id: Option<String>, notes: Option<String>, actor_serial: Option<String>) -> Result<(Value, Value), ApiError> {
    let day = ctx.operational_day()?;
    let input = DdsCall::<A> {
        member_id,
        notes,
        actor_serial,
        zone: day.zone.clone(),
        rollover: day.rollover_interval(),
        actor: Actor::of(ctx),
    };
    dds_result(run(ctx, &input)?)
}

// ------------------------------------------------------------------ reads

/// Get today's DDS
///
/// Today's (operational day) current assignment — pending or active, newest first — or null. The same data as
/// the `dds:current` backfill of the realtime `dds` channel.
#[utoipa::path(get, path = "/api/dds/current", tag = "dds", responses((status = 200, body = CurrentDds)))]
pub fn current(ctx: &Ctx) -> HandlerResult {
    ok(crate::backfill::current_dds(ctx.db(), &ctx.operational_day()?)?)
}

/// Whether today has a DDS
///
/// True when today's operational day has a current (pending or active) assignment.
#[utoipa::path(get, path = "/api/dds/exists", tag = "dds", responses((status = 200, body = DdsExists)))]
pub fn exists(ctx: &Ctx) -> HandlerResult {
    let day = ctx.operational_day()?;
    let row = ctx
        .db()
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM dds_current(operational_date(now(), $1::text, $2::text::interval))) AS found",
            &[day.zone.as_str().into(), day.rollover_interval().into()],
        )?
        .ok_or_else(|| ApiError::internal("dds exists returned no row"))?;
    ok(json!({ "exists": row.bool("found") }))
}

/// List the DDS responsibility history
///
/// DDS rows of the responsibility-audit log (accepted, assigned, transferred, released), newest first; `memberId`
/// matches the subject, the previous or the new holder.
#[utoipa::path(get, path = "/api/dds/audit-log", tag = "dds",
    params(("memberId" = Option<String>, Query, format = "uuid", description = "Rows where this member is the subject, the previous or the new holder"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Rows, 1–100 (default 50)")),
    responses((status = 200, body = DdsAuditLog)))]
pub fn audit_log(ctx: &Ctx) -> HandlerResult {
    let query = ctx.query();
    let member = query_uuid(query, "memberId")?;
    let limit = match query.get("limit") {
        None => 50,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(ApiError::invalid("limit", "must be an integer between 1 and 100")),
        },
    };
    let mut w = crate::listing::Where::default();
    w.when("r.tag_name = 'DDS'");
    w.bind_some("{}::text::uuid IN (r.member_id, r.from_member_id, r.to_member_id)", member);
    let filter = w.where_sql();
    let limit = w.placeholder(limit);
    let sql = format!(
        "SELECT coalesce(jsonb_agg(responsibility_log_json(r) ORDER BY r.\"timestamp\" DESC, r.id DESC), '[]'::jsonb) AS logs
         FROM (SELECT * FROM responsibility_audit_log r {filter} ORDER BY r.\"timestamp\" DESC, r.id DESC LIMIT {limit}) r"
    );
    let row = ctx.db().query_row(&sql, &w.params)?;
    let logs = row.json("logs");
    let count = logs.as_array().map_or(0, Vec::len);
    ok(json!({ "logs": logs, "count": count }))
}

/// Should the kiosk prompt this member to accept DDS
///
/// For the member who just scanned at a kiosk: `prompt` is true when today has no current DDS and the member is
/// active (`no_dds_today`), or when today's assignment is pending for this member (`pending_for_member`);
/// otherwise false with the reason (`member_is_dds`, `dds_assigned`, `member_not_active`). Accepting is
/// `POST /api/dds/accept/{id}`.
#[utoipa::path(get, path = "/api/dds/kiosk-state/{memberId}", tag = "dds", params(("memberId" = String, Path, description = "Member UUID")),
    responses((status = 200, body = DdsKioskState), (status = 404, description = "`NOT_FOUND`: no member has this id")))]
pub fn kiosk_state(ctx: &Ctx) -> HandlerResult {
    let member = ctx.uuid_param("memberId")?;
    let day = ctx.operational_day()?;
    const SQL: &str = "
        SELECT m.status = 'active' AS active, c.member_id = m.id AS own, c.status AS current_status,
               dds_assignment_json(c) AS assignment, c.id IS NOT NULL AS has_current
        FROM members m
        LEFT JOIN dds_current(operational_date(now(), $2::text, $3::text::interval)) c ON true
        WHERE m.id = $1::text::uuid";
    let row = ctx
        .db()
        .query_one(SQL, &[member.as_str().into(), day.zone.as_str().into(), day.rollover_interval().into()])?
        .ok_or_else(|| member_not_found(&member))?;
    let (active, has_current) = (row.bool("active"), row.bool("has_current"));
    let own = has_current && row.bool("own");
    let (prompt, reason) = match (has_current, own, row.text("current_status").as_deref()) {
        (true, true, Some("active")) => (false, "member_is_dds"),
        (true, true, _) if active => (true, "pending_for_member"),
        (true, false, _) => (false, "dds_assigned"),
        (false, _, _) if active => (true, "no_dds_today"),
        _ => (false, "member_not_active"),
    };
    let assignment = if has_current { row.json("assignment") } else { Value::Null };
    ok(json!({ "prompt": prompt, "reason": reason, "assignment": assignment }))
}

// ------------------------------------------------------------------ writes

/// Accept today's DDS
///
/// Member `id` takes today's Duty Day Staff, normally at the kiosk right after scanning. Rules in order: the member
/// exists; a kiosk proves the member with `actorBadgeSerial` (an active badge of that member); the member is
/// active; then, if today's current assignment is already this member's and active, nothing changes (200,
/// idempotent, nothing pushed); if it is pending for this member it becomes active; if another member holds it,
/// 409; otherwise a new active assignment is created (`acceptedAt` now, no `assignedBy`). The member receives the
/// Lockup responsibility in the same transaction (granted when nobody holds it). Writes a `self_accepted` DDS
/// responsibility row (performed by the user, or by the member at a kiosk) and an audit row; pushes `dds:update`
/// (`accepted`) and, when the Lockup moved, `lockup:transferred` (`dds_handoff`). A kiosk that sends no
/// `actorBadgeSerial` at all is refused (403) before the rules.
#[utoipa::path(post, path = "/api/dds/accept/{id}", tag = "dds", params(("id" = String, Path, description = "Member UUID")), request_body = AcceptDds,
    responses((status = 200, body = DdsResult),
              (status = 400, description = "`MEMBER_NOT_ACTIVE`: the member's status is not `active`"),
              (status = 403, description = "`BADGE_PROOF_REQUIRED`: a kiosk sent no `actorBadgeSerial`, or one that is not an active badge of the member"),
              (status = 404, description = "`NOT_FOUND`: no member has this id"),
              (status = 409, description = "`CONFLICT`: another member holds today's DDS (or won a concurrent accept or assignment)")))]
pub fn accept(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: AcceptDds = ctx.json()?;
    let serial = crate::proof::actor_badge(ctx, body.actor_badge_serial.as_deref())?;
    let (assignment, _) = call::<ACCEPT>(ctx, Some(id), None, serial)?;
    ok(json!({ "success": true, "message": "DDS accepted successfully", "assignment": assignment }))
}

/// Assign today's DDS
///
/// An administrator makes an active member today's DDS. Rules in order: the member exists; is active; today has
/// no current (pending or active) assignment. Creates an active assignment (`acceptedAt` now, `assignedBy` the
/// caller, `notes`) and gives the member the Lockup responsibility in the same transaction. Writes an `assigned`
/// DDS responsibility row and an audit row; pushes `dds:update` (`assigned`) and, when the Lockup moved,
/// `lockup:transferred` (`dds_handoff`).
#[utoipa::path(post, path = "/api/dds/assign", tag = "dds", request_body = AssignDds,
    responses((status = 200, body = DdsResult),
              (status = 400, description = "`MEMBER_NOT_ACTIVE`: the member's status is not `active`"),
              (status = 404, description = "`NOT_FOUND`: no member has `memberId`"),
              (status = 409, description = "`CONFLICT`: today already has a DDS (or a concurrent accept or assignment won)")))]
pub fn assign(ctx: &Ctx) -> HandlerResult {
    let body: AssignDds = ctx.json()?;
    let (assignment, _) = call::<ASSIGN>(ctx, Some(uuid_text(&body.member_id)), body.notes, None)?;
    ok(json!({ "success": true, "message": "DDS assigned successfully", "assignment": assignment }))
}

/// Transfer today's DDS
///
/// Passes today's DDS to another active member. Rules in order: the target exists; is active; today has a current
/// assignment; it is not already the target's. Atomically the current assignment becomes `transferred`
/// (`transferredTo`, `releasedAt` now), a new active assignment opens for the target (`assignedBy` the caller,
/// `notes`) and the Lockup responsibility follows. History rows are never edited otherwise. Writes a
/// `transferred` DDS responsibility row and an audit row; pushes `dds:update` (`transferred`) and, when the Lockup
/// moved, `lockup:transferred` (`dds_handoff`).
#[utoipa::path(post, path = "/api/dds/transfer", tag = "dds", request_body = TransferDds,
    responses((status = 200, body = DdsResult),
              (status = 400, description = "`MEMBER_NOT_ACTIVE`: the target's status is not `active`; `VALIDATION_ERROR`: the target already holds today's DDS"),
              (status = 404, description = "`NOT_FOUND`: no member has `toMemberId`, or today has no current DDS"),
              (status = 409, description = "`CONFLICT`: a concurrent change of today's DDS won; retry")))]
pub fn transfer(ctx: &Ctx) -> HandlerResult {
    let body: TransferDds = ctx.json()?;
    let (assignment, _) = call::<TRANSFER>(ctx, Some(uuid_text(&body.to_member_id)), body.notes, None)?;
    ok(json!({ "success": true, "message": "DDS transferred successfully", "assignment": assignment }))
}

/// Release today's DDS
///
/// Ends today's DDS: the current assignment becomes `released` (`releasedAt` now). Rules in order: today has a
/// current assignment; a kiosk proves today's DDS member with `actorBadgeSerial`. The Lockup responsibility stays
/// where it is. Writes a `released` DDS responsibility row (performed by the user as `admin`, or by the DDS member
/// at a kiosk) and an audit row; pushes `dds:update` (`released`, `assignment` null). A kiosk that sends no
/// `actorBadgeSerial` at all is refused (403) before the rules.
#[utoipa::path(post, path = "/api/dds/release", tag = "dds", request_body = ReleaseDds,
    responses((status = 200, body = DdsReleased),
              (status = 403, description = "`BADGE_PROOF_REQUIRED`: a kiosk sent no `actorBadgeSerial`, or one that is not an active badge of today's DDS"),
              (status = 404, description = "`NOT_FOUND`: today has no current DDS"),
              (status = 409, description = "`CONFLICT`: a concurrent change of today's DDS won; retry")))]
pub fn release(ctx: &Ctx) -> HandlerResult {
    let body: ReleaseDds = ctx.json()?;
    let serial = crate::proof::actor_badge(ctx, body.actor_badge_serial.as_deref())?;
    call::<RELEASE>(ctx, None, body.notes, serial)?;
    ok(json!({ "assignment": null }))
}

/// Replace today's DDS
///
/// An administrator makes an active member today's DDS whatever the current state. Rules in order: the member
/// exists; is active; then: if today's current assignment is already the member's and active, nothing changes
/// (200, nothing pushed, `replaced` null); if it is pending for the member it becomes active (`acceptedAt` now;
/// `dds:update` `assigned`); if another member holds it, that assignment closes as `transferred` to the member
/// (`transferredTo`, `releasedAt` now; returned as `replaced`) and a new active assignment opens (`assignedBy` the
/// caller, `notes`; `dds:update` `transferred`); with no current assignment a new active one opens (`dds:update`
/// `assigned`). The Lockup responsibility follows in the same transaction (`lockup:transferred`, `dds_handoff`,
/// when it moved). Writes a DDS responsibility row (`assigned` or `transferred`) and an audit row
/// (`dds_set_today`).
#[utoipa::path(post, path = "/api/dds/set-today", tag = "dds", request_body = SetTodayDds,
    responses((status = 200, body = DdsSetTodayResult),
              (status = 400, description = "`MEMBER_NOT_ACTIVE`: the member's status is not `active`"),
              (status = 404, description = "`NOT_FOUND`: no member has `memberId`"),
              (status = 409, description = "`CONFLICT`: a concurrent change of today's DDS won; retry")))]
pub fn set_today(ctx: &Ctx) -> HandlerResult {
    let body: SetTodayDds = ctx.json()?;
    let (assignment, replaced) = call::<SET_TODAY>(ctx, Some(uuid_text(&body.member_id)), body.notes, None)?;
    ok(json!({ "success": true, "message": "DDS set for today", "assignment": assignment, "replaced": replaced }))
}
