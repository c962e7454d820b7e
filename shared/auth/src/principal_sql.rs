//! The statements that resolve a credential into a principal, shared by the
//! components (through `spin:postgres`) and the relay (tokio-postgres). Each
//! is one round trip: it reads the credential and, at most once a minute,
//! records its use.

// The text of [`SESSION_ACTIVE`], as a macro so [`SESSION`] can `concat!` it.
macro_rules! session_active {
    () => {
        "s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled
      AND (s.kind <> 'rfid' OR COALESCE(s.last_seen_at, s.created_at) > now() - interval '15 minutes')"
    };
}

/// When a stored session authenticates, as a predicate over
/// `sessions s JOIN users u ON u.id = s.user_id`: not revoked, not expired,
/// user enabled, RFID sessions not idle for 15 minutes. Listings that report
/// whether a session is active use it too, so they agree with [`SESSION`].
pub const SESSION_ACTIVE: &str = session_active!();

/// `$1` session id (text uuid), `$2` token hash. One row when the session is
/// valid ([`SESSION_ACTIVE`]). Password sessions slide forward by 7 days
/// when used more than 24 h after their last renewal.
/// Columns: session_id, user_id, role, kind, expires_at (ISO text), member_id,
/// renewed (bool: this call slid the session forward, so a session cookie
/// should be re-sent with a fresh lifetime).
pub const SESSION: &str = concat!(
    "
WITH s AS (
    SELECT s.id, s.user_id, u.role, s.kind, s.expires_at, s.renewed_at, s.last_seen_at, u.member_id,
           (s.kind = 'password' AND s.renewed_at < now() - interval '24 hours') AS renew
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.id = $1::text::uuid AND s.token_hash = $2 AND ",
    session_active!(),
    "
), renewed AS (
    UPDATE sessions t SET
        last_seen_at = now(),
        renewed_at = CASE WHEN s.renew THEN now() ELSE t.renewed_at END,
        expires_at = CASE WHEN s.renew THEN now() + interval '7 days' ELSE t.expires_at END
    FROM s
    WHERE t.id = s.id AND (s.last_seen_at IS NULL OR s.last_seen_at < now() - interval '1 minute' OR s.renew)
    RETURNING t.id, t.expires_at
)
SELECT s.id::text AS session_id, s.user_id::text AS user_id, s.role, s.kind,
       iso(COALESCE((SELECT expires_at FROM renewed), s.expires_at)) AS expires_at, s.member_id::text AS member_id,
       s.renew AS renewed
FROM s"
);

// The text of [`API_KEY_ROW`], as a macro so [`API_KEY`] can `concat!` it.
macro_rules! api_key_row {
    () => {
        "SELECT key_id, kind, kiosk_id, name FROM api_key_principal($1, $2)"
    };
}

/// `$1` key hash, `$2` client IP (text, may be NULL). One row for a valid key
/// (not revoked, not expired), none otherwise. Columns: key_id, kind, kiosk_id, name.
/// The work is `api_key_principal` (migrations/functions/05_principals.sql), which records
/// the key's use at most every 30 s; a statement this small is cheap to plan where every call
/// is prepared anew (Spin), and the function's own plans are kept per connection.
pub const API_KEY: &str = concat!(api_key_row!(), " WHERE key_id IS NOT NULL");

/// [`API_KEY`] without its filter: always exactly one row, all NULL unless the key is valid. The
/// components send it as a one-row statement (`Database::query_row`), which on Spin 4.0 needs no
/// never-empty rewrite around it (docs/spin.md): cheaper to plan and run on every keyed request.
pub const API_KEY_ROW: &str = api_key_row!();
