//! Sign-in, sessions and API keys.

use garde::Validate;
use http::{Method, StatusCode};
use sentinel_auth::session_token::{self, SessionKind, PASSWORD_SESSION_SECS};
use sentinel_auth::{api_key, keyed_hash, password, secret_hash};
use sentinel_http::auth::{client_ip, jwt_secret, session_cookie};
use sentinel_http::{created, ok, Access, Allow, ApiError, Ctx, HandlerResult, Principal, Reply, Router, Row};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::audit::{self, Actor};
use crate::openapi::{Success, SuccessMessage};

pub fn routes(router: Router) -> Router {
    router
        .route(Method::POST, "/api/auth/login", Access::Public, login)
        .route(Method::POST, "/api/auth/logout", Access::QM, logout)
        .route(Method::GET, "/api/auth/session", Access::QM, session)
        .route(Method::POST, "/api/auth/rfid-login", Access::Restricted(&[Allow::Kiosk]), rfid_login)
        .route(Method::GET, "/api/auth/api-keys", Access::ADM, list_keys)
        .route(Method::POST, "/api/auth/api-keys", Access::ADM, create_key)
        .route(Method::DELETE, "/api/auth/api-keys/:id", Access::ADM, revoke_key)
}

/// Failed sign-ins allowed per (client address, account) in the window; each client address also
/// has a budget of failed password sign-ins across accounts, the `login_ip` class of `rate_limits`.
pub const LOGIN_FAILURE_LIMIT: u64 = 5;
pub const LOGIN_WINDOW_SECS: u64 = 15 * 60;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// E-mail address or username (case-insensitive, not blank); one of `email` and `username` is required.
    #[garde(inner(length(chars, min = 1, max = 255)))]
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub email: Option<String>,
    /// Used when `email` is absent.
    #[garde(inner(length(chars, min = 1, max = 100)))]
    #[schema(min_length = 1, max_length = 100)]
    pub username: Option<String>,
    #[garde(length(chars, min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128, format = Password)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionUser {
    #[schema(format = "uuid")]
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// developer | admin | executive | duty_watch | quartermaster
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    /// The session token (`Authorization: Bearer <token>`); also set as the `sentinel_session` cookie.
    pub token: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub user: SessionUser,
}

/// How a sign-in identifies its account: password sign-ins by e-mail or
/// username, RFID sign-ins by badge serial. Each has its own lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignIn {
    Password,
    Rfid,
}

impl SignIn {
    fn as_str(self) -> &'static str {
        match self {
            SignIn::Password => "password",
            SignIn::Rfid => "rfid",
        }
    }
}

/// The sign-in lockout (docs/api.md, "Sign-in lockout"): at most [`LOGIN_FAILURE_LIMIT`] failures per
/// (client address, subject) in [`LOGIN_WINDOW_SECS`], then 429 until the window passes — even for the
/// right credential. The subject of a password sign-in is the matched account (its e-mail and username
/// share one budget) or, for an unknown identifier, its keyed hash; of an RFID sign-in, the badge
/// serial's keyed hash. On top, a client address has the `login_ip` budget of failed password
/// sign-ins across all identifiers.
///
/// Attempts per subject are counted in a Redis fixed window *before* the credential is checked (so a
/// burst of parallel guesses cannot overrun the limit), and a successful sign-in deletes that counter.
/// Failures are also `login_failed` audit rows, which the sign-in statement itself counts
/// ([`failures_sql`]: no extra round trip); the stricter count decides, so the lockout holds while
/// Redis is unreachable or after it lost its data. Audit rows older than the account's last sign-in
/// from that address (same method) do not count toward the subject's budget. The audit row never
/// keeps the identifier as typed (it may be a password typed into the wrong field): it names the
/// matched `account`, or the `identifierHash`.
struct Lockout {
    method: SignIn,
    identifier: String,
    /// HMAC of the method and lower-cased identifier, keyed with `jwt_secret`.
    identifier_hash: String,
    ip: Option<String>,
    /// `login_ip` of `rate_limits`: (failures, window seconds).
    ip_budget: (u64, u64),
    /// The Redis counter of (address, subject), known once the statement found the subject.
    key: std::cell::RefCell<Option<String>>,
}

