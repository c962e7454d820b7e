//! User administration and session management.
//!
//! The role guard (rule 1) depends on the target's current role, so it is
//! part of each statement's WHERE clause; when a statement changes nothing,
//! the row it read tells which rule refused it. Rule 3 (the last active
//! developer) locks the active developers' rows so two concurrent requests
//! cannot each remove "the other" developer.

use garde::Validate;
use http::Method;
use sentinel_domain::{Issues, Role};
use sentinel_http::db::Row;
use sentinel_http::input::{double_option, query_flag, query_uuid};
use sentinel_http::{created, ok, Access, ApiError, Ctx, DbError, HandlerResult, Principal, Router, SqlParam};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::openapi::Message;

pub fn routes(router: Router) -> Router {
    router
        .route(Method::GET, "/api/admin/users", Access::ADM, list)
        .route(Method::GET, "/api/admin/users/:id", Access::ADM, get)
        .route(Method::POST, "/api/admin/users", Access::ADM, create)
        .route(Method::PATCH, "/api/admin/users/:id", Access::DW, update)
        .route(Method::DELETE, "/api/admin/users/:id", Access::ADM, delete)
        .route(Method::POST, "/api/admin/users/:id/reset-password", Access::ADM, reset_password)
        .route(Method::POST, "/api/admin/users/:id/disable", Access::ADM, disable)
        .route(Method::POST, "/api/admin/users/:id/enable", Access::ADM, enable)
        .route(Method::GET, "/api/admin/sessions", Access::ADM, list_sessions)
        .route(Method::DELETE, "/api/admin/sessions/:id", Access::ADM, revoke_session)
}

