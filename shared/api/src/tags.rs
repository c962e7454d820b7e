//! Tags: the Lockup responsibility — its holder and its transfer — and the general tags
//! members hold. The writes are single calls of `lockup_transfer`, `member_tag_add` and `member_tag_remove`
//! (migrations/functions/92_responsibilities.sql, typed in `calls.rs`). A system tag (`isSystem`: Lockup) changes
//! holders only through its own flows — the transfer here and DDS (`crate::dds`) — never through the general
//! member-tag routes (409 `PROTECTED_TAG`). At most one member holds Lockup (database index).

use garde::Validate;
use http::Method;
use sentinel_domain::Role;
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, HandlerResult, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::Actor;
use crate::calls::{run, uuid_text, valid_uuid, LockupOutcome, LockupTransfer, MemberTagChange, MemberTagOutcome};
use crate::checkins::valid_serial;

const QM_KIOSK_DISPLAY: Access = Access::Restricted(&[Allow::User(Role::Quartermaster), Allow::Kiosk, Allow::Display]);
const DW_KIOSK: Access = Access::Restricted(&[Allow::User(Role::DutyWatch), Allow::Kiosk]);

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/tags/lockup/holder", QM_KIOSK_DISPLAY, lockup_holder)
        .route(Method::POST, "/api/tags/lockup/transfer", DW_KIOSK, lockup_transfer)
        .route(Method::GET, "/api/tags", Access::QM, list)
        .route(Method::GET, "/api/members/:memberId/tags", Access::QM, member_tags)
        .route(Method::POST, "/api/members/:memberId/tags", Access::ADM, add_member_tag)
        .route(Method::DELETE, "/api/members/:memberId/tags/:tagId", Access::ADM, remove_member_tag)
}

// ------------------------------------------------------------------ schemas

/// The member holding the Lockup responsibility, built by the database function `lockup_holder_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LockupHolder {
    #[schema(format = "uuid")]
    id: String,
    rank: String,
    first_name: String,
    last_name: String,
}

/// `{holder}`: the Lockup holder, or null (also the `lockup:current` backfill).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct LockupHolderReply {
    holder: Option<LockupHolder>,
}

/// `{success: true, previousHolder, newHolder}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LockupTransferResult {
    success: bool,
    /// Null when nobody held the tag (it was granted); the target itself when it held the tag already.
    previous_holder: Option<LockupHolder>,
    new_holder: LockupHolder,
}

/// A tag, built by the database function `tag_json`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Tag {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    color: String,
    description: Option<String>,
    display_order: i64,
    /// At most one member holds it at a time.
    single_holder: bool,
    /// A system tag (Lockup): changes holders only through its own flow (409 `PROTECTED_TAG` on the member-tag routes).
    is_system: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TagList {
    /// By display order, then name.
    tags: Vec<Tag>,
}

/// A tag a member holds, built by the database function `member_tag_json`: the Tag plus `assignedAt`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MemberTag {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    color: String,
    description: Option<String>,
    display_order: i64,
    single_holder: bool,
    is_system: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// When the member received the tag.
    #[schema(format = DateTime)]
    assigned_at: String,
}

/// `{memberId, tags}`: the member's tags by display order, then name.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MemberTagList {
    #[schema(format = "uuid")]
    member_id: String,
    tags: Vec<MemberTag>,
}

/// `{tag}`: the tag the member holds.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct MemberTagEnvelope {
    tag: MemberTag,
}

// ------------------------------------------------------------------ requests