impl Lockout {
    /// Refuses at once when the client address is over its `login_ip` budget in Redis.
    fn start(ctx: &Ctx, method: SignIn, identifier: &str) -> Result<Self, ApiError> {
        let ip = client_ip(ctx.req);
        let secret = jwt_secret(ctx.platform)?;
        let identifier_hash = keyed_hash(&secret, "sentinel sign-in identifier", &format!("{}:{}", method.as_str(), identifier.to_lowercase()));
        let ip_budget = sentinel_http::rate_limit::configured(ctx.platform.config.var("rate_limits").as_deref(), "login_ip");
        let lockout = Self { method, identifier: identifier.to_string(), identifier_hash, ip, ip_budget, key: Default::default() };
        if let Some(ip_key) = lockout.ip_key() {
            match ctx.platform.counters.peek(&ip_key) {
                Ok((failures, ttl)) if failures >= ip_budget.0 && ttl > 0 => return Err(too_many_attempts(ttl)),
                Ok(_) => {}
                Err(e) => log_error(ctx, "login lockout per address (counting audit rows only)", &e),
            }
        }
        Ok(lockout)
    }

    /// The Redis counter of failed password sign-ins from the client address.
    fn ip_key(&self) -> Option<String> {
        (self.method == SignIn::Password).then(|| format!("sentinel:login-ip:{}", self.ip.as_deref().unwrap_or("-")))
    }

    /// Runs a sign-in statement (`$1` the identifier, `$2` the client IP, `$3` the identifier's keyed
    /// hash, with the [`failures_sql`] columns), answers 429 when its recorded failures reach a limit,
    /// then counts the attempt against the subject in Redis.
    fn sign_in_row(&self, ctx: &Ctx, sql: &str) -> Result<Row, ApiError> {
        let row = ctx
            .db()
            .query_one(sql, &[self.identifier.as_str().into(), self.ip.clone().into(), self.identifier_hash.as_str().into()])?
            .ok_or_else(|| ApiError::internal(format!("{} sign-in statement returned nothing", self.method.as_str())))?;
        if row.int("recent_failures") >= LOGIN_FAILURE_LIMIT as i64 {
            return Err(too_many_attempts(row.int("failures_retry_after").max(1) as u64));
        }
        if row.int("address_failures") >= self.ip_budget.0 as i64 {
            return Err(too_many_attempts(row.int("address_retry_after").max(1) as u64));
        }
        let prefix = match self.method {
            SignIn::Password => "login-fail",
            SignIn::Rfid => "rfid-fail",
        };
        let subject = row.text("subject").unwrap_or_else(|| self.identifier_hash.clone());
        let key = format!("sentinel:{prefix}:{}:{subject}", self.ip.as_deref().unwrap_or("-"));
        match ctx.platform.counters.hit(&key, LOGIN_WINDOW_SECS) {
            Ok((attempts, ttl)) if attempts > LOGIN_FAILURE_LIMIT => return Err(too_many_attempts(ttl.max(1))),
            Ok(_) => {}
            Err(e) => log_error(ctx, "login lockout (counting audit rows only)", &e),
        }
        *self.key.borrow_mut() = Some(key);
        Ok(row)
    }

    /// Writes the `login_failed` audit row (the attempt is already counted per subject; here per
    /// address) and answers `error`. `account`: the password sign-in's matched account (recorded
    /// instead of the identifier); `entity`: the account the row is about, if any.
    fn fail(&self, ctx: &Ctx, error: ApiError, account: Option<&str>, entity: Option<&str>, reason: &str) -> ApiError {
        let actor = Actor::of(ctx);
        let sql = "SELECT write_audit(NULL, $5::text, $6::text, 'login_failed', 'admin_user', $1::text::uuid,
                                      jsonb_strip_nulls(jsonb_build_object('account', $7::text,
                                          'identifierHash', CASE WHEN $7::text IS NULL THEN $2::text END,
                                          'method', $3::text, 'reason', $4::text)))";
        let params = [
            entity.map(str::to_string).into(),
            self.identifier_hash.as_str().into(),
            self.method.as_str().into(),
            reason.into(),
            actor.api_key_id.into(),
            actor.ip.into(),
            account.map(str::to_string).into(),
        ];
        if let Err(e) = ctx.db().execute(sql, &params) {
            log_error(ctx, "audit login_failed", &e.detail);
        }
        if let Some(ip_key) = self.ip_key() {
            if let Err(e) = ctx.platform.counters.hit(&ip_key, self.ip_budget.1) {
                log_error(ctx, "login lockout per address (counting audit rows only)", &e);
            }
        }
        error
    }

    fn succeeded(&self, ctx: &Ctx) {
        if let Some(key) = self.key.borrow().as_deref() {
            ctx.platform.counters.clear(key);
        }
    }
}