/// A user account as returned by the API — never the password hash.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[schema(format = "uuid")]
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[schema(value_type = UserRole)]
    pub role: String,
    #[schema(format = "uuid")]
    pub member_id: Option<String>,
    pub disabled: bool,
    #[schema(format = DateTime)]
    pub disabled_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_login_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A staff role, lowest to highest: quartermaster < duty_watch < executive < admin < developer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum UserRole {
    Quartermaster,
    DutyWatch,
    Executive,
    Admin,
    Developer,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserEnvelope {
    pub user: User,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OffsetPagination {
    pub limit: i64,
    pub offset: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
    pub pagination: OffsetPagination,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateUser {
    /// 3–255 characters, an e-mail address; unique.
    #[garde(length(chars, min = 3, max = 255), email)]
    #[schema(min_length = 3, max_length = 255, format = "email")]
    pub email: String,
    /// 12–128 characters with an upper- and a lower-case letter, a digit and a symbol.
    #[garde(length(chars, min = 1, max = 128))]
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub password: String,
    /// 1–200 characters, not blank (default: the e-mail's local part).
    #[garde(inner(length(chars, min = 1, max = 200), custom(sentinel_http::input::not_blank)))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub display_name: Option<String>,
    /// Legacy alias of `displayName` (used when `displayName` is absent).
    #[garde(inner(length(chars, min = 1, max = 200), custom(sentinel_http::input::not_blank)))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[garde(inner(length(chars, max = 100)))]
    #[schema(max_length = 100)]
    pub first_name: Option<String>,
    #[garde(inner(length(chars, max = 100)))]
    #[schema(max_length = 100)]
    pub last_name: Option<String>,
    /// 3–100 of `A–Z a–z 0–9 _ -`; unique.
    #[garde(inner(pattern(r"^[A-Za-z0-9_-]{3,100}$")))]
    #[schema(pattern = "^[A-Za-z0-9_-]{3,100}$")]
    pub username: Option<String>,
    /// Default `quartermaster`; at most the caller's own role (only a developer grants developer).
    #[garde(inner(pattern(r"^(developer|admin|executive|duty_watch|quartermaster)$")))]
    #[schema(value_type = Option<UserRole>)]
    pub role: Option<String>,
    /// The member this account belongs to (one account per member).
    #[garde(inner(custom(uuid_text)))]
    #[schema(format = "uuid")]
    pub member_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateUser {
    /// Admins and above only.
    #[garde(inner(length(chars, min = 3, max = 255), email))]
    #[schema(min_length = 3, max_length = 255, format = "email")]
    pub email: Option<String>,
    /// Admins and above only; `null` removes the username.
    #[garde(inner(inner(pattern(r"^[A-Za-z0-9_-]{3,100}$"))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{3,100}$")]
    pub username: Option<Option<String>>,
    #[garde(inner(length(chars, min = 1, max = 200), custom(sentinel_http::input::not_blank)))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub display_name: Option<String>,
    /// Legacy alias of `displayName`.
    #[garde(inner(length(chars, min = 1, max = 200), custom(sentinel_http::input::not_blank)))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[garde(inner(inner(length(chars, max = 100))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub first_name: Option<Option<String>>,
    #[garde(inner(inner(length(chars, max = 100))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub last_name: Option<Option<String>>,
    /// Admins and above only; at most the caller's own role. A changed role revokes the user's sessions.
    #[garde(inner(pattern(r"^(developer|admin|executive|duty_watch|quartermaster)$")))]
    #[schema(value_type = Option<UserRole>)]
    pub role: Option<String>,
    /// `null` unlinks the member.
    #[garde(inner(inner(custom(uuid_text))))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "uuid")]
    pub member_id: Option<Option<String>>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetPassword {
    /// 12–128 characters with an upper- and a lower-case letter, a digit and a symbol.
    #[garde(length(chars, min = 1, max = 128))]
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub new_password: String,
}

fn uuid_text(value: &str, _: &()) -> garde::Result {
    match sentinel_domain::uuid::parse_uuid(value) {
        Some(_) => Ok(()),
        None => Err(garde::Error::new("must be a valid UUID")),
    }
}

const USER_COLUMNS: &str = "u.id::text AS id, u.email, u.username, u.display_name, u.first_name, u.last_name, u.role,
    u.member_id::text AS member_id, u.disabled, iso(u.disabled_at) AS disabled_at, iso(u.last_login_at) AS last_login_at,
    iso(u.created_at) AS created_at, iso(u.updated_at) AS updated_at";

/// Audit details never carry the password hash.
const USER_JSON_SQL: &str = "(to_jsonb(u) - 'password_hash')";

fn user_from(row: &Row) -> User {
    User {
        id: row.text("id").unwrap_or_default(),
        email: row.text("email").unwrap_or_default(),
        username: row.text("username"),
        display_name: row.text("display_name").unwrap_or_default(),
        first_name: row.text("first_name"),
        last_name: row.text("last_name"),
        role: row.text("role").unwrap_or_default(),
        member_id: row.text("member_id"),
        disabled: row.bool("disabled"),
        disabled_at: row.text("disabled_at"),
        last_login_at: row.text("last_login_at"),
        created_at: row.text("created_at").unwrap_or_default(),
        updated_at: row.text("updated_at").unwrap_or_default(),
    }
}

fn user_envelope(row: &Row) -> Value {
    json!({ "user": serde_json::to_value(user_from(row)).unwrap_or_default() })
}

// ------------------------------------------------------------------ rule 1: the role guard

fn actor_role(ctx: &Ctx) -> Role {
    match &ctx.principal {
        Principal::User(u) => u.role,
        _ => Role::Quartermaster,
    }
}

/// Whether `actor` may manage an account of role `target`: a developer
/// manages everyone, an admin everyone but developers, lower roles (duty
/// watch's limited PATCH) only accounts below admin.
pub fn manages(actor: Role, target: Role) -> bool {
    match actor {
        Role::Developer => true,
        Role::Admin => target != Role::Developer,
        _ => target < Role::Admin,
    }
}

/// The roles `actor` manages, as the comma list the statements bind.
fn manageable_roles(actor: Role) -> String {
    Role::ALL.into_iter().filter(|r| manages(actor, *r)).map(Role::as_str).collect::<Vec<_>>().join(",")
}

fn cannot(actor: Role, what: &str) -> ApiError {
    ApiError::forbidden("FORBIDDEN", format!("Your role ({}) cannot {what}", actor.as_str()))
}

fn cannot_manage(actor: Role, target_role: Option<&str>) -> ApiError {
    cannot(actor, &format!("manage {} accounts", target_role.unwrap_or("these")))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("User with ID '{id}' not found"))
}

fn last_developer(what: &str) -> ApiError {
    ApiError::conflict(format!("Cannot {what} the last active developer"))
}

fn is_self(ctx: &Ctx, id: &str) -> bool {
    ctx.principal.user_id() == Some(id)
}

/// Unique and foreign-key failures of user writes, naming the value.
fn map_user_write_error(e: DbError, email: Option<&str>, username: Option<&str>, member_id: Option<&str>) -> ApiError {
    if e.is_unique_violation_of("users_email_key") {
        ApiError::conflict(format!("A user with email '{}' already exists", email.unwrap_or_default()))
    } else if e.is_unique_violation_of("users_username_key") {
        ApiError::conflict(format!("A user with username '{}' already exists", username.unwrap_or_default()))
    } else if e.is_unique_violation_of("users_member_id_key") {
        ApiError::conflict(format!("Member '{}' is already linked to another user", member_id.unwrap_or_default()))
    } else if e.is(sentinel_http::db::FOREIGN_KEY_VIOLATION) && e.constraint.as_deref() == Some("users_member_id_fkey") {
        ApiError::not_found(format!("Member with ID '{}' not found", member_id.unwrap_or_default()))
    } else {
        e.into()
    }
}

fn password_issues(field: &str, password: &str) -> Result<(), ApiError> {
    let problems = sentinel_auth::password::policy_violations(password);
    if problems.is_empty() {
        return Ok(());
    }
    let mut issues = Issues::default();
    for p in problems {
        issues.push(field, p);
    }
    Err(ApiError::validation(issues))
}

fn hash_password(password: &str) -> Result<String, ApiError> {
    sentinel_auth::password::hash(password).map_err(|e| ApiError::internal(format!("password hashing: {e}")))
}

// ------------------------------------------------------------------ users

/// List staff accounts
///
/// Staff accounts (never password hashes), oldest first, paged by `limit` and `offset`.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 50"),
           ("offset" = Option<i64>, Query, minimum = 0, description = "Default 0")),
    responses((status = 200, body = UserList)))]
pub fn list(ctx: &Ctx) -> HandlerResult {
    let page = sentinel_http::pagination::OffsetRequest::from_query(ctx.query())?;
    let sql = format!(
        "WITH total AS (SELECT count(*) AS total FROM users)
         SELECT total.total, page.* FROM total LEFT JOIN LATERAL (
            SELECT {USER_COLUMNS} FROM users u ORDER BY u.created_at, u.id LIMIT $1 OFFSET $2
         ) page ON true"
    );
    let rows = ctx.db().query(&sql, &[page.limit.into(), page.offset.into()])?;
    let total = rows.first().map(|r| r.int("total")).unwrap_or(0);
    let users: Vec<User> = rows.iter().filter(|r| r.text("id").is_some()).map(user_from).collect();
    ok(page.wrap(json!({ "users": serde_json::to_value(users).unwrap_or_default() }), total))
}

/// Get a staff account
///
/// One account by id.
#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "admin", params(("id" = String, Path, description = "User UUID")),
    responses((status = 200, body = UserEnvelope), (status = 404, description = "`NOT_FOUND`: no account has this id")))]