fn valid_performer_type(v: &str, _: &()) -> garde::Result {
    if matches!(v, "admin" | "member" | "system") { Ok(()) } else { Err(garde::Error::new("must be admin, member or system")) }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransferLockup {
    /// The new holder: an active member.
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub to_member_id: String,
    /// Ignored (kept for compatibility): the performer is the caller — a user as `admin`, a kiosk as `member`, the
    /// member its badge proved.
    #[garde(inner(custom(valid_uuid)))]
    #[schema(format = "uuid")]
    pub performed_by: Option<String>,
    /// Ignored (kept for compatibility): admin | member | system.
    #[garde(inner(custom(valid_performer_type)))]
    #[schema(pattern = "^(admin|member|system)$")]
    pub performed_by_type: Option<String>,
    /// At most 2000 characters.
    #[garde(inner(length(chars, max = 2000)))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// Kiosk keys only, required for them: an active badge of the current holder (of the target when nobody
    /// holds the tag), 1–100 characters once trimmed and upper-cased. Ignored for users.
    #[garde(inner(custom(valid_serial)))]
    #[schema(pattern = r"^[\t\n\v\f\r ]*[^\t\n\v\f\r ]([\s\S]{0,98}[^\t\n\v\f\r ])?[\t\n\v\f\r ]*$")]
    pub actor_badge_serial: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddMemberTag {
    /// An ordinary (not system) tag.
    #[garde(custom(valid_uuid))]
    #[schema(format = "uuid")]
    pub tag_id: String,
}

// ------------------------------------------------------------------ helpers

fn member_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Member with ID '{id}' not found"))
}

fn member_tag_result(outcome: MemberTagOutcome, tag_id: &str) -> Result<(Value, bool), ApiError> {
    match outcome {
        MemberTagOutcome::Ok { tag, changed } => Ok((tag, changed)),
        MemberTagOutcome::MemberNotFound { member_id } => Err(member_not_found(&member_id)),
        MemberTagOutcome::TagNotFound { tag_id } => Err(ApiError::not_found(format!("Tag with ID '{tag_id}' not found"))),
        MemberTagOutcome::ProtectedTag { tag_name } => Err(ApiError::new(
            http::StatusCode::CONFLICT,
            "PROTECTED_TAG",
            format!("Tag '{tag_name}' is a responsibility: it changes holders only through its own flow (POST /api/tags/lockup/transfer, DDS)"),
        )),
        MemberTagOutcome::TagHeld { tag_name } => Err(ApiError::conflict(format!("Tag '{tag_name}' has a single holder, and another member holds it"))),
        MemberTagOutcome::NotHeld { tag_name } => Err(ApiError::not_found(format!("The member does not hold tag '{tag_name}' ({tag_id})"))),
    }
}

// ------------------------------------------------------------------ Lockup

/// Get the Lockup holder
///
/// The member holding the Lockup responsibility (the tag named `Lockup`), or null. The same data as the
/// `lockup:current` backfill of the realtime `lockup` channel.
#[utoipa::path(get, path = "/api/tags/lockup/holder", tag = "tags", responses((status = 200, body = LockupHolderReply)))]
pub fn lockup_holder(ctx: &Ctx) -> HandlerResult {
    ok(crate::backfill::lockup_current(ctx.db())?)
}

/// Transfer the Lockup responsibility
///
/// Gives the Lockup responsibility to another member. Rules in this order: (1) the `Lockup` tag exists (404);
/// (2) the target member exists (404); (3) the target is active (400 `MEMBER_NOT_ACTIVE`); a kiosk proves the
/// current holder with `actorBadgeSerial` (the target when nobody holds it; 403 `BADGE_PROOF_REQUIRED`);
/// (4) the target already holds it: 200, `previousHolder` = `newHolder` = target, nothing written or pushed;
/// (5) nobody holds it: it is granted (`previousHolder` null, responsibility action `assigned`); (6) otherwise it
/// moves atomically from the holder to the target (action `transferred`). `performedBy`/`performedByType` are
/// derived from the caller (a user as `admin`, a kiosk as `member`: the proved member). Steps 5 and 6 write a
/// Lockup responsibility row and an audit row and push `lockup:transferred` (`reason` `granted` or `manual`).
/// Concurrent transfers serialise: one member holds the tag afterwards. A kiosk that sends no
/// `actorBadgeSerial` at all is refused (403) before the rules.
#[utoipa::path(post, path = "/api/tags/lockup/transfer", tag = "tags", request_body = TransferLockup,
    responses((status = 200, body = LockupTransferResult),
              (status = 400, description = "`MEMBER_NOT_ACTIVE`: the target's status is not `active`"),
              (status = 403, description = "`BADGE_PROOF_REQUIRED`: a kiosk sent no `actorBadgeSerial`, or one that is not an active badge of the current holder (of the target when nobody holds the tag)"),
              (status = 404, description = "`NOT_FOUND`: the Lockup tag does not exist, or no member has `toMemberId`"),
              (status = 409, description = "`CONFLICT`: a concurrent change won; retry")))]
pub fn lockup_transfer(ctx: &Ctx) -> HandlerResult {
    let body: TransferLockup = ctx.json()?;
    let serial = crate::proof::actor_badge(ctx, body.actor_badge_serial.as_deref())?;
    let input = LockupTransfer { to_member_id: uuid_text(&body.to_member_id), notes: body.notes, actor_serial: serial, actor: Actor::of(ctx) };
    match run(ctx, &input)? {
        LockupOutcome::Ok { previous_holder, new_holder, .. } => {
            ok(json!({ "success": true, "previousHolder": previous_holder, "newHolder": new_holder }))
        }
        LockupOutcome::TagNotFound => Err(ApiError::not_found("Tag with name Lockup not found")),
        LockupOutcome::MemberNotFound { member_id } => Err(member_not_found(&member_id)),
        LockupOutcome::MemberNotActive { member_id, status } => Err(ApiError::bad_request(
            "MEMBER_NOT_ACTIVE",
            format!("Member '{member_id}' is {status}; only active members can hold the Lockup responsibility"),
        )),
        LockupOutcome::BadgeProofRequired => Err(crate::proof::proof_required()),
    }
}