/// A CTE `failures` (and `address_failures`) and the columns `recent_failures`,
/// `failures_retry_after`, `address_failures`, `address_retry_after` and `subject` for a sign-in
/// statement (`$2` the client IP, `$3` the identifier's keyed hash). `subject` is the SQL expression
/// of the lockout subject: the matched account's id or `$3`. `failures`: the `login_failed` rows of
/// `method` for that subject from that IP in the window, after the last successful sign-in (same
/// method and IP) of the account `user_id` (an SQL expression, NULL when there is none).
/// `address_failures`: the failed password sign-ins from that IP in the `login_ip` window (none for
/// RFID: a kiosk signs in many staff from one address). `*_retry_after`: the seconds until fewer
/// than the limit are left. Served by the V17 indexes on `login_failed` rows.
fn failures_sql(method: SignIn, subject: &str, user_id: &str, ip_budget: (u64, u64)) -> (String, String) {
    let method_name = method.as_str();
    let (ip_limit, ip_window) = ip_budget;
    let address_filter = if method == SignIn::Password { "$2::text IS NOT NULL" } else { "false" };
    let cte = format!(
        "failures AS (
            SELECT f.created_at FROM audit_log f
            WHERE f.action = 'login_failed' AND COALESCE(f.details->>'account', f.details->>'identifierHash') = ({subject})
              AND COALESCE(f.details->>'method', 'password') = '{method_name}'
              AND f.ip_address IS NOT DISTINCT FROM $2::text::inet
              AND f.created_at > now() - interval '{LOGIN_WINDOW_SECS} seconds'
              AND f.created_at > COALESCE((
                  SELECT l.created_at FROM audit_log l
                  WHERE l.admin_user_id = ({user_id}) AND l.action = 'login' AND l.details->>'method' = '{method_name}'
                    AND l.ip_address IS NOT DISTINCT FROM $2::text::inet AND l.created_at > now() - interval '{LOGIN_WINDOW_SECS} seconds'
                  ORDER BY l.created_at DESC LIMIT 1), '-infinity')
         ), address_failures AS (
            SELECT f.created_at FROM audit_log f
            WHERE {address_filter} AND f.action = 'login_failed' AND f.ip_address = $2::text::inet
              AND COALESCE(f.details->>'method', 'password') = 'password'
              AND f.created_at > now() - interval '{ip_window} seconds'
         )"
    );
    let columns = format!(
        "(SELECT count(*) FROM failures) AS recent_failures,
         (SELECT ceil(extract(epoch FROM created_at + interval '{LOGIN_WINDOW_SECS} seconds' - now()))::int
          FROM failures ORDER BY created_at DESC OFFSET {} LIMIT 1) AS failures_retry_after,
         (SELECT count(*) FROM address_failures) AS address_failures,
         (SELECT ceil(extract(epoch FROM created_at + interval '{ip_window} seconds' - now()))::int
          FROM address_failures ORDER BY created_at DESC OFFSET {} LIMIT 1) AS address_retry_after,
         ({subject}) AS subject",
        LOGIN_FAILURE_LIMIT - 1,
        ip_limit.max(1) - 1
    );
    (cte, columns)
}

fn log_error(ctx: &Ctx, op: &str, error: &str) {
    sentinel_http::log_line(&json!({"level": "error", "component": ctx.platform.component, "correlationId": ctx.correlation_id, "op": op, "error": error}));
}

fn too_many_attempts(retry_after: u64) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED", "Too many failed sign-in attempts; try again later")
        .with_details(json!({ "retryAfter": retry_after }))
        .with_header("retry-after", retry_after.to_string())
}

/// Sign in with a password
///
/// Opens a 7-day password session for the account with this e-mail address or username and returns its
/// token, also set as the HttpOnly `sentinel_session` cookie. After 5 failed attempts per client address
/// and account (its e-mail and username share the budget; an unknown identifier counts on its own) within
/// 15 minutes, or once the client address used its budget of failed sign-ins across accounts (`login_ip`
/// of `rate_limits`, default 30 per 15 minutes), sign-in answers 429 until the window passes, even for the
/// right password. Failed attempts are audited (`login_failed`) with the matched account or a keyed hash
/// of the identifier, never the identifier as typed.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse, description = "Signed in; also sets the `sentinel_session` cookie"),
              (status = 400, description = "`VALIDATION_ERROR`: neither `email` nor `username` is given"),
              (status = 401, description = "`INVALID_CREDENTIALS`: no such account, or the wrong password"),
              (status = 403, description = "`ACCOUNT_DISABLED`: the account is disabled"),
              (status = 429, description = "`RATE_LIMIT_EXCEEDED`: 5 failed sign-ins from this address for this account in 15 minutes, or this address's failures across accounts reached `login_ip` (`Retry-After`, `details.retryAfter`)")))]