pub fn get(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let row = ctx.db().query_one(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1::text::uuid"), &[id.as_str().into()])?;
    ok(user_envelope(&row.ok_or_else(|| not_found(&id))?))
}

/// Create a staff account
///
/// Creates an account with a password meeting the policy (12–128 characters with an upper- and a
/// lower-case letter, a digit and a symbol). The caller may grant at most its own role; only a developer
/// creates developers.
#[utoipa::path(post, path = "/api/admin/users", tag = "admin", request_body = CreateUser,
    responses((status = 201, body = UserEnvelope), (status = 400, description = "`VALIDATION_ERROR`: the password breaks the policy"),
              (status = 403, description = "`FORBIDDEN`: the caller's role may not grant the requested role"),
              (status = 404, description = "`NOT_FOUND`: no member has the `memberId`"),
              (status = 409, description = "`CONFLICT`: the e-mail address or username is taken, or the member is linked to another account")))]
pub fn create(ctx: &Ctx) -> HandlerResult {
    let body: CreateUser = ctx.json()?;
    password_issues("password", &body.password)?;
    let actor = actor_role(ctx);
    let role = body.role.clone().unwrap_or_else(|| Role::Quartermaster.as_str().to_string());
    if !manages(actor, Role::parse_lenient(Some(&role))) {
        return Err(cannot(actor, &format!("grant the {role} role")));
    }
    let email = body.email.trim().to_string();
    let display_name = body
        .display_name
        .as_deref()
        .or(body.name.as_deref())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
    let member_id = body.member_id.as_deref().and_then(sentinel_domain::uuid::parse_uuid);
    let password_hash = hash_password(&body.password)?;
    let audit = audit::cte("user_created", "admin_user", "u", "id", &format!("jsonb_build_object('after', {USER_JSON_SQL})"), 9);
    let sql = format!(
        "WITH u AS (
            INSERT INTO users (email, username, display_name, first_name, last_name, password_hash, role, member_id, updated_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::uuid, $9::text::uuid) RETURNING *
         ), {audit}
         SELECT {USER_COLUMNS} FROM u"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let params: [SqlParam; 11] = [
        email.as_str().into(),
        body.username.clone().into(),
        display_name.into(),
        body.first_name.clone().into(),
        body.last_name.clone().into(),
        password_hash.into(),
        role.into(),
        member_id.clone().into(),
        user,
        key,
        ip,
    ];
    let row = ctx
        .db()
        .query_one(&sql, &params)
        .map_err(|e| map_user_write_error(e, Some(&email), body.username.as_deref(), member_id.as_deref()))?
        .ok_or_else(|| ApiError::internal("user insert returned nothing"))?;
    created(user_envelope(&row))
}