// ------------------------------------------------------------------ general tags

/// List tags
///
/// Every tag, by display order then name.
#[utoipa::path(get, path = "/api/tags", tag = "tags", responses((status = 200, body = TagList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let row = ctx
        .db()
        .query_one("SELECT coalesce(jsonb_agg(tag_json(t) ORDER BY t.display_order, t.name), '[]'::jsonb) AS tags FROM tags t", &[])?
        .ok_or_else(|| ApiError::internal("tag list returned no row"))?;
    ok(json!({ "tags": row.json("tags") }))
}

/// List a member's tags
///
/// The tags member `memberId` holds, by display order then name.
#[utoipa::path(get, path = "/api/members/{memberId}/tags", tag = "tags", params(("memberId" = String, Path, description = "Member UUID")),
    responses((status = 200, body = MemberTagList), (status = 404, description = "`NOT_FOUND`: no member has this id")))]
pub fn member_tags(ctx: &Ctx) -> HandlerResult {
    let member = ctx.uuid_param("memberId")?;
    const SQL: &str = "
        SELECT coalesce((SELECT jsonb_agg(member_tag_json(mt, t) ORDER BY t.display_order, t.name)
                         FROM member_tags mt JOIN tags t ON t.id = mt.tag_id WHERE mt.member_id = m.id), '[]'::jsonb) AS tags
        FROM members m WHERE m.id = $1::text::uuid";
    let row = ctx.db().query_one(SQL, &[member.as_str().into()])?.ok_or_else(|| member_not_found(&member))?;
    ok(json!({ "memberId": member, "tags": row.json("tags") }))
}

/// Give a member a tag
///
/// Rules in order: the member exists; the tag exists; it is not a system tag (Lockup changes holders only through
/// `POST /api/tags/lockup/transfer` and DDS: 409 `PROTECTED_TAG`); a member already holding it gets 200 with
/// nothing written; a single-holder tag held by another member is refused. 201 when added, with an audit row
/// (`member_tag_add`).
#[utoipa::path(post, path = "/api/members/{memberId}/tags", tag = "tags", params(("memberId" = String, Path, description = "Member UUID")),
    request_body = AddMemberTag,
    responses((status = 201, body = MemberTagEnvelope, description = "The tag was added"),
              (status = 200, body = MemberTagEnvelope, description = "The member held the tag already; nothing changed"),
              (status = 404, description = "`NOT_FOUND`: no member has `memberId`, or no tag has `tagId`"),
              (status = 409, description = "`PROTECTED_TAG`: a system tag (Lockup); `CONFLICT`: a single-holder tag another member holds, or a concurrent change won")))]
pub fn add_member_tag(ctx: &Ctx) -> HandlerResult {
    let member = ctx.uuid_param("memberId")?;
    let body: AddMemberTag = ctx.json()?;
    let tag_id = uuid_text(&body.tag_id);
    let outcome = run(ctx, &MemberTagChange::<true> { member_id: member, tag_id: tag_id.clone(), actor: Actor::of(ctx) })?;
    let (tag, changed) = member_tag_result(outcome, &tag_id)?;
    if changed { created(json!({ "tag": tag })) } else { ok(json!({ "tag": tag })) }
}

/// Take a tag from a member
///
/// Rules in order: the member exists; the tag exists; it is not a system tag (409 `PROTECTED_TAG`); the member
/// holds it. Writes an audit row (`member_tag_remove`).
#[utoipa::path(delete, path = "/api/members/{memberId}/tags/{tagId}", tag = "tags",
    params(("memberId" = String, Path, description = "Member UUID"), ("tagId" = String, Path, description = "Tag UUID")),
    responses((status = 200, body = crate::openapi::SuccessMessage),
              (status = 404, description = "`NOT_FOUND`: no member has `memberId`, no tag has `tagId`, or the member does not hold it"),
              (status = 409, description = "`PROTECTED_TAG`: a system tag (Lockup)")))]
pub fn remove_member_tag(ctx: &Ctx) -> HandlerResult {
    let member = ctx.uuid_param("memberId")?;
    let tag_id = ctx.uuid_param("tagId")?;
    let outcome = run(ctx, &MemberTagChange::<false> { member_id: member, tag_id: tag_id.clone(), actor: Actor::of(ctx) })?;
    let (tag, _) = member_tag_result(outcome, &tag_id)?;
    ok(json!({ "success": true, "message": format!("Tag '{}' removed from the member", tag["name"].as_str().unwrap_or_default()) }))
}