pub fn login(ctx: &Ctx) -> HandlerResult {
    let body: LoginRequest = ctx.json()?;
    let identifier = body.email.as_deref().or(body.username.as_deref()).map(str::trim).unwrap_or_default().to_string();
    if identifier.is_empty() {
        return Err(ApiError::invalid("email", "email or username is required"));
    }
    let lockout = Lockout::start(ctx, SignIn::Password, &identifier)?;
    let (failures, failure_columns) = failures_sql(SignIn::Password, "COALESCE((SELECT id::text FROM u), $3::text)", "SELECT id FROM u", lockout.ip_budget);
    let sql = format!(
        "WITH u AS (
            SELECT id, email, display_name, role, password_hash, disabled FROM users
            WHERE lower(email) = lower($1) OR lower(username) = lower($1) LIMIT 1
         ), {failures}
         SELECT u.id::text AS id, u.email, u.display_name, u.role, u.password_hash, u.disabled, {failure_columns}
         FROM (SELECT 1) AS one LEFT JOIN u ON true"
    );
    let row = lockout.sign_in_row(ctx, &sql)?;
    // Verify against a dummy hash for unknown users so timing does not reveal accounts.
    let user_id = row.text("id");
    let stored_hash = user_id.as_ref().and(row.text("password_hash")).unwrap_or_else(|| password::DUMMY_HASH.to_string());
    let verified = password::verify(&body.password, &stored_hash);
    let Some(user_id) = user_id.clone().filter(|_| verified) else {
        let invalid = ApiError::unauthorized("Invalid email or password").with_code("INVALID_CREDENTIALS");
        return Err(lockout.fail(ctx, invalid, user_id.as_deref(), user_id.as_deref(), "invalid_credentials"));
    };
    if row.bool("disabled") {
        let disabled = ApiError::forbidden("ACCOUNT_DISABLED", "This account is disabled");
        return Err(lockout.fail(ctx, disabled, Some(&user_id), Some(&user_id), "account_disabled"));
    }
    lockout.succeeded(ctx);
    let (token, expires_at) = open_session(ctx, &user_id, SessionKind::Password, "login", json!({ "method": "password" }))?;
    let response = LoginResponse {
        token: token.clone(),
        expires_at,
        user: SessionUser {
            id: user_id,
            email: row.text("email").unwrap_or_default(),
            display_name: row.text("display_name").unwrap_or_default(),
            role: row.text("role").unwrap_or_default(),
        },
    };
    let cookie = session_cookie(ctx.platform, &token, PASSWORD_SESSION_SECS);
    Ok(Reply::JsonWithHeaders(StatusCode::OK, serde_json::to_value(response).unwrap_or_default(), vec![("set-cookie", cookie)]))
}

/// Creates a stored session and its signed token in one statement that also
/// stamps `last_login_at` and writes the audit row. Returns (token, expiresAt).
fn open_session(ctx: &Ctx, user_id: &str, kind: SessionKind, action: &str, details: Value) -> Result<(String, String), ApiError> {
    let secret = jwt_secret(ctx.platform)?;
    let session_id = uuid_v4();
    let token = session_token::issue(&secret, &session_id, user_id, kind).map_err(|e| ApiError::internal(e.to_string()))?;
    let lifetime = match kind {
        SessionKind::Password => "7 days",
        SessionKind::Rfid => "8 hours",
    };
    let audit = audit::cte(action, "admin_user", "s", "user_id", "$6::jsonb", 7);
    let sql = format!(
        "WITH s AS (
            INSERT INTO sessions (id, user_id, token_hash, kind, expires_at, ip_address, user_agent, last_seen_at)
            VALUES ($1::text::uuid, $2::text::uuid, $3, $4, now() + interval '{lifetime}', $5::text::inet, left($10, 500), now())
            RETURNING *
         ), login AS (UPDATE users SET last_login_at = now() WHERE id = $2::text::uuid RETURNING id), {audit}
         SELECT iso(expires_at) AS expires_at FROM s"
    );
    let actor = Actor { user_id: Some(user_id.to_string()), ..Actor::of(ctx) };
    let [user, key, ip] = actor.params();
    let row = ctx
        .db()
        .query_one(
            &sql,
            &[
                session_id.as_str().into(),
                user_id.into(),
                secret_hash(&token).into(),
                kind.as_str().into(),
                client_ip(ctx.req).into(),
                sentinel_http::SqlParam::Json(details),
                user,
                key,
                ip,
                ctx.req.header("user-agent").map(str::to_string).into(),
            ],
        )?
        .ok_or_else(|| ApiError::internal("session insert returned nothing"))?;
    Ok((token, row.text("expires_at").unwrap_or_default()))
}