/// Update a staff account
///
/// Changes the fields present (at least one). Admins manage accounts up to their own role (developers:
/// all); duty watch may change only names and `memberId` of accounts below admin. A role change revokes
/// the user's sessions; the last active developer keeps the role.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin", params(("id" = String, Path, description = "User UUID")), request_body = UpdateUser,
    responses((status = 200, body = UserEnvelope), (status = 400, description = "`VALIDATION_ERROR`: the body changes nothing"),
              (status = 403, description = "`FORBIDDEN`: the role guard refuses (the target's or the requested role, or a field the caller's role may not change)"),
              (status = 404, description = "`NOT_FOUND`: no account has this id, or no member has the `memberId`"),
              (status = 409, description = "`CONFLICT`: a duplicate e-mail, username or member link, demoting the last active developer, or a concurrent change")))]
pub fn update(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: UpdateUser = ctx.json()?;
    if body.email.is_none()
        && body.username.is_none()
        && body.display_name.is_none()
        && body.name.is_none()
        && body.first_name.is_none()
        && body.last_name.is_none()
        && body.role.is_none()
        && body.member_id.is_none()
    {
        return Err(ApiError::invalid("", "At least one field must be provided"));
    }
    let actor = actor_role(ctx);
    if !actor.at_least(Role::Admin) {
        if body.role.is_some() {
            return Err(cannot(actor, "change roles"));
        }
        if body.email.is_some() || body.username.is_some() {
            return Err(cannot(actor, "change e-mail addresses or usernames"));
        }
    }
    if let Some(role) = &body.role {
        if !manages(actor, Role::parse_lenient(Some(role))) {
            return Err(cannot(actor, &format!("grant the {role} role")));
        }
    }
    let email = body.email.as_deref().map(str::trim).map(str::to_string);
    let display_name = body.display_name.as_deref().or(body.name.as_deref()).map(|s| s.trim().to_string());
    let member_id = body.member_id.clone().map(|m| m.and_then(|m| sentinel_domain::uuid::parse_uuid(&m)));
    // The action depends on whether the role really changed, so this audit
    // row is written here rather than through audit::cte.
    let sql = format!(
        "WITH before AS (SELECT * FROM users WHERE id = $1::text::uuid),
         devs AS (SELECT id FROM users WHERE role = 'developer' AND NOT disabled ORDER BY id FOR UPDATE),
         u AS (
            UPDATE users SET
                email = COALESCE($2, email),
                username = CASE WHEN $3 THEN $4 ELSE username END,
                display_name = COALESCE($5, display_name),
                first_name = CASE WHEN $6 THEN $7 ELSE first_name END,
                last_name = CASE WHEN $8 THEN $9 ELSE last_name END,
                role = COALESCE($10, role),
                member_id = CASE WHEN $11 THEN $12::text::uuid ELSE member_id END,
                updated_by = $14::text::uuid
            WHERE id = $1::text::uuid AND role = ANY(string_to_array($13, ','))
              AND NOT (role = 'developer' AND NOT disabled AND COALESCE($10, role) <> 'developer'
                       AND (SELECT count(*) FROM devs WHERE devs.id <> $1::text::uuid) = 0)
            RETURNING *
         ),
         role_change AS (SELECT u.id FROM u JOIN before b ON b.id = u.id WHERE u.role <> b.role),
         revoked AS (
            UPDATE sessions SET revoked_at = now()
            WHERE user_id IN (SELECT id FROM role_change) AND revoked_at IS NULL RETURNING id
         ),
         audit AS (
            INSERT INTO audit_log (admin_user_id, action, entity_type, entity_id, details, ip_address)
            SELECT audit_row.* FROM u JOIN before b ON b.id = u.id,
                 LATERAL audit_entry($14::text::uuid, $15::text, $16::text,
                                     CASE WHEN u.role <> b.role THEN 'role_changed' ELSE 'user_updated' END, 'admin_user', u.id,
                                     jsonb_build_object('before', to_jsonb(b) - 'password_hash', 'after', {USER_JSON_SQL},
                                                        'revokedSessions', (SELECT count(*) FROM revoked))) audit_row
            RETURNING id
         )
         SELECT b.role AS before_role, b.disabled AS before_disabled, u.id IS NOT NULL AS changed,
                EXISTS (SELECT 1 FROM role_change) AS role_changed, {USER_COLUMNS}
         FROM before b LEFT JOIN u ON true"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let params: [SqlParam; 16] = [
        id.as_str().into(),
        email.clone().into(),
        body.username.is_some().into(),
        body.username.clone().flatten().into(),
        display_name.into(),
        body.first_name.is_some().into(),
        body.first_name.clone().flatten().into(),
        body.last_name.is_some().into(),
        body.last_name.clone().flatten().into(),
        body.role.clone().into(),
        member_id.is_some().into(),
        member_id.clone().flatten().into(),
        manageable_roles(actor).into(),
        user,
        key,
        ip,
    ];
    let username = body.username.clone().flatten();
    let row = ctx
        .db()
        .query_one(&sql, &params)
        .map_err(|e| map_user_write_error(e, email.as_deref(), username.as_deref(), member_id.clone().flatten().as_deref()))?
        .ok_or_else(|| not_found(&id))?;
    if !row.bool("changed") {
        let before_role = row.text("before_role");
        if !manages(actor, Role::parse_lenient(before_role.as_deref())) {
            return Err(cannot_manage(actor, before_role.as_deref()));
        }
        if before_role.as_deref() == Some("developer") && !row.bool("before_disabled") {
            return Err(last_developer("change the role of"));
        }
        return Err(ApiError::conflict("The user was changed concurrently; retry"));
    }
    ok(user_envelope(&row))
}