fn uuid_v4() -> String {
    let b = sentinel_auth::random_bytes::<16>();
    let mut b = b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex_lower(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sign out
///
/// Revokes the caller's session (its token stops working at once, also on the realtime relay) and clears
/// the session cookie.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 200, body = Success, description = "Signed out; clears the `sentinel_session` cookie"),
              (status = 401, description = "`UNAUTHORIZED`: the caller is an API key, not a signed-in user")))]
pub fn logout(ctx: &Ctx) -> HandlerResult {
    let Principal::User(user) = &ctx.principal else { return Err(ApiError::unauthorized("Authentication required")) };
    let audit = audit::cte("logout", "admin_user", "s", "user_id", "NULL", 2);
    let sql = format!(
        "WITH s AS (UPDATE sessions SET revoked_at = now() WHERE id = $1::text::uuid AND revoked_at IS NULL RETURNING *), {audit}
         SELECT count(*) AS n FROM s"
    );
    let [u, k, ip] = Actor::of(ctx).params();
    ctx.db().query(&sql, &[user.session_id.as_str().into(), u, k, ip])?;
    Ok(Reply::JsonWithHeaders(StatusCode::OK, json!({ "success": true }), vec![("set-cookie", session_cookie(ctx.platform, "", 0))]))
}

/// Get the current session
///
/// The caller's session (id, expiry, password or RFID) and account.
#[utoipa::path(get, path = "/api/auth/session", tag = "auth",
    responses((status = 200, body = SessionInfo), (status = 401, description = "`UNAUTHORIZED`: the caller is an API key, not a signed-in user")))]
pub fn session(ctx: &Ctx) -> HandlerResult {
    let Principal::User(user) = &ctx.principal else { return Err(ApiError::unauthorized("Authentication required")) };
    let row = ctx
        .db()
        .query_one(
            "SELECT s.id::text AS id, iso(s.expires_at) AS expires_at, s.kind, u.id::text AS user_id, u.email, u.display_name, u.role, u.member_id::text AS member_id
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1::text::uuid",
            &[user.session_id.as_str().into()],
        )?
        .ok_or_else(|| ApiError::unauthorized("Invalid or expired session"))?;
    ok(json!({
        "session": { "id": row.text("id"), "expiresAt": row.text("expires_at"), "kind": row.text("kind") },
        "user": { "id": row.text("user_id"), "email": row.text("email"), "displayName": row.text("display_name"),
                  "role": row.text("role"), "memberId": row.text("member_id") },
    }))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RfidLoginRequest {
    /// The badge serial as read (trimmed, case-insensitive).
    #[garde(length(chars, min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub badge_number: String,
}

/// `GET /api/auth/session`: the caller's session and account.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct SessionInfo {
    session: SessionInfoSession,
    user: SessionInfoUser,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SessionInfoSession {
    #[schema(format = "uuid")]
    id: String,
    #[schema(format = DateTime)]
    expires_at: String,
    /// password | rfid
    kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SessionInfoUser {
    #[schema(format = "uuid")]
    id: String,
    email: String,
    display_name: String,
    role: String,
    /// The member this account belongs to, if linked.
    #[schema(format = "uuid")]
    member_id: Option<String>,
}

/// `POST /api/auth/rfid-login`: an 8-hour RFID session for the badge holder's account.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RfidLoginResponse {
    session: RfidSession,
    user: RfidUser,
    member: RfidMember,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct RfidSession {
    #[schema(format = "uuid")]
    id: String,
    /// The session token (`Authorization: Bearer <token>`).
    token: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RfidUser {
    #[schema(format = "uuid")]
    id: String,
    email: String,
    /// The account's display name.
    name: String,
    role: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct RfidMember {
    #[schema(format = "uuid")]
    id: String,
    first_name: String,
    last_name: String,
    rank: String,
}

/// Sign in with a badge at a kiosk
///
/// A kiosk signs in the staff member holding an active badge: opens an 8-hour RFID session for the enabled
/// account linked to the badge's member. Failures count toward a lockout of 5 per 15 minutes per client
/// address and badge.
#[utoipa::path(post, path = "/api/auth/rfid-login", tag = "auth", request_body = RfidLoginRequest,
    responses((status = 200, body = RfidLoginResponse),
              (status = 400, description = "`VALIDATION_ERROR`: the badge is not assigned to a member"),
              (status = 403, description = "`BADGE_INACTIVE`: the badge is not active; `USER_NOT_LINKED`: no enabled account is linked to the badge's member"),
              (status = 404, description = "`NOT_FOUND`: no badge has this serial"),
              (status = 429, description = "`RATE_LIMIT_EXCEEDED`: 5 failed attempts from this address for this badge in 15 minutes")))]
pub fn rfid_login(ctx: &Ctx) -> HandlerResult {
    let body: RfidLoginRequest = ctx.json()?;
    let serial = body.badge_number.trim().to_uppercase();
    let lockout = Lockout::start(ctx, SignIn::Rfid, &serial)?;
    let (failures, failure_columns) = failures_sql(SignIn::Rfid, "$3::text", "SELECT user_id FROM b", lockout.ip_budget);
    let sql = format!(
        "WITH b AS (
            SELECT b.status, m.id AS member_id, m.first_name, m.last_name, m.rank,
                   u.id AS user_id, u.email, u.display_name, u.role, u.disabled
            FROM badges b
            LEFT JOIN members m ON b.assignment_type = 'member' AND m.id = b.assigned_to_id
            LEFT JOIN users u ON u.member_id = m.id
            WHERE b.serial_number = $1
         ), {failures}
         SELECT b.status, b.member_id::text AS member_id, b.first_name, b.last_name, b.rank,
                b.user_id::text AS user_id, b.email, b.display_name, b.role, b.disabled, {failure_columns}
         FROM (SELECT 1) AS one LEFT JOIN b ON true"
    );
    let row = lockout.sign_in_row(ctx, &sql)?;
    // Checks in the documented order (OpenAPI: POST /api/auth/login); each failure counts toward the lockout.
    let Some(status) = row.text("status") else {
        return Err(lockout.fail(ctx, ApiError::not_found("Invalid badge number"), None, None, "badge_not_found"));
    };
    if status != "active" {
        return Err(lockout.fail(ctx, ApiError::forbidden("BADGE_INACTIVE", format!("Badge is {status}")), None, None, "badge_inactive"));
    }
    let Some(member_id) = row.text("member_id") else {
        let unassigned = ApiError::bad_request("VALIDATION_ERROR", "This badge is not assigned to any member");
        return Err(lockout.fail(ctx, unassigned, None, None, "badge_unassigned"));
    };
    let user_id = match row.text("user_id") {
        Some(id) if !row.bool("disabled") => id,
        linked => {
            let not_linked = ApiError::forbidden("USER_NOT_LINKED", "No enabled user account is linked to this member");
            return Err(lockout.fail(ctx, not_linked, None, linked.as_deref(), "user_not_linked"));
        }
    };
    lockout.succeeded(ctx);
    let (token, expires_at) = open_session(ctx, &user_id, SessionKind::Rfid, "login", json!({ "method": "rfid", "badgeSerial": serial }))?;
    let session_id = session_token::verify(&jwt_secret(ctx.platform)?, &token).map(|v| v.session_id).unwrap_or_default();
    ok(json!({
        "session": { "id": session_id, "token": token, "expiresAt": expires_at },
        "user": { "id": user_id, "email": row.text("email"), "name": row.text("display_name"), "role": row.text("role") },
        "member": { "id": member_id, "firstName": row.text("first_name"), "lastName": row.text("last_name"), "rank": row.text("rank") },
    }))
}

/// Scopes each key kind may hold; a new key gets all of its kind's by default.
pub fn allowed_scopes(kind: &str) -> &'static [&'static str] {
    match kind {
        "kiosk" => &["checkins", "visitors", "presence", "dds", "lockup", "alerts", "heartbeat"],
        "display" => &["presence", "activity", "visitors", "dds", "lockup"],
        _ => &["read"],
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateApiKey {
    /// 1–200 characters, not blank; stored trimmed.
    #[garde(length(chars, min = 1, max = 200), custom(sentinel_http::input::not_blank))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[garde(pattern(r"^(kiosk|display|integration)$"))]
    #[schema(value_type = ApiKeyKind)]
    pub kind: String,
    /// Required for kiosk keys (not blank; stored trimmed), refused for the others; one active key per kiosk id.
    #[garde(inner(length(chars, min = 1, max = 50)))]
    #[schema(min_length = 1, max_length = 50)]
    pub kiosk_id: Option<String>,
    /// Scopes the key holds, among its kind's (kiosk: checkins, visitors, presence, dds, lockup, alerts, heartbeat;
    /// display: presence, activity, visitors, dds, lockup; integration: read). Default: all of its kind's.
    #[garde(skip)]
    #[schema(value_type = Option<Vec<ApiKeyScope>>)]
    pub scopes: Option<Vec<String>>,
    /// Lifetime in days, 1–730 (default 365).
    #[garde(inner(range(min = 1, max = 730)))]
    #[schema(minimum = 1, maximum = 730)]
    pub expires_in_days: Option<i32>,
}

/// kiosk | display | integration
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ApiKeyKind {
    Kiosk,
    Display,
    Integration,
}

/// A scope an API key may hold (which depends on its kind).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ApiKeyScope {
    Checkins,
    Visitors,
    Presence,
    Dds,
    Lockup,
    Alerts,
    Heartbeat,
    Activity,
    Read,
}

/// An API key as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ApiKey {
    #[schema(format = "uuid")]
    id: String,
    name: String,
    #[schema(value_type = ApiKeyKind)]
    kind: String,
    kiosk_id: Option<String>,
    scopes: Vec<String>,
    /// The key's first characters, to recognise it.
    key_prefix: String,
    #[schema(format = DateTime)]
    expires_at: String,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ApiKeyList {
    api_keys: Vec<ApiKey>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CreatedApiKey {
    api_key: ApiKey,
    /// The secret (`sk_…`), shown only in this response: send it as `X-API-Key`.
    key: String,
}

const KEY_COLUMNS: &str = "k.id::text AS id, k.name, k.kind, k.kiosk_id, to_jsonb(k.scopes) AS scopes, k.key_prefix,
    iso(k.expires_at) AS expires_at, iso(k.last_used_at) AS last_used_at, iso(k.created_at) AS created_at, iso(k.revoked_at) AS revoked_at";

fn key_json(row: &sentinel_http::Row) -> Value {
    json!({
        "id": row.text("id"), "name": row.text("name"), "kind": row.text("kind"), "kioskId": row.text("kiosk_id"),
        "scopes": row.json("scopes"), "keyPrefix": row.text("key_prefix"), "expiresAt": row.text("expires_at"),
        "lastUsedAt": row.text("last_used_at"), "createdAt": row.text("created_at"), "revokedAt": row.text("revoked_at"),
    })
}

/// List API keys
///
/// Every kiosk, display and integration key, newest first, including revoked and expired ones; never the secret.
#[utoipa::path(get, path = "/api/auth/api-keys", tag = "auth", responses((status = 200, body = ApiKeyList)))]
pub fn list_keys(ctx: &Ctx) -> HandlerResult {
    let rows = ctx.db().query(&format!("SELECT {KEY_COLUMNS} FROM api_keys k ORDER BY k.created_at DESC"), &[])?;
    ok(json!({ "apiKeys": rows.iter().map(key_json).collect::<Vec<_>>() }))
}

/// Create an API key
///
/// Creates a kiosk, display or integration key and returns its secret once. A kiosk key names its kiosk
/// (`kioskId`, one active key per kiosk); scopes default to all of the kind's.
#[utoipa::path(post, path = "/api/auth/api-keys", tag = "auth", request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey, description = "`key` is shown only here"),
              (status = 400, description = "`VALIDATION_ERROR`: `kioskId` missing for a kiosk key or given for another kind, or a scope the kind may not hold"),
              (status = 409, description = "`CONFLICT`: the kiosk already has an active key")))]