/// The outcome of a single-user action statement: the target as read, and
/// whether the action's guarded write changed it.
struct Outcome {
    role: Option<String>,
    disabled: bool,
    changed: bool,
}

/// Runs `write` — a data-modifying CTE named `u` over `users` guarded by
/// `$1` (target id) and `$2` (roles the actor manages), with `$3..$5` the
/// actor — plus `extra` CTEs and the audit row; `None` when no such user.
fn run_user_action(ctx: &Ctx, id: &str, write: &str, extra: &str, audit: &str, more: Vec<SqlParam>) -> Result<Option<Outcome>, ApiError> {
    let sql = format!(
        "WITH target AS (SELECT id, role, disabled FROM users WHERE id = $1::text::uuid),
         devs AS (SELECT id FROM users WHERE role = 'developer' AND NOT disabled ORDER BY id FOR UPDATE),
         u AS ({write}){extra}, {audit}
         SELECT t.role, t.disabled, (SELECT count(*) FROM u) AS changed FROM target t"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let mut params: Vec<SqlParam> = vec![id.into(), manageable_roles(actor_role(ctx)).into(), user, key, ip];
    params.extend(more);
    let row = ctx.db().query_one(&sql, &params)?;
    Ok(row.map(|r| Outcome { role: r.text("role"), disabled: r.bool("disabled"), changed: r.int("changed") > 0 }))
}

/// Guard that keeps at least one active developer (rule 3).
const KEEPS_A_DEVELOPER: &str = "(role <> 'developer' OR (SELECT count(*) FROM devs WHERE devs.id <> $1::text::uuid) > 0)";

const REVOKE_SESSIONS: &str = ",
         revoked AS (UPDATE sessions SET revoked_at = now() WHERE user_id IN (SELECT id FROM u) AND revoked_at IS NULL RETURNING id)";

/// Delete a staff account
///
/// Deletes an account the caller manages, never the caller's own nor the last active developer; its
/// sessions end with it.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "admin", params(("id" = String, Path, description = "User UUID")),
    responses((status = 200, body = Message), (status = 403, description = "`FORBIDDEN`: the caller's own account, or one of a role the caller does not manage"),
              (status = 404, description = "`NOT_FOUND`: no account has this id"),
              (status = 409, description = "`CONFLICT`: the last active developer, or a concurrent change")))]