pub fn create_key(ctx: &Ctx) -> HandlerResult {
    let body: CreateApiKey = ctx.json()?;
    let kiosk_id = body.kiosk_id.as_deref().map(str::trim).filter(|k| !k.is_empty()).map(str::to_string);
    match (body.kind.as_str(), &kiosk_id) {
        ("kiosk", None) => return Err(ApiError::invalid("kioskId", "is required for kiosk keys")),
        (kind, Some(_)) if kind != "kiosk" => return Err(ApiError::invalid("kioskId", "is only allowed for kiosk keys")),
        _ => {}
    }
    let allowed = allowed_scopes(&body.kind);
    let scopes: Vec<String> = match &body.scopes {
        Some(requested) => {
            if let Some(bad) = requested.iter().find(|s| !allowed.contains(&s.as_str())) {
                return Err(ApiError::invalid("scopes", &format!("'{bad}' is not allowed for {} keys", body.kind)));
            }
            requested.clone()
        }
        None => allowed.iter().map(|s| s.to_string()).collect(),
    };
    if let Some(kiosk) = &kiosk_id {
        // An expired key no longer admits its kiosk; it must not hold the kiosk id against a new key either.
        let audit = audit::cte("api_key_retire_expired", "api_key", "r", "id", "jsonb_build_object('kioskId', r.kiosk_id, 'expiresAt', iso(r.expires_at))", 2);
        let sql = format!(
            "WITH r AS (
                UPDATE api_keys SET revoked_at = now()
                WHERE kind = 'kiosk' AND kiosk_id = $1 AND revoked_at IS NULL AND expires_at <= now() RETURNING *
             ), {audit}
             SELECT count(*) AS retired FROM r"
        );
        let [user, key, ip] = Actor::of(ctx).params();
        ctx.db().query_row(&sql, &[kiosk.as_str().into(), user, key, ip])?;
    }
    let new_key = api_key::generate();
    let audit = audit::cte("api_key_create", "api_key", "k", "id", "jsonb_build_object('name', k.name, 'kind', k.kind, 'kioskId', k.kiosk_id, 'keyPrefix', k.key_prefix)", 8);
    let sql = format!(
        "WITH k AS (
            INSERT INTO api_keys (name, kind, kiosk_id, key_hash, key_prefix, scopes, created_by, expires_at)
            SELECT $1, $2, $3, $4, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb)), $7::text::uuid, now() + make_interval(days => $11)
            RETURNING *
         ), {audit}
         SELECT {KEY_COLUMNS} FROM k"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let params = [
        body.name.trim().into(),
        body.kind.as_str().into(),
        kiosk_id.clone().into(),
        new_key.key_hash.as_str().into(),
        new_key.key_prefix.as_str().into(),
        sentinel_http::SqlParam::Json(json!(scopes)),
        ctx.principal.user_id().map(str::to_string).into(),
        user,
        key,
        ip,
        body.expires_in_days.unwrap_or(365).into(),
    ];
    let row = ctx.db().query_one(&sql, &params).map_err(|e| {
        if e.is_unique_violation_of("api_keys_active_kiosk_id_key") {
            ApiError::conflict(format!("Kiosk '{}' already has an active API key", kiosk_id.clone().unwrap_or_default()))
        } else {
            e.into()
        }
    })?;
    let row = row.ok_or_else(|| ApiError::internal("api key insert returned nothing"))?;
    created(json!({ "apiKey": key_json(&row), "key": new_key.key }))
}

/// Revoke an API key
///
/// Revokes a key at once (idempotent: revoking a revoked key succeeds); connected relay sockets using it are closed.
#[utoipa::path(delete, path = "/api/auth/api-keys/{id}", tag = "auth", params(("id" = String, Path, description = "API key UUID")),
    responses((status = 200, body = SuccessMessage), (status = 404, description = "`NOT_FOUND`: no API key has this id")))]
pub fn revoke_key(ctx: &Ctx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let audit = audit::cte("api_key_revoke", "api_key", "k", "id", "jsonb_build_object('name', k.name, 'keyPrefix', k.key_prefix)", 2);
    let sql = format!(
        "WITH target AS (SELECT id FROM api_keys WHERE id = $1::text::uuid),
              k AS (UPDATE api_keys SET revoked_at = now() WHERE id = $1::text::uuid AND revoked_at IS NULL RETURNING *), {audit}
         SELECT (SELECT count(*) FROM target) AS found, (SELECT count(*) FROM k) AS revoked"
    );
    let [user, key, ip] = Actor::of(ctx).params();
    let row = ctx.db().query_one(&sql, &[id.as_str().into(), user, key, ip])?;
    if row.map(|r| r.int("found")).unwrap_or(0) == 0 {
        return Err(ApiError::not_found(format!("API key with ID '{id}' not found")));
    }
    ok(crate::openapi::to_json(&SuccessMessage { success: true, message: "API key revoked successfully".into() }))
}