pub fn delete(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    if is_self(ctx, &id) {
        return Err(ApiError::forbidden("FORBIDDEN", "You cannot delete your own account"));
    }
    let write = format!("DELETE FROM users WHERE id = $1::text::uuid AND role = ANY(string_to_array($2, ',')) AND {KEEPS_A_DEVELOPER} RETURNING *");
    let audit = audit::cte("user_deleted", "admin_user", "u", "id", &format!("jsonb_build_object('before', {USER_JSON_SQL})"), 3);
    let outcome = run_user_action(ctx, &id, &write, "", &audit, vec![])?.ok_or_else(|| not_found(&id))?;
    if !outcome.changed {
        return Err(refusal(ctx, &outcome, "delete"));
    }
    ok(crate::openapi::to_json(&Message { message: "User deleted successfully".into() }))
}

/// Why a guarded delete/disable changed nothing (rules 1, 3 and 4).
fn refusal(ctx: &Ctx, outcome: &Outcome, what: &str) -> ApiError {
    let actor = actor_role(ctx);
    if !manages(actor, Role::parse_lenient(outcome.role.as_deref())) {
        return cannot_manage(actor, outcome.role.as_deref());
    }
    match what {
        "disable" if outcome.disabled => ApiError::conflict("User is already disabled"),
        "enable" if !outcome.disabled => ApiError::conflict("User is already enabled"),
        "disable" | "delete" if outcome.role.as_deref() == Some("developer") && !outcome.disabled => last_developer(what),
        _ => ApiError::conflict("The user was changed concurrently; retry"),
    }
}

/// Disable a staff account
///
/// Disables an enabled account the caller manages (never its own, nor the last active developer) and
/// revokes its sessions.
#[utoipa::path(post, path = "/api/admin/users/{id}/disable", tag = "admin", params(("id" = String, Path, description = "User UUID")),
    responses((status = 200, body = Message, description = "The user's sessions are revoked"),
              (status = 403, description = "`FORBIDDEN`: the caller's own account, or one of a role the caller does not manage"),
              (status = 404, description = "`NOT_FOUND`: no account has this id"),
              (status = 409, description = "`CONFLICT`: already disabled, the last active developer, or a concurrent change")))]
pub fn disable(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    if is_self(ctx, &id) {
        return Err(ApiError::forbidden("FORBIDDEN", "You cannot disable your own account"));
    }
    let write = format!(
        "UPDATE users SET disabled = true, disabled_at = now(), disabled_by = $3::text::uuid, updated_by = $3::text::uuid
         WHERE id = $1::text::uuid AND NOT disabled AND role = ANY(string_to_array($2, ',')) AND {KEEPS_A_DEVELOPER} RETURNING *"
    );
    let audit = audit::cte("user_disabled", "admin_user", "u", "id", "jsonb_build_object('email', u.email, 'revokedSessions', (SELECT count(*) FROM revoked))", 3);
    let outcome = run_user_action(ctx, &id, &write, REVOKE_SESSIONS, &audit, vec![])?.ok_or_else(|| not_found(&id))?;
    if !outcome.changed {
        return Err(refusal(ctx, &outcome, "disable"));
    }
    ok(crate::openapi::to_json(&Message { message: "User disabled successfully".into() }))
}

/// Enable a staff account
///
/// Re-enables a disabled account the caller manages.
#[utoipa::path(post, path = "/api/admin/users/{id}/enable", tag = "admin", params(("id" = String, Path, description = "User UUID")),
    responses((status = 200, body = Message), (status = 403, description = "`FORBIDDEN`: an account of a role the caller does not manage"),
              (status = 404, description = "`NOT_FOUND`: no account has this id"), (status = 409, description = "`CONFLICT`: already enabled, or a concurrent change")))]
pub fn enable(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let write = "UPDATE users SET disabled = false, disabled_at = NULL, disabled_by = NULL, updated_by = $3::text::uuid
         WHERE id = $1::text::uuid AND disabled AND role = ANY(string_to_array($2, ',')) RETURNING *";
    let audit = audit::cte("user_enabled", "admin_user", "u", "id", "jsonb_build_object('email', u.email)", 3);
    let outcome = run_user_action(ctx, &id, write, "", &audit, vec![])?.ok_or_else(|| not_found(&id))?;
    if !outcome.changed {
        return Err(refusal(ctx, &outcome, "enable"));
    }
    ok(crate::openapi::to_json(&Message { message: "User enabled successfully".into() }))
}

/// Reset a staff account's password
///
/// Sets a new password meeting the policy and revokes all of the user's sessions.
#[utoipa::path(post, path = "/api/admin/users/{id}/reset-password", tag = "admin", params(("id" = String, Path, description = "User UUID")),
    request_body = ResetPassword,
    responses((status = 200, body = Message, description = "The user's sessions are revoked"),
              (status = 400, description = "`VALIDATION_ERROR`: the password breaks the policy"),
              (status = 403, description = "`FORBIDDEN`: an account of a role the caller does not manage"),
              (status = 404, description = "`NOT_FOUND`: no account has this id"),
              (status = 409, description = "`CONFLICT`: a concurrent change")))]
pub fn reset_password(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let body: ResetPassword = ctx.json()?;
    password_issues("newPassword", &body.new_password)?;
    let hash = hash_password(&body.new_password)?;
    let write = "UPDATE users SET password_hash = $6, updated_by = $3::text::uuid
         WHERE id = $1::text::uuid AND role = ANY(string_to_array($2, ',')) RETURNING *";
    let audit = audit::cte("password_reset", "admin_user", "u", "id", "jsonb_build_object('email', u.email, 'revokedSessions', (SELECT count(*) FROM revoked))", 3);
    let outcome = run_user_action(ctx, &id, write, REVOKE_SESSIONS, &audit, vec![hash.into()])?.ok_or_else(|| not_found(&id))?;
    if !outcome.changed {
        return Err(refusal(ctx, &outcome, "reset the password of"));
    }
    ok(crate::openapi::to_json(&Message { message: "Password reset successfully".into() }))
}

// ------------------------------------------------------------------ sessions

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminSession {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub user_id: String,
    pub user_email: String,
    /// password | rfid
    #[schema(pattern = "^(password|rfid)$")]
    pub kind: String,
    /// Would authenticate now: not revoked, not expired, user enabled, and
    /// (RFID) not idle for 15 minutes.
    pub active: bool,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(format = DateTime)]
    pub last_seen_at: Option<String>,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSessionList {
    pub sessions: Vec<AdminSession>,
}

/// List sessions
///
/// Sessions newest first, at most 500, never token hashes: by default only active ones (not revoked,
/// not expired, user enabled, RFID not idle for 15 minutes).
#[utoipa::path(get, path = "/api/admin/sessions", tag = "admin",
    params(("userId" = Option<String>, Query, format = "uuid", description = "Only this user's sessions"),
           ("includeInactive" = Option<bool>, Query, description = "Also sessions that are not active")),
    responses((status = 200, body = AdminSessionList)))]
pub fn list_sessions(ctx: &Ctx) -> HandlerResult {
    let user_id = query_uuid(ctx.query(), "userId")?;
    let include_inactive = query_flag(ctx.query(), "includeInactive")?;
    // Active means "would authenticate now" (idle RFID sessions, disabled users' sessions are not).
    let active = sentinel_auth::principal_sql::SESSION_ACTIVE;
    let mut w = crate::listing::Where::default();
    w.bind_some("s.user_id = {}::text::uuid", user_id);
    if !include_inactive {
        w.when(&format!("({active})"));
    }
    let rows = ctx.db().query(
        &format!(
            "SELECT s.id::text AS id, s.user_id::text AS user_id, u.email AS user_email, s.kind,
                    ({active}) AS active, host(s.ip_address) AS ip_address, s.user_agent,
                    iso(s.created_at) AS created_at, iso(s.expires_at) AS expires_at, iso(s.last_seen_at) AS last_seen_at, iso(s.revoked_at) AS revoked_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             {}
             ORDER BY s.created_at DESC LIMIT 500",
            w.where_sql()
        ),
        &w.params,
    )?;
    let sessions: Vec<AdminSession> = rows
        .iter()
        .map(|r| AdminSession {
            id: r.text("id").unwrap_or_default(),
            user_id: r.text("user_id").unwrap_or_default(),
            user_email: r.text("user_email").unwrap_or_default(),
            kind: r.text("kind").unwrap_or_default(),
            active: r.bool("active"),
            ip_address: r.text("ip_address"),
            user_agent: r.text("user_agent"),
            created_at: r.text("created_at").unwrap_or_default(),
            expires_at: r.text("expires_at").unwrap_or_default(),
            last_seen_at: r.text("last_seen_at"),
            revoked_at: r.text("revoked_at"),
        })
        .collect();
    ok(json!({ "sessions": serde_json::to_value(sessions).unwrap_or_default() }))
}

/// Revoke a session
///
/// Ends one session of an account the caller manages (idempotent: an ended session stays ended).
#[utoipa::path(delete, path = "/api/admin/sessions/{id}", tag = "admin", params(("id" = String, Path, description = "Session UUID")),
    responses((status = 200, body = Message), (status = 403, description = "`FORBIDDEN`: a session of a role the caller does not manage"),
              (status = 404, description = "`NOT_FOUND`: no session has this id")))]
pub fn revoke_session(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let audit = audit::cte("session_revoke", "admin_user", "s", "user_id", "jsonb_build_object('sessionId', s.id)", 3);
    let sql = format!(
        "WITH target AS (SELECT s.id, s.user_id, u.role FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1::text::uuid),
         s AS (
            UPDATE sessions SET revoked_at = now()
            WHERE id = $1::text::uuid AND revoked_at IS NULL AND user_id IN (SELECT user_id FROM target WHERE role = ANY(string_to_array($2, ',')))
            RETURNING *
         ), {audit}
         SELECT t.user_id::text AS user_id, t.role, (SELECT count(*) FROM s) AS revoked FROM target t"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let actor = actor_role(ctx);
    let row = ctx
        .db()
        .query_one(&sql, &[id.as_str().into(), manageable_roles(actor).into(), user, key, ip])?
        .ok_or_else(|| ApiError::not_found(format!("Session with ID '{id}' not found")))?;
    let role = row.text("role");
    if !manages(actor, Role::parse_lenient(role.as_deref())) {
        return Err(cannot_manage(actor, role.as_deref()));
    }
    ok(crate::openapi::to_json(&Message { message: "Session revoked successfully".into() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_guard() {
        assert!(manages(Role::Developer, Role::Developer));
        assert!(manages(Role::Admin, Role::Admin));
        assert!(!manages(Role::Admin, Role::Developer));
        assert!(manages(Role::DutyWatch, Role::Executive));
        assert!(!manages(Role::DutyWatch, Role::Admin));
        assert_eq!(manageable_roles(Role::Admin), "quartermaster,duty_watch,executive,admin");
    }
}
